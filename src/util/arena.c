/*
 * arena.c -- bump allocation in blocks, with cleanup hooks (see arena.h).
 */
#include "arena.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct arena_block {
    arena_block_t *next;
    size_t size;
    size_t used;
    _Alignas(16) unsigned char data[];
};

struct arena_cleanup {
    arena_cleanup_t *next;
    void (*fn)(void *);
    void *data;
};

void arena_init(arena_t *a, size_t block_size)
{
    a->head = NULL;
    a->cleanups = NULL;
    a->block_size = block_size ? block_size : 4096;
}

static void run_cleanups(arena_t *a)
{
    arena_cleanup_t *c = a->cleanups;
    a->cleanups = NULL;
    while (c) {
        c->fn(c->data);
        c = c->next;
    }
}

void arena_reset(arena_t *a)
{
    run_cleanups(a);
    if (!a->head)
        return;
    /* Keep only the last block in the chain (the first allocated). */
    arena_block_t *b = a->head;
    while (b->next) {
        arena_block_t *next = b->next;
        free(b);
        b = next;
    }
    if (b->size != a->block_size) {
        free(b);
        a->head = NULL;
        return;
    }
    b->used = 0;
    a->head = b;
}

void arena_free(arena_t *a)
{
    run_cleanups(a);
    arena_block_t *b = a->head;
    while (b) {
        arena_block_t *next = b->next;
        free(b);
        b = next;
    }
    a->head = NULL;
}

void *arena_alloc(arena_t *a, size_t n)
{
    n = (n + 15) & ~(size_t)15;
    if (n == 0)
        n = 16;
    arena_block_t *b = a->head;
    if (b && b->size - b->used >= n) {
        void *p = b->data + b->used;
        b->used += n;
        return p;
    }
    size_t size = n > a->block_size ? n : a->block_size;
    if (size > SIZE_MAX - sizeof(arena_block_t))
        return NULL;
    b = malloc(sizeof(arena_block_t) + size);
    if (!b)
        return NULL;
    b->size = size;
    b->used = n;
    if (size == n && a->head) {
        /* An oversized allocation: slot it behind the current block so
         * the current block keeps serving small allocations. */
        b->next = a->head->next;
        a->head->next = b;
    } else {
        b->next = a->head;
        a->head = b;
    }
    return b->data;
}

void *arena_calloc(arena_t *a, size_t n)
{
    void *p = arena_alloc(a, n);
    if (p)
        memset(p, 0, n);
    return p;
}

char *arena_strndup(arena_t *a, const char *p, size_t n)
{
    char *s = arena_alloc(a, n + 1);
    if (!s)
        return NULL;
    if (n)
        memcpy(s, p, n);
    s[n] = '\0';
    return s;
}

int arena_on_cleanup(arena_t *a, void (*fn)(void *), void *data)
{
    arena_cleanup_t *c = arena_alloc(a, sizeof *c);
    if (!c)
        return -1;
    c->fn = fn;
    c->data = data;
    c->next = a->cleanups;
    a->cleanups = c;
    return 0;
}
