/*
 * admin.c -- the admin API: /admin/host/status, /admin/host/ping,
 * /admin/functions[/{name}], invocation of any function, the key
 * endpoints and /admin/usage (usage metering), with the paths and answers
 * of Azure Functions' host; the queue and blob endpoints of admin_store.c
 * and the invocation history and live log of admin_history.c join its
 * router.
 *
 * Everything but ping needs the master key, except from loopback when the
 * host runs in development mode without --enable-auth.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "admin_ui.h"
#include "app_priv.h"
#include "../cli/cli.h"
#include "../http/method.h"
#include "../telemetry/log.h"
#include "../telemetry/telemetry.h"
#include "admin_priv.h"

/* ---- helpers ---- */

void admin_respond_json(http_request_t *req, int status, json_t *j, const http_header_t *extra)
{
    http_header_t hdr[2] = {{SV_LIT("Content-Type"), SV_LIT("application/json; charset=utf-8")}};
    size_t nh = 1;
    if (extra)
        hdr[nh++] = *extra;
    char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (!text) {
        http_respond(req, 500, NULL, 0, NULL, 0);
        return;
    }
    http_respond(req, status, hdr, nh, text, strlen(text));
    free(text);
}

void admin_respond_error(http_request_t *req, int status, const char *fmt, ...)
{
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    json_t *text = json_string(msg);
    if (!text) {
        /* Not UTF-8 (a name as a client sent it): its other bytes as '?'. */
        for (char *c = msg; *c; c++)
            if ((unsigned char)*c >= 0x80)
                *c = '?';
        text = json_string(msg);
    }
    json_t *j = json_object();
    if (j && text)
        json_object_set(j, "error", text);
    json_decref(text);
    admin_respond_json(req, status, j, NULL);
}

const char *admin_param(http_request_t *req, route_params_t *p, const char *name)
{
    for (size_t i = 0; i < p->n; i++)
        if (sv_ieq_cstr(p->v[i].name, name) && p->v[i].value.p)
            return arena_strndup(&req->arena, p->v[i].value.p, p->v[i].value.n);
    return NULL;
}

const char *admin_query(http_request_t *req, const char *name)
{
    sv_t q = req->query;
    size_t nl = strlen(name), i = 0;
    while (i < q.n) {
        size_t end = i;
        while (end < q.n && q.p[end] != '&')
            end++;
        if (end - i >= nl && strncasecmp(q.p + i, name, nl) == 0 &&
            (end - i == nl || q.p[i + nl] == '=')) {
            size_t off = end - i == nl ? nl : nl + 1, n = end - i - off;
            char *v = arena_alloc(&req->arena, n + 1);
            long m = v ? url_decode(q.p + i + off, n, v, n + 1) : -1;
            if (m < 0)
                return ADMIN_QUERY_BAD;
            v[m] = '\0';
            return v;
        }
        i = end + 1;
    }
    return NULL;
}

static int is_loopback(const char *addr)
{
    return strncmp(addr, "127.", 4) == 0 || strcmp(addr, "::1") == 0 ||
           strncmp(addr, "::ffff:127.", 11) == 0;
}

static json_t *body_json(http_request_t *req, char *err, size_t errlen)
{
    if (!req->body.len) {
        snprintf(err, errlen, "a JSON body is required");
        return NULL;
    }
    json_error_t je;
    json_t *j = json_loadb(req->body.p, req->body.len, 0, &je);
    if (!j) {
        snprintf(err, errlen, "request body is not valid JSON: %d:%d: %s", je.line, je.column,
                 je.text);
        return NULL;
    }
    if (!json_is_object(j)) {
        json_decref(j);
        snprintf(err, errlen, "request body must be a JSON object");
        return NULL;
    }
    return j;
}

/* ---- host ---- */

static void host_status(host_t *h, http_request_t *req, route_params_t *p)
{
    (void)p;
    json_t *errors = json_array();
    for (size_t i = 0; i < h->app->nerrors; i++)
        json_array_append_new(errors, json_string(h->app->errors[i].message));
    json_t *j = json_pack("{s:s, s:s, s:s, s:I, s:o, s:{s:s, s:s?, s:I}}", "id", h->id,
                          "state", h->state, "version", STRATUS_VERSION, "processUptime",
                          (json_int_t)(uv_now(h->loop) - h->start_ms), "errors", errors,
                          "app", "root", h->app->root, "runtime", h->app->worker_runtime,
                          "functions", (json_int_t)h->app->nfunctions);
    json_t *health = h->runtime->health ? h->runtime->health(h->app) : NULL;
    if (health)
        json_object_set_new(j, "workers", health);
    /* A refused reload: its errors, while the previous version serves. */
    for (size_t i = 0; i < h->nreload_errors; i++)
        json_array_append_new(errors, json_string(h->reload_errors[i]));
    json_object_set_new(j, "reload",
                        json_pack("{s:b, s:I, s:I, s:s}", "watching", h->reload != NULL,
                                  "version", (json_int_t)(h->gen ? h->gen->seq : 0), "reloads",
                                  (json_int_t)h->reloads, "lastResult",
                                  h->nreload_errors ? "refused" : h->reloads ? "reloaded" : "none"));
    admin_respond_json(req, 200, j, NULL);
}

static void host_scale(host_t *h, http_request_t *req, route_params_t *p)
{
    (void)p;
    json_t *st = h->runtime->scale_status ? h->runtime->scale_status(h->app) : NULL;
    if (!st)
        st = json_pack("{s:s, s:s}", "runtime", h->runtime->name, "mode", "in-process");
    json_object_set_new(st, "app", json_string(h->app->root));
    admin_respond_json(req, 200, json_pack("{s:[o]}", "apps", st), NULL);
}

static void host_usage(host_t *h, http_request_t *req, route_params_t *p)
{
    (void)h;
    (void)p;
    static const http_header_t ct = {{"Content-Type", 12},
                                     {"application/json; charset=utf-8", 31}};
    json_t *j = telemetry_usage_json();
    /* GB-seconds with 12 significant digits: 0.0375, not 0.037499999999999999. */
    char *text = j ? json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(12)) : NULL;
    json_decref(j);
    if (!text) {
        admin_respond_error(req, 500, "out of memory");
        return;
    }
    http_respond(req, 200, &ct, 1, text, strlen(text));
    free(text);
}

static void host_ping(host_t *h, http_request_t *req, route_params_t *p)
{
    (void)h;
    (void)p;
    http_respond(req, 200, NULL, 0, NULL, 0);
}

/* ---- functions ---- */

static json_t *function_json(host_t *h, http_request_t *req, function_t *fn)
{
    json_error_t je;
    char *text = NULL;
    size_t len = 0;
    json_t *config = fn->config_text ? json_loads(fn->config_text, 0, &je)
                     : app__read_file(fn->config_path, 1 << 20, &text, &len) == 0
                         ? app__load_relaxed(text, len, &je)
                         : NULL;
    free(text);
    sv_t hosthdr = http_request_header(req, "Host");
    char base[300];
    if (hosthdr.p && hosthdr.n < 256)
        snprintf(base, sizeof base, "http://%.*s", (int)hosthdr.n, hosthdr.p);
    else
        snprintf(base, sizeof base, "http://localhost:%d", h->port);
    char url[ROUTE_MAX_TEMPLATE + 600];
    url[0] = '\0';
    if (fn->http) {
        const char *route = fn->http->route ? fn->http->route : fn->name;
        snprintf(url, sizeof url, "%s/%s%s%s", base, h->app->route_prefix,
                 h->app->route_prefix[0] ? "/" : "", route);
    }
    char href[600];
    snprintf(href, sizeof href, "%s/admin/functions/%s", base, fn->name);
    return json_pack("{s:s, s:s, s:s?, s:s, s:s?, s:b, s:o}", "name", fn->name, "href", href,
                     "invoke_url_template", url[0] ? url : NULL, "language",
                     h->app->worker_runtime ? h->app->worker_runtime : "native", "trigger",
                     fn->trigger ? fn->trigger->type : NULL, "isDisabled", fn->disabled,
                     "config", config ? config : json_object());
}

static void functions_list(host_t *h, http_request_t *req, route_params_t *p)
{
    (void)p;
    json_t *arr = json_array();
    for (size_t i = 0; i < h->app->nfunctions; i++)
        json_array_append_new(arr, function_json(h, req, h->app->functions[i]));
    admin_respond_json(req, 200, arr, NULL);
}

static function_t *find_function(host_t *h, http_request_t *req, route_params_t *p)
{
    const char *name = admin_param(req, p, "name");
    function_t *fn = name ? app_function(h->app, name) : NULL;
    if (!fn)
        admin_respond_error(req, 404, "no function named '%s'", name ? name : "");
    return fn;
}

static void function_get(host_t *h, http_request_t *req, route_params_t *p)
{
    function_t *fn = find_function(h, req, p);
    if (fn)
        admin_respond_json(req, 200, function_json(h, req, fn), NULL);
}

/* The event of a run by hand is made (or cannot be): answer. */
static void invoke_made(void *arg, binding_manual_status_t status, const char *id,
                        const char *err)
{
    http_request_t *req = arg;
    if (status == BINDING_MANUAL_OK) {
        http_header_t hdr = {SV_LIT("x-invocation-id"), sv_cstr(id)};
        http_respond(req, 202, &hdr, 1, NULL, 0);
        return;
    }
    int code = status == BINDING_MANUAL_BAD_INPUT ? 400
               : status == BINDING_MANUAL_NOT_FOUND ? 404
               : status == BINDING_MANUAL_STOPPING ? 503 : 500;
    admin_respond_error(req, code, "%s", err);
}

static void function_invoke(host_t *h, http_request_t *req, route_params_t *p)
{
    function_t *fn = find_function(h, req, p);
    if (!fn)
        return;
    char err[256];
    json_t *body = body_json(req, err, sizeof err);
    if (!body) {
        admin_respond_error(req, 400, "%s, e.g. {\"input\": \"...\"}", err);
        return;
    }
    json_t *input = json_object_get(body, "input");
    const char *text;
    size_t len;
    char *dumped = NULL;
    if (json_is_string(input)) {
        text = json_string_value(input);
        len = json_string_length(input);
    } else if (input && !json_is_null(input)) {
        text = dumped = json_dumps(input, JSON_COMPACT | JSON_ENCODE_ANY);
        len = dumped ? strlen(dumped) : 0;
    } else {
        text = "";
        len = 0;
    }
    if (!text) {
        json_decref(body);
        admin_respond_error(req, 500, "out of memory");
        return;
    }
    /* The trigger's kind turns the input into its event (a blob path into
     * the blob, ...); the answer comes once it did. */
    binding_host_invoke_input(h->bindings, fn, text, len, invoke_made, req);
    free(dumped);
    json_decref(body);
}

/* ---- keys ---- */

static int key_scope(host_t *h, http_request_t *req, route_params_t *p, key_scope_t *scope,
                     const char **fname)
{
    const char *tmpl_fn = admin_param(req, p, "name");
    *fname = NULL;
    if (tmpl_fn) {
        function_t *fn = app_function(h->app, tmpl_fn);
        if (!fn) {
            admin_respond_error(req, 404, "no function named '%s'", tmpl_fn);
            return -1;
        }
        *scope = KEYS_FUNCTION;
        *fname = fn->name;
        return 0;
    }
    *scope = memmem(req->path.p, req->path.n, "/systemkeys", 11) ? KEYS_SYSTEM : KEYS_HOST;
    return 0;
}

static void keys_list(host_t *h, http_request_t *req, route_params_t *p)
{
    key_scope_t scope;
    const char *fname;
    if (key_scope(h, req, p, &scope, &fname) != 0)
        return;
    admin_respond_json(req, 200, keystore_list(h->keys, scope, fname), NULL);
}

static void key_op(host_t *h, http_request_t *req, route_params_t *p)
{
    key_scope_t scope;
    const char *fname;
    if (key_scope(h, req, p, &scope, &fname) != 0)
        return;
    const char *kname = admin_param(req, p, "key");
    if (!kname)
        kname = "";
    char err[256] = "";
    if (req->method == METHOD_GET || req->method == METHOD_HEAD) {
        const char *v = keystore_get(h->keys, scope, fname, kname);
        if (!v) {
            admin_respond_error(req, 404, "no key named '%s'", kname);
            return;
        }
        admin_respond_json(req, 200, json_pack("{s:s, s:s}", "name", kname, "value", v), NULL);
        return;
    }
    if (req->method == METHOD_DELETE) {
        if (keystore_delete(h->keys, scope, fname, kname, err, sizeof err) != 0) {
            int master = scope == KEYS_HOST && strcmp(kname, "_master") == 0;
            admin_respond_error(req, master ? 400 : 404, "%s", err[0] ? err : "no such key");
            return;
        }
        http_respond(req, 204, NULL, 0, NULL, 0);
        return;
    }
    const char *value = NULL;
    json_t *body = NULL;
    if (req->method == METHOD_PUT) {
        body = body_json(req, err, sizeof err);
        if (!body) {
            admin_respond_error(req, 400, "%s, e.g. {\"name\": \"%s\", \"value\": \"...\"}", err,
                                kname);
            return;
        }
        value = json_string_value(json_object_get(body, "value"));
        if (!value) {
            json_decref(body);
            admin_respond_error(req, 400, "field 'value' (a string) is required");
            return;
        }
    }
    char out[KEY_MAX_LEN + 1];
    int rc = keystore_set(h->keys, scope, fname, kname, value, out, sizeof out, err, sizeof err);
    json_decref(body);
    if (rc < 0) {
        admin_respond_error(req, 400, "%s", err);
        return;
    }
    admin_respond_json(req, rc == 1 ? 201 : 200, json_pack("{s:s, s:s}", "name", kname, "value",
                       out), NULL);
}

static const admin_route_t routes[] = {
    {"admin/host/status", METHOD_GET, host_status},
    {"admin/host/ping", METHOD_GET | METHOD_POST, host_ping},
    {"admin/host/scale", METHOD_GET, host_scale},
    {"admin/usage", METHOD_GET, host_usage},
    {"admin/functions", METHOD_GET, functions_list},
    {"admin/functions/{name}", METHOD_GET, function_get},
    {"admin/functions/{name}", METHOD_POST, function_invoke},
    {"admin/functions/{name}/keys", METHOD_GET, keys_list},
    {"admin/functions/{name}/keys/{key}", METHOD_GET | METHOD_PUT | METHOD_POST | METHOD_DELETE, key_op},
    {"admin/host/keys", METHOD_GET, keys_list},
    {"admin/host/keys/{key}", METHOD_GET | METHOD_PUT | METHOD_POST | METHOD_DELETE, key_op},
    {"admin/host/systemkeys", METHOD_GET, keys_list},
    {"admin/host/systemkeys/{key}", METHOD_GET | METHOD_PUT | METHOD_POST | METHOD_DELETE, key_op},
    {"admin/ui", METHOD_GET, admin_ui_handle},
    {"admin/ui/{*file}", METHOD_GET, admin_ui_handle},
    {"admin/invocations", METHOD_GET, admin_invocations_list},
    {"admin/invocations/{id}", METHOD_GET, admin_invocation_get},
    {"admin/logs", METHOD_GET, admin_logs},
};

static int add_routes(host_t *h, const admin_route_t *table, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char err[256];
        if (router_add(h->admin_router, table[i].tmpl, table[i].methods, (void *)&table[i], err,
                       sizeof err) != 0) {
            log_error("admin route %s: %s", table[i].tmpl, err);
            return -1;
        }
    }
    return 0;
}

int admin_authorize(host_t *h, http_request_t *req, const char *what)
{
    int trusted = !h->enforce_auth && !h->production && is_loopback(req->remote_addr);
    if (trusted)
        return 0;
    sv_t key = host_request_key(req);
    /* A function's own key is valid, just not enough: 403, not 401. */
    key_level_t level = key.n ? keystore_check_any(h->keys, key.p, key.n) : KEY_NONE;
    if (level == KEY_NONE) {
        admin_respond_error(req, 401, "%s needs the master key (x-functions-key header or ?code=)",
                            what);
        return -1;
    }
    if (level != KEY_MASTER) {
        admin_respond_error(req, 403, "this key may not use %s; use the master key", what);
        return -1;
    }
    return 0;
}

int admin_init(host_t *h)
{
    h->admin_router = router_new();
    if (!h->admin_router)
        return -1;
    if (add_routes(h, routes, sizeof routes / sizeof routes[0]) != 0 ||
        add_routes(h, admin_store_routes, admin_store_nroutes) != 0)
        return -1;
    return 0;
}

void admin_handle(host_t *h, http_request_t *req)
{
    size_t scratch_len = req->path.n + ROUTE_MAX_PARAMS + 1;
    char *scratch = arena_alloc(&req->arena, scratch_len);
    route_params_t *params = arena_alloc(&req->arena, sizeof *params);
    if (!scratch || !params) {
        http_respond(req, 500, NULL, 0, NULL, 0);
        return;
    }
    void *data = NULL;
    unsigned allowed = 0;
    int r = router_lookup(h->admin_router, req->method, req->path.p, req->path.n, params,
                          scratch, scratch_len, &data, &allowed);
    if (r == ROUTER_NOT_FOUND) {
        admin_respond_error(req, 404, "no admin endpoint at this path");
        return;
    }
    const admin_route_t *route = data;
    if (r == ROUTER_MATCH && route->fn == host_ping) {
        host_ping(h, req, params);
        return;
    }
    if (admin_authorize(h, req, "the admin API") != 0)
        return;
    if (r == ROUTER_METHOD_NOT_ALLOWED) {
        host_respond_405(req, allowed);
        return;
    }
    route->fn(h, req, params);
}
