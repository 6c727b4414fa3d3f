/*
 * templates.c -- the table of function templates and their lookup by
 * runtime and name (see templates.h). Adding a template is one line here
 * plus its descriptor in a templates_<trigger>.c file.
 */
#include "templates.h"

#include <string.h>
#include <strings.h>

/* In the order `stratus templates` lists them within a runtime. */
static const template_t *const table[] = {
    &template_http_native,  &template_timer_native,  &template_queue_native,
    &template_blob_native,  &template_http_python,   &template_timer_python,
    &template_queue_python, &template_blob_python,   &template_http_node,
    &template_timer_node,   &template_queue_node,    &template_blob_node,
};

#define NTEMPLATES (sizeof table / sizeof table[0])

size_t templates_count(void)
{
    return NTEMPLATES;
}

const template_t *templates_at(size_t i)
{
    return i < NTEMPLATES ? table[i] : NULL;
}

/* Names compare ignoring case, so "TimerTrigger" covers "timertrigger". */
static int matches(const template_t *t, const char *name)
{
    if (!strcasecmp(t->name, name))
        return 1;
    for (const char *const *a = t->aliases; a && *a; a++)
        if (!strcasecmp(*a, name))
            return 1;
    return 0;
}

const template_t *templates_find(const char *runtime, const char *name)
{
    for (size_t i = 0; i < NTEMPLATES; i++)
        if (!strcasecmp(table[i]->runtime, runtime) && matches(table[i], name))
            return table[i];
    return NULL;
}

int templates_names(const char *runtime, buf_t *b)
{
    size_t before = b->len;
    for (size_t i = 0; i < NTEMPLATES; i++)
        if (!strcasecmp(table[i]->runtime, runtime) &&
            buf_printf(b, "%s\"%s\"", b->len > before ? ", " : "", table[i]->name))
            return -1;
    return b->len == before ? buf_puts(b, "none yet") : 0;
}
