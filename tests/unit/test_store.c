/*
 * test_store.c -- unit tests of the store's semantics (src/store/), through
 * the synchronous calls on real SQLite files with a clock moved by hand:
 * connection URLs, queue names, every queue operation and its edge cases
 * (visibility expiry and redelivery, stale receipts, time to live, poison
 * moves, peek, clear, counts), key/value state, and what survives a reopen.
 * The asynchronous path is in test_store_async.c, the file's failure modes
 * in test_store_file.c.
 */
#include "store_fx.h"

#define Q "orders"
#define MIN_MS 60000LL

/* ---- connection URLs ---------------------------------------------------- */

TEST(url_default_forms)
{
    const char *forms[] = {NULL, "", "sqlite:", "UseDevelopmentStorage=true",
                           "usedevelopmentstorage=TRUE;DevelopmentStorageProxyUri=http://x"};
    for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++) {
        fx_t fx;
        fx_init(&fx);
        int rc = store_open(forms[i], fx.root, NULL, &fx.st, fx.err, sizeof fx.err);
        CHECK_INT(rc, STORE_OK);
        if (rc == STORE_OK) {
            CHECK_STR(store_location(fx.st), fx.db);
            CHECK_STR(store_backend_name(fx.st), "sqlite");
            CHECK_INT(store_schema_version(fx.st), 3);
            CHECK_STR(store_check_result(fx.st), "new store");
        }
        struct stat sb;
        CHECK_INT(stat(fx.db, &sb), 0);
        CHECK_INT(sb.st_mode & 0777, 0600);
        fx_done(&fx);
    }
}

TEST(url_paths)
{
    fx_t fx;
    fx_init(&fx);
    char url[256], want[256];
    store_t *st = NULL;

    snprintf(url, sizeof url, "sqlite:%s/abs.db", fx.root);
    snprintf(want, sizeof want, "%s/abs.db", fx.root);
    CHECK_INT(store_open(url, NULL, NULL, &st, fx.err, sizeof fx.err), STORE_OK);
    CHECK_STR(st ? store_location(st) : NULL, want);
    store_close(st);

    snprintf(url, sizeof url, "sqlite://%s/triple.db", fx.root);
    snprintf(want, sizeof want, "%s/triple.db", fx.root);
    CHECK_INT(store_open(url, "/nonexistent", NULL, &st, fx.err, sizeof fx.err), STORE_OK);
    CHECK_STR(st ? store_location(st) : NULL, want);
    store_close(st);

    snprintf(want, sizeof want, "%s/rel.db", fx.root);
    CHECK_INT(store_open("SQLite:rel.db", fx.root, NULL, &st, fx.err, sizeof fx.err), STORE_OK);
    CHECK_STR(st ? store_location(st) : NULL, want);
    store_close(st);
    fx_done(&fx);
}

TEST(url_errors)
{
    fx_t fx;
    fx_init(&fx);
    store_t *st = (store_t *)1;
    CHECK_INT(store_open("redis://localhost:6379", fx.root, NULL, &st, fx.err, sizeof fx.err),
              STORE_ESCHEME);
    CHECK_STR(fx.err, "no store backend for scheme 'redis' (available: sqlite)");
    CHECK(st == NULL);

    CHECK_INT(store_open("postgres://user:hunter2@db/x", fx.root, NULL, &st, fx.err,
                         sizeof fx.err),
              STORE_ESCHEME);
    CHECK_CONTAINS(fx.err, "'postgres'");
    CHECK(!strstr(fx.err, "hunter2"));

    CHECK_INT(store_open("DefaultEndpointsProtocol=https;AccountName=a;AccountKey=S3CRET==",
                         fx.root, NULL, &st, fx.err, sizeof fx.err),
              STORE_ESCHEME);
    CHECK_CONTAINS(fx.err, "Azure Storage connection string");
    CHECK(!strstr(fx.err, "S3CRET"));

    CHECK_INT(store_open("store.db", fx.root, NULL, &st, fx.err, sizeof fx.err), STORE_ESCHEME);
    CHECK_CONTAINS(fx.err, "has no scheme");
    CHECK_CONTAINS(fx.err, "sqlite:store.db");

    CHECK_INT(store_open("sqlite://dbhost/x.db", fx.root, NULL, &st, fx.err, sizeof fx.err),
              STORE_ESCHEME);
    CHECK_CONTAINS(fx.err, "names a host");

    CHECK_INT(store_open("sqlite:sub/", fx.root, NULL, &st, fx.err, sizeof fx.err),
              STORE_EINVAL);
    CHECK_CONTAINS(fx.err, "names a folder");

    CHECK_INT(store_open("sqlite:nodir/x.db", fx.root, NULL, &st, fx.err, sizeof fx.err),
              STORE_EIO);
    CHECK_CONTAINS(fx.err, "nodir does not exist");

    CHECK_INT(store_open("sqlite:", NULL, NULL, &st, fx.err, sizeof fx.err), STORE_EINVAL);
    CHECK_CONTAINS(fx.err, "no app folder");
    CHECK(st == NULL);
    fx_done(&fx);
}

/* ---- queue names ---------------------------------------------------------- */

TEST(queue_names)
{
    char err[STORE_ERR_LEN], n63[64], n64[65], p70[80], p71[80];
    memset(n63, 'a', 63);
    n63[63] = '\0';
    memset(n64, 'b', 64);
    n64[64] = '\0';
    snprintf(p70, sizeof p70, "%s-poison", n63);
    snprintf(p71, sizeof p71, "%s-poison", n64);
    const char *good[] = {"abc", "a-b-c", "q1", "123", n63, "orders-poison", p70, "x-poison"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        if (strlen(good[i]) < 3)
            continue;
        int rc = store_queue_name_check(good[i], err, sizeof err);
        if (rc != STORE_OK)
            fprintf(stderr, "rejected %s: %s\n", good[i], err);
        CHECK_INT(rc, STORE_OK);
    }
    struct {
        const char *name, *why;
    } bad[] = {
        {"ab", "is 2 characters long; queue names have 3 to 63"},
        {n64, "is 64 characters long"},
        {p71, "is 71 characters long"},
        {"Orders", "upper-case letter at position 1"},
        {"or_ders", "other than a lower-case letter, digit or dash at position 3"},
        {"-abc", "must start with a letter or digit"},
        {"abc-", "must end with a letter or digit"},
        {"a--b", "two dashes in a row"},
        {"", "is 0 characters long"},
        {"caf\xc3\xa9", "at position 4"},
        {"-poison", "must start with a letter or digit"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK_INT(store_queue_name_check(bad[i].name, err, sizeof err), STORE_EINVAL);
        CHECK_CONTAINS(err, bad[i].why);
    }
    CHECK_INT(store_queue_name_check("caf\xc3\xa9", err, sizeof err), STORE_EINVAL);
    CHECK_CONTAINS(err, "'caf\\xc3\\xa9'");
    CHECK_INT(store_queue_name_check(NULL, err, sizeof err), STORE_EINVAL);
    CHECK_STR(err, "queue name is missing");
    CHECK_INT(store_queue_name_check("Bad", NULL, 0), STORE_EINVAL);
}

TEST(bad_names_refused_by_every_operation)
{
    fx_t fx;
    fx_init(&fx);
    CHECK_INT(fx_open(&fx), STORE_OK);
    store_req_t r = {0};
    CHECK_INT(store_queue_put(fx.st, &r, "Bad", "x", 1, 0, 0, NULL), STORE_EINVAL);
    CHECK_CONTAINS(r.err, "queue name 'Bad'");
    store_req_cleanup(&r);
    CHECK_INT(store_queue_get(fx.st, &r, "x", 1, 1000, NULL), STORE_EINVAL);
    store_req_cleanup(&r);
    CHECK_INT(store_queue_peek(fx.st, &r, "a_b", 1, NULL), STORE_EINVAL);
    store_req_cleanup(&r);
    CHECK_INT(store_queue_delete(fx.st, &r, "UP", "id", "r", NULL), STORE_EINVAL);
    store_req_cleanup(&r);
    CHECK_INT(store_queue_clear(fx.st, &r, "", NULL), STORE_EINVAL);
    store_req_cleanup(&r);
    CHECK_INT(store_queue_count(fx.st, &r, NULL, NULL), STORE_EINVAL);
    store_req_cleanup(&r);
    /* Nothing reached the file. */
    CHECK_INT(fx_sql_int(fx.db, "SELECT count(*) FROM queue"), 0);
    fx_done(&fx);
}

/* ---- put, get, delete --------------------------------------------------------- */

TEST(put_get_delete)
{
    fx_t fx;
    fx_init(&fx);
    CHECK_INT(fx_open(&fx), STORE_OK);
    store_req_t put = {0}, get = {0}, del = {0};
    CHECK_INT(store_queue_put(fx.st, &put, Q, "hello", 5, 0, 0, NULL), STORE_OK);
    CHECK_INT(put.n_msgs, 1);
    store_msg_t pm = put.msgs[0];
    CHECK_INT(strlen(pm.id), 36);
    CHECK_INT(strlen(pm.pop_receipt), 36);
    CHECK_INT(pm.insertion_time, FX_T0);
    CHECK_INT(pm.expiration_time, FX_T0 + STORE_DEFAULT_TTL_MS);
    CHECK_INT(pm.next_visible_time, FX_T0);
    CHECK_INT(pm.dequeue_count, 0);
    CHECK(pm.body == NULL);

    fx.now += 10;
    CHECK_INT(store_queue_get(fx.st, &get, Q, 1, 30000, NULL), STORE_OK);
    CHECK_INT(get.n_msgs, 1);
    if (get.n_msgs == 1) {
        store_msg_t *m = &get.msgs[0];
        CHECK_STR(m->id, pm.id);
        CHECK_INT(m->body_len, 5);
        CHECK_STR((char *)m->body, "hello");
        CHECK_INT(m->dequeue_count, 1);
        CHECK(strcmp(m->pop_receipt, pm.pop_receipt) != 0);
        CHECK_INT(m->insertion_time, FX_T0);
        CHECK_INT(m->expiration_time, FX_T0 + STORE_DEFAULT_TTL_MS);
        CHECK_INT(m->next_visible_time, FX_T0 + 10 + 30000);
    }
    store_queue_info_t q = fx_count(&fx, Q);
    CHECK_INT(q.visible, 0);
    CHECK_INT(q.invisible, 1);

    /* Invisible: a second consumer gets nothing. */
    store_req_t again = {0};
    CHECK_INT(store_queue_get(fx.st, &again, Q, 32, 30000, NULL), STORE_OK);
    CHECK_INT(again.n_msgs, 0);
    store_req_cleanup(&again);

    CHECK_INT(store_queue_delete(fx.st, &del, Q, get.msgs[0].id, get.msgs[0].pop_receipt, NULL),
              STORE_OK);
    store_req_cleanup(&del);
    q = fx_count(&fx, Q);
    CHECK_INT(q.visible + q.invisible, 0);
    CHECK_INT(store_queue_delete(fx.st, &del, Q, get.msgs[0].id, get.msgs[0].pop_receipt, NULL),
              STORE_ENOTFOUND);
    CHECK_CONTAINS(del.err, "is not in queue 'orders'");
    store_req_cleanup(&del);
    CHECK_INT(fx_sql_int(fx.db, "SELECT count(*) FROM message"), 0);
    store_req_cleanup(&put);
    store_req_cleanup(&get);
    fx_done(&fx);
}

TEST(delete_with_put_receipt)
{
    fx_t fx;
    fx_init(&fx);
    CHECK_INT(fx_open(&fx), STORE_OK);
    store_req_t put = {0}, del = {0};
    CHECK_INT(store_queue_put(fx.st, &put, Q, "x", 1, 0, 0, NULL), STORE_OK);
    CHECK_INT(store_queue_delete(fx.st, &del, "other", put.msgs[0].id, put.msgs[0].pop_receipt,
                                 NULL),
              STORE_ENOTFOUND); /* the right id in the wrong queue */
    store_req_cleanup(&del);
    CHECK_INT(store_queue_delete(fx.st, &del, Q, put.msgs[0].id, put.msgs[0].pop_receipt, NULL),
              STORE_OK);
    store_req_cleanup(&del);
    CHECK_INT(store_queue_delete(fx.st, &del, Q, "", "r", NULL), STORE_EINVAL);
    CHECK_STR(del.err, "message id is missing");
    store_req_cleanup(&del);
    CHECK_INT(store_queue_delete(fx.st, &del, Q, "id with space", "r", NULL), STORE_EINVAL);
    store_req_cleanup(&del);
    store_req_cleanup(&put);
    fx_done(&fx);
}

TEST(visibility_expiry_redelivers)
{
    fx_t fx;
    fx_init(&fx);
    CHECK_INT(fx_open(&fx), STORE_OK);
    CHECK_INT(fx_put(&fx, Q, "job", 0, 0, NULL), STORE_OK);
    store_req_t g1 = {0}, g2 = {0}, r = {0};
    CHECK_INT(store_queue_get(fx.st, &g1, Q, 1, 1000, NULL), STORE_OK);
    CHECK_INT(g1.n_msgs, 1);

    fx.now += 999; /* not yet */
    CHECK_INT(store_queue_get(fx.st, &r, Q, 1, 1000, NULL), STORE_OK);
    CHECK_INT(r.n_msgs, 0);
    store_req_cleanup(&r);

    fx.now += 1; /* the consumer did not delete it in time */
    CHECK_INT(store_queue_get(fx.st, &g2, Q, 1, 1000, NULL), STORE_OK);
    CHECK_INT(g2.n_msgs, 1);
    if (g1.n_msgs == 1 && g2.n_msgs == 1) {
        CHECK_STR(g2.msgs[0].id, g1.msgs[0].id);
        CHECK_INT(g2.msgs[0].dequeue_count, 2);
        CHECK(strcmp(g2.msgs[0].pop_receipt, g1.msgs[0].pop_receipt) != 0);

        /* The first consumer's receipt is stale now: refused, nothing changes. */
        CHECK_INT(store_queue_delete(fx.st, &r, Q, g1.msgs[0].id, g1.msgs[0].pop_receipt, NULL),
                  STORE_ESTALE);
        CHECK_CONTAINS(r.err, "is stale: the message was delivered again since");
        store_req_cleanup(&r);
        CHECK_INT(store_queue_update(fx.st, &r, Q, g1.msgs[0].id, g1.msgs[0].pop_receipt, 0,
                                     NULL),
                  STORE_ESTALE);
        store_req_cleanup(&r);
        CHECK_INT(fx_count(&fx, Q).invisible, 1);

        CHECK_INT(store_queue_delete(fx.st, &r, Q, g2.msgs[0].id, g2.msgs[0].pop_receipt, NULL),
                  STORE_OK);
        store_req_cleanup(&r);
    }
    store_req_cleanup(&g1);
    store_req_cleanup(&g2);
    fx_done(&fx);
}

TEST(receipt_still_valid_after_timeout_until_redelivered)
{
    /* As Azure: the receipt changes only when the message is delivered again. */
    fx_t fx;
    fx_init(&fx);
    CHECK_INT(fx_open(&fx), STORE_OK);
    CHECK_INT(fx_put(&fx, Q, "late", 0, 0, NULL), STORE_OK);
    store_req_t g = {0}, d = {0};
    CHECK_INT(store_queue_get(fx.st, &g, Q, 1, 1000, NULL), STORE_OK);
    fx.now += 5000;
    CHECK_INT(store_queue_delete(fx.st, &d, Q, g.msgs[0].id, g.msgs[0].pop_receipt, NULL),
              STORE_OK);
    store_req_cleanup(&d);
    store_req_cleanup(&g);
    fx_done(&fx);
}

TEST(update_visibility)
{
    fx_t fx;
    fx_init(&fx);
    CHECK_INT(fx_open(&fx), STORE_OK);
    CHECK_INT(fx_put(&fx, Q, "retry me", 0, 0, NULL), STORE_OK);
    store_req_t g = {0}, u = {0}, r = {0};
    CHECK_INT(store_queue_get(fx.st, &g, Q, 1, 30000, NULL), STORE_OK);
    /* Release for a retry after 5 s. */
    CHECK_INT(store_queue_update(fx.st, &u, Q, g.msgs[0].id, g.msgs[0].pop_receipt, 5000, NULL),
              STORE_OK);
    CHECK_INT(u.n_msgs, 1);
    CHECK_INT(u.msgs[0].next_visible_time, FX_T0 + 5000);
    CHECK_INT(u.msgs[0].dequeue_count, 1);
    CHECK_INT(u.msgs[0].insertion_time, FX_T0);
    CHECK(strcmp(u.msgs[0].pop_receipt, g.msgs[0].pop_receipt) != 0);
    /* The get's receipt was replaced. */
    CHECK_INT(store_queue_delete(fx.st, &r, Q, g.msgs[0].id, g.msgs[0].pop_receipt, NULL),
              STORE_ESTALE);
    store_req_cleanup(&r);

    fx.now += 4999;
    CHECK_INT(store_queue_get(fx.st, &r, Q, 1, 30000, NULL), STORE_OK);
    CHECK_INT(r.n_msgs, 0);
    store_req_cleanup(&r);
    fx.now += 1;
    CHECK_INT(store_queue_get(fx.st, &r, Q, 1, 30000, NULL), STORE_OK);
    CHECK_INT(r.n_msgs, 1);
    CHECK_INT(r.n_msgs ? r.msgs[0].dequeue_count : 0, 2);

    /* Release at once: visible again now. */
    store_req_t u0 = {0}, g3 = {0};
    CHECK_INT(store_queue_update(fx.st, &u0, Q, r.msgs[0].id, r.msgs[0].pop_receipt, 0, NULL),
              STORE_OK);
    CHECK_INT(fx_count(&fx, Q).visible, 1);
    CHECK_INT(store_queue_get(fx.st, &g3, Q, 1, 30000, NULL), STORE_OK);
    CHECK_INT(g3.n_msgs ? g3.msgs[0].dequeue_count : 0, 3);

    store_req_t bad = {0};
    CHECK_INT(store_queue_update(fx.st, &bad, Q, "nope", "nope", 0, NULL), STORE_ENOTFOUND);
    store_req_cleanup(&bad);
    CHECK_INT(store_queue_update(fx.st, &bad, Q, "a", "b", STORE_MAX_VISIBILITY_MS + 1, NULL),
              STORE_EINVAL);
    CHECK_CONTAINS(bad.err, "visibility timeout");
    store_req_cleanup(&bad);
    store_req_cleanup(&g);
    store_req_cleanup(&u);
    store_req_cleanup(&r);
    store_req_cleanup(&u0);
    store_req_cleanup(&g3);
    fx_done(&fx);
}

TEST(ttl_expiry)
{
    fx_t fx;
    fx_init(&fx);
    CHECK_INT(fx_open(&fx), STORE_OK);
    char short_id[STORE_ID_LEN], never_id[STORE_ID_LEN];
    CHECK_INT(fx_put(&fx, Q, "short", 0, 1000, short_id), STORE_OK);
    CHECK_INT(fx_put(&fx, Q, "never", 0, STORE_TTL_NEVER, never_id), STORE_OK);
    CHECK_INT(fx_put(&fx, Q, "default", 0, 0, NULL), STORE_OK);

    store_req_t p = {0};
    CHECK_INT(store_queue_peek(fx.st, &p, Q, 32, NULL), STORE_OK);
    CHECK_INT(p.n_msgs, 3);
    if (p.n_msgs == 3) {
        CHECK_INT(p.msgs[0].expiration_time, FX_T0 + 1000);
        CHECK(p.msgs[1].expiration_time == STORE_TIME_NEVER);
    }
    store_req_cleanup(&p);

    fx.now += 1000; /* "short" expires */
    CHECK_INT(store_queue_peek(fx.st, &p, Q, 32, NULL), STORE_OK);
    CHECK_INT(p.n_msgs, 2);
    store_req_cleanup(&p);
    CHECK_INT(fx_count(&fx, Q).visible, 2);

    store_req_t g = {0};
    CHECK_INT(store_queue_get(fx.st, &g, Q, 32, 30000, NULL), STORE_OK);
    CHECK_INT(g.n_msgs, 2);
    CHECK_INT(g.count, 1); /* the expired one, removed on the way */
    for (size_t i = 0; i < g.n_msgs; i++)
        CHECK(strcmp(g.msgs[i].id, short_id) != 0);
    store_req_cleanup(&g);
    CHECK_INT(fx_sql_int(fx.db, "SELECT count(*) FROM message"), 2);

    /* A message that expires while a consumer holds it. */
    store_req_t g2 = {0}, u = {0};
    CHECK_INT(fx_put(&fx, "held", "x", 0, 5000, NULL), STORE_OK);
    CHECK_INT(store_queue_get(fx.st, &g2, "held", 1, 60000, NULL), STORE_OK);
    fx.now += 6000;
    CHECK_INT(store_queue_update(fx.st, &u, "held", g2.msgs[0].id, g2.msgs[0].pop_receipt, 0,
                                 NULL),
              STORE_ENOTFOUND);
    CHECK_CONTAINS(u.err, "has expired");
    store_req_cleanup(&u);
    CHECK_INT(fx_count(&fx, "held").invisible, 0);

    /* A sweep removes what no get reached; "never" and "default" stay. */
    store_req_t sw = {0};
    CHECK_INT(store_sweep(fx.st, &sw, NULL), STORE_OK);
    CHECK_INT(sw.count, 1);
    store_req_cleanup(&sw);
    CHECK_INT(fx_sql_int(fx.db, "SELECT count(*) FROM message"), 2);
    fx.now += 10 * 24 * 3600 * 1000LL;
    CHECK_INT(store_sweep(fx.st, &sw, NULL), STORE_OK);
    CHECK_INT(sw.count, 1);
    store_req_cleanup(&sw);
    char sql[128];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM message WHERE id = '%s'", never_id);
    CHECK_INT(fx_sql_int(fx.db, sql), 1);
    store_stats_t stats;
    store_stats(fx.st, &stats);
    CHECK_INT(stats.expired, 3);
    store_req_cleanup(&g2);
    fx_done(&fx);
}

TEST(put_arguments)
{
    fx_t fx;
    fx_init(&fx);
    fx.opts.max_body = 100;
    CHECK_INT(fx_open(&fx), STORE_OK);
    char big[70000];
    memset(big, 'x', sizeof big);
    store_req_t r = {0};
    CHECK_INT(store_queue_put(fx.st, &r, Q, big, 100, 0, 0, NULL), STORE_OK);
    store_req_cleanup(&r);
    CHECK_INT(store_queue_put(fx.st, &r, Q, big, 101, 0, 0, NULL), STORE_E2BIG);
    CHECK_STR(r.err, "message of 101 bytes for queue 'orders' is over the limit of 100 bytes");
    store_req_cleanup(&r);
    CHECK_INT(store_queue_put(fx.st, &r, Q, "x", 1, -1, 0, NULL), STORE_EINVAL);
    CHECK_CONTAINS(r.err, "initial visibility delay of -1 ms is out of range");
    store_req_cleanup(&r);
    CHECK_INT(store_queue_put(fx.st, &r, Q, "x", 1, STORE_MAX_VISIBILITY_MS + 1, -1, NULL),
              STORE_EINVAL);
    store_req_cleanup(&r);
    CHECK_INT(store_queue_put(fx.st, &r, Q, "x", 1, 2000, 2000, NULL), STORE_EINVAL);
    CHECK_CONTAINS(r.err, "must be shorter than the time to live");
    store_req_cleanup(&r);
    CHECK_INT(store_queue_put(fx.st, &r, Q, "x", 1, 0, -2, NULL), STORE_EINVAL);
    CHECK_CONTAINS(r.err, "time to live of -2 ms is not valid");
    store_req_cleanup(&r);
    CHECK_INT(store_queue_put(fx.st, &r, Q, NULL, 5, 0, 0, NULL), STORE_EINVAL);
    store_req_cleanup(&r);
    CHECK_INT(store_queue_get(fx.st, &r, Q, 0, 1000, NULL), STORE_EINVAL);
    CHECK_CONTAINS(r.err, "out of range (1 to 32)");
    store_req_cleanup(&r);
    CHECK_INT(store_queue_get(fx.st, &r, Q, 33, 1000, NULL), STORE_EINVAL);
    store_req_cleanup(&r);
    CHECK_INT(store_queue_get(fx.st, &r, Q, 1, -5, NULL), STORE_EINVAL);
    store_req_cleanup(&r);
    CHECK_INT(fx_count(&fx, Q).visible, 1);
    fx_done(&fx);

    /* The default limit is Azure's 64 KiB. */
    fx_init(&fx);
    CHECK_INT(fx_open(&fx), STORE_OK);
    CHECK_INT(store_queue_put(fx.st, &r, Q, big, 65536, 0, 0, NULL), STORE_OK);
    store_req_cleanup(&r);
    CHECK_INT(store_queue_put(fx.st, &r, Q, big, 65537, 0, 0, NULL), STORE_E2BIG);
    store_req_cleanup(&r);
    fx_done(&fx);
}

TEST(binary_and_empty_bodies)
{
    fx_t fx;
    fx_init(&fx);
    CHECK_INT(fx_open(&fx), STORE_OK);
    unsigned char bin[256];
    for (int i = 0; i < 256; i++)
        bin[i] = (unsigned char)i;
    store_req_t r = {0};
    CHECK_INT(store_queue_put(fx.st, &r, Q, bin, sizeof bin, 0, 0, NULL), STORE_OK);
    store_req_cleanup(&r);
    CHECK_INT(store_queue_put(fx.st, &r, Q, NULL, 0, 0, 0, NULL), STORE_OK);
    store_req_cleanup(&r);
    CHECK_INT(store_queue_get(fx.st, &r, Q, 2, 1000, NULL), STORE_OK);
    CHECK_INT(r.n_msgs, 2);
    if (r.n_msgs == 2) {
        CHECK_INT(r.msgs[0].body_len, 256);
        CHECK(memcmp(r.msgs[0].body, bin, 256) == 0);
        CHECK_INT(r.msgs[1].body_len, 0);
        CHECK(r.msgs[1].body != NULL && r.msgs[1].body[0] == '\0');
    }
    store_req_cleanup(&r);
    fx_done(&fx);
}

TEST(initial_delay)
{
    fx_t fx;
    fx_init(&fx);
    CHECK_INT(fx_open(&fx), STORE_OK);
    store_req_t r = {0};
    CHECK_INT(store_queue_put(fx.st, &r, Q, "later", 5, 2000, 0, NULL), STORE_OK);
    CHECK_INT(r.msgs[0].next_visible_time, FX_T0 + 2000);
    store_req_cleanup(&r);
    store_queue_info_t q = fx_count(&fx, Q);
    CHECK_INT(q.visible, 0);
    CHECK_INT(q.invisible, 1);
    CHECK_INT(store_queue_peek(fx.st, &r, Q, 1, NULL), STORE_OK);
    CHECK_INT(r.n_msgs, 0);
    store_req_cleanup(&r);
    fx.now += 2000;
    CHECK_INT(store_queue_get(fx.st, &r, Q, 1, 1000, NULL), STORE_OK);
    CHECK_INT(r.n_msgs, 1);
    CHECK_INT(r.n_msgs ? r.msgs[0].dequeue_count : 0, 1);
    store_req_cleanup(&r);
    fx_done(&fx);
}

TEST(peek_changes_nothing)
{
    fx_t fx;
    fx_init(&fx);
    CHECK_INT(fx_open(&fx), STORE_OK);
    char ids[3][STORE_ID_LEN];
    CHECK_INT(fx_put(&fx, Q, "one", 0, 0, ids[0]), STORE_OK);
    CHECK_INT(fx_put(&fx, Q, "two", 0, 0, ids[1]), STORE_OK);
    CHECK_INT(fx_put(&fx, Q, "three", 0, 0, ids[2]), STORE_OK);
    store_req_t p = {0};
    for (int round = 0; round < 2; round++) {
        CHECK_INT(store_queue_peek(fx.st, &p, Q, 2, NULL), STORE_OK);
        CHECK_INT(p.n_msgs, 2);
        if (p.n_msgs == 2) {
            CHECK_STR(p.msgs[0].id, ids[0]);
            CHECK_STR((char *)p.msgs[0].body, "one");
            CHECK_STR(p.msgs[1].id, ids[1]);
            CHECK_STR(p.msgs[0].pop_receipt, "");
            CHECK_INT(p.msgs[0].dequeue_count, 0);
        }
        store_req_cleanup(&p);
    }
    store_req_t g = {0};
    CHECK_INT(store_queue_get(fx.st, &g, Q, 3, 1000, NULL), STORE_OK);
    CHECK_INT(g.n_msgs, 3);
    for (size_t i = 0; i < g.n_msgs; i++) {
        CHECK_STR(g.msgs[i].id, ids[i]); /* oldest first */
        CHECK_INT(g.msgs[i].dequeue_count, 1);
    }
    store_req_cleanup(&g);
    CHECK_INT(store_queue_peek(fx.st, &p, Q, 32, NULL), STORE_OK);
    CHECK_INT(p.n_msgs, 0); /* peek shows only visible messages */
    store_req_cleanup(&p);
    fx_done(&fx);
}

TEST(get_at_most_32)
{
    fx_t fx;
    fx_init(&fx);
    CHECK_INT(fx_open(&fx), STORE_OK);
    for (int i = 0; i < 40; i++)
        CHECK_INT(fx_put(&fx, Q, "m", 0, 0, NULL), STORE_OK);
    store_req_t g = {0};
    CHECK_INT(store_queue_get(fx.st, &g, Q, 32, 1000, NULL), STORE_OK);
    CHECK_INT(g.n_msgs, 32);
    store_req_cleanup(&g);
    CHECK_INT(store_queue_get(fx.st, &g, Q, 32, 1000, NULL), STORE_OK);
    CHECK_INT(g.n_msgs, 8);
    store_req_cleanup(&g);
    fx_done(&fx);
}

TEST(poison_move)
{
    fx_t fx;
    fx_init(&fx);
    CHECK_INT(fx_open(&fx), STORE_OK);
    CHECK_INT(fx_put(&fx, Q, "bad input", 0, 0, NULL), STORE_OK);
    store_req_t g = {0}, g2 = {0}, mv = {0}, r = {0};
    CHECK_INT(store_queue_get(fx.st, &g, Q, 1, 1000, NULL), STORE_OK);
    fx.now += 1000; /* delivered again: the first receipt is stale */
    CHECK_INT(store_queue_get(fx.st, &g2, Q, 1, 1000, NULL), STORE_OK);
    CHECK_INT(g2.n_msgs ? g2.msgs[0].dequeue_count : 0, 2);

    /* A stale receipt moves nothing. */
    CHECK_INT(store_queue_poison(fx.st, &r, Q, g.msgs[0].id, g.msgs[0].pop_receipt, NULL),
              STORE_ESTALE);
    store_req_cleanup(&r);
    CHECK_INT(fx_count(&fx, Q).invisible, 1);
    CHECK_INT(fx_count(&fx, "orders-poison").visible, 0);

    fx.now += 5;
    CHECK_INT(store_queue_poison(fx.st, &mv, Q, g2.msgs[0].id, g2.msgs[0].pop_receipt, NULL),
              STORE_OK);
    CHECK_INT(mv.n_msgs, 1);
    CHECK(strcmp(mv.msgs[0].id, g2.msgs[0].id) != 0); /* a new message, as Azure's copy */
    CHECK_INT(mv.msgs[0].dequeue_count, 0);
    CHECK_INT(mv.msgs[0].insertion_time, FX_T0 + 1005);
    CHECK_INT(mv.msgs[0].next_visible_time, FX_T0 + 1005);
    CHECK_INT(mv.msgs[0].expiration_time, FX_T0 + 1005 + STORE_DEFAULT_TTL_MS);
    store_queue_info_t q = fx_count(&fx, Q);
    CHECK_INT(q.visible + q.invisible, 0);

    CHECK_INT(store_queue_get(fx.st, &r, "orders-poison", 32, 1000, NULL), STORE_OK);
    CHECK_INT(r.n_msgs, 1);
    if (r.n_msgs == 1) {
        CHECK_STR(r.msgs[0].id, mv.msgs[0].id);
        CHECK_STR((char *)r.msgs[0].body, "bad input");
        CHECK_INT(r.msgs[0].dequeue_count, 1);
    }
    store_req_cleanup(&r);
    /* The old receipt no longer reaches it in either queue. */
    CHECK_INT(store_queue_delete(fx.st, &r, Q, g2.msgs[0].id, g2.msgs[0].pop_receipt, NULL),
              STORE_ENOTFOUND);
    store_req_cleanup(&r);

    /* A 63-character queue has a 70-character poison queue, which has none. */
    char n63[64], p70[80];
    memset(n63, 'q', 63);
    n63[63] = '\0';
    snprintf(p70, sizeof p70, "%s-poison", n63);
    CHECK_INT(fx_put(&fx, n63, "x", 0, 0, NULL), STORE_OK);
    store_req_cleanup(&g);
    CHECK_INT(store_queue_get(fx.st, &g, n63, 1, 1000, NULL), STORE_OK);
    CHECK_INT(store_queue_poison(fx.st, &r, n63, g.msgs[0].id, g.msgs[0].pop_receipt, NULL),
              STORE_OK);
    store_req_cleanup(&r);
    CHECK_INT(fx_count(&fx, p70).visible, 1);
    CHECK_INT(store_queue_poison(fx.st, &r, p70, "id", "receipt", NULL), STORE_EINVAL);
    CHECK_CONTAINS(r.err, "has no poison queue");
    store_req_cleanup(&r);

    store_req_cleanup(&g);
    store_req_cleanup(&g2);
    store_req_cleanup(&mv);
    fx_done(&fx);
}

TEST(clear_count_list)
{
    fx_t fx;
    fx_init(&fx);
    CHECK_INT(fx_open(&fx), STORE_OK);
    for (int i = 0; i < 3; i++)
        CHECK_INT(fx_put(&fx, "alpha", "a", 0, 0, NULL), STORE_OK);
    fx.now += 1000;
    CHECK_INT(fx_put(&fx, "beta", "b", 0, 0, NULL), STORE_OK);
    CHECK_INT(fx_put(&fx, "beta", "b", 0, 0, NULL), STORE_OK);
    CHECK_INT(fx_put(&fx, "gamma", "g", 0, 0, NULL), STORE_OK);
    store_req_t r = {0};
    CHECK_INT(store_queue_get(fx.st, &r, "beta", 1, 60000, NULL), STORE_OK);
    store_req_cleanup(&r);
    fx.now += 4000;

    CHECK_INT(store_queue_clear(fx.st, &r, "gamma", NULL), STORE_OK);
    CHECK_INT(r.count, 1);
    store_req_cleanup(&r);

    CHECK_INT(store_queue_list(fx.st, &r, NULL), STORE_OK);
    CHECK_INT(r.n_queues, 3);
    CHECK_INT(r.truncated, 0);
    if (r.n_queues == 3) {
        CHECK_STR(r.queues[0].name, "alpha");
        CHECK_INT(r.queues[0].visible, 3);
        CHECK_INT(r.queues[0].invisible, 0);
        CHECK_INT(r.queues[0].oldest_insertion_time, FX_T0);
        CHECK_INT(r.queues[0].oldest_age_ms, 5000);
        CHECK_STR(r.queues[1].name, "beta");
        CHECK_INT(r.queues[1].visible, 1);
        CHECK_INT(r.queues[1].invisible, 1);
        CHECK_INT(r.queues[1].oldest_age_ms, 4000);
        CHECK_STR(r.queues[2].name, "gamma"); /* cleared, still listed, empty */
        CHECK_INT(r.queues[2].visible + r.queues[2].invisible, 0);
        CHECK_INT(r.queues[2].oldest_insertion_time, 0);
        CHECK_INT(r.queues[2].oldest_age_ms, 0);
    }
    store_req_cleanup(&r);

    store_queue_info_t q = fx_count(&fx, "never-used");
    CHECK_STR(q.name, "never-used");
    CHECK_INT(q.visible + q.invisible, 0);
    CHECK_INT(store_queue_clear(fx.st, &r, "alpha", NULL), STORE_OK);
    CHECK_INT(r.count, 3);
    store_req_cleanup(&r);
    CHECK_INT(fx_count(&fx, "alpha").visible, 0);
    CHECK_INT(fx_count(&fx, "beta").invisible, 1);
    fx_done(&fx);
}

/* Queues whose kept count differs from their rows (0 when all agree). */
#define COUNT_DRIFT                                                                       \
    "SELECT count(*) FROM queue WHERE messages != (SELECT count(*) FROM message AS m WHERE " \
    "m.queue = queue.name)"

TEST(counts_follow_every_path)
{
    fx_t fx;
    fx_init(&fx);
    CHECK_INT(fx_open(&fx), STORE_OK);
    for (int i = 0; i < 5; i++)
        CHECK_INT(fx_put(&fx, "aaa", "x", 0, 0, NULL), STORE_OK);
    store_req_t g = {0}, r = {0};
    CHECK_INT(store_queue_get(fx.st, &g, "aaa", 2, 60000, NULL), STORE_OK);
    store_queue_info_t q = fx_count(&fx, "aaa");
    CHECK_INT(q.visible, 3);
    CHECK_INT(q.invisible, 2);
    CHECK_INT(store_queue_delete(fx.st, &r, "aaa", g.msgs[0].id, g.msgs[0].pop_receipt, NULL),
              STORE_OK);
    store_req_cleanup(&r);
    CHECK_INT(store_queue_poison(fx.st, &r, "aaa", g.msgs[1].id, g.msgs[1].pop_receipt, NULL),
              STORE_OK);
    store_req_cleanup(&r);
    store_req_cleanup(&g);
    q = fx_count(&fx, "aaa");
    CHECK_INT(q.visible, 3);
    CHECK_INT(q.invisible, 0);
    CHECK_INT(fx_count(&fx, "aaa-poison").visible, 1);
    CHECK_INT(fx_sql_int(fx.db, COUNT_DRIFT), 0);

    /* Expired: not counted at once, removed by a get or a sweep. */
    CHECK_INT(fx_put(&fx, "bbb", "x", 0, 1000, NULL), STORE_OK);
    CHECK_INT(fx_put(&fx, "bbb", "x", 0, 1000, NULL), STORE_OK);
    CHECK_INT(fx_put(&fx, "ccc", "x", 0, 1000, NULL), STORE_OK);
    CHECK_INT(fx_put(&fx, "ccc", "x", 0, 0, NULL), STORE_OK);
    fx.now += 1000;
    q = fx_count(&fx, "bbb");
    CHECK_INT(q.visible + q.invisible, 0);
    CHECK_INT(q.oldest_insertion_time, 0);
    CHECK_INT(fx_count(&fx, "ccc").visible, 1);
    CHECK_INT(store_queue_get(fx.st, &r, "bbb", 32, 1000, NULL), STORE_OK);
    CHECK_INT(r.count, 2);
    store_req_cleanup(&r);
    CHECK_INT(store_sweep(fx.st, &r, NULL), STORE_OK);
    CHECK_INT(r.count, 1);
    store_req_cleanup(&r);
    CHECK_INT(fx_sql_int(fx.db, COUNT_DRIFT), 0);
    CHECK_INT(fx_sql_int(fx.db, "SELECT messages FROM queue WHERE name = 'ccc'"), 1);

    CHECK_INT(store_queue_clear(fx.st, &r, "aaa", NULL), STORE_OK);
    store_req_cleanup(&r);
    CHECK_INT(fx_sql_int(fx.db, COUNT_DRIFT), 0);
    CHECK_INT(fx_sql_int(fx.db, "SELECT messages FROM queue WHERE name = 'aaa'"), 0);
    fx_done(&fx);
}

TEST(oldest_age_follows_deletes)
{
    fx_t fx;
    fx_init(&fx);
    CHECK_INT(fx_open(&fx), STORE_OK);
    CHECK_INT(fx_put(&fx, Q, "first", 0, 0, NULL), STORE_OK);
    fx.now += 1000;
    CHECK_INT(fx_put(&fx, Q, "second", 0, 0, NULL), STORE_OK);
    fx.now += 1000;
    store_queue_info_t q = fx_count(&fx, Q);
    CHECK_INT(q.oldest_insertion_time, FX_T0);
    CHECK_INT(q.oldest_age_ms, 2000);
    store_req_t g = {0}, d = {0};
    CHECK_INT(store_queue_get(fx.st, &g, Q, 1, 60000, NULL), STORE_OK);
    CHECK_STR(g.n_msgs ? (char *)g.msgs[0].body : NULL, "first");
    /* Delivered and not deleted: still the oldest. */
    CHECK_INT(fx_count(&fx, Q).oldest_age_ms, 2000);
    CHECK_INT(store_queue_delete(fx.st, &d, Q, g.msgs[0].id, g.msgs[0].pop_receipt, NULL),
              STORE_OK);
    q = fx_count(&fx, Q);
    CHECK_INT(q.oldest_insertion_time, FX_T0 + 1000);
    CHECK_INT(q.oldest_age_ms, 1000);
    store_req_cleanup(&g);
    store_req_cleanup(&d);
    fx_done(&fx);
}

/* ---- key/value -------------------------------------------------------------- */

TEST(kv_put_get_delete_list)
{
    fx_t fx;
    fx_init(&fx);
    CHECK_INT(fx_open(&fx), STORE_OK);
    store_req_t r = {0};
    const char *json = "{\"Last\":\"2026-11-26T10:00:00Z\"}";
    CHECK_INT(store_kv_put(fx.st, &r, "timer", "cleanup", json, strlen(json), NULL), STORE_OK);
    store_req_cleanup(&r);
    CHECK_INT(store_kv_get(fx.st, &r, "timer", "cleanup", NULL), STORE_OK);
    CHECK_INT(r.n_kvs, 1);
    if (r.n_kvs == 1) {
        CHECK_STR(r.kvs[0].key, "cleanup");
        CHECK_STR((char *)r.kvs[0].value, json);
        CHECK_INT(r.kvs[0].value_len, strlen(json));
        CHECK_INT(r.kvs[0].updated_time, FX_T0);
    }
    store_req_cleanup(&r);

    fx.now += 10;
    CHECK_INT(store_kv_put(fx.st, &r, "timer", "cleanup", "v2", 2, NULL), STORE_OK);
    store_req_cleanup(&r);
    CHECK_INT(store_kv_get(fx.st, &r, "timer", "cleanup", NULL), STORE_OK);
    CHECK_STR(r.n_kvs ? (char *)r.kvs[0].value : NULL, "v2");
    CHECK_INT(r.n_kvs ? r.kvs[0].updated_time : 0, FX_T0 + 10);
    store_req_cleanup(&r);

    /* Namespaces are separate. */
    CHECK_INT(store_kv_get(fx.st, &r, "other", "cleanup", NULL), STORE_ENOTFOUND);
    CHECK_STR(r.err, "no key 'cleanup' in namespace 'other'");
    store_req_cleanup(&r);

    const char *keys[] = {"images/a.png|0x1", "images/b.png|0x2", "imagesX", "docs/c.txt|0x3"};
    for (int i = 0; i < 4; i++) {
        CHECK_INT(store_kv_put(fx.st, &r, "blob-receipts", keys[i], "", 0, NULL), STORE_OK);
        store_req_cleanup(&r);
    }
    CHECK_INT(store_kv_list(fx.st, &r, "blob-receipts", "images/", 100, NULL), STORE_OK);
    CHECK_INT(r.n_kvs, 2);
    if (r.n_kvs == 2) {
        CHECK_STR(r.kvs[0].key, keys[0]);
        CHECK_STR(r.kvs[1].key, keys[1]);
        CHECK_INT(r.kvs[0].value_len, 0);
    }
    CHECK_INT(r.truncated, 0);
    store_req_cleanup(&r);
    CHECK_INT(store_kv_list(fx.st, &r, "blob-receipts", NULL, 3, NULL), STORE_OK);
    CHECK_INT(r.n_kvs, 3);
    CHECK_INT(r.truncated, 1);
    CHECK_STR(r.n_kvs ? r.kvs[0].key : NULL, "docs/c.txt|0x3");
    store_req_cleanup(&r);

    CHECK_INT(store_kv_delete(fx.st, &r, "blob-receipts", keys[0], NULL), STORE_OK);
    store_req_cleanup(&r);
    CHECK_INT(store_kv_delete(fx.st, &r, "blob-receipts", keys[0], NULL), STORE_ENOTFOUND);
    store_req_cleanup(&r);
    CHECK_INT(store_kv_get(fx.st, &r, "blob-receipts", keys[0], NULL), STORE_ENOTFOUND);
    store_req_cleanup(&r);
    fx_done(&fx);
}

TEST(kv_arguments)
{
    fx_t fx;
    fx_init(&fx);
    fx.opts.max_value = 10;
    CHECK_INT(fx_open(&fx), STORE_OK);
    store_req_t r = {0};
    CHECK_INT(store_kv_put(fx.st, &r, "Timer", "k", "v", 1, NULL), STORE_EINVAL);
    CHECK_CONTAINS(r.err, "namespace 'Timer' is not valid");
    store_req_cleanup(&r);
    CHECK_INT(store_kv_put(fx.st, &r, "", "k", "v", 1, NULL), STORE_EINVAL);
    store_req_cleanup(&r);
    CHECK_INT(store_kv_put(fx.st, &r, "t", "", "v", 1, NULL), STORE_EINVAL);
    CHECK_STR(r.err, "key is empty");
    store_req_cleanup(&r);
    char key[STORE_KEY_MAX + 2];
    memset(key, 'k', sizeof key - 1);
    key[sizeof key - 1] = '\0';
    CHECK_INT(store_kv_put(fx.st, &r, "t", key, "v", 1, NULL), STORE_EINVAL);
    CHECK_CONTAINS(r.err, "longer than 1024 bytes");
    store_req_cleanup(&r);
    key[STORE_KEY_MAX] = '\0';
    CHECK_INT(store_kv_put(fx.st, &r, "t", key, "v", 1, NULL), STORE_OK);
    store_req_cleanup(&r);
    CHECK_INT(store_kv_put(fx.st, &r, "t", "k", "0123456789A", 11, NULL), STORE_E2BIG);
    CHECK_CONTAINS(r.err, "value of 11 bytes");
    store_req_cleanup(&r);
    CHECK_INT(store_kv_list(fx.st, &r, "t", "", 0, NULL), STORE_EINVAL);
    store_req_cleanup(&r);
    CHECK_INT(store_kv_list(fx.st, &r, "t", "", STORE_LIST_MAX + 1, NULL), STORE_EINVAL);
    store_req_cleanup(&r);
    fx_done(&fx);
}

/* ---- what survives a reopen -------------------------------------------------- */

TEST(reopen_keeps_everything)
{
    fx_t fx;
    fx_init(&fx);
    CHECK_INT(fx_open(&fx), STORE_OK);
    char id[STORE_ID_LEN];
    CHECK_INT(fx_put(&fx, Q, "kept", 0, 0, id), STORE_OK);
    store_req_t r = {0};
    CHECK_INT(store_queue_get(fx.st, &r, Q, 1, 60000, NULL), STORE_OK);
    char receipt[STORE_ID_LEN];
    memcpy(receipt, r.msgs[0].pop_receipt, sizeof receipt);
    store_req_cleanup(&r);
    CHECK_INT(store_kv_put(fx.st, &r, "blob-receipts", "c/a.txt|etag1", "1", 1, NULL),
              STORE_OK);
    store_req_cleanup(&r);

    fx_reopen(&fx);
    CHECK_STR(store_check_result(fx.st), "ok");
    CHECK_INT(fx_count(&fx, Q).invisible, 1);
    CHECK_INT(store_kv_get(fx.st, &r, "blob-receipts", "c/a.txt|etag1", NULL), STORE_OK);
    store_req_cleanup(&r);
    /* The receipt handed out before the restart still works. */
    CHECK_INT(store_queue_delete(fx.st, &r, Q, id, receipt, NULL), STORE_OK);
    store_req_cleanup(&r);
    fx_done(&fx);
}

TEST(strerror_names_codes)
{
    CHECK_STR(store_strerror(STORE_OK), "ok");
    CHECK_STR(store_strerror(STORE_ESTALE), "stale pop receipt");
    CHECK_STR(store_strerror(STORE_EFULL), "too many operations in flight");
    CHECK_STR(store_strerror(12345), "unknown status");
}

int main(void)
{
    RUN(url_default_forms);
    RUN(url_paths);
    RUN(url_errors);
    RUN(queue_names);
    RUN(bad_names_refused_by_every_operation);
    RUN(put_get_delete);
    RUN(delete_with_put_receipt);
    RUN(visibility_expiry_redelivers);
    RUN(receipt_still_valid_after_timeout_until_redelivered);
    RUN(update_visibility);
    RUN(ttl_expiry);
    RUN(put_arguments);
    RUN(binary_and_empty_bodies);
    RUN(initial_delay);
    RUN(peek_changes_nothing);
    RUN(get_at_most_32);
    RUN(poison_move);
    RUN(clear_count_list);
    RUN(counts_follow_every_path);
    RUN(oldest_age_follows_deletes);
    RUN(kv_put_get_delete_list);
    RUN(kv_arguments);
    RUN(reopen_keeps_everything);
    RUN(strerror_names_codes);
    return TEST_REPORT();
}
