/*
 * queue.h -- what the queue binding kinds share (queue_conf.c,
 * queue_trigger.c, queue_out.c): the typed config of a "queueTrigger" or
 * "queue" binding and the host.json extensions.queues settings.
 */
#ifndef STRATUS_QUEUE_BINDING_H
#define STRATUS_QUEUE_BINDING_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "binding.h"

typedef struct queue_conf {
    char *queue_name; /* lower-cased; for outputs it may hold {expressions} */
    int has_expr;     /* outputs: resolved per invocation */
} queue_conf_t;

/* host.json extensions.queues, defaults applied. */
typedef struct queue_settings {
    unsigned batch_size;          /* batchSize: 16 (1..32) */
    unsigned new_batch_threshold; /* newBatchThreshold: batchSize / 2 */
    unsigned max_dequeue_count;   /* maxDequeueCount: 5 */
    int64_t visibility_ms;        /* visibilityTimeout: 0, delay before a retry */
    int64_t max_poll_ms;          /* maxPollingInterval: 1 min */
    int base64;                   /* messageEncoding: base64 (1) or none (0); the
                                     embedded store keeps bytes as they are */
} queue_settings_t;

/* Parse a queue binding's fields (queueName; %Settings% are resolved
 * already) into a queue_conf_t in b->conf. trigger: a {expression} in the
 * name is refused. 0, or -1 with err naming the field. */
int queue_conf_parse(const json_t *entry, struct binding *b, int trigger, char *err,
                     size_t errlen);
void queue_conf_free(void *conf);

/* Read extensions.queues of host_json (keys matched case-insensitively)
 * into s. 0, or -1 with err naming the host.json field and what it
 * expected. */
int queue_settings_read(const json_t *host_json, queue_settings_t *s, char *err,
                        size_t errlen);


/* Lower-case s in place (ASCII). */
void queue_name_lower(char *s);

#endif
