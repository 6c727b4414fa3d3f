/*
 * child_env.c -- starting the processes the host runs (workers, custom
 * handlers, Lambda bootstraps; see runtime.h): their environment, the
 * host's own (which holds the app settings) less what is the host's alone,
 * with the child's variables first; and the spawn of a launcher whose
 * output is read from pipes.
 */
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "runtime.h"

extern char **environ;

/* Never passed on: the master key, and the variables the host sets for its
 * workers (a child of a child must not inherit them by accident). */
static const char *const host_only[] = {"STRATUS_MASTER_KEY=", "STRATUS_WORKER_",
                                        "STRATUS_APP_ROOT=", "STRATUS_FORK_SERVER=", NULL};

static int starts(const char *s, const char *const *prefixes)
{
    for (size_t i = 0; prefixes && prefixes[i]; i++)
        if (strncmp(s, prefixes[i], strlen(prefixes[i])) == 0)
            return 1;
    return 0;
}

static int replaced(const char *entry, const char *const (*set)[2], size_t nset)
{
    for (size_t i = 0; i < nset; i++) {
        size_t n = strlen(set[i][0]);
        if (strncmp(entry, set[i][0], n) == 0 && entry[n] == '=')
            return 1;
    }
    return 0;
}

char **child_env_new(const char *const (*set)[2], size_t nset, const char *const *hide)
{
    size_t n = 0;
    while (environ[n])
        n++;
    char **env = calloc(n + nset + 1, sizeof *env);
    if (!env)
        return NULL;
    for (size_t i = 0; i < nset; i++) {
        size_t len = strlen(set[i][0]) + strlen(set[i][1]) + 2;
        if (!(env[i] = malloc(len))) {
            child_env_free(env, i);
            return NULL;
        }
        memcpy(env[i], set[i][0], strlen(set[i][0]));
        env[i][strlen(set[i][0])] = '=';
        memcpy(env[i] + strlen(set[i][0]) + 1, set[i][1], strlen(set[i][1]) + 1);
    }
    size_t k = nset;
    for (size_t i = 0; i < n; i++)
        if (!starts(environ[i], host_only) && !starts(environ[i], hide) &&
            !replaced(environ[i], set, nset))
            env[k++] = environ[i];
    env[k] = NULL;
    return env;
}

void child_env_free(char **env, size_t nset)
{
    for (size_t i = 0; env && i < nset; i++)
        free(env[i]);
    free(env);
}

static int self_fd = -1;
static char self_path[4096];
static char self_file[40];

int child_self_exe(char *path, size_t *len)
{
    if (self_fd >= 0) {
        /* Opened before: the path it had then (the file there now, if any,
         * may be another build, or "... (deleted)"). */
        size_t n = strlen(self_path);
        if (n >= *len)
            return UV_ENOBUFS;
        memcpy(path, self_path, n + 1);
        *len = n;
        return 0;
    }
    int rc = uv_exepath(path, len);
    if (rc != 0)
        return rc;
    if (!self_path[0] && *len < sizeof self_path) {
        memcpy(self_path, path, *len + 1);
        self_fd = open(self_path, O_RDONLY | O_CLOEXEC);
        if (self_fd >= 0)
            snprintf(self_file, sizeof self_file, "/proc/self/fd/%d", self_fd);
    }
    return 0;
}

const char *child_exec_file(const char *path)
{
    /* The descriptor survives into the child until its exec, which opens
     * the file through it (the host's executable is ELF, not a script). */
    if (self_fd >= 0 && !strcmp(path, self_path))
        return self_file;
    return path;
}

int child_spawn(uv_loop_t *loop, uv_process_t *proc, const char *file, char **args, char **env,
                const char *cwd, uv_pipe_t *out, uv_pipe_t *err, uv_exit_cb exit_cb)
{
    uv_stdio_container_t stdio[3];
    stdio[0].flags = UV_IGNORE;
    stdio[1].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
    stdio[1].data.stream = (uv_stream_t *)out;
    stdio[2].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
    stdio[2].data.stream = (uv_stream_t *)err;
    uv_process_options_t o;
    memset(&o, 0, sizeof o);
    o.file = child_exec_file(file);
    o.args = args;
    o.env = env;
    o.cwd = cwd;
    o.flags = UV_PROCESS_DETACHED; /* its own session and process group */
    o.stdio_count = 3;
    o.stdio = stdio;
    o.exit_cb = exit_cb;
    return uv_spawn(loop, proc, &o);
}

int child_launch_prepare(long host, int privs)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    /* After setting it: a host that died just before is seen here. */
    long parent = (long)getppid();
    if (host ? parent != host : parent == 1)
        return -1;
    if (!privs)
        prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    struct sched_param sp = {.sched_priority = 0};
    sched_setscheduler(0, SCHED_BATCH, &sp); /* best effort: normal scheduling else */
    return 0;
}
