/*
 * sqlite_history.c -- the SQLite store backend's invocation history (the
 * table of schema version 3, see sqlite.c): writing records in the batch's
 * transaction, listing them newest first by keyset, reading one with its
 * logs, and pruning by age and count in bounded chunks.
 */
#include "sqlite_priv.h"

#include <stdlib.h>
#include <string.h>

static void bind_opt_text(sqlite3_stmt *st, int i, const char *s)
{
    if (s)
        sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, i);
}

static int hist_put(sq_t *s, store_req_t *r)
{
    sqlite3_stmt *st = s->stmt[SQ_HIST_PUT];
    for (size_t i = 0; i < r->in.n_invs; i++) {
        const store_inv_t *v = &r->in.invs[i];
        sqlite3_bind_text(st, 1, v->id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, v->function, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, v->trigger ? v->trigger : "", -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 4, v->start_ms);
        sqlite3_bind_int64(st, 5, v->duration_us);
        sqlite3_bind_int(st, 6, v->ok);
        sqlite3_bind_int(st, 7, v->http_status);
        bind_opt_text(st, 8, v->error);
        sqlite3_bind_text(st, 9, v->traceparent, -1, SQLITE_STATIC);
        bind_opt_text(st, 10, v->logs);
        int rc = sqlite3_step(st);
        sqlite3_reset(st);
        if (rc != SQLITE_DONE)
            return rc;
        r->count++;
    }
    return SQLITE_OK;
}

static char *col_dup(sqlite3_stmt *st, int col, int *oom)
{
    const char *t = (const char *)sqlite3_column_text(st, col);
    if (!t)
        return NULL;
    char *c = strdup(t);
    if (!c)
        *oom = 1;
    return c;
}

/* The current row (SQ_HIST_COLS, then logs when with_logs) into v. 0, or
 * -1 out of memory. */
static int read_row(sqlite3_stmt *st, store_inv_t *v, int with_logs)
{
    int oom = 0;
    memset(v, 0, sizeof *v);
    const char *id = (const char *)sqlite3_column_text(st, 0);
    strncpy(v->id, id ? id : "", sizeof v->id - 1);
    v->function = col_dup(st, 1, &oom);
    v->trigger = col_dup(st, 2, &oom);
    v->start_ms = sqlite3_column_int64(st, 3);
    v->duration_us = sqlite3_column_int64(st, 4);
    v->ok = sqlite3_column_int(st, 5);
    v->http_status = sqlite3_column_int(st, 6);
    v->error = col_dup(st, 7, &oom);
    const char *tp = (const char *)sqlite3_column_text(st, 8);
    strncpy(v->traceparent, tp ? tp : "", sizeof v->traceparent - 1);
    if (with_logs)
        v->logs = col_dup(st, 9, &oom);
    return oom || !v->function ? -1 : 0;
}

static int hist_list(sq_t *s, store_req_t *r)
{
    int by_fn = r->in.key != NULL, by_ok = r->in.status != STORE_HISTORY_ANY;
    int which = by_fn ? (by_ok ? SQ_HIST_LIST_FN_OK : SQ_HIST_LIST_FN)
                      : (by_ok ? SQ_HIST_LIST_OK : SQ_HIST_LIST);
    sqlite3_stmt *st = s->stmt[which];
    sqlite3_bind_int64(st, 1, r->in.since_ms);
    sqlite3_bind_int64(st, 2, r->in.before_ms);
    sqlite3_bind_text(st, 3, r->in.id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, (int64_t)r->in.max + 1);
    if (by_fn)
        sqlite3_bind_text(st, 5, r->in.key, -1, SQLITE_STATIC);
    if (by_ok)
        sqlite3_bind_int(st, 6, r->in.status);
    r->invs = calloc(r->in.max, sizeof *r->invs);
    if (!r->invs) {
        sqlite3_reset(st);
        return store__fail(r, STORE_EIO, "out of memory"), SQLITE_OK;
    }
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (r->n_invs == r->in.max) {
            r->truncated = 1;
            rc = SQLITE_DONE;
            break;
        }
        int bad = read_row(st, &r->invs[r->n_invs], 0);
        r->n_invs++;
        if (bad) {
            sqlite3_reset(st);
            return SQLITE_NOMEM;
        }
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static int hist_get(sq_t *s, store_req_t *r)
{
    sqlite3_stmt *st = s->stmt[SQ_HIST_GET];
    sqlite3_bind_text(st, 1, r->in.id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        r->invs = calloc(1, sizeof *r->invs);
        if (!r->invs) {
            sqlite3_reset(st);
            return SQLITE_NOMEM;
        }
        int bad = read_row(st, &r->invs[0], 1);
        r->n_invs = 1;
        sqlite3_reset(st);
        return bad ? SQLITE_NOMEM : SQLITE_OK;
    }
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return rc;
    store__fail(r, STORE_ENOTFOUND, "no invocation %s in the history (never recorded, or "
                "removed by retention)", r->in.id);
    return SQLITE_OK;
}

/* Run a prune statement in chunks until it removes less than a chunk or
 * the budget of chunks is spent. */
static int prune_chunks(sq_t *s, store_req_t *r, int which, int64_t arg, int *budget)
{
    sqlite3_stmt *st = s->stmt[which];
    while (*budget > 0) {
        (*budget)--;
        sqlite3_bind_int64(st, 1, arg);
        sqlite3_bind_int64(st, 2, STORE_HISTORY_PRUNE_CHUNK);
        int rc = sqlite3_step(st);
        sqlite3_reset(st);
        if (rc != SQLITE_DONE)
            return rc;
        int n = sqlite3_changes(s->db);
        r->count += n;
        if (n < STORE_HISTORY_PRUNE_CHUNK)
            break;
    }
    return SQLITE_OK;
}

static int hist_prune(sq_t *s, store_req_t *r, int64_t now)
{
    int budget = 10, rc = SQLITE_OK;
    if (r->in.max_age_ms > 0 && now > r->in.max_age_ms)
        rc = prune_chunks(s, r, SQ_HIST_PRUNE_AGE, now - r->in.max_age_ms, &budget);
    if (rc == SQLITE_OK && r->in.max_count >= 0)
        rc = prune_chunks(s, r, SQ_HIST_PRUNE_COUNT, r->in.max_count, &budget);
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
