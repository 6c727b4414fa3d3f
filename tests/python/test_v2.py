"""Unit tests of the v2 programming model in the Python worker: the
decorators of the azure.functions stand-in and the function.json entries
they make (compared with what Azure's library makes for the same
decorators), `worker.py --index` on temporary apps (its JSON document on
descriptor 3), and LOAD of indexed functions (harness.Worker)."""
import json
import os
import subprocess
import sys

import pytest

from harness import PYTHON, ROOT, WORKER, Worker, http_req

sys.path.append(os.path.join(ROOT, "runtimes", "python", "compat"))
import azure.functions as func  # noqa: E402  (the stand-in)


def functions_json(app):
    """{name: (function.json dict, Function)} of app.get_functions()."""
    return {f.get_function_name(): (json.loads(f.get_function_json()), f)
            for f in app.get_functions()}


# ---- the decorators and their JSON ----

def test_route_with_methods_route_and_auth_level():
    app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)

    @app.route(route="hello/{name?}", methods=["get", func.HttpMethod.POST])
    def hello(req: func.HttpRequest) -> func.HttpResponse:
        return func.HttpResponse("x")

    @app.route(auth_level="admin", trigger_arg_name="request", binding_arg_name="res")
    def other(request, res):
        pass

    got = functions_json(app)
    # What Azure's library writes: enum members by name, the trigger first.
    assert got["hello"][0] == {"scriptFile": "function_app.py", "bindings": [
        {"direction": "IN", "type": "httpTrigger", "name": "req", "methods": ["GET", "POST"],
         "authLevel": "ANONYMOUS", "route": "hello/{name?}"},
        {"direction": "OUT", "type": "http", "name": "$return"}]}
    # No route: the function's name; no auth level: the one given.
    assert got["other"][0]["bindings"] == [
        {"direction": "IN", "type": "httpTrigger", "name": "request", "authLevel": "ADMIN",
         "route": "other"},
        {"direction": "OUT", "type": "http", "name": "res"}]
    assert got["hello"][1].get_user_function().__name__ == "hello"
    assert got["hello"][1].is_http_function()


def test_the_default_auth_level_is_function_and_name_follows_function_name():
    app = func.FunctionApp()

    @app.function_name(name="Greeter")
    @app.route()
    def greet(req):
        pass

    (name, (doc, f)), = functions_json(app).items()
    assert name == "Greeter"
    assert doc["bindings"][0]["route"] == "Greeter"
    assert doc["bindings"][0]["authLevel"] == "FUNCTION"
    assert f.get_trigger() is f.get_bindings()[0]
    assert json.loads(f.get_raw_bindings()[0])["type"] == "httpTrigger"


def test_timer_queue_blob_and_generic_bindings():
    app = func.FunctionApp()

    @app.timer_trigger(arg_name="timer", schedule="0 */5 * * * *", run_on_startup=True,
                       use_monitor=False)
    def tick(timer):
        pass

    @app.schedule(arg_name="t", schedule="00:00:10")
    def tock(t):
        pass

    @app.queue_trigger(arg_name="msg", queue_name="orders", connection="AzureWebJobsStorage")
    @app.queue_output(arg_name="out", queue_name="done", connection="AzureWebJobsStorage",
                      data_type=func.DataType.STRING)
    def onmsg(msg, out):
        pass

    @app.blob_trigger(arg_name="blob", path="in/{name}.txt", connection="Conn",
                      data_type="binary")
    @app.blob_input(arg_name="cfg", path="config/settings.json", connection="Conn")
    @app.blob_output(arg_name="copy", path="out/{name}.txt", connection="Conn")
    def onblob(blob, cfg, copy):
        pass

    @app.generic_trigger(arg_name="req", type="httpTrigger", route="g", auth_level="anonymous")
    @app.generic_input_binding(arg_name="inp", type="blob", path="a/b", connection="C")
    @app.generic_output_binding(arg_name="$return", type="http", some_field_name=3)
    def generic(req, inp):
        pass

    got = {k: v[0]["bindings"] for k, v in functions_json(app).items()}
    assert got["tick"] == [{"direction": "IN", "type": "timerTrigger", "name": "timer",
                            "schedule": "0 */5 * * * *", "runOnStartup": True,
                            "useMonitor": False}]
    assert got["tock"] == [{"direction": "IN", "type": "timerTrigger", "name": "t",
                            "schedule": "00:00:10"}]
    # Decorators apply bottom-up: the output is added first.
    assert got["onmsg"] == [
        {"direction": "OUT", "dataType": "STRING", "type": "queue", "name": "out",
         "queueName": "done", "connection": "AzureWebJobsStorage"},
        {"direction": "IN", "type": "queueTrigger", "name": "msg", "queueName": "orders",
         "connection": "AzureWebJobsStorage"}]
    assert got["onblob"] == [
        {"direction": "OUT", "type": "blob", "name": "copy", "path": "out/{name}.txt",
         "connection": "Conn"},
        {"direction": "IN", "type": "blob", "name": "cfg", "path": "config/settings.json",
         "connection": "Conn"},
        {"direction": "IN", "dataType": "BINARY", "type": "blobTrigger", "name": "blob",
         "path": "in/{name}.txt", "connection": "Conn"}]
    # Extra keyword fields are written camelCase, as Azure converts them.
    assert got["generic"] == [
        {"direction": "OUT", "type": "http", "name": "$return", "someFieldName": 3},
        {"direction": "IN", "type": "blob", "name": "inp", "path": "a/b", "connection": "C"},
        {"direction": "IN", "type": "httpTrigger", "name": "req", "route": "g",
         "authLevel": "anonymous"}]


def test_retry_is_a_setting_not_a_binding():
    app = func.FunctionApp()

    @app.retry(strategy="exponential_backoff", max_retry_count="5",
               minimum_interval="00:00:01", maximum_interval="00:01:00")
    @app.queue_trigger(arg_name="m", queue_name="q", connection="C")
    def worker(m):
        pass

    (doc, f), = functions_json(app).values()
    assert [b["type"] for b in doc["bindings"]] == ["queueTrigger"]
    assert f.get_settings_dict("retry_policy") == {
        "setting_name": "retry_policy", "strategy": "exponential_backoff",
        "max_retry_count": "5", "minimum_interval": "00:00:01", "maximum_interval": "00:01:00"}
    assert f.get_settings_dict("nothing") is None


def test_blueprints_register_their_functions():
    bp = func.Blueprint()

    @bp.route(route="bp")
    def from_bp(req):
        pass

    app = func.FunctionApp(http_auth_level="anonymous")
    app.register_functions(bp)

    @app.schedule(arg_name="t", schedule="0 0 * * * *")
    def own(t):
        pass

    other = func.Blueprint()

    @other.queue_trigger(arg_name="m", queue_name="q", connection="C")
    def third(m):
        pass

    app.register_blueprint(other)
    got = functions_json(app)
    assert list(got) == ["from_bp", "own", "third"]
    # The app's auth level reaches the blueprint's HTTP functions.
    assert got["from_bp"][0]["bindings"][0]["authLevel"] == "ANONYMOUS"
    with pytest.raises(TypeError, match="FunctionRegister"):
        app.register_functions(func.FunctionApp())


def test_misuse_raises_as_in_azure():
    app = func.FunctionApp()
    with pytest.raises(ValueError, match="A trigger was already registered to this function"):
        @app.schedule(arg_name="t", schedule="0 * * * * *")
        @app.route()
        def two(req, t):
            pass

    app = func.FunctionApp()

    @app.queue_output(arg_name="o", queue_name="q", connection="C")
    def none(o):
        pass

    with pytest.raises(ValueError, match="Function none does not have a trigger"):
        app.get_functions()

    app = func.FunctionApp()

    @app.route()
    def same(req):
        pass

    @app.function_name("same")
    @app.route(route="x")
    def same2(req):
        pass

    with pytest.raises(ValueError, match="Function same does not have a unique function name"):
        app.get_functions()
    with pytest.raises(KeyError, match="Can not parse str 'private' to AuthLevel"):
        app.route(auth_level="private")(lambda req: None)
    with pytest.raises(ValueError, match="Unsupported type for function app decorator"):
        app.route()(42)


def test_decorators_of_other_azure_bindings_record_them_under_azure_type_names():
    # Stratus does not run Service Bus or Cosmos DB; the app still imports,
    # and the host reports the binding type for that function only.
    app = func.FunctionApp()

    @app.service_bus_queue_trigger(arg_name="msg", queue_name="q", connection="SB",
                                   cardinality=func.Cardinality.MANY)
    def sb(msg):
        pass

    @app.route()
    @app.cosmos_db_output(arg_name="doc", database_name="d", container_name="c",
                          connection="X")
    def h(req, doc):
        pass

    got = {k: v[0]["bindings"] for k, v in functions_json(app).items()}
    assert got["sb"] == [{"direction": "IN", "type": "serviceBusTrigger", "name": "msg",
                          "queueName": "q", "connection": "SB", "cardinality": "MANY"}]
    assert got["h"][0] == {"direction": "OUT", "type": "cosmosDB", "name": "doc",
                           "databaseName": "d", "containerName": "c", "connection": "X"}


def test_decorated_name_is_the_builder_and_types_are_exported():
    app = func.FunctionApp()

    @app.route()
    def f(req):
        return "called"

    assert f() is None     # as in Azure: the name is bound to the builder
    for name in ("FunctionApp", "Blueprint", "AuthLevel", "DataType", "HttpMethod",
                 "FunctionRegister", "DecoratorApi", "Function", "WsgiFunctionApp",
                 "AsgiFunctionApp", "Cardinality", "AccessRights"):
        assert hasattr(func, name), name
    assert str(func.AuthLevel.ANONYMOUS) == "ANONYMOUS"
    from azure.functions.decorators.core import DataType
    assert DataType is func.DataType


def test_wsgi_function_app_is_one_catch_all_http_function():
    def wsgi(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [environ["PATH_INFO"].encode()]

    app = func.WsgiFunctionApp(app=wsgi, http_auth_level=func.AuthLevel.ANONYMOUS)
    (name, (doc, f)), = functions_json(app).items()
    assert name == "http_app_func"
    trig = doc["bindings"][0]
    assert trig["route"] == "/{*route}" and trig["authLevel"] == "ANONYMOUS"
    assert sorted(trig["methods"]) == sorted(m.name for m in func.HttpMethod)
    assert f.http_type == "wsgi"
    req = func.HttpRequest("GET", "http://localhost/a/b", body=b"")
    assert f.get_user_function()(req, None).get_body() == b"/a/b"


# ---- worker.py --index ----

def run_index(app, env=None):
    """(document on descriptor 3, stdout+stderr) of worker.py --index."""
    r, w = os.pipe()
    e = dict(os.environ)
    e.pop("PYTHONPATH", None)
    e.update({"STRATUS_INDEX_FD": str(w), "FUNCTIONS_WORKER_RUNTIME": "python"})
    e.update(env or {})
    proc = subprocess.Popen([PYTHON, "-u", WORKER, "--index"], cwd=app, env=e,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT,
                            pass_fds=(w,))
    os.close(w)
    with os.fdopen(r, "rb") as f:
        data = f.read()
    out = proc.communicate(timeout=30)[0].decode()
    assert proc.returncode == 0, out
    return json.loads(data), out


def write(app, name, text):
    path = os.path.join(app, name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)


@pytest.fixture
def app(tmp_path):
    return str(tmp_path)


APP = '''import azure.functions as func
from shared import helpers
from blueprints import bp

print("imported on stdout")
app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)
app.register_functions(bp)


@app.route(route="hello/{name}", methods=["GET"])
@app.queue_output(arg_name="msg", queue_name="out", connection="AzureWebJobsStorage")
@app.retry(strategy="fixed_delay", max_retry_count="2", delay_interval="00:00:01")
def hello(req: func.HttpRequest, msg: func.Out[str]) -> func.HttpResponse:
    msg.set(helpers.shout(req.route_params["name"]))
    return func.HttpResponse("hello " + req.route_params["name"])


@app.function_name("Tick")
@app.timer_trigger(arg_name="timer", schedule="0 */5 * * * *", run_on_startup=True)
async def tick(timer: func.TimerRequest, context: func.Context) -> None:
    pass
'''

BLUEPRINT = '''import azure.functions as func
bp = func.Blueprint()


@bp.queue_trigger(arg_name="m", queue_name="out", connection="AzureWebJobsStorage",
                  data_type="string")
def consume(m: func.QueueMessage):
    pass
'''


def make_app(app):
    write(app, "function_app.py", APP)
    write(app, "blueprints.py", BLUEPRINT)
    write(app, "shared/__init__.py", "")
    write(app, "shared/helpers.py", "def shout(s):\n    return s.upper()\n")


def test_index_writes_the_functions_as_function_json_would(app):
    make_app(app)
    doc, out = run_index(app)
    assert doc["errors"] == []
    assert "imported on stdout" in out
    got = {f["name"]: f for f in doc["functions"]}
    assert list(got) == ["consume", "hello", "Tick"]
    # Decorators apply bottom-up, as in Azure: the queue output comes first.
    assert got["hello"] == {
        "name": "hello", "scriptFile": "function_app.py", "entryPoint": "hello",
        "bindings": [
            {"direction": "out", "type": "queue", "name": "msg", "queueName": "out",
             "connection": "AzureWebJobsStorage"},
            {"direction": "in", "type": "httpTrigger", "name": "req", "methods": ["get"],
             "authLevel": "anonymous", "route": "hello/{name}"},
            {"direction": "out", "type": "http", "name": "$return"}],
        "retry": {"strategy": "fixedDelay", "maxRetryCount": 2, "delayInterval": "00:00:01"}}
    assert got["Tick"]["entryPoint"] == "tick"
    assert got["Tick"]["bindings"] == [{"direction": "in", "type": "timerTrigger",
                                        "name": "timer", "schedule": "0 */5 * * * *",
                                        "runOnStartup": True}]
    assert got["consume"]["bindings"][0]["dataType"] == "string"


def test_index_syntax_error_names_file_and_line(app):
    write(app, "function_app.py", "import azure.functions as func\n\napp = = 1\n")
    doc, _ = run_index(app)
    assert doc["functions"] == []
    (err,) = doc["errors"]
    assert err["function"] is None
    assert err["error"].startswith("function_app.py, line 3: SyntaxError: ")


def test_index_import_error_names_file_and_line(app):
    write(app, "function_app.py", "import azure.functions as func\nimport helper\n")
    write(app, "helper.py", "X = 1\nraise RuntimeError('no config')\n")
    doc, _ = run_index(app)
    assert doc == {"functions": [], "errors": [
        {"function": None, "error": "helper.py, line 2: RuntimeError: no config"}]}
    write(app, "function_app.py", "import azure.functions as func\nimport not_installed_x\n")
    doc, _ = run_index(app)
    assert doc["errors"][0]["error"].startswith(
        "function_app.py, line 2: ModuleNotFoundError: No module named 'not_installed_x'. "
        "Install the package into .python_packages")


def test_index_reports_a_wrong_function_and_keeps_the_others(app):
    write(app, "function_app.py", '''import azure.functions as func
app = func.FunctionApp()

@app.route()
def good(req):
    return "ok"

@app.queue_output(arg_name="o", queue_name="q", connection="C")
def no_trigger(o):
    pass

@app.route(route="params")
def params(req, extra):
    pass

@app.function_name("good")
@app.route(route="again")
def good_again(req):
    pass

@app.retry(strategy="sometimes", max_retry_count="1")
@app.route(route="r")
def bad_retry(req):
    pass
''')
    doc, _ = run_index(app)
    assert [f["name"] for f in doc["functions"]] == ["good"]
    errors = {e["function"]: e["error"] for e in doc["errors"]}
    assert errors["no_trigger"] == (
        "function_app.py, line 8: Function no_trigger does not have a trigger. A valid "
        "function must have one and only one trigger registered.")
    assert errors["params"].startswith(
        "function_app.py, line 12: the following parameters are declared in Python but not "
        "in the function's decorators: extra")
    assert errors["good"].startswith("function_app.py, line 16: function name 'good' is used "
                                     "twice (the other at function_app.py, line 4)")
    assert errors["bad_retry"].startswith("function_app.py, line 21: @retry: strategy must be")


def test_index_two_function_apps_or_none(app):
    write(app, "function_app.py", "import azure.functions as func\n"
                                  "app = func.FunctionApp()\nother = func.FunctionApp()\n")
    doc, _ = run_index(app)
    assert "Multiple instances of FunctionApp are defined (app, other)" in \
        doc["errors"][0]["error"]
    assert doc["errors"][0]["error"].startswith("function_app.py: ")
    write(app, "function_app.py", "import azure.functions as func\nbp = func.Blueprint()\n")
    doc, _ = run_index(app)
    assert "no FunctionApp is defined" in doc["errors"][0]["error"]


def test_index_script_file_setting_and_missing_script(app):
    write(app, "main_app.py", "import azure.functions as func\napp = func.FunctionApp()\n"
                              "@app.route()\ndef main(req):\n    return 'x'\n"
                              "import sys\nassert sys.modules['main_app'].app is app\n")
    doc, _ = run_index(app, {"PYTHON_SCRIPT_FILE_NAME": "main_app.py"})
    assert doc["errors"] == []
    assert doc["functions"][0]["scriptFile"] == "main_app.py"
    doc, _ = run_index(app)
    assert doc["functions"] == []
    assert doc["errors"][0]["error"].startswith("function_app.py not found")


def test_index_exits_even_when_the_app_starts_a_thread(app):
    write(app, "function_app.py", "import threading, time\nimport azure.functions as func\n"
                                  "threading.Thread(target=time.sleep, args=(3600,)).start()\n"
                                  "app = func.FunctionApp()\n")
    doc, _ = run_index(app)
    assert doc == {"functions": [], "errors": []}


# ---- LOAD of indexed functions ----

def indexed(app, doc):
    """The LOAD entries the host makes of an index document."""
    return [{"name": f["name"], "indexed": True, "directory": app,
             "scriptFile": os.path.join(app, f["scriptFile"]), "entryPoint": f["entryPoint"],
             "bindings": f["bindings"]} for f in doc["functions"]]


def test_load_and_invoke_indexed_functions(app):
    make_app(app)
    write(app, "function_app.py", APP + '''

@app.route(route="boom")
def boom(req):
    raise ValueError("bad")


@app.route(route="ctx")
async def ctx(req: func.HttpRequest, context: func.Context) -> str:
    import sys
    return "%s %s %d" % (context.function_name, context.function_directory,
                         len([m for m in sys.modules if m == "function_app"]))
''')
    doc, _ = run_index(app)
    assert doc["errors"] == []
    fns = indexed(app, doc) + [{"name": "ghost", "indexed": True, "directory": app,
                                "scriptFile": os.path.join(app, "function_app.py"),
                                "entryPoint": "ghost", "bindings": []}]
    w = Worker(app)
    try:
        loaded = w.handshake(fns)
        assert all(loaded[f["name"]]["ok"] for f in fns[:-1]), loaded
        assert loaded["ghost"]["ok"] is False
        assert "function 'ghost' is not registered by function_app.py" in \
            loaded["ghost"]["error"]
        # The script was imported once, whatever the number of functions.
        assert w.output().count("imported on stdout") == 1
        res, _ = w.invoke("hello", http=http_req("GET", "/api/hello/ada",
                                                 params={"name": "ada"}))
        assert res.meta["ok"], res.meta
        assert res.body == b"hello ada"
        assert res.meta["outputs"] == {"msg": "ADA"}
        res, _ = w.invoke("boom", http=http_req("GET", "/api/boom"))
        assert res.meta["ok"] is False
        assert "ValueError: bad" in res.meta["error"]
        assert 'File "function_app.py", line' in res.meta["error"]
        res, _ = w.invoke("ctx", http=http_req("GET", "/api/ctx"))
        assert res.body.decode() == "ctx %s 1" % app
        res, _ = w.invoke("consume", body=b"text", extra={"triggerMetadata": {}})
        assert res.meta["ok"], res.meta
    finally:
        w.close()


def test_load_of_an_app_that_no_longer_imports(app):
    write(app, "function_app.py", "import azure.functions as func\nraise SystemExit(3)\n")
    w = Worker(app)
    try:
        loaded = w.handshake([{"name": "f", "indexed": True, "directory": app,
                               "scriptFile": os.path.join(app, "function_app.py"),
                               "entryPoint": "f", "bindings": []}])
        assert loaded["f"]["ok"] is False
        assert loaded["f"]["error"] == "function_app.py, line 2: SystemExit: 3"
    finally:
        w.close()
