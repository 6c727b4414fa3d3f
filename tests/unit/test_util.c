/*
 * test_util.c -- unit tests for the small pieces under src/util/ and the
 * method table: bounded buffers, arenas, ids, HTTP method sets, status texts.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/http/method.h"
#include "../../src/http/server.h"
#include "../../src/util/arena.h"
#include "../../src/util/buf.h"
#include "../../src/util/id.h"
#include "test.h"

TEST(buf_append_and_max)
{
    buf_t b;
    buf_init(&b, 8);
    CHECK_INT(buf_puts(&b, "abcd"), 0);
    CHECK_INT(buf_puts(&b, "efgh"), 0);
    CHECK_STR(b.p, "abcdefgh");
    CHECK_INT(buf_putc(&b, 'x'), -1); /* past max: refused, unchanged */
    CHECK_INT(b.len, 8);
    CHECK_STR(b.p, "abcdefgh");
    buf_consume(&b, 3);
    CHECK_STR(b.p, "defgh");
    buf_reset(&b);
    CHECK_INT(b.len, 0);
    CHECK_STR(b.p, "");
    buf_free(&b);
}

TEST(buf_printf_long)
{
    buf_t b;
    buf_init(&b, 1 << 20);
    char big[1000];
    memset(big, 'z', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    CHECK_INT(buf_printf(&b, "[%s]%d", big, 42), 0);
    CHECK_INT(b.len, 1003);
    CHECK(b.p[0] == '[' && b.p[1000] == ']' && strcmp(b.p + 1001, "42") == 0);
    buf_t small;
    buf_init(&small, 10);
    CHECK_INT(buf_printf(&small, "%s", big), -1);
    CHECK_INT(small.len, 0);
    buf_free(&small);
    buf_free(&b);
}

TEST(buf_json_escape_controls)
{
    buf_t b;
    buf_init(&b, 1024);
    const char in[] = "a\"b\\c\nd\te\x01";
    CHECK_INT(buf_json_escape(&b, in, sizeof in - 1), 0);
    CHECK_STR(b.p, "a\\\"b\\\\c\\nd\\te\\u0001");
    buf_free(&b);
}

TEST(buf_json_escape_utf8_keeps_utf8_and_replaces_what_is_not)
{
    buf_t b;
    buf_init(&b, 1024);
    /* é, €, U+1F600 pass; a lone 0xff, a cut sequence, an overlong '/',
     * a surrogate each become U+FFFD (one per byte that starts nothing). */
    const char in[] = "\xc3\xa9" "\xe2\x82\xac" "\xf0\x9f\x98\x80" "A" "\xff\xfe" "B"
                      "\xe2\x82" "\"" "\xc0\xaf" "\xed\xa0\x80";
    CHECK_INT(buf_json_escape_utf8(&b, in, sizeof in - 1), 0);
#define R "\xef\xbf\xbd"
    CHECK_STR(b.p, "\xc3\xa9" "\xe2\x82\xac" "\xf0\x9f\x98\x80" "A" R R "B" R R "\\\"" R R R R R);
    /* cut at the end of the input */
    buf_reset(&b);
    CHECK_INT(buf_json_escape_utf8(&b, "x\xe2\x82", 3), 0);
    CHECK_STR(b.p, "x" R R);
    /* buf_json_escape keeps the bytes (the worker protocol's way) */
    buf_reset(&b);
    CHECK_INT(buf_json_escape(&b, "A\xff\"", 3), 0);
    CHECK_STR(b.p, "A\xff\\\"");
#undef R
    buf_free(&b);
}

/* The reference: one byte at a time, as JSON (RFC 8259) asks. */
static void escape_ref(buf_t *b, const unsigned char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned c = s[i];
        if (c == '"' || c == '\\')
            buf_printf(b, "\\%c", c);
        else if (c == '\n')
            buf_lit(b, "\\n");
        else if (c == '\r')
            buf_lit(b, "\\r");
        else if (c == '\t')
            buf_lit(b, "\\t");
        else if (c < 0x20)
            buf_printf(b, "\\u%04x", c);
        else
            buf_putc(b, (char)c);
    }
}

/* Runs of plain bytes are skipped a word at a time: every byte value, at
 * every position of runs of each length (word edges, the tail), and pairs
 * of specials in one word, must come out as the byte-at-a-time reference. */
TEST(buf_json_escape_every_byte_at_every_offset)
{
    buf_t got, want;
    buf_init(&got, 1 << 16);
    buf_init(&want, 1 << 16);
    unsigned char in[24];
    int bad = 0;
    for (size_t len = 1; len <= sizeof in && !bad; len++)
        for (size_t pos = 0; pos < len && !bad; pos++)
            for (unsigned v = 0; v < 256 && !bad; v++) {
                memset(in, 'a' + (int)(len % 26), sizeof in);
                in[pos] = (unsigned char)v;
                if (pos + 3 < len)
                    in[pos + 3] = '\\';
                buf_reset(&got);
                buf_reset(&want);
                buf_json_escape(&got, (const char *)in, len);
                escape_ref(&want, in, len);
                if (got.len != want.len || memcmp(got.p, want.p, got.len) != 0)
                    bad = 1;
            }
    CHECK_INT(bad, 0);
    buf_free(&got);
    buf_free(&want);
}

TEST(buf_put_uint_as_printf)
{
    buf_t b;
    buf_init(&b, 1024);
    char want[32];
    unsigned long long v[] = {0, 1, 9, 10, 11, 99, 100, 101, 200, 999, 1000, 4096,
                              65535, 100000, 999999, 1000000, 4294967296ull,
                              18446744073709551615ull};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        buf_reset(&b);
        CHECK_INT(buf_put_uint(&b, v[i]), 0);
        snprintf(want, sizeof want, "%llu", v[i]);
        CHECK_STR(b.p, want);
    }
    for (unsigned long long x = 0; x < 20000; x += 7) { /* every length and digit pair */
        buf_reset(&b);
        buf_put_uint(&b, x * 1000003);
        snprintf(want, sizeof want, "%llu", x * 1000003);
        if (strcmp(b.p, want) != 0) {
            CHECK_STR(b.p, want);
            break;
        }
    }
    buf_free(&b);
}

TEST(buf_steal_empty)
{
    buf_t b;
    buf_init(&b, 16);
    char *p = buf_steal(&b);
    CHECK(p != NULL && p[0] == '\0');
    free(p);
}

static int cleanups;
static void count_cleanup(void *p) { cleanups += *(int *)p; }

TEST(arena_alloc_reset_free)
{
    arena_t a;
    arena_init(&a, 256);
    char *s = arena_strndup(&a, "hello world", 5);
    CHECK_STR(s, "hello");
    void *p = arena_alloc(&a, 100);
    CHECK(p != NULL && ((uintptr_t)p & 15) == 0);
    void *big = arena_alloc(&a, 10000); /* larger than a block */
    CHECK(big != NULL);
    memset(big, 1, 10000);
    static int one = 1;
    CHECK_INT(arena_on_cleanup(&a, count_cleanup, &one), 0);
    CHECK_INT(arena_on_cleanup(&a, count_cleanup, &one), 0);
    cleanups = 0;
    arena_reset(&a);
    CHECK_INT(cleanups, 2);
    char *z = arena_calloc(&a, 64);
    CHECK(z != NULL && z[0] == 0 && z[63] == 0);
    for (int i = 0; i < 1000; i++)
        CHECK(arena_alloc(&a, 48) != NULL);
    arena_on_cleanup(&a, count_cleanup, &one);
    arena_free(&a);
    CHECK_INT(cleanups, 3);
}

TEST(uuid_format_and_uniqueness)
{
    char a[UUID_STR_LEN], b[UUID_STR_LEN];
    uuid_generate(a);
    uuid_generate(b);
    CHECK_INT(strlen(a), 36);
    CHECK(strcmp(a, b) != 0);
    CHECK(a[8] == '-' && a[13] == '-' && a[18] == '-' && a[23] == '-');
    CHECK(a[14] == '4');
    CHECK(strchr("89ab", a[19]) != NULL);
    for (int i = 0; i < 36; i++)
        CHECK(a[i] == '-' || (a[i] >= '0' && a[i] <= '9') || (a[i] >= 'a' && a[i] <= 'f'));
}

TEST(uuid_v7_time_ordered)
{
    char a[UUID_STR_LEN], b[UUID_STR_LEN], c[UUID_STR_LEN];
    uuid_generate_v7(a, 0x0123456789abLL);
    CHECK_INT(strlen(a), 36);
    CHECK(strncmp(a, "01234567-89ab-7", 15) == 0); /* the time, then version 7 */
    CHECK(strchr("89ab", a[19]) != NULL);
    uuid_generate_v7(b, 0x0123456789abLL);
    CHECK(strcmp(a, b) != 0); /* same millisecond, still unique */
    uuid_generate_v7(c, 0x0123456789acLL);
    CHECK(strcmp(a, c) < 0 && strcmp(b, c) < 0); /* later sorts later */
}

TEST(method_names_and_lists)
{
    CHECK_INT(method_from_name("get", 3), METHOD_GET);
    CHECK_INT(method_from_name("PATCH", 5), METHOD_PATCH);
    CHECK_INT(method_from_name("BREW", 4), 0);
    CHECK_INT(method_from_name("GETX", 3), METHOD_GET); /* length-bounded */
    CHECK_STR(method_name(METHOD_DELETE), "DELETE");
    CHECK(method_name(METHOD_GET | METHOD_POST) == NULL);
    char list[64];
    method_list(METHOD_GET | METHOD_HEAD | METHOD_POST, list, sizeof list);
    CHECK_STR(list, "GET, HEAD, POST");
    method_list(METHOD_ALL, list, 12); /* truncated, still terminated */
    CHECK(strlen(list) < 12);
}

TEST(status_reason_phrases)
{
    CHECK_STR(http_status_text(200), "OK");
    CHECK_STR(http_status_text(203), "Non-Authoritative Information");
    CHECK_STR(http_status_text(418), "Client Error"); /* not registered: its class */
    CHECK_STR(http_status_text(599), "Server Error");
    CHECK_STR(http_status_reason(451), "Unavailable For Legal Reasons");
    CHECK(http_status_reason(299) == NULL);
}

int main(void)
{
    RUN(buf_append_and_max);
    RUN(buf_printf_long);
    RUN(buf_json_escape_controls);
    RUN(buf_json_escape_utf8_keeps_utf8_and_replaces_what_is_not);
    RUN(buf_json_escape_every_byte_at_every_offset);
    RUN(buf_put_uint_as_printf);
    RUN(buf_steal_empty);
    RUN(arena_alloc_reset_free);
    RUN(uuid_format_and_uniqueness);
    RUN(uuid_v7_time_ordered);
    RUN(method_names_and_lists);
    RUN(status_reason_phrases);
    return TEST_REPORT();
}
