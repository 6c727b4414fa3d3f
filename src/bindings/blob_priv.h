/*
 * blob_priv.h -- what blob.c (configuration, the blob input and output)
 * shares with blob_trigger.c (the blobTrigger source).
 */
#ifndef STRATUS_BLOB_PRIV_H
#define STRATUS_BLOB_PRIV_H

#include <stddef.h>

#include "../core/trigger.h"
#include "binding.h"

#define BLOB_DEFAULT_MAX_SIZE ((size_t)100 << 20) /* 100 MiB */
#define BLOB_LOG_CAT "Host.Triggers.Blob"

/* The largest blob a trigger delivers or an input reads: host.json
 * stratus.storage.maxBlobSize (bytes), else BLOB_DEFAULT_MAX_SIZE. A bad
 * value is reported once in the log and the default used. */
size_t blob__max_size(binding_host_t *bh);

/* Parse a blobTrigger entry (path, as blobpath.h describes) into b->conf.
 * 0, or -1 with err naming the field. */
int blob__trigger_parse(const json_t *entry, struct binding *b, char *err, size_t errlen);

/* Free a blob_conf_t (either kind). */
void blob__free_conf(void *conf);

/* The blobTrigger source (blob_trigger.c). */
int blob__trigger_start(binding_host_t *bh, struct function *fn, struct binding *b,
                        void **state, char *err, size_t errlen);
void blob__trigger_stop(void *state, void (*cb)(void *arg), void *arg);

#endif
