/*
 * metrics.h -- histograms and the Prometheus text exposition format
 * (version 0.0.4): what the host's /metrics is written with.
 *
 * A histogram has fixed upper bounds (nanoseconds, ascending) chosen at
 * compile time; observing a value is a short scan and two additions, no
 * allocation. The writer functions append to a buf_t; they return 0, or -1
 * when the buffer is full (its hard maximum) or out of memory, and the
 * caller gives up on the whole scrape.
 *
 * Names follow Prometheus' conventions: base units (seconds, bytes),
 * counters end in _total, a histogram is exposed as <name>_bucket with an
 * "le" label (cumulative, ending with le="+Inf"), <name>_sum and
 * <name>_count.
 */
#ifndef STRATUS_METRICS_H
#define STRATUS_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "../util/buf.h"

#define METRICS_MAX_BUCKETS 20

typedef struct metrics_hist {
    const uint64_t *bounds;                  /* upper bounds in ns, ascending; static */
    size_t nbounds;                          /* <= METRICS_MAX_BUCKETS */
    uint64_t counts[METRICS_MAX_BUCKETS + 1]; /* per bucket, not cumulative; last: +Inf */
    uint64_t sum_ns;
    uint64_t count;
} metrics_hist_t;

/* Bounds for invocation durations (0.5 ms to 5 min) and for cold starts
 * (1 ms to 60 s). */
extern const uint64_t metrics_duration_bounds[];
extern const size_t metrics_duration_nbounds;
extern const uint64_t metrics_cold_start_bounds[];
extern const size_t metrics_cold_start_nbounds;

/* Empty histogram h with the given static bounds. */
void metrics_hist_init(metrics_hist_t *h, const uint64_t *bounds, size_t nbounds);

/* Count one value of ns nanoseconds: it falls in the first bucket whose
 * bound is >= ns (Prometheus' "le"), else in +Inf. */
void metrics_hist_observe(metrics_hist_t *h, uint64_t ns);

/* "# HELP name help\n# TYPE name type\n", with help escaped (\\ and \n). */
int metrics_family(buf_t *b, const char *name, const char *help, const char *type);

/* A label value, escaped as the format wants (\\, \" and \n), without the
 * quotes. */
int metrics_label_value(buf_t *b, const char *s);

/* One sample line: name, then labels when labels is not NULL (an already
 * formatted `k="v",k2="v2"` list, without braces), then the value. The
 * _u form writes an integer, the _d form a float (NaN and infinities as
 * Prometheus spells them). */
int metrics_sample_u(buf_t *b, const char *name, const char *labels, uint64_t v);
int metrics_sample_d(buf_t *b, const char *name, const char *labels, double v);

/* A family of one sample without labels: metrics_family, then the value. */
int metrics_single_u(buf_t *b, const char *name, const char *help, const char *type,
                     uint64_t v);

/* The _bucket, _sum (seconds) and _count lines of h under name, each with
 * labels (may be NULL) before the le label. */
int metrics_hist_write(buf_t *b, const char *name, const char *labels, const metrics_hist_t *h);

/* Format a label list into out: pairs of (name, value) strings, n pairs,
 * values escaped. 0, or -1 when out is too small. */
int metrics_labels(char *out, size_t outlen, size_t n, const char *const *pairs);

#endif
