/*
 * app.h -- the app model: host.json, local.settings.json and each
 * function's function.json, loaded and validated once into typed structs.
 *
 * Lifecycle: app_load() builds an app_t that the caller owns and frees with
 * app_free(). Functions that fail validation are not in `functions`; each
 * failure is one entry of `errors`, a message naming file, function, binding
 * and field. Everything in the app (strings, functions, bindings) lives
 * until app_free(). Runtime code reads these structs and never parses
 * configuration itself.
 */
#ifndef STRATUS_APP_H
#define STRATUS_APP_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "../bindings/binding.h"

#define APP_MAX_FUNCTIONS 4096
#define APP_MAX_BINDINGS 64
#define APP_DEFAULT_HISTORY_COUNT 10000
#define APP_DEFAULT_HISTORY_AGE_MS (7LL * 24 * 3600 * 1000)
#define APP_DEFAULT_TIMEOUT_MS (30LL * 60 * 1000)
#define APP_DEFAULT_MAX_BODY (100LL * 1024 * 1024)
#define APP_DEFAULT_MAX_INSTANCES 4
#define APP_DEFAULT_CONCURRENCY 64
#define APP_DEFAULT_IDLE_TIMEOUT_MS (5LL * 60 * 1000)
#define APP_DEFAULT_WORKER_MEMORY_MB 1024

/* A retry policy (function.json or host.json "retry"): how often and how
 * soon a failed invocation of a non-HTTP trigger runs again. */
typedef enum retry_strategy { RETRY_NONE = 0, RETRY_FIXED, RETRY_EXPONENTIAL } retry_strategy_t;

typedef struct retry_policy {
    retry_strategy_t strategy;
    int max_retry_count;   /* retries after the first try; -1 = without end */
    int64_t delay_ms;      /* fixedDelay: delayInterval */
    int64_t min_delay_ms;  /* exponentialBackoff: minimumInterval */
    int64_t max_delay_ms;  /* exponentialBackoff: maximumInterval */
} retry_policy_t;

#define RETRY_MAX_COUNT 1000

typedef struct function {
    char *name;          /* folder name, as written */
    char *dir;           /* absolute folder path */
    char *config_path;   /* absolute path of its function.json; for an indexed
                            function, of the code file that declared it */
    char *label;         /* where it was declared, for messages: "hello/function.json",
                            or "function_app.py: function 'hello'" */
    char *config_text;   /* an indexed function's declaration (function.json form), as
                            the worker gave it; NULL for function.json functions */
    int indexed;         /* declared in code and listed by the worker (app_add_indexed) */
    char *script_file;   /* absolute path, or NULL when not given */
    char *entry_point;   /* as written, or NULL (then the name is used) */
    char *bootstrap;     /* "bootstrap": absolute path of a Lambda bootstrap, or NULL */
    int lambda_payload_v2; /* "payloadFormatVersion": "2.0": HTTP API events (Lambda) */
    int disabled;
    binding_t *bindings;
    size_t nbindings;
    binding_t *trigger;         /* points into bindings */
    http_trigger_conf_t *http;  /* the trigger's config when it is an httpTrigger */
    retry_policy_t retry;       /* function.json "retry", else host.json "retry" */
    int has_io;                 /* has bindings the host reads or writes around a run
                                   (inputs, non-HTTP outputs) */
    void *runtime_data;         /* owned by the executor that loaded it */
    int telemetry_id;           /* its slot in the telemetry tables (telemetry_init) */
    char *load_error;           /* why its code did not load (then it is in app->broken) */
} function_t;

typedef struct app_error {
    char *function; /* NULL for an app-level error */
    char *message;  /* full text, e.g. "hello/function.json: binding 'req': ..." */
} app_error_t;

typedef struct setting {
    char *name;
    char *value;
} setting_t;

/* host.json "customHandler" (or the legacy "httpWorker"), read once by
 * host_json_custom.c; see docs/custom-handlers.md. Only checked for types
 * when the app runs another runtime; the custom runtime says what it lacks. */
typedef struct custom_handler_conf {
    int present;                /* one of the two sections is there */
    const char *section;        /* "customHandler" or "httpWorker": for messages */
    char *executable;           /* description.defaultExecutablePath, %NAME% expanded; NULL when absent */
    char *working_dir;          /* description.workingDirectory, expanded and absolute; default the app root */
    char **arguments;           /* description.arguments, each expanded */
    size_t narguments;
    char *worker_path;          /* description.defaultWorkerPath, expanded and absolute; or NULL */
    char **worker_arguments;    /* description.workerArguments, each expanded: after worker_path */
    size_t nworker_arguments;
    int forward_http;           /* enableForwardingHttpRequest (synonym enableProxyingHttpRequest) */
    int port;                   /* customHandler.port: the handler listens there; 0: a free port */
    char **routes;              /* customHandler.http.routes[].route: HTTP functions from host.json */
    char **route_auth;          /* ... their authorizationLevel (http.defaultAuthorizationLevel) */
    size_t nroutes;
    int64_t startup_timeout_ms; /* stratus.customHandler.startupTimeout; 30 s */
    int pipelining;             /* stratus.customHandler.pipelining; default true */
    int pipeline_depth;         /* stratus.customHandler.pipelineDepth: requests in flight
                                   per connection; 1..64, default 8 */
} custom_handler_conf_t;

#define APP_DEFAULT_CUSTOM_STARTUP_MS (30LL * 1000)
#define APP_DEFAULT_CUSTOM_PIPELINE 8
#define APP_MAX_CUSTOM_PIPELINE 64

typedef struct app {
    char *root;                 /* absolute path of the app folder */
    char *worker_runtime;       /* FUNCTIONS_WORKER_RUNTIME, or NULL */
    json_t *host_json;          /* host.json after AzureFunctionsJobHost__ overrides */

    /* typed host settings, defaults applied */
    int64_t function_timeout_ms;      /* functionTimeout; -1 = none; default 30 min */
    char *route_prefix;               /* extensions.http.routePrefix; "api"; "" = none */
    int64_t max_concurrent_requests;  /* extensions.http.maxConcurrentRequests; -1 */
    int64_t max_outstanding_requests; /* extensions.http.maxOutstandingRequests; -1 */
    int64_t max_request_body;         /* stratus.http.maxRequestBodySize (bytes); 100 MB */
    int64_t header_timeout_ms;        /* stratus.http.headerTimeout; 30 s */
    int64_t keepalive_timeout_ms;     /* stratus.http.keepAliveTimeout; 120 s */
    int64_t max_connections;          /* stratus.http.maxConnections; 10000 */
    int trust_identity_headers;       /* stratus.http.trustIdentityHeaders; 0 */
    int in_process;                   /* stratus.native.inProcess; default 0 (isolated workers) */
    int64_t scale_min_instances;      /* stratus.scale.minInstances; 0 (scale to zero) */
    int64_t scale_max_instances;      /* stratus.scale.maxInstances; 4 */
    int64_t scale_concurrency;        /* stratus.scale.perInstanceConcurrency; 64 */
    int64_t scale_idle_timeout_ms;    /* stratus.scale.idleTimeout; 5 min */
    int scale_prewarm;                /* stratus.scale.prewarm: placeholder workers kept; 1 */
    int64_t worker_memory_mb;         /* stratus.worker.memoryLimitMB; 1024; -1 = none */
    int telemetry_enabled;            /* stratus.telemetry.enabled; default 1 (metrics, usage) */
    int history_enabled;              /* stratus.history.enabled; default 1 */
    int64_t history_max_count;        /* stratus.history.maxCount; 10000; -1 = no limit */
    int64_t history_max_age_ms;       /* stratus.history.maxAge; 7 days; -1 = no limit */

    custom_handler_conf_t custom_handler; /* host.json customHandler / httpWorker */
    retry_policy_t retry;             /* host.json "retry" (RETRY_NONE when absent) */

    int local_http_port;        /* local.settings.json Host.LocalHttpPort, 0 when absent */
    char *cors;                 /* local.settings.json Host.CORS, or NULL */
    int cors_credentials;       /* local.settings.json Host.CORSCredentials */

    /* host.json logging.logLevel: "default" (-1 when not given) and the
     * other categories with their levels (LOG_TRACE .. LOG_NONE) */
    int log_default_level;
    char **log_categories;
    int *log_levels;
    size_t nlog_levels;

    char **functions_filter;    /* host.json "functions" (or the caller's list) */
    size_t nfunctions_filter;
    int functions_filter_given; /* the list is the caller's (app_load_opts_t) */

    /* What `stratus start` watches (reload.c), as Azure's host.json has it:
     * fileWatchingEnabled (default 1), watchDirectories (folders whose every
     * file reloads the app, relative to the root, without '/' at either
     * end) and watchFiles (file names that reload it wherever they are). */
    int file_watching;
    char **watch_dirs;
    size_t nwatch_dirs;
    char **watch_files;
    size_t nwatch_files;
    int reload;                 /* loaded by a reload of a running host (reload.c): the
                                   runtime makes sure the new version starts before it serves */

    setting_t *settings;        /* local.settings.json Values, in file order */
    size_t nsettings;

    function_t **functions;     /* valid functions, sorted by name */
    size_t nfunctions;
    function_t **broken;        /* HTTP functions whose code did not load: their routes
                                   answer 500, as in Azure (app_break_function) */
    size_t nbroken;

    app_error_t *errors;
    size_t nerrors;

    /* An app that declares its functions in code (Python v2: function_app.py,
     * Node.js v4: package.json "main") and has no function folders: the
     * language ("python", "node") whose worker lists them (worker
     * indexing, app_add_indexed), and the file that marks the model, as a
     * path relative to the root. NULL when the app has function folders. */
    const char *index_lang;
    char *index_source;

    void *runtime_state;        /* owned by the app's runtime (e.g. its worker pool) */
} app_t;

typedef struct app_load_opts {
    /* Function names to load, overriding host.json "functions"; NULL = use
     * host.json. */
    const char *const *functions;
    size_t nfunctions;
    /* 1 when a missing scriptFile may still be built from .c sources in the
     * function folder (stratus start); then only "no .so and no sources"
     * is an error. */
    int allow_build;
} app_load_opts_t;

/* Load the app in `root`. Returns 0 with *out set (function-level problems
 * are in (*out)->errors), or -1 when the app as a whole cannot load (no
 * host.json, host.json not valid JSON, wrong version, bad host setting),
 * with a message in err such as
 * "host.json:3:5: '}' expected near 'x'". opts may be NULL. */
int app_load(const char *root, const app_load_opts_t *opts, app_t **out, char *err,
             size_t errlen);
void app_free(app_t *app);

/* The value of an app setting: the process environment first, then
 * local.settings.json Values. NULL when unset. */
const char *app_setting(const app_t *app, const char *name);

/* s with every %NAME% whose NAME is an app setting (app_setting) replaced
 * by its value, as Windows expands environment variables; unknown names and
 * lone percent signs stay as written. The caller frees the result. */
char *app_expand_settings(const app_t *app, const char *s);

/* The variables a custom handler process gets only when it starts, in
 * this order: its port (current and legacy name), its number (the same).
 * In host.json arguments, %NAME% of these is kept for that start. */
#define APP_CUSTOM_HANDLER_VARS 4
extern const char *const app_custom_handler_vars[APP_CUSTOM_HANDLER_VARS];

/* Export local.settings.json Values into the process environment, without
 * replacing variables that are already set, in one change that threads
 * reading the environment meanwhile see whole (envset.h). 0, or -1 with
 * errno when memory ran out. */
int app_export_settings(const app_t *app);

/* Find a loaded function by name (case-insensitive), or NULL. */
function_t *app_function(const app_t *app, const char *name);

/* Record an error (printf-style); function may be NULL. */
void app_add_error(app_t *app, const char *function, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Remove a function from `functions` (it failed to load later, e.g. its
 * shared object would not open) and free it. The error should have been
 * recorded first. */
void app_drop_function(app_t *app, function_t *fn);

/* A function whose configuration is valid but whose code did not load (a
 * syntax error, a missing module, a compile error): it leaves `functions`
 * (nothing runs it) and, when HTTP-triggered, is kept in `broken` with
 * why, so that its route answers 500 as Azure's does rather than 404;
 * otherwise it is freed. The error should have been recorded first. */
void app_break_function(app_t *app, function_t *fn, const char *why);

/* Validate one function from the text of its function.json (len bytes, need
 * not be NUL-terminated) and add it to `functions`, kept in name order.
 * name is the folder name, dir the folder's absolute path (scriptFile is
 * resolved against it); app->worker_runtime decides whether scriptFile is
 * required; opts may be NULL. Returns 0, or -1 after recording one error
 * (for function `name`) whose message starts with "<name>/function.json: ".
 * app_load() calls it for each function folder; fuzzers call it directly. */
int app_parse_function_json(app_t *app, const char *name, const char *dir, const char *text,
                            size_t len, const app_load_opts_t *opts);

/* Worker indexing: add the functions a language worker listed for an app
 * of a code-declared model (app->index_lang), from its answer (len bytes):
 *   {"functions": [{"name": N, <function.json fields>}, ...],
 *    "errors": [{"function": N or null, "error": TEXT}, ...]}
 * Each function is validated as a function.json would be (scriptFile
 * resolved against the app root), with messages labelled "<source>:
 * function 'N'"; duplicate names, names that are not valid, and the
 * host.json "functions" filter are applied as for folders. Each entry of
 * errors becomes a load error (of its function, "<source>: function 'N':
 * TEXT", the source left out when TEXT starts with it). Returns 0, or -1 after recording an app
 * error when the answer itself is not a valid document. */
int app_add_indexed(app_t *app, const char *text, size_t len, const app_load_opts_t *opts);

/* Read a "retry" section (function.json or host.json) into out. 0, or -1
 * with err naming the field, e.g. "field 'retry.strategy': expected
 * fixedDelay or exponentialBackoff, got 'x'". v NULL gives RETRY_NONE. */
int retry_policy_parse(const json_t *v, retry_policy_t *out, char *err, size_t errlen);

/* Parse an Azure TimeSpan ("00:05:00", "1.02:03:04", "-1", "00:00:00.5")
 * into milliseconds. Returns 0, or -1 when s is not a TimeSpan. "-1" gives
 * -1. */
int timespan_parse(const char *s, int64_t *ms);

/* Write ms as a TimeSpan ("00:05:00", "00:00:01.500") into out, for
 * messages that quote a setting back. */
void timespan_format(int64_t ms, char *out, size_t n);

/* Check a function name against Azure's rule ^[a-z][a-z0-9_-]{0,127}$
 * (case-insensitive), never "host". 1 when valid. */
int function_name_valid(const char *name);

/* Check a binding name against ^([a-zA-Z][a-zA-Z0-9]{0,127}|\$return)$. */
int binding_name_valid(const char *name);

#endif
