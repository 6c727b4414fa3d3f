/*
 * lambda_proc.c -- bootstrap processes of the Lambda runtime (see
 * lambda_priv.h): their environment, starting them through the launcher
 * (`stratus lambda-bootstrap`, which makes them die with the host and then
 * executes the bootstrap), their output as log lines, stopping, killing,
 * their exit and the release of their handles.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../cli/cli.h"
#include "../telemetry/log.h"
#include "../util/lines.h"
#include "../util/id.h"
#include "lambda_priv.h"

#define READ_CHUNK (64 * 1024)

/* ---- the launcher (a sub-command of the stratus binary) ---- */

int cmd_lambda_bootstrap(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: stratus lambda-bootstrap <bootstrap> <host pid>  (started by "
                        "the host for the Lambda runtime)\n");
        return 2;
    }
    /* Die with the host, which started us: the death signal outlives the
     * exec below. The host may already be gone by now. */
    if (child_launch_prepare(atol(argv[2]), 0) != 0)
        return 1;
    char *args[] = {argv[1], NULL};
    execv(argv[1], args);
    fprintf(stderr, "stratus: cannot run the Lambda bootstrap '%s': %s%s\n", argv[1],
            strerror(errno),
            errno == ENOEXEC ? " (a script needs a #! line, e.g. #!/bin/sh)" : "");
    return 127;
}

/* ---- environment ---- */

/* Inherited variables a bootstrap never sees (besides the host's own and
 * the ones build_env sets). */
static const char *const lambda_hidden[] = {"AWS_EXECUTION_ENV=", NULL};

/* LD_LIBRARY_PATH as Lambda sets it: the runtime's and the function's
 * folders and their lib/ (where a bootstrap ships the shared libraries it
 * links to), then whatever the host had. An app setting replaces it, as in
 * Lambda. malloc'd, or NULL when out of memory. */
static char *library_path(const lambda_fn_t *lf, const char *runtime_dir)
{
    const app_t *app = lf->rt->app;
    for (size_t i = 0; i < app->nsettings; i++)
        if (strcmp(app->settings[i].name, "LD_LIBRARY_PATH") == 0)
            return strdup(app->settings[i].value);
    const char *inherited = getenv("LD_LIBRARY_PATH");
    int has = inherited && *inherited;
    size_t n = 2 * strlen(runtime_dir) + 2 * strlen(lf->task_root) + 16 +
               (has ? strlen(inherited) + 1 : 0);
    char *v = malloc(n);
    if (v)
        snprintf(v, n, "%s:%s/lib:%s:%s/lib%s%s", runtime_dir, runtime_dir, lf->task_root,
                 lf->task_root, has ? ":" : "", has ? inherited : "");
    return v;
}

/* The host's environment (the app's settings are in it) without its
 * secrets, plus the Lambda variables of p (replacing inherited ones).
 * child_env_free(env, *added) releases it. NULL when out of memory. */
static char **build_env(lambda_proc_t *p, size_t *added)
{
    lambda_fn_t *lf = p->lf;
    lambda_rt_t *rt = lf->rt;
    app_t *app = rt->app;
    char api[64], memory[32], group[300], dir[4200];
    snprintf(api, sizeof api, "127.0.0.1:%d", p->port);
    snprintf(memory, sizeof memory, "%lld",
             (long long)(app->worker_memory_mb > 0 ? app->worker_memory_mb : 10240));
    snprintf(group, sizeof group, "/aws/lambda/%s", lf->name);
    snprintf(dir, sizeof dir, "%s", lf->bootstrap);
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = '\0';
    char *libs = library_path(lf, dir);
    if (!libs)
        return NULL;
    const char *pairs[][2] = {
        {"AWS_LAMBDA_RUNTIME_API", api},
        {"_HANDLER", lf->handler},
        {"LAMBDA_TASK_ROOT", lf->task_root},
        {"LAMBDA_RUNTIME_DIR", dir},
        {"AWS_LAMBDA_FUNCTION_NAME", lf->name},
        {"AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"},
        {"AWS_LAMBDA_FUNCTION_MEMORY_SIZE", memory},
        {"AWS_LAMBDA_LOG_GROUP_NAME", group},
        {"AWS_LAMBDA_LOG_STREAM_NAME", p->log_stream},
        {"AWS_REGION", rt->region},
        {"AWS_DEFAULT_REGION", rt->region},
        {"TZ", rt->tz},
        {"AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand"},
        {"LD_LIBRARY_PATH", libs},
        /* Lambda's locale is UTF-8; a host started without one (a
         * service manager) would leave runtimes such as Ruby's in ASCII. */
        {"LANG", getenv("LANG") && *getenv("LANG") ? getenv("LANG") : "C.UTF-8"},
    };
    *added = sizeof pairs / sizeof pairs[0];
    char **env = child_env_new((const char *const (*)[2])pairs, *added, lambda_hidden);
    free(libs);
    return env;
}

/* ---- output ---- */

/* One line of the process's output as a log line of its function, with
 * the invocation id when exactly one invocation is in flight. */
static void out_line(lambda_out_t *o, const char *s, size_t n)
{
    lambda_proc_t *p = o->proc;
    while (n && s[n - 1] == '\r')
        n--;
    lambda_call_t *c = p->inflight.n == 1 ? p->inflight.head : NULL;
    char cat[200];
    lambda__category(p->lf, cat, sizeof cat);
    log_write(o->is_err ? LOG_ERROR : LOG_INFO, cat, c ? c->inv->id : NULL, "%.*s", (int)n, s);
}

static void out_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
    (void)h;
    (void)suggested;
    char *m = malloc(READ_CHUNK);
    *b = uv_buf_init(m, m ? READ_CHUNK : 0);
}

static void out_emit(void *ctx, const char *s, size_t n) { out_line(ctx, s, n); }

static void out_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    lambda_proc_t *p = s->data;
    lambda_out_t *o = s == (uv_stream_t *)&p->out.pipe ? &p->out : &p->err;
    if (n > 0)
        lines_feed(&o->line, LAMBDA_LINE_MAX, b->base, (size_t)n, out_emit, o);
    else if (n < 0) {
        lines_end(&o->line, out_emit, o);
        uv_read_stop(s);
    }
    free(b->base);
}

/* ---- lifecycle ---- */

static void proc_free(lambda_proc_t *p)
{
    lambda_fn_t *lf = p->lf;
    if (p->prev)
        p->prev->next = p->next;
    else
        lf->procs = p->next;
    if (p->next)
        p->next->prev = p->prev;
    buf_free(&p->out.line);
    buf_free(&p->err.line);
    free(p->parked);
    free(p);
    lambda__maybe_finish(lf->rt);
}

static void handle_closed(uv_handle_t *h)
{
    lambda_proc_t *p = h->data;
    if (--p->open_handles == 0)
        proc_free(p);
}

void lambda__api_closed(lambda_proc_t *p)
{
    if (--p->open_handles == 0)
        proc_free(p);
}

static void close_if_open(uv_handle_t *h)
{
    if (!uv_is_closing(h))
        uv_close(h, handle_closed);
}

/* Close whatever p has open; it is freed when the last has closed. */
static void proc_close(lambda_proc_t *p)
{
    /* `next` calls still waiting hold their connections: release them. */
    for (size_t i = 0; i < p->nparked; i++)
        http_respond(p->parked[i], 503, NULL, 0, NULL, 0);
    p->nparked = 0;
    if (p->has_proc)
        close_if_open((uv_handle_t *)&p->proc);
    close_if_open((uv_handle_t *)&p->out.pipe);
    close_if_open((uv_handle_t *)&p->err.pipe);
    lambda__api_close(p);
}

static void on_exit_cb(uv_process_t *h, int64_t status, int sig)
{
    lambda_proc_t *p = h->data;
    lambda_fn_t *lf = p->lf;
    lambda_rt_t *rt = lf->rt;
    if (p->exited)
        return;
    child_guard_end(p->pid); /* what the bootstrap started goes with it */
    char how[120], why[600];
    if (sig)
        snprintf(how, sizeof how, "was killed by signal %d (%s)", sig, strsignal(sig));
    else
        snprintf(how, sizeof how, "exited with status %lld", (long long)status);
    int unexpected = !p->stop_requested;
    if (p->reason[0])
        snprintf(why, sizeof why, "bootstrap %d (pid %d) of function '%s' was stopped: %s (it %s)",
                 p->seq, p->pid, lf->name, p->reason, how);
    else
        snprintf(why, sizeof why, "bootstrap %d (pid %d) of function '%s' %s", p->seq, p->pid,
                 lf->name, how);
    if (unexpected || p->inflight.n)
        log_write(LOG_ERROR, "Host.Scale", NULL, "%s with %zu invocation(s) in flight", why,
                  p->inflight.n);
    else
        log_write(LOG_DEBUG, "Host.Scale", NULL, "%s", why);
    p->exited = 1;
    p->state = LP_STOPPING;
    lf->nprocs--;
    lambda__proc_exited(p, unexpected, why);
    proc_close(p);
    if (!rt->closing)
        lambda__dispatch(lf); /* starts a replacement when one is needed */
}

/* "2024/05/01/[$LATEST]" and 32 hex digits, as Lambda names streams. */
static void log_stream_name(char *out, size_t n)
{
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    char day[16];
    strftime(day, sizeof day, "%Y/%m/%d", &tm);
    snprintf(out, n, "%s/[$LATEST]%016llx%016llx", day, (unsigned long long)id_random64(),
             (unsigned long long)id_random64());
}

lambda_proc_t *lambda__spawn(lambda_fn_t *lf)
{
    lambda_rt_t *rt = lf->rt;
    char err[300];
    lambda_proc_t *p = calloc(1, sizeof *p);
    http_request_t **parked = calloc((size_t)rt->concurrency, sizeof *parked);
    if (!p || !parked) {
        free(p);
        free(parked);
        lambda__crashed(lf, "out of memory");
        return NULL;
    }
    p->lf = lf;
    p->parked = parked;
    p->seq = ++rt->next_seq;
    p->state = LP_STARTING;
    buf_init(&p->out.line, LAMBDA_LINE_MAX);
    buf_init(&p->err.line, LAMBDA_LINE_MAX);
    p->out.proc = p->err.proc = p;
    p->err.is_err = 1;
    log_stream_name(p->log_stream, sizeof p->log_stream);
    int rc = lambda__api_open(p, err, sizeof err);
    if (rc == -1) {
        buf_free(&p->out.line);
        buf_free(&p->err.line);
        free(p->parked);
        free(p);
        log_write(LOG_ERROR, "Host.Scale", NULL, "Function '%s': %s", lf->name, err);
        lambda__crashed(lf, err);
        return NULL;
    }
    /* Linked from here on: closing it goes through proc_free. */
    p->next = lf->procs;
    if (lf->procs)
        lf->procs->prev = p;
    lf->procs = p;
    uv_pipe_init(rt->loop, &p->out.pipe, 0);
    uv_pipe_init(rt->loop, &p->err.pipe, 0);
    p->out.pipe.data = p;
    p->err.pipe.data = p;
    p->proc.data = p;
    p->open_handles = 3; /* the pipes and the listener; 4 once spawned */
    p->spawn_ns = uv_hrtime();
    if (rc != 0) {
        log_write(LOG_ERROR, "Host.Scale", NULL, "Function '%s': %s", lf->name, err);
        lambda__crashed(lf, err);
        p->exited = 1;
        proc_close(p);
        return NULL;
    }

    char host_pid[32];
    snprintf(host_pid, sizeof host_pid, "%ld", (long)getpid());
    char *args[] = {rt->exe, "lambda-bootstrap", lf->bootstrap, host_pid, NULL};
    size_t added = 0;
    char **env = build_env(p, &added);
    rc = UV_ENOMEM;
    if (env) {
        /* The handle needs closing even when the start fails. */
        rc = child_spawn(rt->loop, &p->proc, rt->exe, args, env, lf->task_root, &p->out.pipe,
                         &p->err.pipe, on_exit_cb);
        p->has_proc = 1;
        p->open_handles = 4;
    }
    child_env_free(env, added);
    if (rc != 0) {
        snprintf(err, sizeof err, "cannot start the bootstrap %s: %s", lf->bootstrap,
                 uv_strerror(rc));
        log_write(LOG_ERROR, "Host.Scale", NULL, "Function '%s': %s", lf->name, err);
        lambda__crashed(lf, err);
        p->exited = 1;
        proc_close(p);
        return NULL;
    }
    p->pid = p->proc.pid;
    child_guard_add(rt->loop, p->pid);
    p->last_active = uv_now(rt->loop);
    lf->nprocs++;
    uv_read_start((uv_stream_t *)&p->out.pipe, out_alloc, out_read);
    uv_read_start((uv_stream_t *)&p->err.pipe, out_alloc, out_read);
    log_write(LOG_DEBUG, "Host.Scale", NULL, "Function '%s': started bootstrap %d (pid %d), "
              "Runtime API on 127.0.0.1:%d", lf->name, p->seq, p->pid, p->port);
    return p;
}

void lambda__stop(lambda_proc_t *p)
{
    if (p->exited || p->stop_requested || p->pid <= 0)
        return;
    p->stop_requested = 1;
    p->state = LP_STOPPING;
    p->stop_deadline = uv_now(p->lf->rt->loop) + LAMBDA_STOP_GRACE_MS;
    if (kill(-p->pid, SIGTERM) != 0)
        kill(p->pid, SIGTERM);
}

void lambda__kill(lambda_proc_t *p, const char *reason)
{
    if (p->exited || p->stop_requested == 2 || p->pid <= 0)
        return;
    if (!p->reason[0])
        snprintf(p->reason, sizeof p->reason, "%s", reason);
    p->stop_requested = 2;
    p->state = LP_STOPPING;
    log_write(LOG_WARN, "Host.Scale", NULL, "Killing bootstrap %d (pid %d) of function '%s': %s",
              p->seq, p->pid, p->lf->name, reason);
    /* The bootstrap leads its own process group: take its children too. */
    if (kill(-p->pid, SIGKILL) != 0)
        kill(p->pid, SIGKILL);
}
