/*
 * runtimes.c -- the table of runtimes (see runtime.h). A new runtime is one
 * file plus one line here.
 */
#include "runtime.h"

#include <stdio.h>
#include <strings.h>

static const runtime_t *const runtimes[] = {
    &runtime_native_isolated,
    &runtime_python,
    &runtime_node,
    &runtime_lambda,
    &runtime_lambda_provided,
    &runtime_custom,
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

void runtime_names(char *out, size_t outlen)
{
    size_t off = 0;
    out[0] = '\0';
    for (size_t i = 0; runtimes[i] && off < outlen; i++)
        off += (size_t)snprintf(out + off, outlen - off, "%s%s", i ? ", " : "", runtimes[i]->name);
}

static int host_stopping;

void runtime_set_host_stopping(void) { host_stopping = 1; }

int runtime_host_stopping(void) { return host_stopping; }
