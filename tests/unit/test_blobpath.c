/*
 * test_blobpath.c -- unit tests for blob path patterns and blob and
 * container name checks (src/util/blobpath.c).
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/util/blobpath.h"
#include "test.h"

static char got[2048], err_text[512];

/* Parse pat and match container/name; returns the match result and leaves
 * the captures as compact JSON with sorted keys in got ("" when no match),
 * or -2 when pat does not parse. */
static int match(const char *pat, const char *container, const char *name)
{
    blobpath_t *p;
    got[0] = '\0';
    if (blobpath_parse(pat, &p, err_text, sizeof err_text) != 0) {
        fprintf(stderr, "parse '%s': %s\n", pat, err_text);
        return -2;
    }
    json_t *caps = json_object();
    int rc = blobpath_match(p, container, name, caps);
    if (rc == 1) {
        char *s = json_dumps(caps, JSON_COMPACT | JSON_SORT_KEYS);
        snprintf(got, sizeof got, "%s", s);
        free(s);
    } else {
        CHECK_INT(json_object_size(caps), 0);
    }
    json_decref(caps);
    blobpath_free(p);
    return rc;
}

/* Parse pat expecting failure; the message is left in err_text. */
static int parse_fails(const char *pat)
{
    blobpath_t *p = (blobpath_t *)1;
    err_text[0] = '\0';
    int rc = blobpath_parse(pat, &p, err_text, sizeof err_text);
    if (rc == 0) {
        blobpath_free(p);
        return 0;
    }
    return p == NULL && err_text[0] != '\0';
}

TEST(documented_examples)
{
    CHECK_INT(match("samples-workitems/{name}", "samples-workitems", "work.txt"), 1);
    CHECK_STR(got, "{\"name\":\"work.txt\"}");
    CHECK_INT(match("input/original-{name}", "input", "original-Blob1.txt"), 1);
    CHECK_STR(got, "{\"name\":\"Blob1.txt\"}");
    CHECK_INT(match("input/original-{name}", "input", "copy-Blob1.txt"), 0);
    CHECK_INT(match("input/{blobname}.{blobextension}", "input", "original-Blob1.txt"), 1);
    CHECK_STR(got, "{\"blobextension\":\"txt\",\"blobname\":\"original-Blob1\"}");
    CHECK_INT(match("samples/{name}.png", "samples", "cat.png"), 1);
    CHECK_STR(got, "{\"name\":\"cat\"}");
    CHECK_INT(match("samples/{name}.png", "samples", "cat.jpg"), 0);
    CHECK_INT(match("samples/{name}.png", "samples", ".png"), 0); /* a capture is never empty */
    CHECK_INT(match("images/{{20140101}}-{name}", "images", "{20140101}-soundfile.mp3"), 1);
    CHECK_STR(got, "{\"name\":\"soundfile.mp3\"}");
    CHECK_INT(match("images/{{20140101}}-{name}", "images", "20140101-soundfile.mp3"), 0);
    CHECK_INT(match("images/a}}b{{c-{name}", "images", "a}b{c-x"), 1);
    CHECK_STR(got, "{\"name\":\"x\"}");
}

TEST(container_must_match)
{
    CHECK_INT(match("samples/{name}", "samples2", "a"), 0);
    CHECK_INT(match("samples/{name}", "sample", "a"), 0);
    CHECK_INT(match("samples", "samples", "a/b/c.txt"), 1);
    CHECK_STR(got, "{}");
    CHECK_INT(match("samples/", "samples", "x"), 1);
    CHECK_INT(match("samples", "other", "x"), 0);
    CHECK_INT(match("samples", "samples", ""), 0);
}

TEST(slashes_and_greed)
{
    /* the last segment's capture takes the rest, slashes included */
    CHECK_INT(match("data/{name}", "data", "2024/05/report.csv"), 1);
    CHECK_STR(got, "{\"name\":\"2024/05/report.csv\"}");
    /* greedy: the last occurrence of the literal that still matches */
    CHECK_INT(match("ccc/{name}.{ext}", "ccc", "a.tar.gz"), 1);
    CHECK_STR(got, "{\"ext\":\"gz\",\"name\":\"a.tar\"}");
    CHECK_INT(match("ccc/{name}.{ext}", "ccc", "dir.v2/file"), 1);
    CHECK_STR(got, "{\"ext\":\"v2/file\",\"name\":\"dir\"}");
    CHECK_INT(match("ccc/{a}-{b}-x", "ccc", "1-2-3-x"), 1);
    CHECK_STR(got, "{\"a\":\"1-2\",\"b\":\"3\"}");
    /* greedy yet backs off when the rest would not match */
    CHECK_INT(match("ccc/{a}.x.{b}.y", "ccc", "p.x.q.y.x.r"), 0);
    CHECK_INT(match("ccc/{a}.x.{b}.y", "ccc", "p.x.q.x.r.y"), 1);
    CHECK_STR(got, "{\"a\":\"p.x.q\",\"b\":\"r\"}");
    /* a capture before the last '/' stays in its segment */
    CHECK_INT(match("input/{folder}/{file}.txt", "input", "a/b.txt"), 1);
    CHECK_STR(got, "{\"file\":\"b\",\"folder\":\"a\"}");
    CHECK_INT(match("input/{folder}/{file}.txt", "input", "a/b/c.txt"), 1);
    CHECK_STR(got, "{\"file\":\"b/c\",\"folder\":\"a\"}");
    CHECK_INT(match("input/{folder}/{file}.txt", "input", "a/b.csv"), 0);
    CHECK_INT(match("input/{folder}/{file}.txt", "input", "b.txt"), 0);
    CHECK_INT(match("ccc/{y}-{m}/{name}", "ccc", "2024-05/x/y"), 1);
    CHECK_STR(got, "{\"m\":\"05\",\"name\":\"x/y\",\"y\":\"2024\"}");
    CHECK_INT(match("ccc/{y}-{m}/{name}", "ccc", "20/24-05/x"), 0);
    /* literal parts only */
    CHECK_INT(match("ccc/fixed/name.txt", "ccc", "fixed/name.txt"), 1);
    CHECK_STR(got, "{}");
    CHECK_INT(match("ccc/fixed/name.txt", "ccc", "fixed/name.txt2"), 0);
    CHECK_INT(match("ccc/Fixed", "ccc", "fixed"), 0); /* case-sensitive */
    /* literal after the last capture */
    CHECK_INT(match("ccc/in/{name}/done", "ccc", "in/x/done"), 1);
    CHECK_STR(got, "{\"name\":\"x\"}");
    CHECK_INT(match("ccc/in/{name}/done", "ccc", "in/x/y/done"), 0);
}

TEST(long_names)
{
    char name[BLOBPATH_NAME_MAX + 2];
    memset(name, 'a', sizeof name);
    name[BLOBPATH_NAME_MAX] = '\0';
    name[BLOBPATH_NAME_MAX - 2] = '.';
    CHECK_INT(match("ccc/{n}.{e}", "ccc", name), 1);
    name[BLOBPATH_NAME_MAX] = 'a';
    name[BLOBPATH_NAME_MAX + 1] = '\0';
    CHECK_INT(match("ccc/{n}.{e}", "ccc", name), 0);
    /* many captures over a name that nearly matches stays quick */
    char pat[256] = "ccc/";
    for (int i = 0; i < 20; i++)
        snprintf(pat + strlen(pat), sizeof pat - strlen(pat), "{c%d}a", i);
    memset(name, 'a', BLOBPATH_NAME_MAX);
    name[BLOBPATH_NAME_MAX - 1] = 'b';
    name[BLOBPATH_NAME_MAX] = '\0';
    CHECK_INT(match(pat, "ccc", name), 0);
    name[BLOBPATH_NAME_MAX - 1] = 'a';
    CHECK_INT(match(pat, "ccc", name), 1);
}

TEST(accessors)
{
    blobpath_t *p;
    CHECK_INT(blobpath_parse("images/in/{{x}}-{name}.{ext}", &p, err_text, sizeof err_text), 0);
    CHECK_STR(blobpath_text(p), "images/in/{{x}}-{name}.{ext}");
    CHECK_STR(blobpath_container(p), "images");
    CHECK_STR(blobpath_prefix(p), "in/{x}-");
    CHECK_INT(blobpath_capture_count(p), 2);
    CHECK_STR(blobpath_capture_name(p, 0), "name");
    CHECK_STR(blobpath_capture_name(p, 1), "ext");
    CHECK(blobpath_capture_name(p, 2) == NULL);
    CHECK_INT(blobpath_match(p, "images", "in/{x}-a.b", NULL), 1);
    blobpath_free(p);

    CHECK_INT(blobpath_parse("ccc/{name}", &p, NULL, 0), 0);
    CHECK_STR(blobpath_prefix(p), "");
    blobpath_free(p);
    CHECK_INT(blobpath_parse("ccc/a/b.txt", &p, NULL, 0), 0);
    CHECK_STR(blobpath_prefix(p), "a/b.txt");
    CHECK_INT(blobpath_capture_count(p), 0);
    blobpath_free(p);
    CHECK_INT(blobpath_parse("container", &p, NULL, 0), 0);
    CHECK_STR(blobpath_prefix(p), "");
    CHECK_STR(blobpath_container(p), "container");
    blobpath_free(p);
    blobpath_free(NULL);
}

TEST(invalid_utf8_capture)
{
    blobpath_t *p;
    CHECK_INT(blobpath_parse("ccc/{name}", &p, NULL, 0), 0);
    json_t *caps = json_object();
    CHECK_INT(blobpath_match(p, "ccc", "bad\xff", caps), -1);
    CHECK_INT(blobpath_match(p, "ccc", "caf\xc3\xa9", caps), 1);
    CHECK_STR(json_string_value(json_object_get(caps, "name")), "caf\xc3\xa9");
    json_decref(caps);
    blobpath_free(p);
}

TEST(parse_errors)
{
    CHECK(parse_fails(""));
    CHECK_CONTAINS(err_text, "missing container");
    CHECK(parse_fails("/samples/{name}"));
    CHECK_STR(err_text, "absolute path: the path starts with '/' at position 1 (expected "
                        "'container/blob-pattern')");
    CHECK(parse_fails("Samples/{name}"));
    CHECK_CONTAINS(err_text, "uppercase letter at position 1");
    CHECK(parse_fails("ab/{name}"));
    CHECK_CONTAINS(err_text, "container name 'ab' is 2 characters long (3 to 63 allowed)");
    CHECK(parse_fails("a--b/{name}"));
    CHECK_CONTAINS(err_text, "has '--' at position 2");
    CHECK(parse_fails("-abc/{name}"));
    CHECK_CONTAINS(err_text, "starts with '-'");
    CHECK(parse_fails("abc-/{name}"));
    CHECK_CONTAINS(err_text, "ends with '-'");
    CHECK(parse_fails("ab_c/{name}"));
    CHECK_CONTAINS(err_text, "has a '_' at position 3");
    CHECK(parse_fails("{container}/{name}"));
    CHECK_CONTAINS(err_text, "a capture in the container at position 1");
    CHECK(parse_fails("samples/{name"));
    CHECK_STR(err_text, "unclosed '{' at position 9");
    CHECK(parse_fails("samples/{na{me}"));
    CHECK_STR(err_text, "unclosed '{' at position 9");
    CHECK(parse_fails("samples/a{}b"));
    CHECK_STR(err_text, "empty capture '{}' at position 10");
    CHECK(parse_fails("samples/a}b"));
    CHECK_STR(err_text, "lone '}' (write '}}' for a literal '}') at position 10");
    CHECK(parse_fails("samples/{a}{b}"));
    CHECK_STR(err_text, "captures '{a}' and '{b}' side by side (put literal text between "
                        "them) at position 12");
    CHECK(parse_fails("samples/{a b}"));
    CHECK_CONTAINS(err_text, "bad capture name '{a b}'");
    CHECK(parse_fails("samples/{1a}"));
    CHECK_CONTAINS(err_text, "bad capture name '{1a}'");
    CHECK(parse_fails("samples/{a.b}"));
    CHECK_CONTAINS(err_text, "bad capture name");
    CHECK(parse_fails("samples/{name}/{Name}"));
    CHECK_STR(err_text, "duplicate capture '{Name}' at position 16");
    CHECK(parse_fails("samples/../{name}"));
    CHECK_STR(err_text, "'..' segment at position 9");
    CHECK(parse_fails("samples/a/./{name}"));
    CHECK_STR(err_text, "'.' segment at position 11");
    CHECK(parse_fails("samples/a/.tmp{name}"));
    CHECK_CONTAINS(err_text, "segment starting with '.'");
    CHECK(parse_fails("samples/a//{name}"));
    CHECK_STR(err_text, "empty segment ('//') at position 11");
    CHECK(parse_fails("samples//{name}"));
    CHECK_STR(err_text, "empty segment ('//') at position 9");
    CHECK(parse_fails("samples/dir/"));
    CHECK_CONTAINS(err_text, "trailing '/'");
    CHECK(parse_fails("samples/a\\{name}"));
    CHECK_CONTAINS(err_text, "backslash (use '/' between folders) at position 10");
    CHECK(parse_fails("samples/a\tb"));
    CHECK_CONTAINS(err_text, "control character 0x09 at position 10");

    char pat[512] = "c12/";
    for (int i = 0; i <= BLOBPATH_CAPTURES_MAX; i++)
        snprintf(pat + strlen(pat), sizeof pat - strlen(pat), "{c%d}-", i);
    CHECK(parse_fails(pat));
    CHECK_CONTAINS(err_text, "more than 32 captures");

    char big[BLOBPATH_PATTERN_MAX + 8];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    CHECK(parse_fails(big));
    CHECK_CONTAINS(err_text, "bytes long (at most 2048)");

    /* a tiny or missing error buffer is fine */
    char tiny[4];
    blobpath_t *p;
    CHECK_INT(blobpath_parse("samples/{a}{b}", &p, tiny, sizeof tiny), -1);
    CHECK_INT(strlen(tiny), 3);
    CHECK_INT(blobpath_parse("samples/{a}{b}", &p, NULL, 0), -1);
    CHECK(p == NULL);
}

TEST(name_check)
{
    CHECK_INT(blobpath_name_check("a", err_text, sizeof err_text), 0);
    CHECK_INT(blobpath_name_check("dir/sub/file.v2.txt", err_text, sizeof err_text), 0);
    CHECK_INT(blobpath_name_check("caf\xc3\xa9 {x}.txt", err_text, sizeof err_text), 0);
    CHECK_INT(blobpath_name_check("", err_text, sizeof err_text), -1);
    CHECK_STR(err_text, "blob name is empty");
    CHECK_INT(blobpath_name_check(NULL, err_text, sizeof err_text), -1);
    CHECK_INT(blobpath_name_check("/a", err_text, sizeof err_text), -1);
    CHECK_CONTAINS(err_text, "starts with '/'");
    CHECK_INT(blobpath_name_check("a/", err_text, sizeof err_text), -1);
    CHECK_STR(err_text, "blob name ends with '/'");
    CHECK_INT(blobpath_name_check("a//b", err_text, sizeof err_text), -1);
    CHECK_STR(err_text, "blob name has an empty segment ('//') at position 3");
    CHECK_INT(blobpath_name_check("a/../b", err_text, sizeof err_text), -1);
    CHECK_STR(err_text, "blob name has a '..' segment at position 3");
    CHECK_INT(blobpath_name_check("..", err_text, sizeof err_text), -1);
    CHECK_STR(err_text, "blob name has a '..' segment at position 1");
    CHECK_INT(blobpath_name_check("a/.", err_text, sizeof err_text), -1);
    CHECK_STR(err_text, "blob name has a '.' segment at position 3");
    CHECK_INT(blobpath_name_check("a/.b.tmp-1", err_text, sizeof err_text), -1);
    CHECK_CONTAINS(err_text, "segment starting with '.' at position 3");
    CHECK_INT(blobpath_name_check("a..b/c..", err_text, sizeof err_text), 0);
    CHECK_INT(blobpath_name_check("a\\b", err_text, sizeof err_text), -1);
    CHECK_STR(err_text, "blob name has a backslash at position 2 (use '/' between folders)");
    CHECK_INT(blobpath_name_check("a\nb", err_text, sizeof err_text), -1);
    CHECK_STR(err_text, "blob name has control character 0x0a at position 2");
    CHECK_INT(blobpath_name_check("ab\xc3", err_text, sizeof err_text), -1);
    CHECK_STR(err_text, "blob name is not valid UTF-8 at position 3");
    CHECK_INT(blobpath_name_check("\xed\xa0\x80", err_text, sizeof err_text), -1); /* surrogate */
    CHECK_INT(blobpath_name_check("\xc0\xaf", err_text, sizeof err_text), -1);     /* overlong */
    CHECK_INT(blobpath_name_checkn("ab\0c", 4, err_text, sizeof err_text), -1);
    CHECK_STR(err_text, "blob name has a NUL byte at position 3");

    char name[BLOBPATH_NAME_MAX + 2];
    memset(name, 'a', sizeof name);
    for (int i = 200; i < BLOBPATH_NAME_MAX; i += 200)
        name[i] = '/';
    name[BLOBPATH_NAME_MAX] = '\0';
    CHECK_INT(blobpath_name_check(name, err_text, sizeof err_text), 0);
    name[BLOBPATH_NAME_MAX] = 'a';
    name[BLOBPATH_NAME_MAX + 1] = '\0';
    CHECK_INT(blobpath_name_check(name, err_text, sizeof err_text), -1);
    CHECK_STR(err_text, "blob name is 1025 bytes long (at most 1024)");
    memset(name, 'a', 300);
    name[256] = '\0';
    CHECK_INT(blobpath_name_check(name, err_text, sizeof err_text), -1);
    CHECK_CONTAINS(err_text, "segment of 256 bytes at position 1");
    name[255] = '\0';
    CHECK_INT(blobpath_name_check(name, err_text, sizeof err_text), 0);
}

TEST(container_check)
{
    CHECK_INT(blobpath_container_check("abc", err_text, sizeof err_text), 0);
    CHECK_INT(blobpath_container_check("samples-workitems-2", err_text, sizeof err_text), 0);
    char c[70];
    memset(c, 'a', sizeof c);
    c[63] = '\0';
    CHECK_INT(blobpath_container_check(c, err_text, sizeof err_text), 0);
    c[63] = 'a';
    c[64] = '\0';
    CHECK_INT(blobpath_container_check(c, err_text, sizeof err_text), -1);
    CHECK_CONTAINS(err_text, "is 64 characters long (3 to 63 allowed)");
    CHECK_INT(blobpath_container_check("", err_text, sizeof err_text), -1);
    CHECK_STR(err_text, "container name is empty");
    CHECK_INT(blobpath_container_check("a.b", err_text, sizeof err_text), -1);
    CHECK_CONTAINS(err_text, "has a '.' at position 2");
    CHECK_INT(blobpath_container_check("ab\x01", err_text, sizeof err_text), -1);
    CHECK_CONTAINS(err_text, "has a '?' at position 3");
    CHECK_INT(blobpath_container_check("a-b-c", err_text, sizeof err_text), 0);
}

int main(void)
{
    RUN(documented_examples);
    RUN(container_must_match);
    RUN(slashes_and_greed);
    RUN(long_names);
    RUN(accessors);
    RUN(invalid_utf8_capture);
    RUN(parse_errors);
    RUN(name_check);
    RUN(container_check);
    return TEST_REPORT();
}
