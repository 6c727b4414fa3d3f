/*
 * dlist.h -- typed intrusive doubly linked lists (the shape of BSD's
 * sys/queue.h TAILQ, as plain functions).
 *
 * A list type has members `head`, `tail` (pointers to the element type)
 * and `n` (size_t); an element type has members `next` and `prev`. One
 * line makes the functions for a pair of types:
 *
 *     DLIST_FUNCS(static inline, call_list, call_list_t, call_t)
 *
 * defines call_list_push (append), call_list_push_front and
 * call_list_remove (unlink an element that is in the list). No allocation:
 * an element lives wherever its owner put it, and is in one list of a kind
 * at a time.
 */
#ifndef STRATUS_DLIST_H
#define STRATUS_DLIST_H

#include <stddef.h>

#define DLIST_FUNCS(scope, prefix, list_t, elem_t)                                      \
    scope void prefix##_push(list_t *l, elem_t *e)                                      \
    {                                                                                   \
        e->next = NULL;                                                                 \
        e->prev = l->tail;                                                              \
        if (l->tail)                                                                    \
            l->tail->next = e;                                                          \
        else                                                                            \
            l->head = e;                                                                \
        l->tail = e;                                                                    \
        l->n++;                                                                         \
    }                                                                                   \
    scope void prefix##_push_front(list_t *l, elem_t *e)                                \
    {                                                                                   \
        e->prev = NULL;                                                                 \
        e->next = l->head;                                                              \
        if (l->head)                                                                    \
            l->head->prev = e;                                                          \
        else                                                                            \
            l->tail = e;                                                                \
        l->head = e;                                                                    \
        l->n++;                                                                         \
    }                                                                                   \
    scope void prefix##_remove(list_t *l, elem_t *e)                                    \
    {                                                                                   \
        if (e->prev)                                                                    \
            e->prev->next = e->next;                                                    \
        else                                                                            \
            l->head = e->next;                                                          \
        if (e->next)                                                                    \
            e->next->prev = e->prev;                                                    \
        else                                                                            \
            l->tail = e->prev;                                                          \
        e->prev = e->next = NULL;                                                       \
        l->n--;                                                                         \
    }

#endif
