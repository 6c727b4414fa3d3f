"""Custom handlers (FUNCTIONS_WORKER_RUNTIME=custom): the app's own web server,
started by the host on a free port and called over HTTP, in forwarding mode
and with the {"Data", "Metadata"} payloads; a Node.js handler (standard
library only), a compiled C handler, the legacy httpWorker section, %NAME%
expansion, readiness, crashes and restarts, timeouts, scaling, and the
errors for bad configuration."""
import base64
import json
import os
import re
import signal
import subprocess
import threading
import time

import pytest

from conftest import BIN, RawConn, free_port, master_key, wait_for, write_app

UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")

NODE = "node"

# One handler for every test: behaviour chosen by path (forwarding mode) or
# by function name (POST /{function}, Data/Metadata mode).
SERVER_JS = r"""
const http = require('http');
const port = process.env.FUNCTIONS_CUSTOMHANDLER_PORT;
const delay = parseInt(process.env.START_DELAY_MS || '0', 10);
if (process.env.EXIT_AT_START) { console.error('failing at start on purpose'); process.exit(7); }
let probes = 0;
let maxDepth = 0; // most requests in flight at once on one connection

function answer(req, res, body) {
  const u = new URL(req.url, 'http://x');
  const p = u.pathname;
  if (p === '/') { probes++; res.end('ready'); return; }
  if (p === '/api/echo' || p.startsWith('/api/items/') || (p === '/echo' && req.method === 'GET')) {
    const status = parseInt(u.searchParams.get('status') || '200', 10);
    res.setHeader('X-Handler', 'node');
    res.setHeader('X-Multi', ['a', 'b']);
    res.setHeader('Keep-Alive', 'timeout=5');
    res.setHeader('Content-Type', 'application/json');
    res.writeHead(status);
    res.end(JSON.stringify({method: req.method, url: req.url, headers: req.headers,
                            rawHeaders: req.rawHeaders, body: body.toString('base64')}));
    return;
  }
  if (p === '/api/bytes') {
    const b = Buffer.alloc(256);
    for (let i = 0; i < 256; i++) b[i] = i;
    res.setHeader('Content-Type', 'application/octet-stream');
    res.end(b);
    return;
  }
  if (p === '/api/big') {
    res.setHeader('Content-Type', 'application/octet-stream');
    res.end(Buffer.alloc(parseInt(u.searchParams.get('n'), 10), 'x'));
    return;
  }
  if (p === '/api/chunked') {
    res.setHeader('Content-Type', 'text/plain');
    res.write('first,');
    setTimeout(() => { res.write('second,'); res.end('third'); }, 20);
    return;
  }
  if (p === '/api/slow') {
    setTimeout(() => res.end('slow done'), parseInt(u.searchParams.get('ms') || '100', 10));
    return;
  }
  if (p === '/api/slowecho') {
    // Answers its own query after ms: pipelined answers must still pair up.
    setTimeout(() => res.end('echo ' + u.searchParams.get('n')),
               parseInt(u.searchParams.get('ms') || '0', 10));
    return;
  }
  if (p === '/api/stats') {
    res.setHeader('Content-Type', 'application/json');
    res.end(JSON.stringify({maxDepth}));
    return;
  }
  if (p === '/api/crash') { console.error('crashing on purpose'); process.exit(3); }
  if (p === '/api/restart') { res.end('restarting', () => process.exit(200)); return; }
  if (p === '/api/env') {
    res.setHeader('Content-Type', 'application/json');
    res.end(JSON.stringify({env: process.env, argv: process.argv, cwd: process.cwd(),
                            pid: process.pid, probes}));
    return;
  }
  if (p === '/api/log') {
    console.log('a line on stdout');
    console.error('a line on stderr');
    console.error('WARNING: a warning on stderr');
    res.end('logged');
    return;
  }
  // Data/Metadata mode: POST /{function}
  const fn = p.slice(1);
  const meta = {invocationId: req.headers['x-azure-functions-invocationid'],
                hostVersion: req.headers['x-azure-functions-hostversion'],
                userAgent: req.headers['user-agent'], contentType: req.headers['content-type'],
                method: req.method, path: p};
  let inv = null;
  try { inv = JSON.parse(body.toString()); } catch (e) { inv = {parseError: String(e)}; }
  const reply = (o) => { res.setHeader('Content-Type', 'application/json'); res.end(JSON.stringify(o)); };
  switch (fn) {
    case 'inspect':
      reply({Outputs: {res: {statusCode: 201, headers: {'X-From': 'handler', 'X-Num': 7},
                             body: {received: inv, meta}}},
             Logs: ['first log line', 'second log line ' + meta.invocationId]});
      return;
    case 'ret':
      reply({Outputs: {}, Logs: [], ReturnValue: {statusCode: '202', body: 'from return value',
                                                 headers: {'Content-Type': 'text/x-ret'}}});
      return;
    case 'plain':
      reply({Outputs: {res: 'just a string'}});
      return;
    case 'serialized':
      reply({Outputs: {res: JSON.stringify({statusCode: 201, headers: {'X-S': '1'}, body: 'made'})}});
      return;
    case 'fail':
      res.writeHead(500, {'Content-Type': 'text/plain'});
      res.end('handler exploded');
      return;
    case 'notjson':
      res.end('this is not json');
      return;
    case 'noresponse':
      reply({Outputs: {}, Logs: ['nothing to say']});
      return;
    case 'badstatus':
      reply({Outputs: {res: {statusCode: 'abc'}}});
      return;
    case 'interim':
      reply({Outputs: {res: {statusCode: 101, body: 'switching?'}}});
      return;
    case 'outs':
      // As a Go handler writes a []byte: base64 in a JSON string.
      reply({Outputs: {q: 'test', words: 'not base64', obj: {a: 1}, blob: 'iVBORwAB/w==',
                       raw: 'SGk=', res: {statusCode: 204}},
             ReturnValue: 'QUJD'});
      return;
    case 'slowdata':
      setTimeout(() => reply({Outputs: {res: {body: 'late'}}}), 3000);
      return;
    default:
      reply({Outputs: {res: {statusCode: 404, body: 'no function ' + fn}}});
  }
}

setTimeout(() => {
  http.createServer((req, res) => {
    const s = req.socket;
    s.inflight = (s.inflight || 0) + 1;
    if (s.inflight > maxDepth) maxDepth = s.inflight;
    res.on('finish', () => { s.inflight--; });
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => answer(req, res, Buffer.concat(chunks)));
  }).listen(port, '127.0.0.1', () => console.log('handler listening on ' + port));
}, delay);
"""


def trigger(name="req", route=None, methods=None, auth="anonymous", data_type=None):
    t = {"type": "httpTrigger", "direction": "in", "name": name, "authLevel": auth}
    if route is not None:
        t["route"] = route
    if methods is not None:
        t["methods"] = methods
    if data_type:
        t["dataType"] = data_type
    return t


def fn(route=None, methods=None, out="res", extra=None, data_type=None):
    bindings = [trigger(route=route, methods=methods, data_type=data_type)]
    for name in ([out] if isinstance(out, str) else out):
        bindings.append({"type": "http", "direction": "out", "name": name})
    return {"function.json": {"bindings": bindings + (extra or [])}}


def custom_host(forward=True, section="customHandler", description=None, extra=None):
    desc = {"defaultExecutablePath": NODE, "arguments": ["server.js"]}
    if description is not None:
        desc = description
    h = {"version": "2.0", section: {"description": desc, "enableForwardingHttpRequest": forward}}
    if extra:
        h.update(extra)
    return h


def settings(values=None):
    v = {"FUNCTIONS_WORKER_RUNTIME": "custom"}
    v.update(values or {})
    return {"IsEncrypted": False, "Values": v}


FORWARD_FNS = {"echo": fn(), "items": fn(route="items/{id}"), "bytes": fn(), "chunked": fn(),
               "big": fn(),
               "slow": fn(), "crash": fn(), "env": fn(), "log": fn(), "slowecho": fn(),
               "stats": fn()}


def make(make_app, functions=None, host=None, values=None, files=None):
    f = {"server.js": SERVER_JS}
    f.update(files or {})
    return make_app(functions or FORWARD_FNS, host=host or custom_host(),
                    settings=settings(values), files=f)


def log_has(h, text, timeout=10):
    """The host log contains text (lines are flushed once per loop turn, so
    they may follow the response that they go with)."""
    if wait_for(lambda: text in h.log(), timeout=timeout):
        return True
    print(h.log())
    return False


def scale(h):
    return h.get("/admin/host/scale").json()["apps"][0]


def status(h):
    return h.get("/admin/host/status").json()


# ---- forwarding mode ----

def test_forward_round_trip(make_app, start_host):
    h = start_host(make(make_app))
    for method in ("GET", "POST", "PUT", "DELETE", "PATCH"):
        body = b"" if method in ("GET", "DELETE") else ("payload for " + method).encode()
        r = h.request(method, "/api/echo?code=secret&x=1&x=2&y=%20z",
                      body=body or None, headers={"X-Custom": "v1", "X-Two": "a"})
        assert r.status == 200, r.text
        got = r.json()
        assert got["method"] == method
        assert got["url"] == "/api/echo?code=secret&x=1&x=2&y=%20z"
        assert got["headers"]["x-custom"] == "v1"
        assert got["headers"]["x-two"] == "a"
        assert got["headers"]["host"] == "127.0.0.1:%d" % h.port
        assert base64.b64decode(got["body"]) == body
        # The handler's headers come back; hop-by-hop ones do not.
        assert r.header("X-Handler") == "node"
        assert r.header("Content-Type") == "application/json"
        assert r.header("Keep-Alive") is None
        assert [v for k, v in r.headers if k.lower() == "x-multi"] == ["a", "b"]
        # The invocation id travels in a header, as Azure sends it.
        assert re.match(r"^[0-9a-f-]{36}$", got["headers"]["x-azure-functions-invocationid"])
    # Status codes come back as they are.
    r = h.get("/api/echo?status=418")
    assert r.status == 418
    # Route parameters are the handler's business: the path is as sent.
    r = h.get("/api/items/42?q=1")
    assert r.json()["url"] == "/api/items/42?q=1"


def test_forward_hop_by_hop_request_headers(make_app, start_host):
    h = start_host(make(make_app))
    c = RawConn(h.port)
    c.send(b"POST /api/echo HTTP/1.1\r\nHost: x\r\nConnection: keep-alive, X-Private\r\n"
           b"X-Private: secret\r\nKeep-Alive: timeout=9\r\nTE: trailers\r\nX-Kept: yes\r\n"
           b"Content-Length: 3\r\n\r\nabc")
    r = c.read_response()
    c.close()
    assert r.status == 200
    hdrs = r.json()["headers"]
    assert hdrs["x-kept"] == "yes"
    assert "x-private" not in hdrs and "te" not in hdrs and "keep-alive" not in hdrs
    assert hdrs.get("connection", "keep-alive") == "keep-alive"  # the host's own
    assert hdrs["content-length"] == "3"


def test_forward_binary_and_chunked_bodies(make_app, start_host):
    h = start_host(make(make_app))
    blob = bytes(range(256)) * 40
    r = h.post("/api/echo", body=blob, headers={"Content-Type": "application/octet-stream"})
    assert base64.b64decode(r.json()["body"]) == blob
    r = h.get("/api/bytes")
    assert r.body == bytes(range(256))
    assert r.header("Content-Type") == "application/octet-stream"
    # A chunked request reaches the handler whole; a chunked answer comes back whole
    # (passed on as it arrives: chunked; or, when it came all at once, with its length).
    c = RawConn(h.port)
    c.send(b"POST /api/echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
           b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n")
    r = c.read_response()
    assert base64.b64decode(r.json()["body"]) == b"hello world"
    assert "transfer-encoding" not in r.json()["headers"]
    c.send(b"GET /api/chunked HTTP/1.1\r\nHost: x\r\n\r\n")
    r = c.read_response()
    c.close()
    assert r.body == b"first,second,third"
    assert (r.header("Transfer-Encoding") == "chunked" or
            r.header("Content-Length") == str(len(b"first,second,third")))


@pytest.mark.skipif(bool(os.environ.get("STRATUS_SANITIZE")),
                    reason="the sanitizers keep freed memory in quarantine")
def test_forward_large_answer_is_not_copied_in_the_host(make_app, start_host):
    from test_http import assert_big_answer_held_once
    h = start_host(make(make_app))
    assert_big_answer_held_once(h, "/api/big?n=", 64 << 20)


def test_forward_head_is_answered_from_get(make_app, start_host):
    h = start_host(make(make_app))
    c = RawConn(h.port)
    c.send(b"HEAD /api/bytes HTTP/1.1\r\nHost: x\r\n\r\n")
    r = c.read_response(head=True)
    assert r.status == 200
    assert r.header("Content-Length") == "256"
    c.send(b"GET /api/bytes HTTP/1.1\r\nHost: x\r\n\r\n")
    assert c.read_response().body == bytes(range(256))
    c.close()


def test_forwarding_needs_one_trigger_and_one_http_output(make_app, start_host):
    """With two http outputs the function is called with POST /{function}
    even though forwarding is on."""
    fns = {"echo": fn(), "inspect": fn(out=["res", "$return"])}
    h = start_host(make(make_app, functions=fns))
    assert h.get("/api/echo").json()["url"] == "/api/echo"
    r = h.get("/api/inspect")
    assert r.status == 201
    assert r.json()["meta"]["path"] == "/inspect"
    assert log_has(h, "1 of 2 function(s) forwarded")


# ---- Data/Metadata mode ----

DATA_FNS = {"inspect": fn(route="inspect/{id:int}/{opt?}"), "ret": fn(out="$return"),
            "plain": fn(), "fail": fn(), "notjson": fn(), "noresponse": fn(),
            "badstatus": fn(), "interim": fn(), "slowdata": fn(), "bin": fn(data_type="binary"),
            "serialized": fn()}


def test_data_metadata_request_shape(make_app, start_host):
    h = start_host(make(make_app, functions=DATA_FNS, host=custom_host(forward=False)))
    r = h.request("POST", "/api/inspect/42?name=Ada&tag=a&tag=b&code=k",
                  body=b'{"hello": "world"}',
                  headers={"content-type": "application/json", "X-Multi": "one",
                           "x-multi": "two", "accept-language": "fr", "x-lower": "1"})
    assert r.status == 201, r.text
    got = r.json()
    meta, inv = got["meta"], got["received"]
    # The HTTP request to the handler.
    assert meta["method"] == "POST" and meta["path"] == "/inspect"
    assert meta["contentType"] == "application/json"
    assert re.match(r"^Azure-Functions-Host/\d+\.\d+\.\d+$", meta["userAgent"])
    assert meta["hostVersion"] == meta["userAgent"].split("/")[1]
    assert re.match(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$",
                    meta["invocationId"])
    assert set(inv) == {"Data", "Metadata"}
    # Data: one entry, the trigger.
    assert set(inv["Data"]) == {"req"}
    req = inv["Data"]["req"]
    assert set(req) == {"Url", "Method", "Query", "Headers", "Params", "Identities", "Body"}
    assert req["Url"] == "http://127.0.0.1:%d/api/inspect/42?name=Ada&tag=a&tag=b&code=k" % h.port
    assert req["Method"] == "POST"
    assert req["Query"] == {"name": "Ada", "tag": "a,b", "code": "k"}
    assert req["Headers"]["X-Multi"] == ["one", "two"]
    # Headers that Azure's web server knows are named as it spells them,
    # whatever the client sent; others as first sent.
    assert req["Headers"]["Content-Type"] == ["application/json"]
    assert req["Headers"]["Accept-Language"] == ["fr"]
    assert req["Headers"]["x-lower"] == ["1"]
    assert "content-type" not in req["Headers"]
    assert req["Headers"]["Host"] == ["127.0.0.1:%d" % h.port]
    assert all(isinstance(v, list) for v in req["Headers"].values())
    assert req["Params"] == {"id": "42"}  # the optional one was not given
    assert req["Identities"] == []
    assert req["Body"] == '{"hello": "world"}'
    # Metadata: the trigger's binding data and sys, as Azure's: the JSON
    # body's properties, the query parameters but code, the route
    # parameters, each a string sent as its JSON text; Query (the last of
    # repeated values) and Headers are objects.
    md = inv["Metadata"]
    assert md["id"] == '"42"' and md["name"] == '"Ada"' and md["tag"] == '"a,b"'
    assert json.loads(md["id"]) == "42"
    assert md["hello"] == '"world"' and "code" not in md
    assert md["Query"] == {"name": "Ada", "tag": "b", "code": "k"}
    assert md["Headers"]["X-Multi"] == "one,two"
    assert md["Headers"]["Content-Type"] == "application/json"
    assert md["sys"]["MethodName"] == "inspect"
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}Z$", md["sys"]["UtcNow"])
    assert re.match(r"^[0-9a-f-]{36}$", md["sys"]["RandGuid"])
    assert not any(k.endswith("Trigger") for k in md)
    # The answer's http output.
    assert r.header("X-From") == "handler"
    assert r.header("X-Num") == "7"
    assert r.header("Content-Type").startswith("application/json")


def test_data_bodies_text_and_base64(make_app, start_host):
    h = start_host(make(make_app, functions=DATA_FNS, host=custom_host(forward=False)))
    blob = bytes(range(256))
    r = h.post("/api/inspect/1", body=blob, headers={"Content-Type": "application/octet-stream"})
    assert base64.b64decode(r.json()["received"]["Data"]["req"]["Body"]) == blob
    r = h.post("/api/inspect/1", body=b"--b\r\nx\r\n--b--",
               headers={"Content-Type": "multipart/form-data; boundary=b"})
    assert base64.b64decode(r.json()["received"]["Data"]["req"]["Body"]) == b"--b\r\nx\r\n--b--"
    r = h.post("/api/inspect/1", body="héllo".encode(), headers={"Content-Type": "text/plain"})
    assert r.json()["received"]["Data"]["req"]["Body"] == "héllo"
    # No body, no Body at all, as Azure's host sends it.
    r = h.get("/api/inspect/1")
    assert "Body" not in r.json()["received"]["Data"]["req"]
    assert r.json()["received"]["Data"]["req"]["Method"] == "GET"
    r = h.post("/api/inspect/1", body=b"")
    assert "Body" not in r.json()["received"]["Data"]["req"]


def test_data_outputs_and_return_value(make_app, start_host):
    h = start_host(make(make_app, functions=DATA_FNS, host=custom_host(forward=False)))
    r = h.get("/api/ret")
    assert r.status == 202  # a statusCode given as a string
    assert r.text == "from return value"
    assert r.header("Content-Type") == "text/x-ret"
    r = h.get("/api/plain")
    assert r.status == 200 and r.text == "just a string"
    assert r.header("Content-Type") == "text/plain; charset=utf-8"
    r = h.get("/api/noresponse")
    assert r.status == 200 and r.body == b""
    # The response sent as the JSON text of the object: that object, as in Azure.
    r = h.get("/api/serialized")
    assert (r.status, r.text, r.header("X-S")) == (201, "made", "1")


def test_data_failures_answer_500_with_invocation_id(make_app, start_host):
    h = start_host(make(make_app, functions=DATA_FNS, host=custom_host(forward=False)))
    for name, why in (("fail", "answered 500"), ("notjson", "not JSON"),
                      ("badstatus", "statusCode 'abc' is not an HTTP status"),
                      ("interim", "statusCode 101 is not an HTTP status (200 to 599)")):
        r = h.get("/api/" + name)
        assert r.status == 500, (name, r.status, r.text)
        inv = r.header("x-invocation-id")
        assert inv and inv in r.text
        # The handler's own text stays in the log; the caller gets the id.
        assert why not in r.text
        assert "the error is in the host's log" in r.text
        assert log_has(h, why)
    assert log_has(h, "handler exploded")


def test_data_logs_reach_host_log_with_invocation_id(make_app, start_host):
    h = start_host(make(make_app, functions=DATA_FNS, host=custom_host(forward=False)),
                   mode="host")
    r = h.get("/api/inspect/5")
    inv = r.json()["meta"]["invocationId"]

    def lines():
        out = []
        for line in h.log().splitlines():
            try:
                out.append(json.loads(line))
            except ValueError:
                pass
        return [l for l in out if l.get("invocationId") == inv and l.get("level") == "info"
                and l.get("category") == "Function.inspect"]

    got = wait_for(lambda: len(lines()) >= 2 and lines(), timeout=10)
    assert got, h.log()
    messages = [l["message"] for l in got]
    assert "first log line" in messages
    assert "second log line " + inv in messages


def test_admin_invoke_sends_input_as_data(make_app, start_host):
    h = start_host(make(make_app, functions=DATA_FNS, host=custom_host(forward=False)),
                   mode="host")
    key = master_key(h.app)
    r = h.post("/admin/functions/noresponse", body=json.dumps({"input": "some input"}),
               headers={"x-functions-key": key, "Content-Type": "application/json"})
    assert r.status == 202
    assert wait_for(lambda: "nothing to say" in h.log(), timeout=10), h.log()


def test_data_timeout_answers_504(make_app, start_host):
    h = start_host(make(make_app, functions=DATA_FNS,
                        host=custom_host(forward=False, extra={"functionTimeout": "00:00:01"})))
    r = h.get("/api/slowdata", timeout=30)
    assert r.status == 504
    assert "functionTimeout" in r.text
    assert r.header("x-invocation-id") in r.text
    # The handler keeps serving.
    assert h.get("/api/plain").text == "just a string"


def test_data_base64_strings_are_bytes_on_output_bindings(make_app, start_host):
    """As Azure reads a handler's Outputs: a string that is valid base64
    is written as the bytes it encodes, unless the binding says dataType
    binary; other strings as text, other values as JSON."""
    outs = [{"type": "queue", "direction": "out", "name": n, "queueName": "o-" + n}
            for n in ("q", "words", "obj")]
    outs += [{"type": "blob", "direction": "out", "name": "blob", "path": "outs/blob.png"},
             {"type": "blob", "direction": "out", "name": "raw", "path": "outs/raw.txt",
              "dataType": "binary"},
             {"type": "queue", "direction": "out", "name": "$return", "queueName": "o-ret"}]
    h = start_host(make(make_app, functions={"outs": fn(extra=outs)},
                        host=custom_host(forward=False)), mode="host")
    assert h.get("/api/outs").status == 204
    key = {"x-functions-key": master_key(h.app)}

    def message(q):
        m = h.get("/admin/queues/%s/messages?peek=1" % q, headers=key).json()["messages"][0]
        return base64.b64decode(m["body"]) if m["binary"] else m["body"].encode()

    assert message("o-q") == base64.b64decode("test")
    assert message("o-ret") == b"ABC"
    assert message("o-words") == b"not base64"
    assert json.loads(message("o-obj")) == {"a": 1}
    assert h.get("/admin/blobs/outs/blob.png", headers=key).body == b"\x89PNG\x00\x01\xff"
    assert h.get("/admin/blobs/outs/raw.txt", headers=key).body == b"SGk="


# ---- host.json routes, configuration profiles, a fixed port ----

MCP_JS = r"""
// A server of its own: it listens on the port it is given, not on
// FUNCTIONS_CUSTOMHANDLER_PORT, as the MCP SDK servers do.
const http = require('http');
const VERSION = 'v1';
http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    if (req.url === '/') { res.statusCode = 404; res.end('no page here'); return; }
    res.setHeader('Content-Type', 'application/json');
    res.end(JSON.stringify({version: VERSION, method: req.method, url: req.url,
                            body: Buffer.concat(chunks).toString(),
                            envPort: process.env.FUNCTIONS_CUSTOMHANDLER_PORT}));
  });
}).listen(parseInt(process.argv[2], 10), '127.0.0.1');
"""


def test_mcp_profile_routes_from_host_json_and_a_fixed_port(make_app, start_host):
    # Azure's "mcp-custom-handler" profile: no function.json, one HTTP
    # function for every path (routePrefix "", proxied as it came), and the
    # handler on the port host.json gives; a reload stops the running
    # handler before the new one takes the port.
    port = free_port()
    host = {"version": "2.0", "configurationProfile": "mcp-custom-handler",
            "customHandler": {"description": {"defaultExecutablePath": NODE,
                                              "arguments": ["mcp.js", str(port)]},
                              "http": {"DefaultAuthorizationLevel": "anonymous"},
                              "port": str(port)}}
    app = make_app({}, host=host, settings=settings(), files={"mcp.js": MCP_JS})
    h = start_host(app)
    r = h.post("/mcp?x=1", body=b'{"jsonrpc": "2.0", "id": 1, "method": "tools/list"}',
               headers={"Content-Type": "application/json"})
    got = r.json()
    assert (got["method"], got["url"], got["envPort"]) == ("POST", "/mcp?x=1", str(port))
    assert json.loads(got["body"])["method"] == "tools/list"
    assert h.get("/").status == 404 and h.get("/").text == "no page here"
    assert log_has(h, "http-handler1")
    with open(os.path.join(app, "mcp.js")) as f:
        js = f.read()
    with open(os.path.join(app, "mcp.js"), "w") as f:
        f.write(js.replace("'v1'", "'v2'"))

    def version():
        try:
            return h.get("/mcp").json()["version"]
        except (ValueError, OSError):
            return None

    assert wait_for(lambda: version() == "v2", timeout=30), h.log()
    assert log_has(h, "customHandler.port %d: the new version's custom handler starts once "
                      "the running one" % port)


def test_routes_beside_function_json_is_an_error(make_app, start_host):
    host = custom_host()
    host["customHandler"]["http"] = {"routes": [{"route": "{*r}"}]}
    h = start_host(make(make_app, host=host), mode="host")
    assert log_has(h, "Detected both function.json files and custom handler HTTP route")


# ---- configuration ----

def test_http_worker_legacy_section(make_app, start_host):
    # As Azure's host does for this section: an HTTP-only function is
    # forwarded as it came, without enableForwardingHttpRequest, but to
    # /{function} and its query string, not to the request's own path.
    h = start_host(make(make_app, host=custom_host(forward=False, section="httpWorker")))
    got = h.get("/api/echo?x=1&code=k").json()
    assert (got["method"], got["url"]) == ("GET", "/echo?x=1&code=k")
    assert log_has(h, "host.json httpWorker")


def test_both_sections_customhandler_wins(make_app, start_host):
    host = custom_host(forward=True)
    host["httpWorker"] = {"description": {"defaultExecutablePath": "/nonexistent"}}
    h = start_host(make(make_app, host=host))
    assert h.get("/api/echo").json()["url"] == "/api/echo"
    assert log_has(h, "Both httpWorker and customHandler sections are specified in host.json "
                      "file. customHandler takes precedence.")


def test_arguments_from_a_setting_holding_a_json_list(make_app, start_host):
    # What an AzureFunctionsJobHost__ setting gives is a string; Azure reads
    # a JSON list from it.
    host = custom_host(description={"defaultExecutablePath": NODE, "arguments": ["nope.js"]})
    values = {"AzureFunctionsJobHost__customHandler__description__arguments": '["server.js"]'}
    h = start_host(make(make_app, host=host, values=values))
    assert h.get("/api/echo").json()["url"] == "/api/echo"


def test_settings_as_core_tools_reads_them(make_app, start_host):
    # Values that are numbers or booleans (Core Tools takes their text),
    # "disabled" naming an app setting (what Visual Studio writes for
    # [Disable("Setting")]) and AzureWebJobs_<name>_Disabled (the spelling
    # without dots).
    functions = dict(FORWARD_FNS)
    functions["off"] = {"function.json": {"disabled": "OFF_SWITCH",
                                          "bindings": fn()["function.json"]["bindings"]}}
    functions["onagain"] = {"function.json": {"disabled": "%ON_SWITCH%",
                                              "bindings": fn()["function.json"]["bindings"]}}
    functions["off2"] = fn()
    app = make_app(functions, host=custom_host(),
                   settings={"IsEncrypted": False,
                             "Values": {"FUNCTIONS_WORKER_RUNTIME": "custom", "MAX_ITEMS": 10,
                                        "RATIO": 0.5, "FEATURE_ON": True, "NOTHING": None,
                                        "OFF_SWITCH": "true", "ON_SWITCH": False,
                                        "AzureWebJobs_off2_Disabled": "1"}},
                   files={"server.js": SERVER_JS})
    h = start_host(app)
    env = h.get("/api/env").json()["env"]
    assert (env["MAX_ITEMS"], env["RATIO"], env["FEATURE_ON"]) == ("10", "0.5", "true")
    assert "NOTHING" not in env
    assert h.get("/api/off").status == 404
    assert h.get("/api/off2").status == 404
    assert h.get("/api/onagain").status == 200
    assert status(h)["errors"] == []


def test_proxying_is_a_synonym_of_forwarding(make_app, start_host):
    host = custom_host(forward=False)
    host["customHandler"]["enableProxyingHttpRequest"] = True
    h = start_host(make(make_app, host=host))
    assert h.get("/api/echo?a=b").json()["url"] == "/api/echo?a=b"


def test_percent_expansion_environment_and_working_directory(make_app, start_host):
    desc = {"defaultExecutablePath": "%NODE_NAME%",
            "arguments": ["%SCRIPT%", "%UNKNOWN_X%", "--port=%FUNCTIONS_CUSTOMHANDLER_PORT%",
                          "%FUNCTIONS_HTTPWORKER_ID%", "-m  two-words", '"one word" x\\"y'],
            "workingDirectory": "%SUBDIR%", "defaultWorkerPath": "extra.txt"}
    app = make(make_app, host=custom_host(description=desc),
               values={"NODE_NAME": NODE, "SCRIPT": "server.js", "SUBDIR": "handler",
                       "GREETING": "hello from settings"},
               files={"handler/server.js": SERVER_JS})
    os.remove(os.path.join(app, "server.js"))
    h = start_host(app, env={"STRATUS_MASTER_KEY": "a-master-key-of-at-least-some-length-xx"})
    got = h.get("/api/env").json()
    assert got["cwd"] == os.path.join(app, "handler")
    env = got["env"]
    # As Azure's host: a name that is not set is removed (with a warning);
    # the handler's own variables, as in Azure's docs example, once its port
    # is known; the arguments joined into a command line and split again.
    rest = ["--port=" + env["FUNCTIONS_CUSTOMHANDLER_PORT"], env["FUNCTIONS_HTTPWORKER_ID"],
            "-m", "two-words", "one word", 'x"y',
            os.path.join(app, "handler", "extra.txt")]  # relative to the working directory
    assert log_has(h, "Environment variable:%UNKNOWN_X% is not set")
    assert got["argv"][1:] == [os.path.join(app, "handler", "server.js")] + rest or \
        got["argv"][1:] == ["server.js"] + rest, got["argv"]
    assert env["GREETING"] == "hello from settings"
    assert env["FUNCTIONS_CUSTOMHANDLER_PORT"] == env["FUNCTIONS_HTTPWORKER_PORT"]
    assert int(env["FUNCTIONS_CUSTOMHANDLER_PORT"]) != h.port
    assert "STRATUS_MASTER_KEY" not in env
    assert os.path.realpath(env["AzureWebJobsScriptRoot"]) == os.path.realpath(app)


def test_relative_executable_in_app_and_default_worker_path(make_app, start_host):
    """A relative defaultExecutablePath found in the app is made absolute;
    defaultWorkerPath follows the arguments, and workerArguments follow it,
    as Azure's host builds the command line."""
    script = "#!/bin/sh\nexec %s \"$@\"\n" % NODE
    desc = {"defaultExecutablePath": "bin/run.sh", "defaultWorkerPath": "server.js",
            "arguments": [], "workerArguments": ["--port", "%FUNCTIONS_CUSTOMHANDLER_PORT%"]}
    app = make(make_app, host=custom_host(description=desc), files={"bin/run.sh": script})
    os.chmod(os.path.join(app, "bin", "run.sh"), 0o755)
    h = start_host(app)
    got = h.get("/api/env").json()
    assert got["argv"][1:] == [os.path.join(app, "server.js"), "--port",
                               got["env"]["FUNCTIONS_CUSTOMHANDLER_PORT"]]
    assert log_has(h, "run.sh")


@pytest.mark.parametrize("host_json, expected", [
    (custom_host(description={"defaultExecutablePath": "no-such-handler-xyz"}),
     "host.json: field 'customHandler.description.defaultExecutablePath': "
     "'no-such-handler-xyz' not found"),
    (custom_host(description={"defaultExecutablePath": "./missing/handler"}),
     "'./missing/handler' not found"),
    (custom_host(description={"defaultExecutablePath": "server.js"}),
     "is not executable"),
    ({"version": "2.0"}, "host.json has no 'customHandler' section"),
    (custom_host(description={"arguments": ["x"]}),
     "host.json: field 'customHandler.description.defaultExecutablePath' is required"),
    (custom_host(description={"defaultExecutablePath": "node", "arguments": "server.js"}),
     "host.json: field 'customHandler.description.arguments': expected a list of strings"),
    (custom_host(description={"defaultExecutablePath": 42}),
     "host.json: field 'customHandler.description.defaultExecutablePath': expected a string"),
    (custom_host(description={"defaultExecutablePath": "node", "workingDirectory": "nope"}),
     "host.json: field 'customHandler.description.workingDirectory'"),
    ({"version": "2.0", "httpWorker": {"description": {"defaultExecutablePath": "node"},
                                       "enableForwardingHttpRequest": "maybe"}},
     "host.json: field 'httpWorker.enableForwardingHttpRequest': expected true or false"),
    (custom_host(extra={"stratus": {"customHandler": {"startupTimeout": "soon"}}}),
     "host.json: field 'stratus.customHandler.startupTimeout'"),
    (custom_host(extra={"stratus": {"customHandler": {"pipelining": "yes"}}}),
     "host.json: field 'stratus.customHandler.pipelining': expected true or false"),
    (custom_host(extra={"stratus": {"customHandler": {"pipelineDepth": 0}}}),
     "host.json: field 'stratus.customHandler.pipelineDepth': expected an integer from 1 to 64"),
    (custom_host(extra={"configurationProfile": "mcp"}),
     "configuration profile 'mcp' is not supported. Supported values: '', 'default', "
     "'mcp-custom-handler'"),
    (dict(custom_host(), customHandler=dict(custom_host()["customHandler"], port="http")),
     "host.json: field 'customHandler.port': expected a port number from 1 to 65535"),
])
def test_bad_configuration_is_a_clear_error(make_app, start_host, host_json, expected):
    app = make(make_app, host=host_json)
    h = start_host(app, wait=False)
    rc = h.proc.wait(60)
    assert rc != 0
    assert log_has(h, expected)


# ---- pipelining ----

def burst(h, paths, workers=16):
    """GET every path from `workers` threads at once; {path: (status, body)}."""
    out = {}
    lock = threading.Lock()
    todo = list(paths)

    def run():
        while True:
            with lock:
                if not todo:
                    return
                p = todo.pop()
            r = h.get(p, timeout=60)
            with lock:
                out[p] = (r.status, r.body)

    threads = [threading.Thread(target=run) for _ in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return out


def test_pipelined_forwarding_pairs_each_answer_with_its_request(make_app, start_host):
    h = start_host(make(make_app))
    paths = ["/api/echo?n=%d&pad=%s" % (i, "x" * (i % 7)) for i in range(400)]
    got = burst(h, paths, workers=24)
    assert len(got) == len(paths)
    for p, (st, body) in got.items():
        assert st == 200, (p, body, h.log()[-3000:])
        assert json.loads(body)["url"] == p
    # POSTs (never pipelined behind others) mixed with GETs stay paired too.
    results = {}

    def post(i):
        r = h.post("/api/echo?post=%d" % i, body=("body %d" % i).encode(), timeout=60)
        results[i] = r

    threads = [threading.Thread(target=post, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    more = burst(h, ["/api/echo?m=%d" % i for i in range(100)], workers=8)
    for t in threads:
        t.join()
    for i, r in results.items():
        assert r.status == 200
        assert r.json()["url"] == "/api/echo?post=%d" % i
        assert base64.b64decode(r.json()["body"]) == ("body %d" % i).encode()
    for p, (st, body) in more.items():
        assert st == 200 and json.loads(body)["url"] == p
    print("deepest pipeline seen by the handler:", h.get("/api/stats").json()["maxDepth"])


def test_pipelined_requests_served_slowly(make_app, start_host):
    h = start_host(make(make_app))
    # Earlier requests take longer: the handler finishes them out of order,
    # its server answers in order, each answer goes to its own caller.
    paths = ["/api/slowecho?n=%d&ms=%d" % (i, 200 - (i % 10) * 20) for i in range(120)]
    got = burst(h, paths, workers=30)
    for p, (st, body) in got.items():
        n = p.split("n=")[1].split("&")[0]
        assert st == 200, (p, body, h.log()[-3000:])
        assert body == ("echo " + n).encode()


def test_pipelining_can_be_turned_off(make_app, start_host):
    host = custom_host(extra={"stratus": {"customHandler": {"pipelining": False}}})
    h = start_host(make(make_app, host=host))
    paths = ["/api/slowecho?n=%d&ms=%d" % (i, i % 5) for i in range(200)]
    got = burst(h, paths, workers=24)
    for p, (st, body) in got.items():
        assert st == 200 and body == ("echo " + p.split("n=")[1].split("&")[0]).encode(), \
            (p, st, body, h.log()[-3000:])
    assert h.get("/api/stats").json()["maxDepth"] == 1


def py_echo_handler(server="ThreadingHTTPServer", protocol="HTTP/1.0", delay=0.002):
    """A handler on Python's http.server answering GET with "echo <path>".
    HTTP/1.0 (the default of BaseHTTPRequestHandler) ends the connection
    after every answer, which drops whatever the host pipelined behind it;
    HTTP/1.1 keeps connections open (one at a time with HTTPServer)."""
    return """
import os, sys, time
from http.server import %(server)s, BaseHTTPRequestHandler

class H(BaseHTTPRequestHandler):
    protocol_version = "%(protocol)s"

    def do_GET(self):
        time.sleep(%(delay)r)
        body = ("echo " + self.path).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass

%(server)s(("127.0.0.1", int(os.environ["FUNCTIONS_CUSTOMHANDLER_PORT"])), H).serve_forever()
""" % {"server": server, "protocol": protocol, "delay": delay}


def test_a_handler_that_closes_after_every_answer_serves_a_burst(make_app, start_host):
    """Python's http.server (HTTP/1.0) closes the connection after each
    answer: the host stops pipelining to it, and what it had pipelined
    goes again, so every request of a burst is answered."""
    import sys
    desc = {"defaultExecutablePath": sys.executable, "arguments": ["handler.py"]}
    app = make_app({"echo": fn()}, host=custom_host(description=desc), settings=settings(),
                   files={"handler.py": py_echo_handler()})
    h = start_host(app)
    paths = ["/api/echo?n=%d" % i for i in range(120)]
    got = burst(h, paths, workers=30)
    for p, (st, body) in got.items():
        assert st == 200 and body == ("echo " + p).encode(), (p, st, body, h.log()[-3000:])
    assert log_has(h, "ends the connection after each answer (HTTP/1.0 or Connection: close)")
    assert "did not answer two pipelined requests" not in h.log()


# A handler in the style of small C or shell handlers: one read is one
# request. It also answers 304 with a Content-Length, switches protocols,
# and reads its Data/Metadata call with a strict UTF-8 JSON parser.
PY_NAIVE_HANDLER = r"""
import json, os, socket, threading, time

def handle(c):
    while True:
        d = c.recv(65536)
        if not d:
            return
        head, _, body = d.partition(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        method, path, _ = lines[0].decode().split(" ", 2)
        hdrs = {}
        for h in lines[1:]:
            k, _, v = h.partition(b":")
            hdrs[k.strip().lower()] = v.strip()
        n = int(hdrs.get(b"content-length", b"0"))
        while len(body) < n:
            more = c.recv(65536)
            if not more:
                return
            body += more
        p = path.split("?")[0]
        if p == "/api/nm":
            c.sendall(b'HTTP/1.1 304 Not Modified\r\nETag: "v1"\r\nContent-Length: 1234\r\n\r\n')
        elif p == "/api/up":
            c.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                      b"Connection: Upgrade\r\n\r\n")
            time.sleep(1)
            c.close()
            return
        elif p == "/pay":
            try:
                doc = json.loads(body)      # bytes: strict UTF-8
                ans = {"Outputs": {"res": {"body": doc["Data"]["req"]["Query"].get("e", "")}}}
            except ValueError as e:
                ans = {"Outputs": {"res": {"statusCode": 500, "body": "bad JSON: %s" % e}}}
            b = json.dumps(ans).encode()
            c.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                      b"Content-Length: %d\r\n\r\n" % len(b) + b)
        else:
            time.sleep(0.005)
            b = path.encode()
            c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(b) + b)

srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", int(os.environ["FUNCTIONS_CUSTOMHANDLER_PORT"])))
srv.listen(128)
while True:
    c, _ = srv.accept()
    threading.Thread(target=handle, args=(c,), daemon=True).start()
"""


@pytest.fixture(scope="module")
def naive(module_hosts):
    import sys
    desc = {"defaultExecutablePath": sys.executable, "arguments": ["handler.py"]}
    q = [{"type": "queue", "direction": "out", "name": "msg", "queueName": "naive-out"}]
    app = write_app(module_hosts.workdir + "/naive", {
        "echo": fn(), "nm": fn(), "up": fn(), "pay": fn(extra=q)},
        host=custom_host(description=desc, extra={"functionTimeout": "00:00:20"}),
        settings=settings(), files={"handler.py": PY_NAIVE_HANDLER})
    return module_hosts.start(app)


def test_a_handler_that_reads_one_request_per_read_gets_one_at_a_time(naive):
    paths = ["/api/echo?n=%d" % i for i in range(120)]
    got = burst(naive, paths, workers=30)
    for p, (st, body) in got.items():
        assert st == 200 and body == p.encode(), (p, st, body, naive.log()[-3000:])
    assert log_has(naive, "did not answer two pipelined requests")


def test_a_304_with_a_content_length_has_no_body(naive):
    r = naive.get("/api/nm", headers={"If-None-Match": '"v1"'}, timeout=30)
    # not the 504 of functionTimeout (20 s here) waiting for 1234 bytes
    assert r.status == 304 and r.body == b"", (r.status, r.body)
    assert r.header("ETag") == '"v1"'


def test_switching_protocols_fails_the_invocation_and_the_connection(naive):
    r = naive.get("/api/up", timeout=30)
    assert r.status == 500, (r.status, r.text)
    assert UUID_RE.search(r.text), r.text
    assert log_has(naive, "switched protocols")
    r = naive.get("/api/echo?after=up", timeout=30)
    assert r.status == 200 and r.text == "/api/echo?after=up"


def test_the_handler_gets_the_path_the_host_routed(naive):
    # Dot segments are resolved before routing, and the handler is sent
    # that path: never one that names another function once it resolves.
    for sent in ("/api/nm/../echo?n=1", "/api/nm/%2e%2e/echo?n=1", "/api/./%65cho?n=1"):
        r = naive.get(sent, timeout=30)
        assert r.status == 200 and r.text == "/api/echo?n=1", (sent, r.status, r.text)


def test_data_metadata_json_is_utf8_when_the_request_is_not(naive):
    r = naive.get("/api/pay?e=%FFok", timeout=30)
    assert r.status == 200, r.text
    assert r.text == "\ufffdok"




def test_a_single_threaded_keep_alive_handler_passes_the_pipelining_check(make_app, start_host):
    import sys
    desc = {"defaultExecutablePath": sys.executable, "arguments": ["handler.py"]}
    app = make_app({"echo": fn()}, host=custom_host(description=desc), settings=settings(),
                   files={"handler.py": py_echo_handler("HTTPServer", "HTTP/1.1", 0)})
    h = start_host(app)
    assert h.get("/api/echo?n=0").text == "echo /api/echo?n=0"
    assert "did not answer two pipelined requests" not in h.log()
    assert "Traceback" not in h.log() and "BrokenPipe" not in h.log()


# A single-threaded HTTP/1.1 server that counts the connections it served.
PY_ONE_AT_A_TIME = r"""
import http.server, os, time
time.sleep(float(os.environ.get("LISTEN_DELAY", "0")))
conns = 0
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def setup(self):
        global conns
        conns += 1
        super().setup()
    def do_GET(self):
        b = ("connections %d" % conns).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(b)))
        self.end_headers()
        self.wfile.write(b)
    def log_message(self, *a):
        pass
http.server.HTTPServer(("127.0.0.1", int(os.environ["FUNCTIONS_CUSTOMHANDLER_PORT"])),
                       H).serve_forever()
"""


def test_the_first_request_goes_on_the_connection_a_single_threaded_handler_serves(
        make_app, start_host):
    """Such a server serves one connection until it closes: a request that
    waited for the handler to be ready goes on the readiness connection,
    not on a new one that would wait for the idle one to be closed."""
    import sys
    desc = {"defaultExecutablePath": sys.executable, "arguments": ["handler.py"]}
    app = make_app({"echo": fn()}, host=custom_host(description=desc),
                   settings=settings({"LISTEN_DELAY": "0.5"}),
                   files={"handler.py": PY_ONE_AT_A_TIME})
    h = start_host(app)
    assert h.get("/api/echo", timeout=30).text == "connections 1"  # sent before it listens
    assert h.get("/api/echo").text == "connections 1"


# ---- processes ----

def test_readiness_first_request_waits(make_app, start_host):
    app = make(make_app, values={"START_DELAY_MS": "1500"})
    h = start_host(app)
    r = h.get("/api/echo", timeout=30)  # sent before the handler listens
    assert r.status == 200
    assert h.get("/api/env").json()["probes"] >= 1
    assert log_has(h, "ready on port")


def test_readiness_gives_up_after_startup_timeout(make_app, start_host):
    host = custom_host(extra={"stratus": {"customHandler": {"startupTimeout": "00:00:01"}}})
    app = make(make_app, host=host, values={"START_DELAY_MS": "600000"})
    h = start_host(app)
    r = h.get("/api/echo", timeout=60)
    assert r.status == 503
    assert log_has(h, "did not answer GET /")
    assert "startupTimeout" in r.text


def test_stdout_and_stderr_become_log_lines(make_app, start_host):
    h = start_host(make(make_app), mode="host")
    assert h.get("/api/log").text == "logged"

    def find():
        levels = {}
        for line in h.log().splitlines():
            try:
                l = json.loads(line)
            except ValueError:
                continue
            if l.get("message") in ("a line on stdout", "a line on stderr",
                                    "WARNING: a warning on stderr"):
                levels[l["message"]] = (l["level"], l.get("category"), l.get("invocationId"))
        return len(levels) == 3 and levels

    got = wait_for(find, timeout=10)
    assert got, h.log()
    assert got["a line on stdout"][0] == "info"
    assert got["a line on stderr"][0] == "error"
    # A stderr line that says "warn" is a warning, as in Azure.
    assert got["WARNING: a warning on stderr"][0] == "warning"
    assert got["a line on stdout"][1] == "Function.log"
    assert got["a line on stdout"][2]


def test_crash_fails_in_flight_and_restarts(make_app, start_host):
    h = start_host(make(make_app))
    pid1 = h.get("/api/env").json()["pid"]
    r = h.get("/api/crash")
    assert r.status == 500
    assert r.header("x-invocation-id") in r.text
    # The next request waits for the restarted handler.
    r = h.get("/api/env", timeout=30)
    assert r.status == 200
    assert r.json()["pid"] != pid1
    st = status(h)
    assert st["workers"]["crashes"] == 1
    assert st["workers"]["customHandler"] == "running"
    assert "exited with status 3" in st["workers"]["lastCrash"]


def test_reload_after_the_executable_was_replaced(make_app, start_host, tmp_path,
                                                  monkeypatch):
    """An upgrade replaces the stratus file under a running host: reloads
    still start their handler (through the executable the host runs)."""
    import shutil
    import conftest
    exe = tmp_path / "bin" / "stratus"
    exe.parent.mkdir()
    shutil.copy(conftest.BIN, exe)
    monkeypatch.setattr(conftest, "BIN", str(exe))
    app = make(make_app)
    h = start_host(app)
    pid1 = h.get("/api/env").json()["pid"]
    shutil.copy(str(exe), str(exe) + ".new")
    os.replace(str(exe) + ".new", str(exe))
    with open(os.path.join(app, "server.js"), "a") as f:
        f.write("\n// a new version of the app\n")
    assert wait_for(lambda: log_has(h, "Host reloaded"), timeout=30), h.log()[-3000:]
    r = h.get("/api/env", timeout=30)
    assert r.status == 200, (r.status, r.text, h.log()[-3000:])
    assert r.json()["pid"] != pid1
    assert "cannot start the custom handler" not in h.log(), h.log()[-3000:]


# A handler program at bin/handler, as `go build -o bin/handler` leaves one:
# an executable file without an extension (here a Python script). It says
# its VERSION, its pid and the setting GREETING; ?wait=FILE waits for FILE.
HANDLER_PROGRAM = r"""#!/usr/bin/env python3
import http.server, os, sys, time
VERSION = "%s"
if os.environ.get("BREAK_AT_START"):
    print("handler: refusing to start", file=sys.stderr, flush=True)
    sys.exit(5)
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if "wait=" in self.path:
            path = self.path.split("wait=")[1]
            for _ in range(6000):
                if os.path.exists(path):
                    break
                time.sleep(0.01)
        b = ("%%s %%d %%s" %% (VERSION, os.getpid(), os.environ.get("GREETING"))).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(b)))
        self.end_headers()
        self.wfile.write(b)
    def log_message(self, *a):
        pass
http.server.ThreadingHTTPServer(("127.0.0.1", int(os.environ["FUNCTIONS_CUSTOMHANDLER_PORT"])),
                                H).serve_forever()
"""


def write_program(path, version):
    tmp = path + ".new"
    with open(tmp, "w") as f:
        f.write(HANDLER_PROGRAM % version)
    os.chmod(tmp, 0o755)
    if os.path.exists(path):
        with open(path, "w") as f:  # rewritten in place, as a compiler does
            f.write(HANDLER_PROGRAM % version)
        os.unlink(tmp)
    else:
        os.replace(tmp, path)


def test_reload_restarts_a_rebuilt_handler_and_refuses_one_that_does_not_start(
        make_app, start_host, tmp_path):
    """`stratus start` watching a custom handler app: the handler program
    (bin/handler, a path with a folder) rebuilt in place is started again
    and serves the next request, while a request in flight finishes on the
    old one; local.settings.json reaches the new handler's environment. A
    handler that exits at start is not swapped in: the reload is refused,
    the running handler keeps serving, and the fix is served once saved."""
    import shutil
    if not shutil.which("python3"):
        pytest.skip("needs python3")
    app = make_app({"hello": fn()}, host=custom_host(description={
        "defaultExecutablePath": "bin/handler"}),
        settings=settings({"GREETING": "g1"}))
    prog = os.path.join(app, "bin", "handler")
    os.makedirs(os.path.dirname(prog))
    write_program(prog, "v1")
    h = start_host(app)

    def body():
        r = h.get("/api/hello", timeout=30)
        return r.text.split() if r.status == 200 else [str(r.status)]

    assert wait_for(lambda: body()[0] == "v1", timeout=30), h.log()[-3000:]
    release = str(tmp_path / "release")
    result = {}
    t = threading.Thread(target=lambda: result.update(
        r=h.get("/api/hello?wait=" + release, timeout=120)))
    t.start()
    try:
        assert wait_for(lambda: scale(h)["inFlight"] == 1, timeout=30)
        write_program(prog, "v2")
        assert wait_for(lambda: body()[0] == "v2", timeout=60), h.log()[-3000:]
        assert "r" not in result
    finally:
        open(release, "w").close()
        t.join(120)
    assert result["r"].status == 200 and result["r"].text.startswith("v1 "), result
    with open(os.path.join(app, "local.settings.json"), "w") as f:
        json.dump(settings({"GREETING": "g2"}), f)
    assert wait_for(lambda: body()[::2] == ["v2", "g2"], timeout=60), h.log()[-3000:]
    v2, pid = body()[0], body()[1]

    # broken: exits at start; the reload is refused, the running one serves
    with open(os.path.join(app, "local.settings.json"), "w") as f:
        json.dump(settings({"GREETING": "g3", "BREAK_AT_START": "1"}), f)
    assert wait_for(lambda: "Reload refused" in h.log(), timeout=60), h.log()[-3000:]
    errors = "\n".join(status(h)["errors"])
    assert "custom runtime: the custom handler did not start: custom handler 1" in errors, errors
    assert "exited unexpectedly (exited with status 5)" in errors, errors
    assert "handler: refusing to start" in h.log()
    assert body() == [v2, pid, "g2"]
    assert status(h)["workers"]["customHandler"] == "running"
    # fixed
    with open(os.path.join(app, "local.settings.json"), "w") as f:
        json.dump(settings({"GREETING": "g4"}), f)
    assert wait_for(lambda: body()[::2] == ["v2", "g4"], timeout=60), h.log()[-3000:]
    assert status(h)["errors"] == []
    assert "crashed 3 times" not in h.log()


def test_a_stop_during_a_reload_does_not_wait_for_the_new_handler(make_app, start_host):
    """A reload waits for its new handler to answer; a SIGTERM meanwhile
    ends the wait (the new version is dropped) instead of holding the stop
    up until the handler starts."""
    app = make(make_app)
    h = start_host(app)
    assert h.get("/api/echo").status == 200
    with open(os.path.join(app, "local.settings.json"), "w") as f:
        json.dump(settings({"START_DELAY_MS": "120000"}), f)
    assert log_has(h, "Reloading all functions", timeout=30)
    assert h.get("/api/echo").status == 200  # the running handler serves meanwhile
    start = time.time()
    assert h.stop(timeout=60) == 0
    assert time.time() - start < 20, "the stop waited for the new handler"
    assert "Host reloaded" not in h.log()


def test_exit_status_200_asks_for_a_restart_and_is_no_crash(make_app, start_host):
    # Azure's host restarts a handler that exits with status 200 without
    # counting it among the crashes that stop the app.
    h = start_host(make(make_app, functions=dict(FORWARD_FNS, restart=fn())))

    def pid():
        try:
            return h.get("/api/env").json()["pid"]
        except ValueError:  # a request that met the process on its way out
            return None

    for _ in range(4):
        old = pid()
        assert h.get("/api/restart").text == "restarting"
        assert wait_for(lambda: pid() not in (None, old), timeout=20), h.log()
    workers = status(h)["workers"]
    assert workers["customHandler"] != "stopped" and workers["crashes"] == 0, workers
    assert log_has(h, "exited to be restarted (exited with status 200)")


def test_three_crashes_stop_the_app(make_app, start_host):
    fns = dict(FORWARD_FNS)
    fns["jobs"] = {"function.json": {"bindings": [
        {"type": "queueTrigger", "direction": "in", "name": "msg", "queueName": "jobs-q"}]}}
    app = make(make_app, functions=fns, values={"EXIT_AT_START": "1"})
    h = start_host(app)
    r = h.get("/api/echo", timeout=60)
    assert r.status == 503
    assert "crashed 3 times within 30 minutes" in r.text
    st = status(h)
    assert st["workers"]["customHandler"] == "stopped"
    assert any("custom handler stopped" in e for e in st["errors"])
    assert log_has(h, "Only this app is stopped")
    assert log_has(h, "failing at start on purpose")
    # The host itself goes on.
    assert h.get("/admin/host/ping").status == 200
    r = h.get("/api/echo")
    assert r.status == 503 and r.header("Retry-After") is None  # stopped until a restart
    assert scale(h)["state"] == "stopped"
    # A queue message meanwhile is not spent on the stopped handler: it stays
    # in its queue (not in jobs-q-poison) until the host restarts.
    def cli(*args):
        return subprocess.run([BIN, "queue", *args, "--app", app, "--port", str(h.port),
                               "--json"], capture_output=True, text=True, timeout=30)
    assert cli("put", "jobs-q", "while stopped").returncode == 0
    assert wait_for(lambda: log_has(h, "queue 'jobs-q' is not read until the host restarts"),
                    timeout=20), h.log()[-3000:]
    time.sleep(1.5)
    queues = json.loads(cli("list").stdout)
    text = json.dumps(queues)
    assert "jobs-q-poison" not in text, text
    assert [(q["name"], q["visible"] + q["invisible"]) for q in queues] == [("jobs-q", 1)], text


def test_function_timeout_answers_504_and_handler_goes_on(make_app, start_host):
    h = start_host(make(make_app, host=custom_host(extra={"functionTimeout": "00:00:01"})))
    pid = h.get("/api/env").json()["pid"]
    assert os.sched_getscheduler(pid) == os.SCHED_BATCH  # as every worker process
    r = h.get("/api/slow?ms=5000", timeout=30)
    assert r.status == 504
    assert "functionTimeout" in r.text
    assert h.get("/api/env").json()["pid"] == pid
    assert scale(h)["timeouts"] == 1


def test_a_hung_handler_is_replaced_after_a_function_timeout(make_app, start_host):
    """A handler that stops answering altogether (here: SIGSTOP) fails its
    invocations with 504 at functionTimeout; it is then checked with GET /,
    and as it does not answer within startupTimeout it is killed and a new
    one serves."""
    host = custom_host(extra={"functionTimeout": "00:00:01",
                              "stratus": {"customHandler": {"startupTimeout": "00:00:02"}}})
    h = start_host(make(make_app, host=host))
    pid = h.get("/api/env").json()["pid"]
    os.kill(pid, signal.SIGSTOP)
    try:
        r = h.get("/api/env", timeout=30)
        assert r.status == 504, r.text
        assert log_has(h, "did not answer an invocation within functionTimeout")
        assert log_has(h, "it stopped answering: no answer to GET /")
        r = h.get("/api/env", timeout=30)
        assert r.status == 200, r.text
        assert r.json()["pid"] != pid
    finally:
        try:
            os.kill(pid, signal.SIGCONT)
        except ProcessLookupError:
            pass


def test_scale_out_and_idle_stop(make_app, start_host):
    host = custom_host(extra={"stratus": {"scale": {"maxInstances": 2, "perInstanceConcurrency": 1,
                                                    "idleTimeout": "00:00:01"}}})
    h = start_host(make(make_app, host=host))
    assert h.get("/api/echo").status == 200
    results = []

    def slow():
        results.append(h.get("/api/slow?ms=1500", timeout=60).status)

    threads = [threading.Thread(target=slow) for _ in range(3)]
    for t in threads:
        t.start()
    seen = wait_for(lambda: scale(h)["instances"] == 2 and scale(h), timeout=30)
    for t in threads:
        t.join()
    assert results == [200, 200, 200]
    assert seen, scale(h)
    assert len({w["port"] for w in seen["workers"]}) == 2
    assert seen["runtime"] == "custom"
    # Idle beyond the minimum (one process): back to one.
    assert wait_for(lambda: scale(h)["instances"] == 1, timeout=30), scale(h)
    assert h.get("/api/echo").status == 200


def test_handler_dies_with_the_host(make_app, start_host):
    h = start_host(make(make_app))
    pid = h.get("/api/env").json()["pid"]
    os.kill(h.proc.pid, signal.SIGKILL)
    h.proc.wait(10)

    def gone():
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        # A zombie of an exited process counts as gone.
        try:
            with open("/proc/%d/stat" % pid) as f:
                return f.read().split(")")[1].split()[0] == "Z"
        except OSError:
            return True

    assert wait_for(gone, timeout=10)


def test_host_stop_stops_the_handler(make_app, start_host):
    h = start_host(make(make_app))
    pid = h.get("/api/env").json()["pid"]
    assert h.stop() == 0
    assert wait_for(lambda: not os.path.exists("/proc/%d" % pid) or
                    open("/proc/%d/stat" % pid).read().split(")")[1].split()[0] == "Z",
                    timeout=10)


# ---- a handler in C ----

C_HANDLER = r"""
/* A tiny HTTP/1.1 server with libc only: keep-alive, Content-Length bodies,
 * several connections at once (poll). GET / and /api/... answer text; POST
 * /{function} answers the Data/Metadata JSON. */
#include <arpa/inet.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAXC 256
static char buf[MAXC][65536];
static size_t len[MAXC];

static void reply(int fd, const char *type, const char *body)
{
    char out[70000];
    int n = snprintf(out, sizeof out, "HTTP/1.1 200 OK\r\nContent-Type: %s\r\n"
                     "Content-Length: %zu\r\n\r\n%s", type, strlen(body), body);
    write(fd, out, (size_t)n);
}

static int handle(int fd, char *b, size_t n)
{
    char *end = strstr(b, "\r\n\r\n");
    if (!end)
        return 0;
    size_t head = (size_t)(end + 4 - b), clen = 0;
    char *cl = strcasestr(b, "\r\ncontent-length:");
    if (cl && cl < end)
        clen = strtoul(cl + 17, NULL, 10);
    if (n < head + clen)
        return 0;
    char method[16] = "", path[1024] = "";
    sscanf(b, "%15s %1023s", method, path);
    char body[4096];
    if (!strcmp(method, "POST") && path[1] && !strstr(path, "/api/")) {
        snprintf(body, sizeof body, "{\"Outputs\":{\"res\":{\"body\":\"C handled %s\","
                 "\"headers\":{\"X-Lang\":\"c\"}}},\"Logs\":[\"from the C handler\"]}", path + 1);
        reply(fd, "application/json", body);
    } else {
        snprintf(body, sizeof body, "hello from C: %s %s (%zu bytes)", method, path, clen);
        reply(fd, "text/plain", body);
    }
    return (int)(head + clen);
}

int main(void)
{
    const char *p = getenv("FUNCTIONS_CUSTOMHANDLER_PORT");
    int ls = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_port = htons((unsigned short)atoi(p ? p : "0"));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(ls, (struct sockaddr *)&a, sizeof a) || listen(ls, 64))
        return 1;
    printf("C handler on %s\n", p);
    fflush(stdout);
    struct pollfd fds[MAXC + 1];
    int nfds = 0;
    for (;;) {
        fds[0].fd = ls;
        fds[0].events = POLLIN;
        if (poll(fds, (nfds_t)nfds + 1, -1) < 0)
            continue;
        for (int i = 1; i <= nfds; i++) {
            if (!fds[i].revents)
                continue;
            ssize_t r = read(fds[i].fd, buf[i] + len[i], sizeof buf[i] - 1 - len[i]);
            if (r <= 0) {
                close(fds[i].fd);
                fds[i] = fds[nfds];
                memcpy(buf[i], buf[nfds], len[nfds]);
                len[i] = len[nfds];
                nfds--;
                i--;
                continue;
            }
            len[i] += (size_t)r;
            buf[i][len[i]] = 0;
            int used;
            while ((used = handle(fds[i].fd, buf[i], len[i])) > 0) {
                memmove(buf[i], buf[i] + used, len[i] - (size_t)used + 1);
                len[i] -= (size_t)used;
            }
        }
        if (fds[0].revents && nfds < MAXC) {
            int c = accept(ls, NULL, NULL);
            if (c >= 0) {
                nfds++;
                fds[nfds].fd = c;
                fds[nfds].events = POLLIN;
                fds[nfds].revents = 0;
                len[nfds] = 0;
            }
        }
    }
}
"""


def test_compiled_c_handler(make_app, start_host):
    fns = {"hello": fn(), "data": fn(out=["res", "$return"])}
    app = make_app(fns, host=custom_host(description={"defaultExecutablePath": "handler"}),
                   settings=settings(), files={"handler.c": C_HANDLER})
    subprocess.run(["cc", "-O1", "-D_GNU_SOURCE", "-w", "-o", os.path.join(app, "handler"),
                    os.path.join(app, "handler.c")], check=True)
    h = start_host(app)
    r = h.post("/api/hello?x=1", body=b"12345")
    assert r.status == 200
    assert r.text == "hello from C: POST /api/hello?x=1 (5 bytes)"
    r = h.get("/api/data")
    assert r.status == 200
    assert r.text == "C handled data"
    assert r.header("X-Lang") == "c"
    assert log_has(h, "C handler on")
    assert log_has(h, "from the C handler")
    # Many requests at once, over kept-alive connections.
    out = []

    def many():
        for i in range(20):
            out.append(h.get("/api/hello?i=%d" % i).status)

    ts = [threading.Thread(target=many) for _ in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert out == [200] * 80
