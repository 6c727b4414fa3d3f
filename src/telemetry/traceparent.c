/*
 * traceparent.c -- parsing and making W3C traceparent values (see
 * traceparent.h).
 */
#include "traceparent.h"

#include <stdint.h>
#include <string.h>

#include "../util/id.h"

/* 1 for the lower-case hex digits. Every invocation's trace context is
 * checked (by the host for a caller's, by a native worker for the host's):
 * a table, not a chain of comparisons per character. */
static const unsigned char LOWER_HEX[256] = {
    ['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1, ['6'] = 1, ['7'] = 1,
    ['8'] = 1, ['9'] = 1, ['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1, ['e'] = 1, ['f'] = 1,
};

/* n lower-case hex digits at p, not all '0' when nonzero. */
static int hex_field(const char *p, size_t n, int nonzero)
{
    unsigned ok = 1, any = 0;
    for (size_t i = 0; i < n; i++) {
        ok &= LOWER_HEX[(unsigned char)p[i]];
        any |= p[i] != '0';
    }
    return ok && (!nonzero || any);
}

int traceparent_parse(sv_t t, traceparent_t *out)
{
    if (!t.p || t.n < TRACEPARENT_LEN)
        return -1;
    const char *p = t.p;
    if (!hex_field(p, 2, 0) || (p[0] == 'f' && p[1] == 'f'))
        return -1;
    int v00 = p[0] == '0' && p[1] == '0';
    if (v00 ? t.n != TRACEPARENT_LEN : (t.n > TRACEPARENT_LEN && p[TRACEPARENT_LEN] != '-'))
        return -1;
    if (p[2] != '-' || p[35] != '-' || p[52] != '-')
        return -1;
    if (!hex_field(p + 3, 32, 1) || !hex_field(p + 36, 16, 1) || !hex_field(p + 53, 2, 0))
        return -1;
    memcpy(out->trace_id, p + 3, 32);
    out->trace_id[32] = '\0';
    memcpy(out->parent_id, p + 36, 16);
    out->parent_id[16] = '\0';
    unsigned hi = (unsigned)(p[53] <= '9' ? p[53] - '0' : p[53] - 'a' + 10);
    unsigned lo = (unsigned)(p[54] <= '9' ? p[54] - '0' : p[54] - 'a' + 10);
    out->flags = hi << 4 | lo;
    return 0;
}

/* A random 64-bit value that is not zero. */
static uint64_t nonzero64(void)
{
    uint64_t v;
    while ((v = id_random64()) == 0)
        ;
    return v;
}

static void put_span(char out[TRACEPARENT_SIZE])
{
    hex_put64(out + 36, nonzero64());
    out[52] = '-';
    out[TRACEPARENT_LEN] = '\0';
}

void traceparent_child(const traceparent_t *parent, char out[TRACEPARENT_SIZE])
{
    static const char digits[] = "0123456789abcdef";
    memcpy(out, "00-", 3);
    if (parent) {
        memcpy(out + 3, parent->trace_id, 32);
        out[53] = digits[(parent->flags >> 4) & 15];
        out[54] = digits[parent->flags & 15];
    } else {
        hex_put64(out + 3, id_random64());
        hex_put64(out + 19, nonzero64()); /* never all zeros */
        out[53] = out[54] = '0';
    }
    out[35] = '-';
    put_span(out);
}

void traceparent_next_span(const char *tp, char out[TRACEPARENT_SIZE])
{
    if (out != tp)
        memcpy(out, tp, TRACEPARENT_SIZE);
    put_span(out);
}

int tracestate_ok(sv_t t)
{
    if (!t.p || t.n == 0 || t.n > TRACESTATE_MAX)
        return 0;
    for (size_t i = 0; i < t.n; i++)
        if ((unsigned char)t.p[i] < 0x20 || (unsigned char)t.p[i] > 0x7e)
            return 0;
    return 1;
}
