/*
 * embedded.h -- files carried inside the binary (generated at build time by
 * scripts/embed_tree.sh): from the repository's runtimes/ folder, the worker
 * shims of the interpreter runtimes, written out next to an app when it
 * starts, so an installed stratus needs nothing beside it; from ui/, the
 * dashboard served at /admin/ui.
 */
#ifndef STRATUS_EMBEDDED_H
#define STRATUS_EMBEDDED_H

#include <stddef.h>

typedef struct embedded_file {
    const char *path;          /* relative, e.g. "python/worker.py"; NULL ends a table */
    const unsigned char *data;
    size_t len;
} embedded_file_t;

/* runtimes/ */
extern const embedded_file_t runtime_files[];

/* ui/ */
extern const embedded_file_t ui_files[];

#endif
