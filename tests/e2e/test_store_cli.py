"""Queues and blobs by hand: the admin API's /admin/queues and /admin/blobs
endpoints, and the `stratus queue` and `stratus blob` commands, against a
running host and without one (on the store and the folders directly)."""
import base64
import json
import os
import subprocess
import threading
import urllib.error
import urllib.request

import pytest

from conftest import BIN, free_port, http_fn, master_key, wait_for, write_app


# A queue-triggered function that writes each message it gets, as is, to
# OUT_DIR/<Id>.msg.
SAVE_C = r"""
#include <stratus.h>
#include <stdio.h>

int save(stratus_ctx *ctx)
{
    size_t n;
    const char *body = stratus_trigger_data(ctx, &n);
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.msg", stratus_setting(ctx, "OUT_DIR"),
             stratus_trigger_meta(ctx, "Id"));
    FILE *f = fopen(path, "wb");
    if (!f)
        return 1;
    fwrite(body, 1, n, f);
    fclose(f);
    return 0;
}
"""


def save_fn(queue):
    return {"function.json": {"scriptFile": "save.so", "bindings": [
        {"type": "queueTrigger", "direction": "in", "name": "msg", "queueName": queue}]},
        "save.c": SAVE_C}


def saved(out_dir, msg_id):
    try:
        with open(os.path.join(out_dir, msg_id + ".msg"), "rb") as f:
            return f.read()
    except FileNotFoundError:
        return None


@pytest.fixture(scope="module")
def hosts(module_hosts):
    w = module_hosts.workdir
    out = os.path.join(w, "out")
    os.makedirs(out)
    dev = write_app(os.path.join(w, "dev"), {"echo": http_fn("echo"), "save": save_fn("trig-q")},
                    settings={"IsEncrypted": False,
                              "Values": {"FUNCTIONS_WORKER_RUNTIME": "native",
                                         "OUT_DIR": out}})
    prod = write_app(os.path.join(w, "prod"), {"echo": http_fn("echo")})
    a = module_hosts.spawn(dev)
    b = module_hosts.spawn(prod, mode="host")
    return {"dev": module_hosts.ready(a), "prod": module_hosts.ready(b), "out": out}


@pytest.fixture
def host(hosts):
    return hosts["dev"]


def call(h, method, path, body=None, key=None, headers=None):
    """urllib request to the host: (status, headers, body bytes)."""
    hdr = dict(headers or {})
    if key:
        hdr["x-functions-key"] = key
    req = urllib.request.Request("http://127.0.0.1:%d%s" % (h.port, path), data=body,
                                 method=method, headers=hdr)
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def jcall(h, method, path, body=None, key=None):
    status, hdr, data = call(h, method, path, body, key)
    return status, (json.loads(data) if data else None)


def cli(*args, stdin=None, app=None, port=None, env=None):
    cmd = [BIN] + list(args)
    if app:
        cmd += ["--app", app]
    if port:
        cmd += ["--port", str(port)]
    e = dict(os.environ)
    e.pop("STRATUS_MASTER_KEY", None)
    e.update(env or {})
    return subprocess.run(cmd, input=stdin, capture_output=True, timeout=120, env=e)


# ---- queues through the admin API ----------------------------------------------

def test_queue_put_peek_list_clear(host):
    st, m = jcall(host, "POST", "/admin/queues/api-orders/messages", b'{"id": 42}')
    assert st == 201, m
    assert m["queue"] == "api-orders" and m["dequeueCount"] == 0 and len(m["id"]) == 36
    for k in ("insertionTime", "expirationTime", "nextVisibleTime"):
        assert m[k].endswith("Z") and m[k][4] == "-" and "T" in m[k], (k, m[k])
    assert m["popReceipt"]
    st, m2 = jcall(host, "POST", "/admin/queues/api-orders/messages", b"second")
    assert st == 201

    st, q = jcall(host, "GET", "/admin/queues/api-orders")
    assert st == 200 and q["name"] == "api-orders"
    assert q["visible"] == 2 and q["invisible"] == 0 and q["oldestInsertionTime"]
    assert q["oldestAgeMs"] >= 0

    st, lst = jcall(host, "GET", "/admin/queues")
    assert st == 200 and isinstance(lst, list)
    assert [x for x in lst if x["name"] == "api-orders"][0]["visible"] == 2

    st, p = jcall(host, "GET", "/admin/queues/api-orders/messages?peek=32")
    assert st == 200 and p["queue"] == "api-orders"
    msgs = p["messages"]
    assert [x["body"] for x in msgs] == ['{"id": 42}', "second"]
    assert msgs[0]["id"] == m["id"] and msgs[0]["binary"] is False and msgs[0]["length"] == 10
    assert "popReceipt" not in msgs[0]          # a peek hands out no receipt
    st, p1 = jcall(host, "GET", "/admin/queues/api-orders/messages")
    assert st == 200 and len(p1["messages"]) == 1   # peek defaults to 1

    st, c = jcall(host, "DELETE", "/admin/queues/api-orders/messages")
    assert st == 200 and c == {"queue": "api-orders", "deleted": 2}
    st, q = jcall(host, "GET", "/admin/queues/api-orders")
    assert q["visible"] == 0 and q["oldestInsertionTime"] is None


def test_queue_binary_body_round_trip(host):
    body = bytes(range(256)) * 4
    st, m = jcall(host, "POST", "/admin/queues/api-binary/messages", body)
    assert st == 201
    st, p = jcall(host, "GET", "/admin/queues/api-binary/messages?peek=1")
    msg = p["messages"][0]
    assert msg["binary"] is True and msg["length"] == len(body)
    assert base64.b64decode(msg["body"]) == body


def test_queue_put_options(host):
    st, m = jcall(host, "POST", "/admin/queues/api-opts/messages?visibilitytimeout=3600", b"later")
    assert st == 201 and m["nextVisibleTime"] > m["insertionTime"]
    st, q = jcall(host, "GET", "/admin/queues/api-opts")
    assert q["visible"] == 0 and q["invisible"] == 1
    st, p = jcall(host, "GET", "/admin/queues/api-opts/messages?peek=5")
    assert p["messages"] == []
    st, m = jcall(host, "POST", "/admin/queues/api-opts/messages?messagettl=-1", b"forever")
    assert st == 201 and m["expirationTime"] is None
    st, m = jcall(host, "POST", "/admin/queues/api-opts/messages?messageTtl=60", b"soon")
    assert st == 201 and m["expirationTime"] < "9999"


@pytest.mark.parametrize("path,body,status,text", [
    ("/admin/queues/Orders/messages", b"x", 400, "upper-case"),
    ("/admin/queues/ab/messages", b"x", 400, "3 to 63"),
    ("/admin/queues/a--b/messages", b"x", 400, "dash"),
    ("/admin/queues/okq/messages?visibilitytimeout=-1", b"x", 400, "visibilitytimeout"),
    ("/admin/queues/okq/messages?visibilitytimeout=abc", b"x", 400, "visibilitytimeout"),
    ("/admin/queues/okq/messages?messagettl=0", b"x", 400, "messagettl"),
    ("/admin/queues/okq/messages?visibilitytimeout=120&messagettl=60", b"x", 400,
     "time to live"),
])
def test_queue_put_errors(host, path, body, status, text):
    st, e = jcall(host, "POST", path, body)
    assert st == status, e
    assert text.lower() in e["error"].lower(), e


@pytest.mark.parametrize("q", ["peek=0", "peek=33", "peek=x"])
def test_queue_peek_bad_count(host, q):
    st, e = jcall(host, "GET", "/admin/queues/okq/messages?" + q)
    assert st == 400 and "peek" in e["error"] and "1 to 32" in e["error"]


def test_queue_message_too_large(host):
    st, e = jcall(host, "POST", "/admin/queues/api-big/messages", b"x" * (64 * 1024 + 1))
    assert st == 413, e
    st, e = jcall(host, "POST", "/admin/queues/api-big/messages", b"x" * (64 * 1024))
    assert st == 201, e


def test_queue_wrong_method(host):
    st, _, _ = call(host, "PUT", "/admin/queues/okq/messages", b"x")
    assert st == 405


def test_queue_put_reaches_the_queue_trigger(hosts):
    host, out = hosts["dev"], hosts["out"]
    body = b"\x00\xffbytes as they are\n"
    st, m = jcall(host, "POST", "/admin/queues/trig-q/messages", body)
    assert st == 201
    assert wait_for(lambda: saved(out, m["id"]), timeout=60) == body
    r = cli("queue", "put", "trig-q", "from the command line", "--json", app=host.app,
            port=host.port)
    assert r.returncode == 0, r.stderr
    msg_id = json.loads(r.stdout)["id"]
    assert wait_for(lambda: saved(out, msg_id), timeout=60) == b"from the command line"
    # Processed messages are gone.
    assert wait_for(lambda: jcall(host, "GET", "/admin/queues/trig-q")[1]["visible"] == 0 and
                    jcall(host, "GET", "/admin/queues/trig-q")[1]["invisible"] == 0, timeout=60)


# ---- blobs through the admin API -----------------------------------------------

def test_blob_put_get_list_delete(host):
    st, r = jcall(host, "PUT", "/admin/blobs/api-cont/reports/2024/may.csv", b"a,b\n1,2\n")
    assert st == 201 and r == {"container": "api-cont", "name": "reports/2024/may.csv",
                               "length": 8, "created": True}
    st, r = jcall(host, "PUT", "/admin/blobs/api-cont/reports/2024/may.csv", b"a,b\n1,2\n3,4\n")
    assert st == 200 and r["created"] is False and r["length"] == 12
    assert jcall(host, "PUT", "/admin/blobs/api-cont/top.txt", b"top")[0] == 201

    root = os.path.join(host.app, ".stratus", "blobs", "api-cont")
    with open(os.path.join(root, "reports", "2024", "may.csv"), "rb") as f:
        assert f.read() == b"a,b\n1,2\n3,4\n"

    st, hdr, data = call(host, "GET", "/admin/blobs/api-cont/reports/2024/may.csv")
    assert st == 200 and data == b"a,b\n1,2\n3,4\n"
    assert hdr["Content-Type"] == "application/octet-stream" and hdr["Content-Length"] == "12"
    # An escaped '/' is the same name.
    st, _, data2 = call(host, "GET", "/admin/blobs/api-cont/reports%2F2024%2Fmay.csv")
    assert st == 200 and data2 == data

    st, lst = jcall(host, "GET", "/admin/blobs/api-cont")
    assert st == 200 and lst["container"] == "api-cont" and lst["truncated"] is False
    assert [b["name"] for b in lst["blobs"]] == ["reports/2024/may.csv", "top.txt"]
    assert lst["blobs"][0]["length"] == 12 and lst["blobs"][0]["lastModified"].endswith("Z")
    st, lst = jcall(host, "GET", "/admin/blobs/api-cont?prefix=rep")
    assert [b["name"] for b in lst["blobs"]] == ["reports/2024/may.csv"]
    st, lst = jcall(host, "GET", "/admin/blobs/api-cont?prefix=reports%2F2025")
    assert lst["blobs"] == []

    st, conts = jcall(host, "GET", "/admin/blobs")
    assert st == 200 and "api-cont" in [c["name"] for c in conts]

    st, _, _ = call(host, "DELETE", "/admin/blobs/api-cont/reports/2024/may.csv")
    assert st == 204
    assert not os.path.exists(os.path.join(root, "reports"))   # empty folders go too
    assert os.path.isdir(root)                                  # the container stays
    st, e = jcall(host, "DELETE", "/admin/blobs/api-cont/reports/2024/may.csv")
    assert st == 404 and "no blob named" in e["error"]
    st, e = jcall(host, "GET", "/admin/blobs/api-cont/reports/2024/may.csv")
    assert st == 404 and "no blob named" in e["error"]


def test_blob_binary_round_trip(host):
    body = os.urandom(300 * 1024) + b"\x00\xff"
    assert jcall(host, "PUT", "/admin/blobs/api-bin/data.bin", body)[0] == 201
    st, _, data = call(host, "GET", "/admin/blobs/api-bin/data.bin")
    assert st == 200 and data == body
    st, _, data = call(host, "PUT", "/admin/blobs/api-bin/empty", b"")
    assert st == 201
    st, _, data = call(host, "GET", "/admin/blobs/api-bin/empty")
    assert st == 200 and data == b""


@pytest.mark.parametrize("method,path,status,text", [
    ("PUT", "/admin/blobs/Bad/x", 400, "container name"),
    ("PUT", "/admin/blobs/ab/x", 400, "3 to 63"),
    ("PUT", "/admin/blobs/okc/a%2F..%2Fb", 400, "'..' segment"),
    ("PUT", "/admin/blobs/okc/.hidden", 400, "starting with '.'"),
    ("PUT", "/admin/blobs/okc/a//b", 400, "empty segment"),
    ("PUT", "/admin/blobs/okc/a%5Cb", 400, "backslash"),
    ("PUT", "/admin/blobs/okc/a%01b", 400, "control"),
    ("PUT", "/admin/blobs/okc/" + "x" * 256, 400, "segment"),
    ("PUT", "/admin/blobs/okc/", 400, "blob name is required"),
    ("GET", "/admin/blobs/no-such-container", 404, "no container"),
    ("GET", "/admin/blobs/no-such-container/x", 404, "no blob"),
])
def test_blob_errors(host, method, path, status, text):
    st, e = jcall(host, method, path, b"x" if method == "PUT" else None)
    assert st == status, e
    assert text.lower() in e["error"].lower(), e


def test_blob_conflicts(host):
    assert jcall(host, "PUT", "/admin/blobs/api-conf/a/b", b"1")[0] == 201
    st, e = jcall(host, "PUT", "/admin/blobs/api-conf/a", b"2")
    assert st == 409 and "folder" in e["error"]
    st, e = jcall(host, "PUT", "/admin/blobs/api-conf/a/b/c", b"3")
    assert st == 409 and "not a folder" in e["error"]
    st, e = jcall(host, "GET", "/admin/blobs/api-conf/a")
    assert st == 404 and "folder" in e["error"]


def test_blob_hidden_and_temporary_files_are_not_listed(host):
    assert jcall(host, "PUT", "/admin/blobs/api-hid/seen.txt", b"1")[0] == 201
    d = os.path.join(host.app, ".stratus", "blobs", "api-hid")
    with open(os.path.join(d, ".seen.txt.tmp-0123456789ab"), "wb") as f:
        f.write(b"half")
    st, lst = jcall(host, "GET", "/admin/blobs/api-hid")
    assert [b["name"] for b in lst["blobs"]] == ["seen.txt"]


def test_blob_write_is_atomic(host):
    """A watcher of the folder sees the blob whole or not at all, and no
    temporary file is left behind."""
    size = 24 * 1024 * 1024
    body = os.urandom(1024) * (size // 1024)
    d = os.path.join(host.app, ".stratus", "blobs", "api-atomic")
    os.makedirs(d, exist_ok=True)
    seen, strays, stop = [], [], threading.Event()

    def watch():
        path = os.path.join(d, "big.bin")
        while not stop.is_set():
            try:
                seen.append(os.stat(path).st_size)
            except FileNotFoundError:
                pass
            strays.extend(n for n in os.listdir(d)
                          if n != "big.bin" and not n.startswith(".big.bin.tmp-"))

    t = threading.Thread(target=watch)
    t.start()
    try:
        for _ in range(2):
            st, r = jcall(host, "PUT", "/admin/blobs/api-atomic/big.bin", body)
            assert st in (200, 201), r
    finally:
        stop.set()
        t.join()
    assert not strays, strays
    assert seen and set(seen) == {size}, sorted(set(seen))[:5]
    assert os.listdir(d) == ["big.bin"]
    st, _, data = call(host, "GET", "/admin/blobs/api-atomic/big.bin")
    assert st == 200 and data == body


# ---- auth ----------------------------------------------------------------------

@pytest.mark.parametrize("method,path", [
    ("GET", "/admin/queues"), ("GET", "/admin/queues/authq"),
    ("GET", "/admin/queues/authq/messages"), ("POST", "/admin/queues/authq/messages"),
    ("DELETE", "/admin/queues/authq/messages"), ("GET", "/admin/blobs"),
    ("GET", "/admin/blobs/authc"), ("PUT", "/admin/blobs/authc/x"),
    ("GET", "/admin/blobs/authc/x"), ("DELETE", "/admin/blobs/authc/x"),
])
def test_production_needs_the_master_key(hosts, method, path):
    prod = hosts["prod"]
    body = b"x" if method in ("POST", "PUT") else None
    st, _, _ = call(prod, method, path, body)
    assert st == 401
    st, _, _ = call(prod, method, path, body, key="not-the-key-0123456789")
    assert st == 401
    # Nothing was written without the key.
    assert not os.path.exists(os.path.join(prod.app, ".stratus", "blobs", "authc", "x"))


def test_production_with_the_master_key(hosts):
    prod = hosts["prod"]
    key = master_key(prod.app)
    st, m = jcall(prod, "POST", "/admin/queues/prodq/messages", b"m", key=key)
    assert st == 201
    st, p = jcall(prod, "GET", "/admin/queues/prodq/messages", key=key)
    assert st == 200 and p["messages"][0]["body"] == "m"
    st, _ = jcall(prod, "PUT", "/admin/blobs/prodc/x", b"blob", key=key)
    assert st == 201
    st, _, data = call(prod, "GET", "/admin/blobs/prodc/x", key=key)
    assert st == 200 and data == b"blob"


# ---- the commands against a running host ---------------------------------------

def test_cli_help():
    for cmd in ("queue", "blob"):
        r = cli(cmd, "--help")
        assert r.returncode == 0 and r.stdout.startswith(b"Usage: stratus " + cmd.encode())
    r = cli("--help")
    assert b"queue" in r.stdout and b"blob" in r.stdout


def test_cli_queue_with_host(host):
    h = dict(app=host.app, port=host.port)
    r = cli("queue", "put", "cli-q", "hello world", **h)
    assert r.returncode == 0, r.stderr
    assert b"Put message" in r.stdout and b"into queue cli-q" in r.stdout
    assert b"directly" not in r.stderr
    r = cli("queue", "put", "cli-q", "-", "--json", stdin=b"\x00\x01binary\xff", **h)
    assert r.returncode == 0, r.stderr
    put = json.loads(r.stdout)
    assert put["queue"] == "cli-q" and put["id"]

    r = cli("queue", "peek", "cli-q", "-n", "5", "--json", **h)
    assert r.returncode == 0, r.stderr
    msgs = json.loads(r.stdout)["messages"]
    assert msgs[0]["body"] == "hello world"
    assert base64.b64decode(msgs[1]["body"]) == b"\x00\x01binary\xff"
    r = cli("queue", "peek", "cli-q", "--count=5", **h)
    lines = r.stdout.decode().splitlines()
    assert lines[0].split() == ["ID", "DEQUEUED", "INSERTED", "BODY"]
    assert lines[1].endswith("hello world") and "<binary, 9 bytes>" in lines[2]

    r = cli("queue", "list", **h)
    assert r.returncode == 0
    row = [l for l in r.stdout.decode().splitlines() if l.startswith("cli-q ")][0]
    assert row.split()[1:3] == ["2", "0"]
    r = cli("queue", "list", "--json", **h)
    assert [q for q in json.loads(r.stdout) if q["name"] == "cli-q"][0]["visible"] == 2

    r = cli("queue", "clear", "cli-q", **h)
    assert r.returncode == 0 and b"Deleted 2 messages from queue cli-q" in r.stdout
    r = cli("queue", "peek", "cli-q", **h)
    assert b"No visible messages in queue cli-q" in r.stdout


def test_cli_queue_put_from_file_with_options(host, tmp_path):
    f = tmp_path / "msg.json"
    f.write_bytes(b'{"n": 1}')
    h = dict(app=host.app, port=host.port)
    r = cli("queue", "put", "cli-opts", "--file", str(f), "--visibility-timeout", "600",
            "--ttl", "-1", "--json", **h)
    assert r.returncode == 0, r.stderr
    m = json.loads(r.stdout)
    assert m["expirationTime"] is None and m["nextVisibleTime"] > m["insertionTime"]
    st, q = jcall(host, "GET", "/admin/queues/cli-opts")
    assert q["invisible"] == 1


@pytest.mark.parametrize("args,code,text", [
    (["queue"], 2, b"which action"),
    (["queue", "pop", "q1"], 2, b"unknown action"),
    (["queue", "put", "Bad", "x"], 2, b"upper-case"),
    (["queue", "put", "okq"], 2, b"QUEUE and MESSAGE"),
    (["queue", "peek", "okq", "-n", "40"], 2, b"1 to 32"),
    (["queue", "put", "okq", "x", "--ttl", "0"], 2, b"--ttl"),
    (["queue", "list", "--bogus"], 2, b"unknown option"),
    (["queue", "put", "okq", "--file", "/nonexistent/file"], 1, b"cannot open"),
    (["blob"], 2, b"which action"),
    (["blob", "put", "okc", "-"], 2, b"CONTAINER/NAME"),
    (["blob", "get", "Bad/x"], 2, b"container name"),
    (["blob", "get", "okc/../x"], 2, b"'..' segment"),
    (["blob", "list", "okc/sub"], 2, b"--prefix"),
    (["blob", "put", "okc/x"], 2, b"FILE"),
])
def test_cli_usage_errors(host, args, code, text):
    r = cli(*args, app=host.app, port=host.port)
    assert r.returncode == code, (r.stdout, r.stderr)
    assert text in r.stderr, r.stderr


def test_cli_queue_error_from_host(host):
    r = cli("queue", "put", "cli-big", "-", stdin=b"x" * (70 * 1024), app=host.app,
            port=host.port)
    assert r.returncode == 1
    assert b"413" in r.stderr and b"put cli-big failed" in r.stderr


def test_cli_blob_with_host(host, tmp_path):
    h = dict(app=host.app, port=host.port)
    src = tmp_path / "in.bin"
    data = os.urandom(200 * 1024)
    src.write_bytes(data)
    r = cli("blob", "put", "cli-cont/dir/in.bin", str(src), **h)
    assert r.returncode == 0, r.stderr
    assert b"Created blob cli-cont/dir/in.bin (204800 bytes)" in r.stdout
    r = cli("blob", "put", "cli-cont/dir/in.bin", str(src), **h)
    assert b"Replaced blob" in r.stdout
    r = cli("blob", "put", "cli-cont/notes.txt", "-", "--json", stdin=b"notes\n", **h)
    assert json.loads(r.stdout)["created"] is True

    r = cli("blob", "get", "cli-cont/dir/in.bin", **h)
    assert r.returncode == 0 and r.stdout == data
    out = tmp_path / "out.bin"
    r = cli("blob", "get", "cli-cont/dir/in.bin", "-o", str(out), **h)
    assert r.returncode == 0 and out.read_bytes() == data and r.stdout == b""

    r = cli("blob", "list", "cli-cont", **h)
    lines = r.stdout.decode().splitlines()
    assert lines[0].split() == ["NAME", "LENGTH", "LAST", "MODIFIED"]
    assert [l.split()[0] for l in lines[1:]] == ["dir/in.bin", "notes.txt"]
    assert lines[1].split()[1] == "204800"
    r = cli("blob", "list", "cli-cont", "--prefix", "dir/", "--json", **h)
    assert [b["name"] for b in json.loads(r.stdout)["blobs"]] == ["dir/in.bin"]
    r = cli("blob", "list", **h)
    assert "cli-cont" in [l.split()[0] for l in r.stdout.decode().splitlines()[1:]]

    r = cli("blob", "delete", "cli-cont/notes.txt", **h)
    assert r.returncode == 0 and b"Deleted blob cli-cont/notes.txt" in r.stdout
    r = cli("blob", "get", "cli-cont/notes.txt", **h)
    assert r.returncode == 1
    assert b"404" in r.stderr and b"no blob named 'notes.txt'" in r.stderr


def test_cli_production_host_uses_the_master_key(hosts):
    prod = hosts["prod"]
    r = cli("queue", "put", "cli-prod", "m", app=prod.app, port=prod.port)
    assert r.returncode == 0, r.stderr
    r = cli("blob", "put", "cli-prod/x", "-", stdin=b"x", app=prod.app, port=prod.port)
    assert r.returncode == 0, r.stderr
    # Another app's folder: no key for this host.
    r = cli("queue", "list", app=hosts["dev"].app, port=prod.port)
    assert r.returncode == 1 and b"401" in r.stderr and b"refused" in r.stderr


# ---- the commands without a host -------------------------------------------------

def test_cli_without_host_then_host_sees_it(module_hosts):
    app = write_app(os.path.join(module_hosts.workdir, "offline"), {"echo": http_fn("echo")})
    port = free_port()   # nothing listens there
    h = dict(app=app, port=port)
    r = cli("queue", "put", "off-q", "queued while stopped", **h)
    assert r.returncode == 0, r.stderr
    assert b"no host answers" in r.stderr and b"directly" in r.stderr
    r = cli("queue", "put", "off-q", "-", stdin=b"\xff\xfe", **h)
    assert r.returncode == 0, r.stderr
    r = cli("queue", "peek", "off-q", "-n", "2", "--json", **h)
    msgs = json.loads(r.stdout)["messages"]
    assert msgs[0]["body"] == "queued while stopped"
    assert base64.b64decode(msgs[1]["body"]) == b"\xff\xfe"
    r = cli("queue", "list", "--json", **h)
    assert json.loads(r.stdout)[0]["name"] == "off-q"

    data = os.urandom(5000)
    r = cli("blob", "put", "off-c/a/b.bin", "-", stdin=data, **h)
    assert r.returncode == 0, r.stderr
    assert b"Created blob off-c/a/b.bin" in r.stdout
    r = cli("blob", "get", "off-c/a/b.bin", **h)
    assert r.stdout == data
    r = cli("blob", "list", "off-c", "--json", **h)
    assert [b["name"] for b in json.loads(r.stdout)["blobs"]] == ["a/b.bin"]

    # A host started on the app sees both.
    host = module_hosts.start(app)
    st, p = jcall(host, "GET", "/admin/queues/off-q/messages?peek=5")
    assert [m["length"] for m in p["messages"]] == [20, 2]
    st, _, got = call(host, "GET", "/admin/blobs/off-c/a/b.bin")
    assert st == 200 and got == data

    # While it runs, a command that misses it cannot use the store either.
    r = cli("queue", "put", "off-q", "x", **h)
    assert r.returncode == 1
    assert b"in use" in r.stderr and b"--port" in r.stderr
    r = cli("blob", "put", "off-c/x", "-", stdin=b"x", **h)
    assert r.returncode == 1 and b"in use" in r.stderr
    r = cli("queue", "clear", "off-q", app=app, port=host.port)
    assert r.returncode == 0 and b"Deleted 2 messages" in r.stdout


def test_cli_without_host_errors(module_hosts):
    app = write_app(os.path.join(module_hosts.workdir, "offline2"), {"echo": http_fn("echo")})
    h = dict(app=app, port=free_port())
    r = cli("blob", "get", "nope-c/x", **h)
    assert r.returncode == 1 and b"no blob named 'x'" in r.stderr
    r = cli("blob", "list", "nope-c", **h)
    assert r.returncode == 1 and b"no container named 'nope-c'" in r.stderr
    r = cli("queue", "put", "big-q", "-", stdin=b"x" * (70 * 1024), **h)
    assert r.returncode == 1 and b"65536" in r.stderr
    r = cli("queue", "list", app=os.path.join(module_hosts.workdir, "missing"), port=h["port"])
    assert r.returncode == 1 and b"cannot load the app" in r.stderr
