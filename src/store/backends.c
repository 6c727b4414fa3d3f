/*
 * backends.c -- the table of store backends: every connection URL scheme
 * the store understands is one line here (see backend.h).
 */
#include "backend.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

static const store_backend_t *const backends[] = {
    &store_backend_sqlite,
    NULL,
};

const store_backend_t *store_backend_find(const char *scheme, size_t n)
{
    for (size_t i = 0; backends[i]; i++)
        if (strlen(backends[i]->scheme) == n && strncasecmp(backends[i]->scheme, scheme, n) == 0)
            return backends[i];
    return NULL;
}

void store_backend_names(char *out, size_t outlen)
{
    size_t used = 0;
    if (outlen == 0)
        return;
    out[0] = '\0';
    for (size_t i = 0; backends[i]; i++) {
        int n = snprintf(out + used, outlen - used, "%s%s", used ? ", " : "", backends[i]->scheme);
        if (n < 0 || (size_t)n >= outlen - used)
            return;
        used += (size_t)n;
    }
}
