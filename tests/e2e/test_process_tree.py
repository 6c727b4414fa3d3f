"""No process the host started outlives it, grandchildren included: a custom
handler that is a shell script starting its server, a Lambda bootstrap that
starts a helper, a Python function that starts a subprocess. The host is
killed (SIGKILL), stopped (SIGTERM), interrupted as a terminal's Ctrl-C
does (SIGINT to its process group), and the handler's own process dies;
each time the grandchild must be gone, and for a handler on a fixed port a
new handler (or a new host) must be able to take the port.

The grandchildren ignore SIGTERM, as a server does that shuts down slowly:
only the host's group kill, or the guardian's after the host died, ends
them. Every wait polls with a deadline; no test measures time. Processes
left by a failing test are killed at teardown, by their pid."""
import json
import os
import signal
import stat
import subprocess
import sys

import pytest

from conftest import BIN, free_port, sanitizer_report, wait_for, write_app

PY = sys.executable

# The server a shell script starts: on the port it is given, its pid in
# server.pid (in the app folder), SIGTERM ignored. GET /pid answers its
# pid; GET /crash kills the script that started it (the handler process).
SERVER_PY = r'''
import http.server, os, signal, sys
signal.signal(signal.SIGTERM, signal.SIG_IGN)
port = int(sys.argv[1])

class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = str(os.getpid()).encode()
        if self.path == "/crash":
            os.kill(os.getppid(), signal.SIGKILL)
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass

srv = http.server.HTTPServer(("127.0.0.1", port), H)
with open("server.pid.tmp", "w") as f:
    f.write(str(os.getpid()))
os.rename("server.pid.tmp", "server.pid")
srv.serve_forever()
'''

# The handler: a shell that starts the server in the background and waits,
# as `npm start` or a start script does.
START_SH = '''#!/bin/sh
%s server.py "$FUNCTIONS_CUSTOMHANDLER_PORT" &
wait
''' % PY


def handler_app(root, port):
    host = {"version": "2.0", "configurationProfile": "mcp-custom-handler",
            "customHandler": {"description": {"defaultExecutablePath": "/bin/sh",
                                              "arguments": ["start.sh"]},
                              "http": {"DefaultAuthorizationLevel": "anonymous"},
                              "port": str(port)}}
    settings = {"IsEncrypted": False, "Values": {"FUNCTIONS_WORKER_RUNTIME": "custom"}}
    return write_app(root, {}, host=host, settings=settings,
                     files={"start.sh": START_SH, "server.py": SERVER_PY})


def alive(pid):
    """pid runs (a zombie is dead: process 1 may be slow to reap it)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def read_pid(path, old=None):
    try:
        with open(path) as f:
            pid = int(f.read().strip())
    except (OSError, ValueError):
        return None
    return pid if pid != old else None


@pytest.fixture
def reap():
    """reap(pid): killed at teardown if still alive (a failed test's orphan)."""
    pids = []
    yield pids.append
    for pid in pids:
        if alive(pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass


@pytest.fixture
def launch(tmp_path):
    """launch(app, new_session=False) -> Popen of `stratus start` on a free
    port; new_session makes it lead a process group, as a shell's foreground
    job in a terminal does. Stopped at teardown."""
    procs = []

    def start(app, new_session=False):
        n = len(procs)
        port_file = str(tmp_path / ("port%d" % n))
        log = open(str(tmp_path / ("host%d.log" % n)), "wb")
        env = dict(os.environ)
        env.pop("STRATUS_MASTER_KEY", None)
        env["NO_COLOR"] = "1"
        p = subprocess.Popen([BIN, "start", app, "--port", "0", "--listen", "127.0.0.1",
                              "--port-file", port_file], stdout=log, stderr=subprocess.STDOUT,
                             env=env, start_new_session=new_session)
        log.close()
        p.log_path = str(tmp_path / ("host%d.log" % n))
        procs.append(p)
        assert wait_for(lambda: os.path.exists(port_file) or p.poll() is not None, 60)
        assert p.poll() is None, open(p.log_path).read()
        with open(port_file) as f:
            p.port = int(f.read().strip())
        return p

    yield start
    for p in procs:
        if p.poll() is None:
            p.terminate()
            try:
                p.wait(15)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
    for p in procs:
        with open(p.log_path, errors="replace") as f:
            text = f.read()
        assert not sanitizer_report(text), "sanitizer report:\n" + text[-4000:]


def get(port, path, timeout=10):
    import http.client
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        c.request("GET", path)
        r = c.getresponse()
        return r.status, r.read().decode()
    finally:
        c.close()


def server_pid(host):
    """The pid the handler's server answers with (retried while it starts)."""
    def ask():
        try:
            status, body = get(host.port, "/pid")
        except OSError:
            return None
        return int(body) if status == 200 else None
    pid = wait_for(ask, timeout=60)
    assert pid, open(host.log_path).read()
    return pid


def log_of(host):
    with open(host.log_path) as f:
        return f.read()


def test_sigkill_of_the_host_ends_the_handlers_children(tmp_path, launch, reap):
    port = free_port()
    app = handler_app(tmp_path / "app", port)
    host = launch(app)
    pid = server_pid(host)
    reap(pid)
    assert pid == read_pid(os.path.join(app, "server.pid"))
    host.kill()
    host.wait()
    assert wait_for(lambda: not alive(pid), timeout=30), \
        "the handler's server (pid %d) outlived the host killed with SIGKILL" % pid
    # The fixed port is free again: a new host's handler takes it and serves.
    host2 = launch(app)
    pid2 = server_pid(host2)
    reap(pid2)
    assert pid2 != pid
    host2.terminate()
    assert host2.wait(30) == 0
    assert wait_for(lambda: not alive(pid2), timeout=30), log_of(host2)


@pytest.mark.parametrize("how", ["sigterm", "ctrl-c"])
def test_stopping_the_host_ends_the_handlers_children(tmp_path, launch, reap, how):
    # SIGTERM: the handler's group gets SIGTERM; the shell dies of it, its
    # server ignores it and must go with the shell. Ctrl-C in a terminal
    # signals the foreground group, the host's alone: the handler runs in a
    # session of its own, and the host stops it as for SIGTERM.
    port = free_port()
    app = handler_app(tmp_path / "app", port)
    host = launch(app, new_session=(how == "ctrl-c"))
    pid = server_pid(host)
    reap(pid)
    if how == "ctrl-c":
        os.killpg(host.pid, signal.SIGINT)
    else:
        host.terminate()
    assert host.wait(60) == 0, log_of(host)
    assert wait_for(lambda: not alive(pid), timeout=30), \
        "the handler's server (pid %d) outlived the host's stop:\n%s" % (pid, log_of(host))
    host2 = launch(app)
    pid2 = server_pid(host2)
    reap(pid2)
    assert pid2 != pid


def test_a_handler_that_dies_takes_its_children_and_restarts(tmp_path, launch, reap):
    # The handler's shell dies (killed); its server, left behind, would keep
    # the fixed port and answer in place of the restarted handler.
    port = free_port()
    app = handler_app(tmp_path / "app", port)
    host = launch(app)
    pid = server_pid(host)
    reap(pid)
    try:
        get(host.port, "/crash")
    except OSError:
        pass
    assert wait_for(lambda: not alive(pid), timeout=30), \
        "the server (pid %d) outlived its handler process:\n%s" % (pid, log_of(host))
    pid2 = server_pid(host)
    reap(pid2)
    assert pid2 != pid
    assert read_pid(os.path.join(app, "server.pid")) == pid2


def guardian_of(host_pid):
    """The pid of the host's running process guardian (`worker --guard`), or None."""
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            with open("/proc/%s/cmdline" % d, "rb") as f:
                args = f.read().split(b"\0")
        except (OSError, IndexError, ValueError):
            continue
        if ppid == host_pid and b"--guard" in args and alive(int(d)):
            return int(d)
    return None


def test_a_killed_guardian_is_replaced_even_when_it_dies_young(tmp_path, launch, reap):
    # The guardian is killed (SIGKILL, as the out-of-memory killer does),
    # and its replacement too, just after it started. No process starts
    # after that: a new guardian must come all the same, and do its work
    # when the host is killed.
    port = free_port()
    app = handler_app(tmp_path / "app", port)
    host = launch(app)
    pid = server_pid(host)
    reap(pid)
    seen = []
    for _ in range(2):
        g = wait_for(lambda: (lambda x: x if x and x not in seen else None)(guardian_of(host.pid)),
                     timeout=30)
        assert g, "no new process guardian after %s:\n%s" % (seen, log_of(host))
        reap(g)
        seen.append(g)
        os.kill(g, signal.SIGKILL)
    g = wait_for(lambda: (lambda x: x if x and x not in seen else None)(guardian_of(host.pid)),
                 timeout=30)
    assert g, "no new process guardian after %s:\n%s" % (seen, log_of(host))
    reap(g)
    assert get(host.port, "/pid") == (200, str(pid))
    host.kill()
    host.wait()
    assert wait_for(lambda: not alive(pid), timeout=30), \
        "the handler's server (pid %d) outlived the host killed with SIGKILL" % pid
    assert wait_for(lambda: not alive(g), timeout=30)


# ---- a Lambda bootstrap that starts a helper ----

RUNTIME_PY = r'''
import http.client, json, os
host, port = os.environ["AWS_LAMBDA_RUNTIME_API"].split(":")
c = http.client.HTTPConnection(host, int(port), timeout=600)
base = "/2018-06-01/runtime/invocation/"
while True:
    c.request("GET", base + "next")
    r = c.getresponse()
    r.read()
    rid = r.getheader("Lambda-Runtime-Aws-Request-Id")
    with open("helper.pid") as f:
        helper = f.read().strip()
    body = json.dumps({"statusCode": 200, "body": helper})
    c.request("POST", base + rid + "/response", body)
    c.getresponse().read()
'''

# The helper ignores SIGTERM and lives on its own (a cache, a sidecar); the
# shell then becomes the runtime (exec), as wrapper scripts do.
BOOTSTRAP_SH = '''#!/bin/sh
cd "$(dirname "$0")"
%s -c 'import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(3600)' &
echo $! > helper.pid.tmp && mv helper.pid.tmp helper.pid
exec %s runtime.py
''' % (PY, PY)


def test_a_lambda_bootstraps_helper_dies_with_a_killed_host(tmp_path, launch, reap):
    trig = {"type": "httpTrigger", "direction": "in", "name": "req", "authLevel": "anonymous"}
    fj = {"entryPoint": "main.handler",
          "bindings": [trig, {"type": "http", "direction": "out", "name": "res"}]}
    app = write_app(tmp_path / "lambda", {"hello": {"function.json": fj}},
                    host={"version": "2.0"},
                    settings={"IsEncrypted": False,
                              "Values": {"FUNCTIONS_WORKER_RUNTIME": "lambda"}},
                    files={"bootstrap": BOOTSTRAP_SH, "runtime.py": RUNTIME_PY})
    path = os.path.join(app, "bootstrap")
    os.chmod(path, os.stat(path).st_mode | stat.S_IXUSR)
    host = launch(app)
    status, body = get(host.port, "/api/hello")
    assert status == 200, body + log_of(host)
    helper = int(body)
    reap(helper)
    assert alive(helper)
    host.kill()
    host.wait()
    assert wait_for(lambda: not alive(helper), timeout=30), \
        "the bootstrap's helper (pid %d) outlived the host killed with SIGKILL" % helper


# ---- a worker's subprocess ----

SPAWN_PY = r'''
import signal, subprocess, sys
import azure.functions as func

def main(req: func.HttpRequest) -> func.HttpResponse:
    p = subprocess.Popen([sys.executable, "-c", "import signal, time; "
                          "signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(3600)"])
    return func.HttpResponse(str(p.pid))
'''


def test_a_python_functions_subprocess_dies_with_a_killed_host(tmp_path, launch, reap):
    trig = {"authLevel": "anonymous", "type": "httpTrigger", "direction": "in", "name": "req"}
    fj = {"bindings": [trig, {"type": "http", "direction": "out", "name": "$return"}]}
    app = write_app(tmp_path / "py", {"spawn": {"function.json": fj, "__init__.py": SPAWN_PY}},
                    host={"version": "2.0"},
                    settings={"IsEncrypted": False,
                              "Values": {"FUNCTIONS_WORKER_RUNTIME": "python"}})
    host = launch(app)
    status, body = get(host.port, "/api/spawn", timeout=60)
    assert status == 200, body + log_of(host)
    child = int(body)
    reap(child)
    assert alive(child)
    host.kill()
    host.wait()
    assert wait_for(lambda: not alive(child), timeout=30), \
        "the function's subprocess (pid %d) outlived the host killed with SIGKILL" % child
