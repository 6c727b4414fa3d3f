// v4.js -- invocations of functions of the v4 programming model (npm
// @azure/functions 4.x), as Azure's Node.js worker runs them: the app's
// programming model (core.js) makes an invocation model from the
// invocation's gRPC-shaped request (RpcInvocationRequest: inputData,
// triggerMetadata, retryContext, traceContext), which gives the handler's
// arguments (getArguments), calls it (invokeFunction, between the
// preInvocation and postInvocation hooks) and turns its result into an
// RpcInvocationResponse (getResponse: outputData, returnValue). This module
// builds the request from an INVOKE frame and turns the response into a
// RESULT frame's status, headers, outputs and body.
//
// An app that asks for HTTP streaming (app.setup({ enableHttpStream: true }))
// has the package serve HTTP on a port of its own, where Azure's host sends
// it the requests of HTTP functions; here the worker does that (useProxy):
// per HTTP invocation it sends the request, whole, to that port, and the
// response it gets is the invocation's HTTP response.
'use strict';

const http = require('http');
const core = require('./core');
const { outputValue } = require('./bindings');
const { LEVEL } = require('./context');

function isBinary(binding) {
  const type = String(binding.type || '').toLowerCase();
  const dataType = String(binding.dataType || '').toLowerCase();
  if (dataType === 'binary' || dataType === 'stream') return true;
  if (dataType === 'string') return false;
  return type === 'blob' || type === 'blobtrigger';
}

// A binding value of the protocol ({"$binary"} bytes, text, JSON data) as
// RpcTypedData for binding b; undefined when there is none.
function typedInput(v, b) {
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'object' && typeof v.$binary === 'string' && Object.keys(v).length === 1) {
    const buf = Buffer.from(v.$binary, 'base64');
    return isBinary(b) ? { bytes: buf } : { string: buf.toString('utf8') };
  }
  if (typeof v === 'string') return isBinary(b) ? { bytes: Buffer.from(v, 'utf8') } : { string: v };
  return typedValue(v);
}

// A trigger metadata value as RpcTypedData.
function typedValue(v) {
  if (typeof v === 'string') return { string: v };
  if (typeof v === 'number') return Number.isInteger(v) ? { int: v } : { double: v };
  return { json: JSON.stringify(v) };
}

// Header pairs -> {name: value}, repeats joined as one header does.
function headerRecord(pairs) {
  const h = {};
  if (!Array.isArray(pairs)) return h;
  for (const [k, v] of pairs) {
    const key = String(k).toLowerCase();
    const val = v === null || v === undefined ? '' : String(v);
    if (Object.hasOwn(h, key)) h[key] += (key === 'cookie' ? '; ' : ', ') + val;
    else h[key] = val;
  }
  return h;
}

// The request URL, absolute (the Request the package builds needs one).
function absoluteUrl(h, headers) {
  const url = String(h.url || '');
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(url)) return url;
  const host = headers.host || 'localhost';
  const p = url || (h.path || '/') + (h.query ? '?' + h.query : '');
  return 'http://' + host + (p.startsWith('/') ? p : '/' + p);
}

// The RpcInvocationRequest of invocation inv (its parsed INVOKE metadata
// and body) for a function described by rec.
function rpcRequest(inv, rec) {
  const meta = inv.meta;
  const bindings = rec.v4.metadata.bindings;
  const inputData = [];
  let triggerMetadata = {};
  for (const name of Object.keys(bindings)) {
    const b = bindings[name] || {};
    if (String(b.direction || '').toLowerCase() !== 'in') continue;
    if (/trigger$/i.test(String(b.type || ''))) {
      let data;
      if (String(b.type).toLowerCase() === 'httptrigger') {
        const h = inv.http();
        const headers = headerRecord(h.headers);
        data = {
          http: {
            method: h.method || 'GET',
            url: absoluteUrl(h, headers),
            headers,
            params: h.params || {},
            body: { bytes: inv.body },
          },
        };
      } else if (isBinary(b)) {
        data = { bytes: inv.body };
      } else {
        data = { string: inv.body.toString('utf8') };
      }
      inputData.push({ name, data });
    } else {
      const v = meta.inputs ? meta.inputs[name] : undefined;
      inputData.push({ name, data: typedInput(v, b) });
    }
  }
  const tm = meta.triggerMetadata;
  if (tm !== null && typeof tm === 'object') {
    for (const k of Object.keys(tm)) {
      if (tm[k] !== null && tm[k] !== undefined) triggerMetadata[k] = typedValue(tm[k]);
    }
  }
  if (rec.isHttp) {
    // What the package reads of a streamed request: its headers, and the
    // route parameters as properties of their own.
    triggerMetadata = {};
    if (proxy !== null) {
      const h = inv.http();
      triggerMetadata.Headers = { json: JSON.stringify(headerRecord(h.headers)) };
      const params = h.params || {};
      for (const k of Object.keys(params)) {
        if (k !== 'Headers' && k !== 'Query' && params[k] !== null) triggerMetadata[k] = { string: String(params[k]) };
      }
    }
  }
  const tc = meta.traceContext || {};
  return {
    invocationId: inv.invocationId,
    functionId: rec.name,
    inputData,
    triggerMetadata,
    retryContext: meta.retryContext || undefined,
    traceContext: { traceParent: tc.traceparent, traceState: tc.tracestate, attributes: {} },
  };
}

// What the programming model gets as coreCtx: the request, the function's
// metadata, the invocation's state (hooks or the handler), and log().
class CoreInvocationContext {
  constructor(inv, request, metadata) {
    this.invocationId = inv.invocationId;
    this.request = request;
    this.metadata = metadata;
    this.state = undefined;
    this.inv = inv;
  }

  log(level, category, message) {
    const lvl = LEVEL[level];
    if (lvl === undefined) return;   // 'none'
    if (category === 'system' && lvl < LEVEL.information) return;
    let text = String(message);
    let l = lvl;
    const hooks = core.state.hooks.log;
    if (hooks.length !== 0) {
      const ctx = {
        hookData: {}, appHookData: core.state.appHookData, level, message: text, category,
        invocationContext: this.invocationContext,
      };
      for (const h of hooks.slice()) {
        try {
          h(ctx);
        } catch (e) {
          this.inv.log(LEVEL.error, ['A log hook threw: ' + (e && e.stack || e)]);
        }
      }
      text = String(ctx.message);
      if (LEVEL[ctx.level] !== undefined) l = LEVEL[ctx.level];
    }
    this.inv.log(l, [text]);
  }
}

// The package's HTTP server for streamed requests, once the app asked for
// streaming: { host, port, agent }.
let proxy = null;

function useProxy(uri) {
  const u = new URL(uri);
  // "localhost" may resolve to ::1 first; the server is on 127.0.0.1.
  const host = u.hostname === 'localhost' ? '127.0.0.1' : u.hostname;
  proxy = { host, port: Number(u.port), agent: new http.Agent({ keepAlive: true }) };
}

// Headers of the proxy's request and response that belong to the hop.
const HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'content-length', 'host',
  'te', 'trailer', 'upgrade', 'proxy-connection', 'x-ms-invocation-id', 'date']);

// Send invocation inv's HTTP request to the package's server: { done (a
// promise of {status, headers, body}), abort() }.
function proxyRequest(inv) {
  const h = inv.http();
  const url = new URL(absoluteUrl(h, headerRecord(h.headers)));
  const headers = {};
  for (const [k, v] of Array.isArray(h.headers) ? h.headers : []) {
    const key = String(k).toLowerCase();
    if (HOP.has(key)) continue;
    (headers[key] || (headers[key] = [])).push(v === null || v === undefined ? '' : String(v));
  }
  headers['x-ms-invocation-id'] = inv.invocationId;
  headers['x-forwarded-host'] = url.host;
  headers['x-forwarded-proto'] = url.protocol.replace(/:$/, '');
  if (inv.body.length !== 0) headers['content-length'] = String(inv.body.length);
  let req;
  const done = new Promise((resolve, reject) => {
    req = http.request({
      host: proxy.host, port: proxy.port, method: h.method || 'GET', path: url.pathname + url.search,
      headers, agent: proxy.agent,
    }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        const pairs = [];
        const raw = res.rawHeaders;
        for (let i = 0; i + 1 < raw.length; i += 2) {
          if (!HOP.has(raw[i].toLowerCase())) pairs.push([raw[i], raw[i + 1]]);
        }
        resolve({ status: res.statusCode, headers: pairs, body: Buffer.concat(chunks) });
      });
    });
    req.on('error', (e) => reject(new Error('the HTTP stream of @azure/functions failed: ' + e.message)));
    req.end(inv.body.length !== 0 ? inv.body : undefined);
  });
  done.catch(() => {});
  return { done, abort: () => req.destroy() };
}

// Run invocation inv of v4 function rec; resolves to the
// RpcInvocationResponse, rejects with the failure.
async function invoke(inv, rec) {
  if (proxy === null || !rec.isHttp) return run(inv, rec);
  const proxied = proxyRequest(inv);
  try {
    // The package waits for the request to reach its server: when that
    // fails, so does the invocation.
    const resp = await Promise.race([run(inv, rec), proxied.done.then(() => new Promise(() => {}))]);
    resp[PROXIED] = await proxied.done;
    return resp;
  } catch (e) {
    proxied.abort();
    throw e;
  }
}

const PROXIED = Symbol('proxied');

// The invocation through the programming model.
async function run(inv, rec) {
  const model = core.state.model;
  if (!model) throw new Error('the app set no programming model (it did not load @azure/functions)');
  const coreCtx = new CoreInvocationContext(inv, rpcRequest(inv, rec), rec.v4.metadata);
  const im = await model.getInvocationModel(coreCtx);
  const args = await im.getArguments();
  const context = args.context;
  coreCtx.invocationContext = context;
  let inputs = args.inputs;
  let callback = rec.v4.callback;
  const hookData = {};
  const appHookData = core.state.appHookData;
  if (core.state.hooks.preInvocation.length !== 0) {
    const pre = { hookData, appHookData, invocationContext: context, functionCallback: callback, inputs };
    coreCtx.state = 'preInvocationHooks';
    try {
      await core.runHooks('preInvocation', pre);
    } finally {
      coreCtx.state = undefined;
    }
    inputs = pre.inputs;
    callback = pre.functionCallback;
  }
  const post = { hookData, appHookData, invocationContext: context, inputs, result: null, error: null };
  coreCtx.state = 'invocation';
  try {
    post.result = await im.invokeFunction(context, inputs, callback);
  } catch (e) {
    post.error = e === undefined || e === null ? new Error('the function failed with ' + e) : e;
  } finally {
    coreCtx.state = undefined;
  }
  if (core.state.hooks.postInvocation.length !== 0) {
    coreCtx.state = 'postInvocationHooks';
    try {
      await core.runHooks('postInvocation', post);
    } finally {
      coreCtx.state = undefined;
    }
  }
  if (post.error !== null && post.error !== undefined) throw post.error;
  return im.getResponse(context, post.result);
}

// The value an RpcTypedData holds, in the protocol's convention; undefined
// for none.
function plainValue(d, queue) {
  if (d === null || d === undefined) return undefined;
  if (d.string !== undefined && d.string !== null) return d.string;
  if (d.json !== undefined && d.json !== null) return outputValue(JSON.parse(d.json), queue);
  if (d.bytes !== undefined && d.bytes !== null) {
    const b = d.bytes;
    return { $binary: Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('base64') };
  }
  if (d.int !== undefined && d.int !== null) return d.int;
  if (d.double !== undefined && d.double !== null) return d.double;
  return undefined;
}

function nullable(n) {
  return n && typeof n === 'object' && 'value' in n ? n.value : n;
}

// A Set-Cookie header value from an RpcHttpCookie.
function cookieText(c) {
  let s = (c.name || '') + '=' + (c.value || '');
  const domain = nullable(c.domain);
  const path = nullable(c.path);
  const expires = nullable(c.expires);
  const maxAge = nullable(c.maxAge);
  if (domain) s += '; Domain=' + domain;
  if (path) s += '; Path=' + path;
  if (expires) {
    const ms = typeof expires === 'object' ? Number(expires.seconds || 0) * 1000 : Number(expires);
    s += '; Expires=' + new Date(ms).toUTCString();
  }
  if (typeof maxAge === 'number') s += '; Max-Age=' + Math.trunc(maxAge);
  if (nullable(c.secure) === true) s += '; Secure';
  if (nullable(c.httpOnly) === true) s += '; HttpOnly';
  if (c.sameSite === 'lax') s += '; SameSite=Lax';
  else if (c.sameSite === 'strict') s += '; SameSite=Strict';
  else if (c.sameSite === 'explicitNone') s += '; SameSite=None';
  return s;
}

// The RESULT of an RpcInvocationResponse: { text (metadata), body }.
function result(rec, resp) {
  const bindings = rec.v4.metadata.bindings;
  let httpData = null;
  let outputs = null;
  const put = (name, d) => {
    const b = bindings[name] || {};
    const type = String(b.type || '').toLowerCase();
    if (type === 'http') {
      if (httpData === null && d && d.http) httpData = d.http;
      return;
    }
    const v = plainValue(d, type === 'queue');
    if (v !== undefined) (outputs || (outputs = {}))[name] = v;
  };
  if (bindings.$return) put('$return', resp.returnValue);
  for (const o of resp.outputData || []) put(o.name, o.data);
  let meta = '{"ok":true';
  let body = null;
  const streamed = resp[PROXIED];
  if (streamed !== undefined) {
    meta += ',"status":' + streamed.status;
    if (streamed.headers.length) meta += ',"headers":' + JSON.stringify(streamed.headers);
    if (streamed.body.length) body = streamed.body;
  } else if (rec.isHttp || httpData !== null) {
    let status = 200;
    const headers = [];
    if (httpData !== null) {
      const n = parseInt(httpData.statusCode, 10);
      if (Number.isInteger(n) && n >= 100 && n <= 999) status = n;
      for (const k of Object.keys(httpData.headers || {})) headers.push([k, String(httpData.headers[k])]);
      for (const c of httpData.cookies || []) headers.push(['Set-Cookie', cookieText(c)]);
      const b = httpData.body;
      if (b && b.bytes) body = Buffer.from(b.bytes.buffer, b.bytes.byteOffset, b.bytes.byteLength);
      else if (b && typeof b.string === 'string') body = Buffer.from(b.string);
      if (body !== null && body.length === 0) body = null;
    }
    meta += ',"status":' + status;
    if (headers.length) meta += ',"headers":' + JSON.stringify(headers);
  }
  if (outputs !== null) meta += ',"outputs":' + JSON.stringify(outputs);
  return { text: meta + '}', body };
}

module.exports = { invoke, result, rpcRequest, useProxy };
