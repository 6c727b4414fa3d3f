/*
 * native_api.c -- the functions of include/stratus.h, working on the
 * in-process invocation (struct stratus_ctx in core/invocation.h).
 *
 * Views of the request that functions ask for (decoded path, query
 * parameters, NUL-terminated header values) are built on first use in the
 * invocation's arena.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <stratus.h>

#include "../core/invocation.h"
#include "../core/route.h"
#include "../telemetry/log.h"

const char *stratus_invocation_id(stratus_ctx *ctx) { return ctx->id; }

const char *stratus_traceparent(stratus_ctx *ctx) { return ctx->traceparent; }

const char *stratus_function_name(stratus_ctx *ctx) { return ctx->fn ? ctx->fn->name : ""; }

const char *stratus_trigger_data(stratus_ctx *ctx, size_t *len)
{
    if (len)
        *len = ctx->trigger_len;
    return ctx->trigger_data ? ctx->trigger_data : "";
}

const char *stratus_setting(stratus_ctx *ctx, const char *name)
{
    return name ? app_setting(ctx->app, name) : NULL;
}

const char *stratus_req_method(stratus_ctx *ctx) { return ctx->req ? ctx->req->method_name : ""; }

/* Decode into the arena; on a malformed escape keep the raw text. In a
 * query, '+' stands for a space, but an escaped "%2B" is a plus. */
static char *decode(arena_t *a, const char *p, size_t n, int plus_is_space)
{
    char *out = arena_alloc(a, n + 1);
    if (!out)
        return NULL;
    const char *src = p;
    if (plus_is_space && memchr(p, '+', n)) {
        char *tmp = arena_strndup(a, p, n);
        if (!tmp)
            return NULL;
        for (size_t i = 0; i < n; i++)
            if (tmp[i] == '+')
                tmp[i] = ' ';
        src = tmp;
    }
    if (url_decode(src, n, out, n + 1) < 0) {
        memcpy(out, src, n);
        out[n] = '\0';
    }
    return out;
}

const char *stratus_req_path(stratus_ctx *ctx)
{
    if (!ctx->req)
        return "";
    if (!ctx->path)
        ctx->path = decode(ctx->arena, ctx->req->path.p, ctx->req->path.n, 0);
    return ctx->path ? ctx->path : "";
}

const char *stratus_req_query_string(stratus_ctx *ctx)
{
    if (!ctx->req)
        return "";
    if (!ctx->query_string)
        ctx->query_string = arena_strndup(ctx->arena, ctx->req->query.p, ctx->req->query.n);
    return ctx->query_string ? ctx->query_string : "";
}

static void parse_query(stratus_ctx *ctx)
{
    ctx->query_parsed = 1;
    if (!ctx->req || ctx->req->query.n == 0)
        return;
    sv_t q = ctx->req->query;
    size_t count = 1;
    for (size_t i = 0; i < q.n; i++)
        count += q.p[i] == '&';
    ctx->query = arena_alloc(ctx->arena, count * sizeof(query_param_t));
    if (!ctx->query)
        return;
    size_t start = 0;
    for (size_t i = 0; i <= q.n; i++) {
        if (i < q.n && q.p[i] != '&')
            continue;
        const char *part = q.p + start;
        size_t plen = i - start;
        start = i + 1;
        if (plen == 0)
            continue;
        const char *eq = memchr(part, '=', plen);
        size_t nlen = eq ? (size_t)(eq - part) : plen;
        query_param_t *qp = &ctx->query[ctx->nquery];
        qp->name = decode(ctx->arena, part, nlen, 1);
        qp->value = eq ? decode(ctx->arena, eq + 1, plen - nlen - 1, 1) : decode(ctx->arena, "", 0, 0);
        if (qp->name && qp->value)
            ctx->nquery++;
    }
}

const char *stratus_req_query(stratus_ctx *ctx, const char *name)
{
    if (!name)
        return NULL;
    if (!ctx->query_parsed)
        parse_query(ctx);
    for (size_t i = 0; i < ctx->nquery; i++)
        if (strcasecmp(ctx->query[i].name, name) == 0)
            return ctx->query[i].value;
    return NULL;
}

const char *stratus_req_header(stratus_ctx *ctx, const char *name)
{
    if (!ctx->req || !name)
        return NULL;
    const http_request_t *r = ctx->req;
    size_t nlen = strlen(name);
    size_t found = 0, total = 0, first = 0;
    for (size_t i = 0; i < r->nheaders; i++)
        if (r->headers[i].name.n == nlen && strncasecmp(r->headers[i].name.p, name, nlen) == 0) {
            if (!found++)
                first = i;
            total += r->headers[i].value.n + 2;
        }
    if (!found)
        return NULL;
    if (found == 1)
        return arena_strndup(ctx->arena, r->headers[first].value.p, r->headers[first].value.n);
    char *out = arena_alloc(ctx->arena, total + 1);
    if (!out)
        return NULL;
    size_t used = 0;
    for (size_t i = first; i < r->nheaders; i++) {
        if (r->headers[i].name.n != nlen || strncasecmp(r->headers[i].name.p, name, nlen) != 0)
            continue;
        if (used) {
            out[used++] = ',';
            out[used++] = ' ';
        }
        memcpy(out + used, r->headers[i].value.p, r->headers[i].value.n);
        used += r->headers[i].value.n;
    }
    out[used] = '\0';
    return out;
}

int stratus_req_header_at(stratus_ctx *ctx, size_t i, const char **name, const char **value)
{
    if (!ctx->req || i >= ctx->req->nheaders)
        return -1;
    const http_header_t *h = &ctx->req->headers[i];
    if (name)
        *name = arena_strndup(ctx->arena, h->name.p, h->name.n);
    if (value)
        *value = arena_strndup(ctx->arena, h->value.p, h->value.n);
    return 0;
}

const char *stratus_req_param(stratus_ctx *ctx, const char *name)
{
    if (!name)
        return NULL;
    size_t nlen = strlen(name);
    for (size_t i = 0; ctx->params && i < ctx->params->n; i++) {
        route_param_t *p = &ctx->params->v[i];
        if (p->name.n == nlen && strncasecmp(p->name.p, name, nlen) == 0)
            return p->value.p ? arena_strndup(ctx->arena, p->value.p, p->value.n) : NULL;
    }
    return NULL;
}

const char *stratus_req_body(stratus_ctx *ctx, size_t *len)
{
    if (!ctx->req) {
        if (len)
            *len = 0;
        return "";
    }
    if (len)
        *len = ctx->req->body.len;
    return ctx->req->body.p ? ctx->req->body.p : "";
}

int stratus_res_status(stratus_ctx *ctx, int status)
{
    if (status < 200 || status > 599)
        return -1; /* 1xx are not final answers */
    ctx->status = status;
    return 0;
}

int stratus_res_header(stratus_ctx *ctx, const char *name, const char *value)
{
    if (!name || !value || !invocation_header_ok(sv_cstr(name), sv_cstr(value)))
        return -1;
    return invocation_add_header(ctx, sv_cstr(name), sv_cstr(value));
}

int stratus_res_body(stratus_ctx *ctx, const void *data, size_t len)
{
    if (!data && len)
        return -1;
    return buf_append(&ctx->res_body, data, len);
}

int stratus_res_printf(stratus_ctx *ctx, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = buf_vprintf(&ctx->res_body, fmt, ap);
    va_end(ap);
    return rc;
}

void stratus_log(stratus_ctx *ctx, stratus_log_level level, const char *fmt, ...)
{
    char category[160];
    snprintf(category, sizeof category, "Function.%s", ctx->fn ? ctx->fn->name : "?");
    va_list ap;
    va_start(ap, fmt);
    log_writev((int)level, category, ctx->id, fmt, ap);
    va_end(ap);
}
