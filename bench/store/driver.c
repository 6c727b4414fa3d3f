/*
 * driver.c -- the program behind bench/store/run: one measurement per run,
 * printed as one line "MODE MESSAGES SECONDS PER_SECOND".
 *
 *   driver store-put DIR N WINDOW BODY   N durable puts through the store
 *                                        (src/store/, asynchronous, WINDOW in
 *                                        flight, completions on a uv loop)
 *   driver store-getdel DIR G            get + delete every message of the
 *                                        queue that store-put filled, G gets
 *                                        in flight, each get's deletes and
 *                                        the next get submitted together
 *   driver raw DIR N PER_COMMIT BODY     N inserts straight into SQLite (WAL,
 *                                        synchronous=FULL), PER_COMMIT per
 *                                        transaction: 1 is the plain "one
 *                                        commit per message" way
 *
 * DIR is a folder on the disk to measure; each mode uses its own file in it.
 */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uv.h>

#include "../../src/store/store.h"

#define QUEUE "bench"

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

static void report(const char *mode, long n, double secs)
{
    printf("%s %ld %.3f %.0f\n", mode, n, secs, secs > 0 ? (double)n / secs : 0.0);
}

static store_t *open_store(const char *dir)
{
    char url[4200], err[512];
    snprintf(url, sizeof url, "sqlite:%s/store.db", dir);
    store_t *st = NULL;
    if (store_open(url, NULL, NULL, &st, err, sizeof err) != STORE_OK)
        die("store_open", err);
    return st;
}

static void stopped_cb(store_t *st, void *data) { *(int *)data = 1; }

static void stop_store(store_t *st, uv_loop_t *loop)
{
    int stopped = 0;
    store_stop(st, stopped_cb, &stopped);
    while (!stopped)
        uv_run(loop, UV_RUN_ONCE);
    store_close(st);
    uv_loop_close(loop);
}

/* ---- store-put ------------------------------------------------------------ */

typedef struct put_state {
    store_t *st;
    long submitted, done, n;
    const char *body;
    size_t body_len;
} put_state_t;

static void put_cb(store_req_t *req)
{
    put_state_t *p = req->data;
    if (req->status != STORE_OK)
        die("put", req->err);
    p->done++;
    store_req_cleanup(req);
    if (p->submitted < p->n) {
        p->submitted++;
        if (store_queue_put(p->st, req, QUEUE, p->body, p->body_len, 0, 0, put_cb) != STORE_OK)
            die("put", req->err);
    }
}

static void run_store_put(const char *dir, long n, long window, size_t body_len)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    put_state_t p = {.st = open_store(dir), .n = n, .body_len = body_len};
    char *body = malloc(body_len + 1);
    memset(body, 'b', body_len);
    p.body = body;
    if (store_start(p.st, &loop) != STORE_OK)
        die("store_start", "failed");
    store_req_t *reqs = calloc((size_t)window, sizeof *reqs);
    double t0 = now_s();
    for (long i = 0; i < window && p.submitted < n; i++) {
        reqs[i].data = &p;
        p.submitted++;
        if (store_queue_put(p.st, &reqs[i], QUEUE, body, body_len, 0, 0, put_cb) != STORE_OK)
            die("put", reqs[i].err);
    }
    while (p.done < n)
        uv_run(&loop, UV_RUN_ONCE);
    double t1 = now_s();
    store_stats_t s;
    store_stats(p.st, &s);
    report("store-put", n, t1 - t0);
    fprintf(stderr, "store-put: %llu transactions, %.1f puts per transaction, largest %u\n",
            (unsigned long long)s.transactions, (double)n / (double)(s.transactions ?: 1),
            s.largest_batch);
    stop_store(p.st, &loop);
    free(reqs);
    free(body);
}

/* ---- store-getdel ------------------------------------------------------------ */

typedef struct getdel_state {
    store_t *st;
    long deleted, getters_done, getters;
} getdel_state_t;

typedef struct getter {
    getdel_state_t *g;
    store_req_t req;
} getter_t;

static void del_cb(store_req_t *req)
{
    getdel_state_t *g = req->data;
    if (req->status != STORE_OK)
        die("delete", req->err);
    g->deleted++;
    store_req_cleanup(req);
    free(req);
}

static void get_cb(store_req_t *req)
{
    getter_t *gt = req->data;
    getdel_state_t *g = gt->g;
    if (req->status != STORE_OK)
        die("get", req->err);
    size_t n = req->n_msgs;
    for (size_t i = 0; i < n; i++) {
        store_req_t *d = calloc(1, sizeof *d);
        d->data = g;
        if (store_queue_delete(g->st, d, QUEUE, req->msgs[i].id, req->msgs[i].pop_receipt,
                               del_cb) != STORE_OK)
            die("delete", d->err);
    }
    store_req_cleanup(req);
    if (n == 0) {
        g->getters_done++;
        return;
    }
    if (store_queue_get(g->st, req, QUEUE, STORE_GET_MAX, 60000, get_cb) != STORE_OK)
        die("get", req->err);
}

static void run_store_getdel(const char *dir, long getters)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    getdel_state_t g = {.st = open_store(dir), .getters = getters};
    if (store_start(g.st, &loop) != STORE_OK)
        die("store_start", "failed");
    getter_t *gs = calloc((size_t)getters, sizeof *gs);
    double t0 = now_s();
    for (long i = 0; i < getters; i++) {
        gs[i].g = &g;
        gs[i].req.data = &gs[i];
        if (store_queue_get(g.st, &gs[i].req, QUEUE, STORE_GET_MAX, 60000, get_cb) != STORE_OK)
            die("get", gs[i].req.err);
    }
    store_stats_t before;
    store_stats(g.st, &before);
    while (g.getters_done < getters || before.pending) {
        uv_run(&loop, UV_RUN_ONCE);
        store_stats(g.st, &before);
    }
    double t1 = now_s();
    report("store-getdel", g.deleted, t1 - t0);
    store_stats(g.st, &before);
    fprintf(stderr, "store-getdel: %llu transactions\n", (unsigned long long)before.transactions);
    stop_store(g.st, &loop);
    free(gs);
}

/* ---- raw SQLite ----------------------------------------------------------------- */

static void sql(sqlite3 *db, const char *s)
{
    char *msg = NULL;
    if (sqlite3_exec(db, s, NULL, NULL, &msg) != SQLITE_OK)
        die(s, msg ? msg : "failed");
}

static void run_raw(const char *dir, long n, long per_commit, size_t body_len)
{
    char path[4200], mode[32];
    snprintf(path, sizeof path, "%s/raw-%ld.db", dir, per_commit);
    sqlite3 *db = NULL;
    if (sqlite3_open(path, &db) != SQLITE_OK)
        die("sqlite3_open", sqlite3_errmsg(db));
    sql(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
            "CREATE TABLE IF NOT EXISTS message (seq INTEGER PRIMARY KEY, queue TEXT NOT NULL,"
            " id TEXT NOT NULL, body BLOB NOT NULL)");
    sqlite3_stmt *ins = NULL;
    if (sqlite3_prepare_v2(db, "INSERT INTO message(queue, id, body) VALUES (?1, ?2, ?3)", -1,
                           &ins, NULL) != SQLITE_OK)
        die("prepare", sqlite3_errmsg(db));
    char *body = malloc(body_len + 1);
    memset(body, 'b', body_len);
    char id[40];
    double t0 = now_s();
    for (long i = 0; i < n; i++) {
        if (i % per_commit == 0)
            sql(db, "BEGIN");
        snprintf(id, sizeof id, "00000000-0000-4000-8000-%012ld", i % 1000000000000L);
        sqlite3_bind_text(ins, 1, QUEUE, -1, SQLITE_STATIC);
        sqlite3_bind_text(ins, 2, id, -1, SQLITE_STATIC);
        sqlite3_bind_blob(ins, 3, body, (int)body_len, SQLITE_STATIC);
        if (sqlite3_step(ins) != SQLITE_DONE)
            die("insert", sqlite3_errmsg(db));
        sqlite3_reset(ins);
        if (i % per_commit == per_commit - 1 || i == n - 1)
            sql(db, "COMMIT");
    }
    double t1 = now_s();
    snprintf(mode, sizeof mode, "raw-%ld", per_commit);
    report(mode, n, t1 - t0);
    sqlite3_finalize(ins);
    sqlite3_close(db);
    free(body);
}

int main(int argc, char **argv)
{
    if (argc >= 6 && strcmp(argv[1], "store-put") == 0)
        run_store_put(argv[2], atol(argv[3]), atol(argv[4]), (size_t)atol(argv[5]));
    else if (argc >= 4 && strcmp(argv[1], "store-getdel") == 0)
        run_store_getdel(argv[2], atol(argv[3]));
    else if (argc >= 6 && strcmp(argv[1], "raw") == 0)
        run_raw(argv[2], atol(argv[3]), atol(argv[4]), (size_t)atol(argv[5]));
    else {
        fprintf(stderr, "usage: driver store-put DIR N WINDOW BODY | store-getdel DIR GETTERS |"
                        " raw DIR N PER_COMMIT BODY\n");
        return 2;
    }
    return 0;
}
