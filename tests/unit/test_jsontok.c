/*
 * test_jsontok.c -- unit tests for the jsmn-based JSON helpers used on the
 * per-invocation frames (src/util/jsontok.c).
 */
#include <stdio.h>
#include <string.h>

#include "../../src/util/jsontok.h"
#include "test.h"

#define DOC(d, text) jt_parse(&(d), (text), strlen(text), tok, 64)

static jsmntok_t tok[64];

TEST(parse_object_and_get)
{
    jt_doc_t d;
    CHECK_INT(DOC(d, "{\"a\":1,\"b\":{\"c\":[1,2,{\"d\":3}]},\"e\":\"x\"}"), 0);
    int b = jt_get(&d, 0, "b");
    CHECK(b > 0);
    long long v = 0;
    CHECK_INT(jt_int(&d, jt_get(&d, 0, "a"), &v), 0);
    CHECK_INT(v, 1);
    /* skipping b's nested value must land on "e" */
    sv_t e;
    arena_t a;
    arena_init(&a, 256);
    CHECK_INT(jt_string(&d, jt_get(&d, 0, "e"), &a, &e), 0);
    CHECK(sv_eq(e, SV_LIT("x")));
    CHECK_INT(jt_get(&d, 0, "missing"), -1);
    CHECK_INT(jt_get(&d, jt_get(&d, 0, "a"), "x"), -1); /* not an object */
    CHECK(jt_get(&d, b, "c") > b);
    arena_free(&a);
}

TEST(rejects_non_objects_and_garbage)
{
    jt_doc_t d;
    CHECK_INT(DOC(d, "[1,2]"), -1);
    CHECK_INT(DOC(d, "\"s\""), -1);
    CHECK_INT(DOC(d, "{\"a\":1"), -1);     /* truncated */
    CHECK_INT(DOC(d, "{\"a\":1} x"), -1);  /* trailing junk */
    CHECK_INT(DOC(d, "{\"a\":1}  \n"), 0); /* trailing whitespace is fine */
    CHECK_INT(DOC(d, ""), -1);
    /* more tokens than room */
    char big[2048];
    size_t n = 0;
    big[n++] = '{';
    for (int i = 0; i < 100; i++)
        n += (size_t)snprintf(big + n, sizeof big - n, "%s\"k%d\":%d", i ? "," : "", i, i);
    big[n++] = '}';
    big[n] = '\0';
    CHECK_INT(jt_parse(&d, big, n, tok, 64), -1);
}

TEST(literals_and_ints)
{
    jt_doc_t d;
    CHECK_INT(DOC(d, "{\"t\":true,\"f\":false,\"n\":null,\"i\":-42,\"x\":1.5,\"s\":\"7\"}"), 0);
    CHECK(jt_is_true(&d, jt_get(&d, 0, "t")));
    CHECK(!jt_is_true(&d, jt_get(&d, 0, "f")));
    CHECK(jt_is_null(&d, jt_get(&d, 0, "n")));
    long long v = 0;
    CHECK_INT(jt_int(&d, jt_get(&d, 0, "i"), &v), 0);
    CHECK_INT(v, -42);
    CHECK_INT(jt_int(&d, jt_get(&d, 0, "x"), &v), -1); /* not an integer */
    CHECK_INT(jt_int(&d, jt_get(&d, 0, "s"), &v), -1); /* a string */
    CHECK(!jt_is_string(&d, jt_get(&d, 0, "i")));
    CHECK(jt_is_string(&d, jt_get(&d, 0, "s")));
}

TEST(string_escapes)
{
    jt_doc_t d;
    arena_t a;
    arena_init(&a, 256);
    sv_t s;
    CHECK_INT(DOC(d, "{\"s\":\"a\\\"b\\\\c\\/d\\n\\t\\u00e9\\ud83d\\ude00\"}"), 0);
    CHECK_INT(jt_string(&d, jt_get(&d, 0, "s"), &a, &s), 0);
    CHECK(sv_eq(s, SV_LIT("a\"b\\c/d\n\t\xc3\xa9\xf0\x9f\x98\x80")));
    /* a lone low surrogate, a high one without its pair: U+FFFD, as
     * JavaScript's and Python's decoders read them */
    CHECK_INT(DOC(d, "{\"s\":\"\\udc00\"}"), 0);
    CHECK_INT(jt_string(&d, jt_get(&d, 0, "s"), &a, &s), 0);
    CHECK(sv_eq(s, SV_LIT("\xef\xbf\xbd")));
    CHECK_INT(DOC(d, "{\"s\":\"\\ud83dx\\ud800\"}"), 0);
    CHECK_INT(jt_string(&d, jt_get(&d, 0, "s"), &a, &s), 0);
    CHECK(sv_eq(s, SV_LIT("\xef\xbf\xbdx\xef\xbf\xbd")));
    CHECK_INT(DOC(d, "{\"s\":\"\\ud83d\\u0041\"}"), 0);
    CHECK_INT(jt_string(&d, jt_get(&d, 0, "s"), &a, &s), 0);
    CHECK(sv_eq(s, SV_LIT("\xef\xbf\xbd" "A")));
    /* still refused: a bad escape */
    CHECK_INT(DOC(d, "{\"s\":\"\\uzzzz\"}"), -1);
    /* NUL through \u0000 is kept with its length */
    CHECK_INT(DOC(d, "{\"s\":\"a\\u0000b\"}"), 0);
    CHECK_INT(jt_string(&d, jt_get(&d, 0, "s"), &a, &s), 0);
    CHECK_INT(s.n, 3);
    CHECK(s.p[1] == '\0');
    arena_free(&a);
}

TEST(loadb_mends_lone_surrogates)
{
    json_error_t je;
    /* jansson alone refuses the text */
    static const char text[] = "{\"m\":\"a\\ud800b\", \"p\":\"\\ud83d\\ude00\", "
                               "\"l\":[\"\\udfff\", \"\\\\ud800\"]}";
    json_t *j = json_loadb(text, sizeof text - 1, 0, &je);
    CHECK(j == NULL);
    j = jt_loadb(text, sizeof text - 1, 0, &je);
    CHECK(j != NULL);
    if (j) {
        CHECK_STR(json_string_value(json_object_get(j, "m")), "a\xef\xbf\xbd" "b");
        CHECK_STR(json_string_value(json_object_get(j, "p")), "\xf0\x9f\x98\x80");
        json_t *l = json_object_get(j, "l");
        CHECK_STR(json_string_value(json_array_get(l, 0)), "\xef\xbf\xbd");
        /* an escaped backslash before "ud800" is text, not an escape */
        CHECK_STR(json_string_value(json_array_get(l, 1)), "\\ud800");
        json_decref(j);
    }
    /* what is not JSON stays refused, with jansson's reason */
    CHECK(jt_loadb("{\"m\": \"\\ud800", 11, 0, &je) == NULL);
    CHECK(je.text[0] != '\0');
    CHECK(jt_loadb("[1,", 3, 0, &je) == NULL);
}

TEST(skip_nested)
{
    jt_doc_t d;
    CHECK_INT(DOC(d, "{\"h\":[[\"a\",\"1\"],[\"b\",\"2\"]],\"p\":{\"x\":null},\"z\":0}"), 0);
    int h = jt_get(&d, 0, "h");
    CHECK_INT(d.tok[h].size, 2);
    int first = h + 1;
    int second = jt_skip(&d, first);
    sv_t raw = jt_raw(&d, second + 1);
    CHECK(sv_eq(raw, SV_LIT("b")));
    CHECK(jt_get(&d, 0, "z") == jt_skip(&d, jt_get(&d, 0, "p")) + 1);
}

int main(void)
{
    RUN(parse_object_and_get);
    RUN(rejects_non_objects_and_garbage);
    RUN(literals_and_ints);
    RUN(string_escapes);
    RUN(loadb_mends_lone_surrogates);
    RUN(skip_nested);
    return TEST_REPORT();
}
