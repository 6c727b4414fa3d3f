/*
 * conf.c -- helpers that binding kinds share when they read their
 * function.json entry and host.json sections (see binding.h).
 */
#include "binding.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

json_t *binding_conf_get(const json_t *obj, const char *key)
{
    const char *k;
    json_t *v;
    if (!json_is_object(obj))
        return NULL;
    json_object_foreach((json_t *)obj, k, v)
        if (strcasecmp(k, key) == 0)
            return json_is_null(v) ? NULL : v;
    return NULL;
}

void binding_conf_show(const json_t *v, char *out, size_t n)
{
    switch (json_typeof(v)) {
    case JSON_STRING: {
        const char *s = json_string_value(v);
        size_t len = strlen(s);
        snprintf(out, n, "'%.*s%s'", len > 64 ? 64 : (int)len, s, len > 64 ? "..." : "");
        for (char *p = out + 1; *p; p++)
            if ((unsigned char)*p < 0x20 || *p == 0x7f)
                *p = '?';
        break;
    }
    case JSON_INTEGER: snprintf(out, n, "%lld", (long long)json_integer_value(v)); break;
    case JSON_REAL: snprintf(out, n, "%g", json_real_value(v)); break;
    case JSON_TRUE: snprintf(out, n, "true"); break;
    case JSON_FALSE: snprintf(out, n, "false"); break;
    case JSON_NULL: snprintf(out, n, "null"); break;
    case JSON_ARRAY: snprintf(out, n, "an array"); break;
    case JSON_OBJECT: snprintf(out, n, "an object"); break;
    }
}
