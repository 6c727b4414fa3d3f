/*
 * test_dirwatch.c -- unit tests for the folder watcher and the tree walk
 * (src/util/dirwatch.c) on a real loop and real files in a temporary
 * folder. Inotify queues events when the file system calls return, in
 * order, so "not reported" is checked by writing a later sentinel file and
 * waiting for it: whatever was not reported before it never will be.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#include "../../src/util/dirwatch.h"
#include "test.h"

#define MAX_EVENTS 20000
#define WAIT_MS 30000 /* a guard against hanging, not a timing assertion */

typedef struct ctx {
    uv_loop_t loop;
    dirwatch_t *w;
    char root[256];
    char *events[MAX_EVENTS];
    int n;
    int stop_after; /* stop the watcher from the callback after this many events */
    int flags;      /* removals show " dir" and " moved" */
    int stopped;
    int timed_out;
} ctx_t;

static void on_event(dirwatch_t *w, const dirwatch_event_t *ev, void *data)
{
    ctx_t *c = data;
    char line[8300];
    if (ev->kind == DIRWATCH_FILE)
        snprintf(line, sizeof line, "F:%s", ev->path);
    else if (ev->kind == DIRWATCH_OVERFLOW)
        snprintf(line, sizeof line, "OVERFLOW");
    else if (ev->kind == DIRWATCH_REMOVED)
        snprintf(line, sizeof line, "R:%s%s%s", ev->path, c->flags && ev->dir ? " dir" : "",
                 c->flags && ev->moved ? " moved" : "");
    else
        snprintf(line, sizeof line, "E:%s", ev->message);
    if (c->n < MAX_EVENTS)
        c->events[c->n++] = strdup(line);
    if (ev->kind == DIRWATCH_FILE && ev->found && c->n < MAX_EVENTS) {
        snprintf(line, sizeof line, "FOUND:%s", ev->path); /* besides its F: line */
        c->events[c->n++] = strdup(line);
    }
    if (c->stop_after && c->n == c->stop_after) {
        dirwatch_stop(w, NULL);
        c->w = NULL;
    }
}

static int count(ctx_t *c, const char *ev)
{
    int k = 0;
    for (int i = 0; i < c->n; i++)
        k += strcmp(c->events[i], ev) == 0;
    return k;
}

static int count_prefix(ctx_t *c, const char *prefix)
{
    int k = 0;
    for (int i = 0; i < c->n; i++)
        k += strncmp(c->events[i], prefix, strlen(prefix)) == 0;
    return k;
}

static void timeout_cb(uv_timer_t *t)
{
    ctx_t *c = t->data;
    c->timed_out = 1;
}

/* Run the loop until event ev (or, with prefix set, an event starting
 * with ev) has been seen, or the guard runs out. */
static int seen(ctx_t *c, const char *ev, int prefix)
{
    return prefix ? count_prefix(c, ev) : count(c, ev);
}

static int run_until_seen(ctx_t *c, const char *ev, int prefix)
{
    uv_timer_t t;
    uv_timer_init(&c->loop, &t);
    t.data = c;
    c->timed_out = 0;
    uv_timer_start(&t, timeout_cb, WAIT_MS, 0);
    while (!seen(c, ev, prefix) && !c->timed_out)
        uv_run(&c->loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&t, NULL);
    uv_run(&c->loop, UV_RUN_NOWAIT);
    if (!seen(c, ev, prefix))
        fprintf(stderr, "never saw %s\n", ev);
    return seen(c, ev, prefix) > 0;
}

static int run_until(ctx_t *c, const char *ev) { return run_until_seen(c, ev, 0); }

static void path_of(ctx_t *c, const char *rel, char *out, size_t n)
{
    snprintf(out, n, "%s/%s", c->root, rel);
}

static int write_file(ctx_t *c, const char *rel, const char *text)
{
    char p[512];
    path_of(c, rel, p, sizeof p);
    int fd = open(p, O_CREAT | O_WRONLY | O_TRUNC, 0644);
    if (fd < 0)
        return -1;
    ssize_t n = write(fd, text, strlen(text));
    close(fd);
    return n == (ssize_t)strlen(text) ? 0 : -1;
}

static int make_dir(ctx_t *c, const char *rel)
{
    char p[512];
    path_of(c, rel, p, sizeof p);
    return mkdir(p, 0755);
}

static void rm_tree(const char *path)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", path);
    if (system(cmd) != 0)
        fprintf(stderr, "%s failed\n", cmd);
}

static void stopped_cb(void *data) { ((ctx_t *)data)->stopped = 1; }

static int make_root(ctx_t *c)
{
    memset(c, 0, sizeof *c);
    const char *tmp = getenv("TMPDIR");
    snprintf(c->root, sizeof c->root, "%s/stratus-dirwatch-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(c->root)) {
        perror("mkdtemp");
        return -1;
    }
    return 0;
}

/* Start watching c->root (made by make_root) with opts. */
static int start_opts(ctx_t *c, const dirwatch_opts_t *opts)
{
    char err[512];
    uv_loop_init(&c->loop);
    if (dirwatch_start_opts(&c->loop, c->root, opts, on_event, c, &c->w, err, sizeof err) != 0) {
        fprintf(stderr, "dirwatch_start_opts: %s\n", err);
        return -1;
    }
    return 0;
}

static int setup(ctx_t *c)
{
    char err[512];
    if (make_root(c) != 0)
        return -1;
    uv_loop_init(&c->loop);
    if (dirwatch_start(&c->loop, c->root, on_event, c, &c->w, err, sizeof err) != 0) {
        fprintf(stderr, "dirwatch_start: %s\n", err);
        return -1;
    }
    return 0;
}

static void teardown(ctx_t *c)
{
    if (c->w) {
        dirwatch_stop(c->w, stopped_cb);
        c->w = NULL;
        while (!c->stopped)
            uv_run(&c->loop, UV_RUN_ONCE);
    }
    uv_run(&c->loop, UV_RUN_DEFAULT);
    CHECK_INT(uv_loop_close(&c->loop), 0);
    for (int i = 0; i < c->n; i++)
        free(c->events[i]);
    rm_tree(c->root);
}

TEST(file_in_root_and_new_subfolder)
{
    ctx_t c;
    CHECK_INT(setup(&c), 0);
    CHECK_INT(dirwatch_count(c.w), 1);
    CHECK_INT(write_file(&c, "a.txt", "hello"), 0);
    CHECK(run_until(&c, "F:a.txt"));
    CHECK_INT(count(&c, "F:a.txt"), 1);

    CHECK_INT(make_dir(&c, "sub"), 0);
    CHECK_INT(write_file(&c, "marker1", "m"), 0);
    CHECK(run_until(&c, "F:marker1"));
    CHECK_INT(dirwatch_count(c.w), 2);
    CHECK_INT(write_file(&c, "sub/b.txt", "bee"), 0);
    CHECK(run_until(&c, "F:sub/b.txt"));
    CHECK_INT(count(&c, "F:sub/b.txt"), 1);

    /* files that land before the new folder's watch exists: the loop does
     * not run until all of this is done */
    CHECK_INT(make_dir(&c, "late"), 0);
    CHECK_INT(make_dir(&c, "late/deep"), 0);
    CHECK_INT(write_file(&c, "late/x.txt", "x"), 0);
    CHECK_INT(write_file(&c, "late/deep/y.txt", "y"), 0);
    CHECK(run_until(&c, "F:late/deep/y.txt"));
    CHECK(count(&c, "F:late/x.txt") >= 1);
    CHECK_INT(dirwatch_count(c.w), 4);
    CHECK_INT(write_file(&c, "late/deep/z.txt", "z"), 0);
    CHECK(run_until(&c, "F:late/deep/z.txt"));
    CHECK_INT(count_prefix(&c, "E:"), 0);
    teardown(&c);
}

TEST(rename_into_place_and_dot_names)
{
    ctx_t c;
    char from[512], to[512];
    CHECK_INT(setup(&c), 0);
    CHECK_INT(write_file(&c, ".c.txt.tmp-1234", "content"), 0);
    path_of(&c, ".c.txt.tmp-1234", from, sizeof from);
    path_of(&c, "c.txt", to, sizeof to);
    CHECK_INT(rename(from, to), 0);
    CHECK_INT(write_file(&c, ".hidden", "h"), 0);
    CHECK_INT(make_dir(&c, ".git"), 0);
    CHECK_INT(write_file(&c, ".git/config", "g"), 0);
    CHECK_INT(write_file(&c, "sentinel", "s"), 0);
    CHECK(run_until(&c, "F:sentinel"));
    CHECK_INT(count(&c, "F:c.txt"), 1);
    CHECK_INT(c.n, 2); /* c.txt and the sentinel, nothing of the dot names */
    CHECK_INT(dirwatch_count(c.w), 1);
    /* a symbolic link moved into place is not a regular file */
    char link[512];
    path_of(&c, ".lnk", link, sizeof link);
    CHECK_INT(symlink("c.txt", link), 0);
    path_of(&c, "lnk", to, sizeof to);
    CHECK_INT(rename(link, to), 0);
    CHECK_INT(write_file(&c, "sentinel2", "s"), 0);
    CHECK(run_until(&c, "F:sentinel2"));
    CHECK_INT(count(&c, "F:lnk"), 0);
    teardown(&c);
}

TEST(open_file_not_reported_until_closed)
{
    ctx_t c;
    char p[512];
    CHECK_INT(setup(&c), 0);
    path_of(&c, "partial.bin", p, sizeof p);
    int fd = open(p, O_CREAT | O_WRONLY, 0644);
    CHECK(fd >= 0);
    CHECK_INT(write(fd, "first half ", 11), 11);
    CHECK_INT(write_file(&c, "sentinel", "s"), 0);
    CHECK(run_until(&c, "F:sentinel"));
    CHECK_INT(count(&c, "F:partial.bin"), 0);
    CHECK_INT(write(fd, "second half", 11), 11);
    CHECK_INT(write_file(&c, "sentinel2", "s"), 0);
    CHECK(run_until(&c, "F:sentinel2"));
    CHECK_INT(count(&c, "F:partial.bin"), 0);
    close(fd);
    CHECK(run_until(&c, "F:partial.bin"));
    CHECK_INT(count(&c, "F:partial.bin"), 1);
    /* opened for reading only: no close-write, not reported again */
    fd = open(p, O_RDONLY);
    CHECK(fd >= 0);
    close(fd);
    CHECK_INT(write_file(&c, "sentinel3", "s"), 0);
    CHECK(run_until(&c, "F:sentinel3"));
    CHECK_INT(count(&c, "F:partial.bin"), 1);
    teardown(&c);
}

TEST(deleted_and_recreated_folder)
{
    ctx_t c;
    char p[512];
    CHECK_INT(setup(&c), 0);
    CHECK_INT(make_dir(&c, "d"), 0);
    CHECK_INT(make_dir(&c, "d/e"), 0);
    CHECK_INT(write_file(&c, "d/e/f", "f"), 0);
    CHECK(run_until(&c, "F:d/e/f"));
    CHECK_INT(dirwatch_count(c.w), 3);
    path_of(&c, "d", p, sizeof p);
    rm_tree(p);
    CHECK_INT(write_file(&c, "sentinel", "s"), 0);
    CHECK(run_until(&c, "F:sentinel"));
    CHECK_INT(dirwatch_count(c.w), 1);
    CHECK_INT(make_dir(&c, "d"), 0);
    CHECK_INT(write_file(&c, "sentinel2", "s"), 0);
    CHECK(run_until(&c, "F:sentinel2"));
    CHECK_INT(write_file(&c, "d/g", "g"), 0);
    CHECK(run_until(&c, "F:d/g"));
    CHECK_INT(dirwatch_count(c.w), 2);
    CHECK_INT(count_prefix(&c, "E:"), 0);
    teardown(&c);
}

/* Removals are reported only when asked for: deleted files and folders
 * (with what was inside), and names moved out of the tree. */
TEST(removals_when_asked)
{
    ctx_t c;
    char p[512], outside[600];
    CHECK_INT(setup(&c), 0);
    CHECK_INT(write_file(&c, "quiet", "q"), 0);
    CHECK(run_until(&c, "F:quiet"));
    path_of(&c, "quiet", p, sizeof p);
    CHECK_INT(unlink(p), 0);
    CHECK_INT(write_file(&c, "sentinel", "s"), 0);
    CHECK(run_until(&c, "F:sentinel"));
    CHECK_INT(count_prefix(&c, "R:"), 0);

    dirwatch_report_removals(c.w, 1);
    CHECK_INT(make_dir(&c, "d"), 0);
    CHECK_INT(write_file(&c, "d/f", "f"), 0);
    CHECK(run_until(&c, "F:d/f"));
    path_of(&c, "d", p, sizeof p);
    rm_tree(p);
    CHECK(run_until(&c, "R:d/f"));
    CHECK(run_until(&c, "R:d"));
    CHECK_INT(write_file(&c, "m", "m"), 0);
    CHECK(run_until(&c, "F:m"));
    path_of(&c, "m", p, sizeof p);
    snprintf(outside, sizeof outside, "%s-out", c.root);
    CHECK_INT(rename(p, outside), 0);
    CHECK(run_until(&c, "R:m"));
    unlink(outside);
    CHECK_INT(write_file(&c, ".hidden", "h"), 0);
    path_of(&c, ".hidden", p, sizeof p);
    CHECK_INT(unlink(p), 0);
    CHECK_INT(write_file(&c, "sentinel2", "s"), 0);
    CHECK(run_until(&c, "F:sentinel2"));
    CHECK_INT(count(&c, "R:.hidden"), 0);
    CHECK_INT(count_prefix(&c, "E:"), 0);
    teardown(&c);
}

TEST(moved_folder)
{
    ctx_t c;
    char from[512], to[512], outside[600];
    CHECK_INT(setup(&c), 0);
    CHECK_INT(make_dir(&c, "m1"), 0);
    CHECK_INT(make_dir(&c, "m1/in"), 0);
    CHECK_INT(write_file(&c, "m1/in/a", "a"), 0);
    CHECK(run_until(&c, "F:m1/in/a"));
    path_of(&c, "m1", from, sizeof from);
    path_of(&c, "m2", to, sizeof to);
    CHECK_INT(rename(from, to), 0);
    CHECK(run_until(&c, "F:m2/in/a")); /* its files, under the new name */
    CHECK_INT(count(&c, "FOUND:m2/in/a"), 1); /* found by a walk, not closed */
    CHECK_INT(dirwatch_count(c.w), 3);
    CHECK_INT(write_file(&c, "m2/in/b", "b"), 0);
    CHECK(run_until(&c, "F:m2/in/b"));
    CHECK_INT(count_prefix(&c, "F:m1/in/b"), 0);

    /* moved out of the tree: no longer watched */
    snprintf(outside, sizeof outside, "%s-outside", c.root);
    CHECK_INT(rename(to, outside), 0);
    char p[700];
    snprintf(p, sizeof p, "%s/in/c", outside);
    FILE *f = fopen(p, "w");
    CHECK(f != NULL);
    if (f)
        fclose(f);
    CHECK_INT(write_file(&c, "sentinel", "s"), 0);
    CHECK(run_until(&c, "F:sentinel"));
    CHECK_INT(dirwatch_count(c.w), 1);
    CHECK_INT(count_prefix(&c, "F:m2/in/c"), 0);
    CHECK_INT(count_prefix(&c, "F:in/c"), 0);
    CHECK_INT(count_prefix(&c, "E:"), 0);
    rm_tree(outside);
    teardown(&c);
}

/* Removals say whether the name was a folder, and whether it was moved
 * away (its contents unreported) or deleted (its files reported first). */
TEST(removal_kinds)
{
    ctx_t c;
    char p[512], outside[600];
    CHECK_INT(setup(&c), 0);
    c.flags = 1;
    dirwatch_report_removals(c.w, 1);
    CHECK_INT(make_dir(&c, "gone"), 0);
    CHECK_INT(write_file(&c, "gone/f", "f"), 0);
    CHECK_INT(make_dir(&c, "away"), 0);
    CHECK_INT(write_file(&c, "away/g", "g"), 0);
    CHECK_INT(write_file(&c, "file", "x"), 0);
    CHECK(run_until(&c, "F:file"));
    path_of(&c, "gone", p, sizeof p);
    rm_tree(p);
    CHECK(run_until(&c, "R:gone dir"));
    CHECK_INT(count(&c, "R:gone/f"), 1);
    path_of(&c, "away", p, sizeof p);
    snprintf(outside, sizeof outside, "%s-away", c.root);
    CHECK_INT(rename(p, outside), 0);
    CHECK(run_until(&c, "R:away dir moved"));
    CHECK_INT(count_prefix(&c, "R:away/"), 0);
    rm_tree(outside);
    path_of(&c, "file", p, sizeof p);
    CHECK_INT(unlink(p), 0);
    CHECK(run_until(&c, "R:file"));
    CHECK_INT(write_file(&c, "again", "x"), 0);
    path_of(&c, "again", p, sizeof p);
    snprintf(outside, sizeof outside, "%s-again", c.root);
    CHECK_INT(rename(p, outside), 0);
    CHECK(run_until(&c, "R:again moved"));
    unlink(outside);
    teardown(&c);
}

/* A hard link made in the tree is a complete file at once (cargo builds
 * its outputs so); a new file being written is not, until closed. */
TEST(hard_link_is_reported)
{
    ctx_t c;
    char from[512], to[512];
    CHECK_INT(setup(&c), 0);
    snprintf(from, sizeof from, "%s-outside", c.root);
    FILE *f = fopen(from, "w");
    CHECK(f != NULL);
    if (f) {
        fputs("built", f);
        fclose(f);
    }
    path_of(&c, "handler", to, sizeof to);
    CHECK_INT(link(from, to), 0);
    CHECK(run_until(&c, "F:handler"));
    CHECK_INT(count(&c, "F:handler"), 1);
    /* created and still open: not yet */
    char p[512];
    path_of(&c, "open", p, sizeof p);
    int fd = open(p, O_CREAT | O_WRONLY, 0644);
    CHECK(fd >= 0);
    CHECK_INT(write_file(&c, "sentinel", "s"), 0);
    CHECK(run_until(&c, "F:sentinel"));
    CHECK_INT(count(&c, "F:open"), 0);
    close(fd);
    CHECK(run_until(&c, "F:open"));
    unlink(from);
    teardown(&c);
}

static int skip_named(void *data, const char *rel)
{
    (void)data;
    const char *base = strrchr(rel, '/');
    base = base ? base + 1 : rel;
    return !strcmp(base, "skipme") || !strcmp(rel, "venv");
}

/* dot_names are watched like any name (wherever they are); skipped
 * folders are not watched, nor what is below them, and their files are
 * never reported; their removal still is. */
TEST(options_dot_names_and_skipped_folders)
{
    static const char *const dots[] = {".pkgs", NULL};
    dirwatch_opts_t opts = {dots, skip_named};
    ctx_t c;
    CHECK_INT(make_root(&c), 0);
    CHECK_INT(make_dir(&c, ".pkgs"), 0);
    CHECK_INT(make_dir(&c, ".pkgs/lib"), 0);
    CHECK_INT(make_dir(&c, ".other"), 0);
    CHECK_INT(make_dir(&c, "venv"), 0);
    CHECK_INT(make_dir(&c, "venv/lib"), 0);
    CHECK_INT(make_dir(&c, "app"), 0);
    CHECK_INT(make_dir(&c, "app/skipme"), 0);
    CHECK_INT(start_opts(&c, &opts), 0);
    CHECK_INT(dirwatch_count(c.w), 4); /* the root, .pkgs, .pkgs/lib, app */
    dirwatch_report_removals(c.w, 1);
    CHECK_INT(write_file(&c, ".pkgs/lib/m.py", "m"), 0);
    CHECK(run_until(&c, "F:.pkgs/lib/m.py"));
    CHECK_INT(write_file(&c, ".other/x", "x"), 0);
    CHECK_INT(write_file(&c, "venv/lib/y", "y"), 0);
    CHECK_INT(write_file(&c, "app/skipme/z", "z"), 0);
    CHECK_INT(write_file(&c, "app/.pkgs", "a file named as a dot name"), 0);
    CHECK_INT(write_file(&c, "app/.hidden", "h"), 0);
    /* created later: watched or skipped by the same rules */
    CHECK_INT(make_dir(&c, "app/new"), 0);
    CHECK_INT(make_dir(&c, "app/new/skipme"), 0);
    CHECK_INT(write_file(&c, "app/new/skipme/w", "w"), 0);
    CHECK_INT(write_file(&c, "app/new/v", "v"), 0);
    CHECK(run_until(&c, "F:app/new/v"));
    CHECK_INT(write_file(&c, "app/new/skipme/w2", "w"), 0);
    CHECK_INT(write_file(&c, "sentinel", "s"), 0);
    CHECK(run_until(&c, "F:sentinel"));
    CHECK_INT(count(&c, "F:app/.pkgs"), 1);
    CHECK_INT(count_prefix(&c, "F:.other"), 0);
    CHECK_INT(count_prefix(&c, "F:venv"), 0);
    CHECK_INT(count_prefix(&c, "F:app/skipme"), 0);
    CHECK_INT(count_prefix(&c, "F:app/new/skipme"), 0);
    CHECK_INT(count_prefix(&c, "F:app/.hidden"), 0);
    CHECK_INT(dirwatch_count(c.w), 5); /* and app/new */
    /* a dot name folder created later is watched, its files reported */
    CHECK_INT(make_dir(&c, "app/.pkgs2"), 0);
    CHECK_INT(make_dir(&c, ".pkgs/new"), 0);
    CHECK_INT(write_file(&c, ".pkgs/new/n", "n"), 0);
    CHECK(run_until(&c, "F:.pkgs/new/n"));
    /* a skipped folder's removal is reported (its contents are not) */
    char p[512];
    path_of(&c, "venv", p, sizeof p);
    rm_tree(p);
    CHECK(run_until(&c, "R:venv"));
    CHECK_INT(count_prefix(&c, "R:venv/"), 0);
    CHECK_INT(count_prefix(&c, "E:"), 0);
    teardown(&c);
}

TEST(overflow_is_reported)
{
    ctx_t c;
    long max = 16384;
    FILE *f = fopen("/proc/sys/fs/inotify/max_queued_events", "r");
    if (f) {
        if (fscanf(f, "%ld", &max) != 1)
            max = 16384;
        fclose(f);
    }
    if (max > 200000) {
        fprintf(stderr, "overflow_is_reported: max_queued_events %ld, skipped\n", max);
        return;
    }
    CHECK_INT(setup(&c), 0);
    /* each new file queues IN_CREATE and IN_CLOSE_WRITE */
    char name[64];
    for (long i = 0; i < max / 2 + 100; i++) {
        snprintf(name, sizeof name, "f%ld", i);
        if (write_file(&c, name, "") != 0) {
            CHECK(0);
            break;
        }
    }
    CHECK(run_until(&c, "OVERFLOW"));
    CHECK_INT(write_file(&c, "sentinel", "s"), 0);
    CHECK(run_until(&c, "F:sentinel"));
    teardown(&c);
}

TEST(stop_from_callback)
{
    ctx_t c;
    CHECK_INT(setup(&c), 0);
    c.stop_after = 1;
    CHECK_INT(write_file(&c, "one", "1"), 0);
    CHECK_INT(write_file(&c, "two", "2"), 0);
    CHECK(run_until(&c, "F:one"));
    uv_run(&c.loop, UV_RUN_DEFAULT);
    CHECK_INT(c.n, 1);
    CHECK(c.w == NULL);
    teardown(&c);
}

TEST(root_deleted)
{
    ctx_t c;
    CHECK_INT(setup(&c), 0);
    CHECK_INT(rmdir(c.root), 0);
    CHECK(run_until_seen(&c, "E:folder '", 1));
    CHECK_INT(count_prefix(&c, "E:folder '"), 1);
    CHECK_INT(c.n, 1);
    CHECK(strstr(c.events[0], "was deleted or moved") != NULL);
    teardown(&c);
}

TEST(start_errors)
{
    uv_loop_t loop;
    dirwatch_t *w = (dirwatch_t *)1;
    char err[512];
    uv_loop_init(&loop);
    CHECK_INT(dirwatch_start(&loop, "/nonexistent/stratus-dirwatch", on_event, NULL, &w, err,
                             sizeof err),
              -1);
    CHECK(w == NULL);
    CHECK_STR(err, "folder '/nonexistent/stratus-dirwatch': No such file or directory");
    CHECK_INT(dirwatch_start(&loop, "/dev/null", on_event, NULL, &w, err, sizeof err), -1);
    CHECK_STR(err, "folder '/dev/null': not a folder");
    CHECK_INT(dirwatch_start(&loop, "", on_event, NULL, &w, err, sizeof err), -1);
    CHECK_CONTAINS(err, "empty");
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK_INT(uv_loop_close(&loop), 0);
}

/* ---- scan ---- */

typedef struct scan_out {
    char text[4096];
    int stop_at, n;
} scan_out_t;

static int scan_cb(void *data, const char *path, uint64_t size, int64_t mtime_ms)
{
    scan_out_t *o = data;
    size_t used = strlen(o->text);
    snprintf(o->text + used, sizeof o->text - used, "%s:%llu%s;", path,
             (unsigned long long)size, mtime_ms > 1000000000000LL ? "" : "(bad mtime)");
    return ++o->n == o->stop_at ? 7 : 0;
}

TEST(scan)
{
    ctx_t c;
    char err[512], p[512];
    scan_out_t o = {{0}, 0, 0};
    CHECK_INT(setup(&c), 0);
    CHECK_INT(write_file(&c, "b.txt", "bb"), 0);
    CHECK_INT(write_file(&c, "a.txt", "a"), 0);
    CHECK_INT(write_file(&c, ".tmp-a", "x"), 0);
    CHECK_INT(make_dir(&c, "dir"), 0);
    CHECK_INT(make_dir(&c, "dir/sub"), 0);
    CHECK_INT(make_dir(&c, ".hidden"), 0);
    CHECK_INT(write_file(&c, ".hidden/x", "x"), 0);
    CHECK_INT(write_file(&c, "dir/sub/deep.bin", "12345"), 0);
    CHECK_INT(write_file(&c, "dir/c", ""), 0);
    path_of(&c, "link", p, sizeof p);
    CHECK_INT(symlink("a.txt", p), 0);
    path_of(&c, "fifo", p, sizeof p);
    CHECK_INT(mkfifo(p, 0644), 0);

    CHECK_INT(dirwatch_scan(c.root, scan_cb, &o, err, sizeof err), 0);
    CHECK_STR(o.text, "a.txt:1;b.txt:2;dir/c:0;dir/sub/deep.bin:5;");

    /* the callback stops the walk */
    memset(&o, 0, sizeof o);
    o.stop_at = 2;
    CHECK_INT(dirwatch_scan(c.root, scan_cb, &o, err, sizeof err), 7);
    CHECK_STR(o.text, "a.txt:1;b.txt:2;");

    /* a trailing '/' on the root changes nothing */
    memset(&o, 0, sizeof o);
    char slashed[300];
    snprintf(slashed, sizeof slashed, "%s/", c.root);
    CHECK_INT(dirwatch_scan(slashed, scan_cb, &o, err, sizeof err), 0);
    CHECK_STR(o.text, "a.txt:1;b.txt:2;dir/c:0;dir/sub/deep.bin:5;");

    /* an unreadable folder is named, and the rest is still walked */
    if (geteuid() != 0) {
        memset(&o, 0, sizeof o);
        path_of(&c, "dir/sub", p, sizeof p);
        CHECK_INT(chmod(p, 0), 0);
        CHECK_INT(dirwatch_scan(c.root, scan_cb, &o, err, sizeof err), -1);
        CHECK_CONTAINS(err, "cannot read folder '");
        CHECK_CONTAINS(err, "dir/sub': Permission denied");
        CHECK_STR(o.text, "a.txt:1;b.txt:2;dir/c:0;");
        CHECK_INT(chmod(p, 0755), 0);
    }

    CHECK_INT(dirwatch_scan("/nonexistent/stratus-scan", scan_cb, &o, err, sizeof err), -1);
    CHECK_STR(err, "folder '/nonexistent/stratus-scan': No such file or directory");
    path_of(&c, "a.txt", p, sizeof p);
    CHECK_INT(dirwatch_scan(p, scan_cb, &o, err, sizeof err), -1);
    CHECK_CONTAINS(err, "not a folder");
    teardown(&c);
}

int main(void)
{
    RUN(file_in_root_and_new_subfolder);
    RUN(rename_into_place_and_dot_names);
    RUN(open_file_not_reported_until_closed);
    RUN(deleted_and_recreated_folder);
    RUN(removals_when_asked);
    RUN(moved_folder);
    RUN(removal_kinds);
    RUN(hard_link_is_reported);
    RUN(options_dot_names_and_skipped_folders);
    RUN(overflow_is_reported);
    RUN(stop_from_callback);
    RUN(root_deleted);
    RUN(start_errors);
    RUN(scan);
    return TEST_REPORT();
}
