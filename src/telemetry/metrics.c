/*
 * metrics.c -- histograms and the Prometheus text format (see metrics.h).
 */
#include "metrics.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define MS(x) ((uint64_t)((x) * 1000000.0))

const uint64_t metrics_duration_bounds[] = {
    MS(0.5), MS(1),    MS(2.5),   MS(5),     MS(10),    MS(25),     MS(50),     MS(100),
    MS(250), MS(500),  MS(1000),  MS(2500),  MS(5000),  MS(10000),  MS(30000),  MS(60000),
    MS(300000),
};
const size_t metrics_duration_nbounds =
    sizeof metrics_duration_bounds / sizeof metrics_duration_bounds[0];

const uint64_t metrics_cold_start_bounds[] = {
    MS(1),    MS(2.5),  MS(5),    MS(10),    MS(25),    MS(50),    MS(100),
    MS(250),  MS(500),  MS(1000), MS(2500),  MS(5000),  MS(10000), MS(30000),
    MS(60000),
};
const size_t metrics_cold_start_nbounds =
    sizeof metrics_cold_start_bounds / sizeof metrics_cold_start_bounds[0];

void metrics_hist_init(metrics_hist_t *h, const uint64_t *bounds, size_t nbounds)
{
    memset(h, 0, sizeof *h);
    h->bounds = bounds;
    h->nbounds = nbounds > METRICS_MAX_BUCKETS ? METRICS_MAX_BUCKETS : nbounds;
}

void metrics_hist_observe(metrics_hist_t *h, uint64_t ns)
{
    size_t i = 0;
    while (i < h->nbounds && ns > h->bounds[i])
        i++;
    h->counts[i]++;
    h->sum_ns += ns;
    h->count++;
}

static int put_escaped(buf_t *b, const char *s, int quotes)
{
    size_t start = 0, i = 0;
    for (; s[i]; i++) {
        const char *esc = NULL;
        if (s[i] == '\\')
            esc = "\\\\";
        else if (s[i] == '\n')
            esc = "\\n";
        else if (quotes && s[i] == '"')
            esc = "\\\"";
        if (!esc)
            continue;
        if (buf_append(b, s + start, i - start) != 0 || buf_puts(b, esc) != 0)
            return -1;
        start = i + 1;
    }
    return buf_append(b, s + start, i - start);
}

int metrics_family(buf_t *b, const char *name, const char *help, const char *type)
{
    if (buf_printf(b, "# HELP %s ", name) != 0 || put_escaped(b, help, 0) != 0)
        return -1;
    return buf_printf(b, "\n# TYPE %s %s\n", name, type);
}

int metrics_label_value(buf_t *b, const char *s) { return put_escaped(b, s, 1); }

static int put_name(buf_t *b, const char *name, const char *labels)
{
    if (buf_puts(b, name) != 0)
        return -1;
    if (labels && *labels && (buf_putc(b, '{') != 0 || buf_puts(b, labels) != 0 ||
                              buf_putc(b, '}') != 0))
        return -1;
    return buf_putc(b, ' ');
}

int metrics_sample_u(buf_t *b, const char *name, const char *labels, uint64_t v)
{
    if (put_name(b, name, labels) != 0 || buf_put_uint(b, v) != 0)
        return -1;
    return buf_putc(b, '\n');
}

static int put_double(buf_t *b, double v)
{
    if (isnan(v))
        return buf_puts(b, "NaN");
    if (isinf(v))
        return buf_puts(b, v > 0 ? "+Inf" : "-Inf");
    return buf_printf(b, "%.15g", v);
}

int metrics_single_u(buf_t *b, const char *name, const char *help, const char *type,
                     uint64_t v)
{
    int rc = metrics_family(b, name, help, type);
    return rc == 0 ? metrics_sample_u(b, name, NULL, v) : rc;
}

int metrics_sample_d(buf_t *b, const char *name, const char *labels, double v)
{
    if (put_name(b, name, labels) != 0 || put_double(b, v) != 0)
        return -1;
    return buf_putc(b, '\n');
}

int metrics_hist_write(buf_t *b, const char *name, const char *labels, const metrics_hist_t *h)
{
    char line[512];
    const char *sep = labels && *labels ? "," : "";
    const char *lab = labels ? labels : "";
    uint64_t cum = 0;
    for (size_t i = 0; i <= h->nbounds; i++) {
        cum += h->counts[i];
        char le[32];
        if (i < h->nbounds)
            snprintf(le, sizeof le, "%.9g", (double)h->bounds[i] / 1e9);
        else
            snprintf(le, sizeof le, "+Inf");
        if (buf_printf(b, "%s_bucket{%s%sle=\"%s\"} ", name, lab, sep, le) != 0 ||
            buf_put_uint(b, cum) != 0 || buf_putc(b, '\n') != 0)
            return -1;
    }
    snprintf(line, sizeof line, "%s_sum", name);
    if (put_name(b, line, labels) != 0 ||
        buf_printf(b, "%llu.%09llu\n", (unsigned long long)(h->sum_ns / 1000000000u),
                   (unsigned long long)(h->sum_ns % 1000000000u)) != 0)
        return -1;
    snprintf(line, sizeof line, "%s_count", name);
    return metrics_sample_u(b, line, labels, h->count);
}

int metrics_labels(char *out, size_t outlen, size_t n, const char *const *pairs)
{
    buf_t b;
    buf_init(&b, outlen - 1);
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        rc = buf_printf(&b, "%s%s=\"", i ? "," : "", pairs[2 * i]);
        if (rc == 0)
            rc = metrics_label_value(&b, pairs[2 * i + 1] ? pairs[2 * i + 1] : "");
        if (rc == 0)
            rc = buf_putc(&b, '"');
    }
    if (rc == 0)
        memcpy(out, b.p ? b.p : "", b.len + 1);
    buf_free(&b);
    return rc;
}
