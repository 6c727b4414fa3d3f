/*
 * dirwatch.c -- a recursive folder watcher on raw inotify, driven by a
 * uv_poll_t on the inotify descriptor, and the synchronous tree walk that
 * both the watcher (adding watches) and dirwatch_scan() use. The rules are
 * in dirwatch.h.
 */
#include "dirwatch.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#define WATCH_MASK                                                                          \
    (IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_CREATE | IN_DELETE | IN_DELETE_SELF | \
     IN_MOVE_SELF | IN_ONLYDIR | IN_DONT_FOLLOW | IN_EXCL_UNLINK)

#define READ_BUF (64 * 1024)

__attribute__((format(printf, 3, 4))) static int fail(char *err, size_t errlen, const char *fmt,
                                                      ...)
{
    va_list ap;
    if (!err || !errlen)
        return -1;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

/* ---- walking ---- */

typedef struct walker walker_t;
struct walker {
    char path[PATH_MAX]; /* root, then "/rel" while below it */
    size_t rootlen;
    /* Before a folder is listed; -1 skips its contents. */
    int (*on_dir)(walker_t *wk, const char *rel);
    /* For each regular file; nonzero stops the walk (and is returned). */
    int (*on_file)(walker_t *wk, const char *rel, const struct stat *st);
    void *ctx;
    const char *const *dot_names; /* names starting with '.' walked all the same */
    char err[2 * PATH_MAX]; /* the first error */
    int errors;
};

static void walk_error(walker_t *wk, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void walk_error(walker_t *wk, const char *fmt, ...)
{
    va_list ap;
    if (wk->errors++)
        return;
    va_start(ap, fmt);
    vsnprintf(wk->err, sizeof wk->err, fmt, ap);
    va_end(ap);
}

static const char *walk_rel(const walker_t *wk, size_t len)
{
    return len == wk->rootlen ? "" : wk->path + wk->rootlen + 1;
}

static int name_cmp(const struct dirent **a, const struct dirent **b)
{
    return strcmp((*a)->d_name, (*b)->d_name);
}

/* A name not to watch or walk: "." and "..", and names starting with '.'
 * other than those in dot_names. */
static int hidden(const char *name, const char *const *dot_names)
{
    if (name[0] != '.')
        return 0;
    for (size_t i = 0; dot_names && dot_names[i]; i++)
        if (!strcmp(name, dot_names[i]))
            return 0;
    return 1;
}

/* Walk the folder whose path is wk->path[0..len). */
static int walk(walker_t *wk, size_t len)
{
    struct dirent **list;
    int stop = 0;

    if (wk->on_dir && wk->on_dir(wk, walk_rel(wk, len)) < 0)
        return 0;
    int n = scandir(wk->path, &list, NULL, name_cmp);
    if (n < 0) {
        if (errno != ENOENT && errno != ENOTDIR) /* gone meanwhile: nothing to see */
            walk_error(wk, "cannot read folder '%s': %s", wk->path, strerror(errno));
        return 0;
    }
    for (int i = 0; i < n; i++) {
        const char *name = list[i]->d_name;
        size_t nl = strlen(name);
        struct stat st;
        if (hidden(name, wk->dot_names)) {
            /* not walked */
        } else if (!stop && len + 1 + nl >= sizeof wk->path) {
            walk_error(wk, "path too long under '%s': '%s'", wk->path, name);
        } else if (!stop) {
            wk->path[len] = '/';
            memcpy(wk->path + len + 1, name, nl + 1);
            if (lstat(wk->path, &st) == 0) {
                if (S_ISDIR(st.st_mode))
                    stop = walk(wk, len + 1 + nl);
                else if (S_ISREG(st.st_mode) && wk->on_file)
                    stop = wk->on_file(wk, walk_rel(wk, len + 1 + nl), &st);
            }
            wk->path[len] = '\0';
        }
        free(list[i]);
    }
    free(list);
    return stop;
}

/* Set up wk for root; -1 with a message when root is too long. */
static int walk_init(walker_t *wk, const char *root, char *err, size_t errlen)
{
    size_t n = strlen(root);
    while (n > 1 && root[n - 1] == '/')
        n--;
    memset(wk, 0, sizeof *wk);
    if (n == 0 || n >= sizeof wk->path - 1)
        return fail(err, errlen, "folder '%s': the path is %s", root, n ? "too long" : "empty");
    memcpy(wk->path, root, n);
    wk->path[n] = '\0';
    wk->rootlen = n;
    return 0;
}

/* 0 when path is a folder, else -1 with a message. */
static int check_folder(const char *path, char *err, size_t errlen)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return fail(err, errlen, "folder '%s': %s", path, strerror(errno));
    if (!S_ISDIR(st.st_mode))
        return fail(err, errlen, "folder '%s': not a folder", path);
    return 0;
}

typedef struct scan_ctx {
    dirwatch_scan_cb cb;
    void *data;
} scan_ctx_t;

static int scan_file(walker_t *wk, const char *rel, const struct stat *st)
{
    scan_ctx_t *sc = wk->ctx;
    int64_t ms = (int64_t)st->st_mtim.tv_sec * 1000 + st->st_mtim.tv_nsec / 1000000;
    return sc->cb(sc->data, rel, (uint64_t)st->st_size, ms);
}

int dirwatch_scan(const char *root, dirwatch_scan_cb cb, void *data, char *err, size_t errlen)
{
    walker_t *wk = malloc(sizeof *wk);
    scan_ctx_t sc = {cb, data};
    int rc;

    if (!wk)
        return fail(err, errlen, "out of memory");
    if (walk_init(wk, root, err, errlen) < 0) {
        free(wk);
        return -1;
    }
    if (check_folder(wk->path, err, errlen) < 0) {
        free(wk);
        return -1;
    }
    wk->on_file = scan_file;
    wk->ctx = &sc;
    rc = walk(wk, wk->rootlen);
    if (rc == 0 && wk->errors)
        rc = fail(err, errlen, "%s%s", wk->err,
                  wk->errors > 1 ? " (and more folders could not be read)" : "");
    free(wk);
    return rc;
}

/* ---- the watch table: wd -> folder relative to the root ---- */

typedef struct watch {
    int wd;
    char *rel;
    struct watch *next;
} watch_t;

struct dirwatch {
    uv_poll_t poll;
    int fd;
    int root_wd;
    int stopping;
    int root_gone; /* the root was deleted or moved: nothing more to report */
    dirwatch_cb cb;
    void *data;
    dirwatch_stop_cb stopped;
    dirwatch_opts_t opts;
    watch_t **tab;
    size_t nbuckets, count;
    walker_t wk;     /* adding watches below a folder */
    int reporting;   /* the walk reports files (a new folder) */
    int removals;    /* report DIRWATCH_REMOVED (dirwatch_report_removals) */
    char root[PATH_MAX];
    char path[PATH_MAX]; /* scratch for one event's path */
    char msg[2 * PATH_MAX + 64];
    _Alignas(struct inotify_event) char buf[READ_BUF];
};

static watch_t **slot(dirwatch_t *w, int wd)
{
    watch_t **s = &w->tab[(unsigned)wd % w->nbuckets];
    while (*s && (*s)->wd != wd)
        s = &(*s)->next;
    return s;
}

static int table_grow(dirwatch_t *w)
{
    size_t nb = w->nbuckets ? w->nbuckets * 2 : 64;
    watch_t **tab = calloc(nb, sizeof *tab);
    if (!tab)
        return -1;
    for (size_t i = 0; i < w->nbuckets; i++) {
        for (watch_t *e = w->tab[i], *next; e; e = next) {
            next = e->next;
            e->next = tab[(unsigned)e->wd % nb];
            tab[(unsigned)e->wd % nb] = e;
        }
    }
    free(w->tab);
    w->tab = tab;
    w->nbuckets = nb;
    return 0;
}

/* Remember that wd watches rel (replacing what it watched before). */
static int table_set(dirwatch_t *w, int wd, const char *rel)
{
    char *copy = strdup(rel);
    if (!copy)
        return -1;
    watch_t **s = slot(w, wd);
    if (*s) {
        free((*s)->rel);
        (*s)->rel = copy;
        return 0;
    }
    if (w->count >= w->nbuckets && table_grow(w) < 0) {
        free(copy);
        return -1;
    }
    s = slot(w, wd);
    watch_t *e = malloc(sizeof *e);
    if (!e) {
        free(copy);
        return -1;
    }
    *e = (watch_t){wd, copy, NULL};
    *s = e;
    w->count++;
    return 0;
}

static void table_del(dirwatch_t *w, watch_t **s)
{
    watch_t *e = *s;
    *s = e->next;
    free(e->rel);
    free(e);
    w->count--;
}

/* Drop the watches of rel and of every folder below it. */
static void drop_tree(dirwatch_t *w, const char *rel)
{
    size_t n = strlen(rel);
    for (size_t i = 0; i < w->nbuckets; i++) {
        watch_t **s = &w->tab[i];
        while (*s) {
            const char *r = (*s)->rel;
            if (strncmp(r, rel, n) == 0 && (r[n] == '\0' || r[n] == '/')) {
                inotify_rm_watch(w->fd, (*s)->wd);
                table_del(w, s);
            } else {
                s = &(*s)->next;
            }
        }
    }
}

/* ---- events ---- */

static void emit(dirwatch_t *w, dirwatch_kind_t kind, const char *path, const char *message)
{
    dirwatch_event_t ev = {kind, path, message, 0, 0, 0};
    if (!w->stopping)
        w->cb(w, &ev, w->data);
}

static void emit_removed(dirwatch_t *w, const char *path, int dir, int moved)
{
    dirwatch_event_t ev = {DIRWATCH_REMOVED, path, NULL, 0, dir, moved};
    if (!w->stopping)
        w->cb(w, &ev, w->data);
}

static int watch_dir(walker_t *wk, const char *rel)
{
    dirwatch_t *w = wk->ctx;
    if (rel[0] && w->opts.skip && w->opts.skip(w->data, rel))
        return -1; /* not watched, nor anything below it */
    int wd = inotify_add_watch(w->fd, wk->path, WATCH_MASK);
    if (wd < 0) {
        if (errno == ENOENT || errno == ENOTDIR)
            return -1; /* gone meanwhile */
        if (errno == ENOSPC)
            walk_error(wk,
                       "cannot watch folder '%s': the inotify watch limit is reached (%zu "
                       "folders watched; raise fs.inotify.max_user_watches, e.g. sysctl "
                       "fs.inotify.max_user_watches=524288)",
                       wk->path, w->count);
        else
            walk_error(wk, "cannot watch folder '%s': inotify_add_watch: %s", wk->path,
                       strerror(errno));
        return -1;
    }
    if (table_set(w, wd, rel) < 0) {
        inotify_rm_watch(w->fd, wd);
        walk_error(wk, "cannot watch folder '%s': out of memory", wk->path);
        return -1;
    }
    return 0;
}

static int report_file(walker_t *wk, const char *rel, const struct stat *st)
{
    dirwatch_t *w = wk->ctx;
    if (w->reporting && !w->stopping) {
        dirwatch_event_t ev = {DIRWATCH_FILE, rel, NULL, 1, 0, 0};
        w->cb(w, &ev, w->data);
    }
    return w->stopping;
}

/* Watch the folder rel (relative to the root) and all below it; report
 * the files found when report is set. Errors become DIRWATCH_ERROR. */
static void add_tree(dirwatch_t *w, const char *rel, int report)
{
    walker_t *wk = &w->wk;
    size_t rl = strlen(w->root), n = strlen(rel);
    if (rl + 1 + n >= sizeof wk->path) {
        snprintf(w->msg, sizeof w->msg, "cannot watch folder '%s/%.200s...': path too long",
                 w->root, rel);
        emit(w, DIRWATCH_ERROR, NULL, w->msg);
        return;
    }
    wk->rootlen = rl;
    memcpy(wk->path, w->root, rl);
    wk->path[rl] = '\0';
    size_t len = rl;
    if (n) {
        /* the walker reads rel from path + rootlen + 1 */
        wk->path[rl] = '/';
        memcpy(wk->path + rl + 1, rel, n + 1);
        len = rl + 1 + n;
    }
    wk->errors = 0;
    wk->err[0] = '\0';
    w->reporting = report;
    walk(wk, len);
    if (wk->errors) {
        snprintf(w->msg, sizeof w->msg, "%s%s", wk->err,
                 wk->errors > 1 ? " (and more folders are not watched)" : "");
        emit(w, DIRWATCH_ERROR, NULL, w->msg);
    }
}

static void handle(dirwatch_t *w, const struct inotify_event *ev)
{
    if (ev->mask & IN_Q_OVERFLOW) {
        add_tree(w, "", 0); /* folders whose creation was lost */
        emit(w, DIRWATCH_OVERFLOW, NULL, NULL);
        return;
    }
    watch_t **s = slot(w, ev->wd);
    if (!*s || w->root_gone)
        return; /* a watch already dropped */
    if (ev->wd == w->root_wd && (ev->mask & (IN_IGNORED | IN_DELETE_SELF | IN_MOVE_SELF))) {
        w->root_gone = 1;
        snprintf(w->msg, sizeof w->msg,
                 "folder '%s' was deleted or moved: it is no longer watched", w->root);
        emit(w, DIRWATCH_ERROR, NULL, w->msg);
        return;
    }
    if (ev->mask & IN_IGNORED) {
        table_del(w, s);
        return;
    }
    if (!ev->len || !ev->name[0] || hidden(ev->name, w->opts.dot_names))
        return; /* events of the folder itself, or a name to ignore */

    const char *dir = (*s)->rel;
    int k = dir[0] ? snprintf(w->path, sizeof w->path, "%s/%s", dir, ev->name)
                   : snprintf(w->path, sizeof w->path, "%s", ev->name);
    if (k < 0 || (size_t)k >= sizeof w->path)
        return;
    if (w->removals && (ev->mask & (IN_DELETE | IN_MOVED_FROM)))
        emit_removed(w, w->path, (ev->mask & IN_ISDIR) != 0, (ev->mask & IN_MOVED_FROM) != 0);
    if (w->stopping)
        return;
    if (ev->mask & IN_ISDIR) {
        if (ev->mask & IN_MOVED_FROM)
            drop_tree(w, w->path);
        else if (ev->mask & (IN_CREATE | IN_MOVED_TO))
            add_tree(w, w->path, 1);
        return;
    }
    if (ev->mask & (IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE)) {
        char full[PATH_MAX];
        struct stat st;
        k = snprintf(full, sizeof full, "%s/%s", w->root, w->path);
        if (k <= 0 || (size_t)k >= sizeof full || lstat(full, &st) != 0 || !S_ISREG(st.st_mode))
            return;
        /* A name created for a file that has other links is a hard link to
         * a complete file (ln, cp -l, cargo's build outputs); any other new
         * file is reported when its writer closes it. */
        if ((ev->mask & IN_CREATE) && st.st_nlink < 2)
            return;
        emit(w, DIRWATCH_FILE, w->path, NULL);
    }
}

static void poll_cb(uv_poll_t *h, int status, int events)
{
    dirwatch_t *w = h->data;
    /* A bounded number of reads per turn, so that a busy tree does not
     * starve the loop; the poll calls again while events remain. */
    for (int reads = 0; reads < 16 && !w->stopping; reads++) {
        ssize_t n = read(w->fd, w->buf, sizeof w->buf);
        if (n <= 0) {
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0 && errno != EAGAIN) {
                snprintf(w->msg, sizeof w->msg, "folder '%s': reading inotify events: %s",
                         w->root, strerror(errno));
                emit(w, DIRWATCH_ERROR, NULL, w->msg);
            }
            return;
        }
        for (char *p = w->buf; p < w->buf + n && !w->stopping;) {
            const struct inotify_event *ev = (const struct inotify_event *)p;
            handle(w, ev);
            p += sizeof *ev + ev->len;
        }
    }
}

static void free_watcher(dirwatch_t *w)
{
    for (size_t i = 0; i < w->nbuckets; i++)
        while (w->tab[i])
            table_del(w, &w->tab[i]);
    free(w->tab);
    if (w->fd >= 0)
        close(w->fd);
    free(w);
}

int dirwatch_start(uv_loop_t *loop, const char *root, dirwatch_cb cb, void *data,
                   dirwatch_t **out, char *err, size_t errlen)
{
    return dirwatch_start_opts(loop, root, NULL, cb, data, out, err, errlen);
}

int dirwatch_start_opts(uv_loop_t *loop, const char *root, const dirwatch_opts_t *opts,
                        dirwatch_cb cb, void *data, dirwatch_t **out, char *err,
                        size_t errlen)
{
    *out = NULL;
    dirwatch_t *w = calloc(1, sizeof *w);
    if (!w)
        return fail(err, errlen, "out of memory");
    w->fd = -1;
    w->cb = cb;
    w->data = data;
    if (opts)
        w->opts = *opts;
    if (walk_init(&w->wk, root, err, errlen) < 0) {
        free_watcher(w);
        return -1;
    }
    w->wk.ctx = w;
    w->wk.dot_names = w->opts.dot_names;
    w->wk.on_dir = watch_dir;
    w->wk.on_file = report_file;
    memcpy(w->root, w->wk.path, w->wk.rootlen + 1);
    if (check_folder(w->root, err, errlen) < 0) {
        free_watcher(w);
        return -1;
    }
    w->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (w->fd < 0) {
        fail(err, errlen, "folder '%s': inotify_init1: %s%s", w->root, strerror(errno),
             errno == EMFILE ? " (raise fs.inotify.max_user_instances)" : "");
        free_watcher(w);
        return -1;
    }
    if (table_grow(w) < 0) {
        free_watcher(w);
        return fail(err, errlen, "out of memory");
    }
    w->reporting = 0;
    w->wk.errors = 0;
    walk(&w->wk, w->wk.rootlen);
    if (w->wk.errors) {
        fail(err, errlen, "%s", w->wk.err);
        free_watcher(w);
        return -1;
    }
    w->root_wd = inotify_add_watch(w->fd, w->root, WATCH_MASK); /* already watched: its wd */
    int rc = uv_poll_init(loop, &w->poll, w->fd);
    if (rc != 0) {
        fail(err, errlen, "folder '%s': uv_poll_init: %s", w->root, uv_strerror(rc));
        free_watcher(w);
        return -1;
    }
    w->poll.data = w;
    rc = uv_poll_start(&w->poll, UV_READABLE, poll_cb);
    if (rc != 0) {
        fail(err, errlen, "folder '%s': uv_poll_start: %s", w->root, uv_strerror(rc));
        dirwatch_stop(w, NULL); /* freed once the handle is closed */
        return -1;
    }
    *out = w;
    return 0;
}

size_t dirwatch_count(const dirwatch_t *w) { return w->count; }

void dirwatch_report_removals(dirwatch_t *w, int on) { w->removals = on; }

static void close_cb(uv_handle_t *h)
{
    dirwatch_t *w = h->data;
    dirwatch_stop_cb stopped = w->stopped;
    void *data = w->data;
    free_watcher(w);
    if (stopped)
        stopped(data);
}

void dirwatch_stop(dirwatch_t *w, dirwatch_stop_cb stopped)
{
    w->stopping = 1;
    w->stopped = stopped;
    uv_close((uv_handle_t *)&w->poll, close_cb);
}
