/*
 * pool_worker.c -- the worker processes of a pool (see pool.h and
 * pool_priv.h): starting them (forked by the fork server, or as new
 * processes), the frames to and from them, their output, their exits.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../telemetry/telemetry.h"
#include "../telemetry/log.h"
#include "../util/buf.h"
#include "../util/jsontok.h"
#include "../util/lines.h"
#include "frame.h"
#include "pool_priv.h"

/* ---- output ---- */

static void on_write(uv_write_t *req, int status)
{
    worker_t *w = req->data;
    free(w->wbase);
    w->wbase = NULL;
    w->writing = 0;
    if (status < 0) {
        if (w->state != W_STOPPING)
            pool__worker_fail(w, "its channel failed");
        return;
    }
    if (w->wbuf.len)
        pool__mark_dirty(w);
}

void pool__worker_flush(worker_t *w)
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
        pool__worker_fail(w, "its channel failed");
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
        pool__worker_fail(w, "its channel failed");
        return;
    }
    w->writing = 1;
}

static void wake_cb(uv_idle_t *h) { (void)h; }

void pool__mark_dirty(worker_t *w)
{
    w->dirty = 1;
    if (!uv_is_active((uv_handle_t *)&w->pool->wake))
        uv_idle_start(&w->pool->wake, wake_cb);
}

void pool__flush_cb(uv_check_t *h)
{
    pool_t *p = h->data;
    uv_idle_stop(&p->wake);
    for (worker_t *w = p->workers; w; w = w->next)
        if (w->dirty)
            pool__worker_flush(w);
}

/* ---- sending ---- */

void pool__send_load(worker_t *w)
{
    /* Once per worker, so built with jansson; the per-invocation frames are
     * written by hand (pool__send_invoke). */
    static const char *dirs[] = {"", "in", "out", "inout"};
    app_t *app = w->pool->app;
    json_t *settings = json_object();
    for (size_t i = 0; i < app->nsettings; i++)
        json_object_set_new(settings, app->settings[i].name,
                            json_string(app->settings[i].value));
    json_t *fns = json_array();
    for (size_t i = 0; i < app->nfunctions; i++) {
        function_t *fn = app->functions[i];
        json_t *bindings = json_array();
        for (size_t b = 0; b < fn->nbindings; b++) {
            const binding_t *bd = &fn->bindings[b];
            json_array_append_new(bindings,
                                  json_pack("{s:s, s:s, s:s, s:s*, s:s*}", "type", bd->type,
                                            "direction", dirs[bd->direction & 3], "name",
                                            bd->name, "dataType", bd->data_type, "connection",
                                            bd->connection));
        }
        json_t *entry = json_pack("{s:s, s:s, s:s*, s:o, s:s*}", "name", fn->name, "directory",
                                  fn->dir, "scriptFile", fn->script_file, "bindings", bindings,
                                  "entryPoint", fn->entry_point);
        if (fn->indexed) /* declared in code: the worker finds it by name */
            json_object_set_new(entry, "indexed", json_true());
        json_array_append_new(fns, entry);
    }
    json_t *load = json_pack("{s:s, s:o, s:o}", "appRoot", app->root, "settings", settings,
                             "functions", fns);
    json_t *ready = json_pack("{s:i, s:i, s:I, s:I, s:I}", "protocol", FRAME_PROTOCOL_VERSION,
                              "workerId", w->seq, "concurrency",
                              (json_int_t)app->scale_concurrency, "maxMeta",
                              (json_int_t)FRAME_MAX_META, "maxBody", (json_int_t)FRAME_MAX_BODY);
    frame_encode_json(&w->wbuf, FRAME_READY, 0, ready, NULL, 0);
    frame_encode_json(&w->wbuf, FRAME_LOAD, 0, load, NULL, 0);
    json_decref(ready);
    json_decref(load);
    pool__mark_dirty(w);
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

static int dump_to_buf(const char *p, size_t n, void *data)
{
    return buf_append(data, p, n);
}

/* The binding members of an INVOKE's metadata (docs/worker-protocol.md):
 * triggerMetadata, inputs and retryContext. */
void pool__put_bindings(buf_t *out, const invocation_t *inv)
{
    if (inv->binding_data) {
        buf_lit(out, ",\"triggerMetadata\":");
        json_dump_callback(inv->binding_data, dump_to_buf, out, JSON_COMPACT);
    } else if (inv->binding_data_text.n) {
        buf_lit(out, ",\"triggerMetadata\":");
        buf_append(out, inv->binding_data_text.p, inv->binding_data_text.n);
    }
    if (inv->inputs) {
        buf_lit(out, ",\"inputs\":");
        json_dump_callback(inv->inputs, dump_to_buf, out, JSON_COMPACT);
    }
    if (inv->max_retry_count) {
        buf_printf(out, ",\"retryContext\":{\"retryCount\":%d,\"maxRetryCount\":%d",
                   inv->retry_count, inv->max_retry_count);
        if (inv->retry_error) {
            buf_lit(out, ",\"exception\":");
            invocation_put_retry_exception(out, inv, 0);
        }
        buf_putc(out, '}');
    }
}

void pool__send_invoke(worker_t *w, pool_call_t *c)
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
    if (inv->binding_data || inv->binding_data_text.n || inv->inputs || inv->max_retry_count)
        pool__put_bindings(out, inv);
    buf_lit(out, ",\"traceContext\":{\"traceparent\":\"");
    buf_puts(out, inv->traceparent);
    if (inv->tracestate) {
        buf_lit(out, "\",\"tracestate\":\"");
        buf_json_escape(out, inv->tracestate, strlen(inv->tracestate));
    }
    buf_lit(out, "\"}}");
    size_t meta_len = out->len - meta_start;
    if (meta_len > FRAME_MAX_META || inv->trigger_len > FRAME_MAX_BODY ||
        buf_append(out, inv->trigger_data, inv->trigger_len) != 0) {
        out->len = frame_start; /* drop the partial frame */
        out->p[frame_start] = '\0';
        pool__call_fail(c, 500, "the request is too large for the worker protocol");
        return;
    }
    frame_header_pack((uint8_t *)out->p + frame_start, FRAME_INVOKE, c->id, (uint32_t)meta_len,
                      (uint32_t)inv->trigger_len);
    w->queued_invokes++;
    c->worker = w;
    pool__list_push(&w->inflight, c);
    p->running++;
    w->last_active = uv_now(p->loop);
    pool__mark_dirty(w);
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
        pool__worker_fail(w, "it sent a malformed loaded frame");
        return;
    }
    if (!p->loaded)
        record_load_errors(p, meta);
    json_decref(meta);
    p->loaded = 1;
    w->state = W_READY;
    w->rss_bytes = telemetry_rss_bytes(w->pid);
    double ms = (double)(uv_hrtime() - w->spawn_ns) / 1e6;
    p->cold_starts++;
    telemetry_cold_start(p->runtime, ms);
    p->last_cold_start_ms = ms;
    p->total_cold_start_ms += ms;
    log_write(LOG_INFO, "Host.Scale", NULL, "Worker %d (pid %d) ready in %.2f ms (cold start); "
              "%zu instance(s)", w->seq, w->pid, ms, pool__instances(p));
    pool__dispatch(p);
}

/* Remembers a plain result's metadata and what it decoded to (the status,
 * and the headers it gave inv from index `from` on): see result_memo_t. */
static void memo_store(worker_t *w, const frame_t *f, const invocation_t *inv, size_t from)
{
    result_memo_t *m = &w->memo;
    size_t used = 0;
    m->n = 0;
    if (inv->nres_headers - from > RESULT_MEMO_HEADERS)
        return;
    for (size_t k = 0; k < inv->nres_headers - from; k++) {
        sv_t hn = inv->res_headers[from + k].name, hv = inv->res_headers[from + k].value;
        if (used + hn.n + hv.n > sizeof m->strs)
            return;
        m->h[k].name = (uint16_t)used;
        m->h[k].name_len = (uint16_t)hn.n;
        memcpy(m->strs + used, hn.p, hn.n);
        used += hn.n;
        m->h[k].value = (uint16_t)used;
        m->h[k].value_len = (uint16_t)hv.n;
        memcpy(m->strs + used, hv.p, hv.n);
        used += hv.n;
    }
    m->nheaders = (int)(inv->nres_headers - from);
    m->status = inv->status;
    memcpy(m->text, f->meta.p, f->meta.n);
    m->n = f->meta.n;
}

/* Store a result's body as the response body: a large one that arrived
 * in pieces is handed over by the decoder, not copied. 1, or 0 when it is
 * too large. f must not be used after this. */
static int result_body(worker_t *w, const frame_t *f, invocation_t *inv)
{
    if (f->body.n >= (64u << 10) && !inv->res_body.len &&
        frame_decoder_take_body(&w->dec, f, &inv->res_body))
        return 1;
    return buf_append(&inv->res_body, f->body.p, f->body.n) == 0;
}

/* A result the same as the remembered one: its status, headers and body. */
static void memo_apply(worker_t *w, pool_call_t *c, const frame_t *f)
{
    const result_memo_t *m = &w->memo;
    invocation_t *inv = c->inv;
    w->pool->consecutive_crashes = 0;
    inv->status = m->status;
    for (int k = 0; k < m->nheaders; k++)
        if (invocation_put_header(inv, sv_make(m->strs + m->h[k].name, m->h[k].name_len),
                                  sv_make(m->strs + m->h[k].value, m->h[k].value_len)) != 0) {
            c->done(inv, 0, "the response headers could not be stored", c->data);
            return;
        }
    int ok = result_body(w, f, inv);
    c->done(inv, ok, ok ? NULL : "the response is too large", c->data);
}

static void on_result(worker_t *w, const frame_t *f)
{
    pool_t *p = w->pool;
    if (w->outstanding && --w->outstanding == 0 && w->wbuf.len)
        pool__mark_dirty(w);
    pool_call_t *c = find_call(w, f->id);
    if (!c) {
        /* Already failed (timeout); the late answer is dropped, and a
         * cancelled invocation no longer holds the worker. */
        for (size_t i = 0; i < w->ncancelled; i++)
            if (w->cancelled[i].id == f->id) {
                pool__forget_cancelled(w, i);
                w->last_active = uv_now(p->loop);
                break;
            }
        return;
    }
    pool__list_remove(&w->inflight, c);
    p->running--;
    w->invocations++;
    w->last_active = uv_now(p->loop);
    invocation_t *inv = c->inv;
    inv->mem_bytes = w->rss_bytes;
    if (w->memo.n && f->meta.n == w->memo.n && !memcmp(f->meta.p, w->memo.text, w->memo.n)) {
        memo_apply(w, c, f);
        return;
    }
    jsmntok_t tok[RESULT_MAX_TOKENS], *big = NULL;
    jt_doc_t d;
    int rc = jt_parse(&d, f->meta.p, f->meta.n, tok, RESULT_MAX_TOKENS);
    if (rc != 0) {
        /* Many headers or outputs: a second try with room for them all. */
        int need = jt_count(f->meta.p, f->meta.n);
        if (need > RESULT_MAX_TOKENS && (big = arena_alloc(inv->arena, (size_t)need * sizeof *big)))
            rc = jt_parse(&d, f->meta.p, f->meta.n, big, need);
    }
    if (rc != 0) {
        pool__call_fail(c, 500, "the worker sent a malformed result");
        pool__worker_fail(w, "it sent a malformed result frame");
        return;
    }
    p->consecutive_crashes = 0;
    if (!jt_is_true(&d, jt_get(&d, 0, "ok"))) {
        sv_t e;
        if (jt_string(&d, jt_get(&d, 0, "error"), inv->arena, &e) != 0)
            e = SV_LIT("failed");
        char *reason = arena_strndup(inv->arena, e.p, e.n);
        inv->user_error = 1;
        c->done(inv, 0, reason ? reason : "failed", c->data);
        return;
    }
    long long status = 200;
    int st = jt_get(&d, 0, "status");
    if (st >= 0 && !jt_is_null(&d, st) &&
        (jt_int(&d, st, &status) != 0 || status < 200 || status > 599)) {
        /* A worker's own check missed it: never a different status. */
        sv_t raw = jt_raw(&d, st);
        char why[120];
        snprintf(why, sizeof why, "the response status %.*s%s is not a number from 200 to 599",
                 (int)(raw.n > 20 ? 20 : raw.n), raw.p, raw.n > 20 ? "..." : "");
        char *r = arena_strndup(inv->arena, why, strlen(why));
        c->done(inv, 0, r ? r : "bad response status", c->data);
        return;
    }
    inv->status = (int)status;
    int hs = jt_get(&d, 0, "headers");
    int n = hs >= 0 && d.tok[hs].type == JSMN_ARRAY ? d.tok[hs].size : 0;
    size_t had = inv->nres_headers;
    /* Only a result of ok, status and valid headers is remembered. */
    int plain = d.tok[0].size == 1 + (st >= 0) + (hs >= 0) &&
                n <= RESULT_MEMO_HEADERS && f->meta.n <= RESULT_MEMO_TEXT;
    for (int k = 0, j = hs + 1; k < n; k++, j = jt_skip(&d, j)) {
        sv_t hn, hv;
        if (d.tok[j].type != JSMN_ARRAY || d.tok[j].size != 2 ||
            jt_string(&d, j + 1, inv->arena, &hn) != 0 ||
            jt_string(&d, j + 2, inv->arena, &hv) != 0) {
            plain = 0;
            continue;
        }
        /* A worker must not be able to split the response: a header that
         * cannot be written as it is is left out, with a warning. */
        int added;
        if (invocation_header_ok(hn, hv)) {
            added = invocation_put_header(inv, hn, hv);
        } else {
            plain = 0;
            added = invocation_add_header(inv, hn, hv); /* left out, with a warning */
        }
        if (added != 0) {
            /* Never a response with some of its headers missing. */
            char why[80];
            snprintf(why, sizeof why, "the response has more than %d headers",
                     INVOCATION_MAX_RES_HEADERS);
            char *r = arena_strndup(inv->arena, why, strlen(why));
            c->done(inv, 0, r ? r : "too many response headers", c->data);
            return;
        }
    }
    if (plain)
        memo_store(w, f, inv, had);
    else
        w->memo.n = 0;
    if (inv->fn->has_io) {
        int ot = jt_get(&d, 0, "outputs");
        if (ot >= 0 && d.tok[ot].type == JSMN_OBJECT) {
            sv_t raw = jt_raw(&d, ot);
            json_decref(inv->outputs);
            inv->outputs = jt_loadb(raw.p, raw.n, JSON_ALLOW_NUL, NULL);
        }
    }
    int ok = result_body(w, f, inv);
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
    if (cat && !strcmp(cat, "Worker.Loading")) {
        snprintf(w->loading, sizeof w->loading, "%s", msg ? msg : "");
        json_decref(meta);
        return;
    }
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
        const char *rt = json_string_value(json_object_get(meta, "runtime"));
        json_int_t conc = json_integer_value(json_object_get(meta, "concurrency"));
        w->concurrency = conc >= 1 ? (size_t)conc : 1;
        w->sequential = w->concurrency == 1 || json_is_true(json_object_get(meta, "sequential"));
        char why[120];
        if (proto != FRAME_PROTOCOL_VERSION) {
            pool__worker_fail(w, "it speaks another protocol version");
        } else if (!rt || strcasecmp(rt, w->pool->runtime) != 0) {
            snprintf(why, sizeof why, "it serves the runtime '%.32s', not '%s'", rt ? rt : "",
                     w->pool->runtime);
            pool__worker_fail(w, why);
        }
        json_decref(meta);
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
        if (!w->exited && !w->stop_requested && w->pid) {
            if (kill(-w->pid, SIGKILL) != 0)
                kill(w->pid, SIGKILL);
            w->killed_at = uv_now(p->loop);
        }
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
        pool__dispatch(p);
    if (rc < 0 && !w->exited) {
        char reason[240];
        snprintf(reason, sizeof reason, "protocol error: %s", frame_decoder_error(&w->dec));
        pool__worker_kill(w, reason);
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

static void out_emit(void *ctx, const char *s, size_t n) { out_line(ctx, s, n); }

static void out_read_cb(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    worker_t *w = s->data;
    out_pipe_t *o = s == (uv_stream_t *)&w->out.pipe ? &w->out : &w->err;
    if (n > 0)
        lines_feed(&o->line, LINE_MAX_BYTES, b->base, (size_t)n, out_emit, o);
    else if (n < 0) {
        lines_end(&o->line, out_emit, o);
        uv_read_stop(s);
    }
    release(w->pool, b);
}

/* ---- worker lifecycle ---- */

static void handle_closed(uv_handle_t *h);
void pool__maybe_finish(pool_t *p);

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
    free(w->cancelled);
    free(w);
    pool__maybe_finish(p);
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
    /* The last queued_invokes calls were never written to the worker (a
     * sequential worker holds them until it answers; others until the
     * loop's turn ends): they go back to the front of the queue, in order,
     * for the next worker. The others fail. */
    for (size_t unsent = p->closing ? 0 : w->queued_invokes; unsent && w->inflight.tail;
         unsent--) {
        pool_call_t *c = w->inflight.tail;
        pool__list_remove(&w->inflight, c);
        p->running--;
        c->worker = NULL;
        pool__list_push_front(&p->queue, c);
    }
    w->queued_invokes = 0;
    while (w->inflight.head) {
        pool_call_t *c = w->inflight.head;
        pool__list_remove(&w->inflight, c);
        p->running--;
        pool__call_fail(c, 500, why);
    }
}

void pool__schedule_respawn(pool_t *p);

static void worker_exited(worker_t *w, int64_t status, int sig)
{
    pool_t *p = w->pool;
    if (w->exited)
        return;
    if (w->pid)
        child_guard_end(w->pid); /* what the worker started goes with it */
    char how[300];
    int n = sig ? snprintf(how, sizeof how, "killed by signal %d (%s)", sig, strsignal(sig))
                : snprintf(how, sizeof how, "exited with status %lld", (long long)status);
    /* Dead while it imported a function: that function's module is the
     * likely cause (sys.exit or process.exit at the top, a crash). */
    if (w->state == W_STARTING && w->loading[0] && n > 0 && (size_t)n < sizeof how)
        snprintf(how + n, sizeof how - (size_t)n, " while loading function '%.100s'",
                 w->loading);
    int unexpected = !w->stop_requested;
    int crashed = unexpected || w->failed;
    char why[600];
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
    p->cancelled -= w->ncancelled;
    w->ncancelled = 0;
    if (w->state == W_PLACEHOLDER)
        p->nplaceholders--;
    w->state = W_STOPPING;
    p->nworkers--;
    char reason[960];
    snprintf(reason, sizeof reason, "%s (%s)", why, how);
    worker_fail_all(w, reason);
    if (crashed) {
        p->crashes++;
        p->consecutive_crashes++;
        /* The next worker compiles afresh (and writes the cache anew). */
        if (p->cache_file[0] && unlink(p->cache_file) == 0)
            log_write(LOG_DEBUG, "Host.Scale", NULL, "removed %s after worker %d ended",
                      p->cache_file, w->seq);
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
        pool__schedule_respawn(p);
}

static void on_exit_cb(uv_process_t *proc, int64_t status, int sig)
{
    worker_exited(proc->data, status, sig);
}

void pool__worker_kill(worker_t *w, const char *reason)
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
    w->killed_at = uv_now(w->pool->loop);
}

void pool__worker_fail(worker_t *w, const char *reason)
{
    if (!w->exited && w->stop_requested != 2)
        w->failed = 1;
    pool__worker_kill(w, reason);
}

void pool__worker_stop(worker_t *w)
{
    if (w->exited || w->stop_requested)
        return;
    w->stop_requested = 1;
    w->state = W_STOPPING;
    w->stop_deadline = uv_now(w->pool->loop) + STOP_GRACE_MS;
    frame_encode(&w->wbuf, FRAME_SHUTDOWN, 0, NULL, 0, NULL, 0);
    pool__mark_dirty(w);
}

static long long memory_cap_mb(const pool_t *p)
{
    return p->limit_memory && p->app->worker_memory_mb > 0 ? (long long)p->app->worker_memory_mb : 0;
}

/* The environment of a worker: the host's, without the host's own secrets
 * (user code never sees the master key) and with the worker's variables,
 * the app's folder in AzureWebJobsScriptRoot among them (as Azure's hosts
 * give it). child_env_free(env, *added) releases it. */
static char **worker_env(pool_t *p, int seq, int fork_server, size_t *added)
{
    char id[32], memory[32];
    snprintf(id, sizeof id, "%d", seq);
    snprintf(memory, sizeof memory, "%lld", memory_cap_mb(p));
    const char *set[][2] = {
        {"STRATUS_WORKER_FD", "3"},
        {"STRATUS_WORKER_ID", id},
        {"STRATUS_APP_ROOT", p->app->root},
        {"STRATUS_WORKER_MEMORY_MB", memory},
        {"AzureWebJobsScriptRoot", p->app->root},
        {"STRATUS_FORK_SERVER", "1"},
    };
    *added = fork_server ? 6 : 5;
    return child_env_new((const char *const (*)[2])set, *added, NULL);
}

/* `stratus worker [--fork-server] [--exec PROGRAM ARGS...]` (the strings
 * are the pool's); free() the array. NULL when out of memory. */
static char **worker_args(pool_t *p, int fork_server)
{
    char **a = calloc(p->argc + 5, sizeof *a);
    if (!a)
        return NULL;
    size_t k = 0;
    a[k++] = p->exe;
    a[k++] = "worker";
    if (fork_server)
        a[k++] = "--fork-server";
    if (p->argc) {
        a[k++] = "--exec";
        for (size_t i = 0; i < p->argc; i++)
            a[k++] = p->argv[i];
    }
    a[k] = NULL;
    return a;
}

/* Spawn `stratus worker` (the fork server with fork_server set, else worker
 * seq) into proc with stdio[4] (the channel on fd 3), detached, in the app
 * folder. A libuv error code. */
static int spawn_worker(pool_t *p, uv_process_t *proc, uv_stdio_container_t *stdio, int seq,
                        int fork_server, uv_exit_cb exit_cb)
{
    char **args = worker_args(p, fork_server);
    size_t added = 0;
    char **env = args ? worker_env(p, seq, fork_server, &added) : NULL;
    uv_process_options_t o;
    memset(&o, 0, sizeof o);
    o.file = child_exec_file(p->exe);
    o.args = args;
    o.env = env;
    o.cwd = p->app->root;
    o.flags = UV_PROCESS_DETACHED;
    o.stdio_count = 4;
    o.stdio = stdio;
    o.exit_cb = exit_cb;
    int rc = env ? uv_spawn(p->loop, proc, &o) : UV_ENOMEM;
    if (env)
        child_env_free(env, added);
    free(args);
    return rc;
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
    int n = snprintf(line, sizeof line, "spawn %d %lld\n", w->seq, memory_cap_mb(p));
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
            child_guard_add(p->loop, b);
            if (w->kill_pending) {
                if (kill(-b, SIGKILL) != 0)
                    kill(b, SIGKILL);
                w->killed_at = uv_now(p->loop);
            }
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

void pool__handle_closed(uv_handle_t *h);
void pool__schedule_respawn(pool_t *p);

static void fs_exit_cb(uv_process_t *proc, int64_t status, int sig)
{
    pool_t *p = proc->data;
    p->fs_up = 0;
    p->fs_exited = 1;
    if (!p->closing)
        log_write(LOG_WARN, "Host.Scale", NULL, "The fork server exited (status %lld, signal "
                  "%d); workers are started as new processes from now on", (long long)status, sig);
    uv_close((uv_handle_t *)proc, pool__handle_closed);
    if (!uv_is_closing((uv_handle_t *)&p->fs_ctl))
        uv_close((uv_handle_t *)&p->fs_ctl, pool__handle_closed);
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
    pool__maybe_finish(p);
}

/* The fork server forks a worker, and reports its end, within about a
 * millisecond. One that has not named a worker it was asked for, or not
 * reported the end of one killed, for FS_ANSWER_MS hangs (stopped, or
 * stuck): so would every worker asked of it, every invocation given to
 * them and the host's own stop. Kill it; its exit ends those workers, and
 * new ones are started as processes. */
void pool__fs_check(pool_t *p)
{
    if (!p->fs_up)
        return;
    uint64_t now = uv_now(p->loop);
    for (worker_t *w = p->workers; w; w = w->next) {
        if (!w->via_fs || w->exited)
            continue;
        const char *what = NULL;
        if (!w->pid && (uv_hrtime() - w->spawn_ns) / 1000000 >= FS_ANSWER_MS)
            what = "start";
        else if (w->killed_at && now - w->killed_at >= FS_ANSWER_MS)
            what = "report the end of";
        if (!what)
            continue;
        /* Seen on two checks in a row: a loop that was busy for a while
         * runs this timer before it reads what the fork server wrote. */
        if (!p->fs_suspect++)
            return;
        log_write(LOG_WARN, "Host.Scale", NULL, "The fork server did not %s worker %d within "
                  "%d ms; stopping it", what, w->seq, FS_ANSWER_MS);
        for (worker_t *x = p->workers; x; x = x->next)
            if (x->via_fs && !x->exited && !x->pid && !x->reason[0])
                snprintf(x->reason, sizeof x->reason, "the fork server did not start it");
        p->fs_up = 0;
        uv_process_kill(&p->fs_proc, SIGKILL);
        return;
    }
    p->fs_suspect = 0;
}

/* Start the fork server (best effort: without it, workers are started as
 * processes). */
void pool__fs_start(pool_t *p)
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
    int rc = spawn_worker(p, &p->fs_proc, stdio, 0, 1, fs_exit_cb);
    p->fs_started = 1;
    p->handles_open += 2;
    if (rc != 0) {
        log_write(LOG_WARN, "Host.Scale", NULL, "cannot start the fork server: %s; workers are "
                  "started as new processes", uv_strerror(rc));
        p->fs_exited = 1;
        uv_close((uv_handle_t *)&p->fs_ctl, pool__handle_closed);
        p->handles_open--; /* the process handle was never initialised */
        return;
    }
    uv_read_start((uv_stream_t *)&p->fs_ctl, fs_alloc_cb, fs_read_cb);
    p->fs_up = 1;
}

worker_t *pool__worker_spawn(pool_t *p, int placeholder)
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
            p->nplaceholders++;
        else
            pool__send_load(w);
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
    w->spawn_ns = uv_hrtime();
    int rc = spawn_worker(p, &w->proc, stdio, w->seq, 0, on_exit_cb);
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
    child_guard_add(p->loop, w->pid);
    w->state = placeholder ? W_PLACEHOLDER : W_STARTING;
    w->last_active = uv_now(p->loop);
    p->nworkers++;
    uv_read_start((uv_stream_t *)&w->chan, alloc_cb, chan_read_cb);
    uv_read_start((uv_stream_t *)&w->out.pipe, alloc_cb, out_read_cb);
    uv_read_start((uv_stream_t *)&w->err.pipe, alloc_cb, out_read_cb);
    if (placeholder)
        p->nplaceholders++;
    else
        pool__send_load(w);
    log_write(LOG_DEBUG, "Host.Scale", NULL, "Started %s %d (pid %d)",
              placeholder ? "placeholder worker" : "worker", w->seq, w->pid);
    return w;
}
