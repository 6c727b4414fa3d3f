"""Custom handlers in forwarding mode pass an answer on as it arrives when
it is open-ended (chunked, or delimited by the end of the connection) or
large: Server-Sent Events reach the caller event by event, a download is not
held in the host, a slow caller slows the handler down instead of filling
the host's memory, and a caller that goes away ends the exchange with the
handler. functionTimeout cuts off an answer that does not end."""
import http.client
import os
import signal
import socket
import time

import pytest

from conftest import wait_for

from test_custom import custom_host, fn, log_has, make

# A handler whose answers are driven by the test: /api/events sends one
# event, then one more each time /api/next is called, and ends at
# /api/finish; it records what it saw of its callers (/api/seen).
STREAM_JS = r"""
const http = require('http');
const port = process.env.FUNCTIONS_CUSTOMHANDLER_PORT;
const streams = new Set();
let closed = 0, count = 0, hanging = 0, cancelled = 0;
const gates = new Map();
const hits = {};
http.createServer((req, res) => {
  const u = new URL(req.url, 'http://x');
  const p = u.pathname;
  if (p === '/') { res.end('ready'); return; }
  if (p === '/api/events') {
    res.writeHead(200, {'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache',
                        'X-Accept': req.headers['accept'] || ''});
    res.write('event: hello\ndata: first\n\n');
    streams.add(res);
    req.on('close', () => { if (streams.delete(res)) closed++; });
    return;
  }
  if (p === '/api/next') {
    count++;
    for (const s of streams) s.write('data: event ' + count + '\n\n');
    res.end(String(streams.size));
    return;
  }
  if (p === '/api/finish') {
    for (const s of streams) { streams.delete(s); s.end('data: bye\n\n'); }
    res.end('finished');
    return;
  }
  if (p === '/api/seen') {
    res.setHeader('Content-Type', 'application/json');
    res.end(JSON.stringify({open: streams.size, closed}));
    return;
  }
  if (p === '/api/download') {
    // n bytes with a Content-Length, written as the socket takes them.
    const n = parseInt(u.searchParams.get('n'), 10);
    res.writeHead(200, {'Content-Type': 'application/octet-stream', 'Content-Length': n});
    const block = Buffer.alloc(65536);
    for (let i = 0; i < block.length; i++) block[i] = i % 251;
    let sent = 0;
    const pump = () => {
      while (sent < n) {
        const k = Math.min(block.length, n - sent);
        sent += k;
        if (!res.write(k === block.length ? block : block.subarray(0, k)))
          return res.once('drain', pump);
      }
      res.end();
    };
    pump();
    return;
  }
  if (p === '/api/untilclose') {
    // HTTP/1.0 style: no length, no chunks, the end of the connection ends it.
    const s = req.socket;
    s.write('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\npart one,');
    setTimeout(() => s.end('part two'), 50);
    return;
  }
  if (p === '/api/short') {
    // Announces more than it sends, then dies.
    req.socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2000000\r\n\r\n' + 'x'.repeat(1000));
    setTimeout(() => process.exit(5), 100);
    return;
  }
  if (p === '/api/hang') {
    // Never answers; counts the requests whose connection the host closed.
    hanging++;
    res.on('close', () => { if (!res.writableFinished) { hanging--; cancelled++; } });
    return;
  }
  if (p === '/api/hangs') {
    res.setHeader('Content-Type', 'application/json');
    res.end(JSON.stringify({hanging, cancelled}));
    return;
  }
  if (p === '/api/gate') {
    // Answers when /api/open names it.
    gates.set(u.searchParams.get('id'), res);
    return;
  }
  if (p === '/api/open') {
    const g = gates.get(u.searchParams.get('id'));
    gates.delete(u.searchParams.get('id'));
    if (g) g.end('opened');
    res.end(g ? 'yes' : 'no');
    return;
  }
  if (p === '/api/plain') { res.end('plain'); return; }
  if (p === '/api/chunky') {
    // An open-ended answer that ends a moment later; counts each id's requests.
    const id = u.searchParams.get('id');
    hits[id] = (hits[id] || 0) + 1;
    res.writeHead(200, {'Content-Type': 'text/plain'});
    res.write('part one;');
    setTimeout(() => res.end('part two'), 30);
    return;
  }
  if (p === '/api/hits') {
    res.setHeader('Content-Type', 'application/json');
    res.end(JSON.stringify(hits));
    return;
  }
  res.statusCode = 404;
  res.end('no such path');
}).listen(port, '127.0.0.1');
"""

FNS = {name: fn() for name in ("events", "next", "finish", "seen", "download", "untilclose",
                               "short", "plain", "hang", "hangs", "gate", "open", "chunky",
                               "hits")}


def start(make_app, start_host, timeout=None, proxy=False, pipelining=True, extra=None):
    extra = dict(extra or {})
    if timeout:
        extra["functionTimeout"] = timeout
    if not pipelining:
        extra["stratus"] = {"customHandler": {"pipelining": False}}
    host = custom_host(extra=extra)
    if proxy:
        del host["customHandler"]["enableForwardingHttpRequest"]
        host["customHandler"]["enableProxyingHttpRequest"] = True
    app = make(make_app, functions=FNS, host=host, files={"server.js": STREAM_JS})
    return start_host(app)


def open_stream(h, path="/api/events", headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", h.port, timeout=20)
    conn.request("GET", path, headers=headers or {"Accept": "text/event-stream"})
    return conn, conn.getresponse()


def read_until(resp, marker):
    """Read the answer piece by piece until marker is in it (the handler
    sends the next piece only when told, so a host that held the answer
    until its end would never let this return)."""
    got = b""
    while marker not in got:
        piece = resp.read1(65536)
        if not piece:
            raise AssertionError("the answer ended before %r: %r" % (marker, got))
        got += piece
    return got


def test_server_sent_events_arrive_as_they_are_sent(make_app, start_host):
    h = start(make_app, start_host)
    conn, resp = open_stream(h)
    assert resp.status == 200
    assert resp.getheader("Content-Type") == "text/event-stream"
    assert resp.getheader("Cache-Control") == "no-cache"
    assert resp.getheader("Transfer-Encoding") == "chunked"
    assert resp.getheader("X-Accept") == "text/event-stream"
    assert b"data: first" in read_until(resp, b"data: first\n\n")
    for i in range(1, 4):
        assert h.get("/api/next").text == "1"
        assert b"data: event %d" % i in read_until(resp, b"data: event %d\n\n" % i)
    assert h.get("/api/finish").text == "finished"
    assert read_until(resp, b"data: bye\n\n").endswith(b"data: bye\n\n")
    assert resp.read() == b""  # the last chunk: a whole answer
    # The connection serves the next request.
    conn.request("GET", "/api/plain")
    assert conn.getresponse().read() == b"plain"
    conn.close()
    assert log_has(h, "Executed 'Functions.events' (Succeeded")


def test_proxying_streams_too(make_app, start_host):
    h = start(make_app, start_host, proxy=True)
    conn, resp = open_stream(h)
    read_until(resp, b"data: first\n\n")
    h.get("/api/next")
    read_until(resp, b"data: event 1\n\n")
    conn.close()


def test_a_caller_that_goes_away_ends_the_exchange(make_app, start_host):
    h = start(make_app, start_host)
    conn, resp = open_stream(h)
    read_until(resp, b"data: first\n\n")
    assert h.get("/api/seen").json() == {"open": 1, "closed": 0}
    conn.sock.shutdown(socket.SHUT_RDWR)
    conn.close()
    # The host closes its connection to the handler, which sees its caller go.
    assert wait_for(lambda: h.get("/api/seen").json() == {"open": 0, "closed": 1}, timeout=10)
    assert log_has(h, "Executed 'Functions.events' (Succeeded")
    # Nothing is left held: other requests go on.
    for _ in range(5):
        assert h.get("/api/plain").status == 200
    assert h.get("/admin/host/scale").json()["apps"][0]["inFlight"] == 0


def test_other_requests_are_not_held_behind_an_open_stream(make_app, start_host):
    """An event stream never ends: nothing is pipelined behind it on the
    handler connection it uses."""
    h = start(make_app, start_host)
    streams = [open_stream(h) for _ in range(3)]
    for conn, resp in streams:
        read_until(resp, b"data: first\n\n")
    for _ in range(20):
        assert h.get("/api/plain").status == 200
    assert h.get("/api/next").text == "3"
    for conn, resp in streams:
        read_until(resp, b"data: event 1\n\n")
        conn.close()


def test_streams_asked_for_at_once_all_arrive(make_app, start_host):
    """Requests that reach the host together go to the handler pipelined on
    one connection; when the first one's answer streams without end, those
    behind it go on other connections instead of waiting for that end (here
    without "Accept: text/event-stream", which would keep them apart from
    the start)."""
    h = start(make_app, start_host)
    socks = [socket.create_connection(("127.0.0.1", h.port), timeout=20) for _ in range(6)]
    for s in socks:
        s.sendall(b"GET /api/events HTTP/1.1\r\nHost: x\r\n\r\n")
    for s in socks:
        got = b""
        while b"data: first" not in got:
            piece = s.recv(65536)
            assert piece, got
            got += piece
        assert got.startswith(b"HTTP/1.1 200 OK\r\n")
    h.get("/api/next")
    for s in socks:
        got = b""
        while b"data: event 1" not in got:
            piece = s.recv(65536)
            assert piece, got
            got += piece
        s.close()
    assert h.get("/api/plain").status == 200


def test_function_timeout_cuts_off_an_answer_that_does_not_end(make_app, start_host):
    h = start(make_app, start_host, timeout="00:00:02")
    conn, resp = open_stream(h)
    read_until(resp, b"data: first\n\n")
    # The answer stops without its last chunk: the caller can tell.
    with pytest.raises(http.client.IncompleteRead):
        resp.read()
    conn.close()
    assert log_has(h, "while its answer was passed on; the answer is cut off")
    assert wait_for(lambda: h.get("/api/seen").json()["open"] == 0, timeout=10)
    assert h.get("/api/plain").status == 200


def test_head_of_an_event_stream_answers_at_once(make_app, start_host):
    h = start(make_app, start_host)
    r = h.request("HEAD", "/api/events", headers={"Accept": "text/event-stream"})
    assert r.status == 200
    assert r.header("Content-Type") == "text/event-stream"
    assert r.body == b""
    assert wait_for(lambda: h.get("/api/seen").json()["open"] == 0, timeout=10)


def test_a_large_download_keeps_its_length_and_bytes(make_app, start_host):
    h = start(make_app, start_host)
    n = 8 * 1024 * 1024 + 123
    conn = http.client.HTTPConnection("127.0.0.1", h.port, timeout=30)
    conn.request("GET", "/api/download?n=%d" % n)
    resp = conn.getresponse()
    assert resp.getheader("Content-Length") == str(n)
    assert resp.getheader("Transfer-Encoding") is None
    body = resp.read()
    block = bytes(i % 251 for i in range(65536))
    assert len(body) == n
    assert body == (block * (n // 65536 + 1))[:n]
    conn.close()


def test_an_answer_delimited_by_the_end_of_the_connection(make_app, start_host):
    h = start(make_app, start_host)
    r = h.get("/api/untilclose")
    assert r.status == 200
    assert r.body == b"part one,part two"


def test_a_handler_that_dies_mid_answer_cuts_it_off(make_app, start_host):
    h = start(make_app, start_host)
    conn = http.client.HTTPConnection("127.0.0.1", h.port, timeout=20)
    conn.request("GET", "/api/short")
    resp = conn.getresponse()
    assert resp.getheader("Content-Length") == "2000000"
    with pytest.raises(http.client.IncompleteRead):
        resp.read()
    conn.close()
    assert log_has(h, "Executed 'Functions.short' (Failed")
    # The handler is started again.
    assert wait_for(lambda: h.get("/api/plain").status == 200, timeout=20)


def host_rss_mb(h):
    with open("/proc/%d/status" % h.proc.pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) // 1024
    return 0


@pytest.mark.skipif(bool(os.environ.get("STRATUS_SANITIZE")),
                    reason="the sanitizers keep freed memory in quarantine")
def test_a_caller_that_does_not_read_holds_back_the_handler_not_host_memory(make_app,
                                                                           start_host):
    h = start(make_app, start_host)
    before = host_rss_mb(h)
    n = 300 * 1024 * 1024
    s = socket.create_connection(("127.0.0.1", h.port))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    s.sendall(b"GET /api/download?n=%d HTTP/1.1\r\nHost: x\r\n\r\n" % n)
    # Not reading: the host reads from the handler only as fast as this
    # caller takes the answer, so it holds a few MB, not 300.
    time.sleep(2)
    held = host_rss_mb(h) - before
    assert held < 64, "the host holds %d MB for a caller that does not read" % held
    got = 0
    s.settimeout(30)
    while got < n:
        piece = s.recv(1 << 20)
        if not piece:
            break
        got += len(piece)
    s.close()
    assert got > n  # the head and every byte of the body
    assert host_rss_mb(h) - before < 64


def test_a_stop_ends_event_streams_instead_of_waiting_for_them(make_app, start_host):
    h = start(make_app, start_host)
    conn, resp = open_stream(h)
    read_until(resp, b"data: first\n\n")
    h.proc.send_signal(signal.SIGTERM)
    # The stream ends whole (its last chunk), as a server ends an event
    # stream; the client reconnects to whatever serves next.
    assert resp.read() == b""
    conn.close()
    assert h.proc.wait(timeout=30) == 0
    log = h.log()
    assert "Ended 1 event stream(s)" in log
    assert "still in flight" not in log


def test_a_stop_cuts_off_at_its_drain_limit_what_still_streams_and_says_so(make_app,
                                                                           start_host):
    h = start(make_app, start_host)
    s = socket.create_connection(("127.0.0.1", h.port), timeout=30)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    s.sendall(b"GET /api/download?n=%d HTTP/1.1\r\nHost: x\r\n\r\n" % (300 << 20))
    assert s.recv(4096).startswith(b"HTTP/1.1 200 OK\r\n")
    # A download that is not read runs on; the stop waits its drain limit,
    # then closes the connection: the answer is cut off, not a success.
    h.proc.send_signal(signal.SIGTERM)
    assert h.proc.wait(timeout=60) == 0
    s.close()
    log = h.log()
    assert "Executed 'Functions.download' (Failed" in log, log[-3000:]
    assert "the host stopped" in log


def test_a_reload_ends_event_streams_of_the_version_it_replaces(make_app, start_host):
    h = start(make_app, start_host)
    conn, resp = open_stream(h)
    read_until(resp, b"data: first\n\n")
    server_js = os.path.join(h.app, "server.js")
    with open(server_js) as f:
        text = f.read()
    with open(server_js, "w") as f:
        f.write(text.replace("res.end('plain');", "res.end('plain v2');"))
    # The stream of the old version ends; the new version serves.
    assert resp.read() == b""
    conn.close()
    assert wait_for(lambda: h.get("/api/plain").body == b"plain v2", timeout=60), h.log()[-3000:]
    assert "Ended 1 event stream(s)" in h.log()
    conn, resp = open_stream(h)
    read_until(resp, b"data: first\n\n")
    conn.close()


def test_a_caller_that_leaves_before_the_answer_gives_the_request_up(make_app, start_host):
    """As a proxy does: the host closes its connection to the handler, which
    sees its request end, and the invocation ends (499, nginx's "client
    closed request") instead of holding its slot until functionTimeout.
    (Without pipelining: a request that never ends would hold up those
    written behind it in the same turn.)"""
    h = start(make_app, start_host, pipelining=False)
    s = socket.create_connection(("127.0.0.1", h.port))
    s.sendall(b"GET /api/hang HTTP/1.1\r\nHost: x\r\n\r\n")
    assert wait_for(lambda: h.get("/api/hangs").json()["hanging"] == 1, timeout=10)
    s.close()
    assert wait_for(lambda: h.get("/api/hangs").json() == {"hanging": 0, "cancelled": 1},
                    timeout=10)
    assert log_has(h, "Status=499")
    assert "the caller closed the connection before the answer" in h.log()
    assert h.get("/admin/host/scale").json()["apps"][0]["inFlight"] == 0
    # A stop does not wait for it.
    h.proc.send_signal(signal.SIGTERM)
    assert h.proc.wait(timeout=30) == 0
    assert "still in flight" not in h.log()


def test_a_caller_that_leaves_while_its_request_waits_is_told_apart(make_app, start_host):
    """A request waiting for room (here behind an event stream that holds
    the only slot) never reached the handler: the log says so."""
    h = start(make_app, start_host,
              extra={"extensions": {"http": {"maxConcurrentRequests": 1}}})
    conn, resp = open_stream(h)
    read_until(resp, b"data: first\n\n")
    s = socket.create_connection(("127.0.0.1", h.port))
    s.sendall(b"GET /api/plain HTTP/1.1\r\nHost: x\r\n\r\n")
    assert wait_for(lambda: h.get("/admin/host/scale").json()["apps"][0]["queueLength"] == 1,
                    timeout=10)
    s.close()
    assert log_has(h, "Status=499")
    assert "the caller closed the connection while the request waited for the handler" \
        in h.log()
    assert h.get("/admin/host/scale").json()["apps"][0]["queueLength"] == 0
    conn.close()


def test_a_function_found_slow_is_not_pipelined_behind_or_ahead_of_others(make_app, start_host):
    """Pipelining is for quick answers: once a function's answer took long,
    its next requests go alone on a connection, so quick requests arriving
    at the same time are never written behind one of them."""
    import threading
    h = start(make_app, start_host)
    slow = threading.Thread(target=lambda: h.get("/api/gate?id=first", timeout=20))
    slow.start()
    time.sleep(0.1)  # so that its answer takes long
    assert wait_for(lambda: h.get("/api/open?id=first").text == "yes", timeout=10)
    slow.join()
    for rnd in range(3):
        held = threading.Thread(target=lambda: h.get("/api/gate?id=r%d" % rnd, timeout=30))
        held.start()
        results = []

        def quick():
            results.append(h.get("/api/plain", timeout=10).status)
        quick_ones = [threading.Thread(target=quick) for _ in range(20)]
        for t in quick_ones:
            t.start()
        for t in quick_ones:
            t.join()
        # Every quick request was answered while the slow one is still held.
        assert results == [200] * 20, results
        assert wait_for(lambda: h.get("/api/open?id=r%d" % rnd).text == "yes", timeout=10)
        held.join()


def test_requests_at_once_to_a_function_whose_answers_stream_are_each_sent_once(make_app,
                                                                                start_host):
    """A function's requests are not pipelined before two of its answers came
    back whole: had they been written behind a first answer that streams,
    they would have gone again on other connections, and the handler would
    have seen them twice."""
    import threading
    h = start(make_app, start_host)
    bodies = {}

    def get(i):
        r = h.get("/api/chunky?id=%d" % i, timeout=20)
        bodies[i] = (r.status, r.text)
    threads = [threading.Thread(target=get, args=(i,)) for i in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert bodies == {i: (200, "part one;part two") for i in range(12)}, bodies
    assert h.get("/api/hits").json() == {str(i): 1 for i in range(12)}
