/*
 * parser.c -- http-parser behind the reqparser and respparser interfaces
 * (see parser.h).
 */
#include "parser.h"

#include <http_parser.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../util/buf.h"

struct reqparser {
    http_parser hp; /* first, so a http_parser * is a reqparser_t * */
    const reqparser_callbacks_t *cb;
    void *data;
    int callback_failed;
};

#define P(hp) ((reqparser_t *)(hp))

static int fail(http_parser *hp, int rc)
{
    if (rc != 0)
        P(hp)->callback_failed = 1;
    return rc != 0;
}

static int on_message_begin(http_parser *hp)
{
    P(hp)->callback_failed = 0;
    return P(hp)->cb->on_message_begin ? fail(hp, P(hp)->cb->on_message_begin(P(hp)->data)) : 0;
}

static int on_url(http_parser *hp, const char *at, size_t len)
{
    return fail(hp, P(hp)->cb->on_url(P(hp)->data, at, len));
}

static int on_header_field(http_parser *hp, const char *at, size_t len)
{
    return fail(hp, P(hp)->cb->on_header_field(P(hp)->data, at, len));
}

static int on_header_value(http_parser *hp, const char *at, size_t len)
{
    return fail(hp, P(hp)->cb->on_header_value(P(hp)->data, at, len));
}

static int on_headers_complete(http_parser *hp)
{
    reqparser_head_t head;
    head.method = http_method_str((enum http_method)hp->method);
    head.http_major = hp->http_major;
    head.http_minor = hp->http_minor;
    head.keep_alive = http_should_keep_alive(hp);
    head.chunked = (hp->flags & F_CHUNKED) != 0;
    head.upgrade = hp->upgrade;
    head.has_length = (hp->flags & F_CONTENTLENGTH) != 0;
    head.content_length = head.has_length ? hp->content_length : 0;
    /* Not fail()'s 1: from on_headers_complete, http-parser takes 1 as "the
     * message has no body" (and would parse the body as the next request);
     * only other values are errors. */
    return fail(hp, P(hp)->cb->on_headers_complete(P(hp)->data, &head)) ? -1 : 0;
}

static int on_body(http_parser *hp, const char *at, size_t len)
{
    return fail(hp, P(hp)->cb->on_body(P(hp)->data, at, len));
}

static int on_message_complete(http_parser *hp)
{
    int rc = P(hp)->cb->on_message_complete(P(hp)->data);
    if (rc == 1) {
        http_parser_pause(hp, 1);
        return 0;
    }
    return fail(hp, rc);
}

static const http_parser_settings settings = {
    .on_message_begin = on_message_begin,
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

reqparser_t *reqparser_new(const reqparser_callbacks_t *cb, void *data)
{
    reqparser_t *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    http_parser_init(&p->hp, HTTP_REQUEST);
    p->cb = cb;
    p->data = data;
    return p;
}

void reqparser_free(reqparser_t *p) { free(p); }

int reqparser_feed(reqparser_t *p, const char *data, size_t len, size_t *used)
{
    *used = http_parser_execute(&p->hp, &settings, data, len);
    enum http_errno e = HTTP_PARSER_ERRNO(&p->hp);
    if (e == HPE_OK) {
        /* An upgrade request stops the parser early; the rest is not HTTP. */
        if (p->hp.upgrade)
            *used = len;
        return PARSE_OK;
    }
    if (e == HPE_PAUSED)
        return PARSE_PAUSED;
    return PARSE_ERROR;
}

void reqparser_resume(reqparser_t *p) { http_parser_pause(&p->hp, 0); }

const char *reqparser_error(const reqparser_t *p)
{
    return http_errno_description(HTTP_PARSER_ERRNO(&p->hp));
}

int reqparser_error_is_callback(const reqparser_t *p) { return p->callback_failed; }

/* ---- responses ------------------------------------------------------------ */

enum { HDR_NONE, HDR_FIELD, HDR_VALUE }; /* which header callback came last */

struct respparser {
    http_parser hp; /* first, so a http_parser * is a respparser_t * */
    buf_t reason;   /* reason phrase */
    buf_t head;     /* headers as "name\0value\0" pairs */
    size_t nheaders;
    int hdr_state;
    buf_t body;
    int status;
    int done;
    int no_body;    /* the request was HEAD */
    int keep_alive; /* set when the response completes */
    int head_in;    /* the final response's head is complete */
    int defer_limit; /* a Content-Length over the limit is no error (respparser_defer_limit) */
    char err[96]; /* our own error (a limit), else "" */
    /* A handler on a kept-alive connection sends the same head again and
     * again (the Date changes once a second). The last plain response's
     * head bytes -- a final status, its body sized by Content-Length -- are
     * kept with what they parsed to; a response starting with the same
     * bytes takes that, and its body is the Content-Length bytes after. */
    int fresh;               /* reset, and nothing fed since */
    uint64_t clen;           /* Content-Length of this response, or NO_CLEN */
    buf_t memo;              /* the head's bytes; len 0: nothing kept */
    buf_t memo_reason, memo_head;
    size_t memo_nheaders;
    uint64_t memo_clen;
    int memo_status, memo_keep_alive;
};

#define NO_CLEN UINT64_MAX
#define MEMO_MAX 2048 /* longer heads are not kept */

#define R(hp) ((respparser_t *)(hp))

#define REASON_MAX 256

static void resp_clear(respparser_t *p)
{
    buf_reset(&p->reason);
    buf_reset(&p->head);
    buf_reset(&p->body);
    p->nheaders = 0;
    p->hdr_state = HDR_NONE;
    p->status = 0;
    p->clen = NO_CLEN;
    p->head_in = 0;
}

/* Record that a limit was passed; -1 is an error for every http-parser
 * callback (1 is not, from on_headers_complete). */
static int resp_limit(respparser_t *p, const char *what, size_t max)
{
    snprintf(p->err, sizeof p->err, "response %s larger than %zu bytes", what, max);
    return -1;
}

/* End the current header value: drop its trailing blanks, then NUL. */
static int resp_end_value(respparser_t *p)
{
    while (p->head.len > 0 && (p->head.p[p->head.len - 1] == ' ' ||
                               p->head.p[p->head.len - 1] == '\t'))
        p->head.len--;
    return buf_putc(&p->head, '\0') ? resp_limit(p, "headers", p->head.max) : 0;
}

static int resp_on_status(http_parser *hp, const char *at, size_t len)
{
    respparser_t *p = R(hp);
    return buf_append(&p->reason, at, len) ? resp_limit(p, "reason phrase", p->reason.max) : 0;
}

/* Headers are stored NUL-separated: a NUL inside one is refused (http-parser
 * lets it through in values). */
static int resp_nul(respparser_t *p, const char *at, size_t len)
{
    if (!memchr(at, '\0', len))
        return 0;
    snprintf(p->err, sizeof p->err, "NUL byte in a response header");
    return -1;
}

static int resp_on_header_field(http_parser *hp, const char *at, size_t len)
{
    respparser_t *p = R(hp);
    if (resp_nul(p, at, len))
        return -1;
    if (p->hdr_state != HDR_FIELD) {
        if (p->hdr_state == HDR_VALUE && resp_end_value(p))
            return -1;
        p->hdr_state = HDR_FIELD;
        p->nheaders++;
    }
    return buf_append(&p->head, at, len) ? resp_limit(p, "headers", p->head.max) : 0;
}

static int resp_on_header_value(http_parser *hp, const char *at, size_t len)
{
    respparser_t *p = R(hp);
    if (resp_nul(p, at, len))
        return -1;
    if (p->hdr_state == HDR_NONE)
        return 0; /* cannot happen: http-parser sends a field first */
    if (p->hdr_state == HDR_FIELD) {
        if (buf_putc(&p->head, '\0'))
            return resp_limit(p, "headers", p->head.max);
        p->hdr_state = HDR_VALUE;
    }
    return buf_append(&p->head, at, len) ? resp_limit(p, "headers", p->head.max) : 0;
}

static int resp_on_headers_complete(http_parser *hp)
{
    respparser_t *p = R(hp);
    if (p->hdr_state == HDR_FIELD && buf_putc(&p->head, '\0'))
        return resp_limit(p, "headers", p->head.max);
    if (p->hdr_state != HDR_NONE && resp_end_value(p))
        return -1;
    p->hdr_state = HDR_NONE;
    if (hp->status_code < 100 || hp->status_code > 599) {
        /* http-parser takes any three digits or fewer */
        snprintf(p->err, sizeof p->err, "invalid HTTP status code %u (not 100 to 599)",
                 (unsigned)hp->status_code);
        return -1;
    }
    p->status = (int)hp->status_code;
    p->clen = (hp->flags & F_CONTENTLENGTH) && !(hp->flags & (F_CHUNKED | F_UPGRADE))
                  ? hp->content_length : NO_CLEN;
    p->head_in = hp->status_code >= 200;
    /* http-parser: this message has no body. A 204 or 304 never has one
     * (RFC 9112 section 6.3), whatever Content-Length says: http-parser
     * would wait for that many bytes. */
    if ((p->no_body && hp->status_code / 100 != 1) || hp->status_code == 204 ||
        hp->status_code == 304)
        return 1;
    if ((hp->flags & F_CONTENTLENGTH) && hp->content_length > p->body.max && !p->defer_limit)
        return resp_limit(p, "body", p->body.max);
    return 0;
}

static int resp_on_body(http_parser *hp, const char *at, size_t len)
{
    respparser_t *p = R(hp);
    return buf_append(&p->body, at, len) ? resp_limit(p, "body", p->body.max) : 0;
}

static int resp_on_message_complete(http_parser *hp)
{
    respparser_t *p = R(hp);
    if (hp->status_code / 100 == 1 && hp->status_code != 101) {
        resp_clear(p); /* an interim response: the real one follows */
        return 0;
    }
    if (hp->status_code == 101) {
        /* The connection now speaks another protocol: not an answer the
         * host can pass on, and not a connection to use again. */
        snprintf(p->err, sizeof p->err, "it switched protocols (101), not an HTTP answer");
        return -1;
    }
    /* Trailer fields came through the header callbacks: close the last. */
    if (p->hdr_state == HDR_FIELD && buf_putc(&p->head, '\0'))
        return resp_limit(p, "headers", p->head.max);
    if (p->hdr_state != HDR_NONE && resp_end_value(p))
        return -1;
    p->hdr_state = HDR_NONE;
    p->done = 1;
    p->keep_alive = http_should_keep_alive(hp);
    http_parser_pause(hp, 1); /* ignore whatever follows */
    return 0;
}

static const http_parser_settings resp_settings = {
    .on_status = resp_on_status,
    .on_header_field = resp_on_header_field,
    .on_header_value = resp_on_header_value,
    .on_headers_complete = resp_on_headers_complete,
    .on_body = resp_on_body,
    .on_message_complete = resp_on_message_complete,
};

respparser_t *respparser_new(size_t max_body)
{
    respparser_t *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    http_parser_init(&p->hp, HTTP_RESPONSE);
    buf_init(&p->reason, REASON_MAX);
    buf_init(&p->head, RESPPARSER_MAX_HEAD);
    buf_init(&p->body, max_body ? max_body : RESPPARSER_MAX_BODY);
    buf_init(&p->memo, MEMO_MAX);
    buf_init(&p->memo_reason, REASON_MAX);
    buf_init(&p->memo_head, MEMO_MAX);
    p->fresh = 1;
    /* Allocate now so that the getters never see NULL storage. */
    if (buf_reserve(&p->reason, 1) || buf_reserve(&p->head, 1) || buf_reserve(&p->body, 1)) {
        respparser_free(p);
        return NULL;
    }
    resp_clear(p);
    return p;
}

void respparser_free(respparser_t *p)
{
    if (!p)
        return;
    buf_free(&p->reason);
    buf_free(&p->head);
    buf_free(&p->body);
    buf_free(&p->memo);
    buf_free(&p->memo_reason);
    buf_free(&p->memo_head);
    free(p);
}

/* Keep the head of the response just parsed from data[0, used) whole. */
static void memo_store(respparser_t *p, const char *data, size_t used)
{
    const http_parser *hp = &p->hp;
    p->memo.len = 0;
    if (p->clen == NO_CLEN || p->clen > used || p->status < 200 || p->status == 204 ||
        p->status == 304 || hp->http_major != 1 || hp->http_minor != 1)
        return;
    size_t head = used - (size_t)p->clen;
    if (head > MEMO_MAX || buf_append(&p->memo, data, head) != 0)
        return;
    buf_reset(&p->memo_reason);
    buf_reset(&p->memo_head);
    if (buf_append(&p->memo_reason, p->reason.p, p->reason.len) != 0 ||
        buf_append(&p->memo_head, p->head.p, p->head.len) != 0) {
        p->memo.len = 0;
        return;
    }
    p->memo_nheaders = p->nheaders;
    p->memo_clen = p->clen;
    p->memo_status = p->status;
    p->memo_keep_alive = p->keep_alive;
}

/* The kept head at the start of data, with its whole body: the response
 * without parsing. 1 when taken (*used set), 0 to parse instead. */
static int memo_take(respparser_t *p, const char *data, size_t len, size_t *used)
{
    size_t head = p->memo.len;
    if (!head || len < head || len - head < p->memo_clen || memcmp(data, p->memo.p, head) != 0)
        return 0;
    buf_reset(&p->reason);
    buf_reset(&p->head);
    buf_reset(&p->body);
    if (buf_append(&p->reason, p->memo_reason.p, p->memo_reason.len) != 0 ||
        buf_append(&p->head, p->memo_head.p, p->memo_head.len) != 0 ||
        buf_append(&p->body, data + head, (size_t)p->memo_clen) != 0) {
        resp_clear(p);
        return 0; /* the parse says what went wrong */
    }
    p->nheaders = p->memo_nheaders;
    p->status = p->memo_status;
    p->clen = p->memo_clen;
    p->head_in = 1;
    p->keep_alive = p->memo_keep_alive;
    p->done = 1;
    *used = head + (size_t)p->memo_clen;
    return 1;
}

int respparser_feed_n(respparser_t *p, const char *data, size_t len, size_t *used)
{
    *used = 0;
    if (p->done)
        return PARSE_OK;
    if (len == 0)
        return PARSE_OK; /* a zero length would mean end of stream to http-parser */
    int fresh = p->fresh && !p->no_body;
    p->fresh = 0;
    if (fresh && memo_take(p, data, len, used))
        return PARSE_OK;
    *used = http_parser_execute(&p->hp, &resp_settings, data, len);
    enum http_errno e = HTTP_PARSER_ERRNO(&p->hp);
    if (e == HPE_OK || (e == HPE_PAUSED && p->done)) {
        if (fresh && p->done)
            memo_store(p, data, *used);
        return PARSE_OK;
    }
    return PARSE_ERROR;
}

int respparser_feed(respparser_t *p, const char *data, size_t len)
{
    size_t used;
    return respparser_feed_n(p, data, len, &used);
}

/* Buffers above this size are released between responses. */
#define RESP_KEEP_MAX (256 * 1024)

void respparser_reset(respparser_t *p, int no_body)
{
    if (p->head.cap > RESP_KEEP_MAX || p->body.cap > RESP_KEEP_MAX) {
        size_t max_body = p->body.max;
        buf_free(&p->head);
        buf_free(&p->body);
        buf_init(&p->head, RESPPARSER_MAX_HEAD);
        buf_init(&p->body, max_body);
        /* As in respparser_new; should this fail, the getters still cope. */
        (void)(buf_reserve(&p->head, 1) || buf_reserve(&p->body, 1));
    }
    http_parser_init(&p->hp, HTTP_RESPONSE);
    resp_clear(p);
    p->done = 0;
    p->keep_alive = 0;
    p->no_body = no_body;
    p->defer_limit = 0;
    p->err[0] = '\0';
    p->fresh = 1;
}

void respparser_defer_limit(respparser_t *p) { p->defer_limit = 1; }

int respparser_head_done(const respparser_t *p) { return p->head_in; }

uint64_t respparser_content_length(const respparser_t *p)
{
    return p->head_in ? p->clen : NO_CLEN;
}

int respparser_check_length(respparser_t *p)
{
    p->defer_limit = 0;
    if ((p->clen != NO_CLEN && p->clen > p->body.max) || p->body.len > p->body.max) {
        resp_limit(p, "body", p->body.max);
        return PARSE_ERROR;
    }
    return PARSE_OK;
}

int respparser_keep_alive(const respparser_t *p) { return p->done && p->keep_alive; }

int respparser_header_next(const respparser_t *p, size_t *pos, const char **name,
                           size_t *name_len, const char **value, size_t *value_len)
{
    if (p->hdr_state != HDR_NONE || !p->head.p || *pos >= p->head.len)
        return -1;
    const char *s = p->head.p + *pos, *end = p->head.p + p->head.len;
    size_t nl = strlen(s);
    const char *v = s + nl + 1;
    if (v >= end)
        return -1; /* cannot happen: every name is followed by a value */
    size_t vl = strlen(v);
    *name = s;
    *name_len = nl;
    *value = v;
    *value_len = vl;
    *pos = (size_t)(v + vl + 1 - p->head.p);
    return 0;
}

int respparser_finish(respparser_t *p)
{
    if (p->done)
        return PARSE_OK;
    if (HTTP_PARSER_ERRNO(&p->hp) != HPE_OK)
        return PARSE_ERROR;
    http_parser_execute(&p->hp, &resp_settings, NULL, 0);
    if (p->done)
        return PARSE_OK;
    if (HTTP_PARSER_ERRNO(&p->hp) == HPE_OK)
        snprintf(p->err, sizeof p->err, "connection closed before the response was complete");
    return PARSE_ERROR;
}

int respparser_done(const respparser_t *p) { return p->done; }

int respparser_status(const respparser_t *p) { return p->status; }

const char *respparser_reason(const respparser_t *p) { return p->reason.p; }

int respparser_header_at(const respparser_t *p, size_t i, const char **name,
                         const char **value)
{
    if (i >= p->nheaders || p->hdr_state != HDR_NONE)
        return -1; /* past the end, or the headers are still arriving */
    const char *s = p->head.p;
    for (size_t k = 0; k < i; k++) {
        s += strlen(s) + 1;
        s += strlen(s) + 1;
    }
    *name = s;
    *value = s + strlen(s) + 1;
    return 0;
}

const char *respparser_header(const respparser_t *p, const char *name)
{
    const char *n, *v;
    for (size_t i = 0; respparser_header_at(p, i, &n, &v) == 0; i++)
        if (!strcasecmp(n, name))
            return v;
    return NULL;
}

const char *respparser_body(const respparser_t *p, size_t *len)
{
    if (len)
        *len = p->body.len;
    return p->body.p ? p->body.p : "";
}

void respparser_body_drop(respparser_t *p) { buf_reset(&p->body); }

int respparser_body_take(respparser_t *p, buf_t *dst) { return buf_move(dst, &p->body); }

const char *respparser_error(const respparser_t *p)
{
    if (p->err[0])
        return p->err;
    enum http_errno e = HTTP_PARSER_ERRNO(&p->hp);
    if (e == HPE_INVALID_EOF_STATE)
        return "connection closed before the response was complete";
    return http_errno_description(e);
}
