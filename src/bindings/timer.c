/*
 * timer.c -- the "timerTrigger" binding kind: runs a function on a
 * schedule (an NCRONTAB expression or a TimeSpan interval, see
 * src/util/cron.h), as Azure's TimerListener does.
 *
 * Fields: schedule (required; %Setting% is resolved before parse),
 * runOnStartup (default false), useMonitor (default true; off for
 * schedules that fire more than once a minute, as Azure turns it off).
 *
 * Each started timer is one timer_src_t on the binding host's loop:
 *   - it sleeps on a uv timer until a little before the next occurrence,
 *     computed from the wall clock, then spins the last ~2 ms so the run
 *     starts as close to the scheduled instant as it can; after each fire
 *     the next occurrence is computed again from the wall clock, so drift
 *     never accumulates;
 *   - a run still in flight when the next occurrence comes makes that
 *     occurrence skipped (logged), never queued;
 *   - with the monitor on, the ScheduleStatus {Last, Next, LastUpdated} is
 *     kept in the default store's key/value (namespace "timer", key the
 *     function name in lower case) and updated after each run; at start a
 *     stored Next in the past means the host was down then: the function
 *     runs once with IsPastDue true (one catch-up, whatever was missed).
 * The function gets the TimerInfo JSON as its trigger payload; run by hand
 * (the admin API) it gets a TimerInfo that is not past due and has no
 * ScheduleStatus, whatever the input, as in Azure.
 */
#include "binding.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "../core/trigger.h"
#include "../telemetry/log.h"
#include "../util/cron.h"

#define TIMER_NS "timer"
#define EARLY_NS 2000000LL    /* wake this long before an occurrence, then spin */
#define MAX_SLEEP_MS 30000    /* look at the wall clock again at least this often */
#define LOG_CAT "Host.Triggers.Timer"

typedef struct timer_src {
    binding_host_t *bh;
    function_t *fn;
    const timer_trigger_conf_t *conf;
    cron_t cron;
    uv_timer_t timer;
    uv_idle_t kick;         /* keeps the next poll from blocking after a fire */
    int kicks;
    int64_t due_ms;         /* the occurrence armed for; CRON_NEVER when none */
    int monitor;            /* useMonitor in effect */
    store_t *st;
    store_req_t req;
    int req_busy;           /* req is in the store */
    int dirty;              /* the status changed while req was busy */
    char key[STORE_KEY_MAX + 1];
    cron_status_t status;   /* with the monitor: as kept */
    int running;            /* a run is in flight */
    int run_scheduled;      /* that run was on the schedule (not catch-up/startup) */
    int64_t run_at_ms;      /* its slot (scheduled) or start time */
    int stopping;
    int closed;             /* handles closed (of 2) */
    void (*stop_cb)(void *);
    void *stop_arg;
} timer_src_t;

/* ---- parse ---- */

/* A boolean field: JSON true/false, or "true"/"false" (what a %Setting%
 * gives). 0 with *out set (def when absent), or -1 with err. */
static int get_bool(const json_t *entry, const char *field, int def, int *out, char *err,
                    size_t errlen)
{
    json_t *v = binding_conf_get(entry, field);
    *out = def;
    if (!v)
        return 0;
    if (json_is_boolean(v)) {
        *out = json_is_true(v);
        return 0;
    }
    if (json_is_string(v) && (strcasecmp(json_string_value(v), "true") == 0 ||
                               strcasecmp(json_string_value(v), "false") == 0)) {
        *out = strcasecmp(json_string_value(v), "true") == 0;
        return 0;
    }
    snprintf(err, errlen, "field '%s': expected true or false, got %s", field,
             json_is_string(v) ? "a string other than true or false" : "another kind of value");
    return -1;
}

static int timer_parse(const json_t *entry, struct binding *b, char *err, size_t errlen)
{
    json_t *s = binding_conf_get(entry, "schedule");
    char cerr[CRON_ERR_LEN];
    timer_trigger_conf_t conf = {0};

    if (!s) {
        snprintf(err, errlen, "field 'schedule' is required: an NCRONTAB expression such as "
                              "'0 */5 * * * *' or a TimeSpan such as '00:05:00'");
        return -1;
    }
    if (!json_is_string(s)) {
        snprintf(err, errlen, "field 'schedule': expected a string (an NCRONTAB expression or "
                              "a TimeSpan), got %s",
                 json_is_number(s) ? "a number" : "another kind of value");
        return -1;
    }
    if (cron_parse(&conf.cron, json_string_value(s), cerr, sizeof cerr) != 0) {
        snprintf(err, errlen, "field 'schedule': %s", cerr);
        return -1;
    }
    if (get_bool(entry, "runOnStartup", 0, &conf.run_on_startup, err, errlen) != 0 ||
        get_bool(entry, "useMonitor", 1, &conf.use_monitor, err, errlen) != 0)
        return -1;
    timer_trigger_conf_t *c = malloc(sizeof *c);
    if (!c || !(conf.schedule = strdup(json_string_value(s)))) {
        free(c);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    *c = conf;
    b->conf = c;
    return 0;
}

static void timer_free_conf(void *conf)
{
    timer_trigger_conf_t *c = conf;
    if (c)
        free(c->schedule);
    free(c);
}

/* ---- times ---- */

static int64_t wall_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int64_t wall_ms(void) { return wall_ns() / 1000000; }

static void fmt_time(const timer_src_t *t, int64_t ms, char *buf)
{
    cron_time_format(ms, cron_utc_offset(&t->cron, ms), CRON_TIME_AZURE, buf, CRON_TIME_LEN);
}

/* "Cron: '0 * * * * *'" or "Constant: 00:00:10", as Azure names schedules. */
static void describe(const timer_src_t *t, char *out, size_t n)
{
    snprintf(out, n, "%s: '%s'", t->cron.kind == CRON_KIND_INTERVAL ? "Constant" : "Cron",
             t->conf->schedule);
}

/* ---- the kept status ---- */

static void status_saved(store_req_t *req);

static void status_save(timer_src_t *t)
{
    if (!t->monitor || !t->st)
        return;
    if (t->req_busy) {
        t->dirty = 1;
        return;
    }
    char last[CRON_TIME_LEN], next[CRON_TIME_LEN], upd[CRON_TIME_LEN], val[256];
    fmt_time(t, t->status.last_ms, last);
    fmt_time(t, t->status.next_ms, next);
    fmt_time(t, t->status.last_updated_ms, upd);
    int n = snprintf(val, sizeof val, "{\"Last\":\"%s\",\"Next\":\"%s\",\"LastUpdated\":\"%s\"}",
                     last, next, upd);
    t->dirty = 0;
    t->req.data = t;
    if (store_kv_put(t->st, &t->req, TIMER_NS, t->key, val, (size_t)n, status_saved) !=
        STORE_OK) {
        log_write(LOG_WARN, LOG_CAT, NULL, "Function '%s': cannot keep the schedule status: %s",
                  t->fn->name, t->req.err);
        store_req_cleanup(&t->req);
        return;
    }
    t->req_busy = 1;
}

static void maybe_stopped(timer_src_t *t);

static void status_saved(store_req_t *req)
{
    timer_src_t *t = req->data;
    if (req->status != STORE_OK)
        log_write(LOG_WARN, LOG_CAT, NULL, "Function '%s': cannot keep the schedule status: %s",
                  t->fn->name, req->err[0] ? req->err : store_strerror(req->status));
    store_req_cleanup(req);
    t->req_busy = 0;
    if (t->dirty)
        status_save(t);
    maybe_stopped(t);
}

/* Read a kept status: 0, or -1 when it is not what status_save writes. */
static int status_parse(const char *text, size_t len, cron_status_t *out)
{
    static const char *const names[] = {"Last", "Next", "LastUpdated"};
    int64_t *fields[] = {&out->last_ms, &out->next_ms, &out->last_updated_ms};
    char err[200];
    json_t *j = json_loadb(text, len, 0, NULL);
    int rc = json_is_object(j) ? 0 : -1;
    for (int i = 0; rc == 0 && i < 3; i++) {
        json_t *v = binding_conf_get(j, names[i]);
        if (!json_is_string(v) ||
            cron_time_parse(json_string_value(v), json_string_length(v), fields[i], err,
                            sizeof err) != 0)
            rc = -1;
    }
    json_decref(j);
    return rc;
}

/* ---- runs ---- */

static void arm(timer_src_t *t);

static void run_done(void *arg, int ok, const char *reason, invocation_t *inv)
{
    (void)ok;
    (void)reason;
    (void)inv;
    timer_src_t *t = arg;
    t->running = 0;
    if (t->monitor) {
        cron_status_t next;
        cron_status_after_run(&t->cron, &t->status, t->run_at_ms, t->run_scheduled, &next);
        t->status = next;
        status_save(t);
    }
    maybe_stopped(t);
}

/* Active through the next poll: libuv runs timers at the end of an
 * iteration and idle handles at the start of the next, so the handle stops
 * on its second call. */
static void on_kick(uv_idle_t *h)
{
    timer_src_t *t = h->data;
    if (++t->kicks >= 2)
        uv_idle_stop(h);
}

/* Run the function once now. slot_ms: the occurrence (scheduled runs) or
 * the time of a catch-up or startup run. */
static void fire(timer_src_t *t, int64_t slot_ms, int scheduled, int past_due)
{
    char when[CRON_TIME_LEN];
    if (t->stopping)
        return;
    fmt_time(t, slot_ms, when);
    if (t->running) {
        log_write(LOG_WARN, LOG_CAT, NULL,
                  "Function '%s': the occurrence at %s is skipped: the previous run is still "
                  "going",
                  t->fn->name, when);
        return;
    }
    json_t *info = json_pack("{s:{s:b},s:o,s:b}", "Schedule", "AdjustForDST", 1,
                             "ScheduleStatus", json_null(), "IsPastDue", past_due);
    if (info && t->monitor) {
        char last[CRON_TIME_LEN], next[CRON_TIME_LEN], upd[CRON_TIME_LEN];
        fmt_time(t, t->status.last_ms, last);
        fmt_time(t, t->status.next_ms, next);
        fmt_time(t, t->status.last_updated_ms, upd);
        json_object_set_new(info, "ScheduleStatus",
                            json_pack("{s:s,s:s,s:s}", "Last", last, "Next", next,
                                      "LastUpdated", upd));
    }
    char *payload = info ? json_dumps(info, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(info);
    if (!payload) {
        log_write(LOG_ERROR, LOG_CAT, NULL, "Function '%s': out of memory", t->fn->name);
        return;
    }
    char reason[80], now[CRON_TIME_LEN];
    fmt_time(t, wall_ms(), now);
    snprintf(reason, sizeof reason, "Timer fired at %s", now);
    trigger_event_t ev = {.data = payload, .len = strlen(payload), .reason = reason};
    t->run_scheduled = scheduled;
    t->run_at_ms = slot_ms;
    t->running = 1;
    if (binding_host_invoke(t->bh, t->fn, &ev, run_done, t) != 0)
        t->running = 0;
    /* Runtimes send what an invocation queued from their check handle,
     * after the poll: without this the poll would sleep first, until the
     * loop's next event. */
    t->kicks = 0;
    uv_idle_start(&t->kick, on_kick);
    free(payload);
}

/* The first occurrence after the slot just handled, never in the past. */
static int64_t next_after(const timer_src_t *t, int64_t slot_ms, int64_t now)
{
    int64_t next = cron_next(&t->cron, slot_ms);
    if (next == CRON_NEVER || next > now)
        return next;
    if (t->cron.kind == CRON_KIND_INTERVAL) {
        int64_t iv = t->cron.interval_ms;
        return next + ((now - next) / iv + 1) * iv;
    }
    return cron_next(&t->cron, now);
}

static void on_timer(uv_timer_t *h)
{
    timer_src_t *t = h->data;
    int64_t due_ns = t->due_ms * 1000000LL, left = due_ns - wall_ns();
    if (left > EARLY_NS) { /* woke early, or the wall clock moved */
        arm(t);
        return;
    }
    while (left > 0)
        left = due_ns - wall_ns();
    int64_t slot = t->due_ms;
    fire(t, slot, 1, 0);
    t->due_ms = next_after(t, slot, wall_ms());
    arm(t);
}

/* Sleep until shortly before due_ms. */
static void arm(timer_src_t *t)
{
    if (t->stopping || t->due_ms == CRON_NEVER)
        return;
    int64_t wait = t->due_ms * 1000000LL - wall_ns() - EARLY_NS;
    uint64_t ms = wait <= 0 ? 0 : (uint64_t)(wait / 1000000LL);
    if (ms > MAX_SLEEP_MS)
        ms = MAX_SLEEP_MS;
    uv_update_time(binding_host_loop(t->bh));
    uv_timer_start(&t->timer, on_timer, ms, 0);
}

static void log_occurrences(timer_src_t *t)
{
    char desc[CRON_MAX_LEN + 32], text[5 * (CRON_TIME_LEN + 1)] = "", when[CRON_TIME_LEN];
    size_t used = 0;
    int64_t at = t->due_ms;
    for (int i = 0; i < 5 && at != CRON_NEVER; i++) {
        fmt_time(t, at, when);
        used += (size_t)snprintf(text + used, sizeof text - used, "\n%s", when);
        at = cron_next(&t->cron, at);
    }
    describe(t, desc, sizeof desc);
    if (t->due_ms == CRON_NEVER)
        log_write(LOG_WARN, LOG_CAT, NULL,
                  "The '%s' schedule (%s) has no occurrence: the function never runs",
                  t->fn->name, desc);
    else
        log_write(LOG_INFO, LOG_CAT, NULL, "The next 5 occurrences of the '%s' schedule (%s) "
                  "will be:%s", t->fn->name, desc, text);
}

/* Start: the kept status (when monitored) is known; run a catch-up or a
 * startup run when due, and arm for the next occurrence. */
static void begin(timer_src_t *t, const cron_status_t *kept)
{
    int64_t now = wall_ms();
    int64_t late = 0;
    if (t->monitor) {
        cron_status_t st;
        int changed = 0;
        late = cron_check_past_due(&t->cron, kept, now, &st, &changed);
        t->status = st;
        if (changed)
            status_save(t);
    }
    t->due_ms = t->monitor && t->status.next_ms > now ? t->status.next_ms
                                                      : cron_next(&t->cron, now);
    log_occurrences(t);
    if (late > 0) {
        log_write(LOG_INFO, LOG_CAT, NULL, "Function '%s' is past due on startup (by %lld ms). "
                  "Executing now.", t->fn->name, (long long)late);
        fire(t, now, 0, 1);
    } else if (t->conf->run_on_startup) {
        log_write(LOG_INFO, LOG_CAT, NULL,
                  "Function '%s' is configured to run on startup. Executing now.", t->fn->name);
        fire(t, now, 0, 0);
    }
    arm(t);
}

static void status_loaded(store_req_t *req)
{
    timer_src_t *t = req->data;
    cron_status_t kept;
    int have = 0;
    if (req->status == STORE_OK && req->n_kvs == 1) {
        have = status_parse((const char *)req->kvs[0].value, req->kvs[0].value_len, &kept) == 0;
        if (!have)
            log_write(LOG_WARN, LOG_CAT, NULL, "Function '%s': the kept schedule status is not "
                      "readable; starting afresh", t->fn->name);
    } else if (req->status != STORE_ENOTFOUND) {
        log_write(LOG_WARN, LOG_CAT, NULL, "Function '%s': cannot read the schedule status: %s",
                  t->fn->name, req->err[0] ? req->err : store_strerror(req->status));
    }
    store_req_cleanup(req);
    t->req_busy = 0;
    if (!t->stopping)
        begin(t, have ? &kept : NULL);
    maybe_stopped(t);
}

/* ---- start and stop ---- */

static int timer_start(binding_host_t *bh, function_t *fn, binding_t *b, void **state,
                       char *err, size_t errlen)
{
    const timer_trigger_conf_t *conf = b->conf;
    timer_src_t *t = calloc(1, sizeof *t);
    if (!t) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    t->bh = bh;
    t->fn = fn;
    t->conf = conf;
    t->cron = conf->cron;
    const char *tz = app_setting(binding_host_app(bh), "WEBSITE_TIME_ZONE");
    if (tz && *tz) {
        /* Wall-clock schedules follow the process's zone (TZ), which the
         * host does not change while threads run. */
        t->cron.tz = CRON_TZ_LOCAL;
        const char *env = getenv("TZ");
        if (!env || strcmp(env, tz) != 0)
            log_write(LOG_WARN, LOG_CAT, NULL, "Function '%s': WEBSITE_TIME_ZONE is '%s' but TZ "
                      "is '%s'; schedules follow TZ (set both to the same zone)", fn->name, tz,
                      env ? env : "unset (UTC)");
    }
    t->monitor = conf->use_monitor && !cron_fires_sub_minute(&t->cron, wall_ms());
    size_t i = 0;
    for (; fn->name[i] && i < STORE_KEY_MAX; i++)
        t->key[i] = (char)tolower((unsigned char)fn->name[i]);
    t->key[i] = '\0';
    uv_timer_init(binding_host_loop(bh), &t->timer);
    uv_idle_init(binding_host_loop(bh), &t->kick);
    t->timer.data = t->kick.data = t;
    *state = t;
    if (t->monitor) {
        t->st = binding_host_default_store(bh);
        t->req.data = t;
        if (t->st &&
            store_kv_get(t->st, &t->req, TIMER_NS, t->key, status_loaded) == STORE_OK) {
            t->req_busy = 1;
            return 0;
        }
        log_write(LOG_WARN, LOG_CAT, NULL, "Function '%s': the schedule status cannot be read "
                  "(%s); running without the schedule monitor", fn->name,
                  t->st ? t->req.err : "no store");
        store_req_cleanup(&t->req);
        t->monitor = 0;
    }
    begin(t, NULL);
    return 0;
}

static void timer_closed(uv_handle_t *h)
{
    timer_src_t *t = h->data;
    t->closed++;
    maybe_stopped(t);
}

static void maybe_stopped(timer_src_t *t)
{
    if (!t->stopping || t->closed < 2 || t->running || t->req_busy || !t->stop_cb)
        return;
    void (*cb)(void *) = t->stop_cb;
    void *arg = t->stop_arg;
    free(t);
    cb(arg);
}

static void timer_stop(void *state, void (*cb)(void *arg), void *arg)
{
    timer_src_t *t = state;
    t->stopping = 1;
    t->stop_cb = cb;
    t->stop_arg = arg;
    uv_timer_stop(&t->timer);
    uv_idle_stop(&t->kick);
    uv_close((uv_handle_t *)&t->timer, timer_closed);
    uv_close((uv_handle_t *)&t->kick, timer_closed);
}

static void timer_manual(binding_host_t *bh, function_t *fn, const binding_t *b,
                         const char *input, size_t len, binding_manual_cb cb, void *arg)
{
    (void)bh;
    (void)fn;
    (void)b;
    (void)input;
    (void)len;
    static const char info[] = "{\"Schedule\":{\"AdjustForDST\":true},\"ScheduleStatus\":null,"
                               "\"IsPastDue\":false}";
    trigger_event_t ev = {.data = info, .len = sizeof info - 1};
    cb(arg, BINDING_MANUAL_OK, &ev, NULL);
}

const binding_kind_t binding_timer_trigger = {
    .version = BINDING_KIND_VERSION,
    .type = "timerTrigger",
    .directions = BINDING_IN,
    .is_trigger = 1,
    .parse = timer_parse,
    .free_conf = timer_free_conf,
    .start = timer_start,
    .stop = timer_stop,
    .manual = timer_manual,
};
