/*
 * invocation.c -- creating and releasing invocations (see invocation.h).
 */
#include "invocation.h"

#include <string.h>

static void release_cb(void *p) { invocation_release(p); }

invocation_t *invocation_new(arena_t *arena, app_t *app, function_t *fn)
{
    invocation_t *inv = arena_calloc(arena, sizeof *inv);
    if (!inv)
        return NULL;
    uuid_generate(inv->id);
    inv->app = app;
    inv->fn = fn;
    inv->arena = arena;
    inv->status = 200;
    inv->trigger_data = "";
    buf_init(&inv->res_body, INVOCATION_MAX_RESPONSE);
    inv->start_ns = uv_hrtime();
    if (arena_on_cleanup(arena, release_cb, inv) != 0)
        return NULL;
    return inv;
}

void invocation_release(invocation_t *inv) { buf_free(&inv->res_body); }
