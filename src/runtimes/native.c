/*
 * native.c -- the native runtime, in-process: C functions in shared
 * objects, built from the function folder's sources when they are newer
 * than the shared object, opened with dlopen and called directly on the
 * loop thread.
 *
 * In-process code is trusted: a crash in it is a crash of the host. The
 * isolated mode runs the same shared objects in worker processes.
 */
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <stratus.h>
#include "../telemetry/log.h"
#include "../util/buf.h"
#include "runtime.h"

#define MAX_SOURCES 64
#define COMPILER_OUTPUT_MAX 4000

extern const char stratus_h_text[];

typedef struct native_fn {
    void *dl;
    stratus_function_fn entry;
} native_fn_t;

static char include_dir[4096];

/* Write the public header where function builds can include it. */
static int write_header(const app_t *app, char *err, size_t errlen)
{
    char path[4200];
    snprintf(include_dir, sizeof include_dir, "%s/.stratus/include", app->root);
    snprintf(path, sizeof path, "%s/.stratus", app->root);
    mkdir(path, 0700);
    mkdir(include_dir, 0755);
    snprintf(path, sizeof path, "%s/stratus.h", include_dir);
    size_t len = strlen(stratus_h_text);
    FILE *f = fopen(path, "r");
    if (f) {
        char *old = malloc(len + 2);
        size_t n = old ? fread(old, 1, len + 1, f) : 0;
        fclose(f);
        int same = old && n == len && memcmp(old, stratus_h_text, len) == 0;
        free(old);
        if (same)
            return 0;
    }
    f = fopen(path, "w");
    if (!f || fwrite(stratus_h_text, 1, len, f) != len) {
        snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
        if (f)
            fclose(f);
        return -1;
    }
    fclose(f);
    return 0;
}

int native_app_start(app_t *app, uv_loop_t *loop, char *err, size_t errlen)
{
    (void)loop;
    return write_header(app, err, errlen);
}

/* Collect the folder's *.c files; return how many, and the newest mtime. */
static int find_sources(const char *dir, char **out, int max, struct timespec *newest)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    int n = 0;
    struct dirent *e;
    newest->tv_sec = 0;
    newest->tv_nsec = 0;
    while ((e = readdir(d)) && n < max) {
        size_t len = strlen(e->d_name);
        if (len < 3 || e->d_name[0] == '.' || strcmp(e->d_name + len - 2, ".c") != 0)
            continue;
        size_t plen = strlen(dir) + len + 2;
        char *p = malloc(plen);
        if (!p)
            break;
        snprintf(p, plen, "%s/%s", dir, e->d_name);
        struct stat st;
        if (stat(p, &st) != 0 || !S_ISREG(st.st_mode)) {
            free(p);
            continue;
        }
        if (st.st_mtim.tv_sec > newest->tv_sec ||
            (st.st_mtim.tv_sec == newest->tv_sec && st.st_mtim.tv_nsec > newest->tv_nsec))
            *newest = st.st_mtim;
        out[n++] = p;
    }
    closedir(d);
    return n;
}

/* Run the compiler; on failure put its output in err. */
static int compile(const function_t *fn, char **sources, int nsources, char *err, size_t errlen)
{
    const char *cc = getenv("STRATUS_CC");
    if (!cc || !*cc)
        cc = getenv("CC");
    if (!cc || !*cc)
        cc = "cc";
    size_t tlen = strlen(fn->script_file) + 32;
    char *tmp = malloc(tlen);
    if (!tmp)
        return -1;
    snprintf(tmp, tlen, "%s.tmp%d", fn->script_file, (int)getpid());

    const char *argv[MAX_SOURCES + 16];
    int argc = 0;
    argv[argc++] = cc;
    argv[argc++] = "-shared";
    argv[argc++] = "-fPIC";
    argv[argc++] = "-O2";
    argv[argc++] = "-g";
    argv[argc++] = "-Wall";
    argv[argc++] = "-I";
    argv[argc++] = include_dir;
    argv[argc++] = "-o";
    argv[argc++] = tmp;
    for (int i = 0; i < nsources; i++)
        argv[argc++] = sources[i];
    argv[argc] = NULL;

    int fds[2];
    if (pipe(fds) != 0) {
        snprintf(err, errlen, "pipe: %s", strerror(errno));
        free(tmp);
        return -1;
    }
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(err, errlen, "fork: %s", strerror(errno));
        close(fds[0]);
        close(fds[1]);
        free(tmp);
        return -1;
    }
    if (pid == 0) {
        dup2(fds[1], 1);
        dup2(fds[1], 2);
        close(fds[0]);
        close(fds[1]);
        if (chdir(fn->dir) != 0)
            _exit(127);
        execvp(cc, (char *const *)argv);
        fprintf(stderr, "cannot run the C compiler '%s': %s\n", cc, strerror(errno));
        _exit(127);
    }
    close(fds[1]);
    buf_t out;
    buf_init(&out, 1u << 20);
    char chunk[4096];
    ssize_t n;
    while ((n = read(fds[0], chunk, sizeof chunk)) != 0) {
        if (n < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        buf_append(&out, chunk, (size_t)n);
    }
    close(fds[0]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    int ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    if (ok && rename(tmp, fn->script_file) != 0) {
        snprintf(err, errlen, "cannot rename %s: %s", tmp, strerror(errno));
        ok = 0;
    }
    if (!ok) {
        unlink(tmp);
        if (!err[0]) {
            const char *text = out.p ? out.p : "";
            size_t tl = out.len;
            while (tl && (text[tl - 1] == '\n' || text[tl - 1] == ' '))
                tl--;
            if (tl > COMPILER_OUTPUT_MAX)
                tl = COMPILER_OUTPUT_MAX;
            snprintf(err, errlen, "build failed (%s exited with %d):\n%.*s", cc,
                     WIFEXITED(status) ? WEXITSTATUS(status) : -1, (int)tl, text);
        }
    } else if (out.len) {
        log_write(LOG_WARN, "Host.Build", NULL, "%s: compiler output: %s", fn->name, out.p);
    }
    buf_free(&out);
    free(tmp);
    return ok ? 0 : -1;
}

/* Build the shared object when a source is newer (or force is set and
 * there are sources). Returns 1 when it built, 0 when nothing was needed,
 * -1 on failure with err set. */
static int build_if_needed(const function_t *fn, int force, char *err, size_t errlen)
{
    char *sources[MAX_SOURCES];
    struct timespec newest;
    int n = find_sources(fn->dir, sources, MAX_SOURCES, &newest);
    int rc = 0;
    struct stat st;
    int have = stat(fn->script_file, &st) == 0;
    if (n > 0 && (force || !have || newest.tv_sec > st.st_mtim.tv_sec ||
                  (newest.tv_sec == st.st_mtim.tv_sec && newest.tv_nsec > st.st_mtim.tv_nsec))) {
        uint64_t t0 = uv_hrtime();
        rc = compile(fn, sources, n, err, errlen) == 0 ? 1 : -1;
        if (rc == 1)
            log_info("Built %s from %d source file%s in %.0f ms", fn->name, n, n == 1 ? "" : "s",
                     (double)(uv_hrtime() - t0) / 1e6);
    } else if (!have) {
        snprintf(err, errlen, "scriptFile '%s' not found and no .c sources to build it from",
                 fn->script_file);
        rc = -1;
    }
    for (int i = 0; i < n; i++)
        free(sources[i]);
    return rc;
}

/* Copy file from to a new file to (a link is not always possible). */
static int copy_file(const char *from, const char *to)
{
    int in = open(from, O_RDONLY | O_CLOEXEC);
    if (in < 0)
        return -1;
    int out = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0700);
    if (out < 0) {
        close(in);
        return -1;
    }
    char chunk[65536];
    ssize_t n;
    int rc = 0;
    while ((n = read(in, chunk, sizeof chunk)) != 0) {
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 || worker__write_all(out, chunk, (size_t)n) != 0) {
            rc = -1;
            break;
        }
    }
    close(in);
    if (close(out) != 0)
        rc = -1;
    if (rc != 0)
        unlink(to);
    return rc;
}

/* dlopen path. The dynamic loader hands back the object it already has
 * under a name, even when the file was rebuilt since (a reload): a
 * shared object already loaded under this name is opened through a
 * transient link of its own name (".<file>.<pid>.<n>", removed at once),
 * so that a new file is really loaded; an unchanged one (same inode) still
 * gives the object already there. */
static void *open_fresh(const char *path)
{
    static unsigned long seq;
    void *have = dlopen(path, RTLD_NOW | RTLD_NOLOAD);
    if (!have)
        return dlopen(path, RTLD_NOW | RTLD_LOCAL);
    dlclose(have);
    const char *slash = strrchr(path, '/');
    size_t dirlen = slash ? (size_t)(slash - path) + 1 : 0;
    size_t len = strlen(path) + 64;
    char *alias = malloc(len);
    if (!alias)
        return NULL;
    snprintf(alias, len, "%.*s.%s.%d.%lu", (int)dirlen, path, path + dirlen, (int)getpid(),
             ++seq);
    void *dl = NULL;
    if (link(path, alias) == 0 || copy_file(path, alias) == 0) {
        dl = dlopen(alias, RTLD_NOW | RTLD_LOCAL);
        unlink(alias);
    } else {
        dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    }
    free(alias);
    return dl;
}

int native_open(function_t *fn, char *err, size_t errlen)
{
    void *dl = open_fresh(fn->script_file);
    if (!dl) {
        snprintf(err, errlen, "cannot load %s: %s", fn->script_file, dlerror());
        return -1;
    }
    const int *abi = dlsym(dl, "stratus_abi_version");
    if (!abi) {
        snprintf(err, errlen, "%s was not built with stratus.h (no stratus_abi_version symbol)",
                 fn->script_file);
        dlclose(dl);
        return -1;
    }
    if (*abi != STRATUS_ABI_VERSION) {
        snprintf(err, errlen,
                 "%s was built for Stratus ABI version %d, but this host provides version %d; "
                 "rebuild it against this host's stratus.h",
                 fn->script_file, *abi, STRATUS_ABI_VERSION);
        dlclose(dl);
        return NATIVE_ABI_MISMATCH;
    }
    const char *entry = fn->entry_point ? fn->entry_point : fn->name;
    void *sym = dlsym(dl, entry);
    if (!sym) {
        snprintf(err, errlen, "entry point '%s' not found in %s", entry, fn->script_file);
        dlclose(dl);
        return -1;
    }
    native_fn_t *nf = malloc(sizeof *nf);
    if (!nf) {
        dlclose(dl);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    nf->dl = dl;
    nf->entry = (stratus_function_fn)sym;
    fn->runtime_data = nf;
    return 0;
}

int native_build(function_t *fn, char *err, size_t errlen)
{
    err[0] = '\0';
    if (!fn->script_file) {
        snprintf(err, errlen, "scriptFile is required for native functions");
        return -1;
    }
    return build_if_needed(fn, 0, err, errlen);
}

int native_call(invocation_t *inv)
{
    native_fn_t *nf = inv->fn->runtime_data;
    return nf->entry(inv);
}

static int native_load(app_t *app, function_t *fn, char *err, size_t errlen)
{
    (void)app;
    int built = native_build(fn, err, errlen);
    if (built < 0)
        return -1;
    int rc = native_open(fn, err, errlen);
    if (rc == NATIVE_ABI_MISMATCH && !built) {
        /* Built by another host version: rebuild from the sources, if any. */
        if (build_if_needed(fn, 1, err, errlen) != 1)
            return -1;
        rc = native_open(fn, err, errlen);
    }
    return rc == 0 ? 0 : -1;
}

static void native_invoke(invocation_t *inv, invocation_done_fn done, void *data)
{
    int rc = native_call(inv);
    if (rc == 0) {
        done(inv, 1, NULL, data);
        return;
    }
    char reason[64];
    snprintf(reason, sizeof reason, "function returned %d", rc);
    inv->user_error = 1;
    done(inv, 0, reason, data);
}

void native_close(function_t *fn)
{
    native_fn_t *nf = fn->runtime_data;
    if (!nf)
        return;
    /* Keep the code mapped: under leak checkers a dlclose'd object makes
     * reports unreadable, and the process is about to end anyway. */
    free(nf);
    fn->runtime_data = NULL;
}

const runtime_t runtime_native = {
    .version = RUNTIME_VERSION,
    .name = "native",
    .app_start = native_app_start,
    .load = native_load,
    .invoke = native_invoke,
    .unload = native_close,
};
