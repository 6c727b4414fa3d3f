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

static void echo_handler(http_request_t *req, void *data)
{
    (void)data;
    char head[256];
    snprintf(head, sizeof head, "%s %.*s", req->method_name, (int)req->target.n, req->target.p);
    sv_t te = http_request_header(req, "Transfer-Encoding");
    http_header_t h[2] = {{SV_LIT("X-Request"), sv_cstr(head)},
                          {SV_LIT("X-Chunked"), te.p ? SV_LIT("yes") : SV_LIT("no")}};
    http_respond(req, 200, h, 2, req->body.p, req->body.len);
}

/* ---- a scripted raw server ---- */

typedef struct raw_conn {
    uv_tcp_t tcp;
    char buf[8192];
    size_t len;
    int requests;
} raw_conn_t;

static uv_tcp_t raw_listener;
static int raw_accepted;

static void raw_closed(uv_handle_t *h) { free(h); }

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
    while ((end = strstr(c->buf, "\r\n\r\n"))) {
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
    char header[128];
    char error[160];
} result_t;

static void on_result(upstream_call_t *call, int status, const respparser_t *resp)
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
                !strcasecmp(name, "X-Chunked"))
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
    http_server_listen(&server, "127.0.0.1", 0);
    server_port = http_server_port(&server);
    uv_tcp_init(&loop, &raw_listener);
    struct sockaddr_in a;
    uv_ip4_addr("127.0.0.1", 0, &a);
    uv_tcp_bind(&raw_listener, (const struct sockaddr *)&a, 0);
    uv_listen((uv_stream_t *)&raw_listener, 64, raw_on_conn);

    RUN(round_trip_keep_alive);
    RUN(chunked_request_body);
    RUN(concurrent_calls_and_connection_limit);
    RUN(chunked_and_close_delimited_responses);
    RUN(head_response_has_no_body);
    RUN(failures);
    RUN(stale_connection_retry);
    RUN(detach_and_close);

    http_server_close(&server);
    uv_close((uv_handle_t *)&raw_listener, NULL);
    uv_walk(&loop, close_any, NULL);
    for (int i = 0; i < 100; i++)
        uv_run(&loop, UV_RUN_NOWAIT);
    http_server_free(&server);
    uv_loop_close(&loop);
    return TEST_REPORT();
}
