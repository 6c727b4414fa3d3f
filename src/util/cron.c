/*
 * cron.c -- when a timer schedule fires: the next and previous occurrences
 * of a parsed cron_t (cron_parse.c), in UTC or in the process's time zone.
 *
 * Occurrences are found on a proleptic Gregorian calendar of "naive"
 * seconds (wall-clock seconds counted as if they were UTC), field by field:
 * a month not in the set jumps to the next one that is, a day to the next
 * allowed day, and so on down to the second, so a search touches at most a
 * few hundred values per year it crosses. The calendar repeats every 400
 * years, so a search that finds nothing in 401 years never will. UTC
 * schedules map naive seconds to instants one to one; local ones go through
 * localtime_r() and Azure's daylight-saving rules (see cron.h). The Azure
 * status helpers and ISO 8601 times are in cron_status.c.
 */
#include <time.h>

#include "cron.h"
#include "cron_cal.h"

/* ---- occurrences on the naive calendar ---------------------------------- */

/* The lowest set bit at or above `from`, or -1. */
static int next_bit(uint64_t mask, int from)
{
    if (from < 0)
        from = 0;
    if (from > 63)
        return -1;
    mask &= ~0ULL << from;
    return mask ? __builtin_ctzll(mask) : -1;
}

/* The highest set bit at or below `from`, or -1. */
static int prev_bit(uint64_t mask, int from)
{
    if (from < 0)
        return -1;
    if (from < 63)
        mask &= (2ULL << from) - 1;
    return mask ? 63 - __builtin_clzll(mask) : -1;
}

static int date_ok(const cron_t *c, int y, int mo, int d)
{
    return (c->day >> d & 1) && (c->weekday >> cal_weekday(cal_days(y, mo, d)) & 1);
}

/* The first naive second after w whose fields match, or CRON_NEVER. */
static int64_t naive_next(const cron_t *c, int64_t w)
{
    cal_t t;
    int ymax;

    if (!c->possible)
        return CRON_NEVER;
    cal_split(w + 1, &t);
    ymax = t.y + 401 < 9999 ? t.y + 401 : 9999;
    for (;;) {
        int dim;
        if (t.y > ymax)
            return CRON_NEVER;
        if (!(c->month >> t.mo & 1)) {
            int m2 = next_bit(c->month, t.mo);
            if (m2 < 0) {
                t.y++;
                m2 = next_bit(c->month, 1);
            }
            t.mo = m2;
            t.d = 1, t.h = t.mi = t.s = 0;
            continue;
        }
        dim = cal_month_days(t.y, t.mo);
        if (!(c->day >> t.d & 1)) {
            int d2 = next_bit(c->day, t.d);
            if (d2 < 0 || d2 > dim)
                goto next_month;
            t.d = d2;
            t.h = t.mi = t.s = 0;
        }
        if (!date_ok(c, t.y, t.mo, t.d))
            goto next_day;
        if (!(c->hour >> t.h & 1)) {
            int h2 = next_bit(c->hour, t.h);
            if (h2 < 0)
                goto next_day;
            t.h = h2;
            t.mi = t.s = 0;
        }
        if (!(c->minute >> t.mi & 1)) {
            int m2 = next_bit(c->minute, t.mi);
            if (m2 < 0)
                goto next_hour;
            t.mi = m2;
            t.s = 0;
        }
        if (!(c->second >> t.s & 1)) {
            int s2 = next_bit(c->second, t.s);
            if (s2 < 0)
                goto next_minute;
            t.s = s2;
        }
        return cal_join(&t);
    next_minute:
        t.s = 0;
        if (++t.mi < 60)
            continue;
    next_hour:
        t.mi = t.s = 0;
        if (++t.h < 24)
            continue;
    next_day:
        t.h = t.mi = t.s = 0;
        if (++t.d <= dim)
            continue;
    next_month:
        t.d = 1;
        t.h = t.mi = t.s = 0;
        if (++t.mo > 12) {
            t.mo = 1;
            t.y++;
        }
    }
}

/* The last naive second at or before w whose fields match, or CRON_NONE. */
static int64_t naive_prev(const cron_t *c, int64_t w)
{
    cal_t t;
    int ymin;

    if (!c->possible)
        return CRON_NONE;
    cal_split(w, &t);
    ymin = t.y - 401 > 1 ? t.y - 401 : 1;
    for (;;) {
        if (t.y < ymin)
            return CRON_NONE;
        if (!(c->month >> t.mo & 1)) {
            int m2 = prev_bit(c->month, t.mo);
            if (m2 < 1) {
                t.y--;
                m2 = prev_bit(c->month, 12);
            }
            t.mo = m2;
            t.d = cal_month_days(t.y, t.mo);
            t.h = 23, t.mi = 59, t.s = 59;
            continue;
        }
        if (!(c->day >> t.d & 1)) {
            int d2 = prev_bit(c->day, t.d);
            if (d2 < 1)
                goto prev_month;
            t.d = d2;
            t.h = 23, t.mi = 59, t.s = 59;
        }
        if (!date_ok(c, t.y, t.mo, t.d))
            goto prev_day;
        if (!(c->hour >> t.h & 1)) {
            int h2 = prev_bit(c->hour, t.h);
            if (h2 < 0)
                goto prev_day;
            t.h = h2;
            t.mi = 59, t.s = 59;
        }
        if (!(c->minute >> t.mi & 1)) {
            int m2 = prev_bit(c->minute, t.mi);
            if (m2 < 0)
                goto prev_hour;
            t.mi = m2;
            t.s = 59;
        }
        if (!(c->second >> t.s & 1)) {
            int s2 = prev_bit(c->second, t.s);
            if (s2 < 0)
                goto prev_minute;
            t.s = s2;
        }
        return cal_join(&t);
    prev_minute:
        t.s = 59;
        if (--t.mi >= 0)
            continue;
    prev_hour:
        t.mi = 59, t.s = 59;
        if (--t.h >= 0)
            continue;
    prev_day:
        t.h = 23, t.mi = 59, t.s = 59;
        if (--t.d >= 1)
            continue;
    prev_month:
        t.h = 23, t.mi = 59, t.s = 59;
        if (--t.mo < 1) {
            t.mo = 12;
            t.y--;
        }
        t.d = cal_month_days(t.y, t.mo);
    }
}

/* ---- the process's time zone ------------------------------------------- */

/* The UTC offset, in seconds, at instant u (seconds); 0 if unknown. */
static int local_offset(int64_t u, int *isdst)
{
    struct tm tm;
    time_t t = (time_t)u;

    if (!localtime_r(&t, &tm)) {
        if (isdst)
            *isdst = 0;
        return 0;
    }
    if (isdst)
        *isdst = tm.tm_isdst > 0;
    return (int)tm.tm_gmtoff;
}

/* The instants whose wall time is w, ascending: 0 (w is skipped by a
 * spring-forward change), 1, or 2 (w happens twice when clocks fall back).
 * Assumes at most one change within a day of w, as every real zone has. */
static int local_instants(int64_t w, int64_t u[2], int *off_before)
{
    int oa = local_offset(w - 86400, NULL), ob = local_offset(w + 86400, NULL);
    int n = 0;

    if (off_before)
        *off_before = oa;
    if (local_offset(w - oa, NULL) == oa)
        u[n++] = w - oa;
    if (ob != oa && local_offset(w - ob, NULL) == ob) {
        u[n++] = w - ob;
        if (n == 2 && u[0] > u[1]) {
            int64_t x = u[0];
            u[0] = u[1];
            u[1] = x;
        }
    }
    return n;
}

static int local_ambiguous(int64_t w)
{
    int64_t u[2];
    return local_instants(w, u, NULL) == 2;
}

/* .NET's reading of a local wall time as an instant: a repeated time is
 * standard time (the later instant), a skipped one is read with the offset
 * in force before the change, which lands it after the gap. */
static int64_t local_resolve(int64_t w)
{
    int64_t u[2];
    int before;
    int n = local_instants(w, u, &before);
    return n == 0 ? w - before : u[n - 1];
}

/* Azure's CronSchedule.GetNextOccurrence in a zone with daylight saving:
 * NCrontab on the wall time, then its TryAdjustAmbiguousTime. */
static int64_t local_next(const cron_t *c, int64_t a)
{
    int now_off = local_offset(a, NULL);
    int64_t wnow = a + now_off, wbase = wnow;
    int now_amb = local_ambiguous(wnow);

    for (int tries = 0; tries < 8; tries++) {
        int64_t w = naive_next(c, wbase);
        if (w == CRON_NEVER)
            return CRON_NEVER;
        int64_t u = local_resolve(w);
        int next_off = local_offset(u, NULL);
        int next_amb = local_ambiguous(u + next_off);

        if (c->point_in_time && next_amb && next_off != now_off) {
            u = u + next_off - now_off; /* the first pass, in the offset of now */
        } else if (c->point_in_time && next_amb) {
            /* Already in the second pass: skip the repeated hour. */
            int64_t w2 = w;
            for (int k = 0; k < 100000 && w2 != CRON_NEVER && local_ambiguous(w2); k++)
                w2 = naive_next(c, w2);
            if (w2 == CRON_NEVER || local_ambiguous(w2))
                return CRON_NEVER;
            u = local_resolve(w2);
        } else if (!c->point_in_time && (next_amb || now_amb) && next_off != now_off) {
            u = u + next_off - now_off;
        }
        if (u > a)
            return u;
        wbase = w; /* not seen in real zones; a bounded retry all the same */
    }
    return CRON_NEVER;
}

/* The latest instant at or before a whose wall time matches. Walls are
 * walked downwards from the highest any instant up to a can show (within a
 * day after clocks fell back, an earlier instant can show a later wall time
 * than a itself). The first match found is the answer unless clocks fell
 * back after it: then a later instant may still show an earlier wall time,
 * at most as much earlier as the clocks went back, and the walk goes on
 * that far. */
static int64_t local_prev(const cron_t *c, int64_t a)
{
    int o1 = local_offset(a, NULL), o2 = local_offset(a - 86400, NULL);
    int64_t w = naive_prev(c, a + (o1 > o2 ? o1 : o2));
    int64_t best = CRON_NONE, bound = 0;

    for (int k = 0; k < 400000 && w != CRON_NONE; k++) {
        int64_t u[2];
        if (best != CRON_NONE && w <= bound)
            return best;
        int n = local_instants(w, u, NULL);
        for (int i = n - 1; i >= 0; i--) {
            if (u[i] > a || u[i] <= best)
                continue;
            best = u[i];
            int64_t e = a < best + 86400 ? a : best + 86400;
            int ob = local_offset(best, NULL), oe = local_offset(e, NULL);
            if (oe >= ob)
                return best;
            bound = best + oe;
        }
        w = naive_prev(c, w - 1);
    }
    return best;
}

/* ---- public occurrences ------------------------------------------------ */

int64_t cron_next(const cron_t *c, int64_t after_ms)
{
    int64_t a, r;

    if (c->kind == CRON_KIND_INTERVAL) {
        if (c->interval_ms <= 0 || after_ms > CRON_TIME_MAX_MS - c->interval_ms)
            return CRON_NEVER;
        return after_ms + c->interval_ms;
    }
    if (c->kind != CRON_KIND_CRON || after_ms >= CRON_TIME_MAX_MS)
        return CRON_NEVER;
    if (after_ms < CRON_TIME_MIN_MS)
        after_ms = CRON_TIME_MIN_MS - 1;
    a = cal_floor_div(after_ms, 1000);
    r = c->tz == CRON_TZ_LOCAL ? local_next(c, a) : naive_next(c, a);
    if (r == CRON_NEVER || r > CRON_TIME_MAX_MS / 1000)
        return CRON_NEVER;
    return r * 1000;
}

int64_t cron_prev(const cron_t *c, int64_t at_ms)
{
    int64_t a, r;

    if (c->kind != CRON_KIND_CRON || at_ms < CRON_TIME_MIN_MS)
        return CRON_NONE;
    if (at_ms > CRON_TIME_MAX_MS)
        at_ms = CRON_TIME_MAX_MS;
    a = cal_floor_div(at_ms, 1000);
    r = c->tz == CRON_TZ_LOCAL ? local_prev(c, a) : naive_prev(c, a);
    if (r == CRON_NONE || r < CRON_TIME_MIN_MS / 1000)
        return CRON_NONE;
    return r * 1000;
}

int cron_fires_sub_minute(const cron_t *c, int64_t now_ms)
{
    if (c->kind == CRON_KIND_INTERVAL)
        return c->interval_ms < 60000;
    if (now_ms > CRON_TIME_MAX_MS)
        return 0;
    int64_t end = now_ms + 60000;
    int64_t n1 = cron_next(c, now_ms);
    if (n1 == CRON_NEVER || n1 >= end)
        return 0;
    int64_t n2 = cron_next(c, n1);
    return n2 != CRON_NEVER && n2 < end;
}

int cron_utc_offset(const cron_t *c, int64_t ms)
{
    if (c->tz != CRON_TZ_LOCAL)
        return 0;
    if (ms < CRON_TIME_MIN_MS)
        ms = CRON_TIME_MIN_MS;
    if (ms > CRON_TIME_MAX_MS)
        ms = CRON_TIME_MAX_MS;
    return local_offset(cal_floor_div(ms, 1000), NULL);
}
