/*
 * telemetry.c -- the hooks of telemetry.h. One host per process, so the
 * state is a file-level static owned by the loop thread.
 */
#include "telemetry.h"

#include <string.h>

#include "../core/invocation.h"
#include "history.h"

static struct {
    struct app *app;
    size_t inflight;
} T;

int telemetry_init(struct app *app)
{
    memset(&T, 0, sizeof T);
    T.app = app;
    return 0;
}

void telemetry_free(void) { memset(&T, 0, sizeof T); }

void telemetry_begin(struct stratus_ctx *inv)
{
    (void)inv;
    T.inflight++;
}

void telemetry_end(struct stratus_ctx *inv, int ok, int status, uint64_t duration_ns,
                   const char *reason)
{
    history_record(inv, ok, status, duration_ns, reason);
    if (T.inflight)
        T.inflight--;
}

void telemetry_http(int status) { (void)status; }

void telemetry_cold_start(const char *runtime, double ms)
{
    (void)runtime;
    (void)ms;
}

size_t telemetry_inflight(void) { return T.inflight; }
