/*
 * store_ops.c -- the store's operations as callers see them (see store.h):
 * each checks its arguments once, with a message naming what is wrong,
 * copies them into the request and hands it to store__submit(). Backends
 * receive only valid requests.
 */
#include "backend.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Write s (n bytes) for a message: printable ASCII as is, other bytes as
 * \xNN, cut at about 64 bytes. */
static const char *quote(const char *s, size_t n, char *out, size_t outlen)
{
    size_t o = 0;
    for (size_t i = 0; i < n && o + 8 < outlen; i++) {
        unsigned char c = (unsigned char)s[i];
        if (i >= 64) {
            memcpy(out + o, "...", 3);
            o += 3;
            break;
        }
        if (c >= 0x20 && c < 0x7f && c != '\'' && c != '\\')
            out[o++] = (char)c;
        else
            o += (size_t)snprintf(out + o, outlen - o, "\\x%02x", c);
    }
    out[o] = '\0';
    return out;
}

static void name_err(char *err, size_t errlen, const char *name, size_t n, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static void name_err(char *err, size_t errlen, const char *name, size_t n, const char *fmt, ...)
{
    char q[300], what[200];
    if (!err || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    snprintf(err, errlen, "queue name '%s' %s", quote(name, n, q, sizeof q), what);
}

/* Azure's rules for the n bytes of name. */
static int base_name_check(const char *name, size_t n, size_t shown, char *err, size_t errlen)
{
    if (n < STORE_QUEUE_NAME_MIN || n > STORE_QUEUE_NAME_MAX) {
        name_err(err, errlen, name, shown,
                 "is %zu characters long; queue names have 3 to 63 characters", n);
        return STORE_EINVAL;
    }
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (c >= 'A' && c <= 'Z') {
            name_err(err, errlen, name, shown,
                     "has an upper-case letter at position %zu; queue names are lower-case",
                     i + 1);
            return STORE_EINVAL;
        }
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) {
            name_err(err, errlen, name, shown,
                     "has a character other than a lower-case letter, digit or dash at "
                     "position %zu",
                     i + 1);
            return STORE_EINVAL;
        }
        if (c == '-' && i > 0 && name[i - 1] == '-') {
            name_err(err, errlen, name, shown, "has two dashes in a row at position %zu", i);
            return STORE_EINVAL;
        }
    }
    if (name[0] == '-') {
        name_err(err, errlen, name, shown, "must start with a letter or digit");
        return STORE_EINVAL;
    }
    if (name[n - 1] == '-') {
        name_err(err, errlen, name, shown, "must end with a letter or digit");
        return STORE_EINVAL;
    }
    return STORE_OK;
}

int store_queue_name_check(const char *name, char *err, size_t errlen)
{
    if (!name) {
        if (err && errlen)
            snprintf(err, errlen, "queue name is missing");
        return STORE_EINVAL;
    }
    size_t n = strnlen(name, STORE_QUEUE_REF_MAX + 64);
    const size_t sfx = sizeof STORE_POISON_SUFFIX - 1;
    if (n > sfx && n <= STORE_QUEUE_REF_MAX &&
        memcmp(name + n - sfx, STORE_POISON_SUFFIX, sfx) == 0 &&
        base_name_check(name, n - sfx, n, NULL, 0) == STORE_OK)
        return STORE_OK;
    return base_name_check(name, n, n, err, errlen);
}

/* ---- argument checks ------------------------------------------------------ */

static void req_init(store_req_t *req, store_op_t op)
{
    void *data = req->data;
    memset(req, 0, sizeof *req);
    req->data = data;
    req->op = op;
}

static int check_queue(store_req_t *req, const char *queue)
{
    if (store_queue_name_check(queue, req->err, sizeof req->err) != STORE_OK) {
        req->status = STORE_EINVAL;
        return STORE_EINVAL;
    }
    snprintf(req->in.queue, sizeof req->in.queue, "%s", queue);
    return STORE_OK;
}

/* A message id or pop receipt: 1 to 36 printable characters. */
static int check_token(store_req_t *req, const char *what, const char *v, char *out)
{
    if (!v || !*v)
        return store__fail(req, STORE_EINVAL, "%s is missing", what);
    size_t n = strnlen(v, STORE_ID_LEN);
    int ok = n < STORE_ID_LEN;
    for (size_t i = 0; ok && i < n; i++)
        ok = v[i] > 0x20 && v[i] < 0x7f;
    if (!ok) {
        char q[300];
        return store__fail(req, STORE_EINVAL,
                           "%s '%s' is not valid: 1 to 36 printable characters expected", what,
                           quote(v, strnlen(v, 64), q, sizeof q));
    }
    memcpy(out, v, n + 1);
    return STORE_OK;
}

static int check_visibility(store_req_t *req, const char *what, int64_t ms)
{
    if (ms < 0 || ms > STORE_MAX_VISIBILITY_MS)
        return store__fail(req, STORE_EINVAL,
                           "%s of %lld ms is out of range (0 to %lld ms, 7 days)", what,
                           (long long)ms, (long long)STORE_MAX_VISIBILITY_MS);
    return STORE_OK;
}

static int check_max(store_req_t *req, unsigned max, unsigned limit)
{
    if (max < 1 || max > limit)
        return store__fail(req, STORE_EINVAL, "number of entries %u is out of range (1 to %u)",
                           max, limit);
    req->in.max = max;
    return STORE_OK;
}

static int check_ns(store_req_t *req, const char *ns)
{
    if (!ns || !*ns)
        return store__fail(req, STORE_EINVAL, "key/value namespace is missing");
    size_t n = strnlen(ns, STORE_NS_MAX + 1);
    int ok = n <= STORE_NS_MAX;
    for (size_t i = 0; ok && i < n; i++) {
        char c = ns[i];
        ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
             c == '-';
    }
    if (!ok) {
        char q[300];
        return store__fail(req, STORE_EINVAL,
                           "key/value namespace '%s' is not valid: 1 to 64 of a-z, 0-9, '.', "
                           "'_' and '-' expected",
                           quote(ns, strnlen(ns, 64), q, sizeof q));
    }
    memcpy(req->in.ns, ns, n + 1);
    return STORE_OK;
}

/* Copy key (allow_empty for a list prefix) and an optional value into one
 * allocation owned by the request. */
static int copy_key_value(store_req_t *req, const char *key, int allow_empty, const void *value,
                          size_t len)
{
    if (!key)
        key = "";
    size_t kn = strnlen(key, STORE_KEY_MAX + 1);
    if (kn > STORE_KEY_MAX)
        return store__fail(req, STORE_EINVAL, "key is longer than %d bytes", STORE_KEY_MAX);
    if (kn == 0 && !allow_empty)
        return store__fail(req, STORE_EINVAL, "key is empty");
    char *mem = malloc(kn + 1 + len + 1);
    if (!mem)
        return store__fail(req, STORE_EIO, "out of memory");
    memcpy(mem, key, kn + 1);
    if (len)
        memcpy(mem + kn + 1, value, len);
    mem[kn + 1 + len] = '\0';
    req->mem_ = mem;
    req->in.key = mem;
    req->in.body = (const unsigned char *)mem + kn + 1;
    req->in.body_len = len;
    return STORE_OK;
}

/* ---- queues ---------------------------------------------------------------- */

int store_queue_put(store_t *st, store_req_t *req, const char *queue, const void *body,
                    size_t len, int64_t delay_ms, int64_t ttl_ms, store_cb cb)
{
    req_init(req, STORE_OP_QUEUE_PUT);
    const store_options_t *o = store__options(st);
    if (check_queue(req, queue))
        return req->status;
    if (len > o->max_body)
        return store__fail(req, STORE_E2BIG,
                           "message of %zu bytes for queue '%s' is over the limit of %zu bytes",
                           len, req->in.queue, o->max_body);
    if (len && !body)
        return store__fail(req, STORE_EINVAL, "message body is missing");
    if (ttl_ms == 0)
        ttl_ms = STORE_DEFAULT_TTL_MS;
    if (ttl_ms < 0 && ttl_ms != STORE_TTL_NEVER)
        return store__fail(req, STORE_EINVAL,
                           "time to live of %lld ms is not valid (a positive number of ms, 0 "
                           "for the default of 7 days, or -1 for never)",
                           (long long)ttl_ms);
    if (check_visibility(req, "initial visibility delay", delay_ms))
        return req->status;
    if (ttl_ms != STORE_TTL_NEVER && delay_ms >= ttl_ms)
        return store__fail(req, STORE_EINVAL,
                           "initial visibility delay (%lld ms) must be shorter than the time "
                           "to live (%lld ms)",
                           (long long)delay_ms, (long long)ttl_ms);
    if (copy_key_value(req, "", 1, body, len))
        return req->status;
    req->in.key = NULL;
    req->in.delay_ms = delay_ms;
    req->in.ttl_ms = ttl_ms;
    return store__submit(st, req, cb);
}

int store_queue_get(store_t *st, store_req_t *req, const char *queue, unsigned max,
                    int64_t visibility_ms, store_cb cb)
{
    req_init(req, STORE_OP_QUEUE_GET);
    if (check_queue(req, queue) || check_max(req, max, STORE_GET_MAX) ||
        check_visibility(req, "visibility timeout", visibility_ms))
        return req->status;
    req->in.timeout_ms = visibility_ms;
    return store__submit(st, req, cb);
}

int store_queue_peek(store_t *st, store_req_t *req, const char *queue, unsigned max,
                     store_cb cb)
{
    req_init(req, STORE_OP_QUEUE_PEEK);
    if (check_queue(req, queue) || check_max(req, max, STORE_GET_MAX))
        return req->status;
    return store__submit(st, req, cb);
}

/* The arguments that delete, update and poison share. */
static int check_held(store_req_t *req, const char *queue, const char *id, const char *receipt)
{
    if (check_queue(req, queue) || check_token(req, "message id", id, req->in.id) ||
        check_token(req, "pop receipt", receipt, req->in.receipt))
        return req->status;
    return STORE_OK;
}

int store_queue_delete(store_t *st, store_req_t *req, const char *queue, const char *id,
                       const char *receipt, store_cb cb)
{
    req_init(req, STORE_OP_QUEUE_DELETE);
    if (check_held(req, queue, id, receipt))
        return req->status;
    return store__submit(st, req, cb);
}

int store_queue_update(store_t *st, store_req_t *req, const char *queue, const char *id,
                       const char *receipt, int64_t visibility_ms, store_cb cb)
{
    req_init(req, STORE_OP_QUEUE_UPDATE);
    if (check_held(req, queue, id, receipt) ||
        check_visibility(req, "visibility timeout", visibility_ms))
        return req->status;
    req->in.timeout_ms = visibility_ms;
    return store__submit(st, req, cb);
}

int store_queue_poison(store_t *st, store_req_t *req, const char *queue, const char *id,
                       const char *receipt, store_cb cb)
{
    req_init(req, STORE_OP_QUEUE_POISON);
    if (check_held(req, queue, id, receipt))
        return req->status;
    size_t n = strlen(req->in.queue);
    if (n > STORE_QUEUE_NAME_MAX)
        return store__fail(req, STORE_EINVAL,
                           "queue '%s' has no poison queue: '%s-poison' would be longer than "
                           "%d characters",
                           req->in.queue, req->in.queue, STORE_QUEUE_REF_MAX);
    memcpy(req->in.poison, req->in.queue, n);
    memcpy(req->in.poison + n, STORE_POISON_SUFFIX, sizeof STORE_POISON_SUFFIX);
    req->in.ttl_ms = STORE_DEFAULT_TTL_MS;
    return store__submit(st, req, cb);
}

int store_queue_release(store_t *st, store_req_t *req, const char *queue, store_cb cb)
{
    req_init(req, STORE_OP_QUEUE_RELEASE);
    if (queue && check_queue(req, queue))
        return req->status;
    return store__submit(st, req, cb);
}

int store_queue_clear(store_t *st, store_req_t *req, const char *queue, store_cb cb)
{
    req_init(req, STORE_OP_QUEUE_CLEAR);
    if (check_queue(req, queue))
        return req->status;
    return store__submit(st, req, cb);
}

int store_queue_count(store_t *st, store_req_t *req, const char *queue, store_cb cb)
{
    req_init(req, STORE_OP_QUEUE_COUNT);
    if (check_queue(req, queue))
        return req->status;
    return store__submit(st, req, cb);
}

int store_queue_list(store_t *st, store_req_t *req, store_cb cb)
{
    req_init(req, STORE_OP_QUEUE_LIST);
    req->in.max = STORE_LIST_MAX;
    return store__submit(st, req, cb);
}

int store_sweep(store_t *st, store_req_t *req, store_cb cb)
{
    req_init(req, STORE_OP_SWEEP);
    return store__submit(st, req, cb);
}

/* ---- key/value -------------------------------------------------------------- */

int store_kv_put(store_t *st, store_req_t *req, const char *ns, const char *key,
                 const void *value, size_t len, store_cb cb)
{
    req_init(req, STORE_OP_KV_PUT);
    const store_options_t *o = store__options(st);
    if (check_ns(req, ns))
        return req->status;
    if (len > o->max_value)
        return store__fail(req, STORE_E2BIG,
                           "value of %zu bytes for namespace '%s' is over the limit of %zu "
                           "bytes",
                           len, req->in.ns, o->max_value);
    if (len && !value)
        return store__fail(req, STORE_EINVAL, "value is missing");
    if (copy_key_value(req, key, 0, value, len))
        return req->status;
    return store__submit(st, req, cb);
}

int store_kv_get(store_t *st, store_req_t *req, const char *ns, const char *key, store_cb cb)
{
    req_init(req, STORE_OP_KV_GET);
    if (check_ns(req, ns) || copy_key_value(req, key, 0, NULL, 0))
        return req->status;
    return store__submit(st, req, cb);
}

int store_kv_delete(store_t *st, store_req_t *req, const char *ns, const char *key,
                    store_cb cb)
{
    req_init(req, STORE_OP_KV_DELETE);
    if (check_ns(req, ns) || copy_key_value(req, key, 0, NULL, 0))
        return req->status;
    return store__submit(st, req, cb);
}

int store_kv_list(store_t *st, store_req_t *req, const char *ns, const char *prefix,
                  unsigned max, store_cb cb)
{
    req_init(req, STORE_OP_KV_LIST);
    if (check_ns(req, ns) || check_max(req, max, STORE_LIST_MAX) ||
        copy_key_value(req, prefix, 1, NULL, 0))
        return req->status;
    return store__submit(st, req, cb);
}
