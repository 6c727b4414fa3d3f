/*
 * lines.c -- a byte stream into lines (see lines.h).
 */
#include "lines.h"

#include <string.h>

void lines_feed(buf_t *line, size_t max, const char *d, size_t n, lines_emit_fn emit,
                void *ctx)
{
    while (n) {
        const char *nl = memchr(d, '\n', n);
        size_t take = nl ? (size_t)(nl - d) : n;
        if (line->len + take > max) {
            size_t room = max - line->len;
            buf_append(line, d, room);
            emit(ctx, line->p, line->len);
            buf_reset(line);
            d += room;
            n -= room;
            continue;
        }
        if (!nl) {
            buf_append(line, d, take);
            return;
        }
        if (line->len) {
            buf_append(line, d, take);
            emit(ctx, line->p, line->len);
            buf_reset(line);
        } else {
            emit(ctx, d, take);
        }
        d = nl + 1;
        n -= take + 1;
    }
}

void lines_end(buf_t *line, lines_emit_fn emit, void *ctx)
{
    if (line->len)
        emit(ctx, line->p, line->len);
    buf_reset(line);
}
