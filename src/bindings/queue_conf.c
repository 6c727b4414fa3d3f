/*
 * queue_conf.c -- the configuration of the queue binding kinds: the
 * function.json fields of "queueTrigger" and "queue" (queueName,
 * connection) and host.json extensions.queues, validated into typed
 * values with errors that name the field.
 */
#include "queue.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../core/app.h"
#include "../core/expr.h"
#include "../store/store.h"

void queue_name_lower(char *s)
{
    for (; *s; s++)
        *s = (char)tolower((unsigned char)*s);
}

/* queueName of entry into a new string in *out (lower-cased, as Azure
 * does). Triggers need a plain queue name; outputs may hold {expressions}
 * (checked after they are resolved, per invocation). */
static int parse_queue_name(const json_t *entry, int trigger, char **out, int *has_expr,
                            char *err, size_t errlen)
{
    char shown[96], why[STORE_ERR_LEN];
    json_t *v = binding_conf_get(entry, "queueName");
    if (!v) {
        snprintf(err, errlen, "field 'queueName' is required (the name of the queue to %s)",
                 trigger ? "watch" : "write to");
        return -1;
    }
    if (!json_is_string(v) || json_string_length(v) == 0) {
        binding_conf_show(v, shown, sizeof shown);
        snprintf(err, errlen, "field 'queueName': expected a queue name, got %s", shown);
        return -1;
    }
    char *name = strdup(json_string_value(v));
    if (!name) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    *has_expr = expr_has_braces(name);
    if (*has_expr && trigger) {
        binding_conf_show(v, shown, sizeof shown);
        snprintf(err, errlen, "field 'queueName': %s holds a binding expression; a trigger "
                 "needs a fixed queue name (an app setting as %%Name%% is allowed)", shown);
        free(name);
        return -1;
    }
    if (!*has_expr) {
        queue_name_lower(name);
        if (store_queue_name_check(name, why, sizeof why) != STORE_OK) {
            binding_conf_show(v, shown, sizeof shown);
            snprintf(err, errlen, "field 'queueName': %s is not a valid queue name: %s", shown,
                     why);
            free(name);
            return -1;
        }
    }
    *out = name;
    return 0;
}

int queue_conf_parse(const json_t *entry, struct binding *b, int trigger, char *err,
                     size_t errlen)
{
    queue_conf_t *c = calloc(1, sizeof *c);
    if (!c) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (parse_queue_name(entry, trigger, &c->queue_name, &c->has_expr, err, errlen) != 0) {
        free(c);
        return -1;
    }
    b->conf = c;
    return 0;
}

void queue_conf_free(void *conf)
{
    queue_conf_t *c = conf;
    if (!c)
        return;
    free(c->queue_name);
    free(c);
}

/* ---- host.json extensions.queues ---- */

/* An integer in v (a JSON integer, or a string holding one, as
 * AzureFunctionsJobHost__ overrides give). 0 or -1. */
static int int_of(const json_t *v, long long *out)
{
    if (json_is_integer(v)) {
        *out = json_integer_value(v);
        return 0;
    }
    if (!json_is_string(v) || json_string_length(v) == 0)
        return -1;
    char *end;
    const char *s = json_string_value(v);
    *out = strtoll(s, &end, 10);
    return *end || !isdigit((unsigned char)s[s[0] == '-']) ? -1 : 0;
}

static int int_field(const json_t *q, const char *key, long long lo, long long hi,
                     long long *out, char *err, size_t errlen)
{
    char shown[96];
    json_t *v = binding_conf_get(q, key);
    long long i;
    if (!v)
        return 0;
    if (int_of(v, &i) != 0 || i < lo || i > hi) {
        binding_conf_show(v, shown, sizeof shown);
        snprintf(err, errlen, "host.json: field 'extensions.queues.%s': expected an integer "
                 "from %lld to %lld, got %s", key, lo, hi, shown);
        return -1;
    }
    *out = i;
    return 0;
}

static int time_field(const json_t *q, const char *key, int64_t lo, int64_t *out, char *err,
                      size_t errlen)
{
    char shown[96];
    json_t *v = binding_conf_get(q, key);
    int64_t ms;
    if (!v)
        return 0;
    if (!json_is_string(v) || timespan_parse(json_string_value(v), &ms) != 0 || ms < lo ||
        ms > STORE_MAX_VISIBILITY_MS) {
        binding_conf_show(v, shown, sizeof shown);
        snprintf(err, errlen, "host.json: field 'extensions.queues.%s': expected a TimeSpan "
                 "such as \"00:00:30\" from %s to 7 days, got %s", key,
                 lo ? "100 ms" : "00:00:00", shown);
        return -1;
    }
    *out = ms;
    return 0;
}

int queue_settings_read(const json_t *host_json, queue_settings_t *s, char *err,
                        size_t errlen)
{
    char shown[96];
    *s = (queue_settings_t){.batch_size = 16, .max_dequeue_count = 5, .visibility_ms = 0,
                            .max_poll_ms = 60000, .base64 = 1};
    json_t *ext = binding_conf_get(host_json, "extensions");
    json_t *q = json_is_object(ext) ? binding_conf_get(ext, "queues") : NULL;
    if (!q) {
        s->new_batch_threshold = s->batch_size / 2;
        return 0;
    }
    if (!json_is_object(q)) {
        binding_conf_show(q, shown, sizeof shown);
        snprintf(err, errlen, "host.json: field 'extensions.queues': expected an object, got %s",
                 shown);
        return -1;
    }
    long long batch = 16, threshold = -1, maxdq = 5;
    if (int_field(q, "batchSize", 1, STORE_GET_MAX, &batch, err, errlen) != 0 ||
        int_field(q, "newBatchThreshold", 0, 100000, &threshold, err, errlen) != 0 ||
        int_field(q, "maxDequeueCount", 1, 100000, &maxdq, err, errlen) != 0 ||
        time_field(q, "visibilityTimeout", 0, &s->visibility_ms, err, errlen) != 0 ||
        time_field(q, "maxPollingInterval", 100, &s->max_poll_ms, err, errlen) != 0)
        return -1;
    s->batch_size = (unsigned)batch;
    s->new_batch_threshold = threshold >= 0 ? (unsigned)threshold : s->batch_size / 2;
    s->max_dequeue_count = (unsigned)maxdq;
    json_t *enc = binding_conf_get(q, "messageEncoding");
    if (enc) {
        if (json_is_string(enc) && strcasecmp(json_string_value(enc), "base64") == 0)
            s->base64 = 1;
        else if (json_is_string(enc) && strcasecmp(json_string_value(enc), "none") == 0)
            s->base64 = 0;
        else {
            binding_conf_show(enc, shown, sizeof shown);
            snprintf(err, errlen, "host.json: field 'extensions.queues.messageEncoding': "
                     "expected base64 or none, got %s", shown);
            return -1;
        }
    }
    return 0;
}
