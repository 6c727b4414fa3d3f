// context.js -- the `context` object a v3-model function receives: its
// invocation id, bindings, logging (context.log and its levels), done() for
// callback-style functions, and the binding data, execution context and
// trace context. The rarely used parts are built on first access, so an
// invocation that does not touch them does not pay for them.
'use strict';

const { bindingData, parsed, camelDeep, lowerFirst } = require('./bindings');

const LEVEL = { trace: 0, debug: 1, information: 2, warning: 3, error: 4, critical: 5 };

// How context.log's methods map to log levels (verbose is Azure's trace).
function makeLogger(inv) {
  const log = (...args) => inv.userLog(LEVEL.information, args);
  log.error = (...args) => inv.userLog(LEVEL.error, args);
  log.warn = (...args) => inv.userLog(LEVEL.warning, args);
  log.info = (...args) => inv.userLog(LEVEL.information, args);
  log.verbose = (...args) => inv.userLog(LEVEL.trace, args);
  log.trace = (...args) => inv.userLog(LEVEL.trace, args);
  return log;
}

// The binding data of an HTTP trigger as Azure's host makes it and its
// Node.js worker hands it over: the top-level properties of a JSON object
// body, then the query parameters (but the key, `code`), then the route
// parameters, each later one replacing an earlier one of the same name;
// names with their first letter lower-cased, and text values parsed as
// JSON when they are JSON (route parameter "42" is the number 42), as the
// worker does with all binding data.
function httpBindingData(req) {
  const data = {};
  const set = (k, v) => {
    const key = lowerFirst(k);
    if (key === '__proto__') return;
    data[key] = typeof v === 'string' && v !== '' ? parsed(v) : v;
  };
  const body = req.body;
  if (body !== null && typeof body === 'object' && !Array.isArray(body) && !Buffer.isBuffer(body)) {
    for (const k of Object.keys(body)) {
      const v = body[k];
      if (v === null || v === undefined) continue;
      // The host keeps objects and arrays and turns the rest into text
      // (.NET spells booleans True and False).
      set(k, typeof v === 'boolean' ? (v ? 'True' : 'False')
        : Array.isArray(v) ? v : typeof v === 'object' ? camelDeep(v) : String(v));
    }
  }
  const query = req.query;
  for (const k of Object.keys(query)) if (k.toLowerCase() !== 'code') set(k, query[k]);
  const params = req.params;
  for (const k of Object.keys(params)) set(k, params[k]);
  return data;
}

function own(obj, name, value) {
  Object.defineProperty(obj, name, { value, writable: true, configurable: true, enumerable: true });
  return value;
}

class Context {
  #inv;

  // inv: the invocation (host.js); bindings: the input values by name;
  // req and res: the request and response of an HTTP trigger, else
  // undefined (and then not properties at all).
  constructor(inv, bindings, req, res) {
    this.invocationId = inv.invocationId;
    this.bindings = bindings;
    if (req !== undefined) {
      this.req = req;
      this.res = res;
    }
    this.#inv = inv;
  }

  get log() {
    return own(this, 'log', makeLogger(this.#inv));
  }

  set log(v) {
    own(this, 'log', v);
  }

  // done(err, result): ends a callback-style invocation; err fails it,
  // result feeds $return (or the output bindings by name).
  get done() {
    const inv = this.#inv;
    return own(this, 'done', (err, result) => inv.done(err, result));
  }

  set done(v) {
    own(this, 'done', v);
  }

  get bindingData() {
    const inv = this.#inv;
    let data;
    if (inv.fn.isHttp) {
      const req = this.req;
      data = req ? httpBindingData(req) : {};
      if (data.query === undefined) data.query = req ? req.query : {};
      if (data.headers === undefined) data.headers = req ? req.headers : {};
      data.invocationId = inv.invocationId;
      data.sys = {
        methodName: inv.fn.name,
        utcNow: new Date().toISOString(),
        randGuid: require('crypto').randomUUID(),
      };
    } else {
      data = bindingData(inv.meta, inv.invocationId, inv.fn.name);
    }
    return own(this, 'bindingData', data);
  }

  set bindingData(v) {
    own(this, 'bindingData', v);
  }

  get executionContext() {
    const inv = this.#inv;
    return own(this, 'executionContext', {
      invocationId: inv.invocationId,
      functionName: inv.fn.name,
      functionDirectory: inv.fn.directory,
      retryContext: inv.meta.retryContext || null,
    });
  }

  set executionContext(v) {
    own(this, 'executionContext', v);
  }

  get traceContext() {
    const inv = this.#inv;
    const t = inv.meta.traceContext;
    const h = this.req ? this.req.headers : null;
    // As Azure's host, an empty string for what is not known.
    return own(this, 'traceContext', {
      traceparent: (t && t.traceparent) || (h && h.traceparent) || '',
      tracestate: (t && t.tracestate) || (h && h.tracestate) || '',
      attributes: (t && t.attributes) || {},
    });
  }

  set traceContext(v) {
    own(this, 'traceContext', v);
  }

  // Directions as Azure's worker names them: 'in', 'out' or 'inout'
  // (function.json's spelling may be in any case).
  get bindingDefinitions() {
    return own(this, 'bindingDefinitions', this.#inv.fn.bindings.map((b) => {
      const d = String(b.direction || '').toLowerCase();
      return { name: b.name, type: b.type,
        direction: d === 'in' || d === 'out' || d === 'inout' ? d : undefined };
    }));
  }

  set bindingDefinitions(v) {
    own(this, 'bindingDefinitions', v);
  }
}

module.exports = { Context, LEVEL };
