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

/* One row of a match table: m(tmpl, path) gives want (1 a match, 0 none). */
typedef struct match_case {
    const char *tmpl, *path;
    int want;
} match_case_t;

/* One row of a capture table: m(tmpl, path) matches, and val() of each name
 * in p gives the value beside it. */
typedef struct capture_case {
    const char *tmpl, *path;
    const char *p[4]; /* name, value[, name, value] */
} capture_case_t;

/* Run a match table; a failed check is preceded by the row's index and inputs. */
static void check_matches(const match_case_t *rows, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int rc = m(rows[i].tmpl, rows[i].path);
        if (rc != rows[i].want)
            fprintf(stderr, "row %zu: '%s' on '%s'\n", i, rows[i].tmpl, rows[i].path);
        CHECK_INT(rc, rows[i].want);
    }
}

/* Run a capture table, naming a failed row the same way. */
static void check_captures(const capture_case_t *rows, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const capture_case_t *c = &rows[i];
        int rc = m(c->tmpl, c->path);
        if (rc != 1)
            fprintf(stderr, "row %zu: '%s' on '%s'\n", i, c->tmpl, c->path);
        CHECK_INT(rc, 1);
        for (size_t k = 0; k < 4 && c->p[k]; k += 2) {
            const char *v = val(c->p[k]);
            if (strcmp(v, c->p[k + 1]) != 0)
                fprintf(stderr, "row %zu: '%s' on '%s', {%s}\n", i, c->tmpl, c->path, c->p[k]);
            CHECK_STR(v, c->p[k + 1]);
        }
    }
}

#define CHECK_MATCHES(rows) check_matches(rows, sizeof rows / sizeof rows[0])
#define CHECK_CAPTURES(rows) check_captures(rows, sizeof rows / sizeof rows[0])

TEST(literal_segments)
{
    static const match_case_t rows[] = {
        {"api/products", "/API/Products", 1},
        {"/api/products/", "/api/products", 1},
        {"api/products", "/api/product", 0},
        {"api/products", "/api/productss", 0},
        {"api/products", "/api", 0},
        {"api/products", "/api/products/x", 0},
        {"api/products", "/api/products/", 1}, /* trailing slash */
        {"api/products", "/api/products//", 0},
        {"api/products", "/api//products", 0},
        {"api/hello world", "/api/hello%20World", 1}, /* literal on decoded text */
        {"api/a.b", "/api/a%2Eb", 1},
    };
    CHECK_INT(m("api/products", "/api/products"), 1);
    CHECK_INT(prm.n, 0);
    CHECK_MATCHES(rows);
}

TEST(empty_template)
{
    static const match_case_t rows[] = {
        {"", "/", 1},
        {"", "", 1},
        {"/", "/", 1},
        {"", "/x", 0},
    };
    CHECK_MATCHES(rows);
    route_t *r = route_compile("//api/x//", err, sizeof err);
    CHECK(r != NULL);
    CHECK_STR(route_template(r), "api/x");
    route_free(r);
}

TEST(parameters)
{
    static const capture_case_t captures[] = {
        {"{a}", "/x", {"a", "x"}},
    };
    static const match_case_t rows[] = {
        {"api/{id}", "/api/", 0},
        {"api/{id}", "/api//", 0}, /* an empty segment is no value */
        {"api/{a}/{b}", "/api//x", 0},
        {"api/{id}", "/api/x/y", 0},
    };
    CHECK_INT(m("api/products/{category}/{id}", "/api/products/Books/42"), 1);
    CHECK_INT(prm.n, 2);
    CHECK_STR(val("category"), "Books");
    CHECK_STR(val("id"), "42");
    CHECK_STR(prm.v[0].name.p, "category"); /* names in declaration order */
    CHECK_CAPTURES(captures);
    CHECK_MATCHES(rows);
}

TEST(percent_decoding)
{
    static const capture_case_t captures[] = {
        {"api/{name}", "/api/J%C3%BCrgen%20M", {"name", "J\xc3\xbcrgen M"}},
        {"api/{name}", "/api/a%2Fb", {"name", "a/b"}}, /* %2F does not split */
        {"api/{name}", "/api/a+b", {"name", "a+b"}},   /* '+' stays */
    };
    static const match_case_t rows[] = {
        {"api/{name}", "/api/a%zz", 0}, /* malformed escape */
        {"api/{name}", "/api/a%2", 0},
        {"api/x%41", "/api/x%2541", 1}, /* template literals are not decoded */
    };
    CHECK_CAPTURES(captures);
    CHECK_MATCHES(rows);
}

/* The raw value of parameter name after m(): "(null)" when raw.p is NULL. */
static const char *raw(const char *name)
{
    static char out[512];
    for (size_t i = 0; i < prm.n; i++) {
        if (prm.v[i].name.n == strlen(name) && !memcmp(prm.v[i].name.p, name, prm.v[i].name.n)) {
            if (!prm.v[i].raw.p)
                return "(null)";
            snprintf(out, sizeof out, "%.*s", (int)prm.v[i].raw.n, prm.v[i].raw.p);
            return out;
        }
    }
    return "(none)";
}

/* Whole segments and catch-alls also keep their value as sent. */
TEST(raw_values)
{
    CHECK_INT(m("api/{id}/{*rest}", "/api/a%2Fb/x%20y/%25z"), 1);
    CHECK_STR(val("id"), "a/b");
    CHECK_STR(raw("id"), "a%2Fb");
    CHECK_STR(val("rest"), "x y/%z");
    CHECK_STR(raw("rest"), "x%20y/%25z");
    CHECK_INT(m("api/{id}/{opt?}", "/api/1"), 1);
    CHECK_STR(raw("id"), "1");
    CHECK_STR(raw("opt"), "(null)");
    CHECK_INT(m("api/{id=x%41}", "/api"), 1); /* a default */
    CHECK_STR(raw("id"), "(null)");
    CHECK_INT(m("api/{file}.{ext}", "/api/a%20b.txt"), 1); /* part of a segment */
    CHECK_STR(val("file"), "a b");
    CHECK_STR(raw("file"), "(null)");
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
    static const capture_case_t captures[] = {
        {"api/products/{category:alpha}/{id:int?}", "/api/products/books/7", {"id", "7"}},
        {"api/{a?}/{b?}", "/api", {"a", "(absent)"}},
        {"api/{a?}/{b?}", "/api/1/2", {"b", "2"}},
    };
    static const match_case_t rows[] = {
        {"api/products/{category:alpha}/{id:int?}", "/api/products/books/x", 0},
        {"api/{a?}/{b?}", "/api/1/2/3", 0},
        {"api/{id:min(1)?}", "/api/0", 0},
        {"api/{id:min(1)?}", "/api/1", 1},
        {"api/{id:min(1)?}", "/api/", 1},
    };
    CHECK_INT(m("api/products/{category:alpha}/{id:int?}", "/api/products/books"), 1);
    CHECK_STR(val("category"), "books");
    CHECK_STR(val("id"), "(absent)");
    CHECK_INT(prm.n, 2);
    CHECK_CAPTURES(captures);
    CHECK_MATCHES(rows);
}

TEST(default_values)
{
    static const capture_case_t captures[] = {
        {"api/{page:int=1}", "/api", {"page", "1"}},
        {"api/{page:int=1}", "/api/5", {"page", "5"}},
    };
    static const match_case_t rows[] = {
        {"api/{page:int=1}", "/api/x", 0},
    };
    CHECK_CAPTURES(captures);
    CHECK_MATCHES(rows);
}

TEST(catch_all)
{
    static const capture_case_t captures[] = {
        {"files/{*path}", "/files/a/b/c.txt", {"path", "a/b/c.txt"}},
        {"files/{*path}", "/files", {"path", "(absent)"}},
        {"files/{*path}", "/files/", {"path", "(absent)"}},
        {"files/{*path}", "/files/a%20b/%2F", {"path", "a b//"}},
        {"files/{**path}", "/files/x/y", {"path", "x/y"}},
        {"{*all}", "/a/b", {"all", "a/b"}},
        {"api/{v?}/{*rest}", "/api/1/2/3", {"v", "1", "rest", "2/3"}},
    };
    static const match_case_t rows[] = {
        {"files/{*path}", "/other/a", 0},
        {"{*all}", "/", 1},
        {"files/{*path:regex(\\.txt$)}", "/files/a/b.txt", 1},
        {"files/{*path:regex(\\.txt$)}", "/files/a/b.png", 0},
    };
    CHECK_CAPTURES(captures);
    CHECK_MATCHES(rows);
}

TEST(complex_segments)
{
    static const capture_case_t captures[] = {
        {"files/{file}.{ext}", "/files/report.pdf", {"file", "report", "ext", "pdf"}},
        /* left takes the most */
        {"files/{file}.{ext}", "/files/a.tar.gz", {"file", "a.tar", "ext", "gz"}},
        {"api/v{version:int}/x", "/api/V2/x", {"version", "2"}},
        {"a{x}", "/aab", {"x", "ab"}},
        {"{a}-{b}-end", "/x-y-z-end", {"a", "x-y", "b", "z"}},
        {"{file}.{ext?}", "/readme", {"file", "readme", "ext", "(absent)"}},
        {"{file}.{ext?}", "/readme.md", {"ext", "md"}},
    };
    static const match_case_t rows[] = {
        {"files/{file}.{ext}", "/files/noext", 0},
        {"files/{file}.{ext}", "/files/.pdf", 0},
        {"files/{file}.{ext}", "/files/a.", 0},
        {"api/v{version:int}/x", "/api/vv2/x", 0},
        {"img-{n:int}.png", "/IMG-5.PNG", 1},
        {"img-{n:int}.png", "/img-x.png", 0},
        {"{a}%2D{b}", "/p%2Dq", 0}, /* the template literal is "%2d", not "-" */
    };
    CHECK_CAPTURES(captures);
    CHECK_MATCHES(rows);
}

TEST(constraint_int_long)
{
    static const match_case_t rows[] = {
        {"{x:int}", "/123", 1},
        {"{x:int}", "/-2147483648", 1},
        {"{x:int}", "/2147483647", 1},
        {"{x:int}", "/2147483648", 0},
        {"{x:int}", "/12a", 0},
        {"{x:int}", "/-", 0},
        {"{x:int}", "/1.5", 0},
        {"{x:long}", "/2147483648", 1},
        {"{x:long}", "/-9223372036854775808", 1},
        {"{x:long}", "/9223372036854775808", 0},
        {"{x:INT}", "/5", 1}, /* constraint names ignore case */
    };
    CHECK_MATCHES(rows);
}

TEST(constraint_bool_alpha)
{
    static const match_case_t rows[] = {
        {"{b:bool}", "/true", 1},
        {"{b:bool}", "/FALSE", 1},
        {"{b:bool}", "/yes", 0},
        {"{b:bool}", "/1", 0},
        {"{s:alpha}", "/abcXYZ", 1},
        {"{s:alpha}", "/abc1", 0},
        {"{s:alpha}", "/%C3%A4", 0},
    };
    CHECK_MATCHES(rows);
}

TEST(constraint_guid)
{
    static const match_case_t rows[] = {
        {"{g:guid}", "/0f8fad5b-d9cb-469f-a165-70867728950e", 1},
        {"{g:guid}", "/%7B0F8FAD5B-D9CB-469F-A165-70867728950E%7D", 1},
        {"{g:guid}", "/0f8fad5bd9cb469fa16570867728950e", 1},
        {"{g:guid}", "/0f8fad5b-d9cb-469f-a165-70867728950", 0},
        {"{g:guid}", "/0f8fad5b-d9cb-469f-a165-70867728950g", 0},
        {"{g:guid}", "/0f8fad5bd9cb-469f-a165-70867728950e-", 0},
    };
    CHECK_MATCHES(rows);
}

TEST(constraint_datetime)
{
    static const match_case_t rows[] = {
        {"{d:datetime}", "/2024-01-31", 1},
        {"{d:datetime}", "/2024-01-31T10:00:00", 1},
        {"{d:datetime}", "/2024-01-31T10:00", 1},
        {"{d:datetime}", "/2024-01-31T10:00:00.123Z", 1},
        {"{d:datetime}", "/2024-01-31T10:00:00+02:00", 1},
        {"{d:datetime}", "/2024-01-31T10:00:00-0530", 1},
        {"{d:datetime}", "/2024-02-29", 1},
        {"{d:datetime}", "/2023-02-29", 0},
        {"{d:datetime}", "/2024-13-01", 0},
        {"{d:datetime}", "/2024-04-31", 0},
        {"{d:datetime}", "/2024-01-31T24:00", 0},
        {"{d:datetime}", "/2024-01-31T10:00:00+", 0},
        {"{d:datetime}", "/2024-01-31T10:00:00+02:", 0},
        {"{d:datetime}", "/2024-1-31", 0},
        {"{d:datetime}", "/yesterday", 0},
    };
    CHECK_MATCHES(rows);
}

TEST(constraint_numbers)
{
    static const match_case_t rows[] = {
        {"{n:double}", "/1.5", 1},
        {"{n:double}", "/-1e10", 1},
        {"{n:double}", "/.5", 1},
        {"{n:double}", "/NaN", 1},
        {"{n:double}", "/1e", 0},
        {"{n:double}", "/abc", 0},
        {"{n:float}", "/3.25", 1},
        {"{n:float}", "/3.2.5", 0},
        {"{n:decimal}", "/12.50", 1},
        {"{n:decimal}", "/1e3", 0},
        {"{n:decimal}", "/79228162514264337593543950335", 1},
        {"{n:decimal}", "/79228162514264337593543950336", 0},
    };
    CHECK_MATCHES(rows);
}

TEST(constraint_ranges)
{
    static const match_case_t rows[] = {
        {"{n:min(10)}", "/10", 1},
        {"{n:min(10)}", "/9", 0},
        {"{n:min(10)}", "/abc", 0},
        {"{n:max(10)}", "/-5", 1},
        {"{n:max(10)}", "/11", 0},
        {"{n:range(1,5)}", "/5", 1},
        {"{n:range(1,5)}", "/6", 0},
        {"{n:range(-5,-1)}", "/-3", 1},
        {"{n:int:min(1):max(3)}", "/2", 1}, /* chained */
        {"{n:int:min(1):max(3)}", "/4", 0},
    };
    CHECK_MATCHES(rows);
}

TEST(constraint_lengths)
{
    static const match_case_t rows[] = {
        {"{s:length(3)}", "/abc", 1},
        {"{s:length(3)}", "/abcd", 0},
        {"{s:length(3)}", "/%C3%A4bc", 1}, /* characters, not bytes */
        {"{s:length(2,4)}", "/ab", 1},
        {"{s:length(2,4)}", "/abcde", 0},
        {"{s:minlength(2)}", "/a", 0},
        {"{s:minlength(2)}", "/ab", 1},
        {"{s:maxlength(2)}", "/ab", 1},
        {"{s:maxlength(2)}", "/abc", 0},
    };
    CHECK_MATCHES(rows);
}

TEST(constraint_regex)
{
    static const match_case_t rows[] = {
        {"{x:regex(^a+$)}", "/AAA", 1}, /* case-insensitive */
        {"{x:regex(^a+$)}", "/aab", 0},
        {"{x:regex(b)}", "/abc", 1}, /* unanchored */
        {"{x:regex(^(ab|cd)+$)}", "/abcd", 1},
        {"{x:regex(^[0-9]{3}$)}/y", "/123/y", 1}, /* '}' inside the regex */
        {"{x:regex(^[0-9]{3}$)}/y", "/1234/y", 0},
        {"{x:regex(^\\d{{2}}:\\d{{2}}$)}", "/12:34", 1}, /* ':' and ASP.NET's {{ }} */
        {"{x:regex(^\\d{{2}}:\\d{{2}}$)}", "/12:3x", 0},
        {"{x:regex(^[)(]+$)}", "/)(", 1}, /* parentheses in a bracket */
        {"{x:regex(^a/b$)}", "/a%2Fb", 1},
        {"{x:regex(^a$)}", "/a%00b", 0},    /* no cut at an embedded NUL */
        {"{x:regex(^ab+?c$)}", "/ac", 0},   /* .NET lazy '+?' is not POSIX '(b+)?' */
        {"{x:regex(^ab+?c$)}", "/abbc", 1},
        {"{x:regex(^a{2,3}$)}", "/aaa", 1},
        {"{x:regex(^a{2,3}$)}", "/aaaa", 0},
        {"{x:regex(^a{2,}$)}", "/aaaaa", 1},
        {"{x:regex(^[a-z]+(\\.[a-z]+)*$)}", "/www.example.org", 1},
        {"{x:regex(^(\\d{{1,3}}\\.){{3}}\\d{{1,3}}$)}", "/10.0.0.255", 1},
        {"{x:regex(^(\\d{{1,3}}\\.){{3}}\\d{{1,3}}$)}", "/10.0.0", 0},
        {"{x:regex(^[\\d]+\\D$)}", "/12x", 1},
        {"{x:regex(^[\\d]+\\D$)}", "/123", 0},
    };
    CHECK_MATCHES(rows);
}

TEST(compile_errors)
{
    static const struct {
        const char *tmpl, *needle; /* route_compile(tmpl) fails saying needle */
    } rows[] = {
        {"api/{id", "unclosed '{'"},
        {"api/{id/x}", "unclosed '{'"},
        {"api/id}", "unmatched '}'"},
        {"api/{}", "empty parameter name"},
        {"api/{:int}", "empty parameter name in '{:int}'"},
        {"api/{id}/{ID}", "duplicate parameter name 'ID'"},
        {"api/{id:integer}", "unknown constraint 'integer' in '{id:integer}'"},
        {"api/{id:integer}", "position 9"}, /* 1-based, at the name */
        {"api/{id:}", "empty constraint"},
        {"api/{id:min(x)}", "bad argument 'x' for constraint 'min'"},
        {"api/{id:min}", "constraint 'min' needs an argument"},
        {"api/{id:int(3)}", "constraint 'int' takes no argument"},
        {"api/{id:range(5,1)}", "bad argument '5,1'"},
        {"api/{id:length(1,2,3)}", "bad argument"},
        {"api/{id:minlength(-1)}", "bad argument"},
        {"api/{id:min(1}", "unclosed '('"},
        {"api/{id:regex(^(a$)}", "unclosed '('"},
        {"api/{id:regex(a{2,1})}", "invalid regex 'a{2,1}'"},
        {"api/{id:regex()}", "empty regex"},
        {"api/{id:regex((a)\\1)}", "backreference"},
        {"api/{id:regex(((a{100}){100}))}", "regex too complex"},
        {"api/{id:regex(a++)}", "quantifier after a quantifier"},
        {"api/{id:regex(((x*)*){300})}", "regex too complex"},
        {"api/{id:regex(.{2000})}", "regex too complex"},
        {"api/{*rest}/x", "catch-all parameter 'rest' must be in the last segment"},
        {"api/{*rest?}", "catch-all parameter 'rest' cannot be optional"},
        {"api/x{*rest}", "must be a whole segment"},
        {"api/{id?}/x", "optional parameter 'id' must be at the end"},
        {"api/{id=1?}", "cannot have a default value"},
        {"api/a?b", "'?' is not allowed in a literal"},
        {"api/a#b", "'#' is not allowed"},
        {"api//x", "empty segment"},
        {"api/{a}{b}", "two consecutive parameters"},
        {"api/{a?}.{b}", "optional parameter 'a' in a complex segment"},
        {"api/{id?:int}", "unexpected ':' in '{id?:int}'"},
        {"api/{a b}", "unexpected ' '"},
        {"api/{-}x{!}", "invalid character '!'"},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
        CHECK(bad(rows[i].tmpl, rows[i].needle)); /* bad() names the template */
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
    static const match_case_t rows[] = {
        {"api/{{x}}", "/api/{x}", 1},
        {"api/{{x}}", "/api/%7Bx%7D", 1},
        {"api/{{x}}", "/api/x", 0},
    };
    CHECK_MATCHES(rows);
}

/* ---- the router ---- */

static void *found;      /* the data of the route look() matched */
static unsigned allowed; /* the methods look() found allowed */

/* router_add into the shared err buffer. */
static int add(router_t *rt, const char *tmpl, unsigned methods, void *data)
{
    return router_add(rt, tmpl, methods, data, err, sizeof err);
}

/* router_lookup of all of path into prm, found and allowed. */
static int look(const router_t *rt, unsigned method, const char *path)
{
    found = NULL;
    allowed = 0;
    return router_lookup(rt, method, path, strlen(path), &prm, scratch, sizeof scratch, &found,
                         &allowed);
}

TEST(router_order_and_params)
{
    router_t *rt = router_new();
    static int a, b, c;
    CHECK_INT(add(rt, "api/items/{id:int}", METHOD_GET, &a), 0);
    CHECK_INT(add(rt, "api/items/{name}", METHOD_GET, &b), 0);
    CHECK_INT(add(rt, "api/{*rest}", 0, &c), 0);
    CHECK_INT(look(rt, METHOD_GET, "/api/items/5"), ROUTER_MATCH);
    CHECK(found == &a);
    CHECK_STR(val("id"), "5");
    CHECK_INT(look(rt, METHOD_GET, "/api/items/abc"), ROUTER_MATCH);
    CHECK(found == &b);
    CHECK_STR(val("name"), "abc");
    CHECK_INT(look(rt, METHOD_POST, "/api/items/abc"), ROUTER_MATCH);
    CHECK(found == &c);
    CHECK_STR(val("rest"), "items/abc");
    CHECK_INT(look(rt, METHOD_GET, "/other"), ROUTER_NOT_FOUND);
    router_free(rt);
}

TEST(router_method_not_allowed)
{
    router_t *rt = router_new();
    CHECK_INT(add(rt, "api/x", METHOD_GET, NULL), 0);
    CHECK_INT(add(rt, "api/{name}", METHOD_PUT | METHOD_DELETE, NULL), 0);
    CHECK_INT(add(rt, "api/y", METHOD_POST, NULL), 0);
    CHECK_INT(look(rt, METHOD_POST, "/api/x"), ROUTER_METHOD_NOT_ALLOWED);
    CHECK_INT(allowed, METHOD_GET | METHOD_HEAD | METHOD_PUT | METHOD_DELETE);
    CHECK_INT(prm.n, 0);
    CHECK_INT(look(rt, METHOD_OTHER, "/api/y"), ROUTER_METHOD_NOT_ALLOWED);
    CHECK_INT(allowed, METHOD_POST | METHOD_PUT | METHOD_DELETE);
    CHECK_INT(look(rt, METHOD_GET, "/api/a/b"), ROUTER_NOT_FOUND);
    router_free(rt);
}

TEST(router_head_and_other)
{
    router_t *rt = router_new();
    static int g, all;
    CHECK_INT(add(rt, "get", METHOD_GET, &g), 0);
    CHECK_INT(add(rt, "all", 0, &all), 0);
    CHECK_INT(add(rt, "explicit", METHOD_ALL, &all), 0);
    CHECK_INT(look(rt, METHOD_HEAD, "/get"), ROUTER_MATCH);
    CHECK(found == &g);
    CHECK_INT(look(rt, METHOD_OTHER, "/get"), ROUTER_METHOD_NOT_ALLOWED);
    CHECK_INT(allowed, METHOD_GET | METHOD_HEAD);
    CHECK_INT(look(rt, METHOD_OTHER, "/all"), ROUTER_MATCH);
    CHECK(found == &all);
    CHECK_INT(look(rt, METHOD_OTHER, "/explicit"), ROUTER_METHOD_NOT_ALLOWED);
    CHECK_INT(allowed, METHOD_ALL);
    CHECK_INT(look(rt, METHOD_TRACE, "/ALL/"), ROUTER_MATCH);
    router_free(rt);
}

TEST(router_duplicates)
{
    router_t *rt = router_new();
    CHECK_INT(add(rt, "api/{id}", METHOD_GET, NULL), 0);
    CHECK_INT(add(rt, "/API/{ID}/", METHOD_GET | METHOD_POST, NULL), -1);
    CHECK_CONTAINS(err, "'API/{ID}'");
    CHECK_CONTAINS(err, "GET");
    CHECK_INT(add(rt, "api/{id}", METHOD_POST, NULL), 0);
    CHECK_INT(add(rt, "api/{id}", 0, NULL), -1);
    CHECK_INT(add(rt, "api/{id}", METHOD_HEAD, NULL), -1); /* GET has it */
    CHECK_INT(add(rt, "api/{id:int}", METHOD_GET, NULL), 0);
    CHECK_INT(add(rt, "api/{x", METHOD_GET, NULL), -1);
    CHECK_CONTAINS(err, "unclosed");
    router_free(rt);
}

TEST(url_decode_cases)
{
    enum { OUT = 16 };
    static const struct {
        const char *in;
        size_t len, room; /* bytes of in to decode; room in out */
        int want;         /* the decoded length, or -1 */
        const char *out;  /* what out then holds (NULL: not checked) */
    } rows[] = {
        {"a%20b", 5, OUT, 3, "a b"},
        {"a+b", 3, OUT, 3, "a+b"},
        {"%e2%82%AC", 9, OUT, 3, "\xe2\x82\xac"},
        {"", 0, OUT, 0, ""},
        {"%", 1, OUT, -1, NULL},
        {"%4", 2, OUT, -1, NULL},
        {"%4g", 3, OUT, -1, NULL},
        {"%%41", 4, OUT, -1, NULL},
        {"abcd", 4, 4, -1, NULL}, /* no room for the NUL */
        {"abcd", 4, 5, 4, NULL},
        {"%41%42", 6, 3, 2, "AB"},
        {"a", 1, 0, -1, NULL},
        {"abc", 2, OUT, 2, "ab"}, /* len, not strlen */
    };
    char out[OUT];
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        int rc = url_decode(rows[i].in, rows[i].len, out, rows[i].room);
        if (rc != rows[i].want || (rows[i].out && strcmp(out, rows[i].out) != 0))
            fprintf(stderr, "row %zu: '%s' len %zu room %zu\n", i, rows[i].in, rows[i].len,
                    rows[i].room);
        CHECK_INT(rc, rows[i].want);
        if (rows[i].out)
            CHECK_STR(out, rows[i].out);
    }
    CHECK_INT(url_decode("a%00b", 5, out, sizeof out), 3);
    CHECK(memcmp(out, "a\0b", 4) == 0);
}

int main(void)
{
    RUN(literal_segments);
    RUN(empty_template);
    RUN(parameters);
    RUN(percent_decoding);
    RUN(raw_values);
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
