/*
 * test_parser.c -- the HTTP parser wrapper (src/http/parser.h): request
 * events through callbacks (whole, byte by byte, pipelined with pauses,
 * failing callbacks, malformed input) and the accumulating response parser.
 *
 * Request events are recorded into one string, consecutive pieces of the
 * same event merged, so a feed split anywhere gives the same record:
 *     "begin|url:/a|hf:Host|hv:x|head|body:hello|done|"
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/http/parser.h"
#include "test.h"

/* ---- request recorder ---- */

enum { EV_NONE, EV_URL, EV_HF, EV_HV, EV_BODY, EV_OTHER };
enum { FAIL_NONE, FAIL_BEGIN, FAIL_URL, FAIL_HF, FAIL_HV, FAIL_HEAD, FAIL_BODY, FAIL_DONE };

typedef struct rec {
    char ev[8192];
    size_t len;
    int last;          /* EV_* of the last event, to merge pieces */
    int begins, heads, bodies, dones;
    reqparser_head_t head; /* as of the last on_headers_complete */
    int pause;         /* on_message_complete returns 1 */
    int fail_at;       /* FAIL_*: that callback returns fail_rc */
    int fail_rc;
} rec_t;

static void rec_init(rec_t *r)
{
    memset(r, 0, sizeof *r);
    r->fail_rc = -1;
}

static void rec_put(rec_t *r, const char *s, size_t n)
{
    if (r->len + n >= sizeof r->ev)
        n = sizeof r->ev - 1 - r->len;
    memcpy(r->ev + r->len, s, n);
    r->len += n;
    r->ev[r->len] = '\0';
}

/* Record a data event, merged with the previous one of the same kind. */
static void rec_data(rec_t *r, int kind, const char *tag, const char *at, size_t len)
{
    if (r->last != kind) {
        if (r->last != EV_NONE && r->last != EV_OTHER)
            rec_put(r, "|", 1);
        rec_put(r, tag, strlen(tag));
        rec_put(r, ":", 1);
    }
    rec_put(r, at, len);
    r->last = kind;
}

static void rec_mark(rec_t *r, const char *tag)
{
    if (r->last != EV_NONE && r->last != EV_OTHER)
        rec_put(r, "|", 1);
    rec_put(r, tag, strlen(tag));
    rec_put(r, "|", 1);
    r->last = EV_OTHER;
}

static int cb_begin(void *d)
{
    rec_t *r = d;
    r->begins++;
    rec_mark(r, "begin");
    return r->fail_at == FAIL_BEGIN ? r->fail_rc : 0;
}

static int cb_url(void *d, const char *at, size_t len)
{
    rec_t *r = d;
    rec_data(r, EV_URL, "url", at, len);
    return r->fail_at == FAIL_URL ? r->fail_rc : 0;
}

static int cb_hf(void *d, const char *at, size_t len)
{
    rec_t *r = d;
    rec_data(r, EV_HF, "hf", at, len);
    return r->fail_at == FAIL_HF ? r->fail_rc : 0;
}

static int cb_hv(void *d, const char *at, size_t len)
{
    rec_t *r = d;
    rec_data(r, EV_HV, "hv", at, len);
    return r->fail_at == FAIL_HV ? r->fail_rc : 0;
}

static int cb_head(void *d, const reqparser_head_t *head)
{
    rec_t *r = d;
    r->heads++;
    r->head = *head;
    rec_mark(r, "head");
    return r->fail_at == FAIL_HEAD ? r->fail_rc : 0;
}

static int cb_body(void *d, const char *at, size_t len)
{
    rec_t *r = d;
    r->bodies++;
    rec_data(r, EV_BODY, "body", at, len);
    return r->fail_at == FAIL_BODY ? r->fail_rc : 0;
}

static int cb_done(void *d)
{
    rec_t *r = d;
    r->dones++;
    rec_mark(r, "done");
    if (r->fail_at == FAIL_DONE)
        return r->fail_rc;
    return r->pause ? 1 : 0;
}

static const reqparser_callbacks_t CB = {
    .on_message_begin = cb_begin,
    .on_url = cb_url,
    .on_header_field = cb_hf,
    .on_header_value = cb_hv,
    .on_headers_complete = cb_head,
    .on_body = cb_body,
    .on_message_complete = cb_done,
};

/* Feed all of s at once into a new parser; returns the result, *used set. */
static int feed_all(rec_t *r, const char *s, size_t len, size_t *used, reqparser_t **out)
{
    reqparser_t *p = reqparser_new(&CB, r);
    if (!p)
        return -99;
    int rc = reqparser_feed(p, s, len, used);
    if (out)
        *out = p;
    else
        reqparser_free(p);
    return rc;
}

/* Feed s one byte at a time; the first non-OK result, or PARSE_OK. */
static int feed_bytewise(reqparser_t *p, const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        size_t used = 0;
        int rc = reqparser_feed(p, s + i, 1, &used);
        if (rc != PARSE_OK)
            return rc;
        if (used != 1)
            return -98;
    }
    return PARSE_OK;
}

#define S(lit) lit, sizeof lit - 1

/* ---- requests ---- */

static const char GET_REQ[] = "GET /api/hello?name=x%20y HTTP/1.1\r\n"
                              "Host: example.com\r\n"
                              "X-Multi: one, two\r\n"
                              "Accept:   */*\r\n"
                              "\r\n";
static const char GET_EV[] = "begin|url:/api/hello?name=x%20y|hf:Host|hv:example.com|"
                             "hf:X-Multi|hv:one, two|hf:Accept|hv:*/*|head|done|";

TEST(req_get_fields)
{
    rec_t r;
    rec_init(&r);
    size_t used = 0;
    CHECK_INT(feed_all(&r, S(GET_REQ), &used, NULL), PARSE_OK);
    CHECK_INT(used, sizeof GET_REQ - 1);
    CHECK_STR(r.ev, GET_EV);
    CHECK_STR(r.head.method, "GET");
    CHECK_INT(r.head.http_major, 1);
    CHECK_INT(r.head.http_minor, 1);
    CHECK_INT(r.head.keep_alive, 1);
    CHECK_INT(r.head.chunked, 0);
    CHECK_INT(r.head.upgrade, 0);
    CHECK_INT(r.head.has_length, 0);
    CHECK_INT(r.head.content_length, 0);
    CHECK_INT(r.bodies, 0);
}

TEST(req_get_bytewise)
{
    rec_t r;
    rec_init(&r);
    reqparser_t *p = reqparser_new(&CB, &r);
    CHECK_INT(feed_bytewise(p, S(GET_REQ)), PARSE_OK);
    CHECK_STR(r.ev, GET_EV);
    CHECK_INT(r.begins, 1);
    CHECK_INT(r.heads, 1);
    CHECK_INT(r.dones, 1);
    CHECK_STR(r.head.method, "GET");
    reqparser_free(p);
}

TEST(req_methods)
{
    static const char *methods[] = {"GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"};
    for (size_t i = 0; i < sizeof methods / sizeof *methods; i++) {
        char req[128];
        int n = snprintf(req, sizeof req, "%s /x HTTP/1.1\r\nContent-Length: 0\r\n\r\n",
                         methods[i]);
        rec_t r;
        rec_init(&r);
        size_t used = 0;
        CHECK_INT(feed_all(&r, req, (size_t)n, &used, NULL), PARSE_OK);
        CHECK_STR(r.head.method, methods[i]);
        CHECK_INT(r.dones, 1);
    }
}

TEST(req_content_length_body)
{
    static const char req[] = "POST /submit HTTP/1.1\r\n"
                              "Content-Type: text/plain\r\n"
                              "Content-Length: 11\r\n"
                              "\r\n"
                              "hello world";
    rec_t r;
    rec_init(&r);
    size_t used = 0;
    CHECK_INT(feed_all(&r, S(req), &used, NULL), PARSE_OK);
    CHECK_INT(used, sizeof req - 1);
    CHECK_STR(r.ev, "begin|url:/submit|hf:Content-Type|hv:text/plain|hf:Content-Length|hv:11|"
                    "head|body:hello world|done|");
    CHECK_STR(r.head.method, "POST");
    CHECK_INT(r.head.has_length, 1);
    CHECK_INT(r.head.content_length, 11);
    CHECK_INT(r.head.chunked, 0);

    /* The same bytes one at a time: the body arrives in 11 pieces. */
    rec_t r2;
    rec_init(&r2);
    reqparser_t *p = reqparser_new(&CB, &r2);
    CHECK_INT(feed_bytewise(p, S(req)), PARSE_OK);
    CHECK_STR(r2.ev, r.ev);
    CHECK_INT(r2.bodies, 11);
    CHECK_INT(r2.head.content_length, 11);
    reqparser_free(p);

    /* Split between headers and body: the message waits for the body. */
    rec_t r3;
    rec_init(&r3);
    p = reqparser_new(&CB, &r3);
    size_t head_len = sizeof req - 1 - 11;
    CHECK_INT(reqparser_feed(p, req, head_len + 5, &used), PARSE_OK);
    CHECK_INT(used, head_len + 5);
    CHECK_INT(r3.heads, 1);
    CHECK_INT(r3.dones, 0);
    CHECK_INT(reqparser_feed(p, req + head_len + 5, 6, &used), PARSE_OK);
    CHECK_INT(r3.dones, 1);
    CHECK_STR(r3.ev, r.ev);
    reqparser_free(p);
}

TEST(req_content_length_zero)
{
    rec_t r;
    rec_init(&r);
    size_t used = 0;
    CHECK_INT(feed_all(&r, S("POST / HTTP/1.1\r\nContent-Length: 0\r\n\r\n"), &used, NULL),
              PARSE_OK);
    CHECK_INT(r.head.has_length, 1);
    CHECK_INT(r.head.content_length, 0);
    CHECK_INT(r.bodies, 0);
    CHECK_INT(r.dones, 1);
}

static const char CHUNKED_REQ[] = "POST /c HTTP/1.1\r\n"
                                  "Transfer-Encoding: chunked\r\n"
                                  "\r\n"
                                  "5;name=value;flag\r\n"
                                  "hello\r\n"
                                  "6;ext=\"quoted\"\r\n"
                                  " world\r\n"
                                  "A\r\n"
                                  "0123456789\r\n"
                                  "0;last=1\r\n"
                                  "X-Checksum: abc\r\n"
                                  "X-Other: 2\r\n"
                                  "\r\n";
/* http-parser reports trailer fields through the header callbacks, after
 * the body and without a second on_headers_complete; the wrapper forwards
 * them as they are (the server keeps them as the request's trailers), never
 * before the body. */
static const char CHUNKED_EV_HEAD[] = "begin|url:/c|hf:Transfer-Encoding|hv:chunked|head|"
                                      "body:hello world0123456789|";

static void check_chunked_ev(const char *ev)
{
    CHECK(strncmp(ev, CHUNKED_EV_HEAD, strlen(CHUNKED_EV_HEAD)) == 0);
    size_t n = strlen(ev);
    CHECK(n >= 5 && strcmp(ev + n - 5, "done|") == 0);
    const char *rest = ev + strlen(CHUNKED_EV_HEAD);
    CHECK(strstr(rest, "body:") == NULL && strstr(rest, "head|") == NULL);
    CHECK_STR(rest, "hf:X-Checksum|hv:abc|hf:X-Other|hv:2|done|");
}

TEST(req_chunked_extensions_trailers)
{
    rec_t r;
    rec_init(&r);
    size_t used = 0;
    CHECK_INT(feed_all(&r, S(CHUNKED_REQ), &used, NULL), PARSE_OK);
    CHECK_INT(used, sizeof CHUNKED_REQ - 1);
    if (strncmp(r.ev, CHUNKED_EV_HEAD, strlen(CHUNKED_EV_HEAD)) != 0)
        fprintf(stderr, "events: %s\n", r.ev);
    check_chunked_ev(r.ev);
    CHECK_INT(r.head.chunked, 1);
    CHECK_INT(r.head.has_length, 0);
    CHECK_INT(r.head.content_length, 0);
    CHECK_INT(r.heads, 1);
    CHECK_INT(r.dones, 1);

    rec_t r2;
    rec_init(&r2);
    reqparser_t *p = reqparser_new(&CB, &r2);
    CHECK_INT(feed_bytewise(p, S(CHUNKED_REQ)), PARSE_OK);
    check_chunked_ev(r2.ev);
    CHECK_STR(r2.ev, r.ev);
    CHECK_INT(r2.head.chunked, 1);
    reqparser_free(p);
}

/* Feed one request, return its head.keep_alive (or -1 when it did not parse). */
static int keep_alive_of(const char *req)
{
    rec_t r;
    rec_init(&r);
    size_t used = 0;
    if (feed_all(&r, req, strlen(req), &used, NULL) != PARSE_OK || r.heads != 1)
        return -1;
    return r.head.keep_alive;
}

TEST(req_keep_alive)
{
    CHECK_INT(keep_alive_of("GET / HTTP/1.1\r\nHost: a\r\n\r\n"), 1);
    CHECK_INT(keep_alive_of("GET / HTTP/1.1\r\nConnection: close\r\n\r\n"), 0);
    CHECK_INT(keep_alive_of("GET / HTTP/1.1\r\nConnection: Close\r\n\r\n"), 0);
    CHECK_INT(keep_alive_of("GET / HTTP/1.1\r\nConnection: keep-alive\r\n\r\n"), 1);
    CHECK_INT(keep_alive_of("GET / HTTP/1.0\r\nHost: a\r\n\r\n"), 0);
    CHECK_INT(keep_alive_of("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"), 1);
    CHECK_INT(keep_alive_of("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n"), 1);
    CHECK_INT(keep_alive_of("GET / HTTP/1.0\r\nConnection: close\r\n\r\n"), 0);

    rec_t r;
    rec_init(&r);
    size_t used = 0;
    CHECK_INT(feed_all(&r, S("GET / HTTP/1.0\r\n\r\n"), &used, NULL), PARSE_OK);
    CHECK_INT(r.head.http_major, 1);
    CHECK_INT(r.head.http_minor, 0);
}

static const char PIPE1[] = "POST /one HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc";
static const char PIPE2[] = "GET /two HTTP/1.1\r\nHost: h\r\n\r\n";

TEST(req_pipelined_pause)
{
    char both[256];
    size_t n1 = sizeof PIPE1 - 1, n2 = sizeof PIPE2 - 1;
    memcpy(both, PIPE1, n1);
    memcpy(both + n1, PIPE2, n2);

    rec_t r;
    rec_init(&r);
    r.pause = 1;
    reqparser_t *p = reqparser_new(&CB, &r);
    size_t used = 12345;
    CHECK_INT(reqparser_feed(p, both, n1 + n2, &used), PARSE_PAUSED);
    CHECK_INT(used, n1); /* exactly the end of the first message */
    CHECK_INT(r.dones, 1);
    CHECK_INT(r.begins, 1); /* the second has not started */
    CHECK_STR(r.ev, "begin|url:/one|hf:Content-Length|hv:3|head|body:abc|done|");

    reqparser_resume(p);
    size_t used2 = 12345;
    CHECK_INT(reqparser_feed(p, both + used, n1 + n2 - used, &used2), PARSE_PAUSED);
    CHECK_INT(used2, n2);
    CHECK_INT(r.dones, 2);
    CHECK_INT(r.begins, 2);
    CHECK_STR(r.head.method, "GET");
    CHECK_STR(r.ev, "begin|url:/one|hf:Content-Length|hv:3|head|body:abc|done|"
                    "begin|url:/two|hf:Host|hv:h|head|done|");

    /* After a resume the parser takes a third request normally. */
    reqparser_resume(p);
    r.pause = 0;
    CHECK_INT(reqparser_feed(p, S("GET /three HTTP/1.1\r\n\r\n"), &used), PARSE_OK);
    CHECK_INT(r.dones, 3);
    reqparser_free(p);
}

TEST(req_pause_single_message)
{
    rec_t r;
    rec_init(&r);
    r.pause = 1;
    size_t used = 0;
    reqparser_t *p = NULL;
    CHECK_INT(feed_all(&r, S(PIPE2), &used, &p), PARSE_PAUSED);
    CHECK_INT(used, sizeof PIPE2 - 1);
    CHECK_INT(r.dones, 1);
    reqparser_free(p);
}

TEST(req_no_pause_pipelined)
{
    char both[256];
    size_t n1 = sizeof PIPE1 - 1, n2 = sizeof PIPE2 - 1;
    memcpy(both, PIPE1, n1);
    memcpy(both + n1, PIPE2, n2);
    rec_t r;
    rec_init(&r);
    size_t used = 0;
    CHECK_INT(feed_all(&r, both, n1 + n2, &used, NULL), PARSE_OK);
    CHECK_INT(used, n1 + n2);
    CHECK_INT(r.dones, 2);
}

/* Each callback failing (with -1) stops the parser with a callback error. */
TEST(req_callback_errors)
{
    static const char req[] = "POST /x HTTP/1.1\r\nContent-Length: 2\r\n\r\nhi";
    static const int which[] = {FAIL_BEGIN, FAIL_URL, FAIL_HF, FAIL_HV,
                                FAIL_HEAD,  FAIL_BODY, FAIL_DONE};
    for (size_t i = 0; i < sizeof which / sizeof *which; i++) {
        rec_t r;
        rec_init(&r);
        r.fail_at = which[i];
        size_t used = 0;
        reqparser_t *p = NULL;
        int rc = feed_all(&r, S(req), &used, &p);
        if (rc != PARSE_ERROR)
            fprintf(stderr, "failing callback %d\n", which[i]);
        CHECK_INT(rc, PARSE_ERROR);
        CHECK_INT(reqparser_error_is_callback(p), 1);
        CHECK(reqparser_error(p) != NULL && reqparser_error(p)[0] != '\0');
        CHECK(used <= sizeof req - 1);
        if (which[i] != FAIL_DONE)
            CHECK_INT(r.dones, 0);
        /* The error sticks. */
        CHECK_INT(reqparser_feed(p, S("GET / HTTP/1.1\r\n\r\n"), &used), PARSE_ERROR);
        reqparser_free(p);
    }
}

/* Also the bytewise path: a failing on_url stops at once. */
TEST(req_callback_error_bytewise)
{
    rec_t r;
    rec_init(&r);
    r.fail_at = FAIL_HV;
    reqparser_t *p = reqparser_new(&CB, &r);
    CHECK_INT(feed_bytewise(p, S("GET / HTTP/1.1\r\nHost: abc\r\n\r\n")), PARSE_ERROR);
    CHECK_INT(reqparser_error_is_callback(p), 1);
    CHECK_INT(r.heads, 0);
    reqparser_free(p);
}

/* Request smuggling regression: when on_headers_complete refuses a request,
 * its body must not be parsed as the next request -- whatever non-zero value
 * the callback returned (http-parser itself takes 1 as "no body"). */
TEST(req_head_error_stops_before_body)
{
    static const char req[] = "POST /outer HTTP/1.1\r\n"
                              "Content-Length: 38\r\n"
                              "\r\n"
                              "GET /smuggled HTTP/1.1\r\nHost: evil\r\n\r\n";
    CHECK_INT(strlen("GET /smuggled HTTP/1.1\r\nHost: evil\r\n\r\n"), 38);
    static const int rcs[] = {-1, 1, 2};
    for (size_t i = 0; i < sizeof rcs / sizeof *rcs; i++) {
        rec_t r;
        rec_init(&r);
        r.fail_at = FAIL_HEAD;
        r.fail_rc = rcs[i];
        size_t used = 0;
        reqparser_t *p = NULL;
        CHECK_INT(feed_all(&r, S(req), &used, &p), PARSE_ERROR);
        CHECK_INT(reqparser_error_is_callback(p), 1);
        CHECK_INT(r.begins, 1);
        CHECK_INT(r.heads, 1);
        CHECK_INT(r.bodies, 0);
        CHECK_INT(r.dones, 0);
        CHECK(strstr(r.ev, "smuggled") == NULL);
        CHECK_STR(r.ev, "begin|url:/outer|hf:Content-Length|hv:38|head|");
        CHECK(used <= sizeof req - 1 - 38);
        /* Feeding on does not revive it. */
        CHECK_INT(reqparser_feed(p, req + used, sizeof req - 1 - used, &used), PARSE_ERROR);
        CHECK(strstr(r.ev, "smuggled") == NULL);
        reqparser_free(p);
    }
}

/* A protocol error is not a callback error. */
static void check_malformed(const char *what, const char *req, size_t len)
{
    rec_t r;
    rec_init(&r);
    size_t used = 0;
    reqparser_t *p = NULL;
    int rc = feed_all(&r, req, len, &used, &p);
    if (rc != PARSE_ERROR)
        fprintf(stderr, "malformed input accepted: %s\n", what);
    CHECK_INT(rc, PARSE_ERROR);
    CHECK_INT(reqparser_error_is_callback(p), 0);
    const char *e = reqparser_error(p);
    CHECK(e != NULL && e[0] != '\0');
    CHECK(used <= len);
    CHECK_INT(r.dones, 0);
    reqparser_free(p);

    /* Byte by byte gives the same verdict. */
    rec_init(&r);
    p = reqparser_new(&CB, &r);
    CHECK_INT(feed_bytewise(p, req, len), PARSE_ERROR);
    CHECK_INT(reqparser_error_is_callback(p), 0);
    CHECK_INT(r.dones, 0);
    reqparser_free(p);
}

/* The system libhttp-parser is built with HTTP_PARSER_STRICT=0, so some
 * malformed bytes pass (a space in a header name -- refused by server.c --,
 * "HTTX/1.1", any two bytes after chunk data); those are left out here. */
TEST(req_malformed)
{
    check_malformed("bad method", S("FROB / HTTP/1.1\r\n\r\n"));
    check_malformed("lowercase method", S("get / HTTP/1.1\r\n\r\n"));
    check_malformed("bad version letters", S("GET / HTTP/x.1\r\n\r\n"));
    check_malformed("bad version digits", S("GET / HTTP/1.1.1\r\n\r\n"));
    check_malformed("bad chunk size",
                    S("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n"));
    check_malformed("negative chunk size",
                    S("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n-5\r\nhello\r\n0\r\n\r\n"));
    check_malformed("control char in header name", S("GET / HTTP/1.1\r\nX-\x01" "A: b\r\n\r\n"));
    check_malformed("separator in header name", S("GET / HTTP/1.1\r\nBad(Name): b\r\n\r\n"));
    check_malformed("control char in header value", S("GET / HTTP/1.1\r\nX-A: b\x01" "c\r\n\r\n"));
    check_malformed("bad content length", S("POST / HTTP/1.1\r\nContent-Length: 1x\r\n\r\nab"));
    check_malformed("two content lengths",
                    S("POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab"));
    check_malformed("content length and chunked",
                    S("POST / HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"
                      "0\r\n\r\n"));
    check_malformed("chunked and content length",
                    S("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n"
                      "0\r\n\r\n"));
    check_malformed("bare LF in request line", S("GET / HTTP/1.1\rX\n\r\n"));
    check_malformed("control char in URL", S("GET /a\x01 HTTP/1.1\r\n\r\n"));
}

TEST(req_malformed_error_position)
{
    /* The error is reported at the bad byte, not past the buffer. */
    static const char req[] = "GET / HTTP/1.1\r\nHost: a\r\nBad\x01: b\r\n\r\nGET / HTTP/1.1\r\n\r\n";
    rec_t r;
    rec_init(&r);
    size_t used = 0;
    CHECK_INT(feed_all(&r, S(req), &used, NULL), PARSE_ERROR);
    CHECK(used < strlen("GET / HTTP/1.1\r\nHost: a\r\nBad\x01: b\r\n"));
    CHECK(used >= strlen("GET / HTTP/1.1\r\nHost: a\r\n"));
}

TEST(req_upgrade_consumes_rest)
{
    static const char req[] = "GET /ws HTTP/1.1\r\n"
                              "Connection: Upgrade\r\n"
                              "Upgrade: websocket\r\n"
                              "\r\n"
                              "\x81\x05hello";
    rec_t r;
    rec_init(&r);
    size_t used = 0;
    CHECK_INT(feed_all(&r, S(req), &used, NULL), PARSE_OK);
    CHECK_INT(used, sizeof req - 1);
    CHECK_INT(r.head.upgrade, 1);
    CHECK_INT(r.bodies, 0);
}

TEST(req_callback_error_flag_resets)
{
    /* After a callback error, a fresh parser for the next connection
     * reports protocol errors as such. */
    rec_t r;
    rec_init(&r);
    r.fail_at = FAIL_URL;
    size_t used = 0;
    reqparser_t *p = NULL;
    CHECK_INT(feed_all(&r, S("GET / HTTP/1.1\r\n\r\n"), &used, &p), PARSE_ERROR);
    CHECK_INT(reqparser_error_is_callback(p), 1);
    reqparser_free(p);

    rec_init(&r);
    CHECK_INT(feed_all(&r, S("GET / HTTP/1.1\r\n\r\nBOGUS / HTTP/1.1\r\n\r\n"), &used, &p),
              PARSE_ERROR);
    CHECK_INT(r.dones, 1);
    CHECK_INT(reqparser_error_is_callback(p), 0);
    reqparser_free(p);
}

/* ---- responses ---- */

TEST(resp_basic)
{
    static const char res[] = "HTTP/1.1 200 OK\r\n"
                              "Content-Type: text/plain\r\n"
                              "X-Spaced:   padded value  \t\r\n"
                              "X-Empty:\r\n"
                              "Content-Length: 5\r\n"
                              "X-Dup: first\r\n"
                              "X-Dup: second\r\n"
                              "\r\n"
                              "hello";
    respparser_t *p = respparser_new(0);
    CHECK(p != NULL);
    CHECK_INT(respparser_status(p), 0);
    CHECK_INT(respparser_done(p), 0);
    CHECK_INT(respparser_feed(p, S(res)), PARSE_OK);
    CHECK_INT(respparser_done(p), 1);
    CHECK_INT(respparser_status(p), 200);
    CHECK_STR(respparser_reason(p), "OK");
    CHECK_STR(respparser_header(p, "content-type"), "text/plain");
    CHECK_STR(respparser_header(p, "CONTENT-LENGTH"), "5");
    CHECK_STR(respparser_header(p, "X-Spaced"), "padded value");
    CHECK_STR(respparser_header(p, "X-Empty"), "");
    CHECK_STR(respparser_header(p, "x-dup"), "first");
    CHECK(respparser_header(p, "X-Missing") == NULL);

    const char *n, *v;
    CHECK_INT(respparser_header_at(p, 0, &n, &v), 0);
    CHECK_STR(n, "Content-Type");
    CHECK_STR(v, "text/plain");
    CHECK_INT(respparser_header_at(p, 5, &n, &v), 0);
    CHECK_STR(n, "X-Dup");
    CHECK_STR(v, "second");
    CHECK_INT(respparser_header_at(p, 6, &n, &v), -1);

    size_t len = 0;
    CHECK_STR(respparser_body(p, &len), "hello");
    CHECK_INT(len, 5);
    CHECK_INT(respparser_finish(p), PARSE_OK);
    respparser_free(p);
}

TEST(resp_bytewise)
{
    static const char res[] = "HTTP/1.1 404 Not Found\r\n"
                              "Content-Length: 9\r\n"
                              "X-Request-Id: abc\r\n"
                              "\r\n"
                              "not found";
    respparser_t *p = respparser_new(0);
    for (size_t i = 0; i < sizeof res - 1; i++) {
        CHECK_INT(respparser_feed(p, res + i, 1), PARSE_OK);
        CHECK_INT(respparser_done(p), i == sizeof res - 2);
    }
    CHECK_INT(respparser_status(p), 404);
    CHECK_STR(respparser_reason(p), "Not Found");
    CHECK_STR(respparser_header(p, "x-request-id"), "abc");
    CHECK_STR(respparser_body(p, NULL), "not found");
    respparser_free(p);
}

TEST(resp_no_reason_and_empty_body)
{
    respparser_t *p = respparser_new(0);
    CHECK_INT(respparser_feed(p, S("HTTP/1.1 204\r\n\r\n")), PARSE_OK);
    CHECK_INT(respparser_done(p), 1);
    CHECK_INT(respparser_status(p), 204);
    CHECK_STR(respparser_reason(p), "");
    size_t len = 99;
    const char *b = respparser_body(p, &len);
    CHECK(b != NULL);
    CHECK_INT(len, 0);
    CHECK_STR(b, "");
    const char *n, *v;
    CHECK_INT(respparser_header_at(p, 0, &n, &v), -1);
    respparser_free(p);

    /* Before anything arrives the getters are still safe. */
    p = respparser_new(0);
    CHECK_STR(respparser_reason(p), "");
    CHECK(respparser_header(p, "x") == NULL);
    CHECK_STR(respparser_body(p, NULL), "");
    respparser_free(p);
}

TEST(resp_chunked)
{
    static const char res[] = "HTTP/1.1 200 OK\r\n"
                              "Transfer-Encoding: chunked\r\n"
                              "Content-Type: application/json\r\n"
                              "\r\n"
                              "7;ext=1\r\n"
                              "{\"a\":1,\r\n"
                              "6\r\n"
                              "\"b\":2}\r\n"
                              "0\r\n"
                              "\r\n";
    respparser_t *p = respparser_new(0);
    CHECK_INT(respparser_feed(p, res, 40), PARSE_OK);
    CHECK_INT(respparser_done(p), 0);
    CHECK_INT(respparser_feed(p, res + 40, sizeof res - 1 - 40), PARSE_OK);
    CHECK_INT(respparser_done(p), 1);
    CHECK_INT(respparser_status(p), 200);
    CHECK_STR(respparser_header(p, "transfer-encoding"), "chunked");
    CHECK_STR(respparser_header(p, "content-type"), "application/json");
    size_t len = 0;
    CHECK_STR(respparser_body(p, &len), "{\"a\":1,\"b\":2}");
    CHECK_INT(len, 13);
    respparser_free(p);
}

/* Trailers after a chunked body must not hide the headers (nor be
 * mistaken for an unfinished header block). */
TEST(resp_chunked_trailers)
{
    static const char res[] = "HTTP/1.1 200 OK\r\n"
                              "Transfer-Encoding: chunked\r\n"
                              "Content-Type: text/plain\r\n"
                              "\r\n"
                              "5\r\n"
                              "hello\r\n"
                              "0\r\n"
                              "X-Checksum: abc\r\n"
                              "\r\n";
    respparser_t *p = respparser_new(0);
    CHECK_INT(respparser_feed(p, S(res)), PARSE_OK);
    CHECK_INT(respparser_done(p), 1);
    CHECK_STR(respparser_body(p, NULL), "hello");
    CHECK_STR(respparser_header(p, "content-type"), "text/plain");
    const char *n = NULL, *v = NULL;
    CHECK_INT(respparser_header_at(p, 0, &n, &v), 0);
    respparser_free(p);
}

TEST(resp_close_delimited)
{
    respparser_t *p = respparser_new(0);
    CHECK_INT(respparser_feed(p, S("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nabc")),
              PARSE_OK);
    CHECK_INT(respparser_done(p), 0);
    CHECK_INT(respparser_feed(p, S("def")), PARSE_OK);
    CHECK_INT(respparser_feed(p, "", 0), PARSE_OK); /* not taken as the end */
    CHECK_INT(respparser_done(p), 0);
    CHECK_INT(respparser_finish(p), PARSE_OK);
    CHECK_INT(respparser_done(p), 1);
    CHECK_INT(respparser_status(p), 200);
    size_t len = 0;
    CHECK_STR(respparser_body(p, &len), "abcdef");
    CHECK_INT(len, 6);
    CHECK_INT(respparser_finish(p), PARSE_OK); /* again: still fine */
    respparser_free(p);

    /* HTTP/1.0 without a length: also until the close. */
    p = respparser_new(0);
    CHECK_INT(respparser_feed(p, S("HTTP/1.0 200 OK\r\n\r\nold")), PARSE_OK);
    CHECK_INT(respparser_done(p), 0);
    CHECK_INT(respparser_finish(p), PARSE_OK);
    CHECK_STR(respparser_body(p, NULL), "old");
    respparser_free(p);
}

TEST(resp_finish_incomplete)
{
    respparser_t *p = respparser_new(0);
    CHECK_INT(respparser_feed(p, S("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")), PARSE_OK);
    CHECK_INT(respparser_finish(p), PARSE_ERROR);
    CHECK_INT(respparser_done(p), 0);
    CHECK_CONTAINS(respparser_error(p), "closed before");
    respparser_free(p);

    /* Closed in the middle of the headers. */
    p = respparser_new(0);
    CHECK_INT(respparser_feed(p, S("HTTP/1.1 200 OK\r\nContent-Le")), PARSE_OK);
    CHECK_INT(respparser_finish(p), PARSE_ERROR);
    CHECK(respparser_error(p)[0] != '\0');
    respparser_free(p);

    /* Closed with nothing received. */
    p = respparser_new(0);
    CHECK_INT(respparser_finish(p), PARSE_ERROR);
    CHECK(respparser_error(p)[0] != '\0');
    respparser_free(p);

    /* Chunked, closed before the last chunk. */
    p = respparser_new(0);
    CHECK_INT(respparser_feed(p, S("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                                   "3\r\nabc\r\n")),
              PARSE_OK);
    CHECK_INT(respparser_finish(p), PARSE_ERROR);
    CHECK_CONTAINS(respparser_error(p), "closed before");
    respparser_free(p);
}

TEST(resp_skips_100_continue)
{
    static const char res[] = "HTTP/1.1 100 Continue\r\n"
                              "\r\n"
                              "HTTP/1.1 103 Early Hints\r\n"
                              "Link: </style.css>; rel=preload\r\n"
                              "\r\n"
                              "HTTP/1.1 201 Created\r\n"
                              "Location: /items/7\r\n"
                              "Content-Length: 2\r\n"
                              "\r\n"
                              "ok";
    respparser_t *p = respparser_new(0);
    /* The interim response alone does not complete anything. */
    CHECK_INT(respparser_feed(p, res, 25), PARSE_OK);
    CHECK_INT(respparser_done(p), 0);
    CHECK_INT(respparser_feed(p, res + 25, sizeof res - 1 - 25), PARSE_OK);
    CHECK_INT(respparser_done(p), 1);
    CHECK_INT(respparser_status(p), 201);
    CHECK_STR(respparser_reason(p), "Created");
    CHECK_STR(respparser_header(p, "location"), "/items/7");
    CHECK(respparser_header(p, "link") == NULL); /* interim headers dropped */
    const char *n, *v;
    CHECK_INT(respparser_header_at(p, 0, &n, &v), 0);
    CHECK_STR(n, "Location");
    CHECK_INT(respparser_header_at(p, 2, &n, &v), -1);
    CHECK_STR(respparser_body(p, NULL), "ok");
    respparser_free(p);

    /* And byte by byte. */
    p = respparser_new(0);
    for (size_t i = 0; i < sizeof res - 1; i++)
        CHECK_INT(respparser_feed(p, res + i, 1), PARSE_OK);
    CHECK_INT(respparser_status(p), 201);
    CHECK_STR(respparser_body(p, NULL), "ok");
    respparser_free(p);
}

TEST(resp_body_over_max)
{
    /* Announced by Content-Length: refused at the headers. */
    respparser_t *p = respparser_new(4);
    CHECK_INT(respparser_feed(p, S("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n")), PARSE_ERROR);
    CHECK_INT(respparser_done(p), 0);
    CHECK_CONTAINS(respparser_error(p), "body larger than 4 bytes");
    CHECK_INT(respparser_feed(p, S("0123456789")), PARSE_ERROR);
    CHECK_INT(respparser_finish(p), PARSE_ERROR);
    respparser_free(p);

    /* Exactly max is fine. */
    p = respparser_new(4);
    CHECK_INT(respparser_feed(p, S("HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nabcd")), PARSE_OK);
    CHECK_INT(respparser_done(p), 1);
    CHECK_STR(respparser_body(p, NULL), "abcd");
    respparser_free(p);

    /* Chunked: refused as the chunks arrive. */
    p = respparser_new(4);
    CHECK_INT(respparser_feed(p, S("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                                   "3\r\nabc\r\n3\r\ndef\r\n0\r\n\r\n")),
              PARSE_ERROR);
    CHECK_INT(respparser_done(p), 0);
    CHECK_CONTAINS(respparser_error(p), "body larger than 4 bytes");
    respparser_free(p);

    /* Close-delimited: refused too. */
    p = respparser_new(4);
    CHECK_INT(respparser_feed(p, S("HTTP/1.1 200 OK\r\n\r\nabc")), PARSE_OK);
    CHECK_INT(respparser_feed(p, S("de")), PARSE_ERROR);
    CHECK_CONTAINS(respparser_error(p), "body larger than 4 bytes");
    CHECK_INT(respparser_finish(p), PARSE_ERROR);
    respparser_free(p);
}

TEST(resp_headers_over_max)
{
    respparser_t *p = respparser_new(0);
    CHECK_INT(respparser_feed(p, S("HTTP/1.1 200 OK\r\nX-Big: ")), PARSE_OK);
    static char chunk[4096];
    memset(chunk, 'a', sizeof chunk);
    int rc = PARSE_OK;
    for (int i = 0; i < 40 && rc == PARSE_OK; i++)
        rc = respparser_feed(p, chunk, sizeof chunk);
    CHECK_INT(rc, PARSE_ERROR);
    CHECK(respparser_error(p)[0] != '\0');
    respparser_free(p);
}

TEST(resp_ignores_trailing_bytes)
{
    respparser_t *p = respparser_new(0);
    CHECK_INT(respparser_feed(p, S("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhiGARBAGE\x01\x02")),
              PARSE_OK);
    CHECK_INT(respparser_done(p), 1);
    CHECK_STR(respparser_body(p, NULL), "hi");
    CHECK_INT(respparser_feed(p, S("HTTP/1.1 500 Nope\r\n\r\n")), PARSE_OK);
    CHECK_INT(respparser_status(p), 200);
    CHECK_STR(respparser_body(p, NULL), "hi");
    CHECK_INT(respparser_finish(p), PARSE_OK);
    respparser_free(p);
}

TEST(resp_malformed)
{
    static const char *bad[] = {
        "XTTP/1.1 200 OK\r\n\r\n",
        "HTTP/1.1 2x0 OK\r\n\r\n",
        "HTTP/1.1 OK\r\n\r\n",
        "GET / HTTP/1.1\r\n\r\n",
        "HTTP/1.1 200 OK\r\nBad\x01: x\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: abc\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nxyz\r\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        respparser_t *p = respparser_new(0);
        int rc = respparser_feed(p, bad[i], strlen(bad[i]));
        if (rc != PARSE_ERROR)
            fprintf(stderr, "malformed response accepted: %s\n", bad[i]);
        CHECK_INT(rc, PARSE_ERROR);
        CHECK_INT(respparser_done(p), 0);
        CHECK(respparser_error(p) != NULL && respparser_error(p)[0] != '\0');
        CHECK_INT(respparser_finish(p), PARSE_ERROR);
        respparser_free(p);
    }
}

/* ---- responses on a kept-alive connection ---- */

TEST(resp_reset_reuses_parser)
{
    respparser_t *p = respparser_new(0);
    size_t used = 0;
    static const char a[] = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nX-A: 1\r\n\r\nabc";
    CHECK_INT(respparser_feed_n(p, S(a), &used), PARSE_OK);
    CHECK_INT(used, sizeof a - 1);
    CHECK_INT(respparser_done(p), 1);
    CHECK_INT(respparser_keep_alive(p), 1);
    respparser_reset(p, 0);
    CHECK_INT(respparser_done(p), 0);
    CHECK_INT(respparser_keep_alive(p), 0);
    CHECK(respparser_header(p, "X-A") == NULL);
    CHECK_STR(respparser_body(p, NULL), "");
    static const char b[] = "HTTP/1.1 404 Nope\r\nTransfer-Encoding: chunked\r\n\r\n"
                            "2\r\nno\r\n0\r\n\r\n";
    CHECK_INT(respparser_feed_n(p, S(b), &used), PARSE_OK);
    CHECK_INT(respparser_status(p), 404);
    CHECK_STR(respparser_reason(p), "Nope");
    CHECK_STR(respparser_body(p, NULL), "no");
    CHECK_INT(respparser_keep_alive(p), 1);
    respparser_free(p);
}

TEST(resp_feed_n_reports_trailing_bytes)
{
    respparser_t *p = respparser_new(0);
    size_t used = 0;
    static const char a[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokEXTRA";
    CHECK_INT(respparser_feed_n(p, S(a), &used), PARSE_OK);
    CHECK_INT(respparser_done(p), 1);
    CHECK_INT(used, sizeof a - 1 - 5);
    /* Once done, more bytes are not taken. */
    CHECK_INT(respparser_feed_n(p, "x", 1, &used), PARSE_OK);
    CHECK_INT(used, 0);
    respparser_free(p);
}

TEST(resp_keep_alive_rules)
{
    static const struct {
        const char *text;
        int keep;
    } cases[] = {
        {"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 1},
        {"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n", 0},
        {"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", 0},
        {"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n", 1},
        {"HTTP/1.1 204 No Content\r\n\r\n", 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        respparser_t *p = respparser_new(0);
        CHECK_INT(respparser_feed(p, cases[i].text, strlen(cases[i].text)), PARSE_OK);
        CHECK_INT(respparser_done(p), 1);
        CHECK_INT(respparser_keep_alive(p), cases[i].keep);
        respparser_free(p);
    }
    /* A body delimited by the end of the connection cannot be kept. */
    respparser_t *p = respparser_new(0);
    CHECK_INT(respparser_feed(p, S("HTTP/1.1 200 OK\r\n\r\nbody")), PARSE_OK);
    CHECK_INT(respparser_finish(p), PARSE_OK);
    CHECK_INT(respparser_keep_alive(p), 0);
    respparser_free(p);
}

TEST(resp_head_has_no_body)
{
    respparser_t *p = respparser_new(0);
    respparser_reset(p, 1);
    static const char a[] = "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n";
    CHECK_INT(respparser_feed(p, S(a)), PARSE_OK);
    CHECK_INT(respparser_done(p), 1);
    CHECK_INT(respparser_keep_alive(p), 1);
    CHECK_STR(respparser_header(p, "content-length"), "1000");
    /* The next one is an ordinary response again. */
    respparser_reset(p, 0);
    CHECK_INT(respparser_feed(p, S("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n")), PARSE_OK);
    CHECK_INT(respparser_done(p), 0);
    CHECK_INT(respparser_feed(p, S("z")), PARSE_OK);
    CHECK_STR(respparser_body(p, NULL), "z");
    respparser_free(p);
}

TEST(resp_204_and_304_never_have_a_body)
{
    respparser_t *p = respparser_new(0);
    static const char *heads[] = {
        "HTTP/1.1 304 Not Modified\r\nETag: \"v1\"\r\nContent-Length: 1234\r\n\r\n",
        "HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n",
        "HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n"};
    for (size_t i = 0; i < sizeof heads / sizeof heads[0]; i++) {
        respparser_reset(p, 0);
        CHECK_INT(respparser_feed(p, heads[i], strlen(heads[i])), PARSE_OK);
        CHECK_INT(respparser_done(p), 1);
        CHECK_INT(respparser_keep_alive(p), 1);
        size_t n = 99;
        respparser_body(p, &n);
        CHECK_INT(n, 0);
    }
    respparser_free(p);
}

TEST(resp_101_is_an_error)
{
    static const char *heads[] = {
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
        "HTTP/1.1 101 Switching Protocols\r\n\r\n"};
    for (size_t i = 0; i < sizeof heads / sizeof heads[0]; i++) {
        respparser_t *p = respparser_new(0);
        CHECK_INT(respparser_feed(p, heads[i], strlen(heads[i])), PARSE_ERROR);
        CHECK_CONTAINS(respparser_error(p), "switched protocols (101)");
        respparser_free(p);
    }
}

/* Feeds text (split at `split` bytes when not 0) to the reused parser p
 * and to a new one; everything they report must be the same. */
static void check_like_new(respparser_t *p, const char *text, size_t split, int no_body,
                           size_t max_body, const char *what)
{
    respparser_t *f = respparser_new(max_body);
    respparser_reset(f, no_body);
    respparser_reset(p, no_body);
    size_t len = strlen(text);
    size_t parts[2] = {split ? split : len, split ? len - split : 0};
    size_t off = 0;
    for (int k = 0; k < 2 && parts[k]; k++) {
        size_t up = 0, uf = 0;
        int rp = respparser_feed_n(p, text + off, parts[k], &up);
        int rf = respparser_feed_n(f, text + off, parts[k], &uf);
        CHECK_INT(rp, rf);
        CHECK_INT(up, uf);
        if (rp != rf || up != uf)
            fprintf(stderr, "  in: %s (part %d)\n", what, k);
        if (rf != PARSE_OK)
            break;
        off += uf;
    }
    CHECK_INT(respparser_done(p), respparser_done(f));
    if (respparser_done(f)) {
        CHECK_INT(respparser_status(p), respparser_status(f));
        CHECK_STR(respparser_reason(p), respparser_reason(f));
        CHECK_INT(respparser_keep_alive(p), respparser_keep_alive(f));
        size_t bp = 0, bf = 0;
        const char *body_p = respparser_body(p, &bp), *body_f = respparser_body(f, &bf);
        CHECK_INT(bp, bf);
        CHECK(bp == bf && memcmp(body_p, body_f, bf) == 0);
        const char *np, *vp, *nf, *vf;
        size_t i = 0;
        for (; respparser_header_at(f, i, &nf, &vf) == 0; i++) {
            CHECK_INT(respparser_header_at(p, i, &np, &vp), 0);
            CHECK_STR(np, nf);
            CHECK_STR(vp, vf);
        }
        CHECK_INT(respparser_header_at(p, i, &np, &vp), -1);
    }
    respparser_free(f);
}

/* A parser on a kept-alive connection takes a head it has just parsed
 * without parsing it again: whatever comes, it must report what a new
 * parser reports. */
TEST(resp_repeated_heads_read_as_a_new_parser_reads_them)
{
#define HEAD_A "HTTP/1.1 200 OK\r\nDate: Fri, 27 Nov 2026 10:00:00 GMT\r\nX-A:  v \r\n"
    static const struct {
        const char *text;
        size_t split;
        int no_body;
    } steps[] = {
        {HEAD_A "Content-Length: 5\r\n\r\nhello", 0, 0},
        {HEAD_A "Content-Length: 5\r\n\r\nhello", 0, 0},
        {HEAD_A "Content-Length: 5\r\n\r\nworld", 0, 0},
        {HEAD_A "Content-Length: 5\r\n\r\nworldHTTP/1.1 200 OK\r\n", 0, 0},
        {HEAD_A "Content-Length: 5\r\n\r\nwor", 0, 0},
        {HEAD_A "Content-Length: 5\r\n\r\nworld", 40, 0},
        {HEAD_A "Content-Length: 5\r\n\r\nworld", sizeof HEAD_A + 20, 0},
        {HEAD_A "Content-Length: 5\r\n\r\n", 0, 1},
        {HEAD_A "Content-Length: 5\r\n\r\nhello", 0, 0},
        {HEAD_A "Content-Length: 6\r\n\r\nhello!", 0, 0},
        {HEAD_A "Content-Length: 5\r\n\r\nhello", 0, 0},
        {HEAD_A "Content-Length: 5\r\n\rXhello", 0, 0},
        {HEAD_A "Content-Length: 5\r\n\r\nhello", 0, 0},
        {HEAD_A "Content-Length: 0\r\n\r\n", 0, 0},
        {HEAD_A "Content-Length: 0\r\n\r\n", 0, 0},
        {"HTTP/1.1 204 No Content\r\nX-B: 1\r\n\r\n", 0, 0},
        {"HTTP/1.1 204 No Content\r\nX-B: 1\r\n\r\n", 0, 0},
        {"HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\n", 0, 0},
        {"HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\n", 0, 0},
        {"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok", 0, 0},
        {"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok", 0, 0},
        {"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok", 0, 0},
        {"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok", 0, 0},
        {"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Made\r\nContent-Length: 2\r\n\r\nok", 0, 0},
        {"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Made\r\nContent-Length: 2\r\n\r\nok", 0, 0},
        {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n", 0, 0},
        {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n", 0, 0},
        {"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok!", 0, 0},
        {"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok!", 0, 0},
        {"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", 0, 0},
        {"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", 0, 0},
        {"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\no", 0, 0},
    };
    respparser_t *p = respparser_new(0);
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        char what[32];
        snprintf(what, sizeof what, "step %zu", i);
        check_like_new(p, steps[i].text, steps[i].split, steps[i].no_body, 0, what);
    }
    respparser_free(p);
    /* A body limit still holds for a repeated head. */
    p = respparser_new(4);
    check_like_new(p, "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc", 0, 0, 4, "limit 1");
    check_like_new(p, "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nxyz", 0, 0, 4, "limit 2");
    check_like_new(p, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nabcde", 0, 0, 4, "limit 3");
    check_like_new(p, "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc", 0, 0, 4, "limit 4");
    respparser_free(p);
#undef HEAD_A
}

TEST(resp_status_out_of_range)
{
    static const char *bad[] = {"HTTP/1.1 1 Continue\r\n\r\n", "HTTP/1.1 99 X\r\n\r\n",
                                "HTTP/1.1 600 X\r\nContent-Length: 0\r\n\r\n",
                                "HTTP/1.1 999 X\r\nContent-Length: 0\r\n\r\n"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        respparser_t *p = respparser_new(0);
        CHECK_INT(respparser_feed(p, bad[i], strlen(bad[i])), PARSE_ERROR);
        CHECK_CONTAINS(respparser_error(p), "invalid HTTP status code");
        respparser_free(p);
    }
    respparser_t *p = respparser_new(0);
    /* http-parser lets a NUL through at the start of a value. */
    CHECK_INT(respparser_feed(p, S("HTTP/1.1 200 OK\r\nX-A:\0b\r\n\r\n")), PARSE_ERROR);
    CHECK(respparser_error(p)[0] != '\0');
    respparser_free(p);
}

TEST(resp_header_next)
{
    respparser_t *p = respparser_new(0);
    static const char a[] = "HTTP/1.1 200 OK\r\nA: 1\r\nEmpty:\r\nLong-Name:  two words \r\n"
                            "Content-Length: 0\r\n\r\n";
    CHECK_INT(respparser_feed(p, S(a)), PARSE_OK);
    size_t pos = 0, nl, vl;
    const char *n, *v;
    CHECK_INT(respparser_header_next(p, &pos, &n, &nl, &v, &vl), 0);
    CHECK_STR(n, "A");
    CHECK_INT(nl, 1);
    CHECK_STR(v, "1");
    CHECK_INT(respparser_header_next(p, &pos, &n, &nl, &v, &vl), 0);
    CHECK_STR(n, "Empty");
    CHECK_INT(vl, 0);
    CHECK_INT(respparser_header_next(p, &pos, &n, &nl, &v, &vl), 0);
    CHECK_STR(v, "two words");
    CHECK_INT(vl, 9);
    CHECK_INT(respparser_header_next(p, &pos, &n, &nl, &v, &vl), 0);
    CHECK_STR(n, "Content-Length");
    CHECK_INT(respparser_header_next(p, &pos, &n, &nl, &v, &vl), -1);
    respparser_free(p);
}

#define FEED(p, text) respparser_feed((p), (text), strlen(text))

TEST(resp_body_taken_as_it_arrives)
{
    static const char head40[] = "HTTP/1.1 200 OK\r\nContent-Length: 40\r\n\r\n";
    respparser_t *p = respparser_new(16);
    /* Without deferring, an announced length over the limit fails at the head. */
    CHECK_INT(FEED(p, head40), PARSE_ERROR);
    CHECK_CONTAINS(respparser_error(p), "larger than 16");
    respparser_reset(p, 0);
    respparser_defer_limit(p);
    CHECK_INT(respparser_head_done(p), 0);
    CHECK_INT(FEED(p, "HTTP/1.1 100 Continue\r\n\r\n"), PARSE_OK);
    CHECK_INT(respparser_head_done(p), 0); /* an interim answer is not the head */
    CHECK_INT(FEED(p, head40), PARSE_OK);
    CHECK_INT(FEED(p, "0123456789"), PARSE_OK);
    CHECK_INT(respparser_head_done(p), 1);
    CHECK(respparser_content_length(p) == 40);
    size_t n = 0;
    CHECK_STR(respparser_body(p, &n), "0123456789");
    /* Taken piece by piece, the limit bounds what is held at once. */
    for (int i = 0; i < 3; i++) {
        respparser_body_drop(p);
        CHECK_INT(FEED(p, "abcdefghij"), PARSE_OK);
        CHECK_STR(respparser_body(p, &n), "abcdefghij");
    }
    CHECK_INT(respparser_done(p), 1);
    /* Gathered after all: the limit applies to the announced length. */
    respparser_reset(p, 0);
    respparser_defer_limit(p);
    CHECK_INT(FEED(p, head40), PARSE_OK);
    CHECK_INT(respparser_check_length(p), PARSE_ERROR);
    CHECK_CONTAINS(respparser_error(p), "larger than 16");
    /* Chunked: no length. */
    respparser_reset(p, 0);
    respparser_defer_limit(p);
    CHECK_INT(FEED(p, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"), PARSE_OK);
    CHECK_INT(respparser_head_done(p), 1);
    CHECK(respparser_content_length(p) == UINT64_MAX);
    CHECK_INT(respparser_check_length(p), PARSE_OK);
    respparser_free(p);
}

TEST(resp_reset_releases_large_buffers)
{
    respparser_t *p = respparser_new(0);
    static char big[600 * 1024];
    memset(big, 'x', sizeof big);
    char head[80];
    snprintf(head, sizeof head, "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n", sizeof big);
    CHECK_INT(respparser_feed(p, head, strlen(head)), PARSE_OK);
    CHECK_INT(respparser_feed(p, big, sizeof big), PARSE_OK);
    size_t len = 0;
    respparser_body(p, &len);
    CHECK_INT(len, sizeof big);
    respparser_reset(p, 0);
    CHECK_STR(respparser_body(p, &len), "");
    CHECK_INT(len, 0);
    CHECK_INT(respparser_feed(p, S("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi")), PARSE_OK);
    CHECK_STR(respparser_body(p, NULL), "hi");
    respparser_free(p);
}

int main(void)
{
    RUN(req_get_fields);
    RUN(req_get_bytewise);
    RUN(req_methods);
    RUN(req_content_length_body);
    RUN(req_content_length_zero);
    RUN(req_chunked_extensions_trailers);
    RUN(req_keep_alive);
    RUN(req_pipelined_pause);
    RUN(req_pause_single_message);
    RUN(req_no_pause_pipelined);
    RUN(req_callback_errors);
    RUN(req_callback_error_bytewise);
    RUN(req_head_error_stops_before_body);
    RUN(req_malformed);
    RUN(req_malformed_error_position);
    RUN(req_upgrade_consumes_rest);
    RUN(req_callback_error_flag_resets);
    RUN(resp_basic);
    RUN(resp_bytewise);
    RUN(resp_no_reason_and_empty_body);
    RUN(resp_chunked);
    RUN(resp_chunked_trailers);
    RUN(resp_close_delimited);
    RUN(resp_finish_incomplete);
    RUN(resp_skips_100_continue);
    RUN(resp_body_over_max);
    RUN(resp_headers_over_max);
    RUN(resp_ignores_trailing_bytes);
    RUN(resp_malformed);
    RUN(resp_reset_reuses_parser);
    RUN(resp_feed_n_reports_trailing_bytes);
    RUN(resp_keep_alive_rules);
    RUN(resp_head_has_no_body);
    RUN(resp_204_and_304_never_have_a_body);
    RUN(resp_101_is_an_error);
    RUN(resp_repeated_heads_read_as_a_new_parser_reads_them);
    RUN(resp_status_out_of_range);
    RUN(resp_header_next);
    RUN(resp_reset_releases_large_buffers);
    RUN(resp_body_taken_as_it_arrives);
    return TEST_REPORT();
}
