/*
 * metrics_route.c -- GET /metrics: the host's metrics in the Prometheus
 * text format, for a Prometheus server to scrape.
 *
 * Authorization follows the admin API (admin_authorize): the master key,
 * or nothing from loopback in development mode. The route is the host's,
 * like /admin: a function whose route would be "metrics" (routePrefix "")
 * is refused at startup (http_trigger.c).
 *
 * The queue depths come from the default store, which answers
 * asynchronously: the scrape keeps the request until it does, then formats
 * everything at once. Nothing here runs on an invocation's path.
 */
#include <stdlib.h>
#include <string.h>

#include "../http/method.h"
#include "../store/store.h"
#include "../telemetry/log.h"
#include "../telemetry/telemetry.h"
#include "host.h"

#define METRICS_MAX_BYTES (64u << 20)

typedef struct scrape {
    host_t *h;
    http_request_t *req;
    store_req_t sreq;
} scrape_t;

static void respond_metrics(host_t *h, http_request_t *req, const store_req_t *sr)
{
    static const http_header_t ct = {{"Content-Type", 12},
                                     {"text/plain; version=0.0.4; charset=utf-8", 40}};
    telemetry_instances_t inst = {h->runtime->name, 1}; /* in-process: the host itself */
    json_t *st = h->runtime->scale_status ? h->runtime->scale_status(h->app) : NULL;
    if (st) {
        const char *rt = json_string_value(json_object_get(st, "runtime"));
        if (rt)
            inst.runtime = rt;
        inst.instances = json_integer_value(json_object_get(st, "instances"));
    }
    telemetry_queue_t *qs = NULL;
    size_t nq = 0;
    int up = sr && sr->status == STORE_OK;
    if (up && sr->n_queues && (qs = calloc(sr->n_queues, sizeof *qs))) {
        for (size_t i = 0; i < sr->n_queues; i++) {
            const store_queue_info_t *q = &sr->queues[i];
            qs[nq++] = (telemetry_queue_t){q->name, q->visible, q->invisible, q->oldest_age_ms};
        }
    }
    telemetry_scrape_t x = {&inst, 1, qs, nq, up};
    buf_t b;
    buf_init(&b, METRICS_MAX_BYTES);
    int rc = telemetry_write_metrics(&b, &x);
    if (rc == 0)
        http_respond(req, 200, &ct, 1, b.p ? b.p : "", b.len);
    else
        host_respond_text(req, 500, "the metrics do not fit in memory");
    buf_free(&b);
    free(qs);
    json_decref(st);
}

static void on_queues(store_req_t *sr)
{
    scrape_t *s = sr->data;
    if (sr->status != STORE_OK)
        log_warn("/metrics: the store did not list its queues: %s", sr->err);
    respond_metrics(s->h, s->req, sr);
    store_req_cleanup(&s->sreq);
    free(s);
}

void metrics_handle(host_t *h, http_request_t *req)
{
    if (req->method != METHOD_GET && req->method != METHOD_HEAD) {
        host_respond_405(req, METHOD_GET | METHOD_HEAD);
        return;
    }
    if (admin_authorize(h, req, "/metrics") != 0)
        return;
    if (!telemetry_enabled()) {
        host_respond_text(req, 404, "metrics are off (host.json stratus.telemetry.enabled is "
                                    "false)");
        return;
    }
    store_t *st = h->bindings ? binding_host_default_store(h->bindings) : NULL;
    scrape_t *s = st ? calloc(1, sizeof *s) : NULL;
    if (!s) {
        respond_metrics(h, req, NULL);
        return;
    }
    s->h = h;
    s->req = req;
    s->sreq.data = s;
    if (store_queue_list(st, &s->sreq, on_queues) != 0) {
        store_req_cleanup(&s->sreq);
        free(s);
        respond_metrics(h, req, NULL);
    }
}
