/*
 * sqlite_priv.h -- what the two halves of the SQLite backend share:
 * sqlite.c opens, checks and migrates the file and prepares the statements;
 * sqlite_ops.c runs batches of operations with them.
 */
#ifndef STRATUS_STORE_SQLITE_PRIV_H
#define STRATUS_STORE_SQLITE_PRIV_H

#include <limits.h>
#include <sqlite3.h>

#include "backend.h"

/* The statements, prepared once at open. */
enum {
    SQ_BEGIN,
    SQ_BEGIN_IMMEDIATE,
    SQ_COMMIT,
    SQ_ROLLBACK,
    SQ_QUEUE_ADD,
    SQ_MSG_INSERT,
    SQ_MSG_VISIBLE,
    SQ_MSG_PEEK,
    SQ_MSG_DELIVER,
    SQ_MSG_DELETE_SEQ,
    SQ_MSG_DELETE,
    SQ_MSG_LOOKUP,
    SQ_MSG_UPDATE,
    SQ_MSG_POISON,
    SQ_MSG_CLEAR,
    SQ_MSG_LEASED,
    SQ_MSG_LEASED_ALL,
    SQ_MSG_RELEASE,
    SQ_QUEUE_TOTAL,
    SQ_QUEUE_EXPIRED,
    SQ_QUEUE_INVISIBLE,
    SQ_QUEUE_OLDEST,
    SQ_QUEUE_LIST,
    SQ_SWEEP,
    SQ_KV_PUT,
    SQ_KV_GET,
    SQ_KV_DELETE,
    SQ_KV_LIST,
    SQ_HIST_PUT,
    SQ_HIST_SCAN,
    SQ_HIST_COUNTS,
    SQ_HIST_DELETE_UPTO,
    SQ_HIST_UPDATE,
    SQ_HIST_PRUNE_AGE,
    SQ_N
};


extern const char *const sq_sql[SQ_N];

#define SQ_DELTAS_MAX 64 /* queues counted per transaction before a flush */
#define SQ_SWEEP_CHUNK 1000
#define SQ_SWEEP_CHUNKS 10
#define SQ_RELEASE_CHUNK 1000 /* leased messages read before they are changed */

/* What one transaction changed in a queue's message count: written to
 * queue.messages once per queue just before the commit. */
typedef struct sq_delta {
    char queue[STORE_QUEUE_REF_MAX + 1];
    int64_t delta;
    int put; /* messages were added: the queue's row must exist */
} sq_delta_t;

typedef struct sq {
    sqlite3 *db;
    sqlite3_stmt *stmt[SQ_N];
    char path[PATH_MAX];
    int lock_fd;    /* holds the lock that keeps other hosts out; -1 when read-only */
    int read_only;
    int version;    /* schema version */
    char check[96]; /* outcome of the integrity check at open */
    store_options_t opts;
    sq_delta_t deltas[SQ_DELTAS_MAX]; /* of the open transaction */
    size_t n_deltas;
} sq_t;

/* Run one history operation (sqlite_history.c) in the open transaction:
 * SQLITE_OK (the request's own failure, if any, in its status) or an
 * SQLite error that fails the transaction. */
int sq_history_op(sq_t *s, store_req_t *r, int64_t now);

/* The records of one stored history batch (an invocation_batch blob),
 * decoded as a list reads them, each passed to `each` (its strings freed
 * after the call). A damaged blob gives the records before the damage and
 * any after it that still decode. The number passed, or -1 out of memory.
 * For the fuzz driver and the tests. */
long sq_history_decode(const void *blob, size_t n,
                       void (*each)(const store_inv_t *rec, void *data), void *data);

/* Run a batch (store_backend_t.run). */
unsigned sq_run(void *be, store_req_t **reqs, size_t n, int64_t now);

#endif
