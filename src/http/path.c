/*
 * path.c -- request path normalization (see path.h).
 */
#include "path.h"

#include <string.h>

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static int unreserved(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '.' || c == '_' || c == '~';
}

/* Decode the escapes of unreserved characters in place; returns the new
 * length. */
static size_t decode_unreserved(char *p, size_t n)
{
    size_t r = 0, w = 0;
    while (r < n) {
        if (p[r] == '%' && n - r >= 3 && hexval(p[r + 1]) >= 0 && hexval(p[r + 2]) >= 0) {
            int c = hexval(p[r + 1]) * 16 + hexval(p[r + 2]);
            if (unreserved(c)) {
                p[w++] = (char)c;
                r += 3;
                continue;
            }
        }
        p[w++] = p[r++];
    }
    return w;
}

/* 1 when "/." is in p[0..n): a segment that may be "." or "..". */
static int has_dot_segment(const char *p, size_t n)
{
    for (const char *q = p + 1, *end = p + n; q < end; q++) {
        q = memchr(q, '.', (size_t)(end - q));
        if (!q)
            return 0;
        if (q[-1] == '/')
            return 1;
    }
    return 0;
}

size_t http_path_normalize(char *p, size_t n)
{
    if (n == 0 || p[0] != '/')
        return n;
    /* The usual path has neither escapes nor dot segments: leave it. */
    if (!memchr(p, '%', n) && !has_dot_segment(p, n))
        return n;
    n = decode_unreserved(p, n);
    /* Each segment is read at r (after its '/') and written at w, which
     * never passes r: the output is built in the same buffer. */
    size_t r = 0, w = 0;
    while (r < n) {
        size_t s = r + 1, e = s; /* the segment after the '/' at r */
        while (e < n && p[e] != '/')
            e++;
        size_t len = e - s;
        int last = e == n;
        if (len == 1 && p[s] == '.') {
            if (last)
                p[w++] = '/'; /* "/a/." is "/a/" */
        } else if (len == 2 && p[s] == '.' && p[s + 1] == '.') {
            while (w > 0 && p[w - 1] != '/')
                w--;
            if (w > 0)
                w--; /* drop the segment and its '/' */
            if (last)
                p[w++] = '/'; /* "/a/b/.." is "/a/" */
        } else {
            memmove(p + w, p + r, 1 + len);
            w += 1 + len;
        }
        r = e;
    }
    return w;
}
