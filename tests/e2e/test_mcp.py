"""An MCP server built with the official MCP TypeScript SDK (npm
@modelcontextprotocol/sdk, installed into build/mcp-sdk by
scripts/mcp-sdk.sh, which `make test` runs) served as a custom handler with
the host.json Azure documents for self-hosted MCP servers: the
"mcp-custom-handler" configuration profile, `node` and the server script in
customHandler.description, a fixed port, routes from host.json and no
function.json. The client is the SDK's own (Client and
StreamableHTTPClientTransport), run by node against the Stratus URL.

The server serves four Streamable HTTP endpoints, one process, on Node's
http module (and, in one app, on the SDK's Express app):

    /mcp             stateful (session ids), answers as SSE streams
    /mcp-json        stateful, answers as JSON (enableJsonResponse)
    /stateless       stateless (sessionIdGenerator undefined), SSE
    /stateless-json  stateless, JSON

Covered: initialize, tools (arguments, a tool that throws, invalid
arguments, an unknown tool), resources and a resource template, prompts, the
Mcp-Session-Id round trip and DELETE, the server-to-client notifications of
a slow tool (progress and logging messages), the standalone GET stream of a
session, and function keys (x-functions-key, ?code=) with the profile's
default authorization level. No test measures time; waits are generous for
the sanitizer build.
"""
import json
import os
import re
import subprocess

import pytest

from conftest import ROOT, free_port, function_key, master_key, wait_for, write_app

SDK_DIR = os.environ.get("MCP_SDK_DIR") or os.path.join(ROOT, "build", "mcp-sdk")
SDK_PKG = os.path.join(SDK_DIR, "node_modules", "@modelcontextprotocol", "sdk", "package.json")
if not (os.path.isfile(os.path.join(SDK_DIR, ".installed")) and os.path.isfile(SDK_PKG)):
    pytest.skip("@modelcontextprotocol/sdk is not installed in %s (sh scripts/mcp-sdk.sh; "
                "make test runs it)" % SDK_DIR, allow_module_level=True)

UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")

# How long the server waits for a client to act on a notification it sent
# (a slow tool's first progress, a session's first broadcast) before it goes
# on without it. Only reached when the notification did not arrive while the
# answer was still open.
GATE_MS = 15000

# The MCP server, as the SDK's examples write one, on Node's own http module.
SERVER_MJS = r"""
import http from 'node:http';
import { randomUUID } from 'node:crypto';
import { McpServer, ResourceTemplate } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';

const PORT = parseInt(process.argv[2], 10);
const GATE_MS = parseInt(process.argv[3], 10);
const MODES = {
  '/mcp': {stateful: true, json: false},
  '/mcp-json': {stateful: true, json: true},
  '/stateless': {stateful: false, json: false},
  '/stateless-json': {stateful: false, json: true},
};

// Gates: a tool waits on one until the client opens it (POST /release/<name>)
// or GATE_MS passed; true when the client opened it.
const gates = new Map();
function gate(name) {
  return new Promise((resolve) => {
    const timer = setTimeout(() => { gates.delete(name); resolve(false); }, GATE_MS);
    gates.set(name, () => { clearTimeout(timer); gates.delete(name); resolve(true); });
  });
}

function build(mode) {
  const server = new McpServer({name: 'stratus-mcp-test', version: '1.2.3'},
                               {capabilities: {logging: {}}});
  server.registerTool('greet', {
    description: 'Greets someone, times times',
    inputSchema: {name: z.string(), times: z.number().int().min(1).max(5).default(1)},
  }, async ({name, times}) => ({
    content: [{type: 'text', text: Array(times).fill(`Hello, ${name}!`).join(' ')}],
  }));
  server.registerTool('fail', {
    description: 'Always fails',
    inputSchema: {why: z.string()},
  }, async ({why}) => { throw new Error(`failed on purpose: ${why}`); });
  server.registerTool('slow', {
    description: 'Reports progress and logs each step before its result',
    inputSchema: {steps: z.number().int().min(1).max(10), gate: z.string().optional()},
  }, async ({steps, gate: name}, extra) => {
    let released = null;
    for (let i = 1; i <= steps; i++) {
      const token = extra._meta?.progressToken;
      if (token !== undefined) {
        await extra.sendNotification({method: 'notifications/progress', params:
          {progressToken: token, progress: i, total: steps, message: `step ${i} of ${steps}`}});
      }
      await extra.sendNotification({method: 'notifications/message', params:
        {level: 'info', logger: 'slow', data: `step ${i}`}});
      if (i === 1 && name) released = await gate(name);
    }
    return {content: [{type: 'text', text: `done after ${steps} steps`}],
            structuredContent: {steps, released}};
  });
  server.registerTool('broadcast', {
    description: 'Sends logging messages outside any request (on the session stream) until released',
    inputSchema: {gate: z.string()},
  }, async ({gate: name}) => {
    let n = 0;
    const tick = setInterval(() => {
      server.sendLoggingMessage({level: 'notice', logger: 'broadcast', data: `tick ${++n}`})
        .catch(() => {});
    }, 100);
    gate(name).then((released) => {
      clearInterval(tick);
      server.sendLoggingMessage({level: 'notice', logger: 'broadcast',
                                 data: released ? 'released' : 'not released'}).catch(() => {});
    });
    return {content: [{type: 'text', text: 'broadcasting'}]};
  });
  server.registerResource('readme', 'stratus://readme',
    {description: 'What this server is', mimeType: 'text/plain'},
    async (uri) => ({contents: [{uri: uri.href, mimeType: 'text/plain',
                                 text: `an MCP server on Stratus (${mode})`}]}));
  server.registerResource('item', new ResourceTemplate('stratus://items/{id}', {list: undefined}),
    {description: 'One item', mimeType: 'application/json'},
    async (uri, {id}) => ({contents: [{uri: uri.href, mimeType: 'application/json',
                                       text: JSON.stringify({id, label: `item ${id}`})}]}));
  server.registerPrompt('review', {
    description: 'Asks for a review',
    argsSchema: {topic: z.string()},
  }, ({topic}) => ({messages: [{role: 'user', content: {type: 'text',
                                                        text: `Please review ${topic}.`}}]}));
  return server;
}

function jsonError(res, status, code, message) {
  res.writeHead(status, {'Content-Type': 'application/json'});
  res.end(JSON.stringify({jsonrpc: '2.0', error: {code, message}, id: null}));
}

const sessions = new Map();

async function handle(req, res, parsed) {
  const path = new URL(req.url, 'http://localhost').pathname;
  if (req.method === 'POST' && path.startsWith('/release/')) {
    const open = gates.get(decodeURIComponent(path.slice('/release/'.length)));
    if (open) open();
    res.end(open ? 'released' : 'no such gate');
    return;
  }
  const mode = MODES[path];
  if (!mode) { res.writeHead(404).end('not found'); return; }
  if (!mode.stateful) {
    if (req.method !== 'POST') { jsonError(res, 405, -32000, 'Method not allowed.'); return; }
    const server = build(path);
    const transport = new StreamableHTTPServerTransport({sessionIdGenerator: undefined,
                                                         enableJsonResponse: mode.json});
    res.on('close', () => { transport.close(); server.close(); });
    await server.connect(transport);
    await transport.handleRequest(req, res, parsed);
    return;
  }
  const id = req.headers['mcp-session-id'];
  let transport = id && sessions.get(id);
  if (!transport) {
    if (id) { jsonError(res, 404, -32001, 'Session not found'); return; }
    if (req.method !== 'POST' || !isInitializeRequest(parsed)) {
      jsonError(res, 400, -32000, 'Bad Request: No valid session ID provided');
      return;
    }
    transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      enableJsonResponse: mode.json,
      onsessioninitialized: (sid) => { sessions.set(sid, transport); },
      onsessionclosed: (sid) => { sessions.delete(sid); console.log(`session ${sid} closed`); },
    });
    await build(path).connect(transport);
  }
  await transport.handleRequest(req, res, parsed);
}

function failed(res) {
  return (e) => {
    console.error('request failed:', e);
    if (!res.headersSent) jsonError(res, 500, -32603, 'Internal server error');
  };
}

if (process.argv[4] === 'express') {
  // As the SDK's README writes it: Express, with its Host check (DNS
  // rebinding protection) and JSON body parser; argv[5] lists the host names
  // it accepts.
  const { createMcpExpressApp } = await import('@modelcontextprotocol/sdk/server/express.js');
  const app = createMcpExpressApp({allowedHosts: process.argv[5].split(',')});
  app.use((req, res) => { handle(req, res, req.body).catch(failed(res)); });
  app.listen(PORT, '127.0.0.1', () => console.log(`MCP server (express) listening on ${PORT}`));
} else {
  http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      handle(req, res, body.length ? JSON.parse(body.toString()) : undefined).catch(failed(res));
    });
  }).listen(PORT, '127.0.0.1', () => console.log(`MCP server listening on ${PORT}`));
}
"""

# The client: the SDK's Client over its StreamableHTTPClientTransport, with a
# fetch that records each exchange (method, status, content type, session
# header). argv[2] is the scenario's JSON; prints one JSON object.
CLIENT_MJS = r"""
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { LoggingMessageNotificationSchema } from '@modelcontextprotocol/sdk/types.js';

const cfg = JSON.parse(process.argv[2]);
const out = {exchanges: [], events: []};
const headers = cfg.headers || {};

function header(h, name) {
  if (!h) return null;
  if (typeof h.get === 'function') return h.get(name);
  for (const [k, v] of Object.entries(h)) if (k.toLowerCase() === name) return v;
  return null;
}

let ended = false;   // the session was ended (DELETE answered)
let closing = false; // client.close() was called

async function recordingFetch(url, init) {
  const after = ended;
  const res = await fetch(url, init);
  out.exchanges.push({method: init?.method || 'GET', status: res.status, afterDelete: after,
                      contentType: res.headers.get('content-type'),
                      sentSession: header(init?.headers, 'mcp-session-id'),
                      session: res.headers.get('mcp-session-id'),
                      protocol: header(init?.headers, 'mcp-protocol-version')});
  return res;
}

function err(e) {
  return {name: e?.constructor?.name, code: e?.code, message: String(e?.message ?? e)};
}

async function attempt(f) {
  try { return {ok: await f()}; } catch (e) { return {error: err(e)}; }
}

function release(name) {
  return fetch(new URL('/release/' + encodeURIComponent(name), cfg.url),
               {method: 'POST', headers}).then((r) => r.text());
}

function waitFor(pred, ms) {
  return new Promise((resolve) => {
    const start = Date.now();
    const poll = () => {
      if (pred()) resolve(true);
      else if (Date.now() - start > ms) resolve(false);
      else setTimeout(poll, 20);
    };
    poll();
  });
}

const transport = new StreamableHTTPClientTransport(new URL(cfg.url),
  {requestInit: {headers}, fetch: recordingFetch});
transport.onerror = (e) => { if (!closing) out.events.push({transportError: err(e)}); };
const client = new Client({name: 'stratus-test-client', version: '0.1.0'});
client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => {
  out.events.push({log: n.params.data, logger: n.params.logger});
});

try {
  await client.connect(transport);
  out.server = client.getServerVersion();
  out.capabilities = client.getServerCapabilities();
  out.sessionId = transport.sessionId ?? null;
  out.protocolVersion = transport.protocolVersion ?? null;

  if (cfg.scenario === 'tour') {
    out.tools = (await client.listTools()).tools;
    out.greet = await client.callTool({name: 'greet', arguments: {name: 'Ada', times: 2}});
    out.greetDefault = await client.callTool({name: 'greet', arguments: {name: 'Grace'}});
    out.fail = await client.callTool({name: 'fail', arguments: {why: 'testing'}});
    out.badArgs = await attempt(() => client.callTool({name: 'greet', arguments: {name: 'Ada', times: 9}}));
    out.unknownTool = await attempt(() => client.callTool({name: 'nope', arguments: {}}));
    out.resources = (await client.listResources()).resources;
    out.templates = (await client.listResourceTemplates()).resourceTemplates;
    out.readme = await client.readResource({uri: 'stratus://readme'});
    out.item = await client.readResource({uri: 'stratus://items/42'});
    out.prompts = (await client.listPrompts()).prompts;
    out.prompt = await client.getPrompt({name: 'review', arguments: {topic: 'the pull request'}});
    out.ping = await client.ping();
    if (out.sessionId) {
      await transport.terminateSession();
      ended = true;
      out.afterDelete = await attempt(() => client.listTools());
    }
  } else if (cfg.scenario === 'slow') {
    let released = null;
    const result = await client.callTool(
      {name: 'slow', arguments: cfg.gate ? {steps: 3, gate: cfg.gate} : {steps: 3}},
      undefined,
      {onprogress: (p) => {
        out.events.push({progress: p.progress, total: p.total, message: p.message});
        if (cfg.gate && released === null) released = release(cfg.gate);
      }, timeout: 120000});
    out.events.push({result: result.structuredContent});
    out.slow = result;
    out.releaseAnswer = released ? await released : null;
  } else if (cfg.scenario === 'listen') {
    // Server notifications that belong to no request come on the session's
    // GET stream, which the transport opens after initialization.
    out.broadcast = await client.callTool({name: 'broadcast', arguments: {gate: cfg.gate}});
    const ticked = () => out.events.some((e) => e.logger === 'broadcast' && /^tick/.test(e.log));
    out.ticked = await waitFor(ticked, cfg.waitMs);
    out.releaseAnswer = out.ticked ? await release(cfg.gate) : null;
    const last = () => out.events.some((e) => e.log === 'released' || e.log === 'not released');
    out.sawEnd = await waitFor(last, cfg.waitMs + 5000);
    await transport.terminateSession();
  }
} catch (e) {
  out.error = err(e);
}
// A session left open keeps its GET stream open: end it.
if (transport.sessionId) await transport.terminateSession().catch(() => {});
closing = true;
await client.close().catch(() => {});
console.log(JSON.stringify(out));
process.exit(0);
"""


def link_sdk(folder):
    """folder/node_modules -> the SDK's cache, as `npm install` would give."""
    os.makedirs(folder, exist_ok=True)
    link = os.path.join(folder, "node_modules")
    if not os.path.lexists(link):
        os.symlink(os.path.join(os.path.abspath(SDK_DIR), "node_modules"), link)


def mcp_app(root, auth=None, express=None):
    """The app as Azure documents it: no function.json, the profile, the
    server's own port. auth None leaves http.DefaultAuthorizationLevel out;
    express lists the host names the Express variant accepts."""
    port = free_port()
    args = ["server.mjs", str(port), str(GATE_MS)]
    if express:
        args += ["express", ",".join(express)]
    custom = {"description": {"defaultExecutablePath": "node", "arguments": args},
              "port": str(port)}
    if auth:
        custom["http"] = {"DefaultAuthorizationLevel": auth}
    host = {"version": "2.0", "configurationProfile": "mcp-custom-handler",
            "customHandler": custom}
    settings = {"IsEncrypted": False, "Values": {"FUNCTIONS_WORKER_RUNTIME": "custom"}}
    write_app(root, {}, host=host, settings=settings, files={"server.mjs": SERVER_MJS})
    link_sdk(root)
    return root


@pytest.fixture(scope="module")
def client_dir(module_hosts):
    d = os.path.join(module_hosts.workdir, "client")
    link_sdk(d)
    with open(os.path.join(d, "client.mjs"), "w") as f:
        f.write(CLIENT_MJS)
    return d


@pytest.fixture(scope="module")
def mcp(module_hosts):
    """The app with anonymous routes, under `stratus start`."""
    app = mcp_app(os.path.join(module_hosts.workdir, "open"), auth="anonymous")
    return module_hosts.start(app)


@pytest.fixture(scope="module")
def keyed(module_hosts):
    """The app with the profile's default authorization level (function),
    under `stratus host`, where keys are checked."""
    app = mcp_app(os.path.join(module_hosts.workdir, "keyed"))
    return module_hosts.start(app, mode="host")


@pytest.fixture(scope="module")
def express(module_hosts):
    """The same server on Express (createMcpExpressApp), anonymous."""
    app = mcp_app(os.path.join(module_hosts.workdir, "express"), auth="anonymous",
                  express=["127.0.0.1", "mcp.example.com"])
    return module_hosts.start(app)


def run_client(client_dir, host, path, scenario, headers=None, query="", fails=False, **extra):
    """Run client.mjs against host's path; its JSON output. fails=True for a
    client that is expected to stop on an error (out["error"])."""
    cfg = {"url": "http://127.0.0.1:%d%s%s" % (host.port, path, query), "scenario": scenario,
           "headers": headers or {}}
    cfg.update(extra)
    p = subprocess.run(["node", "client.mjs", json.dumps(cfg)], cwd=client_dir,
                       capture_output=True, text=True, timeout=180)
    assert p.returncode == 0, p.stdout + p.stderr + host.log()[-3000:]
    lines = [ln for ln in p.stdout.splitlines() if ln.startswith("{")]
    assert lines, p.stdout + p.stderr
    out = json.loads(lines[-1])
    assert ("error" in out) == fails, (out, p.stderr, host.log()[-3000:])
    return out


def text(result):
    return " ".join(c["text"] for c in result["content"] if c["type"] == "text")


def posts(out):
    """The POST exchanges that carried an answer (not 202 Accepted)."""
    return [e for e in out["exchanges"] if e["method"] == "POST" and e["status"] == 200]


MODES = [("/mcp", True, False), ("/mcp-json", True, True),
         ("/stateless", False, False), ("/stateless-json", False, True)]


@pytest.mark.parametrize("path,stateful,json_mode", MODES,
                         ids=["stateful-sse", "stateful-json", "stateless-sse", "stateless-json"])
def test_sdk_client_tour(mcp, client_dir, path, stateful, json_mode):
    out = run_client(client_dir, mcp, path, "tour")
    assert out["server"] == {"name": "stratus-mcp-test", "version": "1.2.3"}
    for cap in ("tools", "resources", "prompts", "logging"):
        assert cap in out["capabilities"], out["capabilities"]
    assert out["protocolVersion"]

    tools = {t["name"]: t for t in out["tools"]}
    assert sorted(tools) == ["broadcast", "fail", "greet", "slow"]
    assert tools["greet"]["description"] == "Greets someone, times times"
    assert tools["greet"]["inputSchema"]["properties"]["name"]["type"] == "string"
    assert tools["greet"]["inputSchema"]["required"] == ["name"]

    # Arguments reach the tool; a default applies when one is left out.
    assert text(out["greet"]) == "Hello, Ada! Hello, Ada!"
    assert not out["greet"].get("isError")
    assert text(out["greetDefault"]) == "Hello, Grace!"
    # A tool that throws is a result with isError, its message as text.
    assert out["fail"]["isError"] is True
    assert "failed on purpose: testing" in text(out["fail"])
    # Invalid arguments and an unknown tool: an error result or a JSON-RPC error.
    bad = out["badArgs"]
    assert ("error" in bad and bad["error"]["code"] == -32602) or bad["ok"]["isError"], bad
    assert "times" in json.dumps(bad)
    unknown = out["unknownTool"]
    assert ("error" in unknown) or unknown["ok"]["isError"], unknown
    assert "nope" in json.dumps(unknown)

    assert [(r["name"], r["uri"]) for r in out["resources"]] == [("readme", "stratus://readme")]
    assert [t["uriTemplate"] for t in out["templates"]] == ["stratus://items/{id}"]
    assert out["readme"]["contents"] == [{"uri": "stratus://readme", "mimeType": "text/plain",
                                          "text": "an MCP server on Stratus (%s)" % path}]
    item = out["item"]["contents"][0]
    assert json.loads(item["text"]) == {"id": "42", "label": "item 42"}
    assert [p["name"] for p in out["prompts"]] == ["review"]
    assert out["prompts"][0]["arguments"][0]["name"] == "topic"
    assert out["prompt"]["messages"] == [
        {"role": "user", "content": {"type": "text", "text": "Please review the pull request."}}]
    assert out["ping"] == {}

    # Each answer came in the form the server chose.
    answers = posts(out)
    assert len(answers) >= 12
    want = "application/json" if json_mode else "text/event-stream"
    for e in answers:
        assert e["contentType"].startswith(want), e
    # The initialized notification is accepted without a body.
    assert any(e["method"] == "POST" and e["status"] == 202 for e in out["exchanges"])

    if stateful:
        sid = out["sessionId"]
        assert UUID_RE.match(sid), sid
        # The server's Mcp-Session-Id reached the client, and the client's
        # went back on every later request (the GET stream and DELETE too).
        assert out["exchanges"][0]["session"] == sid
        later = [e for e in out["exchanges"][1:] if not e["afterDelete"]]
        assert later and all(e["sentSession"] == sid for e in later), later
        assert all(e["protocol"] == out["protocolVersion"] for e in later), later
        deletes = [e for e in out["exchanges"] if e["method"] == "DELETE"]
        assert [e["status"] for e in deletes] == [200]
        # After DELETE the client has no session: its next request is
        # refused (a session is started only by initialize).
        assert out["afterDelete"]["error"]["code"] == 400, out["afterDelete"]
        [after] = [e for e in out["exchanges"] if e["afterDelete"]]
        assert (after["sentSession"], after["status"]) == (None, 400)
    else:
        assert out["sessionId"] is None
        assert all(e["session"] is None for e in out["exchanges"])
        assert "afterDelete" not in out
        # No standalone stream without a session: the server says 405.
        assert [e["status"] for e in out["exchanges"] if e["method"] == "GET"] in ([], [405])


def rpc(method, id=None, params=None):
    m = {"jsonrpc": "2.0", "method": method}
    if id is not None:
        m["id"] = id
    if params is not None:
        m["params"] = params
    return json.dumps(m).encode()


INIT = {"protocolVersion": "2025-03-26", "capabilities": {},
        "clientInfo": {"name": "raw", "version": "1"}}
ACCEPT = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}


def sse_messages(body):
    """The JSON-RPC messages of a complete SSE body."""
    out = []
    for event in body.decode().replace("\r\n", "\n").split("\n\n"):
        data = [ln[5:].lstrip() for ln in event.split("\n") if ln.startswith("data:")]
        if data:
            out.append(json.loads("\n".join(data)))
    return out


@pytest.mark.parametrize("path", ["/mcp-json", "/mcp"])
def test_session_header_round_trip(mcp, path):
    # The Streamable HTTP exchanges of a session, by hand: the server's
    # Mcp-Session-Id header comes through Stratus, and so does the
    # client's, both ways, until DELETE ends the session.
    r = mcp.post(path, body=rpc("initialize", 1, INIT), headers=ACCEPT)
    assert r.status == 200, r.text
    sid = r.header("Mcp-Session-Id")
    assert sid and UUID_RE.match(sid), r.headers
    if path == "/mcp-json":
        assert r.header("Content-Type").startswith("application/json")
        init = r.json()
    else:
        assert r.header("Content-Type").startswith("text/event-stream")
        [init] = sse_messages(r.body)
    assert init["id"] == 1 and init["result"]["serverInfo"]["name"] == "stratus-mcp-test"
    version = init["result"]["protocolVersion"]
    with_session = dict(ACCEPT, **{"Mcp-Session-Id": sid, "Mcp-Protocol-Version": version})

    r = mcp.post(path, body=rpc("notifications/initialized"), headers=with_session)
    assert r.status == 202, r.text
    r = mcp.post(path, body=rpc("tools/call", 2, {"name": "greet", "arguments": {"name": "Bo"}}),
                 headers=with_session)
    assert r.status == 200, r.text
    answer = r.json() if path == "/mcp-json" else sse_messages(r.body)[-1]
    assert answer["id"] == 2
    assert answer["result"]["content"] == [{"type": "text", "text": "Hello, Bo!"}]

    # Without the header: no session, 400; with another: 404.
    r = mcp.post(path, body=rpc("tools/list", 3), headers=ACCEPT)
    assert r.status == 400, r.text
    r = mcp.post(path, body=rpc("tools/list", 4),
                 headers=dict(with_session, **{"Mcp-Session-Id": "not-a-session"}))
    assert r.status == 404 and r.json()["error"]["code"] == -32001, r.text

    r = mcp.request("DELETE", path, headers=with_session)
    assert r.status == 200, r.text
    assert wait_for(lambda: "session %s closed" % sid in mcp.log(), timeout=30), mcp.log()
    r = mcp.post(path, body=rpc("tools/list", 5), headers=with_session)
    assert r.status == 404, r.text


@pytest.mark.parametrize("path", ["/mcp", "/stateless"])
def test_slow_tool_notifications_reach_the_client(mcp, client_dir, path):
    # A tool's progress notifications and logging messages travel on its
    # answer's SSE stream, in order, before its result.
    out = run_client(client_dir, mcp, path, "slow")
    assert text(out["slow"]) == "done after 3 steps"
    events = out["events"]
    progress = [e for e in events if "progress" in e]
    assert [(e["progress"], e["total"], e["message"]) for e in progress] == [
        (1, 3, "step 1 of 3"), (2, 3, "step 2 of 3"), (3, 3, "step 3 of 3")]
    assert [e["log"] for e in events if e.get("logger") == "slow"] == [
        "step 1", "step 2", "step 3"]
    assert "result" in events[-1], events
    assert not any("transportError" in e for e in events), events


@pytest.mark.parametrize("path", ["/mcp-json", "/stateless-json"])
def test_slow_tool_in_json_mode(mcp, client_dir, path):
    # With enableJsonResponse the answer is one JSON object: the SDK's
    # transport leaves out the notifications sent during the request.
    out = run_client(client_dir, mcp, path, "slow")
    assert text(out["slow"]) == "done after 3 steps"
    assert [e for e in out["events"] if "result" not in e] == []


@pytest.mark.parametrize("path", ["/mcp", "/stateless"])
def test_slow_tool_notifications_arrive_while_it_runs(mcp, client_dir, path):
    # The tool waits, after its first progress notification, for the client
    # to say it got it (POST /release/<gate>, a request of its own): only an
    # answer streamed as it comes lets the tool go on before GATE_MS.
    gate = "slow-%s" % path.strip("/")
    out = run_client(client_dir, mcp, path, "slow", gate=gate)
    assert out["releaseAnswer"] == "released", out
    assert out["slow"]["structuredContent"] == {"steps": 3, "released": True}
    events = out["events"]
    assert [e["progress"] for e in events if "progress" in e] == [1, 2, 3]
    assert "result" in events[-1], events


def test_session_get_stream_carries_server_notifications(mcp, client_dir):
    # Messages that belong to no request (server.sendLoggingMessage) go on
    # the session's standalone GET stream, which stays open: the client sees
    # them while the session lasts, and DELETE ends the stream.
    out = run_client(client_dir, mcp, "/mcp", "listen", gate="listen", waitMs=GATE_MS)
    assert text(out["broadcast"]) == "broadcasting"
    gets = [e for e in out["exchanges"] if e["method"] == "GET"]
    assert [(e["status"], e["contentType"].split(";")[0]) for e in gets] == [
        (200, "text/event-stream")], out["exchanges"]
    assert gets[0]["sentSession"] == out["sessionId"]
    assert out["ticked"] is True, out
    assert out["releaseAnswer"] == "released"
    assert out["sawEnd"] is True
    assert [e["log"] for e in out["events"] if e.get("logger") == "broadcast"][-1] == "released"


def test_keys_function_level_by_default(keyed, client_dir):
    # The profile's routes are at the "function" authorization level unless
    # host.json says otherwise, as in Azure: the client sends a key in
    # x-functions-key (or ?code=), which the host checks and still passes on.
    out = run_client(client_dir, keyed, "/mcp-json", "tour", fails=True)
    assert out["error"]["code"] == 401, out
    assert [e["status"] for e in out["exchanges"]] == [401]

    key = function_key(keyed.app, "http-handler1")
    out = run_client(client_dir, keyed, "/mcp-json", "tour", headers={"x-functions-key": key})
    assert text(out["greet"]) == "Hello, Ada! Hello, Ada!"
    assert [e["status"] for e in out["exchanges"] if e["method"] == "DELETE"] == [200]

    out = run_client(client_dir, keyed, "/stateless", "tour",
                     headers={"x-functions-key": master_key(keyed.app)})
    assert out["prompt"]["messages"][0]["content"]["text"] == "Please review the pull request."

    out = run_client(client_dir, keyed, "/stateless-json", "tour", query="?code=" + key)
    assert out["fail"]["isError"] is True

    out = run_client(client_dir, keyed, "/mcp", "tour", headers={"x-functions-key": "wrong"},
                     fails=True)
    assert out["error"]["code"] == 401, out


@pytest.mark.parametrize("path", ["/mcp", "/stateless-json"])
def test_express_server(express, client_dir, path):
    # The SDK's Express app reads the body itself (express.json()) and
    # checks the Host header, which reaches it as the caller sent it.
    out = run_client(client_dir, express, path, "tour")
    assert text(out["greet"]) == "Hello, Ada! Hello, Ada!"
    assert out["fail"]["isError"] is True
    assert out["prompt"]["messages"][0]["content"]["text"] == "Please review the pull request."
    if path == "/mcp":
        assert UUID_RE.match(out["sessionId"])
        assert [e["status"] for e in out["exchanges"] if e["method"] == "DELETE"] == [200]
    assert "MCP server (express) listening on" in express.log()


def test_express_host_check_sees_the_callers_host(express):
    init = rpc("initialize", 1, INIT)
    r = express.post("/stateless-json", body=init, headers=dict(ACCEPT, Host="mcp.example.com"))
    assert r.status == 200 and r.json()["result"]["serverInfo"]["name"] == "stratus-mcp-test"
    r = express.post("/stateless-json", body=init, headers=dict(ACCEPT, Host="other.example.com"))
    assert r.status == 403, r.text
    assert r.json()["error"]["message"] == "Invalid Host: other.example.com"


def test_profile_route_and_fixed_port(mcp):
    # One HTTP function made from the profile's route, and the server on
    # the port host.json gives (its own argument here, as a server that
    # picks its port has it).
    with open(os.path.join(mcp.app, "host.json")) as f:
        port = json.load(f)["customHandler"]["port"]
    log = mcp.log()
    assert "http-handler1" in log
    assert "MCP server listening on %s" % port in log
    # Any other path reaches the server too, as it came.
    r = mcp.get("/elsewhere?x=1")
    assert (r.status, r.text) == (404, "not found")
