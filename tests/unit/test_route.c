/*
 * test_route.c -- route templates, matching, the router and url_decode.
 */
#include <stdlib.h>
#include <string.h>

#include "../../src/core/route.h"
#include "../../src/http/method.h"
#include "test.h"

static char err[256];
static char scratch[1024];
static route_params_t prm;
static route_t *cur; /* the last route m() compiled: prm names point into it */

/* Compile tmpl and match path; 1 on a match, -1 when tmpl does not compile.
 * The route lives until the next call (or the end of main). */
static int m(const char *tmpl, const char *path)
{
    route_free(cur);
    cur = route_compile(tmpl, err, sizeof err);
    if (!cur) {
        fprintf(stderr, "compile '%s': %s\n", tmpl, err);
        return -1;
    }
    return route_match(cur, path, strlen(path), &prm, scratch, sizeof scratch);
}

/* The value of parameter name after m(), as a C string; "(absent)" when
 * value.p is NULL, "(none)" when there is no such parameter. */
static const char *val(const char *name)
{
    static char out[512];
    for (size_t i = 0; i < prm.n; i++) {
        if (prm.v[i].name.n == strlen(name) && !memcmp(prm.v[i].name.p, name, prm.v[i].name.n)) {
            if (!prm.v[i].value.p)
                return "(absent)";
            snprintf(out, sizeof out, "%.*s", (int)prm.v[i].value.n, prm.v[i].value.p);
            return out;
        }
    }
    return "(none)";
}

/* Compile must fail, with a message containing needle. */
static int bad(const char *tmpl, const char *needle)
{
    route_t *r = route_compile(tmpl, err, sizeof err);
    if (r) {
        route_free(r);
        fprintf(stderr, "compile '%s' succeeded\n", tmpl);
        return 0;
    }
    if (!strstr(err, needle)) {
        fprintf(stderr, "compile '%s': \"%s\" lacks \"%s\"\n", tmpl, err, needle);
        return 0;
    }
    return 1;
}

TEST(literal_segments)
{
    CHECK_INT(m("api/products", "/api/products"), 1);
    CHECK_INT(prm.n, 0);
    CHECK_INT(m("api/products", "/API/Products"), 1);
    CHECK_INT(m("/api/products/", "/api/products"), 1);
    CHECK_INT(m("api/products", "/api/product"), 0);
    CHECK_INT(m("api/products", "/api/productss"), 0);
    CHECK_INT(m("api/products", "/api"), 0);
    CHECK_INT(m("api/products", "/api/products/x"), 0);
    CHECK_INT(m("api/products", "/api/products/"), 1); /* trailing slash */
    CHECK_INT(m("api/products", "/api/products//"), 0);
    CHECK_INT(m("api/products", "/api//products"), 0);
    CHECK_INT(m("api/hello world", "/api/hello%20World"), 1); /* literal on decoded text */
    CHECK_INT(m("api/a.b", "/api/a%2Eb"), 1);
}

TEST(empty_template)
{
    CHECK_INT(m("", "/"), 1);
    CHECK_INT(m("", ""), 1);
    CHECK_INT(m("/", "/"), 1);
    CHECK_INT(m("", "/x"), 0);
    route_t *r = route_compile("//api/x//", err, sizeof err);
    CHECK(r != NULL);
    CHECK_STR(route_template(r), "api/x");
    route_free(r);
}

TEST(parameters)
{
    CHECK_INT(m("api/products/{category}/{id}", "/api/products/Books/42"), 1);
    CHECK_INT(prm.n, 2);
    CHECK_STR(val("category"), "Books");
    CHECK_STR(val("id"), "42");
    CHECK_STR(prm.v[0].name.p, "category"); /* names in declaration order */
    CHECK_INT(m("api/{id}", "/api/"), 0);
    CHECK_INT(m("api/{id}", "/api//"), 0); /* an empty segment is no value */
    CHECK_INT(m("api/{a}/{b}", "/api//x"), 0);
    CHECK_INT(m("api/{id}", "/api/x/y"), 0);
    CHECK_INT(m("{a}", "/x"), 1);
    CHECK_STR(val("a"), "x");
}

TEST(percent_decoding)
{
    CHECK_INT(m("api/{name}", "/api/J%C3%BCrgen%20M"), 1);
    CHECK_STR(val("name"), "J\xc3\xbcrgen M");
    CHECK_INT(m("api/{name}", "/api/a%2Fb"), 1); /* %2F does not split */
    CHECK_STR(val("name"), "a/b");
    CHECK_INT(m("api/{name}", "/api/a+b"), 1); /* '+' stays */
    CHECK_STR(val("name"), "a+b");
    CHECK_INT(m("api/{name}", "/api/a%zz"), 0); /* malformed escape */
    CHECK_INT(m("api/{name}", "/api/a%2"), 0);
    CHECK_INT(m("api/x%41", "/api/x%2541"), 1); /* template literals are not decoded */
}

TEST(scratch_too_small)
{
    route_t *r = route_compile("a/{x}/{y}", err, sizeof err);
    char small[6];
    CHECK(r != NULL);
    CHECK_INT(route_match(r, "/a/bb/cc", 8, &prm, small, sizeof small), 1); /* "bb\0cc\0" */
    CHECK_INT(route_match(r, "/a/bb/ccc", 9, &prm, small, sizeof small), 0);
    CHECK_INT(route_match(r, "/a/bb/cc", 8, &prm, small, 0), 0);
    route_free(r);
}

TEST(optional_parameters)
{
    CHECK_INT(m("api/products/{category:alpha}/{id:int?}", "/api/products/books"), 1);
    CHECK_STR(val("category"), "books");
    CHECK_STR(val("id"), "(absent)");
    CHECK_INT(prm.n, 2);
    CHECK_INT(m("api/products/{category:alpha}/{id:int?}", "/api/products/books/7"), 1);
    CHECK_STR(val("id"), "7");
    CHECK_INT(m("api/products/{category:alpha}/{id:int?}", "/api/products/books/x"), 0);
    CHECK_INT(m("api/{a?}/{b?}", "/api"), 1);
    CHECK_STR(val("a"), "(absent)");
    CHECK_INT(m("api/{a?}/{b?}", "/api/1/2"), 1);
    CHECK_STR(val("b"), "2");
    CHECK_INT(m("api/{a?}/{b?}", "/api/1/2/3"), 0);
    CHECK_INT(m("api/{id:min(1)?}", "/api/0"), 0);
    CHECK_INT(m("api/{id:min(1)?}", "/api/1"), 1);
    CHECK_INT(m("api/{id:min(1)?}", "/api/"), 1);
}

TEST(default_values)
{
    CHECK_INT(m("api/{page:int=1}", "/api"), 1);
    CHECK_STR(val("page"), "1");
    CHECK_INT(m("api/{page:int=1}", "/api/5"), 1);
    CHECK_STR(val("page"), "5");
    CHECK_INT(m("api/{page:int=1}", "/api/x"), 0);
}

TEST(catch_all)
{
    CHECK_INT(m("files/{*path}", "/files/a/b/c.txt"), 1);
    CHECK_STR(val("path"), "a/b/c.txt");
    CHECK_INT(m("files/{*path}", "/files"), 1);
    CHECK_STR(val("path"), "(absent)");
    CHECK_INT(m("files/{*path}", "/files/"), 1);
    CHECK_STR(val("path"), "(absent)");
    CHECK_INT(m("files/{*path}", "/files/a%20b/%2F"), 1);
    CHECK_STR(val("path"), "a b//");
    CHECK_INT(m("files/{*path}", "/other/a"), 0);
    CHECK_INT(m("files/{**path}", "/files/x/y"), 1);
    CHECK_STR(val("path"), "x/y");
    CHECK_INT(m("{*all}", "/"), 1);
    CHECK_INT(m("{*all}", "/a/b"), 1);
    CHECK_STR(val("all"), "a/b");
    CHECK_INT(m("files/{*path:regex(\\.txt$)}", "/files/a/b.txt"), 1);
    CHECK_INT(m("files/{*path:regex(\\.txt$)}", "/files/a/b.png"), 0);
    CHECK_INT(m("api/{v?}/{*rest}", "/api/1/2/3"), 1);
    CHECK_STR(val("v"), "1");
    CHECK_STR(val("rest"), "2/3");
}

TEST(complex_segments)
{
    CHECK_INT(m("files/{file}.{ext}", "/files/report.pdf"), 1);
    CHECK_STR(val("file"), "report");
    CHECK_STR(val("ext"), "pdf");
    CHECK_INT(m("files/{file}.{ext}", "/files/a.tar.gz"), 1); /* left takes the most */
    CHECK_STR(val("file"), "a.tar");
    CHECK_STR(val("ext"), "gz");
    CHECK_INT(m("files/{file}.{ext}", "/files/noext"), 0);
    CHECK_INT(m("files/{file}.{ext}", "/files/.pdf"), 0);
    CHECK_INT(m("files/{file}.{ext}", "/files/a."), 0);
    CHECK_INT(m("api/v{version:int}/x", "/api/V2/x"), 1);
    CHECK_STR(val("version"), "2");
    CHECK_INT(m("api/v{version:int}/x", "/api/vv2/x"), 0);
    CHECK_INT(m("a{x}", "/aab"), 1);
    CHECK_STR(val("x"), "ab");
    CHECK_INT(m("{a}-{b}-end", "/x-y-z-end"), 1);
    CHECK_STR(val("a"), "x-y");
    CHECK_STR(val("b"), "z");
    CHECK_INT(m("{file}.{ext?}", "/readme"), 1);
    CHECK_STR(val("file"), "readme");
    CHECK_STR(val("ext"), "(absent)");
    CHECK_INT(m("{file}.{ext?}", "/readme.md"), 1);
    CHECK_STR(val("ext"), "md");
    CHECK_INT(m("img-{n:int}.png", "/IMG-5.PNG"), 1);
    CHECK_INT(m("img-{n:int}.png", "/img-x.png"), 0);
    CHECK_INT(m("{a}%2D{b}", "/p%2Dq"), 0); /* the template literal is "%2d", not "-" */
}

TEST(constraint_int_long)
{
    CHECK_INT(m("{x:int}", "/123"), 1);
    CHECK_INT(m("{x:int}", "/-2147483648"), 1);
    CHECK_INT(m("{x:int}", "/2147483647"), 1);
    CHECK_INT(m("{x:int}", "/2147483648"), 0);
    CHECK_INT(m("{x:int}", "/12a"), 0);
    CHECK_INT(m("{x:int}", "/-"), 0);
    CHECK_INT(m("{x:int}", "/1.5"), 0);
    CHECK_INT(m("{x:long}", "/2147483648"), 1);
    CHECK_INT(m("{x:long}", "/-9223372036854775808"), 1);
    CHECK_INT(m("{x:long}", "/9223372036854775808"), 0);
    CHECK_INT(m("{x:INT}", "/5"), 1); /* constraint names ignore case */
}

TEST(constraint_bool_alpha)
{
    CHECK_INT(m("{b:bool}", "/true"), 1);
    CHECK_INT(m("{b:bool}", "/FALSE"), 1);
    CHECK_INT(m("{b:bool}", "/yes"), 0);
    CHECK_INT(m("{b:bool}", "/1"), 0);
    CHECK_INT(m("{s:alpha}", "/abcXYZ"), 1);
    CHECK_INT(m("{s:alpha}", "/abc1"), 0);
    CHECK_INT(m("{s:alpha}", "/%C3%A4"), 0);
}

TEST(constraint_guid)
{
    CHECK_INT(m("{g:guid}", "/0f8fad5b-d9cb-469f-a165-70867728950e"), 1);
    CHECK_INT(m("{g:guid}", "/%7B0F8FAD5B-D9CB-469F-A165-70867728950E%7D"), 1);
    CHECK_INT(m("{g:guid}", "/0f8fad5bd9cb469fa16570867728950e"), 1);
    CHECK_INT(m("{g:guid}", "/0f8fad5b-d9cb-469f-a165-70867728950"), 0);
    CHECK_INT(m("{g:guid}", "/0f8fad5b-d9cb-469f-a165-70867728950g"), 0);
    CHECK_INT(m("{g:guid}", "/0f8fad5bd9cb-469f-a165-70867728950e-"), 0);
}

TEST(constraint_datetime)
{
    CHECK_INT(m("{d:datetime}", "/2024-01-31"), 1);
    CHECK_INT(m("{d:datetime}", "/2024-01-31T10:00:00"), 1);
    CHECK_INT(m("{d:datetime}", "/2024-01-31T10:00"), 1);
    CHECK_INT(m("{d:datetime}", "/2024-01-31T10:00:00.123Z"), 1);
    CHECK_INT(m("{d:datetime}", "/2024-01-31T10:00:00+02:00"), 1);
    CHECK_INT(m("{d:datetime}", "/2024-01-31T10:00:00-0530"), 1);
    CHECK_INT(m("{d:datetime}", "/2024-02-29"), 1);
    CHECK_INT(m("{d:datetime}", "/2023-02-29"), 0);
    CHECK_INT(m("{d:datetime}", "/2024-13-01"), 0);
    CHECK_INT(m("{d:datetime}", "/2024-04-31"), 0);
    CHECK_INT(m("{d:datetime}", "/2024-01-31T24:00"), 0);
    CHECK_INT(m("{d:datetime}", "/2024-01-31T10:00:00+"), 0);
    CHECK_INT(m("{d:datetime}", "/2024-01-31T10:00:00+02:"), 0);
    CHECK_INT(m("{d:datetime}", "/2024-1-31"), 0);
    CHECK_INT(m("{d:datetime}", "/yesterday"), 0);
}

TEST(constraint_numbers)
{
    CHECK_INT(m("{n:double}", "/1.5"), 1);
    CHECK_INT(m("{n:double}", "/-1e10"), 1);
    CHECK_INT(m("{n:double}", "/.5"), 1);
    CHECK_INT(m("{n:double}", "/NaN"), 1);
    CHECK_INT(m("{n:double}", "/1e"), 0);
    CHECK_INT(m("{n:double}", "/abc"), 0);
    CHECK_INT(m("{n:float}", "/3.25"), 1);
    CHECK_INT(m("{n:float}", "/3.2.5"), 0);
    CHECK_INT(m("{n:decimal}", "/12.50"), 1);
    CHECK_INT(m("{n:decimal}", "/1e3"), 0);
    CHECK_INT(m("{n:decimal}", "/79228162514264337593543950335"), 1);
    CHECK_INT(m("{n:decimal}", "/79228162514264337593543950336"), 0);
}

TEST(constraint_ranges)
{
    CHECK_INT(m("{n:min(10)}", "/10"), 1);
    CHECK_INT(m("{n:min(10)}", "/9"), 0);
    CHECK_INT(m("{n:min(10)}", "/abc"), 0);
    CHECK_INT(m("{n:max(10)}", "/-5"), 1);
    CHECK_INT(m("{n:max(10)}", "/11"), 0);
    CHECK_INT(m("{n:range(1,5)}", "/5"), 1);
    CHECK_INT(m("{n:range(1,5)}", "/6"), 0);
    CHECK_INT(m("{n:range(-5,-1)}", "/-3"), 1);
    CHECK_INT(m("{n:int:min(1):max(3)}", "/2"), 1); /* chained */
    CHECK_INT(m("{n:int:min(1):max(3)}", "/4"), 0);
}

TEST(constraint_lengths)
{
    CHECK_INT(m("{s:length(3)}", "/abc"), 1);
    CHECK_INT(m("{s:length(3)}", "/abcd"), 0);
    CHECK_INT(m("{s:length(3)}", "/%C3%A4bc"), 1); /* characters, not bytes */
    CHECK_INT(m("{s:length(2,4)}", "/ab"), 1);
    CHECK_INT(m("{s:length(2,4)}", "/abcde"), 0);
    CHECK_INT(m("{s:minlength(2)}", "/a"), 0);
    CHECK_INT(m("{s:minlength(2)}", "/ab"), 1);
    CHECK_INT(m("{s:maxlength(2)}", "/ab"), 1);
    CHECK_INT(m("{s:maxlength(2)}", "/abc"), 0);
}

TEST(constraint_regex)
{
    CHECK_INT(m("{x:regex(^a+$)}", "/AAA"), 1); /* case-insensitive */
    CHECK_INT(m("{x:regex(^a+$)}", "/aab"), 0);
    CHECK_INT(m("{x:regex(b)}", "/abc"), 1); /* unanchored */
    CHECK_INT(m("{x:regex(^(ab|cd)+$)}", "/abcd"), 1);
    CHECK_INT(m("{x:regex(^[0-9]{3}$)}/y", "/123/y"), 1); /* '}' inside the regex */
    CHECK_INT(m("{x:regex(^[0-9]{3}$)}/y", "/1234/y"), 0);
    CHECK_INT(m("{x:regex(^\\d{{2}}:\\d{{2}}$)}", "/12:34"), 1); /* ':' and ASP.NET's {{ }} */
    CHECK_INT(m("{x:regex(^\\d{{2}}:\\d{{2}}$)}", "/12:3x"), 0);
    CHECK_INT(m("{x:regex(^[)(]+$)}", "/)("), 1); /* parentheses in a bracket */
    CHECK_INT(m("{x:regex(^a/b$)}", "/a%2Fb"), 1);
    CHECK_INT(m("{x:regex(^a$)}", "/a%00b"), 0); /* no cut at an embedded NUL */
    CHECK_INT(m("{x:regex(^ab+?c$)}", "/ac"), 0);  /* .NET lazy '+?' is not POSIX '(b+)?' */
    CHECK_INT(m("{x:regex(^ab+?c$)}", "/abbc"), 1);
    CHECK_INT(m("{x:regex(^a{2,3}$)}", "/aaa"), 1);
    CHECK_INT(m("{x:regex(^a{2,3}$)}", "/aaaa"), 0);
    CHECK_INT(m("{x:regex(^a{2,}$)}", "/aaaaa"), 1);
    CHECK_INT(m("{x:regex(^[a-z]+(\\.[a-z]+)*$)}", "/www.example.org"), 1);
    CHECK_INT(m("{x:regex(^(\\d{{1,3}}\\.){{3}}\\d{{1,3}}$)}", "/10.0.0.255"), 1);
    CHECK_INT(m("{x:regex(^(\\d{{1,3}}\\.){{3}}\\d{{1,3}}$)}", "/10.0.0"), 0);
    CHECK_INT(m("{x:regex(^[\\d]+\\D$)}", "/12x"), 1);
    CHECK_INT(m("{x:regex(^[\\d]+\\D$)}", "/123"), 0);
}

TEST(compile_errors)
{
    CHECK(bad("api/{id", "unclosed '{'"));
    CHECK(bad("api/{id/x}", "unclosed '{'"));
    CHECK(bad("api/id}", "unmatched '}'"));
    CHECK(bad("api/{}", "empty parameter name"));
    CHECK(bad("api/{:int}", "empty parameter name in '{:int}'"));
    CHECK(bad("api/{id}/{ID}", "duplicate parameter name 'ID'"));
    CHECK(bad("api/{id:integer}", "unknown constraint 'integer' in '{id:integer}'"));
    CHECK(bad("api/{id:integer}", "position 9")); /* 1-based, at the name */
    CHECK(bad("api/{id:}", "empty constraint"));
    CHECK(bad("api/{id:min(x)}", "bad argument 'x' for constraint 'min'"));
    CHECK(bad("api/{id:min}", "constraint 'min' needs an argument"));
    CHECK(bad("api/{id:int(3)}", "constraint 'int' takes no argument"));
    CHECK(bad("api/{id:range(5,1)}", "bad argument '5,1'"));
    CHECK(bad("api/{id:length(1,2,3)}", "bad argument"));
    CHECK(bad("api/{id:minlength(-1)}", "bad argument"));
    CHECK(bad("api/{id:min(1}", "unclosed '('"));
    CHECK(bad("api/{id:regex(^(a$)}", "unclosed '('"));
    CHECK(bad("api/{id:regex(a{2,1})}", "invalid regex 'a{2,1}'"));
    CHECK(bad("api/{id:regex()}", "empty regex"));
    CHECK(bad("api/{id:regex((a)\\1)}", "backreference"));
    CHECK(bad("api/{id:regex(((a{100}){100}))}", "regex too complex"));
    CHECK(bad("api/{id:regex(a++)}", "quantifier after a quantifier"));
    CHECK(bad("api/{id:regex(((x*)*){300})}", "regex too complex"));
    CHECK(bad("api/{id:regex(.{2000})}", "regex too complex"));
    CHECK(bad("api/{*rest}/x", "catch-all parameter 'rest' must be in the last segment"));
    CHECK(bad("api/{*rest?}", "catch-all parameter 'rest' cannot be optional"));
    CHECK(bad("api/x{*rest}", "must be a whole segment"));
    CHECK(bad("api/{id?}/x", "optional parameter 'id' must be at the end"));
    CHECK(bad("api/{id=1?}", "cannot have a default value"));
    CHECK(bad("api/a?b", "'?' is not allowed in a literal"));
    CHECK(bad("api/a#b", "'#' is not allowed"));
    CHECK(bad("api//x", "empty segment"));
    CHECK(bad("api/{a}{b}", "two consecutive parameters"));
    CHECK(bad("api/{a?}.{b}", "optional parameter 'a' in a complex segment"));
    CHECK(bad("api/{id?:int}", "unexpected ':' in '{id?:int}'"));
    CHECK(bad("api/{a b}", "unexpected ' '"));
    CHECK(bad("api/{-}x{!}", "invalid character '!'"));
    CHECK(route_compile(NULL, err, sizeof err) == NULL);
    CHECK(route_compile("{x", NULL, 0) == NULL); /* no message buffer is fine */
}

TEST(compile_limits)
{
    char *t = malloc(ROUTE_MAX_TEMPLATE + 2);
    char buf[512];
    size_t n = 0;
    memset(t, 'a', ROUTE_MAX_TEMPLATE + 1);
    t[ROUTE_MAX_TEMPLATE + 1] = '\0';
    CHECK(bad(t, "longer than 4096"));
    t[ROUTE_MAX_TEMPLATE] = '\0';
    route_t *r = route_compile(t, err, sizeof err);
    CHECK(r != NULL);
    route_free(r);
    free(t);
    for (int i = 0; i <= ROUTE_MAX_PARAMS; i++)
        n += (size_t)snprintf(buf + n, sizeof buf - n, "{p%d}/", i);
    CHECK(bad(buf, "more than 32 parameters"));
    n = 0;
    for (int i = 0; i < ROUTE_MAX_PARAMS; i++)
        n += (size_t)snprintf(buf + n, sizeof buf - n, "{p%d}/", i);
    r = route_compile(buf, err, sizeof err);
    CHECK(r != NULL);
    route_free(r);
}

TEST(braces_escaped)
{
    CHECK_INT(m("api/{{x}}", "/api/{x}"), 1);
    CHECK_INT(m("api/{{x}}", "/api/%7Bx%7D"), 1);
    CHECK_INT(m("api/{{x}}", "/api/x"), 0);
}

TEST(router_order_and_params)
{
    router_t *rt = router_new();
    void *d = NULL;
    unsigned allowed = 0;
    static int a, b, c;
    CHECK_INT(router_add(rt, "api/items/{id:int}", METHOD_GET, &a, err, sizeof err), 0);
    CHECK_INT(router_add(rt, "api/items/{name}", METHOD_GET, &b, err, sizeof err), 0);
    CHECK_INT(router_add(rt, "api/{*rest}", 0, &c, err, sizeof err), 0);
    CHECK_INT(router_lookup(rt, METHOD_GET, "/api/items/5", 12, &prm, scratch, sizeof scratch, &d,
                            &allowed),
              ROUTER_MATCH);
    CHECK(d == &a);
    CHECK_STR(val("id"), "5");
    CHECK_INT(router_lookup(rt, METHOD_GET, "/api/items/abc", 14, &prm, scratch, sizeof scratch,
                            &d, &allowed),
              ROUTER_MATCH);
    CHECK(d == &b);
    CHECK_STR(val("name"), "abc");
    CHECK_INT(router_lookup(rt, METHOD_POST, "/api/items/abc", 14, &prm, scratch, sizeof scratch,
                            &d, &allowed),
              ROUTER_MATCH);
    CHECK(d == &c);
    CHECK_STR(val("rest"), "items/abc");
    CHECK_INT(router_lookup(rt, METHOD_GET, "/other", 6, &prm, scratch, sizeof scratch, &d,
                            &allowed),
              ROUTER_NOT_FOUND);
    router_free(rt);
}

TEST(router_method_not_allowed)
{
    router_t *rt = router_new();
    void *d = NULL;
    unsigned allowed = 0;
    CHECK_INT(router_add(rt, "api/x", METHOD_GET, NULL, err, sizeof err), 0);
    CHECK_INT(router_add(rt, "api/{name}", METHOD_PUT | METHOD_DELETE, NULL, err, sizeof err), 0);
    CHECK_INT(router_add(rt, "api/y", METHOD_POST, NULL, err, sizeof err), 0);
    CHECK_INT(router_lookup(rt, METHOD_POST, "/api/x", 6, &prm, scratch, sizeof scratch, &d,
                            &allowed),
              ROUTER_METHOD_NOT_ALLOWED);
    CHECK_INT(allowed, METHOD_GET | METHOD_HEAD | METHOD_PUT | METHOD_DELETE);
    CHECK_INT(prm.n, 0);
    CHECK_INT(router_lookup(rt, METHOD_OTHER, "/api/y", 6, &prm, scratch, sizeof scratch, &d,
                            &allowed),
              ROUTER_METHOD_NOT_ALLOWED);
    CHECK_INT(allowed, METHOD_POST | METHOD_PUT | METHOD_DELETE);
    CHECK_INT(router_lookup(rt, METHOD_GET, "/api/a/b", 8, &prm, scratch, sizeof scratch, &d,
                            &allowed),
              ROUTER_NOT_FOUND);
    router_free(rt);
}

TEST(router_head_and_other)
{
    router_t *rt = router_new();
    void *d = NULL;
    unsigned allowed = 0;
    static int g, all;
    CHECK_INT(router_add(rt, "get", METHOD_GET, &g, err, sizeof err), 0);
    CHECK_INT(router_add(rt, "all", 0, &all, err, sizeof err), 0);
    CHECK_INT(router_add(rt, "explicit", METHOD_ALL, &all, err, sizeof err), 0);
    CHECK_INT(router_lookup(rt, METHOD_HEAD, "/get", 4, &prm, scratch, sizeof scratch, &d,
                            &allowed),
              ROUTER_MATCH);
    CHECK(d == &g);
    CHECK_INT(router_lookup(rt, METHOD_OTHER, "/get", 4, &prm, scratch, sizeof scratch, &d,
                            &allowed),
              ROUTER_METHOD_NOT_ALLOWED);
    CHECK_INT(allowed, METHOD_GET | METHOD_HEAD);
    CHECK_INT(router_lookup(rt, METHOD_OTHER, "/all", 4, &prm, scratch, sizeof scratch, &d,
                            &allowed),
              ROUTER_MATCH);
    CHECK(d == &all);
    CHECK_INT(router_lookup(rt, METHOD_OTHER, "/explicit", 9, &prm, scratch, sizeof scratch, &d,
                            &allowed),
              ROUTER_METHOD_NOT_ALLOWED);
    CHECK_INT(allowed, METHOD_ALL);
    CHECK_INT(router_lookup(rt, METHOD_TRACE, "/ALL/", 5, &prm, scratch, sizeof scratch, &d,
                            &allowed),
              ROUTER_MATCH);
    router_free(rt);
}

TEST(router_duplicates)
{
    router_t *rt = router_new();
    CHECK_INT(router_add(rt, "api/{id}", METHOD_GET, NULL, err, sizeof err), 0);
    CHECK_INT(router_add(rt, "/API/{ID}/", METHOD_GET | METHOD_POST, NULL, err, sizeof err), -1);
    CHECK_CONTAINS(err, "'API/{ID}'");
    CHECK_CONTAINS(err, "GET");
    CHECK_INT(router_add(rt, "api/{id}", METHOD_POST, NULL, err, sizeof err), 0);
    CHECK_INT(router_add(rt, "api/{id}", 0, NULL, err, sizeof err), -1);
    CHECK_INT(router_add(rt, "api/{id}", METHOD_HEAD, NULL, err, sizeof err), -1); /* GET has it */
    CHECK_INT(router_add(rt, "api/{id:int}", METHOD_GET, NULL, err, sizeof err), 0);
    CHECK_INT(router_add(rt, "api/{x", METHOD_GET, NULL, err, sizeof err), -1);
    CHECK_CONTAINS(err, "unclosed");
    router_free(rt);
}

TEST(url_decode_cases)
{
    char out[16];
    CHECK_INT(url_decode("a%20b", 5, out, sizeof out), 3);
    CHECK_STR(out, "a b");
    CHECK_INT(url_decode("a+b", 3, out, sizeof out), 3);
    CHECK_STR(out, "a+b");
    CHECK_INT(url_decode("%e2%82%AC", 9, out, sizeof out), 3);
    CHECK_STR(out, "\xe2\x82\xac");
    CHECK_INT(url_decode("", 0, out, sizeof out), 0);
    CHECK_STR(out, "");
    CHECK_INT(url_decode("%", 1, out, sizeof out), -1);
    CHECK_INT(url_decode("%4", 2, out, sizeof out), -1);
    CHECK_INT(url_decode("%4g", 3, out, sizeof out), -1);
    CHECK_INT(url_decode("%%41", 4, out, sizeof out), -1);
    CHECK_INT(url_decode("abcd", 4, out, 4), -1); /* no room for the NUL */
    CHECK_INT(url_decode("abcd", 4, out, 5), 4);
    CHECK_INT(url_decode("%41%42", 6, out, 3), 2);
    CHECK_STR(out, "AB");
    CHECK_INT(url_decode("a", 1, out, 0), -1);
    CHECK_INT(url_decode("a%00b", 5, out, sizeof out), 3);
    CHECK(memcmp(out, "a\0b", 4) == 0);
    CHECK_INT(url_decode("abc", 2, out, sizeof out), 2); /* len, not strlen */
    CHECK_STR(out, "ab");
}

int main(void)
{
    RUN(literal_segments);
    RUN(empty_template);
    RUN(parameters);
    RUN(percent_decoding);
    RUN(scratch_too_small);
    RUN(optional_parameters);
    RUN(default_values);
    RUN(catch_all);
    RUN(complex_segments);
    RUN(constraint_int_long);
    RUN(constraint_bool_alpha);
    RUN(constraint_guid);
    RUN(constraint_datetime);
    RUN(constraint_numbers);
    RUN(constraint_ranges);
    RUN(constraint_lengths);
    RUN(constraint_regex);
    RUN(compile_errors);
    RUN(compile_limits);
    RUN(braces_escaped);
    RUN(router_order_and_params);
    RUN(router_method_not_allowed);
    RUN(router_head_and_other);
    RUN(router_duplicates);
    RUN(url_decode_cases);
    route_free(cur);
    return TEST_REPORT();
}
