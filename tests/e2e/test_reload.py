"""The development loop: `stratus start` watches the app and reloads it when
its files change, in the same process, without dropping requests in flight.

A native app goes through code edits (rebuilt), a function.json route
change, a function added and one removed, a broken build (reported in the
log and /admin/host/status while the previous version serves), its fix, and
a host.json routePrefix change. A slow request that is running during a
reload finishes with the code it started with. Python and Node.js apps pick
up code changes in new workers. `--no-watch` turns it off.

Every wait polls with a generous limit; nothing here measures time.
"""
import json
import os
import shutil
import threading

import pytest

from conftest import http_fn, wait_for

HELLO_C = r"""
#include <stratus.h>
int %(name)s(stratus_ctx *ctx)
{
    stratus_res_printf(ctx, "%(text)s");
    return 0;
}
"""

# Waits (up to 60 s) until the file named by ?release exists, after writing
# the file named by ?started: a request that stays in flight on demand.
SLOW_C = r"""
#include <stratus.h>
#include <stdio.h>
#include <unistd.h>
int slow(stratus_ctx *ctx)
{
    const char *started = stratus_req_query(ctx, "started");
    const char *release = stratus_req_query(ctx, "release");
    if (started) {
        FILE *f = fopen(started, "w");
        if (f)
            fclose(f);
    }
    for (int i = 0; release && i < 6000 && access(release, F_OK) != 0; i++)
        usleep(10000);
    stratus_res_printf(ctx, "%(text)s");
    return 0;
}
"""


def hello(name, text, route=None):
    fn = http_fn(name, route=route)
    fn[name + ".c"] = HELLO_C % {"name": name, "text": text}
    return fn


def write(path, text):
    """Write a file the way editors do: the watcher sees it when closed."""
    with open(path, "w") as f:
        f.write(text)


def reloads(host):
    return host.log().count("Host reloaded in")


def body_is(host, path, text, timeout=60):
    """Poll until GET path answers 200 with text; return the last answer."""
    last = {}

    def check():
        r = host.get(path)
        last["r"] = r
        return r.status == 200 and r.text == text

    assert wait_for(check, timeout=timeout, interval=0.1), (
        "GET %s never answered %r; last %s %r\n%s" % (
            path, text, last["r"].status, last["r"].text, host.log()[-3000:]))
    return last["r"]


def status_is(host, path, status, timeout=60):
    assert wait_for(lambda: host.get(path).status == status, timeout=timeout, interval=0.1), \
        "GET %s never answered %d\n%s" % (path, status, host.log()[-3000:])


def status_json(host):
    return host.get("/admin/host/status").json()


def test_native_edits_routes_added_removed_broken_fixed_and_host_json(make_app, start_host):
    app = make_app({"hello": hello("hello", "v1"), "other": hello("other", "o1")})
    host = start_host(app)
    body_is(host, "/api/hello", "v1")
    pid = host.proc.pid
    assert "Watching '%s' for changes" % app in host.log()

    # code edit: rebuilt and served by the same process
    write(os.path.join(app, "hello", "hello.c"), HELLO_C % {"name": "hello", "text": "v2"})
    body_is(host, "/api/hello", "v2")
    assert host.proc.pid == pid and host.alive()
    log = host.log()
    assert "File change of type 'Changed' detected for 'hello/hello.c'" in log
    assert "Reloading functions: hello" in log
    assert "Built hello from 1 source file" in log
    st = status_json(host)
    assert st["reload"]["lastResult"] == "reloaded" and st["reload"]["reloads"] >= 1

    # function.json route change
    fj = hello("hello", "v2", route="greet/{who}")["function.json"]
    write(os.path.join(app, "hello", "function.json"), json.dumps(fj))
    body_is(host, "/api/greet/me", "v2")
    status_is(host, "/api/hello", 404)

    # a new function folder: served
    os.makedirs(os.path.join(app, "added"))
    added = hello("added", "a1")
    write(os.path.join(app, "added", "added.c"), added["added.c"])
    write(os.path.join(app, "added", "function.json"), json.dumps(added["function.json"]))
    body_is(host, "/api/added", "a1")

    # a function removed: 404, the others still serve
    shutil.rmtree(os.path.join(app, "other"))
    status_is(host, "/api/other", 404)
    assert "File change of type 'Deleted' detected for 'other" in host.log()
    body_is(host, "/api/added", "a1")

    # a broken build: reported, and the previous version keeps serving
    before = reloads(host)
    write(os.path.join(app, "hello", "hello.c"), "int hello(void) { this is not C }\n")
    assert wait_for(lambda: "Reload refused" in host.log(), timeout=60), host.log()[-3000:]
    log = host.log()
    assert "hello: build failed" in log
    st = status_json(host)
    assert st["reload"]["lastResult"] == "refused"
    assert any("hello: build failed" in e for e in st["errors"]), st["errors"]
    assert reloads(host) == before
    assert host.get("/api/greet/me").text == "v2"
    assert host.get("/api/added").text == "a1"

    # fixed: the new version serves and the error is gone
    write(os.path.join(app, "hello", "hello.c"), HELLO_C % {"name": "hello", "text": "v3"})
    body_is(host, "/api/greet/me", "v3")
    st = status_json(host)
    assert st["reload"]["lastResult"] == "reloaded"
    assert not any("build failed" in e for e in st["errors"]), st["errors"]

    # a broken host.json keeps everything; a good one applies routePrefix
    write(os.path.join(app, "host.json"), '{"version": "2.0",')
    assert wait_for(lambda: "Cannot load the app in" in host.log(), timeout=60)
    assert host.get("/api/greet/me").text == "v3"
    write(os.path.join(app, "host.json"),
          json.dumps({"version": "2.0", "extensions": {"http": {"routePrefix": "v"}}}))
    body_is(host, "/v/greet/me", "v3")
    body_is(host, "/v/added", "a1")
    status_is(host, "/api/added", 404)
    assert host.proc.pid == pid and host.alive()


@pytest.mark.parametrize("in_process", [False, True], ids=["isolated", "in-process"])
def test_request_in_flight_during_a_reload_finishes_on_the_old_code(make_app, start_host,
                                                                     tmp_path, in_process):
    host_json = {"version": "2.0"}
    if in_process:
        host_json["stratus"] = {"native": {"inProcess": True}}
    slow = http_fn("slow")
    slow["slow.c"] = SLOW_C % {"text": "old"}
    app = make_app({"slow": slow}, host=host_json)
    host = start_host(app)
    started, release = str(tmp_path / "started"), str(tmp_path / "release")
    result = {}

    def call():
        result["r"] = host.get("/api/slow?started=%s&release=%s" % (started, release),
                               timeout=120)

    if in_process:
        # In-process code runs on the loop thread: a request that blocks
        # would block the reload too. Start it after the reload instead and
        # check the swap kept the first version's code mapped meanwhile.
        body_is(host, "/api/slow", "old")
        write(os.path.join(app, "slow", "slow.c"), SLOW_C % {"text": "new"})
        body_is(host, "/api/slow", "new")
        write(os.path.join(app, "slow", "slow.c"), SLOW_C % {"text": "newer"})
        body_is(host, "/api/slow", "newer")
        return

    t = threading.Thread(target=call)
    t.start()
    try:
        assert wait_for(lambda: os.path.exists(started), timeout=60), host.log()[-3000:]
        write(os.path.join(app, "slow", "slow.c"), SLOW_C % {"text": "new"})
        # (a request before the swap would wait behind the slow one: one
        # native worker runs one invocation at a time)
        assert wait_for(lambda: reloads(host) == 1, timeout=60), host.log()[-3000:]
        # the new version serves while the old request is still running
        body_is(host, "/api/slow", "new")
        assert "r" not in result
    finally:
        open(release, "w").close()
        t.join(120)
    assert result["r"].status == 200 and result["r"].text == "old", host.log()[-3000:]


def test_no_watch_keeps_the_loaded_version(make_app, start_host):
    app = make_app({"hello": hello("hello", "v1")})
    host = start_host(app, "--no-watch")
    body_is(host, "/api/hello", "v1")
    write(os.path.join(app, "hello", "hello.c"), HELLO_C % {"name": "hello", "text": "v2"})
    # A function that is reloaded answers v2 after the quiet period; give a
    # watching host far more than that, then check nothing changed.
    marker = os.path.join(app, "marker.txt")
    write(marker, "x")
    assert not wait_for(lambda: "File change" in host.log(), timeout=3)
    assert host.get("/api/hello").text == "v1"
    assert "Watching" not in host.log()
    assert status_json(host)["reload"]["watching"] is False


PY_CODE = '''
import azure.functions as func

def main(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse("%s")
'''

JS_CODE = '''
module.exports = async function (context, req) {
  context.res = { body: "%s" };
};
'''


def interp_fn(script, code):
    trig = {"authLevel": "anonymous", "type": "httpTrigger", "direction": "in", "name": "req"}
    out = {"type": "http", "direction": "out", "name": "$return" if script.endswith(".py")
           else "res"}
    return {"function.json": {"bindings": [trig, out]}, script: code}


@pytest.mark.parametrize("lang", ["python", "node"])
def test_interpreted_code_change_is_picked_up_by_new_workers(make_app, start_host, lang):
    exe = "python3" if lang == "python" else "node"
    if not shutil.which(exe):
        pytest.skip("%s is not installed" % exe)
    script, code = ("__init__.py", PY_CODE) if lang == "python" else ("index.js", JS_CODE)
    settings = {"IsEncrypted": False, "Values": {"FUNCTIONS_WORKER_RUNTIME": lang}}
    app = make_app({"hi": interp_fn(script, code % "one")}, settings=settings)
    host = start_host(app)
    body_is(host, "/api/hi", "one")
    write(os.path.join(app, "hi", script), code % "two")
    body_is(host, "/api/hi", "two")
    # a syntax error: refused, the previous version serves
    write(os.path.join(app, "hi", script), "def main(:\n" if lang == "python" else "module.exports = (;\n")
    assert wait_for(lambda: "Reload refused" in host.log(), timeout=60), host.log()[-3000:]
    assert host.get("/api/hi").text == "two"
    write(os.path.join(app, "hi", script), code % "three")
    body_is(host, "/api/hi", "three")
    assert "__pycache__" not in host.log()


def log_lines_with(host, text):
    return [line for line in host.log().splitlines() if text in line]


def test_data_files_written_and_deleted_never_reload(make_app, start_host):
    """Data a function writes into its folder, and deletes, is not the app:
    neither its creation nor its removal reloads, nor does a temporary file
    that an editor or sed renames over a file. A folder of data deleted
    with its files does not either; a function folder moved away does."""
    app = make_app({"hello": hello("hello", "v1"), "other": hello("other", "o1")})
    host = start_host(app)
    body_is(host, "/api/hello", "v1")
    fn = os.path.join(app, "hello")
    write(os.path.join(fn, "out.txt"), "data")
    os.unlink(os.path.join(fn, "out.txt"))
    os.makedirs(os.path.join(fn, "results", "deep"))
    write(os.path.join(fn, "results", "deep", "a.csv"), "1,2")
    write(os.path.join(fn, "results", "b.json"), "{}")
    shutil.rmtree(os.path.join(fn, "results"))
    write(os.path.join(app, "sedAb12Cd"), "x")  # sed -i's temporary file
    os.replace(os.path.join(app, "sedAb12Cd"), os.path.join(app, "notes.txt"))
    os.unlink(os.path.join(app, "notes.txt"))
    # then a code change: one reload, and none of the above in the log
    write(os.path.join(fn, "hello.c"), HELLO_C % {"name": "hello", "text": "v2"})
    body_is(host, "/api/hello", "v2")
    assert reloads(host) == 1, host.log()[-3000:]
    changes = log_lines_with(host, "File change of type")
    assert changes == [l for l in changes if "'hello/hello.c'" in l], changes
    # a function folder moved out of the app: its function stops serving
    shutil.move(os.path.join(app, "other"), str(os.path.join(app, "..", "other-away")))
    status_is(host, "/api/other", 404)
    assert "File change of type 'Deleted' detected for 'other'" in host.log()
    body_is(host, "/api/hello", "v2")


def write_settings(app, values):
    write(os.path.join(app, "local.settings.json"),
          json.dumps({"IsEncrypted": False, "Values": values}))


def test_local_settings_are_read_anew_when_the_app_loads_again(make_app, start_host):
    """A reload loads the app with the settings the file has now, as a
    fresh start would: a function disabled by a setting, then enabled by
    changing it or taking it out, and FUNCTIONS_WORKER_RUNTIME (a switch is
    refused, and so is not remembered: switching back is no switch)."""
    app = make_app({"hello": hello("hello", "v1")})
    host = start_host(app)
    body_is(host, "/api/hello", "v1")
    native = {"FUNCTIONS_WORKER_RUNTIME": "native"}
    write_settings(app, dict(native, **{"AzureWebJobs.hello.Disabled": "true"}))
    status_is(host, "/api/hello", 404)
    write_settings(app, dict(native, **{"AzureWebJobs.hello.Disabled": "false"}))
    body_is(host, "/api/hello", "v1")
    write_settings(app, dict(native, **{"AzureWebJobs.hello.Disabled": "true"}))
    status_is(host, "/api/hello", 404)
    write_settings(app, native)
    body_is(host, "/api/hello", "v1")

    before = reloads(host)
    write_settings(app, {"FUNCTIONS_WORKER_RUNTIME": "python"})
    assert wait_for(lambda: "Reload refused" in host.log(), timeout=60), host.log()[-3000:]
    assert "asks for the python runtime (isolated workers) instead of native" in host.log()
    assert host.get("/api/hello").text == "v1"
    write_settings(app, native)
    assert wait_for(lambda: reloads(host) == before + 1, timeout=60), host.log()[-3000:]
    assert status_json(host)["reload"]["lastResult"] == "reloaded"
    body_is(host, "/api/hello", "v1")


def test_host_json_watch_directories_files_and_file_watching_enabled(make_app, start_host):
    """Azure's host.json settings for what reloads: every file of
    watchDirectories, files named in watchFiles; fileWatchingEnabled false
    stops watching (at start, or when a reload applies it)."""
    host_json = {"version": "2.0", "watchDirectories": ["templates", "./conf/"],
                 "watchFiles": ["app.yaml"]}
    app = make_app({"hello": hello("hello", "v1")}, host=host_json,
                   files={"templates/page.html": "<p>1</p>", "conf/x.ini": "a=1",
                          "deep/app.yaml": "a: 1", "other/page.html": "<p>1</p>"})
    host = start_host(app)
    body_is(host, "/api/hello", "v1")
    write(os.path.join(app, "other", "page.html"), "<p>2</p>")  # not watched: data
    for rel in ("templates/page.html", "conf/x.ini", "deep/app.yaml"):
        before = reloads(host)
        write(os.path.join(app, rel), "changed")
        assert wait_for(lambda: reloads(host) == before + 1, timeout=60), host.log()[-3000:]
        assert "File change of type 'Changed' detected for '%s'" % rel in host.log()
    assert "other/page.html" not in host.log()

    write(os.path.join(app, "host.json"), json.dumps({"version": "2.0", "watchFiles": "x"}))
    assert wait_for(lambda: "field 'watchFiles': expected a list of file names" in host.log(),
                    timeout=60), host.log()[-3000:]
    write(os.path.join(app, "host.json"),
          json.dumps({"version": "2.0", "fileWatchingEnabled": False}))
    assert wait_for(lambda: "no longer watching the app" in host.log(), timeout=60)
    assert status_json(host)["reload"]["watching"] is False
    write(os.path.join(app, "hello", "hello.c"), HELLO_C % {"name": "hello", "text": "v2"})
    assert not wait_for(lambda: "hello/hello.c" in host.log(), timeout=2)
    assert host.get("/api/hello").text == "v1"
    host.stop()

    # at start
    host = start_host(app)
    body_is(host, "/api/hello", "v2")  # built at start
    assert "Not watching '%s' for changes: host.json fileWatchingEnabled is false" % app \
        in host.log()
    assert status_json(host)["reload"]["watching"] is False


# A function that shows what it imported: its own version, a shared module
# next to the functions, a package at the app root, an installed package
# (node_modules, or .python_packages created after the host started), and a
# setting read from its environment. ?started=FILE&release=FILE keeps it in
# flight: it writes the first file, then waits for the second.
PY_SHOW = '''
import os, time
import azure.functions as func
from ..shared_code import helper
import apppkg
import deppkg

def main(req: func.HttpRequest) -> func.HttpResponse:
    if req.params.get("started"):
        open(req.params["started"], "w").close()
        for _ in range(6000):
            if os.path.exists(req.params["release"]):
                break
            time.sleep(0.01)
    return func.HttpResponse("%s %%s %%s %%s %%s" %% (helper.TAG, apppkg.TAG, deppkg.TAG,
                                                 os.environ.get("GREETING")))
'''
JS_SHOW = '''
const helper = require("../shared/helper.js");
const apppkg = require("../lib/apppkg");
const deppkg = require("deppkg");
const fs = require("fs");
module.exports = async function (context, req) {
  if (req.query.started) {
    fs.writeFileSync(req.query.started, "");
    for (let i = 0; i < 6000 && !fs.existsSync(req.query.release); i++)
      await new Promise((r) => setTimeout(r, 10));
  }
  context.res = { body: `%s ${helper.TAG} ${apppkg.TAG} ${deppkg.TAG} ${process.env.GREETING}` };
};
'''

LANGS = {
    # lang: (entry script, code, shared module, app package, installed package)
    "python": ("__init__.py", PY_SHOW, "shared_code/helper.py", "apppkg/__init__.py",
               ".python_packages/lib/site-packages/deppkg/__init__.py", 'TAG = "%s"\n'),
    "node": ("index.js", JS_SHOW, "shared/helper.js", "lib/apppkg/index.js",
             "node_modules/deppkg/index.js", 'exports.TAG = "%s";\n'),
}


def interp_app(make_app, lang, greeting="g1"):
    script, code, shared, pkg, dep, mod = LANGS[lang]
    files = {shared: mod % "s1", pkg: mod % "p1"}
    if lang == "python":
        files["shared_code/__init__.py"] = ""
    else:
        files[dep] = mod % "d1"
    settings = {"IsEncrypted": False,
                "Values": {"FUNCTIONS_WORKER_RUNTIME": lang, "GREETING": greeting}}
    app = make_app({"show": interp_fn(script, code % "v1")}, settings=settings, files=files)
    return app


@pytest.mark.parametrize("lang", ["python", "node"])
def test_interpreted_app_development_loop(make_app, start_host, tmp_path, lang):
    """What a developer does to a Python or Node.js app while `stratus
    start` runs, each change checked by the next request: the function's
    code, a shared module, a package at the app root, an installed package
    (a missing one reported, then installed), local.settings.json Values in
    the workers' environment, editors' ways of saving, a request in flight
    across a reload, a broken shared module (file and line) and its fix."""
    exe = "python3" if lang == "python" else "node"
    if not shutil.which(exe):
        pytest.skip("%s is not installed" % exe)
    script, code, shared, pkg, dep, mod = LANGS[lang]
    app = interp_app(make_app, lang)
    host = start_host(app)
    fn = os.path.join(app, "show", script)
    if lang == "python":
        # the installed package is missing at start: reported, then installed
        assert wait_for(lambda: "No module named 'deppkg'" in host.log(), timeout=60)
        os.makedirs(os.path.dirname(os.path.join(app, dep)))
        write(os.path.join(app, dep), mod % "d1")
        body_is(host, "/api/show", "v1 s1 p1 d1 g1")
    body_is(host, "/api/show", "v1 s1 p1 d1 g1")
    write(fn, code % "v2")
    body_is(host, "/api/show", "v2 s1 p1 d1 g1")
    write(os.path.join(app, shared), mod % "s2")
    body_is(host, "/api/show", "v2 s2 p1 d1 g1")
    write(os.path.join(app, pkg), mod % "p2")
    body_is(host, "/api/show", "v2 s2 p2 d1 g1")
    write(os.path.join(app, dep), mod % "d2")
    body_is(host, "/api/show", "v2 s2 p2 d2 g1")
    write_settings(app, {"FUNCTIONS_WORKER_RUNTIME": lang, "GREETING": "g2"})
    body_is(host, "/api/show", "v2 s2 p2 d2 g2")
    write_settings(app, {"FUNCTIONS_WORKER_RUNTIME": lang})
    body_is(host, "/api/show", "v2 s2 p2 d2 %s" % ("None" if lang == "python" else "undefined"))

    # editors' ways of saving
    n = [2]

    def save(how):
        n[0] += 1
        text = code % ("v%d" % n[0])
        how(text)
        body_is(host, "/api/show", "v%d s2 p2 d2 " % n[0] +
                ("None" if lang == "python" else "undefined"))

    def temp_then_rename(text):  # VS Code, many editors: a temporary file renamed over it
        write(fn + ".tmp.1234", text)
        os.replace(fn + ".tmp.1234", fn)

    def hidden_temp_then_rename(text):
        tmp = os.path.join(os.path.dirname(fn), "." + os.path.basename(fn) + ".swx1")
        write(tmp, text)
        os.replace(tmp, fn)

    def delete_then_create(text):
        os.unlink(fn)
        write(fn, text)

    def vim(text):  # swap file, probe file, backup by rename, write, backup removed
        swp = os.path.join(os.path.dirname(fn), "." + os.path.basename(fn) + ".swp")
        write(swp, "swap")
        probe = os.path.join(os.path.dirname(fn), "4913")
        write(probe, "")
        os.unlink(probe)
        os.replace(fn, fn + "~")
        write(fn, text)
        os.unlink(fn + "~")
        os.unlink(swp)

    def truncate_then_append(text):
        write(fn, "")
        with open(fn, "a") as f:
            f.write(text)

    for how in (temp_then_rename, hidden_temp_then_rename, delete_then_create, vim,
                truncate_then_append):
        save(how)
    changed = log_lines_with(host, "File change of type")
    assert not [l for l in changed if "4913" in l or ".swp" in l or "~'" in l or
                ".tmp.1234" in l], changed

    # a request in flight across a reload finishes with the code it started with
    result = {}
    started, release = str(tmp_path / "started"), str(tmp_path / "release")
    t = threading.Thread(target=lambda: result.update(r=host.get(
        "/api/show?started=%s&release=%s" % (started, release), timeout=120)))
    before = reloads(host)
    t.start()
    try:
        assert wait_for(lambda: os.path.exists(started), timeout=60), host.log()[-3000:]
        write(fn, code % "new")
        assert wait_for(lambda: reloads(host) == before + 1, timeout=60), host.log()[-3000:]
        body_is(host, "/api/show",
                "new s2 p2 d2 " + ("None" if lang == "python" else "undefined"))
        assert "r" not in result
    finally:
        open(release, "w").close()
        t.join(120)
    assert result["r"].status == 200 and result["r"].text.startswith("v%d " % n[0]), result

    # a broken shared module: reported with its file and line; the last
    # good version serves until it is fixed
    broken = "x = (1 +\n" if lang == "python" else "exports.TAG = (1 +;\n"
    write(os.path.join(app, shared), "\n" + broken)
    assert wait_for(lambda: "Reload refused" in host.log(), timeout=60), host.log()[-3000:]
    errors = "\n".join(status_json(host)["errors"])
    where = "(shared_code/helper.py, line 2)" if lang == "python" else "shared/helper.js:2"
    assert where in errors, errors
    assert host.get("/api/show").text.startswith("new s2 ")
    write(os.path.join(app, shared), mod % "s3")
    body_is(host, "/api/show", "new s3 p2 d2 " + ("None" if lang == "python" else "undefined"))
    assert status_json(host)["errors"] == []
