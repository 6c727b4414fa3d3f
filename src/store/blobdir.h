/*
 * blobdir.h -- blob containers kept as folders: the blob root's subfolders
 * are containers, the files under a container are its blobs, and a blob
 * name's '/' separates folders ("2024/05/report.csv").
 *
 * Every call checks its names first (blobpath_container_check() and
 * blobpath_name_check(), src/util/blobpath.h) and fails with BLOBDIR_EINVAL
 * and a message naming the rule, so a name can never reach outside its
 * container. Files and folders whose name starts with '.' are not blobs:
 * a write goes through such a file (".<name>.tmp-<random>" in the blob's
 * folder, flushed, then renamed into place), so a reader or a blob trigger
 * watching the folder sees a blob complete or not at all.
 *
 * The calls block on the disk and keep no state: any thread may call them
 * (the host runs them on libuv's thread pool). Lists are jansson arrays the
 * caller owns.
 */
#ifndef STRATUS_BLOBDIR_H
#define STRATUS_BLOBDIR_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "../util/buf.h"

enum {
    BLOBDIR_OK = 0,
    BLOBDIR_EINVAL = -1,    /* a bad container or blob name: err names the rule */
    BLOBDIR_ENOTFOUND = -2, /* no such container or blob */
    BLOBDIR_E2BIG = -3,     /* a blob larger than the caller's limit */
    BLOBDIR_ECONFLICT = -4, /* the name is taken by a folder, or a folder on its path is
                               a file */
    BLOBDIR_EIO = -5        /* the file system failed: err has the call and errno text */
};

#define BLOBDIR_LIST_MAX 5000 /* blobs per list; past it the list is truncated */

/* The containers under root: [{"name", "lastModified"}] by name (an empty
 * array when root does not exist yet). BLOBDIR_OK with *out set, or
 * BLOBDIR_EIO. */
int blobdir_containers(const char *root, json_t **out, char *err, size_t errlen);

/* The blobs of a container whose names start with prefix (NULL or "": all):
 * [{"name", "length", "lastModified"}] by name, at most BLOBDIR_LIST_MAX
 * (*truncated set to 1 when there were more). lastModified is ISO 8601
 * UTC with milliseconds. BLOBDIR_ENOTFOUND when the container does not
 * exist. */
int blobdir_list(const char *root, const char *container, const char *prefix, json_t **out,
                 int *truncated, char *err, size_t errlen);

/* Read a blob into out (appended; up to max bytes, else BLOBDIR_E2BIG).
 * BLOBDIR_ENOTFOUND when there is no such blob (a folder is not one). */
int blobdir_read(const char *root, const char *container, const char *name, buf_t *out,
                 size_t max, char *err, size_t errlen);

/* The same, with the file's status (size, times, inode) in *st when it
 * succeeded. */
struct stat;
int blobdir_read_stat(const char *root, const char *container, const char *name, buf_t *out,
                      size_t max, struct stat *st, char *err, size_t errlen);

/* Write a blob atomically (see the top), creating the container and the
 * blob's folders as needed and replacing an existing blob. *created is set
 * to 1 when there was no blob of that name before (may be NULL). */
int blobdir_write(const char *root, const char *container, const char *name, const void *data,
                  size_t len, int *created, char *err, size_t errlen);

/* Delete a blob, then the folders of its name left empty (never the
 * container). BLOBDIR_ENOTFOUND when there is no such blob. */
int blobdir_delete(const char *root, const char *container, const char *name, char *err,
                   size_t errlen);

#endif
