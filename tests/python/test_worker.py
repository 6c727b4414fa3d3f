"""Unit tests of the Python worker shim (runtimes/python/): the worker is
started on a socketpair by harness.Worker, which plays the host's side of
the protocol frame by frame. Concurrency is proven by functions that can
only finish when run at the same time (one waits for what the other sets),
never by timing."""
import json
import os
import signal
import sys
import time

import pytest

from harness import (CANCEL, HELLO, LOAD, LOADED, LOG, PING, PONG, READY, RESULT, SHUTDOWN,
                     INVOKE, Worker, frame, http_fn, http_req, write_fn)

HELLO_PY = '''
import azure.functions as func

def main(req: func.HttpRequest) -> func.HttpResponse:
    name = req.params.get("name") or req.route_params.get("name") or "world"
    return func.HttpResponse("hello " + name)
'''


@pytest.fixture
def app(tmp_path):
    return str(tmp_path)


@pytest.fixture
def worker(app):
    started = []

    def start(functions, env=None, python=None):
        w = Worker(app, env=env, python=python)
        started.append(w)
        w.handshake(functions)
        return w

    yield start
    for w in started:
        w.close()


# ---- handshake ----

def test_hello_comes_first_and_describes_the_worker(app):
    w = Worker(app)
    try:
        f = w.recv()
        assert f.type == HELLO and f.id == 0
        assert f.meta["runtime"] == "python"
        assert f.meta["protocol"] == 1
        assert f.meta["pid"] == w.proc.pid
        assert f.meta["concurrency"] >= 64
        import subprocess
        v = subprocess.run([w.proc.args[0], "-c", "import sys; print('%d.%d.%d' % sys.version_info[:3])"],
                           capture_output=True, text=True).stdout.strip()
        assert f.meta["version"] == v
    finally:
        w.close()


def test_worker_waits_for_load_before_importing_app_code(app):
    # A placeholder: the module would write a marker when imported.
    write_fn(app, "hello", "open(%r, 'w').write('imported')\n" % os.path.join(app, "marker") +
             HELLO_PY)
    w = Worker(app)
    try:
        assert w.recv().type == HELLO
        w.send(frame(PING, 5))
        assert w.expect(PONG).id == 5
        assert not os.path.exists(os.path.join(app, "marker"))
        w.send(frame(READY, 0, {"protocol": 1}) +
               frame(LOAD, 0, {"appRoot": app, "functions": [http_fn("hello", app)]}))
        assert w.expect(LOADED).meta == {"functions": [{"name": "hello", "ok": True}]}
        assert os.path.exists(os.path.join(app, "marker"))
    finally:
        w.close()


def test_load_and_invokes_in_one_write_run_in_order(app):
    write_fn(app, "hello", HELLO_PY)
    w = Worker(app)
    try:
        assert w.recv().type == HELLO
        inv = {"function": "hello", "invocationId": "x",
               "http": http_req("GET", "/api/hello", "name=ann")}
        w.send(frame(READY, 0, {"protocol": 1}) +
               frame(LOAD, 0, {"appRoot": app, "functions": [http_fn("hello", app)]}) +
               b"".join(frame(INVOKE, i, inv) for i in range(1, 21)))
        assert w.recv().type == LOADED
        assert w.loading == ["hello"]   # said before it imported the function
        ids = set()
        for _ in range(20):
            f = w.expect(RESULT)
            assert f.meta["ok"] and f.body == b"hello ann"
            ids.add(f.id)
        assert ids == set(range(1, 21))
    finally:
        w.close()


# ---- HTTP requests and responses ----

ECHO_PY = '''
import json
import azure.functions as func

def main(req: func.HttpRequest) -> func.HttpResponse:
    info = {
        "method": req.method,
        "url": req.url,
        "params": dict(req.params),
        "route": dict(req.route_params),
        "x_test": req.headers.get("x-test"),
        "X_TEST": req.headers["X-Test"] if "X-TEST" in req.headers else None,
        "multi": req.headers.get("x-multi"),
        "keys": sorted(req.headers),
        "len": len(req.get_body()),
    }
    return func.HttpResponse(json.dumps(info), mimetype="application/json")
'''


def test_request_fields(worker, app):
    write_fn(app, "echo", ECHO_PY)
    w = worker([http_fn("echo", app)])
    http = http_req("POST", "/api/echo/ann", "x=1&x=2&y=&z=%20a",
                    headers=[("X-Test", "yes"), ("X-Multi", "a"), ("x-multi", "b")],
                    params={"name": "ann"})
    res, _ = w.invoke("echo", http=http, body=b"12345")
    assert res.meta["ok"], res.meta
    assert res.meta["status"] == 200
    assert res.meta["headers"] == [["Content-Type", "application/json"]]
    info = json.loads(res.body)
    assert info["method"] == "POST"
    assert info["url"] == "http://localhost:7071/api/echo/ann?x=1&x=2&y=&z=%20a"
    assert info["params"] == {"x": "1,2", "z": " a"}      # no empty values, as in Azure
    assert info["route"] == {"name": "ann"}
    assert info["x_test"] == "yes" and info["X_TEST"] == "yes"
    assert info["multi"] == "a,b"
    assert info["keys"] == ["host", "x-multi", "x-test"]
    assert info["len"] == 5


def test_get_json_and_bad_json(worker, app):
    write_fn(app, "js", '''
import azure.functions as func
def main(req: func.HttpRequest) -> func.HttpResponse:
    try:
        data = req.get_json()
    except ValueError as e:
        return func.HttpResponse("bad: " + type(e).__name__, status_code=400)
    return func.HttpResponse(str(data["n"] * 2))
''')
    w = worker([http_fn("js", app)])
    res, _ = w.invoke("js", http=http_req("POST", "/api/js"), body=b'{"n": 21}')
    assert res.body == b"42"
    res, _ = w.invoke("js", http=http_req("POST", "/api/js"), body=b'{"n": ')
    assert res.meta["status"] == 400 and res.body == b"bad: ValueError"
    res, _ = w.invoke("js", http=http_req("POST", "/api/js"), body=b"\xff\xfe")
    assert res.meta["status"] == 400


def test_binary_bodies_both_ways(worker, app):
    write_fn(app, "bin", '''
import azure.functions as func
def main(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(bytes(reversed(req.get_body())),
                             mimetype="application/octet-stream")
''')
    w = worker([http_fn("bin", app)])
    data = bytes(range(256)) * 1000
    res, _ = w.invoke("bin", http=http_req("POST", "/api/bin"), body=data)
    assert res.body == bytes(reversed(data))
    assert res.meta["headers"] == [["Content-Type", "application/octet-stream"]]


def test_large_body_in_many_reads(worker, app):
    write_fn(app, "size", '''
def main(req):
    import hashlib
    return hashlib.sha256(req.get_body()).hexdigest()
''')
    w = worker([http_fn("size", app)])
    import hashlib
    data = os.urandom(3 << 20)
    res, _ = w.invoke("size", http=http_req("POST", "/api/size"), body=data)
    assert res.body.decode() == hashlib.sha256(data).hexdigest()


def test_status_headers_mimetype_charset(worker, app):
    write_fn(app, "st", '''
import azure.functions as func
def main(req: func.HttpRequest) -> func.HttpResponse:
    r = func.HttpResponse("caf\\u00e9", status_code=201, headers={"X-One": "1"},
                          mimetype="text/html", charset="latin-1")
    r.headers["X-Two"] = "2"
    r.headers["x-one"] = "uno"
    return r
''')
    w = worker([http_fn("st", app)])
    res, _ = w.invoke("st", http=http_req("GET", "/api/st"))
    assert res.meta["status"] == 201
    assert res.meta["headers"] == [["Content-Type", "text/html; charset=latin-1"],
                                   ["X-One", "uno"], ["X-Two", "2"]]
    assert res.body == "caf\u00e9".encode("latin-1")


def test_content_type_header_wins_over_mimetype(worker, app):
    write_fn(app, "ct", '''
import azure.functions as func
def main(req):
    return func.HttpResponse(b"{}", headers={"content-type": "application/json"})
''')
    w = worker([http_fn("ct", app)])
    res, _ = w.invoke("ct", http=http_req("GET", "/api/ct"))
    assert res.meta["headers"] == [["content-type", "application/json"]]


def test_str_and_bytes_return_and_none(worker, app):
    write_fn(app, "ret", '''
def main(req):
    kind = req.params.get("kind")
    if kind == "str":
        return "plain text"
    if kind == "bytes":
        return b"\\x00\\x01"
    return None
''')
    w = worker([http_fn("ret", app)])
    res, _ = w.invoke("ret", http=http_req("GET", "/api/ret", "kind=str"))
    assert res.meta["status"] == 200 and res.body == b"plain text"
    assert res.meta["headers"] == [["Content-Type", "text/plain; charset=utf-8"]]
    res, _ = w.invoke("ret", http=http_req("GET", "/api/ret", "kind=bytes"))
    assert res.body == b"\x00\x01"
    # None for an http $return is "no content", as in Azure.
    res, _ = w.invoke("ret", http=http_req("GET", "/api/ret"))
    assert res.meta == {"ok": True, "status": 204, "headers": []} and res.body == b""


def test_unset_named_http_output_and_no_http_output_answer_nothing(worker, app):
    write_fn(app, "unset", '''
import azure.functions as func
def main(req: func.HttpRequest, res: func.Out[func.HttpResponse]) -> None:
    pass
''')
    write_fn(app, "bare", "def main(req):\n    return None\n")
    bare = http_fn("bare", app)
    bare["bindings"] = bare["bindings"][:1]
    w = worker([http_fn("unset", app, out="res"), bare])
    for name in ("unset", "bare"):
        res, _ = w.invoke(name, http=http_req("GET", "/api/" + name))
        assert res.meta == {"ok": True} and res.body == b"", name


def test_bad_return_value_fails_with_a_clear_error(worker, app):
    write_fn(app, "bad", "def main(req):\n    return 42\n")
    w = worker([http_fn("bad", app)])
    res, _ = w.invoke("bad", http=http_req("GET", "/api/bad"))
    assert res.meta["ok"] is False
    assert "func.HttpResponse, str or bytes, not int" in res.meta["error"]


def test_named_http_output_through_out(worker, app):
    write_fn(app, "outfn", '''
import azure.functions as func
def main(req: func.HttpRequest, res: func.Out[func.HttpResponse]) -> None:
    res.set(func.HttpResponse("via out", status_code=202))
''')
    w = worker([http_fn("outfn", app, out="res")])
    res, _ = w.invoke("outfn", http=http_req("GET", "/api/outfn"))
    assert res.meta["status"] == 202 and res.body == b"via out"


def test_other_outputs_and_inputs_and_return_value(worker, app):
    write_fn(app, "multi", '''
import json
import azure.functions as func
def main(req: func.HttpRequest, msg: func.Out[str], doc: func.Out[dict], cfg: str) -> str:
    msg.set("queued " + req.params["n"])
    doc.set({"n": int(req.params["n"]), "cfg": json.loads(cfg)})
    return "done"
''')
    fn = {"name": "multi", "directory": os.path.join(app, "multi"),
          "bindings": [{"type": "httpTrigger", "direction": "in", "name": "req"},
                       {"type": "queue", "direction": "out", "name": "msg"},
                       {"type": "blob", "direction": "out", "name": "doc"},
                       {"type": "blob", "direction": "in", "name": "cfg"},
                       {"type": "queue", "direction": "out", "name": "$return"}]}
    w = worker([fn])
    res, _ = w.invoke("multi", http=http_req("GET", "/api/multi", "n=7"),
                      extra={"inputs": {"cfg": '{"a": 1}'}})
    assert res.meta["ok"], res.meta
    assert res.meta["outputs"] == {"$return": "done", "msg": "queued 7",
                                   "doc": {"n": 7, "cfg": {"a": 1}}}
    assert "status" not in res.meta


def test_context_parameter(worker, app):
    write_fn(app, "ctx", '''
import json
import azure.functions as func
def main(req: func.HttpRequest, context: func.Context) -> str:
    return json.dumps({"id": context.invocation_id, "name": context.function_name,
                       "dir": context.function_directory,
                       "tp": context.trace_context.trace_parent,
                       "Tp": context.trace_context.Traceparent,
                       "Ts": context.trace_context.Tracestate,
                       "Attr": context.trace_context.Attributes,
                       "tls": context.thread_local_storage.invocation_id,
                       "retry": context.retry_context.retry_count,
                       "is_ctx": isinstance(context, func.Context)})
''')
    w = worker([http_fn("ctx", app)])
    tp = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    res, _ = w.invoke("ctx", http=http_req("GET", "/api/ctx", headers=[("traceparent", tp)]),
                      extra={"invocationId": "11111111-2222-4333-8444-555555555555"})
    info = json.loads(res.body)
    assert info == {"id": "11111111-2222-4333-8444-555555555555", "name": "ctx",
                    "dir": os.path.join(app, "ctx"), "tp": tp, "Tp": tp, "Ts": "", "Attr": {},
                    "tls": "11111111-2222-4333-8444-555555555555", "retry": 0, "is_ctx": True}


def test_form_fields_and_files(worker, app):
    write_fn(app, "form", '''
import json
def main(req):
    f = req.files.get("up")
    return json.dumps({"a": req.form.get("a"), "all": req.form.getlist("a"),
                       "file": f and [f.filename, f.read().decode(), f.content_type]})
''')
    w = worker([http_fn("form", app)])
    res, _ = w.invoke("form", http=http_req(
        "POST", "/api/form", headers=[("Content-Type", "application/x-www-form-urlencoded")]),
        body=b"a=1&a=2&b=x")
    assert json.loads(res.body) == {"a": "1", "all": ["1", "2"], "file": None}
    body = (b"--XX\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nv\r\n"
            b"--XX\r\nContent-Disposition: form-data; name=\"up\"; filename=\"t.txt\"\r\n"
            b"Content-Type: text/plain\r\n\r\nfile body\r\n--XX--\r\n")
    res, _ = w.invoke("form", http=http_req(
        "POST", "/api/form", headers=[("Content-Type", "multipart/form-data; boundary=XX")]),
        body=body)
    assert json.loads(res.body) == {"a": "v", "all": ["v"],
                                    "file": ["t.txt", "file body", "text/plain"]}


# ---- logs ----

def test_logging_and_print_become_log_frames_of_the_invocation(worker, app):
    write_fn(app, "logs", '''
import logging
import sys
log = logging.getLogger("my.module")
def main(req):
    logging.info("info %s", 1)
    logging.debug("hidden by default")
    log.warning("child warning")
    logging.error("err")
    logging.critical("crit")
    try:
        1 / 0
    except ZeroDivisionError:
        logging.exception("boom")
    print("printed", "line")
    print("partial", end="")
    print("two\\nlines")
    print("to stderr", file=sys.stderr)
    sys.stdout.write("no newline at the end")
    return "ok"
''')
    w = worker([http_fn("logs", app)])
    res, logs = w.invoke("logs", http=http_req("GET", "/api/logs"))
    assert res.meta["ok"]
    got = [(f.meta["level"], f.meta["message"].split("\n")[0]) for f in logs]
    assert got == [("information", "info 1"), ("warning", "child warning"), ("error", "err"),
                   ("critical", "crit"), ("error", "boom"), ("information", "printed line"),
                   ("information", "partialtwo"), ("information", "lines"),
                   ("error", "to stderr"), ("information", "no newline at the end")]
    assert all(f.meta["category"] == "Function.logs.User" for f in logs)
    exc = [f for f in logs if f.meta["message"].startswith("boom")][0]
    assert "ZeroDivisionError" in exc.meta["message"]


def test_lines_of_a_sync_function_and_of_its_own_event_loop_belong_to_it(worker, app):
    # A synchronous function that runs a loop of its own (asyncio.run, as
    # AsgiMiddleware.handle does): its tasks' lines are the invocation's too,
    # and two invocations on the worker's threads one after another keep
    # their lines apart.
    write_fn(app, "ownloop", """
import asyncio
import logging

async def work(name):
    await asyncio.sleep(0)
    logging.info("task %s", name)
    print("printed by task", name)

def main(req, context):
    name = req.params["n"]
    logging.info("sync %s", name)
    asyncio.run(work(name))
    return context.thread_local_storage.invocation_id
""")
    w = worker([http_fn("ownloop", app)])
    for n in ("a", "b"):
        fid = w.start_invoke("ownloop", http=http_req("GET", "/api/ownloop", "n=" + n,
                                                       params={}))
        res, logs = w.result(fid)
        assert res.meta["ok"], res.meta
        assert res.body == b"00000000-0000-4000-8000-%012d" % fid
        assert [f.meta["message"] for f in logs] == \
            ["sync " + n, "task " + n, "printed by task " + n]
    assert not [f for f in getattr(w, "pending_other", []) if f.type == LOG]


def test_debug_logging_setting(worker, app):
    write_fn(app, "dbg", "import logging\ndef main(req):\n    logging.debug('dbg')\n")
    w = worker([http_fn("dbg", app)], env={"PYTHON_ENABLE_DEBUG_LOGGING": "1"})
    _, logs = w.invoke("dbg", http=http_req("GET", "/api/dbg"))
    assert [(f.meta["level"], f.meta["message"]) for f in logs] == [("debug", "dbg")]


def test_logging_imported_lazily_inside_the_function(worker, app):
    write_fn(app, "lazy", "def main(req):\n    import logging\n    logging.warning('late')\n")
    w = worker([http_fn("lazy", app)])
    _, logs = w.invoke("lazy", http=http_req("GET", "/api/lazy"))
    assert [f.meta["message"] for f in logs] == ["late"]


def test_log_outside_an_invocation_has_id_zero(worker, app):
    write_fn(app, "mod", "import logging\nlogging.warning('at import')\n"
             "def main(req):\n    return 'x'\n")
    w = worker([http_fn("mod", app)])
    # Sent while loading, so before LOADED: the harness kept it aside.
    worker_lines = [f for f in w.pending if f.type == LOG]
    assert [(f.id, f.meta["level"], f.meta["message"]) for f in worker_lines] == \
        [(0, "warning", "at import")]
    res, logs = w.invoke("mod", http=http_req("GET", "/api/mod"))
    assert res.body == b"x" and logs == []


# ---- errors ----

def test_exception_fails_the_invocation_and_the_worker_survives(worker, app):
    write_fn(app, "boom", '''
def helper(x):
    raise ValueError("bad value %d" % x)

def main(req):
    if req.params.get("ok"):
        return "fine"
    helper(3)
''')
    w = worker([http_fn("boom", app)])
    res, _ = w.invoke("boom", http=http_req("GET", "/api/boom"))
    assert res.meta["ok"] is False
    err = res.meta["error"]
    assert err.startswith("ValueError: bad value 3")
    assert 'File "boom/__init__.py", line 8, in main' in err
    assert 'File "boom/__init__.py", line 3, in helper' in err
    assert 'raise ValueError("bad value %d" % x)' in err
    assert "stratus_worker" not in err
    res, _ = w.invoke("boom", http=http_req("GET", "/api/boom", "ok=1"))
    assert res.meta["ok"] and res.body == b"fine"
    assert w.proc.poll() is None


def test_sys_exit_in_a_function_is_an_error_not_an_exit(worker, app):
    write_fn(app, "ex", "import sys\ndef main(req):\n    sys.exit(3)\n")
    w = worker([http_fn("ex", app)])
    res, _ = w.invoke("ex", http=http_req("GET", "/api/ex"))
    assert res.meta["ok"] is False and res.meta["error"].startswith("SystemExit: 3")
    assert w.proc.poll() is None


def test_syntax_error_in_one_function_others_load(worker, app):
    write_fn(app, "good", HELLO_PY)
    write_fn(app, "broken", "import azure.functions as func\n\nx = = 1\n")
    w = worker([http_fn("good", app), http_fn("broken", app)])
    assert w.loaded["good"]["ok"] is True
    b = w.loaded["broken"]
    assert b["ok"] is False
    assert b["error"].startswith("SyntaxError: ")
    assert "(broken/__init__.py, line 3)" in b["error"]
    res, _ = w.invoke("good", http=http_req("GET", "/api/good"))
    assert res.body == b"hello world"
    res, _ = w.invoke("broken", http=http_req("GET", "/api/broken"))
    assert res.meta["ok"] is False and "failed to load" in res.meta["error"]


def test_import_error_names_file_and_line(worker, app):
    write_fn(app, "imp", "import os\nimport no_such_module_here\ndef main(req):\n    pass\n")
    w = worker([http_fn("imp", app)])
    err = w.loaded["imp"]["error"]
    assert err.startswith("ModuleNotFoundError: No module named 'no_such_module_here'")
    assert "(imp/__init__.py, line 2). Install the package into " in err


def test_missing_entry_point(worker, app):
    write_fn(app, "noentry", "def handler(req):\n    return 'x'\n")
    write_fn(app, "custom", "def handler(req):\n    return 'custom'\n")
    write_fn(app, "wrong", "def main(req):\n    return 'x'\n")
    w = worker([http_fn("noentry", app), http_fn("custom", app, entry="handler"),
                http_fn("wrong", app, entry="nothere")])
    assert w.loaded["noentry"]["ok"] is False
    assert "main() is not defined in noentry/__init__.py" in w.loaded["noentry"]["error"]
    assert w.loaded["custom"]["ok"] is True
    assert "nothere() is not defined in wrong/__init__.py" in w.loaded["wrong"]["error"]
    res, _ = w.invoke("custom", http=http_req("GET", "/api/custom"))
    assert res.body == b"custom"


def test_missing_init_file(worker, app):
    os.makedirs(os.path.join(app, "empty"))
    w = worker([http_fn("empty", app)])
    assert "empty/__init__.py not found" in w.loaded["empty"]["error"]


def test_parameters_must_match_bindings(worker, app):
    write_fn(app, "extra", "def main(req, other):\n    pass\n")
    write_fn(app, "fewer", "def main():\n    pass\n")
    write_fn(app, "defaults", "def main(req, other=5):\n    return str(other)\n")
    w = worker([http_fn("extra", app), http_fn("fewer", app), http_fn("defaults", app)])
    assert "declared in Python but not in function.json: other" in w.loaded["extra"]["error"]
    assert "declared in function.json but not as parameters" in w.loaded["fewer"]["error"]
    assert "req" in w.loaded["fewer"]["error"]
    res, _ = w.invoke("defaults", http=http_req("GET", "/api/defaults"))
    assert res.body == b"5"


def test_script_file_and_relative_imports_and_shared_code(worker, app):
    os.makedirs(os.path.join(app, "shared_code"))
    with open(os.path.join(app, "shared_code", "__init__.py"), "w") as f:
        f.write("def greet(n):\n    return 'hi ' + n\n")
    write_fn(app, "rel", "SUFFIX = '!'\n")
    write_fn(app, "rel", "from . import helper\n", "dummy.py")
    write_fn(app, "rel", "def punct():\n    return '!'\n", "helper.py")
    write_fn(app, "rel", '''
from shared_code import greet
from ..shared_code import greet as greet2
from .helper import punct
def run(req):
    return greet("a") + greet2("b") + punct()
''', "main.py")
    w = worker([http_fn("rel", app, script="main.py", entry="run")])
    assert w.loaded["rel"]["ok"], w.loaded
    res, _ = w.invoke("rel", http=http_req("GET", "/api/rel"))
    assert res.body == b"hi ahi b!"


def test_python_packages_folder_is_on_the_path(worker, app):
    pk = os.path.join(app, ".python_packages", "lib", "site-packages", "vendored_pkg")
    os.makedirs(pk)
    with open(os.path.join(pk, "__init__.py"), "w") as f:
        f.write("VALUE = 'from .python_packages'\n")
    write_fn(app, "pk", "import vendored_pkg\ndef main(req):\n    return vendored_pkg.VALUE\n")
    w = worker([http_fn("pk", app)])
    res, _ = w.invoke("pk", http=http_req("GET", "/api/pk"))
    assert res.body == b"from .python_packages"


def test_real_azure_functions_is_not_shadowed(worker, app, tmp_path_factory):
    fake = tmp_path_factory.mktemp("site")
    os.makedirs(fake / "azure" / "functions")
    (fake / "azure" / "functions" / "__init__.py").write_text('''
MARK = "the installed azure-functions"
class HttpRequest:
    def __init__(self, method, url, *, headers=None, params=None, route_params=None, body):
        self.method, self.url, self.params, self.body = method, url, params, body
        self.headers = headers
    def get_body(self):
        return self.body
class HttpResponse:
    def __init__(self, body=None, *, status_code=None, headers=None, mimetype=None,
                 charset=None):
        self.status_code = status_code or 200
        self.headers = headers or {}
        self.mimetype = mimetype or "text/plain"
        self.charset = charset or "utf-8"
        self._b = body.encode() if isinstance(body, str) else body
    def get_body(self):
        return self._b
class Out:
    pass
class Context:
    pass
''')
    write_fn(app, "which", '''
import azure.functions as func
def main(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(func.MARK + " " + req.params["q"] + " " +
                             type(req).__module__, headers={"X-Fake": "1"})
''')
    w = worker([http_fn("which", app)], env={"PYTHONPATH": str(fake)})
    res, _ = w.invoke("which", http=http_req("GET", "/api/which", "q=v"))
    assert res.meta["ok"], res.meta
    assert res.body == b"the installed azure-functions v azure.functions"
    assert ["X-Fake", "1"] in res.meta["headers"]


# An installed azure-functions with worker extensions, as far as the worker
# uses it: ExtensionMeta gives the hooks of a function and of the app.
FAKE_SDK_WITH_EXTENSIONS = '''
import collections
HookMeta = collections.namedtuple("HookMeta", "ext_name ext_impl")
AppHooks = collections.namedtuple(
    "AppHooks", "post_function_load_app_level pre_invocation_app_level post_invocation_app_level")
FuncHooks = collections.namedtuple("FuncHooks", "post_function_load pre_invocation post_invocation")
class ExtensionMeta(type):
    _app = AppHooks([], [], [])
    _func = {}
    @classmethod
    def get_function_hooks(cls, name):
        return cls._func.get(name.lower())
    @classmethod
    def get_application_hooks(cls):
        return cls._app
class HttpRequest:
    def __init__(self, method, url, *, headers=None, params=None, route_params=None, body):
        self.method, self.url, self.params, self.body = method, url, params, body
class HttpResponse:
    pass
class Out:
    pass
class Context:
    pass
'''

EXTENDED = '''
import json
import os
import azure.functions as func
from azure.functions import HookMeta, FuncHooks

CALLS = []

def _loaded(name, directory):
    CALLS.append("loaded %s %s" % (name, os.path.basename(directory)))

def _broken(logger, context, args):
    raise RuntimeError("this hook fails")

def _app_pre(logger, context, args):
    CALLS.append("app pre %s %s" % (context.function_name, sorted(args)))

def _pre(logger, context, args):
    CALLS.append("function pre")

def _post(logger, context, args, ret):
    CALLS.append("function post %s" % type(ret).__name__)

def _app_post(logger, context, args, ret):
    CALLS.append("app post")

M = func.ExtensionMeta
M._app.post_function_load_app_level.append(HookMeta("Trace", _loaded))
M._app.pre_invocation_app_level.extend([HookMeta("Broken", _broken), HookMeta("Trace", _app_pre)])
M._app.post_invocation_app_level.append(HookMeta("Trace", _app_post))
M._func["ext"] = FuncHooks([], [HookMeta("Mine", _pre)], [HookMeta("Mine", _post)])

def main(req, context):
    return json.dumps(CALLS)
'''


def test_worker_extensions_of_an_installed_azure_functions(worker, app, tmp_path_factory):
    """With PYTHON_ENABLE_WORKER_EXTENSIONS, the hooks that the installed
    azure-functions registers run as in Azure: after the load, then around
    each invocation (application pre hooks first, post hooks after the
    function's); a hook that raises is logged and costs nothing else."""
    fake = tmp_path_factory.mktemp("site")
    os.makedirs(fake / "azure" / "functions")
    (fake / "azure" / "functions" / "__init__.py").write_text(FAKE_SDK_WITH_EXTENSIONS)
    write_fn(app, "ext", EXTENDED)
    env = {"PYTHONPATH": str(fake), "PYTHON_ENABLE_WORKER_EXTENSIONS": "1"}
    w = worker([http_fn("ext", app)], env=env)
    res, logs = w.invoke("ext", http=http_req("GET", "/api/ext"))
    assert res.meta["ok"], res.meta
    assert json.loads(res.body) == ["loaded ext ext", "app pre ext ['context', 'req']",
                                    "function pre"]
    assert any("this hook fails" in f.meta["message"] for f in logs), logs
    res, _ = w.invoke("ext", http=http_req("GET", "/api/ext"))
    assert json.loads(res.body)[3:6] == ["function post str", "app post",
                                         "app pre ext ['context', 'req']"]
    # Off unless the setting turns them on (Python 3.9 aside, as in Azure).
    if sys.version_info[:2] != (3, 9):
        w = worker([http_fn("ext", app)], env={"PYTHONPATH": str(fake)})
        res, _ = w.invoke("ext", http=http_req("GET", "/api/ext"))
        assert json.loads(res.body) == []


def test_trace_context_names_with_an_installed_azure_functions(worker, app, tmp_path_factory):
    # Azure's package declares TraceContext abstract; what functions get
    # still has the names of Azure's worker (Traceparent, Tracestate).
    fake = tmp_path_factory.mktemp("site")
    os.makedirs(fake / "azure" / "functions")
    (fake / "azure" / "functions" / "__init__.py").write_text('''
import abc
class HttpRequest:
    def __init__(self, method, url, *, headers=None, params=None, route_params=None, body):
        self.method, self.url, self.params, self.body = method, url, params, body
class HttpResponse:
    pass
class Out:
    pass
class Context:
    pass
class TraceContext(abc.ABC):
    @property
    @abc.abstractmethod
    def trace_parent(self):
        pass
''')
    write_fn(app, "tc", '''
def main(req, context):
    tc = context.trace_context
    return " ".join([tc.Traceparent, tc.Tracestate, tc.trace_parent, repr(tc.Attributes)])
''')
    w = worker([http_fn("tc", app)], env={"PYTHONPATH": str(fake)})
    tp = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    res, _ = w.invoke("tc", http=http_req("GET", "/api/tc", headers=[
        ("traceparent", tp), ("tracestate", "a=b")]))
    assert res.meta["ok"], res.meta
    assert res.body.decode() == "%s a=b %s {}" % (tp, tp)


def test_no_stand_in_module_name_leaks_into_the_app(worker, app):
    write_fn(app, "paths", '''
import sys
def main(req):
    try:
        import stratus_worker
        found = "shim importable"
    except ImportError:
        found = "shim hidden"
    try:
        import worker
        found += ", worker importable"
    except ImportError:
        found += ", worker hidden"
    return found
''')
    w = worker([http_fn("paths", app)])
    res, _ = w.invoke("paths", http=http_req("GET", "/api/paths"))
    # stratus_worker is already imported (sys.modules); worker.py is not on the path.
    assert res.body.endswith(b"worker hidden")


def test_invoke_metadata_in_any_key_order(worker, app):
    write_fn(app, "echo", ECHO_PY)
    w = worker([http_fn("echo", app)])
    meta = {"invocationId": "x", "http": http_req("GET", "/api/echo", "a=1"), "function": "echo"}
    w.send(frame(INVOKE, 77, meta))
    res = w.expect(RESULT, 77)
    assert res.meta["ok"], res.meta
    assert json.loads(res.body)["params"] == {"a": "1"}


def test_malformed_invoke_metadata_fails_that_invocation(worker, app):
    write_fn(app, "echo", ECHO_PY)
    w = worker([http_fn("echo", app)])
    import struct
    bad = b'{"function":"echo","http":{"method":'
    w.send(struct.pack("<IIQII", 0x53545201, INVOKE, 5, len(bad), 0) + bad)
    res = w.expect(RESULT, 5)
    assert res.meta["ok"] is False
    assert "INVOKE metadata that is not a JSON object" in res.meta["error"]


def test_compact_invoke_metadata_as_the_host_writes_it(worker, app):
    # The host writes {"function":"name",... compactly; the worker finds the
    # function by the name's bytes, and decodes the metadata in full when the
    # name is escaped, cut short or not a function of the app.
    write_fn(app, "echo", ECHO_PY)
    write_fn(app, "h\u00e9llo", ECHO_PY)
    w = worker([http_fn("echo", app), http_fn("h\u00e9llo", app)])
    http = json.dumps(http_req("GET", "/api/echo", "a=1"), separators=(",", ":")).encode()
    import struct

    def send(fid, meta):
        w.send(struct.pack("<IIQII", 0x53545201, INVOKE, fid, len(meta), 0) + meta)
        return w.expect(RESULT, fid)
    for fid, name in ((1, b"echo"), (2, "h\u00e9llo".encode()), (3, b"h\\u00e9llo")):
        res = send(fid, b'{"function":"' + name + b'","invocationId":"i","http":' + http + b"}")
        assert res.meta["ok"], (name, res.meta)
        assert json.loads(res.body)["params"] == {"a": "1"}
    res = send(4, b'{"function":"echox","http":' + http + b"}")
    assert "no function named 'echox'" in res.meta["error"]
    res = send(5, b'{"function":"ech\\"o","http":' + http + b"}")
    assert "no function named 'ech\"o'" in res.meta["error"]
    bad = b'{"function":"echo'
    w.send(struct.pack("<IIQII", 0x53545201, INVOKE, 6, len(bad), 0) + bad)
    assert w.wait() == 2
    assert "not a JSON object" in w.output()


@pytest.mark.parametrize("names", [("echo", "ecko", "abcd"),
                                   ("a", "ab", "abc", "abcd", "abcde", "b", "ba")])
def test_compact_metadata_finds_the_function_among_names_that_share_a_prefix(worker, app,
                                                                           names):
    # Names of one length and of several take different ways to the
    # function; each must answer for its own name, never for another.
    code = 'import azure.functions as func\n\ndef main(req):\n    return func.HttpResponse(%r)\n'
    for name in names:
        write_fn(app, name, code % name)
    w = worker([http_fn(name, app) for name in names])
    http = json.dumps(http_req("GET", "/api/x"), separators=(",", ":")).encode()
    import struct
    for fid, name in enumerate(names + ("abcdef", "c", "echoo", "ech", "abce"), 1):
        meta = b'{"function":"' + name.encode() + b'","invocationId":"i","http":' + http + b"}"
        w.send(struct.pack("<IIQII", 0x53545201, INVOKE, fid, len(meta), 0) + meta)
        res = w.expect(RESULT, fid)
        if name in names:
            assert res.meta["ok"] and res.body == name.encode(), (name, res.meta, res.body)
        else:
            assert "no function named %r" % name in res.meta["error"], (name, res.meta)


def test_unknown_function_and_invoke_before_load(app):
    write_fn(app, "hello", HELLO_PY)
    w = Worker(app)
    try:
        assert w.recv().type == HELLO
        w.send(frame(INVOKE, 1, {"function": "hello"}))
        res = w.expect(RESULT, 1)
        assert res.meta["ok"] is False and "not loaded yet" in res.meta["error"]
        w.send(frame(LOAD, 0, {"appRoot": app, "functions": [http_fn("hello", app)]}))
        w.expect(LOADED)
        w.send(frame(INVOKE, 2, {"function": "nope"}))
        res = w.expect(RESULT, 2)
        assert "no function named 'nope'" in res.meta["error"]
    finally:
        w.close()


# ---- concurrency, cancel, ping ----

ASYNC_PAIR = '''
import asyncio
import azure.functions as func

_ev = None

def _event():
    global _ev
    if _ev is None:
        _ev = asyncio.Event()
    return _ev

async def main(req: func.HttpRequest) -> func.HttpResponse:
    if req.params.get("role") == "wait":
        await asyncio.wait_for(_event().wait(), 30)
        return func.HttpResponse("released")
    if req.params.get("role") == "sleep":
        await asyncio.sleep(60)
    _event().set()
    return func.HttpResponse("released the other")
'''


def test_async_functions_run_concurrently(worker, app):
    write_fn(app, "pair", ASYNC_PAIR)
    w = worker([http_fn("pair", app)])
    a = w.start_invoke("pair", http=http_req("GET", "/api/pair", "role=wait"))
    b = w.start_invoke("pair", http=http_req("GET", "/api/pair", "role=set"))
    rb, _ = w.result(b)
    ra, _ = w.result(a)
    assert ra.body == b"released" and rb.body == b"released the other"


# Module-level asyncio use as Azure's worker allows it: it imports function
# modules on its running event loop, the one that then runs async functions.
LOOP_AT_IMPORT = '''
import asyncio
import sys

LOOP = asyncio.get_running_loop()
SAME = asyncio.get_event_loop() is LOOP
READY = LOOP.create_future()

async def _warm_up():
    READY.set_result("warmed up")

asyncio.ensure_future(_warm_up())

async def main(req):
    running = asyncio.get_running_loop()
    return "%s %s %s" % (running is LOOP and SAME, await READY, running.is_running())
'''

NO_ASYNCIO = '''
import sys

def main(req):
    return "asyncio imported: %s" % ("asyncio" in sys.modules)
'''


def test_modules_are_imported_on_the_loop_that_runs_async_functions(worker, app):
    write_fn(app, "looped", LOOP_AT_IMPORT)
    write_fn(app, "plain", NO_ASYNCIO)
    w = worker([http_fn("looped", app)])
    res, _ = w.invoke("looped", http=http_req("GET", "/api/looped"))
    assert res.meta["ok"], res.meta
    assert res.body == b"True warmed up True"
    # An app that never imports asyncio does not pay for it.
    w = worker([http_fn("plain", app)])
    res, _ = w.invoke("plain", http=http_req("GET", "/api/plain"))
    assert res.body == b"asyncio imported: False"


def test_cancel_stops_an_async_invocation(worker, app):
    write_fn(app, "pair", ASYNC_PAIR)
    w = worker([http_fn("pair", app)])
    a = w.start_invoke("pair", http=http_req("GET", "/api/pair", "role=sleep"))
    w.send(frame(PING, 9))
    assert w.expect(PONG, 9).meta["inflight"] == 1
    w.send(frame(CANCEL, a, {"reason": "timeout"}))
    res, _ = w.result(a)
    assert res.meta == {"ok": False, "error": "cancelled"}
    w.send(frame(CANCEL, a, {"reason": "timeout"}))     # already answered: ignored
    res, _ = w.invoke("pair", http=http_req("GET", "/api/pair", "role=set"))
    assert res.meta["ok"]


SYNC_PAIR = '''
import threading
import time
_ev = threading.Event()
def main(req):
    role = req.params.get("role")
    if role == "wait":
        return "released" if _ev.wait(30) else "timed out"
    if role == "spin":
        end = time.time() + float(req.params.get("s", "0.3"))
        while time.time() < end:
            pass
        return "spun"
    _ev.set()
    return "set"
'''


def test_a_blocked_sync_function_does_not_block_the_others(worker, app):
    write_fn(app, "sp", SYNC_PAIR)
    w = worker([http_fn("sp", app)])
    a = w.start_invoke("sp", http=http_req("GET", "/api/sp", "role=wait"))
    w.send(frame(PING, 3))
    assert w.expect(PONG, 3).meta["inflight"] >= 1
    b = w.start_invoke("sp", http=http_req("GET", "/api/sp", "role=set"))
    rb, _ = w.result(b)
    ra, _ = w.result(a)
    assert ra.body == b"released" and rb.body == b"set"


def test_batch_with_a_blocked_function_in_the_middle(worker, app):
    write_fn(app, "sp", SYNC_PAIR)
    w = worker([http_fn("sp", app)])
    inv = lambda q: frame(INVOKE, w.next_id, {"function": "sp",
                                              "http": http_req("GET", "/api/sp", q)})
    data = b""
    ids = []
    for q in ["role=x"] * 3 + ["role=wait"] + ["role=y"] * 3:
        data += inv(q)
        ids.append(w.next_id)
        w.next_id += 1
    w.send(data)        # the waiter blocks; the last three still run, then free it
    w.send(frame(INVOKE, w.next_id, {"function": "sp", "http": http_req("GET", "/", "role=set")}))
    results = {}
    for _ in range(len(ids) + 1):
        f = w.expect(RESULT)
        results[f.id] = f.body
    assert results[ids[3]] == b"released"


def test_one_thread_setting_still_answers_ping(worker, app):
    write_fn(app, "sp", SYNC_PAIR)
    w = worker([http_fn("sp", app)], env={"PYTHON_THREADPOOL_THREAD_COUNT": "1"})
    a = w.start_invoke("sp", http=http_req("GET", "/api/sp", "role=spin&s=0.2"))
    b = w.start_invoke("sp", http=http_req("GET", "/api/sp", "role=spin&s=0.2"))
    w.send(frame(PING, 4))
    assert w.expect(PONG, 4).id == 4
    for fid in (a, b):
        res, _ = w.result(fid)
        assert res.body == b"spun"


WAIT_FOR_FILE = """
import os, time

def main(req):
    if req.params.get("wait"):
        while not os.path.exists(req.params["wait"]):
            time.sleep(0.01)
        return "waited"
    return "quick"
"""


def test_a_result_is_sent_while_the_thread_runs_the_next_queued_function(worker, app):
    # One thread: it runs a, and b waits in the queue; when a ends the
    # thread goes on to b, which ends only once the test has seen a's RESULT.
    write_fn(app, "wf", WAIT_FOR_FILE)
    m1, m2 = os.path.join(app, "go1"), os.path.join(app, "go2")
    w = worker([http_fn("wf", app)], env={"PYTHON_THREADPOOL_THREAD_COUNT": "1"})
    a = w.start_invoke("wf", http=http_req("GET", "/api/wf", "wait=" + m1))
    b = w.start_invoke("wf", http=http_req("GET", "/api/wf", "wait=" + m2))
    w.send(frame(PING, 99))
    w.expect(PONG, 99)          # b has been read and queued
    open(m1, "w").close()
    res, _ = w.result(a)
    assert res.body == b"waited"
    open(m2, "w").close()
    res, _ = w.result(b)
    assert res.body == b"waited"


def test_cancel_of_a_queued_sync_invocation(worker, app):
    write_fn(app, "sp", SYNC_PAIR)
    w = worker([http_fn("sp", app)], env={"PYTHON_THREADPOOL_THREAD_COUNT": "1"})
    a = w.start_invoke("sp", http=http_req("GET", "/api/sp", "role=wait"))
    w.send(frame(PING, 1))
    w.expect(PONG, 1)
    b = w.start_invoke("sp", http=http_req("GET", "/api/sp", "role=x"))
    w.send(frame(CANCEL, b, {"reason": "timeout"}))
    rb, _ = w.result(b)
    assert rb.meta == {"ok": False, "error": "cancelled"}
    # With one thread the setter waits behind the waiter: cancel it as well.
    c = w.start_invoke("sp", http=http_req("GET", "/api/sp", "role=set"))
    w.send(frame(CANCEL, c, {"reason": "shutdown"}))
    rc, _ = w.result(c)
    assert rc.meta["error"] == "cancelled"


def test_ping_is_answered_while_functions_run(worker, app):
    write_fn(app, "sp", SYNC_PAIR)
    w = worker([http_fn("sp", app)])
    a = w.start_invoke("sp", http=http_req("GET", "/api/sp", "role=spin&s=1"))
    for i in range(10, 15):
        w.send(frame(PING, i))
        assert w.expect(PONG, i).id == i
    res, _ = w.result(a)
    assert res.body == b"spun"


def test_wrapped_async_function_is_awaited(worker, app):
    write_fn(app, "wrap", '''
import asyncio, functools
def deco(f):
    def inner(req):
        return f(req)
    return inner
@deco
async def main(req):
    await asyncio.sleep(0)
    return "awaited"
''')
    w = worker([http_fn("wrap", app)])
    res, _ = w.invoke("wrap", http=http_req("GET", "/api/wrap"))
    assert res.body == b"awaited"


# ---- shutdown and errors of the host ----

def test_shutdown_finishes_in_flight_work_then_exits_0(worker, app):
    write_fn(app, "sp", SYNC_PAIR)
    w = worker([http_fn("sp", app)])
    a = w.start_invoke("sp", http=http_req("GET", "/api/sp", "role=spin&s=0.5"))
    w.send(frame(SHUTDOWN, 0, {"graceMs": 10000}))
    res, _ = w.result(a)
    assert res.body == b"spun"
    assert w.wait() == 0


AT_EXIT = '''
import atexit
import logging
import os

def _goodbye():
    logging.warning("atexit handler ran")
    with open(os.path.join(os.environ["AzureWebJobsScriptRoot"], "bye.txt"), "w") as f:
        f.write("bye")

atexit.register(_goodbye)

def main(req):
    return "registered"
'''


def test_shutdown_runs_the_apps_atexit_handlers(worker, app):
    """A graceful stop (the host's SHUTDOWN) ends the worker as a Python
    program ends: atexit handlers run after the work in flight, and what
    they log is a worker line."""
    write_fn(app, "bye", AT_EXIT)
    w = worker([http_fn("bye", app)])
    res, _ = w.invoke("bye", http=http_req("GET", "/api/bye"))
    assert res.body == b"registered"
    w.send(frame(SHUTDOWN, 0, {"graceMs": 10000}))
    line = w.expect(LOG, 0)
    assert line.meta["message"] == "atexit handler ran", line.meta
    assert w.wait() == 0
    with open(os.path.join(app, "bye.txt")) as f:
        assert f.read() == "bye"


def test_end_of_file_exits_0(worker, app):
    write_fn(app, "hello", HELLO_PY)
    w = worker([http_fn("hello", app)])
    w.sock.shutdown(2)
    assert w.wait() == 0


def test_malformed_frame_exits_non_zero_with_a_reason(worker, app):
    write_fn(app, "hello", HELLO_PY)
    w = worker([http_fn("hello", app)])
    w.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert w.wait() not in (0, None)
    assert "bad magic" in w.output()


def test_malformed_metadata_exits_non_zero(worker, app):
    write_fn(app, "hello", HELLO_PY)
    w = worker([http_fn("hello", app)])
    import struct
    w.send(struct.pack("<IIQII", 0x53545201, INVOKE, 1, 5, 0) + b"[1,2]")
    assert w.wait() not in (0, None)
    assert "not a JSON object" in w.output()


# ---- Azure's semantics of the stand-in module ----

def test_query_route_and_header_values_as_azure_gives_them(worker, app):
    write_fn(app, "q", '''
import json
def main(req):
    return json.dumps({"params": dict(req.params), "route": dict(req.route_params),
                       "h": req.headers.get("x-h")})
''')
    w = worker([http_fn("q", app)])
    http = http_req("GET", "/api/q", "a&b=&c=1&c=&d=x+y", headers=[("X-H", "1"), ("x-h", "2")],
                    params={"name": "n", "opt": None})
    res, _ = w.invoke("q", http=http)
    assert json.loads(res.body) == {"params": {"c": "1,", "d": "x y"}, "route": {"name": "n"},
                                    "h": "1,2"}


def test_response_headers_with_several_values(worker, app):
    write_fn(app, "h", '''
import http
import azure.functions as func
def main(req):
    r = func.HttpResponse("x", status_code=http.HTTPStatus.ACCEPTED, headers={"X-A": "1"})
    r.headers.add("Set-Cookie", "a=1")
    r.headers.add_header("Set-Cookie", "b=2", max_age=60, secure=None)
    r.headers["x-a"] = "2"
    assert r.headers.get_all("SET-COOKIE") == ["a=1", "b=2; max-age=60; secure"]
    assert list(r.headers) == ["X-A", "Set-Cookie"] and len(r.headers) == 2
    return r
''')
    w = worker([http_fn("h", app)])
    res, _ = w.invoke("h", http=http_req("GET", "/api/h"))
    assert res.meta["ok"], res.meta
    assert res.meta["status"] == 202
    assert res.meta["headers"] == [["Content-Type", "text/plain; charset=utf-8"], ["X-A", "2"],
                                   ["Set-Cookie", "a=1"], ["Set-Cookie", "b=2; max-age=60; secure"]]


def test_asgi_headers_are_the_bytes_sent_both_ways(worker, app):
    # As with Azure's AsgiMiddleware and ASGI servers: UTF-8 in a header
    # reaches the application as its bytes, not cut to latin-1 ("?"), and
    # the application's header bytes reach the client.
    write_fn(app, "hdr", '''
import azure.functions as func

async def app(scope, receive, send):
    name = dict(scope["headers"])[b"x-name"]
    await send({"type": "http.response.start", "status": 200, "headers": [(b"x-name", name)]})
    await send({"type": "http.response.body", "body": name})

async def main(req, context):
    return await func.AsgiMiddleware(app).handle_async(req, context)
''')
    w = worker([http_fn("hdr", app)])
    res, _ = w.invoke("hdr", http=http_req("GET", "/api/hdr", headers=[("X-Name", "\u20ac \u00e9")]))
    assert res.meta["ok"], res.meta
    assert res.body == "\u20ac \u00e9".encode("utf-8")
    # ... and the bytes of the answer's headers go back as they are.
    assert ["x-name", "\u20ac \u00e9"] in res.meta["headers"], res.meta["headers"]


def test_asgi_lifespan_runs_when_the_function_asks_for_it(worker, app):
    # As with Azure's AsgiMiddleware: notify_startup() runs the app's startup
    # (FastAPI's @app.on_event("startup"), Starlette's lifespan) and says
    # whether it worked; notify_shutdown() its shutdown; `state` is the
    # lifespan scope's. An app without lifespan support gives False.
    write_fn(app, "life", '''
import asyncio
import json
import azure.functions as func

seen = []

async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            msg = await receive()
            seen.append(msg["type"])
            if msg["type"] == "lifespan.startup":
                scope["state"]["db"] = "open"
                await send({"type": "lifespan.startup.complete"})
            else:
                await send({"type": "lifespan.shutdown.complete"})
                return
    await receive()
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": json.dumps(seen).encode()})

async def http_only(scope, receive, send):
    assert scope["type"] == "http"

asgi = func.AsgiMiddleware(app)

async def main(req, context):
    if not seen:
        # Two requests arriving together both ask: the app starts once.
        both = await asyncio.gather(asgi.notify_startup(), asgi.notify_startup())
        assert both == [True, True] and asgi.state == {"db": "open"}, (both, asgi.state)
        assert await func.AsgiMiddleware(http_only).notify_startup() is False
    if req.params.get("stop"):
        await asgi.notify_shutdown()
    return await asgi.handle_async(req, context)
''')
    w = worker([http_fn("life", app)])
    res, _ = w.invoke("life", http=http_req("GET", "/api/life"))
    assert res.meta["ok"], res.meta
    assert json.loads(res.body) == ["lifespan.startup"]
    res, _ = w.invoke("life", http=http_req("GET", "/api/life", "stop=1"))
    assert json.loads(res.body) == ["lifespan.startup", "lifespan.shutdown"]


def test_thread_local_storage_ties_a_thread_to_its_invocation(worker, app):
    write_fn(app, "t", '''
import logging
import threading
def work(context, tag):
    if tag == "tied":
        context.thread_local_storage.invocation_id = context.invocation_id
    logging.warning("from thread %s", tag)
def main(req, context):
    for tag in ("tied", "untied"):
        t = threading.Thread(target=work, args=(context, tag))
        t.start()
        t.join()
    return context.thread_local_storage.invocation_id
''')
    w = worker([http_fn("t", app)])
    res, logs = w.invoke("t", http=http_req("GET", "/api/t"))
    assert res.body == b"00000000-0000-4000-8000-000000000001"
    assert [f.meta["message"] for f in logs] == ["from thread tied"]
    worker_lines = [f.meta["message"] for f in getattr(w, "pending_other", [])
                    if f.type == LOG and f.id == 0]
    assert worker_lines == ["from thread untied"]


# ---- processes forked by functions ----

FORKS = '''
import logging
import multiprocessing
import os
import sys

def child_main(tag):
    print("mp child print", tag)
    logging.warning("mp child log %s", tag)

def main(req):
    k = req.params.get("k")
    if k == "pid":
        return str(os.getpid())
    if k == "mp":
        p = multiprocessing.get_context("fork").Process(target=child_main, args=("x",))
        p.start()
        p.join()
        return "mp %d" % p.exitcode
    print("partial line of the parent", end="")
    pid = os.fork()
    if pid == 0:
        print("fork child print")
        logging.warning("fork child log")
        if k == "exit":
            sys.exit(4)
        if k == "raise":
            raise ValueError("child failed")
        return "the child's answer"
    _, status = os.waitpid(pid, 0)
    return "parent %d" % os.waitstatus_to_exitcode(status)
'''


@pytest.mark.parametrize("k,code", [("return", 0), ("exit", 4), ("raise", 1)])
def test_a_forked_child_never_answers_for_the_worker(worker, app, k, code):
    write_fn(app, "forks", FORKS)
    w = worker([http_fn("forks", app)])
    res, logs = w.invoke("forks", http=http_req("GET", "/api/forks", "k=" + k,
                                                params={"k": k}))
    assert res.meta["ok"], res.meta
    assert res.body == b"parent %d" % code
    assert [f.meta["message"] for f in logs] == ["partial line of the parent"]
    res, _ = w.invoke("forks", http=http_req("GET", "/api/forks", "k=pid",
                                             params={"k": "pid"}))
    assert res.body == str(w.proc.pid).encode()
    # The child's lines went to the worker's output, not to the host socket.
    out = w.output()
    assert "fork child print\n" in out and "fork child log\n" in out, out
    if k == "raise":
        assert "ValueError: child failed" in out, out
    assert not [f for f in getattr(w, "pending_other", []) if f.type == RESULT]


def test_multiprocessing_children_print_to_the_worker_output(worker, app):
    write_fn(app, "forks", FORKS)
    w = worker([http_fn("forks", app)])
    res, logs = w.invoke("forks", http=http_req("GET", "/api/forks", "k=mp",
                                                params={"k": "mp"}))
    assert res.body == b"mp 0" and logs == []
    out = w.output()
    assert "mp child print x\n" in out and "mp child log x\n" in out, out
    res, _ = w.invoke("forks", http=http_req("GET", "/api/forks", "k=pid",
                                             params={"k": "pid"}))
    assert res.body == str(w.proc.pid).encode()


# ---- lines logged after the invocation ended ----

LATE_LINES = '''
import asyncio
import logging
import threading
import time

async def later(iid):
    await asyncio.sleep(2)
    logging.info("task line %s", iid)

async def amain(req, context):
    asyncio.ensure_future(later(context.invocation_id))
    return "started"

def main(req, context):
    def work():
        context.thread_local_storage.invocation_id = context.invocation_id
        time.sleep(2)
        logging.info("thread line %s", context.invocation_id)
    threading.Thread(target=work).start()
    return "started"
'''


@pytest.mark.parametrize("entry,what", [("amain", "task"), ("main", "thread")])
def test_a_line_logged_after_the_invocation_ended_is_sent_at_once(worker, app, entry, what):
    # An asyncio task or a thread (that said its invocation) logs two
    # seconds after the invocation answered, when the worker is idle:
    # nothing else will be sent, so the line must be sent by itself.
    write_fn(app, "late", LATE_LINES)
    w = worker([http_fn("late", app, entry=entry)])
    fid = w.start_invoke("late", http=http_req("GET", "/api/late"))
    res, _ = w.result(fid)
    assert res.body == b"started"
    line = w.expect(LOG, fid, timeout=15)
    assert line.meta["message"] == "%s line 00000000-0000-4000-8000-%012d" % (what, fid)
    assert line.meta["category"] == "Function.late.User"


def test_a_running_async_invocations_lines_are_sent_while_it_runs(worker, app):
    write_fn(app, "slowlog", '''
import asyncio
import logging

async def main(req):
    logging.info("before the long wait")
    await asyncio.sleep(60)
''')
    w = worker([http_fn("slowlog", app)])
    time.sleep(2)       # the worker has been idle for a while
    fid = w.start_invoke("slowlog", http=http_req("GET", "/api/slowlog"))
    line = w.expect(LOG, fid, timeout=15)
    assert line.meta["message"] == "before the long wait"
    assert not [f for f in w.pending if f.type == RESULT]
    w.send(frame(CANCEL, fid, {"reason": "timeout"}))
    res, _ = w.result(fid)
    assert res.meta == {"ok": False, "error": "cancelled"}
