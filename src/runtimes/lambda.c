/*
 * lambda.c -- the Lambda runtime (FUNCTIONS_WORKER_RUNTIME=lambda, or its
 * synonym provided): each function runs in bootstrap processes of its own
 * that pull invocations from the Runtime API (lambda_api.c), exactly as a
 * Lambda custom runtime does. This file holds the runtime descriptor, the
 * per-function queue and scheduling, scaling, timeouts, idle stops and the
 * status; processes themselves are in lambda_proc.c. See lambda_priv.h for
 * the objects and docs/lambda.md for the behaviour.
 *
 * Scheduling: an invocation waits on its function's queue until a process
 * of that function has a `next` call outstanding and room for it (one
 * invocation at a time, or AWS_LAMBDA_MAX_CONCURRENCY). When the queue is
 * longer than the room that running and starting processes will offer,
 * another process is started, up to stratus.scale.maxInstances per
 * function; processes idle for stratus.scale.idleTimeout beyond
 * minInstances are stopped.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../telemetry/telemetry.h"
#include "../telemetry/log.h"
#include "../util/codec.h"
#include "../util/jsontok.h"
#include "lambda_priv.h"

/* ---- call lists ---- */

/* Take c off its function's queue or its process's in-flight list. */
static void call_unlink(lambda_call_t *c)
{
    if (c->proc) {
        lambda__list_remove(&c->proc->inflight, c);
        c->lf->rt->running--;
        c->proc = NULL;
    } else {
        lambda__list_remove(&c->lf->queue, c);
    }
}

/* Complete c as failed with an HTTP status; c must be unlinked. */
static void call_fail(lambda_call_t *c, int status, const char *reason)
{
    c->inv->fail_status = status;
    c->done(c->inv, 0, reason, c->data);
}

uint64_t lambda__unix_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void lambda__category(const lambda_fn_t *lf, char *out, size_t n)
{
    snprintf(out, n, "Function.%s", lf->name);
}

/* ---- scheduling ---- */

/* Processes of lf that are (or will be) able to take invocations. */
static size_t alive(const lambda_fn_t *lf)
{
    size_t n = 0;
    for (const lambda_proc_t *p = lf->procs; p; p = p->next)
        n += !p->exited && p->state != LP_STOPPING;
    return n;
}

/* Answer parked `next` calls whose client has gone (or closed its side: a
 * client that gave up on the long poll), so they do not count as room and
 * no event is sent where nobody reads it. */
void lambda__prune_parked(lambda_proc_t *p)
{
    size_t k = 0;
    for (size_t i = 0; i < p->nparked; i++) {
        if (http_request_eof(p->parked[i]))
            http_respond(p->parked[i], 500, NULL, 0, NULL, 0); /* releases it */
        else
            p->parked[k++] = p->parked[i];
    }
    p->nparked = k;
}

/* Start processes while the queue is longer than the room they offer, or
 * fewer than minInstances run; not during a crash backoff. */
static void ensure(lambda_fn_t *lf)
{
    lambda_rt_t *rt = lf->rt;
    app_t *app = rt->app;
    if (rt->closing || !lf->fn || lf->load_error || uv_now(rt->loop) < lf->backoff_until)
        return;
    size_t cap = (size_t)rt->concurrency, spare = 0, n = 0;
    for (lambda_proc_t *p = lf->procs; p; p = p->next) {
        if (p->exited || p->state == LP_STOPPING)
            continue;
        n++;
        spare += p->inflight.n < cap ? cap - p->inflight.n : 0;
    }
    while ((lf->queue.n > spare || (int64_t)n < app->scale_min_instances) &&
           (int64_t)n < app->scale_max_instances) {
        if (!lambda__spawn(lf))
            break;
        n++;
        spare += cap;
    }
}

void lambda__dispatch(lambda_fn_t *lf)
{
    lambda_rt_t *rt = lf->rt;
    app_t *app = rt->app;
    size_t cap = (size_t)rt->concurrency;
    while (lf->queue.head && !rt->closing) {
        if (app->max_concurrent_requests > 0 &&
            (int64_t)rt->running >= app->max_concurrent_requests)
            break;
        lambda_proc_t *p = NULL;
        for (lambda_proc_t *q = lf->procs; q && !p; q = q->next) {
            if (q->exited || q->state != LP_READY || q->inflight.n >= cap)
                continue;
            lambda__prune_parked(q);
            if (q->nparked)
                p = q;
        }
        if (!p)
            break;
        http_request_t *req = p->parked[--p->nparked];
        lambda_call_t *c = lf->queue.head;
        lambda__list_remove(&lf->queue, c);
        if (lambda__api_send(p, req, c) != 0) {
            p->parked[p->nparked++] = req; /* still waiting for one */
            char reason[200];
            snprintf(reason, sizeof reason, "the event is larger than %zu bytes (Lambda's limit "
                     "for synchronous invocations)", LAMBDA_MAX_PAYLOAD);
            call_fail(c, 413, reason);
            continue;
        }
        c->proc = p;
        lambda__list_push(&p->inflight, c);
        rt->running++;
        p->last_active = uv_now(rt->loop);
    }
    ensure(lf);
}

static size_t queued(const lambda_rt_t *rt)
{
    size_t n = 0;
    for (size_t i = 0; i < rt->nfns; i++)
        n += rt->fns[i]->queue.n;
    return n;
}

static void lambda_invoke(invocation_t *inv, invocation_done_fn done, void *data)
{
    lambda_fn_t *lf = inv->fn->runtime_data;
    lambda_rt_t *rt = lf->rt;
    app_t *app = rt->app;
    runtime_load_t load = {.closing = rt->closing,
                           .outstanding = app->max_outstanding_requests > 0
                                              ? rt->running + queued(rt) : 0,
                           .queued = lf->queue.n, .queue_max = LAMBDA_QUEUE_MAX};
    if (!runtime_admit(inv, done, data, &load)) {
        rt->rejected++;
        return;
    }
    lambda_call_t *c = arena_calloc(inv->arena, sizeof *c);
    if (!c) {
        done(inv, 0, "out of memory", data);
        return;
    }
    c->inv = inv;
    c->done = done;
    c->data = data;
    c->lf = lf;
    c->start_unix = lambda__unix_ms();
    if (app->function_timeout_ms > 0) {
        c->deadline = uv_now(rt->loop) + (uint64_t)app->function_timeout_ms;
        c->deadline_unix = c->start_unix + (uint64_t)app->function_timeout_ms;
    } else {
        c->deadline_unix = c->start_unix + 24ull * 3600 * 1000; /* no limit: a day */
    }
    lambda__list_push(&lf->queue, c);
    lambda__dispatch(lf);
}

/* ---- what the Runtime API reports (lambda_api.c) ---- */

void lambda__next(lambda_proc_t *p, http_request_t *req)
{
    lambda_fn_t *lf = p->lf;
    lambda_rt_t *rt = lf->rt;
    if (p->state == LP_STARTING) {
        p->state = LP_READY;
        p->was_ready = 1;
        p->last_active = uv_now(rt->loop);
        double ms = (double)(uv_hrtime() - p->spawn_ns) / 1e6;
        lf->loaded = lf->settled = 1;
        lf->cold_starts++;
        telemetry_cold_start("lambda", ms);
        p->rss_bytes = telemetry_rss_bytes(p->pid);
        lf->last_cold_start_ms = ms;
        lf->total_cold_start_ms += ms;
        log_write(LOG_INFO, "Host.Scale", NULL, "Function '%s': bootstrap %d (pid %d) ready in "
                  "%.2f ms (cold start); %zu instance(s)", lf->name, p->seq, p->pid, ms, alive(lf));
    }
    lambda__prune_parked(p);
    if (p->nparked >= (size_t)rt->concurrency) {
        lambda__api_error(req, 400, "InvalidStateTransition", "%zu next calls are already "
                          "outstanding on this runtime (AWS_LAMBDA_MAX_CONCURRENCY is %d)",
                          p->nparked, rt->concurrency);
        return;
    }
    p->parked[p->nparked++] = req;
    if (p->state == LP_READY)
        lambda__dispatch(lf);
}

lambda_call_t *lambda__find(lambda_proc_t *p, sv_t id)
{
    for (lambda_call_t *c = p->inflight.head; c; c = c->next)
        if (sv_eq(id, sv_cstr(c->inv->id)))
            return c;
    return NULL;
}

/* Whether fn has a `$return` output binding (not http). */
static int has_return(const function_t *fn)
{
    for (size_t i = 0; i < fn->nbindings; i++)
        if ((fn->bindings[i].direction & BINDING_OUT) && !strcmp(fn->bindings[i].name, "$return") &&
            strcasecmp(fn->bindings[i].type, "http"))
            return 1;
    return 0;
}

/* Bookkeeping of a call that p has answered one way or another. */
static void answered(lambda_proc_t *p, lambda_call_t *c)
{
    call_unlink(c);
    p->invocations++;
    p->lf->invocations++;
    p->last_active = uv_now(p->lf->rt->loop);
    p->lf->consecutive_crashes = 0;
}

/* Complete an HTTP invocation whose response was mapped (rc 0) or not
 * (err says why: 502, logged). */
static void complete_http(lambda_fn_t *lf, lambda_call_t *c, int rc, const char *err)
{
    if (rc != 0) {
        char cat[200];
        lambda__category(lf, cat, sizeof cat);
        log_write(LOG_ERROR, cat, c->inv->id, "%s", err);
        lf->errors++;
        call_fail(c, 502, err);
    } else {
        c->done(c->inv, 1, NULL, c->data);
    }
}

/* Complete an invocation without an HTTP request: the result as it is. */
static void complete_raw(lambda_call_t *c, const char *body, size_t len)
{
    invocation_t *inv = c->inv;
    inv->status = 200;
    int ok = buf_append(&inv->res_body, body, len) == 0;
    if (ok && has_return(inv->fn)) {
        /* The result as the $return binding's value: JSON, or the text. */
        json_error_t je;
        json_t *v = len ? jt_loadb(body, len, JSON_DECODE_ANY, &je) : NULL;
        if (!v && len)
            v = json_stringn_nocheck(body, len);
        if (v) {
            if (!inv->outputs)
                inv->outputs = json_object();
            ok = inv->outputs && json_object_set_new(inv->outputs, "$return", v) == 0;
        }
    }
    c->done(inv, ok, ok ? NULL : "the response is too large", c->data);
}

void lambda__respond(lambda_proc_t *p, lambda_call_t *c, const char *body, size_t len)
{
    lambda_fn_t *lf = p->lf;
    invocation_t *inv = c->inv;
    answered(p, c);
    inv->mem_bytes = p->rss_bytes;
    if (inv->req) {
        char err[600];
        int rc = lf->payload_v2 ? lambda_proxy_result_v2(inv, body, len, err, sizeof err)
                                : lambda_proxy_result(inv, body, len, err, sizeof err);
        complete_http(lf, c, rc, err);
    } else {
        complete_raw(c, body, len);
    }
    lambda__dispatch(lf);
}

void lambda__respond_stream(lambda_proc_t *p, lambda_call_t *c, const char *body, size_t len,
                            sv_t content_type, sv_t error_type, sv_t error_body)
{
    if (error_type.p) {
        /* The handler threw after the stream began: the RIC ends the stream
         * with the error in trailers, its document in base64. */
        buf_t doc;
        buf_init(&doc, LAMBDA_MAX_PAYLOAD);
        if (error_body.n && base64_decode(&doc, error_body.p, error_body.n) != 0)
            buf_reset(&doc);
        lambda__error(p, c, doc.p ? doc.p : "", doc.len, error_type);
        buf_free(&doc);
        return;
    }
    lambda_fn_t *lf = p->lf;
    invocation_t *inv = c->inv;
    answered(p, c);
    inv->mem_bytes = p->rss_bytes;
    if (inv->req) {
        char err[600];
        int rc = lambda_stream_result(inv, content_type, body, len, err, sizeof err);
        complete_http(lf, c, rc, err);
    } else {
        complete_raw(c, body, len);
    }
    lambda__dispatch(lf);
}

void lambda__error(lambda_proc_t *p, lambda_call_t *c, const char *body, size_t len,
                   sv_t type_header)
{
    lambda_fn_t *lf = p->lf;
    invocation_t *inv = c->inv;
    answered(p, c);
    lf->errors++;
    char desc[700], trace[4096], cat[200], reason[800];
    lambda_error_describe(body, len, type_header, desc, sizeof desc, trace, sizeof trace);
    lambda__category(lf, cat, sizeof cat);
    log_write(LOG_ERROR, cat, inv->id, "Invocation failed: %s%s%s", desc, trace[0] ? "\n" : "",
              trace);
    snprintf(reason, sizeof reason, "the function returned an error: %s", desc);
    inv->user_error = 1;
    call_fail(c, 502, reason);
    lambda__dispatch(lf);
}

void lambda__unsupported(lambda_proc_t *p, lambda_call_t *c, const char *why)
{
    lambda_fn_t *lf = p->lf;
    answered(p, c);
    lf->errors++;
    char cat[200];
    lambda__category(lf, cat, sizeof cat);
    log_write(LOG_ERROR, cat, c->inv->id, "Invocation failed: %s", why);
    call_fail(c, 502, why);
    lambda__dispatch(lf);
}

void lambda__refused(lambda_proc_t *p, lambda_call_t *c, int status)
{
    char reason[200];
    if (status == 413 && c->streamed)
        snprintf(reason, sizeof reason, "the streamed response is larger than %zu bytes "
                 "(Lambda's limit for streamed responses)", LAMBDA_MAX_STREAM_PAYLOAD);
    else if (status == 413)
        snprintf(reason, sizeof reason, "the response is larger than %zu bytes (Lambda's limit "
                 "for synchronous invocations)", LAMBDA_MAX_PAYLOAD);
    else
        snprintf(reason, sizeof reason, "the runtime's answer was refused by the Runtime API "
                 "(%d %s: its headers are too large or malformed)", status,
                 http_status_text(status));
    lambda__unsupported(p, c, reason);
}

/* A crash or failed start: back off before starting another process. */
void lambda__crashed(lambda_fn_t *lf, const char *what)
{
    lambda_rt_t *rt = lf->rt;
    lf->crashes++;
    lf->consecutive_crashes++;
    snprintf(lf->last_crash, sizeof lf->last_crash, "%s", what);
    if (lf->consecutive_crashes > 1) {
        unsigned k = lf->consecutive_crashes - 2;
        uint64_t delay = (uint64_t)LAMBDA_BACKOFF_MIN_MS << (k > 12 ? 12 : k);
        if (delay > LAMBDA_BACKOFF_MAX_MS)
            delay = LAMBDA_BACKOFF_MAX_MS;
        lf->backoff_until = uv_now(rt->loop) + delay;
        log_write(LOG_WARN, "Host.Scale", NULL, "Function '%s': %u failures in a row; starting "
                  "its bootstrap again in %llu ms", lf->name, lf->consecutive_crashes,
                  (unsigned long long)delay);
    }
}

/* Fail what waits on lf's queue when no process of lf can serve it. */
static void fail_queue_if_stuck(lambda_fn_t *lf, const char *reason)
{
    for (lambda_proc_t *p = lf->procs; p; p = p->next)
        if (!p->exited && p->state == LP_READY)
            return;
    while (lf->queue.head) {
        lambda_call_t *c = lf->queue.head;
        call_unlink(c);
        call_fail(c, 502, reason);
    }
}

void lambda__init_error(lambda_proc_t *p, const char *body, size_t len, sv_t type_header)
{
    lambda_fn_t *lf = p->lf;
    lambda_rt_t *rt = lf->rt;
    if (p->init_failed || p->exited)
        return;
    p->init_failed = 1;
    char desc[600], trace[4096], cat[200], msg[700];
    lambda_error_describe(body, len, type_header, desc, sizeof desc, trace, sizeof trace);
    lambda__category(lf, cat, sizeof cat);
    log_write(LOG_ERROR, cat, NULL, "Init error: the runtime could not start: %s%s%s", desc,
              trace[0] ? "\n" : "", trace);
    snprintf(msg, sizeof msg, "the runtime failed to initialize (init/error): %s", desc);
    snprintf(lf->last_init_error, sizeof lf->last_init_error, "%s", desc);
    if (rt->starting && !lf->settled) {
        lf->load_error = strdup(msg);
        lf->settled = 1;
    } else {
        lambda__crashed(lf, msg);
        fail_queue_if_stuck(lf, msg);
    }
    lambda__kill(p, "it reported an init error");
}

/* A hint for a script bootstrap that failed at once: Lambda's /bin/sh is
 * bash, and bootstraps written for it (the one in AWS's tutorial
 * among them) use bash's features under "#!/bin/sh"; where /bin/sh is
 * another shell (dash on Debian and Ubuntu) they stop at the first one.
 * Empty when that is not the case. */
static void sh_hint(const char *bootstrap, char *out, size_t n)
{
    out[0] = '\0';
    char line[64] = "", shell[4200];
    FILE *f = fopen(bootstrap, "r");
    if (!f)
        return;
    size_t got = fread(line, 1, sizeof line - 1, f);
    fclose(f);
    line[got] = '\0';
    line[strcspn(line, "\r\n")] = '\0';
    size_t len = strlen(line);
    while (len && (line[len - 1] == ' ' || line[len - 1] == '\t'))
        line[--len] = '\0';
    if (strcmp(line, "#!/bin/sh") != 0 && strcmp(line, "#! /bin/sh") != 0)
        return;
    if (!realpath("/bin/sh", shell))
        return;
    const char *base = strrchr(shell, '/') ? strrchr(shell, '/') + 1 : shell;
    if (strcmp(base, "bash") != 0)
        snprintf(out, n, "; it starts with #!/bin/sh, which is %.40s here, while in Lambda it is "
                 "bash: if it uses bash's features (set -o pipefail, source, [[ ]]), make its "
                 "first line #!/bin/bash", base);
}

void lambda__proc_exited(lambda_proc_t *p, int unexpected, const char *why)
{
    lambda_fn_t *lf = p->lf;
    lambda_rt_t *rt = lf->rt;
    char reason[700];
    snprintf(reason, sizeof reason, "%s (Runtime.ExitError)", why);
    while (p->inflight.head) {
        lambda_call_t *c = p->inflight.head;
        call_unlink(c);
        call_fail(c, 502, reason);
    }
    if (p->init_failed)
        return; /* reported already */
    if (unexpected && !p->was_ready) {
        char msg[1000], hint[300];
        sh_hint(lf->bootstrap, hint, sizeof hint);
        snprintf(msg, sizeof msg, "%s before asking for an invocation (Runtime.ExitError); "
                 "its output is in the log%s", why, hint);
        if (rt->starting && !lf->settled) {
            lf->load_error = strdup(msg);
            lf->settled = 1;
            return;
        }
        lambda__crashed(lf, msg);
        fail_queue_if_stuck(lf, msg);
        return;
    }
    if (unexpected)
        lambda__crashed(lf, why);
}

/* ---- timers ---- */

static void tick_fn(lambda_fn_t *lf, uint64_t now)
{
    lambda_rt_t *rt = lf->rt;
    app_t *app = rt->app;
    char limit[48], reason[300], cat[200];
    timespan_format(app->function_timeout_ms, limit, sizeof limit);
    lambda__category(lf, cat, sizeof cat);
    for (lambda_call_t *c = lf->queue.head; c;) {
        lambda_call_t *next = c->next;
        if (c->deadline && now >= c->deadline) {
            call_unlink(c);
            lf->timeouts++;
            snprintf(reason, sizeof reason, "timed out after %s (functionTimeout) waiting for a "
                     "bootstrap process", limit);
            call_fail(c, 504, reason);
        }
        c = next;
    }
    size_t n = alive(lf);
    for (lambda_proc_t *p = lf->procs; p; p = p->next) {
        if (p->exited)
            continue;
        lambda__prune_parked(p);
        for (lambda_call_t *c = p->inflight.head; c;) {
            lambda_call_t *next = c->next;
            if (c->deadline && now >= c->deadline) {
                call_unlink(c);
                lf->timeouts++;
                log_write(LOG_ERROR, cat, c->inv->id, "Task timed out after %.2f seconds",
                          (double)app->function_timeout_ms / 1000.0);
                snprintf(reason, sizeof reason, "invocation %s timed out after %s "
                         "(functionTimeout)", c->inv->id, limit);
                char why[200];
                snprintf(why, sizeof why, "timed out after %s (functionTimeout)", limit);
                call_fail(c, 504, why);
                /* As Lambda does: the runtime cannot be trusted any more. */
                lambda__kill(p, reason);
            }
            c = next;
        }
        if (p->stop_requested == 1 && now >= p->stop_deadline) {
            lambda__kill(p, "it did not stop within the grace period");
            continue;
        }
        if (p->state == LP_STOPPING)
            continue;
        /* An invocation lasts until the runtime asks for the next one (as
         * in Lambda): one that answered and then hangs holds its room
         * without ever taking work, so it is reset like a timeout. */
        if (p->state == LP_READY && !p->inflight.n && !p->nparked &&
            app->function_timeout_ms > 0 &&
            now - p->last_active >= (uint64_t)app->function_timeout_ms) {
            snprintf(reason, sizeof reason, "it did not ask for an invocation within %s "
                     "(functionTimeout) of answering its last", limit);
            lambda__kill(p, reason);
            n--;
            continue;
        }
        if (p->state == LP_STARTING && !p->was_ready &&
            (uv_hrtime() - p->spawn_ns) / 1000000 >= LAMBDA_INIT_LIMIT_MS) {
            /* Lambda ends an init phase that does not finish in 10 s. */
            snprintf(reason, sizeof reason, "it did not ask for an invocation within %d s of its "
                     "start (Lambda's limit for the init phase)", LAMBDA_INIT_LIMIT_MS / 1000);
            if (!rt->starting) {
                /* A failed start: the next one waits (backoff), and what waits
                 * for this function fails if nothing can serve it. */
                char msg[400];
                snprintf(msg, sizeof msg, "the bootstrap did not ask for an invocation within %d s "
                         "of its start (Lambda's limit for the init phase)",
                         LAMBDA_INIT_LIMIT_MS / 1000);
                lambda__crashed(lf, msg);
                fail_queue_if_stuck(lf, msg);
            }
            lambda__kill(p, reason);
            n--;
            continue;
        }
        uint64_t rss = p->pid ? telemetry_rss_bytes(p->pid) : 0;
        if (rss)
            p->rss_bytes = rss;
        if (app->worker_memory_mb > 0 && rss) {
            long mb = (long)(rss >> 20);
            if (mb > app->worker_memory_mb) {
                snprintf(reason, sizeof reason, "it exceeded the memory limit of %lld MB "
                         "(resident %ld MB; stratus.worker.memoryLimitMB)",
                         (long long)app->worker_memory_mb, mb);
                lambda__kill(p, reason);
                n--;
                continue;
            }
        }
        if (p->state == LP_READY && !p->inflight.n && (int64_t)n > app->scale_min_instances &&
            now - p->last_active >= (uint64_t)app->scale_idle_timeout_ms) {
            log_write(LOG_INFO, "Host.Scale", NULL, "Function '%s': bootstrap %d (pid %d) idle "
                      "for %llu ms; stopping it (%zu instance(s) left)", lf->name, p->seq, p->pid,
                      (unsigned long long)(now - p->last_active), n - 1);
            lambda__stop(p);
            n--;
        }
    }
    /* Also what maxConcurrentRequests held back while other functions ran. */
    lambda__dispatch(lf);
}

static void tick_cb(uv_timer_t *t)
{
    lambda_rt_t *rt = t->data;
    uint64_t now = uv_now(rt->loop);
    for (size_t i = 0; i < rt->nfns; i++)
        tick_fn(rt->fns[i], now);
}

/* ---- the runtime descriptor ---- */

static int lambda_app_start(app_t *app, uv_loop_t *loop, char *err, size_t errlen)
{
    lambda_rt_t *rt = calloc(1, sizeof *rt);
    if (!rt) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    rt->loop = loop;
    rt->app = app;
    rt->concurrency = 1;
    size_t len = sizeof rt->exe;
    if (child_self_exe(rt->exe, &len) != 0)
        snprintf(rt->exe, sizeof rt->exe, "/proc/self/exe");
    const char *mc = app_setting(app, "AWS_LAMBDA_MAX_CONCURRENCY");
    if (mc) {
        char *end = NULL;
        errno = 0;
        long v = strtol(mc, &end, 10);
        if (errno || end == mc || *end || v < 1 || v > LAMBDA_CONCURRENCY_MAX) {
            snprintf(err, errlen, "app setting AWS_LAMBDA_MAX_CONCURRENCY: expected an integer "
                     "from 1 to %d, got '%.60s'", LAMBDA_CONCURRENCY_MAX, mc);
            free(rt);
            return -1;
        }
        rt->concurrency = (int)v;
        rt->concurrency_set = 1;
    }
    const char *region = app_setting(app, "AWS_REGION");
    snprintf(rt->region, sizeof rt->region, "%s", region && *region ? region : LAMBDA_DEFAULT_REGION);
    /* Lambda runs in UTC; an app may choose another zone in its settings. */
    snprintf(rt->tz, sizeof rt->tz, ":UTC");
    for (size_t i = 0; i < app->nsettings; i++)
        if (strcmp(app->settings[i].name, "TZ") == 0)
            snprintf(rt->tz, sizeof rt->tz, "%s", app->settings[i].value);
    buf_init(&rt->event, LAMBDA_MAX_PAYLOAD);
    app->runtime_state = rt;
    return 0;
}

/* Whether path is a file this process may execute; 0, or -1 with err. */
static int check_exec(const char *path, const char *what, char *err, size_t errlen)
{
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "%s '%s' not found", what, path);
        return -1;
    }
    if (access(path, X_OK) != 0) {
        snprintf(err, errlen, "%s '%s' is not executable (chmod +x it)", what, path);
        return -1;
    }
    return 0;
}

static char *find_bootstrap(app_t *app, function_t *fn, char *err, size_t errlen)
{
    if (fn->bootstrap)
        return check_exec(fn->bootstrap, "function.json field 'bootstrap':", err, errlen) == 0
                   ? strdup(fn->bootstrap)
                   : NULL;
    const char *dirs[2] = {fn->dir, app->root};
    for (int i = 0; i < 2; i++) {
        char path[4200];
        struct stat st;
        snprintf(path, sizeof path, "%s/bootstrap", dirs[i]);
        if (stat(path, &st) == 0)
            return check_exec(path, "the Lambda bootstrap", err, errlen) == 0 ? strdup(path) : NULL;
    }
    snprintf(err, errlen, "no Lambda bootstrap: looked for %s/bootstrap and %s/bootstrap (an "
             "executable that speaks the Lambda Runtime API; or name one with the function.json "
             "field 'bootstrap')", fn->dir, app->root);
    return NULL;
}

/* A Lambda function answers with one result: the HTTP response of an HTTP
 * trigger, else the value of a `$return` output binding. Any other output
 * could never be written: refused, naming it. 0, or -1 with err. */
static int check_outputs(const function_t *fn, char *err, size_t errlen)
{
    int http = fn->http != NULL;
    for (size_t i = 0; i < fn->nbindings; i++) {
        const binding_t *b = &fn->bindings[i];
        if (!(b->direction & BINDING_OUT))
            continue;
        if (http ? !strcasecmp(b->type, "http") : !strcmp(b->name, "$return"))
            continue;
        snprintf(err, errlen, "function.json: binding '%s' (%s): a Lambda function's only output "
                 "is its result, %s", b->name, b->type,
                 http ? "which is the HTTP response of an HTTP-triggered function"
                      : "bound to an output binding named '$return'");
        return -1;
    }
    return 0;
}

static int lambda_load(app_t *app, function_t *fn, char *err, size_t errlen)
{
    lambda_rt_t *rt = app->runtime_state;
    if (check_outputs(fn, err, errlen) != 0)
        return -1;
    char *bootstrap = find_bootstrap(app, fn, err, errlen);
    if (!bootstrap)
        return -1;
    lambda_fn_t *lf = calloc(1, sizeof *lf);
    lambda_fn_t **grown = lf ? realloc(rt->fns, (rt->nfns + 1) * sizeof *grown) : NULL;
    if (!grown) {
        free(lf);
        free(bootstrap);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    rt->fns = grown;
    rt->fns[rt->nfns++] = lf;
    lf->rt = rt;
    lf->fn = fn;
    lf->name = strdup(fn->name);
    lf->bootstrap = bootstrap;
    lf->handler = strdup(fn->entry_point ? fn->entry_point : "index.handler");
    lf->task_root = strdup(fn->dir);
    lf->route = strdup(fn->http && fn->http->route ? fn->http->route : fn->name);
    lf->payload_v2 = fn->lambda_payload_v2;
    snprintf(lf->arn, sizeof lf->arn, "arn:aws:lambda:%s:" LAMBDA_ACCOUNT_ID ":function:%s",
             rt->region, fn->name);
    if (!lf->name || !lf->handler || !lf->task_root || !lf->route) {
        snprintf(err, errlen, "out of memory");
        return -1; /* lf is freed with the runtime */
    }
    fn->runtime_data = lf;
    return 0;
}

static void start_wait_cb(uv_timer_t *t) { *(int *)t->data = 1; }

static int all_settled(const lambda_rt_t *rt)
{
    for (size_t i = 0; i < rt->nfns; i++)
        if (rt->fns[i]->fn && !rt->fns[i]->settled)
            return 0;
    return 1;
}

/* Start each function's first process(es) and wait until each has asked
 * for an invocation or failed to start: a function whose runtime reports
 * an init error (or exits) now is not loaded, and the host says why. */
static int lambda_ready(app_t *app, uv_loop_t *loop, char *err, size_t errlen)
{
    lambda_rt_t *rt = app->runtime_state;
    (void)err;
    (void)errlen;
    uv_timer_init(loop, &rt->tick);
    rt->tick.data = rt;
    rt->tick_open = 1;
    uv_timer_start(&rt->tick, tick_cb, LAMBDA_TICK_MS, LAMBDA_TICK_MS);
    uv_unref((uv_handle_t *)&rt->tick);
    rt->starting = 1;
    for (size_t i = 0; i < rt->nfns; i++) {
        lambda_fn_t *lf = rt->fns[i];
        int64_t want = app->scale_min_instances > 1 ? app->scale_min_instances : 1;
        for (int64_t k = 0; k < want; k++)
            if (!lambda__spawn(lf) && k == 0 && !lf->settled) {
                char msg[400];
                snprintf(msg, sizeof msg, "cannot start the bootstrap: %s", lf->last_crash);
                lf->load_error = strdup(msg);
                lf->settled = 1;
            }
    }
    int timed_out = 0;
    uv_timer_t t;
    uv_timer_init(loop, &t);
    t.data = &timed_out;
    uv_timer_start(&t, start_wait_cb, LAMBDA_START_WAIT_MS, 0);
    while (!all_settled(rt) && !timed_out && !runtime_host_stopping())
        uv_run(loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&t, NULL);
    uv_run(loop, UV_RUN_NOWAIT);
    rt->starting = 0;
    for (size_t i = 0; i < rt->nfns; i++)
        if (!rt->fns[i]->settled)
            log_write(LOG_WARN, "Host.Startup", NULL, "Function '%s': its bootstrap has not asked "
                      "for an invocation after %d s; invocations wait for it", rt->fns[i]->name,
                      LAMBDA_START_WAIT_MS / 1000);
    return 0;
}

static const char *lambda_load_error(app_t *app, function_t *fn)
{
    (void)app;
    lambda_fn_t *lf = fn->runtime_data;
    return lf ? lf->load_error : NULL;
}

static void lambda_unload(function_t *fn)
{
    lambda_fn_t *lf = fn->runtime_data;
    if (!lf)
        return;
    fn->runtime_data = NULL;
    lf->fn = NULL;
    for (lambda_proc_t *p = lf->procs; p; p = p->next)
        lambda__kill(p, "its function was not loaded");
}

static json_t *proc_json(const lambda_proc_t *p, uint64_t now)
{
    const char *state = p->state == LP_STARTING ? "starting"
                        : p->state == LP_STOPPING ? "stopping"
                        : p->inflight.n ? "busy" : "idle";
    return json_pack("{s:i, s:i, s:s, s:i, s:s, s:I, s:I, s:I, s:I}", "id", p->seq, "pid", p->pid,
                     "function", p->lf->name, "port", p->port, "state", state, "inFlight",
                     (json_int_t)p->inflight.n, "waitingNext", (json_int_t)p->nparked,
                     "invocations", (json_int_t)p->invocations, "idleMs",
                     (json_int_t)(p->inflight.n || p->state != LP_READY ? 0 : now - p->last_active));
}

static json_t *lambda_scale_status(app_t *app)
{
    lambda_rt_t *rt = app->runtime_state;
    if (!rt)
        return NULL;
    uint64_t now = uv_now(rt->loop);
    json_t *fns = json_array(), *workers = json_array();
    size_t busy = 0, idle = 0, starting = 0, instances = 0, qlen = 0;
    uint64_t cold = 0, timeouts = 0;
    double total_cold = 0, last_cold = 0;
    for (size_t i = 0; i < rt->nfns; i++) {
        lambda_fn_t *lf = rt->fns[i];
        if (!lf->fn)
            continue;
        json_t *procs = json_array();
        for (const lambda_proc_t *p = lf->procs; p; p = p->next) {
            if (p->exited)
                continue;
            if (p->state == LP_STARTING)
                starting++;
            else if (p->state == LP_READY)
                p->inflight.n ? busy++ : idle++;
            json_array_append_new(procs, proc_json(p, now));
            json_array_append_new(workers, proc_json(p, now));
        }
        size_t n = alive(lf);
        instances += n;
        qlen += lf->queue.n;
        cold += lf->cold_starts;
        timeouts += lf->timeouts;
        total_cold += lf->total_cold_start_ms;
        if (lf->cold_starts)
            last_cold = lf->last_cold_start_ms;
        json_t *f = json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:o}", "name",
                              lf->name, "bootstrap", lf->bootstrap, "handler", lf->handler,
                              "instances", (json_int_t)n, "queueLength", (json_int_t)lf->queue.n,
                              "coldStarts", (json_int_t)lf->cold_starts, "invocations",
                              (json_int_t)lf->invocations, "errors", (json_int_t)lf->errors,
                              "timeouts", (json_int_t)lf->timeouts, "crashes",
                              (json_int_t)lf->crashes, "processes", procs);
        if (lf->last_init_error[0])
            json_object_set_new(f, "lastInitError", json_string(lf->last_init_error));
        json_array_append_new(fns, f);
    }
    return json_pack("{s:s, s:s, s:I, s:I, s:I, s:i, s:b, s:I, s:I, s:I, s:I, s:I, s:I, s:I, "
                     "s:I, s:f, s:f, s:I, s:I, s:o, s:o}",
                     "runtime", "lambda", "mode", "bootstrap processes", "minInstances",
                     (json_int_t)app->scale_min_instances, "maxInstances",
                     (json_int_t)app->scale_max_instances, "idleTimeoutMs",
                     (json_int_t)app->scale_idle_timeout_ms, "maxConcurrency", rt->concurrency,
                     "concurrentMode", rt->concurrency_set, "perInstanceConcurrency",
                     (json_int_t)rt->concurrency, "instances", (json_int_t)instances, "busy",
                     (json_int_t)busy, "idle", (json_int_t)idle, "starting",
                     (json_int_t)starting, "queueLength", (json_int_t)qlen, "inFlight",
                     (json_int_t)rt->running, "coldStarts", (json_int_t)cold,
                     "lastColdStartMs", last_cold, "averageColdStartMs",
                     cold ? total_cold / (double)cold : 0.0, "rejected", (json_int_t)rt->rejected,
                     "timeouts", (json_int_t)timeouts, "functions", fns, "workers", workers);
}

static json_t *lambda_health(app_t *app)
{
    lambda_rt_t *rt = app->runtime_state;
    if (!rt)
        return NULL;
    uint64_t crashes = 0, now = uv_now(rt->loop), backoff = 0;
    unsigned consecutive = 0;
    const char *last = NULL;
    json_t *init_errors = json_object();
    for (size_t i = 0; i < rt->nfns; i++) {
        lambda_fn_t *lf = rt->fns[i];
        if (!lf->fn)
            continue;
        crashes += lf->crashes;
        if (lf->consecutive_crashes > consecutive)
            consecutive = lf->consecutive_crashes;
        if (lf->last_crash[0])
            last = lf->last_crash;
        if (lf->backoff_until > now && lf->backoff_until - now > backoff)
            backoff = lf->backoff_until - now;
        if (lf->last_init_error[0])
            json_object_set_new(init_errors, lf->name, json_string(lf->last_init_error));
    }
    return json_pack("{s:I, s:I, s:s?, s:I, s:o}", "crashes", (json_int_t)crashes,
                     "consecutiveCrashes", (json_int_t)consecutive, "lastCrash", last,
                     "restartDelayMs", (json_int_t)backoff, "initErrors", init_errors);
}

static void tick_closed(uv_handle_t *h)
{
    lambda_rt_t *rt = h->data;
    rt->tick_open = 0;
    lambda__maybe_finish(rt);
}

void lambda__maybe_finish(lambda_rt_t *rt)
{
    if (!rt->closing)
        return;
    for (size_t i = 0; i < rt->nfns; i++)
        if (rt->fns[i]->procs)
            return;
    if (rt->tick_open) {
        if (!uv_is_closing((uv_handle_t *)&rt->tick))
            uv_close((uv_handle_t *)&rt->tick, tick_closed);
        return;
    }
    if (rt->close_cb) {
        void (*cb)(void *) = rt->close_cb;
        rt->close_cb = NULL;
        cb(rt->close_data);
    }
}

static void lambda_app_stop(app_t *app, void (*cb)(void *data), void *data)
{
    lambda_rt_t *rt = app->runtime_state;
    if (!rt) {
        cb(data);
        return;
    }
    rt->closing = 1;
    rt->close_cb = cb;
    rt->close_data = data;
    for (size_t i = 0; i < rt->nfns; i++) {
        lambda_fn_t *lf = rt->fns[i];
        while (lf->queue.head) {
            lambda_call_t *c = lf->queue.head;
            call_unlink(c);
            call_fail(c, 503, "the host is stopping");
        }
        for (lambda_proc_t *p = lf->procs; p; p = p->next) {
            while (p->inflight.head) {
                lambda_call_t *c = p->inflight.head;
                call_unlink(c);
                call_fail(c, 503, "the host is stopping");
            }
            lambda__stop(p);
        }
    }
    if (rt->tick_open)
        uv_ref((uv_handle_t *)&rt->tick); /* the grace period runs on it */
    lambda__maybe_finish(rt);
}

static void lambda_app_free(app_t *app)
{
    lambda_rt_t *rt = app->runtime_state;
    if (!rt)
        return;
    for (size_t i = 0; i < rt->nfns; i++) {
        lambda_fn_t *lf = rt->fns[i];
        if (lf->fn)
            lf->fn->runtime_data = NULL;
        free(lf->name);
        free(lf->bootstrap);
        free(lf->handler);
        free(lf->task_root);
        free(lf->route);
        free(lf->load_error);
        free(lf);
    }
    free(rt->fns);
    buf_free(&rt->event);
    free(rt);
    app->runtime_state = NULL;
}

/* Every member but the name. */
#define LAMBDA_OPS                                                                       \
    .version = RUNTIME_VERSION, .app_start = lambda_app_start, .load = lambda_load,      \
    .ready = lambda_ready, .load_error = lambda_load_error, .invoke = lambda_invoke,      \
    .scale_status = lambda_scale_status, .health = lambda_health,                        \
    .unload = lambda_unload, .app_stop = lambda_app_stop, .app_free = lambda_app_free

const runtime_t runtime_lambda = {.name = "lambda", LAMBDA_OPS};

/* "provided" names Lambda's custom runtimes (provided.al2023): the same. */
const runtime_t runtime_lambda_provided = {.name = "provided", LAMBDA_OPS};
