/*
 * fuzz_history.c -- libFuzzer driver for the invocation history's stored
 * batches (src/store/sqlite_history.c): the blob of an invocation_batch
 * row, read back from a store file that may be damaged or written by
 * something else. Input: the blob. Every record that decodes must have a
 * function name and NUL-terminated id and traceparent fields; nothing may
 * read outside the blob, leak or overflow.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/store/sqlite_priv.h"

static void check(const store_inv_t *rec, void *data)
{
    size_t *seen = data;
    if (!rec->function || memchr(rec->id, '\0', sizeof rec->id) == NULL ||
        memchr(rec->traceparent, '\0', sizeof rec->traceparent) == NULL)
        abort();
    /* touch every string: a bad pointer or length shows up here */
    *seen += strlen(rec->function) + (rec->trigger ? strlen(rec->trigger) : 0) +
             (rec->error ? strlen(rec->error) : 0) + (rec->logs ? strlen(rec->logs) : 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t seen = 0;
    long n = sq_history_decode(data, size, check, &seen);
    if (n < -1)
        abort();
    return 0;
}
