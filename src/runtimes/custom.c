/*
 * custom.c -- the custom handler runtime (FUNCTIONS_WORKER_RUNTIME=custom):
 * the app's own executable, a web server started by the host on a free
 * port and called over HTTP, as Azure Functions does (see custom.h for the
 * files and lifecycles, docs/custom-handlers.md for users).
 *
 * An invocation waits in the app's queue until a READY handler process has
 * room (perInstanceConcurrency); when none has, another process starts, up
 * to maxInstances. Idle processes beyond minInstances (and at least one)
 * stop after idleTimeout. At functionTimeout an invocation answers 504;
 * the HTTP exchange with the handler may go on a minute longer, detached.
 * A process that exits unexpectedly fails its invocations and is restarted
 * with a growing delay; three such crashes within 30 minutes stop this
 * app's custom handler (requests then answer 503 and /admin/host/status
 * says why) while the host and its other work go on. An exit with status
 * 200 after serving is a request to be restarted: at once, and no crash.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../http/method.h"
#include "../telemetry/telemetry.h"
#include "../telemetry/log.h"
#include "custom.h"

void ch__call_fail(ch_call_t *c, int status, const char *reason)
{
    if (c->finished)
        return;
    c->finished = 1;
    upstream_detach(&c->up);
    c->inv->fail_status = status;
    c->done(c->inv, 0, reason, c->data); /* may free c (the arena) */
}

/* ---- scheduling ---- */

static int64_t min_instances(const ch_app_t *ca)
{
    return ca->app->scale_min_instances > 1 ? ca->app->scale_min_instances : 1;
}

/* Processes that are or will be instances (not stopping, not gone). */
static size_t instances(const ch_app_t *ca)
{
    size_t n = 0;
    for (const ch_proc_t *p = ca->procs; p; p = p->next)
        n += !p->exited && p->state != CH_STOPPING;
    return n;
}

/* The custom apps of this host (versions side by side during a reload). */
static ch_app_t *apps;

/* 1 when ca's handler has a fixed port (customHandler.port) that a process
 * of another version of the app still holds: a reload's new version waits
 * until the one it replaces has finished its requests and exited. */
static int port_held_by_other(const ch_app_t *ca)
{
    int port = ca->app->custom_handler.port;
    for (const ch_app_t *o = apps; port && o; o = o->next_app)
        if (o != ca && o->nprocs && o->app->custom_handler.port == port)
            return 1;
    return 0;
}

static int can_spawn(const ch_app_t *ca)
{
    /* A fixed port has room for one process. */
    int64_t max = ca->app->custom_handler.port ? 1 : ca->app->scale_max_instances;
    return !ca->closing && !ca->stopped && uv_now(ca->loop) >= ca->backoff_until &&
           (int64_t)instances(ca) < max && !port_held_by_other(ca);
}

static ch_proc_t *pick(ch_app_t *ca)
{
    ch_proc_t *best = NULL;
    size_t cap = (size_t)ca->app->scale_concurrency;
    for (ch_proc_t *p = ca->procs; p; p = p->next)
        if (!p->exited && p->state == CH_READY && p->inflight.n < cap &&
            (!best || p->inflight.n < best->inflight.n))
            best = p;
    return best;
}

static void up_cb(upstream_call_t *call, int status, respparser_t *resp);

/* ---- forwarded answers passed on as they arrive ---- */

/* c leaves its process's in-flight list (and the app's count). */
static void call_leave(ch_call_t *c)
{
    if (!c->proc)
        return;
    ch__list_remove(&c->proc->inflight, c);
    c->ca->running--;
    c->proc->last_active = uv_now(c->ca->loop);
    c->proc = NULL;
}

/* The caller went away while the answer streamed (an event stream it
 * closed): the exchange with the handler ends, and so does the
 * invocation, which did nothing wrong. When the host itself closed the
 * connection (a stop past its drain limit, a second interrupt), the
 * answer is cut off. */
static void stream_gone(http_request_t *req, void *data)
{
    ch_call_t *c = data;
    if (c->finished)
        return;
    ch_app_t *ca = c->ca;
    int dropped = http_request_dropped(req);
    call_leave(c);
    c->finished = 1;
    upstream_detach(&c->up);
    if (!dropped)
        log_write(LOG_DEBUG, "Host.CustomHandler", c->inv->id, "Function '%s': the caller "
                  "closed the connection while the answer was passed on", c->inv->fn->name);
    c->done(c->inv, !dropped, dropped ? "the host stopped (its drain limit, or a second "
                                        "interrupt) while its answer was passed on; the "
                                        "answer is cut off" : NULL,
            c->data); /* may free c */
    if (ca->queue.n)
        ch__dispatch(ca);
}

/* The caller of a forwarded request closed its connection: as a proxy
 * does, the host gives the request up (a waiting one leaves the queue, a
 * sent one's connection to the handler is closed, so the handler sees its
 * request end), and the invocation fails with 499, nginx's "client closed
 * request". A streamed answer ends as in stream_gone. */
static void caller_gone(http_request_t *req, void *data)
{
    ch_call_t *c = data;
    if (c->finished)
        return;
    if (c->streaming) {
        stream_gone(req, data);
        return;
    }
    ch_app_t *ca = c->ca;
    int sent = c->proc != NULL;
    if (sent)
        call_leave(c);
    else
        ch__list_remove(&ca->queue, c);
    upstream_cancel(&c->up); /* the handler sees its request end */
    if (http_request_dropped(req))
        ch__call_fail(c, 503, "the host stopped (its drain limit, or a second interrupt) "
                              "before the answer; the request to the handler was given "
                              "up"); /* may free c */
    else if (!sent)
        ch__call_fail(c, 499, "the caller closed the connection while the request waited for "
                              "the handler; it was not sent"); /* may free c */
    else
        ch__call_fail(c, 499, "the caller closed the connection before the answer; the "
                              "request to the handler was given up"); /* may free c */
    if (ca->queue.n)
        ch__dispatch(ca);
}

static void stream_drained(http_request_t *req, void *data)
{
    (void)req;
    ch_call_t *c = data;
    if (!c->finished)
        upstream_resume(&c->up);
}

/* The head of a forwarded answer is in, its body still to come: a large
 * or open-ended one (an event stream, a download) is passed on as it
 * arrives; a small one is gathered and sent in one piece. */
static int up_head(upstream_call_t *call, respparser_t *resp)
{
    ch_call_t *c = call->data;
    invocation_t *inv = c->inv;
    uint64_t len = respparser_content_length(resp);
    int head = inv->req->method == METHOD_HEAD;
    if (c->finished || (len != UINT64_MAX && len < CH_STREAM_MIN && !head))
        return 0;
    ch__msg_forward_head(c, resp);
    if (invocation_stream_start(inv, len == UINT64_MAX ? HTTP_STREAM_NO_LENGTH : len,
                                caller_gone, c) != 0) {
        inv->nres_headers = 0; /* gathered: the headers are taken again at the end */
        return 0;
    }
    c->streaming = 1;
    ch_fn_t *cf = inv->fn->runtime_data;
    if (cf)
        cf->streams = 1; /* its calls are no longer pipelined */
    if (head) {
        /* HEAD went as GET: its answer is the head, without waiting for
         * a body that is not sent (and may not end). */
        ch_app_t *ca = c->ca;
        call_leave(c);
        c->finished = 1;
        upstream_detach(call);
        c->done(inv, 1, NULL, c->data); /* may free c */
        if (ca->queue.n)
            ch__dispatch(ca);
        return 0;
    }
    return 1;
}

static void up_body(upstream_call_t *call, const char *p, size_t n)
{
    ch_call_t *c = call->data;
    http_request_t *req = c->inv->req;
    if (c->finished || http_stream_write(req, p, n) != 0)
        return; /* the caller is gone: stream_gone ends it */
    if (http_stream_unsent(req) >= CH_STREAM_HIGH) {
        upstream_pause(call);
        http_stream_on_drain(req, stream_drained, c);
    }
}

static void send_call(ch_proc_t *p, ch_call_t *c)
{
    ch_app_t *ca = p->ca;
    uint64_t now = uv_now(ca->loop);
    char err[300];
    c->proc = p;
    ch__list_push(&p->inflight, c);
    ca->running++;
    p->last_active = now;
    if (ch__msg_request(c, p->hostport, err, sizeof err) != 0) {
        ch__list_remove(&p->inflight, c);
        ca->running--;
        ch__call_fail(c, 500, err);
        return;
    }
    c->up.cb = up_cb;
    c->up.data = c;
    ch_fn_t *cf = c->inv->fn->runtime_data;
    if (cf && cf->forward && c->inv->stream_ok) {
        c->up.head_cb = up_head;
        c->up.body_cb = up_body;
    }
    c->up.solo = cf && (cf->streams || cf->solo_left || cf->whole_answers < CH_TRUST_ANSWERS);
    if (cf && cf->solo_left)
        cf->solo_left--;
    c->sent_ms = now;
    /* The handler gets functionTimeout plus a minute; the caller gets its
     * 504 at functionTimeout (the sweep). */
    c->up.timeout_ms = c->deadline ? (c->deadline > now ? c->deadline - now : 0) +
                                         CH_TIMEOUT_GRACE_MS
                                   : 0;
    upstream_send(p->up, &c->up);
}

static void sweep_start(ch_app_t *ca);

void ch__dispatch(ch_app_t *ca)
{
    while (ca->queue.head && !ca->closing && !ca->stopped) {
        if (ca->app->max_concurrent_requests > 0 &&
            (int64_t)ca->running >= ca->app->max_concurrent_requests)
            break;
        ch_proc_t *p = pick(ca);
        if (!p) {
            /* Grow when what is starting cannot take the queue. */
            size_t starting = 0;
            for (ch_proc_t *q = ca->procs; q; q = q->next)
                starting += !q->exited && q->state == CH_STARTING;
            if (ca->queue.n > starting * (size_t)ca->app->scale_concurrency && can_spawn(ca))
                ch__proc_spawn(ca);
            break;
        }
        ch_call_t *c = ca->queue.head;
        ch__list_remove(&ca->queue, c);
        send_call(p, c);
    }
    if (ca->queue.n || ca->running)
        sweep_start(ca);
}

static void up_cb(upstream_call_t *call, int status, respparser_t *resp)
{
    ch_call_t *c = call->data;
    ch_proc_t *p = c->proc;
    ch_app_t *ca = c->ca;
    if (c->finished)
        return; /* cannot happen: a finished call is detached */
    ch__list_remove(&p->inflight, c);
    ca->running--;
    p->last_active = uv_now(ca->loop);
    char err[600];
    if (status == UPSTREAM_ECONNECT && !call->maybe_sent && c->requeues < CH_MAX_REQUEUES &&
        !ca->closing && !ca->stopped) {
        /* Nothing reached the handler: the call waits for a process that
         * listens (this one, rechecked, or its replacement). */
        c->requeues++;
        c->proc = NULL;
        ch__list_push_front(&ca->queue, c); /* it was first in line: it stays so */
        ch__proc_recheck(p);
        ch__dispatch(ca);
        return;
    }
    p->invocations++;
    ch_fn_t *cf = c->inv->fn->runtime_data;
    if (cf && p->last_active - c->sent_ms > CH_SOLO_MS)
        cf->solo_left = CH_SOLO_CALLS;
    if (status != UPSTREAM_OK) {
        snprintf(err, sizeof err, "custom handler %d (pid %d, port %d): %s", p->seq, p->pid,
                 p->port, call->error);
        ch__call_fail(c, status == UPSTREAM_ETIMEDOUT ? 504 : 500, err);
    } else if (c->streaming) {
        c->finished = 1;
        c->inv->mem_bytes = p->rss_bytes;
        c->done(c->inv, 1, NULL, c->data); /* may free c */
    } else {
        int ok = ch__msg_response(c, resp, err, sizeof err);
        if (cf && cf->whole_answers < CH_TRUST_ANSWERS)
            cf->whole_answers++;
        c->finished = 1;
        /* What went wrong is in the handler's answer: the log has it, the
         * caller gets the invocation id. */
        c->inv->user_error = !ok;
        c->inv->mem_bytes = p->rss_bytes;
        c->done(c->inv, ok, ok ? NULL : err, c->data); /* may free c */
    }
    if (ca->queue.n)
        ch__dispatch(ca);
}

static void submit(ch_app_t *ca, invocation_t *inv, invocation_done_fn done, void *data)
{
    runtime_load_t load = {.closing = ca->closing,
                           .stopped_reason = ca->stopped ? ca->stop_reason : NULL,
                           .outstanding = ca->running + ca->queue.n,
                           .queued = ca->queue.n, .queue_max = CH_QUEUE_MAX};
    if (!runtime_admit(inv, done, data, &load)) {
        ca->rejected++;
        return;
    }
    ch_call_t *c = arena_calloc(inv->arena, sizeof *c);
    if (!c) {
        done(inv, 0, "out of memory", data);
        return;
    }
    c->ca = ca;
    c->inv = inv;
    c->done = done;
    c->data = data;
    if (ca->app->function_timeout_ms > 0)
        c->deadline = uv_now(ca->loop) + (uint64_t)ca->app->function_timeout_ms;
    const ch_fn_t *cf = inv->fn->runtime_data;
    if (cf && cf->forward && inv->req) {
        if (http_request_eof(inv->req)) {
            inv->fail_status = 499;
            done(inv, 0, "the caller closed the connection before the request was passed on",
                 data);
            return;
        }
        http_request_on_gone(inv->req, caller_gone, c);
    }
    ch__list_push(&ca->queue, c);
    ch__dispatch(ca);
}

/* ---- timers ---- */

static void sweep_cb(uv_timer_t *t)
{
    ch_app_t *ca = t->data;
    uint64_t now = uv_now(ca->loop);
    char limit[48], reason[200];
    timespan_format(ca->app->function_timeout_ms, limit, sizeof limit);
    for (ch_call_t *c = ca->queue.head, *next; c; c = next) {
        next = c->next;
        if (c->deadline && now >= c->deadline) {
            ch__list_remove(&ca->queue, c);
            ca->timeouts++;
            snprintf(reason, sizeof reason, "timed out after %s (functionTimeout) waiting for "
                     "the custom handler to start or have room", limit);
            ch__call_fail(c, 504, reason);
        }
    }
    for (ch_proc_t *p = ca->procs; p; p = p->next) {
        int timed_out = 0;
        for (ch_call_t *c = p->inflight.head, *next; c; c = next) {
            next = c->next;
            if (c->deadline && now >= c->deadline) {
                ch__list_remove(&p->inflight, c);
                ca->running--;
                ca->timeouts++;
                timed_out |= !c->streaming;
                ch_fn_t *cf = c->inv->fn->runtime_data;
                if (cf && !c->streaming)
                    cf->solo_left = CH_SOLO_CALLS; /* slow: not pipelined for a while */
                if (c->streaming)
                    snprintf(reason, sizeof reason, "timed out after %s (functionTimeout) "
                             "while its answer was passed on; the answer is cut off", limit);
                else
                    snprintf(reason, sizeof reason, "timed out after %s (functionTimeout); the "
                             "custom handler (pid %d) did not answer", limit, p->pid);
                ch__call_fail(c, 504, reason);
            }
        }
        /* A handler that still answers GET / goes on (the function was
         * slow); one that does not (hung, stopped) is replaced. */
        if (timed_out)
            ch__proc_check(p, "did not answer an invocation within functionTimeout");
    }
    if (!ca->queue.n && !ca->running) {
        uv_timer_stop(&ca->sweep);
        ca->sweeping = 0;
    } else if (ca->queue.n) {
        ch__dispatch(ca); /* slots freed by timeouts */
    }
}

static void sweep_start(ch_app_t *ca)
{
    if (ca->sweeping || ca->app->function_timeout_ms <= 0 || ca->closing)
        return;
    ca->sweeping = 1;
    uv_timer_start(&ca->sweep, sweep_cb, CH_SWEEP_MS, CH_SWEEP_MS);
}

static void ensure_min(ch_app_t *ca)
{
    while ((int64_t)instances(ca) < min_instances(ca) && can_spawn(ca))
        if (!ch__proc_spawn(ca))
            break;
}

static void backoff_cb(uv_timer_t *t)
{
    ch_app_t *ca = t->data;
    ensure_min(ca);
    ch__dispatch(ca);
}

static void housekeeping_cb(uv_timer_t *t)
{
    ch_app_t *ca = t->data;
    uint64_t now = uv_now(ca->loop);
    size_t alive = instances(ca);
    for (ch_proc_t *p = ca->procs; p; p = p->next) {
        if (p->exited)
            continue;
        if (p->state == CH_STOPPING && p->stop_requested == 1 && now >= p->stop_deadline) {
            ch__proc_kill(p, "it did not stop within the grace period");
            continue;
        }
        uint64_t rss = p->pid ? telemetry_rss_bytes(p->pid) : 0;
        if (rss)
            p->rss_bytes = rss;
        if (ca->app->worker_memory_mb > 0 && p->state != CH_STOPPING) {
            long mb = rss ? (long)(rss >> 20) : -1;
            if (mb > ca->app->worker_memory_mb) {
                char reason[160];
                snprintf(reason, sizeof reason, "it exceeded the memory limit of %lld MB "
                         "(resident %ld MB; stratus.worker.memoryLimitMB)",
                         (long long)ca->app->worker_memory_mb, mb);
                ch__proc_kill(p, reason);
                continue;
            }
        }
        if (p->state == CH_READY && !p->inflight.n && (int64_t)alive > min_instances(ca) &&
            now - p->last_active >= (uint64_t)ca->app->scale_idle_timeout_ms) {
            log_write(LOG_INFO, "Host.Scale", NULL, "Custom handler %d (pid %d) idle for %llu "
                      "ms; stopping it (%zu instance(s) left)", p->seq, p->pid,
                      (unsigned long long)(now - p->last_active), alive - 1);
            ch__proc_stop(p, "idle");
            alive--;
        }
    }
    if (!ca->closing)
        ensure_min(ca);
}

/* ---- process events (from custom_proc.c) ---- */

void ch__proc_ready(ch_proc_t *p)
{
    ch_app_t *ca = p->ca;
    p->state = CH_READY;
    p->last_active = uv_now(ca->loop);
    if (p->was_ready) {
        log_write(LOG_INFO, "Host.CustomHandler", NULL, "Custom handler %d (pid %d) answers "
                  "again on port %d", p->seq, p->pid, p->port);
        ch__dispatch(ca);
        return;
    }
    p->was_ready = 1;
    double ms = (double)(uv_hrtime() - p->spawn_ns) / 1e6;
    ca->cold_starts++;
    telemetry_cold_start("custom", ms);
    p->rss_bytes = telemetry_rss_bytes(p->pid);
    ca->last_cold_start_ms = ms;
    ca->total_cold_start_ms += ms;
    ca->consecutive_crashes = 0;
    log_write(LOG_INFO, "Host.Scale", NULL, "Custom handler %d (pid %d) ready on port %d in "
              "%.1f ms (cold start); %zu instance(s)", p->seq, p->pid, p->port, ms,
              instances(ca));
    ch__dispatch(ca);
}

static void stop_app(ch_app_t *ca, const char *last)
{
    ca->stopped = 1;
    snprintf(ca->stop_reason, sizeof ca->stop_reason, "the custom handler of this app crashed "
             "%d times within 30 minutes (last: %.400s); Stratus stopped it: fix the handler and "
             "restart the host (stratus start reloads the app when the fix is saved)",
             CH_CRASH_LIMIT, last);
    log_write(LOG_CRITICAL, "Host.CustomHandler", NULL, "App '%s': %s. Only this app is "
              "stopped; the host goes on.", ca->app->root, ca->stop_reason);
    app_add_error(ca->app, NULL, "custom handler stopped: %s", ca->stop_reason);
    while (ca->queue.head) {
        ch_call_t *c = ca->queue.head;
        ch__list_remove(&ca->queue, c);
        c->inv->not_run = 1;
        ch__call_fail(c, 503, ca->stop_reason);
    }
    for (ch_proc_t *p = ca->procs; p; p = p->next)
        ch__proc_stop(p, "the app's custom handler is stopped");
}

/* The last process of ca let its fixed port go: another version of the
 * app waiting for it starts its handler. */
static void port_released(const ch_app_t *ca)
{
    int port = ca->app->custom_handler.port;
    for (ch_app_t *o = apps; port && o; o = o->next_app)
        if (o != ca && !o->closing && o->app->custom_handler.port == port) {
            ensure_min(o);
            ch__dispatch(o);
        }
}

void ch__proc_exited(ch_proc_t *p, int64_t status, int sig)
{
    ch_app_t *ca = p->ca;
    uint64_t now = uv_now(ca->loop);
    ca->nprocs--;
    if (!ca->nprocs && ca->closing)
        port_released(ca);
    p->state = CH_STOPPING;
    char how[120], why[400], reason[600];
    if (sig)
        snprintf(how, sizeof how, "killed by signal %d (%s)", sig, strsignal(sig));
    else
        snprintf(how, sizeof how, "exited with status %lld", (long long)status);
    int unexpected = !p->stop_requested || p->failed_start;
    /* Exit status 200 is how a handler asks Azure's host to restart it: a
     * new one starts at once and no crash is counted. Only for a handler
     * that had served: one that exits so before it answers GET / counts,
     * else it would restart in a loop. */
    int restart = unexpected && !sig && status == CH_RESTART_STATUS && p->was_ready &&
                  !p->reason[0] && !ca->trial;
    if (restart)
        snprintf(why, sizeof why, "custom handler %d (pid %d) exited to be restarted", p->seq,
                 p->pid);
    else if (p->reason[0])
        snprintf(why, sizeof why, "custom handler %d (pid %d) was stopped: %s", p->seq, p->pid,
                 p->reason);
    else
        snprintf(why, sizeof why, "custom handler %d (pid %d) %s", p->seq, p->pid,
                 unexpected ? (sig ? "crashed" : "exited unexpectedly") : "stopped");
    snprintf(reason, sizeof reason, "%s (%s)", why, how);
    if (restart)
        log_write(p->inflight.n ? LOG_WARN : LOG_INFO, "Host.CustomHandler", NULL,
                  "%s with %zu invocation(s) in flight; starting a new one (not counted as a "
                  "crash)", reason, p->inflight.n);
    else if (unexpected || p->inflight.n)
        log_write(LOG_ERROR, "Host.CustomHandler", NULL, "%s with %zu invocation(s) in flight",
                  reason, p->inflight.n);
    else
        log_write(LOG_DEBUG, "Host.CustomHandler", NULL, "%s", reason);
    /* A call not yet written to the process (dispatched in the same turn
     * of the loop as its end was seen) waits for the next one, first in
     * line as it was; the others fail. */
    ch_call_t *resend = NULL;
    while (p->inflight.head) {
        ch_call_t *c = p->inflight.head;
        ch__list_remove(&p->inflight, c);
        ca->running--;
        if (!c->up.maybe_sent && !c->finished && c->requeues < CH_MAX_REQUEUES &&
            !ca->closing && !ca->stopped) {
            upstream_detach(&c->up);
            c->requeues++;
            c->proc = NULL;
            c->next = resend; /* reversed: pushed to the front below */
            resend = c;
            continue;
        }
        ch__call_fail(c, 500, reason);
    }
    while (resend) {
        ch_call_t *c = resend;
        resend = c->next;
        ch__list_push_front(&ca->queue, c);
    }
    if (!unexpected || ca->closing) {
        if (!ca->closing && ca->queue.n)
            ch__dispatch(ca);
        return;
    }
    if (restart) {
        if (!ca->stopped) {
            ca->backoff_until = now; /* asked for: not held back by earlier crashes */
            uv_timer_start(&ca->backoff, backoff_cb, 0, 0);
        }
        return;
    }
    if (ca->trial) { /* a reloaded version that does not start: the reload is refused */
        snprintf(ca->last_crash, sizeof ca->last_crash, "%.230s", reason);
        ca->last_crash_ms = now;
        ca->trial_failed = 1;
        return;
    }
    ca->crashes++;
    ca->consecutive_crashes++;
    snprintf(ca->last_crash, sizeof ca->last_crash, "%.230s", reason);
    ca->last_crash_ms = now;
    /* The window: crashes of the last 30 minutes. */
    size_t k = 0;
    for (size_t i = 0; i < ca->ncrash; i++)
        if (now - ca->crash_ms[i] < CH_CRASH_WINDOW_MS)
            ca->crash_ms[k++] = ca->crash_ms[i];
    ca->ncrash = k;
    if (ca->ncrash == CH_CRASH_LIMIT) {
        memmove(ca->crash_ms, ca->crash_ms + 1, (CH_CRASH_LIMIT - 1) * sizeof *ca->crash_ms);
        ca->ncrash--;
    }
    ca->crash_ms[ca->ncrash++] = now;
    if (ca->ncrash >= CH_CRASH_LIMIT) {
        if (!ca->stopped)
            stop_app(ca, reason);
        return;
    }
    if (ca->stopped)
        return;
    uint64_t delay = 0;
    if (ca->consecutive_crashes > 1) {
        unsigned shift = ca->consecutive_crashes - 2 > 12 ? 12 : ca->consecutive_crashes - 2;
        delay = (uint64_t)CH_BACKOFF_MIN_MS << shift;
        if (delay > CH_BACKOFF_MAX_MS)
            delay = CH_BACKOFF_MAX_MS;
    }
    ca->backoff_until = now + delay;
    log_write(LOG_WARN, "Host.CustomHandler", NULL, "Restarting the custom handler%s%llu ms "
              "(%zu crash(es) in the last 30 minutes; %d stop the app)",
              delay ? " in " : " now, after ", (unsigned long long)delay, ca->ncrash,
              CH_CRASH_LIMIT);
    uv_timer_start(&ca->backoff, backoff_cb, delay, 0);
}

/* ---- the runtime ---- */

static int is_file(const char *path, struct stat *st)
{
    return stat(path, st) == 0 && S_ISREG(st->st_mode);
}

/* The handler's executable as an absolute path: a relative one that exists
 * under the working directory (or the app root) is taken from there, a bare
 * name otherwise from PATH. 0, or -1 with err naming host.json. */
static int resolve_executable(ch_app_t *ca, char *err, size_t errlen)
{
    const app_t *app = ca->app;
    const custom_handler_conf_t *c = &app->custom_handler;
    char field[128];
    snprintf(field, sizeof field, "%s.description.defaultExecutablePath", c->section);
    if (!c->present) {
        snprintf(err, errlen, "host.json: FUNCTIONS_WORKER_RUNTIME is 'custom' but host.json "
                 "has no 'customHandler' section (with description.defaultExecutablePath: the "
                 "program that starts the handler's web server)");
        return -1;
    }
    if (!c->executable) {
        snprintf(err, errlen, "host.json: field '%s' is required: the program that starts the "
                 "custom handler's web server (e.g. \"handler\" or \"node\")", field);
        return -1;
    }
    struct stat st;
    if (stat(c->working_dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        snprintf(err, errlen, "host.json: field '%s.description.workingDirectory': '%s' is not "
                 "a folder", c->section, c->working_dir);
        return -1;
    }
    const char *exe = c->executable;
    char *found = NULL;
    if (exe[0] == '/') {
        if (is_file(exe, &st))
            found = strdup(exe);
    } else {
        const char *bases[] = {c->working_dir, app->root};
        for (size_t i = 0; i < 2 && !found; i++) {
            size_t n = strlen(bases[i]) + strlen(exe) + 2;
            char *cand = malloc(n);
            if (!cand)
                break;
            snprintf(cand, n, "%s/%s", bases[i], exe);
            if (is_file(cand, &st))
                found = cand;
            else
                free(cand);
        }
        const char *path = app_setting(app, "PATH");
        if (!found && !strchr(exe, '/') && path) {
            for (const char *d = path; *d && !found;) {
                const char *colon = strchr(d, ':');
                size_t dl = colon ? (size_t)(colon - d) : strlen(d);
                if (dl) {
                    size_t n = dl + strlen(exe) + 2;
                    char *cand = malloc(n);
                    if (!cand)
                        break;
                    snprintf(cand, n, "%.*s/%s", (int)dl, d, exe);
                    if (is_file(cand, &st) && access(cand, X_OK) == 0)
                        found = cand;
                    else
                        free(cand);
                }
                d += dl + (colon ? 1 : 0);
            }
        }
    }
    if (!found) {
        snprintf(err, errlen, "host.json: field '%s': '%s' not found (looked in %s%s%s%s)",
                 field, exe, exe[0] == '/' ? "that path" : c->working_dir,
                 exe[0] != '/' && strcmp(c->working_dir, app->root) ? ", " : "",
                 exe[0] != '/' && strcmp(c->working_dir, app->root) ? app->root : "",
                 exe[0] != '/' && !strchr(exe, '/') ? " and on PATH" : "");
        return -1;
    }
    if (access(found, X_OK) != 0) {
        snprintf(err, errlen, "host.json: field '%s': '%s' is not executable (%s; chmod +x "
                 "it)", field, found, strerror(errno));
        free(found);
        return -1;
    }
    ca->handler = found;
    return 0;
}

static int ch_app_start(app_t *app, uv_loop_t *loop, char *err, size_t errlen)
{
    ch_app_t *ca = calloc(1, sizeof *ca);
    if (!ca) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    ca->loop = loop;
    ca->app = app;
    if (resolve_executable(ca, err, errlen) != 0) {
        free(ca);
        return -1;
    }
    size_t len = sizeof ca->exe;
    if (child_self_exe(ca->exe, &len) != 0)
        snprintf(ca->exe, sizeof ca->exe, "/proc/self/exe");
    uv_timer_init(loop, &ca->sweep);
    uv_timer_init(loop, &ca->housekeeping);
    uv_timer_init(loop, &ca->backoff);
    ca->sweep.data = ca->housekeeping.data = ca->backoff.data = ca;
    uv_unref((uv_handle_t *)&ca->sweep);
    uv_unref((uv_handle_t *)&ca->backoff);
    ca->handles_open = 3;
    app->runtime_state = ca;
    ca->next_app = apps;
    apps = ca;
    return 0;
}

static int ch_load(app_t *app, function_t *fn, char *err, size_t errlen)
{
    ch_fn_t *cf = calloc(1, sizeof *cf);
    if (!cf) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    size_t http_out = 0, others = 0;
    for (size_t i = 0; i < fn->nbindings; i++) {
        const binding_t *b = &fn->bindings[i];
        if (b == fn->trigger)
            continue;
        if (!strcasecmp(b->type, "http") && b->direction == BINDING_OUT) {
            http_out++;
            if (!strcmp(b->name, "$return"))
                cf->http_return = 1;
            else if (!cf->http_out)
                cf->http_out = b->name;
        } else {
            others++;
        }
    }
    /* The legacy httpWorker section forwards every HTTP-only function, to
     * /{function}, as Azure's host still does for it; customHandler only
     * with enableForwardingHttpRequest, to the request's own path. */
    int legacy = !strcmp(app->custom_handler.section, "httpWorker");
    cf->forward = (app->custom_handler.forward_http || legacy) && fn->http && http_out == 1 &&
                  !others;
    cf->forward_to_name = cf->forward && legacy;
    cf->binary_body = fn->trigger && fn->trigger->data_type &&
                      !strcasecmp(fn->trigger->data_type, "binary");
    fn->runtime_data = cf;
    return 0;
}

static void ch_unload(function_t *fn)
{
    free(fn->runtime_data);
    fn->runtime_data = NULL;
}

static void trial_timeout_cb(uv_timer_t *t) { *(int *)t->data = 1; }

static int any_ready(const ch_app_t *ca)
{
    for (const ch_proc_t *p = ca->procs; p; p = p->next)
        if (!p->exited && p->state == CH_READY)
            return 1;
    return 0;
}

/* A reload: wait until the new version's handler answers (it serves only
 * then), or fails to start -- exits, or does not answer within its
 * startupTimeout -- which refuses the reload while the previous version's
 * handler goes on serving. 0, or -1 with err saying why. */
static int wait_started(ch_app_t *ca, char *err, size_t errlen)
{
    int timed_out = 0;
    uv_timer_t t;
    uv_timer_init(ca->loop, &t);
    t.data = &timed_out;
    /* the readiness deadline kills a handler that does not answer in time:
     * this guard only bounds the wait */
    uv_timer_start(&t, trial_timeout_cb, (uint64_t)ca->app->custom_handler.startup_timeout_ms +
                                             5000, 0);
    ca->trial = 1;
    while (!any_ready(ca) && !ca->trial_failed && !timed_out && !ca->closing &&
           !runtime_host_stopping())
        uv_run(ca->loop, UV_RUN_ONCE);
    ca->trial = 0;
    uv_close((uv_handle_t *)&t, NULL);
    uv_run(ca->loop, UV_RUN_NOWAIT);
    if (any_ready(ca))
        return 0;
    if (ca->trial_failed)
        snprintf(err, errlen, "the custom handler did not start: %s; its output is in the log "
                 "above", ca->last_crash);
    else
        snprintf(err, errlen, "the custom handler did not answer on its port within %lld ms "
                 "(stratus.customHandler.startupTimeout)",
                 (long long)ca->app->custom_handler.startup_timeout_ms);
    return -1;
}

static int ch_ready(app_t *app, uv_loop_t *loop, char *err, size_t errlen)
{
    ch_app_t *ca = app->runtime_state;
    (void)loop;
    size_t forwarded = 0;
    for (size_t i = 0; i < app->nfunctions; i++) {
        const ch_fn_t *cf = app->functions[i]->runtime_data;
        forwarded += cf && cf->forward;
    }
    const custom_handler_conf_t *conf = &app->custom_handler;
    buf_t cmd;
    buf_init(&cmd, 2048);
    buf_puts(&cmd, ca->handler);
    for (size_t i = 0; i < conf->narguments; i++) {
        buf_putc(&cmd, ' ');
        buf_puts(&cmd, conf->arguments[i]);
    }
    if (conf->worker_path) {
        buf_putc(&cmd, ' ');
        buf_puts(&cmd, conf->worker_path);
    }
    for (size_t i = 0; i < conf->nworker_arguments; i++) {
        buf_putc(&cmd, ' ');
        buf_puts(&cmd, conf->worker_arguments[i]);
    }
    int legacy = !strcmp(conf->section, "httpWorker");
    log_write(LOG_INFO, "Host.CustomHandler", NULL, "Custom handler (host.json %s): %s, in %s; "
              "%zu of %zu function(s) forwarded as-is (%s), the others called with POST "
              "/{function}", conf->section, cmd.p ? cmd.p : "", conf->working_dir, forwarded,
              app->nfunctions, legacy ? "httpWorker: every HTTP-only function, to /{function}"
              : conf->forward_http ? "enableForwardingHttpRequest true"
                                   : "enableForwardingHttpRequest false");
    buf_free(&cmd);
    uv_timer_start(&ca->housekeeping, housekeeping_cb, CH_HOUSEKEEPING_MS, CH_HOUSEKEEPING_MS);
    uv_unref((uv_handle_t *)&ca->housekeeping);
    if (port_held_by_other(ca)) {
        /* A reload with a fixed port: this version takes over at once, and
         * its handler starts when the previous one has let the port go
         * (ch__proc_exited); requests wait for it meanwhile. */
        log_write(LOG_INFO, "Host.CustomHandler", NULL, "customHandler.port %d: the new "
                  "version's custom handler starts once the running one has finished its "
                  "requests and stopped", conf->port);
        return 0;
    }
    if (!ch__proc_spawn(ca)) {
        snprintf(err, errlen, "cannot start the custom handler %s (see the log above)",
                 ca->handler);
        return -1;
    }
    ensure_min(ca);
    if (app->reload)
        return wait_started(ca, err, errlen);
    return 0;
}

static void ch_invoke(invocation_t *inv, invocation_done_fn done, void *data)
{
    submit(inv->app->runtime_state, inv, done, data);
}

static json_t *ch_scale_status(app_t *app)
{
    ch_app_t *ca = app->runtime_state;
    if (!ca)
        return NULL;
    json_t *workers = json_array();
    size_t busy = 0, idle = 0, starting = 0;
    uint64_t now = uv_now(ca->loop);
    for (const ch_proc_t *p = ca->procs; p; p = p->next) {
        if (p->exited)
            continue;
        const char *state = p->state == CH_STARTING   ? "starting"
                            : p->state == CH_STOPPING ? "stopping"
                            : p->inflight.n           ? "busy"
                                                      : "idle";
        if (p->state == CH_STARTING)
            starting++;
        else if (p->state == CH_READY)
            p->inflight.n ? busy++ : idle++;
        json_array_append_new(
            workers, json_pack("{s:i, s:i, s:i, s:s, s:I, s:I, s:I}", "id", p->seq, "pid",
                               p->pid, "port", p->port, "state", state, "inFlight",
                               (json_int_t)p->inflight.n, "invocations",
                               (json_int_t)p->invocations, "idleMs",
                               (json_int_t)(p->inflight.n ? 0 : now - p->last_active)));
    }
    json_t *st = json_pack(
        "{s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:f, s:f, "
        "s:I, s:I, s:o}",
        "runtime", "custom", "mode", "isolated", "state", ca->stopped ? "stopped" : "running",
        "handler", ca->handler, "minInstances", (json_int_t)min_instances(ca), "maxInstances",
        (json_int_t)app->scale_max_instances, "perInstanceConcurrency",
        (json_int_t)app->scale_concurrency, "idleTimeoutMs",
        (json_int_t)app->scale_idle_timeout_ms, "instances", (json_int_t)instances(ca), "busy",
        (json_int_t)busy, "idle", (json_int_t)idle, "starting", (json_int_t)starting,
        "queueLength", (json_int_t)ca->queue.n, "inFlight", (json_int_t)ca->running,
        "coldStarts", (json_int_t)ca->cold_starts, "lastColdStartMs", ca->last_cold_start_ms,
        "averageColdStartMs",
        ca->cold_starts ? ca->total_cold_start_ms / (double)ca->cold_starts : 0.0, "rejected",
        (json_int_t)ca->rejected, "timeouts", (json_int_t)ca->timeouts, "workers", workers);
    return st;
}

static json_t *ch_health(app_t *app)
{
    ch_app_t *ca = app->runtime_state;
    if (!ca)
        return NULL;
    uint64_t now = uv_now(ca->loop);
    size_t recent = 0;
    for (size_t i = 0; i < ca->ncrash; i++)
        recent += now - ca->crash_ms[i] < CH_CRASH_WINDOW_MS;
    return json_pack("{s:s, s:s?, s:s, s:I, s:I, s:I, s:s?, s:I, s:I}", "customHandler",
                     ca->stopped ? "stopped" : "running", "stoppedReason",
                     ca->stopped ? ca->stop_reason : NULL, "handler", ca->handler, "crashes",
                     (json_int_t)ca->crashes, "crashesInWindow", (json_int_t)recent,
                     "consecutiveCrashes", (json_int_t)ca->consecutive_crashes, "lastCrash",
                     ca->last_crash[0] ? ca->last_crash : NULL, "lastCrashAgoMs",
                     ca->last_crash[0] ? (json_int_t)(now - ca->last_crash_ms) : (json_int_t)0,
                     "restartDelayMs",
                     (json_int_t)(ca->backoff_until > now ? ca->backoff_until - now : 0));
}

static void timer_closed(uv_handle_t *h)
{
    ch_app_t *ca = h->data;
    if (--ca->handles_open == 0 && ca->close_cb) {
        void (*cb)(void *) = ca->close_cb;
        ca->close_cb = NULL;
        cb(ca->close_data);
    }
}

void ch__maybe_finish(ch_app_t *ca)
{
    if (!ca->closing || ca->procs)
        return;
    if (!uv_is_closing((uv_handle_t *)&ca->sweep)) {
        uv_close((uv_handle_t *)&ca->sweep, timer_closed);
        uv_close((uv_handle_t *)&ca->housekeeping, timer_closed);
        uv_close((uv_handle_t *)&ca->backoff, timer_closed);
    }
}

static void ch_app_stop(app_t *app, void (*cb)(void *data), void *data)
{
    ch_app_t *ca = app->runtime_state;
    if (!ca) {
        cb(data);
        return;
    }
    ca->closing = 1;
    ca->close_cb = cb;
    ca->close_data = data;
    while (ca->queue.head) {
        ch_call_t *c = ca->queue.head;
        ch__list_remove(&ca->queue, c);
        ch__call_fail(c, 503, "the host is stopping");
    }
    uv_timer_stop(&ca->backoff);
    for (ch_proc_t *p = ca->procs; p; p = p->next)
        ch__proc_stop(p, "the host is stopping");
    /* The housekeeping timer now keeps the loop alive and kills stragglers. */
    uv_ref((uv_handle_t *)&ca->housekeeping);
    if (!uv_is_active((uv_handle_t *)&ca->housekeeping))
        uv_timer_start(&ca->housekeeping, housekeeping_cb, CH_HOUSEKEEPING_MS,
                       CH_HOUSEKEEPING_MS);
    ch__maybe_finish(ca);
}

/* An answer is an event stream when the handler said so. */
static int is_event_stream(const invocation_t *inv)
{
    for (size_t i = 0; i < inv->nres_headers; i++)
        if (sv_ieq_cstr(inv->res_headers[i].name, "Content-Type"))
            return sv_istarts(inv->res_headers[i].value, SV_LIT("text/event-stream"));
    return 0;
}

static void ch_app_retire(app_t *app)
{
    ch_app_t *ca = app->runtime_state;
    if (!ca)
        return;
    size_t ended = 0;
    for (ch_proc_t *p = ca->procs; p; p = p->next) {
        for (ch_call_t *c = p->inflight.head, *next; c; c = next) {
            next = c->next;
            if (!c->streaming || c->finished || !is_event_stream(c->inv))
                continue;
            call_leave(c);
            c->finished = 1;
            upstream_detach(&c->up); /* the handler sees its request end */
            c->done(c->inv, 1, NULL, c->data); /* ends the answer; may free c */
            ended++;
        }
    }
    if (ended)
        log_write(LOG_INFO, "Host.CustomHandler", NULL, "Ended %zu event stream(s) of the app "
                  "version being replaced or stopped; their clients reconnect", ended);
}

static void ch_app_free(app_t *app)
{
    ch_app_t *ca = app->runtime_state;
    if (!ca)
        return;
    for (ch_app_t **at = &apps; *at; at = &(*at)->next_app)
        if (*at == ca) {
            *at = ca->next_app;
            break;
        }
    free(ca->handler);
    free(ca);
    app->runtime_state = NULL;
}

const runtime_t runtime_custom = {
    .version = RUNTIME_VERSION,
    .name = "custom",
    .app_start = ch_app_start,
    .load = ch_load,
    .ready = ch_ready,
    .invoke = ch_invoke,
    .scale_status = ch_scale_status,
    .health = ch_health,
    .unload = ch_unload,
    .app_stop = ch_app_stop,
    .app_free = ch_app_free,
    .app_retire = ch_app_retire,
};
