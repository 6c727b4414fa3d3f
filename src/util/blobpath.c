/*
 * blobpath.c -- blob path patterns: parsing into literal and capture
 * tokens, matching blob names against them, and the container and blob
 * name checks. The rules are in blobpath.h.
 */
#include "blobpath.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct token {
    char *s;    /* literal text (escapes undone) or capture name, NUL-terminated */
    size_t n;   /* strlen(s) */
    int cap;    /* 1 for a capture */
    int spans;  /* capture only: may hold '/' (no '/' in the pattern after it) */
    size_t ci;  /* capture only: its index */
} token_t;

struct blobpath {
    char *text;
    char *container;
    char *prefix;
    token_t *tok;
    size_t ntok;
    const char *names[BLOBPATH_CAPTURES_MAX];
    size_t ncap;
    int any; /* a container alone: every blob matches */
};

__attribute__((format(printf, 3, 4))) static int fail(char *err, size_t errlen, const char *fmt,
                                                      ...)
{
    va_list ap;
    if (!err || !errlen)
        return -1;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

/* ---- names ---- */

/* Length of the valid UTF-8 sequence at s (at most n bytes), 0 if invalid. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    size_t len;
    uint32_t cp;
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf) {
        len = 2;
        cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (s[i] & 0x3f);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
        (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return len;
}

int blobpath_name_checkn(const char *name, size_t n, char *err, size_t errlen)
{
    if (!name || n == 0)
        return fail(err, errlen, "blob name is empty");
    if (n > BLOBPATH_NAME_MAX)
        return fail(err, errlen, "blob name is %zu bytes long (at most %d)", n,
                    BLOBPATH_NAME_MAX);
    if (name[0] == '/')
        return fail(err, errlen,
                    "blob name starts with '/' at position 1 (a blob name is relative to "
                    "its container)");
    size_t seg = 0; /* start of the current segment */
    for (size_t i = 0; i <= n; i++) {
        unsigned char c = i < n ? (unsigned char)name[i] : '/';
        if (c == '/') {
            size_t len = i - seg;
            if (len == 0)
                return fail(err, errlen, i == n ? "blob name ends with '/'"
                                                : "blob name has an empty segment ('//') at "
                                                  "position %zu",
                            i + 1);
            if (name[seg] == '.') {
                if (len <= 2 && (len == 1 || name[seg + 1] == '.'))
                    return fail(err, errlen, "blob name has a '%.*s' segment at position %zu",
                                (int)len, name + seg, seg + 1);
                return fail(err, errlen,
                            "blob name has a segment starting with '.' at position %zu "
                            "(names starting with '.' are reserved for files being written)",
                            seg + 1);
            }
            if (len > BLOBPATH_SEGMENT_MAX)
                return fail(err, errlen,
                            "blob name has a segment of %zu bytes at position %zu (at most %d "
                            "between two '/')",
                            len, seg + 1, BLOBPATH_SEGMENT_MAX);
            seg = i + 1;
            continue;
        }
        if (c == '\0')
            return fail(err, errlen, "blob name has a NUL byte at position %zu", i + 1);
        if (c == '\\')
            return fail(err, errlen,
                        "blob name has a backslash at position %zu (use '/' between folders)",
                        i + 1);
        if (c < 0x20 || c == 0x7f)
            return fail(err, errlen, "blob name has control character 0x%02x at position %zu",
                        c, i + 1);
        size_t l = utf8_len((const unsigned char *)name + i, n - i);
        if (l == 0)
            return fail(err, errlen, "blob name is not valid UTF-8 at position %zu", i + 1);
        i += l - 1;
    }
    return 0;
}

int blobpath_name_check(const char *name, char *err, size_t errlen)
{
    return blobpath_name_checkn(name, name ? strlen(name) : 0, err, errlen);
}

static int container_checkn(const char *s, size_t n, char *err, size_t errlen)
{
    if (n < 3 || n > 63)
        return fail(err, errlen, "container name '%.*s' is %zu characters long (3 to 63 allowed)",
                    (int)(n > 80 ? 80 : n), s, n);
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c >= 'A' && c <= 'Z')
            return fail(err, errlen,
                        "container name '%.*s' has an uppercase letter at position %zu (only "
                        "lowercase letters, digits and '-')",
                        (int)n, s, i + 1);
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
            return fail(err, errlen,
                        "container name '%.*s' has a '%c' at position %zu (only lowercase "
                        "letters, digits and '-')",
                        (int)n, s, (unsigned char)c >= 0x20 && c != 0x7f ? c : '?', i + 1);
        if (c == '-' && (i == 0 || i == n - 1))
            return fail(err, errlen,
                        "container name '%.*s' %s with '-' (it must %s with a letter or digit)",
                        (int)n, s, i == 0 ? "starts" : "ends", i == 0 ? "start" : "end");
        if (c == '-' && s[i - 1] == '-')
            return fail(err, errlen, "container name '%.*s' has '--' at position %zu", (int)n,
                        s, i);
    }
    return 0;
}

int blobpath_container_check(const char *name, char *err, size_t errlen)
{
    if (!name || !*name)
        return fail(err, errlen, "container name is empty");
    return container_checkn(name, strlen(name), err, errlen);
}

/* ---- parsing ---- */

typedef struct parser {
    blobpath_t *p;
    const char *b; /* the blob pattern */
    size_t n;
    size_t base; /* where b starts in the pattern, for positions */
    char *lit;   /* literal being gathered */
    size_t nlit;
    char *err;
    size_t errlen;
} parser_t;

__attribute__((format(printf, 3, 4))) static int pfail(parser_t *ps, size_t at, const char *fmt,
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
        snprintf(ps->err + k, ps->errlen - (size_t)k, " at position %zu", ps->base + at + 1);
    return -1;
}

static int push(parser_t *ps, const char *s, size_t n, int cap)
{
    token_t *t = &ps->p->tok[ps->p->ntok];
    t->s = malloc(n + 1);
    if (!t->s)
        return pfail(ps, 0, "out of memory");
    memcpy(t->s, s, n);
    t->s[n] = '\0';
    t->n = n;
    t->cap = cap;
    ps->p->ntok++;
    if (cap) {
        t->ci = ps->p->ncap;
        ps->p->names[ps->p->ncap++] = t->s;
    }
    return 0;
}

static int flush(parser_t *ps)
{
    int rc = ps->nlit ? push(ps, ps->lit, ps->nlit, 0) : 0;
    ps->nlit = 0;
    return rc;
}

static int is_name_char(char c, int first)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
           (!first && c >= '0' && c <= '9');
}

/* The capture "{...}" at b[i], b[j] == '}'. */
static int capture(parser_t *ps, size_t i, size_t j)
{
    const char *name = ps->b + i + 1;
    size_t len = j - i - 1;
    blobpath_t *p = ps->p;

    if (len == 0)
        return pfail(ps, i, "empty capture '{}'");
    for (size_t k = 0; k < len; k++)
        if (!is_name_char(name[k], k == 0))
            return pfail(ps, i,
                         "bad capture name '{%.*s}' (letters, digits and '_', not starting "
                         "with a digit)",
                         (int)(len > 64 ? 64 : len), name);
    if (p->ntok && p->tok[p->ntok - 1].cap && ps->nlit == 0)
        return pfail(ps, i,
                     "captures '{%s}' and '{%.*s}' side by side (put literal text between "
                     "them)",
                     p->tok[p->ntok - 1].s, (int)len, name);
    for (size_t k = 0; k < p->ncap; k++)
        if (strlen(p->names[k]) == len && strncasecmp(p->names[k], name, len) == 0)
            return pfail(ps, i, "duplicate capture '{%.*s}'", (int)len, name);
    if (p->ncap == BLOBPATH_CAPTURES_MAX)
        return pfail(ps, i, "more than %d captures", BLOBPATH_CAPTURES_MAX);
    if (flush(ps) < 0)
        return -1;
    return push(ps, name, len, 1);
}

/* A segment starts at b[i] with a literal '.'. */
static int dot_segment(parser_t *ps, size_t i)
{
    size_t e = i;
    while (e < ps->n && ps->b[e] != '/')
        e++;
    if (e - i <= 2 && (e - i == 1 || ps->b[i + 1] == '.'))
        return pfail(ps, i, "'%.*s' segment", (int)(e - i), ps->b + i);
    return pfail(ps, i,
                 "segment starting with '.' (names starting with '.' are reserved for files "
                 "being written)");
}

static int parse_blob(parser_t *ps)
{
    const char *b = ps->b;
    size_t n = ps->n;
    int seg_start = 1;

    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)b[i];
        if (c == '{' && i + 1 < n && b[i + 1] == '{') {
            ps->lit[ps->nlit++] = '{';
            i++;
        } else if (c == '{') {
            size_t j = i + 1;
            while (j < n && b[j] != '}' && b[j] != '{')
                j++;
            if (j == n || b[j] == '{')
                return pfail(ps, i, "unclosed '{'");
            if (capture(ps, i, j) < 0)
                return -1;
            i = j;
        } else if (c == '}' && i + 1 < n && b[i + 1] == '}') {
            ps->lit[ps->nlit++] = '}';
            i++;
        } else if (c == '}') {
            return pfail(ps, i, "lone '}' (write '}}' for a literal '}')");
        } else if (c == '/') {
            if (seg_start)
                return pfail(ps, i, "empty segment ('//')");
            if (i == n - 1)
                return pfail(ps, i, "trailing '/' (to match every blob in a folder, end "
                                    "with a capture such as '/{name}')");
            ps->lit[ps->nlit++] = '/';
            seg_start = 1;
            continue;
        } else if (c == '\\') {
            return pfail(ps, i, "backslash (use '/' between folders)");
        } else if (c < 0x20 || c == 0x7f) {
            return pfail(ps, i, "control character 0x%02x", c);
        } else {
            if (seg_start && c == '.')
                return dot_segment(ps, i);
            ps->lit[ps->nlit++] = (char)c;
        }
        seg_start = 0;
    }
    return flush(ps);
}

/* Mark the captures that may span '/', and gather the prefix. */
static int finish(blobpath_t *p)
{
    int slash_after = 0;
    for (size_t k = p->ntok; k-- > 0;) {
        token_t *t = &p->tok[k];
        if (t->cap)
            t->spans = !slash_after;
        else if (memchr(t->s, '/', t->n))
            slash_after = 1;
    }
    p->prefix = strdup(p->ntok && !p->tok[0].cap ? p->tok[0].s : "");
    return p->prefix ? 0 : -1;
}

int blobpath_parse(const char *pattern, blobpath_t **out, char *err, size_t errlen)
{
    *out = NULL;
    if (!pattern || !*pattern)
        return fail(err, errlen, "missing container: the path is empty (expected "
                                 "'container/blob-pattern')");
    size_t len = strlen(pattern);
    if (len > BLOBPATH_PATTERN_MAX)
        return fail(err, errlen, "the path is %zu bytes long (at most %d)", len,
                    BLOBPATH_PATTERN_MAX);
    if (pattern[0] == '/')
        return fail(err, errlen,
                    "absolute path: the path starts with '/' at position 1 (expected "
                    "'container/blob-pattern')");
    const char *slash = strchr(pattern, '/');
    size_t clen = slash ? (size_t)(slash - pattern) : len;
    const char *brace = memchr(pattern, '{', clen);
    if (brace)
        return fail(err, errlen,
                    "a capture in the container at position %zu (the container must be a "
                    "fixed name, as in 'samples/{name}')",
                    (size_t)(brace - pattern) + 1);
    if (container_checkn(pattern, clen, err, errlen) < 0)
        return -1;

    blobpath_t *p = calloc(1, sizeof *p);
    parser_t ps = {.p = p, .err = err, .errlen = errlen};
    if (!p)
        return fail(err, errlen, "out of memory");
    p->text = strdup(pattern);
    p->container = strndup(pattern, clen);
    ps.b = slash ? slash + 1 : "";
    ps.n = strlen(ps.b);
    ps.base = slash ? clen + 1 : len;
    /* Tokens alternate (no two captures side by side), so at most
     * 2 * captures + 1, and never more than one per pattern byte + 1. */
    p->tok = calloc(ps.n + 1 < 2 * BLOBPATH_CAPTURES_MAX + 1 ? ps.n + 1
                                                             : 2 * BLOBPATH_CAPTURES_MAX + 1,
                    sizeof *p->tok);
    ps.lit = malloc(ps.n + 1);
    if (!p->text || !p->container || !p->tok || !ps.lit) {
        free(ps.lit);
        blobpath_free(p);
        return fail(err, errlen, "out of memory");
    }
    p->any = ps.n == 0;
    int rc = parse_blob(&ps);
    free(ps.lit);
    if (rc == 0 && finish(p) < 0)
        rc = fail(err, errlen, "out of memory");
    if (rc < 0) {
        blobpath_free(p);
        return -1;
    }
    *out = p;
    return 0;
}

void blobpath_free(blobpath_t *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->ntok; i++)
        free(p->tok[i].s);
    free(p->tok);
    free(p->text);
    free(p->container);
    free(p->prefix);
    free(p);
}

const char *blobpath_text(const blobpath_t *p) { return p->text; }
const char *blobpath_container(const blobpath_t *p) { return p->container; }
const char *blobpath_prefix(const blobpath_t *p) { return p->prefix; }
size_t blobpath_capture_count(const blobpath_t *p) { return p->ncap; }

const char *blobpath_capture_name(const blobpath_t *p, size_t i)
{
    return i < p->ncap ? p->names[i] : NULL;
}

/* ---- matching ---- */

typedef struct matcher {
    const blobpath_t *p;
    const char *s;
    size_t n;
    size_t start[BLOBPATH_CAPTURES_MAX], end[BLOBPATH_CAPTURES_MAX];
    /* (capture, position) pairs known not to lead to a match */
    uint8_t failed[BLOBPATH_CAPTURES_MAX][(BLOBPATH_NAME_MAX + 8) / 8];
} matcher_t;

/* Does the pattern from token ti on match s[pos..n)? Captures are greedy:
 * the longest value that lets the rest match wins. Each (capture, pos)
 * pair is tried once, so the work is bounded by captures * n * n. */
static int match_from(matcher_t *m, size_t ti, size_t pos)
{
    const token_t *tok = m->p->tok;
    size_t ntok = m->p->ntok, n = m->n;

    while (ti < ntok && !tok[ti].cap) {
        if (n - pos < tok[ti].n || memcmp(m->s + pos, tok[ti].s, tok[ti].n) != 0)
            return 0;
        pos += tok[ti++].n;
    }
    if (ti == ntok)
        return pos == n;

    const token_t *t = &tok[ti];
    uint8_t *bit = &m->failed[t->ci][pos / 8], mask = (uint8_t)(1u << (pos % 8));
    if (*bit & mask)
        return 0;
    size_t lim = n; /* the value may not reach past lim */
    if (!t->spans) {
        const char *sl = memchr(m->s + pos, '/', n - pos);
        if (sl)
            lim = (size_t)(sl - m->s);
    }
    if (ti + 1 == ntok) {
        if (lim == n && n > pos) {
            m->start[t->ci] = pos;
            m->end[t->ci] = n;
            return 1;
        }
    } else {
        const token_t *lit = &tok[ti + 1];
        if (n >= lit->n) {
            size_t hi = lim < n - lit->n ? lim : n - lit->n;
            for (size_t e = hi; e > pos; e--) {
                if (memcmp(m->s + e, lit->s, lit->n) == 0 && match_from(m, ti + 2, e + lit->n)) {
                    m->start[t->ci] = pos;
                    m->end[t->ci] = e;
                    return 1;
                }
            }
        }
    }
    *bit |= mask;
    return 0;
}

int blobpath_match(const blobpath_t *p, const char *container, const char *blob_name,
                   json_t *captures_out)
{
    if (!p || !container || !blob_name || strcmp(container, p->container) != 0)
        return 0;
    size_t n = strnlen(blob_name, BLOBPATH_NAME_MAX + 1);
    if (n == 0 || n > BLOBPATH_NAME_MAX)
        return 0;
    if (p->any)
        return 1;

    matcher_t *m = malloc(sizeof *m);
    if (!m)
        return -1;
    m->p = p;
    m->s = blob_name;
    m->n = n;
    memset(m->failed, 0, p->ncap * sizeof m->failed[0]);
    int rc = match_from(m, 0, 0);
    for (size_t i = 0; rc == 1 && captures_out && i < p->ncap; i++) {
        json_t *v = json_stringn(blob_name + m->start[i], m->end[i] - m->start[i]);
        if (json_object_set_new(captures_out, p->names[i], v) != 0)
            rc = -1;
    }
    free(m);
    return rc;
}
