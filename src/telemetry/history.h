/*
 * history.h -- the invocation history: every invocation's record (id,
 * function, trigger, start, duration, outcome, HTTP status, error,
 * traceparent) with the log lines it wrote, kept in the app's store for
 * the admin API (/admin/invocations) and `stratus invocations`.
 *
 * Off the request path: history_record() only fills a record in memory;
 * records are written to the store in puts of up to HISTORY_BATCH (in the
 * store's group commit with everything else; the store keeps a put as one
 * row, so the cost is per batch, not per invocation). With a count limit
 * the buffer keeps the newest max_count (older ones are superseded) and a
 * put goes out HISTORY_FLUSH_MS after the first record, or every
 * HISTORY_PACE_MS while a batch waits; without one, as soon as a batch
 * waits. When the store falls behind, at most HISTORY_PENDING_MAX records
 * wait; newer ones are dropped and counted. Log lines that carry an
 * invocation id are captured while the invocation runs (a log observer),
 * bounded by HISTORY_LOG_LINES and HISTORY_LOG_BYTES per invocation, and
 * attached to its record. Retention (count and age, host.json
 * stratus.history) is applied after writes (at most once a second) and
 * once a minute.
 *
 * Lifecycle (loop thread): history_start() once the default store is
 * started; history_stop() before that store stops (it submits what is
 * buffered and closes the timers); records made after it are dropped.
 */
#ifndef STRATUS_HISTORY_H
#define STRATUS_HISTORY_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "../store/store.h"

#define HISTORY_FLUSH_MS 1000
#define HISTORY_PACE_MS 200         /* with a batch or more waiting: one put this often */
#define HISTORY_PRUNE_MS 60000
#define HISTORY_PRUNE_MIN_MS 1000      /* retention after writes: at most this often */
#define HISTORY_PENDING_MAX 16384      /* records buffered; past it new ones are dropped */
#define HISTORY_BATCH 2048            /* this many buffered: written at once, not at the tick */
#define HISTORY_KEEP_CAP 256           /* buffer slots kept once everything is written */
#define HISTORY_LOG_LINES 100          /* captured lines per invocation */
#define HISTORY_LOG_BYTES (16 * 1024)  /* captured bytes per invocation */
#define HISTORY_LINE_MAX 2048          /* bytes of one captured line */
#define HISTORY_CAPTURES_MAX 4096      /* invocations with lines being captured */
#define HISTORY_CAPTURE_IDLE_MS (60LL * 60 * 1000) /* a capture left this long is dropped */

struct stratus_ctx;

typedef struct history_config {
    int64_t max_count;  /* records kept; -1: no limit */
    int64_t max_age_ms; /* -1: no limit */
} history_config_t;

/* Start recording into st (started on loop). 0, or -1 when already
 * started or out of memory. */
int history_start(uv_loop_t *loop, store_t *st, const history_config_t *cfg);

/* Submit what is buffered, stop capturing and close the timers (their
 * close callbacks run on the loop). Safe when not started. */
void history_stop(void);

/* Submit every buffered record now (ahead of the timer): a store
 * operation submitted after this sees them. */
void history_flush(void);

/* The store recorded into, or NULL when history is not running. */
store_t *history_store(void);

/* Record an invocation that ended (see telemetry_end). Cheap: a record in
 * memory, its captured lines attached. */
void history_record(struct stratus_ctx *inv, int ok, int status, uint64_t duration_ns,
                    const char *reason);

/* Records written, dropped (buffer full or a failed write) and waiting. */
typedef struct history_stats {
    uint64_t written;
    uint64_t dropped;
    uint64_t superseded; /* not written: newer records filled the count limit */
    size_t pending;
} history_stats_t;
void history_stats(history_stats_t *out);

/* ---- the per-invocation log capture (exposed for its unit test) ---- */

/* Add one line for invocation id, as the log observer does. */
void history_capture_line(const char *id, int level, const char *category, const char *msg,
                          size_t len);

/* Take the lines captured for id (a malloc'd text, one line per line,
 * "... N more lines" last when some did not fit), or NULL when none; the
 * capture is forgotten. */
char *history_capture_take(const char *id);

/* Forget every capture. */
void history_capture_clear(void);

#endif
