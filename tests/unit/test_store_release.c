/*
 * test_store_release.c -- unit tests of leases and their release
 * (store_queue_release in src/store/): which operations lease a message and
 * which end the lease, what a release changes (visible at once, the same
 * DequeueCount, a new receipt, the old one stale) and what it leaves alone
 * (delayed puts, retries), one queue or all, after a reopen as after a
 * killed host, synchronously and on a loop with its notifications. Real
 * SQLite files, a clock moved by hand; the leased mark is read from the
 * file itself.
 */
#include "store_fx.h"

#define QA "alpha"
#define QB "bravo"
#define QC "charlie"
#define MIN_MS 60000LL
#define LEASE_MS (10 * MIN_MS)

/* Messages of queue marked leased in the file (NULL: all queues). */
static long long leased(fx_t *fx, const char *queue)
{
    char sql[200];
    if (queue)
        snprintf(sql, sizeof sql,
                 "SELECT count(*) FROM message WHERE leased = 1 AND queue = '%s'", queue);
    else
        snprintf(sql, sizeof sql, "SELECT count(*) FROM message WHERE leased = 1");
    return fx_sql_int(fx->db, sql);
}

/* Get up to max messages of queue with the lease timeout into g. */
static size_t get(fx_t *fx, store_req_t *g, const char *queue, unsigned max)
{
    int rc = store_queue_get(fx->st, g, queue, max, LEASE_MS, NULL);
    CHECK_INT(rc, STORE_OK);
    if (rc != STORE_OK)
        fprintf(stderr, "get: %s\n", g->err);
    return rc == STORE_OK ? g->n_msgs : 0;
}

static int64_t release(fx_t *fx, const char *queue, store_req_t *r)
{
    int rc = store_queue_release(fx->st, r, queue, NULL);
    CHECK_INT(rc, STORE_OK);
    if (rc != STORE_OK)
        fprintf(stderr, "release: %s\n", r->err);
    return rc == STORE_OK ? r->count : -1;
}

/* ---- what leases a message, and what ends the lease ------------------------------- */

TEST(get_leases_and_settling_ends_it)
{
    fx_t fx;
    fx_init(&fx);
    CHECK_INT(fx_open(&fx), STORE_OK);
    for (int i = 0; i < 4; i++)
        CHECK_INT(fx_put(&fx, QA, "m", 0, 0, NULL), STORE_OK);
    CHECK_INT(leased(&fx, NULL), 0); /* a put does not lease */

    store_req_t g = {0}, r = {0};
    CHECK_INT(get(&fx, &g, QA, 4), 4);
    CHECK_INT(leased(&fx, QA), 4);
    if (g.n_msgs == 4) {
        CHECK_INT(store_queue_delete(fx.st, &r, QA, g.msgs[0].id, g.msgs[0].pop_receipt, NULL),
                  STORE_OK);
        store_req_cleanup(&r);
        CHECK_INT(store_queue_update(fx.st, &r, QA, g.msgs[1].id, g.msgs[1].pop_receipt,
                                     5 * MIN_MS, NULL),
                  STORE_OK);
        store_req_cleanup(&r);
        CHECK_INT(store_queue_update(fx.st, &r, QA, g.msgs[2].id, g.msgs[2].pop_receipt, 0,
                                     NULL),
                  STORE_OK);
        store_req_cleanup(&r);
        CHECK_INT(store_queue_poison(fx.st, &r, QA, g.msgs[3].id, g.msgs[3].pop_receipt, NULL),
                  STORE_OK);
        store_req_cleanup(&r);
    }
    store_req_cleanup(&g);
    CHECK_INT(leased(&fx, NULL), 0);
    /* A refused delete (stale receipt) leaves the lease of the new delivery. */
    CHECK_INT(get(&fx, &g, QA, 1), 1);
    CHECK_INT(leased(&fx, QA), 1);
    CHECK_INT(store_queue_delete(fx.st, &r, QA, g.n_msgs ? g.msgs[0].id : "x", "old-receipt",
                                 NULL),
              STORE_ESTALE);
    store_req_cleanup(&r);
    CHECK_INT(leased(&fx, QA), 1);
    store_req_cleanup(&g);
    fx_done(&fx);
}

/* ---- what a release does ------------------------------------------------------------- */

TEST(release_makes_leased_messages_visible)
{
    fx_t fx;
    fx_init(&fx);
    CHECK_INT(fx_open(&fx), STORE_OK);
    char ids[3][STORE_ID_LEN];
    for (int i = 0; i < 3; i++)
        CHECK_INT(fx_put(&fx, QA, "work", 0, 0, ids[i]), STORE_OK);
    CHECK_INT(fx_put(&fx, QA, "delayed", 5 * MIN_MS, 0, NULL), STORE_OK);

    /* Two leased (one delivered twice), one retrying after a delay. */
    store_req_t g = {0}, r = {0};
    CHECK_INT(get(&fx, &g, QA, 1), 1);
    if (g.n_msgs == 1)
        CHECK_INT(store_queue_update(fx.st, &r, QA, g.msgs[0].id, g.msgs[0].pop_receipt, 0,
                                     NULL),
                  STORE_OK);
    store_req_cleanup(&r);
    store_req_cleanup(&g);
    fx.now += 1000;
    store_req_t held = {0};
    CHECK_INT(get(&fx, &held, QA, 3), 3);
    store_req_t retry = {0};
    if (held.n_msgs == 3) {
        /* All visible since the same time: in the order of their puts. */
        CHECK_STR(held.msgs[0].id, ids[0]);
        CHECK_INT(held.msgs[0].dequeue_count, 2);
        CHECK_STR(held.msgs[1].id, ids[1]);
        CHECK_INT(store_queue_update(fx.st, &retry, QA, held.msgs[1].id,
                                     held.msgs[1].pop_receipt, 5 * MIN_MS, NULL),
                  STORE_OK);
    }
    CHECK_INT(leased(&fx, QA), 2);
    CHECK_INT(fx_count(&fx, QA).invisible, 4);

    fx.now += MIN_MS;
    CHECK_INT(release(&fx, QA, &r), 2);
    CHECK_INT(r.n_queues, 1);
    if (r.n_queues == 1) {
        CHECK_STR(r.queues[0].name, QA);
        CHECK_INT(r.queues[0].visible, 2);
        CHECK_INT(r.queues[0].invisible, 2);
    }
    store_req_cleanup(&r);
    CHECK_INT(leased(&fx, NULL), 0);
    CHECK_INT(fx_count(&fx, QA).visible, 2);
    CHECK_INT(fx_count(&fx, QA).invisible, 2); /* the delayed put and the retry */

    /* Visible now, DequeueCount kept, next visible time now. */
    CHECK_INT(store_queue_peek(fx.st, &r, QA, 32, NULL), STORE_OK);
    CHECK_INT(r.n_msgs, 2);
    for (size_t i = 0; i < r.n_msgs && held.n_msgs == 3; i++) {
        const store_msg_t *m = &r.msgs[i];
        int first = strcmp(m->id, ids[0]) == 0;
        CHECK(first || strcmp(m->id, ids[2]) == 0);
        CHECK_INT(m->dequeue_count, first ? 2 : 1);
        CHECK_INT(m->next_visible_time, fx.now);
    }
    store_req_cleanup(&r);

    /* The old receipts are stale; the retry's receipt is still good. */
    if (held.n_msgs == 3) {
        char sql[200];
        for (int i = 0; i < 3; i += 2) {
            snprintf(sql, sizeof sql, "SELECT count(*) FROM message WHERE receipt = '%s'",
                     held.msgs[i].pop_receipt);
            CHECK_INT(fx_sql_int(fx.db, sql), 0);
            CHECK_INT(store_queue_delete(fx.st, &r, QA, held.msgs[i].id,
                                         held.msgs[i].pop_receipt, NULL),
                      STORE_ESTALE);
            store_req_cleanup(&r);
        }
        if (retry.n_msgs == 1)
            CHECK_INT(store_queue_delete(fx.st, &r, QA, retry.msgs[0].id,
                                         retry.msgs[0].pop_receipt, NULL),
                      STORE_OK);
        store_req_cleanup(&r);
    }

    /* Delivered again: the count goes on from where it was. */
    CHECK_INT(get(&fx, &g, QA, 32), 2);
    for (size_t i = 0; i < g.n_msgs; i++)
        CHECK_INT(g.msgs[i].dequeue_count, strcmp(g.msgs[i].id, ids[0]) == 0 ? 3 : 2);
    store_req_cleanup(&g);
    store_req_cleanup(&held);
    store_req_cleanup(&retry);

    /* Nothing leased left but these two; a second release right after
     * the first finds nothing. */
    CHECK_INT(release(&fx, QA, &r), 2);
    store_req_cleanup(&r);
    CHECK_INT(release(&fx, QA, &r), 0);
    CHECK_INT(r.n_queues, 0);
    store_req_cleanup(&r);
    fx_done(&fx);
}

TEST(release_one_queue_or_all)
{
    fx_t fx;
    fx_init(&fx);
    CHECK_INT(fx_open(&fx), STORE_OK);
    const char *queues[] = {QA, QB, QC};
    for (int q = 0; q < 3; q++)
        for (int i = 0; i <= q; i++)
            CHECK_INT(fx_put(&fx, queues[q], "m", 0, 0, NULL), STORE_OK);
    store_req_t g = {0}, r = {0};
    for (int q = 0; q < 3; q++) {
        CHECK_INT(get(&fx, &g, queues[q], 32), (size_t)q + 1);
        store_req_cleanup(&g);
    }
    CHECK_INT(leased(&fx, NULL), 6);

    CHECK_INT(release(&fx, QB, &r), 2);
    CHECK_INT(r.n_queues, 1);
    CHECK_STR(r.n_queues ? r.queues[0].name : "", QB);
    store_req_cleanup(&r);
    CHECK_INT(leased(&fx, QA), 1);
    CHECK_INT(leased(&fx, QB), 0);
    CHECK_INT(leased(&fx, QC), 3);
    CHECK_INT(fx_count(&fx, QA).visible, 0);
    CHECK_INT(fx_count(&fx, QB).visible, 2);

    /* A queue with nothing leased, or that does not exist: nothing. */
    CHECK_INT(release(&fx, QB, &r), 0);
    store_req_cleanup(&r);
    CHECK_INT(release(&fx, "nowhere", &r), 0);
    CHECK_INT(r.n_queues, 0);
    store_req_cleanup(&r);

    CHECK_INT(release(&fx, NULL, &r), 4);
    CHECK_INT(r.n_queues, 2);
    if (r.n_queues == 2) {
        int a = strcmp(r.queues[0].name, QA) == 0;
        CHECK_STR(r.queues[a ? 0 : 1].name, QA);
        CHECK_STR(r.queues[a ? 1 : 0].name, QC);
        CHECK_INT(r.queues[a ? 0 : 1].visible, 1);
        CHECK_INT(r.queues[a ? 1 : 0].visible, 3);
    }
    store_req_cleanup(&r);
    CHECK_INT(leased(&fx, NULL), 0);
    for (int q = 0; q < 3; q++)
        CHECK_INT(fx_count(&fx, queues[q]).visible, q + 1);
    fx_done(&fx);
}

TEST(release_after_a_reopen)
{
    /* A host got messages and died without settling them: the file keeps
     * them leased; the next open releases them at once instead of after
     * the rest of the lease. */
    fx_t fx;
    fx_init(&fx);
    CHECK_INT(fx_open(&fx), STORE_OK);
    char id[STORE_ID_LEN];
    CHECK_INT(fx_put(&fx, QA, "orphan", 0, 0, id), STORE_OK);
    CHECK_INT(fx_put(&fx, QA, "later", 3 * MIN_MS, 0, NULL), STORE_OK);
    store_req_t g = {0}, r = {0};
    CHECK_INT(get(&fx, &g, QA, 32), 1);
    fx_reopen(&fx);
    fx.now += MIN_MS;
    CHECK_INT(fx_count(&fx, QA).visible, 0);
    CHECK_INT(release(&fx, NULL, &r), 1);
    store_req_cleanup(&r);
    CHECK_INT(fx_count(&fx, QA).visible, 1);
    CHECK_INT(fx_count(&fx, QA).invisible, 1);
    if (g.n_msgs == 1) {
        CHECK_INT(store_queue_delete(fx.st, &r, QA, id, g.msgs[0].pop_receipt, NULL),
                  STORE_ESTALE);
        store_req_cleanup(&r);
    }
    store_req_cleanup(&g);
    CHECK_INT(get(&fx, &g, QA, 32), 1);
    CHECK_STR(g.n_msgs ? g.msgs[0].id : "", id);
    CHECK_INT(g.n_msgs ? g.msgs[0].dequeue_count : 0, 2);
    store_req_cleanup(&g);
    fx_done(&fx);
}

TEST(release_skips_expired_and_keeps_an_earlier_time)
{
    fx_t fx;
    fx_init(&fx);
    CHECK_INT(fx_open(&fx), STORE_OK);
    char id[STORE_ID_LEN];
    CHECK_INT(fx_put(&fx, QA, "short", 0, 2 * MIN_MS, NULL), STORE_OK);
    CHECK_INT(fx_put(&fx, QA, "long", 0, 0, id), STORE_OK);
    store_req_t g = {0}, r = {0};
    CHECK_INT(store_queue_get(fx.st, &g, QA, 32, MIN_MS, NULL), STORE_OK);
    CHECK_INT(g.n_msgs, 2);
    store_req_cleanup(&g);
    /* Both leases ran out; the first message expired too. */
    fx.now += 3 * MIN_MS;
    CHECK_INT(release(&fx, NULL, &r), 1);
    CHECK_INT(r.n_queues, 1);
    store_req_cleanup(&r);
    CHECK_INT(leased(&fx, NULL), 0);
    CHECK_INT(store_queue_peek(fx.st, &r, QA, 32, NULL), STORE_OK);
    CHECK_INT(r.n_msgs, 1);
    if (r.n_msgs == 1) {
        CHECK_STR(r.msgs[0].id, id);
        CHECK_INT(r.msgs[0].next_visible_time, FX_T0 + MIN_MS); /* not moved back */
    }
    store_req_cleanup(&r);
    /* Only expired leased messages: none released, no queue named. */
    CHECK_INT(fx_put(&fx, QB, "short", 0, 2 * MIN_MS, NULL), STORE_OK);
    CHECK_INT(get(&fx, &g, QB, 1), 1);
    store_req_cleanup(&g);
    fx.now += 3 * MIN_MS;
    CHECK_INT(release(&fx, QB, &r), 0);
    CHECK_INT(r.n_queues, 0);
    store_req_cleanup(&r);
    CHECK_INT(leased(&fx, NULL), 0);
    fx_done(&fx);
}

TEST(release_of_more_than_a_chunk)
{
    /* More leased messages than one round of the release reads. */
    fx_t fx;
    fx_init(&fx);
    fx.opts.sync_normal = 1;
    CHECK_INT(fx_open(&fx), STORE_OK);
    const int n = 2500;
    for (int i = 0; i < n; i++)
        CHECK_INT(fx_put(&fx, i % 2 ? QA : QB, "m", 0, 0, NULL), STORE_OK);
    store_req_t g = {0}, r = {0};
    int got = 0;
    for (int q = 0; q < 2; q++) {
        size_t k;
        do {
            k = get(&fx, &g, q ? QB : QA, 32);
            got += (int)k;
            store_req_cleanup(&g);
        } while (k > 0);
    }
    CHECK_INT(got, n);
    CHECK_INT(leased(&fx, NULL), n);
    CHECK_INT(release(&fx, NULL, &r), n);
    CHECK_INT(r.n_queues, 2);
    store_req_cleanup(&r);
    CHECK_INT(leased(&fx, NULL), 0);
    CHECK_INT(fx_count(&fx, QA).visible + fx_count(&fx, QB).visible, n);
    fx_done(&fx);
}

static void never_cb(store_req_t *req) { CHECK(!"called"); }

TEST(release_arguments)
{
    fx_t fx;
    fx_init(&fx);
    CHECK_INT(fx_open(&fx), STORE_OK);
    store_req_t r = {0};
    CHECK_INT(store_queue_release(fx.st, &r, "Bad_Name", NULL), STORE_EINVAL);
    CHECK_INT(r.status, STORE_EINVAL);
    CHECK_CONTAINS(r.err, "queue name 'Bad_Name' has an upper-case letter");
    store_req_cleanup(&r);
    CHECK_INT(store_queue_release(fx.st, &r, "", NULL), STORE_EINVAL);
    CHECK_CONTAINS(r.err, "queue name '' is 0 characters long");
    store_req_cleanup(&r);
    /* A poison queue's messages are leased like any. */
    CHECK_INT(store_queue_release(fx.st, &r, "alpha-poison", NULL), STORE_OK);
    store_req_cleanup(&r);
    /* Not started: an asynchronous call is refused. */
    CHECK_INT(store_queue_release(fx.st, &r, NULL, never_cb), STORE_ESTOPPED);
    CHECK_CONTAINS(r.err, "not started");
    store_req_cleanup(&r);
    CHECK_INT(fx_put(&fx, QA, "m", 0, 0, NULL), STORE_OK);
    store_req_t g = {0};
    CHECK_INT(get(&fx, &g, QA, 1), 1);
    store_req_cleanup(&g);
    store_close(fx.st);
    fx.st = NULL;

    /* A read-only store cannot release (what it would change stays). */
    store_options_t ro = fx.opts;
    ro.read_only = 1;
    CHECK_INT(store_open("sqlite:", fx.root, &ro, &fx.st, fx.err, sizeof fx.err), STORE_OK);
    if (fx.st)
        CHECK_INT(store_queue_release(fx.st, &r, NULL, NULL), STORE_EIO);
    CHECK_CONTAINS(r.err, "readonly");
    store_req_cleanup(&r);
    CHECK_INT(leased(&fx, QA), 1);
    fx_done(&fx);
}

/* ---- on a loop ---------------------------------------------------------------------- */

typedef struct actx {
    int done, notified;
    int64_t counts[4];
    char queues[8][STORE_QUEUE_REF_MAX + 1];
} actx_t;

static void release_cb(store_req_t *req)
{
    actx_t *c = req->data;
    CHECK_INT(req->status, STORE_OK);
    if (c->done < 4)
        c->counts[c->done] = req->count;
    c->done++;
    store_req_cleanup(req);
}

static void notify_cb(store_t *st, const char *queue, void *data)
{
    actx_t *c = data;
    if (c->notified < 8)
        snprintf(c->queues[c->notified], sizeof c->queues[0], "%s", queue);
    c->notified++;
}

static int notified(const actx_t *c, const char *queue)
{
    int n = 0;
    for (int i = 0; i < c->notified && i < 8; i++)
        n += strcmp(c->queues[i], queue) == 0;
    return n;
}

TEST(release_on_a_loop_notifies_each_queue)
{
    fx_t fx;
    fx_init(&fx);
    CHECK_INT(fx_open(&fx), STORE_OK);
    const char *queues[] = {QA, QB, QC};
    for (int q = 0; q < 3; q++)
        for (int i = 0; i < 2; i++)
            CHECK_INT(fx_put(&fx, queues[q], "m", 0, 0, NULL), STORE_OK);
    store_req_t g = {0};
    for (int q = 0; q < 3; q++) {
        CHECK_INT(get(&fx, &g, queues[q], 32), 2);
        store_req_cleanup(&g);
    }
    uv_loop_t loop;
    uv_loop_init(&loop);
    actx_t c;
    memset(&c, 0, sizeof c);
    store_set_notify(fx.st, notify_cb, &c);
    CHECK_INT(store_start(fx.st, &loop), STORE_OK);

    /* One queue: that queue only. */
    store_req_t r1 = {0}, r2 = {0}, r3 = {0};
    r1.data = r2.data = r3.data = &c;
    CHECK_INT(store_queue_release(fx.st, &r1, QC, release_cb), STORE_OK);
    fx_run_until(&loop, &c.done, 1);
    CHECK_INT(c.counts[0], 2);
    CHECK_INT(c.notified, 1);
    CHECK_INT(notified(&c, QC), 1);

    /* All, submitted together with a release that finds nothing (its
     * queue is done): each queue once. */
    CHECK_INT(store_queue_release(fx.st, &r2, NULL, release_cb), STORE_OK);
    CHECK_INT(store_queue_release(fx.st, &r3, QC, release_cb), STORE_OK);
    fx_run_until(&loop, &c.done, 3);
    CHECK_INT(c.counts[1] + c.counts[2], 4);
    CHECK_INT(c.notified, 3);
    CHECK_INT(notified(&c, QA), 1);
    CHECK_INT(notified(&c, QB), 1);
    CHECK_INT(notified(&c, QC), 1);

    /* Nothing leased: no notification. */
    CHECK_INT(store_queue_release(fx.st, &r1, NULL, release_cb), STORE_OK);
    fx_run_until(&loop, &c.done, 4);
    CHECK_INT(c.counts[3], 0);
    CHECK_INT(c.notified, 3);
    fx_stop(&fx, &loop);
    for (int q = 0; q < 3; q++)
        CHECK_INT(fx_count(&fx, queues[q]).visible, 2);
    CHECK_INT(leased(&fx, NULL), 0);
    fx_done(&fx);
}

int main(void)
{
    RUN(get_leases_and_settling_ends_it);
    RUN(release_makes_leased_messages_visible);
    RUN(release_one_queue_or_all);
    RUN(release_after_a_reopen);
    RUN(release_skips_expired_and_keeps_an_earlier_time);
    RUN(release_of_more_than_a_chunk);
    RUN(release_arguments);
    RUN(release_on_a_loop_notifies_each_queue);
    return TEST_REPORT();
}
