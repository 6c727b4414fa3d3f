/*
 * test_store_async.c -- unit tests of the store's asynchronous path
 * (src/store/store.c) on a real uv loop and real SQLite files: completions
 * on the loop thread, group commit (operations submitted in one loop turn
 * share a few transactions), the batch size cap, back-pressure, new
 * message notifications, stopping, and read-only inspection beside a
 * running store.
 */
#include "store_fx.h"

#define Q "work"

typedef struct ctx {
    fx_t *fx;
    uv_thread_t loop_thread;
    int done, ok, off_thread, failed;
    int statuses[8];
    char last_err[STORE_ERR_LEN];
    int notified;
    char notified_queue[STORE_QUEUE_REF_MAX + 1];
    int per_queue[200]; /* notifications of "queue-NNN" */
} ctx_t;

static void count_cb(store_req_t *req)
{
    ctx_t *c = req->data;
    uv_thread_t self = uv_thread_self();
    if (!uv_thread_equal(&self, &c->loop_thread))
        c->off_thread++;
    if (req->status == STORE_OK)
        c->ok++;
    else {
        c->failed++;
        snprintf(c->last_err, sizeof c->last_err, "%s", req->err);
    }
    if (c->done < 8)
        c->statuses[c->done] = req->status;
    c->done++;
    store_req_cleanup(req);
}

static void notify_cb(store_t *st, const char *queue, void *data)
{
    ctx_t *c = data;
    c->notified++;
    snprintf(c->notified_queue, sizeof c->notified_queue, "%s", queue);
    int n;
    if (sscanf(queue, "queue-%d", &n) == 1 && n >= 0 && n < 200)
        c->per_queue[n]++;
}

static void ctx_init(ctx_t *c, fx_t *fx)
{
    memset(c, 0, sizeof *c);
    c->fx = fx;
    c->loop_thread = uv_thread_self();
}

/* Start the fixture's open store on a new loop, with c counting the
 * completions (and, given notify, the notifications). */
static void start(fx_t *fx, uv_loop_t *loop, ctx_t *c, store_notify_cb notify)
{
    uv_loop_init(loop);
    ctx_init(c, fx);
    if (notify)
        store_set_notify(fx->st, notify, c);
    CHECK_INT(store_start(fx->st, loop), STORE_OK);
}

/* A new fixture, its store opened with the default options and started. */
static void begin(fx_t *fx, uv_loop_t *loop, ctx_t *c, store_notify_cb notify)
{
    fx_init(fx);
    CHECK_INT(fx_open(fx), STORE_OK);
    start(fx, loop, c, notify);
}

/* Stop the store (the loop must be left empty) and remove the fixture. */
static void finish(fx_t *fx, uv_loop_t *loop)
{
    fx_stop(fx, loop);
    fx_done(fx);
}

/* Submit n puts of "x" to Q, each completing into c. */
static void put_x(fx_t *fx, ctx_t *c, store_req_t *reqs, int n)
{
    for (int i = 0; i < n; i++) {
        reqs[i].data = c;
        int rc = store_queue_put(fx->st, &reqs[i], Q, "x", 1, 0, 0, count_cb);
        if (rc != STORE_OK)
            fprintf(stderr, "put %d of %d: %s\n", i, n, reqs[i].err);
        CHECK_INT(rc, STORE_OK);
    }
}

/* Check the statuses of the first completions, in the order they came; a
 * failed check is preceded by the completion's index. */
static void check_statuses(const ctx_t *c, const int *want, int n)
{
    for (int i = 0; i < n; i++) {
        if (c->statuses[i] != want[i])
            fprintf(stderr, "completion %d: status %d, expected %d\n", i, c->statuses[i],
                    want[i]);
        CHECK_INT(c->statuses[i], want[i]);
    }
}

#define CHECK_STATUSES(c, ...) \
    check_statuses(c, (const int[]){__VA_ARGS__}, (int)(sizeof(int[]){__VA_ARGS__} / sizeof(int)))

/* ---- a chain of operations, each started from the previous callback ---- */

typedef struct chain {
    ctx_t *c;
    store_req_t req;
    int step;
    char id[STORE_ID_LEN], receipt[STORE_ID_LEN];
} chain_t;

static void chain_cb(store_req_t *req)
{
    chain_t *ch = req->data;
    ctx_t *c = ch->c;
    uv_thread_t self = uv_thread_self();
    if (!uv_thread_equal(&self, &c->loop_thread))
        c->off_thread++;
    c->statuses[ch->step] = req->status;
    store_t *st = c->fx->st;
    int rc = STORE_OK;
    switch (ch->step++) {
    case 0: /* put done: get it */
        store_req_cleanup(req);
        rc = store_queue_get(st, req, Q, 32, 30000, chain_cb);
        break;
    case 1: /* got it: delete it */
        if (req->n_msgs == 1) {
            memcpy(ch->id, req->msgs[0].id, sizeof ch->id);
            memcpy(ch->receipt, req->msgs[0].pop_receipt, sizeof ch->receipt);
            CHECK_STR((char *)req->msgs[0].body, "payload");
            CHECK_INT(req->msgs[0].dequeue_count, 1);
        }
        CHECK_INT(req->n_msgs, 1);
        store_req_cleanup(req);
        rc = store_queue_delete(st, req, Q, ch->id, ch->receipt, chain_cb);
        break;
    case 2: /* deleted: count */
        store_req_cleanup(req);
        rc = store_queue_count(st, req, Q, chain_cb);
        break;
    default:
        CHECK_INT(req->n_queues, 1);
        CHECK_INT(req->n_queues ? req->queues[0].visible + req->queues[0].invisible : -1, 0);
        store_req_cleanup(req);
        c->done = 1;
        return;
    }
    CHECK_INT(rc, STORE_OK);
}

TEST(completions_on_the_loop_thread)
{
    fx_t fx;
    uv_loop_t loop;
    ctx_t c;
    begin(&fx, &loop, &c, notify_cb);
    CHECK_INT(store_start(fx.st, &loop), STORE_EINVAL); /* once */

    chain_t ch;
    memset(&ch, 0, sizeof ch);
    ch.c = &c;
    ch.req.data = &ch;
    CHECK_INT(store_queue_put(fx.st, &ch.req, Q, "payload", 7, 0, 0, chain_cb), STORE_OK);
    fx_run_until(&loop, &c.done, 1);
    CHECK_STATUSES(&c, STORE_OK, STORE_OK, STORE_OK, STORE_OK);
    CHECK_INT(ch.step, 4);
    CHECK_INT(c.off_thread, 0);
    CHECK_INT(c.notified, 1);
    CHECK_STR(c.notified_queue, Q);
    finish(&fx, &loop);
}

TEST(group_commit_of_one_loop_turn)
{
    enum { N = 1000 };
    fx_t fx;
    uv_loop_t loop;
    ctx_t c;
    begin(&fx, &loop, &c, notify_cb);
    store_stats_t before, after;
    store_stats(fx.st, &before);

    store_req_t *reqs = calloc(N, sizeof *reqs);
    char body[32];
    for (int i = 0; i < N; i++) {
        reqs[i].data = &c;
        int n = snprintf(body, sizeof body, "message %d", i);
        CHECK_INT(store_queue_put(fx.st, &reqs[i], Q, body, (size_t)n, 0, 0, count_cb), STORE_OK);
    }
    fx_run_until(&loop, &c.done, N);
    store_stats(fx.st, &after);
    uint64_t tx = after.transactions - before.transactions;
    printf("group commit: %d puts submitted in one loop turn committed in %llu transactions "
           "(largest batch %u)\n",
           N, (unsigned long long)tx, after.largest_batch);
    CHECK_INT(c.ok, N);
    CHECK_INT(c.off_thread, 0);
    CHECK(tx >= 1);
    CHECK(tx <= 20);
    CHECK(after.largest_batch > 1);
    CHECK_INT(after.operations - before.operations, N);
    CHECK_INT(after.pending, 0);
    /* One notification per batch at most, not one per message. */
    CHECK(c.notified >= 1);
    CHECK(c.notified <= (int)tx);
    CHECK_INT(fx_count(&fx, Q).visible, N);
    free(reqs);
    finish(&fx, &loop);
}

TEST(batch_size_is_capped)
{
    enum { N = 1000 };
    fx_t fx;
    fx_init(&fx);
    fx.opts.max_batch = 100;
    CHECK_INT(fx_open(&fx), STORE_OK);
    uv_loop_t loop;
    ctx_t c;
    start(&fx, &loop, &c, NULL);
    store_req_t *reqs = calloc(N, sizeof *reqs);
    put_x(&fx, &c, reqs, N);
    fx_run_until(&loop, &c.done, N);
    store_stats_t s;
    store_stats(fx.st, &s);
    CHECK_INT(c.ok, N);
    CHECK(s.transactions >= N / 100);
    CHECK(s.largest_batch <= 100);
    free(reqs);
    finish(&fx, &loop);
}

TEST(many_queues_in_one_batch)
{
    enum { NQ = 150 }; /* more queues than one transaction counts before a flush */
    fx_t fx;
    uv_loop_t loop;
    ctx_t c;
    begin(&fx, &loop, &c, notify_cb);
    store_stats_t before, after;
    store_stats(fx.st, &before);
    store_req_t reqs[2 * NQ + 1];
    memset(reqs, 0, sizeof reqs);
    char name[32];
    for (int i = 0; i < NQ; i++) {
        snprintf(name, sizeof name, "queue-%03d", i);
        reqs[2 * i].data = reqs[2 * i + 1].data = &c;
        CHECK_INT(store_queue_put(fx.st, &reqs[2 * i], name, "short", 5, 0, 1000, count_cb),
                  STORE_OK);
        CHECK_INT(store_queue_put(fx.st, &reqs[2 * i + 1], name, "long", 4, 0, 0, count_cb),
                  STORE_OK);
    }
    fx_run_until(&loop, &c.done, 2 * NQ);
    CHECK_INT(c.ok, 2 * NQ);
    /* Each queue told once per transaction that put into it, not per message. */
    store_stats(fx.st, &after);
    for (int i = 0; i < NQ; i++) {
        CHECK(c.per_queue[i] >= 1);
        CHECK(c.per_queue[i] <= (int)(after.transactions - before.transactions));
    }
    if (after.transactions - before.transactions == 1)
        CHECK_INT(c.notified, NQ);
    store_req_t r = {0};
    CHECK_INT(store_queue_list(fx.st, &r, NULL), STORE_OK);
    CHECK_INT(r.n_queues, NQ);
    for (size_t i = 0; i < r.n_queues; i++)
        CHECK_INT(r.queues[i].visible, 2);
    store_req_cleanup(&r);

    /* A sweep across all of them, inside a batch of other work. */
    fx.now += 1000;
    reqs[2 * NQ].data = &c;
    CHECK_INT(store_sweep(fx.st, &reqs[2 * NQ], count_cb), STORE_OK);
    fx_run_until(&loop, &c.done, 2 * NQ + 1);
    CHECK_INT(c.ok, 2 * NQ + 1);
    CHECK_INT(fx_sql_int(fx.db, "SELECT count(*) FROM queue WHERE messages != 1"), 0);
    CHECK_INT(fx_sql_int(fx.db, "SELECT count(*) FROM message"), NQ);
    finish(&fx, &loop);
}

TEST(back_pressure)
{
    enum { CAP = 10 };
    fx_t fx;
    fx_init(&fx);
    fx.opts.max_pending = CAP;
    CHECK_INT(fx_open(&fx), STORE_OK);
    uv_loop_t loop;
    ctx_t c;
    start(&fx, &loop, &c, NULL);
    store_req_t reqs[CAP + 1];
    memset(reqs, 0, sizeof reqs);
    put_x(&fx, &c, reqs, CAP);
    /* Completions only arrive when the loop runs: all CAP are in flight. */
    reqs[CAP].data = &c;
    CHECK_INT(store_queue_put(fx.st, &reqs[CAP], Q, "x", 1, 0, 0, count_cb), STORE_EFULL);
    CHECK_INT(reqs[CAP].status, STORE_EFULL);
    CHECK_CONTAINS(reqs[CAP].err, "10 operations in flight");
    store_req_cleanup(&reqs[CAP]);
    store_stats_t s;
    store_stats(fx.st, &s);
    CHECK_INT(s.rejected, 1);
    CHECK_INT(s.pending, CAP);

    fx_run_until(&loop, &c.done, CAP);
    CHECK_INT(c.ok, CAP);
    store_stats(fx.st, &s);
    CHECK_INT(s.pending, 0);
    CHECK_INT(store_queue_put(fx.st, &reqs[CAP], Q, "x", 1, 0, 0, count_cb), STORE_OK);
    fx_run_until(&loop, &c.done, CAP + 1);
    CHECK_INT(fx_count(&fx, Q).visible, CAP + 1);
    finish(&fx, &loop);
}

TEST(not_started_and_stopping)
{
    fx_t fx;
    fx_init(&fx);
    CHECK_INT(fx_open(&fx), STORE_OK);
    uv_loop_t loop;
    uv_loop_init(&loop);
    ctx_t c;
    ctx_init(&c, &fx);
    store_req_t r = {0};
    r.data = &c;
    CHECK_INT(store_queue_put(fx.st, &r, Q, "x", 1, 0, 0, count_cb), STORE_ESTOPPED);
    CHECK_STR(r.err, "the store is not started");
    store_req_cleanup(&r);
    CHECK_INT(store_stop(fx.st, NULL, NULL), STORE_ESTOPPED);

    /* Operations accepted before a stop still complete, before stop_cb. */
    CHECK_INT(store_start(fx.st, &loop), STORE_OK);
    enum { N = 300 };
    store_req_t *reqs = calloc(N, sizeof *reqs);
    put_x(&fx, &c, reqs, N);
    int stopped = 0;
    CHECK_INT(store_stop(fx.st, fx_stopped_cb, &stopped), STORE_OK);
    CHECK_INT(store_stop(fx.st, fx_stopped_cb, &stopped), STORE_ESTOPPED);
    CHECK_INT(store_queue_put(fx.st, &r, Q, "x", 1, 0, 0, count_cb), STORE_ESTOPPED);
    CHECK_STR(r.err, "the store is stopping");
    store_req_cleanup(&r);
    fx_run_until(&loop, &stopped, 1);
    CHECK_INT(c.ok, N);
    CHECK_INT(stopped, 1);

    /* Synchronous calls work again, and so does a new start. */
    CHECK_INT(fx_count(&fx, Q).visible, N);
    CHECK_INT(store_start(fx.st, &loop), STORE_OK);
    c.done = 0;
    CHECK_INT(store_queue_put(fx.st, &r, Q, "x", 1, 0, 0, count_cb), STORE_OK);
    fx_run_until(&loop, &c.done, 1);
    free(reqs);
    finish(&fx, &loop);
}

TEST(one_failing_operation_leaves_the_batch)
{
    fx_t fx;
    fx_init(&fx);
    CHECK_INT(fx_open(&fx), STORE_OK);
    char id[STORE_ID_LEN];
    CHECK_INT(fx_put(&fx, Q, "held", 0, 0, id), STORE_OK);
    uv_loop_t loop;
    ctx_t c;
    start(&fx, &loop, &c, NULL);
    store_req_t r[4];
    memset(r, 0, sizeof r);
    for (int i = 0; i < 4; i++)
        r[i].data = &c;
    CHECK_INT(store_queue_put(fx.st, &r[0], Q, "a", 1, 0, 0, count_cb), STORE_OK);
    CHECK_INT(store_queue_delete(fx.st, &r[1], Q, id, "not-the-receipt", count_cb), STORE_OK);
    CHECK_INT(store_kv_get(fx.st, &r[2], "ns", "missing", count_cb), STORE_OK);
    CHECK_INT(store_queue_put(fx.st, &r[3], Q, "b", 1, 0, 0, count_cb), STORE_OK);
    fx_run_until(&loop, &c.done, 4);
    CHECK_STATUSES(&c, STORE_OK, STORE_ESTALE, STORE_ENOTFOUND, STORE_OK);
    CHECK_INT(fx_count(&fx, Q).visible, 3);
    finish(&fx, &loop);
}

TEST(a_backend_failure_fails_only_its_operation)
{
    /* A trigger added to the file behind the store's back makes SQLite
     * fail one insert: the batch is rolled back and rerun one by one. */
    fx_t fx;
    fx_init(&fx);
    CHECK_INT(fx_open(&fx), STORE_OK);
    store_close(fx.st);
    fx.st = NULL;
    CHECK_INT(fx_sql_exec(fx.db, "CREATE TRIGGER boom BEFORE INSERT ON message"
                                 " WHEN CAST(NEW.body AS TEXT) = 'boom'"
                                 " BEGIN SELECT RAISE(ABORT, 'disk on fire'); END;"),
              0);
    CHECK_INT(fx_open(&fx), STORE_OK);
    uv_loop_t loop;
    ctx_t c;
    start(&fx, &loop, &c, NULL);
    store_stats_t before, after;
    store_stats(fx.st, &before);
    store_req_t r[3];
    memset(r, 0, sizeof r);
    const char *bodies[] = {"a", "boom", "b"};
    for (int i = 0; i < 3; i++) {
        r[i].data = &c;
        CHECK_INT(store_queue_put(fx.st, &r[i], Q, bodies[i], strlen(bodies[i]), 0, 0, count_cb),
                  STORE_OK);
    }
    fx_run_until(&loop, &c.done, 3);
    CHECK_STATUSES(&c, STORE_OK, STORE_EIO, STORE_OK);
    CHECK_CONTAINS(c.last_err, "disk on fire (while putting a message)");
    CHECK_CONTAINS(c.last_err, fx.db);
    store_stats(fx.st, &after);
    if (after.transactions - before.transactions == 4) /* one batch: failed, then 3 alone */
        CHECK_INT(after.operations - before.operations, 3);
    CHECK_INT(fx_count(&fx, Q).visible, 2);
    CHECK_INT(fx_sql_int(fx.db, "SELECT messages FROM queue WHERE name = 'work'"), 2);
    finish(&fx, &loop);
}

TEST(notifications)
{
    fx_t fx;
    uv_loop_t loop;
    ctx_t c;
    begin(&fx, &loop, &c, notify_cb);
    store_req_t r = {0};
    r.data = &c;

    /* A delayed message is not visible: no notification. */
    CHECK_INT(store_queue_put(fx.st, &r, Q, "later", 5, 1000, 0, count_cb), STORE_OK);
    fx_run_until(&loop, &c.done, 1);
    CHECK_INT(c.notified, 0);

    CHECK_INT(fx_put(&fx, Q, "now", 0, 0, NULL), STORE_OK); /* synchronous: none either */
    CHECK_INT(c.notified, 0);
    store_req_t g = {0};
    CHECK_INT(store_queue_get(fx.st, &g, Q, 1, 60000, NULL), STORE_OK);

    /* Released at once: visible, notified. */
    CHECK_INT(store_queue_update(fx.st, &r, Q, g.msgs[0].id, g.msgs[0].pop_receipt, 0, count_cb),
              STORE_OK);
    fx_run_until(&loop, &c.done, 2);
    CHECK_INT(c.notified, 1);
    CHECK_STR(c.notified_queue, Q);
    store_req_cleanup(&g);

    /* Moved to poison: the poison queue is notified. */
    CHECK_INT(store_queue_get(fx.st, &g, Q, 1, 60000, NULL), STORE_OK);
    CHECK_INT(store_queue_poison(fx.st, &r, Q, g.msgs[0].id, g.msgs[0].pop_receipt, count_cb),
              STORE_OK);
    fx_run_until(&loop, &c.done, 3);
    CHECK_INT(c.notified, 2);
    CHECK_STR(c.notified_queue, "work-poison");
    store_req_cleanup(&g);

    /* A failed operation notifies nothing. */
    CHECK_INT(store_queue_update(fx.st, &r, Q, "gone", "gone", 0, count_cb), STORE_OK);
    fx_run_until(&loop, &c.done, 4);
    CHECK_INT(c.notified, 2);
    finish(&fx, &loop);
}

TEST(read_only_beside_a_running_store)
{
    fx_t fx;
    fx_init(&fx);
    CHECK_INT(fx_open(&fx), STORE_OK);
    CHECK_INT(fx_put(&fx, Q, "seen", 0, 0, NULL), STORE_OK);
    store_options_t ro = fx.opts;
    ro.read_only = 1;
    store_t *st = NULL;
    char err[512];
    CHECK_INT(store_open("sqlite:", fx.root, &ro, &st, err, sizeof err), STORE_OK);
    if (st) {
        CHECK_STR(store_check_result(st), "skipped: read-only");
        store_req_t r = {0};
        CHECK_INT(store_queue_peek(st, &r, Q, 32, NULL), STORE_OK);
        CHECK_INT(r.n_msgs, 1);
        store_req_cleanup(&r);
        CHECK_INT(store_queue_list(st, &r, NULL), STORE_OK);
        CHECK_INT(r.n_queues, 1);
        store_req_cleanup(&r);
        CHECK_INT(store_queue_put(st, &r, Q, "x", 1, 0, 0, NULL), STORE_EIO);
        CHECK_CONTAINS(r.err, "readonly");
        store_req_cleanup(&r);
        uv_loop_t loop;
        uv_loop_init(&loop);
        CHECK_INT(store_start(st, &loop), STORE_EINVAL);
        uv_loop_close(&loop);
        store_close(st);
    }
    /* A read-only open never creates a file. */
    store_t *none = NULL;
    CHECK_INT(store_open("sqlite:missing.db", fx.root, &ro, &none, err, sizeof err), STORE_EIO);
    CHECK_CONTAINS(err, "does not exist");
    fx_done(&fx);
}

TEST(real_clock_redelivery)
{
    fx_t fx;
    fx_init(&fx);
    fx.opts.clock = NULL; /* the system clock */
    CHECK_INT(fx_open(&fx), STORE_OK);
    CHECK_INT(fx_put(&fx, Q, "tick", 0, 0, NULL), STORE_OK);
    store_req_t g = {0};
    CHECK_INT(store_queue_get(fx.st, &g, Q, 1, 100, NULL), STORE_OK);
    CHECK_INT(g.n_msgs, 1);
    store_req_cleanup(&g);
    usleep(300 * 1000); /* well past the 100 ms timeout */
    CHECK_INT(store_queue_get(fx.st, &g, Q, 1, 60000, NULL), STORE_OK);
    CHECK_INT(g.n_msgs, 1);
    CHECK_INT(g.n_msgs ? g.msgs[0].dequeue_count : 0, 2);
    store_req_cleanup(&g);
    fx_done(&fx);
}

int main(void)
{
    RUN(completions_on_the_loop_thread);
    RUN(group_commit_of_one_loop_turn);
    RUN(batch_size_is_capped);
    RUN(many_queues_in_one_batch);
    RUN(back_pressure);
    RUN(not_started_and_stopping);
    RUN(one_failing_operation_leaves_the_batch);
    RUN(a_backend_failure_fails_only_its_operation);
    RUN(notifications);
    RUN(read_only_beside_a_running_store);
    RUN(real_clock_redelivery);
    return TEST_REPORT();
}
