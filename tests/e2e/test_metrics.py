"""Metrics and usage metering (docs/metrics.md): /metrics in the Prometheus
text format after HTTP and queue-triggered invocations, its authorization,
the reserved route, the telemetry switch, GET /admin/usage and `stratus
usage`, and a real Prometheus server (Debian `prometheus`, installed by
scripts/deps.sh) scraping the host and answering a query about it."""
import json
import os
import re
import shutil
import socket
import subprocess
import time
import urllib.parse
import urllib.request

import pytest

from conftest import BIN, ECHO_C, free_port, function_key, http_fn, master_key, wait_for, write_app

SETTINGS = {"IsEncrypted": False, "Values": {"FUNCTIONS_WORKER_RUNTIME": "native"}}
HOST = {"version": "2.0",
        "extensions": {"queues": {"maxPollingInterval": "00:00:01"}}}

BOOM_C = r"""
#include <stratus.h>
int boom(stratus_ctx *ctx)
{
    stratus_res_printf(ctx, "no\n");
    return 1;
}
"""

# Queue-triggered: does nothing, succeeds.
WORKER_C = r"""
#include <stratus.h>
int worker(stratus_ctx *ctx)
{
    size_t n;
    (void)stratus_trigger_data(ctx, &n);
    return 0;
}
"""

# HTTP: ?q=<queue>&n=<count>: n messages into queue q.
ENQUEUE_C = r"""
#include <stratus.h>
#include <stdio.h>
#include <stdlib.h>

int enqueue(stratus_ctx *ctx)
{
    const char *ns = stratus_req_query(ctx, "n");
    long n = ns ? atol(ns) : 1;
    for (long i = 0; i < n; i++) {
        char msg[32];
        int len = snprintf(msg, sizeof msg, "m-%ld", i);
        if (stratus_output_add(ctx, "out", msg, (size_t)len) != 0)
            return 1;
    }
    stratus_res_printf(ctx, "queued %ld\n", n);
    return 0;
}
"""


def functions():
    return {
        "hello": http_fn("hello", methods=["get"]),
        "boom": http_fn("boom", source=BOOM_C, methods=["get"]),
        "enqueue": {
            "function.json": {"scriptFile": "enqueue.so", "bindings": [
                {"type": "httpTrigger", "direction": "in", "name": "req",
                 "authLevel": "anonymous", "methods": ["post"]},
                {"type": "http", "direction": "out", "name": "res"},
                {"type": "queue", "direction": "out", "name": "out", "queueName": "{q}"}]},
            "enqueue.c": ENQUEUE_C},
        "worker": {
            "function.json": {"scriptFile": "worker.so", "bindings": [
                {"type": "queueTrigger", "direction": "in", "name": "msg",
                 "queueName": "work-q"}]},
            "worker.c": WORKER_C},
    }


# ---- parsing the exposition format -----------------------------------------

SAMPLE_RE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$')
LABEL_RE = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(,|$)')


def parse(text):
    """{family: {"type", "help", "samples": [(name, labels, value)]}}; checks
    the format as it goes (HELP then TYPE before samples, names, labels)."""
    families, types, current = {}, {}, None
    assert text.endswith("\n"), "the exposition must end with a newline"
    for line in text.split("\n")[:-1]:
        if line.startswith("# HELP "):
            name, _, help_text = line[7:].partition(" ")
            assert name not in families, "family %s twice" % name
            families[name] = {"help": help_text, "type": None, "samples": []}
            current = name
            continue
        if line.startswith("# TYPE "):
            name, _, typ = line[7:].partition(" ")
            assert name == current, "TYPE %s without its HELP first" % name
            assert typ in ("counter", "gauge", "histogram", "summary", "untyped")
            families[name]["type"] = typ
            types[name] = typ
            continue
        m = SAMPLE_RE.match(line)
        assert m, "not a sample line: %r" % line
        name, labels_text, value = m.group(1), m.group(3) or "", m.group(4)
        labels, pos = {}, 0
        while pos < len(labels_text):
            lm = LABEL_RE.match(labels_text, pos)
            assert lm, "bad labels in %r" % line
            labels[lm.group(1)] = lm.group(2)
            pos = lm.end()
        fam = current
        assert fam and (name == fam or (types.get(fam) == "histogram" and
                                        name in (fam + "_bucket", fam + "_sum", fam + "_count"))), \
            "sample %s outside its family (%s)" % (name, fam)
        v = float(value.replace("+Inf", "inf").replace("-Inf", "-inf"))
        families[fam]["samples"].append((name, labels, v))
    for name, fam in families.items():
        assert fam["type"], "family %s has no TYPE" % name
        if fam["type"] == "counter":
            assert name.endswith("_total"), "counter %s must end in _total" % name
        if fam["type"] == "histogram":
            check_histograms(name, fam["samples"])
    return families


def check_histograms(name, samples):
    series = {}
    for sname, labels, v in samples:
        key = tuple(sorted((k, x) for k, x in labels.items() if k != "le"))
        s = series.setdefault(key, {"buckets": [], "sum": None, "count": None})
        if sname.endswith("_bucket"):
            s["buckets"].append((float(labels["le"].replace("+Inf", "inf")), v))
        elif sname.endswith("_sum"):
            s["sum"] = v
        else:
            s["count"] = v
    for key, s in series.items():
        les = [le for le, _ in s["buckets"]]
        counts = [c for _, c in s["buckets"]]
        assert les == sorted(les) and les[-1] == float("inf"), "%s%s: le order" % (name, key)
        assert counts == sorted(counts), "%s%s: buckets not cumulative" % (name, key)
        assert counts[-1] == s["count"], "%s%s: +Inf bucket != _count" % (name, key)
        assert s["sum"] is not None and s["sum"] >= 0


def value(families, fam, sample=None, **labels):
    for name, l, v in families[fam]["samples"]:
        if name == (sample or fam) and all(l.get(k) == x for k, x in labels.items()):
            return v
    return None


def metrics(host, **kw):
    r = host.get("/metrics", **kw)
    assert r.status == 200, r.text
    assert r.header("Content-Type").startswith("text/plain; version=0.0.4")
    return parse(r.text)


# ---- the app ------------------------------------------------------------------


@pytest.fixture(scope="module")
def dev_host(module_hosts):
    app = os.path.join(module_hosts.workdir, "app")
    write_app(app, functions(), host=HOST, settings=SETTINGS)
    return module_hosts.start(app)


@pytest.fixture(scope="module")
def exercised(dev_host):
    """The dev host after 3 good and 2 failed HTTP calls, 2 messages handled
    by the queue trigger and 3 left in a queue without a trigger."""
    h = dev_host
    for _ in range(3):
        assert h.get("/api/hello").status == 200
    for _ in range(2):
        assert h.get("/api/boom").status == 500
    assert h.post("/api/enqueue?q=work-q&n=2").status == 200
    assert h.post("/api/enqueue?q=parked-q&n=3").status == 200

    def worker_done():
        f = metrics(h)
        return value(f, "stratus_function_invocations_total", function="worker",
                     status="succeeded") == 2 and f
    assert wait_for(worker_done, timeout=60), h.log()
    return h


def test_invocations_by_function_and_status(exercised):
    f = metrics(exercised)
    inv = "stratus_function_invocations_total"
    assert value(f, inv, function="hello", trigger="httpTrigger", status="succeeded") == 3
    assert value(f, inv, function="hello", status="failed") == 0
    assert value(f, inv, function="boom", status="failed") == 2
    assert value(f, inv, function="boom", status="succeeded") == 0
    assert value(f, inv, function="worker", trigger="queueTrigger", status="succeeded") == 2
    assert value(f, inv, function="enqueue", status="succeeded") == 2
    dur = "stratus_function_duration_seconds"
    assert value(f, dur, dur + "_count", function="hello") == 3
    assert value(f, dur, dur + "_count", function="worker") == 2
    assert value(f, dur, dur + "_bucket", function="boom", le="+Inf") == 2
    assert value(f, "stratus_function_inflight", function="hello") == 0
    assert value(f, "stratus_function_gb_seconds_total", function="hello") >= 3 * 0.0125 - 1e-9


def test_http_queues_workers_and_process(exercised):
    f = metrics(exercised)
    assert value(f, "stratus_http_requests_total", code="200") >= 5
    assert value(f, "stratus_http_requests_total", code="500") >= 2
    assert value(f, "stratus_store_up") == 1
    assert value(f, "stratus_queue_messages", queue="parked-q", state="visible") == 3
    assert value(f, "stratus_queue_messages", queue="parked-q", state="invisible") == 0
    assert value(f, "stratus_queue_oldest_message_age_seconds", queue="parked-q") >= 0
    assert value(f, "stratus_queue_messages", queue="work-q", state="visible") == 0
    assert value(f, "stratus_worker_cold_starts_total", runtime="native") >= 1
    cs = "stratus_worker_cold_start_duration_seconds"
    assert value(f, cs, cs + "_count", runtime="native") >= 1
    assert value(f, "stratus_app_instances", runtime="native") >= 1
    assert value(f, "process_resident_memory_bytes") > 1 << 20
    assert value(f, "process_start_time_seconds") > 1.5e9
    assert value(f, "stratus_uptime_seconds") > 0
    assert value(f, "stratus_build_info") == 1
    # The oldest message ages while it waits.
    age = value(f, "stratus_queue_oldest_message_age_seconds", queue="parked-q")
    assert wait_for(lambda: value(metrics(exercised), "stratus_queue_oldest_message_age_seconds",
                                  queue="parked-q") > age, timeout=30)


def test_metrics_methods(dev_host):
    assert dev_host.request("HEAD", "/metrics").status == 200
    r = dev_host.post("/metrics")
    assert r.status == 405
    assert "GET" in r.header("Allow")


def test_usage_admin_json_and_cli(exercised):
    r = exercised.get("/admin/usage")
    assert r.status == 200, r.text
    u = r.json()
    assert u["rules"] == {"memoryStepMB": 128, "minMemoryMB": 128, "maxMemoryMB": 1536,
                          "minDurationMs": 100, "durationStepMs": 1}
    fns = u["functions"]
    assert fns["hello"]["executions"] == 3
    assert fns["boom"]["executions"] == 2
    assert fns["worker"]["executions"] == 2
    for name in ("hello", "boom", "worker"):
        fu = fns[name]
        # At least 128 MB x 100 ms per execution, in whole 128 MB steps.
        assert fu["mbMilliseconds"] >= fu["executions"] * 128 * 100
        assert fu["mbMilliseconds"] % 128 == 0
        assert abs(fu["gbSeconds"] - fu["mbMilliseconds"] / 1024000) < 1e-6
        assert len(fu["hourly"]) == 1
        assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:00:00Z$", fu["hourly"][0]["hour"])
        assert fu["hourly"][0]["executions"] == fu["executions"]
    out = subprocess.run([BIN, "usage", "--port", str(exercised.port), "--app", exercised.app],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    assert re.search(r"^FUNCTION\s+EXECUTIONS\s+GB-SECONDS$", out.stdout, re.M), out.stdout
    assert re.search(r"^hello\s+3\s+\d+\.\d{4}$", out.stdout, re.M), out.stdout
    assert re.search(r"^worker\s+2\s+\d+\.\d{4}$", out.stdout, re.M), out.stdout
    out = subprocess.run([BIN, "usage", "--hourly", "--port", str(exercised.port), "--app",
                          exercised.app], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    assert re.search(r"^\s+\d{4}-\d\d-\d\dT\d\d:00:00Z\s+3\s", out.stdout, re.M), out.stdout
    out = subprocess.run([BIN, "usage", "--json", "--port", str(exercised.port), "--app",
                          exercised.app], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["functions"]["boom"]["executions"] == 2


def test_usage_cli_help_and_errors(tmp_path):
    out = subprocess.run([BIN, "usage", "--help"], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0 and "--hourly" in out.stdout and "128 MB" in out.stdout
    out = subprocess.run([BIN, "usage", "--bogus"], capture_output=True, text=True, timeout=30)
    assert out.returncode == 2 and "--bogus" in out.stderr
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    out = subprocess.run([BIN, "usage", "--port", str(port), "--app", str(tmp_path)],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 1 and "cannot connect" in out.stderr


def test_auth_on_needs_master_key(make_app, start_host):
    app = make_app({"hello": http_fn("hello", auth="function")})
    host = start_host(app, "--enable-auth")
    r = host.get("/metrics")
    assert r.status == 401 and "master key" in r.text
    r = host.get("/metrics", headers={"x-functions-key": function_key(app, "hello")})
    assert r.status == 403
    key = master_key(app)
    metrics(host, headers={"x-functions-key": key})
    r = host.get("/metrics?code=" + urllib.parse.quote(key))
    assert r.status == 200
    out = subprocess.run([BIN, "usage", "--port", str(host.port), "--app", app],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr


def test_metrics_route_is_reserved(make_app, start_host):
    app = make_app({"metrics": http_fn("metrics"), "hello": http_fn("hello")},
                   host={"version": "2.0", "extensions": {"http": {"routePrefix": ""}}})
    host = start_host(app)
    assert "reserved for the host" in host.log()
    f = metrics(host)
    assert value(f, "stratus_function_invocations_total", function="metrics") is None
    assert host.get("/hello").status == 200


def test_telemetry_off(make_app, start_host):
    app = make_app({"hello": http_fn("hello")},
                   host={"version": "2.0", "stratus": {"telemetry": {"enabled": False}}})
    host = start_host(app)
    assert host.get("/api/hello").status == 200
    r = host.get("/metrics")
    assert r.status == 404 and "stratus.telemetry.enabled" in r.text
    u = host.get("/admin/usage").json()
    assert u["enabled"] is False and u["functions"]["hello"]["executions"] == 0


def test_telemetry_switch_must_be_boolean(make_app, start_host):
    app = make_app({"hello": http_fn("hello")},
                   host={"version": "2.0", "stratus": {"telemetry": {"enabled": "yes"}}})
    host = start_host(app, wait=False)
    host.proc.wait(timeout=30)
    assert host.proc.returncode != 0
    assert "stratus.telemetry.enabled" in host.log()


# ---- a real Prometheus server -------------------------------------------------


def prom_query(base, query):
    url = base + "/api/v1/query?" + urllib.parse.urlencode({"query": query})
    with urllib.request.urlopen(url, timeout=10) as r:
        doc = json.loads(r.read())
    assert doc["status"] == "success", doc
    return doc["data"]["result"]


def test_prometheus_scrapes_and_answers(make_app, start_host, tmp_path):
    prom = shutil.which("prometheus") or (
        "/usr/bin/prometheus" if os.path.exists("/usr/bin/prometheus") else None)
    assert prom, ("the prometheus server is not installed: scripts/deps.sh installs the "
                  "Debian package 'prometheus' (run `make test` or `sh scripts/deps.sh`)")
    app = make_app({"hello": http_fn("hello", auth="function")})
    host = start_host(app, "--enable-auth")
    key = master_key(app)
    hkey = function_key(app, "hello")
    for _ in range(4):
        assert host.get("/api/hello", headers={"x-functions-key": hkey}).status == 200
    port = free_port()
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
        "scrape_configs:\n"
        "  - job_name: stratus\n"
        "    scrape_interval: 1s\n"
        "    metrics_path: /metrics\n"
        "    params:\n      code: ['%s']\n"
        "    static_configs:\n      - targets: ['127.0.0.1:%d']\n" % (key, host.port))
    log = open(tmp_path / "prometheus.log", "wb")
    proc = subprocess.Popen([prom, "--config.file=" + str(config),
                             "--storage.tsdb.path=" + str(tmp_path / "tsdb"),
                             "--web.listen-address=127.0.0.1:%d" % port],
                            stdout=log, stderr=subprocess.STDOUT)
    log.close()
    base = "http://127.0.0.1:%d" % port

    def prom_log():
        return (tmp_path / "prometheus.log").read_text(errors="replace")[-3000:]
    try:
        def scraped():
            if proc.poll() is not None:
                raise AssertionError("prometheus exited:\n" + prom_log())
            try:
                up = prom_query(base, 'up{job="stratus"}')
            except OSError:
                return None
            return up and up[0]["value"][1] == "1"
        assert wait_for(scraped, timeout=90, interval=0.5), "no scrape:\n" + prom_log()
        q = 'stratus_function_invocations_total{function="hello",status="succeeded"}'

        def four():
            res = prom_query(base, q)
            return res and res[0]["value"][1] == "4" and res
        res = wait_for(four, timeout=60, interval=0.5)
        assert res, "Prometheus answered %r\n%s" % (prom_query(base, q), prom_log())
        assert res[0]["metric"]["trigger"] == "httpTrigger"
        assert res[0]["metric"]["job"] == "stratus"
        # One more call shows up in a later scrape.
        assert host.get("/api/hello", headers={"x-functions-key": hkey}).status == 200
        assert wait_for(lambda: prom_query(base, q)[0]["value"][1] == "5", timeout=60,
                        interval=0.5), prom_log()
        hist = prom_query(base, 'stratus_function_duration_seconds_count{function="hello"}')
        assert hist and hist[0]["value"][1] == "5"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
