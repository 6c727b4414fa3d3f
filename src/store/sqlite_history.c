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
 * The blob is compact (a record of an HTTP invocation without logs takes
 * about 55 bytes): one byte, the format (1); a varint base time (ms); the
 * batch's names (functions and triggers: a varint count, then each a
 * varint length and its bytes). Then per record a varint length of what
 * follows and: a flags byte (REC_*), varints of the start (zig-zag, from the
 * base), the duration (us), the HTTP status, the function's and the
 * trigger's name index; the id (16 bytes for a canonical UUID, else a
 * varint length and text), the traceparent (25 bytes for version 00, else
 * text), and when flagged the error and the logs (varint length, text).
 */
#include "sqlite_priv.h"

#include <stdlib.h>
#include <string.h>

#define FORMAT 1

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

/* v as a varint at p (at most 10 bytes); its length. */
static size_t var_at(unsigned char *p, uint64_t v)
{
    size_t n = 0;
    do {
        p[n] = (unsigned char)(v & 0x7f);
        v >>= 7;
        if (v)
            p[n] |= 0x80;
        n++;
    } while (v);
    return n;
}

static void put_var(pack_t *b, uint64_t v)
{
    unsigned char t[10];
    put_bytes(b, t, var_at(t, v));
}

static void put_text(pack_t *b, const char *s, size_t n)
{
    put_var(b, n);
    put_bytes(b, s, n);
}

/* Values of the lower-case hex digits, plus one; 0 for every other byte.
 * Every record's id and traceparent go through it: 82 digits per
 * invocation. */
static const unsigned char HEXV[256] = {
    ['0'] = 1, ['1'] = 2, ['2'] = 3, ['3'] = 4, ['4'] = 5, ['5'] = 6, ['6'] = 7, ['7'] = 8,
    ['8'] = 9, ['9'] = 10, ['a'] = 11, ['b'] = 12, ['c'] = 13, ['d'] = 14, ['e'] = 15,
    ['f'] = 16,
};

/* The byte of the two hex digits at s; a non-digit sets bits above the low
 * four in *bad (its value minus one wraps to 0xff). */
static inline unsigned char hex_byte(const char *s, unsigned *bad)
{
    unsigned hi = (unsigned char)(HEXV[(unsigned char)s[0]] - 1);
    unsigned lo = (unsigned char)(HEXV[(unsigned char)s[1]] - 1);
    *bad |= hi | lo;
    return (unsigned char)(hi << 4 | lo);
}

/* n hex digits at s (lower-case) into n / 2 bytes; 0 or -1. */
static int unhex(const char *s, size_t n, unsigned char *out)
{
    unsigned bad = 0;
    for (size_t i = 0; i < n; i += 2)
        out[i / 2] = hex_byte(s + i, &bad);
    return bad > 15 ? -1 : 0;
}

static void hex(const unsigned char *p, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[p[i] >> 4];
        out[2 * i + 1] = digits[p[i] & 15];
    }
}

/* A canonical lower-case UUID as 16 bytes. */
static int uuid_bin(const char *s, unsigned char out[16])
{
    /* where each byte's two digits start: 8-4-4-4-12 with dashes between */
    static const unsigned char at[16] = {0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34};
    if (strnlen(s, 37) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-')
        return -1;
    unsigned bad = 0;
    for (size_t i = 0; i < 16; i++)
        out[i] = hex_byte(s + at[i], &bad);
    return bad > 15 ? -1 : 0;
}

/* A version-00 traceparent as 25 bytes: trace id, span id, flags. */
static int tp_bin(const char *s, unsigned char out[25])
{
    if (strnlen(s, 56) != 55 || strncmp(s, "00-", 3) || s[35] != '-' || s[52] != '-')
        return -1;
    return unhex(s + 3, 32, out) || unhex(s + 36, 16, out + 16) || unhex(s + 53, 2, out + 24)
               ? -1
               : 0;
}

/* Flags of a packed record. */
enum { REC_OK = 1, REC_ID_BIN = 2, REC_TP_BIN = 4, REC_ERROR = 8, REC_LOGS = 16 };

#define MAX_NAMES 256

/* The names (functions and triggers) of the batch being packed. */
typedef struct names {
    const char *v[MAX_NAMES];
    size_t n;
} names_t;

/* name's index, added when new; -1 when the table is full. */
static int name_index(names_t *t, const char *name)
{
    for (size_t i = 0; i < t->n; i++) /* the host hands the same pointers */
        if (t->v[i] == name)
            return (int)i;
    for (size_t i = 0; i < t->n; i++) /* names the host interned anew */
        if (strcmp(t->v[i], name) == 0)
            return (int)i;
    if (t->n == MAX_NAMES)
        return -1;
    t->v[t->n] = name;
    return (int)t->n++;
}

static size_t var_len(uint64_t v)
{
    size_t n = 1;
    while (v >>= 7)
        n++;
    return n;
}

/* One record, built without an allocation: the fixed part (flags, times,
 * names, id, traceparent) on the stack, then the texts. */
static void pack_record(pack_t *b, const store_inv_t *v, int64_t base, int fn, int trig)
{
    unsigned char fx[1 + 5 * 10 + 10 + STORE_ID_LEN + 10 + sizeof v->traceparent];
    size_t n = 1;
    unsigned char id[16], tp[25];
    int id_bin = uuid_bin(v->id, id) == 0, tpb = tp_bin(v->traceparent, tp) == 0;
    fx[0] = (unsigned char)((v->ok ? REC_OK : 0) | (id_bin ? REC_ID_BIN : 0) |
                            (tpb ? REC_TP_BIN : 0) | (v->error ? REC_ERROR : 0) |
                            (v->logs ? REC_LOGS : 0));
    /* zig-zag: a record may start before the batch's base */
    int64_t d = v->start_ms - base;
    n += var_at(fx + n, d >= 0 ? (uint64_t)d << 1 : ((uint64_t)(-d) << 1) - 1);
    n += var_at(fx + n, (uint64_t)v->duration_us);
    n += var_at(fx + n, (uint64_t)(v->http_status & 0xffff));
    n += var_at(fx + n, (uint64_t)fn);
    n += var_at(fx + n, (uint64_t)trig);
    if (id_bin) {
        memcpy(fx + n, id, 16);
        n += 16;
    } else {
        size_t k = strnlen(v->id, STORE_ID_LEN - 1);
        n += var_at(fx + n, k);
        memcpy(fx + n, v->id, k);
        n += k;
    }
    if (tpb) {
        memcpy(fx + n, tp, 25);
        n += 25;
    } else {
        size_t k = strnlen(v->traceparent, sizeof v->traceparent - 1);
        n += var_at(fx + n, k);
        memcpy(fx + n, v->traceparent, k);
        n += k;
    }
    size_t elen = v->error ? strlen(v->error) : 0, llen = v->logs ? strlen(v->logs) : 0;
    size_t total = n + (v->error ? var_len(elen) + elen : 0) + (v->logs ? var_len(llen) + llen : 0);
    put_var(b, total);
    put_bytes(b, fx, n);
    if (v->error)
        put_text(b, v->error, elen);
    if (v->logs)
        put_text(b, v->logs, llen);
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

/* A batch's header: the base time and the names. */
typedef struct header {
    int64_t base;
    field_t names[MAX_NAMES];
    size_t nnames;
    size_t len; /* bytes of the header, FORMAT byte included */
} header_t;

typedef struct rec {
    int64_t start_ms, duration_us;
    int ok, http_status;
    char id[STORE_ID_LEN];
    char traceparent[56];
    field_t function, trigger, error, logs;
} rec_t;

static int get_var(const unsigned char *p, size_t n, size_t *at, uint64_t *out)
{
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (*at >= n)
            return -1;
        unsigned char c = p[(*at)++];
        v |= (uint64_t)(c & 0x7f) << shift;
        if (!(c & 0x80)) {
            *out = v;
            return 0;
        }
    }
    return -1;
}

static int get_text(const unsigned char *p, size_t n, size_t *at, field_t *f)
{
    uint64_t len;
    if (get_var(p, n, at, &len) != 0 || len > n - *at)
        return -1;
    f->p = (const char *)p + *at;
    f->n = (size_t)len;
    f->null = 0;
    *at += (size_t)len;
    return 0;
}

/* The header and the records of a blob, in order, into *out (malloc'd);
 * their number, or -1 out of memory. A damaged blob gives what precedes
 * the damage. */
static long split(const unsigned char *blob, size_t n, header_t *h, view_t **out)
{
    *out = NULL;
    memset(h, 0, sizeof *h);
    size_t at = 1;
    uint64_t base, nn;
    if (n < 1 || blob[0] != FORMAT || get_var(blob, n, &at, &base) != 0 ||
        get_var(blob, n, &at, &nn) != 0 || nn > MAX_NAMES)
        return 0;
    h->base = (int64_t)base;
    for (uint64_t i = 0; i < nn; i++)
        if (get_text(blob, n, &at, &h->names[h->nnames++]) != 0)
            return 0;
    h->len = at;
    size_t cap = 0;
    long count = 0;
    while (at < n) {
        uint64_t len;
        if (get_var(blob, n, &at, &len) != 0 || len > n - at)
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
        (*out)[count++] = (view_t){blob + at, (size_t)len};
        at += (size_t)len;
    }
    return count;
}

static int unpack(const header_t *h, const view_t *v, rec_t *r)
{
    size_t at = 1;
    uint64_t d, dur, st, fn, trig;
    if (v->n < 1 || get_var(v->p, v->n, &at, &d) || get_var(v->p, v->n, &at, &dur) ||
        get_var(v->p, v->n, &at, &st) || get_var(v->p, v->n, &at, &fn) ||
        get_var(v->p, v->n, &at, &trig) || fn >= h->nnames || trig >= h->nnames)
        return -1;
    unsigned flags = v->p[0];
    /* zig-zag back, in unsigned arithmetic: a damaged blob may hold any value */
    uint64_t mag = (d & 1) ? (d >> 1) + 1 : d >> 1;
    r->start_ms = (int64_t)((d & 1) ? (uint64_t)h->base - mag : (uint64_t)h->base + mag);
    r->duration_us = (int64_t)dur;
    r->http_status = (int)st;
    r->ok = (flags & REC_OK) != 0;
    r->function = h->names[fn];
    r->trigger = h->names[trig];
    field_t f;
    if (flags & REC_ID_BIN) {
        if (at + 16 > v->n)
            return -1;
        const unsigned char *b = v->p + at;
        hex(b, 4, r->id);
        r->id[8] = '-';
        hex(b + 4, 2, r->id + 9);
        r->id[13] = '-';
        hex(b + 6, 2, r->id + 14);
        r->id[18] = '-';
        hex(b + 8, 2, r->id + 19);
        r->id[23] = '-';
        hex(b + 10, 6, r->id + 24);
        r->id[36] = '\0';
        at += 16;
    } else {
        if (get_text(v->p, v->n, &at, &f) || f.n >= sizeof r->id)
            return -1;
        memcpy(r->id, f.p, f.n);
        r->id[f.n] = '\0';
    }
    if (flags & REC_TP_BIN) {
        if (at + 25 > v->n)
            return -1;
        const unsigned char *b = v->p + at;
        memcpy(r->traceparent, "00-", 3);
        hex(b, 16, r->traceparent + 3);
        r->traceparent[35] = '-';
        hex(b + 16, 8, r->traceparent + 36);
        r->traceparent[52] = '-';
        hex(b + 24, 1, r->traceparent + 53);
        r->traceparent[55] = '\0';
        at += 25;
    } else {
        if (get_text(v->p, v->n, &at, &f) || f.n >= sizeof r->traceparent)
            return -1;
        memcpy(r->traceparent, f.p, f.n);
        r->traceparent[f.n] = '\0';
    }
    r->error = (field_t){NULL, 0, 1};
    r->logs = (field_t){NULL, 0, 1};
    if ((flags & REC_ERROR) && get_text(v->p, v->n, &at, &r->error))
        return -1;
    if ((flags & REC_LOGS) && get_text(v->p, v->n, &at, &r->logs))
        return -1;
    return 0;
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
    memcpy(v->id, r->id, sizeof v->id);
    memcpy(v->traceparent, r->traceparent, sizeof v->traceparent);
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

long sq_history_decode(const void *blob, size_t n,
                       void (*each)(const store_inv_t *rec, void *data), void *data)
{
    header_t h;
    view_t *views;
    long count = split(blob, n, &h, &views), decoded = 0;
    for (long i = 0; i < count; i++) {
        rec_t r;
        store_inv_t v;
        if (unpack(&h, &views[i], &r) != 0)
            continue;
        if (materialize(&r, &v, 1) == 0) {
            each(&v, data);
            decoded++;
        }
        free(v.function);
        free(v.trigger);
        free(v.error);
        free(v.logs);
    }
    free(views);
    return count < 0 ? -1 : decoded;
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

/* Pack and insert records [from, to) of r as one batch. */
static int put_batch(sq_t *s, store_req_t *r, size_t from, size_t to)
{
    names_t names = {.n = 0};
    int64_t first = INT64_MAX, last = INT64_MIN;
    for (size_t i = from; i < to; i++) {
        const store_inv_t *v = &r->in.invs[i];
        first = v->start_ms < first ? v->start_ms : first;
        last = v->start_ms > last ? v->start_ms : last;
        name_index(&names, v->function);
        name_index(&names, v->trigger ? v->trigger : "");
    }
    pack_t b = {0};
    put_var(&b, FORMAT);
    put_var(&b, (uint64_t)first);
    put_var(&b, names.n);
    for (size_t i = 0; i < names.n; i++)
        put_text(&b, names.v[i], strlen(names.v[i]));
    for (size_t i = from; i < to; i++) {
        const store_inv_t *v = &r->in.invs[i];
        pack_record(&b, v, first, name_index(&names, v->function),
                    name_index(&names, v->trigger ? v->trigger : ""));
    }
    int rc = b.oom ? SQLITE_NOMEM : insert_batch(s, &b, first, last, (int64_t)(to - from));
    free(b.p);
    if (rc == SQLITE_OK)
        r->count += (int64_t)(to - from);
    return rc;
}

/* The records in batches of at most MAX_NAMES / 2 functions and about
 * STORE_HISTORY_BATCH_BYTES. */
static int hist_put(sq_t *s, store_req_t *r)
{
    size_t from = 0, bytes = 0;
    names_t names = {.n = 0};
    int rc = SQLITE_OK;
    for (size_t i = 0; i < r->in.n_invs && rc == SQLITE_OK; i++) {
        const store_inv_t *v = &r->in.invs[i];
        size_t need = 80 + (v->error ? strlen(v->error) : 0) + (v->logs ? strlen(v->logs) : 0);
        int full = bytes + need > STORE_HISTORY_BATCH_BYTES ||
                   name_index(&names, v->function) < 0 ||
                   name_index(&names, v->trigger ? v->trigger : "") < 0;
        if (full && i > from) {
            rc = put_batch(s, r, from, i);
            from = i;
            bytes = 0;
            names.n = 0;
            name_index(&names, v->function);
            name_index(&names, v->trigger ? v->trigger : "");
        }
        bytes += need;
    }
    if (rc == SQLITE_OK && from < r->in.n_invs)
        rc = put_batch(s, r, from, r->in.n_invs);
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
        header_t h;
        long n = split(blob, (size_t)sqlite3_column_bytes(st, 3), &h, &views);
        if (n < 0) {
            rc = SQLITE_NOMEM;
            break;
        }
        for (long i = n - 1; i >= 0 && !done; i--) {
            int from_end = (int)(n - 1 - i);
            if (seq == r->in.after_batch && from_end <= r->in.after_index)
                continue;
            rec_t rec;
            if (unpack(&h, &views[i], &rec) != 0 || !passes(r, &rec))
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
        header_t h;
        long n = split(sqlite3_column_blob(st, 3), (size_t)sqlite3_column_bytes(st, 3), &h,
                       &views);
        if (n < 0) {
            rc = SQLITE_NOMEM;
            break;
        }
        for (long i = n - 1; i >= 0 && !found; i--) {
            rec_t rec;
            if (unpack(&h, &views[i], &rec) != 0 || strcmp(rec.id, r->in.id) != 0)
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
    header_t h;
    const unsigned char *blob = sqlite3_column_blob(st, 3);
    long n = split(blob, (size_t)sqlite3_column_bytes(st, 3), &h, &views);
    pack_t b = {0};
    int64_t first = INT64_MAX, last = INT64_MIN;
    if (n >= 0) {
        put_bytes(&b, blob, h.len); /* the same header: base and names */
        for (long i = n - keep < 0 ? 0 : n - keep; i < n; i++) {
            rec_t rec;
            if (unpack(&h, &views[i], &rec) != 0)
                continue;
            put_var(&b, views[i].n);
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
