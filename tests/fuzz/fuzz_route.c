/*
 * fuzz_route.c -- libFuzzer driver for route templates, matching and
 * url_decode. Input: "template\npath"; the template is compiled, the path
 * (given a leading '/' when it lacks one) is matched against it, directly
 * and through a router, with a roomy and a tight scratch buffer.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/core/route.h"
#include "../../src/http/method.h"

static void check_params(const route_params_t *p, const char *scratch, size_t len)
{
    for (size_t i = 0; i < p->n; i++) {
        const sv_t v = p->v[i].value;
        if (!p->v[i].name.p || !p->v[i].name.n)
            abort();
        /* values are NUL-terminated, in scratch unless they are defaults */
        if (v.p && v.p[v.n] != '\0')
            abort();
        if (v.p && v.p >= scratch && v.p < scratch + len && v.p + v.n >= scratch + len)
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *in = (const char *)data;
    const char *nl = memchr(in, '\n', size);
    size_t tlen = nl ? (size_t)(nl - in) : size;
    size_t rest = nl ? size - tlen - 1 : 0;
    char *tmpl = malloc(tlen + 1), *path = malloc(rest + 2), *dec = malloc(size + 1);
    char err[256], scratch[512], tiny[8];
    route_params_t params;
    route_t *r;

    memcpy(tmpl, in, tlen);
    tmpl[tlen] = '\0'; /* an embedded NUL simply ends the template */
    path[0] = '/';
    memcpy(path + 1, nl ? nl + 1 : "", rest);
    size_t plen = rest + 1;
    char *p = path;
    if (rest && path[1] == '/') {
        p++;
        plen--;
    }

    long n = url_decode(in, size, dec, size + 1);
    if (n > (long)size)
        abort();
    url_decode(in, size, dec, size / 2 + 1);

    r = route_compile(tmpl, err, sizeof err);
    if (!r && !err[0])
        abort(); /* a failure always says why */
    if (r) {
        if (route_match(r, p, plen, &params, scratch, sizeof scratch))
            check_params(&params, scratch, sizeof scratch);
        if (route_match(r, p, plen, &params, tiny, sizeof tiny))
            check_params(&params, tiny, sizeof tiny);
        route_free(r);

        router_t *rt = router_new();
        void *d = NULL;
        unsigned allowed = 0;
        if (router_add(rt, tmpl, METHOD_GET, &d, err, sizeof err) != 0)
            abort();
        if (router_add(rt, tmpl, METHOD_POST, NULL, err, sizeof err) != 0)
            abort();
        if (router_add(rt, tmpl, 0, NULL, err, sizeof err) == 0)
            abort(); /* same template, overlapping methods */
        int rc = router_lookup(rt, METHOD_HEAD, p, plen, &params, scratch, sizeof scratch, &d,
                               &allowed);
        if (rc == ROUTER_MATCH)
            check_params(&params, scratch, sizeof scratch);
        rc = router_lookup(rt, METHOD_PUT, p, plen, &params, scratch, sizeof scratch, &d,
                           &allowed);
        if (rc == ROUTER_MATCH || (rc == ROUTER_METHOD_NOT_ALLOWED &&
                                   allowed != (METHOD_GET | METHOD_HEAD | METHOD_POST)))
            abort();
        router_free(rt);
    }
    free(tmpl);
    free(path);
    free(dec);
    return 0;
}
