/*
 * fuzz_lambda_proxy.c -- libFuzzer driver for what a Lambda runtime posts
 * to the host (src/runtimes/lambda_event.c): the API Gateway proxy result
 * mapped onto a response, and the error document of /error and
 * /init/error; plus the event of a non-HTTP invocation built from the same
 * bytes, and the Root of an X-Ray trace header (X-Amzn-Trace-Id).
 *
 * Whatever the input, a mapped response must be one the HTTP server can
 * send as it is: a status from 200 to 599 and headers whose names are
 * tokens and whose values hold no CR, LF or NUL; a refused one leaves the
 * response empty and says why.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "../../src/runtimes/lambda_event.h"
#include "../../src/util/codec.h"

static int token_char(unsigned char c)
{
    return c > 0x20 && c < 0x7f && !strchr("\"(),/:;<=>?@[\\]{}", c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    arena_t a;
    arena_init(&a, 1024);
    invocation_t *inv = invocation_new(&a, NULL, NULL, SV_NULL);
    if (!inv)
        __builtin_trap();
    char err[600];
    err[0] = '\0';
    if (lambda_proxy_result(inv, text, size, err, sizeof err) == 0) {
        if (inv->status < 200 || inv->status > 599)
            __builtin_trap();
        for (size_t i = 0; i < inv->nres_headers; i++) {
            sv_t n = inv->res_headers[i].name, v = inv->res_headers[i].value;
            if (!n.n)
                __builtin_trap();
            for (size_t k = 0; k < n.n; k++)
                if (!token_char((unsigned char)n.p[k]))
                    __builtin_trap();
            for (size_t k = 0; k < v.n; k++)
                if (v.p[k] == '\r' || v.p[k] == '\n' || v.p[k] == '\0')
                    __builtin_trap();
        }
    } else {
        if (strncmp(err, "Malformed Lambda proxy response: ", 33) != 0 || inv->status != 200 ||
            inv->nres_headers || inv->res_body.len)
            __builtin_trap();
    }

    char root[36];
    int sampled;
    if (lambda_xray_root(sv_make(text, size), root, &sampled) == 0) {
        /* "1-" 8 hex "-" 24 hex, lower case */
        if (strlen(root) != 35 || root[0] != '1' || root[1] != '-' || root[10] != '-')
            __builtin_trap();
        for (size_t k = 2; k < 35; k++)
            if (k != 10 && !((root[k] >= '0' && root[k] <= '9') || (root[k] >= 'a' && root[k] <= 'f')))
                __builtin_trap();
    }
    if (sampled != 0 && sampled != 1)
        __builtin_trap();

    char desc[300], trace[300];
    lambda_error_describe(text, size, sv_make(text, size > 8 ? 8 : size), desc, sizeof desc,
                          trace, sizeof trace);
    for (const char *p = desc; *p; p++)
        if ((unsigned char)*p < 0x20)
            __builtin_trap();
    if (strlen(desc) >= sizeof desc || strlen(trace) >= sizeof trace)
        __builtin_trap();

    buf_t ev;
    buf_init(&ev, LAMBDA_MAX_PAYLOAD);
    inv->trigger_data = text;
    inv->trigger_len = size;
    if (lambda_event_raw(&ev, inv) != 0 && size < LAMBDA_MAX_PAYLOAD / 8)
        __builtin_trap();
    (void)utf8_valid(text, size);
    buf_free(&ev);
    arena_free(&a);
    return 0;
}
