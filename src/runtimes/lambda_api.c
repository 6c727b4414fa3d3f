/*
 * lambda_api.c -- the AWS Lambda Runtime API (version 2018-06-01) that a
 * bootstrap process talks to, served by the host's HTTP server on a
 * listener of the process's own (see lambda_priv.h):
 *
 *   GET  /2018-06-01/runtime/invocation/next            long poll for an event
 *   POST /2018-06-01/runtime/invocation/{id}/response   the result     -> 202
 *   POST /2018-06-01/runtime/invocation/{id}/error      a failure      -> 202
 *   POST /2018-06-01/runtime/init/error                 cannot start   -> 202
 *
 * An unknown request id gets 400 InvalidRequestID, an unknown path 404, a
 * wrong method 405, a body over 6 MB 413 (and fails the invocation), as
 * Lambda answers. A streamed /response (Lambda-Runtime-Function-Response-
 * Mode: streaming) may be 20 MB, and is read whole before it is answered.
 * This file speaks HTTP; lambda.c decides what happens.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "../http/method.h"
#include "../telemetry/log.h"
#include "../util/id.h"
#include "lambda_priv.h"

static const http_header_t ct_json = {{"Content-Type", 12}, {"application/json", 16}};

void lambda__api_error(http_request_t *req, int status, const char *type, const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    buf_t b;
    buf_init(&b, 4096);
    buf_lit(&b, "{\"errorMessage\":\"");
    buf_json_escape(&b, msg, strlen(msg));
    buf_lit(&b, "\",\"errorType\":\"");
    buf_json_escape(&b, type, strlen(type));
    buf_lit(&b, "\"}");
    http_respond(req, status, &ct_json, 1, b.p, b.len);
    buf_free(&b);
}

static void allow(http_request_t *req, const char *methods)
{
    char msg[160];
    int n = snprintf(msg, sizeof msg, "{\"errorMessage\":\"method %.16s is not allowed here "
                     "(use %s)\",\"errorType\":\"MethodNotAllowed\"}",
                     req->method_name ? req->method_name : "?", methods);
    http_header_t h[2] = {{SV_LIT("Allow"), sv_cstr(methods)}, ct_json};
    http_respond(req, 405, h, 2, msg, n > 0 && (size_t)n < sizeof msg ? (size_t)n : 0);
}

static void accepted(http_request_t *req)
{
    http_respond(req, 202, &ct_json, 1, "{\"status\":\"OK\"}", 15);
}

/* ---- `next` answers ---- */

static int hexval(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* The X-Ray trace header: from the invocation's W3C traceparent
 * ("00-<32 hex>-<16 hex>-<2 hex>": the caller's trace, or a new one), else
 * new random ids. The runtime
 * client needs this header on every event. */
static void trace_id(const invocation_t *inv, char *out, size_t n)
{
    sv_t tp = sv_cstr(inv->traceparent);
    char root[36];
    int sampled;
    if (inv->req && lambda_xray_root(http_request_header(inv->req, "x-amzn-trace-id"), root, &sampled) == 0) {
        /* The caller's X-Ray trace goes on, with the invocation's own span. */
        char parent[17];
        if (tp.n == 55)
            snprintf(parent, sizeof parent, "%.16s", tp.p + 36);
        else
            snprintf(parent, sizeof parent, "%016llx", (unsigned long long)id_random64());
        snprintf(out, n, "Root=%s;Parent=%s;Sampled=%d", root, parent, sampled);
        return;
    }
    if (tp.n == 55 && tp.p[2] == '-' && tp.p[35] == '-' && tp.p[52] == '-') {
        int ok = 1;
        for (size_t i = 3; i < 55 && ok; i++)
            ok = i == 35 || i == 52 || hexval(tp.p[i]) >= 0;
        if (ok) {
            snprintf(out, n, "Root=1-%.8s-%.24s;Parent=%.16s;Sampled=%d", tp.p + 3, tp.p + 11,
                     tp.p + 36, hexval(tp.p[54]) & 1);
            return;
        }
    }
    uint64_t a = id_random64(), b = id_random64(), c = id_random64();
    snprintf(out, n, "Root=1-%08llx-%08llx%016llx;Parent=%016llx;Sampled=0",
             (unsigned long long)(time(NULL) & 0xffffffff), (unsigned long long)(a >> 32),
             (unsigned long long)b, (unsigned long long)c);
}

int lambda__api_send(lambda_proc_t *p, http_request_t *req, lambda_call_t *c)
{
    lambda_fn_t *lf = p->lf;
    lambda_rt_t *rt = lf->rt;
    invocation_t *inv = c->inv;
    buf_reset(&rt->event);
    int (*event)(buf_t *, invocation_t *, const char *, const char *, uint64_t) =
        lf->payload_v2 ? lambda_event_http_v2 : lambda_event_http;
    if (event(&rt->event, inv, rt->app->route_prefix, lf->route, c->start_unix) != 0)
        return -1;
    /* As Lambda: the function's time starts when the runtime gets the
     * event, not when it arrived (a cold start's init, or a wait for a free
     * process, is not the function's time; waiting has its own limit). */
    int64_t limit = rt->app->function_timeout_ms;
    if (limit > 0) {
        c->deadline = uv_now(rt->loop) + (uint64_t)limit;
        c->deadline_unix = lambda__unix_ms() + (uint64_t)limit;
    }
    char deadline[32], trace[160];
    uint64_t dl = c->deadline_unix;
    snprintf(deadline, sizeof deadline, "%llu", (unsigned long long)dl);
    trace_id(inv, trace, sizeof trace);
    http_header_t h[5] = {
        ct_json,
        {SV_LIT("Lambda-Runtime-Aws-Request-Id"), sv_cstr(inv->id)},
        {SV_LIT("Lambda-Runtime-Deadline-Ms"), sv_cstr(deadline)},
        {SV_LIT("Lambda-Runtime-Invoked-Function-Arn"), sv_cstr(lf->arn)},
        {SV_LIT("Lambda-Runtime-Trace-Id"), sv_cstr(trace)},
    };
    http_respond(req, 200, h, 5, rt->event.p ? rt->event.p : "{}", rt->event.p ? rt->event.len : 2);
    return 0;
}

/* ---- requests ---- */

static int path_is(sv_t rest, const char *s) { return sv_eq(rest, sv_cstr(s)); }

/* A response streamed (awslambda.streamifyResponse): the body is read
 * whole, then answered as a function URL answers it. */
static int streaming(const http_request_t *req)
{
    return sv_ieq_cstr(http_request_header(req, "Lambda-Runtime-Function-Response-Mode"),
                       "streaming");
}

/* The call that the request target invocation/{id}/... names, or NULL. */
static lambda_call_t *target_call(lambda_proc_t *p, sv_t target, sv_t *what)
{
    sv_t prefix = SV_LIT(LAMBDA_API_PREFIX "invocation/");
    if (target.n <= prefix.n || memcmp(target.p, prefix.p, prefix.n) != 0)
        return NULL;
    sv_t tail = sv_make(target.p + prefix.n, target.n - prefix.n);
    const char *slash = memchr(tail.p, '/', tail.n);
    if (!slash)
        return NULL;
    if (what)
        *what = sv_make(slash + 1, tail.n - (size_t)(slash - tail.p) - 1);
    return lambda__find(p, sv_make(tail.p, (size_t)(slash - tail.p)));
}

static void api_handle(http_request_t *req, void *data)
{
    lambda_proc_t *p = data;
    sv_t path = req->path;
    sv_t prefix = SV_LIT(LAMBDA_API_PREFIX);
    if (path.n < prefix.n || memcmp(path.p, prefix.p, prefix.n) != 0) {
        lambda__api_error(req, 404, "InvalidRequest", "no Runtime API endpoint at %.*s (this is "
                          "API version 2018-06-01)", (int)(path.n > 200 ? 200 : path.n), path.p);
        return;
    }
    sv_t rest = sv_make(path.p + prefix.n, path.n - prefix.n);
    int is_post = req->method == METHOD_POST;
    const char *body = req->body.p ? req->body.p : "";
    size_t len = req->body.len;
    sv_t type_hdr = http_request_header(req, "Lambda-Runtime-Function-Error-Type");

    if (path_is(rest, "invocation/next")) {
        if (req->method != METHOD_GET) {
            allow(req, "GET");
            return;
        }
        lambda__next(p, req); /* answers now or later */
        return;
    }
    if (path_is(rest, "init/error")) {
        if (!is_post) {
            allow(req, "POST");
            return;
        }
        lambda__init_error(p, body, len, type_hdr);
        accepted(req);
        return;
    }
    sv_t inv_prefix = SV_LIT("invocation/");
    if (rest.n > inv_prefix.n && memcmp(rest.p, inv_prefix.p, inv_prefix.n) == 0) {
        sv_t tail = sv_make(rest.p + inv_prefix.n, rest.n - inv_prefix.n);
        const char *slash = memchr(tail.p, '/', tail.n);
        if (slash) {
            sv_t id = sv_make(tail.p, (size_t)(slash - tail.p));
            sv_t what = sv_make(slash + 1, tail.n - id.n - 1);
            int is_response = path_is(what, "response"), is_error = path_is(what, "error");
            if (is_response || is_error) {
                if (!is_post) {
                    allow(req, "POST");
                    return;
                }
                lambda_call_t *c = lambda__find(p, id);
                if (!c) {
                    lambda__api_error(req, 400, "InvalidRequestID", "Invalid request ID: no "
                                      "invocation %.*s is in flight on this runtime",
                                      (int)(id.n > 64 ? 64 : id.n), id.p);
                    return;
                }
                /* The body is read before the answer releases the request. */
                if (is_response && streaming(req))
                    lambda__respond_stream(
                        p, c, body, len, http_request_header(req, "Content-Type"),
                        http_request_trailer(req, "Lambda-Runtime-Function-Error-Type"),
                        http_request_trailer(req, "Lambda-Runtime-Function-Error-Body"));
                else if (is_response)
                    lambda__respond(p, c, body, len);
                else
                    lambda__error(p, c, body, len, type_hdr);
                accepted(req);
                return;
            }
        }
    }
    lambda__api_error(req, 404, "InvalidRequest", "no Runtime API endpoint at %.*s",
                      (int)(path.n > 200 ? 200 : path.n), path.p);
}

/* A body over 6 MB (413), headers too large (431, or 400 from the parser's
 * own limit): the server answered itself; fail the invocation it was meant
 * for (or report the init error) instead of letting it wait for its
 * timeout. */
static void api_refused(http_server_t *s, sv_t method, sv_t target, int status, void *data)
{
    lambda_proc_t *p = data;
    (void)s;
    (void)method;
    sv_t prefix = SV_LIT(LAMBDA_API_PREFIX "invocation/");
    if (target.n > prefix.n && memcmp(target.p, prefix.p, prefix.n) == 0) {
        lambda_call_t *c = target_call(p, target, NULL);
        if (c)
            lambda__refused(p, c, status);
        return;
    }
    if (sv_eq(target, SV_LIT(LAMBDA_API_PREFIX "init/error"))) {
        static const char big[] = "{\"errorType\":\"Runtime.InitError\",\"errorMessage\":\"the "
                                  "init error document is larger than 6 MB\"}";
        static const char bad[] = "{\"errorType\":\"Runtime.InitError\",\"errorMessage\":\"the "
                                  "init error report was refused: its headers are too large or "
                                  "malformed\"}";
        if (status == 413)
            lambda__init_error(p, big, sizeof big - 1, SV_NULL);
        else
            lambda__init_error(p, bad, sizeof bad - 1, SV_NULL);
    }
}

/* A streamed response may be larger than a buffered one: 20 MB, as Lambda
 * allows (the call remembers it, for the message when it is larger still);
 * everything else 6 MB. */
static uint64_t api_body_limit(http_server_t *s, const http_request_t *req, sv_t target,
                               void *data)
{
    (void)s;
    sv_t what = SV_NULL;
    lambda_call_t *c = streaming(req) ? target_call(data, target, &what) : NULL;
    if (c && sv_eq(what, SV_LIT("response"))) {
        c->streamed = 1;
        return LAMBDA_MAX_STREAM_PAYLOAD;
    }
    return LAMBDA_MAX_PAYLOAD;
}

int lambda__api_open(lambda_proc_t *p, char *err, size_t errlen)
{
    lambda_rt_t *rt = p->lf->rt;
    http_server_config_t cfg = {
        .max_url = 4096,
        .max_headers = 64 * 1024,
        .max_body = LAMBDA_MAX_PAYLOAD,
        /* Also how long a body may pause: a streamed response may wait
         * between two writes as long as a function may run (Lambda's
         * longest is 15 minutes); an invocation's own timeout ends a
         * runtime stuck in one sooner. */
        .header_timeout_ms = 15 * 60 * 1000,
        .keepalive_timeout_ms = 15 * 60 * 1000,
        .max_connections = (size_t)rt->concurrency * 2 + 16,
        .json_errors = 1,
    };
    int rc = http_server_init(&p->api, rt->loop, &cfg, api_handle, p);
    if (rc != 0) {
        snprintf(err, errlen, "cannot set up its Runtime API listener: %s", uv_strerror(rc));
        return -1;
    }
    http_server_on_refused(&p->api, api_refused);
    http_server_on_body_limit(&p->api, api_body_limit);
    rc = http_server_listen(&p->api, "127.0.0.1", 0);
    if (rc != 0) {
        snprintf(err, errlen, "cannot listen on 127.0.0.1 for its Runtime API: %s",
                 uv_strerror(rc));
        return -2;
    }
    p->port = http_server_port(&p->api);
    return 0;
}

static void api_closed(http_server_t *s)
{
    lambda_proc_t *p = (lambda_proc_t *)((char *)s - offsetof(lambda_proc_t, api));
    http_server_free(s);
    lambda__api_closed(p);
}

void lambda__api_close(lambda_proc_t *p) { http_server_close_cb(&p->api, api_closed); }
