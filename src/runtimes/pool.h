/*
 * pool.h -- an app's worker processes and the scale controller that sizes
 * them to the load.
 *
 * A pool starts workers (the stratus binary re-executed as `stratus
 * worker`), talks to them with the frame protocol over a socketpair, and
 * sends each invocation to the least busy worker with room for it
 * (perInstanceConcurrency). With no room it starts another worker, up to
 * maxInstances; beyond that, invocations wait in a bounded queue, and past
 * extensions.http.maxOutstandingRequests they are refused with 429. Idle
 * workers beyond minInstances stop after idleTimeout, so an app can scale to
 * zero; the next invocation starts one and waits for it (a cold start, which
 * is measured and logged).
 *
 * A worker that crashes fails its in-flight invocations (500 with the
 * reason) and is replaced; repeated crashes back off exponentially. An
 * invocation past functionTimeout fails with 504, and its worker, which
 * cannot be interrupted, is killed and replaced. A worker over its memory
 * limit is killed the same way.
 *
 * Frames for workers are queued during a loop turn and written once per
 * worker from a check handle; the worker answers a whole batch in one write.
 *
 * Lifecycle: pool_new() -> pool_start() (runs the loop until a first worker
 * has loaded the functions, so load errors are known before serving) ->
 * pool_submit() per invocation -> pool_close() (asks workers to stop, kills
 * the stragglers, closes the handles; cb runs when all are closed) ->
 * pool_free().
 */
#ifndef STRATUS_POOL_H
#define STRATUS_POOL_H

#include <jansson.h>
#include <uv.h>

#include "runtime.h"

/* How long a new worker has to load the app's functions (LOADED). */
#define POOL_LOAD_TIMEOUT_MS 30000

typedef struct pool pool_t;

/* What a pool's workers run. A worker is always `stratus worker`, which
 * sets itself up (own session, dies with the host, no new privileges,
 * memory cap) and then either serves native functions itself or, with
 * argv, executes that program (an interpreter running its worker shim)
 * with the channel still on fd 3. */
typedef struct pool_spec {
    const char *runtime;   /* what workers must say in HELLO, e.g. "python" */
    char *const *argv;     /* NULL-terminated program to execute; NULL: native */
    int limit_memory;      /* cap the address space at stratus.worker.memoryLimitMB
                            * (not for runtimes that reserve huge address ranges,
                            * like V8; the host's resident-memory watchdog still
                            * applies) */
    const char *cache_file; /* a cache the workers keep (V8's code for the Node.js
                             * shim), or NULL: removed when a worker ends
                             * unexpectedly, so that a damaged cache cannot make
                             * every next worker fail the same way */
} pool_spec_t;

/* A new pool for app on loop (nothing started yet); spec is copied. NULL
 * when out of memory. */
pool_t *pool_new(uv_loop_t *loop, app_t *app, const pool_spec_t *spec);

/* Start the first worker and wait (running the loop) until it has loaded
 * the app's functions or failed to, at most timeout_ms. 0 when it loaded
 * (per-function load errors are then available from pool_load_error()); 1
 * with a warning in err when it crashed or hung while loading (the pool
 * still runs); -1 with err set when no worker could be started. Also starts
 * minInstances workers. */
int pool_start(pool_t *p, int timeout_ms, char *err, size_t errlen);

/* Why fn could not be loaded by the first worker, or NULL. */
const char *pool_load_error(const pool_t *p, const function_t *fn);

/* Run an invocation in a worker; done is called exactly once, possibly
 * before this returns (refused with 429, inv->fail_status set). */
void pool_submit(pool_t *p, invocation_t *inv, invocation_done_fn done, void *data);

/* The pool's state for /admin/host/scale (new reference). */
json_t *pool_status(const pool_t *p);

/* Crash and restart figures for /admin/host/status (new reference). */
json_t *pool_health(const pool_t *p);

/* Stop every worker (gracefully, then by force after a grace period) and
 * close the pool's handles; queued invocations fail with 503. cb runs once
 * everything is closed. */
void pool_close(pool_t *p, void (*cb)(void *data), void *data);

/* Free a closed pool. */
void pool_free(pool_t *p);

/* ---- runtime operations for runtimes that run in a pool (pooled.c) ----
 * The app's runtime_state is its pool. ready() makes the pool and starts it
 * (pool_start); the others map onto the pool functions above. */
int pool_runtime_ready(app_t *app, uv_loop_t *loop, const pool_spec_t *spec, char *err,
                       size_t errlen);
const char *pool_runtime_load_error(app_t *app, function_t *fn);
void pool_runtime_invoke(invocation_t *inv, invocation_done_fn done, void *data);
json_t *pool_runtime_scale_status(app_t *app);
json_t *pool_runtime_health(app_t *app);
void pool_runtime_stop(app_t *app, void (*cb)(void *data), void *data);
void pool_runtime_free(app_t *app);
void pool_runtime_unload(function_t *fn);

/* The members of a runtime_t that every pooled runtime fills alike. */
#define POOL_RUNTIME_OPS                                                                 \
    .load_error = pool_runtime_load_error, .invoke = pool_runtime_invoke,               \
    .scale_status = pool_runtime_scale_status, .health = pool_runtime_health,           \
    .unload = pool_runtime_unload, .app_stop = pool_runtime_stop,                       \
    .app_free = pool_runtime_free

#endif
