/*
 * blob_trigger.c -- the "blobTrigger" source: runs a function once for each
 * new or changed blob of a container whose name matches the binding's path
 * pattern (src/util/blobpath.h).
 *
 * A container is a folder under the blob root. Each started trigger is one
 * blob_src_t on the binding host's loop:
 *   - a recursive inotify watcher (src/util/dirwatch.h) on the container
 *     folder reports files when they are complete: closed by the program
 *     that wrote them, or renamed or moved into place (what blob outputs
 *     and blobdir_write do). A file still open for writing is not reported;
 *   - at start (and after the kernel's event queue overflowed) the folder is
 *     walked on the thread pool, and every blob that matches is checked;
 *   - a check compares the blob's ETag ("<size>-<mtime ns>-<inode>", hex)
 *     with its receipt in the trigger connection's store (key/value
 *     namespace "blob-receipts", key "<function>/<container>/<blob>"). A
 *     blob with no receipt, or a receipt for another ETag, is delivered;
 *     the receipt is written after the outcome, so a blob is delivered once
 *     per change and a restart delivers what changed while the host was
 *     down and what was left unfinished;
 *   - a blob found by a walk whose last change is under SETTLE_MS old may
 *     still be being written: it is checked again SETTLE_MS later;
 *   - the payload is the file's bytes (up to blob__max_size(); a larger
 *     blob is logged and poisoned); the binding data is the path's
 *     captures plus BlobTrigger ("container/name"), Uri, Properties and
 *     Metadata as Azure names them;
 *   - a failed delivery (after the function's own retry policy) counts in
 *     the receipt; after maxDequeueCount tries (extensions.queues, 5 by
 *     default) the blob is poisoned as Azure does: a
 *     message {Type, FunctionId, BlobType, ContainerName, BlobName, ETag} in
 *     the queue "webjobs-blobtrigger-poison" and a receipt that stops
 *     further tries until the blob changes;
 *   - one blob is never delivered twice at once: a change reported while
 *     it runs is checked again after the run ends. At most MAX_ACTIVE blobs
 *     of one trigger are in flight; the rest wait in a list.
 */
#include "blob_priv.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../telemetry/log.h"
#include "../util/blobpath.h"
#include "../util/buf.h"
#include "../util/codec.h"
#include "../util/dirwatch.h"
#include "queue.h"

#define RECEIPT_NS "blob-receipts"
#define POISON_QUEUE "webjobs-blobtrigger-poison"
#define MAX_ACTIVE 8
#define SETTLE_MS 2000

typedef struct blob_src blob_src_t;
typedef struct item item_t;

typedef enum check_result {
    CHECK_DELIVER, /* changed: data read */
    CHECK_SAME,    /* the receipt's ETag: done already */
    CHECK_GONE,    /* no such file (deleted, or not a regular file) */
    CHECK_BUSY,    /* found by a walk and changed very recently: look later */
    CHECK_TOOBIG,
    CHECK_ERROR
} check_result_t;

struct item {
    blob_src_t *s;
    item_t *next;
    char *name;
    int from_walk;
    int again;                  /* reported again while in flight */
    int again_walk;             /* ... and only by walks, which cannot tell it is complete */
    char key[STORE_KEY_MAX + 1];
    store_req_t req;
    uv_work_t work;
    /* the receipt */
    char receipt_etag[BLOB_ETAG_LEN];
    int receipt_final;          /* done or poisoned */
    int failures;               /* failed deliveries of receipt_etag */
    /* the check */
    check_result_t result;
    char etag[BLOB_ETAG_LEN];
    struct stat st;             /* the file's, as read */
    buf_t data;
    char err[512];
};

struct blob_src {
    binding_host_t *bh;
    function_t *fn;
    const blob_conf_t *conf;
    const char *container;
    char *dir;                  /* the container's folder, absolute */
    store_t *st;
    size_t max;
    int max_tries;              /* extensions.queues.maxDequeueCount, as in Azure */
    dirwatch_t *w;
    item_t *active;             /* in flight, at most MAX_ACTIVE */
    size_t nactive;
    item_t *pending, *pending_tail;
    item_t *deferred;           /* to check again after SETTLE_MS */
    uv_timer_t settle;
    uv_work_t walk;
    int walking;
    int walk_again;
    char **walk_names;
    size_t walk_n, walk_cap;
    char walk_err[512];
    int stopping;
    int closing;                /* handles still closing */
    void (*stop_cb)(void *);
    void *stop_arg;
};

static void pump(blob_src_t *s);
static void check_start(item_t *it);
static void check_queue(item_t *it);
static void on_settle(uv_timer_t *h);
static void maybe_stopped(blob_src_t *s);

/* ---- items ---- */

static void item_free(item_t *it)
{
    store_req_cleanup(&it->req);
    buf_free(&it->data);
    free(it->name);
    free(it);
}

static void receipt_key(const blob_src_t *s, const char *name, char *key)
{
    char fn[256];
    size_t i = 0;
    for (; s->fn->name[i] && i < sizeof fn - 1; i++)
        fn[i] = (char)tolower((unsigned char)s->fn->name[i]);
    fn[i] = '\0';
    int n = snprintf(key, STORE_KEY_MAX + 1, "%s/%s/%s", fn, s->container, name);
    if (n >= 0 && n <= STORE_KEY_MAX)
        return;
    /* Too long for a key: the blob name's SHA-256 stands for it. */
    unsigned char md[SHA256_LEN];
    char hex[2 * SHA256_LEN + 1];
    sha256(name, strlen(name), md);
    for (unsigned k = 0; k < SHA256_LEN; k++)
        snprintf(hex + 2 * k, 3, "%02x", md[k]);
    snprintf(key, STORE_KEY_MAX + 1, "%s/%s/#sha256:%s", fn, s->container, hex);
}

static item_t *item_new(blob_src_t *s, const char *name, int from_walk)
{
    item_t *it = calloc(1, sizeof *it);
    if (!it || !(it->name = strdup(name))) {
        free(it);
        log_write(LOG_ERROR, BLOB_LOG_CAT, NULL, "Function '%s': out of memory", s->fn->name);
        return NULL;
    }
    it->s = s;
    it->from_walk = from_walk;
    buf_init(&it->data, s->max);
    return it;
}

/* Active item a was reported again: check it once more when it is done,
 * as one found by a walk only if every report since was a walk's. */
static void mark_again(item_t *a, int from_walk)
{
    a->again_walk = a->again ? a->again_walk && from_walk : from_walk;
    a->again = 1;
}

/* A blob was reported (by the watcher, a walk or the settle timer). */
static void blob_seen(blob_src_t *s, const char *name, int from_walk)
{
    if (s->stopping || blobpath_match(s->conf->pattern, s->container, name, NULL) != 1)
        return;
    for (item_t *a = s->active; a; a = a->next)
        if (strcmp(a->name, name) == 0) {
            mark_again(a, from_walk);
            return;
        }
    item_t *it = item_new(s, name, from_walk);
    if (!it)
        return;
    if (s->pending_tail)
        s->pending_tail->next = it;
    else
        s->pending = it;
    s->pending_tail = it;
    pump(s);
}

/* Start pending items while there is room; an item whose blob is already
 * in flight only marks that one to be checked again. */
static void pump(blob_src_t *s)
{
    while (!s->stopping && s->nactive < MAX_ACTIVE && s->pending) {
        item_t *it = s->pending;
        if (!(s->pending = it->next))
            s->pending_tail = NULL;
        it->next = NULL;
        item_t *a = s->active;
        while (a && strcmp(a->name, it->name) != 0)
            a = a->next;
        if (a) {
            mark_again(a, it->from_walk);
            item_free(it);
            continue;
        }
        it->next = s->active;
        s->active = it;
        s->nactive++;
        check_start(it);
    }
}

/* The item's work is over: check again when its blob was reported
 * meanwhile, else let it go and start the next. */
static void item_done(item_t *it)
{
    blob_src_t *s = it->s;
    store_req_cleanup(&it->req);
    buf_reset(&it->data);
    if (it->again && !s->stopping) {
        it->again = 0;
        it->from_walk = it->again_walk;
        check_start(it);
        return;
    }
    item_t **pp = &s->active;
    while (*pp != it)
        pp = &(*pp)->next;
    *pp = it->next;
    s->nactive--;
    item_free(it);
    pump(s);
    maybe_stopped(s);
}

/* ---- receipts ---- */

static void receipt_written(store_req_t *req)
{
    item_t *it = req->data;
    if (req->status != STORE_OK)
        log_write(LOG_ERROR, BLOB_LOG_CAT, NULL, "Function '%s': cannot write the receipt of "
                  "blob '%s/%s': %s", it->s->fn->name, it->s->container, it->name,
                  req->err[0] ? req->err : store_strerror(req->status));
    item_done(it);
}

/* Record the outcome for it->etag: "Done", "Failed" (with it->failures)
 * or "Poisoned"; then item_done. */
static void receipt_write(item_t *it, const char *status)
{
    char val[256];
    int n = snprintf(val, sizeof val, "{\"ETag\":\"%s\",\"Status\":\"%s\",\"Failures\":%d}",
                     it->etag, status, it->failures);
    store_req_cleanup(&it->req);
    it->req.data = it;
    if (store_kv_put(it->s->st, &it->req, RECEIPT_NS, it->key, val, (size_t)n,
                     receipt_written) != STORE_OK) {
        receipt_written(&it->req);
        return;
    }
}

static void receipt_read(store_req_t *req)
{
    item_t *it = req->data;
    it->receipt_etag[0] = '\0';
    it->receipt_final = 0;
    it->failures = 0;
    if (req->status == STORE_OK && req->n_kvs == 1) {
        json_t *j = json_loadb((const char *)req->kvs[0].value, req->kvs[0].value_len, 0, NULL);
        const char *etag = json_string_value(json_object_get(j, "ETag"));
        const char *status = json_string_value(json_object_get(j, "Status"));
        if (etag && status && strlen(etag) < BLOB_ETAG_LEN) {
            snprintf(it->receipt_etag, sizeof it->receipt_etag, "%s", etag);
            it->receipt_final = strcmp(status, "Failed") != 0;
            it->failures = (int)json_integer_value(json_object_get(j, "Failures"));
        }
        json_decref(j);
    } else if (req->status != STORE_ENOTFOUND) {
        log_write(LOG_WARN, BLOB_LOG_CAT, NULL, "Function '%s': cannot read the receipt of "
                  "blob '%s/%s' (%s); delivering it", it->s->fn->name, it->s->container,
                  it->name, req->err[0] ? req->err : store_strerror(req->status));
    }
    store_req_cleanup(req);
    check_queue(it);
}

/* ---- the check (thread pool) ---- */

void blob__etag(const struct stat *st, char *out)
{
    snprintf(out, BLOB_ETAG_LEN, "%llx-%llx-%llx", (unsigned long long)st->st_size,
             (unsigned long long)st->st_mtim.tv_sec * 1000000000ULL +
                 (unsigned long long)st->st_mtim.tv_nsec,
             (unsigned long long)st->st_ino);
}

static void check_work(uv_work_t *w)
{
    item_t *it = w->data;
    blob_src_t *s = it->s;
    char path[PATH_MAX];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", s->dir, it->name);
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        it->result = errno == ENOENT || errno == ELOOP || errno == ENOTDIR ? CHECK_GONE
                                                                           : CHECK_ERROR;
        snprintf(it->err, sizeof it->err, "open: %s", strerror(errno));
        return;
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        it->result = CHECK_GONE;
        close(fd);
        return;
    }
    blob__etag(&st, it->etag);
    it->st = st;
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    int64_t age_ms = ((int64_t)now.tv_sec - st.st_mtim.tv_sec) * 1000 +
                     (now.tv_nsec - st.st_mtim.tv_nsec) / 1000000;
    if (it->receipt_final && strcmp(it->etag, it->receipt_etag) == 0)
        it->result = CHECK_SAME;
    else if (it->from_walk && age_ms < SETTLE_MS && age_ms > -SETTLE_MS)
        it->result = CHECK_BUSY;
    else if ((uint64_t)st.st_size > s->max)
        it->result = CHECK_TOOBIG;
    else
        it->result = CHECK_DELIVER;
    char chunk[65536];
    while (it->result == CHECK_DELIVER) {
        ssize_t n = read(fd, chunk, sizeof chunk);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            it->result = CHECK_ERROR;
            snprintf(it->err, sizeof it->err, "read: %s", strerror(errno));
        } else if (n == 0) {
            break;
        } else if (buf_append(&it->data, chunk, (size_t)n) != 0) {
            it->result = CHECK_TOOBIG; /* it grew while being read */
        }
    }
    close(fd);
}

static void deliver(item_t *it);
static void poison(item_t *it, const char *why);

static void check_after(uv_work_t *w, int status)
{
    item_t *it = w->data;
    blob_src_t *s = it->s;
    if (status != 0)
        it->result = CHECK_ERROR;
    switch (it->result) {
    case CHECK_DELIVER:
        if (s->stopping)
            break;
        if (strcmp(it->etag, it->receipt_etag) != 0)
            it->failures = 0; /* a new version starts afresh */
        deliver(it);
        return;
    case CHECK_BUSY:
        if (s->stopping)
            break;
        /* It may still be being written: the settle timer looks again. */
        {
            item_t *later = item_new(s, it->name, 1);
            if (later) {
                later->next = s->deferred;
                s->deferred = later;
                if (!uv_is_active((uv_handle_t *)&s->settle))
                    uv_timer_start(&s->settle, on_settle, SETTLE_MS, 0);
            }
        }
        break;
    case CHECK_TOOBIG:
        if (s->stopping)
            break;
        log_write(LOG_ERROR, BLOB_LOG_CAT, NULL, "Function '%s': blob '%s/%s' has %llu bytes, "
                  "more than the %zu allowed (host.json stratus.storage.maxBlobSize); it is "
                  "not delivered", s->fn->name, s->container, it->name,
                  (unsigned long long)it->st.st_size, s->max);
        poison(it, "too big");
        return;
    case CHECK_ERROR:
        log_write(LOG_WARN, BLOB_LOG_CAT, NULL, "Function '%s': cannot read blob '%s/%s': %s",
                  s->fn->name, s->container, it->name, it->err);
        break;
    case CHECK_SAME:
    case CHECK_GONE:
        break;
    }
    item_done(it);
}

static void check_queue(item_t *it)
{
    it->work.data = it;
    if (uv_queue_work(binding_host_loop(it->s->bh), &it->work, check_work, check_after) != 0) {
        log_write(LOG_ERROR, BLOB_LOG_CAT, NULL, "Function '%s': cannot queue the check of "
                  "blob '%s/%s'", it->s->fn->name, it->s->container, it->name);
        item_done(it);
    }
}

/* Read the receipt, then check the file. */
static void check_start(item_t *it)
{
    blob_src_t *s = it->s;
    receipt_key(s, it->name, it->key);
    store_req_cleanup(&it->req);
    it->req.data = it;
    if (store_kv_get(s->st, &it->req, RECEIPT_NS, it->key, receipt_read) != STORE_OK) {
        log_write(LOG_ERROR, BLOB_LOG_CAT, NULL, "Function '%s': cannot read the receipt of "
                  "blob '%s/%s': %s", s->fn->name, s->container, it->name, it->req.err);
        item_done(it);
    }
}

/* ---- delivery ---- */

/* "file:///abs/path" with bytes outside unreserved characters and '/'
 * percent-encoded. */
static json_t *file_uri(const char *dir, const char *name)
{
    buf_t b;
    buf_init(&b, 3 * (PATH_MAX + 16));
    int rc = buf_lit(&b, "file://");
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    for (const unsigned char *p = (const unsigned char *)path; *p && rc == 0; p++) {
        if (isalnum(*p) || strchr("/-._~", *p))
            rc = buf_putc(&b, (char)*p);
        else
            rc = buf_printf(&b, "%%%02X", *p);
    }
    json_t *v = rc == 0 ? json_stringn(b.p, b.len) : NULL;
    buf_free(&b);
    return v;
}

json_t *blob__trigger_data(const blobpath_t *pattern, const char *container, const char *dir,
                           const char *name, const struct stat *st)
{
    json_t *m = json_object();
    if (!m || blobpath_match(pattern, container, name, m) < 0) {
        json_decref(m);
        return NULL;
    }
    char when[64], path[BLOBPATH_NAME_MAX + 80], etag[BLOB_ETAG_LEN];
    struct tm tm;
    gmtime_r(&st->st_mtim.tv_sec, &tm);
    size_t n = strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(when + n, sizeof when - n, ".%03ld+00:00", st->st_mtim.tv_nsec / 1000000);
    snprintf(path, sizeof path, "%s/%s", container, name);
    blob__etag(st, etag);
    binding_data_builtin(m, "BlobTrigger", json_string(path));
    binding_data_builtin(m, "Uri", file_uri(dir, name));
    /* Azure's blob extension names the size ContentLength, which is what apps
     * read (blob_properties['ContentLength'], properties.contentLength);
     * Length is the older name that azure-functions' InputStream.length reads. */
    binding_data_builtin(m, "Properties",
                        json_pack("{s:I,s:I,s:s,s:s,s:s,s:s}", "Length",
                                  (json_int_t)st->st_size, "ContentLength",
                                  (json_int_t)st->st_size, "LastModified", when, "ETag", etag,
                                  "BlobType", "BlockBlob", "ContentType",
                                  "application/octet-stream"));
    binding_data_builtin(m, "Metadata", json_object());
    return m;
}

static void poisoned(store_req_t *req)
{
    item_t *it = req->data;
    if (req->status != STORE_OK)
        log_write(LOG_ERROR, BLOB_LOG_CAT, NULL, "Function '%s': cannot put blob '%s/%s' on "
                  "the queue '%s': %s", it->s->fn->name, it->s->container, it->name,
                  POISON_QUEUE, req->err[0] ? req->err : store_strerror(req->status));
    receipt_write(it, "Poisoned");
}

/* Give up on the blob: a message on the poison queue, then a receipt. */
static void poison(item_t *it, const char *why)
{
    blob_src_t *s = it->s;
    char fid[300];
    snprintf(fid, sizeof fid, "Host.Functions.%s", s->fn->name);
    json_t *msg = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "Type", "BlobTrigger", "FunctionId",
                            fid, "BlobType", "BlockBlob", "ContainerName", s->container,
                            "BlobName", it->name, "ETag", it->etag);
    char *body = msg ? json_dumps(msg, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(msg);
    log_write(LOG_ERROR, BLOB_LOG_CAT, NULL, "Function '%s': blob '%s/%s' is poisoned (%s); "
              "a message goes to the queue '%s'", s->fn->name, s->container, it->name, why,
              POISON_QUEUE);
    store_req_cleanup(&it->req);
    it->req.data = it;
    if (!body || store_queue_put(s->st, &it->req, POISON_QUEUE, body, strlen(body), 0, 0,
                                 poisoned) != STORE_OK) {
        if (!body)
            snprintf(it->req.err, sizeof it->req.err, "out of memory");
        it->req.status = it->req.status ? it->req.status : STORE_EIO;
        free(body);
        poisoned(&it->req);
        return;
    }
    free(body);
}

static void delivered(void *arg, int ok, const char *reason, invocation_t *inv)
{
    (void)inv;
    item_t *it = arg;
    blob_src_t *s = it->s;
    buf_reset(&it->data);
    if (ok) {
        it->failures = 0;
        receipt_write(it, "Done");
        return;
    }
    if (s->stopping || (inv && inv->not_run)) {
        /* Not counted: the next start delivers it again (also when the
         * function's runtime stopped for good: it never ran). */
        item_done(it);
        return;
    }
    it->failures++;
    if (it->failures >= s->max_tries) {
        char why[120];
        snprintf(why, sizeof why, "the function failed %d times", it->failures);
        poison(it, why);
        return;
    }
    log_write(LOG_WARN, BLOB_LOG_CAT, NULL, "Function '%s' failed for blob '%s/%s' (try %d of "
              "%d): %s", s->fn->name, s->container, it->name, it->failures, s->max_tries,
              reason ? reason : "failed");
    it->again = 1; /* check (and read) it again, then try again */
    receipt_write(it, "Failed");
}

static void deliver(item_t *it)
{
    blob_src_t *s = it->s;
    char reason[BLOBPATH_NAME_MAX + 120];
    snprintf(reason, sizeof reason, "New blob detected: %s/%s", s->container, it->name);
    json_t *meta = blob__trigger_data(s->conf->pattern, s->container, s->dir, it->name,
                                      &it->st);
    if (!meta) {
        log_write(LOG_ERROR, BLOB_LOG_CAT, NULL, "Function '%s': out of memory for blob '%s/%s'",
                  s->fn->name, s->container, it->name);
        item_done(it);
        return;
    }
    trigger_event_t ev = {.data = it->data.p ? it->data.p : "", .len = it->data.len,
                          .metadata = meta, .reason = reason};
    if (binding_host_invoke(s->bh, s->fn, &ev, delivered, it) != 0)
        item_done(it);
}

/* ---- walks, watching, settling ---- */

static int walk_add(void *data, const char *path, uint64_t size, int64_t mtime_ms)
{
    (void)size;
    (void)mtime_ms;
    blob_src_t *s = data;
    if (blobpath_match(s->conf->pattern, s->container, path, NULL) != 1)
        return 0;
    if (s->walk_n == s->walk_cap) {
        size_t cap = s->walk_cap ? 2 * s->walk_cap : 64;
        char **grown = realloc(s->walk_names, cap * sizeof *grown);
        if (!grown) {
            snprintf(s->walk_err, sizeof s->walk_err, "out of memory");
            return 1;
        }
        s->walk_names = grown;
        s->walk_cap = cap;
    }
    if (!(s->walk_names[s->walk_n] = strdup(path))) {
        snprintf(s->walk_err, sizeof s->walk_err, "out of memory");
        return 1;
    }
    s->walk_n++;
    return 0;
}

static void walk_work(uv_work_t *w)
{
    blob_src_t *s = w->data;
    s->walk_err[0] = '\0';
    if (dirwatch_scan(s->dir, walk_add, s, s->walk_err, sizeof s->walk_err) == -1 &&
        !s->walk_err[0])
        snprintf(s->walk_err, sizeof s->walk_err, "cannot walk %s", s->dir);
}

static void walk_start(blob_src_t *s);

static void walk_after(uv_work_t *w, int status)
{
    blob_src_t *s = w->data;
    s->walking = 0;
    if (status == 0 && s->walk_err[0])
        log_write(LOG_WARN, BLOB_LOG_CAT, NULL, "Function '%s': looking through container '%s': "
                  "%s", s->fn->name, s->container, s->walk_err);
    for (size_t i = 0; i < s->walk_n; i++) {
        if (status == 0)
            blob_seen(s, s->walk_names[i], 1);
        free(s->walk_names[i]);
    }
    free(s->walk_names);
    s->walk_names = NULL;
    s->walk_n = s->walk_cap = 0;
    if (s->walk_again && !s->stopping) {
        s->walk_again = 0;
        walk_start(s);
    }
    maybe_stopped(s);
}

static void walk_start(blob_src_t *s)
{
    if (s->walking) {
        s->walk_again = 1;
        return;
    }
    s->walk.data = s;
    if (uv_queue_work(binding_host_loop(s->bh), &s->walk, walk_work, walk_after) == 0)
        s->walking = 1;
}

static void on_watch(dirwatch_t *w, const dirwatch_event_t *ev, void *data)
{
    (void)w;
    blob_src_t *s = data;
    if (ev->kind == DIRWATCH_FILE)
        blob_seen(s, ev->path, ev->found); /* found in a new folder: maybe still written */
    else if (ev->kind == DIRWATCH_OVERFLOW)
        walk_start(s);
    else
        log_write(LOG_WARN, BLOB_LOG_CAT, NULL, "Function '%s': container '%s': %s",
                  s->fn->name, s->container, ev->message ? ev->message : "watch error");
}

static void on_settle(uv_timer_t *h)
{
    blob_src_t *s = h->data;
    item_t *list = s->deferred;
    s->deferred = NULL;
    while (list) {
        item_t *next = list->next;
        blob_seen(s, list->name, 1);
        item_free(list);
        list = next;
    }
}

/* ---- start and stop ---- */

/* Create dir and its parents (mkdir -p). 0, or -1 with err. */
static int make_dirs(const char *dir, char *err, size_t errlen)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s", dir);
    for (char *p = path + 1;; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        char c = *p;
        *p = '\0';
        if (mkdir(path, 0755) != 0 && errno != EEXIST) {
            snprintf(err, errlen, "cannot create the container folder %s: mkdir: %s", path,
                     strerror(errno));
            return -1;
        }
        *p = c;
        if (!c)
            return 0;
    }
}

int blob__trigger_start(binding_host_t *bh, function_t *fn, binding_t *b, void **state,
                        char *err, size_t errlen)
{
    const blob_conf_t *conf = b->conf;
    char serr[600], dir[PATH_MAX], real[PATH_MAX];
    /* As Azure: the queues' maxDequeueCount is also the blobs' poison
     * limit. */
    queue_settings_t qs;
    if (queue_settings_read(binding_host_app(bh)->host_json, &qs, err, errlen) != 0)
        return -1;
    store_t *st = binding_host_store(bh, b->connection, serr, sizeof serr);
    if (!st) {
        snprintf(err, errlen, "%s", serr);
        return -1;
    }
    snprintf(dir, sizeof dir, "%s/%s", binding_host_blob_root(bh),
             blobpath_container(conf->pattern));
    if (make_dirs(dir, err, errlen) != 0)
        return -1;
    blob_src_t *s = calloc(1, sizeof *s);
    if (!s || !(s->dir = strdup(realpath(dir, real) ? real : dir))) {
        free(s);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    s->bh = bh;
    s->fn = fn;
    s->conf = conf;
    s->container = blobpath_container(conf->pattern);
    s->st = st;
    s->max = blob__max_size(bh);
    s->max_tries = (int)qs.max_dequeue_count;
    if (dirwatch_start(binding_host_loop(bh), s->dir, on_watch, s, &s->w, err, errlen) != 0) {
        free(s->dir);
        free(s);
        return -1;
    }
    uv_timer_init(binding_host_loop(bh), &s->settle);
    s->settle.data = s;
    walk_start(s);
    log_write(LOG_INFO, BLOB_LOG_CAT, NULL, "Function '%s' watches container '%s' for blobs "
              "matching '%s' (%s)", fn->name, s->container, conf->path, s->dir);
    *state = s;
    return 0;
}

static void maybe_stopped(blob_src_t *s)
{
    if (!s->stopping || s->closing || s->walking || s->nactive || !s->stop_cb)
        return;
    void (*cb)(void *) = s->stop_cb;
    void *arg = s->stop_arg;
    s->stop_cb = NULL;
    free(s->dir);
    free(s);
    cb(arg);
}

static void part_closed(void *data)
{
    blob_src_t *s = data;
    s->closing--;
    maybe_stopped(s);
}

static void settle_closed(uv_handle_t *h) { part_closed(h->data); }

void blob__trigger_stop(void *state, void (*cb)(void *arg), void *arg)
{
    blob_src_t *s = state;
    s->stopping = 1;
    s->stop_cb = cb;
    s->stop_arg = arg;
    while (s->pending) {
        item_t *next = s->pending->next;
        item_free(s->pending);
        s->pending = next;
    }
    s->pending_tail = NULL;
    while (s->deferred) {
        item_t *next = s->deferred->next;
        item_free(s->deferred);
        s->deferred = next;
    }
    s->closing = 2;
    dirwatch_stop(s->w, part_closed);
    s->w = NULL;
    uv_close((uv_handle_t *)&s->settle, settle_closed);
    if (s->walking)
        uv_cancel((uv_req_t *)&s->walk);
}
