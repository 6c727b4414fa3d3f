/*
 * host.h -- the host: one app, its router, key store, runtime and HTTP
 * front end on one libuv loop.
 *
 * Lifecycle: host_run() loads the app, starts everything, runs the loop
 * until SIGTERM/SIGINT, drains in-flight requests (bounded), frees it all
 * and returns the exit code. The admin API (admin.c) and the HTTP trigger
 * front end (http_trigger.c) see the host through this header.
 */
#ifndef STRATUS_HOST_H
#define STRATUS_HOST_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "../http/server.h"
#include "../runtimes/runtime.h"
#include "../util/id.h"
#include "app.h"
#include "keys.h"
#include "route.h"
#include "trigger.h"

#define HOST_DEFAULT_PORT 7071
#define HOST_DRAIN_MS 10000

typedef struct host_options {
    const char *app_dir;        /* default "." */
    int port;                   /* 0: local.settings.json Host.LocalHttpPort, else 7071 */
    const char *listen;         /* address to bind; default "0.0.0.0" */
    int production;             /* stratus host: JSON logs, auth always on */
    int enable_auth;            /* stratus start --enable-auth */
    const char *const *functions; /* --functions filter, or NULL */
    size_t nfunctions;
    int verbose;
    const char *port_file;      /* write the bound port here once listening */
} host_options_t;

typedef struct host {
    uv_loop_t *loop;
    app_t *app;
    const runtime_t *runtime;
    router_t *router;       /* user functions */
    router_t *admin_router; /* /admin/... */
    keystore_t *keys;
    binding_host_t *bindings; /* stores, trigger sources, binding I/O */
    http_server_t server;
    uv_signal_t sigterm, sigint;
    uv_timer_t drain_timer;
    int enforce_auth;
    int production;
    int port;
    int stopping;
    int runtime_stopping;
    int http_drained;       /* stopping: HTTP requests finished (or given up) */
    int bindings_stopped;   /* stopping: trigger sources and their invocations finished */
    char id[UUID_STR_LEN];
    uint64_t start_ms;
    const char *state;      /* "Running", "Stopping" */
} host_t;

/* Run a host until it is told to stop. Returns the process exit code. */
int host_run(const host_options_t *opts);

/* The HTTP handler of the host's server: admin API or a function. */
void host_on_request(http_request_t *req, void *data);

/* Answer 405 with an Allow header listing the allowed methods. */
void host_respond_405(http_request_t *req, unsigned allowed);

/* Answer with a short text body (and optional extra header). */
void host_respond_text(http_request_t *req, int status, const char *text);

/* ---- admin API (admin.c) ---- */

/* Build the admin router. 0 or -1. */
int admin_init(host_t *h);

/* Handle a request whose path starts with /admin. */
void admin_handle(host_t *h, http_request_t *req);

/* ---- admin API: invocation history and live log (admin_history.c) ---- */

/* GET /admin/invocations, GET /admin/invocations/{id}, GET /admin/logs:
 * answered later (the store's answer) or streamed (the log). */
void admin_invocations_list(host_t *h, http_request_t *req, route_params_t *p);
void admin_invocation_get(host_t *h, http_request_t *req, route_params_t *p);
void admin_logs(host_t *h, http_request_t *req, route_params_t *p);

/* ---- HTTP trigger front end (http_trigger.c) ---- */

/* Add every HTTP-triggered function of the app to h->router; functions
 * whose route does not compile are reported and dropped. */
void http_trigger_register(host_t *h);

/* Route, authorize and invoke a user function for req. */
void http_trigger_handle(host_t *h, http_request_t *req);

/* The presented key: header x-functions-key, else query parameter code.
 * Points into the request (decoded into its arena). */
sv_t host_request_key(http_request_t *req);

#endif
