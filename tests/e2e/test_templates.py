"""`stratus new` templates for timer, queue and blob triggers (Azure Core Tools' "Timer
trigger", "Queue trigger", "Blob trigger"), for the native, python and node runtimes: the
files they write, and that each function really runs when its trigger fires in a host."""
import json
import os
import shutil
import subprocess
import uuid

import pytest

from conftest import BIN, sanitizer_report, wait_for

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

    marker = "hello-" + uuid.uuid4().hex
    p = run("queue", "put", "myqueue-items", marker, "--port", h.port, "--app", d)
    assert p.returncode == 0, p.err
    assert wait_for(lambda: logged("my-queue", lines["queue"] + marker), timeout=90), \
        h.log()[-3000:]

    blob = "item-%s.txt" % uuid.uuid4().hex
    container = d / ".stratus" / "blobs" / "samples-workitems"
    assert wait_for(container.is_dir, timeout=30)  # made by the trigger when it starts
    tmp = container / (".tmp-" + blob)
    tmp.write_bytes(b"x" * 1234)
    os.rename(tmp, container / blob)
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
