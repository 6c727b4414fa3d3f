/*
 * store.h -- the durable store: queues of messages (Azure Storage queue
 * semantics) and namespaced key/value state, kept by a backend that the
 * connection URL's scheme selects (`sqlite:` is the first; see backends.c).
 *
 * What it keeps
 *   queues   messages with Azure's metadata: Id, DequeueCount, InsertionTime,
 *            ExpirationTime, NextVisibleTime, PopReceipt. A message is
 *            delivered by store_queue_get() to one consumer at a time: it
 *            becomes invisible for a visibility timeout and gets a new pop
 *            receipt; the consumer deletes it (done) or updates its
 *            visibility (retry later) with that receipt. A receipt is refused
 *            once the message has been delivered again (STORE_ESTALE).
 *            Expired messages are never delivered and are removed.
 *   key/value  small state by (namespace, key): timer schedule status, blob
 *            receipts, and the like.
 *
 * Connection URLs (store_open)
 *   NULL, "", "sqlite:", "UseDevelopmentStorage=true"
 *                               <app_root>/.stratus/store.db
 *   "sqlite:/abs/path.db", "sqlite:///abs/path.db"   that file
 *   "sqlite:rel/path.db"        relative to app_root
 *   any other scheme            STORE_ESCHEME, "no store backend for scheme
 *                               'redis' (available: sqlite)"
 *
 * Two ways to call
 *   Every operation takes a caller-owned store_req_t and a callback.
 *   - cb == NULL: synchronous. The operation runs on the calling thread
 *     (blocking on disk) and the function returns req->status. For
 *     start-up, the command line and tests: never while the loop serves.
 *   - cb != NULL: asynchronous (the store must be started). The call
 *     returns STORE_OK when the operation was accepted; cb(req) then runs
 *     exactly once, on the loop thread, after the operation's transaction
 *     committed (or failed), with req->status and the results set. Any
 *     other return (STORE_EINVAL, STORE_E2BIG, STORE_EFULL, STORE_ESTOPPED)
 *     means it was not accepted: req->status and req->err say why and cb is
 *     never called.
 *   The store's own thread runs the SQL. Whatever was submitted while it
 *   was busy runs as one batch in ONE transaction (group commit, at most
 *   max_batch operations), then all of the batch's callbacks run. An
 *   acknowledged put is on disk (synchronous=FULL by default): it survives
 *   a crash of the process and a loss of power.
 *
 * Requests and ownership
 *   The caller owns the store_req_t and keeps it alive until its callback
 *   ran (or the synchronous call returned). Each call initialises the
 *   request (keeping req->data) and copies its arguments (names, bodies,
 *   keys), so the caller's buffers may be reused as soon as the call
 *   returns. Results (messages, bodies, counts, values) belong to the
 *   request: they stay valid until store_req_cleanup(req), which the caller
 *   calls after every call, whatever its outcome. A request may be reused
 *   for another call after cleanup.
 *
 * Lifecycle of a store
 *   store_open()  open (creating it when missing), check, migrate: usable
 *                 synchronously at once, from one thread.
 *   store_start() attach to a loop: asynchronous calls become possible and
 *                 completions arrive on that loop.
 *   store_stop()  from the loop thread: new asynchronous calls are refused
 *                 (STORE_ESTOPPED), operations already accepted run and
 *                 complete, the thread ends; then stop_cb runs on the loop.
 *   store_close() after stop_cb (or when never started): closes the files
 *                 and frees the store.
 *
 * Threading
 *   Call every store_* function from one thread: the loop's once the store
 *   is started. Callbacks (completions and notifications) run on that loop
 *   thread and may call store functions, including submitting more work.
 *   The only other thread is the store's own, which never runs caller code
 *   except the clock (store_options_t.clock).
 *   A synchronous call on a started store waits for the batch the thread
 *   is running, if any: it blocks the loop, so it is for start-up only.
 *
 * Times are milliseconds since the Unix epoch, UTC; durations are
 * milliseconds.
 */
#ifndef STRATUS_STORE_H
#define STRATUS_STORE_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

/* ---- status codes --------------------------------------------------------- */

enum {
    STORE_OK = 0,
    STORE_EINVAL = -1,    /* a bad argument (queue name, key, timeout ...): err names it */
    STORE_E2BIG = -2,     /* a body or value over the store's limit */
    STORE_ENOTFOUND = -3, /* no such message (deleted or expired) or key */
    STORE_ESTALE = -4,    /* the pop receipt is not the message's current one: it was
                             delivered again meanwhile */
    STORE_EFULL = -5,     /* back-pressure: max_pending operations in flight; retry after
                             some complete */
    STORE_ESTOPPED = -6,  /* asynchronous call on a store not started, or stopping */
    STORE_EIO = -7,       /* the backend failed (disk full, I/O error, read-only file ...) */
    STORE_ESCHEME = -8,   /* open: malformed URL, or no backend for its scheme */
    STORE_ELOCKED = -9,   /* open: the store is in use by another process */
    STORE_ECORRUPT = -10, /* open: not a database, not a Stratus store, or damaged */
    STORE_EVERSION = -11  /* open: schema version newer than this binary knows */
};

/* A short constant text for a status code ("stale pop receipt", ...). */
const char *store_strerror(int status);

/* ---- limits and defaults -------------------------------------------------- */

#define STORE_QUEUE_NAME_MIN 3
#define STORE_QUEUE_NAME_MAX 63                      /* as Azure */
#define STORE_POISON_SUFFIX "-poison"
#define STORE_QUEUE_REF_MAX (STORE_QUEUE_NAME_MAX + 7) /* "<63 chars>-poison" */
#define STORE_ID_LEN 37                              /* a UUID and its NUL: ids, receipts */
#define STORE_GET_MAX 32                             /* messages per get or peek, as Azure */
#define STORE_LIST_MAX 1000                          /* queues per list, keys per kv list */
#define STORE_NS_MAX 64                              /* key/value namespace length */
#define STORE_KEY_MAX 1024                           /* key length in bytes */
#define STORE_ERR_LEN 256

#define STORE_DEFAULT_MAX_BODY (64 * 1024)
#define STORE_DEFAULT_MAX_VALUE (64 * 1024)
#define STORE_DEFAULT_MAX_PENDING 10000
#define STORE_DEFAULT_MAX_BATCH 1000
#define STORE_DEFAULT_CHECK_MS 2000
#define STORE_DEFAULT_CHECK_MAX_BYTES ((size_t)128 * 1024 * 1024)
#define STORE_DEFAULT_BUSY_MS 5000
#define STORE_DEFAULT_TTL_MS (7LL * 24 * 3600 * 1000) /* 7 days, as Azure */
#define STORE_MAX_VISIBILITY_MS (7LL * 24 * 3600 * 1000)
#define STORE_TTL_NEVER (-1)        /* a put's ttl: the message never expires */
#define STORE_TIME_NEVER INT64_MAX  /* the expiration time of such a message */
#define STORE_SWEEP_INTERVAL_MS 60000
#define STORE_THREAD_NICE 5     /* the store's thread runs this much below the loop */
#define STORE_IDLE_RELEASE_MS 1000 /* idle this long after work: the backend's caches are freed */

/* ---- opening -------------------------------------------------------------- */

typedef struct store store_t;

/* Options of store_open. A zeroed struct (or NULL) means every default. */
typedef struct store_options {
    size_t max_body;          /* bytes of a message body; 0: 64 KiB */
    size_t max_value;         /* bytes of a key/value value; 0: 64 KiB */
    unsigned max_pending;     /* asynchronous operations accepted and not yet
                                 completed; past it calls get STORE_EFULL; 0: 10,000 */
    unsigned max_batch;       /* operations per transaction; 0: 1,000 */
    unsigned check_ms;        /* time budget of the integrity check at open; past it
                                 the check stops without error; 0: 2,000 ms */
    size_t check_max_bytes;   /* files up to this size get a full PRAGMA quick_check
                                 at open; bigger ones a partial check (the small
                                 tables, and each message index at both ends), so
                                 that opening stays quick; 0: 128 MiB */
    unsigned busy_timeout_ms; /* wait for a lock held by a reader; 0: 5,000 ms */
    /* 1: commit with SQLite synchronous=NORMAL instead of FULL. In WAL mode a
     * commit then survives a crash of the process but not a power loss or an
     * OS crash: the last transactions before it may roll back. Only for
     * stores whose contents can be rebuilt. */
    int sync_normal;
    /* 1: open for inspection only: no lock is taken (a running host may
     * hold it), no migration runs, every write fails with STORE_EIO. */
    int read_only;
    /* The clock, in ms since the epoch (UTC); NULL for the system's
     * real-time clock. Called once per batch, on the thread that runs it
     * (the store's, or the caller's for a synchronous call). */
    int64_t (*clock)(void *clock_data);
    void *clock_data;
} store_options_t;

/* Open the store that url names (forms above); app_root is the app folder
 * that the default location and relative paths use (NULL: relative paths
 * are relative to the working directory, and the default location is an
 * error). A missing file is created with the current schema; an existing
 * one is checked (PRAGMA quick_check, see check_ms) and migrated to the
 * current schema version. Returns STORE_OK with *out set, or a status with
 * a message in err naming the file and what is wrong (ESCHEME, ELOCKED,
 * ECORRUPT, EVERSION, EIO, EINVAL). Existing data is never re-created or
 * overwritten. opts may be NULL. */
int store_open(const char *url, const char *app_root, const store_options_t *opts,
               store_t **out, char *err, size_t errlen);

/* Attach the store to loop and start its thread. STORE_OK, STORE_EINVAL
 * (already started, or read-only: nothing to submit) or STORE_EIO. */
int store_start(store_t *st, uv_loop_t *loop);

/* A queue may have visible messages: called on the loop thread after a
 * commit that made messages visible at once in `queue` (a put without a
 * delay, an update with a zero timeout, a poison move: then the poison
 * queue; a release: each queue that got messages back), once per queue per
 * batch, before the batch's completions. Asynchronous calls only. A
 * queue trigger can fetch at once instead of waiting for its next poll.
 * queue is valid during the call only. cb NULL removes it. */
typedef void (*store_notify_cb)(store_t *st, const char *queue, void *data);
void store_set_notify(store_t *st, store_notify_cb cb, void *data);

/* Stop the thread (see the lifecycle above); stop_cb(st, data) runs on the
 * loop once every accepted operation completed and the loop's handle is
 * closed. STORE_OK, or STORE_ESTOPPED when not started or already
 * stopping (stop_cb is then not called). */
typedef void (*store_stop_cb)(store_t *st, void *data);
int store_stop(store_t *st, store_stop_cb stop_cb, void *data);

/* Close the backend (releasing its lock) and free st. The store must not
 * be started (stop it first). NULL is allowed. */
void store_close(store_t *st);

/* The backend's name ("sqlite") and what it opened (the file's path). */
const char *store_backend_name(const store_t *st);
const char *store_location(const store_t *st);

/* The schema version of the open store. */
int store_schema_version(const store_t *st);

/* The outcome of the integrity check at open: "ok", "new store",
 * "skipped: read-only", "partial: N MiB file; ..." (see check_max_bytes),
 * or "incomplete: time budget of N ms reached". */
const char *store_check_result(const store_t *st);

typedef struct store_stats {
    uint64_t transactions; /* committed (or rolled back) transactions of operations */
    uint64_t operations;   /* operations run, synchronous and asynchronous */
    uint64_t rejected;     /* asynchronous calls refused with STORE_EFULL */
    uint64_t expired;      /* expired messages removed */
    unsigned largest_batch;
    unsigned pending;      /* asynchronous operations accepted and not completed */
} store_stats_t;

void store_stats(store_t *st, store_stats_t *out);

/* ---- requests ------------------------------------------------------------- */

typedef enum store_op {
    STORE_OP_NONE = 0,
    STORE_OP_QUEUE_PUT,
    STORE_OP_QUEUE_GET,
    STORE_OP_QUEUE_PEEK,
    STORE_OP_QUEUE_DELETE,
    STORE_OP_QUEUE_UPDATE,
    STORE_OP_QUEUE_POISON,
    STORE_OP_QUEUE_CLEAR,
    STORE_OP_QUEUE_COUNT,
    STORE_OP_QUEUE_LIST,
    STORE_OP_QUEUE_RELEASE,
    STORE_OP_SWEEP,
    STORE_OP_KV_PUT,
    STORE_OP_KV_GET,
    STORE_OP_KV_DELETE,
    STORE_OP_KV_LIST,
    STORE_OP_HISTORY_PUT,
    STORE_OP_HISTORY_LIST,
    STORE_OP_HISTORY_GET,
    STORE_OP_HISTORY_PRUNE
} store_op_t;

/* One message with Azure's metadata. */
typedef struct store_msg {
    char id[STORE_ID_LEN];          /* a UUID (version 7: later messages sort later) */
    char pop_receipt[STORE_ID_LEN]; /* "" in peek results */
    uint32_t dequeue_count;         /* deliveries so far, this one included */
    int64_t insertion_time;
    int64_t expiration_time;        /* STORE_TIME_NEVER when it never expires */
    int64_t next_visible_time;
    unsigned char *body;            /* followed by a NUL byte not counted in body_len;
                                       NULL in put/update/poison results */
    size_t body_len;
} store_msg_t;

/* One queue's depth. Expired messages are not counted. */
typedef struct store_queue_info {
    char name[STORE_QUEUE_REF_MAX + 1];
    int64_t visible;               /* deliverable now */
    int64_t invisible;             /* delivered and not yet back, or delayed */
    int64_t oldest_insertion_time; /* of the oldest message, 0 when empty */
    int64_t oldest_age_ms;         /* now - oldest_insertion_time, 0 when empty */
} store_queue_info_t;

/* One key/value entry. */
typedef struct store_kv {
    char *key;            /* NUL-terminated */
    unsigned char *value; /* followed by a NUL byte not counted in value_len */
    size_t value_len;
    int64_t updated_time;
} store_kv_t;

/* One invocation in the history. In results every string belongs to the
 * request; in a put's records they belong to the caller (and are copied). */
typedef struct store_inv {
    char id[STORE_ID_LEN];    /* the invocation id */
    char *function;           /* 1 to STORE_HISTORY_NAME_MAX bytes */
    char *trigger;            /* the trigger's type ("httpTrigger"), up to
                                 STORE_HISTORY_NAME_MAX bytes */
    int64_t start_ms;         /* when it started, ms since the epoch */
    int64_t duration_us;
    int ok;                   /* 1 succeeded, 0 failed */
    int http_status;          /* the HTTP status answered, 0 when not HTTP */
    char *error;              /* the failure reason, NULL when none */
    char traceparent[56];     /* W3C traceparent, "" when none */
    char *logs;               /* its log lines, one per line, NULL when none (and in
                                 list results) */
} store_inv_t;

typedef struct store_req store_req_t;
typedef void (*store_cb)(store_req_t *req);

struct store_req {
    void *data; /* the caller's; kept by every call */

    /* ---- outcome and results (valid until store_req_cleanup) ---- */
    store_op_t op;
    int status;              /* STORE_OK or a STORE_E* code */
    char err[STORE_ERR_LEN]; /* why, when status != STORE_OK */
    store_msg_t *msgs;       /* get, peek: the messages; put, update, poison: one, the
                                message's new metadata (for poison, in the poison queue) */
    size_t n_msgs;
    store_queue_info_t *queues; /* count: one; list: each queue, by name; release: each
                                   queue that got messages back, with its depth after */
    size_t n_queues;
    store_kv_t *kvs;         /* kv get: one; kv list: by key */
    size_t n_kvs;
    store_inv_t *invs;       /* history list: newest first; history get: one */
    size_t n_invs;
    int64_t next_batch;      /* history list, truncated: where the next page starts */
    int next_index;          /*   (store_history_filter_t.after_batch, after_index) */
    int64_t count;           /* clear: messages removed; sweep, get: expired messages
                                removed; release: messages made visible; history
                                put: records written; history prune: removed */
    int truncated;           /* list, kv list: more entries than returned */

    /* ---- the call's arguments, copied (read-only; backends read them) ---- */
    struct store_args {
        char queue[STORE_QUEUE_REF_MAX + 1];
        char poison[STORE_QUEUE_REF_MAX + 1]; /* poison: "<queue>-poison" */
        char id[STORE_ID_LEN];
        char receipt[STORE_ID_LEN];
        char ns[STORE_NS_MAX + 1];
        char *key;                 /* kv: the key; kv list: the prefix */
        const unsigned char *body; /* put: body; kv put: value */
        size_t body_len;
        int64_t delay_ms;          /* put: initial invisibility */
        int64_t ttl_ms;            /* put: time to live (resolved: > 0, or STORE_TTL_NEVER) */
        int64_t timeout_ms;        /* get, update: visibility timeout */
        unsigned max;              /* get, peek, kv list, history list: most entries */
        /* history: put's records (copied); list's filter (function in key);
         * prune's limits */
        const store_inv_t *invs;
        size_t n_invs;
        int status;                /* list: STORE_HISTORY_* */
        int64_t since_ms;
        int64_t after_batch;       /* list: the page position (INT64_MAX: the newest) */
        int after_index;
        int64_t max_count, max_age_ms;
    } in;

    /* ---- private to the store ---- */
    store_t *store_;
    store_cb cb_;
    store_req_t *next_;
    void *mem_;   /* the copies of body and key */
    int notify_;  /* made messages visible: tell the notify callback */
};

/* Free a request's results and argument copies; the request may then be
 * reused. Safe on a request that was zeroed or already cleaned up. */
void store_req_cleanup(store_req_t *req);

/* ---- queues ----------------------------------------------------------------
 * Queue names follow Azure: 3 to 63 characters, lower-case letters, digits
 * and dashes, starting and ending with a letter or digit, no two dashes in
 * a row; "<name>-poison" is also accepted (the poison queue of a name). A
 * queue exists once a message was put into it.
 */

/* Check a queue name: STORE_OK, or STORE_EINVAL with a message in err
 * naming the rule it breaks. err may be NULL. */
int store_queue_name_check(const char *name, char *err, size_t errlen);

/* Add a message: body (len bytes, up to max_body; copied), invisible for
 * delay_ms (0 to 7 days, and less than the ttl), expiring after ttl_ms
 * (0: 7 days; STORE_TTL_NEVER: never). Result: msgs[0] with the new id, a
 * pop receipt (for deleting or updating it without a get) and its times. */
int store_queue_put(store_t *st, store_req_t *req, const char *queue, const void *body,
                    size_t len, int64_t delay_ms, int64_t ttl_ms, store_cb cb);

/* Deliver up to max (1..32) visible messages, oldest visible first: each
 * gets DequeueCount + 1, a new pop receipt, and becomes invisible until
 * now + visibility_ms (0 to 7 days), leased until deleted, updated or
 * moved to poison (see store_queue_release). Expired messages met on the way are
 * removed, never delivered. Result: msgs (n_msgs may be 0). */
int store_queue_get(store_t *st, store_req_t *req, const char *queue, unsigned max,
                    int64_t visibility_ms, store_cb cb);

/* Up to max (1..32) visible messages, without changing anything (no
 * receipt, no DequeueCount change). */
int store_queue_peek(store_t *st, store_req_t *req, const char *queue, unsigned max,
                     store_cb cb);

/* Delete a delivered message: STORE_OK, STORE_ESTALE (delivered again
 * since: the receipt is not current; nothing changes) or STORE_ENOTFOUND
 * (no such message: deleted, expired, or never there). */
int store_queue_delete(store_t *st, store_req_t *req, const char *queue, const char *id,
                       const char *receipt, store_cb cb);

/* Make a delivered message visible again after visibility_ms (0: at once;
 * a retry after a delay). Gives a new pop receipt: msgs[0] has it and the
 * new next visible time. STORE_ESTALE / STORE_ENOTFOUND as delete. */
int store_queue_update(store_t *st, store_req_t *req, const char *queue, const char *id,
                       const char *receipt, int64_t visibility_ms, store_cb cb);

/* Move a delivered message to "<queue>-poison" in one atomic step: the same
 * body as a new message there (as Azure's poison copy: a new id,
 * DequeueCount 0, visible at once, a new pop receipt, the default time to
 * live). msgs[0] describes it in the poison queue. STORE_ESTALE /
 * STORE_ENOTFOUND as delete (nothing moves). */
int store_queue_poison(store_t *st, store_req_t *req, const char *queue, const char *id,
                       const char *receipt, store_cb cb);

/* Give back every leased message of queue (NULL: of every queue): the
 * messages a get handed out that were neither deleted, updated nor moved
 * to poison since. Each becomes visible at once (or stays visible since
 * earlier, keeping its place), keeps its DequeueCount (as Azure, a
 * delivery counts even when its consumer died) and gets a new pop receipt:
 * the old one is stale (STORE_ESTALE). Messages made invisible by a put's
 * delay or an update are not leased and stay invisible. count says how
 * many were released (expired ones lose the lease but are not counted:
 * they are never delivered); queues lists each queue that got messages
 * back, with its depth after. One host uses a store at a time (the lock
 * of store_open), so at start-up every leased message is an orphan of a
 * host that stopped without settling it (killed, crashed): releasing them
 * all then spares them the rest of their visibility timeout. */
int store_queue_release(store_t *st, store_req_t *req, const char *queue, store_cb cb);

/* Remove every message of a queue (the queue stays); count says how many. */
int store_queue_clear(store_t *st, store_req_t *req, const char *queue, store_cb cb);

/* One queue's depth in queues[0] (zeros for a queue that does not exist). */
int store_queue_count(store_t *st, store_req_t *req, const char *queue, store_cb cb);

/* Every queue with its depth, by name (at most STORE_LIST_MAX; truncated
 * says there were more). */
int store_queue_list(store_t *st, store_req_t *req, store_cb cb);

/* Remove expired messages now (the store also does it about once a
 * minute, and whenever a get meets them); count says how many. */
int store_sweep(store_t *st, store_req_t *req, store_cb cb);

/* ---- key/value -------------------------------------------------------------
 * Namespaces: 1 to 64 of [a-z0-9._-] (e.g. "timer", "blob-receipts");
 * keys: 1 to 1024 bytes of text. Values: bytes, up to max_value.
 */

/* Create or replace ns/key. */
int store_kv_put(store_t *st, store_req_t *req, const char *ns, const char *key,
                 const void *value, size_t len, store_cb cb);

/* ns/key into kvs[0], or STORE_ENOTFOUND. */
int store_kv_get(store_t *st, store_req_t *req, const char *ns, const char *key, store_cb cb);

/* Remove ns/key: STORE_OK, or STORE_ENOTFOUND when it was not there. */
int store_kv_delete(store_t *st, store_req_t *req, const char *ns, const char *key,
                    store_cb cb);

/* Up to max (1..STORE_LIST_MAX) entries of ns whose key starts with prefix
 * ("" or NULL: all), by key; truncated says there were more. */
int store_kv_list(store_t *st, store_req_t *req, const char *ns, const char *prefix,
                  unsigned max, store_cb cb);

/* ---- invocation history ----------------------------------------------------
 * What ran, kept for looking back (the admin API's /admin/invocations):
 * one record per invocation with its outcome and log lines. Each put is
 * kept as one batch; records are listed newest first: later batches
 * first, and in a batch the later records of the put first. A page ends at
 * a position (next_batch, next_index) that the next list continues from
 * (after_batch, after_index): stable while records are added or retention
 * removes older ones.
 */

#define STORE_HISTORY_NAME_MAX 128          /* function and trigger names */
#define STORE_HISTORY_ERROR_MAX (8 * 1024)  /* bytes of an error text */
#define STORE_HISTORY_LOGS_MAX (64 * 1024)  /* bytes of a record's logs */
#define STORE_HISTORY_PUT_MAX 10000         /* records per put */
#define STORE_HISTORY_LIST_MAX 1000         /* records per list */
#define STORE_HISTORY_PRUNE_CHUNK 1000      /* batches removed by age per statement */
#define STORE_HISTORY_BATCH_BYTES (4 << 20) /* a put's records are split into batches of
                                               about this size */

enum { STORE_HISTORY_ANY = -1, STORE_HISTORY_FAILED = 0, STORE_HISTORY_SUCCEEDED = 1 };

typedef struct store_history_filter {
    const char *function; /* NULL: any */
    int status;           /* STORE_HISTORY_ANY, _FAILED or _SUCCEEDED */
    int64_t since_ms;     /* started at or after; 0: no bound */
    int64_t after_batch;  /* continue after this position (a list's next_batch and */
    int after_index;      /* next_index); after_batch 0: from the newest */
    unsigned limit;       /* 1..STORE_HISTORY_LIST_MAX */
} store_history_filter_t;

/* Write n (1..STORE_HISTORY_PUT_MAX) records, copied, as one batch (or a
 * few, past STORE_HISTORY_BATCH_BYTES). count says how many were written.
 * STORE_EINVAL names the record and field that is wrong (nothing is
 * written then). */
int store_history_put(store_t *st, store_req_t *req, const store_inv_t *recs, size_t n,
                      store_cb cb);

/* Up to f->limit records that pass the filter, newest first, without their
 * logs, into invs; truncated says there may be more: the next page starts
 * after (next_batch, next_index). Scanning stops at batches whose records
 * all started before since_ms. */
int store_history_list(store_t *st, store_req_t *req, const store_history_filter_t *f,
                       store_cb cb);

/* The record with invocation id `id`, logs included, in invs[0], or
 * STORE_ENOTFOUND. Searches the batches newest first (the history is
 * bounded by its retention). */
int store_history_get(store_t *st, store_req_t *req, const char *id, store_cb cb);

/* Retention: remove the batches whose records all started before now -
 * max_age_ms (-1: no age limit; at most 10 * STORE_HISTORY_PRUNE_CHUNK
 * batches per call), then all but the newest max_count records (-1: no
 * count limit; a batch that is partly beyond the limit is rewritten
 * without its oldest records). count says how many records went. */
int store_history_prune(store_t *st, store_req_t *req, int64_t max_count, int64_t max_age_ms,
                        store_cb cb);

#endif
