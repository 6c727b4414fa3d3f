/*
 * python.c -- the Python runtime (FUNCTIONS_WORKER_RUNTIME=python): Azure
 * Functions Python apps (the v1 model: a folder per function with
 * __init__.py and function.json) run in worker processes of the app's
 * pool. Each worker is the interpreter running the shim of
 * runtimes/python/ (standard library only), which speaks the worker
 * protocol and provides a compatible azure.functions module.
 */
#include "pool.h"
#include "runtime.h"

/* -u: unbuffered output, so print() outside invocations reaches the log at
 * once; -B is not used, so imports are cached as usual. */
static const interp_spec_t spec = {
    .lang = "python", .exe = "python3", .shim = "worker.py", .flag = "-u", .limit_memory = 0};

static interp_state_t state; /* one app per host */

static int python_start(app_t *app, uv_loop_t *loop, char *err, size_t errlen)
{
    (void)loop;
    return interp_start(app, &spec, &state, err, errlen);
}

static int python_ready(app_t *app, uv_loop_t *loop, char *err, size_t errlen)
{
    return interp_ready(app, loop, &spec, &state, err, errlen);
}

const runtime_t runtime_python = {
    .version = RUNTIME_VERSION,
    .name = "python",
    .app_start = python_start,
    .load = interp_load,
    .ready = python_ready,
    POOL_RUNTIME_OPS,
};
