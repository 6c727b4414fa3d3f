/*
 * retry.c -- the "retry" section of function.json and host.json (Azure's
 * retry policies): fixedDelay with delayInterval, exponentialBackoff with
 * minimumInterval and maximumInterval, both with maxRetryCount (-1: retry
 * without end).
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "app.h"
#include "app_priv.h"

static int interval(const json_t *sec, const char *field, int64_t *out, char *err, size_t n)
{
    char shown[128];
    json_t *v = app__get(sec, field);
    if (!v) {
        snprintf(err, n, "field 'retry.%s' is required (a TimeSpan such as \"00:00:10\")", field);
        return -1;
    }
    if (!json_is_string(v) || timespan_parse(json_string_value(v), out) != 0 || *out < 0) {
        app__show(v, shown, sizeof shown);
        snprintf(err, n, "field 'retry.%s': expected a TimeSpan such as \"00:00:10\", got %s",
                 field, shown);
        return -1;
    }
    return 0;
}

int retry_policy_parse(const json_t *v, retry_policy_t *out, char *err, size_t errlen)
{
    char shown[128];
    memset(out, 0, sizeof *out);
    if (!v)
        return 0;
    if (!json_is_object(v)) {
        app__show(v, shown, sizeof shown);
        snprintf(err, errlen, "field 'retry': expected an object with 'strategy' and "
                 "'maxRetryCount', got %s", shown);
        return -1;
    }
    json_t *s = app__get(v, "strategy");
    if (!s) {
        snprintf(err, errlen, "field 'retry.strategy' is required (fixedDelay or "
                 "exponentialBackoff)");
        return -1;
    }
    if (json_is_string(s) && strcasecmp(json_string_value(s), "fixedDelay") == 0) {
        out->strategy = RETRY_FIXED;
    } else if (json_is_string(s) && strcasecmp(json_string_value(s), "exponentialBackoff") == 0) {
        out->strategy = RETRY_EXPONENTIAL;
    } else {
        app__show(s, shown, sizeof shown);
        snprintf(err, errlen, "field 'retry.strategy': expected fixedDelay or "
                 "exponentialBackoff, got %s", shown);
        return -1;
    }
    long long count;
    json_t *c = app__get(v, "maxRetryCount");
    if (!c) {
        snprintf(err, errlen, "field 'retry.maxRetryCount' is required (-1 for no limit)");
        return -1;
    }
    if (app__int(c, &count) != 0 || count < -1 || count > RETRY_MAX_COUNT) {
        app__show(c, shown, sizeof shown);
        snprintf(err, errlen, "field 'retry.maxRetryCount': expected -1 (no limit) or 0 to %d, "
                 "got %s", RETRY_MAX_COUNT, shown);
        return -1;
    }
    out->max_retry_count = (int)count;
    if (out->strategy == RETRY_FIXED)
        return interval(v, "delayInterval", &out->delay_ms, err, errlen);
    if (interval(v, "minimumInterval", &out->min_delay_ms, err, errlen) != 0 ||
        interval(v, "maximumInterval", &out->max_delay_ms, err, errlen) != 0)
        return -1;
    if (out->max_delay_ms < out->min_delay_ms) {
        snprintf(err, errlen, "field 'retry.maximumInterval' is shorter than "
                 "'retry.minimumInterval'");
        return -1;
    }
    return 0;
}
