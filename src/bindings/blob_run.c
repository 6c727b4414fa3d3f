/*
 * blob_run.c -- a blobTrigger function run by hand (the admin API's
 * POST /admin/functions/{name}, `stratus invoke`), as Azure's blob
 * extension does it: the input is a blob path "container/blob" (what the
 * portal's Test/Run and VS Code's "Execute Function Now" send). The blob is
 * read from the blob root and the function gets its bytes with the binding
 * data a delivery has (blob__trigger_data(): BlobTrigger, Uri, Properties,
 * Metadata, and the captures of the trigger's path when the blob matches
 * it; a blob that does not match still runs, without captures, as in
 * Azure). The container need not be the trigger's. No receipt is read or
 * written: the watcher still delivers the blob when it changes.
 *
 * The read runs on libuv's thread pool; the path is checked before, on the
 * loop, so a bad input is refused at once.
 */
#include "blob_priv.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../store/blobdir.h"
#include "../util/blobpath.h"
#include "../util/buf.h"

typedef struct run_job {
    uv_work_t work;
    const blob_conf_t *conf;
    binding_manual_cb cb;
    void *arg;
    char *root;
    char *container; /* "container\0name" in one allocation */
    char *name;
    size_t max;
    buf_t data;
    struct stat st;
    char dir[PATH_MAX]; /* the container's folder, absolute when it resolves */
    int status;
    char err[1024];
} run_job_t;

static void job_free(run_job_t *j)
{
    buf_free(&j->data);
    free(j->root);
    free(j->container);
    free(j);
}

static void run_work(uv_work_t *w)
{
    run_job_t *j = w->data;
    j->status = blobdir_read_stat(j->root, j->container, j->name, &j->data, j->max, &j->st,
                                  j->err, sizeof j->err);
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", j->root, j->container);
    if (!realpath(path, j->dir))
        snprintf(j->dir, sizeof j->dir, "%s", path);
}

static void run_after(uv_work_t *w, int status)
{
    run_job_t *j = w->data;
    if (status != 0) {
        j->cb(j->arg, BINDING_MANUAL_ERROR, NULL, "the blob read was cancelled");
    } else if (j->status == BLOBDIR_ENOTFOUND) {
        char msg[BLOBPATH_NAME_MAX + 400];
        snprintf(msg, sizeof msg, "blob '%s/%s' does not exist", j->container, j->name);
        j->cb(j->arg, BINDING_MANUAL_NOT_FOUND, NULL, msg);
    } else if (j->status != BLOBDIR_OK) {
        char msg[BLOBPATH_NAME_MAX + 1200];
        snprintf(msg, sizeof msg, "cannot read blob '%s/%s': %s%s", j->container, j->name,
                 j->err, j->status == BLOBDIR_E2BIG ? " (host.json stratus.storage.maxBlobSize)"
                                                    : "");
        j->cb(j->arg, BINDING_MANUAL_ERROR, NULL, msg);
    } else {
        json_t *meta = blob__trigger_data(j->conf->pattern, j->container, j->dir, j->name,
                                          &j->st);
        if (!meta) {
            j->cb(j->arg, BINDING_MANUAL_ERROR, NULL, "out of memory");
        } else {
            trigger_event_t ev = {.data = j->data.p ? j->data.p : "", .len = j->data.len,
                                  .metadata = meta};
            j->cb(j->arg, BINDING_MANUAL_OK, &ev, NULL);
        }
    }
    job_free(j);
}

void blob__trigger_manual(binding_host_t *bh, function_t *fn, const binding_t *b,
                          const char *input, size_t len, binding_manual_cb cb, void *arg)
{
    (void)fn;
    char msg[BLOBPATH_NAME_MAX + 600], why[512];
    const char *slash = memchr(input, '/', len);
    /* Azure's rule: at least one character before the first '/' and one
     * after it. */
    if (!slash || slash == input || (size_t)(slash - input) == len - 1) {
        snprintf(msg, sizeof msg, "Invalid blob path specified : '%.*s'. Blob identifiers must "
                 "be in the format 'container/blob'.", len > 300 ? 300 : (int)len, input);
        cb(arg, BINDING_MANUAL_BAD_INPUT, NULL, msg);
        return;
    }
    run_job_t *j = calloc(1, sizeof *j);
    if (!j || !(j->container = malloc(len + 1)) ||
        !(j->root = strdup(binding_host_blob_root(bh)))) {
        if (j)
            job_free(j);
        cb(arg, BINDING_MANUAL_ERROR, NULL, "out of memory");
        return;
    }
    memcpy(j->container, input, len);
    j->container[len] = '\0';
    j->container[slash - input] = '\0';
    j->name = j->container + (slash - input) + 1;
    size_t name_len = len - (size_t)(slash - input) - 1;
    if (strlen(j->container) != (size_t)(slash - input)) {
        snprintf(why, sizeof why, "it contains a NUL character");
        snprintf(msg, sizeof msg, "Invalid container name: %s (%s)", j->container, why);
        job_free(j);
        cb(arg, BINDING_MANUAL_BAD_INPUT, NULL, msg);
        return;
    }
    if (blobpath_container_check(j->container, why, sizeof why) != 0) {
        snprintf(msg, sizeof msg, "Invalid container name: %.*s (%s)",
                 (int)strnlen(j->container, 200), j->container, why);
        job_free(j);
        cb(arg, BINDING_MANUAL_BAD_INPUT, NULL, msg);
        return;
    }
    if (blobpath_name_checkn(j->name, name_len, why, sizeof why) != 0) {
        snprintf(msg, sizeof msg, "Invalid blob name in '%.*s': %s",
                 len > 300 ? 300 : (int)len, input, why);
        job_free(j);
        cb(arg, BINDING_MANUAL_BAD_INPUT, NULL, msg);
        return;
    }
    j->conf = b->conf;
    j->cb = cb;
    j->arg = arg;
    j->max = blob__max_size(bh);
    buf_init(&j->data, j->max);
    j->work.data = j;
    if (uv_queue_work(binding_host_loop(bh), &j->work, run_work, run_after) != 0) {
        job_free(j);
        cb(arg, BINDING_MANUAL_ERROR, NULL, "cannot queue the blob read");
    }
}
