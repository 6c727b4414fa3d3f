/*
 * pool.c -- the scale controller of a pool (see pool.h): invocations in,
 * queueing, choosing and starting workers, timeouts, idle stops, memory
 * watch, status, and the pool's own lifecycle. The worker processes
 * themselves are in pool_worker.c.
 *
 * An invocation becomes a pool_call_t (in the invocation's arena). A call
 * is queued, then sent to a worker (moved to that worker's in-flight list),
 * then completed by the worker's result frame, a timeout, or the worker's
 * death. A worker is PLACEHOLDER (started, not loaded) or STARTING (load
 * sent) -> READY (functions loaded) -> STOPPING (asked to stop, or killed)
 * -> gone after its exit and the close of its handles.
 */
#include "pool.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "../telemetry/log.h"
#include "../telemetry/telemetry.h"
#include "../util/buf.h"
#include "../util/jsontok.h"
#include "frame.h"
#include "pool_priv.h"

void pool__call_fail(pool_call_t *c, int status, const char *reason)
{
    c->inv->fail_status = status;
    c->done(c->inv, 0, reason, c->data);
}

/* ---- scheduling ---- */

size_t pool__instances(const pool_t *p)
{
    return p->nworkers - p->nplaceholders;
}

static int can_spawn(pool_t *p)
{
    return !p->closing && (int64_t)pool__instances(p) < p->app->scale_max_instances &&
           uv_now(p->loop) >= p->backoff_until;
}

static void prewarm_cb(uv_timer_t *t)
{
    pool_t *p = t->data;
    while (!p->closing && p->nplaceholders < (size_t)p->app->scale_prewarm &&
           uv_now(p->loop) >= p->backoff_until)
        if (!pool__worker_spawn(p, 1))
            break;
}

/* A new instance: the placeholder specialised (then another placeholder is
 * started a little later, off this request's path), or a new process. */
static worker_t *new_instance(pool_t *p)
{
    worker_t *w = p->workers;
    while (w && (w->state != W_PLACEHOLDER || w->exited || w->stop_requested))
        w = w->next;
    if (!w)
        return pool__worker_spawn(p, 0);
    p->nplaceholders--;
    w->state = W_STARTING;
    w->spawn_ns = uv_hrtime();
    pool__send_load(w);
    uv_timer_start(&p->prewarm, prewarm_cb, 20, 0);
    return w;
}

static worker_t *pick(pool_t *p)
{
    worker_t *best = NULL;
    size_t setting = (size_t)p->app->scale_concurrency;
    for (worker_t *w = p->workers; w; w = w->next) {
        /* perInstanceConcurrency, and at most what the worker said it takes */
        size_t cap = w->concurrency && w->concurrency < setting ? w->concurrency : setting;
        /* A worker that has not ended a cancelled invocation yet may be
         * stuck in it (a busy loop): new work waits for its answer, or for
         * its replacement, rather than go where it may never run. */
        if (w->exited || w->state == W_STOPPING || w->state == W_PLACEHOLDER ||
            w->inflight.n >= cap || w->ncancelled)
            continue;
        if (!best || (w->state == W_READY && best->state != W_READY) ||
            (w->state == best->state && w->inflight.n < best->inflight.n))
            best = w;
    }
    return best;
}

static void sweep_start(pool_t *p);

void pool__dispatch(pool_t *p)
{
    while (p->queue.head && !p->closing) {
        if (p->app->max_concurrent_requests > 0 &&
            (int64_t)p->running >= p->app->max_concurrent_requests)
            break;
        worker_t *w = pick(p);
        if (!w) {
            if (!can_spawn(p) || !(w = new_instance(p)))
                break;
        }
        pool_call_t *c = p->queue.head;
        pool__list_remove(&p->queue, c);
        pool__send_invoke(w, c);
    }
    if (p->queue.n || p->running)
        sweep_start(p);
}

static void backoff_cb(uv_timer_t *t)
{
    pool_t *p = t->data;
    pool__dispatch(p);
    while (!p->closing && (int64_t)pool__instances(p) < p->app->scale_min_instances && can_spawn(p))
        if (!new_instance(p))
            break;
    prewarm_cb(&p->prewarm);
}

void pool__schedule_respawn(pool_t *p)
{
    int needed = p->queue.n || (int64_t)pool__instances(p) < p->app->scale_min_instances ||
                 p->nplaceholders < (size_t)p->app->scale_prewarm;
    if (p->consecutive_crashes > 1) {
        uint64_t delay = BACKOFF_MIN_MS << (p->consecutive_crashes - 2 > 12 ? 12 : p->consecutive_crashes - 2);
        if (delay > BACKOFF_MAX_MS)
            delay = BACKOFF_MAX_MS;
        p->backoff_until = uv_now(p->loop) + delay;
        log_write(LOG_WARN, "Host.Scale", NULL,
                  "%u crashes in a row; starting workers again in %llu ms", p->consecutive_crashes,
                  (unsigned long long)delay);
        uv_timer_start(&p->backoff, backoff_cb, delay, 0);
        return;
    }
    if (needed)
        backoff_cb(&p->backoff);
}

void pool_submit(pool_t *p, invocation_t *inv, invocation_done_fn done, void *data)
{
    runtime_load_t load = {.closing = p->closing, .outstanding = p->running + p->queue.n,
                           .queued = p->queue.n, .queue_max = POOL_QUEUE_MAX};
    if (!runtime_admit(inv, done, data, &load)) {
        p->rejected++;
        return;
    }
    pool_call_t *c = arena_calloc(inv->arena, sizeof *c);
    if (!c) {
        done(inv, 0, "out of memory", data);
        return;
    }
    c->inv = inv;
    c->done = done;
    c->data = data;
    c->id = ++p->next_id;
    if (p->app->function_timeout_ms > 0)
        c->deadline = uv_now(p->loop) + (uint64_t)p->app->function_timeout_ms;
    pool__list_push(&p->queue, c);
    pool__dispatch(p);
}

/* ---- timers ---- */

static void sweep_cb(uv_timer_t *t)
{
    pool_t *p = t->data;
    uint64_t now = uv_now(p->loop);
    char limit[48], reason[512];
    timespan_format(p->app->function_timeout_ms, limit, sizeof limit);
    for (pool_call_t *c = p->queue.head; c;) {
        pool_call_t *next = c->next;
        if (c->deadline && now >= c->deadline) {
            pool__list_remove(&p->queue, c);
            p->timeouts++;
            snprintf(reason, sizeof reason, "timed out after %s (functionTimeout) waiting for a "
                     "worker", limit);
            pool__call_fail(c, 504, reason);
        }
        c = next;
    }
    for (worker_t *w = p->workers; w; w = w->next) {
        for (pool_call_t *c = w->inflight.head; c;) {
            pool_call_t *next = c->next;
            if (c->deadline && now >= c->deadline) {
                pool__list_remove(&w->inflight, c);
                p->running--;
                p->timeouts++;
                w->last_active = now; /* idle from now on, not from its start */
                frame_encode(&w->wbuf, FRAME_CANCEL, c->id, NULL, 0, NULL, 0);
                w->urgent = 1;
                pool__worker_flush(w); /* the cancel goes out before the kill */
                snprintf(reason, sizeof reason, "timed out after %s (functionTimeout)", limit);
                char what[200], kill_reason[300];
                snprintf(what, sizeof what, "invocation %s of '%.100s'", c->inv->id,
                         c->inv->fn->name);
                snprintf(kill_reason, sizeof kill_reason, "%s timed out after %s "
                         "(functionTimeout)", what, limit);
                uint64_t id = c->id;
                pool__call_fail(c, 504, reason);
                /* Native code cannot be interrupted: replace the worker. A
                 * worker running others concurrently (Python, Node.js)
                 * gets a grace period to end this one first. */
                if (w->sequential || pool__await_cancelled(w, id, what) != 0)
                    pool__worker_kill(w, kill_reason);
            }
            c = next;
        }
        for (size_t i = 0; i < w->ncancelled && !w->exited; i++)
            if (now >= w->cancelled[i].until) {
                int at = snprintf(reason, sizeof reason, "%s did not end within %d ms of its "
                                  "cancellation", w->cancelled[i].what, CANCEL_GRACE_MS);
                /* What blocks the worker may be another invocation: name
                 * those still running on it, cancelled or not. */
                int listed = 0;
                for (size_t j = 0; j < w->ncancelled; j++) {
                    if (j == i || at <= 0 || (size_t)at >= sizeof reason - 1 || listed == 3)
                        continue;
                    at += snprintf(reason + at, sizeof reason - (size_t)at, "%s%s (cancelled too)",
                                   listed++ ? ", " : "; still running on it: ",
                                   w->cancelled[j].what);
                }
                for (pool_call_t *c = w->inflight.head; c; c = c->next) {
                    if (at <= 0 || (size_t)at >= sizeof reason - 1)
                        break;
                    if (listed == 3) {
                        at += snprintf(reason + at, sizeof reason - (size_t)at, ", ...");
                        break;
                    }
                    at += snprintf(reason + at, sizeof reason - (size_t)at,
                                   "%sinvocation %s of '%.60s'",
                                   listed++ ? ", " : "; still running on it: ", c->inv->id,
                                   c->inv->fn->name);
                }
                pool__worker_kill(w, reason);
                break;
            }
    }
    if (!p->queue.n && !p->running && !p->cancelled) {
        uv_timer_stop(&p->sweep);
        p->sweeping = 0;
    }
}

int pool__await_cancelled(worker_t *w, uint64_t id, const char *what)
{
    cancelled_t *v = realloc(w->cancelled, (w->ncancelled + 1) * sizeof *v);
    if (!v)
        return -1;
    w->cancelled = v;
    cancelled_t *x = &v[w->ncancelled++];
    x->id = id;
    x->until = uv_now(w->pool->loop) + CANCEL_GRACE_MS;
    snprintf(x->what, sizeof x->what, "%s", what);
    w->pool->cancelled++;
    return 0;
}

void pool__forget_cancelled(worker_t *w, size_t i)
{
    w->cancelled[i] = w->cancelled[--w->ncancelled];
    w->pool->cancelled--;
}

static void sweep_start(pool_t *p)
{
    if (p->sweeping || p->app->function_timeout_ms <= 0 || p->closing)
        return;
    p->sweeping = 1;
    uv_timer_start(&p->sweep, sweep_cb, SWEEP_MS, SWEEP_MS);
}

static void housekeeping_cb(uv_timer_t *t)
{
    pool_t *p = t->data;
    uint64_t now = uv_now(p->loop);
    size_t alive = pool__instances(p);
    pool__fs_check(p);
    for (worker_t *w = p->workers; w; w = w->next) {
        if (w->exited)
            continue;
        if (w->state == W_STOPPING && w->stop_requested == 1 && now >= w->stop_deadline) {
            pool__worker_kill(w, "it did not stop within the grace period");
            continue;
        }
        /* Every start, not only the first, has a limit: a function that
         * hangs while it is imported must not hold its invocations for
         * their whole functionTimeout. */
        if (w->state == W_STARTING &&
            (uv_hrtime() - w->spawn_ns) / 1000000 >= POOL_LOAD_TIMEOUT_MS) {
            char reason[300];
            if (w->loading[0])
                snprintf(reason, sizeof reason, "it did not load the functions within %d s "
                         "(it was loading function '%.100s': its module may hang while it is "
                         "imported)", POOL_LOAD_TIMEOUT_MS / 1000, w->loading);
            else
                snprintf(reason, sizeof reason, "it did not load the functions within %d s",
                         POOL_LOAD_TIMEOUT_MS / 1000);
            pool__worker_kill(w, reason);
            continue;
        }
        uint64_t rss = w->pid ? telemetry_rss_bytes(w->pid) : 0;
        if (rss)
            w->rss_bytes = rss;
        if (p->app->worker_memory_mb > 0) {
            long mb = (long)(w->rss_bytes >> 20);
            if (mb > p->app->worker_memory_mb) {
                char reason[160];
                snprintf(reason, sizeof reason, "it exceeded the memory limit of %lld MB "
                         "(resident %ld MB; stratus.worker.memoryLimitMB)",
                         (long long)p->app->worker_memory_mb, mb);
                pool__worker_kill(w, reason);
                continue;
            }
        }
        if (w->state == W_READY && !w->inflight.n && !w->ncancelled &&
            (int64_t)alive > p->app->scale_min_instances &&
            now - w->last_active >= (uint64_t)p->app->scale_idle_timeout_ms) {
            log_write(LOG_INFO, "Host.Scale", NULL, "Worker %d (pid %d) idle for %llu ms; "
                      "stopping it (%zu instance(s) left)", w->seq, w->pid,
                      (unsigned long long)(now - w->last_active), alive - 1);
            pool__worker_stop(w);
            alive--;
        }
    }
}

/* ---- pool ---- */

pool_t *pool_new(uv_loop_t *loop, app_t *app, const pool_spec_t *spec)
{
    pool_t *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->loop = loop;
    p->app = app;
    size_t len = sizeof p->exe;
    if (child_self_exe(p->exe, &len) != 0)
        snprintf(p->exe, sizeof p->exe, "/proc/self/exe");
    snprintf(p->runtime, sizeof p->runtime, "%s", spec->runtime);
    p->limit_memory = spec->limit_memory;
    if (spec->cache_file)
        snprintf(p->cache_file, sizeof p->cache_file, "%s", spec->cache_file);
    size_t n = 0;
    while (spec->argv && spec->argv[n])
        n++;
    p->argv = calloc(n + 1, sizeof *p->argv);
    p->rbuf = malloc(READ_SIZE);
    if (!p->argv || !p->rbuf) {
        free(p->argv);
        free(p->rbuf);
        free(p);
        return NULL;
    }
    for (; p->argc < n; p->argc++)
        p->argv[p->argc] = strdup(spec->argv[p->argc]);
    uv_check_init(loop, &p->flush);
    p->flush.data = p;
    uv_check_start(&p->flush, pool__flush_cb);
    uv_unref((uv_handle_t *)&p->flush);
    uv_idle_init(loop, &p->wake);
    p->wake.data = p;
    uv_unref((uv_handle_t *)&p->wake);
    uv_timer_init(loop, &p->sweep);
    p->sweep.data = p;
    uv_unref((uv_handle_t *)&p->sweep);
    uv_timer_init(loop, &p->housekeeping);
    p->housekeeping.data = p;
    uv_timer_init(loop, &p->backoff);
    p->backoff.data = p;
    uv_unref((uv_handle_t *)&p->backoff);
    uv_timer_init(loop, &p->prewarm);
    p->prewarm.data = p;
    uv_unref((uv_handle_t *)&p->prewarm);
    p->handles_open = 6;
    return p;
}

static void start_timeout_cb(uv_timer_t *t) { *(int *)t->data = 1; }

int pool_start(pool_t *p, int timeout_ms, char *err, size_t errlen)
{
    worker_t *w = pool__worker_spawn(p, 0);
    if (!w) {
        snprintf(err, errlen, "%s", p->start_error);
        return -1;
    }
    int timed_out = 0;
    uv_timer_t t;
    uv_timer_init(p->loop, &t);
    t.data = &timed_out;
    uv_timer_start(&t, start_timeout_cb, (uint64_t)timeout_ms, 0);
    while (!p->loaded && !timed_out && !p->crashes && !runtime_host_stopping())
        uv_run(p->loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&t, NULL);
    uv_run(p->loop, UV_RUN_NOWAIT);
    int rc = 0;
    if (!p->loaded) {
        /* A function that crashes or hangs while loading: say so, and serve
         * anyway; its invocations fail and restarts back off. */
        if (timed_out)
            snprintf(err, errlen, "the first worker did not load the functions within %d s, so "
                     "their load errors are unknown (a function's module may hang while it is "
                     "imported); invocations will fail until a worker loads them",
                     timeout_ms / 1000);
        else if (strstr(p->last_crash, " while loading function "))
            snprintf(err, errlen, "%s: its module may end the process when it is imported; the "
                     "other functions' load errors are unknown, and invocations will fail until "
                     "a worker loads them", p->last_crash);
        else
            snprintf(err, errlen, "%s while loading the functions, so their load errors are "
                     "unknown (a function's module may end the process while it is imported); "
                     "invocations will fail until a worker loads them",
                     p->last_crash[0] ? p->last_crash : "the first worker failed");
        for (worker_t *x = p->workers; x; x = x->next)
            if (timed_out)
                pool__worker_fail(x, "it did not load the functions in time");
        rc = 1;
    }
    uv_timer_start(&p->housekeeping, housekeeping_cb, HOUSEKEEPING_MS, HOUSEKEEPING_MS);
    uv_unref((uv_handle_t *)&p->housekeeping);
    pool__fs_start(p);
    while ((int64_t)pool__instances(p) < p->app->scale_min_instances)
        if (!pool__worker_spawn(p, 0))
            break;
    prewarm_cb(&p->prewarm);
    return rc;
}

const char *pool_load_error(const pool_t *p, const function_t *fn)
{
    for (size_t i = 0; i < p->nload_errors; i++)
        if (strcasecmp(p->load_errors[i].function, fn->name) == 0)
            return p->load_errors[i].message;
    return NULL;
}

json_t *pool_status(const pool_t *p)
{
    json_t *workers = json_array();
    size_t busy = 0, idle = 0, starting = 0;
    uint64_t now = uv_now(p->loop);
    for (const worker_t *w = p->workers; w; w = w->next) {
        if (w->exited)
            continue;
        if (w->state == W_PLACEHOLDER)
            continue; /* not an instance of the app (yet) */
        const char *state = w->state == W_STARTING ? "starting"
                            : w->state == W_STOPPING ? "stopping"
                            : w->inflight.n ? "busy" : "idle";
        if (w->state == W_STARTING)
            starting++;
        else if (w->state == W_READY)
            w->inflight.n ? busy++ : idle++;
        json_array_append_new(workers,
                              json_pack("{s:i, s:i, s:s, s:I, s:I, s:I}", "id", w->seq, "pid",
                                        w->pid, "state", state, "inFlight",
                                        (json_int_t)w->inflight.n, "invocations",
                                        (json_int_t)w->invocations, "idleMs",
                                        (json_int_t)(w->inflight.n ? 0 : now - w->last_active)));
    }
    json_t *st = json_pack(
        "{s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:f, s:f, s:I, s:I, "
        "s:o}",
        "runtime", p->runtime, "mode", "isolated", "minInstances",
        (json_int_t)p->app->scale_min_instances, "maxInstances",
        (json_int_t)p->app->scale_max_instances, "perInstanceConcurrency",
        (json_int_t)p->app->scale_concurrency, "idleTimeoutMs",
        (json_int_t)p->app->scale_idle_timeout_ms, "instances", (json_int_t)pool__instances(p), "busy",
        (json_int_t)busy, "idle", (json_int_t)idle, "starting", (json_int_t)starting,
        "queueLength", (json_int_t)p->queue.n, "inFlight", (json_int_t)p->running, "coldStarts",
        (json_int_t)p->cold_starts, "lastColdStartMs", p->last_cold_start_ms,
        "averageColdStartMs", p->cold_starts ? p->total_cold_start_ms / (double)p->cold_starts : 0.0,
        "rejected", (json_int_t)p->rejected, "timeouts", (json_int_t)p->timeouts, "workers",
        workers);
    json_object_set_new(st, "placeholders", json_integer((json_int_t)p->nplaceholders));
    return st;
}

json_t *pool_health(const pool_t *p)
{
    uint64_t now = uv_now(p->loop);
    return json_pack("{s:I, s:I, s:s?, s:I, s:I}", "crashes", (json_int_t)p->crashes,
                     "consecutiveCrashes", (json_int_t)p->consecutive_crashes, "lastCrash",
                     p->last_crash[0] ? p->last_crash : NULL, "lastCrashAgoMs",
                     p->last_crash[0] ? (json_int_t)(now - p->last_crash_ms) : (json_int_t)0,
                     "restartDelayMs",
                     (json_int_t)(p->backoff_until > now ? p->backoff_until - now : 0));
}

void pool__handle_closed(uv_handle_t *h)
{
    pool_t *p = h->data;
    p->handles_open--;
    pool__maybe_finish(p);
}

/* Once closing and every worker is gone: close the pool's own handles,
 * then tell the owner. */
void pool__maybe_finish(pool_t *p)
{
    if (!p->closing || p->workers)
        return;
    if (p->fs_started && !p->fs_exited) {
        /* Every worker is gone: the fork server exits at the end of its
         * control stream (killed too, in case it does not). */
        if (!p->fs_closing) {
            p->fs_closing = 1;
            uv_read_stop((uv_stream_t *)&p->fs_ctl);
            uv_close((uv_handle_t *)&p->fs_ctl, pool__handle_closed);
            uv_process_kill(&p->fs_proc, SIGKILL);
        }
        return;
    }
    if (!p->handles_closing) {
        p->handles_closing = 1;
        uv_close((uv_handle_t *)&p->flush, pool__handle_closed);
        uv_close((uv_handle_t *)&p->wake, pool__handle_closed);
        uv_close((uv_handle_t *)&p->sweep, pool__handle_closed);
        uv_close((uv_handle_t *)&p->housekeeping, pool__handle_closed);
        uv_close((uv_handle_t *)&p->backoff, pool__handle_closed);
        uv_close((uv_handle_t *)&p->prewarm, pool__handle_closed);
        return;
    }
    if (p->handles_open == 0 && p->close_cb) {
        void (*cb)(void *) = p->close_cb;
        p->close_cb = NULL;
        cb(p->close_data);
    }
}

void pool_close(pool_t *p, void (*cb)(void *data), void *data)
{
    p->closing = 1;
    p->close_cb = cb;
    p->close_data = data;
    while (p->queue.head) {
        pool_call_t *c = p->queue.head;
        pool__list_remove(&p->queue, c);
        pool__call_fail(c, 503, "the host is stopping");
    }
    for (worker_t *w = p->workers; w; w = w->next) {
        if (w->exited)
            continue;
        pool__worker_stop(w);
        pool__worker_flush(w);
        /* The grace period is short at shutdown: the host waits for us. */
        w->stop_deadline = uv_now(p->loop) + STOP_GRACE_MS;
    }
    uv_ref((uv_handle_t *)&p->housekeeping);
    if (!uv_is_active((uv_handle_t *)&p->housekeeping))
        uv_timer_start(&p->housekeeping, housekeeping_cb, HOUSEKEEPING_MS, HOUSEKEEPING_MS);
    pool__maybe_finish(p);
}

void pool_free(pool_t *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->nload_errors; i++) {
        free(p->load_errors[i].function);
        free(p->load_errors[i].message);
    }
    free(p->load_errors);
    buf_free(&p->fs_line);
    for (size_t i = 0; i < p->argc; i++)
        free(p->argv[i]);
    free(p->argv);
    free(p->rbuf);
    free(p);
}
