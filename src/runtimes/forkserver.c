/*
 * forkserver.c -- the fork server: a `stratus worker` started once per pool
 * with STRATUS_FORK_SERVER=1, that forks new workers on request instead of
 * the host starting (and the kernel loading) a fresh process each time.
 *
 * It never loads the app and never sees the host's secrets: it is a clean
 * process whose only state is the loaded binary, so a fork of it is as
 * good as a new process, at a fraction of the cost.
 *
 * Protocol on the control socket (fd 3), one text line per message:
 *   host -> server  "spawn SEQ MEMORY_MB\n" with three descriptors attached
 *                   (SCM_RIGHTS): the worker's channel, stdout and stderr
 *   server -> host  "spawned SEQ PID\n", "exited PID STATUS SIGNAL\n"
 * forkserver_main() returns only in a new child, set up as a worker with
 * its channel on fd 3; the server itself exits when the host goes away.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "runtime.h"

static int send_line(int ctl, const char *line)
{
    return worker__write_all(ctl, line, strlen(line));
}

/* In the child: descriptors into place, then back to the worker's main. */
static void become_worker(int ctl, int sfd, const sigset_t *old, int fds[3], const char *seq,
                          const char *mem)
{
    close(sfd);
    sigprocmask(SIG_SETMASK, old, NULL);
    signal(SIGCHLD, SIG_DFL);
    setsid();
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (ctl != 3)
        close(ctl);
    int chan = fds[0], out = fds[1], err = fds[2];
    /* Move each away from 1..3 first, so the dup2s cannot clobber them. */
    chan = fcntl(chan, F_DUPFD, 10);
    out = fcntl(out, F_DUPFD, 10);
    err = fcntl(err, F_DUPFD, 10);
    close(fds[0]);
    close(fds[1]);
    close(fds[2]);
    dup2(chan, 3);
    dup2(out, 1);
    dup2(err, 2);
    close(chan);
    close(out);
    close(err);
    setenv("STRATUS_WORKER_FD", "3", 1);
    setenv("STRATUS_WORKER_ID", seq, 1);
    setenv("STRATUS_WORKER_MEMORY_MB", mem, 1);
    unsetenv("STRATUS_FORK_SERVER");
}

/* Receive one request: its text into buf and up to three descriptors.
 * Returns the number of bytes (0 at end of stream), -1 on error. */
static ssize_t recv_request(int ctl, char *buf, size_t len, int fds[3], int *nfds)
{
    union {
        struct cmsghdr h;
        char space[CMSG_SPACE(3 * sizeof(int))];
    } u;
    struct iovec iov = {buf, len - 1};
    struct msghdr msg;
    memset(&msg, 0, sizeof msg);
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = u.space;
    msg.msg_controllen = sizeof u.space;
    ssize_t n;
    do
        n = recvmsg(ctl, &msg, MSG_CMSG_CLOEXEC);
    while (n < 0 && errno == EINTR);
    *nfds = 0;
    if (n <= 0)
        return n;
    buf[n] = '\0';
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
            continue;
        int k = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
        int *got = (int *)CMSG_DATA(c);
        for (int i = 0; i < k; i++) {
            if (*nfds < 3)
                fds[(*nfds)++] = got[i];
            else
                close(got[i]);
        }
    }
    return n;
}

static void report_exits(int ctl)
{
    int st;
    pid_t pid;
    while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
        char line[96];
        snprintf(line, sizeof line, "exited %d %d %d\n", (int)pid,
                 WIFEXITED(st) ? WEXITSTATUS(st) : 0, WIFSIGNALED(st) ? WTERMSIG(st) : 0);
        if (send_line(ctl, line) != 0)
            _exit(0);
    }
}

int forkserver_main(int ctl)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() == 1)
        _exit(0);
    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    signal(SIGPIPE, SIG_IGN);
    sigset_t mask, old;
    sigemptyset(&mask);
    sigaddset(&mask, SIGCHLD);
    sigprocmask(SIG_BLOCK, &mask, &old);
    int sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
    if (sfd < 0)
        _exit(1);
    for (;;) {
        struct pollfd pf[2] = {{ctl, POLLIN, 0}, {sfd, POLLIN, 0}};
        if (poll(pf, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            _exit(1);
        }
        if (pf[1].revents) {
            struct signalfd_siginfo si;
            while (read(sfd, &si, sizeof si) > 0)
                ;
            report_exits(ctl);
        }
        if (!pf[0].revents)
            continue;
        char buf[256];
        int fds[3], nfds;
        ssize_t n = recv_request(ctl, buf, sizeof buf, fds, &nfds);
        if (n <= 0)
            _exit(0); /* the host is gone */
        char seq[24], mem[24];
        if (nfds != 3 || sscanf(buf, "spawn %23s %23s", seq, mem) != 2) {
            for (int i = 0; i < nfds; i++)
                close(fds[i]);
            continue;
        }
        pid_t pid = fork();
        if (pid == 0) {
            become_worker(ctl, sfd, &old, fds, seq, mem);
            return 0;
        }
        for (int i = 0; i < 3; i++)
            close(fds[i]);
        char line[96];
        if (pid < 0)
            snprintf(line, sizeof line, "failed %s %d\n", seq, errno);
        else
            snprintf(line, sizeof line, "spawned %s %d\n", seq, (int)pid);
        if (send_line(ctl, line) != 0)
            _exit(0);
        report_exits(ctl);
    }
}
