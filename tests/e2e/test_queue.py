"""Queue trigger and queue output (docs/queue.md; AZURE-CONTRACT.md sections 2
and 3): delivery with Azure's metadata, output bindings written only after
success (HTTP -> queue -> queue trigger -> queue), retries after
visibilityTimeout, the poison queue after exactly maxDequeueCount tries,
retry policies with their RetryContext, configuration errors, and
at-least-once delivery across a kill -9 of the host."""
import json
import os
import re
import signal
import time

import pytest

from conftest import master_key, wait_for, write_app

SETTINGS_VALUES = {"FUNCTIONS_WORKER_RUNTIME": "native"}

# A queue-triggered function that appends one tab-separated line per
# attempt to OUT_DIR/<function>.txt: body, Id, DequeueCount, retry count,
# time. BEHAVIOUR decides the outcome.
RECORD_C = r"""
#include <stratus.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int ENTRY(stratus_ctx *ctx)
{
    size_t n;
    const char *body = stratus_trigger_data(ctx, &n);
    const char *id = stratus_trigger_meta(ctx, "Id");
    const char *dq = stratus_trigger_meta(ctx, "DequeueCount");
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.txt", stratus_setting(ctx, "OUT_DIR"),
             stratus_function_name(ctx));
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    FILE *f = fopen(path, "a");
    if (!f)
        return 1;
    fprintf(f, "%s\t%s\t%s\t%d\t%.3f\n", body, id ? id : "-", dq ? dq : "-",
            stratus_retry_count(ctx), ts.tv_sec + ts.tv_nsec / 1e9);
    fclose(f);
    BEHAVIOUR
}
"""

# Writes every metadata value it got, then passes the message on to queue
# "chain-{name}" (a property of the JSON body).
META_C = r"""
#include <stratus.h>
#include <stdio.h>

int meta(stratus_ctx *ctx)
{
    static const char *const names[] = {"Id", "DequeueCount", "InsertionTime",
        "ExpirationTime", "NextVisibleTime", "PopReceipt", "QueueTrigger", "name", NULL};
    char path[4096];
    snprintf(path, sizeof path, "%s/meta.txt", stratus_setting(ctx, "OUT_DIR"));
    FILE *f = fopen(path, "a");
    if (!f)
        return 1;
    for (int i = 0; names[i]; i++) {
        const char *v = stratus_trigger_meta(ctx, names[i]);
        fprintf(f, "%s%s=%s", i ? "\t" : "", names[i], v ? v : "(none)");
    }
    fprintf(f, "\n");
    fclose(f);
    size_t n;
    const char *body = stratus_trigger_data(ctx, &n);
    stratus_output(ctx, "next", body, n);
    return 0;
}
"""

# HTTP: ?q=<queue>&n=<count>&prefix=<p>[&json=1][&fail=1]: n messages
# "<p>-<i>" (or {"name": "<p>-<i>"}) into queue q through stratus_output_add.
ENQUEUE_C = r"""
#include <stratus.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int enqueue(stratus_ctx *ctx)
{
    const char *ns = stratus_req_query(ctx, "n");
    const char *prefix = stratus_req_query(ctx, "prefix");
    const char *start = stratus_req_query(ctx, "start");
    int json = stratus_req_query(ctx, "json") != NULL;
    long n = ns ? atol(ns) : 1, s = start ? atol(start) : 0;
    char msg[256];
    for (long i = s; i < s + n; i++) {
        int len = json ? snprintf(msg, sizeof msg, "{\"name\": \"%s-%ld\"}", prefix, i)
                       : snprintf(msg, sizeof msg, "%s-%ld", prefix, i);
        if (stratus_output_add(ctx, "out", msg, (size_t)len) != 0)
            return 1;
    }
    if (stratus_req_query(ctx, "fail"))
        return 1;
    stratus_res_printf(ctx, "queued %ld\n", n);
    return 0;
}
"""


def queue_fn(name, queue, behaviour="return 0;", extra_bindings=(), extra=None,
             source=None):
    trig = {"type": "queueTrigger", "direction": "in", "name": "msg", "queueName": queue}
    fj = {"scriptFile": name + ".so", "bindings": [trig] + list(extra_bindings)}
    if extra:
        fj.update(extra)
    src = source or RECORD_C.replace("ENTRY", name).replace("BEHAVIOUR", behaviour)
    return {"function.json": fj, name + ".c": src}


def enqueue_fn(queue_name="{q}"):
    return {
        "function.json": {
            "scriptFile": "enqueue.so",
            "bindings": [
                {"type": "httpTrigger", "direction": "in", "name": "req",
                 "authLevel": "anonymous", "methods": ["post"]},
                {"type": "http", "direction": "out", "name": "res"},
                {"type": "queue", "direction": "out", "name": "out", "queueName": queue_name},
            ]},
        "enqueue.c": ENQUEUE_C,
    }


def records(out_dir, name):
    try:
        with open(os.path.join(out_dir, name + ".txt")) as f:
            return [line.rstrip("\n").split("\t") for line in f if line.endswith("\n")]
    except FileNotFoundError:
        return []


def settings(out_dir, **values):
    v = dict(SETTINGS_VALUES, OUT_DIR=out_dir)
    v.update(values)
    return {"IsEncrypted": False, "Values": v}


# ---- one app for most behaviours ------------------------------------------

MAIN_HOST = {"version": "2.0",
             "extensions": {"queues": {"maxDequeueCount": 3, "visibilityTimeout": "00:00:01",
                                       "maxPollingInterval": "00:00:02"}}}


@pytest.fixture(scope="module")
def main_app(module_hosts):
    out = os.path.join(module_hosts.workdir, "out")
    os.makedirs(out)
    side = {"type": "queue", "direction": "out", "name": "side", "queueName": "side-q"}
    fns = {
        "enqueue": enqueue_fn(),
        "items": queue_fn("items", "items"),
        "meta": {"function.json": {"scriptFile": "meta.so", "bindings": [
            {"type": "queueTrigger", "direction": "in", "name": "msg", "queueName": "%META_Q%"},
            {"type": "queue", "direction": "out", "name": "next", "queueName": "chain-{name}"}]},
            "meta.c": META_C},
        "chained": queue_fn("chained", "chain-alpha-1"),
        "sidefx": queue_fn("sidefx", "side-q"),
        "fails": queue_fn("fails", "fails-q", 'stratus_output(ctx, "side", "x", 1);\n'
                          "    return 1;", extra_bindings=[side]),
        "poisoned": queue_fn("poisoned", "fails-q-poison"),
        "flaky": queue_fn("flaky", "flaky-q",
                          'return strcmp(dq ? dq : "", "1") == 0 ? 1 : 0;'),
        "retried": queue_fn("retried", "retried-q",
                            "return stratus_retry_count(ctx) < 2 ? 1 : 0;",
                            extra={"retry": {"strategy": "fixedDelay", "maxRetryCount": 2,
                                             "delayInterval": "00:00:00.200"}}),
        # Broken configurations: each reported, none stops the others.
        "noname": {"function.json": {"scriptFile": "noname.so", "bindings": [
            {"type": "queueTrigger", "direction": "in", "name": "msg"}]},
            "noname.c": RECORD_C.replace("ENTRY", "noname").replace("BEHAVIOUR", "return 0;")},
        "badname": queue_fn("badname", "bad_queue!"),
        "exprname": queue_fn("exprname", "items-{name}"),
        "unsetname": queue_fn("unsetname", "%NOT_SET_QUEUE_SETTING%"),
        "badout": queue_fn("badout", "badout-q", extra_bindings=[
            {"type": "queue", "direction": "out", "name": "o"}]),
    }
    app = write_app(os.path.join(module_hosts.workdir, "main"), fns, host=MAIN_HOST,
                    settings=settings(out, META_Q="meta-q"))
    host = module_hosts.start(app)
    return host, out


def post(host, path):
    r = host.post(path, timeout=60)
    return r


def test_trigger_gets_body_and_metadata(main_app):
    host, out = main_app
    r = post(host, "/api/enqueue?q=meta-q&n=1&prefix=alpha&json=1")
    assert r.status == 200, r.text
    rows = wait_for(lambda: records(out, "meta"), timeout=30)
    assert rows, host.log()[-3000:]
    got = dict(kv.split("=", 1) for kv in rows[0])
    assert re.fullmatch(r"[0-9a-f-]{36}", got["Id"])
    assert got["DequeueCount"] == "1"
    iso = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00"
    for k in ("InsertionTime", "ExpirationTime", "NextVisibleTime"):
        assert re.fullmatch(iso, got[k]), (k, got[k])
    assert got["InsertionTime"] < got["NextVisibleTime"] < got["ExpirationTime"]
    assert re.fullmatch(r"[0-9a-f-]{36}", got["PopReceipt"])
    assert json.loads(got["QueueTrigger"]) == {"name": "alpha-0"}
    assert got["name"] == "alpha-0"  # a property of the JSON body
    # ... and its output went on to queue "chain-{name}" = chain-alpha-0: the
    # next test reads a queue named from another message.


def test_run_by_hand_gets_a_message_made_from_the_input(main_app):
    """As Azure's queue trigger converts the admin API's input: a message
    never queued (no Id, no PopReceipt, DequeueCount 0), inserted now and
    never expiring; QueueTrigger is the input and a JSON object's
    properties are binding data. The input is not put on the queue."""
    host, out = main_app
    text = json.dumps({"name": "byhand-1"})
    r = host.post("/admin/functions/meta", body=json.dumps({"input": text}).encode(),
                  headers={"x-functions-key": master_key(host.app)})
    assert r.status == 202, r.text

    def mine():
        for row in records(out, "meta"):
            got = dict(kv.split("=", 1) for kv in row)
            if got["name"] == "byhand-1":
                return got
    got = wait_for(mine, timeout=30)
    assert got, host.log()[-3000:]
    assert got["QueueTrigger"] == text
    assert got["DequeueCount"] == "0"
    assert got["Id"] == "(none)" and got["PopReceipt"] == "(none)", got  # JSON null
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00", got["InsertionTime"])
    assert got["ExpirationTime"] == got["NextVisibleTime"] == "9999-12-31T23:59:59+00:00"
    # Its output went on ("chain-{name}"); nothing went on the trigger's queue.
    q = wait_for(lambda: host.get("/admin/queues/chain-byhand-1").json().get("visible"))
    assert q == 1, host.get("/admin/queues/chain-byhand-1").text
    time.sleep(1)
    assert len([r for r in records(out, "meta") if "name=byhand-1" in r]) == 1


def test_properties_of_a_json_message_win_over_built_in_binding_data(main_app):
    """As in Azure, a property of a JSON message named like built-in binding
    data (an order's "Id") is what {Id} and the metadata give, on delivery
    and on a run by hand; the message itself is still handled by its own id."""
    host, out = main_app
    key = {"x-functions-key": master_key(host.app)}
    r = host.post("/admin/queues/meta-q/messages",
                  body=json.dumps({"name": "own-1", "Id": "order-7"}).encode(), headers=key)
    assert r.status == 201, r.text
    r = host.post("/admin/functions/meta", headers=key,
                  body=json.dumps({"input": json.dumps({"name": "own-2", "id": "order-8"})}).encode())
    assert r.status == 202, r.text

    def mine(name):
        for row in records(out, "meta"):
            got = dict(kv.split("=", 1) for kv in row)
            if got["name"] == name:
                return got
    got = wait_for(lambda: mine("own-1"), timeout=30)
    assert got and got["Id"] == "order-7", (got, host.log()[-3000:])
    assert got["DequeueCount"] == "1" and re.fullmatch(r"[0-9a-f-]{36}", got["PopReceipt"])
    got = wait_for(lambda: mine("own-2"), timeout=30)
    assert got and got["Id"] == "order-8", got  # matched ignoring case, as Azure
    # The delivered message was deleted by its real id: the queue is empty.
    assert wait_for(lambda: host.get("/admin/queues/meta-q", headers=key).json().get("visible") == 0
                    and host.get("/admin/queues/meta-q", headers=key).json().get("invisible", 0) == 0,
                    timeout=30), host.get("/admin/queues/meta-q", headers=key).text


def test_output_chain_with_expression_and_several_messages(main_app):
    host, out = main_app
    # HTTP -> "meta-q" (3 messages from stratus_output_add) -> meta -> chain-alpha-<i>.
    r = post(host, "/api/enqueue?q=meta-q&n=3&start=1&prefix=alpha&json=1")
    assert r.status == 200, r.text
    rows = wait_for(lambda: records(out, "chained"), timeout=30)
    assert rows, host.log()[-3000:]
    assert json.loads(rows[0][0]) == {"name": "alpha-1"}
    # HTTP -> queue "items" with several messages -> items.
    r = post(host, "/api/enqueue?q=items&n=50&prefix=it")
    assert r.status == 200, r.text
    rows = wait_for(lambda: len(records(out, "items")) >= 50 and records(out, "items"))
    assert sorted(r[0] for r in rows) == sorted("it-%d" % i for i in range(50))
    assert all(r[2] == "1" for r in rows)


def test_outputs_not_written_when_function_fails(main_app):
    host, out = main_app
    r = post(host, "/api/enqueue?q=items&n=5&prefix=failed&fail=1")
    assert r.status == 500
    r = post(host, "/api/enqueue?q=items&n=1&prefix=marker")
    assert r.status == 200
    assert wait_for(lambda: any(x[0] == "marker-0" for x in records(out, "items")))
    assert not [x for x in records(out, "items") if x[0].startswith("failed-")]


def test_poison_after_exactly_max_dequeue_count(main_app):
    host, out = main_app
    r = post(host, "/api/enqueue?q=fails-q&n=1&prefix=doomed")
    assert r.status == 200
    rows = wait_for(lambda: records(out, "poisoned"), timeout=60)
    assert rows, host.log()[-3000:]
    assert rows[0][0] == "doomed-0"
    attempts = [x for x in records(out, "fails") if x[0] == "doomed-0"]
    assert [a[2] for a in attempts] == ["1", "2", "3"]  # maxDequeueCount 3
    # Each retry came visibilityTimeout (1 s) after the failure.
    times = [float(a[4]) for a in attempts]
    assert all(b - a >= 0.9 for a, b in zip(times, times[1:])), times
    log = host.log()
    assert re.search(r"Message '%s' of queue 'fails-q' failed 3 time\(s\).*moved to queue "
                     r"'fails-q-poison'" % re.escape(attempts[0][1]), log), log[-3000:]
    # The failing function set an output each time: none was written.
    time.sleep(0.5)
    assert records(out, "sidefx") == []


def test_retry_after_visibility_timeout(main_app):
    host, out = main_app
    assert post(host, "/api/enqueue?q=flaky-q&n=1&prefix=flaky").status == 200
    rows = wait_for(lambda: len(records(out, "flaky")) >= 2 and records(out, "flaky"),
                    timeout=30)
    assert rows, host.log()[-3000:]
    assert [r[2] for r in rows] == ["1", "2"]
    assert rows[0][1] == rows[1][1]  # the same message
    assert float(rows[1][4]) - float(rows[0][4]) >= 0.9
    time.sleep(1.5)
    assert len(records(out, "flaky")) == 2  # deleted after the success


def test_retry_policy_fixed_delay(main_app):
    host, out = main_app
    assert post(host, "/api/enqueue?q=retried-q&n=1&prefix=r").status == 200
    rows = wait_for(lambda: len(records(out, "retried")) >= 3 and records(out, "retried"),
                    timeout=30)
    assert rows, host.log()[-3000:]
    # Three attempts of one delivery: RetryContext counts 0, 1, 2.
    assert [r[3] for r in rows] == ["0", "1", "2"]
    assert [r[2] for r in rows] == ["1", "1", "1"]
    time.sleep(1.5)
    assert len(records(out, "retried")) == 3


def test_bad_configurations_are_reported(main_app):
    host, out = main_app
    log = host.log()
    expected = {
        "noname": r"noname.*binding 'msg' \(queueTrigger\): field 'queueName' is required",
        "badname": r"badname.*field 'queueName': 'bad_queue!' is not a valid queue name",
        "exprname": r"exprname.*field 'queueName': 'items-\{name\}' holds a binding expression",
        "unsetname": r"unsetname.*field 'queueName'.*NOT_SET_QUEUE_SETTING",
        "badout": r"badout.*binding 'o' \(queue\): field 'queueName' is required",
    }
    for name, pattern in expected.items():
        assert re.search(pattern, log), (name, log[-4000:])
    # The others run (the earlier tests), and the host is alive.
    assert host.alive()


def test_bad_host_json_queue_settings(make_app, start_host, tmp_path):
    out = str(tmp_path / "out")
    os.makedirs(out)
    app = make_app({"items": queue_fn("items", "items"), "enqueue": enqueue_fn()},
                   host={"version": "2.0", "extensions": {"queues": {"batchSize": 64}}},
                   settings=settings(out))
    host = start_host(app)
    assert wait_for(lambda: "extensions.queues.batchSize" in host.log(), timeout=30)
    assert re.search(r"items.*'extensions.queues.batchSize': expected an integer from 1 to 32, "
                     r"got 64", host.log())
    assert post(host, "/api/enqueue?q=items&n=1&prefix=x").status == 200


# ---- at-least-once across kill -9 ------------------------------------------

def test_at_least_once_across_kill(make_app, start_host, tmp_path):
    total = 10000
    out = str(tmp_path / "out")
    os.makedirs(out)
    # Slow enough (about 0.3 ms a message) to be killed in the middle.
    work = queue_fn("work", "work", "usleep(300);\n    return 0;")
    app = make_app({"work": work, "enqueue": enqueue_fn()}, settings=settings(out))
    host = start_host(app)
    for start in range(0, total, 1000):
        r = host.post("/api/enqueue?q=work&n=1000&start=%d&prefix=m" % start, timeout=60)
        assert r.status == 200, r.text
    assert wait_for(lambda: len(records(out, "work")) >= 2000, timeout=60)
    host.proc.send_signal(signal.SIGKILL)
    host.proc.wait()
    done_before = len(records(out, "work"))
    assert done_before < total, "the run ended before the kill"

    host2 = start_host(app)
    seen = wait_for(lambda: len({r[0] for r in records(out, "work")}) >= total
                    and records(out, "work"), timeout=120)
    assert seen, "not every message was processed: %d of %d\n%s" % (
        len({r[0] for r in records(out, "work")}), total, host2.log()[-3000:])

    # Every body has been seen; a redelivered copy may still be running.
    # Once the queue is empty nothing more can run.
    def drained():
        r = host2.get("/admin/queues/work")
        return r.status == 200 and r.json()["visible"] == 0 and r.json()["invisible"] == 0
    assert wait_for(drained, timeout=60), host2.get("/admin/queues/work").text
    seen = records(out, "work")
    bodies = [r[0] for r in seen]
    assert set(bodies) == {"m-%d" % i for i in range(total)}
    duplicates = len(bodies) - len(set(bodies))
    # At most the messages in flight at the kill: batchSize + newBatchThreshold.
    assert duplicates <= 16 + 8, duplicates
    # Messages leased at the kill came back at the restart (not after their
    # lease of more than 10 minutes); none leased: nothing could run twice.
    released = re.search(r"Queue 'work': (\d+) message\(s\) left in flight by an earlier run "
                         r"are visible again", host2.log())
    assert released or duplicates == 0, host2.log()[-3000:]
    if released:
        assert duplicates <= int(released.group(1))
    time.sleep(0.5)
    assert len(records(out, "work")) == len(bodies)
