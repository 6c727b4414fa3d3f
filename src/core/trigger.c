/*
 * trigger.c -- the binding host (see trigger.h): stores by connection,
 * trigger sources, and the invocation path for events: inputs, the
 * function with its retry policy, outputs after success, logging.
 */
#include "trigger.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>

#include "../telemetry/log.h"
#include "../telemetry/history.h"
#include "../telemetry/telemetry.h"
#include "../util/buf.h"
#include "expr.h"

typedef struct source {
    function_t *fn;
    binding_t *b;
    void *state;
} source_t;

/* A source of a previous version of the app, stopping (binding_host_switch_app). */
typedef struct retiring {
    binding_host_t *bh;
    app_t *app;
    struct retiring *next;
} retiring_t;

typedef struct bh_store {
    char *url; /* "" for the default */
    store_t *st;
    int started;
} bh_store_t;

typedef struct queue_watch {
    store_t *st;
    binding_queue_cb cb;
    void *arg;
} queue_watch_t;

typedef struct ev_run ev_run_t;
typedef struct manual_run manual_run_t;

struct binding_host {
    uv_loop_t *loop;
    app_t *app;
    const runtime_t *rt;
    bh_store_t stores[TRIGGER_MAX_STORES];
    size_t nstores;
    char *blob_root;
    source_t *sources;
    size_t nsources;
    queue_watch_t *watches;
    size_t nwatches;
    ev_run_t *runs; /* events in flight (a list, for stop) */
    manual_run_t *manuals; /* runs by hand whose event is being made */
    ev_run_t *free_runs; /* finished runs kept for the next events */
    size_t nfree_runs;
    size_t inflight;
    int warned_azure;
    int stopping;
    size_t stops_pending;
    retiring_t *retiring;  /* sources of previous app versions still stopping */
    int start_pending;     /* start bh->app's sources once none is retiring */
    void (*stopped_cb)(void *);
    void *stopped_data;
};

/* ---- stores ---- */

static void on_notify(store_t *st, const char *queue, void *data)
{
    binding_host_t *bh = data;
    for (size_t i = 0; i < bh->nwatches; i++)
        if (bh->watches[i].st == st)
            bh->watches[i].cb(bh->watches[i].arg, queue);
}

static store_t *open_store(binding_host_t *bh, const char *url, const char *what, char *err,
                           size_t errlen)
{
    for (size_t i = 0; i < bh->nstores; i++)
        if (strcmp(bh->stores[i].url, url) == 0)
            return bh->stores[i].st;
    if (bh->nstores == TRIGGER_MAX_STORES) {
        snprintf(err, errlen, "%s: too many different stores (at most %d)", what,
                 TRIGGER_MAX_STORES);
        return NULL;
    }
    char serr[STORE_ERR_LEN + 256];
    store_t *st = NULL;
    int rc = store_open(url[0] ? url : NULL, bh->app->root, NULL, &st, serr, sizeof serr);
    if (rc != STORE_OK) {
        snprintf(err, errlen, "%s: %s", what, serr);
        return NULL;
    }
    if (store_start(st, bh->loop) != STORE_OK) {
        snprintf(err, errlen, "%s: cannot start the store %s", what, store_location(st));
        store_close(st);
        return NULL;
    }
    store_set_notify(st, on_notify, bh);
    bh_store_t *s = &bh->stores[bh->nstores++];
    s->url = strdup(url);
    s->st = st;
    s->started = 1;
    log_write(LOG_DEBUG, "Host.Storage", NULL, "Store %s (%s, schema %d, check: %s)",
              store_location(st), store_backend_name(st), store_schema_version(st),
              store_check_result(st));
    return st;
}

const char *binding_connection_url(const app_t *app, const char *connection, int *azure,
                                   char *err, size_t errlen)
{
    const char *name = connection && *connection ? connection : TRIGGER_DEFAULT_CONNECTION;
    const char *value = app_setting(app, name);
    char alt[300];
    *azure = 0;
    if (!value) {
        /* Azure also looks for the name with the AzureWebJobs prefix. */
        snprintf(alt, sizeof alt, "AzureWebJobs%s", name);
        value = app_setting(app, alt);
    }
    if (!value) {
        if (strcmp(name, TRIGGER_DEFAULT_CONNECTION) == 0)
            return "";
        snprintf(err, errlen, "connection '%s': app setting '%s' is not set (set it in "
                 "local.settings.json Values to \"UseDevelopmentStorage=true\" for the embedded "
                 "store, or to a store URL such as \"sqlite:data/store.db\")", name, name);
        return NULL;
    }
    while (*value == ' ')
        value++;
    if (!*value || strncasecmp(value, "UseDevelopmentStorage=true", 26) == 0)
        return "";
    if (strcasestr(value, "AccountName=") || strcasestr(value, "DefaultEndpointsProtocol=")) {
        *azure = 1;
        return "";
    }
    return value;
}

/* The store of a connection, its setting read from app. */
static store_t *store_for(binding_host_t *bh, const app_t *app, const char *connection,
                          char *err, size_t errlen)
{
    const char *name = connection && *connection ? connection : TRIGGER_DEFAULT_CONNECTION;
    char what[400];
    int azure;
    snprintf(what, sizeof what, "connection '%s'", name);
    const char *url = binding_connection_url(app, connection, &azure, err, errlen);
    if (!url)
        return NULL;
    if (azure && !bh->warned_azure) {
        bh->warned_azure = 1;
        log_warn("connection '%s' holds an Azure Storage connection string; Stratus keeps "
                 "queues and blobs in its embedded store instead", name);
    }
    return open_store(bh, url, what, err, errlen);
}

store_t *binding_host_store(binding_host_t *bh, const char *connection, char *err,
                            size_t errlen)
{
    return store_for(bh, bh->app, connection, err, errlen);
}

store_t *binding_host_default_store(binding_host_t *bh)
{
    return bh->nstores ? bh->stores[0].st : NULL;
}

const char *binding_host_blob_root(binding_host_t *bh) { return bh->blob_root; }

int binding_host_watch_queue(binding_host_t *bh, store_t *st, binding_queue_cb cb, void *arg)
{
    queue_watch_t *grown = realloc(bh->watches, (bh->nwatches + 1) * sizeof *grown);
    if (!grown)
        return -1;
    bh->watches = grown;
    bh->watches[bh->nwatches++] = (queue_watch_t){st, cb, arg};
    return 0;
}

void binding_host_unwatch_queue(binding_host_t *bh, void *arg)
{
    for (size_t i = 0; i < bh->nwatches;)
        if (bh->watches[i].arg == arg)
            bh->watches[i] = bh->watches[--bh->nwatches];
        else
            i++;
}

char *binding_blob_root_of(const app_t *app, const store_t *st)
{
    json_t *stratus = json_object_get(app->host_json, "stratus");
    json_t *storage = NULL, *root = NULL;
    const char *k;
    json_t *v;
    json_object_foreach(stratus, k, v)
        if (strcasecmp(k, "storage") == 0)
            storage = v;
    json_object_foreach(storage, k, v)
        if (strcasecmp(k, "blobRoot") == 0)
            root = v;
    char path[4200];
    if (json_is_string(root) && json_string_length(root)) {
        const char *r = json_string_value(root);
        if (r[0] == '/')
            snprintf(path, sizeof path, "%s", r);
        else
            snprintf(path, sizeof path, "%s/%s", app->root, r);
    } else {
        const char *loc = store_location(st);
        const char *slash = strrchr(loc, '/');
        snprintf(path, sizeof path, "%.*s/blobs", slash ? (int)(slash - loc) : 1,
                 slash ? loc : ".");
    }
    return strdup(path);
}

binding_host_t *binding_host_new(uv_loop_t *loop, app_t *app, const runtime_t *rt, char *err,
                                 size_t errlen)
{
    binding_host_t *bh = calloc(1, sizeof *bh);
    if (!bh) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    bh->loop = loop;
    bh->app = app;
    bh->rt = rt;
    store_t *st = binding_host_store(bh, NULL, err, errlen);
    if (!st || !(bh->blob_root = binding_blob_root_of(app, st))) {
        binding_host_free(bh);
        return NULL;
    }
    return bh;
}

uv_loop_t *binding_host_loop(binding_host_t *bh) { return bh->loop; }
app_t *binding_host_app(binding_host_t *bh) { return bh->app; }
size_t binding_host_inflight(const binding_host_t *bh) { return bh->inflight; }

/* ---- sources ---- */

void binding_host_check(binding_host_t *bh, app_t *app)
{
    for (size_t i = 0; i < app->nfunctions;) {
        function_t *fn = app->functions[i];
        char err[1024] = "";
        const binding_t *bad = NULL;
        for (size_t k = 0; k < fn->nbindings && !bad; k++) {
            const binding_t *b = &fn->bindings[k];
            if (b->connection && (b->kind->start || b->kind->read || b->kind->write) &&
                !store_for(bh, app, b->connection, err, sizeof err))
                bad = b;
        }
        if (!bad) {
            i++;
            continue;
        }
        app_add_error(app, fn->name, "%s: binding '%s' (%s): field 'connection': %s",
                      fn->label, bad->name, bad->type, err);
        if (bh->rt->unload)
            bh->rt->unload(fn);
        app_drop_function(app, fn);
    }
}

size_t binding_host_start(binding_host_t *bh)
{
    app_t *app = bh->app;
    size_t started = 0;
    for (size_t i = 0; i < app->nfunctions;) {
        function_t *fn = app->functions[i];
        binding_t *b = fn->trigger;
        if (!b->kind->start || fn->disabled) {
            i++;
            continue;
        }
        char err[1024] = "";
        void *state = NULL;
        source_t *grown = realloc(bh->sources, (bh->nsources + 1) * sizeof *grown);
        if (grown)
            bh->sources = grown;
        if (!grown || b->kind->start(bh, fn, b, &state, err, sizeof err) != 0) {
            app_add_error(app, fn->name, "%s: binding '%s' (%s): %s", fn->name, b->name,
                          b->type, grown ? err : "out of memory");
            log_write(LOG_ERROR, "Host.Startup", NULL, "%s",
                      app->errors[app->nerrors - 1].message);
            if (bh->rt->unload)
                bh->rt->unload(fn);
            app_drop_function(app, fn);
            continue;
        }
        bh->sources[bh->nsources++] = (source_t){fn, b, state};
        started++;
        i++;
    }
    return started;
}

static void finish_run(ev_run_t *r, int ok, const char *reason);
static void start_attempt(ev_run_t *r);

static void stores_stopped(store_t *st, void *data)
{
    (void)st;
    binding_host_t *bh = data;
    if (--bh->stops_pending == 0 && bh->stopped_cb)
        bh->stopped_cb(bh->stopped_data);
}

static void maybe_stopped(binding_host_t *bh)
{
    if (bh->stopping != 2 || bh->inflight || bh->stops_pending || bh->retiring)
        return;
    bh->stopping = 3;
    history_stop(); /* its last records go before the store stops */
    for (size_t i = 0; i < bh->nstores; i++)
        if (bh->stores[i].started) {
            bh->stores[i].started = 0;
            if (store_stop(bh->stores[i].st, stores_stopped, bh) == STORE_OK)
                bh->stops_pending++;
        }
    if (!bh->stops_pending && bh->stopped_cb)
        bh->stopped_cb(bh->stopped_data);
}

static void source_stopped(void *data)
{
    binding_host_t *bh = data;
    if (--bh->stops_pending == 0) {
        bh->stopping = 2;
        maybe_stopped(bh);
    }
}

/* ---- binding data and values ---- */

static int64_t now_ms(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

json_t *binding_host_data(invocation_t *inv)
{
    if (inv->binding_data)
        return inv->binding_data;
    if (inv->binding_data_text.n) {
        inv->binding_data = json_loadb(inv->binding_data_text.p, inv->binding_data_text.n,
                                       JSON_ALLOW_NUL, NULL);
        inv->binding_data_text = SV_NULL;
        if (inv->binding_data)
            return inv->binding_data;
    }
    json_t *d = NULL;
    /* The properties of a JSON payload are binding data (a queue message,
     * an HTTP body, an admin "input"). */
    if (inv->trigger_len && inv->trigger_len < (1u << 20)) {
        json_t *body = json_loadb(inv->trigger_data, inv->trigger_len, 0, NULL);
        if (json_is_object(body))
            d = body;
        else
            json_decref(body);
    }
    if (!d)
        d = json_object();
    if (!d)
        return NULL;
    if (inv->req) {
        json_t *q = json_object();
        http_request_t *r = inv->req;
        sv_t qs = r->query;
        size_t i = 0;
        while (q && i < qs.n) {
            size_t end = i, eq;
            while (end < qs.n && qs.p[end] != '&')
                end++;
            for (eq = i; eq < end && qs.p[eq] != '='; eq++)
                ;
            char *name = arena_alloc(inv->arena, eq - i + 1);
            char *value = arena_alloc(inv->arena, end > eq ? end - eq : 1);
            long nl = name ? url_decode(qs.p + i, eq - i, name, eq - i + 1) : -1;
            long vl = value && end > eq ? url_decode(qs.p + eq + 1, end - eq - 1, value, end - eq)
                                        : 0;
            if (nl > 0 && vl >= 0) {
                json_t *s = json_stringn(value ? value : "", (size_t)vl);
                if (s && !json_object_get(q, name))
                    json_object_set_new(q, name, json_incref(s));
                if (s && !json_object_get(d, name))
                    json_object_set(d, name, s);
                json_decref(s);
            }
            i = end + 1;
        }
        if (q)
            json_object_set_new(d, "Query", q);
        for (size_t k = 0; inv->params && k < inv->params->n; k++) {
            route_param_t *p = &inv->params->v[k];
            if (!p->value.p)
                continue;
            char name[ROUTE_MAX_TEMPLATE];
            snprintf(name, sizeof name, "%.*s", (int)p->name.n, p->name.p);
            json_object_set_new(d, name, json_stringn(p->value.p, p->value.n));
        }
    }
    inv->binding_data = d;
    return d;
}

const char *binding_host_resolve(invocation_t *inv, const char *tmpl, char *err,
                                 size_t errlen)
{
    if (!expr_has_braces(tmpl))
        return tmpl;
    buf_t out;
    buf_init(&out, 64 * 1024);
    json_t *data = binding_host_data(inv);
    if (expr_resolve(tmpl, data, now_ms(), &out, err, errlen) != 0) {
        buf_free(&out);
        return NULL;
    }
    char *s = arena_strndup(inv->arena, out.p ? out.p : "", out.len);
    buf_free(&out);
    if (!s)
        snprintf(err, errlen, "out of memory");
    return s;
}

json_t *binding_host_output(invocation_t *inv, const char *name)
{
    const char *k;
    json_t *v;
    json_object_foreach(inv->outputs, k, v)
        if (strcasecmp(k, name) == 0)
            return json_is_null(v) ? NULL : v;
    return NULL;
}

/* ---- the I/O around one invocation ---- */

typedef struct io_run {
    binding_host_t *bh;
    invocation_t *inv;
    invocation_done_fn done;
    void *data;
    size_t next;   /* the binding to look at next */
    int writing;   /* past the function: outputs */
    int in_step;   /* inside step(): a callback that comes at once only sets `again` */
    int again;
    const char *failed; /* a failure that came at once: step() reports it */
} io_run_t;

static void step(io_run_t *io);

static void io_fail(io_run_t *io, const binding_t *b, const char *what, const char *reason)
{
    invocation_t *inv = io->inv;
    char *msg = arena_alloc(inv->arena, 1200);
    if (msg)
        snprintf(msg, 1200, "binding '%s' (%s): %s%s%s", b->name, b->type, what,
                 reason && *reason ? ": " : "", reason ? reason : "");
    inv->user_error = 0;
    inv->fail_status = 500;
    if (io->in_step) {
        /* The kind's call has not returned yet: done() may free io. */
        io->failed = msg ? msg : what;
        io->again = 1;
        return;
    }
    io->done(inv, 0, msg ? msg : what, io->data);
}

static void on_read(void *arg, int ok, json_t *value, const char *reason)
{
    io_run_t *io = arg;
    const binding_t *b = &io->inv->fn->bindings[io->next];
    if (!ok) {
        io_fail(io, b, "cannot read the input", reason);
        return;
    }
    if (!io->inv->inputs)
        io->inv->inputs = json_object();
    json_object_set(io->inv->inputs, b->name, value ? value : json_null());
    io->next++;
    if (io->in_step)
        io->again = 1;
    else
        step(io);
}

static void on_written(void *arg, int ok, json_t *value, const char *reason)
{
    (void)value;
    io_run_t *io = arg;
    const binding_t *b = &io->inv->fn->bindings[io->next];
    if (!ok) {
        io_fail(io, b, "cannot write the output", reason);
        return;
    }
    io->next++;
    if (io->in_step)
        io->again = 1;
    else
        step(io);
}

static void on_invoked(invocation_t *inv, int ok, const char *reason, void *data)
{
    io_run_t *io = data;
    if (!ok) {
        io->done(inv, 0, reason, io->data);
        return;
    }
    io->writing = 1;
    io->next = 0;
    step(io);
}

/* Walk the bindings from io->next: read each input, then run the
 * function, then write each output; callbacks that come before the kind's
 * call returns loop here instead of recursing. */
static void step(io_run_t *io)
{
    invocation_t *inv = io->inv;
    function_t *fn = inv->fn;
    for (;;) {
        while (io->next < fn->nbindings) {
            binding_t *b = &fn->bindings[io->next];
            if (b->is_trigger) {
                io->next++;
                continue;
            }
            if (!io->writing && (b->direction & BINDING_IN) && b->kind->read) {
                io->in_step = 1;
                io->again = 0;
                b->kind->read(io->bh, b, inv, on_read, io);
                io->in_step = 0;
                if (!io->again)
                    return; /* on_read continues, or it failed */
                if (io->failed) {
                    io->done(inv, 0, io->failed, io->data);
                    return;
                }
                continue;
            }
            json_t *v;
            if (io->writing && (b->direction & BINDING_OUT) && b->kind->write &&
                (v = binding_host_output(inv, b->name))) {
                io->in_step = 1;
                io->again = 0;
                b->kind->write(io->bh, b, inv, v, on_written, io);
                io->in_step = 0;
                if (!io->again)
                    return;
                if (io->failed) {
                    io->done(inv, 0, io->failed, io->data);
                    return;
                }
                continue;
            }
            io->next++;
        }
        if (io->writing) {
            io->done(inv, 1, NULL, io->data);
            return;
        }
        io->bh->rt->invoke(inv, on_invoked, io);
        return;
    }
}

void binding_host_run(binding_host_t *bh, invocation_t *inv, invocation_done_fn done,
                      void *data)
{
    if (!inv->fn->has_io) {
        bh->rt->invoke(inv, done, data);
        return;
    }
    io_run_t *io = arena_calloc(inv->arena, sizeof *io);
    if (!io) {
        inv->fail_status = 500;
        done(inv, 0, "out of memory", data);
        return;
    }
    io->bh = bh;
    io->inv = inv;
    io->done = done;
    io->data = data;
    step(io);
}

/* ---- events ---- */

struct ev_run {
    binding_host_t *bh;
    app_t *app;     /* the version of the app fn belongs to */
    int give_up;    /* that version was replaced: no more retries */
    function_t *fn;
    trigger_done_cb done;
    void *arg;
    char *data;     /* in buf: the payload, NUL, the metadata text, NUL, the reason, NUL */
    size_t len;
    char *meta_text;
    size_t meta_len;
    char *why;
    char *buf;      /* kept when the run is recycled */
    size_t cap;
    json_t *meta;
    arena_t arena;  /* its first block is kept when the run is recycled */
    int have_arena;
    invocation_t *inv;
    int attempt;
    uv_timer_t timer;
    int timer_init;
    uint64_t first_ns;
    char first_id[UUID_STR_LEN]; /* the first attempt's invocation id */
    char trace[TRACEPARENT_SIZE]; /* the event's trace: each attempt a span of it */
    ev_run_t *prev, *next;
    char reason[1024];
};

#define RUNS_KEPT 256

static void run_free(ev_run_t *r)
{
    if (r->have_arena)
        arena_free(&r->arena);
    json_decref(r->meta);
    free(r->buf);
    free(r);
}

/* Done with r: keep it for the next event (its buffer and its arena's
 * first block: no allocation per event in the steady state), or free it. */
static void run_recycle(binding_host_t *bh, ev_run_t *r)
{
    if (bh->nfree_runs >= RUNS_KEPT) {
        run_free(r);
        return;
    }
    json_decref(r->meta);
    r->meta = NULL;
    if (r->have_arena)
        arena_reset(&r->arena);
    r->inv = NULL;
    r->next = bh->free_runs;
    bh->free_runs = r;
    bh->nfree_runs++;
}

static void timer_closed(uv_handle_t *h) { run_free(h->data); }

static void finish_run(ev_run_t *r, int ok, const char *reason)
{
    binding_host_t *bh = r->bh;
    if (r->prev)
        r->prev->next = r->next;
    else
        bh->runs = r->next;
    if (r->next)
        r->next->prev = r->prev;
    bh->inflight--;
    r->done(r->arg, ok, reason, r->inv);
    if (r->timer_init)
        uv_close((uv_handle_t *)&r->timer, timer_closed);
    else
        run_recycle(bh, r);
    maybe_stopped(bh);
}

static int64_t retry_delay(const retry_policy_t *p, int attempt)
{
    if (p->strategy == RETRY_FIXED)
        return p->delay_ms;
    int64_t d = p->min_delay_ms;
    for (int i = 0; i < attempt && d < p->max_delay_ms; i++)
        d = d ? d * 2 : 1;
    return d < p->max_delay_ms ? d : p->max_delay_ms;
}

static void start_attempt(ev_run_t *r);

static void on_retry_timer(uv_timer_t *t) { start_attempt(t->data); }

static void on_attempt(invocation_t *inv, int ok, const char *reason, void *data)
{
    ev_run_t *r = data;
    uint64_t ns = uv_hrtime() - inv->start_ns;
    log_invocation(r->fn->name, inv->id, ok, 0, ns, reason);
    telemetry_end(inv, ok, 0, ns, reason);
    if (ok) {
        finish_run(r, 1, NULL);
        return;
    }
    snprintf(r->reason, sizeof r->reason, "%s", reason ? reason : "failed");
    const retry_policy_t *p = &r->fn->retry;
    int more = p->strategy != RETRY_NONE && !inv->not_run &&
               (p->max_retry_count < 0 || r->attempt < p->max_retry_count);
    if (!more || r->bh->stopping || r->give_up) {
        finish_run(r, 0, r->reason);
        return;
    }
    int64_t delay = retry_delay(p, r->attempt);
    r->attempt++;
    log_write(LOG_WARN, "Function", inv->id, "Function '%s' failed; retry %d%s%d in %lld ms",
              r->fn->name, r->attempt, p->max_retry_count < 0 ? "" : " of ",
              p->max_retry_count < 0 ? 0 : p->max_retry_count, (long long)delay);
    if (!r->timer_init) {
        uv_timer_init(r->bh->loop, &r->timer);
        r->timer.data = r;
        r->timer_init = 1;
    }
    uv_timer_start(&r->timer, on_retry_timer, (uint64_t)delay, 0);
}

static void start_attempt(ev_run_t *r)
{
    binding_host_t *bh = r->bh;
    if (r->have_arena)
        arena_reset(&r->arena);
    if ((bh->stopping || r->give_up) && r->attempt) {
        r->inv = NULL;
        finish_run(r, 0, r->reason);
        return;
    }
    if (!r->have_arena) {
        arena_init(&r->arena, 4096);
        r->have_arena = 1;
    }
    invocation_t *inv = r->inv =
        invocation_new(&r->arena, r->app, r->fn, r->attempt ? SV_NULL : sv_cstr(r->first_id));
    if (!inv) {
        finish_run(r, 0, "out of memory");
        return;
    }
    inv->trigger_data = r->data;
    inv->trigger_len = r->len;
    inv->binding_data = json_incref(r->meta);
    if (!r->meta && r->meta_len)
        inv->binding_data_text = sv_make(r->meta_text, r->meta_len);
    inv->trigger_type = r->fn->trigger->type;
    if (r->attempt)
        traceparent_next_span(r->trace, inv->traceparent);
    else
        memcpy(r->trace, inv->traceparent, sizeof r->trace);
    inv->retry_count = r->attempt;
    inv->retry_error = r->attempt ? r->reason : NULL;
    inv->max_retry_count = r->fn->retry.strategy == RETRY_NONE ? 0 : r->fn->retry.max_retry_count;
    if (log_level_for("Function") <= LOG_INFO)
        log_write(LOG_INFO, "Function", inv->id, "Executing 'Functions.%s' (Reason='%s', Id=%s)",
                  r->fn->name, r->why ? r->why : "", inv->id);
    telemetry_begin(inv);
    binding_host_run(bh, inv, on_attempt, r);
}

/* The app version fn belongs to: the current one, or one whose sources
 * are still stopping. */
static app_t *app_of(binding_host_t *bh, function_t *fn)
{
    if (app_function(bh->app, fn->name) == fn)
        return bh->app;
    for (retiring_t *t = bh->retiring; t; t = t->next)
        if (app_function(t->app, fn->name) == fn)
            return t->app;
    return bh->app;
}

int binding_host_invoke(binding_host_t *bh, function_t *fn, const trigger_event_t *ev,
                        trigger_done_cb done, void *arg)
{
    return binding_host_invoke_id(bh, fn, ev, done, arg, NULL);
}

int binding_host_invoke_id(binding_host_t *bh, function_t *fn, const trigger_event_t *ev,
                           trigger_done_cb done, void *arg, char *id)
{
    if (bh->stopping) {
        json_decref(ev->metadata);
        return -1;
    }
    ev_run_t *r = bh->free_runs;
    if (r) {
        bh->free_runs = r->next;
        bh->nfree_runs--;
        /* Everything but the buffer and the arena starts afresh. */
        char *buf = r->buf;
        size_t cap = r->cap;
        arena_t arena = r->arena;
        int have_arena = r->have_arena;
        memset(r, 0, sizeof *r);
        r->buf = buf;
        r->cap = cap;
        r->arena = arena;
        r->have_arena = have_arena;
    } else if (!(r = calloc(1, sizeof *r))) {
        json_decref(ev->metadata);
        return -1;
    }
    size_t why_len = ev->reason ? strlen(ev->reason) : 0;
    size_t need = ev->len + 1 + ev->metadata_len + 1 + why_len + 1;
    if (need > r->cap) {
        char *grown = realloc(r->buf, need);
        if (!grown) {
            run_free(r);
            json_decref(ev->metadata);
            return -1;
        }
        r->buf = grown;
        r->cap = need;
    }
    char *data = r->buf;
    if (ev->len)
        memcpy(data, ev->data, ev->len);
    data[ev->len] = '\0';
    r->meta_text = data + ev->len + 1;
    r->meta_len = ev->metadata_len;
    if (ev->metadata_len)
        memcpy(r->meta_text, ev->metadata_text, ev->metadata_len);
    r->meta_text[ev->metadata_len] = '\0';
    r->why = r->meta_text + ev->metadata_len + 1;
    if (why_len)
        memcpy(r->why, ev->reason, why_len);
    r->why[why_len] = '\0';
    r->bh = bh;
    r->app = app_of(bh, fn);
    r->fn = fn;
    r->done = done;
    r->arg = arg;
    r->data = data;
    r->len = ev->len;
    r->meta = ev->metadata;
    r->first_ns = uv_hrtime();
    uuid_generate(r->first_id);
    if (id)
        memcpy(id, r->first_id, UUID_STR_LEN);
    r->next = bh->runs;
    if (bh->runs)
        bh->runs->prev = r;
    bh->runs = r;
    bh->inflight++;
    start_attempt(r);
    return 0;
}

/* ---- runs by hand ---- */

/* A run by hand whose event the trigger kind is making (a blob being
 * read): it counts as in flight, so that neither its app version nor the
 * host goes away meanwhile. */
struct manual_run {
    binding_host_t *bh;
    app_t *app;
    function_t *fn;
    trigger_input_cb cb;
    void *arg;
    manual_run_t *prev, *next;
};

#define MANUAL_REASON "This function was programmatically called via the host APIs."

static void manual_done(void *arg, int ok, const char *reason, invocation_t *inv)
{
    (void)arg;
    (void)ok;
    (void)reason;
    (void)inv; /* on_attempt logged it */
}

static void manual_made(void *arg, binding_manual_status_t status, const trigger_event_t *ev,
                        const char *err)
{
    manual_run_t *m = arg;
    binding_host_t *bh = m->bh;
    char id[UUID_STR_LEN] = "";
    binding_manual_status_t rc = status;
    if (status == BINDING_MANUAL_OK) {
        trigger_event_t run = *ev;
        run.reason = MANUAL_REASON;
        if (binding_host_invoke_id(bh, m->fn, &run, manual_done, NULL, id) != 0) {
            rc = BINDING_MANUAL_STOPPING;
            err = "the host is stopping";
        }
    } else if (ev) {
        json_decref(ev->metadata);
    }
    if (m->prev)
        m->prev->next = m->next;
    else
        bh->manuals = m->next;
    if (m->next)
        m->next->prev = m->prev;
    bh->inflight--;
    m->cb(m->arg, rc, rc == BINDING_MANUAL_OK ? id : NULL,
          rc == BINDING_MANUAL_OK ? NULL : err ? err : "failed");
    free(m);
    maybe_stopped(bh);
}

void binding_host_invoke_input(binding_host_t *bh, function_t *fn, const char *input,
                               size_t len, trigger_input_cb cb, void *arg)
{
    if (bh->stopping) {
        cb(arg, BINDING_MANUAL_STOPPING, NULL, "the host is stopping");
        return;
    }
    manual_run_t *m = calloc(1, sizeof *m);
    if (!m) {
        cb(arg, BINDING_MANUAL_ERROR, NULL, "out of memory");
        return;
    }
    m->bh = bh;
    m->app = app_of(bh, fn);
    m->fn = fn;
    m->cb = cb;
    m->arg = arg;
    m->next = bh->manuals;
    if (bh->manuals)
        bh->manuals->prev = m;
    bh->manuals = m;
    bh->inflight++;
    const binding_t *b = fn->trigger;
    if (b && b->kind->version >= 3 && b->kind->manual) {
        b->kind->manual(bh, fn, b, input, len, manual_made, m);
        return;
    }
    trigger_event_t ev = {.data = input, .len = len};
    manual_made(m, BINDING_MANUAL_OK, &ev, NULL);
}

void binding_host_stop(binding_host_t *bh, void (*cb)(void *data), void *data)
{
    if (bh->stopping)
        return;
    bh->stopping = 1;
    bh->stopped_cb = cb;
    bh->stopped_data = data;
    bh->stops_pending = 1;
    for (size_t i = 0; i < bh->nsources; i++) {
        source_t *s = &bh->sources[i];
        if (s->b->kind->stop) {
            bh->stops_pending++;
            s->b->kind->stop(s->state, source_stopped, bh);
        }
    }
    /* Retries waiting for their delay are given up now. */
    for (ev_run_t *r = bh->runs, *next; r; r = next) {
        next = r->next;
        if (r->timer_init && uv_is_active((uv_handle_t *)&r->timer)) {
            uv_timer_stop(&r->timer);
            start_attempt(r);
        }
    }
    source_stopped(bh);
}

/* ---- a new version of the app ---- */

static void retiring_stopped(void *data)
{
    retiring_t *t = data;
    binding_host_t *bh = t->bh;
    for (retiring_t **p = &bh->retiring; *p; p = &(*p)->next)
        if (*p == t) {
            *p = t->next;
            break;
        }
    free(t);
    if (bh->retiring)
        return;
    if (bh->stopping) {
        if (bh->stopping == 2)
            maybe_stopped(bh);
        return;
    }
    if (bh->start_pending) {
        bh->start_pending = 0;
        size_t n = binding_host_start(bh);
        if (n)
            log_write(LOG_DEBUG, "Host.Startup", NULL, "%zu trigger source(s) started", n);
    }
}

static void noop_stopped(void *data) { (void)data; }

int binding_host_switch_app(binding_host_t *bh, app_t *app)
{
    if (bh->stopping)
        return -1;
    app_t *old = bh->app;
    source_t *sources = bh->sources;
    size_t n = bh->nsources;
    bh->sources = NULL;
    bh->nsources = 0;
    bh->app = app;
    bh->start_pending = 0; /* while stopping them: a stop may call back at once */
    /* Retries of the old version waiting for their delay are given up:
     * a queue message is delivered again by the new version. */
    for (ev_run_t *r = bh->runs, *next; r; r = next) {
        next = r->next;
        if (r->app == app)
            continue;
        r->give_up = 1;
        if (r->timer_init && uv_is_active((uv_handle_t *)&r->timer)) {
            uv_timer_stop(&r->timer);
            start_attempt(r);
        }
    }
    for (size_t i = 0; i < n; i++) {
        source_t *s = &sources[i];
        if (!s->b->kind->stop)
            continue;
        retiring_t *t = calloc(1, sizeof *t);
        if (!t) {
            log_warn("out of memory while stopping the trigger source of '%s'", s->fn->name);
            s->b->kind->stop(s->state, noop_stopped, NULL);
            continue;
        }
        t->bh = bh;
        t->app = old;
        t->next = bh->retiring;
        bh->retiring = t;
        s->b->kind->stop(s->state, retiring_stopped, t);
    }
    free(sources);
    if (bh->retiring)
        bh->start_pending = 1;
    else
        binding_host_start(bh);
    return 0;
}

size_t binding_host_busy(const binding_host_t *bh, const app_t *app)
{
    size_t n = 0;
    for (const ev_run_t *r = bh->runs; r; r = r->next)
        n += r->app == app;
    for (const manual_run_t *m = bh->manuals; m; m = m->next)
        n += m->app == app;
    for (const retiring_t *t = bh->retiring; t; t = t->next)
        n += t->app == app;
    return n;
}

void binding_host_free(binding_host_t *bh)
{
    if (!bh)
        return;
    while (bh->free_runs) {
        ev_run_t *r = bh->free_runs;
        bh->free_runs = r->next;
        run_free(r);
    }
    for (size_t i = 0; i < bh->nstores; i++) {
        store_close(bh->stores[i].st);
        free(bh->stores[i].url);
    }
    while (bh->retiring) {
        retiring_t *t = bh->retiring;
        bh->retiring = t->next;
        free(t);
    }
    free(bh->sources);
    free(bh->watches);
    free(bh->blob_root);
    free(bh);
}
