/*
 * admit.c -- the one rule every executor applies before it queues an
 * invocation (see runtime_admit in runtime.h): refuse with 503 while the
 * app is stopping or its executor has stopped, with 429 past
 * extensions.http.maxOutstandingRequests or a full queue.
 */
#include <stdio.h>

#include "runtime.h"

int runtime_admit(invocation_t *inv, invocation_done_fn done, void *data,
                  const runtime_load_t *load)
{
    const app_t *app = inv->app;
    int64_t max_out = app->max_outstanding_requests;
    char reason[700];
    int status = 429;
    if (load->stopped_reason) {
        snprintf(reason, sizeof reason, "%s", load->stopped_reason);
        status = 503;
        inv->not_run = 1;
    } else if (load->closing) {
        snprintf(reason, sizeof reason, "the host is stopping");
        status = 503;
    } else if (max_out > 0 && (int64_t)load->outstanding >= max_out) {
        snprintf(reason, sizeof reason, "%zu requests outstanding "
                 "(extensions.http.maxOutstandingRequests is %lld)", load->outstanding,
                 (long long)max_out);
    } else if (load->queued >= load->queue_max) {
        snprintf(reason, sizeof reason, "the queue is full (%zu waiting)", load->queue_max);
    } else {
        return 1;
    }
    inv->fail_status = status;
    done(inv, 0, reason, data);
    return 0;
}
