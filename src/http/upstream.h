/*
 * upstream.h -- an asynchronous HTTP/1.1 client on libuv, for talking to
 * local HTTP servers from the loop (custom handlers): one upstream_t per
 * address, a pool of keep-alive connections, HTTP/1.1 pipelining (RFC 9112
 * section 9.3.2), bounded buffers, timeouts.
 *
 * The caller builds the request head itself (request line, headers,
 * framing header and the blank line) and hands it over with the body; the
 * client writes both with one system call when it can, and reads the
 * response with the shared response parser (parser.h): Content-Length,
 * chunked, or delimited by the end of the connection.
 *
 * Lifecycle of a call: the caller owns an upstream_call_t (in an arena, for
 * instance), fills its public fields and calls upstream_send(). The head
 * and body are referenced, not copied, until the callback runs or the call
 * is detached. The callback runs exactly once, from the loop, unless the
 * call is detached first; during the callback the response (status,
 * headers, body) can be read from the parser it receives, which belongs to
 * the connection and is reused as soon as the callback returns.
 * upstream_detach() gives up on a call: the callback will not run and the
 * call's memory may be reused at once. A connection still writing the
 * request is closed; one waiting for the answer waits on (up to the call's
 * timeout) so that the peer can finish, then is reused or closed.
 *
 * Pipelining: calls sent during one loop turn are gathered per connection
 * and written at the end of the turn (a uv_check_t), several requests in
 * one system call, up to max_pipeline requests in flight per connection;
 * responses are matched to requests in order. Calls fill the connection
 * that is gathering this turn's requests, then an idle one, then a new one
 * (while under max_conns), then the least loaded busy one. Only replayable
 * (idempotent) calls go behind others; a call that is not replayable goes
 * only on a connection with nothing in flight, and nothing follows it
 * there until it is answered. When a connection ends with calls
 * unanswered (the peer closed it, answered "Connection: close", sent a
 * response that does not parse, a call timed out), the call at fault gets
 * the error, and each call behind it is sent once more on another
 * connection when replayable, or fails with UPSTREAM_EIO. A connection
 * whose in-flight call is detached takes no new call until everything it
 * carries is answered.
 *
 * A connection that has served its exchanges goes back to the pool when
 * both sides agreed to keep it alive, and is closed after idle_timeout_ms
 * unused, or at once if the peer closes it or sends anything unasked.
 *
 * Streaming: a call with a head_cb hears of its response's head as soon as
 * it is in, unless the whole response came with it (then the callback
 * alone runs, as for any call). When head_cb takes the body, each piece
 * goes to body_cb as it is read, nothing is gathered and the body limit
 * does not apply; the callback then runs at the end with an empty body, or
 * with an error if the answer is cut short. upstream_pause() stops reading
 * the answer (a slow receiver downstream) until upstream_resume(); the
 * call's timeout still runs. Detaching a call whose body streams closes
 * its connection: an answer without an end would hold it forever. For the
 * same reason, the calls pipelined behind a streamed answer go to another
 * connection (sent again if written: they are replayable), and nothing new
 * goes behind it.
 *
 * Lifecycle of an upstream: upstream_new() -> upstream_send() ... ->
 * upstream_close(): calls still pending fail with UPSTREAM_ECLOSED, every
 * connection is closed, the upstream frees itself once its handles have
 * closed and then runs the close callback.
 */
#ifndef STRATUS_UPSTREAM_H
#define STRATUS_UPSTREAM_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "parser.h"

/* Status given to the callback. */
enum {
    UPSTREAM_OK = 0,
    UPSTREAM_ECONNECT = -1,   /* could not connect (refused, ...) */
    UPSTREAM_EIO = -2,        /* the connection failed or closed before a whole response */
    UPSTREAM_EPROTO = -3,     /* the response is not valid HTTP or passes a limit */
    UPSTREAM_ETIMEDOUT = -4,  /* no whole response within the call's timeout */
    UPSTREAM_ECLOSED = -5,    /* upstream_close() was called */
    UPSTREAM_ENOMEM = -6
};

typedef struct upstream upstream_t;
typedef struct upstream_call upstream_call_t;
typedef struct upstream_conn upstream_conn_t;

/* status is UPSTREAM_OK with resp complete, or an error with resp NULL. The
 * callback may take the body (respparser_body_take); resp is not valid after
 * it returns. */
typedef void (*upstream_cb)(upstream_call_t *call, int status, respparser_t *resp);

struct upstream_call {
    /* ---- filled by the caller ---- */
    const char *head;       /* request line ... "\r\n\r\n"; with the framing header */
    size_t head_len;
    const char *body;       /* may be NULL */
    size_t body_len;
    int chunked;            /* send the body as one chunk and a last chunk (the head
                               says "Transfer-Encoding: chunked") */
    int no_body;            /* HEAD: the response has no body */
    int replayable;         /* idempotent (GET, HEAD, PUT, DELETE, OPTIONS, TRACE):
                               may be pipelined behind other calls, and sent again
                               on another connection when its own ends before any
                               answer to it (once) */
    int solo;               /* not pipelined: sent on a connection with nothing in
                               flight, and nothing goes behind it until it is
                               answered (a call expected to be slow, or to stream;
                               the client sets it too on a call it moves off a
                               connection whose answer streams) */
    uint64_t timeout_ms;    /* whole exchange, connect included; 0 = none */
    upstream_cb cb;
    void *data;
    /* Optional, for passing an answer on as it arrives (see "Streaming"
     * above): head_cb runs once when the response's head is in and its body
     * is still to come; it returns 1 to take the body through body_cb, 0 to
     * have it gathered as usual. */
    int (*head_cb)(upstream_call_t *call, respparser_t *resp);
    void (*body_cb)(upstream_call_t *call, const char *p, size_t n);

    /* ---- set by the client ---- */
    char error[160];        /* a one-line description of a failure, else "" */
    int maybe_sent;         /* bytes of the request went to a connection at least once:
                               on failure, the peer may have acted on it */

    /* ---- private ---- */
    upstream_t *up;
    upstream_conn_t *conn;
    upstream_call_t *qnext; /* waiting for a connection */
    int queued;
    uint64_t deadline;      /* uv_now() ms; 0 = none */
    int retried;
    int cancel;             /* given up with upstream_cancel() */
    int head_told;          /* head_cb has run */
    int streaming;          /* ... and took the body */
    char chunk_line[24];    /* "<hex size>\r\n" when chunked */
};

typedef struct upstream_opts {
    size_t max_conns;         /* connections at most; calls wait beyond (0: 1024) */
    size_t max_idle;          /* idle connections kept (0: 256) */
    uint64_t idle_timeout_ms; /* idle connections closed after (0: 2000) */
    size_t max_body;          /* response body limit in bytes (0: 256 MB) */
    size_t max_pipeline;      /* requests in flight per connection (0: 8; 1: no
                                 pipelining; at most UPSTREAM_MAX_PIPELINE); becomes
                                 1 once the peer ends a connection after an answer */
} upstream_opts_t;

#define UPSTREAM_DEFAULT_PIPELINE 8
#define UPSTREAM_MAX_PIPELINE 64

/* A new upstream for ip (IPv4 or IPv6 literal) and port on loop; opts may
 * be NULL. NULL when out of memory or ip is not an address. */
upstream_t *upstream_new(uv_loop_t *loop, const char *ip, int port, const upstream_opts_t *opts);

/* Start a call (see above). The callback never runs before this returns,
 * except with UPSTREAM_ENOMEM or UPSTREAM_ECLOSED. */
void upstream_send(upstream_t *u, upstream_call_t *call);

/* Give up on a call that was sent and whose callback has not run; no-op
 * otherwise. */
void upstream_detach(upstream_call_t *call);

/* upstream_detach(), and a call already sent closes its connection: the
 * peer sees its request end (a proxy whose client went away). The calls
 * behind it on that connection are sent again or fail, as when a
 * connection ends. */
void upstream_cancel(upstream_call_t *call);

/* Stop and restart reading the answer of a call whose body streams (no-op
 * for any other call). */
void upstream_pause(upstream_call_t *call);
void upstream_resume(upstream_call_t *call);

/* Connections open (busy, idle, connecting) and busy; the calls in flight
 * on the busiest connection (for tests and diagnostics). */
size_t upstream_conns(const upstream_t *u);
size_t upstream_busy(const upstream_t *u);
size_t upstream_max_depth(const upstream_t *u);

/* Fail pending calls with UPSTREAM_ECLOSED, close every connection, free u
 * once its handles have closed, then run cb(data) (cb may be NULL). u must
 * not be used after this call. */
/* Requests in flight per connection from now on (1: no pipelining), for
 * a peer found to answer pipelined requests, or not, after upstream_new().
 * Connections already carrying more keep them. */
void upstream_set_max_pipeline(upstream_t *u, size_t n);

void upstream_close(upstream_t *u, void (*cb)(void *data), void *data);

#endif
