"""A stand-in for the host's side of the worker protocol, for testing the
Python worker (runtimes/python/worker.py) on its own: starts the worker on
one end of a socketpair exactly as the host does (descriptor named by
STRATUS_WORKER_FD, cwd at the app root, settings in the environment) and
sends and reads frames.

    w = Worker(app_dir)
    w.handshake([fn("hello")])            # HELLO, READY, LOAD -> LOADED
    res, logs = w.invoke("hello", http=http_req("GET", "/api/hello"))
"""
import json
import os
import select
import socket
import struct
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
WORKER = os.path.join(ROOT, "runtimes", "python", "worker.py")
PYTHON = os.environ.get("STRATUS_TEST_PYTHON") or sys.executable

MAGIC = 0x53545201
HEADER = struct.Struct("<IIQII")
(HELLO, READY, LOAD, LOADED, INVOKE, RESULT, LOG,
 CANCEL, PING, PONG, SHUTDOWN) = range(1, 12)


def frame(ftype, fid=0, meta=None, body=b""):
    m = b"" if meta is None else json.dumps(meta).encode()
    return HEADER.pack(MAGIC, ftype, fid, len(m), len(body)) + m + body


def http_req(method, path, query="", headers=None, params=None, host="localhost:7071"):
    """An INVOKE `http` object as the host builds it."""
    url = "http://%s%s%s" % (host, path, "?" + query if query else "")
    return {"method": method, "url": url, "path": path, "query": query,
            "headers": [["Host", host]] + [list(h) for h in (headers or [])],
            "params": params or {}}


def http_fn(name, app, extra_bindings=(), out="$return", script=None, entry=None):
    """A LOAD function entry with an httpTrigger named req and an http out."""
    d = os.path.join(app, name)
    f = {"name": name, "directory": d,
         "bindings": [{"type": "httpTrigger", "direction": "in", "name": "req"},
                      {"type": "http", "direction": "out", "name": out}] + list(extra_bindings)}
    if script:
        f["scriptFile"] = os.path.join(d, script)
    if entry:
        f["entryPoint"] = entry
    return f


def write_fn(app, name, code, filename="__init__.py"):
    d = os.path.join(app, name)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, filename), "w") as f:
        f.write(code)


class Frame:
    def __init__(self, ftype, fid, meta, body):
        self.type = ftype
        self.id = fid
        self.meta = meta
        self.body = body

    def __repr__(self):
        return "Frame(%d, %d, %r, %r)" % (self.type, self.id, self.meta, self.body[:60])


class Worker:
    def __init__(self, app, env=None, python=None):
        self.app = app
        host_end, worker_end = socket.socketpair()
        e = dict(os.environ)
        e.pop("PYTHONPATH", None)
        e.update({"STRATUS_WORKER_FD": str(worker_end.fileno()), "STRATUS_WORKER_ID": "1",
                  "STRATUS_APP_ROOT": app, "FUNCTIONS_WORKER_RUNTIME": "python"})
        e.update(env or {})
        self.out_path = os.path.join(app, ".worker-output.txt")
        out = open(self.out_path, "wb")
        self.proc = subprocess.Popen([python or PYTHON, WORKER], cwd=app, env=e,
                                     pass_fds=(worker_end.fileno(),), stdin=subprocess.DEVNULL,
                                     stdout=out, stderr=subprocess.STDOUT)
        out.close()
        worker_end.close()
        self.sock = host_end
        self.buf = b""
        self.pending = []
        self.loading = []   # the functions the worker said it was loading, in order
        self.next_id = 1

    def output(self):
        with open(self.out_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def send(self, data):
        self.sock.sendall(data)

    def recv(self, timeout=20):
        """The next frame; AssertionError on timeout or end of file."""
        if self.pending:
            return self.pending.pop(0)
        deadline = time.time() + timeout
        while True:
            if len(self.buf) >= HEADER.size:
                magic, ftype, fid, mlen, blen = HEADER.unpack_from(self.buf)
                assert magic == MAGIC, "bad magic %#x in %r" % (magic, self.buf[:40])
                end = HEADER.size + mlen + blen
                if len(self.buf) >= end:
                    meta = json.loads(self.buf[HEADER.size:HEADER.size + mlen] or b"{}")
                    f = Frame(ftype, fid, meta, self.buf[HEADER.size + mlen:end])
                    self.buf = self.buf[end:]
                    if ftype == LOG and meta.get("category") == "Worker.Loading":
                        self.loading.append(meta.get("message"))  # load progress
                        continue
                    return f
            left = deadline - time.time()
            assert left > 0, "no frame from the worker in %ss; output:\n%s" % (timeout,
                                                                              self.output())
            r, _, _ = select.select([self.sock], [], [], left)
            if r:
                chunk = self.sock.recv(1 << 20)
                assert chunk, "worker closed the socket; output:\n" + self.output()
                self.buf += chunk

    def expect(self, ftype, fid=None, timeout=20):
        """Read frames until one of ftype (and id) arrives; others are kept."""
        skipped = []
        try:
            while True:
                f = self.recv(timeout)
                if f.type == ftype and (fid is None or f.id == fid):
                    return f
                skipped.append(f)
        finally:
            self.pending = skipped + self.pending

    def handshake(self, functions, settings=None):
        hello = self.recv()
        assert hello.type == HELLO, hello
        self.hello = hello
        self.send(frame(READY, 0, {"protocol": 1, "workerId": 1, "concurrency": 64,
                                   "maxMeta": 1 << 20, "maxBody": 256 << 20}) +
                  frame(LOAD, 0, {"appRoot": self.app, "settings": settings or {},
                                  "functions": functions}))
        loaded = self.expect(LOADED)
        self.loaded = {e["name"]: e for e in loaded.meta["functions"]}
        return self.loaded

    def start_invoke(self, function, http=None, body=b"", extra=None):
        """Send an INVOKE; returns its id."""
        fid = self.next_id
        self.next_id += 1
        meta = {"function": function, "invocationId": "00000000-0000-4000-8000-%012d" % fid}
        if http is not None:
            meta["http"] = http
        meta.update(extra or {})
        self.send(frame(INVOKE, fid, meta, body))
        return fid

    def result(self, fid, timeout=20):
        """(RESULT frame, LOG frames of fid before it)."""
        logs = []
        while True:
            f = self.recv(timeout)
            if f.type == RESULT and f.id == fid:
                return f, logs
            if f.type == LOG and f.id == fid:
                logs.append(f)
            else:
                self.pending_other = getattr(self, "pending_other", []) + [f]

    def invoke(self, function, http=None, body=b"", extra=None, timeout=20):
        return self.result(self.start_invoke(function, http, body, extra), timeout)

    def wait(self, timeout=20):
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass
        if self.proc.poll() is None:
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
