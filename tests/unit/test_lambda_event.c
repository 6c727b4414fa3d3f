/*
 * test_lambda_event.c -- unit tests for src/runtimes/lambda_event.c: the
 * API Gateway proxy event built from a request, the proxy result mapped
 * onto the response, runtime error documents, UTF-8 checks.
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/http/method.h"
#include "../../src/runtimes/lambda_event.h"
#include "../../src/util/codec.h"
#include "test.h"

#define ID "0f8fad5b-d9cb-469f-a165-70867728950e"

/* A request and an invocation of it, all in one arena. */
typedef struct fixture {
    arena_t arena;
    http_request_t req;
    route_params_t params;
    invocation_t *inv;
    buf_t out;
    json_t *ev;
} fixture_t;

static void setup(fixture_t *f, const char *method, const char *path, const char *query,
                  http_header_t *headers, size_t nheaders, const char *body, size_t body_len)
{
    memset(f, 0, sizeof *f);
    arena_init(&f->arena, 4096);
    f->req.method = method_from_name(method, strlen(method));
    f->req.method_name = method;
    f->req.http_major = 1;
    f->req.http_minor = 1;
    f->req.path = sv_cstr(path);
    f->req.query = sv_cstr(query);
    f->req.headers = headers;
    f->req.nheaders = nheaders;
    strcpy(f->req.remote_addr, "10.1.2.3");
    f->req.local_port = 7071;
    f->inv = invocation_new(&f->arena, NULL, NULL, SV_LIT(ID));
    f->inv->req = &f->req;
    f->inv->params = &f->params;
    f->inv->trigger_data = body;
    f->inv->trigger_len = body_len;
    buf_init(&f->out, LAMBDA_MAX_PAYLOAD);
}

static json_t *build(fixture_t *f, const char *route)
{
    if (lambda_event_http(&f->out, f->inv, "api", route, 1700000000123ull) != 0)
        return NULL;
    json_error_t je;
    f->ev = json_loadb(f->out.p, f->out.len, JSON_ALLOW_NUL, &je);
    if (!f->ev)
        fprintf(stderr, "event is not JSON: %s: %s\n", je.text, f->out.p);
    return f->ev;
}

static json_t *build_v2(fixture_t *f, const char *route)
{
    if (lambda_event_http_v2(&f->out, f->inv, "api", route, 1700000000123ull) != 0)
        return NULL;
    json_error_t je;
    f->ev = json_loadb(f->out.p, f->out.len, JSON_ALLOW_NUL, &je);
    if (!f->ev)
        fprintf(stderr, "event is not JSON: %s: %s\n", je.text, f->out.p);
    return f->ev;
}

static void teardown(fixture_t *f)
{
    json_decref(f->ev);
    buf_free(&f->out);
    arena_free(&f->arena);
}

static const char *str(json_t *o, const char *path)
{
    /* "a.b.c" */
    char key[64];
    const char *p = path;
    while (o && *p) {
        size_t n = strcspn(p, ".");
        snprintf(key, sizeof key, "%.*s", (int)n, p);
        o = json_object_get(o, key);
        p += n + (p[n] == '.');
    }
    return json_string_value(o);
}

TEST(event_fields)
{
    fixture_t f;
    http_header_t h[] = {
        {SV_LIT("Host"), SV_LIT("api.example.com:8080")},
        {SV_LIT("X-Dup"), SV_LIT("first")},
        {SV_LIT("User-Agent"), SV_LIT("ua/1")},
        {SV_LIT("x-dup"), SV_LIT("second")},
        {SV_LIT("Content-Type"), SV_LIT("application/json; charset=utf-8")},
    };
    const char body[] = "{\"a\":1}";
    setup(&f, "PUT", "/api/items/42/x%2Fy", "q=1&q=2&s=a+b%26c&flag", h, 5, body,
          sizeof body - 1);
    f.params.n = 3;
    f.params.v[0] = (route_param_t){SV_LIT("id"), SV_LIT("42"), SV_LIT("42")};
    f.params.v[1] = (route_param_t){SV_LIT("rest"), SV_LIT("x/y"), SV_LIT("x%2Fy")};
    f.params.v[2] = (route_param_t){SV_LIT("opt"), SV_NULL, SV_NULL};
    json_t *ev = build(&f, "items/{id:int:min(1)}/{*rest}/{opt?}");
    CHECK(ev != NULL);
    CHECK_STR(str(ev, "resource"), "/api/items/{id}/{rest+}/{opt}");
    CHECK_STR(str(ev, "path"), "/api/items/42/x%2Fy"); /* as REST APIs: still encoded */
    CHECK_STR(str(ev, "httpMethod"), "PUT");
    CHECK_STR(str(ev, "headers.X-Dup"), "second");
    CHECK(json_object_get(json_object_get(ev, "headers"), "x-dup") == NULL);
    json_t *mv = json_object_get(json_object_get(ev, "multiValueHeaders"), "X-Dup");
    CHECK_INT(json_array_size(mv), 2);
    CHECK_STR(json_string_value(json_array_get(mv, 1)), "second");
    CHECK_STR(str(ev, "queryStringParameters.q"), "2");
    CHECK_STR(str(ev, "queryStringParameters.s"), "a b&c");
    CHECK_STR(str(ev, "queryStringParameters.flag"), "");
    mv = json_object_get(json_object_get(ev, "multiValueQueryStringParameters"), "q");
    CHECK_INT(json_array_size(mv), 2);
    CHECK_STR(str(ev, "pathParameters.id"), "42");
    CHECK_STR(str(ev, "pathParameters.rest"), "x%2Fy"); /* as sent, as REST APIs */
    CHECK(json_object_get(json_object_get(ev, "pathParameters"), "opt") == NULL);
    CHECK(json_is_null(json_object_get(ev, "stageVariables")));
    CHECK_STR(str(ev, "body"), "{\"a\":1}");
    CHECK(json_is_false(json_object_get(ev, "isBase64Encoded")));
    CHECK_STR(str(ev, "requestContext.requestId"), ID);
    CHECK_STR(str(ev, "requestContext.stage"), "$default");
    CHECK_STR(str(ev, "requestContext.resourcePath"), "/api/items/{id}/{rest+}/{opt}");
    CHECK_STR(str(ev, "requestContext.path"), "/api/items/42/x%2Fy");
    CHECK_STR(str(ev, "requestContext.requestTime"), "14/Nov/2023:22:13:20 +0000");
    CHECK_INT(json_integer_value(json_object_get(json_object_get(ev, "requestContext"),
                                                 "requestTimeEpoch")),
              1700000000123LL);
    CHECK_STR(str(ev, "requestContext.identity.sourceIp"), "10.1.2.3");
    CHECK_STR(str(ev, "requestContext.identity.userAgent"), "ua/1");
    CHECK_STR(str(ev, "requestContext.domainName"), "api.example.com");
    CHECK_STR(str(ev, "requestContext.domainPrefix"), "api");
    CHECK_STR(str(ev, "requestContext.protocol"), "HTTP/1.1");
    teardown(&f);
}

TEST(event_nulls_when_absent)
{
    fixture_t f;
    setup(&f, "GET", "/api/", "", NULL, 0, "", 0);
    json_t *ev = build(&f, "");
    CHECK(ev != NULL);
    CHECK_STR(str(ev, "resource"), "/api");
    CHECK(json_is_null(json_object_get(ev, "queryStringParameters")));
    CHECK(json_is_null(json_object_get(ev, "multiValueQueryStringParameters")));
    CHECK(json_is_null(json_object_get(ev, "pathParameters")));
    CHECK(json_is_null(json_object_get(ev, "body")));
    /* Only the headers a proxy adds. */
    CHECK_INT(json_object_size(json_object_get(ev, "headers")), 3);
    CHECK(json_is_null(json_object_get(json_object_get(json_object_get(ev, "requestContext"),
                                                       "identity"),
                                       "userAgent")));
    teardown(&f);
}

TEST(event_binary_bodies_are_base64)
{
    const struct {
        const char *type;
        const char *body;
        size_t len;
        int base64;
    } cases[] = {
        {NULL, "plain", 5, 0},
        {"text/plain", "h\xc3\xa9llo", 6, 0},
        {"application/vnd.api+json", "{}", 2, 0},
        {"application/octet-stream", "abc", 3, 1},
        {"text/plain", "\xff\xfe", 2, 1},
        {NULL, "\x00\x01\x02", 3, 0}, /* valid UTF-8, escaped as \u0000 */
        {"image/png", "\x89PNG", 4, 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fixture_t f;
        http_header_t h = {SV_LIT("Content-Type"), sv_cstr(cases[i].type)};
        setup(&f, "POST", "/api/x", "", &h, cases[i].type ? 1 : 0, cases[i].body, cases[i].len);
        json_t *ev = build(&f, "x");
        CHECK(ev != NULL);
        CHECK_INT(json_is_true(json_object_get(ev, "isBase64Encoded")), cases[i].base64);
        const char *b = str(ev, "body");
        if (!cases[i].base64) {
            json_t *bj = json_object_get(ev, "body");
            CHECK_INT(json_string_length(bj), cases[i].len);
            CHECK(memcmp(json_string_value(bj), cases[i].body, cases[i].len) == 0);
        } else if (i == 3) {
            CHECK_STR(b, "YWJj");
        } else if (i == 4) {
            CHECK_STR(b, "//4=");
        }
        teardown(&f);
    }
}

/* As API Gateway, the proxy in front of the function: the client's address
 * appended to X-Forwarded-For, and the protocol and port it came in on,
 * unless a proxy in front of the host already said so. */
TEST(event_forwarded_headers)
{
    fixture_t f;
    setup(&f, "GET", "/api/x", "", NULL, 0, "", 0);
    json_t *ev = build(&f, "x");
    CHECK(ev != NULL);
    CHECK_STR(str(ev, "headers.X-Forwarded-For"), "10.1.2.3");
    CHECK_STR(str(ev, "headers.X-Forwarded-Proto"), "http");
    CHECK_STR(str(ev, "headers.X-Forwarded-Port"), "7071");
    json_t *mv = json_object_get(ev, "multiValueHeaders");
    CHECK_STR(json_string_value(json_array_get(json_object_get(mv, "X-Forwarded-Port"), 0)),
              "7071");
    CHECK_INT(json_array_size(json_object_get(mv, "X-Forwarded-For")), 1);
    teardown(&f);

    http_header_t h[] = {
        {SV_LIT("x-forwarded-for"), SV_LIT("203.0.113.7")},
        {SV_LIT("X-Forwarded-Proto"), SV_LIT("https")},
        {SV_LIT("X-Forwarded-For"), SV_LIT("198.51.100.1, 192.0.2.2")},
        {SV_LIT("X-Forwarded-Port"), SV_LIT("443")},
    };
    setup(&f, "GET", "/api/x", "", h, 4, "", 0);
    ev = build(&f, "x");
    CHECK(ev != NULL);
    CHECK_STR(str(ev, "headers.x-forwarded-for"), "198.51.100.1, 192.0.2.2, 10.1.2.3");
    CHECK_STR(str(ev, "headers.X-Forwarded-Proto"), "https");
    CHECK_STR(str(ev, "headers.X-Forwarded-Port"), "443");
    CHECK_INT(json_object_size(json_object_get(ev, "headers")), 3);
    mv = json_object_get(json_object_get(ev, "multiValueHeaders"), "x-forwarded-for");
    CHECK_INT(json_array_size(mv), 2);
    CHECK_STR(json_string_value(json_array_get(mv, 0)), "203.0.113.7");
    CHECK_STR(json_string_value(json_array_get(mv, 1)), "198.51.100.1, 192.0.2.2, 10.1.2.3");
    teardown(&f);
}

/* HTTP API events (payload format 2.0), as AWS documents them. */
TEST(event_v2_fields)
{
    fixture_t f;
    http_header_t h[] = {
        {SV_LIT("Host"), SV_LIT("api.example.com")},
        {SV_LIT("X-Dup"), SV_LIT("first")},
        {SV_LIT("Cookie"), SV_LIT("a=1; b=2")},
        {SV_LIT("x-dup"), SV_LIT("second")},
        {SV_LIT("cookie"), SV_LIT(" c=3 ")},
        {SV_LIT("User-Agent"), SV_LIT("ua/1")},
    };
    const char body[] = "{\"a\":1}";
    setup(&f, "POST", "/api/items/42/x%2Fy", "q=1&q=2&s=a+b", h, 6, body, sizeof body - 1);
    f.params.n = 2;
    f.params.v[0] = (route_param_t){SV_LIT("id"), SV_LIT("42"), SV_LIT("42")};
    f.params.v[1] = (route_param_t){SV_LIT("rest"), SV_LIT("x/y"), SV_LIT("x%2Fy")};
    json_t *ev = build_v2(&f, "items/{id:int}/{*rest}");
    CHECK(ev != NULL);
    CHECK_STR(str(ev, "version"), "2.0");
    CHECK_STR(str(ev, "routeKey"), "ANY /api/items/{id}/{rest+}");
    CHECK_STR(str(ev, "rawPath"), "/api/items/42/x%2Fy");
    CHECK_STR(str(ev, "rawQueryString"), "q=1&q=2&s=a+b");
    CHECK_STR(str(ev, "queryStringParameters.q"), "1,2");
    CHECK_STR(str(ev, "queryStringParameters.s"), "a b");
    json_t *cookies = json_object_get(ev, "cookies");
    CHECK_INT(json_array_size(cookies), 3);
    CHECK_STR(json_string_value(json_array_get(cookies, 0)), "a=1");
    CHECK_STR(json_string_value(json_array_get(cookies, 1)), "b=2");
    CHECK_STR(json_string_value(json_array_get(cookies, 2)), "c=3");
    CHECK_STR(str(ev, "headers.x-dup"), "first,second");
    CHECK_STR(str(ev, "headers.host"), "api.example.com");
    CHECK_STR(str(ev, "headers.x-forwarded-for"), "10.1.2.3");
    CHECK_STR(str(ev, "headers.x-forwarded-port"), "7071");
    CHECK(json_object_get(json_object_get(ev, "headers"), "cookie") == NULL);
    CHECK(json_object_get(json_object_get(ev, "headers"), "Host") == NULL);
    CHECK(json_object_get(ev, "multiValueHeaders") == NULL);
    CHECK_STR(str(ev, "pathParameters.rest"), "x/y"); /* decoded, as HTTP APIs */
    CHECK_STR(str(ev, "body"), "{\"a\":1}");
    CHECK(json_is_false(json_object_get(ev, "isBase64Encoded")));
    CHECK_STR(str(ev, "requestContext.http.method"), "POST");
    CHECK_STR(str(ev, "requestContext.http.path"), "/api/items/42/x%2Fy");
    CHECK_STR(str(ev, "requestContext.http.protocol"), "HTTP/1.1");
    CHECK_STR(str(ev, "requestContext.http.sourceIp"), "10.1.2.3");
    CHECK_STR(str(ev, "requestContext.http.userAgent"), "ua/1");
    CHECK_STR(str(ev, "requestContext.requestId"), ID);
    CHECK_STR(str(ev, "requestContext.routeKey"), "ANY /api/items/{id}/{rest+}");
    CHECK_STR(str(ev, "requestContext.stage"), "$default");
    CHECK_STR(str(ev, "requestContext.time"), "14/Nov/2023:22:13:20 +0000");
    CHECK_STR(str(ev, "requestContext.domainName"), "api.example.com");
    CHECK_STR(str(ev, "requestContext.domainPrefix"), "api");
    CHECK_INT(json_integer_value(json_object_get(json_object_get(ev, "requestContext"),
                                                 "timeEpoch")),
              1700000000123LL);
    teardown(&f);

    /* What a request does not have is left out. */
    setup(&f, "GET", "/api/", "", NULL, 0, "", 0);
    ev = build_v2(&f, "");
    CHECK(ev != NULL);
    CHECK_STR(str(ev, "routeKey"), "ANY /api");
    CHECK_STR(str(ev, "rawQueryString"), "");
    CHECK(json_object_get(ev, "queryStringParameters") == NULL);
    CHECK(json_object_get(ev, "cookies") == NULL);
    CHECK(json_object_get(ev, "pathParameters") == NULL);
    CHECK(json_object_get(ev, "body") == NULL);
    CHECK(json_is_false(json_object_get(ev, "isBase64Encoded")));
    CHECK_STR(str(ev, "requestContext.http.userAgent"), "");
    teardown(&f);

    /* Binary bodies as in 1.0. */
    http_header_t ct = {SV_LIT("Content-Type"), SV_LIT("application/octet-stream")};
    setup(&f, "POST", "/api/x", "", &ct, 1, "abc", 3);
    ev = build_v2(&f, "x");
    CHECK(ev != NULL);
    CHECK_STR(str(ev, "body"), "YWJj");
    CHECK(json_is_true(json_object_get(ev, "isBase64Encoded")));
    teardown(&f);
}

TEST(event_invalid_utf8_in_headers_stays_json)
{
    fixture_t f;
    http_header_t h = {SV_LIT("X-Bad"), SV_LIT("a\xc0\xafz\"q\n")};
    setup(&f, "GET", "/api/x", "", &h, 1, "", 0);
    json_t *ev = build(&f, "x");
    CHECK(ev != NULL);
    CHECK_STR(str(ev, "headers.X-Bad"), "a\xef\xbf\xbd\xef\xbf\xbdz\"q\n");
    teardown(&f);
}

TEST(event_too_large_is_refused)
{
    fixture_t f;
    size_t n = LAMBDA_MAX_PAYLOAD;
    char *big = malloc(n);
    memset(big, 'a', n);
    setup(&f, "POST", "/api/x", "", NULL, 0, big, n);
    buf_lit(&f.out, "keep");
    CHECK_INT(lambda_event_http(&f.out, f.inv, "api", "x", 1), -1);
    CHECK_STR(f.out.p, "keep"); /* nothing half-written is left */
    free(big);
    teardown(&f);
}

TEST(event_raw)
{
    arena_t a;
    arena_init(&a, 1024);
    invocation_t *inv = invocation_new(&a, NULL, NULL, SV_NULL);
    buf_t out;
    buf_init(&out, 1024);
    inv->trigger_data = "{\"a\": [1, 2]}";
    inv->trigger_len = strlen(inv->trigger_data);
    CHECK_INT(lambda_event_raw(&out, inv), 0);
    CHECK_STR(out.p, "{\"a\": [1, 2]}");
    buf_reset(&out);
    inv->trigger_data = "not \"json\"";
    inv->trigger_len = strlen(inv->trigger_data);
    CHECK_INT(lambda_event_raw(&out, inv), 0);
    CHECK_STR(out.p, "\"not \\\"json\\\"\"");
    buf_reset(&out);
    inv->trigger_len = 0;
    CHECK_INT(lambda_event_raw(&out, inv), 0);
    CHECK_STR(out.p, "{}");
    buf_free(&out);
    arena_free(&a);
}

/* ---- proxy results ---- */

static const char *header(invocation_t *inv, const char *name, int nth)
{
    for (size_t i = 0; i < inv->nres_headers; i++)
        if (sv_ieq_cstr(inv->res_headers[i].name, name) && nth-- == 0)
            return inv->res_headers[i].value.p;
    return NULL;
}

static int result(invocation_t *inv, const char *json, char *err, size_t n)
{
    err[0] = '\0';
    return lambda_proxy_result(inv, json, strlen(json), err, n);
}

TEST(proxy_result_maps_status_headers_body)
{
    arena_t a;
    arena_init(&a, 1024);
    invocation_t *inv = invocation_new(&a, NULL, NULL, SV_NULL);
    char err[300];
    CHECK_INT(result(inv, "{\"statusCode\": 418, \"headers\": {\"X-A\": \"1\", \"Set-Cookie\": "
                          "\"lost\", \"X-N\": 2.5, \"X-B\": true, \"X-Z\": null}, "
                          "\"multiValueHeaders\": {\"set-cookie\": [\"a=1\", \"b=2\"]}, "
                          "\"body\": \"teapot\", \"extra\": 1}",
                     err, sizeof err),
              0);
    CHECK_INT(inv->status, 418);
    CHECK_STR(header(inv, "X-A", 0), "1");
    CHECK_STR(header(inv, "X-N", 0), "2.5");
    CHECK_STR(header(inv, "X-B", 0), "true");
    CHECK(header(inv, "X-Z", 0) == NULL);
    CHECK_STR(header(inv, "Set-Cookie", 0), "a=1");
    CHECK_STR(header(inv, "Set-Cookie", 1), "b=2");
    CHECK(header(inv, "Set-Cookie", 2) == NULL);
    CHECK_STR(header(inv, "Content-Type", 0), "application/json");
    CHECK_INT(inv->res_body.len, 6);
    CHECK_STR(inv->res_body.p, "teapot");

    CHECK_INT(result(inv, "{\"statusCode\": \"204\", \"headers\": {\"content-type\": "
                          "\"text/html\"}}", err, sizeof err), 0);
    CHECK_INT(inv->status, 204);
    CHECK_INT(inv->nres_headers, 1);
    CHECK_STR(header(inv, "Content-Type", 0), "text/html");
    CHECK_INT(inv->res_body.len, 0);

    CHECK_INT(result(inv, "{\"statusCode\": 200, \"body\": \"AAEC/w==\", \"isBase64Encoded\": "
                          "true}", err, sizeof err), 0);
    CHECK_INT(inv->res_body.len, 4);
    CHECK(memcmp(inv->res_body.p, "\x00\x01\x02\xff", 4) == 0);
    CHECK_INT(result(inv, "{\"statusCode\": 200, \"body\": \"aGk\", \"isBase64Encoded\": true}",
                     err, sizeof err), 0); /* padding may be left out */
    CHECK_STR(inv->res_body.p, "hi");
    /* 201.0, as Python's json writes a float */
    CHECK_INT(result(inv, "{\"statusCode\": 201.0}", err, sizeof err), 0);
    CHECK_INT(inv->status, 201);
    CHECK_INT(result(inv, "{\"statusCode\": 200, \"body\": \"a\\u0000b\"}", err, sizeof err), 0);
    CHECK_INT(inv->res_body.len, 3);
    arena_free(&a);
}

static int result_v2(invocation_t *inv, const char *json, char *err, size_t n)
{
    err[0] = '\0';
    return lambda_proxy_result_v2(inv, json, strlen(json), err, n);
}

/* HTTP API results (payload format 2.0). */
TEST(proxy_result_v2)
{
    arena_t a;
    arena_init(&a, 1024);
    invocation_t *inv = invocation_new(&a, NULL, NULL, SV_NULL);
    char err[300];
    /* Any JSON without a statusCode is the body of a 200 JSON answer;
     * a string is the body itself, without its quotes. */
    const char *plain[][2] = {{"{\"message\": \"hi\"}", "{\"message\": \"hi\"}"},
                              {"\"a \\\"string\\\"\\u00e9\"", "a \"string\"\xc3\xa9"},
                              {"\"\"", ""}, {"42", "42"}, {"[1, 2]", "[1, 2]"},
                              {"null", "null"}};
    for (size_t i = 0; i < sizeof plain / sizeof plain[0]; i++) {
        CHECK_INT(result_v2(inv, plain[i][0], err, sizeof err), 0);
        CHECK_INT(inv->status, 200);
        CHECK_STR(header(inv, "Content-Type", 0), "application/json");
        CHECK_INT(inv->res_body.len, strlen(plain[i][1]));
        CHECK(memcmp(inv->res_body.p, plain[i][1], inv->res_body.len) == 0);
    }
    /* A proxy result, with cookies; multiValueHeaders is not 2.0's. */
    CHECK_INT(result_v2(inv, "{\"statusCode\": 201, \"headers\": {\"content-type\": "
                             "\"text/plain\"}, \"cookies\": [\"a=1; Path=/\", \"b=2\"], "
                             "\"multiValueHeaders\": {\"X-M\": [\"1\"]}, \"body\": \"made\"}",
                        err, sizeof err),
              0);
    CHECK_INT(inv->status, 201);
    CHECK_STR(header(inv, "Content-Type", 0), "text/plain");
    CHECK_STR(header(inv, "Set-Cookie", 0), "a=1; Path=/");
    CHECK_STR(header(inv, "Set-Cookie", 1), "b=2");
    CHECK(header(inv, "X-M", 0) == NULL);
    CHECK_STR(inv->res_body.p, "made");
    /* Malformed ones still are. */
    CHECK_INT(result_v2(inv, "not json", err, sizeof err), -1);
    CHECK(strstr(err, "not JSON") != NULL);
    CHECK_INT(result_v2(inv, "{\"statusCode\": 200, \"cookies\": \"a=1\"}", err, sizeof err),
              -1);
    CHECK(strstr(err, "field 'cookies'") != NULL);
    CHECK_INT(result_v2(inv, "{\"statusCode\": 200, \"cookies\": [1]}", err, sizeof err), -1);
    CHECK_INT(result_v2(inv, "{\"statusCode\": 200, \"cookies\": [\"a=1\\r\\nX: y\"]}", err,
                        sizeof err),
              -1);
    CHECK_INT(result_v2(inv, "{\"statusCode\": 99}", err, sizeof err), -1);
    /* A REST result ignores cookies, as REST APIs do. */
    CHECK_INT(result(inv, "{\"statusCode\": 200, \"cookies\": [\"a=1\"]}", err, sizeof err), 0);
    CHECK(header(inv, "Set-Cookie", 0) == NULL);
    arena_free(&a);
}

TEST(proxy_result_malformed)
{
    const struct {
        const char *json;
        const char *says;
    } cases[] = {
        {"", "not JSON"},
        {"[1,2]", "expected a JSON object with statusCode, headers and body, got an array"},
        {"\"text\"", "got the string 'text'"},
        {"{}", "field 'statusCode' is missing"},
        {"{\"statusCode\": 700}", "field 'statusCode': expected an HTTP status from 200 to 599, "
                                  "got 700"},
        {"{\"statusCode\": \"2x0\"}", "field 'statusCode'"},
        {"{\"statusCode\": 101}", "got 101"},
        {"{\"statusCode\": 200.5}", "got 200.5"},
        {"{\"statusCode\": 200, \"headers\": []}", "field 'headers': expected an object"},
        {"{\"statusCode\": 200, \"headers\": {\"A\": {}}}", "header 'A': expected a string, got "
                                                          "an object"},
        {"{\"statusCode\": 200, \"headers\": {\"A B\": \"x\"}}", "header name 'A B'"},
        {"{\"statusCode\": 200, \"headers\": {\"\": \"x\"}}", "a header name is empty"},
        {"{\"statusCode\": 200, \"headers\": {\"A\": \"x\\ny\"}}", "line break"},
        {"{\"statusCode\": 200, \"headers\": {\"A\": \"x\\u0007y\"}}", "control character"},
        {"{\"statusCode\": 200, \"multiValueHeaders\": {\"A\": \"x\"}}", "expected a list"},
        {"{\"statusCode\": 200, \"multiValueHeaders\": {\"A\": [[]]}}", "expected a string"},
        {"{\"statusCode\": 200, \"body\": 5}", "field 'body': expected a string, got 5"},
        {"{\"statusCode\": 200, \"isBase64Encoded\": \"yes\"}", "field 'isBase64Encoded'"},
        {"{\"statusCode\": 200, \"body\": \"@@@@\", \"isBase64Encoded\": true}", "not valid "
                                                                                  "base64"},
        {"{\"statusCode\": 200, \"body\": \"a=bc\", \"isBase64Encoded\": true}", "not valid "
                                                                                  "base64"},
    };
    arena_t a;
    arena_init(&a, 1024);
    invocation_t *inv = invocation_new(&a, NULL, NULL, SV_NULL);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char err[400];
        /* A first header, then the failure: nothing of it is left. */
        CHECK_INT(result(inv, cases[i].json, err, sizeof err), -1);
        CHECK_CONTAINS(err, "Malformed Lambda proxy response: ");
        CHECK_CONTAINS(err, cases[i].says);
        CHECK_INT(inv->status, 200);
        CHECK_INT(inv->nres_headers, 0);
        CHECK_INT(inv->res_body.len, 0);
    }
    char err[400];
    CHECK_INT(result(inv, "{\"statusCode\": 200, \"headers\": {\"A\": \"1\", \"B\": []}}", err,
                     sizeof err), -1);
    CHECK_INT(inv->nres_headers, 0);
    arena_free(&a);
}

TEST(proxy_result_too_many_headers)
{
    arena_t a;
    arena_init(&a, 1024);
    invocation_t *inv = invocation_new(&a, NULL, NULL, SV_NULL);
    buf_t j;
    buf_init(&j, 1 << 20);
    buf_lit(&j, "{\"statusCode\": 200, \"multiValueHeaders\": {\"X\": [");
    for (int i = 0; i < 200; i++)
        buf_printf(&j, "%s\"%d\"", i ? "," : "", i);
    buf_lit(&j, "]}}");
    char err[300];
    CHECK_INT(lambda_proxy_result(inv, j.p, j.len, err, sizeof err), -1);
    CHECK_CONTAINS(err, "too many headers");
    buf_free(&j);
    arena_free(&a);
}

/* ---- streamed responses ---- */

#define PRELUDE_CT "application/vnd.awslambda.http-integration-response"
#define B(lit) lit, sizeof(lit) - 1 /* a literal and its length, NUL bytes included */

static int streamed(invocation_t *inv, const char *ct, const char *body, size_t len, char *err,
                    size_t n)
{
    err[0] = '\0';
    return lambda_stream_result(inv, ct ? sv_cstr(ct) : SV_NULL, body, len, err, n);
}

TEST(stream_result)
{
    arena_t a;
    arena_init(&a, 1024);
    invocation_t *inv = invocation_new(&a, NULL, NULL, SV_NULL);
    char err[400];
    /* Without a prelude: 200, the stream's Content-Type, the bytes. */
    CHECK_INT(streamed(inv, "text/plain", "a\0b", 3, err, sizeof err), 0);
    CHECK_INT(inv->status, 200);
    CHECK_INT(inv->nres_headers, 1);
    CHECK_STR(header(inv, "Content-Type", 0), "text/plain");
    CHECK_INT(inv->res_body.len, 3);
    CHECK(memcmp(inv->res_body.p, "a\0b", 3) == 0);
    CHECK_INT(streamed(inv, NULL, "x", 1, err, sizeof err), 0);
    CHECK_STR(header(inv, "Content-Type", 0), "application/octet-stream");
    /* A type that only starts like the prelude's is not it. */
    CHECK_INT(streamed(inv, PRELUDE_CT "x", "{}", 2, err, sizeof err), 0);
    CHECK_STR(inv->res_body.p, "{}");
    CHECK_INT(streamed(inv, "text/plain\r\nX: 1", "x", 1, err, sizeof err), -1);
    CHECK_CONTAINS(err, "Malformed Lambda streaming response: its Content-Type");

    /* The prelude: status, headers, cookies; then the body after 8 NULs. */
    static const char full[] = "{\"statusCode\": 202, \"headers\": {\"Content-Type\": "
                               "\"text/html\", \"X-N\": 3, \"X-Null\": null}, \"cookies\": "
                               "[\"a=1\", \"b=2\"]}\0\0\0\0\0\0\0\0<b>\0</b>";
    CHECK_INT(streamed(inv, " Application/VND.awslambda.http-integration-response ; q=1", full,
                       sizeof full - 1, err, sizeof err), 0);
    CHECK_INT(inv->status, 202);
    CHECK_STR(header(inv, "Content-Type", 0), "text/html");
    CHECK_STR(header(inv, "X-N", 0), "3");
    CHECK(header(inv, "X-Null", 0) == NULL);
    CHECK_STR(header(inv, "Set-Cookie", 0), "a=1");
    CHECK_STR(header(inv, "Set-Cookie", 1), "b=2");
    CHECK_INT(inv->res_body.len, 8);
    CHECK(memcmp(inv->res_body.p, "<b>\0</b>", 8) == 0);
    /* Defaults: 200, no headers (not even a Content-Type), an empty body. */
    CHECK_INT(streamed(inv, PRELUDE_CT, "{}\0\0\0\0\0\0\0\0", 10, err, sizeof err), 0);
    CHECK_INT(inv->status, 200);
    CHECK_INT(inv->nres_headers, 0);
    CHECK_INT(inv->res_body.len, 0);
    CHECK_INT(streamed(inv, PRELUDE_CT, "", 0, err, sizeof err), 0);
    CHECK_INT(inv->status, 200);
    CHECK_INT(inv->nres_headers, 0);

    const struct {
        const char *body;
        size_t len;
        const char *says;
    } bad[] = {
        {B("{\"statusCode\": 200}"), "no 8 NUL bytes end the JSON prelude"},
        {B("{}\0\0\0\0\0\0\0"), "no 8 NUL bytes"},
        {B("{\"a\": \0\0\0\0\0\0\0\0"), "the prelude is not JSON"},
        {B("\0\0\0\0\0\0\0\0body"), "the prelude is not JSON"},
        {B("\"s\"\0\0\0\0\0\0\0\0"),
         "the prelude: expected a JSON object with statusCode, headers and cookies, got the "
         "string 's'"},
        {B("{\"statusCode\": 1000}\0\0\0\0\0\0\0\0"),
         "field 'statusCode': expected an HTTP status from 200 to 599, got 1000"},
        {B("{\"headers\": 1}\0\0\0\0\0\0\0\0"), "the prelude's field 'headers'"},
        {B("{\"headers\": {\"A\": \"x\\ny\"}}\0\0\0\0\0\0\0\0"), "line break"},
        {B("{\"cookies\": {}}\0\0\0\0\0\0\0\0"), "the prelude's field 'cookies'"},
        {B("{\"cookies\": [1]}\0\0\0\0\0\0\0\0"), "expected strings, got 1"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK_INT(streamed(inv, PRELUDE_CT, bad[i].body, bad[i].len, err, sizeof err), -1);
        CHECK_CONTAINS(err, "Malformed Lambda streaming response: ");
        CHECK_CONTAINS(err, bad[i].says);
        CHECK(strstr(err, "proxy response") == NULL);
        CHECK_INT(inv->status, 200);
        CHECK_INT(inv->nres_headers, 0);
        CHECK_INT(inv->res_body.len, 0);
    }
    arena_free(&a);
}

/* ---- error documents ---- */

TEST(error_describe)
{
    char out[200], trace[200];
    const char *doc = "{\"errorType\": \"TypeError\", \"errorMessage\": \"x is\\nundefined\", "
                      "\"stackTrace\": [\"at a\", \"at b\"]}";
    lambda_error_describe(doc, strlen(doc), SV_NULL, out, sizeof out, trace, sizeof trace);
    CHECK_STR(out, "TypeError: x is undefined");
    CHECK_STR(trace, "at a\nat b");
    doc = "{\"errorMessage\": \"m\", \"trace\": [\"t1\"]}";
    lambda_error_describe(doc, strlen(doc), SV_LIT("Custom.Kind"), out, sizeof out, trace,
                          sizeof trace);
    CHECK_STR(out, "Custom.Kind: m");
    CHECK_STR(trace, "t1");
    lambda_error_describe("plain text", 10, SV_NULL, out, sizeof out, NULL, 0);
    CHECK_STR(out, "Unhandled: plain text");
    lambda_error_describe("", 0, SV_NULL, out, sizeof out, trace, sizeof trace);
    CHECK_STR(out, "Unhandled: (no message)");
    CHECK_STR(trace, "");
    doc = "{\"errorType\": \"E\", \"errorMessage\": {\"code\": 3}}";
    lambda_error_describe(doc, strlen(doc), SV_NULL, out, sizeof out, NULL, 0);
    CHECK_STR(out, "E: {\"code\":3}");
    lambda_error_describe(doc, strlen(doc), SV_NULL, out, 5, NULL, 0);
    CHECK_STR(out, "E: {");
}

TEST(utf8)
{
    CHECK(utf8_valid("", 0));
    CHECK(utf8_valid("h\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", 12));
    CHECK(!utf8_valid("\xc0\xaf", 2));         /* overlong */
    CHECK(!utf8_valid("\xed\xa0\x80", 3));     /* surrogate */
    CHECK(!utf8_valid("\xf4\x90\x80\x80", 4)); /* past U+10FFFF */
    CHECK(!utf8_valid("\xe2\x82", 2));         /* cut short */
    CHECK(!utf8_valid("\x80", 1));
}

int main(void)
{
    RUN(event_fields);
    RUN(event_nulls_when_absent);
    RUN(event_binary_bodies_are_base64);
    RUN(event_forwarded_headers);
    RUN(event_v2_fields);
    RUN(event_invalid_utf8_in_headers_stays_json);
    RUN(event_too_large_is_refused);
    RUN(event_raw);
    RUN(proxy_result_maps_status_headers_body);
    RUN(proxy_result_v2);
    RUN(proxy_result_malformed);
    RUN(proxy_result_too_many_headers);
    RUN(stream_result);
    RUN(error_describe);
    RUN(utf8);
    return TEST_REPORT();
}
