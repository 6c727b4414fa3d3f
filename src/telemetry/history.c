/*
 * history.c -- the invocation history's loop side (see history.h): the
 * buffer of records, the timer that writes them to the store in batches,
 * retention, and the capture of each invocation's log lines.
 *
 * One host per process: the state is a file-level static owned by the
 * loop thread.
 */
#include "history.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../core/invocation.h"
#include "../util/buf.h"
#include "log.h"

#define BUCKETS 1024

typedef struct capture {
    struct capture *next;
    char id[UUID_STR_LEN];
    int64_t touched_ms;
    buf_t text;
    unsigned lines;
    unsigned more; /* lines that did not fit */
} capture_t;

#define NAME_BUCKETS 64
#define NAMES_MAX 4096

/* A function or trigger name kept for the records (one copy per name,
 * not per record); freed when the history stops. */
typedef struct name {
    struct name *next;
    char s[];
} name_t;

static struct {
    int running;
    uv_loop_t *loop;
    store_t *st;
    history_config_t cfg;
    uv_timer_t flush_timer, prune_timer;
    int timers_open;

    store_inv_t *pending; /* records not yet submitted: a ring of cap slots */
    size_t head, npending, cap;
    int put_busy; /* puts in flight */
    store_req_t prune_req;
    int prune_busy;
    uint64_t since_prune; /* records written since the last prune */
    uint64_t last_prune;  /* uv_now() of the last prune */
    int warned;           /* a failed write was logged (once per minute at most) */

    capture_t *buckets[BUCKETS];
    size_t ncaptures;

    name_t *names[NAME_BUCKETS]; /* function and trigger names the records point to */
    size_t nnames;
    struct {
        const char *in, *out; /* intern's last answers (names_clear forgets them) */
    } last[4];

    history_stats_t stats;
} H;

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- capture ------------------------------------------------------------------ */

/* FNV-1a of a string: the hash of both tables here. */
static unsigned fnv1a(const char *s)
{
    unsigned h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

static unsigned bucket_of(const char *id) { return fnv1a(id) % BUCKETS; }

static capture_t **find_slot(const char *id)
{
    capture_t **p = &H.buckets[bucket_of(id)];
    while (*p && strcmp((*p)->id, id) != 0)
        p = &(*p)->next;
    return p;
}

static void capture_free(capture_t *c)
{
    buf_free(&c->text);
    free(c);
}

void history_capture_line(const char *id, int level, const char *category, const char *msg,
                          size_t len)
{
    static const char *names[] = {"trace", "debug", "info", "warning", "error", "critical"};
    if (!id || strlen(id) >= UUID_STR_LEN)
        return;
    capture_t **slot = find_slot(id), *c = *slot;
    if (!c) {
        if (H.ncaptures >= HISTORY_CAPTURES_MAX || !(c = calloc(1, sizeof *c)))
            return;
        snprintf(c->id, sizeof c->id, "%s", id);
        buf_init(&c->text, HISTORY_LOG_BYTES + 64);
        *slot = c;
        H.ncaptures++;
    }
    int64_t now = wall_ms();
    c->touched_ms = now;
    if (c->lines >= HISTORY_LOG_LINES) {
        c->more++;
        return;
    }
    char ts[32];
    time_t sec = (time_t)(now / 1000);
    struct tm tm;
    gmtime_r(&sec, &tm);
    strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
    if (level < 0 || level > LOG_CRITICAL)
        level = level < 0 ? 0 : LOG_CRITICAL;
    size_t at = c->text.len;
    if (len > HISTORY_LINE_MAX)
        len = HISTORY_LINE_MAX;
    int rc = buf_printf(&c->text, "%s.%03dZ %s %s: ", ts, (int)(now % 1000), names[level],
                        category ? category : "");
    if (rc == 0)
        rc = buf_append(&c->text, msg, len);
    if (rc == 0)
        rc = buf_putc(&c->text, '\n');
    if (rc != 0 || c->text.len > HISTORY_LOG_BYTES) {
        c->text.len = at; /* does not fit: counted, not kept */
        if (c->text.p)
            c->text.p[at] = '\0';
        c->more++;
        c->lines = HISTORY_LOG_LINES; /* later lines do not fit either */
        return;
    }
    for (size_t i = at; i + 1 < c->text.len; i++) /* one entry, one line */
        if (c->text.p[i] == '\n' || c->text.p[i] == '\r')
            c->text.p[i] = ' ';
    c->lines++;
}

char *history_capture_take(const char *id)
{
    if (!H.ncaptures)
        return NULL;
    capture_t **slot = find_slot(id), *c = *slot;
    if (!c)
        return NULL;
    *slot = c->next;
    H.ncaptures--;
    if (c->more)
        buf_printf(&c->text, "... %u more line%s\n", c->more, c->more == 1 ? "" : "s");
    char *text = c->text.len ? buf_steal(&c->text) : NULL;
    capture_free(c);
    return text;
}

/* Drop captures left alone for HISTORY_CAPTURE_IDLE_MS (lines of an
 * invocation whose end never came, or that came after it ended). */
static void capture_sweep(int64_t now)
{
    for (size_t b = 0; b < BUCKETS && H.ncaptures; b++)
        for (capture_t **p = &H.buckets[b]; *p;) {
            capture_t *c = *p;
            if (now - c->touched_ms > HISTORY_CAPTURE_IDLE_MS) {
                *p = c->next;
                capture_free(c);
                H.ncaptures--;
            } else {
                p = &c->next;
            }
        }
}

void history_capture_clear(void)
{
    for (size_t b = 0; b < BUCKETS; b++)
        while (H.buckets[b]) {
            capture_t *c = H.buckets[b];
            H.buckets[b] = c->next;
            capture_free(c);
        }
    H.ncaptures = 0;
}

static void on_log_line(int level, const char *category, const char *invocation_id,
                        const char *message, size_t len, void *data)
{
    (void)data;
    history_capture_line(invocation_id, level, category, message, len);
}

/* ---- records ------------------------------------------------------------------ */

static void flush_cb(uv_timer_t *t);
static void prune_cb(uv_timer_t *t);

static void schedule(void);

/* The kept copy of name (made on first use), or NULL. */
static const char *intern_lookup(const char *name);

/* The interned copy of name. Every record asks twice (its function and its
 * trigger), mostly with the same pointers: the last answers are kept by
 * pointer, and checked (a reload may free a name and reuse its memory). */
static const char *intern(const char *name)
{
    size_t k = ((uintptr_t)name >> 4) & 3;
    if (H.last[k].in == name && H.last[k].out && strcmp(H.last[k].out, name) == 0)
        return H.last[k].out;
    const char *out = intern_lookup(name);
    H.last[k].in = name;
    H.last[k].out = out;
    return out;
}

static const char *intern_lookup(const char *name)
{
    name_t **slot = &H.names[fnv1a(name) % NAME_BUCKETS];
    for (name_t *n = *slot; n; n = n->next)
        if (strcmp(n->s, name) == 0)
            return n->s;
    size_t len = strlen(name);
    name_t *n = H.nnames < NAMES_MAX ? malloc(sizeof *n + len + 1) : NULL;
    if (!n)
        return NULL;
    memcpy(n->s, name, len + 1);
    n->next = *slot;
    *slot = n;
    H.nnames++;
    return n->s;
}

static void names_clear(void)
{
    for (size_t b = 0; b < NAME_BUCKETS; b++)
        while (H.names[b]) {
            name_t *n = H.names[b];
            H.names[b] = n->next;
            free(n);
        }
    H.nnames = 0;
    memset(H.last, 0, sizeof H.last);
}

static void record_free(store_inv_t *r)
{
    free(r->error);
    free(r->logs);
}

/* A copy of the first max bytes of s, cut at a UTF-8 character boundary. */
static char *dup_bounded(const char *s, size_t max)
{
    size_t n = strnlen(s, max + 1);
    if (n > max) {
        n = max;
        while (n && ((unsigned char)s[n] & 0xc0) == 0x80)
            n--;
    }
    char *c = malloc(n + 1);
    if (c) {
        memcpy(c, s, n);
        c[n] = '\0';
    }
    return c;
}

/* Records retention would delete at once are not written: when the
 * count limit is below the buffer's, the buffer keeps the newest max_count
 * and a new record replaces the oldest (superseded, not lost: the same
 * records remain as if all had been written and pruned). */
static int superseding(void)
{
    return H.cfg.max_count > 0 && H.cfg.max_count <= HISTORY_PENDING_MAX;
}

static size_t pending_limit(void)
{
    return superseding() ? (size_t)H.cfg.max_count : HISTORY_PENDING_MAX;
}

static store_inv_t *slot(size_t i) { return &H.pending[(H.head + i) % H.cap]; }

/* Room for one more record: 0, or -1 (the new record is dropped). */
static int make_room(void)
{
    if (H.npending >= pending_limit()) {
        if (!superseding())
            return -1;
        record_free(slot(0));
        H.head = (H.head + 1) % H.cap;
        H.npending--;
        H.stats.superseded++;
    }
    if (H.npending < H.cap)
        return 0;
    size_t ncap = H.cap ? H.cap * 2 : HISTORY_KEEP_CAP;
    if (ncap > pending_limit())
        ncap = pending_limit();
    store_inv_t *grown = malloc(ncap * sizeof *grown);
    if (!grown)
        return -1;
    for (size_t i = 0; i < H.npending; i++) /* in order, from 0 */
        grown[i] = *slot(i);
    free(H.pending);
    H.pending = grown;
    H.cap = ncap;
    H.head = 0;
    return 0;
}

void history_record(invocation_t *inv, int ok, int status, uint64_t duration_ns,
                    const char *reason)
{
    if (!H.running || !inv->fn) {
        free(history_capture_take(inv->id));
        return;
    }
    if (make_room() != 0) {
        free(history_capture_take(inv->id));
        H.stats.dropped++;
        return;
    }
    /* Copies: the record is written up to a second later, and a reload may
     * free the function it came from before that. */
    const char *function = intern(inv->fn->name);
    const char *trigger = intern(inv->trigger_type ? inv->trigger_type
                                 : inv->fn->trigger ? inv->fn->trigger->type : "");
    if (!function || !trigger) {
        free(history_capture_take(inv->id));
        H.stats.dropped++;
        return;
    }
    store_inv_t *r = slot(H.npending++);
    memcpy(r->id, inv->id, sizeof r->id);
    r->function = (char *)function; /* interned: not freed with the record */
    r->trigger = (char *)trigger;
    r->duration_us = (int64_t)(duration_ns / 1000);
    r->start_ms = wall_ms() - (int64_t)(duration_ns / 1000000);
    r->ok = ok;
    r->http_status = status;
    r->error = reason ? dup_bounded(reason, STORE_HISTORY_ERROR_MAX) : NULL;
    memcpy(r->traceparent, inv->traceparent, sizeof r->traceparent);
    r->logs = history_capture_take(inv->id);
    schedule();
}

/* ---- writing and retention ------------------------------------------------------- */

static void warn_failed(const char *what, const char *err)
{
    if (H.warned)
        return;
    H.warned = 1; /* again after the next prune tick at the earliest */
    log_write(LOG_WARN, "Host.History", NULL, "invocation history: %s: %s", what, err);
}

static void prune_done(store_req_t *req)
{
    H.prune_busy = 0;
    if (req->status != STORE_OK)
        warn_failed("retention failed", req->err);
    store_req_cleanup(req);
}

static void prune(void)
{
    if (H.prune_busy || !H.st || (H.cfg.max_count < 0 && H.cfg.max_age_ms < 0))
        return;
    H.since_prune = 0;
    H.last_prune = uv_now(H.loop);
    if (store_history_prune(H.st, &H.prune_req, H.cfg.max_count, H.cfg.max_age_ms,
                            prune_done) == STORE_OK)
        H.prune_busy = 1;
    else
        store_req_cleanup(&H.prune_req);
}

/* Prune again once this many records came in (a tenth of the count
 * limit, so the table stays within about 110% of it), at most every
 * HISTORY_PRUNE_MIN_MS. */
static uint64_t prune_every(void)
{
    if (H.cfg.max_count < 0)
        return UINT64_MAX;
    return H.cfg.max_count >= 10 ? (uint64_t)H.cfg.max_count / 10 : 1;
}

static void put_done(store_req_t *req)
{
    size_t n = req->in.n_invs;
    if (req->status == STORE_OK) {
        H.stats.written += (uint64_t)req->count;
        H.since_prune += (uint64_t)req->count;
    } else {
        H.stats.dropped += n;
        warn_failed("records not written", req->err);
    }
    store_req_cleanup(req);
    free(req);
    if (H.put_busy)
        H.put_busy--;
    if (!H.running)
        return;
    if (H.since_prune >= prune_every()) {
        uint64_t since = uv_now(H.loop) - H.last_prune;
        if (since >= HISTORY_PRUNE_MIN_MS)
            prune();
        else /* soon: the periodic timer fires early, then keeps its period */
            uv_timer_start(&H.prune_timer, prune_cb, HISTORY_PRUNE_MIN_MS - since,
                           HISTORY_PRUNE_MS);
    }
    schedule();
}

/* Submit the oldest buffered records (up to HISTORY_BATCH, as far as the
 * ring's end) in one put. 0 when submitted (or nothing to do), -1 when the
 * store refused for now. */
static int submit(void)
{
    if (!H.npending || !H.st)
        return 0;
    size_t n = H.npending < HISTORY_BATCH ? H.npending : HISTORY_BATCH;
    if (n > H.cap - H.head)
        n = H.cap - H.head;
    store_req_t *req = calloc(1, sizeof *req);
    if (!req)
        return -1;
    int rc = store_history_put(H.st, req, slot(0), n, put_done);
    if (rc == STORE_EFULL) {
        store_req_cleanup(req);
        free(req);
        return -1; /* the store is busy: the records wait for the next tick */
    }
    if (rc != STORE_OK) {
        H.stats.dropped += n;
        warn_failed("records not written", req->err);
        store_req_cleanup(req);
        free(req);
    } else {
        H.put_busy++;
    }
    for (size_t i = 0; i < n; i++)
        record_free(slot(i));
    H.head = (H.head + n) % H.cap;
    H.npending -= n;
    if (!H.npending) {
        H.head = 0;
        if (H.cap > HISTORY_KEEP_CAP) {
            /* A burst is over: give its memory back. */
            store_inv_t *small = realloc(H.pending, HISTORY_KEEP_CAP * sizeof *small);
            if (small) {
                H.pending = small;
                H.cap = HISTORY_KEEP_CAP;
            }
        }
    }
    return 0;
}

/* What the buffer needs next (put_done calls this again). Without a
 * count limit to supersede by, a put as soon as a batch waits. Else the
 * tick: HISTORY_FLUSH_MS after the first record, and while a batch or more
 * waits, one put every HISTORY_PACE_MS. Under load the writes are thus
 * spread over the second in a few puts of a batch each (the records that
 * wait longer are superseded), neither a put per store round trip nor a
 * second's worth at once. */
static void schedule(void)
{
    if (!H.npending || H.put_busy || !H.running)
        return;
    if (!superseding() && H.npending >= HISTORY_BATCH && submit() == 0) {
        if (H.put_busy)
            uv_timer_stop(&H.flush_timer);
        return;
    }
    uint64_t delay = H.npending >= HISTORY_BATCH ? HISTORY_PACE_MS : HISTORY_FLUSH_MS;
    if (!uv_is_active((uv_handle_t *)&H.flush_timer) ||
        uv_timer_get_due_in(&H.flush_timer) > delay)
        uv_timer_start(&H.flush_timer, flush_cb, delay, 0);
}

static void flush_cb(uv_timer_t *t)
{
    if (H.put_busy)
        return; /* put_done schedules the next */
    if (submit() != 0 && H.running)
        uv_timer_start(t, flush_cb, HISTORY_FLUSH_MS, 0);
}

static void prune_cb(uv_timer_t *t)
{
    (void)t;
    H.warned = 0;
    capture_sweep(wall_ms());
    prune();
}

/* ---- lifecycle ---------------------------------------------------------------- */

int history_start(uv_loop_t *loop, store_t *st, const history_config_t *cfg)
{
    if (H.running || !st)
        return -1;
    H.loop = loop;
    H.st = st;
    H.cfg = *cfg;
    if (log_observe(on_log_line, NULL, 0) != 0)
        return -1;
    uv_timer_init(loop, &H.flush_timer);
    uv_timer_init(loop, &H.prune_timer);
    /* Neither keeps the loop alive on its own: the host stops it. */
    uv_unref((uv_handle_t *)&H.flush_timer);
    uv_unref((uv_handle_t *)&H.prune_timer);
    H.timers_open = 1;
    uv_timer_start(&H.prune_timer, prune_cb, HISTORY_PRUNE_MS, HISTORY_PRUNE_MS);
    H.running = 1;
    prune(); /* what aged while the host was down */
    return 0;
}

void history_stop(void)
{
    if (!H.running)
        return;
    H.running = 0;
    log_unobserve(on_log_line, NULL);
    if (H.timers_open) {
        uv_close((uv_handle_t *)&H.flush_timer, NULL);
        uv_close((uv_handle_t *)&H.prune_timer, NULL);
        H.timers_open = 0;
    }
    /* Everything buffered, whatever is in flight already. */
    H.put_busy = 0;
    while (H.npending && submit() == 0)
        ;
    H.stats.dropped += H.npending;
    for (size_t i = 0; i < H.npending; i++)
        record_free(slot(i));
    free(H.pending);
    H.pending = NULL;
    H.head = H.npending = H.cap = 0;
    history_capture_clear();
    names_clear();
    H.st = NULL;
}

store_t *history_store(void) { return H.running ? H.st : NULL; }

void history_flush(void)
{
    if (H.running)
        while (H.npending && submit() == 0)
            ;
}

void history_stats(history_stats_t *out)
{
    *out = H.stats;
    out->pending = H.npending;
}
