/*
 * python.c -- the Python runtime (FUNCTIONS_WORKER_RUNTIME=python): Azure
 * Functions Python apps (the v1 model: a folder per function with
 * __init__.py and function.json) run in worker processes of the app's
 * pool. Each worker is the interpreter running the shim of
 * runtimes/python/ (standard library only), which speaks the worker
 * protocol and provides a compatible azure.functions module.
 */
#include <stdio.h>

#include "pool.h"
#include "runtime.h"

#define PYTHON_SETTING "languageWorkers__python__defaultExecutablePath"

typedef struct python_state {
    char python[4096];
    char shim[4200];
} python_state_t;

static python_state_t state; /* one app per host */

static int python_start(app_t *app, uv_loop_t *loop, char *err, size_t errlen)
{
    (void)loop;
    char dir[4100];
    if (interp_find(app, PYTHON_SETTING, "python3", state.python, sizeof state.python, err,
                    errlen) != 0 ||
        interp_extract(app, "python", dir, sizeof dir, err, errlen) != 0)
        return -1;
    snprintf(state.shim, sizeof state.shim, "%s/worker.py", dir);
    return 0;
}

static int python_load(app_t *app, function_t *fn, char *err, size_t errlen)
{
    (void)app, (void)fn, (void)err, (void)errlen;
    return 0; /* the worker imports the code and reports errors (LOADED) */
}

static int python_ready(app_t *app, uv_loop_t *loop, char *err, size_t errlen)
{
    /* -u: unbuffered output, so print() outside invocations reaches the log
     * at once; -B is not used, so imports are cached as usual. */
    char *argv[] = {state.python, "-u", state.shim, NULL};
    pool_spec_t spec = {.runtime = "python", .argv = argv, .limit_memory = 1};
    return pool_runtime_ready(app, loop, &spec, err, errlen);
}

const runtime_t runtime_python = {
    .version = RUNTIME_VERSION,
    .name = "python",
    .app_start = python_start,
    .load = python_load,
    .ready = python_ready,
    .load_error = pool_runtime_load_error,
    .invoke = pool_runtime_invoke,
    .scale_status = pool_runtime_scale_status,
    .health = pool_runtime_health,
    .unload = pool_runtime_unload,
    .app_stop = pool_runtime_stop,
    .app_free = pool_runtime_free,
};
