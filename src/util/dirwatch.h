/*
 * dirwatch.h -- watching a folder tree for complete files (Linux inotify on
 * a libuv loop), and walking it once.
 *
 * A watcher watches a root folder and every folder below it, adding a
 * watch for each folder created (or moved in) later. It reports a file
 * when it is complete: when a writer that opened it for writing closes it
 * (IN_CLOSE_WRITE), when it is renamed or moved into the tree
 * (IN_MOVED_TO), or when a hard link to it is made in the tree (a name
 * created for a file that has other links). A file being written is not
 * reported until its writer closes it. Only regular files are reported (not symbolic links, FIFOs,
 * devices). Names starting with '.' are ignored, files and folders alike:
 * writers put a file in place by writing ".name.tmp-XXXX" and renaming it
 * (dirwatch_start_opts() can name some that are watched all the same, and
 * folders that are not watched at all).
 *
 * A folder created or moved into the tree is walked right after its watch
 * is added, and the regular files found in it are reported, since they may
 * have landed before the watch existed. Such a file may still be open for
 * writing (nothing tells; the event says found), and may be reported again
 * when its writer closes it: consumers must accept a file reported more
 * than once, and wait a while before taking a found file as complete. A folder
 * deleted or moved out drops its watches; one moved within the tree is
 * watched, and its files reported, under its new name.
 *
 * When the kernel's event queue overflows (fs.inotify.max_queued_events),
 * events were lost: the watcher adds watches for folders it may have
 * missed and reports DIRWATCH_OVERFLOW, after which the user rescans with
 * dirwatch_scan(). When a watch cannot be added (the per-user limit
 * fs.inotify.max_user_watches is reached, a folder cannot be read) the
 * watcher reports DIRWATCH_ERROR with a message naming the folder and the
 * cause, and goes on watching the rest. When the root itself is deleted or
 * moved, it reports DIRWATCH_ERROR and nothing more.
 *
 * Lifecycle: dirwatch_start() creates a watcher and starts it;
 * dirwatch_stop() stops it at once (no callback after it returns) and
 * frees it once libuv has closed its handle, then calls the stop callback.
 * dirwatch_stop() may be called from within the event callback. Callbacks
 * run on the loop's thread.
 */
#ifndef STRATUS_DIRWATCH_H
#define STRATUS_DIRWATCH_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

typedef struct dirwatch dirwatch_t;

typedef enum dirwatch_kind {
    DIRWATCH_FILE = 1, /* path: the complete file, relative to the root ("a/b.txt") */
    DIRWATCH_OVERFLOW, /* events were lost: rescan; path NULL */
    DIRWATCH_ERROR,    /* message says what is not watched and why; path NULL */
    DIRWATCH_REMOVED,  /* path: a file or folder deleted or moved out (relative to the
                          root); only after dirwatch_report_removals(w, 1) */
} dirwatch_kind_t;

typedef struct dirwatch_event {
    dirwatch_kind_t kind;
    const char *path;    /* DIRWATCH_FILE and DIRWATCH_REMOVED only */
    const char *message; /* DIRWATCH_ERROR only */
    int found;           /* DIRWATCH_FILE: 1 when found by the walk of a new folder (it
                            may still be open for writing), 0 when closed or moved in */
    int dir;             /* DIRWATCH_REMOVED: the name was a folder */
    int moved;           /* DIRWATCH_REMOVED: moved out (a folder's contents were not
                            reported), rather than deleted */
} dirwatch_event_t;

/* ev and its strings live only during the call. */
typedef void (*dirwatch_cb)(dirwatch_t *w, const dirwatch_event_t *ev, void *data);
typedef void (*dirwatch_stop_cb)(void *data);

/* Watch root (a folder) and the folders below it. 0 with *out set, or -1
 * with *out NULL and a message in err naming the folder and the cause,
 * e.g. the inotify watch limit (fs.inotify.max_user_watches) reached.
 * Files already there are not reported: dirwatch_scan() finds them. */
int dirwatch_start(uv_loop_t *loop, const char *root, dirwatch_cb cb, void *data,
                   dirwatch_t **out, char *err, size_t errlen);

typedef struct dirwatch_opts {
    /* Names starting with '.' that are watched all the same, wherever they
     * are (e.g. ".python_packages"); NULL-terminated, or NULL. The array
     * must live as long as the watcher. */
    const char *const *dot_names;
    /* Asked before a folder below the root is watched (rel relative to the
     * root, e.g. "venv"): nonzero leaves it, and all below it, unwatched
     * (its files are never reported; its own removal still is). NULL
     * watches every folder. Called with the watcher's data. */
    int (*skip)(void *data, const char *rel);
} dirwatch_opts_t;

/* dirwatch_start() with options (opts may be NULL). */
int dirwatch_start_opts(uv_loop_t *loop, const char *root, const dirwatch_opts_t *opts,
                        dirwatch_cb cb, void *data, dirwatch_t **out, char *err,
                        size_t errlen);

/* Stop w: no event callback after this returns. Once the handle is closed,
 * w is freed and stopped(data) is called (stopped may be NULL). Calling it
 * twice is an error. */
void dirwatch_stop(dirwatch_t *w, dirwatch_stop_cb stopped);

/* Also report names deleted or moved out of a watched folder
 * (DIRWATCH_REMOVED, files and folders alike; a folder deleted with its
 * contents reports each name inside it, then the folder). Off by default:
 * consumers that only want complete files never see these. */
void dirwatch_report_removals(dirwatch_t *w, int on);

/* Number of folders watched (the root included). */
size_t dirwatch_count(const dirwatch_t *w);

/* Called for each regular file found; returning nonzero stops the walk. */
typedef int (*dirwatch_scan_cb)(void *data, const char *path, uint64_t size, int64_t mtime_ms);

/* Walk root synchronously and call cb for each regular file below it,
 * skipping names starting with '.', symbolic links and other non-regular
 * files; path is relative to root, folders are walked in name order
 * (byte order). Returns 0; cb's nonzero value when cb stopped the walk; or
 * -1 when root is not a readable folder, or a folder below it could not be
 * read (the rest is still walked), with a message naming it in err. */
int dirwatch_scan(const char *root, dirwatch_scan_cb cb, void *data, char *err, size_t errlen);

#endif
