/*
 * generation.c -- versions of the loaded app (see host.h): building one
 * (runtime, functions, routes), swapping a new one in on a reload, and
 * retiring the old one: it is stopped and freed once its HTTP invocations
 * finished and the binding host no longer uses it (events in flight, trigger
 * sources stopping).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../telemetry/log.h"
#include "../telemetry/telemetry.h"
#include "host.h"

#define REAP_INTERVAL_MS 50

static void load_functions(host_t *h, app_t *app)
{
    for (size_t i = 0; i < app->nfunctions;) {
        function_t *fn = app->functions[i];
        char err[8192];
        if (h->runtime->load(app, fn, err, sizeof err) != 0) {
            app_add_error(app, fn->name, "%s: %s", fn->name, err);
            app_break_function(app, fn, err);
            continue;
        }
        if (fn->http && fn->http->auth_level == AUTH_FUNCTION &&
            keystore_ensure_function(h->keys, fn->name, err, sizeof err) != 0)
            log_warn("%s: cannot create its default key: %s", fn->name, err);
        i++;
    }
}

int host_gen_build(host_t *h, app_t *app, host_gen_t **out, char *err, size_t errlen)
{
    static unsigned seq;
    *out = NULL;
    host_gen_t *g = calloc(1, sizeof *g);
    if (!g) {
        snprintf(err, errlen, "out of memory");
        app_free(app);
        return -1;
    }
    g->host = h;
    g->app = app;
    g->seq = ++seq;
    const runtime_t *rt = h->runtime;
    if (rt->app_start && rt->app_start(app, h->loop, err, errlen) != 0) {
        g->stop_state = 2; /* nothing to stop */
        *out = g;
        return -1;
    }
    *out = g;
    load_functions(h, app);
    binding_host_check(h->bindings, app);
    if (rt->ready && rt->ready(app, h->loop, err, errlen) != 0)
        return -1;
    for (size_t i = 0; rt->load_error && i < app->nfunctions;) {
        function_t *fn = app->functions[i];
        const char *why = rt->load_error(app, fn);
        if (!why) {
            i++;
            continue;
        }
        app_add_error(app, fn->name, "%s: %s", fn->name, why);
        if (rt->unload)
            rt->unload(fn);
        app_break_function(app, fn, why);
    }
    g->router = router_new();
    if (!g->router) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    http_trigger_register(h, app, g->router);
    return 0;
}

static void gen_free(host_gen_t *g)
{
    host_t *h = g->host;
    const runtime_t *rt = h->runtime;
    app_t *app = g->app;
    if (app) {
        for (size_t i = 0; i < app->nfunctions; i++)
            if (rt && rt->unload)
                rt->unload(app->functions[i]);
        if (rt && rt->app_free)
            rt->app_free(app);
        app_free(app);
    }
    router_free(g->router);
    free(g);
}

static void unlink_retired(host_t *h, host_gen_t *g)
{
    for (host_gen_t **p = &h->retired; *p; p = &(*p)->next)
        if (*p == g) {
            *p = g->next;
            return;
        }
}

static void (*stopped_all_cb)(host_t *h);

static void gen_runtime_stopped(void *data)
{
    host_gen_t *g = data;
    host_t *h = g->host;
    g->stop_state = 2;
    int counted = g->counted;
    if (g != h->gen) {
        unlink_retired(h, g);
        log_write(LOG_DEBUG, "Host.Reload", NULL, "Version %u of the app stopped and freed",
                  g->seq);
        gen_free(g);
    }
    if (counted && h->runtimes_pending && --h->runtimes_pending == 0 && stopped_all_cb)
        stopped_all_cb(h);
}

static void gen_stop_runtime(host_gen_t *g)
{
    if (g->stop_state)
        return;
    g->stop_state = 1;
    host_t *h = g->host;
    if (h->runtime->app_stop && g->app->runtime_state)
        h->runtime->app_stop(g->app, gen_runtime_stopped, g);
    else
        gen_runtime_stopped(g);
}

/* Stop (and so free) the retired versions nothing uses any more. */
static void reap(host_t *h)
{
    for (host_gen_t *g = h->retired, *next; g; g = next) {
        next = g->next;
        if (g->stop_state == 0 && !g->http_inflight &&
            (!h->bindings || !binding_host_busy(h->bindings, g->app)))
            gen_stop_runtime(g); /* may free g */
    }
    if (!h->retired && h->reap_timer_open)
        uv_timer_stop(&h->reap_timer);
}

static void reap_cb(uv_timer_t *t) { reap(t->data); }

static void retire(host_t *h, host_gen_t *g)
{
    if (h->runtime->app_retire && g->app->runtime_state)
        h->runtime->app_retire(g->app);
    g->next = h->retired;
    h->retired = g;
    if (g->stop_state == 2) { /* never started: free it now */
        unlink_retired(h, g);
        gen_free(g);
        return;
    }
    if (h->stopping) {
        gen_stop_runtime(g);
        return;
    }
    if (!h->reap_timer_open) {
        uv_timer_init(h->loop, &h->reap_timer);
        h->reap_timer.data = h;
        h->reap_timer_open = 1;
    }
    reap(h);
    if (h->retired && !uv_is_active((uv_handle_t *)&h->reap_timer))
        uv_timer_start(&h->reap_timer, reap_cb, REAP_INTERVAL_MS, REAP_INTERVAL_MS);
}

void host_gen_swap(host_t *h, host_gen_t *g)
{
    host_gen_t *old = h->gen;
    h->gen = g;
    h->app = g->app;
    h->router = g->router;
    if (h->bindings)
        binding_host_switch_app(h->bindings, g->app);
    telemetry_switch_app(g->app);
    if (old)
        retire(h, old);
}

void host_gen_discard(host_t *h, host_gen_t *g)
{
    if (g)
        retire(h, g);
}

void host_gen_end_streams(host_t *h)
{
    if (!h->runtime || !h->runtime->app_retire)
        return;
    if (h->gen && h->gen->app->runtime_state)
        h->runtime->app_retire(h->gen->app);
    for (host_gen_t *g = h->retired; g; g = g->next)
        if (g->app->runtime_state)
            h->runtime->app_retire(g->app);
}

void host_gen_stop_all(host_t *h, void (*cb)(host_t *h))
{
    stopped_all_cb = cb;
    if (h->reap_timer_open) {
        h->reap_timer_open = 0;
        uv_close((uv_handle_t *)&h->reap_timer, NULL);
    }
    h->runtimes_pending = 1; /* held while starting the stops */
    host_gen_t *all[2] = {h->gen, h->retired};
    for (int k = 0; k < 2; k++)
        for (host_gen_t *g = all[k], *next; g; g = next) {
            next = k ? g->next : NULL;
            if (g->stop_state == 2)
                continue;
            g->counted = 1;
            h->runtimes_pending++;
            if (g->stop_state == 0)
                gen_stop_runtime(g); /* may free a retired g */
        }
    if (--h->runtimes_pending == 0 && cb)
        cb(h);
}

void host_gen_free_all(host_t *h)
{
    while (h->retired) {
        host_gen_t *g = h->retired;
        h->retired = g->next;
        gen_free(g);
    }
    if (h->gen)
        gen_free(h->gen);
    h->gen = NULL;
    h->app = NULL;
    h->router = NULL;
}
