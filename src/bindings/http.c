/*
 * http.c -- the HTTP binding kinds: "httpTrigger" (a request starts the
 * function) and "http" (the response it sends back).
 *
 * httpTrigger fields: authLevel (anonymous | function | admin, default
 * function), methods (list of verbs; absent, null or empty = all), route
 * (template behind the route prefix; absent or "" = the function name).
 */
#include "binding.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../http/method.h"

/* A short description of a JSON value for error messages: strings quoted,
 * cut at 64 bytes and with control bytes as '?', other values by kind. */
static void show(const json_t *v, char *out, size_t n)
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

/* The member `key` of obj matched case-insensitively, NULL when absent or
 * null (Azure's configuration treats keys case-insensitively). */
static json_t *get(const json_t *obj, const char *key)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)obj, k, v)
        if (strcasecmp(k, key) == 0)
            return json_is_null(v) ? NULL : v;
    return NULL;
}

static int parse_auth_level(const json_t *v, auth_level_t *out, char *err, size_t errlen)
{
    static const char *const names[] = {"anonymous", "function", "admin"};
    char shown[96];
    if (!v) {
        *out = AUTH_FUNCTION;
        return 0;
    }
    if (json_is_string(v))
        for (int i = 0; i < 3; i++)
            if (strcasecmp(json_string_value(v), names[i]) == 0) {
                *out = (auth_level_t)i;
                return 0;
            }
    show(v, shown, sizeof shown);
    snprintf(err, errlen, "field 'authLevel': expected anonymous, function or admin, got %s",
             shown);
    return -1;
}

static int parse_methods(const json_t *v, unsigned *out, char *err, size_t errlen)
{
    char shown[96];
    size_t i;
    json_t *m;
    *out = 0;
    if (!v)
        return 0;
    if (!json_is_array(v)) {
        show(v, shown, sizeof shown);
        snprintf(err, errlen, "field 'methods': expected a list of HTTP methods, got %s", shown);
        return -1;
    }
    json_array_foreach(v, i, m) {
        unsigned bit = 0;
        if (json_is_string(m))
            bit = method_from_name(json_string_value(m), json_string_length(m));
        if (!bit) {
            show(m, shown, sizeof shown);
            snprintf(err, errlen,
                     "field 'methods': %s is not an HTTP method (expected GET, HEAD, POST, PUT, "
                     "DELETE, PATCH, OPTIONS or TRACE)",
                     shown);
            return -1;
        }
        *out |= bit;
    }
    return 0;
}

static int http_trigger_parse(const json_t *entry, struct binding *b, char *err, size_t errlen)
{
    http_trigger_conf_t conf = {.auth_level = AUTH_FUNCTION};
    char shown[96];

    if (parse_auth_level(get(entry, "authLevel"), &conf.auth_level, err, errlen) != 0)
        return -1;
    if (parse_methods(get(entry, "methods"), &conf.methods, err, errlen) != 0)
        return -1;

    json_t *route = get(entry, "route");
    if (route && !json_is_string(route)) {
        show(route, shown, sizeof shown);
        snprintf(err, errlen, "field 'route': expected a string, got %s", shown);
        return -1;
    }
    /* "" means the function name, as in Azure; "/" is the prefix root. */
    if (route && json_string_length(route) > 0) {
        const char *r = json_string_value(route);
        while (*r == '/')
            r++;
        if (!(conf.route = strdup(r))) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
    }

    http_trigger_conf_t *c = malloc(sizeof *c);
    if (!c) {
        free(conf.route);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    *c = conf;
    b->conf = c;
    return 0;
}

static void http_trigger_free(void *conf)
{
    http_trigger_conf_t *c = conf;
    if (!c)
        return;
    free(c->route);
    free(c);
}

const binding_kind_t binding_http_trigger = {
    .version = BINDING_KIND_VERSION,
    .type = "httpTrigger",
    .directions = BINDING_IN,
    .is_trigger = 1,
    .parse = http_trigger_parse,
    .free_conf = http_trigger_free,
};

const binding_kind_t binding_http_out = {
    .version = BINDING_KIND_VERSION,
    .type = "http",
    .directions = BINDING_OUT,
    .is_trigger = 0,
    .parse = NULL,
    .free_conf = NULL,
};
