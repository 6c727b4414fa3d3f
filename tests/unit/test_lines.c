/*
 * test_lines.c -- unit tests for src/util/lines.c: a stream into lines.
 */
#include <stdio.h>
#include <string.h>

#include "../../src/util/buf.h"
#include "../../src/util/lines.h"
#include "test.h"

static char got[4096];

static void emit(void *ctx, const char *s, size_t n)
{
    (void)ctx;
    size_t used = strlen(got);
    snprintf(got + used, sizeof got - used, "[%.*s]", (int)n, s);
}

TEST(split_across_reads)
{
    buf_t line;
    buf_init(&line, 64);
    got[0] = '\0';
    lines_feed(&line, 16, "one\ntw", 6, emit, NULL);
    CHECK_STR(got, "[one]");
    lines_feed(&line, 16, "o\n\nthr", 6, emit, NULL);
    CHECK_STR(got, "[one][two][]");
    lines_end(&line, emit, NULL);
    CHECK_STR(got, "[one][two][][thr]");
    CHECK_INT(line.len, 0);
    lines_end(&line, emit, NULL); /* nothing left: nothing emitted */
    CHECK_STR(got, "[one][two][][thr]");
    buf_free(&line);
}

TEST(long_lines_in_pieces)
{
    buf_t line;
    buf_init(&line, 64);
    got[0] = '\0';
    lines_feed(&line, 4, "abcdefghij\nxy", 13, emit, NULL);
    CHECK_STR(got, "[abcd][efgh][ij]");
    lines_feed(&line, 4, "zw", 2, emit, NULL); /* "xyzw" reaches max: kept until more */
    lines_feed(&line, 4, "v\n", 2, emit, NULL);
    CHECK_STR(got, "[abcd][efgh][ij][xyzw][v]");
    CHECK(line.len <= 4);
    buf_free(&line);
}

int main(void)
{
    RUN(split_across_reads);
    RUN(long_lines_in_pieces);
    return TEST_REPORT();
}
