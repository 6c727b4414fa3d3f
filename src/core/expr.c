/*
 * expr.c -- binding expressions (see expr.h).
 */
#include "expr.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "../util/id.h"
#include "../util/netfmt.h"

/* "'<shown>': <what>" into err; -1. */
static int fail(char *err, size_t errlen, const char *shown, const char *what)
{
    snprintf(err, errlen, "'%s': %s", shown, what);
    return -1;
}

/* Member `name` (n bytes) of object o, case-insensitively; NULL if none. */
static const json_t *member(const json_t *o, const char *name, size_t n)
{
    if (!json_is_object(o))
        return NULL;
    const char *key;
    const json_t *v;
    const json_t *found = NULL;
    json_object_foreach((json_t *)o, key, v) {
        if (strlen(key) != n)
            continue;
        if (memcmp(key, name, n) == 0)
            return v; /* an exact match wins over a case-insensitive one */
        if (!found && strncasecmp(key, name, n) == 0)
            found = v;
    }
    return found;
}

/* The known top-level names of data, for the error message. */
static void known_names(const json_t *data, char *out, size_t outlen)
{
    size_t used = 0;
    out[0] = '\0';
    const char *key;
    const json_t *v;
    if (!json_is_object(data) || !json_object_size(data)) {
        snprintf(out, outlen, "no values");
        return;
    }
    json_object_foreach((json_t *)data, key, v) {
        int w = snprintf(out + used, outlen - used, "%s%s", used ? ", " : "", key);
        if (w < 0 || (size_t)w >= outlen - used) {
            if (outlen > 4)
                memcpy(out + outlen - 4, "...", 4);
            return;
        }
        used += (size_t)w;
    }
}

static void utc(int64_t now_ms, struct tm *tm)
{
    time_t s = (time_t)(now_ms / 1000);
    gmtime_r(&s, tm);
}

/* Resolve one expression (the text between the braces). */
static int one(const char *name, size_t n, const json_t *data, int64_t now_ms, buf_t *out,
               char *err, size_t errlen)
{
    char shown[EXPR_MAX_NAME + 8];
    snprintf(shown, sizeof shown, "{%.*s}", (int)n, name);
    if (n == 0)
        return fail(err, errlen, shown, "an empty expression");
    /* {name:format}: a .NET format for a time or a GUID, as in Azure; other
     * values are text already and are used as they are */
    char fmt[EXPR_MAX_NAME + 1] = "";
    const char *colon = memchr(name, ':', n);
    if (colon) {
        snprintf(fmt, sizeof fmt, "%.*s", (int)(name + n - colon - 1), colon + 1);
        n = (size_t)(colon - name);
        if (n == 0)
            return fail(err, errlen, shown, "an empty name before ':'");
    }
    if ((n == 9 && strncasecmp(name, "rand-guid", 9) == 0) ||
        (n == 12 && strncasecmp(name, "sys.randguid", 12) == 0)) {
        char id[UUID_STR_LEN], why[200];
        uuid_generate(id);
        if (!fmt[0])
            return buf_puts(out, id);
        if (netfmt_guid(out, id, fmt, why, sizeof why) != 0)
            return fail(err, errlen, shown, why);
        return 0;
    }
    int is_datetime = n == 8 && strncasecmp(name, "DateTime", 8) == 0;
    if (is_datetime || (n == 10 && strncasecmp(name, "sys.utcnow", 10) == 0)) {
        char why[300];
        if (fmt[0]) {
            if (netfmt_datetime(out, now_ms, fmt, why, sizeof why) != 0)
                return fail(err, errlen, shown, why);
            return 0;
        }
        struct tm tm;
        char t[40];
        utc(now_ms, &tm);
        if (is_datetime) {
            strftime(t, sizeof t, "%Y-%m-%dT%H-%M-%SZ", &tm);
            return buf_puts(out, t);
        }
        strftime(t, sizeof t, "%Y-%m-%dT%H:%M:%S", &tm);
        return buf_printf(out, "%s.%03dZ", t, (int)(now_ms % 1000));
    }
    /* a dotted path into data */
    const json_t *v = data;
    const char *p = name, *end = name + n;
    while (p < end) {
        const char *dot = memchr(p, '.', (size_t)(end - p));
        size_t len = dot ? (size_t)(dot - p) : (size_t)(end - p);
        const json_t *next = len ? member(v, p, len) : NULL;
        if (!next) {
            char known[300];
            known_names(v == data ? data : v, known, sizeof known);
            snprintf(err, errlen, "'%s': the trigger has no value '%.*s' (it has: %s)", shown,
                     (int)len, p, known);
            return -1;
        }
        v = next;
        p += len + (dot ? 1 : 0);
        if (dot && p == end)
            return fail(err, errlen, shown, "a name ends with '.'");
    }
    if (json_is_string(v))
        return buf_append(out, json_string_value(v), json_string_length(v));
    if (json_is_integer(v))
        return buf_printf(out, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    if (json_is_real(v))
        return buf_printf(out, "%.17g", json_real_value(v));
    if (json_is_boolean(v))
        return buf_puts(out, json_is_true(v) ? "true" : "false");
    return fail(err, errlen, shown,
                json_is_null(v)    ? "the value is null, not text that can go into a binding "
                                     "property"
                : json_is_array(v) ? "the value is a list, not text that can go into a binding "
                                     "property"
                                   : "the value is an object, not text that can go into a "
                                     "binding property");
}

int expr_resolve(const char *tmpl, const json_t *data, int64_t now_ms, buf_t *out, char *err,
                 size_t errlen)
{
    const char *p = tmpl;
    while (*p) {
        const char *open = strchr(p, '{');
        if (!open)
            return buf_puts(out, p);
        if (buf_append(out, p, (size_t)(open - p)) != 0)
            return -1;
        const char *close = strchr(open + 1, '}');
        const char *reopen = strchr(open + 1, '{');
        if (!close || (reopen && reopen < close)) {
            snprintf(err, errlen, "unclosed '{' in '%.200s'", tmpl);
            return -1;
        }
        size_t n = (size_t)(close - open - 1);
        if (n > EXPR_MAX_NAME) {
            snprintf(err, errlen, "an expression longer than %d characters in '%.200s'",
                     EXPR_MAX_NAME, tmpl);
            return -1;
        }
        if (one(open + 1, n, data, now_ms, out, err, errlen) != 0)
            return -1;
        p = close + 1;
    }
    return 0;
}

int expr_has_braces(const char *s)
{
    const char *open = s ? strchr(s, '{') : NULL;
    return open && strchr(open, '}') != NULL;
}

int expr_settings(const char *s, const char *(*lookup)(void *ctx, const char *name), void *ctx,
                  buf_t *out, char *err, size_t errlen)
{
    const char *p = s;
    while (*p) {
        const char *open = strchr(p, '%');
        if (!open)
            return buf_puts(out, p);
        if (buf_append(out, p, (size_t)(open - p)) != 0)
            return -1;
        if (open[1] == '%') { /* %% */
            if (buf_putc(out, '%') != 0)
                return -1;
            p = open + 2;
            continue;
        }
        const char *close = strchr(open + 1, '%');
        if (!close) {
            snprintf(err, errlen, "'%%' without its closing '%%' in '%.200s'", s);
            return -1;
        }
        char name[EXPR_MAX_NAME + 1];
        size_t n = (size_t)(close - open - 1);
        if (n > EXPR_MAX_NAME) {
            snprintf(err, errlen, "a setting name longer than %d characters in '%.200s'",
                     EXPR_MAX_NAME, s);
            return -1;
        }
        memcpy(name, open + 1, n);
        name[n] = '\0';
        const char *v = lookup(ctx, name);
        if (!v) {
            snprintf(err, errlen, "'%%%s%%': the app setting '%s' is not set (local.settings.json "
                     "Values, or the environment)", name, name);
            return -1;
        }
        if (buf_puts(out, v) != 0)
            return -1;
        p = close + 1;
    }
    return 0;
}
