/*
 * cron.h -- the schedules of timer triggers: NCRONTAB expressions and
 * TimeSpan intervals, parsed once into a typed value, and the times they
 * fire at. No I/O, no allocation, no global state of its own. Parsing is
 * in cron_parse.c, occurrences in cron.c, Azure's status rules and ISO 8601
 * times in cron_status.c.
 *
 * What a schedule string may be (Azure's timerTrigger `schedule`, which
 * Azure hands to the NCrontab library first and to .NET TimeSpan.Parse when
 * that fails):
 *
 *   - six fields  `{second} {minute} {hour} {day} {month} {day-of-week}`;
 *   - five fields `{minute} {hour} {day} {month} {day-of-week}` (second 0);
 *   - a TimeSpan: `hh:mm:ss`, `hh:mm`, `d.hh:mm[:ss]`, `d:hh:mm:ss`, `d`
 *     (whole days), each with an optional `.fffffff` fraction of a second;
 *     an `hh` of 24 or more in `hh:mm:ss` means days (`24:00:00` is 24
 *     days, as .NET reads it; Azure's examples: `25:00:00:00` every 25
 *     days, `1.00:00:00` every day). The interval must be greater than zero.
 *
 * Fields are separated by white space. Each field is `*` or a comma list of
 * elements; an element is `v`, `a-b`, `*` followed by `/n`, `a-b/n` or
 * `a/n` (`a/n` runs from a to the field's maximum). Ranges are 0-59
 * (second, minute), 0-23 (hour), 1-31 (day), 1-12 (month), 0-6 (day of
 * week, Sunday = 0; 7 is refused, as NCrontab refuses it). Months and days
 * of week also take English names or any prefix of one, case-insensitive
 * (`Jan`, `january`, `Mon`, `T` = Tuesday: the first name in calendar order
 * that starts with the text). These follow NCrontab (CrontabFieldImpl.cs,
 * CrontabField.cs), including its leniencies, kept so that every schedule
 * Azure runs runs here too: a reversed range `5-2` means `2-5`, and a step
 * of 0 or below (`*\/0`, `*\/-2`) means 1.
 *
 * Day of month and day of week combine with AND, unlike Vixie cron's OR:
 * NCrontab (CrontabSchedule.TryGetNextOccurrence) first finds a date that
 * matches the day and month fields, then skips it unless its day of week
 * matches too. `0 0 12 13 * Fri` fires only on Friday the 13th. A schedule
 * no date satisfies (`0 0 0 30 2 *`) parses, as it does on Azure, and never
 * fires: cron_next() answers CRON_NEVER at once.
 *
 * `%SettingName%` is resolved by the caller, from the app settings, before
 * parsing; a string still holding a `%` is refused.
 *
 * Times are int64 milliseconds since 1970-01-01T00:00:00Z, from year 1 to
 * year 9999 (.NET's DateTime range). Expressions fire on whole seconds.
 *
 * Time zone. A cron_t fires in UTC (Azure's default) unless its `tz` is
 * CRON_TZ_LOCAL: then its fields are wall-clock time in the process's time
 * zone, as the C library's localtime_r() sees it (the TZ variable, which the
 * host sets from WEBSITE_TIME_ZONE once, before threads start, and follows
 * with tzset(); this file never changes TZ). Around daylight-saving changes
 * it does what Azure's CronSchedule does: a wall time that does not exist
 * (spring forward) fires at the same clock reading in the old offset, i.e.
 * shifted forward by the gap; a wall time that happens twice (fall back)
 * fires once, the first time, for a "point in time" schedule (second,
 * minute and hour each a few separate values; a host that starts during
 * the repeated hour skips it), and both times for an "interval" schedule
 * (any of those fields `*` or holding two consecutive values after
 * expansion, as NCrontab prints it).
 *
 * Lifecycle: a cron_t is a plain value. cron_parse() fills one the caller
 * owns (on the stack, inside a binding); it holds no pointers and needs no
 * freeing; copy it freely. All functions are pure given the process's time
 * zone and safe to call from any thread.
 */
#ifndef STRATUS_CRON_H
#define STRATUS_CRON_H

#include <stddef.h>
#include <stdint.h>

#define CRON_MAX_LEN 1024     /* longest schedule string accepted, in bytes */
#define CRON_ERR_LEN 320      /* a roomy size for error buffers */
#define CRON_TIME_LEN 40      /* a roomy size for cron_time_format() buffers */

#define CRON_NEVER INT64_MAX  /* no next occurrence (or a time after year 9999) */
#define CRON_NONE INT64_MIN   /* no previous occurrence; a status time never set */

#define CRON_TIME_MIN_MS (-62135596800000LL) /* 0001-01-01T00:00:00.000Z */
#define CRON_TIME_MAX_MS 253402300799999LL   /* 9999-12-31T23:59:59.999Z */

typedef enum cron_kind {
    CRON_KIND_CRON = 1,     /* an NCRONTAB expression */
    CRON_KIND_INTERVAL = 2, /* a TimeSpan: a fixed interval */
} cron_kind_t;

typedef enum cron_tz {
    CRON_TZ_UTC = 0,   /* fields are UTC (the default after cron_parse) */
    CRON_TZ_LOCAL = 1, /* fields are wall-clock time in the process's TZ */
} cron_tz_t;

typedef struct cron {
    cron_kind_t kind;
    cron_tz_t tz;          /* the caller may set CRON_TZ_LOCAL after parsing */
    int nfields;           /* 6 or 5 for CRON_KIND_CRON; 0 for an interval */
    int point_in_time;     /* see "Time zone" above; 0 for an interval */
    int possible;          /* 0: no month has such a day (30 Feb): never fires */
    uint64_t second;       /* bit v set: value v allowed */
    uint64_t minute;
    uint32_t hour;
    uint32_t day;          /* bits 1..31 */
    uint16_t month;        /* bits 1..12 */
    uint8_t weekday;       /* bits 0..6, Sunday = 0 */
    int64_t interval_ms;   /* CRON_KIND_INTERVAL: > 0 */
} cron_t;

/* Parse a schedule string (NUL-terminated) into *c, with tz CRON_TZ_UTC.
 * Returns 0, or -1 with *c zeroed and a message in err (always
 * NUL-terminated when errlen > 0) that quotes the expression and names what
 * is wrong, e.g.
 *   schedule '0 *\/5 * * *x *': field 5 (month): 'x' is not a number or a month name
 *   schedule '61 * * * * *': field 1 (second): 61 is out of range 0-59
 * Strings longer than CRON_MAX_LEN are refused without being read further. */
int cron_parse(cron_t *c, const char *expr, char *err, size_t errlen);

/* The first occurrence strictly after `after_ms`, or CRON_NEVER when there
 * is none up to year 9999. For an interval schedule: after_ms + interval,
 * as Azure's ConstantSchedule computes it: pass the reference the interval
 * counts from (the last run, or the host's start for the first run), so
 * that runs fall at start + n * interval. Cost: a few hundred field steps
 * at worst, never a scan of seconds. */
int64_t cron_next(const cron_t *c, int64_t after_ms);

/* The latest occurrence at or before `at_ms`, or CRON_NONE when there is
 * none back to year 1. With CRON_TZ_LOCAL: the latest instant whose wall
 * time matches the fields (both passes of a repeated hour count, a skipped
 * hour never matches). An interval schedule has no fixed grid (its
 * occurrences depend on the reference given to cron_next()): CRON_NONE. */
int64_t cron_prev(const cron_t *c, int64_t at_ms);

/* Whether the schedule fires more than once within the minute after
 * `now_ms`: more than one occurrence in (now, now + 60 s) for an
 * expression, an interval under one minute for a TimeSpan. This is Azure's
 * test (TimerSchedule.Create) for turning `useMonitor` off, which Azure
 * does then even when function.json sets it to true. It depends on `now`
 * for an expression such as `0,30 0 0 * * *` that bursts only at midnight,
 * exactly as Azure's does. */
int cron_fires_sub_minute(const cron_t *c, int64_t now_ms);

/* The UTC offset, in seconds, of the schedule's time zone at `ms`: 0 for
 * CRON_TZ_UTC, the process's local offset for CRON_TZ_LOCAL. */
int cron_utc_offset(const cron_t *c, int64_t ms);

/* A timer's ScheduleStatus, as Azure's schedule monitor keeps it between
 * runs and restarts. A time never recorded is CRON_NONE (Azure stores
 * DateTime.MinValue; any time before year 2 counts as never recorded). */
typedef struct cron_status {
    int64_t last_ms;         /* when the timer last ran (its slot) */
    int64_t next_ms;         /* when it is due next */
    int64_t last_updated_ms; /* when this status was computed */
} cron_status_t;

/* At start-up of a monitored timer: is it past due? Implements Azure's
 * ScheduleMonitor.CheckPastDueAsync. `st` is the stored status, or NULL
 * when none was ever stored; `*out` receives the status to keep, and
 * `*changed` (when not NULL) is set to 1 when it differs from `st` and
 * should be written back (new timer, or a schedule edited since `st` was
 * written: then Next is recomputed, from now when it would be past).
 * Returns how late the timer is, in ms: > 0 means at least one occurrence
 * was missed while the host was down, and the caller runs the function
 * ONCE now with IsPastDue = true (never once per missed slot); 0 means not
 * past due. */
int64_t cron_check_past_due(const cron_t *c, const cron_status_t *st, int64_t now_ms,
                            cron_status_t *out, int *changed);

/* After a run that started at `invoked_ms`: the status to keep, as Azure's
 * TimerListener computes it. `scheduled` is 1 for a run on the schedule, 0
 * for a past-due catch-up or a runOnStartup run. A scheduled run that fired
 * a little before its slot (clock skew) counts from its slot, so that Next
 * never repeats. `prev` may be NULL (no status yet). */
void cron_status_after_run(const cron_t *c, const cron_status_t *prev, int64_t invoked_ms,
                           int scheduled, cron_status_t *out);

typedef enum cron_time_fmt {
    /* "2026-11-26T21:00:00.000Z": UTC, always milliseconds (offset ignored). */
    CRON_TIME_UTC_MS = 0,
    /* "2016-10-04T10:15:00+00:00": what Azure puts in ScheduleStatus
     * (Json.NET's ISO format of a local DateTime): the wall time at the given
     * offset, a fraction only when non-zero and without trailing zeros, and
     * the offset as +hh:mm. */
    CRON_TIME_AZURE = 1,
} cron_time_fmt_t;

/* Write `ms` as ISO 8601 into buf (NUL-terminated; CRON_TIME_LEN is
 * enough). `offset_s` is the UTC offset to show (CRON_TIME_AZURE only),
 * e.g. cron_utc_offset(c, ms), shown (and applied) to the whole minute, as
 * Json.NET shows it. Times before year 1 (CRON_NONE) print as
 * 0001-01-01T00:00:00 and times after year 9999 (CRON_NEVER) as
 * 9999-12-31T23:59:59.999, Azure's DateTime.MinValue and MaxValue. Returns
 * the length, or -1 when buf is too small (buf then holds ""). */
int cron_time_format(int64_t ms, int offset_s, cron_time_fmt_t fmt, char *buf, size_t n);

/* Parse ISO 8601 `YYYY-MM-DDTHH:MM:SS[.fraction][Z|+hh:mm|-hh:mm|+hhmm|+hh]`
 * (s need not be NUL-terminated; n bytes), as either format above writes
 * it; `T` may also be `t` or a space. Years 0001 to 9999, a fraction of 1
 * to 9 digits (Json.NET writes up to 7; beyond milliseconds is truncated),
 * no zone means UTC. Returns 0 with *ms set, or -1 with a message in err
 * that quotes the text. */
int cron_time_parse(const char *s, size_t n, int64_t *ms, char *err, size_t errlen);

#endif
