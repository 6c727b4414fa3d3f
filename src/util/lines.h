/*
 * lines.h -- splitting a byte stream (a child process's stdout or stderr)
 * into lines for the log, whatever the sizes of the reads.
 */
#ifndef STRATUS_LINES_H
#define STRATUS_LINES_H

#include <stddef.h>

#include "buf.h"

/* Called once per line, without its '\n'; s lives only during the call. */
typedef void (*lines_emit_fn)(void *ctx, const char *s, size_t n);

/* Feed the n bytes at d. Each '\n' ends a line; the unfinished tail waits
 * in `line` (the caller's buffer, kept between calls) for the next feed. A
 * line longer than max bytes is emitted in pieces of max bytes, so nothing
 * is lost and `line` never holds more than max. */
void lines_feed(buf_t *line, size_t max, const char *d, size_t n, lines_emit_fn emit,
                void *ctx);

/* At the end of the stream: emit the unfinished tail, if any, and empty
 * `line`. */
void lines_end(buf_t *line, lines_emit_fn emit, void *ctx);

#endif
