/*
 * buf.c -- growable byte buffers with a hard maximum (see buf.h).
 */
#include "buf.h"
#include "codec.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void buf_init(buf_t *b, size_t max)
{
    b->p = NULL;
    b->len = 0;
    b->cap = 0;
    b->max = max;
}

void buf_free(buf_t *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

void buf_reset(buf_t *b)
{
    b->len = 0;
    if (b->p)
        b->p[0] = '\0';
}

int buf_reserve(buf_t *b, size_t extra)
{
    if (extra > b->max || b->len > b->max - extra)
        return -1;
    size_t need = b->len + extra;
    if (need <= b->cap && b->p)
        return 0;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap = cap > ((size_t)-1) / 2 ? need : cap * 2;
    if (cap > b->max)
        cap = b->max;
    char *p = realloc(b->p, cap + 1);
    if (!p)
        return -1;
    b->p = p;
    b->cap = cap;
    return 0;
}

int buf_append_grow(buf_t *b, const void *data, size_t len)
{
    if (buf_reserve(b, len) != 0)
        return -1;
    if (len)
        memcpy(b->p + b->len, data, len);
    b->len += len;
    b->p[b->len] = '\0';
    return 0;
}


int buf_vprintf(buf_t *b, const char *fmt, va_list ap)
{
    va_list cp;
    char small[256];
    va_copy(cp, ap);
    int n = vsnprintf(small, sizeof small, fmt, cp);
    va_end(cp);
    if (n < 0)
        return -1;
    if ((size_t)n < sizeof small)
        return buf_append(b, small, (size_t)n);
    if (buf_reserve(b, (size_t)n) != 0)
        return -1;
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
    return 0;
}

int buf_printf(buf_t *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = buf_vprintf(b, fmt, ap);
    va_end(ap);
    return rc;
}

/* 1 for the bytes a JSON string must escape: controls, '"' and '\\'. */
/* 1: escaped; 2: the lead byte of a multi-byte sequence, checked. */
static const unsigned char JSON_ESCAPED[256] = {
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    ['"'] = 1, ['\\'] = 1,
    [0x80 ... 0xff] = 2,
};

/* Nonzero when any of the 8 bytes at p may need JSON_ESCAPED's attention
 * (a control, '"', '\\' or a byte >= 0x80), a word at a time: most header
 * values have none, and are skipped 8 bytes per step. False positives only
 * send the word through the byte loop. */
static inline uint64_t json_special8(const char *p)
{
    const uint64_t ones = 0x0101010101010101ull, high = 0x8080808080808080ull;
    uint64_t x;
    memcpy(&x, p, 8);
    uint64_t quote = x ^ (ones * '"'), bslash = x ^ (ones * '\\');
    uint64_t lt = (x - ones * 0x20) & ~x;
    uint64_t q = (quote - ones) & ~quote;
    uint64_t bs = (bslash - ones) & ~bslash;
    return (lt | q | bs | x) & high;
}

static int json_escape(buf_t *b, const char *s, size_t len, int utf8_only)
{
    static const char hex[] = "0123456789abcdef";
    size_t start = 0;
    for (size_t i = 0; i < len; i++) {
        while (len - i >= 8 && !json_special8(s + i))
            i += 8;
        if (i >= len)
            break;
        if (len - i < 8) { /* the tail: the last word, or padded with plain bytes */
            if (len >= 8) {
                if (!json_special8(s + len - 8))
                    break;
            } else {
                char tail[8] = {'a', 'a', 'a', 'a', 'a', 'a', 'a', 'a'};
                for (size_t k = i; k < len; k++) /* only what is left to check */
                    tail[k - i] = s[k];
                if (!json_special8(tail))
                    break;
            }
        }
        unsigned char c = (unsigned char)s[i];
        if (!JSON_ESCAPED[c])
            continue;
        if (JSON_ESCAPED[c] == 2) {
            size_t k = utf8_only ? utf8_char_len((const unsigned char *)s + i, len - i) : 1;
            if (k) {
                i += k - 1;
                continue;
            }
        }
        if (buf_append(b, s + start, i - start) != 0)
            return -1;
        if (c >= 0x80) {
            /* Not UTF-8: JSON text must be, so the byte becomes U+FFFD. */
            if (buf_append(b, "\xef\xbf\xbd", 3) != 0)
                return -1;
            start = i + 1;
            continue;
        }
        char esc[7] = {'\\', 0, 0, 0, 0, 0, 0};
        size_t n = 2;
        switch (c) {
        case '"': esc[1] = '"'; break;
        case '\\': esc[1] = '\\'; break;
        case '\n': esc[1] = 'n'; break;
        case '\r': esc[1] = 'r'; break;
        case '\t': esc[1] = 't'; break;
        default:
            esc[1] = 'u';
            esc[2] = '0';
            esc[3] = '0';
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            n = 6;
        }
        if (buf_append(b, esc, n) != 0)
            return -1;
        start = i + 1;
    }
    return buf_append(b, s + start, len - start);
}

int buf_json_escape(buf_t *b, const char *s, size_t len) { return json_escape(b, s, len, 0); }

int buf_json_escape_utf8(buf_t *b, const char *s, size_t len) { return json_escape(b, s, len, 1); }

void buf_consume(buf_t *b, size_t n)
{
    if (n >= b->len) {
        buf_reset(b);
        return;
    }
    memmove(b->p, b->p + n, b->len - n);
    b->len -= n;
    b->p[b->len] = '\0';
}

char *buf_steal(buf_t *b)
{
    char *p = b->p;
    if (!p)
        p = calloc(1, 1);
    b->p = NULL;
    b->len = b->cap = 0;
    return p;
}

int buf_move(buf_t *dst, buf_t *src)
{
    if (src->len > dst->max)
        return -1;
    free(dst->p);
    dst->p = src->p;
    dst->len = src->len;
    dst->cap = src->cap < dst->max ? src->cap : dst->max; /* cap <= max holds */
    src->p = NULL;
    src->len = src->cap = 0;
    return 0;
}

/* "00" to "99": numbers are written two digits per division (status codes,
 * lengths and deadlines go out with every invocation). */
#define D10(t) #t "0" #t "1" #t "2" #t "3" #t "4" #t "5" #t "6" #t "7" #t "8" #t "9"
static const char DIGITS2[201] =
    D10(0) D10(1) D10(2) D10(3) D10(4) D10(5) D10(6) D10(7) D10(8) D10(9);

int buf_put_uint(buf_t *b, unsigned long long v)
{
    char tmp[24];
    size_t i = sizeof tmp;
    while (v >= 100) {
        unsigned d = (unsigned)(v % 100);
        v /= 100;
        i -= 2;
        memcpy(tmp + i, DIGITS2 + 2 * d, 2);
    }
    if (v >= 10) {
        i -= 2;
        memcpy(tmp + i, DIGITS2 + 2 * v, 2);
    } else {
        tmp[--i] = (char)('0' + v);
    }
    return buf_append(b, tmp + i, sizeof tmp - i);
}

int buf_put_ms(buf_t *b, unsigned long long ns)
{
    unsigned long long us = (ns + 500) / 1000;
    char frac[4] = {(char)('0' + us / 100 % 10), (char)('0' + us / 10 % 10),
                    (char)('0' + us % 10), 0};
    if (buf_put_uint(b, us / 1000) != 0 || buf_putc(b, '.') != 0)
        return -1;
    return buf_append(b, frac, 3);
}
