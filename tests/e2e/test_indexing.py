"""Worker indexing, the host's side: an app that declares its functions in
code (Python's v2 model, function_app.py; Node.js's v4 model, package.json
"main") has them listed by its language worker run with --index, and the
host validates, reports and serves what the list holds. The interpreter
here is a stand-in named by the languageWorkers__<lang>__defaultExecutablePath
setting, so that what the host does with a list (good, wrong, missing) is
tested apart from the workers; tests/e2e/test_python_v2.py and
test_node_v4.py run the real workers."""
import json
import os
import stat

from conftest import wait_for

HTTP = {"type": "httpTrigger", "direction": "in", "name": "req", "authLevel": "anonymous",
        "methods": ["get"], "route": "hi/{name?}"}
OUT = {"type": "http", "direction": "out", "name": "$return"}

# The stand-in interpreter: with --index it prints a line (what an app's
# imports print), then writes INDEX_DOC to descriptor 3 and exits with
# INDEX_EXIT; otherwise it runs the real interpreter, so the workers start.
FAKE = r"""#!/bin/sh
for a in "$@"; do
  if [ "$a" = "--index" ]; then
    echo "importing the app's code (pid $$, fd3 `[ -e /proc/self/fd/3 ] && echo open`)"
    echo "STRATUS_INDEX_FD=$STRATUS_INDEX_FD STRATUS_WORKER_FD=${STRATUS_WORKER_FD:-unset}" >&2
    echo "args: $*" >&2
    if [ -n "$INDEX_DOC" ]; then cat "$INDEX_DOC" >&3; fi
    exit ${INDEX_EXIT:-0}
  fi
done
exec REAL "$@"
"""


def fake_interpreter(tmp_path, real):
    p = tmp_path / "fake-interpreter"
    p.write_text(FAKE.replace("REAL", real))
    p.chmod(p.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return str(p)


def python_app(make_app, tmp_path, doc, exit_code=0, host=None):
    docfile = tmp_path / "index.json"
    docfile.write_text(doc if isinstance(doc, str) else json.dumps(doc))
    settings = {"IsEncrypted": False, "Values": {
        "FUNCTIONS_WORKER_RUNTIME": "python",
        "languageWorkers__python__defaultExecutablePath": fake_interpreter(tmp_path,
                                                                           "/usr/bin/python3"),
        "INDEX_DOC": str(docfile), "INDEX_EXIT": str(exit_code)}}
    return make_app({}, host=host, settings=settings,
                    files={"function_app.py": "# functions are declared here\n"})


def errors(h):
    r = h.get("/admin/host/status")
    assert r.status == 200, r.text
    return [e if isinstance(e, str) else json.dumps(e) for e in r.json()["errors"]]


def test_listed_functions_are_validated_and_reported(make_app, start_host, tmp_path):
    doc = {"functions": [
        {"name": "hello", "scriptFile": "function_app.py", "entryPoint": "hello",
         "bindings": [HTTP, OUT]},
        {"name": "tick", "scriptFile": "function_app.py", "entryPoint": "tick",
         "bindings": [{"type": "timerTrigger", "direction": "in", "name": "t"}]},
        {"name": "hello", "scriptFile": "function_app.py", "bindings": [HTTP, OUT]},
    ], "errors": [{"function": None,
                   "error": "function_app.py, line 7: NameError: name 'x' is not defined"}]}
    h = start_host(python_app(make_app, tmp_path, doc))
    wait_for(lambda: "Host started" in h.log())
    log = h.log()
    # What the code printed while it was imported is in the log; descriptor
    # 3 is the answer, not the worker socket.
    assert "python indexing: importing the app's code" in log, log
    assert "STRATUS_INDEX_FD=3 STRATUS_WORKER_FD=unset" in log, log
    assert "worker.py --index" in log, log
    assert "function_app.py: 1 function(s) indexed" in log, log
    errs = "\n".join(errors(h))
    assert "function_app.py, line 7: NameError: name 'x' is not defined" in errs, errs
    assert ("function_app.py: function 'tick': binding 't' (timerTrigger): field 'schedule' "
            "is required") in errs, errs
    assert "function_app.py: function 'hello': function name 'hello' is used twice" in errs, errs
    assert h.alive()


def test_an_indexer_that_fails_is_reported_and_the_host_serves(make_app, start_host,
                                                               tmp_path):
    h = start_host(python_app(make_app, tmp_path, "", exit_code=3))
    wait_for(lambda: "Host started" in h.log())
    errs = "\n".join(errors(h))
    assert ("function_app.py: indexing the app's functions failed: the python worker exited "
            "with status 3: importing the app's code") in errs, errs
    assert h.get("/").status == 200  # the home page: the host is up
    assert h.alive()


def test_a_list_that_is_not_json_is_reported(make_app, start_host, tmp_path):
    h = start_host(python_app(make_app, tmp_path, '{"functions": [}'))
    wait_for(lambda: "Host started" in h.log())
    errs = "\n".join(errors(h))
    assert "function_app.py: the python worker's list of functions is not valid: 1:" in errs, errs


def test_listed_function_shows_in_the_admin_api_with_its_declaration(make_app, start_host,
                                                                      tmp_path):
    # A function the stand-in lists but the real worker cannot find stays
    # configured (its route answers 500, as a function whose code did not
    # load), and /admin/functions/<name> is there while it is broken or not.
    doc = {"functions": [{"name": "hello", "scriptFile": "function_app.py",
                          "entryPoint": "hello", "bindings": [HTTP, OUT]}]}
    h = start_host(python_app(make_app, tmp_path, doc))
    wait_for(lambda: "Host started" in h.log())
    r = h.get("/api/hi/ann")
    assert r.status == 500, (r.status, r.text)
    assert "hello" in r.text
    errs = "\n".join(errors(h))
    assert "hello" in errs, errs


def test_script_file_setting_names_the_file(make_app, start_host, tmp_path):
    doc = {"functions": [], "errors": []}
    docfile = tmp_path / "index.json"
    docfile.write_text(json.dumps(doc))
    settings = {"IsEncrypted": False, "Values": {
        "FUNCTIONS_WORKER_RUNTIME": "python", "PYTHON_SCRIPT_FILE_NAME": "main_app.py",
        "languageWorkers__python__defaultExecutablePath": fake_interpreter(tmp_path,
                                                                           "/usr/bin/python3"),
        "INDEX_DOC": str(docfile)}}
    app = make_app({}, settings=settings, files={"main_app.py": "\n"})
    h = start_host(app)
    wait_for(lambda: "Host started" in h.log())
    assert "main_app.py: 0 function(s) indexed" in h.log(), h.log()


def test_node_app_with_main_is_indexed_by_node(make_app, start_host, tmp_path):
    doc = {"functions": [], "errors": [{"function": "hello",
                                        "error": "src/index.js:3 SyntaxError: Unexpected token"}]}
    docfile = tmp_path / "index.json"
    docfile.write_text(json.dumps(doc))
    settings = {"IsEncrypted": False, "Values": {
        "FUNCTIONS_WORKER_RUNTIME": "node",
        "languageWorkers__node__defaultExecutablePath": fake_interpreter(tmp_path, "node"),
        "INDEX_DOC": str(docfile)}}
    app = make_app({}, settings=settings,
                   files={"package.json": json.dumps({"main": "src/index.js"}),
                          "src/index.js": "\n"})
    h = start_host(app)
    wait_for(lambda: "Host started" in h.log())
    log = h.log()
    assert "worker.js --index" in log, log
    errs = "\n".join(errors(h))
    assert ("package.json: function 'hello': src/index.js:3 SyntaxError: Unexpected token"
            in errs), errs


def test_model_without_its_runtime_says_which_to_set(make_app, start_host, tmp_path):
    app = make_app({}, settings={"IsEncrypted": False, "Values": {}},
                   files={"function_app.py": "\n"})
    h = start_host(app)
    wait_for(lambda: "Host started" in h.log())
    errs = "\n".join(errors(h))
    assert "set \"FUNCTIONS_WORKER_RUNTIME\": \"python\" in local.settings.json" in errs, errs
