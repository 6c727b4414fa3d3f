/*
 * interp.c -- what the interpreter runtimes (python.c, node.c) share:
 * finding the interpreter and its arguments, writing the worker shim the
 * binary carries (embedded.h) next to the app, where the interpreter can
 * run it, and starting the app's pool of workers with that command.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../telemetry/log.h"
#include "embedded.h"
#include "pool.h"
#include "runtime.h"

/* mkdir -p for the folders of path (not path itself). */
static int make_parents(char *path)
{
    for (char *s = strchr(path + 1, '/'); s; s = strchr(s + 1, '/')) {
        *s = '\0';
        int rc = mkdir(path, 0755);
        *s = '/';
        if (rc != 0 && errno != EEXIST)
            return -1;
    }
    return 0;
}

/* 1 when path already holds exactly len bytes of data. */
static int same_content(const char *path, const unsigned char *data, size_t len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    struct stat st;
    int same = 0;
    if (fstat(fd, &st) == 0 && (size_t)st.st_size == len) {
        unsigned char chunk[8192];
        size_t off = 0;
        same = 1;
        while (off < len && same) {
            ssize_t n = read(fd, chunk, sizeof chunk);
            if (n <= 0 || memcmp(chunk, data + off, (size_t)n) != 0)
                same = 0;
            else
                off += (size_t)n;
        }
    }
    close(fd);
    return same;
}

/* Write path atomically (a temporary file renamed over it), so a worker
 * starting meanwhile never reads half a file. */
static int write_file(const char *path, const unsigned char *data, size_t len)
{
    char tmp[4300];
    snprintf(tmp, sizeof tmp, "%s.%d.tmp", path, (int)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return -1;
    size_t off = 0;
    while (off < len) {
        ssize_t n = write(fd, data + off, len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            close(fd);
            unlink(tmp);
            return -1;
        }
        off += (size_t)n;
    }
    if (close(fd) != 0 || rename(tmp, path) != 0) {
        unlink(tmp);
        return -1;
    }
    return 0;
}

int interp_extract(const app_t *app, const char *lang, char *dir, size_t dirlen, char *err,
                   size_t errlen)
{
    size_t llen = strlen(lang);
    int found = 0;
    snprintf(dir, dirlen, "%s/.stratus/runtimes/%s", app->root, lang);
    for (const embedded_file_t *f = runtime_files; f->path; f++) {
        if (strncmp(f->path, lang, llen) != 0 || f->path[llen] != '/')
            continue;
        char path[4200];
        snprintf(path, sizeof path, "%s/.stratus/runtimes/%s", app->root, f->path);
        found = 1;
        if (same_content(path, f->data, f->len))
            continue;
        if (make_parents(path) != 0 || write_file(path, f->data, f->len) != 0) {
            snprintf(err, errlen, "cannot write the %s worker to %s: %s", lang, path,
                     strerror(errno));
            return -1;
        }
    }
    if (!found) {
        snprintf(err, errlen, "this stratus binary was built without the %s worker "
                 "(runtimes/%s/ was empty at build time)", lang, lang);
        return -1;
    }
    return 0;
}

/* Look name up on PATH (or take it as is when it has a slash). */
static int which(const char *name, char *out, size_t outlen)
{
    if (strchr(name, '/')) {
        snprintf(out, outlen, "%s", name);
        return access(out, X_OK);
    }
    const char *path = getenv("PATH");
    if (!path || !*path)
        path = "/usr/local/bin:/usr/bin:/bin";
    while (*path) {
        const char *end = strchr(path, ':');
        size_t n = end ? (size_t)(end - path) : strlen(path);
        if (n > 0) {
            snprintf(out, outlen, "%.*s/%s", (int)n, path, name);
            struct stat st;
            if (stat(out, &st) == 0 && S_ISREG(st.st_mode) && access(out, X_OK) == 0)
                return 0;
        }
        path += n + (end ? 1 : 0);
    }
    return -1;
}

int interp_find(const app_t *app, const char *setting, const char *dflt, char *out,
                size_t outlen, char *err, size_t errlen)
{
    const char *v = app_setting(app, setting);
    if (!v || !*v)
        v = getenv(setting);
    if (v && *v) {
        if (which(v, out, outlen) == 0)
            return 0;
        snprintf(err, errlen, "setting %s: '%s' is not an executable file%s", setting, v,
                 strchr(v, '/') ? "" : " on PATH");
        return -1;
    }
    if (which(dflt, out, outlen) == 0)
        return 0;
    snprintf(err, errlen, "'%s' was not found on PATH; install it, or name the interpreter in "
             "the app setting %s", dflt, setting);
    return -1;
}

/* The app setting languageWorkers__<lang>__<key>, or its spelling with
 * colons; NULL when neither is set. */
static const char *lang_setting(const app_t *app, const char *lang, const char *key,
                                char *name, size_t namelen)
{
    snprintf(name, namelen, "languageWorkers__%s__%s", lang, key);
    const char *v = app_setting(app, name);
    if (v)
        return v;
    char colons[128];
    snprintf(colons, sizeof colons, "languageWorkers:%s:%s", lang, key);
    v = app_setting(app, colons);
    if (v)
        snprintf(name, namelen, "%s", colons);
    return v;
}

int interp_start(app_t *app, const interp_spec_t *spec, interp_state_t *st, char *err,
                 size_t errlen)
{
    char setting[128], dir[4100];
    /* interp_find reads the setting by the name it is given: pass the
     * spelling that is set. */
    lang_setting(app, spec->lang, "defaultExecutablePath", setting, sizeof setting);
    if (interp_find(app, setting, spec->exe, st->exe, sizeof st->exe, err, errlen) != 0 ||
        interp_extract(app, spec->lang, dir, sizeof dir, err, errlen) != 0)
        return -1;
    snprintf(st->shim, sizeof st->shim, "%s/%s", dir, spec->shim);

    size_t n = 0;
    st->argv[n++] = st->exe;
    if (spec->flag)
        st->argv[n++] = (char *)spec->flag;
    const char *args = lang_setting(app, spec->lang, "arguments", setting, sizeof setting);
    if (args && *args) {
        if (strlen(args) >= sizeof st->args) {
            snprintf(err, errlen, "setting %s: longer than %zu bytes", setting,
                     sizeof st->args - 1);
            return -1;
        }
        snprintf(st->args, sizeof st->args, "%s", args);
        size_t nuser = 0;
        for (char *save = NULL, *a = strtok_r(st->args, " \t\r\n", &save); a;
             a = strtok_r(NULL, " \t\r\n", &save)) {
            if (++nuser > INTERP_MAX_ARGS) {
                snprintf(err, errlen, "setting %s: more than %d arguments", setting,
                         INTERP_MAX_ARGS);
                return -1;
            }
            st->argv[n++] = a;
        }
    }
    st->argv[n++] = st->shim;
    if (spec->cache_opt) {
        snprintf(st->cache, sizeof st->cache, "%s.cache", dir); /* beside the shim's folder */
        st->argv[n++] = (char *)spec->cache_opt;
        st->argv[n++] = st->cache;
    }
    st->argv[n] = NULL;
    if (args && *args) { /* say what runs, as a debugger's flags must be seen to apply */
        char line[8192];
        size_t len = 0;
        for (size_t i = 0; st->argv[i] && len < sizeof line; i++)
            len += (size_t)snprintf(line + len, sizeof line - len, "%s%s", i ? " " : "",
                                    st->argv[i]);
        log_info("%s workers run: %s (arguments from %s)", spec->lang, line, setting);
    }
    if (app->index_lang && !strcmp(app->index_lang, spec->lang)) {
        /* The app still starts (or the reload goes on) without functions,
         * with the reason among its errors, as with a broken function.json. */
        char why[4096];
        if (interp_index(app, spec, st, why, sizeof why) != 0)
            app_add_error(app, NULL, "%s", why);
    }
    return 0;
}

int interp_ready(app_t *app, uv_loop_t *loop, const interp_spec_t *spec, interp_state_t *st,
                 char *err, size_t errlen)
{
    pool_spec_t ps = {.runtime = spec->lang, .argv = st->argv,
                      .limit_memory = spec->limit_memory,
                      .cache_file = spec->cache_opt ? st->cache : NULL};
    return pool_runtime_ready(app, loop, &ps, err, errlen);
}

int interp_load(app_t *app, function_t *fn, char *err, size_t errlen)
{
    (void)app, (void)fn, (void)err, (void)errlen;
    return 0;
}
