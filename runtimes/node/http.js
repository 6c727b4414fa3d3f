// http.js -- the HTTP request and response of the Azure Functions Node.js v3
// model: the Request a function receives (req, context.req), the Response it
// fills in (context.res, or any object with status/body/headers/cookies), and
// the conversion of that response into a RESULT frame's status, headers and
// body.
'use strict';

const { parsed } = require('./bindings');

// ---- the request ----

// o[k] = v, also for k "__proto__" (an own property, not the prototype).
function put(o, k, v) {
  if (k === '__proto__') {
    Object.defineProperty(o, k, { value: v, writable: true, enumerable: true, configurable: true });
  } else {
    o[k] = v;
  }
}

// o[k] when o has it itself.
function own(o, k) {
  return o && Object.hasOwn(o, k) ? o[k] : undefined;
}

// Names a request chooses ("constructor", "toString", ...) are own
// properties: what Object.prototype has is not an earlier value.
function merge(o, k, v) {
  put(o, k, Object.hasOwn(o, k) ? o[k] + ',' + v : v);
}

// Header pairs from the invoke frame -> {lower-case name: value}; repeated
// headers are joined with commas.
function headerObject(pairs) {
  const h = {};
  if (!pairs) return h;
  for (let i = 0; i < pairs.length; i++) {
    merge(h, pairs[i][0].toLowerCase(), pairs[i][1] === null ? '' : pairs[i][1]);
  }
  return h;
}

// "a=1&b=x%20y&a=2" -> {a: "1,2", b: "x y"}. A name without a value
// ("?flag", "?e=") is there with the value '': Azure's Node.js worker asks
// the host for its nullable query (UseNullableValueDictionaryForHttp), in
// which such a name is kept.
function queryObject(qs) {
  const q = {};
  if (!qs) return q;
  for (const [k, v] of new URLSearchParams(qs)) merge(q, k, v);
  return q;
}

function paramObject(params) {
  const p = {};
  if (!params) return p;
  for (const k of Object.keys(params)) {
    if (params[k] !== null && params[k] !== undefined) put(p, k, params[k]);
  }
  return p;
}

function mediaType(headers) {
  const ct = headers['content-type'];
  if (!ct) return '';
  const semi = ct.indexOf(';');
  return (semi < 0 ? ct : ct.slice(0, semi)).trim().toLowerCase();
}

// A text body as the Azure host decodes it: UTF-8, or the encoding its
// byte order mark names (the mark itself dropped).
function decodeText(buf) {
  const n = buf.length;
  const b0 = buf[0];
  if (b0 === 0xef && buf[1] === 0xbb && buf[2] === 0xbf) return buf.toString('utf8', 3);
  if (b0 === 0xff && buf[1] === 0xfe) {
    if (n >= 4 && buf[2] === 0 && buf[3] === 0) return utf32(buf, 4, true);
    return buf.toString('utf16le', 2);
  }
  if (b0 === 0xfe && buf[1] === 0xff) {
    const le = Buffer.from(buf.subarray(2, 2 + ((n - 2) & ~1)));
    le.swap16();
    return le.toString('utf16le');
  }
  if (b0 === 0 && buf[1] === 0 && buf[2] === 0xfe && buf[3] === 0xff) return utf32(buf, 4, false);
  return buf.toString('utf8');
}

function utf32(buf, start, little) {
  let s = '';
  for (let i = start; i + 4 <= buf.length; i += 4) {
    const c = little ? buf.readUInt32LE(i) : buf.readUInt32BE(i);
    s += c <= 0x10ffff ? String.fromCodePoint(c) : '\ufffd';
  }
  return s;
}

// The request body as Azure's v3 worker hands it to JavaScript:
// application/octet-stream, multipart/* and a trigger with `dataType:
// binary` give a Buffer; any other body is decoded to text, which is
// parsed as JSON when it is JSON, whatever the Content-Type says (a
// '{"name": "x"}' posted by `curl -d` as a form is an object), else kept as
// text. rawBody is the text (the UTF-8 reading of a binary body).
function bodyFields(d, buf, type, binary) {
  if (binary || type === 'application/octet-stream' || type.startsWith('multipart/')) {
    d.body = buf;
    d.rawBody = buf.toString('utf8');
  } else {
    const text = decodeText(buf);
    d.body = parsed(text);
    d.rawBody = text;
  }
  d.bufferBody = buf;
}

const FIELDS = ['method', 'url', 'originalUrl', 'headers', 'query', 'params', 'body',
  'rawBody', 'bufferBody'];

// The request's fields, from the invoke frame's "http" object.
function requestFields(http, body, binary) {
  const headers = headerObject(http.headers);
  const d = {
    method: http.method, url: http.url, originalUrl: http.url, headers,
    query: queryObject(http.query), params: paramObject(http.params),
    body: undefined, rawBody: undefined, bufferBody: undefined,
  };
  if (body && body.length) bodyFields(d, body, mediaType(headers), binary);
  return d;
}

// req.user: the caller as App Service authentication (Easy Auth) or Static
// Web Apps describe it in the x-ms-client-principal header (base64 JSON),
// else null.
function userOf(headers) {
  const principal = headers['x-ms-client-principal'];
  if (!principal) return null;
  let claims;
  try {
    claims = JSON.parse(Buffer.from(principal, 'base64').toString('utf8'));
  } catch (e) {
    return null; // not base64 JSON: no caller anyone vouched for
  }
  if (claims === null || typeof claims !== 'object') return null;
  if (claims.identityProvider) {
    return {
      type: 'StaticWebApps', id: claims.userId, username: claims.userDetails,
      identityProvider: claims.identityProvider, claimsPrincipalData: claims,
    };
  }
  return {
    type: 'AppService', id: headers['x-ms-client-principal-id'],
    username: headers['x-ms-client-principal-name'],
    identityProvider: headers['x-ms-client-principal-idp'], claimsPrincipalData: claims,
  };
}

// req and context.req. Its fields (method, url, originalUrl, headers, query,
// params, body, rawBody, bufferBody) are worked out from the invoke frame on
// first use, so a function that does not read its request does not pay for
// decoding it. They are accessors: JSON.stringify and console.log show them,
// Object.keys does not. user is worked out from the headers on first use.
class Request {
  #src;
  #body;
  #binary;
  #d = null;
  #user;

  // src: an object whose http() returns the invoke frame's "http" object;
  // body: the request body (a Buffer, may be empty); binary: the trigger
  // says dataType "binary".
  constructor(src, body, binary) {
    this.#src = src;
    this.#body = body;
    this.#binary = binary;
  }

  #load() {
    this.#d = requestFields(this.#src.http(), this.#body, this.#binary);
    return this.#d;
  }

  get user() {
    if (this.#user === undefined) this.#user = userOf(this.headers);
    return this.#user;
  }

  set user(v) {
    this.#user = v;
  }

  // A request header by name, any case.
  get(field) {
    return own(this.headers, String(field).toLowerCase());
  }

  // The body of an application/x-www-form-urlencoded or multipart/form-data
  // request as a form: get(name), getAll(name), has(name), length.
  parseFormBody() {
    return require('./form').parseForm(this.bufferBody || Buffer.alloc(0), this.headers['content-type'] || '');
  }

  // The fields, worked out on first use.
  static fields(req) {
    return req.#d || req.#load();
  }

  toJSON() {
    return Object.assign({}, Request.fields(this));
  }

  [Symbol.for('nodejs.util.inspect.custom')](depth, options, inspect) {
    const fields = this.toJSON();
    return inspect ? 'Request ' + inspect(fields, options) : fields;
  }
}

for (const name of FIELDS) {
  Object.defineProperty(Request.prototype, name, {
    get() {
      return Request.fields(this)[name];
    },
    set(v) {
      Request.fields(this)[name] = v;
    },
    enumerable: true,
    configurable: true,
  });
}

// context.bindings.<trigger> of an HTTP function: the same request, seen
// through a proxy that reports its fields as own properties, as a request
// of Azure's worker has them. Adapters that copy the request with
// Object.assign or spread (azure-function-express copies
// context.bindings.req to run an Express app) then see its method, URL,
// headers and body. Only this view pays for the proxy; req and context.req
// are the request itself.
const FIELD_SET = new Set(FIELDS);
const VIEW = {
  get(t, k) {
    const v = Reflect.get(t, k, t);
    return typeof v === 'function' && v === Request.prototype[k] ? v.bind(t) : v;
  },
  set(t, k, v) {
    return Reflect.set(t, k, v, t);
  },
  ownKeys(t) {
    const keys = Reflect.ownKeys(t);
    for (const f of FIELDS) if (!keys.includes(f)) keys.push(f);
    return keys;
  },
  getOwnPropertyDescriptor(t, k) {
    const d = Reflect.getOwnPropertyDescriptor(t, k);
    if (d !== undefined || !FIELD_SET.has(k)) return d;
    return { value: t[k], writable: true, enumerable: true, configurable: true };
  },
};

function requestView(req) {
  return new Proxy(req, VIEW);
}

// ---- the response ----

// context.res: a plain object with fluent helpers, as in v3.
class Response {
  #owner;

  // owner: the invocation; end() and send() call its end().
  constructor(owner) {
    this.headers = {};
    this.cookies = [];
    this.#owner = owner;
  }

  status(code) {
    this.statusCode = code;
    return this;
  }

  setHeader(field, value) {
    put(this.headers, String(field).toLowerCase(), value);
    return this;
  }

  header(field, value) {
    return this.setHeader(field, value);
  }

  set(field, value) {
    return this.setHeader(field, value);
  }

  getHeader(field) {
    return own(this.headers, String(field).toLowerCase());
  }

  get(field) {
    return this.getHeader(field);
  }

  removeHeader(field) {
    delete this.headers[String(field).toLowerCase()];
    return this;
  }

  type(value) {
    return this.setHeader('content-type', value);
  }

  // Set the body (when given) and end the invocation.
  end(body) {
    if (body !== undefined) this.body = body;
    if (this.body !== undefined && Buffer.isBuffer(this.body) && !this.getHeader('content-type')) {
      this.type('application/octet-stream');
    }
    if (this.#owner) this.#owner.end();
    return this;
  }

  send(body) {
    return this.end(body);
  }

  json(body) {
    this.type('application/json');
    this.end(body);
  }

  sendStatus(code) {
    this.status(code);
    return this.end();
  }
}

// ---- response -> RESULT ----

const TEXT = 'text/plain; charset=utf-8';
const JSON_TYPE = 'application/json; charset=utf-8';
const OCTETS = 'application/octet-stream';

function statusOf(v) {
  let s = v.statusCode;
  if (s === undefined || s === null || s === '') s = typeof v.status === 'function' ? undefined : v.status;
  if (s === undefined || s === null || s === '') return 200;
  const n = typeof s === 'number' ? s : /^\s*\d+\s*$/.test(String(s)) ? Number(s) : NaN;
  if (!Number.isInteger(n) || n < 200 || n > 599) {
    throw new TypeError('the HTTP response status ' + JSON.stringify(s) +
      ' is not a number from 200 to 599');
  }
  return n;
}

// RFC 9110 token characters: what a cookie name may hold.
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

// A cookie value escaped as Azure's host does it (.NET's
// Uri.EscapeDataString): all but A-Z a-z 0-9 - _ . ~ as %XX of UTF-8.
function escapeCookieValue(v) {
  const s = String(v).replace(LONE_SURROGATE, '\ufffd');
  return encodeURIComponent(s).replace(/[!'()*]/g,
    (ch) => '%' + ch.charCodeAt(0).toString(16).toUpperCase());
}

// A Domain or Path attribute: text that cannot end the attribute early.
function cookieAttr(c, field) {
  const v = String(c[field]);
  if (/[\x00-\x1f\x7f;]/.test(v)) {
    throw new TypeError(`cookie '${c.name}': ${field} must not hold ';' or control characters`);
  }
  return v;
}

// A Set-Cookie header as Azure's host writes it (ASP.NET Core's
// SetCookieHeaderValue): the attributes in lower case and in its order,
// expires, max-age, domain, path, secure, samesite, httponly, so that
// "mycookie=v; max-age=60; path=/" reads the same from both.
function cookieHeader(c) {
  if (!c || typeof c !== 'object' || !c.name) {
    throw new TypeError('a cookie of the HTTP response needs at least a name and a value');
  }
  const name = String(c.name);
  if (!TOKEN.test(name)) {
    throw new TypeError(`the cookie name '${name}' is not a token (letters, digits and ` +
      "!#$%&'*+-.^_`|~ only)");
  }
  let s = name + '=' + (c.value === undefined || c.value === null ? '' : escapeCookieValue(c.value));
  if (c.expires !== undefined && c.expires !== null) {
    const d = c.expires instanceof Date ? c.expires : new Date(c.expires);
    if (Number.isNaN(d.getTime())) {
      throw new TypeError(`cookie '${name}': expires is not a date (got ${JSON.stringify(String(c.expires))})`);
    }
    s += '; expires=' + d.toUTCString();
  }
  if (c.maxAge !== undefined && c.maxAge !== null) {
    const age = Math.trunc(Number(c.maxAge));
    if (!Number.isFinite(age)) {
      throw new TypeError(`cookie '${name}': maxAge is not a number (got ${JSON.stringify(String(c.maxAge))})`);
    }
    s += '; max-age=' + age;
  }
  if (c.domain) s += '; domain=' + cookieAttr(c, 'domain');
  // As Azure's host (ASP.NET Core's CookieOptions), a cookie without a
  // path is for the whole site, not only the folder of the request's path.
  if (c.path === undefined || c.path === null) s += '; path=/';
  else if (c.path) s += '; path=' + cookieAttr(c, 'path');
  if (c.secure) s += '; secure';
  // As Azure's Node.js worker: Strict, Lax or None; anything else sets none.
  if (typeof c.sameSite === 'string') {
    const same = { strict: 'strict', lax: 'lax', none: 'none' }[c.sameSite.toLowerCase()];
    if (same) s += '; samesite=' + same;
  }
  if (c.httpOnly) s += '; httponly';
  return s;
}

// The default Content-Type of a body kind; 0 means none.
const TYPES = [null, TEXT, JSON_TYPE, OCTETS];

// Convert a function's HTTP response into out: status; headers, the
// [name, value] pairs it sets (null for none); type, the index in TYPES of
// the Content-Type to add because it set none (0: none to add); body, a
// string, a Uint8Array or null. out is the caller's scratch object, so the
// common case allocates nothing here. A value that is not an object is an
// error, as in Azure; undefined means "nothing set": 200, empty body.
function httpResult(v, out) {
  if (v === undefined || v === null) {
    out.status = 200;
    out.headers = null;
    out.type = 0;
    out.body = null;
    return out;
  }
  if (typeof v !== 'object' || Array.isArray(v)) {
    throw new TypeError("the HTTP response must be an object with properties such as 'body', " +
      "'status' and 'headers' (got " + (Array.isArray(v) ? 'an array' : typeof v) + ')');
  }
  // Everything is read into locals first, out written last: reading the
  // response may run user code (getters).
  const status = statusOf(v);
  let headers = null;
  let typed = false;
  const h = v.headers;
  if (h && typeof h === 'object') {
    for (const k in h) {
      const val = h[k];
      if (val === undefined || val === null) continue;
      if (!typed && k.length === 12 && k.toLowerCase() === 'content-type') typed = true;
      if (headers === null) headers = [];
      if (Array.isArray(val)) {
        for (const x of val) headers.push([k, String(x)]);
      } else {
        headers.push([k, String(val)]);
      }
    }
  }
  if (Array.isArray(v.cookies) && v.cookies.length) {
    if (headers === null) headers = [];
    for (const c of v.cookies) headers.push(['Set-Cookie', cookieHeader(c)]);
  }
  let body = v.body;
  let type = 0;
  if (body === undefined || body === null) {
    body = null;
  } else if (typeof body === 'string') {
    type = 1;
  } else if (body instanceof Uint8Array) {
    type = 3;
  } else if (body instanceof ArrayBuffer) {
    body = new Uint8Array(body);
    type = 3;
  } else if (ArrayBuffer.isView(body)) {
    body = new Uint8Array(body.buffer, body.byteOffset, body.byteLength);
    type = 3;
  } else {
    // A function or a symbol has no JSON text (JSON.stringify gives
    // undefined): no body, as in Azure.
    body = JSON.stringify(body);
    if (body === undefined) body = null;
    else type = 2;
  }
  out.status = status;
  out.headers = headers;
  out.type = typed ? 0 : type;
  out.body = body;
  return out;
}

module.exports = { Request, Response, requestView, httpResult, TYPES };
