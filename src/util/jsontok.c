/*
 * jsontok.c -- helpers over the jsmn tokenizer (see jsontok.h). The jsmn
 * implementation itself is compiled here, once.
 */
#undef JSMN_HEADER
#define JSMN_STRICT
#define JSMN_PARENT_LINKS
#include <jsmn.h>

#include "jsontok.h"

#include <stdlib.h>
#include <string.h>

int jt_parse(jt_doc_t *doc, const char *text, size_t len, jsmntok_t *tok, int max)
{
    jsmn_parser p;
    jsmn_init(&p);
    doc->text = text;
    doc->len = len;
    doc->tok = tok;
    doc->ntok = 0;
    if (len > (size_t)0x7fffffff)
        return -1;
    int n = jsmn_parse(&p, text, len, tok, (unsigned)max);
    if (n < 1 || tok[0].type != JSMN_OBJECT)
        return -1;
    /* Only whitespace may follow the root object. */
    for (size_t k = (size_t)tok[0].end; k < len; k++)
        if (text[k] != ' ' && text[k] != '\n' && text[k] != '\r' && text[k] != '\t')
            return -1;
    doc->ntok = n;
    return 0;
}

int jt_count(const char *text, size_t len)
{
    if (len > (size_t)0x7fffffff)
        return -1;
    jsmn_parser p;
    jsmn_init(&p);
    int n = jsmn_parse(&p, text, len, NULL, 0);
    return n < 0 ? -1 : n;
}

int jt_skip(const jt_doc_t *doc, int i)
{
    int end = doc->tok[i].end;
    int j = i + 1;
    while (j < doc->ntok && doc->tok[j].start < end)
        j++;
    return j;
}

int jt_get(const jt_doc_t *doc, int i, const char *key)
{
    if (i < 0 || i >= doc->ntok || doc->tok[i].type != JSMN_OBJECT)
        return -1;
    size_t klen = strlen(key);
    int members = doc->tok[i].size;
    int j = i + 1;
    for (int m = 0; m < members && j + 1 < doc->ntok; m++) {
        const jsmntok_t *k = &doc->tok[j];
        if (k->type == JSMN_STRING && (size_t)(k->end - k->start) == klen &&
            memcmp(doc->text + k->start, key, klen) == 0)
            return j + 1;
        j = jt_skip(doc, j + 1);
    }
    return -1;
}

sv_t jt_raw(const jt_doc_t *doc, int i)
{
    if (i < 0 || i >= doc->ntok)
        return SV_NULL;
    return sv_make(doc->text + doc->tok[i].start, (size_t)(doc->tok[i].end - doc->tok[i].start));
}

static int is_literal(const jt_doc_t *doc, int i, const char *lit)
{
    if (i < 0 || i >= doc->ntok || doc->tok[i].type != JSMN_PRIMITIVE)
        return 0;
    sv_t r = jt_raw(doc, i);
    return sv_eq(r, sv_cstr(lit));
}

int jt_is_true(const jt_doc_t *doc, int i) { return is_literal(doc, i, "true"); }

int jt_is_null(const jt_doc_t *doc, int i) { return is_literal(doc, i, "null"); }

int jt_is_string(const jt_doc_t *doc, int i)
{
    return i >= 0 && i < doc->ntok && doc->tok[i].type == JSMN_STRING;
}

int jt_int(const jt_doc_t *doc, int i, long long *out)
{
    if (i < 0 || i >= doc->ntok || doc->tok[i].type != JSMN_PRIMITIVE)
        return -1;
    sv_t r = jt_raw(doc, i);
    char buf[24];
    if (r.n == 0 || r.n >= sizeof buf)
        return -1;
    memcpy(buf, r.p, r.n);
    buf[r.n] = '\0';
    char *end;
    long long v = strtoll(buf, &end, 10);
    if (*end)
        return -1;
    *out = v;
    return 0;
}

static int hex4(const char *p, unsigned *out)
{
    unsigned v = 0;
    for (int k = 0; k < 4; k++) {
        char c = p[k];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (unsigned)(c - 'A' + 10);
        else
            return -1;
    }
    *out = v;
    return 0;
}

static size_t utf8_put(char *o, unsigned cp)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xC0 | (cp >> 6));
        o[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | (cp >> 12));
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | (cp >> 18));
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

int jt_string(const jt_doc_t *doc, int i, arena_t *arena, sv_t *out)
{
    if (!jt_is_string(doc, i))
        return -1;
    sv_t r = jt_raw(doc, i);
    if (!memchr(r.p, '\\', r.n)) {
        *out = r;
        return 0;
    }
    /* Unescaping never makes the text longer. */
    char *o = arena_alloc(arena, r.n + 1);
    if (!o)
        return -1;
    size_t n = 0;
    for (size_t k = 0; k < r.n; k++) {
        char c = r.p[k];
        if (c != '\\') {
            o[n++] = c;
            continue;
        }
        if (++k >= r.n)
            return -1;
        switch (r.p[k]) {
        case '"': o[n++] = '"'; break;
        case '\\': o[n++] = '\\'; break;
        case '/': o[n++] = '/'; break;
        case 'b': o[n++] = '\b'; break;
        case 'f': o[n++] = '\f'; break;
        case 'n': o[n++] = '\n'; break;
        case 'r': o[n++] = '\r'; break;
        case 't': o[n++] = '\t'; break;
        case 'u': {
            unsigned cp, lo;
            if (k + 4 >= r.n || hex4(r.p + k + 1, &cp) != 0)
                return -1;
            k += 4;
            /* A lone surrogate (what JSON.stringify and Python's json
             * write for a string cut inside a pair) is U+FFFD, as the
             * languages' own decoders read it. */
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                if (k + 6 >= r.n || r.p[k + 1] != '\\' || r.p[k + 2] != 'u' ||
                    hex4(r.p + k + 3, &lo) != 0 || lo < 0xDC00 || lo > 0xDFFF) {
                    cp = 0xFFFD;
                } else {
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                    k += 6;
                }
            } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                cp = 0xFFFD;
            }
            n += utf8_put(o + n, cp);
            break;
        }
        default:
            return -1;
        }
    }
    o[n] = '\0';
    *out = sv_make(o, n);
    return 0;
}

/* Turn each lone surrogate escape of s into \ufffd, in place (the same
 * length). Returns how many were turned. */
static size_t mend_surrogates(char *s, size_t n)
{
    size_t mended = 0;
    for (size_t k = 0; k + 1 < n; k++) {
        if (s[k] != '\\')
            continue;
        if (s[k + 1] != 'u' || k + 6 > n) {
            k++; /* any other escape: skip its second character */
            continue;
        }
        unsigned cp, lo;
        if (hex4(s + k + 2, &cp) != 0) {
            k++;
            continue;
        }
        if (cp >= 0xD800 && cp <= 0xDBFF && k + 12 <= n && s[k + 6] == '\\' &&
            s[k + 7] == 'u' && hex4(s + k + 8, &lo) == 0 && lo >= 0xDC00 && lo <= 0xDFFF) {
            k += 11; /* a whole pair */
            continue;
        }
        if (cp >= 0xD800 && cp <= 0xDFFF) {
            memcpy(s + k + 2, "fffd", 4);
            mended++;
        }
        k += 5;
    }
    return mended;
}

json_t *jt_loadb(const char *text, size_t len, size_t flags, json_error_t *err)
{
    json_t *j = json_loadb(text, len, flags, err);
    if (j || !len || !memmem(text, len, "\\u", 2))
        return j;
    char *copy = malloc(len);
    if (!copy)
        return NULL;
    memcpy(copy, text, len);
    if (mend_surrogates(copy, len))
        j = json_loadb(copy, len, flags, err);
    free(copy);
    return j;
}
