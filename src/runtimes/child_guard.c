/*
 * child_guard.c -- no process the host started outlives it: the process
 * trees of its children, and the guardian that ends them when the host
 * dies abruptly.
 *
 * Every process the host starts (a worker, a custom handler, a Lambda
 * bootstrap) leads a session and process group of its own (child_spawn;
 * the fork server's workers call setsid()), and whatever it starts joins
 * that group: a shell script's `node server.js`, `npm start`'s server, a
 * Go handler's fork. The host ends a tree by signalling the group:
 *
 *   - stop: SIGTERM to the group, SIGKILL after the grace period;
 *   - kill (a timeout, the memory limit, a crash detected): SIGKILL to
 *     the group;
 *   - the leader exits (a crash, a stop, a restart): SIGKILL to what is
 *     left of its group (child_guard_end). The leader is the tree's life,
 *     as a container's main process is: Kubernetes and Docker kill what
 *     remains in a container when its main process exits, and systemd's
 *     default KillMode=control-group ends a service's leftovers the same
 *     way. A child that survived it would keep the handler's port (a
 *     fixed one stops the next handler from starting) and its memory.
 *
 * A process group, not a terminal: each child is in a session of its own,
 * without a controlling terminal, so the Ctrl-C of a terminal reaches the
 * host alone (the terminal's foreground group), which then stops its
 * children as above; no child sees the keystroke itself.
 *
 * The host cannot run code once it is killed with SIGKILL, or crashes.
 * The direct children die with it (PR_SET_PDEATHSIG, child_launch_prepare),
 * but the death signal is not inherited across fork(): their own children
 * would live on, adopted by process 1. So a guardian does it: a small
 * process (`stratus worker --guard`, started at the first child) that
 * holds the read end of a pipe from the host and the list of the groups
 * alive, "+PGID" and "-PGID" lines the host writes as children start and
 * end. The write end is the host's alone (close-on-exec): when it reads
 * end of file, the host is gone, however it went, and the guardian kills
 * each listed group with SIGKILL and exits. On a clean stop the host
 * closes the pipe last, so the guardian also ends what a stop left.
 *
 * The alternatives, and why not:
 *   - PR_SET_CHILD_SUBREAPER on the host: orphans would be adopted by the
 *     host, which then must reap them, but when the host itself dies they
 *     go to process 1 all the same;
 *   - the fork server: there is one per worker pool, none for custom
 *     handlers and Lambda, and it dies with the host (its death signal);
 *   - a launcher that stays as the parent of each child: one more process
 *     per child, and signals, exit statuses and memory figures relayed.
 * The cost: a short write per process started or ended; nothing per
 * request.
 *
 * The limit: a process that leaves its group (setsid(), setpgid(), a
 * daemon that detaches) is out of reach, as with tini or s6. A cgroup is
 * what holds every descendant: under systemd (KillMode=control-group) or
 * in a container, the service manager ends those.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "../telemetry/log.h"
#include "runtime.h"

/* ---- the host's side ---- */

typedef struct guardian {
    uv_process_t proc;
    uv_pipe_t pipe;  /* its standard input, our write end */
    int open;        /* handles not yet closed */
    uint64_t started_ms;
} guardian_t;

#define GUARD_RESPAWN_MS 1000 /* one that lived shorter is started again this much later */

static uv_loop_t *guard_loop;
static guardian_t *guard;       /* the running guardian, or NULL */
static uv_timer_t *guard_timer; /* the delayed start of a new one, once needed */
static int *groups;             /* the process groups alive */
static size_t ngroups, capgroups;

typedef struct guard_write {
    uv_write_t req;
    char data[];
} guard_write_t;

static void write_done(uv_write_t *req, int status)
{
    (void)status; /* a failure means the guardian is gone: its exit starts a new one */
    free(req);
}

/* Send n bytes at s to the guardian: straight into the pipe when it has
 * room (the usual case, so that the line is there even if the host is
 * killed just after), else queued. */
static void guard_send(const char *s, size_t n)
{
    if (!guard || uv_is_closing((uv_handle_t *)&guard->pipe))
        return;
    uv_buf_t b = uv_buf_init((char *)s, (unsigned)n);
    int rc = uv_try_write((uv_stream_t *)&guard->pipe, &b, 1);
    if (rc == (int)n)
        return;
    if (rc < 0 && rc != UV_EAGAIN)
        return;
    size_t done = rc > 0 ? (size_t)rc : 0;
    guard_write_t *w = malloc(sizeof *w + n - done);
    if (!w)
        return;
    memcpy(w->data, s + done, n - done);
    b = uv_buf_init(w->data, (unsigned)(n - done));
    if (uv_write(&w->req, (uv_stream_t *)&guard->pipe, &b, 1, write_done) != 0)
        free(w);
}

static void send_group(char sign, int pgid)
{
    char line[24];
    int n = snprintf(line, sizeof line, "%c%d\n", sign, pgid);
    guard_send(line, (size_t)n);
}

static void guard_handle_closed(uv_handle_t *h)
{
    guardian_t *g = h->data;
    if (--g->open == 0)
        free(g);
}

static void guard_close(guardian_t *g)
{
    if (g == guard)
        guard = NULL;
    if (!uv_is_closing((uv_handle_t *)&g->pipe))
        uv_close((uv_handle_t *)&g->pipe, guard_handle_closed);
    if (!uv_is_closing((uv_handle_t *)&g->proc))
        uv_close((uv_handle_t *)&g->proc, guard_handle_closed);
}

static int guard_start(void);

static void guard_timer_cb(uv_timer_t *t)
{
    (void)t;
    if (!guard && ngroups)
        guard_start();
}

static void guard_timer_closed(uv_handle_t *h)
{
    free(h);
}

static void guard_exit_cb(uv_process_t *proc, int64_t status, int sig)
{
    guardian_t *g = proc->data;
    int lived = uv_now(guard_loop) - g->started_ms >= GUARD_RESPAWN_MS;
    log_write(LOG_WARN, "Host.Process", NULL, "The process guardian (pid %d) exited (status "
              "%lld, signal %d); %s", proc->pid, (long long)status, sig,
              !ngroups ? "a new one starts with the next process"
              : lived ? "starting a new one" : "starting a new one in a second");
    guard_close(g);
    if (!ngroups)
        return;
    if (lived) {
        guard_start();
        return;
    }
    /* One that died young is started again a little later, not at once (a
     * guardian that cannot run would be started in a loop), and not only
     * with the next process: a host whose children all run already would
     * stay without one. */
    if (!guard_timer) {
        guard_timer = malloc(sizeof *guard_timer);
        if (!guard_timer || uv_timer_init(guard_loop, guard_timer) != 0) {
            free(guard_timer);
            guard_timer = NULL;
            return;
        }
        uv_unref((uv_handle_t *)guard_timer);
    }
    uv_timer_start(guard_timer, guard_timer_cb, GUARD_RESPAWN_MS, 0);
}

/* Start the guardian and tell it every group alive. 0, or -1 (logged). */
static int guard_start(void)
{
    char exe[4096];
    size_t len = sizeof exe;
    int rc = child_self_exe(exe, &len);
    guardian_t *g = rc == 0 ? calloc(1, sizeof *g) : NULL;
    if (!g) {
        log_write(LOG_ERROR, "Host.Process", NULL, "cannot start the process guardian: %s",
                  rc ? uv_strerror(rc) : "out of memory");
        return -1;
    }
    uv_pipe_init(guard_loop, &g->pipe, 0);
    g->pipe.data = g->proc.data = g;
    uv_stdio_container_t stdio[3];
    stdio[0].flags = UV_CREATE_PIPE | UV_READABLE_PIPE;
    stdio[0].data.stream = (uv_stream_t *)&g->pipe;
    stdio[1].flags = UV_IGNORE;
    stdio[2].flags = UV_INHERIT_FD;
    stdio[2].data.fd = 2;
    char *args[] = {exe, (char *)"worker", (char *)"--guard", NULL};
    char *env[] = {NULL}; /* it needs none, and sees none of the host's */
    uv_process_options_t o;
    memset(&o, 0, sizeof o);
    o.file = child_exec_file(exe);
    o.args = args;
    o.env = env;
    o.cwd = "/";
    /* A session of its own: a terminal's Ctrl-C, meant for the host, does
     * not reach it (it ignores SIGINT and SIGTERM anyway). */
    o.flags = UV_PROCESS_DETACHED;
    o.stdio_count = 3;
    o.stdio = stdio;
    o.exit_cb = guard_exit_cb;
    rc = uv_spawn(guard_loop, &g->proc, &o);
    g->open = 2;
    if (rc != 0) {
        log_write(LOG_ERROR, "Host.Process", NULL, "cannot start the process guardian (%s "
                  "worker --guard): %s; processes that the host's children start outlive a "
                  "host that is killed", exe, uv_strerror(rc));
        guard_close(g);
        return -1;
    }
    /* Neither keeps the loop running: the host's stop closes them last. */
    uv_unref((uv_handle_t *)&g->proc);
    uv_unref((uv_handle_t *)&g->pipe);
    g->started_ms = uv_now(guard_loop);
    guard = g;
    log_write(LOG_DEBUG, "Host.Process", NULL, "Started the process guardian (pid %d)",
              g->proc.pid);
    for (size_t i = 0; i < ngroups; i++)
        send_group('+', groups[i]);
    return 0;
}

void child_guard_add(uv_loop_t *loop, int pgid)
{
    if (pgid <= 0)
        return;
    if (ngroups == capgroups) {
        size_t cap = capgroups ? 2 * capgroups : 16;
        int *g = realloc(groups, cap * sizeof *g);
        if (!g)
            return;
        groups = g;
        capgroups = cap;
    }
    groups[ngroups++] = pgid;
    if (!guard) {
        guard_loop = loop;
        guard_start(); /* sends the whole list, this one with it */
        return;
    }
    send_group('+', pgid);
}

void child_guard_end(int pgid)
{
    if (pgid <= 0)
        return;
    /* What is left of the tree: its leader has exited (and was reaped, but
     * its number stays taken as long as the group has a member). */
    kill(-pgid, SIGKILL);
    for (size_t i = 0; i < ngroups; i++)
        if (groups[i] == pgid) {
            groups[i] = groups[--ngroups];
            send_group('-', pgid);
            break;
        }
}

void child_guard_close(void)
{
    /* End of file for the guardian: it kills the groups still listed (none
     * after a clean stop) and exits. */
    if (guard)
        guard_close(guard);
    if (guard_timer) {
        uv_close((uv_handle_t *)guard_timer, guard_timer_closed);
        guard_timer = NULL;
    }
    free(groups);
    groups = NULL;
    ngroups = capgroups = 0;
}

/* ---- the guardian (`stratus worker --guard`) ---- */

static void kill_all(const int *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        kill(-list[i], SIGKILL);
}

int child_guard_main(void)
{
    /* Only the end of its pipe ends it: not the terminal's signals, not a
     * service manager's SIGTERM sent to every process of the service
     * while the host still stops its children gracefully. */
    signal(SIGINT, SIG_IGN);
    signal(SIGTERM, SIG_IGN);
    signal(SIGHUP, SIG_IGN);
    signal(SIGQUIT, SIG_IGN);
    signal(SIGPIPE, SIG_IGN);
    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    int *list = NULL;
    size_t n = 0, cap = 0;
    char buf[4096], line[32];
    size_t used = 0;
    for (;;) {
        ssize_t got = read(0, buf, sizeof buf);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            break; /* the host is gone */
        for (ssize_t i = 0; i < got; i++) {
            if (buf[i] != '\n') {
                if (used < sizeof line - 1)
                    line[used++] = buf[i];
                continue;
            }
            line[used] = '\0';
            used = 0;
            int pgid = atoi(line + 1);
            if (pgid <= 0)
                continue;
            if (line[0] == '+') {
                if (n == cap) {
                    size_t c = cap ? 2 * cap : 64;
                    int *l = realloc(list, c * sizeof *l);
                    if (!l)
                        continue; /* out of memory: that group goes unguarded */
                    list = l;
                    cap = c;
                }
                list[n++] = pgid;
            } else if (line[0] == '-') {
                for (size_t k = 0; k < n; k++)
                    if (list[k] == pgid) {
                        list[k] = list[--n];
                        break;
                    }
            }
        }
    }
    kill_all(list, n);
    free(list);
    return 0;
}
