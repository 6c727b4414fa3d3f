/*
 * fuzz_blobpath.c -- libFuzzer driver for blob path patterns and name
 * checks (src/util/blobpath.c). Input: "pattern\nblob-name". The pattern is
 * parsed with roomy, tiny and no error buffers; when it parses, the name is
 * matched, and a match must rebuild the name exactly when its captures are
 * put back into the pattern. A name made from the pattern itself (each
 * capture replaced by "v") must match. The name and the pattern's first
 * part also go through the name and container checks.
 */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/util/blobpath.h"

/* The blob part of pat with escapes undone and each capture replaced by
 * its value in caps, or by fill when caps is NULL. Returns its length, or
 * (size_t)-1 when it does not fit. */
static size_t rebuild(const char *pat, json_t *caps, const char *fill, char *out, size_t cap)
{
    const char *s = strchr(pat, '/');
    size_t n = 0;
    if (!s)
        return 0;
    for (s++; *s; s++) {
        const char *v = NULL;
        char one[2] = {*s, '\0'};
        if ((s[0] == '{' && s[1] == '{') || (s[0] == '}' && s[1] == '}')) {
            v = one;
            s++;
        } else if (s[0] == '{') {
            const char *e = strchr(s, '}');
            char name[BLOBPATH_PATTERN_MAX + 1];
            if (!e || (size_t)(e - s) > sizeof name)
                abort();
            memcpy(name, s + 1, (size_t)(e - s - 1));
            name[e - s - 1] = '\0';
            v = caps ? json_string_value(json_object_get(caps, name)) : fill;
            if (!v || !*v)
                abort(); /* every capture is set, and never empty */
            s = e;
        } else {
            v = one;
        }
        size_t l = strlen(v);
        if (n + l >= cap)
            return (size_t)-1;
        memcpy(out + n, v, l);
        n += l;
    }
    out[n] = '\0';
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *in = (const char *)data;
    const char *nl = memchr(in, '\n', size);
    size_t plen = nl ? (size_t)(nl - in) : size;
    size_t nlen = nl ? size - plen - 1 : 0;
    char *pat = malloc(plen + 1), *name = malloc(nlen + 1);
    char err[256], tiny[5], rebuilt[4 * BLOBPATH_NAME_MAX];
    blobpath_t *p, *q;

    memcpy(pat, in, plen);
    pat[plen] = '\0'; /* an embedded NUL ends the pattern */
    memcpy(name, nl ? nl + 1 : "", nlen);
    name[nlen] = '\0';

    /* the checks never crash and always say why */
    if (blobpath_name_checkn(name, nlen, err, sizeof err) != 0 &&
        strncmp(err, "blob name ", 10) != 0)
        abort();
    if (blobpath_container_check(pat, err, sizeof err) != 0 &&
        strncmp(err, "container name ", 15) != 0)
        abort();

    int rc = blobpath_parse(pat, &p, err, sizeof err);
    if (rc != 0 && (p || !err[0]))
        abort();
    tiny[0] = '\0';
    if (blobpath_parse(pat, &q, tiny, sizeof tiny) != rc || strlen(tiny) >= sizeof tiny)
        abort();
    blobpath_free(q);
    if (blobpath_parse(pat, &q, NULL, 0) != rc)
        abort();
    blobpath_free(q);

    if (rc == 0) {
        const char *container = blobpath_container(p);
        const char *prefix = blobpath_prefix(p);
        if (blobpath_container_check(container, NULL, 0) != 0)
            abort();
        size_t ncap = blobpath_capture_count(p);
        if (ncap > BLOBPATH_CAPTURES_MAX || blobpath_capture_name(p, ncap))
            abort();
        for (size_t i = 0; i < ncap; i++)
            if (!blobpath_capture_name(p, i) || !blobpath_capture_name(p, i)[0])
                abort();

        json_t *caps = json_object();
        int m = blobpath_match(p, container, name, caps);
        if (m == 1) {
            if (strncmp(name, prefix, strlen(prefix)) != 0)
                abort();
            if (json_object_size(caps) != ncap)
                abort();
            if (strchr(pat, '/') && strchr(pat, '/')[1]) {
                size_t r = rebuild(pat, caps, NULL, rebuilt, sizeof rebuilt);
                if (r == (size_t)-1 || strcmp(rebuilt, name) != 0)
                    abort();
            }
        } else if (m == 0 && json_object_size(caps) != 0) {
            abort();
        }
        json_decref(caps);

        /* a name made from the pattern matches */
        size_t r = rebuild(pat, NULL, "v", rebuilt, sizeof rebuilt);
        if (r > 0 && r <= BLOBPATH_NAME_MAX && blobpath_match(p, container, rebuilt, NULL) != 1)
            abort();
        if (blobpath_match(p, "no-such-container-name-at-all-x", rebuilt, NULL) != 0 &&
            strcmp(container, "no-such-container-name-at-all-x") != 0)
            abort();
        blobpath_free(p);
    }
    free(pat);
    free(name);
    return 0;
}
