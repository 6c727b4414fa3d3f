// console.js -- console output and stray errors of function code become LOG
// frames. An AsyncLocalStorage holds the running invocation, so a
// console.log after an await still reaches the host with the invocation it
// belongs to; outside any invocation the line is a worker line (id 0). An
// uncaught exception or unhandled rejection is logged and fails the
// invocation it came from; it never ends the worker.
'use strict';

const { AsyncLocalStorage } = require('async_hooks');
const { format } = require('util');
const { LEVEL } = require('./context');

const als = new AsyncLocalStorage();

function message(args) {
  return args.length === 1 && typeof args[0] === 'string' ? args[0] : format(...args);
}

// Route console.* through send(id, level, text).
function install(send) {
  const emit = (level) => (...args) => {
    const inv = als.getStore();
    if (inv) inv.log(level, args);
    else send(0, level, message(args));
  };
  console.log = emit(LEVEL.information);
  console.info = emit(LEVEL.information);
  console.debug = emit(LEVEL.debug);
  console.warn = emit(LEVEL.warning);
  console.error = emit(LEVEL.error);
  const traceLevel = emit(LEVEL.trace);
  console.trace = (...args) => {
    const e = { name: 'Trace', message: message(args) };
    Error.captureStackTrace(e, console.trace);
    traceLevel(e.stack);
  };
  const strayError = (what) => (err) => {
    const inv = als.getStore();
    const text = what + ': ' + (err instanceof Error ? err.stack : format(err));
    if (inv && !inv.finished) {
      inv.log(LEVEL.error, [text]);
      inv.fail(err);
    } else {
      send(0, LEVEL.error, text);
    }
  };
  process.on('uncaughtException', strayError('Uncaught exception'));
  process.on('unhandledRejection', strayError('Unhandled promise rejection'));
}

module.exports = { als, install, message };
