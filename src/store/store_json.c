/*
 * store_json.c -- queues and messages as JSON (see store_json.h).
 */
#include "store_json.h"

#include "../util/buf.h"
#include "../util/codec.h"
#include "../util/cron.h"

static json_t *iso_or_null(int64_t ms)
{
    char t[64];
    if (ms == STORE_TIME_NEVER || ms <= 0 ||
        cron_time_format(ms, 0, CRON_TIME_UTC_MS, t, sizeof t) < 0)
        return json_null();
    return json_string(t);
}

json_t *store_queue_info_json(const store_queue_info_t *q)
{
    return json_pack("{s:s, s:I, s:I, s:o, s:I}", "name", q->name, "visible",
                     (json_int_t)q->visible, "invisible", (json_int_t)q->invisible,
                     "oldestInsertionTime", iso_or_null(q->oldest_insertion_time),
                     "oldestAgeMs", (json_int_t)q->oldest_age_ms);
}

json_t *store_msg_json(const store_msg_t *m)
{
    json_t *j = json_pack("{s:s, s:I, s:o, s:o, s:o}", "id", m->id, "dequeueCount",
                          (json_int_t)m->dequeue_count, "insertionTime",
                          iso_or_null(m->insertion_time), "expirationTime",
                          iso_or_null(m->expiration_time), "nextVisibleTime",
                          iso_or_null(m->next_visible_time));
    if (!j)
        return NULL;
    if (m->pop_receipt[0])
        json_object_set_new(j, "popReceipt", json_string(m->pop_receipt));
    if (!m->body)
        return j;
    json_object_set_new(j, "length", json_integer((json_int_t)m->body_len));
    if (utf8_valid((const char *)m->body, m->body_len)) {
        json_object_set_new(j, "binary", json_false());
        json_object_set_new(j, "body", json_stringn((const char *)m->body, m->body_len));
        return j;
    }
    buf_t b;
    buf_init(&b, m->body_len * 2 + 16);
    if (base64_encode(&b, m->body, m->body_len) != 0) {
        buf_free(&b);
        json_decref(j);
        return NULL;
    }
    json_object_set_new(j, "binary", json_true());
    json_object_set_new(j, "body", json_stringn(b.p ? b.p : "", b.len));
    buf_free(&b);
    return j;
}
