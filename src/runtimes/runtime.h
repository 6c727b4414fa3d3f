/*
 * runtime.h -- executors: how a function's code is loaded and run.
 *
 * Each runtime is a static const runtime_t in its own file, listed once in
 * runtimes.c and chosen by FUNCTIONS_WORKER_RUNTIME. load() runs once per
 * function at start (and may refuse it with a message); invoke() runs one
 * invocation and calls done() when it has finished, possibly later from the
 * loop (workers) or before it returns (in-process code).
 */
#ifndef STRATUS_RUNTIME_H
#define STRATUS_RUNTIME_H

#include <stddef.h>
#include <uv.h>

#include "../core/app.h"
#include "../core/invocation.h"

#define RUNTIME_VERSION 1

typedef void (*invocation_done_fn)(invocation_t *inv, int ok, const char *reason, void *data);

typedef struct runtime {
    int version;          /* RUNTIME_VERSION */
    const char *name;     /* FUNCTIONS_WORKER_RUNTIME value */
    /* Prepare the runtime for app (once). 0 or -1 with err set. */
    int (*app_start)(app_t *app, uv_loop_t *loop, char *err, size_t errlen);
    /* Load one function. 0, or -1 with a message in err. */
    int (*load)(app_t *app, function_t *fn, char *err, size_t errlen);
    /* Run an invocation; call done exactly once. */
    void (*invoke)(invocation_t *inv, invocation_done_fn done, void *data);
    /* Release what load stored in fn->runtime_data. */
    void (*unload)(function_t *fn);
    void (*app_stop)(app_t *app);
} runtime_t;

extern const runtime_t runtime_native;

/* The runtime for a FUNCTIONS_WORKER_RUNTIME value (NULL or "" = native),
 * or NULL when unknown. */
const runtime_t *runtime_find(const char *name);

#endif
