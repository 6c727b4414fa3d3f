/*
 * driver.c -- the store side of bench/queue/run:
 *
 *   driver fill STORE QUEUE N BODY   put N messages of BODY bytes into QUEUE
 *                                    of the store file STORE, through the
 *                                    store (durable, asynchronous, 1,000 in
 *                                    flight); prints "fill N SECONDS PER_S"
 *   driver depth STORE QUEUE         the queue's depth, read-only (a running
 *                                    host may hold the store): prints
 *                                    "depth VISIBLE INVISIBLE"
 *
 * The one-commit-per-message SQLite figure comes from bench/store's driver.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uv.h>

#include "../../src/store/store.h"

#define WINDOW 1000

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what, const char *msg)
{
    fprintf(stderr, "driver: %s: %s\n", what, msg);
    exit(1);
}

static store_t *open_store(const char *path, int read_only)
{
    char url[4200], err[512];
    snprintf(url, sizeof url, "sqlite:%s", path);
    store_options_t o = {.read_only = read_only};
    store_t *st = NULL;
    if (store_open(url, NULL, &o, &st, err, sizeof err) != STORE_OK)
        die("store_open", err);
    return st;
}

typedef struct fill {
    store_t *st;
    const char *queue;
    long submitted, done, n;
    char *body;
    size_t body_len;
} fill_t;

static void put_cb(store_req_t *req)
{
    fill_t *f = req->data;
    if (req->status != STORE_OK)
        die("put", req->err);
    f->done++;
    store_req_cleanup(req);
    if (f->submitted < f->n) {
        /* Bodies differ: "<sequence number>" padded with 'b'. */
        int k = snprintf(f->body, f->body_len + 1, "%ld", f->submitted);
        if ((size_t)k < f->body_len)
            f->body[k] = 'b';
        f->submitted++;
        if (store_queue_put(f->st, req, f->queue, f->body, f->body_len, 0, 0, put_cb) !=
            STORE_OK)
            die("put", req->err);
    }
}

static void stopped_cb(store_t *st, void *data)
{
    (void)st;
    *(int *)data = 1;
}

static void run_fill(const char *path, const char *queue, long n, size_t body_len)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    fill_t f = {.st = open_store(path, 0), .queue = queue, .n = n, .body_len = body_len};
    f.body = malloc(body_len + 1);
    memset(f.body, 'b', body_len);
    f.body[body_len] = '\0';
    if (store_start(f.st, &loop) != STORE_OK)
        die("store_start", "failed");
    store_req_t *reqs = calloc(WINDOW, sizeof *reqs);
    double t0 = now_s();
    for (long i = 0; i < WINDOW && f.submitted < n; i++) {
        reqs[i].data = &f;
        f.submitted++;
        if (store_queue_put(f.st, &reqs[i], queue, f.body, body_len, 0, 0, put_cb) != STORE_OK)
            die("put", reqs[i].err);
    }
    while (f.done < n)
        uv_run(&loop, UV_RUN_ONCE);
    double secs = now_s() - t0;
    printf("fill %ld %.3f %.0f\n", n, secs, secs > 0 ? (double)n / secs : 0.0);
    int stopped = 0;
    store_stop(f.st, stopped_cb, &stopped);
    while (!stopped)
        uv_run(&loop, UV_RUN_ONCE);
    store_close(f.st);
    uv_loop_close(&loop);
    free(reqs);
    free(f.body);
}

static void run_depth(const char *path, const char *queue)
{
    store_t *st = open_store(path, 1);
    store_req_t req = {0};
    if (store_queue_count(st, &req, queue, NULL) != STORE_OK)
        die("count", req.err);
    printf("depth %lld %lld\n", (long long)req.queues[0].visible,
           (long long)req.queues[0].invisible);
    store_req_cleanup(&req);
    store_close(st);
}

int main(int argc, char **argv)
{
    if (argc == 6 && strcmp(argv[1], "fill") == 0) {
        long n = atol(argv[4]);
        long body = atol(argv[5]);
        if (n <= 0 || body <= 0 || body > STORE_DEFAULT_MAX_BODY)
            die("fill", "N and BODY must be positive (BODY at most 64 KiB)");
        run_fill(argv[2], argv[3], n, (size_t)body);
        return 0;
    }
    if (argc == 4 && strcmp(argv[1], "depth") == 0) {
        run_depth(argv[2], argv[3]);
        return 0;
    }
    fprintf(stderr, "usage: driver fill STORE QUEUE N BODY | driver depth STORE QUEUE\n");
    return 2;
}
