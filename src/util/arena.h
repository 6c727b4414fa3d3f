/*
 * arena.h -- per-request and per-invocation memory, freed in one go.
 *
 * Lifecycle: arena_init() on an embedded arena_t (the first block is inline
 * storage of the caller's choosing or none), arena_alloc()/arena_strndup()
 * while the request lives, arena_reset() to reuse it for the next request on
 * the same connection (keeps the first heap block), arena_free() at the end.
 * Cleanup hooks run in reverse order of registration at reset and free.
 */
#ifndef STRATUS_ARENA_H
#define STRATUS_ARENA_H

#include <stddef.h>

typedef struct arena_block arena_block_t;
typedef struct arena_cleanup arena_cleanup_t;

typedef struct arena {
    arena_block_t *head;      /* current block, NULL when none */
    arena_cleanup_t *cleanups;
    size_t block_size;        /* size of ordinary blocks */
} arena_t;

void arena_init(arena_t *a, size_t block_size);
void arena_reset(arena_t *a);
void arena_free(arena_t *a);

/* Aligned memory (16 bytes) that lives until reset/free; NULL when out of
 * memory. */
void *arena_alloc(arena_t *a, size_t n);
void *arena_calloc(arena_t *a, size_t n);

/* A NUL-terminated copy of n bytes of p. */
char *arena_strndup(arena_t *a, const char *p, size_t n);

/* Run fn(data) at the next reset or free. 0 or -1. */
int arena_on_cleanup(arena_t *a, void (*fn)(void *), void *data);

#endif
