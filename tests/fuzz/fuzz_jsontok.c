/*
 * fuzz_jsontok.c -- libFuzzer driver for the JSON helpers that read the
 * workers' result frames and the host's invoke frames (src/util/jsontok.c):
 * tokenize, then look up, skip and decode every value.
 */
#include <stddef.h>
#include <stdint.h>

#include "../../src/util/jsontok.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static jsmntok_t tok[512];
    jt_doc_t d;
    if (jt_parse(&d, (const char *)data, size, tok, 512) != 0)
        return 0;
    arena_t a;
    arena_init(&a, 1024);
    static const char *keys[] = {"ok", "status", "headers", "error", "http", "params", "x"};
    for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++)
        (void)jt_get(&d, 0, keys[k]);
    for (int i = 0; i < d.ntok; i++) {
        sv_t s;
        long long v;
        int next = jt_skip(&d, i);
        if (next <= i || next > d.ntok)
            __builtin_trap();
        if (jt_string(&d, i, &a, &s) == 0 && s.n > (size_t)(d.tok[i].end - d.tok[i].start))
            __builtin_trap(); /* unescaping never grows the text */
        (void)jt_int(&d, i, &v);
        (void)jt_is_true(&d, i);
        (void)jt_get(&d, i, "ok");
    }
    arena_free(&a);
    return 0;
}
