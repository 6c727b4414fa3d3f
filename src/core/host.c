/*
 * host.c -- starting, running and stopping a host (see host.h).
 *
 * Start: load the app (reporting every broken function), open the key
 * store, build the first version (generation.c: each function loaded into
 * its runtime, HTTP routes registered), listen, and watch the app when
 * asked (reload.c).
 * Run: the loop. Stop (SIGTERM/SIGINT): stop watching and accepting, let
 * in-flight requests finish within HOST_DRAIN_MS, stop every version's
 * runtime, free everything, exit 0.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../cli/cli.h"
#include "../http/method.h"
#include "../telemetry/history.h"
#include "../telemetry/log.h"
#include "../telemetry/logstream.h"
#include "../telemetry/telemetry.h"
#include "../util/envset.h"
#include "host.h"

/* origin is in list ("*", or origins separated by commas, compared as
 * ASP.NET Core does: scheme, host and port, any case); *any for "*". */
static int origin_allowed(const char *list, sv_t origin, int *any)
{
    *any = 0;
    for (const char *p = list; *p;) {
        while (*p == ' ' || *p == ',')
            p++;
        const char *e = p;
        while (*e && *e != ',')
            e++;
        const char *t = e;
        while (t > p && (t[-1] == ' ' || t[-1] == '/'))
            t--; /* "https://a.example/" names the same origin */
        sv_t item = sv_make(p, (size_t)(t - p));
        if (sv_eq(item, SV_LIT("*")))
            return *any = 1;
        if (item.n && sv_ieq(item, origin))
            return 1;
        p = e;
    }
    return 0;
}

/* CORS, as Azure's host does it (ASP.NET Core's middleware, with the
 * allowed origins, any header and any method): a preflight is answered
 * here, 204, before any function; an allowed origin gets
 * Access-Control-Allow-Origin on every answer. 1 when answered. */
static int cors(host_t *h, http_request_t *req)
{
    const char *list = h->opts->cors ? h->opts->cors : h->app->cors;
    sv_t origin = http_request_header(req, "Origin");
    if (!list || !*list || !origin.n)
        return 0;
    int creds = h->opts->cors_credentials || h->app->cors_credentials, any;
    int allowed = origin_allowed(list, origin, &any);
    sv_t want = req->method == METHOD_OPTIONS
                    ? http_request_header(req, "Access-Control-Request-Method")
                    : SV_NULL;
    if (!allowed) {
        if (!want.n)
            return 0;
        http_respond(req, 204, NULL, 0, NULL, 0); /* a preflight refused: no CORS headers */
        return 1;
    }
    http_header_t *hs = arena_alloc(&req->arena, 5 * sizeof *hs);
    char *o = arena_strndup(&req->arena, origin.p, origin.n);
    if (!hs || !o)
        return 0;
    size_t n = 0;
    /* "*" with credentials is not allowed by browsers: the origin itself. */
    int star = any && !creds;
    hs[n++] = (http_header_t){SV_LIT("Access-Control-Allow-Origin"),
                              star ? SV_LIT("*") : sv_make(o, origin.n)};
    if (creds)
        hs[n++] = (http_header_t){SV_LIT("Access-Control-Allow-Credentials"), SV_LIT("true")};
    if (!star)
        hs[n++] = (http_header_t){SV_LIT("Vary"), SV_LIT("Origin")};
    if (want.n) {
        hs[n++] = (http_header_t){SV_LIT("Access-Control-Allow-Methods"), want};
        sv_t asked = http_request_header(req, "Access-Control-Request-Headers");
        if (asked.n)
            hs[n++] = (http_header_t){SV_LIT("Access-Control-Allow-Headers"), asked};
        http_respond(req, 204, hs, n, NULL, 0);
        return 1;
    }
    req->extra = hs;
    req->nextra = n;
    return 0;
}

void host_on_request(http_request_t *req, void *data)
{
    host_t *h = data;
    sv_t path = req->path;
    if (path.n >= 6 && strncasecmp(path.p, "/admin", 6) == 0 && (path.n == 6 || path.p[6] == '/')) {
        admin_handle(h, req);
        return;
    }
    if (sv_ieq(path, SV_LIT("/metrics"))) {
        metrics_handle(h, req);
        return;
    }
    if (sv_istarts(path, SV_LIT("/runtime/webhooks/")) || sv_ieq(path, SV_LIT("/runtime/webhooks"))) {
        http_respond(req, 404, NULL, 0, NULL, 0);
        return;
    }
    if (cors(h, req))
        return;
    http_trigger_handle(h, req);
}

/* ---- stopping ---- */

static void stop_loop(host_t *h)
{
    if (h->stopping == 2)
        return;
    h->stopping = 2;
    telemetry_stop();
    host_reload_stop(h);
    uv_timer_stop(&h->drain_timer);
    http_server_close(&h->server);
    uv_close((uv_handle_t *)&h->sigterm, NULL);
    uv_close((uv_handle_t *)&h->sigint, NULL);
    uv_close((uv_handle_t *)&h->drain_timer, NULL);
}

static void on_runtime_stopped(host_t *h)
{
    log_info("Host stopped");
    stop_loop(h);
}

/* Stop the runtime (the workers of every version), then the loop. */
static void stop_runtime(host_t *h)
{
    if (h->runtime_stopping)
        return;
    h->runtime_stopping = 1;
    host_gen_stop_all(h, on_runtime_stopped);
}

static void on_drained(http_server_t *s)
{
    host_t *h = (host_t *)((char *)s - offsetof(host_t, server));
    log_info("All requests finished");
    h->http_drained = 1;
    if (h->bindings_stopped)
        stop_runtime(h);
}

static void on_bindings_stopped(void *data)
{
    host_t *h = data;
    h->bindings_stopped = 1;
    if (h->http_drained)
        stop_runtime(h);
}

static void on_drain_timeout(uv_timer_t *t)
{
    host_t *h = t->data;
    if (h->runtime_stopping) {
        log_warn("Workers did not stop in time; stopping anyway");
        stop_loop(h);
        return;
    }
    if (h->server.active_requests)
        log_warn("Stopping with %zu request(s) still in flight after %d ms (drain limit)",
                 h->server.active_requests, HOST_DRAIN_MS);
    else
        log_warn("Stopping with %zu connection(s) still taking their answers after %d ms (drain "
                 "limit): clients that read slowly, or not at all", h->server.nconns,
                 HOST_DRAIN_MS);
    http_server_close(&h->server);
    uv_timer_start(&h->drain_timer, on_drain_timeout, HOST_DRAIN_MS, 0);
    stop_runtime(h);
}

static void on_signal(uv_signal_t *sig, int signum)
{
    host_t *h = sig->data;
    if (h->stopping) {
        if (signum == SIGINT) {
            log_warn("Second interrupt: stopping now");
            http_server_close(&h->server);
            stop_runtime(h);
        }
        return;
    }
    h->stopping = 1;
    h->state = "Stopping";
    runtime_set_host_stopping();
    host_reload_stop(h);
    log_info("Received %s; stopping: no new connections, finishing %zu in-flight request(s)",
             signum == SIGTERM ? "SIGTERM" : "SIGINT", h->server.active_requests);
    uv_timer_start(&h->drain_timer, on_drain_timeout, HOST_DRAIN_MS, 0);
    logstream_stop_all(); /* streams would hold the drain */
    host_gen_end_streams(h);
    binding_host_stop(h->bindings, on_bindings_stopped, h);
    http_server_drain(&h->server, on_drained);
}

/* ---- starting ---- */

static void print_errors(const app_t *app, size_t from)
{
    for (size_t i = from; i < app->nerrors; i++)
        log_write(LOG_ERROR, "Host.Startup", NULL, "%s", app->errors[i].message);
}

void host_print_functions(host_t *h)
{
    app_t *app = h->app;
    const char *listen = h->opts->listen ? h->opts->listen : "0.0.0.0";
    if (strcmp(listen, "localhost") == 0)
        listen = "127.0.0.1";
    const char *shown = strcmp(listen, "0.0.0.0") == 0 || strcmp(listen, "::") == 0 ? "localhost" : listen;
    char bracketed[80];
    if (strchr(shown, ':')) { /* an IPv6 address goes in brackets in a URL */
        snprintf(bracketed, sizeof bracketed, "[%s]", shown);
        shown = bracketed;
    }
    if (h->production) {
        for (size_t i = 0; i < app->nfunctions; i++) {
            function_t *fn = app->functions[i];
            log_info("Function '%s' loaded (trigger %s)", fn->name, fn->trigger->type);
        }
        return;
    }
    FILE *out = stdout;
    fprintf(out, "\nFunctions:\n\n");
    for (size_t i = 0; i < app->nfunctions; i++) {
        function_t *fn = app->functions[i];
        if (!fn->http) {
            fprintf(out, "        %s: %s\n", fn->name, fn->trigger->type);
            continue;
        }
        char methods[128];
        unsigned set = fn->http->methods ? fn->http->methods : METHOD_ALL;
        method_list(set, methods, sizeof methods);
        for (char *p = methods; *p; p++)
            if (*p == ' ')
                memmove(p, p + 1, strlen(p));
        const char *route = fn->http->route ? fn->http->route : fn->name;
        fprintf(out, "        %s: [%s] http://%s:%d/%s%s%s%s\n", fn->name, methods, shown, h->port,
                app->route_prefix, app->route_prefix[0] ? "/" : "", route,
                fn->disabled ? " (disabled)" : "");
    }
    if (!app->nfunctions)
        fprintf(out, "        (none loaded)\n");
    fprintf(out, "\n");
    fflush(out);
}

static void free_host(host_t *h)
{
    host_reload_stop(h);
    host_gen_free_all(h);
    if (h->app) /* loaded, but no version was built */
        app_free(h->app);
    h->app = NULL;
    binding_host_free(h->bindings);
    router_free(h->admin_router);
    keystore_free(h->keys);
    if (h->listen_fd >= 0)
        close(h->listen_fd);
    h->listen_fd = -1;
    for (size_t i = 0; i < h->nreload_errors; i++)
        free(h->reload_errors[i]);
    free(h->reload_errors);
}

void host_apply_logging(host_t *h, const app_t *app)
{
    /* host.json logging.logLevel (--verbose still shows debug lines). */
    int production = h->opts->production;
    log_setup(production ? LOG_FORMAT_JSON : LOG_FORMAT_DEV, 1, h->colour,
              app->log_default_level >= 0 && !h->opts->verbose ? app->log_default_level
              : h->opts->verbose                                 ? LOG_DEBUG
                                                                 : LOG_INFO);
    log_set_category_levels((const char *const *)app->log_categories, app->log_levels,
                            app->nlog_levels);
}

/* Stop the runtime and run the loop until everything has closed (used when
 * the host gives up while starting). */
static void stop_runtime_now(host_t *h)
{
    h->stopping = 1;
    host_gen_stop_all(h, NULL);
    if (h->bindings)
        binding_host_stop(h->bindings, NULL, NULL);
    uv_run(h->loop, UV_RUN_DEFAULT);
    child_guard_close();
    uv_run(h->loop, UV_RUN_NOWAIT);
    uv_loop_close(h->loop);
}

static int write_port_file(const char *path, int port)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    fprintf(f, "%d\n", port);
    return fclose(f);
}

/* Descriptors the host inherited from whatever started it (a shell's, a
 * supervisor's) are not for the workers, handlers and bootstraps it
 * starts: mark every one above stderr close-on-exec. */
static void inherited_fds_cloexec(void)
{
#ifdef CLOSE_RANGE_CLOEXEC
    if (close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) == 0)
        return;
#endif
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return;
    int self = dirfd(d);
    struct dirent *e;
    while ((e = readdir(d))) {
        int fd = atoi(e->d_name);
        if (fd > 2 && fd != self)
            fcntl(fd, F_SETFD, fcntl(fd, F_GETFD) | FD_CLOEXEC);
    }
    closedir(d);
}

/* The port to listen on: --port, else local.settings.json Host.LocalHttpPort,
 * else 7071; 0 for any free port (--port 0). */
static int listen_port(const host_options_t *opts, const app_t *app)
{
    if (opts->port < 0)
        return 0;
    if (opts->port > 0)
        return opts->port;
    return app->local_http_port > 0 ? app->local_http_port : HOST_DEFAULT_PORT;
}

int host_run(const host_options_t *opts)
{
    host_t host, *h = &host;
    memset(h, 0, sizeof *h);
    h->listen_fd = -1;
    h->opts = opts;
    h->production = opts->production;
    h->enforce_auth = opts->production || opts->enable_auth;
    h->state = "Running";
    uuid_generate(h->id);
    /* Before any worker starts: a write to one that died at once (a bad
     * interpreter option) must be an EPIPE, not the host's end. */
    signal(SIGPIPE, SIG_IGN);
    inherited_fds_cloexec();
    /* Requests free what they allocated every loop turn: keep the heap top
     * instead of returning it to the kernel and asking again each turn. */
    mallopt(M_TRIM_THRESHOLD, 64 << 20);
    mallopt(M_MMAP_THRESHOLD, 1 << 20);

    h->colour = !opts->production && isatty(1) && !getenv("NO_COLOR");
    log_setup(opts->production ? LOG_FORMAT_JSON : LOG_FORMAT_DEV, 1, h->colour,
              opts->verbose ? LOG_DEBUG : LOG_INFO);

    const char *dir = opts->app_dir ? opts->app_dir : ".";
    char err[4096];
    /* Both modes build native functions whose sources are newer. */
    app_load_opts_t lo = {opts->functions, opts->nfunctions, 1};
    if (app_load(dir, &lo, &h->app, err, sizeof err) != 0) {
        log_write(LOG_CRITICAL, "Host.Startup", NULL, "Cannot load the app in '%s': %s", dir, err);
        return 1;
    }
    app_t *app = h->app;
    if (opts->watch)
        host_reload_note_settings(app);
    if (app_export_settings(app) != 0) {
        log_write(LOG_CRITICAL, "Host.Startup", NULL,
                  "The app settings could not be put into the environment: %s", strerror(errno));
        app_free(app);
        return 1;
    }
    /* As Core Tools' func start: functions of the development host see
     * AZURE_FUNCTIONS_ENVIRONMENT=Development (apps choose their local
     * configuration by it) and WEBSITE_HOSTNAME=localhost:<port> (apps build
     * their own URLs from it), unless the environment or local.settings.json
     * says otherwise. The port is bound now, before any worker starts, so
     * that it is known (with --port 0 too) and a port in use stops the host
     * before it starts anything; connections are accepted once it is ready. */
    int port = listen_port(opts, app);
    const char *listen = opts->listen ? opts->listen : "0.0.0.0";
    if (strcmp(listen, "localhost") == 0)
        listen = "127.0.0.1";
    int rc = http_listener_bind(listen, port, &h->listen_fd, &port);
    if (rc != 0) {
        log_write(LOG_CRITICAL, "Host.Startup", NULL, "Cannot listen on %s:%d: %s%s", listen, port,
                  uv_strerror(rc),
                  rc == UV_EADDRINUSE ? " (another host running? choose one with --port)" : "");
        app_free(app);
        return 1;
    }
    if (!opts->production) {
        char hostname[32];
        snprintf(hostname, sizeof hostname, "localhost:%d", port);
        env_change_t dev[] = {{"AZURE_FUNCTIONS_ENVIRONMENT", "Development", 1},
                              {"WEBSITE_HOSTNAME", hostname, 1}};
        if (env_update(dev, 2) != 0) {
            log_write(LOG_CRITICAL, "Host.Startup", NULL, "out of memory (environment)");
            close(h->listen_fd);
            app_free(app);
            return 1;
        }
    }
    if (telemetry_init(app) != 0) {
        log_write(LOG_CRITICAL, "Host.Startup", NULL, "out of memory (telemetry tables)");
        close(h->listen_fd);
        app_free(app);
        return 1;
    }
    host_apply_logging(h, app);
    print_errors(app, 0);
    size_t reported = app->nerrors;

    h->loop = uv_default_loop();
    h->runtime = runtime_for_app(app);
    if (!h->runtime) {
        char names[256];
        runtime_names(names, sizeof names);
        log_write(LOG_CRITICAL, "Host.Startup", NULL,
                  "local.settings.json: FUNCTIONS_WORKER_RUNTIME '%s' is not supported by this "
                  "host (supported: %s)", app->worker_runtime, names);
        free_host(h);
        return 1;
    }

    char secrets[4200];
    snprintf(secrets, sizeof secrets, "%s/.stratus/secrets", app->root);
    const char *master = getenv("STRATUS_MASTER_KEY");
    h->keys = keystore_open(secrets, master, err, sizeof err);
    if (!h->keys) {
        log_write(LOG_CRITICAL, "Host.Startup", NULL, "key store: %s", err);
        free_host(h);
        return 1;
    }

    /* The store opens first: a corrupt or locked one stops the host before
     * any worker starts. */
    h->bindings = binding_host_new(h->loop, app, h->runtime, err, sizeof err);
    if (!h->bindings) {
        log_write(LOG_CRITICAL, "Host.Startup", NULL, "store: %s", err);
        free_host(h);
        return 1;
    }

    host_gen_t *gen;
    int built = host_gen_build(h, app, &gen, err, sizeof err);
    h->app = NULL; /* the version owns it */
    if (gen) {
        h->gen = gen;
        h->app = gen->app;
        h->router = gen->router;
    }
    if (built != 0) {
        log_write(LOG_CRITICAL, "Host.Startup", NULL, "%s runtime: %s", h->runtime->name, err);
        stop_runtime_now(h);
        free_host(h);
        return 1;
    }

    if (admin_init(h) != 0) {
        stop_runtime_now(h);
        free_host(h);
        return 1;
    }
    print_errors(app, reported);

    h->start_ms = uv_now(h->loop);
    http_server_config_t cfg = {
        .max_url = HTTP_MAX_URL,
        .max_headers = HTTP_MAX_HEADERS_BYTES,
        .max_body = (uint64_t)app->max_request_body,
        .header_timeout_ms = (uint64_t)app->header_timeout_ms,
        .keepalive_timeout_ms = (uint64_t)app->keepalive_timeout_ms,
        .max_connections = (size_t)app->max_connections,
        .keep_identity_headers = app->trust_identity_headers,
    };
    rc = http_server_init(&h->server, h->loop, &cfg, host_on_request, h);
    if (rc == 0) {
        rc = http_server_listen_fd(&h->server, h->listen_fd); /* the server owns it now */
        h->listen_fd = -1;
    }
    if (rc != 0) {
        log_write(LOG_CRITICAL, "Host.Startup", NULL, "Cannot listen on %s:%d: %s%s", listen, port,
                  uv_strerror(rc),
                  rc == UV_EADDRINUSE ? " (another host running? choose one with --port)" : "");
        http_server_close(&h->server);
        stop_runtime_now(h);
        http_server_free(&h->server);
        free_host(h);
        return 1;
    }
    h->port = http_server_port(&h->server);
    binding_host_start(h->bindings);
    telemetry_start(h->loop);
    if (app->history_enabled) {
        history_config_t hc = {app->history_max_count, app->history_max_age_ms};
        if (history_start(h->loop, binding_host_default_store(h->bindings), &hc) != 0)
            log_warn("invocation history cannot start; invocations are not recorded");
    }

    uv_signal_init(h->loop, &h->sigterm);
    uv_signal_init(h->loop, &h->sigint);
    h->sigterm.data = h->sigint.data = h;
    uv_signal_start(&h->sigterm, on_signal, SIGTERM);
    uv_signal_start(&h->sigint, on_signal, SIGINT);
    uv_timer_init(h->loop, &h->drain_timer);
    h->drain_timer.data = h;

    host_print_functions(h);
    log_info("Host started: app '%s', runtime %s (%s), %zu function(s) loaded, %zu error(s); "
             "listening on %s:%d%s", app->root, h->runtime->name,
             h->runtime->ready ? "isolated workers" : "in-process", app->nfunctions, app->nerrors,
             listen, h->port, h->enforce_auth ? "" : " (authorization off: development mode)");
    if (opts->port_file && write_port_file(opts->port_file, h->port) != 0)
        log_warn("cannot write port file %s: %s", opts->port_file, strerror(errno));
    if (opts->watch)
        host_reload_start(h);
    log_set_buffered(1);

    uv_run(h->loop, UV_RUN_DEFAULT);
    history_stop(); /* when the stores never stopped (a forced stop) */
    child_guard_close(); /* the children have stopped: the guardian ends what is left */
    uv_run(h->loop, UV_RUN_NOWAIT);

    log_set_buffered(0);
    http_server_free(&h->server);
    uv_loop_close(h->loop);
    free_host(h);
    telemetry_free();
    log_flush();
    return 0;
}
