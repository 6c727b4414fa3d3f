/*
 * fuzz_custom_answer.c -- libFuzzer driver for what a custom handler sends
 * back: the response parser as a kept-alive upstream connection uses it
 * (src/http/parser.c: respparser_feed_n, respparser_reset, header walks,
 * keep-alive) and the reading of a Data/Metadata answer into an invocation
 * (src/runtimes/custom_msg.c: ch__msg_apply_answer).
 *
 * Input: one byte that picks the target and seeds the chunking, then the
 * bytes. Responses are fed in pseudo-random chunks, each a private heap copy
 * freed after the feed (so a view that outlives its chunk is a
 * use-after-free ASan sees); after each whole response the headers are
 * walked both ways and must agree, and the parser is reset for the next one
 * with the bytes that were left over. A second parser, new for every
 * response, is fed the same chunks: the reused one (which takes a head it
 * has seen before without parsing it) must report exactly what it does.
 * A third parser takes each body as a proxy streams it (respparser_defer_limit,
 * then the body drained after every feed once the head is in): what it
 * passed on must be the body the others gathered.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/http/parser.h"
#include "../../src/runtimes/custom.h"
#include "../../src/telemetry/log.h"

static uint32_t next_rand(uint32_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    return *s;
}

static void check_headers(const respparser_t *p)
{
    size_t pos = 0, nl, vl, i = 0;
    const char *n, *v, *n2, *v2;
    while (respparser_header_next(p, &pos, &n, &nl, &v, &vl) == 0) {
        if (respparser_header_at(p, i, &n2, &v2) != 0 || n != n2 || v != v2 ||
            strlen(n) != nl || strlen(v) != vl)
            abort();
        i++;
    }
    if (respparser_header_at(p, i, &n2, &v2) == 0)
        abort();
}

/* The reused parser p and the new parser q report the same response. */
static void check_same(const respparser_t *p, const respparser_t *q)
{
    size_t lp = 0, lq = 0, i = 0;
    const char *bp = respparser_body(p, &lp), *bq = respparser_body(q, &lq);
    if (respparser_done(p) != respparser_done(q) || respparser_status(p) != respparser_status(q) ||
        strcmp(respparser_reason(p), respparser_reason(q)) != 0 ||
        respparser_keep_alive(p) != respparser_keep_alive(q) || lp != lq || memcmp(bp, bq, lp) != 0)
        abort();
    const char *np, *vp, *nq, *vq;
    for (; respparser_header_at(q, i, &nq, &vq) == 0; i++)
        if (respparser_header_at(p, i, &np, &vp) != 0 || strcmp(np, nq) != 0 || strcmp(vp, vq) != 0)
            abort();
    if (respparser_header_at(p, i, &np, &vp) == 0)
        abort();
}

/* Drain what the streaming parser holds of its body into out. */
static void drain(respparser_t *s, char *out, size_t *nout)
{
    if (!respparser_head_done(s))
        return;
    size_t n = 0;
    const char *b = respparser_body(s, &n);
    memcpy(out + *nout, b, n);
    *nout += n;
    respparser_body_drop(s);
}

static void responses(const uint8_t *data, size_t size, uint32_t seed)
{
    respparser_t *p = respparser_new(4096), *q = respparser_new(4096), *s = respparser_new(4096);
    char *streamed = malloc(size + 1);
    size_t nstreamed = 0;
    if (!p || !q || !s || !streamed) {
        respparser_free(p);
        respparser_free(q);
        respparser_free(s);
        free(streamed);
        return;
    }
    int no_body = seed & 1;
    respparser_reset(p, no_body);
    respparser_reset(q, no_body);
    respparser_reset(s, no_body);
    respparser_defer_limit(s);
    size_t at = 0;
    int guard = 0;
    while (at < size && guard++ < 1000) {
        size_t take = 1 + next_rand(&seed) % 64;
        if (take > size - at)
            take = size - at;
        char *chunk = malloc(take);
        memcpy(chunk, data + at, take);
        size_t used = 0, used_q = 0, used_s = 0;
        int rc = respparser_feed_n(p, chunk, take, &used);
        int rc_q = respparser_feed_n(q, chunk, take, &used_q);
        int rc_s = respparser_feed_n(s, chunk, take, &used_s);
        free(chunk);
        if (rc != rc_q || used != used_q)
            abort();
        if (rc == PARSE_OK && (rc_s != PARSE_OK || used_s != used))
            abort(); /* the streaming parser takes at least what the others take */
        if (rc_s == PARSE_OK)
            drain(s, streamed, &nstreamed);
        if (rc != PARSE_OK) {
            if (!respparser_error(p)[0])
                abort();
            break;
        }
        if (used > take)
            abort();
        at += used;
        if (respparser_done(p)) {
            size_t len = 0;
            const char *body = respparser_body(p, &len);
            if (!body || body[len] != '\0' || respparser_status(p) < 100)
                abort();
            check_headers(p);
            check_same(p, q);
            if (!respparser_done(s) || respparser_status(s) != respparser_status(p) ||
                nstreamed != len || memcmp(streamed, body, len) != 0)
                abort();
            (void)respparser_keep_alive(p);
            no_body = next_rand(&seed) & 1;
            respparser_reset(p, no_body);
            respparser_reset(s, no_body);
            respparser_defer_limit(s);
            nstreamed = 0;
            respparser_free(q);
            q = respparser_new(4096);
            if (!q)
                break;
            respparser_reset(q, no_body);
        } else if (used != take) {
            abort(); /* an unfinished response takes every byte */
        }
    }
    if (q && !respparser_done(p)) {
        int rc = respparser_finish(p);
        if (rc != respparser_finish(q))
            abort();
        if (rc == PARSE_OK) {
            check_headers(p);
            check_same(p, q);
        }
    }
    respparser_free(p);
    respparser_free(q);
    respparser_free(s);
    free(streamed);
}

static void answer(const uint8_t *data, size_t size, uint32_t seed)
{
    static app_t app;
    static function_t fn;
    static binding_t b[3];
    static ch_fn_t cf;
    fn.name = "fuzz";
    b[0] = (binding_t){.name = "req", .type = "httpTrigger", .direction = BINDING_IN};
    b[1] = (binding_t){.name = "res", .type = "http", .direction = BINDING_OUT};
    b[2] = (binding_t){.name = "$return", .type = "http", .direction = BINDING_OUT};
    fn.bindings = b;
    fn.nbindings = 3;
    fn.trigger = &b[0];
    fn.runtime_data = &cf;
    cf.http_out = seed & 2 ? "res" : NULL;
    cf.http_return = (seed & 4) != 0;
    arena_t a;
    arena_init(&a, 1024);
    invocation_t *inv = invocation_new(&a, &app, &fn, SV_NULL);
    if (inv) {
        char err[512];
        err[0] = '\0';
        char *copy = malloc(size ? size : 1);
        memcpy(copy, data, size);
        int ok = ch__msg_apply_answer(inv, &cf, copy, size, err, sizeof err);
        free(copy);
        if (!ok && !err[0])
            abort();
        if (inv->status < 100 || inv->status > 599)
            abort();
        for (size_t i = 0; i < inv->nres_headers; i++) {
            sv_t n = inv->res_headers[i].name, v = inv->res_headers[i].value;
            if (!n.n || memchr(n.p, '\n', n.n) || memchr(v.p, '\n', v.n) ||
                memchr(v.p, '\r', v.n) || memchr(n.p, ':', n.n))
                abort(); /* the answer must not be able to split the response */
        }
    }
    arena_free(&a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int quiet;
    if (!quiet) {
        log_setup(LOG_FORMAT_DEV, 2, 0, LOG_CRITICAL + 1);
        quiet = 1;
    }
    if (size < 1)
        return 0;
    uint32_t seed = 0x9e3779b9u ^ data[0];
    if (data[0] & 0x80)
        answer(data + 1, size - 1, seed);
    else
        responses(data + 1, size - 1, seed);
    return 0;
}
