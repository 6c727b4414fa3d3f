"""The host and its store (docs/store.md, docs/bindings.md): the embedded
store is opened at start; a corrupt, newer or locked store file stops the
host with a message naming the file and is never overwritten; a binding's
connection setting chooses the store file, and an unset one is an error
naming the setting."""
import json
import os
import sqlite3
import subprocess
import time

from conftest import BIN, http_fn, wait_for

QUEUE_OUT = {
    "function.json": {
        "scriptFile": "put.so",
        "bindings": [
            {"type": "httpTrigger", "direction": "in", "name": "req",
             "authLevel": "anonymous", "methods": ["post"]},
            {"type": "http", "direction": "out", "name": "res"},
            {"type": "queue", "direction": "out", "name": "out", "queueName": "work",
             "connection": "OtherStore"},
        ]},
    "put.c": r"""
#include <stratus.h>
int put(stratus_ctx *ctx)
{
    size_t n;
    const char *b = stratus_req_body(ctx, &n);
    return stratus_output(ctx, "out", b, n);
}
""",
}


def run_host(app, timeout=60):
    """Start a host that is expected to stop at start: (exit code, output)."""
    p = subprocess.run([BIN, "start", app, "--port", "0", "--listen", "127.0.0.1"],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout,
                       env=dict(os.environ, NO_COLOR="1"))
    return p.returncode, p.stdout.decode(errors="replace")


def test_store_created_at_first_start(make_app, start_host):
    app = make_app({"echo": http_fn()})
    h = start_host(app)
    assert h.get("/api/echo").status == 200
    assert os.path.isfile(os.path.join(app, ".stratus", "store.db"))


def test_corrupt_store_stops_the_host_and_is_kept(make_app):
    app = make_app({"echo": http_fn()})
    os.makedirs(os.path.join(app, ".stratus"), exist_ok=True)
    path = os.path.join(app, ".stratus", "store.db")
    junk = b"this is not a database\n" * 200
    with open(path, "wb") as f:
        f.write(junk)
    rc, out = run_host(app)
    assert rc != 0, out
    assert "store" in out and path in out, out
    with open(path, "rb") as f:
        assert f.read() == junk  # never re-created over the user's data


def test_newer_store_schema_stops_the_host(make_app, start_host):
    app = make_app({"echo": http_fn()})
    h = start_host(app)
    assert h.get("/api/echo").status == 200
    h.stop()
    path = os.path.join(app, ".stratus", "store.db")
    db = sqlite3.connect(path)
    db.execute("PRAGMA user_version = 99")
    db.commit()
    db.close()
    rc, out = run_host(app)
    assert rc != 0, out
    assert "99" in out and "newer" in out, out


def test_store_in_use_by_another_host(make_app, start_host):
    app = make_app({"echo": http_fn()})
    h = start_host(app)
    assert h.get("/api/echo").status == 200
    rc, out = run_host(app)
    assert rc != 0, out
    assert "in use" in out or "locked" in out, out
    assert h.get("/api/echo").status == 200  # the first host is untouched


def test_connection_setting_chooses_the_store_file(make_app, start_host):
    settings = {"IsEncrypted": False,
                "Values": {"FUNCTIONS_WORKER_RUNTIME": "native",
                           "OtherStore": "sqlite:data/other.db"}}
    app = make_app({"put": QUEUE_OUT}, settings=settings)
    os.makedirs(os.path.join(app, "data"))
    h = start_host(app)
    r = h.post("/api/put", body=b"hello")
    assert r.status == 200, (r.status, r.text, h.log())
    other = os.path.join(app, "data", "other.db")
    assert os.path.isfile(other), h.log()
    h.stop()
    db = sqlite3.connect(other)
    bodies = [row[0] for row in db.execute("SELECT body FROM message")]
    db.close()
    assert [bytes(b) for b in bodies] == [b"hello"], bodies


def test_unset_connection_setting_is_named_at_start(make_app, start_host):
    app = make_app({"put": QUEUE_OUT, "echo": http_fn()})
    h = start_host(app)
    assert h.get("/api/echo").status == 200  # the other function serves
    assert h.post("/api/put", body=b"x").status == 404  # not loaded
    assert ("put/function.json: binding 'out' (queue): field 'connection': connection "
            "'OtherStore': app setting 'OtherStore' is not set") in h.log(), h.log()


def test_store_folder_missing_is_named_at_start(make_app, start_host):
    settings = {"IsEncrypted": False,
                "Values": {"FUNCTIONS_WORKER_RUNTIME": "native",
                           "OtherStore": "sqlite:nowhere/other.db"}}
    app = make_app({"put": QUEUE_OUT, "echo": http_fn()}, settings=settings)
    h = start_host(app)
    assert h.get("/api/echo").status == 200
    assert h.post("/api/put", body=b"x").status == 404
    assert "nowhere" in h.log() and "does not exist" in h.log(), h.log()
