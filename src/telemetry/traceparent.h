/*
 * traceparent.h -- W3C Trace Context (https://www.w3.org/TR/trace-context/):
 * reading the `traceparent` header a caller sent, and making the one of an
 * invocation: the caller's trace id (or a new random one) with a new span
 * id of its own.
 *
 * The text form is "00-<32 hex trace id>-<16 hex parent id>-<2 hex flags>"
 * (55 characters), lower-case hex only.
 */
#ifndef STRATUS_TRACEPARENT_H
#define STRATUS_TRACEPARENT_H

#include <stddef.h>

#include "../util/sv.h"

#define TRACEPARENT_LEN 55   /* the version-00 text */
#define TRACEPARENT_SIZE 56  /* with its NUL */
#define TRACESTATE_MAX 512   /* longest tracestate passed on (the spec's limit) */

typedef struct traceparent {
    char trace_id[33]; /* 32 lower-case hex digits and a NUL */
    char parent_id[17];
    unsigned flags;
} traceparent_t;

/* Parse a header value strictly: version 00 of exactly 55 characters, or a
 * later version (01..fe) whose first 55 characters have the same shape and
 * which has nothing or '-' after them; lower-case hex; a trace id and a
 * parent id that are not all zeros; version ff refused. 0 with *out set,
 * or -1 (the header is to be ignored, and tracestate with it). */
int traceparent_parse(sv_t text, traceparent_t *out);

/* The traceparent of a new span: trace_id from parent when parent is not
 * NULL (its flags kept), else a new random trace id (flags 00); a new
 * random span id. Writes the version-00 text (TRACEPARENT_SIZE bytes). */
void traceparent_child(const traceparent_t *parent, char out[TRACEPARENT_SIZE]);

/* A new span with the trace id (and flags) of the version-00 text tp,
 * which this module made. Writes TRACEPARENT_SIZE bytes. */
void traceparent_next_span(const char *tp, char out[TRACEPARENT_SIZE]);

/* 1 when tracestate (n bytes) may be passed on: at most TRACESTATE_MAX
 * bytes of printable ASCII. */
int tracestate_ok(sv_t text);

#endif
