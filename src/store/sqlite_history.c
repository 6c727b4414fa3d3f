/*
 * sqlite_history.c -- the SQLite store backend's invocation history (the
 * invocation_batch table of schema version 3, see sqlite.c).
 *
 * A put is one row (a batch): its records packed in one blob, oldest
 * first, so recording costs one insert per batch however many
 * invocations it holds, and retention deletes whole rows (a batch partly
 * beyond the count limit is rewritten without its oldest records). Lists
 * and gets read the batches newest first and unpack them; the history is
 * bounded by its retention, so a read touches at most that much.
 *
 * The blob: one byte, the format (1); then per record a little-endian
 * u32 length of what follows, i64 start_ms, i64 duration_us, u8 ok, u16
 * http_status, then the strings id, function, trigger, traceparent,
 * error and logs, each a u32 length (0xffffffff: NULL) and its bytes.
 */
#include "sqlite_priv.h"

#include <stdlib.h>
#include <string.h>

#define FORMAT 1
#define NO_STRING 0xffffffffu
#define FIXED (8 + 8 + 1 + 2)

/* ---- packing -------------------------------------------------------------- */

typedef struct pack {
    unsigned char *p;
    size_t len, cap;
    int oom;
} pack_t;

static void put_bytes(pack_t *b, const void *p, size_t n)
{
    if (b->oom)
        return;
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 4096;
        while (cap < b->len + n)
            cap *= 2;
        unsigned char *g = realloc(b->p, cap);
        if (!g) {
            b->oom = 1;
            return;
        }
        b->p = g;
        b->cap = cap;
    }
    memcpy(b->p + b->len, p, n);
    b->len += n;
}

static void put_u(pack_t *b, uint64_t v, int bytes)
{
    unsigned char t[8];
    for (int i = 0; i < bytes; i++)
        t[i] = (unsigned char)(v >> (8 * i));
    put_bytes(b, t, (size_t)bytes);
}

static void put_str(pack_t *b, const char *s)
{
    if (!s) {
        put_u(b, NO_STRING, 4);
        return;
    }
    size_t n = strlen(s);
    put_u(b, n, 4);
    put_bytes(b, s, n);
}

static void pack_record(pack_t *b, const store_inv_t *v)
{
    size_t at = b->len;
    put_u(b, 0, 4); /* the length, patched below */
    put_u(b, (uint64_t)v->start_ms, 8);
    put_u(b, (uint64_t)v->duration_us, 8);
    put_u(b, v->ok ? 1 : 0, 1);
    put_u(b, (uint64_t)(v->http_status & 0xffff), 2);
    put_str(b, v->id);
    put_str(b, v->function);
    put_str(b, v->trigger ? v->trigger : "");
    put_str(b, v->traceparent);
    put_str(b, v->error);
    put_str(b, v->logs);
    if (!b->oom) {
        uint32_t n = (uint32_t)(b->len - at - 4);
        for (int i = 0; i < 4; i++)
            b->p[at + i] = (unsigned char)(n >> (8 * i));
    }
}

/* ---- unpacking -------------------------------------------------------------- */

typedef struct view {
    const unsigned char *p; /* bytes of one record, after its length */
    size_t n;
} view_t;

typedef struct field {
    const char *p;
    size_t n;
    int null;
} field_t;

typedef struct rec {
    int64_t start_ms, duration_us;
    int ok, http_status;
    field_t id, function, trigger, traceparent, error, logs;
} rec_t;

static uint64_t get_u(const unsigned char *p, int bytes)
{
    uint64_t v = 0;
    for (int i = 0; i < bytes; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

/* The records of a blob, in order, into *out (malloc'd); their number,
 * or -1 out of memory. A damaged tail ends the list where it starts. */
static long split(const unsigned char *blob, size_t n, view_t **out)
{
    *out = NULL;
    if (n < 1 || blob[0] != FORMAT)
        return 0;
    size_t at = 1, cap = 0;
    long count = 0;
    while (at + 4 <= n) {
        size_t len = (size_t)get_u(blob + at, 4);
        if (len > n - at - 4)
            break;
        if ((size_t)count == cap) {
            cap = cap ? cap * 2 : 64;
            view_t *g = realloc(*out, cap * sizeof *g);
            if (!g) {
                free(*out);
                *out = NULL;
                return -1;
            }
            *out = g;
        }
        (*out)[count++] = (view_t){blob + at + 4, len};
        at += 4 + len;
    }
    return count;
}

static int get_field(const view_t *v, size_t *at, field_t *f)
{
    if (*at + 4 > v->n)
        return -1;
    uint32_t len = (uint32_t)get_u(v->p + *at, 4);
    *at += 4;
    f->null = len == NO_STRING;
    f->p = f->null ? NULL : (const char *)v->p + *at;
    f->n = f->null ? 0 : len;
    if (f->n > v->n - *at)
        return -1;
    *at += f->n;
    return 0;
}

static int unpack(const view_t *v, rec_t *r)
{
    if (v->n < FIXED)
        return -1;
    r->start_ms = (int64_t)get_u(v->p, 8);
    r->duration_us = (int64_t)get_u(v->p + 8, 8);
    r->ok = v->p[16] != 0;
    r->http_status = (int)get_u(v->p + 17, 2);
    size_t at = FIXED;
    return get_field(v, &at, &r->id) || get_field(v, &at, &r->function) ||
                   get_field(v, &at, &r->trigger) || get_field(v, &at, &r->traceparent) ||
                   get_field(v, &at, &r->error) || get_field(v, &at, &r->logs)
               ? -1
               : 0;
}

static int field_is(const field_t *f, const char *s)
{
    size_t n = strlen(s);
    return !f->null && f->n == n && memcmp(f->p, s, n) == 0;
}

static char *field_dup(const field_t *f, int *oom)
{
    if (f->null)
        return NULL;
    char *c = malloc(f->n + 1);
    if (!c) {
        *oom = 1;
        return NULL;
    }
    memcpy(c, f->p, f->n);
    c[f->n] = '\0';
    return c;
}

static int materialize(const rec_t *r, store_inv_t *v, int with_logs)
{
    int oom = 0;
    memset(v, 0, sizeof *v);
    memcpy(v->id, r->id.p, r->id.n < sizeof v->id - 1 ? r->id.n : sizeof v->id - 1);
    memcpy(v->traceparent, r->traceparent.p,
           r->traceparent.n < sizeof v->traceparent - 1 ? r->traceparent.n
                                                        : sizeof v->traceparent - 1);
    v->function = field_dup(&r->function, &oom);
    v->trigger = field_dup(&r->trigger, &oom);
    v->error = field_dup(&r->error, &oom);
    if (with_logs)
        v->logs = field_dup(&r->logs, &oom);
    v->start_ms = r->start_ms;
    v->duration_us = r->duration_us;
    v->ok = r->ok;
    v->http_status = r->http_status;
    return oom || !v->function ? -1 : 0;
}

/* ---- operations ----------------------------------------------------------------- */

static int insert_batch(sq_t *s, pack_t *b, int64_t first, int64_t last, int64_t count)
{
    sqlite3_stmt *st = s->stmt[SQ_HIST_PUT];
    sqlite3_bind_int64(st, 1, first);
    sqlite3_bind_int64(st, 2, last);
    sqlite3_bind_int64(st, 3, count);
    sqlite3_bind_blob64(st, 4, b->p, b->len, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static int hist_put(sq_t *s, store_req_t *r)
{
    pack_t b = {0};
    int64_t first = INT64_MAX, last = INT64_MIN, count = 0;
    int rc = SQLITE_OK;
    for (size_t i = 0; i < r->in.n_invs && rc == SQLITE_OK; i++) {
        const store_inv_t *v = &r->in.invs[i];
        if (!b.len)
            put_u(&b, FORMAT, 1);
        pack_record(&b, v);
        first = v->start_ms < first ? v->start_ms : first;
        last = v->start_ms > last ? v->start_ms : last;
        count++;
        if (b.oom)
            rc = SQLITE_NOMEM;
        else if (b.len >= STORE_HISTORY_BATCH_BYTES || i + 1 == r->in.n_invs) {
            rc = insert_batch(s, &b, first, last, count);
            r->count += count;
            b.len = 0;
            first = INT64_MAX, last = INT64_MIN, count = 0;
        }
    }
    free(b.p);
    if (rc != SQLITE_OK)
        r->count = 0;
    return rc;
}

static int passes(const store_req_t *r, const rec_t *rec)
{
    if (r->in.key && !field_is(&rec->function, r->in.key))
        return 0;
    if (r->in.status != STORE_HISTORY_ANY && rec->ok != r->in.status)
        return 0;
    return rec->start_ms >= r->in.since_ms;
}

static int hist_list(sq_t *s, store_req_t *r)
{
    r->invs = calloc(r->in.max, sizeof *r->invs);
    if (!r->invs)
        return SQLITE_NOMEM;
    sqlite3_stmt *st = s->stmt[SQ_HIST_SCAN];
    sqlite3_bind_int64(st, 1, r->in.after_batch);
    int rc, done = 0;
    while (!done && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t seq = sqlite3_column_int64(st, 0);
        if (r->in.since_ms && sqlite3_column_int64(st, 1) < r->in.since_ms)
            continue; /* all started before: the blob is not even read */
        const unsigned char *blob = sqlite3_column_blob(st, 3);
        view_t *views;
        long n = split(blob, (size_t)sqlite3_column_bytes(st, 3), &views);
        if (n < 0) {
            rc = SQLITE_NOMEM;
            break;
        }
        for (long i = n - 1; i >= 0 && !done; i--) {
            int from_end = (int)(n - 1 - i);
            if (seq == r->in.after_batch && from_end <= r->in.after_index)
                continue;
            rec_t rec;
            if (unpack(&views[i], &rec) != 0 || !passes(r, &rec))
                continue;
            if (r->n_invs == r->in.max) {
                r->truncated = 1;
                done = 1;
                break;
            }
            if (materialize(&rec, &r->invs[r->n_invs++], 0) != 0) {
                free(views);
                sqlite3_reset(st);
                return SQLITE_NOMEM;
            }
            r->next_batch = seq;
            r->next_index = from_end;
        }
        free(views);
    }
    if (done)
        rc = SQLITE_DONE;
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static int hist_get(sq_t *s, store_req_t *r)
{
    sqlite3_stmt *st = s->stmt[SQ_HIST_SCAN];
    sqlite3_bind_int64(st, 1, INT64_MAX);
    int rc, found = 0;
    while (!found && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        view_t *views;
        long n = split(sqlite3_column_blob(st, 3), (size_t)sqlite3_column_bytes(st, 3), &views);
        if (n < 0) {
            rc = SQLITE_NOMEM;
            break;
        }
        for (long i = n - 1; i >= 0 && !found; i--) {
            rec_t rec;
            if (unpack(&views[i], &rec) != 0 || !field_is(&rec.id, r->in.id))
                continue;
            found = 1;
            r->invs = calloc(1, sizeof *r->invs);
            if (!r->invs || materialize(&rec, &r->invs[0], 1) != 0)
                rc = SQLITE_NOMEM;
            else
                rc = SQLITE_DONE;
            if (r->invs)
                r->n_invs = 1;
        }
        free(views);
    }
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return rc;
    if (!found)
        store__fail(r, STORE_ENOTFOUND, "no invocation %s in the history (never recorded, or "
                    "removed by retention)", r->in.id);
    return SQLITE_OK;
}

/* Batches whose records all started before cutoff, in chunks. */
static int prune_age(sq_t *s, store_req_t *r, int64_t cutoff)
{
    sqlite3_stmt *st = s->stmt[SQ_HIST_PRUNE_AGE];
    for (int chunk = 0; chunk < 10; chunk++) {
        int64_t removed = 0; /* the records of the batches, from RETURNING */
        sqlite3_bind_int64(st, 1, cutoff);
        sqlite3_bind_int64(st, 2, STORE_HISTORY_PRUNE_CHUNK);
        int rc;
        int rows = 0;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
            removed += sqlite3_column_int64(st, 0);
            rows++;
        }
        sqlite3_reset(st);
        if (rc != SQLITE_DONE)
            return rc;
        r->count += removed;
        if (rows < STORE_HISTORY_PRUNE_CHUNK)
            break;
    }
    return SQLITE_OK;
}

/* Rewrite batch seq keeping its newest `keep` records. */
static int rewrite_batch(sq_t *s, int64_t seq, int64_t keep)
{
    sqlite3_stmt *st = s->stmt[SQ_HIST_SCAN];
    sqlite3_bind_int64(st, 1, seq);
    int rc = sqlite3_step(st);
    if (rc != SQLITE_ROW || sqlite3_column_int64(st, 0) != seq) {
        sqlite3_reset(st);
        return rc == SQLITE_ROW || rc == SQLITE_DONE ? SQLITE_OK : rc;
    }
    view_t *views;
    long n = split(sqlite3_column_blob(st, 3), (size_t)sqlite3_column_bytes(st, 3), &views);
    pack_t b = {0};
    int64_t first = INT64_MAX, last = INT64_MIN;
    if (n >= 0) {
        put_u(&b, FORMAT, 1);
        for (long i = n - keep < 0 ? 0 : n - keep; i < n; i++) {
            rec_t rec;
            if (unpack(&views[i], &rec) != 0)
                continue;
            put_u(&b, views[i].n, 4);
            put_bytes(&b, views[i].p, views[i].n);
            first = rec.start_ms < first ? rec.start_ms : first;
            last = rec.start_ms > last ? rec.start_ms : last;
        }
    }
    free(views);
    sqlite3_reset(st); /* the blob above is not used past here */
    if (n < 0 || b.oom) {
        free(b.p);
        return SQLITE_NOMEM;
    }
    st = s->stmt[SQ_HIST_UPDATE];
    sqlite3_bind_int64(st, 1, seq);
    sqlite3_bind_int64(st, 2, first == INT64_MAX ? 0 : first);
    sqlite3_bind_int64(st, 3, last == INT64_MIN ? 0 : last);
    sqlite3_bind_int64(st, 4, keep < n ? keep : n);
    sqlite3_bind_blob64(st, 5, b.p, b.len, SQLITE_STATIC);
    rc = sqlite3_step(st);
    sqlite3_reset(st);
    free(b.p);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* All but the newest max records. */
static int prune_count(sq_t *s, store_req_t *r, int64_t max)
{
    sqlite3_stmt *st = s->stmt[SQ_HIST_COUNTS];
    int64_t total = 0, boundary = 0, keep = 0, older = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t seq = sqlite3_column_int64(st, 0), n = sqlite3_column_int64(st, 1);
        if (boundary) {
            older += n;
            continue;
        }
        if (total + n > max) {
            boundary = seq;
            keep = max - total;
            r->count += n - keep;
        }
        total += n;
    }
    sqlite3_reset(st);
    if (rc != SQLITE_DONE || !boundary)
        return rc == SQLITE_DONE ? SQLITE_OK : rc;
    r->count += older;
    st = s->stmt[SQ_HIST_DELETE_UPTO];
    sqlite3_bind_int64(st, 1, keep ? boundary - 1 : boundary);
    rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return rc;
    return keep ? rewrite_batch(s, boundary, keep) : SQLITE_OK;
}

static int hist_prune(sq_t *s, store_req_t *r, int64_t now)
{
    int rc = SQLITE_OK;
    if (r->in.max_age_ms > 0 && now > r->in.max_age_ms)
        rc = prune_age(s, r, now - r->in.max_age_ms);
    if (rc == SQLITE_OK && r->in.max_count >= 0)
        rc = prune_count(s, r, r->in.max_count);
    return rc;
}

int sq_history_op(sq_t *s, store_req_t *r, int64_t now)
{
    switch (r->op) {
    case STORE_OP_HISTORY_PUT: return hist_put(s, r);
    case STORE_OP_HISTORY_LIST: return hist_list(s, r);
    case STORE_OP_HISTORY_GET: return hist_get(s, r);
    case STORE_OP_HISTORY_PRUNE: return hist_prune(s, r, now);
    default: return store__fail(r, STORE_EINVAL, "not a history operation"), SQLITE_OK;
    }
}
