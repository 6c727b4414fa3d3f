/*
 * lambda_event.c -- the API Gateway proxy event and result, and runtime
 * error documents (see lambda_event.h).
 *
 * The event is written by hand into a bounded buffer (one per invocation,
 * on the request path); the result and error documents, which come from
 * user code, are parsed with jansson and checked field by field.
 */
#include "lambda_event.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "stratus.h"
#include "../util/codec.h"
#include "../util/jsontok.h"

#define MALFORMED "Malformed Lambda proxy response: "

/* ---- UTF-8 and JSON strings ---- */

/* Append a JSON string (quoted); bytes that are not UTF-8 become U+FFFD,
 * so the event is always valid JSON. */
static int jstr(buf_t *b, const char *p, size_t n)
{
    const unsigned char *s = (const unsigned char *)p;
    int rc = buf_putc(b, '"');
    size_t start = 0, i = 0;
    while (i < n && rc == 0) {
        if (s[i] < 0x80) {
            i++;
            continue;
        }
        size_t k = utf8_char_len(s + i, n - i);
        if (k) {
            i += k;
            continue;
        }
        rc |= buf_json_escape(b, p + start, i - start);
        rc |= buf_lit(b, "\\ufffd");
        start = ++i;
    }
    rc |= buf_json_escape(b, p + start, n - start);
    rc |= buf_putc(b, '"');
    return rc ? -1 : 0;
}

static int jstr_c(buf_t *b, const char *s) { return jstr(b, s, strlen(s)); }

/* ---- the event ---- */

/* "/api/items/{id}" from "items/{id:int?}" behind prefix "api", as a
 * JSON string that starts with `before`; a catch-all "{*rest}" becomes API
 * Gateway's greedy "{rest+}". */
static int put_resource(buf_t *b, const char *before, const char *prefix, const char *route)
{
    buf_t r;
    buf_init(&r, ROUTE_MAX_TEMPLATE * 2);
    int rc = buf_puts(&r, before);
    size_t root = r.len;
    if (*prefix) {
        rc |= buf_putc(&r, '/');
        rc |= buf_puts(&r, prefix);
    }
    while (*route == '/')
        route++;
    rc |= buf_putc(&r, '/');
    for (const char *p = route; *p && rc == 0; p++) {
        if (*p != '{') {
            rc |= buf_putc(&r, *p);
            continue;
        }
        const char *end = strchr(p, '}');
        if (!end) {
            rc |= buf_puts(&r, p);
            break;
        }
        const char *name = p + 1;
        int greedy = *name == '*';
        if (greedy)
            name++;
        size_t len = strcspn(name, ":?}");
        rc |= buf_putc(&r, '{');
        rc |= buf_append(&r, name, len);
        if (greedy)
            rc |= buf_putc(&r, '+');
        rc |= buf_putc(&r, '}');
        p = end;
    }
    if (r.len > root + 1 && r.p[r.len - 1] == '/')
        r.len--;
    rc |= rc ? -1 : jstr(b, r.p, r.len);
    buf_free(&r);
    return rc ? -1 : 0;
}

/* The headers API Gateway adds for the function (it is the proxy in
 * front of it): the client's address appended to X-Forwarded-For, and
 * X-Forwarded-Proto and X-Forwarded-Port, which a proxy in front of
 * Stratus (one that terminates TLS) may already have set; Stratus itself
 * serves plain HTTP. */
enum { FWD_FOR, FWD_PROTO, FWD_PORT, FWD_N };
static const char *const fwd_names[FWD_N] = {"X-Forwarded-For", "X-Forwarded-Proto",
                                             "X-Forwarded-Port"};

static int fwd_index(sv_t name)
{
    for (int i = 0; i < FWD_N; i++)
        if (sv_ieq_cstr(name, fwd_names[i]))
            return i;
    return -1;
}

/* The value API Gateway would give for a forwarded header the request
 * lacks. */
static int put_fwd_value(buf_t *b, const http_request_t *r, int which)
{
    char port[16];
    switch (which) {
    case FWD_FOR: return jstr_c(b, r->remote_addr);
    case FWD_PROTO: return buf_lit(b, "\"http\"");
    default:
        snprintf(port, sizeof port, "%d", r->local_port > 0 ? r->local_port : 80);
        return jstr_c(b, port);
    }
}

/* One header value; the last X-Forwarded-For value gets the client's
 * address appended, as a proxy does. */
static int put_header_value(buf_t *b, const http_request_t *r, size_t k, int append_client)
{
    sv_t v = r->headers[k].value;
    if (!append_client)
        return jstr(b, v.p, v.n);
    buf_t t;
    buf_init(&t, v.n + sizeof r->remote_addr + 2);
    int rc = buf_append(&t, v.p, v.n);
    rc |= v.n ? buf_lit(&t, ", ") : 0;
    rc |= buf_puts(&t, r->remote_addr);
    rc |= rc ? -1 : jstr(b, t.p, t.len);
    buf_free(&t);
    return rc ? -1 : 0;
}

/* headers (the last value of each name) and multiValueHeaders (all of
 * them), names grouped case-insensitively under their first spelling,
 * with the X-Forwarded-* headers a proxy adds. */
static int put_headers(buf_t *b, const http_request_t *r)
{
    int rc = buf_lit(b, ",\"headers\":{");
    for (int pass = 0; pass < 2 && rc == 0; pass++) {
        if (pass == 1)
            rc |= buf_lit(b, "},\"multiValueHeaders\":{");
        int first = 1, seen[FWD_N] = {0};
        for (size_t i = 0; i < r->nheaders && rc == 0; i++) {
            sv_t name = r->headers[i].name;
            size_t j = 0;
            while (j < i && !sv_ieq(r->headers[j].name, name))
                j++;
            if (j < i)
                continue; /* grouped under an earlier spelling */
            int fwd = fwd_index(name);
            if (fwd >= 0)
                seen[fwd] = 1;
            rc |= first ? 0 : buf_putc(b, ',');
            first = 0;
            rc |= jstr(b, name.p, name.n);
            rc |= buf_puts(b, pass ? ":[" : ":");
            size_t last = i;
            for (size_t k = i + 1; k < r->nheaders; k++)
                if (sv_ieq(r->headers[k].name, name))
                    last = k;
            int firstv = 1;
            for (size_t k = i; pass && k <= last && rc == 0; k++) {
                if (!sv_ieq(r->headers[k].name, name))
                    continue;
                rc |= firstv ? 0 : buf_putc(b, ',');
                firstv = 0;
                rc |= put_header_value(b, r, k, fwd == FWD_FOR && k == last);
            }
            if (pass)
                rc |= buf_putc(b, ']');
            else
                rc |= put_header_value(b, r, last, fwd == FWD_FOR);
        }
        for (int f = 0; f < FWD_N && rc == 0; f++) {
            if (seen[f])
                continue;
            rc |= first ? 0 : buf_putc(b, ',');
            first = 0;
            rc |= jstr_c(b, fwd_names[f]);
            rc |= buf_puts(b, pass ? ":[" : ":");
            rc |= put_fwd_value(b, r, f);
            rc |= pass ? buf_putc(b, ']') : 0;
        }
    }
    rc |= buf_putc(b, '}');
    return rc ? -1 : 0;
}

/* queryStringParameters (last value) and multiValueQueryStringParameters
 * (all), decoded, or null for both when the request has no parameters. */
static int put_query(buf_t *b, invocation_t *inv)
{
    stratus_req_query(inv, ""); /* parses the query into inv->query */
    if (!inv->nquery)
        return buf_lit(b, ",\"queryStringParameters\":null,"
                          "\"multiValueQueryStringParameters\":null");
    int rc = buf_lit(b, ",\"queryStringParameters\":{");
    for (int pass = 0; pass < 2 && rc == 0; pass++) {
        if (pass == 1)
            rc |= buf_lit(b, "},\"multiValueQueryStringParameters\":{");
        int first = 1;
        for (size_t i = 0; i < inv->nquery && rc == 0; i++) {
            const char *name = inv->query[i].name;
            size_t j = 0;
            while (j < i && strcmp(inv->query[j].name, name) != 0)
                j++;
            if (j < i)
                continue;
            rc |= first ? 0 : buf_putc(b, ',');
            first = 0;
            rc |= jstr_c(b, name);
            rc |= buf_puts(b, pass ? ":[" : ":");
            int firstv = 1;
            size_t last = i;
            for (size_t k = i; k < inv->nquery && rc == 0; k++) {
                if (strcmp(inv->query[k].name, name) != 0)
                    continue;
                last = k;
                if (pass) {
                    rc |= firstv ? 0 : buf_putc(b, ',');
                    firstv = 0;
                    rc |= jstr_c(b, inv->query[k].value);
                }
            }
            if (pass)
                rc |= buf_putc(b, ']');
            else
                rc |= jstr_c(b, inv->query[last].value);
        }
    }
    rc |= buf_putc(b, '}');
    return rc ? -1 : 0;
}

static int has_path_params(const invocation_t *inv)
{
    for (size_t i = 0; inv->params && i < inv->params->n; i++)
        if (inv->params->v[i].value.p)
            return 1;
    return 0;
}

/* pathParameters: as sent (still percent-encoded) when as_sent, as REST
 * APIs pass them, else decoded, as HTTP APIs do; a parameter that is part
 * of a segment ("{file}.{ext}", which API Gateway has not) is decoded. */
static int put_path_params(buf_t *b, const invocation_t *inv, int as_sent)
{
    int rc = buf_lit(b, ",\"pathParameters\":");
    int first = 1;
    for (size_t i = 0; inv->params && i < inv->params->n && rc == 0; i++) {
        const route_param_t *p = &inv->params->v[i];
        if (!p->value.p)
            continue; /* an optional parameter that is absent */
        rc |= buf_putc(b, first ? '{' : ',');
        first = 0;
        rc |= jstr(b, p->name.p, p->name.n);
        rc |= buf_putc(b, ':');
        sv_t v = as_sent && p->raw.p ? p->raw : p->value;
        rc |= jstr(b, v.p, v.n);
    }
    rc |= first ? buf_lit(b, "null") : buf_putc(b, '}');
    return rc ? -1 : 0;
}

/* Content types whose bodies API Gateway passes as text. */
static int textual(sv_t ct)
{
    static const char *const exact[] = {"application/json", "application/xml",
                                        "application/javascript", "application/ecmascript",
                                        "application/x-www-form-urlencoded", "application/graphql",
                                        "application/x-yaml", "application/yaml",
                                        "application/x-ndjson", "application/ld+json", NULL};
    size_t n = 0;
    while (n < ct.n && ct.p[n] != ';' && ct.p[n] != ' ')
        n++;
    sv_t type = sv_make(ct.p, n);
    if (sv_istarts(type, SV_LIT("text/")))
        return 1;
    for (size_t i = 0; exact[i]; i++)
        if (sv_ieq_cstr(type, exact[i]))
            return 1;
    return (n > 5 && strncasecmp(type.p + n - 5, "+json", 5) == 0) ||
           (n > 4 && strncasecmp(type.p + n - 4, "+xml", 4) == 0);
}

static int put_body(buf_t *b, const invocation_t *inv)
{
    const http_request_t *r = inv->req;
    size_t n = inv->trigger_len;
    if (!n)
        return buf_lit(b, ",\"body\":null,\"isBase64Encoded\":false");
    sv_t ct = http_request_header(r, "Content-Type");
    if ((!ct.p || textual(ct)) && utf8_valid(inv->trigger_data, n)) {
        int rc = buf_lit(b, ",\"body\":");
        rc |= jstr(b, inv->trigger_data, n);
        rc |= buf_lit(b, ",\"isBase64Encoded\":false");
        return rc ? -1 : 0;
    }
    if (n > (size_t)1 << 30 || buf_lit(b, ",\"body\":\"") != 0 ||
        base64_encode(b, inv->trigger_data, n) != 0)
        return -1;
    return buf_lit(b, "\",\"isBase64Encoded\":true");
}

static int put_context(buf_t *b, const invocation_t *inv, const char *resource_json,
                       size_t resource_len, const char *path, uint64_t now_ms)
{
    const http_request_t *r = inv->req;
    char when[64];
    time_t secs = (time_t)(now_ms / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    strftime(when, sizeof when, "%d/%b/%Y:%H:%M:%S +0000", &tm);
    sv_t host = http_request_header(r, "Host");
    sv_t ua = http_request_header(r, "User-Agent");
    size_t hostlen = 0;
    while (host.p && hostlen < host.n && host.p[hostlen] != ':')
        hostlen++;
    size_t prefixlen = 0;
    while (prefixlen < hostlen && host.p[prefixlen] != '.')
        prefixlen++;
    char proto[16];
    snprintf(proto, sizeof proto, "HTTP/%d.%d", r->http_major, r->http_minor);

    int rc = buf_lit(b, ",\"requestContext\":{\"resourceId\":\"stratus\",\"resourcePath\":");
    rc |= buf_append(b, resource_json, resource_len);
    rc |= buf_lit(b, ",\"httpMethod\":");
    rc |= jstr_c(b, r->method_name);
    rc |= buf_lit(b, ",\"extendedRequestId\":");
    rc |= jstr_c(b, inv->id);
    rc |= buf_lit(b, ",\"requestTime\":");
    rc |= jstr_c(b, when);
    rc |= buf_lit(b, ",\"path\":");
    rc |= jstr_c(b, path);
    rc |= buf_lit(b, ",\"accountId\":\"" LAMBDA_ACCOUNT_ID "\",\"protocol\":");
    rc |= jstr_c(b, proto);
    rc |= buf_lit(b, ",\"stage\":\"" LAMBDA_STAGE "\",\"domainPrefix\":");
    rc |= jstr(b, host.p ? host.p : "", prefixlen);
    rc |= buf_lit(b, ",\"requestTimeEpoch\":");
    rc |= buf_put_uint(b, now_ms);
    rc |= buf_lit(b, ",\"requestId\":");
    rc |= jstr_c(b, inv->id);
    rc |= buf_lit(b, ",\"identity\":{\"cognitoIdentityPoolId\":null,\"accountId\":null,"
                     "\"cognitoIdentityId\":null,\"caller\":null,\"sourceIp\":");
    rc |= jstr_c(b, r->remote_addr);
    rc |= buf_lit(b, ",\"principalOrgId\":null,\"accessKey\":null,"
                     "\"cognitoAuthenticationType\":null,\"cognitoAuthenticationProvider\":null,"
                     "\"userArn\":null,\"userAgent\":");
    if (ua.p)
        rc |= jstr(b, ua.p, ua.n);
    else
        rc |= buf_lit(b, "null");
    rc |= buf_lit(b, ",\"user\":null,\"apiKey\":null,\"apiKeyId\":null,\"clientCert\":null},"
                     "\"domainName\":");
    rc |= jstr(b, host.p ? host.p : "", hostlen);
    rc |= buf_lit(b, ",\"apiId\":\"stratus\"}");
    return rc ? -1 : 0;
}

/* A copy of len bytes written at offset at of b (a later write may move
 * them); NULL when out of memory. */
static char *copy_out(const buf_t *b, size_t at, size_t len)
{
    char *c = malloc(len ? len : 1);
    if (c)
        memcpy(c, b->p + at, len);
    return c;
}

/* The end of an event written from offset start: 0, or -1 with it taken
 * back when rc says a part failed. */
static int event_end(buf_t *out, size_t start, int rc)
{
    if (!rc)
        return 0;
    out->len = start;
    if (out->p)
        out->p[start] = '\0';
    return -1;
}

int lambda_event_http(buf_t *out, invocation_t *inv, const char *prefix, const char *route,
                      uint64_t now_ms)
{
    const http_request_t *r = inv->req;
    if (!r)
        return lambda_event_raw(out, inv);
    /* As REST APIs deliver it: still percent-encoded (a decoded '?' or '#'
     * would break the adapters that rebuild a URL from it), and so are the
     * path parameters (an adapter may build the URL from {proxy+}). */
    char *path = strndup(r->path.p ? r->path.p : "", r->path.n);
    if (!path)
        return -1;
    size_t start = out->len;
    int rc = buf_lit(out, "{\"resource\":");
    size_t res_at = out->len;
    rc |= put_resource(out, "", prefix ? prefix : "", route ? route : "");
    size_t res_len = out->len - res_at;
    rc |= buf_lit(out, ",\"path\":");
    rc |= jstr_c(out, path);
    rc |= buf_lit(out, ",\"httpMethod\":");
    rc |= jstr_c(out, r->method_name);
    rc |= rc ? -1 : put_headers(out, r);
    rc |= rc ? -1 : put_query(out, inv);
    rc |= rc ? -1 : put_path_params(out, inv, 1);
    rc |= buf_lit(out, ",\"stageVariables\":null");
    if (rc == 0) {
        /* The resource is copied into the context from where it was
         * written (the buffer may move meanwhile, so by offset). */
        char *res = copy_out(out, res_at, res_len);
        rc |= res ? put_context(out, inv, res, res_len, path, now_ms) : -1;
        free(res);
    }
    free(path);
    rc |= rc ? -1 : put_body(out, inv);
    rc |= buf_putc(out, '}');
    return event_end(out, start, rc);
}

/* ---- the HTTP API event (payload format 2.0) ---- */

/* A header name in lower case, as HTTP APIs deliver them. */
static int jstr_lower(buf_t *b, sv_t name)
{
    char small[128];
    if (name.n > sizeof small)
        return jstr(b, name.p, name.n); /* no real header name is this long */
    for (size_t i = 0; i < name.n; i++)
        small[i] = (char)(name.p[i] >= 'A' && name.p[i] <= 'Z' ? name.p[i] | 0x20 : name.p[i]);
    return jstr(b, small, name.n);
}

/* The cookies of the request's Cookie headers, one string each, without
 * the spaces around them; nothing when there are none. */
static int put_cookies_v2(buf_t *b, const http_request_t *r)
{
    int rc = 0, first = 1;
    for (size_t i = 0; i < r->nheaders && rc == 0; i++) {
        if (!sv_ieq_cstr(r->headers[i].name, "Cookie"))
            continue;
        sv_t v = r->headers[i].value;
        for (size_t at = 0; at < v.n && rc == 0;) {
            size_t end = at;
            while (end < v.n && v.p[end] != ';')
                end++;
            size_t s = at, e = end;
            while (s < e && (v.p[s] == ' ' || v.p[s] == '\t'))
                s++;
            while (e > s && (v.p[e - 1] == ' ' || v.p[e - 1] == '\t'))
                e--;
            if (e > s) {
                rc |= first ? buf_lit(b, ",\"cookies\":[") : buf_putc(b, ',');
                first = 0;
                rc |= jstr(b, v.p + s, e - s);
            }
            at = end + 1;
        }
    }
    if (!first)
        rc |= buf_putc(b, ']');
    return rc ? -1 : 0;
}

/* headers: names in lower case, the values of a repeated one joined with
 * commas, without Cookie (that is `cookies`), with the X-Forwarded-*
 * headers a proxy adds. */
static int put_headers_v2(buf_t *b, const http_request_t *r)
{
    int rc = buf_lit(b, ",\"headers\":{");
    int first = 1, seen[FWD_N] = {0};
    for (size_t i = 0; i < r->nheaders && rc == 0; i++) {
        sv_t name = r->headers[i].name;
        size_t j = 0;
        while (j < i && !sv_ieq(r->headers[j].name, name))
            j++;
        if (j < i || sv_ieq_cstr(name, "Cookie"))
            continue;
        int fwd = fwd_index(name);
        if (fwd >= 0)
            seen[fwd] = 1;
        size_t last = i;
        for (size_t k = i + 1; k < r->nheaders; k++)
            if (sv_ieq(r->headers[k].name, name))
                last = k;
        rc |= first ? 0 : buf_putc(b, ',');
        first = 0;
        rc |= jstr_lower(b, name);
        rc |= buf_putc(b, ':');
        if (last == i && fwd != FWD_FOR) {
            rc |= jstr(b, r->headers[i].value.p, r->headers[i].value.n);
            continue;
        }
        buf_t joined;
        buf_init(&joined, LAMBDA_MAX_PAYLOAD);
        for (size_t k = i; k <= last && rc == 0; k++) {
            if (!sv_ieq(r->headers[k].name, name))
                continue;
            rc |= k == i ? 0 : buf_putc(&joined, ',');
            rc |= buf_append(&joined, r->headers[k].value.p, r->headers[k].value.n);
        }
        if (fwd == FWD_FOR) {
            rc |= joined.len ? buf_lit(&joined, ", ") : 0;
            rc |= buf_puts(&joined, r->remote_addr);
        }
        rc |= rc ? -1 : jstr(b, joined.p ? joined.p : "", joined.len);
        buf_free(&joined);
    }
    for (int f = 0; f < FWD_N && rc == 0; f++) {
        if (seen[f])
            continue;
        rc |= first ? 0 : buf_putc(b, ',');
        first = 0;
        rc |= jstr_lower(b, sv_cstr(fwd_names[f]));
        rc |= buf_putc(b, ':');
        rc |= put_fwd_value(b, r, f);
    }
    rc |= buf_putc(b, '}');
    return rc ? -1 : 0;
}

/* rawQueryString (as sent) and queryStringParameters (decoded, the values
 * of a repeated one joined with commas; left out without a query). */
static int put_query_v2(buf_t *b, invocation_t *inv)
{
    const http_request_t *r = inv->req;
    int rc = buf_lit(b, ",\"rawQueryString\":");
    rc |= jstr(b, r->query.p ? r->query.p : "", r->query.n);
    stratus_req_query(inv, ""); /* parses the query into inv->query */
    if (!inv->nquery || rc)
        return rc ? -1 : 0;
    rc |= buf_lit(b, ",\"queryStringParameters\":{");
    for (size_t i = 0; i < inv->nquery && rc == 0; i++) {
        const char *name = inv->query[i].name;
        size_t j = 0;
        while (j < i && strcmp(inv->query[j].name, name) != 0)
            j++;
        if (j < i)
            continue;
        rc |= i ? buf_putc(b, ',') : 0;
        rc |= jstr_c(b, name);
        rc |= buf_putc(b, ':');
        buf_t joined;
        buf_init(&joined, LAMBDA_MAX_PAYLOAD);
        for (size_t k = i; k < inv->nquery && rc == 0; k++) {
            if (strcmp(inv->query[k].name, name) != 0)
                continue;
            rc |= k == i ? 0 : buf_putc(&joined, ',');
            rc |= buf_puts(&joined, inv->query[k].value);
        }
        rc |= rc ? -1 : jstr(b, joined.p ? joined.p : "", joined.len);
        buf_free(&joined);
    }
    rc |= buf_putc(b, '}');
    return rc ? -1 : 0;
}

static int put_context_v2(buf_t *b, const invocation_t *inv, const char *route_key,
                          size_t route_key_len, const char *path, uint64_t now_ms)
{
    const http_request_t *r = inv->req;
    char when[64], proto[16];
    time_t secs = (time_t)(now_ms / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    strftime(when, sizeof when, "%d/%b/%Y:%H:%M:%S +0000", &tm);
    snprintf(proto, sizeof proto, "HTTP/%d.%d", r->http_major, r->http_minor);
    sv_t host = http_request_header(r, "Host");
    sv_t ua = http_request_header(r, "User-Agent");
    size_t hostlen = 0, prefixlen = 0;
    while (host.p && hostlen < host.n && host.p[hostlen] != ':')
        hostlen++;
    while (prefixlen < hostlen && host.p[prefixlen] != '.')
        prefixlen++;

    int rc = buf_lit(b, ",\"requestContext\":{\"accountId\":\"" LAMBDA_ACCOUNT_ID "\","
                        "\"apiId\":\"stratus\",\"domainName\":");
    rc |= jstr(b, host.p ? host.p : "", hostlen);
    rc |= buf_lit(b, ",\"domainPrefix\":");
    rc |= jstr(b, host.p ? host.p : "", prefixlen);
    rc |= buf_lit(b, ",\"http\":{\"method\":");
    rc |= jstr_c(b, r->method_name);
    rc |= buf_lit(b, ",\"path\":");
    rc |= jstr_c(b, path);
    rc |= buf_lit(b, ",\"protocol\":");
    rc |= jstr_c(b, proto);
    rc |= buf_lit(b, ",\"sourceIp\":");
    rc |= jstr_c(b, r->remote_addr);
    rc |= buf_lit(b, ",\"userAgent\":");
    rc |= jstr(b, ua.p ? ua.p : "", ua.n);
    rc |= buf_lit(b, "},\"requestId\":");
    rc |= jstr_c(b, inv->id);
    rc |= buf_lit(b, ",\"routeKey\":");
    rc |= buf_append(b, route_key, route_key_len);
    rc |= buf_lit(b, ",\"stage\":\"" LAMBDA_STAGE "\",\"time\":");
    rc |= jstr_c(b, when);
    rc |= buf_lit(b, ",\"timeEpoch\":");
    rc |= buf_put_uint(b, now_ms);
    rc |= buf_putc(b, '}');
    return rc ? -1 : 0;
}

int lambda_event_http_v2(buf_t *out, invocation_t *inv, const char *prefix, const char *route,
                         uint64_t now_ms)
{
    const http_request_t *r = inv->req;
    if (!r)
        return lambda_event_raw(out, inv);
    char *path = strndup(r->path.p ? r->path.p : "", r->path.n);
    if (!path)
        return -1;
    size_t start = out->len;
    int rc = buf_lit(out, "{\"version\":\"2.0\",\"routeKey\":");
    /* "ANY /api/items/{id}", as an HTTP API route key names the route;
     * copied into the context by offset (the buffer may move). */
    size_t key_at = out->len;
    rc |= put_resource(out, "ANY ", prefix ? prefix : "", route ? route : "");
    size_t key_len = out->len - key_at;
    rc |= buf_lit(out, ",\"rawPath\":");
    rc |= jstr_c(out, path);
    rc |= rc ? -1 : put_query_v2(out, inv);
    rc |= rc ? -1 : put_cookies_v2(out, r);
    rc |= rc ? -1 : put_headers_v2(out, r);
    if (rc == 0 && has_path_params(inv))
        rc |= put_path_params(out, inv, 0); /* left out when none, as HTTP APIs do */
    if (rc == 0) {
        char *key = copy_out(out, key_at, key_len);
        rc |= key ? put_context_v2(out, inv, key, key_len, path, now_ms) : -1;
        free(key);
    }
    free(path);
    /* No body: left out, as HTTP APIs do. */
    if (rc == 0)
        rc |= inv->trigger_len ? put_body(out, inv) : buf_lit(out, ",\"isBase64Encoded\":false");
    rc |= buf_putc(out, '}');
    return event_end(out, start, rc);
}

int lambda_event_raw(buf_t *out, const invocation_t *inv)
{
    const char *p = inv->trigger_data ? inv->trigger_data : "";
    size_t n = inv->trigger_len;
    json_error_t je;
    json_t *doc = n ? json_loadb(p, n, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je) : NULL;
    int rc;
    if (doc)
        rc = buf_append(out, p, n);
    else if (!n)
        rc = buf_lit(out, "{}");
    else
        rc = jstr(out, p, n);
    json_decref(doc);
    return rc;
}

/* ---- the proxy result ---- */

/* A short description of a JSON value for an error message. */
static void show(const json_t *v, char *out, size_t n)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: snprintf(out, n, "an object"); break;
    case JSON_ARRAY: snprintf(out, n, "an array"); break;
    case JSON_STRING: {
        const char *s = json_string_value(v);
        size_t len = json_string_length(v), k = 0;
        char shown[64];
        for (size_t i = 0; i < len && k + 1 < sizeof shown; i++)
            shown[k++] = (unsigned char)s[i] < 0x20 ? '?' : s[i];
        shown[k] = '\0';
        snprintf(out, n, "the string '%s%s'", shown, len > k ? "..." : "");
        break;
    }
    case JSON_INTEGER: snprintf(out, n, "%lld", (long long)json_integer_value(v)); break;
    case JSON_REAL: snprintf(out, n, "%g", json_real_value(v)); break;
    case JSON_TRUE: snprintf(out, n, "true"); break;
    case JSON_FALSE: snprintf(out, n, "false"); break;
    default: snprintf(out, n, "null"); break;
    }
}

/* "<prefix><message>" into err; -1. */
static int vfail(char *err, size_t n, const char *prefix, const char *fmt, va_list ap)
    __attribute__((format(printf, 4, 0)));
static int vfail(char *err, size_t n, const char *prefix, const char *fmt, va_list ap)
{
    int used = snprintf(err, n, "%s", prefix);
    if (used >= 0 && (size_t)used < n)
        vsnprintf(err + used, n - (size_t)used, fmt, ap);
    return -1;
}

static int malformed(char *err, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int malformed(char *err, size_t n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfail(err, n, MALFORMED, fmt, ap);
    va_end(ap);
    return -1;
}

/* A header value as text: strings as they are, numbers and booleans
 * written out (as JavaScript would). 0, 1 for null (skipped), -1. */
static int header_text(const json_t *v, char *tmp, size_t tn, sv_t *out)
{
    switch (json_typeof(v)) {
    case JSON_STRING: *out = sv_make(json_string_value(v), json_string_length(v)); return 0;
    case JSON_INTEGER: snprintf(tmp, tn, "%lld", (long long)json_integer_value(v)); break;
    case JSON_REAL: snprintf(tmp, tn, "%.17g", json_real_value(v)); break;
    case JSON_TRUE: snprintf(tmp, tn, "true"); break;
    case JSON_FALSE: snprintf(tmp, tn, "false"); break;
    case JSON_NULL: return 1;
    default: return -1;
    }
    *out = sv_cstr(tmp);
    return 0;
}

/* Add one header after checking it cannot split the response. */
static int add_header(invocation_t *inv, const char *field, const char *name, const json_t *v,
                      char *err, size_t n)
{
    char tmp[64], shown[96];
    sv_t value;
    int t = header_text(v, tmp, sizeof tmp, &value);
    if (t == 1)
        return 0;
    if (t < 0) {
        show(v, shown, sizeof shown);
        return malformed(err, n, "field '%s': header '%.100s': expected a string, got %s", field,
                         name, shown);
    }
    size_t nl = strlen(name);
    if (!nl)
        return malformed(err, n, "field '%s': a header name is empty", field);
    /* The checks every runtime's headers pass (invocation.h), as errors. */
    if (!invocation_header_ok(sv_make(name, nl), SV_NULL))
        return malformed(err, n, "field '%s': header name '%.100s' has a character not "
                         "allowed in header names", field, name);
    if (!invocation_header_ok(SV_LIT("x"), value))
        return malformed(err, n, "field '%s': the value of header '%.100s' has a line break, "
                         "NUL or other control character", field, name);
    if (invocation_add_header(inv, sv_make(name, nl), value) != 0)
        return malformed(err, n, "too many headers (at most %d)", INVOCATION_MAX_RES_HEADERS);
    return 0;
}

static int parse_status(const json_t *v, int *status, char *err, size_t n)
{
    char shown[96];
    long long s = -1;
    if (!v)
        return malformed(err, n, "field 'statusCode' is missing (expected an HTTP status such "
                         "as 200)");
    if (json_is_integer(v)) {
        s = json_integer_value(v);
    } else if (json_is_real(v)) {
        /* 200.0, as Python's json writes a float: a whole number is one */
        double d = json_real_value(v);
        if (d >= 200 && d <= 599 && d == (double)(long long)d)
            s = (long long)d;
    } else if (json_is_string(v) && json_string_length(v) > 0 && json_string_length(v) <= 3) {
        const char *t = json_string_value(v);
        s = 0;
        for (; *t; t++)
            s = *t >= '0' && *t <= '9' ? s * 10 + (*t - '0') : -1000;
    }
    if (s < 200 || s > 599) {
        show(v, shown, sizeof shown);
        return malformed(err, n, "field 'statusCode': expected an HTTP status from 200 to 599, "
                         "got %s", shown);
    }
    *status = (int)s;
    return 0;
}

static void reset_response(invocation_t *inv)
{
    inv->status = 200;
    inv->nres_headers = 0;
    buf_reset(&inv->res_body);
}

/* Map a proxy result; v2 for HTTP API's format: cookies, and no
 * multiValueHeaders. */
static int map_result(invocation_t *inv, const json_t *doc, int v2, char *err, size_t n)
{
    char shown[96];
    if (!json_is_object(doc)) {
        show(doc, shown, sizeof shown);
        return malformed(err, n, "expected a JSON object with statusCode, headers and body, got "
                         "%s", shown);
    }
    int status = 200;
    if (parse_status(json_object_get(doc, "statusCode"), &status, err, n) != 0)
        return -1;
    const json_t *headers = json_object_get(doc, "headers");
    const json_t *multi = v2 ? NULL : json_object_get(doc, "multiValueHeaders");
    const json_t *cookies = v2 ? json_object_get(doc, "cookies") : NULL;
    const json_t *body = json_object_get(doc, "body");
    const json_t *b64 = json_object_get(doc, "isBase64Encoded");
    if (headers && !json_is_null(headers) && !json_is_object(headers)) {
        show(headers, shown, sizeof shown);
        return malformed(err, n, "field 'headers': expected an object of names and values, "
                         "got %s", shown);
    }
    if (multi && !json_is_null(multi) && !json_is_object(multi)) {
        show(multi, shown, sizeof shown);
        return malformed(err, n, "field 'multiValueHeaders': expected an object of names and "
                         "lists of values, got %s", shown);
    }
    if (cookies && !json_is_null(cookies) && !json_is_array(cookies)) {
        show(cookies, shown, sizeof shown);
        return malformed(err, n, "field 'cookies': expected a list of Set-Cookie values, got %s",
                         shown);
    }
    if (body && !json_is_null(body) && !json_is_string(body)) {
        show(body, shown, sizeof shown);
        return malformed(err, n, "field 'body': expected a string, got %s (serialize it, e.g. "
                         "with JSON.stringify)", shown);
    }
    if (b64 && !json_is_null(b64) && !json_is_boolean(b64)) {
        show(b64, shown, sizeof shown);
        return malformed(err, n, "field 'isBase64Encoded': expected true or false, got %s",
                         shown);
    }
    inv->status = status;
    const char *name;
    json_t *v;
    int has_type = 0;
    json_object_foreach((json_t *)headers, name, v) {
        /* A name that multiValueHeaders also gives takes those values. */
        const char *mname;
        json_t *mv;
        int overridden = 0;
        json_object_foreach((json_t *)multi, mname, mv)
            if (strcasecmp(mname, name) == 0 && !json_is_null(mv))
                overridden = 1;
        if (overridden)
            continue;
        if (add_header(inv, "headers", name, v, err, n) != 0)
            return -1;
        has_type |= strcasecmp(name, "Content-Type") == 0 && !json_is_null(v);
    }
    json_object_foreach((json_t *)multi, name, v) {
        if (json_is_null(v))
            continue;
        if (!json_is_array(v)) {
            show(v, shown, sizeof shown);
            return malformed(err, n, "field 'multiValueHeaders': header '%.100s': expected a "
                             "list of values, got %s", name, shown);
        }
        size_t i;
        json_t *item;
        json_array_foreach(v, i, item) {
            if (add_header(inv, "multiValueHeaders", name, item, err, n) != 0)
                return -1;
            has_type |= strcasecmp(name, "Content-Type") == 0;
        }
    }
    size_t ci;
    json_t *cookie;
    json_array_foreach((json_t *)cookies, ci, cookie) {
        if (!json_is_string(cookie)) {
            show(cookie, shown, sizeof shown);
            return malformed(err, n, "field 'cookies': expected strings, got %s", shown);
        }
        if (add_header(inv, "cookies", "Set-Cookie", cookie, err, n) != 0)
            return -1;
    }
    if (!has_type &&
        invocation_add_header(inv, SV_LIT("Content-Type"), SV_LIT("application/json")) != 0)
        return malformed(err, n, "too many headers (at most %d)", INVOCATION_MAX_RES_HEADERS);
    if (!json_is_string(body))
        return 0;
    const char *text = json_string_value(body);
    size_t len = json_string_length(body);
    if (json_is_true(b64)) {
        if (base64_decode(&inv->res_body, text, len) != 0)
            return malformed(err, n, "field 'body': isBase64Encoded is true but the body is not "
                             "valid base64");
        return 0;
    }
    if (buf_append(&inv->res_body, text, len) != 0)
        return malformed(err, n, "field 'body': too large");
    return 0;
}

int lambda_proxy_result(invocation_t *inv, const char *json, size_t len, char *err,
                        size_t errlen)
{
    json_error_t je;
    reset_response(inv);
    json_t *doc = jt_loadb(json ? json : "", len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
    if (!doc)
        return malformed(err, errlen, "not JSON (%d:%d: %s)", je.line, je.column, je.text);
    int rc = map_result(inv, doc, 0, err, errlen);
    json_decref(doc);
    if (rc != 0)
        reset_response(inv);
    return rc;
}

int lambda_proxy_result_v2(invocation_t *inv, const char *json, size_t len, char *err,
                           size_t errlen)
{
    json_error_t je;
    reset_response(inv);
    json_t *doc = jt_loadb(json ? json : "", len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
    if (!doc)
        return malformed(err, errlen, "not JSON (%d:%d: %s)", je.line, je.column, je.text);
    int rc;
    if (json_is_object(doc) && json_object_get(doc, "statusCode")) {
        rc = map_result(inv, doc, 1, err, errlen);
    } else {
        /* Any other JSON is the body of a 200 answer, as HTTP APIs take it:
         * a string is the body itself (its text, without the quotes), any
         * other value is sent as the JSON it is. */
        rc = invocation_add_header(inv, SV_LIT("Content-Type"), SV_LIT("application/json"));
        if (json_is_string(doc))
            rc |= buf_append(&inv->res_body, json_string_value(doc), json_string_length(doc));
        else
            rc |= buf_append(&inv->res_body, json, len);
        if (rc != 0)
            malformed(err, errlen, "the result is too large");
    }
    json_decref(doc);
    if (rc != 0)
        reset_response(inv);
    return rc ? -1 : 0;
}

/* ---- streamed responses ---- */

#define MALFORMED_STREAM "Malformed Lambda streaming response: "

/* An error message of the proxy result's checks (add_header, parse_status)
 * told as one of a streamed response. */
static int stream_error(char *err, size_t n)
{
    size_t old = sizeof MALFORMED - 1, neu = sizeof MALFORMED_STREAM - 1;
    size_t len = strlen(err);
    if (len < old || memcmp(err, MALFORMED, old) != 0 || n <= neu)
        return -1;
    size_t rest = len - old;
    if (neu + rest >= n)
        rest = n - neu - 1;
    memmove(err + neu, err + old, rest);
    memcpy(err, MALFORMED_STREAM, neu);
    err[neu + rest] = '\0';
    return -1;
}

static int stream_malformed(char *err, size_t n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int stream_malformed(char *err, size_t n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfail(err, n, MALFORMED_STREAM, fmt, ap);
    va_end(ap);
    return -1;
}

/* The media type of a Content-Type value is type (case-insensitive,
 * parameters ignored). */
static int media_type_is(sv_t v, const char *type)
{
    size_t n = strlen(type);
    while (v.n && (v.p[0] == ' ' || v.p[0] == '\t')) {
        v.p++;
        v.n--;
    }
    if (v.n < n || strncasecmp(v.p, type, n) != 0)
        return 0;
    for (size_t i = n; i < v.n; i++)
        if (v.p[i] != ' ' && v.p[i] != '\t')
            return v.p[i] == ';';
    return 1;
}

/* The prelude of an HTTP integration response: {statusCode, headers,
 * cookies}, each optional. */
static int map_prelude(invocation_t *inv, const json_t *doc, char *err, size_t n)
{
    char shown[96];
    if (!json_is_object(doc)) {
        show(doc, shown, sizeof shown);
        return stream_malformed(err, n, "the prelude: expected a JSON object with statusCode, "
                                "headers and cookies, got %s", shown);
    }
    const json_t *st = json_object_get(doc, "statusCode");
    const json_t *headers = json_object_get(doc, "headers");
    const json_t *cookies = json_object_get(doc, "cookies");
    int status = 200;
    if (st && !json_is_null(st) && parse_status(st, &status, err, n) != 0)
        return stream_error(err, n);
    if (headers && !json_is_null(headers) && !json_is_object(headers)) {
        show(headers, shown, sizeof shown);
        return stream_malformed(err, n, "the prelude's field 'headers': expected an object of "
                                "names and values, got %s", shown);
    }
    if (cookies && !json_is_null(cookies) && !json_is_array(cookies)) {
        show(cookies, shown, sizeof shown);
        return stream_malformed(err, n, "the prelude's field 'cookies': expected a list of "
                                "Set-Cookie values, got %s", shown);
    }
    inv->status = status;
    const char *name;
    json_t *v;
    json_object_foreach((json_t *)headers, name, v)
        if (add_header(inv, "headers", name, v, err, n) != 0)
            return stream_error(err, n);
    size_t i;
    json_array_foreach((json_t *)cookies, i, v) {
        if (!json_is_string(v)) {
            show(v, shown, sizeof shown);
            return stream_malformed(err, n, "the prelude's field 'cookies': expected strings, "
                                    "got %s", shown);
        }
        if (add_header(inv, "cookies", "Set-Cookie", v, err, n) != 0)
            return stream_error(err, n);
    }
    return 0;
}

int lambda_stream_result(invocation_t *inv, sv_t content_type, const char *body, size_t len,
                         char *err, size_t errlen)
{
    reset_response(inv);
    if (!body)
        body = "";
    if (!media_type_is(content_type, LAMBDA_HTTP_INTEGRATION_TYPE)) {
        if (!content_type.n)
            content_type = SV_LIT("application/octet-stream");
        if (!invocation_header_ok(SV_LIT("Content-Type"), content_type))
            return stream_malformed(err, errlen, "its Content-Type has a line break, NUL or "
                                    "other control character");
        if (invocation_add_header(inv, SV_LIT("Content-Type"), content_type) != 0 ||
            buf_append(&inv->res_body, body, len) != 0) {
            reset_response(inv);
            return stream_malformed(err, errlen, "the response is too large");
        }
        return 0;
    }
    /* The prelude, 8 NUL bytes, the body; a stream that ended before its
     * first write (nothing at all) has the defaults. */
    if (len == 0)
        return 0;
    static const char sep[LAMBDA_PRELUDE_SEPARATOR] = {0};
    const char *at = memmem(body, len, sep, sizeof sep);
    if (!at)
        return stream_malformed(err, errlen, "Content-Type %s, but no 8 NUL bytes end the JSON "
                                "prelude (awslambda.HttpResponseStream.from writes the prelude and "
                                "them on the stream's first write(), not on an end(data) "
                                "without one)", LAMBDA_HTTP_INTEGRATION_TYPE);
    size_t plen = (size_t)(at - body);
    json_error_t je;
    json_t *doc = jt_loadb(body, plen, JSON_DECODE_ANY, &je);
    if (!doc)
        return stream_malformed(err, errlen, "the prelude is not JSON (%d:%d: %s)", je.line,
                                je.column, je.text);
    int rc = map_prelude(inv, doc, err, errlen);
    json_decref(doc);
    if (rc == 0 && buf_append(&inv->res_body, at + sizeof sep, len - plen - sizeof sep) != 0)
        rc = stream_malformed(err, errlen, "the response is too large");
    if (rc != 0)
        reset_response(inv);
    return rc;
}

/* ---- error documents ---- */

/* Copy n bytes into out (size on), control characters as spaces unless
 * keep_newlines lets '\n' through. */
static void put_clean(char *out, size_t on, size_t *at, const char *s, size_t n, int keep_newlines)
{
    for (size_t i = 0; i < n && *at + 1 < on; i++) {
        unsigned char c = (unsigned char)s[i];
        out[(*at)++] = c < 0x20 && !(keep_newlines && c == '\n') ? ' ' : (char)c;
    }
    out[*at] = '\0';
}

void lambda_error_describe(const char *json, size_t len, sv_t type_header, char *out, size_t n,
                           char *trace, size_t tn)
{
    json_error_t je;
    json_t *doc = len ? jt_loadb(json, len, JSON_DECODE_ANY, &je) : NULL;
    const char *type = NULL, *msg = NULL;
    size_t type_len = 0, msg_len = 0;
    char *dumped = NULL;
    if (json_is_object(doc)) {
        json_t *t = json_object_get(doc, "errorType");
        json_t *m = json_object_get(doc, "errorMessage");
        if (json_is_string(t))
            type = json_string_value(t), type_len = json_string_length(t);
        if (json_is_string(m)) {
            msg = json_string_value(m), msg_len = json_string_length(m);
        } else if (m && !json_is_null(m)) {
            dumped = json_dumps(m, JSON_COMPACT | JSON_ENCODE_ANY);
            msg = dumped, msg_len = dumped ? strlen(dumped) : 0;
        }
    } else if (json_is_string(doc)) {
        msg = json_string_value(doc), msg_len = json_string_length(doc);
    } else if (len) {
        msg = json, msg_len = len;
    }
    if (!type && type_header.n)
        type = type_header.p, type_len = type_header.n;
    if (!type)
        type = "Unhandled", type_len = 9;
    if (!msg)
        msg = "(no message)", msg_len = 12;
    size_t at = 0;
    if (n) {
        out[0] = '\0';
        put_clean(out, n, &at, type, type_len, 0);
        put_clean(out, n, &at, ": ", 2, 0);
        put_clean(out, n, &at, msg, msg_len, 0);
    }
    if (trace && tn) {
        size_t tat = 0;
        trace[0] = '\0';
        json_t *st = json_is_object(doc) ? json_object_get(doc, "stackTrace") : NULL;
        if (!st && json_is_object(doc))
            st = json_object_get(doc, "trace"); /* as the Node.js client sends it */
        if (json_is_string(st)) {
            put_clean(trace, tn, &tat, json_string_value(st), json_string_length(st), 1);
        } else if (json_is_array(st)) {
            size_t i;
            json_t *frame;
            json_array_foreach(st, i, frame) {
                if (!json_is_string(frame))
                    continue;
                if (tat)
                    put_clean(trace, tn, &tat, "\n", 1, 1);
                put_clean(trace, tn, &tat, json_string_value(frame), json_string_length(frame),
                          1);
            }
        }
    }
    free(dumped);
    json_decref(doc);
}

/* ---- X-Ray trace header ---- */

/* c as a lower-case hex digit, or 0 when it is none. */
static char hex_digit(char c)
{
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))
        return c;
    return c >= 'A' && c <= 'F' ? (char)(c | 0x20) : 0;
}

int lambda_xray_root(sv_t h, char *root, int *sampled)
{
    int found = -1;
    *sampled = 0;
    for (size_t i = 0; i < h.n;) {
        size_t j = i;
        while (j < h.n && h.p[j] != ';')
            j++;
        sv_t f = sv_make(h.p + i, j - i);
        while (f.n && f.p[0] == ' ')
            f.p++, f.n--;
        if (f.n == 5 + 35 && !memcmp(f.p, "Root=", 5) && f.p[5] == '1' && f.p[6] == '-' &&
            f.p[15] == '-') {
            int ok = 1;
            for (size_t k = 7; k < 40 && ok; k++)
                ok = k == 15 || hex_digit(f.p[k]);
            if (ok) {
                for (size_t k = 0; k < 35; k++)
                    root[k] = f.p[5 + k] == '-' ? '-' : hex_digit(f.p[5 + k]);
                root[35] = '\0';
                found = 0;
            }
        } else if (f.n == 9 && !memcmp(f.p, "Sampled=1", 9)) {
            *sampled = 1;
        }
        i = j + 1;
    }
    return found;
}
