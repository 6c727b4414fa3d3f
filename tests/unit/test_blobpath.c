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

/* One row of a match table: match(pat, container, name) gives want, and
 * then got is caps (NULL: not checked). */
typedef struct match_case {
    const char *pat, *container, *name;
    int want;
    const char *caps;
} match_case_t;

/* Run a match table; a failed check is preceded by the row's index and inputs. */
static void check_matches(const match_case_t *rows, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const match_case_t *c = &rows[i];
        int rc = match(c->pat, c->container, c->name);
        if (rc != c->want || (c->caps && strcmp(got, c->caps) != 0))
            fprintf(stderr, "row %zu: '%s' on '%s' '%s'\n", i, c->pat, c->container, c->name);
        CHECK_INT(rc, c->want);
        if (c->caps)
            CHECK_STR(got, c->caps);
    }
}

#define CHECK_MATCHES(rows) check_matches(rows, sizeof rows / sizeof rows[0])

TEST(documented_examples)
{
    static const match_case_t rows[] = {
        {"samples-workitems/{name}", "samples-workitems", "work.txt", 1, "{\"name\":\"work.txt\"}"},
        {"input/original-{name}", "input", "original-Blob1.txt", 1, "{\"name\":\"Blob1.txt\"}"},
        {"input/original-{name}", "input", "copy-Blob1.txt", 0, NULL},
        {"input/{blobname}.{blobextension}", "input", "original-Blob1.txt", 1,
         "{\"blobextension\":\"txt\",\"blobname\":\"original-Blob1\"}"},
        {"samples/{name}.png", "samples", "cat.png", 1, "{\"name\":\"cat\"}"},
        {"samples/{name}.png", "samples", "cat.jpg", 0, NULL},
        {"samples/{name}.png", "samples", ".png", 0, NULL}, /* a capture is never empty */
        {"images/{{20140101}}-{name}", "images", "{20140101}-soundfile.mp3", 1,
         "{\"name\":\"soundfile.mp3\"}"},
        {"images/{{20140101}}-{name}", "images", "20140101-soundfile.mp3", 0, NULL},
        {"images/a}}b{{c-{name}", "images", "a}b{c-x", 1, "{\"name\":\"x\"}"},
    };
    CHECK_MATCHES(rows);
}

TEST(container_must_match)
{
    static const match_case_t rows[] = {
        {"samples/{name}", "samples2", "a", 0, NULL},
        {"samples/{name}", "sample", "a", 0, NULL},
        {"samples", "samples", "a/b/c.txt", 1, "{}"},
        {"samples/", "samples", "x", 1, NULL},
        {"samples", "other", "x", 0, NULL},
        {"samples", "samples", "", 0, NULL},
    };
    CHECK_MATCHES(rows);
}

TEST(slashes_and_greed)
{
    static const match_case_t rows[] = {
        /* the last segment's capture takes the rest, slashes included */
        {"data/{name}", "data", "2024/05/report.csv", 1, "{\"name\":\"2024/05/report.csv\"}"},
        /* greedy: the last occurrence of the literal that still matches */
        {"ccc/{name}.{ext}", "ccc", "a.tar.gz", 1, "{\"ext\":\"gz\",\"name\":\"a.tar\"}"},
        {"ccc/{name}.{ext}", "ccc", "dir.v2/file", 1, "{\"ext\":\"v2/file\",\"name\":\"dir\"}"},
        {"ccc/{a}-{b}-x", "ccc", "1-2-3-x", 1, "{\"a\":\"1-2\",\"b\":\"3\"}"},
        /* greedy yet backs off when the rest would not match */
        {"ccc/{a}.x.{b}.y", "ccc", "p.x.q.y.x.r", 0, NULL},
        {"ccc/{a}.x.{b}.y", "ccc", "p.x.q.x.r.y", 1, "{\"a\":\"p.x.q\",\"b\":\"r\"}"},
        /* a capture before the last '/' stays in its segment */
        {"input/{folder}/{file}.txt", "input", "a/b.txt", 1, "{\"file\":\"b\",\"folder\":\"a\"}"},
        {"input/{folder}/{file}.txt", "input", "a/b/c.txt", 1,
         "{\"file\":\"b/c\",\"folder\":\"a\"}"},
        {"input/{folder}/{file}.txt", "input", "a/b.csv", 0, NULL},
        {"input/{folder}/{file}.txt", "input", "b.txt", 0, NULL},
        {"ccc/{y}-{m}/{name}", "ccc", "2024-05/x/y", 1,
         "{\"m\":\"05\",\"name\":\"x/y\",\"y\":\"2024\"}"},
        {"ccc/{y}-{m}/{name}", "ccc", "20/24-05/x", 0, NULL},
        /* literal parts only */
        {"ccc/fixed/name.txt", "ccc", "fixed/name.txt", 1, "{}"},
        {"ccc/fixed/name.txt", "ccc", "fixed/name.txt2", 0, NULL},
        {"ccc/Fixed", "ccc", "fixed", 0, NULL}, /* case-sensitive */
        /* literal after the last capture */
        {"ccc/in/{name}/done", "ccc", "in/x/done", 1, "{\"name\":\"x\"}"},
        {"ccc/in/{name}/done", "ccc", "in/x/y/done", 0, NULL},
    };
    CHECK_MATCHES(rows);
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

/* parse_fails() in the shape of the name checks: -1 when pat is refused,
 * with the message in err_text. */
static int parse_check(const char *pat, char *err, size_t errlen)
{
    return parse_fails(pat) ? -1 : 0;
}

typedef int check_fn(const char *in, char *err, size_t errlen);

/* Check that fn accepts each input; a failed check is preceded by the
 * input's index and text. */
static void check_accepted(check_fn *fn, const char *const *in, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        err_text[0] = '\0';
        int rc = fn(in[i], err_text, sizeof err_text);
        if (rc != 0)
            fprintf(stderr, "row %zu: '%s': %s\n", i, in[i], err_text);
        CHECK_INT(rc, 0);
    }
}

enum { IS, HAS }; /* how a refusal's message is checked: whole, or a part */

/* One input that a check refuses: -1, with msg in err_text (NULL: not checked). */
typedef struct refusal {
    const char *in;
    int how;
    const char *msg;
} refusal_t;

/* Check that fn refuses each row's input with its message, naming a failed
 * row as check_accepted() does. */
static void check_refused(check_fn *fn, const refusal_t *rows, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const refusal_t *c = &rows[i];
        err_text[0] = '\0';
        int rc = fn(c->in, err_text, sizeof err_text);
        int ok = rc == -1;
        if (c->msg && c->how == IS)
            ok = ok && strcmp(err_text, c->msg) == 0;
        if (c->msg && c->how == HAS)
            ok = ok && strstr(err_text, c->msg) != NULL;
        if (!ok)
            fprintf(stderr, "row %zu: '%s': %d\n", i, c->in ? c->in : "(null)", rc);
        CHECK_INT(rc, -1);
        if (c->msg && c->how == IS)
            CHECK_STR(err_text, c->msg);
        if (c->msg && c->how == HAS)
            CHECK_CONTAINS(err_text, c->msg);
    }
}

#define CHECK_ACCEPTED(fn, in) check_accepted(fn, in, sizeof in / sizeof in[0])
#define CHECK_REFUSED(fn, rows) check_refused(fn, rows, sizeof rows / sizeof rows[0])

TEST(parse_errors)
{
    static const refusal_t rows[] = {
        {"", HAS, "missing container"},
        {"/samples/{name}", IS,
         "absolute path: the path starts with '/' at position 1 (expected "
         "'container/blob-pattern')"},
        {"Samples/{name}", HAS, "uppercase letter at position 1"},
        {"ab/{name}", HAS, "container name 'ab' is 2 characters long (3 to 63 allowed)"},
        {"a--b/{name}", HAS, "has '--' at position 2"},
        {"-abc/{name}", HAS, "starts with '-'"},
        {"abc-/{name}", HAS, "ends with '-'"},
        {"ab_c/{name}", HAS, "has a '_' at position 3"},
        {"{container}/{name}", HAS, "a capture in the container at position 1"},
        {"samples/{name", IS, "unclosed '{' at position 9"},
        {"samples/{na{me}", IS, "unclosed '{' at position 9"},
        {"samples/a{}b", IS, "empty capture '{}' at position 10"},
        {"samples/a}b", IS, "lone '}' (write '}}' for a literal '}') at position 10"},
        {"samples/{a}{b}", IS,
         "captures '{a}' and '{b}' side by side (put literal text between them) at position 12"},
        {"samples/{a b}", HAS, "bad capture name '{a b}'"},
        {"samples/{1a}", HAS, "bad capture name '{1a}'"},
        {"samples/{a.b}", HAS, "bad capture name"},
        {"samples/{name}/{Name}", IS, "duplicate capture '{Name}' at position 16"},
        {"samples/../{name}", IS, "'..' segment at position 9"},
        {"samples/a/./{name}", IS, "'.' segment at position 11"},
        {"samples/a/.tmp{name}", HAS, "segment starting with '.'"},
        {"samples/a//{name}", IS, "empty segment ('//') at position 11"},
        {"samples//{name}", IS, "empty segment ('//') at position 9"},
        {"samples/dir/", HAS, "trailing '/'"},
        {"samples/a\\{name}", HAS, "backslash (use '/' between folders) at position 10"},
        {"samples/a\tb", HAS, "control character 0x09 at position 10"},
    };
    CHECK_REFUSED(parse_check, rows);

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
    static const char *const good[] = {"a", "dir/sub/file.v2.txt", "caf\xc3\xa9 {x}.txt",
                                       "a..b/c.."};
    static const refusal_t rows[] = {
        {"", IS, "blob name is empty"},
        {NULL, IS, NULL},
        {"/a", HAS, "starts with '/'"},
        {"a/", IS, "blob name ends with '/'"},
        {"a//b", IS, "blob name has an empty segment ('//') at position 3"},
        {"a/../b", IS, "blob name has a '..' segment at position 3"},
        {"..", IS, "blob name has a '..' segment at position 1"},
        {"a/.", IS, "blob name has a '.' segment at position 3"},
        {"a/.b.tmp-1", HAS, "segment starting with '.' at position 3"},
        {"a\\b", IS, "blob name has a backslash at position 2 (use '/' between folders)"},
        {"a\nb", IS, "blob name has control character 0x0a at position 2"},
        {"ab\xc3", IS, "blob name is not valid UTF-8 at position 3"},
        {"\xed\xa0\x80", IS, NULL}, /* surrogate */
        {"\xc0\xaf", IS, NULL},     /* overlong */
    };
    CHECK_ACCEPTED(blobpath_name_check, good);
    CHECK_REFUSED(blobpath_name_check, rows);
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
    static const char *const good[] = {"abc", "samples-workitems-2", "a-b-c"};
    static const refusal_t rows[] = {
        {"", IS, "container name is empty"},
        {"a.b", HAS, "has a '.' at position 2"},
        {"ab\x01", HAS, "has a '?' at position 3"},
    };
    CHECK_ACCEPTED(blobpath_container_check, good);
    CHECK_REFUSED(blobpath_container_check, rows);
    char c[70];
    memset(c, 'a', sizeof c);
    c[63] = '\0';
    CHECK_INT(blobpath_container_check(c, err_text, sizeof err_text), 0);
    c[63] = 'a';
    c[64] = '\0';
    CHECK_INT(blobpath_container_check(c, err_text, sizeof err_text), -1);
    CHECK_CONTAINS(err_text, "is 64 characters long (3 to 63 allowed)");
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
