"""`stratus new` templates for timer, queue and blob triggers (Azure Core Tools' "Timer
trigger", "Queue trigger", "Blob trigger"), for the native, python and node runtimes: the
files they write, and that each function really runs when its trigger fires in a host."""
import ast
import json
import os
import shutil
import subprocess
import uuid

import pytest

from conftest import BIN, ROOT, sanitizer_report, wait_for

RUNTIMES = ["native", "python", "node"]
CODE = {"native": None, "python": "__init__.py", "node": "index.js"}
# The log line each runtime's template writes, per trigger.
LINES = {
    "native": {"timer": "C timer trigger function ran at ",
               "queue": "C queue trigger function processed a queue item: ",
               "blob": "C blob trigger function processed blob Name: "},
    "python": {"timer": "Python timer trigger function ran at ",
               "queue": "Python queue trigger function processed a queue item: ",
               "blob": "Python blob trigger function processed blob Name: "},
    "node": {"timer": "JavaScript timer trigger function ran!",
             "queue": "JavaScript queue trigger function processed work item ",
             "blob": "JavaScript blob trigger function processed blob Name: "},
}


def run(*args, timeout=60):
    e = dict(os.environ)
    e.pop("STRATUS_MASTER_KEY", None)
    e["NO_COLOR"] = "1"
    p = subprocess.run([BIN] + [str(a) for a in args], env=e, timeout=timeout,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    p.out = p.stdout.decode("utf-8", "replace")
    p.err = p.stderr.decode("utf-8", "replace")
    assert not sanitizer_report(p.out + p.err), p.out + p.err
    return p


def needs(runtime):
    if runtime == "node" and not shutil.which("node"):
        pytest.skip("node is not installed")


def new_app(tmp_path, runtime):
    d = tmp_path / ("app-" + runtime)
    p = run("init", d, "--worker-runtime", runtime)
    assert p.returncode == 0, p.err
    return d


def binding(d, fn):
    fj = json.loads((d / fn / "function.json").read_text())
    assert len(fj["bindings"]) == 1, fj
    return fj, fj["bindings"][0]


# ---- what the templates write ----------------------------------------------------

def test_templates_lists_the_four_triggers():
    p = run("templates")
    assert p.returncode == 0, p.err
    for rt in RUNTIMES:
        p = run("templates", "--worker-runtime", rt)
        assert p.returncode == 0, p.err
        for name in ("HTTP trigger", "Timer trigger", "Queue trigger", "Blob trigger"):
            assert name in p.out, (rt, p.out)
        for alias in ("TimerTrigger", "QueueTrigger", "BlobTrigger",
                      "Azure Queue Storage trigger", "Azure Blob Storage trigger"):
            assert alias in p.out, (rt, p.out)


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_function_json_as_azure_writes_it(tmp_path, runtime):
    d = new_app(tmp_path, runtime)
    for tname, fn in (("Timer trigger", "t1"), ("Queue trigger", "q1"), ("Blob trigger", "b1")):
        p = run("new", "--template", tname, "--name", fn, "--app", d)
        assert p.returncode == 0, p.err
        assert "authLevel" not in p.out, p.out  # an HTTP-only option
        code = CODE[runtime] or fn + ".c"
        assert sorted(os.listdir(d / fn)) == sorted(["function.json", code])
        assert (d / fn / code).read_text().strip()
    py = runtime == "python"
    fj, b = binding(d, "t1")
    assert fj["scriptFile"] == (CODE[runtime] or "t1.so")
    assert b == {"name": "mytimer" if py else "myTimer", "type": "timerTrigger",
                 "direction": "in", "schedule": "0 */5 * * * *"}
    fj, b = binding(d, "q1")
    assert b == {"name": "msg" if py else "myQueueItem", "type": "queueTrigger",
                 "direction": "in", "queueName": "myqueue-items",
                 "connection": "AzureWebJobsStorage"}
    fj, b = binding(d, "b1")
    assert b == {"name": "myblob" if py else "myBlob", "type": "blobTrigger", "direction": "in",
                 "path": "samples-workitems/{name}", "connection": "AzureWebJobsStorage"}


@pytest.mark.parametrize("alias,btype", [
    ("timer", "timerTrigger"), ("TimerTrigger", "timerTrigger"), ("timer-trigger", "timerTrigger"),
    ("queue", "queueTrigger"), ("QUEUETRIGGER", "queueTrigger"),
    ("Azure Queue Storage trigger", "queueTrigger"),
    ("blob", "blobTrigger"), ("BlobTrigger", "blobTrigger"),
    ("azure blob storage trigger", "blobTrigger")])
def test_template_aliases(tmp_path, alias, btype):
    d = new_app(tmp_path, "native")
    p = run("new", "-t", alias, "-n", "fn", "--app", d)
    assert p.returncode == 0, p.err
    assert binding(d, "fn")[1]["type"] == btype


def test_native_entry_symbol_kept_apart_from_libc(tmp_path):
    """A function named like a C library call the template uses gets its own symbol."""
    d = new_app(tmp_path, "native")
    p = run("new", "-t", "timer", "-n", "strftime", "--app", d)
    assert p.returncode == 0, p.err
    fj = json.loads((d / "strftime" / "function.json").read_text())
    assert fj["entryPoint"] == "strftime_fn"
    assert "int strftime_fn(stratus_ctx *ctx)" in (d / "strftime" / "strftime.c").read_text()


# ---- the functions run ------------------------------------------------------------

def put_message(h, d):
    """A message for the queue template's function; returns its text."""
    marker = "hello-" + uuid.uuid4().hex
    p = run("queue", "put", "myqueue-items", marker, "--port", h.port, "--app", d)
    assert p.returncode == 0, p.err
    return marker


def put_blob(d):
    """A new 1,234-byte blob for the blob template's function; returns its name."""
    blob = "item-%s.txt" % uuid.uuid4().hex
    container = d / ".stratus" / "blobs" / "samples-workitems"
    assert wait_for(container.is_dir, timeout=30)  # made by the trigger when it starts
    tmp = container / (".tmp-" + blob)
    tmp.write_bytes(b"x" * 1234)
    os.rename(tmp, container / blob)
    return blob


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_trigger_templates_run(tmp_path, start_host, runtime):
    """init + new (timer, queue, blob) + start: each function runs when its trigger fires."""
    needs(runtime)
    d = new_app(tmp_path, runtime)
    for t in ("timer", "queue", "blob"):
        p = run("new", "--template", t, "--name", "my-" + t, "--app", d)
        assert p.returncode == 0, p.err
    # Every five minutes is too slow for a test: every second instead.
    fj_path = d / "my-timer" / "function.json"
    fj = json.loads(fj_path.read_text())
    fj["bindings"][0]["schedule"] = "* * * * * *"
    fj_path.write_text(json.dumps(fj))

    h = start_host(str(d))
    lines = LINES[runtime]

    def logged(fn, text):
        return any(("%s" % fn) in ln and text in ln for ln in h.log().splitlines())

    assert wait_for(lambda: logged("my-timer", lines["timer"]), timeout=90), h.log()[-3000:]

    marker = put_message(h, d)
    assert wait_for(lambda: logged("my-queue", lines["queue"] + marker), timeout=90), \
        h.log()[-3000:]

    blob = put_blob(d)
    if runtime == "python":  # InputStream.name is "container/blob", as in Azure
        want = "Name: samples-workitems/%s, Blob Size: 1234 bytes" % blob
    elif runtime == "node":
        want = "Name: %s Blob Size: 1234 bytes" % blob
    else:
        want = "Name: %s, Blob Size: 1234 bytes" % blob
    assert wait_for(lambda: logged("my-blob", want), timeout=90), h.log()[-3000:]

    # the admin API runs the timer function at once, with any input
    r = h.post("/admin/functions/my-timer", body=b'{"input": ""}',
               headers={"Content-Type": "application/json"})
    assert r.status == 202, r.text
    inv = r.header("x-invocation-id")
    assert wait_for(lambda: inv in h.log() and "Executed 'Functions.my-timer' (Succeeded, Id=%s"
                    % inv in h.log(), timeout=60), h.log()[-3000:]
    assert "Failed" not in h.log(), h.log()[-3000:]


# The apps of the models that declare functions in code: `init --model` and
# `new` for each trigger, then a host runs them (worker indexing).
CODE_MODEL_LINES = {
    "V2": {"http": "Python HTTP trigger function processed a request.",
           "timer": "Python timer trigger function ran at ",
           "queue": "Python queue trigger function processed a queue item: ",
           "blob": "Python blob trigger function processed blob Name: "},
    "V4": {"http": "JavaScript HTTP trigger function processed a request for url",
           "timer": "JavaScript timer trigger function ran!",
           "queue": "JavaScript queue trigger function processed work item ",
           "blob": "JavaScript blob trigger function processed blob Name: "},
}
AZURE_FUNCTIONS = os.path.join(ROOT, "build", "azure-functions", "node_modules")


@pytest.mark.parametrize("runtime,model", [("python", "V2"), ("node", "V4")])
def test_code_model_templates_run(tmp_path, start_host, runtime, model):
    """init --model V2/V4 + new (http, timer, queue, blob) + start: each runs when its
    trigger fires, and the HTTP function greets by query and by JSON body."""
    needs(runtime)
    d = tmp_path / ("app-" + model)
    args = ["init", d, "--worker-runtime", runtime, "--model", model]
    if runtime == "node":
        if not os.path.isdir(os.path.join(AZURE_FUNCTIONS, "@azure", "functions")):
            pytest.skip("npm @azure/functions 4.x is not installed (make azure-functions)")
        args.append("--skip-npm-install")
    p = run(*args)
    assert p.returncode == 0, p.err
    for t in ("http", "timer", "queue", "blob"):
        p = run("new", "--template", t, "--name", "my-" + t, "--app", d,
                "--authlevel", "anonymous")
        assert p.returncode == 0, p.err
    # Every five minutes is too slow for a test: every second instead.
    code = d / ("function_app.py" if runtime == "python" else "src/functions/my-timer.js")
    text = code.read_text()
    assert "0 */5 * * * *" in text
    code.write_text(text.replace("0 */5 * * * *", "* * * * * *"))
    if runtime == "node":
        os.makedirs(d / "node_modules")
        os.symlink(os.path.join(AZURE_FUNCTIONS, "@azure"), d / "node_modules" / "@azure")

    h = start_host(str(d))
    lines = CODE_MODEL_LINES[model]

    def logged(fn, text):
        return any(fn in ln and text in ln for ln in h.log().splitlines())

    assert wait_for(lambda: "4 function(s) loaded, 0 error(s)" in h.log(), timeout=60), \
        h.log()[-3000:]
    r = h.get("/api/my-http?name=Ada")
    assert r.status == 200 and r.text.startswith("Hello, Ada."), (r.status, r.text)
    r = h.post("/api/my-http", body=b'{"name": "Bo"}',
               headers={"Content-Type": "application/json"})
    assert r.status == 200 and r.text.startswith("Hello, Bo."), (r.status, r.text)
    assert logged("my-http", lines["http"]), h.log()[-3000:]
    assert wait_for(lambda: logged("my-timer", lines["timer"]), timeout=90), h.log()[-3000:]
    marker = put_message(h, d)
    assert wait_for(lambda: logged("my-queue", lines["queue"] + marker), timeout=90), \
        h.log()[-3000:]
    blob = put_blob(d)
    assert wait_for(lambda: logged("my-blob", lines["blob"]) and blob in h.log(), timeout=90), \
        h.log()[-3000:]
    assert "Failed" not in h.log(), h.log()[-3000:]


# ---- Core Tools' --language ------------------------------------------------------

@pytest.mark.parametrize("lang,runtime", [("Python", "python"), ("JavaScript", "node"),
                                          ("c", "native")])
def test_templates_list_by_core_tools_language(lang, runtime):
    for args in (["--language", lang], ["--language=" + lang]):
        p = run("templates", "list", *args)
        assert p.returncode == 0, p.err
        assert p.out.startswith(runtime + " runtime:"), p.out
        assert " runtime:" not in p.out[len(runtime) + 9:], p.out   # that runtime only
        assert "Azure Queue Storage trigger" in p.out and "HTTP trigger" in p.out, p.out


@pytest.mark.parametrize("lang,hint", [("TypeScript", "compile TypeScript"), ("C#", ".NET"),
                                       ("cobol", "expected Python, JavaScript")])
def test_templates_list_refuses_other_languages(lang, hint):
    p = run("templates", "list", "--language", lang)
    assert p.returncode == 2 and hint in p.err, p.err


def test_new_takes_core_tools_language_when_it_matches(tmp_path):
    d = new_app(tmp_path, "python")
    p = run("new", "--template", "HTTP trigger", "--name", "h", "--language", "Python",
            "--app", d)
    assert p.returncode == 0, p.err
    assert sorted(os.listdir(d / "h")) == ["__init__.py", "function.json"]
    p = run("new", "-t", "Timer trigger", "-n", "t", "-l", "JavaScript", "--app", d)
    assert p.returncode == 2 and "does not match the app's runtime \"python\"" in p.err, p.err
    assert not (d / "t").exists()


# ---- apps that declare their functions in code (Python V2, Node.js V4) ----------
# What `stratus new` writes there; running such apps needs the workers' side of worker
# indexing, tested with the workers.

def code_app(tmp_path, runtime):
    d = tmp_path / ("app-" + runtime)
    model = "V2" if runtime == "python" else "V4"
    p = run("init", d, "--worker-runtime", runtime, "--model", model, "--skip-npm-install")
    assert p.returncode == 0, p.err
    return d


def call_args(call):
    """The keyword arguments of a decorator call, as Python values."""
    return {k.arg: ast.literal_eval(k.value) for k in call.keywords
            if not isinstance(k.value, ast.Attribute)}


def decorated(path):
    """def name -> {decorator: (positional args, keyword args)} of function_app.py."""
    tree = ast.parse(path.read_text(), str(path))
    out = {}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            decs = {}
            for dec in node.decorator_list:
                assert isinstance(dec, ast.Call), ast.dump(dec)
                name = ast.unparse(dec.func)
                assert name.startswith("app."), name
                decs[name[4:]] = ([ast.literal_eval(a) for a in dec.args], call_args(dec),
                                  {k.arg: ast.unparse(k.value) for k in dec.keywords})
            out[node.name] = (decs, [a.arg for a in node.args.args])
    return out


def test_python_v2_templates_add_decorated_functions(tmp_path):
    d = code_app(tmp_path, "python")
    for t, fn, extra in (("http", "hello", ["--authlevel", "anonymous"]),
                         ("HttpTrigger", "secret", []),
                         ("Timer trigger", "my-timer", []),
                         ("queue", "work", []),
                         ("Azure Blob Storage trigger", "upload", [])):
        p = run("new", "--template", t, "--name", fn, "--app", d, *extra)
        assert p.returncode == 0, (t, p.err)
        assert str(d / "function_app.py") in p.out, p.out
    assert sorted(os.listdir(d)) == [".gitignore", "function_app.py", "host.json",
                                     "local.settings.json", "requirements.txt"]
    fns = decorated(d / "function_app.py")
    assert list(fns) == ["hello", "secret", "my_timer", "work", "upload"], fns

    decs, params = fns["hello"]
    assert list(decs) == ["route"] and params == ["req"], decs
    assert decs["route"][1] == {"route": "hello", "methods": ["GET", "POST"]}
    assert decs["route"][2]["auth_level"] == "func.AuthLevel.ANONYMOUS"
    assert fns["secret"][0]["route"][2]["auth_level"] == "func.AuthLevel.FUNCTION"

    decs, params = fns["my_timer"]  # "my-timer" is no Python name: function_name says it
    assert decs["function_name"][1] == {"name": "my-timer"}, decs
    assert decs["timer_trigger"][1] == {"schedule": "0 */5 * * * *", "arg_name": "mytimer",
                                        "run_on_startup": False, "use_monitor": False}
    assert params == ["mytimer"]

    decs, params = fns["work"]
    assert decs == {"queue_trigger": ([], {"arg_name": "msg", "queue_name": "myqueue-items",
                                           "connection": "AzureWebJobsStorage"},
                                      decs["queue_trigger"][2])}, decs
    assert params == ["msg"]

    decs, params = fns["upload"]
    assert decs["blob_trigger"][1] == {"arg_name": "myblob", "path": "samples-workitems/{name}",
                                       "connection": "AzureWebJobsStorage"}, decs
    assert params == ["myblob"]
    text = (d / "function_app.py").read_text()
    # the bodies are the v1 templates' ones
    assert 'req.params.get("name")' in text and "req.get_json()" in text
    assert "Python timer trigger function ran at " in text
    assert "Python queue trigger function processed a queue item: " in text
    assert "Python blob trigger function processed blob Name: " in text
    # two blank lines between the functions, none piled up
    assert "\n\n\n\n" not in text and text.count("\n\n\n@app.") == 5, text


def test_python_v2_names_that_are_no_python_names(tmp_path):
    d = code_app(tmp_path, "python")
    for fn in ("class", "app", "logging"):
        p = run("new", "-t", "timer", "-n", fn, "--app", d)
        assert p.returncode == 0, p.err
    fns = decorated(d / "function_app.py")
    assert list(fns) == ["class_fn", "app_fn", "logging_fn"], fns
    assert fns["app_fn"][0]["function_name"][1] == {"name": "app"}


def test_python_v2_refuses_a_name_already_declared(tmp_path):
    d = code_app(tmp_path, "python")
    path = d / "function_app.py"
    path.write_text(path.read_text() + '\n\n@app.function_name(name="Named")\n'
                    '@app.route(route="x")\ndef other(req):\n    pass\n\n\n'
                    '@app.route(route="y")\nasync def plain (req):\n    pass\n')
    before = path.read_text()
    for fn, hint in (("named", 'function_name "Named"'), ("PLAIN", "def plain(")):
        p = run("new", "-t", "http", "-n", fn, "--app", d)
        assert p.returncode == 1, p.out
        assert "%s already declares a function '%s' (%s;" % (path, fn, hint) in p.err, p.err
    p = run("new", "-t", "queue", "-n", "my-fn", "--app", d)
    assert p.returncode == 0, p.err
    p = run("new", "-t", "blob", "-n", "my_fn", "--app", d)   # the def of "my-fn"
    assert p.returncode == 1 and "def my_fn(" in p.err, p.err
    p = run("new", "-t", "blob", "-n", "My-Fn", "--app", d)   # the function_name of "my-fn"
    assert p.returncode == 1 and 'function_name "my-fn"' in p.err, p.err
    assert len(decorated(path)) == 3
    assert path.read_text().startswith(before)


def test_python_v2_needs_the_app_object(tmp_path):
    d = code_app(tmp_path, "python")
    (d / "function_app.py").write_text("import azure.functions as func\n")
    p = run("new", "-t", "http", "-n", "h", "--app", d)
    assert p.returncode == 1, p.out
    assert "has no 'app = func.FunctionApp()' line" in p.err, p.err
    assert (d / "function_app.py").read_text() == "import azure.functions as func\n"
    # without the imports the function uses, the function is added with a note
    (d / "function_app.py").write_text("import azure.functions\napp: object = "
                                       "azure.functions.FunctionApp()")
    p = run("new", "-t", "timer", "-n", "t", "--app", d)
    assert p.returncode == 0, p.err
    assert "uses the module logging, which function_app.py does not import" in p.out, p.out
    assert "uses the module datetime" in p.out and "import azure.functions as func" in p.out
    assert list(decorated(d / "function_app.py")) == ["t"]


def test_python_v2_script_file_name_setting(tmp_path):
    d = code_app(tmp_path, "python")
    os.rename(d / "function_app.py", d / "main_app.py")
    p = run("settings", "add", "PYTHON_SCRIPT_FILE_NAME", "main_app.py", "--app", d)
    assert p.returncode == 0, p.err
    p = run("new", "-t", "http", "-n", "h", "--app", d)
    assert p.returncode == 0, p.err
    assert list(decorated(d / "main_app.py")) == ["h"]
    assert not (d / "h").exists() and not (d / "function_app.py").exists()


def test_python_app_with_function_folders_gets_a_folder(tmp_path):
    """As the host: an app with function folders is of the V1 model, function_app.py or not."""
    d = code_app(tmp_path, "python")
    p = run("new", "-t", "http", "-n", "first", "--app", d)
    assert p.returncode == 0, p.err
    (d / "old").mkdir()
    (d / "old" / "function.json").write_text('{"bindings": []}')
    p = run("new", "-t", "http", "-n", "second", "--app", d)
    assert p.returncode == 0, p.err
    assert sorted(os.listdir(d / "second")) == ["__init__.py", "function.json"]
    assert list(decorated(d / "function_app.py")) == ["first"]


# A stand-in for @azure/functions that records what each file registers.
FAKE_AZURE_FUNCTIONS = """
const registered = [];
const reg = (kind) => (name, options) => registered.push({kind, name, options,
    handler: typeof options.handler});
module.exports = {registered, app: {http: reg('http'), timer: reg('timer'),
    storageQueue: reg('storageQueue'), storageBlob: reg('storageBlob')}};
"""


def node_registrations(d, files):
    pkg = d / "node_modules" / "@azure" / "functions"
    pkg.mkdir(parents=True, exist_ok=True)
    (pkg / "index.js").write_text(FAKE_AZURE_FUNCTIONS)
    script = ("for (const f of process.argv.slice(1)) require(f);"
              "console.log(JSON.stringify(require('@azure/functions').registered));")
    p = subprocess.run(["node", "-e", script] + [str(f) for f in files], cwd=d,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    assert p.returncode == 0, p.stderr.decode()
    return json.loads(p.stdout)


def test_node_v4_templates_write_src_functions(tmp_path):
    needs("node")
    d = code_app(tmp_path, "node")
    for t, fn, extra in (("http", "hello", ["--authlevel", "anonymous"]),
                         ("HTTP trigger", "secret", []),
                         ("TimerTrigger", "my-timer", []),
                         ("Azure Queue Storage trigger", "work", []),
                         ("blob", "upload", [])):
        p = run("new", "--template", t, "--name", fn, "--app", d, *extra)
        assert p.returncode == 0, (t, p.err)
        assert str(d / "src" / "functions" / (fn + ".js")) in p.out, p.out
        assert "Note:" not in p.out, p.out
    files = sorted(os.listdir(d / "src" / "functions"))
    assert files == ["hello.js", "my-timer.js", "secret.js", "upload.js", "work.js"]
    for f in files:
        c = subprocess.run(["node", "--check", str(d / "src" / "functions" / f)],
                           stderr=subprocess.PIPE, timeout=60)
        assert c.returncode == 0, (f, c.stderr.decode())
    regs = {r["name"]: r for r in node_registrations(
        d, [d / "src" / "functions" / f for f in files])}
    assert sorted(regs) == ["hello", "my-timer", "secret", "upload", "work"], regs
    assert all(r["handler"] == "function" for r in regs.values()), regs
    assert regs["hello"]["kind"] == "http"
    assert regs["hello"]["options"] == {"methods": ["GET", "POST"], "authLevel": "anonymous"}
    assert regs["secret"]["options"]["authLevel"] == "function"
    assert regs["my-timer"]["kind"] == "timer"
    assert regs["my-timer"]["options"] == {"schedule": "0 */5 * * * *"}
    assert regs["work"]["kind"] == "storageQueue"
    assert regs["work"]["options"] == {"queueName": "myqueue-items",
                                       "connection": "AzureWebJobsStorage"}
    assert regs["upload"]["kind"] == "storageBlob"
    assert regs["upload"]["options"] == {"path": "samples-workitems/{name}",
                                         "connection": "AzureWebJobsStorage"}
    text = (d / "src" / "functions" / "hello.js").read_text()
    assert "request.query.get('name')" in text and "await request.json()" in text


def test_node_v4_refuses_an_existing_file_and_follows_main(tmp_path):
    d = code_app(tmp_path, "node")
    assert run("new", "-t", "http", "-n", "hello", "--app", d).returncode == 0
    p = run("new", "-t", "timer", "-n", "HELLO", "--app", d)
    assert p.returncode == 1, p.out
    assert "'%s' already exists" % (d / "src" / "functions" / "hello.js") in p.err, p.err
    pkg = json.loads((d / "package.json").read_text())
    pkg["main"] = "./lib/handlers/*.js"
    (d / "package.json").write_text(json.dumps(pkg))
    p = run("new", "-t", "timer", "-n", "tick", "--app", d)
    assert p.returncode == 0, p.err
    assert (d / "lib" / "handlers" / "tick.js").is_file() and "Note:" not in p.out, p.out
    pkg["main"] = "index.js"
    (d / "package.json").write_text(json.dumps(pkg))
    p = run("new", "-t", "queue", "-n", "work", "--app", d)
    assert p.returncode == 0, p.err
    assert (d / "src" / "functions" / "work.js").is_file()
    assert 'Note: package.json "main" is "index.js", which does not name ' \
           'src/functions/work.js' in p.out, p.out


def test_node_apps_of_the_v3_model_get_folders(tmp_path):
    """package.json "main" alone (as `npm init` writes it) is not the V4 model: the
    @azure/functions library of version 4 is."""
    d = new_app(tmp_path, "node")
    for deps in ({}, {"@azure/functions": "^3.5.0"}):
        (d / "package.json").write_text(json.dumps({"main": "index.js", "dependencies": deps}))
        fn = "f%d" % len(deps)
        p = run("new", "-t", "http", "-n", fn, "--app", d)
        assert p.returncode == 0, p.err
        assert sorted(os.listdir(d / fn)) == ["function.json", "index.js"]
        assert not (d / "src").exists()


def test_node_v4_typescript_app_is_refused(tmp_path):
    d = code_app(tmp_path, "node")
    (d / "tsconfig.json").write_text("{}")
    p = run("new", "-t", "http", "-n", "hello", "--app", d)
    assert p.returncode == 1, p.out
    assert "is a TypeScript app of the Node.js V4 model" in p.err, p.err
    assert os.listdir(d / "src" / "functions") == []


def test_templates_say_which_models_they_serve():
    p = run("templates")
    assert p.returncode == 0, p.err
    assert "in a V2 app the function is added to\nfunction_app.py" in p.out, p.out
    assert "in a V4 app it is src/functions/FUNCTION.js" in p.out, p.out


# A stand-in for azure.functions whose decorators keep the functions as they are, to run
# the bodies the V2 templates write.
FAKE_AZURE_FUNCTIONS_PY = """
import enum, json as _json


class AuthLevel(enum.Enum):
    ANONYMOUS = "anonymous"
    FUNCTION = "function"
    ADMIN = "admin"


class HttpResponse:
    def __init__(self, body, status_code=200):
        self.body, self.status_code = body, status_code


class HttpRequest:
    def __init__(self, params, body):
        self.params, self._body = params, body

    def get_json(self):
        return _json.loads(self._body)


class FunctionApp:
    def __getattr__(self, name):
        return lambda *args, **kwargs: (lambda f: f)
"""


def test_python_v2_http_body_greets_by_query_or_json(tmp_path):
    d = code_app(tmp_path, "python")
    assert run("new", "-t", "http", "-n", "hello", "--app", d).returncode == 0
    pkg = tmp_path / "stub" / "azure" / "functions"
    pkg.mkdir(parents=True)
    (pkg.parent / "__init__.py").write_text("")
    (pkg / "__init__.py").write_text(FAKE_AZURE_FUNCTIONS_PY)
    script = (
        "import function_app as m, azure.functions as func\n"
        "for params, body in (({'name': 'Ann'}, ''), ({}, '{\"name\": \"Bob\"}'),"
        " ({}, 'not json'), ({}, '[1]')):\n"
        "    r = m.hello(func.HttpRequest(params, body))\n"
        "    print(r.status_code, r.body)\n")
    p = subprocess.run(["/usr/bin/python3", "-c", script], cwd=d, timeout=60,
                       env=dict(os.environ, PYTHONPATH="%s:%s" % (tmp_path / "stub", d)),
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert p.returncode == 0, p.stderr.decode()
    lines = p.stdout.decode().splitlines()
    assert lines[0] == "200 Hello, Ann. This HTTP triggered function executed successfully."
    assert lines[1] == "200 Hello, Bob. This HTTP triggered function executed successfully."
    assert lines[2].startswith("200 This HTTP triggered function executed successfully. Pass")
    assert lines[3] == lines[2]


def test_node_v4_http_handler_greets_by_query_or_json(tmp_path):
    needs("node")
    d = code_app(tmp_path, "node")
    assert run("new", "-t", "http", "-n", "hello", "--app", d).returncode == 0
    node_registrations(d, [])  # installs the stand-in @azure/functions
    script = """
const {registered} = require('@azure/functions');
require('./src/functions/hello.js');
const handler = registered[0].options.handler;
const req = (query, body) => ({url: 'http://localhost/api/hello?' + query,
    query: new URLSearchParams(query), json: async () => JSON.parse(body)});
const ctx = {log: () => {}};
(async () => {
    for (const [q, b] of [['name=Ann', ''], ['', '{"name": "Bob"}'], ['', 'nope']])
        console.log((await handler(req(q, b), ctx)).body);
})();
"""
    p = subprocess.run(["node", "-e", script], cwd=d, timeout=60,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert p.returncode == 0, p.stderr.decode()
    lines = p.stdout.decode().splitlines()
    assert lines[0] == "Hello, Ann. This HTTP triggered function executed successfully."
    assert lines[1] == "Hello, Bob. This HTTP triggered function executed successfully."
    assert lines[2].startswith("This HTTP triggered function executed successfully. Pass")
