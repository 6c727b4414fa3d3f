/*
 * backend.h -- what a store backend implements, and how backends are found.
 *
 * Each backend is a static const store_backend_t in its own file under
 * src/store/, listed once in backends.c; the connection URL's scheme picks
 * it. The generic layer (store.c, store_ops.c) validates every argument
 * and runs the thread and the batching; a backend only executes batches of
 * already validated requests, on one thread at a time.
 */
#ifndef STRATUS_STORE_BACKEND_H
#define STRATUS_STORE_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"

#define STORE_BACKEND_VERSION 1

typedef struct store_backend {
    int version;        /* STORE_BACKEND_VERSION */
    const char *scheme; /* the URL scheme, lower-case ("sqlite") */
    /* Open the store that target names: the URL after "<scheme>:" ("" for
     * the default location, which lives under app_root). opts has its
     * defaults applied. Return STORE_OK with *be set, or a status with a
     * message in err naming what was opened and what is wrong. */
    int (*open)(const char *target, const char *app_root, const store_options_t *opts,
                void **be, char *err, size_t errlen);
    /* Execute reqs[0..n) in order, as one transaction when possible, with
     * `now` as the time of all of them. Set every request's status (and err)
     * and results. A request's failure (a stale receipt, a missing key)
     * does not undo the others; a backend failure may fail them all.
     * Return the number of transactions it took. */
    unsigned (*run)(void *be, store_req_t **reqs, size_t n, int64_t now);
    /* The file or address opened, for messages. */
    const char *(*location)(void *be);
    /* The schema version of the open store. */
    int (*schema_version)(void *be);
    /* The result of the integrity check at open (see store_check_result). */
    const char *(*check_result)(void *be);
    /* Close and free what open made. */
    void (*close)(void *be);
    /* Optional: give back caches that can be rebuilt (the store has been
     * idle for STORE_IDLE_RELEASE_MS after work). */
    void (*release)(void *be);
} store_backend_t;

extern const store_backend_t store_backend_sqlite;

/* The backend for a scheme (case-insensitive, n bytes), or NULL. */
const store_backend_t *store_backend_find(const char *scheme, size_t n);

/* The known schemes, comma-separated ("sqlite"), into out. */
void store_backend_names(char *out, size_t outlen);

/* ---- shared by the generic layer's files ---- */

/* Set req's status and a formatted message; returns status. */
int store__fail(store_req_t *req, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Run a validated request: synchronously when cb is NULL (returns its
 * status), else queue it for the store's thread (STORE_OK, or STORE_EFULL /
 * STORE_ESTOPPED with req's status and err set). */
int store__submit(store_t *st, store_req_t *req, store_cb cb);

/* Free req's results and clear its outcome (before a backend runs it
 * again); its arguments stay. */
void store__req_reset(store_req_t *req);

/* The options of st, defaults applied. */
const store_options_t *store__options(const store_t *st);

#endif
