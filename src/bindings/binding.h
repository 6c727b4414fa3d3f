/*
 * binding.h -- binding kinds: the code behind one function.json "type".
 *
 * Each binding kind is a static const binding_kind_t in its own file under
 * src/bindings/, listed once in bindings.c. The host looks kinds up by the
 * "type" a binding names (case-insensitively). parse() validates one
 * function.json entry into a typed config once, at load time; runtime code
 * only reads the typed config.
 */
#ifndef STRATUS_BINDING_H
#define STRATUS_BINDING_H

#include <jansson.h>
#include <stddef.h>

#define BINDING_KIND_VERSION 1

typedef enum binding_dir { BINDING_IN = 1, BINDING_OUT = 2, BINDING_INOUT = 3 } binding_dir_t;

struct binding;

typedef struct binding_kind {
    int version;          /* BINDING_KIND_VERSION */
    const char *type;     /* the function.json "type" */
    unsigned directions;  /* BINDING_IN and/or BINDING_OUT bits accepted */
    int is_trigger;       /* 1 for "...Trigger" kinds */
    /* Validate entry (the binding's JSON object) and store a typed config in
     * b->conf. Return 0, or -1 with a message in err naming the field, e.g.
     * "field 'authLevel': expected anonymous, function or admin, got 'x'".
     * May be NULL when the kind has no settings of its own. */
    int (*parse)(const json_t *entry, struct binding *b, char *err, size_t errlen);
    /* Free what parse stored in b->conf. May be NULL. */
    void (*free_conf)(void *conf);
} binding_kind_t;

typedef struct binding {
    char *name;                 /* "req", "$return", ... */
    char *type;                 /* as written */
    binding_dir_t direction;
    int is_trigger;
    char *data_type;            /* "string", "binary", "stream" or NULL */
    char *connection;           /* NULL when absent */
    const binding_kind_t *kind;
    void *conf;                 /* typed config from kind->parse, or NULL */
} binding_t;

/* The kind for a type name (case-insensitive), or NULL. */
const binding_kind_t *binding_kind_find(const char *type);

/* Write the known type names, comma-separated, into out. */
void binding_kind_names(char *out, size_t outlen);

/* ---- httpTrigger ---- */

typedef enum auth_level { AUTH_ANONYMOUS = 0, AUTH_FUNCTION = 1, AUTH_ADMIN = 2 } auth_level_t;

typedef struct http_trigger_conf {
    auth_level_t auth_level; /* default AUTH_FUNCTION */
    unsigned methods;        /* METHOD_* bits; 0 = all */
    char *route;             /* as written, or NULL for the function name */
} http_trigger_conf_t;

extern const binding_kind_t binding_http_trigger;
extern const binding_kind_t binding_http_out;

#endif
