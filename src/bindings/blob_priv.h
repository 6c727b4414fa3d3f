/*
 * blob_priv.h -- what blob.c (configuration, the blob input and output)
 * shares with blob_trigger.c (the blobTrigger source).
 */
#ifndef STRATUS_BLOB_PRIV_H
#define STRATUS_BLOB_PRIV_H

#include <jansson.h>
#include <stddef.h>
#include <sys/stat.h>

#include "../core/trigger.h"
#include "binding.h"

#define BLOB_DEFAULT_MAX_SIZE ((size_t)100 << 20) /* 100 MiB */
#define BLOB_LOG_CAT "Host.Triggers.Blob"
#define BLOB_ETAG_LEN 64

struct blobpath;

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

/* The ETag of a blob file, "<size>-<mtime ns>-<inode>" in hex, into out
 * (BLOB_ETAG_LEN bytes). */
void blob__etag(const struct stat *st, char *out);

/* The binding data of a blob given to a blobTrigger function whose path
 * is pattern: the pattern's captures when container/name matches it (none
 * when it does not), BlobTrigger ("container/name"), Uri (file:// and the
 * file's path: dir is the container's folder, absolute), Properties
 * (Length, LastModified, ETag, BlobType, ContentType from st) and Metadata,
 * as Azure names them. A new object; NULL when out of memory. */
json_t *blob__trigger_data(const struct blobpath *pattern, const char *container,
                           const char *dir, const char *name, const struct stat *st);

/* A blobTrigger function run by hand (blob_run.c): the input names the
 * blob as "container/blob", which is read and given as a delivery would
 * give it. */
void blob__trigger_manual(binding_host_t *bh, struct function *fn, const struct binding *b,
                          const char *input, size_t len, binding_manual_cb cb, void *arg);

#endif
