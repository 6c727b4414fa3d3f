/*
 * route.c -- route templates compiled into segment arrays, matched against
 * request paths without allocating, and the ordered router over them.
 *
 * A compiled route is an array of segments (literal, parameter, catch-all,
 * or complex: literals and parameters mixed, "{file}.{ext}"). Literals are
 * stored lower-case so matching lower-cases only the path side. Matching
 * splits the path once, rejects on segment count and literal segments
 * first (cheap), and only then decodes parameter values into the caller's
 * scratch buffer and checks their constraints.
 */
#include "route.h"

#include <limits.h>
#include <regex.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../http/method.h"

#define MAX_SEGS 128                         /* segments of a template */
#define MAX_PARTS (2 * ROUTE_MAX_PARAMS + 2) /* parts of one complex segment */
#define SVF(v) (int)(v).n, (v).p

enum { SEG_LIT, SEG_PARAM, SEG_CATCHALL, SEG_COMPLEX };
enum { C_RANGE, C_LENGTH, C_BOOL, C_ALPHA, C_GUID, C_DATETIME, C_DOUBLE, C_DECIMAL, C_REGEX };

typedef struct cons {
    int kind;
    long long a, b; /* C_RANGE: an integer in [a,b]; C_LENGTH: length in [a,b] */
    regex_t re;     /* C_REGEX */
} cons_t;

typedef struct param {
    sv_t name;
    sv_t def; /* default value; def.p NULL when none */
    int optional;
    size_t cons, ncons; /* range in route->cons */
} param_t;

typedef struct part {
    sv_t lit;     /* lower-cased literal; lit.p NULL for a parameter */
    size_t param;
} part_t;

typedef struct seg {
    int kind;
    uint32_t hash;       /* SEG_LIT: seg_hash() of the literal */
    sv_t lit;            /* SEG_LIT, lower-cased */
    size_t param;        /* SEG_PARAM, SEG_CATCHALL */
    size_t part, nparts; /* SEG_COMPLEX: range in route->parts */
} seg_t;

#define QUICK 4 /* literal segments checked by hash alone before anything else */

struct route {
    size_t nsegs, nreq; /* a path needs at least nreq segments */
    int catchall;       /* the last segment is a catch-all */
    size_t nquick;
    struct {
        size_t seg;
        uint32_t hash;
    } quick[QUICK]; /* the first literal segments */
    char *tmpl;     /* without surrounding slashes */
    char *pool;     /* names, literals, defaults, regex sources */
    size_t pool_used;
    seg_t *segs;
    part_t *parts;
    size_t nparts;
    cons_t *cons;
    size_t ncons;
    param_t params[ROUTE_MAX_PARAMS];
    size_t nparams;
};

static int lower(int c) { return c >= 'A' && c <= 'Z' ? c + 32 : c; }
static int is_digit(int c) { return c >= '0' && c <= '9'; }
static int is_alpha(int c) { return (c | 32) >= 'a' && (c | 32) <= 'z'; }

static int hexval(int c)
{
    if (is_digit(c))
        return c - '0';
    c |= 32;
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* FNV-1a of lower-cased (path: and percent-decoded) text, so that a
 * literal segment is compared with a path segment by one integer first. */
static uint32_t seg_hash(const char *s, size_t n, int decode)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) {
        int c = (unsigned char)s[i];
        if (decode && c == '%' && n - i >= 3 && hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0) {
            c = hexval(s[i + 1]) << 4 | hexval(s[i + 2]);
            i += 2;
        }
        h = (h ^ (uint32_t)lower(c)) * 16777619u;
    }
    return h;
}

long url_decode(const char *src, size_t len, char *dst, size_t dstlen)
{
    size_t o = 0;
    if (!dst || dstlen == 0)
        return -1;
    for (size_t i = 0; i < len; i++) {
        int c = (unsigned char)src[i], h, l;
        if (c == '%') {
            if (len - i < 3 || (h = hexval(src[i + 1])) < 0 || (l = hexval(src[i + 2])) < 0)
                goto bad;
            c = h << 4 | l;
            i += 2;
        }
        if (o + 1 >= dstlen)
            goto bad;
        dst[o++] = (char)c;
    }
    dst[o] = '\0';
    return (long)o;
bad:
    dst[0] = '\0';
    return -1;
}

/* ---- value checks (on decoded values) ---- */

/* Parse a whole string as a signed 64-bit decimal. */
static int parse_ll(const char *s, size_t n, long long *out)
{
    size_t i = 0;
    int neg = 0;
    unsigned long long v = 0, lim;
    if (n && (s[0] == '+' || s[0] == '-'))
        neg = s[i++] == '-';
    if (i == n)
        return 0;
    lim = neg ? (unsigned long long)LLONG_MAX + 1 : (unsigned long long)LLONG_MAX;
    for (; i < n; i++) {
        if (!is_digit(s[i]))
            return 0;
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (lim - d) / 10)
            return 0;
        v = v * 10 + d;
    }
    *out = neg ? (v == lim ? LLONG_MIN : -(long long)v) : (long long)v;
    return 1;
}

/* [sign] digits [. digits] [e [sign] digits], at least one mantissa digit */
static int is_number(const char *s, size_t n, int exp)
{
    size_t i = 0, digits = 0;
    if (i < n && (s[i] == '+' || s[i] == '-'))
        i++;
    for (; i < n && is_digit(s[i]); i++)
        digits++;
    if (i < n && s[i] == '.')
        for (i++; i < n && is_digit(s[i]); i++)
            digits++;
    if (!digits)
        return 0;
    if (exp && i < n && (s[i] | 32) == 'e') {
        size_t k;
        if (++i < n && (s[i] == '+' || s[i] == '-'))
            i++;
        for (k = i; i < n && is_digit(s[i]); i++)
            ;
        if (i == k)
            return 0;
    }
    return i == n;
}

static int is_double(const char *s, size_t n)
{
    size_t i = n && (s[0] == '+' || s[0] == '-');
    if ((n - i == 3 && strncasecmp(s + i, "nan", 3) == 0) ||
        (n - i == 8 && strncasecmp(s + i, "infinity", 8) == 0))
        return 1;
    return is_number(s, n, 1);
}

/* .NET decimal: no exponent, at most 79228162514264337593543950335 */
static int is_decimal(const char *s, size_t n)
{
    size_t i, d;
    if (!is_number(s, n, 0))
        return 0;
    for (i = s[0] == '+' || s[0] == '-'; i < n && s[i] == '0'; i++)
        ;
    for (d = i; d < n && is_digit(s[d]); d++)
        ;
    d -= i;
    return d < 29 || (d == 29 && memcmp(s + i, "79228162514264337593543950335", 29) <= 0);
}

static int is_guid(const char *s, size_t n)
{
    if (n == 38 && ((s[0] == '{' && s[37] == '}') || (s[0] == '(' && s[37] == ')'))) {
        s++;
        n = 36;
    }
    if (n != 32 && n != 36)
        return 0;
    for (size_t i = 0; i < n; i++) {
        if (n == 36 && (i == 8 || i == 13 || i == 18 || i == 23)) {
            if (s[i] != '-')
                return 0;
        } else if (hexval(s[i]) < 0) {
            return 0;
        }
    }
    return 1;
}

/* exactly k digits at s[i..] */
static int digits_at(const char *s, size_t n, size_t i, size_t k, int *v)
{
    *v = 0;
    if (i > n || n - i < k)
        return 0;
    for (size_t j = i; j < i + k; j++) {
        if (!is_digit(s[j]))
            return 0;
        *v = *v * 10 + (s[j] - '0');
    }
    return 1;
}

/* ISO 8601: YYYY-MM-DD[(T| )hh:mm[:ss[.fff]][Z|(+|-)hh[:mm]]] */
static int is_datetime(const char *s, size_t n)
{
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int y, mo, d, h, mi, se = 0, oh, om = 0;
    size_t i = 10;
    if (!digits_at(s, n, 0, 4, &y) || n < 10 || s[4] != '-' || !digits_at(s, n, 5, 2, &mo) ||
        s[7] != '-' || !digits_at(s, n, 8, 2, &d))
        return 0;
    if (y < 1 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1])
        return 0;
    if (mo == 2 && d == 29 && !(y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)))
        return 0;
    if (i == n)
        return 1;
    if ((s[i] | 32) != 't' && s[i] != ' ')
        return 0;
    if (!digits_at(s, n, i + 1, 2, &h) || n - i < 6 || s[i + 3] != ':' ||
        !digits_at(s, n, i + 4, 2, &mi))
        return 0;
    i += 6;
    if (i < n && s[i] == ':') {
        if (!digits_at(s, n, i + 1, 2, &se))
            return 0;
        i += 3;
        if (i < n && s[i] == '.') {
            size_t k = ++i;
            while (i < n && is_digit(s[i]))
                i++;
            if (i == k)
                return 0;
        }
    }
    if (h > 23 || mi > 59 || se > 59)
        return 0;
    if (i == n || ((s[i] | 32) == 'z' && i + 1 == n))
        return 1;
    if ((s[i] != '+' && s[i] != '-') || !digits_at(s, n, i + 1, 2, &oh))
        return 0;
    i += 3;
    if (i < n) {
        if (s[i] == ':')
            i++;
        if (n - i != 2 || !digits_at(s, n, i, 2, &om))
            return 0;
    }
    return oh <= 14 && om <= 59;
}

static int cons_ok(const cons_t *c, const char *v, size_t n)
{
    long long x;
    size_t i, len;
    switch (c->kind) {
    case C_BOOL:
        return (n == 4 && strncasecmp(v, "true", 4) == 0) ||
               (n == 5 && strncasecmp(v, "false", 5) == 0);
    case C_ALPHA:
        for (i = 0; i < n; i++)
            if (!is_alpha((unsigned char)v[i]))
                return 0;
        return n > 0;
    case C_GUID:
        return is_guid(v, n);
    case C_DATETIME:
        return is_datetime(v, n);
    case C_DOUBLE:
        return is_double(v, n);
    case C_DECIMAL:
        return is_decimal(v, n);
    case C_RANGE:
        return parse_ll(v, n, &x) && x >= c->a && x <= c->b;
    case C_LENGTH: /* in characters: UTF-8 continuation bytes do not count */
        for (i = len = 0; i < n; i++)
            len += ((unsigned char)v[i] & 0xC0) != 0x80;
        return (long long)len >= c->a && (long long)len <= c->b;
    case C_REGEX: {
        regmatch_t m[1];
        m[0].rm_so = 0;
        m[0].rm_eo = (regoff_t)n;
        return regexec(&c->re, v, 0, m, REG_STARTEND) == 0;
    }
    }
    return 0;
}

/* ---- compiling ---- */

typedef struct parser {
    const char *s; /* the template without surrounding slashes */
    size_t n, i;
    size_t off; /* where s starts in what the caller gave, for positions */
    route_t *r;
    char *err;
    size_t errlen;
    size_t opt_pos, opt_param, catch_pos; /* first optional segment, last catch-all */
    int opt_seen, catch_seen;
} parser_t;

__attribute__((format(printf, 3, 4))) static int fail(parser_t *ps, size_t at, const char *fmt,
                                                      ...)
{
    va_list ap;
    int k;
    if (!ps->err || !ps->errlen)
        return -1;
    va_start(ap, fmt);
    k = vsnprintf(ps->err, ps->errlen, fmt, ap);
    va_end(ap);
    if (k >= 0 && (size_t)k < ps->errlen)
        snprintf(ps->err + k, ps->errlen - (size_t)k, " at position %zu", ps->off + at + 1);
    return -1;
}

/* The "{...}" starting at start, for messages. */
static sv_t param_text(const parser_t *ps, size_t start)
{
    size_t e = start + 1;
    int depth = 0;
    for (; e < ps->n; e++) {
        char c = ps->s[e];
        depth += (c == '(') - (c == ')');
        if (depth <= 0 && (c == '}' || c == '/'))
            break;
    }
    if (e < ps->n && ps->s[e] == '}')
        e++;
    if (e - start > 64)
        e = start + 64;
    return sv_make(ps->s + start, e - start);
}

static sv_t pool_copy(route_t *r, const char *s, size_t n)
{
    char *w = r->pool + r->pool_used;
    memcpy(w, s, n);
    w[n] = '\0';
    r->pool_used += n + 1;
    return sv_make(w, n);
}

/* Index just past the bracket expression that starts at s[i] == '['. */
static size_t bracket_end(const char *s, size_t n, size_t i)
{
    i++;
    if (i < n && s[i] == '^')
        i++;
    if (i < n && s[i] == ']')
        i++;
    while (i < n && s[i] != ']') {
        if (s[i] == '[' && i + 1 < n && (s[i + 1] == ':' || s[i + 1] == '.' || s[i + 1] == '=')) {
            char d = s[i + 1];
            for (i += 2; i + 1 < n && !(s[i] == d && s[i + 1] == ']'); i++)
                ;
            i = i + 2 < n ? i + 2 : n;
        } else {
            i++;
        }
    }
    return i < n ? i + 1 : n;
}

/* Index of the ')' closing the '(' at s[i], or n. A regex argument may hold
 * nested parentheses, escapes and bracket expressions, thus '}' and ':'. */
static size_t arg_end(const char *s, size_t n, size_t i, int regex)
{
    int depth = 1;
    for (i++; i < n; i++) {
        char c = s[i];
        if (regex && c == '\\')
            i++;
        else if (regex && c == '[')
            i = bracket_end(s, n, i) - 1;
        else if (!regex && (c == '}' || c == '/' || c == '{' || c == '('))
            return n;
        else if (c == '(')
            depth++;
        else if (c == ')' && --depth == 0)
            return i;
    }
    return n;
}

/* Copy a regex into the pool as POSIX wants it: "{{" "}}" unescaped as in
 * ASP.NET templates, .NET's \d \D as bracket expressions, a lazy '?' after
 * a quantifier dropped (same matches). glibc's regcomp copies the operand
 * of '+' once and of {n,m} max(n,m) times, and nested loops over nullable
 * operands cost it dearly, so a template could make it take seconds and
 * gigabytes: copies are counted (a quantified group that holds quantifiers
 * counts four times), a regex over REGEX_MAX_COST is refused, and so are a
 * quantifier on a quantifier (undefined in POSIX) and backreferences
 * (exponential matching on request paths). */
#define REGEX_MAX_COST 1000
#define REGEX_MAX_DEPTH 32

static int regex_prepare(parser_t *ps, size_t at, sv_t arg, sv_t text, const char **out)
{
    const char *s = arg.p;
    size_t n = arg.n, sum[REGEX_MAX_DEPTH + 1] = {0}, last[REGEX_MAX_DEPTH + 1] = {0};
    char hasq[REGEX_MAX_DEPTH + 1] = {0}, lastq[REGEX_MAX_DEPTH + 1] = {0};
    char *w = ps->r->pool + ps->r->pool_used, *o = w;
    int d = 0, quant = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        size_t k = 1; /* an atom's cost, or a quantifier's number of copies */
        int q = 0, group_q = 0;
        if ((c == '{' || c == '}') && i + 1 < n && s[i + 1] == c)
            i++;
        if (c == '\\' && i + 1 < n) {
            c = s[++i];
            if (c >= '1' && c <= '9')
                return fail(ps, at, "backreference in regex in '%.*s'", SVF(text));
            if (c == 'd' || c == 'D') {
                memcpy(o, c == 'd' ? "[0-9]" : "[^0-9]", c == 'd' ? 5 : 6);
                o += c == 'd' ? 5 : 6;
            } else {
                *o++ = '\\';
                *o++ = c;
            }
        } else if (c == '[') {
            for (size_t e = bracket_end(s, n, i); i < e; i++) {
                if (s[i] == '\\' && i + 1 < e && s[i + 1] == 'd') {
                    memcpy(o, "0-9", 3);
                    o += 3;
                    i++;
                } else {
                    *o++ = s[i];
                }
            }
            i--;
        } else if (c == '?' && quant) {
            continue;
        } else if (c == '(' || c == '|') {
            if (c == '(' && d++ == REGEX_MAX_DEPTH)
                return fail(ps, at, "regex nested too deeply in '%.*s'", SVF(text));
            if (c == '(')
                sum[d] = hasq[d] = 0;
            *o++ = c;
            last[d] = 0;
            quant = 0;
            continue;
        } else if (c == ')' && d > 0) {
            *o++ = c;
            k = sum[d--];
            group_q = hasq[d + 1];
            hasq[d] |= group_q;
        } else if ((c == '*' || c == '+' || c == '?' || c == '{') && quant) {
            return fail(ps, at, "quantifier after a quantifier in regex in '%.*s'", SVF(text));
        } else if (c == '*' || c == '?' || c == '+') {
            *o++ = c;
            k = c == '+' ? 2 : 1;
            q = 1;
        } else if (c == '{') { /* an interval {n}, {n,} or {n,m} */
            size_t lo = 0, hi = 0, e = i + 1;
            int comma = 0;
            for (; e < n && (is_digit(s[e]) || (s[e] == ',' && !comma)); e++) {
                size_t *v = comma ? &hi : &lo;
                if (s[e] == ',')
                    comma = 1;
                else if (*v <= REGEX_MAX_COST)
                    *v = *v * 10 + (size_t)(s[e] - '0');
            }
            *o++ = '{';
            if (e == n || s[e] != '}') { /* not an interval: regcomp will judge */
                quant = 0;
                continue;
            }
            memcpy(o, s + i + 1, e - i - 1);
            o += e - i - 1;
            *o++ = '}';
            i = e + 1 < n && s[e + 1] == '}' ? e + 1 : e;
            k = !comma ? lo : e > 0 && s[e - 1] == ',' ? lo + 1 : hi;
            k = k ? k : 1;
            q = 1;
        } else {
            *o++ = c;
        }
        if (q) { /* glibc copies the quantified operand k times */
            k *= lastq[d] ? 4 : 1;
            sum[d] += last[d] * (k - 1);
            last[d] *= k;
            hasq[d] = 1;
        } else {
            sum[d] += k;
            last[d] = k;
            lastq[d] = (char)group_q;
        }
        quant = q;
        if (sum[d] > REGEX_MAX_COST || last[d] > REGEX_MAX_COST)
            return fail(ps, at, "regex too complex in '%.*s'", SVF(text));
    }
    *o = '\0';
    ps->r->pool_used += (size_t)(o - w) + 1;
    *out = w;
    return 0;
}

/* int and long are ranges; a single argument sets the bound that `one`
 * names: 'a' the lower, 'b' the upper, '=' both. */
static const struct {
    const char *name;
    int kind, amin, amax;
    long long a, b;
    char one;
} ctab[] = {
    {"int", C_RANGE, 0, 0, INT32_MIN, INT32_MAX, 0},
    {"long", C_RANGE, 0, 0, LLONG_MIN, LLONG_MAX, 0},
    {"bool", C_BOOL, 0, 0, 0, 0, 0},
    {"alpha", C_ALPHA, 0, 0, 0, 0, 0},
    {"guid", C_GUID, 0, 0, 0, 0, 0},
    {"datetime", C_DATETIME, 0, 0, 0, 0, 0},
    {"double", C_DOUBLE, 0, 0, 0, 0, 0},
    {"float", C_DOUBLE, 0, 0, 0, 0, 0},
    {"decimal", C_DECIMAL, 0, 0, 0, 0, 0},
    {"min", C_RANGE, 1, 1, 0, LLONG_MAX, 'a'},
    {"max", C_RANGE, 1, 1, LLONG_MIN, 0, 'b'},
    {"range", C_RANGE, 2, 2, 0, 0, 0},
    {"length", C_LENGTH, 1, 2, 0, 0, '='},
    {"minlength", C_LENGTH, 1, 1, 0, LLONG_MAX, 'a'},
    {"maxlength", C_LENGTH, 1, 1, 0, 0, 'b'},
    {"regex", C_REGEX, 1, 1, 0, 0, 0},
};

static int add_constraint(parser_t *ps, size_t at, sv_t name, sv_t arg, sv_t text)
{
    route_t *r = ps->r;
    cons_t *c = &r->cons[r->ncons];
    size_t t;
    long long v[2] = {0, 0};
    int nv = 0;
    if (name.n == 0)
        return fail(ps, at, "empty constraint in '%.*s'", SVF(text));
    for (t = 0; t < sizeof ctab / sizeof ctab[0]; t++)
        if (sv_ieq_cstr(name, ctab[t].name))
            break;
    if (t == sizeof ctab / sizeof ctab[0])
        return fail(ps, at, "unknown constraint '%.*s' in '%.*s'", SVF(name), SVF(text));
    if (ctab[t].amax == 0 && arg.p)
        return fail(ps, at, "constraint '%s' takes no argument in '%.*s'", ctab[t].name,
                    SVF(text));
    if (ctab[t].amin > 0 && !arg.p)
        return fail(ps, at, "constraint '%s' needs an argument in '%.*s'", ctab[t].name,
                    SVF(text));
    c->kind = ctab[t].kind;
    c->a = ctab[t].a;
    c->b = ctab[t].b;
    if (c->kind == C_REGEX) {
        char msg[128];
        const char *re = NULL;
        int rc;
        if (arg.n == 0)
            return fail(ps, at, "empty regex in '%.*s'", SVF(text));
        if (regex_prepare(ps, at, arg, text, &re) < 0)
            return -1;
        rc = regcomp(&c->re, re, REG_EXTENDED | REG_ICASE | REG_NOSUB);
        if (rc != 0) {
            regerror(rc, NULL, msg, sizeof msg);
            return fail(ps, at, "invalid regex '%.*s' in '%.*s' (%s)", SVF(arg), SVF(text), msg);
        }
        r->ncons++;
        return 0;
    }
    for (size_t i = 0, s = 0; arg.p && i <= arg.n; i++) {
        if (i < arg.n && arg.p[i] != ',')
            continue;
        if (nv == 2 || !parse_ll(arg.p + s, i - s, &v[nv]))
            return fail(ps, at, "bad argument '%.*s' for constraint '%s' in '%.*s'", SVF(arg),
                        ctab[t].name, SVF(text));
        nv++;
        s = i + 1;
    }
    if (nv < ctab[t].amin || nv > ctab[t].amax || (c->kind == C_LENGTH && v[0] < 0) ||
        (nv == 2 && (v[1] < v[0])))
        return fail(ps, at, "bad argument '%.*s' for constraint '%s' in '%.*s'", SVF(arg),
                    ctab[t].name, SVF(text));
    if (nv && (nv == 2 || ctab[t].one != 'b'))
        c->a = v[0];
    if (nv && (nv == 2 || ctab[t].one != 'a'))
        c->b = v[nv - 1];
    r->ncons++;
    return 0;
}

static int name_char(int c) { return is_alpha(c) || is_digit(c) || c == '_' || c == '-'; }

/* "{[*]name[:constraint[(args)]]...[=default][?]}" at ps->i. */
static int parse_param(parser_t *ps, int *star)
{
    route_t *r = ps->r;
    const char *s = ps->s;
    size_t n = ps->n, start = ps->i, i = start + 1, ns;
    sv_t text = param_text(ps, start), name;
    param_t *p = &r->params[r->nparams];
    *star = 0;
    if (i < n && s[i] == '*') {
        *star = 1;
        if (++i < n && s[i] == '*')
            i++;
    }
    for (ns = i; i < n && name_char((unsigned char)s[i]); i++)
        ;
    if (i < n && i == ns && strchr(":?=}", s[i]))
        return fail(ps, start, "empty parameter name in '%.*s'", SVF(text));
    if (i >= n || s[i] == '/')
        return fail(ps, start, "unclosed '{' in '%.*s'", SVF(text));
    if (i == ns)
        return fail(ps, i, "invalid character '%c' in parameter name in '%.*s'", s[i], SVF(text));
    name = sv_make(s + ns, i - ns);
    if (r->nparams == ROUTE_MAX_PARAMS)
        return fail(ps, start, "more than %d parameters", ROUTE_MAX_PARAMS);
    for (size_t k = 0; k < r->nparams; k++)
        if (sv_ieq(r->params[k].name, name))
            return fail(ps, start, "duplicate parameter name '%.*s'", SVF(name));
    p->name = pool_copy(r, name.p, name.n);
    p->cons = r->ncons;
    while (i < n && s[i] == ':') {
        size_t cs = ++i, ce;
        sv_t arg = SV_NULL;
        while (i < n && (is_alpha((unsigned char)s[i]) || is_digit(s[i])))
            i++;
        ce = i;
        if (i < n && s[i] == '(') {
            size_t e = arg_end(s, n, i, (i - cs == 5 && strncasecmp(s + cs, "regex", 5) == 0));
            if (e >= n)
                return fail(ps, i, "unclosed '(' in '%.*s'", SVF(text));
            arg = sv_make(s + i + 1, e - i - 1);
            i = e + 1;
        }
        if (add_constraint(ps, cs, sv_make(s + cs, ce - cs), arg, text) < 0)
            return -1;
    }
    p->ncons = r->ncons - p->cons;
    if (i < n && s[i] == '=') {
        size_t ds = ++i;
        while (i < n && s[i] != '}' && s[i] != '{' && s[i] != '/')
            i++;
        if (i > ds && s[i - 1] == '?')
            return fail(ps, ds, "optional parameter '%.*s' cannot have a default value",
                        SVF(name));
        p->def = pool_copy(r, s + ds, i - ds);
    }
    if (i < n && s[i] == '?') {
        p->optional = 1;
        i++;
    }
    if (i >= n || s[i] == '/')
        return fail(ps, start, "unclosed '{' in '%.*s'", SVF(text));
    if (s[i] != '}')
        return fail(ps, i, "unexpected '%c' in '%.*s'", s[i], SVF(text));
    if (*star && p->optional)
        return fail(ps, start, "catch-all parameter '%.*s' cannot be optional", SVF(name));
    ps->i = i + 1;
    r->nparams++;
    return 0;
}

/* A literal run at ps->i, up to '/' or an unescaped '{'. */
static int parse_literal(parser_t *ps, sv_t *out)
{
    route_t *r = ps->r;
    char *w = r->pool + r->pool_used;
    size_t k = 0;
    while (ps->i < ps->n) {
        char c = ps->s[ps->i];
        if (c == '/')
            break;
        if (c == '{' || c == '}') {
            if (ps->i + 1 < ps->n && ps->s[ps->i + 1] == c) {
                w[k++] = c;
                ps->i += 2;
                continue;
            }
            if (c == '{')
                break;
            return fail(ps, ps->i, "unmatched '}'");
        }
        if (c == '?' || c == '#')
            return fail(ps, ps->i, "'%c' is not allowed in a literal", c);
        w[k++] = (char)lower((unsigned char)c);
        ps->i++;
    }
    w[k] = '\0';
    r->pool_used += k + 1;
    *out = sv_make(w, k);
    return 0;
}

static int parse_segment(parser_t *ps)
{
    route_t *r = ps->r;
    size_t start = ps->i, first = r->nparts, np;
    seg_t *sg = &r->segs[r->nsegs];
    int star = 0, opt;
    if (ps->catch_seen)
        return fail(ps, ps->catch_pos, "catch-all parameter '%.*s' must be in the last segment",
                    SVF(r->params[r->segs[r->nsegs - 1].param].name));
    if (r->nsegs == MAX_SEGS)
        return fail(ps, start, "more than %d segments", MAX_SEGS);
    while (ps->i < ps->n && ps->s[ps->i] != '/') {
        part_t *pt = &r->parts[r->nparts];
        if (ps->s[ps->i] == '{' && !(ps->i + 1 < ps->n && ps->s[ps->i + 1] == '{')) {
            size_t at = ps->i;
            if (r->nparts > first && !r->parts[r->nparts - 1].lit.p)
                return fail(ps, at, "two consecutive parameters in one segment");
            if (parse_param(ps, &star) < 0)
                return -1;
            if (star && (r->nparts > first || (ps->i < ps->n && ps->s[ps->i] != '/')))
                return fail(ps, at, "catch-all parameter '%.*s' must be a whole segment",
                            SVF(r->params[r->nparams - 1].name));
            pt->lit = SV_NULL;
            pt->param = r->nparams - 1;
        } else if (parse_literal(ps, &pt->lit) < 0) {
            return -1;
        }
        r->nparts++;
    }
    np = r->nparts - first;
    if (np == 0)
        return fail(ps, start, "empty segment");
    sg->part = first;
    sg->nparts = np;
    if (np == 1) {
        r->nparts = first;
        sg->lit = r->parts[first].lit;
        sg->param = r->parts[first].param;
        sg->kind = sg->lit.p ? SEG_LIT : star ? SEG_CATCHALL : SEG_PARAM;
        sg->hash = sg->lit.p ? seg_hash(sg->lit.p, sg->lit.n, 0) : 0;
        if (sg->lit.p && r->nquick < QUICK) {
            r->quick[r->nquick].seg = r->nsegs;
            r->quick[r->nquick++].hash = sg->hash;
        }
    } else {
        sg->kind = SEG_COMPLEX;
        for (size_t k = first; k < r->nparts; k++) {
            const param_t *p;
            if (r->parts[k].lit.p)
                continue;
            p = &r->params[r->parts[k].param];
            if (p->def.p)
                return fail(ps, start, "parameter '%.*s' in a complex segment cannot have a "
                                       "default value", SVF(p->name));
            if (p->optional && (k + 1 != r->nparts || !sv_eq(r->parts[k - 1].lit, SV_LIT("."))))
                return fail(ps, start, "optional parameter '%.*s' in a complex segment must be "
                                       "last and follow '.'", SVF(p->name));
        }
    }
    opt = sg->kind == SEG_CATCHALL ||
          (sg->kind == SEG_PARAM && (r->params[sg->param].optional || r->params[sg->param].def.p));
    if (!opt && ps->opt_seen)
        return fail(ps, ps->opt_pos, "optional parameter '%.*s' must be at the end of the template",
                    SVF(r->params[ps->opt_param].name));
    if (opt && !ps->opt_seen) {
        ps->opt_seen = 1;
        ps->opt_pos = start;
        ps->opt_param = sg->param;
        r->nreq = r->nsegs;
    }
    if (sg->kind == SEG_CATCHALL) {
        ps->catch_seen = 1;
        ps->catch_pos = start;
    }
    r->nsegs++;
    return 0;
}

route_t *route_compile(const char *tmpl, char *err, size_t errlen)
{
    parser_t ps = {.err = err, .errlen = errlen};
    size_t len, b, e, nslash = 0, nbrace = 0, ncolon = 0;
    route_t *r;
    if (err && errlen)
        err[0] = '\0';
    if (!tmpl) {
        fail(&ps, 0, "no template");
        return NULL;
    }
    len = strnlen(tmpl, ROUTE_MAX_TEMPLATE + 1);
    if (len > ROUTE_MAX_TEMPLATE) {
        fail(&ps, ROUTE_MAX_TEMPLATE, "template longer than %d bytes", ROUTE_MAX_TEMPLATE);
        return NULL;
    }
    for (b = 0; b < len && tmpl[b] == '/'; b++)
        ;
    for (e = len; e > b && tmpl[e - 1] == '/'; e--)
        ;
    for (size_t i = b; i < e; i++) {
        nslash += tmpl[i] == '/';
        nbrace += tmpl[i] == '{';
        ncolon += tmpl[i] == ':';
    }
    r = calloc(1, sizeof *r);
    if (!r || !(r->tmpl = malloc(e - b + 1)) || !(r->pool = malloc(3 * (e - b) + 16)) ||
        !(r->segs = calloc(nslash + 1, sizeof *r->segs)) ||
        !(r->parts = calloc(2 * nbrace + nslash + 1, sizeof *r->parts)) ||
        !(r->cons = calloc(ncolon + 1, sizeof *r->cons))) {
        fail(&ps, 0, "out of memory");
        route_free(r);
        return NULL;
    }
    memcpy(r->tmpl, tmpl + b, e - b);
    r->tmpl[e - b] = '\0';
    ps.s = r->tmpl;
    ps.n = e - b;
    ps.off = b;
    ps.r = r;
    while (ps.i < ps.n) {
        if (parse_segment(&ps) < 0) {
            route_free(r);
            return NULL;
        }
        if (ps.i < ps.n)
            ps.i++; /* the '/' */
    }
    if (!ps.opt_seen)
        r->nreq = r->nsegs;
    r->catchall = ps.catch_seen;
    return r;
}

void route_free(route_t *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->ncons; i++)
        if (r->cons[i].kind == C_REGEX)
            regfree(&r->cons[i].re);
    free(r->cons);
    free(r->parts);
    free(r->segs);
    free(r->pool);
    free(r->tmpl);
    free(r);
}

const char *route_template(const route_t *r) { return r ? r->tmpl : NULL; }

/* ---- matching ---- */

typedef struct split {
    const char *end; /* end of the path, a trailing slash included */
    size_t n;        /* segments; may exceed MAX_SEGS, then only the first are recorded */
    const char *p[MAX_SEGS];
    size_t len[MAX_SEGS];
    uint32_t hash[MAX_SEGS]; /* seg_hash() of each */
} split_t;

typedef struct out {
    char *p;
    size_t left;
} out_t;

static void split_path(const char *path, size_t len, split_t *sp)
{
    const char *s = path, *end = path + len;
    sp->end = end;
    sp->n = 0;
    if (s < end && *s == '/')
        s++;
    if (end > s && end[-1] == '/')
        end--;
    if (s == end)
        return;
    for (;;) {
        const char *q = memchr(s, '/', (size_t)(end - s)), *e = q ? q : end;
        if (sp->n < MAX_SEGS) {
            sp->p[sp->n] = s;
            sp->len[sp->n] = (size_t)(e - s);
            sp->hash[sp->n] = seg_hash(s, (size_t)(e - s), 1);
        }
        sp->n++;
        if (!q)
            return;
        s = q + 1;
    }
}

/* Raw (percent-encoded) path text against a lower-cased literal. */
static int lit_eq(const char *s, size_t n, sv_t lit)
{
    size_t j = 0;
    if (n < lit.n)
        return 0;
    for (size_t i = 0; i < n; i++, j++) {
        int c = (unsigned char)s[i], h, l;
        if (c == '%') {
            if (n - i < 3 || (h = hexval(s[i + 1])) < 0 || (l = hexval(s[i + 2])) < 0)
                return 0;
            c = h << 4 | l;
            i += 2;
        }
        if (j == lit.n || lower(c) != (unsigned char)lit.p[j])
            return 0;
    }
    return j == lit.n;
}

/* Decoded text against a lower-cased literal of the same length. */
static int ieq(const char *d, sv_t lit)
{
    for (size_t k = 0; k < lit.n; k++)
        if (lower((unsigned char)d[k]) != (unsigned char)lit.p[k])
            return 0;
    return 1;
}

/* Decode into the scratch buffer; NULL when malformed, empty or too long. */
static const char *decode(out_t *o, const char *s, size_t n, size_t *dn)
{
    long d = url_decode(s, n, o->p, o->left);
    const char *v = o->p;
    if (d <= 0)
        return NULL;
    *dn = (size_t)d;
    o->p += d + 1;
    o->left -= (size_t)d + 1;
    return v;
}

static int check(const route_t *r, size_t param, const char *v, size_t n)
{
    const param_t *p = &r->params[param];
    for (size_t k = 0; k < p->ncons; k++)
        if (!cons_ok(&r->cons[p->cons + k], v, n))
            return 0;
    return 1;
}

/* Place the parts of a complex segment on decoded text d: a leading literal
 * at the start, a trailing one at the end, the others at their right-most
 * place (left parameters take the longest values, as ASP.NET does); every
 * parameter gets at least one character. vs/vl receive parameter spans. */
static int place_parts(const part_t *pt, size_t np, const char *d, size_t dn, size_t *vs,
                       size_t *vl)
{
    size_t lo = 0, hi = dn, first = 0, end = np, last;
    if (pt[0].lit.p) {
        if (dn < pt[0].lit.n || !ieq(d, pt[0].lit))
            return 0;
        lo = pt[0].lit.n;
        first = 1;
    }
    if (end > first && pt[end - 1].lit.p) {
        sv_t lit = pt[end - 1].lit;
        if (hi - lo < lit.n || !ieq(d + hi - lit.n, lit))
            return 0;
        hi -= lit.n;
        end--;
    }
    last = hi;
    for (size_t k = end; k-- > first + 1;) {
        size_t L = pt[k].lit.n, pos;
        if (!pt[k].lit.p)
            continue;
        if (last < lo + 2 + L)
            return 0;
        for (pos = last - 1 - L; !ieq(d + pos, pt[k].lit); pos--)
            if (pos == lo + 1)
                return 0;
        vs[k + 1] = pos + L;
        vl[k + 1] = last - pos - L;
        last = pos;
    }
    if (last <= lo) /* pt[first] is a parameter */
        return 0;
    vs[first] = lo;
    vl[first] = last - lo;
    return 1;
}

static int match_complex(const route_t *r, const seg_t *sg, const char *raw, size_t rawlen,
                         out_t *o, route_params_t *pr)
{
    size_t vs[MAX_PARTS], vl[MAX_PARTS], dn, np = sg->nparts;
    const part_t *pt = r->parts + sg->part;
    const char *d = decode(o, raw, rawlen, &dn);
    if (!d)
        return 0;
    if (!place_parts(pt, np, d, dn, vs, vl)) {
        if (np < 3 || pt[np - 1].lit.p || !r->params[pt[np - 1].param].optional)
            return 0;
        np -= 2; /* "{file}.{ext?}" without ".ext" */
        if (!place_parts(pt, np, d, dn, vs, vl))
            return 0;
    }
    for (size_t k = 0; k < np; k++) {
        char *v = o->p;
        if (pt[k].lit.p)
            continue;
        if (o->left <= vl[k])
            return 0;
        memcpy(v, d + vs[k], vl[k]);
        v[vl[k]] = '\0';
        o->p += vl[k] + 1;
        o->left -= vl[k] + 1;
        if (!check(r, pt[k].param, v, vl[k]))
            return 0;
        pr->v[pt[k].param].value = sv_make(v, vl[k]);
    }
    return 1;
}

static int match_split(const route_t *r, const split_t *sp, route_params_t *pr, char *scratch,
                       size_t scratch_len)
{
    size_t k = sp->n, fixed = r->nsegs - (size_t)r->catchall, upto, dn;
    out_t o = {scratch, scratch_len};
    const char *v;
    pr->n = 0;
    if (k < r->nreq || (k > r->nsegs && !r->catchall))
        return 0;
    upto = k < fixed ? k : fixed;
    for (size_t i = 0; i < r->nquick; i++) /* cheap rejection first */
        if (sp->hash[r->quick[i].seg] != r->quick[i].hash)
            return 0;
    for (size_t i = 0; i < upto; i++)
        if (r->segs[i].kind == SEG_LIT && (sp->hash[i] != r->segs[i].hash ||
                                           !lit_eq(sp->p[i], sp->len[i], r->segs[i].lit)))
            return 0;
    for (size_t j = 0; j < r->nparams; j++) {
        pr->v[j].name = r->params[j].name;
        pr->v[j].value = r->params[j].def;
        pr->v[j].raw = SV_NULL;
    }
    for (size_t i = 0; i < upto; i++) {
        const seg_t *sg = &r->segs[i];
        if (sg->kind == SEG_PARAM) {
            if (!(v = decode(&o, sp->p[i], sp->len[i], &dn)) || !check(r, sg->param, v, dn))
                return 0;
            pr->v[sg->param].value = sv_make(v, dn);
            pr->v[sg->param].raw = sv_make(sp->p[i], sp->len[i]);
        } else if (sg->kind == SEG_COMPLEX) {
            if (!match_complex(r, sg, sp->p[i], sp->len[i], &o, pr))
                return 0;
        }
    }
    if (r->catchall && k > fixed) {
        const seg_t *sg = &r->segs[fixed];
        size_t rawlen = (size_t)(sp->end - sp->p[fixed]);
        if (rawlen) {
            if (!(v = decode(&o, sp->p[fixed], rawlen, &dn)) || !check(r, sg->param, v, dn))
                return 0;
            pr->v[sg->param].value = sv_make(v, dn);
            pr->v[sg->param].raw = sv_make(sp->p[fixed], rawlen);
        }
    }
    pr->n = r->nparams;
    return 1;
}

int route_match(const route_t *r, const char *path, size_t len, route_params_t *params,
                char *scratch, size_t scratch_len)
{
    split_t sp;
    split_path(path, len, &sp);
    return match_split(r, &sp, params, scratch, scratch_len);
}

/* ---- router ---- */

typedef struct entry {
    route_t *r;
    unsigned accept; /* the methods it takes: HEAD with GET, OTHER when registered for all */
    void *data;
} entry_t;

struct router {
    entry_t *v;
    size_t n, cap;
};

static unsigned accepted(unsigned methods)
{
    if (methods == 0)
        return METHOD_ALL | METHOD_OTHER;
    methods &= METHOD_ALL;
    return methods & METHOD_GET ? methods | METHOD_HEAD : methods;
}

router_t *router_new(void) { return calloc(1, sizeof(router_t)); }

void router_free(router_t *rt)
{
    if (!rt)
        return;
    for (size_t i = 0; i < rt->n; i++)
        route_free(rt->v[i].r);
    free(rt->v);
    free(rt);
}

int router_add(router_t *rt, const char *tmpl, unsigned methods, void *data, char *err,
               size_t errlen)
{
    route_t *r = route_compile(tmpl, err, errlen);
    unsigned acc = accepted(methods);
    if (!r)
        return -1;
    for (size_t i = 0; i < rt->n; i++) {
        unsigned both = rt->v[i].accept & acc & METHOD_ALL;
        if (both && strcasecmp(rt->v[i].r->tmpl, r->tmpl) == 0) {
            char list[64];
            method_list(both, list, sizeof list);
            if (err && errlen)
                snprintf(err, errlen, "route '%s' is already registered for %s", r->tmpl, list);
            route_free(r);
            return -1;
        }
    }
    if (rt->n == rt->cap) {
        size_t cap = rt->cap ? rt->cap * 2 : 16;
        entry_t *v = realloc(rt->v, cap * sizeof *v);
        if (!v) {
            if (err && errlen)
                snprintf(err, errlen, "out of memory");
            route_free(r);
            return -1;
        }
        rt->v = v;
        rt->cap = cap;
    }
    rt->v[rt->n++] = (entry_t){r, acc, data};
    return 0;
}

int router_lookup(const router_t *rt, unsigned method, const char *path, size_t len,
                  route_params_t *params, char *scratch, size_t scratch_len, void **data,
                  unsigned *allowed)
{
    split_t sp;
    unsigned allow = 0;
    int skipped = 0;
    split_path(path, len, &sp);
    params->n = 0;
    for (size_t i = 0; i < rt->n; i++) {
        if (!(rt->v[i].accept & method)) {
            skipped = 1;
            continue;
        }
        if (match_split(rt->v[i].r, &sp, params, scratch, scratch_len)) {
            if (data)
                *data = rt->v[i].data;
            return ROUTER_MATCH;
        }
    }
    for (size_t i = 0; skipped && i < rt->n; i++)
        if (!(rt->v[i].accept & method) &&
            match_split(rt->v[i].r, &sp, params, scratch, scratch_len))
            allow |= rt->v[i].accept & METHOD_ALL;
    params->n = 0;
    if (!allow)
        return ROUTER_NOT_FOUND;
    if (allowed)
        *allowed = allow;
    return ROUTER_METHOD_NOT_ALLOWED;
}
