"""The invocation history, the live log and trace context end to end:
invocations recorded in the store with their log lines and errors
(GET /admin/invocations[/{id}]), filters and keyset paging, retention by
count, `stratus invocations` and `stratus logs --follow`, and the W3C
traceparent accepted from HTTP callers (or created), recorded, and seen by
native, Python and Node.js functions and by custom handlers."""
import json
import os
import queue
import re
import subprocess
import threading
import time

import pytest

from conftest import BIN, http_fn, wait_for

TP_RE = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")
CALLER_TP = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
CALLER_TRACE = "0af7651916cd43dd8448eb211c80319c"

TALK_C = r"""
#include <stratus.h>
int talk(stratus_ctx *ctx)
{
    stratus_log(ctx, STRATUS_LOG_INFO, "first line from talk");
    stratus_log(ctx, STRATUS_LOG_WARN, "second line, a warning");
    stratus_res_header(ctx, "Content-Type", "text/plain");
    stratus_res_printf(ctx, "%s", stratus_traceparent(ctx));
    return 0;
}
"""

FAILS_C = r"""
#include <stratus.h>
int fails(stratus_ctx *ctx)
{
    stratus_log(ctx, STRATUS_LOG_ERROR, "about to fail");
    return 3;
}
"""

CHATTY_C = r"""
#include <stratus.h>
int chatty(stratus_ctx *ctx)
{
    for (int i = 0; i < 150; i++)
        stratus_log(ctx, STRATUS_LOG_INFO, "chatty line %d", i);
    return 0;
}
"""

NATIVE_FNS = {"talk": http_fn("talk", TALK_C), "fails": http_fn("fails", FAILS_C),
              "chatty": http_fn("chatty", CHATTY_C)}


def native_host(make_app, start_host, history=None):
    host = {"version": "2.0"}
    if history is not None:
        host["stratus"] = {"history": history}
    return start_host(make_app(NATIVE_FNS, host=host))


def invocations(h, query=""):
    r = h.get("/admin/invocations" + query)
    assert r.status == 200, r.text
    return r.json()


def latest(h, function, n=1):
    """The newest n records of function (waits for them)."""
    got = wait_for(lambda: (lambda l: l if len(l) >= n else None)(
        invocations(h, "?function=%s&limit=%d" % (function, n))["invocations"]))
    assert got, "no %d record(s) of %s" % (n, function)
    return got


def test_invocations_recorded_with_logs_and_errors(make_app, start_host):
    h = native_host(make_app, start_host)
    assert h.get("/api/talk").status == 200
    rec = latest(h, "talk")[0]
    assert rec["function"] == "talk" and rec["trigger"] == "httpTrigger"
    assert rec["status"] == "succeeded" and rec["httpStatus"] == 200
    assert rec["error"] is None and rec["durationMs"] > 0
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$", rec["start"])
    assert abs(rec["startMs"] / 1000 - time.time()) < 120
    assert "logs" not in rec  # lists leave the lines out
    full = h.get("/admin/invocations/" + rec["id"]).json()
    assert full["id"] == rec["id"]
    assert len(full["logs"]) == 2, full["logs"]
    assert "info Function.talk: first line from talk" in full["logs"][0]
    assert "warning Function.talk: second line, a warning" in full["logs"][1]

    r = h.get("/api/fails")
    assert r.status == 500
    fid = r.header("x-invocation-id")
    rec = wait_for(lambda: (lambda x: x if x.status == 200 else None)(
        h.get("/admin/invocations/" + fid)))
    assert rec, "failed invocation not recorded"
    rec = rec.json()
    assert rec["status"] == "failed" and rec["httpStatus"] == 500
    assert "returned 3" in rec["error"], rec["error"]
    assert any("about to fail" in line for line in rec["logs"])

    # Bounded capture: 100 lines kept, the rest counted.
    assert h.get("/api/chatty").status == 200
    rec = latest(h, "chatty")[0]
    logs = h.get("/admin/invocations/" + rec["id"]).json()["logs"]
    assert len(logs) == 101, len(logs)
    assert "chatty line 0" in logs[0] and "chatty line 99" in logs[99]
    assert logs[100] == "... 50 more lines"

    r = h.get("/admin/invocations/00000000-0000-0000-0000-000000000000")
    assert r.status == 404 and "no invocation" in r.json()["error"]


def test_filters_and_paging(make_app, start_host):
    h = native_host(make_app, start_host)
    for _ in range(5):
        assert h.get("/api/talk").status == 200
    for _ in range(3):
        assert h.get("/api/fails").status == 500
    latest(h, "fails", 3)
    latest(h, "talk", 5)
    failed = invocations(h, "?status=failed")["invocations"]
    assert len(failed) == 3 and all(r["function"] == "fails" for r in failed)
    ok = invocations(h, "?status=succeeded&function=talk")["invocations"]
    assert len(ok) == 5
    assert invocations(h, "?function=fails&status=succeeded")["invocations"] == []
    # Newest first, pages of 3 by the "next" token, each record once.
    seen, after, pages = [], None, 0
    while True:
        q = "?limit=3" + ("&after=" + after if after else "")
        page = invocations(h, q)
        seen += [r["id"] for r in page["invocations"]]
        starts = [r["startMs"] for r in page["invocations"]]
        assert starts == sorted(starts, reverse=True)
        pages += 1
        after = page["next"]
        if not after:
            break
        assert pages < 10
    assert len(seen) == 8 and len(set(seen)) == 8 and pages == 3
    # since: ISO and milliseconds
    assert invocations(h, "?since=2999-01-01T00:00:00Z")["invocations"] == []
    assert len(invocations(h, "?since=2000-01-01")["invocations"]) == 8
    newest = invocations(h, "?limit=1")["invocations"][0]
    assert newest["id"] in [r["id"] for r in
                            invocations(h, "?since=%d" % newest["startMs"])["invocations"]]
    for q, word in (("?status=maybe", "status"), ("?since=yesterday", "since"),
                    ("?limit=0", "limit"), ("?limit=5000", "limit"), ("?after=xyz", "after")):
        r = h.get("/admin/invocations" + q)
        assert r.status == 400, (q, r.text)
        assert "'%s'" % word in r.json()["error"]


def test_retention_keeps_max_count(make_app, start_host):
    h = native_host(make_app, start_host, history={"maxCount": 5, "maxAge": "01:00:00"})
    for _ in range(12):
        assert h.get("/api/talk").status == 200
    assert wait_for(lambda: len(invocations(h, "?limit=100")["invocations"]) == 5), \
        invocations(h, "?limit=100")
    # The newest are the ones kept.
    time.sleep(0.3)
    assert h.get("/api/fails").status == 500
    assert wait_for(lambda: (lambda l: len(l) == 5 and l[0]["function"] == "fails")(
        invocations(h, "?limit=100")["invocations"]))


def metric(h, name):
    r = h.get("/metrics")
    assert r.status == 200, r.text
    m = re.search(r"^%s (\d+)$" % name, r.text, re.M)
    return int(m.group(1)) if m else None


def burst(h, per, clients=8, path="/api/fails", status=500):
    """per requests from each of clients keep-alive connections at once."""
    import http.client
    errors = []

    def client():
        c = http.client.HTTPConnection("127.0.0.1", h.port, timeout=30)
        try:
            for _ in range(per):
                c.request("GET", path)
                r = c.getresponse()
                r.read()
                if r.status != status:
                    errors.append(r.status)
        finally:
            c.close()
    ts = [threading.Thread(target=client) for _ in range(clients)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert not errors, errors[:5]
    return per * clients


def test_a_burst_is_written_whole(make_app, start_host):
    """More records than one batch, as fast as the clients can send them:
    every one reaches the store (none dropped) and the counters say so."""
    h = native_host(make_app, start_host, history={"maxCount": 100000})
    total = burst(h, 800)
    assert wait_for(lambda: metric(h, "stratus_history_records_written_total") == total,
                    timeout=30), h.get("/metrics").text[-1500:]
    assert metric(h, "stratus_history_records_dropped_total") == 0
    assert metric(h, "stratus_history_records_pending") == 0
    page = invocations(h, "?function=fails&limit=1")["invocations"]
    assert page and page[0]["status"] == "failed", page


def test_records_past_the_count_limit_are_superseded_not_lost(make_app, start_host):
    """Under the count limit's worth of records a second, the newest
    maxCount are kept whether or not the older ones were ever written: the
    rest are counted as superseded, none as dropped, and the history ends
    with exactly maxCount records, the newest last."""
    h = native_host(make_app, start_host, history={"maxCount": 300})
    total = burst(h, 250)
    assert h.get("/api/talk").status == 200
    total += 1

    def settled():
        w = metric(h, "stratus_history_records_written_total")
        sup = metric(h, "stratus_history_records_superseded_total")
        return w is not None and sup is not None and w + sup == total and \
            metric(h, "stratus_history_records_pending") == 0
    assert wait_for(settled, timeout=30), h.get("/metrics").text[-1500:]
    assert metric(h, "stratus_history_records_dropped_total") == 0
    assert metric(h, "stratus_history_records_superseded_total") > 0
    got = wait_for(lambda: (lambda l: l if len(l) == 300 else None)(
        invocations(h, "?limit=1000")["invocations"]), timeout=30)
    assert got, len(invocations(h, "?limit=1000")["invocations"])
    assert got[0]["function"] == "talk"  # newest first


def test_history_can_be_turned_off(make_app, start_host):
    h = native_host(make_app, start_host, history={"enabled": False})
    assert h.get("/api/talk").status == 200
    r = h.get("/admin/invocations")
    assert r.status == 404 and "stratus.history.enabled" in r.json()["error"]


def test_bad_history_settings_are_named(make_app, start_host):
    app = make_app(NATIVE_FNS, host={"version": "2.0", "stratus": {"history": {"maxCount": 0}}})
    h = start_host(app, wait=False)
    h.proc.wait(timeout=60)
    assert h.proc.returncode != 0
    assert "stratus.history.maxCount" in h.log()


def cli(h, *args, timeout=60):
    return subprocess.run([BIN] + list(args) + ["--port", str(h.port), "--app", h.app],
                          capture_output=True, text=True, timeout=timeout)


def test_cli_invocations_and_show(make_app, start_host):
    h = native_host(make_app, start_host)
    assert h.get("/api/talk").status == 200
    fid = h.get("/api/fails").header("x-invocation-id")
    latest(h, "fails")
    r = cli(h, "invocations")
    assert r.returncode == 0, r.stderr
    assert "FUNCTION" in r.stdout and "talk" in r.stdout and fid in r.stdout
    r = cli(h, "invocations", "--failed")
    assert r.returncode == 0 and fid in r.stdout and "talk" not in r.stdout
    assert "returned 3" in r.stdout
    r = cli(h, "invocations", "--json", "--function", "talk")
    assert r.returncode == 0
    assert [x["function"] for x in json.loads(r.stdout)["invocations"]] == ["talk"]
    r = cli(h, "invocations", "show", fid)
    assert r.returncode == 0, r.stderr
    assert fid in r.stdout and "failed (HTTP 500)" in r.stdout and "about to fail" in r.stdout
    r = cli(h, "invocations", "show", "no-such-id")
    assert r.returncode == 1 and "404" in r.stderr
    r = cli(h, "invocations", "--limit", "zero")
    assert r.returncode == 2 and "--limit" in r.stderr
    r = subprocess.run([BIN, "invocations", "--help"], capture_output=True, text=True)
    assert r.returncode == 0 and "--failed" in r.stdout
    r = cli(h, "logs")  # the recent invocations' lines, each with its outcome
    assert r.returncode == 0 and "first line from talk" in r.stdout and "about to fail" in r.stdout
    assert re.search(r"^\[\S+Z\] error Function\.\w+: Executed 'Functions\.\w+' \(Failed, Id=%s, "
                     r"Status=500, Duration=[\d.]+ms\): " % fid, r.stdout, re.M), r.stdout
    r = cli(h, "logs", "--json")
    lines = [json.loads(x) for x in r.stdout.splitlines()]
    assert all({"time", "level", "category", "invocationId", "message"} <= set(x) for x in lines)
    failed = [x for x in lines if x["invocationId"] == fid and x["message"] == "Executed"]
    assert failed and failed[0]["outcome"] == "Failed" and failed[0]["status"] == 500, lines
    assert failed[0]["reason"], failed


def read_lines(proc, out):
    for line in proc.stdout:
        out.put(line)


def test_cli_logs_follow_streams_live_lines(make_app, start_host):
    h = native_host(make_app, start_host)
    proc = subprocess.Popen([BIN, "logs", "--follow", "--json", "--function", "talk",
                             "--port", str(h.port), "--app", h.app],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines = queue.Queue()
    threading.Thread(target=read_lines, args=(proc, lines), daemon=True).start()
    try:
        got = []
        deadline = time.time() + 60
        # The stream starts when the host answers; invoke until a line arrives.
        while not got and time.time() < deadline:
            assert h.get("/api/fails").status == 500  # filtered out
            assert h.get("/api/talk").status == 200
            try:
                while True:
                    got.append(json.loads(lines.get(timeout=0.5)))
            except queue.Empty:
                pass
        assert got, "no line streamed"
        assert all(x["category"].startswith("Function.talk") for x in got), got
        messages = [x["message"] for x in got]
        assert "first line from talk" in messages
        assert any(m.startswith("Executed 'Functions.talk' (Succeeded") for m in messages)
        assert all(re.match(r"^[0-9a-f-]{36}$", x["invocationId"]) for x in got)
        assert h.get("/admin/host/status").status == 200
    finally:
        proc.kill()
        proc.wait(timeout=10)
    # The host notices the client left; a text stream works as well.
    r = h.raw(b"GET /admin/logs?follow=true&format=text HTTP/1.1\r\nHost: x\r\n\r\n", timeout=1)
    assert b"Transfer-Encoding: chunked" in r
    assert h.get("/admin/logs").status == 400
    assert h.get("/admin/logs?follow=true&function=nope").status == 404
    assert h.get("/api/talk").status == 200


# ---- traceparent -----------------------------------------------------------------------

def test_traceparent_accepted_created_and_recorded(make_app, start_host):
    h = native_host(make_app, start_host)
    r = h.get("/api/talk", headers={"traceparent": CALLER_TP, "tracestate": "vendor=1"})
    m = TP_RE.match(r.text)
    assert m, r.text
    assert m.group(1) == CALLER_TRACE and m.group(3) == "01"
    assert m.group(2) not in ("b7ad6b7169203331", "0" * 16)  # a span of its own
    rec = wait_for(lambda: [x for x in invocations(h, "?limit=50")["invocations"]
                            if x["traceparent"] == r.text])
    assert rec and rec[0]["traceId"] == CALLER_TRACE

    # Invalid values are ignored: a new trace.
    for bad in ("00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01",
                "00-00000000000000000000000000000000-b7ad6b7169203331-01",
                "00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01",
                "ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
                "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-extra",
                "00-0af7651916cd43dd8448eb211c80319c-b7ad6b716920333-01",
                "garbage"):
        r = h.get("/api/talk", headers={"traceparent": bad})
        m = TP_RE.match(r.text)
        assert m and m.group(1) != CALLER_TRACE and m.group(3) == "00", (bad, r.text)
    # A later version with more fields is read by its first four.
    r = h.get("/api/talk", headers={"traceparent": "01-" + CALLER_TP[3:] + "-what-ever"})
    assert TP_RE.match(r.text).group(1) == CALLER_TRACE
    # None sent: each invocation a new trace.
    a, b = h.get("/api/talk").text, h.get("/api/talk").text
    assert TP_RE.match(a) and TP_RE.match(b) and a[3:35] != b[3:35]


PY_TRACE = '''
import azure.functions as func

def main(req: func.HttpRequest, context: func.Context) -> func.HttpResponse:
    tc = context.trace_context
    return func.HttpResponse(tc.trace_parent + " " + (tc.trace_state or ""))
'''


def test_python_sees_trace_context(make_app, start_host):
    fj = {"bindings": [{"authLevel": "anonymous", "type": "httpTrigger", "direction": "in",
                        "name": "req"}, {"type": "http", "direction": "out", "name": "$return"}]}
    app = make_app({"trace": {"function.json": fj, "__init__.py": PY_TRACE}},
                   settings={"IsEncrypted": False,
                             "Values": {"FUNCTIONS_WORKER_RUNTIME": "python"}})
    h = start_host(app)
    r = h.get("/api/trace", headers={"traceparent": CALLER_TP, "tracestate": "a=b"}, timeout=90)
    assert r.status == 200, r.text
    tp, state = r.text.split(" ")
    assert TP_RE.match(tp).group(1) == CALLER_TRACE and tp != CALLER_TP
    assert state == "a=b"
    rec = latest(h, "trace")[0]
    assert rec["traceparent"] == tp


NODE_TRACE = r"""
module.exports = async function (context, req) {
  context.res = { body: context.traceContext.traceparent + ' ' +
                        (context.traceContext.tracestate || '') };
};
"""


def test_node_sees_trace_context(make_app, start_host):
    fj = {"bindings": [{"authLevel": "anonymous", "type": "httpTrigger", "direction": "in",
                        "name": "req"}, {"type": "http", "direction": "out", "name": "res"}]}
    app = make_app({"trace": {"function.json": fj, "index.js": NODE_TRACE}},
                   settings={"IsEncrypted": False,
                             "Values": {"FUNCTIONS_WORKER_RUNTIME": "node"}})
    h = start_host(app)
    r = h.get("/api/trace", timeout=90)
    assert r.status == 200, r.text
    created = r.text.strip().split(" ")[0]
    assert TP_RE.match(created)
    r = h.get("/api/trace", headers={"traceparent": CALLER_TP, "tracestate": "x=y"}, timeout=90)
    tp, state = r.text.split(" ")
    assert TP_RE.match(tp).group(1) == CALLER_TRACE and tp != CALLER_TP and state == "x=y"
    rec = [x for x in invocations(h, "?function=trace")["invocations"]]
    assert tp in [x["traceparent"] for x in rec] or wait_for(
        lambda: tp in [x["traceparent"] for x in invocations(h, "?function=trace")["invocations"]])


HANDLER_JS = r"""
const http = require('http');
http.createServer((req, res) => {
  let body = '';
  req.on('data', (c) => body += c);
  req.on('end', () => {
    const seen = {traceparent: req.headers['traceparent'] || null,
                  tracestate: req.headers['tracestate'] || null, url: req.url};
    res.setHeader('Content-Type', 'application/json');
    if (req.url.startsWith('/api/')) { res.end(JSON.stringify(seen)); return; }
    res.end(JSON.stringify({Outputs: {res: {statusCode: 200, body: JSON.stringify(seen)}}}));
  });
}).listen(process.env.FUNCTIONS_CUSTOMHANDLER_PORT);
"""


@pytest.mark.parametrize("forward", [True, False])
def test_custom_handler_receives_traceparent(make_app, start_host, forward):
    fj = {"bindings": [{"authLevel": "anonymous", "type": "httpTrigger", "direction": "in",
                        "name": "req"}, {"type": "http", "direction": "out", "name": "res"}]}
    host = {"version": "2.0", "customHandler": {
        "description": {"defaultExecutablePath": "node", "arguments": ["server.js"]},
        "enableForwardingHttpRequest": forward}}
    app = make_app({"trace": {"function.json": fj}}, host=host,
                   settings={"IsEncrypted": False,
                             "Values": {"FUNCTIONS_WORKER_RUNTIME": "custom"}},
                   files={"server.js": HANDLER_JS})
    h = start_host(app)
    r = h.get("/api/trace", headers={"traceparent": CALLER_TP, "tracestate": "k=v"}, timeout=60)
    assert r.status == 200, r.text
    seen = r.json()
    m = TP_RE.match(seen["traceparent"] or "")
    assert m and m.group(1) == CALLER_TRACE and seen["traceparent"] != CALLER_TP, seen
    assert seen["tracestate"] == "k=v"
    rec = latest(h, "trace")[0]
    assert rec["traceparent"] == seen["traceparent"]
    r = h.get("/api/trace", timeout=60)  # none sent: the handler gets the new one
    assert TP_RE.match(r.json()["traceparent"] or "")
