/*
 * telemetry.h -- what the host records about its work, reported from one
 * place: every invocation's start and end (HTTP front end and binding
 * host), every HTTP answer, every worker cold start. The metrics
 * (/metrics, metrics.h), the invocation history and usage metering
 * (usage.h) read from here.
 *
 * The calls are made on the loop thread, on the request path: they only
 * update counters in memory and queue records, in O(1) and without
 * allocating; anything slow (formatting /metrics, reading /proc, writing to
 * the store) happens at scrape time or on the sampling timer.
 *
 * Lifecycle: telemetry_init() once the app is loaded (tables sized for its
 * functions), telemetry_start() once the loop runs (the one-second sampler),
 * telemetry_stop() before the loop closes, telemetry_free() at the end.
 * With host.json stratus.telemetry.enabled false, the hooks record nothing.
 */
#ifndef STRATUS_TELEMETRY_H
#define STRATUS_TELEMETRY_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "../util/buf.h"

struct stratus_ctx;
struct app;

/* Set up for an app (function names are known from here on): gives each
 * function its telemetry_id. 0, or -1 when out of memory. */
int telemetry_init(struct app *app);

/* Start sampling the host's resident memory every second on loop. */
void telemetry_start(uv_loop_t *loop);

/* Stop the sampler (closes its handle; the loop then runs it down). */
void telemetry_stop(void);

/* A reloaded version of the app serves from now on: its functions get
 * their slots (a function keeps its counters by name). 0 or -1 (out of
 * memory: new functions go unrecorded). */
int telemetry_switch_app(struct app *app);

/* Release what telemetry_init made. */
void telemetry_free(void);

/* 1 when recording (stratus.telemetry.enabled), else 0. */
int telemetry_enabled(void);

/* An invocation starts running (after routing and authorization; for
 * trigger events, each attempt). */
void telemetry_begin(struct stratus_ctx *inv);

/* It ended: ok, the HTTP status (0 when not HTTP), its duration, and the
 * failure reason (NULL when ok). Called once per telemetry_begin. */
void telemetry_end(struct stratus_ctx *inv, int ok, int status, uint64_t duration_ns,
                   const char *reason);

/* The host answered an HTTP request (user functions, admin API, errors)
 * with status. */
void telemetry_http(int status);

/* A worker of runtime became ready after ms milliseconds (a cold start). */
void telemetry_cold_start(const char *runtime, double ms);

/* Invocations running now (begun and not ended). */
size_t telemetry_inflight(void);

/* Resident memory of process pid (0: this process) from /proc, in bytes;
 * 0 when it cannot be read. A file read: for timers, not request paths. */
uint64_t telemetry_rss_bytes(int pid);

/* What the host adds to a scrape: instances per runtime and the default
 * store's queues. */
typedef struct telemetry_instances {
    const char *runtime;
    int64_t instances;
} telemetry_instances_t;

typedef struct telemetry_queue {
    const char *name;
    int64_t visible, invisible;
    int64_t oldest_age_ms;
} telemetry_queue_t;

typedef struct telemetry_scrape {
    const telemetry_instances_t *instances;
    size_t ninstances;
    const telemetry_queue_t *queues;
    size_t nqueues;
    int store_up;            /* the store answered the queue listing */
} telemetry_scrape_t;

/* Write every metric in the Prometheus text format to b. 0, or -1 when b
 * is full or out of memory. */
int telemetry_write_metrics(buf_t *b, const telemetry_scrape_t *x);

/* Usage of every loaded function (new reference): {"since", "now",
 * "rules", "functions": {name: usage_fn_json}}. NULL when out of memory. */
json_t *telemetry_usage_json(void);

#endif
