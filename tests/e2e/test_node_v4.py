"""Apps of the Node.js v4 programming model (npm @azure/functions 4.x, the
real package, from scripts/azure-functions.sh): the worker shim's index mode
(`worker.js --index`) and its LOAD and INVOKE of indexed functions driven
directly over the frame protocol, then apps served by the real binary (worker
indexing): HTTP (route, query, headers, JSON and binary bodies, status,
jsonBody, headers, cookies, authLevel), a queue output feeding a queue
function, a timer run on startup, logs, failures, load errors and hooks.
"""
import base64
import json
import os
import shutil
import subprocess
import urllib.parse

import pytest

from conftest import ROOT, function_key, wait_for, write_app
from test_node import log_entries, log_entry  # noqa: F401 (helpers, not tests)
from test_node_worker import (INVOKE, LOAD, LOADED, LOG, READY, RESULT, SHUTDOWN, Worker,
                              frame)

PKG_DIR = os.environ.get("AZURE_FUNCTIONS_DIR") or os.path.join(ROOT, "build", "azure-functions")
PKG = os.path.join(PKG_DIR, "node_modules", "@azure", "functions", "package.json")
if not (os.path.isfile(os.path.join(PKG_DIR, ".installed")) and os.path.isfile(PKG)):
    pytest.skip("@azure/functions 4.x is not installed in %s (sh scripts/azure-functions.sh; "
                "make test runs it)" % PKG_DIR, allow_module_level=True)

WORKER = os.path.join(ROOT, "runtimes", "node", "worker.js")
NODE = shutil.which("node") or "node"
SETTINGS = {"IsEncrypted": False,
            "Values": {"FUNCTIONS_WORKER_RUNTIME": "node", "AzureWebJobsStorage": "UseDevelopmentStorage=true"}}


def v4_app(root, files, main="src/functions/*.js", package=None, host=None):
    """A v4 app in root: package.json with main, the files, node_modules/@azure
    -> the installed package (a symlink, as npm's own layout would resolve)."""
    pkg = {"name": "v4app", "version": "1.0.0", "main": main,
           "dependencies": {"@azure/functions": "^4.0.0"}}
    pkg.update(package or {})
    all_files = {"package.json": json.dumps(pkg)}
    all_files.update(files)
    write_app(root, {}, settings=SETTINGS, files=all_files, host=host)
    nm = os.path.join(str(root), "node_modules")
    os.makedirs(nm, exist_ok=True)
    link = os.path.join(nm, "@azure")
    if not os.path.lexists(link):
        os.symlink(os.path.join(os.path.abspath(PKG_DIR), "node_modules", "@azure"), link)
    return str(root)


def index(app):
    """Run `worker.js --index` in app: (the document on fd 3, stdout+stderr)."""
    r, w = os.pipe()
    try:
        proc = subprocess.run([NODE, WORKER, "--index"], cwd=app, pass_fds=(w,), timeout=60,
                              env=dict(os.environ, STRATUS_INDEX_FD=str(w)),
                              stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT)
    finally:
        os.close(w)
    with os.fdopen(r, "rb") as f:
        data = f.read()
    assert proc.returncode == 0, proc.stdout
    return json.loads(data), proc.stdout.decode()


def by_name(doc):
    return {f["name"]: f for f in doc["functions"]}


HELLO_JS = r"""
const { app, output } = require('@azure/functions');
console.log('hello.js is loading');
const jobs = output.storageQueue({ queueName: 'jobs', connection: 'AzureWebJobsStorage' });
app.http('hello', {
  methods: ['GET', 'POST'],
  authLevel: 'anonymous',
  route: 'hello/{name?}',
  extraOutputs: [jobs],
  handler: async (request, context) => {
    context.log('greeting', request.params.name);
    const body = request.method === 'POST' ? await request.json() : null;
    if (body && body.job) context.extraOutputs.set(jobs, body.job);
    return {
      status: Number(request.query.get('status') || 200),
      jsonBody: { name: request.params.name || null, x: request.query.getAll('x'),
                  h: request.headers.get('x-h'), body, id: context.invocationId },
      headers: { 'X-Out': 'yes' },
      cookies: [{ name: 'sid', value: 'abc', path: '/', httpOnly: true, sameSite: 'Lax' }],
    };
  },
});
app.http('binary', {
  methods: ['POST'],
  handler: async (request) => {
    const bytes = Buffer.from(await request.arrayBuffer());
    return { body: Buffer.from(bytes).reverse(), headers: { 'Content-Type': 'application/octet-stream' } };
  },
});
app.http('text', {
  handler: async (request) => ({ body: 'text:' + (await request.text()) }),
});
app.http('boom', {
  handler: async (request, context) => {
    context.error('about to fail');
    throw new Error('kaboom in handler');
  },
});
"""

JOBS_JS = r"""
const { app } = require('@azure/functions');
app.storageQueue('jobs', {
  queueName: 'jobs',
  connection: 'AzureWebJobsStorage',
  retry: { strategy: 'fixedDelay', maxRetryCount: 2, delayInterval: { seconds: 5 } },
  handler: async (message, context) => {
    context.log('job ' + JSON.stringify(message) + ' dequeueCount=' + context.triggerMetadata.dequeueCount);
  },
});
app.timer('tick', {
  schedule: '0 0 0 1 1 *',
  runOnStartup: true,
  handler: async (timer, context) => {
    context.log('tick ran, isPastDue=' + timer.isPastDue);
  },
});
"""

BAD_JS = "const { app } = require('@azure/functions');\n\nlet x = ;\n"
MISSING_JS = "const { app } = require('@azure/functions');\nrequire('./not-there');\n"


# ---- index mode -------------------------------------------------------------------

def test_index_lists_registrations_as_function_json(tmp_path):
    app = v4_app(tmp_path / "app", {"src/functions/hello.js": HELLO_JS, "src/functions/jobs.js": JOBS_JS})
    doc, output = index(app)
    assert doc["errors"] == []
    # what user code prints goes to stdout, never into the document
    assert "hello.js is loading" in output
    fns = by_name(doc)
    assert sorted(fns) == ["binary", "boom", "hello", "jobs", "text", "tick"]
    hello = fns["hello"]
    assert hello["scriptFile"] == "src/functions/hello.js"
    assert hello["entryPoint"] == "hello"
    trig = hello["bindings"][0]
    assert trig["type"] == "httpTrigger" and trig["direction"] == "in"
    assert trig["methods"] == ["get", "post"] and trig["route"] == "hello/{name?}"
    assert trig["authLevel"] == "anonymous"
    assert {"name": "$return", "type": "http", "direction": "out"} in hello["bindings"]
    queue_out = [b for b in hello["bindings"] if b["type"] == "queue"]
    assert queue_out and queue_out[0]["queueName"] == "jobs" and queue_out[0]["direction"] == "out"
    assert queue_out[0]["connection"] == "AzureWebJobsStorage"
    assert all("properties" not in b for b in hello["bindings"])
    jobs = fns["jobs"]
    assert jobs["scriptFile"] == "src/functions/jobs.js"
    assert jobs["bindings"][0]["type"] == "queueTrigger"
    assert jobs["retry"] == {"strategy": "fixedDelay", "maxRetryCount": 2, "delayInterval": "00:00:05"}
    tick = fns["tick"]["bindings"][0]
    assert tick["type"] == "timerTrigger" and tick["schedule"] == "0 0 0 1 1 *"
    assert tick["runOnStartup"] is True


def test_index_reports_load_errors_with_file_and_line(tmp_path):
    dup = ("const { app } = require('@azure/functions');\n"
           "app.http('hello', { handler: async () => ({}) });\n")
    app = v4_app(tmp_path / "app", {"src/functions/hello.js": HELLO_JS,
                                    "src/functions/bad.js": BAD_JS,
                                    "src/functions/missing.js": MISSING_JS,
                                    "src/functions/zdup.js": dup})
    doc, _ = index(app)
    assert "hello" in by_name(doc)
    errors = [e["error"] for e in doc["errors"]]
    assert any(e.startswith("src/functions/bad.js, line 3: SyntaxError") for e in errors), errors
    assert any(e.startswith("src/functions/missing.js, line 2: Error: Cannot find module './not-there'")
               for e in errors), errors
    dups = [e for e in doc["errors"] if e["function"] == "hello"]
    assert dups and dups[0]["error"].startswith("src/functions/zdup.js, line 2: ")
    assert "registered a second time" in dups[0]["error"]
    # the first registration is the one listed
    assert by_name(doc)["hello"]["scriptFile"] == "src/functions/hello.js"


def test_index_registration_refused_by_the_package(tmp_path):
    src = ("const { app } = require('@azure/functions');\n"
           "app.http('ok', { handler: async () => ({}) });\n"
           "app.storageQueue('q', { queueName: 'q', connection: 'c', handler: async () => {},\n"
           "  retry: { strategy: 'fixedDelay', maxRetryCount: 1, delayInterval: 'soon' } });\n")
    app = v4_app(tmp_path / "app", {"index.js": src}, main="index.js")
    doc, _ = index(app)
    assert list(by_name(doc)) == ["ok"]
    assert len(doc["errors"]) == 1
    assert doc["errors"][0]["error"].startswith("index.js, line 3: Error: "), doc["errors"]
    assert "retry.delayInterval" in doc["errors"][0]["error"]


@pytest.mark.parametrize("main,expected", [
    ("src/functions/*.js", ["a", "b"]),
    ("./src/functions/a.js", ["a"]),
    ("src/**/*.js", ["a", "b", "c"]),
    ("src/{functions/b,other/c}.js", ["b", "c"]),
    ("src/functions", ["idx"]),
])
def test_index_main_paths_and_globs(tmp_path, main, expected):
    reg = "require('@azure/functions').app.http('%s', { handler: async () => ({}) });\n"
    app = v4_app(tmp_path / "app", {"src/functions/a.js": reg % "a", "src/functions/b.js": reg % "b",
                                    "src/functions/index.js": reg % "idx",
                                    "src/other/c.js": reg % "c", "src/other/c.txt": "not code"},
                 main=main)
    if main == "src/functions/*.js" or main == "src/**/*.js":
        os.remove(os.path.join(app, "src", "functions", "index.js"))
    doc, _ = index(app)
    assert doc["errors"] == []
    assert sorted(by_name(doc)) == expected


def test_index_generic_trigger_and_outputs(tmp_path):
    src = ("const { app, trigger, output } = require('@azure/functions');\n"
           "app.generic('g', {\n"
           "  trigger: trigger.generic({ type: 'blobTrigger', path: 'in/{name}', connection: 'S', dataType: 'binary' }),\n"
           "  extraOutputs: [output.generic({ type: 'queue', name: 'next', queueName: 'q2' })],\n"
           "  handler: async () => {},\n"
           "});\n")
    app = v4_app(tmp_path / "app", {"index.js": src}, main="index.js")
    doc, _ = index(app)
    assert doc["errors"] == []
    assert by_name(doc)["g"]["bindings"] == [
        {"name": [b for b in by_name(doc)["g"]["bindings"] if b["type"] == "blobTrigger"][0]["name"],
         "type": "blobTrigger", "direction": "in", "path": "in/{name}", "connection": "S",
         "dataType": "binary"},
        {"name": "next", "type": "queue", "direction": "out", "queueName": "q2"}]


def test_index_main_missing_or_matching_nothing(tmp_path):
    app = v4_app(tmp_path / "a", {}, main="dist/index.js")
    doc, _ = index(app)
    assert doc["functions"] == []
    assert doc["errors"][0]["error"] == 'package.json: "main" names dist/index.js, which does not exist'
    app = v4_app(tmp_path / "b", {}, main="dist/*.js")
    doc, _ = index(app)
    assert doc["errors"][0]["error"] == 'package.json: "main" pattern dist/*.js matches no file'


def test_index_package_not_installed_and_main_not_a_string(tmp_path):
    app = write_app(tmp_path / "bare", {}, settings=SETTINGS, files={
        "package.json": json.dumps({"main": "index.js"}),
        "index.js": "\nconst { app } = require('@azure/functions');\n"})
    doc, _ = index(app)
    assert doc == {"functions": [], "errors": [{"function": None, "error":
                   "index.js, line 2: Error: Cannot find module '@azure/functions' "
                   "(install it in the app folder: npm install @azure/functions)"}]}
    app = v4_app(tmp_path / "array", {}, package={"main": ["a.js"]})
    doc, _ = index(app)
    assert doc["errors"][0]["error"].startswith('package.json: "main" must be a string')


def test_index_es_modules(tmp_path):
    esm = ("import { app } from '@azure/functions';\n"
           "app.http('esm', { handler: async (req) => ({ body: 'esm ' + req.method }) });\n")
    bad = "import { app } from '@azure/functions';\nconst = 1;\n"
    app = v4_app(tmp_path / "app", {"src/a.mjs": esm, "src/b.mjs": bad}, main="src/*.mjs")
    doc, _ = index(app)
    assert list(by_name(doc)) == ["esm"]
    assert doc["errors"][0]["error"].startswith("src/b.mjs, line 2: SyntaxError"), doc["errors"]
    app = v4_app(tmp_path / "typed", {"src/a.js": esm}, main="src/a.js", package={"type": "module"})
    doc, _ = index(app)
    assert list(by_name(doc)) == ["esm"] and doc["errors"] == []


# ---- the worker, over the frame protocol ------------------------------------------------

def load_frame(app, doc, extra=()):
    fns = [{"name": f["name"], "indexed": True, "directory": app,
            "scriptFile": os.path.join(app, f["scriptFile"]), "entryPoint": f["entryPoint"],
            "bindings": f["bindings"]} for f in doc["functions"]]
    fns.extend(extra)
    return {"appRoot": app, "settings": {}, "functions": fns}


@pytest.fixture
def v4_worker(tmp_path):
    workers = []

    def start(files, main="src/functions/*.js"):
        app = v4_app(tmp_path / "app", files, main=main)
        doc, _ = index(app)
        w = Worker(app)
        workers.append(w)
        w.recv()  # HELLO
        w.doc = doc
        return w

    yield start
    for w in workers:
        w.close()


def call(w, fid, meta, body=b""):
    w.send(frame(INVOKE, fid, meta, body))
    (_, i, m, b), others = w.recv_type(RESULT)
    assert i == fid
    return m, b, [o[2] for o in others if o[0] == LOG]


def http_meta(fn, method="GET", query="", headers=None, params=None, n=1):
    return {"function": fn, "invocationId": "00000000-0000-4000-8000-%012d" % n,
            "http": {"method": method, "url": "http://h/api/%s%s" % (fn, "?" + query if query else ""),
                     "path": "/api/" + fn, "query": query,
                     "headers": headers or [["Host", "h"]], "params": params or {}}}


def test_worker_loads_indexed_functions_and_runs_them(v4_worker):
    w = v4_worker({"src/functions/hello.js": HELLO_JS, "src/functions/jobs.js": JOBS_JS})
    ghost = {"name": "ghost", "indexed": True, "directory": w.app, "scriptFile": os.path.join(w.app, "x.js"),
             "entryPoint": "ghost", "bindings": []}
    w.send(frame(READY, 0, {"protocol": 1}) + frame(LOAD, 0, load_frame(w.app, w.doc, [ghost])))
    (_, _, meta, _), _ = w.recv_type(LOADED)
    loaded = {f["name"]: f for f in meta["functions"]}
    assert all(loaded[n]["ok"] for n in ("hello", "jobs", "tick", "binary", "boom", "text"))
    assert not loaded["ghost"]["ok"]
    assert loaded["ghost"]["error"].startswith('function "ghost" is not registered by the app\'s code')

    m, b, logs = call(w, 1, http_meta("hello", "POST", "x=1&x=2", [["Host", "h"], ["X-H", "a"], ["x-h", "b"]],
                                      {"name": "ann"}), b'{"job": {"n": 7}}')
    assert m["ok"] and m["status"] == 200
    assert json.loads(b) == {"name": "ann", "x": ["1", "2"], "h": "a, b", "body": {"job": {"n": 7}},
                             "id": "00000000-0000-4000-8000-000000000001"}
    headers = [(k.lower(), v) for k, v in m["headers"]]
    assert ("content-type", "application/json") in headers and ("x-out", "yes") in headers
    assert ("set-cookie", "sid=abc; Path=/; HttpOnly; SameSite=Lax") in headers
    queue_name = [x["name"] for x in by_name(w.doc)["hello"]["bindings"] if x["type"] == "queue"][0]
    assert m["outputs"] == {queue_name: {"n": 7}}
    assert {"level": 2, "message": "greeting ann", "category": "Function.hello.User"} in logs

    m, b, _ = call(w, 2, http_meta("binary", "POST", n=2), bytes([0, 1, 2, 255]))
    assert m["ok"] and b == bytes([255, 2, 1, 0])

    m, b, logs = call(w, 3, http_meta("boom", n=3))
    assert not m["ok"] and m["error"].startswith("Error: kaboom in handler")
    assert any(l["message"] == "about to fail" and l["level"] == 4 for l in logs)

    m, b, logs = call(w, 4, {"function": "jobs", "invocationId": "00000000-0000-4000-8000-000000000004",
                             "triggerMetadata": {"DequeueCount": 2, "Id": "m1"}}, b'{"n": 7}')
    assert m == {"ok": True}
    assert any(l["message"] == 'job {"n":7} dequeueCount=2' for l in logs), logs

    m, b, logs = call(w, 5, {"function": "tick", "invocationId": "00000000-0000-4000-8000-000000000005"},
                      b'{"Schedule":{"AdjustForDST":true},"ScheduleStatus":null,"IsPastDue":true}')
    assert m == {"ok": True}
    assert any(l["message"] == "tick ran, isPastDue=true" for l in logs), logs

    # the worker is alive after the failure
    m, b, _ = call(w, 6, http_meta("text", "POST", n=6), "héllo".encode())
    assert m["ok"] and b == "text:héllo".encode()


BLOB_JS = r"""
const { app, input, output } = require('@azure/functions');
const src = input.storageBlob({ path: 'in/{queueTrigger}', connection: 'AzureWebJobsStorage' });
const dst = output.storageBlob({ path: 'out/{queueTrigger}', connection: 'AzureWebJobsStorage' });
app.storageQueue('copy', {
  queueName: 'copies', connection: 'AzureWebJobsStorage', extraInputs: [src], return: dst,
  handler: async (name, context) => {
    const data = context.extraInputs.get(src);
    context.log('input is a buffer: ' + Buffer.isBuffer(data) + ', missing: ' + (data === undefined));
    return data === undefined ? undefined : Buffer.concat([data, Buffer.from('!')]);
  },
});
app.storageBlob('uploaded', {
  path: 'uploads/{name}', connection: 'AzureWebJobsStorage',
  handler: async (blob, context) => {
    context.log('blob ' + context.triggerMetadata.name + ' ' + Buffer.isBuffer(blob) + ' ' + blob.length +
      ' ' + context.triggerMetadata.blobTrigger);
  },
});
"""


def test_worker_blob_input_and_return_output(v4_worker):
    w = v4_worker({"src/functions/blob.js": BLOB_JS})
    w.send(frame(READY, 0, {"protocol": 1}) + frame(LOAD, 0, load_frame(w.app, w.doc)))
    w.recv_type(LOADED)
    blob_in = [x["name"] for x in by_name(w.doc)["copy"]["bindings"] if x["type"] == "blob" and x["direction"] == "in"][0]
    m, _, logs = call(w, 1, {"function": "copy", "invocationId": "00000000-0000-4000-8000-000000000001",
                             "inputs": {blob_in: {"$binary": base64.b64encode(b"\x00data").decode()}}}, b"a.bin")
    assert m == {"ok": True, "outputs": {"$return": {"$binary": base64.b64encode(b"\x00data!").decode()}}}
    assert any(l["message"] == "input is a buffer: true, missing: false" for l in logs)
    m, _, logs = call(w, 2, {"function": "copy", "invocationId": "00000000-0000-4000-8000-000000000002",
                             "inputs": {blob_in: None}}, b"none.bin")
    assert m == {"ok": True}
    assert any(l["message"] == "input is a buffer: false, missing: true" for l in logs)
    m, _, logs = call(w, 3, {"function": "uploaded", "invocationId": "00000000-0000-4000-8000-000000000003",
                             "triggerMetadata": {"name": "a.bin", "BlobTrigger": "uploads/a.bin"}},
                      b"\x00\xff\x01")
    assert m == {"ok": True}
    assert any(l["message"] == "blob a.bin true 3 uploads/a.bin" for l in logs), logs


HOOKS_JS = r"""
const { app } = require('@azure/functions');
let started = 'no';
app.hook.appStart(() => { started = 'yes'; });
app.hook.preInvocation((context) => {
  context.hookData.pre = context.invocationContext.functionName;
  if (context.invocationContext.functionName === 'swap') {
    context.functionHandler = async () => ({ body: 'swapped by a hook' });
  }
});
app.hook.postInvocation((context) => {
  context.invocationContext.log('post: pre=' + context.hookData.pre + ' app=' + started +
    ' error=' + (context.error ? context.error.message : 'none'));
  if (context.error && context.error.message === 'recover me') {
    context.error = null;
    context.result = { status: 202, body: 'recovered' };
  }
});
app.http('swap', { handler: async () => ({ body: 'original' }) });
app.http('fails', { handler: async () => { throw new Error('recover me'); } });
"""


def test_worker_v4_hooks(v4_worker):
    w = v4_worker({"src/functions/hooks.js": HOOKS_JS})
    w.send(frame(READY, 0, {"protocol": 1}) + frame(LOAD, 0, load_frame(w.app, w.doc)))
    w.recv_type(LOADED)
    m, b, logs = call(w, 1, http_meta("swap"))
    assert m["ok"] and b == b"swapped by a hook", m
    assert any(l["message"] == "post: pre=swap app=yes error=none" for l in logs), logs
    m, b, logs = call(w, 2, http_meta("fails", n=2))
    assert m["ok"] and m["status"] == 202 and b == b"recovered"
    assert any(l["message"] == "post: pre=fails app=yes error=recover me" for l in logs), logs


STREAM_INDEX_JS = "const { app } = require('@azure/functions');\napp.setup({ enableHttpStream: true });\n"

STREAM_JS = r"""
const { app } = require('@azure/functions');
const { Readable } = require('stream');
app.http('stream', {
  methods: ['POST'],
  route: 'stream/{id}',
  handler: async (request, context) => {
    let n = 0;
    for await (const chunk of request.body) n += chunk.length;
    context.log('streamed ' + n + ' bytes');
    return {
      status: 201,
      body: Readable.from(['id=', request.params.id, ' q=', String(request.query.get('q')), ' h=',
                           String(request.headers.get('x-h')), ' n=', String(n)]),
      headers: { 'X-Out': 'yes' },
      cookies: [{ name: 'sid', value: 'abc', httpOnly: true }],
    };
  },
});
app.http('streamfail', { handler: async () => { throw new Error('failed while streaming'); } });
"""


def listening_addresses(pid):
    """The local addresses (hex, as /proc/net/tcp* has them) of the TCP
    sockets process pid listens on."""
    inodes = set()
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            target = os.readlink("/proc/%d/fd/%s" % (pid, fd))
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    found = []
    for table in ("tcp", "tcp6"):
        with open("/proc/%d/net/%s" % (pid, table)) as f:
            for line in f.readlines()[1:]:
                cols = line.split()
                if cols[3] == "0A" and cols[9] in inodes:  # LISTEN
                    found.append(cols[1].split(":")[0])
    return found


def test_worker_http_streaming(v4_worker):
    """app.setup({ enableHttpStream: true }), as Azure's templates write it:
    the package's own HTTP server gets the request and gives the response."""
    w = v4_worker({"src/index.js": STREAM_INDEX_JS, "src/functions/stream.js": STREAM_JS},
                  main="src/{index.js,functions/*.js}")
    assert w.doc["errors"] == []
    w.send(frame(READY, 0, {"protocol": 1}) + frame(LOAD, 0, load_frame(w.app, w.doc)))
    (_, _, meta, _), _ = w.recv_type(LOADED)
    assert all(f["ok"] for f in meta["functions"]), meta
    body = b"x" * 300000
    m, b, logs = call(w, 1, http_meta("stream", "POST", "q=1", [["Host", "h:7071"], ["X-H", "hv"]],
                                      {"id": "42"}), body)
    assert m["ok"] and m["status"] == 201, m
    assert b == b"id=42 q=1 h=hv n=300000"
    headers = [(k.lower(), v) for k, v in m["headers"]]
    assert ("x-out", "yes") in headers and ("set-cookie", "sid=abc; HttpOnly") in headers
    assert not any(k in ("transfer-encoding", "connection", "x-ms-invocation-id") for k, _ in headers)
    assert any(l["message"] == "streamed 300000 bytes" for l in logs)
    # The package's server listens on loopback only, not on every interface.
    listening = listening_addresses(w.proc.pid)
    assert listening and all(a in ("0100007F", "00000000000000000000000001000000")
                             for a in listening), listening
    m, b, _ = call(w, 2, http_meta("streamfail", n=2))
    assert not m["ok"] and m["error"].startswith("Error: failed while streaming")
    m, b, _ = call(w, 3, http_meta("stream", "POST", "q=2", params={"id": "7"}, n=3))
    assert m["ok"] and b == b"id=7 q=2 h=null n=0", (m, b)


V3_HOOKED_JS = r"""
const core = require('@azure/functions-core');
core.registerHook('preInvocation', (c) => { c.hookData.n = 1; c.inputs[0].query.who = 'hook'; });
core.registerHook('postInvocation', (c) => {
  c.invocationContext.log('post ' + c.hookData.n + ' ' + (c.error ? c.error.message : 'ok'));
  if (c.error) { c.error = null; c.result = { status: 418, body: 'recovered' }; }
});
const terminate = require('path').join(__dirname, '..', 'terminated.txt');
core.registerHook('appTerminate', () => require('fs').writeFileSync(terminate, 'yes'));
module.exports = async function (context, req) {
  if (req.query.fail) throw new Error('v3 failure');
  return { body: 'who=' + req.query.who };
};
"""


def test_worker_hooks_for_v3_functions(tmp_path):
    app = write_app(tmp_path / "app", {"hello": {"function.json": {}, "index.js": V3_HOOKED_JS}},
                    settings=SETTINGS)
    w = Worker(app)
    try:
        w.recv()
        fn = {"name": "hello", "directory": os.path.join(app, "hello"),
              "bindings": [{"type": "httpTrigger", "direction": "in", "name": "req"},
                           {"type": "http", "direction": "out", "name": "$return"}]}
        w.send(frame(READY, 0, {"protocol": 1}) + frame(LOAD, 0, {"appRoot": app, "functions": [fn]}))
        (_, _, meta, _), _ = w.recv_type(LOADED)
        assert meta["functions"] == [{"name": "hello", "ok": True}]
        m, b, logs = call(w, 1, http_meta("hello"))
        assert m["ok"] and b == b"who=hook"
        assert [l["message"] for l in logs] == ["post 1 ok"]
        m, b, logs = call(w, 2, http_meta("hello", query="fail=1", n=2))
        assert m["ok"] and m["status"] == 418 and b == b"recovered"
        assert [l["message"] for l in logs] == ["post 1 v3 failure"]
        w.send(frame(SHUTDOWN, 0, {"graceMs": 5000}))
        assert w.proc.wait(10) == 0
        assert (tmp_path / "app" / "terminated.txt").read_text() == "yes"
    finally:
        w.close()


# ---- the host: worker indexing and the real workers ---------------------------------------

MASTER = "node-v4-test-master-key-0123456789abcdefABC"

SECURE_JS = r"""
const { app } = require('@azure/functions');
app.http('secure', {
  authLevel: 'function',
  handler: async (request, context) => ({ body: 'secret for ' + (request.query.get('who') || 'nobody') }),
});
"""




@pytest.fixture(scope="module")
def v4_host(module_hosts):
    """One v4 app under `stratus host` (keys checked): a glob main over
    several entry files, one of which does not compile."""
    app = v4_app(os.path.join(module_hosts.workdir, "app"), {
        "src/functions/hello.js": HELLO_JS,
        "src/functions/jobs.js": JOBS_JS,
        "src/functions/secure.js": SECURE_JS,
        "src/functions/hooks.js": HOOKS_JS,
        "src/functions/bad.js": BAD_JS,
    }, host={"version": "2.0", "stratus": {"scale": {"minInstances": 1, "maxInstances": 1}}})
    return module_hosts.start(app, mode="host", env={"STRATUS_MASTER_KEY": MASTER})


def test_host_http_request_and_response(v4_host):
    r = v4_host.post("/api/hello/ann?x=1&x=2", body=b'{"k": [1, 2]}',
                     headers={"X-H": "v", "Content-Type": "application/json"})
    assert r.status == 200, r.text
    j = r.json()
    assert j["name"] == "ann" and j["x"] == ["1", "2"] and j["h"] == "v"
    assert j["body"] == {"k": [1, 2]}
    assert j["id"] and len(j["id"]) == 36
    assert r.header("X-Out") == "yes"
    assert r.header("Content-Type").startswith("application/json")
    assert "sid=abc" in (r.header("Set-Cookie") or "")
    # optional route parameter, and the status a handler sets
    r = v4_host.get("/api/hello?status=201")
    assert r.status == 201 and r.json()["name"] is None
    r = v4_host.get("/api/hello?status=404")
    assert r.status == 404


def test_host_binary_and_text_bodies(v4_host):
    data = bytes(range(256)) * 4
    r = v4_host.post("/api/binary", body=data, headers={"Content-Type": "application/octet-stream"})
    assert r.status == 200 and r.body == data[::-1]
    r = v4_host.post("/api/text", body="grüße".encode())
    assert r.status == 200 and r.body == "text:grüße".encode()


def test_host_auth_level_function(v4_host):
    assert v4_host.get("/api/secure").status == 401
    key = function_key(v4_host.app, "secure")
    r = v4_host.get("/api/secure?who=ann&code=" + urllib.parse.quote(key))
    assert r.status == 200 and r.body == b"secret for ann"
    r = v4_host.get("/api/secure", headers={"x-functions-key": MASTER})
    assert r.status == 200


def test_host_context_log_carries_the_invocation_id(v4_host):
    r = v4_host.get("/api/hello/logger")
    assert r.status == 200
    inv = r.json()["id"]
    e = log_entry(v4_host, lambda e: e.get("invocationId") == inv and e.get("message") == "greeting logger")
    assert e.get("category", "Function.hello.User").startswith("Function.hello")


def test_host_queue_output_feeds_a_queue_function(v4_host):
    r = v4_host.post("/api/hello/q", body=b'{"job": {"n": 42}}', headers={"Content-Type": "application/json"})
    assert r.status == 200, r.text
    e = log_entry(v4_host, lambda e: e.get("message") == 'job {"n":42} dequeueCount=1')
    assert e.get("invocationId")


def test_host_timer_runs_on_startup(v4_host):
    log_entry(v4_host, lambda e: str(e.get("message", "")).startswith("tick ran, isPastDue="))


def workers_started(h):
    return [e["message"] for e in log_entries(h)
            if e.get("category") == "Host.Scale" and " ready in " in e.get("message", "")]


def test_host_exception_is_500_and_the_worker_survives(v4_host):
    assert v4_host.get("/api/hello/before").status == 200
    started = workers_started(v4_host)
    assert started
    r = v4_host.get("/api/boom")
    assert r.status == 500
    log_entry(v4_host, lambda e: "kaboom in handler" in e.get("message", "") + e.get("reason", ""))
    assert v4_host.get("/api/hello/after").status == 200
    assert v4_host.get("/api/boom").status == 500
    assert v4_host.get("/api/hello/again").status == 200
    # the same worker served them all: none was started since
    assert workers_started(v4_host) == started


def test_host_reports_a_syntax_error_and_serves_the_other_files(v4_host):
    r = v4_host.get("/admin/host/status", headers={"x-functions-key": MASTER})
    assert r.status == 200, r.text
    errors = json.dumps(r.json().get("errors"))
    assert "src/functions/bad.js, line 3: SyntaxError" in errors, errors
    assert "src/functions/bad.js, line 3: SyntaxError" in v4_host.log()
    assert v4_host.get("/api/hello/x").status == 200
    assert v4_host.get("/api/swap").status == 200


def test_host_invocation_hooks(v4_host):
    r = v4_host.get("/api/swap")
    assert r.status == 200 and r.body == b"swapped by a hook"
    r = v4_host.get("/api/fails")
    assert r.status == 202 and r.body == b"recovered"
    log_entry(v4_host, lambda e: e.get("message") == "post: pre=fails app=yes error=recover me")


def test_host_http_streaming_app(module_hosts):
    app = v4_app(os.path.join(module_hosts.workdir, "stream"),
                 {"src/index.js": STREAM_INDEX_JS, "src/functions/stream.js": STREAM_JS},
                 main="src/{index.js,functions/*.js}")
    h = module_hosts.start(app)
    data = os.urandom(1 << 20)
    r = h.post("/api/stream/9?q=z", body=data, headers={"X-H": "v"})
    assert r.status == 201, r.text
    assert r.body == b"id=9 q=z h=v n=1048576"
    assert r.header("X-Out") == "yes" and "sid=abc" in (r.header("Set-Cookie") or "")
    assert h.get("/api/streamfail").status == 500
    assert h.post("/api/stream/10", body=b"abc").body == b"id=10 q=null h=null n=3"


def test_host_es_module_app(module_hosts):
    esm = ("import { app } from '@azure/functions';\n"
           "app.get('esm', async (request, context) => ({ jsonBody: { method: request.method, "
           "q: request.query.get('q') } }));\n")
    app = v4_app(os.path.join(module_hosts.workdir, "esm"), {"src/index.js": esm},
                 main="src/index.js", package={"type": "module"})
    h = module_hosts.start(app)
    r = h.get("/api/esm?q=1")
    assert r.status == 200 and r.json() == {"method": "GET", "q": "1"}
    assert h.post("/api/esm").status in (404, 405)


def test_example_node_v4_hello_app_serves(tmp_path, start_host):
    app = str(tmp_path / "node-v4-hello")
    shutil.copytree(os.path.join(ROOT, "examples", "node-v4-hello"), app,
                    ignore=shutil.ignore_patterns(".stratus", "node_modules"))
    os.makedirs(os.path.join(app, "node_modules"))
    os.symlink(os.path.join(os.path.abspath(PKG_DIR), "node_modules", "@azure"),
               os.path.join(app, "node_modules", "@azure"))
    h = start_host(app)
    r = h.get("/api/hello/Ada", timeout=30)
    assert r.status == 200 and r.text == "Hello, Ada!\n", r.text
    r = h.post("/api/hello", body=b'{"name": "Bo"}', headers={"Content-Type": "application/json"})
    assert r.text == "Hello, Bo!\n", r.text
    assert h.get("/api/hello").status == 400
    r = h.post("/api/orders", body=b'{"item": "book", "qty": 2}', headers={"Content-Type": "application/json"})
    assert r.status == 202 and r.json() == {"accepted": {"item": "book", "qty": 2}}
    # `stratus start` logs text lines
    assert wait_for(lambda: "shipping 2 x book (message " in h.log(), timeout=20), h.log()[-3000:]
