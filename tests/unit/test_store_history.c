/*
 * test_store_history.c -- unit tests of the invocation history in the
 * store (store_history_* in src/store/): writing records, listing them
 * newest first with filters and keyset paging, reading one with its logs,
 * pruning by count and by age, the checks of bad arguments, the
 * migration of a version-2 file, and puts on a loop (group-committed).
 * Real SQLite files and a clock moved by hand.
 */
#include "store_fx.h"

#define TP "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"

/* Record i of a series: ids "inv-<i>", starts 1 s apart from FX_T0,
 * function "alpha" for even i and "bravo" for odd, every third failed. */
static store_inv_t rec(int i, char *logs)
{
    store_inv_t v;
    memset(&v, 0, sizeof v);
    snprintf(v.id, sizeof v.id, "inv-%04d", i);
    v.function = i % 2 ? "bravo" : "alpha";
    v.trigger = "httpTrigger";
    v.start_ms = FX_T0 + 1000LL * i;
    v.duration_us = 1500 + i;
    v.ok = i % 3 != 0;
    v.http_status = v.ok ? 200 : 500;
    v.error = v.ok ? NULL : "boom";
    memcpy(v.traceparent, TP, sizeof TP);
    v.logs = logs;
    return v;
}

/* Records from..from+n-1 in one put (one batch). */
static void put_range(fx_t *fx, int from, int n)
{
    store_inv_t *v = calloc((size_t)n, sizeof *v);
    for (int i = 0; i < n; i++)
        v[i] = rec(from + i, from + i == 4 ? "first line\nsecond line" : NULL);
    store_req_t r = {0};
    CHECK_INT(store_history_put(fx->st, &r, v, (size_t)n, NULL), STORE_OK);
    CHECK_INT(r.count, n);
    store_req_cleanup(&r);
    free(v);
}

static void put_series(fx_t *fx, int n) { put_range(fx, 0, n); }

static void list(fx_t *fx, store_req_t *r, const char *fn, int status, int64_t since,
                 int64_t after_batch, int after_index, unsigned limit)
{
    store_history_filter_t f = {fn, status, since, after_batch, after_index, limit};
    int rc = store_history_list(fx->st, r, &f, NULL);
    if (rc != STORE_OK)
        fprintf(stderr, "list: %s\n", r->err);
    CHECK_INT(rc, STORE_OK);
}

TEST(put_get_and_list_newest_first)
{
    fx_t fx;
    fx_init(&fx);
    CHECK_INT(fx_open(&fx), STORE_OK);
    put_series(&fx, 10);
    store_req_t r = {0};
    CHECK_INT(store_history_get(fx.st, &r, "inv-0004", NULL), STORE_OK);
    CHECK_INT(r.n_invs, 1);
    if (r.n_invs) {
        CHECK_STR(r.invs[0].function, "alpha");
        CHECK_STR(r.invs[0].trigger, "httpTrigger");
        CHECK_INT(r.invs[0].start_ms, FX_T0 + 4000);
        CHECK_INT(r.invs[0].duration_us, 1504);
        CHECK_INT(r.invs[0].ok, 1);
        CHECK_INT(r.invs[0].http_status, 200);
        CHECK(r.invs[0].error == NULL);
        CHECK_STR(r.invs[0].traceparent, TP);
        CHECK_STR(r.invs[0].logs, "first line\nsecond line");
    }
    store_req_cleanup(&r);
    CHECK_INT(store_history_get(fx.st, &r, "inv-0003", NULL), STORE_OK);
    CHECK_STR(r.n_invs ? r.invs[0].error : NULL, "boom");
    CHECK_INT(r.n_invs ? r.invs[0].ok : -1, 0);
    store_req_cleanup(&r);
    CHECK_INT(store_history_get(fx.st, &r, "nope", NULL), STORE_ENOTFOUND);
    CHECK_CONTAINS(r.err, "no invocation nope");
    store_req_cleanup(&r);

    list(&fx, &r, NULL, STORE_HISTORY_ANY, 0, 0, 0, 100);
    CHECK_INT(r.n_invs, 10);
    CHECK_INT(r.truncated, 0);
    for (size_t i = 0; i < r.n_invs; i++) {
        char want[16];
        snprintf(want, sizeof want, "inv-%04d", 9 - (int)i);
        CHECK_STR(r.invs[i].id, want);
        CHECK(r.invs[i].logs == NULL); /* lists leave the logs out */
    }
    store_req_cleanup(&r);
    fx_done(&fx);
}

TEST(packed_forms_round_trip)
{
    fx_t fx;
    fx_init(&fx);
    CHECK_INT(fx_open(&fx), STORE_OK);
    /* a UUID id (packed as 16 bytes), no traceparent, a start before the
     * batch's others (a negative offset), an empty error and logs */
    store_inv_t v[2] = {rec(1, NULL), rec(2, "")};
    snprintf(v[0].id, sizeof v[0].id, "1b4e28ba-2fa1-41d2-883f-0016d3cca427");
    v[0].traceparent[0] = '\0';
    v[0].start_ms = FX_T0 + 50000;
    v[1].start_ms = FX_T0 - 7;
    v[1].error = "";
    v[1].function = "x";
    v[1].trigger = "queueTrigger";
    snprintf(v[1].traceparent, sizeof v[1].traceparent, "01-%s", TP + 3); /* kept as text */
    store_req_t r = {0};
    CHECK_INT(store_history_put(fx.st, &r, v, 2, NULL), STORE_OK);
    store_req_cleanup(&r);
    CHECK_INT(store_history_get(fx.st, &r, "1b4e28ba-2fa1-41d2-883f-0016d3cca427", NULL), STORE_OK);
    if (r.n_invs) {
        CHECK_STR(r.invs[0].traceparent, "");
        CHECK_INT(r.invs[0].start_ms, FX_T0 + 50000);
        CHECK_STR(r.invs[0].function, "bravo");
        CHECK_STR(r.invs[0].trigger, "httpTrigger");
    }
    store_req_cleanup(&r);
    CHECK_INT(store_history_get(fx.st, &r, "inv-0002", NULL), STORE_OK);
    if (r.n_invs) {
        CHECK_INT(r.invs[0].start_ms, FX_T0 - 7);
        CHECK_STR(r.invs[0].error, "");
        CHECK_STR(r.invs[0].logs, "");
        CHECK_STR(r.invs[0].function, "x");
        CHECK_STR(r.invs[0].trigger, "queueTrigger");
        CHECK_CONTAINS(r.invs[0].traceparent, "01-0af7651916cd43dd8448eb211c80319c");
        CHECK_INT(r.invs[0].duration_us, 1502);
        CHECK_INT(r.invs[0].http_status, 200);
    }
    store_req_cleanup(&r);
    /* a record of HTTP without logs packs small */
    CHECK(fx_sql_int(fx.db, "SELECT length(records) FROM invocation_batch") < 200);
    /* Ids and traceparents that are not canonical stay text, to the letter:
     * upper case, a non-digit in each position class, a dash misplaced. */
    static const char *const odd_ids[] = {
        "1B4E28BA-2FA1-41D2-883F-0016D3CCA427", "gb4e28ba-2fa1-41d2-883f-0016d3cca427",
        "1b4e28ba-2fa1-41d2-883f-0016d3cca42g", "1b4e28ba-2fa1-41d2-883f-0016d3cca4:7",
        "1b4e28ba2-fa1-41d2-883f-0016d3cca427"};
    static const char odd_tp[] = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b716920333g-01";
    for (size_t i = 0; i < sizeof odd_ids / sizeof *odd_ids; i++) {
        store_inv_t o = rec(10 + (int)i, NULL);
        snprintf(o.id, sizeof o.id, "%s", odd_ids[i]);
        snprintf(o.traceparent, sizeof o.traceparent, "%s", odd_tp);
        CHECK_INT(store_history_put(fx.st, &r, &o, 1, NULL), STORE_OK);
        store_req_cleanup(&r);
        CHECK_INT(store_history_get(fx.st, &r, odd_ids[i], NULL), STORE_OK);
        CHECK_INT((int)r.n_invs, 1);
        if (r.n_invs) {
            CHECK_STR(r.invs[0].id, odd_ids[i]);
            CHECK_STR(r.invs[0].traceparent, odd_tp);
        }
        store_req_cleanup(&r);
    }
    fx_done(&fx);
}

TEST(filters_and_keyset_paging)
{
    fx_t fx;
    fx_init(&fx);
    CHECK_INT(fx_open(&fx), STORE_OK);
    put_series(&fx, 30);
    store_req_t r = {0};
    /* by function */
    list(&fx, &r, "bravo", STORE_HISTORY_ANY, 0, 0, 0, 100);
    CHECK_INT(r.n_invs, 15);
    for (size_t i = 0; i < r.n_invs; i++)
        CHECK_STR(r.invs[i].function, "bravo");
    store_req_cleanup(&r);
    /* by status: failed are 0, 3, ..., 27 */
    list(&fx, &r, NULL, STORE_HISTORY_FAILED, 0, 0, 0, 100);
    CHECK_INT(r.n_invs, 10);
    CHECK_STR(r.n_invs ? r.invs[0].id : NULL, "inv-0027");
    store_req_cleanup(&r);
    /* both: failed bravo are 3, 9, 15, 21, 27 */
    list(&fx, &r, "bravo", STORE_HISTORY_FAILED, 0, 0, 0, 100);
    CHECK_INT(r.n_invs, 5);
    store_req_cleanup(&r);
    list(&fx, &r, "bravo", STORE_HISTORY_SUCCEEDED, 0, 0, 0, 100);
    CHECK_INT(r.n_invs, 10);
    store_req_cleanup(&r);
    /* since: from record 25 on */
    list(&fx, &r, NULL, STORE_HISTORY_ANY, FX_T0 + 25000, 0, 0, 100);
    CHECK_INT(r.n_invs, 5);
    store_req_cleanup(&r);
    /* pages of 7 walk everything once, newest first, across batches */
    put_range(&fx, 30, 5);
    put_range(&fx, 35, 5);
    int seen = 0, pages = 0, last = 40;
    int64_t after = 0;
    int after_index = 0;
    for (;;) {
        list(&fx, &r, NULL, STORE_HISTORY_ANY, 0, after, after_index, 7);
        pages++;
        for (size_t i = 0; i < r.n_invs; i++) {
            int n = atoi(r.invs[i].id + 4);
            CHECK_INT(n, last - 1);
            last = n;
            seen++;
        }
        int more = r.truncated;
        after = r.next_batch;
        after_index = r.next_index;
        store_req_cleanup(&r);
        if (!more || pages > 10)
            break;
        /* records added meanwhile do not disturb the pages */
        if (pages == 2)
            put_range(&fx, 100, 3);
    }
    CHECK_INT(seen, 40);
    CHECK_INT(pages, 6);
    /* the newest page now starts with what came last */
    list(&fx, &r, NULL, STORE_HISTORY_ANY, 0, 0, 0, 2);
    CHECK_INT(r.n_invs, 2);
    CHECK_INT(r.truncated, 1);
    CHECK_STR(r.n_invs ? r.invs[0].id : NULL, "inv-0102");
    CHECK_STR(r.n_invs > 1 ? r.invs[1].id : NULL, "inv-0101");
    after = r.next_batch;
    after_index = r.next_index;
    store_req_cleanup(&r);
    list(&fx, &r, NULL, STORE_HISTORY_ANY, 0, after, after_index, 5);
    CHECK_INT(r.n_invs, 5);
    CHECK_STR(r.n_invs ? r.invs[0].id : NULL, "inv-0100");
    CHECK_STR(r.n_invs > 1 ? r.invs[1].id : NULL, "inv-0039");
    store_req_cleanup(&r);
    fx_done(&fx);
}

#define KEPT "SELECT sum(count) FROM invocation_batch"

TEST(prune_by_count_and_age)
{
    fx_t fx;
    fx_init(&fx);
    CHECK_INT(fx_open(&fx), STORE_OK);
    for (int b = 0; b < 4; b++)
        put_range(&fx, b * 5, 5); /* four batches: 0-4, 5-9, 10-14, 15-19 */
    store_req_t r = {0};
    /* count: a whole batch and part of the next go */
    CHECK_INT(store_history_prune(fx.st, &r, 12, -1, NULL), STORE_OK);
    CHECK_INT(r.count, 8);
    store_req_cleanup(&r);
    CHECK_INT(fx_sql_int(fx.db, KEPT), 12);
    CHECK_INT(fx_sql_int(fx.db, "SELECT count(*) FROM invocation_batch"), 3);
    list(&fx, &r, NULL, STORE_HISTORY_ANY, 0, 0, 0, 100);
    CHECK_INT(r.n_invs, 12);
    CHECK_STR(r.n_invs ? r.invs[r.n_invs - 1].id : NULL, "inv-0008");
    store_req_cleanup(&r);
    CHECK_INT(store_history_get(fx.st, &r, "inv-0007", NULL), STORE_ENOTFOUND);
    store_req_cleanup(&r);
    CHECK_INT(store_history_get(fx.st, &r, "inv-0008", NULL), STORE_OK);
    store_req_cleanup(&r);
    /* age: batches that all started before now - 5 s (the clock at 20 s): 8-9, 10-14 */
    fx.now = FX_T0 + 20000;
    CHECK_INT(store_history_prune(fx.st, &r, -1, 5000, NULL), STORE_OK);
    CHECK_INT(r.count, 7);
    store_req_cleanup(&r);
    CHECK_INT(fx_sql_int(fx.db, KEPT), 5);
    /* nothing left to do */
    CHECK_INT(store_history_prune(fx.st, &r, 10, 5000, NULL), STORE_OK);
    CHECK_INT(r.count, 0);
    store_req_cleanup(&r);
    CHECK_INT(store_history_prune(fx.st, &r, 0, -1, NULL), STORE_OK);
    CHECK_INT(r.count, 5);
    store_req_cleanup(&r);
    CHECK_INT(fx_sql_int(fx.db, "SELECT count(*) FROM invocation_batch"), 0);
    fx_done(&fx);
}

TEST(bad_arguments_are_named)
{
    fx_t fx;
    fx_init(&fx);
    CHECK_INT(fx_open(&fx), STORE_OK);
    store_req_t r = {0};
    store_inv_t v[2] = {rec(1, NULL), rec(2, NULL)};
    v[1].function = "";
    CHECK_INT(store_history_put(fx.st, &r, v, 2, NULL), STORE_EINVAL);
    CHECK_CONTAINS(r.err, "history record 1: function is missing");
    store_req_cleanup(&r);
    v[1] = rec(2, NULL);
    v[1].id[0] = '\0';
    CHECK_INT(store_history_put(fx.st, &r, v, 2, NULL), STORE_EINVAL);
    CHECK_CONTAINS(r.err, "history record 1: invocation id");
    store_req_cleanup(&r);
    char *big = malloc(STORE_HISTORY_LOGS_MAX + 2);
    memset(big, 'x', STORE_HISTORY_LOGS_MAX + 1);
    big[STORE_HISTORY_LOGS_MAX + 1] = '\0';
    v[1] = rec(2, big);
    CHECK_INT(store_history_put(fx.st, &r, v, 2, NULL), STORE_EINVAL);
    CHECK_CONTAINS(r.err, "history record 1: logs is longer than");
    store_req_cleanup(&r);
    free(big);
    CHECK_INT(fx_sql_int(fx.db, "SELECT count(*) FROM invocation_batch"), 0); /* none written */
    CHECK_INT(store_history_put(fx.st, &r, v, 0, NULL), STORE_EINVAL);
    store_req_cleanup(&r);
    store_history_filter_t f = {NULL, 7, 0, 0, 0, 10};
    CHECK_INT(store_history_list(fx.st, &r, &f, NULL), STORE_EINVAL);
    CHECK_CONTAINS(r.err, "status filter 7");
    store_req_cleanup(&r);
    f.status = STORE_HISTORY_ANY;
    f.limit = 0;
    CHECK_INT(store_history_list(fx.st, &r, &f, NULL), STORE_EINVAL);
    store_req_cleanup(&r);
    f.limit = 10;
    f.after_batch = -5;
    CHECK_INT(store_history_list(fx.st, &r, &f, NULL), STORE_EINVAL);
    store_req_cleanup(&r);
    CHECK_INT(store_history_get(fx.st, &r, "", NULL), STORE_EINVAL);
    store_req_cleanup(&r);
    CHECK_INT(store_history_prune(fx.st, &r, -2, -1, NULL), STORE_EINVAL);
    store_req_cleanup(&r);
    CHECK_INT(store_history_prune(fx.st, &r, -1, 0, NULL), STORE_EINVAL);
    store_req_cleanup(&r);
    fx_done(&fx);
}

/* Version 2 as released: version 1's tables plus the leased column and
 * its index, with a message and a key. */
static const char v2_file[] =
    "CREATE TABLE queue (name TEXT PRIMARY KEY, created INTEGER NOT NULL,"
    "  messages INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID;"
    "CREATE TABLE message (seq INTEGER PRIMARY KEY, queue TEXT NOT NULL, id TEXT NOT NULL,"
    "  receipt TEXT NOT NULL, dequeue_count INTEGER NOT NULL, inserted INTEGER NOT NULL,"
    "  expires INTEGER NOT NULL, visible INTEGER NOT NULL, body BLOB NOT NULL,"
    "  leased INTEGER NOT NULL DEFAULT 0);"
    "CREATE UNIQUE INDEX message_id ON message(queue, id);"
    "CREATE INDEX message_visible ON message(queue, visible);"
    "CREATE INDEX message_expires ON message(expires);"
    "CREATE INDEX message_leased ON message(queue) WHERE leased = 1;"
    "CREATE TABLE kv (ns TEXT NOT NULL, key TEXT NOT NULL, value BLOB NOT NULL,"
    "  updated INTEGER NOT NULL, PRIMARY KEY (ns, key)) WITHOUT ROWID;"
    "INSERT INTO queue VALUES ('orders', 1699999000000, 1);"
    "INSERT INTO message VALUES (1, 'orders', '018bcfe5-6800-7000-8000-000000000001',"
    "  'r-1', 0, 1699999000000, 9223372036854775807, 1699999000000, 'first', 0);"
    "INSERT INTO kv VALUES ('timer', 'f', 'status', 1699999000000);"
    "PRAGMA journal_mode = WAL;"
    "PRAGMA application_id = 1398035028;"
    "PRAGMA user_version = 2;";

TEST(migration_from_version_2)
{
    fx_t fx;
    fx_init(&fx);
    char dir[128];
    snprintf(dir, sizeof dir, "%s/.stratus", fx.root);
    CHECK_INT(mkdir(dir, 0700), 0);
    CHECK_INT(fx_sql_exec(fx.db, v2_file), 0);
    store_options_t ro = fx.opts;
    ro.read_only = 1;
    CHECK_INT(store_open("sqlite:", fx.root, &ro, &fx.st, fx.err, sizeof fx.err),
              STORE_EVERSION);
    CHECK_CONTAINS(fx.err, "has schema version 2 and needs migrating to 3");
    CHECK_INT(fx_open(&fx), STORE_OK);
    CHECK_INT(fx.st ? store_schema_version(fx.st) : 0, 3);
    CHECK_STR(fx.st ? store_check_result(fx.st) : NULL, "ok");
    CHECK_INT(fx_sql_int(fx.db, "PRAGMA user_version"), 3);
    CHECK_INT(fx_sql_int(fx.db, "SELECT count(*) FROM sqlite_master WHERE name LIKE "
                                "'invocation%'"),
              2);
    CHECK_INT(fx_count(&fx, "orders").visible, 1); /* the queues are kept */
    store_req_t r = {0};
    if (fx.st) {
        CHECK_INT(store_kv_get(fx.st, &r, "timer", "f", NULL), STORE_OK);
        store_req_cleanup(&r);
        put_series(&fx, 3);
    }
    fx_reopen(&fx);
    CHECK_INT(fx.st ? store_schema_version(fx.st) : 0, 3);
    if (fx.st) {
        list(&fx, &r, NULL, STORE_HISTORY_ANY, 0, 0, 0, 10);
        CHECK_INT(r.n_invs, 3);
        store_req_cleanup(&r);
    }
    /* Read-only once migrated: the history can be read. */
    store_close(fx.st);
    CHECK_INT(store_open("sqlite:", fx.root, &ro, &fx.st, fx.err, sizeof fx.err), STORE_OK);
    if (fx.st) {
        CHECK_INT(store_history_get(fx.st, &r, "inv-0001", NULL), STORE_OK);
        store_req_cleanup(&r);
    }
    fx_done(&fx);
}

static int done_count;
static void put_done(store_req_t *r)
{
    CHECK_INT(r->status, STORE_OK);
    done_count++;
}

TEST(puts_on_a_loop_are_batched)
{
    fx_t fx;
    fx_init(&fx);
    CHECK_INT(fx_open(&fx), STORE_OK);
    uv_loop_t loop;
    uv_loop_init(&loop);
    CHECK_INT(store_start(fx.st, &loop), STORE_OK);
    store_req_t reqs[20];
    memset(reqs, 0, sizeof reqs);
    done_count = 0;
    for (int i = 0; i < 20; i++) {
        store_inv_t v[5];
        for (int k = 0; k < 5; k++)
            v[k] = rec(i * 5 + k, "line");
        CHECK_INT(store_history_put(fx.st, &reqs[i], v, 5, put_done), STORE_OK);
    }
    fx_run_until(&loop, &done_count, 20);
    for (int i = 0; i < 20; i++)
        store_req_cleanup(&reqs[i]);
    fx_stop(&fx, &loop);
    CHECK_INT(fx_sql_int(fx.db, KEPT), 100);
    fx_done(&fx);
}

int main(void)
{
    RUN(put_get_and_list_newest_first);
    RUN(packed_forms_round_trip);
    RUN(filters_and_keyset_paging);
    RUN(prune_by_count_and_age);
    RUN(bad_arguments_are_named);
    RUN(migration_from_version_2);
    RUN(puts_on_a_loop_are_batched);
    return TEST_REPORT();
}
