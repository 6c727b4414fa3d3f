/*
 * fuzz_cron.c -- libFuzzer driver for timer schedules (src/util/cron_parse.c,
 * cron.c, cron_status.c). Input: "schedule\ntime": the schedule is parsed with
 * roomy, tiny and no error buffers; when it parses, next and previous
 * occurrences are taken from fixed times, from the year-1 and year-9999
 * edges and from a time drawn from the input, in UTC and in a zone with
 * daylight saving, and checked against each other and against the fields;
 * then the status rules run. The text after the newline goes to the ISO
 * 8601 parser, whose results must format and parse back to themselves.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../src/util/cron.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    setenv("TZ", "EST5EDT,M3.2.0,M11.1.0", 1);
    tzset();
    return 0;
}

static int matches(const cron_t *c, int64_t ms)
{
    struct tm tm;
    time_t t = (time_t)(ms / 1000);
    if (ms % 1000)
        return 0;
    if (c->tz == CRON_TZ_LOCAL ? !localtime_r(&t, &tm) : !gmtime_r(&t, &tm))
        return 0;
    return (c->second >> tm.tm_sec & 1) && (c->minute >> tm.tm_min & 1) &&
           (c->hour >> tm.tm_hour & 1) && (c->day >> tm.tm_mday & 1) &&
           (c->month >> (tm.tm_mon + 1) & 1) && (c->weekday >> tm.tm_wday & 1);
}

static void round_trip(int64_t ms, int off)
{
    char b[CRON_TIME_LEN], e[CRON_ERR_LEN];
    int64_t back;
    for (int f = 0; f < 2; f++) {
        int n = cron_time_format(ms, off, (cron_time_fmt_t)f, b, sizeof b);
        if (n <= 0 || (size_t)n != strlen(b))
            __builtin_trap();
        if (cron_time_parse(b, (size_t)n, &back, e, sizeof e) != 0)
            __builtin_trap();
        /* Exact within the years a wall clock at any offset can show. */
        if (ms > CRON_TIME_MIN_MS + 86400000LL && ms < CRON_TIME_MAX_MS - 86400000LL &&
            back != ms)
            __builtin_trap();
    }
}

static void check_at(const cron_t *c, int64_t t)
{
    int64_t n = cron_next(c, t), p = cron_prev(c, t);

    if (n != CRON_NEVER && n <= t)
        __builtin_trap();
    if (c->kind == CRON_KIND_INTERVAL) {
        if (n != CRON_NEVER && n != t + c->interval_ms)
            __builtin_trap();
        if (p != CRON_NONE)
            __builtin_trap();
        return;
    }
    if (p != CRON_NONE && (p > t || !matches(c, p)))
        __builtin_trap();
    if (n != CRON_NEVER)
        round_trip(n, cron_utc_offset(c, n));
    if (c->tz == CRON_TZ_UTC) {
        /* Nothing fires strictly between prev(t) and next(t) but t itself. */
        if (n != CRON_NEVER && (!matches(c, n) || cron_prev(c, n) != n))
            __builtin_trap();
        if (n != CRON_NEVER && cron_prev(c, n - 1) != p)
            __builtin_trap();
        if (p != CRON_NONE && cron_next(c, p) != n)
            __builtin_trap();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *in = (const char *)data;
    const char *nl = memchr(in, '\n', size);
    size_t slen = nl ? (size_t)(nl - in) : size;
    char *expr = malloc(slen + 1), err[CRON_ERR_LEN], tiny[6];
    cron_t c;

    memcpy(expr, in, slen);
    expr[slen] = '\0'; /* an embedded NUL ends the schedule */

    int rc = cron_parse(&c, expr, err, sizeof err);
    if (rc != 0 && strncmp(err, "schedule '", 10) != 0)
        __builtin_trap(); /* a failure always says why */
    if (cron_parse(&c, expr, tiny, sizeof tiny) != rc || strlen(tiny) >= sizeof tiny)
        __builtin_trap();
    if (cron_parse(&c, expr, NULL, 0) != rc)
        __builtin_trap();

    if (rc == 0) {
        uint64_t h = 1469598103934665603ULL;
        for (size_t i = 0; i < size; i++)
            h = (h ^ data[i]) * 1099511628211ULL;
        const int64_t span = CRON_TIME_MAX_MS - CRON_TIME_MIN_MS;
        const int64_t times[] = {
            INT64_MIN, CRON_TIME_MIN_MS - 1, CRON_TIME_MIN_MS, -1, 0, 1541310600000LL,
            1773000000000LL, CRON_TIME_MAX_MS - 1, CRON_TIME_MAX_MS, INT64_MAX,
            CRON_TIME_MIN_MS + (int64_t)(h % (uint64_t)span),
            1541300000000LL + (int64_t)(h % 20000000000ULL), /* autumn 2018, US change */
        };
        for (int tz = 0; tz < 2; tz++) {
            c.tz = tz ? CRON_TZ_LOCAL : CRON_TZ_UTC;
            for (size_t i = 0; i < sizeof times / sizeof times[0]; i++)
                check_at(&c, times[i]);
            (void)cron_fires_sub_minute(&c, times[(h >> 8) % 12]);
        }
        c.tz = CRON_TZ_UTC;
        cron_status_t st = {(int64_t)(h >> 3) % span, (int64_t)(h >> 5) % span, (int64_t)h},
                      out;
        int changed;
        int64_t now = times[(h >> 4) % 12];
        int64_t late = cron_check_past_due(&c, &st, now, &out, &changed);
        if (late < 0 || (late > 0 && now <= out.next_ms))
            __builtin_trap();
        (void)cron_check_past_due(&c, NULL, now, &out, &changed);
        cron_status_after_run(&c, &st, now, (int)(h & 1), &out);
        if (out.next_ms != CRON_NEVER && out.next_ms <= out.last_ms)
            __builtin_trap();
    }

    if (nl) {
        int64_t ms;
        if (cron_time_parse(nl + 1, size - slen - 1, &ms, err, sizeof err) == 0)
            round_trip(ms, (int)(ms % 50000));
        else if (strncmp(err, "time '", 6) != 0)
            __builtin_trap();
    }
    free(expr);
    return 0;
}
