/*
 * host_json.c -- host.json after the app is read: the
 * AzureFunctionsJobHost__ overrides, then the typed settings with their
 * defaults applied in one place (see app.h for the fields and app_priv.h
 * for the entry point). Keys match case-insensitively and null counts as
 * absent, as in Azure's configuration; unknown keys (logging,
 * extensionBundle, ...) are accepted and ignored.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "app.h"
#include "app_priv.h"

extern char **environ;

#define OVERRIDE_PREFIX "AzureFunctionsJobHost__"
#define OVERRIDE_MAX_SEGMENT 256
#define TIMESPAN_EXAMPLE "a TimeSpan such as \"00:05:00\""

/* ---- AzureFunctionsJobHost__ overrides ---- */

/* The override value typed as .NET configuration binds it: an integer, a
 * boolean, else a string. */
static json_t *override_value(const char *s)
{
    long long v;
    if (app__parse_ll(s, &v))
        return json_integer(v);
    if (strcasecmp(s, "true") == 0)
        return json_true();
    if (strcasecmp(s, "false") == 0)
        return json_false();
    return json_string(s);
}

static int is_index(const char *s, size_t *idx)
{
    long long v;
    if (s[0] == '-' || !app__parse_ll(s, &v) || v > 100000)
        return 0;
    *idx = (size_t)v;
    return 1;
}

/* Set host.json path a__b__c (the name after the prefix) to value. Keys
 * match existing ones case-insensitively; missing levels are created (an
 * array when the next segment is an index). Malformed paths are skipped. */
static void override_apply(json_t *root, const char *path, const char *value)
{
    json_t *node = root;
    const char *p = path;
    for (;;) {
        const char *end = strstr(p, "__");
        size_t len = end ? (size_t)(end - p) : strlen(p);
        char seg[OVERRIDE_MAX_SEGMENT], key[OVERRIDE_MAX_SEGMENT], next[OVERRIDE_MAX_SEGMENT];
        if (len == 0 || len >= sizeof seg)
            return;
        memcpy(seg, p, len);
        seg[len] = '\0';
        int last = end == NULL;
        size_t idx = 0, nlen = 0;
        if (!last) {
            const char *nend = strstr(end + 2, "__");
            nlen = nend ? (size_t)(nend - end - 2) : strlen(end + 2);
            if (nlen == 0 || nlen >= sizeof next)
                return;
            memcpy(next, end + 2, nlen);
            next[nlen] = '\0';
        }
        json_t *child = NULL;

        if (json_is_object(node)) {
            const char *k;
            json_t *v;
            snprintf(key, sizeof key, "%s", seg);
            json_object_foreach(node, k, v)
                if (strcasecmp(k, seg) == 0) {
                    snprintf(key, sizeof key, "%s", k);
                    child = v;
                    break;
                }
            if (last) {
                json_object_set_new(node, key, override_value(value));
                return;
            }
            if (!json_is_object(child) && !json_is_array(child)) {
                child = is_index(next, &idx) ? json_array() : json_object();
                json_object_set_new(node, key, child);
            }
        } else if (json_is_array(node) && is_index(seg, &idx)) {
            /* Pad with nulls so "__1" before "__0" lands at index 1. */
            while (json_array_size(node) < idx)
                json_array_append_new(node, json_null());
            size_t size = json_array_size(node);
            if (last) {
                if (idx < size)
                    json_array_set_new(node, idx, override_value(value));
                else
                    json_array_append_new(node, override_value(value));
                return;
            }
            child = idx < size ? json_array_get(node, idx) : NULL;
            if (!json_is_object(child) && !json_is_array(child)) {
                size_t nidx;
                child = is_index(next, &nidx) ? json_array() : json_object();
                if (idx < size)
                    json_array_set_new(node, idx, child);
                else
                    json_array_append_new(node, child);
            }
        } else {
            return;
        }
        node = child;
        p = end + 2;
    }
}

/* Values first, then the environment, so the environment wins. */
static void apply_overrides(app_t *app)
{
    size_t plen = strlen(OVERRIDE_PREFIX);
    for (size_t i = 0; i < app->nsettings; i++)
        if (strncasecmp(app->settings[i].name, OVERRIDE_PREFIX, plen) == 0)
            override_apply(app->host_json, app->settings[i].name + plen, app->settings[i].value);
    for (char **e = environ; e && *e; e++) {
        const char *eq = strchr(*e, '=');
        if (!eq || strncasecmp(*e, OVERRIDE_PREFIX, plen) != 0 || (size_t)(eq - *e) <= plen)
            continue;
        size_t len = (size_t)(eq - *e) - plen;
        char *name = app__xcalloc(len + 1, 1);
        memcpy(name, *e + plen, len);
        override_apply(app->host_json, name, eq + 1);
        free(name);
    }
}

/* ---- typed settings ---- */

static int bad(char *err, size_t errlen, const char *field, const char *expected,
               const json_t *got)
{
    char shown[128];
    app__show(got, shown, sizeof shown);
    snprintf(err, errlen, "host.json: field '%s': expected %s, got %s", field, expected, shown);
    return -1;
}

/* The object at parent.key into *out (NULL when absent). */
static int section(const json_t *parent, const char *key, const char *field, json_t **out,
                   char *err, size_t errlen)
{
    *out = app__get(parent, key);
    if (*out && !json_is_object(*out))
        return bad(err, errlen, field, "an object", *out);
    return 0;
}

/* A TimeSpan > 0 (or -1 for none when allow_none); *out unchanged when v is
 * absent. */
static int get_timespan(const json_t *v, const char *field, int allow_none, int64_t *out,
                        char *err, size_t errlen)
{
    int64_t ms;
    long long i;
    if (!v)
        return 0;
    if (!json_is_string(v) || timespan_parse(json_string_value(v), &ms) != 0)
        ms = json_is_integer(v) && app__int(v, &i) == 0 && i == -1 ? -1 : 0;
    if (ms == 0 || (ms == -1 && !allow_none))
        return bad(err, errlen, field,
                   allow_none ? TIMESPAN_EXAMPLE " greater than zero, or -1 for none"
                              : TIMESPAN_EXAMPLE " greater than zero",
                   v);
    *out = ms;
    return 0;
}

/* An integer >= min (or -1 when allow_none); *out unchanged when absent. */
static int get_int(const json_t *v, const char *field, long long min, int allow_none,
                   int64_t *out, char *err, size_t errlen)
{
    long long i;
    char expected[96];
    if (!v)
        return 0;
    if (app__int(v, &i) == 0 && (i >= min || (allow_none && i == -1))) {
        *out = i;
        return 0;
    }
    snprintf(expected, sizeof expected, "an integer >= %lld%s", min,
             allow_none ? ", or -1 for no limit" : "");
    return bad(err, errlen, field, expected, v);
}

static int get_route_prefix(app_t *app, const json_t *v, char *err, size_t errlen)
{
    const char *s = "api";
    if (v && !json_is_string(v))
        return bad(err, errlen, "extensions.http.routePrefix", "a string", v);
    if (v)
        s = json_string_value(v);
    while (*s == '/')
        s++;
    size_t n = strlen(s);
    while (n > 0 && s[n - 1] == '/')
        n--;
    app->route_prefix = app__xcalloc(n + 1, 1);
    memcpy(app->route_prefix, s, n);
    return 0;
}

/* logging.logLevel: {"default": "Information", "Function": "Warning", ...}
 * with Azure's level names. */
static int get_log_levels(app_t *app, const json_t *h, char *err, size_t errlen)
{
    static const char *const names[] = {"Trace", "Debug", "Information", "Warning", "Error",
                                        "Critical", "None"};
    json_t *logging, *levels;
    app->log_default_level = -1;
    if (section(h, "logging", "logging", &logging, err, errlen) != 0 ||
        section(logging, "logLevel", "logging.logLevel", &levels, err, errlen) != 0)
        return -1;
    size_t n = json_object_size(levels);
    if (!n)
        return 0;
    app->log_categories = app__xcalloc(n, sizeof *app->log_categories);
    app->log_levels = app__xcalloc(n, sizeof *app->log_levels);
    const char *key;
    json_t *v;
    json_object_foreach(levels, key, v) {
        int level = -1;
        for (int i = 0; i < 7 && json_is_string(v); i++)
            if (strcasecmp(json_string_value(v), names[i]) == 0)
                level = i;
        if (level < 0) {
            char field[200];
            snprintf(field, sizeof field, "logging.logLevel.%.150s", key);
            return bad(err, errlen, field, "Trace, Debug, Information, Warning, Error, "
                       "Critical or None", v);
        }
        if (strcasecmp(key, "default") == 0) {
            app->log_default_level = level;
            continue;
        }
        app->log_categories[app->nlog_levels] = app__xstrdup(key);
        app->log_levels[app->nlog_levels++] = level;
    }
    return 0;
}

/* A list of strings at host.json key into *out (absent: none); each passed
 * through trim when given. */
static int get_names(const json_t *h, const char *key, const char *what, char ***out,
                     size_t *nout, void (*trim)(char *s), char *err, size_t errlen)
{
    json_t *list = app__get(h, key), *v;
    size_t i;
    if (!list)
        return 0;
    if (!json_is_array(list))
        return bad(err, errlen, key, what, list);
    json_array_foreach(list, i, v) {
        if (!json_is_string(v) || !json_string_value(v)[0]) {
            char field[64];
            snprintf(field, sizeof field, "%s[%zu]", key, i);
            return bad(err, errlen, field, "a non-empty string", v);
        }
    }
    *out = app__xcalloc(json_array_size(list) + 1, sizeof **out);
    json_array_foreach(list, i, v) {
        char *s = app__xstrdup(json_string_value(v));
        if (trim)
            trim(s);
        if (*s)
            (*out)[(*nout)++] = s;
        else
            free(s);
    }
    return 0;
}

/* A watched folder as a path relative to the root: no "./" in front, no
 * '/' at either end ("./shared/" is "shared"). */
static void trim_folder(char *s)
{
    char *p = s;
    for (;;) {
        while (*p == '/')
            p++;
        if (p[0] == '.' && (p[1] == '/' || !p[1]))
            p++;
        else
            break;
    }
    size_t n = strlen(p);
    while (n > 0 && p[n - 1] == '/')
        n--;
    memmove(s, p, n);
    s[n] = '\0';
}

/* fileWatchingEnabled, watchDirectories and watchFiles (the development
 * loop, reload.c). */
static int get_watching(app_t *app, const json_t *h, char *err, size_t errlen)
{
    json_t *v = app__get(h, "fileWatchingEnabled");
    app->file_watching = 1;
    if (v && app__bool(v, &app->file_watching) != 0)
        return bad(err, errlen, "fileWatchingEnabled", "true or false", v);
    if (get_names(h, "watchDirectories", "a list of folders (relative to the app folder)",
                  &app->watch_dirs, &app->nwatch_dirs, trim_folder, err, errlen) != 0)
        return -1;
    return get_names(h, "watchFiles", "a list of file names", &app->watch_files,
                     &app->nwatch_files, NULL, err, errlen);
}

static int get_filter(app_t *app, const app_load_opts_t *opts, char *err, size_t errlen)
{
    if (opts && opts->functions && opts->nfunctions) {
        app->functions_filter = app__xcalloc(opts->nfunctions, sizeof *app->functions_filter);
        for (size_t i = 0; i < opts->nfunctions; i++)
            app->functions_filter[app->nfunctions_filter++] = app__xstrdup(opts->functions[i]);
        app->functions_filter_given = 1;
        return 0;
    }
    json_t *list = app__get(app->host_json, "functions"), *name;
    size_t i;
    if (!list)
        return 0;
    if (!json_is_array(list))
        return bad(err, errlen, "functions", "a list of function names", list);
    json_array_foreach(list, i, name) {
        if (!json_is_string(name)) {
            char field[48];
            snprintf(field, sizeof field, "functions[%zu]", i);
            return bad(err, errlen, field, "a function name (a string)", name);
        }
    }
    app->functions_filter = app__xcalloc(json_array_size(list), sizeof *app->functions_filter);
    json_array_foreach(list, i, name)
        app->functions_filter[app->nfunctions_filter++] = app__xstrdup(json_string_value(name));
    return 0;
}

int app__host_settings(app_t *app, const app_load_opts_t *opts, char *err, size_t errlen)
{
    const json_t *h = app->host_json;
    json_t *ext, *ext_http, *st, *st_http, *native, *v;

    apply_overrides(app);
    if (app__configuration_profile(app, err, errlen) != 0)
        return -1;
    app->function_timeout_ms = APP_DEFAULT_TIMEOUT_MS;
    app->max_concurrent_requests = -1;
    app->max_outstanding_requests = -1;
    app->max_request_body = APP_DEFAULT_MAX_BODY;
    app->header_timeout_ms = 30 * 1000;
    app->keepalive_timeout_ms = 120 * 1000;
    app->max_connections = 10000;
    app->in_process = 0;
    app->scale_min_instances = 0;
    app->scale_max_instances = APP_DEFAULT_MAX_INSTANCES;
    app->scale_concurrency = APP_DEFAULT_CONCURRENCY;
    app->scale_idle_timeout_ms = APP_DEFAULT_IDLE_TIMEOUT_MS;
    app->scale_prewarm = 1;
    app->worker_memory_mb = APP_DEFAULT_WORKER_MEMORY_MB;
    app->telemetry_enabled = 1;
    app->history_enabled = 1;
    app->history_max_count = APP_DEFAULT_HISTORY_COUNT;
    app->history_max_age_ms = APP_DEFAULT_HISTORY_AGE_MS;

    if (get_timespan(app__get(h, "functionTimeout"), "functionTimeout", 1,
                     &app->function_timeout_ms, err, errlen) != 0)
        return -1;
    char rerr[400];
    if (retry_policy_parse(app__get(h, "retry"), &app->retry, rerr, sizeof rerr) != 0) {
        snprintf(err, errlen, "host.json: %s", rerr);
        return -1;
    }

    if (section(h, "extensions", "extensions", &ext, err, errlen) != 0 ||
        section(ext, "http", "extensions.http", &ext_http, err, errlen) != 0)
        return -1;
    if (get_route_prefix(app, app__get(ext_http, "routePrefix"), err, errlen) != 0 ||
        get_int(app__get(ext_http, "maxConcurrentRequests"),
                "extensions.http.maxConcurrentRequests", 1, 1, &app->max_concurrent_requests,
                err, errlen) != 0 ||
        get_int(app__get(ext_http, "maxOutstandingRequests"),
                "extensions.http.maxOutstandingRequests", 1, 1, &app->max_outstanding_requests,
                err, errlen) != 0)
        return -1;

    if (section(h, "stratus", "stratus", &st, err, errlen) != 0 ||
        section(st, "http", "stratus.http", &st_http, err, errlen) != 0 ||
        section(st, "native", "stratus.native", &native, err, errlen) != 0)
        return -1;
    if (get_int(app__get(st_http, "maxRequestBodySize"), "stratus.http.maxRequestBodySize", 1, 0,
                &app->max_request_body, err, errlen) != 0 ||
        get_timespan(app__get(st_http, "headerTimeout"), "stratus.http.headerTimeout", 0,
                     &app->header_timeout_ms, err, errlen) != 0 ||
        get_timespan(app__get(st_http, "keepAliveTimeout"), "stratus.http.keepAliveTimeout", 0,
                     &app->keepalive_timeout_ms, err, errlen) != 0 ||
        get_int(app__get(st_http, "maxConnections"), "stratus.http.maxConnections", 1, 0,
                &app->max_connections, err, errlen) != 0)
        return -1;
    if ((v = app__get(st_http, "trustIdentityHeaders")) &&
        app__bool(v, &app->trust_identity_headers) != 0)
        return bad(err, errlen, "stratus.http.trustIdentityHeaders", "true or false", v);
    if ((v = app__get(native, "inProcess")) && app__bool(v, &app->in_process) != 0)
        return bad(err, errlen, "stratus.native.inProcess", "true or false", v);
    json_t *telemetry;
    if (section(st, "telemetry", "stratus.telemetry", &telemetry, err, errlen) != 0)
        return -1;
    if ((v = app__get(telemetry, "enabled")) && app__bool(v, &app->telemetry_enabled) != 0)
        return bad(err, errlen, "stratus.telemetry.enabled", "true or false", v);

    json_t *scale, *worker;
    if (section(st, "scale", "stratus.scale", &scale, err, errlen) != 0 ||
        section(st, "worker", "stratus.worker", &worker, err, errlen) != 0)
        return -1;
    if (get_int(app__get(scale, "minInstances"), "stratus.scale.minInstances", 0, 0,
                &app->scale_min_instances, err, errlen) != 0 ||
        get_int(app__get(scale, "maxInstances"), "stratus.scale.maxInstances", 1, 0,
                &app->scale_max_instances, err, errlen) != 0 ||
        get_int(app__get(scale, "perInstanceConcurrency"), "stratus.scale.perInstanceConcurrency",
                1, 0, &app->scale_concurrency, err, errlen) != 0 ||
        get_timespan(app__get(scale, "idleTimeout"), "stratus.scale.idleTimeout", 0,
                     &app->scale_idle_timeout_ms, err, errlen) != 0 ||
        get_int(app__get(worker, "memoryLimitMB"), "stratus.worker.memoryLimitMB", 16, 1,
                &app->worker_memory_mb, err, errlen) != 0)
        return -1;
    /* prewarm: true (one placeholder), false, or how many to keep. */
    if ((v = app__get(scale, "prewarm")) && app__bool(v, &app->scale_prewarm) != 0) {
        long long n;
        if (app__int(v, &n) != 0 || n < 0 || n > 16)
            return bad(err, errlen, "stratus.scale.prewarm",
                       "true, false or a count from 0 to 16", v);
        app->scale_prewarm = (int)n;
    }
    /* Azure's FUNCTIONS_WORKER_PROCESS_COUNT (language worker processes,
     * 1 to 10) is a Python or Node.js app's maxInstances unless host.json
     * sets that. */
    const char *wpc = app_setting(app, "FUNCTIONS_WORKER_PROCESS_COUNT");
    const char *wrt = app_setting(app, "FUNCTIONS_WORKER_RUNTIME");
    int from_wpc = 0;
    /* As .NET's int.TryParse: white space around and a '+' are fine; an
     * empty setting is no setting. */
    char trimmed[64] = "";
    if (wpc) {
        while (*wpc == ' ' || *wpc == '\t')
            wpc++;
        snprintf(trimmed, sizeof trimmed, "%s", *wpc == '+' ? wpc + 1 : wpc);
        size_t len = strlen(trimmed);
        while (len && (trimmed[len - 1] == ' ' || trimmed[len - 1] == '\t'))
            trimmed[--len] = '\0';
        if (!*wpc)
            wpc = NULL;
    }
    if (wpc && wrt && (strcmp(wrt, "python") == 0 || strcmp(wrt, "node") == 0)) {
        long long n;
        if (!app__parse_ll(trimmed, &n) || n < 1 || n > 10) {
            snprintf(err, errlen, "app setting FUNCTIONS_WORKER_PROCESS_COUNT: expected a whole "
                     "number from 1 to 10, got '%.64s'", wpc);
            return -1;
        }
        if (!app__get(scale, "maxInstances")) {
            app->scale_max_instances = n;
            from_wpc = 1;
        }
    }
    if (app->scale_min_instances > app->scale_max_instances) {
        snprintf(err, errlen, "host.json: field 'stratus.scale.minInstances' (%lld) is larger "
                 "than %s (%lld)", (long long)app->scale_min_instances,
                 from_wpc ? "the app setting FUNCTIONS_WORKER_PROCESS_COUNT"
                          : "'stratus.scale.maxInstances'",
                 (long long)app->scale_max_instances);
        return -1;
    }

    json_t *hist;
    if (section(st, "history", "stratus.history", &hist, err, errlen) != 0 ||
        get_int(app__get(hist, "maxCount"), "stratus.history.maxCount", 1, 1,
                &app->history_max_count, err, errlen) != 0 ||
        get_timespan(app__get(hist, "maxAge"), "stratus.history.maxAge", 1,
                     &app->history_max_age_ms, err, errlen) != 0)
        return -1;
    if ((v = app__get(hist, "enabled")) && app__bool(v, &app->history_enabled) != 0)
        return bad(err, errlen, "stratus.history.enabled", "true or false", v);

    if (app__custom_handler_settings(app, err, errlen) != 0)
        return -1;
    if (get_log_levels(app, h, err, errlen) != 0 || get_watching(app, h, err, errlen) != 0)
        return -1;
    return get_filter(app, opts, err, errlen);
}
