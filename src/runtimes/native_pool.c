/*
 * native_pool.c -- the native runtime in isolated mode (the default): the
 * host builds each function's shared object, and worker processes
 * (worker.c) load and run them, managed by the app's pool (pool.c).
 */
#include "pool.h"
#include "runtime.h"

static int isolated_load(app_t *app, function_t *fn, char *err, size_t errlen)
{
    (void)app;
    return native_build(fn, err, errlen) < 0 ? -1 : 0;
}

static int isolated_ready(app_t *app, uv_loop_t *loop, char *err, size_t errlen)
{
    static const pool_spec_t spec = {.runtime = "native", .argv = NULL, .limit_memory = 1};
    return pool_runtime_ready(app, loop, &spec, err, errlen);
}

const runtime_t runtime_native_isolated = {
    .version = RUNTIME_VERSION,
    .name = "native",
    .app_start = native_app_start,
    .load = isolated_load,
    .ready = isolated_ready,
    POOL_RUNTIME_OPS,
};
