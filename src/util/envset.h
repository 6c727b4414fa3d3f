/*
 * envset.h -- change the process environment while other threads read it.
 *
 * setenv() and unsetenv() are not safe while another thread calls getenv():
 * adding a name reallocates the array getenv() is walking, removing one
 * moves its entries under the reader. libcurl, SQLite and the C library
 * itself call getenv() on their own threads, and the host exports the app's
 * local.settings.json Values when it reloads the app. env_update() builds a
 * new array instead, publishes it with one atomic store to environ, and
 * keeps every array and string it made, so a reader that loaded the old
 * array (or a value getenv() returned) keeps valid memory.
 *
 * Every change costs one new array; it is meant for rare, batched updates
 * (a start, a reload), not for a loop.
 */
#ifndef STRATUS_ENVSET_H
#define STRATUS_ENVSET_H

#include <stddef.h>

typedef struct {
    const char *name;  /* non-empty, without '=' */
    const char *value; /* NULL: remove the variable */
    int keep;          /* 1: leave a variable that is already set as it is */
} env_change_t;

/* Apply n changes at once. 0, or -1 when a name is invalid (errno EINVAL,
 * nothing changed) or memory ran out (ENOMEM, nothing changed). */
int env_update(const env_change_t *changes, size_t n);

#endif
