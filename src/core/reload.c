/*
 * reload.c -- the development loop (see docs/development.md): watch the
 * app folder and, once changes have been quiet for RELOAD_QUIET_MS, load
 * the app again as a new version (generation.c) beside the serving one.
 *
 * The new version is swapped in when it is as good as the serving one:
 * host.json loads, the runtime is the same, and every function that serves
 * now still loads. Otherwise the serving version stays, and the errors are
 * logged and shown by /admin/host/status until a later reload works. A
 * function that was already broken, or is new and broken, does not stop
 * the others from reloading.
 *
 * What reloads: a change to host.json, local.settings.json, a
 * function.json or package.json, code (*.c, *.h, *.py, *.js, *.mjs, *.cjs),
 * a Lambda bootstrap or the custom handler's executable, or a function
 * folder removed; files functions write as data never do. Not watched at
 * all: names starting with '.' (.stratus/ among them), __pycache__ and
 * node_modules folders, build outputs and scratch files (*.so, *.pyc, *.o,
 * *~, *.swp, *.log, SQLite files), and the blob folder when it is inside
 * the app.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "../telemetry/log.h"
#include "../util/dirwatch.h"
#include "host.h"

#define RELOAD_QUIET_MS 300
#define RELOAD_MAX_NAMES 32
#define RELOAD_MAX_LOGGED 10

struct host_reload {
    host_t *h;
    dirwatch_t *watch;
    uv_timer_t quiet;
    int busy;         /* reloading (a runtime may run the loop meanwhile) */
    int again;        /* files changed while reloading */
    int all;          /* a change outside the function folders */
    char *names[RELOAD_MAX_NAMES]; /* function folders changed */
    size_t nnames;
    size_t logged;    /* change lines logged for this round */
    char *skip;       /* a folder inside the app not to watch (the blobs), relative */
};

/* ---- app settings ---- */

/* local.settings.json Values this host put into the environment. */
static char **own_settings;
static size_t nown_settings;

static int owned(const char *name)
{
    for (size_t i = 0; i < nown_settings; i++)
        if (strcmp(own_settings[i], name) == 0)
            return 1;
    return 0;
}

static void own(const char *name)
{
    if (owned(name))
        return;
    char **grown = realloc(own_settings, (nown_settings + 1) * sizeof *grown);
    if (!grown)
        return;
    own_settings = grown;
    if ((own_settings[nown_settings] = strdup(name)))
        nown_settings++;
}

void host_reload_note_settings(const app_t *app)
{
    for (size_t i = 0; i < app->nsettings; i++)
        if (!getenv(app->settings[i].name))
            own(app->settings[i].name);
}

/* Make the environment hold app's local.settings.json Values: new and
 * changed ones are set, deleted ones removed (only those this host set). */
static void apply_settings(const app_t *app)
{
    for (size_t i = 0; i < nown_settings; i++) {
        int kept = 0;
        for (size_t k = 0; k < app->nsettings && !kept; k++)
            kept = strcmp(app->settings[k].name, own_settings[i]) == 0;
        if (!kept)
            unsetenv(own_settings[i]);
    }
    for (size_t i = 0; i < app->nsettings; i++) {
        const setting_t *st = &app->settings[i];
        if (owned(st->name) || !getenv(st->name)) {
            own(st->name);
            setenv(st->name, st->value ? st->value : "", 1);
        }
    }
}

static void free_settings(void)
{
    for (size_t i = 0; i < nown_settings; i++)
        free(own_settings[i]);
    free(own_settings);
    own_settings = NULL;
    nown_settings = 0;
}

/* ---- reloading ---- */

static void clear_errors(host_t *h)
{
    for (size_t i = 0; i < h->nreload_errors; i++)
        free(h->reload_errors[i]);
    free(h->reload_errors);
    h->reload_errors = NULL;
    h->nreload_errors = 0;
}

static void add_error(host_t *h, const char *msg)
{
    char **grown = realloc(h->reload_errors, (h->nreload_errors + 1) * sizeof *grown);
    if (!grown)
        return;
    h->reload_errors = grown;
    if ((grown[h->nreload_errors] = strdup(msg)))
        h->nreload_errors++;
    log_write(LOG_ERROR, "Host.Reload", NULL, "%s", msg);
}

static void refused(host_t *h)
{
    log_write(LOG_WARN, "Host.Reload", NULL, "Reload refused: the previous version (%u) keeps "
              "serving; fix the error%s above and save again", h->gen->seq,
              h->nreload_errors == 1 ? "" : "s");
}

static int had_app_error(const app_t *app, const char *msg)
{
    for (size_t i = 0; i < app->nerrors; i++)
        if (!app->errors[i].function && strcmp(app->errors[i].message, msg) == 0)
            return 1;
    return 0;
}

/* An error of the new version that the serving one does not have: a
 * function that serves now and would not, or a new app-level error. */
static int regression(const host_t *h, const app_error_t *e)
{
    if (e->function)
        return app_function(h->app, e->function) != NULL;
    return !had_app_error(h->app, e->message);
}

void host_reload_now(host_t *h, const char *why)
{
    if (h->stopping)
        return;
    uint64_t t0 = uv_hrtime();
    if (why)
        log_write(LOG_INFO, "Host.Reload", NULL, "Reloading functions: %s", why);
    else
        log_write(LOG_INFO, "Host.Reload", NULL, "Reloading all functions");
    clear_errors(h);

    const host_options_t *o = h->opts;
    app_load_opts_t lo = {o->functions, o->nfunctions, 1};
    app_t *app = NULL;
    char err[4096];
    char msg[4600];
    if (app_load(h->app->root, &lo, &app, err, sizeof err) != 0) {
        snprintf(msg, sizeof msg, "Cannot load the app in '%s': %s", h->app->root, err);
        add_error(h, msg);
        refused(h);
        return;
    }
    const runtime_t *rt = runtime_for_app(app);
    if (rt != h->runtime) {
        snprintf(msg, sizeof msg, "The app now asks for the %s runtime (%s) instead of %s "
                 "(%s) (local.settings.json FUNCTIONS_WORKER_RUNTIME, host.json "
                 "stratus.native.inProcess): restart the host to switch runtimes",
                 rt ? rt->name : app->worker_runtime ? app->worker_runtime : "unknown",
                 rt && !rt->ready ? "in-process" : "isolated workers", h->runtime->name,
                 h->runtime->ready ? "isolated workers" : "in-process");
        app_free(app);
        add_error(h, msg);
        refused(h);
        return;
    }
    apply_settings(app);
    host_gen_t *g = NULL;
    if (host_gen_build(h, app, &g, err, sizeof err) != 0) {
        snprintf(msg, sizeof msg, "%s runtime: %s", h->runtime->name, err);
        add_error(h, msg);
        host_gen_discard(h, g);
        apply_settings(h->app);
        refused(h);
        return;
    }
    if (h->stopping) { /* a signal came while the runtime ran the loop */
        host_gen_discard(h, g);
        return;
    }
    size_t bad = 0;
    for (size_t i = 0; i < g->app->nerrors; i++)
        bad += regression(h, &g->app->errors[i]);
    if (bad) {
        for (size_t i = 0; i < g->app->nerrors; i++)
            add_error(h, g->app->errors[i].message);
        host_gen_discard(h, g);
        apply_settings(h->app);
        refused(h);
        return;
    }
    unsigned from = h->gen->seq;
    host_gen_swap(h, g);
    h->reloads++;
    host_apply_logging(h, g->app);
    for (size_t i = 0; i < g->app->nerrors; i++)
        log_write(LOG_ERROR, "Host.Reload", NULL, "%s", g->app->errors[i].message);
    host_print_functions(h);
    log_write(LOG_INFO, "Host.Reload", NULL, "Host reloaded in %.0f ms: version %u replaces %u; "
              "%zu function(s) loaded, %zu error(s)", (double)(uv_hrtime() - t0) / 1e6, g->seq,
              from, g->app->nfunctions, g->app->nerrors);
}

/* ---- watching ---- */

static int has_suffix(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcasecmp(s + n - k, suffix) == 0;
}

/* Files whose changes never reload (see the top). */
static int ignored(const host_reload_t *r, const char *rel)
{
    static const char *const suffixes[] = {".so", ".pyc", ".pyo", ".o", "~", ".swp", ".swx",
                                           ".log", ".db", "-wal", "-shm", "-journal"};
    if (r->skip) {
        size_t n = strlen(r->skip);
        if (strncmp(rel, r->skip, n) == 0 && (rel[n] == '/' || !rel[n]))
            return 1;
    }
    for (const char *p = rel; *p;) {
        const char *end = strchr(p, '/');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        if ((n == 11 && !strncmp(p, "__pycache__", n)) || (n == 12 && !strncmp(p, "node_modules", n)))
            return 1;
        if (!end)
            break;
        p = end + 1;
    }
    const char *base = strrchr(rel, '/');
    base = base ? base + 1 : rel;
    if (strstr(base, ".so.tmp") || !strcmp(base, "4913")) /* a build's scratch; vim's probe */
        return 1;
    for (size_t i = 0; i < sizeof suffixes / sizeof *suffixes; i++)
        if (has_suffix(base, suffixes[i]))
            return 1;
    return 0;
}

/* A changed file that is part of the app: its configuration (host.json,
 * local.settings.json, function.json, package.json), code (C, Python,
 * JavaScript), a Lambda bootstrap or the custom handler's executable. Data
 * that functions write into the app folder never reloads it. */
static int relevant(const host_reload_t *r, const char *rel)
{
    static const char *const names[] = {"host.json", "local.settings.json", "function.json",
                                        "package.json", "bootstrap"};
    static const char *const code[] = {".c", ".h", ".py", ".js", ".mjs", ".cjs"};
    const char *base = strrchr(rel, '/');
    base = base ? base + 1 : rel;
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        if (!strcmp(base, names[i]))
            return 1;
    for (size_t i = 0; i < sizeof code / sizeof *code; i++)
        if (has_suffix(base, code[i]))
            return 1;
    const char *exe = r->h->app ? r->h->app->custom_handler.executable : NULL;
    const char *root = r->h->app ? r->h->app->root : NULL;
    if (exe && root) {
        size_t n = strlen(root);
        if (!strncmp(exe, root, n) && exe[n] == '/' && !strcmp(exe + n + 1, rel))
            return 1;
        if (!strchr(exe, '/') && !strcmp(exe, rel))
            return 1;
    }
    return 0;
}

/* Note which function rel belongs to (or that all are affected). */
static void note(host_reload_t *r, const char *rel)
{
    const char *slash = strchr(rel, '/');
    char name[256];
    int fn = 0;
    if (slash && (size_t)(slash - rel) < sizeof name) {
        snprintf(name, sizeof name, "%.*s", (int)(slash - rel), rel);
        char path[4600];
        struct stat st;
        snprintf(path, sizeof path, "%s/%s/function.json", r->h->app->root, name);
        fn = app_function(r->h->app, name) || stat(path, &st) == 0;
    } else if (!slash && strlen(rel) < sizeof name) {
        /* a folder itself (deleted or moved out): a function when it was one */
        snprintf(name, sizeof name, "%s", rel);
        fn = app_function(r->h->app, name) != NULL;
    }
    if (!fn) {
        r->all = 1;
        return;
    }
    for (size_t i = 0; i < r->nnames; i++)
        if (strcmp(r->names[i], name) == 0)
            return;
    if (r->nnames == RELOAD_MAX_NAMES) {
        r->all = 1;
        return;
    }
    if ((r->names[r->nnames] = strdup(name)))
        r->nnames++;
}

static void reset_round(host_reload_t *r)
{
    for (size_t i = 0; i < r->nnames; i++)
        free(r->names[i]);
    r->nnames = 0;
    r->all = 0;
    r->logged = 0;
}

static void on_quiet(uv_timer_t *t)
{
    host_reload_t *r = t->data;
    host_t *h = r->h;
    if (r->busy) {
        r->again = 1;
        return;
    }
    char why[2048] = "";
    size_t len = 0;
    for (size_t i = 0; !r->all && i < r->nnames; i++) {
        int k = snprintf(why + len, sizeof why - len, "%s%s", i ? ", " : "", r->names[i]);
        if (k < 0 || (size_t)k >= sizeof why - len) {
            r->all = 1;
            break;
        }
        len += (size_t)k;
    }
    int all = r->all || !r->nnames;
    reset_round(r);
    r->busy = 1;
    r->again = 0;
    host_reload_now(h, all ? NULL : why);
    if (!h->reload) { /* stopped meanwhile: r is being freed */
        return;
    }
    r->busy = 0;
    if (r->again && !h->stopping) {
        r->all = 1;
        uv_timer_start(&r->quiet, on_quiet, RELOAD_QUIET_MS, 0);
    }
}

static void on_change(dirwatch_t *w, const dirwatch_event_t *ev, void *data)
{
    (void)w;
    host_reload_t *r = data;
    if (ev->kind == DIRWATCH_ERROR) {
        log_warn("Watching the app: %s", ev->message);
        return;
    }
    if (ev->kind == DIRWATCH_OVERFLOW) {
        r->all = 1;
    } else {
        if (ignored(r, ev->path) ||
            (ev->kind != DIRWATCH_REMOVED && !relevant(r, ev->path)))
            return;
        const char *type = ev->kind == DIRWATCH_REMOVED ? "Deleted" : "Changed";
        if (r->logged < RELOAD_MAX_LOGGED)
            log_write(LOG_INFO, "Host.Reload", NULL, "File change of type '%s' detected for '%s'",
                      type, ev->path);
        else if (r->logged == RELOAD_MAX_LOGGED)
            log_write(LOG_INFO, "Host.Reload", NULL, "More file changes detected; not listing them");
        r->logged++;
        note(r, ev->path);
    }
    if (r->busy)
        r->again = 1;
    uv_timer_start(&r->quiet, on_quiet, RELOAD_QUIET_MS, 0);
}

int host_reload_start(host_t *h)
{
    host_reload_t *r = calloc(1, sizeof *r);
    if (!r) {
        log_warn("Not watching the app for changes: out of memory");
        return -1;
    }
    r->h = h;
    const char *root = h->app->root;
    const char *blobs = h->bindings ? binding_host_blob_root(h->bindings) : NULL;
    size_t rl = strlen(root);
    if (blobs && strncmp(blobs, root, rl) == 0 && blobs[rl] == '/')
        r->skip = strdup(blobs + rl + 1);
    char err[4600];
    if (dirwatch_start(h->loop, root, on_change, r, &r->watch, err, sizeof err) != 0) {
        log_warn("Not watching the app for changes: %s", err);
        free(r->skip);
        free(r);
        return -1;
    }
    dirwatch_report_removals(r->watch, 1);
    uv_timer_init(h->loop, &r->quiet);
    r->quiet.data = r;
    h->reload = r;
    log_write(LOG_INFO, "Host.Reload", NULL, "Watching '%s' for changes (%zu folder(s)); "
              "--no-watch turns this off", root, dirwatch_count(r->watch));
    return 0;
}

static void quiet_closed(uv_handle_t *t)
{
    host_reload_t *r = t->data;
    reset_round(r);
    free(r->skip);
    free(r);
}

void host_reload_stop(host_t *h)
{
    free_settings();
    host_reload_t *r = h->reload;
    if (!r)
        return;
    h->reload = NULL;
    dirwatch_stop(r->watch, NULL);
    uv_close((uv_handle_t *)&r->quiet, quiet_closed);
}
