/*
 * runtimes.c -- the table of runtimes (see runtime.h). A new runtime is one
 * file plus one line here.
 */
#include "runtime.h"

#include <strings.h>

static const runtime_t *const runtimes[] = {
    &runtime_native_isolated,
    &runtime_lambda,
    &runtime_lambda_provided,
    NULL,
};

const runtime_t *runtime_for_app(const app_t *app)
{
    const char *name = app->worker_runtime;
    if (!name || !*name || strcasecmp(name, "native") == 0)
        return app->in_process ? &runtime_native : &runtime_native_isolated;
    for (size_t i = 0; runtimes[i]; i++)
        if (strcasecmp(runtimes[i]->name, name) == 0)
            return runtimes[i];
    return NULL;
}
