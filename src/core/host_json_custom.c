/*
 * host_json_custom.c -- host.json "customHandler" (and the legacy
 * "httpWorker") into app->custom_handler, with %NAME% expanded from the
 * app settings and paths made absolute, once at load (see app.h). The
 * custom runtime (src/runtimes/custom.c) reads the typed result and decides
 * what it needs; this file only checks that what is there has the right
 * type.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../telemetry/log.h"
#include "../util/buf.h"
#include "app.h"
#include "app_priv.h"

#define EXPAND_MAX (64 * 1024)

char *app_expand_settings(const app_t *app, const char *s)
{
    buf_t b;
    buf_init(&b, EXPAND_MAX);
    size_t at = 0, n = strlen(s);
    while (at < n) {
        const char *open = strchr(s + at, '%');
        if (!open) {
            buf_append(&b, s + at, n - at);
            break;
        }
        buf_append(&b, s + at, (size_t)(open - (s + at)));
        const char *close = strchr(open + 1, '%');
        if (!close) {
            buf_puts(&b, open);
            break;
        }
        size_t len = (size_t)(close - open - 1);
        char name[256];
        const char *value = NULL;
        if (len > 0 && len < sizeof name) {
            memcpy(name, open + 1, len);
            name[len] = '\0';
            value = app_setting(app, name);
        }
        if (value) {
            buf_puts(&b, value);
            at = (size_t)(close + 1 - s);
        } else {
            /* Not a known name: keep the '%'; the closing one may open the next. */
            buf_append(&b, open, (size_t)(close - open));
            at = (size_t)(close - s);
        }
    }
    char *out = b.p ? buf_steal(&b) : app__xstrdup("");
    buf_free(&b);
    return out;
}

/* The names the handler's process gets only when it starts (its port and
 * number): custom_proc.c puts them in its arguments then. */
const char *const app_custom_handler_vars[APP_CUSTOM_HANDLER_VARS] = {
    "FUNCTIONS_CUSTOMHANDLER_PORT", "FUNCTIONS_HTTPWORKER_PORT",
    "FUNCTIONS_CUSTOMHANDLER_WORKER_ID", "FUNCTIONS_HTTPWORKER_ID"};

static int handler_own(const char *name, size_t len)
{
    for (size_t i = 0; i < APP_CUSTOM_HANDLER_VARS; i++) {
        const char *own = app_custom_handler_vars[i];
        if (strlen(own) == len && !strncasecmp(own, name, len))
            return 1;
    }
    return 0;
}

/* An argument as Azure's host passes it: %NAME% replaced by the setting;
 * a name that is not set is removed, with Azure's warning; the handler's
 * own variables stay for its start. */
static char *expand_argument(const app_t *app, const char *field, const char *s)
{
    char *x = app_expand_settings(app, s);
    buf_t b;
    buf_init(&b, EXPAND_MAX);
    for (const char *p = x; *p;) {
        const char *open = strchr(p, '%');
        const char *close = open ? strchr(open + 1, '%') : NULL;
        if (!close) {
            buf_puts(&b, p);
            break;
        }
        buf_append(&b, p, (size_t)(open - p));
        size_t len = (size_t)(close - open - 1);
        if (len && handler_own(open + 1, len)) {
            buf_append(&b, open, len + 2);
        } else if (len) {
            log_write(LOG_WARN, "Host.CustomHandler", NULL,
                      "Environment variable:%.*s is not set (host.json customHandler %s)",
                      (int)(len + 2), open, field);
        } else {
            buf_putc(&b, '%'); /* "%%": one stays, the other may open a name */
            close = open;
        }
        p = close + 1;
    }
    free(x);
    char *out = b.p ? buf_steal(&b) : app__xstrdup("");
    buf_free(&b);
    return out;
}

/* Split a command line into words, appended to list (*n of them so far):
 * white space separates them, double quotes group (and are dropped), \" is
 * a quote. */
static void add_words(char **list, size_t *n, const char *s)
{
    buf_t w;
    buf_init(&w, EXPAND_MAX);
    const char *p = s;
    for (;;) {
        while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
            p++;
        if (!*p)
            break;
        buf_reset(&w);
        int quoted = 0;
        for (; *p; p++) {
            if (*p == '\\' && p[1] == '"') {
                buf_putc(&w, '"');
                p++;
            } else if (*p == '"') {
                quoted = !quoted;
            } else if (!quoted && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) {
                break;
            } else {
                buf_putc(&w, *p);
            }
        }
        list[(*n)++] = app__xstrdup(w.p ? w.p : "");
    }
    buf_free(&w);
}

static int bad(char *err, size_t errlen, const char *section, const char *field,
               const char *expected, const json_t *got)
{
    char shown[128];
    app__show(got, shown, sizeof shown);
    snprintf(err, errlen, "host.json: field '%s%s%s': expected %s, got %s", section,
             field[0] ? "." : "", field, expected, shown);
    return -1;
}

/* A string field (*out expanded, or left NULL when absent). */
static int get_string(const app_t *app, const json_t *obj, const char *key, const char *section,
                      const char *field, char **out, char *err, size_t errlen)
{
    json_t *v = app__get(obj, key);
    if (!v)
        return 0;
    if (!json_is_string(v))
        return bad(err, errlen, section, field, "a string", v);
    *out = app_expand_settings(app, json_string_value(v));
    return 0;
}

static int get_bool(const json_t *obj, const char *key, const char *section, int *out,
                    char *err, size_t errlen)
{
    json_t *v = app__get(obj, key);
    if (v && app__bool(v, out) != 0)
        return bad(err, errlen, section, key, "true or false", v);
    return 0;
}

/* The list description.<key> ("arguments", "workerArguments") into *out
 * (*n words), as Azure's host reads it: each string expanded, all of them
 * joined into one command line that the process start splits again into
 * words. 0, or -1 with err set. */
static int get_arguments(const app_t *app, const char *sec, const json_t *d, const char *key,
                         char ***out, size_t *n, char *err, size_t errlen)
{
    char field[80];
    snprintf(field, sizeof field, "description.%s", key);
    json_t *args = app__get(d, key), *a, *parsed = NULL;
    size_t i;
    /* As Azure: a string (what an AzureFunctionsJobHost__ setting gives)
     * holding a JSON list of strings is that list. */
    if (json_is_string(args)) {
        parsed = json_loads(json_string_value(args), JSON_REJECT_DUPLICATES, NULL);
        if (!json_is_array(parsed)) {
            json_decref(parsed);
            return bad(err, errlen, sec, field,
                       "a list of strings (or a string holding a JSON list of strings)", args);
        }
        args = parsed;
    }
    if (args && !json_is_array(args))
        return bad(err, errlen, sec, field, "a list of strings", args);
    json_array_foreach(args, i, a) {
        if (!json_is_string(a)) {
            char item[120];
            snprintf(item, sizeof item, "%s[%zu]", field, i);
            bad(err, errlen, sec, item, "a string", a);
            json_decref(parsed);
            return -1;
        }
    }
    size_t count = json_array_size(args), bound = 0;
    char **expanded = count ? app__xcalloc(count, sizeof *expanded) : NULL;
    json_array_foreach(args, i, a) {
        expanded[i] = expand_argument(app, field, json_string_value(a));
        bound += strlen(expanded[i]) / 2 + 1;
    }
    if (bound)
        *out = app__xcalloc(bound, sizeof **out);
    for (i = 0; i < count; i++) {
        add_words(*out, n, expanded[i]);
        free(expanded[i]);
    }
    free(expanded);
    json_decref(parsed);
    return 0;
}

static int get_description(app_t *app, custom_handler_conf_t *c, const json_t *d, char *err,
                           size_t errlen)
{
    const char *sec = c->section;
    char *wd = NULL, *worker = NULL;
    if (get_string(app, d, "defaultExecutablePath", sec, "description.defaultExecutablePath",
                   &c->executable, err, errlen) != 0 ||
        get_string(app, d, "workingDirectory", sec, "description.workingDirectory", &wd, err,
                   errlen) != 0 ||
        get_string(app, d, "defaultWorkerPath", sec, "description.defaultWorkerPath", &worker,
                   err, errlen) != 0) {
        free(wd);
        return -1;
    }
    if (c->executable && !c->executable[0]) {
        free(c->executable);
        c->executable = NULL;
    }
    /* Relative paths are relative to the app root, as in Azure. */
    if (wd && wd[0]) {
        c->working_dir = app__path_join(app->root, wd);
        free(wd);
    } else {
        free(wd);
    }
    /* defaultWorkerPath goes as one argument, relative to the working
     * directory (where the process starts), as in Azure. */
    if (worker && worker[0])
        c->worker_path = app__path_join(c->working_dir ? c->working_dir : app->root, worker);
    free(worker);

    return get_arguments(app, sec, d, "arguments", &c->arguments, &c->narguments, err,
                         errlen) != 0 ||
                   get_arguments(app, sec, d, "workerArguments", &c->worker_arguments,
                                 &c->nworker_arguments, err, errlen) != 0
               ? -1
               : 0;
}

/* customHandler.port: a number or a string holding one, 1 to 65535. */
static int get_port(const json_t *sec, custom_handler_conf_t *c, char *err, size_t errlen)
{
    json_t *v = app__get(sec, "port");
    if (!v)
        return 0;
    long long port = -1;
    if (json_is_integer(v)) {
        port = json_integer_value(v);
    } else if (json_is_string(v)) {
        char *end;
        const char *t = json_string_value(v);
        port = strtoll(t, &end, 10);
        if (end == t || *end)
            port = -1;
    }
    if (port < 1 || port > 65535)
        return bad(err, errlen, c->section, "port", "a port number from 1 to 65535", v);
    c->port = (int)port;
    return 0;
}

/* customHandler.http: routes [{"route", "authorizationLevel"}] and
 * defaultAuthorizationLevel ("function" unless given). */
static int get_routes(const json_t *sec, custom_handler_conf_t *c, char *err, size_t errlen)
{
    json_t *http = app__get(sec, "http");
    if (!http)
        return 0;
    if (!json_is_object(http))
        return bad(err, errlen, c->section, "http", "an object", http);
    json_t *def = app__get(http, "defaultAuthorizationLevel");
    if (def && !json_is_string(def))
        return bad(err, errlen, c->section, "http.defaultAuthorizationLevel", "a string", def);
    json_t *routes = app__get(http, "routes"), *r;
    if (routes && !json_is_array(routes))
        return bad(err, errlen, c->section, "http.routes", "a list of {\"route\": ...}",
                   routes);
    size_t i, n = json_array_size(routes);
    json_array_foreach(routes, i, r) {
        json_t *route = app__get(r, "route"), *auth = app__get(r, "authorizationLevel");
        char field[64];
        snprintf(field, sizeof field, "http.routes[%zu]", i);
        if (!json_is_string(route) || (auth && !json_is_string(auth)))
            return bad(err, errlen, c->section, field,
                       "{\"route\": \"...\", \"authorizationLevel\": \"...\"}", r);
    }
    if (!n)
        return 0;
    c->routes = app__xcalloc(n, sizeof *c->routes);
    c->route_auth = app__xcalloc(n, sizeof *c->route_auth);
    json_array_foreach(routes, i, r) {
        json_t *auth = app__get(r, "authorizationLevel");
        c->routes[i] = app__xstrdup(json_string_value(app__get(r, "route")));
        c->route_auth[i] = app__xstrdup(auth ? json_string_value(auth)
                                        : def ? json_string_value(def) : "function");
    }
    c->nroutes = n;
    return 0;
}

int app__custom_handler_settings(app_t *app, char *err, size_t errlen)
{
    custom_handler_conf_t *c = &app->custom_handler;
    memset(c, 0, sizeof *c);
    c->startup_timeout_ms = APP_DEFAULT_CUSTOM_STARTUP_MS;
    c->pipelining = 1;
    c->pipeline_depth = APP_DEFAULT_CUSTOM_PIPELINE;

    json_t *st = app__get(app->host_json, "stratus");
    json_t *sch = json_is_object(st) ? app__get(st, "customHandler") : NULL;
    if (sch && !json_is_object(sch))
        return bad(err, errlen, "stratus.customHandler", "", "an object", sch);
    json_t *v = app__get(sch, "startupTimeout");
    if (v) {
        int64_t ms = 0;
        if (!json_is_string(v) || timespan_parse(json_string_value(v), &ms) != 0 || ms <= 0)
            return bad(err, errlen, "stratus.customHandler", "startupTimeout",
                       "a TimeSpan such as \"00:01:00\" greater than zero", v);
        c->startup_timeout_ms = ms;
    }
    if (get_bool(sch, "pipelining", "stratus.customHandler", &c->pipelining, err, errlen) != 0)
        return -1;
    v = app__get(sch, "pipelineDepth");
    if (v) {
        json_int_t d = json_is_integer(v) ? json_integer_value(v) : 0;
        if (d < 1 || d > APP_MAX_CUSTOM_PIPELINE)
            return bad(err, errlen, "stratus.customHandler", "pipelineDepth",
                       "an integer from 1 to 64", v);
        c->pipeline_depth = (int)d;
    }

    json_t *sec = app__get(app->host_json, "customHandler");
    json_t *legacy = app__get(app->host_json, "httpWorker");
    c->section = "customHandler";
    if (sec && legacy) /* Azure's words; it reads customHandler */
        log_write(LOG_WARN, "Host.CustomHandler", NULL, "Both httpWorker and customHandler "
                  "sections are specified in host.json file. customHandler takes precedence.");
    if (!sec) {
        sec = legacy;
        c->section = "httpWorker";
    }
    if (!sec) {
        c->section = "customHandler";
        c->working_dir = app__xstrdup(app->root);
        return 0;
    }
    if (!json_is_object(sec))
        return bad(err, errlen, c->section, "", "an object", sec);
    c->present = 1;
    json_t *d = app__get(sec, "description");
    if (d && !json_is_object(d))
        return bad(err, errlen, c->section, "description", "an object", d);
    int fwd = 0, proxy = 0;
    if ((d && get_description(app, c, d, err, errlen) != 0) ||
        get_bool(sec, "enableForwardingHttpRequest", c->section, &fwd, err, errlen) != 0 ||
        get_bool(sec, "enableProxyingHttpRequest", c->section, &proxy, err, errlen) != 0 ||
        get_port(sec, c, err, errlen) != 0 || get_routes(sec, c, err, errlen) != 0)
        return -1;
    c->forward_http = fwd || proxy;
    if (!c->working_dir)
        c->working_dir = app__xstrdup(app->root);
    return 0;
}

/* ---- host.json configuration profiles ---- */

/* obj[key] (any case) as an object, made when absent; NULL when it is
 * there but not an object (the settings' checks then say so). */
static json_t *child_object(json_t *obj, const char *key)
{
    json_t *v = app__get(obj, key);
    if (!v && json_is_object(obj) && json_object_set_new(obj, key, json_object()) == 0)
        v = json_object_get(obj, key);
    return json_is_object(v) ? v : NULL;
}

static void set_default(json_t *obj, const char *key, json_t *v)
{
    if (obj && !app__get(obj, key))
        json_object_set(obj, key, v);
    json_decref(v);
}

int app__configuration_profile(app_t *app, char *err, size_t errlen)
{
    json_t *v = app__get(app->host_json, "configurationProfile");
    if (!v)
        return 0;
    const char *name = json_is_string(v) ? json_string_value(v) : NULL;
    if (name && (!name[0] || !strcasecmp(name, "default")))
        return 0;
    if (!name || strcasecmp(name, "mcp-custom-handler") != 0) {
        char shown[128];
        app__show(v, shown, sizeof shown);
        snprintf(err, errlen, "host.json: field 'configurationProfile': configuration profile "
                 "%s is not supported. Supported values: '', 'default', 'mcp-custom-handler'",
                 shown);
        return -1;
    }
    /* The profile's settings are defaults: what host.json says wins. */
    json_t *ext_http = child_object(child_object(app->host_json, "extensions"), "http");
    set_default(ext_http, "routePrefix", json_string(""));
    const char *key = !app__get(app->host_json, "customHandler") &&
                              app__get(app->host_json, "httpWorker")
                          ? "httpWorker"
                          : "customHandler";
    json_t *sec = child_object(app->host_json, key);
    if (sec && !app__get(sec, "enableForwardingHttpRequest"))
        set_default(sec, "enableProxyingHttpRequest", json_true());
    set_default(child_object(sec, "http"), "routes",
                json_pack("[{s:s}]", "route", "{*route}"));
    return 0;
}

/* ---- HTTP functions from customHandler.http.routes ---- */

void app__custom_handler_routes(app_t *app, const app_load_opts_t *opts)
{
    const custom_handler_conf_t *c = &app->custom_handler;
    if (!c->nroutes || !app->worker_runtime || strcasecmp(app->worker_runtime, "custom") != 0)
        return;
    if (app->nfunctions || app->nerrors) {
        app_add_error(app, NULL, "Detected both function.json files and custom handler HTTP "
                      "route configuration definition in host.json (customHandler.http.routes). "
                      "Only one configuration source is supported. Remove either the "
                      "function.json files or the HTTP routes entries in host.json.");
        return;
    }
    for (size_t i = 0; i < c->nroutes; i++) {
        char name[40];
        snprintf(name, sizeof name, "http-handler%zu", i + 1);
        json_t *fj = json_pack("{s:[{s:s,s:s,s:s,s:s,s:[s,s,s,s,s,s,s],s:s},{s:s,s:s,s:s}]}",
                               "bindings", "type", "httpTrigger", "direction", "in", "name",
                               "req", "authLevel", c->route_auth[i], "methods", "get", "post",
                               "put", "delete", "patch", "head", "options", "route",
                               c->routes[i], "type", "http", "direction", "out", "name", "res");
        char *text = fj ? json_dumps(fj, JSON_COMPACT) : NULL;
        json_decref(fj);
        if (!text) {
            app_add_error(app, name, "out of memory");
            continue;
        }
        app_parse_function_json(app, name, app->root, text, strlen(text), opts);
        free(text);
    }
}

void app__custom_handler_free(custom_handler_conf_t *c)
{
    free(c->executable);
    free(c->working_dir);
    free(c->worker_path);
    for (size_t i = 0; i < c->narguments; i++)
        free(c->arguments[i]);
    free(c->arguments);
    for (size_t i = 0; i < c->nworker_arguments; i++)
        free(c->worker_arguments[i]);
    free(c->worker_arguments);
    for (size_t i = 0; i < c->nroutes; i++) {
        free(c->routes[i]);
        free(c->route_auth[i]);
    }
    free(c->routes);
    free(c->route_auth);
    memset(c, 0, sizeof *c);
}
