/*
 * keys.c -- the key store (see keys.h): Azure's secrets files held in
 * memory, checked in constant time, rewritten atomically on every change.
 *
 * Choices the header leaves open:
 *  - With STRATUS_MASTER_KEY the override is never written: host.json keeps
 *    the masterKey it had (preserved on rewrites, unused), and one created
 *    under an override has none until an open without override adds one.
 *  - Key names compare case-insensitively, as Azure's do; a replaced key
 *    keeps its stored name. "_master" means the master only in KEYS_HOST.
 *  - A function named "host" has no key file (it would be host.json).
 *  - keystore_ensure_function() only creates a missing file; an existing
 *    one is left alone, so a deleted "default" key stays deleted.
 *  - keystore_list(KEYS_HOST) lists functionKeys only; it gives NULL for a
 *    bad function name and {"keys": []} for a function without a file.
 *  - Files may hold values of 1..256 characters (hand-written dev keys);
 *    only keystore_set() asks for 16. Also read: Azure's older formats
 *    (masterKey as a string, a singular "functionKey", a function file's
 *    "key") and "encrypted": false; "encrypted": true is refused.
 *  - Symbolic links are refused (O_NOFOLLOW); modes looser than 0600 (0700
 *    for the directory) are tightened silently.
 */
#include "keys.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sys/random.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "../util/codec.h"

#define MAX_KEYS 1000       /* per scope */
#define FN_NAME_MAX 128     /* function names used as file names */
#define FILE_MAX (8u << 20) /* largest key file read */
#define DIGEST_LEN SHA256_LEN

typedef struct entry {
    char *name, *value;
    unsigned char digest[DIGEST_LEN];
} entry_t;

typedef struct keyset {
    struct keyset *next; /* the list of function sets */
    char *fn;            /* lower-cased function name; NULL for the host scopes */
    entry_t *v;
    size_t n, cap;
} keyset_t;

struct keystore {
    char *dir;
    entry_t master;    /* the effective master key */
    int overridden;    /* master came from STRATUS_MASTER_KEY */
    char *file_master; /* host.json's own master while overridden, or NULL */
    keyset_t host, system;
    keyset_t *fns;
};

/* Format a message into err (when there is one); returns -1 for brevity. */
__attribute__((format(printf, 3, 4))) static int seterr(char *err, size_t errlen, const char *fmt,
                                                        ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

static void digest(const char *s, size_t n, unsigned char *out)
{
    sha256(s ? s : "", s ? n : 0, out);
}

static void secret_free(char *s)
{
    if (s) {
        OPENSSL_cleanse(s, strlen(s));
        free(s);
    }
}

/* ---- validation ---------------------------------------------------------- */

#define ALNUM "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

static int name_valid(const char *s)
{
    size_t n = strlen(s);
    return n >= 1 && n <= KEY_NAME_MAX && strspn(s, ALNUM "_.-") == n;
}

/* Printable ASCII without spaces, quotes or backslashes, min..256 long. */
static int value_valid(const char *s, size_t min)
{
    size_t n = 0;
    while (s[n] > 0x20 && s[n] < 0x7f && s[n] != '"' && s[n] != '\\')
        n++;
    return s[n] == '\0' && n >= min && n <= KEY_MAX_LEN;
}

/* Lower-case a function name into out when it matches
 * ^[a-z][a-z0-9_-]{0,127}$ (case-insensitive) and is not "host". */
static int fn_lower(const char *fn, char out[FN_NAME_MAX + 1])
{
    size_t n = fn ? strlen(fn) : 0;
    if (n == 0 || n > FN_NAME_MAX || !strchr(ALNUM, fn[0]) || (fn[0] >= '0' && fn[0] <= '9') ||
        strspn(fn, ALNUM "_-") != n)
        return -1;
    for (size_t i = 0; i <= n; i++)
        out[i] = fn[i] >= 'A' && fn[i] <= 'Z' ? (char)(fn[i] - 'A' + 'a') : fn[i];
    return strcmp(out, "host") == 0 ? -1 : 0;
}

/* ---- keys and key sets --------------------------------------------------- */

/* Fill e with copies of name and value (NULL: a generated value). */
static int entry_init(entry_t *e, const char *name, const char *value)
{
    char gen[KEY_MAX_LEN + 1];
    if (!value && keys_generate(gen, sizeof gen) != 0)
        return -1;
    e->name = strdup(name);
    e->value = strdup(value ? value : gen);
    OPENSSL_cleanse(gen, sizeof gen);
    if (!e->name || !e->value) {
        free(e->name);
        secret_free(e->value);
        return -1;
    }
    digest(e->value, strlen(e->value), e->digest);
    return 0;
}

static void entry_clear(entry_t *e)
{
    free(e->name);
    secret_free(e->value);
    e->name = e->value = NULL;
}

static entry_t *keyset_find(const keyset_t *s, const char *name)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcasecmp(s->v[i].name, name) == 0)
            return &s->v[i];
    return NULL;
}

static int keyset_add(keyset_t *s, const char *name, const char *value)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 4;
        entry_t *v = realloc(s->v, cap * sizeof *v);
        if (!v)
            return -1;
        s->v = v;
        s->cap = cap;
    }
    if (entry_init(&s->v[s->n], name, value) != 0)
        return -1;
    s->n++;
    return 0;
}

static void keyset_clear(keyset_t *s)
{
    for (size_t i = 0; i < s->n; i++)
        entry_clear(&s->v[i]);
    free(s->v);
    free(s->fn);
}

static int match_any(const keyset_t *s, const unsigned char *d)
{
    int hit = 0;
    for (size_t i = 0; i < s->n; i++)
        hit |= CRYPTO_memcmp(s->v[i].digest, d, DIGEST_LEN) == 0;
    return hit;
}

static keyset_t *fn_find(const keystore_t *ks, const char *lower)
{
    keyset_t *s = ks->fns;
    while (s && strcmp(s->fn, lower) != 0)
        s = s->next;
    return s;
}

static keyset_t *fn_add(keystore_t *ks, const char *lower)
{
    keyset_t *s = calloc(1, sizeof *s);
    if (!s || !(s->fn = strdup(lower))) {
        free(s);
        return NULL;
    }
    s->next = ks->fns;
    ks->fns = s;
    return s;
}

static void fn_pop(keystore_t *ks)
{
    keyset_t *s = ks->fns;
    ks->fns = s->next;
    keyset_clear(s);
    free(s);
}

/* The key set of a scope; NULL for an unknown function or scope. */
static keyset_t *scope_set(const keystore_t *ks, key_scope_t scope, const char *function)
{
    char lower[FN_NAME_MAX + 1];
    switch (scope) {
    case KEYS_HOST:
        return (keyset_t *)&ks->host;
    case KEYS_SYSTEM:
        return (keyset_t *)&ks->system;
    case KEYS_FUNCTION:
        return fn_lower(function, lower) == 0 ? fn_find(ks, lower) : NULL;
    }
    return NULL;
}

/* ---- reading ------------------------------------------------------------- */

/* Read a JSON object from path, tightening its mode. NULL with *absent set
 * when there is no such file, NULL with err set on any other failure. */
static json_t *load_json(const char *path, int *absent, char *err, size_t errlen)
{
    struct stat st;
    json_error_t je;
    json_t *root = NULL;

    *absent = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        if (errno == ENOENT)
            *absent = 1;
        else
            seterr(err, errlen, "%s: %s", path,
                   errno == ELOOP ? "is a symbolic link" : strerror(errno));
        return NULL;
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > (off_t)FILE_MAX) {
        seterr(err, errlen, "%s: not a regular file of at most %u bytes", path, FILE_MAX);
    } else {
        if ((st.st_mode & 0177) && fchmod(fd, 0600) != 0) {
            /* not ours to fix (another owner); reading still works */
        }
        if (!(root = json_loadfd(fd, JSON_REJECT_DUPLICATES, &je))) {
            seterr(err, errlen, "%s:%d:%d: %s", path, je.line, je.column, je.text);
        } else if (!json_is_object(root)) {
            seterr(err, errlen, "%s: not a JSON object", path);
            json_decref(root);
            root = NULL;
        }
    }
    close(fd);
    return root;
}

/* Add a key written as a string (named dflt) or as {"name", "value",
 * "encrypted"} to s. */
static int parse_key(keyset_t *s, json_t *j, const char *dflt, const char *path, char *err,
                     size_t errlen)
{
    const char *name = dflt;
    json_t *jv = j, *jn = json_object_get(j, "name");
    if (json_is_object(j)) {
        if (json_is_true(json_object_get(j, "encrypted")))
            return seterr(err, errlen, "%s: encrypted keys are not supported", path);
        name = jn ? json_string_value(jn) : name;
        jv = json_object_get(j, "value");
    }
    const char *v = json_string_value(jv);
    if (!name || !name_valid(name))
        return seterr(err, errlen, "%s: bad key name \"%s\"", path, name ? name : "");
    if (!v || strlen(v) != json_string_length(jv) || !value_valid(v, 1))
        return seterr(err, errlen,
                      "%s: key \"%s\" has no valid value (1..%d printable "
                      "characters without spaces, quotes or backslashes)",
                      path, name, KEY_MAX_LEN);
    if (keyset_find(s, name))
        return seterr(err, errlen, "%s: duplicate key \"%s\"", path, name);
    if (s->n >= MAX_KEYS)
        return seterr(err, errlen, "%s: more than %d keys", path, MAX_KEYS);
    if (keyset_add(s, name, v) != 0)
        return seterr(err, errlen, "%s: out of memory", path);
    return 0;
}

/* A list of keys, or in Azure's older format (old non-NULL) one key. */
static int parse_keys(keyset_t *s, json_t *arr, json_t *old, const char *field, const char *path,
                      char *err, size_t errlen)
{
    size_t i;
    json_t *j;
    if (!arr && old && !json_is_null(old))
        return parse_key(s, old, "default", path, err, errlen);
    if (!arr || json_is_null(arr))
        return 0;
    if (!json_is_array(arr))
        return seterr(err, errlen, "%s: \"%s\" is not a list", path, field);
    json_array_foreach (arr, i, j) {
        if (parse_key(s, j, NULL, path, err, errlen) != 0)
            return -1;
    }
    return 0;
}

/* Read host.json, or start a fresh one; *dirty says it must be written. */
static int load_host(keystore_t *ks, const char *path, int *dirty, char *err, size_t errlen)
{
    int absent, rc = 0;
    keyset_t mset = {0}; /* the masterKey read, parsed as a one-key set */
    json_t *root = load_json(path, &absent, err, errlen), *j;

    if (!root && !absent)
        return -1;
    if (root) {
        if ((j = json_object_get(root, "masterKey")) && !json_is_null(j))
            rc = parse_key(&mset, j, "master", path, err, errlen);
        if (rc == 0)
            rc =
                parse_keys(&ks->host, json_object_get(root, "functionKeys"),
                           json_object_get(root, "functionKey"), "functionKeys", path, err, errlen);
        if (rc == 0)
            rc = parse_keys(&ks->system, json_object_get(root, "systemKeys"), NULL, "systemKeys",
                            path, err, errlen);
        if (rc == 0 && mset.n == 1 && ks->overridden) {
            ks->file_master = mset.v[0].value;
            mset.v[0].value = NULL;
        } else if (rc == 0 && mset.n == 1) {
            ks->master = mset.v[0];
            mset.n = 0;
        }
        keyset_clear(&mset);
        json_decref(root);
    } else if (keyset_add(&ks->host, "default", NULL) != 0) {
        rc = seterr(err, errlen, "out of memory or randomness");
    }
    if (rc == 0 && !ks->master.value) {
        if (entry_init(&ks->master, "master", NULL) != 0)
            rc = seterr(err, errlen, "out of memory or randomness");
        *dirty = 1;
    }
    *dirty |= absent;
    return rc;
}

static int load_function(keystore_t *ks, const char *lower, char *err, size_t errlen)
{
    char path[PATH_MAX];
    int absent, rc;
    if ((size_t)snprintf(path, sizeof path, "%s/%s.json", ks->dir, lower) >= sizeof path)
        return seterr(err, errlen, "%s: path too long", ks->dir);
    json_t *root = load_json(path, &absent, err, errlen);
    if (!root)
        return absent ? 0 : -1;
    keyset_t *s = fn_add(ks, lower);
    if (!s)
        rc = seterr(err, errlen, "out of memory");
    else
        rc = parse_keys(s, json_object_get(root, "keys"), json_object_get(root, "key"), "keys",
                        path, err, errlen);
    json_decref(root);
    return rc;
}

/* Load every <function>.json whose stem is a lower-case function name. */
static int load_functions(keystore_t *ks, char *err, size_t errlen)
{
    DIR *d = opendir(ks->dir);
    struct dirent *de;
    int rc = 0;
    if (!d)
        return seterr(err, errlen, "%s: %s", ks->dir, strerror(errno));
    while (rc == 0 && (de = readdir(d))) {
        char stem[FN_NAME_MAX + 1], lower[FN_NAME_MAX + 1];
        size_t n = strlen(de->d_name);
        if (n <= 5 || n - 5 > FN_NAME_MAX || strcmp(de->d_name + n - 5, ".json") != 0)
            continue;
        memcpy(stem, de->d_name, n - 5);
        stem[n - 5] = '\0';
        if (fn_lower(stem, lower) == 0 && strcmp(stem, lower) == 0)
            rc = load_function(ks, lower, err, errlen);
    }
    closedir(d);
    return rc;
}

/* mkdir -p with mode 0700, then make sure dir itself is no looser. */
static int mkdirs(const char *dir, char *err, size_t errlen)
{
    char p[PATH_MAX];
    struct stat st;
    size_t n = strlen(dir);
    if (n >= sizeof p)
        return seterr(err, errlen, "%s: path too long", dir);
    memcpy(p, dir, n + 1);
    for (char *s = p + 1;; s++) {
        if (*s != '/' && *s != '\0')
            continue;
        char c = *s;
        *s = '\0';
        if (mkdir(p, 0700) != 0 && errno != EEXIST && (stat(p, &st) != 0 || !S_ISDIR(st.st_mode)))
            return seterr(err, errlen, "%s: %s", p, strerror(errno));
        *s = c;
        if (!c)
            break;
    }
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return seterr(err, errlen, "%s: not a directory", dir);
    if ((st.st_mode & 077) && chmod(dir, 0700) != 0) {
        /* not ours to fix; the files themselves are 0600 */
    }
    return 0;
}

/* ---- writing ------------------------------------------------------------- */

static int write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Write root (consumed) to dir/file: temp file (O_EXCL, 0600), fsync, rename. */
static int write_json(const keystore_t *ks, const char *file, json_t *root, char *err,
                      size_t errlen)
{
    char path[PATH_MAX], tmp[PATH_MAX];
    char *text = root ? json_dumps(root, JSON_INDENT(2)) : NULL;
    int rc = -1, fd;
    json_decref(root);
    if (!text)
        return seterr(err, errlen, "%s: out of memory", file);
    if ((size_t)snprintf(path, sizeof path, "%s/%s", ks->dir, file) >= sizeof path ||
        (size_t)snprintf(tmp, sizeof tmp, "%s/.%s.XXXXXX", ks->dir, file) >= sizeof tmp) {
        seterr(err, errlen, "%s: path too long", ks->dir);
    } else if ((fd = mkostemp(tmp, O_CLOEXEC)) < 0) {
        seterr(err, errlen, "%s: %s", tmp, strerror(errno));
    } else {
        int bad = write_all(fd, text, strlen(text)) || write_all(fd, "\n", 1) || fsync(fd);
        if (close(fd) != 0 || bad || rename(tmp, path) != 0) {
            seterr(err, errlen, "%s: %s", path, strerror(errno));
            unlink(tmp);
        } else {
            rc = 0;
            if ((fd = open(ks->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
                if (fsync(fd) != 0) {
                    /* the rename is done; the directory's durability is best effort */
                }
                close(fd);
            }
        }
    }
    OPENSSL_cleanse(text, strlen(text));
    free(text);
    return rc;
}

static json_t *key_json(const char *name, const char *value, int file)
{
    return file ? json_pack("{s:s, s:s, s:b}", "name", name, "value", value, "encrypted", 0)
                : json_pack("{s:s, s:s}", "name", name, "value", value);
}

/* A key list as JSON: with "encrypted": false for files, without for callers. */
static json_t *keys_json(const keyset_t *s, int file)
{
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < s->n; i++) {
        if (json_array_append_new(arr, key_json(s->v[i].name, s->v[i].value, file)) != 0) {
            json_decref(arr);
            arr = NULL;
        }
    }
    return arr;
}

/* Rewrite the file that holds set s (host.json for the host scopes). */
static int save(const keystore_t *ks, const keyset_t *s, char *err, size_t errlen)
{
    char file[FN_NAME_MAX + 6];
    if (s->fn) {
        snprintf(file, sizeof file, "%s.json", s->fn);
        return write_json(ks, file, json_pack("{s:o}", "keys", keys_json(s, 1)), err, errlen);
    }
    const char *m = ks->overridden ? ks->file_master : ks->master.value;
    json_t *root = json_object();
    int bad = m && json_object_set_new(root, "masterKey", key_json("master", m, 1)) != 0;
    bad |= json_object_set_new(root, "functionKeys", keys_json(&ks->host, 1)) != 0;
    bad |= json_object_set_new(root, "systemKeys", keys_json(&ks->system, 1)) != 0;
    if (bad) {
        json_decref(root);
        root = NULL;
    }
    return write_json(ks, "host.json", root, err, errlen);
}

/* Replace e's value (NULL: generated) and save s's file; on failure e is
 * unchanged. */
static int replace(keystore_t *ks, const keyset_t *s, entry_t *e, const char *value, char *err,
                   size_t errlen)
{
    entry_t old = *e;
    if (entry_init(e, old.name, value) != 0) {
        *e = old;
        return seterr(err, errlen, "out of memory or randomness");
    }
    if (save(ks, s, err, errlen) != 0) {
        entry_clear(e);
        *e = old;
        return -1;
    }
    entry_clear(&old);
    return 0;
}

/* Create or replace name in s (NULL: the not yet existing set of function
 * fn) and save; 1 created, 0 replaced, -1 failed with memory unchanged. */
static int set_key(keystore_t *ks, keyset_t *s, const char *fn, const char *name, const char *value,
                   char *err, size_t errlen)
{
    int new_set = !s, rc = -1;
    entry_t *e = s ? keyset_find(s, name) : NULL;
    if (e)
        return replace(ks, s, e, value, err, errlen);
    if (new_set && !(s = fn_add(ks, fn)))
        return seterr(err, errlen, "out of memory");
    if (s->n >= MAX_KEYS)
        seterr(err, errlen, "too many keys (at most %d)", MAX_KEYS);
    else if (keyset_add(s, name, value) != 0)
        seterr(err, errlen, "out of memory or randomness");
    else if (save(ks, s, err, errlen) != 0)
        entry_clear(&s->v[--s->n]);
    else
        rc = 1;
    if (rc < 0 && new_set)
        fn_pop(ks);
    return rc;
}

/* ---- the API ------------------------------------------------------------- */

keystore_t *keystore_open(const char *dir, const char *master_override, char *err, size_t errlen)
{
    char path[PATH_MAX];
    int dirty = 0;
    keystore_t *ks = NULL;
    int over = master_override && *master_override;

    if (!dir || !*dir) {
        seterr(err, errlen, "no key store directory");
    } else if (over && !value_valid(master_override, 1)) {
        seterr(err, errlen,
               "STRATUS_MASTER_KEY: at most %d printable characters without "
               "spaces, quotes or backslashes",
               KEY_MAX_LEN);
    } else if ((size_t)snprintf(path, sizeof path, "%s/host.json", dir) >= sizeof path) {
        seterr(err, errlen, "%s: path too long", dir);
    } else if (!(ks = calloc(1, sizeof *ks)) || !(ks->dir = strdup(dir)) ||
               (over && entry_init(&ks->master, "master", master_override) != 0)) {
        seterr(err, errlen, "out of memory");
    } else {
        ks->overridden = over;
        if (mkdirs(dir, err, errlen) == 0 && load_host(ks, path, &dirty, err, errlen) == 0 &&
            load_functions(ks, err, errlen) == 0 &&
            (!dirty || save(ks, &ks->host, err, errlen) == 0))
            return ks;
    }
    keystore_free(ks);
    return NULL;
}

void keystore_free(keystore_t *ks)
{
    if (!ks)
        return;
    entry_clear(&ks->master);
    secret_free(ks->file_master);
    keyset_clear(&ks->host);
    keyset_clear(&ks->system);
    while (ks->fns)
        fn_pop(ks);
    free(ks->dir);
    free(ks);
}

const char *keystore_master(const keystore_t *ks)
{
    return ks ? ks->master.value : NULL;
}

key_level_t keystore_check(const keystore_t *ks, const char *function, const char *key,
                           size_t keylen)
{
    unsigned char d[DIGEST_LEN];
    if (!ks || !key || keylen == 0 || keylen > KEY_MAX_LEN)
        return KEY_NONE;
    digest(key, keylen, d);
    /* Every key is compared whatever matches; the order of the levels
     * (master, system, host function keys, the function's) decides. */
    const keyset_t *fs = function ? scope_set(ks, KEYS_FUNCTION, function) : NULL;
    int master = ks->master.value && CRYPTO_memcmp(ks->master.digest, d, DIGEST_LEN) == 0;
    int sys = match_any(&ks->system, d);
    int host = match_any(&ks->host, d);
    int own = fs ? match_any(fs, d) : 0;
    return master ? KEY_MASTER : sys ? KEY_SYSTEM : host || own ? KEY_FUNCTION : KEY_NONE;
}

key_level_t keystore_check_any(const keystore_t *ks, const char *key, size_t keylen)
{
    key_level_t level = keystore_check(ks, NULL, key, keylen);
    if (level != KEY_NONE || !key || keylen == 0 || keylen > KEY_MAX_LEN)
        return level;
    unsigned char d[DIGEST_LEN];
    digest(key, keylen, d);
    int any = 0;
    for (const keyset_t *s = ks->fns; s; s = s->next)
        any |= match_any(s, d);
    return any ? KEY_FUNCTION : KEY_NONE;
}

json_t *keystore_list(const keystore_t *ks, key_scope_t scope, const char *function)
{
    static const keyset_t empty;
    char lower[FN_NAME_MAX + 1];
    if (!ks || (unsigned)scope > KEYS_FUNCTION ||
        (scope == KEYS_FUNCTION && fn_lower(function, lower) != 0))
        return NULL;
    const keyset_t *s = scope_set(ks, scope, function);
    return json_pack("{s:o}", "keys", keys_json(s ? s : &empty, 0));
}

const char *keystore_get(const keystore_t *ks, key_scope_t scope, const char *function,
                         const char *name)
{
    if (!ks || !name)
        return NULL;
    if (scope == KEYS_HOST && strcasecmp(name, "_master") == 0)
        return ks->master.value;
    const keyset_t *s = scope_set(ks, scope, function);
    const entry_t *e = s ? keyset_find(s, name) : NULL;
    return e ? e->value : NULL;
}

int keystore_set(keystore_t *ks, key_scope_t scope, const char *function, const char *name,
                 const char *value, char *value_out, size_t value_out_len, char *err, size_t errlen)
{
    char gen[KEY_MAX_LEN + 1], lower[FN_NAME_MAX + 1] = "";
    int rc = -1;
    if (!ks || (unsigned)scope > KEYS_FUNCTION)
        return seterr(err, errlen, "bad key scope");
    if (!name || !name_valid(name))
        return seterr(err, errlen, "bad key name (1..%d of A-Z a-z 0-9 _ . -)", KEY_NAME_MAX);
    if (scope == KEYS_FUNCTION && fn_lower(function, lower) != 0)
        return seterr(err, errlen, "bad function name");
    if (value && !value_valid(value, 16))
        return seterr(err, errlen,
                      "bad key value (16..%d printable ASCII characters without "
                      "spaces, quotes or backslashes)",
                      KEY_MAX_LEN);
    if (!value && keys_generate(gen, sizeof gen) != 0)
        return seterr(err, errlen, "no randomness");
    value = value ? value : gen;
    size_t len = strlen(value);
    int is_master = scope == KEYS_HOST && strcasecmp(name, "_master") == 0;
    if (value_out && len >= value_out_len)
        seterr(err, errlen, "value buffer too small");
    else if (is_master && ks->overridden)
        seterr(err, errlen, "the master key comes from STRATUS_MASTER_KEY and cannot be changed");
    else if (is_master)
        rc = replace(ks, &ks->host, &ks->master, value, err, errlen);
    else
        rc = set_key(ks, scope_set(ks, scope, lower), lower, name, value, err, errlen);
    if (rc >= 0 && value_out)
        memcpy(value_out, value, len + 1);
    OPENSSL_cleanse(gen, sizeof gen);
    return rc;
}

int keystore_delete(keystore_t *ks, key_scope_t scope, const char *function, const char *name,
                    char *err, size_t errlen)
{
    if (!ks || !name)
        return seterr(err, errlen, "no key name");
    if (scope == KEYS_HOST && strcasecmp(name, "_master") == 0)
        return seterr(err, errlen, "the master key cannot be deleted");
    keyset_t *s = scope_set(ks, scope, function);
    entry_t *e = s ? keyset_find(s, name) : NULL;
    if (!e)
        return seterr(err, errlen, "no key named \"%s\"", name);
    entry_t gone = *e;
    size_t i = (size_t)(e - s->v);
    memmove(&s->v[i], &s->v[i + 1], (s->n - i - 1) * sizeof *e);
    s->n--;
    if (save(ks, s, err, errlen) != 0) {
        memmove(&s->v[i + 1], &s->v[i], (s->n - i) * sizeof *e);
        s->v[i] = gone;
        s->n++;
        return -1;
    }
    entry_clear(&gone);
    return 0;
}

int keystore_ensure_function(keystore_t *ks, const char *function, char *err, size_t errlen)
{
    char lower[FN_NAME_MAX + 1];
    if (!ks || fn_lower(function, lower) != 0)
        return seterr(err, errlen, "bad function name \"%s\"", function ? function : "");
    if (fn_find(ks, lower))
        return 0;
    return set_key(ks, NULL, lower, "default", NULL, err, errlen) < 0 ? -1 : 0;
}

int keys_generate(char *out, size_t outlen)
{
    unsigned char raw[40], b64[64];
    size_t j = 0;
    if (!out || outlen < 55 || getrandom(raw, sizeof raw, 0) != (ssize_t)sizeof raw)
        return -1;
    int n = EVP_EncodeBlock(b64, raw, sizeof raw);
    for (int i = 0; i < n && b64[i] != '='; i++)
        out[j++] = b64[i] == '+' ? '-' : b64[i] == '/' ? '_' : (char)b64[i];
    out[j] = '\0';
    OPENSSL_cleanse(raw, sizeof raw);
    OPENSSL_cleanse(b64, sizeof b64);
    return 0;
}

int keys_equal(const char *a, size_t alen, const char *b, size_t blen)
{
    unsigned char da[DIGEST_LEN], db[DIGEST_LEN];
    digest(a, alen, da);
    digest(b, blen, db);
    return CRYPTO_memcmp(da, db, DIGEST_LEN) == 0;
}
