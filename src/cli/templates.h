/*
 * templates.h -- the function templates of `stratus new` and
 * `stratus templates`, as Azure Functions Core Tools' `func new` offers.
 *
 * A template is a static const descriptor (one per runtime and trigger,
 * defined in templates_<trigger>.c and registered in the table of
 * templates.c): the runtime it is for, its names, and the files it writes.
 * File names and texts hold placeholders that `stratus new` replaces:
 *
 *   {{FN}}          the function (folder) name
 *   {{ENTRY}}       the C symbol of a native function's entry point
 *   {{ENTRYPOINT}}  an "entryPoint" line for function.json when the symbol
 *                   differs from the name, else nothing
 *   {{AUTH}}        the HTTP auth level
 *
 * A template's `code` (see below) also holds these, for Python:
 *
 *   {{PYDEF}}       the name of the function's `def` (the function name, or
 *                   a Python identifier made of it)
 *   {{PYNAME}}      an `@app.function_name(name="...")` line when {{PYDEF}}
 *                   differs from the name, else nothing
 *   {{PYAUTH}}      the auth level as a func.AuthLevel member (FUNCTION, ...)
 *
 * Other "{{" are kept as they are. Descriptors live for the whole process.
 */
#ifndef STRATUS_CLI_TEMPLATES_H
#define STRATUS_CLI_TEMPLATES_H

#include <stddef.h>

#include "../util/buf.h"

typedef struct template_file {
    const char *name; /* file name inside the function folder, with {{FN}} */
    const char *text;
} template_file_t;

/* What runs the function: how `stratus new` tells the user to try it. */
typedef enum template_trigger {
    TEMPLATE_HTTP,  /* an HTTP route: /<prefix>/<name>, takes --authlevel */
    TEMPLATE_TIMER, /* a schedule */
    TEMPLATE_QUEUE, /* messages of a queue */
    TEMPLATE_BLOB   /* blobs of a container */
} template_trigger_t;

typedef struct template {
    int version;                  /* of this descriptor layout: 1 */
    const char *runtime;          /* FUNCTIONS_WORKER_RUNTIME it is for */
    const char *name;             /* display name, as Azure's */
    const char *const *aliases;   /* other accepted names, NULL-terminated */
    const char *summary;          /* one line for `stratus templates` */
    template_trigger_t trigger;
    const char *next;             /* what to do next, printed by `stratus new`
                                     after the files ({{FN}} expanded), or NULL */
    const template_file_t *files; /* terminated by {NULL, NULL} */
    /* The function for an app that declares its functions in code, or NULL:
     * for python, the decorated function appended to function_app.py (the
     * V2 model); for node, the file src/functions/{{FN}}.js (the V4 model). */
    const char *code;
    const char *code_next; /* what to do next in such an app, or NULL */
} template_t;

/* function.json of a template: `head` is the scriptFile line (and for native
 * functions {{ENTRYPOINT}}), `bindings` the binding objects, each line
 * indented as Azure writes them. */
#define TEMPLATE_FUNCTION_JSON(head, bindings)                                 \
    "{\n" head "  \"bindings\": [\n" bindings "  ]\n}\n"
#define TEMPLATE_NATIVE_HEAD "  \"scriptFile\": \"{{FN}}.so\",\n{{ENTRYPOINT}}"
#define TEMPLATE_PYTHON_HEAD "  \"scriptFile\": \"__init__.py\",\n"
#define TEMPLATE_NODE_HEAD "  \"scriptFile\": \"index.js\",\n"

/* The descriptors, defined by the templates_<trigger>.c files. */
extern const template_t template_http_native, template_http_python, template_http_node;
extern const template_t template_timer_native, template_timer_python, template_timer_node;
extern const template_t template_queue_native, template_queue_python, template_queue_node;
extern const template_t template_blob_native, template_blob_python, template_blob_node;

/* The number of templates, and the i-th (0 <= i < templates_count()), in
 * the order `stratus templates` lists them. */
size_t templates_count(void);
const template_t *templates_at(size_t i);

/* The template of runtime (compared ignoring case) whose display name or
 * one of whose aliases is name (ignoring case), or NULL. */
const template_t *templates_find(const char *runtime, const char *name);

/* Append the quoted display names of runtime's templates to b,
 * ", "-separated, or "none yet" when it has none. 0, or -1 when out of
 * memory. */
int templates_names(const char *runtime, buf_t *b);

#endif
