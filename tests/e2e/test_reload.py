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
