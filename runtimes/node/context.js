// context.js -- the `context` object a v3-model function receives: its
// invocation id, bindings, logging (context.log and its levels), done() for
// callback-style functions, and the binding data, execution context and
// trace context. The rarely used parts are built on first access, so an
// invocation that does not touch them does not pay for them.
'use strict';

const { bindingData } = require('./bindings');

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
      data = Object.assign({}, req ? req.params : null);
      data.query = req ? req.query : {};
      data.headers = req ? req.headers : {};
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
