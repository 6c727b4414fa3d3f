/*
 * pooled.c -- the runtime operations shared by every runtime whose code
 * runs in the app's worker pool (isolated native, Python, Node.js): the
 * app's runtime_state is its pool_t.
 */
#include <stdio.h>

#include "pool.h"

int pool_runtime_ready(app_t *app, uv_loop_t *loop, const pool_spec_t *spec, char *err,
                       size_t errlen)
{
    pool_t *p = pool_new(loop, app, spec);
    if (!p) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    app->runtime_state = p;
    int rc = pool_start(p, POOL_LOAD_TIMEOUT_MS, err, errlen);
    if (rc == 1) {
        app_add_error(app, NULL, "%s", err);
        return 0;
    }
    return rc;
}

const char *pool_runtime_load_error(app_t *app, function_t *fn)
{
    return app->runtime_state ? pool_load_error(app->runtime_state, fn) : NULL;
}

void pool_runtime_invoke(invocation_t *inv, invocation_done_fn done, void *data)
{
    pool_submit(inv->app->runtime_state, inv, done, data);
}

json_t *pool_runtime_scale_status(app_t *app)
{
    return app->runtime_state ? pool_status(app->runtime_state) : NULL;
}

json_t *pool_runtime_health(app_t *app)
{
    return app->runtime_state ? pool_health(app->runtime_state) : NULL;
}

void pool_runtime_stop(app_t *app, void (*cb)(void *data), void *data)
{
    if (!app->runtime_state) {
        cb(data);
        return;
    }
    pool_close(app->runtime_state, cb, data);
}

void pool_runtime_free(app_t *app)
{
    pool_free(app->runtime_state);
    app->runtime_state = NULL;
}

void pool_runtime_unload(function_t *fn) { (void)fn; }
