// host.js -- the worker's side of an app, from LOAD on: the table of loaded
// functions and the invocations in flight. Each INVOKE becomes a call of the
// function's entry point with (context, trigger value, inputs...); its
// outcome (a returned promise, context.done, context.res.send, a throw)
// becomes one RESULT frame with the HTTP response and the output bindings.
//
// Functions of the v4 programming model (npm @azure/functions 4.x), which
// come from worker indexing (`indexed` in LOAD), are found among what the
// app's entry files registered (entry.js) and run through the app's
// programming model (v4.js); the hooks of @azure/functions-core (core.js)
// run around v3-model functions too.
//
// Lifecycle: create() once per worker, then load() once; invoke() and
// cancel() per frame; terminate() on shutdown. Results and logs go to the
// shared FrameWriter and leave with the next flush.
'use strict';

const { format } = require('util');
const { T, FrameWriter } = require('./frames');
const { loadFunction, userStack } = require('./loader');
const { Context, LEVEL } = require('./context');
const { Request, Response, requestView, httpResult, TYPES } = require('./http');
const { triggerValue, inputValue, outputValue } = require('./bindings');
const con = require('./console');
const core = require('./core');

const EMPTY = Buffer.alloc(0);
const NO_HTTP = { method: 'POST', url: '', headers: null, query: '', params: null };

// Byte strings to look for in the invoke metadata, as little-endian 32-bit
// words and the bytes past the last whole word: compared through a
// DataView, a word at a time, which V8 compiles to far less than a loop of
// Buffer element reads.
function pattern(bytes) {
  const words = [];
  let i = 0;
  for (; i + 4 <= bytes.length; i += 4) {
    words.push((bytes[i] | (bytes[i + 1] << 8) | (bytes[i + 2] << 16) | (bytes[i + 3] << 24)) >>> 0);
  }
  return { n: bytes.length, words, tail: Array.from(bytes.subarray(i)) };
}

// Whether the bytes of pattern p are at pos in dv (before end).
function matchAt(dv, pos, end, p) {
  if (end - pos < p.n) return false;
  const words = p.words;
  for (let k = 0; k < words.length; k++) {
    if (dv.getUint32(pos + 4 * k, true) !== words[k]) return false;
  }
  const tail = p.tail;
  const at = pos + 4 * words.length;
  for (let k = 0; k < tail.length; k++) {
    if (dv.getUint8(at + k) !== tail[k]) return false;
  }
  return true;
}

const FUNCTION_KEY = pattern(Buffer.from('{"function":"'));
const ID_KEY = pattern(Buffer.from('","invocationId":"'));

// Where the JSON string whose characters start at pos of dv ends (before
// end): the position of its closing quote, or -1 when it has an escape or
// a byte of a UTF-8 sequence before that (then the metadata is parsed).
function plainEnd(dv, pos, end) {
  for (let i = pos; i < end; i++) {
    const c = dv.getUint8(i);
    if (c === 0x22) return i;
    if (c === 0x5c || c > 0x7f) return -1;
  }
  return -1;
}

// Whether the 4 bytes of w are ASCII, none a quote or a backslash.
function plainWord(w) {
  if ((w & 0x80808080) !== 0) return false;
  const q = w ^ 0x22222222;
  const b = w ^ 0x5c5c5c5c;
  return (((q - 0x01010101) & ~q) & 0x80808080) === 0 && (((b - 0x01010101) & ~b) & 0x80808080) === 0;
}

// plainEnd for the invocation id, which is a UUID: its 36 characters are
// checked a word at a time.
function idEnd(dv, pos, end) {
  if (end - pos > 36 && dv.getUint8(pos + 36) === 0x22) {
    let k = 0;
    while (k < 36 && plainWord(dv.getUint32(pos + k, true))) k += 4;
    if (k === 36) return pos + 36;
  }
  return plainEnd(dv, pos, end);
}

const NOT_ASCII = /[^\x00-\x7f]/;

// The text of the metadata from its bytes read as Latin-1 (a character per
// byte): the same when they are all ASCII, else decoded as UTF-8.
function utf8Text(raw) {
  return NOT_ASCII.test(raw) ? Buffer.from(raw, 'latin1').toString('utf8') : raw;
}

// What one function's bindings mean for calling it, worked out once.
function describeFunction(f) {
  const bindings = Array.isArray(f.bindings) ? f.bindings : [];
  const rec = {
    name: f.name, directory: f.directory, bindings, ok: false,
    category: JSON.stringify('Function.' + f.name + '.User'), error: null, fn: null, self: null,
    trigger: null, isHttp: false, argNames: [], inputs: {}, httpOut: null, outNames: [], hasReturn: false,
    returnIsHttp: false, binary: false, needsMeta: true, namePattern: null,
    outQueue: {}, // output binding name -> 1 for a queue (an array is one message per element)
    v4: null,     // a v4-model function: its registration ({metadata, callback, file})
  };
  for (const b of bindings) {
    const type = String(b.type || '').toLowerCase();
    const dir = String(b.direction || 'in').toLowerCase();
    if (type.endsWith('trigger') && !rec.trigger) {
      rec.trigger = b;
      rec.isHttp = type === 'httptrigger';
      rec.binary = String(b.dataType || '').toLowerCase() === 'binary';
    }
    if (dir === 'in' || dir === 'inout') {
      // The trigger comes first, then the other inputs in their order.
      if (b === rec.trigger) rec.argNames.unshift(b.name);
      else rec.argNames.push(b.name);
      rec.inputs[b.name] = b;
    }
    if (dir === 'out' || dir === 'inout') {
      if (type === 'queue') rec.outQueue[b.name] = 1;
      if (b.name === '$return') {
        rec.hasReturn = true;
        rec.returnIsHttp = type === 'http';
        if (type === 'http') rec.httpOut = '$return';
      } else if (type === 'http' && !rec.httpOut) {
        rec.httpOut = b.name;
      } else {
        rec.outNames.push(b.name);
      }
    }
  }
  // An HTTP function without other inputs needs nothing of the invoke
  // frame up front: its request is decoded when first read.
  rec.needsMeta = !rec.isHttp || rec.argNames.length > 1;
  return rec;
}

// The text of a failure for RESULT's `error`: name, message and the stack
// frames of user code.
function errorText(err) {
  if (err && typeof err.stack === 'string') return userStack(err.stack);
  if (typeof err === 'string') return err;
  if (err instanceof Error) return err.name + ': ' + err.message;
  return 'Error: the function failed with ' + format(err);
}

// The result of httpResult(), reused (results are built one at a time).
const scratch = { status: 200, headers: null, type: 0, body: null };

// RESULT metadata for a status and a default Content-Type (an index in
// TYPES), encoded once per pair.
const plainMetas = new Array(600 * 4).fill(undefined);
function plainMeta(status, type) {
  const key = status * 4 + type;
  let m = plainMetas[key];
  if (m === undefined) {
    m = Buffer.from('{"ok":true,"status":' + status +
      (type ? ',"headers":[["Content-Type",' + JSON.stringify(TYPES[type]) + ']]}' : '}'));
    plainMetas[key] = m;
  }
  return m;
}

// Log lines and error texts are cut to this many characters: even all
// escaped (6 bytes each) they fit a frame's 1 MiB of metadata.
const CLIP = 100000;

function clip(text) {
  return text.length <= CLIP ? text
    : text.slice(0, CLIP) + '... (' + (text.length - CLIP) + ' more characters cut)';
}

// The invocations in flight: what a Map by frame id gives (size, get,
// values() in the order they came), with adding and removing an invocation
// cheaper than a Map's (no hashing, no rehashing as it fills and empties).
class Inflight {
  constructor() {
    this.list = [];     // in no particular order; inv.slot is its index
    this.seq = 0;       // counts invocations added, for values()
  }

  get size() {
    return this.list.length;
  }

  add(inv) {
    inv.slot = this.list.length;
    inv.seq = this.seq++;
    this.list.push(inv);
  }

  remove(inv) {
    const i = inv.slot;
    if (i < 0) return;
    inv.slot = -1;
    const last = this.list.pop();
    if (last !== inv) {
      this.list[i] = last;
      last.slot = i;
    }
  }

  // The invocation of frame id (the last one added, should the host have
  // sent the id twice).
  get(id) {
    let found;
    for (let i = 0; i < this.list.length; i++) {
      const inv = this.list[i];
      if (inv.id === id && (found === undefined || inv.seq > found.seq)) found = inv;
    }
    return found;
  }

  // The invocations in the order they came.
  values() {
    return this.list.slice().sort((a, b) => a.seq - b.seq);
  }
}

class Invocation {
  // text: the invoke frame's metadata (JSON text) as a character per byte
  // (see utf8Text), parsed on first use of meta unless the caller has it
  // parsed already.
  constructor(host, id, text, meta, invocationId, fn, body) {
    this.host = host;
    this.id = id;
    this.text = text;
    this.parsed = meta;
    this.fn = fn;
    this.body = body;
    this.invocationId = invocationId;
    this.ctx = null;
    this.finished = false;
    this.cancelled = false;
    this.promised = false;
    this.doneCalled = false;
    this.tracked = false;     // runs inside the AsyncLocalStorage (console.js)
    this.post = null;         // the postInvocation hooks' context, when there are hooks
    this.inPostHooks = false; // they are running (their context.log lines are no warning)
    this.slot = -1;           // its index in the host's Inflight
    this.seq = 0;
  }

  get meta() {
    return this.parsed || (this.parsed = JSON.parse(utf8Text(this.text)));
  }

  // The invoke frame's "http" object (for the Request).
  http() {
    return this.meta.http || NO_HTTP;
  }

  log(level, args) {
    this.host.send(this.id, level, con.message(args), this.fn.category);
  }

  // context.log and its levels: after the invocation has ended, the line
  // comes with Azure's warning that something was not awaited, word for
  // word (log queries and alerts look for it).
  userLog(level, args) {
    if (this.finished && !this.inPostHooks) {
      this.log(LEVEL.warning, ["Warning: Unexpected call to 'log' on the context object after " +
        'function execution has completed. Please check for asynchronous calls that are not ' +
        "awaited or calls to 'done' made before function execution completes. Function name: " +
        this.fn.name + '. Invocation Id: ' + this.invocationId + '. Learn more: ' +
        'https://go.microsoft.com/fwlink/?linkid=2097909']);
    }
    this.host.send(this.id, level, con.message(args), this.fn.category);
  }

  // context.done(err, result): any err but null and undefined fails the
  // invocation (as in Azure, also false, 0 or '').
  done(err, result) {
    this.doneCalled = true;
    if (this.finished) {
      const ctx = this.ctx;
      // The v3 model's context.suppressBadPatternError (and the older
      // suppressAsyncDoneError) silence these warnings.
      if (ctx && (ctx.suppressBadPatternError || (this.promised && ctx.suppressAsyncDoneError))) return;
      // Azure's words and level (error), which logs and alerts look for.
      this.log(LEVEL.error, [this.promised
        ? "Error: Choose either to return a promise or call 'done'. Do not use both in your " +
          'script. Learn more: https://go.microsoft.com/fwlink/?linkid=2097909'
        : "Error: 'done' has already been called. Please check your script for extraneous " +
          "calls to 'done'."]);
      return;
    }
    if (err !== undefined && err !== null) this.finish(err, undefined, true);
    else this.finish(null, result, false);
  }

  // context.res.end()/send()
  end() {
    if (!this.finished) this.finish(null, undefined, false);
  }

  fail(err) {
    if (this.finished) {
      // The answer has gone (context.done, context.res.send): the failure
      // is not lost for that.
      if (!this.cancelled) this.log(LEVEL.error, ['The function failed after it had completed: ' + errorText(err)]);
      return;
    }
    this.finish(err === undefined || err === null
      ? new Error('the function failed with ' + String(err)) : err, undefined, true);
  }

  resolved(value) {
    if (!this.finished) this.finish(null, value, false);
    else if (this.doneCalled) this.done(null);
    else if (value !== undefined && !this.cancelled) {
      this.log(LEVEL.warning, ['The function returned a value after context.res.send() or end() ' +
        'had sent its response; the value is ignored']);
    }
  }

  finish(err, value, failed) {
    if (this.finished) return;
    this.finished = true;
    if (!this.tracked) con.state.untrackedEnded = true;
    if (this.cancelled) return;
    const post = this.post;
    if (post !== null) {
      // The postInvocation hooks see the outcome and may change it.
      this.post = null;
      post.result = failed ? null : value;
      post.error = failed ? err : null;
      this.inPostHooks = true;
      core.runHooks('postInvocation', post).then(() => {
        this.inPostHooks = false;
        if (post.error !== null && post.error !== undefined) this.send(post.error, undefined, true);
        else this.send(null, post.result, false);
      }, (e) => {
        this.inPostHooks = false;
        this.send(e, undefined, true);
      });
      return;
    }
    this.send(err, value, failed);
  }

  send(err, value, failed) {
    const host = this.host;
    if (this.cancelled) return;
    host.inflight.remove(this);
    try {
      if (failed) host.sendError(this.id, err);
      else host.sendResult(this, value);
    } catch (e) {
      host.sendError(this.id, 'the result could not be sent: ' + errorText(e));
    }
    if (host.inflight.size === 0) host.onIdle();
  }
}

const PROMISE_THEN = Promise.prototype.then;

// The handlers of the promise a function returned, for one invocation at a
// time; back in settlers once one of them has run.
const settlers = [];
class Settler {
  constructor() {
    this.inv = null;
    this.onValue = (v) => {
      const inv = this.inv;
      this.inv = null;
      settlers.push(this);
      inv.resolved(v);
    };
    this.onError = (e) => {
      const inv = this.inv;
      this.inv = null;
      settlers.push(this);
      inv.fail(e);
    };
  }
}

// The trigger's value and the invocation's context (inv.ctx), whose
// bindings are `bindings`; returns the trigger's value.
function prepare(inv, fn, bindings) {
  let trigger;
  if (fn.isHttp) {
    trigger = new Request(inv, inv.body, fn.binary);
    inv.ctx = new Context(inv, bindings, trigger, new Response(inv));
  } else {
    trigger = triggerValue(inv.body, fn.trigger || {});
    inv.ctx = new Context(inv, bindings, undefined, undefined);
  }
  return trigger;
}

function run(inv) {
  const fn = inv.fn;
  if (core.state.hooks.preInvocation.length !== 0 || core.state.hooks.postInvocation.length !== 0) {
    runHooked(inv);
    return;
  }
  const bindings = {};
  const trigger = prepare(inv, fn, bindings);
  const ctx = inv.ctx;
  const names = fn.argNames;
  const tname = fn.trigger ? fn.trigger.name : null;
  let ret;
  try {
    if (names.length === 1 && names[0] === tname) {
      // The usual shape, (context, req): no argument list to build.
      bindings[tname] = fn.isHttp ? requestView(trigger) : trigger;
      ret = fn.fn.call(fn.self, ctx, trigger);
    } else {
      const args = [ctx];
      const inputs = inv.parsed !== null ? inv.parsed.inputs : undefined;
      for (let i = 0; i < names.length; i++) {
        const v = names[i] === tname ? trigger
          : inputs ? inputValue(inputs[names[i]], fn.inputs[names[i]]) : undefined;
        bindings[names[i]] = fn.isHttp && names[i] === tname ? requestView(v) : v;
        args.push(v);
      }
      ret = fn.fn.apply(fn.self, args);
    }
  } catch (e) {
    if (!inv.finished) inv.fail(e);
    else inv.log(LEVEL.error, ['The function threw after it had completed: ' + errorText(e)]);
    return;
  }
  settle(inv, ret);
}

// Follow what a v3 function returned: a promise or thenable settles the
// invocation (unless context.done did).
function settle(inv, ret) {
  // A thenable's then may throw, or be a getter that throws (so may a
  // promise's species constructor): that fails the invocation, as an await
  // of the value would. Left to escape, the error would skip the other
  // frames of the read and reach the stray-error handler, which cannot
  // always tell that it is this invocation's.
  try {
    if (ret instanceof Promise && ret.then === PROMISE_THEN) {
      inv.promised = true;
      // A native promise calls one of the two once: the pair of handlers
      // is reused, not made per invocation.
      const s = settlers.length !== 0 ? settlers.pop() : new Settler();
      s.inv = inv;
      ret.then(s.onValue, s.onError);
      return;
    }
    if (ret === null || (typeof ret !== 'object' && typeof ret !== 'function')) return;
    const then = ret.then;
    if (typeof then !== 'function') return;
    inv.promised = true;
    then.call(ret, (v) => inv.resolved(v), (e) => inv.fail(e));
  } catch (e) {
    inv.fail(e);
  }
}

// run() when the app registered preInvocation or postInvocation hooks: the
// hooks run before the function (they may change its arguments and the
// function itself) and after it (they see and may change its result or
// error), as Azure's worker runs them for v3-model functions.
function runHooked(inv) {
  const fn = inv.fn;
  const bindings = {};
  const trigger = prepare(inv, fn, bindings);
  const ctx = inv.ctx;
  const tname = fn.trigger ? fn.trigger.name : null;
  const inputs = inv.meta.inputs;
  const args = [];
  for (const name of fn.argNames) {
    const v = name === tname ? trigger : inputs ? inputValue(inputs[name], fn.inputs[name]) : undefined;
    bindings[name] = fn.isHttp && name === tname ? requestView(v) : v;
    args.push(v);
  }
  const hookData = {};
  const appHookData = core.state.appHookData;
  const pre = { hookData, appHookData, invocationContext: ctx, functionCallback: fn.fn, inputs: args };
  inv.post = { hookData, appHookData, invocationContext: ctx, inputs: args, result: null, error: null };
  core.runHooks('preInvocation', pre).then(() => {
    if (inv.finished) return;
    inv.post.inputs = pre.inputs;
    let ret;
    try {
      ret = pre.functionCallback.apply(fn.self, [ctx].concat(pre.inputs));
    } catch (e) {
      if (!inv.finished) inv.fail(e);
      else inv.log(LEVEL.error, ['The function threw after it had completed: ' + errorText(e)]);
      return;
    }
    settle(inv, ret);
  }, (e) => {
    inv.post = null;
    inv.fail(e);
  });
}

// v4.js, required when the first v4-model function is loaded.
let v4 = null;

// A v4-model invocation, through the app's programming model.
function runV4(inv) {
  v4.invoke(inv, inv.fn).then((resp) => inv.resolved(resp), (e) => inv.fail(e));
}

class Host {
  constructor(writer, onIdle, fatal) {
    this.writer = writer;
    this.onIdle = onIdle;
    this.fatal = fatal;
    this.functions = new Map();
    this.list = [];  // the functions with plain ASCII names, for lookup()
    this.inflight = new Inflight();
    this.nameEnd = -1;    // set by lookup()
    this.viewOf = null;   // the buffer this.dv views
    this.dv = null;
  }

  // Enter a described function (a later one of the same name replaces it).
  add(rec) {
    this.functions.set(rec.name, rec);
    this.list = this.list.filter((r) => r.name !== rec.name);
    if (/^[\x20-\x7e]*$/.test(rec.name) && !/["\\]/.test(rec.name)) {
      rec.namePattern = pattern(Buffer.from(rec.name, 'latin1'));
      this.list.push(rec);
    }
  }

  // A LOG frame; category is JSON text (e.g. '"Function.hello.User"') or
  // omitted for a worker line. A very long message is cut to fit a frame.
  send(id, level, text, category) {
    this.writer.add(T.LOG, id, '{"level":' + level + ',"message":' + JSON.stringify(clip(text)) +
      (category ? ',"category":' + category + '}' : '}'), null);
  }

  // Load every function of the LOAD frame; resolves to LOADED's list.
  async load(meta) {
    if (meta.appRoot && process.cwd() !== meta.appRoot) {
      try {
        process.chdir(meta.appRoot);
      } catch (e) { /* the host started us there already */ }
    }
    const settings = meta.settings || {};
    for (const k in settings) {
      if (process.env[k] === undefined) process.env[k] = String(settings[k]);
    }
    // Azure's hosts give workers the app's folder in AzureWebJobsScriptRoot.
    if (meta.appRoot && process.env.AzureWebJobsScriptRoot === undefined) {
      process.env.AzureWebJobsScriptRoot = meta.appRoot;
    }
    con.install((id, level, text) => this.send(id, level, text), () => this.inflight);
    // require('@azure/functions-core') works in every module of the app.
    core.install();
    core.state.logSink = (level, category, message) => {
      const l = LEVEL[level];
      if (l === undefined || (category === 'system' && l < LEVEL.information)) return;
      this.send(0, l, String(message));
    };
    const root = meta.appRoot || process.cwd();
    const out = [];
    let app = null;
    for (const f of Array.isArray(meta.functions) ? meta.functions : []) {
      const rec = describeFunction(f);
      this.add(rec);
      // Which function is being loaded, written at once: if its module ends
      // the process, the host can say which one did.
      if (!f.indexed || app === null) {
        this.send(0, 0, String(f.name), '"Worker.Loading"');
        this.writer.flush();
      }
      if (f.indexed) {
        // The app's entry files are loaded once, for all its functions.
        if (app === null) {
          app = await require('./entry').loadApp(root);
          await this.capabilities();
        }
        this.indexed(rec, app);
        out.push(rec.ok ? { name: rec.name, ok: true } : { name: rec.name, ok: false, error: rec.error });
        continue;
      }
      try {
        const ep = await loadFunction(f);
        rec.fn = ep.fn;
        rec.self = ep.self;
        rec.ok = true;
        out.push({ name: rec.name, ok: true });
      } catch (e) {
        rec.error = e && e.message ? e.message : String(e);
        out.push({ name: rec.name, ok: false, error: rec.error });
      }
    }
    core.finishStartup();
    // The appStart hooks, once the app's code is loaded.
    const start = { hookData: core.state.appHookData, appHookData: core.state.appHookData, functionAppDirectory: root };
    try {
      await core.runHooks('appStart', start);
      if (start.hookData && typeof start.hookData === 'object') core.state.appHookData = start.hookData;
    } catch (e) {
      this.send(0, LEVEL.error, 'An appStart hook failed: ' + errorText(e));
    }
    return out;
  }

  // Find indexed function rec among the registrations of the app's entry
  // files (app: what entry.loadApp() gave).
  indexed(rec, app) {
    const reg = core.state.functions.get(rec.name);
    if (!reg) {
      const why = app.errors.map((e) => e.error).join('; ');
      rec.error = 'function "' + rec.name + '" is not registered by the app\'s code' +
        (why ? ' (' + why + ')' : ' (package.json "main" names the files that register it)');
      return;
    }
    if (v4 === null) v4 = require('./v4');
    rec.v4 = reg;
    rec.needsMeta = true;
    rec.ok = true;
  }

  // Ask the app's programming model for its capabilities once its code is
  // loaded, as Azure's worker does: this ends app.setup() time, and an app
  // that asked for HTTP streaming starts the server its HTTP requests go to.
  async capabilities() {
    const model = core.state.model;
    if (!model || typeof model.getCapabilities !== 'function') return;
    // The package's server for streamed requests listens on every
    // interface (it is behind Azure's front end there); here only the
    // worker calls it, so a listen() without a host binds to loopback.
    const net = require('net');
    const listen = net.Server.prototype.listen;
    net.Server.prototype.listen = function (...args) {
      if (typeof args[0] === 'function') args.unshift(0);
      if ((typeof args[0] === 'number' || typeof args[0] === 'string') &&
          typeof args[1] !== 'string') {
        args.splice(1, 0, '127.0.0.1');
      }
      return listen.apply(this, args);
    };
    try {
      const caps = await model.getCapabilities({});
      if (caps && typeof caps.HttpUri === 'string' && caps.HttpUri) {
        if (v4 === null) v4 = require('./v4');
        v4.useProxy(caps.HttpUri);
      }
    } catch (e) {
      this.send(0, LEVEL.error, 'The programming model failed to start: ' + errorText(e));
    } finally {
      net.Server.prototype.listen = listen;
    }
  }

  // On shutdown: the appTerminate hooks; resolves when they have run.
  async terminate() {
    if (core.state.hooks.appTerminate.length === 0) return;
    const ctx = { hookData: core.state.appHookData, appHookData: core.state.appHookData };
    try {
      await core.runHooks('appTerminate', ctx);
    } catch (e) {
      this.send(0, LEVEL.error, 'An appTerminate hook failed: ' + errorText(e));
    }
  }

  // The function whose name (plain ASCII) is the JSON string whose
  // characters start at pos of dv (raw: the metadata from metaStart, a
  // character per byte), or undefined; this.nameEnd is then where that
  // string ends.
  lookup(dv, pos, end, raw, metaStart) {
    const list = this.list;
    if (list.length <= 8) {
      for (let i = 0; i < list.length; i++) {
        const p = list[i].namePattern;
        if (end - pos > p.n && dv.getUint8(pos + p.n) === 0x22 && matchAt(dv, pos, end, p)) {
          this.nameEnd = pos + p.n;
          return list[i];
        }
      }
      return undefined;
    }
    const e = plainEnd(dv, pos, end);
    if (e < 0) return undefined;
    this.nameEnd = e;
    return this.functions.get(raw.slice(pos - metaStart, e - metaStart));
  }

  // A DataView of buf (the last one kept: frames arrive in the same buffer).
  view(buf) {
    if (buf !== this.viewOf) {
      this.viewOf = buf;
      this.dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    }
    return this.dv;
  }

  inflightCount() {
    return this.inflight.size;
  }

  invoke(id, buf, metaStart, metaLen, bodyStart, bodyLen) {
    const metaEnd = metaStart + metaLen;
    // The metadata as one character per byte (see utf8Text): the text's
    // indexes are the bytes', and no UTF-8 is decoded until it is parsed.
    // The host writes "function" and "invocationId" first: read them
    // without parsing the rest, which an HTTP function that never looks at
    // its request does not need. Anything else is parsed whole.
    const raw = buf.latin1Slice(metaStart, metaEnd);
    let fn;
    let name;
    let invocationId;
    let meta = null;
    const dv = this.view(buf);
    if (matchAt(dv, metaStart, metaEnd, FUNCTION_KEY)) {
      // A name not found is looked for again in the parsed metadata.
      const f = this.lookup(dv, metaStart + FUNCTION_KEY.n, metaEnd, raw, metaStart);
      const e = this.nameEnd;
      if (f !== undefined && matchAt(dv, e, metaEnd, ID_KEY)) {
        const i = e + ID_KEY.n;
        const e2 = idEnd(dv, i, metaEnd);
        if (e2 > 0) {
          invocationId = raw.slice(i - metaStart, e2 - metaStart);
          fn = f;
        }
      }
    }
    if (invocationId === undefined) {
      try {
        meta = JSON.parse(utf8Text(raw));
      } catch (e) {
        this.fatal('an invoke frame holds invalid JSON: ' + e.message);
        return;
      }
      name = meta.function;
      invocationId = meta.invocationId;
      fn = this.functions.get(name);
    }
    if (fn === undefined || !fn.ok) {
      this.sendError(id, fn ? 'function ' + fn.name + ' could not be loaded: ' + fn.error
        : 'no function named ' + JSON.stringify(name) + ' in this app');
      return;
    }
    if (meta === null && fn.needsMeta) meta = JSON.parse(utf8Text(raw));
    // buf is the socket's read buffer, reused by the next read: the body
    // is copied out.
    const inv = new Invocation(this, id, raw, meta, typeof invocationId === 'string' ? invocationId : '',
      fn, bodyLen ? Buffer.from(buf.subarray(bodyStart, bodyStart + bodyLen)) : EMPTY);
    this.inflight.add(inv);
    if (fn.v4 !== null || core.state.hooks.preInvocation.length !== 0 ||
        core.state.hooks.postInvocation.length !== 0) {
      // The function runs after awaits of the programming model or hooks:
      // console lines are told apart by the AsyncLocalStorage.
      con.state.tracking = true;
      inv.tracked = true;
      con.als.run(inv, fn.v4 !== null ? runV4 : run, inv);
      return;
    }
    // Inside the AsyncLocalStorage only once function code has used console
    // (see console.js); else the synchronous part is marked as this one's.
    if (con.state.tracking) {
      inv.tracked = true;
      con.als.run(inv, run, inv);
    } else {
      con.state.current = inv;
      try {
        run(inv);
      } finally {
        con.state.current = null;
        if (con.state.tracking) con.als.enterWith(undefined);  // turned on by run(inv)
      }
    }
  }

  // CANCEL: answer at once; whatever the function does later is discarded.
  cancel(id) {
    const inv = this.inflight.get(id);
    if (!inv) return;
    inv.cancelled = true;
    if (!inv.tracked) con.state.untrackedEnded = true;
    this.inflight.remove(inv);
    this.writer.add(T.RESULT, id, '{"ok":false,"error":"cancelled"}', null);
    if (this.inflight.size === 0) this.onIdle();
  }

  sendError(id, err) {
    this.writer.add(T.RESULT, id, '{"ok":false,"error":' + JSON.stringify(clip(errorText(err))) + '}', null);
  }

  sendResult(inv, value) {
    if (inv.fn.v4 !== null) {
      this.sendV4Result(inv, value);
      return;
    }
    // As in Azure, a falsy result (null, 0, '', false) is no result: the
    // outputs come from context.bindings (and context.res).
    if (!value) value = undefined;
    const fn = inv.fn;
    const ctx = inv.ctx;
    const b = ctx.bindings;
    let outputs = null;
    // Without a $return binding, a returned object holds output values by
    // binding name (and wins over context.bindings).
    const fromReturn = typeof value === 'object' && !fn.hasReturn ? value : null;
    for (let i = 0; i < fn.outNames.length; i++) {
      const name = fn.outNames[i];
      const v = fromReturn !== null && fromReturn[name] !== undefined ? fromReturn[name] : b[name];
      if (v !== undefined) (outputs || (outputs = {}))[name] = outputValue(v, fn.outQueue[name] === 1);
    }
    if (fn.hasReturn && !fn.returnIsHttp) {
      const v = value !== undefined ? value : b.$return;
      if (v !== undefined) (outputs || (outputs = {})).$return = outputValue(v, fn.outQueue.$return === 1);
    }
    let meta = '{"ok":true';
    let text = null; // the finished metadata, when the common case applies
    let body = null;
    if (ctx.req !== undefined || fn.httpOut) {
      let res;
      if (fn.returnIsHttp) {
        res = value !== undefined ? value : b.$return !== undefined ? b.$return : ctx.res;
      } else if (fn.httpOut) {
        res = fromReturn !== null && fromReturn[fn.httpOut] !== undefined ? fromReturn[fn.httpOut]
          : b[fn.httpOut] !== undefined ? b[fn.httpOut] : ctx.res;
      } else {
        res = ctx.res;
      }
      let r;
      try {
        r = httpResult(res, scratch);
      } catch (e) {
        this.sendError(inv.id, e);
        return;
      }
      body = r.body;
      if (r.headers === null && outputs === null) {
        // The common case: a status and at most a default Content-Type.
        text = plainMeta(r.status, r.type);
      } else {
        meta += ',"status":' + r.status;
        let h = r.headers;
        if (r.type !== 0) (h || (h = [])).push(['Content-Type', TYPES[r.type]]);
        if (h !== null) meta += ',"headers":' + JSON.stringify(h);
      }
    }
    if (text === null) {
      try {
        if (outputs !== null) meta += ',"outputs":' + JSON.stringify(outputs);
      } catch (e) {
        this.sendError(inv.id, 'the output bindings cannot be sent as JSON: ' + errorText(e));
        return;
      }
      text = meta + '}';
    }
    try {
      this.writer.add(T.RESULT, inv.id, text, body);
    } catch (e) {
      if (!(e instanceof RangeError)) throw e;
      this.sendError(inv.id, 'the result is too large for the worker protocol: ' + e.message);
    }
  }

  // RESULT of a v4-model invocation from the programming model's
  // RpcInvocationResponse.
  sendV4Result(inv, resp) {
    let r;
    try {
      r = v4.result(inv.fn, resp || {});
    } catch (e) {
      this.sendError(inv.id, 'the result could not be sent: ' + errorText(e));
      return;
    }
    try {
      this.writer.add(T.RESULT, inv.id, r.text, r.body);
    } catch (e) {
      if (!(e instanceof RangeError)) throw e;
      this.sendError(inv.id, 'the result is too large for the worker protocol: ' + e.message);
    }
  }
}

// Run one made-up HTTP invocation through the machinery (invoke frame,
// request, context, response, result frame) with a writer that never
// writes, so that V8 has compiled that code before a placeholder's first
// real request. Touches nothing outside this module: no console, no
// process handlers, no environment, no socket.
function warm() {
  const sink = new FrameWriter(null, () => {});
  const h = new Host(sink, () => {}, () => {});
  const rec = describeFunction({
    name: 'warmup', directory: __dirname,
    bindings: [{ type: 'httpTrigger', direction: 'in', name: 'req' },
      { type: 'http', direction: 'out', name: 'res' }],
  });
  rec.fn = async function (context, req) {
    context.log('warm-up', req.query.name, req.headers.host);
    context.res = { body: 'warm-up' };
  };
  rec.ok = true;
  h.add(rec);
  const meta = Buffer.from('{"function":"warmup","invocationId":"0","http":{"method":"GET",' +
    '"url":"http://localhost/api/warmup?name=x","path":"/api/warmup","query":"name=x",' +
    '"headers":[["Host","localhost"]],"params":{}}}');
  h.invoke(1, meta, 0, meta.length, meta.length, 0);
}

// A Host for one worker. onIdle() is called whenever the last invocation in
// flight has finished; fatal(reason) ends the worker on a protocol error.
function create(writer, onIdle, fatal) {
  const host = new Host(writer, onIdle, fatal);
  return {
    load: (meta) => host.load(meta),
    invoke: (id, buf, ms, ml, bs, bl) => host.invoke(id, buf, ms, ml, bs, bl),
    cancel: (id) => host.cancel(id),
    inflight: () => host.inflightCount(),
    terminate: () => host.terminate(),
  };
}

module.exports = { create, warm };
