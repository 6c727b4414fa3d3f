/*
 * cron_parse.c -- reading a timer schedule: an NCRONTAB expression of six
 * or five fields, or a TimeSpan, into a cron_t (declared in cron.h), with
 * NCrontab's and .NET's rules and an error message that names the field
 * and what is wrong with it.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cron.h"
#include "cron_cal.h"

/* ---- errors ------------------------------------------------------------ */

/* Copy n bytes of p into out as printable text: bytes outside printable
 * ASCII become \xNN, and a long text is cut with "...". */
void cron__quote(char *out, size_t outlen, const char *p, size_t n)
{
    size_t o = 0;
    if (!outlen)
        return;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)p[i];
        char tmp[5];
        size_t k;
        if (ch >= 0x20 && ch < 0x7f && ch != '\\') {
            tmp[0] = (char)ch;
            k = 1;
        } else {
            snprintf(tmp, sizeof tmp, "\\x%02x", ch);
            k = 4;
        }
        if (o + k + 4 > outlen || o + k > 120) {
            if (o + 4 <= outlen) {
                memcpy(out + o, "...", 3);
                o += 3;
            }
            break;
        }
        memcpy(out + o, tmp, k);
        o += k;
    }
    out[o] = '\0';
}

/* "schedule '<expr>': <message>" into err. Always returns -1. */
__attribute__((format(printf, 5, 6))) static int fail(char *err, size_t errlen, const char *expr,
                                                       size_t len, const char *fmt, ...)
{
    char q[160], msg[200];
    va_list ap;

    if (!err || !errlen)
        return -1;
    cron__quote(q, sizeof q, expr, len);
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(err, errlen, "schedule '%s': %s", q, msg);
    return -1;
}

/* ---- fields ------------------------------------------------------------ */

typedef struct field_spec {
    const char *name;
    int min, max;
    const char *const *names; /* NULL: numbers only */
    const char *what;         /* "a month name", "a day name" */
} field_spec_t;

static const char *const month_names[] = {"January", "February", "March",     "April",
                                          "May",     "June",     "July",      "August",
                                          "September", "October", "November", "December"};
static const char *const day_names[] = {"Sunday",   "Monday", "Tuesday", "Wednesday",
                                        "Thursday", "Friday", "Saturday"};

enum { F_SECOND, F_MINUTE, F_HOUR, F_DAY, F_MONTH, F_WEEKDAY };

static const field_spec_t specs[6] = {
    {"second", 0, 59, NULL, NULL},
    {"minute", 0, 59, NULL, NULL},
    {"hour", 0, 23, NULL, NULL},
    {"day", 1, 31, NULL, NULL},
    {"month", 1, 12, month_names, "a month name"},
    {"day-of-week", 0, 6, day_names, "a day name"},
};

/* Whether name starts with the n bytes of p, ignoring ASCII case (not the
 * locale's). */
static int name_starts(const char *name, const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char a = name[i], b = p[i];
        if (!a)
            return 0;
        if (a >= 'A' && a <= 'Z')
            a = (char)(a - 'A' + 'a');
        if (b >= 'A' && b <= 'Z')
            b = (char)(b - 'A' + 'a');
        if (a != b)
            return 0;
    }
    return 1;
}

#define VALUE_CAP 1000000 /* numbers saturate here; every range is far below */

/* A value as NCrontab reads it: digits, or (month, day of week) the first
 * name, in calendar order, that starts with the text, case-insensitively.
 * 0 with *v set, or -1 with a message. */
static int parse_value(const field_spec_t *f, const char *p, size_t n, int *v, char *msg,
                       size_t msglen)
{
    char q[64];

    cron__quote(q, sizeof q, p, n);
    if (n == 0) {
        snprintf(msg, msglen, "a value is missing");
        return -1;
    }
    if (p[0] >= '0' && p[0] <= '9') {
        long val = 0;
        for (size_t i = 0; i < n; i++) {
            if (p[i] < '0' || p[i] > '9')
                goto bad;
            if (val < VALUE_CAP)
                val = val * 10 + (p[i] - '0');
        }
        if (val > f->max || val < f->min) {
            if (val >= VALUE_CAP)
                snprintf(msg, msglen, "%s is out of range %d-%d", q, f->min, f->max);
            else
                snprintf(msg, msglen, "%ld is out of range %d-%d%s", val, f->min, f->max,
                         f->names == day_names ? " (Sunday is 0)" : "");
            return -1;
        }
        *v = (int)val;
        return 0;
    }
    if (f->names) {
        for (int i = 0; i <= f->max - f->min; i++) {
            if (name_starts(f->names[i], p, n)) {
                *v = f->min + i;
                return 0;
            }
        }
    }
bad:
    if (f->names)
        snprintf(msg, msglen, "'%s' is not a number or %s", q, f->what);
    else
        snprintf(msg, msglen, "'%s' is not a number", q);
    return -1;
}

/* A step after '/', read as .NET's int.Parse does (an optional sign, then
 * digits); NCrontab takes anything below 1 as 1. */
static int parse_step(const char *p, size_t n, int *step, char *msg, size_t msglen)
{
    size_t i = 0;
    int neg = 0;
    long val = 0;

    if (i < n && (p[i] == '+' || p[i] == '-'))
        neg = p[i++] == '-';
    int ok = i < n;
    for (; ok && i < n; i++) {
        ok = p[i] >= '0' && p[i] <= '9';
        if (ok && val < VALUE_CAP)
            val = val * 10 + (p[i] - '0');
    }
    if (!ok) {
        char q[64];
        cron__quote(q, sizeof q, p, n);
        snprintf(msg, msglen, "step '%s' is not a number", q);
        return -1;
    }
    *step = (neg || val < 1) ? 1 : (int)val;
    return 0;
}

static const char *memchr_c(const char *p, size_t n, char c)
{
    return n ? memchr(p, c, n) : NULL;
}

/* One element of a list: `*`, `v`, `a-b`, each optionally `/step`. */
static int parse_element(const field_spec_t *f, const char *p, size_t n, uint64_t *bits,
                         char *msg, size_t msglen)
{
    const char *slash = memchr_c(p, n, '/');
    size_t bn = slash ? (size_t)(slash - p) : n;
    int step = 1, lo, hi;

    if (slash) {
        if (bn == 0) {
            char q[64];
            cron__quote(q, sizeof q, p, n);
            snprintf(msg, msglen, "'%s' has no value before '/'", q);
            return -1;
        }
        if (parse_step(slash + 1, n - bn - 1, &step, msg, msglen) != 0)
            return -1;
    }
    if (p[0] == '*') {
        if (bn > 1) { /* "*x": say what is wrong with what follows the star */
            if (parse_value(f, p + 1, bn - 1, &lo, msg, msglen) == 0)
                snprintf(msg, msglen, "'*' cannot be followed by a value");
            return -1;
        }
        lo = f->min;
        hi = f->max;
    } else {
        const char *dash = memchr_c(p + 1, bn - 1, '-'); /* a leading '-' is no range */
        if (dash) {
            if (parse_value(f, p, (size_t)(dash - p), &lo, msg, msglen) != 0 ||
                parse_value(f, dash + 1, bn - (size_t)(dash - p) - 1, &hi, msg, msglen) != 0)
                return -1;
            if (lo > hi) { /* NCrontab swaps a reversed range */
                int t = lo;
                lo = hi;
                hi = t;
            }
        } else {
            if (parse_value(f, p, bn, &lo, msg, msglen) != 0)
                return -1;
            hi = slash ? f->max : lo; /* "a/n" runs to the end of the range */
        }
    }
    for (int v = lo; v <= hi; v += step)
        *bits |= 1ULL << v;
    return 0;
}

/* A whole field: a comma-separated list of elements. */
static int parse_field(const field_spec_t *f, const char *p, size_t n, uint64_t *bits,
                       char *msg, size_t msglen)
{
    size_t start = 0;

    *bits = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && p[i] != ',')
            continue;
        if (i == start) {
            char q[64];
            cron__quote(q, sizeof q, p, n);
            snprintf(msg, msglen, "empty element in list '%s'", q);
            return -1;
        }
        if (parse_element(f, p + start, i - start, bits, msg, msglen) != 0)
            return -1;
        start = i + 1;
    }
    return 0;
}

/* ---- TimeSpan ---------------------------------------------------------- */

#define TS_SYNTAX "[d.]hh:mm[:ss[.fffffff]] or a whole number of days"

/* A TimeSpan, read as .NET's TimeSpan.Parse reads it with the invariant
 * culture: d | h:m | h:m:s (an h of 24 or more makes it d:h:m) | d.h:m |
 * d.h:m:s | d:h:m:s, with an optional fraction after the seconds. */
static int parse_timespan(cron_t *c, const char *expr, size_t len, char *err, size_t errlen)
{
    long num[5];
    const char *txt[5]; /* each number as written, for messages */
    int txtlen[5];
    char sep[5]; /* sep[i] precedes num[i + 1] */
    int nn = 0, fdigits = 0;
    long fracticks = 0;
    size_t i = 0;
    int neg = 0;

    if (i < len && expr[i] == '-')
        neg = 1, i++;
    for (;;) {
        size_t s = i;
        long v = 0;
        while (i < len && expr[i] >= '0' && expr[i] <= '9') {
            if (v < 100000000L)
                v = v * 10 + (expr[i] - '0');
            i++;
        }
        if (i == s || nn == 5)
            return fail(err, errlen, expr, len, "not a TimeSpan (" TS_SYNTAX ")");
        num[nn] = v;
        txt[nn] = expr + s;
        txtlen[nn] = (int)(i - s) > 20 ? 20 : (int)(i - s);
        if (nn >= 1 && sep[nn - 1] == '.' && nn >= 3) { /* a fraction: keep its digits */
            fdigits = (int)(i - s);
            fracticks = 0;
            for (size_t k = s; k < s + 7; k++)
                fracticks = fracticks * 10 + (k < i ? expr[k] - '0' : 0);
        }
        nn++;
        if (i == len)
            break;
        if (expr[i] != ':' && expr[i] != '.')
            return fail(err, errlen, expr, len, "not a TimeSpan (" TS_SYNTAX ")");
        sep[nn - 1] = expr[i++];
    }

    /* The shape: the separators in order. */
    char shape[6] = {0};
    for (int k = 0; k < nn - 1; k++)
        shape[k] = sep[k];
    int di = -1, hi = -1, mi = -1, si = -1; /* which number is which */
    int frac = 0;
    if (!strcmp(shape, ""))
        di = 0;
    else if (!strcmp(shape, ":"))
        hi = 0, mi = 1;
    else if (!strcmp(shape, "::") && num[0] > 23 && num[1] <= 23 && num[2] <= 59)
        /* "24:00:00" is 24 days, as .NET reads it */
        di = 0, hi = 1, mi = 2;
    else if (!strcmp(shape, "::") || !strcmp(shape, "::."))
        hi = 0, mi = 1, si = 2, frac = nn == 4;
    else if (!strcmp(shape, ".:"))
        di = 0, hi = 1, mi = 2;
    else if (!strcmp(shape, ".::") || !strcmp(shape, ":::") || !strcmp(shape, ".::.") ||
             !strcmp(shape, ":::."))
        di = 0, hi = 1, mi = 2, si = 3, frac = nn == 5;
    else
        return fail(err, errlen, expr, len, "not a TimeSpan (" TS_SYNTAX ")");

    if (frac && fdigits > 7)
        return fail(err, errlen, expr, len,
                    "TimeSpan fraction of a second has %d digits; at most 7 are allowed",
                    fdigits);
    if (!frac)
        fracticks = 0;
    static const struct {
        const char *name;
        long max;
    } part[4] = {{"days", 10675199}, {"hours", 23}, {"minutes", 59}, {"seconds", 59}};
    const int idx[4] = {di, hi, mi, si};
    long val[4] = {0, 0, 0, 0};
    for (int k = 0; k < 4; k++) {
        if (idx[k] < 0)
            continue;
        val[k] = num[idx[k]];
        if (val[k] > part[k].max)
            return fail(err, errlen, expr, len, "TimeSpan %s value %.*s is out of range 0-%ld",
                        part[k].name, txtlen[idx[k]], txt[idx[k]], part[k].max);
    }
    long d = val[0], h = val[1], m = val[2], s = val[3];

    int64_t sec = ((d * 24 + h) * 60 + m) * 60 + s;
    if (sec == 0 && fracticks == 0)
        return fail(err, errlen, expr, len, "a TimeSpan interval must be greater than zero");
    if (neg)
        return fail(err, errlen, expr, len, "a TimeSpan interval cannot be negative");
    if (sec == 0 && fracticks < 10000)
        return fail(err, errlen, expr, len, "a TimeSpan interval must be at least 1 ms");
    c->kind = CRON_KIND_INTERVAL;
    c->interval_ms = sec * 1000 + fracticks / 10000;
    return 0;
}

/* ---- the whole expression ---------------------------------------------- */

static int is_space(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\v' || ch == '\f';
}

/* Whether the schedule has two consecutive values in second, minute or
 * hour: Azure's "interval" schedule for daylight-saving purposes. */
static int has_run(uint64_t bits) { return (bits & (bits >> 1)) != 0; }

int cron_parse(cron_t *c, const char *expr, char *err, size_t errlen)
{
    static const int mdays[13] = {0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    const char *tok[7];
    size_t toklen[7];
    int ntok = 0;
    size_t len;

    memset(c, 0, sizeof *c);
    if (err && errlen)
        err[0] = '\0';
    if (!expr)
        return fail(err, errlen, "", 0, "no schedule given");
    len = strnlen(expr, CRON_MAX_LEN + 1);
    if (len > CRON_MAX_LEN)
        return fail(err, errlen, expr, 40, "longer than %d bytes", CRON_MAX_LEN);
    if (memchr(expr, '%', len))
        return fail(err, errlen, expr, len,
                    "an app setting reference (%%Name%%) must be resolved before the schedule "
                    "is parsed");

    for (size_t i = 0; i < len;) {
        while (i < len && is_space(expr[i]))
            i++;
        if (i == len)
            break;
        size_t s = i;
        while (i < len && !is_space(expr[i]))
            i++;
        if (ntok < 7) {
            tok[ntok] = expr + s;
            toklen[ntok] = i - s;
        }
        ntok++;
    }
    if (ntok == 0)
        return fail(err, errlen, expr, len, "the schedule is empty");
    if (ntok == 1 && strspn(tok[0], "0123456789:.+-") >= toklen[0]) {
        if (parse_timespan(c, tok[0], toklen[0], err, errlen) == 0)
            return 0;
        memset(c, 0, sizeof *c);
        return -1;
    }
    if (ntok != 5 && ntok != 6)
        return fail(err, errlen, expr, len,
                    "expected 6 fields ({second} {minute} {hour} {day} {month} {day-of-week}), "
                    "5 fields (no seconds) or a TimeSpan hh:mm:ss; found %d field%s",
                    ntok, ntok == 1 ? "" : "s");

    uint64_t bits[6] = {1, 0, 0, 0, 0, 0}; /* second 0 when there are five fields */
    int off = ntok == 6 ? 0 : 1;
    for (int k = 0; k < ntok; k++) {
        char msg[200];
        const field_spec_t *f = &specs[k + off];
        if (parse_field(f, tok[k], toklen[k], &bits[k + off], msg, sizeof msg) != 0) {
            fail(err, errlen, expr, len, "field %d (%s): %s", k + 1, f->name, msg);
            memset(c, 0, sizeof *c);
            return -1;
        }
    }
    c->kind = CRON_KIND_CRON;
    c->tz = CRON_TZ_UTC;
    c->nfields = ntok;
    c->second = bits[F_SECOND];
    c->minute = bits[F_MINUTE];
    c->hour = (uint32_t)bits[F_HOUR];
    c->day = (uint32_t)bits[F_DAY];
    c->month = (uint16_t)bits[F_MONTH];
    c->weekday = (uint8_t)bits[F_WEEKDAY];
    c->point_in_time = !has_run(c->second) && !has_run(c->minute) && !has_run(c->hour);
    for (int m = 1; m <= 12; m++)
        if ((c->month >> m & 1) && (c->day & (((1ULL << (mdays[m] + 1)) - 1) & ~1ULL)))
            c->possible = 1;
    return 0;
}
