/*
 * reload.c -- the development loop (see docs/development.md): watch the
 * app folder and, once changes have been quiet for RELOAD_QUIET_MS
 * (RELOAD_DEPS_QUIET_MS when installed packages changed), load the app
 * again as a new version (generation.c) beside the serving one.
 *
 * The new version is swapped in when it is as good as the serving one:
 * host.json loads, the runtime is the same, and every function that serves
 * now still loads. Otherwise the serving version stays, and the errors are
 * logged and shown by /admin/host/status until a later reload works. A
 * function that was already broken, or is new and broken, does not stop
 * the others from reloading.
 *
 * What reloads: a change to host.json, local.settings.json, a
 * function.json or package.json, code (C, Python, JavaScript, and the
 * scripts of custom handlers and Lambda runtimes), an executable file
 * without an extension (a Lambda bootstrap, a rebuilt custom handler), the
 * custom handler's executable, any file of the installed packages
 * (node_modules folders, .python_packages) or of host.json's
 * watchDirectories, a file named in watchFiles, a function folder removed
 * or moved away; files functions write as data never do, nor do they when
 * deleted. Not watched at all: names starting with '.' other than
 * .python_packages (.stratus/, .git/, .venv/), __pycache__ folders, virtual
 * environments (folders with a pyvenv.cfg), build outputs and scratch files
 * (*.so, *.pyc, *.o, *~, *.swp, *.log, SQLite files), and the blob folder
 * when it is inside the app.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../telemetry/log.h"
#include "../util/dirwatch.h"
#include "../util/envset.h"
#include "host.h"

#define RELOAD_QUIET_MS 300
/* A round that changed installed packages (npm install, pip install
 * --target .python_packages): these write files in bursts, for seconds. */
#define RELOAD_DEPS_QUIET_MS 1500
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
    int deps;         /* this round changed installed packages: a longer quiet period */
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

static int exportable(const char *name)
{
    return name[0] && !strchr(name, '=');
}

static void update_env(const env_change_t *ch, size_t n)
{
    if (n && env_update(ch, n) != 0)
        log_write(LOG_WARN, "Host.Reload", NULL,
                  "The app settings could not be put into the environment: %s",
                  strerror(errno));
}

/* Make the environment hold app's local.settings.json Values: new and
 * changed ones are set, deleted ones removed (only those this host set).
 * One new environment, published at once (envset.h): threads that read
 * it meanwhile never see it half changed. */
static void apply_settings(const app_t *app)
{
    env_change_t *ch = calloc(nown_settings + app->nsettings + 1, sizeof *ch);
    if (!ch)
        return;
    size_t n = 0;
    for (size_t i = 0; i < nown_settings; i++) {
        int kept = 0;
        for (size_t k = 0; k < app->nsettings && !kept; k++)
            kept = strcmp(app->settings[k].name, own_settings[i]) == 0;
        if (!kept)
            ch[n++] = (env_change_t){own_settings[i], NULL, 0};
    }
    for (size_t i = 0; i < app->nsettings; i++) {
        const setting_t *st = &app->settings[i];
        if (exportable(st->name) && (owned(st->name) || !getenv(st->name))) {
            own(st->name);
            ch[n++] = (env_change_t){st->name, st->value ? st->value : "", 0};
        }
    }
    update_env(ch, n);
    free(ch);
}

/* Take this host's local.settings.json Values out of the environment while
 * the app is loaded again: app_setting() reads the environment first, and
 * must see the files' new values (a function disabled or enabled,
 * FUNCTIONS_WORKER_RUNTIME, %Setting% expansions), as at a fresh start.
 * apply_settings() puts them back. */
static void hide_settings(void)
{
    env_change_t *ch = calloc(nown_settings + 1, sizeof *ch);
    if (!ch)
        return;
    for (size_t i = 0; i < nown_settings; i++)
        ch[i] = (env_change_t){own_settings[i], NULL, 0};
    update_env(ch, nown_settings);
    free(ch);
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
    hide_settings();
    int loaded = app_load(h->app->root, &lo, &app, err, sizeof err);
    if (loaded != 0) {
        apply_settings(h->app);
        snprintf(msg, sizeof msg, "Cannot load the app in '%s': %s", h->app->root, err);
        add_error(h, msg);
        refused(h);
        return;
    }
    app->reload = 1;
    const runtime_t *rt = runtime_for_app(app);
    if (rt != h->runtime) {
        snprintf(msg, sizeof msg, "The app now asks for the %s runtime (%s) instead of %s "
                 "(%s) (local.settings.json FUNCTIONS_WORKER_RUNTIME, host.json "
                 "stratus.native.inProcess): restart the host to switch runtimes",
                 rt ? rt->name : app->worker_runtime ? app->worker_runtime : "unknown",
                 rt && !rt->ready ? "in-process" : "isolated workers", h->runtime->name,
                 h->runtime->ready ? "isolated workers" : "in-process");
        app_free(app);
        apply_settings(h->app);
        add_error(h, msg);
        refused(h);
        return;
    }
    apply_settings(app);
    host_gen_t *g = NULL;
    int built = host_gen_build(h, app, &g, err, sizeof err);
    if (h->stopping) { /* a signal came while the runtime ran the loop */
        host_gen_discard(h, g);
        return;
    }
    if (built != 0) {
        snprintf(msg, sizeof msg, "%s runtime: %s", h->runtime->name, err);
        add_error(h, msg);
        host_gen_discard(h, g);
        apply_settings(h->app);
        refused(h);
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
    if (!g->app->file_watching && h->reload) {
        log_write(LOG_INFO, "Host.Reload", NULL, "host.json fileWatchingEnabled is false: no "
                  "longer watching the app; restart the host to pick up changes");
        host_reload_stop(h);
    }
}

/* ---- watching ---- */

static int has_suffix(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcasecmp(s + n - k, suffix) == 0;
}

static const char *base_name(const char *rel)
{
    const char *slash = strrchr(rel, '/');
    return slash ? slash + 1 : rel;
}

/* rel is below the folder dir (relative too), or is it. */
static int under(const char *rel, const char *dir, int nocase)
{
    size_t n = strlen(dir);
    int same = nocase ? strncasecmp(rel, dir, n) == 0 : strncmp(rel, dir, n) == 0;
    return n && same && (rel[n] == '/' || !rel[n]);
}

/* The n bytes at p are the folder name name. */
static int component_is(const char *p, size_t n, const char *name)
{
    return n == strlen(name) && !strncmp(p, name, n);
}

/* The dot folder that is watched: Azure's Python packages
 * (pip install --target .python_packages/lib/site-packages). */
static const char *const dot_names[] = {".python_packages", NULL};

/* A virtual environment (python -m venv): a folder with a pyvenv.cfg. */
static int is_venv(const host_reload_t *r, const char *rel, size_t n)
{
    char path[4600];
    struct stat st;
    const char *root = r->h->app->root;
    if (snprintf(path, sizeof path, "%s/%.*s/pyvenv.cfg", root, (int)n, rel) >= (int)sizeof path)
        return 0;
    return stat(path, &st) == 0;
}

/* Folders not to watch at all (dirwatch's skip): __pycache__, virtual
 * environments, the blob folder. */
static int skip_folder(void *data, const char *rel)
{
    host_reload_t *r = data;
    if (r->skip && under(rel, r->skip, 0))
        return 1;
    return !strcmp(base_name(rel), "__pycache__") || is_venv(r, rel, strlen(rel));
}

/* Files whose changes never reload (see the top). */
static int ignored(const host_reload_t *r, const char *rel)
{
    static const char *const suffixes[] = {".so", ".pyc", ".pyo", ".o", "~", ".swp", ".swx",
                                           ".log", ".db", "-wal", "-shm", "-journal"};
    if (r->skip && under(rel, r->skip, 0))
        return 1;
    for (const char *p = rel; *p;) {
        const char *end = strchr(p, '/');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        if (component_is(p, n, "__pycache__"))
            return 1;
        /* a dot name: only .python_packages at the root is watched */
        if (*p == '.' && !(p == rel && component_is(p, n, dot_names[0])))
            return 1;
        if (!end)
            break;
        /* a virtual environment at the root (created after the watch
         * started, so that its folders are watched) */
        if (p == rel && is_venv(r, rel, n))
            return 1;
        p = end + 1;
    }
    const char *base = base_name(rel);
    if (strstr(base, ".so.tmp") || !strcmp(base, "4913")) /* a build's scratch; vim's probe */
        return 1;
    for (size_t i = 0; i < sizeof suffixes / sizeof *suffixes; i++)
        if (has_suffix(base, suffixes[i]))
            return 1;
    return 0;
}

/* Installed packages: in a node_modules folder (of the app or of a
 * function), or in .python_packages. Every file there is code. */
static int in_packages(const char *rel)
{
    if (under(rel, dot_names[0], 0))
        return 1;
    for (const char *p = rel; *p;) {
        const char *end = strchr(p, '/');
        if (!end)
            return 0; /* the file's own name */
        if (component_is(p, (size_t)(end - p), "node_modules"))
            return 1;
        p = end + 1;
    }
    return 0;
}

/* path (absolute, possibly with "." and ".." segments) is root/rel. */
static int same_file(const char *path, const char *root, const char *rel)
{
    char norm[4600], *segs[512];
    size_t nseg = 0;
    if (!path || path[0] != '/' ||
        (size_t)snprintf(norm, sizeof norm, "%s", path) >= sizeof norm)
        return 0;
    for (char *save = NULL, *t = strtok_r(norm, "/", &save); t; t = strtok_r(NULL, "/", &save)) {
        if (!strcmp(t, "."))
            continue;
        if (!strcmp(t, "..")) {
            if (nseg)
                nseg--;
            continue;
        }
        if (nseg == sizeof segs / sizeof *segs)
            return 0;
        segs[nseg++] = t;
    }
    char full[4600];
    size_t len = 0;
    for (size_t i = 0; i < nseg && len < sizeof full; i++)
        len += (size_t)snprintf(full + len, sizeof full - len, "/%s", segs[i]);
    char want[4600];
    snprintf(want, sizeof want, "%s/%s", root, rel);
    return len < sizeof full && !strcmp(full, want);
}

/* rel is the custom handler's executable (host.json
 * description.defaultExecutablePath, looked for in the working directory,
 * then in the app folder), or a function's Lambda bootstrap named by its
 * function.json. */
static int is_runtime_exe(const host_reload_t *r, const char *rel)
{
    const app_t *app = r->h->app;
    const char *exe = app->custom_handler.executable;
    if (exe && exe[0] == '/' && same_file(exe, app->root, rel))
        return 1;
    if (exe && exe[0] != '/') {
        const char *bases[] = {app->custom_handler.working_dir, app->root};
        for (size_t i = 0; i < 2; i++) {
            char path[4600];
            if (bases[i] &&
                snprintf(path, sizeof path, "%s/%s", bases[i], exe) < (int)sizeof path &&
                same_file(path, app->root, rel))
                return 1;
        }
    }
    for (size_t i = 0; i < app->nfunctions; i++)
        if (app->functions[i]->bootstrap && same_file(app->functions[i]->bootstrap, app->root, rel))
            return 1;
    return 0;
}

/* A regular file without an extension whose mode lets someone run it: a
 * compiled program or a script with its #! line (custom handlers, Lambda
 * runtimes). */
static int is_program(const host_reload_t *r, const char *rel)
{
    const char *base = base_name(rel);
    if (strchr(base, '.'))
        return 0;
    char path[4600];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", r->h->app->root, rel);
    return lstat(path, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 0111);
}

/* A file that is part of the app (see the top); may_stat: the file is
 * there to look at (not deleted). Data that functions write into the app
 * folder never reloads it. */
static int relevant(const host_reload_t *r, const char *rel, int may_stat)
{
    static const char *const names[] = {"host.json", "local.settings.json", "function.json",
                                        "package.json", "bootstrap"};
    static const char *const code[] = {".c", ".h", ".py", ".js", ".mjs", ".cjs",
                                       /* custom handlers' and Lambda runtimes' scripts */
                                       ".sh", ".bash", ".rb", ".php", ".pl", ".pm", ".lua",
                                       ".ps1", ".jar"};
    const app_t *app = r->h->app;
    const char *base = base_name(rel);
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        if (!strcmp(base, names[i]))
            return 1;
    for (size_t i = 0; i < sizeof code / sizeof *code; i++)
        if (has_suffix(base, code[i]))
            return 1;
    if (in_packages(rel))
        return 1;
    for (size_t i = 0; i < app->nwatch_dirs; i++)
        if (under(rel, app->watch_dirs[i], 1))
            return 1;
    for (size_t i = 0; i < app->nwatch_files; i++)
        if (!strcasecmp(base, app->watch_files[i]) || !strcasecmp(rel, app->watch_files[i]))
            return 1;
    return is_runtime_exe(r, rel) || (may_stat && is_program(r, rel));
}

/* A name deleted or moved away that counts: a file that is part of the
 * app, a function's folder, or a folder moved away (what it held was not
 * reported); a folder deleted had its files reported one by one. */
static int relevant_removal(const host_reload_t *r, const dirwatch_event_t *ev)
{
    if (!ev->dir)
        return relevant(r, ev->path, 0);
    if (ev->moved || in_packages(ev->path))
        return 1;
    return !strchr(ev->path, '/') && app_function(r->h->app, ev->path) != NULL;
}

/* Python compares a module's cached bytecode with its source by the
 * source's size and mtime in whole seconds: a file saved twice within a
 * second with the same size (v1 -> v2) would run the bytecode of the first
 * save. Drop the cache of a .py file that changed (its
 * __pycache__/NAME.TAG.pyc), so that the next import compiles it. */
static void forget_bytecode(const host_reload_t *r, const char *rel)
{
    const char *base = base_name(rel);
    size_t stem = strlen(base) - 3; /* without ".py" */
    char dir[4600];
    int k = snprintf(dir, sizeof dir, "%s/%.*s__pycache__", r->h->app->root,
                     (int)(base - rel), rel);
    if (k < 0 || (size_t)k >= sizeof dir)
        return;
    DIR *d = opendir(dir);
    if (!d)
        return;
    for (struct dirent *e; (e = readdir(d));) {
        const char *n = e->d_name;
        if (!strncmp(n, base, stem) && n[stem] == '.' && has_suffix(n, ".pyc")) {
            char path[4900];
            if (snprintf(path, sizeof path, "%s/%s", dir, n) < (int)sizeof path)
                unlink(path);
        }
    }
    closedir(d);
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
    r->deps = 0;
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
        uv_timer_start(&r->quiet, on_quiet, r->deps ? RELOAD_DEPS_QUIET_MS : RELOAD_QUIET_MS, 0);
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
        if (ignored(r, ev->path) || !(ev->kind == DIRWATCH_REMOVED ? relevant_removal(r, ev)
                                                                   : relevant(r, ev->path, 1)))
            return;
        int deps = in_packages(ev->path);
        /* (pip compiles what it installs after writing it: its bytecode is
         * right, and costly to compile again) */
        if (ev->kind == DIRWATCH_FILE && !deps && has_suffix(ev->path, ".py"))
            forget_bytecode(r, ev->path);
        if (deps)
            r->deps = 1;
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
    uv_timer_start(&r->quiet, on_quiet, r->deps ? RELOAD_DEPS_QUIET_MS : RELOAD_QUIET_MS, 0);
}

int host_reload_start(host_t *h)
{
    if (!h->app->file_watching) {
        log_write(LOG_INFO, "Host.Reload", NULL, "Not watching '%s' for changes: host.json "
                  "fileWatchingEnabled is false", h->app->root);
        return -1;
    }
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
    dirwatch_opts_t wo = {dot_names, skip_folder};
    if (dirwatch_start_opts(h->loop, root, &wo, on_change, r, &r->watch, err, sizeof err) != 0) {
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
