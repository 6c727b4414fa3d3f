/*
 * host.h -- the host: one app, its router, key store, runtime and HTTP
 * front end on one libuv loop.
 *
 * Lifecycle: host_run() loads the app, starts everything, runs the loop
 * until SIGTERM/SIGINT, drains in-flight requests (bounded), frees it all
 * and returns the exit code. The admin API (admin.c) and the HTTP trigger
 * front end (http_trigger.c) see the host through this header.
 *
 * Versions (generation.c): what one load of the app made -- the app, its
 * runtime state (workers), its router -- is a host_gen_t. A reload
 * (reload.c, `stratus start` watching the app) builds a new version beside
 * the serving one and swaps it in; the old one keeps its in-flight work
 * and is stopped and freed once nothing uses it any more.
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
    int watch;                  /* reload the app when its files change (reload.c) */
    const char *cors;           /* --cors: allowed origins, over Host.CORS; or NULL */
    int cors_credentials;       /* --cors-credentials */
} host_options_t;

/* One loaded version of the app. */
typedef struct host_gen {
    struct host *host;
    app_t *app;             /* its functions; app->runtime_state its workers */
    router_t *router;       /* its HTTP-triggered functions */
    unsigned seq;           /* 1 for the version loaded at start, +1 per reload */
    size_t http_inflight;   /* HTTP invocations running on it */
    int stop_state;         /* 0 running, 1 its runtime is stopping, 2 stopped */
    int counted;            /* the host's stop waits for it (runtimes_pending) */
    struct host_gen *next;  /* in the host's list of retired versions */
} host_gen_t;

typedef struct host_reload host_reload_t;

typedef struct host {
    uv_loop_t *loop;
    app_t *app;             /* the serving version's app (gen->app) */
    const runtime_t *runtime;
    router_t *router;       /* user functions (gen->router) */
    host_gen_t *gen;        /* the version serving new requests */
    host_gen_t *retired;    /* previous versions finishing their work */
    uv_timer_t reap_timer;  /* frees retired versions once unused */
    int reap_timer_open;
    size_t runtimes_pending; /* stopping: runtimes not yet stopped */
    host_reload_t *reload;  /* watching the app (reload.c), or NULL */
    const host_options_t *opts;
    int colour;
    char **reload_errors;   /* why the last reload was refused (none: it worked) */
    size_t nreload_errors;
    unsigned reloads;       /* reloads that replaced the version */
    router_t *admin_router; /* /admin/... */
    keystore_t *keys;
    binding_host_t *bindings; /* stores, trigger sources, binding I/O */
    http_server_t server;
    int listen_fd;          /* bound before the workers start, until the server listens */
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

/* Apply host.json logging (levels, categories) of app. */
void host_apply_logging(host_t *h, const app_t *app);

/* Print the functions of the serving version (dev: a table; production:
 * one line each). */
void host_print_functions(host_t *h);

/* ---- versions (generation.c) ---- */

/* Build a version for app (loaded by app_load, now owned by the version):
 * start its runtime, load each function (reporting and dropping those
 * that fail), let the runtime get ready (may run the loop until the first
 * worker loaded the code) and register its HTTP routes. 0 with *out set;
 * -1 with err set and *out set to what was made (retire it with
 * host_gen_discard, or stop it at start-up) or NULL. */
int host_gen_build(host_t *h, app_t *app, host_gen_t **out, char *err, size_t errlen);

/* Serve g from now on (after a reload): new requests route to it, trigger
 * sources switch to it, and the previous version is retired. */
void host_gen_swap(host_t *h, host_gen_t *g);

/* Retire g without ever serving it (a refused reload). */
void host_gen_discard(host_t *h, host_gen_t *g);

/* Stopping: stop the runtime of every version; cb(h) when all stopped. */
void host_gen_stop_all(host_t *h, void (*cb)(host_t *h));

/* The host is stopping: every version's runtime ends the answers that have
 * no end of their own (event streams), which would hold the drain. */
void host_gen_end_streams(host_t *h);

/* Free every version (after the loop ended). */
void host_gen_free_all(host_t *h);

/* ---- watching and reloading (reload.c) ---- */

/* Watch the app folder and reload on changes. 0, or -1 with a warning
 * logged (the host serves on without watching). */
int host_reload_start(host_t *h);

/* Before app_export_settings() at start: remember which local.settings.json
 * Values are not already in the environment, so that a reload can export
 * their new values (and remove those deleted) without touching variables
 * the environment gave. */
void host_reload_note_settings(const app_t *app);

/* Stop watching (stopping the host); no reload starts after this. */
void host_reload_stop(host_t *h);

/* Reload now (what a change triggers): load the app again and swap the new
 * version in, or keep the serving one and report why. why lists the
 * affected functions for the log ("a, b") or is NULL for all. */
void host_reload_now(host_t *h, const char *why);

/* ---- admin API (admin.c) ---- */

/* Build the admin router. 0 or -1. */
int admin_init(host_t *h);

/* Handle a request whose path starts with /admin. */
void admin_handle(host_t *h, http_request_t *req);

/* Whether req may use what needs the master key (the admin API, /metrics):
 * 0 when it presented the master key, or when the host runs in development
 * mode without --enable-auth and the request comes from loopback; else -1
 * after answering 401 (no or unknown key) or 403 (a key that is not the
 * master key), naming what in the message. */
int admin_authorize(host_t *h, http_request_t *req, const char *what);

/* ---- /metrics (metrics_route.c) ---- */

/* Answer GET /metrics: authorize, list the default store's queues (the
 * answer waits for the store), then write every metric in the Prometheus
 * text format. */
void metrics_handle(host_t *h, http_request_t *req);
/* ---- admin API: invocation history and live log (admin_history.c) ---- */

/* GET /admin/invocations, GET /admin/invocations/{id}, GET /admin/logs:
 * answered later (the store's answer) or streamed (the log). */
void admin_invocations_list(host_t *h, http_request_t *req, route_params_t *p);
void admin_invocation_get(host_t *h, http_request_t *req, route_params_t *p);
void admin_logs(host_t *h, http_request_t *req, route_params_t *p);

/* ---- HTTP trigger front end (http_trigger.c) ---- */

/* Add every HTTP-triggered function of app to router; functions whose
 * route does not compile are reported and dropped. */
void http_trigger_register(host_t *h, app_t *app, router_t *router);

/* Route, authorize and invoke a user function for req. */
void http_trigger_handle(host_t *h, http_request_t *req);

/* The presented key: header x-functions-key, else query parameter code.
 * Points into the request (decoded into its arena). */
sv_t host_request_key(http_request_t *req);

#endif
