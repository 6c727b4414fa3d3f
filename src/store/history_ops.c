/*
 * history_ops.c -- the invocation history's operations as callers see them
 * (see store.h): each checks its arguments, naming the record and field
 * that is wrong, copies them into the request and hands it to
 * store__submit(). The SQLite backend runs them in sqlite_history.c.
 */
#include "backend.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void req_init(store_req_t *req, store_op_t op)
{
    void *data = req->data;
    memset(req, 0, sizeof *req);
    req->data = data;
    req->op = op;
}

/* An invocation id: 1 to 36 printable characters without spaces. */
static int id_ok(const char *v)
{
    if (!v || !*v)
        return 0;
    size_t n = strnlen(v, STORE_ID_LEN);
    if (n >= STORE_ID_LEN)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (v[i] <= 0x20 || v[i] >= 0x7f)
            return 0;
    return 1;
}

/* Check one field's length: 0, or -1 with req failed. */
static int check_len(store_req_t *req, size_t i, const char *field, const char *v,
                     size_t min, size_t max)
{
    size_t n = v ? strnlen(v, max + 1) : 0;
    if (n < min)
        return store__fail(req, STORE_EINVAL, "history record %zu: %s is missing", i, field),
               -1;
    if (n > max)
        return store__fail(req, STORE_EINVAL,
                           "history record %zu: %s is longer than %zu bytes", i, field, max),
               -1;
    return 0;
}

static char *copy_str(char **at, const char *s)
{
    if (!s)
        return NULL;
    size_t n = strlen(s) + 1;
    char *out = *at;
    memcpy(out, s, n);
    *at += n;
    return out;
}

int store_history_put(store_t *st, store_req_t *req, const store_inv_t *recs, size_t n,
                      store_cb cb)
{
    req_init(req, STORE_OP_HISTORY_PUT);
    if (n < 1 || n > STORE_HISTORY_PUT_MAX || !recs)
        return store__fail(req, STORE_EINVAL, "number of history records %zu is out of range "
                           "(1 to %d)", n, STORE_HISTORY_PUT_MAX);
    size_t bytes = n * sizeof *recs;
    for (size_t i = 0; i < n; i++) {
        const store_inv_t *r = &recs[i];
        if (!id_ok(r->id))
            return store__fail(req, STORE_EINVAL, "history record %zu: invocation id is not "
                               "1 to 36 printable characters", i);
        if (check_len(req, i, "function", r->function, 1, STORE_HISTORY_NAME_MAX) ||
            check_len(req, i, "trigger", r->trigger, 0, STORE_HISTORY_NAME_MAX) ||
            check_len(req, i, "error", r->error, 0, STORE_HISTORY_ERROR_MAX) ||
            check_len(req, i, "logs", r->logs, 0, STORE_HISTORY_LOGS_MAX) ||
            check_len(req, i, "traceparent", r->traceparent, 0, sizeof r->traceparent - 1))
            return req->status;
        if (r->start_ms < 0 || r->duration_us < 0)
            return store__fail(req, STORE_EINVAL, "history record %zu: negative %s", i,
                               r->start_ms < 0 ? "start time" : "duration");
        bytes += strlen(r->function) + 1 + (r->trigger ? strlen(r->trigger) + 1 : 0) +
                 (r->error ? strlen(r->error) + 1 : 0) + (r->logs ? strlen(r->logs) + 1 : 0);
    }
    store_inv_t *copy = malloc(bytes);
    if (!copy)
        return store__fail(req, STORE_EIO, "out of memory");
    char *at = (char *)(copy + n);
    for (size_t i = 0; i < n; i++) {
        copy[i] = recs[i];
        copy[i].function = copy_str(&at, recs[i].function);
        copy[i].trigger = copy_str(&at, recs[i].trigger);
        copy[i].error = copy_str(&at, recs[i].error);
        copy[i].logs = copy_str(&at, recs[i].logs);
        copy[i].ok = recs[i].ok != 0;
    }
    req->mem_ = copy;
    req->in.invs = copy;
    req->in.n_invs = n;
    return store__submit(st, req, cb);
}

int store_history_list(store_t *st, store_req_t *req, const store_history_filter_t *f,
                       store_cb cb)
{
    req_init(req, STORE_OP_HISTORY_LIST);
    if (f->limit < 1 || f->limit > STORE_HISTORY_LIST_MAX)
        return store__fail(req, STORE_EINVAL, "number of entries %u is out of range (1 to %d)",
                           f->limit, STORE_HISTORY_LIST_MAX);
    if (f->status != STORE_HISTORY_ANY && f->status != STORE_HISTORY_FAILED &&
        f->status != STORE_HISTORY_SUCCEEDED)
        return store__fail(req, STORE_EINVAL, "history status filter %d is not valid",
                           f->status);
    if (f->function) {
        size_t n = strnlen(f->function, STORE_HISTORY_NAME_MAX + 1);
        if (n == 0 || n > STORE_HISTORY_NAME_MAX)
            return store__fail(req, STORE_EINVAL, "function name filter must have 1 to %d "
                               "bytes", STORE_HISTORY_NAME_MAX);
        char *key = strdup(f->function);
        if (!key)
            return store__fail(req, STORE_EIO, "out of memory");
        req->mem_ = key;
        req->in.key = key;
    }
    if (f->since_ms < 0 || f->after_batch < 0 || f->after_index < 0)
        return store__fail(req, STORE_EINVAL, "a history time bound or position is negative");
    req->in.max = f->limit;
    req->in.status = f->status;
    req->in.since_ms = f->since_ms;
    req->in.after_batch = f->after_batch ? f->after_batch : INT64_MAX;
    req->in.after_index = f->after_batch ? f->after_index : -1;
    return store__submit(st, req, cb);
}

int store_history_get(store_t *st, store_req_t *req, const char *id, store_cb cb)
{
    req_init(req, STORE_OP_HISTORY_GET);
    if (!id_ok(id))
        return store__fail(req, STORE_EINVAL, "invocation id is not 1 to 36 printable "
                           "characters");
    snprintf(req->in.id, sizeof req->in.id, "%s", id);
    return store__submit(st, req, cb);
}

int store_history_prune(store_t *st, store_req_t *req, int64_t max_count, int64_t max_age_ms,
                        store_cb cb)
{
    req_init(req, STORE_OP_HISTORY_PRUNE);
    if (max_count < -1)
        return store__fail(req, STORE_EINVAL, "history count limit %lld is not valid (0 or "
                           "more, or -1 for none)", (long long)max_count);
    if (max_age_ms < -1 || max_age_ms == 0)
        return store__fail(req, STORE_EINVAL, "history age limit %lld ms is not valid (more "
                           "than 0, or -1 for none)", (long long)max_age_ms);
    req->in.max_count = max_count;
    req->in.max_age_ms = max_age_ms;
    return store__submit(st, req, cb);
}
