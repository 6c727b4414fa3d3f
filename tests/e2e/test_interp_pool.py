"""The host side of the interpreter runtimes, with a stand-in interpreter.

languageWorkers__python__defaultExecutablePath names the interpreter the
host runs as `<interpreter> -u <shim>`; here it is a small stdlib-only
program (FAKE_WORKER) that speaks the worker protocol itself and ignores the
shim, so these tests pin down what the host does whatever the shim does:
concurrent invocations on one worker, a cancelled invocation on a
concurrent worker (its worker survives when it ends the invocation, and is
replaced when it does not), a hello for another runtime, placeholders of
interpreter workers, results with many headers, and a missing interpreter.
"""
import concurrent.futures
import json
import stat
import time

from conftest import wait_for

FAKE_WORKER = r'''#!/usr/bin/env python3
import json, os, select, socket, struct, sys, time
MAGIC = 0x53545201
H = struct.Struct("<IIQII")
HELLO, READY, LOAD, LOADED, INVOKE, RESULT, LOG, CANCEL, PING, PONG, SHUTDOWN = range(1, 12)
MODE = os.environ.get("FAKE_MODE", "obey")          # obey | ignore
RUNTIME = os.environ.get("FAKE_RUNTIME", "python")

def frame(t, i=0, meta=None, body=b""):
    m = b"" if meta is None else json.dumps(meta).encode()
    return H.pack(MAGIC, t, i, len(m), len(body)) + m + body

sock = socket.socket(fileno=int(os.environ["STRATUS_WORKER_FD"]))
sock.sendall(frame(HELLO, 0, {"runtime": RUNTIME, "protocol": 1, "pid": os.getpid(),
                              "concurrency": 16}))
pending, due = bytearray(), {}   # due: id -> (time, frame)
while True:
    now = time.monotonic()
    wait = min([t for t, _ in due.values()], default=now + 3600) - now
    r, _, _ = select.select([sock], [], [], max(0.0, wait))
    out = []
    if r:
        data = sock.recv(1 << 16)
        if not data:
            break
        pending += data
        pos = 0
        while len(pending) - pos >= H.size:
            magic, t, i, ml, bl = H.unpack_from(pending, pos)
            end = pos + H.size + ml + bl
            if len(pending) < end:
                break
            meta = json.loads(pending[pos + H.size:end - bl] or b"{}")
            pos = end
            if t == LOAD:
                out.append(frame(LOADED, 0, {"functions": [{"name": f["name"], "ok": True}
                                                           for f in meta["functions"]]}))
            elif t == INVOKE:
                q = dict(p.split("=", 1) for p in meta["http"]["query"].split("&") if "=" in p)
                ms = int(q.get("ms", "0"))
                hdrs = [["X-Pid", str(os.getpid())]]
                hdrs += [["X-H%d" % k, "v%d" % k] for k in range(int(q.get("headers", "0")))]
                res = frame(RESULT, i, {"ok": True, "status": 200, "headers": hdrs},
                            b"done %d\n" % ms)
                due[i] = (time.monotonic() + ms / 1000.0, res)
            elif t == CANCEL and MODE == "obey" and i in due:
                del due[i]
                out.append(frame(RESULT, i, {"ok": False, "error": "cancelled"}))
            elif t == PING:
                out.append(frame(PONG, i))
            elif t == SHUTDOWN:
                sys.exit(0)
        del pending[:pos]
    now = time.monotonic()
    for i in [i for i, (t, _) in due.items() if t <= now]:
        out.append(due.pop(i)[1])
    if out:
        sock.sendall(b"".join(out))
'''

FN_JSON = {"bindings": [
    {"authLevel": "anonymous", "type": "httpTrigger", "direction": "in", "name": "req"},
    {"type": "http", "direction": "out", "name": "$return"}]}


def fake_app(tmp_path, mode="obey", runtime="python", timeout="00:00:01", prewarm=True,
             interpreter=None):
    app = tmp_path / "app"
    (app / "slow").mkdir(parents=True)
    (app / "slow" / "function.json").write_text(json.dumps(FN_JSON))
    (app / "slow" / "__init__.py").write_text("def main(req):\n    return 'unused'\n")
    fake = tmp_path / "fake-python"
    fake.write_text(FAKE_WORKER.replace("/usr/bin/env python3", "/usr/bin/python3"))
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    (app / "host.json").write_text(json.dumps({
        "version": "2.0", "functionTimeout": timeout,
        "stratus": {"scale": {"maxInstances": 1, "prewarm": prewarm}}}))
    (app / "local.settings.json").write_text(json.dumps({"IsEncrypted": False, "Values": {
        "FUNCTIONS_WORKER_RUNTIME": "python",
        "languageWorkers__python__defaultExecutablePath": interpreter or str(fake),
        "FAKE_MODE": mode, "FAKE_RUNTIME": runtime}}))
    return str(app)


def scale(h):
    return json.loads(h.get("/admin/host/scale").text)["apps"][0]


def test_many_invocations_in_flight_on_one_worker(tmp_path, start_host):
    h = start_host(fake_app(tmp_path, timeout="00:00:30"))
    t0 = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(8) as ex:
        rs = list(ex.map(lambda i: h.get("/api/slow?ms=1000", timeout=30), range(8)))
    took = time.monotonic() - t0
    assert [r.status for r in rs] == [200] * 8, [(r.status, r.text) for r in rs]
    assert len({r.header("X-Pid") for r in rs}) == 1
    assert took < 6, took  # concurrently on one worker, not one after another (8 s)


def test_cancelled_invocation_ended_by_the_worker_keeps_it(tmp_path, start_host):
    h = start_host(fake_app(tmp_path, mode="obey"))
    pid = h.get("/api/slow?ms=0").header("X-Pid")
    with concurrent.futures.ThreadPoolExecutor(2) as ex:
        slow = ex.submit(h.get, "/api/slow?ms=5000", timeout=30)
        time.sleep(0.2)
        other = ex.submit(h.get, "/api/slow?ms=1500", timeout=30)
        r = slow.result()
        o = other.result()
    assert r.status == 504, r.text
    assert "functionTimeout" in r.text
    # the other invocation on the same worker also passed the 1 s timeout:
    # it was cancelled and answered 504 on its own; the worker stayed
    assert o.status == 504
    time.sleep(0.5)
    r2 = h.get("/api/slow?ms=0")
    assert r2.status == 200 and r2.header("X-Pid") == pid, h.log()[-3000:]
    assert "did not end within" not in h.log()


def test_cancelled_invocation_not_ended_gets_the_worker_replaced(tmp_path, start_host):
    h = start_host(fake_app(tmp_path, mode="ignore"))
    pid = h.get("/api/slow?ms=0").header("X-Pid")
    r = h.get("/api/slow?ms=60000", timeout=30)
    assert r.status == 504
    assert wait_for(lambda: "did not end within 2000 ms of its cancellation" in h.log(),
                    timeout=15), h.log()[-3000:]
    r2 = h.get("/api/slow?ms=0", timeout=30)
    assert r2.status == 200 and r2.header("X-Pid") != pid


def test_fast_invocations_beside_a_timed_out_one_succeed(tmp_path, start_host):
    h = start_host(fake_app(tmp_path, mode="obey", timeout="00:00:02"))
    with concurrent.futures.ThreadPoolExecutor(4) as ex:
        slow = ex.submit(h.get, "/api/slow?ms=10000", timeout=30)
        fast = [ex.submit(h.get, "/api/slow?ms=300", timeout=30) for _ in range(3)]
        assert slow.result().status == 504
        assert [f.result().status for f in fast] == [200] * 3


def test_hello_for_another_runtime_is_refused(tmp_path, start_host):
    """A worker that says it serves another runtime is killed, and that counts
    as a crash: the next ones start after a growing delay, not in a loop."""
    h = start_host(fake_app(tmp_path, runtime="node"), wait=False)
    assert wait_for(lambda: "serves the runtime 'node', not 'python'" in h.log(), timeout=15), \
        h.log()[-3000:]
    assert wait_for(lambda: "crashes in a row; starting workers again in" in h.log(),
                    timeout=15), h.log()[-3000:]
    time.sleep(2)
    kills = h.log().count("serves the runtime 'node', not 'python'")
    assert kills < 15, "%d workers killed in a loop:\n%s" % (kills, h.log()[-2000:])


def test_placeholders_of_interpreter_workers(tmp_path, start_host):
    h = start_host(fake_app(tmp_path, prewarm=2))
    assert wait_for(lambda: scale(h)["placeholders"] == 2, timeout=15), scale(h)
    s = scale(h)
    assert s["runtime"] == "python"


def test_result_with_many_headers(tmp_path, start_host):
    h = start_host(fake_app(tmp_path))
    out = h.raw(b"GET /api/slow?ms=0&headers=120 HTTP/1.1\r\nHost: x\r\n"
                b"Connection: close\r\n\r\n")
    assert out.startswith(b"HTTP/1.1 200 "), out[:300]
    assert b"\r\nX-H0: v0\r\n" in out and b"\r\nX-H119: v119\r\n" in out, out[:300]


def test_result_with_too_many_headers_fails_whole(tmp_path, start_host):
    """200 headers: more tokens than the first parse holds, and more headers
    than a response may have: a clear 500, never a response missing some."""
    h = start_host(fake_app(tmp_path))
    r = h.get("/api/slow?ms=0&headers=200")
    assert r.status == 500, r.text
    assert wait_for(lambda: "the response has more than 128 headers" in h.log(), timeout=5)
    assert h.get("/api/slow?ms=0").status == 200


def test_missing_interpreter_is_a_clear_start_error(tmp_path, start_host):
    app = fake_app(tmp_path, interpreter=str(tmp_path / "no-such-python"))
    h = start_host(app, wait=False)
    assert wait_for(lambda: h.proc.poll() is not None, timeout=15)
    log = h.log()
    assert "languageWorkers__python__defaultExecutablePath" in log, log
    assert "no-such-python" in log and "is not an executable file" in log, log


def test_hello_concurrency_caps_in_flight(tmp_path, start_host):
    """The stand-in says concurrency 16 in its hello; perInstanceConcurrency
    is 64: the host keeps at most 16 invocations on it at once."""
    h = start_host(fake_app(tmp_path, timeout="00:00:30"))
    assert h.get("/api/slow?ms=0").status == 200   # the hello has been read
    seen = []
    with concurrent.futures.ThreadPoolExecutor(30) as ex:
        futs = [ex.submit(h.get, "/api/slow?ms=1500", timeout=60) for _ in range(24)]
        deadline = time.monotonic() + 1.2
        while time.monotonic() < deadline:
            s = scale(h)
            seen.append((s["inFlight"], s["queueLength"]))
            time.sleep(0.05)
        assert [f.result().status for f in futs] == [200] * 24
    assert max(i for i, _ in seen) == 16, seen
    assert max(q for _, q in seen) > 0, seen
