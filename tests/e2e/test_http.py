"""End-to-end tests of the HTTP/1.1 server: keep-alive, pipelining, bodies,
HEAD, Expect, Connection handling, concurrency, malformed input, logging and
graceful stop. See src/http/server.h for the intended behaviour."""
import http.client
import json
import os
import re
import signal
import socket
import threading
import time

import pytest

from conftest import RawConn, http_fn

SAN = bool(os.environ.get("STRATUS_SANITIZE"))
SLOW = 3 if SAN else 1  # the sanitizer build is ~3x slower

# A fixed answer, for GET only (HEAD comes with GET).
FIXED_C = r"""
#include <stratus.h>
int fixed(stratus_ctx *ctx)
{
    stratus_res_header(ctx, "Content-Type", "text/plain");
    stratus_res_header(ctx, "X-Fixed", "yes");
    stratus_res_printf(ctx, "fixed-body-0123456789\n");
    return 0;
}
"""
FIXED_BODY = b"fixed-body-0123456789\n"

# Says how long its answer is without sending it, as a framework answering
# HEAD does.
SIZED_C = r"""
#include <stratus.h>
int sized(stratus_ctx *ctx)
{
    stratus_res_header(ctx, "Content-Type", "text/plain");
    stratus_res_header(ctx, "Content-Length", "1234");
    return 0;
}
"""

# Sleeps one second (even when a signal interrupts usleep) before answering;
# touches ?marker=PATH first so a test knows it has started.
SLOW_C = r"""
#include <stratus.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>
int slow(stratus_ctx *ctx)
{
    const char *marker = stratus_req_query(ctx, "marker");
    if (marker) {
        FILE *f = fopen(marker, "w");
        if (f)
            fclose(f);
    }
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    do {
        usleep(20000);
        clock_gettime(CLOCK_MONOTONIC, &b);
    } while ((b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000 < 1000);
    stratus_res_header(ctx, "Content-Type", "text/plain");
    stratus_res_printf(ctx, "slow done\n");
    return 0;
}
"""

# Answers 201 with its invocation id as the body.
LOGGED_C = r"""
#include <stratus.h>
int logged(stratus_ctx *ctx)
{
    stratus_res_status(ctx, 201);
    stratus_res_printf(ctx, "%s", stratus_invocation_id(ctx));
    return 0;
}
"""

# Tries to set framing headers and a header with CR LF in its value.
FRAMING_C = r"""
#include <stratus.h>
int framing(stratus_ctx *ctx)
{
    stratus_res_header(ctx, "Content-Length", "999");
    stratus_res_header(ctx, "Transfer-Encoding", "chunked");
    stratus_res_header(ctx, "X-Evil", "a\r\nSet-Cookie: evil=1");
    stratus_res_header(ctx, "X-Evil\r\nSet-Cookie", "evil=2");
    stratus_res_header(ctx, "X-Ok", "1");
    stratus_res_printf(ctx, "framed body\n");
    return 0;
}
"""


def echo_line(method="GET", path="/api/echo", id="-", q="-", h="-", n=0):
    return ("method=%s path=%s id=%s q=%s h=%s len=%d\n" % (method, path, id, q, h, n)).encode()


@pytest.fixture
def echo_host(make_app, start_host):
    app = make_app({"echo": http_fn(),
                    "items": http_fn("items", route="items/{id}"),
                    "fixed": http_fn("fixed", FIXED_C, methods=["get"]),
                    "sized": http_fn("sized", SIZED_C, methods=["get"])})
    return start_host(app)


def assert_alive(host):
    assert host.alive(), host.log()
    r = host.get("/api/echo?q=alive")
    assert r.status == 200
    assert r.body == echo_line(q="alive")


# ---- keep-alive and pipelining -------------------------------------------


def test_keepalive_reuses_one_connection(echo_host):
    conn = http.client.HTTPConnection("127.0.0.1", echo_host.port, timeout=20)
    try:
        conn.connect()
        sock = conn.sock
        local = sock.getsockname()
        for i in range(6):
            body = ("payload-%d" % i).encode() if i % 2 else None
            conn.request("POST" if body else "GET", "/api/echo?q=%d" % i, body=body)
            r = conn.getresponse()
            data = r.read()
            assert r.status == 200
            assert (r.getheader("Connection") or "").lower() != "close"
            if body:
                assert data == echo_line("POST", q=str(i), n=len(body)) + body
            else:
                assert data == echo_line(q=str(i))
            # http.client reconnects by itself when the server closes: make
            # sure it never had to.
            assert conn.sock is sock
            assert sock.getsockname() == local
    finally:
        conn.close()


def test_pipelining_answers_in_order(echo_host):
    reqs = []
    expected = []
    for i in range(10):
        if i == 4:
            reqs.append(b"GET /api/nope HTTP/1.1\r\nHost: t\r\n\r\n")
            expected.append((404, b""))
        elif i % 3 == 0:
            body = ("body number %d" % i).encode() * (i + 1)
            reqs.append(b"POST /api/echo?q=p%d HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n"
                        % (i, len(body)) + body)
            expected.append((200, echo_line("POST", q="p%d" % i, n=len(body)) + body))
        elif i % 3 == 1:
            reqs.append(b"GET /api/items/item%d HTTP/1.1\r\nHost: t\r\nX-Test: t%d\r\n\r\n" % (i, i))
            expected.append((200, echo_line(path="/api/items/item%d" % i, id="item%d" % i,
                                            h="t%d" % i)))
        else:
            reqs.append(b"GET /api/echo?q=g%d HTTP/1.1\r\nHost: t\r\n\r\n" % i)
            expected.append((200, echo_line(q="g%d" % i)))
    c = RawConn(echo_host.port)
    try:
        c.send(b"".join(reqs))
        for i, (status, body) in enumerate(expected):
            r = c.read_response()
            assert (i, r.status, r.body) == (i, status, body)
            assert (r.header("Connection") or "").lower() != "close"
        # Still usable afterwards.
        c.send(b"GET /api/echo?q=after HTTP/1.1\r\nHost: t\r\n\r\n")
        r = c.read_response()
        assert r.status == 200 and r.body == echo_line(q="after")
        assert c.buf == b""
    finally:
        c.close()


def test_pipelining_stops_after_connection_close(echo_host):
    c = RawConn(echo_host.port)
    try:
        c.send(b"GET /api/echo?q=1 HTTP/1.1\r\nHost: t\r\n\r\n"
               b"GET /api/echo?q=2 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
               b"GET /api/echo?q=3 HTTP/1.1\r\nHost: t\r\n\r\n")
        r = c.read_response()
        assert r.status == 200 and r.body == echo_line(q="1")
        r = c.read_response()
        assert r.status == 200 and r.body == echo_line(q="2")
        assert (r.header("Connection") or "").lower() == "close"
        closed, extra = c.wait_closed(10 * SLOW)
        assert closed and extra == b""  # the third is not answered
    finally:
        c.close()


def test_pipelined_large_bodies(echo_host):
    bodies = [bytes([65 + i]) * (700 * 1024 + i) for i in range(4)]
    c = RawConn(echo_host.port, timeout=60)
    try:
        c.send(b"".join(b"POST /api/echo?q=%d HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n"
                        % (i, len(b)) + b for i, b in enumerate(bodies)))
        for i, b in enumerate(bodies):
            r = c.read_response()
            assert r.status == 200
            assert r.body == echo_line("POST", q=str(i), n=len(b)) + b
    finally:
        c.close()


def test_half_closed_client_still_gets_answers(echo_host):
    # The client sends its requests and shuts its side down (like nc -N).
    s = socket.create_connection(("127.0.0.1", echo_host.port), timeout=20)
    try:
        s.sendall(b"GET /api/echo?q=1 HTTP/1.1\r\nHost: t\r\n\r\n"
                  b"POST /api/echo?q=2 HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc")
        s.shutdown(socket.SHUT_WR)
        out = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            out += chunk
    finally:
        s.close()
    first, sep, rest = out.partition(b"\r\n\r\n")
    assert first.startswith(b"HTTP/1.1 200 ")
    assert rest.startswith(echo_line(q="1") + b"HTTP/1.1 200 ")
    assert rest.endswith(b"\r\n\r\n" + echo_line("POST", q="2", n=3) + b"abc")


def test_absolute_form_target(echo_host):
    # RFC 9112 3.2.2: a server MUST accept the absolute form of a target.
    c = RawConn(echo_host.port)
    try:
        c.send(b"GET http://t/api/echo?q=abs HTTP/1.1\r\nHost: t\r\n\r\n")
        r = c.read_response()
        assert r.status == 200
        assert r.body == echo_line(q="abs")
    finally:
        c.close()


# ---- bodies ------------------------------------------------------------------


def test_content_length_body(echo_host):
    body = bytes(range(256)) * 4
    r = echo_host.post("/api/echo", body=body, headers={"Content-Type": "application/octet-stream"})
    assert r.status == 200
    assert r.body == echo_line("POST", n=len(body)) + body
    # An empty body with Content-Length: 0.
    r = echo_host.request("PUT", "/api/echo", body=b"", headers={"Content-Length": "0"})
    assert r.status == 200
    assert r.body == echo_line("PUT", n=0)


def test_chunked_request_body(echo_host):
    c = RawConn(echo_host.port)
    try:
        c.send(b"POST /api/echo?q=chunked HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n")
        for piece in (b"5\r\nhello\r\n", b"7;ext=1\r\n, world\r\n", b"1;a=b;c\r\n!\r\n",
                      b"A\r\n0123456789\r\n", b"0\r\n\r\n"):
            c.send(piece)
            time.sleep(0.02)
        r = c.read_response()
        assert r.status == 200
        assert r.body == echo_line("POST", q="chunked", n=23) + b"hello, world!0123456789"
        # Same connection, chunked again with a trailer, all in one write,
        # pipelined with a plain request.
        c.send(b"POST /api/echo?q=t HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
               b"3\r\nabc\r\n2\r\nde\r\n0\r\nX-Trailer: yes\r\n\r\n"
               b"GET /api/echo?q=next HTTP/1.1\r\nHost: t\r\n\r\n")
        r = c.read_response()
        assert r.status == 200
        assert r.body == echo_line("POST", q="t", n=5) + b"abcde"
        r = c.read_response()
        assert r.status == 200 and r.body == echo_line(q="next")
    finally:
        c.close()


def test_large_request_and_response_body(echo_host):
    body = (b"0123456789abcdef" * 65536) * 5  # 5 MiB
    r = echo_host.post("/api/echo", body=body, timeout=60)
    assert r.status == 200
    prefix = echo_line("POST", n=len(body))
    assert r.header("Content-Length") == str(len(prefix) + len(body))
    assert len(r.body) == len(prefix) + len(body)
    assert r.body[:len(prefix)] == prefix
    assert r.body[len(prefix):] == body


BIG_C = r"""
#include <stratus.h>
#include <stdlib.h>
#include <string.h>
int big(stratus_ctx *ctx)
{
    const char *n = stratus_req_query(ctx, "n");
    size_t len = n ? (size_t)atol(n) : 0;
    char *p = malloc(len ? len : 1);
    if (!p)
        return 1;
    memset(p, 'x', len);
    stratus_res_header(ctx, "Content-Type", "application/octet-stream");
    stratus_res_body(ctx, p, len);
    free(p);
    return 0;
}
"""


def peak_rss(pid):
    """The process's peak resident memory so far, in bytes (VmHWM)."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM for pid %d" % pid)


def assert_big_answer_held_once(host, path, size):
    """A large response body passes through the host without being copied
    on the way: the host's peak memory grows by about one body, not three
    (the worker's frame, the invocation's response, the connection's
    output)."""
    assert host.get(path + "1024").status == 200  # worker warm
    before = peak_rss(host.proc.pid)
    r = host.get(path + str(size), timeout=120)
    assert r.status == 200 and len(r.body) == size and r.body[:1] == b"x"
    assert r.header("Content-Length") == str(size)
    grown = peak_rss(host.proc.pid) - before
    assert grown < size * 1.5, "host peak memory grew by %d MB for a %d MB answer" % (
        grown >> 20, size >> 20)


@pytest.mark.skipif(SAN, reason="the sanitizers keep freed memory in quarantine")
def test_large_response_is_not_copied_in_the_host(make_app, start_host):
    host = start_host(make_app({"big": http_fn("big", BIG_C)}))
    assert_big_answer_held_once(host, "/api/big?n=", 64 << 20)


# ---- HEAD, Expect, Connection --------------------------------------------


def test_head_answer_keeps_the_length_the_function_gave(echo_host):
    """A function answering HEAD with a Content-Length and no body (Express
    behind a Lambda adapter, a framework under WsgiMiddleware) keeps that
    length; the answer still has no body."""
    c = RawConn(echo_host.port)
    try:
        c.send(b"HEAD /api/sized HTTP/1.1\r\nHost: t\r\n\r\n"
               b"GET /api/fixed HTTP/1.1\r\nHost: t\r\n\r\n")
        r = c.read_response(head=True)
        assert r.status == 200
        assert r.header("Content-Length") == "1234"
        r = c.read_response()
        assert r.status == 200 and r.body == FIXED_BODY
    finally:
        c.close()
    # A GET answer's length is what it sends.
    g = echo_host.get("/api/sized")
    assert g.status == 200 and g.body == b"" and g.header("Content-Length") == "0"


def test_head_same_headers_no_body(echo_host):
    g = echo_host.get("/api/fixed")
    assert g.status == 200 and g.body == FIXED_BODY
    h = echo_host.request("HEAD", "/api/fixed")
    assert h.status == 200
    assert h.body == b""
    for name in ("Content-Length", "Content-Type", "X-Fixed"):
        assert h.header(name) == g.header(name), name
    assert h.header("Content-Length") == str(len(FIXED_BODY))
    # On a raw socket: no body bytes follow the HEAD answer (the next
    # pipelined answer starts right after its head).
    c = RawConn(echo_host.port)
    try:
        c.send(b"HEAD /api/fixed HTTP/1.1\r\nHost: t\r\n\r\n"
               b"GET /api/fixed HTTP/1.1\r\nHost: t\r\n\r\n")
        r = c.read_response(head=True)
        assert r.status == 200
        assert r.header("Content-Length") == str(len(FIXED_BODY))
        r = c.read_response()  # fails to parse if HEAD sent a body
        assert r.status == 200 and r.body == FIXED_BODY
        assert c.buf == b""
    finally:
        c.close()
    # POST is not among the function's methods.
    r = echo_host.post("/api/fixed", body=b"x")
    assert r.status == 405


def test_expect_100_continue(echo_host):
    c = RawConn(echo_host.port)
    try:
        c.send(b"POST /api/echo?q=exp HTTP/1.1\r\nHost: t\r\nContent-Length: 11\r\n"
               b"Expect: 100-continue\r\n\r\n")
        interim = c.read_until(b"\r\n\r\n")
        assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
        c.send(b"hello world")
        r = c.read_response()
        assert r.status == 200
        assert r.body == echo_line("POST", q="exp", n=11) + b"hello world"
    finally:
        c.close()


def test_unsupported_expectation_417(echo_host):
    c = RawConn(echo_host.port)
    try:
        c.send(b"POST /api/echo HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n"
               b"Expect: something-else\r\n\r\nab")
        r = c.read_response()
        assert r.status == 417
    finally:
        c.close()
    assert_alive(echo_host)


def test_connection_close(echo_host):
    c = RawConn(echo_host.port)
    try:
        c.send(b"GET /api/echo?q=bye HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        r = c.read_response()
        assert r.status == 200
        assert r.body == echo_line(q="bye")
        assert (r.header("Connection") or "").lower() == "close"
        closed, extra = c.wait_closed(10 * SLOW)
        assert closed and extra == b""
    finally:
        c.close()


CLOSING_C = r"""
#include <stratus.h>
int closing(stratus_ctx *ctx)
{
    stratus_res_header(ctx, "Connection", "Close");
    stratus_res_printf(ctx, "last\n");
    return 0;
}
"""


def test_function_asking_to_close_the_connection(make_app, start_host):
    """A function's own Connection: close is honoured (as ASP.NET Core does):
    the answer says so and the connection closes; a request pipelined
    behind it is not answered."""
    host = start_host(make_app({"echo": http_fn(), "closing": http_fn("closing", CLOSING_C)}))
    c = RawConn(host.port)
    try:
        c.send(b"GET /api/closing HTTP/1.1\r\nHost: t\r\n\r\n"
               b"GET /api/echo?q=after HTTP/1.1\r\nHost: t\r\n\r\n")
        r = c.read_response()
        assert r.status == 200 and r.body == b"last\n"
        assert (r.header("Connection") or "").lower() == "close"
        closed, extra = c.wait_closed(10 * SLOW)
        assert closed and extra == b"", extra
    finally:
        c.close()
    assert_alive(host)


def test_http10_closes_by_default(echo_host):
    c = RawConn(echo_host.port)
    try:
        c.send(b"GET /api/echo?q=old HTTP/1.0\r\n\r\n")
        r = c.read_response()
        assert r.status == 200
        assert r.body == echo_line(q="old")
        assert (r.header("Connection") or "").lower() == "close"
        closed, extra = c.wait_closed(10 * SLOW)
        assert closed and extra == b""
    finally:
        c.close()


def test_http10_keepalive_stays_open(echo_host):
    c = RawConn(echo_host.port)
    try:
        for i in range(3):
            c.send(b"GET /api/echo?q=ka%d HTTP/1.0\r\nConnection: keep-alive\r\n\r\n" % i)
            r = c.read_response()
            assert r.status == 200
            assert r.body == echo_line(q="ka%d" % i)
            assert (r.header("Connection") or "").lower() == "keep-alive"
        closed, extra = c.wait_closed(0.5)
        assert not closed and extra == b""
    finally:
        c.close()


# ---- what reaches the function ---------------------------------------------


def test_query_percent_decoding(echo_host):
    r = echo_host.get("/api/echo?x=1&q=hello%20world%26more%3D%2B+plus&y=2")
    assert r.status == 200
    # %2B is a literal "+"; only a raw "+" means a space.
    assert r.body == echo_line(q="hello world&more=+ plus")


def test_query_and_path_utf8_percent_decoding(echo_host):
    r = echo_host.get("/api/echo?q=%E2%9C%93%20ok")
    assert r.status == 200
    assert r.text == "method=GET path=/api/echo id=- q=\u2713 ok h=- len=0\n"
    r = echo_host.get("/api/items/caf%C3%A9%20au%20lait?q=x")
    assert r.status == 200
    assert r.text == "method=GET path=/api/items/caf\u00e9 au lait id=caf\u00e9 au lait q=x " \
                     "h=- len=0\n"
    # A malformed escape is passed through as it is.
    r = echo_host.get("/api/echo?q=%zz")
    assert r.status == 200 and r.body == echo_line(q="%zz")


def test_request_headers_reach_function(echo_host):
    r = echo_host.get("/api/echo", headers={"X-Test": "hello-123"})
    assert r.status == 200
    assert r.body == echo_line(h="hello-123")
    c = RawConn(echo_host.port)
    try:
        # Names are case-insensitive; leading blanks are not part of the value.
        c.send(b"GET /api/echo HTTP/1.1\r\nHost: t\r\nx-tEST:   v1\r\n\r\n")
        r = c.read_response()
        assert r.status == 200
        assert r.body == echo_line(h="v1")
        # Repeated headers are joined with ", " (include/stratus.h).
        c.send(b"GET /api/echo HTTP/1.1\r\nHost: t\r\nX-Test: a\r\nX-Other: z\r\nX-Test: b\r\n\r\n")
        r = c.read_response()
        assert r.status == 200
        assert r.body == echo_line(h="a, b")
    finally:
        c.close()


def test_header_value_surrounding_whitespace_is_trimmed(echo_host):
    # RFC 9110 5.5: a field value does not include leading or trailing
    # whitespace (OWS).
    c = RawConn(echo_host.port)
    try:
        c.send(b"GET /api/echo HTTP/1.1\r\nHost: t\r\nX-Test: \t padded value \t \r\n\r\n")
        r = c.read_response()
        assert r.status == 200
        assert r.body == echo_line(h="padded value")
    finally:
        c.close()


def test_response_status_and_headers(echo_host):
    r = echo_host.get("/api/echo?status=201")
    assert r.status == 201
    assert r.header("X-Method") == "GET"
    assert r.header("Content-Type") == "text/plain"
    assert re.fullmatch(r"(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep"
                        r"|Oct|Nov|Dec) \d{4} \d\d:\d\d:\d\d GMT", r.header("Date") or "")
    assert r.body == echo_line(q="-")
    assert r.header("Content-Length") == str(len(r.body))
    r = echo_host.request("DELETE", "/api/echo?status=418")
    assert r.status == 418 and r.header("X-Method") == "DELETE"
    # 204 has no body and no Content-Length, even though the function wrote
    # one: the next pipelined answer must follow directly.
    c = RawConn(echo_host.port)
    try:
        c.send(b"GET /api/echo?status=204 HTTP/1.1\r\nHost: t\r\n\r\n"
               b"GET /api/echo?q=next HTTP/1.1\r\nHost: t\r\n\r\n")
        r = c.read_response()
        assert r.status == 204 and r.reason == "No Content"
        assert r.header("Content-Length") is None
        r = c.read_response()
        assert r.status == 200 and r.body == echo_line(q="next")
    finally:
        c.close()


def test_function_cannot_break_response_framing(make_app, start_host):
    app = make_app({"echo": http_fn(), "framing": http_fn("framing", FRAMING_C)})
    host = start_host(app)
    c = RawConn(host.port)
    try:
        c.send(b"GET /api/framing HTTP/1.1\r\nHost: t\r\n\r\n"
               b"GET /api/echo?q=next HTTP/1.1\r\nHost: t\r\n\r\n")
        r = c.read_response()
        assert r.status == 200
        assert r.body == b"framed body\n"
        names = [k.lower() for k, _ in r.headers]
        assert names.count("content-length") == 1
        assert r.header("Content-Length") == "12"
        assert "transfer-encoding" not in names
        assert "set-cookie" not in names and "x-evil" not in names
        assert r.header("X-Ok") == "1"
        r = c.read_response()
        assert r.status == 200 and r.body == echo_line(q="next")
    finally:
        c.close()


@pytest.mark.parametrize("status", [100, 101, 103])
def test_interim_status_from_function_is_not_a_final_answer(echo_host, status):
    """A function asking for a 1xx status must not leave the client waiting
    for a final response that never comes (or switch protocols)."""
    c = RawConn(echo_host.port)
    try:
        c.send(b"GET /api/echo?status=%d HTTP/1.1\r\nHost: t\r\n\r\n" % status
               + b"GET /api/echo?q=next HTTP/1.1\r\nHost: t\r\n\r\n")
        r = c.read_response()
        assert r.status >= 200, "the function's %d was sent as the final answer" % status
        assert r.status in (200, 500)
        r = c.read_response()
        assert r.status == 200 and r.body == echo_line(q="next")
    finally:
        c.close()


# ---- concurrency and misbehaving clients ------------------------------------


def test_many_concurrent_connections(echo_host):
    n = 200
    per = 3
    barrier = threading.Barrier(n, timeout=60 * SLOW)
    errors = []
    ok = [0]
    lock = threading.Lock()

    def worker(k):
        try:
            conn = http.client.HTTPConnection("127.0.0.1", echo_host.port, timeout=60 * SLOW)
            conn.connect()
            sock = conn.sock
            barrier.wait()  # all connections open at once
            for j in range(per):
                body = ("w%d-%d" % (k, j)).encode()
                conn.request("POST", "/api/echo?q=%d" % k, body=body, headers={"X-Test": str(j)})
                r = conn.getresponse()
                data = r.read()
                if r.status != 200 or data != echo_line("POST", q=str(k), h=str(j),
                                                         n=len(body)) + body:
                    raise AssertionError("worker %d req %d: %d %r" % (k, j, r.status, data))
                if conn.sock is not sock:
                    raise AssertionError("worker %d: connection was not kept alive" % k)
            conn.close()
            with lock:
                ok[0] += 1
        except Exception as e:  # noqa: BLE001 - reported below
            with lock:
                errors.append("%d: %r" % (k, e))
            try:
                barrier.abort()
            except Exception:  # noqa: BLE001
                pass

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120 * SLOW)
    assert not errors, errors[:5]
    assert ok[0] == n
    assert_alive(echo_host)


def test_client_disconnects_mid_request(make_app, start_host):
    app = make_app({"echo": http_fn(), "slow": http_fn("slow", SLOW_C)})
    host = start_host(app)
    # Partial request line; partial headers; body cut short; an abortive
    # close (RST) in the middle of a body.
    for data in (b"GET /api/ec", b"POST /api/echo HTTP/1.1\r\nHost: t\r\nContent-Le",
                 b"POST /api/echo HTTP/1.1\r\nHost: t\r\nContent-Length: 1000\r\n\r\n" + b"x" * 100):
        s = socket.create_connection(("127.0.0.1", host.port), timeout=10)
        s.sendall(data)
        s.close()
    s = socket.create_connection(("127.0.0.1", host.port), timeout=10)
    s.sendall(b"POST /api/echo HTTP/1.1\r\nHost: t\r\nContent-Length: 100000\r\n\r\n" + b"y" * 5000)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    s.close()
    # Gone while the function runs: the answer has nowhere to go.
    s = socket.create_connection(("127.0.0.1", host.port), timeout=10)
    s.sendall(b"GET /api/slow HTTP/1.1\r\nHost: t\r\n\r\n")
    time.sleep(0.2)
    s.close()
    # Gone after pipelining several requests without reading the answers.
    s = socket.create_connection(("127.0.0.1", host.port), timeout=10)
    s.sendall(b"GET /api/echo?q=1 HTTP/1.1\r\nHost: t\r\n\r\n" * 50)
    s.close()
    assert_alive(host)
    r = host.post("/api/echo", body=b"z" * 1000)
    assert r.status == 200 and r.body == echo_line("POST", n=1000) + b"z" * 1000
    assert host.alive()


MALFORMED = {
    "garbage": b"\x00\x01\x02\xffgarbage\r\n\r\n",
    "bad_method_chars": b"G@T /api/echo HTTP/1.1\r\nHost: t\r\n\r\n",
    "invalid_header_line": b"GET /api/echo HTTP/1.1\r\nHost: t\r\nNo colon here\r\n\r\n",
    "nul_in_header_value": b"GET /api/echo HTTP/1.1\r\nHost: t\r\nX-Test: a\x00b\r\n\r\n",
    # RFC 9112 5.1: a server MUST reject whitespace between a field name and
    # its colon with 400 (a request smuggling vector); a space inside a name
    # is not a token either.
    "space_before_colon": b"POST /api/echo HTTP/1.1\r\nHost: t\r\nContent-Length : 4\r\n\r\nabcd",
    "space_in_header_name": b"GET /api/echo HTTP/1.1\r\nHost: t\r\nBad Name: v\r\n\r\n",
    # RFC 9112 3.2: 400 for an HTTP/1.1 request without Host or with two.
    "missing_host": b"GET /api/echo HTTP/1.1\r\nX-Test: x\r\n\r\n",
    "duplicate_host": b"GET /api/echo HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
    "bad_chunk_size": b"POST /api/echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                      b"zz\r\nhello\r\n0\r\n\r\n",
    "bad_http_version": b"GET /api/echo HTTP/1.x\r\nHost: t\r\n\r\n",
    "not_http": b"GET /api/echo FTP/1.1\r\nHost: t\r\n\r\n",
    "bad_content_length": b"POST /api/echo HTTP/1.1\r\nHost: t\r\nContent-Length: 12abc\r\n\r\n",
    "conflicting_content_lengths": b"POST /api/echo HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n"
                                   b"Content-Length: 4\r\n\r\nabcd",
    "content_length_and_chunked": b"POST /api/echo HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n"
                                  b"Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
    # CONNECT opens a tunnel: its body would be parsed as a second request.
    "connect_with_a_request_as_body": b"CONNECT /api/echo HTTP/1.1\r\nHost: t\r\n"
                                      b"Content-Length: 37\r\n\r\n"
                                      b"GET /api/echo?q=smuggled HTTP/1.1\r\n\r\n",
    "connect_authority_form": b"CONNECT t:443 HTTP/1.1\r\nHost: t:443\r\n\r\n",
    # RFC 9112 3.2: 400 for a Host that is not host[:port] (a function
    # would be told it was called at another URL).
    "host_with_a_path": b"GET /api/echo HTTP/1.1\r\nHost: evil.example/x?y=\r\n\r\n",
    "host_with_a_space": b"GET /api/echo HTTP/1.1\r\nHost: a b\r\n\r\n",
    "host_with_userinfo": b"GET /api/echo HTTP/1.1\r\nHost: user@evil.example\r\n\r\n",
    "host_with_a_bad_port": b"GET /api/echo HTTP/1.1\r\nHost: t:80x\r\n\r\n",
    "host_with_markup": b"GET /api/echo HTTP/1.1\r\nHost: t\"><script>\r\n\r\n",
    # RFC 9112 6.1: Transfer-Encoding in HTTP/1.0 is faulty framing;
    # chunked is applied once.
    "http10_transfer_encoding": b"POST /api/echo HTTP/1.0\r\nConnection: keep-alive\r\n"
                                b"Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
    "chunked_twice": b"POST /api/echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n"
                     b"Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
}


@pytest.mark.parametrize("te", [b"gzip, chunked", b"identity, chunked", b"x-custom,chunked"])
def test_unknown_transfer_coding_gets_501_and_close(echo_host, te):
    # The body would reach the function still coded, and the header that
    # says so is not passed on (RFC 9112 6.1: 501 for a coding not known).
    c = RawConn(echo_host.port)
    try:
        c.send(b"POST /api/echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: " + te +
               b"\r\n\r\n3\r\nabc\r\n0\r\n\r\n")
        r = c.read_response()
        assert r.status == 501, r.body
        assert b"transfer coding" in r.body and b"method=" not in r.body
        assert (r.header("Connection") or "").lower() == "close"
        closed, extra = c.wait_closed(10 * SLOW)
        assert closed and extra == b""
    finally:
        c.close()
    # chunked alone, in any case, is fine
    r = echo_host.raw(b"POST /api/echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: Chunked\r\n"
                      b"Connection: close\r\n\r\n3\r\nabc\r\n0\r\n\r\n")
    assert r.startswith(b"HTTP/1.1 200 ") and r.endswith(b"len=3\nabc"), r


@pytest.mark.parametrize("host", [b"example.com", b"example.com:8080", b"EXAMPLE.com.", b"[::1]:7071",
                                  b"[::1]", b"127.0.0.1:", b"xn--bcher-kva.example", b""])
def test_valid_host_values_are_accepted(echo_host, host):
    r = echo_host.raw(b"GET /api/echo HTTP/1.1\r\nHost: " + host + b"\r\nConnection: close\r\n\r\n")
    assert r.startswith(b"HTTP/1.1 200 "), r


@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_malformed_request_gets_400_and_close(echo_host, name):
    c = RawConn(echo_host.port)
    try:
        c.send(MALFORMED[name])
        r = c.read_response()
        # A malformed request must never reach the function.
        assert r.status == 400, r.body
        assert b"method=" not in r.body
        assert (r.header("Connection") or "").lower() == "close"
        assert r.header("Content-Length") == str(len(r.body))
        closed, extra = c.wait_closed(10 * SLOW)
        assert closed and extra == b""
    finally:
        c.close()
    assert_alive(echo_host)


def test_malformed_after_good_request(echo_host):
    # A good request before a bad one on the same connection is answered,
    # then the bad one gets 400 and the connection closes.
    c = RawConn(echo_host.port)
    try:
        c.send(b"GET /api/echo?q=good HTTP/1.1\r\nHost: t\r\n\r\n" + MALFORMED["bad_method_chars"])
        r = c.read_response()
        assert r.status == 200 and r.body == echo_line(q="good")
        r = c.read_response()
        assert r.status == 400
        assert (r.header("Connection") or "").lower() == "close"
        closed, extra = c.wait_closed(10 * SLOW)
        assert closed and extra == b""
    finally:
        c.close()
    assert_alive(echo_host)


# ---- logging -------------------------------------------------------------------


def wait_for_log(host, pattern, timeout=10 * SLOW):
    deadline = time.time() + timeout
    while True:
        m = re.search(pattern, host.log())
        if m or time.time() > deadline:
            return m
        time.sleep(0.05)


def test_log_line_per_invocation(make_app, start_host):
    app = make_app({"logged": http_fn("logged", LOGGED_C)})
    host = start_host(app)
    ids = []
    for _ in range(3):
        r = host.get("/api/logged")
        assert r.status == 201
        ids.append(r.text)
        assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", r.text)
    assert len(set(ids)) == 3
    for inv in ids:
        m = wait_for_log(host, r"Executed 'Functions\.logged' \(Succeeded, Id=%s, Status=201, "
                               r"Duration=([0-9.]+)ms\)" % re.escape(inv))
        assert m, host.log()
        assert float(m.group(1)) >= 0
    # Exactly one line per invocation.
    for inv in ids:
        assert host.log().count("Id=" + inv) == 1


def test_production_logs_are_json_lines(make_app, start_host):
    app = make_app({"echo": http_fn(), "logged": http_fn("logged", LOGGED_C)})
    host = start_host(app, mode="host")
    r = host.get("/api/logged")
    assert r.status == 201
    inv = r.text
    assert host.get("/api/echo?q=1").status == 200
    assert host.get("/api/missing").status == 404
    c = RawConn(host.port)
    try:
        c.send(b"BAD\x01 / HTTP/1.1\r\n\r\n")
        assert c.read_response().status == 400
    finally:
        c.close()
    assert wait_for_log(host, re.escape(inv)), host.log()
    assert host.stop() == 0
    lines = [ln for ln in host.log().split("\n") if ln.strip()]
    assert lines
    records = []
    for ln in lines:
        try:
            records.append(json.loads(ln))
        except ValueError:
            pytest.fail("not a JSON line: %r\nlog:\n%s" % (ln, host.log()))
    for rec in records:
        assert isinstance(rec, dict)
        assert rec.get("level") and rec.get("time") and "message" in rec, rec
    mine = [rec for rec in records if rec.get("invocationId") == inv]
    assert len(mine) == 1, records
    assert mine[0]["function"] == "logged"
    assert mine[0]["status"] == 201
    assert mine[0]["outcome"] == "Succeeded"
    assert isinstance(mine[0]["durationMs"], (int, float))


# ---- stopping ------------------------------------------------------------------


def test_sigterm_finishes_in_flight_request(make_app, start_host, tmp_path):
    app = make_app({"echo": http_fn(), "slow": http_fn("slow", SLOW_C)})
    host = start_host(app)
    assert host.get("/api/echo").status == 200
    # An idle keep-alive connection: closed by the stop.
    idle = RawConn(host.port)
    idle.send(b"GET /api/echo HTTP/1.1\r\nHost: t\r\n\r\n")
    assert idle.read_response().status == 200
    marker = tmp_path / "slow-started"
    c = RawConn(host.port, timeout=30 * SLOW)
    try:
        c.send(b"GET /api/slow?marker=%s HTTP/1.1\r\nHost: t\r\n\r\n" % str(marker).encode())
        deadline = time.time() + 10 * SLOW
        while not marker.exists():
            assert time.time() < deadline, "the slow function did not start"
            time.sleep(0.01)
        host.proc.send_signal(signal.SIGTERM)
        r = c.read_response()
        assert r.status == 200
        assert r.body == b"slow done\n"
        closed, extra = c.wait_closed(10 * SLOW)
        assert closed and extra == b""
    finally:
        c.close()
    closed, extra = idle.wait_closed(10 * SLOW)
    idle.close()
    assert closed and extra == b""
    # No new connection is served any more.
    try:
        s = socket.create_connection(("127.0.0.1", host.port), timeout=5)
    except ConnectionRefusedError:
        pass
    else:
        try:
            s.sendall(b"GET /api/echo HTTP/1.1\r\nHost: t\r\n\r\n")
            got = s.recv(100)
        except (ConnectionResetError, BrokenPipeError):
            got = b""
        finally:
            s.close()
        assert got == b"", "a connection opened during the stop was served: %r" % got
    assert host.proc.wait(30 * SLOW) == 0, host.log()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", host.port), timeout=5).close()


def test_sigint_exits_zero(echo_host):
    idle = RawConn(echo_host.port)
    idle.send(b"GET /api/echo HTTP/1.1\r\nHost: t\r\n\r\n")
    assert idle.read_response().status == 200
    echo_host.proc.send_signal(signal.SIGINT)
    assert echo_host.proc.wait(30 * SLOW) == 0, echo_host.log()
    closed, extra = idle.wait_closed(5)
    idle.close()
    assert closed and extra == b""


def test_chunked_trailers_do_not_corrupt_headers(make_app, start_host):
    """Trailer fields after a chunked body must not disturb the request's
    headers (they once shared a buffer that a big trailer reallocated)."""
    host = start_host(make_app({"echo": http_fn()}))
    trailer = b"X-Trailer: " + b"a" * 8000 + b"\r\n"
    req = (b"POST /api/echo HTTP/1.1\r\nHost: x\r\nX-Test: kept\r\n"
           b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
           b"5\r\nhello\r\n0\r\n" + trailer + b"\r\n")
    out = host.raw(req)
    assert out.startswith(b"HTTP/1.1 200 ")
    assert b"h=kept len=5" in out
    assert host.get("/api/echo").status == 200


def test_host_json_log_levels(make_app, start_host):
    """logging.logLevel as in Azure: "Function": "Warning" keeps the lines
    of successful invocations out of the log, failures still show."""
    host = {"version": "2.0", "logging": {"logLevel": {"default": "Information",
                                                       "Function": "Warning"}}}
    h = start_host(make_app({"echo": http_fn()}, host=host))
    assert h.get("/api/echo").status == 200
    assert h.get("/api/echo?status=200").status == 200
    time.sleep(0.3)
    log = h.log()
    assert "Host started" in log
    assert "Executed 'Functions.echo'" not in log, log
