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

#include "../util/cron.h"

#define BINDING_KIND_VERSION 3

typedef enum binding_dir { BINDING_IN = 1, BINDING_OUT = 2, BINDING_INOUT = 3 } binding_dir_t;

struct binding;
struct function;
struct stratus_ctx;
struct trigger_event;

/* The host, as binding kinds see it (src/core/trigger.c): the loop, the
 * app, stores by connection, and running a function for an event. */
typedef struct binding_host binding_host_t;

/* Completion of a read (value set, or NULL with ok 0) or a write. reason
 * says what failed, for the log. */
typedef void (*binding_io_cb)(void *arg, int ok, json_t *value, const char *reason);

/* Why the input of a run by hand cannot be used (binding_kind_t.manual). */
typedef enum binding_manual_status {
    BINDING_MANUAL_OK = 0,
    BINDING_MANUAL_BAD_INPUT = -1, /* not what the trigger needs, e.g. not "container/blob" */
    BINDING_MANUAL_NOT_FOUND = -2, /* names something that does not exist */
    BINDING_MANUAL_ERROR = -3,     /* it could not be read (I/O, too big, out of memory) */
    BINDING_MANUAL_STOPPING = -4   /* the host is stopping (binding_host_invoke_input) */
} binding_manual_status_t;

/* The event of a run by hand: ev (valid during the call; its metadata
 * reference passes to whoever runs it) with status BINDING_MANUAL_OK, or
 * NULL with another status and err saying what is wrong. */
typedef void (*binding_manual_cb)(void *arg, binding_manual_status_t status,
                                  const struct trigger_event *ev, const char *err);

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

    /* ---- version 2: trigger sources, inputs and outputs; each may be NULL
     * (HTTP has none: the HTTP front end is the host's own). ---- */

    /* Trigger kinds: start delivering events for fn (b is its trigger)
     * through binding_host_invoke(). Store what stop needs in *state.
     * 0, or -1 with err saying what is wrong (the function is then not
     * started, and the error is reported like a load error). */
    int (*start)(binding_host_t *bh, struct function *fn, struct binding *b, void **state,
                 char *err, size_t errlen);
    /* Stop delivering events; cb(arg) once none of this source's work is
     * in flight any more (may be at once). */
    void (*stop)(void *state, void (*cb)(void *arg), void *arg);
    /* Input kinds: produce b's value for invocation inv (resolving binding
     * expressions against its binding data), then cb (possibly before
     * read returns). The value is a JSON value as workers receive it
     * (binding_value_bytes()). */
    void (*read)(binding_host_t *bh, const struct binding *b, struct stratus_ctx *inv,
                 binding_io_cb cb, void *arg);
    /* Output kinds: write value (what the function set for b; a JSON value,
     * see binding_value_bytes()) for inv, then cb. Called only after the
     * function succeeded. */
    void (*write)(binding_host_t *bh, const struct binding *b, struct stratus_ctx *inv,
                  json_t *value, binding_io_cb cb, void *arg);

    /* ---- version 3 ---- */

    /* Trigger kinds: make the event of a run by hand (the admin API's
     * POST /admin/functions/{name} with {"input": "..."}) from the input
     * text (len bytes, NUL-terminated), as Azure's trigger converts that
     * string to its trigger value: a blob path becomes the blob, a string a
     * queue message, anything a TimerInfo. Then cb, possibly before manual
     * returns. NULL: the input is the payload as it is. */
    void (*manual)(binding_host_t *bh, struct function *fn, const struct binding *b,
                   const char *input, size_t len, binding_manual_cb cb, void *arg);
} binding_kind_t;

/* Values of non-HTTP bindings travel as JSON: a string is text, an object
 * {"$binary": "<base64>"} is bytes, anything else is JSON data. Put the
 * value's bytes (text, decoded bytes, or the JSON text) into a new buffer
 * *out of *len bytes (NUL-terminated; free() it). 0, or -1 on bad base64
 * or out of memory. */
int binding_value_bytes(const json_t *v, char **out, size_t *len);

/* The JSON value for bytes: a string when they are valid UTF-8 and
 * binary is 0, else {"$binary": base64}. New reference; NULL when out of
 * memory. */
json_t *binding_value_new(const void *p, size_t len, int binary);

/* Add a trigger's built-in binding data (Id, BlobTrigger, ...) to d,
 * which may already hold data from the trigger's value (a JSON message's
 * properties, a blob path's captures): as in Azure, those win, so key is
 * set only when d has no key equal to it ignoring case. Takes the
 * reference to v either way. */
void binding_data_builtin(json_t *d, const char *key, json_t *v);

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

/* ---- for kinds reading their configuration (conf.c) ---- */

/* The member `key` of obj matched case-insensitively (Azure reads its
 * configuration so), NULL when obj is not an object, the key is absent or
 * its value is null. */
json_t *binding_conf_get(const json_t *obj, const char *key);

/* A short description of a JSON value for error messages: strings quoted,
 * cut at 64 bytes and with control bytes as '?', other values by kind. */
void binding_conf_show(const json_t *v, char *out, size_t n);

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

/* ---- timerTrigger (timer.c) ---- */

typedef struct timer_trigger_conf {
    char *schedule;     /* as written, %Setting% resolved */
    cron_t cron;        /* parsed */
    int run_on_startup; /* runOnStartup, default 0 */
    int use_monitor;    /* useMonitor, default 1 (timer.c turns it off for sub-minute schedules) */
} timer_trigger_conf_t;

extern const binding_kind_t binding_timer_trigger;

/* ---- queueTrigger, queue (queue_trigger.c, queue_out.c) ---- */

extern const binding_kind_t binding_queue_trigger;
extern const binding_kind_t binding_queue_out;

/* ---- blobTrigger and blob (blob.c, blob_trigger.c) ---- */

struct blobpath;

typedef struct blob_conf {
    char *path;                /* as written, %Setting% resolved */
    struct blobpath *pattern;  /* blobTrigger: the parsed pattern; NULL for blob */
} blob_conf_t;

extern const binding_kind_t binding_blob_trigger;
extern const binding_kind_t binding_blob;

#endif
