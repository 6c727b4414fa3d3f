/*
 * test_store_file.c -- unit tests of the SQLite store's file (src/store/
 * sqlite.c): acknowledged puts survive a SIGKILL, a new or empty file is
 * migrated, and every file that must not be used is refused at open with a
 * message naming it, without being changed: not a database, damaged, some
 * other application's database, a newer schema, locked by another process.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>

#include "store_fx.h"

/* ---- helpers ---------------------------------------------------------------- */

static int write_at(const char *path, off_t off, const void *p, size_t n)
{
    int fd = open(path, O_WRONLY);
    if (fd < 0)
        return -1;
    ssize_t w = pwrite(fd, p, n, off);
    close(fd);
    return w == (ssize_t)n ? 0 : -1;
}

/* The whole file, malloc'd (NULL when unreadable); its size in *n. */
static char *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *p = malloc(sz > 0 ? (size_t)sz : 1);
    *n = fread(p, 1, (size_t)(sz > 0 ? sz : 0), f);
    fclose(f);
    return p;
}

/* A closed store with some messages in the fixture's default location. */
static void make_store(fx_t *fx, int messages, size_t body_len)
{
    CHECK_INT(fx_open(fx), STORE_OK);
    char *body = malloc(body_len + 1);
    memset(body, 'm', body_len);
    body[body_len] = '\0';
    for (int i = 0; i < messages; i++)
        CHECK_INT(fx_put(fx, "orders", body, 0, 0, NULL), STORE_OK);
    free(body);
    store_close(fx->st);
    fx->st = NULL;
}

/* Open must fail with status, naming the file and `what`, and leave the
 * file's bytes as they were. */
static void refused(fx_t *fx, const char *url, const char *path, int status, const char *what)
{
    size_t n0 = 0, n1 = 0;
    char *before = slurp(path, &n0);
    store_t *st = NULL;
    int rc = store_open(url, fx->root, &fx->opts, &st, fx->err, sizeof fx->err);
    CHECK_INT(rc, status);
    CHECK(st == NULL);
    CHECK_CONTAINS(fx->err, path);
    CHECK_CONTAINS(fx->err, what);
    char *after = slurp(path, &n1);
    CHECK(before && after && n0 == n1 && memcmp(before, after, n0) == 0);
    free(before);
    free(after);
    store_close(st);
}

/* ---- durability ---------------------------------------------------------------- */

enum { WINDOW = 256 };

typedef struct putter {
    store_t *st;
    int fd;
    store_req_t reqs[WINDOW];
} putter_t;

static void putter_cb(store_req_t *req)
{
    putter_t *p = req->data;
    if (req->status != STORE_OK)
        _exit(4);
    char line[STORE_ID_LEN + 1];
    memcpy(line, req->msgs[0].id, 36);
    line[36] = '\n';
    /* Acknowledged: the id goes to the parent only now. */
    if (write(p->fd, line, 37) != 37)
        _exit(5);
    store_req_cleanup(req);
    if (store_queue_put(p->st, req, "durable", "payload", 7, 0, 0, putter_cb) != STORE_OK)
        _exit(6);
}

/* In the child: put messages without end, WINDOW in flight. */
static void put_forever(const char *root, int fd)
{
    static putter_t p;
    char err[512];
    p.fd = fd;
    if (store_open("sqlite:", root, NULL, &p.st, err, sizeof err) != STORE_OK)
        _exit(3);
    uv_loop_t loop;
    uv_loop_init(&loop);
    if (store_start(p.st, &loop) != STORE_OK)
        _exit(3);
    for (int i = 0; i < WINDOW; i++) {
        p.reqs[i].data = &p;
        if (store_queue_put(p.st, &p.reqs[i], "durable", "payload", 7, 0, 0, putter_cb) !=
            STORE_OK)
            _exit(6);
    }
    uv_run(&loop, UV_RUN_DEFAULT);
    _exit(7);
}

static int cmp_id(const void *a, const void *b) { return strcmp(a, b); }

TEST(acknowledged_puts_survive_sigkill)
{
    enum { ACKS = 3000, MAX_IDS = 200000 };
    fx_t fx;
    fx_init(&fx);
    fx.opts.clock = NULL;
    int pfd[2];
    CHECK_INT(pipe(pfd), 0);
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        close(pfd[0]);
        put_forever(fx.root, pfd[1]);
    }
    close(pfd[1]);
    char(*acked)[STORE_ID_LEN] = calloc(MAX_IDS, STORE_ID_LEN);
    size_t n_acked = 0, have = 0;
    char buf[37 * 64];
    int killed = 0;
    for (;;) {
        ssize_t n = read(pfd[0], buf + have, sizeof buf - have);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        have += (size_t)n;
        size_t off = 0;
        while (have - off >= 37 && n_acked < MAX_IDS) {
            memcpy(acked[n_acked], buf + off, 36);
            acked[n_acked++][36] = '\0';
            off += 37;
        }
        memmove(buf, buf + off, have - off);
        have -= off;
        if (!killed && n_acked >= ACKS) {
            kill(pid, SIGKILL); /* mid-stream: more puts are in flight */
            killed = 1;
        }
    }
    close(pfd[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    CHECK(killed);
    CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    printf("durability: %zu puts acknowledged before SIGKILL\n", n_acked);

    /* Reopen (recovering the WAL) and read every message back. */
    fx.opts.clock = NULL;
    CHECK_INT(fx_open(&fx), STORE_OK);
    char(*found)[STORE_ID_LEN] = calloc(MAX_IDS, STORE_ID_LEN);
    size_t n_found = 0;
    for (;;) {
        store_req_t g = {0};
        CHECK_INT(store_queue_get(fx.st, &g, "durable", 32, 3600000, NULL), STORE_OK);
        for (size_t i = 0; i < g.n_msgs && n_found < MAX_IDS; i++) {
            memcpy(found[n_found++], g.msgs[i].id, STORE_ID_LEN);
            CHECK_STR((char *)g.msgs[i].body, "payload");
        }
        size_t got = g.n_msgs;
        store_req_cleanup(&g);
        if (got == 0)
            break;
    }
    CHECK(n_found >= n_acked);
    qsort(found, n_found, STORE_ID_LEN, cmp_id);
    size_t missing = 0;
    for (size_t i = 0; i < n_acked; i++)
        if (!bsearch(acked[i], found, n_found, STORE_ID_LEN, cmp_id))
            missing++;
    CHECK_INT(missing, 0);
    free(acked);
    free(found);
    fx_done(&fx);
}

/* ---- new and empty files --------------------------------------------------------- */

TEST(migration_from_an_empty_file)
{
    fx_t fx;
    fx_init(&fx);
    char path[192], url[256];
    snprintf(path, sizeof path, "%s/empty.db", fx.root);
    snprintf(url, sizeof url, "sqlite:%s", path);
    int fd = open(path, O_CREAT | O_WRONLY, 0600);
    close(fd);
    CHECK_INT(store_open(url, NULL, &fx.opts, &fx.st, fx.err, sizeof fx.err), STORE_OK);
    CHECK_INT(fx.st ? store_schema_version(fx.st) : 0, 3);
    CHECK_STR(fx.st ? store_check_result(fx.st) : NULL, "new store");
    CHECK_INT(fx_sql_int(path, "PRAGMA user_version"), 3);
    CHECK_INT(fx_sql_int(path, "PRAGMA application_id"), 0x53545254);
    CHECK_INT(fx_sql_int(path, "SELECT count(*) FROM pragma_journal_mode WHERE journal_mode = "
                               "'wal'"),
              1);
    CHECK_INT(fx_sql_int(path, "SELECT count(*) FROM sqlite_master WHERE name IN ('queue', "
                               "'message', 'kv')"),
              3);
    store_close(fx.st);
    fx.st = NULL;
    CHECK_INT(store_open(url, NULL, &fx.opts, &fx.st, fx.err, sizeof fx.err), STORE_OK);
    CHECK_STR(fx.st ? store_check_result(fx.st) : NULL, "ok");
    fx_done(&fx);
}

/* The schema of version 1, as the first released Stratus wrote it, with
 * two messages of "orders" (one delivered and not back yet) and a key. */
static const char v1_file[] =
    "CREATE TABLE queue (name TEXT PRIMARY KEY, created INTEGER NOT NULL,"
    "  messages INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID;"
    "CREATE TABLE message (seq INTEGER PRIMARY KEY, queue TEXT NOT NULL, id TEXT NOT NULL,"
    "  receipt TEXT NOT NULL, dequeue_count INTEGER NOT NULL, inserted INTEGER NOT NULL,"
    "  expires INTEGER NOT NULL, visible INTEGER NOT NULL, body BLOB NOT NULL);"
    "CREATE UNIQUE INDEX message_id ON message(queue, id);"
    "CREATE INDEX message_visible ON message(queue, visible);"
    "CREATE INDEX message_expires ON message(expires);"
    "CREATE TABLE kv (ns TEXT NOT NULL, key TEXT NOT NULL, value BLOB NOT NULL,"
    "  updated INTEGER NOT NULL, PRIMARY KEY (ns, key)) WITHOUT ROWID;"
    "INSERT INTO queue VALUES ('orders', 1699999000000, 2);"
    "INSERT INTO message VALUES (1, 'orders', '018bcfe5-6800-7000-8000-000000000001',"
    "  'r-1', 0, 1699999000000, 9223372036854775807, 1699999000000, 'first');"
    "INSERT INTO message VALUES (2, 'orders', '018bcfe5-6800-7000-8000-000000000002',"
    "  'r-2', 1, 1699999000000, 9223372036854775807, 1700000300000, 'second');"
    "INSERT INTO kv VALUES ('timer', 'f', 'status', 1699999000000);"
    "PRAGMA journal_mode = WAL;"
    "PRAGMA application_id = 1398035028;" /* 0x53545254 */
    "PRAGMA user_version = 1;";

TEST(migration_from_version_1)
{
    fx_t fx;
    fx_init(&fx);
    char dir[128];
    snprintf(dir, sizeof dir, "%s/.stratus", fx.root);
    CHECK_INT(mkdir(dir, 0700), 0);
    CHECK_INT(fx_sql_exec(fx.db, v1_file), 0);
    CHECK_INT(fx_sql_int(fx.db, "PRAGMA user_version"), 1);

    /* Read-only, it is not migrated: refused. */
    store_options_t ro = fx.opts;
    ro.read_only = 1;
    CHECK_INT(store_open("sqlite:", fx.root, &ro, &fx.st, fx.err, sizeof fx.err),
              STORE_EVERSION);
    CHECK_CONTAINS(fx.err, "has schema version 1 and needs migrating to 3");

    CHECK_INT(fx_open(&fx), STORE_OK);
    CHECK_INT(fx.st ? store_schema_version(fx.st) : 0, 3);
    CHECK_STR(fx.st ? store_check_result(fx.st) : NULL, "ok");
    CHECK_INT(fx_sql_int(fx.db, "PRAGMA user_version"), 3);
    CHECK_INT(fx_sql_int(fx.db, "SELECT count(*) FROM sqlite_master WHERE name = "
                                "'message_leased'"),
              1);
    /* Everything kept; what version 1 delivered is not known as leased. */
    CHECK_INT(fx_sql_int(fx.db, "SELECT count(*) FROM message WHERE leased = 0"), 2);
    store_queue_info_t q = fx_count(&fx, "orders");
    CHECK_INT(q.visible, 1);
    CHECK_INT(q.invisible, 1);
    store_req_t r = {0};
    if (fx.st) {
        CHECK_INT(store_queue_release(fx.st, &r, NULL, NULL), STORE_OK);
        CHECK_INT(r.count, 0);
        store_req_cleanup(&r);
        CHECK_INT(store_kv_get(fx.st, &r, "timer", "f", NULL), STORE_OK);
        CHECK_STR(r.n_kvs ? (char *)r.kvs[0].value : "", "status");
        store_req_cleanup(&r);
        CHECK_INT(store_queue_get(fx.st, &r, "orders", 32, 60000, NULL), STORE_OK);
        CHECK_INT(r.n_msgs, 1);
        CHECK_STR(r.n_msgs ? (char *)r.msgs[0].body : "", "first");
        store_req_cleanup(&r);
        /* The receipt version 1 gave still settles its message. */
        CHECK_INT(store_queue_delete(fx.st, &r, "orders", "018bcfe5-6800-7000-8000-000000000002",
                                     "r-2", NULL),
                  STORE_OK);
        store_req_cleanup(&r);
        /* The new column works: the delivery just made is leased. */
        CHECK_INT(store_queue_release(fx.st, &r, "orders", NULL), STORE_OK);
        CHECK_INT(r.count, 1);
        store_req_cleanup(&r);
    }
    /* Opened again: already at 3, nothing to do. */
    fx_reopen(&fx);
    CHECK_INT(fx.st ? store_schema_version(fx.st) : 0, 3);
    CHECK_INT(fx_count(&fx, "orders").visible, 1);
    fx_done(&fx);
}

/* ---- files that are refused ------------------------------------------------------ */

TEST(garbage_header_is_not_a_database)
{
    fx_t fx;
    fx_init(&fx);
    make_store(&fx, 10, 100);
    char junk[100];
    memset(junk, 0xA5, sizeof junk);
    CHECK_INT(write_at(fx.db, 0, junk, sizeof junk), 0);
    refused(&fx, "sqlite:", fx.db, STORE_ECORRUPT, "is not a SQLite database");
    fx_done(&fx);
}

TEST(text_file_is_not_a_database)
{
    fx_t fx;
    fx_init(&fx);
    char path[192], url[256];
    snprintf(path, sizeof path, "%s/notes.txt", fx.root);
    snprintf(url, sizeof url, "sqlite:%s", path);
    FILE *f = fopen(path, "w");
    for (int i = 0; i < 200; i++)
        fputs("these are my notes, not a database\n", f);
    fclose(f);
    refused(&fx, url, path, STORE_ECORRUPT, "is not a SQLite database");
    fx_done(&fx);
}

TEST(damaged_pages_are_refused)
{
    fx_t fx;
    fx_init(&fx);
    make_store(&fx, 300, 500);
    long long pages = fx_sql_int(fx.db, "PRAGMA page_count");
    long long page_size = fx_sql_int(fx.db, "PRAGMA page_size");
    CHECK(pages > 10);
    /* Garbage over pages 2 to 5: table and index b-tree pages. */
    size_t n = (size_t)(4 * page_size);
    char *junk = malloc(n);
    for (size_t i = 0; i < n; i++)
        junk[i] = (char)(i * 37 + 11);
    CHECK_INT(write_at(fx.db, (off_t)page_size, junk, n), 0);
    free(junk);
    refused(&fx, "sqlite:", fx.db, STORE_ECORRUPT, "is damaged");
    CHECK_CONTAINS(fx.err, "restore it from a backup");
    fx_done(&fx);
}

TEST(big_files_get_a_partial_check)
{
    fx_t fx;
    fx_init(&fx);
    make_store(&fx, 300, 500);
    fx.opts.check_max_bytes = 4096; /* every file is "big" */
    CHECK_INT(fx_open(&fx), STORE_OK);
    CHECK_CONTAINS(fx.st ? store_check_result(fx.st) : "", "partial: 0 MiB file");
    store_close(fx.st);
    fx.st = NULL;
    /* Garbage over the root pages of the message table and its id index:
     * the probes walk from there. */
    const char *roots[] = {"SELECT rootpage FROM sqlite_master WHERE name = 'message'",
                           "SELECT rootpage FROM sqlite_master WHERE name = 'message_id'"};
    long long page_size = fx_sql_int(fx.db, "PRAGMA page_size");
    for (int i = 0; i < 2; i++) {
        long long root = fx_sql_int(fx.db, roots[i]);
        CHECK(root > 1);
        char junk[4096];
        memset(junk, 0x5A, sizeof junk);
        CHECK_INT(write_at(fx.db, (off_t)((root - 1) * page_size), junk,
                           (size_t)page_size < sizeof junk ? (size_t)page_size : sizeof junk),
                  0);
    }
    refused(&fx, "sqlite:", fx.db, STORE_ECORRUPT, "is damaged");
    fx_done(&fx);
}

TEST(another_applications_database_is_left_alone)
{
    fx_t fx;
    fx_init(&fx);
    char path[192], url[256];
    snprintf(path, sizeof path, "%s/app.db", fx.root);
    snprintf(url, sizeof url, "sqlite:%s", path);
    CHECK_INT(fx_sql_exec(path, "CREATE TABLE customers(name TEXT); "
                                "INSERT INTO customers VALUES ('ada');"),
              0);
    refused(&fx, url, path, STORE_ECORRUPT, "is a SQLite database but not a Stratus store");
    CHECK_INT(fx_sql_int(path, "SELECT count(*) FROM customers"), 1);
    CHECK_INT(fx_sql_int(path, "SELECT count(*) FROM sqlite_master WHERE name = 'message'"), 0);
    fx_done(&fx);
}

TEST(newer_schema_version_is_refused)
{
    fx_t fx;
    fx_init(&fx);
    make_store(&fx, 3, 10);
    CHECK_INT(fx_sql_exec(fx.db, "PRAGMA user_version = 99"), 0);
    refused(&fx, "sqlite:", fx.db, STORE_EVERSION, "has schema version 99, newer than");
    CHECK_CONTAINS(fx.err, "knows (3)");
    CHECK_INT(fx_sql_int(fx.db, "SELECT count(*) FROM message"), 3);
    fx_done(&fx);
}

TEST(locked_by_another_process)
{
    fx_t fx;
    fx_init(&fx);
    int ready[2];
    CHECK_INT(pipe(ready), 0);
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        store_t *st = NULL;
        char err[512];
        if (store_open("sqlite:", fx.root, NULL, &st, err, sizeof err) != STORE_OK)
            _exit(3);
        if (write(ready[1], "R", 1) != 1)
            _exit(4);
        for (;;)
            pause(); /* holds the store until killed */
    }
    close(ready[1]);
    char c = 0;
    CHECK_INT(read(ready[0], &c, 1), 1);
    close(ready[0]);

    store_t *st = NULL;
    CHECK_INT(store_open("sqlite:", fx.root, NULL, &st, fx.err, sizeof fx.err), STORE_ELOCKED);
    CHECK(st == NULL);
    CHECK_CONTAINS(fx.err, fx.db);
    CHECK_CONTAINS(fx.err, "is in use by another process");

    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    /* The lock goes with the process. */
    CHECK_INT(store_open("sqlite:", fx.root, NULL, &st, fx.err, sizeof fx.err), STORE_OK);
    store_close(st);
    fx_done(&fx);
}

TEST(second_open_in_one_process_is_refused)
{
    fx_t fx;
    fx_init(&fx);
    CHECK_INT(fx_open(&fx), STORE_OK);
    store_t *st = NULL;
    CHECK_INT(store_open("sqlite:", fx.root, NULL, &st, fx.err, sizeof fx.err), STORE_ELOCKED);
    /* The first is unharmed. */
    CHECK_INT(fx_put(&fx, "orders", "x", 0, 0, NULL), STORE_OK);
    fx_done(&fx);
}

TEST(a_folder_is_not_a_store_file)
{
    fx_t fx;
    fx_init(&fx);
    char dir[192];
    snprintf(dir, sizeof dir, "%s/adir.db", fx.root);
    mkdir(dir, 0700);
    store_t *st = NULL;
    CHECK_INT(store_open("sqlite:adir.db", fx.root, NULL, &st, fx.err, sizeof fx.err),
              STORE_EIO);
    CHECK_CONTAINS(fx.err, "adir.db");
    fx_done(&fx);
}

int main(void)
{
    RUN(acknowledged_puts_survive_sigkill);
    RUN(migration_from_an_empty_file);
    RUN(migration_from_version_1);
    RUN(garbage_header_is_not_a_database);
    RUN(text_file_is_not_a_database);
    RUN(damaged_pages_are_refused);
    RUN(big_files_get_a_partial_check);
    RUN(another_applications_database_is_left_alone);
    RUN(newer_schema_version_is_refused);
    RUN(locked_by_another_process);
    RUN(second_open_in_one_process_is_refused);
    RUN(a_folder_is_not_a_store_file);
    return TEST_REPORT();
}
