/*
 * envset.c -- see envset.h.
 */
#include "envset.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

extern char **environ;

/* Everything ever published: reachable, so never reported as leaked. */
static void **kept;
static size_t nkept, capkept;

static int keep(void *p)
{
    if (nkept == capkept) {
        size_t cap = capkept ? capkept * 2 : 16;
        void **grown = realloc(kept, cap * sizeof *grown);
        if (!grown)
            return -1;
        kept = grown;
        capkept = cap;
    }
    kept[nkept++] = p;
    return 0;
}

/* Whether entry e ("NAME=value") is the variable name (len bytes). */
static int is_entry_of(const char *e, const char *name, size_t len)
{
    return strncmp(e, name, len) == 0 && e[len] == '=';
}

static const env_change_t *change_for(const char *e, const env_change_t *c, size_t n)
{
    const char *eq = strchr(e, '=');
    if (!eq)
        return NULL;
    size_t len = (size_t)(eq - e);
    for (size_t i = n; i-- > 0;) /* the last change of a name decides */
        if (strlen(c[i].name) == len && is_entry_of(e, c[i].name, len))
            return &c[i];
    return NULL;
}

static const char *current(char **env, const char *name)
{
    size_t len = strlen(name);
    for (char **e = env; e && *e; e++)
        if (is_entry_of(*e, name, len))
            return *e + len + 1;
    return NULL;
}

int env_update(const env_change_t *c, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!c[i].name || !c[i].name[0] || strchr(c[i].name, '=')) {
            errno = EINVAL;
            return -1;
        }
    char **old = environ;
    size_t nold = 0;
    while (old && old[nold])
        nold++;
    char **arr = calloc(nold + n + 1, sizeof *arr);
    char **strs = calloc(n + 1, sizeof *strs);
    if (!arr || !strs)
        goto nomem;
    size_t k = 0, nstrs = 0;
    int changed = 0;
    for (size_t i = 0; i < nold; i++) {
        const env_change_t *ch = change_for(old[i], c, n);
        if (!ch || ch->keep)
            arr[k++] = old[i];
        else
            changed = 1; /* removed, or replaced below */
    }
    for (size_t i = 0; i < n; i++) {
        int later = 0;
        for (size_t j = i + 1; j < n && !later; j++)
            later = strcmp(c[j].name, c[i].name) == 0;
        if (later || !c[i].value || (c[i].keep && current(old, c[i].name)))
            continue;
        const char *now = current(old, c[i].name);
        size_t ln = strlen(c[i].name), lv = strlen(c[i].value);
        char *s = malloc(ln + lv + 2);
        if (!s)
            goto nomem_strs;
        memcpy(s, c[i].name, ln);
        s[ln] = '=';
        memcpy(s + ln + 1, c[i].value, lv + 1);
        strs[nstrs++] = s;
        arr[k++] = s;
        if (!now || strcmp(now, c[i].value) != 0)
            changed = 1;
    }
    arr[k] = NULL;
    if (!changed) {
        for (size_t i = 0; i < nstrs; i++)
            free(strs[i]);
        free(strs);
        free(arr);
        return 0;
    }
    /* Keep the strings and the array before publishing: no failure after. */
    size_t mark = nkept;
    for (size_t i = 0; i < nstrs; i++)
        if (keep(strs[i]) != 0)
            goto unkeep;
    if (keep(arr) != 0)
        goto unkeep;
    free(strs);
    __atomic_store_n(&environ, arr, __ATOMIC_RELEASE);
    return 0;
unkeep:
    nkept = mark;
nomem_strs:
    for (size_t i = 0; i < nstrs; i++)
        free(strs[i]);
nomem:
    free(strs);
    free(arr);
    errno = ENOMEM;
    return -1;
}
