/*
 * sqlite.c -- the SQLite store backend, opening side: where the file is,
 * the lock that keeps a second host out, the checks that refuse a file
 * that is not a Stratus store, is damaged or is newer than this binary,
 * WAL mode, the schema and its ordered migrations, the prepared
 * statements. The operations are in sqlite_ops.c.
 *
 * One file holds everything (schema below). The lock is an open file
 * description lock (F_OFD_SETLK) on one byte far past anything SQLite
 * locks, so readers such as the sqlite3 shell can still look inside while
 * a host runs, but a second host (or a second store_open in the same
 * process) gets STORE_ELOCKED.
 */
#include "sqlite_priv.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define SQ_APPLICATION_ID 0x53545254 /* "STRT" in the file header */
#define SQ_LOCK_OFFSET ((off_t)1 << 40)
#define SQ_JOURNAL_LIMIT (64 * 1024 * 1024) /* WAL file size kept after a checkpoint */

/* ---- schema ----------------------------------------------------------------
 * Each migration takes the file from version - 1 to version, in one
 * transaction together with its PRAGMA user_version. Released steps are
 * never edited: a change is a new step at the end, and SQ_SCHEMA_VERSION
 * follows it. Version 3 would be added like this:
 *
 *     {3, "ALTER TABLE message ADD COLUMN trace_parent TEXT;"},
 *
 * and the statements in sq_sql that use the new column changed with it.
 */
typedef struct migration {
    int version;
    const char *sql;
} migration_t;

static const migration_t migrations[] = {
    {1, "CREATE TABLE queue ("
        "  name TEXT PRIMARY KEY,"
        "  created INTEGER NOT NULL,"
        "  messages INTEGER NOT NULL DEFAULT 0" /* its rows in message, expired included */
        ") WITHOUT ROWID;"
        "CREATE TABLE message ("
        "  seq INTEGER PRIMARY KEY,"          /* insertion order */
        "  queue TEXT NOT NULL,"
        "  id TEXT NOT NULL,"                 /* a version-7 UUID: sorts by time */
        "  receipt TEXT NOT NULL,"            /* the current pop receipt */
        "  dequeue_count INTEGER NOT NULL,"
        "  inserted INTEGER NOT NULL,"        /* ms since the epoch, UTC */
        "  expires INTEGER NOT NULL,"         /* 9223372036854775807: never */
        "  visible INTEGER NOT NULL,"         /* next visible time */
        "  body BLOB NOT NULL"
        ");"
        /* Ids grow with time: this index is appended to, and its first
         * entry for a queue is the queue's oldest message. */
        "CREATE UNIQUE INDEX message_id ON message(queue, id);"
        "CREATE INDEX message_visible ON message(queue, visible);"
        "CREATE INDEX message_expires ON message(expires);"
        "CREATE TABLE kv ("
        "  ns TEXT NOT NULL,"
        "  key TEXT NOT NULL,"
        "  value BLOB NOT NULL,"
        "  updated INTEGER NOT NULL,"
        "  PRIMARY KEY (ns, key)"
        ") WITHOUT ROWID;"},
    /* Messages handed out by a get and not yet settled (deleted, updated,
     * moved to poison) are "leased": the host that got them runs them. At
     * start-up the host releases its orphans (store_queue_release). The
     * partial index holds only leased messages, so it stays small and
     * costs nothing to puts of messages never delivered. */
    {2, "ALTER TABLE message ADD COLUMN leased INTEGER NOT NULL DEFAULT 0;"
        "CREATE INDEX message_leased ON message(queue) WHERE leased = 1;"},
    /* The invocation history, in batches: one row per write of the host's
     * buffer (once a second while invocations run), its records packed in
     * one blob (sqlite_history.c), so that recording costs one insert per
     * batch, not per invocation, and retention deletes whole rows. Listed
     * newest first by (seq, position in the batch). */
    {3, "CREATE TABLE invocation_batch ("
        "  seq INTEGER PRIMARY KEY,"
        "  first_ms INTEGER NOT NULL,"   /* earliest start of its records, ms since the epoch */
        "  last_ms INTEGER NOT NULL,"    /* latest start */
        "  count INTEGER NOT NULL,"      /* records in it */
        "  records BLOB NOT NULL"
        ");"
        "CREATE INDEX invocation_batch_last ON invocation_batch(last_ms);"},
};

#define SQ_SCHEMA_VERSION 3

const char *const sq_sql[SQ_N] = {
    [SQ_BEGIN] = "BEGIN",
    [SQ_BEGIN_IMMEDIATE] = "BEGIN IMMEDIATE",
    [SQ_COMMIT] = "COMMIT",
    [SQ_ROLLBACK] = "ROLLBACK",
    [SQ_QUEUE_ADD] = "INSERT INTO queue(name, created, messages) VALUES (?1, ?2, ?3)"
                     " ON CONFLICT(name) DO UPDATE SET messages = messages + excluded.messages",
    [SQ_MSG_INSERT] = "INSERT INTO message(queue, id, receipt, dequeue_count, inserted, expires,"
                      " visible, body) VALUES (?1, ?2, ?3, 0, ?4, ?5, ?6, ?7)",
    [SQ_MSG_VISIBLE] = "SELECT seq, id, dequeue_count, inserted, expires, body FROM message"
                       " WHERE queue = ?1 AND visible <= ?2 ORDER BY visible, seq LIMIT ?3",
    [SQ_MSG_PEEK] = "SELECT seq, id, dequeue_count, inserted, expires, body, visible FROM message"
                    " WHERE queue = ?1 AND visible <= ?2 AND expires > ?2"
                    " ORDER BY visible, seq LIMIT ?3",
    [SQ_MSG_DELIVER] = "UPDATE message SET dequeue_count = dequeue_count + 1, receipt = ?2,"
                       " visible = ?3, leased = 1 WHERE seq = ?1",
    [SQ_MSG_DELETE_SEQ] = "DELETE FROM message WHERE seq = ?1",
    [SQ_MSG_DELETE] = "DELETE FROM message WHERE id = ?1 AND queue = ?2 AND receipt = ?3",
    [SQ_MSG_LOOKUP] = "SELECT receipt, expires FROM message WHERE id = ?1 AND queue = ?2",
    [SQ_MSG_UPDATE] = "UPDATE message SET receipt = ?4, visible = ?5, leased = 0"
                      " WHERE id = ?1 AND queue = ?2 AND receipt = ?3 AND expires > ?6"
                      " RETURNING dequeue_count, inserted, expires",
    [SQ_MSG_POISON] = "UPDATE message SET queue = ?4, receipt = ?5, dequeue_count = 0,"
                      " inserted = ?6, expires = ?7, visible = ?6, id = ?8, leased = 0"
                      " WHERE id = ?1 AND queue = ?2 AND receipt = ?3",
    [SQ_MSG_CLEAR] = "DELETE FROM message WHERE queue = ?1",
    /* Leased messages, from the partial index (its WHERE repeated so that
     * SQLite uses it): of one queue, or of all. */
    [SQ_MSG_LEASED] = "SELECT seq, queue, expires FROM message INDEXED BY message_leased"
                      " WHERE leased = 1 AND queue = ?1 LIMIT ?2",
    [SQ_MSG_LEASED_ALL] = "SELECT seq, queue, expires FROM message INDEXED BY message_leased"
                          " WHERE leased = 1 LIMIT ?1",
    /* Back to the queue at once (or as early as it already was). */
    [SQ_MSG_RELEASE] = "UPDATE message SET leased = 0, receipt = ?2, visible = min(visible, ?3)"
                       " WHERE seq = ?1",
    /* A queue's depth, each part from an index, never a scan of the queue:
     * its row count (queue.messages), the expired rows not yet removed, the
     * invisible ones (delivered or delayed: few), the oldest live one. */
    [SQ_QUEUE_TOTAL] = "SELECT messages FROM queue WHERE name = ?1",
    [SQ_QUEUE_EXPIRED] = "SELECT count(*) FROM message INDEXED BY message_expires"
                         " WHERE expires <= ?2 AND queue = ?1",
    [SQ_QUEUE_INVISIBLE] = "SELECT count(*) FROM message INDEXED BY message_visible"
                           " WHERE queue = ?1 AND visible > ?2 AND expires > ?2",
    [SQ_QUEUE_OLDEST] = "SELECT inserted FROM message INDEXED BY message_id"
                        " WHERE queue = ?1 AND expires > ?2 ORDER BY id LIMIT 1",
    [SQ_QUEUE_LIST] = "SELECT name FROM queue ORDER BY name LIMIT ?1",
    [SQ_SWEEP] = "DELETE FROM message WHERE seq IN"
                 " (SELECT seq FROM message WHERE expires <= ?1 LIMIT ?2) RETURNING queue",
    [SQ_KV_PUT] = "INSERT INTO kv(ns, key, value, updated) VALUES (?1, ?2, ?3, ?4)"
                  " ON CONFLICT(ns, key) DO UPDATE SET value = excluded.value,"
                  " updated = excluded.updated",
    [SQ_KV_GET] = "SELECT value, updated FROM kv WHERE ns = ?1 AND key = ?2",
    [SQ_KV_DELETE] = "DELETE FROM kv WHERE ns = ?1 AND key = ?2",
    [SQ_KV_LIST] = "SELECT key, value, updated FROM kv WHERE ns = ?1 AND key >= ?2 ORDER BY key",
    [SQ_HIST_PUT] = "INSERT INTO invocation_batch(first_ms, last_ms, count, records)"
                    " VALUES (?1, ?2, ?3, ?4)",
    /* Newest first, from before batch ?1 (or from it when it is the
     * cursor's: the caller skips what it returned already). */
    [SQ_HIST_SCAN] = "SELECT seq, last_ms, count, records FROM invocation_batch"
                     " WHERE seq <= ?1 ORDER BY seq DESC",
    [SQ_HIST_COUNTS] = "SELECT seq, count FROM invocation_batch ORDER BY seq DESC",
    [SQ_HIST_DELETE_UPTO] = "DELETE FROM invocation_batch WHERE seq <= ?1",
    [SQ_HIST_UPDATE] = "UPDATE invocation_batch SET first_ms = ?2, last_ms = ?3, count = ?4,"
                       " records = ?5 WHERE seq = ?1",
    [SQ_HIST_PRUNE_AGE] = "DELETE FROM invocation_batch WHERE seq IN (SELECT seq FROM"
                          " invocation_batch INDEXED BY invocation_batch_last WHERE last_ms < ?1"
                          " LIMIT ?2) RETURNING count",
};

static int fail(char *err, size_t errlen, int status, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail(char *err, size_t errlen, int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return status;
}

/* ---- where the file is ------------------------------------------------------ */

static int join_path(char *out, size_t outlen, const char *a, const char *b)
{
    int n = snprintf(out, outlen, "%s%s%s", a, (*a && a[strlen(a) - 1] != '/') ? "/" : "", b);
    return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

/* The file that target names (see store.h), its directory made only for
 * the default location. */
static int resolve_path(sq_t *s, const char *target, const char *app_root, char *err,
                        size_t errlen)
{
    if (*target == '\0') {
        char dir[PATH_MAX];
        if (!app_root || !*app_root)
            return fail(err, errlen, STORE_EINVAL,
                        "the default store lives in the app folder (.stratus/store.db), and "
                        "no app folder was given; use sqlite:/path/to/store.db");
        if (join_path(dir, sizeof dir, app_root, ".stratus") ||
            join_path(s->path, sizeof s->path, dir, "store.db"))
            return fail(err, errlen, STORE_EINVAL, "app folder path is too long");
        if (!s->read_only && mkdir(dir, 0700) != 0 && errno != EEXIST)
            return fail(err, errlen, STORE_EIO, "cannot create %s for the store: %s", dir,
                        strerror(errno));
        return STORE_OK;
    }
    if (target[0] == '/' && target[1] == '/') {
        target += 2;
        if (target[0] != '/')
            return fail(err, errlen, STORE_ESCHEME,
                        "store URL 'sqlite://%.60s' names a host; the sqlite backend takes a "
                        "file: sqlite:/absolute/path.db or sqlite:relative/path.db",
                        target);
    }
    size_t n = strlen(target);
    if (n == 0 || target[n - 1] == '/')
        return fail(err, errlen, STORE_EINVAL,
                    "store URL 'sqlite:%.200s' names a folder; give a file name", target);
    int bad = target[0] == '/' || !app_root || !*app_root
                  ? snprintf(s->path, sizeof s->path, "%s", target) >= (int)sizeof s->path
                  : join_path(s->path, sizeof s->path, app_root, target);
    if (bad)
        return fail(err, errlen, STORE_EINVAL, "store file path is too long");
    return STORE_OK;
}

/* Open (creating when missing) the file and take the host lock. */
static int take_lock(sq_t *s, char *err, size_t errlen)
{
    s->lock_fd = open(s->path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (s->lock_fd < 0) {
        int e = errno;
        if (e == ENOENT) {
            char dir[PATH_MAX];
            snprintf(dir, sizeof dir, "%s", s->path);
            char *slash = strrchr(dir, '/');
            if (slash)
                *slash = '\0';
            return fail(err, errlen, STORE_EIO,
                        "cannot create store file %s: folder %s does not exist", s->path,
                        slash ? dir : ".");
        }
        return fail(err, errlen, STORE_EIO, "cannot open store file %s: %s", s->path,
                    strerror(e));
    }
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = SQ_LOCK_OFFSET,
                       .l_len = 1};
    if (fcntl(s->lock_fd, F_OFD_SETLK, &fl) != 0) {
        int e = errno;
        if (e == EAGAIN || e == EACCES)
            return fail(err, errlen, STORE_ELOCKED,
                        "store file %s is in use by another process (a running Stratus host "
                        "holds its lock); stop that host, or give this one another store "
                        "(sqlite:/path/to/other.db)",
                        s->path);
        return fail(err, errlen, STORE_EIO, "cannot lock store file %s: %s", s->path,
                    strerror(e));
    }
    struct stat st;
    if (fstat(s->lock_fd, &st) != 0)
        return fail(err, errlen, STORE_EIO, "cannot stat store file %s: %s", s->path,
                    strerror(errno));
    if (!S_ISREG(st.st_mode))
        return fail(err, errlen, STORE_EIO, "store file %s is not a regular file", s->path);
    return STORE_OK;
}

/* ---- checks ------------------------------------------------------------------ */

/* What a failed statement at open means for the file. */
static int sql_fail(sq_t *s, int rc, const char *doing, char *err, size_t errlen)
{
    int prim = rc & 0xff;
    const char *msg = sqlite3_errmsg(s->db);
    if (prim == SQLITE_NOTADB)
        return fail(err, errlen, STORE_ECORRUPT,
                    "store file %s is not a SQLite database (%s); it was not changed", s->path,
                    msg);
    if (prim == SQLITE_CORRUPT)
        return fail(err, errlen, STORE_ECORRUPT,
                    "store file %s is damaged (%s, while %s); restore it from a backup "
                    "(see docs/store.md)",
                    s->path, msg, doing);
    if (prim == SQLITE_BUSY || prim == SQLITE_LOCKED)
        return fail(err, errlen, STORE_ELOCKED,
                    "store file %s is locked by another process (%s, while %s)", s->path, msg,
                    doing);
    return fail(err, errlen, STORE_EIO, "store file %s: %s (while %s)", s->path, msg, doing);
}

/* Run sql and read one integer (or 0 when it gives no row). */
static int query_int(sq_t *s, const char *sql, long long *out, char *err, size_t errlen)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(st);
        *out = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
        if (rc == SQLITE_ROW || rc == SQLITE_DONE)
            rc = SQLITE_OK;
    }
    if (rc != SQLITE_OK) {
        int r = sql_fail(s, rc, sql, err, errlen);
        sqlite3_finalize(st);
        return r;
    }
    sqlite3_finalize(st);
    return STORE_OK;
}

/* Is this our file, and which version? Sets *is_new for an empty database. */
static int identify(sq_t *s, int *is_new, char *err, size_t errlen)
{
    long long app_id, version, tables;
    int rc;
    if ((rc = query_int(s, "PRAGMA application_id", &app_id, err, errlen)) ||
        (rc = query_int(s, "PRAGMA user_version", &version, err, errlen)) ||
        (rc = query_int(s, "SELECT count(*) FROM sqlite_master", &tables, err, errlen)))
        return rc;
    if (app_id == 0 && version == 0 && tables == 0) {
        *is_new = 1;
        s->version = 0;
        return STORE_OK;
    }
    *is_new = 0;
    if (app_id != SQ_APPLICATION_ID)
        return fail(err, errlen, STORE_ECORRUPT,
                    "store file %s is a SQLite database but not a Stratus store (application "
                    "id 0x%08llx, %lld tables); refusing to change it",
                    s->path, (unsigned long long)app_id & 0xffffffffu, tables);
    if (version > SQ_SCHEMA_VERSION)
        return fail(err, errlen, STORE_EVERSION,
                    "store file %s has schema version %lld, newer than this stratus knows "
                    "(%d): it was written by a newer Stratus; run that version, or restore a "
                    "backup",
                    s->path, version, SQ_SCHEMA_VERSION);
    if (version < 1)
        return fail(err, errlen, STORE_ECORRUPT,
                    "store file %s has the Stratus application id but no schema version",
                    s->path);
    s->version = (int)version;
    return STORE_OK;
}

typedef struct deadline {
    uint64_t end_ns;
} deadline_t;

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int progress_cb(void *data)
{
    return mono_ns() > ((deadline_t *)data)->end_ns;
}

/* A quick_check report on one line: without SQLite's "*** in database
 * main ***" heading, newlines as spaces. */
static void one_line(char *out, size_t outlen, const char *line)
{
    static const char heading[] = "*** in database main ***";
    if (strncmp(line, heading, sizeof heading - 1) == 0)
        line += sizeof heading - 1;
    while (*line == '\n' || *line == ' ')
        line++;
    snprintf(out, outlen, "%s", line);
    for (char *p = out; *p; p++)
        if (*p == '\n' || *p == '\r')
            *p = ' ';
}

/* Run one check statement to its end: a quick_check (rows "ok" or
 * problems) or a probe (any rows). STORE_OK, a status with err set (a
 * damaged file: STORE_ECORRUPT), or 1 when the time budget cut it short. */
static int run_check(sq_t *s, const char *sql, int is_pragma, char *err, size_t errlen)
{
    sqlite3_stmt *st = NULL;
    char first[160] = "";
    int rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);
    if (rc != SQLITE_OK)
        return sql_fail(s, rc, "checking the file", err, errlen);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *line = (const char *)sqlite3_column_text(st, 0);
        if (is_pragma && !first[0] && (!line || strcmp(line, "ok") != 0))
            one_line(first, sizeof first, line ? line : "?");
    }
    sqlite3_finalize(st);
    if (rc == SQLITE_INTERRUPT)
        return 1;
    if (rc != SQLITE_DONE)
        return sql_fail(s, rc, "checking the file", err, errlen);
    if (first[0])
        return fail(err, errlen, STORE_ECORRUPT,
                    "store file %s is damaged (PRAGMA quick_check: %s); restore it from a "
                    "backup (see docs/store.md)",
                    s->path, first);
    return STORE_OK;
}

/* Check the file within the time budget. Up to check_max_bytes, PRAGMA
 * quick_check reads every page (SQLite runs its b-tree pass as one step, so
 * the budget cannot cut it short: the size limit bounds it). A bigger file
 * gets quick_check of its small tables, and probes that walk the message
 * table and each of its indexes from the root to both ends (the small
 * index of leased messages whole). A damaged file
 * is an error; a check cut short by the budget is not (s->check says so). */
static int check_file(sq_t *s, char *err, size_t errlen)
{
    static const char *const probes[] = {
        "PRAGMA quick_check(queue)",
        "PRAGMA quick_check(kv)",
        "SELECT min(seq) FROM message",
        "SELECT max(seq) FROM message",
        "SELECT min(id) FROM message",
        "SELECT max(id) FROM message",
        "SELECT min(queue) FROM message",
        "SELECT max(queue) FROM message",
        "SELECT min(expires) FROM message",
        "SELECT max(expires) FROM message",
    };
    /* The leased messages' index (version 2 on) holds few entries: all of
     * them are read. */
    static const char leased_probe[] =
        "SELECT count(*) FROM message INDEXED BY message_leased WHERE leased = 1";
    /* The history (version 3 on): its table and index at both ends. */
    static const char *const history_probes[] = {
        "SELECT min(seq) FROM invocation_batch",
        "SELECT max(seq) FROM invocation_batch",
        "SELECT min(last_ms) FROM invocation_batch",
        "SELECT max(last_ms) FROM invocation_batch",
    };
    long long pages, page_size;
    int rc;
    if ((rc = query_int(s, "PRAGMA page_count", &pages, err, errlen)) ||
        (rc = query_int(s, "PRAGMA page_size", &page_size, err, errlen)))
        return rc;
    long long bytes = pages * page_size;
    int full = bytes <= (long long)s->opts.check_max_bytes;
    deadline_t dl = {mono_ns() + (uint64_t)s->opts.check_ms * 1000000u};
    sqlite3_progress_handler(s->db, 1000, progress_cb, &dl);
    rc = STORE_OK;
    if (full)
        rc = run_check(s, "PRAGMA quick_check(3)", 1, err, errlen);
    else
        for (size_t i = 0; rc == STORE_OK && i < sizeof probes / sizeof probes[0]; i++)
            rc = run_check(s, probes[i], strncmp(probes[i], "PRAGMA", 6) == 0, err, errlen);
    if (!full && rc == STORE_OK && s->version >= 2)
        rc = run_check(s, leased_probe, 0, err, errlen);
    for (size_t i = 0; !full && rc == STORE_OK && s->version >= 3 &&
                       i < sizeof history_probes / sizeof history_probes[0];
         i++)
        rc = run_check(s, history_probes[i], 0, err, errlen);
    sqlite3_progress_handler(s->db, 0, NULL, NULL);
    if (rc == 1)
        snprintf(s->check, sizeof s->check, "incomplete: time budget of %u ms reached",
                 s->opts.check_ms);
    else if (rc == STORE_OK && full)
        snprintf(s->check, sizeof s->check, "ok");
    else if (rc == STORE_OK)
        snprintf(s->check, sizeof s->check,
                 "partial: %lld MiB file; small tables fully, messages at their edges",
                 bytes >> 20);
    return rc == 1 ? STORE_OK : rc;
}

/* ---- set-up and migrations ----------------------------------------------------- */

static int exec(sq_t *s, const char *sql, const char *doing, char *err, size_t errlen)
{
    char *msg = NULL;
    int rc = sqlite3_exec(s->db, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK) {
        int r = (rc & 0xff) == SQLITE_CORRUPT || (rc & 0xff) == SQLITE_NOTADB
                    ? sql_fail(s, rc, doing, err, errlen)
                    : fail(err, errlen, STORE_EIO, "store file %s: %s (while %s)", s->path,
                           msg ? msg : sqlite3_errstr(rc), doing);
        sqlite3_free(msg);
        return r;
    }
    return STORE_OK;
}

static int set_wal(sq_t *s, char *err, size_t errlen)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(s->db, "PRAGMA journal_mode=WAL", -1, &st, NULL);
    if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *mode = (const char *)sqlite3_column_text(st, 0);
        int wal = mode && strcmp(mode, "wal") == 0;
        int r = wal ? STORE_OK
                    : fail(err, errlen, STORE_EIO,
                           "store file %s cannot use WAL mode (journal mode stays '%s'); is its "
                           "folder on a network file system?",
                           s->path, mode ? mode : "?");
        sqlite3_finalize(st);
        return r;
    }
    int r = sql_fail(s, rc, "switching to WAL mode", err, errlen);
    sqlite3_finalize(st);
    return r;
}

static int migrate(sq_t *s, char *err, size_t errlen)
{
    for (size_t i = 0; i < sizeof migrations / sizeof migrations[0]; i++) {
        const migration_t *m = &migrations[i];
        if (m->version <= s->version)
            continue;
        char doing[64], tail[128];
        snprintf(doing, sizeof doing, "migrating to schema version %d", m->version);
        snprintf(tail, sizeof tail, "PRAGMA user_version = %d; PRAGMA application_id = %d;",
                 m->version, SQ_APPLICATION_ID);
        int rc = exec(s, "BEGIN IMMEDIATE", doing, err, errlen);
        if (rc == STORE_OK && (rc = exec(s, m->sql, doing, err, errlen)) == STORE_OK &&
            (rc = exec(s, tail, doing, err, errlen)) == STORE_OK)
            rc = exec(s, "COMMIT", doing, err, errlen);
        if (rc != STORE_OK) {
            sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
            return rc;
        }
        s->version = m->version;
    }
    return STORE_OK;
}

/* The page cache fills up to cache_size while busy; an idle host gives
 * it back (it is read again from the file, or the OS cache, when needed). */
static void sq_release(void *be)
{
    sq_t *s = be;
    if (s)
        sqlite3_db_release_memory(s->db);
}

static void sq_close(void *be)
{
    sq_t *s = be;
    if (!s)
        return;
    for (int i = 0; i < SQ_N; i++)
        sqlite3_finalize(s->stmt[i]);
    sqlite3_close(s->db);
    /* After sqlite3_close: closing any descriptor of the file drops the
     * process's POSIX locks on it, SQLite's included. */
    if (s->lock_fd >= 0)
        close(s->lock_fd);
    free(s);
}

static int sq_open(const char *target, const char *app_root, const store_options_t *opts,
                   void **out, char *err, size_t errlen)
{
    if (!sqlite3_threadsafe())
        return fail(err, errlen, STORE_EIO,
                    "the SQLite library was built without thread support; the store needs it");
    sq_t *s = calloc(1, sizeof *s);
    if (!s)
        return fail(err, errlen, STORE_EIO, "out of memory");
    s->lock_fd = -1;
    s->opts = *opts;
    s->read_only = opts->read_only;
    int rc = resolve_path(s, target, app_root, err, errlen);
    if (rc != STORE_OK)
        goto out;
    if (s->read_only) {
        if (access(s->path, F_OK) != 0) {
            rc = fail(err, errlen, STORE_EIO, "store file %s does not exist", s->path);
            goto out;
        }
    } else if ((rc = take_lock(s, err, errlen)) != STORE_OK) {
        goto out;
    }
    int flags = (s->read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE) |
                SQLITE_OPEN_NOMUTEX;
    int src = sqlite3_open_v2(s->path, &s->db, flags, NULL);
    if (src != SQLITE_OK) {
        rc = fail(err, errlen, STORE_EIO, "cannot open store file %s: %s", s->path,
                  s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(src));
        goto out;
    }
    sqlite3_extended_result_codes(s->db, 1);
    sqlite3_busy_timeout(s->db, (int)opts->busy_timeout_ms);

    int empty = 0;
    if ((rc = identify(s, &empty, err, errlen)) != STORE_OK)
        goto out;
    if (s->read_only) {
        snprintf(s->check, sizeof s->check, "skipped: read-only");
        if (empty || s->version < SQ_SCHEMA_VERSION) {
            rc = fail(err, errlen, STORE_EVERSION,
                      "store file %s has schema version %d and needs migrating to %d; open it "
                      "once read-write (start the host) first",
                      s->path, s->version, SQ_SCHEMA_VERSION);
            goto out;
        }
    } else {
        if (empty)
            snprintf(s->check, sizeof s->check, "new store");
        else if ((rc = check_file(s, err, errlen)) != STORE_OK)
            goto out;
        char pragmas[160];
        snprintf(pragmas, sizeof pragmas, "PRAGMA synchronous=%s; PRAGMA journal_size_limit=%d;",
                 opts->sync_normal ? "NORMAL" : "FULL", SQ_JOURNAL_LIMIT);
        if ((rc = set_wal(s, err, errlen)) != STORE_OK ||
            (rc = exec(s, pragmas, "setting up", err, errlen)) != STORE_OK ||
            (rc = migrate(s, err, errlen)) != STORE_OK)
            goto out;
    }
    for (int i = 0; i < SQ_N; i++) {
        src = sqlite3_prepare_v3(s->db, sq_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &s->stmt[i],
                                 NULL);
        if (src != SQLITE_OK) {
            rc = sql_fail(s, src, "preparing statements", err, errlen);
            goto out;
        }
    }
    *out = s;
    return STORE_OK;
out:
    sq_close(s);
    return rc;
}

static const char *sq_location(void *be) { return ((sq_t *)be)->path; }
static int sq_version(void *be) { return ((sq_t *)be)->version; }
static const char *sq_check(void *be) { return ((sq_t *)be)->check; }

const store_backend_t store_backend_sqlite = {
    .version = STORE_BACKEND_VERSION,
    .scheme = "sqlite",
    .open = sq_open,
    .run = sq_run,
    .location = sq_location,
    .schema_version = sq_version,
    .check_result = sq_check,
    .close = sq_close,
    .release = sq_release,
};
