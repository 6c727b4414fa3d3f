/*
 * cron_status.c -- what a timer trigger keeps between runs: Azure's
 * ScheduleStatus rules (past due at start-up, the status after a run) and
 * its times as ISO 8601 text, both ways. Declared in cron.h.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cron.h"
#include "cron_cal.h"

/* Azure stores DateTime.MinValue for "never" and treats anything within a
 * year of it as unset (ScheduleMonitor.DefaultDateTimeThreshold). */
#define UNSET_BELOW_MS (CRON_TIME_MIN_MS + 365LL * 86400000)

static int unset(int64_t t) { return t < UNSET_BELOW_MS; }

int64_t cron_check_past_due(const cron_t *c, const cron_status_t *st, int64_t now_ms,
                            cron_status_t *out, int *changed)
{
    int64_t recorded;

    if (changed)
        *changed = 0;
    if (!st) {
        out->last_ms = CRON_NONE;
        out->next_ms = cron_next(c, now_ms);
        out->last_updated_ms = now_ms;
        if (changed)
            *changed = 1;
        recorded = out->next_ms;
    } else {
        int64_t expected, updated;
        *out = *st;
        if (!unset(st->last_ms)) {
            expected = cron_next(c, st->last_ms); /* Next was computed from Last */
            updated = st->last_ms;
        } else if (!unset(st->last_updated_ms)) {
            expected = cron_next(c, st->last_updated_ms);
            updated = st->last_updated_ms;
        } else {
            expected = cron_next(c, now_ms);
            updated = now_ms;
        }
        if (st->next_ms != expected) {
            /* The schedule changed since the status was written: do not call
             * that past due, start from now when the new Next is past. */
            if (now_ms > expected) {
                expected = cron_next(c, now_ms);
                updated = now_ms;
            }
            out->last_ms = CRON_NONE;
            out->next_ms = expected;
            out->last_updated_ms = updated;
            if (changed)
                *changed = 1;
        }
        recorded = out->next_ms;
    }
    if (recorded == CRON_NEVER || unset(recorded) || now_ms <= recorded)
        return 0;
    return now_ms - recorded;
}

void cron_status_after_run(const cron_t *c, const cron_status_t *prev, int64_t invoked_ms,
                           int scheduled, cron_status_t *out)
{
    int64_t at = invoked_ms;

    if (scheduled && prev && prev->next_ms != CRON_NEVER && !unset(prev->next_ms) &&
        prev->next_ms > invoked_ms)
        at = prev->next_ms;
    out->last_ms = at;
    out->next_ms = cron_next(c, at);
    out->last_updated_ms = at;
}

/* ---- ISO 8601 ---------------------------------------------------------- */

int cron_time_format(int64_t ms, int offset_s, cron_time_fmt_t fmt, char *buf, size_t n)
{
    int64_t sec, frac;
    int off_min = 0, len;
    cal_t t;

    if (!buf || !n)
        return -1;
    if (fmt == CRON_TIME_AZURE) {
        if (offset_s > 86399 || offset_s < -86399)
            offset_s = 0;
        off_min = offset_s / 60; /* shown to the minute, so count to the minute */
    }
    if (ms < CRON_TIME_MIN_MS)
        ms = CRON_TIME_MIN_MS - (int64_t)off_min * 60000;
    else if (ms > CRON_TIME_MAX_MS)
        ms = CRON_TIME_MAX_MS - (int64_t)off_min * 60000;
    sec = cal_floor_div(ms, 1000);
    frac = ms - sec * 1000;
    sec += (int64_t)off_min * 60;
    if (sec < CRON_TIME_MIN_MS / 1000) /* the wall time stays within years 1-9999 */
        sec = CRON_TIME_MIN_MS / 1000, frac = 0;
    if (sec > CRON_TIME_MAX_MS / 1000)
        sec = CRON_TIME_MAX_MS / 1000, frac = 999;
    cal_split(sec, &t);

    if (fmt == CRON_TIME_UTC_MS) {
        len = snprintf(buf, n, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", t.y, t.mo, t.d, t.h, t.mi,
                       t.s, (int)frac);
    } else {
        char fr[5] = "";
        if (frac) {
            snprintf(fr, sizeof fr, ".%03d", (int)frac);
            for (int i = 3; i > 1 && fr[i] == '0'; i--)
                fr[i] = '\0';
        }
        int a = off_min < 0 ? -off_min : off_min;
        len = snprintf(buf, n, "%04d-%02d-%02dT%02d:%02d:%02d%s%c%02d:%02d", t.y, t.mo, t.d, t.h,
                       t.mi, t.s, fr, off_min < 0 ? '-' : '+', a / 60, a % 60);
    }
    if (len < 0 || (size_t)len >= n) {
        buf[0] = '\0';
        return -1;
    }
    return len;
}

/* Read exactly k digits at s[*i]; -1 when they are not there. */
static int digits(const char *s, size_t n, size_t *i, int k)
{
    int v = 0;
    if (*i + (size_t)k > n)
        return -1;
    for (int j = 0; j < k; j++) {
        char ch = s[*i + (size_t)j];
        if (ch < '0' || ch > '9')
            return -1;
        v = v * 10 + (ch - '0');
    }
    *i += (size_t)k;
    return v;
}

static int expect(const char *s, size_t n, size_t *i, const char *set)
{
    if (*i < n && s[*i] && strchr(set, s[*i])) {
        (*i)++;
        return 0;
    }
    return -1;
}

#define ISO_SYNTAX "YYYY-MM-DDTHH:MM:SS[.fff][Z|+hh:mm]"

__attribute__((format(printf, 5, 6))) static int time_fail(char *err, size_t errlen,
                                                            const char *s, size_t n,
                                                            const char *fmt, ...)
{
    char q[160], msg[160];
    va_list ap;

    if (!err || !errlen)
        return -1;
    cron__quote(q, sizeof q, s, n);
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(err, errlen, "time '%s': %s", q, msg);
    return -1;
}

int cron_time_parse(const char *s, size_t n, int64_t *ms, char *err, size_t errlen)
{
    size_t i = 0;
    int y, mo, d, h, mi, sec, frac = 0, off = 0;

    if (err && errlen)
        err[0] = '\0';
    if (!s)
        return time_fail(err, errlen, "", 0, "no time given");
    if ((y = digits(s, n, &i, 4)) < 0 || expect(s, n, &i, "-") || (mo = digits(s, n, &i, 2)) < 0 ||
        expect(s, n, &i, "-") || (d = digits(s, n, &i, 2)) < 0 || expect(s, n, &i, "Tt ") ||
        (h = digits(s, n, &i, 2)) < 0 || expect(s, n, &i, ":") || (mi = digits(s, n, &i, 2)) < 0 ||
        expect(s, n, &i, ":") || (sec = digits(s, n, &i, 2)) < 0)
        return time_fail(err, errlen, s, n, "not an ISO 8601 time (" ISO_SYNTAX ")");
    if (i < n && s[i] == '.') {
        size_t start = ++i;
        while (i < n && s[i] >= '0' && s[i] <= '9') {
            if (i - start < 3)
                frac = frac * 10 + (s[i] - '0');
            i++;
        }
        if (i == start || i - start > 9)
            return time_fail(err, errlen, s, n, "a fraction of a second needs 1 to 9 digits");
        for (size_t k = i - start; k < 3; k++)
            frac *= 10;
    }
    if (i < n && (s[i] == 'Z' || s[i] == 'z')) {
        i++;
    } else if (i < n && (s[i] == '+' || s[i] == '-')) {
        int sign = s[i++] == '-' ? -1 : 1, oh, om = 0;
        if ((oh = digits(s, n, &i, 2)) < 0)
            return time_fail(err, errlen, s, n, "not an ISO 8601 time (" ISO_SYNTAX ")");
        if ((i < n && s[i] == ':' && (i++, 1)) || i < n)
            om = digits(s, n, &i, 2);
        if (om < 0)
            return time_fail(err, errlen, s, n, "not an ISO 8601 time (" ISO_SYNTAX ")");
        if (oh > 23 || om > 59)
            return time_fail(err, errlen, s, n, "UTC offset out of range");
        off = sign * (oh * 3600 + om * 60);
    }
    if (i != n)
        return time_fail(err, errlen, s, n, "unexpected text after the time");
    if (y < 1 || mo < 1 || mo > 12 || d < 1 || d > cal_month_days(y, mo) || h > 23 || mi > 59 ||
        sec > 59)
        return time_fail(err, errlen, s, n, "no such date or time of day");
    *ms = ((cal_days(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec) - off) * 1000 + frac;
    return 0;
}
