/*
 * client.h -- a small blocking HTTP/1.1 client for the command line (talks
 * to the admin API of a running host). Not for use inside the event loop.
 *
 * One call is one connection: connect with a timeout, send the request
 * with Content-Length and "Connection: close", read the whole response
 * (bounded) and close. No TLS, no redirects, no chunked uploads.
 *
 * Lifecycle: the caller fills an httpc_req_t (nothing in it is copied or
 * kept), httpc_send() fills an httpc_res_t, httpc_res_free() releases it.
 * An httpc_res_t is zeroed on failure, so freeing it is always safe.
 */
#ifndef STRATUS_HTTP_CLIENT_H
#define STRATUS_HTTP_CLIENT_H

#include <stddef.h>

typedef struct respparser respparser_t;

typedef struct httpc_header {
    const char *name;
    const char *value;
} httpc_header_t;

typedef struct httpc_req {
    const char *method;             /* "GET", "POST", ... */
    const char *host;               /* "127.0.0.1", "localhost", "::1" */
    int port;                       /* 1..65535 */
    const char *path;               /* "/admin/host/status", already escaped */
    const httpc_header_t *headers;  /* extra headers (may be NULL) */
    size_t nheaders;
    const char *body;               /* NULL for none */
    size_t body_len;
    int timeout_ms;                 /* limit of the connect and of each wait
                                       for the peer; 0 means 10 s */
    size_t max_body;                /* response body limit; 0 means 16 MiB */
} httpc_req_t;

typedef struct httpc_res {
    int status;           /* 200, 404, ... */
    const char *reason;   /* the reason phrase as sent ("" when none) */
    const char *body;     /* NUL-terminated (not counted in body_len) */
    size_t body_len;
    respparser_t *parser; /* owns the strings above; private */
} httpc_res_t;

/* What went wrong, for callers that want to add advice. */
enum {
    HTTPC_OK = 0,
    HTTPC_ERR_CONNECT = -1, /* no connection (refused, unreachable, timed out) */
    HTTPC_ERR_IO = -2,      /* connected, but no complete valid response */
    HTTPC_ERR_REQUEST = -3, /* the request itself is invalid (CR/LF in a header...) */
    HTTPC_ERR_RESOLVE = -4  /* the host name does not resolve */
};

/* Send req and read the whole response. HTTPC_OK with *res filled (any
 * status code counts as success), or one of the HTTPC_ERR_* codes with a
 * one-line message in err, e.g. "cannot connect to 127.0.0.1:7071:
 * Connection refused". */
int httpc_send(const httpc_req_t *req, httpc_res_t *res, char *err, size_t errlen);

/* Like httpc_send() for a response that streams (a live log): once the
 * head of a 2xx response has arrived, each piece of its body goes to
 * on_body(data, p, n) as it arrives (nothing is kept), without a time
 * limit, until the response ends, the server closes, or on_body returns
 * nonzero (then HTTPC_OK). Any other status is read whole into res as by
 * httpc_send(). */
typedef int (*httpc_body_fn)(void *data, const char *p, size_t n);
int httpc_stream(const httpc_req_t *req, httpc_res_t *res, httpc_body_fn on_body, void *data,
                 char *err, size_t errlen);

/* The value of a response header (case-insensitive), or NULL. */
const char *httpc_res_header(const httpc_res_t *res, const char *name);

/* Release a response (a zeroed one too). */
void httpc_res_free(httpc_res_t *res);

/* Write "host:port" (or "[host]:port" for an IPv6 literal) into out. */
void httpc_format_addr(const char *host, int port, char *out, size_t outlen);

#endif
