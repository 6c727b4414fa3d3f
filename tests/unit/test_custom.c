/*
 * test_custom.c -- the custom handler runtime's parsing parts: host.json
 * customHandler / httpWorker into typed settings (host_json_custom.c),
 * %NAME% expansion, the Data/Metadata request JSON with its values typed
 * as Azure writes them (custom_msg.c, custom_value.c) and the reading of
 * the handler's {"Outputs", "Logs", "ReturnValue"} answer.
 */
#include <ftw.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../src/core/app.h"
#include "../../src/core/invocation.h"
#include "../../src/http/method.h"
#include "../../src/runtimes/custom.h"
#include "../../src/telemetry/log.h"
#include "test.h"

/* ---- temp apps ---- */

static char *mkapp(const char *host_json, const char *values)
{
    char tmpl[] = "/tmp/stratus-test-custom-XXXXXX";
    if (!mkdtemp(tmpl)) {
        perror("mkdtemp");
        exit(2);
    }
    char path[4200];
    snprintf(path, sizeof path, "%s/host.json", tmpl);
    FILE *f = fopen(path, "w");
    fputs(host_json, f);
    fclose(f);
    snprintf(path, sizeof path, "%s/local.settings.json", tmpl);
    f = fopen(path, "w");
    fprintf(f, "{\"Values\": {\"FUNCTIONS_WORKER_RUNTIME\": \"custom\"%s%s}}", values ? ", " : "",
            values ? values : "");
    fclose(f);
    return strdup(tmpl);
}

static int rm_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

static void rmapp(char *root)
{
    nftw(root, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
    free(root);
}

/* Load an app with this host.json; NULL with err set when it fails. */
static app_t *load(const char *host_json, const char *values, char **root, char *err,
                   size_t errlen)
{
    *root = mkapp(host_json, values);
    app_t *app = NULL;
    if (app_load(*root, NULL, &app, err, errlen) != 0)
        return NULL;
    return app;
}

/* ---- configuration ---- */

TEST(config_full_section)
{
    char err[512], *root, want[4300];
    app_t *app = load("{\"version\": \"2.0\", \"customHandler\": {\"description\": {"
                      "\"defaultExecutablePath\": \"%RUNNER%\", \"workingDirectory\": \"sub\", "
                      "\"arguments\": [\"--port\", \"%TEST_CH_PORTNAME%\", \"%NOPE_X%\"], "
                      "\"defaultWorkerPath\": \"w/%RUNNER%.js\", "
                      "\"workerArguments\": \"[\\\"-v\\\", \\\"%NOPE_X%x\\\"]\"}, "
                      "\"enableForwardingHttpRequest\": true}, "
                      "\"stratus\": {\"customHandler\": {\"startupTimeout\": \"00:01:00\"}}}",
                      "\"RUNNER\": \"node\", \"TEST_CH_PORTNAME\": \"p%\"", &root, err,
                      sizeof err);
    CHECK(app != NULL);
    if (!app) {
        fprintf(stderr, "%s\n", err);
        rmapp(root);
        return;
    }
    const custom_handler_conf_t *c = &app->custom_handler;
    CHECK_INT(c->present, 1);
    CHECK_STR(c->section, "customHandler");
    CHECK_STR(c->executable, "node");
    snprintf(want, sizeof want, "%s/sub", app->root);
    CHECK_STR(c->working_dir, want);
    /* As Azure: a name that is not set is removed from an argument; the
     * worker path is relative to the working directory. */
    CHECK_INT(c->narguments, 2);
    CHECK_STR(c->arguments[0], "--port");
    CHECK_STR(c->arguments[1], "p%");
    snprintf(want, sizeof want, "%s/sub/w/node.js", app->root);
    CHECK_STR(c->worker_path, want);
    /* workerArguments, here a string holding a JSON list, read the same way */
    CHECK_INT(c->nworker_arguments, 2);
    CHECK_STR(c->worker_arguments[0], "-v");
    CHECK_STR(c->worker_arguments[1], "x");
    CHECK_INT(c->forward_http, 1);
    CHECK_INT(c->startup_timeout_ms, 60000);
    app_free(app);
    rmapp(root);
}

TEST(config_defaults_and_legacy_section)
{
    char err[512], *root;
    app_t *app = load("{\"version\": \"2.0\", \"httpWorker\": {\"description\": "
                      "{\"defaultExecutablePath\": \"handler\"}, \"enableProxyingHttpRequest\": "
                      "\"true\"}}",
                      NULL, &root, err, sizeof err);
    CHECK(app != NULL);
    if (app) {
        const custom_handler_conf_t *c = &app->custom_handler;
        CHECK_STR(c->section, "httpWorker");
        CHECK_STR(c->executable, "handler");
        CHECK_STR(c->working_dir, app->root);
        CHECK_INT(c->narguments, 0);
        CHECK(c->worker_path == NULL);
        CHECK_INT(c->forward_http, 1);
        CHECK_INT(c->startup_timeout_ms, APP_DEFAULT_CUSTOM_STARTUP_MS);
        app_free(app);
    }
    rmapp(root);

    /* Both names at once: customHandler wins (with a warning), as in
     * Azure; none at all is not an error here. */
    app = load("{\"version\": \"2.0\", \"httpWorker\": {\"description\": {"
               "\"defaultExecutablePath\": \"old\"}}, \"customHandler\": {\"description\": {"
               "\"defaultExecutablePath\": \"new\"}}}",
               NULL, &root, err, sizeof err);
    CHECK(app && !strcmp(app->custom_handler.section, "customHandler"));
    CHECK(app && !strcmp(app->custom_handler.executable, "new"));
    app_free(app);
    rmapp(root);
    /* A string holding a JSON list, as an AzureFunctionsJobHost__ setting
     * gives it, is that list. */
    app = load("{\"version\": \"2.0\", \"customHandler\": {\"description\": {"
               "\"defaultExecutablePath\": \"node\", \"arguments\": "
               "\"[\\\"server.js\\\", \\\"--flag x\\\"]\"}}}",
               NULL, &root, err, sizeof err);
    CHECK(app != NULL);
    if (app) {
        CHECK_INT(app->custom_handler.narguments, 3);
        CHECK_STR(app->custom_handler.arguments[0], "server.js");
        CHECK_STR(app->custom_handler.arguments[2], "x");
    }
    app_free(app);
    rmapp(root);
    app = load("{\"version\": \"2.0\"}", NULL, &root, err, sizeof err);
    CHECK(app && !app->custom_handler.present && !app->custom_handler.executable);
    app_free(app);
    rmapp(root);
}

TEST(config_errors_name_the_field)
{
    static const struct {
        const char *host;
        const char *msg;
    } cases[] = {
        {"{\"version\": \"2.0\", \"customHandler\": 3}",
         "host.json: field 'customHandler': expected an object, got 3"},
        {"{\"version\": \"2.0\", \"customHandler\": {\"description\": []}}",
         "host.json: field 'customHandler.description': expected an object, got an array"},
        {"{\"version\": \"2.0\", \"customHandler\": {\"description\": {\"arguments\": [1]}}}",
         "host.json: field 'customHandler.description.arguments[0]': expected a string, got 1"},
        {"{\"version\": \"2.0\", \"customHandler\": {\"description\": {\"arguments\": "
         "\"[1]\"}}}",
         "host.json: field 'customHandler.description.arguments[0]': expected a string, got 1"},
        {"{\"version\": \"2.0\", \"customHandler\": {\"description\": {\"arguments\": "
         "\"server.js\"}}}",
         "host.json: field 'customHandler.description.arguments': expected a list of strings (or "
         "a string holding a JSON list of strings), got 'server.js'"},
        {"{\"version\": \"2.0\", \"customHandler\": {\"description\": {\"workingDirectory\": "
         "true}}}",
         "host.json: field 'customHandler.description.workingDirectory': expected a string, got "
         "true"},
        {"{\"version\": \"2.0\", \"httpWorker\": {\"enableForwardingHttpRequest\": 2}}",
         "host.json: field 'httpWorker.enableForwardingHttpRequest': expected true or false, got "
         "2"},
        {"{\"version\": \"2.0\", \"stratus\": {\"customHandler\": {\"startupTimeout\": 5}}}",
         "host.json: field 'stratus.customHandler.startupTimeout': expected a TimeSpan"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char err[512] = "", *root;
        app_t *app = load(cases[i].host, NULL, &root, err, sizeof err);
        CHECK(app == NULL);
        CHECK_CONTAINS(err, cases[i].msg);
        app_free(app);
        rmapp(root);
    }
}

/* Azure's MCP profile: its defaults where host.json says nothing, the
 * functions made from http.routes, and the fixed port. */
TEST(config_mcp_profile_routes_and_port)
{
    char err[512], *root;
    app_t *app = load("{\"version\": \"2.0\", \"configurationProfile\": \"MCP-Custom-Handler\", "
                      "\"customHandler\": {\"description\": {\"defaultExecutablePath\": "
                      "\"node\"}, \"http\": {\"DefaultAuthorizationLevel\": \"anonymous\"}, "
                      "\"port\": \"8123\"}}",
                      NULL, &root, err, sizeof err);
    CHECK(app != NULL);
    if (app) {
        const custom_handler_conf_t *c = &app->custom_handler;
        CHECK_INT(c->port, 8123);
        CHECK_INT(c->forward_http, 1);
        CHECK_STR(app->route_prefix, "");
        CHECK_INT(c->nroutes, 1);
        CHECK_STR(c->routes[0], "{*route}");
        CHECK_STR(c->route_auth[0], "anonymous");
        CHECK_INT(app->nfunctions, 1);
        CHECK_STR(app->functions[0]->name, "http-handler1");
        CHECK_INT(app->nerrors, 0);
    }
    app_free(app);
    rmapp(root);

    /* What host.json says wins over the profile; routes without the
     * profile; a number as the port. */
    app = load("{\"version\": \"2.0\", \"configurationProfile\": \"mcp-custom-handler\", "
               "\"extensions\": {\"http\": {\"routePrefix\": \"x\"}}, "
               "\"customHandler\": {\"description\": {\"defaultExecutablePath\": \"node\"}, "
               "\"port\": 9000, \"http\": {\"routes\": [{\"route\": \"a/{id}\"}, "
               "{\"route\": \"b\", \"authorizationLevel\": \"admin\"}]}}}",
               NULL, &root, err, sizeof err);
    CHECK(app != NULL);
    if (app) {
        CHECK_INT(app->custom_handler.port, 9000);
        CHECK_STR(app->route_prefix, "x");
        CHECK_INT(app->custom_handler.nroutes, 2);
        CHECK_STR(app->custom_handler.route_auth[0], "function");
        CHECK_STR(app->custom_handler.route_auth[1], "admin");
        CHECK_INT(app->nfunctions, 2);
    }
    app_free(app);
    rmapp(root);

    app = load("{\"version\": \"2.0\", \"configurationProfile\": \"other\", \"customHandler\": "
               "{\"description\": {\"defaultExecutablePath\": \"node\"}}}",
               NULL, &root, err, sizeof err);
    CHECK(app == NULL);
    CHECK_CONTAINS(err, "configuration profile 'other' is not supported");
    app_free(app);
    rmapp(root);
}

TEST(expand_settings)
{
    app_t app;
    memset(&app, 0, sizeof app);
    setting_t s[] = {{(char *)"A_ONE", (char *)"1"}, {(char *)"EMPTY_V", (char *)""}};
    app.settings = s;
    app.nsettings = 2;
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"plain", "plain"},          {"%A_ONE%", "1"},
        {"x%A_ONE%y%A_ONE%", "x1y1"}, {"%NOT_SET_Q%", "%NOT_SET_Q%"},
        {"%NOT_SET_Q%A_ONE%", "%NOT_SET_Q1"}, {"100%", "100%"},
        {"%%", "%%"},                 {"%EMPTY_V%.", "."},
        {"", ""},                     {"%", "%"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *got = app_expand_settings(&app, cases[i].in);
        CHECK_STR(got, cases[i].out);
        free(got);
    }
}

/* ---- the Data/Metadata request ---- */

typedef struct fixture {
    app_t app;
    function_t fn;
    binding_t bindings[7];
    http_request_t req;
    http_header_t headers[5];
    route_params_t params;
    arena_t arena;
    invocation_t *inv;
    ch_fn_t cf;
} fixture_t;

static void fixture_init(fixture_t *f, int http)
{
    memset(f, 0, sizeof *f);
    f->app.root = (char *)"/app";
    f->fn.name = (char *)"hello";
    f->bindings[0].name = (char *)"req";
    f->bindings[0].type = (char *)"httpTrigger";
    f->bindings[0].direction = BINDING_IN;
    f->bindings[0].is_trigger = 1;
    f->bindings[1].name = (char *)"res";
    f->bindings[1].type = (char *)"http";
    f->bindings[1].direction = BINDING_OUT;
    f->fn.bindings = f->bindings;
    f->fn.nbindings = 2;
    f->fn.trigger = &f->bindings[0];
    f->fn.runtime_data = &f->cf;
    f->cf.http_out = "res";
    arena_init(&f->arena, 4096);
    f->inv = invocation_new(&f->arena, &f->app, &f->fn, SV_NULL);
    if (!http) {
        f->inv->trigger_data = "queue \"text\"";
        f->inv->trigger_len = strlen(f->inv->trigger_data);
        return;
    }
    http_request_t *r = &f->req;
    r->method = METHOD_POST;
    r->method_name = "POST";
    r->path = SV_LIT("/api/hello/7");
    r->query = SV_LIT("a=1&b=x%20y&a=2&Query=shadowed&id=9");
    r->target = SV_LIT("/api/hello/7?a=1&b=x%20y&a=2&Query=shadowed&id=9");
    f->headers[0] = (http_header_t){SV_LIT("Host"), SV_LIT("example.org")};
    f->headers[1] = (http_header_t){SV_LIT("X-Two"), SV_LIT("one")};
    f->headers[2] = (http_header_t){SV_LIT("x-two"), SV_LIT("t\"wo")};
    f->headers[3] = (http_header_t){SV_LIT("Content-Type"), SV_LIT("text/plain")};
    r->headers = f->headers;
    r->nheaders = 4;
    buf_init(&r->body, 1 << 20);
    buf_append(&r->body, "body text", 9);
    f->params.n = 2;
    f->params.v[0].name = SV_LIT("id");
    f->params.v[0].value = SV_LIT("7");
    f->params.v[1].name = SV_LIT("opt");
    f->params.v[1].value = SV_NULL;
    f->inv->req = r;
    f->inv->params = &f->params;
}

static void fixture_free(fixture_t *f)
{
    arena_free(&f->arena);
    buf_free(&f->req.body);
}

static json_t *build(fixture_t *f)
{
    buf_t b;
    buf_init(&b, 1 << 20);
    CHECK_INT(ch__msg_build_json(&b, f->inv, &f->cf), 0);
    json_error_t je;
    json_t *j = json_loadb(b.p, b.len, 0, &je);
    if (!j)
        fprintf(stderr, "not JSON (%s): %s\n", je.text, b.p);
    buf_free(&b);
    return j;
}

static const char *str_at(json_t *j, const char *path)
{
    char copy[256];
    snprintf(copy, sizeof copy, "%s", path);
    for (char *save = NULL, *k = strtok_r(copy, ".", &save); k && j;
         k = strtok_r(NULL, ".", &save))
        j = json_is_array(j) ? json_array_get(j, (size_t)atoi(k)) : json_object_get(j, k);
    return json_string_value(j);
}

TEST(data_request_http)
{
    fixture_t f;
    fixture_init(&f, 1);
    json_t *j = build(&f);
    CHECK(j != NULL);
    CHECK_INT(json_object_size(j), 2);
    CHECK_STR(str_at(j, "Data.req.Url"),
              "http://example.org/api/hello/7?a=1&b=x%20y&a=2&Query=shadowed&id=9");
    CHECK_STR(str_at(j, "Data.req.Method"), "POST");
    CHECK_STR(str_at(j, "Data.req.Query.a"), "1,2");
    CHECK_STR(str_at(j, "Data.req.Query.b"), "x y");
    CHECK_STR(str_at(j, "Data.req.Headers.X-Two.0"), "one");
    CHECK_STR(str_at(j, "Data.req.Headers.X-Two.1"), "t\"wo");
    json_t *hdrs = json_object_get(json_object_get(json_object_get(j, "Data"), "req"), "Headers");
    CHECK_INT(json_object_size(hdrs), 3); /* X-Two and x-two are one header */
    CHECK_STR(str_at(j, "Data.req.Params.id"), "7");
    CHECK(str_at(j, "Data.req.Params.opt") == NULL);
    CHECK_INT(json_array_size(json_object_get(json_object_get(json_object_get(j, "Data"), "req"),
                                              "Identities")),
              0);
    CHECK_STR(str_at(j, "Data.req.Body"), "body text");
    /* Metadata: route parameters win over query ones; reserved names stay.
     * A parameter is a string, sent as its JSON text; Query and Headers are
     * dictionaries, sent as objects. */
    CHECK_STR(str_at(j, "Metadata.id"), "\"7\"");
    CHECK_STR(str_at(j, "Metadata.a"), "\"1,2\"");
    CHECK_STR(str_at(j, "Metadata.b"), "\"x y\"");
    CHECK_STR(str_at(j, "Metadata.Query.a"), "2"); /* the last one wins */
    CHECK_STR(str_at(j, "Metadata.Query.Query"), "shadowed");
    CHECK_STR(str_at(j, "Metadata.Headers.X-Two"), "one,t\"wo");
    CHECK_STR(str_at(j, "Metadata.sys.MethodName"), "hello");
    CHECK(str_at(j, "Metadata.sys.UtcNow") && strlen(str_at(j, "Metadata.sys.UtcNow")) == 28);
    CHECK(str_at(j, "Metadata.sys.RandGuid") && strlen(str_at(j, "Metadata.sys.RandGuid")) == 36);
    json_decref(j);
    fixture_free(&f);
}

TEST(data_request_http_json_body_and_code)
{
    /* The properties of a JSON object body with a Content-Length are
     * binding data, under the query and route parameters; code is not. */
    fixture_t f;
    fixture_init(&f, 1);
    f.req.query = SV_LIT("code=k&B=q");
    f.headers[3] = (http_header_t){SV_LIT("Content-Type"), SV_LIT("application/json")};
    f.headers[4] = (http_header_t){SV_LIT("Content-Length"), SV_LIT("64")};
    f.req.nheaders = 5;
    buf_reset(&f.req.body);
    buf_puts(&f.req.body, "{\"n\": 2, \"b\": \"body\", \"ID\": \"body\", \"l\": [], \"code\": \"c\"}");
    json_t *j = build(&f);
    json_t *meta = json_object_get(j, "Metadata");
    CHECK_STR(str_at(j, "Metadata.n"), "\"2\"");
    CHECK_STR(str_at(j, "Metadata.B"), "\"q\"");
    CHECK(json_object_get(meta, "b") == NULL);
    CHECK_STR(str_at(j, "Metadata.id"), "\"7\"");
    CHECK(json_object_get(meta, "ID") == NULL);
    CHECK(json_object_get(meta, "l") == NULL);
    CHECK_STR(str_at(j, "Metadata.code"), "\"c\""); /* the body's: the query's is left out */
    CHECK_STR(str_at(j, "Metadata.Query.code"), "k");
    json_decref(j);
    /* Without a Content-Length (chunked), the body adds nothing. */
    f.req.nheaders = 4;
    j = build(&f);
    CHECK(json_object_get(json_object_get(j, "Metadata"), "n") == NULL);
    CHECK(json_object_get(json_object_get(j, "Metadata"), "code") == NULL);
    json_decref(j);
    fixture_free(&f);
}

TEST(data_request_binary_and_non_http)
{
    fixture_t f;
    fixture_init(&f, 1);
    buf_reset(&f.req.body);
    buf_append(&f.req.body, "\xff\x00\x01z", 4);
    json_t *j = build(&f);
    CHECK_STR(str_at(j, "Data.req.Body"), "/wABeg=="); /* not UTF-8: base64 */
    json_decref(j);
    buf_reset(&f.req.body);
    buf_append(&f.req.body, "plain", 5);
    f.cf.binary_body = 1; /* dataType binary */
    j = build(&f);
    CHECK_STR(str_at(j, "Data.req.Body"), "cGxhaW4=");
    json_decref(j);
    fixture_free(&f);

    /* Another trigger's text is a string: its JSON text is sent. */
    fixture_init(&f, 0);
    j = build(&f);
    CHECK_STR(str_at(j, "Data.req"), "\"queue \\\"text\\\"\"");
    CHECK(json_object_get(json_object_get(j, "Metadata"), "Query") == NULL);
    CHECK_STR(str_at(j, "Metadata.sys.MethodName"), "hello");
    json_decref(j);
    f.cf.binary_body = 1; /* dataType binary: bytes, base64 */
    j = build(&f);
    CHECK_STR(str_at(j, "Data.req"), "cXVldWUgInRleHQi");
    json_decref(j);
    fixture_free(&f);
}

/* A queue-triggered function: trigger msg, blob input doc, queue output
 * out, a blob $return and an http output res. */
static void fixture_queue(fixture_t *f)
{
    fixture_init(f, 0);
    binding_t *b = f->bindings;
    b[0] = (binding_t){.name = (char *)"msg", .type = (char *)"queueTrigger",
                       .direction = BINDING_IN, .is_trigger = 1};
    b[1] = (binding_t){.name = (char *)"doc", .type = (char *)"blob", .direction = BINDING_IN};
    b[2] = (binding_t){.name = (char *)"out", .type = (char *)"queue", .direction = BINDING_OUT};
    b[3] = (binding_t){.name = (char *)"$return", .type = (char *)"blob",
                       .direction = BINDING_OUT};
    b[4] = (binding_t){.name = (char *)"res", .type = (char *)"http", .direction = BINDING_OUT};
    b[5] = (binding_t){.name = (char *)"bin", .type = (char *)"blob", .direction = BINDING_IN,
                       .data_type = (char *)"binary"};
    b[6] = (binding_t){.name = (char *)"raw", .type = (char *)"blob", .direction = BINDING_IN};
    f->fn.nbindings = 7;
    f->inv->binding_data = json_pack("{s:s,s:i,s:s,s:s,s:{s:s}}", "Id", "m-1", "DequeueCount", 2,
                                     "InsertionTime", "2026-11-27T10:00:00+00:00",
                                     "QueueTrigger", "queue \"text\"", "sys", "MethodName",
                                     "ignored");
    f->inv->inputs = json_pack("{s:s,s:{s:s},s:n,s:{s:i},s:{s:s}}", "doc", "doc text", "bin",
                               "$binary", "AP8=", "none", "data", "n", 1, "raw", "$binary",
                               "77u/aGk=");
}

TEST(data_request_queue_trigger_inputs_and_retry)
{
    fixture_t f;
    fixture_queue(&f);
    json_t *j = build(&f);
    CHECK(j != NULL);
    /* Text is a .NET string: its JSON text is sent. */
    CHECK_STR(str_at(j, "Data.msg"), "\"queue \\\"text\\\"\"");
    CHECK_STR(str_at(j, "Data.doc"), "\"doc text\"");
    CHECK_STR(str_at(j, "Data.bin"), "AP8="); /* dataType binary: base64 */
    CHECK_STR(str_at(j, "Data.raw"), "\"hi\""); /* bytes read as text, less the BOM */
    CHECK_STR(str_at(j, "Data.none"), "null"); /* nothing: the JSON text of null */
    json_t *data = json_object_get(j, "Data");
    CHECK_INT(json_integer_value(json_object_get(json_object_get(data, "data"), "n")), 1);
    /* A string and a long as their JSON text, a date as a JSON date. */
    json_t *meta = json_object_get(j, "Metadata");
    CHECK_STR(str_at(j, "Metadata.Id"), "\"m-1\"");
    CHECK_STR(str_at(j, "Metadata.DequeueCount"), "2");
    CHECK_STR(str_at(j, "Metadata.InsertionTime"), "2026-11-27T10:00:00+00:00");
    CHECK(json_object_get(meta, "QueueTrigger") == NULL); /* keys ending in Trigger: not */
    CHECK_STR(str_at(j, "Metadata.sys.MethodName"), "hello");
    CHECK(json_object_get(meta, "RetryContext") == NULL); /* no policy */
    json_decref(j);
    f.inv->retry_count = 1;
    f.inv->max_retry_count = 3;
    j = build(&f);
    meta = json_object_get(j, "Metadata");
    json_t *rc = json_object_get(meta, "RetryContext");
    CHECK_INT(json_integer_value(json_object_get(rc, "RetryCount")), 1);
    CHECK_INT(json_integer_value(json_object_get(rc, "MaxRetryCount")), 3);
    json_decref(j);
    fixture_free(&f);
}

TEST(data_request_timer_is_an_object)
{
    fixture_t f;
    fixture_init(&f, 0);
    f.bindings[0].name = (char *)"myTimer";
    f.bindings[0].type = (char *)"timerTrigger";
    f.inv->trigger_data = "{\"Schedule\":{\"AdjustForDST\":true},\"ScheduleStatus\":null,"
                          "\"IsPastDue\":true}";
    f.inv->trigger_len = strlen(f.inv->trigger_data);
    json_t *j = build(&f);
    json_t *t = json_object_get(json_object_get(j, "Data"), "myTimer");
    CHECK(json_is_object(t));
    CHECK(json_is_true(json_object_get(t, "IsPastDue")));
    json_decref(j);
    fixture_free(&f);
}

TEST(data_request_json_message_properties)
{
    /* A JSON object message: its properties join the Metadata as Azure adds
     * them (each as its .NET text, an object as it is, lists and nulls
     * not), over the message's own metadata of the same name. */
    fixture_t f;
    fixture_queue(&f);
    f.inv->trigger_data = " {\"n\": 5, \"f\": 1.5, \"big\": 1e15, \"ok\": true, \"s\": \"x\", "
                          "\"o\": {\"a\": [1]}, \"l\": [1], \"z\": null, \"id\": \"mine\"}\n";
    f.inv->trigger_len = strlen(f.inv->trigger_data);
    /* The binding data has the properties too, under the message's own. */
    json_t *props = json_pack("{s:i,s:[i],s:s}", "n", 5, "l", 1, "id", "mine");
    json_object_update(f.inv->binding_data, props);
    json_decref(props);
    json_t *j = build(&f);
    json_t *meta = json_object_get(j, "Metadata");
    CHECK_STR(str_at(j, "Metadata.n"), "\"5\"");
    CHECK_STR(str_at(j, "Metadata.f"), "\"1.5\"");
    CHECK_STR(str_at(j, "Metadata.big"), "\"1E+15\"");
    CHECK_STR(str_at(j, "Metadata.ok"), "\"True\"");
    CHECK_STR(str_at(j, "Metadata.s"), "\"x\"");
    CHECK_INT(json_integer_value(json_array_get(json_object_get(json_object_get(meta, "o"), "a"),
                                                0)),
              1);
    CHECK(json_object_get(meta, "l") == NULL);
    CHECK(json_object_get(meta, "z") == NULL);
    CHECK_STR(str_at(j, "Metadata.Id"), "\"mine\"");
    CHECK(json_object_get(meta, "id") == NULL); /* one key, in any case */
    CHECK_STR(str_at(j, "Metadata.DequeueCount"), "2");
    CHECK_STR(str_at(j, "Data.msg"), "\" {\\\"n\\\": 5, \\\"f\\\": 1.5, \\\"big\\\": 1e15, "
              "\\\"ok\\\": true, \\\"s\\\": \\\"x\\\", \\\"o\\\": {\\\"a\\\": [1]}, "
              "\\\"l\\\": [1], \\\"z\\\": null, \\\"id\\\": \\\"mine\\\"}\\n\"");
    json_decref(j);
    /* Read as bytes, the message adds nothing. */
    f.cf.binary_body = 1;
    j = build(&f);
    CHECK(json_object_get(json_object_get(j, "Metadata"), "s") == NULL);
    CHECK_STR(str_at(j, "Metadata.Id"), "\"m-1\"");
    json_decref(j);
    fixture_free(&f);
}

static const char *put(int (*fn)(buf_t *, const json_t *), const char *json)
{
    static char out[256];
    buf_t b;
    buf_init(&b, 1 << 20);
    json_t *v = json_loads(json, JSON_DECODE_ANY, NULL);
    if (fn(&b, v) != 0)
        snprintf(out, sizeof out, "(failed)");
    else
        snprintf(out, sizeof out, "%s", b.p ? b.p : "");
    json_decref(v);
    buf_free(&b);
    return out;
}

TEST(values_as_dotnet_writes_them)
{
    /* Numbers of a JSON payload as .NET's ToString() writes them. */
    CHECK_STR(put(ch__value_put_payload_prop, "0.1"), "\"\\\"0.1\\\"\"");
    CHECK_STR(put(ch__value_put_payload_prop, "2.0"), "\"\\\"2\\\"\"");
    CHECK_STR(put(ch__value_put_payload_prop, "-250.5"), "\"\\\"-250.5\\\"\"");
    CHECK_STR(put(ch__value_put_payload_prop, "123456789012345.0"),
              "\"\\\"123456789012345\\\"\"");
    CHECK_STR(put(ch__value_put_payload_prop, "1.2345678901234567e20"),
              "\"\\\"1.2345678901234567E+20\\\"\"");
    CHECK_STR(put(ch__value_put_payload_prop, "0.0001"), "\"\\\"0.0001\\\"\"");
    CHECK_STR(put(ch__value_put_payload_prop, "0.00001"), "\"\\\"1E-05\\\"\"");
    CHECK_STR(put(ch__value_put_payload_prop, "false"), "\"\\\"False\\\"\"");
    CHECK_STR(put(ch__value_put_payload_prop, "-7"), "\"\\\"-7\\\"\"");
    /* Strings escaped as .NET's serializer does: \b and \f by name, other
     * controls as \u00xx, U+2028, and U+FFFD for a byte that is not UTF-8. */
    buf_t b;
    buf_init(&b, 1 << 20);
    CHECK_INT(ch__value_put_text(&b, "a\b\f\x01\xe2\x80\xa8\xffz\xc3\xa9", 11), 0);
    json_t *v = json_loadb(b.p, b.len, JSON_DECODE_ANY, NULL);
    CHECK_STR(json_string_value(v), "\"a\\b\\f\\u0001\\u2028\xef\xbf\xbdz\xc3\xa9\"");
    json_decref(v);
    buf_free(&b);
    /* Binding data: a long and a boolean as their JSON text, an object as
     * it is, a queue message's date as a JSON date. */
    buf_init(&b, 1 << 20);
    json_t *n = json_integer(3), *t = json_true(), *o = json_pack("{s:s}", "k", "v"),
           *d = json_string("2026-11-27T10:00:00+00:00");
    CHECK_INT(ch__value_put_meta(&b, "queueTrigger", "DequeueCount", n), 0);
    CHECK_INT(ch__value_put_meta(&b, "queueTrigger", "x", t), 0);
    CHECK_INT(ch__value_put_meta(&b, "blobTrigger", "Properties", o), 0);
    CHECK_INT(ch__value_put_meta(&b, "queueTrigger", "NextVisibleTime", d), 0);
    CHECK_INT(ch__value_put_meta(&b, "blobTrigger", "NextVisibleTime", d), 0);
    CHECK_STR(b.p, "\"3\"\"true\"{\"k\":\"v\"}\"2026-11-27T10:00:00+00:00\""
                   "\"\\\"2026-11-27T10:00:00+00:00\\\"\"");
    json_decref(n);
    json_decref(t);
    json_decref(o);
    json_decref(d);
    buf_free(&b);
    /* A blob's text loses its byte order mark; a queue message's keeps it. */
    buf_init(&b, 1 << 20);
    CHECK_INT(ch__value_put_bytes(&b, "\xef\xbb\xbfhi", 5, 0, 1), 0);
    CHECK_INT(ch__value_put_bytes(&b, "\xef\xbb\xbfhi", 5, 0, 0), 0);
    CHECK_STR(b.p, "\"\\\"hi\\\"\"\"\\\"\xef\xbb\xbfhi\\\"\"");
    buf_free(&b);
}

/* ---- the handler's answer ---- */

static int apply(fixture_t *f, const char *answer, char *err, size_t errlen)
{
    return ch__msg_apply_answer(f->inv, &f->cf, answer, strlen(answer), err, errlen);
}

static const char *res_header(const invocation_t *inv, const char *name)
{
    static char v[256];
    for (size_t i = 0; i < inv->nres_headers; i++)
        if (sv_ieq_cstr(inv->res_headers[i].name, name)) {
            snprintf(v, sizeof v, "%.*s", (int)inv->res_headers[i].value.n,
                     inv->res_headers[i].value.p);
            return v;
        }
    return NULL;
}

TEST(answer_outputs)
{
    fixture_t f;
    char err[512] = "";
    fixture_init(&f, 1);
    CHECK_INT(apply(&f, "{\"Outputs\": {\"res\": {\"statusCode\": 201, \"headers\": {"
                        "\"X-A\": \"1\", \"X-N\": 2, \"X-B\": true, \"X-L\": [\"p\", \"q\"], "
                        "\"Bad\\nName\": \"x\", \"X-Bad\": \"a\\r\\nb\"}, "
                        "\"body\": {\"k\": [1, 2]}}}, "
                        "\"Logs\": [\"one\", 2], \"ReturnValue\": 5}",
                    err, sizeof err),
              1);
    CHECK_INT(f.inv->status, 201);
    CHECK_STR(res_header(f.inv, "X-A"), "1");
    CHECK_STR(res_header(f.inv, "X-N"), "2");
    CHECK_STR(res_header(f.inv, "X-B"), "true");
    CHECK_STR(res_header(f.inv, "X-L"), "p");
    CHECK(res_header(f.inv, "Bad\nName") == NULL);
    CHECK(res_header(f.inv, "X-Bad") == NULL);
    CHECK_STR(res_header(f.inv, "Content-Type"), "application/json; charset=utf-8");
    CHECK_STR(f.inv->res_body.p, "{\"k\":[1,2]}");
    fixture_free(&f);

    /* Keys in any case; the status as a string; a string body. */
    fixture_init(&f, 1);
    CHECK_INT(apply(&f, "{\"outputs\": {\"RES\": {\"StatusCode\": \" 404 \", \"Body\": \"nf\"}}}",
                    err, sizeof err),
              1);
    CHECK_INT(f.inv->status, 404);
    CHECK_STR(f.inv->res_body.p, "nf");
    CHECK_STR(res_header(f.inv, "Content-Type"), "text/plain; charset=utf-8");
    fixture_free(&f);

    /* Nothing set: 200 and no body. A plain value is the body. */
    fixture_init(&f, 1);
    CHECK_INT(apply(&f, "{\"Outputs\": {}, \"Logs\": null}", err, sizeof err), 1);
    CHECK_INT(f.inv->status, 200);
    CHECK_INT(f.inv->res_body.len, 0);
    CHECK_INT(f.inv->nres_headers, 0);
    fixture_free(&f);
    fixture_init(&f, 1);
    CHECK_INT(apply(&f, "{\"Outputs\": {\"res\": [1, 2]}}", err, sizeof err), 1);
    CHECK_STR(f.inv->res_body.p, "[1,2]");
    fixture_free(&f);

    /* A string holding the response object in JSON is that object; other
     * text, JSON or not, is the body. */
    fixture_init(&f, 1);
    CHECK_INT(apply(&f, "{\"Outputs\": {\"res\": \"{\\\"statusCode\\\": 201, "
                        "\\\"body\\\": \\\"made\\\"}\"}}",
                    err, sizeof err),
              1);
    CHECK_INT(f.inv->status, 201);
    CHECK_STR(f.inv->res_body.p, "made");
    fixture_free(&f);
    fixture_init(&f, 1);
    CHECK_INT(apply(&f, "{\"Outputs\": {\"res\": \"{\\\"a\\\": 1}\"}}", err, sizeof err),
              1);
    CHECK_INT(f.inv->status, 200);
    CHECK_STR(f.inv->res_body.p, "{\"a\": 1}");
    CHECK_STR(res_header(f.inv, "Content-Type"), "text/plain; charset=utf-8");
    fixture_free(&f);
}

TEST(answer_return_value)
{
    fixture_t f;
    char err[512] = "";
    fixture_init(&f, 1);
    f.cf.http_out = NULL;
    f.cf.http_return = 1;
    CHECK_INT(apply(&f, "{\"ReturnValue\": {\"statusCode\": 202, \"body\": \"r\"}}", err,
                    sizeof err),
              1);
    CHECK_INT(f.inv->status, 202);
    CHECK_STR(f.inv->res_body.p, "r");
    fixture_free(&f);
    /* With both a named output and $return, the named one wins when set. */
    fixture_init(&f, 1);
    f.cf.http_return = 1;
    CHECK_INT(apply(&f, "{\"Outputs\": {\"res\": {\"body\": \"named\"}}, \"ReturnValue\": "
                        "{\"body\": \"ret\"}}",
                    err, sizeof err),
              1);
    CHECK_STR(f.inv->res_body.p, "named");
    fixture_free(&f);
    fixture_init(&f, 1);
    f.cf.http_return = 1;
    CHECK_INT(apply(&f, "{\"Outputs\": {}, \"ReturnValue\": {\"body\": \"ret\"}}", err,
                    sizeof err),
              1);
    CHECK_STR(f.inv->res_body.p, "ret");
    fixture_free(&f);
}

TEST(answer_outputs_of_other_bindings)
{
    fixture_t f;
    char err[512] = "";
    fixture_queue(&f);
    f.cf.http_out = "res";
    CHECK_INT(apply(&f, "{\"Outputs\": {\"OUT\": [\"a\", {\"k\": 1}], \"res\": {\"body\": "
                        "\"hi\"}, \"unknown\": 1}, \"ReturnValue\": \"the blob's text\"}",
                    err, sizeof err),
              1);
    json_t *o = f.inv->outputs;
    CHECK(json_is_object(o));
    CHECK_INT(json_object_size(o), 2); /* out and $return; http and unknown names are not */
    CHECK_INT(json_array_size(json_object_get(o, "out")), 2);
    CHECK_STR(json_string_value(json_object_get(o, "$return")), "the blob's text");
    CHECK_STR(f.inv->res_body.p, "hi");
    fixture_free(&f);
    /* Nothing set: no outputs at all. */
    fixture_queue(&f);
    CHECK_INT(apply(&f, "{\"Outputs\": {}, \"ReturnValue\": null}", err, sizeof err), 1);
    CHECK(f.inv->outputs == NULL);
    fixture_free(&f);
}

/* An output string that .NET's Convert.FromBase64String accepts is bytes
 * unless the binding says dataType binary. */
TEST(answer_base64_outputs_are_bytes)
{
    static const struct {
        const char *text;
        int bytes;
    } cases[] = {
        {"test", 1}, {"SGk=", 1}, {"QQ==", 1}, {"QU\\r\\nJD", 1}, {" QUJD ", 1}, {"", 1},
        {"abc", 0}, {"QQ=", 0}, {"Q===", 0}, {"QQ=a", 0}, {"QU-D", 0}, {"hello world", 0},
        {"a\u00e9bc", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char text[64];
        snprintf(text, sizeof text, "\"%s\"", cases[i].text);
        json_t *v = json_loads(text, JSON_DECODE_ANY, NULL), *out = ch__value_output(v, 0);
        json_t *bin = json_object_get(out, "$binary");
        CHECK_INT(bin != NULL, cases[i].bytes);
        if (bin)
            CHECK(json_equal(bin, v));
        else
            CHECK(out == v);
        json_decref(out);
        out = ch__value_output(v, 1); /* dataType binary: as it is */
        CHECK(out == v);
        json_decref(out);
        json_decref(v);
    }
    json_t *n = json_integer(1234), *out = ch__value_output(n, 0);
    CHECK(out == n);
    json_decref(out);
    json_decref(n);
}

/* A statusCode that says nothing (null, "") is 200 as in Azure; a JSON
 * number written with a fraction of zero is that status. */
TEST(answer_status_unset_or_written_as_real)
{
    static const struct {
        const char *answer;
        int status;
        const char *body;
    } cases[] = {
        {"{\"Outputs\": {\"res\": {\"statusCode\": null, \"body\": \"a\"}}}", 200, "a"},
        {"{\"Outputs\": {\"res\": {\"statusCode\": \"\", \"body\": \"b\"}}}", 200, "b"},
        {"{\"Outputs\": {\"res\": {\"statusCode\": \"\", \"status\": 202, \"body\": \"c\"}}}",
         202, "c"},
        {"{\"Outputs\": {\"res\": {\"statusCode\": 201.0, \"body\": \"d\"}}}", 201, "d"},
        {"{\"Outputs\": {\"res\": {\"statusCode\": null}}}", 200, ""},
        {"{\"Outputs\": {\"res\": {\"StatusCode\": \"  \", \"Body\": null}}}", 200, ""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fixture_t f;
        char err[512] = "";
        fixture_init(&f, 1);
        CHECK_INT(apply(&f, cases[i].answer, err, sizeof err), 1);
        CHECK_STR(err, "");
        CHECK_INT(f.inv->status ? f.inv->status : 200, cases[i].status);
        if (cases[i].body)
            CHECK_STR(f.inv->res_body.p ? f.inv->res_body.p : "", cases[i].body);
        fixture_free(&f);
    }
}

TEST(answer_errors)
{
    static const struct {
        const char *answer, *msg;
    } cases[] = {
        {"", "the custom handler's answer is empty"},
        {"not json", "the custom handler's answer is not JSON"},
        {"[1, 2]", "the custom handler's answer is not a JSON object"},
        {"{\"Outputs\": 3}", "\"Outputs\" that is not an object"},
        {"{\"Outputs\": {\"res\": {\"statusCode\": \"abc\"}}}",
         "http output 'res': statusCode 'abc' is not an HTTP status"},
        {"{\"Outputs\": {\"res\": {\"statusCode\": 99}}}", "statusCode 99 is not an HTTP status"},
        {"{\"Outputs\": {\"res\": {\"statusCode\": 101}}}",
         "statusCode 101 is not an HTTP status (200 to 599)"},
        {"{\"Outputs\": {\"res\": {\"statusCode\": 200.5}}}", "statusCode 200.5 is not an"},
        {"{\"Outputs\": {\"res\": {\"statusCode\": true}}}", "statusCode true is not an"},
        {"{\"Outputs\": {\"res\": {\"headers\": [1]}}}", "headers must be an object"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fixture_t f;
        char err[512] = "";
        fixture_init(&f, 1);
        CHECK_INT(apply(&f, cases[i].answer, err, sizeof err), 0);
        CHECK_CONTAINS(err, cases[i].msg);
        fixture_free(&f);
    }
}

int main(void)
{
    log_setup(LOG_FORMAT_DEV, 2, 0, LOG_CRITICAL);
    RUN(config_full_section);
    RUN(config_defaults_and_legacy_section);
    RUN(config_errors_name_the_field);
    RUN(config_mcp_profile_routes_and_port);
    RUN(expand_settings);
    RUN(data_request_http);
    RUN(data_request_http_json_body_and_code);
    RUN(data_request_binary_and_non_http);
    RUN(data_request_queue_trigger_inputs_and_retry);
    RUN(data_request_timer_is_an_object);
    RUN(data_request_json_message_properties);
    RUN(values_as_dotnet_writes_them);
    RUN(answer_outputs);
    RUN(answer_outputs_of_other_bindings);
    RUN(answer_return_value);
    RUN(answer_base64_outputs_are_bytes);
    RUN(answer_status_unset_or_written_as_real);
    RUN(answer_errors);
    return TEST_REPORT();
}
