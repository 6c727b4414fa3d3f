/*
 * fuzz_http.c -- libFuzzer driver for the HTTP request path: the bytes are
 * sent on a real loopback connection to the real server (src/http/) on a
 * libuv loop, whose handler routes the request with a small router and
 * answers at once, or later from a timer, to exercise both paths. The
 * client half-closes after sending and reads until the server closes.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../../src/core/route.h"
#include "../../src/http/method.h"
#include "../../src/http/server.h"
#include "../../src/telemetry/log.h"

static uv_loop_t loop;
static http_server_t server;
static router_t *router;
static int port;
static http_request_t *held;
static uv_timer_t later;

static void answer(http_request_t *req)
{
    char scratch[HTTP_MAX_URL + ROUTE_MAX_PARAMS + 1];
    route_params_t params;
    void *data = NULL;
    unsigned allowed = 0;
    int r = router_lookup(router, req->method, req->path.p, req->path.n, &params, scratch,
                          sizeof scratch, &data, &allowed);
    if (r != ROUTER_MATCH) {
        http_respond(req, r == ROUTER_NOT_FOUND ? 404 : 405, NULL, 0, NULL, 0);
        return;
    }
    sv_t h = http_request_header(req, "X-Test");
    http_header_t out[2] = {{SV_LIT("X-Echo"), h.p ? h : SV_LIT("-")},
                            {SV_LIT("Content-Type"), SV_LIT("text/plain")}};
    http_respond(req, 200, out, 2, req->body.p, req->body.len);
}

static void later_cb(uv_timer_t *t)
{
    (void)t;
    if (held) {
        http_request_t *r = held;
        held = NULL;
        answer(r);
    }
}

static void handler(http_request_t *req, void *data)
{
    (void)data;
    if (req->path.n > 6 && memcmp(req->path.p, "/slow/", 6) == 0 && !held) {
        held = req;
        uv_timer_start(&later, later_cb, 0, 0);
        return;
    }
    answer(req);
}

static void setup(void)
{
    log_setup(LOG_FORMAT_JSON, 2, 0, LOG_CRITICAL + 1);
    uv_loop_init(&loop);
    http_server_config_t cfg = {.max_url = HTTP_MAX_URL, .max_headers = HTTP_MAX_HEADERS_BYTES,
                                .max_body = 1 << 20, .header_timeout_ms = 200,
                                .keepalive_timeout_ms = 200, .max_connections = 64};
    if (http_server_init(&server, &loop, &cfg, handler, NULL) != 0 ||
        http_server_listen(&server, "127.0.0.1", 0) != 0)
        abort();
    port = http_server_port(&server);
    uv_timer_init(&loop, &later);
    router = router_new();
    char err[256];
    router_add(router, "api/{name}", METHOD_GET | METHOD_POST, (void *)1, err, sizeof err);
    router_add(router, "slow/{*rest}", 0, (void *)2, err, sizeof err);
    router_add(router, "items/{id:int}/{x:alpha?}", METHOD_PUT, (void *)3, err, sizeof err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    if (!ready) {
        setup();
        ready = 1;
    }
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return 0;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        close(fd);
        return 0;
    }
    fcntl(fd, F_SETFL, O_NONBLOCK);
    size_t sent = 0;
    int shut = 0, closed = 0;
    char sink[65536];
    /* Drive the loop and the client together until the server closes. */
    for (int spins = 0; spins < 20000 && !closed; spins++) {
        if (sent < size) {
            ssize_t n = send(fd, data + sent, size - sent, MSG_NOSIGNAL);
            if (n > 0)
                sent += (size_t)n;
            else if (n < 0 && errno != EAGAIN)
                sent = size;
        } else if (!shut) {
            shutdown(fd, SHUT_WR);
            shut = 1;
        }
        uv_run(&loop, UV_RUN_NOWAIT);
        for (;;) {
            ssize_t n = recv(fd, sink, sizeof sink, 0);
            if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
                closed = 1;
                break;
            }
            if (n < 0)
                break;
        }
        if (!closed && spins > 50)
            usleep(100);
    }
    close(fd);
    /* Let the server see the close and free the connection. */
    for (int i = 0; i < 50 && server.nconns; i++) {
        uv_run(&loop, UV_RUN_NOWAIT);
        if (server.nconns)
            usleep(100);
    }
    return 0;
}
