/*
 * native_bind.c -- the trigger and binding calls of include/stratus.h:
 * binding data, input values, output values and the retry context of the
 * invocation (struct stratus_ctx in core/invocation.h). Values are the
 * JSON values of binding.h; text handed out is copied into the
 * invocation's arena.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <stratus.h>

#include "../bindings/binding.h"
#include "../core/invocation.h"

/* The member of obj named name, matched case-insensitively. */
static json_t *get_ci(json_t *obj, const char *name)
{
    const char *k;
    json_t *v;
    if (!obj || !name)
        return NULL;
    if ((v = json_object_get(obj, name)))
        return v;
    json_object_foreach(obj, k, v)
        if (strcasecmp(k, name) == 0)
            return v;
    return NULL;
}

/* The bytes of v copied into the arena (NUL-terminated), or NULL. */
static const char *bytes_of(stratus_ctx *ctx, const json_t *v, size_t *len)
{
    char *p;
    size_t n;
    if (len)
        *len = 0;
    if (!v || json_is_null(v) || binding_value_bytes(v, &p, &n) != 0)
        return NULL;
    char *copy = arena_strndup(ctx->arena, p, n);
    free(p);
    if (copy && len)
        *len = n;
    return copy;
}

/* *obj, parsed from text on first use (a worker keeps the INVOKE's JSON
 * as text until the function asks). */
static json_t *lazy(json_t **obj, sv_t *text)
{
    if (!*obj && text->n) {
        *obj = json_loadb(text->p, text->n, JSON_ALLOW_NUL, NULL);
        *text = SV_NULL;
    }
    return *obj;
}

const char *stratus_trigger_meta(stratus_ctx *ctx, const char *name)
{
    return bytes_of(ctx, get_ci(lazy(&ctx->binding_data, &ctx->binding_data_text), name), NULL);
}

const void *stratus_input(stratus_ctx *ctx, const char *name, size_t *len)
{
    return bytes_of(ctx, get_ci(lazy(&ctx->inputs, &ctx->inputs_text), name), len);
}

static int set_output(stratus_ctx *ctx, const char *name, const void *data, size_t len, int add)
{
    if (!name || !*name || (!data && len))
        return -1;
    if (!ctx->outputs && !(ctx->outputs = json_object()))
        return -1;
    json_t *v = binding_value_new(data ? data : "", len, 0);
    if (!v)
        return -1;
    /* One spelling per binding: the one used first. */
    const char *key = name;
    const char *k;
    json_t *old = NULL, *it;
    json_object_foreach(ctx->outputs, k, it)
        if (strcasecmp(k, name) == 0) {
            key = k;
            old = it;
            break;
        }
    if (add && old) {
        if (!json_is_array(old)) {
            json_t *arr = json_array();
            if (!arr || json_array_append(arr, old) != 0) {
                json_decref(arr);
                json_decref(v);
                return -1;
            }
            if (json_object_set_new(ctx->outputs, key, arr) != 0) {
                json_decref(v);
                return -1;
            }
            old = arr;
        }
        return json_array_append_new(old, v) == 0 ? 0 : -1;
    }
    return json_object_set_new(ctx->outputs, key, v) == 0 ? 0 : -1;
}

int stratus_output(stratus_ctx *ctx, const char *name, const void *data, size_t len)
{
    return set_output(ctx, name, data, len, 0);
}

int stratus_output_add(stratus_ctx *ctx, const char *name, const void *data, size_t len)
{
    return set_output(ctx, name, data, len, 1);
}

int stratus_retry_count(stratus_ctx *ctx) { return ctx->retry_count; }
