/*
 * test_blobdir.c -- unit tests for src/store/blobdir.c: blobs written, read, listed and deleted in a temporary folder.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../src/store/blobdir.h"
#include "test.h"

static char root[256];

static void fresh_root(void)
{
    snprintf(root, sizeof root, "/tmp/stratus-blobdir-XXXXXX");
    if (!mkdtemp(root))
        root[0] = '\0';
}

static void remove_root(void)
{
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", root);
}

TEST(write_read_list_delete)
{
    char err[768];
    int created = -1, truncated = -1;
    fresh_root();
    CHECK(root[0]);
    json_t *list = NULL;
    CHECK_INT(blobdir_containers(root, &list, err, sizeof err), BLOBDIR_OK);
    CHECK_INT(json_array_size(list), 0);
    json_decref(list);

    CHECK_INT(blobdir_write(root, "cont", "b/2.bin", "\0\1\2", 3, &created, err, sizeof err),
              BLOBDIR_OK);
    CHECK_INT(created, 1);
    CHECK_INT(blobdir_write(root, "cont", "a-1", "x", 1, &created, err, sizeof err), BLOBDIR_OK);
    CHECK_INT(blobdir_write(root, "cont", "b/2.bin", "\0\1\2\3", 4, &created, err, sizeof err),
              BLOBDIR_OK);
    CHECK_INT(created, 0);

    buf_t b;
    buf_init(&b, 1024);
    CHECK_INT(blobdir_read(root, "cont", "b/2.bin", &b, 1024, err, sizeof err), BLOBDIR_OK);
    CHECK_INT(b.len, 4);
    CHECK(memcmp(b.p, "\0\1\2\3", 4) == 0);
    buf_reset(&b);
    CHECK_INT(blobdir_read(root, "cont", "b/2.bin", &b, 3, err, sizeof err), BLOBDIR_E2BIG);
    CHECK_INT(blobdir_read(root, "cont", "b", &b, 1024, err, sizeof err), BLOBDIR_ENOTFOUND);
    CHECK_INT(blobdir_read(root, "cont", "zz", &b, 1024, err, sizeof err), BLOBDIR_ENOTFOUND);
    buf_free(&b);

    /* "a-1" sorts before "b/2.bin" ('-' < 'b'); hidden files are no blobs. */
    char hidden[512];
    snprintf(hidden, sizeof hidden, "%s/cont/b/.2.bin.tmp-000000000000", root);
    FILE *f = fopen(hidden, "w");
    if (f)
        fclose(f);
    CHECK_INT(blobdir_list(root, "cont", NULL, &list, &truncated, err, sizeof err), BLOBDIR_OK);
    CHECK_INT(json_array_size(list), 2);
    CHECK_STR(json_string_value(json_object_get(json_array_get(list, 0), "name")), "a-1");
    CHECK_STR(json_string_value(json_object_get(json_array_get(list, 1), "name")), "b/2.bin");
    CHECK_INT(json_integer_value(json_object_get(json_array_get(list, 1), "length")), 4);
    CHECK_INT(truncated, 0);
    json_decref(list);
    CHECK_INT(blobdir_list(root, "cont", "b/", &list, &truncated, err, sizeof err), BLOBDIR_OK);
    CHECK_INT(json_array_size(list), 1);
    json_decref(list);
    CHECK_INT(blobdir_list(root, "nope", NULL, &list, &truncated, err, sizeof err),
              BLOBDIR_ENOTFOUND);
    CHECK(list == NULL);
    unlink(hidden);

    CHECK_INT(blobdir_write(root, "cont", "b", "x", 1, NULL, err, sizeof err),
              BLOBDIR_ECONFLICT);
    CHECK_INT(blobdir_write(root, "cont", "a-1/x", "x", 1, NULL, err, sizeof err),
              BLOBDIR_ECONFLICT);

    CHECK_INT(blobdir_delete(root, "cont", "b/2.bin", err, sizeof err), BLOBDIR_OK);
    char folder[512];
    struct stat st;
    snprintf(folder, sizeof folder, "%s/cont/b", root);
    CHECK(stat(folder, &st) != 0); /* emptied folder removed */
    snprintf(folder, sizeof folder, "%s/cont", root);
    CHECK(stat(folder, &st) == 0); /* the container stays */
    CHECK_INT(blobdir_delete(root, "cont", "b/2.bin", err, sizeof err), BLOBDIR_ENOTFOUND);
    CHECK_INT(blobdir_delete(root, "cont", "../x", err, sizeof err), BLOBDIR_EINVAL);
    CHECK_CONTAINS(err, "'..' segment");
    CHECK_INT(blobdir_write(root, "Cont", "x", "x", 1, NULL, err, sizeof err), BLOBDIR_EINVAL);
    CHECK_CONTAINS(err, "container name");

    CHECK_INT(blobdir_containers(root, &list, err, sizeof err), BLOBDIR_OK);
    CHECK_INT(json_array_size(list), 1);
    CHECK_STR(json_string_value(json_object_get(json_array_get(list, 0), "name")), "cont");
    json_decref(list);
    remove_root();
}

int main(void)
{
    RUN(write_read_list_delete);
    return TEST_REPORT();
}
