/*
 * test_metrics.c -- the Prometheus text format (families, label escaping,
 * samples, histograms with cumulative buckets and +Inf), histogram bucket
 * math, and usage metering's rounding and hourly buckets.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/telemetry/metrics.h"
#include "../../src/telemetry/usage.h"
#include "test.h"

static const uint64_t bounds3[] = {1000000, 10000000, 100000000}; /* 1 ms, 10 ms, 100 ms */

TEST(hist_buckets_le)
{
    metrics_hist_t h;
    metrics_hist_init(&h, bounds3, 3);
    metrics_hist_observe(&h, 0);
    metrics_hist_observe(&h, 1000000);   /* exactly on a bound: that bucket (le) */
    metrics_hist_observe(&h, 1000001);
    metrics_hist_observe(&h, 100000000);
    metrics_hist_observe(&h, 100000001); /* +Inf */
    CHECK_INT(h.counts[0], 2);
    CHECK_INT(h.counts[1], 1);
    CHECK_INT(h.counts[2], 1);
    CHECK_INT(h.counts[3], 1);
    CHECK_INT(h.count, 5);
    CHECK_INT(h.sum_ns, 202000002);
}

TEST(hist_exposition)
{
    metrics_hist_t h;
    metrics_hist_init(&h, bounds3, 3);
    metrics_hist_observe(&h, 500000);
    metrics_hist_observe(&h, 5000000);
    metrics_hist_observe(&h, 2000000000);
    buf_t b;
    buf_init(&b, 1 << 20);
    CHECK_INT(metrics_hist_write(&b, "x_seconds", "f=\"a\"", &h), 0);
    CHECK_STR(b.p, "x_seconds_bucket{f=\"a\",le=\"0.001\"} 1\n"
                   "x_seconds_bucket{f=\"a\",le=\"0.01\"} 2\n"
                   "x_seconds_bucket{f=\"a\",le=\"0.1\"} 2\n"
                   "x_seconds_bucket{f=\"a\",le=\"+Inf\"} 3\n"
                   "x_seconds_sum{f=\"a\"} 2.005500000\n"
                   "x_seconds_count{f=\"a\"} 3\n");
    buf_reset(&b);
    metrics_hist_init(&h, bounds3, 1);
    CHECK_INT(metrics_hist_write(&b, "y", NULL, &h), 0);
    CHECK_STR(b.p, "y_bucket{le=\"0.001\"} 0\ny_bucket{le=\"+Inf\"} 0\ny_sum 0.000000000\n"
                   "y_count 0\n");
    buf_free(&b);
}

TEST(standard_bounds_ascending)
{
    for (size_t i = 1; i < metrics_duration_nbounds; i++)
        CHECK(metrics_duration_bounds[i] > metrics_duration_bounds[i - 1]);
    for (size_t i = 1; i < metrics_cold_start_nbounds; i++)
        CHECK(metrics_cold_start_bounds[i] > metrics_cold_start_bounds[i - 1]);
    CHECK(metrics_duration_nbounds <= METRICS_MAX_BUCKETS);
    CHECK(metrics_cold_start_nbounds <= METRICS_MAX_BUCKETS);
}

TEST(family_and_samples)
{
    buf_t b;
    buf_init(&b, 1 << 20);
    CHECK_INT(metrics_family(&b, "a_total", "Line one\nback\\slash \"q\"", "counter"), 0);
    CHECK_INT(metrics_sample_u(&b, "a_total", "code=\"200\"", 18446744073709551615ull), 0);
    CHECK_INT(metrics_sample_u(&b, "a_total", NULL, 0), 0);
    CHECK_INT(metrics_sample_d(&b, "g", "", 0.25), 0);
    CHECK_INT(metrics_sample_d(&b, "g", NULL, NAN), 0);
    CHECK_INT(metrics_sample_d(&b, "g", NULL, -INFINITY), 0);
    CHECK_STR(b.p, "# HELP a_total Line one\\nback\\\\slash \"q\"\n"
                   "# TYPE a_total counter\n"
                   "a_total{code=\"200\"} 18446744073709551615\n"
                   "a_total 0\n"
                   "g 0.25\n"
                   "g NaN\n"
                   "g -Inf\n");
    buf_free(&b);
}

TEST(label_escaping)
{
    char out[128];
    const char *pairs[] = {"function", "a\"b\\c\nd", "trigger", "queueTrigger"};
    CHECK_INT(metrics_labels(out, sizeof out, 2, pairs), 0);
    CHECK_STR(out, "function=\"a\\\"b\\\\c\\nd\",trigger=\"queueTrigger\"");
    CHECK_INT(metrics_labels(out, sizeof out, 0, pairs), 0);
    CHECK_STR(out, "");
    char small[16];
    CHECK_INT(metrics_labels(small, sizeof small, 2, pairs), -1);
}

TEST(full_buffer_fails)
{
    buf_t b;
    buf_init(&b, 40);
    metrics_hist_t h;
    metrics_hist_init(&h, bounds3, 3);
    CHECK_INT(metrics_hist_write(&b, "too_long_for_forty_bytes", NULL, &h), -1);
    buf_free(&b);
}

TEST(usage_rounding)
{
    const uint64_t MB = 1u << 20;
    CHECK_INT(usage_billed_mb(0), 128);           /* unknown: the minimum */
    CHECK_INT(usage_billed_mb(1), 128);
    CHECK_INT(usage_billed_mb(128 * MB), 128);
    CHECK_INT(usage_billed_mb(128 * MB + 1), 256);
    CHECK_INT(usage_billed_mb(160 * MB), 256);    /* Azure's own example */
    CHECK_INT(usage_billed_mb(1536 * MB), 1536);
    CHECK_INT(usage_billed_mb(4096 * MB), 1536);  /* the maximum */
    CHECK_INT(usage_billed_ms(0), 100);
    CHECK_INT(usage_billed_ms(99999999), 100);
    CHECK_INT(usage_billed_ms(100000000), 100);
    CHECK_INT(usage_billed_ms(100000001), 101);   /* up to the next ms */
    CHECK_INT(usage_billed_ms(2500000000ull), 2500);
}

TEST(usage_hours)
{
    usage_fn_t *u = malloc(sizeof *u);
    usage_fn_init(u);
    const uint64_t MB = 1u << 20;
    int64_t t0 = 1795737600; /* 2026-11-27T00:00:00Z */
    usage_record(u, t0 + 10, 3000000000ull, 512 * MB); /* 512 MB x 3000 ms */
    usage_record(u, t0 + 20, 1000000, 100 * MB);       /* 128 MB x 100 ms */
    usage_record(u, t0 + 3600, 250000000, 200 * MB);   /* next hour: 256 MB x 250 ms */
    CHECK_INT(u->executions, 3);
    CHECK_INT(u->mb_ms, 512 * 3000 + 128 * 100 + 256 * 250);
    json_t *j = usage_fn_json(u, t0 + 3700);
    CHECK(j != NULL);
    CHECK_INT(json_integer_value(json_object_get(j, "executions")), 3);
    CHECK(fabs(json_real_value(json_object_get(j, "gbSeconds")) -
               (512.0 * 3000 + 128 * 100 + 256 * 250) / (1024.0 * 1000)) < 1e-9);
    json_t *hourly = json_object_get(j, "hourly");
    CHECK_INT(json_array_size(hourly), 2);
    CHECK_STR(json_string_value(json_object_get(json_array_get(hourly, 0), "hour")),
              "2026-11-27T00:00:00Z");
    CHECK_INT(json_integer_value(json_object_get(json_array_get(hourly, 0), "executions")), 2);
    CHECK_INT(json_integer_value(json_object_get(json_array_get(hourly, 1), "mbMilliseconds")),
              256 * 250);
    json_decref(j);
    /* 48 hours later the first hours have left the ring; the total stays. */
    j = usage_fn_json(u, t0 + 49 * 3600);
    CHECK_INT(json_array_size(json_object_get(j, "hourly")), 0);
    CHECK_INT(json_integer_value(json_object_get(j, "executions")), 3);
    json_decref(j);
    /* The slot of hour 0 reused by hour 48 starts from zero; hour 1 is
     * still within the last 48 hours. */
    usage_record(u, t0 + 48 * 3600 + 5, 1, 0);
    j = usage_fn_json(u, t0 + 48 * 3600 + 5);
    hourly = json_object_get(j, "hourly");
    CHECK_INT(json_array_size(hourly), 2);
    CHECK_STR(json_string_value(json_object_get(json_array_get(hourly, 0), "hour")),
              "2026-11-27T01:00:00Z");
    CHECK_STR(json_string_value(json_object_get(json_array_get(hourly, 1), "hour")),
              "2026-11-29T00:00:00Z");
    CHECK_INT(json_integer_value(json_object_get(json_array_get(hourly, 1), "executions")), 1);
    CHECK_INT(json_integer_value(json_object_get(json_array_get(hourly, 1), "mbMilliseconds")),
              128 * 100);
    json_decref(j);
    free(u);
}

int main(void)
{
    RUN(hist_buckets_le);
    RUN(hist_exposition);
    RUN(standard_bounds_ascending);
    RUN(family_and_samples);
    RUN(label_escaping);
    RUN(full_buffer_fails);
    RUN(usage_rounding);
    RUN(usage_hours);
    return TEST_REPORT();
}
