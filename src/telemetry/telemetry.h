/*
 * telemetry.h -- what the host records about its work, reported from one
 * place: every invocation's start and end (HTTP front end and binding
 * host), every HTTP answer, every worker cold start. The metrics, the
 * invocation history and usage metering read from here.
 *
 * The calls are made on the loop thread, on the request path: they only
 * update counters in memory and queue records; anything slow (writing the
 * history to the store, formatting /metrics) happens elsewhere.
 */
#ifndef STRATUS_TELEMETRY_H
#define STRATUS_TELEMETRY_H

#include <stddef.h>
#include <stdint.h>

struct stratus_ctx;
struct app;

/* Set up for an app (function names are known from here on). 0 or -1. */
int telemetry_init(struct app *app);

/* Release what telemetry_init made. */
void telemetry_free(void);

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

#endif
