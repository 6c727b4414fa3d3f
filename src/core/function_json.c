/*
 * function_json.c -- one function.json validated into a function_t (see
 * app_parse_function_json in app.h): the function's own fields (scriptFile,
 * entryPoint, bootstrap, disabled), every binding's common fields (name, type,
 * direction, dataType, cardinality, connection), then the fields of the
 * binding's kind through its parse(). The first problem found becomes the
 * function's one error; other properties are accepted and ignored, as Azure
 * keeps them for the extensions.
 */
#include <dirent.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "../util/buf.h"
#include "app.h"
#include "app_priv.h"
#include "expr.h"

extern char **environ;

#define ERR_MAX 1024
#define NAME_RULE                                                                       \
    "a function name starts with a letter, holds only letters, digits, '_' and '-', is " \
    "at most 128 characters long and is not 'host'"
#define BINDING_NAME_RULE \
    "a name of letters and digits starting with a letter (at most 128), or $return"

/* Write ": <message>" into err (the caller prefixes the function's label,
 * "<name>/function.json"). */
static int fail(char *err, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t n, const char *fmt, ...)
{
    va_list ap;
    int used = snprintf(err, n, ": ");
    va_start(ap, fmt);
    vsnprintf(err + used, n - (size_t)used, fmt, ap);
    va_end(ap);
    return -1;
}

static const char *dir_name(binding_dir_t d)
{
    return d == BINDING_IN ? "in" : d == BINDING_OUT ? "out" : "inout";
}

static int parse_direction(const char *s, binding_dir_t *d)
{
    if (strcasecmp(s, "in") == 0)
        *d = BINDING_IN;
    else if (strcasecmp(s, "out") == 0)
        *d = BINDING_OUT;
    else if (strcasecmp(s, "inout") == 0)
        *d = BINDING_INOUT;
    else
        return -1;
    return 0;
}

/* The directions a kind accepts, for messages. */
static const char *dirs_text(unsigned bits)
{
    switch (bits & BINDING_INOUT) {
    case BINDING_IN: return "in";
    case BINDING_OUT: return "out";
    default: return "in, out or inout";
    }
}

/* An optional string field whose value is one of `allowed` (any case). On
 * success *out is the canonical spelling, or NULL when absent. */
static int one_of(const json_t *entry, const char *field, const char *const *allowed,
                  const char *list, const char *label, const char **out, char *err, size_t n)
{
    json_t *v = app__get(entry, field);
    char shown[128];
    *out = NULL;
    if (!v)
        return 0;
    for (size_t i = 0; json_is_string(v) && allowed[i]; i++)
        if (strcasecmp(json_string_value(v), allowed[i]) == 0) {
            *out = allowed[i];
            return 0;
        }
    app__show(v, shown, sizeof shown);
    return fail(err, n, "%s: field '%s': expected %s, got %s", label, field, list, shown);
}

/* The name, type and direction of a binding: what identifies it. */
static int parse_identity(const json_t *entry, size_t idx, binding_t *b, char *label,
                          size_t labellen, char *err, size_t n)
{
    char shown[128], type[300];
    json_t *v;

    if (!json_is_object(entry)) {
        app__show(entry, shown, sizeof shown);
        return fail(err, n, "binding #%zu: expected an object, got %s", idx + 1, shown);
    }
    if (!(v = app__get(entry, "name")))
        return fail(err, n, "binding #%zu: field 'name' is required", idx + 1);
    if (!json_is_string(v) || !binding_name_valid(json_string_value(v))) {
        app__show(v, shown, sizeof shown);
        return fail(err, n, "binding #%zu: field 'name': expected %s, got %s", idx + 1,
                    BINDING_NAME_RULE, shown);
    }
    b->name = app__xstrdup(json_string_value(v));

    if (!(v = app__get(entry, "type")))
        return fail(err, n, "binding '%s': field 'type' is required", b->name);
    if (!json_is_string(v) || json_string_length(v) == 0) {
        app__show(v, shown, sizeof shown);
        return fail(err, n, "binding '%s': field 'type': expected a binding type such as "
                    "httpTrigger, got %s", b->name, shown);
    }
    b->type = app__xstrdup(json_string_value(v));
    app__escape(b->type, type, sizeof type);
    snprintf(label, labellen, "binding '%s' (%s)", b->name, type);
    if (!(b->kind = binding_kind_find(b->type))) {
        char names[512];
        binding_kind_names(names, sizeof names);
        return fail(err, n, "%s: unknown binding type '%s' (known: %s)", label, type, names);
    }
    b->is_trigger = b->kind->is_trigger;

    if (!(v = app__get(entry, "direction")))
        return fail(err, n, "%s: field 'direction' is required (in, out or inout)", label);
    if (!json_is_string(v) || parse_direction(json_string_value(v), &b->direction) != 0) {
        app__show(v, shown, sizeof shown);
        return fail(err, n, "%s: field 'direction': expected in, out or inout, got %s", label,
                    shown);
    }
    if (b->is_trigger && b->direction != BINDING_IN)
        return fail(err, n, "%s: field 'direction': a trigger's direction must be in, got '%s'",
                    label, dir_name(b->direction));
    if ((b->direction & b->kind->directions) != (unsigned)b->direction)
        return fail(err, n, "%s: field 'direction': %s bindings must be %s, got '%s'", label,
                    b->kind->type, dirs_text(b->kind->directions), dir_name(b->direction));
    return 0;
}

static const char *setting_lookup(void *ctx, const char *name)
{
    return app_setting(ctx, name);
}

/* A copy of entry with %Setting% in every string property resolved from the
 * app settings, as Azure resolves binding attributes when the app starts
 * (name, type and direction are taken as written). NULL with err naming
 * the field and the setting that is not set. */
static json_t *resolve_settings(const app_t *app, const json_t *entry, const char *label,
                                char *err, size_t n)
{
    json_t *copy = json_deep_copy(entry);
    const char *k;
    json_t *v;
    buf_t out;
    buf_init(&out, 1u << 20);
    json_object_foreach(copy, k, v) {
        if (!json_is_string(v) || !strchr(json_string_value(v), '%') ||
            !strcasecmp(k, "name") || !strcasecmp(k, "type") || !strcasecmp(k, "direction"))
            continue;
        char eerr[300], key[130];
        out.len = 0;
        if (expr_settings(json_string_value(v), setting_lookup, (void *)app, &out, eerr,
                          sizeof eerr) != 0) {
            app__escape(k, key, sizeof key);
            fail(err, n, "%s: field '%s': %s", label, key, eerr);
            json_decref(copy);
            buf_free(&out);
            return NULL;
        }
        json_object_set_new(copy, k, json_stringn(out.p ? out.p : "", out.len));
    }
    buf_free(&out);
    return copy;
}

static int parse_binding(const app_t *app, const json_t *entry, size_t idx, binding_t *b,
                         char *err, size_t n)
{
    static const char *const data_types[] = {"string", "binary", "stream", NULL};
    static const char *const cardinalities[] = {"one", "many", NULL};
    char label[400], shown[128], kerr[ERR_MAX - 64];
    const char *s;
    json_t *v;

    if (parse_identity(entry, idx, b, label, sizeof label, err, n) != 0)
        return -1;
    if (one_of(entry, "dataType", data_types, "string, binary or stream", label, &s, err, n))
        return -1;
    b->data_type = s ? app__xstrdup(s) : NULL;
    if (one_of(entry, "cardinality", cardinalities, "one or many", label, &s, err, n))
        return -1;
    if ((v = app__get(entry, "connection"))) {
        if (!json_is_string(v)) {
            app__show(v, shown, sizeof shown);
            return fail(err, n, "%s: field 'connection': expected the name of an app setting, "
                        "got %s", label, shown);
        }
        b->connection = app__xstrdup(json_string_value(v));
    }
    if (b->kind->parse) {
        /* HTTP kinds take their fields as written (a route may hold '%'). */
        int v2 = b->kind->start || b->kind->read || b->kind->write;
        json_t *resolved = v2 ? resolve_settings(app, entry, label, err, n) : json_incref((json_t *)entry);
        if (!resolved)
            return -1;
        kerr[0] = '\0';
        int rc = b->kind->parse(resolved, b, kerr, sizeof kerr);
        json_decref(resolved);
        if (rc != 0)
            return fail(err, n, "%s: %s", label, kerr[0] ? kerr : "invalid");
    }
    return 0;
}

static int parse_bindings(const app_t *app, const json_t *root, function_t *fn, char *err,
                          size_t n)
{
    json_t *list = app__get(root, "bindings");
    char shown[128];
    if (!list || (json_is_array(list) && json_array_size(list) == 0))
        return fail(err, n, "At least one binding must be declared.");
    if (!json_is_array(list)) {
        app__show(list, shown, sizeof shown);
        return fail(err, n, "field 'bindings': expected a list of bindings, got %s", shown);
    }
    size_t count = json_array_size(list);
    if (count > APP_MAX_BINDINGS)
        return fail(err, n, "too many bindings: %zu (at most %d)", count, APP_MAX_BINDINGS);

    fn->bindings = app__xcalloc(count, sizeof *fn->bindings);
    for (size_t i = 0; i < count; i++) {
        binding_t *b = &fn->bindings[i];
        fn->nbindings = i + 1;
        if (parse_binding(app, json_array_get(list, i), i, b, err, n) != 0)
            return -1;
        for (size_t j = 0; j < i; j++)
            if (strcasecmp(fn->bindings[j].name, b->name) == 0)
                return fail(err, n, "binding '%s': the name is used twice (binding names are "
                            "case-insensitive; also '%s')", b->name, fn->bindings[j].name);
        if (b->is_trigger && fn->trigger)
            return fail(err, n, "only one trigger is allowed, found '%s' (%s) and '%s' (%s)",
                        fn->trigger->name, fn->trigger->kind->type, b->name, b->kind->type);
        if (b->is_trigger)
            fn->trigger = b;
    }
    if (!fn->trigger)
        return fail(err, n, "no trigger: exactly one binding must be a trigger (a type ending "
                    "in 'Trigger', such as httpTrigger)");
    if (fn->trigger->kind == &binding_http_trigger)
        fn->http = fn->trigger->conf;
    for (size_t i = 0; i < count; i++) {
        const binding_t *b = &fn->bindings[i];
        if (b->is_trigger)
            continue;
        if (((b->direction & BINDING_IN) && b->kind->read) ||
            ((b->direction & BINDING_OUT) && b->kind->write))
            fn->has_io = 1;
    }
    return 0;
}

static int parse_retry(const app_t *app, const json_t *root, function_t *fn, char *err,
                       size_t n)
{
    char rerr[400];
    json_t *v = app__get(root, "retry");
    /* HTTP callers are answered, not retried (as Azure, which ignores the
     * section there). */
    if (fn->http)
        return 0;
    if (!v) {
        fn->retry = app->retry;
    } else if (retry_policy_parse(v, &fn->retry, rerr, sizeof rerr) != 0) {
        return fail(err, n, "%s", rerr);
    }
    return 0;
}

static int has_c_sources(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    int found = 0;
    if (!d)
        return 0;
    while (!found && (de = readdir(d))) {
        size_t len = strlen(de->d_name);
        found = len > 2 && de->d_name[0] != '.' && strcmp(de->d_name + len - 2, ".c") == 0;
    }
    closedir(d);
    return found;
}

/* The worker runtime a script file's name suggests ("python", "node"), or
 * NULL. */
static const char *runtime_of(const char *file)
{
    static const struct {
        const char *ext, *runtime;
    } by_ext[] = {{".py", "python"}, {".js", "node"}, {".mjs", "node"}, {".cjs", "node"}};
    size_t len = strlen(file);
    for (size_t i = 0; i < sizeof by_ext / sizeof by_ext[0]; i++) {
        size_t e = strlen(by_ext[i].ext);
        if (len > e && strcmp(file + len - e, by_ext[i].ext) == 0)
            return by_ext[i].runtime;
    }
    return NULL;
}

/* The usual script of a Python or Node.js function in dir, or NULL. */
static const char *script_in(const char *dir, const char **runtime)
{
    static const char *names[] = {"__init__.py", "index.js", "index.mjs", "index.cjs"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char *path = app__path_join(dir, names[i]);
        struct stat st;
        int found = stat(path, &st) == 0;
        free(path);
        if (found) {
            *runtime = runtime_of(names[i]);
            return names[i];
        }
    }
    return NULL;
}

static int parse_code(const app_t *app, const json_t *root, function_t *fn,
                      const app_load_opts_t *opts, char *err, size_t n)
{
    char shown[128], file[300];
    struct stat st;
    json_t *v = app__get(root, "scriptFile");
    const char *rt = app->worker_runtime;

    if (v && (!json_is_string(v) || json_string_length(v) == 0)) {
        app__show(v, shown, sizeof shown);
        return fail(err, n, "field 'scriptFile': expected a file path relative to the function "
                    "folder, got %s", shown);
    }
    int native = !rt || strcasecmp(rt, "native") == 0;
    const char *hint = NULL, *script = NULL;
    if (native && !rt)
        script = v && json_is_string(v) ? (hint = runtime_of(json_string_value(v)),
                                           json_string_value(v))
                                        : script_in(fn->dir, &hint);
    if (hint)
        return fail(err, n, "FUNCTIONS_WORKER_RUNTIME is not set, so functions are native C "
                    "shared objects, but this one is %s code (%s): set \"FUNCTIONS_WORKER_RUNTIME"
                    "\": \"%s\" in local.settings.json Values", hint, script, hint);
    if (!v && native)
        return fail(err, n, "scriptFile is required for native functions (the shared object "
                    "to load, e.g. \"%s.so\")", fn->name);
    if (v) {
        fn->script_file = app__path_join(fn->dir, json_string_value(v));
        int exists = stat(fn->script_file, &st) == 0 && S_ISREG(st.st_mode);
        int buildable = opts && opts->allow_build && has_c_sources(fn->dir);
        if (!exists && !buildable) {
            app__escape(json_string_value(v), file, sizeof file);
            return fail(err, n, "field 'scriptFile': '%s' not found (looked for %.300s)%s", file,
                        fn->script_file,
                        native && opts && opts->allow_build
                            ? " and there are no .c sources to build it from"
                            : "");
        }
    }

    if ((v = app__get(root, "entryPoint"))) {
        if (!json_is_string(v) || json_string_length(v) == 0) {
            app__show(v, shown, sizeof shown);
            return fail(err, n, "field 'entryPoint': expected a function name, got %s", shown);
        }
        fn->entry_point = app__xstrdup(json_string_value(v));
    }

    /* The Lambda runtime's executable, when not the usual "bootstrap" file
     * of the function or app folder (the runtime checks that it runs). */
    if ((v = app__get(root, "bootstrap"))) {
        if (!json_is_string(v) || json_string_length(v) == 0) {
            app__show(v, shown, sizeof shown);
            return fail(err, n, "field 'bootstrap': expected the path of an executable, "
                        "relative to the function folder, got %s", shown);
        }
        fn->bootstrap = app__path_join(fn->dir, json_string_value(v));
    }

    /* The API Gateway payload format a Lambda function gets: REST's 1.0
     * (the default) or HTTP API's and function URLs' 2.0. */
    if ((v = app__get(root, "payloadFormatVersion"))) {
        const char *s = json_is_string(v) ? json_string_value(v) : "";
        if (strcmp(s, "1.0") != 0 && strcmp(s, "2.0") != 0) {
            app__show(v, shown, sizeof shown);
            return fail(err, n, "field 'payloadFormatVersion': expected \"1.0\" (API Gateway "
                        "REST events) or \"2.0\" (HTTP API and function URL events), got %s",
                        shown);
        }
        fn->lambda_payload_v2 = strcmp(s, "2.0") == 0;
    }
    return 0;
}

/* The value of the app setting name, its name matched in any case as Azure's
 * configuration matches it: the environment first, then local.settings.json
 * Values. NULL when not set. */
static const char *setting_any_case(const app_t *app, const char *name)
{
    size_t n = strlen(name);
    const char *v = app_setting(app, name);
    if (v)
        return v;
    for (char **e = environ; e && *e; e++)
        if (strncasecmp(*e, name, n) == 0 && (*e)[n] == '=')
            return *e + n + 1;
    for (size_t i = 0; i < app->nsettings; i++)
        if (strcasecmp(app->settings[i].name, name) == 0)
            return app->settings[i].value;
    return NULL;
}

/* 1 when the app setting name is set to true (any case) or 1, as Azure
 * reads a setting that disables a function. */
static int setting_enabled(const app_t *app, const char *name)
{
    const char *s = setting_any_case(app, name);
    return s && (strcasecmp(s, "true") == 0 || strcmp(s, "1") == 0);
}

static int parse_disabled(const app_t *app, const json_t *root, function_t *fn, char *err,
                          size_t n)
{
    char shown[128], setting[200];
    json_t *v = app__get(root, "disabled");
    if (json_is_string(v) && app__bool(v, &fn->disabled) != 0) {
        /* The name of an app setting (written by Visual Studio for
         * [Disable("Setting")], and in Functions 1.x docs), bare or as
         * %Setting%: disabled when that setting is true or 1. */
        const char *s = json_string_value(v);
        size_t len = strlen(s);
        if (len >= 2 && s[0] == '%' && s[len - 1] == '%')
            s++, len -= 2;
        if (len == 0 || len >= sizeof setting || memchr(s, '%', len)) {
            app__show(v, shown, sizeof shown);
            return fail(err, n, "field 'disabled': expected true, false or the name of an app "
                        "setting, got %s", shown);
        }
        memcpy(setting, s, len);
        setting[len] = '\0';
        fn->disabled = setting_enabled(app, setting);
    } else if (v && app__bool(v, &fn->disabled) != 0) {
        app__show(v, shown, sizeof shown);
        return fail(err, n, "field 'disabled': expected true, false or the name of an app "
                    "setting, got %s", shown);
    }
    /* Azure's app setting AzureWebJobs.<name>.Disabled also disables, and
     * AzureWebJobs_<name>_Disabled, its spelling where a variable name
     * cannot hold dots. */
    snprintf(setting, sizeof setting, "AzureWebJobs.%s.Disabled", fn->name);
    if (setting_enabled(app, setting))
        fn->disabled = 1;
    snprintf(setting, sizeof setting, "AzureWebJobs_%s_Disabled", fn->name);
    if (setting_enabled(app, setting))
        fn->disabled = 1;
    return 0;
}

static int parse_function(app_t *app, function_t *fn, const char *text, size_t len,
                          const app_load_opts_t *opts, char *err, size_t n)
{
    json_error_t je;
    char shown[300];
    const function_t *other;

    if (!function_name_valid(fn->name)) {
        app__escape(fn->name, shown, sizeof shown);
        return fail(err, n, "invalid function name '%s': %s", shown, NAME_RULE);
    }
    if ((other = app_function(app, fn->name)))
        return fail(err, n, "function name '%s' is used twice (function names are "
                    "case-insensitive; also '%s')", fn->name, other->name);
    if (app->nfunctions >= APP_MAX_FUNCTIONS)
        return fail(err, n, "too many functions (at most %d)", APP_MAX_FUNCTIONS);

    json_t *root = app__load_relaxed(text, len, &je);
    if (!root) {
        snprintf(err, n, ":%d:%d: %s", je.line, je.column, je.text);
        return -1;
    }
    int rc = -1;
    if (!json_is_object(root)) {
        app__show(root, shown, sizeof shown);
        fail(err, n, "expected a JSON object, got %s", shown);
    } else if (parse_bindings(app, root, fn, err, n) == 0 &&
               parse_code(app, root, fn, opts, err, n) == 0 &&
               parse_disabled(app, root, fn, err, n) == 0 &&
               parse_retry(app, root, fn, err, n) == 0) {
        rc = 0;
    }
    json_decref(root);
    return rc;
}

/* Validate one function's declaration and add it in name order. label
 * prefixes its error ("hello/function.json", "function_app.py: function
 * 'hello'"); config_path is the file that declared it. */
static int add_function(app_t *app, const char *name, const char *dir, char *config_path,
                        const char *label, const char *text, size_t len,
                        const app_load_opts_t *opts, int indexed)
{
    char err[ERR_MAX];
    function_t *fn = app__xcalloc(1, sizeof *fn);
    fn->name = app__xstrdup(name);
    fn->telemetry_id = -1; /* no slot until telemetry_init or telemetry_switch_app */
    fn->dir = app__xstrdup(dir);
    fn->config_path = config_path;
    fn->label = app__xstrdup(label);
    fn->indexed = indexed;

    if (parse_function(app, fn, text, len, opts, err, sizeof err) != 0) {
        app__function_free(fn);
        app_add_error(app, name, "%s%s", label, err);
        return -1;
    }
    if (indexed) {
        fn->config_text = app__xcalloc(1, len + 1);
        memcpy(fn->config_text, text, len);
    }
    size_t at = app->nfunctions;
    while (at > 0 && strcmp(app->functions[at - 1]->name, name) > 0)
        at--;
    app->functions = app__xrealloc(app->functions, app->nfunctions + 1, sizeof *app->functions);
    memmove(&app->functions[at + 1], &app->functions[at],
            (app->nfunctions - at) * sizeof *app->functions);
    app->functions[at] = fn;
    app->nfunctions++;
    return 0;
}

int app_parse_function_json(app_t *app, const char *name, const char *dir, const char *text,
                            size_t len, const app_load_opts_t *opts)
{
    char qname[300], label[320];
    app__escape(name, qname, sizeof qname);
    snprintf(label, sizeof label, "%s/function.json", qname);
    return add_function(app, name, dir, app__path_join(dir, "function.json"), label, text, len,
                        opts, 0);
}

/* ---- worker indexing ---- */

static int filtered_out(const app_t *app, const char *name)
{
    if (app->nfunctions_filter == 0)
        return 0;
    for (size_t i = 0; i < app->nfunctions_filter; i++)
        if (strcasecmp(app->functions_filter[i], name) == 0)
            return 0;
    return 1;
}

int app_add_indexed(app_t *app, const char *text, size_t len, const app_load_opts_t *opts)
{
    const char *source = app->index_source ? app->index_source : "the app's code";
    char shown[300], label[600];
    json_error_t je;
    json_t *doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    json_t *fns = json_object_get(doc, "functions"), *errs = json_object_get(doc, "errors");
    if (!json_is_object(doc) || !json_is_array(fns) || (errs && !json_is_array(errs))) {
        if (doc)
            snprintf(shown, sizeof shown, "expected {\"functions\": [...], \"errors\": [...]}");
        else
            snprintf(shown, sizeof shown, "%d:%d: %s", je.line, je.column, je.text);
        app_add_error(app, NULL, "%s: the %s worker's list of functions is not valid: %s", source,
                      app->index_lang ? app->index_lang : "language", shown);
        json_decref(doc);
        return -1;
    }
    size_t i, added = 0;
    json_t *item;
    json_array_foreach(errs, i, item) {
        const char *fname = json_string_value(json_object_get(item, "function"));
        const char *why = json_string_value(json_object_get(item, "error"));
        if (!why || !*why)
            why = "could not be loaded (the worker gave no reason)";
        if (fname && *fname) {
            /* "function_app.py: function 'f': ...", once when the text
             * starts with the file's name already. */
            int named = !strncmp(why, source, strlen(source));
            app__escape(fname, shown, sizeof shown);
            app_add_error(app, fname, "%s%sfunction '%s': %s", named ? "" : source,
                          named ? "" : ": ", shown, why);
        } else {
            app_add_error(app, NULL, "%s", why);
        }
    }
    json_array_foreach(fns, i, item) {
        json_t *jname = json_object_get(item, "name");
        const char *name = json_string_value(jname);
        if (!json_is_object(item) || !name || !*name) {
            app__show(json_is_object(item) ? jname : item, shown, sizeof shown);
            app_add_error(app, NULL, "%s: function %zu of the worker's list has no name (%s)",
                          source, i + 1, shown);
            continue;
        }
        if (filtered_out(app, name))
            continue;
        if (added++ == APP_MAX_FUNCTIONS) {
            app__escape(name, shown, sizeof shown);
            app_add_error(app, NULL, "too many functions: only the first %d are loaded ('%s' "
                          "and later are skipped)", APP_MAX_FUNCTIONS, shown);
            break;
        }
        app__escape(name, shown, sizeof shown);
        snprintf(label, sizeof label, "%s: function '%s'", source, shown);
        json_t *decl = json_deep_copy(item);
        json_object_del(decl, "name");
        char *dtext = decl ? json_dumps(decl, JSON_COMPACT) : NULL;
        json_decref(decl);
        if (!dtext) {
            app_add_error(app, name, "%s: out of memory", label);
            continue;
        }
        const char *script = json_string_value(json_object_get(item, "scriptFile"));
        add_function(app, name, app->root,
                     app__path_join(app->root, script && *script ? script : source), label,
                     dtext, strlen(dtext), opts, 1);
        free(dtext);
    }
    for (size_t k = 0; k < app->nfunctions_filter; k++) {
        int found = 0;
        json_array_foreach(fns, i, item) {
            const char *name = json_string_value(json_object_get(item, "name"));
            if (name && !strcasecmp(name, app->functions_filter[k]))
                found = 1;
        }
        if (!found) {
            app__escape(app->functions_filter[k], shown, sizeof shown);
            app_add_error(app, NULL, "function '%s' is listed in %s but %s declares no function "
                          "of that name", shown,
                          app->functions_filter_given ? "the functions to load"
                                                      : "host.json \"functions\"", source);
        }
    }
    json_decref(doc);
    return 0;
}
