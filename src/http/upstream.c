/*
 * upstream.c -- the asynchronous HTTP/1.1 client (see upstream.h).
 *
 * A connection is CONNECTING (its calls wait for the connect), BUSY
 * (carrying calls, or about to become idle), IDLE (in the pool, read for
 * EOF only), or closing. The calls a connection carries sit in a ring in
 * request order: the first nwritten are written, the next up to nsent are
 * in a pending uv_write, the rest wait for the end of the loop turn (the
 * check handle flushes every connection on the dirty list). A detached
 * call leaves its slot empty (the response is read and dropped). Failures
 * close the connection; the calls hear of it from the close callback, so
 * a callback never runs inside upstream_send(). Success runs the callback
 * from the read callback, with the connection's parser holding the
 * response. Deadlines (calls, idle connections) are checked by one sweep
 * timer.
 */
#include "upstream.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define READ_SIZE (64 * 1024)
#define SWEEP_MS 100
#define DEFAULT_MAX_CONNS 1024
#define DEFAULT_MAX_IDLE 256
#define DEFAULT_IDLE_MS 2000
#define DEFAULT_MAX_BODY (256u << 20)
#define RING UPSTREAM_MAX_PIPELINE /* a power of two */
#define NO_CULPRIT (-1)

enum { C_CONNECTING, C_BUSY, C_IDLE };

typedef struct slot {
    upstream_call_t *call; /* NULL once detached */
    uint64_t deadline;     /* of the call; 0 = none */
    unsigned char no_body; /* HEAD */
    unsigned char idem;    /* replayable: others may follow it */
} slot_t;

struct upstream_conn {
    uv_tcp_t tcp; /* first: a handle pointer is a connection pointer */
    upstream_t *up;
    upstream_conn_t *prev, *next;   /* up->conns */
    upstream_conn_t *iprev, *inext; /* up->idle */
    upstream_conn_t *dnext;         /* up->dirty */
    respparser_t *parser;
    uv_connect_t creq;
    uv_write_t wreq;
    uint64_t idle_deadline;
    slot_t ring[RING];
    unsigned head, n;               /* n calls from ring[head], in request order */
    unsigned nsent, nwritten;       /* of those, handed to the kernel / fully written */
    int state;
    int status;                     /* the failure handed to the culprit at close */
    int culprit;                    /* its position in the ring, or NO_CULPRIT */
    char why[160];
    unsigned writing : 1;           /* a uv_write is pending */
    unsigned reused : 1;            /* has completed an exchange */
    unsigned got_bytes : 1;         /* bytes of the first call's response arrived */
    unsigned draining : 1;          /* takes no new call until empty */
    unsigned dirty : 1;             /* on up->dirty */
    unsigned paused : 1;            /* reading stopped: a streamed answer waits downstream */
    unsigned closing : 1;
};

struct upstream {
    uv_loop_t *loop;
    struct sockaddr_storage addr;
    upstream_opts_t o;
    upstream_conn_t *conns;
    size_t nconns, nbusy;
    upstream_conn_t *idle; /* most recently used first */
    size_t nidle;
    upstream_conn_t *dirty; /* with requests to write at the end of the turn */
    upstream_conn_t *batch; /* gathering this turn's requests */
    upstream_call_t *qhead, *qtail;
    size_t nqueue;
    uv_timer_t sweep;
    uv_check_t flush;
    uv_idle_t wake;        /* keeps the poll from blocking while requests wait */
    int handles;           /* of the three above still open */
    char *rbuf;
    int rbuf_busy;
    int closing;
    void (*close_cb)(void *);
    void *close_data;
};

static void dispatch(upstream_t *u);
static void shed_behind(upstream_conn_t *c);

static slot_t *slot_at(upstream_conn_t *c, unsigned k) { return &c->ring[(c->head + k) & (RING - 1)]; }

/* ---- idle list ---- */

static void idle_remove(upstream_conn_t *c)
{
    upstream_t *u = c->up;
    if (c->state != C_IDLE)
        return;
    if (c->iprev)
        c->iprev->inext = c->inext;
    else
        u->idle = c->inext;
    if (c->inext)
        c->inext->iprev = c->iprev;
    c->iprev = c->inext = NULL;
    u->nidle--;
    u->nbusy++;
    c->state = C_BUSY;
}

static void conn_close(upstream_conn_t *c);

/* c carries nothing any more: into the pool, or closed. */
static void make_idle(upstream_conn_t *c)
{
    upstream_t *u = c->up;
    c->draining = 0;
    if (u->closing || u->nidle >= u->o.max_idle) {
        conn_close(c);
        return;
    }
    u->nbusy--;
    c->state = C_IDLE;
    c->iprev = NULL;
    c->inext = u->idle;
    if (u->idle)
        u->idle->iprev = c;
    u->idle = c;
    u->nidle++;
    c->idle_deadline = uv_now(u->loop) + u->o.idle_timeout_ms;
}

/* ---- closing ---- */

static void maybe_finish_close(upstream_t *u)
{
    if (!u->closing || u->nconns || u->handles)
        return;
    void (*cb)(void *) = u->close_cb;
    void *data = u->close_data;
    free(u->rbuf);
    free(u);
    if (cb)
        cb(data);
}

static void deliver(upstream_call_t *call, int status)
{
    call->conn = NULL;
    if (!call->error[0]) {
        const char *what = status == UPSTREAM_ECONNECT    ? "cannot connect"
                           : status == UPSTREAM_EIO       ? "the connection closed early"
                           : status == UPSTREAM_EPROTO    ? "invalid response"
                           : status == UPSTREAM_ETIMEDOUT ? "no response in time"
                           : status == UPSTREAM_ECLOSED   ? "the client was closed"
                                                          : "out of memory";
        snprintf(call->error, sizeof call->error, "%s", what);
    }
    call->cb(call, status, NULL);
}

static void on_close(uv_handle_t *h)
{
    upstream_conn_t *c = (upstream_conn_t *)h;
    upstream_t *u = c->up;
    if (c->prev)
        c->prev->next = c->next;
    else
        u->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    if (c->dirty) {
        upstream_conn_t **pp = &u->dirty;
        while (*pp && *pp != c)
            pp = &(*pp)->dnext;
        if (*pp)
            *pp = c->dnext;
    }
    if (u->batch == c)
        u->batch = NULL;
    u->nconns--;
    if (c->state != C_IDLE)
        u->nbusy--;
    /* The calls it carried, in order; c goes first (callbacks may send). */
    upstream_call_t *calls[RING];
    unsigned n = c->n;
    for (unsigned k = 0; k < n; k++)
        calls[k] = slot_at(c, k)->call;
    int reused = c->reused, got = c->got_bytes, status = c->status, culprit = c->culprit;
    char why[160];
    memcpy(why, c->why, sizeof why);
    if (!status)
        status = UPSTREAM_EIO;
    if (!why[0])
        snprintf(why, sizeof why, "the connection was closed");
    respparser_free(c->parser);
    free(c);
    for (unsigned k = 0; k < n; k++) {
        upstream_call_t *call = calls[k];
        if (!call)
            continue;
        call->conn = NULL;
        int own = (int)k == culprit;
        if ((own && status != UPSTREAM_EIO) || status == UPSTREAM_ECONNECT) {
            snprintf(call->error, sizeof call->error, "%s", why);
            deliver(call, status);
        } else if (call->replayable && !call->retried && !u->closing && !(k == 0 && got) &&
                   (k > 0 || reused)) {
            /* Unanswered on a connection that has ended: the peer did not
             * act on it (RFC 9112 9.3.2), so it goes again, once. */
            call->retried = 1;
            call->error[0] = '\0';
            upstream_send(u, call);
        } else {
            if (own)
                snprintf(call->error, sizeof call->error, "%s", why);
            else
                snprintf(call->error, sizeof call->error,
                         "the connection was closed before an answer (on the same "
                         "connection: %.90s)",
                         why);
            deliver(call, UPSTREAM_EIO);
        }
    }
    if (!u->closing)
        dispatch(u);
    maybe_finish_close(u);
}

static void conn_close(upstream_conn_t *c)
{
    if (c->closing)
        return;
    idle_remove(c); /* counted as busy until on_close */
    c->closing = 1;
    uv_close((uv_handle_t *)&c->tcp, on_close);
}

/* Close c: the call at position culprit (or none) gets status and why,
 * the others are sent again or fail (see on_close). */
static void conn_fail(upstream_conn_t *c, int status, const char *why, int culprit)
{
    if (c->closing)
        return;
    c->status = status;
    c->culprit = culprit;
    snprintf(c->why, sizeof c->why, "%s", why);
    conn_close(c);
}

/* ---- writing ---- */

static void conn_flush(upstream_conn_t *c);

static void on_write(uv_write_t *req, int status)
{
    upstream_conn_t *c = req->data;
    c->writing = 0;
    if (c->closing)
        return;
    if (status < 0) {
        conn_fail(c, UPSTREAM_EIO, "the connection failed while sending the request",
                  NO_CULPRIT);
        return;
    }
    c->nwritten = c->nsent;
    if (c->n > 1 && slot_at(c, 0)->call && slot_at(c, 0)->call->streaming)
        shed_behind(c); /* the calls whose write just ended */
    if (!c->closing && c->nsent < c->n)
        conn_flush(c);
}

/* The buffers of call's request into b (at most 4); their count. */
static unsigned call_bufs(upstream_call_t *call, uv_buf_t *b)
{
    static const char last_chunk[] = "\r\n0\r\n\r\n";
    unsigned n = 0;
    b[n++] = uv_buf_init((char *)call->head, (unsigned)call->head_len);
    if (call->chunked) {
        if (call->body_len) {
            int k = snprintf(call->chunk_line, sizeof call->chunk_line, "%zx\r\n", call->body_len);
            b[n++] = uv_buf_init(call->chunk_line, (unsigned)k);
            b[n++] = uv_buf_init((char *)call->body, (unsigned)call->body_len);
            b[n++] = uv_buf_init((char *)last_chunk, sizeof last_chunk - 1);
        } else {
            b[n++] = uv_buf_init((char *)last_chunk + 2, sizeof last_chunk - 3);
        }
    } else if (call->body_len) {
        b[n++] = uv_buf_init((char *)call->body, (unsigned)call->body_len);
    }
    return n;
}

/* Write every request of c not yet handed to the kernel, in one go. */
static void conn_flush(upstream_conn_t *c)
{
    if (c->closing || c->state == C_CONNECTING || c->writing || c->nsent >= c->n)
        return;
    uv_buf_t bufs[4 * RING];
    unsigned nb = 0;
    size_t total = 0;
    for (unsigned k = c->nsent; k < c->n; k++) {
        upstream_call_t *call = slot_at(c, k)->call; /* unsent calls are never detached */
        call->maybe_sent = 1;
        nb += call_bufs(call, bufs + nb);
    }
    for (unsigned i = 0; i < nb; i++)
        total += bufs[i].len;
    c->nsent = c->n;
    int w = uv_try_write((uv_stream_t *)&c->tcp, bufs, nb);
    if (w == (int)total) {
        c->nwritten = c->n;
        return;
    }
    if (w < 0 && w != UV_EAGAIN) {
        conn_fail(c, UPSTREAM_EIO, "the connection failed while sending the request",
                  NO_CULPRIT);
        return;
    }
    /* Write the rest from where the kernel stopped taking it. */
    size_t done = w > 0 ? (size_t)w : 0;
    unsigned first = 0;
    while (first < nb && done >= bufs[first].len)
        done -= bufs[first++].len;
    bufs[first].base += done;
    bufs[first].len -= done;
    c->wreq.data = c;
    if (uv_write(&c->wreq, (uv_stream_t *)&c->tcp, bufs + first, nb - first, on_write) != 0) {
        conn_fail(c, UPSTREAM_EIO, "the connection failed while sending the request",
                  NO_CULPRIT);
        return;
    }
    c->writing = 1;
}

static void flush_cb(uv_check_t *h)
{
    upstream_t *u = h->data;
    u->batch = NULL;
    uv_idle_stop(&u->wake);
    while (u->dirty) {
        upstream_conn_t *c = u->dirty;
        u->dirty = c->dnext;
        c->dnext = NULL;
        c->dirty = 0;
        conn_flush(c);
    }
}

static void idle_cb(uv_idle_t *h) { (void)h; }

/* ---- reading ---- */

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
    upstream_t *u = ((upstream_conn_t *)h)->up;
    (void)suggested;
    if (!u->rbuf_busy && u->rbuf) {
        u->rbuf_busy = 1;
        *b = uv_buf_init(u->rbuf, READ_SIZE);
        return;
    }
    char *m = malloc(READ_SIZE);
    *b = uv_buf_init(m, m ? READ_SIZE : 0);
}

static void release(upstream_t *u, const uv_buf_t *b)
{
    if (b->base == u->rbuf)
        u->rbuf_busy = 0;
    else
        free(b->base);
}

static void read_cb(uv_stream_t *s, ssize_t n, const uv_buf_t *b);

/* The first call's whole response arrived: hand it over; then c goes on
 * with the next call, becomes idle, or closes. 0 when c goes on. */
static int exchange_done(upstream_conn_t *c)
{
    upstream_t *u = c->up;
    slot_t s = *slot_at(c, 0);
    int written = c->nwritten > 0;
    int keep = respparser_keep_alive(c->parser) && written && !u->closing;
    int streamed = s.call && s.call->streaming;
    c->head = (c->head + 1) & (RING - 1);
    c->n--;
    if (c->nsent)
        c->nsent--;
    if (c->nwritten)
        c->nwritten--;
    c->reused = 1;
    c->got_bytes = 0;
    if (c->paused) {
        /* The end of a streamed answer came with the bytes read before
         * the pause: the connection reads again (for the next answer, or
         * the peer's close while idle). */
        c->paused = 0;
        if (uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, read_cb) != 0) {
            conn_fail(c, UPSTREAM_EIO, "cannot read from the connection", NO_CULPRIT);
            keep = 0;
        }
    }
    /* Idle before the callback, so that a call it sends takes this
     * connection: a single-threaded peer serves one connection at a time,
     * and a new one would wait until this one is closed. */
    if (keep && !c->n)
        make_idle(c);
    if (s.call) {
        s.call->conn = NULL;
        s.call->cb(s.call, UPSTREAM_OK, c->parser);
    }
    if (c->closing)
        return -1;
    if (!keep) {
        /* A peer that ends connections after its answers (HTTP/1.0 or
         * Connection: close) drops what was pipelined behind them: from now
         * on, one request per connection, so that what goes again (below)
         * is answered. */
        if (written && u->o.max_pipeline > 1)
            u->o.max_pipeline = 1;
        conn_fail(c, UPSTREAM_EIO,
                  written ? "the peer ended the connection after an earlier answer"
                          : "the peer answered before the whole request was sent",
                  NO_CULPRIT);
        return -1;
    }
    if (streamed && c->n) {
        /* What was behind the streamed answer went elsewhere (shed_behind):
         * the answers left may not end either, and nobody waits for them. */
        conn_fail(c, UPSTREAM_EIO, "the requests behind a streamed answer went elsewhere",
                  NO_CULPRIT);
        return -1;
    }
    if (!c->n && c->state != C_IDLE)
        make_idle(c);
    return c->closing ? -1 : 0;
}

/* The first call's answer streams and may never end: the calls pipelined
 * behind it would wait for that end. Each goes to the front of the queue,
 * for another connection (only replayable calls are pipelined, so it may
 * go again), alone there; c drops the answers to those it wrote, and takes
 * nothing new until it is empty. A call still being written follows from on_write:
 * the pending write holds its bytes. */
static void shed_behind(upstream_conn_t *c)
{
    upstream_t *u = c->up;
    upstream_call_t *moved[RING];
    unsigned nm = 0;
    c->draining = 1;
    for (unsigned k = 1; k < c->n;) {
        slot_t *s = slot_at(c, k);
        if (k >= c->nwritten && k < c->nsent) {
            k++;
            continue;
        }
        if (s->call) {
            s->call->conn = NULL;
            s->call->solo = 1; /* its answer may stream too */
            moved[nm++] = s->call;
        }
        if (k < c->nsent) {
            s->call = NULL; /* its answer is read and dropped */
            k++;
            continue;
        }
        for (unsigned j = k; j + 1 < c->n; j++)
            *slot_at(c, j) = *slot_at(c, j + 1);
        c->n--;
    }
    while (nm) {
        upstream_call_t *call = moved[--nm];
        call->queued = 1;
        call->qnext = u->qhead;
        u->qhead = call;
        if (!u->qtail)
            u->qtail = call;
        u->nqueue++;
    }
    dispatch(u);
}

/* The head of call's answer is in and its body still to come: ask the
 * caller whether it takes the body as it arrives. 0 to go on reading. */
static int stream_head(upstream_conn_t *c, upstream_call_t *call)
{
    call->head_told = 1;
    int take = call->head_cb(call, c->parser) == 1;
    if (c->closing)
        return -1;
    if (slot_at(c, 0)->call != call)
        return 0; /* given up in the callback: the connection is closing */
    call->streaming = take;
    if (take) {
        shed_behind(c);
        if (c->closing)
            return -1;
    }
    if (!take && respparser_check_length(c->parser) != PARSE_OK) {
        char why[160];
        snprintf(why, sizeof why, "invalid response: %s", respparser_error(c->parser));
        conn_fail(c, UPSTREAM_EPROTO, why, 0);
        return -1;
    }
    return 0;
}

static void read_cb(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    upstream_conn_t *c = (upstream_conn_t *)s;
    upstream_t *u = c->up;
    if (n == 0) {
        release(u, b);
        return;
    }
    if (n < 0) {
        release(u, b);
        uv_read_stop(s);
        if (c->closing)
            return;
        if (c->state == C_IDLE || !c->nsent) {
            conn_close(c); /* the peer closed an idle connection */
            return;
        }
        /* A body delimited by the end of the connection ends here. */
        if (n == UV_EOF && c->got_bytes && respparser_finish(c->parser) == PARSE_OK) {
            if (exchange_done(c) == 0)
                conn_fail(c, UPSTREAM_EIO, "the peer closed the connection", NO_CULPRIT);
            return;
        }
        char why[160];
        snprintf(why, sizeof why, "the connection %s before a whole response (%s)",
                 n == UV_EOF ? "was closed" : "failed", c->got_bytes ? "answer cut short"
                                                                     : "no answer");
        conn_fail(c, UPSTREAM_EIO, why, 0);
        return;
    }
    size_t off = 0, len = (size_t)n;
    int answered = 0;
    while (off < len && !c->closing) {
        if (c->state == C_IDLE || !c->nsent) {
            conn_close(c); /* bytes nobody asked for */
            break;
        }
        upstream_call_t *call = slot_at(c, 0)->call;
        if (!c->got_bytes) {
            respparser_reset(c->parser, slot_at(c, 0)->no_body);
            if (call && call->head_cb)
                respparser_defer_limit(c->parser);
            c->got_bytes = 1;
        }
        size_t used = 0;
        int rc = respparser_feed_n(c->parser, b->base + off, len - off, &used);
        off += used;
        if (rc != PARSE_OK) {
            char why[160];
            snprintf(why, sizeof why, "invalid response: %s", respparser_error(c->parser));
            conn_fail(c, UPSTREAM_EPROTO, why, 0);
            break;
        }
        if (call && call->head_cb && !call->head_told && respparser_head_done(c->parser) &&
            !respparser_done(c->parser) && stream_head(c, call) != 0)
            break;
        if (call && call->streaming && slot_at(c, 0)->call == call) {
            size_t bl;
            const char *bp = respparser_body(c->parser, &bl);
            if (bl) {
                call->body_cb(call, bp, bl);
                respparser_body_drop(c->parser);
                if (c->closing)
                    break;
            }
        }
        if (!respparser_done(c->parser))
            break;
        answered = 1;
        if (exchange_done(c) != 0)
            break;
    }
    release(u, b);
    if (answered && !u->closing)
        dispatch(u);
}

/* ---- connections ---- */

static void on_connect(uv_connect_t *req, int status)
{
    upstream_conn_t *c = req->data;
    if (c->closing)
        return;
    if (status < 0) {
        char why[160];
        snprintf(why, sizeof why, "cannot connect: %s", uv_strerror(status));
        conn_fail(c, UPSTREAM_ECONNECT, why, NO_CULPRIT);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    if (uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, read_cb) != 0) {
        conn_fail(c, UPSTREAM_ECONNECT, "cannot read from the connection", NO_CULPRIT);
        return;
    }
    c->state = C_BUSY;
    if (c->n)
        conn_flush(c);
    else
        make_idle(c); /* its calls were detached while connecting */
}

/* A new connection, connecting; NULL when out of memory. */
static upstream_conn_t *conn_open(upstream_t *u)
{
    upstream_conn_t *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->parser = respparser_new(u->o.max_body);
    if (!c->parser || uv_tcp_init(u->loop, &c->tcp) != 0) {
        respparser_free(c->parser);
        free(c);
        return NULL;
    }
    c->up = u;
    c->culprit = NO_CULPRIT;
    c->next = u->conns;
    if (u->conns)
        u->conns->prev = c;
    u->conns = c;
    u->nconns++;
    u->nbusy++;
    c->state = C_CONNECTING;
    c->creq.data = c;
    int rc = uv_tcp_connect(&c->creq, &c->tcp, (const struct sockaddr *)&u->addr, on_connect);
    if (rc != 0) {
        char why[160];
        snprintf(why, sizeof why, "cannot connect: %s", uv_strerror(rc));
        conn_fail(c, UPSTREAM_ECONNECT, why, NO_CULPRIT); /* calls hear of it from on_close */
    }
    return c;
}

/* Whether c can take call now (RFC 9112 9.3.2: only idempotent requests
 * follow others). */
static int can_take(const upstream_conn_t *c, const upstream_call_t *call)
{
    if (c->closing || c->draining || c->n >= c->up->o.max_pipeline)
        return 0;
    if (!c->n)
        return 1;
    return call->replayable && !call->solo &&
           c->ring[(c->head + c->n - 1) & (RING - 1)].idem;
}

/* Put call at the end of c's ring; written at the end of the turn. */
static void conn_push(upstream_conn_t *c, upstream_call_t *call)
{
    upstream_t *u = c->up;
    idle_remove(c);
    slot_t *s = slot_at(c, c->n++);
    s->call = call;
    s->deadline = call->deadline;
    s->no_body = (unsigned char)(call->no_body != 0);
    s->idem = (unsigned char)(call->replayable && !call->solo);
    call->conn = c;
    u->batch = c;
    if (!c->dirty) {
        c->dirty = 1;
        c->dnext = u->dirty;
        u->dirty = c;
        if (!uv_is_active((uv_handle_t *)&u->wake))
            uv_idle_start(&u->wake, idle_cb);
    }
}

/* 1 when idle connection c is no use: the handler closed it (or died)
 * and the loop has not read that yet, or it holds bytes nobody asked for.
 * Sending on it would fail a request the handler never saw. */
static int idle_stale(upstream_conn_t *c)
{
    uv_os_fd_t fd;
    char b;
    if (uv_fileno((uv_handle_t *)&c->tcp, &fd) != 0)
        return 1;
    ssize_t n = recv(fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
    return n >= 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
}

/* A connection for call, or NULL (none free: wait); *oom when out of memory. */
static upstream_conn_t *pick(upstream_t *u, const upstream_call_t *call, int *oom)
{
    if (u->batch && can_take(u->batch, call))
        return u->batch;
    while (u->idle && idle_stale(u->idle))
        conn_close(u->idle);
    if (u->idle)
        return u->idle;
    if (u->nconns < u->o.max_conns) {
        upstream_conn_t *c = conn_open(u);
        *oom = !c;
        return c;
    }
    upstream_conn_t *best = NULL;
    for (upstream_conn_t *c = u->conns; c; c = c->next)
        if (can_take(c, call) && (!best || c->n < best->n))
            best = c;
    return best;
}

static void sweep_cb(uv_timer_t *t)
{
    upstream_t *u = t->data;
    uint64_t now = uv_now(u->loop);
    for (upstream_conn_t *c = u->conns, *next; c; c = next) {
        next = c->next;
        if (c->closing)
            continue;
        if (c->state == C_IDLE) {
            if (now >= c->idle_deadline)
                conn_close(c);
            continue;
        }
        for (unsigned k = 0; k < c->n; k++) {
            const slot_t *s = slot_at(c, k);
            if (s->deadline && now >= s->deadline) {
                conn_fail(c, UPSTREAM_ETIMEDOUT, "no response in time",
                          s->call ? (int)k : NO_CULPRIT);
                break;
            }
        }
    }
    /* Unlink the expired waiting calls first: callbacks may send again. */
    upstream_call_t **pp = &u->qhead, *prev = NULL, *expired = NULL;
    while (*pp) {
        upstream_call_t *call = *pp;
        if (call->deadline && now >= call->deadline) {
            *pp = call->qnext;
            if (u->qtail == call)
                u->qtail = prev;
            u->nqueue--;
            call->queued = 0;
            call->qnext = expired;
            expired = call;
            continue;
        }
        prev = call;
        pp = &call->qnext;
    }
    while (expired) {
        upstream_call_t *call = expired;
        expired = call->qnext;
        call->qnext = NULL;
        snprintf(call->error, sizeof call->error, "no connection free in time");
        deliver(call, UPSTREAM_ETIMEDOUT);
    }
}

/* Give waiting calls to connections (see pick). */
static void dispatch(upstream_t *u)
{
    while (u->qhead && !u->closing) {
        upstream_call_t *call = u->qhead;
        int oom = 0;
        upstream_conn_t *c = pick(u, call, &oom);
        if (!c && !oom)
            break;
        u->qhead = call->qnext;
        if (!u->qhead)
            u->qtail = NULL;
        u->nqueue--;
        call->queued = 0;
        call->qnext = NULL;
        if (oom)
            deliver(call, UPSTREAM_ENOMEM);
        else
            conn_push(c, call);
    }
}

/* ---- public ---- */

void upstream_set_max_pipeline(upstream_t *u, size_t n)
{
    u->o.max_pipeline = n < 1 ? 1 : n > UPSTREAM_MAX_PIPELINE ? UPSTREAM_MAX_PIPELINE : n;
    dispatch(u);
}

upstream_t *upstream_new(uv_loop_t *loop, const char *ip, int port, const upstream_opts_t *opts)
{
    upstream_t *u = calloc(1, sizeof *u);
    if (!u)
        return NULL;
    int rc = strchr(ip, ':') ? uv_ip6_addr(ip, port, (struct sockaddr_in6 *)&u->addr)
                             : uv_ip4_addr(ip, port, (struct sockaddr_in *)&u->addr);
    u->rbuf = malloc(READ_SIZE);
    if (rc != 0 || !u->rbuf) {
        free(u->rbuf);
        free(u);
        return NULL;
    }
    u->loop = loop;
    if (opts)
        u->o = *opts;
    if (!u->o.max_conns)
        u->o.max_conns = DEFAULT_MAX_CONNS;
    if (!u->o.max_idle)
        u->o.max_idle = DEFAULT_MAX_IDLE;
    if (!u->o.idle_timeout_ms)
        u->o.idle_timeout_ms = DEFAULT_IDLE_MS;
    if (!u->o.max_body)
        u->o.max_body = DEFAULT_MAX_BODY;
    if (!u->o.max_pipeline)
        u->o.max_pipeline = UPSTREAM_DEFAULT_PIPELINE;
    if (u->o.max_pipeline > UPSTREAM_MAX_PIPELINE)
        u->o.max_pipeline = UPSTREAM_MAX_PIPELINE;
    uv_timer_init(loop, &u->sweep);
    u->sweep.data = u;
    uv_timer_start(&u->sweep, sweep_cb, SWEEP_MS, SWEEP_MS);
    uv_unref((uv_handle_t *)&u->sweep);
    uv_check_init(loop, &u->flush);
    u->flush.data = u;
    uv_check_start(&u->flush, flush_cb);
    uv_unref((uv_handle_t *)&u->flush);
    uv_idle_init(loop, &u->wake);
    u->wake.data = u;
    uv_unref((uv_handle_t *)&u->wake);
    u->handles = 3;
    return u;
}

void upstream_send(upstream_t *u, upstream_call_t *call)
{
    call->up = u;
    call->conn = NULL;
    call->qnext = NULL;
    call->queued = 0;
    call->head_told = call->streaming = call->cancel = 0;
    if (!call->retried) {
        call->maybe_sent = 0;
        call->error[0] = '\0';
        call->deadline = call->timeout_ms ? uv_now(u->loop) + call->timeout_ms : 0;
    }
    if (u->closing) {
        deliver(call, UPSTREAM_ECLOSED);
        return;
    }
    call->queued = 1;
    if (u->qtail)
        u->qtail->qnext = call;
    else
        u->qhead = call;
    u->qtail = call;
    u->nqueue++;
    dispatch(u);
}

void upstream_detach(upstream_call_t *call)
{
    upstream_t *u = call->up;
    if (!u)
        return;
    if (call->queued) {
        upstream_call_t **pp = &u->qhead, *prev = NULL;
        while (*pp && *pp != call) {
            prev = *pp;
            pp = &(*pp)->qnext;
        }
        if (*pp) {
            *pp = call->qnext;
            if (u->qtail == call)
                u->qtail = prev;
            u->nqueue--;
        }
        call->queued = 0;
        return;
    }
    upstream_conn_t *c = call->conn;
    if (!c)
        return;
    call->conn = NULL;
    unsigned k = 0;
    while (k < c->n && slot_at(c, k)->call != call)
        k++;
    if (k == c->n)
        return;
    if (c->closing) {
        slot_at(c, k)->call = NULL; /* its close callback now finds no call */
        return;
    }
    if (k >= c->nsent) {
        /* Not written yet: it simply leaves the ring. */
        for (unsigned j = k; j + 1 < c->n; j++)
            *slot_at(c, j) = *slot_at(c, j + 1);
        c->n--;
        if (!c->n && c->state == C_BUSY && !c->writing)
            make_idle(c);
        return;
    }
    if ((k == 0 && call->head_told && c->got_bytes) || (call->cancel && k < c->nsent)) {
        /* Its answer is arriving and may have no end: the connection goes
         * (the calls behind it are sent again or fail, see on_close). */
        slot_at(c, k)->call = NULL;
        conn_fail(c, UPSTREAM_EIO, "a request was given up by its caller", NO_CULPRIT);
        return;
    }
    slot_at(c, k)->call = NULL;
    if (k >= c->nwritten) {
        /* The request would go out half-written or with freed bytes. */
        conn_fail(c, UPSTREAM_EIO, "a request ahead of it was given up while being sent",
                  NO_CULPRIT);
        return;
    }
    /* Wait for its answer (up to its deadline) and drop it; nothing new
     * goes behind it meanwhile. */
    c->draining = 1;
}

void upstream_cancel(upstream_call_t *call)
{
    call->cancel = 1;
    upstream_detach(call);
}

void upstream_pause(upstream_call_t *call)
{
    upstream_conn_t *c = call->conn;
    if (!c || !call->streaming || c->paused || c->closing || slot_at(c, 0)->call != call)
        return;
    uv_read_stop((uv_stream_t *)&c->tcp);
    c->paused = 1;
}

void upstream_resume(upstream_call_t *call)
{
    upstream_conn_t *c = call->conn;
    if (!c || !c->paused || c->closing || slot_at(c, 0)->call != call)
        return;
    c->paused = 0;
    if (uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, read_cb) != 0)
        conn_fail(c, UPSTREAM_EIO, "cannot read from the connection", 0);
}

size_t upstream_conns(const upstream_t *u) { return u->nconns; }

size_t upstream_busy(const upstream_t *u) { return u->nbusy; }

size_t upstream_max_depth(const upstream_t *u)
{
    size_t m = 0;
    for (const upstream_conn_t *c = u->conns; c; c = c->next)
        if (c->n > m)
            m = c->n;
    return m;
}

static void handle_closed(uv_handle_t *h)
{
    upstream_t *u = h->data;
    u->handles--;
    maybe_finish_close(u);
}

void upstream_close(upstream_t *u, void (*cb)(void *data), void *data)
{
    u->closing = 1;
    u->close_cb = cb;
    u->close_data = data;
    while (u->qhead) {
        upstream_call_t *call = u->qhead;
        u->qhead = call->qnext;
        u->nqueue--;
        call->queued = 0;
        deliver(call, UPSTREAM_ECLOSED);
    }
    u->qtail = NULL;
    for (upstream_conn_t *c = u->conns; c; c = c->next) {
        for (unsigned k = 0; k < c->n; k++) {
            upstream_call_t *call = slot_at(c, k)->call;
            slot_at(c, k)->call = NULL;
            if (call)
                deliver(call, UPSTREAM_ECLOSED);
        }
    }
    for (upstream_conn_t *c = u->conns; c; c = c->next)
        conn_close(c);
    uv_close((uv_handle_t *)&u->sweep, handle_closed);
    uv_close((uv_handle_t *)&u->flush, handle_closed);
    uv_close((uv_handle_t *)&u->wake, handle_closed);
}
