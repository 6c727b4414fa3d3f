"""The Python runtime end to end (FUNCTIONS_WORKER_RUNTIME=python): Azure
Functions Python (v1 model) apps served by the real host through the worker
shim of runtimes/python/. HTTP requests and responses, func.Out and
$return, logs in the host's log with the invocation id, user exceptions,
load errors, async concurrency, functionTimeout, and that an installed
azure.functions is used rather than the shim's stand-in.

Most tests share one host (`stratus host`, JSON logs) running one worker
(minInstances = maxInstances = 1), so "the same worker" is certain.
Concurrency is proven by two requests that can only finish together, never
by timing."""
import concurrent.futures
import json
import os
import re
import socket
import subprocess
import sys
import time

import pytest

from conftest import master_key, wait_for, write_app

UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
PY_SETTINGS = {"IsEncrypted": False, "Values": {"FUNCTIONS_WORKER_RUNTIME": "python"}}
ONE_WORKER = {"scale": {"minInstances": 1, "maxInstances": 1}}


def py_fn(code, route=None, methods=None, out="$return", extra_bindings=(), script=None,
          entry=None):
    """A Python function folder: function.json + __init__.py (or script)."""
    trig = {"authLevel": "anonymous", "type": "httpTrigger", "direction": "in", "name": "req"}
    if route is not None:
        trig["route"] = route
    if methods is not None:
        trig["methods"] = methods
    fj = {"bindings": [trig, {"type": "http", "direction": "out", "name": out}] +
          list(extra_bindings)}
    if script:
        fj["scriptFile"] = script
    if entry:
        fj["entryPoint"] = entry
    return {"function.json": fj, (script or "__init__.py"): code}


ECHO = '''
import json
import azure.functions as func

def main(req: func.HttpRequest) -> func.HttpResponse:
    body = {"method": req.method, "url": req.url, "params": dict(req.params),
            "route": dict(req.route_params), "x_test": req.headers.get("X-Test"),
            "ua": req.headers.get("user-agent"), "len": len(req.get_body())}
    if req.headers.get("content-type", "").startswith("application/json"):
        try:
            body["json"] = req.get_json()
        except ValueError:
            return func.HttpResponse("bad json", status_code=400)
    return func.HttpResponse(json.dumps(body), mimetype="application/json")
'''

BINARY = '''
import azure.functions as func

def main(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(bytes(reversed(req.get_body())),
                             mimetype="application/octet-stream")
'''

STATUS = '''
import azure.functions as func

def main(req: func.HttpRequest) -> func.HttpResponse:
    r = func.HttpResponse("status " + req.params["code"], status_code=int(req.params["code"]),
                          headers={"X-Custom": "yes"})
    r.headers["Cache-Control"] = "no-store"
    return r
'''

OUT_HTTP = '''
import azure.functions as func

def main(req: func.HttpRequest, res: func.Out[func.HttpResponse]) -> None:
    res.set(func.HttpResponse("set through func.Out", status_code=202))
'''

RETURN_STR = '''
def main(req):
    return "returned a str"
'''

NOTHING = '''
import azure.functions as func

def main(req: func.HttpRequest, res: func.Out[func.HttpResponse]):
    if req.params.get("set"):
        res.set(func.HttpResponse("set"))
    return None
'''

RETURN_NONE = '''
def main(req):
    req.get_body()
'''

LOGS = '''
import logging
import azure.functions as func

log = logging.getLogger("app.child")

def main(req: func.HttpRequest, context: func.Context) -> func.HttpResponse:
    mark = req.params["mark"]
    logging.info("logging line %s", mark)
    log.warning("child logger line %s", mark)
    print("printed line", mark)
    return func.HttpResponse(context.invocation_id)
'''

BOOM = '''
import os
import azure.functions as func

def check(value):
    if value != "ok":
        raise ValueError("unexpected value %r" % value)

def main(req: func.HttpRequest) -> func.HttpResponse:
    check(req.params.get("v"))
    return func.HttpResponse(str(os.getpid()))
'''

PAIR = '''
import asyncio
import os
import azure.functions as func

_released = None

async def main(req: func.HttpRequest) -> func.HttpResponse:
    global _released
    if _released is None:
        _released = asyncio.Event()
    if req.params.get("role") == "wait":
        # Finishes only if the other request runs while this one waits.
        await asyncio.wait_for(_released.wait(), 60)
        return func.HttpResponse("released %d" % os.getpid())
    await asyncio.sleep(float(req.params.get("delay", "0")))
    _released.set()
    return func.HttpResponse("releasing %d" % os.getpid())
'''

SLOW_ASYNC = '''
import asyncio
import time
import azure.functions as func

async def main(req: func.HttpRequest) -> func.HttpResponse:
    start = time.time()
    await asyncio.sleep(float(req.params.get("s", "1")))
    return func.HttpResponse("%f %f" % (start, time.time()))
'''

BROKEN = "import azure.functions as func\n\nx = = 1\n\ndef main(req):\n    pass\n"
NO_MAIN = "def handler(req):\n    return 'never'\n"
NO_MODULE = "import azure.functions as func\nimport not_installed_pkg\n\ndef main(req):\n    pass\n"

AZ_REQUEST = '''
import json
import os
import azure.functions as func

def main(req: func.HttpRequest) -> func.HttpResponse:
    out = {"params": dict(req.params), "route": dict(req.route_params),
           "multi": req.headers.get("x-multi"), "empty_header": req.headers.get("x-empty"),
           "form": {k: req.form.getlist(k) for k in req.form},
           "script_root": os.environ.get("AzureWebJobsScriptRoot")}
    try:
        out["json"] = req.get_json()
    except ValueError as e:
        out["json_error"] = "%s: %s" % (type(e).__name__, e)
    return func.HttpResponse(json.dumps(out), mimetype="application/json")
'''

AZ_RESPONSE = '''
import http
import json
import azure.functions as func

def main(req: func.HttpRequest) -> func.HttpResponse:
    r = func.HttpResponse("made", status_code=http.HTTPStatus.CREATED,
                          headers={"X-Request-Id": "42"})
    r.headers.add("Set-Cookie", "a=1; Path=/")
    r.headers.add_header("Set-Cookie", "b=2", max_age=60)
    r.headers["Cache-Control"] = "no-store"
    r.headers["X-Seen"] = json.dumps({
        "status": [r.status_code, type(r.status_code).__name__],
        "names": list(r.headers), "cookies": r.headers.get_all("set-cookie"),
        "first": r.headers["SET-COOKIE"], "has": "x-request-id" in r.headers})
    return r
'''

WSGI_APP = '''
import json
import azure.functions as func

def app(environ, start_response):
    if environ["REQUEST_METHOD"] == "HEAD":
        # As Flask answers HEAD: no body, the length of the GET answer.
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "11")])
        return []
    if environ["PATH_INFO"].endswith("/fail"):
        start_response("503 Service Unavailable", [("Content-Type", "text/plain")])
        return [b"down"]
    size = int(environ.get("CONTENT_LENGTH") or 0)
    seen = {k: environ[k] for k in ("REQUEST_METHOD", "PATH_INFO", "QUERY_STRING", "CONTENT_TYPE",
                                    "SERVER_NAME", "HTTP_X_TEST", "azure_functions.function_name")}
    seen["body"] = environ["wsgi.input"].read(size).decode()
    seen["has_invocation_id"] = bool(environ.get("azure_functions.invocation_id"))
    start_response("201 Created", [("Content-Type", "application/json"),
                                   ("Set-Cookie", "a=1"), ("Set-Cookie", "b=2")])
    return [json.dumps(seen).encode()]

main = func.WsgiMiddleware(app).main
'''

ASGI_APP = '''
import json
import azure.functions as func

async def app(scope, receive, send):
    msg = await receive()
    seen = {"type": scope["type"], "method": scope["method"], "path": scope["path"],
            "query": scope["query_string"].decode(), "body": msg["body"].decode(),
            "x_test": dict(scope["headers"]).get(b"x-test", b"").decode(),
            "function": scope["azure_functions.function_name"]}
    data = json.dumps(seen).encode()
    await send({"type": "http.response.start", "status": 202,
                "headers": [(b"content-type", b"application/json"), (b"x-asgi", b"yes")]})
    await send({"type": "http.response.body", "body": data[:5], "more_body": True})
    await send({"type": "http.response.body", "body": data[5:]})

async def main(req: func.HttpRequest, context: func.Context) -> func.HttpResponse:
    return await func.AsgiMiddleware(app).handle_async(req, context)
'''

THREAD_LOGS = '''
import logging
import threading
import azure.functions as func

def work(context, mark):
    # Azure's documented way to tie a thread's logs to the invocation.
    context.thread_local_storage.invocation_id = context.invocation_id
    logging.info("thread line %s", mark)

def main(req: func.HttpRequest, context: func.Context) -> func.HttpResponse:
    mark = req.params["mark"]
    t = threading.Thread(target=work, args=(context, mark))
    t.start()
    t.join()
    own = context.thread_local_storage.invocation_id
    return func.HttpResponse("%s %s" % (context.invocation_id, own == context.invocation_id))
'''


# What user code does wrong: each case fails only its invocation (or is
# mended), and the worker goes on.
MISBEHAVE = r'''
import os
import azure.functions as func

class Weird(Exception):
    def __str__(self):
        raise RuntimeError("no text")

def main(req: func.HttpRequest, msg: func.Out[str]) -> func.HttpResponse:
    k = req.params.get("k")
    cut = "x\ud83d\ude00y"[:2]
    if k == "pid":
        return func.HttpResponse(str(os.getpid()))
    if k == "bigline":
        print("big" + "x" * 1100000)
        return func.HttpResponse("printed")
    if k == "nan":
        msg.set(float("nan"))
        return func.HttpResponse("set")
    if k == "weird":
        raise Weird()
    if k == "cutraise":
        raise ValueError("bad " + cut + " text")
    if k == "cutprint":
        print("lone " + cut + " print")
        return func.HttpResponse("ok")
    if k == "header":
        return func.HttpResponse(req.headers.get("x-bin", "none"))
    if k == "status":
        return func.HttpResponse("s", status_code=int(req.params["s"]) if req.params["s"].lstrip("-").isdigit() else req.params["s"])
    if k == "badname":
        return func.HttpResponse("x", headers={"Bad Name": "v", "X-Good": "g"})
    if k == "marker":
        msg.set({"$binary": "aGVsbG8="})
        return func.HttpResponse("set")
    if k == "request":
        r = func.HttpRequest("post", "http://x/y", body="text")
        return func.HttpResponse("%s %r" % (r.method, r.get_body()))
    return func.HttpResponse("?")
'''

# A function folder named like a standard module, beside one that uses it.
EMAIL_FN = r'''
def main(req):
    return "the email function"
'''

USES_EMAIL = r'''
import email.utils

def main(req):
    return email.utils.quote('a"b')
'''


AZ_CONTEXT = '''
import json

import azure.functions


def main(req: azure.functions.HttpRequest, context: azure.functions.Context):
    tc = context.trace_context
    return json.dumps({
        "name": context.function_name,
        "dir": context.function_directory,
        "id": context.invocation_id,
        "Traceparent": tc.Traceparent,
        "Tracestate": tc.Tracestate,
        "Attributes": tc.Attributes,
        "trace_parent": tc.trace_parent,
    })
'''


@pytest.fixture(scope="module")
def py_host(module_hosts):
    app = write_app(os.path.join(module_hosts.workdir, "pyapp"), {
        "echo": py_fn(ECHO, route="echo/{name?}"),
        "binary": py_fn(BINARY, methods=["post"]),
        "status": py_fn(STATUS),
        "outhttp": py_fn(OUT_HTTP, out="res"),
        "retstr": py_fn(RETURN_STR),
        "retnone": py_fn(RETURN_NONE),
        "unsetout": py_fn(NOTHING, out="res"),
        "nohttpout": {"function.json": {"bindings": [
            {"authLevel": "anonymous", "type": "httpTrigger", "direction": "in",
             "name": "req"}]}, "__init__.py": RETURN_NONE},
        "logs": py_fn(LOGS),
        "boom": py_fn(BOOM),
        "pair": py_fn(PAIR),
        "slow": py_fn(SLOW_ASYNC),
        "broken": py_fn(BROKEN),
        "nomain": py_fn(NO_MAIN),
        "nomodule": py_fn(NO_MODULE),
        "azreq": py_fn(AZ_REQUEST, route="azreq/{a}/{b?}"),
        "azresp": py_fn(AZ_RESPONSE),
        "threadlogs": py_fn(THREAD_LOGS),
        "wsgiapp": py_fn(WSGI_APP, route="wsgi/{*rest}"),
        "asgiapp": py_fn(ASGI_APP, route="asgi/{*rest}"),
        "misbehave": py_fn(MISBEHAVE, extra_bindings=[
            {"type": "queue", "direction": "out", "name": "msg", "queueName": "py-out"}]),
        "email": py_fn(EMAIL_FN),
        "azure": py_fn(EMAIL_FN.replace("email", "azure")),
        "usesemail": py_fn(USES_EMAIL),
        "azctx": py_fn(AZ_CONTEXT, script="main.py"),
    }, host={"version": "2.0", "stratus": ONE_WORKER}, settings=PY_SETTINGS,
        files={"requirements.txt": "azure-functions\nnot-installed-pkg==1.0\n"})
    return module_hosts.start(app, mode="host")


def test_context_as_azures_worker_gives_it(py_host):
    # Azure's own worker test function (return_context) and its OpenTelemetry
    # samples read context.trace_context.Traceparent and .Tracestate.
    tp = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    r = py_host.get("/api/azctx", headers={"traceparent": tp, "tracestate": "k=v"})
    assert r.status == 200, r.text
    info = json.loads(r.text)
    assert info["name"] == "azctx"
    assert info["dir"] == os.path.join(py_host.app, "azctx")
    assert UUID_RE.fullmatch(info["id"])
    assert info["Traceparent"].startswith("00-0af7651916cd43dd8448eb211c80319c-")
    assert info["Traceparent"] == info["trace_parent"]
    assert info["Tracestate"] == "k=v"
    assert info["Attributes"] == {}


def _log_has(host, pred):
    lines = wait_for(lambda: [x for x in _log_lines(host) if pred(x)], timeout=20)
    assert lines, host.log()[-3000:]
    return lines[0]


def test_misbehaving_code_fails_only_its_invocation(py_host):
    pid = py_host.get("/api/misbehave?k=pid").text
    # A line over a frame's limit is cut, not fatal.
    r = py_host.get("/api/misbehave?k=bigline")
    assert r.status == 200 and r.text == "printed", r.text
    line = _log_has(py_host, lambda x: x.get("message", "").startswith("bigxxx"))
    assert line["message"].endswith("more characters cut)"), line["message"][-80:]
    # NaN is not JSON: the binding is named, the worker stays.
    r = py_host.get("/api/misbehave?k=nan")
    assert r.status == 500
    inv = r.header("x-invocation-id")
    e = _log_has(py_host, lambda x: x.get("invocationId") == inv and x.get("level") == "error")
    assert "output binding 'msg'" in json.dumps(e), e
    # An exception whose __str__ raises.
    r = py_host.get("/api/misbehave?k=weird")
    assert r.status == 500
    inv = r.header("x-invocation-id")
    e = _log_has(py_host, lambda x: x.get("invocationId") == inv and x.get("level") == "error")
    assert "Weird: <str() of the exception failed: RuntimeError>" in json.dumps(e), e
    assert py_host.get("/api/misbehave?k=pid").text == pid


def test_a_lone_surrogate_becomes_u_fffd_in_logs_and_errors(py_host):
    r = py_host.get("/api/misbehave?k=cutprint")
    assert r.status == 200
    _log_has(py_host, lambda x: x.get("message") == "lone x\ufffd print")
    r = py_host.get("/api/misbehave?k=cutraise")
    assert r.status == 500
    inv = r.header("x-invocation-id")
    e = _log_has(py_host, lambda x: x.get("invocationId") == inv and x.get("level") == "error")
    assert "ValueError: bad x\ufffd text" in (e.get("message", "") + e.get("reason", "")), e


def test_request_bytes_that_are_not_utf8_read_as_u_fffd(py_host):
    r = py_host.request("GET", "/api/misbehave?k=header", headers={"X-Bin": b"a\xff\xfeb"})
    assert r.status == 200, r.text
    assert r.text == "a\ufffd\ufffdb"


@pytest.mark.parametrize("status,expect", [("201", 201), ("99", 500), ("1000", 500),
                                           ("abc", 500), ("-1", 500)])
def test_response_status_codes_outside_200_to_599_fail(py_host, status, expect):
    r = py_host.get("/api/misbehave?k=status&s=" + status)
    assert r.status == expect, (status, r.status, r.text)
    if expect == 500:
        inv = r.header("x-invocation-id")
        e = _log_has(py_host, lambda x: x.get("invocationId") == inv and
                     x.get("level") == "error")
        assert "is not a number from 200 to 599" in json.dumps(e), e


def test_a_header_name_that_is_not_a_token_is_left_out(py_host):
    r = py_host.get("/api/misbehave?k=badname")
    assert r.status == 200 and r.header("X-Good") == "g"
    assert "Bad Name" not in [k for k, v in r.headers]
    _log_has(py_host, lambda x: "'Bad Name' is left out" in x.get("message", ""))


def test_an_output_dict_shaped_like_the_bytes_marker_is_written_as_json(py_host):
    assert py_host.get("/api/misbehave?k=marker").status == 200
    r = py_host.get("/admin/queues/py-out/messages?peek=32",
                    headers={"x-functions-key": master_key(py_host.app)})
    bodies = [m["body"] for m in r.json()["messages"]]
    assert '{"$binary":"aGVsbG8="}' in bodies, bodies


def test_http_request_built_by_hand_as_azures_library(py_host):
    assert py_host.get("/api/misbehave?k=request").text == "POST b'text'"


def test_a_function_named_like_a_standard_module_does_not_hide_it(py_host):
    assert py_host.get("/api/email").text == "the email function"
    # nor one named like the package every function imports
    assert py_host.get("/api/azure").text == "the azure function"
    assert py_host.get("/api/echo/x").status == 200
    r = py_host.get("/api/usesemail")
    assert r.status == 200 and r.text == 'a\\"b', r.text


def test_route_params_query_and_headers(py_host):
    r = py_host.get("/api/echo/ann?x=1&x=2&empty=&sp=a%20b",
                    headers={"X-Test": "hello", "User-Agent": "e2e"})
    assert r.status == 200, r.text
    assert r.header("Content-Type") == "application/json"
    body = r.json()
    assert body["method"] == "GET"
    assert body["url"].endswith("/api/echo/ann?x=1&x=2&empty=&sp=a%20b")
    # As in Azure: a parameter without a value is left out.
    assert body["params"] == {"x": "1,2", "sp": "a b"}
    assert body["route"] == {"name": "ann"}
    assert body["x_test"] == "hello" and body["ua"] == "e2e"
    # An optional route parameter that is absent is not in route_params.
    r = py_host.get("/api/echo")
    assert r.status == 200 and r.json()["route"] == {}


def test_json_body(py_host):
    r = py_host.post("/api/echo", body=json.dumps({"a": [1, 2], "b": "\u00e9"}).encode(),
                     headers={"Content-Type": "application/json"})
    assert r.status == 200
    assert r.json()["json"] == {"a": [1, 2], "b": "\u00e9"}
    r = py_host.post("/api/echo", body=b"{not json", headers={"Content-Type": "application/json"})
    assert r.status == 400 and r.body == b"bad json"


def test_binary_body_both_ways(py_host):
    data = bytes(range(256)) * 512 + b"\x00\xff\r\n"
    r = py_host.post("/api/binary", body=data)
    assert r.status == 200
    assert r.header("Content-Type") == "application/octet-stream"
    assert r.body == bytes(reversed(data))


@pytest.mark.parametrize("code", [201, 204, 302, 404, 418, 503])
def test_status_codes_and_headers(py_host, code):
    r = py_host.get("/api/status?code=%d" % code)
    assert r.status == code
    assert r.header("X-Custom") == "yes"
    assert r.header("Cache-Control") == "no-store"
    if code not in (204, 304):
        assert r.body == b"status %d" % code
        assert r.header("Content-Type") == "text/plain; charset=utf-8"


def test_out_http_binding_and_str_return(py_host):
    r = py_host.get("/api/outhttp")
    assert r.status == 202 and r.body == b"set through func.Out"
    r = py_host.get("/api/retstr")
    assert r.status == 200 and r.body == b"returned a str"
    assert r.header("Content-Type") == "text/plain; charset=utf-8"


def test_none_for_an_http_return_is_no_content_as_in_azure(py_host):
    # An http $return binding given None: 204, as Azure's host answers.
    r = py_host.get("/api/retnone")
    assert r.status == 204 and r.body == b""
    assert r.header("Content-Type") is None
    # No response at all (a named http output never set, or no http output):
    # 200 with an empty body.
    for path in ("/api/unsetout", "/api/nohttpout"):
        r = py_host.get(path)
        assert r.status == 200 and r.body == b"", path
    r = py_host.get("/api/unsetout?set=1")
    assert r.status == 200 and r.body == b"set"


def _log_lines(host):
    out = []
    for line in host.log().splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            pass
    return out


def test_logs_and_print_reach_the_host_log_with_the_invocation_id(py_host):
    mark = "m%d" % time.time_ns()
    r = py_host.get("/api/logs?mark=" + mark)
    assert r.status == 200
    inv_id = r.text
    assert UUID_RE.fullmatch(inv_id), inv_id

    def mine():
        lines = [x for x in _log_lines(py_host) if mark in x.get("message", "")]
        return lines if len(lines) >= 3 else None
    lines = wait_for(mine, timeout=20)
    assert lines, py_host.log()[-3000:]
    got = {(x["message"], x["level"]) for x in lines}
    assert got == {("logging line " + mark, "info"), ("child logger line " + mark, "warning"),
                   ("printed line " + mark, "info")}
    for x in lines:
        assert x.get("invocationId") == inv_id, x
        assert x.get("category") == "Function.logs.User", x


def test_exception_is_a_500_with_the_invocation_id_and_the_worker_survives(py_host):
    ok = py_host.get("/api/boom?v=ok")
    assert ok.status == 200
    pid = ok.text
    assert os.sched_getscheduler(int(pid)) == os.SCHED_BATCH  # as every worker process
    r = py_host.get("/api/boom?v=bad")
    assert r.status == 500
    inv_id = r.header("x-invocation-id")
    assert inv_id and UUID_RE.fullmatch(inv_id)
    assert inv_id in r.text

    def failed_line():
        return [x for x in _log_lines(py_host)
                if x.get("invocationId") == inv_id and x.get("level") == "error"]
    lines = wait_for(failed_line, timeout=20)
    assert lines, py_host.log()[-3000:]
    text = json.dumps(lines)
    assert "ValueError: unexpected value 'bad'" in text
    assert 'boom/__init__.py\\", line 10, in main' in text
    assert 'boom/__init__.py\\", line 7, in check' in text
    again = py_host.get("/api/boom?v=ok")
    assert again.status == 200 and again.text == pid


def test_load_errors_name_file_and_line_and_the_others_serve(py_host):
    key = master_key(py_host.app)
    st = py_host.get("/admin/host/status", headers={"x-functions-key": key})
    assert st.status == 200
    errors = st.json()["errors"]
    broken = [e for e in errors if e.startswith("broken")]
    assert broken and "SyntaxError" in broken[0] and "broken/__init__.py, line 3" in broken[0]
    nomain = [e for e in errors if e.startswith("nomain")]
    assert nomain and "main() is not defined in nomain/__init__.py" in nomain[0]
    log = py_host.log()
    assert "broken/__init__.py, line 3" in log
    assert "main() is not defined in nomain/__init__.py" in log
    # As in Azure, the functions are there and fail (the error text stays in the log).
    r = py_host.get("/api/broken")
    assert r.status == 500 and "its code did not load" in r.text
    assert "line 3" not in r.text
    assert py_host.get("/api/nomain").status == 500
    assert py_host.get("/api/retstr").status == 200


def test_async_functions_run_concurrently(py_host):
    with concurrent.futures.ThreadPoolExecutor(2) as ex:
        waiter = ex.submit(py_host.get, "/api/pair?role=wait", timeout=90)
        releaser = ex.submit(py_host.get, "/api/pair?role=set&delay=0.2", timeout=90)
        a, b = waiter.result(), releaser.result()
    assert a.status == 200 and a.text.startswith("released"), a.text
    assert b.status == 200 and b.text.startswith("releasing"), b.text
    assert a.text.split()[1] == b.text.split()[1]       # one worker ran both


def test_slow_async_requests_overlap(py_host):
    with concurrent.futures.ThreadPoolExecutor(2) as ex:
        futs = [ex.submit(py_host.get, "/api/slow?s=1", timeout=90) for _ in range(2)]
        spans = [tuple(map(float, f.result().text.split())) for f in futs]
    # Each started before the other ended: they ran at the same time.
    (s1, e1), (s2, e2) = spans
    assert s1 < e2 and s2 < e1, spans


def test_request_query_headers_route_form_and_json_as_in_azure(py_host):
    """What Azure's host gives a Python function: query parameters without
    a value left out, a repeated name's values joined with ","; a repeated
    header's values joined with ","; no entry for an absent optional route
    parameter; a form body decoded as UTF-8; get_json()'s ValueError."""
    body = "name=\u00e9t\u00e9&city=%C3%89vry&e=".encode("utf-8")
    raw = py_host.raw(b"POST /api/azreq/one?flag&empty=&x=1&x=2&y=1&y=&sp=a+b HTTP/1.1\r\n"
                      b"Host: localhost\r\nConnection: close\r\n"
                      b"Content-Type: application/x-www-form-urlencoded\r\n"
                      b"X-Multi: a\r\nX-Multi: b\r\nX-Empty:\r\n"
                      b"Content-Length: %d\r\n\r\n" % len(body) + body)
    head, _, payload = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), raw
    got = json.loads(payload)
    assert got["params"] == {"x": "1,2", "y": "1,", "sp": "a b"}
    assert got["route"] == {"a": "one"}
    assert got["multi"] == "a,b"
    assert got["empty_header"] == ""
    assert got["form"] == {"name": ["\u00e9t\u00e9"], "city": ["\u00c9vry"], "e": [""]}
    assert got["json_error"] == "ValueError: HTTP request does not contain valid JSON data"
    assert got["script_root"] == py_host.app
    r = py_host.post("/api/azreq/one/two", body=b'{"n": [1, 2]}',
                     headers={"Content-Type": "application/json"})
    assert r.json()["json"] == {"n": [1, 2]} and r.json()["route"] == {"a": "one", "b": "two"}


def test_response_headers_take_several_values_and_http_status(py_host):
    """HttpResponse.headers as Azure's (werkzeug Headers): add() and
    add_header() keep earlier values (one Set-Cookie header each), names
    keep their case, get_all(); an http.HTTPStatus status becomes its int."""
    r = py_host.get("/api/azresp")
    assert r.status == 201 and r.body == b"made"
    cookies = [v for k, v in r.headers if k.lower() == "set-cookie"]
    assert cookies == ["a=1; Path=/", "b=2; max-age=60"]
    assert r.header("Cache-Control") == "no-store" and r.header("X-Request-Id") == "42"
    seen = json.loads(r.header("X-Seen"))
    assert seen == {"status": [201, "int"], "names": ["X-Request-Id", "Set-Cookie",
                                                      "Cache-Control"],
                    "cookies": ["a=1; Path=/", "b=2; max-age=60"], "first": "a=1; Path=/",
                    "has": True}


def test_thread_local_storage_ties_a_threads_logs_to_the_invocation(py_host):
    mark = "t%d" % time.time_ns()
    r = py_host.get("/api/threadlogs?mark=" + mark)
    assert r.status == 200, r.text
    inv_id, own = r.text.split()
    assert own == "True"        # set in the function's own thread, as in Azure

    def line():
        return [x for x in _log_lines(py_host) if ("thread line " + mark) in x.get("message", "")]
    lines = wait_for(line, timeout=20)
    assert lines, py_host.log()[-3000:]
    assert lines[0].get("invocationId") == inv_id, lines
    assert lines[0].get("category") == "Function.threadlogs.User", lines


def test_missing_module_error_says_requirements_txt_is_not_installed(py_host):
    key = master_key(py_host.app)
    errors = py_host.get("/admin/host/status", headers={"x-functions-key": key}).json()["errors"]
    err = [e for e in errors if e.startswith("nomodule")]
    assert err, errors
    assert "No module named 'not_installed_pkg' (nomodule/__init__.py, line 2)" in err[0]
    assert "requirements.txt is not installed by Stratus" in err[0]
    assert "pip install --target .python_packages/lib/site-packages -r requirements.txt" \
        in err[0]
    assert py_host.get("/api/nomodule").status == 500


def test_wsgi_middleware_runs_a_wsgi_app(py_host):
    """func.WsgiMiddleware (Flask, Django behind a v1 function), without
    the azure-functions package installed: the environ, every response
    header (two Set-Cookie), and a 5xx answer failing the invocation."""
    r = py_host.request("POST", "/api/wsgi/a/b%20c?x=1", body=b"payload",
                        headers={"Content-Type": "text/plain", "X-Test": "t"})
    assert r.status == 201, r.text
    assert r.header("Content-Type") == "application/json"
    assert [v for k, v in r.headers if k.lower() == "set-cookie"] == ["a=1", "b=2"]
    assert r.json() == {"REQUEST_METHOD": "POST", "PATH_INFO": "/api/wsgi/a/b c",
                        "QUERY_STRING": "x=1", "CONTENT_TYPE": "text/plain",
                        "SERVER_NAME": "127.0.0.1", "HTTP_X_TEST": "t",
                        "azure_functions.function_name": "wsgiapp", "body": "payload",
                        "has_invocation_id": True}
    r = py_host.get("/api/wsgi/fail")
    assert r.status == 500 and r.header("x-invocation-id")
    r = py_host.request("HEAD", "/api/wsgi/a")
    assert r.status == 200 and r.header("Content-Length") == "11" and r.body == b""


def test_asgi_middleware_runs_an_asgi_app(py_host):
    r = py_host.request("PUT", "/api/asgi/p/q?z=2", body=b"hi", headers={"X-Test": "t"})
    assert r.status == 202, r.text
    assert r.header("X-Asgi") == "yes" and r.header("Content-Type") == "application/json"
    assert r.json() == {"type": "http", "method": "PUT", "path": "/api/asgi/p/q", "query": "z=2",
                        "body": "hi", "x_test": "t", "function": "asgiapp"}


TIMER_REPORT = '''
import json
import os
import azure.functions as func

def main(mytimer: func.TimerRequest, context: func.Context) -> None:
    rc = context.retry_context
    report = {"past_due": mytimer.past_due, "status": mytimer.schedule_status,
              "schedule": mytimer.schedule,
              "retry": [rc.retry_count, rc.max_retry_count, rc.exception.message,
                        rc.exception.source, rc.exception.stack_trace],
              "script_root": os.environ.get("AzureWebJobsScriptRoot")}
    path = os.path.join(context.function_directory, "report.json")
    with open(path + ".tmp", "w") as f:
        json.dump(report, f)
    os.replace(path + ".tmp", path)
'''


def test_timer_request_keeps_a_null_schedule_status(make_app, start_host):
    """A timer run more often than once a minute has no schedule monitor:
    its TimerInfo's ScheduleStatus is null, and TimerRequest.schedule_status
    is None, as in Azure (not {}). retry_context.exception is an object
    with message, source and stack_trace, never None."""
    app = make_app({"tick": {"function.json": {"bindings": [
        {"type": "timerTrigger", "direction": "in", "name": "mytimer",
         "schedule": "*/1 * * * * *"}]}, "__init__.py": TIMER_REPORT}},
        host={"version": "2.0", "stratus": ONE_WORKER}, settings=PY_SETTINGS)
    host = start_host(app)
    path = os.path.join(app, "tick", "report.json")

    def report():
        try:
            with open(path) as f:
                return json.load(f)
        except (OSError, ValueError):
            return None
    got = wait_for(report, timeout=30)
    assert got, host.log()[-3000:]
    assert got["past_due"] is False and got["status"] is None
    assert got["schedule"] == {"AdjustForDST": True}
    assert got["retry"] == [0, 0, "", "", ""]
    assert got["script_root"] == app

SLEEPERS = '''
import asyncio
import time
import azure.functions as func

async def main(req: func.HttpRequest) -> func.HttpResponse:
    if req.params.get("s"):
        await asyncio.sleep(float(req.params["s"]))
    return func.HttpResponse("async done")
'''

SYNC_SLEEPER = '''
import os
import time

def main(req):
    if req.params.get("s"):
        time.sleep(float(req.params["s"]))
    return "sync done %d" % os.getpid()
'''


def test_a_module_that_ends_the_process_at_import_is_named(make_app, start_host):
    app = make_app({"bad": py_fn("import os\nos._exit(1)\ndef main(req):\n    return 'x'\n"),
                    "ok": py_fn("def main(req):\n    return 'ok'\n")},
                   host={"version": "2.0"}, settings=PY_SETTINGS)
    h = start_host(app)
    assert wait_for(lambda: "while loading function 'bad'" in h.log(), timeout=30), h.log()


HOG = '''
import os, time

def main(req):
    if req.params.get("mb"):
        held = bytearray(int(req.params["mb"]) << 20)   # zeroed: resident
        time.sleep(5)
        return str(len(held))
    return str(os.getpid())
'''


def test_a_worker_over_its_memory_limit_is_replaced(make_app, start_host):
    # Resident memory, not address space: 32 threads fit under the limit.
    app = make_app({"hog": py_fn(HOG)},
                   host={"version": "2.0", "stratus": {"scale": {"minInstances": 1,
                                                                 "maxInstances": 1},
                                                       "worker": {"memoryLimitMB": 160}}},
                   settings={"IsEncrypted": False,
                             "Values": {"FUNCTIONS_WORKER_RUNTIME": "python",
                                        "PYTHON_THREADPOOL_THREAD_COUNT": "32"}})
    h = start_host(app)
    pid = h.get("/api/hog", timeout=30).text
    r = h.get("/api/hog?mb=300", timeout=60)
    assert r.status == 500 and "memory limit" in r.text, (r.status, r.text)
    r = h.get("/api/hog", timeout=60)
    assert r.status == 200 and r.text != pid, (r.text, pid)


def test_function_timeout_gives_504(make_app, start_host):
    app = make_app({"asleep": py_fn(SLEEPERS), "ssleep": py_fn(SYNC_SLEEPER)},
                   host={"version": "2.0", "functionTimeout": "00:00:02",
                         "stratus": ONE_WORKER}, settings=PY_SETTINGS)
    host = start_host(app)
    r = host.get("/api/asleep?s=30", timeout=60)
    assert r.status == 504, r.text
    assert "functionTimeout" in r.text
    # The cancelled coroutine left the worker healthy.
    assert host.get("/api/asleep").text == "async done"
    r = host.get("/api/ssleep?s=30", timeout=60)
    assert r.status == 504, r.text
    r = wait_for(lambda: (lambda x: x if x.status == 200 else None)(host.get("/api/ssleep")),
                 timeout=30)
    assert r and r.text.startswith("sync done")


def test_installed_azure_functions_is_not_shadowed(make_app, start_host, tmp_path):
    site = tmp_path / "site"
    pkg = site / "azure" / "functions"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text('''
MARK = "installed azure-functions"

class HttpRequest:
    def __init__(self, method, url, *, headers=None, params=None, route_params=None, body):
        self.method, self.url, self.params, self.body = method, url, params, body
    def get_body(self):
        return self.body

class HttpResponse:
    def __init__(self, body=None, *, status_code=None, headers=None, mimetype=None,
                 charset=None):
        self.status_code = status_code or 200
        self.headers = dict(headers or {})
        self.mimetype = mimetype or "text/plain"
        self.charset = charset or "utf-8"
        self._body = body.encode() if isinstance(body, str) else (body or b"")
    def get_body(self):
        return self._body

class Out:
    pass

class Context:
    pass
''')
    app = make_app({"which": py_fn('''
import azure.functions as func

def main(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse("%s from %s (%s)" % (func.MARK, func.__file__, type(req).__module__),
                             headers={"X-From": "fake"})
''')}, settings=PY_SETTINGS)
    host = start_host(app, env={"PYTHONPATH": str(site)})
    r = host.get("/api/which")
    assert r.status == 200, r.text
    assert r.text.startswith("installed azure-functions from " + str(pkg))
    assert r.text.endswith("(azure.functions)")
    assert r.header("X-From") == "fake"


def test_stand_in_azure_functions_when_none_is_installed(make_app, start_host):
    # The interpreter running these tests, unless it has azure-functions.
    probe = subprocess.run([sys.executable, "-c", "import azure.functions"],
                           capture_output=True, env=dict(os.environ, PYTHONPATH=""))
    if probe.returncode == 0:
        pytest.skip("%s has azure-functions installed" % sys.executable)
    settings = {"IsEncrypted": False, "Values": dict(
        PY_SETTINGS["Values"], languageWorkers__python__defaultExecutablePath=sys.executable)}
    app = make_app({"which": py_fn('''
import azure.functions as func

def main(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(func.__file__)
''')}, settings=settings)
    host = start_host(app, env={"PYTHONPATH": ""})
    r = host.get("/api/which")
    assert r.status == 200
    assert r.text.endswith(os.path.join(".stratus", "runtimes", "python", "compat", "azure",
                                        "functions", "__init__.py"))


ENVIRONMENT_NAME = '''
import os

def main(req):
    return os.environ.get("AZURE_FUNCTIONS_ENVIRONMENT", "(not set)")
'''


def test_the_development_host_says_so_in_azure_functions_environment(make_app, start_host):
    """As Core Tools' func start, `stratus start` gives functions
    AZURE_FUNCTIONS_ENVIRONMENT=Development; an app setting wins, and the
    production host sets nothing, as Azure does not."""
    staging = {"IsEncrypted": False, "Values": dict(PY_SETTINGS["Values"],
                                                    AZURE_FUNCTIONS_ENVIRONMENT="Staging")}
    for mode, settings, expect in (("start", PY_SETTINGS, "Development"),
                                   ("host", PY_SETTINGS, "(not set)"),
                                   ("start", staging, "Staging")):
        app = make_app({"envname": py_fn(ENVIRONMENT_NAME)}, settings=settings)
        host = start_host(app, mode=mode)
        assert host.get("/api/envname").text == expect, mode
        host.stop()


HOST_NAME = '''
import os

def main(req):
    return os.environ.get("WEBSITE_HOSTNAME", "(not set)")
'''


def test_the_development_host_gives_functions_its_host_name(make_app, start_host):
    """As Core Tools' func start: WEBSITE_HOSTNAME is localhost and the
    port the host listens on."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    app = make_app({"hostname": py_fn(HOST_NAME)}, settings=PY_SETTINGS)
    host = start_host(app, "--port", str(port))
    assert host.get("/api/hostname").text == "localhost:%d" % port


CONNECTION_STRINGS = '''
import json
import os

def main(req):
    return json.dumps({k: v for k, v in os.environ.items() if k.startswith("ConnectionStrings:")},
                      sort_keys=True)
'''


def test_connection_strings_reach_functions_as_core_tools_gives_them(make_app, start_host):
    """local.settings.json ConnectionStrings are in the functions'
    environment as ConnectionStrings:<name>, a string or the
    ConnectionString of an object."""
    settings = dict(PY_SETTINGS, ConnectionStrings={
        "Db": "Server=db;Database=app",
        "Legacy": {"ConnectionString": "Server=old", "ProviderName": "System.Data.SqlClient"}})
    app = make_app({"conns": py_fn(CONNECTION_STRINGS)}, settings=settings)
    r = start_host(app).get("/api/conns")
    assert r.json() == {"ConnectionStrings:Db": "Server=db;Database=app",
                        "ConnectionStrings:Legacy": "Server=old"}, r.text


def test_entry_point_and_script_file(make_app, start_host):
    app = make_app({"custom": py_fn("def run(req):\n    return 'custom entry'\n",
                                    script="app.py", entry="run")}, settings=PY_SETTINGS)
    host = start_host(app)
    r = host.get("/api/custom")
    assert r.status == 200 and r.text == "custom entry"


XOPTIONS = '''
import json
import sys

import azure.functions as func


def main(req: func.HttpRequest) -> func.HttpResponse:
    argv = getattr(sys, "orig_argv", None)
    return func.HttpResponse(json.dumps({
        "x": sys._xoptions, "utf8": sys.flags.utf8_mode,
        "before_shim": argv[1:argv.index(sys.argv[0])] if argv else None}))
'''


@pytest.mark.parametrize("name", ["languageWorkers__python__arguments",
                                  "languageWorkers:python:arguments"])
def test_language_worker_arguments_reach_python(make_app, start_host, name):
    """Azure's setting for the interpreter's own arguments, in both
    spellings: split at white space, after -u and before the shim."""
    settings = {"IsEncrypted": False, "Values": {
        "FUNCTIONS_WORKER_RUNTIME": "python", name: "-X utf8  -X stratus_test=1"}}
    app = make_app({"opts": py_fn(XOPTIONS)}, host={"version": "2.0", "stratus": ONE_WORKER},
                   settings=settings)
    host = start_host(app)
    r = host.get("/api/opts", timeout=30)
    assert r.status == 200, r.text
    got = r.json()
    assert got["x"] == {"utf8": True, "stratus_test": "1"} and got["utf8"] == 1, got
    if got["before_shim"] is not None:
        assert got["before_shim"] == ["-u", "-X", "utf8", "-X", "stratus_test=1"], got
    assert wait_for(lambda: "python workers run: " in host.log() and name in host.log())


SLOW_PID = '''
import os
import time


def main(req):
    time.sleep(float(req.params.get("s", "0")))
    return str(os.getpid())
'''


def test_functions_worker_process_count_is_the_most_workers(make_app, start_host):
    """Azure's FUNCTIONS_WORKER_PROCESS_COUNT: two workers share two slow
    requests that one worker (one at a time) would serve in turn."""
    settings = {"IsEncrypted": False, "Values": {
        "FUNCTIONS_WORKER_RUNTIME": "python", "FUNCTIONS_WORKER_PROCESS_COUNT": " +2 "}}
    app = make_app({"slow": py_fn(SLOW_PID)},
                   host={"version": "2.0", "stratus": {"scale": {"perInstanceConcurrency": 1}}},
                   settings=settings)
    host = start_host(app)
    assert host.get("/admin/host/scale").json()["apps"][0]["maxInstances"] == 2
    with concurrent.futures.ThreadPoolExecutor(3) as ex:
        pids = list(ex.map(lambda _: host.get("/api/slow?s=1.5", timeout=60).text, range(3)))
    assert len(set(pids)) == 2, pids


def test_host_json_max_instances_wins_over_functions_worker_process_count(make_app, start_host):
    settings = {"IsEncrypted": False, "Values": {
        "FUNCTIONS_WORKER_RUNTIME": "python", "FUNCTIONS_WORKER_PROCESS_COUNT": "5"}}
    app = make_app({"slow": py_fn(SLOW_PID)}, host={"version": "2.0", "stratus": ONE_WORKER},
                   settings=settings)
    host = start_host(app)
    assert host.get("/admin/host/scale").json()["apps"][0]["maxInstances"] == 1


@pytest.mark.parametrize("value", ["0", "11", "two"])
def test_a_bad_functions_worker_process_count_stops_the_host(make_app, start_host, value):
    """(White space around and a '+' are accepted, as .NET's int.TryParse.)"""
    settings = {"IsEncrypted": False, "Values": {
        "FUNCTIONS_WORKER_RUNTIME": "python", "FUNCTIONS_WORKER_PROCESS_COUNT": value}}
    app = make_app({"slow": py_fn(SLOW_PID)}, settings=settings)
    host = start_host(app, wait=False)
    assert host.proc.wait(timeout=30) != 0
    assert ("FUNCTIONS_WORKER_PROCESS_COUNT: expected a whole number from 1 to 10, got '%s'"
            % value) in host.log()


# ---- the development loop (stratus start watching the app) ----

SHOW_TAG = '''
import azure.functions as func
from ..shared_code import helper

def main(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(helper.TAG)
'''


def _served(host, text, timeout=60):
    return wait_for(lambda: host.get("/api/show").text == text, timeout=timeout, interval=0.05)


def _reloads(host):
    return host.log().count("Host reloaded in")


def test_reload_sees_a_module_saved_twice_within_a_second(make_app, start_host):
    """Python trusts a module's cached bytecode when the source's size and
    mtime (whole seconds) match: a second save within the same second, of
    the same size, must still be what the next version imports."""
    app = make_app({"show": py_fn(SHOW_TAG)}, settings=PY_SETTINGS,
                   files={"shared_code/__init__.py": "", "shared_code/helper.py": 'TAG = "a0"\n'})
    host = start_host(app, env={"PYTHONDONTWRITEBYTECODE": ""})  # bytecode written, as usual
    assert _served(host, "a0"), host.log()[-3000:]
    helper = os.path.join(app, "shared_code", "helper.py")
    for k in range(1, 4):
        with open(helper, "w") as f:
            f.write('TAG = "a%d"\n' % k)
        assert _served(host, "a%d" % k), host.log()[-3000:]
        assert os.listdir(os.path.join(app, "shared_code", "__pycache__"))
        st = os.stat(helper)
        with open(helper, "w") as f:
            f.write('TAG = "b%d"\n' % k)
        os.utime(helper, ns=(st.st_atime_ns, st.st_mtime_ns))  # the same second, the same size
        assert _served(host, "b%d" % k), host.log()[-3000:]


def test_reload_ignores_virtual_environments_and_bytecode(make_app, start_host):
    """A virtual environment in the app folder (python -m venv venv, then
    pip install into it), .venv, and __pycache__ folders never reload the
    app; .python_packages does."""
    app = make_app({"show": py_fn(SHOW_TAG)}, settings=PY_SETTINGS,
                   files={"shared_code/__init__.py": "", "shared_code/helper.py": 'TAG = "a"\n'})
    host = start_host(app, env={"PYTHONDONTWRITEBYTECODE": ""})
    assert _served(host, "a"), host.log()[-3000:]
    for venv in ("venv", ".venv", "env2"):
        site = os.path.join(app, venv, "lib", "python3.11", "site-packages")
        os.makedirs(site)
        with open(os.path.join(app, venv, "pyvenv.cfg"), "w") as f:
            f.write("home = /usr/bin\n")
        for i in range(20):
            os.makedirs(os.path.join(site, "pkg%d" % i))
            with open(os.path.join(site, "pkg%d" % i, "__init__.py"), "w") as f:
                f.write("X = %d\n" % i)
    os.makedirs(os.path.join(app, "shared_code", "__pycache__"), exist_ok=True)
    with open(os.path.join(app, "shared_code", "__pycache__", "x.cpython-311.pyc"), "wb") as f:
        f.write(b"\0" * 16)
    with open(os.path.join(app, "shared_code", "helper.py"), "w") as f:
        f.write('TAG = "b"\n')
    assert _served(host, "b"), host.log()[-3000:]
    changes = [l for l in host.log().splitlines() if "File change of type" in l]
    assert len(changes) == 1 and "'shared_code/helper.py'" in changes[0], changes
    assert _reloads(host) == 1
    # pip install --target .python_packages/lib/site-packages: one reload
    site = os.path.join(app, ".python_packages", "lib", "site-packages")
    for i in range(30):
        os.makedirs(os.path.join(site, "dep%d" % i))
        with open(os.path.join(site, "dep%d" % i, "__init__.py"), "w") as f:
            f.write("X = %d\n" % i)
    assert wait_for(lambda: _reloads(host) == 2, timeout=60), host.log()[-3000:]
    assert not wait_for(lambda: _reloads(host) > 2, timeout=3)
