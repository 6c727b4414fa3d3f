"""End-to-end tests of the HTTP server's limits and timeouts: URL 414,
headers 431, body 413, slow clients 408, idle keep-alive, connection cap
503 -- and that the host keeps answering normally after each."""
import os
import socket
import time

import pytest

from conftest import RawConn, http_fn

SAN = bool(os.environ.get("STRATUS_SANITIZE"))
SLOW = 3 if SAN else 1  # the sanitizer build is ~3x slower


def echo_line(method="GET", path="/api/echo", q="-", h="-", n=0):
    return ("method=%s path=%s id=- q=%s h=%s len=%d\n" % (method, path, q, h, n)).encode()


def stratus_http(**settings):
    return {"version": "2.0", "stratus": {"http": settings}}


@pytest.fixture
def host_with(make_app, start_host):
    """host_with(**stratus.http settings) -> a host with the echo function."""

    def start(**settings):
        app = make_app({"echo": http_fn()}, host=stratus_http(**settings) if settings else None)
        return start_host(app)

    return start


def assert_alive(host):
    assert host.alive(), host.log()
    r = host.post("/api/echo?q=alive", body=b"ok")
    assert r.status == 200
    assert r.body == echo_line("POST", q="alive", n=2) + b"ok"


def expect_error(c, status, timeout=10):
    """Read one response on c: the error status, Connection: close, then the
    server closes the connection."""
    r = c.read_response()
    assert r.status == status, (r.status, r.body)
    assert (r.header("Connection") or "").lower() == "close"
    assert r.header("Content-Length") == str(len(r.body))
    assert b"method=" not in r.body  # never reached the function
    closed, extra = c.wait_closed(timeout * SLOW)
    assert closed and extra == b""
    return r


# ---- URL and headers ---------------------------------------------------------


def test_url_too_long_414(host_with):
    host = host_with()
    # A request target of exactly 8 KiB is fine; one byte more is not.
    q = "a" * (8192 - len("/api/echo?q="))
    r = host.get("/api/echo?q=" + q)
    assert r.status == 200 and r.body == echo_line(q=q)
    c = RawConn(host.port)
    try:
        c.send(b"GET /api/echo?q=" + q.encode() + b"b HTTP/1.1\r\nHost: t\r\n\r\n")
        expect_error(c, 414)
    finally:
        c.close()
    c = RawConn(host.port)
    try:
        c.send(b"GET /api/echo?q=" + b"b" * 9000 + b" HTTP/1.1\r\nHost: t\r\n\r\n")
        expect_error(c, 414)
    finally:
        c.close()
    # A much longer one, sent in pieces.
    c = RawConn(host.port)
    try:
        c.send(b"GET /api/echo?q=")
        for _ in range(4):
            c.send(b"c" * 4096)
        c.send(b" HTTP/1.1\r\nHost: t\r\n\r\n")
        expect_error(c, 414)
    except (ConnectionResetError, BrokenPipeError):
        pytest.fail("the server reset the connection instead of answering 414")
    finally:
        c.close()
    assert_alive(host)


def test_headers_too_large_431(host_with):
    host = host_with()
    # ~60 KB in 60 headers: under the 64 KB limit.
    hdrs = b"".join(b"X-Pad-%02d: %s\r\n" % (i, b"v" * 1000) for i in range(60))
    c = RawConn(host.port)
    try:
        c.send(b"GET /api/echo HTTP/1.1\r\nHost: t\r\n" + hdrs + b"X-Test: under\r\n\r\n")
        r = c.read_response()
        assert r.status == 200 and r.body == echo_line(h="under")
    finally:
        c.close()
    # Names and values add up to exactly 64 KiB ("Host" "t" "X-Big" and the
    # value): fine; one byte more: 431.
    fill = 65536 - len("Host") - len("t") - len("X-Big")
    for extra, status in ((0, 200), (1, 431)):
        c = RawConn(host.port)
        try:
            c.send(b"GET /api/echo HTTP/1.1\r\nHost: t\r\nX-Big: " + b"w" * (fill + extra)
                   + b"\r\n\r\n")
            if status == 200:
                r = c.read_response()
                assert r.status == 200 and r.body == echo_line()
            else:
                expect_error(c, status)
        finally:
            c.close()
    # ~70 KB in 70 headers.
    hdrs = b"".join(b"X-Pad-%02d: %s\r\n" % (i, b"v" * 1000) for i in range(70))
    c = RawConn(host.port)
    try:
        c.send(b"GET /api/echo HTTP/1.1\r\nHost: t\r\n" + hdrs + b"\r\n")
        expect_error(c, 431)
    finally:
        c.close()
    # One 70 KB header value.
    c = RawConn(host.port)
    try:
        c.send(b"GET /api/echo HTTP/1.1\r\nHost: t\r\nX-Big: " + b"w" * 70000 + b"\r\n\r\n")
        expect_error(c, 431)
    finally:
        c.close()
    assert_alive(host)


def test_too_many_headers_431(host_with):
    host = host_with()
    # 256 headers (with Host): fine; 257: 431.
    hdrs = b"".join(b"X-H%d: %d\r\n" % (i, i) for i in range(255))
    c = RawConn(host.port)
    try:
        c.send(b"GET /api/echo HTTP/1.1\r\nHost: t\r\n" + hdrs + b"\r\n")
        r = c.read_response()
        assert r.status == 200 and r.body == echo_line()
    finally:
        c.close()
    hdrs = b"".join(b"X-H%d: %d\r\n" % (i, i) for i in range(256))
    c = RawConn(host.port)
    try:
        c.send(b"GET /api/echo HTTP/1.1\r\nHost: t\r\n" + hdrs + b"\r\n")
        expect_error(c, 431)
    finally:
        c.close()
    hdrs = b"".join(b"X-H%d: %d\r\n" % (i, i) for i in range(300))
    c = RawConn(host.port)
    try:
        c.send(b"GET /api/echo HTTP/1.1\r\nHost: t\r\n" + hdrs + b"\r\n")
        expect_error(c, 431)
    finally:
        c.close()
    assert_alive(host)


# ---- body ------------------------------------------------------------------------


def test_body_over_limit_content_length_413(host_with):
    host = host_with(maxRequestBodySize=1024)
    # Exactly at the limit: fine.
    r = host.post("/api/echo", body=b"k" * 1024)
    assert r.status == 200 and r.body == echo_line("POST", n=1024) + b"k" * 1024
    # Announced too big: 413 at once, without the body being sent.
    c = RawConn(host.port)
    try:
        c.send(b"POST /api/echo HTTP/1.1\r\nHost: t\r\nContent-Length: 1025\r\n\r\n")
        expect_error(c, 413)
    finally:
        c.close()
    # Huge and announced with Expect: no 100 Continue, just 413.
    c = RawConn(host.port)
    try:
        c.send(b"PUT /api/echo HTTP/1.1\r\nHost: t\r\nContent-Length: 10000000000\r\n"
               b"Expect: 100-continue\r\n\r\n")
        r = expect_error(c, 413)
        assert r.version == "HTTP/1.1"
    finally:
        c.close()
    # Sent anyway with the head (the server must not reset before the
    # client can read the answer).
    c = RawConn(host.port)
    try:
        c.send(b"POST /api/echo HTTP/1.1\r\nHost: t\r\nContent-Length: 4096\r\n\r\n" + b"x" * 4096)
        expect_error(c, 413)
    finally:
        c.close()
    assert_alive(host)


def test_chunked_body_over_limit_413(host_with):
    host = host_with(maxRequestBodySize=1024)
    # Under the limit in chunks: fine.
    c = RawConn(host.port)
    try:
        c.send(b"POST /api/echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
               + b"1F4\r\n" + b"a" * 500 + b"\r\n" + b"1F4\r\n" + b"b" * 500 + b"\r\n0\r\n\r\n")
        r = c.read_response()
        assert r.status == 200
        assert r.body == echo_line("POST", n=1000) + b"a" * 500 + b"b" * 500
        # Exactly at it, in odd pieces.
        c.send(b"POST /api/echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
               + b"3FF\r\n" + b"d" * 1023 + b"\r\n1\r\nD\r\n0\r\n\r\n")
        r = c.read_response()
        assert r.status == 200
        assert r.body == echo_line("POST", n=1024) + b"d" * 1023 + b"D"
        # Over it on the same connection: 413 and close.
        c.send(b"POST /api/echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n")
        for _ in range(3):
            c.send(b"1F4\r\n" + b"c" * 500 + b"\r\n")
        c.send(b"0\r\n\r\n")
        expect_error(c, 413)
    finally:
        c.close()
    assert_alive(host)


def test_default_body_limit_allows_megabytes(host_with):
    host = host_with()
    body = b"m" * (3 * 1024 * 1024)
    r = host.post("/api/echo", body=body, timeout=60)
    assert r.status == 200
    assert r.body == echo_line("POST", n=len(body)) + body


# ---- timeouts ----------------------------------------------------------------------


def test_header_timeout_408(host_with):
    host = host_with(headerTimeout="00:00:01")
    # A keep-alive connection that is idle between requests is governed by
    # the keep-alive timeout (default 2 minutes), not the header timeout.
    idle = RawConn(host.port)
    idle.send(b"GET /api/echo?q=first HTTP/1.1\r\nHost: t\r\n\r\n")
    assert idle.read_response().body == echo_line(q="first")
    c = RawConn(host.port)
    try:
        c.send(b"GET /api/echo HTT")
        t0 = time.time()
        c.sock.settimeout(3 * SLOW + 2)
        expect_error(c, 408, timeout=3)
        assert time.time() - t0 >= 0.9  # not before the timeout
    finally:
        c.close()
    # Headers begun but never finished.
    c = RawConn(host.port)
    try:
        c.send(b"GET /api/echo HTTP/1.1\r\nHost: t\r\nX-Test: ")
        c.sock.settimeout(3 * SLOW + 2)
        expect_error(c, 408, timeout=3)
    finally:
        c.close()
    time.sleep(max(0.0, 2.2 - (time.time() - t0)))
    try:
        idle.send(b"GET /api/echo?q=second HTTP/1.1\r\nHost: t\r\n\r\n")
        r = idle.read_response()
        assert r.status == 200 and r.body == echo_line(q="second")
    finally:
        idle.close()
    assert_alive(host)


def test_slowloris_body_408(host_with):
    host = host_with(headerTimeout="00:00:01")
    c = RawConn(host.port)
    try:
        c.send(b"POST /api/echo HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\n" + b"s" * 10)
        c.sock.settimeout(3 * SLOW + 2)
        expect_error(c, 408, timeout=3)
    finally:
        c.close()
    # A chunked body that stalls mid-chunk.
    c = RawConn(host.port)
    try:
        c.send(b"POST /api/echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
               b"64\r\n" + b"s" * 10)
        c.sock.settimeout(3 * SLOW + 2)
        expect_error(c, 408, timeout=3)
    finally:
        c.close()
    assert_alive(host)


def test_idle_keepalive_timeout(host_with):
    host = host_with(keepAliveTimeout="00:00:01")
    c = RawConn(host.port)
    try:
        c.send(b"GET /api/echo?q=1 HTTP/1.1\r\nHost: t\r\n\r\n")
        r = c.read_response()
        assert r.status == 200 and r.body == echo_line(q="1")
        assert (r.header("Connection") or "").lower() != "close"
        time.sleep(0.3)
        c.send(b"GET /api/echo?q=2 HTTP/1.1\r\nHost: t\r\n\r\n")
        r = c.read_response()
        assert r.status == 200 and r.body == echo_line(q="2")
        t0 = time.time()
        closed, extra = c.wait_closed(3 * SLOW)
        assert closed, "idle connection still open after %.1f s" % (time.time() - t0)
        assert extra == b""  # closed silently: no response to an unsent request
    finally:
        c.close()
    assert_alive(host)


def test_keepalive_timeout_does_not_cut_a_slow_download(host_with):
    """A connection still sending its answer is not idle: a reader slower
    than the keep-alive timeout still gets the whole response."""
    host = host_with(keepAliveTimeout="00:00:01")
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
    s.settimeout(20 * SLOW)
    s.connect(("127.0.0.1", host.port))
    try:
        body = b"x" * (8 * 1024 * 1024)
        s.sendall(b"POST /api/echo HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n"
                  % len(body) + body)
        prefix = echo_line("POST", n=len(body))
        want = None
        got = bytearray()
        while want is None or len(got) < want:
            chunk = s.recv(16384)
            if not chunk:
                break
            got += chunk
            if want is None and b"\r\n\r\n" in got:
                head, _, _ = got.partition(b"\r\n\r\n")
                assert head.startswith(b"HTTP/1.1 200 ")
                want = len(head) + 4 + len(prefix) + len(body)
            time.sleep(0.008)  # about 2 MB/s: the download takes ~4 s
        assert want is not None, got[:200]
        assert len(got) == want, "connection closed after %d of %d bytes" % (len(got), want)
        assert got.endswith(prefix + body)
    finally:
        s.close()
    assert_alive(host)


# ---- connections ---------------------------------------------------------------------


def served_connection(host, q, timeout=10):
    """Open connections until one is served (refused ones get 503 or are
    closed); return it, still open."""
    deadline = time.time() + timeout * SLOW
    while True:
        c = RawConn(host.port)
        r = None
        try:
            c.send(b"GET /api/echo?q=%s HTTP/1.1\r\nHost: t\r\n\r\n" % q.encode())
            r = c.read_response()
        except (EOFError, ConnectionResetError, BrokenPipeError):
            pass
        if r is not None and r.status == 200:
            assert r.body == echo_line(q=q)
            return c
        c.close()
        assert r is None or r.status == 503, (r.status, r.body)
        assert time.time() < deadline, "no connection served"
        time.sleep(0.05)


def test_connection_cap_503(host_with):
    host = host_with(maxConnections=5)
    conns = []
    try:
        for i in range(5):
            c = RawConn(host.port)
            c.send(b"GET /api/echo?q=c%d HTTP/1.1\r\nHost: t\r\n\r\n" % i)
            r = c.read_response()
            assert r.status == 200 and r.body == echo_line(q="c%d" % i)
            conns.append(c)
        # The sixth: refused with 503 (or closed), never served.
        extra = RawConn(host.port)
        try:
            try:
                extra.send(b"GET /api/echo?q=six HTTP/1.1\r\nHost: t\r\n\r\n")
                r = extra.read_response()
            except (EOFError, ConnectionResetError, BrokenPipeError):
                r = None
            if r is not None:
                assert r.status == 503, (r.status, r.body)
                assert (r.header("Connection") or "").lower() == "close"
                closed, more = extra.wait_closed(10 * SLOW)
                assert closed and more == b""
        finally:
            extra.close()
        # The five still work.
        for i, c in enumerate(conns):
            c.send(b"GET /api/echo?q=again%d HTTP/1.1\r\nHost: t\r\n\r\n" % i)
            r = c.read_response()
            assert r.status == 200 and r.body == echo_line(q="again%d" % i)
        # Close two; then two new connections are served again (the server
        # notices the closes asynchronously: retry while refused).
        for c in conns[:2]:
            c.close()
        conns = conns[2:]
        for k in range(2):
            conns.append(served_connection(host, "n%d" % k))
        # Five open again: the cap still holds.
        extra = RawConn(host.port)
        try:
            try:
                extra.send(b"GET /api/echo?q=six HTTP/1.1\r\nHost: t\r\n\r\n")
                r = extra.read_response()
            except (EOFError, ConnectionResetError, BrokenPipeError):
                r = None
            assert r is None or r.status == 503, (r.status, r.body)
        finally:
            extra.close()
    finally:
        for c in conns:
            c.close()
    deadline = time.time() + 10 * SLOW
    while True:
        try:
            assert_alive(host)
            break
        except (AssertionError, ConnectionError, OSError, EOFError):
            if time.time() > deadline:
                raise
            time.sleep(0.1)


def test_host_survives_all_abuse(host_with):
    """Every limit in turn on one host, then normal service."""
    host = host_with(maxRequestBodySize=1024, headerTimeout="00:00:01")
    cases = [
        (b"GET /api/echo?q=" + b"u" * 9000 + b" HTTP/1.1\r\nHost: t\r\n\r\n", 414),
        (b"GET /api/echo HTTP/1.1\r\nHost: t\r\nX-Big: " + b"h" * 70000 + b"\r\n\r\n", 431),
        (b"GET /api/echo HTTP/1.1\r\n" + b"".join(b"X-%d: 1\r\n" % i for i in range(300))
         + b"\r\n", 431),
        (b"POST /api/echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5000\r\n\r\n", 413),
        (b"POST /api/echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n800\r\n"
         + b"z" * 2048 + b"\r\n0\r\n\r\n", 413),
        (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 40, 400),  # TLS hello
        (b"POST /api/echo HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\nshort", 408),
    ]
    socks = []
    for data, status in cases:
        c = RawConn(host.port)
        socks.append(c)
        c.send(data)
    try:
        for (data, status), c in zip(cases, socks):
            c.sock.settimeout(5 * SLOW + 2)
            expect_error(c, status, timeout=5)
    finally:
        for c in socks:
            c.close()
    # Clients that vanish at awkward moments.
    for data in (b"GET /api/echo HTTP/1.1\r\nHost: t\r\nX-Big: " + b"h" * 70000,
                 b"POST /api/echo HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\nab"):
        s = socket.create_connection(("127.0.0.1", host.port), timeout=10)
        try:
            s.sendall(data)
        except (ConnectionResetError, BrokenPipeError):
            pass
        s.close()
    assert_alive(host)
    r = host.post("/api/echo", body=b"q" * 1024)
    assert r.status == 200 and r.body == echo_line("POST", n=1024) + b"q" * 1024
