/*
 * queue_trigger.c -- the "queueTrigger" binding kind: a durable queue of
 * the store (src/store/store.h) delivers its messages to a function.
 *
 * One source per function. At start it releases the messages of its queue
 * that a previous run left leased (a host killed mid-batch), then fetches
 * batches of up to batchSize messages, each leased for longer than the
 * function timeout, and runs each through binding_host_invoke() (which
 * applies the function's retry policy and writes its outputs after
 * success). A message whose function succeeded is deleted; one that failed
 * goes back to the queue after visibilityTimeout, or to "<queue>-poison"
 * once it was delivered maxDequeueCount times. A new batch is fetched when
 * the messages in flight drop to newBatchThreshold, so at most batchSize +
 * newBatchThreshold are in flight: all that a crash can make run twice.
 *
 * Store notifications (a put, a release, a retry made visible at once)
 * wake the source at once; otherwise it polls, backing off from 100 ms to
 * maxPollingInterval while the queue stays empty, and wakes when a retry
 * it scheduled becomes due.
 */
#include "queue.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../core/trigger.h"
#include "../telemetry/log.h"
#include "../util/buf.h"
#include "../util/codec.h"

#define POLL_MIN_MS 100
#define RETRY_SUBMIT_MS 5 /* store busy (STORE_EFULL): try again after */

typedef struct qsource qsource_t;

typedef enum settle { SETTLE_DELETE, SETTLE_RETRY, SETTLE_POISON, SETTLE_RELEASE } settle_t;

/* One delivered message, from its get until the store settled it. */
typedef struct qmsg {
    qsource_t *s;
    store_req_t req;
    char id[STORE_ID_LEN];
    char receipt[STORE_ID_LEN];
    uint32_t dequeue_count;
    settle_t settle;
    struct qmsg *next_wait; /* in s->backlog while the store is full */
} qmsg_t;

typedef struct qget {
    qsource_t *s;
    store_req_t req;
    uint64_t seq; /* s->notify_seq when it was sent */
} qget_t;

struct qsource {
    binding_host_t *bh;
    function_t *fn;
    store_t *st;
    char queue[STORE_QUEUE_REF_MAX + 1];
    char reason[STORE_QUEUE_REF_MAX + 64];
    queue_settings_t set;
    int64_t lease_ms;
    unsigned inflight;   /* messages delivered and not yet settled */
    unsigned gets;       /* get requests (and the start's release) in flight */
    int released;        /* the start's release completed */
    int maybe_more;      /* the queue may have visible messages */
    uint64_t notify_seq;
    int64_t poll_ms;     /* the current idle poll interval */
    int64_t wake_at;     /* a retry scheduled by us becomes visible (ms), 0: none */
    int rearm;           /* wake_at moved earlier: restart the poll timer */
    uv_timer_t poll;
    uv_timer_t retry;    /* resubmits the backlog */
    qmsg_t *backlog;
    int get_failing;     /* a get failed: logged once until one succeeds */
    int paused;          /* the function's runtime stopped for good: not read */
    int stopping;
    int closing;
    void (*stop_cb)(void *);
    void *stop_arg;
    store_req_t release_req;
};

static void fetch(qsource_t *s);
static void settle(qmsg_t *m);

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- stopping ---- */

static void handle_closed(uv_handle_t *h)
{
    qsource_t *s = h->data;
    if (--s->closing == 0) {
        void (*cb)(void *) = s->stop_cb;
        void *arg = s->stop_arg;
        free(s);
        if (cb)
            cb(arg);
    }
}

static void maybe_stopped(qsource_t *s)
{
    if (!s->stopping || s->inflight || s->gets || s->closing)
        return;
    s->closing = 2;
    uv_close((uv_handle_t *)&s->poll, handle_closed);
    uv_close((uv_handle_t *)&s->retry, handle_closed);
}

static void queue_stop(void *state, void (*cb)(void *), void *arg)
{
    qsource_t *s = state;
    s->stopping = 1;
    s->stop_cb = cb;
    s->stop_arg = arg;
    binding_host_unwatch_queue(s->bh, s);
    uv_timer_stop(&s->poll);
    maybe_stopped(s);
}

/* ---- settling a message: delete, retry later, poison ---- */

static void on_settled(store_req_t *req)
{
    qmsg_t *m = req->data;
    qsource_t *s = m->s;
    if (req->status != STORE_OK) {
        const char *what = m->settle == SETTLE_DELETE   ? "delete"
                           : m->settle == SETTLE_POISON ? "move to the poison queue"
                                                        : "release";
        int lvl = req->status == STORE_ESTALE || req->status == STORE_ENOTFOUND ? LOG_WARN
                                                                                : LOG_ERROR;
        log_write(lvl, "Host.Queues", NULL,
                  "Function '%s': cannot %s message '%s' of queue '%s': %s%s%s", s->fn->name,
                  what, m->id, s->queue, store_strerror(req->status), req->err[0] ? ": " : "",
                  req->err);
    } else if (m->settle == SETTLE_POISON) {
        log_write(LOG_WARN, "Host.Queues", NULL,
                  "Message '%s' of queue '%s' failed %u time(s) (maxDequeueCount %u): moved to "
                  "queue '%s%s' as message '%s'", m->id, s->queue, m->dequeue_count,
                  s->set.max_dequeue_count, s->queue, STORE_POISON_SUFFIX,
                  req->n_msgs ? req->msgs[0].id : "?");
    } else if (m->settle == SETTLE_RETRY && s->set.visibility_ms > 0 && req->n_msgs) {
        /* Wake when it is due rather than at the next (maybe long) poll. */
        int64_t due = req->msgs[0].next_visible_time;
        if (!s->wake_at || due < s->wake_at) {
            s->wake_at = due;
            s->rearm = 1;
        }
    }
    store_req_cleanup(req);
    free(m);
    s->inflight--;
    if (s->stopping)
        maybe_stopped(s);
    else
        fetch(s);
}

static void on_retry_timer(uv_timer_t *t)
{
    qsource_t *s = t->data;
    qmsg_t *list = s->backlog;
    s->backlog = NULL;
    /* Oldest first (the list is newest first). */
    qmsg_t *rev = NULL;
    while (list) {
        qmsg_t *n = list->next_wait;
        list->next_wait = rev;
        rev = list;
        list = n;
    }
    while (rev) {
        qmsg_t *n = rev->next_wait;
        rev->next_wait = NULL;
        settle(rev);
        rev = n;
    }
}

static void settle(qmsg_t *m)
{
    qsource_t *s = m->s;
    int rc;
    m->req.data = m;
    switch (m->settle) {
    case SETTLE_DELETE:
        rc = store_queue_delete(s->st, &m->req, s->queue, m->id, m->receipt, on_settled);
        break;
    case SETTLE_POISON:
        rc = store_queue_poison(s->st, &m->req, s->queue, m->id, m->receipt, on_settled);
        break;
    case SETTLE_RETRY:
        rc = store_queue_update(s->st, &m->req, s->queue, m->id, m->receipt,
                                s->set.visibility_ms, on_settled);
        break;
    default:
        rc = store_queue_update(s->st, &m->req, s->queue, m->id, m->receipt, 0, on_settled);
        break;
    }
    if (rc == STORE_OK)
        return;
    if (rc == STORE_EFULL) {
        store_req_cleanup(&m->req);
        m->next_wait = s->backlog;
        s->backlog = m;
        if (!uv_is_active((uv_handle_t *)&s->retry))
            uv_timer_start(&s->retry, on_retry_timer, RETRY_SUBMIT_MS, 0);
        return;
    }
    /* Refused for good (the store stopped): the lease runs out, or the
     * next start releases it. */
    log_write(LOG_ERROR, "Host.Queues", NULL, "Function '%s': message '%s' of queue '%s' is "
              "left leased: %s", s->fn->name, m->id, s->queue, m->req.err);
    store_req_cleanup(&m->req);
    free(m);
    s->inflight--;
    maybe_stopped(s);
}

static void on_done(void *arg, int ok, const char *reason, invocation_t *inv)
{
    qmsg_t *m = arg;
    qsource_t *s = m->s;
    if (!ok && inv && inv->not_run) {
        /* The function cannot run until the host restarts (its runtime
         * stopped for good, e.g. a custom handler that kept crashing):
         * leave the messages in the queue rather than spend their tries. */
        if (!s->paused)
            log_write(LOG_ERROR, "Host.Queues", NULL, "Function '%s' cannot run (%s): queue '%s' "
                      "is not read until the host restarts; its messages stay there",
                      s->fn->name, reason ? reason : "its runtime is stopped", s->queue);
        s->paused = 1;
        uv_timer_stop(&s->poll);
        m->settle = SETTLE_RETRY;
    } else if (ok)
        m->settle = SETTLE_DELETE;
    else if (m->dequeue_count >= s->set.max_dequeue_count)
        m->settle = SETTLE_POISON;
    else
        m->settle = SETTLE_RETRY;
    settle(m);
}

/* ---- delivering a message ---- */

/* ms as Azure shows a DateTimeOffset in UTC: 2026-11-26T21:05:09+00:00.
 * Messages of a batch share their seconds: the last few are kept. */
static void iso_time(int64_t ms, char *out, size_t n)
{
    static int64_t last_sec[4] = {-1, -1, -1, -1};
    static char last_text[4][32];
    static unsigned next;
    if (ms == STORE_TIME_NEVER) {
        snprintf(out, n, "9999-12-31T23:59:59+00:00");
        return;
    }
    int64_t sec = ms / 1000;
    for (int i = 0; i < 4; i++)
        if (last_sec[i] == sec) {
            snprintf(out, n, "%s", last_text[i]);
            return;
        }
    time_t t = (time_t)sec;
    struct tm tm;
    gmtime_r(&t, &tm);
    unsigned k = next++ % 4;
    strftime(last_text[k], sizeof last_text[k], "%Y-%m-%dT%H:%M:%S+00:00", &tm);
    last_sec[k] = sec;
    snprintf(out, n, "%s", last_text[k]);
}

/* The binding data of a message: Azure's metadata names, QueueTrigger (the
 * body as text) and the properties of a JSON object body. */
static json_t *message_data(const store_msg_t *msg)
{
    char t[40];
    json_t *d = NULL;
    const char *p = (const char *)msg->body;
    size_t i = 0;
    while (i < msg->body_len && (p[i] == ' ' || p[i] == '\t' || p[i] == '\n' || p[i] == '\r'))
        i++;
    if (i < msg->body_len && p[i] == '{') {
        d = json_loadb(p, msg->body_len, 0, NULL);
        if (d && !json_is_object(d)) {
            json_decref(d);
            d = NULL;
        }
    }
    if (!d && !(d = json_object()))
        return NULL;
    binding_data_builtin(d, "Id", json_string(msg->id));
    binding_data_builtin(d, "DequeueCount", json_integer(msg->dequeue_count));
    iso_time(msg->insertion_time, t, sizeof t);
    binding_data_builtin(d, "InsertionTime", json_string(t));
    iso_time(msg->expiration_time, t, sizeof t);
    binding_data_builtin(d, "ExpirationTime", json_string(t));
    iso_time(msg->next_visible_time, t, sizeof t);
    binding_data_builtin(d, "NextVisibleTime", json_string(t));
    binding_data_builtin(d, "PopReceipt", json_string(msg->pop_receipt));
    json_t *text = binding_value_new(msg->body, msg->body_len, 0);
    if (text)
        binding_data_builtin(d, "QueueTrigger", text);
    return d;
}

static int dump_cb(const char *p, size_t n, void *data) { return buf_append(data, p, n); }

/* The same as JSON object text into out (reset first): built straight
 * from the message, without a JSON tree, unless the body is a JSON object
 * whose properties join in. 0 or -1. */
static int message_data_text(const store_msg_t *msg, buf_t *out)
{
    char t[40];
    const char *p = (const char *)msg->body;
    size_t i = 0;
    buf_reset(out);
    while (i < msg->body_len && (p[i] == ' ' || p[i] == '\t' || p[i] == '\n' || p[i] == '\r'))
        i++;
    if (i < msg->body_len && p[i] == '{') {
        json_t *d = message_data(msg);
        int rc = d ? json_dump_callback(d, dump_cb, out, JSON_COMPACT) : -1;
        json_decref(d);
        return rc;
    }
    int rc = buf_lit(out, "{\"Id\":\"");
    rc |= buf_puts(out, msg->id);
    rc |= buf_lit(out, "\",\"DequeueCount\":");
    rc |= buf_put_uint(out, msg->dequeue_count);
    iso_time(msg->insertion_time, t, sizeof t);
    rc |= buf_printf(out, ",\"InsertionTime\":\"%s\"", t);
    iso_time(msg->expiration_time, t, sizeof t);
    rc |= buf_printf(out, ",\"ExpirationTime\":\"%s\"", t);
    iso_time(msg->next_visible_time, t, sizeof t);
    rc |= buf_printf(out, ",\"NextVisibleTime\":\"%s\"", t);
    rc |= buf_lit(out, ",\"PopReceipt\":\"");
    rc |= buf_puts(out, msg->pop_receipt);
    /* As Azure: the message as a string, whatever its bytes (those that are
     * not UTF-8 as U+FFFD); the function's own value keeps the bytes. */
    rc |= buf_lit(out, "\",\"QueueTrigger\":\"");
    rc |= buf_json_escape_utf8(out, p, msg->body_len);
    rc |= buf_lit(out, "\"}");
    return rc ? -1 : 0;
}

static void deliver(qsource_t *s, const store_msg_t *msg)
{
    qmsg_t *m = calloc(1, sizeof *m);
    if (!m) {
        log_error("Function '%s': out of memory for message '%s' of queue '%s'", s->fn->name,
                  msg->id, s->queue);
        return; /* stays leased: the next start releases it */
    }
    m->s = s;
    memcpy(m->id, msg->id, sizeof m->id);
    memcpy(m->receipt, msg->pop_receipt, sizeof m->receipt);
    m->dequeue_count = msg->dequeue_count;
    s->inflight++;
    static buf_t meta; /* the loop's thread only; copied by binding_host_invoke */
    if (!meta.max)
        buf_init(&meta, (size_t)1 << 20); /* a message body is at most 64 KiB */
    if (message_data_text(msg, &meta) != 0) {
        log_error("Function '%s': out of memory for message '%s' of queue '%s'", s->fn->name,
                  msg->id, s->queue);
        s->inflight--;
        free(m);
        return; /* stays leased: the next start releases it */
    }
    trigger_event_t ev = {
        .data = msg->body,
        .len = msg->body_len,
        .metadata_text = meta.p,
        .metadata_len = meta.len,
        .reason = s->reason,
    };
    if (binding_host_invoke(s->bh, s->fn, &ev, on_done, m) != 0) {
        /* Host stopping or out of memory: give the message back now. */
        m->settle = SETTLE_RELEASE;
        settle(m);
    }
}

/* ---- fetching ---- */

static void on_poll(uv_timer_t *t);

/* (Re)start the idle poll: the backoff interval, or sooner when a retry
 * is due. */
static void arm_poll(qsource_t *s)
{
    int64_t delay = s->poll_ms;
    if (s->wake_at) {
        int64_t until = s->wake_at - wall_ms() + 5;
        if (until < delay)
            delay = until > 0 ? until : 0;
    }
    uv_timer_start(&s->poll, on_poll, (uint64_t)delay, 0);
}

static void on_poll(uv_timer_t *t)
{
    qsource_t *s = t->data;
    if (s->wake_at && s->wake_at <= wall_ms() + 5)
        s->wake_at = 0;
    else if (s->poll_ms < s->set.max_poll_ms) {
        s->poll_ms *= 2;
        if (s->poll_ms > s->set.max_poll_ms)
            s->poll_ms = s->set.max_poll_ms;
    }
    s->maybe_more = 1;
    fetch(s);
}

static void on_got(store_req_t *req)
{
    qget_t *g = req->data;
    qsource_t *s = g->s;
    s->gets--;
    if (req->status != STORE_OK) {
        if (!s->get_failing)
            log_write(LOG_ERROR, "Host.Queues", NULL,
                      "Function '%s': cannot read queue '%s': %s%s%s (trying again)",
                      s->fn->name, s->queue, store_strerror(req->status),
                      req->err[0] ? ": " : "", req->err);
        s->get_failing = 1;
        if (g->seq == s->notify_seq)
            s->maybe_more = 0;
    } else {
        s->get_failing = 0;
        for (size_t i = 0; i < req->n_msgs; i++)
            if (!s->stopping)
                deliver(s, &req->msgs[i]);
        /* A short batch: the queue is drained, unless a notification came
         * after this get was sent. */
        if (req->n_msgs < req->in.max && g->seq == s->notify_seq)
            s->maybe_more = 0;
        if (req->n_msgs)
            s->poll_ms = POLL_MIN_MS;
        if (s->stopping && req->n_msgs) {
            /* Stopped meanwhile: give them back at once. */
            for (size_t i = 0; i < req->n_msgs; i++) {
                qmsg_t *m = calloc(1, sizeof *m);
                if (!m)
                    continue;
                m->s = s;
                memcpy(m->id, req->msgs[i].id, sizeof m->id);
                memcpy(m->receipt, req->msgs[i].pop_receipt, sizeof m->receipt);
                m->settle = SETTLE_RELEASE;
                s->inflight++;
                settle(m);
            }
        }
    }
    store_req_cleanup(req);
    free(g);
    if (s->stopping)
        maybe_stopped(s);
    else
        fetch(s);
}

/* Send gets while there is room: messages in flight plus those asked for
 * stay within newBatchThreshold + batchSize. Gets sent in one loop turn
 * share one store transaction. */
static void fetch(qsource_t *s)
{
    if (s->stopping || !s->released || s->paused)
        return;
    while (s->maybe_more &&
           s->inflight + s->gets * s->set.batch_size <= s->set.new_batch_threshold) {
        qget_t *g = calloc(1, sizeof *g);
        if (!g)
            break;
        g->s = s;
        g->seq = s->notify_seq;
        g->req.data = g;
        int rc = store_queue_get(s->st, &g->req, s->queue, s->set.batch_size, s->lease_ms,
                                 on_got);
        if (rc != STORE_OK) {
            if (rc != STORE_EFULL && !s->get_failing)
                log_write(LOG_ERROR, "Host.Queues", NULL, "Function '%s': cannot read queue "
                          "'%s': %s", s->fn->name, s->queue, g->req.err);
            store_req_cleanup(&g->req);
            free(g);
            break;
        }
        s->gets++;
    }
    if (!s->maybe_more && (s->rearm || !uv_is_active((uv_handle_t *)&s->poll))) {
        s->rearm = 0;
        arm_poll(s);
    } else if (s->maybe_more && !s->gets && !s->inflight &&
               !uv_is_active((uv_handle_t *)&s->poll)) {
        /* The get was refused (the store is busy): try again shortly. */
        uv_timer_start(&s->poll, on_poll, POLL_MIN_MS, 0);
    }
}

static void on_notify(void *arg, const char *queue)
{
    qsource_t *s = arg;
    if (s->stopping || strcmp(queue, s->queue) != 0)
        return;
    s->notify_seq++;
    s->maybe_more = 1;
    s->poll_ms = POLL_MIN_MS;
    fetch(s);
}

static void on_released(store_req_t *req)
{
    qsource_t *s = req->data;
    s->gets--;
    if (req->status != STORE_OK)
        log_write(LOG_ERROR, "Host.Queues", NULL, "Function '%s': cannot release the messages "
                  "of queue '%s' left in flight by an earlier run: %s%s%s", s->fn->name,
                  s->queue, store_strerror(req->status), req->err[0] ? ": " : "", req->err);
    else if (req->count > 0)
        log_write(LOG_INFO, "Host.Queues", NULL, "Queue '%s': %lld message(s) left in flight "
                  "by an earlier run are visible again", s->queue, (long long)req->count);
    store_req_cleanup(req);
    s->released = 1;
    if (s->stopping)
        maybe_stopped(s);
    else
        fetch(s);
}

/* ---- the kind ---- */

static int queue_trigger_parse(const json_t *entry, struct binding *b, char *err,
                               size_t errlen)
{
    return queue_conf_parse(entry, b, 1, err, errlen);
}

static int queue_start(binding_host_t *bh, function_t *fn, binding_t *b, void **state,
                       char *err, size_t errlen)
{
    const queue_conf_t *c = b->conf;
    app_t *app = binding_host_app(bh);
    queue_settings_t set;
    if (queue_settings_read(app->host_json, &set, err, errlen) != 0)
        return -1;
    store_t *st = binding_host_store(bh, b->connection, err, errlen);
    if (!st)
        return -1;
    qsource_t *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    s->bh = bh;
    s->fn = fn;
    s->st = st;
    s->set = set;
    snprintf(s->queue, sizeof s->queue, "%s", c->queue_name);
    snprintf(s->reason, sizeof s->reason, "New queue message detected on '%s'.", s->queue);
    /* The lease outlasts the function timeout; a host that dies leaves it
     * to the next start's release. */
    int64_t t = app->function_timeout_ms;
    s->lease_ms = t > 0 && t < STORE_MAX_VISIBILITY_MS - 60000 ? t + 60000
                                                               : STORE_MAX_VISIBILITY_MS;
    if (s->lease_ms < 10 * 60000)
        s->lease_ms = 10 * 60000;
    s->poll_ms = POLL_MIN_MS;
    s->maybe_more = 1;
    uv_loop_t *loop = binding_host_loop(bh);
    uv_timer_init(loop, &s->poll);
    uv_timer_init(loop, &s->retry);
    s->poll.data = s->retry.data = s;
    if (binding_host_watch_queue(bh, st, on_notify, s) != 0) {
        snprintf(err, errlen, "out of memory");
        s->stopping = 1;
        maybe_stopped(s);
        return -1;
    }
    /* Messages a killed host had leased come back before the first get. */
    s->release_req.data = s;
    if (store_queue_release(st, &s->release_req, s->queue, on_released) != STORE_OK) {
        snprintf(err, errlen, "queue '%s': %s", s->queue, s->release_req.err);
        store_req_cleanup(&s->release_req);
        binding_host_unwatch_queue(bh, s);
        s->stopping = 1;
        maybe_stopped(s);
        return -1;
    }
    s->gets++;
    log_write(LOG_DEBUG, "Host.Queues", NULL, "Function '%s' watches queue '%s' (batchSize %u, "
              "newBatchThreshold %u, maxDequeueCount %u, visibilityTimeout %lld ms)", fn->name,
              s->queue, set.batch_size, set.new_batch_threshold, set.max_dequeue_count,
              (long long)set.visibility_ms);
    *state = s;
    return 0;
}

/* ---- a run by hand ---- */

/* As Azure turns the admin API's input into a queue message: a message
 * that was never on a queue (the input is not put on the real one), so it
 * has no Id and no PopReceipt, DequeueCount 0, inserted now, and never
 * expiring or becoming visible; QueueTrigger is the input, and the
 * properties of a JSON object input join the binding data. */
static void queue_manual(binding_host_t *bh, function_t *fn, const binding_t *b,
                         const char *input, size_t len, binding_manual_cb cb, void *arg)
{
    (void)bh;
    (void)fn;
    (void)b;
    struct timespec now;
    char t[40];
    clock_gettime(CLOCK_REALTIME, &now);
    json_t *d = NULL;
    size_t i = 0;
    while (i < len && (input[i] == ' ' || input[i] == '\t' || input[i] == '\n' ||
                       input[i] == '\r'))
        i++;
    if (i < len && input[i] == '{') {
        d = json_loadb(input, len, 0, NULL);
        if (d && !json_is_object(d)) {
            json_decref(d);
            d = NULL;
        }
    }
    if (!d && !(d = json_object())) {
        cb(arg, BINDING_MANUAL_ERROR, NULL, "out of memory");
        return;
    }
    binding_data_builtin(d, "Id", json_null());
    binding_data_builtin(d, "DequeueCount", json_integer(0));
    iso_time((int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000, t, sizeof t);
    binding_data_builtin(d, "InsertionTime", json_string(t));
    iso_time(STORE_TIME_NEVER, t, sizeof t);
    binding_data_builtin(d, "ExpirationTime", json_string(t));
    binding_data_builtin(d, "NextVisibleTime", json_string(t));
    binding_data_builtin(d, "PopReceipt", json_null());
    json_t *text = binding_value_new(input, len, 0);
    if (text)
        binding_data_builtin(d, "QueueTrigger", text);
    trigger_event_t ev = {.data = input, .len = len, .metadata = d};
    cb(arg, BINDING_MANUAL_OK, &ev, NULL);
}

const binding_kind_t binding_queue_trigger = {
    .version = BINDING_KIND_VERSION,
    .type = "queueTrigger",
    .directions = BINDING_IN,
    .is_trigger = 1,
    .parse = queue_trigger_parse,
    .free_conf = queue_conf_free,
    .start = queue_start,
    .stop = queue_stop,
    .manual = queue_manual,
};
