"""The Python v2 programming model end to end: apps whose functions are
declared with decorators in function_app.py, indexed by the Python worker
(worker.py --index) and served by the real host. HTTP with route
parameters, query, JSON body, status and headers; auth levels (`stratus
host` enforces them, `stratus start` does not); an HTTP function's
queue_output feeding a queue-triggered function; a timer with
run_on_startup; a blueprint; an exception in user code; a syntax error in
function_app.py; and the PYTHON_SCRIPT_FILE_NAME setting.

One host (`stratus host`, one worker) serves most tests; each file the
functions write is polled for, never timed."""
import json
import os

import pytest

from conftest import master_key, wait_for, write_app

ONE_WORKER = {"scale": {"minInstances": 1, "maxInstances": 1}}

FUNCTION_APP = '''
import json
import os

import azure.functions as func

from blueprint import bp

OUT = os.environ["V2_OUT"]

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)
app.register_functions(bp)


def note(name, text):
    with open(os.path.join(OUT, name), "a") as f:
        f.write(text + "\\n")


@app.route(route="hello/{name}", methods=["GET", "POST"])
def hello(req: func.HttpRequest) -> func.HttpResponse:
    body = {"name": req.route_params.get("name"), "q": req.params.get("q"),
            "method": req.method}
    if req.get_body():
        body["json"] = req.get_json()
    return func.HttpResponse(json.dumps(body), status_code=int(req.params.get("status", 200)),
                             mimetype="application/json", headers={"X-V2": "yes"})


@app.function_name("Secret")
@app.route(route="secret", auth_level=func.AuthLevel.FUNCTION)
def secret(req: func.HttpRequest) -> str:
    return "secret " + str(os.getpid())


@app.route(route="orders", methods=["POST"])
@app.queue_output(arg_name="msg", queue_name="v2-orders", connection="AzureWebJobsStorage")
def place(req: func.HttpRequest, msg: func.Out[str]) -> func.HttpResponse:
    msg.set(json.dumps(req.get_json()))
    return func.HttpResponse("queued", status_code=202)


@app.queue_trigger(arg_name="order", queue_name="v2-orders", connection="AzureWebJobsStorage")
def consume(order: func.QueueMessage, context: func.Context) -> None:
    note("orders.txt", "%s %s" % (context.function_name, order.get_json()["id"]))


@app.timer_trigger(arg_name="timer", schedule="0 0 0 1 1 *", run_on_startup=True)
async def startup(timer: func.TimerRequest) -> None:
    note("timer.txt", "ran")


@app.route(route="boom")
def boom(req: func.HttpRequest) -> func.HttpResponse:
    raise ValueError("v2 user error")


@app.route(route="pid")
async def pid(req: func.HttpRequest) -> str:
    return str(os.getpid())
'''

BLUEPRINT = '''
import azure.functions as func

bp = func.Blueprint()


@bp.route(route="bp/{*rest}")
def from_blueprint(req: func.HttpRequest) -> str:
    return "blueprint " + req.route_params.get("rest", "")
'''


def settings(out, **more):
    values = {"FUNCTIONS_WORKER_RUNTIME": "python", "V2_OUT": out}
    values.update(more)
    return {"IsEncrypted": False, "Values": values}


@pytest.fixture(scope="module")
def v2(module_hosts):
    out = os.path.join(module_hosts.workdir, "v2out")
    os.makedirs(out, exist_ok=True)
    app = write_app(os.path.join(module_hosts.workdir, "v2app"), {},
                    host={"version": "2.0", "stratus": ONE_WORKER}, settings=settings(out),
                    files={"function_app.py": FUNCTION_APP, "blueprint.py": BLUEPRINT})
    host = module_hosts.start(app, mode="host")
    host.out = out
    return host


def read(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""


def test_functions_are_listed_as_declared(v2):
    key = master_key(v2.app)
    r = v2.get("/admin/functions", headers={"x-functions-key": key})
    assert r.status == 200, r.text
    names = sorted(f["name"] for f in r.json())
    assert names == sorted(["hello", "Secret", "place", "consume", "startup", "boom", "pid",
                            "from_blueprint"]), r.text


def test_http_route_params_query_json_status_and_headers(v2):
    r = v2.get("/api/hello/ada?q=1")
    assert r.status == 200, r.text
    assert r.header("X-V2") == "yes"
    assert r.header("Content-Type").startswith("application/json")
    assert r.json() == {"name": "ada", "q": "1", "method": "GET"}
    r = v2.post("/api/hello/bob?status=201", body=b'{"n": [1, 2]}',
                headers={"Content-Type": "application/json"})
    assert r.status == 201
    assert r.json() == {"name": "bob", "q": None, "method": "POST", "json": {"n": [1, 2]}}
    assert v2.request("DELETE", "/api/hello/ada").status == 405


def test_function_auth_level_is_enforced_by_stratus_host(v2):
    assert v2.get("/api/secret").status == 401
    with open(os.path.join(v2.app, ".stratus", "secrets", "host.json")) as f:
        fkey = json.load(f)["functionKeys"][0]["value"]
    r = v2.get("/api/secret", headers={"x-functions-key": fkey})
    assert r.status == 200 and r.text.startswith("secret ")
    assert v2.get("/api/secret?code=" + master_key(v2.app)).status == 200
    # The app's http_auth_level (ANONYMOUS) for the others.
    assert v2.get("/api/hello/x").status == 200


def test_queue_output_feeds_a_queue_trigger(v2):
    r = v2.post("/api/orders", body=b'{"id": 42}', headers={"Content-Type": "application/json"})
    assert r.status == 202 and r.text == "queued"
    path = os.path.join(v2.out, "orders.txt")
    assert wait_for(lambda: "consume 42" in read(path), timeout=30), v2.log()[-3000:]


def test_timer_runs_on_startup(v2):
    path = os.path.join(v2.out, "timer.txt")
    assert wait_for(lambda: "ran" in read(path), timeout=30), v2.log()[-3000:]


def test_blueprint_function(v2):
    r = v2.get("/api/bp/a/b")
    assert r.status == 200 and r.text == "blueprint a/b"


def test_exception_is_a_500_and_the_worker_survives(v2):
    before = v2.get("/api/pid").text
    r = v2.get("/api/boom")
    assert r.status == 500
    assert "v2 user error" not in r.text
    log = v2.log()
    assert wait_for(lambda: "ValueError: v2 user error" in v2.log(), timeout=10), log[-3000:]
    assert "function_app.py" in v2.log() and "in boom" in v2.log()
    assert v2.get("/api/pid").text == before


SYNTAX_ERROR = '''import azure.functions as func

app = func.FunctionApp()

@app.route(route="x")
def x(req):
    return "x" +
'''


def test_a_syntax_error_in_function_app_py_is_reported_with_file_and_line(make_app,
                                                                          start_host):
    app = make_app({}, settings=settings("/nonexistent"),
                   files={"function_app.py": SYNTAX_ERROR})
    h = start_host(app)
    where = "function_app.py, line 7: SyntaxError"
    assert wait_for(lambda: where in h.log(), timeout=30), h.log()
    st = h.get("/admin/host/status", headers={"x-functions-key": master_key(app)})
    assert st.status == 200
    assert any(where in e for e in st.json()["errors"]), st.text
    assert h.get("/api/x").status == 404


def test_script_file_setting_and_start_mode_does_not_check_keys(make_app, start_host,
                                                                tmp_path):
    out = str(tmp_path)
    app = make_app({}, settings=settings(out, PYTHON_SCRIPT_FILE_NAME="main.py"),
                   files={"main.py": FUNCTION_APP, "blueprint.py": BLUEPRINT,
                          "function_app.py": "raise SystemExit('not this file')\n"})
    h = start_host(app)
    r = wait_for(lambda: (lambda r: r if r.status == 200 else None)(h.get("/api/secret")),
                 timeout=30)
    assert r is not None and r.text.startswith("secret "), h.log()
    assert h.get("/api/bp/z").text == "blueprint z"
    assert "not this file" not in h.log()


WSGI_APP = '''
import azure.functions as func


def wsgi(environ, start_response):
    body = ("wsgi %s %s %s" % (environ["REQUEST_METHOD"], environ["PATH_INFO"],
                               environ["QUERY_STRING"])).encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("X-Framework", "wsgi")])
    return [body]


app = func.WsgiFunctionApp(app=wsgi, http_auth_level=func.AuthLevel.ANONYMOUS)
'''

ASGI_APP = '''
import azure.functions as func


async def asgi(scope, receive, send):
    assert scope["type"] == "http"
    body = (await receive()).get("body", b"")
    text = "asgi %s %s %s" % (scope["method"], scope["path"], body.decode())
    await send({"type": "http.response.start", "status": 201,
                "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": text.encode()})


app = func.AsgiFunctionApp(app=asgi, http_auth_level=func.AuthLevel.ANONYMOUS)
'''


@pytest.mark.parametrize("kind", ["wsgi", "asgi"])
def test_wsgi_and_asgi_function_apps_take_every_path(make_app, start_host, kind):
    app = make_app({}, host={"version": "2.0", "extensions": {"http": {"routePrefix": ""}}},
                   settings=settings("/nonexistent"),
                   files={"function_app.py": WSGI_APP if kind == "wsgi" else ASGI_APP})
    h = start_host(app)
    if kind == "wsgi":
        r = h.get("/some/path?x=1")
        assert r.status == 200, h.log()
        assert r.text == "wsgi GET /some/path x=1"
        assert r.header("X-Framework") == "wsgi"
    else:
        r = h.post("/a/b", body=b"payload")
        assert r.status == 201, h.log()
        assert r.text == "asgi POST /a/b payload"


def test_example_app_runs(tmp_path, start_host):
    """examples/python-v2, as the README has it: hello, items, orders -> work."""
    import shutil
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    app = str(tmp_path / "python-v2")
    shutil.copytree(os.path.join(root, "examples", "python-v2"), app,
                    ignore=shutil.ignore_patterns(".stratus", "__pycache__"))
    h = start_host(app)
    wait_for(lambda: "Host started" in h.log())
    assert "4 function(s) loaded, 0 error(s)" in h.log(), h.log()
    assert h.get("/api/hello?name=Ada").text == "Hello, Ada!\n"
    r = h.post("/api/hello", body=b'{"name": "Bo"}', headers={"Content-Type": "application/json"})
    assert (r.status, r.text) == (200, "Hello, Bo!\n")
    assert h.get("/api/hello").status == 400
    item = h.get("/api/items/books/42").json()
    assert (item["category"], item["id"]) == ("books", 42) and item["invocation"]
    assert h.get("/api/items/42").status == 404  # {category:alpha}
    r = h.post("/api/orders", body=b"paint the fence")
    assert (r.status, r.text) == (202, "queued: paint the fence\n")
    wait_for(lambda: "working on order paint the fence (dequeue count 1)" in h.log())
