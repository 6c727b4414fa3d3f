/*
 * netfmt.c -- .NET date and GUID format strings (see netfmt.h).
 */
#include "netfmt.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

static const char *const MONTHS[] = {"January", "February", "March",     "April",
                                     "May",     "June",     "July",      "August",
                                     "September", "October", "November", "December"};
static const char *const DAYS[] = {"Sunday",   "Monday", "Tuesday", "Wednesday",
                                   "Thursday", "Friday", "Saturday"};

/* The invariant culture's pattern for a one-letter standard format; NULL if
 * c is not one. */
static const char *standard(char c)
{
    switch (c) {
    case 'd': return "MM/dd/yyyy";
    case 'D': return "dddd, dd MMMM yyyy";
    case 'f': return "dddd, dd MMMM yyyy HH:mm";
    case 'F': case 'U': return "dddd, dd MMMM yyyy HH:mm:ss";
    case 'g': return "MM/dd/yyyy HH:mm";
    case 'G': return "MM/dd/yyyy HH:mm:ss";
    case 'M': case 'm': return "MMMM dd";
    case 'O': case 'o': return "yyyy'-'MM'-'dd'T'HH':'mm':'ss'.'fffffffK";
    case 'R': case 'r': return "ddd, dd MMM yyyy HH':'mm':'ss 'GMT'";
    case 's': return "yyyy'-'MM'-'dd'T'HH':'mm':'ss";
    case 't': return "HH:mm";
    case 'T': return "HH:mm:ss";
    case 'u': return "yyyy'-'MM'-'dd HH':'mm':'ss'Z'";
    case 'Y': case 'y': return "yyyy MMMM";
    default: return NULL;
    }
}

static int fail(char *err, size_t errlen, const char *fmt, const char *what)
{
    snprintf(err, errlen, "date format '%s': %s", fmt, what);
    return -1;
}

/* One run of n copies of the letter c; 1 if c is not a format letter. */
static int field(buf_t *out, const struct tm *tm, int ms, char c, size_t n, const char *fmt,
                 char *err, size_t errlen)
{
    int v;
    switch (c) {
    case 'y':
        v = tm->tm_year + 1900;
        if (n == 1)
            return buf_printf(out, "%d", v % 100);
        return buf_printf(out, "%0*d", (int)(n == 2 ? 2 : n), n == 2 ? v % 100 : v);
    case 'M':
        if (n >= 3)
            return n == 3 ? buf_append(out, MONTHS[tm->tm_mon], 3)
                          : buf_puts(out, MONTHS[tm->tm_mon]);
        return buf_printf(out, "%0*d", (int)n, tm->tm_mon + 1);
    case 'd':
        if (n >= 3)
            return n == 3 ? buf_append(out, DAYS[tm->tm_wday], 3)
                          : buf_puts(out, DAYS[tm->tm_wday]);
        return buf_printf(out, "%0*d", (int)n, tm->tm_mday);
    case 'H': case 'h': case 'm': case 's': /* HHH is HH, as in .NET */
        v = c == 'H' ? tm->tm_hour : c == 'm' ? tm->tm_min : c == 's' ? tm->tm_sec
                                                                   : (tm->tm_hour + 11) % 12 + 1;
        return buf_printf(out, "%0*d", n == 1 ? 1 : 2, v);
    case 'f': case 'F': {
        if (n > 7)
            return fail(err, errlen, fmt, "more than seven 'f' or 'F'");
        char d[16];
        snprintf(d, sizeof d, "%03d0000", ms);
        d[n] = '\0';
        if (c == 'F') /* F: without trailing zeros (none at all when zero) */
            for (size_t i = n; i > 0 && d[i - 1] == '0'; i--)
                d[i - 1] = '\0';
        return buf_puts(out, d);
    }
    case 't':
        return buf_append(out, tm->tm_hour < 12 ? "AM" : "PM", n == 1 ? 1 : 2);
    case 'K': /* each K is the offset of a UTC time: Z */
        for (size_t i = 0; i < n; i++)
            if (buf_putc(out, 'Z') != 0)
                return -1;
        return 0;
    case 'z':
        return buf_puts(out, n == 1 ? "+0" : n == 2 ? "+00" : "+00:00");
    case 'g':
        return buf_puts(out, "A.D.");
    default:
        return 1;
    }
}

int netfmt_datetime(buf_t *out, int64_t unix_ms, const char *fmt, char *err, size_t errlen)
{
    const char *shown = fmt;
    if (errlen)
        err[0] = '\0';
    if (fmt[0] && !fmt[1]) {
        fmt = standard(fmt[0]);
        if (!fmt)
            return fail(err, errlen, shown, "not a standard format (d D f F g G M O R s t T u U "
                                            "Y) nor a custom one such as yyyy-MM-dd");
    }
    time_t s = (time_t)(unix_ms / 1000);
    struct tm tm;
    gmtime_r(&s, &tm);
    int ms = (int)(unix_ms % 1000);
    for (const char *p = fmt; *p;) {
        char c = *p;
        if (c == '\'' || c == '"') {
            const char *close = strchr(p + 1, c);
            if (!close)
                return fail(err, errlen, shown, "a quote that is not closed");
            if (buf_append(out, p + 1, (size_t)(close - p - 1)) != 0)
                return fail(err, errlen, shown, "the result is too long");
            p = close + 1;
            continue;
        }
        if (c == '\\') {
            if (!p[1])
                return fail(err, errlen, shown, "'\\' at the end");
            if (buf_putc(out, p[1]) != 0)
                return fail(err, errlen, shown, "the result is too long");
            p += 2;
            continue;
        }
        if (c == '%') { /* %d: the one-letter custom format d */
            if (!p[1] || p[1] == '%')
                return fail(err, errlen, shown, "'%' not followed by a format letter");
            p++;
            c = *p;
        }
        size_t n = 1;
        while (p[n] == c)
            n++;
        int rc = field(out, &tm, ms, c, n, shown, err, errlen);
        if (rc < 0)
            return err[0] ? -1 : fail(err, errlen, shown, "the result is too long");
        if (rc == 1) { /* not a format letter: itself */
            if (buf_append(out, p, n) != 0)
                return fail(err, errlen, shown, "the result is too long");
        }
        p += n;
    }
    return 0;
}

int netfmt_guid(buf_t *out, const char *guid, const char *fmt, char *err, size_t errlen)
{
    char f = fmt[0] && !fmt[1] ? fmt[0] : '?';
    switch (f) {
    case 'D': case 'd':
        return buf_puts(out, guid);
    case 'B': case 'b':
        return buf_printf(out, "{%s}", guid);
    case 'P': case 'p':
        return buf_printf(out, "(%s)", guid);
    case 'N': case 'n':
        for (const char *p = guid; *p; p++)
            if (*p != '-' && buf_putc(out, *p) != 0)
                return -1;
        return 0;
    default:
        snprintf(err, errlen, "GUID format '%s': expected N, D, B or P", fmt);
        return -1;
    }
}
