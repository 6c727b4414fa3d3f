"""Node.js apps (FUNCTIONS_WORKER_RUNTIME=node): Azure Functions v3-model
JavaScript functions served by the real host through the runtimes/node
worker shim. Requests (bodies read as Azure's v3 worker reads them, req.user),
responses ($return, context.res, context.bindings, context.done and its bad
patterns), binary bodies, entry points, ES modules, logs with their invocation id,
failures (throw, rejected promise, stray exception, syntax error while
loading), concurrency within one worker, functionTimeout, and the
examples/node-hello app.

Most tests share one production-mode host (JSON log lines carry the
invocation id) on an app with one worker, so they also show that a failure
never costs the worker. Nothing here measures time.
"""
import concurrent.futures
import json
import os
import re
import shutil
import subprocess
import time

import pytest

from conftest import ROOT, wait_for, write_app

UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
MASTER = "node-test-master-key-0123456789abcdefABCDEF"
SETTINGS = {"IsEncrypted": False, "Values": {"FUNCTIONS_WORKER_RUNTIME": "node"}}


def http_json(route=None, out="res", methods=None, data_type=None, entry=None, script=None):
    """function.json of an anonymous HTTP function."""
    trig = {"authLevel": "anonymous", "type": "httpTrigger", "direction": "in", "name": "req"}
    if route:
        trig["route"] = route
    if methods:
        trig["methods"] = methods
    if data_type:
        trig["dataType"] = data_type
    fj = {"bindings": [trig, {"type": "http", "direction": "out", "name": out}]}
    if entry:
        fj["entryPoint"] = entry
    if script:
        fj["scriptFile"] = script
    return fj


def host_json(timeout="00:05:00", max_instances=1):
    return {"version": "2.0", "functionTimeout": timeout,
            "stratus": {"scale": {"minInstances": 1, "maxInstances": max_instances}}}


# ---- the functions ------------------------------------------------------------------

ECHO_JS = r"""
module.exports = async function (context, req) {
  const b = req.body;
  context.res = {
    headers: { 'Content-Type': 'application/json' },
    body: {
      method: req.method, url: req.url, originalUrl: req.originalUrl,
      params: req.params, query: req.query,
      header: req.headers['x-test'], viaGet: req.get('X-Test'),
      lowerKeys: Object.keys(req.headers).every((k) => k === k.toLowerCase()),
      bodyType: Buffer.isBuffer(b) ? 'buffer' : typeof b,
      body: Buffer.isBuffer(b) ? b.toString('hex') : b,
      rawBody: req.rawBody === undefined ? null : req.rawBody,
      bufferLen: req.bufferBody ? req.bufferBody.length : null,
      sameReq: context.req === req && context.bindings.req.url === req.url,
      invocationId: context.invocationId,
      exec: context.executionContext,
      bdId: context.bindingData.id, bdQuery: context.bindingData.query,
      bdSys: Object.keys(context.bindingData.sys).sort(),
      bdMethod: context.bindingData.sys.methodName,
      bdInvocationId: context.bindingData.invocationId,
      traceparent: context.traceContext.traceparent,
      asJson: JSON.parse(JSON.stringify(req)).method,
    },
  };
};
"""

BINARY_JS = r"""
module.exports = async function (context, req) {
  if (!Buffer.isBuffer(req.body)) throw new Error('not a Buffer: ' + typeof req.body);
  context.res = { body: Buffer.from(req.body).reverse() };
};
"""

STATUS_JS = r"""
module.exports = async function (context, req) {
  context.res = {
    status: req.query.status || 201,
    headers: { 'X-One': 1, 'X-Many': ['a', 'b'], 'Content-Type': 'text/html; charset=utf-8' },
    cookies: [{ name: 'session', value: 'abc', path: '/', httpOnly: true, sameSite: 'Lax', maxAge: 60 }],
    body: '<b>created</b>',
  };
};
"""

# Every cookie attribute, in the shapes functions give them (a number or a
# numeric string for maxAge, a Date for expires).
COOKIE_JAR_JS = r"""
module.exports = async function (context, req) {
  context.res = {
    cookies: [
      { name: 'plain', value: 'one', maxAge: 3600 },
      { name: 'text-age', value: 'two', path: '/', maxAge: '7200' },
      { name: 'gone', value: 'three', maxAge: 0 },
      { name: 'lax', value: 'four', sameSite: 'Lax' },
      { name: 'strict', value: 'five', sameSite: 'strict' },
      { name: 'everything', value: 'six', expires: new Date(Date.UTC(2031, 4, 6, 7, 8, 9)),
        maxAge: 90.9, domain: 'example.org', path: '/api', secure: true, httpOnly: true,
        sameSite: 'None' },
    ],
  };
};
"""

# Not async and never calls context.done: res.json() ends the invocation.
FLUENT_JS = r"""
module.exports = function (context, req) {
  context.res.status(202).set('X-Fluent', 'yes').json({ fluent: true, name: req.query.name });
};
"""

RETURN_JS = r"""
module.exports = async function (context, req) {
  return { body: { hello: req.params.who || 'world' } };
};
"""

CALLBACK_JS = r"""
module.exports = function (context, req) {
  setTimeout(() => {
    if (req.query.mode === 'error') {
      context.done(new Error('done with an error'));
    } else {
      context.res = { body: 'called back ' + req.query.n };
      context.done();
    }
  }, 20);
};
"""

CALLBACK_RETURN_JS = r"""
module.exports = function (context, req) {
  process.nextTick(() => context.done(null, { status: 203, body: 'via done' }));
};
"""

BINDINGS_JS = r"""
module.exports = async function (context, req) {
  context.res = { body: 'from context.res' };
  context.bindings.res = { status: 200, body: 'from context.bindings' };
};
"""

EMPTY_JS = "module.exports = async function (context, req) {};\n"

ESM_JS = r"""
export default async function (context, req) {
  await new Promise((r) => setTimeout(r, 1));
  return { body: 'esm ' + import.meta.url.endsWith('/esm/index.mjs') };
}
"""

ESM_PKG_JS = r"""
export const version = 3;
export async function handler(context, req) {
  return { body: 'named export, ' + typeof require };
}
"""

LOGS_JS = r"""
module.exports = async function (context, req) {
  const m = req.query.m;
  context.log('ctx-info', m);
  context.log.warn('ctx-warn', m);
  context.log.error('ctx-error', m);
  await new Promise((r) => setTimeout(r, 5));
  console.log('console-after-await', m);
  console.warn('console-warn', m);
  context.res = { body: context.invocationId };
};
"""

# Line 12 throws: the error must name it.
THROWS_JS = r"""module.exports = function (context, req) {
  const how = req.query.how;
  if (how === 'reject') return Promise.reject(new TypeError('boom-rejected'));
  if (how === 'stray') {
    setTimeout(() => { throw new RangeError('boom-stray'); }, 1);
    return;
  }
  if (how === 'unhandled') {
    Promise.reject(new SyntaxError('boom-unhandled'));
    return;
  }
  throw new Error('boom-thrown');
};
"""

# A syntax error on line 3.
BROKEN_JS = """module.exports = async function (context, req) {
  const x = 1;
  return x +;
};
"""

BROKEN_ESM_JS = """export default async function (context) {
  let let = 2;
}
"""

# The first request waits (up to 20 s) for a second to arrive in the same
# worker: both answer "met" only if they ran at the same time.
MEET_JS = r"""
let waiting = null;
module.exports = async function (context, req) {
  if (waiting) {
    const w = waiting;
    waiting = null;
    w();
    return { body: 'second' };
  }
  const met = await new Promise((resolve) => {
    waiting = () => resolve(true);
    setTimeout(() => resolve(false), 20000);
  });
  return { body: met ? 'first-met' : 'first-alone' };
};
"""

HANG_JS = "module.exports = async function () { await new Promise(() => {}); };\n"
LOOP_JS = "module.exports = async function () { for (;;) {} };\n"
PID_JS = "module.exports = async function () { return { body: String(process.pid) }; };\n"
# Answers shaped by the query: the host remembers a worker's last plain
# result metadata, and must never give one answer another's status or headers.
ANSWER_JS = r"""
module.exports = async function (context, req) {
  const q = req.query;
  if (q.fail) throw new Error('asked to fail');
  const headers = { 'Content-Type': 'text/plain' };
  if (q.h !== undefined) headers['X-H'] = q.h;
  for (let i = 0; i < Number(q.extra || 0); i++) headers['X-Extra-' + i] = String(i);
  return { status: Number(q.s || 200), headers, body: 'answer ' + (q.b || '') };
};
"""

WHOAMI_JS = r"""
module.exports = async function (context, req) {
  return { body: { user: req.user, tracestate: context.traceContext.tracestate } };
};
"""

# A falsy returned value is no value: the response comes from context.res.
FALSY_JS = r"""
module.exports = async function (context, req) {
  context.res = { status: 202, body: 'from context.res' };
  return { null: null, empty: '', zero: 0, false: false }[req.query.k];
};
"""

DONE_FALSY_ERROR_JS = r"""
module.exports = function (context, req) {
  context.res = { body: 'not sent' };
  context.done({ false: false, zero: 0, empty: '' }[req.query.e]);
};
"""

# context.done in a function that returns a promise: a warning, unless the
# function sets suppressBadPatternError.
DONE_ASYNC_JS = r"""
module.exports = async function (context, req) {
  if (req.query.quiet) context.suppressBadPatternError = true;
  context.res = { body: 'done and returned' };
  context.done();
  context.done();
};
"""

# module.exports is a function: it runs, whatever entryPoint names.
MAIN_EXPORT_JS = r"""
module.exports = async function (context, req) { return { body: 'module.exports' }; };
module.exports.handler = async function (context, req) { return { body: 'handler' }; };
"""

# function.json lists a blob input before the trigger.
ARG_ORDER_JS = r"""
module.exports = async function (context, second, third) {
  return { body: {
    secondIsReq: second === context.req, third: third === undefined ? 'undefined' : third,
    inBindings: 'doc' in context.bindings,
  } };
};
"""

DEFS_JS = r"""
module.exports = async function (context, req) {
  return { body: { defs: context.bindingDefinitions, root: process.env.AzureWebJobsScriptRoot } };
};
"""

# context.log from a timer nobody awaited, after the invocation has ended.
LOG_LATE_JS = r"""
module.exports = async function (context, req) {
  setTimeout(() => context.log('late line', req.query.m), 30);
  return { body: 'ended' };
};
"""

TIMER_JS = r"""
module.exports = async function (context, myTimer) {
  context.log('timer value', JSON.stringify(myTimer), myTimer.isPastDue);
};
"""

# Several exports, no entryPoint: Azure runs `run` (then `index`).
ESM_RUN_JS = r"""
export default async function () { return { body: 'default' }; }
export async function run(context, req) { return { body: 'run' }; }
"""


# Strings cut inside a UTF-16 pair (text.slice through an emoji): a lone
# surrogate in an output, a log line and an error message.
SURROGATE_JS = r"""
module.exports = async function (context, req) {
  const cut = 'x\ud83d\ude00y'.slice(0, 2);
  if (req.query.k === 'throw') throw new Error('bad ' + cut + ' message');
  context.log('lone ' + cut + ' log');
  context.bindings.msg = 'q ' + cut + ' msg';
  context.res = { body: 'queued' };
};
"""

# Request names that Object.prototype also has.
PROTO_JS = r"""
module.exports = async function (context, req) {
  context.res = { body: { q: req.query, h: req.headers.constructor, g: req.get('tostring'),
                          own: Object.keys(req.query).sort(), missing: req.get('valueOf') === undefined } };
};
"""

# What cannot go on the wire as it is.
BAD_HEADERS_JS = r"""
module.exports = async function (context, req) {
  context.res = {
    headers: { 'X-Good': 'yes', 'X Space': '1', 'X-Tab\tName': '2', '(weird)': '3', 'X-\u00e9': '4',
               'X-Bell': 'a\u0007b' },
    cookies: [{ name: 'sid', value: 'abc; Domain=evil.example', sameSite: 'bogus' },
              { name: 'plain', value: 'a-b_c.d~e' }, { name: 'deep', value: '1', path: '/api/x' }],
    body: 'x',
  };
};
"""

THROW_AFTER_SEND_JS = r"""
module.exports = async function (context, req) {
  context.res.send('from send');
  if (req.query.ret) return { body: 'ignored' };
  throw new Error('after send');
};
"""

FN_BODY_JS = r"""
module.exports = async function (context, req) {
  return { body: req.query.s ? Symbol('x') : () => 1 };
};
"""

# context.bindingData of an HTTP trigger, without what changes every time.
HTTP_BINDING_DATA_JS = r"""
module.exports = async function (context, req) {
  const bd = Object.assign({}, context.bindingData);
  const kinds = { query: bd.query === req.query, headers: bd.headers === req.headers };
  delete bd.headers; delete bd.sys; delete bd.invocationId;
  if (kinds.query) delete bd.query;
  context.res = { body: { bd, kinds } };
};
"""

# What adapters such as azure-function-express do: copy context.bindings.req
# with Object.assign (here also spread and Object.keys), then use the copy.
COPIED_REQUEST_JS = r"""
module.exports = async function (context, req) {
  const copy = Object.assign({}, context.bindings.req);
  const view = context.bindings.req;
  view.extra = 'set through the view';
  context.res = { body: {
    method: copy.method, url: copy.url, originalUrl: copy.originalUrl, headers: copy.headers['x-a'],
    query: copy.query, params: copy.params, body: copy.body, rawBody: copy.rawBody,
    spread: Object.keys({ ...view }).filter((k) => k !== 'extra').sort(),
    own: Object.prototype.hasOwnProperty.call(view, 'method'), get: view.get('X-A'),
    json: JSON.parse(JSON.stringify(view)).method, extra: req.extra,
    form: typeof view.parseFormBody, user: view.user,
  } };
};
"""

BAD_COOKIE_JS = r"""
module.exports = async function (context, req) {
  context.res = { cookies: [{ name: 'a b;c', value: 'v' }], body: 'x' };
};
"""


# Outputs whose value looks like the protocol's bytes marker, or holds a
# Buffer inside an array, are written as Azure writes them: as JSON.
MARKER_JS = r"""
module.exports = async function (context, req) {
  context.bindings.q = { $binary: 'aGVsbG8=' };
  context.bindings.b = ['x', Buffer.from('b')];
  context.res = { body: 'written' };
};
"""

# A queue message's binding data: the message as a string, whatever its bytes.
QT_JS = r"""
module.exports = async function (context, msg) {
  context.bindings.report = JSON.stringify(context.bindingData.queueTrigger);
};
"""


def app_functions():
    return {
        "marker": {"function.json": {"bindings": http_json()["bindings"] + [
            {"type": "queue", "direction": "out", "name": "q", "queueName": "marker-out"},
            {"type": "blob", "direction": "out", "name": "b", "path": "marker/b.json"}]},
            "index.js": MARKER_JS},
        "qt": {"function.json": {"bindings": [
            {"type": "queueTrigger", "direction": "in", "name": "msg", "queueName": "bin-in"},
            {"type": "blob", "direction": "out", "name": "report", "path": "reports/qt.json"}]},
            "index.js": QT_JS},
        "surrogate": {"function.json": {"bindings": http_json()["bindings"] + [
            {"type": "queue", "direction": "out", "name": "msg", "queueName": "cut-text"}]},
            "index.js": SURROGATE_JS},
        "proto": {"function.json": http_json(), "index.js": PROTO_JS},
        "badheaders": {"function.json": http_json(), "index.js": BAD_HEADERS_JS},
        "throwaftersend": {"function.json": http_json(), "index.js": THROW_AFTER_SEND_JS},
        "fnbody": {"function.json": http_json(out="$return"), "index.js": FN_BODY_JS},
        "badcookie": {"function.json": http_json(), "index.js": BAD_COOKIE_JS},
        "echo": {"function.json": http_json(route="echo/{id}/{rest?}"), "index.js": ECHO_JS},
        "bd": {"function.json": http_json(route="bd/{id}/{Name?}"), "index.js": HTTP_BINDING_DATA_JS},
        "copied": {"function.json": http_json(route="copied/{id}"), "index.js": COPIED_REQUEST_JS},
        "binary": {"function.json": http_json(data_type="binary"), "index.js": BINARY_JS},
        "status": {"function.json": http_json(), "index.js": STATUS_JS},
        "cookiejar": {"function.json": http_json(), "index.js": COOKIE_JAR_JS},
        "fluent": {"function.json": http_json(), "index.js": FLUENT_JS},
        "ret": {"function.json": http_json(route="ret/{who?}", out="$return"), "index.js": RETURN_JS},
        "callback": {"function.json": http_json(), "index.js": CALLBACK_JS},
        "callbackret": {"function.json": http_json(out="$return"), "index.js": CALLBACK_RETURN_JS},
        "bindings": {"function.json": http_json(), "index.js": BINDINGS_JS},
        "empty": {"function.json": http_json(), "index.js": EMPTY_JS},
        "esm": {"function.json": http_json(out="$return"), "index.mjs": ESM_JS},
        "esmpkg": {"function.json": http_json(out="$return", entry="handler"),
                   "index.js": ESM_PKG_JS, "package.json": {"type": "module"}},
        "logs": {"function.json": http_json(), "index.js": LOGS_JS},
        "throws": {"function.json": http_json(), "index.js": THROWS_JS},
        "broken": {"function.json": http_json(), "index.js": BROKEN_JS},
        "brokenesm": {"function.json": http_json(), "index.mjs": BROKEN_ESM_JS},
        "meet": {"function.json": http_json(out="$return"), "index.js": MEET_JS},
        "pid": {"function.json": http_json(out="$return"), "index.js": PID_JS},
        "answer": {"function.json": http_json(out="$return"), "index.js": ANSWER_JS},
        "whoami": {"function.json": http_json(out="$return"), "index.js": WHOAMI_JS},
        "falsy": {"function.json": http_json(out="$return"), "index.js": FALSY_JS},
        "donefalsy": {"function.json": http_json(), "index.js": DONE_FALSY_ERROR_JS},
        "doneasync": {"function.json": http_json(), "index.js": DONE_ASYNC_JS},
        "mainexport": {"function.json": http_json(out="$return", entry="handler"),
                       "index.js": MAIN_EXPORT_JS},
        "argorder": {"function.json": {"bindings": [
            {"type": "blob", "direction": "in", "name": "doc", "path": "docs/{name}.txt",
             "dataType": "string"}] + http_json(route="argorder/{name}", out="$return")["bindings"]},
            "index.js": ARG_ORDER_JS},
        "esmrun": {"function.json": http_json(out="$return"), "index.mjs": ESM_RUN_JS},
        "yearly": {"function.json": {"bindings": [
            {"type": "timerTrigger", "direction": "in", "name": "myTimer",
             "schedule": "0 0 0 1 1 *"}]}, "index.js": TIMER_JS},
        "loglate": {"function.json": http_json(out="$return"), "index.js": LOG_LATE_JS},
        "defs": {"function.json": {"bindings": [
            dict(http_json()["bindings"][0], direction="IN"),
            {"type": "http", "direction": "Out", "name": "$return"}]}, "index.js": DEFS_JS},
    }


@pytest.fixture(scope="module")
def host(module_hosts):
    app = write_app(module_hosts.workdir + "/app", app_functions(), host=host_json(),
                    settings=SETTINGS)
    return module_hosts.start(app, mode="host", env={"STRATUS_MASTER_KEY": MASTER})


def admin(h, path):
    r = h.get(path, headers={"x-functions-key": MASTER})
    assert r.status == 200, r.text
    return r.json()


def log_entries(h):
    out = []
    for ln in h.log().splitlines():
        if ln.startswith("{"):
            try:
                out.append(json.loads(ln))
            except ValueError:
                pass
    return out


def log_entry(h, pred, timeout=15):
    entry = wait_for(lambda: next((e for e in log_entries(h) if pred(e)), None), timeout=timeout)
    assert entry, "no such log entry:\n" + h.log()[-4000:]
    return entry


def text(e):
    """A log entry's message and, for a failed invocation, its reason."""
    return e.get("message", "") + "\n" + e.get("reason", "")


def failure_id(r):
    m = UUID_RE.search(r.text)
    assert m, r.text
    return m.group(0)


# ---- requests -----------------------------------------------------------------------

def test_a_lone_surrogate_becomes_u_fffd_in_outputs_logs_and_errors(host):
    r = host.get("/api/surrogate")
    assert r.status == 200 and r.text == "queued", r.text
    st = host.get("/admin/queues/cut-text/messages?peek=1", headers={"x-functions-key": MASTER})
    assert st.status == 200, st.text
    assert st.json()["messages"][0]["body"] == "q x\ufffd msg"
    e = log_entry(host, lambda e: "lone x" in e.get("message", ""))
    assert e["message"] == "lone x\ufffd log" and e.get("invocationId"), e
    r = host.get("/api/surrogate?k=throw")
    assert r.status == 500
    inv = failure_id(r)
    e = log_entry(host, lambda e: e.get("invocationId") == inv and "bad x" in text(e))
    assert "bad x\ufffd message" in text(e) and "index.js" in text(e), e


def test_request_names_that_object_prototype_has(host):
    r = host.get("/api/proto?toString=y&valueOf=1&valueOf=2&hasOwnProperty=3&__proto__=p",
                 headers={"Constructor": "c", "ToString": "t"})
    assert r.status == 200, r.text
    b = r.json()
    assert b["q"] == {"toString": "y", "valueOf": "1,2", "hasOwnProperty": "3", "__proto__": "p"}
    assert b["own"] == ["__proto__", "hasOwnProperty", "toString", "valueOf"]
    assert b["h"] == "c" and b["g"] == "t" and b["missing"] is True


def test_headers_that_cannot_be_sent_are_left_out_with_a_warning(host):
    r = host.get("/api/badheaders")
    assert r.status == 200 and r.text == "x", r.text
    names = [k for k, v in r.headers]
    assert "X-Good" in names
    assert not [n for n in names if n.startswith(("X ", "X-Tab", "(", "X-\u00c3", "X-Bell"))], names
    for shown in ("X Space", "X-Tab?Name", "(weird)", "X-Bell"):
        e = log_entry(host, lambda e: "'%s'" % shown in e.get("message", ""))
        assert "is left out" in e["message"] and "badheaders" in e["message"], e
    # Cookie values are escaped as Azure's host does; a bad SameSite sets none; a
    # cookie without a path is for the whole site (ASP.NET Core's default, '/').
    cookies = [v for k, v in r.headers if k.lower() == "set-cookie"]
    assert cookies == ["sid=abc%3B%20Domain%3Devil.example; path=/", "plain=a-b_c.d~e; path=/",
                       "deep=1; path=/api/x"], cookies


def test_a_cookie_name_that_is_not_a_token_fails_with_a_clear_error(host):
    r = host.get("/api/badcookie")
    assert r.status == 500
    inv = failure_id(r)
    e = log_entry(host, lambda e: e.get("invocationId") == inv and "cookie name" in text(e))
    assert "'a b;c' is not a token" in text(e), e


def test_a_failure_after_send_is_logged_and_a_late_value_warned_about(host):
    r = host.get("/api/throwaftersend")
    assert r.status == 200 and r.text == "from send", r.text
    e = log_entry(host, lambda e: "after send" in text(e) and "failed after" in text(e))
    assert "index.js" in text(e) and e["level"] == "error", e
    r = host.get("/api/throwaftersend?ret=1")
    assert r.status == 200 and r.text == "from send"
    e = log_entry(host, lambda e: "value is ignored" in text(e))
    assert e["level"] == "warning" and e["category"] == "Function.throwaftersend.User", e


def test_a_function_or_symbol_body_is_an_empty_body(host):
    for q in ("", "?s=1"):
        r = host.get("/api/fnbody" + q)
        assert r.status == 200 and r.body == b"", (r.status, r.text)


def test_outputs_shaped_like_the_bytes_marker_are_written_as_json(host):
    r = host.get("/api/marker")
    assert r.status == 200 and r.text == "written", r.text
    st = host.get("/admin/queues/marker-out/messages?peek=1", headers={"x-functions-key": MASTER})
    assert json.loads(st.json()["messages"][0]["body"]) == {"$binary": "aGVsbG8="}
    blob = os.path.join(host.app, ".stratus", "blobs", "marker", "b.json")
    assert wait_for(lambda: os.path.exists(blob), timeout=10)
    with open(blob, "rb") as f:
        assert json.loads(f.read()) == ["x", {"type": "Buffer", "data": [98]}]


def test_binding_data_of_a_message_that_is_not_utf8_is_a_string(host):
    st = host.request("POST", "/admin/queues/bin-in/messages", body=b"\xff\xfeabc",
                      headers={"x-functions-key": MASTER})
    assert st.status == 201, st.text
    report = os.path.join(host.app, ".stratus", "blobs", "reports", "qt.json")
    assert wait_for(lambda: os.path.exists(report) and os.path.getsize(report), timeout=20), \
        host.log()[-3000:]
    with open(report, "rb") as f:
        assert json.loads(f.read()) == "\ufffd\ufffdabc"


def test_route_params_query_headers_and_json_body(host):
    r = host.post("/api/echo/42/more?x=1&name=Ada%20L&x=2&flag&e=",
                  body=b'{"greeting": "hi", "n": [1, 2]}',
                  headers={"X-Test": "yes", "Content-Type": "application/json"})
    assert r.status == 200, r.text
    assert r.header("Content-Type").startswith("application/json")
    j = r.json()
    assert j["method"] == "POST"
    assert j["url"].endswith("/api/echo/42/more?x=1&name=Ada%20L&x=2&flag&e="), j["url"]
    assert j["originalUrl"] == j["url"]
    assert j["params"] == {"id": "42", "rest": "more"}
    # A name without a value is there as '', as Azure's Node.js worker gets it (the
    # worker's end-to-end app reads query.emptyStringInput of "?emptyStringInput=").
    assert j["query"] == {"x": "1,2", "name": "Ada L", "flag": "", "e": ""}, j["query"]
    assert j["header"] == "yes" and j["viaGet"] == "yes" and j["lowerKeys"]
    assert j["bodyType"] == "object" and j["body"] == {"greeting": "hi", "n": [1, 2]}
    assert j["rawBody"] == '{"greeting": "hi", "n": [1, 2]}'
    assert j["bufferLen"] == len(b'{"greeting": "hi", "n": [1, 2]}')
    assert j["sameReq"] is True
    assert UUID_RE.fullmatch(j["invocationId"])
    assert j["exec"]["invocationId"] == j["invocationId"]
    assert j["exec"]["functionName"] == "echo"
    assert j["exec"]["functionDirectory"].endswith("/echo")
    assert j["bdId"] == 42 and j["bdQuery"] == j["query"]  # binding data text is parsed as JSON
    assert j["bdSys"] == ["methodName", "randGuid", "utcNow"] and j["bdMethod"] == "echo"
    assert j["bdInvocationId"] == j["invocationId"]
    assert j["asJson"] == "POST"


def test_http_binding_data_has_body_properties_query_and_route_parameters(host):
    # As Azure's host makes it: a JSON body's top-level properties, then the query
    # parameters (not the key, code), then the route parameters, later ones winning;
    # first letters lower-cased; text parsed as JSON as the Node.js worker does.
    body = {"Name": "body", "n": 5, "s": "42", "ok": True, "nested": {"Id": 1},
            "list": [1, "a"], "gone": None, "x": "from body"}
    r = host.post("/api/bd/42?Other=a&x=7&code=secret&flag&id=1",
                  body=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    assert r.status == 200, r.text
    j = r.json()
    assert j["kinds"] == {"query": True, "headers": True}, j
    assert j["bd"] == {"name": "body", "n": 5, "s": 42, "ok": "True", "nested": {"id": 1},
                       "list": [1, "a"], "x": 7, "other": "a", "flag": "", "id": 42}, j["bd"]
    # A route parameter wins over the same name elsewhere; "007" is not JSON, so text;
    # a query parameter named query is what context.bindingData.query holds.
    r = host.get("/api/bd/007/Zed?name=q&query=text")
    assert r.json()["bd"] == {"id": "007", "name": "Zed", "query": "text"}, r.text
    r = host.post("/api/bd/1", body=b"[1, 2]", headers={"Content-Type": "application/json"})
    assert r.json()["bd"] == {"id": 1}, r.text


def test_a_copy_of_context_bindings_req_has_the_request_fields(host):
    # As in Azure, whose requests have their fields as own properties, so that
    # azure-function-express (Express in a function) sees method, URL and body.
    r = host.post("/api/copied/7?q=1", body=b'{"k": 1}',
                  headers={"Content-Type": "application/json", "X-A": "b"})
    assert r.status == 200, r.text
    j = r.json()
    assert j["method"] == "POST" and j["url"].endswith("/api/copied/7?q=1"), j
    assert j["originalUrl"] == j["url"] and j["headers"] == "b" and j["get"] == "b", j
    assert j["query"] == {"q": "1"} and j["params"] == {"id": "7"}, j
    assert j["body"] == {"k": 1} and j["rawBody"] == '{"k": 1}', j
    assert j["spread"] == sorted(["method", "url", "originalUrl", "headers", "query", "params",
                                  "body", "rawBody", "bufferBody"]), j
    assert j["own"] is True and j["json"] == "POST" and j["form"] == "function", j
    assert j["extra"] == "set through the view" and j["user"] is None, j


def test_optional_param_absent_and_text_body(host):
    r = host.post("/api/echo/7", body=b"plain words", headers={"Content-Type": "text/plain"})
    assert r.status == 200, r.text
    j = r.json()
    assert j["params"] == {"id": "7"}
    assert j["bodyType"] == "string" and j["body"] == "plain words"
    r = host.get("/api/echo/7")
    j = r.json()
    assert j["bodyType"] == "undefined" and j["rawBody"] is None and j["bufferLen"] is None


def test_a_text_body_that_is_json_is_parsed_whatever_its_content_type(host):
    """As Azure's v3 worker: any body but octet-stream and multipart is
    text, parsed as JSON when it is JSON (curl -d sends a form type)."""
    for ctype, data, want in [
            ("application/x-www-form-urlencoded", b'{"name": "Ada"}', {"name": "Ada"}),
            ("text/plain", b"42", 42), ("text/plain", b' [1, "two"]', [1, "two"]),
            (None, b'"quoted"', "quoted"), ("application/json", b"{not json", "{not json"),
            ("text/plain", b"true story", "true story")]:
        headers = {"Content-Type": ctype} if ctype else {}
        r = host.post("/api/echo/1", body=data, headers=headers)
        assert r.status == 200, r.text
        j = r.json()
        assert j["body"] == want, (ctype, data, j)
        assert j["rawBody"] == data.decode(), (ctype, data, j)
        assert j["bufferLen"] == len(data)


def test_a_body_is_read_in_the_encoding_its_byte_order_mark_names(host):
    for data, want in [(b"\xef\xbb\xbf" + b'{"bom": "utf-8"}', {"bom": "utf-8"}),
                       ("\ufeff[\"\u00e9t\u00e9\"]".encode("utf-16-le"), ["\u00e9t\u00e9"]),
                       ("\ufeffhi \u00e9".encode("utf-16-be"), "hi \u00e9"),
                       ("\ufeff\"\U0001F600\"".encode("utf-32-le"), "\U0001F600")]:
        r = host.post("/api/echo/1", body=data, headers={"Content-Type": "text/plain"})
        assert r.status == 200, r.text
        assert r.json()["body"] == want, (data, r.text)


def principal(obj):
    import base64
    return base64.b64encode(json.dumps(obj).encode()).decode()


def test_a_clients_own_client_principal_headers_are_dropped(host):
    """Only a front end that sets them (and strips a client's) may be
    believed: by default the host drops them, so a client cannot sign
    itself in."""
    r = host.get("/api/whoami", headers={
        "X-MS-CLIENT-PRINCIPAL": principal({"userId": "u-1", "userDetails": "admin"}),
        "X-MS-CLIENT-PRINCIPAL-NAME": "admin@corp", "x-ms-client-principal-id": "oid-1",
        "X-MS-TOKEN-AAD-ID-TOKEN": "forged"})
    assert r.status == 200 and r.json()["user"] is None, r.text


def test_req_user_from_the_client_principal_headers(make_app, start_host):
    import base64
    h = host_json()
    h["stratus"]["http"] = {"trustIdentityHeaders": True}
    host = start_host(make_app(app_functions(), host=h, settings=SETTINGS))
    r = host.get("/api/whoami")
    assert r.json() == {"user": None, "tracestate": ""}, r.text
    claims = {"userId": "u-1", "userDetails": "ada", "identityProvider": "github",
              "userRoles": ["anonymous", "authenticated"]}
    r = host.get("/api/whoami", headers={"X-MS-CLIENT-PRINCIPAL": principal(claims)})
    assert r.json()["user"] == {"type": "StaticWebApps", "id": "u-1", "username": "ada",
                                "identityProvider": "github", "claimsPrincipalData": claims}
    claims = {"auth_typ": "aad", "claims": [{"typ": "name", "val": "Ada"}]}
    r = host.get("/api/whoami", headers={
        "X-MS-CLIENT-PRINCIPAL": principal(claims), "X-MS-CLIENT-PRINCIPAL-ID": "oid-7",
        "X-MS-CLIENT-PRINCIPAL-NAME": "ada@example.com", "X-MS-CLIENT-PRINCIPAL-IDP": "aad",
        "tracestate": "k=v"})
    assert r.json() == {"user": {"type": "AppService", "id": "oid-7", "username": "ada@example.com",
                                 "identityProvider": "aad", "claimsPrincipalData": claims},
                        "tracestate": "k=v"}, r.text
    # A header that is not base64 JSON is no user, not a failed invocation.
    for bad in ("not base64!", base64.b64encode(b"{oops").decode(), base64.b64encode(b"7").decode()):
        r = host.get("/api/whoami", headers={"X-MS-CLIENT-PRINCIPAL": bad})
        assert r.status == 200 and r.json()["user"] is None, (bad, r.text)


def test_binary_bodies_both_ways(host):
    data = bytes([0, 255, 254, 128, 1]) + b"abc\x00\xc3"
    r = host.post("/api/binary", body=data, headers={"Content-Type": "image/png"})
    assert r.status == 200, r.text
    assert r.body == data[::-1]
    assert r.header("Content-Type") == "application/octet-stream"
    # application/octet-stream arrives as a Buffer even without dataType binary
    r = host.post("/api/echo/1", body=data, headers={"Content-Type": "application/octet-stream"})
    j = r.json()
    assert j["bodyType"] == "buffer" and j["body"] == data.hex()


def test_status_headers_and_cookies(host):
    r = host.get("/api/status")
    assert r.status == 201, r.text
    assert r.text == "<b>created</b>"
    assert r.header("Content-Type") == "text/html; charset=utf-8"
    assert r.header("X-One") == "1"
    assert [v for k, v in r.headers if k.lower() == "x-many"] == ["a", "b"]
    assert r.header("Set-Cookie") == "session=abc; max-age=60; path=/; samesite=lax; httponly"
    assert host.get("/api/status?status=418").status == 418


def test_cookies_are_written_as_azures_host_writes_them(host):
    # Attribute names in lower case, in the order ASP.NET Core writes them
    # (expires, max-age, domain, path, secure, samesite, httponly), so that
    # clients and tests comparing Set-Cookie lines see the same text.
    r = host.get("/api/cookiejar")
    assert r.status == 200, r.text
    assert [v for k, v in r.headers if k.lower() == "set-cookie"] == [
        "plain=one; max-age=3600; path=/",
        "text-age=two; max-age=7200; path=/",
        "gone=three; max-age=0; path=/",
        "lax=four; path=/; samesite=lax",
        "strict=five; path=/; samesite=strict",
        "everything=six; expires=Tue, 06 May 2031 07:08:09 GMT; max-age=90; domain=example.org; "
        "path=/api; secure; samesite=none; httponly",
    ]


def test_repeated_and_changing_answers_keep_their_own_status_and_headers(host):
    from urllib.parse import quote
    steps = [
        ({"h": "a"}, 200), ({"h": "a"}, 200), ({"h": "a", "s": "201"}, 201),
        ({"h": "b"}, 200), ({"h": "a"}, 200), ({}, 200), ({}, 200),
        ({"h": 'q"\\/\u00e9'}, 200), ({"h": 'q"\\/\u00e9'}, 200),
        ({"h": "a", "extra": "5"}, 200), ({"h": "a", "extra": "5"}, 200),
        ({"fail": "1"}, 500), ({"h": "a"}, 200), ({"h": "a", "s": "404"}, 404),
        ({"h": "a", "s": "404"}, 404), ({"h": "a"}, 200),
    ]
    for i, (q, status) in enumerate(steps):
        q = dict(q, b=str(i))
        r = host.get("/api/answer?" + "&".join(k + "=" + quote(v) for k, v in q.items()))
        assert r.status == status, (i, q, r.status, r.text)
        if status == 500:
            continue
        assert r.text == "answer %d" % i, (i, r.text)
        assert r.header("Content-Type") == "text/plain", (i, r.headers)
        if "h" in q:
            assert r.header("X-H").encode("latin-1").decode("utf-8") == q["h"], (i, r.headers)
        else:
            assert r.header("X-H") is None, (i, r.headers)
        extras = sorted(k.lower() for k, _ in r.headers if k.lower().startswith("x-extra-"))
        assert extras == ["x-extra-%d" % k for k in range(int(q.get("extra", 0)))], (i, r.headers)


def test_context_res_fluent_methods_end_a_sync_function(host):
    r = host.get("/api/fluent?name=Ann")
    assert r.status == 202, r.text
    assert r.header("X-Fluent") == "yes"
    assert r.header("Content-Type").startswith("application/json")
    assert r.json() == {"fluent": True, "name": "Ann"}


def test_return_value_feeds_dollar_return(host):
    r = host.get("/api/ret/Bo")
    assert r.status == 200, r.text
    assert r.header("Content-Type") == "application/json; charset=utf-8"
    assert r.json() == {"hello": "Bo"}
    assert host.get("/api/ret").json() == {"hello": "world"}


def test_context_done_callback_style(host):
    r = host.get("/api/callback?n=5")
    assert r.status == 200 and r.text == "called back 5", r.text
    assert r.header("Content-Type") == "text/plain; charset=utf-8"
    r = host.get("/api/callbackret")
    assert r.status == 203 and r.text == "via done", r.text
    r = host.get("/api/callback?mode=error")
    assert r.status == 500
    inv = failure_id(r)
    log_entry(host, lambda e: e.get("invocationId") == inv and "done with an error" in text(e))


def test_a_falsy_return_value_counts_as_none(host):
    for k in ("null", "empty", "zero", "false"):
        r = host.get("/api/falsy?k=" + k)
        assert r.status == 202 and r.text == "from context.res", (k, r.status, r.text)


def test_context_done_with_a_falsy_error_fails(host):
    for e in ("false", "zero", "empty"):
        r = host.get("/api/donefalsy?e=" + e)
        assert r.status == 500, (e, r.status, r.text)


def test_bad_done_patterns_warn_unless_suppressed(host):
    r = host.get("/api/doneasync?quiet=1")
    assert r.status == 200 and r.text == "done and returned", r.text
    r = host.get("/api/doneasync")
    assert r.status == 200 and r.text == "done and returned", r.text
    def warnings():
        return [e for e in log_entries(host) if e.get("category") == "Function.doneasync.User"
                and "'done'" in e.get("message", "")]

    assert wait_for(lambda: len(warnings()) >= 2), host.log()[-3000:]
    time.sleep(0.3)
    # Azure's messages, at Azure's level.
    got = sorted((e["level"], e["message"]) for e in warnings())
    assert got == [
        ("error", "Error: 'done' has already been called. Please check your script for "
                  "extraneous calls to 'done'."),
        ("error", "Error: Choose either to return a promise or call 'done'. Do not use both in "
                  "your script. Learn more: https://go.microsoft.com/fwlink/?linkid=2097909")], got


def test_entry_point_rules_of_azure(host):
    r = host.get("/api/mainexport")
    assert r.status == 200 and r.text == "module.exports", r.text
    r = host.get("/api/esmrun")
    assert r.status == 200 and r.text == "run", r.text


def test_the_trigger_comes_first_and_a_missing_blob_input_is_undefined(host):
    docs = os.path.join(host.app, ".stratus", "blobs", "docs")
    os.makedirs(docs, exist_ok=True)
    with open(os.path.join(docs, "a.txt"), "w") as f:
        f.write("the doc")
    r = host.get("/api/argorder/a")
    assert r.status == 200, r.text
    assert r.json() == {"secondIsReq": True, "third": "the doc", "inBindings": True}, r.text
    r = host.get("/api/argorder/none")
    assert r.status == 200, r.text
    assert r.json() == {"secondIsReq": True, "third": "undefined", "inBindings": True}, r.text


def test_binding_definitions_and_the_script_root_setting(host):
    r = host.get("/api/defs")
    assert r.status == 200, r.text
    assert r.json() == {"defs": [{"name": "req", "type": "httpTrigger", "direction": "in"},
                                 {"name": "$return", "type": "http", "direction": "out"}],
                        "root": host.app}, r.text


def test_a_timer_function_run_by_hand_gets_a_timer_info(host):
    """Run through the admin API with any input (the portal sends ""),
    a timer function still gets a TimerInfo, as in Azure."""
    r = host.post("/admin/functions/yearly", body=b'{"input": ""}',
                  headers={"x-functions-key": MASTER, "Content-Type": "application/json"})
    assert r.status == 202, r.text
    e = log_entry(host, lambda e: e.get("message", "").startswith("timer value "))
    assert e["message"] == ('timer value {"schedule":{"adjustForDST":true},'
                            '"scheduleStatus":null,"isPastDue":false} false'), e


def test_context_bindings_output_wins_over_context_res(host):
    r = host.get("/api/bindings")
    assert r.status == 200 and r.text == "from context.bindings", r.text


def test_nothing_set_is_200_with_an_empty_body(host):
    r = host.get("/api/empty")
    assert r.status == 200 and r.body == b"", (r.status, r.body)


def test_es_modules(host):
    r = host.get("/api/esm")
    assert r.status == 200 and r.text == "esm true", r.text
    r = host.get("/api/esmpkg")
    assert r.status == 200 and r.text == "named export, undefined", r.text


# ---- logs ---------------------------------------------------------------------------

def test_context_log_and_console_reach_the_host_log(host):
    # The worker's first console line may be its own, not the invocation's,
    # when invocations have ended before (see the tests of first lines
    # below): a first request uses console, the second one is looked at.
    assert host.get("/api/logs?m=mk0").status == 200
    r = host.get("/api/logs?m=mk1")
    assert r.status == 200, r.text
    inv = r.text
    assert UUID_RE.fullmatch(inv), inv
    want = {"ctx-info mk1": "info", "ctx-warn mk1": "warning", "ctx-error mk1": "error",
            "console-after-await mk1": "info", "console-warn mk1": "warning"}
    for msg, level in want.items():
        e = log_entry(host, lambda e, msg=msg: e.get("message") == msg)
        assert e.get("invocationId") == inv, e
        assert e.get("level") == level, e
        assert e.get("category") == "Function.logs.User", e


def test_context_log_after_the_end_comes_with_azures_warning(host):
    r = host.get("/api/loglate?m=lt1")
    assert r.status == 200 and r.text == "ended", r.text
    log_entry(host, lambda e: e.get("message") == "late line lt1")
    e = log_entry(host, lambda e: "Unexpected call to 'log' on the context object" in
                  e.get("message", "") and "Function name: loglate." in e.get("message", ""))
    # Azure's words exactly, which log queries and alerts look for.
    m = re.fullmatch(r"Warning: Unexpected call to 'log' on the context object after function "
                     r"execution has completed\. Please check for asynchronous calls that are not "
                     r"awaited or calls to 'done' made before function execution completes\. "
                     r"Function name: loglate\. Invocation Id: (\S+)\. Learn more: "
                     r"https://go\.microsoft\.com/fwlink/\?linkid=2097909", e["message"])
    assert m and UUID_RE.fullmatch(m.group(1)), e
    assert e.get("level") == "warning" and e.get("category") == "Function.loglate.User", e


def test_logs_of_overlapping_invocations_keep_their_ids(host):
    # The worker ties console output to invocations exactly once function
    # code has used console (first_console_lines... below shows the start).
    assert host.get("/api/logs?m=first").status == 200
    with concurrent.futures.ThreadPoolExecutor(8) as ex:
        rs = list(ex.map(lambda i: host.get("/api/logs?m=par%d" % i, timeout=30), range(8)))
    for i, r in enumerate(rs):
        assert r.status == 200, r.text
        e = log_entry(host, lambda e, i=i: e.get("message") == "console-after-await par%d" % i)
        assert e.get("invocationId") == r.text, (e, r.text)


STRAY_LATER_JS = r"""
module.exports = async function (context, req) {
  await new Promise((r) => setTimeout(r, 300));
  const t = req.query.throw;
  if (t) setTimeout(() => { throw new RangeError('boom-' + t); }, 0);
  await new Promise((r) => setTimeout(r, 700));
  return { body: 'done' };
};
"""


# Logs after waiting d ms: the last started logs first.
LOG_LATER_JS = r"""
module.exports = async function (context, req) {
  await new Promise((r) => setTimeout(r, Number(req.query.d)));
  console.log('console-after-await', req.query.m);
  context.res = { body: context.invocationId };
};
"""


def fresh_host(make_app, start_host, functions):
    app = make_app(functions, host=host_json(), settings=SETTINGS)
    return start_host(app, mode="host", env={"STRATUS_MASTER_KEY": MASTER})


def test_first_console_lines_of_concurrent_invocations_are_never_misattributed(
        make_app, start_host):
    """A worker turns on exact tracking (an AsyncLocalStorage) when function
    code first uses console. Lines of invocations that started before may
    be the worker's, never another invocation's; later ones carry their own."""
    h = fresh_host(make_app, start_host, {"logs": {"function.json": http_json(),
                                                   "index.js": LOG_LATER_JS}})
    for rnd in ("a", "b"):
        with concurrent.futures.ThreadPoolExecutor(8) as ex:
            rs = list(ex.map(lambda i: h.get("/api/logs?m=%s%d&d=%d" % (rnd, i, 50 * (8 - i)),
                                             timeout=30), range(8)))
        for i, r in enumerate(rs):
            assert r.status == 200, r.text
            e = log_entry(h, lambda e, i=i: e.get("message") == "console-after-await %s%d" % (rnd, i))
            if rnd == "b":
                assert e.get("invocationId") == r.text, (e, r.text)
            else:
                assert e.get("invocationId") in (None, r.text), (e, r.text)


LATE_CONSOLE_JS = r"""
module.exports = async function (context, req) {
  while (!global.waiterIn) await new Promise((r) => setTimeout(r, 5));
  setTimeout(() => {
    console.log('late-console-line');
    global.lateLogged = true;
  }, 20);
  context.res = { body: context.invocationId };
};
"""

WAITER_JS = r"""
module.exports = async function (context, req) {
  global.waiterIn = true;
  while (!global.lateLogged) await new Promise((r) => setTimeout(r, 5));
  context.res = { body: context.invocationId };
};
"""


def test_a_line_logged_after_its_invocation_ended_is_never_anothers(make_app, start_host):
    """Before the worker tracks invocations, a console line from a timer of
    an invocation that has ended comes while another one is the only one
    in flight: it may be the worker's line, never the other invocation's."""
    h = fresh_host(make_app, start_host, {
        "late": {"function.json": http_json(), "index.js": LATE_CONSOLE_JS},
        "waiter": {"function.json": http_json(), "index.js": WAITER_JS}})
    with concurrent.futures.ThreadPoolExecutor(2) as ex:
        waiter = ex.submit(h.get, "/api/waiter", timeout=30)
        late = ex.submit(h.get, "/api/late", timeout=30)
        rw, rl = waiter.result(), late.result()
    assert rw.status == 200 and rl.status == 200, (rw.text, rl.text)
    e = log_entry(h, lambda e: e.get("message") == "late-console-line")
    assert e.get("invocationId") in (None, rl.text), (e, rl.text, rw.text)
    assert e.get("category") != "Function.waiter.User", e


def test_a_stray_error_among_untracked_invocations_fails_them_then_only_its_own(
        make_app, start_host):
    """Before any console use, an uncaught error with several invocations in
    flight cannot be tied to one: all of them fail (as Azure's worker ends).
    From then on the worker tracks invocations and only the culprit fails."""
    h = fresh_host(make_app, start_host, {
        "stray": {"function.json": http_json(out="$return"), "index.js": STRAY_LATER_JS},
        "pid": {"function.json": http_json(out="$return"), "index.js": PID_JS}})
    pid = h.get("/api/pid", timeout=30).text
    with concurrent.futures.ThreadPoolExecutor(2) as ex:
        a = ex.submit(h.get, "/api/stray?throw=first", timeout=30)
        time.sleep(0.05)
        b = ex.submit(h.get, "/api/stray", timeout=30)
        ra, rb = a.result(), b.result()
    assert ra.status == 500 and rb.status == 500, (ra.status, ra.text, rb.status, rb.text)
    e = log_entry(h, lambda e: "boom-first" in text(e) and "all of them fail" in text(e))
    assert e.get("category") == "Worker", e
    for r in (ra, rb):
        fid = failure_id(r)
        log_entry(h, lambda e, fid=fid: e.get("invocationId") == fid and "boom-first" in text(e))
    with concurrent.futures.ThreadPoolExecutor(2) as ex:
        a = ex.submit(h.get, "/api/stray?throw=second", timeout=30)
        time.sleep(0.05)
        b = ex.submit(h.get, "/api/stray", timeout=30)
        ra, rb = a.result(), b.result()
    assert ra.status == 500, (ra.status, ra.text)
    assert rb.status == 200 and rb.text == "done", (rb.status, rb.text)
    fid = failure_id(ra)
    log_entry(h, lambda e: e.get("invocationId") == fid and "RangeError: boom-second" in text(e))
    assert h.get("/api/pid", timeout=30).text == pid  # the worker never ended


# ---- failures -----------------------------------------------------------------------

@pytest.mark.parametrize("how,needle", [("throw", "Error: boom-thrown"),
                                        ("reject", "TypeError: boom-rejected"),
                                        ("stray", "RangeError: boom-stray"),
                                        ("unhandled", "SyntaxError: boom-unhandled")])
def test_exception_is_500_with_invocation_id_and_worker_survives(host, how, needle):
    pid = host.get("/api/pid").text
    r = host.get("/api/throws?how=" + how, timeout=30)
    assert r.status == 500, r.text
    inv = failure_id(r)
    assert "boom" not in r.text and "index.js" not in r.text  # the error is for the log only
    e = log_entry(host, lambda e: e.get("invocationId") == inv and needle in text(e))
    if how == "throw":
        assert "throws/index.js:12" in text(e), e
    r = host.get("/api/echo/1")
    assert r.status == 200, r.text
    assert host.get("/api/pid").text == pid


def test_syntax_error_names_file_and_line_and_others_serve(host):
    errors = admin(host, "/admin/host/status")["errors"]
    broken = [e for e in errors if "broken" in e and "brokenesm" not in e]
    assert broken, errors
    assert "SyntaxError" in broken[0] and "broken/index.js:3" in broken[0], broken
    esm = [e for e in errors if "brokenesm" in e]
    assert esm and "SyntaxError" in esm[0] and "brokenesm/index.mjs:2" in esm[0], esm
    assert "broken/index.js:3" in host.log()
    assert host.get("/api/broken").status in (404, 500)
    assert host.get("/api/echo/1").status == 200
    assert host.get("/api/ret").status == 200


def test_a_package_that_is_only_es_modules_is_named_when_required(make_app, start_host):
    """require() of an ES-module-only package (node-fetch 3, say) fails on a
    Node.js without require(esm): the error names that package's file, and
    does not tell the user to turn their own CommonJS file into a module."""
    flag = "--no-experimental-require-module"
    knows = subprocess.run(["node", flag, "-e", "0"], capture_output=True).returncode == 0
    values = {"FUNCTIONS_WORKER_RUNTIME": "node"}
    if knows:
        values["languageWorkers__node__arguments"] = flag
    app = make_app(
        {"usesesm": {"function.json": http_json(),
                     "index.js": "const f = require('esm-only');\n"
                                 "module.exports = async function (context) { context.res = { body: 'x' }; };\n"},
         "fine": {"function.json": http_json(), "index.js": EMPTY_JS}},
        settings={"IsEncrypted": False, "Values": values},
        files={"node_modules/esm-only/package.json": json.dumps(
                   {"name": "esm-only", "type": "module", "exports": "./index.js"}),
               "node_modules/esm-only/index.js": "export default function f() {}\n"})
    h = start_host(app)
    assert h.get("/api/fine").status == 200
    errors = [e for e in admin(h, "/admin/host/status")["errors"] if "usesesm" in e]
    assert errors, admin(h, "/admin/host/status")
    assert "node_modules/esm-only/index.js" in errors[0], errors
    assert "loaded as CommonJS" not in errors[0], errors


THENABLE_THROWS_JS = r"""
module.exports = function (context, req) {
  if (req.query.how === 'getter') return { get then() { throw new Error('then-getter-boom'); } };
  return { then() { throw new Error('then-call-boom'); } };
};
"""

SLOW_ECHO_JS = r"""
module.exports = async function (context, req) {
  console.log('slow-echo', req.query.n);
  await new Promise((r) => setTimeout(r, Number(req.query.d)));
  context.res = { body: req.query.n };
};
"""


def test_a_thenable_whose_then_throws_fails_only_its_own_invocation(make_app, start_host):
    """A returned thenable whose then() throws, or whose then is a getter
    that throws, fails its invocation as awaiting it would; invocations
    in flight beside it (sent in the same read) are answered, and the
    worker keeps serving."""
    h = fresh_host(make_app, start_host, {
        "thenable": {"function.json": http_json(), "index.js": THENABLE_THROWS_JS},
        "slow": {"function.json": http_json(), "index.js": SLOW_ECHO_JS},
        "pid": {"function.json": http_json(out="$return"), "index.js": PID_JS}})
    pid = h.get("/api/pid", timeout=30).text
    # console use turns on the worker's exact tracking of invocations.
    assert h.get("/api/slow?n=0&d=0", timeout=30).text == "0"
    for how in ("call", "getter"):
        r = h.get("/api/thenable?how=" + how, timeout=30)
        assert r.status == 500, (how, r.status, r.text)
        e = log_entry(h, lambda e, how=how: "then-%s-boom" % how in text(e))
        assert e.get("invocationId") == failure_id(r), (e, r.text)

    def one(i):
        if i % 4 == 0:
            return h.get("/api/thenable?how=" + ("getter" if i % 8 else "call"), timeout=30)
        return h.get("/api/slow?n=%d&d=%d" % (i, (i * 7) % 40), timeout=30)
    with concurrent.futures.ThreadPoolExecutor(24) as ex:
        rs = list(ex.map(one, range(96)))
    for i, r in enumerate(rs):
        if i % 4 == 0:
            assert r.status == 500, (i, r.status, r.text)
        else:
            assert r.status == 200 and r.text == str(i), (i, r.status, r.text)
    assert h.get("/api/pid", timeout=30).text == pid


# ---- concurrency and timeouts --------------------------------------------------------

def test_two_slow_requests_overlap_in_one_worker(host):
    with concurrent.futures.ThreadPoolExecutor(2) as ex:
        first = ex.submit(host.get, "/api/meet", timeout=60)
        second = ex.submit(host.get, "/api/meet", timeout=60)
        bodies = sorted([first.result().text, second.result().text])
    assert bodies == ["first-met", "second"], bodies
    assert admin(host, "/admin/host/scale")["apps"][0]["instances"] == 1


def test_a_module_that_ends_the_process_at_load_is_named(make_app, start_host):
    app = make_app({"bad": {"function.json": http_json(), "index.js": "process.exit(3);\n"},
                    "pid": {"function.json": http_json(out="$return"), "index.js": PID_JS}},
                   host=host_json(), settings=SETTINGS)
    h = start_host(app)
    assert wait_for(lambda: "while loading function 'bad'" in h.log(), timeout=30), h.log()


def test_function_timeout_is_504_and_the_worker_keeps_serving(make_app, start_host):
    app = make_app({"hang": {"function.json": http_json(), "index.js": HANG_JS},
                    "pid": {"function.json": http_json(out="$return"), "index.js": PID_JS}},
                   host=host_json(timeout="00:00:02"), settings=SETTINGS)
    h = start_host(app)
    pid = h.get("/api/pid", timeout=30).text
    r = h.get("/api/hang", timeout=60)
    assert r.status == 504, (r.status, r.text)
    assert "timed out" in r.text and UUID_RE.search(r.text), r.text
    r = h.get("/api/pid", timeout=30)
    assert r.status == 200 and r.text == pid, (r.text, pid)


def test_after_a_busy_loop_times_out_new_work_waits_for_a_worker_that_runs_it(
        make_app, start_host):
    # The worker cannot answer the cancel of a busy loop: what arrives
    # meanwhile goes to its replacement, not to the stuck worker.
    app = make_app({"loop": {"function.json": http_json(), "index.js": LOOP_JS},
                    "hang": {"function.json": http_json(), "index.js": HANG_JS},
                    "pid": {"function.json": http_json(out="$return"), "index.js": PID_JS}},
                   host=host_json(timeout="00:00:02"), settings=SETTINGS)
    h = start_host(app)
    pid = h.get("/api/pid", timeout=30).text
    with concurrent.futures.ThreadPoolExecutor(2) as ex:
        hang = ex.submit(h.get, "/api/hang", timeout=60)
        time.sleep(0.3)
        loop = ex.submit(h.get, "/api/loop", timeout=60)
        assert hang.result().status == 504
        r = h.get("/api/pid", timeout=60)
        assert loop.result().status == 504
    assert r.status == 200 and r.text != pid, (r.status, r.text, pid)
    # The kill names what was still running on the worker.
    assert wait_for(lambda: "of 'loop' (cancelled too)" in h.log(), timeout=10), h.log()


# ---- languageWorkers__node__arguments ------------------------------------------------

EXEC_ARGV_JS = "module.exports = async function () { return { body: process.execArgv }; };\n"


@pytest.mark.parametrize("name", ["languageWorkers__node__arguments",
                                  "languageWorkers:node:arguments"])
def test_language_worker_arguments_reach_node(make_app, start_host, name):
    """Azure's setting for node's own arguments (VS Code puts --inspect=9229
    there), in both spellings: split at white space, before the shim."""
    settings = {"IsEncrypted": False, "Values": {
        "FUNCTIONS_WORKER_RUNTIME": "node", name: " --stack-size=900   --max-old-space-size=96 "}}
    app = make_app({"argv": {"function.json": http_json(out="$return"), "index.js": EXEC_ARGV_JS}},
                   host=host_json(), settings=settings)
    h = start_host(app)
    r = h.get("/api/argv", timeout=30)
    assert r.status == 200 and r.json() == ["--stack-size=900", "--max-old-space-size=96"], r.text
    assert wait_for(lambda: "node workers run: " in h.log() and name in h.log())


def test_a_bad_node_argument_is_logged_and_answered_500(make_app, start_host):
    settings = {"IsEncrypted": False, "Values": {
        "FUNCTIONS_WORKER_RUNTIME": "node", "languageWorkers__node__arguments": "--no-such-flag"}}
    app = make_app({"argv": {"function.json": http_json(out="$return"), "index.js": EXEC_ARGV_JS}},
                   host=host_json(), settings=settings)
    h = start_host(app)
    r = h.get("/api/argv", timeout=30)
    assert r.status in (500, 503), (r.status, r.text)
    assert wait_for(lambda: "bad option: --no-such-flag" in h.log())


def test_too_many_node_arguments_stop_the_host_with_the_setting_named(make_app, start_host):
    settings = {"IsEncrypted": False, "Values": {
        "FUNCTIONS_WORKER_RUNTIME": "node",
        "languageWorkers__node__arguments": " ".join(["--no-warnings"] * 33)}}
    app = make_app({"argv": {"function.json": http_json(out="$return"), "index.js": EXEC_ARGV_JS}},
                   host=host_json(), settings=settings)
    h = start_host(app, wait=False)
    assert h.proc.wait(timeout=30) != 0
    assert "languageWorkers__node__arguments: more than 32 arguments" in h.log()


# ---- the code cache -------------------------------------------------------------------

def test_workers_keep_a_code_cache_beside_the_shim(host):
    """The host gives its node workers <app>/.stratus/runtimes/node.cache
    (runtimes/node/worker.js), which the first of them writes."""
    assert host.get("/api/echo/7").status == 200
    cache = os.path.join(host.app, ".stratus", "runtimes", "node.cache")
    assert wait_for(lambda: os.path.exists(cache), timeout=15), os.listdir(os.path.dirname(cache))
    with open(cache, "rb") as f:
        head = json.loads(f.readline())
    assert head["format"] == "stratus-node-code-cache/2" and \
        "host.js" in [m[0] for m in head["modules"]], head


DIE_JS = "module.exports = async function () { process.exit(3); };\n"


def test_a_worker_that_dies_takes_the_code_cache_with_it(make_app, start_host):
    """A damaged cache could fail every worker that loads it: the host
    removes the file when a worker ends unexpectedly, and the next worker
    writes it anew."""
    app = make_app({"pid": {"function.json": http_json(out="$return"), "index.js": PID_JS},
                    "die": {"function.json": http_json(), "index.js": DIE_JS}},
                   host=host_json(), settings=SETTINGS)
    h = start_host(app)
    pid = h.get("/api/pid", timeout=30).text
    cache = os.path.join(app, ".stratus", "runtimes", "node.cache")
    assert wait_for(lambda: os.path.exists(cache), timeout=15)
    time.sleep(1.5)  # the worker and the placeholder, both started without it, each write it
    first = os.stat(cache).st_ino
    time.sleep(1.5)
    assert os.stat(cache).st_ino == first  # workers that fit it leave it alone
    r = h.get("/api/die", timeout=30)
    assert r.status == 500, (r.status, r.text)
    assert wait_for(lambda: os.path.exists(cache) and os.stat(cache).st_ino != first,
                    timeout=20), "the cache was not removed and written anew"
    r = h.get("/api/pid", timeout=30)
    assert r.status == 200 and r.text != pid, (r.text, pid)


# ---- the development loop (stratus start watching the app) --------------------------

USES_PACKAGES = """
const later = require("later");
const local = require("local");
module.exports = async function (context, req) {
  context.res = { body: later.TAG + " " + local.TAG };
};
"""


def _reloads(h):
    return h.log().count("Reloading ")


def test_reload_follows_node_modules_as_npm_install_writes_it(make_app, start_host):
    """node_modules is watched, as Azure's host watches it: a package that
    is missing is reported, installing it (many files written in a burst)
    reloads the app once and it serves; a package in a function's own
    node_modules reloads that function."""
    local = "exports.TAG = 'local1';\n"
    app = make_app({"uses": {"function.json": http_json(), "index.js": USES_PACKAGES}},
                   settings=SETTINGS, files={"uses/node_modules/local/index.js": local})
    h = start_host(app)
    assert wait_for(lambda: "Cannot find module 'later'" in h.log(), timeout=60), h.log()
    assert h.get("/api/uses").status == 500
    before = _reloads(h)
    mods = os.path.join(app, "node_modules")
    for i in range(60):  # the packages npm unpacks, then the one asked for
        d = os.path.join(mods, "dep%d" % i, "lib")
        os.makedirs(d)
        with open(os.path.join(mods, "dep%d" % i, "package.json"), "w") as f:
            json.dump({"name": "dep%d" % i, "main": "lib/index.js"}, f)
        for name in ("index.js", "util.js", "README.md", "LICENSE"):
            with open(os.path.join(d, name), "w") as f:
                f.write("module.exports = %d;\n" % i)
    os.makedirs(os.path.join(mods, "later"))
    with open(os.path.join(mods, "later", "index.js"), "w") as f:
        f.write("exports.TAG = 'later1';\n")
    assert wait_for(lambda: h.get("/api/uses").text == "later1 local1", timeout=60), \
        h.log()[-3000:]
    assert _reloads(h) == before + 1, h.log()[-3000:]
    assert "More file changes detected; not listing them" in h.log()

    with open(os.path.join(app, "uses", "node_modules", "local", "index.js"), "w") as f:
        f.write("exports.TAG = 'local2';\n")
    assert wait_for(lambda: h.get("/api/uses").text == "later1 local2", timeout=60), \
        h.log()[-3000:]
    assert "Reloading functions: uses" in h.log()
    # npm's own scratch (dot names) never reloads
    before = _reloads(h)
    os.makedirs(os.path.join(mods, ".cache", "x"))
    with open(os.path.join(mods, ".package-lock.json"), "w") as f:
        f.write("{}")
    with open(os.path.join(mods, ".cache", "x", "y.js"), "w") as f:
        f.write("1")
    assert not wait_for(lambda: _reloads(h) > before, timeout=3)


# ---- the example app ------------------------------------------------------------------

def test_example_node_hello_app_serves(tmp_path, start_host):
    app = str(tmp_path / "node-hello")
    shutil.copytree(ROOT + "/examples/node-hello", app,
                    ignore=shutil.ignore_patterns(".stratus"))
    h = start_host(app)
    r = h.get("/api/hello?name=Ada", timeout=30)
    assert r.status == 200 and r.text == "Hello, Ada!\n", r.text
    r = h.post("/api/hello", body=b'{"name": "Bo"}', headers={"Content-Type": "application/json"})
    assert r.text == "Hello, Bo!\n", r.text
    assert h.get("/api/products/books/42").json() == {"category": "books", "id": 42}
    assert h.get("/api/products/books").json() == {"category": "books", "items": []}
    data = bytes(range(256))
    r = h.post("/api/echo", body=data, headers={"Content-Type": "image/x-test"})
    assert r.status == 200 and r.body == data and r.header("Content-Type") == "image/x-test"
