/*
 * store_json.h -- the store's queues and messages as JSON, as the admin
 * API answers them and `stratus queue --json` prints them.
 *
 * Times are ISO 8601 UTC with milliseconds ("2026-11-27T00:12:17.010Z"),
 * null for none (an empty queue's oldest message, a message that never
 * expires). A body that is valid UTF-8 is "body" as text with "binary":
 * false; any other body is its base64 with "binary": true; "length" is
 * its size in bytes either way.
 */
#ifndef STRATUS_STORE_JSON_H
#define STRATUS_STORE_JSON_H

#include <jansson.h>

#include "store.h"

/* {"name", "visible", "invisible", "oldestInsertionTime", "oldestAgeMs"}.
 * A new reference, NULL when out of memory. */
json_t *store_queue_info_json(const store_queue_info_t *q);

/* {"id", "dequeueCount", "insertionTime", "expirationTime",
 * "nextVisibleTime"}, plus "popReceipt" when the message has one and
 * "length", "binary", "body" when it has a body. A new reference, NULL
 * when out of memory. */
json_t *store_msg_json(const store_msg_t *m);

#endif
