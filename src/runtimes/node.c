/*
 * node.c -- the Node.js runtime (FUNCTIONS_WORKER_RUNTIME=node): Azure
 * Functions JavaScript apps (the v3 model: a folder per function with
 * index.js and function.json) run in worker processes of the app's pool.
 * Each worker is node running the shim of runtimes/node/ (no npm
 * packages), which speaks the worker protocol and calls the functions
 * with an Azure-style context.
 */
#include <stdio.h>

#include "pool.h"
#include "runtime.h"

#define NODE_SETTING "languageWorkers__node__defaultExecutablePath"

typedef struct node_state {
    char node[4096];
    char shim[4200];
} node_state_t;

static node_state_t state; /* one app per host */

static int node_start(app_t *app, uv_loop_t *loop, char *err, size_t errlen)
{
    (void)loop;
    char dir[4100];
    if (interp_find(app, NODE_SETTING, "node", state.node, sizeof state.node, err, errlen) != 0 ||
        interp_extract(app, "node", dir, sizeof dir, err, errlen) != 0)
        return -1;
    snprintf(state.shim, sizeof state.shim, "%s/worker.js", dir);
    return 0;
}

static int node_load(app_t *app, function_t *fn, char *err, size_t errlen)
{
    (void)app, (void)fn, (void)err, (void)errlen;
    return 0; /* the worker loads the code and reports errors (LOADED) */
}

static int node_ready(app_t *app, uv_loop_t *loop, char *err, size_t errlen)
{
    char *argv[] = {state.node, state.shim, NULL};
    /* No address-space cap: V8 reserves far more address space than it
     * uses. The host's resident-memory watchdog still applies. */
    pool_spec_t spec = {.runtime = "node", .argv = argv, .limit_memory = 0};
    return pool_runtime_ready(app, loop, &spec, err, errlen);
}

const runtime_t runtime_node = {
    .version = RUNTIME_VERSION,
    .name = "node",
    .app_start = node_start,
    .load = node_load,
    .ready = node_ready,
    .load_error = pool_runtime_load_error,
    .invoke = pool_runtime_invoke,
    .scale_status = pool_runtime_scale_status,
    .health = pool_runtime_health,
    .unload = pool_runtime_unload,
    .app_stop = pool_runtime_stop,
    .app_free = pool_runtime_free,
};
