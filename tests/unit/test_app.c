/*
 * test_app.c -- the app loader: host.json, local.settings.json, overrides,
 * function.json validation and its error messages, TimeSpans and names.
 * Each test writes an app into a fresh temp folder and removes it after.
 */
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../src/core/app.h"
#include "../../src/http/method.h"
#include "test.h"

#define HOST "{\"version\": \"2.0\"}"
#define TRIGGER "{\"type\": \"httpTrigger\", \"direction\": \"in\", \"name\": \"req\"}"
#define OUTPUT "{\"type\": \"http\", \"direction\": \"out\", \"name\": \"res\"}"
#define BINDINGS "\"bindings\": [" TRIGGER ", " OUTPUT "]"
#define FN(extra) "{\"scriptFile\": \"hello.so\", " BINDINGS extra "}"

/* ---- temp apps ---- */

static char *mkapp(void)
{
    char tmpl[] = "/tmp/stratus-test-app-XXXXXX";
    if (!mkdtemp(tmpl)) {
        perror("mkdtemp");
        exit(2);
    }
    return strdup(tmpl);
}

/* Write root/rel, creating its folders. */
static void put(const char *root, const char *rel, const char *text)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", root, rel);
    for (char *p = path + strlen(root) + 1; (p = strchr(p, '/')); p++) {
        *p = '\0';
        mkdir(path, 0755);
        *p = '/';
    }
    FILE *f = fopen(path, "w");
    if (!f) {
        perror(path);
        exit(2);
    }
    fputs(text, f);
    fclose(f);
}

static int rm_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    return remove(path);
}

static void rmapp(char *root)
{
    nftw(root, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
    free(root);
}

/* A valid native HTTP function `name` (with its .so). */
static void good_fn(const char *root, const char *name)
{
    char rel[256], text[1024];
    snprintf(rel, sizeof rel, "%s/function.json", name);
    snprintf(text, sizeof text, "{\"scriptFile\": \"%s.so\", " BINDINGS "}", name);
    put(root, rel, text);
    snprintf(rel, sizeof rel, "%s/%s.so", name, name);
    put(root, rel, "");
}

/* The message of the first error recorded for `function` (NULL = app-level). */
static const char *error_for(const app_t *app, const char *function)
{
    for (size_t i = 0; i < app->nerrors; i++) {
        const char *f = app->errors[i].function;
        if ((!function && !f) || (function && f && strcmp(f, function) == 0))
            return app->errors[i].message;
    }
    return NULL;
}

/* Load an app whose function "hello" has function.json `fjson` next to a
 * valid function "world"; check that hello failed alone and return its
 * error (the caller frees it). */
static char *hello_error(const char *fjson, const app_load_opts_t *opts)
{
    char *root = mkapp(), err[512] = "", *msg = NULL;
    app_t *app = NULL;
    put(root, "host.json", HOST);
    put(root, "hello/function.json", fjson);
    put(root, "hello/hello.so", "");
    good_fn(root, "world");
    CHECK_INT(app_load(root, opts, &app, err, sizeof err), 0);
    if (app) {
        CHECK_INT(app->nfunctions, 1);
        CHECK(app_function(app, "world") != NULL);
        CHECK(app_function(app, "hello") == NULL);
        CHECK_INT(app->nerrors, 1);
        const char *m = error_for(app, "hello");
        CHECK(m != NULL);
        msg = m ? strdup(m) : NULL;
    }
    app_free(app);
    rmapp(root);
    return msg;
}

/* Load an app with this host.json (and local.settings.json when given),
 * expecting failure; return the message (static). */
static const char *app_fails(const char *host, const char *local)
{
    static char err[512];
    char *root = mkapp();
    app_t *app = NULL;
    err[0] = '\0';
    if (host)
        put(root, "host.json", host);
    if (local)
        put(root, "local.settings.json", local);
    good_fn(root, "hello");
    CHECK_INT(app_load(root, NULL, &app, err, sizeof err), -1);
    CHECK(app == NULL);
    app_free(app);
    rmapp(root);
    return err;
}

/* Load an app with this host.json and local.settings.json (NULL = none)
 * and one good function; expect success. */
static app_t *app_ok(const char *host, const char *local, char **rootp)
{
    char *root = mkapp(), err[512] = "";
    app_t *app = NULL;
    put(root, "host.json", host);
    if (local)
        put(root, "local.settings.json", local);
    good_fn(root, "hello");
    if (app_load(root, NULL, &app, err, sizeof err) != 0)
        fprintf(stderr, "app_load: %s\n", err);
    CHECK(app != NULL);
    if (rootp)
        *rootp = root;
    else
        rmapp(root);
    return app;
}

/* ---- a good app ---- */

TEST(good_app_with_defaults)
{
    char *root = mkapp(), err[512] = "", path[4096];
    app_t *app = NULL;
    put(root, "host.json", "{\"version\": \"2.0\", \"logging\": {\"logLevel\": {\"default\": "
                           "\"Information\"}}, \"extensionBundle\": {\"id\": \"x\"}}");
    good_fn(root, "world");
    good_fn(root, "hello");
    CHECK_INT(app_load(root, NULL, &app, err, sizeof err), 0);
    if (!app)
        goto out;
    CHECK_STR(app->root, root);
    CHECK_INT(app->nerrors, 0);
    CHECK_INT(app->nfunctions, 2);
    CHECK_STR(app->functions[0]->name, "hello");
    CHECK_STR(app->functions[1]->name, "world");
    CHECK_INT(app->function_timeout_ms, 30 * 60 * 1000);
    CHECK_STR(app->route_prefix, "api");
    CHECK_INT(app->max_concurrent_requests, -1);
    CHECK_INT(app->max_outstanding_requests, -1);
    CHECK_INT(app->max_request_body, 100LL * 1024 * 1024);
    CHECK_INT(app->header_timeout_ms, 30000);
    CHECK_INT(app->keepalive_timeout_ms, 120000);
    CHECK_INT(app->max_connections, 10000);
    CHECK_INT(app->in_process, 0); /* isolated workers by default */
    CHECK_INT(app->local_http_port, 0);
    CHECK(app->cors == NULL);
    CHECK(app->worker_runtime == NULL);
    CHECK_INT(app->nfunctions_filter, 0);

    function_t *fn = app_function(app, "HELLO");
    CHECK(fn == app->functions[0]);
    if (fn) {
        snprintf(path, sizeof path, "%s/hello", root);
        CHECK_STR(fn->dir, path);
        snprintf(path, sizeof path, "%s/hello/function.json", root);
        CHECK_STR(fn->config_path, path);
        snprintf(path, sizeof path, "%s/hello/hello.so", root);
        CHECK_STR(fn->script_file, path);
        CHECK(fn->entry_point == NULL);
        CHECK_INT(fn->disabled, 0);
        CHECK_INT(fn->nbindings, 2);
        CHECK(fn->trigger == &fn->bindings[0]);
        CHECK_STR(fn->bindings[0].name, "req");
        CHECK_INT(fn->bindings[0].direction, BINDING_IN);
        CHECK_INT(fn->bindings[0].is_trigger, 1);
        CHECK(fn->bindings[0].kind == &binding_http_trigger);
        CHECK(fn->bindings[1].kind == &binding_http_out);
        CHECK_INT(fn->bindings[1].direction, BINDING_OUT);
        CHECK(fn->bindings[1].conf == NULL);
        CHECK(fn->http == fn->bindings[0].conf);
        CHECK(fn->http != NULL);
        if (fn->http) {
            CHECK_INT(fn->http->auth_level, AUTH_FUNCTION);
            CHECK_INT(fn->http->methods, 0);
            CHECK(fn->http->route == NULL);
        }
    }
    CHECK(app_function(app, "nope") == NULL);
out:
    app_free(app);
    rmapp(root);
}

TEST(http_trigger_fields)
{
    char *root = mkapp(), err[512] = "";
    app_t *app = NULL;
    put(root, "host.json", HOST);
    put(root, "hello/function.json",
        "{\"scriptFile\": \"hello.so\", \"entryPoint\": \"run\", \"disabled\": \"True\", "
        "\"retry\": {\"strategy\": \"fixedDelay\"}, \"bindings\": [{\"type\": \"HTTPTRIGGER\", "
        "\"direction\": \"IN\", \"name\": \"req\", \"authLevel\": \"Anonymous\", \"methods\": "
        "[\"get\", \"POST\"], \"route\": \"/products/{id:int}\", \"dataType\": \"Binary\", "
        "\"webHookType\": \"\", \"connection\": \"Conn\"}, {\"type\": \"http\", \"direction\": "
        "\"out\", \"name\": \"$return\"}]}");
    put(root, "hello/hello.so", "");
    CHECK_INT(app_load(root, NULL, &app, err, sizeof err), 0);
    function_t *fn = app ? app_function(app, "hello") : NULL;
    CHECK(fn != NULL);
    if (fn && fn->http) {
        CHECK_INT(fn->http->auth_level, AUTH_ANONYMOUS);
        CHECK_INT(fn->http->methods, METHOD_GET | METHOD_POST);
        CHECK_STR(fn->http->route, "products/{id:int}");
        CHECK_STR(fn->entry_point, "run");
        CHECK_INT(fn->disabled, 1);
        CHECK_STR(fn->bindings[0].data_type, "binary");
        CHECK_STR(fn->bindings[0].connection, "Conn");
        CHECK_STR(fn->bindings[0].type, "HTTPTRIGGER");
        CHECK_STR(fn->bindings[1].name, "$return");
    }
    app_free(app);
    rmapp(root);
}

TEST(http_methods_empty_means_all)
{
    char *root = mkapp(), err[512] = "";
    app_t *app = NULL;
    put(root, "host.json", HOST);
    put(root, "hello/function.json",
        "{\"scriptFile\": \"hello.so\", \"bindings\": [{\"type\": \"httpTrigger\", "
        "\"direction\": \"in\", \"name\": \"req\", \"methods\": [], \"authLevel\": \"admin\", "
        "\"route\": \"\"}]}");
    put(root, "hello/hello.so", "");
    CHECK_INT(app_load(root, NULL, &app, err, sizeof err), 0);
    function_t *fn = app ? app_function(app, "hello") : NULL;
    CHECK(fn && fn->http);
    if (fn && fn->http) {
        CHECK_INT(fn->http->methods, 0);
        CHECK_INT(fn->http->auth_level, AUTH_ADMIN);
        CHECK(fn->http->route == NULL);
    }
    app_free(app);
    rmapp(root);
}

TEST(skips_dot_and_plain_folders)
{
    char *root = mkapp(), err[512] = "";
    app_t *app = NULL;
    put(root, "host.json", HOST);
    good_fn(root, "hello");
    put(root, ".hidden/function.json", "not json");
    put(root, "lib/readme.txt", "no function here");
    put(root, "function.json", "{}");
    CHECK_INT(app_load(root, NULL, &app, err, sizeof err), 0);
    if (app) {
        CHECK_INT(app->nfunctions, 1);
        CHECK_INT(app->nerrors, 0);
    }
    app_free(app);
    rmapp(root);
}

TEST(apps_of_models_declared_in_code_are_named)
{
    static const struct {
        const char *file, *text, *says;
    } cases[] = {
        {"function_app.py", "app = None\n",
         "function_app.py declares the functions of a Python app (the v2 programming model)"},
        {"package.json", "{\"main\": \"src/functions/*.js\"}", "v4 programming model"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *root = mkapp(), err[512] = "";
        app_t *app = NULL;
        put(root, "host.json", HOST);
        put(root, cases[i].file, cases[i].text);
        CHECK_INT(app_load(root, NULL, &app, err, sizeof err), 0);
        if (app) {
            CHECK_INT(app->nfunctions, 0);
            CHECK_INT(app->nerrors, 1);
            if (app->nerrors)
                CHECK_CONTAINS(app->errors[0].message, cases[i].says);
        }
        app_free(app);
        rmapp(root);
    }
    /* A package.json beside function folders is an ordinary v3 app. */
    char *root = mkapp(), err[512] = "";
    app_t *app = NULL;
    put(root, "host.json", HOST);
    put(root, "package.json", "{\"main\": \"index.js\"}");
    good_fn(root, "hello");
    CHECK_INT(app_load(root, NULL, &app, err, sizeof err), 0);
    CHECK(app && app->nerrors == 0);
    app_free(app);
    rmapp(root);
}

/* With the matching runtime, such an app is indexed by its worker. */
TEST(apps_of_models_declared_in_code_are_indexed)
{
    static const struct {
        const char *file, *text, *settings, *lang, *source;
    } cases[] = {
        {"function_app.py", "", "{\"Values\": {\"FUNCTIONS_WORKER_RUNTIME\": \"python\"}}",
         "python", "function_app.py"},
        {"main.py", "", "{\"Values\": {\"FUNCTIONS_WORKER_RUNTIME\": \"python\", "
         "\"PYTHON_SCRIPT_FILE_NAME\": \"main.py\"}}", "python", "main.py"},
        {"package.json", "{\"main\": \"src/functions/*.js\"}",
         "{\"Values\": {\"FUNCTIONS_WORKER_RUNTIME\": \"node\"}}", "node", "package.json"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *root = mkapp(), err[512] = "";
        app_t *app = NULL;
        put(root, "host.json", HOST);
        put(root, "local.settings.json", cases[i].settings);
        put(root, cases[i].file, cases[i].text);
        CHECK_INT(app_load(root, NULL, &app, err, sizeof err), 0);
        if (app) {
            CHECK_INT(app->nerrors, 0);
            CHECK_STR(app->index_lang ? app->index_lang : "(null)", cases[i].lang);
            CHECK_STR(app->index_source ? app->index_source : "(null)", cases[i].source);
        }
        app_free(app);
        rmapp(root);
    }
}

static app_t *indexed_app(char **root)
{
    char err[512] = "";
    app_t *app = NULL;
    *root = mkapp();
    put(*root, "host.json", HOST);
    put(*root, "local.settings.json", "{\"Values\": {\"FUNCTIONS_WORKER_RUNTIME\": \"python\"}}");
    put(*root, "function_app.py", "");
    CHECK_INT(app_load(*root, NULL, &app, err, sizeof err), 0);
    return app;
}

TEST(indexed_functions_are_validated_like_function_json)
{
    char *root;
    app_t *app = indexed_app(&root);
    if (!app)
        return;
    static const char doc[] =
        "{\"functions\": ["
        "{\"name\": \"hello\", \"scriptFile\": \"function_app.py\", \"entryPoint\": \"hello\", "
        " \"bindings\": [{\"type\": \"httpTrigger\", \"direction\": \"in\", \"name\": \"req\", "
        "  \"route\": \"hi/{name?}\", \"methods\": [\"get\"]}, " OUTPUT "]},"
        "{\"name\": \"tick\", \"scriptFile\": \"function_app.py\", \"bindings\": "
        " [{\"type\": \"timerTrigger\", \"direction\": \"in\", \"name\": \"t\"}]},"
        "{\"name\": \"HELLO\", \"scriptFile\": \"function_app.py\", \"bindings\": [" TRIGGER "]},"
        "{\"name\": \"gone\", \"scriptFile\": \"nope.py\", \"bindings\": [" TRIGGER "]},"
        "{\"name\": \"bad name!\", \"bindings\": [" TRIGGER "]},"
        "{\"scriptFile\": \"function_app.py\"}],"
        "\"errors\": [{\"function\": null, \"error\": \"function_app.py, line 7: NameError\"},"
        "             {\"function\": \"late\", \"error\": \"ValueError: no\"},"
        "             {\"function\": \"f2\", \"error\": \"function_app.py, line 9: E\"}]}";
    CHECK_INT(app_add_indexed(app, doc, sizeof doc - 1, NULL), 0);
    CHECK_INT(app->nfunctions, 1);
    const function_t *fn = app_function(app, "hello");
    CHECK(fn != NULL);
    if (fn) {
        CHECK(fn->indexed);
        CHECK_STR(fn->entry_point, "hello");
        CHECK_CONTAINS(fn->script_file, "/function_app.py");
        CHECK_STR(fn->dir, app->root);
        CHECK_STR(fn->label, "function_app.py: function 'hello'");
        CHECK_CONTAINS(fn->config_text, "\"route\":\"hi/{name?}\"");
        CHECK(fn->http != NULL);
    }
    CHECK_INT(app->nerrors, 8);
    static const char *const says[] = {
        "function_app.py, line 7: NameError",
        "function_app.py: function 'late': ValueError: no",
        "function 'f2': function_app.py, line 9: E",
        "function_app.py: function 'tick': binding 't' (timerTrigger): field 'schedule'",
        "function_app.py: function 'HELLO': function name 'HELLO' is used twice",
        "function_app.py: function 'gone': field 'scriptFile': 'nope.py' not found",
        "function_app.py: function 'bad name!': invalid function name",
        "function 6 of the worker's list has no name",
    };
    for (size_t i = 0; i < app->nerrors && i < 8; i++)
        CHECK_CONTAINS(app->errors[i].message, says[i]);
    if (app->nerrors > 2)
        CHECK(strncmp(app->errors[2].message, "function 'f2'", 13) == 0);
    app_free(app);
    rmapp(root);
}

TEST(indexed_list_that_is_not_a_document_is_an_error)
{
    static const char *const docs[] = {"", "[1]", "{\"functions\": {}}", "{\"functions\": [], "
                                       "\"errors\": 3}", "{\"functions\": [] "};
    for (size_t i = 0; i < sizeof docs / sizeof *docs; i++) {
        char *root;
        app_t *app = indexed_app(&root);
        if (!app)
            continue;
        CHECK_INT(app_add_indexed(app, docs[i], strlen(docs[i]), NULL), -1);
        CHECK_INT(app->nfunctions, 0);
        CHECK_INT(app->nerrors, 1);
        if (app->nerrors)
            CHECK_CONTAINS(app->errors[0].message, "function_app.py: the python worker's list "
                                                   "of functions is not valid");
        app_free(app);
        rmapp(root);
    }
}

TEST(indexed_functions_follow_the_functions_filter)
{
    char *root = mkapp(), err[512] = "";
    app_t *app = NULL;
    put(root, "host.json", "{\"version\": \"2.0\", \"functions\": [\"b\", \"zz\"]}");
    put(root, "local.settings.json", "{\"Values\": {\"FUNCTIONS_WORKER_RUNTIME\": \"python\"}}");
    put(root, "function_app.py", "");
    CHECK_INT(app_load(root, NULL, &app, err, sizeof err), 0);
    if (app) {
        static const char doc[] =
            "{\"functions\": [{\"name\": \"a\", \"scriptFile\": \"function_app.py\", "
            "\"bindings\": [" TRIGGER "]}, {\"name\": \"B\", \"scriptFile\": "
            "\"function_app.py\", \"bindings\": [" TRIGGER "]}]}";
        CHECK_INT(app_add_indexed(app, doc, sizeof doc - 1, NULL), 0);
        CHECK_INT(app->nfunctions, 1);
        CHECK(app_function(app, "b") != NULL);
        CHECK_INT(app->nerrors, 1);
        if (app->nerrors)
            CHECK_CONTAINS(app->errors[0].message, "function 'zz' is listed in host.json "
                                                   "\"functions\" but function_app.py declares "
                                                   "no function of that name");
    }
    app_free(app);
    /* The caller's list (stratus start --functions) is named as such. */
    static const char *const only[] = {"nope"};
    app_load_opts_t opts = {only, 1, 0};
    app = NULL;
    CHECK_INT(app_load(root, &opts, &app, err, sizeof err), 0);
    if (app) {
        static const char doc[] = "{\"functions\": []}";
        CHECK_INT(app_add_indexed(app, doc, sizeof doc - 1, NULL), 0);
        CHECK_INT(app->nerrors, 1);
        if (app->nerrors)
            CHECK_CONTAINS(app->errors[0].message, "function 'nope' is listed in the functions "
                                                   "to load but function_app.py declares");
    }
    app_free(app);
    rmapp(root);
}

/* ---- host.json ---- */

TEST(host_json_missing)
{
    const char *err = app_fails(NULL, NULL);
    CHECK_CONTAINS(err, "host.json");
    CHECK_CONTAINS(err, "not found");
}

TEST(host_json_bad_json_line_col)
{
    const char *err = app_fails("{\n  \"version\": \"2.0\",\n  x\n}", NULL);
    CHECK_CONTAINS(err, "host.json:3:");
    CHECK(strncmp(err, "host.json:3:", 12) == 0);
}

TEST(comments_and_trailing_commas_as_json_net_reads_them)
{
    char *root = NULL;
    app_t *app = app_ok("// the host\n{\n  \"version\": \"2.0\", /* a block\n comment */\n"
                        "  \"extensions\": {\"http\": {\"routePrefix\": \"a//b\",}},\n"
                        "  \"functions\": [\"hello\",],\n}\n",
                        "{\"Values\": {\"X\": \"/* not a comment */\", // one\n},}", &root);
    if (app) {
        CHECK_STR(app->route_prefix, "a//b");
        CHECK_STR(app_setting(app, "X"), "/* not a comment */");
        CHECK_INT(app->nfunctions, 1);
    }
    app_free(app);
    if (root)
        rmapp(root);
    /* Errors keep their line and column; an unterminated comment is one. */
    const char *err = app_fails("{\n  /* c */ \"version\": \"2.0\",\n  x\n}", NULL);
    CHECK(strncmp(err, "host.json:3:", 12) == 0);
    err = app_fails("{\"version\": \"2.0\" /* open", NULL);
    CHECK_CONTAINS(err, "host.json:1:");
    /* Only one trailing comma is forgiven, not an empty member. */
    err = app_fails("{\"version\": \"2.0\",,}", NULL);
    CHECK_CONTAINS(err, "host.json:1:");
}

/* A UTF-8 byte order mark before the JSON of any of the app's files (Visual
 * Studio and Notepad on Windows write one) is read past, as Azure does. */
TEST(byte_order_mark_as_json_net_reads_it)
{
#define BOM "\xEF\xBB\xBF"
    char *root = NULL;
    app_t *app = app_ok(BOM "{\"version\": \"2.0\",\n \"extensions\": {\"http\": "
                        "{\"routePrefix\": \"x\"}}}",
                        BOM "{\"Values\": {\"A\": \"1\"}}", &root);
    if (app) {
        CHECK_STR(app->route_prefix, "x");
        CHECK_STR(app_setting(app, "A"), "1");
    }
    app_free(app);
    if (root) {
        /* function.json too, and a package.json of the v4 model is still
         * recognised through its mark. */
        char err[512] = "";
        put(root, "hello/function.json", BOM "{\"scriptFile\": \"hello.so\", " BINDINGS "}");
        app = NULL;
        CHECK_INT(app_load(root, NULL, &app, err, sizeof err), 0);
        CHECK(app && app->nfunctions == 1 && app->nerrors == 0);
        app_free(app);
        rmapp(root);
    }
    root = mkapp();
    char err[512] = "";
    put(root, "host.json", HOST);
    put(root, "package.json", BOM "{\"main\": \"src/index.js\"}");
    app = NULL;
    CHECK_INT(app_load(root, NULL, &app, err, sizeof err), 0);
    CHECK(app && app->nerrors == 1);
    if (app && app->nerrors)
        CHECK_CONTAINS(app->errors[0].message, "v4 programming model");
    app_free(app);
    rmapp(root);
    /* Only at the very start: a mark after the first byte is an error with
     * its place. */
    const char *e = app_fails("{\"version\": " BOM "\"2.0\"}", NULL);
    CHECK_CONTAINS(e, "host.json:1:");
#undef BOM
}

TEST(host_json_duplicate_key)
{
    const char *err = app_fails("{\"version\": \"2.0\", \"version\": \"2.0\"}", NULL);
    CHECK_CONTAINS(err, "host.json:1:");
    CHECK_CONTAINS(err, "duplicate");
}

TEST(host_json_not_object)
{
    CHECK_CONTAINS(app_fails("[1]", NULL), "host.json: expected a JSON object, got an array");
}

TEST(host_json_version_missing)
{
    CHECK_STR(app_fails("{}", NULL),
              "host.json: field 'version': expected \"2.0\", got nothing");
}

TEST(host_json_version_wrong)
{
    CHECK_STR(app_fails("{\"version\": \"1.0\"}", NULL),
              "host.json: field 'version': expected \"2.0\", got '1.0'");
    CHECK_CONTAINS(app_fails("{\"version\": 2}", NULL), "got 2");
}

TEST(host_function_timeout)
{
    app_t *app = app_ok("{\"version\": \"2.0\", \"functionTimeout\": \"00:05:00\"}", NULL, NULL);
    CHECK(app && app->function_timeout_ms == 300000);
    app_free(app);
    app = app_ok("{\"version\": \"2.0\", \"functionTimeout\": \"-1\"}", NULL, NULL);
    CHECK(app && app->function_timeout_ms == -1);
    app_free(app);
    app = app_ok("{\"version\": \"2.0\", \"FUNCTIONTIMEOUT\": -1}", NULL, NULL);
    CHECK(app && app->function_timeout_ms == -1);
    app_free(app);

    const char *err = app_fails("{\"version\": \"2.0\", \"functionTimeout\": \"5 minutes\"}", NULL);
    CHECK_CONTAINS(err, "host.json: field 'functionTimeout'");
    CHECK_CONTAINS(err, "got '5 minutes'");
    CHECK_CONTAINS(app_fails("{\"version\": \"2.0\", \"functionTimeout\": 300}", NULL), "got 300");
    CHECK_CONTAINS(app_fails("{\"version\": \"2.0\", \"functionTimeout\": \"00:00:00\"}", NULL),
                   "functionTimeout");
}

TEST(host_route_prefix)
{
    app_t *app = app_ok("{\"version\": \"2.0\", \"extensions\": {\"http\": {\"routePrefix\": "
                        "\"\"}}}", NULL, NULL);
    CHECK(app && strcmp(app->route_prefix, "") == 0);
    app_free(app);
    app = app_ok("{\"version\": \"2.0\", \"extensions\": {\"http\": {\"routePrefix\": "
                 "\"/v1/x/\"}}}", NULL, NULL);
    CHECK(app && strcmp(app->route_prefix, "v1/x") == 0);
    app_free(app);
    CHECK_STR(app_fails("{\"version\": \"2.0\", \"extensions\": {\"http\": {\"routePrefix\": 3}}}",
                        NULL),
              "host.json: field 'extensions.http.routePrefix': expected a string, got 3");
    CHECK_STR(app_fails("{\"version\": \"2.0\", \"extensions\": 1}", NULL),
              "host.json: field 'extensions': expected an object, got 1");
}

TEST(host_http_limits)
{
    app_t *app = app_ok(
        "{\"version\": \"2.0\", \"extensions\": {\"http\": {\"maxConcurrentRequests\": 8, "
        "\"maxOutstandingRequests\": \"20\"}}, \"stratus\": {\"http\": {\"maxRequestBodySize\": "
        "1024, \"headerTimeout\": \"00:00:05\", \"keepAliveTimeout\": \"00:00:07.5\", "
        "\"maxConnections\": 12}, \"native\": {\"inProcess\": false}, \"scale\": {}}}",
        NULL, NULL);
    if (app) {
        CHECK_INT(app->max_concurrent_requests, 8);
        CHECK_INT(app->max_outstanding_requests, 20);
        CHECK_INT(app->max_request_body, 1024);
        CHECK_INT(app->header_timeout_ms, 5000);
        CHECK_INT(app->keepalive_timeout_ms, 7500);
        CHECK_INT(app->max_connections, 12);
        CHECK_INT(app->in_process, 0);
    }
    app_free(app);
}

TEST(host_bad_settings)
{
    CHECK_CONTAINS(app_fails("{\"version\": \"2.0\", \"stratus\": {\"http\": "
                             "{\"maxRequestBodySize\": 0}}}", NULL),
                   "host.json: field 'stratus.http.maxRequestBodySize': expected an integer >= 1");
    CHECK_CONTAINS(app_fails("{\"version\": \"2.0\", \"stratus\": {\"http\": "
                             "{\"headerTimeout\": \"-1\"}}}", NULL),
                   "field 'stratus.http.headerTimeout'");
    CHECK_CONTAINS(app_fails("{\"version\": \"2.0\", \"stratus\": {\"native\": "
                             "{\"inProcess\": \"yes\"}}}", NULL),
                   "field 'stratus.native.inProcess': expected true or false, got 'yes'");
    CHECK_CONTAINS(app_fails("{\"version\": \"2.0\", \"logging\": {\"logLevel\": "
                             "{\"Function\": \"Loud\"}}}", NULL),
                   "field 'logging.logLevel.Function': expected Trace, Debug, Information, "
                   "Warning, Error, Critical or None, got 'Loud'");
    CHECK_CONTAINS(app_fails("{\"version\": \"2.0\", \"stratus\": {\"scale\": "
                             "{\"prewarm\": 17}}}", NULL),
                   "field 'stratus.scale.prewarm': expected true, false or a count from 0 to 16");
    CHECK_CONTAINS(app_fails("{\"version\": \"2.0\", \"stratus\": {\"scale\": "
                             "{\"prewarm\": \"some\"}}}", NULL),
                   "field 'stratus.scale.prewarm'");
    CHECK_CONTAINS(app_fails("{\"version\": \"2.0\", \"extensions\": {\"http\": "
                             "{\"maxConcurrentRequests\": 0}}}", NULL),
                   "field 'extensions.http.maxConcurrentRequests'");
    CHECK_CONTAINS(app_fails("{\"version\": \"2.0\", \"stratus\": []}", NULL),
                   "field 'stratus': expected an object, got an array");
}

TEST(host_functions_list_bad)
{
    CHECK_STR(app_fails("{\"version\": \"2.0\", \"functions\": [\"a\", 1]}", NULL),
              "host.json: field 'functions[1]': expected a function name (a string), got 1");
    CHECK_CONTAINS(app_fails("{\"version\": \"2.0\", \"functions\": \"a\"}", NULL),
                   "field 'functions'");
}

/* ---- the functions filter ---- */

TEST(functions_filter_from_host_json)
{
    char *root = mkapp(), err[512] = "";
    app_t *app = NULL;
    put(root, "host.json", "{\"version\": \"2.0\", \"functions\": [\"Hello\", \"missing\"]}");
    good_fn(root, "hello");
    good_fn(root, "world");
    put(root, "broken/function.json", "{");
    CHECK_INT(app_load(root, NULL, &app, err, sizeof err), 0);
    if (app) {
        CHECK_INT(app->nfunctions, 1);
        CHECK(app_function(app, "hello") != NULL);
        CHECK_INT(app->nfunctions_filter, 2);
        CHECK_INT(app->nerrors, 1); /* "broken" is not validated at all */
        CHECK_CONTAINS(error_for(app, NULL), "'missing'");
        CHECK_CONTAINS(error_for(app, NULL), "host.json \"functions\"");
    }
    app_free(app);
    rmapp(root);
}

TEST(functions_filter_from_opts)
{
    char *root = mkapp(), err[512] = "";
    app_t *app = NULL;
    const char *names[] = {"WORLD"};
    app_load_opts_t opts = {.functions = names, .nfunctions = 1};
    put(root, "host.json", "{\"version\": \"2.0\", \"functions\": [\"hello\"]}");
    good_fn(root, "hello");
    good_fn(root, "world");
    CHECK_INT(app_load(root, &opts, &app, err, sizeof err), 0);
    if (app) {
        CHECK_INT(app->nfunctions, 1);
        CHECK(app_function(app, "world") != NULL);
        CHECK_INT(app->nerrors, 0);
        CHECK_INT(app->nfunctions_filter, 1);
        CHECK_STR(app->functions_filter[0], "WORLD");
    }
    app_free(app);
    rmapp(root);
}

/* ---- overrides ---- */

TEST(override_from_environment)
{
    setenv("AzureFunctionsJobHost__extensions__http__routePrefix", "v2", 1);
    setenv("AzureFunctionsJobHost__functionTimeout", "00:01:00", 1);
    setenv("azurefunctionsjobhost__stratus__http__maxConnections", "77", 1);
    setenv("AzureFunctionsJobHost__bad____path", "x", 1);
    app_t *app = app_ok(HOST, NULL, NULL);
    unsetenv("AzureFunctionsJobHost__extensions__http__routePrefix");
    unsetenv("AzureFunctionsJobHost__functionTimeout");
    unsetenv("azurefunctionsjobhost__stratus__http__maxConnections");
    unsetenv("AzureFunctionsJobHost__bad____path");
    if (app) {
        CHECK_STR(app->route_prefix, "v2");
        CHECK_INT(app->function_timeout_ms, 60000);
        CHECK_INT(app->max_connections, 77);
        json_t *mc = json_object_get(json_object_get(json_object_get(app->host_json, "stratus"),
                                                     "http"), "maxConnections");
        CHECK(json_is_integer(mc));
    }
    app_free(app);
}

TEST(override_matches_keys_case_insensitively)
{
    setenv("AzureFunctionsJobHost__extensions__http__routeprefix", "lower", 1);
    setenv("AzureFunctionsJobHost__functionTimeout", "-1", 1);
    app_t *app = app_ok("{\"version\": \"2.0\", \"Extensions\": {\"HTTP\": {\"RoutePrefix\": "
                        "\"x\"}}, \"functionTimeout\": \"00:00:10\"}", NULL, NULL);
    unsetenv("AzureFunctionsJobHost__extensions__http__routeprefix");
    unsetenv("AzureFunctionsJobHost__functionTimeout");
    if (app) {
        CHECK_STR(app->route_prefix, "lower");
        CHECK_INT(app->function_timeout_ms, -1);
        json_t *http = json_object_get(json_object_get(app->host_json, "Extensions"), "HTTP");
        CHECK_INT(json_object_size(http), 1);
        CHECK(json_is_integer(json_object_get(app->host_json, "functionTimeout")));
    }
    app_free(app);
}

TEST(override_from_values_and_env_wins)
{
    const char *local =
        "{\"IsEncrypted\": false, \"Values\": {"
        "\"AzureFunctionsJobHost__extensions__http__routePrefix\": \"fromvalues\", "
        "\"AzureFunctionsJobHost__functionTimeout\": \"00:02:00\", "
        "\"AzureFunctionsJobHost__stratus__native__inProcess\": \"False\", "
        "\"AzureFunctionsJobHost__functions__0\": \"hello\"}}";
    app_t *app = app_ok(HOST, local, NULL);
    if (app) {
        CHECK_STR(app->route_prefix, "fromvalues");
        CHECK_INT(app->function_timeout_ms, 120000);
        CHECK_INT(app->in_process, 0);
        CHECK_INT(app->nfunctions_filter, 1);
        CHECK(json_is_false(json_object_get(
            json_object_get(json_object_get(app->host_json, "stratus"), "native"), "inProcess")));
    }
    app_free(app);

    setenv("AzureFunctionsJobHost__extensions__http__routePrefix", "fromenv", 1);
    app = app_ok(HOST, local, NULL);
    unsetenv("AzureFunctionsJobHost__extensions__http__routePrefix");
    CHECK(app && strcmp(app->route_prefix, "fromenv") == 0);
    app_free(app);
}

TEST(override_bad_value_fails_app)
{
    setenv("AzureFunctionsJobHost__functionTimeout", "soon", 1);
    const char *err = app_fails(HOST, NULL);
    unsetenv("AzureFunctionsJobHost__functionTimeout");
    CHECK_CONTAINS(err, "host.json: field 'functionTimeout'");
    CHECK_CONTAINS(err, "'soon'");
}

/* ---- local.settings.json ---- */

TEST(local_settings_values_and_host)
{
    char *root = NULL;
    setenv("STRATUS_TEST_B", "from-env", 1);
    app_t *app = app_ok(HOST,
                        "{\"Values\": {\"FUNCTIONS_WORKER_RUNTIME\": \"native\", "
                        "\"STRATUS_TEST_A\": \"a\", \"STRATUS_TEST_B\": \"b\"}, "
                        "\"ConnectionStrings\": {}, \"Host\": {\"LocalHttpPort\": 7072, "
                        "\"CORS\": \"*\", \"CORSCredentials\": false}}",
                        &root);
    if (app) {
        CHECK_INT(app->nsettings, 3);
        CHECK_STR(app->settings[0].name, "FUNCTIONS_WORKER_RUNTIME");
        CHECK_STR(app->settings[2].name, "STRATUS_TEST_B");
        CHECK_STR(app->worker_runtime, "native");
        CHECK_INT(app->local_http_port, 7072);
        CHECK_STR(app->cors, "*");
        CHECK_STR(app_setting(app, "STRATUS_TEST_A"), "a");
        CHECK_STR(app_setting(app, "STRATUS_TEST_B"), "from-env");
        CHECK(app_setting(app, "STRATUS_TEST_NONE") == NULL);
        CHECK_INT(app->nfunctions, 1);

        unsetenv("STRATUS_TEST_A");
        app_export_settings(app);
        CHECK_STR(getenv("STRATUS_TEST_A"), "a");
        CHECK_STR(getenv("STRATUS_TEST_B"), "from-env");
        unsetenv("STRATUS_TEST_A");
        unsetenv("FUNCTIONS_WORKER_RUNTIME");
    }
    unsetenv("STRATUS_TEST_B");
    app_free(app);
    if (root)
        rmapp(root);
}

TEST(local_settings_name_that_cannot_be_a_variable)
{
    char *root = NULL;
    app_t *app = app_ok(HOST, "{\"Values\": {\"A=B\": \"1\", \"C\": \"2\"}}", &root);
    if (app) {
        CHECK(app_setting(app, "A=B") == NULL);
        CHECK_STR(app_setting(app, "C"), "2");
        CHECK_INT(app->nerrors, 1);
        if (app->nerrors)
            CHECK_CONTAINS(app->errors[0].message, "'Values.A=B' is left out");
    }
    app_free(app);
    if (root)
        rmapp(root);
}

TEST(local_settings_connection_strings_are_settings_of_their_own)
{
    char *root = NULL;
    app_t *app = app_ok(HOST,
                        "{\"ConnectionStrings\": {\"Db\": \"Server=a\", "
                        "\"Old\": {\"ConnectionString\": \"Server=b\", \"ProviderName\": \"x\"}, "
                        "\"Bad\": 5, \"Gone\": null}}",
                        &root);
    if (app) {
        CHECK_STR(app_setting(app, "ConnectionStrings:Db"), "Server=a");
        CHECK_STR(app_setting(app, "ConnectionStrings:Old"), "Server=b");
        CHECK(app_setting(app, "ConnectionStrings:Bad") == NULL);
        CHECK(app_setting(app, "ConnectionStrings:Gone") == NULL);
        CHECK_INT(app->nerrors, 1);
        if (app->nerrors)
            CHECK_CONTAINS(app->errors[0].message, "'ConnectionStrings.Bad' is left out");
    }
    app_free(app);
    if (root)
        rmapp(root);
}

TEST(local_settings_numbers_and_booleans_are_their_text)
{
    char *root = NULL;
    app_t *app = app_ok(HOST,
                        "{\"Values\": {\"PORT\": 80, \"RATIO\": 0.25, \"NEG\": -3, "
                        "\"ON\": true, \"OFF\": false, \"UNSET\": null, \"S\": \"s\"}}",
                        &root);
    if (app) {
        CHECK_STR(app_setting(app, "PORT"), "80");
        CHECK_STR(app_setting(app, "RATIO"), "0.25");
        CHECK_STR(app_setting(app, "NEG"), "-3");
        CHECK_STR(app_setting(app, "ON"), "true");
        CHECK_STR(app_setting(app, "OFF"), "false");
        CHECK(app_setting(app, "UNSET") == NULL);
        CHECK_STR(app_setting(app, "S"), "s");
        CHECK_INT(app->nsettings, 6);
    }
    app_free(app);
    if (root)
        rmapp(root);
}

TEST(local_settings_bad_json)
{
    const char *err = app_fails(HOST, "{\n\"Values\": {,}}");
    CHECK(strncmp(err, "local.settings.json:2:", 22) == 0);
}

TEST(local_settings_bad_values)
{
    CHECK_STR(app_fails(HOST, "{\"Values\": {\"PORT\": {\"n\": 80}}}"),
              "local.settings.json: field 'Values.PORT': expected a string (or a number or "
              "boolean, taken as its text), got an object");
    CHECK_CONTAINS(app_fails(HOST, "{\"Values\": {\"LIST\": [1]}}"),
                   "field 'Values.LIST': expected a string");
    CHECK_CONTAINS(app_fails(HOST, "{\"Values\": [\"x\"]}"), "field 'Values'");
    CHECK_CONTAINS(app_fails(HOST, "{\"Host\": {\"LocalHttpPort\": 70000}}"),
                   "field 'Host.LocalHttpPort': expected a port number 1-65535, got 70000");
    CHECK_CONTAINS(app_fails(HOST, "{\"Host\": {\"CORS\": true}}"), "field 'Host.CORS'");
    CHECK_CONTAINS(app_fails(HOST, "{\"IsEncrypted\": true}"), "IsEncrypted");
}

/* stratus.scale.maxInstances of an app made of host and local settings; -1
 * when it does not load. */
static long long max_instances_of(const char *host, const char *local)
{
    char *root = NULL;
    app_t *app = app_ok(host, local, &root);
    long long n = app ? (long long)app->scale_max_instances : -1;
    app_free(app);
    if (root)
        rmapp(root);
    return n;
}

TEST(functions_worker_process_count)
{
    CHECK_INT(max_instances_of(HOST, "{\"Values\": {\"FUNCTIONS_WORKER_RUNTIME\": \"node\", "
                                     "\"FUNCTIONS_WORKER_PROCESS_COUNT\": \"3\"}}"), 3);
    /* host.json's maxInstances wins */
    CHECK_INT(max_instances_of("{\"version\": \"2.0\", \"stratus\": {\"scale\": "
                               "{\"maxInstances\": 1}}}",
                               "{\"Values\": {\"FUNCTIONS_WORKER_RUNTIME\": \"python\", "
                               "\"FUNCTIONS_WORKER_PROCESS_COUNT\": \"3\"}}"), 1);
    /* only language workers read it */
    CHECK_INT(max_instances_of(HOST, "{\"Values\": {\"FUNCTIONS_WORKER_PROCESS_COUNT\": "
                                     "\"99\"}}"), APP_DEFAULT_MAX_INSTANCES);
    unsetenv("FUNCTIONS_WORKER_RUNTIME");
    CHECK_CONTAINS(app_fails(HOST, "{\"Values\": {\"FUNCTIONS_WORKER_RUNTIME\": \"node\", "
                                   "\"FUNCTIONS_WORKER_PROCESS_COUNT\": \"11\"}}"),
                   "app setting FUNCTIONS_WORKER_PROCESS_COUNT: expected a whole number from 1 to "
                   "10, got '11'");
    CHECK_CONTAINS(app_fails("{\"version\": \"2.0\", \"stratus\": {\"scale\": "
                             "{\"minInstances\": 3}}}",
                             "{\"Values\": {\"FUNCTIONS_WORKER_RUNTIME\": \"node\", "
                             "\"FUNCTIONS_WORKER_PROCESS_COUNT\": \"2\"}}"),
                   "'stratus.scale.minInstances' (3) is larger than the app setting "
                   "FUNCTIONS_WORKER_PROCESS_COUNT (2)");
}

/* ---- function folders and function.json ---- */

TEST(function_bad_name)
{
    char *root = mkapp(), err[512] = "";
    app_t *app = NULL;
    put(root, "host.json", HOST);
    good_fn(root, "1bad");
    good_fn(root, "host");
    good_fn(root, "ok_name-2");
    CHECK_INT(app_load(root, NULL, &app, err, sizeof err), 0);
    if (app) {
        CHECK_INT(app->nfunctions, 1);
        CHECK(app_function(app, "ok_name-2") != NULL);
        CHECK_INT(app->nerrors, 2);
        CHECK_CONTAINS(error_for(app, "1bad"), "1bad/function.json: invalid function name '1bad'");
        CHECK_CONTAINS(error_for(app, "1bad"), "starts with a letter");
        CHECK_CONTAINS(error_for(app, "host"), "is not 'host'");
    }
    app_free(app);
    rmapp(root);
}

TEST(function_names_differing_in_case)
{
    char *root = mkapp(), err[512] = "";
    app_t *app = NULL;
    put(root, "host.json", HOST);
    good_fn(root, "Hello");
    good_fn(root, "hello");
    CHECK_INT(app_load(root, NULL, &app, err, sizeof err), 0);
    if (app) {
        CHECK_INT(app->nfunctions, 1);
        CHECK_INT(app->nerrors, 1);
        CHECK_CONTAINS(error_for(app, "hello"), "hello/function.json: function name 'hello' is "
                                                "used twice");
    }
    app_free(app);
    rmapp(root);
}

TEST(function_bad_json)
{
    char *m = hello_error("{\n  \"bindings\": [\n    {\"type\": }\n  ]\n}", NULL);
    CHECK(m && strncmp(m, "hello/function.json:3:", 22) == 0);
    free(m);
    m = hello_error("", NULL);
    CHECK_CONTAINS(m, "hello/function.json:");
    free(m);
}

TEST(function_not_object)
{
    char *m = hello_error("[]", NULL);
    CHECK_STR(m, "hello/function.json: expected a JSON object, got an array");
    free(m);
}

TEST(function_no_bindings)
{
    char *m = hello_error("{\"scriptFile\": \"hello.so\"}", NULL);
    CHECK_STR(m, "hello/function.json: At least one binding must be declared.");
    free(m);
    m = hello_error("{\"scriptFile\": \"hello.so\", \"bindings\": []}", NULL);
    CHECK_STR(m, "hello/function.json: At least one binding must be declared.");
    free(m);
    m = hello_error("{\"scriptFile\": \"hello.so\", \"bindings\": {}}", NULL);
    CHECK_CONTAINS(m, "field 'bindings'");
    free(m);
}

TEST(binding_not_object)
{
    char *m = hello_error("{\"scriptFile\": \"hello.so\", \"bindings\": [" TRIGGER ", 5]}", NULL);
    CHECK_STR(m, "hello/function.json: binding #2: expected an object, got 5");
    free(m);
}

TEST(binding_name_bad)
{
    char *m = hello_error("{\"scriptFile\": \"hello.so\", \"bindings\": [{\"type\": "
                          "\"httpTrigger\", \"direction\": \"in\"}]}", NULL);
    CHECK_STR(m, "hello/function.json: binding #1: field 'name' is required");
    free(m);
    m = hello_error("{\"scriptFile\": \"hello.so\", \"bindings\": [{\"type\": "
                    "\"httpTrigger\", \"direction\": \"in\", \"name\": \"my-req\"}]}", NULL);
    CHECK_CONTAINS(m, "hello/function.json: binding #1: field 'name': expected");
    CHECK_CONTAINS(m, "got 'my-req'");
    free(m);
}

TEST(binding_type_bad)
{
    char *m = hello_error("{\"scriptFile\": \"hello.so\", \"bindings\": [{\"name\": \"req\", "
                          "\"direction\": \"in\"}]}", NULL);
    CHECK_STR(m, "hello/function.json: binding 'req': field 'type' is required");
    free(m);
    m = hello_error("{\"scriptFile\": \"hello.so\", \"bindings\": [{\"name\": \"msg\", "
                    "\"type\": \"noSuchKindTrigger\", \"direction\": \"in\"}]}", NULL);
    CHECK(strncmp(m, "hello/function.json: binding 'msg' (noSuchKindTrigger): unknown binding "
                  "type 'noSuchKindTrigger' (known: httpTrigger, http, ", 124) == 0);
    free(m);
}

TEST(binding_direction_bad)
{
    char *m = hello_error("{\"scriptFile\": \"hello.so\", \"bindings\": [{\"name\": \"req\", "
                          "\"type\": \"httpTrigger\"}]}", NULL);
    CHECK_CONTAINS(m, "binding 'req' (httpTrigger): field 'direction' is required");
    free(m);
    m = hello_error("{\"scriptFile\": \"hello.so\", \"bindings\": [{\"name\": \"req\", "
                    "\"type\": \"httpTrigger\", \"direction\": \"sideways\"}]}", NULL);
    CHECK_STR(m, "hello/function.json: binding 'req' (httpTrigger): field 'direction': "
                 "expected in, out or inout, got 'sideways'");
    free(m);
}

TEST(trigger_direction_must_be_in)
{
    char *m = hello_error("{\"scriptFile\": \"hello.so\", \"bindings\": [{\"name\": \"req\", "
                          "\"type\": \"httpTrigger\", \"direction\": \"out\"}]}", NULL);
    CHECK_CONTAINS(m, "binding 'req' (httpTrigger): field 'direction': a trigger's direction "
                      "must be in, got 'out'");
    free(m);
}

TEST(kind_direction_not_allowed)
{
    char *m = hello_error("{\"scriptFile\": \"hello.so\", \"bindings\": [" TRIGGER ", {\"name\": "
                          "\"res\", \"type\": \"http\", \"direction\": \"in\"}]}", NULL);
    CHECK_CONTAINS(m, "binding 'res' (http): field 'direction': http bindings must be out, "
                      "got 'in'");
    free(m);
}

TEST(trigger_count)
{
    char *m = hello_error("{\"scriptFile\": \"hello.so\", \"bindings\": [" OUTPUT "]}", NULL);
    CHECK_CONTAINS(m, "hello/function.json: no trigger");
    free(m);
    m = hello_error("{\"scriptFile\": \"hello.so\", \"bindings\": [" TRIGGER ", {\"name\": "
                    "\"req2\", \"type\": \"httpTrigger\", \"direction\": \"in\"}]}", NULL);
    CHECK_CONTAINS(m, "only one trigger is allowed, found 'req' (httpTrigger) and 'req2' "
                      "(httpTrigger)");
    free(m);
}

TEST(binding_duplicate_names)
{
    char *m = hello_error("{\"scriptFile\": \"hello.so\", \"bindings\": [" TRIGGER ", {\"name\": "
                          "\"REQ\", \"type\": \"http\", \"direction\": \"out\"}]}", NULL);
    CHECK_CONTAINS(m, "binding 'REQ': the name is used twice");
    CHECK_CONTAINS(m, "also 'req'");
    free(m);
}

TEST(binding_data_type_and_cardinality)
{
    char *m = hello_error("{\"scriptFile\": \"hello.so\", \"bindings\": [{\"name\": \"req\", "
                          "\"type\": \"httpTrigger\", \"direction\": \"in\", \"dataType\": "
                          "\"json\"}]}", NULL);
    CHECK_STR(m, "hello/function.json: binding 'req' (httpTrigger): field 'dataType': expected "
                 "string, binary or stream, got 'json'");
    free(m);
    m = hello_error("{\"scriptFile\": \"hello.so\", \"bindings\": [{\"name\": \"req\", "
                    "\"type\": \"httpTrigger\", \"direction\": \"in\", \"cardinality\": 2}]}",
                    NULL);
    CHECK_CONTAINS(m, "field 'cardinality': expected one or many, got 2");
    free(m);
    m = hello_error("{\"scriptFile\": \"hello.so\", \"bindings\": [{\"name\": \"req\", "
                    "\"type\": \"httpTrigger\", \"direction\": \"in\", \"connection\": 2}]}",
                    NULL);
    CHECK_CONTAINS(m, "field 'connection'");
    free(m);
}

TEST(http_auth_level_bad)
{
    char *m = hello_error("{\"scriptFile\": \"hello.so\", \"bindings\": [{\"name\": \"req\", "
                          "\"type\": \"httpTrigger\", \"direction\": \"in\", \"authLevel\": "
                          "\"foo\"}]}", NULL);
    CHECK_STR(m, "hello/function.json: binding 'req' (httpTrigger): field 'authLevel': "
                 "expected anonymous, function or admin, got 'foo'");
    free(m);
}

TEST(http_methods_and_route_bad)
{
    char *m = hello_error("{\"scriptFile\": \"hello.so\", \"bindings\": [{\"name\": \"req\", "
                          "\"type\": \"httpTrigger\", \"direction\": \"in\", \"methods\": "
                          "[\"get\", \"FETCH\"]}]}", NULL);
    CHECK_CONTAINS(m, "binding 'req' (httpTrigger): field 'methods': 'FETCH' is not an HTTP "
                      "method");
    free(m);
    m = hello_error("{\"scriptFile\": \"hello.so\", \"bindings\": [{\"name\": \"req\", "
                    "\"type\": \"httpTrigger\", \"direction\": \"in\", \"methods\": \"get\"}]}",
                    NULL);
    CHECK_CONTAINS(m, "field 'methods': expected a list of HTTP methods, got 'get'");
    free(m);
    m = hello_error("{\"scriptFile\": \"hello.so\", \"bindings\": [{\"name\": \"req\", "
                    "\"type\": \"httpTrigger\", \"direction\": \"in\", \"route\": []}]}", NULL);
    CHECK_CONTAINS(m, "field 'route': expected a string, got an array");
    free(m);
}

TEST(function_disabled_and_entry_point)
{
    char *m = hello_error(FN(", \"disabled\": 1"), NULL);
    CHECK_STR(m, "hello/function.json: field 'disabled': expected true, false or the name of an "
              "app setting, got 1");
    free(m);
    m = hello_error(FN(", \"disabled\": \"%A%B%\""), NULL);
    CHECK_CONTAINS(m, "field 'disabled': expected true, false or the name of an app setting");
    free(m);
    m = hello_error(FN(", \"entryPoint\": 1"), NULL);
    CHECK_STR(m, "hello/function.json: field 'entryPoint': expected a function name, got 1");
    free(m);
}

TEST(script_file_required_for_native)
{
    char *m = hello_error("{" BINDINGS "}", NULL);
    CHECK_CONTAINS(m, "hello/function.json: scriptFile is required for native functions");
    free(m);

    char *root = NULL;
    app_t *app = app_ok(HOST, "{\"Values\": {\"FUNCTIONS_WORKER_RUNTIME\": \"custom\"}}", &root);
    if (app) {
        put(root, "other/function.json", "{" BINDINGS "}");
        app_free(app);
        app = NULL;
        char err[512];
        CHECK_INT(app_load(root, NULL, &app, err, sizeof err), 0);
        function_t *fn = app ? app_function(app, "other") : NULL;
        CHECK(fn != NULL);
        CHECK(fn && fn->script_file == NULL);
        CHECK_STR(app ? app->worker_runtime : NULL, "custom");
    }
    app_free(app);
    if (root)
        rmapp(root);
}

TEST(script_file_missing)
{
    char *m = hello_error("{\"scriptFile\": \"gone.so\", " BINDINGS "}", NULL);
    CHECK_CONTAINS(m, "hello/function.json: field 'scriptFile': 'gone.so' not found");
    free(m);
    m = hello_error("{\"scriptFile\": 3, " BINDINGS "}", NULL);
    CHECK_CONTAINS(m, "field 'scriptFile': expected a file path");
    free(m);
    app_load_opts_t opts = {.allow_build = 1};
    m = hello_error("{\"scriptFile\": \"gone.so\", " BINDINGS "}", &opts);
    CHECK_CONTAINS(m, "no .c sources");
    free(m);
}

TEST(script_file_buildable_and_relative)
{
    char *root = mkapp(), err[512] = "", path[4096];
    app_t *app = NULL;
    app_load_opts_t opts = {.allow_build = 1};
    put(root, "host.json", HOST);
    put(root, "hello/function.json", "{\"scriptFile\": \"hello.so\", " BINDINGS "}");
    put(root, "hello/hello.c", "int hello(void *c) { return 0; }\n");
    put(root, "world/function.json", "{\"scriptFile\": \"./../shared//lib.so\", " BINDINGS "}");
    put(root, "shared/lib.so", "");
    CHECK_INT(app_load(root, &opts, &app, err, sizeof err), 0);
    if (app) {
        CHECK_INT(app->nfunctions, 2);
        CHECK_INT(app->nerrors, 0);
        function_t *w = app_function(app, "world");
        snprintf(path, sizeof path, "%s/shared/lib.so", root);
        CHECK_STR(w ? w->script_file : NULL, path);
    }
    app_free(app);
    app = NULL;
    CHECK_INT(app_load(root, NULL, &app, err, sizeof err), 0);
    if (app) {
        CHECK_INT(app->nfunctions, 1);
        CHECK_CONTAINS(error_for(app, "hello"), "'hello.so' not found");
    }
    app_free(app);
    rmapp(root);
}

TEST(too_many_bindings)
{
    char text[16384];
    size_t n = (size_t)snprintf(text, sizeof text, "{\"scriptFile\": \"hello.so\", \"bindings\": ["
                                                   TRIGGER);
    for (int i = 0; i < APP_MAX_BINDINGS; i++)
        n += (size_t)snprintf(text + n, sizeof text - n,
                              ", {\"type\": \"http\", \"direction\": \"out\", \"name\": \"o%d\"}", i);
    snprintf(text + n, sizeof text - n, "]}");
    char *m = hello_error(text, NULL);
    CHECK_CONTAINS(m, "too many bindings: 65 (at most 64)");
    free(m);
}

TEST(parse_function_json_direct)
{
    char *root = NULL, dir[4096];
    app_t *app = app_ok(HOST, NULL, &root);
    if (!app)
        return;
    snprintf(dir, sizeof dir, "%s/hello", root);
    const char *text = FN("");
    CHECK_INT(app_parse_function_json(app, "alpha", dir, text, strlen(text), NULL), 0);
    CHECK_INT(app_parse_function_json(app, "ALPHA", dir, text, strlen(text), NULL), -1);
    CHECK_INT(app_parse_function_json(app, "beta", dir, "{", 1, NULL), -1);
    CHECK_INT(app->nfunctions, 2);
    CHECK_STR(app->functions[0]->name, "alpha");
    CHECK_STR(app->functions[1]->name, "hello");
    CHECK_INT(app->nerrors, 2);
    CHECK_CONTAINS(error_for(app, "beta"), "beta/function.json:1:");

    function_t *fn = app_function(app, "alpha");
    app_add_error(app, "alpha", "alpha: %s failed", "dlopen");
    app_drop_function(app, fn);
    CHECK_INT(app->nfunctions, 1);
    CHECK(app_function(app, "alpha") == NULL);
    CHECK_STR(error_for(app, "alpha"), "alpha: dlopen failed");
    app_add_error(app, NULL, "app-level %d", 1);
    CHECK_STR(error_for(app, NULL), "app-level 1");
    app_free(app);
    rmapp(root);
}

TEST(disabled_by_app_setting)
{
    app_t *app = app_ok(HOST, "{\"Values\": {\"AzureWebJobs.hello.Disabled\": \"true\"}}", NULL);
    function_t *fn = app ? app_function(app, "hello") : NULL;
    CHECK(fn && fn->disabled == 1);
    app_free(app);

    /* the spelling without dots, for environments that refuse them, and
     * the name in any case, as Azure's configuration matches it */
    static const char *const on[] = {
        "{\"Values\": {\"AzureWebJobs_hello_Disabled\": \"true\"}}",
        "{\"Values\": {\"AZUREWEBJOBS_HELLO_DISABLED\": \"1\"}}",
        "{\"Values\": {\"azurewebjobs.Hello.disabled\": \"True\"}}",
    };
    for (size_t i = 0; i < sizeof on / sizeof on[0]; i++) {
        app = app_ok(HOST, on[i], NULL);
        fn = app ? app_function(app, "hello") : NULL;
        CHECK(fn && fn->disabled == 1);
        app_free(app);
    }
    app = app_ok(HOST, "{\"Values\": {\"AzureWebJobs_hello_Disabled\": \"false\"}}", NULL);
    fn = app ? app_function(app, "hello") : NULL;
    CHECK(fn && fn->disabled == 0);
    app_free(app);

    setenv("AzureWebJobs_hello_Disabled", "true", 1);
    app = app_ok(HOST, NULL, NULL);
    unsetenv("AzureWebJobs_hello_Disabled");
    fn = app ? app_function(app, "hello") : NULL;
    CHECK(fn && fn->disabled == 1);
    app_free(app);
}

/* function.json "disabled" naming an app setting, as Visual Studio writes it
 * for [Disable("Setting")]: the function loads, disabled when the setting
 * is true or 1. */
TEST(disabled_names_an_app_setting)
{
    static const struct {
        const char *disabled, *local;
        int expect;
    } cases[] = {
        {"\"IS_OFF\"", "{\"Values\": {\"IS_OFF\": \"true\"}}", 1},
        {"\"IS_OFF\"", "{\"Values\": {\"IS_OFF\": \"1\"}}", 1},
        {"\"%IS_OFF%\"", "{\"Values\": {\"IS_OFF\": \"true\"}}", 1},
        {"\"IS_OFF\"", "{\"Values\": {\"IS_OFF\": \"false\"}}", 0},
        {"\"IS_OFF\"", NULL, 0},
        {"\"false\"", NULL, 0},
        {"true", NULL, 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *root = mkapp(), err[512] = "", text[512];
        app_t *app = NULL;
        put(root, "host.json", HOST);
        if (cases[i].local)
            put(root, "local.settings.json", cases[i].local);
        snprintf(text, sizeof text, "{\"scriptFile\": \"hello.so\", \"disabled\": %s, " BINDINGS
                 "}", cases[i].disabled);
        put(root, "hello/function.json", text);
        put(root, "hello/hello.so", "");
        CHECK_INT(app_load(root, NULL, &app, err, sizeof err), 0);
        function_t *fn = app ? app_function(app, "hello") : NULL;
        CHECK(fn != NULL);
        if (fn && fn->disabled != cases[i].expect)
            fprintf(stderr, "case %zu: disabled %d, expected %d\n", i, fn->disabled,
                    cases[i].expect);
        CHECK(fn && fn->disabled == cases[i].expect);
        app_free(app);
        rmapp(root);
    }
}

TEST(messages_escape_control_bytes)
{
    char *root = mkapp(), err[512] = "";
    app_t *app = NULL;
    put(root, "host.json", HOST);
    good_fn(root, "bad\nname");
    CHECK_INT(app_load(root, NULL, &app, err, sizeof err), 0);
    if (app) {
        CHECK_INT(app->nerrors, 1);
        CHECK_CONTAINS(error_for(app, "bad\nname"), "bad\\x0aname/function.json: invalid");
        CHECK(strchr(error_for(app, "bad\nname"), '\n') == NULL);
    }
    app_free(app);
    rmapp(root);

    char *m = hello_error("{\"scriptFile\": \"hello.so\", \"bindings\": [{\"name\": \"req\", "
                          "\"type\": \"httpTrigger\", \"direction\": \"in\", \"methods\": "
                          "[\"G\\nET\"]}]}", NULL);
    CHECK_CONTAINS(m, "'G?ET' is not an HTTP method");
    free(m);
    m = hello_error("{\"scriptFile\": \"hello.so\", \"bindings\": [{\"name\": \"req\", "
                    "\"type\": \"httpTrigger\", \"direction\": \"\\u001b[31m\"}]}", NULL);
    CHECK_CONTAINS(m, "got '\\x1b[31m'");
    free(m);
}

TEST(override_array_index)
{
    setenv("AzureFunctionsJobHost__functions__1", "world", 1);
    app_t *app = app_ok("{\"version\": \"2.0\", \"functions\": [\"hello\", \"x\"]}", NULL, NULL);
    unsetenv("AzureFunctionsJobHost__functions__1");
    if (app) {
        CHECK_INT(app->nfunctions_filter, 2);
        CHECK_STR(app->functions_filter[1], "world");
    }
    app_free(app);
}

/* ---- TimeSpans and names ---- */

TEST(timespan_cases)
{
    int64_t ms = 0;
    CHECK_INT(timespan_parse("00:05:00", &ms), 0);
    CHECK_INT(ms, 300000);
    CHECK_INT(timespan_parse("-1", &ms), 0);
    CHECK_INT(ms, -1);
    CHECK_INT(timespan_parse("1.02:03:04", &ms), 0);
    CHECK_INT(ms, ((24 + 2) * 3600 + 3 * 60 + 4) * 1000LL);
    CHECK_INT(timespan_parse("00:00:00.5", &ms), 0);
    CHECK_INT(ms, 500);
    CHECK_INT(timespan_parse("00:00:01.2345678", &ms), 0);
    CHECK_INT(ms, 1234);
    CHECK_INT(timespan_parse("00:00:00.050", &ms), 0);
    CHECK_INT(ms, 50);
    CHECK_INT(timespan_parse("0:5:0", &ms), 0);
    CHECK_INT(ms, 300000);
    CHECK_INT(timespan_parse("01:30", &ms), 0);
    CHECK_INT(ms, 90 * 60 * 1000LL);
    CHECK_INT(timespan_parse("2:01:00:00", &ms), 0);
    CHECK_INT(ms, 49 * 3600 * 1000LL);
    CHECK_INT(timespan_parse("23:59:59", &ms), 0);

    const char *bad[] = {"", "5", "-2", "-00:00:01", "00:60:00", "00:00:60", "24:00:00",
                         "00:05:00 ", " 00:05:00", "00:05:", "1.2.03:04:05", "1.02:03:04:05",
                         "00:00:00.", "00:00:00.12345678", "00:05.5", "a:b:c", "00::00",
                         "999999999.00:00:00", "1.02:03"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (timespan_parse(bad[i], &ms) != -1) {
            fprintf(stderr, "timespan_parse accepted '%s'\n", bad[i]);
            CHECK(0);
        }
}

TEST(function_name_rules)
{
    CHECK(function_name_valid("hello"));
    CHECK(function_name_valid("Hello_World-2"));
    CHECK(function_name_valid("a"));
    char longname[130];
    memset(longname, 'a', 128);
    longname[128] = '\0';
    CHECK(function_name_valid(longname));
    longname[128] = 'a';
    longname[129] = '\0';
    CHECK(!function_name_valid(longname));
    CHECK(!function_name_valid(""));
    CHECK(!function_name_valid("host"));
    CHECK(!function_name_valid("HOST"));
    CHECK(function_name_valid("hosts"));
    CHECK(!function_name_valid("1abc"));
    CHECK(!function_name_valid("_abc"));
    CHECK(!function_name_valid("a.b"));
    CHECK(!function_name_valid("a b"));
    CHECK(!function_name_valid("caf\xc3\xa9"));
}

TEST(binding_name_rules)
{
    CHECK(binding_name_valid("req"));
    CHECK(binding_name_valid("outputBlob2"));
    CHECK(binding_name_valid("$return"));
    CHECK(!binding_name_valid("$Return"));
    CHECK(!binding_name_valid("$other"));
    CHECK(!binding_name_valid(""));
    CHECK(!binding_name_valid("2req"));
    CHECK(!binding_name_valid("my_req"));
    CHECK(!binding_name_valid("my-req"));
    char longname[130];
    memset(longname, 'b', 128);
    longname[128] = '\0';
    CHECK(binding_name_valid(longname));
    longname[128] = 'b';
    longname[129] = '\0';
    CHECK(!binding_name_valid(longname));
}

TEST(binding_kind_table)
{
    char names[256];
    CHECK(binding_kind_find("HttpTrigger") == &binding_http_trigger);
    CHECK(binding_kind_find("HTTP") == &binding_http_out);
    CHECK(binding_kind_find("QueueTrigger") == &binding_queue_trigger);
    CHECK(binding_kind_find("queue") == &binding_queue_out);
    CHECK(binding_kind_find("noSuchKind") == NULL);
    binding_kind_names(names, sizeof names);
    CHECK(strncmp(names, "httpTrigger, http, ", 19) == 0);
    CHECK(strstr(names, ", queueTrigger, queue") != NULL);
    binding_kind_names(names, 8);
    CHECK(strlen(names) < 8);
}

int main(void)
{
    unsetenv("FUNCTIONS_WORKER_RUNTIME");
    RUN(good_app_with_defaults);
    RUN(http_trigger_fields);
    RUN(http_methods_empty_means_all);
    RUN(skips_dot_and_plain_folders);
    RUN(apps_of_models_declared_in_code_are_named);
    RUN(apps_of_models_declared_in_code_are_indexed);
    RUN(indexed_functions_are_validated_like_function_json);
    RUN(indexed_list_that_is_not_a_document_is_an_error);
    RUN(indexed_functions_follow_the_functions_filter);
    RUN(host_json_missing);
    RUN(host_json_bad_json_line_col);
    RUN(comments_and_trailing_commas_as_json_net_reads_them);
    RUN(byte_order_mark_as_json_net_reads_it);
    RUN(host_json_duplicate_key);
    RUN(host_json_not_object);
    RUN(host_json_version_missing);
    RUN(host_json_version_wrong);
    RUN(host_function_timeout);
    RUN(host_route_prefix);
    RUN(host_http_limits);
    RUN(host_bad_settings);
    RUN(host_functions_list_bad);
    RUN(functions_filter_from_host_json);
    RUN(functions_filter_from_opts);
    RUN(override_from_environment);
    RUN(override_matches_keys_case_insensitively);
    RUN(override_from_values_and_env_wins);
    RUN(override_bad_value_fails_app);
    RUN(local_settings_values_and_host);
    RUN(local_settings_name_that_cannot_be_a_variable);
    RUN(local_settings_connection_strings_are_settings_of_their_own);
    RUN(local_settings_numbers_and_booleans_are_their_text);
    RUN(local_settings_bad_json);
    RUN(local_settings_bad_values);
    RUN(functions_worker_process_count);
    RUN(function_bad_name);
    RUN(function_names_differing_in_case);
    RUN(function_bad_json);
    RUN(function_not_object);
    RUN(function_no_bindings);
    RUN(binding_not_object);
    RUN(binding_name_bad);
    RUN(binding_type_bad);
    RUN(binding_direction_bad);
    RUN(trigger_direction_must_be_in);
    RUN(kind_direction_not_allowed);
    RUN(trigger_count);
    RUN(binding_duplicate_names);
    RUN(binding_data_type_and_cardinality);
    RUN(http_auth_level_bad);
    RUN(http_methods_and_route_bad);
    RUN(function_disabled_and_entry_point);
    RUN(script_file_required_for_native);
    RUN(script_file_missing);
    RUN(script_file_buildable_and_relative);
    RUN(too_many_bindings);
    RUN(parse_function_json_direct);
    RUN(disabled_by_app_setting);
    RUN(disabled_names_an_app_setting);
    RUN(messages_escape_control_bytes);
    RUN(override_array_index);
    RUN(timespan_cases);
    RUN(function_name_rules);
    RUN(binding_name_rules);
    RUN(binding_kind_table);
    return TEST_REPORT();
}
