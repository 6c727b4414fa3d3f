"""End-to-end test fixtures: write an app into a temporary folder, start the
real stratus binary on a free loopback port, and talk to it over HTTP.

    def test_hello(make_app, start_host):
        app = make_app({"hello": HELLO_FN})
        host = start_host(app)
        assert host.get("/api/hello").status == 200
"""
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.environ.get("STRATUS_BIN") or os.path.join(ROOT, "stratus")

HOST_JSON = {"version": "2.0"}
SETTINGS = {"IsEncrypted": False, "Values": {"FUNCTIONS_WORKER_RUNTIME": "native"}}

# A C function that echoes what it was given: handy for most tests.
ECHO_C = r"""
#include <stratus.h>
#include <string.h>
int echo(stratus_ctx *ctx)
{
    size_t n;
    const char *body = stratus_req_body(ctx, &n);
    const char *p = stratus_req_param(ctx, "id");
    const char *q = stratus_req_query(ctx, "q");
    const char *h = stratus_req_header(ctx, "X-Test");
    const char *status = stratus_req_query(ctx, "status");
    if (status) stratus_res_status(ctx, atoi(status));
    stratus_res_header(ctx, "Content-Type", "text/plain");
    stratus_res_header(ctx, "X-Method", stratus_req_method(ctx));
    stratus_res_printf(ctx, "method=%s path=%s id=%s q=%s h=%s len=%zu\n",
                       stratus_req_method(ctx), stratus_req_path(ctx), p ? p : "-",
                       q ? q : "-", h ? h : "-", n);
    stratus_res_body(ctx, body, n);
    return 0;
}
"""
ECHO_C = ECHO_C.replace("#include <string.h>", "#include <string.h>\n#include <stdlib.h>")


def http_fn(name="echo", source=ECHO_C, route=None, methods=None, auth="anonymous",
            extra=None, entry=None):
    """A function folder description: function.json plus its C source."""
    trig = {"authLevel": auth, "type": "httpTrigger", "direction": "in", "name": "req"}
    if methods is not None:
        trig["methods"] = methods
    if route is not None:
        trig["route"] = route
    fj = {"scriptFile": name + ".so",
          "bindings": [trig, {"type": "http", "direction": "out", "name": "res"}]}
    if entry:
        fj["entryPoint"] = entry
    if extra:
        fj.update(extra)
    src = source
    if entry is None and name != "echo" and source is ECHO_C:
        src = source.replace("int echo(", "int %s(" % name.replace("-", "_"))
        if "-" in name:
            fj["entryPoint"] = name.replace("-", "_")
    return {"function.json": fj, name + ".c": src}


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    @property
    def text(self):
        return self.body.decode("utf-8", "replace")

    def json(self):
        return json.loads(self.body)

    def header(self, name):
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None


class Host:
    def __init__(self, proc, port, app, log_path):
        self.proc = proc
        self.port = port
        self.app = app
        self.log_path = log_path

    def request(self, method, path, body=None, headers=None, timeout=10):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            r = conn.getresponse()
            return Response(r.status, r.getheaders(), r.read())
        finally:
            conn.close()

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, body=b"", **kw):
        return self.request("POST", path, body=body, **kw)

    def raw(self, data, timeout=5, read_until_close=True):
        """Send raw bytes on a fresh connection; return what came back."""
        s = socket.create_connection(("127.0.0.1", self.port), timeout=timeout)
        try:
            s.sendall(data)
            out = b""
            while True:
                try:
                    chunk = s.recv(65536)
                except socket.timeout:
                    break
                if not chunk:
                    break
                out += chunk
                if not read_until_close:
                    break
            return out
        finally:
            s.close()

    def log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def alive(self):
        return self.proc.poll() is None

    def stop(self, sig=signal.SIGTERM, timeout=15):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


@pytest.fixture
def make_app(tmp_path):
    """make_app({"fn": http_fn(...)}, host=None, settings=None) -> app dir."""

    def make(functions, host=None, settings=None, files=None):
        app = tmp_path / "app"
        app.mkdir(exist_ok=True)
        (app / "host.json").write_text(json.dumps(HOST_JSON if host is None else host)
                                       if not isinstance(host, str) else host)
        if settings is not False:
            (app / "local.settings.json").write_text(
                json.dumps(SETTINGS if settings is None else settings)
                if not isinstance(settings, str) else settings)
        for name, content in functions.items():
            d = app / name
            d.mkdir(exist_ok=True)
            for fname, data in content.items():
                if isinstance(data, (dict, list)):
                    data = json.dumps(data)
                (d / fname).write_text(data)
        for rel, data in (files or {}).items():
            p = app / rel
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(data)
        return str(app)

    return make


@pytest.fixture
def start_host(tmp_path):
    """start_host(app, *args, env=None, mode="start") -> Host (stopped at teardown)."""
    hosts = []

    def start(app, *args, env=None, mode="start", wait=True):
        port_file = str(tmp_path / ("port%d" % len(hosts)))
        log_path = str(tmp_path / ("host%d.log" % len(hosts)))
        e = dict(os.environ)
        e.pop("STRATUS_MASTER_KEY", None)
        e["NO_COLOR"] = "1"
        if env:
            e.update(env)
        cmd = [BIN, mode, app, "--port", "0", "--listen", "127.0.0.1", "--port-file",
               port_file] + list(args)
        log = open(log_path, "wb")
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=e)
        log.close()
        deadline = time.time() + 60
        port = None
        while time.time() < deadline:
            if proc.poll() is not None:
                break
            try:
                with open(port_file) as f:
                    port = int(f.read().strip())
                break
            except (OSError, ValueError):
                time.sleep(0.02)
        host = Host(proc, port, app, log_path)
        hosts.append(host)
        if wait and port is None:
            raise AssertionError("host did not start:\n" + host.log())
        return host

    yield start
    for h in hosts:
        h.stop()
        rc = h.proc.returncode
        if os.environ.get("STRATUS_SANITIZE") and rc not in (0, None):
            # A sanitizer report makes the host exit non-zero: surface it.
            text = h.log()
            if "Sanitizer" in text or "runtime error" in text:
                raise AssertionError("sanitizer report:\n" + text[-4000:])


def master_key(app):
    with open(os.path.join(app, ".stratus", "secrets", "host.json")) as f:
        return json.load(f)["masterKey"]["value"]


def function_key(app, fn):
    with open(os.path.join(app, ".stratus", "secrets", fn.lower() + ".json")) as f:
        return json.load(f)["keys"][0]["value"]


class RawConn:
    """A raw client socket reading HTTP/1.1 responses one at a time, for
    tests that need byte-level control (pipelining, chunked, malformed)."""

    def __init__(self, port, timeout=20):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.timeout = timeout
        self.buf = b""

    def send(self, data):
        self.sock.sendall(data)

    def close(self):
        self.sock.close()

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise EOFError("connection closed by the server; unread: %r" % self.buf[:200])
        self.buf += chunk

    def read_until(self, marker):
        while marker not in self.buf:
            self._fill()
        i = self.buf.index(marker) + len(marker)
        out, self.buf = self.buf[:i], self.buf[i:]
        return out

    def read_exact(self, n):
        while len(self.buf) < n:
            self._fill()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def read_response(self, head=False):
        """One response: Response with .version and .reason added. head=True
        for a response to HEAD (no body whatever Content-Length says)."""
        raw = self.read_until(b"\r\n\r\n")
        lines = raw[:-4].decode("latin-1").split("\r\n")
        version, status, reason = (lines[0].split(" ", 2) + [""])[:3]
        headers = []
        for line in lines[1:]:
            k, _, v = line.partition(":")
            headers.append((k, v.strip()))
        resp = Response(int(status), headers, b"")
        resp.version = version
        resp.reason = reason
        te = resp.header("Transfer-Encoding")
        cl = resp.header("Content-Length")
        if head or resp.status < 200 or resp.status in (204, 304):
            pass
        elif te and "chunked" in te.lower():
            body = b""
            while True:
                size = int(self.read_until(b"\r\n").split(b";")[0].strip(), 16)
                if size == 0:
                    while self.read_until(b"\r\n") != b"\r\n":
                        pass
                    break
                body += self.read_exact(size)
                self.read_exact(2)
            resp.body = body
        elif cl is not None:
            resp.body = self.read_exact(int(cl))
        else:
            while True:
                try:
                    self._fill()
                except EOFError:
                    break
            resp.body, self.buf = self.buf, b""
        return resp

    def wait_closed(self, timeout):
        """Wait up to timeout seconds for the server to close. Returns
        (closed, extra bytes received meanwhile)."""
        deadline = time.time() + timeout
        extra = self.buf
        self.buf = b""
        try:
            while True:
                left = deadline - time.time()
                if left <= 0:
                    return False, extra
                self.sock.settimeout(left)
                try:
                    chunk = self.sock.recv(65536)
                except socket.timeout:
                    return False, extra
                if not chunk:
                    return True, extra
                extra += chunk
        except (ConnectionResetError, BrokenPipeError):
            return True, extra
        finally:
            self.sock.settimeout(self.timeout)


# ---- helpers for module-scoped hosts (test_routes, test_auth, test_admin,
# test_app_errors, test_cli): one host per module instead of one per test ----

SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
                     "SUMMARY: AddressSanitizer", "SUMMARY: UndefinedBehaviorSanitizer",
                     "runtime error:")


def sanitizer_report(text):
    """True when text holds a sanitizer report."""
    return any(m in text for m in SANITIZER_MARKERS)


def write_app(root, functions, host=None, settings=None, files=None):
    """make_app's work into folder root (created as needed); returns str(root)."""
    root = str(root)
    os.makedirs(root, exist_ok=True)
    with open(os.path.join(root, "host.json"), "w") as f:
        f.write(host if isinstance(host, str) else json.dumps(HOST_JSON if host is None else host))
    if settings is not False:
        with open(os.path.join(root, "local.settings.json"), "w") as f:
            f.write(settings if isinstance(settings, str)
                    else json.dumps(SETTINGS if settings is None else settings))
    for name, content in functions.items():
        d = os.path.join(root, name)
        os.makedirs(d, exist_ok=True)
        for fname, data in content.items():
            if isinstance(data, (dict, list)):
                data = json.dumps(data)
            with open(os.path.join(d, fname), "w") as f:
                f.write(data)
    for rel, data in (files or {}).items():
        p = os.path.join(root, rel)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "w") as f:
            f.write(data)
    return root


def free_port():
    """A loopback port free now (for a server that must be told its port)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_for(predicate, timeout=30, interval=0.05):
    """Poll predicate() until it returns something true; return that (or None)."""
    deadline = time.time() + timeout
    while True:
        v = predicate()
        if v or time.time() >= deadline:
            return v
        time.sleep(interval)


class HostGroup:
    """Hosts started from one work folder and stopped together (see module_hosts)."""

    def __init__(self, workdir):
        self.workdir = str(workdir)
        self.hosts = []

    def spawn(self, app, *args, env=None, mode="start"):
        """Start a host without waiting for it (see ready())."""
        n = len(self.hosts)
        port_file = os.path.join(self.workdir, "port%d" % n)
        log_path = os.path.join(self.workdir, "host%d.log" % n)
        e = dict(os.environ)
        e.pop("STRATUS_MASTER_KEY", None)
        e["NO_COLOR"] = "1"
        if env:
            e.update(env)
        cmd = [BIN, mode, app, "--port", "0", "--listen", "127.0.0.1", "--port-file",
               port_file] + list(args)
        with open(log_path, "wb") as log:
            proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=e)
        host = Host(proc, None, app, log_path)
        host.port_file = port_file
        self.hosts.append(host)
        return host

    @staticmethod
    def ready(host, timeout=90):
        """Wait for a spawned host's port; AssertionError with its log if it dies."""
        deadline = time.time() + timeout
        while host.port is None and time.time() < deadline:
            try:
                with open(host.port_file) as f:
                    host.port = int(f.read().strip())
                break
            except (OSError, ValueError):
                if host.proc.poll() is not None:
                    break
                time.sleep(0.02)
        if host.port is None:
            raise AssertionError("host did not start:\n" + host.log())
        return host

    def start(self, app, *args, env=None, mode="start"):
        return self.ready(self.spawn(app, *args, env=env, mode=mode))

    def stop_all(self):
        reports = []
        for h in self.hosts:
            h.stop()
            if os.environ.get("STRATUS_SANITIZE") and h.proc.returncode not in (0, None):
                text = h.log()
                if sanitizer_report(text) or "Sanitizer" in text:
                    reports.append(text[-4000:])
        self.hosts = []
        if reports:
            raise AssertionError("sanitizer report:\n" + "\n----\n".join(reports))


@pytest.fixture(scope="module")
def module_hosts(tmp_path_factory):
    """A HostGroup whose hosts live for the whole module: .start(app, *args,
    env=None, mode="start") -> Host, .spawn()/.ready() to start several at once,
    .workdir for app folders. Sanitizer reports fail the module's teardown."""
    group = HostGroup(tmp_path_factory.mktemp("hosts"))
    yield group
    group.stop_all()
