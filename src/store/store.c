/*
 * store.c -- the store's generic layer (see store.h): the connection URL
 * and its backend, the store's thread, group commit, back-pressure, and
 * completions delivered on the loop thread.
 *
 * Two mutexes: `mu` guards what the loop thread and the store thread share
 * (the lists of pending and done requests, counters, flags); `db_mu` guards
 * the backend, so that a synchronous call and the thread never run SQL at
 * the same time. Neither is held while caller code runs.
 */
#include "backend.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

struct store {
    const store_backend_t *backend;
    void *be;
    store_options_t opts; /* defaults applied */

    uv_mutex_t mu;
    uv_cond_t cv;
    uv_mutex_t db_mu;

    /* Shared with the thread, under mu. */
    store_req_t *pend_head, *pend_tail;
    store_req_t *done_head, *done_tail;
    unsigned in_flight; /* accepted, callback not yet run */
    int stopping;       /* set by store_stop, read by the thread */
    int thread_exited;
    store_stats_t stats;

    /* Loop thread only. */
    uv_loop_t *loop;
    uv_async_t async;
    uv_thread_t thread;
    int started;  /* between store_start and stop_cb */
    int closing;  /* stop requested */
    store_req_t **batch; /* the thread's batch array, max_batch entries */
    store_notify_cb notify_cb;
    void *notify_data;
    store_stop_cb stop_cb;
    void *stop_data;
};

const char *store_strerror(int status)
{
    switch (status) {
    case STORE_OK: return "ok";
    case STORE_EINVAL: return "invalid argument";
    case STORE_E2BIG: return "too big";
    case STORE_ENOTFOUND: return "not found";
    case STORE_ESTALE: return "stale pop receipt";
    case STORE_EFULL: return "too many operations in flight";
    case STORE_ESTOPPED: return "store not started";
    case STORE_EIO: return "store backend failed";
    case STORE_ESCHEME: return "no backend for the URL";
    case STORE_ELOCKED: return "store in use by another process";
    case STORE_ECORRUPT: return "not a store, or damaged";
    case STORE_EVERSION: return "store written by a newer version";
    default: return "unknown status";
    }
}

int store__fail(store_req_t *req, int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(req->err, sizeof req->err, fmt, ap);
    va_end(ap);
    req->status = status;
    return status;
}

static void set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* ---- the connection URL --------------------------------------------------- */

/* "UseDevelopmentStorage=true", alone or followed by ";..." (Azure's local
 * emulator setting, which means the embedded store here). */
static int is_dev_storage(const char *url)
{
    static const char key[] = "UseDevelopmentStorage=true";
    size_t n = sizeof key - 1;
    return strncasecmp(url, key, n) == 0 && (url[n] == '\0' || url[n] == ';');
}

/* Split url into its backend and the rest after "scheme:". Values are
 * never echoed whole in messages: a connection value may carry a secret. */
static int resolve_url(const char *url, const store_backend_t **backend, const char **target,
                       char *err, size_t errlen)
{
    char names[128];
    store_backend_names(names, sizeof names);
    if (!url || !*url || is_dev_storage(url)) {
        *backend = store_backend_find("sqlite", 6);
        *target = "";
        return STORE_OK;
    }
    size_t n = 0;
    if (isalpha((unsigned char)url[0]))
        while (isalnum((unsigned char)url[n]) || url[n] == '+' || url[n] == '-' || url[n] == '.')
            n++;
    if (n == 0 || url[n] != ':') {
        if (strchr(url, '=') || strchr(url, ';'))
            set_err(err, errlen,
                    "the store connection looks like an Azure Storage connection string; "
                    "Stratus needs a store URL such as 'sqlite:' or 'sqlite:/path/store.db' "
                    "(or 'UseDevelopmentStorage=true')");
        else
            set_err(err, errlen,
                    "store URL '%.60s' has no scheme (expected '<scheme>:...', e.g. "
                    "'sqlite:%.60s'; available: %s)",
                    url, url, names);
        return STORE_ESCHEME;
    }
    *backend = store_backend_find(url, n);
    if (!*backend) {
        set_err(err, errlen, "no store backend for scheme '%.*s' (available: %s)",
                (int)(n > 40 ? 40 : n), url, names);
        return STORE_ESCHEME;
    }
    *target = url + n + 1;
    return STORE_OK;
}

/* ---- open, close, information --------------------------------------------- */

static int64_t real_clock(void *data)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Every default, in one place. */
static void merge_options(store_options_t *o, const store_options_t *given)
{
    if (given)
        *o = *given;
    else
        memset(o, 0, sizeof *o);
    if (!o->max_body)
        o->max_body = STORE_DEFAULT_MAX_BODY;
    if (!o->max_value)
        o->max_value = STORE_DEFAULT_MAX_VALUE;
    if (!o->max_pending)
        o->max_pending = STORE_DEFAULT_MAX_PENDING;
    if (!o->max_batch)
        o->max_batch = STORE_DEFAULT_MAX_BATCH;
    if (!o->check_ms)
        o->check_ms = STORE_DEFAULT_CHECK_MS;
    if (!o->check_max_bytes)
        o->check_max_bytes = STORE_DEFAULT_CHECK_MAX_BYTES;
    if (!o->busy_timeout_ms)
        o->busy_timeout_ms = STORE_DEFAULT_BUSY_MS;
    if (!o->clock) {
        o->clock = real_clock;
        o->clock_data = NULL;
    }
}

int store_open(const char *url, const char *app_root, const store_options_t *opts,
               store_t **out, char *err, size_t errlen)
{
    char local[STORE_ERR_LEN];
    if (!err || errlen == 0) {
        err = local;
        errlen = sizeof local;
    }
    err[0] = '\0';
    *out = NULL;
    const store_backend_t *backend;
    const char *target;
    int rc = resolve_url(url, &backend, &target, err, errlen);
    if (rc != STORE_OK)
        return rc;
    store_t *st = calloc(1, sizeof *st);
    if (!st) {
        set_err(err, errlen, "out of memory");
        return STORE_EIO;
    }
    merge_options(&st->opts, opts);
    st->backend = backend;
    rc = backend->open(target, app_root, &st->opts, &st->be, err, errlen);
    if (rc != STORE_OK) {
        free(st);
        return rc;
    }
    if (uv_mutex_init(&st->mu) || uv_mutex_init(&st->db_mu) || uv_cond_init(&st->cv)) {
        /* Only fails when the system is out of resources. */
        backend->close(st->be);
        free(st);
        set_err(err, errlen, "cannot create the store's mutexes");
        return STORE_EIO;
    }
    *out = st;
    return STORE_OK;
}

void store_close(store_t *st)
{
    if (!st)
        return;
    st->backend->close(st->be);
    uv_cond_destroy(&st->cv);
    uv_mutex_destroy(&st->db_mu);
    uv_mutex_destroy(&st->mu);
    free(st);
}

const char *store_backend_name(const store_t *st) { return st->backend->scheme; }
const char *store_location(const store_t *st) { return st->backend->location(st->be); }
int store_schema_version(const store_t *st) { return st->backend->schema_version(st->be); }
const char *store_check_result(const store_t *st) { return st->backend->check_result(st->be); }

void store_stats(store_t *st, store_stats_t *out)
{
    uv_mutex_lock(&st->mu);
    *out = st->stats;
    out->pending = st->in_flight;
    uv_mutex_unlock(&st->mu);
}

void store_set_notify(store_t *st, store_notify_cb cb, void *data)
{
    st->notify_cb = cb;
    st->notify_data = data;
}

/* ---- running operations --------------------------------------------------- */

/* Run n requests through the backend; account for them. */
static void run_batch(store_t *st, store_req_t **reqs, size_t n)
{
    uv_mutex_lock(&st->db_mu);
    int64_t now = st->opts.clock(st->opts.clock_data);
    unsigned tx = st->backend->run(st->be, reqs, n, now);
    uv_mutex_unlock(&st->db_mu);
    uint64_t expired = 0;
    for (size_t i = 0; i < n; i++)
        if (reqs[i]->status == STORE_OK &&
            (reqs[i]->op == STORE_OP_QUEUE_GET || reqs[i]->op == STORE_OP_SWEEP))
            expired += (uint64_t)reqs[i]->count;
    uv_mutex_lock(&st->mu);
    st->stats.transactions += tx;
    st->stats.operations += n;
    st->stats.expired += expired;
    if (n > st->stats.largest_batch)
        st->stats.largest_batch = (unsigned)n;
    uv_mutex_unlock(&st->mu);
}

static void sweep_now(store_t *st)
{
    store_req_t req;
    memset(&req, 0, sizeof req);
    req.op = STORE_OP_SWEEP;
    store_req_t *one = &req;
    run_batch(st, &one, 1);
    store_req_cleanup(&req);
}

static void thread_main(void *arg)
{
    store_t *st = arg;
    const uint64_t sweep_ns = (uint64_t)STORE_SWEEP_INTERVAL_MS * 1000000u;
    const uint64_t release_ns = (uint64_t)STORE_IDLE_RELEASE_MS * 1000000u;
    uint64_t last_sweep = uv_hrtime(), last_work = 0;
    int worked = 0; /* work done since the backend last released its caches */
    /* Below the event loop: where they share a CPU, a batch being written
     * (history, a checkpoint) waits for the requests in flight instead of
     * holding them up. Idle CPU time is the store's as before. */
    setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), STORE_THREAD_NICE);
    uv_mutex_lock(&st->mu);
    for (;;) {
        int release = 0;
        while (!st->pend_head && !st->stopping) {
            uint64_t now = uv_hrtime(), until = last_sweep + sweep_ns;
            if (now >= until)
                break;
            if (worked && st->backend->release) {
                if (now - last_work >= release_ns) {
                    release = 1;
                    break;
                }
                if (last_work + release_ns < until)
                    until = last_work + release_ns;
            }
            uv_cond_timedwait(&st->cv, &st->mu, until - now);
        }
        if (!st->pend_head) {
            if (st->stopping)
                break;
            uv_mutex_unlock(&st->mu);
            if (release) {
                uv_mutex_lock(&st->db_mu);
                st->backend->release(st->be);
                uv_mutex_unlock(&st->db_mu);
#ifdef __GLIBC__
                /* What was freed stays in the process unless at the top of
                 * a heap: hand the free pages of every arena back. */
                malloc_trim(0);
#endif
                worked = 0;
            } else {
                sweep_now(st);
                last_sweep = uv_hrtime();
            }
            uv_mutex_lock(&st->mu);
            continue;
        }
        /* Everything queued, up to max_batch: one transaction. */
        size_t n = 0;
        while (st->pend_head && n < st->opts.max_batch) {
            store_req_t *r = st->pend_head;
            st->pend_head = r->next_;
            r->next_ = NULL;
            st->batch[n++] = r;
        }
        if (!st->pend_head)
            st->pend_tail = NULL;
        uv_mutex_unlock(&st->mu);

        run_batch(st, st->batch, n);
        worked = 1;
        last_work = uv_hrtime();
        for (size_t i = 0; i + 1 < n; i++)
            st->batch[i]->next_ = st->batch[i + 1];

        uv_mutex_lock(&st->mu);
        if (st->done_tail)
            st->done_tail->next_ = st->batch[0];
        else
            st->done_head = st->batch[0];
        st->done_tail = st->batch[n - 1];
        uv_mutex_unlock(&st->mu);
        uv_async_send(&st->async);

        if (uv_hrtime() - last_sweep >= sweep_ns) {
            sweep_now(st);
            last_sweep = uv_hrtime();
        }
        uv_mutex_lock(&st->mu);
    }
    st->thread_exited = 1;
    uv_mutex_unlock(&st->mu);
    uv_async_send(&st->async);
}

/* The i-th queue a request made messages visible in, or NULL past the
 * last. A request names each queue once. */
static const char *notify_queue(const store_req_t *r, size_t i)
{
    if (r->status != STORE_OK)
        return NULL;
    if (r->op == STORE_OP_QUEUE_RELEASE)
        return i < r->n_queues ? r->queues[i].name : NULL;
    if (i > 0)
        return NULL;
    switch (r->op) {
    case STORE_OP_QUEUE_PUT: return r->in.delay_ms == 0 ? r->in.queue : NULL;
    case STORE_OP_QUEUE_UPDATE: return r->in.timeout_ms == 0 ? r->in.queue : NULL;
    case STORE_OP_QUEUE_POISON: return r->in.poison;
    default: return NULL;
    }
}

/* Was queue notified for a request of list before r? */
static int notified_before(store_req_t *list, store_req_t *r, const char *queue)
{
    for (store_req_t *p = list; p != r; p = p->next_) {
        const char *q;
        for (size_t i = 0; (q = notify_queue(p, i)) != NULL; i++)
            if (strcmp(q, queue) == 0)
                return 1;
    }
    return 0;
}

/* Tell the notify callback about each queue once. The names of the first
 * few queues are remembered; past them, the earlier requests are searched. */
static void deliver_notifications(store_t *st, store_req_t *list)
{
    const char *seen[16];
    size_t n_seen = 0;
    if (!st->notify_cb)
        return;
    for (store_req_t *r = list; r; r = r->next_) {
        const char *q;
        for (size_t k = 0; (q = notify_queue(r, k)) != NULL; k++) {
            size_t i = 0;
            while (i < n_seen && strcmp(seen[i], q) != 0)
                i++;
            if (i < n_seen)
                continue;
            if (n_seen < sizeof seen / sizeof seen[0])
                seen[n_seen++] = q;
            else if (notified_before(list, r, q))
                continue;
            st->notify_cb(st, q, st->notify_data);
        }
    }
}

static void closed_cb(uv_handle_t *h)
{
    store_t *st = h->data;
    free(st->batch);
    st->batch = NULL;
    st->started = 0;
    st->closing = 0;
    st->stopping = 0;
    st->thread_exited = 0;
    st->loop = NULL;
    if (st->stop_cb)
        st->stop_cb(st, st->stop_data);
}

/* On the loop thread: run the callbacks of finished requests. */
static void async_cb(uv_async_t *h)
{
    store_t *st = h->data;
    uv_mutex_lock(&st->mu);
    store_req_t *list = st->done_head;
    st->done_head = st->done_tail = NULL;
    int exited = st->thread_exited;
    for (store_req_t *r = list; r; r = r->next_)
        st->in_flight--;
    uv_mutex_unlock(&st->mu);

    deliver_notifications(st, list);
    while (list) {
        store_req_t *r = list;
        list = r->next_; /* the callback may free r */
        r->next_ = NULL;
        r->cb_(r);
    }
    if (exited && st->started && !uv_is_closing((uv_handle_t *)&st->async)) {
        uv_thread_join(&st->thread);
        uv_close((uv_handle_t *)&st->async, closed_cb);
    }
}

int store_start(store_t *st, uv_loop_t *loop)
{
    if (st->started || st->opts.read_only)
        return STORE_EINVAL;
    st->batch = malloc(st->opts.max_batch * sizeof *st->batch);
    if (!st->batch)
        return STORE_EIO;
    if (uv_async_init(loop, &st->async, async_cb) != 0) {
        free(st->batch);
        st->batch = NULL;
        return STORE_EIO;
    }
    st->async.data = st;
    st->loop = loop;
    st->stopping = 0;
    st->thread_exited = 0;
    if (uv_thread_create(&st->thread, thread_main, st) != 0) {
        st->closing = 1;
        st->stop_cb = NULL;
        uv_close((uv_handle_t *)&st->async, closed_cb);
        st->started = 1; /* closed_cb resets it */
        return STORE_EIO;
    }
    st->started = 1;
    return STORE_OK;
}

int store_stop(store_t *st, store_stop_cb stop_cb, void *data)
{
    if (!st->started || st->closing)
        return STORE_ESTOPPED;
    st->closing = 1;
    st->stop_cb = stop_cb;
    st->stop_data = data;
    uv_mutex_lock(&st->mu);
    st->stopping = 1;
    uv_cond_signal(&st->cv);
    uv_mutex_unlock(&st->mu);
    return STORE_OK;
}

/* Run req now, or queue it for the thread (store_ops.c validated it). */
int store__submit(store_t *st, store_req_t *req, store_cb cb)
{
    req->store_ = st;
    if (!cb) {
        store_req_t *one = req;
        run_batch(st, &one, 1);
        return req->status;
    }
    if (!st->started || st->closing)
        return store__fail(req, STORE_ESTOPPED, st->closing ? "the store is stopping"
                                                           : "the store is not started");
    req->cb_ = cb;
    req->next_ = NULL;
    uv_mutex_lock(&st->mu);
    if (st->in_flight >= st->opts.max_pending) {
        st->stats.rejected++;
        uv_mutex_unlock(&st->mu);
        return store__fail(req, STORE_EFULL,
                           "the store has %u operations in flight (its limit); retry when "
                           "some have completed",
                           st->opts.max_pending);
    }
    st->in_flight++;
    if (st->pend_tail)
        st->pend_tail->next_ = req;
    else
        st->pend_head = req;
    st->pend_tail = req;
    uv_cond_signal(&st->cv);
    uv_mutex_unlock(&st->mu);
    return STORE_OK;
}

const store_options_t *store__options(const store_t *st) { return &st->opts; }

/* ---- results -------------------------------------------------------------- */

void store__req_reset(store_req_t *req)
{
    for (size_t i = 0; i < req->n_msgs; i++)
        free(req->msgs[i].body);
    free(req->msgs);
    free(req->queues);
    for (size_t i = 0; i < req->n_kvs; i++) {
        free(req->kvs[i].key);
        free(req->kvs[i].value);
    }
    free(req->kvs);
    for (size_t i = 0; i < req->n_invs; i++) {
        free(req->invs[i].function);
        free(req->invs[i].trigger);
        free(req->invs[i].error);
        free(req->invs[i].logs);
    }
    free(req->invs);
    req->invs = NULL;
    req->n_invs = 0;
    req->msgs = NULL;
    req->queues = NULL;
    req->kvs = NULL;
    req->n_msgs = req->n_queues = req->n_kvs = 0;
    req->count = 0;
    req->truncated = 0;
    req->status = STORE_OK;
    req->err[0] = '\0';
}

void store_req_cleanup(store_req_t *req)
{
    store__req_reset(req);
    free(req->mem_);
    void *data = req->data;
    memset(req, 0, sizeof *req);
    req->data = data;
}
