/*
 * value.c -- binding values as they travel between the host, bindings and
 * workers (see binding.h): a JSON string is text, {"$binary": "<base64>"}
 * is bytes, anything else is JSON data.
 */
#include "binding.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../util/buf.h"
#include "../util/codec.h"

int binding_value_bytes(const json_t *v, char **out, size_t *len)
{
    buf_t b;
    buf_init(&b, (size_t)1 << 31);
    *out = NULL;
    *len = 0;
    if (json_is_string(v)) {
        if (buf_append(&b, json_string_value(v), json_string_length(v)) != 0)
            goto fail;
    } else if (json_is_object(v) && json_object_size(v) == 1 &&
               json_is_string(json_object_get(v, "$binary"))) {
        const json_t *s = json_object_get(v, "$binary");
        if (base64_decode(&b, json_string_value(s), json_string_length(s)) != 0)
            goto fail;
    } else {
        char *text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        if (!text)
            goto fail;
        int rc = buf_puts(&b, text);
        free(text);
        if (rc != 0)
            goto fail;
    }
    if (buf_reserve(&b, 1) != 0)
        goto fail;
    b.p[b.len] = '\0';
    *len = b.len;
    *out = b.p ? buf_steal(&b) : strdup("");
    return *out ? 0 : -1;
fail:
    buf_free(&b);
    return -1;
}

json_t *binding_value_new(const void *p, size_t len, int binary)
{
    if (!binary && utf8_valid(p, len) && !memchr(p, '\0', len))
        return json_stringn(len ? p : "", len);
    buf_t b;
    buf_init(&b, (size_t)1 << 31);
    if (base64_encode(&b, p, len) != 0) {
        buf_free(&b);
        return NULL;
    }
    json_t *v = json_pack("{s:s%}", "$binary", b.p ? b.p : "", b.len);
    buf_free(&b);
    return v;
}

void binding_data_builtin(json_t *d, const char *key, json_t *v)
{
    const char *k;
    json_t *old;
    json_object_foreach(d, k, old) {
        if (strcasecmp(k, key) == 0) {
            json_decref(v);
            return;
        }
    }
    json_object_set_new(d, key, v);
}
