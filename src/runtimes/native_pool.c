/*
 * native_pool.c -- the native runtime in isolated mode (the default): the
 * host builds each function's shared object, and worker processes
 * (worker.c) load and run them, managed by the app's pool (pool.c).
 */
#include <stdio.h>

#include "pool.h"
#include "runtime.h"

static int isolated_load(app_t *app, function_t *fn, char *err, size_t errlen)
{
    (void)app;
    return native_build(fn, err, errlen) < 0 ? -1 : 0;
}

static int isolated_ready(app_t *app, uv_loop_t *loop, char *err, size_t errlen)
{
    pool_t *p = pool_new(loop, app);
    if (!p) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    app->runtime_state = p;
    int rc = pool_start(p, 30000, err, errlen);
    if (rc == 1) {
        app_add_error(app, NULL, "%s", err);
        return 0;
    }
    return rc;
}

static const char *isolated_load_error(app_t *app, function_t *fn)
{
    return app->runtime_state ? pool_load_error(app->runtime_state, fn) : NULL;
}

static void isolated_invoke(invocation_t *inv, invocation_done_fn done, void *data)
{
    pool_submit(inv->app->runtime_state, inv, done, data);
}

static json_t *isolated_scale_status(app_t *app)
{
    return app->runtime_state ? pool_status(app->runtime_state) : NULL;
}

static json_t *isolated_health(app_t *app)
{
    return app->runtime_state ? pool_health(app->runtime_state) : NULL;
}

static void isolated_stop(app_t *app, void (*cb)(void *data), void *data)
{
    if (!app->runtime_state) {
        cb(data);
        return;
    }
    pool_close(app->runtime_state, cb, data);
}

static void isolated_free(app_t *app)
{
    pool_free(app->runtime_state);
    app->runtime_state = NULL;
}

static void isolated_unload(function_t *fn) { (void)fn; }

const runtime_t runtime_native_isolated = {
    .version = RUNTIME_VERSION,
    .name = "native",
    .app_start = native_app_start,
    .load = isolated_load,
    .ready = isolated_ready,
    .load_error = isolated_load_error,
    .invoke = isolated_invoke,
    .scale_status = isolated_scale_status,
    .health = isolated_health,
    .unload = isolated_unload,
    .app_stop = isolated_stop,
    .app_free = isolated_free,
};
