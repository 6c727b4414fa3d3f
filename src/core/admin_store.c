/*
 * admin_store.c -- the admin API's queue and blob endpoints, to feed and
 * inspect the app's default store and blob containers by hand:
 *
 *   GET    /admin/queues                       every queue with its depth
 *   GET    /admin/queues/{name}                one queue's depth
 *   GET    /admin/queues/{name}/messages?peek=N  up to N visible messages
 *   POST   /admin/queues/{name}/messages       add one (the body, as is)
 *   DELETE /admin/queues/{name}/messages       remove every message
 *   GET    /admin/blobs                        the containers
 *   GET    /admin/blobs/{container}?prefix=P   a container's blobs
 *   GET|PUT|DELETE /admin/blobs/{container}/{*name}   one blob
 *
 * Queue operations are the store's asynchronous calls (their callbacks
 * answer); blob operations run on libuv's thread pool (src/store/blobdir.c)
 * so that a large blob never stalls the loop. admin.c checks the master key
 * before any of these run.
 */
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../http/method.h"
#include "../store/blobdir.h"
#include "../store/store_json.h"
#include "../util/blobpath.h"
#include "admin_priv.h"

#define BLOB_READ_MAX ((size_t)256 * 1024 * 1024) /* largest blob GET serves */
#define TTL_MAX_S (365LL * 24 * 3600 * 100)          /* a century: beyond is "never" anyway */

/* ---- answers and request parts (the helpers are admin.c's) ---- */

static void fail_store(http_request_t *req, int status, const char *err)
{
    static const http_header_t retry = {SV_LIT("Retry-After"), SV_LIT("1")};
    int code;
    switch (status) {
    case STORE_EINVAL: code = 400; break;
    case STORE_E2BIG: code = 413; break;
    case STORE_ENOTFOUND: code = 404; break;
    case STORE_EFULL:
    case STORE_ESTOPPED: code = 503; break;
    default: code = 500; break;
    }
    const char *msg = err && *err ? err : store_strerror(status);
    if (status == STORE_ESTOPPED)
        msg = "the host is stopping";
    admin_respond_json(req, code, json_pack("{s:s}", "error", msg),
                       status == STORE_EFULL ? &retry : NULL);
}

/* Query parameter name as an integer in [lo, hi]: 1 with *out set, 0 when
 * absent, -1 after answering 400. */
static int query_int(http_request_t *req, const char *name, long long lo, long long hi,
                     long long *out)
{
    const char *v = admin_query(req, name);
    if (!v)
        return 0;
    char *end;
    long long n = strtoll(v, &end, 10);
    if (!*v || *end || n < lo || n > hi) {
        admin_respond_error(req, 400, "query parameter '%s' must be an integer from %lld to "
                            "%lld, not '%.40s'", name, lo, hi,
                            !strcmp(v, ADMIN_QUERY_BAD) ? "(malformed escape)" : v);
        return -1;
    }
    *out = n;
    return 1;
}

/* ---- queues ---- */

typedef struct queue_job {
    http_request_t *req;
    store_req_t sr;
    char queue[STORE_QUEUE_REF_MAX + 1];
} queue_job_t;

static void queue_done(store_req_t *sr)
{
    queue_job_t *job = sr->data;
    http_request_t *req = job->req;
    if (sr->status != STORE_OK) {
        fail_store(req, sr->status, sr->err);
    } else {
        switch (sr->op) {
        case STORE_OP_QUEUE_LIST: {
            json_t *arr = json_array();
            for (size_t i = 0; i < sr->n_queues; i++)
                json_array_append_new(arr, store_queue_info_json(&sr->queues[i]));
            admin_respond_json(req, 200, arr, NULL);
            break;
        }
        case STORE_OP_QUEUE_COUNT:
            admin_respond_json(req, 200,
                               sr->n_queues ? store_queue_info_json(&sr->queues[0]) : NULL, NULL);
            break;
        case STORE_OP_QUEUE_PEEK: {
            json_t *arr = json_array();
            for (size_t i = 0; i < sr->n_msgs; i++)
                json_array_append_new(arr, store_msg_json(&sr->msgs[i]));
            admin_respond_json(req, 200,
                               json_pack("{s:s, s:o}", "queue", job->queue, "messages", arr),
                               NULL);
            break;
        }
        case STORE_OP_QUEUE_PUT: {
            json_t *m = sr->n_msgs ? store_msg_json(&sr->msgs[0]) : NULL;
            if (m)
                json_object_set_new(m, "queue", json_string(job->queue));
            admin_respond_json(req, 201, m, NULL);
            break;
        }
        case STORE_OP_QUEUE_CLEAR:
            admin_respond_json(req, 200,
                               json_pack("{s:s, s:I}", "queue", job->queue, "deleted",
                               (json_int_t)sr->count),
                               NULL);
            break;
        default:
            admin_respond_error(req, 500, "unexpected store operation");
        }
    }
    store_req_cleanup(sr);
    free(job);
}

/* A job for req, with the queue name from the route checked (when the
 * route has one). NULL after answering. */
static queue_job_t *queue_job(host_t *h, http_request_t *req, route_params_t *p, store_t **st)
{
    *st = binding_host_default_store(h->bindings);
    if (!*st) {
        admin_respond_error(req, 503, "the host has no store open");
        return NULL;
    }
    const char *name = admin_param(req, p, "name");
    char err[STORE_ERR_LEN];
    if (name && store_queue_name_check(name, err, sizeof err) != STORE_OK) {
        admin_respond_error(req, 400, "%s", err);
        return NULL;
    }
    queue_job_t *job = calloc(1, sizeof *job);
    if (!job) {
        admin_respond_error(req, 500, "out of memory");
        return NULL;
    }
    job->req = req;
    job->sr.data = job;
    if (name)
        snprintf(job->queue, sizeof job->queue, "%s", name);
    return job;
}

/* After a store call: answer now when it was not accepted. */
static void queue_submitted(queue_job_t *job, int rc)
{
    if (rc == STORE_OK)
        return;
    fail_store(job->req, rc, job->sr.err);
    store_req_cleanup(&job->sr);
    free(job);
}

static void queues_list(host_t *h, http_request_t *req, route_params_t *p)
{
    store_t *st;
    queue_job_t *job = queue_job(h, req, p, &st);
    if (job)
        queue_submitted(job, store_queue_list(st, &job->sr, queue_done));
}

static void queue_count(host_t *h, http_request_t *req, route_params_t *p)
{
    store_t *st;
    queue_job_t *job = queue_job(h, req, p, &st);
    if (job)
        queue_submitted(job, store_queue_count(st, &job->sr, job->queue, queue_done));
}

static void queue_messages(host_t *h, http_request_t *req, route_params_t *p)
{
    store_t *st;
    long long peek = 1, vis = 0, ttl = 0;
    if (req->method == METHOD_GET || req->method == METHOD_HEAD) {
        if (query_int(req, "peek", 1, STORE_GET_MAX, &peek) < 0)
            return;
    } else if (req->method == METHOD_POST) {
        if (query_int(req, "visibilitytimeout", 0, STORE_MAX_VISIBILITY_MS / 1000, &vis) < 0 ||
            query_int(req, "messagettl", -1, TTL_MAX_S, &ttl) < 0)
            return;
        if (admin_query(req, "messagettl") && ttl == 0) {
            admin_respond_error(req, 400, "query parameter 'messagettl' must be -1 (never "
                                "expires) or a number of seconds from 1");
            return;
        }
    }
    queue_job_t *job = queue_job(h, req, p, &st);
    if (!job)
        return;
    int rc;
    if (req->method == METHOD_POST)
        rc = store_queue_put(st, &job->sr, job->queue, req->body.p ? req->body.p : "",
                             req->body.len, vis * 1000, ttl < 0 ? STORE_TTL_NEVER : ttl * 1000,
                             queue_done);
    else if (req->method == METHOD_DELETE)
        rc = store_queue_clear(st, &job->sr, job->queue, queue_done);
    else
        rc = store_queue_peek(st, &job->sr, job->queue, (unsigned)peek, queue_done);
    queue_submitted(job, rc);
}

/* ---- blobs ---- */

typedef enum { BLOB_CONTAINERS, BLOB_LIST, BLOB_GET, BLOB_PUT, BLOB_DELETE } blob_op_t;

typedef struct blob_job {
    uv_work_t work;
    http_request_t *req;
    blob_op_t op;
    const char *root, *container, *name, *prefix; /* root: the host's; others in the arena */
    int status;
    char err[768];
    json_t *json;
    buf_t data;
    int created, truncated;
} blob_job_t;

static void blob_work(uv_work_t *w)
{
    blob_job_t *job = w->data;
    char *err = job->err;
    size_t el = sizeof job->err;
    switch (job->op) {
    case BLOB_CONTAINERS:
        job->status = blobdir_containers(job->root, &job->json, err, el);
        break;
    case BLOB_LIST:
        job->status = blobdir_list(job->root, job->container, job->prefix, &job->json,
                                   &job->truncated, err, el);
        break;
    case BLOB_GET:
        job->status = blobdir_read(job->root, job->container, job->name, &job->data,
                                   BLOB_READ_MAX, err, el);
        break;
    case BLOB_PUT:
        job->status = blobdir_write(job->root, job->container, job->name, job->req->body.p,
                                    job->req->body.len, &job->created, err, el);
        break;
    case BLOB_DELETE:
        job->status = blobdir_delete(job->root, job->container, job->name, err, el);
        break;
    }
}

static void blob_after(uv_work_t *w, int cancelled)
{
    blob_job_t *job = w->data;
    http_request_t *req = job->req;
    static const int codes[] = {[-BLOBDIR_EINVAL] = 400, [-BLOBDIR_ENOTFOUND] = 404,
                                [-BLOBDIR_E2BIG] = 413, [-BLOBDIR_ECONFLICT] = 409,
                                [-BLOBDIR_EIO] = 500};
    if (cancelled) {
        admin_respond_error(req, 503, "the host is stopping");
    } else if (job->status != BLOBDIR_OK) {
        admin_respond_error(req, codes[-job->status], "%s", job->err);
    } else if (job->op == BLOB_GET) {
        static const http_header_t ct = {SV_LIT("Content-Type"),
                                         SV_LIT("application/octet-stream")};
        http_respond(req, 200, &ct, 1, job->data.p, job->data.len);
    } else if (job->op == BLOB_DELETE) {
        http_respond(req, 204, NULL, 0, NULL, 0);
    } else if (job->op == BLOB_PUT) {
        admin_respond_json(req, job->created ? 201 : 200,
                           json_pack("{s:s, s:s, s:I, s:b}", "container", job->container, "name",
                           job->name, "length", (json_int_t)req->body.len, "created",
                           job->created),
                           NULL);
    } else if (job->op == BLOB_LIST) {
        admin_respond_json(req, 200,
                           json_pack("{s:s, s:s, s:O, s:b}", "container", job->container,
                           "prefix", job->prefix ? job->prefix : "", "blobs", job->json,
                           "truncated", job->truncated),
                           NULL);
    } else {
        admin_respond_json(req, 200, json_incref(job->json), NULL);
    }
    json_decref(job->json);
    buf_free(&job->data);
    free(job);
}

static void blob_start(host_t *h, http_request_t *req, blob_op_t op, const char *container,
                       const char *name, const char *prefix)
{
    blob_job_t *job = calloc(1, sizeof *job);
    if (!job) {
        admin_respond_error(req, 500, "out of memory");
        return;
    }
    job->req = req;
    job->op = op;
    job->root = binding_host_blob_root(h->bindings);
    job->container = container;
    job->name = name;
    job->prefix = prefix;
    job->work.data = job;
    buf_init(&job->data, BLOB_READ_MAX);
    int rc = uv_queue_work(h->loop, &job->work, blob_work, blob_after);
    if (rc != 0) {
        admin_respond_error(req, 500, "cannot start the blob operation: %s", uv_strerror(rc));
        buf_free(&job->data);
        free(job);
    }
}

static void blob_containers(host_t *h, http_request_t *req, route_params_t *p)
{
    (void)p;
    blob_start(h, req, BLOB_CONTAINERS, NULL, NULL, NULL);
}

static void blob_op(host_t *h, http_request_t *req, route_params_t *p)
{
    const char *container = admin_param(req, p, "container");
    const char *name = admin_param(req, p, "name");
    char err[512];
    if (!container || blobpath_container_check(container, err, sizeof err) != 0) {
        admin_respond_error(req, 400, "%s", container ? err : "a container name is required");
        return;
    }
    if (!name) {
        if (req->method != METHOD_GET && req->method != METHOD_HEAD) {
            admin_respond_error(req, 400, "a blob name is required: /admin/blobs/%s/NAME",
                                container);
            return;
        }
        const char *prefix = admin_query(req, "prefix");
        if (prefix && prefix[0] == '\x01') {
            admin_respond_error(req, 400, "query parameter 'prefix' has a malformed escape");
            return;
        }
        blob_start(h, req, BLOB_LIST, container, NULL, prefix);
        return;
    }
    if (blobpath_name_check(name, err, sizeof err) != 0) {
        admin_respond_error(req, 400, "%s", err);
        return;
    }
    blob_op_t op = req->method == METHOD_PUT      ? BLOB_PUT
                   : req->method == METHOD_DELETE ? BLOB_DELETE
                                                  : BLOB_GET;
    blob_start(h, req, op, container, name, NULL);
}

const admin_route_t admin_store_routes[] = {
    {"admin/queues", METHOD_GET, queues_list},
    {"admin/queues/{name}", METHOD_GET, queue_count},
    {"admin/queues/{name}/messages", METHOD_GET | METHOD_POST | METHOD_DELETE, queue_messages},
    {"admin/blobs", METHOD_GET, blob_containers},
    {"admin/blobs/{container}/{*name}", METHOD_GET | METHOD_PUT | METHOD_DELETE, blob_op},
};

const size_t admin_store_nroutes = sizeof admin_store_routes / sizeof admin_store_routes[0];
