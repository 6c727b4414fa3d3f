/*
 * custom.h -- what the files of the custom handler runtime share
 * (FUNCTIONS_WORKER_RUNTIME=custom; see docs/custom-handlers.md):
 *
 *   custom.c       the runtime descriptor, invocations in, scheduling over
 *                  the handler processes, timeouts, the restart policy,
 *                  status, stopping
 *   custom_proc.c  the handler processes: port, start, readiness, output
 *                  lines, exits
 *   custom_msg.c   what goes over HTTP: the forwarded request and its
 *                  answer, or the {"Data", "Metadata"} request and the
 *                  {"Outputs", "Logs", "ReturnValue"} answer
 *   custom_value.c the values in Data and Metadata, typed as Azure's host
 *                  writes them
 *
 * Not for use outside these files.
 *
 * Lifecycles. A ch_app_t is the app's runtime_state, from app_start() to
 * app_free(). A ch_proc_t is one handler process with its own port and
 * upstream_t (connection pool), from its start to the close of its last
 * handle; it is STARTING (started, polled with GET / until it answers),
 * READY, or STOPPING (asked to stop or killed). A ch_call_t is one
 * invocation on its way, in the invocation's arena: queued on the app,
 * then in flight on a process, then done (answered, failed, timed out);
 * when it ends before the handler has answered, its upstream call is
 * detached, so nothing refers to the arena afterwards.
 */
#ifndef STRATUS_CUSTOM_H
#define STRATUS_CUSTOM_H

#include <jansson.h>
#include <stdint.h>
#include <uv.h>

#include "../util/dlist.h"
#include "../http/upstream.h"
#include "../util/buf.h"
#include "runtime.h"

#define CH_PROBE_MS 25            /* readiness poll interval */
#define CH_PIPE_CHECK_MS 2000     /* two pipelined GET / must be answered within */
#define CH_SWEEP_MS 50            /* functionTimeout check */
#define CH_HOUSEKEEPING_MS 500    /* idle stops, memory, stop grace */
#define CH_STOP_GRACE_MS 3000     /* SIGTERM, then SIGKILL */
#define CH_CRASH_LIMIT 3          /* crashes within the window stop the app */
#define CH_CRASH_WINDOW_MS (30ULL * 60 * 1000)
#define CH_BACKOFF_MIN_MS 100
#define CH_RESTART_STATUS 200     /* exit status asking for a restart (Azure's) */
#define CH_BACKOFF_MAX_MS 30000
#define CH_QUEUE_MAX 10000
#define CH_LINE_MAX (16 * 1024)
#define CH_TIMEOUT_GRACE_MS 60000 /* the client waits functionTimeout plus this */
#define CH_STREAM_MIN (1u << 20)  /* forwarded answers from this length on, or of unknown
                                     length, are passed on as they arrive */
#define CH_SOLO_MS 10
#define CH_SOLO_CALLS 64
#define CH_TRUST_ANSWERS 2 /* whole answers of a function before its calls are pipelined */
#define CH_STREAM_HIGH (1u << 20) /* ... and reading them pauses while this much waits
                                     for a slow caller */
#define CH_MAX_JSON_BODY (256u << 20)
#define CH_MAX_REQUEUES 3

typedef struct ch_app ch_app_t;
typedef struct ch_proc ch_proc_t;
typedef struct ch_call ch_call_t;

typedef enum { CH_STARTING, CH_READY, CH_STOPPING } ch_state_t;

typedef struct ch_list {
    ch_call_t *head, *tail;
    size_t n;
} ch_list_t;

/* Per function, made by load(): how its invocations travel. */
typedef struct ch_fn {
    int forward;            /* the request goes as-is (forwarding mode) */
    int forward_to_name;    /* ... to /{function}, not its own path (httpWorker section) */
    const char *http_out;   /* name of its (first) named http output binding, or NULL */
    int http_return;        /* it has an http output named "$return" */
    int binary_body;        /* the trigger says dataType binary */
    /* Pipelining is for quick answers: one that is slow or streams would hold
     * up those written behind it. A function's calls go alone until
     * CH_TRUST_ANSWERS of its answers came back whole (not streamed): what
     * is written behind a first answer that streams would be sent twice. A
     * function whose answer took over CH_SOLO_MS has its next CH_SOLO_CALLS
     * calls sent alone; one whose answer streamed, all of them. */
    unsigned solo_left;
    unsigned whole_answers; /* counted up to CH_TRUST_ANSWERS */
    int streams;
} ch_fn_t;

struct ch_call {
    ch_call_t *prev, *next;
    ch_app_t *ca;
    invocation_t *inv;
    invocation_done_fn done;
    void *data;
    ch_proc_t *proc;          /* while in flight */
    uint64_t deadline;        /* functionTimeout, uv_now() ms; 0 = none */
    upstream_call_t up;
    buf_t json;               /* the Data/Metadata body; released with the arena */
    int json_built;
    int finished;
    int requeues;             /* sent back to the queue (the handler was not listening) */
    int streaming;            /* its answer is passed on to the caller as it arrives */
    uint64_t sent_ms;         /* uv_now() when it was handed to the connection pool */
};

DLIST_FUNCS(static inline, ch__list, ch_list_t, ch_call_t)

typedef struct ch_out {
    uv_pipe_t pipe;
    ch_proc_t *proc;
    int is_err;
    buf_t line;
} ch_out_t;

struct ch_proc {
    ch_app_t *ca;
    ch_proc_t *prev, *next;
    uv_process_t process;
    ch_out_t out, err;
    uv_timer_t probe_timer;
    int open_handles;
    int pid, seq, port;
    char hostport[24]; /* "127.0.0.1:<port>", the Host header of requests to it */
    ch_state_t state;
    int exited;
    int stop_requested;       /* 1 asked to stop (SIGTERM), 2 killed */
    int failed_start;         /* killed for not becoming ready in time */
    int was_ready;            /* has been READY once (a recheck is no cold start) */
    char reason[240];         /* why it was stopped or killed */
    upstream_t *up;
    upstream_call_t probe;
    char probe_head[96];
    int probing;
    /* Pipelining only once the handler has answered two pipelined GET /
     * (Azure sends one request at a time; some handlers read one request
     * per read): checked before the process is ready. */
    size_t pipeline_depth;    /* what host.json allows; 1: no pipelining */
    upstream_call_t pipe_calls[2];
    int pipe_pending, pipe_answers, pipe_checked;
    int pipe_closes;          /* ... it ended the connection after the first answer */
    uv_timer_t pipe_timer;    /* starts the check outside the readiness callback */
    ch_list_t inflight;
    uint64_t spawn_ns;
    uint64_t ready_deadline;  /* uv_now() ms */
    uint64_t last_active;
    uint64_t stop_deadline;
    uint64_t invocations;
    uint64_t rss_bytes;       /* resident memory, sampled by the housekeeping timer */
};

struct ch_app {
    uv_loop_t *loop;
    app_t *app;
    char exe[4096];           /* the stratus binary (the exec trampoline) */
    char *handler;            /* the handler's executable, absolute */
    ch_proc_t *procs;
    size_t nprocs;            /* alive (not yet exited) */
    int next_seq;
    ch_list_t queue;
    size_t running;           /* invocations in flight */
    uv_timer_t sweep, housekeeping, backoff;
    int sweeping;
    int closing;
    int handles_open;
    void (*close_cb)(void *);
    void *close_data;
    /* restart policy */
    int stopped;              /* after CH_CRASH_LIMIT crashes in the window */
    char stop_reason[600];
    uint64_t crash_ms[CH_CRASH_LIMIT];
    size_t ncrash;            /* entries of crash_ms in use (a window) */
    uint64_t crashes;
    unsigned consecutive_crashes;
    uint64_t backoff_until;
    char last_crash[240];
    uint64_t last_crash_ms;
    /* a reload waits for its handler to start (ch_ready): an exit then
     * refuses the reload instead of restarting the handler */
    int trial;
    int trial_failed;
    ch_app_t *next_app;       /* the apps of this host (custom.c) */
    /* figures */
    uint64_t cold_starts;
    double last_cold_start_ms, total_cold_start_ms;
    uint64_t rejected, timeouts;
};

/* ---- custom.c ---- */
/* End a call: fail it with an HTTP status (500, 503, 504) and a reason,
 * detaching what is still in flight. */
void ch__call_fail(ch_call_t *c, int status, const char *reason);
/* The status and headers of a forwarded answer into the invocation. */
void ch__msg_forward_head(ch_call_t *c, respparser_t *resp);
/* Give queued calls to ready processes, starting processes as allowed. */
void ch__dispatch(ch_app_t *ca);
/* A process became ready (after its first answer to GET /). */
void ch__proc_ready(ch_proc_t *p);
/* A process has exited: fail its calls, count a crash, restart. */
void ch__proc_exited(ch_proc_t *p, int64_t status, int sig);
/* When closing and no process is left: close the rest, then call back. */
void ch__maybe_finish(ch_app_t *ca);

/* ---- custom_proc.c ---- */
/* Start a handler process (STARTING); NULL with the reason logged when it
 * cannot be started. */
ch_proc_t *ch__proc_spawn(ch_app_t *ca);
/* A READY process refused a connection: back to STARTING, polled again
 * with GET / (it is dying, and its exit follows, or it comes back). */
void ch__proc_recheck(ch_proc_t *p);
/* Take a ready process out of service until it answers GET / again (why
 * says what made it suspect); killed and replaced when it does not within
 * startupTimeout. */
void ch__proc_check(ch_proc_t *p, const char *why);
/* Ask it to stop (SIGTERM to its process group; SIGKILL after the grace). */
void ch__proc_stop(ch_proc_t *p, const char *reason);
/* Kill its process group now. */
void ch__proc_kill(ch_proc_t *p, const char *reason);

/* ---- custom_msg.c ---- */
/* Build the request for c (forwarding or Data/Metadata) into c->up (head
 * and body in the invocation's arena or c->json). 0, or -1 with err set. */
int ch__msg_request(ch_call_t *c, const char *host, char *err, size_t errlen);
/* Read the handler's answer into the invocation. 1 on success; 0 with a
 * reason in err (the invocation fails). */
int ch__msg_response(ch_call_t *c, respparser_t *resp, char *err, size_t errlen);
/* The Data/Metadata answer (body of len bytes) applied to inv: outputs,
 * logs, return value. 1 or 0 with err set. Also used by the fuzz driver. */
int ch__msg_apply_answer(invocation_t *inv, const ch_fn_t *cf, const char *body, size_t len,
                         char *err, size_t errlen);
/* Append the Data/Metadata request JSON for inv to out. 0 or -1. Also
 * used by the unit tests. */
int ch__msg_build_json(buf_t *out, const invocation_t *inv, const ch_fn_t *cf);

/* ---- custom_value.c ----
 * Each appends one JSON value to b and returns 0, or -1 when b would pass
 * its limit. */
/* A .NET string (n bytes at s; bytes that are not UTF-8 stand for U+FFFD):
 * its JSON text, as a JSON string ("\"hello\""). */
int ch__value_put_text(buf_t *b, const char *s, size_t n);
/* The value v of the binding data member key of a trigger of type
 * trigger_type (NULL: none in particular): an object as it is, a date of
 * that trigger as a JSON date, anything else as its JSON text. */
int ch__value_put_meta(buf_t *b, const char *trigger_type, const char *key, const json_t *v);
/* 1 when v, a property of a JSON object payload (a queue message, a blob,
 * an HTTP body), joins the binding data as Azure adds it: not a list, not
 * null. */
int ch__value_payload_prop(const json_t *v);
/* Such a property's value: an object as it is, else its .NET text (a
 * number as .NET writes it, True or False) as JSON text. */
int ch__value_put_payload_prop(buf_t *b, const json_t *v);
/* A trigger's payload bytes: base64 when binary (dataType binary), else
 * text as ch__value_put_text, less a leading byte order mark for a blob. */
int ch__value_put_bytes(buf_t *b, const char *p, size_t n, int binary, int blob);
/* An input binding's value v (binding.h: text, {"$binary": base64}, JSON
 * data, or NULL/null for nothing) read with dataType binary or not, from a
 * blob or not: as ch__value_put_bytes, JSON data as ch__value_put_meta,
 * nothing as the text null. */
int ch__value_put_input(buf_t *b, const json_t *v, int binary, int blob);
/* The value an output binding (not http) is given for v, the handler's
 * Outputs entry or ReturnValue, as Azure converts it: unless the binding
 * says dataType binary, a string that .NET's Convert.FromBase64String
 * accepts ("SGk=", "test", a Go []byte) becomes {"$binary": v}, the bytes
 * it encodes; anything else is v. New reference; NULL out of memory. */
json_t *ch__value_output(json_t *v, int binary);

#endif
