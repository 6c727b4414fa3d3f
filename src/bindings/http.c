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
    binding_conf_show(v, shown, sizeof shown);
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
        binding_conf_show(v, shown, sizeof shown);
        snprintf(err, errlen, "field 'methods': expected a list of HTTP methods, got %s", shown);
        return -1;
    }
    json_array_foreach(v, i, m) {
        unsigned bit = 0;
        if (json_is_string(m))
            bit = method_from_name(json_string_value(m), json_string_length(m));
        if (!bit) {
            binding_conf_show(m, shown, sizeof shown);
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

    if (parse_auth_level(binding_conf_get(entry, "authLevel"), &conf.auth_level, err, errlen) != 0)
        return -1;
    if (parse_methods(binding_conf_get(entry, "methods"), &conf.methods, err, errlen) != 0)
        return -1;

    json_t *route = binding_conf_get(entry, "route");
    if (route && !json_is_string(route)) {
        binding_conf_show(route, shown, sizeof shown);
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
