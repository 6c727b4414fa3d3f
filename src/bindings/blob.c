/*
 * blob.c -- the "blob" binding kind (input and output) and the parts of
 * "blobTrigger" that are configuration; the trigger source itself is
 * blob_trigger.c.
 *
 * Containers are folders under the binding host's blob root, blobs are the
 * files below them (src/store/blobdir.h). A blob binding's `path` is
 * "container/blob name" and may hold binding expressions ({name} from the
 * trigger's binding data, {rand-guid}, {DateTime}, ...), resolved for each
 * invocation. The disk work runs on libuv's thread pool.
 *
 *   in   the blob's bytes: text when they are valid UTF-8 (and dataType is
 *        not binary or stream), else {"$binary": base64}; JSON null when
 *        the blob does not exist, as Azure passes null.
 *   out  the value written atomically (a temporary dot file, flushed,
 *        renamed), creating the container and folders; only after the
 *        function succeeded (the binding host's rule).
 */
#include "blob_priv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../store/blobdir.h"
#include "../telemetry/log.h"
#include "../util/blobpath.h"
#include "../util/buf.h"

/* ---- configuration ---- */

size_t blob__max_size(binding_host_t *bh)
{
    static int warned;
    app_t *app = binding_host_app(bh);
    json_t *v = binding_conf_get(binding_conf_get(binding_conf_get(app->host_json, "stratus"), "storage"), "maxBlobSize");
    if (!v)
        return BLOB_DEFAULT_MAX_SIZE;
    if (json_is_integer(v) && json_integer_value(v) > 0)
        return (size_t)json_integer_value(v);
    if (!warned) {
        warned = 1;
        log_write(LOG_WARN, BLOB_LOG_CAT, NULL, "host.json stratus.storage.maxBlobSize: expected "
                  "a number of bytes greater than 0; using %zu", BLOB_DEFAULT_MAX_SIZE);
    }
    return BLOB_DEFAULT_MAX_SIZE;
}

/* The path field as a string, or NULL with err. */
static const char *path_field(const json_t *entry, const char *example, char *err,
                              size_t errlen)
{
    json_t *p = binding_conf_get(entry, "path");
    if (!p) {
        snprintf(err, errlen, "field 'path' is required: the container and blob, such as '%s'",
                 example);
        return NULL;
    }
    if (!json_is_string(p) || json_string_length(p) == 0) {
        snprintf(err, errlen, "field 'path': expected a string such as '%s', got %s", example,
                 json_is_string(p) ? "an empty string" : "another kind of value");
        return NULL;
    }
    return json_string_value(p);
}

static int conf_new(struct binding *b, const char *path, blobpath_t *pattern, char *err,
                    size_t errlen)
{
    blob_conf_t *c = calloc(1, sizeof *c);
    if (!c || !(c->path = strdup(path))) {
        free(c);
        blobpath_free(pattern);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    c->pattern = pattern;
    b->conf = c;
    return 0;
}

int blob__trigger_parse(const json_t *entry, struct binding *b, char *err, size_t errlen)
{
    const char *path = path_field(entry, "samples-workitems/{name}", err, errlen);
    char perr[512];
    blobpath_t *pattern;
    if (!path)
        return -1;
    if (blobpath_parse(path, &pattern, perr, sizeof perr) != 0) {
        snprintf(err, errlen, "field 'path': '%s': %s", path, perr);
        return -1;
    }
    return conf_new(b, path, pattern, err, errlen);
}

/* Check a part of a blob binding's path that may hold {expressions}:
 * every '{' closed, no empty "{}". 0, or -1 with err. */
static int check_braces(const char *path, char *err, size_t errlen)
{
    for (const char *p = path; *p; p++) {
        if (*p == '}') {
            snprintf(err, errlen, "field 'path': '%s': '}' without '{' at position %zu", path,
                     (size_t)(p - path) + 1);
            return -1;
        }
        if (*p != '{')
            continue;
        const char *close = strchr(p + 1, '}'), *open = strchr(p + 1, '{');
        if (!close || (open && open < close)) {
            snprintf(err, errlen, "field 'path': '%s': unclosed '{' at position %zu", path,
                     (size_t)(p - path) + 1);
            return -1;
        }
        if (close == p + 1) {
            snprintf(err, errlen, "field 'path': '%s': empty '{}' at position %zu", path,
                     (size_t)(p - path) + 1);
            return -1;
        }
        p = close;
    }
    return 0;
}

static int blob_parse(const json_t *entry, struct binding *b, char *err, size_t errlen)
{
    const char *path = path_field(entry, "container/{name}.txt", err, errlen);
    char cerr[512];
    if (!path)
        return -1;
    const char *slash = strchr(path, '/');
    if (!slash || !slash[1]) {
        snprintf(err, errlen, "field 'path': '%s': expected 'container/blob name', such as "
                 "'container/{name}.txt'", path);
        return -1;
    }
    if (check_braces(path, err, errlen) != 0)
        return -1;
    char container[256];
    snprintf(container, sizeof container, "%.*s", (int)(slash - path), path);
    if (!strchr(container, '{') &&
        blobpath_container_check(container, cerr, sizeof cerr) != 0) {
        snprintf(err, errlen, "field 'path': '%s': %s", path, cerr);
        return -1;
    }
    if (!strchr(slash + 1, '{') && blobpath_name_check(slash + 1, cerr, sizeof cerr) != 0) {
        snprintf(err, errlen, "field 'path': '%s': %s", path, cerr);
        return -1;
    }
    return conf_new(b, path, NULL, err, errlen);
}

void blob__free_conf(void *conf)
{
    blob_conf_t *c = conf;
    if (!c)
        return;
    free(c->path);
    blobpath_free(c->pattern);
    free(c);
}

/* ---- input and output ---- */

typedef struct blob_job {
    uv_work_t work;
    binding_io_cb cb;
    void *arg;
    int writing;
    int binary;       /* in: dataType binary or stream */
    size_t max;
    char *root;
    char *container;  /* points into path */
    char *name;
    char *path;       /* the resolved path, split: "container\0name" */
    char *wdata;      /* out: the bytes */
    size_t wlen;
    buf_t data;       /* in: the bytes */
    int status;
    char err[1024];
} blob_job_t;

static void job_free(blob_job_t *j)
{
    buf_free(&j->data);
    free(j->root);
    free(j->path);
    free(j->wdata);
    free(j);
}

static void job_work(uv_work_t *w)
{
    blob_job_t *j = w->data;
    if (j->writing)
        j->status = blobdir_write(j->root, j->container, j->name, j->wdata, j->wlen, NULL,
                                  j->err, sizeof j->err);
    else
        j->status = blobdir_read(j->root, j->container, j->name, &j->data, j->max, j->err,
                                 sizeof j->err);
}

static void job_after(uv_work_t *w, int status)
{
    blob_job_t *j = w->data;
    if (status != 0) {
        snprintf(j->err, sizeof j->err, "the blob operation was cancelled");
        j->status = BLOBDIR_EIO;
    }
    if (j->writing) {
        j->cb(j->arg, j->status == BLOBDIR_OK, NULL, j->status == BLOBDIR_OK ? NULL : j->err);
    } else if (j->status == BLOBDIR_ENOTFOUND) {
        j->cb(j->arg, 1, json_null(), NULL);
    } else if (j->status != BLOBDIR_OK) {
        j->cb(j->arg, 0, NULL, j->err);
    } else {
        json_t *v = binding_value_new(j->data.p ? j->data.p : "", j->data.len, j->binary);
        j->cb(j->arg, v != NULL, v, v ? NULL : "out of memory");
        json_decref(v);
    }
    job_free(j);
}

/* Resolve b's path for inv and split it; start the job. On failure cb is
 * called (with a message naming the field) and the job freed. */
static void job_start(binding_host_t *bh, const struct binding *b, invocation_t *inv,
                      blob_job_t *j)
{
    const blob_conf_t *c = b->conf;
    char rerr[900];
    const char *path = binding_host_resolve(inv, c->path, rerr, sizeof rerr);
    char *slash = NULL;
    if (!path) {
        snprintf(j->err, sizeof j->err, "field 'path': %s", rerr);
    } else if (!(j->path = strdup(path)) || !(j->root = strdup(binding_host_blob_root(bh)))) {
        snprintf(j->err, sizeof j->err, "out of memory");
    } else if (!(slash = strchr(j->path, '/'))) {
        snprintf(j->err, sizeof j->err, "field 'path': '%s' resolved to '%s', which has no "
                 "blob name after the container", c->path, path);
    } else {
        *slash = '\0';
        j->container = j->path;
        j->name = slash + 1;
        if (blobpath_container_check(j->container, rerr, sizeof rerr) != 0 ||
            blobpath_name_check(j->name, rerr, sizeof rerr) != 0) {
            snprintf(j->err, sizeof j->err, "field 'path': '%s' resolved to '%s': %s",
                     c->path, path, rerr);
        } else {
            j->work.data = j;
            if (uv_queue_work(binding_host_loop(bh), &j->work, job_work, job_after) == 0)
                return;
            snprintf(j->err, sizeof j->err, "cannot queue the blob operation");
        }
    }
    j->cb(j->arg, 0, NULL, j->err);
    job_free(j);
}

static void blob_read(binding_host_t *bh, const struct binding *b, struct stratus_ctx *inv,
                      binding_io_cb cb, void *arg)
{
    blob_job_t *j = calloc(1, sizeof *j);
    if (!j) {
        cb(arg, 0, NULL, "out of memory");
        return;
    }
    j->cb = cb;
    j->arg = arg;
    j->max = blob__max_size(bh);
    buf_init(&j->data, j->max);
    j->binary = b->data_type && (strcasecmp(b->data_type, "binary") == 0 ||
                                 strcasecmp(b->data_type, "stream") == 0);
    job_start(bh, b, inv, j);
}

static void blob_write(binding_host_t *bh, const struct binding *b, struct stratus_ctx *inv,
                       json_t *value, binding_io_cb cb, void *arg)
{
    blob_job_t *j = calloc(1, sizeof *j);
    if (!j) {
        cb(arg, 0, NULL, "out of memory");
        return;
    }
    j->cb = cb;
    j->arg = arg;
    j->writing = 1;
    buf_init(&j->data, 1);
    if (binding_value_bytes(value, &j->wdata, &j->wlen) != 0) {
        cb(arg, 0, NULL, "the value is not valid (bad base64 in $binary, or out of memory)");
        job_free(j);
        return;
    }
    job_start(bh, b, inv, j);
}

const binding_kind_t binding_blob_trigger = {
    .version = BINDING_KIND_VERSION,
    .type = "blobTrigger",
    .directions = BINDING_IN,
    .is_trigger = 1,
    .parse = blob__trigger_parse,
    .free_conf = blob__free_conf,
    .start = blob__trigger_start,
    .stop = blob__trigger_stop,
    .manual = blob__trigger_manual,
};

const binding_kind_t binding_blob = {
    .version = BINDING_KIND_VERSION,
    .type = "blob",
    .directions = BINDING_IN | BINDING_OUT,
    .is_trigger = 0,
    .parse = blob_parse,
    .free_conf = blob__free_conf,
    .read = blob_read,
    .write = blob_write,
};
