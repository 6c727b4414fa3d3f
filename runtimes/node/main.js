// main.js -- the Stratus worker for Node.js apps (FUNCTIONS_WORKER_RUNTIME
// = node), loaded by worker.js: on the Unix socket of fd STRATUS_WORKER_FD
// it speaks the frame protocol of docs/worker-protocol.md and runs Azure
// Functions v3-model functions (module.exports = async function (context,
// req) {...}) and v4-model ones (app.http(...) of npm @azure/functions).
//
// Start-up is kept short: the worker requires the rest of the shim only
// when LOAD comes (a pre-started placeholder loads it and runs it once while
// it waits), and a worker started for a request answers HELLO, LOADED and
// the first results in one write. Frames of one read are handled together,
// and the frames they produce (results, logs, pongs) leave in one write from
// a microtask queued behind them; frames produced later (an invocation that
// awaited something) leave in one write per loop turn.
'use strict';

const { T, FrameReader, FrameWriter, openChannel } = require('./frames');

const fd = Number(process.env.STRATUS_WORKER_FD || 3);
const concurrency = Math.max(1, Number(process.env.STRATUS_NODE_CONCURRENCY) || 1000);

// Reads land in one reused buffer (no allocation per read); whatever must
// outlive the read (a body, a frame split across reads) is copied out.
const rbuf = Buffer.allocUnsafeSlow(64 * 1024);
const socket = openChannel(fd, rbuf, onRead, () => process.exit(0));
// (The raw channel's write already is a direct write of the descriptor.)
const writer = new FrameWriter(socket, () => setImmediate(flush), socket.raw ? -1 : fd);
function flush() {
  if (writer.pending && !writer.held) writer.flush();
}

// process.exit() (called by function code or a library, or by the worker)
// ends the process before the next flush: what is pending (the last log
// lines, results that were about to leave) is written now, and so is what
// the other 'exit' listeners log after this one.
process.on('exit', () => {
  writer.held = false;
  writer.onPending = () => writer.flushSync(fd);
  writer.flushSync(fd);
});

// An already-resolved promise: its then() queues a plain microtask, which
// costs less than queueMicrotask() (an AsyncResource per call).
const RESOLVED = Promise.resolve();

function onRead(n, buf) {
  writer.hold();
  try {
    reader.push(buf, n);
  } finally {
    RESOLVED.then(release);
  }
}

function release() {
  if (!queued) writer.release();
}

let host = null;          // the invocation machinery (./host.js), after LOAD
let queued = null;        // frames that arrived while LOAD was in progress
let shuttingDown = false;
let terminating = false;  // the app's appTerminate hooks are running

function fatal(reason) {
  process.stderr.write('stratus node worker: ' + reason + '\n');
  process.exit(2);
}

function onFrame(type, id, buf, metaStart, metaLen, bodyStart, bodyLen) {
  if (type === T.PING) {
    writer.add(T.PONG, id, '{"inflight":' + (host ? host.inflight() : 0) + '}', null);
    return;
  }
  if (queued) {
    // LOAD is still running (an ES module is being imported): keep order.
    queued.push([type, id, Buffer.from(buf.subarray(metaStart, bodyStart + bodyLen)), metaLen, bodyLen]);
    return;
  }
  switch (type) {
  case T.INVOKE:
    if (!host) fatal('an invoke frame arrived before the load frame');
    host.invoke(id, buf, metaStart, metaLen, bodyStart, bodyLen);
    break;
  case T.CANCEL:
    if (host) host.cancel(id);
    break;
  case T.LOAD:
    if (host) fatal('a second load frame');
    load(buf.toString('utf8', metaStart, metaStart + metaLen));
    break;
  case T.SHUTDOWN:
    shutdown(buf.toString('utf8', metaStart, metaStart + metaLen));
    break;
  case T.READY:
    ready(buf.toString('utf8', metaStart, metaStart + metaLen));
    break;
  default:
    break;
  }
}

// A frame's JSON metadata; invalid JSON ends the worker.
function frameMeta(metaText, what) {
  try {
    return JSON.parse(metaText || '{}');
  } catch (e) {
    return fatal('the ' + what + ' frame holds invalid JSON: ' + e.message);
  }
}

// READY needs no answer; it may lower the limits for frames we send.
function ready(metaText) {
  const m = frameMeta(metaText, 'ready');
  if (Number.isInteger(m.maxMeta) && m.maxMeta > 0) writer.maxMeta = Math.min(writer.maxMeta, m.maxMeta);
  if (Number.isInteger(m.maxBody) && m.maxBody >= 0) writer.maxBody = Math.min(writer.maxBody, m.maxBody);
}

function load(metaText) {
  const meta = frameMeta(metaText, 'load');
  queued = [];
  host = require('./host').create(writer, onIdle, fatal);
  host.load(meta).then((loaded) => {
    writer.add(T.LOADED, 0, JSON.stringify({ functions: loaded }), null);
    const frames = queued;
    queued = null;
    for (const [type, id, b, metaLen, bodyLen] of frames) {
      onFrame(type, id, b, 0, metaLen, metaLen, bodyLen);
    }
    // The writer was held since the read that brought LOAD: HELLO, LOADED
    // and the results of the invocations that waited for it leave together.
    queueMicrotask(release);
  }, (e) => fatal('loading the app failed: ' + (e && e.stack || e)));
}

function shutdown(metaText) {
  if (shuttingDown) return;
  shuttingDown = true;
  let grace = 10000;
  try {
    const m = JSON.parse(metaText || '{}');
    if (Number.isFinite(m.graceMs)) grace = m.graceMs;
  } catch (e) { /* keep the default */ }
  // Past the grace period the host kills the worker; leave just before.
  setTimeout(exit, Math.max(0, grace - 100)).unref();
  if (host) {
    // The app's appTerminate hooks first (@azure/functions-core).
    terminating = true;
    const done = () => {
      terminating = false;
      onIdle();
    };
    host.terminate().then(done, done);
  } else {
    onIdle();
  }
}

// Called by the host module when its last invocation has finished.
function onIdle() {
  if (shuttingDown && !terminating && (!host || host.inflight() === 0)) exit();
}

function exit() {
  writer.flush(() => {
    socket.end();
    process.exit(0);
  });
}

const reader = new FrameReader(onFrame, (reason) => fatal('malformed frame from the host: ' + reason));

// HELLO leaves with the first flush: at the end of the first turn of the
// event loop for a placeholder, with LOADED for a worker whose LOAD is
// already waiting (one write, one wake-up of the host).
writer.add(T.HELLO, 0, JSON.stringify({
  runtime: 'node', protocol: 1, pid: process.pid, concurrency, version: process.version,
}), null);

// A placeholder waits for LOAD: spend the wait loading the rest of the shim
// and running it once, so that specialising costs only the app's own code.
// (A worker started for a request has LOAD waiting already: the read
// callback runs first, and this finds the work done.)
setImmediate(() => {
  if (!host && !queued) require('./host').warm();
});
