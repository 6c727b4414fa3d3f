/*
 * sqlite_ops.c -- the SQLite store backend, running side: a batch of
 * requests in one transaction (group commit), each operation in a few
 * prepared statements. When the batch fails as a whole (disk full, I/O
 * error), it is rolled back and every request runs again alone, so only
 * the one that cannot succeed fails.
 */
#include "sqlite_priv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../util/id.h"

static const char *op_name(store_op_t op)
{
    switch (op) {
    case STORE_OP_QUEUE_PUT: return "putting a message";
    case STORE_OP_QUEUE_GET: return "getting messages";
    case STORE_OP_QUEUE_PEEK: return "peeking at messages";
    case STORE_OP_QUEUE_DELETE: return "deleting a message";
    case STORE_OP_QUEUE_UPDATE: return "updating a message";
    case STORE_OP_QUEUE_POISON: return "moving a message to its poison queue";
    case STORE_OP_QUEUE_CLEAR: return "clearing a queue";
    case STORE_OP_QUEUE_COUNT: return "counting a queue";
    case STORE_OP_QUEUE_LIST: return "listing queues";
    case STORE_OP_QUEUE_RELEASE: return "releasing leased messages";
    case STORE_OP_SWEEP: return "removing expired messages";
    case STORE_OP_KV_PUT: return "writing a key";
    case STORE_OP_KV_GET: return "reading a key";
    case STORE_OP_KV_DELETE: return "deleting a key";
    case STORE_OP_KV_LIST: return "listing keys";
    case STORE_OP_HISTORY_PUT: return "writing invocation history";
    case STORE_OP_HISTORY_LIST: return "listing invocation history";
    case STORE_OP_HISTORY_GET: return "reading an invocation's history";
    case STORE_OP_HISTORY_PRUNE: return "pruning invocation history";
    default: return "an unknown operation";
    }
}

static int64_t add_ms(int64_t t, int64_t d)
{
    return d > INT64_MAX - t ? INT64_MAX : t + d;
}

/* Step a statement that gives no rows, and reset it: SQLITE_OK or an error. */
static int step_done(sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static void bind_text(sqlite3_stmt *st, int i, const char *s)
{
    sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
}

static void bind_blob(sqlite3_stmt *st, int i, const void *p, size_t n)
{
    /* A NULL pointer would bind SQL NULL; an empty body is a zero-length blob. */
    sqlite3_bind_blob64(st, i, n ? p : "", n, SQLITE_STATIC);
}

static int oom(store_req_t *r) { return store__fail(r, STORE_EIO, "out of memory"), SQLITE_OK; }

/* Copy a blob column into a NUL-terminated allocation. */
static unsigned char *column_copy(sqlite3_stmt *st, int col, size_t *len)
{
    const void *p = sqlite3_column_blob(st, col);
    size_t n = (size_t)sqlite3_column_bytes(st, col);
    unsigned char *b = malloc(n + 1);
    if (!b)
        return NULL;
    if (n)
        memcpy(b, p, n);
    b[n] = '\0';
    *len = n;
    return b;
}

static void free_msgs(store_req_t *r)
{
    for (size_t i = 0; i < r->n_msgs; i++)
        free(r->msgs[i].body);
    free(r->msgs);
    r->msgs = NULL;
    r->n_msgs = 0;
}

/* Write the deltas to queue.messages (creating the queues that got
 * messages) and forget them. */
static int apply_deltas(sq_t *s, int64_t now)
{
    sqlite3_stmt *st = s->stmt[SQ_QUEUE_ADD];
    for (size_t i = 0; i < s->n_deltas; i++) {
        if (s->deltas[i].delta == 0 && !s->deltas[i].put)
            continue;
        bind_text(st, 1, s->deltas[i].queue);
        sqlite3_bind_int64(st, 2, now);
        sqlite3_bind_int64(st, 3, s->deltas[i].delta);
        int rc = step_done(st);
        if (rc != SQLITE_OK)
            return rc;
    }
    s->n_deltas = 0;
    return SQLITE_OK;
}

/* Count n messages into (n > 0) or out of (n < 0) queue in the open
 * transaction; put says messages were added. When SQ_DELTAS_MAX queues are
 * pending, they are written first (same transaction, same outcome). */
static int count_in(sq_t *s, const char *queue, int64_t n, int put, int64_t now)
{
    size_t i = s->n_deltas;
    while (i > 0 && strcmp(s->deltas[i - 1].queue, queue) != 0)
        i--;
    if (i == 0) {
        if (s->n_deltas == SQ_DELTAS_MAX) {
            int rc = apply_deltas(s, now);
            if (rc != SQLITE_OK)
                return rc;
        }
        i = ++s->n_deltas;
        snprintf(s->deltas[i - 1].queue, sizeof s->deltas[i - 1].queue, "%s", queue);
        s->deltas[i - 1].delta = 0;
        s->deltas[i - 1].put = 0;
    }
    s->deltas[i - 1].delta += n;
    s->deltas[i - 1].put |= put;
    return SQLITE_OK;
}

/* ---- queues ------------------------------------------------------------------ */

static int op_put(sq_t *s, store_req_t *r, int64_t now)
{
    store_msg_t *m = calloc(1, sizeof *m);
    if (!m)
        return oom(r);
    uuid_generate_v7(m->id, now);
    uuid_generate(m->pop_receipt);
    m->insertion_time = now;
    m->expiration_time =
        r->in.ttl_ms == STORE_TTL_NEVER ? STORE_TIME_NEVER : add_ms(now, r->in.ttl_ms);
    m->next_visible_time = add_ms(now, r->in.delay_ms);
    sqlite3_stmt *st = s->stmt[SQ_MSG_INSERT];
    bind_text(st, 1, r->in.queue);
    bind_text(st, 2, m->id);
    bind_text(st, 3, m->pop_receipt);
    sqlite3_bind_int64(st, 4, now);
    sqlite3_bind_int64(st, 5, m->expiration_time);
    sqlite3_bind_int64(st, 6, m->next_visible_time);
    bind_blob(st, 7, r->in.body, r->in.body_len);
    int rc = step_done(st);
    if (rc != SQLITE_OK) {
        free(m);
        return rc;
    }
    r->msgs = m;
    r->n_msgs = 1;
    return count_in(s, r->in.queue, 1, 1, now);
}

/* Select up to `want` visible messages: deliverable ones into r->msgs
 * (their seq in seqs), expired ones into dead. */
static int select_visible(sq_t *s, store_req_t *r, unsigned want, int64_t now, int64_t *seqs,
                          int64_t *dead, unsigned *n_dead, unsigned *rows)
{
    sqlite3_stmt *st = s->stmt[SQ_MSG_VISIBLE];
    bind_text(st, 1, r->in.queue);
    sqlite3_bind_int64(st, 2, now);
    sqlite3_bind_int64(st, 3, want);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        (*rows)++;
        int64_t seq = sqlite3_column_int64(st, 0);
        int64_t expires = sqlite3_column_int64(st, 4);
        if (expires <= now) {
            dead[(*n_dead)++] = seq;
            continue;
        }
        store_msg_t *m = &r->msgs[r->n_msgs];
        snprintf(m->id, sizeof m->id, "%s", (const char *)sqlite3_column_text(st, 1));
        m->dequeue_count = (uint32_t)sqlite3_column_int64(st, 2) + 1;
        m->insertion_time = sqlite3_column_int64(st, 3);
        m->expiration_time = expires;
        m->next_visible_time = add_ms(now, r->in.timeout_ms);
        uuid_generate(m->pop_receipt);
        m->body = column_copy(st, 5, &m->body_len);
        if (!m->body) {
            sqlite3_reset(st);
            return SQLITE_NOMEM;
        }
        seqs[r->n_msgs++] = seq;
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static int op_get(sq_t *s, store_req_t *r, int64_t now)
{
    r->msgs = calloc(r->in.max, sizeof *r->msgs);
    if (!r->msgs)
        return oom(r);
    int64_t seqs[STORE_GET_MAX], dead[STORE_GET_MAX];
    /* Expired messages met on the way are removed and the search goes on;
     * with a zero timeout one round only (delivered messages stay visible). */
    for (int round = 0; round < 8 && r->n_msgs < r->in.max; round++) {
        unsigned first = (unsigned)r->n_msgs, want = r->in.max - first, n_dead = 0, rows = 0;
        /* Out of memory midway (rows of an earlier round already changed)
         * fails the transaction: it is rolled back. */
        int rc = select_visible(s, r, want, now, seqs, dead, &n_dead, &rows);
        if (rc != SQLITE_OK)
            return rc;
        for (unsigned i = 0; i < n_dead; i++) {
            sqlite3_stmt *st = s->stmt[SQ_MSG_DELETE_SEQ];
            sqlite3_bind_int64(st, 1, dead[i]);
            if ((rc = step_done(st)) != SQLITE_OK)
                return rc;
            r->count++;
            if ((rc = count_in(s, r->in.queue, -1, 0, now)) != SQLITE_OK)
                return rc;
        }
        for (size_t i = first; i < r->n_msgs; i++) {
            sqlite3_stmt *st = s->stmt[SQ_MSG_DELIVER];
            sqlite3_bind_int64(st, 1, seqs[i]);
            bind_text(st, 2, r->msgs[i].pop_receipt);
            sqlite3_bind_int64(st, 3, r->msgs[i].next_visible_time);
            if ((rc = step_done(st)) != SQLITE_OK)
                return rc;
        }
        if (n_dead == 0 || rows < want || r->in.timeout_ms == 0)
            break;
    }
    return SQLITE_OK;
}

static int op_peek(sq_t *s, store_req_t *r, int64_t now)
{
    r->msgs = calloc(r->in.max, sizeof *r->msgs);
    if (!r->msgs)
        return oom(r);
    sqlite3_stmt *st = s->stmt[SQ_MSG_PEEK];
    bind_text(st, 1, r->in.queue);
    sqlite3_bind_int64(st, 2, now);
    sqlite3_bind_int64(st, 3, r->in.max);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        store_msg_t *m = &r->msgs[r->n_msgs];
        snprintf(m->id, sizeof m->id, "%s", (const char *)sqlite3_column_text(st, 1));
        m->dequeue_count = (uint32_t)sqlite3_column_int64(st, 2);
        m->insertion_time = sqlite3_column_int64(st, 3);
        m->expiration_time = sqlite3_column_int64(st, 4);
        m->next_visible_time = sqlite3_column_int64(st, 6);
        m->body = column_copy(st, 5, &m->body_len);
        if (!m->body) {
            sqlite3_reset(st);
            free_msgs(r);
            return oom(r);
        }
        r->n_msgs++;
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* Why (queue, id, receipt) matched no message: sets r's status. */
static int explain_miss(sq_t *s, store_req_t *r, int64_t now)
{
    sqlite3_stmt *st = s->stmt[SQ_MSG_LOOKUP];
    bind_text(st, 1, r->in.id);
    bind_text(st, 2, r->in.queue);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        const char *receipt = (const char *)sqlite3_column_text(st, 0);
        int64_t expires = sqlite3_column_int64(st, 1);
        if (!receipt || strcmp(receipt, r->in.receipt) != 0)
            store__fail(r, STORE_ESTALE,
                        "pop receipt '%s' of message %s in queue '%s' is stale: the message "
                        "was delivered again since",
                        r->in.receipt, r->in.id, r->in.queue);
        else if (expires <= now)
            store__fail(r, STORE_ENOTFOUND, "message %s in queue '%s' has expired", r->in.id,
                        r->in.queue);
        else
            store__fail(r, STORE_EIO, "message %s in queue '%s' could not be changed",
                        r->in.id, r->in.queue);
        rc = SQLITE_DONE;
    } else if (rc == SQLITE_DONE) {
        store__fail(r, STORE_ENOTFOUND,
                    "message %s is not in queue '%s' (deleted, expired, or never there)",
                    r->in.id, r->in.queue);
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static int op_delete(sq_t *s, store_req_t *r, int64_t now)
{
    sqlite3_stmt *st = s->stmt[SQ_MSG_DELETE];
    bind_text(st, 1, r->in.id);
    bind_text(st, 2, r->in.queue);
    bind_text(st, 3, r->in.receipt);
    int rc = step_done(st);
    if (rc != SQLITE_OK)
        return rc;
    if (sqlite3_changes(s->db) != 1)
        return explain_miss(s, r, now);
    return count_in(s, r->in.queue, -1, 0, now);
}

static int op_update(sq_t *s, store_req_t *r, int64_t now)
{
    store_msg_t *m = calloc(1, sizeof *m);
    if (!m)
        return oom(r);
    snprintf(m->id, sizeof m->id, "%s", r->in.id);
    uuid_generate(m->pop_receipt);
    m->next_visible_time = add_ms(now, r->in.timeout_ms);
    sqlite3_stmt *st = s->stmt[SQ_MSG_UPDATE];
    bind_text(st, 1, r->in.id);
    bind_text(st, 2, r->in.queue);
    bind_text(st, 3, r->in.receipt);
    bind_text(st, 4, m->pop_receipt);
    sqlite3_bind_int64(st, 5, m->next_visible_time);
    sqlite3_bind_int64(st, 6, now);
    int rc = sqlite3_step(st);
    int found = rc == SQLITE_ROW;
    if (found) {
        m->dequeue_count = (uint32_t)sqlite3_column_int64(st, 0);
        m->insertion_time = sqlite3_column_int64(st, 1);
        m->expiration_time = sqlite3_column_int64(st, 2);
        rc = sqlite3_step(st);
    }
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        free(m);
        return rc;
    }
    if (!found) {
        free(m);
        return explain_miss(s, r, now);
    }
    r->msgs = m;
    r->n_msgs = 1;
    return SQLITE_OK;
}

static int op_poison(sq_t *s, store_req_t *r, int64_t now)
{
    store_msg_t *m = calloc(1, sizeof *m);
    if (!m)
        return oom(r);
    uuid_generate_v7(m->id, now);
    uuid_generate(m->pop_receipt);
    m->insertion_time = now;
    m->next_visible_time = now;
    m->expiration_time = add_ms(now, r->in.ttl_ms);
    sqlite3_stmt *st = s->stmt[SQ_MSG_POISON];
    bind_text(st, 1, r->in.id);
    bind_text(st, 2, r->in.queue);
    bind_text(st, 3, r->in.receipt);
    bind_text(st, 4, r->in.poison);
    bind_text(st, 5, m->pop_receipt);
    sqlite3_bind_int64(st, 6, now);
    sqlite3_bind_int64(st, 7, m->expiration_time);
    bind_text(st, 8, m->id);
    int rc = step_done(st);
    if (rc == SQLITE_OK && sqlite3_changes(s->db) != 1) {
        free(m);
        return explain_miss(s, r, now);
    }
    if (rc != SQLITE_OK) {
        free(m);
        return rc;
    }
    r->msgs = m;
    r->n_msgs = 1;
    if ((rc = count_in(s, r->in.queue, -1, 0, now)) != SQLITE_OK)
        return rc;
    return count_in(s, r->in.poison, 1, 1, now);
}

static int op_clear(sq_t *s, store_req_t *r, int64_t now)
{
    sqlite3_stmt *st = s->stmt[SQ_MSG_CLEAR];
    bind_text(st, 1, r->in.queue);
    int rc = step_done(st);
    if (rc != SQLITE_OK)
        return rc;
    r->count = sqlite3_changes(s->db);
    return count_in(s, r->in.queue, -r->count, 0, now);
}

/* One integer from a statement binding (queue, now); 0 when no row. */
static int query_queue(sq_t *s, int which, const char *queue, int64_t now, int64_t *out)
{
    sqlite3_stmt *st = s->stmt[which];
    bind_text(st, 1, queue);
    if (sqlite3_bind_parameter_count(st) >= 2)
        sqlite3_bind_int64(st, 2, now);
    int rc = sqlite3_step(st);
    *out = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_reset(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* Fill q with queue's depth at now. */
static int queue_info(sq_t *s, store_queue_info_t *q, const char *queue, int64_t now)
{
    int64_t total, expired, invisible, oldest;
    int rc;
    if ((rc = query_queue(s, SQ_QUEUE_TOTAL, queue, now, &total)) ||
        (rc = query_queue(s, SQ_QUEUE_EXPIRED, queue, now, &expired)) ||
        (rc = query_queue(s, SQ_QUEUE_INVISIBLE, queue, now, &invisible)) ||
        (rc = query_queue(s, SQ_QUEUE_OLDEST, queue, now, &oldest)))
        return rc;
    snprintf(q->name, sizeof q->name, "%s", queue);
    q->invisible = invisible;
    q->visible = total - expired - invisible > 0 ? total - expired - invisible : 0;
    q->oldest_insertion_time = oldest;
    q->oldest_age_ms = oldest && now > oldest ? now - oldest : 0;
    return SQLITE_OK;
}

static int op_count(sq_t *s, store_req_t *r, int64_t now)
{
    r->queues = calloc(1, sizeof *r->queues);
    if (!r->queues)
        return oom(r);
    int rc = queue_info(s, &r->queues[0], r->in.queue, now);
    if (rc != SQLITE_OK)
        return rc;
    r->n_queues = 1;
    return SQLITE_OK;
}

static int op_list(sq_t *s, store_req_t *r, int64_t now)
{
    /* The names first (a statement is not stepped while others run). */
    sqlite3_stmt *st = s->stmt[SQ_QUEUE_LIST];
    sqlite3_bind_int64(st, 1, (int64_t)r->in.max + 1);
    size_t cap = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (r->n_queues == r->in.max) {
            r->truncated = 1;
            continue;
        }
        if (r->n_queues == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            void *p = realloc(r->queues, ncap * sizeof *r->queues);
            if (!p) {
                sqlite3_reset(st);
                return oom(r);
            }
            r->queues = p;
            cap = ncap;
        }
        store_queue_info_t *q = &r->queues[r->n_queues++];
        memset(q, 0, sizeof *q);
        snprintf(q->name, sizeof q->name, "%s", (const char *)sqlite3_column_text(st, 0));
    }
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return rc;
    for (size_t i = 0; i < r->n_queues; i++) {
        char name[sizeof r->queues[i].name];
        memcpy(name, r->queues[i].name, sizeof name);
        if ((rc = queue_info(s, &r->queues[i], name, now)) != SQLITE_OK)
            return rc;
    }
    return SQLITE_OK;
}

/* Add queue to r->queues once (its name; the depth comes later). */
static int note_queue(store_req_t *r, const char *queue, size_t *cap)
{
    for (size_t i = r->n_queues; i > 0; i--)
        if (strcmp(r->queues[i - 1].name, queue) == 0)
            return 0;
    if (r->n_queues == *cap) {
        size_t ncap = *cap ? *cap * 2 : 4;
        void *p = realloc(r->queues, ncap * sizeof *r->queues);
        if (!p)
            return -1;
        r->queues = p;
        *cap = ncap;
    }
    store_queue_info_t *q = &r->queues[r->n_queues++];
    memset(q, 0, sizeof *q);
    snprintf(q->name, sizeof q->name, "%s", queue);
    return 0;
}

typedef struct leased {
    int64_t seq;
    int live; /* not expired: it counts, and its queue gets a message back */
} leased_t;

/* Read up to SQ_RELEASE_CHUNK leased messages (of r's queue, or all) into
 * l; their queues into r->queues. */
static int select_leased(sq_t *s, store_req_t *r, int64_t now, leased_t *l, size_t *n,
                         size_t *cap)
{
    int all = r->in.queue[0] == '\0';
    sqlite3_stmt *st = s->stmt[all ? SQ_MSG_LEASED_ALL : SQ_MSG_LEASED];
    if (all) {
        sqlite3_bind_int64(st, 1, SQ_RELEASE_CHUNK);
    } else {
        bind_text(st, 1, r->in.queue);
        sqlite3_bind_int64(st, 2, SQ_RELEASE_CHUNK);
    }
    int rc;
    *n = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *queue = (const char *)sqlite3_column_text(st, 1);
        l[*n].seq = sqlite3_column_int64(st, 0);
        l[*n].live = sqlite3_column_int64(st, 2) > now;
        if (l[*n].live && queue && note_queue(r, queue, cap) != 0) {
            sqlite3_reset(st);
            return SQLITE_NOMEM;
        }
        (*n)++;
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* Every leased message back to its queue now, with a new receipt (the old
 * one goes stale) and its DequeueCount kept. Expired ones lose the mark
 * too, but are not counted: they are never delivered. The changed rows
 * leave the partial index, so each round reads the next ones. */
static int op_release(sq_t *s, store_req_t *r, int64_t now)
{
    leased_t *l = malloc(SQ_RELEASE_CHUNK * sizeof *l);
    if (!l)
        return oom(r);
    size_t n, cap = 0;
    int rc;
    do {
        if ((rc = select_leased(s, r, now, l, &n, &cap)) != SQLITE_OK)
            break;
        for (size_t i = 0; i < n && rc == SQLITE_OK; i++) {
            char receipt[STORE_ID_LEN];
            uuid_generate(receipt);
            sqlite3_stmt *st = s->stmt[SQ_MSG_RELEASE];
            sqlite3_bind_int64(st, 1, l[i].seq);
            bind_text(st, 2, receipt);
            sqlite3_bind_int64(st, 3, now);
            rc = step_done(st);
            r->count += l[i].live;
        }
    } while (rc == SQLITE_OK && n == SQ_RELEASE_CHUNK);
    free(l);
    for (size_t i = 0; rc == SQLITE_OK && i < r->n_queues; i++) {
        char name[sizeof r->queues[i].name];
        memcpy(name, r->queues[i].name, sizeof name);
        rc = queue_info(s, &r->queues[i], name, now);
    }
    return rc;
}

static int op_sweep(sq_t *s, store_req_t *r, int64_t now)
{
    for (int i = 0; i < SQ_SWEEP_CHUNKS; i++) {
        sqlite3_stmt *st = s->stmt[SQ_SWEEP];
        sqlite3_bind_int64(st, 1, now);
        sqlite3_bind_int64(st, 2, SQ_SWEEP_CHUNK);
        int rc, n = 0;
        /* RETURNING rows come after the deletes are done, so counting (which
         * may write queue rows) while stepping is safe. */
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
            const char *queue = (const char *)sqlite3_column_text(st, 0);
            int crc = queue ? count_in(s, queue, -1, 0, now) : SQLITE_OK;
            if (crc != SQLITE_OK) {
                sqlite3_reset(st);
                return crc;
            }
            n++;
        }
        sqlite3_reset(st);
        if (rc != SQLITE_DONE)
            return rc;
        r->count += n;
        if (n < SQ_SWEEP_CHUNK)
            break;
    }
    return SQLITE_OK;
}

/* ---- key/value ----------------------------------------------------------------- */

static int op_kv_put(sq_t *s, store_req_t *r, int64_t now)
{
    sqlite3_stmt *st = s->stmt[SQ_KV_PUT];
    bind_text(st, 1, r->in.ns);
    bind_text(st, 2, r->in.key);
    bind_blob(st, 3, r->in.body, r->in.body_len);
    sqlite3_bind_int64(st, 4, now);
    return step_done(st);
}

/* Add the current row (key, value, updated at col..col+2) to r->kvs. */
static int add_kv(store_req_t *r, sqlite3_stmt *st, int col, const char *key, size_t *cap)
{
    if (r->n_kvs == *cap) {
        size_t ncap = *cap ? *cap * 2 : 4;
        void *p = realloc(r->kvs, ncap * sizeof *r->kvs);
        if (!p)
            return -1;
        r->kvs = p;
        *cap = ncap;
    }
    store_kv_t *kv = &r->kvs[r->n_kvs];
    memset(kv, 0, sizeof *kv);
    kv->key = strdup(key);
    kv->value = column_copy(st, col, &kv->value_len);
    kv->updated_time = sqlite3_column_int64(st, col + 1);
    r->n_kvs++;
    return kv->key && kv->value ? 0 : -1;
}

static int op_kv_get(sq_t *s, store_req_t *r)
{
    sqlite3_stmt *st = s->stmt[SQ_KV_GET];
    bind_text(st, 1, r->in.ns);
    bind_text(st, 2, r->in.key);
    size_t cap = 0;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        if (add_kv(r, st, 0, r->in.key, &cap) != 0) {
            sqlite3_reset(st);
            return oom(r);
        }
        rc = SQLITE_DONE;
    } else if (rc == SQLITE_DONE) {
        store__fail(r, STORE_ENOTFOUND, "no key '%.200s' in namespace '%s'", r->in.key,
                    r->in.ns);
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static int op_kv_delete(sq_t *s, store_req_t *r)
{
    sqlite3_stmt *st = s->stmt[SQ_KV_DELETE];
    bind_text(st, 1, r->in.ns);
    bind_text(st, 2, r->in.key);
    int rc = step_done(st);
    if (rc == SQLITE_OK && sqlite3_changes(s->db) == 0)
        store__fail(r, STORE_ENOTFOUND, "no key '%.200s' in namespace '%s'", r->in.key,
                    r->in.ns);
    return rc;
}

static int op_kv_list(sq_t *s, store_req_t *r)
{
    sqlite3_stmt *st = s->stmt[SQ_KV_LIST];
    bind_text(st, 1, r->in.ns);
    bind_text(st, 2, r->in.key);
    size_t plen = strlen(r->in.key), cap = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *key = (const char *)sqlite3_column_text(st, 0);
        if (!key || strncmp(key, r->in.key, plen) != 0) {
            rc = SQLITE_DONE;
            break;
        }
        if (r->n_kvs == r->in.max) {
            r->truncated = 1;
            rc = SQLITE_DONE;
            break;
        }
        if (add_kv(r, st, 1, key, &cap) != 0) {
            sqlite3_reset(st);
            return oom(r);
        }
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* ---- batches ------------------------------------------------------------------- */

static int run_op(sq_t *s, store_req_t *r, int64_t now)
{
    switch (r->op) {
    case STORE_OP_QUEUE_PUT: return op_put(s, r, now);
    case STORE_OP_QUEUE_GET: return op_get(s, r, now);
    case STORE_OP_QUEUE_PEEK: return op_peek(s, r, now);
    case STORE_OP_QUEUE_DELETE: return op_delete(s, r, now);
    case STORE_OP_QUEUE_UPDATE: return op_update(s, r, now);
    case STORE_OP_QUEUE_POISON: return op_poison(s, r, now);
    case STORE_OP_QUEUE_CLEAR: return op_clear(s, r, now);
    case STORE_OP_QUEUE_COUNT: return op_count(s, r, now);
    case STORE_OP_QUEUE_LIST: return op_list(s, r, now);
    case STORE_OP_QUEUE_RELEASE: return op_release(s, r, now);
    case STORE_OP_SWEEP: return op_sweep(s, r, now);
    case STORE_OP_KV_PUT: return op_kv_put(s, r, now);
    case STORE_OP_KV_GET: return op_kv_get(s, r);
    case STORE_OP_KV_DELETE: return op_kv_delete(s, r);
    case STORE_OP_KV_LIST: return op_kv_list(s, r);
    case STORE_OP_HISTORY_PUT:
    case STORE_OP_HISTORY_LIST:
    case STORE_OP_HISTORY_GET:
    case STORE_OP_HISTORY_PRUNE: return sq_history_op(s, r, now);
    default: return store__fail(r, STORE_EINVAL, "unknown operation %d", (int)r->op), SQLITE_OK;
    }
}

/* reqs in one transaction: SQLITE_OK, or an error after rolling back, with
 * a message in msg. */
static int run_tx(sq_t *s, store_req_t **reqs, size_t n, int64_t now, char *msg, size_t msglen)
{
    int rc = step_done(s->stmt[s->read_only ? SQ_BEGIN : SQ_BEGIN_IMMEDIATE]);
    if (rc != SQLITE_OK) {
        snprintf(msg, msglen, "%s (while beginning a transaction)", sqlite3_errmsg(s->db));
        return rc;
    }
    s->n_deltas = 0;
    for (size_t i = 0; i < n; i++) {
        reqs[i]->status = STORE_OK;
        reqs[i]->err[0] = '\0';
        rc = run_op(s, reqs[i], now);
        if (rc != SQLITE_OK) {
            snprintf(msg, msglen, "%s (while %s)",
                     rc == SQLITE_NOMEM ? "out of memory" : sqlite3_errmsg(s->db),
                     op_name(reqs[i]->op));
            break;
        }
    }
    if (rc == SQLITE_OK && (rc = apply_deltas(s, now)) != SQLITE_OK)
        snprintf(msg, msglen, "%s (while counting messages)", sqlite3_errmsg(s->db));
    if (rc == SQLITE_OK) {
        rc = step_done(s->stmt[SQ_COMMIT]);
        if (rc == SQLITE_OK)
            return SQLITE_OK;
        snprintf(msg, msglen, "%s (while committing)", sqlite3_errmsg(s->db));
    }
    if (!sqlite3_get_autocommit(s->db))
        step_done(s->stmt[SQ_ROLLBACK]);
    return rc;
}

/* 1 when no request of the batch needs its commit on disk before it is
 * acknowledged: the invocation history is best effort (a crash may lose
 * its last records), so a batch of history writes alone is committed
 * without waiting for the disk; the next durable commit syncs it too. */
static int lazy_batch(const sq_t *s, store_req_t **reqs, size_t n)
{
    if (s->opts.sync_normal || s->read_only)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (reqs[i]->op != STORE_OP_HISTORY_PUT && reqs[i]->op != STORE_OP_HISTORY_PRUNE)
            return 0;
    return 1;
}

unsigned sq_run(void *be, store_req_t **reqs, size_t n, int64_t now)
{
    sq_t *s = be;
    char msg[200];
    int lazy = lazy_batch(s, reqs, n);
    if (lazy)
        sqlite3_exec(s->db, "PRAGMA synchronous=NORMAL", NULL, NULL, NULL);
    int rc = run_tx(s, reqs, n, now, msg, sizeof msg);
    if (lazy)
        sqlite3_exec(s->db, "PRAGMA synchronous=FULL", NULL, NULL, NULL);
    if (rc == SQLITE_OK)
        return 1;
    if (n == 1) {
        store__req_reset(reqs[0]);
        store__fail(reqs[0], STORE_EIO, "store file %s: %s", s->path, msg);
        return 1;
    }
    /* The batch failed as a whole: each request alone, so that only one
     * that cannot succeed fails. */
    for (size_t i = 0; i < n; i++) {
        store__req_reset(reqs[i]);
        if (run_tx(s, &reqs[i], 1, now, msg, sizeof msg) != SQLITE_OK) {
            store__req_reset(reqs[i]);
            store__fail(reqs[i], STORE_EIO, "store file %s: %s", s->path, msg);
        }
    }
    return 1 + (unsigned)n;
}
