/*
 * runtimes.c -- the table of runtimes (see runtime.h). A new runtime is one
 * file plus one line here.
 */
#include "runtime.h"

#include <strings.h>

static const runtime_t *const runtimes[] = {
    &runtime_native,
    NULL,
};

const runtime_t *runtime_find(const char *name)
{
    if (!name || !*name)
        return &runtime_native;
    for (size_t i = 0; runtimes[i]; i++)
        if (strcasecmp(runtimes[i]->name, name) == 0)
            return runtimes[i];
    return NULL;
}
