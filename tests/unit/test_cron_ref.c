/*
 * test_cron_ref.c -- the schedule search of src/util/cron.c against an
 * independent, slow one: random valid expressions, random start times, and
 * a reference that tries every second (or every day, for schedules that
 * fire once a day at most) with the C library's gmtime_r()/localtime_r().
 * The random generator is seeded with a constant, so failures repeat; each
 * prints the expression and time that failed.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../src/util/cron.h"
#include "test.h"

static uint64_t rng = 0x2545f4914f6cdd1dULL;

static uint64_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static int pick(int lo, int hi) { return lo + (int)(rnd() % (uint64_t)(hi - lo + 1)); }

static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
static const char *const days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};

/* One value of a field, sometimes by name. */
static int put_value(char *o, int k, int v)
{
    if (k == 4 && pick(0, 3) == 0)
        return sprintf(o, "%s", months[v - 1]);
    if (k == 5 && pick(0, 3) == 0)
        return sprintf(o, "%s", days[v]);
    return sprintf(o, "%d", v);
}

/* A random field k (0 second .. 5 day of week) over [lo, hi]; `star` is the
 * chance in percent of a plain "*". */
static int gen_field(char *o, int k, int lo, int hi, int star)
{
    int n = 0, form = pick(0, 99);
    if (form < star)
        return sprintf(o, "*");
    form = pick(0, 5);
    switch (form) {
    case 0:
        return put_value(o, k, pick(lo, hi));
    case 1: {
        int a = pick(lo, hi), b = pick(a, hi);
        n = put_value(o, k, a);
        n += sprintf(o + n, "-");
        return n + put_value(o + n, k, b);
    }
    case 2: {
        int cnt = pick(2, 4);
        for (int i = 0; i < cnt; i++) {
            if (i)
                o[n++] = ',';
            n += put_value(o + n, k, pick(lo, hi));
        }
        return n;
    }
    case 3:
        return sprintf(o, "*/%d", pick(1, hi - lo + 1));
    case 4: {
        int a = pick(lo, hi), b = pick(a, hi);
        n = put_value(o, k, a);
        n += sprintf(o + n, "-");
        n += put_value(o + n, k, b);
        return n + sprintf(o + n, "/%d", pick(1, 8));
    }
    default:
        n = put_value(o, k, pick(lo, hi));
        return n + sprintf(o + n, "/%d", pick(1, 20));
    }
}

static const int lo_[6] = {0, 0, 0, 1, 1, 0}, hi_[6] = {59, 59, 23, 31, 12, 6};

/* A random expression; `star` per field. Five fields one time in four. */
static void gen_expr(char *o, const int star[6])
{
    int five = pick(0, 3) == 0, n = 0;
    for (int k = five; k < 6; k++) {
        if (k > five)
            o[n++] = ' ';
        n += gen_field(o + n, k, lo_[k], hi_[k], star[k]);
    }
    o[n] = '\0';
}

/* A random time in 1990..2100, often just before the end of a month. */
static int64_t gen_time(void)
{
    int64_t lo = 631152000LL, hi = 4102444800LL; /* 1990 .. 2100 */
    int64_t s = lo + (int64_t)(rnd() % (uint64_t)(hi - lo));
    if (pick(0, 2) == 0) {
        struct tm tm;
        time_t t = (time_t)s;
        gmtime_r(&t, &tm);
        tm.tm_mday = 1;
        tm.tm_mon += 1;
        tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
        s = (int64_t)timegm(&tm) - pick(0, 7200);
    }
    return s * 1000 + pick(0, 999) * (pick(0, 1));
}

static int matches(const cron_t *c, const struct tm *tm)
{
    return (c->second >> tm->tm_sec & 1) && (c->minute >> tm->tm_min & 1) &&
           (c->hour >> tm->tm_hour & 1) && (c->day >> tm->tm_mday & 1) &&
           (c->month >> (tm->tm_mon + 1) & 1) && (c->weekday >> tm->tm_wday & 1);
}

static int broken_down(int local, int64_t s, struct tm *tm)
{
    time_t t = (time_t)s;
    return local ? localtime_r(&t, tm) != NULL : gmtime_r(&t, tm) != NULL;
}

/* The first second after `after_ms`, within `window` seconds, whose time
 * (UTC or local) matches; 0 when none does. */
static int64_t ref_next(const cron_t *c, int local, int64_t after_ms, int64_t window)
{
    int64_t s0 = after_ms >= 0 ? after_ms / 1000 : -((-after_ms + 999) / 1000);
    struct tm tm;
    for (int64_t s = s0 + 1; s <= s0 + window; s++)
        if (broken_down(local, s, &tm) && matches(c, &tm))
            return s * 1000;
    return 0;
}

/* The last second at or before `at_ms`, within `window` seconds. */
static int64_t ref_prev(const cron_t *c, int local, int64_t at_ms, int64_t window)
{
    int64_t s0 = at_ms / 1000;
    struct tm tm;
    for (int64_t s = s0; s > s0 - window; s--)
        if (broken_down(local, s, &tm) && matches(c, &tm))
            return s * 1000;
    return 0;
}

static void report(const char *what, const char *expr, int64_t t, int64_t fast, int64_t ref)
{
    fprintf(stderr, "%s '%s' from %lld: search %lld, reference %lld\n", what, expr,
            (long long)t, (long long)fast, (long long)ref);
}

/* Second by second, over two days, UTC. */
TEST(next_and_prev_match_brute_force)
{
    static const int star[6] = {30, 30, 30, 75, 85, 75};
    const int64_t window = 2 * 86400;
    int samples = 0, hits = 0;
    for (int i = 0; i < 160 && !test_cur_failed_; i++) {
        char expr[256], e[CRON_ERR_LEN];
        cron_t c;
        gen_expr(expr, star);
        if (cron_parse(&c, expr, e, sizeof e) != 0) {
            fprintf(stderr, "generated '%s' refused: %s\n", expr, e);
            CHECK(0);
            continue;
        }
        int64_t t = gen_time();
        for (int step = 0; step < 4; step++) { /* a few in a row */
            int64_t fast = cron_next(&c, t), ref = ref_next(&c, 0, t, window);
            samples++;
            if (ref) {
                hits++;
                if (fast != ref)
                    { report("next", expr, t, fast, ref); CHECK(0); }
            } else if (fast != CRON_NEVER && fast <= t + window * 1000) {
                { report("next", expr, t, fast, ref); CHECK(0); }
            }
            int64_t pfast = cron_prev(&c, t), pref = ref_prev(&c, 0, t, window);
            if (pref && pfast != pref)
                { report("prev", expr, t, pfast, pref); CHECK(0); }
            if (!pref && pfast != CRON_NONE && pfast > t - window * 1000)
                { report("prev", expr, t, pfast, pref); CHECK(0); }
            if (!ref)
                break;
            t = ref + (pick(0, 1) ? 0 : pick(-999, 999));
        }
    }
    /* The generator must give schedules that fire within the window. */
    CHECK(hits * 10 >= samples * 7);
}

/* Day by day over 40 years, for schedules that fire once a day at most:
 * leap days, 31sts, weekday and day combinations. */
TEST(dates_match_brute_force)
{
    static const int star[6] = {0, 0, 0, 20, 40, 40};
    int hits = 0;
    for (int i = 0; i < 400 && !test_cur_failed_; i++) {
        char expr[256], e[CRON_ERR_LEN];
        int sec = pick(0, 59), min = pick(0, 59), hour = pick(0, 23);
        int n = sprintf(expr, "%d %d %d ", sec, min, hour);
        for (int k = 3; k < 6; k++) {
            n += gen_field(expr + n, k, lo_[k], hi_[k], star[k]);
            expr[n++] = ' ';
        }
        expr[n - 1] = '\0';
        cron_t c;
        if (cron_parse(&c, expr, e, sizeof e) != 0) {
            fprintf(stderr, "generated '%s' refused: %s\n", expr, e);
            CHECK(0);
            continue;
        }
        int64_t t = gen_time(), day0 = t / 86400000, tod = hour * 3600 + min * 60 + sec;
        int64_t ref = 0, pref = 0;
        struct tm tm;
        for (int64_t d = day0; d < day0 + 366 * 40 && !ref; d++) {
            int64_t s = d * 86400 + tod;
            if (s * 1000 > t && broken_down(0, s, &tm) && matches(&c, &tm))
                ref = s * 1000;
        }
        for (int64_t d = day0; d > day0 - 366 * 40 && !pref; d--) {
            int64_t s = d * 86400 + tod;
            if (s * 1000 <= t && broken_down(0, s, &tm) && matches(&c, &tm))
                pref = s * 1000;
        }
        int64_t fast = cron_next(&c, t), pfast = cron_prev(&c, t);
        if (ref) {
            hits++;
            if (fast != ref)
                { report("next", expr, t, fast, ref); CHECK(0); }
        } else if (c.possible && fast != CRON_NEVER && fast < (day0 + 366 * 40) * 86400000) {
            { report("next", expr, t, fast, ref); CHECK(0); }
        }
        if (pref ? pfast != pref
                 : (pfast != CRON_NONE && pfast > (day0 - 366 * 40 + 1) * 86400000))
            { report("prev", expr, t, pfast, pref); CHECK(0); }
    }
    CHECK(hits >= 300);
}

static void set_zone(const char *tz)
{
    setenv("TZ", tz, 1);
    tzset();
}

/* A random time within a few hours of a US daylight-saving change (second
 * Sunday of March, first Sunday of November, 2 a.m. local). */
static int64_t gen_dst_time(void)
{
    struct tm tm = {0};
    tm.tm_year = pick(95, 199);
    tm.tm_mon = pick(0, 1) ? 2 : 10;
    tm.tm_mday = 1;
    tm.tm_hour = 12;
    time_t t = timegm(&tm);
    gmtime_r(&t, &tm);
    int sunday = 1 + (7 - tm.tm_wday) % 7 + (tm.tm_mon == 2 ? 7 : 0);
    int64_t s = (int64_t)t + (sunday - 1) * 86400LL - 12 * 3600 + 7 * 3600; /* ~02:00 EST */
    return (s + pick(-6 * 3600, 6 * 3600)) * 1000 + pick(0, 999);
}

/* Local time: prev is the latest instant whose wall time matches (always),
 * next is too away from daylight-saving changes (around them Azure's rules
 * apply, tested in test_cron.c). */
TEST(local_time_matches_brute_force)
{
    static const int star[6] = {30, 30, 40, 85, 90, 85};
    const int64_t window = 86400;
    int compared = 0;
    set_zone("EST5EDT,M3.2.0,M11.1.0");
    for (int i = 0; i < 200 && !test_cur_failed_; i++) {
        char expr[256], e[CRON_ERR_LEN];
        cron_t c;
        gen_expr(expr, star);
        if (cron_parse(&c, expr, e, sizeof e) != 0) {
            CHECK(0);
            continue;
        }
        c.tz = CRON_TZ_LOCAL;
        int64_t t = i % 2 ? gen_dst_time() : gen_time();
        int64_t pfast = cron_prev(&c, t), pref = ref_prev(&c, 1, t, window);
        if (pref ? pfast != pref : (pfast != CRON_NONE && pfast > t - window * 1000))
            { report("local prev", expr, t, pfast, pref); CHECK(0); }
        int64_t fast = cron_next(&c, t), ref = ref_next(&c, 1, t, window);
        int off = cron_utc_offset(&c, t);
        if (ref && off == cron_utc_offset(&c, t - 4 * 3600000) &&
            off == cron_utc_offset(&c, ref)) {
            compared++;
            if (fast != ref)
                { report("local next", expr, t, fast, ref); CHECK(0); }
        }
    }
    CHECK(compared >= 40);

    /* A zone without daylight saving: next always agrees. */
    set_zone("NPT-5:45");
    compared = 0;
    for (int i = 0; i < 60 && !test_cur_failed_; i++) {
        char expr[256], e[CRON_ERR_LEN];
        cron_t c;
        gen_expr(expr, star);
        if (cron_parse(&c, expr, e, sizeof e) != 0) {
            CHECK(0);
            continue;
        }
        c.tz = CRON_TZ_LOCAL;
        int64_t t = gen_time();
        int64_t fast = cron_next(&c, t), ref = ref_next(&c, 1, t, window);
        if (ref) {
            compared++;
            if (fast != ref)
                { report("local next", expr, t, fast, ref); CHECK(0); }
        }
    }
    CHECK(compared >= 30);
    unsetenv("TZ");
    tzset();
}

int main(void)
{
    RUN(next_and_prev_match_brute_force);
    RUN(dates_match_brute_force);
    RUN(local_time_matches_brute_force);
    return TEST_REPORT();
}
