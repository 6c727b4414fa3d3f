/*
 * server.c -- HTTP/1.1 server on libuv and the request parser (see
 * server.h).
 *
 * A connection moves through: idle (waiting for a request; closed after the
 * keep-alive timeout) -> reading (a request's bytes have begun; 408 when it
 * stalls) -> busy (the handler has the request) -> idle again, or closing.
 * Bytes that arrive while busy wait in `pending` (bounded; reading stops
 * when it fills). Answers go to `out`; a check handle writes every dirty
 * connection once per loop turn. Deadlines are checked by one sweep timer
 * instead of a timer per connection.
 */
#include "../telemetry/telemetry.h"
#include "server.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../telemetry/log.h"
#include "method.h"
#include "parser.h"
#include "path.h"

#define READ_BUF_SIZE (64 * 1024)
#define PENDING_MAX (256 * 1024) /* stop reading once this much waits */
/* Room for one more read past PENDING_MAX: bytes already read are never
 * dropped. */
#define PENDING_CAP (PENDING_MAX + READ_BUF_SIZE)
#define OUT_SOFT_MAX (4u << 20)       /* stop reading while this much is unsent */
#define OUT_HARD_MAX ((size_t)1 << 40) /* responses are bounded by the host */
#define LINGER_MS 2000
#define SWEEP_MS 250

typedef struct header_off {
    uint32_t name_off, name_len, value_off, value_len;
} header_off_t;

struct http_conn {
    uv_tcp_t tcp; /* first: a handle pointer is a connection pointer */
    http_server_t *server;
    http_conn_t *prev, *next;   /* server->conns */
    http_conn_t *dprev, *dnext; /* server->dirty */
    int in_dirty;
    reqparser_t *parser;
    http_request_t req;
    char remote[64];

    buf_t url;
    buf_t hdr;                  /* header names and values back to back */
    buf_t trl;                  /* ... and trailer fields', apart: hdr must not move
                                 * once the headers point into it */
    header_off_t hoff[HTTP_MAX_HEADER_COUNT]; /* headers, then trailers (into trl) */
    size_t nh;
    size_t nt;                  /* trailer fields, in hoff[nh..nh+nt) */
    int last_was_value;

    buf_t pending;  /* received bytes not yet parsed */
    buf_t out;      /* answer bytes not yet written */
    uv_write_t wreq;
    char *wbase;    /* the buffer uv_write is sending */
    char *wbody;    /* ... and a response body sent from its own storage */
    uv_shutdown_t sreq;

    uint64_t deadline;   /* uv_now() ms at which the sweep acts; 0 = none */
    int error_status;    /* status a callback chose for a parse error */
    const char *error_reason;
    unsigned in_request : 1; /* bytes of a request have been parsed */
    unsigned busy : 1;       /* the handler has the request */
    unsigned processing : 1; /* inside conn_process */
    unsigned reading : 1;
    unsigned writing : 1;
    unsigned close_after : 1; /* close once the output is written */
    unsigned closing : 1;     /* uv_close called */
    unsigned closed : 1;      /* close callback ran */
    unsigned lingering : 1;   /* write side shut; discarding input */
    unsigned gone : 1;        /* the peer went away */
    unsigned dropped : 1;     /* ... or rather, the server closed the connection */
    unsigned keep_alive : 1;
    unsigned is_head : 1;
    unsigned resume : 1;      /* answered outside conn_process: parse pending */
    unsigned eof : 1;         /* the peer has finished sending */
    unsigned head_done : 1;   /* headers complete: later fields are trailers */
    unsigned streaming : 1;   /* the answer is being streamed (http_stream_*) */
    unsigned chunked : 1;     /* ... with chunked transfer coding */
    unsigned stream_keep : 1; /* ... and the connection stays open after it */
    http_gone_fn gone_cb;     /* told when the client goes away while streaming */
    void *gone_data;
    http_gone_fn drain_cb;    /* told once a streamed answer's output is all written */
    void *drain_data;
    uint64_t stream_left;     /* bytes of a streamed answer of known length still due */
    size_t last_queue;        /* write queue size at the last sweep */
};

static void conn_close(http_conn_t *c);
static void read_start(http_conn_t *c);
static void conn_process(http_conn_t *c, const char *data, size_t len);
static void conn_error(http_conn_t *c, int status, const char *reason);

/* ---- status text and date ---------------------------------------------- */

const char *http_status_reason(int status)
{
    switch (status) { /* the IANA HTTP Status Code Registry (RFC 9110 and others) */
    case 100: return "Continue";
    case 101: return "Switching Protocols";
    case 102: return "Processing";
    case 103: return "Early Hints";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 203: return "Non-Authoritative Information";
    case 204: return "No Content";
    case 205: return "Reset Content";
    case 206: return "Partial Content";
    case 207: return "Multi-Status";
    case 208: return "Already Reported";
    case 226: return "IM Used";
    case 300: return "Multiple Choices";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 303: return "See Other";
    case 304: return "Not Modified";
    case 305: return "Use Proxy";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 402: return "Payment Required";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 406: return "Not Acceptable";
    case 407: return "Proxy Authentication Required";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 411: return "Length Required";
    case 412: return "Precondition Failed";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 416: return "Range Not Satisfiable";
    case 417: return "Expectation Failed";
    case 421: return "Misdirected Request";
    case 422: return "Unprocessable Content";
    case 423: return "Locked";
    case 424: return "Failed Dependency";
    case 425: return "Too Early";
    case 426: return "Upgrade Required";
    case 428: return "Precondition Required";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 451: return "Unavailable For Legal Reasons";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    case 506: return "Variant Also Negotiates";
    case 507: return "Insufficient Storage";
    case 508: return "Loop Detected";
    case 510: return "Not Extended";
    case 511: return "Network Authentication Required";
    default: return NULL;
    }
}

const char *http_status_text(int status)
{
    const char *r = http_status_reason(status);
    if (r)
        return r;
    return status < 200 ? "Informational" : status < 300 ? "Success"
           : status < 400 ? "Redirection" : status < 500 ? "Client Error" : "Server Error";
}

static const char *http_date(void)
{
    static time_t cached;
    static char text[40];
    time_t now = time(NULL);
    if (now != cached) {
        struct tm tm;
        gmtime_r(&now, &tm);
        strftime(text, sizeof text, "%a, %d %b %Y %H:%M:%S GMT", &tm);
        cached = now;
    }
    return text;
}

/* ---- dirty list ------------------------------------------------------- */

static void mark_dirty(http_conn_t *c)
{
    if (c->in_dirty || c->closing)
        return;
    http_server_t *s = c->server;
    c->in_dirty = 1;
    c->dprev = NULL;
    c->dnext = s->dirty;
    if (s->dirty)
        s->dirty->dprev = c;
    s->dirty = c;
}

static void unmark_dirty(http_conn_t *c)
{
    if (!c->in_dirty)
        return;
    if (c->dprev)
        c->dprev->dnext = c->dnext;
    else
        c->server->dirty = c->dnext;
    if (c->dnext)
        c->dnext->dprev = c->dprev;
    c->in_dirty = 0;
    c->dprev = c->dnext = NULL;
}

/* ---- parser callbacks ------------------------------------------------- */

static int on_message_begin(void *data)
{
    http_conn_t *c = data;
    c->in_request = 1;
    c->deadline = uv_now(c->server->loop) + c->server->cfg.header_timeout_ms;
    buf_reset(&c->url);
    buf_reset(&c->hdr);
    buf_reset(&c->trl);
    c->nh = 0;
    c->nt = 0;
    c->last_was_value = 0;
    c->error_status = 0;
    c->head_done = 0;
    return 0;
}

static int on_url(void *data, const char *at, size_t len)
{
    http_conn_t *c = data;
    if (buf_append(&c->url, at, len) != 0) {
        c->error_status = 414;
        c->error_reason = "request URL too long";
        return -1;
    }
    return 0;
}

static int header_bytes(http_conn_t *c, const char *at, size_t len)
{
    if (c->head_done) {
        /* A trailer field: counted with the headers against max_headers. */
        if (len > c->server->cfg.max_headers - c->hdr.len - c->trl.len ||
            buf_append(&c->trl, at, len) != 0) {
            c->error_status = 431;
            c->error_reason = "request headers and trailer fields too large";
            return -1;
        }
        return 0;
    }
    if (buf_append(&c->hdr, at, len) != 0) {
        c->error_status = 431;
        c->error_reason = "request headers too large";
        return -1;
    }
    return 0;
}

static int on_header_field(void *data, const char *at, size_t len)
{
    http_conn_t *c = data;
    /* After the head, fields are a chunked body's trailers: into trl, whose
     * offsets follow the headers' in hoff (one count for both). */
    size_t *n = c->head_done ? &c->nt : &c->nh;
    if (*n == 0 || c->last_was_value) {
        if (c->nh + c->nt == HTTP_MAX_HEADER_COUNT) {
            c->error_status = 431;
            c->error_reason = c->head_done ? "too many request headers and trailer fields"
                                           : "too many request headers";
            return -1;
        }
        header_off_t *h = &c->hoff[c->nh + c->nt];
        (*n)++;
        h->name_off = (uint32_t)(c->head_done ? c->trl.len : c->hdr.len);
        h->name_len = 0;
        h->value_off = 0;
        h->value_len = 0;
        c->last_was_value = 0;
    }
    c->hoff[c->nh + c->nt - 1].name_len += (uint32_t)len;
    /* http-parser lets spaces into names ("Content-Length : 4"); a
     * smuggling vector behind proxies, refused as RFC 9112 says. */
    if (memchr(at, ' ', len) || memchr(at, '\t', len)) {
        c->error_status = 400;
        c->error_reason = "whitespace in a header name";
        return -1;
    }
    return header_bytes(c, at, len);
}

static int on_header_value(void *data, const char *at, size_t len)
{
    http_conn_t *c = data;
    if ((c->head_done ? c->nt : c->nh) == 0)
        return -1;
    header_off_t *h = &c->hoff[c->nh + c->nt - 1];
    if (!c->last_was_value) {
        h->value_off = (uint32_t)(c->head_done ? c->trl.len : c->hdr.len);
        c->last_was_value = 1;
    }
    h->value_len += (uint32_t)len;
    return header_bytes(c, at, len);
}

/* A Host value as RFC 9112 section 3.2 wants it: uri-host [":" port],
 * uri-host a reg-name (letters, digits, "-._~", "%", the sub-delims) or
 * an IP literal in brackets; empty is allowed. Anything else ("a b",
 * "evil/x?y", "user@host") would change the URL a function is told it
 * was called with. */
static int host_valid(sv_t v)
{
    size_t i = 0;
    if (v.n && v.p[0] == '[') {
        for (i = 1; i < v.n && v.p[i] != ']'; i++)
            if (!isxdigit((unsigned char)v.p[i]) && v.p[i] != ':' && v.p[i] != '.' &&
                v.p[i] != 'v' && v.p[i] != 'V')
                return 0;
        if (i == v.n)
            return 0;
        i++;
    } else {
        for (; i < v.n && v.p[i] != ':'; i++)
            if (!isalnum((unsigned char)v.p[i]) && !strchr("-._~%!$&'()*+,;=", v.p[i]))
                return 0;
    }
    if (i < v.n && v.p[i++] != ':')
        return 0;
    for (; i < v.n; i++)
        if (!isdigit((unsigned char)v.p[i]))
            return 0;
    return 1;
}

/* The Transfer-Encoding headers of a request: 0 when absent or exactly
 * "chunked"; else the status to answer, with *why set. http-parser frames
 * "gzip, chunked" by its last coding and would hand the function bytes
 * still gzipped, with the header that says so dropped on the way to a
 * handler. */
static int transfer_coding_status(const http_request_t *r, const char **why)
{
    int chunked = 0, seen = 0;
    for (size_t i = 0; i < r->nheaders; i++) {
        if (!sv_ieq_cstr(r->headers[i].name, "Transfer-Encoding"))
            continue;
        seen = 1;
        size_t k = 0;
        sv_t coding;
        while (sv_next_list_item(r->headers[i].value, &k, &coding)) {
            if (!sv_ieq_cstr(coding, "chunked")) {
                *why = "unsupported transfer coding (only chunked is)";
                return 501;
            }
            chunked++;
        }
    }
    if (seen && r->http_major == 1 && r->http_minor == 0) {
        /* RFC 9112 section 6.1: an HTTP/1.0 message with Transfer-Encoding
         * has faulty framing. */
        *why = "Transfer-Encoding in an HTTP/1.0 request";
        return 400;
    }
    if (chunked > 1) {
        *why = "chunked applied more than once";
        return 400;
    }
    return 0;
}

/* The headers through which App Service's authentication tells a function
 * who signed in (X-MS-CLIENT-PRINCIPAL, -NAME, -ID, -IDP; X-MS-TOKEN-*):
 * Azure removes a client's own, so functions believe them. */
static int identity_header(sv_t n)
{
    if (n.n < 11 || (n.p[0] | 0x20) != 'x' || strncasecmp(n.p, "x-ms-", 5) != 0)
        return 0;
    return strncasecmp(n.p + 5, "token-", 6) == 0 ||
           (n.n >= 21 && strncasecmp(n.p + 5, "client-principal", 16) == 0);
}

static int on_headers_complete(void *data, const reqparser_head_t *head)
{
    http_conn_t *c = data;
    http_server_t *s = c->server;
    http_request_t *r = &c->req;

    c->head_done = 1;
    r->headers = arena_alloc(&r->arena, (c->nh ? c->nh : 1) * sizeof(http_header_t));
    if (!r->headers) {
        c->error_status = 500;
        return -1;
    }
    const char *base = c->hdr.p ? c->hdr.p : "";
    int hosts = 0, bad_host = 0;
    size_t j = 0;
    for (size_t i = 0; i < c->nh; i++) {
        sv_t name = sv_make(base + c->hoff[i].name_off, c->hoff[i].name_len);
        if (!s->cfg.keep_identity_headers && identity_header(name))
            continue;
        sv_t v = sv_make(c->hoff[i].value_len ? base + c->hoff[i].value_off : "",
                         c->hoff[i].value_len);
        while (v.n && (v.p[v.n - 1] == ' ' || v.p[v.n - 1] == '\t'))
            v.n--;
        r->headers[j].name = name;
        r->headers[j].value = v;
        j++;
        if (sv_ieq_cstr(name, "Host")) {
            hosts++;
            bad_host |= !host_valid(v);
        }
    }
    r->nheaders = j;
    if (hosts > 1 || (hosts == 0 && head->http_major == 1 && head->http_minor >= 1)) {
        c->error_status = 400;
        c->error_reason = hosts ? "more than one Host header" : "missing Host header";
        return -1;
    }
    if (bad_host) {
        c->error_status = 400;
        c->error_reason = "invalid Host header (expected host or host:port)";
        return -1;
    }
    /* A CONNECT turns the connection into a tunnel: http-parser ends the
     * message at its head, whatever Content-Length says, and a body would
     * be read as the next request -- one request to a proxy in front, two
     * here. Not a proxy, the host refuses it (as ASP.NET Core does one in
     * origin form) and closes the connection. */
    if (strcmp(head->method, "CONNECT") == 0) {
        c->error_status = 400;
        c->error_reason = "CONNECT is for proxies; this server is not one";
        return -1;
    }
    r->method_name = head->method;
    r->method = method_from_name(head->method, strlen(head->method));
    if (!r->method)
        r->method = METHOD_OTHER;
    r->http_major = head->http_major;
    r->http_minor = head->http_minor;
    c->keep_alive = head->keep_alive && !s->draining;
    c->is_head = r->method == METHOD_HEAD;

    int te = transfer_coding_status(r, &c->error_reason);
    if (te) {
        c->error_status = te;
        return -1;
    }
    uint64_t max_body = s->cfg.max_body;
    if (s->body_limit)
        max_body = s->body_limit(s, r, sv_make(c->url.p ? c->url.p : "", c->url.len),
                                 s->handler_data);
    if (max_body > SIZE_MAX - 1)
        max_body = SIZE_MAX - 1;
    if (r->body.cap > max_body)
        buf_free(&r->body); /* storage past the new limit would let appends pass it */
    r->body.max = (size_t)max_body;
    if (head->has_length && head->content_length > max_body) {
        c->error_status = 413;
        c->error_reason = "request body too large";
        return -1;
    }
    sv_t expect = http_request_header(r, "Expect");
    if (expect.p) {
        if (!sv_ieq_cstr(expect, "100-continue")) {
            c->error_status = 417;
            c->error_reason = "unsupported Expect header";
            return -1;
        }
        if (r->http_major == 1 && r->http_minor >= 1) {
            buf_lit(&c->out, "HTTP/1.1 100 Continue\r\n\r\n");
            mark_dirty(c);
        }
    }
    return 0;
}

static int on_body(void *data, const char *at, size_t len)
{
    http_conn_t *c = data;
    if (buf_append(&c->req.body, at, len) != 0) {
        c->error_status = 413;
        c->error_reason = "request body too large";
        return -1;
    }
    c->deadline = uv_now(c->server->loop) + c->server->cfg.header_timeout_ms;
    return 0;
}

/* The trailer fields of a chunked request, set on the request once trl no
 * longer grows. */
static int set_trailers(http_conn_t *c)
{
    http_request_t *r = &c->req;
    if (!c->nt)
        return 0;
    r->trailers = arena_alloc(&r->arena, c->nt * sizeof(http_header_t));
    if (!r->trailers) {
        c->error_status = 500;
        c->error_reason = "out of memory";
        return -1;
    }
    const char *base = c->trl.p ? c->trl.p : "";
    for (size_t i = 0; i < c->nt; i++) {
        const header_off_t *h = &c->hoff[c->nh + i];
        sv_t v = sv_make(h->value_len ? base + h->value_off : "", h->value_len);
        while (v.n && (v.p[v.n - 1] == ' ' || v.p[v.n - 1] == '\t'))
            v.n--;
        r->trailers[i].name = sv_make(base + h->name_off, h->name_len);
        r->trailers[i].value = v;
    }
    r->ntrailers = c->nt;
    return 0;
}

static int on_message_complete(void *data)
{
    if (set_trailers(data) != 0)
        return -1;
    return 1; /* pause: answer this request before parsing the next */
}

static const reqparser_callbacks_t callbacks = {
    .on_message_begin = on_message_begin,
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

/* ---- requests ---------------------------------------------------------- */

static sv_t field_value(const http_header_t *fields, size_t nfields, const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < nfields; i++)
        if (fields[i].name.n == n && strncasecmp(fields[i].name.p, name, n) == 0)
            return fields[i].value;
    return SV_NULL;
}

sv_t http_request_header(const http_request_t *req, const char *name)
{
    return field_value(req->headers, req->nheaders, name);
}

sv_t http_request_trailer(const http_request_t *req, const char *name)
{
    return field_value(req->trailers, req->ntrailers, name);
}

int http_request_gone(const http_request_t *req) { return req->conn->gone; }

int http_request_dropped(const http_request_t *req) { return req->conn->dropped; }

int http_request_eof(const http_request_t *req) { return req->conn->eof || req->conn->gone; }

/* Route, authorize and forward the path in one form: "/api/pub/../priv"
 * and "/api/pub/%2e%2e/priv" are "/api/priv" (as ASP.NET Core reads them
 * before Azure routes them), never the anonymous "pub/{*rest}" with a
 * handler behind it that resolves the dots itself. The target is rewritten
 * in the URL buffer, the query moved up behind the shorter path. */
static void normalize_path(http_conn_t *c)
{
    http_request_t *r = &c->req;
    char *base = c->url.p;
    if (!base || r->path.n == 0 || r->path.p < base || r->path.p >= base + c->url.len ||
        r->path.p[0] != '/')
        return; /* "*", or the constant "/" */
    char *p = base + (r->path.p - base);
    size_t n = http_path_normalize(p, r->path.n);
    size_t cut = r->path.n - n;
    if (cut == 0)
        return;
    const char *tail = r->path.p + r->path.n;
    size_t tail_n = (size_t)(r->target.p + r->target.n - tail);
    memmove(p + n, tail, tail_n);
    if (r->query.p >= tail && r->query.p <= tail + tail_n)
        r->query.p -= cut;
    r->path.n = n;
    r->target.n -= cut;
}

static void conn_dispatch(http_conn_t *c)
{
    http_server_t *s = c->server;
    http_request_t *r = &c->req;
    r->target = sv_make(c->url.p ? c->url.p : "/", c->url.len);
    /* The absolute form ("http://host/path?q") names the same resource. */
    sv_t t = r->target;
    if (t.n && t.p[0] != '/') {
        const char *scheme = memmem(t.p, t.n, "://", 3);
        if (scheme) {
            const char *slash = memchr(scheme + 3, '/', t.n - (size_t)(scheme + 3 - t.p));
            const char *qm = memchr(scheme + 3, '?', t.n - (size_t)(scheme + 3 - t.p));
            if (slash && (!qm || slash < qm))
                t = sv_make(slash, t.n - (size_t)(slash - t.p));
            else
                t = qm ? sv_make(qm, t.n - (size_t)(qm - t.p)) : sv_make("/", 1);
        }
    }
    const char *q = memchr(t.p, '?', t.n);
    if (q) {
        r->path = q == t.p ? sv_make("/", 1) : sv_make(t.p, (size_t)(q - t.p));
        r->query = sv_make(q + 1, t.n - (size_t)(q - t.p) - 1);
    } else {
        r->path = t; /* also "*" (OPTIONS), which no route matches */
        r->query = sv_make("", 0);
    }
    /* Strip a fragment, which clients should not send. */
    const char *frag = memchr(r->path.p, '#', r->path.n);
    if (frag)
        r->path.n = (size_t)(frag - r->path.p);
    normalize_path(c);
    r->start_ns = uv_hrtime();
    c->in_request = 0;
    c->busy = 1;
    c->deadline = 0;
    s->active_requests++;
    s->handler(r, s->handler_data);
}

static void request_reset(http_conn_t *c)
{
    http_request_t *r = &c->req;
    arena_reset(&r->arena);
    r->headers = NULL;
    r->nheaders = 0;
    r->trailers = NULL;
    r->ntrailers = 0;
    r->extra = NULL;
    r->nextra = 0;
    if (r->body.cap > READ_BUF_SIZE)
        buf_free(&r->body);
    else
        buf_reset(&r->body);
    if (c->hdr.cap > 16384)
        buf_free(&c->hdr);
    if (c->trl.cap > 16384)
        buf_free(&c->trl);
}

/* write_response_head's body_len for a streamed answer. */
#define HEAD_CHUNKED ((size_t)-1)
#define HEAD_NO_LENGTH ((size_t)-2) /* HTTP/1.0: the end of the connection ends it */

static int has_header(const http_header_t *headers, size_t n, sv_t name)
{
    for (size_t i = 0; i < n; i++)
        if (sv_ieq(headers[i].name, name))
            return 1;
    return 0;
}

/* The value of a valid Content-Length among headers (digits only), else 0. */
static size_t declared_length(const http_header_t *headers, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!sv_ieq_cstr(headers[i].name, "Content-Length"))
            continue;
        sv_t v = headers[i].value;
        size_t len = 0;
        if (!v.n || v.n > 15)
            return 0;
        for (size_t k = 0; k < v.n; k++) {
            if (v.p[k] < '0' || v.p[k] > '9')
                return 0;
            len = len * 10 + (size_t)(v.p[k] - '0');
        }
        return len;
    }
    return 0;
}

static void write_response_head(buf_t *o, int status, size_t body_len, int keep_alive,
                                const http_header_t *headers, size_t nheaders, int http10,
                                const http_request_t *req)
{
    buf_lit(o, "HTTP/1.1 ");
    buf_put_uint(o, (unsigned)status);
    buf_putc(o, ' ');
    buf_puts(o, http_status_text(status));
    buf_lit(o, "\r\nDate: ");
    buf_puts(o, http_date());
    buf_lit(o, "\r\n");
    if (body_len == HEAD_CHUNKED)
        buf_lit(o, "Transfer-Encoding: chunked\r\n");
    else if (body_len == HEAD_NO_LENGTH)
        ;
    else if (status >= 200 && status != 204 && status != 304) {
        buf_lit(o, "Content-Length: ");
        buf_put_uint(o, body_len);
        buf_lit(o, "\r\n");
    }
    if (!keep_alive)
        buf_lit(o, "Connection: close\r\n");
    else if (http10)
        buf_lit(o, "Connection: keep-alive\r\n");
    for (size_t i = 0; i < nheaders; i++) {
        sv_t n = headers[i].name;
        if (sv_ieq_cstr(n, "Content-Length") || sv_ieq_cstr(n, "Transfer-Encoding") ||
            sv_ieq_cstr(n, "Connection") || sv_ieq_cstr(n, "Date"))
            continue;
        buf_append(o, n.p, n.n);
        buf_append(o, ": ", 2);
        buf_append(o, headers[i].value.p, headers[i].value.n);
        buf_append(o, "\r\n", 2);
    }
    for (size_t i = 0; req && i < req->nextra; i++) {
        if (has_header(headers, nheaders, req->extra[i].name))
            continue;
        buf_append(o, req->extra[i].name.p, req->extra[i].name.n);
        buf_append(o, ": ", 2);
        buf_append(o, req->extra[i].value.p, req->extra[i].value.n);
        buf_append(o, "\r\n", 2);
    }
    buf_append(o, "\r\n", 2);
}

/* The handler is done with the request: release it and go on with the
 * connection (the answer is in c->out). */
static void answer_done(http_conn_t *c, int keep_alive)
{
    http_server_t *s = c->server;
    request_reset(c);
    if (!keep_alive)
        c->close_after = 1;
    c->deadline = uv_now(s->loop) + s->cfg.keepalive_timeout_ms;
    if (!c->processing)
        c->resume = 1;
    mark_dirty(c);
}

/* The handler gives the request back; 1 when the connection is closing
 * (the request is then released and nothing is to be written). */
static int release_busy(http_conn_t *c)
{
    c->busy = 0;
    c->streaming = 0;
    c->gone_cb = NULL;
    c->drain_cb = NULL;
    c->server->active_requests--;
    if (c->closing) {
        request_reset(c);
        if (c->closed)
            conn_close(c); /* frees now that nobody holds the request */
        return 1;
    }
    return 0;
}

/* Bodies from this size on are written from their own storage by
 * http_respond_take() rather than copied behind the head. */
#define TAKE_MIN (64u << 10)

static void on_write(uv_write_t *w, int status);
static void read_stop(http_conn_t *c);

/* Queue the head in c->out and the body, whose storage is taken from
 * body, behind it in one write, so that a large body is never copied.
 * Returns 0, or -1 (nothing taken) when a write is already under way: the
 * answer must then go behind it through c->out. */
static int write_with_body(http_conn_t *c, buf_t *body)
{
    if (c->writing || c->closing)
        return -1;
    size_t head = c->out.len, n = body->len;
    c->wbase = buf_steal(&c->out);
    buf_init(&c->out, OUT_HARD_MAX);
    c->wbody = buf_steal(body);
    uv_buf_t b[2] = {uv_buf_init(c->wbase, (unsigned)head), uv_buf_init(c->wbody, (unsigned)n)};
    c->wreq.data = c;
    if (uv_write(&c->wreq, (uv_stream_t *)&c->tcp, b, 2, on_write) != 0) {
        free(c->wbase);
        free(c->wbody);
        c->wbase = c->wbody = NULL;
        c->gone = 1;
        c->close_after = 1;
        return 0;
    }
    c->writing = 1;
    if (n > OUT_SOFT_MAX)
        read_stop(c);
    return 0;
}

/* 1 when the answer's own headers ask to close the connection after it
 * (a "close" option in Connection), as ASP.NET Core honours it. */
static int asks_close(const http_header_t *headers, size_t nheaders)
{
    for (size_t i = 0; i < nheaders; i++) {
        if (!sv_ieq_cstr(headers[i].name, "Connection"))
            continue;
        sv_t v = headers[i].value;
        for (size_t k = 0; k + 5 <= v.n; k++)
            if (strncasecmp(v.p + k, "close", 5) == 0 &&
                (k == 0 || v.p[k - 1] == ',' || v.p[k - 1] == ' ' || v.p[k - 1] == '\t') &&
                (k + 5 == v.n || v.p[k + 5] == ',' || v.p[k + 5] == ' ' || v.p[k + 5] == '\t'))
                return 1;
    }
    return 0;
}

static void respond(http_request_t *req, int status, const http_header_t *headers,
                    size_t nheaders, const void *body, size_t body_len, buf_t *take)
{
    http_conn_t *c = req->conn;
    http_server_t *s = c->server;
    if (c->streaming) {
        http_stream_end(req);
        return;
    }
    telemetry_http(status);
    if (!c->busy)
        return; /* answered twice: ignore */
    if (release_busy(c))
        return;
    if (status < 200 || status > 599)
        status = 500; /* 1xx would not end the exchange */
    int keep_alive = c->keep_alive && !s->draining && !c->close_after &&
                     !asks_close(headers, nheaders);
    int http10 = req->http_major == 1 && req->http_minor == 0;
    if (!body)
        body_len = 0;
    /* HEAD: a handler that says how long the GET answer is (and sends no
     * body) keeps its Content-Length; else the length of what it sent. */
    size_t head_len = c->is_head && !body_len ? declared_length(headers, nheaders) : body_len;
    write_response_head(&c->out, status, head_len, keep_alive, headers, nheaders, http10, req);
    int has_body = body_len && !c->is_head && status >= 200 && status != 204 && status != 304;
    if (has_body && (!take || write_with_body(c, take) != 0))
        buf_append(&c->out, body, body_len);
    answer_done(c, keep_alive);
}

void http_respond(http_request_t *req, int status, const http_header_t *headers,
                  size_t nheaders, const void *body, size_t body_len)
{
    respond(req, status, headers, nheaders, body, body_len, NULL);
}

void http_respond_take(http_request_t *req, int status, const http_header_t *headers,
                       size_t nheaders, buf_t *body)
{
    respond(req, status, headers, nheaders, body->p, body->len,
            body->len >= TAKE_MIN ? body : NULL);
}

/* ---- streamed answers -------------------------------------------------- */

int http_stream_start(http_request_t *req, int status, const http_header_t *headers,
                      size_t nheaders, http_gone_fn gone, void *data)
{
    return http_stream_start_len(req, status, headers, nheaders, HTTP_STREAM_NO_LENGTH, gone,
                                 data);
}

int http_stream_start_len(http_request_t *req, int status, const http_header_t *headers,
                          size_t nheaders, uint64_t length, http_gone_fn gone, void *data)
{
    http_conn_t *c = req->conn;
    http_server_t *s = c->server;
    if (!c->busy || c->streaming || c->closing || c->gone)
        return -1;
    if (status < 200 || status > 599 || status == 204 || status == 304)
        status = 500;
    telemetry_http(status);
    int http10 = req->http_major == 1 && req->http_minor == 0;
    int known = length != HTTP_STREAM_NO_LENGTH && length < HEAD_NO_LENGTH;
    int keep_alive = c->keep_alive && !s->draining && !c->close_after && (known || !http10) &&
                     !asks_close(headers, nheaders);
    write_response_head(&c->out, status,
                        known ? (size_t)length : http10 ? HEAD_NO_LENGTH : HEAD_CHUNKED,
                        keep_alive, headers, nheaders, http10, req);
    c->streaming = 1;
    c->chunked = !known && !http10;
    c->stream_left = known ? length : HTTP_STREAM_NO_LENGTH;
    c->stream_keep = keep_alive;
    c->gone_cb = gone;
    c->gone_data = data;
    mark_dirty(c);
    return 0;
}

int http_stream_write(http_request_t *req, const void *p, size_t n)
{
    http_conn_t *c = req->conn;
    if (!c->busy || !c->streaming || c->closing || c->gone)
        return -1;
    if (!n || c->is_head)
        return 0;
    if (c->stream_left != HTTP_STREAM_NO_LENGTH) {
        if (n > c->stream_left)
            n = (size_t)c->stream_left; /* never more than the head announced */
        c->stream_left -= n;
    }
    if (c->chunked) {
        char size[24];
        int k = snprintf(size, sizeof size, "%zx\r\n", n);
        buf_append(&c->out, size, (size_t)k);
    }
    buf_append(&c->out, p, n);
    if (c->chunked)
        buf_lit(&c->out, "\r\n");
    mark_dirty(c);
    return 0;
}

size_t http_stream_unsent(const http_request_t *req)
{
    const http_conn_t *c = req->conn;
    size_t n = c->out.len;
    if (c->writing)
        n += uv_stream_get_write_queue_size((const uv_stream_t *)&c->tcp);
    return n;
}

void http_stream_end(http_request_t *req)
{
    http_conn_t *c = req->conn;
    if (!c->busy || !c->streaming)
        return;
    if (c->stream_left != HTTP_STREAM_NO_LENGTH && c->stream_left && !c->is_head) {
        http_stream_abort(req); /* shorter than announced */
        return;
    }
    int chunked = c->chunked && !c->is_head, keep_alive = c->stream_keep;
    if (release_busy(c))
        return;
    if (chunked)
        buf_lit(&c->out, "0\r\n\r\n");
    answer_done(c, keep_alive);
}

void http_stream_abort(http_request_t *req)
{
    http_conn_t *c = req->conn;
    if (!c->busy || !c->streaming)
        return;
    if (release_busy(c))
        return;
    /* No last chunk, or fewer bytes than announced, then the end of the
     * connection: the client can tell the answer is incomplete. */
    answer_done(c, 0);
}

void http_request_on_gone(http_request_t *req, http_gone_fn fn, void *data)
{
    http_conn_t *c = req->conn;
    if (!c->busy)
        return;
    c->gone_cb = fn;
    c->gone_data = data;
}

void http_stream_on_drain(http_request_t *req, http_gone_fn fn, void *data)
{
    http_conn_t *c = req->conn;
    if (!c->busy || !c->streaming)
        return;
    c->drain_cb = fn;
    c->drain_data = data;
    mark_dirty(c); /* told from the next flush if nothing is waiting */
}

/* ---- connection I/O ---------------------------------------------------- */

static void maybe_closed(http_server_t *s);

static void conn_free(http_conn_t *c)
{
    http_server_t *s = c->server;
    unmark_dirty(c);
    if (c->prev)
        c->prev->next = c->next;
    else
        s->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    s->nconns--;
    reqparser_free(c->parser);
    arena_free(&c->req.arena);
    buf_free(&c->req.body);
    buf_free(&c->url);
    buf_free(&c->hdr);
    buf_free(&c->trl);
    buf_free(&c->pending);
    buf_free(&c->out);
    free(c->wbase);
    free(c->wbody);
    free(c);
    if (s->draining && s->nconns == 0 && s->drained_cb) {
        void (*cb)(http_server_t *) = s->drained_cb;
        s->drained_cb = NULL;
        cb(s);
    }
    maybe_closed(s);
}

/* After http_server_close_cb: tell the owner once nothing is left. */
static void maybe_closed(http_server_t *s)
{
    if (s->closed_cb && s->handles_open == 0 && s->nconns == 0) {
        void (*cb)(http_server_t *) = s->closed_cb;
        s->closed_cb = NULL;
        cb(s);
    }
}

static void on_close(uv_handle_t *h)
{
    http_conn_t *c = (http_conn_t *)h;
    c->closed = 1;
    if (!c->busy)
        conn_free(c);
}

static void conn_close(http_conn_t *c)
{
    if (c->closed && !c->busy) {
        conn_free(c);
        return;
    }
    if (c->closing)
        return;
    c->closing = 1;
    unmark_dirty(c);
    if (c->busy)
        c->gone = 1;
    uv_close((uv_handle_t *)&c->tcp, on_close);
    if (c->busy && c->gone_cb) {
        http_gone_fn cb = c->gone_cb;
        c->gone_cb = NULL;
        cb(&c->req, c->gone_data);
    }
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
    http_conn_t *c = req->data;
    /* Otherwise keep reading and dropping input a little while (until EOF
     * or the linger deadline), so unread request bytes do not turn the
     * close into a reset that eats our answer. */
    if (status < 0 || c->gone || c->eof)
        conn_close(c);
}

static void conn_finish(http_conn_t *c)
{
    if (c->closing || c->lingering)
        return;
    if (c->gone) {
        conn_close(c);
        return;
    }
    c->sreq.data = c;
    if (uv_shutdown(&c->sreq, (uv_stream_t *)&c->tcp, on_shutdown) != 0) {
        conn_close(c);
        return;
    }
    c->lingering = 1;
    c->deadline = uv_now(c->server->loop) + LINGER_MS;
    if (c->eof)
        return; /* nothing more will come; on_shutdown closes */
    buf_reset(&c->pending);
    read_start(c);
}

static void conn_flush(http_conn_t *c);

static void on_write(uv_write_t *w, int status)
{
    http_conn_t *c = w->data;
    free(c->wbase);
    free(c->wbody);
    c->wbase = c->wbody = NULL;
    c->writing = 0;
    if (c->closing)
        return;
    if (status < 0) {
        c->gone = 1;
        conn_close(c);
        return;
    }
    c->deadline = uv_now(c->server->loop) + c->server->cfg.keepalive_timeout_ms;
    conn_flush(c);
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *b);
static void read_cb(uv_stream_t *st, ssize_t nread, const uv_buf_t *b);

static void read_start(http_conn_t *c)
{
    if (c->reading || c->closing || c->eof)
        return;
    if (uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, read_cb) == 0)
        c->reading = 1;
}

static void read_stop(http_conn_t *c)
{
    if (!c->reading)
        return;
    uv_read_stop((uv_stream_t *)&c->tcp);
    c->reading = 0;
}

static void conn_flush(http_conn_t *c)
{
    if (c->closing || c->writing)
        return;
    if (c->out.len) {
        uv_buf_t b = uv_buf_init(c->out.p, (unsigned)c->out.len);
        int n = uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
        if (n == (int)c->out.len) {
            if (c->out.cap > OUT_SOFT_MAX)
                buf_free(&c->out);
            else
                buf_reset(&c->out);
        } else if (n < 0 && n != UV_EAGAIN) {
            c->gone = 1;
            conn_close(c);
            return;
        } else {
            size_t done = n > 0 ? (size_t)n : 0;
            size_t total = c->out.len;
            c->wbase = buf_steal(&c->out);
            buf_init(&c->out, OUT_HARD_MAX);
            uv_buf_t rest = uv_buf_init(c->wbase + done, (unsigned)(total - done));
            c->wreq.data = c;
            if (uv_write(&c->wreq, (uv_stream_t *)&c->tcp, &rest, 1, on_write) != 0) {
                c->gone = 1;
                conn_close(c);
                return;
            }
            c->writing = 1;
            if (total - done > OUT_SOFT_MAX)
                read_stop(c);
            return;
        }
    }
    if (c->drain_cb && c->busy && c->streaming) {
        /* Everything is written: the streamer may send more. It writes
         * through c->out and marks c dirty, so the flush comes again. */
        http_gone_fn cb = c->drain_cb;
        c->drain_cb = NULL;
        cb(&c->req, c->drain_data);
        return;
    }
    if (!c->busy && (c->close_after || (c->eof && !c->pending.len))) {
        conn_finish(c);
        return;
    }
    if (!c->reading && !c->busy && c->pending.len < PENDING_MAX)
        read_start(c);
}

/* The errorType of a JSON error document, in AWS's words. */
static const char *aws_error_type(int status)
{
    switch (status) {
    case 408: return "RequestTimeout";
    case 413: return "RequestEntityTooLarge";
    case 414: return "RequestURITooLong";
    case 431: return "RequestHeaderFieldsTooLarge";
    case 503: return "ServiceUnavailable";
    default: return status >= 500 ? "ServiceException" : "InvalidRequest";
    }
}

static void conn_error(http_conn_t *c, int status, const char *reason)
{
    if (!reason)
        reason = http_status_text(status);
    /* The body is built in a buffer of its own (an error is rare): the
     * JSON form escapes the reason with the project's JSON escaping. */
    buf_t body;
    buf_init(&body, 1024);
    static const http_header_t ct_text = {{"Content-Type", 12},
                                          {"text/plain; charset=utf-8", 25}};
    static const http_header_t ct_json = {{"Content-Type", 12}, {"application/json", 16}};
    const http_header_t *ct = &ct_text;
    if (c->server->cfg.json_errors) {
        buf_printf(&body, "{\"errorMessage\":\"%d %s: ", status, http_status_text(status));
        buf_json_escape_utf8(&body, reason, strlen(reason));
        buf_printf(&body, "\",\"errorType\":\"%s\"}", aws_error_type(status));
        ct = &ct_json;
    } else {
        buf_printf(&body, "%d %s: %s\n", status, http_status_text(status), reason);
    }
    c->is_head = 0;
    /* A request refused once its target is known (its headers began). */
    if ((status == 413 || status == 431 || status == 400) && (c->head_done || c->nh > 0) &&
        c->server->refused)
        c->server->refused(c->server, c->req.method_name ? sv_cstr(c->req.method_name) : SV_NULL,
                           sv_make(c->url.p ? c->url.p : "", c->url.len), status,
                           c->server->handler_data);
    write_response_head(&c->out, status, body.len, 0, ct, 1, 0, NULL);
    if (body.len)
        buf_append(&c->out, body.p, body.len);
    buf_free(&body);
    c->close_after = 1;
    c->in_request = 0;
    buf_reset(&c->pending);
    read_stop(c);
    mark_dirty(c);
    log_write(LOG_DEBUG, "Host.Http", NULL, "%s: answered %d (%s)", c->remote, status, reason);
}

static void conn_process(http_conn_t *c, const char *data, size_t len)
{
    c->processing = 1;
    while (len > 0 && !c->busy && !c->close_after && !c->closing) {
        size_t used = 0;
        int rc = reqparser_feed(c->parser, data, len, &used);
        data += used;
        len -= used;
        if (rc == PARSE_PAUSED) {
            reqparser_resume(c->parser);
            conn_dispatch(c);
            continue;
        }
        if (rc == PARSE_ERROR) {
            if (c->error_status)
                conn_error(c, c->error_status, c->error_reason);
            else
                conn_error(c, 400, reqparser_error(c->parser));
            len = 0;
            break;
        }
        len = 0; /* all consumed */
    }
    c->processing = 0;
    if (len > 0 && !c->close_after && !c->closing) {
        if (buf_append(&c->pending, data, len) != 0) {
            conn_error(c, 431, "too much pipelined input");
            return;
        }
    }
    if (c->pending.len >= PENDING_MAX)
        read_stop(c);
}

static void process_pending(http_conn_t *c)
{
    if (!c->pending.len || c->busy || c->closing)
        return;
    buf_t p = c->pending;
    buf_init(&c->pending, PENDING_CAP);
    conn_process(c, p.p, p.len);
    buf_free(&p);
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
    http_conn_t *c = (http_conn_t *)h;
    http_server_t *s = c->server;
    (void)suggested;
    if (!s->rbuf_in_use) {
        s->rbuf_in_use = 1;
        *b = uv_buf_init(s->rbuf, (unsigned)s->rbuf_size);
        return;
    }
    char *p = malloc(READ_BUF_SIZE);
    *b = uv_buf_init(p, p ? READ_BUF_SIZE : 0);
}

static void release_buf(http_server_t *s, const uv_buf_t *b)
{
    if (b->base == s->rbuf)
        s->rbuf_in_use = 0;
    else
        free(b->base);
}

static void read_cb(uv_stream_t *st, ssize_t nread, const uv_buf_t *b)
{
    http_conn_t *c = (http_conn_t *)st;
    http_server_t *s = c->server;
    if (nread < 0) {
        release_buf(s, b);
        read_stop(c);
        if (nread != UV_EOF || c->lingering) {
            if (nread != UV_EOF)
                c->gone = 1;
            conn_close(c);
            return;
        }
        /* A client that stops sending while an answer streams has gone
         * (a stream has no end it could wait for). */
        if (c->streaming) {
            c->gone = 1;
            conn_close(c);
            return;
        }
        /* The client finished sending; answer what it asked, then close. */
        c->eof = 1;
        if (c->busy && c->gone_cb) {
            /* A handler that asked (a proxy) gives up on the request. */
            http_gone_fn cb = c->gone_cb;
            c->gone_cb = NULL;
            cb(&c->req, c->gone_data);
            if (c->closing)
                return;
        }
        if (c->in_request && !c->busy) {
            conn_close(c); /* a request cut short */
            return;
        }
        if (c->busy || c->out.len || c->writing || c->pending.len) {
            if (!c->busy)
                process_pending(c);
            mark_dirty(c);
        } else {
            conn_close(c);
        }
        return;
    }
    if (nread == 0 || c->lingering || c->closing) {
        release_buf(s, b);
        return;
    }
    if (c->busy || c->pending.len) {
        if (buf_append(&c->pending, b->base, (size_t)nread) != 0) {
            release_buf(s, b);
            conn_error(c, 500, "input buffer overflow");
            return;
        }
        if (c->pending.len >= PENDING_MAX)
            read_stop(c);
        release_buf(s, b);
        return;
    }
    if (!c->in_request)
        c->deadline = uv_now(s->loop) + s->cfg.header_timeout_ms;
    conn_process(c, b->base, (size_t)nread);
    release_buf(s, b);
    if (c->out.len || c->close_after)
        mark_dirty(c);
}

/* ---- server ------------------------------------------------------------ */

static void flush_cb(uv_check_t *h)
{
    http_server_t *s = h->data;
    while (s->dirty) {
        http_conn_t *c = s->dirty;
        unmark_dirty(c);
        if (c->resume) {
            c->resume = 0;
            process_pending(c);
            if (c->in_dirty)
                unmark_dirty(c);
        }
        conn_flush(c);
    }
    log_flush();
}

static void sweep_cb(uv_timer_t *t)
{
    http_server_t *s = t->data;
    uint64_t now = uv_now(s->loop);
    http_conn_t *c = s->conns;
    while (c) {
        http_conn_t *next = c->next;
        if (c->writing) {
            /* A slow reader that still makes progress is not idle. */
            size_t q = uv_stream_get_write_queue_size((uv_stream_t *)&c->tcp);
            if (q != c->last_queue)
                c->deadline = now + s->cfg.keepalive_timeout_ms;
            c->last_queue = q;
        }
        if (c->deadline && now >= c->deadline && !c->busy && !c->closing) {
            if (c->lingering || c->writing) {
                c->gone = 1;
                conn_close(c);
            } else if (c->in_request) {
                conn_error(c, 408, "request not received in time");
                conn_flush(c);
            } else {
                conn_close(c); /* idle keep-alive connection */
            }
        }
        c = next;
    }
}

static void on_connection(uv_stream_t *ls, int status)
{
    http_server_t *s = ls->data;
    if (status < 0) {
        log_error("accept: %s", uv_strerror(status));
        return;
    }
    http_conn_t *c = calloc(1, sizeof *c);
    if (!c)
        return;
    c->server = s;
    uv_tcp_init(s->loop, &c->tcp);
    c->parser = reqparser_new(&callbacks, c);
    arena_init(&c->req.arena, 4096);
    buf_init(&c->req.body, (size_t)s->cfg.max_body);
    buf_init(&c->url, s->cfg.max_url);
    buf_init(&c->hdr, s->cfg.max_headers);
    buf_init(&c->trl, s->cfg.max_headers);
    buf_init(&c->pending, PENDING_CAP);
    buf_init(&c->out, OUT_HARD_MAX);
    c->req.conn = c;
    c->next = s->conns;
    if (s->conns)
        s->conns->prev = c;
    s->conns = c;
    s->nconns++;
    if (!c->parser || uv_accept(ls, (uv_stream_t *)&c->tcp) != 0) {
        conn_close(c);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    struct sockaddr_storage ss;
    int len = sizeof ss;
    if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &len) == 0) {
        if (ss.ss_family == AF_INET6)
            uv_ip6_name((struct sockaddr_in6 *)&ss, c->remote, sizeof c->remote);
        else
            uv_ip4_name((struct sockaddr_in *)&ss, c->remote, sizeof c->remote);
    }
    memcpy(c->req.remote_addr, c->remote, sizeof c->remote);
    len = sizeof ss;
    if (uv_tcp_getsockname(&c->tcp, (struct sockaddr *)&ss, &len) == 0)
        c->req.local_port = ntohs(ss.ss_family == AF_INET6
                                      ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                      : ((struct sockaddr_in *)&ss)->sin_port);
    c->deadline = uv_now(s->loop) + s->cfg.header_timeout_ms;
    if (s->nconns > s->cfg.max_connections) {
        log_warn("connection limit (%zu) reached; refusing %s", s->cfg.max_connections, c->remote);
        conn_error(c, 503, "too many connections");
        return;
    }
    read_start(c);
}

int http_server_init(http_server_t *s, uv_loop_t *loop, const http_server_config_t *cfg,
                     http_handler_fn handler, void *data)
{
    memset(s, 0, sizeof *s);
    s->loop = loop;
    s->cfg = *cfg;
    if (!s->cfg.max_url)
        s->cfg.max_url = HTTP_MAX_URL;
    if (!s->cfg.max_headers)
        s->cfg.max_headers = HTTP_MAX_HEADERS_BYTES;
    if (!s->cfg.max_connections)
        s->cfg.max_connections = 10000;
    if (!s->cfg.header_timeout_ms)
        s->cfg.header_timeout_ms = 30000;
    if (!s->cfg.keepalive_timeout_ms)
        s->cfg.keepalive_timeout_ms = 120000;
    s->handler = handler;
    s->handler_data = data;
    s->rbuf_size = READ_BUF_SIZE;
    s->rbuf = malloc(s->rbuf_size);
    if (!s->rbuf)
        return UV_ENOMEM;
    int rc = uv_tcp_init(loop, &s->listener);
    if (rc)
        return rc;
    s->listener.data = s;
    uv_check_init(loop, &s->flush_check);
    s->flush_check.data = s;
    uv_check_start(&s->flush_check, flush_cb);
    uv_unref((uv_handle_t *)&s->flush_check);
    uv_timer_init(loop, &s->sweep_timer);
    s->sweep_timer.data = s;
    uv_timer_start(&s->sweep_timer, sweep_cb, SWEEP_MS, SWEEP_MS);
    uv_unref((uv_handle_t *)&s->sweep_timer);
    return 0;
}

int http_listener_bind(const char *host, int port, int *fd, int *bound_port)
{
    struct sockaddr_storage ss;
    int rc;
    int v6 = strchr(host, ':') != NULL;
    if (v6)
        rc = uv_ip6_addr(host, port, (struct sockaddr_in6 *)&ss);
    else
        rc = uv_ip4_addr(host, port, (struct sockaddr_in *)&ss);
    if (rc)
        return rc;
    int s = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (s < 0)
        return -errno;
    int on = 1; /* as libuv binds: a port in TIME_WAIT can be taken again */
    socklen_t len = v6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
    if (setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) != 0 ||
        bind(s, (const struct sockaddr *)&ss, len) != 0) {
        rc = -errno;
        close(s);
        return rc;
    }
    len = sizeof ss;
    if (getsockname(s, (struct sockaddr *)&ss, &len) != 0) {
        rc = -errno;
        close(s);
        return rc;
    }
    *bound_port = ntohs(v6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                           : ((struct sockaddr_in *)&ss)->sin_port);
    *fd = s;
    return 0;
}

int http_server_listen_fd(http_server_t *s, int fd)
{
    int rc = uv_tcp_open(&s->listener, fd);
    if (rc) {
        close(fd);
        return rc;
    }
    rc = uv_listen((uv_stream_t *)&s->listener, 511, on_connection);
    if (rc)
        return rc;
    s->listening = 1;
    return 0;
}

int http_server_listen(http_server_t *s, const char *host, int port)
{
    int fd, bound;
    int rc = http_listener_bind(host, port, &fd, &bound);
    return rc ? rc : http_server_listen_fd(s, fd);
}

int http_server_port(http_server_t *s)
{
    struct sockaddr_storage ss;
    int len = sizeof ss;
    if (uv_tcp_getsockname(&s->listener, (struct sockaddr *)&ss, &len) != 0)
        return -1;
    if (ss.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

void http_server_drain(http_server_t *s, void (*cb)(http_server_t *s))
{
    s->draining = 1;
    s->drained_cb = cb;
    if (s->listening) {
        s->listening = 0;
        uv_close((uv_handle_t *)&s->listener, NULL);
    }
    http_conn_t *c = s->conns;
    while (c) {
        http_conn_t *next = c->next;
        /* Idle connections close now; the others finish the request they
         * are reading or running, and http_respond closes them after it. */
        if (!c->busy && !c->in_request && !c->out.len && !c->writing && !c->pending.len)
            conn_close(c);
        c = next;
    }
    if (s->nconns == 0 && s->drained_cb) {
        s->drained_cb = NULL;
        cb(s);
    }
}

void http_server_close(http_server_t *s)
{
    s->drained_cb = NULL;
    s->draining = 1;
    if (s->listening) {
        s->listening = 0;
        uv_close((uv_handle_t *)&s->listener, NULL);
    }
    http_conn_t *c = s->conns;
    while (c) {
        http_conn_t *next = c->next;
        c->gone = c->dropped = 1;
        conn_close(c);
        c = next;
    }
    if (!uv_is_closing((uv_handle_t *)&s->flush_check))
        uv_close((uv_handle_t *)&s->flush_check, NULL);
    if (!uv_is_closing((uv_handle_t *)&s->sweep_timer))
        uv_close((uv_handle_t *)&s->sweep_timer, NULL);
}

static void server_handle_closed(uv_handle_t *h)
{
    http_server_t *s = h->data;
    s->handles_open--;
    maybe_closed(s);
}

void http_server_close_cb(http_server_t *s, void (*cb)(http_server_t *s))
{
    s->drained_cb = NULL;
    s->draining = 1;
    s->listening = 0;
    s->handles_open = 0;
    s->closed_cb = NULL; /* set once the handles are counted */
    uv_handle_t *own[] = {(uv_handle_t *)&s->listener, (uv_handle_t *)&s->flush_check,
                          (uv_handle_t *)&s->sweep_timer};
    for (size_t i = 0; i < sizeof own / sizeof own[0]; i++)
        if (!uv_is_closing(own[i])) {
            own[i]->data = s;
            uv_close(own[i], server_handle_closed);
            s->handles_open++;
        }
    s->closed_cb = cb;
    http_conn_t *c = s->conns;
    while (c) {
        http_conn_t *next = c->next;
        c->gone = c->dropped = 1;
        conn_close(c);
        c = next;
    }
    maybe_closed(s); /* when nothing was open */
}

void http_server_on_refused(http_server_t *s, http_refused_fn fn) { s->refused = fn; }

void http_server_on_body_limit(http_server_t *s, http_body_limit_fn fn) { s->body_limit = fn; }

void http_server_free(http_server_t *s)
{
    free(s->rbuf);
    s->rbuf = NULL;
}
