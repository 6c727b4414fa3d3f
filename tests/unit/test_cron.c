/*
 * test_cron.c -- timer schedules (src/util/cron_parse.c, cron.c,
 * cron_status.c): every form of NCRONTAB and TimeSpan syntax, the error
 * messages, next and previous occurrences across calendar boundaries, time
 * zones with daylight saving, Azure's past-due rules and ISO 8601 times. test_cron_ref.c checks
 * the search against a brute-force one.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../src/util/cron.h"
#include "test.h"

static char err[CRON_ERR_LEN];

/* An ISO time as ms; aborts on a typo in the test itself. */
static int64_t T(const char *iso)
{
    int64_t ms;
    char e[CRON_ERR_LEN];
    if (cron_time_parse(iso, strlen(iso), &ms, e, sizeof e) != 0) {
        fprintf(stderr, "bad test time %s: %s\n", iso, e);
        abort();
    }
    return ms;
}

/* ms as "2026-11-26T21:00:00.000Z", "never" or "none"; four rotating
 * buffers so that a CHECK can hold a few. */
static const char *S(int64_t ms)
{
    static char bufs[4][CRON_TIME_LEN];
    static int k;
    char *b = bufs[k++ % 4];
    if (ms == CRON_NEVER)
        return "never";
    if (ms == CRON_NONE)
        return "none";
    cron_time_format(ms, 0, CRON_TIME_UTC_MS, b, CRON_TIME_LEN);
    return b;
}

static cron_t P(const char *expr)
{
    cron_t c;
    if (cron_parse(&c, expr, err, sizeof err) != 0)
        fprintf(stderr, "parse '%s': %s\n", expr, err);
    return c;
}

/* The next n occurrences of expr after `from`, space-separated. */
static const char *seq(const char *expr, const char *from, int n)
{
    static char out[1024];
    cron_t c;
    if (cron_parse(&c, expr, err, sizeof err) != 0)
        return err;
    int64_t t = T(from);
    out[0] = '\0';
    for (int i = 0; i < n; i++) {
        t = cron_next(&c, t);
        if (i)
            strcat(out, " ");
        strcat(out, S(t));
        if (t == CRON_NEVER)
            break;
    }
    return out;
}

static const char *nx(const char *expr, const char *from) { return seq(expr, from, 1); }

static const char *pv(const char *expr, const char *at)
{
    cron_t c;
    if (cron_parse(&c, expr, err, sizeof err) != 0)
        return err;
    return S(cron_prev(&c, T(at)));
}

/* The parse error of expr, or "ok". */
static const char *perr(const char *expr)
{
    cron_t c;
    if (cron_parse(&c, expr, err, sizeof err) == 0)
        return "ok";
    return err;
}

/* The values of a bit mask as "0,5,10". */
static const char *vals(uint64_t mask)
{
    static char out[256];
    size_t o = 0;
    out[0] = '\0';
    for (int v = 0; v < 64; v++)
        if (mask >> v & 1)
            o += (size_t)snprintf(out + o, sizeof out - o, "%s%d", o ? "," : "", v);
    return out;
}

/* ---- syntax ------------------------------------------------------------ */

TEST(six_fields)
{
    cron_t c = P("0 */5 * * * *");
    CHECK_INT(c.kind, CRON_KIND_CRON);
    CHECK_INT(c.nfields, 6);
    CHECK_INT(c.tz, CRON_TZ_UTC);
    CHECK_STR(vals(c.second), "0");
    CHECK_STR(vals(c.minute), "0,5,10,15,20,25,30,35,40,45,50,55");
    CHECK_INT(c.hour, 0xffffff);
    CHECK_STR(vals(c.day), "1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,"
                           "26,27,28,29,30,31");
    CHECK_STR(vals(c.month), "1,2,3,4,5,6,7,8,9,10,11,12");
    CHECK_STR(vals(c.weekday), "0,1,2,3,4,5,6");
    /* Azure's documentation: started at 18:57, the next run is at 19:00. */
    CHECK_STR(nx("0 */5 * * * *", "2026-05-01T18:57:00Z"), "2026-05-01T19:00:00.000Z");
    CHECK_STR(nx("0 */5 * * * *", "2026-05-01T18:55:00Z"), "2026-05-01T19:00:00.000Z");
}

TEST(five_fields_have_second_zero)
{
    cron_t c = P("*/15 9-17 * * 1-5");
    CHECK_INT(c.nfields, 5);
    CHECK_STR(vals(c.second), "0");
    CHECK_STR(vals(c.minute), "0,15,30,45");
    CHECK_STR(vals(c.hour), "9,10,11,12,13,14,15,16,17");
    CHECK_STR(vals(c.weekday), "1,2,3,4,5");
    /* Friday 17:45 -> Monday 09:00 */
    CHECK_STR(nx("*/15 9-17 * * 1-5", "2026-05-01T17:45:00Z"), "2026-05-04T09:00:00.000Z");
    CHECK_STR(seq("* * * * *", "2026-05-01T10:00:30Z", 2),
              "2026-05-01T10:01:00.000Z 2026-05-01T10:02:00.000Z");
}

TEST(values_ranges_lists_steps)
{
    CHECK_STR(vals(P("5 * * * * *").second), "5");
    CHECK_STR(vals(P("5-7 * * * * *").second), "5,6,7");
    CHECK_STR(vals(P("5,8,10 * * * * *").second), "5,8,10");
    CHECK_STR(vals(P("*/20 * * * * *").second), "0,20,40");
    CHECK_STR(vals(P("10-30/10 * * * * *").second), "10,20,30");
    CHECK_STR(vals(P("10-31/10 * * * * *").second), "10,20,30");
    CHECK_STR(vals(P("45/5 * * * * *").second), "45,50,55"); /* a/n runs to the maximum */
    CHECK_STR(vals(P("1,2-4,*/30,50/7 * * * * *").second), "0,1,2,3,4,30,50,57");
    CHECK_STR(vals(P("0 0 0 */10 * *").day), "1,11,21,31"); /* steps start at the minimum */
    CHECK_STR(vals(P("0 0 0 * */4 *").month), "1,5,9");
    CHECK_STR(vals(P("0 0 */7 * * *").hour), "0,7,14,21");
    CHECK_STR(vals(P("007 * * * * *").second), "7");
    CHECK_STR(vals(P("59 59 23 31 12 6").second), "59");
}

TEST(ncrontab_leniencies)
{
    CHECK_STR(vals(P("5-2 * * * * *").second), "2,3,4,5"); /* reversed range, swapped */
    CHECK_STR(vals(P("50-10/20 * * * * *").second), "10,30,50");
    CHECK_INT(P("*/0 * * * * *").second, P("* * * * * *").second); /* step 0 means 1 */
    CHECK_INT(P("*/-3 * * * * *").second, P("* * * * * *").second);
    CHECK_STR(vals(P("*/+30 * * * * *").second), "0,30");
    CHECK_STR(vals(P("*/100 * * * * *").second), "0");
    CHECK_STR(vals(P("3/99999999999 * * * * *").second), "3");
    CHECK_STR(vals(P("5-5 * * * * *").second), "5");
    CHECK_STR(vals(P("1,1,1 * * * * *").second), "1");
}

TEST(names)
{
    CHECK_STR(vals(P("0 30 9 * Jan Mon").month), "1");
    CHECK_STR(vals(P("0 30 9 * Jan Mon").weekday), "1");
    CHECK_STR(vals(P("0 0 0 * JAN-MAR *").month), "1,2,3");
    CHECK_STR(vals(P("0 0 0 * january,December *").month), "1,12");
    CHECK_STR(vals(P("0 0 0 * * SUN,sat").weekday), "0,6");
    CHECK_STR(vals(P("0 0 0 * * Mon-Fri").weekday), "1,2,3,4,5");
    CHECK_STR(vals(P("0 0 0 * * monday-FRIDAY").weekday), "1,2,3,4,5");
    CHECK_STR(vals(P("0 0 0 * * Fri-Mon").weekday), "1,2,3,4,5"); /* swapped, as NCrontab */
    CHECK_STR(vals(P("0 0 0 * Feb/3 *").month), "2,5,8,11");
    CHECK_STR(vals(P("0 0 0 * 3,Apr,May *").month), "3,4,5");
    /* Any prefix of the English name, the first match in calendar order. */
    CHECK_STR(vals(P("0 0 0 * * T").weekday), "2");
    CHECK_STR(vals(P("0 0 0 * * Th").weekday), "4");
    CHECK_STR(vals(P("0 0 0 * * s").weekday), "0");
    CHECK_STR(vals(P("0 0 0 * J *").month), "1");
    CHECK_STR(vals(P("0 0 0 * Ju *").month), "6");
    CHECK_STR(vals(P("0 0 0 * M *").month), "3");
    CHECK_STR(vals(P("0 0 0 * May *").month), "5");
    CHECK_STR(vals(P("0 0 0 * Sept *").month), "9");
    CHECK_STR(vals(P("0 0 * * * *").weekday), "0,1,2,3,4,5,6");
    CHECK_STR(vals(P("0 0 * * *").month), "1,2,3,4,5,6,7,8,9,10,11,12");
}

TEST(white_space)
{
    cron_t a = P("0 */5 * * * *"), b = P("  0\t*/5  *\n*   * *  ");
    CHECK(memcmp(&a, &b, sizeof a) == 0);
    CHECK_INT(P(" */5 * * * * ").nfields, 5);
}

TEST(timespans)
{
    struct {
        const char *s;
        int64_t ms;
    } ok[] = {
        {"01:00:00", 3600000},
        {"00:01:00", 60000},
        {"00:00:01", 1000},
        {"23:59:59", 86399000},
        {"1:2:3", 3723000},
        {"00:05", 300000}, /* hh:mm */
        {"24:00:00", 24LL * 86400000}, /* hh >= 24: d:hh:mm, 24 days as in .NET */
        {"30:01:02", 30LL * 86400000 + 3600000 + 120000},
        {"1.00:00:00", 86400000},
        {"1.02:03", 93780000}, /* d.hh:mm */
        {"2.03:04:05", 2LL * 86400000 + 3 * 3600000 + 4 * 60000 + 5000},
        {"25:00:00:00", 25LL * 86400000}, /* d:hh:mm:ss, Azure's docs */
        {"7", 7LL * 86400000}, /* whole days */
        {"00:00:01.5", 1500},
        {"00:00:00.25", 250},
        {"00:00:00.0010000", 1},
        {"1.00:00:00.1234567", 86400123},
        {"1:00:00:00.5", 86400500},
        {"0023:0059:0059", 86399000},
        {" 00:10:00 ", 600000},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        cron_t c;
        int rc = cron_parse(&c, ok[i].s, err, sizeof err);
        if (rc != 0)
            fprintf(stderr, "'%s': %s\n", ok[i].s, err);
        CHECK_INT(rc, 0);
        CHECK_INT(c.kind, CRON_KIND_INTERVAL);
        if (c.interval_ms != ok[i].ms)
            fprintf(stderr, "'%s'\n", ok[i].s);
        CHECK_INT(c.interval_ms, ok[i].ms);
    }
}

/* ---- errors ------------------------------------------------------------ */

TEST(error_messages_exact)
{
    CHECK_STR(perr("0 */5 * * *x *"),
              "schedule '0 */5 * * *x *': field 5 (month): 'x' is not a number or a month name");
    CHECK_STR(perr("61 * * * * *"), "schedule '61 * * * * *': field 1 (second): 61 is out of "
                                    "range 0-59");
    CHECK_STR(perr("0 0 0 * * 7"), "schedule '0 0 0 * * 7': field 6 (day-of-week): 7 is out of "
                                   "range 0-6 (Sunday is 0)");
    CHECK_STR(perr("* * * *"),
              "schedule '* * * *': expected 6 fields ({second} {minute} {hour} {day} {month} "
              "{day-of-week}), 5 fields (no seconds) or a TimeSpan hh:mm:ss; found 4 fields");
    CHECK_STR(perr("%TimerSchedule%"),
              "schedule '%TimerSchedule%': an app setting reference (%Name%) must be resolved "
              "before the schedule is parsed");
    CHECK_STR(perr("0 60 * * *"), "schedule '0 60 * * *': field 2 (hour): 60 is out of range "
                                  "0-23");
    CHECK_STR(perr("00:00:00"), "schedule '00:00:00': a TimeSpan interval must be greater than "
                                "zero");
}

TEST(error_messages_name_the_problem)
{
    struct {
        const char *expr, *needle;
    } bad[] = {
        {"", "the schedule is empty"},
        {"   \t", "the schedule is empty"},
        {"*/5", "found 1 field"},
        {"0 0 0 0 0 0 0", "found 7 fields"},
        {"1 2 3", "found 3 fields"},
        {"0 0 0 0 * *", "field 4 (day): 0 is out of range 1-31"},
        {"0 0 0 32 * *", "field 4 (day): 32 is out of range 1-31"},
        {"0 0 0 * 13 *", "field 5 (month): 13 is out of range 1-12"},
        {"0 0 0 * 0 *", "field 5 (month): 0 is out of range 1-12"},
        {"0 0 24 * * *", "field 3 (hour): 24 is out of range 0-23"},
        {"0 0 0 * * 1-7", "field 6 (day-of-week): 7 is out of range 0-6"},
        {"99999999999 * * * * *", "field 1 (second): 99999999999 is out of range 0-59"},
        {"0 0 0 * * Funday", "field 6 (day-of-week): 'Funday' is not a number or a day name"},
        {"0 0 0 * Mayday *", "'Mayday' is not a number or a month name"},
        {"0 0 0 L * *", "field 4 (day): 'L' is not a number"},
        {"0 0 0 ? * *", "field 4 (day): '?' is not a number"},
        {"0 x * * * *", "field 2 (minute): 'x' is not a number"},
        {"5x * * * * *", "field 1 (second): '5x' is not a number"},
        {"1,,2 * * * * *", "field 1 (second): empty element in list '1,,2'"},
        {",1 * * * * *", "empty element in list ',1'"},
        {"1, * * * * *", "empty element in list '1,'"},
        {"1- * * * * *", "field 1 (second): a value is missing"},
        {"-1 * * * * *", "'-1' is not a number"},
        {"1-2-3 * * * * *", "'2-3' is not a number"},
        {"*/x * * * * *", "field 1 (second): step 'x' is not a number"},
        {"*/ * * * * *", "step '' is not a number"},
        {"*/5/2 * * * * *", "step '5/2' is not a number"},
        {"/5 * * * * *", "'/5' has no value before '/'"},
        {"*5 * * * * *", "'*' cannot be followed by a value"},
        {"*-5 * * * * *", "'-5' is not a number"},
        {"1-* * * * * *", "'*' is not a number"},
        {"0 0 0 * * \x01", "'\\x01' is not a number or a day name"},
        {"0 0 0 * * \xc3\xa9", "'\\xc3\\xa9'"},
        {"25:61:00", "TimeSpan hours value 25 is out of range 0-23"},
        {"24:60:00", "TimeSpan hours value 24 is out of range 0-23"},
        {"25:24:00", "TimeSpan hours value 25 is out of range 0-23"},
        {"99999999999", "TimeSpan days value 99999999999 is out of range 0-10675199"},
        {"00:123456789012:00", "TimeSpan minutes value 123456789012 is out of range 0-59"},
        {"00:60:00", "TimeSpan minutes value 60 is out of range 0-59"},
        {"00:00:60", "TimeSpan seconds value 60 is out of range 0-59"},
        {"24:00", "TimeSpan hours value 24 is out of range 0-23"},
        {"1.24:00:00", "TimeSpan hours value 24 is out of range 0-23"},
        {"99999999", "TimeSpan days value 99999999 is out of range 0-10675199"},
        {"-01:00:00", "a TimeSpan interval cannot be negative"},
        {"-00:00:00", "must be greater than zero"},
        {"0", "must be greater than zero"},
        {"00:00:00.00001", "must be at least 1 ms"},
        {"00:00:00.12345678", "at most 7 are allowed"},
        {"1:2:3:4:5", "not a TimeSpan"},
        {"1.2.3", "not a TimeSpan"},
        {"10:", "not a TimeSpan"},
        {":10", "not a TimeSpan"},
        {"10.12", "not a TimeSpan"},
        {"1:2.5", "not a TimeSpan"},
        {"+5", "not a TimeSpan"},
        {"%A%", "must be resolved"},
        {"0 */5 %H% * * *", "must be resolved"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cron_t c;
        memset(&c, 0x5a, sizeof c);
        int rc = cron_parse(&c, bad[i].expr, err, sizeof err);
        if (rc == 0 || !strstr(err, bad[i].needle))
            fprintf(stderr, "'%s': rc %d, \"%s\" lacks \"%s\"\n", bad[i].expr, rc, err,
                    bad[i].needle);
        CHECK_INT(rc, -1);
        CHECK_CONTAINS(err, bad[i].needle);
        CHECK_INT(strncmp(err, "schedule '", 10), 0);
        CHECK_INT(c.kind, 0); /* zeroed on failure */
    }
}

TEST(error_buffers_and_limits)
{
    cron_t c;
    char small[12];
    memset(small, 'x', sizeof small);
    CHECK_INT(cron_parse(&c, "61 * * * * *", small, sizeof small), -1);
    CHECK_INT(strlen(small), sizeof small - 1);
    CHECK_INT(cron_parse(&c, "61 * * * * *", NULL, 0), -1);
    CHECK_INT(cron_parse(&c, NULL, err, sizeof err), -1);
    CHECK_CONTAINS(err, "no schedule given");

    /* The longest accepted schedule, then one byte more. */
    char *big = malloc(CRON_MAX_LEN + 2);
    memset(big, ' ', CRON_MAX_LEN + 1);
    memcpy(big, "0 0 0 * * *", 11);
    big[CRON_MAX_LEN] = '\0';
    CHECK_INT(cron_parse(&c, big, err, sizeof err), 0);
    big[CRON_MAX_LEN] = ' ';
    big[CRON_MAX_LEN + 1] = '\0';
    CHECK_INT(cron_parse(&c, big, err, sizeof err), -1);
    CHECK_CONTAINS(err, "longer than 1024 bytes");
    free(big);

    /* A long bad field is quoted, cut short, in a message that fits. */
    char longf[600];
    memset(longf, 'q', sizeof longf - 1);
    longf[sizeof longf - 1] = '\0';
    memcpy(longf, "0 0 0 * * ", 10);
    CHECK_INT(cron_parse(&c, longf, err, sizeof err), -1);
    CHECK_CONTAINS(err, "...");
    CHECK(strlen(err) < sizeof err);
}

/* ---- next occurrences -------------------------------------------------- */

TEST(next_is_strictly_after)
{
    CHECK_STR(nx("0 0 * * * *", "2026-05-01T10:00:00Z"), "2026-05-01T11:00:00.000Z");
    CHECK_STR(nx("0 0 * * * *", "2026-05-01T09:59:59.999Z"), "2026-05-01T10:00:00.000Z");
    CHECK_STR(nx("* * * * * *", "2026-05-01T10:00:00.500Z"), "2026-05-01T10:00:01.000Z");
    CHECK_STR(nx("* * * * * *", "2026-05-01T10:00:00Z"), "2026-05-01T10:00:01.000Z");
    CHECK_STR(nx("* * * * * *", "1969-12-31T23:59:59.999Z"), "1970-01-01T00:00:00.000Z");
    CHECK_STR(nx("0 0 0 1 1 *", "1960-06-01T00:00:00Z"), "1961-01-01T00:00:00.000Z");
}

TEST(next_crosses_boundaries)
{
    /* minute, hour, day, month, year */
    CHECK_STR(nx("30 * * * * *", "2026-05-01T10:00:31Z"), "2026-05-01T10:01:30.000Z");
    CHECK_STR(nx("0 15 * * * *", "2026-05-01T10:15:01Z"), "2026-05-01T11:15:00.000Z");
    CHECK_STR(nx("0 0 6 * * *", "2026-05-01T23:00:00Z"), "2026-05-02T06:00:00.000Z");
    CHECK_STR(nx("0 0 0 1 * *", "2026-05-15T00:00:00Z"), "2026-06-01T00:00:00.000Z");
    CHECK_STR(nx("* * * * * *", "2026-12-31T23:59:59Z"), "2027-01-01T00:00:00.000Z");
    CHECK_STR(nx("59 59 23 31 12 *", "2026-12-31T23:59:59Z"), "2027-12-31T23:59:59.000Z");
    CHECK_STR(nx("0 0 0 1 1 *", "2026-01-01T00:00:00Z"), "2027-01-01T00:00:00.000Z");
    CHECK_STR(seq("0 0 12 * * *", "2026-02-27T13:00:00Z", 3),
              "2026-02-28T12:00:00.000Z 2026-03-01T12:00:00.000Z 2026-03-02T12:00:00.000Z");
    CHECK_STR(seq("0 0 9-17/4 * * *", "2026-05-01T12:00:00Z", 4),
              "2026-05-01T13:00:00.000Z 2026-05-01T17:00:00.000Z 2026-05-02T09:00:00.000Z "
              "2026-05-02T13:00:00.000Z");
    CHECK_STR(seq("*/20 58-59 23 31 12 *", "2026-12-31T23:59:30Z", 3),
              "2026-12-31T23:59:40.000Z 2027-12-31T23:58:00.000Z 2027-12-31T23:58:20.000Z");
}

TEST(leap_years)
{
    CHECK_STR(seq("0 0 0 29 2 *", "2024-03-01T00:00:00Z", 3),
              "2028-02-29T00:00:00.000Z 2032-02-29T00:00:00.000Z 2036-02-29T00:00:00.000Z");
    CHECK_STR(nx("0 0 0 29 2 *", "1999-01-01T00:00:00Z"), "2000-02-29T00:00:00.000Z");
    CHECK_STR(nx("0 0 0 29 2 *", "2097-01-01T00:00:00Z"), "2104-02-29T00:00:00.000Z");
    CHECK_STR(nx("0 0 0 29 Feb Mon", "2026-01-01T00:00:00Z"), "2044-02-29T00:00:00.000Z");
    CHECK_STR(nx("0 0 0 29 Feb Mon", "2045-01-01T00:00:00Z"), "2072-02-29T00:00:00.000Z");
    CHECK_STR(nx("0 0 0 29 Feb Mon", "2073-01-01T00:00:00Z"), "2112-02-29T00:00:00.000Z");
    CHECK_STR(seq("0 0 0 28-31 2 *", "2028-02-27T00:00:00Z", 3),
              "2028-02-28T00:00:00.000Z 2028-02-29T00:00:00.000Z 2029-02-28T00:00:00.000Z");
    CHECK_STR(pv("0 0 0 29 2 *", "2104-02-28T00:00:00Z"), "2096-02-29T00:00:00.000Z");
}

TEST(last_days_of_months)
{
    /* As NCrontab: a day a month lacks is skipped, not moved. */
    CHECK_STR(seq("0 0 0 31 * *", "2026-01-01T00:00:00Z", 4),
              "2026-01-31T00:00:00.000Z 2026-03-31T00:00:00.000Z 2026-05-31T00:00:00.000Z "
              "2026-07-31T00:00:00.000Z");
    CHECK_STR(seq("0 0 0 30 * *", "2026-01-30T00:00:00Z", 2),
              "2026-03-30T00:00:00.000Z 2026-04-30T00:00:00.000Z");
    CHECK_STR(seq("0 0 0 15,31 * *", "2000-01-01T00:00:00Z", 6),
              "2000-01-15T00:00:00.000Z 2000-01-31T00:00:00.000Z 2000-02-15T00:00:00.000Z "
              "2000-03-15T00:00:00.000Z 2000-03-31T00:00:00.000Z 2000-04-15T00:00:00.000Z");
    CHECK_STR(nx("0 0 0 31 4,6,9,11,12 *", "2026-01-01T00:00:00Z"), "2026-12-31T00:00:00.000Z");
    CHECK_STR(pv("0 0 0 31 * *", "2026-05-30T00:00:00Z"), "2026-03-31T00:00:00.000Z");
}

TEST(day_and_weekday_are_and)
{
    /* Friday the 13th only (Vixie cron would fire on every 13th and every
     * Friday). */
    CHECK_STR(seq("0 0 12 13 * Fri", "2026-01-01T00:00:00Z", 3),
              "2026-02-13T12:00:00.000Z 2026-03-13T12:00:00.000Z 2026-11-13T12:00:00.000Z");
    /* Mondays that are the 1st of a month. */
    CHECK_STR(seq("0 0 0 1 * 1", "2026-01-01T00:00:00Z", 2),
              "2026-06-01T00:00:00.000Z 2027-02-01T00:00:00.000Z");
    /* The first Monday of a month. */
    CHECK_STR(seq("0 0 9 1-7 * Mon", "2026-05-01T00:00:00Z", 3),
              "2026-05-04T09:00:00.000Z 2026-06-01T09:00:00.000Z 2026-07-06T09:00:00.000Z");
    /* Weekdays and weekends. */
    CHECK_STR(seq("0 30 9 * * 1-5", "2026-05-01T10:00:00Z", 2),
              "2026-05-04T09:30:00.000Z 2026-05-05T09:30:00.000Z");
    CHECK_STR(seq("0 0 0 * * 6,0", "2026-05-01T10:00:00Z", 3),
              "2026-05-02T00:00:00.000Z 2026-05-03T00:00:00.000Z 2026-05-09T00:00:00.000Z");
    CHECK_STR(seq("0 30 9 * Jan Mon", "2026-01-01T00:00:00Z", 5),
              "2026-01-05T09:30:00.000Z 2026-01-12T09:30:00.000Z 2026-01-19T09:30:00.000Z "
              "2026-01-26T09:30:00.000Z 2027-01-04T09:30:00.000Z");
}

TEST(impossible_schedules_never_fire)
{
    const char *never[] = {"0 0 0 30 2 *", "0 0 0 31 2 *", "0 0 0 31 4,6,9,11 *",
                           "0 0 0 30-31 Feb *", "* * * 31 Feb,Apr *"};
    for (size_t i = 0; i < sizeof never / sizeof never[0]; i++) {
        cron_t c = P(never[i]);
        CHECK_INT(c.kind, CRON_KIND_CRON); /* accepted, as on Azure */
        CHECK_INT(c.possible, 0);
        CHECK_INT(cron_next(&c, T("2026-01-01T00:00:00Z")), CRON_NEVER);
        CHECK_INT(cron_prev(&c, T("2026-01-01T00:00:00Z")), CRON_NONE);
        CHECK_INT(cron_fires_sub_minute(&c, 0), 0);
    }
    CHECK_INT(P("0 0 0 29 2 *").possible, 1);
}

TEST(range_of_years)
{
    cron_t c = P("0 0 0 * * *");
    CHECK_INT(cron_next(&c, T("9999-12-31T00:00:00Z")), CRON_NEVER);
    CHECK_INT(cron_next(&c, CRON_TIME_MAX_MS), CRON_NEVER);
    CHECK_INT(cron_next(&c, INT64_MAX), CRON_NEVER);
    CHECK_STR(S(cron_next(&c, T("9999-12-30T12:00:00Z"))), "9999-12-31T00:00:00.000Z");
    CHECK_STR(S(cron_next(&c, INT64_MIN)), "0001-01-01T00:00:00.000Z");
    CHECK_STR(S(cron_prev(&c, CRON_TIME_MIN_MS)), "0001-01-01T00:00:00.000Z");
    CHECK_INT(cron_prev(&c, CRON_TIME_MIN_MS - 1), CRON_NONE);
    CHECK_INT(cron_prev(&c, INT64_MIN), CRON_NONE);
    CHECK_STR(S(cron_prev(&c, INT64_MAX)), "9999-12-31T00:00:00.000Z");
    cron_t rare = P("0 0 0 29 2 Mon");
    CHECK_INT(cron_next(&rare, T("9990-01-01T00:00:00Z")), CRON_NEVER);
}

TEST(prev_occurrences)
{
    CHECK_STR(pv("0 */5 * * * *", "2026-05-01T10:07:00Z"), "2026-05-01T10:05:00.000Z");
    CHECK_STR(pv("0 */5 * * * *", "2026-05-01T10:05:00Z"), "2026-05-01T10:05:00.000Z");
    CHECK_STR(pv("0 */5 * * * *", "2026-05-01T10:04:59.999Z"), "2026-05-01T10:00:00.000Z");
    CHECK_STR(pv("0 0 0 1 1 *", "2026-01-01T00:00:00.001Z"), "2026-01-01T00:00:00.000Z");
    CHECK_STR(pv("0 0 0 1 1 *", "2025-12-31T23:59:59Z"), "2025-01-01T00:00:00.000Z");
    CHECK_STR(pv("0 0 12 13 * Fri", "2026-11-12T00:00:00Z"), "2026-03-13T12:00:00.000Z");
    CHECK_STR(pv("30 15 10 * * *", "2026-05-01T10:15:29Z"), "2026-04-30T10:15:30.000Z");
    CHECK_STR(pv("* * * * * *", "2026-05-01T10:15:29.5Z"), "2026-05-01T10:15:29.000Z");
}

TEST(intervals)
{
    cron_t c = P("00:05:00");
    int64_t start = T("2026-05-01T10:00:00.250Z");
    /* Azure's ConstantSchedule: the reference plus the interval. */
    CHECK_STR(S(cron_next(&c, start)), "2026-05-01T10:05:00.250Z");
    CHECK_STR(S(cron_next(&c, cron_next(&c, start))), "2026-05-01T10:10:00.250Z");
    CHECK_INT(cron_prev(&c, start), CRON_NONE);
    CHECK_INT(cron_next(&c, CRON_TIME_MAX_MS), CRON_NEVER);
    CHECK_INT(cron_next(&c, INT64_MAX), CRON_NEVER);
    CHECK_INT(cron_utc_offset(&c, start), 0);
    cron_t zero;
    memset(&zero, 0, sizeof zero);
    CHECK_INT(cron_next(&zero, start), CRON_NEVER); /* a cron_t never parsed */
    CHECK_INT(cron_prev(&zero, start), CRON_NONE);
}

TEST(sub_minute_rule)
{
    int64_t noon = T("2026-05-01T12:00:00Z");
    cron_t c;
    c = P("* * * * * *");
    CHECK_INT(cron_fires_sub_minute(&c, noon), 1);
    c = P("*/30 * * * * *");
    CHECK_INT(cron_fires_sub_minute(&c, noon + 1), 1);
    /* Azure counts occurrences in (now, now + 1 min): from a whole minute,
     * 12:00:30 is in and 12:01:00 is not. */
    CHECK_INT(cron_fires_sub_minute(&c, noon), 0);
    c = P("0,59 * * * * *");
    CHECK_INT(cron_fires_sub_minute(&c, T("2026-05-01T12:00:30Z")), 1);
    c = P("0 * * * * *");
    CHECK_INT(cron_fires_sub_minute(&c, noon), 0); /* exactly once a minute */
    CHECK_INT(cron_fires_sub_minute(&c, noon + 500), 0);
    c = P("* * * * *");
    CHECK_INT(cron_fires_sub_minute(&c, noon), 0);
    c = P("0 */5 * * * *");
    CHECK_INT(cron_fires_sub_minute(&c, noon), 0);
    /* Twice a minute, but only at midnight: Azure's answer depends on now. */
    c = P("0,30 0 0 * * *");
    CHECK_INT(cron_fires_sub_minute(&c, T("2026-05-01T23:59:50Z")), 1);
    CHECK_INT(cron_fires_sub_minute(&c, noon), 0);
    c = P("00:00:30");
    CHECK_INT(cron_fires_sub_minute(&c, noon), 1);
    c = P("00:00:59.999");
    CHECK_INT(cron_fires_sub_minute(&c, noon), 1);
    c = P("00:01:00");
    CHECK_INT(cron_fires_sub_minute(&c, noon), 0);
    c = P("* * * * * *");
    CHECK_INT(cron_fires_sub_minute(&c, CRON_TIME_MAX_MS), 0);
    CHECK_INT(cron_fires_sub_minute(&c, INT64_MAX), 0);
}

TEST(point_in_time_or_interval)
{
    /* Azure's CronSchedule.IsInterval, on NCrontab's expanded form. */
    CHECK_INT(P("0 30 1 * * *").point_in_time, 1);
    CHECK_INT(P("0 0 1,3 * * *").point_in_time, 1);
    CHECK_INT(P("0 */30 1 * * *").point_in_time, 1); /* expands to 0,30 */
    CHECK_INT(P("30 1 * * *").point_in_time, 1);
    CHECK_INT(P("0 0 * * * *").point_in_time, 0);
    CHECK_INT(P("0 0 1-2 * * *").point_in_time, 0);
    CHECK_INT(P("0 0,1 1 * * *").point_in_time, 0);
    CHECK_INT(P("*/2 0 1 * * *").point_in_time, 1);
    CHECK_INT(P("* 0 1 * * *").point_in_time, 0);
    CHECK_INT(P("01:00:00").point_in_time, 0);
}

/* ---- time zones -------------------------------------------------------- */

/* Run f with the process in time zone tz (a POSIX TZ string, so that no
 * zone files are needed), then restore the previous zone. */
static void in_zone(const char *tz, void (*f)(void))
{
    char *old = getenv("TZ") ? strdup(getenv("TZ")) : NULL;
    setenv("TZ", tz, 1);
    tzset();
    f();
    if (old)
        setenv("TZ", old, 1);
    else
        unsetenv("TZ");
    tzset();
    free(old);
}

/* The next n occurrences of expr in local time, as Azure's ScheduleStatus
 * would show them. */
static const char *lseq(const char *expr, const char *from, int n)
{
    static char out[1024];
    cron_t c;
    if (cron_parse(&c, expr, err, sizeof err) != 0)
        return err;
    c.tz = CRON_TZ_LOCAL;
    int64_t t = T(from);
    out[0] = '\0';
    for (int i = 0; i < n; i++) {
        char b[CRON_TIME_LEN];
        t = cron_next(&c, t);
        cron_time_format(t, cron_utc_offset(&c, t), CRON_TIME_AZURE, b, sizeof b);
        if (i)
            strcat(out, " ");
        strcat(out, b);
    }
    return out;
}

static void pacific_fall_back(void)
{
    /* The examples in Azure's CronSchedule.TryAdjustAmbiguousTime, 2018. */
    CHECK_STR(lseq("0 30 1 * * *", "2018-11-02T12:00:00Z", 3),
              "2018-11-03T01:30:00-07:00 2018-11-04T01:30:00-07:00 2018-11-05T01:30:00-08:00");
    CHECK_STR(lseq("0 */30 * * * *", "2018-11-04T07:00:00Z", 6),
              "2018-11-04T00:30:00-07:00 2018-11-04T01:00:00-07:00 2018-11-04T01:30:00-07:00 "
              "2018-11-04T01:00:00-08:00 2018-11-04T01:30:00-08:00 2018-11-04T02:00:00-08:00");
    /* Started during the repeated hour, after the first 01:30. */
    CHECK_STR(lseq("0 30 1 * * *", "2018-11-04T09:29:00Z", 1), "2018-11-05T01:30:00-08:00");
    CHECK_STR(lseq("0 0 2 * * *", "2018-11-03T12:00:00Z", 2),
              "2018-11-04T02:00:00-08:00 2018-11-05T02:00:00-08:00");
}

static void pacific_spring_forward(void)
{
    /* 02:30 does not exist on 2018-03-11: it fires at 03:30 PDT. */
    CHECK_STR(lseq("0 30 2 * * *", "2018-03-10T12:00:00Z", 3),
              "2018-03-11T03:30:00-07:00 2018-03-12T02:30:00-07:00 2018-03-13T02:30:00-07:00");
    CHECK_STR(lseq("0 */30 * * * *", "2018-03-11T09:00:00Z", 4),
              "2018-03-11T01:30:00-08:00 2018-03-11T03:00:00-07:00 2018-03-11T03:30:00-07:00 "
              "2018-03-11T04:00:00-07:00");
    CHECK_STR(lseq("0 0 9 * * *", "2018-03-10T12:00:00Z", 3),
              "2018-03-10T09:00:00-08:00 2018-03-11T09:00:00-07:00 2018-03-12T09:00:00-07:00");
}

static void local_prev_matches_wall_time(void)
{
    cron_t c = P("0 30 1 * * *");
    c.tz = CRON_TZ_LOCAL;
    /* Both 01:30s of the repeated hour match the wall time. */
    CHECK_STR(S(cron_prev(&c, T("2018-11-04T10:00:00Z"))), "2018-11-04T09:30:00.000Z");
    CHECK_STR(S(cron_prev(&c, T("2018-11-04T09:29:59Z"))), "2018-11-04T08:30:00.000Z");
    /* At 01:10 PST, the latest 01:50 is the PDT one, an hour before. */
    c = P("0 50 1 * * *");
    c.tz = CRON_TZ_LOCAL;
    CHECK_STR(S(cron_prev(&c, T("2018-11-04T09:10:00Z"))), "2018-11-04T08:50:00.000Z");
    /* 02:30 on the day clocks spring forward never happens on the wall. */
    c = P("0 30 2 * * *");
    c.tz = CRON_TZ_LOCAL;
    CHECK_STR(S(cron_prev(&c, T("2018-03-12T00:00:00Z"))), "2018-03-10T10:30:00.000Z");
    CHECK_INT(cron_utc_offset(&c, T("2018-03-12T00:00:00Z")), -7 * 3600);
    CHECK_INT(cron_utc_offset(&c, T("2018-01-12T00:00:00Z")), -8 * 3600);
}

static void india_no_dst(void)
{
    CHECK_STR(lseq("0 0 9 * * *", "2026-05-01T00:00:00Z", 2),
              "2026-05-01T09:00:00+05:30 2026-05-02T09:00:00+05:30");
    cron_t c = P("0 0 9 * * *");
    c.tz = CRON_TZ_LOCAL;
    CHECK_STR(S(cron_next(&c, T("2026-05-01T00:00:00Z"))), "2026-05-01T03:30:00.000Z");
    CHECK_STR(S(cron_prev(&c, T("2026-05-01T00:00:00Z"))), "2026-04-30T03:30:00.000Z");
}

TEST(time_zones)
{
    in_zone("PST8PDT,M3.2.0,M11.1.0", pacific_fall_back);
    in_zone("PST8PDT,M3.2.0,M11.1.0", pacific_spring_forward);
    in_zone("PST8PDT,M3.2.0,M11.1.0", local_prev_matches_wall_time);
    in_zone("IST-5:30", india_no_dst);
}

static void utc_ignores_zone(void)
{
    CHECK_STR(nx("0 0 9 * * *", "2026-05-01T00:00:00Z"), "2026-05-01T09:00:00.000Z");
}

TEST(utc_schedule_in_local_process)
{
    in_zone("IST-5:30", utc_ignores_zone);
    in_zone("PST8PDT,M3.2.0,M11.1.0", utc_ignores_zone);
}

/* ---- Azure's schedule status ------------------------------------------- */

TEST(past_due_new_timer)
{
    cron_t c = P("0 */5 * * * *");
    cron_status_t out;
    int changed = 0;
    int64_t now = T("2026-05-01T10:02:00Z");
    CHECK_INT(cron_check_past_due(&c, NULL, now, &out, &changed), 0);
    CHECK_INT(changed, 1);
    CHECK_INT(out.last_ms, CRON_NONE);
    CHECK_STR(S(out.next_ms), "2026-05-01T10:05:00.000Z");
    CHECK_INT(out.last_updated_ms, now);
}

TEST(past_due_after_downtime_runs_once)
{
    cron_t c = P("0 */5 * * * *");
    cron_status_t st, out, after;
    int changed;
    /* Last ran at 10:00; the host was down from 10:01 to 10:31: six slots
     * missed, one catch-up. */
    cron_status_after_run(&c, NULL, T("2026-05-01T10:00:00Z"), 1, &st);
    CHECK_STR(S(st.last_ms), "2026-05-01T10:00:00.000Z");
    CHECK_STR(S(st.next_ms), "2026-05-01T10:05:00.000Z");
    int64_t now = T("2026-05-01T10:31:00Z");
    CHECK_INT(cron_check_past_due(&c, &st, now, &out, &changed), 26 * 60000);
    CHECK_INT(changed, 0);
    CHECK(memcmp(&out, &st, sizeof st) == 0);
    /* The catch-up run counts from when it ran, so nothing is due after
     * it until 10:35. */
    cron_status_after_run(&c, &out, now + 20, 0, &after);
    CHECK_INT(after.last_ms, now + 20);
    CHECK_STR(S(after.next_ms), "2026-05-01T10:35:00.000Z");
    CHECK_INT(cron_check_past_due(&c, &after, now + 1000, &out, &changed), 0);
    CHECK_INT(changed, 0);
}

TEST(past_due_not_yet)
{
    cron_t c = P("0 0 * * * *");
    cron_status_t st, out;
    int changed;
    cron_status_after_run(&c, NULL, T("2026-05-01T10:00:00Z"), 1, &st);
    CHECK_INT(cron_check_past_due(&c, &st, T("2026-05-01T10:59:59Z"), &out, &changed), 0);
    CHECK_INT(cron_check_past_due(&c, &st, T("2026-05-01T11:00:00Z"), &out, &changed), 0);
    CHECK_INT(cron_check_past_due(&c, &st, T("2026-05-01T11:00:00.001Z"), &out, &changed), 1);
}

TEST(past_due_schedule_changed)
{
    cron_t old = P("0 0 * * * *"), neu = P("0 */10 * * * *");
    cron_status_t st, out;
    int changed;
    cron_status_after_run(&old, NULL, T("2026-05-01T10:00:00Z"), 1, &st);
    /* Edited to every 10 minutes; restarted at 10:25: the new schedule's
     * Next from Last (10:10) is past, so it starts from now instead. */
    CHECK_INT(cron_check_past_due(&neu, &st, T("2026-05-01T10:25:00Z"), &out, &changed), 0);
    CHECK_INT(changed, 1);
    CHECK_INT(out.last_ms, CRON_NONE);
    CHECK_STR(S(out.next_ms), "2026-05-01T10:30:00.000Z");
    CHECK_STR(S(out.last_updated_ms), "2026-05-01T10:25:00.000Z");
    /* Restarted at 10:05 instead: Next from Last (10:10) is still ahead. */
    CHECK_INT(cron_check_past_due(&neu, &st, T("2026-05-01T10:05:00Z"), &out, &changed), 0);
    CHECK_INT(changed, 1);
    CHECK_STR(S(out.next_ms), "2026-05-01T10:10:00.000Z");
    CHECK_STR(S(out.last_updated_ms), "2026-05-01T10:00:00.000Z");
}

TEST(past_due_never_ran)
{
    cron_t c = P("0 0 * * * *");
    cron_status_t st = {CRON_NONE, T("2026-05-01T11:00:00Z"), T("2026-05-01T10:20:00Z")};
    cron_status_t out;
    int changed;
    /* No Last: Next was computed from LastUpdated, and is past due now. */
    CHECK_INT(cron_check_past_due(&c, &st, T("2026-05-01T12:30:00Z"), &out, &changed),
              90 * 60000);
    CHECK_INT(changed, 0);
    /* Azure's DateTime.MinValue and anything within a year of it is unset. */
    st.last_ms = T("0001-06-01T00:00:00Z");
    CHECK_INT(cron_check_past_due(&c, &st, T("2026-05-01T12:30:00Z"), &out, &changed),
              90 * 60000);
    /* Nothing usable at all: start from now, not past due. */
    cron_status_t blank = {CRON_NONE, CRON_NONE, CRON_NONE};
    CHECK_INT(cron_check_past_due(&c, &blank, T("2026-05-01T12:30:00Z"), &out, &changed), 0);
    CHECK_INT(changed, 1);
    CHECK_STR(S(out.next_ms), "2026-05-01T13:00:00.000Z");
}

TEST(status_after_early_fire)
{
    cron_t c = P("0 0 * * * *");
    cron_status_t st, out;
    cron_status_after_run(&c, NULL, T("2026-05-01T10:00:00Z"), 1, &st);
    /* The timer fired 3 ms before 11:00 (clock skew): count from 11:00. */
    cron_status_after_run(&c, &st, T("2026-05-01T10:59:59.997Z"), 1, &out);
    CHECK_STR(S(out.last_ms), "2026-05-01T11:00:00.000Z");
    CHECK_STR(S(out.next_ms), "2026-05-01T12:00:00.000Z");
    /* A runOnStartup run counts from when it ran. */
    cron_status_after_run(&c, &st, T("2026-05-01T10:30:00Z"), 0, &out);
    CHECK_STR(S(out.last_ms), "2026-05-01T10:30:00.000Z");
    CHECK_STR(S(out.next_ms), "2026-05-01T11:00:00.000Z");
}

TEST(status_for_intervals)
{
    cron_t c = P("00:10:00");
    cron_status_t st, out;
    int changed;
    int64_t start = T("2026-05-01T10:00:00Z");
    CHECK_INT(cron_check_past_due(&c, NULL, start, &st, &changed), 0);
    CHECK_STR(S(st.next_ms), "2026-05-01T10:10:00.000Z");
    /* On time, runs fall at start + n * interval. */
    cron_status_after_run(&c, &st, st.next_ms, 1, &out);
    CHECK_STR(S(out.next_ms), "2026-05-01T10:20:00.000Z");
    cron_status_after_run(&c, &out, out.next_ms - 5, 1, &out);
    CHECK_STR(S(out.next_ms), "2026-05-01T10:30:00.000Z");
    /* Down for an hour: one catch-up. */
    CHECK_INT(cron_check_past_due(&c, &out, T("2026-05-01T11:30:00Z"), &st, &changed),
              60 * 60000);
}

/* ---- ISO 8601 ---------------------------------------------------------- */

static const char *F(int64_t ms, int off, cron_time_fmt_t fmt)
{
    static char b[CRON_TIME_LEN];
    if (cron_time_format(ms, off, fmt, b, sizeof b) < 0)
        return "(failed)";
    return b;
}

TEST(time_format)
{
    int64_t t = T("2026-11-26T21:00:00Z");
    CHECK_STR(F(t, 0, CRON_TIME_UTC_MS), "2026-11-26T21:00:00.000Z");
    CHECK_STR(F(t, -5 * 3600, CRON_TIME_UTC_MS), "2026-11-26T21:00:00.000Z");
    CHECK_STR(F(T("2016-10-04T10:15:00Z"), 0, CRON_TIME_AZURE), "2016-10-04T10:15:00+00:00");
    CHECK_STR(F(t + 500, 0, CRON_TIME_AZURE), "2026-11-26T21:00:00.5+00:00");
    CHECK_STR(F(t + 250, 0, CRON_TIME_AZURE), "2026-11-26T21:00:00.25+00:00");
    CHECK_STR(F(t + 7, 0, CRON_TIME_AZURE), "2026-11-26T21:00:00.007+00:00");
    CHECK_STR(F(t, -5 * 3600, CRON_TIME_AZURE), "2026-11-26T16:00:00-05:00");
    CHECK_STR(F(t, 5 * 3600 + 1800, CRON_TIME_AZURE), "2026-11-27T02:30:00+05:30");
    CHECK_STR(F(t, 20 * 60 + 5, CRON_TIME_AZURE), "2026-11-26T21:20:00+00:20");
    CHECK_STR(F(0, 0, CRON_TIME_UTC_MS), "1970-01-01T00:00:00.000Z");
    CHECK_STR(F(-1, 0, CRON_TIME_UTC_MS), "1969-12-31T23:59:59.999Z");
    CHECK_STR(F(CRON_NONE, 0, CRON_TIME_AZURE), "0001-01-01T00:00:00+00:00");
    CHECK_STR(F(CRON_NEVER, 0, CRON_TIME_AZURE), "9999-12-31T23:59:59.999+00:00");
    CHECK_STR(F(CRON_NEVER, 0, CRON_TIME_UTC_MS), "9999-12-31T23:59:59.999Z");
    CHECK_STR(F(CRON_NONE, -3600, CRON_TIME_AZURE), "0001-01-01T00:00:00-01:00");
    CHECK_STR(F(T("2000-02-29T23:59:59.999Z"), 0, CRON_TIME_UTC_MS), "2000-02-29T23:59:59.999Z");
    char small[25]; /* 24 characters and the NUL */
    CHECK_INT(cron_time_format(t, 0, CRON_TIME_UTC_MS, small, sizeof small - 1), -1);
    CHECK_STR(small, "");
    CHECK_INT(cron_time_format(t, 0, CRON_TIME_UTC_MS, small, sizeof small), 24);
    CHECK_STR(small, "2026-11-26T21:00:00.000Z");
    CHECK_INT(cron_time_format(t, 0, CRON_TIME_UTC_MS, small, 0), -1);
}

TEST(time_parse)
{
    int64_t ms;
    int64_t t = T("2026-11-26T21:00:00Z");
    CHECK_INT(T("2026-11-26T21:00:00.000Z"), t);
    CHECK_INT(T("2026-11-26T21:00:00+00:00"), t);
    CHECK_INT(T("2026-11-26T21:00:00"), t); /* no zone: UTC */
    CHECK_INT(T("2026-11-26t21:00:00z"), t);
    CHECK_INT(T("2026-11-26 21:00:00Z"), t);
    CHECK_INT(T("2026-11-26T16:00:00-05:00"), t);
    CHECK_INT(T("2026-11-27T02:30:00+0530"), t);
    CHECK_INT(T("2026-11-26T23:00:00+02"), t);
    CHECK_INT(T("2026-11-26T21:00:00.5Z"), t + 500);
    CHECK_INT(T("2026-11-26T21:00:00.1234567+00:00"), t + 123); /* Json.NET's 7 digits */
    CHECK_INT(T("2026-11-26T21:00:00.999999999Z"), t + 999);
    CHECK_INT(T("0001-01-01T00:00:00+00:00"), CRON_TIME_MIN_MS);
    CHECK_INT(T("9999-12-31T23:59:59.999Z"), CRON_TIME_MAX_MS);
    const char *bad[] = {"",
                         "2026-11-26",
                         "2026-11-26T21:00",
                         "2026-11-26T21:00:00X",
                         "2026-11-26T21:00:00Z ",
                         "2026-02-29T00:00:00Z",
                         "2026-13-01T00:00:00Z",
                         "2026-00-01T00:00:00Z",
                         "2026-04-31T00:00:00Z",
                         "2026-01-01T24:00:00Z",
                         "2026-01-01T00:60:00Z",
                         "2026-01-01T00:00:60Z",
                         "0000-01-01T00:00:00Z",
                         "2026-01-01T00:00:00.Z",
                         "2026-01-01T00:00:00.1234567890Z",
                         "2026-01-01T00:00:00+24:00",
                         "2026-01-01T00:00:00+05:",
                         "2026-01-01T00:00:00+5",
                         "+2026-01-01T00:00:00Z",
                         "2026-1-01T00:00:00Z"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = cron_time_parse(bad[i], strlen(bad[i]), &ms, err, sizeof err);
        if (rc == 0)
            fprintf(stderr, "'%s' parsed\n", bad[i]);
        CHECK_INT(rc, -1);
        CHECK_INT(strncmp(err, "time '", 6), 0);
    }
    CHECK_INT(cron_time_parse("2026-11-26T21:00:00Zjunk", 20, &ms, err, sizeof err), 0);
    CHECK_INT(ms, t);
    CHECK_INT(cron_time_parse(NULL, 0, &ms, err, sizeof err), -1);
}

TEST(time_round_trips)
{
    uint64_t x = 0x9e3779b97f4a7c15ULL;
    for (int i = 0; i < 20000; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        int64_t ms = CRON_TIME_MIN_MS + 86400000 +
                     (int64_t)(x % (uint64_t)(CRON_TIME_MAX_MS - CRON_TIME_MIN_MS - 2 * 86400000));
        int off = (int)(x >> 40) % (14 * 3600) * ((x >> 39 & 1) ? -1 : 1);
        char b[CRON_TIME_LEN];
        int64_t back = 0;
        CHECK(cron_time_format(ms, 0, CRON_TIME_UTC_MS, b, sizeof b) == 24);
        CHECK_INT(cron_time_parse(b, strlen(b), &back, err, sizeof err), 0);
        CHECK_INT(back, ms);
        CHECK(cron_time_format(ms, off, CRON_TIME_AZURE, b, sizeof b) > 0);
        CHECK_INT(cron_time_parse(b, strlen(b), &back, err, sizeof err), 0);
        if (back != ms)
            fprintf(stderr, "%lld off %d -> %s\n", (long long)ms, off, b);
        CHECK_INT(back, ms);
        if (test_cur_failed_)
            break;
    }
}

int main(void)
{
    RUN(six_fields);
    RUN(five_fields_have_second_zero);
    RUN(values_ranges_lists_steps);
    RUN(ncrontab_leniencies);
    RUN(names);
    RUN(white_space);
    RUN(timespans);
    RUN(error_messages_exact);
    RUN(error_messages_name_the_problem);
    RUN(error_buffers_and_limits);
    RUN(next_is_strictly_after);
    RUN(next_crosses_boundaries);
    RUN(leap_years);
    RUN(last_days_of_months);
    RUN(day_and_weekday_are_and);
    RUN(impossible_schedules_never_fire);
    RUN(range_of_years);
    RUN(prev_occurrences);
    RUN(intervals);
    RUN(sub_minute_rule);
    RUN(point_in_time_or_interval);
    RUN(time_zones);
    RUN(utc_schedule_in_local_process);
    RUN(past_due_new_timer);
    RUN(past_due_after_downtime_runs_once);
    RUN(past_due_not_yet);
    RUN(past_due_schedule_changed);
    RUN(past_due_never_ran);
    RUN(status_after_early_fire);
    RUN(status_for_intervals);
    RUN(time_format);
    RUN(time_parse);
    RUN(time_round_trips);
    return TEST_REPORT();
}
