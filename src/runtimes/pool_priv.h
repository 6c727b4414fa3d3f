/*
 * pool_priv.h -- what the two halves of the worker pool share: pool.c
 * (invocations, scheduling, timers, status) and pool_worker.c (worker
 * processes: starting them directly or through the fork server, their
 * channels, frames, output and exits). Not for use outside those files.
 */
#ifndef STRATUS_POOL_PRIV_H
#define STRATUS_POOL_PRIV_H

#include <jansson.h>
#include <uv.h>

#include "../util/dlist.h"
#include "../util/buf.h"
#include "frame.h"
#include "pool.h"

#define POOL_QUEUE_MAX 10000
#define SWEEP_MS 50
#define HOUSEKEEPING_MS 500
#define STOP_GRACE_MS 3000
/* How long the fork server may take to answer (pool__fs_check). */
#define FS_ANSWER_MS 3000
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 30000
#define READ_SIZE (256 * 1024)
#define LINE_MAX_BYTES (16 * 1024)
#define WBUF_MAX ((size_t)1 << 34)
#define RESULT_MAX_TOKENS 512
/* How long a worker that runs invocations concurrently has to end one
 * that was cancelled (functionTimeout) before it is killed with all the
 * others it runs. */
#define CANCEL_GRACE_MS 2000

/* A placeholder is a started worker that has not loaded the app yet: the
 * next scale-up specialises it (sends the load) instead of starting a
 * process, which removes process start-up from cold starts. */
typedef enum { W_PLACEHOLDER, W_STARTING, W_READY, W_STOPPING } worker_state_t;

typedef struct worker worker_t;

/* The metadata of a worker's last plain result (ok, a status, a few
 * headers and nothing else) and what it decoded to. A worker mostly answers
 * the same function the same way, so a RESULT whose metadata is byte for
 * byte the same is taken from here instead of being parsed again. */
#define RESULT_MEMO_TEXT 256
#define RESULT_MEMO_HEADERS 4
typedef struct result_memo {
    size_t n;                 /* bytes of text; 0 = empty */
    int status;
    int nheaders;
    struct {
        uint16_t name, name_len, value, value_len; /* offsets into strs */
    } h[RESULT_MEMO_HEADERS];
    char text[RESULT_MEMO_TEXT];
    char strs[RESULT_MEMO_TEXT]; /* the headers' unescaped names and values */
} result_memo_t;

/* An invocation cancelled on a concurrent worker, whose RESULT is awaited
 * until `until` (the caller has had its 504 already). */
typedef struct cancelled {
    uint64_t id;
    uint64_t until;     /* uv_now() ms */
    char what[200];     /* "invocation <id> of '<function>'", for the kill reason */
} cancelled_t;


typedef struct pool_call {
    struct pool_call *prev, *next;
    invocation_t *inv;
    invocation_done_fn done;
    void *data;
    uint64_t id;
    uint64_t deadline; /* uv_now() ms; 0 = none */
    worker_t *worker;
} pool_call_t;

typedef struct call_list {
    pool_call_t *head, *tail;
    size_t n;
} call_list_t;

DLIST_FUNCS(static inline, pool__list, call_list_t, pool_call_t)

typedef struct out_pipe {
    uv_pipe_t pipe;
    worker_t *w;
    int is_err;
    buf_t line;
} out_pipe_t;

struct worker {
    pool_t *pool;
    worker_t *prev, *next;
    uv_process_t proc;
    uv_pipe_t chan;
    out_pipe_t out, err;
    int open_handles;
    int pid;
    int seq;
    worker_state_t state;
    int exited;
    int stop_requested; /* shut down or killed on purpose */
    int failed;         /* killed for failing (bad hello, broken channel): a crash */
    int via_fs;         /* forked by the fork server (no process handle here) */
    int kill_pending;   /* killed before the fork server told us its pid */
    char reason[512];   /* why it was killed */
    char loading[128];  /* the function it said it was loading (LOG Worker.Loading) */
    frame_decoder_t dec;
    buf_t wbuf;
    char *wbase;
    uv_write_t wreq;
    int writing;
    int dirty;
    call_list_t inflight;
    /* A sequential worker (hello concurrency 1, as native workers are) runs
     * one invocation at a time, so new invokes wait here until it has
     * answered those it has: it then gets them as one batch, with one
     * wake-up, instead of one wake-up per host loop turn. */
    int sequential;
    size_t concurrency;    /* the hello's concurrency (0 until it came) */
    size_t queued_invokes; /* in wbuf, not yet written */
    size_t outstanding;    /* written, not yet answered */
    int urgent;            /* a control frame (cancel) is queued: never held */
    cancelled_t *cancelled; /* awaiting their RESULT after a cancel */
    size_t ncancelled;
    uint64_t invocations;
    result_memo_t memo;
    uint64_t rss_bytes;    /* resident memory, sampled at ready and every HOUSEKEEPING_MS */
    uint64_t spawn_ns;
    uint64_t last_active;  /* uv_now() ms */
    uint64_t stop_deadline;
    uint64_t killed_at;    /* uv_now() ms when SIGKILL was sent; 0 = not yet */
};

typedef struct load_error {
    char *function;
    char *message;
} load_error_t;

struct pool {
    uv_loop_t *loop;
    app_t *app;
    char exe[4096];
    char runtime[32];  /* pool_spec_t.runtime */
    char **argv;       /* pool_spec_t.argv (owned copy; empty for native) */
    size_t argc;
    int limit_memory;
    char cache_file[4200]; /* pool_spec_t.cache_file, "" for none */
    worker_t *workers;
    size_t nworkers;   /* alive (not yet exited), placeholders included */
    size_t nplaceholders; /* pre-started generic workers (W_PLACEHOLDER) */
    uv_timer_t prewarm;
    /* the fork server (forkserver.c): forks workers without an exec */
    uv_process_t fs_proc;
    uv_pipe_t fs_ctl;
    int fs_up, fs_started, fs_exited, fs_closing;
    int fs_suspect;    /* pool__fs_check found it late on its last check */
    buf_t fs_line;
    int next_seq;
    call_list_t queue;
    size_t running;    /* calls in flight on workers */
    size_t cancelled;  /* cancelled calls still running on workers */
    uint64_t next_id;
    uv_check_t flush;
    uv_idle_t wake;          /* active while a worker is dirty: the loop's next wait does
                                not sleep, so work queued from a timer or a callback
                                outside I/O is flushed at once */
    uv_timer_t sweep;
    uv_timer_t housekeeping;
    uv_timer_t backoff;
    int sweeping;
    int closing;
    int handles_closing;
    int handles_open;
    void (*close_cb)(void *);
    void *close_data;
    char *rbuf;
    int rbuf_busy;
    /* figures */
    uint64_t cold_starts;
    double last_cold_start_ms;
    double total_cold_start_ms;
    uint64_t crashes;
    unsigned consecutive_crashes;
    uint64_t backoff_until;
    char last_crash[400];
    uint64_t last_crash_ms;
    uint64_t rejected;
    uint64_t timeouts;
    /* first load */
    int loaded;
    char start_error[256];
    load_error_t *load_errors;
    size_t nload_errors;
};


/* ---- pool.c ---- */
/* Fail a call with an HTTP status (500, 503, 504) and a reason. */
void pool__call_fail(pool_call_t *c, int status, const char *reason);
/* Await the RESULT of call id, cancelled on w (what names it for the kill
 * reason), for CANCEL_GRACE_MS. 0, or -1 when out of memory. */
int pool__await_cancelled(worker_t *w, uint64_t id, const char *what);
/* Drop entry i of w's cancelled calls (its RESULT came). */
void pool__forget_cancelled(worker_t *w, size_t i);
/* Give queued calls to workers with room, starting workers as allowed. */
void pool__dispatch(pool_t *p);
/* Alive workers that are instances of the app (placeholders excluded). */
size_t pool__instances(const pool_t *p);
/* After a worker exit: start what the pool needs, with crash backoff. */
void pool__schedule_respawn(pool_t *p);
/* When closing and no worker is left: close the rest, then call back. */
void pool__maybe_finish(pool_t *p);
void pool__handle_closed(uv_handle_t *h);

/* ---- pool_worker.c ---- */
/* A new worker (a placeholder when placeholder is 1), forked by the fork
 * server when it runs, else started as a process; NULL on failure. */
worker_t *pool__worker_spawn(pool_t *p, int placeholder);
void pool__worker_kill(worker_t *w, const char *reason);
/* Kill a worker that failed: its end counts as a crash (backoff, lastCrash). */
void pool__worker_fail(worker_t *w, const char *reason);
void pool__worker_stop(worker_t *w);
void pool__worker_flush(worker_t *w);
void pool__send_invoke(worker_t *w, pool_call_t *c);
/* Append the binding members of an INVOKE's metadata (triggerMetadata,
 * inputs, retryContext; each only when set), each with a leading comma. */
void pool__put_bindings(buf_t *out, const invocation_t *inv);
void pool__send_load(worker_t *w);
void pool__mark_dirty(worker_t *w);
void pool__flush_cb(uv_check_t *h);
/* Start the fork server (best effort). */
void pool__fs_start(pool_t *p);
void pool__fs_check(pool_t *p);

#endif
