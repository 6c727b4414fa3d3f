/*
 * runtime.h -- executors: how a function's code is loaded and run.
 *
 * Each runtime is a static const runtime_t in its own file, listed once in
 * runtimes.c and chosen by FUNCTIONS_WORKER_RUNTIME. load() runs once per
 * function at start (and may refuse it with a message); invoke() runs one
 * invocation and calls done() when it has finished, possibly later from the
 * loop (workers) or before it returns (in-process code).
 */
#ifndef STRATUS_RUNTIME_H
#define STRATUS_RUNTIME_H

#include <stddef.h>
#include <jansson.h>
#include <uv.h>

#include "../core/app.h"
#include "../core/invocation.h"

#define RUNTIME_VERSION 1

typedef void (*invocation_done_fn)(invocation_t *inv, int ok, const char *reason, void *data);

typedef struct runtime {
    int version;          /* RUNTIME_VERSION */
    const char *name;     /* FUNCTIONS_WORKER_RUNTIME value */
    /* Prepare the runtime for app, before functions load. 0 or -1 with err
     * set. May be NULL. */
    int (*app_start)(app_t *app, uv_loop_t *loop, char *err, size_t errlen);
    /* Load (or build) one function. 0, or -1 with a message in err. */
    int (*load)(app_t *app, function_t *fn, char *err, size_t errlen);
    /* After every function loaded: start executing (e.g. the first worker).
     * 0 or -1 with err set. May be NULL. */
    int (*ready)(app_t *app, uv_loop_t *loop, char *err, size_t errlen);
    /* Why fn could not be loaded where it runs (a worker), or NULL. May be
     * NULL. Asked after ready(). */
    const char *(*load_error)(app_t *app, function_t *fn);
    /* Run an invocation; call done exactly once. */
    void (*invoke)(invocation_t *inv, invocation_done_fn done, void *data);
    /* The runtime's state for /admin/host/scale and /admin/host/status
     * (new references), or NULL. May be NULL. */
    json_t *(*scale_status)(app_t *app);
    json_t *(*health)(app_t *app);
    /* Release what load stored in fn->runtime_data. */
    void (*unload)(function_t *fn);
    /* Stop executing; cb(data) once everything is closed (may be at once).
     * May be NULL. */
    void (*app_stop)(app_t *app, void (*cb)(void *data), void *data);
    /* Free what app_start/ready made, after app_stop's callback. */
    void (*app_free)(app_t *app);
    /* This version of the app is being replaced (a reload) or the host is
     * stopping: end the answers that would otherwise keep it open without
     * end (event streams), so that their clients reconnect to what serves
     * next. May be NULL. */
    void (*app_retire)(app_t *app);
} runtime_t;

extern const runtime_t runtime_native;          /* in-process */
extern const runtime_t runtime_native_isolated; /* in worker processes */
extern const runtime_t runtime_python;
extern const runtime_t runtime_node;
extern const runtime_t runtime_lambda;          /* Lambda custom runtimes (bootstrap) */
extern const runtime_t runtime_lambda_provided; /* the same, named "provided" */
extern const runtime_t runtime_custom;          /* custom handlers (custom.c) */

/* ---- the host stopping ---- */

/* The host calls runtime_set_host_stopping() when it starts to stop (a
 * signal). A runtime that runs the loop while a new version of the app
 * starts (a reload waiting for its first worker, handler or bootstrap)
 * stops waiting once runtime_host_stopping() is 1: the version is thrown
 * away, and the stop is not held up. */
void runtime_set_host_stopping(void);
int runtime_host_stopping(void);

/* ---- admission, shared by the executors that queue invocations ---- */

typedef struct runtime_load {
    int closing;                /* the app is stopping */
    const char *stopped_reason; /* the executor stopped for good (why), or NULL */
    size_t outstanding;         /* running + queued, for maxOutstandingRequests */
    size_t queued;              /* waiting in the queue this invocation would join */
    size_t queue_max;           /* that queue's limit */
} runtime_load_t;

/* 1 when inv may be queued; else inv is failed through done with 503
 * (stopping, stopped: the reason) or 429 (extensions.http.
 * maxOutstandingRequests, a full queue), with a reason saying which, and
 * 0 is returned. */
int runtime_admit(invocation_t *inv, invocation_done_fn done, void *data,
                  const runtime_load_t *load);

/* ---- child processes (child_env.c) ---- */

/* The environment of a process the host starts: the nset NAME=VALUE pairs
 * of set first, then the host's environment (which holds the app settings)
 * less the master key and the host's worker variables, less the names set
 * replaces, less every variable starting with one of hide (a
 * NULL-terminated list, or NULL). NULL when out of memory. Free it with
 * child_env_free(env, nset): the inherited entries are not copies. */
char **child_env_new(const char *const (*set)[2], size_t nset, const char *const *hide);
void child_env_free(char **env, size_t nset);

/* The host's own executable (`stratus worker`, `lambda-bootstrap` run it
 * again): its path into path (len: its size in, the length out), as
 * uv_exepath; the first call also opens the file, so that the host still
 * starts its helpers after the file on disk was replaced or removed (a new
 * build, an upgrade). 0 or a libuv error. */
int child_self_exe(char *path, size_t *len);

/* The file to execute for path: the host's own executable as opened by
 * child_self_exe() when path is its path, else path. */
const char *child_exec_file(const char *path);

/* Start file with args and env in cwd, in its own session and process
 * group, stdin closed, stdout and stderr into the initialised pipes out and
 * err (read them once it started). uv_spawn's result: 0 or a libuv error;
 * proc must be closed either way. */
int child_spawn(uv_loop_t *loop, uv_process_t *proc, const char *file, char **args, char **env,
                const char *cwd, uv_pipe_t *out, uv_pipe_t *err, uv_exit_cb exit_cb);

/* The common start of every process the host runs, in the launcher
 * (`stratus worker`, `stratus worker --handler`, `stratus lambda-bootstrap`)
 * before it runs the program, all of it kept across exec: die with the host
 * (its death signal), never gain privileges (unless privs is nonzero: a
 * custom handler keeps what its binary grants), and run as a batch task
 * (SCHED_BATCH: a worker woken by the host's frames does not preempt the
 * host's event loop on a CPU they share, so the frames that arrive while
 * the host is busy are handled together, at the price of a few
 * milliseconds of wait on a saturated CPU). host is the host's pid, or 0
 * for any parent but init. 0, or -1 when the host is already gone. */
int child_launch_prepare(long host, int privs);

/* ---- the process trees of the host's children (child_guard.c) ----
 * Each child leads a process group (and session) of its own, which holds
 * what it starts; a guardian process kills the groups alive when the host
 * dies, whatever the way. */

/* A child with process group pgid (its pid) has started: listed for the
 * guardian, which is started on loop the first time. */
void child_guard_add(uv_loop_t *loop, int pgid);

/* The leader of group pgid has exited: SIGKILL what is left of its group,
 * and take it off the list. */
void child_guard_end(int pgid);

/* At the host's end, once its children have stopped: close the pipe to
 * the guardian (which kills any group still listed, then exits). Run the
 * loop once after it, for the close callbacks. */
void child_guard_close(void);

/* `stratus worker --guard`: the guardian, reading "+PGID" and "-PGID" lines
 * on its standard input until end of file, then killing the groups listed. */
int child_guard_main(void);

/* ---- native code, shared by the in-process runtime and native workers ---- */

#define NATIVE_ABI_MISMATCH (-2)

/* Build fn's shared object from the .c files of its folder when one is
 * newer (or the object is missing). 1 when it built, 0 when nothing was
 * needed, -1 with err set (compiler output included). */
int native_build(function_t *fn, char *err, size_t errlen);

/* dlopen fn's shared object, check its ABI version and find its entry
 * point; stores the result in fn->runtime_data. 0, NATIVE_ABI_MISMATCH or
 * -1, with err set. */
int native_open(function_t *fn, char *err, size_t errlen);

/* Call the entry point on inv; returns the function's return value. */
int native_call(invocation_t *inv);

/* Write the public header into <app>/.stratus/include for builds. */
int native_app_start(app_t *app, uv_loop_t *loop, char *err, size_t errlen);

/* Write all n bytes to a blocking descriptor (worker side). 0 or -1. */
int worker__write_all(int fd, const char *p, size_t n);

/* Run as a pool's fork server on control socket ctl (forkserver.c).
 * Returns 0 only in a forked child, set up as a worker on fd 3. */
int forkserver_main(int ctl);

/* `stratus worker --handler PROGRAM ARGS...`: become the custom handler
 * PROGRAM (argv[0], an absolute path), set to die with the host. Returns
 * only when the exec fails (127, with the reason on stderr). */
int custom_exec(int argc, char **argv);

/* Release what native_open stored (the code stays mapped). */
void native_close(function_t *fn);

/* ---- interpreter runtimes (interp.c) ---- */

/* Write the worker shim for lang ("python", "node"), carried in the binary,
 * into <app>/.stratus/runtimes/<lang>/ (files that differ only) and put
 * that folder in dir. 0, or -1 with err set. */
int interp_extract(const app_t *app, const char *lang, char *dir, size_t dirlen, char *err,
                   size_t errlen);

/* The interpreter to run: the app setting (or environment variable)
 * `setting` when set, else dflt, looked up on PATH; its path goes to out.
 * 0, or -1 with err saying what was not found and how to name it. */
int interp_find(const app_t *app, const char *setting, const char *dflt, char *out,
                size_t outlen, char *err, size_t errlen);

/* What sets one interpreter runtime apart. The app settings it reads are
 * Azure's languageWorkers__<lang>__defaultExecutablePath (the interpreter)
 * and languageWorkers__<lang>__arguments (more interpreter arguments,
 * split at white space, e.g. `--inspect=9229`), each also spelt with
 * colons (languageWorkers:<lang>:arguments). */
typedef struct interp_spec {
    const char *lang;      /* "python", "node": the shim's folder, the settings' middle */
    const char *exe;       /* the default interpreter, looked up on PATH */
    const char *shim;      /* the shim's main file within its folder */
    const char *flag;      /* an interpreter argument always given first, or NULL */
    int limit_memory;      /* pool_spec_t.limit_memory */
    const char *cache_opt; /* a shim option given the path of a file the shim may
                            * keep a cache in (<app>/.stratus/runtimes/<lang>.cache),
                            * or NULL */
} interp_spec_t;

#define INTERP_MAX_ARGS 32

/* An interpreter runtime's state for the app it runs (one per host). */
typedef struct interp_state {
    char exe[4096];
    char shim[4200];
    char cache[4200];
    char args[4096];                      /* the user's arguments, split in place */
    char *argv[INTERP_MAX_ARGS + 6];      /* exe, flag, the user's, shim, cache option, NULL */
} interp_state_t;

/* app_start of an interpreter runtime: find the interpreter, read the
 * arguments setting, write the shim; then, for an app that declares its
 * functions in code, list them (interp_index). 0, or -1 with err set. */
int interp_start(app_t *app, const interp_spec_t *spec, interp_state_t *st, char *err,
                 size_t errlen);

/* Worker indexing (interp_index.c): for an app whose functions are
 * declared in code (app->index_lang is spec's language), run the shim of
 * interp_start with --index and add the functions it lists
 * (app_add_indexed). 0, or -1 with err set when no list came (the
 * interpreter failed, timed out, or wrote none); problems of the app's
 * code are recorded as the app's errors. */
int interp_index(app_t *app, const interp_spec_t *spec, const interp_state_t *st, char *err,
                 size_t errlen);

/* ready of an interpreter runtime: start the app's pool of workers running
 * the command interp_start built. */
int interp_ready(app_t *app, uv_loop_t *loop, const interp_spec_t *spec, interp_state_t *st,
                 char *err, size_t errlen);

/* load of an interpreter runtime: nothing, as the worker loads the code
 * and reports what failed in LOADED. */
int interp_load(app_t *app, function_t *fn, char *err, size_t errlen);

/* The runtime for an app: FUNCTIONS_WORKER_RUNTIME (unset = native), and
 * for native, stratus.native.inProcess. NULL when unknown. */
const runtime_t *runtime_for_app(const app_t *app);

/* The names of the runtimes this host has, ", "-separated, into out. */
void runtime_names(char *out, size_t outlen);

#endif
