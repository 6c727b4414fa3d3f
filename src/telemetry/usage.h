/*
 * usage.h -- usage metering: executions and GB-seconds per function, per
 * UTC hour and in total, counted the way Azure Functions' Consumption plan
 * bills them.
 *
 * Rules (see docs/metrics.md): an execution's memory is the resident
 * memory of the process that ran it, rounded up to the next 128 MB, at
 * least 128 MB and at most 1,536 MB; its duration is rounded up to the
 * next millisecond, at least 100 ms. Its consumption is memory (MB) times
 * duration (ms), kept exactly as an integer of MB-milliseconds; GB-seconds
 * are MB-ms / (1024 * 1000).
 *
 * A usage_fn_t is plain memory (no allocation); recording is O(1).
 */
#ifndef STRATUS_USAGE_H
#define STRATUS_USAGE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define USAGE_HOURS 48          /* hourly buckets kept in memory */
#define USAGE_MIN_MB 128
#define USAGE_MAX_MB 1536
#define USAGE_MB_STEP 128
#define USAGE_MIN_MS 100
#define USAGE_MBMS_PER_GBS (1024.0 * 1000.0)

typedef struct usage_hour {
    int64_t hour;          /* hours since the epoch (UTC); -1 = empty */
    uint64_t executions;
    uint64_t mb_ms;
} usage_hour_t;

typedef struct usage_fn {
    uint64_t executions;
    uint64_t mb_ms;
    usage_hour_t hours[USAGE_HOURS]; /* ring indexed by hour % USAGE_HOURS */
} usage_fn_t;

/* The billed memory in MB for a measured resident size in bytes (0 = not
 * known: the minimum). */
uint64_t usage_billed_mb(uint64_t mem_bytes);

/* The billed duration in ms for a measured duration in ns. */
uint64_t usage_billed_ms(uint64_t duration_ns);

/* Empty u. */
void usage_fn_init(usage_fn_t *u);

/* Count one execution that took duration_ns with mem_bytes resident,
 * ended at unix time now_s. */
void usage_record(usage_fn_t *u, int64_t now_s, uint64_t duration_ns, uint64_t mem_bytes);

/* Add a number of executions and MB-ms to hour (hours since the epoch) and
 * to the total; used when loading saved usage. Hours that are older than
 * the ring keeps (relative to now_s) only count in the total. */
void usage_add(usage_fn_t *u, int64_t now_s, int64_t hour, uint64_t executions, uint64_t mb_ms);

/* u as JSON (new reference): {"executions", "gbSeconds", "mbMilliseconds",
 * "hourly": [{"hour": "2026-11-27T10:00:00Z", "executions", "gbSeconds",
 * "mbMilliseconds"}, ...]} with the hours of the last USAGE_HOURS that
 * have executions, oldest first. NULL when out of memory. */
json_t *usage_fn_json(const usage_fn_t *u, int64_t now_s);

#endif
