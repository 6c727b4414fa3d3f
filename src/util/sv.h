/*
 * sv.h -- length-carrying string views, passed by value.
 *
 * An sv_t never owns its bytes; whoever made it says how long they live.
 * The bytes need not be NUL-terminated.
 */
#ifndef STRATUS_SV_H
#define STRATUS_SV_H

#include <stddef.h>
#include <string.h>
#include <strings.h>

typedef struct sv {
    const char *p;
    size_t n;
} sv_t;

#define SV_LIT(s) ((sv_t){(s), sizeof(s) - 1})
#define SV_NULL ((sv_t){NULL, 0})

static inline sv_t sv_make(const char *p, size_t n) { return (sv_t){p, n}; }
static inline sv_t sv_cstr(const char *s) { return (sv_t){s, s ? strlen(s) : 0}; }

static inline int sv_eq(sv_t a, sv_t b)
{
    return a.n == b.n && (a.n == 0 || memcmp(a.p, b.p, a.n) == 0);
}

static inline int sv_ieq(sv_t a, sv_t b)
{
    return a.n == b.n && (a.n == 0 || strncasecmp(a.p, b.p, a.n) == 0);
}

static inline int sv_ieq_cstr(sv_t a, const char *b) { return sv_ieq(a, sv_cstr(b)); }

static inline int sv_istarts(sv_t a, sv_t prefix)
{
    return a.n >= prefix.n && strncasecmp(a.p, prefix.p, prefix.n) == 0;
}

/* The next element of an HTTP comma-separated list (RFC 9110 5.6.1) from
 * *at on: spaces and tabs around it trimmed, empty elements skipped. 1 with
 * *out set, or 0 at the end of the list. */
static inline int sv_next_list_item(sv_t list, size_t *at, sv_t *out)
{
    size_t i = *at;
    for (;;) {
        while (i < list.n && (list.p[i] == ' ' || list.p[i] == '\t' || list.p[i] == ','))
            i++;
        if (i >= list.n) {
            *at = i;
            return 0;
        }
        size_t s = i;
        while (i < list.n && list.p[i] != ',')
            i++;
        size_t e = i;
        while (e > s && (list.p[e - 1] == ' ' || list.p[e - 1] == '\t'))
            e--;
        if (e > s) {
            *at = i;
            *out = sv_make(list.p + s, e - s);
            return 1;
        }
    }
}

#endif
