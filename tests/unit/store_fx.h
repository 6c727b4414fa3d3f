/*
 * store_fx.h -- what the store's unit tests share: a temp app folder per
 * test, a clock the test moves by hand, a real uv loop with a guard timer,
 * and raw SQLite access to look at the file behind the store's back.
 */
#ifndef STRATUS_TEST_STORE_FX_H
#define STRATUS_TEST_STORE_FX_H

#include <ftw.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#include "../../src/store/store.h"
#include "test.h"

#define FX_T0 1700000000000LL /* the fake clock's start, ms */

typedef struct fx {
    char root[64];  /* the mkdtemp folder: the app root */
    char db[128];   /* root/.stratus/store.db, the default location */
    char err[512];
    int64_t now;    /* the fake clock */
    store_options_t opts;
    store_t *st;
} fx_t;

static inline int64_t fx_clock(void *data) { return *(int64_t *)data; }

static inline void fx_init(fx_t *fx)
{
    memset(fx, 0, sizeof *fx);
    snprintf(fx->root, sizeof fx->root, "/tmp/stratus-store-XXXXXX");
    if (!mkdtemp(fx->root)) {
        perror("mkdtemp");
        exit(2);
    }
    snprintf(fx->db, sizeof fx->db, "%s/.stratus/store.db", fx->root);
    fx->now = FX_T0;
    fx->opts.clock = fx_clock;
    fx->opts.clock_data = &fx->now;
}

static inline int fx_rm_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    return remove(path);
}

static inline void fx_done(fx_t *fx)
{
    store_close(fx->st);
    fx->st = NULL;
    nftw(fx->root, fx_rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

/* Open the default store of the fixture's app with its options. */
static inline int fx_open(fx_t *fx)
{
    return store_open("sqlite:", fx->root, &fx->opts, &fx->st, fx->err, sizeof fx->err);
}

static inline void fx_reopen(fx_t *fx)
{
    store_close(fx->st);
    fx->st = NULL;
    int rc = fx_open(fx);
    if (rc != STORE_OK)
        fprintf(stderr, "reopen: %s\n", fx->err);
    CHECK_INT(rc, STORE_OK);
}

/* Put a text message synchronously; its id into id (may be NULL). */
static inline int fx_put(fx_t *fx, const char *queue, const char *body, int64_t delay, int64_t ttl,
                  char *id)
{
    store_req_t r = {0};
    int rc = store_queue_put(fx->st, &r, queue, body, strlen(body), delay, ttl, NULL);
    if (rc == STORE_OK && id)
        memcpy(id, r.msgs[0].id, STORE_ID_LEN);
    if (rc != STORE_OK)
        fprintf(stderr, "put: %s\n", r.err);
    store_req_cleanup(&r);
    return rc;
}

static inline store_queue_info_t fx_count(fx_t *fx, const char *queue)
{
    store_req_t r = {0};
    store_queue_info_t q;
    memset(&q, 0, sizeof q);
    if (store_queue_count(fx->st, &r, queue, NULL) == STORE_OK)
        q = r.queues[0];
    else
        fprintf(stderr, "count: %s\n", r.err);
    store_req_cleanup(&r);
    return q;
}

/* One integer from raw SQL on the file (opened read-only beside the store). */
static inline long long fx_sql_int(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    long long v = -1;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK) {
        sqlite3_stmt *st = NULL;
        if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK &&
            sqlite3_step(st) == SQLITE_ROW)
            v = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
    }
    sqlite3_close(db);
    return v;
}

/* Run raw SQL on a file read-write (the store must be closed). 0 or -1. */
static inline int fx_sql_exec(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    int rc = sqlite3_open(path, &db);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
    sqlite3_close(db);
    return rc == SQLITE_OK ? 0 : -1;
}

/* ---- a real loop ---- */

static int fx_timed_out;

static inline void fx_guard_cb(uv_timer_t *t) { fx_timed_out = 1; }

/* Run loop until *counter reaches target (or a 120 s guard fires: then a
 * failed CHECK, never a hang). */
static inline void fx_run_until(uv_loop_t *loop, const int *counter, int target)
{
    uv_timer_t guard;
    uv_timer_init(loop, &guard);
    fx_timed_out = 0;
    uv_timer_start(&guard, fx_guard_cb, 120000, 0);
    while (*counter < target && !fx_timed_out)
        uv_run(loop, UV_RUN_ONCE);
    CHECK(!fx_timed_out);
    uv_timer_stop(&guard);
    uv_close((uv_handle_t *)&guard, NULL);
    uv_run(loop, UV_RUN_NOWAIT);
}

static inline void fx_stopped_cb(store_t *st, void *data) { (*(int *)data)++; }

/* Stop the fixture's store on loop and check the loop has nothing left. */
static inline void fx_stop(fx_t *fx, uv_loop_t *loop)
{
    int stopped = 0;
    CHECK_INT(store_stop(fx->st, fx_stopped_cb, &stopped), STORE_OK);
    fx_run_until(loop, &stopped, 1);
    CHECK_INT(stopped, 1);
    CHECK_INT(uv_loop_close(loop), 0);
}

#endif
