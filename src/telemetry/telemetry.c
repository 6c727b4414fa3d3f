/*
 * telemetry.c -- the hooks of telemetry.h and the tables they fill. One
 * host per process, so the state is a file-level static owned by the loop
 * thread. Each function has a preallocated slot (its telemetry_id), so
 * recording an invocation touches only that slot.
 */
#include "telemetry.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "../cli/cli.h"
#include "../core/invocation.h"
#include "history.h"
#include "metrics.h"
#include "usage.h"

#define MAX_RUNTIMES 8
#define SAMPLE_MS 1000
#define HTTP_CODES 600

typedef struct fn_stats {
    char *name;
    char *labels;          /* function="...",trigger="..." (escaped) */
    uint64_t succeeded, failed;
    int64_t inflight;
    metrics_hist_t duration;
    usage_fn_t usage;
} fn_stats_t;

typedef struct rt_stats {
    char name[32];
    uint64_t cold_starts;
    metrics_hist_t cold;
} rt_stats_t;

static struct {
    struct app *app;
    int enabled;
    size_t inflight;
    fn_stats_t *fns;
    size_t nfns;
    rt_stats_t rts[MAX_RUNTIMES];
    size_t nrts;
    uint64_t http[HTTP_CODES];
    uint64_t host_rss;     /* sampled every SAMPLE_MS */
    double start_time;     /* unix seconds */
    uint64_t start_ns;     /* uv_hrtime() at init */
    uv_timer_t sampler;
    int sampling;
} T;

static fn_stats_t *slot_of(const invocation_t *inv)
{
    if (!inv->fn)
        return NULL;
    int id = inv->fn->telemetry_id;
    if (id < 0 || (size_t)id >= T.nfns)
        return NULL;
    return &T.fns[id];
}

int telemetry_init(struct app *app)
{
    telemetry_free();
    T.app = app;
    T.enabled = app->telemetry_enabled;
    struct timeval tv;
    gettimeofday(&tv, NULL);
    T.start_time = (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
    T.start_ns = uv_hrtime();
    T.host_rss = telemetry_rss_bytes(0);
    if (!app->nfunctions)
        return 0;
    T.fns = calloc(app->nfunctions, sizeof *T.fns);
    if (!T.fns)
        return -1;
    T.nfns = app->nfunctions;
    for (size_t i = 0; i < app->nfunctions; i++) {
        function_t *fn = app->functions[i];
        fn_stats_t *f = &T.fns[i];
        fn->telemetry_id = (int)i;
        const char *pairs[] = {"function", fn->name, "trigger",
                               fn->trigger ? fn->trigger->type : "unknown"};
        size_t len = 2 * (strlen(fn->name) + strlen(pairs[3])) + 32;
        f->name = strdup(fn->name);
        f->labels = malloc(len);
        if (!f->name || !f->labels || metrics_labels(f->labels, len, 2, pairs) != 0) {
            telemetry_free();
            return -1;
        }
        metrics_hist_init(&f->duration, metrics_duration_bounds, metrics_duration_nbounds);
        usage_fn_init(&f->usage);
    }
    return 0;
}

int telemetry_switch_app(struct app *app)
{
    /* Functions keep their slot (and counters) by name; new ones get one
     * at the end, so the ids of the previous version's functions, still
     * finishing their invocations, stay valid. */
    for (size_t i = 0; i < app->nfunctions; i++) {
        function_t *fn = app->functions[i];
        size_t k = 0;
        while (k < T.nfns && strcmp(T.fns[k].name, fn->name) != 0)
            k++;
        if (k == T.nfns) {
            const char *pairs[] = {"function", fn->name, "trigger",
                                   fn->trigger ? fn->trigger->type : "unknown"};
            size_t len = 2 * (strlen(fn->name) + strlen(pairs[3])) + 32;
            fn_stats_t *grown = realloc(T.fns, (T.nfns + 1) * sizeof *grown);
            if (!grown)
                return -1;
            T.fns = grown;
            fn_stats_t *f = &T.fns[k];
            memset(f, 0, sizeof *f);
            f->name = strdup(fn->name);
            f->labels = malloc(len);
            if (!f->name || !f->labels || metrics_labels(f->labels, len, 2, pairs) != 0) {
                free(f->name);
                free(f->labels);
                return -1;
            }
            metrics_hist_init(&f->duration, metrics_duration_bounds, metrics_duration_nbounds);
            usage_fn_init(&f->usage);
            T.nfns++;
        }
        fn->telemetry_id = (int)k;
    }
    T.app = app;
    return 0;
}

static void on_sample(uv_timer_t *t)
{
    (void)t;
    uint64_t rss = telemetry_rss_bytes(0);
    if (rss)
        T.host_rss = rss;
}

void telemetry_start(uv_loop_t *loop)
{
    if (T.sampling || !T.enabled)
        return;
    uv_timer_init(loop, &T.sampler);
    uv_unref((uv_handle_t *)&T.sampler);
    uv_timer_start(&T.sampler, on_sample, SAMPLE_MS, SAMPLE_MS);
    T.sampling = 1;
}

void telemetry_stop(void)
{
    if (!T.sampling)
        return;
    T.sampling = 0;
    uv_timer_stop(&T.sampler);
    uv_close((uv_handle_t *)&T.sampler, NULL);
}

void telemetry_free(void)
{
    for (size_t i = 0; i < T.nfns; i++) {
        free(T.fns[i].name);
        free(T.fns[i].labels);
    }
    free(T.fns);
    memset(&T, 0, sizeof T);
}

int telemetry_enabled(void) { return T.enabled; }

void telemetry_begin(struct stratus_ctx *inv)
{
    T.inflight++;
    if (!T.enabled)
        return;
    fn_stats_t *f = slot_of(inv);
    if (f)
        f->inflight++;
}

void telemetry_end(struct stratus_ctx *inv, int ok, int status, uint64_t duration_ns,
                   const char *reason)
{
    history_record(inv, ok, status, duration_ns, reason);
    if (T.inflight)
        T.inflight--;
    if (!T.enabled)
        return;
    fn_stats_t *f = slot_of(inv);
    if (!f)
        return;
    if (f->inflight > 0)
        f->inflight--;
    if (ok)
        f->succeeded++;
    else
        f->failed++;
    metrics_hist_observe(&f->duration, duration_ns);
    /* Refused before it reached the function (the queue limit, a stopping
     * host): counted as a failed invocation, not billed, as Azure does. */
    if (!ok && (status == 429 || status == 503) && !inv->mem_bytes)
        return;
    usage_record(&f->usage, (int64_t)time(NULL), duration_ns,
                 inv->mem_bytes ? inv->mem_bytes : T.host_rss);
}

void telemetry_http(int status)
{
    if (T.enabled && status >= 0 && status < HTTP_CODES)
        T.http[status]++;
}

void telemetry_cold_start(const char *runtime, double ms)
{
    if (!T.enabled || !runtime)
        return;
    rt_stats_t *r = NULL;
    for (size_t i = 0; i < T.nrts && !r; i++)
        if (strcmp(T.rts[i].name, runtime) == 0)
            r = &T.rts[i];
    if (!r) {
        if (T.nrts == MAX_RUNTIMES)
            return;
        r = &T.rts[T.nrts++];
        snprintf(r->name, sizeof r->name, "%s", runtime);
        metrics_hist_init(&r->cold, metrics_cold_start_bounds, metrics_cold_start_nbounds);
    }
    r->cold_starts++;
    metrics_hist_observe(&r->cold, ms > 0 ? (uint64_t)(ms * 1e6) : 0);
}

size_t telemetry_inflight(void) { return T.inflight; }

uint64_t telemetry_rss_bytes(int pid)
{
    char path[64];
    if (pid > 0)
        snprintf(path, sizeof path, "/proc/%d/statm", pid);
    else
        snprintf(path, sizeof path, "/proc/self/statm");
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    unsigned long long size = 0, resident = 0;
    int n = fscanf(f, "%llu %llu", &size, &resident);
    fclose(f);
    if (n != 2)
        return 0;
    return (uint64_t)resident * (uint64_t)sysconf(_SC_PAGESIZE);
}

/* ---- exposition ---- */

static int write_functions(buf_t *b)
{
    app_t *app = T.app;
    int rc = metrics_family(b, "stratus_function_invocations_total",
                            "Invocations of a function that ended, by outcome.", "counter");
    for (size_t i = 0; rc == 0 && app && i < app->nfunctions; i++) {
        int id = app->functions[i]->telemetry_id;
        if (id < 0 || (size_t)id >= T.nfns)
            continue;
        fn_stats_t *f = &T.fns[id];
        char lab[1024];
        snprintf(lab, sizeof lab, "%s,status=\"succeeded\"", f->labels);
        rc = metrics_sample_u(b, "stratus_function_invocations_total", lab, f->succeeded);
        snprintf(lab, sizeof lab, "%s,status=\"failed\"", f->labels);
        if (rc == 0)
            rc = metrics_sample_u(b, "stratus_function_invocations_total", lab, f->failed);
    }
    if (rc == 0)
        rc = metrics_family(b, "stratus_function_duration_seconds",
                            "How long invocations took, from start to answer.", "histogram");
    for (size_t i = 0; rc == 0 && app && i < app->nfunctions; i++) {
        int id = app->functions[i]->telemetry_id;
        if (id >= 0 && (size_t)id < T.nfns)
            rc = metrics_hist_write(b, "stratus_function_duration_seconds", T.fns[id].labels,
                                    &T.fns[id].duration);
    }
    if (rc == 0)
        rc = metrics_family(b, "stratus_function_inflight", "Invocations running now.", "gauge");
    for (size_t i = 0; rc == 0 && app && i < app->nfunctions; i++) {
        int id = app->functions[i]->telemetry_id;
        if (id >= 0 && (size_t)id < T.nfns)
            rc = metrics_sample_u(b, "stratus_function_inflight", T.fns[id].labels,
                                  (uint64_t)(T.fns[id].inflight > 0 ? T.fns[id].inflight : 0));
    }
    if (rc == 0)
        rc = metrics_family(b, "stratus_function_gb_seconds_total",
                            "Metered consumption in GB-seconds, rounded as a Consumption plan "
                            "bill rounds (see docs/metrics.md).", "counter");
    for (size_t i = 0; rc == 0 && app && i < app->nfunctions; i++) {
        int id = app->functions[i]->telemetry_id;
        if (id >= 0 && (size_t)id < T.nfns)
            rc = metrics_sample_d(b, "stratus_function_gb_seconds_total", T.fns[id].labels,
                                  (double)T.fns[id].usage.mb_ms / USAGE_MBMS_PER_GBS);
    }
    return rc;
}

static int write_workers(buf_t *b, const telemetry_scrape_t *x)
{
    int rc = metrics_family(b, "stratus_worker_cold_starts_total",
                            "Workers started and ready to run functions (cold starts).",
                            "counter");
    char lab[128];
    for (size_t i = 0; rc == 0 && i < T.nrts; i++) {
        const char *pairs[] = {"runtime", T.rts[i].name};
        if (metrics_labels(lab, sizeof lab, 1, pairs) == 0)
            rc = metrics_sample_u(b, "stratus_worker_cold_starts_total", lab, T.rts[i].cold_starts);
    }
    if (rc == 0)
        rc = metrics_family(b, "stratus_worker_cold_start_duration_seconds",
                            "Time from starting a worker to its being ready.", "histogram");
    for (size_t i = 0; rc == 0 && i < T.nrts; i++) {
        const char *pairs[] = {"runtime", T.rts[i].name};
        if (metrics_labels(lab, sizeof lab, 1, pairs) == 0)
            rc = metrics_hist_write(b, "stratus_worker_cold_start_duration_seconds", lab,
                                    &T.rts[i].cold);
    }
    if (rc == 0)
        rc = metrics_family(b, "stratus_app_instances",
                            "Instances (worker processes, or the host itself for in-process "
                            "code) running the app, by runtime.", "gauge");
    for (size_t i = 0; rc == 0 && i < x->ninstances; i++) {
        const char *pairs[] = {"runtime", x->instances[i].runtime};
        if (metrics_labels(lab, sizeof lab, 1, pairs) == 0)
            rc = metrics_sample_u(b, "stratus_app_instances", lab,
                                  (uint64_t)(x->instances[i].instances > 0 ? x->instances[i].instances : 0));
    }
    return rc;
}

static int write_queues(buf_t *b, const telemetry_scrape_t *x)
{
    int rc = metrics_single_u(b, "stratus_store_up",
                              "1 when the default store answered this scrape's queue listing.",
                              "gauge", x->store_up ? 1 : 0);
    if (rc == 0)
        rc = metrics_family(b, "stratus_queue_messages",
                            "Messages in a queue of the default store: visible (deliverable "
                            "now) or invisible (being processed, or delayed).", "gauge");
    char lab[256];
    for (size_t i = 0; rc == 0 && i < x->nqueues; i++) {
        const telemetry_queue_t *q = &x->queues[i];
        const char *pv[] = {"queue", q->name, "state", "visible"};
        const char *pi[] = {"queue", q->name, "state", "invisible"};
        if (metrics_labels(lab, sizeof lab, 2, pv) == 0)
            rc = metrics_sample_u(b, "stratus_queue_messages", lab, (uint64_t)q->visible);
        if (rc == 0 && metrics_labels(lab, sizeof lab, 2, pi) == 0)
            rc = metrics_sample_u(b, "stratus_queue_messages", lab, (uint64_t)q->invisible);
    }
    if (rc == 0)
        rc = metrics_family(b, "stratus_queue_oldest_message_age_seconds",
                            "Age of the oldest message in a queue (0 when empty).", "gauge");
    for (size_t i = 0; rc == 0 && i < x->nqueues; i++) {
        const char *p[] = {"queue", x->queues[i].name};
        if (metrics_labels(lab, sizeof lab, 1, p) == 0)
            rc = metrics_sample_d(b, "stratus_queue_oldest_message_age_seconds", lab,
                                  (double)x->queues[i].oldest_age_ms / 1000.0);
    }
    return rc;
}

static int write_process(buf_t *b)
{
    int rc = metrics_family(b, "stratus_http_requests_total",
                            "HTTP requests the host answered, by status code.", "counter");
    char lab[32];
    for (int c = 0; rc == 0 && c < HTTP_CODES; c++) {
        if (!T.http[c])
            continue;
        snprintf(lab, sizeof lab, "code=\"%d\"", c);
        rc = metrics_sample_u(b, "stratus_http_requests_total", lab, T.http[c]);
    }
    struct rusage ru;
    double cpu = 0;
    if (getrusage(RUSAGE_SELF, &ru) == 0)
        cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
              (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
    if (rc == 0)
        rc = metrics_single_u(b, "process_resident_memory_bytes",
                              "Resident memory of the host process.", "gauge",
                              telemetry_rss_bytes(0));
    if (rc == 0)
        rc = metrics_family(b, "process_cpu_seconds_total",
                            "User and system CPU time of the host process.", "counter");
    if (rc == 0)
        rc = metrics_sample_d(b, "process_cpu_seconds_total", NULL, cpu);
    if (rc == 0)
        rc = metrics_family(b, "process_start_time_seconds",
                            "When the host started, in seconds since the Unix epoch.", "gauge");
    if (rc == 0)
        rc = buf_printf(b, "process_start_time_seconds %.3f\n", T.start_time);
    if (rc == 0)
        rc = metrics_family(b, "stratus_uptime_seconds", "Seconds since the host started.",
                            "gauge");
    if (rc == 0)
        rc = buf_printf(b, "stratus_uptime_seconds %.3f\n",
                        (double)(uv_hrtime() - T.start_ns) / 1e9);
    if (rc == 0)
        rc = metrics_family(b, "stratus_build_info", "The host's version (always 1).", "gauge");
    if (rc == 0)
        rc = metrics_sample_u(b, "stratus_build_info", "version=\"" STRATUS_VERSION "\"", 1);
    return rc;
}

/* The invocation history's own counters, while it runs. */
static int write_history(buf_t *b)
{
    if (!history_store())
        return 0;
    history_stats_t h;
    history_stats(&h);
    int rc = metrics_single_u(b, "stratus_history_records_written_total",
                              "Invocation records written to the history.", "counter", h.written);
    if (rc == 0)
        rc = metrics_single_u(b, "stratus_history_records_dropped_total",
                              "Invocation records not kept: the store fell behind, was full, "
                              "or failed.", "counter", h.dropped);
    if (rc == 0)
        rc = metrics_single_u(b, "stratus_history_records_superseded_total",
                              "Invocation records not written because newer ones already "
                              "filled the history's count limit (retention would have deleted "
                              "them).", "counter", h.superseded);
    if (rc == 0)
        rc = metrics_single_u(b, "stratus_history_records_pending",
                              "Invocation records waiting to be written.", "gauge",
                              (uint64_t)h.pending);
    return rc;
}

int telemetry_write_metrics(buf_t *b, const telemetry_scrape_t *x)
{
    static const telemetry_scrape_t none = {0};
    if (!x)
        x = &none;
    if (write_functions(b) != 0 || write_workers(b, x) != 0 || write_queues(b, x) != 0 ||
        write_history(b) != 0)
        return -1;
    return write_process(b);
}

json_t *telemetry_usage_json(void)
{
    int64_t now = (int64_t)time(NULL);
    json_t *fns = json_object();
    app_t *app = T.app;
    for (size_t i = 0; fns && app && i < app->nfunctions; i++) {
        int id = app->functions[i]->telemetry_id;
        if (id < 0 || (size_t)id >= T.nfns)
            continue;
        json_t *u = usage_fn_json(&T.fns[id].usage, now);
        if (u)
            json_object_set_new(fns, T.fns[id].name, u);
    }
    char since[32], nows[32];
    time_t st = (time_t)T.start_time, nt = (time_t)now;
    struct tm tm;
    strftime(since, sizeof since, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&st, &tm));
    strftime(nows, sizeof nows, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&nt, &tm));
    return json_pack("{s:s, s:s, s:b, s:{s:i, s:i, s:i, s:i, s:i}, s:o*}", "since", since, "now",
                     nows, "enabled", T.enabled, "rules", "memoryStepMB", USAGE_MB_STEP,
                     "minMemoryMB", USAGE_MIN_MB, "maxMemoryMB", USAGE_MAX_MB,
                     "minDurationMs", USAGE_MIN_MS, "durationStepMs", 1, "functions", fns);
}
