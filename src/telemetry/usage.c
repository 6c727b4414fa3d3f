/*
 * usage.c -- usage metering arithmetic and per-hour buckets (see usage.h).
 */
#include "usage.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

uint64_t usage_billed_mb(uint64_t mem_bytes)
{
    uint64_t step = (uint64_t)USAGE_MB_STEP << 20;
    uint64_t mb = (mem_bytes + step - 1) / step * USAGE_MB_STEP;
    if (mb < USAGE_MIN_MB)
        mb = USAGE_MIN_MB;
    if (mb > USAGE_MAX_MB)
        mb = USAGE_MAX_MB;
    return mb;
}

uint64_t usage_billed_ms(uint64_t duration_ns)
{
    uint64_t ms = (duration_ns + 999999) / 1000000;
    return ms < USAGE_MIN_MS ? USAGE_MIN_MS : ms;
}

void usage_fn_init(usage_fn_t *u)
{
    memset(u, 0, sizeof *u);
    for (size_t i = 0; i < USAGE_HOURS; i++)
        u->hours[i].hour = -1;
}

static usage_hour_t *slot(usage_fn_t *u, int64_t hour)
{
    usage_hour_t *h = &u->hours[(uint64_t)hour % USAGE_HOURS];
    if (h->hour != hour) {
        h->hour = hour;
        h->executions = 0;
        h->mb_ms = 0;
    }
    return h;
}

void usage_record(usage_fn_t *u, int64_t now_s, uint64_t duration_ns, uint64_t mem_bytes)
{
    uint64_t units = usage_billed_mb(mem_bytes) * usage_billed_ms(duration_ns);
    usage_hour_t *h = slot(u, now_s / 3600);
    h->executions++;
    h->mb_ms += units;
    u->executions++;
    u->mb_ms += units;
}

void usage_add(usage_fn_t *u, int64_t now_s, int64_t hour, uint64_t executions, uint64_t mb_ms)
{
    u->executions += executions;
    u->mb_ms += mb_ms;
    int64_t now_h = now_s / 3600;
    if (hour < 0 || hour > now_h || now_h - hour >= USAGE_HOURS)
        return;
    usage_hour_t *h = slot(u, hour);
    h->executions += executions;
    h->mb_ms += mb_ms;
}

static json_t *figures(uint64_t executions, uint64_t mb_ms)
{
    return json_pack("{s:I, s:f, s:I}", "executions", (json_int_t)executions, "gbSeconds",
                     (double)mb_ms / USAGE_MBMS_PER_GBS, "mbMilliseconds", (json_int_t)mb_ms);
}

json_t *usage_fn_json(const usage_fn_t *u, int64_t now_s)
{
    json_t *j = figures(u->executions, u->mb_ms);
    json_t *hourly = json_array();
    if (!j || !hourly) {
        json_decref(j);
        json_decref(hourly);
        return NULL;
    }
    int64_t now_h = now_s / 3600;
    for (int64_t hr = now_h - USAGE_HOURS + 1; hr <= now_h; hr++) {
        if (hr < 0)
            continue;
        const usage_hour_t *h = &u->hours[(uint64_t)hr % USAGE_HOURS];
        if (h->hour != hr || !h->executions)
            continue;
        time_t t = (time_t)(hr * 3600);
        struct tm tm;
        gmtime_r(&t, &tm);
        char when[32];
        strftime(when, sizeof when, "%Y-%m-%dT%H:00:00Z", &tm);
        json_t *e = figures(h->executions, h->mb_ms);
        if (e)
            json_object_set_new(e, "hour", json_string(when));
        json_array_append_new(hourly, e);
    }
    json_object_set_new(j, "hourly", hourly);
    return j;
}
