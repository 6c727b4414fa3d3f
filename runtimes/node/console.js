// console.js -- console output and stray errors of function code become LOG
// frames, tied to the invocation they come from; outside any invocation a
// line is a worker line (id 0). An uncaught exception or unhandled rejection
// is logged and fails the invocation it came from; it never ends the worker.
//
// Which invocation code after an `await` (or in a timer) belongs to is known
// from an AsyncLocalStorage. Running invocations inside one makes V8 call a
// hook for every promise, about 5% of a hello function's throughput, so the
// worker turns it on only once function code has used console or thrown a
// stray error: a worker whose functions log with context.log never pays it.
// Until then, the invocation is the one whose synchronous part is running,
// or the only one in flight (while none has ended: code of an ended one may
// still run); otherwise a line stays the worker's, and a stray error fails
// all of them (as Azure's worker, which ends, fails every invocation it was
// running).
'use strict';

const { AsyncLocalStorage } = require('async_hooks');
const { format, inspect } = require('util');
const { LEVEL } = require('./context');

const als = new AsyncLocalStorage();

// tracking: invocations run inside als (host.js reads it per invocation);
// current: without it, the invocation whose synchronous part is running;
// untracked: invocations that started untracked may still be in flight
// (once tracking is on, none start, so once none is found it stays false);
// untrackedEnded: one that ran untracked has ended, and code of it (a
// timer, a late callback) may still run (host.js sets it).
const state = { tracking: false, current: null, untracked: true, untrackedEnded: false };
let inflight = () => null;   // the invocations in flight (size, values()), from install()

function message(args) {
  return args.length === 1 && typeof args[0] === 'string' ? args[0] : format(...args);
}

const NONE = { inv: undefined, several: null };

// The invocation running code belongs to ({inv}), or the invocations it
// may belong to when it cannot be told ({several}), or NONE. Function code
// seen here turns tracking on for the invocations that start from then on.
function owner() {
  if (state.tracking) {
    const s = als.getStore();
    if (s !== undefined) return { inv: s, several: null };
  } else if (state.current) {
    // The rest of this synchronous part, and what it awaits, is tracked too
    // (host.js clears the store when the part ends).
    state.tracking = true;
    als.enterWith(state.current);
    return { inv: state.current, several: null };
  }
  // No store: code of an invocation that started untracked, or of none.
  if (!state.untracked) return NONE;
  const m = inflight();
  if (!m || m.size === 0) return NONE;
  let one;
  let several = null;
  for (const inv of m.values()) {
    if (inv.tracked) continue;
    if (one === undefined) one = inv;
    else (several || (several = [one])).push(inv);
  }
  if (one === undefined) {
    if (state.tracking) state.untracked = false;
    return NONE;
  }
  state.tracking = true;
  if (several) return { inv: undefined, several };
  // The only one in flight, unless an untracked one has ended: the code
  // may be that one's, left running after its end.
  return state.untrackedEnded ? { inv: undefined, several: [one] } : { inv: one, several: null };
}

// Route console.* through send(id, level, text); inflightMap() gives the
// invocations in flight (size, and values() in the order they came, of
// objects with log(), fail(), finished).
function install(send, inflightMap) {
  inflight = inflightMap;
  state.untrackedEnded = false;   // the warm-up's invocation is not the app's
  // console.group()'s indentation, as Node's console applies it.
  let indent = '';
  const emit = (level) => (...args) => {
    if (indent !== '') args = [indent + message(args).replace(/\n/g, '\n' + indent)];
    const { inv } = owner();
    if (inv) inv.log(level, args);
    else send(0, level, message(args));
  };
  const info = emit(LEVEL.information);
  console.log = info;
  console.info = info;
  console.debug = emit(LEVEL.debug);
  console.warn = emit(LEVEL.warning);
  console.error = emit(LEVEL.error);
  // Node's console.dir writes to stdout itself: it would reach the log
  // unattributed and out of order with the lines around it.
  console.dir = (obj, options) => info(inspect(obj, { customInspect: false, ...options }));
  console.group = (...label) => {
    if (label.length > 0) console.log(...label);
    indent += '  ';
  };
  console.groupCollapsed = console.group;
  console.groupEnd = () => {
    indent = indent.slice(0, -2);
  };
  const traceLevel = emit(LEVEL.trace);
  console.trace = (...args) => {
    const e = { name: 'Trace', message: message(args) };
    Error.captureStackTrace(e, console.trace);
    traceLevel(e.stack);
  };
  const strayError = (what) => (err) => {
    const text = what + ': ' + (err instanceof Error ? err.stack : format(err));
    const { inv, several } = owner();
    if (several) {
      send(0, LEVEL.error, text + '\n(' + several.length + ' invocations were running and it ' +
        'could not be told which one this came from: all of them fail)');
      for (const i of several) {
        if (i.finished) continue;
        i.log(LEVEL.error, [text]);
        i.fail(err);
      }
    } else if (inv && !inv.finished) {
      inv.log(LEVEL.error, [text]);
      inv.fail(err);
    } else {
      send(0, LEVEL.error, text);
    }
  };
  process.on('uncaughtException', strayError('Uncaught exception'));
  process.on('unhandledRejection', strayError('Unhandled promise rejection'));
}

module.exports = { als, state, install, message };
