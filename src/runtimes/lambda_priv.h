/*
 * lambda_priv.h -- what the two halves of the Lambda runtime share:
 * lambda.c (functions, bootstrap processes, scheduling, timeouts, status)
 * and lambda_api.c (the Runtime API that each process talks to). Not for
 * use outside those files.
 *
 * Objects and their lifecycles:
 *
 *   lambda_rt_t    one per app (app->runtime_state): made by app_start,
 *                  freed by app_free once app_stop has closed everything.
 *   lambda_fn_t    one per function, owned by the lambda_rt_t (it outlives
 *                  the function_t, which the host may drop while bootstrap
 *                  processes are still exiting); fn->runtime_data points to
 *                  it while the function is loaded.
 *   lambda_proc_t  one bootstrap process with its own Runtime API listener
 *                  on 127.0.0.1 (so every request names its process):
 *                  STARTING (spawned) -> READY (its first `next` arrived) ->
 *                  STOPPING (asked to stop, or killed) -> exited -> freed
 *                  once the process handle, its pipes and its listener have
 *                  closed.
 *   lambda_call_t  one invocation, in the invocation's arena: queued on its
 *                  function, then in flight on one process, then completed
 *                  (response, error, timeout, or the process's exit). It is
 *                  unlinked before done() is called and never touched after.
 */
#ifndef STRATUS_LAMBDA_PRIV_H
#define STRATUS_LAMBDA_PRIV_H

#include <stdint.h>
#include <uv.h>

#include "../util/dlist.h"
#include "../http/server.h"
#include "../util/buf.h"
#include "lambda_event.h"
#include "runtime.h"

#define LAMBDA_QUEUE_MAX 10000
#define LAMBDA_CONCURRENCY_MAX 1024 /* AWS_LAMBDA_MAX_CONCURRENCY at most */
#define LAMBDA_TICK_MS 100
#define LAMBDA_STOP_GRACE_MS 3000
#define LAMBDA_START_WAIT_MS 10000
#define LAMBDA_INIT_LIMIT_MS 10000 /* Lambda's: a bootstrap must ask for work by then */
#define LAMBDA_BACKOFF_MIN_MS 100
#define LAMBDA_BACKOFF_MAX_MS 30000
#define LAMBDA_LINE_MAX (16 * 1024)
#define LAMBDA_DEFAULT_REGION "us-east-1"
#define LAMBDA_API_PREFIX "/2018-06-01/runtime/"

typedef struct lambda_rt lambda_rt_t;
typedef struct lambda_fn lambda_fn_t;
typedef struct lambda_proc lambda_proc_t;

typedef struct lambda_call {
    struct lambda_call *prev, *next;
    invocation_t *inv;
    invocation_done_fn done;
    void *data;
    uint64_t deadline;      /* uv_now() ms; 0 = none */
    uint64_t deadline_unix; /* the same in Unix ms, for Lambda-Runtime-Deadline-Ms */
    uint64_t start_unix;    /* Unix ms when it was submitted (requestTimeEpoch) */
    lambda_fn_t *lf;
    lambda_proc_t *proc;    /* NULL while queued */
    int streamed;           /* its response is being streamed (20 MB limit) */
} lambda_call_t;

typedef struct lambda_list {
    lambda_call_t *head, *tail;
    size_t n;
} lambda_list_t;

DLIST_FUNCS(static inline, lambda__list, lambda_list_t, lambda_call_t)

typedef enum { LP_STARTING, LP_READY, LP_STOPPING } lambda_proc_state_t;

typedef struct lambda_out {
    uv_pipe_t pipe;
    lambda_proc_t *proc;
    int is_err;
    buf_t line;
} lambda_out_t;

struct lambda_proc {
    lambda_fn_t *lf;
    lambda_proc_t *prev, *next;
    int seq;                /* 1, 2, ... per app */
    int pid;
    int port;               /* of its Runtime API listener */
    lambda_proc_state_t state;
    uv_process_t proc;
    lambda_out_t out, err;
    http_server_t api;
    int open_handles;       /* process, two pipes, the listener (as one) */
    int has_proc;           /* the process handle was set up (needs closing) */
    int exited;
    int stop_requested;     /* 1 asked to stop (SIGTERM), 2 killed */
    int init_failed;        /* it posted /init/error */
    int was_ready;          /* it has asked for an invocation */
    char reason[300];       /* why it was stopped or killed */
    http_request_t **parked; /* `next` calls waiting for an invocation */
    size_t nparked;
    lambda_list_t inflight;
    uint64_t spawn_ns;
    uint64_t rss_bytes;     /* resident memory, sampled every tick */
    uint64_t last_active;   /* uv_now() ms */
    uint64_t stop_deadline;
    uint64_t invocations;
    char log_stream[96];
};

struct lambda_fn {
    lambda_rt_t *rt;
    function_t *fn;         /* NULL once the host dropped the function */
    char *name;
    char *bootstrap;        /* the executable */
    char *handler;          /* _HANDLER */
    char *task_root;        /* LAMBDA_TASK_ROOT, the function folder */
    char *route;            /* route template, for the event's resource */
    int payload_v2;         /* HTTP API (2.0) events and results, else REST (1.0) */
    char arn[400];
    lambda_proc_t *procs;
    size_t nprocs;          /* not exited */
    lambda_list_t queue;
    int loaded;             /* some process asked for an invocation */
    int settled;            /* the first process is ready, or failed to start */
    char *load_error;       /* why the function could not start, at host start */
    char last_init_error[600];
    uint64_t cold_starts;
    double last_cold_start_ms, total_cold_start_ms;
    uint64_t invocations, errors, timeouts, crashes;
    unsigned consecutive_crashes;
    uint64_t backoff_until; /* uv_now() ms */
    char last_crash[300];
};

struct lambda_rt {
    uv_loop_t *loop;
    app_t *app;
    char exe[4096];
    int concurrency;        /* `next` calls a process may have outstanding */
    int concurrency_set;    /* AWS_LAMBDA_MAX_CONCURRENCY was given */
    char region[64];
    char tz[64];
    lambda_fn_t **fns;
    size_t nfns;
    int next_seq;
    size_t running;         /* calls in flight, all functions */
    uint64_t rejected;
    uv_timer_t tick;
    int tick_open;
    int starting;           /* inside ready(): init failures are load errors */
    int closing;
    void (*close_cb)(void *);
    void *close_data;
    buf_t event;            /* scratch for the event being handed out */
};

/* ---- lambda.c: scheduling and what the Runtime API reports ---- */

/* A `next` call arrived on p: hand it a queued invocation or park it. */
void lambda__next(lambda_proc_t *p, http_request_t *req);

/* The in-flight call of p with this request id, or NULL. */
lambda_call_t *lambda__find(lambda_proc_t *p, sv_t id);

/* p posted the result of c (body, len bytes): complete it. */
void lambda__respond(lambda_proc_t *p, lambda_call_t *c, const char *body, size_t len);

/* p streamed the result of c (Response-Mode streaming): complete it as a
 * function URL does (lambda_stream_result), or, with error_type (the
 * trailer Lambda-Runtime-Function-Error-Type; error_body the trailer
 * Lambda-Runtime-Function-Error-Body, base64 of the error document), fail
 * it as lambda__error() does. */
void lambda__respond_stream(lambda_proc_t *p, lambda_call_t *c, const char *body, size_t len,
                            sv_t content_type, sv_t error_type, sv_t error_body);

/* p posted an error for c: fail it (502) and log it. */
void lambda__error(lambda_proc_t *p, lambda_call_t *c, const char *body, size_t len,
                   sv_t type_header);

/* p posted /init/error: report it and kill p. */
void lambda__init_error(lambda_proc_t *p, const char *body, size_t len, sv_t type_header);

/* p tried to post more than LAMBDA_MAX_PAYLOAD (LAMBDA_MAX_STREAM_PAYLOAD
 * when streamed) for c, or headers too large: fail c (502). */
void lambda__refused(lambda_proc_t *p, lambda_call_t *c, int status);
/* Fail c, answered by the runtime in a way the host does not pass on. */
void lambda__unsupported(lambda_proc_t *p, lambda_call_t *c, const char *why);

/* Give queued invocations of lf to processes with a `next` call waiting,
 * and start processes as needed. */
void lambda__dispatch(lambda_fn_t *lf);

/* Answer (release) parked `next` calls whose client has gone. */
void lambda__prune_parked(lambda_proc_t *p);

/* A process of lf crashed or could not start (what says how): count it
 * and back off before the next start. */
void lambda__crashed(lambda_fn_t *lf, const char *what);

/* p has exited (unexpected: not stopped or killed on purpose; why says
 * how): fail its in-flight invocations and report a failed start. */
void lambda__proc_exited(lambda_proc_t *p, int unexpected, const char *why);

/* When closing and no process is left: close the rest, then call back. */
void lambda__maybe_finish(lambda_rt_t *rt);

/* The log category of lf's lines ("Function.<name>"). */
void lambda__category(const lambda_fn_t *lf, char *out, size_t n);

/* The time of day in Unix milliseconds. */
uint64_t lambda__unix_ms(void);

/* ---- lambda_proc.c: bootstrap processes ---- */

/* Start a bootstrap process for lf (linked into lf->procs, STARTING).
 * NULL when it could not start (logged; lf->last_crash says why and the
 * start counts as a crash). */
lambda_proc_t *lambda__spawn(lambda_fn_t *lf);

/* Ask p to stop (SIGTERM to its process group); killed after
 * LAMBDA_STOP_GRACE_MS. */
void lambda__stop(lambda_proc_t *p);

/* Kill p's process group (SIGKILL), with the reason logged. */
void lambda__kill(lambda_proc_t *p, const char *reason);

/* ---- lambda_api.c ---- */

/* Set up p's Runtime API listener on 127.0.0.1 and an ephemeral port
 * (p->port). 0, or -1 with err set (then nothing is left open). */
int lambda__api_open(lambda_proc_t *p, char *err, size_t errlen);

/* Answer the `next` call req with call c (its event and headers). 0, or
 * -1 when the event cannot be built (req is left unanswered). */
int lambda__api_send(lambda_proc_t *p, http_request_t *req, lambda_call_t *c);

/* Answer req with a Lambda-style JSON error. */
void lambda__api_error(http_request_t *req, int status, const char *type, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Close p's listener; lambda__api_closed(p) runs once it is closed.
 * Parked requests must have been answered. */
void lambda__api_close(lambda_proc_t *p);

/* (lambda.c) p's listener has closed. */
void lambda__api_closed(lambda_proc_t *p);

#endif
