/*
 * trigger.h -- the binding host: what binding kinds (src/bindings/) see of
 * the host, and the path of every invocation that has bindings besides
 * HTTP.
 *
 * Trigger sources (timer, queue, blob) are started per function by their
 * kind's start() and deliver events with binding_host_invoke(): the host
 * makes an invocation, reads its input bindings, runs the function with
 * the function's retry policy, writes its output bindings only when it
 * succeeded, logs it, and reports the outcome to the source (which then
 * deletes a queue message, records a blob receipt, ...).
 *
 * HTTP-triggered functions with input or output bindings go through
 * binding_host_run() around the runtime's invoke.
 *
 * Values of non-HTTP bindings travel as JSON (binding.h): a string is
 * text, {"$binary": "<base64>"} is bytes, anything else is JSON data.
 *
 * Everything runs on the host's loop thread.
 */
#ifndef STRATUS_TRIGGER_H
#define STRATUS_TRIGGER_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "../runtimes/runtime.h"
#include "../store/store.h"
#include "app.h"
#include "invocation.h"

/* Connections: the app setting a binding's "connection" names (default
 * AzureWebJobsStorage). Empty, unset, "UseDevelopmentStorage=true" and
 * Azure storage connection strings mean the embedded store; "sqlite:..."
 * names another store file. */
#define TRIGGER_DEFAULT_CONNECTION "AzureWebJobsStorage"
#define TRIGGER_MAX_STORES 8

/* Create the binding host for app, with its default store opened (and
 * migrated) and started on loop. NULL with err set (a store that cannot be
 * opened: corrupt, locked, newer schema). */
binding_host_t *binding_host_new(uv_loop_t *loop, app_t *app, const runtime_t *rt, char *err,
                                 size_t errlen);

/* Open the store of every binding's connection of app (the serving one, or
 * a new version being built) now, so that a connection that is not set or
 * cannot be opened is reported at start: such a function is reported and
 * dropped, as a load error (rt's unload is called). Before HTTP routes are
 * registered. */
void binding_host_check(binding_host_t *bh, app_t *app);

/* Start every function's trigger source (kinds with start()). A function
 * whose source refuses to start is reported and dropped from the app, as a
 * load error: unload is called through rt. Returns how many started. */
size_t binding_host_start(binding_host_t *bh);

/* Stop delivering events, let invocations in flight finish (retries
 * waiting for their delay are given up), then stop the stores;
 * cb(data) after that. */
void binding_host_stop(binding_host_t *bh, void (*cb)(void *data), void *data);

/* Serve a new version of the app (a reload): stop the trigger sources of
 * the current one (events in flight finish on it; its retries waiting for
 * their delay are given up), make app the current one, and start app's
 * sources once every old source has stopped. The stores stay open. -1 when
 * the binding host is stopping. The old app must live until
 * binding_host_busy() says nothing uses it any more. */
int binding_host_switch_app(binding_host_t *bh, app_t *app);

/* How many things still use app: events in flight on its functions and
 * its trigger sources still stopping. 0 when it may be freed. */
size_t binding_host_busy(const binding_host_t *bh, const app_t *app);

/* Free the binding host (after stop's callback, or when never started). */
void binding_host_free(binding_host_t *bh);

uv_loop_t *binding_host_loop(binding_host_t *bh);
app_t *binding_host_app(binding_host_t *bh);

/* The default store (AzureWebJobsStorage). */
store_t *binding_host_default_store(binding_host_t *bh);

/* The store a connection setting names (NULL: the default), opened and
 * started on first use and shared. NULL with err naming the setting and
 * what is wrong. */
store_t *binding_host_store(binding_host_t *bh, const char *connection, char *err,
                            size_t errlen);

/* Queue notifications of a store (store_set_notify is the binding host's):
 * cb(arg, queue) runs when messages became visible in `queue` of st.
 * 0 or -1. unwatch removes every watch with that arg. */
typedef void (*binding_queue_cb)(void *arg, const char *queue);
int binding_host_watch_queue(binding_host_t *bh, store_t *st, binding_queue_cb cb, void *arg);
void binding_host_unwatch_queue(binding_host_t *bh, void *arg);

/* The folder whose subfolders are blob containers: host.json
 * stratus.storage.blobRoot, else "blobs" beside the default store file. */
const char *binding_host_blob_root(binding_host_t *bh);

/* The same rule without a binding host (the command line): the blob root
 * of app whose default store is st. The caller frees it; NULL when out of
 * memory. */
char *binding_blob_root_of(const app_t *app, const store_t *st);

/* The store URL that a connection setting names (NULL: the default,
 * AzureWebJobsStorage), as binding_host_store() resolves it: "" for the
 * embedded default store (also for an unset AzureWebJobsStorage and for
 * an Azure Storage connection string, which sets *azure to 1), else the
 * setting's value, valid while app lives. NULL with err naming the setting
 * when a non-default connection is not set. */
const char *binding_connection_url(const app_t *app, const char *connection, int *azure,
                                   char *err, size_t errlen);

/* In-flight invocations started by trigger sources (not HTTP). */
size_t binding_host_inflight(const binding_host_t *bh);

/* ---- events ---- */

typedef struct trigger_event {
    const void *data;   /* the trigger's payload (copied) */
    size_t len;
    json_t *metadata;   /* binding data, an object, or NULL; the call takes the reference */
    const char *metadata_text; /* or the binding data as JSON object text (copied); */
    size_t metadata_len;       /* parsed only when something needs it */
    const char *reason; /* why it runs, for the log: "New queue message detected on 'q'." */
} trigger_event_t;

/* The outcome of an event: ok, or the reason of the last failure (valid
 * during the call). inv is the last attempt's invocation (valid during the
 * call), NULL when none ran. */
typedef void (*trigger_done_cb)(void *arg, int ok, const char *reason, invocation_t *inv);

/* Run fn for ev (see the top). done(arg, ...) runs exactly once, later
 * from the loop, unless this returns -1 (host stopping, out of memory). */
int binding_host_invoke(binding_host_t *bh, function_t *fn, const trigger_event_t *ev,
                        trigger_done_cb done, void *arg);

/* The same, with the first attempt's invocation id written to id (at
 * least UUID_STR_LEN bytes) when id is not NULL. */
int binding_host_invoke_id(binding_host_t *bh, function_t *fn, const trigger_event_t *ev,
                           trigger_done_cb done, void *arg, char *id);

/* The outcome of binding_host_invoke_input(): status BINDING_MANUAL_OK
 * with the invocation's id, or why it did not run (err says what is
 * wrong). */
typedef void (*trigger_input_cb)(void *arg, binding_manual_status_t status, const char *id,
                                 const char *err);

/* Run fn by hand with input (len bytes, NUL-terminated), as the admin API
 * does: fn's trigger kind makes the event from the input (binding_kind_t
 * manual; without it the input is the payload as it is), then it runs as
 * binding_host_invoke() runs an event, its outcome logged. cb(arg, ...)
 * runs exactly once, when the event is made or cannot be (possibly before
 * this returns). */
void binding_host_invoke_input(binding_host_t *bh, function_t *fn, const char *input,
                               size_t len, trigger_input_cb cb, void *arg);

/* Around an invocation made by another front end (HTTP): read inv's inputs,
 * run it, write its outputs after success, then done(inv, ok, ...). Same
 * shape as runtime_t.invoke. */
void binding_host_run(binding_host_t *bh, invocation_t *inv, invocation_done_fn done,
                      void *data);

/* ---- for binding kinds ---- */

/* Resolve a binding property (binding expressions, see expr.h) against
 * inv's binding data. A string in inv's arena, or NULL with err naming the
 * expression that cannot be resolved. */
const char *binding_host_resolve(invocation_t *inv, const char *tmpl, char *err,
                                 size_t errlen);

/* inv's binding data, built on first use for HTTP triggers (route
 * parameters, query parameters, and the properties of a JSON body). Never
 * NULL unless out of memory. */
json_t *binding_host_data(invocation_t *inv);

/* The value the function set for output binding name (matched
 * case-insensitively), or NULL. */
json_t *binding_host_output(invocation_t *inv, const char *name);

#endif
