/*
 * interp.c -- what the interpreter runtimes (python.c, node.c) share:
 * finding the interpreter, and writing the worker shim the binary carries
 * (embedded.h) next to the app, where the interpreter can run it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "embedded.h"
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
