/*
 * logstream.h -- the host's live log, streamed to HTTP clients
 * (GET /admin/logs?follow=true, `stratus logs --follow`): every line the
 * host writes from the moment a client follows, one per line, as JSON
 * objects or text, optionally only a function's lines, until the client
 * goes away or the host stops.
 *
 * Bounded: a client that reads slower than the host logs gets lines
 * dropped (and a notice of how many when it catches up), never more than
 * LOGSTREAM_MAX_UNSENT bytes waiting in the host. At most
 * LOGSTREAM_MAX_CLIENTS follow at once.
 *
 * Loop thread only. The log observer is registered while someone follows,
 * so the log costs nothing extra otherwise.
 */
#ifndef STRATUS_LOGSTREAM_H
#define STRATUS_LOGSTREAM_H

#include <stddef.h>

#include "../http/server.h"

#define LOGSTREAM_MAX_CLIENTS 16
#define LOGSTREAM_MAX_UNSENT (256 * 1024)

/* Answer req with the live log: 200 and a chunked stream of lines;
 * function (copied; NULL: all) keeps only lines of category
 * "Function.<function>" and below; json chooses JSON objects
 * ({"time","level","category","invocationId","message"}) over text. 0, or
 * -1 when LOGSTREAM_MAX_CLIENTS already follow or the client is gone (req
 * is not answered then). */
int logstream_follow(http_request_t *req, const char *function, int json);

/* End every stream (the host is stopping). */
void logstream_stop_all(void);

/* Clients following now. */
size_t logstream_clients(void);

#endif
