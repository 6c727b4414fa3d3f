/*
 * http_trigger.c -- the HTTP trigger front end: route -> authorize ->
 * invoke -> reply, for every HTTP-triggered function of the app.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../http/method.h"
#include "../telemetry/log.h"
#include "../telemetry/telemetry.h"
#include "host.h"

/* The route template of fn, with the app's prefix; NULL (err set) when it
 * is one the host keeps for itself. */
static const char *fn_route_template(const app_t *app, const function_t *fn, char *tmpl,
                                  size_t size, char *err, size_t errlen)
{
    const char *route = fn->http->route ? fn->http->route : fn->name;
    if (app->route_prefix[0])
        snprintf(tmpl, size, "%s/%s", app->route_prefix, route);
    else
        snprintf(tmpl, size, "%s", route);
    int reserved = !strncasecmp(tmpl, "admin", 5) && (tmpl[5] == '/' || !tmpl[5]);
    reserved |= !strncasecmp(tmpl, "runtime/webhooks", 16) && (tmpl[16] == '/' || !tmpl[16]);
    reserved |= !strcasecmp(tmpl, "metrics");
    if (!reserved)
        return tmpl;
    snprintf(err, errlen, "'%.200s' is reserved for the host (admin/, runtime/webhooks/ and "
             "metrics)", tmpl);
    return NULL;
}

void http_trigger_register(host_t *h, app_t *app, router_t *router)
{
    /* Functions whose code did not load keep their routes (they answer
     * 500), as in Azure; a route that cannot be added is just not served. */
    for (size_t i = 0; i < app->nbroken; i++) {
        function_t *fn = app->broken[i];
        char tmpl[ROUTE_MAX_TEMPLATE + 256], err[512];
        if (fn_route_template(app, fn, tmpl, sizeof tmpl, err, sizeof err))
            router_add(router, tmpl, fn->http->methods, fn, err, sizeof err);
    }
    for (size_t i = 0; i < app->nfunctions;) {
        function_t *fn = app->functions[i];
        if (!fn->http) {
            i++;
            continue;
        }
        char tmpl[ROUTE_MAX_TEMPLATE + 256], err[512];
        if (!fn_route_template(app, fn, tmpl, sizeof tmpl, err, sizeof err) ||
            router_add(router, tmpl, fn->http->methods, fn, err, sizeof err) != 0) {
            app_add_error(app, fn->name, "%s: binding '%s' (httpTrigger): field 'route': %s",
                          fn->label, fn->trigger->name, err);
            if (h->runtime->unload)
                h->runtime->unload(fn);
            app_drop_function(app, fn);
            continue;
        }
        i++;
    }
}

sv_t host_request_key(http_request_t *req)
{
    sv_t k = http_request_header(req, "x-functions-key");
    if (k.p && k.n)
        return k;
    sv_t q = req->query;
    size_t i = 0;
    while (i < q.n) {
        size_t end = i;
        while (end < q.n && q.p[end] != '&')
            end++;
        if (end - i > 5 && strncmp(q.p + i, "code=", 5) == 0) {
            size_t n = end - i - 5;
            char *v = arena_alloc(&req->arena, n + 1);
            if (!v)
                return SV_NULL;
            long m = url_decode(q.p + i + 5, n, v, n + 1);
            if (m < 0)
                return SV_NULL;
            return sv_make(v, (size_t)m);
        }
        i = end + 1;
    }
    return SV_NULL;
}

void host_respond_405(http_request_t *req, unsigned allowed)
{
    char list[128];
    method_list(allowed, list, sizeof list);
    http_header_t allow = {SV_LIT("Allow"), sv_cstr(list)};
    http_respond(req, 405, &allow, 1, NULL, 0);
}

void host_respond_text(http_request_t *req, int status, const char *text)
{
    static const http_header_t ct = {{"Content-Type", 12}, {"text/plain; charset=utf-8", 25}};
    if (!text || !*text) {
        http_respond(req, status, NULL, 0, NULL, 0);
        return;
    }
    http_respond(req, status, &ct, 1, text, strlen(text));
}

static void http_done(invocation_t *inv, int ok, const char *reason, void *data)
{
    host_gen_t *gen = data;
    gen->http_inflight--;
    http_request_t *req = inv->req;
    uint64_t ns = uv_hrtime() - inv->start_ns;
    if (inv->streamed) {
        /* The head went out with the status: a failure now can only cut
         * the answer off, so that the caller sees it is incomplete. */
        log_invocation(inv->fn->name, inv->id, ok, inv->status, ns, reason);
        telemetry_end(inv, ok, inv->status, ns, reason);
        if (ok)
            http_stream_end(req);
        else
            http_stream_abort(req);
        return;
    }
    if (!ok) {
        int status = inv->fail_status ? inv->fail_status : 500;
        log_invocation(inv->fn->name, inv->id, 0, status, ns, reason);
        telemetry_end(inv, 0, status, ns, reason);
        /* The host's own reasons (timeout, crash, overload) are for the
         * caller; the function's error text stays in the log. */
        char body[512];
        int show = reason && !inv->user_error;
        snprintf(body, sizeof body, "Function '%s' %s (invocation id %s)%s%s\n", inv->fn->name,
                 status == 429 || status == 503 ? "was not run" : "failed", inv->id,
                 show ? ": " : "", show ? reason : "; the error is in the host's log");
        http_header_t hdr[3] = {{SV_LIT("Content-Type"), SV_LIT("text/plain; charset=utf-8")},
                                {SV_LIT("x-invocation-id"), sv_cstr(inv->id)},
                                {SV_LIT("Retry-After"), SV_LIT("1")}};
        /* Retry-After for overload and a stopping host, not for a runtime
         * that stopped for good (not_run): retrying soon would not help. */
        int retry = (status == 429 || status == 503) && !inv->not_run;
        http_respond(req, status, hdr, retry ? 3 : 2, body, strlen(body));
        return;
    }
    log_invocation(inv->fn->name, inv->id, 1, inv->status, ns, NULL);
    telemetry_end(inv, 1, inv->status, ns, NULL);
    http_respond_take(req, inv->status, inv->res_headers, inv->nres_headers, &inv->res_body);
}

/* The caller's W3C trace context. Two traceparent headers make it invalid
 * (the spec); several tracestate headers are not combined: the first is
 * passed on. */
static void trace_from_request(invocation_t *inv, const http_request_t *req)
{
    sv_t tp = SV_NULL, ts = SV_NULL;
    int ntp = 0;
    for (size_t i = 0; i < req->nheaders; i++) {
        sv_t n = req->headers[i].name;
        if (n.n == 11 && sv_ieq_cstr(n, "traceparent")) {
            tp = req->headers[i].value;
            ntp++;
        } else if (n.n == 10 && !ts.p && sv_ieq_cstr(n, "tracestate")) {
            ts = req->headers[i].value;
        }
    }
    if (ntp == 1)
        invocation_trace_from(inv, tp, ts);
}

/* GET / when no function has that route: a page saying the app is up, as
 * Azure's host serves one (health checks and load balancers probe it),
 * unless the setting AzureWebJobsDisableHomepage is true. 1 when answered. */
static int homepage(http_request_t *req)
{
    const char *off = getenv("AzureWebJobsDisableHomepage");
    if (off && !strcasecmp(off, "true"))
        return 0;
    static const char page[] =
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head><meta charset=\"utf-8\">"
        "<title>Your Functions app is up and running</title></head>\n<body>\n"
        "<h1>Your Functions app is up and running</h1>\n"
        "<p>Served by Stratus. Functions answer under their routes (by default "
        "<code>/api/&lt;function&gt;</code>).</p>\n</body>\n</html>\n";
    static const http_header_t ct = {SV_LIT("Content-Type"), SV_LIT("text/html; charset=utf-8")};
    http_respond(req, 200, &ct, 1, page, sizeof page - 1);
    return 1;
}

void http_trigger_handle(host_t *h, http_request_t *req)
{
    size_t scratch_len = req->path.n + ROUTE_MAX_PARAMS + 1;
    char *scratch = arena_alloc(&req->arena, scratch_len);
    route_params_t *params = arena_alloc(&req->arena, sizeof *params);
    if (!scratch || !params) {
        host_respond_text(req, 500, "out of memory\n");
        return;
    }
    void *data = NULL;
    unsigned allowed = 0;
    int r = router_lookup(h->router, req->method, req->path.p, req->path.n, params, scratch,
                          scratch_len, &data, &allowed);
    if (r == ROUTER_NOT_FOUND) {
        if (req->path.n == 1 && (req->method & (METHOD_GET | METHOD_HEAD)) && homepage(req))
            return;
        http_respond(req, 404, NULL, 0, NULL, 0);
        return;
    }
    if (r == ROUTER_METHOD_NOT_ALLOWED) {
        host_respond_405(req, allowed);
        return;
    }
    function_t *fn = data;
    if (fn->disabled || (h->enforce_auth && fn->http->auth_level != AUTH_ANONYMOUS)) {
        sv_t key = host_request_key(req);
        key_level_t level = key.n ? keystore_check(h->keys, fn->name, key.p, key.n) : KEY_NONE;
        if (fn->disabled && level != KEY_MASTER) {
            http_respond(req, 404, NULL, 0, NULL, 0);
            return;
        }
        if (h->enforce_auth) {
            if ((fn->http->auth_level == AUTH_FUNCTION && level == KEY_NONE) ||
                (fn->http->auth_level == AUTH_ADMIN && level != KEY_MASTER)) {
                http_respond(req, 401, NULL, 0, NULL, 0);
                return;
            }
        }
    }
    if (fn->load_error) {
        /* As Azure's host: the function is there, and fails. The reason
         * (file, line, traceback) is for the log, not for callers. */
        size_t n = strcspn(fn->load_error, "\n");
        log_write(LOG_ERROR, "Host.Function", NULL, "Function '%s' was called, but its code did "
                  "not load: %.*s%s", fn->name, (int)(n > 400 ? 400 : n), fn->load_error,
                  fn->load_error[n] || n > 400 ? " ..." : "");
        char body[512];
        snprintf(body, sizeof body, "Function '%s' cannot run: its code did not load (the error "
                 "is in the host's log and at /admin/host/status)\n", fn->name);
        host_respond_text(req, 500, body);
        return;
    }
    invocation_t *inv = invocation_new(&req->arena, h->app, fn, SV_NULL);
    if (!inv) {
        host_respond_text(req, 500, "out of memory\n");
        return;
    }
    inv->req = req;
    inv->params = params;
    inv->trigger_data = req->body.p ? req->body.p : "";
    inv->trigger_len = req->body.len;
    inv->start_ns = req->start_ns;
    inv->stream_ok = !fn->has_io;
    trace_from_request(inv, req);
    telemetry_begin(inv);
    /* The version (and its code) stays until its invocations finished. */
    h->gen->http_inflight++;
    binding_host_run(h->bindings, inv, http_done, h->gen);
}
