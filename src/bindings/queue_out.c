/*
 * queue_out.c -- the "queue" output binding kind: what a function set for
 * it becomes messages of a store queue, written by the binding host only
 * after the function succeeded.
 *
 * queueName may hold binding expressions ({name}, {rand-guid}, ...),
 * resolved per invocation. The value: a string is one text message,
 * {"$binary": ...} one message of bytes, a JSON array one message per
 * element (each as above, other JSON values as their JSON text), any
 * other JSON value one message of its JSON text. Puts go to the store in
 * windows of PUT_WINDOW, so that arrays of thousands of messages neither
 * exceed the store's queue of pending operations nor wait on one commit
 * each: the puts of one window share a transaction.
 */
#include "queue.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/trigger.h"

#define PUT_WINDOW 512
#define RETRY_SUBMIT_MS 5

typedef struct qput qput_t;

typedef struct qwrite {
    binding_host_t *bh;
    store_t *st;
    char queue[STORE_QUEUE_REF_MAX + 1];
    json_t *value;    /* the value (a reference) */
    size_t count;     /* messages to write */
    size_t next;      /* the next one to submit */
    size_t pending;   /* submitted, not completed */
    int failed;
    char reason[512];
    binding_io_cb cb;
    void *arg;
    uv_timer_t timer; /* resubmits after STORE_EFULL */
    int timer_init;
    qput_t *puts;     /* PUT_WINDOW slots */
    qput_t *free_puts;
} qwrite_t;

struct qput {
    qwrite_t *w;
    store_req_t req;
    qput_t *next_free;
};

static void pump(qwrite_t *w);

static void write_free(qwrite_t *w)
{
    json_decref(w->value);
    free(w->puts);
    free(w);
}

static void timer_closed(uv_handle_t *h) { write_free(h->data); }

static void finish(qwrite_t *w)
{
    if (w->failed)
        w->cb(w->arg, 0, NULL, w->reason);
    else
        w->cb(w->arg, 1, NULL, NULL);
    if (w->timer_init)
        uv_close((uv_handle_t *)&w->timer, timer_closed);
    else
        write_free(w);
}

static void fail(qwrite_t *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void fail(qwrite_t *w, const char *fmt, ...)
{
    if (w->failed)
        return;
    w->failed = 1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(w->reason, sizeof w->reason, fmt, ap);
    va_end(ap);
}

static void on_put(store_req_t *req)
{
    qput_t *p = req->data;
    qwrite_t *w = p->w;
    if (req->status != STORE_OK)
        fail(w, "cannot add a message to queue '%s': %s", w->queue,
             req->err[0] ? req->err : store_strerror(req->status));
    store_req_cleanup(req);
    p->next_free = w->free_puts;
    w->free_puts = p;
    w->pending--;
    pump(w);
}

static void on_timer(uv_timer_t *t) { pump(t->data); }

/* Submit messages while there are free slots; finish when all completed. */
static void pump(qwrite_t *w)
{
    while (!w->failed && w->next < w->count && w->free_puts) {
        json_t *v = json_is_array(w->value) ? json_array_get(w->value, w->next) : w->value;
        char *data = NULL;
        size_t len = 0;
        if (binding_value_bytes(v, &data, &len) != 0) {
            fail(w, "queue '%s': message #%zu: bad base64 in its $binary value (or out of "
                 "memory)", w->queue, w->next + 1);
            break;
        }
        qput_t *p = w->free_puts;
        p->req.data = p;
        int rc = store_queue_put(w->st, &p->req, w->queue, data, len, 0, 0, on_put);
        free(data);
        if (rc == STORE_EFULL) {
            store_req_cleanup(&p->req);
            if (!w->timer_init) {
                uv_timer_init(binding_host_loop(w->bh), &w->timer);
                w->timer.data = w;
                w->timer_init = 1;
            }
            if (!w->pending)
                uv_timer_start(&w->timer, on_timer, RETRY_SUBMIT_MS, 0);
            return; /* a completion or the timer resumes */
        }
        if (rc != STORE_OK) {
            fail(w, "cannot add a message to queue '%s': %s", w->queue, p->req.err);
            store_req_cleanup(&p->req);
            break;
        }
        w->free_puts = p->next_free;
        w->next++;
        w->pending++;
    }
    if (!w->pending && (w->failed || w->next == w->count))
        finish(w);
}

static void queue_write(binding_host_t *bh, const binding_t *b, invocation_t *inv,
                        json_t *value, binding_io_cb cb, void *arg)
{
    const queue_conf_t *c = b->conf;
    char err[600], why[STORE_ERR_LEN];
    const char *name = c->queue_name;
    if (c->has_expr) {
        name = binding_host_resolve(inv, c->queue_name, err, sizeof err);
        if (!name) {
            cb(arg, 0, NULL, err);
            return;
        }
    }
    qwrite_t *w = calloc(1, sizeof *w);
    if (!w) {
        cb(arg, 0, NULL, "out of memory");
        return;
    }
    snprintf(w->queue, sizeof w->queue, "%s", name);
    if (c->has_expr) {
        queue_name_lower(w->queue);
        if (strlen(name) >= sizeof w->queue ||
            store_queue_name_check(w->queue, why, sizeof why) != STORE_OK) {
            snprintf(err, sizeof err, "queueName '%s' gave '%.80s', not a valid queue name: %s",
                     c->queue_name, name, strlen(name) >= sizeof w->queue ? "too long" : why);
            free(w);
            cb(arg, 0, NULL, err);
            return;
        }
    }
    if (!(w->st = binding_host_store(bh, b->connection, err, sizeof err))) {
        free(w);
        cb(arg, 0, NULL, err);
        return;
    }
    w->bh = bh;
    w->value = json_incref(value);
    w->count = json_is_array(value) ? json_array_size(value) : 1;
    w->cb = cb;
    w->arg = arg;
    size_t slots = w->count < PUT_WINDOW ? w->count : PUT_WINDOW;
    if (slots && !(w->puts = calloc(slots, sizeof *w->puts))) {
        write_free(w);
        cb(arg, 0, NULL, "out of memory");
        return;
    }
    for (size_t i = 0; i < slots; i++) {
        w->puts[i].w = w;
        w->puts[i].next_free = w->free_puts;
        w->free_puts = &w->puts[i];
    }
    pump(w);
}

static int queue_out_parse(const json_t *entry, struct binding *b, char *err, size_t errlen)
{
    return queue_conf_parse(entry, b, 0, err, errlen);
}

const binding_kind_t binding_queue_out = {
    .version = BINDING_KIND_VERSION,
    .type = "queue",
    .directions = BINDING_OUT,
    .is_trigger = 0,
    .parse = queue_out_parse,
    .free_conf = queue_conf_free,
    .write = queue_write,
};
