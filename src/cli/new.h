/*
 * new.h -- what `stratus new` (new.c) shares with its part for apps that
 * declare their functions in code (new_code.c): the Python V2 model
 * (decorated functions in function_app.py) and the Node.js V4 model
 * (app.http(...) in the files package.json "main" names).
 */
#ifndef STRATUS_CLI_NEW_H
#define STRATUS_CLI_NEW_H

#include <stddef.h>

#include "../util/buf.h"
#include "templates.h"

/* The values of a template's placeholders (see templates.h); NULL ones
 * expand to nothing. */
typedef struct new_vars {
    const char *fn, *entry, *auth;
    const char *pydef, *pyname, *pyauth;
} new_vars_t;

/* Replace the {{...}} placeholders of text into b. 0, or -1 when out of
 * memory. */
int new_expand(buf_t *b, const char *text, const new_vars_t *v);

/* Create path exclusively and write len bytes of text. 0, or -1 after
 * printing why. */
int new_write_file(const char *path, const char *text, size_t len);

/* What `stratus new` says after writing: the function, the files, how to
 * run it, then `next` (expanded; NULL for none). */
void new_print_created(const template_t *t, const char *app, const char *host_json,
                       const new_vars_t *v, const char *next, char *const *written,
                       size_t nwritten);

/* How the app declares its functions. */
typedef enum new_model {
    NEW_MODEL_FOLDERS,   /* a folder with a function.json per function */
    NEW_MODEL_PYTHON_V2, /* decorators in function_app.py (or PYTHON_SCRIPT_FILE_NAME) */
    NEW_MODEL_NODE_V4    /* app.http(...) in files package.json "main" names */
} new_model_t;

/* The model of the app in folder app whose worker runtime is runtime, as
 * the host tells them apart: code only when the app has no function
 * folders. *where gets, for Python, the script file (relative to app);
 * for Node.js, package.json "main". -1 after a message when the app
 * cannot take a template (a TypeScript app of the V4 model). */
int new_app_model(const char *app, const char *runtime, char *where, size_t wherelen);

/* Add function fn from template t to an app of a code model: append it to
 * the Python script `where`, or write <folder of main>/<fn>.js. 0, or 1
 * after a message (nothing is left half-written). */
int new_in_code(const template_t *t, const char *app, const char *host_json, new_model_t model,
                const char *where, const char *fn, const char *auth);

#endif
