/*
 * app.c -- the app loader: reads host.json (with AzureFunctionsJobHost__
 * overrides), local.settings.json and every function folder into an app_t
 * (see app.h), and the app's lifecycle and lookups. Per-function validation
 * is in function_json.c; the overrides and typed settings of host.json in
 * host_json.c.
 */
#include "app.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../util/envset.h"
#include "app_priv.h"

/* ---- small shared helpers (app_priv.h) ---- */

static void oom(void)
{
    fputs("stratus: out of memory\n", stderr);
    abort();
}

void *app__xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p)
        oom();
    return p;
}

void *app__xrealloc(void *p, size_t n, size_t size)
{
    if (size && n > SIZE_MAX / size)
        oom();
    void *q = realloc(p, n && size ? n * size : 1);
    if (!q)
        oom();
    return q;
}

char *app__xstrdup(const char *s)
{
    char *p = strdup(s);
    if (!p)
        oom();
    return p;
}

json_t *app__get(const json_t *obj, const char *key) { return binding_conf_get(obj, key); }

void app__escape(const char *s, char *out, size_t n)
{
    size_t o = 0, i = 0;
    if (n == 0)
        return;
    for (; s[i] && i < 128; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f) {
            if (o + 4 >= n)
                break;
            snprintf(out + o, n - o, "\\x%02x", c);
            o += 4;
        } else {
            if (o + 1 >= n)
                break;
            out[o++] = (char)c;
        }
    }
    if (s[i]) {
        while (o > 0 && ((unsigned char)out[o - 1] & 0xc0) == 0x80)
            o--; /* continuation bytes of a cut sequence */
        if (o > 0 && ((unsigned char)out[o - 1] & 0xc0) == 0xc0)
            o--; /* its lead byte */
        if (o + 3 < n) {
            memcpy(out + o, "...", 3);
            o += 3;
        }
    }
    out[o] = '\0';
}

void app__show(const json_t *v, char *out, size_t n)
{
    char text[300];
    switch (v ? json_typeof(v) : JSON_NULL) {
    case JSON_STRING:
        app__escape(json_string_value(v), text, sizeof text);
        snprintf(out, n, "'%s'", text);
        break;
    case JSON_INTEGER: snprintf(out, n, "%lld", (long long)json_integer_value(v)); break;
    case JSON_REAL: snprintf(out, n, "%g", json_real_value(v)); break;
    case JSON_TRUE: snprintf(out, n, "true"); break;
    case JSON_FALSE: snprintf(out, n, "false"); break;
    case JSON_NULL: snprintf(out, n, "null"); break;
    case JSON_ARRAY: snprintf(out, n, "an array"); break;
    case JSON_OBJECT: snprintf(out, n, "an object"); break;
    }
}

char *app__path_join(const char *dir, const char *rel)
{
    size_t dl = rel[0] == '/' ? 0 : strlen(dir), rl = strlen(rel);
    char *src = app__xcalloc(dl + rl + 2, 1), *out = app__xcalloc(dl + rl + 2, 1);
    size_t o = 0;
    memcpy(src, dir, dl);
    src[dl] = '/';
    memcpy(src + dl + 1, rel, rl);

    for (const char *p = src; *p;) {
        while (*p == '/')
            p++;
        const char *seg = p;
        while (*p && *p != '/')
            p++;
        size_t len = (size_t)(p - seg);
        if (len == 0 || (len == 1 && seg[0] == '.'))
            continue;
        if (len == 2 && seg[0] == '.' && seg[1] == '.') {
            while (o > 0 && out[o - 1] != '/')
                o--;
            if (o > 0)
                o--;
            continue;
        }
        out[o++] = '/';
        memcpy(out + o, seg, len);
        o += len;
    }
    if (o == 0)
        out[o++] = '/';
    out[o] = '\0';
    free(src);
    return out;
}

int app__read_file(const char *path, size_t max, char **text, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    size_t cap = 4096, n = 0;
    char *p = app__xcalloc(cap + 1, 1);
    for (;;) {
        if (n == cap) {
            if (cap >= max + 1) {
                free(p);
                fclose(f);
                errno = EFBIG;
                return -1;
            }
            cap = cap * 2 > max + 1 ? max + 1 : cap * 2;
            p = app__xrealloc(p, cap + 1, 1);
        }
        size_t got = fread(p + n, 1, cap - n, f);
        n += got;
        if (got == 0)
            break;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(p);
        errno = EIO;
        return -1;
    }
    if (n > max) {
        free(p);
        errno = EFBIG;
        return -1;
    }
    p[n] = '\0';
    *text = p;
    *len = n;
    return 0;
}

int app__parse_ll(const char *s, long long *out)
{
    const char *d = s[0] == '-' ? s + 1 : s;
    if (*d < '0' || *d > '9')
        return 0;
    for (const char *p = d; *p; p++)
        if (*p < '0' || *p > '9')
            return 0;
    errno = 0;
    long long v = strtoll(s, NULL, 10);
    if (errno == ERANGE)
        return 0;
    *out = v;
    return 1;
}

int app__int(const json_t *v, long long *out)
{
    if (json_is_integer(v)) {
        *out = (long long)json_integer_value(v);
        return 0;
    }
    if (json_is_string(v) && app__parse_ll(json_string_value(v), out))
        return 0;
    return -1;
}

int app__bool(const json_t *v, int *out)
{
    if (json_is_boolean(v)) {
        *out = json_is_true(v);
        return 0;
    }
    if (json_is_string(v) && strcasecmp(json_string_value(v), "true") == 0) {
        *out = 1;
        return 0;
    }
    if (json_is_string(v) && strcasecmp(json_string_value(v), "false") == 0) {
        *out = 0;
        return 0;
    }
    return -1;
}

/* ---- errors, settings, lookups ---- */

void app_add_error(app_t *app, const char *function, const char *fmt, ...)
{
    va_list ap;
    char *msg = NULL;
    va_start(ap, fmt);
    int n = vasprintf(&msg, fmt, ap);
    va_end(ap);
    if (n < 0)
        oom();
    app->errors = app__xrealloc(app->errors, app->nerrors + 1, sizeof *app->errors);
    app->errors[app->nerrors].function = function ? app__xstrdup(function) : NULL;
    app->errors[app->nerrors].message = msg;
    app->nerrors++;
}

const char *app_setting(const app_t *app, const char *name)
{
    const char *v = getenv(name);
    if (v)
        return v;
    for (size_t i = 0; i < app->nsettings; i++)
        if (strcmp(app->settings[i].name, name) == 0)
            return app->settings[i].value;
    return NULL;
}

int app_export_settings(const app_t *app)
{
    env_change_t *ch = calloc(app->nsettings + 1, sizeof *ch);
    if (!ch)
        return -1;
    size_t n = 0;
    for (size_t i = 0; i < app->nsettings; i++)
        if (app->settings[i].name[0] && !strchr(app->settings[i].name, '='))
            ch[n++] = (env_change_t){app->settings[i].name,
                                     app->settings[i].value ? app->settings[i].value : "", 1};
    int rc = n ? env_update(ch, n) : 0;
    int e = errno;
    free(ch);
    errno = e;
    return rc;
}

function_t *app_function(const app_t *app, const char *name)
{
    for (size_t i = 0; i < app->nfunctions; i++)
        if (strcasecmp(app->functions[i]->name, name) == 0)
            return app->functions[i];
    return NULL;
}

void app__function_free(function_t *fn)
{
    if (!fn)
        return;
    for (size_t i = 0; i < fn->nbindings; i++) {
        binding_t *b = &fn->bindings[i];
        if (b->conf && b->kind && b->kind->free_conf)
            b->kind->free_conf(b->conf);
        free(b->name);
        free(b->type);
        free(b->data_type);
        free(b->connection);
    }
    free(fn->bindings);
    free(fn->name);
    free(fn->dir);
    free(fn->config_path);
    free(fn->label);
    free(fn->config_text);
    free(fn->script_file);
    free(fn->entry_point);
    free(fn->bootstrap);
    free(fn->load_error);
    free(fn);
}

/* Take fn out of app->functions; 0, or -1 when it is not there. */
static int unlink_function(app_t *app, function_t *fn)
{
    for (size_t i = 0; i < app->nfunctions; i++) {
        if (app->functions[i] != fn)
            continue;
        memmove(&app->functions[i], &app->functions[i + 1],
                (app->nfunctions - i - 1) * sizeof *app->functions);
        app->nfunctions--;
        return 0;
    }
    return -1;
}

void app_drop_function(app_t *app, function_t *fn)
{
    if (unlink_function(app, fn) == 0)
        app__function_free(fn);
}

void app_break_function(app_t *app, function_t *fn, const char *why)
{
    function_t **grown = NULL;
    if (fn->http && !fn->load_error && (fn->load_error = strdup(why)) != NULL)
        grown = realloc(app->broken, (app->nbroken + 1) * sizeof *app->broken);
    if (!grown) {
        app_drop_function(app, fn);
        return;
    }
    app->broken = grown;
    unlink_function(app, fn);
    fn->runtime_data = NULL;
    app->broken[app->nbroken++] = fn;
}

void app_free(app_t *app)
{
    if (!app)
        return;
    for (size_t i = 0; i < app->nfunctions; i++)
        app__function_free(app->functions[i]);
    free(app->functions);
    for (size_t i = 0; i < app->nbroken; i++)
        app__function_free(app->broken[i]);
    free(app->broken);
    for (size_t i = 0; i < app->nerrors; i++) {
        free(app->errors[i].function);
        free(app->errors[i].message);
    }
    free(app->errors);
    for (size_t i = 0; i < app->nsettings; i++) {
        free(app->settings[i].name);
        free(app->settings[i].value);
    }
    free(app->settings);
    for (size_t i = 0; i < app->nlog_levels; i++)
        free(app->log_categories[i]);
    free(app->log_categories);
    free(app->log_levels);
    for (size_t i = 0; i < app->nfunctions_filter; i++)
        free(app->functions_filter[i]);
    free(app->functions_filter);
    for (size_t i = 0; i < app->nwatch_dirs; i++)
        free(app->watch_dirs[i]);
    free(app->watch_dirs);
    for (size_t i = 0; i < app->nwatch_files; i++)
        free(app->watch_files[i]);
    free(app->watch_files);
    app__custom_handler_free(&app->custom_handler);
    json_decref(app->host_json);
    free(app->index_source);
    free(app->root);
    free(app->worker_runtime);
    free(app->route_prefix);
    free(app->cors);
    free(app);
}

/* ---- name and TimeSpan rules ---- */

int function_name_valid(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > 128 || strcasecmp(name, "host") == 0)
        return 0;
    if (!((name[0] >= 'a' && name[0] <= 'z') || (name[0] >= 'A' && name[0] <= 'Z')))
        return 0;
    for (size_t i = 1; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-'))
            return 0;
    }
    return 1;
}

int binding_name_valid(const char *name)
{
    size_t n = strlen(name);
    if (strcmp(name, "$return") == 0)
        return 1;
    if (n == 0 || n > 128)
        return 0;
    if (!((name[0] >= 'a' && name[0] <= 'z') || (name[0] >= 'A' && name[0] <= 'Z')))
        return 0;
    for (size_t i = 1; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')))
            return 0;
    }
    return 1;
}

/* Read 1..maxdigits decimal digits at *p. */
static int digits(const char **p, int maxdigits, long long *out)
{
    long long v = 0;
    int n = 0;
    while (**p >= '0' && **p <= '9') {
        if (++n > maxdigits)
            return -1;
        v = v * 10 + (**p - '0');
        (*p)++;
    }
    if (n == 0)
        return -1;
    *out = v;
    return 0;
}

void timespan_format(int64_t ms, char *out, size_t n)
{
    snprintf(out, n, "%02lld:%02lld:%02lld", (long long)(ms / 3600000),
             (long long)(ms / 60000 % 60), (long long)(ms / 1000 % 60));
    if (ms % 1000) {
        size_t len = strlen(out);
        snprintf(out + len, n - len, ".%03lld", (long long)(ms % 1000));
    }
}

int timespan_parse(const char *s, int64_t *ms)
{
    long long v[4], days = 0, h, m, sec = 0, frac = 0;
    int nv = 1, has_days = 0;
    const char *p = s;

    if (strcmp(s, "-1") == 0) {
        *ms = -1;
        return 0;
    }
    /* [d.]hh:mm[:ss[.fffffff]], or .NET's "g" form d:hh:mm:ss[.fffffff] */
    if (digits(&p, 8, &v[0]) != 0)
        return -1;
    if (*p == '.') {
        days = v[0];
        has_days = 1;
        p++;
        if (digits(&p, 2, &v[0]) != 0)
            return -1;
    }
    while (*p == ':' && nv < 4) {
        p++;
        if (digits(&p, 2, &v[nv++]) != 0)
            return -1;
    }
    if (*p == '.' && nv >= 3) {
        const char *f = ++p;
        if (digits(&p, 7, &frac) != 0)
            return -1;
        for (long nd = p - f; nd < 3; nd++)
            frac *= 10;
        for (long nd = p - f; nd > 3; nd--)
            frac /= 10;
    }
    if (*p != '\0' || nv < 2 + has_days || (nv == 4 && has_days))
        return -1;
    if (nv == 4) {
        days = v[0];
        h = v[1], m = v[2], sec = v[3];
    } else {
        h = v[0], m = v[1];
        if (nv == 3)
            sec = v[2];
    }
    if (h > 23 || m > 59 || sec > 59 || days > 10675199)
        return -1;
    *ms = (((days * 24 + h) * 60 + m) * 60 + sec) * 1000 + frac;
    return 0;
}

/* ---- host.json and local.settings.json ---- */

/* One step of a scan of JSON text: 1 when c is inside a string (or is the
 * quote that ends it), given and updating the scan's state. */
static int in_json_string(char c, int *in_string, int *escape)
{
    if (!*in_string)
        return (*in_string = c == '"');
    if (*escape)
        *escape = 0;
    else if (c == '\\')
        *escape = 1;
    else if (c == '"')
        *in_string = 0;
    return 1;
}

/* Blank what JSON.NET, which Azure reads these files with, lets through
 * and jansson does not: a UTF-8 byte order mark (editors on Windows write
 * one), comments (line and block) and a comma before } or ]. In place, the
 * same length, so that line:column of errors stays true. */
static void relax(char *s, size_t n)
{
    int in_string = 0, escape = 0;
    if (n >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0)
        s[0] = s[1] = s[2] = ' ';
    for (size_t i = 0; i < n; i++) { /* comments */
        if (in_json_string(s[i], &in_string, &escape))
            continue;
        if (s[i] == '/' && i + 1 < n && s[i + 1] == '/') {
            for (; i < n && s[i] != '\n'; i++)
                s[i] = ' ';
        } else if (s[i] == '/' && i + 1 < n && s[i + 1] == '*') {
            const char *end = memmem(s + i + 2, n - i - 2, "*/", 2);
            if (!end)
                return; /* unterminated: jansson says where */
            for (size_t stop = (size_t)(end - s) + 2; i < stop; i++)
                if (s[i] != '\n')
                    s[i] = ' ';
            i--;
        }
    }
    in_string = escape = 0;
    char prev = 0; /* the last character of a value or of punctuation */
    for (size_t i = 0; i < n; i++) { /* trailing commas: after a value only */
        char c = s[i];
        if (in_json_string(c, &in_string, &escape)) {
            prev = '"';
            continue;
        }
        if (c == ' ' || c == '\t' || c == '\r' || c == '\n')
            continue;
        if (c == ',' && prev != '{' && prev != '[' && prev != ',' && prev) {
            size_t j = i + 1;
            while (j < n && (s[j] == ' ' || s[j] == '\t' || s[j] == '\r' || s[j] == '\n'))
                j++;
            if (j < n && (s[j] == '}' || s[j] == ']')) {
                s[i] = ' ';
                continue;
            }
        }
        prev = c;
    }
}

json_t *app__load_relaxed(const char *text, size_t len, json_error_t *je)
{
    char *copy = malloc(len ? len : 1);
    if (!copy) {
        snprintf(je->text, sizeof je->text, "out of memory");
        je->line = je->column = 0;
        return NULL;
    }
    memcpy(copy, text, len);
    relax(copy, len);
    json_t *j = json_loadb(copy, len, JSON_REJECT_DUPLICATES, je);
    free(copy);
    return j;
}

/* Parse a configuration file in the app root. 0 with *out, 1 when the file
 * is absent, -1 with err. */
static int load_json(const app_t *app, const char *file, json_t **out, char *err, size_t errlen)
{
    char *path = app__path_join(app->root, file), *text;
    size_t len;
    json_error_t je;
    if (app__read_file(path, APP_MAX_FILE, &text, &len) != 0) {
        int e = errno;
        free(path);
        if (e == ENOENT)
            return 1;
        snprintf(err, errlen, "%s: %s", file,
                 e == EFBIG ? "file too large" : strerror(e));
        return -1;
    }
    free(path);
    *out = app__load_relaxed(text, len, &je);
    free(text);
    if (!*out) {
        snprintf(err, errlen, "%s:%d:%d: %s", file, je.line, je.column, je.text);
        return -1;
    }
    if (!json_is_object(*out)) {
        char shown[128];
        app__show(*out, shown, sizeof shown);
        snprintf(err, errlen, "%s: expected a JSON object, got %s", file, shown);
        json_decref(*out);
        *out = NULL;
        return -1;
    }
    return 0;
}

static int load_host_json(app_t *app, char *err, size_t errlen)
{
    int rc = load_json(app, "host.json", &app->host_json, err, errlen);
    if (rc == 1)
        snprintf(err, errlen, "host.json: not found in %s (an app folder needs a host.json "
                 "with \"version\": \"2.0\")", app->root);
    if (rc != 0)
        return -1;
    json_t *v = app__get(app->host_json, "version");
    if (!json_is_string(v) || strcmp(json_string_value(v), "2.0") != 0) {
        char shown[128] = "nothing";
        if (v)
            app__show(v, shown, sizeof shown);
        snprintf(err, errlen, "host.json: field 'version': expected \"2.0\", got %s", shown);
        return -1;
    }
    return 0;
}

/* The text of a Values entry: a string as it is, a number or a boolean as its
 * JSON text ("10", "1.5", "true"), as Core Tools (JSON.NET reading into
 * strings) takes them; NULL for anything else. text holds the converted
 * forms. */
static const char *setting_text(const json_t *v, char *text, size_t n)
{
    switch (json_typeof(v)) {
    case JSON_STRING: return json_string_value(v);
    case JSON_INTEGER: snprintf(text, n, "%lld", (long long)json_integer_value(v)); return text;
    case JSON_REAL: snprintf(text, n, "%.17g", json_real_value(v)); break;
    case JSON_TRUE: return "true";
    case JSON_FALSE: return "false";
    default: return NULL;
    }
    /* the shortest %g form that reads back as the same number */
    for (int prec = 1; prec <= 17; prec++) {
        char shorter[64];
        snprintf(shorter, sizeof shorter, "%.*g", prec, json_real_value(v));
        if (strtod(shorter, NULL) == json_real_value(v)) {
            snprintf(text, n, "%s", shorter);
            break;
        }
    }
    return text;
}

static int load_local_settings(app_t *app, char *err, size_t errlen)
{
    json_t *root = NULL, *v;
    char shown[128];
    const char *k;
    int rc = load_json(app, "local.settings.json", &root, err, errlen);
    if (rc != 0)
        return rc == 1 ? 0 : -1;

    int enc = 0;
    if ((v = app__get(root, "IsEncrypted")) && (app__bool(v, &enc) != 0 || enc)) {
        snprintf(err, errlen, "local.settings.json: field 'IsEncrypted': encrypted settings are "
                 "not supported (run 'func settings decrypt')");
        goto fail;
    }
    json_t *values = app__get(root, "Values");
    if (values && !json_is_object(values)) {
        app__show(values, shown, sizeof shown);
        snprintf(err, errlen, "local.settings.json: field 'Values': expected an object, got %s",
                 shown);
        goto fail;
    }
    json_object_foreach(values, k, v) {
        char text[64];
        const char *value = setting_text(v, text, sizeof text);
        if (json_is_null(v))
            continue; /* as absent (Core Tools reads it as a null string) */
        if (!value) {
            char key[300];
            app__escape(k, key, sizeof key);
            app__show(v, shown, sizeof shown);
            snprintf(err, errlen, "local.settings.json: field 'Values.%s': expected a string "
                     "(or a number or boolean, taken as its text), got %s", key, shown);
            goto fail;
        }
        if (!*k || strchr(k, '=')) {
            char key[300];
            app__escape(k, key, sizeof key);
            app_add_error(app, NULL, "local.settings.json: the setting 'Values.%s' is left out: "
                          "an environment variable's name cannot be empty or hold '='", key);
            continue;
        }
        app->settings = app__xrealloc(app->settings, app->nsettings + 1, sizeof *app->settings);
        app->settings[app->nsettings].name = app__xstrdup(k);
        app->settings[app->nsettings].value = app__xstrdup(value);
        app->nsettings++;
    }

    /* As Core Tools: each connection string is in the environment as
     * ConnectionStrings:<name> (a string, or an object's "ConnectionString"),
     * where frameworks and apps look for it. Anything else is left out with
     * an error that says so. */
    json_t *conns = app__get(root, "ConnectionStrings");
    if (conns && !json_is_object(conns) && !json_is_null(conns))
        app_add_error(app, NULL, "local.settings.json: field 'ConnectionStrings' is left out: "
                      "expected an object of connection strings");
    json_object_foreach(json_is_object(conns) ? conns : NULL, k, v) {
        const json_t *cs = json_is_object(v) ? app__get(v, "ConnectionString") : v;
        char key[300];
        if (json_is_null(v))
            continue;
        app__escape(k, key, sizeof key);
        if (!json_is_string(cs) || !*k || strchr(k, '=')) {
            app_add_error(app, NULL, "local.settings.json: the connection string "
                          "'ConnectionStrings.%s' is left out: %s", key,
                          !json_is_string(cs) ? "expected a string, or an object with a "
                          "\"ConnectionString\" string" : "an environment variable's name "
                          "cannot be empty or hold '='");
            continue;
        }
        size_t n = strlen("ConnectionStrings:") + strlen(k) + 1;
        char *name = app__xrealloc(NULL, n, 1);
        snprintf(name, n, "ConnectionStrings:%s", k);
        app->settings = app__xrealloc(app->settings, app->nsettings + 1, sizeof *app->settings);
        app->settings[app->nsettings].name = name;
        app->settings[app->nsettings].value = app__xstrdup(json_string_value(cs));
        app->nsettings++;
    }

    json_t *host = app__get(root, "Host");
    if (host && !json_is_object(host)) {
        app__show(host, shown, sizeof shown);
        snprintf(err, errlen, "local.settings.json: field 'Host': expected an object, got %s",
                 shown);
        goto fail;
    }
    long long port;
    if ((v = app__get(host, "LocalHttpPort"))) {
        if (app__int(v, &port) != 0 || port < 1 || port > 65535) {
            app__show(v, shown, sizeof shown);
            snprintf(err, errlen, "local.settings.json: field 'Host.LocalHttpPort': expected a "
                     "port number 1-65535, got %s", shown);
            goto fail;
        }
        app->local_http_port = (int)port;
    }
    if ((v = app__get(host, "CORS"))) {
        if (!json_is_string(v)) {
            app__show(v, shown, sizeof shown);
            snprintf(err, errlen, "local.settings.json: field 'Host.CORS': expected a string of "
                     "origins, got %s", shown);
            goto fail;
        }
        app->cors = app__xstrdup(json_string_value(v));
    }
    if ((v = app__get(host, "CORSCredentials")) && app__bool(v, &app->cors_credentials) != 0) {
        app__show(v, shown, sizeof shown);
        snprintf(err, errlen, "local.settings.json: field 'Host.CORSCredentials': expected true "
                 "or false, got %s", shown);
        goto fail;
    }
    json_decref(root);
    return 0;
fail:
    json_decref(root);
    return -1;
}

/* ---- function folders ---- */

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int in_filter(const app_t *app, const char *name)
{
    if (app->nfunctions_filter == 0)
        return 1;
    for (size_t i = 0; i < app->nfunctions_filter; i++)
        if (strcasecmp(app->functions_filter[i], name) == 0)
            return 1;
    return 0;
}

/* An app with no function folders may declare its functions in code:
 * Python's v2 model (function_app.py, or the file PYTHON_SCRIPT_FILE_NAME
 * names) and Node.js's v4 model (package.json "main"). Its worker lists
 * them when the runtime starts (worker indexing, app_add_indexed); an app
 * of such a model without the matching FUNCTIONS_WORKER_RUNTIME is told
 * so rather than started with nothing and no word. */
static void detect_code_model(app_t *app)
{
    struct stat st;
    const char *rt = app->worker_runtime;
    const char *script = app_setting(app, "PYTHON_SCRIPT_FILE_NAME");
    if (!script || !*script)
        script = "function_app.py";
    char *py = app__path_join(app->root, script);
    int is_py = stat(py, &st) == 0 && S_ISREG(st.st_mode);
    free(py);
    if (is_py) {
        if (rt && !strcasecmp(rt, "python")) {
            app->index_lang = "python";
            app->index_source = app__xstrdup(script);
        } else if (!rt || strcasecmp(rt, "custom") != 0) {
            app_add_error(app, NULL, "%s declares the functions of a Python app (the v2 "
                          "programming model) and there are no function folders: set "
                          "\"FUNCTIONS_WORKER_RUNTIME\": \"python\" in local.settings.json "
                          "Values (it is %s%s%s)", script, rt ? "'" : "", rt ? rt : "not set",
                          rt ? "'" : "");
        }
        return;
    }
    char *pkg = app__path_join(app->root, "package.json"), *text = NULL;
    size_t len = 0;
    json_t *j = NULL;
    json_error_t je;
    if (app__read_file(pkg, 1 << 20, &text, &len) == 0)
        j = app__load_relaxed(text, len, &je);
    free(pkg);
    free(text);
    if (json_is_string(json_object_get(j, "main"))) {
        if (rt && !strcasecmp(rt, "node")) {
            app->index_lang = "node";
            app->index_source = app__xstrdup("package.json");
        } else if (!rt || strcasecmp(rt, "custom") != 0) {
            app_add_error(app, NULL, "package.json names a \"main\" file and there are no "
                          "function folders: this looks like a Node.js app of the v4 "
                          "programming model (functions declared with app.http(...)): set "
                          "\"FUNCTIONS_WORKER_RUNTIME\": \"node\" in local.settings.json "
                          "Values (it is %s%s%s)", rt ? "'" : "", rt ? rt : "not set",
                          rt ? "'" : "");
        }
    }
    json_decref(j);
}

/* The names of the sub-folders holding a function.json, sorted. */
static char **list_function_dirs(app_t *app, size_t *n)
{
    char **names = NULL;
    size_t count = 0;
    DIR *d = opendir(app->root);
    struct dirent *de;
    *n = 0;
    if (!d) {
        app_add_error(app, NULL, "%s: %s", app->root, strerror(errno));
        return NULL;
    }
    while ((de = readdir(d))) {
        struct stat st;
        if (de->d_name[0] == '.')
            continue;
        char *dir = app__path_join(app->root, de->d_name);
        char *cfg = app__path_join(dir, "function.json");
        int found = stat(cfg, &st) == 0 && S_ISREG(st.st_mode);
        free(dir);
        free(cfg);
        if (!found)
            continue;
        names = app__xrealloc(names, count + 1, sizeof *names);
        names[count++] = app__xstrdup(de->d_name);
    }
    closedir(d);
    if (count)
        qsort(names, count, sizeof *names, cmp_names);
    *n = count;
    return names;
}

static void load_function(app_t *app, const char *name, const app_load_opts_t *opts)
{
    char *dir = app__path_join(app->root, name);
    char *cfg = app__path_join(dir, "function.json");
    char *text, qname[300];
    size_t len;
    if (app__read_file(cfg, APP_MAX_FILE, &text, &len) != 0) {
        app__escape(name, qname, sizeof qname);
        app_add_error(app, name, "%s/function.json: %s", qname,
                      errno == EFBIG ? "file too large" : strerror(errno));
    } else {
        app_parse_function_json(app, name, dir, text, len, opts);
        free(text);
    }
    free(cfg);
    free(dir);
}

static void load_functions(app_t *app, const app_load_opts_t *opts)
{
    size_t n, loaded = 0;
    char **names = list_function_dirs(app, &n);
    if (!n && !app->nerrors && (detect_code_model(app), app->index_lang))
        return; /* the worker lists them when the runtime starts */

    for (size_t i = 0; i < app->nfunctions_filter; i++) {
        size_t j = 0;
        while (j < n && strcasecmp(names[j], app->functions_filter[i]) != 0)
            j++;
        if (j == n) {
            char q[300];
            app__escape(app->functions_filter[i], q, sizeof q);
            app_add_error(app, NULL, "function '%s' is listed in %s but there is no folder "
                          "%s/ with a function.json", q,
                          opts && opts->nfunctions ? "the functions to load"
                                                   : "host.json \"functions\"", q);
        }
    }
    for (size_t i = 0; i < n; i++) {
        if (!in_filter(app, names[i]))
            continue;
        if (loaded++ == APP_MAX_FUNCTIONS) {
            char q[300];
            app__escape(names[i], q, sizeof q);
            app_add_error(app, NULL, "too many functions: only the first %d are loaded ('%s' "
                          "and later are skipped)", APP_MAX_FUNCTIONS, q);
            break;
        }
        load_function(app, names[i], opts);
    }
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

/* ---- app_load ---- */

int app_load(const char *root, const app_load_opts_t *opts, app_t **out, char *err,
             size_t errlen)
{
    char real[PATH_MAX];
    *out = NULL;
    if (!realpath(root, real)) {
        snprintf(err, errlen, "%s: %s", root, strerror(errno));
        return -1;
    }
    app_t *app = app__xcalloc(1, sizeof *app);
    app->root = app__xstrdup(real);

    if (load_host_json(app, err, errlen) != 0 || load_local_settings(app, err, errlen) != 0)
        goto fail;
    if (app__host_settings(app, opts, err, errlen) != 0)
        goto fail;

    const char *rt = app_setting(app, "FUNCTIONS_WORKER_RUNTIME");
    app->worker_runtime = rt ? app__xstrdup(rt) : NULL;

    load_functions(app, opts);
    app__custom_handler_routes(app, opts);
    *out = app;
    return 0;
fail:
    app_free(app);
    return -1;
}
