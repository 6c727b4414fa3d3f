/*
 * test_bindings.c -- unit tests for binding values (src/bindings/value.c)
 * and retry policies (src/core/retry.c).
 */
#include <stdlib.h>
#include <string.h>

#include "../../src/bindings/binding.h"
#include "../../src/core/app.h"
#include "test.h"

static json_t *js(const char *text) { return json_loads(text, JSON_DECODE_ANY, NULL); }

TEST(value_bytes)
{
    char *p;
    size_t n;
    json_t *v = js("\"h\\u00e9llo\"");
    CHECK_INT(binding_value_bytes(v, &p, &n), 0);
    CHECK_INT(n, 6);
    CHECK_STR(p, "h\xc3\xa9llo");
    free(p);
    json_decref(v);

    v = js("{\"$binary\": \"AAEC/w==\"}");
    CHECK_INT(binding_value_bytes(v, &p, &n), 0);
    CHECK_INT(n, 4);
    CHECK(memcmp(p, "\x00\x01\x02\xff", 4) == 0);
    CHECK(p[4] == '\0');
    free(p);
    json_decref(v);

    v = js("{\"id\": 1, \"tags\": [\"a\"]}");
    CHECK_INT(binding_value_bytes(v, &p, &n), 0);
    CHECK_STR(p, "{\"id\":1,\"tags\":[\"a\"]}");
    free(p);
    json_decref(v);

    v = js("42");
    CHECK_INT(binding_value_bytes(v, &p, &n), 0);
    CHECK_STR(p, "42");
    free(p);
    json_decref(v);

    v = js("{\"$binary\": \"not base64!\"}");
    CHECK_INT(binding_value_bytes(v, &p, &n), -1);
    CHECK(p == NULL);
    json_decref(v);
}

TEST(value_new)
{
    json_t *v = binding_value_new("text", 4, 0);
    CHECK(json_is_string(v));
    CHECK_STR(json_string_value(v), "text");
    json_decref(v);

    v = binding_value_new("\xff\x00\x01", 3, 0); /* not UTF-8: bytes */
    CHECK_STR(json_string_value(json_object_get(v, "$binary")), "/wAB");
    char *p;
    size_t n;
    CHECK_INT(binding_value_bytes(v, &p, &n), 0);
    CHECK_INT(n, 3);
    CHECK(memcmp(p, "\xff\x00\x01", 3) == 0);
    free(p);
    json_decref(v);

    v = binding_value_new("abc", 3, 1); /* asked for bytes */
    CHECK_STR(json_string_value(json_object_get(v, "$binary")), "YWJj");
    json_decref(v);

    v = binding_value_new("a\0b", 3, 0); /* NUL: bytes, never a cut string */
    CHECK(json_is_object(v));
    json_decref(v);
}

static int retry(const char *text, retry_policy_t *p, char *err)
{
    json_t *v = text ? js(text) : NULL;
    err[0] = '\0';
    int rc = retry_policy_parse(v, p, err, 400);
    json_decref(v);
    return rc;
}

TEST(retry_policies)
{
    retry_policy_t p;
    char err[400];
    CHECK_INT(retry(NULL, &p, err), 0);
    CHECK_INT(p.strategy, RETRY_NONE);

    CHECK_INT(retry("{\"strategy\": \"fixedDelay\", \"maxRetryCount\": 4, "
                    "\"delayInterval\": \"00:00:10\"}", &p, err), 0);
    CHECK_INT(p.strategy, RETRY_FIXED);
    CHECK_INT(p.max_retry_count, 4);
    CHECK_INT(p.delay_ms, 10000);

    CHECK_INT(retry("{\"Strategy\": \"ExponentialBackoff\", \"maxRetryCount\": \"-1\", "
                    "\"minimumInterval\": \"00:00:01\", \"maximumInterval\": \"00:15:00\"}",
                    &p, err), 0);
    CHECK_INT(p.strategy, RETRY_EXPONENTIAL);
    CHECK_INT(p.max_retry_count, -1);
    CHECK_INT(p.min_delay_ms, 1000);
    CHECK_INT(p.max_delay_ms, 900000);
}

TEST(retry_errors)
{
    retry_policy_t p;
    char err[400];
    CHECK_INT(retry("[]", &p, err), -1);
    CHECK(strstr(err, "field 'retry'") != NULL);
    CHECK_INT(retry("{\"maxRetryCount\": 1}", &p, err), -1);
    CHECK(strstr(err, "retry.strategy") != NULL);
    CHECK_INT(retry("{\"strategy\": \"linear\", \"maxRetryCount\": 1}", &p, err), -1);
    CHECK(strstr(err, "'linear'") != NULL);
    CHECK_INT(retry("{\"strategy\": \"fixedDelay\", \"delayInterval\": \"00:00:01\"}", &p, err),
              -1);
    CHECK(strstr(err, "retry.maxRetryCount") != NULL);
    CHECK_INT(retry("{\"strategy\": \"fixedDelay\", \"maxRetryCount\": -2, "
                    "\"delayInterval\": \"00:00:01\"}", &p, err), -1);
    CHECK(strstr(err, "-2") != NULL);
    CHECK_INT(retry("{\"strategy\": \"fixedDelay\", \"maxRetryCount\": 1}", &p, err), -1);
    CHECK(strstr(err, "retry.delayInterval") != NULL);
    CHECK_INT(retry("{\"strategy\": \"fixedDelay\", \"maxRetryCount\": 1, "
                    "\"delayInterval\": \"ten seconds\"}", &p, err), -1);
    CHECK(strstr(err, "TimeSpan") != NULL);
    CHECK_INT(retry("{\"strategy\": \"exponentialBackoff\", \"maxRetryCount\": 1, "
                    "\"minimumInterval\": \"00:01:00\", \"maximumInterval\": \"00:00:01\"}",
                    &p, err), -1);
    CHECK(strstr(err, "maximumInterval") != NULL);
}

int main(void)
{
    RUN(value_bytes);
    RUN(value_new);
    RUN(retry_policies);
    RUN(retry_errors);
    return TEST_REPORT();
}
