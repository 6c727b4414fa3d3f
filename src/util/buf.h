/*
 * buf.h -- growable byte buffers with a hard maximum.
 *
 * Lifecycle: buf_init() (no allocation), appends grow the storage up to
 * `max` bytes, buf_free() releases it. buf_reset() keeps the storage for
 * reuse. The contents are always followed by a NUL byte that is not counted
 * in len, so a buffer of text can be used as a C string.
 */
#ifndef STRATUS_BUF_H
#define STRATUS_BUF_H

#include <stdarg.h>
#include <stddef.h>
#include <string.h>

typedef struct buf {
    char *p;    /* NULL until the first append */
    size_t len; /* bytes used */
    size_t cap; /* bytes allocated (excluding the NUL) */
    size_t max; /* hard limit of len */
} buf_t;

void buf_init(buf_t *b, size_t max);
void buf_free(buf_t *b);
void buf_reset(buf_t *b);

/* Make room for `extra` more bytes. 0, or -1 past max or out of memory. */
int buf_reserve(buf_t *b, size_t extra);

/* Append bytes, a C string, or formatted text. 0, or -1 (nothing appended)
 * when the result would exceed max. Appends that fit the storage are
 * inline: the request and frame paths make dozens per invocation. */
int buf_append_grow(buf_t *b, const void *data, size_t len);

static inline int buf_append(buf_t *b, const void *data, size_t len)
{
    if (b->p && len <= b->cap - b->len) { /* cap <= max: nothing to check */
        if (len) /* data may be NULL then */
            memcpy(b->p + b->len, data, len);
        b->len += len;
        b->p[b->len] = '\0';
        return 0;
    }
    return buf_append_grow(b, data, len);
}

static inline int buf_puts(buf_t *b, const char *s) { return buf_append(b, s, strlen(s)); }

/* Append a string literal (its length known at compile time). */
#define buf_lit(b, lit) buf_append((b), "" lit, sizeof(lit) - 1)

static inline int buf_putc(buf_t *b, char c)
{
    if (b->p && b->len < b->cap) {
        b->p[b->len++] = c;
        b->p[b->len] = '\0';
        return 0;
    }
    return buf_append_grow(b, &c, 1);
}
int buf_printf(buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int buf_vprintf(buf_t *b, const char *fmt, va_list ap);

/* Append an unsigned integer in decimal (no printf on hot paths). */
int buf_put_uint(buf_t *b, unsigned long long v);

/* Append a duration given in nanoseconds as milliseconds with three
 * decimals ("0.125"). */
int buf_put_ms(buf_t *b, unsigned long long ns);

/* Append `s` as the inside of a JSON string (escaped, without quotes).
 * Bytes that are not UTF-8 pass as they are (the worker protocol carries
 * request bytes exactly). */
int buf_json_escape(buf_t *b, const char *s, size_t len);

/* The same for JSON text that others read (log lines): a byte that is not
 * part of valid UTF-8 becomes U+FFFD. */
int buf_json_escape_utf8(buf_t *b, const char *s, size_t len);

/* Drop the first n bytes. */
void buf_consume(buf_t *b, size_t n);

/* Hand the storage to the caller (who frees it); the buffer is left empty. */
char *buf_steal(buf_t *b);

/* Move src's contents and storage into dst without copying: dst's old
 * storage is freed and dst keeps its maximum; src is left empty with its
 * own. Returns 0, or -1 (nothing moved) when src holds more than dst's
 * maximum allows. */
int buf_move(buf_t *dst, buf_t *src);

#endif
