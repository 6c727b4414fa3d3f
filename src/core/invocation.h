/*
 * invocation.h -- one run of one function: what triggered it, what it
 * answered, and its bookkeeping (id, timing).
 *
 * The invocation is the stratus_ctx that native functions receive. It is
 * allocated in an arena: the HTTP request's arena for HTTP triggers (so it
 * lives until the answer is sent), or its own heap arena for invocations
 * from the admin API. The executor fills the response fields; the trigger
 * source (the HTTP front end, the admin API) turns them into its reply.
 */
#ifndef STRATUS_INVOCATION_H
#define STRATUS_INVOCATION_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "../http/server.h"
#include "../telemetry/traceparent.h"
#include "../util/arena.h"
#include "../util/buf.h"
#include "../util/id.h"
#include "app.h"
#include "route.h"

#define INVOCATION_MAX_RESPONSE (256u << 20) /* 256 MB */
#define INVOCATION_MAX_RES_HEADERS 128

typedef struct query_param {
    char *name;
    char *value;
} query_param_t;

struct stratus_ctx {
    char id[UUID_STR_LEN];
    app_t *app;
    function_t *fn;
    arena_t *arena;

    /* trigger */
    http_request_t *req;      /* NULL unless started by HTTP */
    route_params_t *params;   /* route parameters (in the arena), or NULL */
    const char *trigger_data; /* HTTP body or admin "input" */
    size_t trigger_len;

    /* lazily built views of the request */
    char *path;               /* decoded path */
    char *query_string;
    query_param_t *query;
    size_t nquery;
    int query_parsed;

    /* response */
    int status;
    http_header_t *res_headers; /* in the arena, grown by invocation_add_header */
    size_t nres_headers;
    size_t cap_res_headers;
    buf_t res_body;

    /* bindings other than HTTP (src/core/trigger.c); NULL when none */
    json_t *binding_data;     /* the trigger's binding data (metadata), an object */
    json_t *inputs;           /* input binding values by binding name */
    json_t *outputs;          /* output values the function set, by binding name */
    sv_t binding_data_text;   /* in a worker: binding_data and inputs as the INVOKE */
    sv_t inputs_text;         /* carried them, parsed on first use (the frame outlives the call) */
    const char *trigger_type; /* the trigger binding's type, e.g. "queueTrigger" */
    int retry_count;          /* RetryContext: retries before this attempt */
    int max_retry_count;      /* RetryContext: -1 = without end, 0 = no policy */
    const char *retry_error;  /* RetryContext: why the attempt before this one failed, or NULL */

    /* W3C trace context: this invocation's traceparent (the caller's trace
     * id, or a new one, with a span id of its own) and the caller's
     * tracestate (in the arena), or NULL */
    char traceparent[TRACEPARENT_SIZE];
    const char *tracestate;

    uint64_t start_ns;
    int fail_status;          /* HTTP status of a failure: 0 = 500; 429, 503, 504 */
    int not_run;              /* failed unrun: its runtime is stopped for good */
    int user_error;           /* the failure reason is the function's own error text
                               * (an exception, a traceback): logged, never sent to an
                               * HTTP client */
    uint64_t mem_bytes;       /* resident memory of the worker process that ran it, as
                               * last sampled (set by the runtime; 0 = not known) */
    int stream_ok;            /* its caller can take the answer as a stream (an HTTP
                               * request, nothing to write after the function) */
    int streamed;             /* the answer's head has gone out (invocation_stream_start) */
};

typedef struct stratus_ctx invocation_t;

/* Set up an invocation of fn in arena (which must outlive it), with the
 * given id (a UUID string, as a worker receives it) or a new one when id is
 * NULL or unusable. */
invocation_t *invocation_new(arena_t *arena, app_t *app, function_t *fn, sv_t id);

/* Take the trace context a caller sent (the traceparent and tracestate
 * header values; SV_NULL when absent): a valid traceparent gives its trace
 * id to inv (with inv's own span id) and its tracestate is kept; an
 * invalid one is ignored, tracestate with it, and inv keeps the new trace
 * invocation_new gave it. */
void invocation_trace_from(invocation_t *inv, sv_t traceparent, sv_t tracestate);

/* 1 when name is an RFC 9110 token and value has no control character but
 * HTAB: a header that can be written as it is. */
int invocation_header_ok(sv_t name, sv_t value);

/* Add a response header, copying name and value into the arena. A header
 * that fails invocation_header_ok() is left out, with a warning in the log
 * that names it and the function (0 all the same). 0, or -1 past
 * INVOCATION_MAX_RES_HEADERS or out of memory. */
int invocation_add_header(invocation_t *inv, sv_t name, sv_t value);

/* invocation_add_header() for a header known to pass invocation_header_ok()
 * (one remembered from an earlier, checked answer). */
int invocation_put_header(invocation_t *inv, sv_t name, sv_t value);

/* For a runtime that receives an HTTP answer piece by piece (a custom
 * handler's forwarded answer): start passing it on to the caller. The
 * head is inv->status and inv->res_headers, length the body's length or
 * HTTP_STREAM_NO_LENGTH; the body then goes out with http_stream_write()
 * on inv->req (http_stream_unsent() and http_stream_on_drain() bound what
 * waits), and the runtime ends the invocation through its done callback
 * as always: the caller's answer then ends, or on a failure is cut off
 * (http_stream_abort). gone(inv->req, data) is called if the caller goes
 * away first (see http_stream_start). 0, or -1 when the answer cannot be
 * streamed (not stream_ok, the caller gone): the runtime gathers it. */
int invocation_stream_start(invocation_t *inv, uint64_t length, http_gone_fn gone, void *data);

/* Release what the invocation holds outside its arena (the response body).
 * Registered on the arena, so callers normally need not call it. */
void invocation_release(invocation_t *inv);

/* Append RetryContext's exception, the failure of the attempt before inv,
 * as a JSON object: {"source", "stackTrace", "message"} (with capitalised
 * names when pascal is set): the reason's first line is the message, the
 * lines after it the stack trace. "null" without one. Returns 0, or -1
 * when out of memory. */
int invocation_put_retry_exception(buf_t *b, const invocation_t *inv, int pascal);

#endif
