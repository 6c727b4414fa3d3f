/*
 * node.c -- the Node.js runtime (FUNCTIONS_WORKER_RUNTIME=node): Azure
 * Functions JavaScript apps (the v3 model: a folder per function with
 * index.js and function.json) run in worker processes of the app's pool.
 * Each worker is node running the shim of runtimes/node/ (no npm
 * packages), which speaks the worker protocol and calls the functions
 * with an Azure-style context.
 */
#include "pool.h"
#include "runtime.h"

/* No address-space cap: V8 reserves far more address space than it uses.
 * The host's resident-memory watchdog still applies. The shim keeps V8's
 * code for its own modules in a cache file (runtimes/node/worker.js). */
static const interp_spec_t spec = {.lang = "node", .exe = "node", .shim = "worker.js",
                                   .flag = NULL, .limit_memory = 0,
                                   .cache_opt = "--code-cache"};

static interp_state_t state; /* one app per host */

static int node_start(app_t *app, uv_loop_t *loop, char *err, size_t errlen)
{
    (void)loop;
    return interp_start(app, &spec, &state, err, errlen);
}

static int node_ready(app_t *app, uv_loop_t *loop, char *err, size_t errlen)
{
    return interp_ready(app, loop, &spec, &state, err, errlen);
}

const runtime_t runtime_node = {
    .version = RUNTIME_VERSION,
    .name = "node",
    .app_start = node_start,
    .load = interp_load,
    .ready = node_ready,
    POOL_RUNTIME_OPS,
};
