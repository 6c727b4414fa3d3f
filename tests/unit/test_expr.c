/*
 * test_expr.c -- unit tests for binding expressions (src/core/expr.c).
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/core/expr.h"
#include "test.h"

#define NOW 1795813509123LL /* 2026-11-27T21:05:09.123Z */

static char out_text[4096], err_text[512];

/* Resolve tmpl against the JSON text data; 0 or -1, results in out_text/err_text. */
static int resolve(const char *tmpl, const char *data)
{
    json_t *d = data ? json_loads(data, 0, NULL) : NULL;
    buf_t b;
    buf_init(&b, 4096);
    err_text[0] = '\0';
    int rc = expr_resolve(tmpl, d, NOW, &b, err_text, sizeof err_text);
    snprintf(out_text, sizeof out_text, "%s", b.p ? b.p : "");
    buf_free(&b);
    json_decref(d);
    return rc;
}

TEST(plain_and_names)
{
    CHECK_INT(resolve("container/fixed.txt", NULL), 0);
    CHECK_STR(out_text, "container/fixed.txt");
    CHECK_INT(resolve("thumbs/{name}.png", "{\"name\": \"cat\", \"ext\": \"jpg\"}"), 0);
    CHECK_STR(out_text, "thumbs/cat.png");
    CHECK_INT(resolve("{NAME}-{Ext}", "{\"name\": \"cat\", \"ext\": \"jpg\"}"), 0);
    CHECK_STR(out_text, "cat-jpg"); /* case-insensitive */
    CHECK_INT(resolve("q-{DequeueCount}-{ok}-{r}", "{\"DequeueCount\": 3, \"ok\": true, "
                                                   "\"r\": 1.5}"),
              0);
    CHECK_STR(out_text, "q-3-true-1.5");
    CHECK_INT(resolve("orders/{order.id}/{order.customer.name}",
                      "{\"order\": {\"id\": 42, \"customer\": {\"name\": \"ann\"}}}"),
              0);
    CHECK_STR(out_text, "orders/42/ann");
}

TEST(builtins)
{
    CHECK_INT(resolve("out/{DateTime}.txt", NULL), 0);
    CHECK_STR(out_text, "out/2026-11-27T21-05-09Z.txt");
    CHECK_INT(resolve("{sys.utcnow}", NULL), 0);
    CHECK_STR(out_text, "2026-11-27T21:05:09.123Z");
    CHECK_INT(resolve("{rand-guid}", NULL), 0);
    CHECK_INT(strlen(out_text), 36);
    char first[40];
    snprintf(first, sizeof first, "%s", out_text);
    CHECK_INT(resolve("{sys.randguid}", NULL), 0);
    CHECK(strcmp(first, out_text) != 0);
}

TEST(formats)
{
    /* {DateTime:format}: .NET custom and standard date formats, as in Azure */
    CHECK_INT(resolve("logs/{DateTime:yyyy}/{DateTime:MM}/{DateTime:dd}/x", NULL), 0);
    CHECK_STR(out_text, "logs/2026/11/27/x");
    CHECK_INT(resolve("{datetime:yyyyMMdd-HHmmss.fff}", NULL), 0);
    CHECK_STR(out_text, "20261127-210509.123");
    CHECK_INT(resolve("{DateTime:yy-M-d h tt ddd MMM}", NULL), 0);
    CHECK_STR(out_text, "26-11-27 9 PM Fri Nov");
    CHECK_INT(resolve("{DateTime:dddd MMMM 'at' HH\\h%m}", NULL), 0);
    CHECK_STR(out_text, "Friday November at 21h5");
    CHECK_INT(resolve("{DateTime:s}|{DateTime:o}|{DateTime:u}", NULL), 0);
    CHECK_STR(out_text, "2026-11-27T21:05:09|2026-11-27T21:05:09.1230000Z|2026-11-27 21:05:09Z");
    CHECK_INT(resolve("{DateTime:FFFFFF}|{DateTime:}|{sys.utcnow:HH}", NULL), 0);
    CHECK_STR(out_text, "123|2026-11-27T21-05-09Z|21");
    /* {rand-guid:format} */
    CHECK_INT(resolve("{rand-guid:N}", NULL), 0);
    CHECK_INT(strlen(out_text), 32);
    CHECK(!strchr(out_text, '-'));
    CHECK_INT(resolve("{rand-guid:B}", NULL), 0);
    CHECK(strlen(out_text) == 38 && out_text[0] == '{' && out_text[37] == '}');
    /* a format on another value: the value as it is (Azure formats only times and GUIDs) */
    CHECK_INT(resolve("{name:yyyy}", "{\"name\": \"cat\"}"), 0);
    CHECK_STR(out_text, "cat");
    CHECK_INT(resolve("{DateTime:Q}", NULL), -1);
    CHECK_STR(err_text, "'{DateTime:Q}': date format 'Q': not a standard format (d D f F g G M O "
                        "R s t T u U Y) nor a custom one such as yyyy-MM-dd");
    CHECK_INT(resolve("{DateTime:yyyy'}", NULL), -1);
    CHECK_CONTAINS(err_text, "a quote that is not closed");
    CHECK_INT(resolve("{DateTime:ffffffff}", NULL), -1);
    CHECK_CONTAINS(err_text, "more than seven 'f' or 'F'");
    CHECK_INT(resolve("{rand-guid:Z}", NULL), -1);
    CHECK_STR(err_text, "'{rand-guid:Z}': GUID format 'Z': expected N, D, B or P");
    CHECK_INT(resolve("{:yyyy}", NULL), -1);
    CHECK_CONTAINS(err_text, "an empty name before ':'");
}

TEST(errors)
{
    CHECK_INT(resolve("a/{name}", "{\"id\": \"1\", \"DequeueCount\": 1}"), -1);
    CHECK_STR(err_text, "'{name}': the trigger has no value 'name' (it has: id, DequeueCount)");
    CHECK_INT(resolve("a/{name}", NULL), -1);
    CHECK_CONTAINS(err_text, "(it has: no values)");
    CHECK_INT(resolve("a/{name", "{}"), -1);
    CHECK_STR(err_text, "unclosed '{' in 'a/{name'");
    CHECK_INT(resolve("a/{x{y}", "{}"), -1);
    CHECK_CONTAINS(err_text, "unclosed '{'");
    CHECK_INT(resolve("a/{}", "{}"), -1);
    CHECK_STR(err_text, "'{}': an empty expression");
    CHECK_INT(resolve("{o}", "{\"o\": {\"a\": 1}}"), -1);
    CHECK_CONTAINS(err_text, "the value is an object");
    CHECK_INT(resolve("{o.}", "{\"o\": {\"a\": 1}}"), -1);
    CHECK_CONTAINS(err_text, "ends with '.'");
    CHECK_INT(resolve("{o.b}", "{\"o\": {\"a\": 1}}"), -1);
    CHECK_STR(err_text, "'{o.b}': the trigger has no value 'b' (it has: a)");
    CHECK_INT(resolve("{n}", "{\"n\": null}"), -1);
    CHECK_CONTAINS(err_text, "the value is null");
    char big[400];
    memset(big, 'x', sizeof big);
    big[0] = '{';
    big[sizeof big - 2] = '}';
    big[sizeof big - 1] = '\0';
    CHECK_INT(resolve(big, "{}"), -1);
    CHECK_CONTAINS(err_text, "longer than 256 characters");
}

static const char *lookup(void *ctx, const char *name)
{
    (void)ctx;
    if (!strcmp(name, "QueueName"))
        return "orders";
    if (!strcmp(name, "Empty"))
        return "";
    return NULL;
}

TEST(settings)
{
    buf_t b;
    buf_init(&b, 4096);
    CHECK_INT(expr_settings("%QueueName%-poison", lookup, NULL, &b, err_text, sizeof err_text), 0);
    CHECK_STR(b.p, "orders-poison");
    buf_reset(&b);
    CHECK_INT(expr_settings("100%% %Empty%x", lookup, NULL, &b, err_text, sizeof err_text), 0);
    CHECK_STR(b.p, "100% x");
    buf_reset(&b);
    CHECK_INT(expr_settings("%Nope%", lookup, NULL, &b, err_text, sizeof err_text), -1);
    CHECK_STR(err_text, "'%Nope%': the app setting 'Nope' is not set (local.settings.json "
                        "Values, or the environment)");
    CHECK_INT(expr_settings("50%", lookup, NULL, &b, err_text, sizeof err_text), -1);
    CHECK_CONTAINS(err_text, "without its closing '%'");
    buf_free(&b);
    CHECK(expr_has_braces("a/{b}"));
    CHECK(!expr_has_braces("a/b"));
    CHECK(!expr_has_braces("a/{b"));
}

int main(void)
{
    RUN(plain_and_names);
    RUN(builtins);
    RUN(formats);
    RUN(errors);
    RUN(settings);
    return TEST_REPORT();
}
