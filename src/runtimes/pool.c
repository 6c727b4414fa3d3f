/*
 * pool.c -- worker processes and the scale controller (see pool.h).
 *
 * An invocation becomes a pool_call_t (in the invocation's arena). A call
 * is queued, then sent to a worker (moved to that worker's in-flight list),
 * then completed by the worker's result frame, a timeout, or the worker's
 * death. A worker is STARTING (spawned; load sent) -> READY (functions
 * loaded) -> STOPPING (asked to stop, or killed) -> gone after its exit and
 * the close of its four handles (process, channel, stdout, stderr).
 */
#include "pool.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "../telemetry/log.h"
#include "../util/buf.h"
#include "../util/jsontok.h"
#include "frame.h"

#define POOL_QUEUE_MAX 10000
#define SWEEP_MS 50
#define HOUSEKEEPING_MS 500
#define STOP_GRACE_MS 3000
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 30000
#define READ_SIZE (256 * 1024)
#define LINE_MAX_BYTES (16 * 1024)
#define WBUF_MAX ((size_t)1 << 34)
#define RESULT_MAX_TOKENS 512

/* A placeholder is a started worker that has not loaded the app yet: the
 * next scale-up specialises it (sends the load) instead of starting a
 * process, which removes process start-up from cold starts. */
typedef enum { W_PLACEHOLDER, W_STARTING, W_READY, W_STOPPING } worker_state_t;

typedef struct worker worker_t;

typedef struct pool_call {
    struct pool_call *prev, *next;
    invocation_t *inv;
    invocation_done_fn done;
    void *data;
    uint64_t id;
    uint64_t deadline; /* uv_now() ms; 0 = none */
    worker_t *worker;
} pool_call_t;

typedef struct call_list {
    pool_call_t *head, *tail;
    size_t n;
} call_list_t;

typedef struct out_pipe {
    uv_pipe_t pipe;
    worker_t *w;
    int is_err;
    buf_t line;
} out_pipe_t;

struct worker {
    pool_t *pool;
    worker_t *prev, *next;
    uv_process_t proc;
    uv_pipe_t chan;
    out_pipe_t out, err;
    int open_handles;
    int pid;
    int seq;
    worker_state_t state;
    int exited;
    int stop_requested; /* shut down or killed on purpose */
    int via_fs;         /* forked by the fork server (no process handle here) */
    int kill_pending;   /* killed before the fork server told us its pid */
    char reason[160];   /* why it was killed */
    frame_decoder_t dec;
    buf_t wbuf;
    char *wbase;
    uv_write_t wreq;
    int writing;
    int dirty;
    call_list_t inflight;
    /* A sequential worker (hello concurrency 1, as native workers are) runs
     * one invocation at a time, so new invokes wait here until it has
     * answered those it has: it then gets them as one batch, with one
     * wake-up, instead of one wake-up per host loop turn. */
    int sequential;
    size_t queued_invokes; /* in wbuf, not yet written */
    size_t outstanding;    /* written, not yet answered */
    int urgent;            /* a control frame (cancel) is queued: never held */
    uint64_t invocations;
    uint64_t spawn_ns;
    uint64_t last_active;  /* uv_now() ms */
    uint64_t stop_deadline;
};

typedef struct load_error {
    char *function;
    char *message;
} load_error_t;

struct pool {
    uv_loop_t *loop;
    app_t *app;
    char exe[4096];
    worker_t *workers;
    size_t nworkers;   /* alive (not yet exited), placeholders included */
    worker_t *placeholder; /* the pre-started generic worker, or NULL */
    uv_timer_t prewarm;
    /* the fork server (forkserver.c): forks workers without an exec */
    uv_process_t fs_proc;
    uv_pipe_t fs_ctl;
    int fs_up, fs_started, fs_exited, fs_closing;
    buf_t fs_line;
    int next_seq;
    call_list_t queue;
    size_t running;    /* calls in flight on workers */
    uint64_t next_id;
    uv_check_t flush;
    uv_timer_t sweep;
    uv_timer_t housekeeping;
    uv_timer_t backoff;
    int sweeping;
    int closing;
    int handles_closing;
    int handles_open;
    void (*close_cb)(void *);
    void *close_data;
    char *rbuf;
    int rbuf_busy;
    /* figures */
    uint64_t cold_starts;
    double last_cold_start_ms;
    double total_cold_start_ms;
    uint64_t crashes;
    unsigned consecutive_crashes;
    uint64_t backoff_until;
    char last_crash[200];
    uint64_t last_crash_ms;
    uint64_t rejected;
    uint64_t timeouts;
    /* first load */
    int loaded;
    char start_error[256];
    load_error_t *load_errors;
    size_t nload_errors;
};

static void worker_kill(worker_t *w, const char *reason);
static void pool_dispatch(pool_t *p);
static size_t instances(const pool_t *p);
static void mark_dirty(worker_t *w);

/* ---- call lists ---- */

static void list_push(call_list_t *l, pool_call_t *c)
{
    c->next = NULL;
    c->prev = l->tail;
    if (l->tail)
        l->tail->next = c;
    else
        l->head = c;
    l->tail = c;
    l->n++;
}

static void list_remove(call_list_t *l, pool_call_t *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else
        l->head = c->next;
    if (c->next)
        c->next->prev = c->prev;
    else
        l->tail = c->prev;
    c->prev = c->next = NULL;
    l->n--;
}

static void call_fail(pool_call_t *c, int status, const char *reason)
{
    c->inv->fail_status = status;
    c->done(c->inv, 0, reason, c->data);
}

/* ---- output ---- */

static void on_write(uv_write_t *req, int status)
{
    worker_t *w = req->data;
    free(w->wbase);
    w->wbase = NULL;
    w->writing = 0;
    if (status < 0) {
        if (w->state != W_STOPPING)
            worker_kill(w, "its channel failed");
        return;
    }
    if (w->wbuf.len)
        mark_dirty(w);
}

static void worker_flush(worker_t *w)
{
    if (w->sequential && w->outstanding && !w->stop_requested && !w->urgent)
        return; /* stays dirty: flushed once the worker has answered */
    w->dirty = 0;
    w->urgent = 0;
    if (w->writing || !w->wbuf.len || w->exited)
        return;
    w->outstanding += w->queued_invokes;
    w->queued_invokes = 0;
    uv_buf_t b = uv_buf_init(w->wbuf.p, (unsigned)w->wbuf.len);
    int n = uv_try_write((uv_stream_t *)&w->chan, &b, 1);
    if (n == (int)w->wbuf.len) {
        buf_reset(&w->wbuf);
        return;
    }
    if (n < 0 && n != UV_EAGAIN) {
        worker_kill(w, "its channel failed");
        return;
    }
    size_t done = n > 0 ? (size_t)n : 0, total = w->wbuf.len;
    w->wbase = buf_steal(&w->wbuf);
    buf_init(&w->wbuf, WBUF_MAX);
    uv_buf_t rest = uv_buf_init(w->wbase + done, (unsigned)(total - done));
    w->wreq.data = w;
    if (uv_write(&w->wreq, (uv_stream_t *)&w->chan, &rest, 1, on_write) != 0) {
        free(w->wbase);
        w->wbase = NULL;
        worker_kill(w, "its channel failed");
        return;
    }
    w->writing = 1;
}

static void mark_dirty(worker_t *w) { w->dirty = 1; }

static void flush_cb(uv_check_t *h)
{
    pool_t *p = h->data;
    for (worker_t *w = p->workers; w; w = w->next)
        if (w->dirty)
            worker_flush(w);
}

/* ---- sending ---- */

static void send_load(worker_t *w)
{
    app_t *app = w->pool->app;
    buf_t m;
    buf_init(&m, FRAME_MAX_META);
    buf_lit(&m, "{\"appRoot\":\"");
    buf_json_escape(&m, app->root, strlen(app->root));
    buf_lit(&m, "\",\"settings\":{");
    for (size_t i = 0; i < app->nsettings; i++) {
        buf_puts(&m, i ? ",\"" : "\"");
        buf_json_escape(&m, app->settings[i].name, strlen(app->settings[i].name));
        buf_lit(&m, "\":\"");
        buf_json_escape(&m, app->settings[i].value, strlen(app->settings[i].value));
        buf_lit(&m, "\"");
    }
    buf_lit(&m, "},\"functions\":[");
    for (size_t i = 0; i < app->nfunctions; i++) {
        function_t *fn = app->functions[i];
        buf_puts(&m, i ? ",{\"name\":\"" : "{\"name\":\"");
        buf_json_escape(&m, fn->name, strlen(fn->name));
        buf_lit(&m, "\",\"directory\":\"");
        buf_json_escape(&m, fn->dir, strlen(fn->dir));
        buf_lit(&m, "\",\"scriptFile\":\"");
        buf_json_escape(&m, fn->script_file, strlen(fn->script_file));
        buf_lit(&m, "\",\"bindings\":[");
        for (size_t b = 0; b < fn->nbindings; b++) {
            const binding_t *bd = &fn->bindings[b];
            static const char *dirs[] = {"", "in", "out", "inout"};
            buf_puts(&m, b ? ",{\"type\":\"" : "{\"type\":\"");
            buf_json_escape(&m, bd->type, strlen(bd->type));
            buf_lit(&m, "\",\"direction\":\"");
            buf_puts(&m, dirs[bd->direction & 3]);
            buf_lit(&m, "\",\"name\":\"");
            buf_json_escape(&m, bd->name, strlen(bd->name));
            buf_lit(&m, "\"");
            if (bd->data_type) {
                buf_lit(&m, ",\"dataType\":\"");
                buf_json_escape(&m, bd->data_type, strlen(bd->data_type));
                buf_lit(&m, "\"");
            }
            if (bd->connection) {
                buf_lit(&m, ",\"connection\":\"");
                buf_json_escape(&m, bd->connection, strlen(bd->connection));
                buf_lit(&m, "\"");
            }
            buf_lit(&m, "}");
        }
        buf_lit(&m, "]");
        if (fn->entry_point) {
            buf_lit(&m, ",\"entryPoint\":\"");
            buf_json_escape(&m, fn->entry_point, strlen(fn->entry_point));
            buf_lit(&m, "\"");
        }
        buf_lit(&m, "}");
    }
    buf_lit(&m, "]}");
    char ready[160];
    int n = snprintf(ready, sizeof ready,
                     "{\"protocol\":%d,\"workerId\":%d,\"concurrency\":%lld,\"maxMeta\":%u,"
                     "\"maxBody\":%u}",
                     FRAME_PROTOCOL_VERSION, w->seq, (long long)app->scale_concurrency,
                     FRAME_MAX_META, FRAME_MAX_BODY);
    frame_encode(&w->wbuf, FRAME_READY, 0, ready, (size_t)n, NULL, 0);
    frame_encode(&w->wbuf, FRAME_LOAD, 0, m.p, m.len, NULL, 0);
    buf_free(&m);
    mark_dirty(w);
}

static void json_pair(buf_t *m, sv_t a, sv_t b)
{
    buf_lit(m, "[\"");
    buf_json_escape(m, a.p, a.n);
    buf_lit(m, "\",");
    if (b.p) {
        buf_lit(m, "\"");
        buf_json_escape(m, b.p, b.n);
        buf_lit(m, "\"]");
    } else {
        buf_lit(m, "null]");
    }
}

static void send_invoke(worker_t *w, pool_call_t *c)
{
    pool_t *p = w->pool;
    invocation_t *inv = c->inv;
    /* Encoded straight into the worker's output: header first (patched
     * once the lengths are known), then the metadata, then the body. */
    buf_t *out = &w->wbuf;
    size_t frame_start = out->len;
    static const uint8_t blank[FRAME_HEADER_SIZE];
    buf_append(out, blank, sizeof blank);
    size_t meta_start = out->len;
    buf_lit(out, "{\"function\":\"");
    buf_json_escape(out, inv->fn->name, strlen(inv->fn->name));
    buf_lit(out, "\",\"invocationId\":\"");
    buf_puts(out, inv->id);
    buf_putc(out, '"');
    if (c->deadline) {
        uint64_t now = uv_now(p->loop);
        buf_lit(out, ",\"deadlineMs\":");
        buf_put_uint(out, c->deadline > now ? c->deadline - now : 0);
    }
    http_request_t *r = inv->req;
    if (r) {
        buf_lit(out, ",\"http\":{\"method\":\"");
        buf_puts(out, r->method_name);
        sv_t host = http_request_header(r, "Host");
        buf_lit(out, "\",\"url\":\"");
        if (host.p && r->target.n && r->target.p[0] == '/') {
            buf_lit(out, "http://");
            buf_json_escape(out, host.p, host.n);
        }
        buf_json_escape(out, r->target.p, r->target.n);
        buf_lit(out, "\",\"path\":\"");
        buf_json_escape(out, r->path.p, r->path.n);
        buf_lit(out, "\",\"query\":\"");
        buf_json_escape(out, r->query.p, r->query.n);
        buf_lit(out, "\",\"headers\":[");
        for (size_t i = 0; i < r->nheaders; i++) {
            if (i)
                buf_putc(out, ',');
            json_pair(out, r->headers[i].name, r->headers[i].value);
        }
        buf_lit(out, "],\"params\":{");
        for (size_t i = 0; inv->params && i < inv->params->n; i++) {
            route_param_t *rp = &inv->params->v[i];
            buf_puts(out, i ? ",\"" : "\"");
            buf_json_escape(out, rp->name.p, rp->name.n);
            buf_lit(out, "\":");
            if (rp->value.p) {
                buf_putc(out, '"');
                buf_json_escape(out, rp->value.p, rp->value.n);
                buf_putc(out, '"');
            } else {
                buf_lit(out, "null");
            }
        }
        buf_lit(out, "}}");
    }
    buf_lit(out, "}");
    size_t meta_len = out->len - meta_start;
    if (meta_len > FRAME_MAX_META || inv->trigger_len > FRAME_MAX_BODY ||
        buf_append(out, inv->trigger_data, inv->trigger_len) != 0) {
        out->len = frame_start; /* drop the partial frame */
        out->p[frame_start] = '\0';
        call_fail(c, 500, "the request is too large for the worker protocol");
        return;
    }
    frame_header_pack((uint8_t *)out->p + frame_start, FRAME_INVOKE, c->id, (uint32_t)meta_len,
                      (uint32_t)inv->trigger_len);
    w->queued_invokes++;
    c->worker = w;
    list_push(&w->inflight, c);
    p->running++;
    w->last_active = uv_now(p->loop);
    mark_dirty(w);
}

/* ---- receiving ---- */

static pool_call_t *find_call(worker_t *w, uint64_t id)
{
    for (pool_call_t *c = w->inflight.head; c; c = c->next)
        if (c->id == id)
            return c;
    return NULL;
}

static void record_load_errors(pool_t *p, json_t *meta)
{
    size_t i;
    json_t *item;
    json_array_foreach(json_object_get(meta, "functions"), i, item) {
        if (json_is_true(json_object_get(item, "ok")))
            continue;
        const char *name = json_string_value(json_object_get(item, "name"));
        const char *error = json_string_value(json_object_get(item, "error"));
        if (!name)
            continue;
        load_error_t *grown = realloc(p->load_errors, (p->nload_errors + 1) * sizeof *grown);
        if (!grown)
            return;
        p->load_errors = grown;
        p->load_errors[p->nload_errors].function = strdup(name);
        p->load_errors[p->nload_errors].message = strdup(error ? error : "could not be loaded");
        p->nload_errors++;
    }
}

static void on_loaded(worker_t *w, const frame_t *f)
{
    pool_t *p = w->pool;
    char err[200];
    json_t *meta = frame_meta_json(f, err, sizeof err);
    if (!meta) {
        worker_kill(w, "it sent a malformed loaded frame");
        return;
    }
    if (!p->loaded)
        record_load_errors(p, meta);
    json_decref(meta);
    p->loaded = 1;
    w->state = W_READY;
    double ms = (double)(uv_hrtime() - w->spawn_ns) / 1e6;
    p->cold_starts++;
    p->last_cold_start_ms = ms;
    p->total_cold_start_ms += ms;
    log_write(LOG_INFO, "Host.Scale", NULL, "Worker %d (pid %d) ready in %.2f ms (cold start); "
              "%zu instance(s)", w->seq, w->pid, ms, instances(p));
    pool_dispatch(p);
}

static void on_result(worker_t *w, const frame_t *f)
{
    pool_t *p = w->pool;
    if (w->outstanding && --w->outstanding == 0 && w->wbuf.len)
        mark_dirty(w);
    pool_call_t *c = find_call(w, f->id);
    if (!c)
        return; /* already failed (timeout); the late answer is dropped */
    list_remove(&w->inflight, c);
    p->running--;
    w->invocations++;
    w->last_active = uv_now(p->loop);
    invocation_t *inv = c->inv;
    jsmntok_t tok[RESULT_MAX_TOKENS];
    jt_doc_t d;
    if (jt_parse(&d, f->meta.p, f->meta.n, tok, RESULT_MAX_TOKENS) != 0) {
        call_fail(c, 500, "the worker sent a malformed result");
        worker_kill(w, "it sent a malformed result frame");
        return;
    }
    p->consecutive_crashes = 0;
    if (!jt_is_true(&d, jt_get(&d, 0, "ok"))) {
        sv_t e;
        if (jt_string(&d, jt_get(&d, 0, "error"), inv->arena, &e) != 0)
            e = SV_LIT("failed");
        char *reason = arena_strndup(inv->arena, e.p, e.n);
        c->done(inv, 0, reason ? reason : "failed", c->data);
        return;
    }
    long long status = 200;
    jt_int(&d, jt_get(&d, 0, "status"), &status);
    inv->status = status >= 200 && status <= 599 ? (int)status : 200;
    int hs = jt_get(&d, 0, "headers");
    int n = hs >= 0 && d.tok[hs].type == JSMN_ARRAY ? d.tok[hs].size : 0;
    for (int k = 0, j = hs + 1; k < n; k++, j = jt_skip(&d, j)) {
        sv_t hn, hv;
        if (d.tok[j].type != JSMN_ARRAY || d.tok[j].size != 2 ||
            jt_string(&d, j + 1, inv->arena, &hn) != 0 ||
            jt_string(&d, j + 2, inv->arena, &hv) != 0)
            continue;
        /* A worker must not be able to split the response. */
        if (!hn.n || memchr(hn.p, '\0', hn.n) || memchr(hv.p, '\0', hv.n) ||
            memchr(hn.p, '\r', hn.n) || memchr(hn.p, '\n', hn.n) || memchr(hn.p, ':', hn.n) ||
            memchr(hv.p, '\r', hv.n) || memchr(hv.p, '\n', hv.n))
            continue;
        invocation_add_header(inv, hn, hv);
    }
    int ok = buf_append(&inv->res_body, f->body.p, f->body.n) == 0;
    c->done(inv, ok, ok ? NULL : "the response is too large", c->data);
}

static void on_log(worker_t *w, const frame_t *f)
{
    char err[200];
    json_t *meta = frame_meta_json(f, err, sizeof err);
    if (!meta)
        return;
    pool_call_t *c = f->id ? find_call(w, f->id) : NULL;
    const char *cat = json_string_value(json_object_get(meta, "category"));
    const char *msg = json_string_value(json_object_get(meta, "message"));
    json_t *lv = json_object_get(meta, "level");
    int level = LOG_INFO;
    if (json_is_integer(lv)) {
        level = (int)json_integer_value(lv);
    } else if (json_is_string(lv)) {
        static const char *names[] = {"trace", "debug", "information", "warning", "error",
                                      "critical"};
        const char *v = json_string_value(lv);
        for (int i = 0; i < 6; i++)
            if (!strcasecmp(v, names[i]) || (i == 2 && !strcasecmp(v, "info")) ||
                (i == 3 && !strcasecmp(v, "warn")))
                level = i;
    }
    log_write(level, cat ? cat : "Worker", c ? c->inv->id : NULL, "%s", msg ? msg : "");
    json_decref(meta);
}

static void on_frame(worker_t *w, const frame_t *f)
{
    switch (f->type) {
    case FRAME_HELLO: {
        char err[200];
        json_t *meta = frame_meta_json(f, err, sizeof err);
        json_int_t proto = json_integer_value(json_object_get(meta, "protocol"));
        w->sequential = json_integer_value(json_object_get(meta, "concurrency")) == 1;
        json_decref(meta);
        if (proto != FRAME_PROTOCOL_VERSION)
            worker_kill(w, "it speaks another protocol version");
        break;
    }
    case FRAME_LOADED:
        on_loaded(w, f);
        break;
    case FRAME_RESULT:
        on_result(w, f);
        break;
    case FRAME_LOG:
        on_log(w, f);
        break;
    default: /* pong */
        break;
    }
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
    pool_t *p = ((worker_t *)h->data)->pool;
    (void)suggested;
    if (!p->rbuf_busy && p->rbuf) {
        p->rbuf_busy = 1;
        *b = uv_buf_init(p->rbuf, READ_SIZE);
        return;
    }
    char *m = malloc(READ_SIZE);
    *b = uv_buf_init(m, m ? READ_SIZE : 0);
}

static void release(pool_t *p, const uv_buf_t *b)
{
    if (b->base == p->rbuf)
        p->rbuf_busy = 0;
    else
        free(b->base);
}

static void chan_read_cb(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    worker_t *w = s->data;
    pool_t *p = w->pool;
    if (n < 0) {
        release(p, b);
        uv_read_stop(s);
        /* Most likely it is dying: let on_exit_cb tell a crash from a stop.
         * A worker that closed its channel on purpose is of no use either. */
        if (!w->exited && !w->stop_requested && w->pid && kill(-w->pid, SIGKILL) != 0)
            kill(w->pid, SIGKILL);
        return;
    }
    if (n == 0) {
        release(p, b);
        return;
    }
    frame_decoder_feed(&w->dec, b->base, (size_t)n);
    frame_t f;
    int rc = 0;
    /* Drain the decoder even if the worker was killed on the way: the
     * chunk must not be fed again half-used. */
    while ((rc = frame_decoder_next(&w->dec, &f)) == 1)
        if (!w->exited && w->stop_requested != 2)
            on_frame(w, &f);
    /* Results free slots: give queued invocations to whoever has room. */
    if (p->queue.n)
        pool_dispatch(p);
    if (rc < 0 && !w->exited) {
        char reason[240];
        snprintf(reason, sizeof reason, "protocol error: %s", frame_decoder_error(&w->dec));
        worker_kill(w, reason);
    }
    release(p, b);
}

/* stdout and stderr of the worker become log lines, attributed to the
 * invocation when exactly one is in flight. */
static void out_line(out_pipe_t *o, const char *p, size_t n)
{
    worker_t *w = o->w;
    while (n && (p[n - 1] == '\r'))
        n--;
    pool_call_t *c = w->inflight.n == 1 ? w->inflight.head : NULL;
    char cat[160];
    if (c)
        snprintf(cat, sizeof cat, "Function.%s", c->inv->fn->name);
    else
        snprintf(cat, sizeof cat, "Worker.%d", w->seq);
    log_write(o->is_err ? LOG_ERROR : LOG_INFO, cat, c ? c->inv->id : NULL, "%.*s", (int)n, p);
}

static void out_read_cb(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    worker_t *w = s->data;
    out_pipe_t *o = s == (uv_stream_t *)&w->out.pipe ? &w->out : &w->err;
    pool_t *p = w->pool;
    if (n <= 0) {
        if (n < 0) {
            if (o->line.len)
                out_line(o, o->line.p, o->line.len);
            buf_reset(&o->line);
            uv_read_stop(s);
        }
        release(p, b);
        return;
    }
    const char *d = b->base;
    size_t left = (size_t)n;
    while (left) {
        const char *nl = memchr(d, '\n', left);
        size_t take = nl ? (size_t)(nl - d) : left;
        if (o->line.len + take > LINE_MAX_BYTES) {
            buf_append(&o->line, d, LINE_MAX_BYTES - o->line.len);
            out_line(o, o->line.p, o->line.len);
            buf_reset(&o->line);
        } else if (nl) {
            if (o->line.len) {
                buf_append(&o->line, d, take);
                out_line(o, o->line.p, o->line.len);
                buf_reset(&o->line);
            } else {
                out_line(o, d, take);
            }
        } else {
            buf_append(&o->line, d, take);
        }
        if (!nl)
            break;
        d = nl + 1;
        left -= take + 1;
    }
    release(p, b);
}

/* ---- worker lifecycle ---- */

static void handle_closed(uv_handle_t *h);
static void pool_maybe_finish(pool_t *p);

static void worker_release(worker_t *w)
{
    pool_t *p = w->pool;
    if (w->prev)
        w->prev->next = w->next;
    else
        p->workers = w->next;
    if (w->next)
        w->next->prev = w->prev;
    frame_decoder_free(&w->dec);
    buf_free(&w->wbuf);
    buf_free(&w->out.line);
    buf_free(&w->err.line);
    free(w->wbase);
    free(w);
    pool_maybe_finish(p);
}

static void handle_closed(uv_handle_t *h)
{
    worker_t *w = h->data;
    if (--w->open_handles == 0)
        worker_release(w);
}

static void close_if_open(uv_handle_t *h)
{
    if (!uv_is_closing(h))
        uv_close(h, handle_closed);
}

static void worker_fail_all(worker_t *w, const char *why)
{
    pool_t *p = w->pool;
    while (w->inflight.head) {
        pool_call_t *c = w->inflight.head;
        list_remove(&w->inflight, c);
        p->running--;
        call_fail(c, 500, why);
    }
}

static void schedule_respawn(pool_t *p);

static void worker_exited(worker_t *w, int64_t status, int sig)
{
    pool_t *p = w->pool;
    if (w->exited)
        return;
    char how[120];
    if (sig)
        snprintf(how, sizeof how, "killed by signal %d (%s)", sig, strsignal(sig));
    else
        snprintf(how, sizeof how, "exited with status %lld", (long long)status);
    int unexpected = !w->stop_requested;
    char why[400];
    if (w->reason[0])
        snprintf(why, sizeof why, "worker %d (pid %d) was stopped: %s", w->seq, w->pid, w->reason);
    else
        snprintf(why, sizeof why, "worker %d (pid %d) %s", w->seq, w->pid,
                 unexpected ? (sig ? "crashed" : "exited unexpectedly") : "stopped");
    if (unexpected || w->inflight.n)
        log_write(LOG_ERROR, "Host.Scale", NULL, "%s (%s) with %zu invocation(s) in flight", why,
                  how, w->inflight.n);
    else
        log_write(LOG_DEBUG, "Host.Scale", NULL, "%s (%s)", why, how);
    w->exited = 1;
    w->state = W_STOPPING;
    p->nworkers--;
    if (p->placeholder == w)
        p->placeholder = NULL;
    char reason[600];
    snprintf(reason, sizeof reason, "%s (%s)", why, how);
    worker_fail_all(w, reason);
    if (unexpected) {
        p->crashes++;
        p->consecutive_crashes++;
        snprintf(p->last_crash, sizeof p->last_crash, "worker %d (pid %d) %s", w->seq, w->pid,
                 how);
        p->last_crash_ms = uv_now(p->loop);
    }
    if (!w->via_fs)
        close_if_open((uv_handle_t *)&w->proc);
    close_if_open((uv_handle_t *)&w->chan);
    close_if_open((uv_handle_t *)&w->out.pipe);
    close_if_open((uv_handle_t *)&w->err.pipe);
    if (!p->closing)
        schedule_respawn(p);
}

static void on_exit_cb(uv_process_t *proc, int64_t status, int sig)
{
    worker_exited(proc->data, status, sig);
}

static void worker_kill(worker_t *w, const char *reason)
{
    if (w->exited || w->stop_requested == 2)
        return;
    if (!w->reason[0])
        snprintf(w->reason, sizeof w->reason, "%s", reason);
    w->stop_requested = 2;
    w->state = W_STOPPING;
    log_write(LOG_WARN, "Host.Scale", NULL, "Killing worker %d (pid %d): %s", w->seq, w->pid,
              reason);
    if (!w->pid) {
        w->kill_pending = 1; /* killed once the fork server says who it is */
        return;
    }
    /* The worker leads its own process group: take its children too. */
    if (kill(-w->pid, SIGKILL) != 0)
        kill(w->pid, SIGKILL);
}

static void worker_stop(worker_t *w)
{
    if (w->exited || w->stop_requested)
        return;
    w->stop_requested = 1;
    w->state = W_STOPPING;
    w->stop_deadline = uv_now(w->pool->loop) + STOP_GRACE_MS;
    frame_encode(&w->wbuf, FRAME_SHUTDOWN, 0, NULL, 0, NULL, 0);
    mark_dirty(w);
}

/* The environment of a worker: the host's, without the host's own secrets
 * (user code never sees the master key) and with the worker's variables.
 * The first *added entries are allocated; free_env releases them. */
static char **worker_env(pool_t *p, int seq, int fork_server, size_t *added)
{
    extern char **environ;
    size_t n = 0;
    while (environ[n])
        n++;
    char **env = calloc(n + 6, sizeof *env);
    if (!env)
        return NULL;
    char tmp[4200];
    size_t k = 0;
    env[k++] = strdup("STRATUS_WORKER_FD=3");
    snprintf(tmp, sizeof tmp, "STRATUS_WORKER_ID=%d", seq);
    env[k++] = strdup(tmp);
    snprintf(tmp, sizeof tmp, "STRATUS_APP_ROOT=%s", p->app->root);
    env[k++] = strdup(tmp);
    snprintf(tmp, sizeof tmp, "STRATUS_WORKER_MEMORY_MB=%lld",
             (long long)(p->app->worker_memory_mb > 0 ? p->app->worker_memory_mb : 0));
    env[k++] = strdup(tmp);
    if (fork_server)
        env[k++] = strdup("STRATUS_FORK_SERVER=1");
    *added = k;
    for (size_t i = 0; i < n; i++)
        if (strncmp(environ[i], "STRATUS_WORKER_", 15) != 0 &&
            strncmp(environ[i], "STRATUS_APP_ROOT=", 17) != 0 &&
            strncmp(environ[i], "STRATUS_FORK_SERVER=", 20) != 0 &&
            strncmp(environ[i], "STRATUS_MASTER_KEY=", 19) != 0)
            env[k++] = environ[i];
    env[k] = NULL;
    return env;
}

static void free_env(char **env, size_t added)
{
    for (size_t i = 0; i < added; i++)
        free(env[i]);
    free(env);
}

/* ---- the fork server ---- */

/* Ask the fork server for a worker: three socketpairs, our ends opened as
 * w's channel, stdout and stderr, theirs sent along. 0, or -1 (then w's
 * pipes are untouched and the caller starts a process instead). */
static int fs_fork(pool_t *p, worker_t *w)
{
    uv_os_sock_t ch[2], out[2], err[2];
    if (uv_socketpair(SOCK_STREAM, 0, ch, 0, 0) != 0)
        return -1;
    if (uv_socketpair(SOCK_STREAM, 0, out, 0, 0) != 0) {
        close(ch[0]);
        close(ch[1]);
        return -1;
    }
    if (uv_socketpair(SOCK_STREAM, 0, err, 0, 0) != 0) {
        close(ch[0]), close(ch[1]), close(out[0]), close(out[1]);
        return -1;
    }
    char line[64];
    int n = snprintf(line, sizeof line, "spawn %d %lld\n", w->seq,
                     (long long)(p->app->worker_memory_mb > 0 ? p->app->worker_memory_mb : 0));
    union {
        struct cmsghdr h;
        char space[CMSG_SPACE(3 * sizeof(int))];
    } u;
    memset(&u, 0, sizeof u);
    struct iovec iov = {line, (size_t)n};
    struct msghdr msg;
    memset(&msg, 0, sizeof msg);
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = u.space;
    msg.msg_controllen = sizeof u.space;
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(3 * sizeof(int));
    int theirs[3] = {ch[1], out[1], err[1]};
    memcpy(CMSG_DATA(c), theirs, sizeof theirs);
    uv_os_fd_t ctl;
    ssize_t sent = -1;
    if (uv_fileno((uv_handle_t *)&p->fs_ctl, &ctl) == 0)
        do
            sent = sendmsg(ctl, &msg, MSG_NOSIGNAL);
        while (sent < 0 && errno == EINTR);
    for (int i = 0; i < 3; i++)
        close(theirs[i]);
    if (sent != n) {
        close(ch[0]), close(out[0]), close(err[0]);
        return -1;
    }
    uv_pipe_open(&w->chan, ch[0]);
    uv_pipe_open(&w->out.pipe, out[0]);
    uv_pipe_open(&w->err.pipe, err[0]);
    return 0;
}

static worker_t *find_worker(pool_t *p, int seq, int pid)
{
    for (worker_t *w = p->workers; w; w = w->next)
        if (w->via_fs && !w->exited && ((seq && w->seq == seq) || (pid && w->pid == pid)))
            return w;
    return NULL;
}

static void fs_message(pool_t *p, const char *line)
{
    int a = 0, b = 0, c = 0;
    worker_t *w;
    if (sscanf(line, "spawned %d %d", &a, &b) == 2) {
        if ((w = find_worker(p, a, 0))) {
            w->pid = b;
            if (w->kill_pending && kill(-b, SIGKILL) != 0)
                kill(b, SIGKILL);
        }
    } else if (sscanf(line, "exited %d %d %d", &a, &b, &c) == 3) {
        if ((w = find_worker(p, 0, a)))
            worker_exited(w, b, c);
    } else if (sscanf(line, "failed %d %d", &a, &b) == 2) {
        if ((w = find_worker(p, a, 0))) {
            snprintf(w->reason, sizeof w->reason, "the fork server could not fork: %s",
                     strerror(b));
            worker_exited(w, 127, 0);
        }
    }
}

static void fs_read_cb(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    pool_t *p = s->data;
    if (n < 0) {
        release(p, b);
        uv_read_stop(s);
        return;
    }
    const char *d = b->base;
    size_t left = (size_t)n;
    while (left) {
        const char *nl = memchr(d, '\n', left);
        size_t take = nl ? (size_t)(nl - d) : left;
        buf_append(&p->fs_line, d, take);
        if (!nl)
            break;
        fs_message(p, p->fs_line.p ? p->fs_line.p : "");
        buf_reset(&p->fs_line);
        d = nl + 1;
        left -= take + 1;
    }
    release(p, b);
}

static void fs_alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
    pool_t *p = h->data;
    (void)suggested;
    char *m = p->rbuf_busy ? malloc(4096) : (p->rbuf_busy = 1, p->rbuf);
    *b = uv_buf_init(m, m ? (m == p->rbuf ? READ_SIZE : 4096) : 0);
}

static void pool_handle_closed(uv_handle_t *h);
static void schedule_respawn(pool_t *p);

static void fs_exit_cb(uv_process_t *proc, int64_t status, int sig)
{
    pool_t *p = proc->data;
    p->fs_up = 0;
    p->fs_exited = 1;
    if (!p->closing)
        log_write(LOG_WARN, "Host.Scale", NULL, "The fork server exited (status %lld, signal "
                  "%d); workers are started as new processes from now on", (long long)status, sig);
    uv_close((uv_handle_t *)proc, pool_handle_closed);
    if (!uv_is_closing((uv_handle_t *)&p->fs_ctl))
        uv_close((uv_handle_t *)&p->fs_ctl, pool_handle_closed);
    /* Its children die with it (their parent-death signal). */
    for (worker_t *w = p->workers; w; w = w->next)
        if (w->via_fs && !w->exited) {
            if (!w->reason[0])
                snprintf(w->reason, sizeof w->reason, "its fork server exited");
            w->stop_requested = w->stop_requested ? w->stop_requested : 2;
            if (w->pid && kill(-w->pid, SIGKILL) != 0)
                kill(w->pid, SIGKILL);
            worker_exited(w, 0, SIGKILL);
        }
    pool_maybe_finish(p);
}

/* Start the fork server (best effort: without it, workers are started as
 * processes). */
static void fs_start(pool_t *p)
{
    uv_pipe_init(p->loop, &p->fs_ctl, 0);
    p->fs_ctl.data = p;
    p->fs_proc.data = p;
    buf_init(&p->fs_line, 256);
    uv_stdio_container_t stdio[4];
    stdio[0].flags = UV_IGNORE;
    stdio[1].flags = UV_INHERIT_FD;
    stdio[1].data.fd = 1;
    stdio[2].flags = UV_INHERIT_FD;
    stdio[2].data.fd = 2;
    stdio[3].flags = UV_CREATE_PIPE | UV_READABLE_PIPE | UV_WRITABLE_PIPE;
    stdio[3].data.stream = (uv_stream_t *)&p->fs_ctl;
    char *args[] = {p->exe, "worker", "--fork-server", NULL};
    size_t added = 0;
    char **env = worker_env(p, 0, 1, &added);
    uv_process_options_t o;
    memset(&o, 0, sizeof o);
    o.file = p->exe;
    o.args = args;
    o.env = env;
    o.cwd = p->app->root;
    o.flags = UV_PROCESS_DETACHED;
    o.stdio_count = 4;
    o.stdio = stdio;
    o.exit_cb = fs_exit_cb;
    int rc = env ? uv_spawn(p->loop, &p->fs_proc, &o) : UV_ENOMEM;
    if (env)
        free_env(env, added);
    p->fs_started = 1;
    p->handles_open += 2;
    if (rc != 0) {
        log_write(LOG_WARN, "Host.Scale", NULL, "cannot start the fork server: %s; workers are "
                  "started as new processes", uv_strerror(rc));
        p->fs_exited = 1;
        uv_close((uv_handle_t *)&p->fs_ctl, pool_handle_closed);
        p->handles_open--; /* the process handle was never initialised */
        return;
    }
    uv_read_start((uv_stream_t *)&p->fs_ctl, fs_alloc_cb, fs_read_cb);
    p->fs_up = 1;
}

static worker_t *worker_spawn(pool_t *p, int placeholder)
{
    worker_t *w = calloc(1, sizeof *w);
    if (!w)
        return NULL;
    w->pool = p;
    w->seq = ++p->next_seq;
    frame_decoder_init(&w->dec, FRAME_FROM_WORKER);
    buf_init(&w->wbuf, WBUF_MAX);
    buf_init(&w->out.line, LINE_MAX_BYTES);
    buf_init(&w->err.line, LINE_MAX_BYTES);
    w->out.w = w->err.w = w;
    w->err.is_err = 1;
    uv_pipe_init(p->loop, &w->chan, 0);
    uv_pipe_init(p->loop, &w->out.pipe, 0);
    uv_pipe_init(p->loop, &w->err.pipe, 0);
    w->chan.data = w;
    w->out.pipe.data = w;
    w->err.pipe.data = w;
    w->proc.data = w;

    if (p->fs_up && fs_fork(p, w) == 0) {
        w->next = p->workers;
        if (p->workers)
            p->workers->prev = w;
        p->workers = w;
        w->via_fs = 1;
        w->open_handles = 3;
        w->state = placeholder ? W_PLACEHOLDER : W_STARTING;
        w->last_active = uv_now(p->loop);
        w->spawn_ns = uv_hrtime();
        p->nworkers++;
        uv_read_start((uv_stream_t *)&w->chan, alloc_cb, chan_read_cb);
        uv_read_start((uv_stream_t *)&w->out.pipe, alloc_cb, out_read_cb);
        uv_read_start((uv_stream_t *)&w->err.pipe, alloc_cb, out_read_cb);
        if (placeholder)
            p->placeholder = w;
        else
            send_load(w);
        return w;
    }

    uv_stdio_container_t stdio[4];
    stdio[0].flags = UV_IGNORE;
    stdio[1].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
    stdio[1].data.stream = (uv_stream_t *)&w->out.pipe;
    stdio[2].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
    stdio[2].data.stream = (uv_stream_t *)&w->err.pipe;
    stdio[3].flags = UV_CREATE_PIPE | UV_READABLE_PIPE | UV_WRITABLE_PIPE;
    stdio[3].data.stream = (uv_stream_t *)&w->chan;
    char *args[] = {p->exe, "worker", NULL};
    size_t added = 0;
    char **env = worker_env(p, w->seq, 0, &added);
    uv_process_options_t o;
    memset(&o, 0, sizeof o);
    o.file = p->exe;
    o.args = args;
    o.env = env;
    o.cwd = p->app->root;
    o.flags = UV_PROCESS_DETACHED;
    o.stdio_count = 4;
    o.stdio = stdio;
    o.exit_cb = on_exit_cb;
    w->spawn_ns = uv_hrtime();
    int rc = env ? uv_spawn(p->loop, &w->proc, &o) : UV_ENOMEM;
    if (env)
        free_env(env, added);
    /* Link it in first, so the close callbacks find a listed worker. */
    w->next = p->workers;
    if (p->workers)
        p->workers->prev = w;
    p->workers = w;
    if (rc != 0) {
        log_write(LOG_ERROR, "Host.Scale", NULL, "cannot start a worker (%s): %s", p->exe,
                  uv_strerror(rc));
        snprintf(p->start_error, sizeof p->start_error, "cannot start a worker: %s",
                 uv_strerror(rc));
        w->exited = 1;
        w->open_handles = 3;
        close_if_open((uv_handle_t *)&w->chan);
        close_if_open((uv_handle_t *)&w->out.pipe);
        close_if_open((uv_handle_t *)&w->err.pipe);
        return NULL;
    }
    w->open_handles = 4;
    w->pid = w->proc.pid;
    w->state = placeholder ? W_PLACEHOLDER : W_STARTING;
    w->last_active = uv_now(p->loop);
    p->nworkers++;
    uv_read_start((uv_stream_t *)&w->chan, alloc_cb, chan_read_cb);
    uv_read_start((uv_stream_t *)&w->out.pipe, alloc_cb, out_read_cb);
    uv_read_start((uv_stream_t *)&w->err.pipe, alloc_cb, out_read_cb);
    if (placeholder)
        p->placeholder = w;
    else
        send_load(w);
    log_write(LOG_DEBUG, "Host.Scale", NULL, "Started %s %d (pid %d)",
              placeholder ? "placeholder worker" : "worker", w->seq, w->pid);
    return w;
}

/* ---- scheduling ---- */

static size_t instances(const pool_t *p)
{
    return p->nworkers - (p->placeholder ? 1 : 0);
}

static int can_spawn(pool_t *p)
{
    return !p->closing && (int64_t)instances(p) < p->app->scale_max_instances &&
           uv_now(p->loop) >= p->backoff_until;
}

static void prewarm_cb(uv_timer_t *t)
{
    pool_t *p = t->data;
    if (!p->closing && !p->placeholder && p->app->scale_prewarm && uv_now(p->loop) >= p->backoff_until)
        worker_spawn(p, 1);
}

/* A new instance: the placeholder specialised (then another placeholder is
 * started a little later, off this request's path), or a new process. */
static worker_t *new_instance(pool_t *p)
{
    worker_t *w = p->placeholder;
    if (!w || w->exited || w->stop_requested)
        return worker_spawn(p, 0);
    p->placeholder = NULL;
    w->state = W_STARTING;
    w->spawn_ns = uv_hrtime();
    send_load(w);
    uv_timer_start(&p->prewarm, prewarm_cb, 20, 0);
    return w;
}

static worker_t *pick(pool_t *p)
{
    worker_t *best = NULL;
    size_t cap = (size_t)p->app->scale_concurrency;
    for (worker_t *w = p->workers; w; w = w->next) {
        if (w->exited || w->state == W_STOPPING || w->state == W_PLACEHOLDER ||
            w->inflight.n >= cap)
            continue;
        if (!best || (w->state == W_READY && best->state != W_READY) ||
            (w->state == best->state && w->inflight.n < best->inflight.n))
            best = w;
    }
    return best;
}

static void sweep_start(pool_t *p);

static void pool_dispatch(pool_t *p)
{
    while (p->queue.head && !p->closing) {
        if (p->app->max_concurrent_requests > 0 &&
            (int64_t)p->running >= p->app->max_concurrent_requests)
            break;
        worker_t *w = pick(p);
        if (!w) {
            if (!can_spawn(p) || !(w = new_instance(p)))
                break;
        }
        pool_call_t *c = p->queue.head;
        list_remove(&p->queue, c);
        send_invoke(w, c);
    }
    if (p->queue.n || p->running)
        sweep_start(p);
}

static void backoff_cb(uv_timer_t *t)
{
    pool_t *p = t->data;
    pool_dispatch(p);
    while (!p->closing && (int64_t)instances(p) < p->app->scale_min_instances && can_spawn(p))
        if (!new_instance(p))
            break;
    prewarm_cb(&p->prewarm);
}

static void schedule_respawn(pool_t *p)
{
    int needed = p->queue.n || (int64_t)instances(p) < p->app->scale_min_instances ||
                 (p->app->scale_prewarm && !p->placeholder);
    if (p->consecutive_crashes > 1) {
        uint64_t delay = BACKOFF_MIN_MS << (p->consecutive_crashes - 2 > 12 ? 12 : p->consecutive_crashes - 2);
        if (delay > BACKOFF_MAX_MS)
            delay = BACKOFF_MAX_MS;
        p->backoff_until = uv_now(p->loop) + delay;
        log_write(LOG_WARN, "Host.Scale", NULL,
                  "%u crashes in a row; starting workers again in %llu ms", p->consecutive_crashes,
                  (unsigned long long)delay);
        uv_timer_start(&p->backoff, backoff_cb, delay, 0);
        return;
    }
    if (needed)
        backoff_cb(&p->backoff);
}

void pool_submit(pool_t *p, invocation_t *inv, invocation_done_fn done, void *data)
{
    size_t outstanding = p->running + p->queue.n;
    int64_t max_out = p->app->max_outstanding_requests;
    if (p->closing || (max_out > 0 && (int64_t)outstanding >= max_out) ||
        p->queue.n >= POOL_QUEUE_MAX) {
        p->rejected++;
        char reason[160];
        if (p->closing)
            snprintf(reason, sizeof reason, "the host is stopping");
        else if (max_out > 0 && (int64_t)outstanding >= max_out)
            snprintf(reason, sizeof reason, "%zu requests outstanding "
                     "(extensions.http.maxOutstandingRequests is %lld)", outstanding,
                     (long long)max_out);
        else
            snprintf(reason, sizeof reason, "the queue is full (%d waiting)", POOL_QUEUE_MAX);
        inv->fail_status = p->closing ? 503 : 429;
        done(inv, 0, reason, data);
        return;
    }
    pool_call_t *c = arena_calloc(inv->arena, sizeof *c);
    if (!c) {
        done(inv, 0, "out of memory", data);
        return;
    }
    c->inv = inv;
    c->done = done;
    c->data = data;
    c->id = ++p->next_id;
    if (p->app->function_timeout_ms > 0)
        c->deadline = uv_now(p->loop) + (uint64_t)p->app->function_timeout_ms;
    list_push(&p->queue, c);
    pool_dispatch(p);
}

/* ---- timers ---- */

static void format_timespan(int64_t ms, char *out, size_t n)
{
    snprintf(out, n, "%02lld:%02lld:%02lld", (long long)(ms / 3600000),
             (long long)(ms / 60000 % 60), (long long)(ms / 1000 % 60));
    if (ms % 1000) {
        size_t len = strlen(out);
        snprintf(out + len, n - len, ".%03lld", (long long)(ms % 1000));
    }
}

static void sweep_cb(uv_timer_t *t)
{
    pool_t *p = t->data;
    uint64_t now = uv_now(p->loop);
    char limit[48], reason[200];
    format_timespan(p->app->function_timeout_ms, limit, sizeof limit);
    for (pool_call_t *c = p->queue.head; c;) {
        pool_call_t *next = c->next;
        if (c->deadline && now >= c->deadline) {
            list_remove(&p->queue, c);
            p->timeouts++;
            snprintf(reason, sizeof reason, "timed out after %s (functionTimeout) waiting for a "
                     "worker", limit);
            call_fail(c, 504, reason);
        }
        c = next;
    }
    for (worker_t *w = p->workers; w; w = w->next) {
        for (pool_call_t *c = w->inflight.head; c;) {
            pool_call_t *next = c->next;
            if (c->deadline && now >= c->deadline) {
                list_remove(&w->inflight, c);
                p->running--;
                p->timeouts++;
                frame_encode(&w->wbuf, FRAME_CANCEL, c->id, NULL, 0, NULL, 0);
                w->urgent = 1;
                worker_flush(w); /* the cancel goes out before the kill */
                snprintf(reason, sizeof reason, "timed out after %s (functionTimeout)", limit);
                char kill_reason[300];
                snprintf(kill_reason, sizeof kill_reason, "invocation %s of '%s' timed out after "
                         "%s (functionTimeout)", c->inv->id, c->inv->fn->name, limit);
                call_fail(c, 504, reason);
                /* Native code cannot be interrupted: replace the worker. */
                worker_kill(w, kill_reason);
            }
            c = next;
        }
    }
    if (!p->queue.n && !p->running) {
        uv_timer_stop(&p->sweep);
        p->sweeping = 0;
    }
}

static void sweep_start(pool_t *p)
{
    if (p->sweeping || p->app->function_timeout_ms <= 0 || p->closing)
        return;
    p->sweeping = 1;
    uv_timer_start(&p->sweep, sweep_cb, SWEEP_MS, SWEEP_MS);
}

static long rss_mb(int pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/statm", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    long size = 0, resident = 0;
    int n = fscanf(f, "%ld %ld", &size, &resident);
    fclose(f);
    if (n != 2)
        return -1;
    return resident * (sysconf(_SC_PAGESIZE) / 1024) / 1024;
}

static void housekeeping_cb(uv_timer_t *t)
{
    pool_t *p = t->data;
    uint64_t now = uv_now(p->loop);
    size_t alive = instances(p);
    for (worker_t *w = p->workers; w; w = w->next) {
        if (w->exited)
            continue;
        if (w->state == W_STOPPING && w->stop_requested == 1 && now >= w->stop_deadline) {
            worker_kill(w, "it did not stop within the grace period");
            continue;
        }
        if (p->app->worker_memory_mb > 0) {
            long mb = rss_mb(w->pid);
            if (mb > p->app->worker_memory_mb) {
                char reason[160];
                snprintf(reason, sizeof reason, "it exceeded the memory limit of %lld MB "
                         "(resident %ld MB; stratus.worker.memoryLimitMB)",
                         (long long)p->app->worker_memory_mb, mb);
                worker_kill(w, reason);
                continue;
            }
        }
        if (w->state == W_READY && !w->inflight.n && (int64_t)alive > p->app->scale_min_instances &&
            now - w->last_active >= (uint64_t)p->app->scale_idle_timeout_ms) {
            log_write(LOG_INFO, "Host.Scale", NULL, "Worker %d (pid %d) idle for %llu ms; "
                      "stopping it (%zu instance(s) left)", w->seq, w->pid,
                      (unsigned long long)(now - w->last_active), alive - 1);
            worker_stop(w);
            alive--;
        }
    }
}

/* ---- pool ---- */

pool_t *pool_new(uv_loop_t *loop, app_t *app)
{
    pool_t *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->loop = loop;
    p->app = app;
    size_t len = sizeof p->exe;
    if (uv_exepath(p->exe, &len) != 0)
        snprintf(p->exe, sizeof p->exe, "/proc/self/exe");
    p->rbuf = malloc(READ_SIZE);
    uv_check_init(loop, &p->flush);
    p->flush.data = p;
    uv_check_start(&p->flush, flush_cb);
    uv_unref((uv_handle_t *)&p->flush);
    uv_timer_init(loop, &p->sweep);
    p->sweep.data = p;
    uv_unref((uv_handle_t *)&p->sweep);
    uv_timer_init(loop, &p->housekeeping);
    p->housekeeping.data = p;
    uv_timer_init(loop, &p->backoff);
    p->backoff.data = p;
    uv_unref((uv_handle_t *)&p->backoff);
    uv_timer_init(loop, &p->prewarm);
    p->prewarm.data = p;
    uv_unref((uv_handle_t *)&p->prewarm);
    p->handles_open = 5;
    return p;
}

static void start_timeout_cb(uv_timer_t *t) { *(int *)t->data = 1; }

int pool_start(pool_t *p, int timeout_ms, char *err, size_t errlen)
{
    worker_t *w = worker_spawn(p, 0);
    if (!w) {
        snprintf(err, errlen, "%s", p->start_error);
        return -1;
    }
    int timed_out = 0;
    uv_timer_t t;
    uv_timer_init(p->loop, &t);
    t.data = &timed_out;
    uv_timer_start(&t, start_timeout_cb, (uint64_t)timeout_ms, 0);
    while (!p->loaded && !timed_out && !p->crashes)
        uv_run(p->loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&t, NULL);
    uv_run(p->loop, UV_RUN_NOWAIT);
    int rc = 0;
    if (!p->loaded) {
        /* A function that crashes or hangs while loading: say so, and serve
         * anyway; its invocations fail and restarts back off. */
        snprintf(err, errlen, "the first worker %s while loading the functions, so their load "
                 "errors are unknown; invocations will fail until it loads",
                 timed_out ? "did not finish in time" : p->last_crash[0] ? p->last_crash
                                                                          : "failed");
        for (worker_t *x = p->workers; x; x = x->next)
            if (timed_out)
                worker_kill(x, "it did not load the functions in time");
        rc = 1;
    }
    uv_timer_start(&p->housekeeping, housekeeping_cb, HOUSEKEEPING_MS, HOUSEKEEPING_MS);
    uv_unref((uv_handle_t *)&p->housekeeping);
    fs_start(p);
    while ((int64_t)instances(p) < p->app->scale_min_instances)
        if (!worker_spawn(p, 0))
            break;
    prewarm_cb(&p->prewarm);
    return rc;
}

const char *pool_load_error(const pool_t *p, const function_t *fn)
{
    for (size_t i = 0; i < p->nload_errors; i++)
        if (strcasecmp(p->load_errors[i].function, fn->name) == 0)
            return p->load_errors[i].message;
    return NULL;
}

json_t *pool_status(const pool_t *p)
{
    json_t *workers = json_array();
    size_t busy = 0, idle = 0, starting = 0;
    uint64_t now = uv_now(p->loop);
    for (const worker_t *w = p->workers; w; w = w->next) {
        if (w->exited)
            continue;
        if (w->state == W_PLACEHOLDER)
            continue; /* not an instance of the app (yet) */
        const char *state = w->state == W_STARTING ? "starting"
                            : w->state == W_STOPPING ? "stopping"
                            : w->inflight.n ? "busy" : "idle";
        if (w->state == W_STARTING)
            starting++;
        else if (w->state == W_READY)
            w->inflight.n ? busy++ : idle++;
        json_array_append_new(workers,
                              json_pack("{s:i, s:i, s:s, s:I, s:I, s:I}", "id", w->seq, "pid",
                                        w->pid, "state", state, "inFlight",
                                        (json_int_t)w->inflight.n, "invocations",
                                        (json_int_t)w->invocations, "idleMs",
                                        (json_int_t)(w->inflight.n ? 0 : now - w->last_active)));
    }
    json_t *st = json_pack(
        "{s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:f, s:f, s:I, s:I, "
        "s:o}",
        "runtime", "native", "mode", "isolated", "minInstances",
        (json_int_t)p->app->scale_min_instances, "maxInstances",
        (json_int_t)p->app->scale_max_instances, "perInstanceConcurrency",
        (json_int_t)p->app->scale_concurrency, "idleTimeoutMs",
        (json_int_t)p->app->scale_idle_timeout_ms, "instances", (json_int_t)instances(p), "busy",
        (json_int_t)busy, "idle", (json_int_t)idle, "starting", (json_int_t)starting,
        "queueLength", (json_int_t)p->queue.n, "inFlight", (json_int_t)p->running, "coldStarts",
        (json_int_t)p->cold_starts, "lastColdStartMs", p->last_cold_start_ms,
        "averageColdStartMs", p->cold_starts ? p->total_cold_start_ms / (double)p->cold_starts : 0.0,
        "rejected", (json_int_t)p->rejected, "timeouts", (json_int_t)p->timeouts, "workers",
        workers);
    json_object_set_new(st, "placeholders", json_integer(p->placeholder ? 1 : 0));
    return st;
}

json_t *pool_health(const pool_t *p)
{
    uint64_t now = uv_now(p->loop);
    return json_pack("{s:I, s:I, s:s?, s:I, s:I}", "crashes", (json_int_t)p->crashes,
                     "consecutiveCrashes", (json_int_t)p->consecutive_crashes, "lastCrash",
                     p->last_crash[0] ? p->last_crash : NULL, "lastCrashAgoMs",
                     p->last_crash[0] ? (json_int_t)(now - p->last_crash_ms) : (json_int_t)0,
                     "restartDelayMs",
                     (json_int_t)(p->backoff_until > now ? p->backoff_until - now : 0));
}

static void pool_handle_closed(uv_handle_t *h)
{
    pool_t *p = h->data;
    p->handles_open--;
    pool_maybe_finish(p);
}

/* Once closing and every worker is gone: close the pool's own handles,
 * then tell the owner. */
static void pool_maybe_finish(pool_t *p)
{
    if (!p->closing || p->workers)
        return;
    if (p->fs_started && !p->fs_exited) {
        /* Every worker is gone: the fork server exits at the end of its
         * control stream (killed too, in case it does not). */
        if (!p->fs_closing) {
            p->fs_closing = 1;
            uv_read_stop((uv_stream_t *)&p->fs_ctl);
            uv_close((uv_handle_t *)&p->fs_ctl, pool_handle_closed);
            uv_process_kill(&p->fs_proc, SIGKILL);
        }
        return;
    }
    if (!p->handles_closing) {
        p->handles_closing = 1;
        uv_close((uv_handle_t *)&p->flush, pool_handle_closed);
        uv_close((uv_handle_t *)&p->sweep, pool_handle_closed);
        uv_close((uv_handle_t *)&p->housekeeping, pool_handle_closed);
        uv_close((uv_handle_t *)&p->backoff, pool_handle_closed);
        uv_close((uv_handle_t *)&p->prewarm, pool_handle_closed);
        return;
    }
    if (p->handles_open == 0 && p->close_cb) {
        void (*cb)(void *) = p->close_cb;
        p->close_cb = NULL;
        cb(p->close_data);
    }
}

void pool_close(pool_t *p, void (*cb)(void *data), void *data)
{
    p->closing = 1;
    p->close_cb = cb;
    p->close_data = data;
    while (p->queue.head) {
        pool_call_t *c = p->queue.head;
        list_remove(&p->queue, c);
        call_fail(c, 503, "the host is stopping");
    }
    for (worker_t *w = p->workers; w; w = w->next) {
        if (w->exited)
            continue;
        worker_stop(w);
        worker_flush(w);
        /* The grace period is short at shutdown: the host waits for us. */
        w->stop_deadline = uv_now(p->loop) + STOP_GRACE_MS;
    }
    uv_ref((uv_handle_t *)&p->housekeeping);
    if (!uv_is_active((uv_handle_t *)&p->housekeeping))
        uv_timer_start(&p->housekeeping, housekeeping_cb, HOUSEKEEPING_MS, HOUSEKEEPING_MS);
    pool_maybe_finish(p);
}

void pool_free(pool_t *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->nload_errors; i++) {
        free(p->load_errors[i].function);
        free(p->load_errors[i].message);
    }
    free(p->load_errors);
    buf_free(&p->fs_line);
    free(p->rbuf);
    free(p);
}
