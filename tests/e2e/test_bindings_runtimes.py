"""Queue, timer and blob bindings through the whole host for the Python,
Node.js and custom handler runtimes: a function started through the admin
API puts messages on a queue output; a queue-triggered function receives
them with Azure's types and metadata, reads a blob input and writes a blob
output; a timer-triggered function sees its TimerInfo. Functions report
what they saw by writing files in the app folder.

These tests need the queueTrigger, queue, timerTrigger and blob binding
kinds: on a host that does not know one of them they are skipped, with the
host's own message as the reason."""
import json
import os
import re

import pytest

from conftest import master_key, wait_for

BLOB_ROOT = os.path.join(".stratus", "blobs")


def start_app(start_host, app):
    """Start the host on app; skip when it does not know a binding type."""
    h = start_host(app, wait=False)
    if h.port is not None:
        wait_for(lambda: "unknown binding type" in h.log() or
                 h.get("/admin/host/ping").status == 200, timeout=60)
    log = h.log()
    if "unknown binding type" in log:
        line = next(ln for ln in log.splitlines() if "unknown binding type" in ln)
        pytest.skip("the host does not have this binding kind yet: " + line.strip())
    assert h.port is not None, "host did not start:\n" + log
    return h


def make_bindings_app(make_app, runtime, functions, host=None, files=None):
    """An app of functions {name: (bindings, {file: text})} with
    docs/readme.txt in its blob store."""
    app = make_app({name: dict({"function.json": {"bindings": b}}, **code)
                    for name, (b, code) in functions.items()}, host=host,
                   settings={"IsEncrypted": False,
                             "Values": {"FUNCTIONS_WORKER_RUNTIME": runtime}},
                   files=files)
    put_blob(app, "docs", "readme.txt", b"the readme")
    return app


def run_admin(h, app, name, text):
    r = h.request("POST", "/admin/functions/" + name, body=json.dumps({"input": text}).encode(),
                  headers={"x-functions-key": master_key(app),
                           "Content-Type": "application/json"})
    assert r.status == 202, (r.status, r.body)


def put_blob(app, container, name, data):
    d = os.path.join(app, BLOB_ROOT, container)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def read_reports(app, folder, count, h, timeout=60):
    """The JSON files in app/folder once there are count of them."""
    d = os.path.join(app, folder)

    def ready():
        # Functions rewrite their reports (a timer every second): a file
        # may be caught empty or half written, so read until all parse.
        try:
            names = sorted(n for n in os.listdir(d) if n.endswith(".json"))
            if len(names) < count:
                return None
            out = []
            for n in names:
                with open(os.path.join(d, n)) as f:
                    out.append(json.load(f))
            return out
        except (OSError, ValueError):
            return None
    out = wait_for(ready, timeout=timeout)
    assert out, "no %d reports in %s; host log:\n%s" % (count, folder, h.log()[-4000:])
    return out


def blob_texts(app, container, count, timeout=30):
    d = os.path.join(app, BLOB_ROOT, container)

    def ready():
        try:
            # outputs are written to a hidden temporary name and renamed
            names = sorted(n for n in os.listdir(d) if not n.startswith("."))
        except OSError:
            return None
        return names if len(names) >= count else None
    names = wait_for(ready, timeout=timeout) or []
    texts = []
    for n in names:
        with open(os.path.join(d, n), "rb") as f:
            texts.append(f.read())
    return texts


def queue_fn(queue, extra=()):
    return [{"type": "queueTrigger", "direction": "in", "name": "msg",
             "queueName": queue}] + list(extra)


QUEUE_OUT = {"type": "queue", "direction": "out", "name": "nxt", "queueName": "results"}
DOC_IN = {"type": "blob", "direction": "in", "name": "doc", "path": "docs/readme.txt"}
BLOB_RETURN = {"type": "blob", "direction": "out", "name": "$return",
               "path": "outbox/{rand-guid}.txt"}
TIMER = [{"type": "timerTrigger", "direction": "in", "name": "mytimer",
          "schedule": "*/1 * * * * *"}]


# ---- Python ----

PY_FIRST = '''
import json
from typing import List
import azure.functions as func

def main(msg: func.QueueMessage, nxt: func.Out[List[str]]) -> None:
    n = msg.get_json()["n"]
    nxt.set([json.dumps({"n": n, "i": i}) for i in range(2)])
'''

PY_SECOND = '''
import datetime
import json
import os
import azure.functions as func

def main(msg: func.QueueMessage, doc: func.InputStream, context: func.Context) -> str:
    body = msg.get_json()
    report = {
        "type": type(msg).__name__, "body": body, "id": msg.id,
        "dequeue_count": msg.dequeue_count, "count_is_int": type(msg.dequeue_count) is int,
        "insertion_is_datetime": isinstance(msg.insertion_time, datetime.datetime),
        "insertion_utc": msg.insertion_time is not None and
                         msg.insertion_time.utcoffset() == datetime.timedelta(0),
        "pop_receipt_is_str": isinstance(msg.pop_receipt, str),
        "doc": doc.read().decode() if doc is not None else None,
        "retry": context.retry_context.retry_count,
    }
    d = os.path.join(os.environ["STRATUS_APP_ROOT"], "seen")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "%d-%d.json" % (body["n"], body["i"])), "w") as f:
        json.dump(report, f)
    return "blob for %d" % body["i"]
'''

PY_TICK = '''
import json
import os
import azure.functions as func

def main(mytimer: func.TimerRequest) -> None:
    d = os.path.join(os.environ["STRATUS_APP_ROOT"], "ticks")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "tick.json"), "w") as f:
        json.dump({"type": type(mytimer).__name__, "past_due": mytimer.past_due}, f)
'''


def test_python_queue_blob_and_timer(make_app, start_host):
    app = make_bindings_app(make_app, "python", {
        "first": (queue_fn("jobs", [QUEUE_OUT]), {"__init__.py": PY_FIRST}),
        "second": (queue_fn("results", [DOC_IN, BLOB_RETURN]), {"__init__.py": PY_SECOND}),
        "tick": (TIMER, {"__init__.py": PY_TICK})})
    h = start_app(start_host, app)
    run_admin(h, app, "first", json.dumps({"n": 7}))
    reports = read_reports(app, "seen", 2, h)
    for i, r in enumerate(reports):
        assert r["type"] == "QueueMessage"
        assert r["body"] == {"n": 7, "i": i}
        assert r["id"] and r["count_is_int"] and r["dequeue_count"] == 1
        assert r["insertion_is_datetime"] and r["insertion_utc"] and r["pop_receipt_is_str"]
        assert r["doc"] == "the readme"
        assert r["retry"] == 0
    assert sorted(blob_texts(app, "outbox", 2)) == [b"blob for 0", b"blob for 1"]
    tick = read_reports(app, "ticks", 1, h)[0]
    assert tick == {"type": "TimerRequest", "past_due": False}


# ---- Node.js ----

NODE_FIRST = r"""
module.exports = async function (context, msg) {
  context.bindings.nxt = [0, 1].map((i) => ({ n: msg.n, i }));
};
"""

NODE_SECOND = r"""
const fs = require('fs');
const path = require('path');
module.exports = async function (context, msg, doc) {
  const bd = context.bindingData;
  const d = path.join(process.env.STRATUS_APP_ROOT, 'seen');
  fs.mkdirSync(d, { recursive: true });
  fs.writeFileSync(path.join(d, msg.n + '-' + msg.i + '.json'), JSON.stringify({
    msg, same: context.bindings.msg === msg, dequeueCount: bd.dequeueCount, id: bd.id,
    hasInsertion: typeof bd.insertionTime === 'string', sys: bd.sys.methodName,
    docIsBuffer: Buffer.isBuffer(doc), doc: doc ? doc.toString() : null,
  }));
  return Buffer.from('blob for ' + msg.i);
};
"""

NODE_TICK = r"""
const fs = require('fs');
const path = require('path');
module.exports = async function (context, mytimer) {
  const d = path.join(process.env.STRATUS_APP_ROOT, 'ticks');
  fs.mkdirSync(d, { recursive: true });
  fs.writeFileSync(path.join(d, 'tick.json'), JSON.stringify({
    keys: Object.keys(mytimer).sort(), isPastDue: mytimer.isPastDue }));
};
"""


def test_node_queue_blob_and_timer(make_app, start_host):
    app = make_bindings_app(make_app, "node", {
        "first": (queue_fn("jobs", [QUEUE_OUT]), {"index.js": NODE_FIRST}),
        "second": (queue_fn("results", [DOC_IN, BLOB_RETURN]), {"index.js": NODE_SECOND}),
        "tick": (TIMER, {"index.js": NODE_TICK})})
    h = start_app(start_host, app)
    run_admin(h, app, "first", json.dumps({"n": 3}))
    reports = read_reports(app, "seen", 2, h)
    for i, r in enumerate(reports):
        assert r["msg"] == {"n": 3, "i": i} and r["same"]
        assert r["dequeueCount"] == 1 and r["id"] and r["hasInsertion"]
        assert r["sys"] == "second"
        assert r["docIsBuffer"] and r["doc"] == "the readme"
    assert sorted(blob_texts(app, "outbox", 2)) == [b"blob for 0", b"blob for 1"]
    tick = read_reports(app, "ticks", 1, h)[0]
    assert tick == {"keys": ["isPastDue", "schedule", "scheduleStatus"], "isPastDue": False}


# ---- custom handlers ----

HANDLER_JS = r"""
const http = require('http');
const fs = require('fs');
const path = require('path');
const root = process.env.STRATUS_APP_ROOT || process.cwd();
http.createServer((req, res) => {
  let body = '';
  req.on('data', (c) => body += c);
  req.on('end', () => {
    if (req.url === '/') { res.end('ready'); return; }
    const p = body ? JSON.parse(body) : {};
    const fn = req.url.slice(1);
    let answer = { Outputs: {}, Logs: ['ran ' + fn], ReturnValue: null };
    // A queue message is a string, sent as its JSON text (as Azure does):
    // parsed once for the text, and once more for the JSON in it.
    if (fn === 'first') {
      const m = JSON.parse(JSON.parse(p.Data.msg));
      answer.Outputs.nxt = [0, 1].map((i) => JSON.stringify({ n: m.n, i }));
    } else if (fn === 'second') {
      const m = JSON.parse(JSON.parse(p.Data.msg));
      const d = path.join(root, 'seen');
      fs.mkdirSync(d, { recursive: true });
      fs.writeFileSync(path.join(d, m.n + '-' + m.i + '.json'), JSON.stringify({
        data: p.Data, meta: p.Metadata, invocation: req.headers['x-azure-functions-invocationid'] }));
      // As in Azure, an output string that is valid base64 is the bytes it
      // encodes ('blob for 0' is: spaces are read past), so text goes so.
      answer.ReturnValue = Buffer.from('blob for ' + m.i).toString('base64');
    } else if (fn === 'tick') {
      const d = path.join(root, 'ticks');
      fs.mkdirSync(d, { recursive: true });
      fs.writeFileSync(path.join(d, 'tick.json'), JSON.stringify(p));
    }
    res.setHeader('Content-Type', 'application/json');
    res.end(JSON.stringify(answer));
  });
}).listen(process.env.FUNCTIONS_CUSTOMHANDLER_PORT, '127.0.0.1');
"""


def test_custom_handler_queue_blob_and_timer(make_app, start_host):
    host = {"version": "2.0", "customHandler": {"description": {
        "defaultExecutablePath": "node", "arguments": ["handler.js"]}}}
    app = make_bindings_app(make_app, "custom", {
        "first": (queue_fn("jobs", [QUEUE_OUT]), {}),
        "second": (queue_fn("results", [DOC_IN, BLOB_RETURN]), {}),
        "tick": (TIMER, {})}, host=host, files={"handler.js": HANDLER_JS})
    h = start_app(start_host, app)
    run_admin(h, app, "first", json.dumps({"n": 4}))
    reports = read_reports(app, "seen", 2, h)
    for i, r in enumerate(reports):
        # Text (the message, the blob input, the message's Id) arrives as its
        # JSON text, DequeueCount as "1", the times as JSON dates, as Azure
        # sends them; the JSON message's properties join the Metadata.
        msg = json.loads(r["data"]["msg"])
        assert json.loads(msg) == {"n": 4, "i": i}
        assert r["data"]["doc"] == '"the readme"'
        meta = r["meta"]
        assert meta["DequeueCount"] == "1"
        assert json.loads(meta["Id"]) and json.loads(meta["PopReceipt"])
        assert meta["Id"].startswith('"') and meta["PopReceipt"].startswith('"')
        assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00$", meta["InsertionTime"])
        assert "QueueTrigger" not in meta
        assert meta["n"] == '"4"' and meta["i"] == '"%d"' % i
        assert meta["sys"]["MethodName"] == "second"
        assert r["invocation"]
    assert sorted(blob_texts(app, "outbox", 2)) == [b"blob for 0", b"blob for 1"]
    tick = read_reports(app, "ticks", 1, h)[0]
    assert isinstance(tick["Data"]["mytimer"], dict)
    assert tick["Data"]["mytimer"]["IsPastDue"] is False
    assert tick["Metadata"]["sys"]["MethodName"] == "tick"


# ---- every runtime: RetryContext's exception, timer functions run by hand ----

RETRIED = {"retry": {"strategy": "fixedDelay", "maxRetryCount": 1, "delayInterval": "00:00:01"}}
HAND_TIMER = [{"type": "timerTrigger", "direction": "in", "name": "mytimer",
               "schedule": "0 0 0 1 1 *"}]

NODE_RETRIED = r"""
const fs = require('fs');
const path = require('path');
module.exports = async function (context, msg) {
  const rc = context.executionContext.retryContext;
  if (rc.retryCount === 0) throw new Error('boom on the first try');
  const d = path.join(process.env.AzureWebJobsScriptRoot, 'retried');
  fs.mkdirSync(d, { recursive: true });
  fs.writeFileSync(path.join(d, 'rc.json'), JSON.stringify({
    count: rc.retryCount, max: rc.maxRetryCount, message: rc.exception.message,
    stack: rc.exception.stackTrace, source: rc.exception.source }));
};
"""

NODE_HAND_TIMER = r"""
const fs = require('fs');
const path = require('path');
module.exports = async function (context, mytimer) {
  const d = path.join(process.env.AzureWebJobsScriptRoot, 'ran-by-hand');
  fs.mkdirSync(d, { recursive: true });
  fs.writeFileSync(path.join(d, 't.json'), JSON.stringify({ isPastDue: mytimer.isPastDue }));
};
"""

PY_RETRIED = '''
import json
import os
import azure.functions as func

def main(msg: func.QueueMessage, context: func.Context) -> None:
    rc = context.retry_context
    if rc.retry_count == 0:
        raise ValueError("boom on the first try")
    d = os.path.join(os.environ["AzureWebJobsScriptRoot"], "retried")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "rc.json"), "w") as f:
        json.dump({"count": rc.retry_count, "max": rc.max_retry_count,
                   "message": rc.exception.message, "stack": rc.exception.stack_trace,
                   "source": rc.exception.source}, f)
'''

PY_HAND_TIMER = '''
import json
import os
import azure.functions as func

def main(mytimer: func.TimerRequest) -> None:
    d = os.path.join(os.environ["AzureWebJobsScriptRoot"], "ran-by-hand")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "t.json"), "w") as f:
        json.dump({"isPastDue": mytimer.past_due}, f)
'''

HANDLER_RETRIED_JS = r"""
const http = require('http');
const fs = require('fs');
const path = require('path');
const root = process.env.AzureWebJobsScriptRoot;
function report(dir, value) {
  fs.mkdirSync(path.join(root, dir), { recursive: true });
  fs.writeFileSync(path.join(root, dir, dir === 'ran-by-hand' ? 't.json' : 'rc.json'), JSON.stringify(value));
}
http.createServer((req, res) => {
  let body = '';
  req.on('data', (c) => body += c);
  req.on('end', () => {
    if (req.url === '/') { res.end('ready'); return; }
    const p = JSON.parse(body);
    if (req.url === '/flaky') {
      const rc = p.Metadata.RetryContext;
      if (rc.RetryCount === 0) { res.statusCode = 500; res.end('boom on the first try'); return; }
      report('retried', { count: rc.RetryCount, max: rc.MaxRetryCount, message: rc.Exception.Message,
                          stack: rc.Exception.StackTrace, source: rc.Exception.Source });
    } else {
      const t = typeof p.Data.mytimer === 'string' ? JSON.parse(p.Data.mytimer) : p.Data.mytimer;
      report('ran-by-hand', { isPastDue: t.IsPastDue });
    }
    res.setHeader('Content-Type', 'application/json');
    res.end('{"Outputs": {}}');
  });
}).listen(process.env.FUNCTIONS_CUSTOMHANDLER_PORT, '127.0.0.1');
"""


@pytest.mark.parametrize("runtime", ["node", "python", "custom"])
def test_retry_context_names_the_failure_and_a_timer_run_by_hand_gets_timer_info(
        make_app, start_host, runtime):
    code = {"node": ({"index.js": NODE_RETRIED}, {"index.js": NODE_HAND_TIMER}),
            "python": ({"__init__.py": PY_RETRIED}, {"__init__.py": PY_HAND_TIMER}),
            "custom": ({}, {})}[runtime]
    host = None
    files = None
    if runtime == "custom":
        host = {"version": "2.0", "customHandler": {"description": {
            "defaultExecutablePath": "node", "arguments": ["handler.js"]}}}
        files = {"handler.js": HANDLER_RETRIED_JS}
    app = make_app({
        "flaky": dict({"function.json": dict(RETRIED, bindings=queue_fn("flaky-q"))}, **code[0]),
        "hand": dict({"function.json": {"bindings": HAND_TIMER}}, **code[1])},
        host=host, files=files,
        settings={"IsEncrypted": False, "Values": {"FUNCTIONS_WORKER_RUNTIME": runtime}})
    h = start_app(start_host, app)
    run_admin(h, app, "flaky", "x")
    rc = read_reports(app, "retried", 1, h)[0]
    assert rc["count"] == 1 and rc["max"] == 1, rc
    assert "boom on the first try" in rc["message"] or \
        (runtime == "custom" and "500" in rc["message"]), rc
    assert "\n" not in rc["message"] and rc["source"] == "flaky", rc
    if runtime == "node":
        assert "index.js" in rc["stack"], rc
    # Whatever the input, a timer function run by hand gets a TimerInfo.
    run_admin(h, app, "hand", "not a timer")
    assert read_reports(app, "ran-by-hand", 1, h)[0] == {"isPastDue": False}


# ---- a blob-triggered function run by hand ----

BLOB_HAND = [{"type": "blobTrigger", "direction": "in", "name": "myblob",
              "path": "samples-workitems/{name}"},
             {"type": "blob", "direction": "out", "name": "$return", "path": "out/{name}"}]

PY_BLOB_HAND = '''
import io
import json
import os
import azure.functions as func

def main(myblob: func.InputStream, context: func.Context) -> str:
    # Lines of a TextIOWrapper are read with read1(), as in
    # csv.DictReader(io.TextIOWrapper(myblob)), a common way to read a blob
    data = "".join(io.TextIOWrapper(myblob, encoding="utf-8"))
    d = os.path.join(os.environ["STRATUS_APP_ROOT"], "blobruns")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, context.invocation_id + ".json"), "w") as f:
        json.dump({"name": myblob.name, "length": myblob.length, "uri": myblob.uri,
                   "data": data, "content_length": myblob.blob_properties["ContentLength"],
                   "metadata": myblob.metadata}, f)
    return "copy:" + data
'''

NODE_BLOB_HAND = r"""
const fs = require('fs');
const path = require('path');
module.exports = async function (context, myblob) {
  const bd = context.bindingData;
  const d = path.join(process.env.STRATUS_APP_ROOT, 'blobruns');
  fs.mkdirSync(d, { recursive: true });
  fs.writeFileSync(path.join(d, context.invocationId + '.json'), JSON.stringify({
    name: bd.blobTrigger, length: myblob.length, uri: bd.uri, data: myblob.toString(),
    capture: bd.name, content_length: bd.properties.contentLength, metadata: bd.metadata }));
  return 'copy:' + myblob.toString();
};
"""

HANDLER_BLOB_HAND_JS = r"""
const fs = require('fs');
const http = require('http');
const path = require('path');
http.createServer((req, res) => {
  let body = '';
  req.on('data', (c) => { body += c; });
  req.on('end', () => {
    if (req.method !== 'POST') { res.end(); return; }
    const p = JSON.parse(body);
    const d = path.join(__dirname, 'blobruns');
    fs.mkdirSync(d, { recursive: true });
    // Text values arrive as their JSON text, as Azure's host sends them.
    const data = JSON.parse(p.Data.myblob);
    const name = JSON.parse(p.Metadata.name);
    fs.writeFileSync(path.join(d, req.headers['x-azure-functions-invocationid'] + '.json'),
      // Metadata has no BlobTrigger: Azure leaves out the keys ending in Trigger.
      JSON.stringify({ name: 'samples-workitems/' + name,
                       length: p.Metadata.Properties.Length,
                       uri: JSON.parse(p.Metadata.Uri), data, capture: name,
                       content_length: p.Metadata.Properties.ContentLength,
                       metadata: p.Metadata.Metadata }));
    res.setHeader('Content-Type', 'application/json');
    res.end(JSON.stringify({ Outputs: {}, ReturnValue: 'copy:' + data }));
  });
}).listen(process.env.FUNCTIONS_CUSTOMHANDLER_PORT, '127.0.0.1');
"""


@pytest.mark.parametrize("runtime", ["python", "node", "custom"])
def test_blob_function_run_by_hand_gets_the_named_blob(make_app, start_host, runtime):
    """As Azure (portal Test/Run, VS Code "Execute Function Now"): the input
    "container/blob" names the blob; the function gets its content, name,
    length and Uri, and {name} feeds the output path."""
    code = {"python": {"__init__.py": PY_BLOB_HAND}, "node": {"index.js": NODE_BLOB_HAND},
            "custom": {}}[runtime]
    host = files = None
    if runtime == "custom":
        host = {"version": "2.0", "customHandler": {"description": {
            "defaultExecutablePath": "node", "arguments": ["handler.js"]}}}
        files = {"handler.js": HANDLER_BLOB_HAND_JS}
    app = make_bindings_app(make_app, runtime, {"bt": (BLOB_HAND, code)}, host=host,
                            files=files)
    put_blob(app, "samples-workitems", "workitem.txt", b"hello blob")
    h = start_app(start_host, app)
    # The watcher delivers the new blob once; wait for that first.
    first = read_reports(app, "blobruns", 1, h)[0]
    r = h.request("POST", "/admin/functions/bt",
                  body=json.dumps({"input": "samples-workitems/workitem.txt"}).encode(),
                  headers={"x-functions-key": master_key(app),
                           "Content-Type": "application/json"})
    assert r.status == 202, (r.status, r.body)
    inv = r.header("x-invocation-id")
    report = os.path.join(app, "blobruns", inv + ".json")
    assert wait_for(lambda: os.path.exists(report) and os.path.getsize(report), timeout=30), \
        h.log()[-4000:]
    with open(report) as f:
        got = json.load(f)
    assert got["name"] == "samples-workitems/workitem.txt", got
    assert got["length"] == 10 and got["data"] == "hello blob", got
    # Azure's blob properties name the size ContentLength, which apps read
    assert got["content_length"] == 10 and got["metadata"] == {}, got
    assert got["uri"].startswith("file:///") and \
        got["uri"].endswith("/samples-workitems/workitem.txt"), got
    if runtime != "python":
        assert got["capture"] == "workitem.txt", got
    assert got == first, (got, first)
    assert blob_texts(app, "out", 1) == [b"copy:hello blob"]
    # Not a blob path: refused with Azure's message, the function does not run.
    r = h.request("POST", "/admin/functions/bt", body=b'{"input": "workitem.txt"}',
                  headers={"x-functions-key": master_key(app)})
    assert r.status == 400 and "Blob identifiers must be in the format 'container/blob'" in \
        r.json()["error"], (r.status, r.body)


# ---- {DateTime:format} and {rand-guid:format} in an output path ----

PY_ARCHIVE = '''
import azure.functions as func

def main(msg: func.QueueMessage) -> str:
    return msg.get_body().decode()
'''


def test_formatted_date_and_guid_expressions_in_an_output_path(make_app, start_host):
    """As in Azure, {DateTime:format} takes a .NET date format and
    {rand-guid:format} a GUID format: apps file their outputs by day."""
    archive = {"type": "blob", "direction": "out", "name": "$return",
               "path": "archive/{DateTime:yyyy}/{DateTime:MM}/{DateTime:dd}/{rand-guid:N}.txt"}
    app = make_bindings_app(make_app, "python", {
        "keep": (queue_fn("to-archive", [archive]), {"__init__.py": PY_ARCHIVE})})
    h = start_app(start_host, app)
    run_admin(h, app, "keep", "kept")
    root = os.path.join(app, BLOB_ROOT, "archive")

    def written():
        for d, _, names in os.walk(root):
            for n in names:
                if not n.startswith("."):
                    return os.path.relpath(os.path.join(d, n), root)
        return None
    rel = wait_for(written, timeout=30)
    assert rel, h.log()[-4000:]
    assert re.match(r"^20\d\d/\d\d/\d\d/[0-9a-f]{32}\.txt$", rel), rel
    with open(os.path.join(root, rel), "rb") as f:
        assert f.read() == b"kept"
