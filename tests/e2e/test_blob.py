"""Blob triggers and blob bindings (AZURE-CONTRACT.md section 2, blobTrigger
and blob) with native C functions: containers are folders under
.stratus/blobs; a file put there by any program (written and closed,
renamed into place, in a subfolder) triggers once; path captures become
binding data and feed output paths; a file being written is delivered only
once complete; receipts in the store survive restarts; failures are retried
and then poisoned; blob inputs and outputs; a clear error for each bad
configuration.

Each function records every invocation in OUT_DIR/<function>/: <id>.data
(the trigger's bytes), <id>.meta (binding data, one "key=value" a line) and
<id>.input (a blob input's bytes, or MISSING)."""
import json
import os
import sqlite3
import time

import pytest

from conftest import SETTINGS, master_key, wait_for, write_app

BLOBS = os.path.join(".stratus", "blobs")

RECORD_C = r"""
#include <stratus.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
static void put(const char *dir, const char *id, const char *ext, const void *p, size_t n)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.%s", dir, id, ext);
    FILE *f = fopen(path, "wb");
    if (f) {
        fwrite(p, 1, n, f);
        fclose(f);
    }
}
int ENTRY(stratus_ctx *ctx)
{
    static const char *const keys[] = {"name", "stem", "ext", "folder", "BlobTrigger", "Uri",
                                       "Properties", "Metadata", NULL};
    const char *fn = stratus_function_name(ctx), *id = stratus_invocation_id(ctx);
    char dir[4096], meta[16384];
    snprintf(dir, sizeof dir, "%s/%s", stratus_setting(ctx, "OUT_DIR"), fn);
    mkdir(dir, 0755);
    size_t n, used = 0;
    const char *data = stratus_trigger_data(ctx, &n);
    for (int i = 0; keys[i]; i++) {
        const char *v = stratus_trigger_meta(ctx, keys[i]);
        if (v)
            used += (size_t)snprintf(meta + used, sizeof meta - used, "%s=%s\n", keys[i], v);
    }
    if (HAS_INPUT) {
        size_t in_len;
        const void *in = stratus_input(ctx, "doc", &in_len);
        put(dir, id, "input", in ? in : "MISSING", in ? in_len : 7);
    }
    if (HAS_OUTPUT) {
        char out[4096];
        int m = snprintf(out, sizeof out, "thumb of %.*s", (int)(n < 1000 ? n : 1000), data);
        stratus_output(ctx, "thumb", out, (size_t)m);
    }
    put(dir, id, "meta", meta, used);
    put(dir, id, "data", data, n);
    return FAILS;
}
"""


def blob_fn(name, path, extra=(), fails=False):
    bindings = [{"type": "blobTrigger", "direction": "in", "name": "blob", "path": path}]
    bindings += list(extra)
    outs = any(b.get("name") == "thumb" for b in extra)
    ins = any(b.get("name") == "doc" for b in extra)
    src = (RECORD_C.replace("ENTRY", name).replace("HAS_INPUT", "1" if ins else "0")
           .replace("HAS_OUTPUT", "1" if outs else "0").replace("FAILS", "1" if fails else "0"))
    return {"function.json": {"scriptFile": name + ".so", "bindings": bindings},
            name + ".c": src}


def settings(out_dir):
    s = json.loads(json.dumps(SETTINGS))
    s["Values"]["OUT_DIR"] = out_dir
    return s


def runs(out_dir, fn):
    """[{"data": bytes, "meta": {k: v}, "input": bytes or None}] recorded by fn."""
    d = os.path.join(out_dir, fn)
    try:
        names = sorted(n[:-5] for n in os.listdir(d) if n.endswith(".data"))
    except FileNotFoundError:
        return []
    out = []
    for n in names:
        rec = {}
        with open(os.path.join(d, n + ".data"), "rb") as f:
            rec["data"] = f.read()
        with open(os.path.join(d, n + ".meta")) as f:
            rec["meta"] = dict(line.split("=", 1) for line in f.read().splitlines())
        try:
            with open(os.path.join(d, n + ".input"), "rb") as f:
                rec["input"] = f.read()
        except FileNotFoundError:
            rec["input"] = None
        out.append(rec)
    return out


def by_trigger(out_dir, fn, blob):
    return [r for r in runs(out_dir, fn) if r["meta"].get("BlobTrigger") == blob]


def wait_runs(host, fn, blob, count=1, timeout=30):
    got = wait_for(lambda: len(by_trigger(host.out_dir, fn, blob)) >= count and
                   by_trigger(host.out_dir, fn, blob), timeout=timeout)
    assert got, "no run of %s for %s; log:\n%s" % (fn, blob, host.log()[-4000:])
    return got


def put(app, container, name, data):
    p = os.path.join(app, BLOBS, container, name)
    os.makedirs(os.path.dirname(p), exist_ok=True)
    with open(p, "wb") as f:
        f.write(data)
    return p


def poison_messages(app):
    con = sqlite3.connect(os.path.join(app, ".stratus", "store.db"), timeout=10)
    try:
        rows = con.execute("SELECT body FROM message WHERE queue='webjobs-blobtrigger-poison'"
                           ).fetchall()
    except sqlite3.OperationalError:
        rows = []
    finally:
        con.close()
    return [json.loads(bytes(r[0])) for r in rows]


THUMB_OUT = {"type": "blob", "direction": "out", "name": "thumb",
             "path": "thumbnails/{stem}-{ext}.png"}


@pytest.fixture(scope="module")
def blobs(module_hosts):
    root = os.path.join(module_hosts.workdir, "blobapp")
    out_dir = os.path.join(module_hosts.workdir, "out")
    os.makedirs(out_dir)
    functions = {
        "plain": blob_fn("plain", "inbox/{name}"),
        "split": blob_fn("split", "images/{stem}.{ext}", [THUMB_OUT]),
        "thumbs": blob_fn("thumbs", "thumbnails/{name}"),
        "reader": blob_fn("reader", "requests/{name}",
                          [{"type": "blob", "direction": "in", "name": "doc",
                            "path": "docs/{name}"}]),
        "failing": blob_fn("failing", "failbox/{name}",
                           [{"type": "blob", "direction": "out", "name": "thumb",
                             "path": "failout/{name}"}], fails=True),
        "unknowncap": blob_fn("unknowncap", "unknown/{name}",
                              [{"type": "blob", "direction": "out", "name": "thumb",
                                "path": "unkout/{nosuch}.txt"}]),
        "dotdot": blob_fn("dotdot", "dotdot/{name}",
                          [{"type": "blob", "direction": "out", "name": "thumb",
                            "path": "dotout/{name}/.."}]),
        # Bad configurations: each is reported, the others still run.
        "nopath": blob_fn("nopath", None),
        "badcontainer": blob_fn("badcontainer", "Bad_Container/{name}"),
        "unclosed": blob_fn("unclosed", "inbox/{name"),
        "badout": blob_fn("badout", "inbox/{name}",
                          [{"type": "blob", "direction": "out", "name": "thumb",
                            "path": "out/{name"}]),
    }
    del functions["nopath"]["function.json"]["bindings"][0]["path"]
    write_app(root, functions, settings=settings(out_dir))
    host = module_hosts.start(root)
    host.out_dir = out_dir
    wait_for(lambda: "watches container 'inbox'" in host.log(), timeout=30)
    return host


def test_file_written_and_closed_triggers_once(blobs):
    put(blobs.app, "inbox", "hello.txt", b"hello blob")
    got = wait_runs(blobs, "plain", "inbox/hello.txt")
    time.sleep(1)
    got = by_trigger(blobs.out_dir, "plain", "inbox/hello.txt")
    assert len(got) == 1, got
    r = got[0]
    assert r["data"] == b"hello blob"
    assert r["meta"]["name"] == "hello.txt"
    assert r["meta"]["Uri"].startswith("file:///") and r["meta"]["Uri"].endswith(
        "/inbox/hello.txt")
    props = json.loads(r["meta"]["Properties"])
    assert props["Length"] == 10 and props["BlobType"] == "BlockBlob" and props["ETag"]
    assert props["LastModified"].endswith("+00:00")
    assert json.loads(r["meta"]["Metadata"]) == {}
    assert "Executing 'Functions.plain' (Reason='New blob detected: inbox/hello.txt'" in \
        blobs.log()


def test_rename_into_place_and_subfolders(blobs):
    d = os.path.join(blobs.app, BLOBS, "inbox")
    tmp = os.path.join(blobs.app, "staging.bin")
    with open(tmp, "wb") as f:
        f.write(b"\x00\x01binary\xff")
    os.rename(tmp, os.path.join(d, "moved.bin"))
    got = wait_runs(blobs, "plain", "inbox/moved.bin")
    assert got[0]["data"] == b"\x00\x01binary\xff"
    # A capture in the last segment spans '/': folders made on the fly.
    put(blobs.app, "inbox", "2024/05/report.csv", b"a,b\n1,2\n")
    got = wait_runs(blobs, "plain", "inbox/2024/05/report.csv")
    assert got[0]["meta"]["name"] == "2024/05/report.csv"
    assert got[0]["data"] == b"a,b\n1,2\n"
    # Dot files (temporary files of writers) never trigger.
    put(blobs.app, "inbox", ".hidden.tmp", b"no")
    time.sleep(1)
    assert not by_trigger(blobs.out_dir, "plain", "inbox/.hidden.tmp")


def test_partial_write_is_delivered_only_when_complete(blobs):
    p = os.path.join(blobs.app, BLOBS, "inbox", "big.log")
    f = open(p, "wb")
    try:
        f.write(b"first half;")
        f.flush()
        time.sleep(1.5)
        assert not by_trigger(blobs.out_dir, "plain", "inbox/big.log")
        f.write(b"second half")
    finally:
        f.close()
    got = wait_runs(blobs, "plain", "inbox/big.log")
    time.sleep(1)
    got = by_trigger(blobs.out_dir, "plain", "inbox/big.log")
    assert len(got) == 1 and got[0]["data"] == b"first half;second half", got


def test_a_file_being_written_in_a_new_folder_is_delivered_once_complete(blobs):
    """A folder made just now is walked as its watch is added, and may find
    a file its writer still holds open (empty so far): that file is looked
    at again later, not delivered half-written."""
    names = []
    for i in range(12):
        d = os.path.join(blobs.app, BLOBS, "inbox", "fresh%d" % i, "sub")
        os.makedirs(d)
        with open(os.path.join(d, "f.csv"), "wb") as f:
            time.sleep(0.02)  # the walk of the new folders may see it empty
            f.write(b"a,b\n%d,2\n" % i)
        names.append(("inbox/fresh%d/sub/f.csv" % i, b"a,b\n%d,2\n" % i))
    for name, data in names:
        got = wait_runs(blobs, "plain", name)
        assert got and got[0]["data"] == data, (name, got)
    time.sleep(2.5)  # past the look-again delay: nothing more arrives
    for name, data in names:
        got = by_trigger(blobs.out_dir, "plain", name)
        assert [g["data"] for g in got] == [data], (name, got)


def test_captures_feed_output_paths_and_outputs_trigger(blobs):
    put(blobs.app, "images", "cat.photo.jpg", b"JPEGDATA")
    got = wait_runs(blobs, "split", "images/cat.photo.jpg")
    assert got[0]["meta"]["stem"] == "cat.photo" and got[0]["meta"]["ext"] == "jpg"
    out = os.path.join(blobs.app, BLOBS, "thumbnails", "cat.photo-jpg.png")
    assert wait_for(lambda: os.path.exists(out), timeout=10), blobs.log()[-3000:]
    with open(out, "rb") as f:
        assert f.read() == b"thumb of JPEGDATA"
    # The output was written atomically (rename): another function's
    # trigger on that container sees it.
    got = wait_runs(blobs, "thumbs", "thumbnails/cat.photo-jpg.png")
    assert got[0]["data"] == b"thumb of JPEGDATA"
    # A name without a '.' does not match '{stem}.{ext}'.
    put(blobs.app, "images", "noext", b"x")
    time.sleep(1)
    assert not by_trigger(blobs.out_dir, "split", "images/noext")


def test_blob_input_present_and_missing(blobs):
    put(blobs.app, "docs", "a.txt", b"the doc for a")
    put(blobs.app, "requests", "a.txt", b"req a")
    put(blobs.app, "requests", "b.txt", b"req b")
    a = wait_runs(blobs, "reader", "requests/a.txt")[0]
    b = wait_runs(blobs, "reader", "requests/b.txt")[0]
    assert a["input"] == b"the doc for a"
    assert b["input"] == b"MISSING"


def test_failure_retries_then_poison_and_no_output(blobs):
    put(blobs.app, "failbox", "bad.txt", b"boom")
    got = wait_runs(blobs, "failing", "failbox/bad.txt", count=5)
    msgs = wait_for(lambda: poison_messages(blobs.app), timeout=20)
    assert msgs, blobs.log()[-4000:]
    m = msgs[0]
    assert m["Type"] == "BlobTrigger" and m["FunctionId"] == "Host.Functions.failing"
    assert m["BlobType"] == "BlockBlob" and m["ContainerName"] == "failbox"
    assert m["BlobName"] == "bad.txt" and m["ETag"]
    time.sleep(1)
    assert len(by_trigger(blobs.out_dir, "failing", "failbox/bad.txt")) == 5
    # The function failed: its output was never written.
    assert not os.path.exists(os.path.join(blobs.app, BLOBS, "failout", "bad.txt"))
    log = blobs.log()
    assert "Function 'failing' failed for blob 'failbox/bad.txt' (try 1 of 5)" in log
    assert "blob 'failbox/bad.txt' is poisoned (the function failed 5 times)" in log


def test_the_poison_limit_is_the_queues_max_dequeue_count(tmp_path, start_host):
    out_dir = str(tmp_path / "out")
    os.makedirs(out_dir)
    root = write_app(tmp_path / "app", {"failing": blob_fn("failing", "failbox/{name}",
                                                           fails=True)},
                     host={"version": "2.0", "extensions": {"queues": {"maxDequeueCount": 2}}},
                     settings=settings(out_dir))
    host = start_host(root)
    host.out_dir = out_dir
    put(root, "failbox", "bad.txt", b"boom")
    assert wait_for(lambda: poison_messages(root), timeout=20), host.log()[-4000:]
    log = host.log()
    assert "(try 1 of 2)" in log and "is poisoned (the function failed 2 times)" in log, log
    assert len(by_trigger(out_dir, "failing", "failbox/bad.txt")) == 2


def test_bad_output_names_fail_the_invocation(blobs):
    put(blobs.app, "unknown", "u.txt", b"u")
    wait_runs(blobs, "unknowncap", "unknown/u.txt")
    text = "binding 'thumb' (blob): cannot write the output: field 'path': '{nosuch}'"
    assert wait_for(lambda: text in blobs.log(), timeout=10), blobs.log()[-3000:]
    assert "the trigger has no value 'nosuch'" in blobs.log()
    put(blobs.app, "dotdot", "d.txt", b"d")
    wait_runs(blobs, "dotdot", "dotdot/d.txt")
    text = "field 'path': 'dotout/{name}/..' resolved to 'dotout/d.txt/..'"
    assert wait_for(lambda: text in blobs.log(), timeout=10), blobs.log()[-3000:]
    assert not os.path.exists(os.path.join(blobs.app, BLOBS, "dotout"))


# ---- runs by hand (POST /admin/functions/{name}) ----

def run_by_hand(host, fn, text):
    return host.post("/admin/functions/" + fn, body=json.dumps({"input": text}).encode(),
                     headers={"x-functions-key": master_key(host.app),
                              "Content-Type": "application/json"})


def test_run_by_hand_reads_the_blob_the_input_names(blobs):
    """As Azure: the input is "container/blob"; the function gets that blob's
    bytes with its binding data, so that captures feed output paths."""
    put(blobs.app, "images", "hand.made.gif", b"GIFDATA")
    wait_runs(blobs, "split", "images/hand.made.gif")  # the watcher's delivery
    out = os.path.join(blobs.app, BLOBS, "thumbnails", "hand.made-gif.png")
    assert wait_for(lambda: os.path.exists(out), timeout=10), blobs.log()[-3000:]
    os.unlink(out)
    r = run_by_hand(blobs, "split", "images/hand.made.gif")
    assert r.status == 202, (r.status, r.text)
    inv = r.header("x-invocation-id")
    got = wait_runs(blobs, "split", "images/hand.made.gif", count=2)
    for run in got:
        assert run["data"] == b"GIFDATA", run
        assert run["meta"]["stem"] == "hand.made" and run["meta"]["ext"] == "gif", run
        assert run["meta"]["Uri"].endswith("/images/hand.made.gif"), run
        assert json.loads(run["meta"]["Properties"])["Length"] == 7, run
    assert wait_for(lambda: os.path.exists(out), timeout=10), blobs.log()[-3000:]
    with open(out, "rb") as f:
        assert f.read() == b"thumb of GIFDATA"
    assert ("Executing 'Functions.split' (Reason='This function was programmatically called "
            "via the host APIs.', Id=%s)" % inv) in blobs.log()


def test_run_by_hand_with_a_blob_the_pattern_does_not_match(blobs):
    """Azure still runs it: the blob is read from its own container, and the
    captures it cannot give are absent."""
    put(blobs.app, "elsewhere", "deep/other.txt", b"other data")
    r = run_by_hand(blobs, "plain", "elsewhere/deep/other.txt")
    assert r.status == 202, (r.status, r.text)
    got = wait_runs(blobs, "plain", "elsewhere/deep/other.txt")
    assert got[0]["data"] == b"other data"
    assert "name" not in got[0]["meta"], got
    assert got[0]["meta"]["Uri"].endswith("/elsewhere/deep/other.txt")


@pytest.mark.parametrize("text,status,message", [
    ("workitem.txt", 400, "Invalid blob path specified : 'workitem.txt'. Blob identifiers "
     "must be in the format 'container/blob'."),
    ("/inbox/a.txt", 400, "must be in the format 'container/blob'"),
    ("inbox/", 400, "must be in the format 'container/blob'"),
    ("", 400, "must be in the format 'container/blob'"),
    ("Bad_Container/a.txt", 400, "Invalid container name: Bad_Container"),
    ("inbox/../secrets.txt", 400, "Invalid blob name in 'inbox/../secrets.txt'"),
    ("inbox/never-there.txt", 404, "blob 'inbox/never-there.txt' does not exist"),
])
def test_run_by_hand_refuses_what_is_not_a_blob(blobs, text, status, message):
    r = run_by_hand(blobs, "plain", text)
    assert r.status == status, (r.status, r.text)
    assert message in r.json()["error"], r.text
    assert r.header("x-invocation-id") is None


BAD = {
    "nopath": "binding 'blob' (blobTrigger): field 'path' is required",
    "badcontainer": "binding 'blob' (blobTrigger): field 'path': 'Bad_Container/{name}': ",
    "unclosed": "field 'path': 'inbox/{name': unclosed '{'",
    "badout": "binding 'thumb' (blob): field 'path': 'out/{name': unclosed '{' at position 5",
}


def test_bad_configurations_get_clear_errors(blobs):
    errors = blobs.get("/admin/host/status").json()["errors"]
    log = blobs.log()
    for name, text in BAD.items():
        assert any(name in e and text in e for e in errors), (name, text, errors)
        assert text in log, (name, log[-3000:])
    assert len(errors) == len(BAD), errors


# ---- restarts ----

def test_receipts_survive_restarts(tmp_path, start_host):
    out_dir = str(tmp_path / "out")
    os.makedirs(out_dir)
    root = write_app(tmp_path / "app", {"plain": blob_fn("plain", "inbox/{name}")},
                     settings=settings(out_dir))
    host = start_host(root)
    host.out_dir = out_dir
    put(root, "inbox", "a.txt", b"version 1")
    put(root, "inbox", "same.txt", b"unchanged")
    wait_runs(host, "plain", "inbox/a.txt")
    wait_runs(host, "plain", "inbox/same.txt")
    time.sleep(0.5)
    assert host.stop() == 0

    # While the host is down: a new blob, and a changed one.
    put(root, "inbox", "b.txt", b"added while down")
    time.sleep(0.05)
    put(root, "inbox", "a.txt", b"version 2!")
    host = start_host(root)
    host.out_dir = out_dir
    got = wait_runs(host, "plain", "inbox/b.txt")
    assert got[0]["data"] == b"added while down"
    got = wait_runs(host, "plain", "inbox/a.txt", count=2)
    assert sorted(r["data"] for r in got) == [b"version 1", b"version 2!"]
    time.sleep(1.5)
    # Nothing processed before is delivered again.
    assert len(by_trigger(out_dir, "plain", "inbox/same.txt")) == 1
    assert len(by_trigger(out_dir, "plain", "inbox/a.txt")) == 2
    assert len(by_trigger(out_dir, "plain", "inbox/b.txt")) == 1
    # A change while running triggers again.
    put(root, "inbox", "same.txt", b"changed now")
    got = wait_runs(host, "plain", "inbox/same.txt", count=2)
    assert sorted(r["data"] for r in got) == [b"changed now", b"unchanged"]
    assert host.stop() == 0
