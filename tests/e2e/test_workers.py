"""Isolated workers for native functions (host.json stratus.native.inProcess:
false): crash recovery and back-off, functionTimeout, per-worker limits and
isolation, the scale controller (scale from zero, scale out, queueing, 429,
scale back to minInstances), parity with in-process mode, worker output in
the log, admin invocation, graceful and abrupt host exits.

Every test starts its own host: workers are killed, crash and scale on
purpose, so no state is shared. Nothing here measures performance; the only
time bounds are those the issue asks for (a 2 s functionTimeout fails within
10 s; workers die within ~2 s of their host), and they are generous enough
for the sanitizer build.
"""
import concurrent.futures
import http.client
import json
import os
import re
import signal
import subprocess
import threading
import time

import pytest

from conftest import BIN, Host, http_fn, sanitizer_report, wait_for, write_app

SANITIZE = bool(os.environ.get("STRATUS_SANITIZE"))
UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


# ---- function sources --------------------------------------------------------------

HELLO_C = r"""
#include <stratus.h>
#include <unistd.h>
int hello(stratus_ctx *ctx)
{
    stratus_res_header(ctx, "Content-Type", "text/plain");
    stratus_res_printf(ctx, "hello from pid=%d\n", (int)getpid());
    return 0;
}
"""

# Crashes the way ?how= says: a NULL write, abort(), exit(3), after ?ms=.
CRASH_C = r"""
#include <stratus.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
int crash(stratus_ctx *ctx)
{
    const char *how = stratus_req_query(ctx, "how");
    const char *ms = stratus_req_query(ctx, "ms"); /* wait first */
    if (ms) {
        struct timespec d = {atol(ms) / 1000, (atol(ms) % 1000) * 1000000L};
        while (nanosleep(&d, &d) != 0) {
        }
    }
    if (!how)
        how = "segv";
    if (!strcmp(how, "segv")) {
        volatile int *p = (volatile int *)0;
        *p = 42;
    } else if (!strcmp(how, "abort")) {
        abort();
    } else if (!strcmp(how, "exit")) {
        exit(3);
    }
    stratus_res_printf(ctx, "did not crash\n");
    return 0;
}
"""

# Like HELLO_C, but its shared object aborts while being loaded whenever
# the file named by $CRASH_MARKER exists: a worker that can never start.
HELLO_CRASH_ON_LOAD_C = r"""
#include <stratus.h>
#include <stdlib.h>
#include <unistd.h>
__attribute__((constructor)) static void crash_on_load(void)
{
    const char *m = getenv("CRASH_MARKER");
    if (m && access(m, F_OK) == 0)
        abort();
}
int hello(stratus_ctx *ctx)
{
    stratus_res_printf(ctx, "hello from pid=%d\n", (int)getpid());
    return 0;
}
"""

# Sleeps ?ms= (default 300) and reports its pid and when it ran
# (CLOCK_MONOTONIC ns, shared by all processes) for overlap counting.
SLOW_C = r"""
#include <stratus.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
static long long now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}
int slow(stratus_ctx *ctx)
{
    const char *ms = stratus_req_query(ctx, "ms");
    long v = ms ? atol(ms) : 300;
    long long start = now_ns();
    struct timespec d = {v / 1000, (v % 1000) * 1000000L};
    while (nanosleep(&d, &d) != 0) {
    }
    stratus_res_printf(ctx, "pid=%d start=%lld end=%lld\n", (int)getpid(), start, now_ns());
    return 0;
}
"""

HANG_C = r"""
#include <stratus.h>
#include <unistd.h>
int hang(stratus_ctx *ctx)
{
    (void)ctx;
    for (int i = 0; i < 600; i++)
        sleep(1);
    return 0;
}
"""

# Allocates and touches up to 256 MB in 4 MB blocks. When malloc fails (an
# address-space rlimit) it says where; when everything fits it holds the
# memory for a while (so the host's resident-memory watch can see it).
HOG_C = r"""
#include <stratus.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#define BLOCK (4u << 20)
#define NBLOCKS 64
int hog(stratus_ctx *ctx)
{
    void *blocks[NBLOCKS];
    int got = 0;
    for (; got < NBLOCKS; got++) {
        void *p = malloc(BLOCK);
        if (!p)
            break;
        memset(p, 0x5a, BLOCK);
        blocks[got] = p;
    }
    if (got == NBLOCKS)
        sleep(5);
    for (int i = 0; i < got; i++)
        free(blocks[i]);
    if (got < NBLOCKS)
        stratus_res_printf(ctx, "limited at %d MB\n", got * 4);
    else
        stratus_res_printf(ctx, "allocated %d MB\n", got * 4);
    return 0;
}
"""

# Everything a function can see of its request, in a fixed order, plus
# response headers and status of its own, and log lines.
PROBE_C = r"""
#include <stratus.h>
#include <stdlib.h>
#include <string.h>
#define S(x) ((x) ? (x) : "(null)")
int probe(stratus_ctx *ctx)
{
    size_t n, tn;
    const char *body = stratus_req_body(ctx, &n);
    const char *td = stratus_trigger_data(ctx, &tn);
    const char *status = stratus_req_query(ctx, "status");
    const char *q = stratus_req_query(ctx, "q");
    if (status)
        stratus_res_status(ctx, atoi(status));
    stratus_res_header(ctx, "Content-Type", "text/plain; charset=utf-8");
    stratus_res_header(ctx, "X-Probe", "yes");
    stratus_res_header(ctx, "X-Multi", "one");
    stratus_res_header(ctx, "X-Multi", "two");
    if (stratus_req_query(ctx, "latin"))
        stratus_res_header(ctx, "X-Latin", "caf\xe9");
    const char *echo = stratus_req_header(ctx, "X-Echo");
    if (echo)
        stratus_res_header(ctx, "X-Echo-Back", echo);
    stratus_res_printf(ctx, "fn=%s\nmethod=%s\npath=%s\nqs=%s\nq=%s\n",
                       stratus_function_name(ctx), stratus_req_method(ctx),
                       stratus_req_path(ctx), stratus_req_query_string(ctx), S(q));
    stratus_res_printf(ctx, "id=%s\nname=%s\n", S(stratus_req_param(ctx, "id")),
                       S(stratus_req_param(ctx, "name")));
    const char *hn, *hv;
    for (size_t i = 0; stratus_req_header_at(ctx, i, &hn, &hv) == 0; i++)
        stratus_res_printf(ctx, "header[%zu]=%s: %s\n", i, hn, hv);
    stratus_res_printf(ctx, "x-test=%s\n", S(stratus_req_header(ctx, "x-test")));
    stratus_res_printf(ctx, "setting=%s\n", S(stratus_setting(ctx, "PROBE_SETTING")));
    stratus_res_printf(ctx, "bodylen=%zu triggerlen=%zu same=%d\n", n, tn,
                       n == tn && memcmp(body, td, n) == 0);
    stratus_res_body(ctx, body, n);
    stratus_log(ctx, STRATUS_LOG_INFO, "probe-log method=%s q=%s id=%s", stratus_req_method(ctx),
                S(q), S(stratus_req_param(ctx, "id")));
    stratus_log(ctx, STRATUS_LOG_WARN, "probe-warn len=%zu", n);
    return q && !strcmp(q, "fail") ? 7 : 0;
}
"""

# Writes to its stdout and stderr; the invocation id goes in the body.
OUTPUT_C = r"""
#include <stratus.h>
#include <stdio.h>
int output(stratus_ctx *ctx)
{
    const char *id = stratus_invocation_id(ctx);
    fprintf(stderr, "stderr-marker %s\n", id);
    printf("flushed-stdout-marker %s\n", id);
    fflush(stdout);
    printf("plain-stdout-marker %s\n", id);
    stratus_res_printf(ctx, "%s", id);
    return 0;
}
"""

# Records its trigger data (the admin API's "input") and pid to a file.
RECORD_C = r"""
#include <stratus.h>
#include <stdio.h>
#include <unistd.h>
int record(stratus_ctx *ctx)
{
    size_t n;
    const char *data = stratus_trigger_data(ctx, &n);
    const char *path = stratus_setting(ctx, "RECORD_FILE");
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f)
        return 1;
    fprintf(f, "pid=%d id=%s input=%.*s", (int)getpid(), stratus_invocation_id(ctx), (int)n, data);
    fclose(f);
    rename(tmp, path);
    stratus_log(ctx, STRATUS_LOG_INFO, "record-log input=%.*s", (int)n, data);
    return 0;
}
"""

# Compiles, but defines no symbol named after the function.
NO_ENTRY_C = r"""
#include <stratus.h>
int something_else(stratus_ctx *ctx) { (void)ctx; return 0; }
"""


# ---- helpers -----------------------------------------------------------------------

def host_json(in_process=False, min_instances=0, max_instances=4, concurrency=64,
              idle="00:05:00", memory_mb=1024, timeout="00:00:30", max_outstanding=None,
              max_concurrent=None):
    h = {"version": "2.0",
         "stratus": {"native": {"inProcess": in_process},
                     "scale": {"minInstances": min_instances, "maxInstances": max_instances,
                               "perInstanceConcurrency": concurrency, "idleTimeout": idle},
                     "worker": {"memoryLimitMB": memory_mb}},
         "functionTimeout": timeout}
    http_ext = {}
    if max_outstanding is not None:
        http_ext["maxOutstandingRequests"] = max_outstanding
    if max_concurrent is not None:
        http_ext["maxConcurrentRequests"] = max_concurrent
    if http_ext:
        h["extensions"] = {"http": http_ext}
    return h


def fns(**sources):
    """fns(hello=HELLO_C, ...) -> make_app's functions argument."""
    return {name: http_fn(name, source=src) for name, src in sources.items()}


def scale(h):
    r = h.get("/admin/host/scale")
    assert r.status == 200, r.text
    apps = r.json()["apps"]
    assert len(apps) == 1, apps
    return apps[0]


def status(h):
    r = h.get("/admin/host/status")
    assert r.status == 200, r.text
    return r.json()


def worker_pids(h):
    return [w["pid"] for w in scale(h)["workers"]]


def ready_workers(h, n):
    """Wait until exactly n workers are up and none is starting; their pids."""
    def check():
        s = scale(h)
        ws = s["workers"]
        if s["instances"] == n and len(ws) == n and all(w["state"] in ("idle", "busy")
                                                        for w in ws):
            return [w["pid"] for w in ws]
        return None
    pids = wait_for(check, timeout=30)
    assert pids, "expected %d ready worker(s): %r\n%s" % (n, scale(h), h.log()[-3000:])
    return pids


def proc_state(pid):
    """The /proc state letter of pid, or None when there is no such process."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return None


def worker_alive(pid):
    """True while pid is a live (not zombie) stratus worker process."""
    if proc_state(pid) in (None, "Z", "X"):
        return False
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            argv = f.read().split(b"\0")
    except OSError:
        return False
    return b"worker" in argv


def is_fork_server(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return b"--fork-server" in f.read()
    except OSError:
        return False


def is_guardian(pid):
    """The host's process guardian (`stratus worker --guard`): no worker."""
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return b"\0--guard" in f.read()
    except OSError:
        return False


def parent_of(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return int(f.read().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


def child_workers(host_pid):
    """Pids of the live `stratus worker` processes of host_pid, found in /proc:
    its children and the children of its fork server (placeholder workers
    included, which /admin/host/scale does not list; the fork server and the
    process guardian excluded: they run no user code)."""
    servers = set()
    out = []
    pids = [int(n) for n in os.listdir("/proc") if n.isdigit()]
    for pid in pids:
        if parent_of(pid) == host_pid and worker_alive(pid) and not is_guardian(pid):
            if is_fork_server(pid):
                servers.add(pid)
            else:
                out.append(pid)
    for pid in pids:
        if parent_of(pid) in servers and worker_alive(pid):
            out.append(pid)
    return out


def proc_status_field(pid, field):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            if k == field:
                return v.strip()
    return None


def address_space_limit(pid):
    with open("/proc/%d/limits" % pid) as f:
        for line in f:
            if line.startswith("Max address space"):
                return line.split()[3]  # the soft limit
    return None


def read_text(path):
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except OSError:
        return None


def parallel(fn, args):
    """fn(arg) for every arg at once, in threads; results in order."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=len(args)) as ex:
        return list(ex.map(fn, args))


class ScaleWatcher:
    """Polls /admin/host/scale in a thread, keeping every snapshot."""

    def __init__(self, host, interval=0.02):
        self.host = host
        self.interval = interval
        self.snapshots = []
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self):
        while not self.stop_event.is_set():
            try:
                self.snapshots.append(scale(self.host))
            except (OSError, http.client.HTTPException, AssertionError, ValueError):
                pass  # a transient failure; the assertions use what was seen
            time.sleep(self.interval)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop_event.set()
        self.thread.join(10)

    def max(self, key):
        return max((s[key] for s in self.snapshots), default=0)


def slow_intervals(responses):
    """[(pid, start_ns, end_ns)] from SLOW_C bodies."""
    out = []
    for r in responses:
        m = re.match(r"pid=(\d+) start=(\d+) end=(\d+)", r.text)
        assert m, r.text
        out.append((int(m.group(1)), int(m.group(2)), int(m.group(3))))
    return out


def max_overlap(intervals):
    events = []
    for _, start, end in intervals:
        events.append((start, 1))
        events.append((end, -1))
    events.sort(key=lambda e: (e[0], e[1]))  # an end before a start at the same instant
    cur = best = 0
    for _, d in events:
        cur += d
        best = max(best, cur)
    return best


def invocation_id_of_failure(r):
    """The invocation id of a failed invocation: in the body and (when sent)
    the x-invocation-id header, which must agree."""
    m = UUID_RE.search(r.text)
    assert m, r.text
    hdr = r.header("x-invocation-id")
    assert hdr is None or hdr == m.group(0), (hdr, r.text)
    return m.group(0)


def log_line_with(h, *needles, timeout=15):
    def find():
        return next((ln for ln in h.log().splitlines() if all(n in ln for n in needles)), None)
    line = wait_for(find, timeout=timeout)
    assert line, "no log line with %r:\n%s" % (needles, h.log()[-4000:])
    return line


# ---- crashes -----------------------------------------------------------------------

@pytest.mark.parametrize("how", ["segv", "abort", "exit"])
def test_crash_fails_invocation_and_worker_is_replaced(make_app, start_host, how):
    app = make_app(fns(crash=CRASH_C, hello=HELLO_C),
                   host=host_json(min_instances=1, max_instances=1))
    h = start_host(app)
    [pid0] = ready_workers(h, 1)

    r = h.get("/api/crash?how=" + how, timeout=30)
    assert r.status == 500, (r.status, r.text)
    inv = invocation_id_of_failure(r)
    assert "Function 'crash' failed" in r.text, r.text
    assert "worker" in r.text, r.text
    log_line_with(h, "Executed 'Functions.crash' (Failed, Id=%s" % inv)

    # minInstances 1: a new worker replaces the dead one at once
    [pid1] = ready_workers(h, 1)
    assert pid1 != pid0
    assert wait_for(lambda: not worker_alive(pid0), timeout=10), pid0

    r = h.get("/api/hello", timeout=30)
    assert r.status == 200, r.text
    assert r.text == "hello from pid=%d\n" % pid1
    assert h.get("/api/crash?how=none", timeout=30).status == 200
    assert h.alive()


def test_invocations_waiting_behind_a_crash_go_to_the_next_worker(make_app, start_host):
    """A native worker runs one invocation at a time; those sent to it while
    it runs wait in the host. When it crashes, only the running one fails:
    the ones it never received go to the next worker."""
    app = make_app(fns(crash=CRASH_C, hello=HELLO_C),
                   host=host_json(min_instances=1, max_instances=1))
    h = start_host(app)
    [pid0] = ready_workers(h, 1)
    with concurrent.futures.ThreadPoolExecutor(4) as ex:
        crash = ex.submit(h.get, "/api/crash?how=abort&ms=700", timeout=30)
        time.sleep(0.3)
        hellos = [ex.submit(h.get, "/api/hello", timeout=30) for _ in range(3)]
        assert crash.result().status == 500
        rs = [f.result() for f in hellos]
    assert [r.status for r in rs] == [200] * 3, [(r.status, r.text) for r in rs]
    assert all(r.text != "hello from pid=%d\n" % pid0 for r in rs), [r.text for r in rs]


def test_repeated_crashes_back_off_and_are_reported(make_app, start_host):
    app = make_app(fns(crash=CRASH_C, hello=HELLO_C),
                   host=host_json(min_instances=0, max_instances=1))
    h = start_host(app)
    assert h.get("/api/hello").status == 200

    crashes = 5
    for i in range(crashes):
        r = h.get("/api/crash?how=abort", timeout=60)
        assert r.status == 500, (i, r.status, r.text)
        invocation_id_of_failure(r)
    st = status(h)
    log = h.log()
    # each crash is described as one, not as a deliberate stop
    crashed = set(re.findall(r"worker (\d+) \(pid \d+\) crashed", log))
    assert len(crashed) == crashes, log[-3000:]
    # from the second crash in a row, restarts wait: 100 ms, doubling
    delays = [int(d) for d in re.findall(r"crashes in a row; starting workers again in (\d+) ms",
                                         log)]
    assert len(delays) == crashes - 1, log[-3000:]
    assert delays == sorted(delays) and delays[-1] > delays[0], delays
    # and /admin/host/status says so
    assert "workers" in st, "no 'workers' object in /admin/host/status: %r" % st
    w = st["workers"]
    assert w["crashes"] == crashes, w
    assert w["consecutiveCrashes"] == crashes, w
    assert w["lastCrash"] and "pid" in w["lastCrash"], w
    assert w["restartDelayMs"] > 0, w  # 800 ms after the fifth

    # a request during the back-off waits for the worker, then succeeds
    r = h.get("/api/hello", timeout=60)
    assert r.status == 200, r.text
    w = status(h)["workers"]
    assert w["consecutiveCrashes"] == 0 and w["crashes"] == crashes, w


def test_worker_crashing_at_start_is_not_restarted_in_a_busy_loop(make_app, start_host, tmp_path):
    marker = str(tmp_path / "crash-marker")
    app = make_app(fns(hello=HELLO_CRASH_ON_LOAD_C),
                   host=host_json(min_instances=1, max_instances=2))
    h = start_host(app, env={"CRASH_MARKER": marker})
    [pid0] = ready_workers(h, 1)
    with open(marker, "w") as f:
        f.write("1")
    os.kill(pid0, signal.SIGKILL)  # a crash; every replacement now dies while loading
    time.sleep(3)
    log = h.log()
    seqs = [int(s) for s in re.findall(r"[Ww]orker (\d+) \(pid \d+\)", log)]
    started = max(seqs) if seqs else 0
    # with back-off from 100 ms doubling, about 6 starts fit in 3 s; a busy
    # loop makes hundreds
    assert started <= 20, "%d workers started in 3 s:\n%s" % (started, log[-3000:])
    assert "crashes in a row" in log, log[-3000:]
    st = status(h)
    assert "workers" in st, st
    assert 2 <= st["workers"]["consecutiveCrashes"] <= 20, st["workers"]

    os.unlink(marker)
    assert h.alive()
    r = h.get("/api/hello", timeout=60)
    assert r.status == 200, r.text
    assert ready_workers(h, 1)


# ---- functionTimeout ---------------------------------------------------------------

def test_function_timeout_fails_promptly_and_kills_the_worker(make_app, start_host):
    app = make_app(fns(hang=HANG_C, hello=HELLO_C),
                   host=host_json(min_instances=1, max_instances=1, timeout="00:00:02"))
    h = start_host(app)
    [pid0] = ready_workers(h, 1)

    t0 = time.monotonic()
    r = h.get("/api/hang", timeout=60)
    elapsed = time.monotonic() - t0
    assert r.status == 504, (r.status, r.text)
    assert elapsed < 10, elapsed
    inv = invocation_id_of_failure(r)
    assert "timed out" in r.text and "functionTimeout" in r.text, r.text
    log_line_with(h, "Executed 'Functions.hang' (Failed, Id=%s" % inv)

    # the worker cannot be interrupted: it is killed and replaced
    assert wait_for(lambda: not worker_alive(pid0), timeout=10), pid0
    [pid1] = ready_workers(h, 1)
    assert pid1 != pid0
    assert scale(h)["timeouts"] == 1
    r = h.get("/api/hello", timeout=30)
    assert r.status == 200 and r.text == "hello from pid=%d\n" % pid1, r.text


# ---- per-worker limits and isolation -----------------------------------------------

def test_worker_process_isolation(make_app, start_host):
    """Own process group, no new privileges, batch scheduling, the
    address-space limit (not under ASan, which needs a huge address space),
    a child of the host: for every worker process, listed instances or
    not."""
    app = make_app(fns(hello=HELLO_C), host=host_json(min_instances=2, memory_mb=256))
    h = start_host(app)
    listed = ready_workers(h, 2)
    pids = sorted(set(listed) | set(child_workers(h.proc.pid)))
    assert set(listed) <= set(pids)
    for pid in pids:
        assert pid != h.proc.pid
        assert os.getpgid(pid) == pid, (pid, os.getpgid(pid))
        assert proc_status_field(pid, "NoNewPrivs") == "1", pid
        # batch scheduling: a worker's wake-up does not preempt the host
        assert os.sched_getscheduler(pid) == os.SCHED_BATCH, pid
        ppid = int(proc_status_field(pid, "PPid"))
        # a child of the host, or of the host's fork server
        assert ppid == h.proc.pid or (is_fork_server(ppid) and parent_of(ppid) == h.proc.pid), pid
        if not SANITIZE:
            assert address_space_limit(pid) == str(256 << 20), pid
    r = h.get("/api/hello")
    assert r.status == 200
    assert int(r.text.split("pid=")[1]) in listed


def test_memory_limit(make_app, start_host):
    app = make_app(fns(hog=HOG_C, hello=HELLO_C),
                   host=host_json(min_instances=1, max_instances=1, memory_mb=64))
    h = start_host(app)
    [pid0] = ready_workers(h, 1)
    r = h.get("/api/hog", timeout=60)
    assert "allocated 256 MB" not in r.text, "no memory limit: %r" % r.text
    if SANITIZE:
        # no rlimit under ASan: the host sees the resident memory and kills the worker
        assert r.status == 500, (r.status, r.text)
        invocation_id_of_failure(r)
        assert "memory limit" in r.text, r.text
        assert wait_for(lambda: not worker_alive(pid0), timeout=10), pid0
        [pid1] = ready_workers(h, 1)
        assert pid1 != pid0
    else:
        # the address-space rlimit makes malloc fail below the limit
        assert r.status == 200, (r.status, r.text)
        m = re.match(r"limited at (\d+) MB", r.text)
        assert m and int(m.group(1)) <= 64, r.text
    r = h.get("/api/hello", timeout=30)
    assert r.status == 200, r.text


# ---- scale controller ---------------------------------------------------------------

def test_scale_from_zero_cold_start(make_app, start_host):
    app = make_app(fns(hello=HELLO_C), host=host_json(min_instances=0, idle="00:00:01"))
    h = start_host(app)
    # the worker that loaded the functions at startup goes away when idle
    assert wait_for(lambda: scale(h)["instances"] == 0, timeout=20), scale(h)
    s0 = scale(h)
    assert s0["workers"] == [] and s0["busy"] == 0 and s0["idle"] == 0
    cold_lines = len(re.findall(r"ready in [\d.]+ ms \(cold start\)", h.log()))

    r = h.get("/api/hello", timeout=30)
    assert r.status == 200, r.text
    s1 = scale(h)
    assert s1["coldStarts"] == s0["coldStarts"] + 1, (s0, s1)
    assert s1["lastColdStartMs"] > 0
    assert s1["instances"] == 1
    assert wait_for(lambda: len(re.findall(r"ready in [\d.]+ ms \(cold start\)", h.log()))
                    == cold_lines + 1, timeout=10), h.log()[-2000:]
    # and back to zero
    assert wait_for(lambda: scale(h)["instances"] == 0, timeout=20), scale(h)
    assert h.get("/api/hello", timeout=30).status == 200


def test_cold_start_time_excludes_the_first_invocation(make_app, start_host):
    """The cold start measured and logged is the worker's start, not the run
    of the invocation that was waiting for it (here 3 s)."""
    app = make_app(fns(slow=SLOW_C), host=host_json(min_instances=0, idle="00:00:01"))
    h = start_host(app)
    assert wait_for(lambda: scale(h)["instances"] == 0, timeout=20), scale(h)
    n0 = scale(h)["coldStarts"]
    r = h.get("/api/slow?ms=3000", timeout=60)
    assert r.status == 200, r.text
    s = scale(h)
    assert s["coldStarts"] == n0 + 1, s
    assert s["lastColdStartMs"] < 2500, s
    last = re.findall(r"ready in ([\d.]+) ms \(cold start\)", h.log())[-1]
    assert float(last) < 2500, h.log()[-2000:]


@pytest.mark.parametrize("prewarm,expected", [(3, 3), (False, 0), (True, 1)])
def test_prewarm_keeps_that_many_placeholders(make_app, start_host, prewarm, expected):
    """stratus.scale.prewarm: a count of pre-started placeholder workers (true
    means one); a cold start specialises one and another takes its place."""
    hj = host_json(min_instances=0, idle="00:00:01")
    hj["stratus"]["scale"]["prewarm"] = prewarm
    h = start_host(make_app(fns(hello=HELLO_C), host=hj))
    assert wait_for(lambda: scale(h)["instances"] == 0 and
                    scale(h)["placeholders"] == expected, timeout=20), scale(h)
    assert h.get("/api/hello", timeout=30).status == 200
    assert scale(h)["instances"] == 1
    assert wait_for(lambda: scale(h)["placeholders"] == expected, timeout=10), scale(h)


def test_scale_out_up_to_max_instances(make_app, start_host):
    app = make_app(fns(slow=SLOW_C),
                   host=host_json(min_instances=0, max_instances=3, concurrency=1,
                                  timeout="00:00:10"))
    h = start_host(app)
    with ScaleWatcher(h) as watch:
        responses = parallel(lambda i: h.get("/api/slow?ms=300", timeout=60), range(8))
    assert [r.status for r in responses] == [200] * 8, [(r.status, r.text) for r in responses]
    intervals = slow_intervals(responses)
    assert len({pid for pid, _, _ in intervals}) == 3, intervals
    assert max_overlap(intervals) <= 3, intervals
    assert watch.max("instances") == 3, [s["instances"] for s in watch.snapshots]
    assert max(len(s["workers"]) for s in watch.snapshots) <= 3
    assert watch.max("queueLength") > 0  # the requests beyond capacity waited
    assert all(s["inFlight"] <= 3 for s in watch.snapshots)
    assert scale(h)["instances"] == 3
    assert scale(h)["rejected"] == 0


def test_max_concurrent_requests_is_honoured(make_app, start_host):
    app = make_app(fns(slow=SLOW_C),
                   host=host_json(min_instances=0, max_instances=4, concurrency=1,
                                  max_concurrent=2, timeout="00:00:10"))
    h = start_host(app)
    with ScaleWatcher(h) as watch:
        responses = parallel(lambda i: h.get("/api/slow?ms=300", timeout=60), range(6))
    assert [r.status for r in responses] == [200] * 6, [(r.status, r.text) for r in responses]
    intervals = slow_intervals(responses)
    assert max_overlap(intervals) <= 2, intervals
    assert watch.max("inFlight") <= 2, [s["inFlight"] for s in watch.snapshots]
    assert watch.max("instances") <= 2, [s["instances"] for s in watch.snapshots]


def test_saturated_gets_429_with_retry_after(make_app, start_host):
    app = make_app(fns(slow=SLOW_C, hello=HELLO_C),
                   host=host_json(min_instances=1, max_instances=1, concurrency=1,
                                  max_outstanding=2, timeout="00:00:10"))
    h = start_host(app)
    ready_workers(h, 1)
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as ex:
        running = [ex.submit(h.get, "/api/slow?ms=1500", timeout=60) for _ in range(2)]
        assert wait_for(lambda: scale(h)["inFlight"] + scale(h)["queueLength"] == 2,
                        timeout=20), scale(h)
        refused = [h.get("/api/hello", timeout=30) for _ in range(3)]
        done = [f.result() for f in running]
    for r in refused:
        assert r.status == 429, (r.status, r.text)
        assert r.header("Retry-After") is not None, r.headers
        assert int(r.header("Retry-After")) >= 1
        invocation_id_of_failure(r)
        assert "maxOutstandingRequests" in r.text, r.text
    assert [r.status for r in done] == [200, 200], [r.text for r in done]
    assert scale(h)["rejected"] == 3
    assert h.get("/api/hello", timeout=30).status == 200


def test_scale_back_to_min_instances(make_app, start_host):
    app = make_app(fns(slow=SLOW_C, hello=HELLO_C),
                   host=host_json(min_instances=2, max_instances=4, concurrency=1,
                                  idle="00:00:01", timeout="00:00:10"))
    h = start_host(app)
    # minInstances workers are started at startup
    assert scale(h)["instances"] == 2, scale(h)
    ready_workers(h, 2)
    with ScaleWatcher(h) as watch:
        responses = parallel(lambda i: h.get("/api/slow?ms=300", timeout=60), range(8))
    assert [r.status for r in responses] == [200] * 8
    assert watch.max("instances") == 4, [s["instances"] for s in watch.snapshots]
    # idle workers beyond minInstances stop after idleTimeout; minInstances stay
    assert wait_for(lambda: scale(h)["instances"] == 2, timeout=20), scale(h)
    kept = sorted(ready_workers(h, 2))
    time.sleep(2.5)  # well past idleTimeout
    assert sorted(ready_workers(h, 2)) == kept
    assert all(worker_alive(p) for p in kept)
    assert "idle for" in h.log()
    assert h.get("/api/hello").status == 200


# ---- same answers in-process and isolated ------------------------------------------

PROBE_ROUTE = "items/{id:int}/{name?}"


def send(port, method, path, headers=(), body=None, timeout=30):
    """A request with exactly these headers (repeats allowed, bytes values
    allowed); (status, [(name, value)], body)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        for k, v in headers:
            conn.putheader(k, v)
        if body is not None:
            conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        r = conn.getresponse()
        return r.status, r.getheaders(), r.read()
    finally:
        conn.close()


def comparable(resp):
    st, headers, body = resp
    hs = sorted((k.lower(), UUID_RE.sub("<uuid>", v)) for k, v in headers if k.lower() != "date")
    return st, hs, UUID_RE.sub("<uuid>", body.decode("latin-1"))


PARITY_REQUESTS = [
    ("GET", "/api/items/42/widget?q=hello%20world&x=1",
     [("X-Test", "abc"), ("X-Echo", "echo-me")], None),
    ("GET", "/api/items/7", [], None),
    ("GET", "/api/items/7/?q=a+b&q=second", [("Accept", "*/*")], None),
    ("POST", "/api/items/1/post", [("Content-Type", "application/octet-stream")],
     bytes(range(256)) * 1200),
    ("PUT", "/api/items/2/put?status=201", [("Content-Type", "application/json")],
     json.dumps({"a": [1, 2, 3], "s": "\u00e9t\u00e9"}).encode()),
    ("GET", "/api/items/3?status=404", [], None),
    ("GET", "/api/items/4", [("X-Test", "first"), ("X-Test", "second"), ("x-other", "")], None),
    ("GET", "/api/items/5/caf%C3%A9?q=%E2%9C%93", [], None),
    ("DELETE", "/api/items/6/del", [], b""),
    ("PATCH", "/api/items/8/p", [("X-Echo", "with \"quotes\" and \\ back")], b"{\"patch\":1}"),
    ("HEAD", "/api/items/9/head", [], None),
    ("GET", "/api/items/10?q=fail", [], None),          # the function returns 7: 500
    ("GET", "/api/items/abc", [], None),                # no route match: 404
    ("GET", "/api/items/11?status=999", [], None),      # refused status: stays 200
]


def parity_hosts(tmp_path, start_host, requests):
    settings = {"IsEncrypted": False,
                "Values": {"FUNCTIONS_WORKER_RUNTIME": "native", "PROBE_SETTING": "probe-42"}}
    hosts = {}
    for mode, in_process in (("inproc", True), ("isolated", False)):
        app = write_app(tmp_path / mode, {"probe": http_fn("probe", source=PROBE_C,
                                                           route=PROBE_ROUTE)},
                        host=host_json(in_process=in_process), settings=settings)
        hosts[mode] = start_host(app)
    assert scale(hosts["isolated"])["mode"] == "isolated"
    assert scale(hosts["inproc"]).get("mode") != "isolated"
    answers = {}
    for mode, h in hosts.items():
        answers[mode] = [send(h.port, m, p, [("Host", "parity.test")] + list(hs), b)
                         for m, p, hs, b in requests]
    return hosts, answers


def probe_log_lines(h):
    out = []
    for ln in h.log().splitlines():
        if "probe-log" in ln or "probe-warn" in ln:
            out.append(re.sub(r"^\[[^\]]*\] ", "", ln))
    return out


def test_in_process_and_isolated_answer_the_same(tmp_path, start_host):
    hosts, answers = parity_hosts(tmp_path, start_host, PARITY_REQUESTS)
    for req, a, b in zip(PARITY_REQUESTS, answers["inproc"], answers["isolated"]):
        assert comparable(a) == comparable(b), (req[:2], comparable(a), comparable(b))
    # sanity: the function saw what was sent
    st, headers, body = answers["isolated"][0]
    text = body.decode()
    assert st == 200
    assert "path=/api/items/42/widget" in text and "q=hello world" in text
    assert "id=42\nname=widget\n" in text and "x-test=abc" in text and "setting=probe-42" in text
    assert ("X-Echo-Back", "echo-me") in headers and ("X-Multi", "two") in headers
    st, _, body = answers["isolated"][3]
    assert st == 200 and body.endswith(bytes(range(256)) * 1200)
    assert b"same=1" in body
    assert answers["isolated"][4][0] == 201 and answers["isolated"][11][0] == 500
    # stratus_log lines: the same lines, in the same order, in both logs
    # (11 requests reach the function, two lines each)
    want = wait_for(lambda: len(probe_log_lines(hosts["inproc"])) >= 22
                    and probe_log_lines(hosts["inproc"]), timeout=10)
    assert want, hosts["inproc"].log()[-3000:]
    got = wait_for(lambda: probe_log_lines(hosts["isolated"]) == want, timeout=10)
    assert got, (want, probe_log_lines(hosts["isolated"]))
    assert any("probe-log method=GET q=hello world id=42" in ln for ln in want), want
    assert any("warning" in ln and "probe-warn" in ln for ln in want), want


NON_UTF8_REQUESTS = {
    # a Latin-1 byte in a header value (legal in HTTP: obs-text)
    "header": ("GET", "/api/items/12", [("X-Test", b"caf\xe9")], None),
    # a percent-encoded byte that decodes to invalid UTF-8 in the path
    "path": ("GET", "/api/items/13/caf%E9", [], None),
    # a response header the function sets, with a Latin-1 byte
    "response-header": ("GET", "/api/items/14?latin=1", [], None),
}


@pytest.mark.parametrize("where", sorted(NON_UTF8_REQUESTS))
def test_in_process_and_isolated_agree_on_non_utf8_bytes(tmp_path, start_host, where):
    """Request bytes that are not UTF-8 (headers may carry obs-text; a
    decoded path may hold any byte) reach an isolated function as they
    reach an in-process one."""
    req = NON_UTF8_REQUESTS[where]
    _, answers = parity_hosts(tmp_path, start_host, [req])
    a, b = answers["inproc"][0], answers["isolated"][0]
    assert comparable(a) == comparable(b), (req[:3], comparable(a), comparable(b))


# ---- worker output in the log ------------------------------------------------------

MASTER = "workers-test-master-key-0123456789abcdefABCDEF"


@pytest.mark.parametrize("marker", ["stderr-marker", "flushed-stdout-marker",
                                    "plain-stdout-marker"])
def test_worker_output_logged_with_invocation_id(make_app, start_host, marker):
    """A line a function writes to stdout or stderr (plain printf: no fflush)
    is in the host's log as the function's, with the invocation id. The
    production host logs JSON lines, which carry the id."""
    app = make_app(fns(output=OUTPUT_C), host=host_json(min_instances=1, max_instances=1))
    h = start_host(app, mode="host", env={"STRATUS_MASTER_KEY": MASTER})
    r = h.get("/api/output", timeout=30)
    assert r.status == 200, r.text
    inv = r.text.strip()
    assert UUID_RE.fullmatch(inv), inv

    def find():
        for ln in h.log().splitlines():
            if not ln.startswith("{"):
                continue
            try:
                j = json.loads(ln)
            except ValueError:
                continue
            if j.get("message") == "%s %s" % (marker, inv):
                return j
        return None
    entry = wait_for(find, timeout=10)
    assert entry, "no log entry for %r:\n%s" % (marker, h.log()[-3000:])
    assert entry.get("invocationId") == inv, entry
    assert entry.get("category") == "Function.output", entry
    if marker == "stderr-marker":
        assert entry.get("level") == "error", entry


# Writes ?lines= lines of 100 bytes to its stdout.
FLOOD_C = r"""
#include <stratus.h>
#include <stdio.h>
#include <stdlib.h>
int flood(stratus_ctx *ctx)
{
    const char *q = stratus_req_query(ctx, "lines");
    long n = q ? atol(q) : 1000;
    for (long i = 0; i < n; i++)
        printf("flood %093ld\n", i);
    fflush(stdout);
    stratus_res_printf(ctx, "%ld", n);
    return 0;
}
"""


def test_log_reader_that_stalls_does_not_stop_the_host(make_app, tmp_path):
    """The host's output is a pipe whose reader stops reading (a pager, a
    stuck log shipper) while a function floods it: the host keeps serving,
    drops what does not fit, and says how many lines it dropped."""
    app = make_app(fns(flood=FLOOD_C, hello=HELLO_C), host=host_json(max_instances=1))
    port_file = str(tmp_path / "port")
    env = dict(os.environ, NO_COLOR="1")
    env.pop("STRATUS_MASTER_KEY", None)
    proc = subprocess.Popen([BIN, "start", app, "--port", "0", "--listen", "127.0.0.1",
                             "--port-file", port_file], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, env=env)
    try:
        assert wait_for(lambda: os.path.exists(port_file) and open(port_file).read().strip(),
                        timeout=30)
        h = Host(proc, int(open(port_file).read()), app, None)
        r = h.get("/api/flood?lines=200000", timeout=30)
        assert (r.status, r.text) == (200, "200000")
        assert h.get("/api/hello", timeout=30).status == 200
        out = b""
        deadline = time.time() + 30
        while b"log line(s) dropped" not in out and time.time() < deadline:
            h.get("/api/hello", timeout=30)
            chunk = os.read(proc.stdout.fileno(), 1 << 20)
            assert chunk, out[-2000:]
            out += chunk
        assert b"log line(s) dropped" in out, out[-2000:]
    finally:
        proc.kill()
        proc.wait()
        proc.stdout.close()

# ---- admin invocation --------------------------------------------------------------

def test_admin_invoke_runs_in_a_worker(tmp_path, start_host):
    out = str(tmp_path / "record.txt")
    settings = {"IsEncrypted": False,
                "Values": {"FUNCTIONS_WORKER_RUNTIME": "native", "RECORD_FILE": out}}
    app = write_app(tmp_path / "app", fns(record=RECORD_C),
                    host=host_json(min_instances=1, max_instances=1), settings=settings)
    h = start_host(app)
    [pid] = ready_workers(h, 1)
    r = h.post("/admin/functions/record", body=json.dumps({"input": "from admin \u2713"}).encode(),
               headers={"Content-Type": "application/json"})
    assert r.status == 202, r.text
    inv = r.header("x-invocation-id")
    assert inv and UUID_RE.fullmatch(inv), r.headers
    text = wait_for(lambda: read_text(out), timeout=15)
    assert text == "pid=%d id=%s input=from admin \u2713" % (pid, inv), text
    log_line_with(h, "Executed 'Functions.record' (Succeeded, Id=%s" % inv)
    log_line_with(h, "record-log input=from admin \u2713")
    # a JSON (non-string) input arrives as its JSON text
    os.unlink(out)
    r = h.post("/admin/functions/record", body=b'{"input": {"k": [1, 2]}}')
    assert r.status == 202, r.text
    text = wait_for(lambda: read_text(out), timeout=15)
    assert text.endswith('input={"k":[1,2]}'), text


# ---- load errors -------------------------------------------------------------------

def test_missing_entry_point_reported_while_others_serve(make_app, start_host):
    app = make_app(fns(hello=HELLO_C, noentry=NO_ENTRY_C, slow=SLOW_C),
                   host=host_json(min_instances=0))
    h = start_host(app)
    errors = status(h)["errors"]
    assert len(errors) == 1, errors
    assert "noentry" in errors[0] and "entry point 'noentry' not found" in errors[0], errors
    assert "entry point 'noentry' not found" in h.log()
    assert h.get("/api/noentry").status == 500
    names = sorted(f["name"] for f in h.get("/admin/functions").json())
    assert names == ["hello", "slow"]
    assert h.get("/api/hello", timeout=30).status == 200
    assert h.get("/api/slow?ms=1", timeout=30).status == 200


# ---- host exits --------------------------------------------------------------------

def test_graceful_stop_leaves_no_workers(make_app, start_host):
    app = make_app(fns(slow=SLOW_C, hello=HELLO_C),
                   host=host_json(min_instances=2, max_instances=3, concurrency=1))
    h = start_host(app)
    ready_workers(h, 2)
    with concurrent.futures.ThreadPoolExecutor(max_workers=3) as ex:
        busy = [ex.submit(h.get, "/api/slow?ms=800", timeout=60) for _ in range(3)]
        assert wait_for(lambda: scale(h)["inFlight"] == 3, timeout=20), scale(h)
        listed = worker_pids(h)
        assert len(listed) == 3
        pids = sorted(set(listed) | set(child_workers(h.proc.pid)))
        h.proc.send_signal(signal.SIGTERM)
        # requests in flight when the host was asked to stop still finish
        results = [f.result() for f in busy]
    assert [r.status for r in results] == [200] * 3, [r.text for r in results]
    rc = h.proc.wait(30)
    log = h.log()
    assert rc == 0, log[-3000:]
    assert not sanitizer_report(log), log[-4000:]
    assert "Host stopped" in log
    assert wait_for(lambda: not any(worker_alive(p) for p in pids), timeout=5), \
        [p for p in pids if worker_alive(p)]


def test_sigkill_of_host_leaves_no_orphan_workers(make_app, start_host):
    app = make_app(fns(hang=HANG_C, hello=HELLO_C),
                   host=host_json(min_instances=3, max_instances=3, concurrency=1))
    h = start_host(app)
    ready_workers(h, 3)
    # two workers stuck in user code, one idle
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as ex:
        stuck = [ex.submit(h.get, "/api/hang", timeout=60) for _ in range(2)]
        assert wait_for(lambda: scale(h)["inFlight"] == 2, timeout=20), scale(h)
        listed = worker_pids(h)
        assert len(listed) == 3 and all(worker_alive(p) for p in listed)
        pids = sorted(set(listed) | set(child_workers(h.proc.pid)))
        h.proc.send_signal(signal.SIGKILL)
        h.proc.wait(10)
        gone = wait_for(lambda: not any(worker_alive(p) for p in pids), timeout=2.5)
        for f in stuck:
            try:
                f.result()
            except (OSError, http.client.HTTPException):
                pass
    assert gone, "workers outlived their host: %r" % [p for p in pids if worker_alive(p)]


def fork_server_of(host_pid):
    pids = [int(n) for n in os.listdir("/proc") if n.isdigit()]
    return next((p for p in pids if parent_of(p) == host_pid and is_fork_server(p)), None)


@pytest.mark.parametrize("then", ["serve", "stop"])
def test_hung_fork_server_is_replaced(make_app, start_host, then):
    """A fork server that stops answering (here: SIGSTOP) neither holds new
    workers and their invocations nor the host's stop: it is killed and
    workers are started as processes."""
    app = make_app(fns(hello=HELLO_C), host=host_json(max_instances=1))
    h = start_host(app)
    assert h.get("/api/hello").status == 200
    fs = wait_for(lambda: fork_server_of(h.proc.pid), timeout=10)
    assert fs, h.log()[-3000:]
    os.kill(fs, signal.SIGSTOP)
    try:
        for pid in child_workers(h.proc.pid):
            os.kill(pid, signal.SIGKILL)
        if then == "stop":
            with concurrent.futures.ThreadPoolExecutor(max_workers=1) as ex:
                pending = ex.submit(h.get, "/api/hello", timeout=60)
                time.sleep(0.3)
                h.proc.send_signal(signal.SIGTERM)
                try:
                    rc = h.proc.wait(20)
                except subprocess.TimeoutExpired:
                    rc = None
                try:
                    pending.result()
                except (OSError, http.client.HTTPException):
                    pass
            assert rc == 0, h.log()[-3000:]
            return

        def served():
            try:
                return h.get("/api/hello", timeout=15).status == 200
            except (OSError, http.client.HTTPException):
                return False
        assert wait_for(served, timeout=20), h.log()[-3000:]
        assert "The fork server did not" in h.log()
    finally:
        if proc_state(fs) == "T":
            os.kill(fs, signal.SIGKILL)


# Writes garbage (or a frame header announcing an oversized body) into the
# worker's own channel to the host, as a buggy function could.
CORRUPT_C = r"""
#include <stratus.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
int corrupt(stratus_ctx *ctx)
{
    int fd = atoi(getenv("STRATUS_WORKER_FD"));
    const char *how = stratus_req_query(ctx, "how");
    if (how && !strcmp(how, "oversized")) {
        unsigned char h[24] = {0x01, 'R', 'T', 'S', 6, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0,
                               0, 0, 0, 0, 0xff, 0xff, 0xff, 0x7f};
        write(fd, h, sizeof h);
    } else {
        write(fd, "this is not a frame at all!!", 28);
    }
    sleep(5);
    return 0;
}
"""


@pytest.mark.parametrize("how", ["garbage", "oversized"])
def test_malformed_frame_kills_only_that_worker(make_app, start_host, how):
    app = make_app(fns(corrupt=CORRUPT_C, hello=HELLO_C),
                   host=host_json(min_instances=1, max_instances=2))
    h = start_host(app)
    [pid0] = ready_workers(h, 1)
    r = h.get("/api/corrupt?how=" + how, timeout=30)
    assert r.status == 500, (r.status, r.text)
    assert "protocol error" in r.text, r.text
    reason = "bad magic" if how == "garbage" else "exceeds the limit"
    log_line_with(h, "Killing worker", reason)
    assert wait_for(lambda: not worker_alive(pid0), timeout=10), pid0
    r = h.get("/api/hello", timeout=30)
    assert r.status == 200, r.text
    assert h.alive()


ENV_C = r"""
#include <stratus.h>
#include <stdlib.h>
int env(stratus_ctx *ctx)
{
    const char *k = getenv("STRATUS_MASTER_KEY");
    const char *g = stratus_setting(ctx, "GREETING");
    stratus_res_printf(ctx, "master=%s greeting=%s\n", k ? k : "-", g ? g : "-");
    return 0;
}
"""


def test_master_key_does_not_reach_workers(make_app, start_host):
    settings = {"IsEncrypted": False,
                "Values": {"FUNCTIONS_WORKER_RUNTIME": "native", "GREETING": "hi"}}
    app = make_app(fns(env=ENV_C), host=host_json(), settings=settings)
    key = "k" * 40
    h = start_host(app, env={"STRATUS_MASTER_KEY": key})
    r = h.get("/api/env", timeout=30)
    assert r.status == 200, r.text
    assert r.text == "master=- greeting=hi\n"


CTOR_CRASH_C = r"""
#include <stratus.h>
#include <stdlib.h>
__attribute__((constructor)) static void boom(void) { abort(); }
int ctorcrash(stratus_ctx *ctx) { (void)ctx; return 0; }
"""


def test_function_crashing_while_loading_is_reported_and_host_serves(make_app, start_host):
    app = make_app(fns(ctorcrash=CTOR_CRASH_C, hello=HELLO_C), host=host_json())
    h = start_host(app)
    errors = status(h)["errors"]
    assert any("while loading the functions" in e for e in errors), errors
    assert "while loading the functions" in h.log()
    r = h.get("/api/hello", timeout=30)
    assert r.status == 500, (r.status, r.text)  # every worker dies loading the app
    assert "worker" in r.text, r.text
    assert h.alive()


FDS_PY = """import os
import azure.functions as func


def main(req: func.HttpRequest) -> func.HttpResponse:
    fds = {}
    for fd in os.listdir("/proc/self/fd"):
        try:
            fds[fd] = os.readlink("/proc/self/fd/" + fd)
        except OSError:
            pass
    return func.HttpResponse(repr(fds))
"""


def test_descriptors_the_host_inherited_do_not_reach_workers(tmp_path):
    """A descriptor left open by whatever started the host (a shell's, a
    supervisor's) is not passed on to the worker processes it starts."""
    import ast
    import subprocess
    from conftest import BIN, Host
    app = write_app(tmp_path / "app", {"fds": {
        "function.json": {"bindings": [
            {"type": "httpTrigger", "direction": "in", "name": "req", "authLevel": "anonymous"},
            {"type": "http", "direction": "out", "name": "$return"}]},
        "__init__.py": FDS_PY}},
        settings={"IsEncrypted": False, "Values": {"FUNCTIONS_WORKER_RUNTIME": "python"}})
    r, w = os.pipe()
    os.dup2(r, 250)
    stray = "pipe:[%d]" % os.fstat(250).st_ino
    port_file = str(tmp_path / "port")
    log_path = str(tmp_path / "host.log")
    env = dict(os.environ, NO_COLOR="1")
    env.pop("STRATUS_MASTER_KEY", None)
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([BIN, "start", app, "--port", "0", "--listen", "127.0.0.1",
                                 "--port-file", port_file], stdout=log, stderr=subprocess.STDOUT,
                                env=env, pass_fds=[250])
    os.close(250)
    os.close(r)
    os.close(w)
    try:
        assert wait_for(lambda: os.path.exists(port_file) and open(port_file).read().strip(),
                        timeout=60), open(log_path).read()
        h = Host(proc, int(open(port_file).read()), app, log_path)
        resp = h.get("/api/fds", timeout=30)
        assert resp.status == 200, (resp.status, resp.text, h.log())
        fds = ast.literal_eval(resp.text)
        assert stray not in fds.values(), fds
        assert os.readlink("/proc/%d/fd/250" % proc.pid) == stray  # the host still has it
    finally:
        proc.terminate()
        proc.wait(timeout=30)
