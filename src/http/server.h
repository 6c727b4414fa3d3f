/*
 * server.h -- the HTTP/1.1 server: libuv streams + the request parser.
 *
 * Keep-alive, pipelining (requests are answered in order, one at a time per
 * connection), Content-Length and chunked bodies (with trailer fields), HEAD, Expect:
 * 100-continue, Connection: close, limits with their status codes (URL 414,
 * headers 431, body 413, slow headers 408, too many connections 503,
 * malformed 400), and a graceful stop.
 *
 * Lifecycle of a request: the server parses it into the connection's one
 * http_request_t and calls the handler. The handler answers with
 * http_respond(), at once or later from the same loop; until then the
 * connection reads no further request. The request and everything reachable
 * from it (headers, body, arena) stay valid until http_respond() returns;
 * after that the pointer must not be used. If the client goes away first,
 * http_respond() still must be called and just releases the request;
 * http_request_gone() tells whether that happened.
 *
 * Output is buffered per connection and written once per loop turn (a check
 * handle), so pipelined and concurrent answers cost one write each turn.
 */
#ifndef STRATUS_SERVER_H
#define STRATUS_SERVER_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "../util/arena.h"
#include "../util/buf.h"
#include "../util/sv.h"

#define HTTP_MAX_URL 8192
#define HTTP_MAX_HEADERS_BYTES (64 * 1024)
#define HTTP_MAX_HEADER_COUNT 256

typedef struct http_header {
    sv_t name;
    sv_t value;
} http_header_t;

typedef struct http_conn http_conn_t;
typedef struct http_server http_server_t;

typedef struct http_request {
    unsigned method;          /* METHOD_* bit (http/method.h) or METHOD_OTHER */
    const char *method_name;  /* "GET", ... */
    int http_major, http_minor;
    sv_t target;              /* the raw request target */
    sv_t path;                /* target up to '?', still percent-encoded */
    sv_t query;               /* after '?', without it; n == 0 when none */
    http_header_t *headers;
    size_t nheaders;
    /* Trailer fields after a chunked body (none otherwise), kept apart from
     * the headers: a field a client sends after the body must not pass for
     * one it sent before it. Counted with the headers against the header
     * limits (431). */
    http_header_t *trailers;
    size_t ntrailers;
    buf_t body;
    arena_t arena;            /* per-request memory, reset after the answer */
    char remote_addr[64];     /* "127.0.0.1" */
    int local_port;           /* the port the client connected to (0 unknown) */
    uint64_t start_ns;        /* uv_hrtime() when the headers were complete */
    /* Headers every answer to this request carries (CORS), set by the
     * handler; a header of the same name in the answer wins. */
    const http_header_t *extra;
    size_t nextra;
    http_conn_t *conn;
} http_request_t;

typedef void (*http_handler_fn)(http_request_t *req, void *data);

/* Told when the server refuses a request on its own once its target is
 * known (413 for a body over max_body, 431 or 400 for headers too large or
 * malformed): target is the request target, valid during the call; method
 * is empty when the head was not read whole. The handler never sees such a
 * request. */
typedef void (*http_refused_fn)(http_server_t *s, sv_t method, sv_t target, int status,
                                void *data);

/* The most body bytes this request may have (413 beyond), asked once its
 * head has been read (headers set; target is the request target, valid
 * during the call): a server whose requests differ in what they may carry
 * raises or lowers max_body per request. */
typedef uint64_t (*http_body_limit_fn)(http_server_t *s, const http_request_t *req, sv_t target,
                                       void *data);

typedef struct http_server_config {
    size_t max_url;              /* 414 beyond */
    size_t max_headers;          /* 431 beyond (bytes of names and values) */
    uint64_t max_body;           /* 413 beyond */
    uint64_t header_timeout_ms;  /* 408 when a request's head or body stalls */
    uint64_t keepalive_timeout_ms; /* idle connections are closed after it */
    size_t max_connections;      /* 503 beyond */
    int json_errors;             /* the server's own error answers as AWS's JSON
                                  * {"errorMessage", "errorType"} (else text) */
    int keep_identity_headers;   /* pass on X-MS-CLIENT-PRINCIPAL* and X-MS-TOKEN-*
                                  * (else dropped: only a front end that sets
                                  * them, and strips a client's, may be believed) */
} http_server_config_t;

struct http_server {
    uv_loop_t *loop;
    uv_tcp_t listener;
    uv_check_t flush_check;
    uv_timer_t sweep_timer;
    http_server_config_t cfg;
    http_handler_fn handler;
    void *handler_data;
    http_conn_t *conns;        /* all open connections (doubly linked) */
    http_conn_t *dirty;        /* connections with output or work pending */
    size_t nconns;
    size_t active_requests;    /* requests handed to the handler, not yet answered */
    int listening;
    int draining;
    void (*drained_cb)(http_server_t *s);
    char *rbuf;                /* shared read buffer */
    size_t rbuf_size;
    int rbuf_in_use;
    http_refused_fn refused;   /* optional, see http_server_on_refused() */
    http_body_limit_fn body_limit; /* optional, see http_server_on_body_limit() */
    void (*closed_cb)(http_server_t *s);
    int handles_open;          /* listener, check, timer: counted once closing */
};

/* Prepare a server on loop. 0 or a negative libuv error. */
int http_server_init(http_server_t *s, uv_loop_t *loop, const http_server_config_t *cfg,
                     http_handler_fn handler, void *data);

/* Bind and listen. host is an IPv4 or IPv6 address. 0 or a negative libuv
 * error (e.g. UV_EADDRINUSE). */
int http_server_listen(http_server_t *s, const char *host, int port);

/* Bind a socket to host:port before the server is made, so that the port
 * (*bound_port: the one chosen, with port 0) is known early; give *fd to
 * http_server_listen_fd() to start accepting, or close it. 0 or a negative
 * errno (the libuv errors: UV_EADDRINUSE, ...). */
int http_listener_bind(const char *host, int port, int *fd, int *bound_port);

/* Listen on a socket from http_listener_bind(), which the server then owns
 * (closed on failure too). 0 or a negative libuv error. */
int http_server_listen_fd(http_server_t *s, int fd);

/* The port actually bound (useful with port 0). */
int http_server_port(http_server_t *s);

/* Stop accepting; let in-flight requests finish and close each connection
 * after its current answer; idle connections close now. cb runs once no
 * connection is left. */
void http_server_drain(http_server_t *s, void (*cb)(http_server_t *s));

/* Close every connection and the server's handles now (after a bounded
 * drain). Requests still with the handler are released when it answers. */
void http_server_close(http_server_t *s);

/* Like http_server_close(), then cb(s) once every handle and connection of
 * the server is closed and freed, so that the memory holding s may go (after
 * http_server_free()). Requests still with the handler must be answered
 * (http_respond releases them) before cb can run. */
void http_server_close_cb(http_server_t *s, void (*cb)(http_server_t *s));

/* Be told of requests the server refuses itself (see http_refused_fn). */
void http_server_on_refused(http_server_t *s, http_refused_fn fn);

/* Decide each request's body limit (see http_body_limit_fn); without it
 * every request has cfg.max_body. */
void http_server_on_body_limit(http_server_t *s, http_body_limit_fn fn);

/* Release the server's memory once its handles have closed (after
 * http_server_close() and a run of the loop). */
void http_server_free(http_server_t *s);

/* Answer a request. headers are the response headers to add (the server
 * adds Date, Content-Length and Connection); body may be NULL. For HEAD the
 * body is not sent. After this call req must not be used. */
void http_respond(http_request_t *req, int status, const http_header_t *headers,
                  size_t nheaders, const void *body, size_t body_len);

/* The same with the body in a buffer whose storage the server may take: a
 * large body is then written from it, not copied, and body is left empty
 * (still initialised, with its maximum). A small one is copied as by
 * http_respond() and body is left as it was. */
void http_respond_take(http_request_t *req, int status, const http_header_t *headers,
                       size_t nheaders, buf_t *body);

/* Streamed answers, for a body that is not known in advance (a live log):
 * http_stream_start() queues the head (Transfer-Encoding: chunked; to an
 * HTTP/1.0 client no length, and the connection closes at the end), each
 * http_stream_write() a chunk, http_stream_end() the last chunk; then the
 * request is released as by http_respond() (which also ends a stream).
 * Until the end the request stays with the handler and counts as in
 * flight (a drain waits for it: end streams when stopping). Output is
 * written once per loop turn as for any answer; http_stream_unsent() says
 * how much is still waiting for a slow client, so the caller can bound it.
 *
 * gone(req, data) is called once when the client goes away while the
 * answer streams (it closed its side, an error, the server closing),
 * possibly from inside any server callback but never from inside
 * http_stream_write(); the handler then calls http_stream_end(), which
 * just releases the request. start and write return 0, or -1 when the
 * client is gone (or the call is out of order). */
typedef void (*http_gone_fn)(http_request_t *req, void *data);
int http_stream_start(http_request_t *req, int status, const http_header_t *headers,
                      size_t nheaders, http_gone_fn gone, void *data);
int http_stream_write(http_request_t *req, const void *p, size_t n);
size_t http_stream_unsent(const http_request_t *req);
void http_stream_end(http_request_t *req);

/* A streamed answer whose length is known (a proxied answer with a
 * Content-Length): the head says Content-Length, the writes are sent as
 * they are (never more than length in all), and an end that comes short of
 * length aborts. HTTP_STREAM_NO_LENGTH makes it http_stream_start(). */
#define HTTP_STREAM_NO_LENGTH UINT64_MAX
int http_stream_start_len(http_request_t *req, int status, const http_header_t *headers,
                          size_t nheaders, uint64_t length, http_gone_fn gone, void *data);

/* End a streamed answer that failed half-way: what was written goes out,
 * then the connection closes without the last chunk (or short of the
 * announced length), so that the client knows the answer is incomplete.
 * The request is released as by http_stream_end(). */
void http_stream_abort(http_request_t *req);

/* Be told once (fn(req, data), from the loop) when all of a streamed
 * answer's output has been written: a streamer that stopped its source
 * because http_stream_unsent() grew starts it again. */
void http_stream_on_drain(http_request_t *req, http_gone_fn fn, void *data);

/* The first value of a request header (case-insensitive), or SV_NULL. */
sv_t http_request_header(const http_request_t *req, const char *name);

/* The first value of a trailer field of a chunked request
 * (case-insensitive), or SV_NULL. */
sv_t http_request_trailer(const http_request_t *req, const char *name);

/* Be told once (fn(req, data)) when the client ends its side of the
 * connection, or the connection fails, while the handler has the request:
 * a proxy then gives up on the request it passed on (as nginx does: a
 * client that half-closes is taken as gone). Not told of what happened
 * before the call: check http_request_eof() first. The request must still
 * be answered (http_respond, which then just releases it). A streamed
 * answer's gone callback (http_stream_start) takes the place of this one. */
void http_request_on_gone(http_request_t *req, http_gone_fn fn, void *data);

/* 1 when the client has gone away while the request was being handled. */
int http_request_gone(const http_request_t *req);

/* 1 when it went away because the server closed the connection (a stop
 * past its drain limit, a second interrupt), not the client. */
int http_request_dropped(const http_request_t *req);

/* 1 when the client has ended its side of the connection (it may still be
 * reading: HTTP allows a half-close; a long poll treats it as gone). */
int http_request_eof(const http_request_t *req);

/* The reason phrase of a status code ("Not Found"). */
const char *http_status_text(int status);

/* The registered reason phrase of status, or NULL for an unregistered code. */
const char *http_status_reason(int status);

#endif
