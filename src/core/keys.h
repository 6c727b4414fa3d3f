/*
 * keys.h -- the key store: Azure's file format, under <app>/.stratus/secrets.
 *
 *   secrets/host.json   {"masterKey": {"name": "master", "value": "..."},
 *                        "functionKeys": [{"name": "default", "value": "..."}],
 *                        "systemKeys": []}
 *   secrets/<fn>.json   {"keys": [{"name": "default", "value": "..."}]}
 *                       (function name lower-cased)
 *
 * Files are written with mode 0600 (directory 0700), atomically (temp file
 * + rename). The master key comes from STRATUS_MASTER_KEY when given (it is
 * then not written to disk), else from host.json, else it is generated on
 * first open. Comparisons are constant-time.
 *
 * Lifecycle: keystore_open() reads the files once; the store keeps them in
 * memory and rewrites a file on every change; keystore_free() releases it.
 */
#ifndef STRATUS_KEYS_H
#define STRATUS_KEYS_H

#include <jansson.h>
#include <stddef.h>

typedef struct keystore keystore_t;

typedef enum key_level {
    KEY_NONE = 0,     /* no key, or no match */
    KEY_FUNCTION = 1, /* a function's own key or a host function key */
    KEY_SYSTEM = 2,   /* a system key */
    KEY_MASTER = 3    /* the master key (admin) */
} key_level_t;

typedef enum key_scope {
    KEYS_HOST = 0,     /* host functionKeys */
    KEYS_SYSTEM = 1,   /* host systemKeys */
    KEYS_FUNCTION = 2  /* one function's keys */
} key_scope_t;

#define KEY_MAX_LEN 256
#define KEY_NAME_MAX 128

/* Open (creating as needed) the store in dir. master_override is the value
 * of STRATUS_MASTER_KEY or NULL. Returns NULL with a message in err. */
keystore_t *keystore_open(const char *dir, const char *master_override, char *err,
                          size_t errlen);
void keystore_free(keystore_t *ks);

/* The master key. */
const char *keystore_master(const keystore_t *ks);

/* The level a presented key grants for `function` (NULL for host-level
 * checks): KEY_MASTER for the master key, KEY_SYSTEM for a system key,
 * KEY_FUNCTION for a host function key or one of that function's keys,
 * KEY_NONE otherwise. Function names are case-insensitive. */
key_level_t keystore_check(const keystore_t *ks, const char *function, const char *key,
                           size_t keylen);

/* The level a key grants anywhere: as keystore_check for host-level checks,
 * except that any function's own key counts as KEY_FUNCTION (for telling
 * "too low a key" (403) from "no valid key" (401)). */
key_level_t keystore_check_any(const keystore_t *ks, const char *key, size_t keylen);

/* Make sure a function has a key file with at least a "default" key. */
int keystore_ensure_function(keystore_t *ks, const char *function, char *err, size_t errlen);

/* {"keys": [{"name": ..., "value": ...}, ...]} for a scope (function is
 * only used with KEYS_FUNCTION). New reference owned by the caller. */
json_t *keystore_list(const keystore_t *ks, key_scope_t scope, const char *function);

/* The value of one key, or NULL. For KEYS_HOST the name "_master" gives
 * the master key. */
const char *keystore_get(const keystore_t *ks, key_scope_t scope, const char *function,
                         const char *name);

/* Create or replace a key. value NULL generates one. The new value is
 * copied into *value_out (may be NULL). Returns 1 when created, 0 when
 * replaced, -1 on error (bad name or value, write failure) with err set.
 * Names: 1..128 of [A-Za-z0-9_.-]; values: 16..256 printable ASCII without
 * spaces. The master key ("_master" in KEYS_HOST) may be replaced unless it
 * came from STRATUS_MASTER_KEY. */
int keystore_set(keystore_t *ks, key_scope_t scope, const char *function, const char *name,
                 const char *value, char *value_out, size_t value_out_len, char *err,
                 size_t errlen);

/* Delete a key: 0, -1 when there is no such key (or it is the master). */
int keystore_delete(keystore_t *ks, key_scope_t scope, const char *function,
                    const char *name, char *err, size_t errlen);

/* Fill out with a new random key (40 random bytes, base64url, 54 chars). */
int keys_generate(char *out, size_t outlen);

/* Constant-time comparison of two byte strings: compares SHA-256 digests
 * with CRYPTO_memcmp, so neither content nor length leaks. 1 when equal. */
int keys_equal(const char *a, size_t alen, const char *b, size_t blen);

#endif
