/*
 * upstream.c -- the asynchronous HTTP/1.1 client (see upstream.h).
 *
 * A connection is CONNECTING (its first call waits for the connect),
 * BUSY (a call's request is being written or its response read; or a
 * detached call's response is awaited), IDLE (in the pool, read for EOF
 * only), or closing. Failures close the connection; the call's callback
 * then runs from the close callback, so it never runs inside
 * upstream_send(). Success runs the callback from the read callback, with
 * the connection's parser holding the response. Deadlines (calls, idle
 * connections) are checked by one sweep timer.
 */
#include "upstream.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define READ_SIZE (64 * 1024)
#define SWEEP_MS 100
#define DEFAULT_MAX_CONNS 1024
#define DEFAULT_MAX_IDLE 256
#define DEFAULT_IDLE_MS 2000
#define DEFAULT_MAX_BODY (256u << 20)

enum { C_CONNECTING, C_BUSY, C_IDLE };

struct upstream_conn {
    uv_tcp_t tcp; /* first: a handle pointer is a connection pointer */
    upstream_t *up;
    upstream_conn_t *prev, *next;   /* up->conns */
    upstream_conn_t *iprev, *inext; /* up->idle */
    upstream_call_t *call;          /* the current call; NULL when idle or detached */
    respparser_t *parser;
    uv_connect_t creq;
    uv_write_t wreq;
    uint64_t deadline;              /* of the exchange, or of the idle period; 0 = none */
    int state;
    int status;                     /* the failure handed to the call at close */
    unsigned writing : 1;           /* a uv_write is pending */
    unsigned written : 1;           /* the whole request is out */
    unsigned reused : 1;            /* has completed an exchange before */
    unsigned got_bytes : 1;         /* bytes of the current response arrived */
    unsigned detached : 1;          /* awaiting the response of a detached call */
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
    upstream_call_t *qhead, *qtail;
    size_t nqueue;
    uv_timer_t sweep;
    char *rbuf;
    int rbuf_busy;
    int closing;
    int timer_closed;
    void (*close_cb)(void *);
    void *close_data;
};

static void conn_start(upstream_conn_t *c, upstream_call_t *call);
static void dispatch(upstream_t *u);

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
    c->state = C_BUSY; /* the caller says what it becomes */
}

static void idle_push(upstream_conn_t *c)
{
    upstream_t *u = c->up;
    c->state = C_IDLE;
    c->iprev = NULL;
    c->inext = u->idle;
    if (u->idle)
        u->idle->iprev = c;
    u->idle = c;
    u->nidle++;
    c->deadline = uv_now(u->loop) + u->o.idle_timeout_ms;
}

/* ---- closing ---- */

static void maybe_finish_close(upstream_t *u)
{
    if (!u->closing || u->nconns || !u->timer_closed)
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
    u->nconns--;
    if (c->state != C_IDLE)
        u->nbusy--;
    upstream_call_t *call = c->call;
    int reused = c->reused, got = c->got_bytes, status = c->status;
    respparser_free(c->parser);
    free(c);
    if (call) {
        /* A kept-alive connection the peer closed just as we used it: the
         * request never reached it, so it can go again once. */
        if (status == UPSTREAM_EIO && reused && !got && call->replayable && !call->retried &&
            !u->closing) {
            call->retried = 1;
            call->conn = NULL;
            call->error[0] = '\0';
            upstream_send(u, call);
        } else {
            deliver(call, status ? status : UPSTREAM_EIO);
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
    if (c->state == C_IDLE) {
        idle_remove(c); /* counted as busy until on_close */
        c->up->nbusy++;
    }
    c->closing = 1;
    uv_close((uv_handle_t *)&c->tcp, on_close);
}

/* Close c and hand status (with a description) to its call. */
static void conn_fail(upstream_conn_t *c, int status, const char *why)
{
    if (c->closing)
        return;
    c->status = status;
    if (c->call && why && !c->call->error[0])
        snprintf(c->call->error, sizeof c->call->error, "%s", why);
    conn_close(c);
}

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

/* A whole response arrived: hand it over, then reuse or close c. */
static void exchange_done(upstream_conn_t *c, int extra)
{
    upstream_t *u = c->up;
    upstream_call_t *call = c->call;
    int keep = respparser_keep_alive(c->parser) && !extra && !c->writing && c->written &&
               !u->closing;
    c->call = NULL;
    c->detached = 0;
    c->reused = 1;
    if (call) {
        call->conn = NULL;
        call->cb(call, UPSTREAM_OK, c->parser);
    }
    if (c->closing)
        return;
    if (!keep || u->closing || u->nidle >= u->o.max_idle) {
        conn_close(c);
        return;
    }
    if (u->qhead) {
        upstream_call_t *next = u->qhead;
        u->qhead = next->qnext;
        if (!u->qhead)
            u->qtail = NULL;
        u->nqueue--;
        next->queued = 0;
        conn_start(c, next);
        return;
    }
    u->nbusy--;
    idle_push(c);
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
        if (c->state == C_IDLE) {
            conn_close(c); /* the peer closed an idle connection */
            return;
        }
        /* A body delimited by the end of the connection ends here. */
        if (n == UV_EOF && c->got_bytes && respparser_finish(c->parser) == PARSE_OK) {
            exchange_done(c, 1);
            return;
        }
        char why[160];
        snprintf(why, sizeof why, "the connection %s before a whole response (%s)",
                 n == UV_EOF ? "was closed" : "failed", c->got_bytes ? "answer cut short"
                                                                     : "no answer");
        conn_fail(c, UPSTREAM_EIO, why);
        return;
    }
    if (c->closing) {
        release(u, b);
        return;
    }
    if (c->state == C_IDLE || (!c->call && !c->detached)) {
        release(u, b);
        conn_close(c); /* bytes nobody asked for */
        return;
    }
    c->got_bytes = 1;
    size_t used = 0;
    int rc = respparser_feed_n(c->parser, b->base, (size_t)n, &used);
    release(u, b);
    if (rc != PARSE_OK) {
        char why[160];
        snprintf(why, sizeof why, "invalid response: %s", respparser_error(c->parser));
        conn_fail(c, UPSTREAM_EPROTO, why);
        return;
    }
    if (respparser_done(c->parser))
        exchange_done(c, used < (size_t)n);
}

/* ---- writing ---- */

static void on_write(uv_write_t *req, int status)
{
    upstream_conn_t *c = req->data;
    c->writing = 0;
    if (c->closing)
        return;
    if (status < 0) {
        conn_fail(c, UPSTREAM_EIO, "the connection failed while sending the request");
        return;
    }
    c->written = 1;
}

static void conn_write(upstream_conn_t *c)
{
    upstream_call_t *call = c->call;
    static const char last_chunk[] = "\r\n0\r\n\r\n";
    uv_buf_t bufs[4];
    unsigned n = 0;
    bufs[n++] = uv_buf_init((char *)call->head, (unsigned)call->head_len);
    if (call->chunked) {
        if (call->body_len) {
            int k = snprintf(call->chunk_line, sizeof call->chunk_line, "%zx\r\n", call->body_len);
            bufs[n++] = uv_buf_init(call->chunk_line, (unsigned)k);
            bufs[n++] = uv_buf_init((char *)call->body, (unsigned)call->body_len);
            bufs[n++] = uv_buf_init((char *)last_chunk, sizeof last_chunk - 1);
        } else {
            bufs[n++] = uv_buf_init((char *)last_chunk + 2, sizeof last_chunk - 3);
        }
    } else if (call->body_len) {
        bufs[n++] = uv_buf_init((char *)call->body, (unsigned)call->body_len);
    }
    size_t total = 0;
    for (unsigned i = 0; i < n; i++)
        total += bufs[i].len;
    call->maybe_sent = 1;
    int w = uv_try_write((uv_stream_t *)&c->tcp, bufs, n);
    if (w == (int)total) {
        c->written = 1;
        return;
    }
    if (w < 0 && w != UV_EAGAIN) {
        conn_fail(c, UPSTREAM_EIO, "the connection failed while sending the request");
        return;
    }
    /* Write the rest from where the kernel stopped taking it. */
    size_t done = w > 0 ? (size_t)w : 0;
    unsigned first = 0;
    while (first < n && done >= bufs[first].len)
        done -= bufs[first++].len;
    bufs[first].base += done;
    bufs[first].len -= done;
    c->wreq.data = c;
    if (uv_write(&c->wreq, (uv_stream_t *)&c->tcp, bufs + first, n - first, on_write) != 0) {
        conn_fail(c, UPSTREAM_EIO, "the connection failed while sending the request");
        return;
    }
    c->writing = 1;
}

/* ---- connections ---- */

static void conn_start(upstream_conn_t *c, upstream_call_t *call)
{
    c->call = call;
    call->conn = c;
    c->state = c->state == C_CONNECTING ? C_CONNECTING : C_BUSY;
    c->deadline = call->deadline;
    c->written = 0;
    c->got_bytes = 0;
    c->detached = 0;
    respparser_reset(c->parser, call->no_body);
    if (c->state == C_BUSY)
        conn_write(c);
}

static void on_connect(uv_connect_t *req, int status)
{
    upstream_conn_t *c = req->data;
    if (c->closing)
        return;
    if (status < 0) {
        char why[160];
        snprintf(why, sizeof why, "cannot connect: %s", uv_strerror(status));
        conn_fail(c, UPSTREAM_ECONNECT, why);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    if (uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, read_cb) != 0) {
        conn_fail(c, UPSTREAM_ECONNECT, "cannot read from the connection");
        return;
    }
    c->state = C_BUSY;
    if (c->call)
        conn_write(c);
    else if (!c->detached)
        conn_close(c); /* its call was detached while connecting */
}

/* A new connection for call; NULL when out of memory. */
static upstream_conn_t *conn_open(upstream_t *u, upstream_call_t *call)
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
    c->next = u->conns;
    if (u->conns)
        u->conns->prev = c;
    u->conns = c;
    u->nconns++;
    u->nbusy++;
    c->state = C_CONNECTING;
    conn_start(c, call);
    c->creq.data = c;
    int rc = uv_tcp_connect(&c->creq, &c->tcp, (const struct sockaddr *)&u->addr, on_connect);
    if (rc != 0) {
        char why[160];
        snprintf(why, sizeof why, "cannot connect: %s", uv_strerror(rc));
        conn_fail(c, UPSTREAM_ECONNECT, why); /* the call hears of it from on_close */
    }
    return c;
}

static void sweep_cb(uv_timer_t *t)
{
    upstream_t *u = t->data;
    uint64_t now = uv_now(u->loop);
    for (upstream_conn_t *c = u->conns, *next; c; c = next) {
        next = c->next;
        if (c->closing || !c->deadline || now < c->deadline)
            continue;
        if (c->state == C_IDLE)
            conn_close(c);
        else
            conn_fail(c, UPSTREAM_ETIMEDOUT, "no response in time");
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

/* Give waiting calls to idle connections, or to new ones while allowed. */
static void dispatch(upstream_t *u)
{
    while (u->qhead && !u->closing && (u->idle || u->nconns < u->o.max_conns)) {
        upstream_call_t *call = u->qhead;
        u->qhead = call->qnext;
        if (!u->qhead)
            u->qtail = NULL;
        u->nqueue--;
        call->queued = 0;
        if (u->idle) {
            upstream_conn_t *c = u->idle;
            idle_remove(c);
            u->nbusy++;
            conn_start(c, call);
        } else if (!conn_open(u, call)) {
            deliver(call, UPSTREAM_ENOMEM);
        }
    }
}

/* ---- public ---- */

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
    uv_timer_init(loop, &u->sweep);
    u->sweep.data = u;
    uv_timer_start(&u->sweep, sweep_cb, SWEEP_MS, SWEEP_MS);
    uv_unref((uv_handle_t *)&u->sweep);
    return u;
}

void upstream_send(upstream_t *u, upstream_call_t *call)
{
    call->up = u;
    call->conn = NULL;
    call->qnext = NULL;
    call->queued = 0;
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
    c->call = NULL;
    if (c->closing)
        return; /* its close callback now finds no call */
    if (c->state == C_CONNECTING || c->writing || !c->written) {
        conn_close(c); /* the request would go out half-written or with freed bytes */
        return;
    }
    c->detached = 1; /* wait for the answer (up to the deadline) and drop it */
}

size_t upstream_conns(const upstream_t *u) { return u->nconns; }

size_t upstream_busy(const upstream_t *u) { return u->nbusy; }

static void timer_closed(uv_handle_t *h)
{
    upstream_t *u = h->data;
    u->timer_closed = 1;
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
        upstream_call_t *call = c->call;
        c->call = NULL;
        if (call)
            deliver(call, UPSTREAM_ECLOSED);
    }
    for (upstream_conn_t *c = u->conns; c; c = c->next)
        conn_close(c);
    uv_close((uv_handle_t *)&u->sweep, timer_closed);
}
