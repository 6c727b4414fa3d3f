"""The Node.js worker shim (runtimes/node/worker.js) driven directly over
the frame protocol of docs/worker-protocol.md, without the host: the
handshake and placeholder behaviour, framing (split and batched frames),
PING, CANCEL, SHUTDOWN, end of file, malformed input, output bindings,
non-HTTP triggers, the v3 rules for finding a function's script and entry
point, and results or logs too large for a frame. The host-level behaviour is in test_node.py.
"""
import base64
import json
import os
import shutil
import socket
import struct
import subprocess
import time

import pytest

from conftest import ROOT, wait_for, write_app

WORKER = os.path.join(ROOT, "runtimes", "node", "worker.js")
NODE = shutil.which("node") or "node"
HEADER = struct.Struct("<IIQII")
MAGIC = 0x53545201
(HELLO, READY, LOAD, LOADED, INVOKE, RESULT, LOG, CANCEL, PING, PONG, SHUTDOWN) = range(1, 12)


def frame(ftype, fid=0, meta=None, body=b""):
    m = b"" if meta is None else json.dumps(meta, separators=(",", ":")).encode()
    return HEADER.pack(MAGIC, ftype, fid, len(m), len(body)) + m + body


def app_cache(app):
    """Where the host has its workers keep their code cache."""
    return os.path.join(app, ".stratus", "runtimes", "node.cache")


class Worker:
    """node worker.js on one end of a socketpair; we hold the other. Like
    the host, it gives the worker a code cache file (app_cache), unless
    code_cache is False, or another path."""

    def __init__(self, app, node_args=(), code_cache=None):
        self.app = app
        ours, theirs = socket.socketpair()
        fd = theirs.fileno()
        env = dict(os.environ, STRATUS_WORKER_FD=str(fd), FUNCTIONS_WORKER_RUNTIME="node")
        if code_cache is None:
            code_cache = app_cache(app)
        cache_args = ["--code-cache", code_cache] if code_cache else []
        self.proc = subprocess.Popen([NODE, *node_args, WORKER, *cache_args], cwd=app,
                                     pass_fds=(fd,), env=env,
                                     stdin=subprocess.DEVNULL, stderr=subprocess.PIPE)
        theirs.close()
        self.sock = ours
        self.buf = b""

    def send(self, data):
        self.sock.sendall(data)

    def recv(self, timeout=20):
        """The next frame as (type, id, meta, body), or None at end of file."""
        self.sock.settimeout(timeout)
        while True:
            if len(self.buf) >= 24:
                magic, t, i, ml, bl = HEADER.unpack_from(self.buf)
                assert magic == MAGIC, self.buf[:24]
                if len(self.buf) >= 24 + ml + bl:
                    meta = json.loads(self.buf[24:24 + ml] or b"{}")
                    body = self.buf[24 + ml:24 + ml + bl]
                    self.buf = self.buf[24 + ml + bl:]
                    return t, i, meta, body
            data = self.sock.recv(65536)
            if not data:
                return None
            self.buf += data

    def recv_type(self, ftype, timeout=20):
        """Frames up to the next of type ftype: (that frame, the others)."""
        others = []
        while True:
            f = self.recv(timeout)
            assert f is not None, "end of file before a frame of type %d: %r" % (ftype, others)
            if f[0] == ftype:
                return f, others
            others.append(f)

    def load(self, functions):
        self.send(frame(READY, 0, {"protocol": 1}) +
                  frame(LOAD, 0, {"appRoot": self.app, "settings": {}, "functions": functions}))
        (_, _, meta, _), _ = self.recv_type(LOADED)
        return {f["name"]: f for f in meta["functions"]}

    def finish(self):
        """End of file to the worker; its exit status and what it wrote to stderr."""
        self.sock.close()
        status = self.proc.wait(10)
        return status, self.proc.stderr.read()

    def close(self):
        self.sock.close()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc.stderr.close()


@pytest.fixture
def worker(tmp_path):
    workers = []

    def start(functions, files=None, node_args=(), code_cache=None):
        app = write_app(tmp_path / "app", functions, settings={"IsEncrypted": False, "Values": {}},
                        files=files)
        w = Worker(app, node_args, code_cache)
        workers.append(w)
        hello = w.recv()
        assert hello[0] == HELLO, hello
        return w

    yield start
    for w in workers:
        w.close()


def http_fn(name, app, out="res", **extra):
    """A LOAD entry for an HTTP function in folder name of app."""
    f = {"name": name, "directory": os.path.join(app, name),
         "bindings": [{"type": "httpTrigger", "direction": "in", "name": "req"},
                      {"type": "http", "direction": "out", "name": out}]}
    f.update(extra)
    return f


def invoke(function, query="", method="GET", headers=None, params=None, **extra):
    meta = {"function": function, "invocationId": "00000000-0000-4000-8000-000000000001",
            "http": {"method": method, "url": "http://h/api/" + function + ("?" + query if query else ""),
                     "path": "/api/" + function, "query": query,
                     "headers": headers or [["Host", "h"]], "params": params or {}}}
    meta.update(extra)
    return meta


HELLO_JS = "module.exports = async function (context, req) { return { body: 'hi ' + (req.query.n || '') }; };\n"
SLOW_JS = r"""
module.exports = async function (context, req) {
  await new Promise((r) => setTimeout(r, Number(req.query.ms || 200)));
  context.res = { body: 'slow done' };
};
"""
HANG_JS = "module.exports = async function () { await new Promise(() => {}); };\n"


# ---- handshake, framing ---------------------------------------------------------------

def test_hello_at_once_and_code_loaded_only_on_load(worker, tmp_path):
    marker = tmp_path / "loaded.txt"
    side = ("require('fs').writeFileSync(%r, 'x');\n" % str(marker)) + HELLO_JS
    w = worker({"hello": {"function.json": {}, "index.js": side}})
    # a placeholder: started, said hello, and has not touched the app
    assert w.proc.poll() is None
    assert not marker.exists()
    loaded = w.load([http_fn("hello", w.app, out="$return")])
    assert loaded == {"hello": {"name": "hello", "ok": True}}
    assert marker.exists()


def test_frames_split_byte_by_byte_and_many_in_one_write(worker):
    w = worker({"hello": {"function.json": {}, "index.js": HELLO_JS}})
    data = (frame(READY, 0, {"protocol": 1}) +
            frame(LOAD, 0, {"appRoot": w.app, "functions": [http_fn("hello", w.app, out="$return")]}) +
            frame(INVOKE, 1, invoke("hello", "n=one")))
    for i in range(len(data)):
        w.send(data[i:i + 1])
    w.recv_type(LOADED)
    (t, i, meta, body), _ = w.recv_type(RESULT)
    assert (i, meta["ok"], body) == (1, True, b"hi one")
    # 300 invocations in one write: every one answered once, any order
    w.send(b"".join(frame(INVOKE, 100 + k, invoke("hello", "n=%d" % k)) for k in range(300)))
    seen = {}
    while len(seen) < 300:
        (t, i, meta, body), _ = w.recv_type(RESULT)
        assert i not in seen
        seen[i] = body
    assert seen == {100 + k: b"hi %d" % k for k in range(300)}


def test_invoke_metadata_read_fast_or_parsed_whole(worker):
    """The function and invocationId are read from the bytes when the metadata
    is plain ASCII in the host's order, else from the parsed JSON: both ways
    give the same answers, and frame ids past 32 bits come back whole."""
    js = ("module.exports = async function (context, req) {\n"
          "  return { body: context.invocationId + '|' + (req.headers['x-h'] || '') }; };\n")
    w = worker({"hello": {"function.json": {}, "index.js": js},
                "h\u00e9llo": {"function.json": {}, "index.js": js}})
    w.load([http_fn("hello", w.app, out="$return"), http_fn("h\u00e9llo", w.app, out="$return")])
    uid = "00000000-0000-4000-8000-000000000001"

    def compact(m):
        return json.dumps(m, separators=(",", ":"), ensure_ascii=False).encode()

    def raw(fid, meta_bytes):
        return HEADER.pack(MAGIC, INVOKE, fid, len(meta_bytes), 0) + meta_bytes

    plain = invoke("hello", headers=[["X-H", "a"]])
    cases = {
        1: (compact(plain), uid + "|a"),                                   # the fast path
        2: (compact(invoke("hello", headers=[["X-H", "\u00e9t\u00e9"]])), uid + "|\u00e9t\u00e9"),
        3: (compact(invoke("h\u00e9llo", headers=[["X-H", "b"]])), uid + "|b"),
        4: (json.dumps(plain).encode(), uid + "|a"),                        # spaces: parsed whole
        5: (compact(dict(plain, invocationId='a"b\\c')), 'a"b\\c|a'),  # escapes: parsed whole
        (7 << 32) + 9: (compact(plain), uid + "|a"),
    }
    w.send(b"".join(raw(i, m) for i, (m, _) in cases.items()))
    got = {}
    while len(got) < len(cases):
        (t, i, meta, body), _ = w.recv_type(RESULT)
        assert meta["ok"], meta
        got[i] = body.decode()
    assert got == {i: want for i, (_, want) in cases.items()}
    # an unknown name on the fast path is named in the error
    w.send(raw(8, compact(invoke("nope"))))
    (t, i, meta, body), _ = w.recv_type(RESULT)
    assert i == 8 and not meta["ok"] and 'no function named "nope"' in meta["error"]


def test_large_bodies_both_ways(worker):
    echo = "module.exports = async function (c, req) { return { body: req.body }; };\n"
    w = worker({"echo": {"function.json": {}, "index.js": echo}})
    fn = http_fn("echo", w.app, out="$return")
    fn["bindings"][0]["dataType"] = "binary"
    w.load([fn])
    big = os.urandom(3 << 20)
    w.send(frame(INVOKE, 5, invoke("echo", method="POST"), big))
    (t, i, meta, body), _ = w.recv_type(RESULT)
    assert meta["ok"] and i == 5 and body == big
    assert ["Content-Type", "application/octet-stream"] in meta["headers"]


@pytest.mark.parametrize("node_args", [
    (),
    # The permission model refuses process.binding(): the worker falls back
    # to a net.Socket on the same descriptor.
    ("--experimental-permission", "--allow-fs-read=*"),
], ids=["pipe-handle", "net-socket"])
def test_the_channel_under_back_pressure_and_at_shutdown(worker, node_args):
    """Results the socket cannot take at once (the host not reading) wait
    in order and all arrive; many small ones leave batched; SHUTDOWN ends
    the worker with status 0 after its last write. Both ways the worker
    drives its socket."""
    echo = "module.exports = async function (c, req) { return { body: req.body }; };\n"
    net = ("module.exports = async function () {\n"
           "  return { body: String(process.moduleLoadList.includes('NativeModule net')) }; };\n")
    w = worker({"echo": {"function.json": {}, "index.js": echo},
                "net": {"function.json": {}, "index.js": net}}, node_args=node_args)
    fn = http_fn("echo", w.app, out="$return")
    fn["bindings"][0]["dataType"] = "binary"
    w.load([fn, http_fn("net", w.app, out="$return")])
    # Whether Node's net module was loaded: only by the fallback.
    w.send(frame(INVOKE, 1, invoke("net")))
    (t, i, meta, body), _ = w.recv_type(RESULT)
    assert body == (b"true" if node_args else b"false"), body
    bodies = {10 + k: os.urandom((1 << 20) + k) for k in range(4)}
    w.send(b"".join(frame(INVOKE, i, invoke("echo", method="POST"), b) for i, b in bodies.items()))
    time.sleep(0.5)  # the worker's writes fill the socket and queue
    w.send(b"".join(frame(INVOKE, 100 + k, invoke("echo", method="POST"), b"%d" % k)
                    for k in range(200)))
    got = {}
    while len(got) < len(bodies) + 200:
        (t, i, meta, body), _ = w.recv_type(RESULT)
        assert meta["ok"] and i not in got
        got[i] = body
    assert all(got[i] == b for i, b in bodies.items())
    assert all(got[100 + k] == b"%d" % k for k in range(200))
    w.send(frame(SHUTDOWN, 0, {"graceMs": 10000}))
    assert w.recv() is None
    assert w.proc.wait(10) == 0
    assert b"Error" not in w.proc.stderr.read()


def test_ping_answered_while_invocations_run_and_cancel_answers_at_once(worker):
    w = worker({"hang": {"function.json": {}, "index.js": HANG_JS}})
    w.load([http_fn("hang", w.app)])
    w.send(frame(INVOKE, 7, invoke("hang")) + frame(INVOKE, 8, invoke("hang")) + frame(PING, 99))
    (t, i, meta, _), _ = w.recv_type(PONG)
    assert i == 99 and meta == {"inflight": 2}
    w.send(frame(CANCEL, 7, {"reason": "timeout"}) + frame(CANCEL, 12345, {"reason": "timeout"}))
    (t, i, meta, _), _ = w.recv_type(RESULT)
    assert i == 7 and meta == {"ok": False, "error": "cancelled"}
    w.send(frame(PING, 100))
    (t, i, meta, _), others = w.recv_type(PONG)
    assert i == 100 and meta == {"inflight": 1} and not others


def test_shutdown_finishes_in_flight_work_then_exits_zero(worker):
    w = worker({"slow": {"function.json": {}, "index.js": SLOW_JS}})
    w.load([http_fn("slow", w.app)])
    w.send(frame(INVOKE, 3, invoke("slow", "ms=300")) + frame(SHUTDOWN, 0, {"graceMs": 10000}))
    (t, i, meta, body), _ = w.recv_type(RESULT)
    assert i == 3 and meta["ok"] and body == b"slow done"
    assert w.recv() is None
    assert w.proc.wait(10) == 0


def test_end_of_file_exits_zero(worker):
    w = worker({"slow": {"function.json": {}, "index.js": SLOW_JS}})
    w.load([http_fn("slow", w.app)])
    w.sock.shutdown(socket.SHUT_WR)
    assert w.proc.wait(10) == 0


@pytest.mark.parametrize("data,reason", [
    (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", "bad magic"),
    (HEADER.pack(MAGIC, RESULT, 1, 0, 0), "unexpected frame type 6"),
    (HEADER.pack(MAGIC, INVOKE, 1, 2 << 20, 0), "over the limit"),
    (HEADER.pack(MAGIC, INVOKE, 0, 2, 0) + b"{}", "id 0"),
])
def test_malformed_frame_ends_the_worker_with_a_reason(worker, data, reason):
    w = worker({"slow": {"function.json": {}, "index.js": SLOW_JS}})
    w.send(data)
    assert w.proc.wait(10) != 0
    err = w.proc.stderr.read().decode()
    assert "malformed frame" in err and reason in err, err


def test_invoke_of_unknown_or_unloaded_function_fails_that_invocation(worker):
    w = worker({"hello": {"function.json": {}, "index.js": HELLO_JS},
                "bad": {"function.json": {}, "index.js": "module.exports = 42;\n"}})
    loaded = w.load([http_fn("hello", w.app, out="$return"), http_fn("bad", w.app)])
    assert not loaded["bad"]["ok"] and "exports number" in loaded["bad"]["error"]
    w.send(frame(INVOKE, 1, invoke("nope")) + frame(INVOKE, 2, invoke("bad")) +
           frame(INVOKE, 3, invoke("hello")))
    got = {}
    while len(got) < 3:
        (t, i, meta, body), _ = w.recv_type(RESULT)
        got[i] = (meta, body)
    assert not got[1][0]["ok"] and 'no function named "nope"' in got[1][0]["error"]
    assert not got[2][0]["ok"] and "could not be loaded" in got[2][0]["error"]
    assert got[3][0]["ok"] and got[3][1] == b"hi "


# ---- the code cache (worker.js --code-cache) -------------------------------------------

THROW_JS = ("module.exports = async function () {\n"
            "  throw new Error('boom at ' + __filename.split('/').slice(-2).join('/')); };\n")


def read_cache(path):
    """(header, {module name: (source, code)}) of a code cache file: text,
    a header line, then per module its source and its code in base64."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    nl = text.index("\n")
    head = json.loads(text[:nl])
    mods, pos = {}, nl + 1
    for name, src_len, code_len in head["modules"]:
        mods[name] = (text[pos:pos + src_len].encode(),
                      base64.b64decode(text[pos + src_len:pos + src_len + code_len]))
        pos += src_len + code_len
    assert pos == len(text)
    return head, mods


def hello_round(w, fid=1):
    """LOAD hello and thrower (first round only), run both: the answer, and
    the thrower's error."""
    if fid == 1:
        w.load([http_fn("hello", w.app, out="$return"), http_fn("thrower", w.app, out="$return")])
    w.send(frame(INVOKE, fid, invoke("hello", "n=c")) + frame(INVOKE, fid + 1, invoke("thrower")))
    got = {}
    while len(got) < 2:
        (t, i, meta, body), _ = w.recv_type(RESULT)
        got[i] = (meta, body)
    assert got[fid][0]["ok"] and got[fid][1] == b"hi c", got[fid]
    err = got[fid + 1][0]
    assert not err["ok"] and "boom at thrower/index.js" in err["error"], err
    # the stack shows the function's file, none of the shim's
    assert "thrower/index.js:2" in err["error"] and "runtimes" not in err["error"], err
    return got


def wait_written(path, since=0.0, timeout=10):
    return wait_for(lambda: os.path.exists(path) and os.stat(path).st_mtime_ns > since,
                    timeout=timeout)


CACHE_FNS = {"hello": {"function.json": {}, "index.js": HELLO_JS},
             "thrower": {"function.json": {}, "index.js": THROW_JS}}


def test_code_cache_written_after_a_start_then_used_as_is(worker):
    w = worker(CACHE_FNS)
    cache = app_cache(w.app)
    hello_round(w)
    assert wait_written(cache), "no code cache was written"
    head, mods = read_cache(cache)
    assert head["format"] == "stratus-node-code-cache/2"
    assert head["node"] == subprocess.run([NODE, "--version"], capture_output=True,
                                          text=True).stdout.strip()
    shim = os.path.dirname(WORKER)
    for name in ("main.js", "frames.js", "host.js", "loader.js", "http.js", "context.js"):
        with open(os.path.join(shim, name), "rb") as f:
            assert mods[name][0] == f.read(), name
        assert len(mods[name][1]) > 100, name
    assert "worker.js" not in mods and "esm.js" not in mods  # node's own require loads these
    before = open(cache, "rb").read(), os.stat(cache).st_mtime_ns
    w.close()
    # a second worker takes every module's code from the file: nothing to
    # write back
    w2 = worker(CACHE_FNS)
    hello_round(w2)
    time.sleep(1.6)
    assert (open(cache, "rb").read(), os.stat(cache).st_mtime_ns) == before


def corrupt_source(path):
    """Change the last character of host.js's source in the cache: the same
    length, so only the text tells."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    nl = text.index("\n")
    pos = nl + 1
    for name, src_len, code_len in json.loads(text[:nl])["modules"]:
        if name == "host.js":
            end = pos + src_len - 1
            text = text[:end] + ("x" if text[end] != "x" else "y") + text[end + 1:]
            break
        pos += src_len + code_len
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


@pytest.mark.parametrize("how", ["garbage", "truncated", "other-node", "changed-source",
                                 "other-flags"])
def test_a_code_cache_that_does_not_fit_is_replaced(worker, how):
    w = worker(CACHE_FNS)
    cache = app_cache(w.app)
    hello_round(w)
    assert wait_written(cache)
    w.close()
    good = open(cache, "rb").read()
    node_args = ()
    if how == "garbage":
        with open(cache, "wb") as f:
            f.write(os.urandom(5000))
    elif how == "truncated":
        with open(cache, "wb") as f:
            f.write(good[:len(good) // 2])
    elif how == "other-node":
        with open(cache, "wb") as f:
            f.write(good.replace(b'"node":"v', b'"node":"x', 1))
    elif how == "changed-source":
        corrupt_source(cache)
    else:
        node_args = ("--max-lazy",)  # V8 refuses code made under other flags
    since = os.stat(cache).st_mtime_ns
    w2 = worker(CACHE_FNS, node_args=node_args)
    hello_round(w2)
    assert wait_written(cache, since), "the cache was not written anew"
    head, mods = read_cache(cache)
    with open(os.path.join(os.path.dirname(WORKER), "host.js"), "rb") as f:
        assert mods["host.js"][0] == f.read()
    assert w2.finish() == (0, b"")


def test_a_code_cache_that_cannot_be_written_costs_nothing_else(worker, tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    w = worker(CACHE_FNS, code_cache=str(blocker / "node.cache"))
    hello_round(w)
    time.sleep(1.6)
    hello_round(w, fid=10)
    assert w.proc.poll() is None
    assert sorted(os.listdir(tmp_path)) == ["app", "not-a-folder"]
    assert w.finish() == (0, b"")


def test_without_a_code_cache_the_shim_is_required(worker):
    w = worker(CACHE_FNS, code_cache=False)
    hello_round(w)
    time.sleep(1.3)
    assert not os.path.exists(os.path.join(w.app, ".stratus"))


# ---- bindings -------------------------------------------------------------------------

QUEUE_JS = r"""
module.exports = async function (context, msg, doc) {
  context.log('dequeue', context.bindingData.dequeueCount);
  context.bindings.out1 = { got: msg.a, doc: doc.toString(), args: arguments.length };
  context.bindings.raw = Buffer.from('bytes as text');
  return 'returned';
};
"""


def test_non_http_trigger_inputs_and_output_bindings(worker):
    w = worker({"q": {"function.json": {}, "index.js": QUEUE_JS}})
    fn = {"name": "q", "directory": os.path.join(w.app, "q"), "bindings": [
        {"type": "queueTrigger", "direction": "in", "name": "msg"},
        {"type": "blob", "direction": "in", "name": "doc"},
        {"type": "queue", "direction": "out", "name": "out1"},
        {"type": "queue", "direction": "out", "name": "raw"},
        {"type": "queue", "direction": "out", "name": "$return"}]}
    assert w.load([fn])["q"]["ok"]
    meta = {"function": "q", "invocationId": "00000000-0000-4000-8000-000000000002",
            "triggerMetadata": {"DequeueCount": 2}, "inputs": {"doc": "the document"}}
    w.send(frame(INVOKE, 4, meta, b'{"a": 41}'))
    (t, i, meta, body), others = w.recv_type(RESULT)
    assert meta["ok"], meta
    assert meta["outputs"] == {"out1": {"got": 41, "doc": "the document", "args": 3},
                               "raw": {"$binary": "Ynl0ZXMgYXMgdGV4dA=="}, "$return": "returned"}
    assert "status" not in meta and body == b""
    assert [(f[0], f[1], f[2]["message"]) for f in others] == [(LOG, 4, "dequeue 2")]


RETURNS_OUTPUTS_JS = r"""
module.exports = async function (context, req) {
  context.bindings.extra = 'from bindings';
  return { res: { status: 201, body: 'from the returned object' }, extra: 'from return' };
};
"""


def test_returned_object_feeds_outputs_by_name(worker):
    w = worker({"r": {"function.json": {}, "index.js": RETURNS_OUTPUTS_JS}})
    fn = http_fn("r", w.app)
    fn["bindings"].append({"type": "queue", "direction": "out", "name": "extra"})
    w.load([fn])
    w.send(frame(INVOKE, 1, invoke("r")))
    (t, i, meta, body), _ = w.recv_type(RESULT)
    assert meta["ok"] and meta["status"] == 201 and body == b"from the returned object"
    assert meta["outputs"] == {"extra": "from return"}


def test_http_response_that_is_not_an_object_fails(worker):
    js = "module.exports = async function () { return 'just a string'; };\n"
    w = worker({"s": {"function.json": {}, "index.js": js}})
    w.load([http_fn("s", w.app, out="$return")])
    w.send(frame(INVOKE, 1, invoke("s")))
    (t, i, meta, body), _ = w.recv_type(RESULT)
    assert not meta["ok"] and "must be an object" in meta["error"], meta


# ---- finding the script and the entry point --------------------------------------------

def test_script_file_and_entry_point_rules(worker):
    fj = {}
    fns = {
        # module.exports is the function
        "plain": {"function.json": fj, "index.js": HELLO_JS},
        # several exports: run by convention
        "conv": {"function.json": fj, "index.js":
                 "exports.helper = () => 1;\nexports.run = async () => ({ body: 'run' });\n"},
        # the only exported function
        "single": {"function.json": fj, "index.js":
                   "exports.value = 3;\nexports.go = async () => ({ body: 'go' });\n"},
        # entryPoint names the export
        "named": {"function.json": fj, "index.js":
                  "exports.a = async () => ({ body: 'a' });\nexports.b = async () => ({ body: 'b' });\n"},
        # the only file is the script, whatever its name
        "other": {"function.json": fj, "handler.js": "module.exports = async () => ({ body: 'other' });\n"},
        # scriptFile naming a folder: its package.json "main"
        "pkgmain": {"function.json": fj},
        # errors
        "noentry": {"function.json": fj, "index.js": "exports.a = async () => 1;\n"},
        "ambiguous": {"function.json": fj, "index.js": "exports.a = () => 1;\nexports.b = () => 2;\n"},
        "noscript": {"function.json": fj},
        "throwing": {"function.json": fj, "index.js": "\n\nthrow new Error('fails at load');\n"},
        "missingdep": {"function.json": fj, "index.js": "require('./nowhere');\n"},
    }
    files = {"pkgmain/lib/package.json": json.dumps({"main": "impl.js"}),
             "pkgmain/lib/impl.js": "module.exports = async () => ({ body: 'pkg main' });\n"}
    w = worker(fns, files)
    app = w.app
    load = [http_fn("plain", app, out="$return"), http_fn("conv", app, out="$return"),
            http_fn("single", app, out="$return"), http_fn("named", app, out="$return", entryPoint="b"),
            http_fn("other", app, out="$return"),
            http_fn("pkgmain", app, out="$return", scriptFile=os.path.join(app, "pkgmain", "lib")),
            http_fn("noentry", app, entryPoint="zzz"), http_fn("ambiguous", app),
            http_fn("noscript", app), http_fn("throwing", app), http_fn("missingdep", app)]
    loaded = w.load(load)
    for name in ("plain", "conv", "single", "named", "other", "pkgmain"):
        assert loaded[name]["ok"], loaded[name]
    assert 'entryPoint "zzz"' in loaded["noentry"]["error"]
    assert "exported functions: a" in loaded["noentry"]["error"]
    assert "exports no function to run" in loaded["ambiguous"]["error"]
    assert "no script file" in loaded["noscript"]["error"]
    assert "Error: fails at load" in loaded["throwing"]["error"]
    assert "throwing/index.js:3" in loaded["throwing"]["error"]
    assert "Cannot find module './nowhere'" in loaded["missingdep"]["error"]
    expect = {"plain": b"hi ", "conv": b"run", "single": b"go", "named": b"b", "other": b"other",
              "pkgmain": b"pkg main"}
    w.send(b"".join(frame(INVOKE, k + 1, invoke(n)) for k, n in enumerate(expect)))
    got = {}
    while len(got) < len(expect):
        (t, i, meta, body), _ = w.recv_type(RESULT)
        assert meta["ok"], meta
        got[list(expect)[i - 1]] = body
    assert got == expect


def test_a_js_file_of_a_module_package_is_imported(worker):
    """"type": "module" in the nearest package.json makes a .js file an ES
    module: imported, and a syntax error in it is located by file and line."""
    fj = {}
    pkg = json.dumps({"type": "module"})
    fns = {
        "esmpkg": {"function.json": fj, "index.js": "export default async () => ({ body: 'esm' });\n",
                   "package.json": pkg},
        "brokenpkg": {"function.json": fj, "index.js": "export default async () => {\n  let let = 1;\n};\n",
                      "package.json": pkg},
        # a byte order mark before the JSON, as editors on Windows write it
        "bompkg": {"function.json": fj, "index.js": "export default async () => ({ body: 'bom' });\n",
                   "package.json": "\ufeff" + pkg},
    }
    w = worker(fns)
    loaded = w.load([http_fn(n, w.app, out="$return") for n in fns])
    assert loaded["esmpkg"]["ok"], loaded["esmpkg"]
    err = loaded["brokenpkg"]["error"]
    assert "SyntaxError" in err and "brokenpkg/index.js:2" in err, err
    assert loaded["bompkg"]["ok"], loaded["bompkg"]
    w.send(frame(INVOKE, 1, invoke("esmpkg")) + frame(INVOKE, 2, invoke("bompkg")))
    got = {}
    for _ in range(2):
        (t, i, meta, body), _ = w.recv_type(RESULT)
        assert meta["ok"], meta
        got[i] = body
    assert got == {1: b"esm", 2: b"bom"}, got


def test_console_outside_an_invocation_is_a_worker_line(worker):
    js = "console.log('loading now');\n" + HELLO_JS
    w = worker({"hello": {"function.json": {}, "index.js": js}})
    w.send(frame(READY, 0, {"protocol": 1}) +
           frame(LOAD, 0, {"appRoot": w.app, "functions": [http_fn("hello", w.app)]}))
    _, others = w.recv_type(LOADED)
    logs = [(f[1], f[2]) for f in others if f[0] == LOG]
    assert (0, {"level": 2, "message": "loading now"}) in logs, others


QUIT_JS = r"""
process.on('exit', (code) => console.log('exit listener saw ' + code));
module.exports = async function (context, req) {
  context.log('context line');
  console.error('config missing');
  process.exit(3);
};
"""


def frames_until_eof(w):
    out = []
    while True:
        f = w.recv()
        if f is None:
            return out
        out.append(f)


@pytest.mark.parametrize("node_args", [(), ("--experimental-permission", "--allow-fs-read=*")],
                         ids=["pipe-handle", "net-socket"])
def test_lines_logged_just_before_process_exit_are_not_lost(worker, node_args):
    """process.exit() in function code (or a library's) ends the worker before
    its next write: the lines logged before it, and those of the library's own
    'exit' listeners, still reach the host, as console output written to
    stdout would."""
    w = worker({"quit": {"function.json": {}, "index.js": QUIT_JS}}, node_args=node_args)
    w.load([http_fn("quit", w.app)])
    w.send(frame(INVOKE, 2, invoke("quit")))
    frames = frames_until_eof(w)
    assert w.proc.wait(10) == 3
    logs = [f[2]["message"] for f in frames if f[0] == LOG]
    assert logs == ["context line", "config missing", "exit listener saw 3"], frames


def test_lines_logged_by_a_module_that_exits_while_loading_are_not_lost(worker):
    js = "console.error('the setting DB_URL is missing');\nprocess.exit(1);\n"
    w = worker({"quit": {"function.json": {}, "index.js": js}})
    w.send(frame(READY, 0, {"protocol": 1}) +
           frame(LOAD, 0, {"appRoot": w.app, "functions": [http_fn("quit", w.app)]}))
    frames = frames_until_eof(w)
    assert w.proc.wait(10) == 1
    logs = [(f[1], f[2]["level"], f[2]["message"]) for f in frames if f[0] == LOG]
    assert (0, 4, "the setting DB_URL is missing") in logs, frames


def test_console_dir_and_group_are_lines_of_the_invocation_in_order(worker):
    """console.dir() (which Node writes to stdout itself) is a line of the
    invocation like console.log's, in its place among them; console.group()
    indents the lines logged inside it, as Node's console does."""
    js = ("module.exports = async function (context, req) {\n"
          "  console.log('first');\n"
          "  console.dir({ x: { y: { z: 1 } } }, { depth: 0 });\n"
          "  console.group('group');\n"
          "  console.log('one\\ntwo');\n"
          "  console.groupEnd();\n"
          "  console.log('last');\n"
          "};\n")
    w = worker({"dir": {"function.json": {}, "index.js": js}})
    w.load([http_fn("dir", w.app)])
    w.send(frame(INVOKE, 5, invoke("dir")))
    _, others = w.recv_type(RESULT)
    logs = [(f[1], f[2]["message"]) for f in others if f[0] == LOG]
    assert logs == [(5, "first"), (5, "{ x: [Object] }"), (5, "group"), (5, "  one\n  two"),
                    (5, "last")], others


def test_settings_of_load_reach_process_env(worker):
    js = "module.exports = async () => ({ body: String(process.env.GREETING) });\n"
    w = worker({"env": {"function.json": {}, "index.js": js}})
    w.send(frame(READY, 0, {"protocol": 1}) +
           frame(LOAD, 0, {"appRoot": w.app, "settings": {"GREETING": "Hi"},
                           "functions": [http_fn("env", w.app, out="$return")]}) +
           frame(INVOKE, 1, invoke("env")))
    (t, i, meta, body), _ = w.recv_type(RESULT)
    assert body == b"Hi"
    assert wait_for(lambda: w.proc.poll() is None, timeout=1)


# ---- results that cannot be sent as they are -------------------------------------------

ODD_JS = r"""
module.exports = async function (context, req) {
  const how = req.query.how;
  if (how === 'biglog') context.log('x'.repeat(5 * 1024 * 1024));
  if (how === 'circular') { const o = {}; o.self = o; context.bindings.out1 = o; }
  if (how === 'bigbody') return { body: 'y'.repeat(2000) };
  return { body: 'fine' };
};
"""


def test_results_and_logs_that_do_not_fit_a_frame(worker):
    w = worker({"odd": {"function.json": {}, "index.js": ODD_JS}})
    fn = http_fn("odd", w.app, out="$return")
    fn["bindings"].append({"type": "queue", "direction": "out", "name": "out1"})
    w.send(frame(READY, 0, {"protocol": 1, "maxMeta": 1 << 20, "maxBody": 1000}))
    w.load([fn])
    w.send(frame(INVOKE, 1, invoke("odd", "how=biglog")))
    (t, i, meta, body), others = w.recv_type(RESULT)
    assert meta["ok"] and body == b"fine", meta
    [log] = [f for f in others if f[0] == LOG]
    assert log[2]["message"].startswith("xxx") and "characters cut" in log[2]["message"]
    assert len(log[2]["message"]) < 200000
    w.send(frame(INVOKE, 2, invoke("odd", "how=circular")))
    (t, i, meta, body), _ = w.recv_type(RESULT)
    assert not meta["ok"] and "cannot be sent as JSON" in meta["error"], meta
    w.send(frame(INVOKE, 3, invoke("odd", "how=bigbody")))
    (t, i, meta, body), _ = w.recv_type(RESULT)
    assert not meta["ok"] and "too large" in meta["error"] and "1000" in meta["error"], meta
    w.send(frame(INVOKE, 4, invoke("odd")))
    (t, i, meta, body), _ = w.recv_type(RESULT)
    assert meta["ok"] and body == b"fine"


def test_a_thenable_that_is_not_a_native_promise_ends_the_invocation(worker):
    js = ("module.exports = function () {\n"
          "  return { then(ok) { setTimeout(() => ok({ body: 'thenable' }), 1); } };\n"
          "};\n")
    w = worker({"t": {"function.json": {}, "index.js": js}})
    w.load([http_fn("t", w.app, out="$return")])
    w.send(b"".join(frame(INVOKE, k, invoke("t")) for k in range(1, 4)))
    got = {}
    while len(got) < 3:
        (t, i, meta, body), _ = w.recv_type(RESULT)
        got[i] = (meta["ok"], body)
    assert got == {k: (True, b"thenable") for k in range(1, 4)}


# ---- trigger values, input bindings and binding data (Azure's v3 model) ----

BINDINGS_JS = r"""
module.exports = async function (context, item, doc, note) {
  const bd = context.bindingData;
  context.bindings.report = {
    item, itemType: typeof item, same: context.bindings.item === item,
    docIsBuffer: Buffer.isBuffer(doc), doc: doc ? doc.toString('utf8') : doc,
    docBytes: doc ? [...doc] : null,
    note, noteIsUndefined: note === undefined && 'note' in context.bindings,
    keys: Object.keys(bd).sort(), dequeueCount: bd.dequeueCount, id: bd.id,
    queueTrigger: bd.queueTrigger, props: bd.properties,
    sys: Object.keys(bd.sys).sort(), methodName: bd.sys.methodName,
    invocationId: bd.invocationId,
    retry: context.executionContext.retryContext,
  };
  context.bindings.many = ['one', Buffer.from([0, 255]), { n: 3 }];
};
"""


def bindings_fn(app, name, trigger, extra=()):
    return {"name": name, "directory": os.path.join(app, name), "bindings": [trigger] + [
        {"type": "blob", "direction": "in", "name": "doc", "path": "c/doc"},
        {"type": "blob", "direction": "in", "name": "note", "path": "c/note",
         "dataType": "string"},
        {"type": "queue", "direction": "out", "name": "report", "queueName": "r"},
        {"type": "queue", "direction": "out", "name": "many", "queueName": "m"}] + list(extra)}


def run_bindings(w, name, body, meta_extra):
    meta = {"function": name, "invocationId": "00000000-0000-4000-8000-0000000000aa"}
    meta.update(meta_extra)
    w.send(frame(INVOKE, 9, meta, body))
    (_, _, meta, rbody), _ = w.recv_type(RESULT)
    assert meta["ok"], meta
    assert rbody == b""
    return meta["outputs"]


def test_queue_trigger_value_is_parsed_json_and_binding_data_camel_cased(worker):
    w = worker({"q": {"function.json": {}, "index.js": BINDINGS_JS}})
    trig = {"type": "queueTrigger", "direction": "in", "name": "item", "queueName": "q"}
    assert w.load([bindings_fn(w.app, "q", trig)])["q"]["ok"]
    tm = {"Id": "a1b2", "DequeueCount": 3, "InsertionTime": "2026-11-27T10:15:30+00:00",
          "PopReceipt": "pr", "QueueTrigger": '{"order":42}',
          "Properties": {"ContentType": "x", "Nested": {"DeepKey": 1}}}
    inputs = {"doc": {"$binary": "AP8="}, "note": None}
    out = run_bindings(w, "q", b'{"order":42}', {"triggerMetadata": tm, "inputs": inputs,
                                                 "retryContext": {"retryCount": 1,
                                                                  "maxRetryCount": 4}})
    r = out["report"]
    assert r["item"] == {"order": 42} and r["itemType"] == "object" and r["same"]
    assert r["docIsBuffer"] and r["docBytes"] == [0, 255]
    assert "note" not in r and r["noteIsUndefined"]  # a blob that is not there: undefined, as in Azure
    assert r["keys"] == sorted(["invocationId", "id", "dequeueCount", "insertionTime",
                                "popReceipt", "queueTrigger", "properties", "sys"])
    assert r["dequeueCount"] == 3 and r["id"] == "a1b2"
    assert r["queueTrigger"] == {"order": 42}
    assert r["props"] == {"contentType": "x", "nested": {"deepKey": 1}}
    assert r["sys"] == ["methodName", "randGuid", "utcNow"] and r["methodName"] == "q"
    assert r["invocationId"] == "00000000-0000-4000-8000-0000000000aa"
    assert r["retry"] == {"retryCount": 1, "maxRetryCount": 4}
    assert out["many"] == ["one", {"$binary": "AP8="}, {"n": 3}]


def test_queue_trigger_text_numbers_and_string_blob_input(worker):
    w = worker({"q": {"function.json": {}, "index.js": BINDINGS_JS}})
    trig = {"type": "queueTrigger", "direction": "in", "name": "item", "queueName": "q"}
    w.load([bindings_fn(w.app, "q", trig)])
    r = run_bindings(w, "q", b"plain words", {"triggerMetadata": {"Id": "x"},
                                              "inputs": {"doc": "text blob", "note": "hi"}})
    r = r["report"]
    assert r["item"] == "plain words" and r["itemType"] == "string"
    assert r["docIsBuffer"] and r["doc"] == "text blob"
    assert r["note"] == "hi" and r["retry"] is None
    r = run_bindings(w, "q", b"42", {"triggerMetadata": {}, "inputs": {}})["report"]
    assert r["item"] == 42 and r["itemType"] == "number"


def test_timer_value_has_camel_case_keys(worker):
    js = r"""
module.exports = async function (context, myTimer) {
  return { pastDue: myTimer.isPastDue, keys: Object.keys(myTimer).sort(),
           last: myTimer.scheduleStatus && myTimer.scheduleStatus.last,
           adjust: myTimer.schedule.adjustForDST, same: context.bindings.myTimer === myTimer };
};
"""
    w = worker({"t": {"function.json": {}, "index.js": js}})
    fn = {"name": "t", "directory": os.path.join(w.app, "t"), "bindings": [
        {"type": "timerTrigger", "direction": "in", "name": "myTimer", "schedule": "0 * * * * *"},
        {"type": "queue", "direction": "out", "name": "$return", "queueName": "o"}]}
    w.load([fn])
    info = {"Schedule": {"AdjustForDST": True},
            "ScheduleStatus": {"Last": "2026-11-27T10:00:00+00:00", "Next": "n",
                               "LastUpdated": "u"}, "IsPastDue": True}
    w.send(frame(INVOKE, 3, {"function": "t", "invocationId": "i"}, json.dumps(info).encode()))
    (_, _, meta, _), _ = w.recv_type(RESULT)
    assert meta["ok"], meta
    assert meta["outputs"]["$return"] == {
        "pastDue": True, "keys": ["isPastDue", "schedule", "scheduleStatus"],
        "last": "2026-11-27T10:00:00+00:00", "adjust": True, "same": True}


def test_blob_trigger_is_a_buffer_and_blob_output_bytes(worker):
    js = r"""
module.exports = async function (context, myBlob) {
  context.log('blob', context.bindingData.blobTrigger, myBlob.length);
  context.bindings.copy = Buffer.concat([myBlob, Buffer.from([7])]);
  context.bindings.size = String(myBlob.length);
  return new Uint8Array([1, 2, 3]);
};
"""
    w = worker({"b": {"function.json": {}, "index.js": js}})
    fn = {"name": "b", "directory": os.path.join(w.app, "b"), "bindings": [
        {"type": "blobTrigger", "direction": "in", "name": "myBlob", "path": "in/{name}"},
        {"type": "blob", "direction": "out", "name": "copy", "path": "out/{name}"},
        {"type": "blob", "direction": "out", "name": "size", "path": "out/{name}.size"},
        {"type": "blob", "direction": "out", "name": "$return", "path": "out/{name}.ret"}]}
    w.load([fn])
    w.send(frame(INVOKE, 5, {"function": "b", "invocationId": "i", "triggerMetadata": {
        "BlobTrigger": "in/x.bin", "name": "x.bin", "Uri": "u"}}, b"\x00\xffab"))
    (_, _, meta, _), others = w.recv_type(RESULT)
    assert meta["ok"], meta
    assert meta["outputs"] == {"copy": {"$binary": "AP9hYgc="}, "size": "4",
                               "$return": {"$binary": "AQID"}}
    assert [f[2]["message"] for f in others if f[0] == LOG] == ["blob in/x.bin 4"]
