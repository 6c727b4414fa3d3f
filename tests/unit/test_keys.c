/*
 * test_keys.c -- unit tests of the key store (src/core/keys.c): files and
 * modes, the master override, levels granted, set/delete/list, Azure's
 * older formats, errors, and the constant-time helpers.
 */
#include <dirent.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../src/core/keys.h"
#include "test.h"

/* ---- helpers: one temp folder per test ------------------------------------ */

typedef struct fixture {
    char root[64]; /* the mkdtemp folder */
    char dir[128]; /* root/app/.stratus/secrets (not created yet) */
    char err[512];
} fixture_t;

static void fx_init(fixture_t *fx)
{
    snprintf(fx->root, sizeof fx->root, "/tmp/stratus-keys-XXXXXX");
    if (!mkdtemp(fx->root)) {
        perror("mkdtemp");
        exit(2);
    }
    snprintf(fx->dir, sizeof fx->dir, "%s/app/.stratus/secrets", fx->root);
    fx->err[0] = '\0';
}

static int rm_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    return remove(path);
}

static void fx_done(fixture_t *fx)
{
    nftw(fx->root, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

static keystore_t *fx_open(fixture_t *fx, const char *override)
{
    return keystore_open(fx->dir, override, fx->err, sizeof fx->err);
}

static void path_of(const fixture_t *fx, const char *file, char *out, size_t outlen)
{
    snprintf(out, outlen, "%s/%s", fx->dir, file);
}

static int mode_of(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (int)(st.st_mode & 07777) : -1;
}

static int exists(const fixture_t *fx, const char *file)
{
    char p[256];
    path_of(fx, file, p, sizeof p);
    return access(p, F_OK) == 0;
}

static json_t *read_file(const fixture_t *fx, const char *file)
{
    char p[256];
    path_of(fx, file, p, sizeof p);
    return json_load_file(p, 0, NULL);
}

static int dotfiles(const char *dir)
{
    int n = 0;
    struct dirent *de;
    DIR *d = opendir(dir);
    while (d && (de = readdir(d)))
        n += de->d_name[0] == '.' && strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0;
    if (d)
        closedir(d);
    return n;
}

static void write_file(const fixture_t *fx, const char *file, const char *text, int mode)
{
    char p[256];
    snprintf(p, sizeof p, "%s", fx->dir);
    for (char *s = p + 1; *s; s++) /* mkdir -p */
        if (*s == '/') {
            *s = '\0';
            mkdir(p, 0700);
            *s = '/';
        }
    mkdir(p, 0700);
    path_of(fx, file, p, sizeof p);
    FILE *f = fopen(p, "w");
    if (!f)
        exit(2);
    fputs(text, f);
    fclose(f);
    chmod(p, (mode_t)mode);
}

/* The value of a named key in a {"keys": [...]}-shaped array. */
static const char *find_in(json_t *arr, const char *name)
{
    size_t i;
    json_t *k;
    json_array_foreach (arr, i, k) {
        if (strcmp(json_string_value(json_object_get(k, "name")), name) == 0)
            return json_string_value(json_object_get(k, "value"));
    }
    return NULL;
}

static key_level_t check(const keystore_t *ks, const char *fn, const char *key)
{
    return keystore_check(ks, fn, key, key ? strlen(key) : 0);
}

#define K16 "abcdefghijklmnop"
#define SYSKEY "system-key-0123456789"
#define FNKEY "function-key-0123456789"

/* ---- tests ------------------------------------------------------------------ */

TEST(open_creates_files)
{
    fixture_t fx;
    fx_init(&fx);
    keystore_t *ks = fx_open(&fx, NULL);
    CHECK(ks != NULL);
    char p[256];
    path_of(&fx, "host.json", p, sizeof p);
    CHECK_INT(mode_of(p), 0600);
    CHECK_INT(mode_of(fx.dir), 0700);
    snprintf(p, sizeof p, "%s/app", fx.root);
    CHECK_INT(mode_of(p), 0700);
    CHECK_INT(strlen(keystore_master(ks)), 54);
    const char *dflt = keystore_get(ks, KEYS_HOST, NULL, "default");
    CHECK(dflt && strlen(dflt) == 54);
    json_t *host = read_file(&fx, "host.json");
    json_t *mk = json_object_get(host, "masterKey");
    CHECK_STR(json_string_value(json_object_get(mk, "name")), "master");
    CHECK_STR(json_string_value(json_object_get(mk, "value")), keystore_master(ks));
    CHECK(json_is_false(json_object_get(mk, "encrypted")));
    CHECK_STR(find_in(json_object_get(host, "functionKeys"), "default"), dflt);
    CHECK_INT(json_array_size(json_object_get(host, "systemKeys")), 0);
    json_decref(host);
    keystore_free(ks);
    fx_done(&fx);
}

TEST(reopen_reads_same_keys)
{
    fixture_t fx;
    fx_init(&fx);
    keystore_t *a = fx_open(&fx, NULL);
    CHECK_INT(keystore_set(a, KEYS_FUNCTION, "Orders", "ci", FNKEY, NULL, 0, fx.err, sizeof fx.err),
              1);
    keystore_t *b = fx_open(&fx, NULL);
    CHECK(b != NULL);
    CHECK_STR(keystore_master(b), keystore_master(a));
    CHECK_STR(keystore_get(b, KEYS_HOST, NULL, "default"),
              keystore_get(a, KEYS_HOST, NULL, "default"));
    CHECK_STR(keystore_get(b, KEYS_FUNCTION, "orders", "ci"), FNKEY);
    CHECK_INT(check(b, "ORDERS", FNKEY), KEY_FUNCTION);
    keystore_free(a);
    keystore_free(b);
    fx_done(&fx);
}

TEST(master_override_not_written)
{
    fixture_t fx;
    fx_init(&fx);
    const char *over = "override-master-key-123456";
    keystore_t *ks = fx_open(&fx, over);
    CHECK(ks != NULL);
    CHECK_STR(keystore_master(ks), over);
    CHECK_STR(keystore_get(ks, KEYS_HOST, NULL, "_master"), over);
    CHECK_INT(check(ks, NULL, over), KEY_MASTER);
    CHECK_INT(check(ks, "any", over), KEY_MASTER);
    CHECK_INT(keystore_set(ks, KEYS_HOST, NULL, "_master", NULL, NULL, 0, fx.err, sizeof fx.err),
              -1);
    CHECK_CONTAINS(fx.err, "STRATUS_MASTER_KEY");
    CHECK_INT(keystore_set(ks, KEYS_HOST, NULL, "_master", K16 "xyz", NULL, 0, NULL, 0), -1);
    CHECK_STR(keystore_master(ks), over);
    json_t *host = read_file(&fx, "host.json");
    CHECK(host && json_object_get(host, "masterKey") == NULL);
    CHECK(find_in(json_object_get(host, "functionKeys"), "default") != NULL);
    char *text = json_dumps(host, 0);
    CHECK(text && strstr(text, over) == NULL);
    free(text);
    json_decref(host);
    keystore_free(ks);
    /* without the override a master is generated and written */
    ks = fx_open(&fx, NULL);
    CHECK(ks && strcmp(keystore_master(ks), over) != 0);
    host = read_file(&fx, "host.json");
    CHECK_STR(json_string_value(json_object_get(json_object_get(host, "masterKey"), "value")),
              keystore_master(ks));
    json_decref(host);
    keystore_free(ks);
    fx_done(&fx);
}

TEST(master_override_keeps_file_master)
{
    fixture_t fx;
    fx_init(&fx);
    keystore_t *ks = fx_open(&fx, NULL);
    char file_master[KEY_MAX_LEN + 1];
    snprintf(file_master, sizeof file_master, "%s", keystore_master(ks));
    keystore_free(ks);
    const char *over = "override-master-key-123456";
    ks = fx_open(&fx, over);
    CHECK_STR(keystore_master(ks), over);
    CHECK_INT(check(ks, NULL, file_master), KEY_NONE);
    CHECK_INT(keystore_set(ks, KEYS_SYSTEM, NULL, "sys", SYSKEY, NULL, 0, fx.err, sizeof fx.err),
              1);
    json_t *host = read_file(&fx, "host.json");
    CHECK_STR(json_string_value(json_object_get(json_object_get(host, "masterKey"), "value")),
              file_master);
    json_decref(host);
    keystore_free(ks);
    /* an empty override is no override */
    ks = fx_open(&fx, "");
    CHECK_STR(keystore_master(ks), file_master);
    keystore_free(ks);
    fx_done(&fx);
}

TEST(check_levels)
{
    fixture_t fx;
    fx_init(&fx);
    keystore_t *ks = fx_open(&fx, NULL);
    const char *master = keystore_master(ks);
    const char *host = keystore_get(ks, KEYS_HOST, NULL, "default");
    CHECK_INT(
        keystore_set(ks, KEYS_SYSTEM, NULL, "durable", SYSKEY, NULL, 0, fx.err, sizeof fx.err), 1);
    CHECK_INT(
        keystore_set(ks, KEYS_FUNCTION, "orders", "ci", FNKEY, NULL, 0, fx.err, sizeof fx.err), 1);
    CHECK_INT(check(ks, NULL, master), KEY_MASTER);
    CHECK_INT(check(ks, "orders", master), KEY_MASTER);
    CHECK_INT(check(ks, NULL, SYSKEY), KEY_SYSTEM);
    CHECK_INT(check(ks, "orders", SYSKEY), KEY_SYSTEM);
    CHECK_INT(check(ks, NULL, host), KEY_FUNCTION);
    CHECK_INT(check(ks, "orders", host), KEY_FUNCTION);
    CHECK_INT(check(ks, "anything", host), KEY_FUNCTION);
    CHECK_INT(check(ks, "orders", FNKEY), KEY_FUNCTION);
    CHECK_INT(check(ks, "Orders", FNKEY), KEY_FUNCTION);
    CHECK_INT(check(ks, "billing", FNKEY), KEY_NONE);
    CHECK_INT(check(ks, NULL, FNKEY), KEY_NONE);
    /* anywhere: a function's own key is known, though only as KEY_FUNCTION */
    CHECK_INT(keystore_check_any(ks, FNKEY, strlen(FNKEY)), KEY_FUNCTION);
    CHECK_INT(keystore_check_any(ks, master, strlen(master)), KEY_MASTER);
    CHECK_INT(keystore_check_any(ks, "not-a-key-at-all-here", 21), KEY_NONE);
    CHECK_INT(keystore_check_any(ks, "", 0), KEY_NONE);
    keystore_free(ks);
    fx_done(&fx);
}

TEST(check_rejects_wrong_keys)
{
    fixture_t fx;
    fx_init(&fx);
    keystore_t *ks = fx_open(&fx, NULL);
    const char *master = keystore_master(ks);
    CHECK_INT(check(ks, NULL, "not-a-key-at-all-0000000"), KEY_NONE);
    CHECK_INT(check(ks, NULL, ""), KEY_NONE);
    CHECK_INT(keystore_check(ks, NULL, NULL, 0), KEY_NONE);
    CHECK_INT(keystore_check(ks, NULL, master, 0), KEY_NONE);
    /* a prefix, or the key followed by more bytes (not NUL-terminated) */
    CHECK_INT(keystore_check(ks, NULL, master, strlen(master) - 1), KEY_NONE);
    char longer[KEY_MAX_LEN + 8];
    snprintf(longer, sizeof longer, "%sX", master);
    CHECK_INT(keystore_check(ks, NULL, longer, strlen(longer)), KEY_NONE);
    CHECK_INT(keystore_check(ks, NULL, longer, strlen(master)), KEY_MASTER);
    /* a bad function name still allows host-level keys, nothing else */
    CHECK_INT(check(ks, "../x", keystore_get(ks, KEYS_HOST, NULL, "default")), KEY_FUNCTION);
    CHECK_INT(check(ks, "../x", "not-a-key-at-all-0000000"), KEY_NONE);
    keystore_free(ks);
    fx_done(&fx);
}

TEST(set_create_then_replace)
{
    fixture_t fx;
    fx_init(&fx);
    keystore_t *ks = fx_open(&fx, NULL);
    char out[KEY_MAX_LEN + 1];
    CHECK_INT(
        keystore_set(ks, KEYS_HOST, NULL, "ci", K16 "-one", out, sizeof out, fx.err, sizeof fx.err),
        1);
    CHECK_STR(out, K16 "-one");
    CHECK_INT(
        keystore_set(ks, KEYS_HOST, NULL, "CI", K16 "-two", out, sizeof out, fx.err, sizeof fx.err),
        0);
    CHECK_STR(keystore_get(ks, KEYS_HOST, NULL, "ci"), K16 "-two");
    CHECK_INT(check(ks, NULL, K16 "-one"), KEY_NONE);
    CHECK_INT(check(ks, NULL, K16 "-two"), KEY_FUNCTION);
    json_t *host = read_file(&fx, "host.json");
    CHECK_STR(find_in(json_object_get(host, "functionKeys"), "ci"), K16 "-two");
    CHECK_INT(json_array_size(json_object_get(host, "functionKeys")), 2);
    json_decref(host);
    keystore_free(ks);
    fx_done(&fx);
}

TEST(set_generates_value)
{
    fixture_t fx;
    fx_init(&fx);
    keystore_t *ks = fx_open(&fx, NULL);
    char out[KEY_MAX_LEN + 1] = "";
    CHECK_INT(keystore_set(ks, KEYS_FUNCTION, "orders", "gen", NULL, out, sizeof out, fx.err,
                           sizeof fx.err),
              1);
    CHECK_INT(strlen(out), 54);
    CHECK_STR(keystore_get(ks, KEYS_FUNCTION, "orders", "gen"), out);
    CHECK_INT(check(ks, "orders", out), KEY_FUNCTION);
    char small[10];
    CHECK_INT(keystore_set(ks, KEYS_FUNCTION, "orders", "gen", NULL, small, sizeof small, fx.err,
                           sizeof fx.err),
              -1);
    CHECK_STR(keystore_get(ks, KEYS_FUNCTION, "orders", "gen"), out);
    keystore_free(ks);
    fx_done(&fx);
}

TEST(set_rejects_bad_names_and_values)
{
    fixture_t fx;
    fx_init(&fx);
    keystore_t *ks = fx_open(&fx, NULL);
    char longname[KEY_NAME_MAX + 2], longval[KEY_MAX_LEN + 2];
    memset(longname, 'n', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    memset(longval, 'v', sizeof longval - 1);
    longval[sizeof longval - 1] = '\0';
    const char *names[] = {"", "a b", "a/b", "../x", "caf\xc3\xa9", "a\"b", longname};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        CHECK_INT(keystore_set(ks, KEYS_HOST, NULL, names[i], K16, NULL, 0, fx.err, sizeof fx.err),
                  -1);
    CHECK_INT(keystore_set(ks, KEYS_HOST, NULL, NULL, K16, NULL, 0, fx.err, sizeof fx.err), -1);
    CHECK_CONTAINS(fx.err, "name");
    const char *values[] = {"",       "short-15-chars!", K16 " x",       K16 "\"",
                            K16 "\\", K16 "\t",          K16 "\xc3\xa9", longval};
    for (size_t i = 0; i < sizeof values / sizeof *values; i++)
        CHECK_INT(
            keystore_set(ks, KEYS_HOST, NULL, "ok", values[i], NULL, 0, fx.err, sizeof fx.err), -1);
    CHECK_CONTAINS(fx.err, "value");
    longname[KEY_NAME_MAX] = '\0';
    longval[KEY_MAX_LEN] = '\0';
    CHECK_INT(keystore_set(ks, KEYS_HOST, NULL, longname, longval, NULL, 0, fx.err, sizeof fx.err),
              1);
    CHECK_INT(keystore_set(ks, KEYS_HOST, NULL, "a.b-c_D9", "!#$%&'()*+,-./09:;<=>?@AZ[]^_`az{|}~",
                           NULL, 0, fx.err, sizeof fx.err),
              1);
    CHECK(keystore_get(ks, KEYS_HOST, NULL, "ok") == NULL);
    keystore_free(ks);
    fx_done(&fx);
}

TEST(set_rejects_bad_function_names)
{
    fixture_t fx;
    fx_init(&fx);
    keystore_t *ks = fx_open(&fx, NULL);
    char longfn[130];
    memset(longfn, 'f', sizeof longfn - 1);
    longfn[sizeof longfn - 1] = '\0';
    const char *fns[] = {
        "../x", "../../etc/passwd", "a/b", "", ".hidden", "1abc", "-x", "a.b", "a b", "host",
        longfn};
    for (size_t i = 0; i < sizeof fns / sizeof *fns; i++) {
        CHECK_INT(keystore_set(ks, KEYS_FUNCTION, fns[i], "k", K16, NULL, 0, fx.err, sizeof fx.err),
                  -1);
        CHECK_INT(keystore_ensure_function(ks, fns[i], fx.err, sizeof fx.err), -1);
        CHECK(keystore_list(ks, KEYS_FUNCTION, fns[i]) == NULL);
    }
    CHECK_INT(keystore_set(ks, KEYS_FUNCTION, NULL, "k", K16, NULL, 0, fx.err, sizeof fx.err), -1);
    CHECK_CONTAINS(fx.err, "function");
    char p[256];
    snprintf(p, sizeof p, "%s/app/.stratus/x.json", fx.root);
    CHECK(access(p, F_OK) != 0);
    longfn[128] = '\0'; /* 128 characters is the longest */
    CHECK_INT(keystore_ensure_function(ks, longfn, fx.err, sizeof fx.err), 0);
    keystore_free(ks);
    fx_done(&fx);
}

TEST(set_master_replaces)
{
    fixture_t fx;
    fx_init(&fx);
    keystore_t *ks = fx_open(&fx, NULL);
    char old[KEY_MAX_LEN + 1], out[KEY_MAX_LEN + 1];
    snprintf(old, sizeof old, "%s", keystore_master(ks));
    CHECK_INT(
        keystore_set(ks, KEYS_HOST, NULL, "_master", NULL, out, sizeof out, fx.err, sizeof fx.err),
        0);
    CHECK_STR(keystore_master(ks), out);
    CHECK(strcmp(out, old) != 0);
    CHECK_INT(check(ks, NULL, out), KEY_MASTER);
    CHECK_INT(check(ks, NULL, old), KEY_NONE);
    keystore_free(ks);
    ks = fx_open(&fx, NULL);
    CHECK_STR(keystore_master(ks), out);
    keystore_free(ks);
    fx_done(&fx);
}

TEST(delete_keys)
{
    fixture_t fx;
    fx_init(&fx);
    keystore_t *ks = fx_open(&fx, NULL);
    CHECK_INT(
        keystore_set(ks, KEYS_FUNCTION, "orders", "ci", FNKEY, NULL, 0, fx.err, sizeof fx.err), 1);
    CHECK_INT(keystore_set(ks, KEYS_FUNCTION, "orders", "other", K16 "xx", NULL, 0, fx.err,
                           sizeof fx.err),
              1);
    CHECK_INT(keystore_delete(ks, KEYS_FUNCTION, "ORDERS", "ci", fx.err, sizeof fx.err), 0);
    CHECK(keystore_get(ks, KEYS_FUNCTION, "orders", "ci") == NULL);
    CHECK_STR(keystore_get(ks, KEYS_FUNCTION, "orders", "other"), K16 "xx");
    CHECK_INT(check(ks, "orders", FNKEY), KEY_NONE);
    CHECK_INT(keystore_delete(ks, KEYS_FUNCTION, "orders", "ci", fx.err, sizeof fx.err), -1);
    CHECK_INT(keystore_delete(ks, KEYS_FUNCTION, "billing", "ci", fx.err, sizeof fx.err), -1);
    CHECK_INT(keystore_delete(ks, KEYS_HOST, NULL, "_master", fx.err, sizeof fx.err), -1);
    CHECK_CONTAINS(fx.err, "master");
    CHECK(keystore_master(ks) != NULL);
    CHECK_INT(keystore_delete(ks, KEYS_HOST, NULL, "default", fx.err, sizeof fx.err), 0);
    keystore_free(ks);
    ks = fx_open(&fx, NULL);
    CHECK(keystore_get(ks, KEYS_FUNCTION, "orders", "ci") == NULL);
    CHECK_STR(keystore_get(ks, KEYS_FUNCTION, "orders", "other"), K16 "xx");
    CHECK(keystore_get(ks, KEYS_HOST, NULL, "default") == NULL);
    keystore_free(ks);
    fx_done(&fx);
}

TEST(list_shape)
{
    fixture_t fx;
    fx_init(&fx);
    keystore_t *ks = fx_open(&fx, NULL);
    CHECK_INT(
        keystore_set(ks, KEYS_FUNCTION, "orders", "ci", FNKEY, NULL, 0, fx.err, sizeof fx.err), 1);
    json_t *l = keystore_list(ks, KEYS_FUNCTION, "Orders");
    json_t *keys = json_object_get(l, "keys");
    CHECK_INT(json_object_size(l), 1);
    CHECK_INT(json_array_size(keys), 1);
    json_t *k = json_array_get(keys, 0);
    CHECK_INT(json_object_size(k), 2);
    CHECK_STR(json_string_value(json_object_get(k, "name")), "ci");
    CHECK_STR(json_string_value(json_object_get(k, "value")), FNKEY);
    json_decref(l);
    l = keystore_list(ks, KEYS_HOST, NULL);
    CHECK_INT(json_array_size(json_object_get(l, "keys")), 1); /* the master is not listed */
    CHECK_STR(find_in(json_object_get(l, "keys"), "default"),
              keystore_get(ks, KEYS_HOST, NULL, "default"));
    json_decref(l);
    l = keystore_list(ks, KEYS_SYSTEM, NULL);
    CHECK(json_is_array(json_object_get(l, "keys")) &&
          json_array_size(json_object_get(l, "keys")) == 0);
    json_decref(l);
    l = keystore_list(ks, KEYS_FUNCTION, "nofile");
    CHECK(json_is_array(json_object_get(l, "keys")) &&
          json_array_size(json_object_get(l, "keys")) == 0);
    json_decref(l);
    CHECK(keystore_list(ks, (key_scope_t)7, NULL) == NULL);
    keystore_free(ks);
    fx_done(&fx);
}

TEST(ensure_function_creates_file)
{
    fixture_t fx;
    fx_init(&fx);
    keystore_t *ks = fx_open(&fx, NULL);
    CHECK_INT(keystore_ensure_function(ks, "MyFunc", fx.err, sizeof fx.err), 0);
    CHECK(exists(&fx, "myfunc.json"));
    CHECK(!exists(&fx, "MyFunc.json"));
    char p[256], first[KEY_MAX_LEN + 1];
    path_of(&fx, "myfunc.json", p, sizeof p);
    CHECK_INT(mode_of(p), 0600);
    json_t *f = read_file(&fx, "myfunc.json");
    const char *v = find_in(json_object_get(f, "keys"), "default");
    CHECK(v && strlen(v) == 54);
    CHECK(
        json_is_false(json_object_get(json_array_get(json_object_get(f, "keys"), 0), "encrypted")));
    snprintf(first, sizeof first, "%s", v ? v : "");
    json_decref(f);
    CHECK_INT(check(ks, "myfunc", first), KEY_FUNCTION);
    CHECK_INT(keystore_ensure_function(ks, "myfunc", fx.err, sizeof fx.err), 0);
    CHECK_STR(keystore_get(ks, KEYS_FUNCTION, "MYFUNC", "default"), first);
    keystore_free(ks);
    fx_done(&fx);
}

TEST(legacy_formats_accepted)
{
    fixture_t fx;
    fx_init(&fx);
    write_file(&fx, "host.json",
               "{\"masterKey\": \"legacy-master-key-000\","
               " \"functionKeys\": [{\"name\": \"default\", \"value\": \"legacy-host-key-0000\","
               " \"encrypted\": false}], \"hostName\": \"x\", \"instanceId\": \"y\"}",
               0600);
    write_file(&fx, "old.json", "{\"key\": \"legacy-fn-key-00000\"}", 0600);
    write_file(&fx, "new.json",
               "{\"keys\": [{\"name\": \"a\", \"value\": \"short\", \"encrypted\": false}]}", 0600);
    keystore_t *ks = fx_open(&fx, NULL);
    CHECK(ks != NULL);
    CHECK_STR(keystore_master(ks), "legacy-master-key-000");
    CHECK_INT(check(ks, NULL, "legacy-host-key-0000"), KEY_FUNCTION);
    CHECK_STR(keystore_get(ks, KEYS_FUNCTION, "old", "default"), "legacy-fn-key-00000");
    CHECK_INT(check(ks, "new", "short"), KEY_FUNCTION);
    CHECK_INT(keystore_set(ks, KEYS_SYSTEM, NULL, "s", SYSKEY, NULL, 0, fx.err, sizeof fx.err), 1);
    json_t *host = read_file(&fx, "host.json");
    CHECK_STR(json_string_value(json_object_get(json_object_get(host, "masterKey"), "value")),
              "legacy-master-key-000");
    json_decref(host);
    keystore_free(ks);
    fx_done(&fx);

    fx_init(&fx); /* the oldest: a singular "functionKey" */
    write_file(&fx, "host.json",
               "{\"masterKey\": {\"name\": \"master\", \"value\": \"legacy-master-key-000\"},"
               " \"functionKey\": {\"name\": \"default\", \"value\": \"legacy-host-key-0000\"}}",
               0600);
    ks = fx_open(&fx, NULL);
    CHECK_STR(keystore_get(ks, KEYS_HOST, NULL, "default"), "legacy-host-key-0000");
    keystore_free(ks);
    fx_done(&fx);
}

TEST(bad_json_reported)
{
    fixture_t fx;
    fx_init(&fx);
    write_file(&fx, "host.json", "{\"masterKey\": \n  ", 0600);
    CHECK(fx_open(&fx, NULL) == NULL);
    CHECK_CONTAINS(fx.err, "/app/.stratus/secrets/host.json:2:");
    fx_done(&fx);

    fx_init(&fx);
    keystore_free(fx_open(&fx, NULL));
    write_file(&fx, "orders.json", "{\"keys\": [}", 0600);
    CHECK(fx_open(&fx, NULL) == NULL);
    CHECK_CONTAINS(fx.err, "orders.json:1:");
    fx_done(&fx);
}

TEST(bad_content_reported)
{
    const char *bad[] = {
        "[]",
        "{\"masterKey\": {\"name\": \"master\", \"value\": \"m-000000000000000\", \"encrypted\": "
        "true}}",
        "{\"functionKeys\": {}}",
        "{\"functionKeys\": [{\"name\": \"a b\", \"value\": \"v-000000000000000\"}]}",
        "{\"functionKeys\": [{\"name\": \"a\", \"value\": \"has space\"}]}",
        "{\"functionKeys\": [{\"name\": \"a\", \"value\": \"nul\\u0000byte\"}]}",
        ("{\"functionKeys\": [{\"name\": \"a\", \"value\": \"v-000000000000000\"},"
         " {\"name\": \"A\", \"value\": \"v-000000000000001\"}]}"),
        "{\"systemKeys\": [{\"value\": \"v-000000000000000\"}]}",
        "{\"masterKey\": 5}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        fixture_t fx;
        fx_init(&fx);
        write_file(&fx, "host.json", bad[i], 0600);
        keystore_t *ks = fx_open(&fx, NULL);
        CHECK(ks == NULL);
        CHECK_CONTAINS(fx.err, "host.json");
        keystore_free(ks);
        fx_done(&fx);
    }
}

TEST(loose_modes_tightened)
{
    fixture_t fx;
    fx_init(&fx);
    keystore_free(fx_open(&fx, NULL));
    char p[256];
    path_of(&fx, "host.json", p, sizeof p);
    chmod(p, 0644);
    chmod(fx.dir, 0755);
    write_file(&fx, "orders.json", "{\"keys\": []}", 0666);
    keystore_t *ks = fx_open(&fx, NULL);
    CHECK(ks != NULL);
    CHECK_INT(mode_of(p), 0600);
    CHECK_INT(mode_of(fx.dir), 0700);
    path_of(&fx, "orders.json", p, sizeof p);
    CHECK_INT(mode_of(p), 0600);
    keystore_free(ks);
    fx_done(&fx);
}

TEST(foreign_files_ignored)
{
    fixture_t fx;
    fx_init(&fx);
    keystore_free(fx_open(&fx, NULL));
    write_file(&fx, "Upper.json", "not json", 0600);
    write_file(&fx, "notes.txt", "not json", 0600);
    write_file(&fx, ".host.json.abcdef", "not json", 0600);
    write_file(&fx, "9lives.json", "not json", 0600);
    keystore_t *ks = fx_open(&fx, NULL);
    CHECK(ks != NULL);
    CHECK(keystore_get(ks, KEYS_FUNCTION, "upper", "default") == NULL);
    keystore_free(ks);
    fx_done(&fx);
}

TEST(symlinked_file_refused)
{
    fixture_t fx;
    fx_init(&fx);
    keystore_free(fx_open(&fx, NULL));
    char p[256], target[256];
    path_of(&fx, "orders.json", p, sizeof p);
    snprintf(target, sizeof target, "%s/elsewhere.json", fx.root);
    write_file(&fx, "../../../elsewhere.json", "{\"keys\": []}", 0600);
    CHECK(symlink(target, p) == 0);
    CHECK(fx_open(&fx, NULL) == NULL);
    CHECK_CONTAINS(fx.err, "symbolic link");
    fx_done(&fx);
}

/* orders.json with n keys k0.. of values value-000000000000.. */
static void write_many(const fixture_t *fx, int n)
{
    size_t cap = (size_t)n * 64 + 32, len = 0;
    char *text = malloc(cap);
    len += (size_t)snprintf(text, cap, "{\"keys\": [");
    for (int i = 0; i < n; i++)
        len += (size_t)snprintf(text + len, cap - len,
                                "%s{\"name\": \"k%d\", \"value\": \"value-%012d\"}", i ? "," : "",
                                i, i);
    snprintf(text + len, cap - len, "]}");
    write_file(fx, "orders.json", text, 0600);
    free(text);
}

TEST(key_limit_per_scope)
{
    fixture_t fx;
    fx_init(&fx);
    write_many(&fx, 1000);
    keystore_t *ks = fx_open(&fx, NULL);
    CHECK(ks != NULL);
    CHECK_INT(check(ks, "orders", "value-000000000999"), KEY_FUNCTION);
    CHECK_INT(
        keystore_set(ks, KEYS_FUNCTION, "orders", "one-more", NULL, NULL, 0, fx.err, sizeof fx.err),
        -1);
    CHECK_CONTAINS(fx.err, "1000");
    CHECK(keystore_get(ks, KEYS_FUNCTION, "orders", "one-more") == NULL);
    CHECK_INT(keystore_set(ks, KEYS_FUNCTION, "orders", "k5", NULL, NULL, 0, fx.err, sizeof fx.err),
              0);
    keystore_free(ks);
    write_many(&fx, 1001); /* more than 1000 in a file is refused */
    CHECK(fx_open(&fx, NULL) == NULL);
    CHECK_CONTAINS(fx.err, "1000");
    fx_done(&fx);
}

/* Renaming over a directory fails even for root: the store must keep its
 * memory as it was, and leave no temp file behind. */
TEST(failed_write_leaves_memory_unchanged)
{
    fixture_t fx;
    fx_init(&fx);
    keystore_t *ks = fx_open(&fx, NULL);
    char p[256];
    path_of(&fx, "host.json", p, sizeof p);
    CHECK(unlink(p) == 0 && mkdir(p, 0700) == 0);
    CHECK_INT(keystore_set(ks, KEYS_HOST, NULL, "ci", FNKEY, NULL, 0, fx.err, sizeof fx.err), -1);
    CHECK_CONTAINS(fx.err, "host.json");
    CHECK(keystore_get(ks, KEYS_HOST, NULL, "ci") == NULL);
    CHECK_INT(check(ks, NULL, FNKEY), KEY_NONE);
    const char *dflt = keystore_get(ks, KEYS_HOST, NULL, "default");
    CHECK_INT(keystore_set(ks, KEYS_HOST, NULL, "default", FNKEY, NULL, 0, fx.err, sizeof fx.err),
              -1);
    CHECK_STR(keystore_get(ks, KEYS_HOST, NULL, "default"), dflt);
    CHECK_INT(keystore_delete(ks, KEYS_HOST, NULL, "default", fx.err, sizeof fx.err), -1);
    CHECK_STR(keystore_get(ks, KEYS_HOST, NULL, "default"), dflt);
    char master[KEY_MAX_LEN + 1];
    snprintf(master, sizeof master, "%s", keystore_master(ks));
    CHECK_INT(keystore_set(ks, KEYS_HOST, NULL, "_master", NULL, NULL, 0, fx.err, sizeof fx.err),
              -1);
    CHECK_STR(keystore_master(ks), master);
    CHECK_INT(check(ks, NULL, master), KEY_MASTER);
    path_of(&fx, "orders.json", p, sizeof p);
    CHECK(mkdir(p, 0700) == 0);
    CHECK_INT(keystore_ensure_function(ks, "orders", fx.err, sizeof fx.err), -1);
    CHECK(keystore_get(ks, KEYS_FUNCTION, "orders", "default") == NULL);
    json_t *l = keystore_list(ks, KEYS_FUNCTION, "orders");
    CHECK_INT(json_array_size(json_object_get(l, "keys")), 0);
    json_decref(l);
    CHECK_INT(dotfiles(fx.dir), 0); /* no temp file left */
    keystore_free(ks);
    fx_done(&fx);
}

TEST(keys_equal_compares)
{
    CHECK(keys_equal("abc", 3, "abc", 3));
    CHECK(!keys_equal("abc", 3, "abd", 3));
    CHECK(!keys_equal("abc", 3, "abcd", 4));
    CHECK(!keys_equal("abc", 2, "abc", 3));
    CHECK(keys_equal("abcX", 3, "abcY", 3));
    CHECK(keys_equal("", 0, NULL, 0));
    CHECK(!keys_equal("", 0, "a", 1));
}

TEST(keys_generate_shape)
{
    char a[KEY_MAX_LEN + 1], b[KEY_MAX_LEN + 1], small[54];
    CHECK_INT(keys_generate(a, sizeof a), 0);
    CHECK_INT(keys_generate(b, sizeof b), 0);
    CHECK_INT(strlen(a), 54);
    CHECK(strspn(a, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") == 54);
    CHECK(strcmp(a, b) != 0);
    CHECK_INT(keys_generate(small, sizeof small), -1);
    char seen[64][55];
    int dup = 0;
    for (int i = 0; i < 64; i++) {
        keys_generate(seen[i], sizeof seen[i]);
        for (int j = 0; j < i; j++)
            dup |= strcmp(seen[i], seen[j]) == 0;
    }
    CHECK(!dup);
}

int main(void)
{
    RUN(open_creates_files);
    RUN(reopen_reads_same_keys);
    RUN(master_override_not_written);
    RUN(master_override_keeps_file_master);
    RUN(check_levels);
    RUN(check_rejects_wrong_keys);
    RUN(set_create_then_replace);
    RUN(set_generates_value);
    RUN(set_rejects_bad_names_and_values);
    RUN(set_rejects_bad_function_names);
    RUN(set_master_replaces);
    RUN(delete_keys);
    RUN(list_shape);
    RUN(ensure_function_creates_file);
    RUN(legacy_formats_accepted);
    RUN(bad_json_reported);
    RUN(bad_content_reported);
    RUN(loose_modes_tightened);
    RUN(foreign_files_ignored);
    RUN(symlinked_file_refused);
    RUN(key_limit_per_scope);
    RUN(failed_write_leaves_memory_unchanged);
    RUN(keys_equal_compares);
    RUN(keys_generate_shape);
    return TEST_REPORT();
}
