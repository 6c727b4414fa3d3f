/*
 * interp_index.c -- worker indexing: the functions of an app whose
 * programming model declares them in code (Python v2's function_app.py,
 * Node.js v4's package.json "main") are listed by the language's own
 * worker, as Azure's host asks its workers for their function metadata.
 *
 * Before any worker of the app starts, the host runs the shim once in index
 * mode (`<interpreter> <shim> --index`, in the app folder, with the app
 * settings in its environment). The shim imports the app's code and writes
 * one JSON document to descriptor 3 (STRATUS_INDEX_FD): the functions in
 * function.json form, and the errors the code raised (see
 * docs/worker-protocol.md, "Worker indexing"). Its standard output and
 * error (what the app's code prints while it is imported) go to the host's
 * log, and into the message when indexing fails. The host then adds the
 * functions as if function.json files had declared them (app_add_indexed).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../telemetry/log.h"
#include "../util/buf.h"
#include "runtime.h"

#define INDEX_TIMEOUT_MS (120 * 1000) /* importing a large app's libraries can be slow */
#define INDEX_MAX_ANSWER (16u << 20)  /* the list of functions */
#define INDEX_MAX_OUTPUT (64u << 10)  /* what the app prints while it is imported, kept */

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The last lines of what the process printed, for a message: at most
 * about 1,500 bytes, starting at a line. */
static const char *output_tail(const buf_t *out)
{
    if (!out->len)
        return "";
    const char *p = out->p, *end = out->p + out->len;
    while (end > p && (end[-1] == '\n' || end[-1] == '\r'))
        end--;
    const char *from = end - p > 1500 ? end - 1500 : p;
    if (from > p) {
        const char *nl = memchr(from, '\n', (size_t)(end - from));
        if (nl)
            from = nl + 1;
    }
    out->p[end - out->p] = '\0';
    return from;
}

/* Each line the app's code printed while it was imported, as the workers'
 * output is logged. */
static void log_output(const app_t *app, const buf_t *out)
{
    const char *p = out->p, *end = out->p + out->len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        if (n && p[n - 1] == '\r')
            n--;
        if (n)
            log_write(LOG_INFO, "Host.Indexing", NULL, "%s indexing: %.*s", app->index_lang,
                      (int)n, p);
        p += (nl ? (size_t)(nl - p) + 1 : n);
    }
}

/* A message from the forked child: only async-signal-safe calls there
 * (the host has threads). */
static void say(const char *a, const char *b)
{
    if (write(2, a, strlen(a)) < 0 || write(2, b, strlen(b)) < 0 || write(2, "\n", 1) < 0)
        return;
}

static void child(const app_t *app, char **argv, char **env, int answer_w, int out_w)
{
    setpgid(0, 0); /* its own group: a timeout kills what it started too */
    int devnull = open("/dev/null", O_RDONLY);
    if (devnull < 0 || dup2(devnull, 0) < 0 || dup2(out_w, 1) < 0 || dup2(out_w, 2) < 0 ||
        dup2(answer_w, 3) < 0)
        _exit(126);
    for (int fd = 4; fd < 1024; fd++)
        close(fd);
    if (chdir(app->root) != 0) {
        say("cannot enter the app folder ", app->root);
        _exit(126);
    }
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    signal(SIGPIPE, SIG_DFL);
    execve(argv[0], argv, env);
    say("cannot run ", argv[0]);
    _exit(127);
}

int interp_index(app_t *app, const interp_spec_t *spec, const interp_state_t *st, char *err,
                 size_t errlen)
{
    const char *source = app->index_source ? app->index_source : app->index_lang;
    /* Without the arguments setting: a debugger's flags are for workers. */
    char *args[5] = {(char *)st->exe};
    size_t n = 1;
    if (spec->flag)
        args[n++] = (char *)spec->flag;
    args[n++] = (char *)st->shim;
    args[n++] = "--index";
    args[n] = NULL;

    const char *set[][2] = {{"STRATUS_INDEX_FD", "3"},
                            {"STRATUS_APP_ROOT", app->root},
                            {"AzureWebJobsScriptRoot", app->root}};
    char **env = child_env_new(set, 3, NULL);
    int answer[2] = {-1, -1}, out[2] = {-1, -1};
    if (!env || pipe2(answer, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0) {
        snprintf(err, errlen, "%s: cannot start indexing: %s", source, strerror(errno));
        goto fail;
    }
    uint64_t t0 = uv_hrtime();
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(err, errlen, "%s: cannot start indexing: %s", source, strerror(errno));
        goto fail;
    }
    if (pid == 0)
        child(app, args, env, answer[1], out[1]);
    close(answer[1]);
    close(out[1]);
    answer[1] = out[1] = -1;

    buf_t doc, output;
    buf_init(&doc, INDEX_MAX_ANSWER);
    buf_init(&output, INDEX_MAX_OUTPUT + 16384);
    int64_t deadline = now_ms() + INDEX_TIMEOUT_MS;
    int timed_out = 0, too_big = 0;
    struct pollfd pfd[2] = {{answer[0], POLLIN, 0}, {out[0], POLLIN, 0}};
    while (pfd[0].fd >= 0 || pfd[1].fd >= 0) {
        int64_t left = deadline - now_ms();
        if (left <= 0) {
            timed_out = 1;
            break;
        }
        int rc = poll(pfd, 2, (int)(left > 1000 ? 1000 : left));
        if (rc < 0 && errno != EINTR)
            break;
        for (int i = 0; i < 2; i++) {
            if (pfd[i].fd < 0 || !pfd[i].revents)
                continue;
            char chunk[16384];
            ssize_t got = read(pfd[i].fd, chunk, sizeof chunk);
            if (got < 0 && (errno == EINTR || errno == EAGAIN))
                continue;
            if (got <= 0) {
                pfd[i].fd = -1;
                continue;
            }
            if (i == 0) {
                if (buf_append(&doc, chunk, (size_t)got) != 0)
                    too_big = 1;
            } else if (output.len < INDEX_MAX_OUTPUT) {
                buf_append(&output, chunk, (size_t)got);
            }
        }
        if (too_big)
            break;
    }
    if (timed_out || too_big)
        kill(-pid, SIGKILL);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    /* What the group left behind (a process the app's code started) dies
     * with the indexing. */
    kill(-pid, SIGKILL);
    close(answer[0]);
    close(out[0]);
    answer[0] = out[0] = -1;
    child_env_free(env, 3);
    env = NULL;

    int rc = -1;
    if (timed_out) {
        snprintf(err, errlen, "%s: indexing the app's functions did not finish in %d s (the "
                 "%s worker was importing the app's code)%s%s", source, INDEX_TIMEOUT_MS / 1000,
                 app->index_lang, output.len ? "; its output: " : "", output_tail(&output));
    } else if (too_big) {
        snprintf(err, errlen, "%s: the list of functions is larger than %u MB", source,
                 INDEX_MAX_ANSWER >> 20);
    } else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        char how[64];
        if (WIFSIGNALED(status))
            snprintf(how, sizeof how, "was killed by signal %d", WTERMSIG(status));
        else
            snprintf(how, sizeof how, "exited with status %d", WEXITSTATUS(status));
        snprintf(err, errlen, "%s: indexing the app's functions failed: the %s worker %s%s%s",
                 source, app->index_lang, how, output.len ? ": " : "", output_tail(&output));
    } else if (!doc.len) {
        snprintf(err, errlen, "%s: indexing the app's functions failed: the %s worker listed "
                 "nothing%s%s", source, app->index_lang, output.len ? ": " : "",
                 output_tail(&output));
    } else {
        log_output(app, &output);
        size_t before = app->nfunctions;
        app_add_indexed(app, doc.p, doc.len, NULL);
        log_write(LOG_INFO, "Host.Indexing", NULL, "%s: %zu function(s) indexed in %.0f ms",
                  source, app->nfunctions - before, (double)(uv_hrtime() - t0) / 1e6);
        rc = 0;
    }
    buf_free(&doc);
    buf_free(&output);
    return rc;
fail:
    for (int i = 0; i < 2; i++) {
        if (answer[i] >= 0)
            close(answer[i]);
        if (out[i] >= 0)
            close(out[i]);
    }
    child_env_free(env, 3);
    return -1;
}
