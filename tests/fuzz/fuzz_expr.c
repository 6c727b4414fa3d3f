/*
 * fuzz_expr.c -- libFuzzer driver for binding expressions (src/core/expr.c):
 * the input is "TEMPLATE\nJSON" (the JSON optional). Every call must end
 * with a result or an error message, never a crash.
 */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/core/expr.h"

static const char *lookup(void *ctx, const char *name)
{
    (void)ctx;
    return strlen(name) % 2 ? "v" : NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    char *nl = strchr(text, '\n');
    json_t *doc = NULL;
    if (nl) {
        *nl = '\0';
        doc = json_loads(nl + 1, JSON_DECODE_ANY, NULL);
    }
    buf_t out;
    buf_init(&out, 1 << 16);
    char err[256];
    err[0] = '\0';
    if (expr_resolve(text, doc, 1795813509123LL, &out, err, sizeof err) != 0 && !err[0])
        abort(); /* a failure always says why */
    buf_reset(&out);
    err[0] = '\0';
    if (expr_settings(text, lookup, NULL, &out, err, sizeof err) != 0 && !err[0] &&
        out.len < out.max)
        abort();
    (void)expr_has_braces(text);
    buf_free(&out);
    json_decref(doc);
    free(text);
    return 0;
}
