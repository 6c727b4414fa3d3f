/*
 * bindings.c -- the table of binding kinds: every function.json "type"
 * Stratus understands is one line here (see binding.h).
 */
#include "binding.h"

#include <stdio.h>
#include <strings.h>

static const binding_kind_t *const kinds[] = {
    &binding_http_trigger,
    &binding_http_out,
    &binding_timer_trigger,
    &binding_queue_trigger,
    &binding_queue_out,
    &binding_blob_trigger,
    &binding_blob,
    NULL,
};

const binding_kind_t *binding_kind_find(const char *type)
{
    if (!type)
        return NULL;
    for (size_t i = 0; kinds[i]; i++)
        if (strcasecmp(kinds[i]->type, type) == 0)
            return kinds[i];
    return NULL;
}

void binding_kind_names(char *out, size_t outlen)
{
    size_t used = 0;
    if (outlen == 0)
        return;
    out[0] = '\0';
    for (size_t i = 0; kinds[i]; i++) {
        int n = snprintf(out + used, outlen - used, "%s%s", used ? ", " : "", kinds[i]->type);
        if (n < 0 || (size_t)n >= outlen - used)
            return;
        used += (size_t)n;
    }
}
