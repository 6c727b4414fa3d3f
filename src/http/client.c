/*
 * client.c -- the blocking HTTP/1.1 client of the command line (see
 * client.h): POSIX sockets with poll() for the timeouts, the response read
 * through respparser.
 */
#include "client.h"

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

#include "../util/buf.h"
#include "parser.h"

#define DEFAULT_TIMEOUT_MS 10000
#define REQUEST_HEAD_MAX (64 * 1024)

static void seterr(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void seterr(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || !errlen)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

void httpc_format_addr(const char *host, int port, char *out, size_t outlen)
{
    if (strchr(host, ':'))
        snprintf(out, outlen, "[%s]:%d", host, port);
    else
        snprintf(out, outlen, "%s:%d", host, port);
}

/* 1 when s is safe inside a request line or header: no CR, LF or NUL
 * tricks, and (when no_space) no spaces or other controls either. */
static int clean(const char *s, int no_space)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '\r' || c == '\n' || c == 0x7f || (c < 0x20 && c != '\t'))
            return 0;
        if (no_space && (c == ' ' || c == '\t'))
            return 0;
    }
    return 1;
}

/* Wait for fd to become ready for `events`: 1 ready, 0 timed out, -1 error
 * (errno set). */
static int wait_fd(int fd, short events, int timeout_ms)
{
    struct pollfd pfd = {.fd = fd, .events = events};
    for (;;) {
        int n = poll(&pfd, 1, timeout_ms);
        if (n >= 0)
            return n > 0;
        if (errno != EINTR)
            return -1;
    }
}

/* Connect to one address without blocking longer than timeout_ms: the
 * socket, or -1 with errno set (ETIMEDOUT for a timeout). */
static int connect_one(const struct addrinfo *ai, int timeout_ms)
{
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
                    ai->ai_protocol);
    if (fd < 0)
        return -1;
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
        return fd;
    if (errno != EINPROGRESS && errno != EINTR)
        goto fail;
    int rc = wait_fd(fd, POLLOUT, timeout_ms);
    if (rc == 0) {
        errno = ETIMEDOUT;
        goto fail;
    }
    if (rc < 0)
        goto fail;
    int soerr = 0;
    socklen_t sl = sizeof soerr;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) != 0)
        goto fail;
    if (soerr != 0) {
        errno = soerr;
        goto fail;
    }
    return fd;
fail:;
    int saved = errno;
    close(fd);
    errno = saved;
    return -1;
}

/* A connected socket, or -1 with err set and *code the HTTPC_ERR_* reason. */
static int connect_to(const char *host, int port, int timeout_ms, const char *addr, int *code,
                      char *err, size_t errlen)
{
    char service[16];
    snprintf(service, sizeof service, "%d", port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_NUMERICSERV};
    struct addrinfo *list = NULL;
    int gai = getaddrinfo(host, service, &hints, &list);
    if (gai != 0) {
        seterr(err, errlen, "cannot connect to %s: cannot resolve '%s': %s", addr, host,
               gai == EAI_SYSTEM ? strerror(errno) : gai_strerror(gai));
        *code = HTTPC_ERR_RESOLVE;
        return -1;
    }
    int fd = -1, last = ECONNREFUSED;
    for (const struct addrinfo *ai = list; ai && fd < 0; ai = ai->ai_next) {
        fd = connect_one(ai, timeout_ms);
        if (fd < 0)
            last = errno;
    }
    freeaddrinfo(list);
    if (fd >= 0)
        return fd;
    *code = HTTPC_ERR_CONNECT;
    if (last == ETIMEDOUT)
        seterr(err, errlen, "cannot connect to %s: timed out after %d ms", addr, timeout_ms);
    else
        seterr(err, errlen, "cannot connect to %s: %s", addr, strerror(last));
    return -1;
}

/* Write all of data: 0, or -1 with errno set (ETIMEDOUT for a timeout). */
static int send_all(int fd, const char *data, size_t len, int timeout_ms)
{
    while (len > 0) {
        ssize_t n = send(fd, data, len, MSG_NOSIGNAL);
        if (n > 0) {
            data += n;
            len -= (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            int rc = wait_fd(fd, POLLOUT, timeout_ms);
            if (rc == 0)
                errno = ETIMEDOUT;
            if (rc <= 0)
                return -1;
            continue;
        }
        return -1;
    }
    return 0;
}

static int build_head(const httpc_req_t *req, const char *addr, buf_t *b, char *err,
                      size_t errlen)
{
    if (!req->method || !*req->method || !clean(req->method, 1)) {
        seterr(err, errlen, "invalid HTTP method");
        return -1;
    }
    if (!req->path || req->path[0] != '/' || !clean(req->path, 1)) {
        seterr(err, errlen, "invalid request path (must start with '/', no spaces)");
        return -1;
    }
    int rc = buf_printf(b, "%s %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: stratus-cli\r\n"
                           "Connection: close\r\n",
                        req->method, req->path, addr);
    for (size_t i = 0; rc == 0 && i < req->nheaders; i++) {
        const httpc_header_t *h = &req->headers[i];
        if (!h->name || !*h->name || !h->value || !clean(h->name, 1) || strchr(h->name, ':') ||
            !clean(h->value, 0)) {
            seterr(err, errlen, "invalid request header '%s'", h->name ? h->name : "(null)");
            return -1;
        }
        rc = buf_printf(b, "%s: %s\r\n", h->name, h->value);
    }
    int wants_length = req->body != NULL || strcmp(req->method, "GET") != 0;
    if (rc == 0 && wants_length)
        rc = buf_printf(b, "Content-Length: %zu\r\n", req->body ? req->body_len : 0);
    if (rc == 0)
        rc = buf_puts(b, "\r\n");
    if (rc != 0) {
        seterr(err, errlen, "request headers larger than %d bytes", REQUEST_HEAD_MAX);
        return -1;
    }
    return 0;
}

typedef struct streaming {
    httpc_body_fn fn;
    void *data;
    int stopped;
} streaming_t;

/* Hand the body received so far to a streaming reader (2xx only). */
static void pass_body(respparser_t *rp, streaming_t *sm)
{
    int status = respparser_status(rp);
    if (!sm || sm->stopped || status < 200 || status > 299)
        return;
    size_t n;
    const char *b = respparser_body(rp, &n);
    if (n && sm->fn(sm->data, b, n) != 0)
        sm->stopped = 1;
    respparser_body_drop(rp);
}

/* Read until the parser has a whole response (or, streaming, until the
 * reader stops; timeout_ms < 0 waits without end). */
static int read_response_s(int fd, respparser_t *rp, int timeout_ms, const char *addr,
                           char *err, size_t errlen, streaming_t *sm)
{
    char chunk[16384];
    while (!respparser_done(rp) && !(sm && sm->stopped)) {
        ssize_t n = recv(fd, chunk, sizeof chunk, 0);
        if (n > 0) {
            if (respparser_feed(rp, chunk, (size_t)n) != PARSE_OK) {
                seterr(err, errlen, "bad response from %s: %s", addr, respparser_error(rp));
                return -1;
            }
            pass_body(rp, sm);
            continue;
        }
        if (n == 0) {
            if (respparser_finish(rp) != PARSE_OK) {
                seterr(err, errlen, "bad response from %s: %s", addr, respparser_error(rp));
                return -1;
            }
            pass_body(rp, sm);
            break;
        }
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            int rc = wait_fd(fd, POLLIN, timeout_ms);
            if (rc == 0) {
                seterr(err, errlen, "no response from %s: timed out after %d ms", addr,
                       timeout_ms);
                return -1;
            }
            if (rc > 0)
                continue;
        }
        seterr(err, errlen, "reading the response from %s: %s", addr, strerror(errno));
        return -1;
    }
    return 0;
}

static int read_response(int fd, respparser_t *rp, int timeout_ms, const char *addr, char *err,
                         size_t errlen)
{
    return read_response_s(fd, rp, timeout_ms, addr, err, errlen, NULL);
}

static int send_req(const httpc_req_t *req, httpc_res_t *res, streaming_t *sm, char *err,
                    size_t errlen);

int httpc_send(const httpc_req_t *req, httpc_res_t *res, char *err, size_t errlen)
{
    return send_req(req, res, NULL, err, errlen);
}

int httpc_stream(const httpc_req_t *req, httpc_res_t *res, httpc_body_fn on_body, void *data,
                 char *err, size_t errlen)
{
    streaming_t sm = {on_body, data, 0};
    return send_req(req, res, &sm, err, errlen);
}

static int send_req(const httpc_req_t *req, httpc_res_t *res, streaming_t *sm, char *err,
                    size_t errlen)
{
    memset(res, 0, sizeof *res);
    if (!req->host || !*req->host || req->port < 1 || req->port > 65535) {
        seterr(err, errlen, "invalid address %s:%d", req->host ? req->host : "(null)",
               req->port);
        return HTTPC_ERR_REQUEST;
    }
    char addr[300];
    httpc_format_addr(req->host, req->port, addr, sizeof addr);
    int timeout_ms = req->timeout_ms > 0 ? req->timeout_ms : DEFAULT_TIMEOUT_MS;

    buf_t head;
    buf_init(&head, REQUEST_HEAD_MAX);
    if (build_head(req, addr, &head, err, errlen) != 0) {
        buf_free(&head);
        return HTTPC_ERR_REQUEST;
    }
    respparser_t *rp = respparser_new(req->max_body);
    if (!rp) {
        buf_free(&head);
        seterr(err, errlen, "out of memory");
        return HTTPC_ERR_IO;
    }

    int rc = HTTPC_ERR_CONNECT;
    int fd = connect_to(req->host, req->port, timeout_ms, addr, &rc, err, errlen);
    if (fd < 0)
        goto out;
    rc = HTTPC_ERR_IO;
    if (send_all(fd, head.p, head.len, timeout_ms) != 0 ||
        (req->body && send_all(fd, req->body, req->body_len, timeout_ms) != 0)) {
        if (errno == ETIMEDOUT)
            seterr(err, errlen, "sending the request to %s: timed out after %d ms", addr,
                   timeout_ms);
        else
            seterr(err, errlen, "sending the request to %s: %s", addr, strerror(errno));
        /* The server may have answered early (413, 401): read that if it did. */
        if (read_response(fd, rp, timeout_ms, addr, NULL, 0) != 0)
            goto out;
    } else if (read_response_s(fd, rp, sm ? -1 : timeout_ms, addr, err, errlen, sm) != 0) {
        goto out;
    }
    rc = HTTPC_OK;
    res->status = respparser_status(rp);
    res->reason = respparser_reason(rp);
    res->body = respparser_body(rp, &res->body_len);
    res->parser = rp;
    rp = NULL;
out:
    if (fd >= 0)
        close(fd);
    respparser_free(rp);
    buf_free(&head);
    return rc;
}

const char *httpc_res_header(const httpc_res_t *res, const char *name)
{
    return res->parser ? respparser_header(res->parser, name) : NULL;
}

void httpc_res_free(httpc_res_t *res)
{
    respparser_free(res->parser);
    memset(res, 0, sizeof *res);
}
