/*
 * custom_msg.c -- what the custom handler runtime sends and reads over
 * HTTP (see custom.h and docs/custom-handlers.md).
 *
 * Forwarding mode: the caller's request goes to the handler as it came
 * (method, path, query, headers, body) less the hop-by-hop headers, and the
 * handler's response comes back the same way. Otherwise: POST
 * /{functionName} with {"Data": {...}, "Metadata": {...}}, and the answer
 * {"Outputs": {...}, "Logs": [...], "ReturnValue": ...} is applied to the
 * invocation. Request heads are written into the invocation's arena; the
 * JSON body into the call's own buffer. The forwarding path allocates
 * nothing else.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <stratus.h>

#include "../core/trigger.h"
#include "../cli/cli.h"
#include "../http/method.h"
#include "../telemetry/log.h"
#include "../util/codec.h"
#include "../util/id.h"
#include "../util/jsontok.h"
#include "custom.h"

#define HOST_VERSION_HEADER "X-Azure-Functions-HostVersion"
#define INVOCATION_HEADER "X-Azure-Functions-InvocationId"

/* ---- small text helpers ---- */

/* Headers that describe one connection, not the message (RFC 9110 7.6.1). */
static int hop_by_hop(sv_t n)
{
    static const sv_t names[] = {SV_LIT("Connection"), SV_LIT("Keep-Alive"),
                                 SV_LIT("Proxy-Connection"), SV_LIT("TE"), SV_LIT("Trailer"),
                                 SV_LIT("Transfer-Encoding"), SV_LIT("Upgrade")};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (sv_ieq(n, names[i]))
            return 1;
    return 0;
}

/* 1 when name is one of the comma-separated tokens of a Connection value. */
static int in_connection_list(sv_t list, sv_t name)
{
    size_t i = 0;
    sv_t item;
    while (sv_next_list_item(list, &i, &item))
        if (sv_ieq(item, name))
            return 1;
    return 0;
}

typedef struct writer {
    char *p;
    size_t len, cap;
} writer_t;

static void w_put(writer_t *w, const char *s, size_t n)
{
    if (w->len + n <= w->cap) /* sized in advance: never false */
        memcpy(w->p + w->len, s, n);
    w->len += n;
}

#define W_LIT(w, lit) w_put((w), "" lit, sizeof(lit) - 1)

static void w_sv(writer_t *w, sv_t s) { w_put(w, s.p, s.n); }

static void w_uint(writer_t *w, unsigned long long v)
{
    char tmp[24];
    size_t n = 0;
    do
        tmp[sizeof tmp - 1 - n++] = (char)('0' + v % 10);
    while ((v /= 10));
    w_put(w, tmp + sizeof tmp - n, n);
}

/* The invocation's trace context as request headers: the handler's
 * outgoing calls continue the trace (as Azure's host, whose HTTP client
 * sends them on every request to the handler). */
#define TRACE_HEAD_MAX (TRACEPARENT_LEN + TRACESTATE_MAX + 32)

static void put_trace(writer_t *w, const invocation_t *inv)
{
    W_LIT(w, "traceparent: ");
    w_put(w, inv->traceparent, strlen(inv->traceparent));
    W_LIT(w, "\r\n");
    if (inv->tracestate) {
        W_LIT(w, "tracestate: ");
        w_put(w, inv->tracestate, strlen(inv->tracestate));
        W_LIT(w, "\r\n");
    }
}

/* ---- forwarding mode ---- */

/* 1 when the request accepts text/event-stream (Server-Sent Events). */
static int wants_event_stream(const http_request_t *r)
{
    for (size_t i = 0; i < r->nheaders; i++) {
        if (!sv_ieq_cstr(r->headers[i].name, "Accept"))
            continue;
        size_t pos = 0;
        sv_t item;
        while (sv_next_list_item(r->headers[i].value, &pos, &item)) {
            size_t k = 0;
            while (k < item.n && item.p[k] != ';')
                k++;
            while (k && (item.p[k - 1] == ' ' || item.p[k - 1] == '\t'))
                k--;
            if (sv_ieq_cstr(sv_make(item.p, k), "text/event-stream"))
                return 1;
        }
    }
    return 0;
}

static int forward_request(ch_call_t *c, const char *host, char *err, size_t errlen)
{
    invocation_t *inv = c->inv;
    http_request_t *r = inv->req;
    sv_t conn = http_request_header(r, "Connection");
    /* HEAD goes as GET: the host answers HEAD from it (no body, but the
     * Content-Length of the GET), so a handler need not know HEAD. */
    int head = r->method == METHOD_HEAD;
    sv_t method = head ? SV_LIT("GET") : sv_cstr(r->method_name);
    const ch_fn_t *cf = inv->fn->runtime_data;
    int to_name = cf && cf->forward_to_name;
    sv_t path = to_name ? sv_cstr(inv->fn->name) : r->path;
    size_t need = method.n + path.n + 1 + r->query.n + 64 + 40 + UUID_STR_LEN + 80 +
                  strlen(host) + 48 + TRACE_HEAD_MAX;
    for (size_t i = 0; i < r->nheaders; i++)
        need += r->headers[i].name.n + r->headers[i].value.n + 4;
    writer_t w = {arena_alloc(inv->arena, need), 0, need};
    if (!w.p) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    w_sv(&w, method);
    W_LIT(&w, " ");
    if (to_name)
        W_LIT(&w, "/");
    w_sv(&w, path);
    if (r->query.n) {
        W_LIT(&w, "?");
        w_sv(&w, r->query);
    }
    W_LIT(&w, " HTTP/1.1\r\n");
    int has_host = 0;
    for (size_t i = 0; i < r->nheaders; i++) {
        sv_t n = r->headers[i].name;
        if (hop_by_hop(n) || sv_ieq_cstr(n, "Content-Length") || sv_ieq_cstr(n, "Expect") ||
            sv_ieq_cstr(n, INVOCATION_HEADER) || sv_ieq_cstr(n, HOST_VERSION_HEADER) ||
            sv_ieq_cstr(n, "traceparent") || sv_ieq_cstr(n, "tracestate") ||
            (conn.n && in_connection_list(conn, n)))
            continue;
        has_host |= sv_ieq_cstr(n, "Host");
        w_sv(&w, n);
        W_LIT(&w, ": ");
        w_sv(&w, r->headers[i].value);
        W_LIT(&w, "\r\n");
    }
    if (!has_host) {
        W_LIT(&w, "Host: ");
        w_put(&w, host, strlen(host));
        W_LIT(&w, "\r\n");
    }
    W_LIT(&w, INVOCATION_HEADER ": ");
    w_put(&w, inv->id, strlen(inv->id));
    W_LIT(&w, "\r\n" HOST_VERSION_HEADER ": " STRATUS_VERSION "\r\n");
    put_trace(&w, inv);
    size_t blen = r->body.len;
    if (blen || r->method & (METHOD_POST | METHOD_PUT | METHOD_PATCH)) {
        W_LIT(&w, "Content-Length: ");
        w_uint(&w, blen);
        W_LIT(&w, "\r\n");
    }
    W_LIT(&w, "\r\n");
    if (w.len > w.cap) { /* cannot happen: sized above */
        snprintf(err, errlen, "internal error: request head larger than planned");
        return -1;
    }
    upstream_call_t *u = &c->up;
    u->head = w.p;
    u->head_len = w.len;
    u->body = blen ? r->body.p : NULL;
    u->body_len = blen;
    u->no_body = 0;
    /* A request for an event stream may be answered with one that does
     * not end: nothing is pipelined behind it (it is not replayable). */
    u->replayable = (r->method & (METHOD_GET | METHOD_HEAD | METHOD_OPTIONS | METHOD_PUT |
                                  METHOD_DELETE)) != 0 &&
                    !wants_event_stream(r);
    return 0;
}

void ch__msg_forward_head(ch_call_t *c, respparser_t *resp)
{
    invocation_t *inv = c->inv;
    inv->status = respparser_status(resp);
    inv->nres_headers = 0;
    const char *conn = respparser_header(resp, "Connection");
    sv_t conn_list = sv_cstr(conn);
    size_t pos = 0, nl, vl;
    const char *n, *v;
    while (respparser_header_next(resp, &pos, &n, &nl, &v, &vl) == 0) {
        sv_t name = sv_make(n, nl);
        if (hop_by_hop(name) || sv_ieq_cstr(name, "Content-Length") ||
            sv_ieq_cstr(name, "Date") || (conn_list.n && in_connection_list(conn_list, name)))
            continue;
        if (invocation_add_header(inv, name, sv_make(v, vl)) != 0) {
            log_write(LOG_WARN, "Host.CustomHandler", inv->id,
                      "Function '%s': the handler's answer has more than %d headers; the rest "
                      "are dropped", inv->fn->name, INVOCATION_MAX_RES_HEADERS);
            break;
        }
    }
}

static int forward_response(ch_call_t *c, respparser_t *resp, char *err, size_t errlen)
{
    invocation_t *inv = c->inv;
    ch__msg_forward_head(c, resp);
    size_t len;
    const char *body = respparser_body(resp, &len);
    if (len >= (64u << 10) && !inv->res_body.len &&
        respparser_body_take(resp, &inv->res_body) == 0)
        return 1; /* a large body is handed over, not copied */
    if (len && (buf_reserve(&inv->res_body, len) != 0 ||
                buf_append(&inv->res_body, body, len) != 0)) {
        snprintf(err, errlen, "the response is too large");
        return 0;
    }
    return 1;
}

/* ---- Data/Metadata request ----
 *
 * JSON for a handler must be UTF-8 (RFC 8259): text taken from the request
 * (query, headers, route values) that is not has U+FFFD for the bad bytes,
 * as Azure's host (.NET strings) sends it. */

static int put_json_string(buf_t *b, const char *s, size_t n)
{
    return buf_putc(b, '"') || buf_json_escape_utf8(b, s, n) || buf_putc(b, '"');
}

static int put_base64(buf_t *b, const char *s, size_t n)
{
    return buf_putc(b, '"') || base64_encode(b, s, n) || buf_putc(b, '"');
}

/* Text as a JSON string; bytes that are not UTF-8 (or binary), base64. */
static int put_payload(buf_t *b, const char *s, size_t n, int binary)
{
    if (binary || !utf8_valid(s, n))
        return put_base64(b, s, n);
    return put_json_string(b, s, n);
}

/* 1 when the request said a Content-Length (not chunked). */
static int has_content_length(const http_request_t *r)
{
    return http_request_header((http_request_t *)r, "Content-Length").n != 0;
}

static int body_is_binary(const invocation_t *inv, const ch_fn_t *cf)
{
    if (cf && cf->binary_body)
        return 1;
    sv_t ct = http_request_header(inv->req, "Content-Type");
    return sv_istarts(ct, SV_LIT("application/octet-stream")) ||
           sv_istarts(ct, SV_LIT("multipart/"));
}

/* "2026-11-26T19:17:18.3381234Z", as .NET writes UtcNow. */
static void utc_now(char *out, size_t n)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char date[32];
    strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, n, "%.20s.%07dZ", date, (int)(ts.tv_nsec / 100) % 10000000);
}

/* A query parameter, merged by name (case-insensitive) with "," between
 * repeated values; last is the value given last. */
typedef struct qv {
    const char *name;
    const char *last;
    buf_t value;
} qv_t;

static int is_reserved_key(const char *k)
{
    return !strcasecmp(k, "Query") || !strcasecmp(k, "Headers") || !strcasecmp(k, "sys");
}

/* {"name": "value", ...} of the query parameters: the merged values, or
 * the last ones (Azure's Metadata Query: "last one wins"). */
static int put_query(buf_t *b, const qv_t *qs, size_t nq, int last)
{
    int rc = buf_putc(b, '{');
    for (size_t i = 0; i < nq; i++) {
        rc |= i ? buf_putc(b, ',') : 0;
        rc |= put_json_string(b, qs[i].name, strlen(qs[i].name));
        rc |= buf_putc(b, ':');
        if (last)
            rc |= put_json_string(b, qs[i].last, strlen(qs[i].last));
        else
            rc |= put_json_string(b, qs[i].value.p ? qs[i].value.p : "", qs[i].value.len);
    }
    return rc | buf_putc(b, '}');
}

/* The request headers that Azure's web server (Kestrel) knows by name: it
 * gives them in this spelling whatever the client sent ("content-type" from
 * an HTTP/2 or fetch() client is "Content-Type"), others as first sent. */
static sv_t header_spelling(sv_t n)
{
    static const char *const known[] = {
        "Accept", "Accept-Charset", "Accept-Encoding", "Accept-Language",
        "Access-Control-Request-Headers", "Access-Control-Request-Method", "Allow",
        "Authorization", "Baggage", "Cache-Control", "Connection", "Content-Encoding",
        "Content-Language", "Content-Length", "Content-Location", "Content-MD5",
        "Content-Range", "Content-Type", "Cookie", "Correlation-Context", "Date", "DNT",
        "Expect", "From", "Grpc-Accept-Encoding", "Grpc-Encoding", "Grpc-Timeout", "Host",
        "If-Match", "If-Modified-Since", "If-None-Match", "If-Range", "If-Unmodified-Since",
        "Keep-Alive", "Max-Forwards", "Origin", "Pragma", "Proxy-Authorization", "Range",
        "Referer", "Request-Id", "TE", "traceparent", "tracestate", "Trailer",
        "Transfer-Encoding", "Translate", "Upgrade", "Upgrade-Insecure-Requests", "User-Agent",
        "Via", "Warning"};
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (sv_ieq_cstr(n, known[i]))
            return sv_cstr(known[i]);
    return n;
}

/* The request headers, same-named ones together (case-insensitive, in
 * order of first appearance; named as header_spelling() gives them):
 * {"Name": ["a", "b"]} when lists, else {"Name": "a,b"}. */
static int put_headers(buf_t *b, const http_request_t *r, int lists)
{
    int rc = buf_putc(b, '{'), first = 1;
    for (size_t i = 0; i < r->nheaders; i++) {
        sv_t n = r->headers[i].name;
        size_t j = 0;
        while (j < i && !sv_ieq(r->headers[j].name, n))
            j++;
        if (j < i)
            continue;
        rc |= first ? 0 : buf_putc(b, ',');
        first = 0;
        sv_t shown = header_spelling(n);
        rc |= put_json_string(b, shown.p, shown.n);
        rc |= lists ? buf_lit(b, ":[") : buf_lit(b, ":\"");
        for (size_t k = i, m = 0; k < r->nheaders; k++) {
            if (!sv_ieq(r->headers[k].name, n))
                continue;
            rc |= m++ ? buf_putc(b, ',') : 0;
            if (lists)
                rc |= put_json_string(b, r->headers[k].value.p, r->headers[k].value.n);
            else
                rc |= buf_json_escape_utf8(b, r->headers[k].value.p, r->headers[k].value.n);
        }
        rc |= buf_putc(b, lists ? ']' : '"');
    }
    return rc | buf_putc(b, '}');
}

static int put_http_trigger(buf_t *b, invocation_t *inv, const ch_fn_t *cf, qv_t *qs, size_t nq)
{
    http_request_t *r = inv->req;
    sv_t host = http_request_header(r, "Host");
    int rc = 0;
    rc |= buf_lit(b, "{\"Url\":\"http://");
    rc |= host.n ? buf_json_escape_utf8(b, host.p, host.n) : buf_lit(b, "localhost");
    rc |= buf_json_escape_utf8(b, r->path.p, r->path.n);
    if (r->query.n) {
        rc |= buf_putc(b, '?');
        rc |= buf_json_escape_utf8(b, r->query.p, r->query.n);
    }
    rc |= buf_lit(b, "\",\"Method\":");
    rc |= put_json_string(b, r->method_name, strlen(r->method_name));
    rc |= buf_lit(b, ",\"Query\":");
    rc |= put_query(b, qs, nq, 0);
    rc |= buf_lit(b, ",\"Headers\":");
    rc |= put_headers(b, r, 1);
    rc |= buf_lit(b, ",\"Params\":{");
    int first = 1;
    for (size_t i = 0; inv->params && i < inv->params->n; i++) {
        route_param_t *p = &inv->params->v[i];
        if (!p->value.p)
            continue;
        rc |= first ? 0 : buf_putc(b, ',');
        first = 0;
        rc |= put_json_string(b, p->name.p, p->name.n);
        rc |= buf_putc(b, ':');
        rc |= put_json_string(b, p->value.p, p->value.n);
    }
    rc |= buf_lit(b, "},\"Identities\":[]");
    /* No Body at all for a request without one, as Azure's host leaves it
     * out (a GET, a Content-Length of 0). */
    if (r->body.len) {
        rc |= buf_lit(b, ",\"Body\":");
        rc |= put_payload(b, r->body.p, r->body.len, body_is_binary(inv, cf));
    }
    rc |= buf_putc(b, '}');
    return rc ? -1 : 0;
}

static int dump_cb(const char *p, size_t n, void *data) { return buf_append(data, p, n); }

static int put_json(buf_t *b, const json_t *v)
{
    return json_dump_callback(v, dump_cb, b, JSON_COMPACT | JSON_ENCODE_ANY) != 0 ? -1 : 0;
}

/* An input binding's value as Azure sends it in Data (custom_value.c),
 * read as its binding's dataType says. */
static int put_input(buf_t *b, const function_t *fn, const char *name, const json_t *v)
{
    const binding_t *bd = NULL;
    for (size_t i = 0; i < fn->nbindings && !bd; i++)
        if (!strcmp(fn->bindings[i].name, name))
            bd = &fn->bindings[i];
    int binary = bd && bd->data_type && !strcasecmp(bd->data_type, "binary");
    int blob = bd && !strcasecmp(bd->type, "blob");
    return ch__value_put_input(b, v, binary, blob);
}

static int ends_with_trigger(const char *k)
{
    size_t n = strlen(k);
    return n >= 7 && strcasecmp(k + n - 7, "Trigger") == 0;
}

/* The JSON object in n bytes of text (less a leading byte order mark when
 * drop_bom), whose top-level properties Azure adds to the binding data of
 * a payload it reads as text; NULL when the text is not one. New
 * reference. */
static json_t *json_object_text(const char *p, size_t n, int drop_bom)
{
    if (drop_bom && n >= 3 && !memcmp(p, "\xef\xbb\xbf", 3)) {
        p += 3;
        n -= 3;
    }
    while (n && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'))
        p++, n--;
    while (n && (p[n - 1] == ' ' || p[n - 1] == '\t' || p[n - 1] == '\r' || p[n - 1] == '\n'))
        n--;
    if (n < 2 || p[0] != '{' || p[n - 1] != '}')
        return NULL;
    json_t *o = json_loadb(p, n, 0, NULL);
    if (!json_is_object(o)) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* That object of a non-HTTP trigger's payload (a queue message, a blob),
 * unless the function reads it as bytes or it is a timer's. */
static json_t *payload_object(const invocation_t *inv, const ch_fn_t *cf)
{
    const char *type = inv->fn->trigger ? inv->fn->trigger->type : "";
    if (!inv->trigger_data || (cf && cf->binary_body) || !strcasecmp(type, "timerTrigger"))
        return NULL;
    return json_object_text(inv->trigger_data, inv->trigger_len,
                            !strcasecmp(type, "blobTrigger"));
}

/* Azure's binding data is a dictionary that ignores case: keys are
 * matched through their lower-case form, made in tmp (NULL when out of
 * memory). Sets and maps of such forms are JSON objects, so that a
 * payload of many properties costs no more than one pass. */
static const char *ci_key(buf_t *tmp, const char *k)
{
    buf_reset(tmp);
    for (; *k; k++)
        if (buf_putc(tmp, (char)tolower((unsigned char)*k)) != 0)
            return NULL;
    return tmp->p ? tmp->p : "";
}

/* 1 when k (in any case) is in the set seen, else 0 after adding it; -1
 * when out of memory. */
static int ci_seen(json_t *seen, buf_t *tmp, const char *k)
{
    const char *lk = ci_key(tmp, k);
    if (!lk)
        return -1;
    if (json_object_get(seen, lk))
        return 1;
    return json_object_set_new(seen, lk, json_true()) != 0 ? -1 : 0;
}

/* The members of obj by their lower-case key, the first of each; a new
 * object (empty for NULL), or NULL when out of memory. */
static json_t *ci_map(const json_t *obj, buf_t *tmp)
{
    json_t *m = json_object();
    const char *k, *lk;
    json_t *v;
    json_object_foreach((json_t *)obj, k, v) {
        if (!m || !(lk = ci_key(tmp, k)) ||
            (!json_object_get(m, lk) && json_object_set(m, lk, v) != 0)) {
            json_decref(m);
            return NULL;
        }
    }
    return m;
}

/* The properties of a JSON payload (a message, a body) as Metadata
 * members, each followed by a comma, but those whose name seen already has
 * (ignoring case; they are added to it) and those Azure's binding data
 * leaves out; trigger: also the keys ending in Trigger, sys and
 * RetryContext, which the trigger's own entries stand for. */
static int put_props(buf_t *b, json_t *obj, json_t *seen, buf_t *tmp, int trigger)
{
    const char *k;
    json_t *v;
    int rc = 0;
    json_object_foreach(obj, k, v) {
        if (!ch__value_payload_prop(v) ||
            (trigger && (ends_with_trigger(k) || !strcasecmp(k, "sys") ||
                         !strcasecmp(k, "RetryContext"))))
            continue;
        int dup = ci_seen(seen, tmp, k);
        if (dup < 0)
            return -1;
        if (dup)
            continue;
        rc |= put_json_string(b, k, strlen(k));
        rc |= buf_putc(b, ':');
        rc |= ch__value_put_payload_prop(b, v);
        rc |= buf_putc(b, ',');
    }
    return rc;
}

/* A non-HTTP trigger's binding data (queue message properties, blob path
 * captures, ...) as Metadata members, each followed by a comma: all but
 * the keys that end in "Trigger" (the payload again), "sys" (the host's
 * own) and null values, as Azure does, with the properties of a JSON
 * object payload over them; then RetryContext under a retry policy. */
static int put_trigger_metadata(buf_t *b, const invocation_t *inv, const ch_fn_t *cf)
{
    const char *type = inv->fn->trigger ? inv->fn->trigger->type : NULL;
    buf_t tmp;
    buf_init(&tmp, CH_MAX_JSON_BODY);
    json_t *payload = payload_object(inv, cf), *props = ci_map(payload, &tmp),
           *seen = json_object();
    int rc = props && seen ? 0 : -1;
    const char *k;
    json_t *v;
    json_object_foreach(rc ? NULL : inv->binding_data, k, v) {
        int dup = ci_seen(seen, &tmp, k);
        if (dup < 0)
            rc = -1;
        if (dup || ends_with_trigger(k) || !strcasecmp(k, "sys") ||
            !strcasecmp(k, "RetryContext") || json_is_null(v))
            continue;
        const char *lk = ci_key(&tmp, k);
        json_t *pv = lk ? json_object_get(props, lk) : NULL;
        if (pv && !ch__value_payload_prop(pv) && json_equal(pv, v))
            continue; /* a list or null of the payload: not binding data */
        rc |= put_json_string(b, k, strlen(k));
        rc |= buf_putc(b, ':');
        if (pv && ch__value_payload_prop(pv))
            rc |= ch__value_put_payload_prop(b, pv);
        else
            rc |= ch__value_put_meta(b, type, k, v);
        rc |= buf_putc(b, ',');
    }
    if (!rc)
        rc = put_props(b, payload, seen, &tmp, 1);
    json_decref(seen);
    json_decref(props);
    json_decref(payload);
    buf_free(&tmp);
    if (inv->max_retry_count) {
        rc |= buf_printf(b, "\"RetryContext\":{\"RetryCount\":%d,\"MaxRetryCount\":%d,"
                         "\"Exception\":", inv->retry_count, inv->max_retry_count);
        rc |= invocation_put_retry_exception(b, inv, 1);
        rc |= buf_lit(b, "},");
    }
    return rc;
}

/* The properties of a JSON object body (one with a Content-Length) as
 * Metadata members, each followed by a comma, but those of the same name
 * as a query parameter (other than code) or a route parameter, which are
 * over them in Azure's binding data. */
static int put_body_metadata(buf_t *b, const invocation_t *inv, const qv_t *qs, size_t nq)
{
    http_request_t *r = inv->req;
    if (!has_content_length(r) || !r->body.len)
        return 0;
    json_t *body = json_object_text(r->body.p, r->body.len, 1);
    if (!body)
        return 0;
    buf_t tmp;
    buf_init(&tmp, CH_MAX_JSON_BODY);
    json_t *seen = json_object();
    int rc = seen ? 0 : -1;
    static const char *const reserved[] = {"Query", "Headers", "sys"};
    for (size_t i = 0; !rc && i < sizeof reserved / sizeof reserved[0]; i++)
        rc = ci_seen(seen, &tmp, reserved[i]) < 0 ? -1 : 0;
    for (size_t i = 0; !rc && i < nq; i++)
        if (strcasecmp(qs[i].name, "code") != 0)
            rc = ci_seen(seen, &tmp, qs[i].name) < 0 ? -1 : 0;
    for (size_t i = 0; !rc && inv->params && i < inv->params->n; i++) {
        route_param_t *p = &inv->params->v[i];
        char name[ROUTE_MAX_TEMPLATE];
        snprintf(name, sizeof name, "%.*s", (int)p->name.n, p->name.p);
        if (p->value.p)
            rc = ci_seen(seen, &tmp, name) < 0 ? -1 : 0;
    }
    if (!rc)
        rc = put_props(b, body, seen, &tmp, 0);
    json_decref(seen);
    json_decref(body);
    buf_free(&tmp);
    return rc;
}

static int put_metadata(buf_t *b, invocation_t *inv, const ch_fn_t *cf, qv_t *qs, size_t nq)
{
    http_request_t *r = inv->req;
    int rc = buf_lit(b, "\"Metadata\":{");
    if (r) {
        /* Binding data of an HTTP trigger, as Azure's: the properties of
         * a JSON object body (one with a Content-Length), then the query
         * parameters but code, then the route parameters, each over the
         * ones before of the same name in any case; Query and Headers. */
        for (size_t i = 0; inv->params && i < inv->params->n; i++) {
            route_param_t *p = &inv->params->v[i];
            char name[ROUTE_MAX_TEMPLATE];
            snprintf(name, sizeof name, "%.*s", (int)p->name.n, p->name.p);
            if (!p->value.p || is_reserved_key(name))
                continue;
            rc |= put_json_string(b, p->name.p, p->name.n);
            rc |= buf_putc(b, ':');
            rc |= ch__value_put_text(b, p->value.p, p->value.n);
            rc |= buf_putc(b, ',');
        }
        for (size_t i = 0; i < nq; i++) {
            int shadowed = is_reserved_key(qs[i].name) || !strcasecmp(qs[i].name, "code");
            for (size_t k = 0; !shadowed && inv->params && k < inv->params->n; k++)
                shadowed = inv->params->v[k].value.p &&
                           sv_ieq_cstr(inv->params->v[k].name, qs[i].name);
            if (shadowed)
                continue;
            rc |= put_json_string(b, qs[i].name, strlen(qs[i].name));
            rc |= buf_putc(b, ':');
            rc |= ch__value_put_text(b, qs[i].value.p ? qs[i].value.p : "", qs[i].value.len);
            rc |= buf_putc(b, ',');
        }
        rc |= put_body_metadata(b, inv, qs, nq);
        rc |= buf_lit(b, "\"Query\":");
        rc |= put_query(b, qs, nq, 1);
        rc |= buf_lit(b, ",\"Headers\":");
        rc |= put_headers(b, r, 0);
        rc |= buf_putc(b, ',');
    } else {
        if (!inv->binding_data && inv->binding_data_text.n)
            binding_host_data(inv); /* parse the text the trigger gave */
        rc |= put_trigger_metadata(b, inv, cf);
    }
    char now[48], guid[UUID_STR_LEN];
    utc_now(now, sizeof now);
    uuid_generate(guid);
    rc |= buf_lit(b, "\"sys\":{\"MethodName\":");
    rc |= put_json_string(b, inv->fn->name, strlen(inv->fn->name));
    rc |= buf_lit(b, ",\"UtcNow\":\"");
    rc |= buf_puts(b, now);
    rc |= buf_lit(b, "\",\"RandGuid\":\"");
    rc |= buf_puts(b, guid);
    rc |= buf_lit(b, "\"}}");
    return rc ? -1 : 0;
}

/* A non-HTTP trigger's payload: a timer's TimerInfo as the JSON object it
 * is; anything else is text to Azure (a queue message, a blob, even when
 * they hold JSON), or bytes with dataType binary (custom_value.c). */
static int put_trigger_payload(buf_t *b, const invocation_t *inv, const ch_fn_t *cf)
{
    const char *type = inv->fn->trigger ? inv->fn->trigger->type : "";
    if (!strcasecmp(type, "timerTrigger") && inv->trigger_len) {
        json_t *info = json_loadb(inv->trigger_data, inv->trigger_len, 0, NULL);
        if (json_is_object(info)) {
            int rc = put_json(b, info);
            json_decref(info);
            return rc;
        }
        json_decref(info);
    }
    return ch__value_put_bytes(b, inv->trigger_data ? inv->trigger_data : "", inv->trigger_len,
                               cf && cf->binary_body, !strcasecmp(type, "blobTrigger"));
}

int ch__msg_build_json(buf_t *b, const invocation_t *cinv, const ch_fn_t *cf)
{
    invocation_t *inv = (invocation_t *)cinv; /* the lazy query view is filled in */
    qv_t *qs = NULL;
    size_t nq = 0;
    int rc = 0;
    if (inv->req) {
        stratus_req_query(inv, ""); /* decode the query into inv->query */
        qs = inv->nquery ? arena_calloc(inv->arena, inv->nquery * sizeof *qs) : NULL;
        if (inv->nquery && !qs)
            return -1;
        for (size_t i = 0; i < inv->nquery; i++) {
            size_t k = 0;
            while (k < nq && strcasecmp(qs[k].name, inv->query[i].name) != 0)
                k++;
            if (k == nq) {
                qs[nq].name = inv->query[i].name;
                buf_init(&qs[nq].value, CH_MAX_JSON_BODY);
                nq++;
            } else {
                rc |= buf_putc(&qs[k].value, ',');
            }
            rc |= buf_puts(&qs[k].value, inv->query[i].value);
            qs[k].last = inv->query[i].value;
        }
    }
    const char *trigger = inv->fn->trigger ? inv->fn->trigger->name : "req";
    rc |= buf_lit(b, "{\"Data\":{");
    rc |= put_json_string(b, trigger, strlen(trigger));
    rc |= buf_putc(b, ':');
    if (inv->req)
        rc |= put_http_trigger(b, inv, cf, qs, nq);
    else
        rc |= put_trigger_payload(b, inv, cf);
    const char *k;
    json_t *v;
    json_object_foreach(inv->inputs, k, v) {
        rc |= buf_putc(b, ',');
        rc |= put_json_string(b, k, strlen(k));
        rc |= buf_putc(b, ':');
        rc |= put_input(b, inv->fn, k, v);
    }
    rc |= buf_lit(b, "},");
    rc |= put_metadata(b, inv, cf, qs, nq);
    rc |= buf_putc(b, '}');
    for (size_t i = 0; i < nq; i++)
        buf_free(&qs[i].value);
    return rc ? -1 : 0;
}

static void json_release(void *p) { buf_free(p); }

static int data_request(ch_call_t *c, const ch_fn_t *cf, const char *host, char *err,
                        size_t errlen)
{
    invocation_t *inv = c->inv;
    if (!c->json_built) { /* a call sent again keeps its body; the head names the port */
        buf_init(&c->json, CH_MAX_JSON_BODY);
        if (arena_on_cleanup(inv->arena, json_release, &c->json) != 0) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        c->json_built = 1;
        if (ch__msg_build_json(&c->json, inv, cf) != 0) {
            snprintf(err, errlen, "the request is too large to send to the custom handler "
                     "(more than %u MB as JSON)", CH_MAX_JSON_BODY >> 20);
            return -1;
        }
    }
    const char *name = inv->fn->name;
    size_t need = strlen(name) + strlen(host) + 64 + 64 + 48 + UUID_STR_LEN + 160 +
                  TRACE_HEAD_MAX;
    writer_t w = {arena_alloc(inv->arena, need), 0, need};
    if (!w.p) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    W_LIT(&w, "POST /");
    w_put(&w, name, strlen(name));
    W_LIT(&w, " HTTP/1.1\r\nHost: ");
    w_put(&w, host, strlen(host));
    W_LIT(&w, "\r\nContent-Type: application/json\r\nContent-Length: ");
    w_uint(&w, c->json.len);
    W_LIT(&w, "\r\n" INVOCATION_HEADER ": ");
    w_put(&w, inv->id, strlen(inv->id));
    W_LIT(&w, "\r\n" HOST_VERSION_HEADER ": " STRATUS_VERSION
              "\r\nUser-Agent: Azure-Functions-Host/" STRATUS_VERSION "\r\n");
    put_trace(&w, inv);
    W_LIT(&w, "\r\n");
    upstream_call_t *u = &c->up;
    u->head = w.p;
    u->head_len = w.len;
    u->body = c->json.p;
    u->body_len = c->json.len;
    u->no_body = 0;
    u->replayable = 0;
    return 0;
}

int ch__msg_request(ch_call_t *c, const char *host, char *err, size_t errlen)
{
    const ch_fn_t *cf = c->inv->fn->runtime_data;
    if (cf && cf->forward && c->inv->req)
        return forward_request(c, host, err, errlen);
    return data_request(c, cf, host, err, errlen);
}

/* ---- Data/Metadata answer ---- */

/* obj[key], keys matched case-insensitively (as .NET reads JSON); NULL
 * when absent or null. */
static json_t *get_ci(const json_t *obj, const char *key)
{
    const char *k;
    json_t *v;
    if (!json_is_object(obj))
        return NULL;
    json_object_foreach((json_t *)obj, k, v)
        if (!strcasecmp(k, key))
            return json_is_null(v) ? NULL : v;
    return NULL;
}

static void add_header(invocation_t *inv, const char *binding, const char *name, json_t *v)
{
    char num[64];
    const char *text = NULL;
    size_t len = 0;
    if (json_is_string(v)) {
        text = json_string_value(v);
        len = json_string_length(v);
    } else if (json_is_integer(v)) {
        snprintf(num, sizeof num, "%lld", (long long)json_integer_value(v));
        text = num;
    } else if (json_is_real(v)) {
        snprintf(num, sizeof num, "%.17g", json_real_value(v));
        text = num;
    } else if (json_is_boolean(v)) {
        text = json_is_true(v) ? "true" : "false";
    } else if (json_is_array(v)) {
        size_t i;
        json_t *item;
        json_array_foreach(v, i, item)
            if (!json_is_array(item))
                add_header(inv, binding, name, item);
        return;
    }
    if (!text) {
        if (!json_is_null(v))
            log_write(LOG_WARN, "Host.CustomHandler", inv->id,
                      "Function '%s': http output '%s': header '%.100s' dropped (its value is "
                      "%s, not a string, number or boolean)", inv->fn->name, binding, name,
                      json_is_object(v) ? "an object" : "not text");
        return;
    }
    if (!len)
        len = strlen(text);
    if (!invocation_header_ok(sv_cstr(name), sv_make(text, len))) {
        log_write(LOG_WARN, "Host.CustomHandler", inv->id, "Function '%s': http output '%s': "
                  "header '%.100s' dropped (a name that is not a token, or control characters)",
                  inv->fn->name, binding, name);
        return;
    }
    invocation_add_header(inv, sv_cstr(name), sv_make(text, len));
}

static int has_header(const invocation_t *inv, const char *name)
{
    for (size_t i = 0; i < inv->nres_headers; i++)
        if (sv_ieq_cstr(inv->res_headers[i].name, name))
            return 1;
    return 0;
}

/* Set the body from a JSON value: a string as it is, anything else as JSON. */
static int set_body(invocation_t *inv, json_t *body, char *err, size_t errlen)
{
    const char *ctype = "text/plain; charset=utf-8";
    int rc;
    if (!body) {
        return 1;
    } else if (json_is_string(body)) {
        rc = buf_append(&inv->res_body, json_string_value(body), json_string_length(body));
    } else {
        char *text = json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY);
        rc = text ? buf_puts(&inv->res_body, text) : -1;
        free(text);
        ctype = "application/json; charset=utf-8";
    }
    if (rc != 0) {
        snprintf(err, errlen, "the response body is too large");
        return 0;
    }
    if (inv->res_body.len && !has_header(inv, "Content-Type"))
        invocation_add_header(inv, SV_LIT("Content-Type"), sv_cstr(ctype));
    return 1;
}

/* 1 when obj has the member key (any case), even with a null value. */
static int has_key_ci(const json_t *obj, const char *key)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)obj, k, v)
        if (!strcasecmp(k, key))
            return 1;
    return 0;
}

/* 1 when an http output's statusCode is a string of nothing but spaces (a
 * Go handler's unset string field), which Azure answers with 200. */
static int status_unset(const json_t *status)
{
    if (!json_is_string(status))
        return 0;
    for (const char *s = json_string_value(status); *s; s++)
        if (*s != ' ')
            return 0;
    return 1;
}

/* 1 when v is an object with a member of an http response (any case). */
static int is_http_object(const json_t *v)
{
    return json_is_object(v) && (has_key_ci(v, "statusCode") || has_key_ci(v, "status") ||
                                 has_key_ci(v, "headers") || has_key_ci(v, "body") ||
                                 has_key_ci(v, "cookies"));
}

static int apply_http_value(invocation_t *inv, const char *binding, json_t *v, char *err,
                            size_t errlen)
{
    json_t *status = get_ci(v, "statusCode"), *headers = get_ci(v, "headers"),
           *body = get_ci(v, "body");
    if (!status || status_unset(status))
        status = get_ci(v, "status") ? get_ci(v, "status") : status;
    if (!is_http_object(v))
        return set_body(inv, v, err, errlen); /* a plain value is the body */
    if (status && status_unset(status))
        status = NULL; /* 200, as Azure answers an empty statusCode */
    if (status) {
        long long code = 0;
        int ok = 0;
        if (json_is_integer(status)) {
            code = json_integer_value(status);
            ok = 1;
        } else if (json_is_real(status) && json_real_value(status) >= 0 &&
                   json_real_value(status) < 1000 &&
                   json_real_value(status) == (double)(long long)json_real_value(status)) {
            code = (long long)json_real_value(status); /* 201.0 is the number 201 */
            ok = 1;
        } else if (json_is_string(status)) {
            const char *s = json_string_value(status);
            char *end;
            while (*s == ' ')
                s++;
            code = strtoll(s, &end, 10);
            while (*end == ' ')
                end++;
            ok = end != s && !*end;
        }
        /* 1xx is not a final answer: refused, as the Node.js and Python
         * workers refuse it, rather than turned into a silent 500. */
        if (!ok || code < 200 || code > 599) {
            char shown[64];
            if (json_is_string(status))
                snprintf(shown, sizeof shown, "'%.40s'", json_string_value(status));
            else if (json_is_integer(status))
                snprintf(shown, sizeof shown, "%lld", code);
            else if (json_is_real(status))
                snprintf(shown, sizeof shown, "%g", json_real_value(status));
            else
                snprintf(shown, sizeof shown, "%s", json_is_object(status) ? "an object"
                         : json_is_array(status) ? "an array" : json_is_boolean(status)
                         ? (json_is_true(status) ? "true" : "false") : "null");
            snprintf(err, errlen, "http output '%s': statusCode %s is not an HTTP status (200 "
                     "to 599)", binding, shown);
            return 0;
        }
        inv->status = (int)code;
    }
    if (headers) {
        const char *k;
        json_t *hv;
        if (!json_is_object(headers)) {
            snprintf(err, errlen, "http output '%s': headers must be an object", binding);
            return 0;
        }
        json_object_foreach(headers, k, hv)
            add_header(inv, binding, k, hv);
    }
    return set_body(inv, body, err, errlen);
}

/* An http output (or $return) value v applied to the response. A string
 * that holds such an object in JSON is that object, as Azure's host reads
 * the value's text as JSON: a handler may send its response serialized. */
static int apply_http(invocation_t *inv, const char *binding, json_t *v, char *err,
                      size_t errlen)
{
    json_t *parsed = json_is_string(v) ? jt_loadb(json_string_value(v), json_string_length(v),
                                                  0, NULL)
                                       : NULL;
    int ok = apply_http_value(inv, binding, is_http_object(parsed) ? parsed : v, err, errlen);
    json_decref(parsed);
    return ok;
}

/* The values of the output bindings other than http into inv->outputs:
 * Outputs by binding name (matched case-insensitively), ReturnValue for a
 * $return binding, each as ch__value_output reads it. 0, or -1 out of
 * memory. */
static int collect_outputs(invocation_t *inv, json_t *outputs, json_t *ret)
{
    const function_t *fn = inv->fn;
    for (size_t i = 0; i < fn->nbindings; i++) {
        const binding_t *bd = &fn->bindings[i];
        if (!(bd->direction & BINDING_OUT) || !strcasecmp(bd->type, "http"))
            continue;
        json_t *v = strcmp(bd->name, "$return") == 0 ? ret : get_ci(outputs, bd->name);
        if (!v)
            continue;
        if (!inv->outputs && !(inv->outputs = json_object()))
            return -1;
        int binary = bd->data_type && !strcasecmp(bd->data_type, "binary");
        if (json_object_set_new(inv->outputs, bd->name, ch__value_output(v, binary)) != 0)
            return -1;
    }
    return 0;
}

int ch__msg_apply_answer(invocation_t *inv, const ch_fn_t *cf, const char *body, size_t len,
                         char *err, size_t errlen)
{
    json_error_t je;
    json_t *root = len ? jt_loadb(body, len, JSON_DECODE_ANY, &je) : NULL;
    if (!root || !json_is_object(root)) {
        char shown[80];
        size_t n = len > 60 ? 60 : len, o = 0;
        for (size_t i = 0; i < n && o + 1 < sizeof shown; i++)
            shown[o++] = (unsigned char)body[i] < 0x20 ? ' ' : body[i];
        shown[o] = '\0';
        if (!len)
            snprintf(err, errlen, "the custom handler's answer is empty (expected JSON "
                     "{\"Outputs\": ..., \"Logs\": ..., \"ReturnValue\": ...})");
        else if (!root)
            snprintf(err, errlen, "the custom handler's answer is not JSON (%s at %d:%d): "
                     "'%s%s'", je.text, je.line, je.column, shown, len > n ? "..." : "");
        else
            snprintf(err, errlen, "the custom handler's answer is not a JSON object: '%s%s'",
                     shown, len > n ? "..." : "");
        json_decref(root);
        return 0;
    }
    char category[200];
    snprintf(category, sizeof category, "Function.%s", inv->fn->name);
    json_t *logs = get_ci(root, "Logs"), *line;
    size_t i;
    if (logs && !json_is_array(logs))
        log_write(LOG_WARN, "Host.CustomHandler", inv->id,
                  "Function '%s': the handler's \"Logs\" is not a list of lines; ignored",
                  inv->fn->name);
    json_array_foreach(logs, i, line) {
        if (json_is_string(line)) {
            log_write(LOG_INFO, category, inv->id, "%s", json_string_value(line));
        } else {
            char *text = json_dumps(line, JSON_COMPACT | JSON_ENCODE_ANY);
            if (text)
                log_write(LOG_INFO, category, inv->id, "%s", text);
            free(text);
        }
    }
    json_t *outputs = get_ci(root, "Outputs");
    int ok = 1;
    if (outputs && !json_is_object(outputs)) {
        snprintf(err, errlen, "the custom handler's answer has \"Outputs\" that is not an object");
        ok = 0;
    } else if (collect_outputs(inv, outputs, get_ci(root, "ReturnValue")) != 0) {
        snprintf(err, errlen, "out of memory");
        ok = 0;
    } else if (cf) {
        /* The named http output when the handler set it, else $return. */
        json_t *v = cf->http_out ? get_ci(outputs, cf->http_out) : NULL;
        const char *name = cf->http_out;
        if (!v && cf->http_return) {
            v = get_ci(root, "ReturnValue");
            name = "$return";
        }
        if (v)
            ok = apply_http(inv, name, v, err, errlen);
    }
    json_decref(root);
    return ok;
}

int ch__msg_response(ch_call_t *c, respparser_t *resp, char *err, size_t errlen)
{
    invocation_t *inv = c->inv;
    const ch_fn_t *cf = inv->fn->runtime_data;
    if (cf && cf->forward && inv->req)
        return forward_response(c, resp, err, errlen);
    int status = respparser_status(resp);
    size_t len;
    const char *body = respparser_body(resp, &len);
    if (status < 200 || status > 299) {
        char shown[160];
        size_t n = len > 120 ? 120 : len, o = 0;
        for (size_t i = 0; i < n && o + 1 < sizeof shown; i++)
            shown[o++] = (unsigned char)body[i] < 0x20 ? ' ' : body[i];
        shown[o] = '\0';
        snprintf(err, errlen, "the custom handler answered %d %s to POST /%s%s%s%s", status,
                 respparser_reason(resp), inv->fn->name, len ? ": '" : "", shown,
                 len ? (len > n ? "...'" : "'") : "");
        return 0;
    }
    return ch__msg_apply_answer(inv, cf, body, len, err, errlen);
}
