/*
 * blobdir.c -- blob containers as folders (see blobdir.h): name checks,
 * listing, reading, atomic writes and deletes.
 */
#include "blobdir.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../util/blobpath.h"
#include "../util/cron.h"

#define WALK_MAX 100000       /* entries gathered before sorting a list */
#define TMP_BASE_MAX 200      /* bytes of the blob's file name kept in a temporary name */

/* ---- paths ---- */

static int io_fail(char *err, size_t errlen, const char *call, const char *path)
{
    int e = errno;
    snprintf(err, errlen, "%s %s: %s", call, path, strerror(e));
    return BLOBDIR_EIO;
}

/* root/container[/name] into out, after checking the names. */
static int blob_path(const char *root, const char *container, const char *name, char *out,
                     size_t outlen, char *err, size_t errlen)
{
    if (blobpath_container_check(container, err, errlen) != 0 ||
        (name && blobpath_name_check(name, err, errlen) != 0))
        return BLOBDIR_EINVAL;
    int n = name ? snprintf(out, outlen, "%s/%s/%s", root, container, name)
                 : snprintf(out, outlen, "%s/%s", root, container);
    if (n < 0 || (size_t)n >= outlen) {
        snprintf(err, errlen, "the path of blob '%s/%s' under %s is too long", container,
                 name ? name : "", root);
        return BLOBDIR_EINVAL;
    }
    return BLOBDIR_OK;
}

static json_t *iso_time(const struct timespec *ts)
{
    char t[64];
    int64_t ms = (int64_t)ts->tv_sec * 1000 + ts->tv_nsec / 1000000;
    if (cron_time_format(ms, 0, CRON_TIME_UTC_MS, t, sizeof t) < 0)
        return json_null();
    return json_string(t);
}

/* ---- listing ---- */

int blobdir_containers(const char *root, json_t **out, char *err, size_t errlen)
{
    *out = NULL;
    json_t *arr = json_array();
    if (!arr) {
        snprintf(err, errlen, "out of memory");
        return BLOBDIR_EIO;
    }
    DIR *d = opendir(root);
    if (!d) {
        if (errno == ENOENT) {
            *out = arr;
            return BLOBDIR_OK;
        }
        json_decref(arr);
        return io_fail(err, errlen, "opendir", root);
    }
    struct dirent *e;
    char path[PATH_MAX], ignored[256];
    while ((e = readdir(d))) {
        struct stat st;
        if (blobpath_container_check(e->d_name, ignored, sizeof ignored) != 0)
            continue;
        int n = snprintf(path, sizeof path, "%s/%s", root, e->d_name);
        if (n < 0 || (size_t)n >= sizeof path || stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
            continue;
        json_array_append_new(arr, json_pack("{s:s, s:o}", "name", e->d_name, "lastModified",
                                             iso_time(&st.st_mtim)));
    }
    closedir(d);
    /* By name: a simple insertion sort, containers are few. */
    for (size_t i = 1; i < json_array_size(arr); i++)
        for (size_t j = i; j > 0; j--) {
            json_t *a = json_array_get(arr, j - 1), *b = json_array_get(arr, j);
            if (strcmp(json_string_value(json_object_get(a, "name")),
                       json_string_value(json_object_get(b, "name"))) <= 0)
                break;
            json_incref(a);
            json_array_set(arr, j - 1, b);
            json_array_set_new(arr, j, a);
        }
    *out = arr;
    return BLOBDIR_OK;
}

typedef struct walk {
    char path[PATH_MAX]; /* the container's folder, then the current file */
    size_t base;         /* length of the container's folder and its '/' */
    const char *prefix;
    size_t prefix_len;
    json_t **items; /* gathered blobs (name, length, lastModified) */
    size_t n, cap;
    int overflow;
    char *err;
    size_t errlen;
} walk_t;

static int walk_add(walk_t *w, const char *name, const struct stat *st)
{
    if (w->n == WALK_MAX) {
        w->overflow = 1;
        return 0;
    }
    if (w->n == w->cap) {
        size_t cap = w->cap ? w->cap * 2 : 64;
        json_t **grown = realloc(w->items, cap * sizeof *grown);
        if (!grown)
            return -1;
        w->items = grown;
        w->cap = cap;
    }
    json_t *j = json_pack("{s:s, s:I, s:o}", "name", name, "length", (json_int_t)st->st_size,
                          "lastModified", iso_time(&st->st_mtim));
    if (!j)
        return -1;
    w->items[w->n++] = j;
    return 0;
}

/* Walk the folder at w->path (length len) recursively. */
static int walk_dir(walk_t *w, size_t len, int depth)
{
    DIR *d = opendir(w->path);
    if (!d)
        return errno == ENOENT ? 0 : io_fail(w->err, w->errlen, "opendir", w->path);
    struct dirent *e;
    int rc = 0;
    while (rc == 0 && (e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue; /* ".", "..", files being written, hidden files */
        size_t nl = strlen(e->d_name);
        if (len + 1 + nl >= sizeof w->path)
            continue;
        w->path[len] = '/';
        memcpy(w->path + len + 1, e->d_name, nl + 1);
        const char *name = w->path + w->base;
        size_t name_len = len + 1 + nl - w->base;
        struct stat st;
        if (lstat(w->path, &st) != 0)
            continue; /* removed meanwhile */
        /* Skip subtrees that cannot hold a name with the prefix. */
        size_t cmp = name_len < w->prefix_len ? name_len : w->prefix_len;
        if (memcmp(name, w->prefix, cmp) != 0)
            continue;
        if (S_ISDIR(st.st_mode)) {
            if (depth < 64)
                rc = walk_dir(w, len + 1 + nl, depth + 1);
        } else if (S_ISREG(st.st_mode) && name_len >= w->prefix_len) {
            char ignored[256];
            if (blobpath_name_check(name, ignored, sizeof ignored) == 0 &&
                walk_add(w, name, &st) != 0) {
                snprintf(w->err, w->errlen, "out of memory");
                rc = BLOBDIR_EIO;
            }
        }
        w->path[len] = '\0';
    }
    closedir(d);
    return rc;
}

static int by_name(const void *a, const void *b)
{
    json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
    return strcmp(json_string_value(json_object_get(x, "name")),
                  json_string_value(json_object_get(y, "name")));
}

int blobdir_list(const char *root, const char *container, const char *prefix, json_t **out,
                 int *truncated, char *err, size_t errlen)
{
    *out = NULL;
    *truncated = 0;
    walk_t *w = calloc(1, sizeof *w);
    if (!w) {
        snprintf(err, errlen, "out of memory");
        return BLOBDIR_EIO;
    }
    int rc = blob_path(root, container, NULL, w->path, sizeof w->path, err, errlen);
    struct stat st;
    if (rc == BLOBDIR_OK && (stat(w->path, &st) != 0 || !S_ISDIR(st.st_mode))) {
        snprintf(err, errlen, "no container named '%s'", container);
        rc = BLOBDIR_ENOTFOUND;
    }
    if (rc != BLOBDIR_OK) {
        free(w);
        return rc;
    }
    w->base = strlen(w->path) + 1;
    w->prefix = prefix ? prefix : "";
    w->prefix_len = strlen(w->prefix);
    w->err = err;
    w->errlen = errlen;
    rc = walk_dir(w, w->base - 1, 0);
    json_t *arr = rc == 0 ? json_array() : NULL;
    if (rc == 0 && !arr) {
        snprintf(err, errlen, "out of memory");
        rc = BLOBDIR_EIO;
    }
    if (rc == 0) {
        if (w->n)
            qsort(w->items, w->n, sizeof *w->items, by_name);
        for (size_t i = 0; i < w->n && i < BLOBDIR_LIST_MAX; i++)
            json_array_append(arr, w->items[i]);
        *truncated = w->overflow || w->n > BLOBDIR_LIST_MAX;
        *out = arr;
    }
    for (size_t i = 0; i < w->n; i++)
        json_decref(w->items[i]);
    free(w->items);
    free(w);
    return rc;
}

/* ---- one blob ---- */

int blobdir_read(const char *root, const char *container, const char *name, buf_t *out,
                 size_t max, char *err, size_t errlen)
{
    return blobdir_read_stat(root, container, name, out, max, NULL, err, errlen);
}

int blobdir_read_stat(const char *root, const char *container, const char *name, buf_t *out,
                      size_t max, struct stat *st_out, char *err, size_t errlen)
{
    char path[PATH_MAX];
    int rc = blob_path(root, container, name, path, sizeof path, err, errlen);
    if (rc != BLOBDIR_OK)
        return rc;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    struct stat st;
    if (fd < 0 && (errno == ENOENT || errno == ENOTDIR || errno == ELOOP)) {
        snprintf(err, errlen, "no blob named '%s' in container '%s'", name, container);
        return BLOBDIR_ENOTFOUND;
    }
    if (fd < 0)
        return io_fail(err, errlen, "open", path);
    if (fstat(fd, &st) != 0) {
        rc = io_fail(err, errlen, "fstat", path);
    } else if (!S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "no blob named '%s' in container '%s' ('%s' is a folder)", name,
                 container, name);
        rc = BLOBDIR_ENOTFOUND;
    } else if ((uint64_t)st.st_size > max) {
        snprintf(err, errlen, "blob '%s/%s' has %lld bytes, more than the %zu allowed here",
                 container, name, (long long)st.st_size, max);
        rc = BLOBDIR_E2BIG;
    }
    char chunk[65536];
    while (rc == BLOBDIR_OK) {
        ssize_t n = read(fd, chunk, sizeof chunk);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = io_fail(err, errlen, "read", path);
            break;
        }
        if (n == 0)
            break;
        if (buf_append(out, chunk, (size_t)n) != 0) {
            snprintf(err, errlen, "blob '%s/%s' grew past %zu bytes while being read", container,
                     name, max);
            rc = BLOBDIR_E2BIG;
        }
    }
    close(fd);
    if (rc == BLOBDIR_OK && st_out)
        *st_out = st;
    return rc;
}

/* Create the folders of path up to (not including) its last component
 * (the blob root's own folders too). */
static int make_parents(char *path, char *err, size_t errlen)
{
    for (char *p = path + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        struct stat st;
        int rc = BLOBDIR_OK;
        if (mkdir(path, 0755) != 0 && errno != EEXIST)
            rc = errno == ENOTDIR ? BLOBDIR_ECONFLICT : io_fail(err, errlen, "mkdir", path);
        else if (stat(path, &st) != 0)
            rc = io_fail(err, errlen, "stat", path);
        else if (!S_ISDIR(st.st_mode))
            rc = BLOBDIR_ECONFLICT;
        if (rc == BLOBDIR_ECONFLICT)
            snprintf(err, errlen, "%s is a file, not a folder", path);
        *p = '/';
        if (rc != BLOBDIR_OK)
            return rc;
    }
    return BLOBDIR_OK;
}

static int write_all(int fd, const unsigned char *p, size_t len)
{
    while (len) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int blobdir_write(const char *root, const char *container, const char *name, const void *data,
                  size_t len, int *created, char *err, size_t errlen)
{
    char path[PATH_MAX], tmp[PATH_MAX];
    int rc = blob_path(root, container, name, path, sizeof path, err, errlen);
    if (rc != BLOBDIR_OK)
        return rc;
    if ((rc = make_parents(path, err, errlen)) != BLOBDIR_OK) {
        if (rc == BLOBDIR_ECONFLICT)
            snprintf(err, errlen, "cannot write blob '%s/%s': a part of its name is a blob, "
                     "not a folder", container, name);
        return rc;
    }
    struct stat st;
    int exists = lstat(path, &st) == 0;
    if (exists && S_ISDIR(st.st_mode)) {
        snprintf(err, errlen, "cannot write blob '%s/%s': it is a folder of other blobs",
                 container, name);
        return BLOBDIR_ECONFLICT;
    }
    unsigned char rnd[6];
    if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd)
        return io_fail(err, errlen, "getrandom", "for a temporary name");
    const char *slash = strrchr(path, '/');
    size_t dir_len = (size_t)(slash - path);
    int n = snprintf(tmp, sizeof tmp, "%.*s/.%.*s.tmp-%02x%02x%02x%02x%02x%02x", (int)dir_len,
                     path, TMP_BASE_MAX, slash + 1, rnd[0], rnd[1], rnd[2], rnd[3], rnd[4],
                     rnd[5]);
    if (n < 0 || (size_t)n >= sizeof tmp) {
        snprintf(err, errlen, "the path of blob '%s/%s' is too long", container, name);
        return BLOBDIR_EINVAL;
    }
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0)
        return io_fail(err, errlen, "open", tmp);
    if (write_all(fd, data, len) != 0)
        rc = io_fail(err, errlen, "write", tmp);
    else if (fsync(fd) != 0)
        rc = io_fail(err, errlen, "fsync", tmp);
    if (close(fd) != 0 && rc == BLOBDIR_OK)
        rc = io_fail(err, errlen, "close", tmp);
    if (rc == BLOBDIR_OK && rename(tmp, path) != 0)
        rc = io_fail(err, errlen, "rename", tmp);
    if (rc != BLOBDIR_OK) {
        unlink(tmp);
        return rc;
    }
    /* Make the rename itself durable. */
    tmp[dir_len] = '\0';
    int dfd = open(tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    if (created)
        *created = !exists;
    return BLOBDIR_OK;
}

int blobdir_delete(const char *root, const char *container, const char *name, char *err,
                   size_t errlen)
{
    char path[PATH_MAX];
    int rc = blob_path(root, container, name, path, sizeof path, err, errlen);
    if (rc != BLOBDIR_OK)
        return rc;
    struct stat st;
    int missing = lstat(path, &st) != 0;
    if (missing && errno != ENOENT && errno != ENOTDIR)
        return io_fail(err, errlen, "lstat", path);
    if (missing || S_ISDIR(st.st_mode)) {
        snprintf(err, errlen, "no blob named '%s' in container '%s'", name, container);
        return BLOBDIR_ENOTFOUND;
    }
    if (unlink(path) != 0) {
        if (errno == ENOENT) {
            snprintf(err, errlen, "no blob named '%s' in container '%s'", name, container);
            return BLOBDIR_ENOTFOUND;
        }
        return io_fail(err, errlen, "unlink", path);
    }
    /* Folders of the name left empty go too; rmdir refuses non-empty ones. */
    size_t keep = strlen(root) + 1 + strlen(container);
    for (char *s = strrchr(path, '/'); s && (size_t)(s - path) > keep; s = strrchr(path, '/')) {
        *s = '\0';
        if (rmdir(path) != 0)
            break;
    }
    return BLOBDIR_OK;
}
