/*
 * fuzz_tmpapp.h -- a temp app folder for the drivers that load app files
 * from disk (fuzz_function_json, fuzz_host_json): created once per process
 * and removed at exit. Header-only: each driver is its own program.
 */
#ifndef STRATUS_FUZZ_TMPAPP_H
#define STRATUS_FUZZ_TMPAPP_H

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static char tmpapp_root[64];

/* Write len bytes to path, or abort: the driver cannot go on without it. */
static void tmpapp_write(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f || (len && fwrite(data, 1, len, f) != len)) {
        perror(path);
        abort();
    }
    fclose(f);
}

static int tmpapp_rm(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void tmpapp_cleanup(void)
{
    if (tmpapp_root[0])
        nftw(tmpapp_root, tmpapp_rm, 8, FTW_DEPTH | FTW_PHYS);
}

/* Create /tmp/stratus-fuzz-<tag>-XXXXXX (removed at exit); its path. */
static const char *tmpapp_create(const char *tag)
{
    snprintf(tmpapp_root, sizeof tmpapp_root, "/tmp/stratus-fuzz-%s-XXXXXX", tag);
    if (!mkdtemp(tmpapp_root)) {
        perror("mkdtemp");
        abort();
    }
    atexit(tmpapp_cleanup);
    return tmpapp_root;
}

#endif
