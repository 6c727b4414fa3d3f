/*
 * fuzz_traceparent.c -- libFuzzer driver for the W3C trace context an HTTP
 * caller sends (src/telemetry/traceparent.c). Input: the header value.
 * Whatever parses must have well-formed ids that are not all zeros, and a
 * child span made from it must parse back with the same trace id and
 * flags and a new parent id; tracestate_ok must accept only printable
 * ASCII within its limit.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/telemetry/traceparent.h"

static int hex_ok(const char *s, size_t n)
{
    int nonzero = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return 0;
        nonzero |= c != '0';
    }
    return nonzero && s[n] == '\0';
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sv_t text = {(const char *)data, size};
    traceparent_t tp;
    if (traceparent_parse(text, &tp) == 0) {
        if (!hex_ok(tp.trace_id, 32) || !hex_ok(tp.parent_id, 16) || tp.flags > 255)
            abort();
        char child[TRACEPARENT_SIZE], next[TRACEPARENT_SIZE];
        traceparent_child(&tp, child);
        traceparent_t back;
        if (strlen(child) != TRACEPARENT_LEN || traceparent_parse(sv_cstr(child), &back) != 0 ||
            strcmp(back.trace_id, tp.trace_id) != 0 || back.flags != tp.flags)
            abort();
        traceparent_next_span(child, next);
        traceparent_t again;
        if (traceparent_parse(sv_cstr(next), &again) != 0 ||
            strcmp(again.trace_id, tp.trace_id) != 0)
            abort();
    }
    if (tracestate_ok(text)) {
        if (size > TRACESTATE_MAX)
            abort();
        for (size_t i = 0; i < size; i++)
            if (data[i] < 0x20 || data[i] > 0x7e)
                abort();
    }
    return 0;
}
