/*
 * method.c -- HTTP method names and bits (see method.h).
 */
#include "method.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

static const char *names[] = {"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE"};

unsigned method_from_name(const char *name, size_t len)
{
    for (unsigned i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strlen(names[i]) == len && strncasecmp(names[i], name, len) == 0)
            return 1u << i;
    return 0;
}

const char *method_name(unsigned bit)
{
    for (unsigned i = 0; i < sizeof names / sizeof names[0]; i++)
        if (bit == 1u << i)
            return names[i];
    return NULL;
}

void method_list(unsigned set, char *out, size_t outlen)
{
    size_t used = 0;
    if (outlen == 0)
        return;
    out[0] = '\0';
    for (unsigned i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (!(set & (1u << i)))
            continue;
        int n = snprintf(out + used, outlen - used, "%s%s", used ? ", " : "", names[i]);
        if (n < 0 || (size_t)n >= outlen - used)
            return;
        used += (size_t)n;
    }
}
