/*
 * custom_proc.c -- the processes of the custom handler runtime (see
 * custom.h): a free port, the process (started through `stratus worker
 * --handler`, which makes it die with the host, in a process group of its
 * own that goes with it: child_guard.c), its environment (the app settings
 * and the port, never the host's master key), readiness (GET / every
 * CH_PROBE_MS until any HTTP answer), stdout and stderr as log lines, and
 * its exit.
 */
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../telemetry/log.h"
#include "../util/lines.h"
#include "custom.h"

extern char **environ;

/* ---- a free port ---- */

/* A port on 127.0.0.1 that nothing listens on now (the kernel's choice). */
static int free_port(char *err, size_t errlen)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        return -1;
    }
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) != 0) {
        snprintf(err, errlen, "cannot find a free port: %s", strerror(errno));
        close(fd);
        return -1;
    }
    close(fd);
    return ntohs(a.sin_port);
}

/* ---- environment ---- */

/* The host's environment (which holds the app settings: the host exported
 * local.settings.json Values at start) less its own secrets, plus the
 * handler's port and id under their current and legacy names and the app's
 * folder in AzureWebJobsScriptRoot, as Azure's hosts give it.
 * child_env_free(env, *added) releases it. */
static char **proc_env(ch_proc_t *p, size_t *added)
{
    static const char *const hide[] = {"FUNCTIONS_CUSTOMHANDLER_", "FUNCTIONS_HTTPWORKER_",
                                       NULL};
    char port[16], seq[16];
    snprintf(port, sizeof port, "%d", p->port);
    snprintf(seq, sizeof seq, "%d", p->seq);
    const char *set[][2] = {
        {app_custom_handler_vars[0], port},
        {app_custom_handler_vars[1], port},
        {app_custom_handler_vars[2], seq},
        {app_custom_handler_vars[3], seq},
        {"AzureWebJobsScriptRoot", p->ca->app->root},
    };
    *added = sizeof set / sizeof set[0];
    return child_env_new((const char *const (*)[2])set, *added, hide);
}

/* ---- output lines ---- */

/* 1 when the n bytes at s hold "warn" in any case. */
static int says_warn(const char *s, size_t n)
{
    for (size_t i = 0; i + 4 <= n; i++)
        if (!strncasecmp(s + i, "warn", 4))
            return 1;
    return 0;
}

/* One line of the handler's stdout (info) or stderr (error; warning when
 * it says "warn", as Azure's host reads a custom handler's stderr),
 * attributed to the invocation when exactly one is in flight on this
 * process. */
static void out_line(ch_out_t *o, const char *s, size_t n)
{
    ch_proc_t *p = o->proc;
    while (n && s[n - 1] == '\r')
        n--;
    ch_call_t *c = p->inflight.n == 1 ? p->inflight.head : NULL;
    char cat[200];
    if (c)
        snprintf(cat, sizeof cat, "Function.%s", c->inv->fn->name);
    else
        snprintf(cat, sizeof cat, "CustomHandler.%d", p->seq);
    int level = !o->is_err ? LOG_INFO : says_warn(s, n) ? LOG_WARN : LOG_ERROR;
    log_write(level, cat, c ? c->inv->id : NULL, "%.*s", (int)n, s);
}

static void out_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
    (void)h;
    (void)suggested;
    static char chunk[64 * 1024]; /* the loop is single-threaded; read_cb is done with it */
    *b = uv_buf_init(chunk, sizeof chunk);
}

static void out_emit(void *ctx, const char *s, size_t n) { out_line(ctx, s, n); }

static void out_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    ch_out_t *o = s->data;
    if (n > 0)
        lines_feed(&o->line, CH_LINE_MAX, b->base, (size_t)n, out_emit, o);
    else if (n < 0) {
        lines_end(&o->line, out_emit, o);
        uv_read_stop(s);
    }
}

/* ---- lifecycle ---- */

static void proc_release(ch_proc_t *p)
{
    ch_app_t *ca = p->ca;
    if (p->prev)
        p->prev->next = p->next;
    else
        ca->procs = p->next;
    if (p->next)
        p->next->prev = p->prev;
    buf_free(&p->out.line);
    buf_free(&p->err.line);
    free(p);
    ch__maybe_finish(ca);
}

static void proc_unref(ch_proc_t *p)
{
    if (--p->open_handles == 0)
        proc_release(p);
}

/* The process handle and the probe timer carry p; the pipes their ch_out_t. */
static void handle_closed(uv_handle_t *h) { proc_unref(h->data); }
static void pipe_closed(uv_handle_t *h) { proc_unref(((ch_out_t *)h->data)->proc); }
static void upstream_closed(void *data) { proc_unref(data); }

static void close_if_open(uv_handle_t *h, uv_close_cb cb)
{
    if (!uv_is_closing(h))
        uv_close(h, cb);
}

/* Close every handle of p (it is gone, or never started). */
static void proc_close_handles(ch_proc_t *p)
{
    close_if_open((uv_handle_t *)&p->process, handle_closed);
    close_if_open((uv_handle_t *)&p->out.pipe, pipe_closed);
    close_if_open((uv_handle_t *)&p->err.pipe, pipe_closed);
    close_if_open((uv_handle_t *)&p->probe_timer, handle_closed);
    close_if_open((uv_handle_t *)&p->pipe_timer, handle_closed);
    if (p->up) {
        upstream_t *up = p->up;
        p->up = NULL;
        p->probing = 0;
        upstream_close(up, upstream_closed, p);
    }
}

static void on_exit_cb(uv_process_t *proc, int64_t status, int sig)
{
    ch_proc_t *p = proc->data;
    p->exited = 1;
    /* Before anything learns of the exit: its children (a shell script's
     * server, say) go with it, and with them the port, which a fixed one
     * hands to the next handler. */
    child_guard_end(p->pid);
    uv_timer_stop(&p->probe_timer);
    ch__proc_exited(p, status, sig); /* fails its calls, detaching them */
    proc_close_handles(p);
}

void ch__proc_kill(ch_proc_t *p, const char *reason)
{
    if (p->exited || p->stop_requested == 2)
        return;
    if (!p->reason[0])
        snprintf(p->reason, sizeof p->reason, "%s", reason);
    p->stop_requested = 2;
    p->state = CH_STOPPING;
    log_write(LOG_WARN, "Host.CustomHandler", NULL, "Killing custom handler %d (pid %d): %s",
              p->seq, p->pid, reason);
    /* It leads its own process group: its children go too. */
    if (kill(-p->pid, SIGKILL) != 0)
        kill(p->pid, SIGKILL);
}

void ch__proc_stop(ch_proc_t *p, const char *reason)
{
    if (p->exited || p->stop_requested)
        return;
    if (!p->reason[0])
        snprintf(p->reason, sizeof p->reason, "%s", reason);
    p->stop_requested = 1;
    p->state = CH_STOPPING;
    p->stop_deadline = uv_now(p->ca->loop) + CH_STOP_GRACE_MS;
    if (kill(-p->pid, SIGTERM) != 0)
        kill(p->pid, SIGTERM);
}

/* ---- readiness ---- */

static void probe_start(uv_timer_t *t);

/* ---- the pipelining check ----
 *
 * Once a process answers GET /, and before it is ready, two GET / go in one
 * write on its readiness connection (the one a single-threaded server is
 * serving): both answered on that connection kept open, and it gets
 * pipelined requests; otherwise one request at a time on a connection, as
 * Azure sends them. */

static void pipe_done(ch_proc_t *p)
{
    if (p->exited || p->state != CH_STARTING || !p->up)
        return;
    if (p->pipe_answers == 2) {
        upstream_set_max_pipeline(p->up, p->pipeline_depth);
        log_write(LOG_DEBUG, "Host.CustomHandler", NULL, "Custom handler %d (pid %d) answers "
                  "pipelined requests: up to %zu at a time on a connection", p->seq, p->pid,
                  p->pipeline_depth);
    } else if (p->pipe_closes) {
        upstream_set_max_pipeline(p->up, 1);
        log_write(LOG_INFO, "Host.CustomHandler", NULL, "Custom handler %d (pid %d) ends the "
                  "connection after each answer (HTTP/1.0 or Connection: close): it gets one "
                  "request per connection", p->seq, p->pid);
    } else {
        upstream_set_max_pipeline(p->up, 1);
        log_write(LOG_INFO, "Host.CustomHandler", NULL, "Custom handler %d (pid %d) did not "
                  "answer two pipelined requests (GET / twice in one write) within %d ms: it "
                  "gets one request at a time on each connection, as Azure sends them",
                  p->seq, p->pid, CH_PIPE_CHECK_MS);
    }
    ch__proc_ready(p);
}

static void pipe_cb(upstream_call_t *call, int status, respparser_t *resp)
{
    ch_proc_t *p = call->data;
    /* The first kept its connection open (a handler that closes after each
     * answer gets the second again on a new one). */
    if (status == UPSTREAM_OK && (call != &p->pipe_calls[0] || respparser_keep_alive(resp)))
        p->pipe_answers++;
    else if (status == UPSTREAM_OK)
        p->pipe_closes = 1;
    if (--p->pipe_pending == 0)
        pipe_done(p);
}

/* From a timer: by then the readiness connection is idle again. */
static void pipe_check_cb(uv_timer_t *t)
{
    ch_proc_t *p = t->data;
    if (p->exited || p->state != CH_STARTING || !p->up)
        return;
    upstream_set_max_pipeline(p->up, 2);
    p->pipe_pending = 2;
    p->pipe_answers = 0;
    p->pipe_closes = 0;
    for (int k = 0; k < 2; k++) {
        upstream_call_t *c = &p->pipe_calls[k];
        memset(c, 0, sizeof *c);
        c->head = p->probe_head;
        c->head_len = strlen(p->probe_head);
        c->timeout_ms = CH_PIPE_CHECK_MS;
        c->replayable = 1;
        c->cb = pipe_cb;
        c->data = p;
    }
    upstream_send(p->up, &p->pipe_calls[0]);
    upstream_send(p->up, &p->pipe_calls[1]);
}

static void probe_cb(upstream_call_t *call, int status, respparser_t *resp)
{
    ch_proc_t *p = call->data;
    (void)resp;
    p->probing = 0;
    if (p->exited || p->state != CH_STARTING)
        return;
    if (status == UPSTREAM_OK) {
        if (p->pipeline_depth > 1 && !p->pipe_checked) {
            p->pipe_checked = 1;
            uv_timer_start(&p->pipe_timer, pipe_check_cb, 0, 0);
        } else {
            ch__proc_ready(p);
        }
        return;
    }
    if (uv_now(p->ca->loop) >= p->ready_deadline) {
        char reason[240];
        if (p->was_ready)
            snprintf(reason, sizeof reason, "it stopped answering: no answer to GET / on "
                     "127.0.0.1:%d within %lld ms (stratus.customHandler.startupTimeout)",
                     p->port, (long long)p->ca->app->custom_handler.startup_timeout_ms);
        else
            snprintf(reason, sizeof reason, "it did not answer GET / on 127.0.0.1:%d within "
                     "%lld ms (stratus.customHandler.startupTimeout); it must listen on "
                     "127.0.0.1 at the port in FUNCTIONS_CUSTOMHANDLER_PORT", p->port,
                     (long long)p->ca->app->custom_handler.startup_timeout_ms);
        p->failed_start = 1;
        ch__proc_kill(p, reason);
        return;
    }
    uv_timer_start(&p->probe_timer, probe_start, CH_PROBE_MS, 0);
}

static void probe_start(uv_timer_t *t)
{
    ch_proc_t *p = t->data;
    if (p->exited || p->state != CH_STARTING || p->probing || !p->up)
        return;
    uint64_t now = uv_now(p->ca->loop);
    memset(&p->probe, 0, sizeof p->probe);
    int n = snprintf(p->probe_head, sizeof p->probe_head,
                     "GET / HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n", p->port);
    p->probe.head = p->probe_head;
    p->probe.head_len = (size_t)n;
    p->probe.timeout_ms = p->ready_deadline > now ? p->ready_deadline - now : 1;
    p->probe.replayable = 1;
    p->probe.cb = probe_cb;
    p->probe.data = p;
    p->probing = 1;
    upstream_send(p->up, &p->probe);
}

void ch__proc_check(ch_proc_t *p, const char *why)
{
    if (p->exited || p->state != CH_READY)
        return;
    p->state = CH_STARTING;
    int64_t limit = p->ca->app->custom_handler.startup_timeout_ms;
    p->ready_deadline = uv_now(p->ca->loop) + (uint64_t)limit;
    log_write(LOG_WARN, "Host.CustomHandler", NULL, "Custom handler %d (pid %d) %s; checking "
              "it with GET / again", p->seq, p->pid, why);
    uv_timer_start(&p->probe_timer, probe_start, CH_PROBE_MS, 0);
}

void ch__proc_recheck(ch_proc_t *p)
{
    char why[64];
    snprintf(why, sizeof why, "refused a connection on port %d", p->port);
    ch__proc_check(p, why);
}

/* ---- start ---- */

/* arg with the handler's own variables (%FUNCTIONS_CUSTOMHANDLER_PORT%,
 * ..., which exist only once its port is chosen; Azure's docs pass the port
 * this way) replaced by their values; the other %NAME% were expanded at
 * load. A new string, or NULL when arg holds none of them (or when out of
 * memory: it then goes as it is). */
static char *proc_arg(const ch_proc_t *p, const char *arg)
{
    if (!strchr(arg, '%'))
        return NULL;
    char port[16], seq[16];
    snprintf(port, sizeof port, "%d", p->port);
    snprintf(seq, sizeof seq, "%d", p->seq);
    const char *values[APP_CUSTOM_HANDLER_VARS] = {port, port, seq, seq};
    buf_t b;
    buf_init(&b, 64 * 1024);
    int hit = 0;
    for (const char *at = arg; *at;) {
        size_t k = 0, n = 0;
        if (*at == '%')
            for (; k < APP_CUSTOM_HANDLER_VARS; k++) {
                n = strlen(app_custom_handler_vars[k]);
                if (!strncasecmp(at + 1, app_custom_handler_vars[k], n) && at[1 + n] == '%')
                    break;
            }
        if (*at == '%' && k < APP_CUSTOM_HANDLER_VARS) {
            buf_puts(&b, values[k]);
            at += n + 2;
            hit = 1;
        } else {
            buf_putc(&b, *at++);
        }
    }
    char *out = hit && b.p ? buf_steal(&b) : NULL;
    buf_free(&b);
    return out;
}

/* The argument to pass for arg: proc_arg's rewrite, kept in *own (freed by
 * the caller) when there is one and own is not NULL, else arg itself. */
static char *own_arg(const ch_proc_t *p, char *arg, char **own)
{
    char *x = own ? proc_arg(p, arg) : NULL;
    if (!x)
        return arg;
    *own = x;
    return x;
}

ch_proc_t *ch__proc_spawn(ch_app_t *ca)
{
    const custom_handler_conf_t *conf = &ca->app->custom_handler;
    char err[200];
    /* customHandler.port: the handler listens there (one process at most) */
    int port = conf->port ? conf->port : free_port(err, sizeof err);
    if (port < 0) {
        log_write(LOG_ERROR, "Host.CustomHandler", NULL, "cannot start the custom handler: %s",
                  err);
        return NULL;
    }
    ch_proc_t *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->ca = ca;
    p->seq = ++ca->next_seq;
    p->port = port;
    snprintf(p->hostport, sizeof p->hostport, "127.0.0.1:%d", port);
    upstream_opts_t uo = {.max_conns = 4096,
                          .max_idle = 1024,
                          .max_pipeline = 1};
    p->pipeline_depth = conf->pipelining ? (size_t)conf->pipeline_depth : 1;
    p->up = upstream_new(ca->loop, "127.0.0.1", port, &uo);
    size_t added = 0;
    char **env = p->up ? proc_env(p, &added) : NULL;
    /* argv: stratus worker --handler <handler> [arguments...] [defaultWorkerPath]
     * [workerArguments...] */
    size_t nown = conf->narguments + conf->nworker_arguments;
    size_t nargs = 4 + nown + 2;
    char **args = calloc(nargs, sizeof *args);
    if (!env || !args) {
        child_env_free(env, added);
        free(args);
        if (p->up)
            upstream_close(p->up, NULL, NULL);
        free(p);
        return NULL;
    }
    size_t k = 0;
    args[k++] = ca->exe;
    args[k++] = (char *)"worker";
    args[k++] = (char *)"--handler";
    args[k++] = ca->handler;
    /* %FUNCTIONS_CUSTOMHANDLER_PORT% and the like become this process's:
     * own[] holds the arguments so rewritten, freed after the spawn. */
    char **own = calloc(nown + 1, sizeof *own);
    size_t o = 0;
    for (size_t i = 0; i < conf->narguments; i++, o++)
        args[k++] = own_arg(p, conf->arguments[i], own ? &own[o] : NULL);
    if (conf->worker_path)
        args[k++] = conf->worker_path;
    for (size_t i = 0; i < conf->nworker_arguments; i++, o++)
        args[k++] = own_arg(p, conf->worker_arguments[i], own ? &own[o] : NULL);
    args[k] = NULL;

    uv_pipe_init(ca->loop, &p->out.pipe, 0);
    uv_pipe_init(ca->loop, &p->err.pipe, 0);
    uv_timer_init(ca->loop, &p->probe_timer);
    uv_timer_init(ca->loop, &p->pipe_timer);
    p->pipe_timer.data = p;
    p->out.pipe.data = &p->out;
    p->err.pipe.data = &p->err;
    p->out.proc = p->err.proc = p;
    p->err.is_err = 1;
    buf_init(&p->out.line, CH_LINE_MAX);
    buf_init(&p->err.line, CH_LINE_MAX);
    p->process.data = p;
    p->probe_timer.data = p;
    p->spawn_ns = uv_hrtime();
    int rc = child_spawn(ca->loop, &p->process, ca->exe, args, env, conf->working_dir,
                         &p->out.pipe, &p->err.pipe, on_exit_cb);
    child_env_free(env, added);
    free(args);
    for (size_t i = 0; own && i < nown; i++)
        free(own[i]);
    free(own);
    /* Listed first, so that the close callbacks find it. */
    p->next = ca->procs;
    if (ca->procs)
        ca->procs->prev = p;
    ca->procs = p;
    if (rc != 0) {
        log_write(LOG_ERROR, "Host.CustomHandler", NULL, "cannot start the custom handler %s "
                  "(in %s): %s", ca->handler, conf->working_dir, uv_strerror(rc));
        p->exited = 1;
        p->open_handles = 6; /* uv_spawn initialised the process handle even so */
        proc_close_handles(p);
        return NULL;
    }
    p->open_handles = 6; /* process, two pipes, two timers, upstream */
    p->pid = p->process.pid;
    child_guard_add(ca->loop, p->pid);
    p->state = CH_STARTING;
    p->last_active = uv_now(ca->loop);
    p->ready_deadline = p->last_active + (uint64_t)conf->startup_timeout_ms;
    ca->nprocs++;
    uv_read_start((uv_stream_t *)&p->out.pipe, out_alloc, out_read);
    uv_read_start((uv_stream_t *)&p->err.pipe, out_alloc, out_read);
    uv_unref((uv_handle_t *)&p->probe_timer);
    uv_unref((uv_handle_t *)&p->pipe_timer);
    log_write(LOG_DEBUG, "Host.CustomHandler", NULL, "Started custom handler %d (pid %d) on "
              "port %d: %s", p->seq, p->pid, port, ca->handler);
    probe_start(&p->probe_timer);
    return p;
}

/* ---- the exec trampoline ---- */

int custom_exec(int argc, char **argv)
{
    if (argc < 1) {
        fprintf(stderr, "stratus worker --handler: no program given\n");
        return 2;
    }
    /* Die with the host (kept across exec for ordinary binaries); the
     * handler keeps whatever privileges its binary grants. */
    if (child_launch_prepare(0, 1) != 0)
        return 1; /* the host is already gone */
    execv(argv[0], argv);
    fprintf(stderr, "cannot run the custom handler %s: %s\n", argv[0], strerror(errno));
    return 127;
}
