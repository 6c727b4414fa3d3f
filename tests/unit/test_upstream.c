/*
 * test_upstream.c -- the asynchronous HTTP/1.1 client (src/http/upstream.c)
 * on a real loop against real sockets: the host's own HTTP server for
 * round trips, and a scripted raw server for what a well-behaved server
 * never does (chunked and close-delimited answers, garbage, silence,
 * closing a kept-alive connection, bytes nobody asked for).
 */
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "../../src/http/server.h"
#include "../../src/http/upstream.h"
#include "../../src/telemetry/log.h"
#include "test.h"

static uv_loop_t loop;

/* ---- a real server: echoes method, target and body ---- */

/* Streamed answers (http_stream_*): /stream/len, /stream/short,
 * /stream/abort, /stream/drain. */
static int drains;
static size_t drain_left;

static void drain_more(http_request_t *req, void *data)
{
    (void)data;
    static char block[65536];
    drains++;
    memset(block, 'D', sizeof block);
    while (drain_left && http_stream_unsent(req) < (1u << 20)) {
        size_t n = drain_left < sizeof block ? drain_left : sizeof block;
        http_stream_write(req, block, n);
        drain_left -= n;
    }
    if (drain_left)
        http_stream_on_drain(req, drain_more, NULL);
    else
        http_stream_end(req);
}

static int stream_handler(http_request_t *req)
{
    sv_t t = req->target;
    if (t.n < 8 || memcmp(t.p, "/stream/", 8) != 0)
        return 0;
    if (sv_ieq_cstr(t, "/stream/len")) {
        http_stream_start_len(req, 200, NULL, 0, 10, NULL, NULL);
        http_stream_write(req, "abcd", 4);
        http_stream_write(req, "efghijXX", 8); /* never more than announced */
        http_stream_end(req);
    } else if (sv_ieq_cstr(t, "/stream/short")) {
        http_stream_start_len(req, 200, NULL, 0, 10, NULL, NULL);
        http_stream_write(req, "abc", 3);
        http_stream_end(req); /* short of the length: cut off */
    } else if (sv_ieq_cstr(t, "/stream/abort")) {
        http_stream_start(req, 200, NULL, 0, NULL, NULL);
        http_stream_write(req, "abc", 3);
        http_stream_abort(req);
    } else {
        http_stream_start(req, 200, NULL, 0, NULL, NULL);
        drain_left = 4u << 20;
        drains = 0;
        drain_more(req, NULL);
    }
    return 1;
}

static void echo_handler(http_request_t *req, void *data)
{
    (void)data;
    if (stream_handler(req))
        return;
    char head[256];
    snprintf(head, sizeof head, "%s %.*s", req->method_name, (int)req->target.n, req->target.p);
    sv_t te = http_request_header(req, "Transfer-Encoding");
    /* The trailer fields as "name=value," and the last header, which a
     * trailer must not have replaced. */
    char trailers[256] = "";
    for (size_t i = 0; i < req->ntrailers; i++)
        snprintf(trailers + strlen(trailers), sizeof trailers - strlen(trailers), "%.*s=%.*s,",
                 (int)req->trailers[i].name.n, req->trailers[i].name.p,
                 (int)req->trailers[i].value.n, req->trailers[i].value.p);
    sv_t sum = http_request_trailer(req, "x-checksum");
    sv_t last = req->nheaders ? req->headers[req->nheaders - 1].value : SV_LIT("");
    http_header_t h[5] = {{SV_LIT("X-Request"), sv_cstr(head)},
                          {SV_LIT("X-Chunked"), te.p ? SV_LIT("yes") : SV_LIT("no")},
                          {SV_LIT("X-Trailers"), sv_cstr(trailers)},
                          {SV_LIT("X-Sum"), sum.p ? sum : SV_LIT("none")},
                          {SV_LIT("X-Last"), last}};
    http_respond(req, 200, h, 5, req->body.p, req->body.len);
}

/* A body limit per request: 8 bytes for /small, else the configured one. */
static uint64_t body_limit(http_server_t *s, const http_request_t *req, sv_t target, void *data)
{
    (void)req;
    (void)data;
    return sv_eq(target, SV_LIT("/small")) ? 8 : s->cfg.max_body;
}

/* ---- a scripted raw server ---- */

typedef struct raw_conn {
    uv_tcp_t tcp;
    char buf[8192];
    size_t len;
    int requests;
    int holding; /* a request is held: later ones wait behind it (in order) */
    int ended;   /* answered "Connection: close": reads nothing more */
} raw_conn_t;

static uv_tcp_t raw_listener;
static int raw_accepted;
static int raw_held;         /* requests received and never answered */
static int raw_max_per_read; /* most requests that arrived in one read */
static int raw_die_left;     /* GET /die1 closes the connection this many times */

static struct raw_conn *drip; /* the connection of the last GET /drip */

static void raw_closed(uv_handle_t *h)
{
    if ((void *)h == (void *)drip)
        drip = NULL;
    free(h);
}

static void raw_write_done(uv_write_t *w, int status)
{
    (void)status;
    free(w);
}

static void raw_send(raw_conn_t *c, const char *text)
{
    size_t n = strlen(text);
    uv_write_t *w = malloc(sizeof *w + n);
    memcpy(w + 1, text, n);
    uv_buf_t b = uv_buf_init((char *)(w + 1), (unsigned)n);
    uv_write(w, (uv_stream_t *)&c->tcp, &b, 1, raw_write_done);
}

static void raw_shutdown_done(uv_shutdown_t *s, int status)
{
    (void)status;
    free(s);
}

static void raw_close(raw_conn_t *c)
{
    if (!uv_is_closing((uv_handle_t *)&c->tcp))
        uv_close((uv_handle_t *)&c->tcp, raw_closed);
}

/* Answer one request (its head is in c->buf) according to its path. */
static void raw_answer(raw_conn_t *c)
{
    c->requests++;
    if (c->holding || strstr(c->buf, " /hold") == strchr(c->buf, ' ')) {
        c->holding = 1;
        raw_held++;
        return;
    }
    if (!strncmp(c->buf, "GET /p?", 7) || !strncmp(c->buf, "GET /bye?", 9)) {
        /* Answers the query; /bye also ends the connection. */
        int bye = c->buf[5] == 'b';
        const char *q = strchr(c->buf, '?') + 1;
        int n = (int)strcspn(q, " ");
        char out[256];
        snprintf(out, sizeof out, "HTTP/1.1 200 OK\r\n%sContent-Length: %d\r\n\r\n%.*s",
                 bye ? "Connection: close\r\n" : "", n, n, q);
        raw_send(c, out);
        if (bye) {
            c->ended = 1;
            uv_shutdown_t *s = malloc(sizeof *s);
            uv_shutdown(s, (uv_stream_t *)&c->tcp, raw_shutdown_done);
        }
        return;
    }
    if (!strncmp(c->buf, "GET /die ", 9) || (!strncmp(c->buf, "GET /die1 ", 10) && raw_die_left)) {
        if (c->buf[8] == '1')
            raw_die_left--;
        raw_close(c);
        return;
    }
    if (!strncmp(c->buf, "GET /die1 ", 10)) {
        raw_send(c, "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nlive");
        return;
    }
    if (!strncmp(c->buf, "GET /drip ", 10) || !strncmp(c->buf, "GET /driphold ", 14)) {
        /* A chunked answer whose next pieces the test sends (raw_send on drip);
         * /driphold holds the requests that follow it, as a server that
         * answers in order does. */
        drip = c;
        c->holding = c->buf[9] == 'h';
        raw_send(c, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-A: 1\r\n\r\n"
                    "5\r\nfirst\r\n");
        return;
    }
    if (!strncmp(c->buf, "GET /long ", 10)) {
        /* 3000 bytes announced: over a small body limit. */
        static char text[4096];
        int k = snprintf(text, sizeof text, "HTTP/1.1 200 OK\r\nContent-Length: 3000\r\n\r\n");
        memset(text + k, 'L', 3000);
        text[k + 3000] = '\0';
        raw_send(c, text);
        return;
    }
    if (!strncmp(c->buf, "GET /chunked ", 13)) {
        raw_send(c, "HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\nX-A: 1\r\n\r\n"
                    "5\r\nhello\r\n7\r\n, world\r\n0\r\n\r\n");
    } else if (!strncmp(c->buf, "GET /eof ", 9)) {
        raw_send(c, "HTTP/1.1 200 OK\r\n\r\nuntil the end");
        uv_shutdown_t *s = malloc(sizeof *s);
        uv_shutdown(s, (uv_stream_t *)&c->tcp, raw_shutdown_done);
    } else if (!strncmp(c->buf, "GET /close ", 11)) {
        raw_send(c, "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok");
    } else if (!strncmp(c->buf, "GET /garbage ", 13)) {
        raw_send(c, "this is not http\r\n\r\n");
    } else if (!strncmp(c->buf, "GET /silent ", 12)) {
        /* never answers */
    } else if (!strncmp(c->buf, "GET /extra ", 11)) {
        raw_send(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\n\r\n");
    } else if (!strncmp(c->buf, "GET /once ", 10)) {
        if (c->requests == 1)
            raw_send(c, "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nonce");
        else
            raw_close(c); /* a kept-alive connection closed under a request */
    } else if (!strncmp(c->buf, "HEAD /head ", 11)) {
        raw_send(c, "HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n");
    } else if (!strncmp(c->buf, "GET /crash ", 11)) {
        raw_send(c, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial");
        raw_close(c);
    } else {
        raw_send(c, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
    }
}

static void raw_alloc(uv_handle_t *h, size_t s, uv_buf_t *b)
{
    raw_conn_t *c = (raw_conn_t *)h;
    (void)s;
    *b = uv_buf_init(c->buf + c->len, (unsigned)(sizeof c->buf - 1 - c->len));
}

static void raw_read(uv_stream_t *st, ssize_t n, const uv_buf_t *b)
{
    raw_conn_t *c = (raw_conn_t *)st;
    (void)b;
    if (n < 0) {
        raw_close(c);
        return;
    }
    c->len += (size_t)n;
    c->buf[c->len] = '\0';
    char *end;
    int in_read = 0;
    while (!c->ended && (end = strstr(c->buf, "\r\n\r\n"))) {
        if (++in_read > raw_max_per_read)
            raw_max_per_read = in_read;
        size_t used = (size_t)(end + 4 - c->buf);
        raw_answer(c);
        if (uv_is_closing((uv_handle_t *)&c->tcp))
            return;
        memmove(c->buf, c->buf + used, c->len - used + 1);
        c->len -= used;
    }
}

static void raw_on_conn(uv_stream_t *l, int status)
{
    if (status < 0)
        return;
    raw_conn_t *c = calloc(1, sizeof *c);
    uv_tcp_init(&loop, &c->tcp);
    if (uv_accept(l, (uv_stream_t *)&c->tcp) != 0) {
        raw_close(c);
        return;
    }
    raw_accepted++;
    c->tcp.data = &raw_listener; /* marks a raw connection (freed on close) */
    uv_read_start((uv_stream_t *)&c->tcp, raw_alloc, raw_read);
}

static int raw_port(void)
{
    struct sockaddr_storage ss;
    int len = sizeof ss;
    uv_tcp_getsockname(&raw_listener, (struct sockaddr *)&ss, &len);
    return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

/* ---- calls ---- */

typedef struct result {
    upstream_call_t call;
    int done;
    int status;
    int code;
    char body[256];
    char header[512];
    char error[160];
} result_t;

static void on_result(upstream_call_t *call, int status, respparser_t *resp)
{
    result_t *r = (result_t *)call;
    r->done++;
    r->status = status;
    snprintf(r->error, sizeof r->error, "%s", call->error);
    if (resp) {
        r->code = respparser_status(resp);
        size_t n;
        const char *b = respparser_body(resp, &n);
        snprintf(r->body, sizeof r->body, "%.*s", (int)n, b);
        size_t pos = 0, nl, vl;
        const char *name, *value;
        r->header[0] = '\0';
        while (respparser_header_next(resp, &pos, &name, &nl, &value, &vl) == 0)
            if (!strcasecmp(name, "X-Request") || !strcasecmp(name, "X-A") ||
                !strcasecmp(name, "X-Chunked") || !strcasecmp(name, "X-Trailers") ||
                !strcasecmp(name, "X-Sum") || !strcasecmp(name, "X-Last"))
                snprintf(r->header + strlen(r->header), sizeof r->header - strlen(r->header),
                         "%s=%s;", name, value);
    }
}

static void prepare(result_t *r, const char *head, const char *body)
{
    memset(r, 0, sizeof *r);
    r->call.head = head;
    r->call.head_len = strlen(head);
    r->call.body = body;
    r->call.body_len = body ? strlen(body) : 0;
    r->call.cb = on_result;
    r->call.timeout_ms = 5000;
}

static void start(result_t *r, upstream_t *u, const char *head, const char *body)
{
    prepare(r, head, body);
    upstream_send(u, &r->call);
}

static void run_until(int *flag)
{
    for (int i = 0; i < 100000 && !*flag; i++)
        uv_run(&loop, UV_RUN_ONCE);
}

static int closed_flag;
static void on_closed(void *data) { *(int *)data = 1; }

static void close_upstream(upstream_t *u)
{
    closed_flag = 0;
    upstream_close(u, on_closed, &closed_flag);
    run_until(&closed_flag);
}

/* ---- tests ---- */

static http_server_t server;
static int server_port;

TEST(round_trip_keep_alive)
{
    upstream_t *u = upstream_new(&loop, "127.0.0.1", server_port, NULL);
    result_t r;
    start(&r, u, "GET /a?x=1 HTTP/1.1\r\nHost: t\r\n\r\n", NULL);
    run_until(&r.done);
    CHECK_INT(r.status, UPSTREAM_OK);
    CHECK_INT(r.code, 200);
    CHECK_CONTAINS(r.header, "X-Request=GET /a?x=1;");
    /* The second call reuses the connection. */
    start(&r, u, "POST /b HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\n", "hello");
    run_until(&r.done);
    CHECK_INT(r.status, UPSTREAM_OK);
    CHECK_STR(r.body, "hello");
    CHECK_CONTAINS(r.header, "X-Chunked=no;");
    CHECK_INT(upstream_conns(u), 1);
    CHECK_INT(upstream_busy(u), 0);
    close_upstream(u);
}

TEST(chunked_request_body)
{
    upstream_t *u = upstream_new(&loop, "127.0.0.1", server_port, NULL);
    result_t r;
    prepare(&r, "PUT /c HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n",
            "a chunked body");
    r.call.chunked = 1;
    upstream_send(u, &r.call);
    run_until(&r.done);
    CHECK_INT(r.status, UPSTREAM_OK);
    CHECK_STR(r.body, "a chunked body");
    CHECK_CONTAINS(r.header, "X-Chunked=yes;");
    close_upstream(u);
}

/* A chunked request's trailer fields reach the handler apart from its
 * headers (a trailer never replaces or adds a header), with their values
 * trimmed; a request without trailers has none. */
TEST(chunked_request_trailers)
{
    upstream_t *u = upstream_new(&loop, "127.0.0.1", server_port, NULL);
    result_t r;
    start(&r, u, "POST /t HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n"
                 "Trailer: X-Checksum\r\nX-Last: head\r\n\r\n",
          "5\r\nhello\r\n6\r\n world\r\n0\r\nX-Checksum: abc \r\nX-Last: trailer\r\n"
          "Lambda-Runtime-Function-Error-Body: eyJhIjoxfQ==\r\n\r\n");
    run_until(&r.done);
    CHECK_INT(r.status, UPSTREAM_OK);
    CHECK_INT(r.code, 200);
    CHECK_STR(r.body, "hello world");
    CHECK_CONTAINS(r.header, "X-Trailers=X-Checksum=abc,X-Last=trailer,"
                             "Lambda-Runtime-Function-Error-Body=eyJhIjoxfQ==,;");
    CHECK_CONTAINS(r.header, "X-Sum=abc;");
    CHECK_CONTAINS(r.header, "X-Last=head;");
    /* The next request on the connection has no trailers of its own. */
    start(&r, u, "POST /t HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n",
          "2\r\nok\r\n0\r\n\r\n");
    run_until(&r.done);
    CHECK_INT(r.code, 200);
    CHECK_STR(r.body, "ok");
    CHECK_CONTAINS(r.header, "X-Trailers=;");
    CHECK_CONTAINS(r.header, "X-Sum=none;");
    CHECK_INT(upstream_conns(u), 1);
    close_upstream(u);
}

/* Trailer fields count against the header limits: bytes (64 KB with the
 * headers) and fields (HTTP_MAX_HEADER_COUNT with the headers): 431. */
TEST(chunked_request_trailers_limits)
{
    upstream_t *u = upstream_new(&loop, "127.0.0.1", server_port, NULL);
    result_t r;
    /* 40 KB of headers and 30 KB of trailers: each fits alone, not both. */
    static char head[48 * 1024], body[40 * 1024];
    snprintf(head, sizeof head, "POST /t HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n"
             "X-Big: %0*d\r\n\r\n", 40 * 1024, 0);
    snprintf(body, sizeof body, "2\r\nok\r\n0\r\nX-Big-Trailer: %0*d\r\n\r\n", 30 * 1024, 0);
    start(&r, u, head, body);
    run_until(&r.done);
    CHECK_INT(r.status, UPSTREAM_OK);
    CHECK_INT(r.code, 431);
    CHECK_CONTAINS(r.body, "trailer fields too large");
    /* The same trailers after small headers are fine. */
    start(&r, u, "POST /t HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n", body);
    run_until(&r.done);
    CHECK_INT(r.code, 200);
    CHECK_STR(r.body, "ok");
    /* 200 headers and 100 trailer fields: more than 256 fields. */
    size_t at = (size_t)snprintf(head, sizeof head, "POST /t HTTP/1.1\r\nHost: t\r\n"
                                 "Transfer-Encoding: chunked\r\n");
    for (int i = 0; i < 200; i++)
        at += (size_t)snprintf(head + at, sizeof head - at, "X-H%d: 1\r\n", i);
    snprintf(head + at, sizeof head - at, "\r\n");
    at = (size_t)snprintf(body, sizeof body, "2\r\nok\r\n0\r\n");
    for (int i = 0; i < 100; i++)
        at += (size_t)snprintf(body + at, sizeof body - at, "X-T%d: 1\r\n", i);
    snprintf(body + at, sizeof body - at, "\r\n");
    start(&r, u, head, body);
    run_until(&r.done);
    CHECK_INT(r.code, 431);
    CHECK_CONTAINS(r.body, "too many request headers and trailer fields");
    close_upstream(u);
}

/* http_server_on_body_limit: one request's limit differs from the rest. */
TEST(body_limit_per_request)
{
    upstream_t *u = upstream_new(&loop, "127.0.0.1", server_port, NULL);
    result_t r;
    start(&r, u, "POST /small HTTP/1.1\r\nHost: t\r\nContent-Length: 8\r\n\r\n", "12345678");
    run_until(&r.done);
    CHECK_INT(r.code, 200);
    CHECK_STR(r.body, "12345678");
    start(&r, u, "POST /small HTTP/1.1\r\nHost: t\r\nContent-Length: 9\r\n\r\n", "123456789");
    run_until(&r.done);
    CHECK_INT(r.code, 413);
    close_upstream(u);
    u = upstream_new(&loop, "127.0.0.1", server_port, NULL);
    /* Chunked, past the limit only in its body. */
    start(&r, u, "POST /small HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n",
          "5\r\nhello\r\n5\r\nworld\r\n0\r\n\r\n");
    run_until(&r.done);
    CHECK_INT(r.code, 413);
    close_upstream(u);
    u = upstream_new(&loop, "127.0.0.1", server_port, NULL);
    start(&r, u, "POST /big HTTP/1.1\r\nHost: t\r\nContent-Length: 9\r\n\r\n", "123456789");
    run_until(&r.done);
    CHECK_INT(r.code, 200);
    CHECK_STR(r.body, "123456789");
    close_upstream(u);
}

TEST(concurrent_calls_and_connection_limit)
{
    upstream_opts_t o = {.max_conns = 2};
    upstream_t *u = upstream_new(&loop, "127.0.0.1", server_port, &o);
    static result_t r[6];
    char bodies[6][32];
    int all = 0;
    for (int i = 0; i < 6; i++) {
        snprintf(bodies[i], sizeof bodies[i], "body %d", i);
        start(&r[i], u, "POST /n HTTP/1.1\r\nHost: t\r\nContent-Length: 6\r\n\r\n", bodies[i]);
    }
    CHECK(upstream_conns(u) <= 2);
    for (int k = 0; k < 100000 && !all; k++) {
        uv_run(&loop, UV_RUN_ONCE);
        all = 1;
        for (int i = 0; i < 6; i++)
            all &= r[i].done;
    }
    for (int i = 0; i < 6; i++) {
        CHECK_INT(r[i].done, 1);
        CHECK_INT(r[i].status, UPSTREAM_OK);
        CHECK_STR(r[i].body, bodies[i]);
    }
    CHECK(upstream_conns(u) <= 2);
    close_upstream(u);
}

TEST(chunked_and_close_delimited_responses)
{
    upstream_t *u = upstream_new(&loop, "127.0.0.1", raw_port(), NULL);
    result_t r;
    start(&r, u, "GET /chunked HTTP/1.1\r\nHost: t\r\n\r\n", NULL);
    run_until(&r.done);
    CHECK_INT(r.status, UPSTREAM_OK);
    CHECK_INT(r.code, 201);
    CHECK_STR(r.body, "hello, world");
    CHECK_CONTAINS(r.header, "X-A=1;");
    start(&r, u, "GET /eof HTTP/1.1\r\nHost: t\r\n\r\n", NULL);
    run_until(&r.done);
    CHECK_INT(r.status, UPSTREAM_OK);
    CHECK_STR(r.body, "until the end");
    start(&r, u, "GET /close HTTP/1.1\r\nHost: t\r\n\r\n", NULL);
    run_until(&r.done);
    CHECK_INT(r.status, UPSTREAM_OK);
    CHECK_STR(r.body, "ok");
    for (int i = 0; i < 20; i++)
        uv_run(&loop, UV_RUN_NOWAIT);
    CHECK_INT(upstream_conns(u), 0); /* /eof and /close each end their connection */
    close_upstream(u);
}

TEST(head_response_has_no_body)
{
    upstream_t *u = upstream_new(&loop, "127.0.0.1", raw_port(), NULL);
    result_t r;
    prepare(&r, "HEAD /head HTTP/1.1\r\nHost: t\r\n\r\n", NULL);
    r.call.no_body = 1;
    upstream_send(u, &r.call);
    run_until(&r.done);
    CHECK_INT(r.status, UPSTREAM_OK);
    CHECK_INT(r.code, 200);
    CHECK_STR(r.body, "");
    close_upstream(u);
}

TEST(failures)
{
    upstream_t *u = upstream_new(&loop, "127.0.0.1", raw_port(), NULL);
    result_t r;
    start(&r, u, "GET /garbage HTTP/1.1\r\nHost: t\r\n\r\n", NULL);
    run_until(&r.done);
    CHECK_INT(r.status, UPSTREAM_EPROTO);
    CHECK_CONTAINS(r.error, "invalid response");

    start(&r, u, "GET /crash HTTP/1.1\r\nHost: t\r\n\r\n", NULL);
    run_until(&r.done);
    CHECK_INT(r.status, UPSTREAM_EIO);
    CHECK_CONTAINS(r.error, "cut short");

    memset(&r, 0, sizeof r);
    r.call.head = "GET /silent HTTP/1.1\r\nHost: t\r\n\r\n";
    r.call.head_len = strlen(r.call.head);
    r.call.cb = on_result;
    r.call.timeout_ms = 150;
    upstream_send(u, &r.call);
    run_until(&r.done);
    CHECK_INT(r.status, UPSTREAM_ETIMEDOUT);

    /* Bytes after a whole response: delivered, but the connection goes. */
    start(&r, u, "GET /extra HTTP/1.1\r\nHost: t\r\n\r\n", NULL);
    run_until(&r.done);
    CHECK_INT(r.status, UPSTREAM_OK);
    CHECK_STR(r.body, "ok");
    for (int i = 0; i < 20; i++)
        uv_run(&loop, UV_RUN_NOWAIT);
    CHECK_INT(upstream_conns(u), 0);
    close_upstream(u);

    /* Nobody listening. */
    uv_tcp_t probe;
    uv_tcp_init(&loop, &probe);
    struct sockaddr_in a;
    uv_ip4_addr("127.0.0.1", 0, &a);
    uv_tcp_bind(&probe, (const struct sockaddr *)&a, 0);
    struct sockaddr_storage ss;
    int len = sizeof ss;
    uv_tcp_getsockname(&probe, (struct sockaddr *)&ss, &len);
    int dead_port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
    int pc = 0;
    uv_close((uv_handle_t *)&probe, NULL);
    while (!pc++)
        uv_run(&loop, UV_RUN_NOWAIT);
    u = upstream_new(&loop, "127.0.0.1", dead_port, NULL);
    start(&r, u, "GET / HTTP/1.1\r\nHost: t\r\n\r\n", NULL);
    CHECK_INT(r.done, 0); /* never from inside upstream_send */
    run_until(&r.done);
    CHECK_INT(r.status, UPSTREAM_ECONNECT);
    CHECK_CONTAINS(r.error, "cannot connect");
    close_upstream(u);
}

TEST(stale_connection_retry)
{
    upstream_t *u = upstream_new(&loop, "127.0.0.1", raw_port(), NULL);
    result_t r;
    int before = raw_accepted;
    start(&r, u, "GET /once HTTP/1.1\r\nHost: t\r\n\r\n", NULL);
    run_until(&r.done);
    CHECK_STR(r.body, "once");
    /* The kept connection is closed under the next request: a replayable
     * call goes again on a fresh connection. */
    prepare(&r, "GET /once HTTP/1.1\r\nHost: t\r\n\r\n", NULL);
    r.call.replayable = 1;
    upstream_send(u, &r.call);
    run_until(&r.done);
    CHECK_INT(r.status, UPSTREAM_OK);
    CHECK_STR(r.body, "once");
    CHECK_INT(raw_accepted - before, 2);
    /* One that is not replayable fails. */
    start(&r, u, "GET /once HTTP/1.1\r\nHost: t\r\n\r\n", NULL);
    run_until(&r.done);
    CHECK_INT(r.status, UPSTREAM_EIO);
    close_upstream(u);
}

TEST(detach_and_close)
{
    upstream_t *u = upstream_new(&loop, "127.0.0.1", raw_port(), NULL);
    result_t r, r2;
    start(&r, u, "GET /silent HTTP/1.1\r\nHost: t\r\n\r\n", NULL);
    for (int i = 0; i < 50; i++)
        uv_run(&loop, UV_RUN_NOWAIT);
    upstream_detach(&r.call);
    memset(&r, 0xa5, sizeof r); /* the client must not touch it any more */
    start(&r2, u, "GET /chunked HTTP/1.1\r\nHost: t\r\n\r\n", NULL);
    run_until(&r2.done);
    CHECK_INT(r2.status, UPSTREAM_OK);
    CHECK_INT(upstream_conns(u), 2); /* the detached one still waits */

    /* Close with a call in flight: it fails at once with ECLOSED. */
    start(&r2, u, "GET /silent HTTP/1.1\r\nHost: t\r\n\r\n", NULL);
    for (int i = 0; i < 50; i++)
        uv_run(&loop, UV_RUN_NOWAIT);
    closed_flag = 0;
    upstream_close(u, on_closed, &closed_flag);
    CHECK_INT(r2.done, 1);
    CHECK_INT(r2.status, UPSTREAM_ECLOSED);
    run_until(&closed_flag);
    CHECK_INT(closed_flag, 1);
}

/* ---- pipelining ---- */

static void start_get(result_t *r, upstream_t *u, const char *head)
{
    prepare(r, head, NULL);
    r->call.replayable = 1;
    upstream_send(u, &r->call);
}

static int all_done(result_t *r, int n)
{
    for (int i = 0; i < n; i++)
        if (!r[i].done)
            return 0;
    return 1;
}

static void run_all(result_t *r, int n)
{
    for (int k = 0; k < 100000 && !all_done(r, n); k++)
        uv_run(&loop, UV_RUN_ONCE);
}

static void spin(int turns)
{
    for (int i = 0; i < turns; i++)
        uv_run(&loop, UV_RUN_NOWAIT);
}

TEST(pipelined_responses_in_order)
{
    upstream_opts_t o = {.max_conns = 2, .max_pipeline = 8};
    upstream_t *u = upstream_new(&loop, "127.0.0.1", server_port, &o);
    enum { N = 40 };
    static result_t r[N];
    static char heads[N][64];
    for (int i = 0; i < N; i++) {
        snprintf(heads[i], sizeof heads[i], "GET /o?i=%d HTTP/1.1\r\nHost: t\r\n\r\n", i);
        start_get(&r[i], u, heads[i]);
    }
    CHECK(upstream_conns(u) <= 2);
    CHECK_INT(upstream_max_depth(u), 8);
    run_all(r, N);
    for (int i = 0; i < N; i++) {
        char want[64];
        snprintf(want, sizeof want, "X-Request=GET /o?i=%d;", i);
        CHECK_INT(r[i].done, 1);
        CHECK_INT(r[i].status, UPSTREAM_OK);
        CHECK_CONTAINS(r[i].header, want);
    }
    CHECK(upstream_conns(u) <= 2);
    CHECK_INT(upstream_busy(u), 0);
    close_upstream(u);

    /* Requests of one turn reach the server in one write. */
    u = upstream_new(&loop, "127.0.0.1", raw_port(), &o);
    raw_max_per_read = 0;
    for (int i = 0; i < 8; i++) {
        snprintf(heads[i], sizeof heads[i], "GET /p?%d HTTP/1.1\r\nHost: t\r\n\r\n", i);
        start_get(&r[i], u, heads[i]);
    }
    run_all(r, 8);
    for (int i = 0; i < 8; i++) {
        char want[16];
        snprintf(want, sizeof want, "%d", i);
        CHECK_INT(r[i].status, UPSTREAM_OK);
        CHECK_STR(r[i].body, want);
    }
    CHECK_INT(upstream_conns(u), 1);
    CHECK(raw_max_per_read > 1);
    close_upstream(u);
}

TEST(pipeline_depth_limit)
{
    upstream_opts_t o = {.max_conns = 2, .max_pipeline = 4};
    upstream_t *u = upstream_new(&loop, "127.0.0.1", raw_port(), &o);
    static result_t r[10];
    raw_held = 0;
    for (int i = 0; i < 10; i++)
        start_get(&r[i], u, "GET /hold HTTP/1.1\r\nHost: t\r\n\r\n");
    for (int k = 0; k < 1000 && raw_held < 8; k++)
        uv_run(&loop, UV_RUN_ONCE);
    spin(50);
    CHECK_INT(raw_held, 8); /* 4 on each of the 2 connections; 2 wait */
    CHECK_INT(upstream_conns(u), 2);
    CHECK_INT(upstream_max_depth(u), 4);
    closed_flag = 0;
    upstream_close(u, on_closed, &closed_flag);
    for (int i = 0; i < 10; i++)
        CHECK_INT(r[i].status, UPSTREAM_ECLOSED);
    run_until(&closed_flag);

    /* Depth 1 is no pipelining. */
    o.max_pipeline = 1;
    u = upstream_new(&loop, "127.0.0.1", raw_port(), &o);
    raw_held = 0;
    for (int i = 0; i < 4; i++)
        start_get(&r[i], u, "GET /hold HTTP/1.1\r\nHost: t\r\n\r\n");
    for (int k = 0; k < 1000 && raw_held < 2; k++)
        uv_run(&loop, UV_RUN_ONCE);
    spin(50);
    CHECK_INT(raw_held, 2);
    CHECK_INT(upstream_max_depth(u), 1);
    close_upstream(u);
}

TEST(non_idempotent_not_followed)
{
    upstream_opts_t o = {.max_conns = 1, .max_pipeline = 8};
    upstream_t *u = upstream_new(&loop, "127.0.0.1", raw_port(), &o);
    static result_t r[3];
    raw_held = 0;
    start(&r[0], u, "POST /hold HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n", NULL);
    start_get(&r[1], u, "GET /hold HTTP/1.1\r\nHost: t\r\n\r\n");
    start_get(&r[2], u, "GET /hold HTTP/1.1\r\nHost: t\r\n\r\n");
    for (int k = 0; k < 1000 && raw_held < 1; k++)
        uv_run(&loop, UV_RUN_ONCE);
    spin(50);
    CHECK_INT(raw_held, 1); /* nothing went behind the POST */
    CHECK_INT(upstream_max_depth(u), 1);
    close_upstream(u);

    /* Nor does a POST go behind GETs. */
    u = upstream_new(&loop, "127.0.0.1", raw_port(), &o);
    raw_held = 0;
    start_get(&r[0], u, "GET /hold HTTP/1.1\r\nHost: t\r\n\r\n");
    start_get(&r[1], u, "GET /hold HTTP/1.1\r\nHost: t\r\n\r\n");
    start(&r[2], u, "POST /hold HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n", NULL);
    for (int k = 0; k < 1000 && raw_held < 2; k++)
        uv_run(&loop, UV_RUN_ONCE);
    spin(50);
    CHECK_INT(raw_held, 2);
    CHECK_INT(upstream_max_depth(u), 2);
    close_upstream(u);
}

TEST(close_mid_pipeline_retries)
{
    upstream_opts_t o = {.max_conns = 1, .max_pipeline = 8};
    upstream_t *u = upstream_new(&loop, "127.0.0.1", raw_port(), &o);
    static result_t r[3];
    int before = raw_accepted;
    /* The connection is closed under the second request: it and the third
     * were not answered, so both go again on a new connection. */
    raw_die_left = 1;
    start_get(&r[0], u, "GET /p?a HTTP/1.1\r\nHost: t\r\n\r\n");
    start_get(&r[1], u, "GET /die1 HTTP/1.1\r\nHost: t\r\n\r\n");
    start_get(&r[2], u, "GET /p?c HTTP/1.1\r\nHost: t\r\n\r\n");
    run_all(r, 3);
    CHECK_INT(r[0].status, UPSTREAM_OK);
    CHECK_STR(r[0].body, "a");
    CHECK_INT(r[1].status, UPSTREAM_OK);
    CHECK_STR(r[1].body, "live");
    CHECK_INT(r[2].status, UPSTREAM_OK);
    CHECK_STR(r[2].body, "c");
    CHECK_INT(raw_accepted - before, 2);

    /* Once only: a request that kills every connection fails, and so does
     * the one behind it, already sent twice. */
    start_get(&r[0], u, "GET /p?a HTTP/1.1\r\nHost: t\r\n\r\n");
    start_get(&r[1], u, "GET /die HTTP/1.1\r\nHost: t\r\n\r\n");
    start_get(&r[2], u, "GET /p?c HTTP/1.1\r\nHost: t\r\n\r\n");
    run_all(r, 3);
    CHECK_INT(r[0].status, UPSTREAM_OK);
    CHECK_INT(r[1].status, UPSTREAM_EIO);
    CHECK_INT(r[2].status, UPSTREAM_EIO);
    CHECK_CONTAINS(r[2].error, "closed before an answer");
    CHECK_INT(r[1].call.maybe_sent, 1);
    close_upstream(u);
}

TEST(connection_close_response_mid_pipeline)
{
    upstream_opts_t o = {.max_conns = 1, .max_pipeline = 8};
    upstream_t *u = upstream_new(&loop, "127.0.0.1", raw_port(), &o);
    static result_t r[4];
    int before = raw_accepted;
    start_get(&r[0], u, "GET /p?a HTTP/1.1\r\nHost: t\r\n\r\n");
    start_get(&r[1], u, "GET /bye?b HTTP/1.1\r\nHost: t\r\n\r\n");
    start_get(&r[2], u, "GET /p?c HTTP/1.1\r\nHost: t\r\n\r\n");
    start_get(&r[3], u, "GET /p?d HTTP/1.1\r\nHost: t\r\n\r\n");
    run_all(r, 4);
    static const char *want[] = {"a", "b", "c", "d"};
    for (int i = 0; i < 4; i++) {
        CHECK_INT(r[i].status, UPSTREAM_OK);
        CHECK_STR(r[i].body, want[i]);
    }
    CHECK_INT(raw_accepted - before, 2);
    close_upstream(u);
}

TEST(peer_that_always_closes_stops_the_pipelining)
{
    /* Every answer ends its connection (a server speaking HTTP/1.0, or
     * Connection: close on every answer): whatever was pipelined behind
     * the first answer goes again, each alone on a connection, and
     * nothing is pipelined any more. */
    upstream_opts_t o = {.max_conns = 3, .max_pipeline = 8};
    upstream_t *u = upstream_new(&loop, "127.0.0.1", raw_port(), &o);
    static result_t r[24];
    static char heads[24][48];
    for (int i = 0; i < 24; i++) {
        snprintf(heads[i], sizeof heads[i], "GET /bye?%c HTTP/1.1\r\nHost: t\r\n\r\n", 'a' + i);
        start_get(&r[i], u, heads[i]);
    }
    CHECK(upstream_max_depth(u) > 1);
    run_all(r, 24);
    for (int i = 0; i < 24; i++) {
        char want[2] = {(char)('a' + i), 0};
        CHECK_INT(r[i].status, UPSTREAM_OK);
        CHECK_STR(r[i].body, want);
    }
    static result_t more[6];
    for (int i = 0; i < 6; i++)
        start_get(&more[i], u, "GET /bye?z HTTP/1.1\r\nHost: t\r\n\r\n");
    CHECK_INT(upstream_max_depth(u), 1);
    run_all(more, 6);
    for (int i = 0; i < 6; i++)
        CHECK_INT(more[i].status, UPSTREAM_OK);
    close_upstream(u);
}

TEST(parse_error_mid_pipeline)
{
    upstream_opts_t o = {.max_conns = 1, .max_pipeline = 8};
    upstream_t *u = upstream_new(&loop, "127.0.0.1", raw_port(), &o);
    static result_t r[3];
    start_get(&r[0], u, "GET /p?a HTTP/1.1\r\nHost: t\r\n\r\n");
    start_get(&r[1], u, "GET /garbage HTTP/1.1\r\nHost: t\r\n\r\n");
    start_get(&r[2], u, "GET /p?c HTTP/1.1\r\nHost: t\r\n\r\n");
    run_all(r, 3);
    CHECK_INT(r[0].status, UPSTREAM_OK);
    CHECK_STR(r[0].body, "a");
    CHECK_INT(r[1].status, UPSTREAM_EPROTO);
    CHECK_CONTAINS(r[1].error, "invalid response");
    CHECK_INT(r[2].status, UPSTREAM_OK); /* sent again on a new connection */
    CHECK_STR(r[2].body, "c");
    close_upstream(u);
}

TEST(timeout_mid_pipeline)
{
    upstream_opts_t o = {.max_conns = 4, .max_pipeline = 8};
    upstream_t *u = upstream_new(&loop, "127.0.0.1", raw_port(), &o);
    static result_t r[3];
    /* The first request is never answered: it times out, and the one behind
     * it goes again on a new connection. The raw server holds everything
     * behind a held request, as a server answering in order must. */
    prepare(&r[0], "GET /hold HTTP/1.1\r\nHost: t\r\n\r\n", NULL);
    r[0].call.replayable = 1;
    r[0].call.timeout_ms = 150;
    upstream_send(u, &r[0].call);
    prepare(&r[1], "GET /p?b HTTP/1.1\r\nHost: t\r\n\r\n", NULL);
    r[1].call.replayable = 1;
    r[1].call.timeout_ms = 5000;
    upstream_send(u, &r[1].call);
    CHECK_INT(upstream_max_depth(u), 2);
    run_all(r, 2);
    CHECK_INT(r[0].status, UPSTREAM_ETIMEDOUT);
    CHECK_INT(r[1].status, UPSTREAM_OK);
    CHECK_STR(r[1].body, "b");

    /* A request given up (detached) in the middle of a pipeline: its
     * connection takes nothing new until its answer, so a new call goes
     * on another connection. */
    start_get(&r[0], u, "GET /hold HTTP/1.1\r\nHost: t\r\n\r\n");
    start_get(&r[1], u, "GET /hold HTTP/1.1\r\nHost: t\r\n\r\n");
    spin(50);
    size_t conns = upstream_conns(u);
    upstream_detach(&r[0].call);
    start_get(&r[2], u, "GET /p?c HTTP/1.1\r\nHost: t\r\n\r\n");
    run_until(&r[2].done);
    CHECK_INT(r[2].status, UPSTREAM_OK);
    CHECK_STR(r[2].body, "c");
    CHECK_INT(r[1].done, 0);
    CHECK(upstream_conns(u) >= conns);
    close_upstream(u);
    CHECK_INT(r[1].status, UPSTREAM_ECLOSED);
}

/* ---- answers passed on as they arrive ---- */

typedef struct sresult {
    result_t r;      /* first: the call */
    int take;        /* what head_cb answers */
    int heads;
    int head_code;
    int pause_after; /* pause once this many pieces came (0: never) */
    int pieces;
    char got[4096];
    size_t ngot;
} sresult_t;

static int s_head(upstream_call_t *call, respparser_t *resp)
{
    sresult_t *s = (sresult_t *)call;
    s->heads++;
    s->head_code = respparser_status(resp);
    return s->take;
}

static void s_body(upstream_call_t *call, const char *p, size_t n)
{
    sresult_t *s = (sresult_t *)call;
    s->pieces++;
    if (s->ngot + n < sizeof s->got) {
        memcpy(s->got + s->ngot, p, n);
        s->ngot += n;
        s->got[s->ngot] = '\0';
    }
    if (s->pause_after && s->pieces == s->pause_after)
        upstream_pause(call);
}

static void s_start(sresult_t *s, upstream_t *u, const char *head, int take)
{
    memset(s, 0, sizeof *s);
    prepare(&s->r, head, NULL);
    s->take = take;
    s->r.call.head_cb = s_head;
    s->r.call.body_cb = s_body;
    upstream_send(u, &s->r.call);
}

static void spin_until(int *flag, int value)
{
    for (int i = 0; i < 100000 && *flag < value; i++)
        uv_run(&loop, UV_RUN_ONCE);
}

TEST(stream_passes_pieces_as_they_arrive)
{
    upstream_t *u = upstream_new(&loop, "127.0.0.1", raw_port(), NULL);
    sresult_t s;
    s_start(&s, u, "GET /drip HTTP/1.1\r\nHost: t\r\n\r\n", 1);
    spin_until(&s.pieces, 1);
    CHECK_INT(s.heads, 1);
    CHECK_INT(s.head_code, 200);
    CHECK_STR(s.got, "first");
    CHECK_INT(s.r.done, 0);
    CHECK(drip != NULL);
    raw_send(drip, "6\r\nsecond\r\n");
    spin_until(&s.pieces, 2);
    CHECK_STR(s.got, "firstsecond");
    raw_send(drip, "0\r\n\r\n");
    run_until(&s.r.done);
    CHECK_INT(s.r.status, UPSTREAM_OK);
    CHECK_STR(s.r.body, ""); /* it went to body_cb */
    CHECK_CONTAINS(s.r.header, "X-A=1;");
    /* The connection serves the next call; a whole answer in one read
     * never reaches head_cb. */
    s_start(&s, u, "GET /chunked HTTP/1.1\r\nHost: t\r\n\r\n", 1);
    run_until(&s.r.done);
    CHECK_INT(s.heads, 0);
    CHECK_STR(s.r.body, "hello, world");
    CHECK_INT(upstream_conns(u), 1);
    close_upstream(u);
}

TEST(stream_declined_is_gathered)
{
    upstream_t *u = upstream_new(&loop, "127.0.0.1", raw_port(), NULL);
    sresult_t s;
    s_start(&s, u, "GET /drip HTTP/1.1\r\nHost: t\r\n\r\n", 0);
    spin_until(&s.heads, 1);
    for (int i = 0; i < 50 && !drip; i++)
        uv_run(&loop, UV_RUN_NOWAIT);
    raw_send(drip, "6\r\nsecond\r\n0\r\n\r\n");
    run_until(&s.r.done);
    CHECK_INT(s.r.status, UPSTREAM_OK);
    CHECK_INT(s.pieces, 0);
    CHECK_STR(s.r.body, "firstsecond");
    close_upstream(u);
}

TEST(stream_is_not_bound_by_the_body_limit)
{
    upstream_opts_t o = {.max_body = 1024};
    upstream_t *u = upstream_new(&loop, "127.0.0.1", raw_port(), &o);
    sresult_t s;
    /* The head may arrive alone or with the body: taken, all 3000 bytes
     * pass; declined (or gathered), the limit holds as without head_cb. */
    s_start(&s, u, "GET /long HTTP/1.1\r\nHost: t\r\n\r\n", 1);
    run_until(&s.r.done);
    if (s.heads) {
        CHECK_INT(s.r.status, UPSTREAM_OK);
        CHECK_INT(s.ngot, 3000);
    } else {
        CHECK_INT(s.r.status, UPSTREAM_EPROTO);
    }
    s_start(&s, u, "GET /long HTTP/1.1\r\nHost: t\r\n\r\n", 0);
    run_until(&s.r.done);
    CHECK_INT(s.r.status, UPSTREAM_EPROTO);
    CHECK_CONTAINS(s.r.error, "larger than 1024");
    close_upstream(u);
}

TEST(stream_pause_and_resume)
{
    upstream_t *u = upstream_new(&loop, "127.0.0.1", raw_port(), NULL);
    sresult_t s;
    s_start(&s, u, "GET /drip HTTP/1.1\r\nHost: t\r\n\r\n", 1);
    s.pause_after = 1;
    spin_until(&s.pieces, 1);
    raw_send(drip, "6\r\nsecond\r\n");
    spin(200); /* paused: the piece waits in the socket */
    CHECK_INT(s.pieces, 1);
    upstream_resume(&s.r.call);
    spin_until(&s.pieces, 2);
    CHECK_STR(s.got, "firstsecond");
    raw_send(drip, "0\r\n\r\n");
    run_until(&s.r.done);
    CHECK_INT(s.r.status, UPSTREAM_OK);
    close_upstream(u);
}

TEST(stream_does_not_hold_the_calls_behind_it)
{
    upstream_opts_t o = {.max_conns = 4, .max_pipeline = 8};
    upstream_t *u = upstream_new(&loop, "127.0.0.1", raw_port(), &o);
    sresult_t s;
    static result_t r[3];
    static char heads[3][64];
    memset(&s, 0, sizeof s);
    prepare(&s.r, "GET /driphold HTTP/1.1\r\nHost: t\r\n\r\n", NULL);
    s.take = 1;
    s.r.call.replayable = 1;
    s.r.call.head_cb = s_head;
    s.r.call.body_cb = s_body;
    upstream_send(u, &s.r.call);
    for (int i = 0; i < 3; i++) {
        snprintf(heads[i], sizeof heads[i], "GET /p?%d HTTP/1.1\r\nHost: t\r\n\r\n", i);
        prepare(&r[i], heads[i], NULL);
        r[i].call.replayable = 1;
        r[i].call.timeout_ms = 0; /* nothing ends a wait for their held answers */
        upstream_send(u, &r[i].call);
    }
    CHECK_INT(upstream_max_depth(u), 4); /* all in one write, behind the stream */
    spin_until(&s.pieces, 1);
    /* The answer streams and has no end in sight: the calls behind it are
     * answered on another connection. */
    run_all(r, 3);
    for (int i = 0; i < 3; i++) {
        char want[16];
        snprintf(want, sizeof want, "%d", i);
        CHECK_INT(r[i].status, UPSTREAM_OK);
        CHECK_STR(r[i].body, want);
    }
    CHECK_INT(s.r.done, 0);
    raw_send(drip, "6\r\nsecond\r\n0\r\n\r\n");
    run_until(&s.r.done);
    CHECK_INT(s.r.status, UPSTREAM_OK);
    CHECK_STR(s.got, "firstsecond");
    /* The answers still owed on its connection are not waited for: the
     * requests went elsewhere. */
    for (int i = 0; i < 100 && drip; i++)
        uv_run(&loop, UV_RUN_ONCE);
    CHECK(drip == NULL);
    /* Nothing new went behind it meanwhile. */
    start_get(&r[0], u, "GET /p?again HTTP/1.1\r\nHost: t\r\n\r\n");
    run_until(&r[0].done);
    CHECK_STR(r[0].body, "again");
    close_upstream(u);
}

TEST(stream_detached_closes_its_connection)
{
    upstream_t *u = upstream_new(&loop, "127.0.0.1", raw_port(), NULL);
    sresult_t s;
    s_start(&s, u, "GET /drip HTTP/1.1\r\nHost: t\r\n\r\n", 1);
    spin_until(&s.pieces, 1);
    CHECK_INT(upstream_conns(u), 1);
    upstream_detach(&s.r.call);
    spin(50);
    CHECK_INT(upstream_conns(u), 0);
    CHECK_INT(s.r.done, 0);
    close_upstream(u);
}

TEST(stream_cut_short_is_an_error)
{
    upstream_t *u = upstream_new(&loop, "127.0.0.1", raw_port(), NULL);
    sresult_t s;
    s_start(&s, u, "GET /drip HTTP/1.1\r\nHost: t\r\n\r\n", 1);
    spin_until(&s.pieces, 1);
    raw_close(drip);
    run_until(&s.r.done);
    CHECK_INT(s.r.status, UPSTREAM_EIO);
    CHECK_CONTAINS(s.r.error, "answer cut short");
    close_upstream(u);
}

TEST(solo_calls_are_never_pipelined)
{
    upstream_opts_t o = {.max_pipeline = 8};
    upstream_t *u = upstream_new(&loop, "127.0.0.1", raw_port(), &o);
    result_t r[3];
    /* In one turn: a solo call, then two replayable ones. Without solo
     * the three would share one connection. */
    prepare(&r[0], "GET /p?a HTTP/1.1\r\nHost: t\r\n\r\n", NULL);
    r[0].call.replayable = 1;
    r[0].call.solo = 1;
    upstream_send(u, &r[0].call);
    start_get(&r[1], u, "GET /p?b HTTP/1.1\r\nHost: t\r\n\r\n");
    start_get(&r[2], u, "GET /p?c HTTP/1.1\r\nHost: t\r\n\r\n");
    CHECK_INT(upstream_conns(u), 2);
    CHECK_INT(upstream_max_depth(u), 2);
    run_all(r, 3);
    CHECK_STR(r[0].body, "a");
    CHECK_STR(r[1].body, "b");
    CHECK_STR(r[2].body, "c");
    close_upstream(u);
}

TEST(cancel_closes_the_connection_of_a_sent_call)
{
    upstream_t *u = upstream_new(&loop, "127.0.0.1", raw_port(), NULL);
    result_t r;
    start(&r, u, "GET /silent HTTP/1.1\r\nHost: t\r\n\r\n", NULL);
    for (int i = 0; i < 200 && raw_accepted == 0; i++)
        uv_run(&loop, UV_RUN_NOWAIT);
    spin(20);
    CHECK_INT(upstream_conns(u), 1);
    upstream_cancel(&r.call); /* detach would wait for the answer on it */
    spin(50);
    CHECK_INT(upstream_conns(u), 0);
    CHECK_INT(r.done, 0);
    /* A call still waiting for a connection just leaves the queue. */
    start(&r, u, "GET /p?x HTTP/1.1\r\nHost: t\r\n\r\n", NULL);
    upstream_cancel(&r.call);
    spin(50);
    CHECK_INT(r.done, 0);
    close_upstream(u);
}

TEST(server_streamed_answers)
{
    upstream_opts_t o = {.max_body = 8u << 20};
    upstream_t *u = upstream_new(&loop, "127.0.0.1", server_port, &o);
    result_t r;
    start(&r, u, "GET /stream/len HTTP/1.1\r\nHost: t\r\n\r\n", NULL);
    run_until(&r.done);
    CHECK_INT(r.status, UPSTREAM_OK);
    CHECK_STR(r.body, "abcdefghij");
    start(&r, u, "GET /stream/len HTTP/1.1\r\nHost: t\r\n\r\n", NULL);
    run_until(&r.done);
    CHECK_INT(r.status, UPSTREAM_OK); /* the connection went on */
    CHECK_INT(upstream_conns(u), 1);
    start(&r, u, "GET /stream/short HTTP/1.1\r\nHost: t\r\n\r\n", NULL);
    run_until(&r.done);
    CHECK_INT(r.status, UPSTREAM_EIO);
    CHECK_CONTAINS(r.error, "answer cut short");
    start(&r, u, "GET /stream/abort HTTP/1.1\r\nHost: t\r\n\r\n", NULL);
    run_until(&r.done);
    CHECK_INT(r.status, UPSTREAM_EIO);
    CHECK_CONTAINS(r.error, "answer cut short");
    sresult_t s;
    s_start(&s, u, "GET /stream/drain HTTP/1.1\r\nHost: t\r\n\r\n", 0);
    run_until(&s.r.done);
    CHECK_INT(s.r.status, UPSTREAM_OK);
    CHECK(drains > 1); /* it waited for the output to drain, more than once */
    close_upstream(u);
}

static void close_any(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h))
        uv_close(h, h->data == (void *)&raw_listener ? raw_closed : NULL);
}

int main(void)
{
    log_setup(LOG_FORMAT_DEV, 2, 0, LOG_CRITICAL);
    uv_loop_init(&loop);
    http_server_config_t cfg = {.max_body = 1 << 20};
    http_server_init(&server, &loop, &cfg, echo_handler, NULL);
    http_server_on_body_limit(&server, body_limit);
    http_server_listen(&server, "127.0.0.1", 0);
    server_port = http_server_port(&server);
    uv_tcp_init(&loop, &raw_listener);
    struct sockaddr_in a;
    uv_ip4_addr("127.0.0.1", 0, &a);
    uv_tcp_bind(&raw_listener, (const struct sockaddr *)&a, 0);
    uv_listen((uv_stream_t *)&raw_listener, 64, raw_on_conn);

    RUN(round_trip_keep_alive);
    RUN(chunked_request_body);
    RUN(chunked_request_trailers);
    RUN(chunked_request_trailers_limits);
    RUN(body_limit_per_request);
    RUN(concurrent_calls_and_connection_limit);
    RUN(chunked_and_close_delimited_responses);
    RUN(head_response_has_no_body);
    RUN(failures);
    RUN(stale_connection_retry);
    RUN(detach_and_close);
    RUN(pipelined_responses_in_order);
    RUN(pipeline_depth_limit);
    RUN(non_idempotent_not_followed);
    RUN(close_mid_pipeline_retries);
    RUN(connection_close_response_mid_pipeline);
    RUN(peer_that_always_closes_stops_the_pipelining);
    RUN(parse_error_mid_pipeline);
    RUN(timeout_mid_pipeline);
    RUN(stream_passes_pieces_as_they_arrive);
    RUN(stream_declined_is_gathered);
    RUN(stream_is_not_bound_by_the_body_limit);
    RUN(stream_pause_and_resume);
    RUN(stream_does_not_hold_the_calls_behind_it);
    RUN(stream_detached_closes_its_connection);
    RUN(stream_cut_short_is_an_error);
    RUN(solo_calls_are_never_pipelined);
    RUN(cancel_closes_the_connection_of_a_sent_call);
    RUN(server_streamed_answers);

    http_server_close(&server);
    uv_close((uv_handle_t *)&raw_listener, NULL);
    uv_walk(&loop, close_any, NULL);
    for (int i = 0; i < 100; i++)
        uv_run(&loop, UV_RUN_NOWAIT);
    http_server_free(&server);
    uv_loop_close(&loop);
    return TEST_REPORT();
}
