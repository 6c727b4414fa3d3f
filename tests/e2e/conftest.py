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
