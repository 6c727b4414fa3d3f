/*
 * invocation.c -- creating and releasing invocations (see invocation.h).
 */
#include "invocation.h"

#include "../telemetry/log.h"

#include <string.h>

static void release_cb(void *p) { invocation_release(p); }

invocation_t *invocation_new(arena_t *arena, app_t *app, function_t *fn, sv_t id)
{
    invocation_t *inv = arena_calloc(arena, sizeof *inv);
    if (!inv)
        return NULL;
    if (id.p && id.n && id.n < sizeof inv->id) {
        memcpy(inv->id, id.p, id.n);
        inv->id[id.n] = '\0';
    } else {
        uuid_generate(inv->id);
    }
    inv->app = app;
    inv->fn = fn;
    inv->arena = arena;
    inv->status = 200;
    inv->trigger_data = "";
    buf_init(&inv->res_body, INVOCATION_MAX_RESPONSE);
    inv->start_ns = uv_hrtime();
    traceparent_child(NULL, inv->traceparent);
    if (arena_on_cleanup(arena, release_cb, inv) != 0)
        return NULL;
    return inv;
}

int invocation_stream_start(invocation_t *inv, uint64_t length, http_gone_fn gone, void *data)
{
    if (!inv->stream_ok || !inv->req || inv->streamed || http_request_gone(inv->req))
        return -1;
    if (http_stream_start_len(inv->req, inv->status, inv->res_headers, inv->nres_headers, length,
                              gone, data) != 0)
        return -1;
    inv->streamed = 1;
    return 0;
}

void invocation_release(invocation_t *inv)
{
    buf_free(&inv->res_body);
    json_decref(inv->binding_data);
    json_decref(inv->inputs);
    json_decref(inv->outputs);
    inv->binding_data = inv->inputs = inv->outputs = NULL;
}

void invocation_trace_from(invocation_t *inv, sv_t traceparent, sv_t tracestate)
{
    traceparent_t parent;
    if (!traceparent.p || traceparent_parse(traceparent, &parent) != 0)
        return;
    traceparent_child(&parent, inv->traceparent);
    if (tracestate_ok(tracestate))
        inv->tracestate = arena_strndup(inv->arena, tracestate.p, tracestate.n);
}

int invocation_header_ok(sv_t name, sv_t value)
{
    /* tchar: ! # $ % & ' * + - . ^ _ ` | ~ DIGIT ALPHA */
    static const char tchar[] = "!#$%&'*+-.^_`|~";
    if (!name.n)
        return 0;
    for (size_t i = 0; i < name.n; i++) {
        unsigned char c = (unsigned char)name.p[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c && strchr(tchar, c))))
            return 0;
    }
    for (size_t i = 0; i < value.n; i++) {
        unsigned char c = (unsigned char)value.p[i];
        if ((c < 0x20 && c != '\t') || c == 0x7f)
            return 0;
    }
    return 1;
}

/* The header name for a log line: printable ASCII, the rest as '?'. */
static void shown_name(sv_t name, char *out, size_t n)
{
    size_t k = 0;
    for (; k < name.n && k + 1 < n; k++) {
        unsigned char c = (unsigned char)name.p[k];
        out[k] = c >= 0x20 && c < 0x7f ? (char)c : '?';
    }
    out[k] = '\0';
}

int invocation_put_header(invocation_t *inv, sv_t name, sv_t value)
{
    if (inv->nres_headers == inv->cap_res_headers) {
        size_t cap = inv->cap_res_headers ? inv->cap_res_headers * 2 : 8;
        if (cap > INVOCATION_MAX_RES_HEADERS)
            cap = INVOCATION_MAX_RES_HEADERS;
        if (cap == inv->nres_headers)
            return -1;
        http_header_t *grown = arena_alloc(inv->arena, cap * sizeof *grown);
        if (!grown)
            return -1;
        if (inv->nres_headers)
            memcpy(grown, inv->res_headers, inv->nres_headers * sizeof *grown);
        inv->res_headers = grown;
        inv->cap_res_headers = cap;
    }
    char *n = arena_strndup(inv->arena, name.p, name.n);
    char *v = arena_strndup(inv->arena, value.p, value.n);
    if (!n || !v)
        return -1;
    inv->res_headers[inv->nres_headers].name = sv_make(n, name.n);
    inv->res_headers[inv->nres_headers].value = sv_make(v, value.n);
    inv->nres_headers++;
    return 0;
}

int invocation_add_header(invocation_t *inv, sv_t name, sv_t value)
{
    if (!invocation_header_ok(name, value)) {
        char shown[72];
        shown_name(name, shown, sizeof shown);
        int bad_name = !invocation_header_ok(name, SV_NULL);
        log_write(LOG_WARN, "Host.Results", inv->id,
                  "Function '%s': the response header '%s'%s is left out: %s",
                  inv->fn ? inv->fn->name : "?",
                  shown, name.n >= sizeof shown ? "..." : "",
                  bad_name ? "its name is not a token (letters, digits and "
                             "!#$%&'*+-.^_`|~ only)"
                           : "its value holds a control character (CR, LF, NUL, ...)");
        return 0;
    }
    return invocation_put_header(inv, name, value);
}

static int put_text(buf_t *b, const char *s)
{
    return buf_append(b, s, strlen(s));
}

int invocation_put_retry_exception(buf_t *b, const invocation_t *inv, int pascal)
{
    const char *e = inv->retry_error;
    if (!e || !*e)
        return buf_lit(b, "null") ? -1 : 0;
    const char *nl = strchr(e, '\n');
    size_t first = nl ? (size_t)(nl - e) : strlen(e);
    const char *rest = nl ? nl + 1 : "";
    const char *name = inv->fn ? inv->fn->name : "";
    int rc = put_text(b, pascal ? "{\"Source\":\"" : "{\"source\":\"");
    rc |= buf_json_escape(b, name, strlen(name));
    rc |= put_text(b, pascal ? "\",\"StackTrace\":\"" : "\",\"stackTrace\":\"");
    rc |= buf_json_escape(b, rest, strlen(rest));
    rc |= put_text(b, pascal ? "\",\"Message\":\"" : "\",\"message\":\"");
    rc |= buf_json_escape(b, e, first);
    rc |= buf_lit(b, "\"}");
    return rc ? -1 : 0;
}
