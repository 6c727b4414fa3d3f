/*
 * bench/ceiling/host.c -- a minimal host of Stratus's design, the ceiling
 * that bench/ceiling/run measures.
 *
 * It does what Stratus's host does on the path of an HTTP request to a
 * language worker, and nothing else:
 *
 *   - it accepts connections on 127.0.0.1:PORT (libuv) and parses HTTP/1.x
 *     requests with http-parser;
 *   - for every complete request it appends an invoke frame to a buffer;
 *   - once per loop turn (a uv_check handle, which runs after the loop has
 *     handled every readable socket) it writes that buffer, the invoke frames
 *     of the whole turn, to the worker in one write;
 *   - it reads the worker's answer frames and writes each one to its
 *     connection as an HTTP/1.1 200 answer with Content-Length (keep-alive
 *     unless the request asked for the connection to be closed).
 *
 * No routing, no invocation ids, no logs, metrics or history: whatever
 * Stratus spends on those is the distance between it and this program.
 *
 * Frames, in both directions, over a socketpair (the worker's end is its
 * file descriptor 3):
 *
 *     [u32 length][u32 connection id][payload]
 *
 * little-endian, length counting the id and the payload. An invoke frame's
 * payload is the request target (the URL); an answer frame's is the response
 * body. The worker answers a connection's requests in the order it got them,
 * and may answer all the frames of one read in one write.
 *
 * Usage: host PORT WORKER_COMMAND [ARG...]
 *
 * The host exits with status 1 when the worker exits or closes its socket,
 * and with status 2 when it cannot start.
 *
 * Build: cc -O2 -o host host.c -luv -lhttp_parser
 */

#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <http_parser.h>
#include <uv.h>

#define MAX_CONNS 65536u             /* connection table size, a power of two */
#define MAX_URL 4096                 /* a longer request target closes the connection */
#define MAX_FRAME (16u << 20)        /* a longer answer frame is a protocol error */
#define READ_CHUNK 65536             /* bytes per read */

/* One client connection. The TCP handle comes first, so that the handle's
 * address is the connection's. */
typedef struct conn {
    uv_tcp_t tcp;
    uv_shutdown_t shutdown;
    http_parser parser;
    uint32_t id;                     /* its key in conns[], sent in its frames */
    unsigned inflight;               /* requests sent to the worker, not answered yet */
    int last;                        /* the last request asked to close the connection */
    size_t url_len;
    char url[MAX_URL];
} conn_t;

/* The part of a write the socket did not take at once: the request and a
 * copy of the bytes, freed when libuv has written them. */
typedef struct {
    uv_write_t req;
    char data[];
} later_write_t;

static uv_loop_t *loop;
static http_parser_settings settings;

static conn_t *conns[MAX_CONNS];     /* open connections, by id % MAX_CONNS */
static unsigned nconns;
static uint32_t next_id = 1;

static uv_pipe_t worker;             /* the host's end of the socketpair */
static uv_process_t worker_process;
static uv_check_t flush_check;

static char *out;                    /* invoke frames of this loop turn */
static size_t out_len, out_cap;
static char *in;                     /* bytes read from the worker, not yet used */
static size_t in_len, in_cap;
static char *answer_buf;             /* one HTTP answer */
static size_t answer_cap;

/* --- helpers ------------------------------------------------------------ */

static void fail(const char *what, int err)
{
    fprintf(stderr, "ceiling host: %s: %s\n", what, uv_strerror(err));
    exit(1);
}

/* grow: make *buf hold at least need bytes. */
static void grow(char **buf, size_t *cap, size_t need)
{
    if (need <= *cap)
        return;
    size_t n = *cap ? *cap : 4096;
    while (n < need)
        n *= 2;
    char *p = realloc(*buf, n);
    if (!p) {
        fprintf(stderr, "ceiling host: out of memory\n");
        exit(1);
    }
    *buf = p;
    *cap = n;
}

static void put_u32le(char *p, uint32_t v)
{
    p[0] = (char)(v & 0xff);
    p[1] = (char)((v >> 8) & 0xff);
    p[2] = (char)((v >> 16) & 0xff);
    p[3] = (char)((v >> 24) & 0xff);
}

static uint32_t get_u32le(const char *p)
{
    const unsigned char *u = (const unsigned char *)p;
    return (uint32_t)u[0] | (uint32_t)u[1] << 8 | (uint32_t)u[2] << 16 | (uint32_t)u[3] << 24;
}

static void later_write_done(uv_write_t *req, int status)
{
    /* A failed write to a client shows on its read side too, which closes
     * the connection; a failed write to the worker is fatal. */
    if (status < 0 && req->handle == (uv_stream_t *)&worker)
        fail("writing to the worker", status);
    free(req);
}

/* write_all: write len bytes of data to stream s: what the socket takes now
 * (uv_try_write), and the rest, copied, with uv_write. libuv keeps the
 * order: uv_try_write writes nothing while an earlier uv_write is queued.
 * Returns 0 or a libuv error. */
static int write_all(uv_stream_t *s, const char *data, size_t len)
{
    uv_buf_t b = uv_buf_init((char *)data, (unsigned)len);
    int n = uv_try_write(s, &b, 1);
    if (n == UV_EAGAIN)
        n = 0;
    if (n < 0)
        return n;
    if ((size_t)n == len)
        return 0;
    later_write_t *w = malloc(sizeof *w + (len - (size_t)n));
    if (!w) {
        fprintf(stderr, "ceiling host: out of memory\n");
        exit(1);
    }
    memcpy(w->data, data + n, len - (size_t)n);
    b = uv_buf_init(w->data, (unsigned)(len - (size_t)n));
    int rc = uv_write(&w->req, s, &b, 1, later_write_done);
    if (rc < 0)
        free(w);
    return rc;
}

/* --- client connections ------------------------------------------------- */

static void conn_freed(uv_handle_t *h)
{
    free(h);                         /* the handle is the start of its conn_t */
}

/* close_conn: forget the connection (answers still coming for it are
 * dropped) and close it; queued writes are cancelled. */
static void close_conn(conn_t *c)
{
    if (uv_is_closing((uv_handle_t *)&c->tcp))
        return;
    if (conns[c->id % MAX_CONNS] == c) {
        conns[c->id % MAX_CONNS] = NULL;
        nconns--;
    }
    uv_close((uv_handle_t *)&c->tcp, conn_freed);
}

static void conn_shut_down(uv_shutdown_t *req, int status)
{
    (void)status;
    close_conn(req->data);
}

static int on_message_begin(http_parser *p)
{
    ((conn_t *)p->data)->url_len = 0;
    return 0;
}

static int on_url(http_parser *p, const char *at, size_t len)
{
    conn_t *c = p->data;
    if (len > MAX_URL - c->url_len)
        return 1;                    /* too long: a parse error, the connection closes */
    memcpy(c->url + c->url_len, at, len);
    c->url_len += len;
    return 0;
}

/* on_message_complete: a whole request: append its invoke frame. */
static int on_message_complete(http_parser *p)
{
    conn_t *c = p->data;
    grow(&out, &out_cap, out_len + 8 + c->url_len);
    put_u32le(out + out_len, (uint32_t)(4 + c->url_len));
    put_u32le(out + out_len + 4, c->id);
    memcpy(out + out_len + 8, c->url, c->url_len);
    out_len += 8 + c->url_len;
    c->inflight++;
    if (!http_should_keep_alive(p)) {
        /* Answer what came so far, then close: read nothing more, and
         * stop the parser (a non-zero return) before any later request. */
        c->last = 1;
        uv_read_stop((uv_stream_t *)&c->tcp);
        return 1;
    }
    return 0;
}

static void conn_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    /* One buffer for every connection: a read is parsed before the next. */
    static char chunk[READ_CHUNK];
    (void)h;
    (void)suggested;
    buf->base = chunk;
    buf->len = sizeof chunk;
}

static void conn_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    conn_t *c = (conn_t *)s;
    if (n < 0) {                     /* closed by the client, or an error */
        close_conn(c);
        return;
    }
    if (n == 0)
        return;                      /* nothing read (EAGAIN); 0 would mean EOF to the parser */
    size_t done = http_parser_execute(&c->parser, &settings, buf->base, (size_t)n);
    if (c->last)
        return;                      /* bytes after a closing request are ignored */
    if (HTTP_PARSER_ERRNO(&c->parser) != HPE_OK || done != (size_t)n || c->parser.upgrade)
        close_conn(c);               /* not HTTP we answer: close without a word */
}

static void on_connection(uv_stream_t *server, int status)
{
    if (status < 0)
        return;
    conn_t *c = calloc(1, sizeof *c);
    if (!c) {
        fprintf(stderr, "ceiling host: out of memory\n");
        exit(1);
    }
    uv_tcp_init(loop, &c->tcp);
    if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0 || nconns == MAX_CONNS) {
        uv_close((uv_handle_t *)&c->tcp, conn_freed);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    while (conns[next_id % MAX_CONNS])  /* ends: a slot is free */
        next_id++;
    c->id = next_id++;
    conns[c->id % MAX_CONNS] = c;
    nconns++;
    http_parser_init(&c->parser, HTTP_REQUEST);
    c->parser.data = c;
    c->shutdown.data = c;
    uv_read_start((uv_stream_t *)&c->tcp, conn_alloc, conn_read);
}

/* --- the worker ---------------------------------------------------------- */

/* flush_invokes: after each loop turn, the turn's invoke frames to the
 * worker in one write. */
static void flush_invokes(uv_check_t *h)
{
    (void)h;
    if (out_len == 0)
        return;
    int rc = write_all((uv_stream_t *)&worker, out, out_len);
    if (rc < 0)
        fail("writing to the worker", rc);
    out_len = 0;
}

/* answer: write the body of connection id's oldest open request. */
static void answer(uint32_t id, const char *body, size_t len)
{
    conn_t *c = conns[id % MAX_CONNS];
    if (!c || c->id != id)
        return;                      /* the connection closed meanwhile */
    if (c->inflight > 0)
        c->inflight--;
    int closing = c->last && c->inflight == 0;
    char head[160];
    int hl = snprintf(head, sizeof head,
                      "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n%s\r\n",
                      len, closing ? "Connection: close\r\n" : "");
    grow(&answer_buf, &answer_cap, (size_t)hl + len);
    memcpy(answer_buf, head, (size_t)hl);
    memcpy(answer_buf + hl, body, len);
    if (write_all((uv_stream_t *)&c->tcp, answer_buf, (size_t)hl + len) < 0) {
        close_conn(c);
        return;
    }
    /* The last answer on a closing connection: close once it is written. */
    if (closing && uv_shutdown(&c->shutdown, (uv_stream_t *)&c->tcp, conn_shut_down) < 0)
        close_conn(c);
}

static void worker_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)h;
    (void)suggested;
    grow(&in, &in_cap, in_len + READ_CHUNK);
    buf->base = in + in_len;
    buf->len = in_cap - in_len;
}

/* worker_read: answer every complete frame read so far; keep the start of
 * an incomplete one for the next read. */
static void worker_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    (void)s;
    (void)buf;
    if (n == UV_EOF) {
        fprintf(stderr, "ceiling host: the worker closed its socket\n");
        exit(1);
    }
    if (n < 0)
        fail("reading from the worker", (int)n);
    in_len += (size_t)n;
    size_t off = 0;
    while (in_len - off >= 8) {
        uint32_t len = get_u32le(in + off);
        if (len < 4 || len > MAX_FRAME) {
            fprintf(stderr, "ceiling host: bad frame length %u from the worker\n", len);
            exit(1);
        }
        if (in_len - off - 4 < len)
            break;
        answer(get_u32le(in + off + 4), in + off + 8, len - 4);
        off += 4 + (size_t)len;
    }
    memmove(in, in + off, in_len - off);
    in_len -= off;
}

static void worker_exited(uv_process_t *p, int64_t status, int signal)
{
    (void)p;
    fprintf(stderr, "ceiling host: the worker exited (status %lld, signal %d)\n",
            (long long)status, signal);
    exit(1);
}

/* start_worker: run argv with one end of a socketpair as its fd 3; the
 * other end becomes the worker pipe. */
static void start_worker(char **argv)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
        perror("ceiling host: socketpair");
        exit(2);
    }
    uv_stdio_container_t stdio[4];
    for (int i = 0; i < 3; i++) {
        stdio[i].flags = UV_INHERIT_FD;
        stdio[i].data.fd = i;
    }
    stdio[3].flags = UV_INHERIT_FD;
    stdio[3].data.fd = sv[1];
    uv_process_options_t opt;
    memset(&opt, 0, sizeof opt);
    opt.file = argv[0];
    opt.args = argv;
    opt.exit_cb = worker_exited;
    opt.stdio_count = 4;
    opt.stdio = stdio;
    int rc = uv_spawn(loop, &worker_process, &opt);
    if (rc < 0) {
        fprintf(stderr, "ceiling host: cannot start %s: %s\n", argv[0], uv_strerror(rc));
        exit(2);
    }
    close(sv[1]);
    uv_pipe_init(loop, &worker, 0);
    if ((rc = uv_pipe_open(&worker, sv[0])) < 0 ||
        (rc = uv_read_start((uv_stream_t *)&worker, worker_alloc, worker_read)) < 0) {
        fprintf(stderr, "ceiling host: worker socket: %s\n", uv_strerror(rc));
        exit(2);
    }
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s PORT WORKER_COMMAND [ARG...]\n", argv[0]);
        return 2;
    }
    char *end;
    long port = strtol(argv[1], &end, 10);
    if (*end || port < 1 || port > 65535) {
        fprintf(stderr, "ceiling host: bad port '%s'\n", argv[1]);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);        /* a client gone mid-write is an error code, not a signal */
    loop = uv_default_loop();

    settings.on_message_begin = on_message_begin;
    settings.on_url = on_url;
    settings.on_message_complete = on_message_complete;

    start_worker(argv + 2);

    uv_tcp_t server;
    struct sockaddr_in addr;
    uv_tcp_init(loop, &server);
    uv_ip4_addr("127.0.0.1", (int)port, &addr);
    int rc = uv_tcp_bind(&server, (const struct sockaddr *)&addr, 0);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&server, 511, on_connection);
    if (rc < 0) {
        fprintf(stderr, "ceiling host: listen on 127.0.0.1:%ld: %s\n", port, uv_strerror(rc));
        return 2;
    }

    uv_check_init(loop, &flush_check);
    uv_check_start(&flush_check, flush_invokes);
    return uv_run(loop, UV_RUN_DEFAULT);
}
