/*
 * parser.h -- the one small wrapper around the HTTP/1.1 parser: requests
 * for the server, responses for the command-line client and for the
 * asynchronous upstream client (upstream.h).
 *
 * Only parser.c knows the parser library (http-parser today); swapping in
 * llhttp means rewriting that one file. Request events arrive through
 * callbacks as the bytes are fed; any callback may return non-zero to stop
 * with an error, and on_message_complete may ask for a pause so the caller
 * can answer one request before the next pipelined one is parsed. The
 * response parser instead accumulates one whole response into bounded
 * buffers (see the second half of this file).
 */
#ifndef STRATUS_PARSER_H
#define STRATUS_PARSER_H

#include <stddef.h>
#include <stdint.h>

#include "../util/buf.h"

typedef struct reqparser reqparser_t;

typedef struct reqparser_head {
    const char *method;  /* "GET", ... (static string) */
    int http_major, http_minor;
    int keep_alive;      /* per the version and Connection header */
    int chunked;
    int upgrade;
    int has_length;      /* a Content-Length header was present */
    uint64_t content_length;
} reqparser_head_t;

typedef struct reqparser_callbacks {
    int (*on_message_begin)(void *data);
    int (*on_url)(void *data, const char *at, size_t len);
    int (*on_header_field)(void *data, const char *at, size_t len);
    int (*on_header_value)(void *data, const char *at, size_t len);
    int (*on_headers_complete)(void *data, const reqparser_head_t *head);
    int (*on_body)(void *data, const char *at, size_t len);
    /* Return 1 to pause after this message, 0 to go on, -1 for an error. */
    int (*on_message_complete)(void *data);
} reqparser_callbacks_t;

enum { PARSE_OK = 0, PARSE_PAUSED = 1, PARSE_ERROR = -1 };

/* A new parser for a stream of requests, calling cb with data; NULL when
 * out of memory. reqparser_free() releases it. */
reqparser_t *reqparser_new(const reqparser_callbacks_t *cb, void *data);
void reqparser_free(reqparser_t *p);

/* Feed bytes. Returns PARSE_OK (all consumed), PARSE_PAUSED (*used bytes
 * consumed; call reqparser_resume before feeding the rest) or PARSE_ERROR
 * (a callback failed or the bytes are not HTTP; *used is where). */
int reqparser_feed(reqparser_t *p, const char *data, size_t len, size_t *used);
void reqparser_resume(reqparser_t *p);

/* A short description of the last error ("invalid HTTP method"). */
const char *reqparser_error(const reqparser_t *p);

/* 1 when a callback caused the last error (the caller knows why). */
int reqparser_error_is_callback(const reqparser_t *p);

/* ---- responses -------------------------------------------------------------
 *
 * Lifecycle: respparser_new() -> respparser_feed() as bytes arrive, until
 * respparser_done() -> read status, headers and body -> respparser_free().
 * When the peer closes the connection first, call respparser_finish(): a
 * response delimited by the end of the connection is then complete. One
 * parser reads one response; interim 1xx responses (100 Continue) are
 * skipped, and bytes after the response are ignored. Every pointer the
 * getters return belongs to the parser and stays valid until
 * respparser_free(). Responses to HEAD requests are not supported (the
 * parser would wait for the body that Content-Length announces).
 */

typedef struct respparser respparser_t;

#define RESPPARSER_MAX_HEAD (64 * 1024)         /* status line + headers */
#define RESPPARSER_MAX_BODY (16 * 1024 * 1024)  /* default body limit */

/* A new response parser whose body may hold up to max_body bytes (0 means
 * RESPPARSER_MAX_BODY); NULL when out of memory. */
respparser_t *respparser_new(size_t max_body);
void respparser_free(respparser_t *p);

/* Feed bytes. PARSE_OK (consumed; check respparser_done) or PARSE_ERROR
 * (not HTTP, or a limit was passed; see respparser_error). Feeding after
 * the response is complete is a no-op returning PARSE_OK. */
int respparser_feed(respparser_t *p, const char *data, size_t len);

/* Tell the parser the connection was closed. PARSE_OK when that completes
 * the response (or it was already complete), PARSE_ERROR otherwise. */
int respparser_finish(respparser_t *p);

/* 1 once a whole response has been parsed, else 0. */
int respparser_done(const respparser_t *p);

/* The status code (0 before the status line) and the reason phrase as
 * sent ("" when none). */
int respparser_status(const respparser_t *p);
const char *respparser_reason(const respparser_t *p);

/* The value of header `name` (case-insensitive, first occurrence), or NULL. */
const char *respparser_header(const respparser_t *p, const char *name);

/* Iterate headers in arrival order: 0 with *name and *value set for index
 * i, or -1 past the end. */
int respparser_header_at(const respparser_t *p, size_t i, const char **name,
                         const char **value);

/* The body received so far, NUL-terminated (not counted); *len (if not
 * NULL) receives its length. Never NULL. */
const char *respparser_body(const respparser_t *p, size_t *len);

/* Move the body received so far into dst without copying it (dst's old
 * contents are freed; the parser's body is then empty). 0, or -1 (nothing
 * moved) when it is larger than dst's maximum. */
int respparser_body_take(respparser_t *p, buf_t *dst);

/* Forget the body bytes received so far (a reader that consumes a
 * streamed body as it arrives); the body limit then applies to what
 * arrives next. */
void respparser_body_drop(respparser_t *p);

/* A short description of the last error ("response body larger than 16777216
 * bytes", "invalid HTTP status code", ...). */
const char *respparser_error(const respparser_t *p);

/* ---- responses on a kept-alive connection ----------------------------------
 *
 * A connection that carries one request after another reuses one parser:
 * respparser_reset() before each response keeps the storage (releasing
 * buffers that grew large), so a steady stream of responses allocates
 * nothing.
 */

/* Forget the last response and get ready for the next one. no_body: the
 * request was HEAD, so the response ends with its headers whatever they
 * announce. */
void respparser_reset(respparser_t *p, int no_body);

/* respparser_feed() that also tells how many bytes were used: *used < len
 * when the response completed before the end of data (what follows is the
 * next response when requests were pipelined, else bytes nobody asked
 * for). */
int respparser_feed_n(respparser_t *p, const char *data, size_t len, size_t *used);

/* ---- taking a body as it arrives ------------------------------------------
 *
 * A reader that may pass the body on piece by piece (a proxy) calls
 * respparser_defer_limit() after respparser_reset(): a Content-Length over
 * the body limit is then no error at the head. Once the head is in
 * (respparser_head_done) it either consumes the body as it comes
 * (respparser_body, then respparser_body_drop after each feed: the limit
 * then bounds only what is held at once) or gathers it, and then calls
 * respparser_check_length(), which applies the limit to the announced
 * length as the head would have.
 */
void respparser_defer_limit(respparser_t *p);

/* 1 once the head of the final (non-1xx) response has been parsed. */
int respparser_head_done(const respparser_t *p);

/* The response's Content-Length once its head is in; UINT64_MAX when it
 * has none (chunked, or delimited by the end of the connection). */
uint64_t respparser_content_length(const respparser_t *p);

/* Apply the body limit again after respparser_defer_limit(): PARSE_OK, or
 * PARSE_ERROR (respparser_error says why) when the announced length or the
 * body held is over it. */
int respparser_check_length(respparser_t *p);

/* Once respparser_done(): 1 when the connection may carry another request
 * (HTTP/1.1 without "Connection: close", or HTTP/1.0 with keep-alive, and
 * a body not delimited by the end of the connection), else 0. */
int respparser_keep_alive(const respparser_t *p);

/* Walk the headers in arrival order without rescanning: *pos starts at 0.
 * 0 with name/value (NUL-terminated) and their lengths set, or -1 at the
 * end (or while the headers are still arriving). */
int respparser_header_next(const respparser_t *p, size_t *pos, const char **name,
                           size_t *name_len, const char **value, size_t *value_len);

#endif
