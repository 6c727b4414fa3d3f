/*
 * test_path.c -- request path normalization (src/http/path.h): escapes of
 * unreserved characters decoded, dot segments removed (RFC 3986 5.2.4),
 * everything else kept as sent.
 */
#include <stdio.h>
#include <string.h>

#include "../../src/http/path.h"
#include "test.h"

static const char *norm(const char *in)
{
    static char out[256];
    size_t n = strlen(in);
    memcpy(out, in, n);
    n = http_path_normalize(out, n);
    out[n] = '\0';
    return out;
}

TEST(path_unchanged)
{
    CHECK_STR(norm("/"), "/");
    CHECK_STR(norm("/api/hello"), "/api/hello");
    CHECK_STR(norm("/api/hello/"), "/api/hello/");
    CHECK_STR(norm("/api//x"), "/api//x");
    CHECK_STR(norm("/api/a.b/..c/c../.../x"), "/api/a.b/..c/c../.../x");
    CHECK_STR(norm("*"), "*");
    CHECK_STR(norm(""), "");
}

TEST(path_dot_segments)
{
    CHECK_STR(norm("/api/pub/../priv"), "/api/priv");
    CHECK_STR(norm("/api/./priv"), "/api/priv");
    CHECK_STR(norm("/api/a/b/../../priv"), "/api/priv");
    CHECK_STR(norm("/api/a/."), "/api/a/");
    CHECK_STR(norm("/api/a/.."), "/api/");
    CHECK_STR(norm("/.."), "/");
    CHECK_STR(norm("/../../admin"), "/admin");
    CHECK_STR(norm("/a//../b"), "/a/b");
    CHECK_STR(norm("/."), "/");
    CHECK_STR(norm("/./"), "/");
}

TEST(path_escapes)
{
    CHECK_STR(norm("/api/pub/%2e%2e/priv"), "/api/priv");
    CHECK_STR(norm("/api/pub/%2E./priv"), "/api/priv");
    CHECK_STR(norm("/%61dmin/x"), "/admin/x");
    CHECK_STR(norm("/a/%7E%5f%2D"), "/a/~_-");
    /* not unreserved: kept, so no segment gains a '/' */
    CHECK_STR(norm("/api/pub/..%2Fpriv"), "/api/pub/..%2Fpriv");
    CHECK_STR(norm("/api/pub/%2e%2e%2fpriv"), "/api/pub/..%2fpriv");
    CHECK_STR(norm("/a%20b/%25%32%65"), "/a%20b/%252e"); /* decoded once only */
    CHECK_STR(norm("/a/%2"), "/a/%2");
    CHECK_STR(norm("/a/%zz"), "/a/%zz");
}

int main(void)
{
    RUN(path_unchanged);
    RUN(path_dot_segments);
    RUN(path_escapes);
    return TEST_REPORT();
}
