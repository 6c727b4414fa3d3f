#!/usr/bin/python3
"""bench/node_worker.py -- the Node.js worker shim alone: CPU time per
invocation of runtimes/node/worker.js driven over a socketpair with the
frame protocol (docs/worker-protocol.md), without the host or any HTTP.

The driver loads bench/apps/node-hello's function, then sends batches of
BATCH INVOKE frames (one write each, the metadata the host writes for
`wrk`'s GET /api/hello) and waits for the batch's RESULT frames before
sending the next, for DURATION seconds per round. The figure is the
worker's own CPU time (utime + stime from /proc; user time beside it) per
invocation, which
does not depend on how fast this driver is; invocations per second of
wall time are printed beside it. With taskset, the worker runs on CPU 1
and the driver on CPU 0.

Usage: /usr/bin/python3 bench/node_worker.py [SHIM_DIR ...]

Each SHIM_DIR is a folder holding worker.js (default: runtimes/node of
this tree); with several, the rounds alternate between them, which is how
to compare two versions of the shim on a noisy machine.

Environment: ROUNDS (5), DURATION (3 s), BATCH (16), WARMUP (20000
invocations), NODE_BIN (node on PATH), BENCH_NO_PIN=1 (no taskset),
NODE_PROF=DIR (run the worker with --cpu-prof, profiles written to DIR).

COUNT=1 counts instructions instead of timing, for differences too small
for a shared machine's noise: each shim's worker runs under valgrind's
callgrind with `node --single-threaded --random-seed=1 --hash-seed=1` and
without address-space randomisation (`setarch -R`), which makes the counts
repeat to a few hundred instructions. It prints the instructions from exec
to the first RESULT (READY, LOAD and one INVOKE written at once, as the
host does for a worker started by a request) over those of `node -e 0`,
and the instructions per invocation in steady state: the difference
between a run of COUNT_WARM (300) batches and one of COUNT_WARM +
COUNT_BATCHES (300) batches, so that compiling the hot code is left out.
Kernel time (system calls, page faults) is not counted.
"""
import json
import os
import re
import shutil
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
APP = os.path.join(ROOT, "bench", "apps", "node-hello")
HEADER = struct.Struct("<IIQII")
MAGIC = 0x53545201
HELLO, READY, LOAD, LOADED, INVOKE, RESULT, LOG = 1, 2, 3, 4, 5, 6, 7
TICK = os.sysconf("SC_CLK_TCK")


def env_int(name, default):
    v = os.environ.get(name, "")
    if not v:
        return default
    if not v.isdigit() or int(v) == 0:
        sys.exit("bench: error: %s must be a positive integer (got %r)" % (name, v))
    return int(v)


ROUNDS = env_int("ROUNDS", 5)
DURATION = env_int("DURATION", 3)
BATCH = env_int("BATCH", 16)
WARMUP = env_int("WARMUP", 20000)
COUNT = os.environ.get("COUNT", "") not in ("", "0")
COUNT_BATCHES = env_int("COUNT_BATCHES", 300)
COUNT_WARM = env_int("COUNT_WARM", 300)
COUNT_FLAGS = ["--single-threaded", "--random-seed=1", "--hash-seed=1"]
NODE = os.environ.get("NODE_BIN") or shutil.which("node") or shutil.which("nodejs")
PIN = not os.environ.get("BENCH_NO_PIN") and shutil.which("taskset") and os.cpu_count() >= 2


def frame(ftype, fid, meta, body=b""):
    return HEADER.pack(MAGIC, ftype, fid, len(meta), len(body)) + meta + body


class Worker:
    """node SHIM_DIR/worker.js on one end of a socketpair."""

    def __init__(self, shim, counted=False, code_cache=None, flags=()):
        ours, theirs = socket.socketpair()
        fd = theirs.fileno()
        env = dict(os.environ, STRATUS_WORKER_FD=str(fd), FUNCTIONS_WORKER_RUNTIME="node")
        argv = [NODE]
        prof = os.environ.get("NODE_PROF")
        if prof:
            argv += ["--cpu-prof", "--cpu-prof-dir", prof]
        if counted:
            argv = callgrind_argv() + argv + COUNT_FLAGS
        else:
            argv += list(flags)
        argv.append(os.path.join(shim, "worker.js"))
        if code_cache:
            argv += ["--code-cache", code_cache]
        if PIN:
            argv = ["taskset", "-c", "1"] + argv
        self.proc = subprocess.Popen(argv, cwd=APP, pass_fds=(fd,), env=env,
                                     stdin=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE if counted else None)
        theirs.close()
        self.sock = ours
        self.buf = bytearray()

    def frames(self):
        """Whole frames received so far as (type, id, meta bytes), removed."""
        out = []
        pos = 0
        buf = self.buf
        while len(buf) - pos >= 24:
            magic, t, i, ml, bl = HEADER.unpack_from(buf, pos)
            if magic != MAGIC:
                sys.exit("bench: error: bad frame from the worker")
            end = pos + 24 + ml + bl
            if end > len(buf):
                break
            out.append((t, i, bytes(buf[pos + 24:pos + 24 + ml])))
            pos = end
        del buf[:pos]
        return out

    def recv(self):
        data = self.sock.recv(1 << 20)
        if not data:
            sys.exit("bench: error: the worker closed its socket")
        self.buf += data

    def wait_type(self, ftype):
        while True:
            for t, _, meta in self.frames():
                if t == ftype:
                    return json.loads(meta or b"{}")
            self.recv()

    def cpu_ticks(self):
        with open("/proc/%d/stat" % self.proc.pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[11]), int(fields[12])

    def close(self):
        self.sock.close()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def load_frames():
    fn = os.path.join(APP, "hello")
    with open(os.path.join(fn, "function.json")) as f:
        bindings = json.load(f)["bindings"]
    load = {"appRoot": APP, "settings": {}, "functions": [
        {"name": "hello", "directory": fn, "scriptFile": os.path.join(fn, "index.js"),
         "bindings": bindings}]}
    return frame(READY, 0, b'{"protocol":1}') + frame(LOAD, 0, json.dumps(load).encode())


def start(shim):
    w = Worker(shim)
    w.sock.settimeout(30)
    w.wait_type(HELLO)
    w.sock.sendall(load_frames())
    loaded = w.wait_type(LOADED)
    if not loaded["functions"][0].get("ok"):
        sys.exit("bench: error: the worker could not load hello: %r" % loaded)
    return w


# ---- COUNT=1: instructions instead of time -------------------------------------

def callgrind_argv():
    return ["setarch", "-R", "valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null"]


def collected(stderr, what):
    m = re.search(rb"Collected : (\d+)", stderr)
    if not m:
        sys.exit("bench: error: no instruction count from callgrind for %s:\n%s" %
                 (what, stderr[-2000:].decode(errors="replace")))
    return int(m.group(1))


def count_floor():
    argv = callgrind_argv() + [NODE] + COUNT_FLAGS + ["-e", "0"]
    r = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return collected(r.stderr, "node -e 0")


def count_worker(shim, batches, code_cache=None):
    """Instructions of one worker: LOAD and one INVOKE written at once, then
    `batches` batches, then end of file."""
    w = Worker(shim, counted=True, code_cache=code_cache)
    w.sock.settimeout(600)
    w.sock.sendall(load_frames() + frame(INVOKE, 1, META % b"1b4e28ba-2fa1-41d2-883f-000000000000"))
    w.wait_type(RESULT)
    run_batches(w, batch_bytes(), count=batches * BATCH)
    w.sock.close()
    _, err = w.proc.communicate(timeout=600)
    return collected(err, shim)


def prime_cache(shim, code_cache):
    """Run the shim once, with the node flags of the counted runs (V8 takes
    code only from a cache made under the same flags), until it has written
    its code cache (worker.js does a second after it compiled something the
    cache did not hold)."""
    w = Worker(shim, code_cache=code_cache, flags=COUNT_FLAGS)
    w.sock.settimeout(30)
    w.sock.sendall(load_frames() + frame(INVOKE, 1, META % b"1b4e28ba-2fa1-41d2-883f-000000000000"))
    w.wait_type(RESULT)
    deadline = time.monotonic() + 10
    while not os.path.exists(code_cache) and time.monotonic() < deadline:
        time.sleep(0.1)
    w.close()
    if not os.path.exists(code_cache):
        sys.exit("bench: error: %s wrote no code cache to %s" % (shim, code_cache))


def count_main(shims):
    for tool in ("valgrind", "setarch"):
        if not shutil.which(tool):
            sys.exit("bench: error: COUNT=1 needs %s (Debian package %s)" %
                     (tool, "valgrind" if tool == "valgrind" else "util-linux"))
    floor = count_floor()
    print("node_worker: instructions (callgrind; node %s; %s; setarch -R)" % (
        subprocess.run([NODE, "--version"], capture_output=True, text=True).stdout.strip(),
        " ".join(COUNT_FLAGS)))
    print("node -e 0: %.1f M instructions" % (floor / 1e6))
    print("%-32s %16s %16s %16s" % ("shim", "start over -e 0", "with code cache",
                                     "per invocation"))
    tmp = tempfile.mkdtemp(prefix="node-worker-bench.")
    try:
        for i, s in enumerate(shims):
            cache = os.path.join(tmp, "%d.cache" % i)
            start_up = count_worker(s, 0)
            prime_cache(s, cache)
            start_cached = count_worker(s, 0, code_cache=cache)
            warm = count_worker(s, COUNT_WARM)
            more = count_worker(s, COUNT_WARM + COUNT_BATCHES)
            print("%-32s %+14.1f M %+14.1f M %16.0f" % (
                s[-32:], (start_up - floor) / 1e6, (start_cached - floor) / 1e6,
                (more - warm) / (COUNT_BATCHES * BATCH)))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# What the host writes for wrk's `GET /api/hello` (src/runtimes/pool_worker.c).
META = (b'{"function":"hello","invocationId":"%s","deadlineMs":300000,"http":{"method":"GET",'
        b'"url":"http://127.0.0.1:41234/api/hello","path":"/api/hello","query":"",'
        b'"headers":[["Host","127.0.0.1:41234"]],"params":{}}}')


def batch_bytes():
    return b"".join(frame(INVOKE, i + 1, META % (b"1b4e28ba-2fa1-41d2-883f-%012d" % i))
                    for i in range(BATCH))


def run_batches(w, data, until=None, count=None):
    """Send batches until the deadline or count; returns invocations done."""
    n = 0
    while (until is None or time.monotonic() < until) and (count is None or n < count):
        w.sock.sendall(data)
        got = 0
        while got < BATCH:
            w.recv()
            for t, _, meta in w.frames():
                if t == RESULT:
                    if not meta.startswith(b'{"ok":true'):
                        sys.exit("bench: error: the worker answered %r" % meta)
                    got += 1
        n += BATCH
    return n


def main():
    if os.sys.platform != "linux":
        sys.exit("bench: error: needs Linux (/proc)")
    if not NODE:
        sys.exit("bench: error: node not found (set NODE_BIN)")
    shims = [os.path.abspath(a) for a in sys.argv[1:]] or [os.path.join(ROOT, "runtimes", "node")]
    for s in shims:
        if not os.path.isfile(os.path.join(s, "worker.js")):
            sys.exit("bench: error: no worker.js in %s" % s)
    if PIN:
        os.sched_setaffinity(0, {0})
    if COUNT:
        count_main(shims)
        return
    data = batch_bytes()
    workers = [start(s) for s in shims]
    for w in workers:
        w.sock.settimeout(30)
        run_batches(w, data, count=WARMUP)
    print("node_worker: %s, batch %d, %d rounds of %d s, %s" % (
        subprocess.run([NODE, "--version"], capture_output=True, text=True).stdout.strip(),
        BATCH, ROUNDS, DURATION, "worker on CPU 1, driver on CPU 0" if PIN else "not pinned"))
    print("%-6s %-40s %12s %12s %12s" % ("round", "shim", "invoke/s", "worker us", "of it user"))
    res = {s: [] for s in shims}
    for r in range(1, ROUNDS + 1):
        for s, w in zip(shims, workers):
            c0 = w.cpu_ticks()
            t0 = time.monotonic()
            n = run_batches(w, data, until=t0 + DURATION)
            t1 = time.monotonic()
            c1 = w.cpu_ticks()
            user = (c1[0] - c0[0]) / TICK * 1e6 / n
            us = user + (c1[1] - c0[1]) / TICK * 1e6 / n
            res[s].append((n / (t1 - t0), us, user))
            print("%-6d %-40s %12.0f %12.2f %12.2f" % (r, s[-40:], n / (t1 - t0), us, user))
    print()
    for s in shims:
        rates = [x[0] for x in res[s]]
        uss = [x[1] for x in res[s]]
        print("%-6s %-40s %12.0f %12.2f %12.2f   (worker us: min %.2f, max %.2f)" % (
            "median", s[-40:], statistics.median(rates), statistics.median(uss),
            statistics.median([x[2] for x in res[s]]), min(uss), max(uss)))
    for w in workers:
        w.close()


if __name__ == "__main__":
    main()
