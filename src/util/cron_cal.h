/*
 * cron_cal.h -- the proleptic Gregorian calendar that the schedule
 * engine (cron_parse.c, cron.c, cron_status.c) counts on, in whole seconds since 1970-01-01T00:00:00 (of
 * UTC or of a wall clock alike). Internal to the schedule engine.
 */
#ifndef STRATUS_CRON_CAL_H
#define STRATUS_CRON_CAL_H

#include <stddef.h>
#include <stdint.h>

typedef struct cal {
    int y, mo, d;  /* year, month 1-12, day 1-31 */
    int h, mi, s;  /* 0-23, 0-59, 0-59 */
} cal_t;

/* a / b rounded towards minus infinity (b > 0). */
static inline int64_t cal_floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b < 0) ? q - 1 : q;
}

static inline int cal_leap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

static inline int cal_month_days(int y, int mo)
{
    static const int days[13] = {0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return mo == 2 && cal_leap(y) ? 29 : days[mo];
}

/* Days from 1970-01-01 to y-mo-d: counted in 400-year eras of 146097
 * days, with years starting in March so that the leap day comes last. */
static inline int64_t cal_days(int64_t y, int mo, int d)
{
    y -= mo <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;                                /* 0..399 */
    int64_t doy = (153 * (mo > 2 ? mo - 3 : mo + 9) + 2) / 5 + d - 1; /* 0..365 */
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;        /* 0..146096 */
    return era * 146097 + doe - 719468;
}

/* The inverse of cal_days(). */
static inline void cal_from_days(int64_t z, int *y, int *mo, int *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *mo = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = (int)(yoe + era * 400 + (*mo <= 2));
}

/* 0 = Sunday; 1970-01-01 was a Thursday. */
static inline int cal_weekday(int64_t days)
{
    int w = (int)((days + 4) % 7);
    return w < 0 ? w + 7 : w;
}

static inline void cal_split(int64_t sec, cal_t *t)
{
    int64_t days = cal_floor_div(sec, 86400), rem = sec - days * 86400;
    cal_from_days(days, &t->y, &t->mo, &t->d);
    t->h = (int)(rem / 3600);
    t->mi = (int)(rem / 60 % 60);
    t->s = (int)(rem % 60);
}

static inline int64_t cal_join(const cal_t *t)
{
    return cal_days(t->y, t->mo, t->d) * 86400 + t->h * 3600 + t->mi * 60 + t->s;
}

/* Copy n bytes of p into out (outlen > 0) as printable text for a message:
 * other bytes become \xNN, and a long text is cut with "...". */
void cron__quote(char *out, size_t outlen, const char *p, size_t n);

#endif
