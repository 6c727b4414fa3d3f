/*
 * expr.h -- binding expressions, as Azure Functions resolves them in
 * function.json binding properties (a blob path, a queue name, ...).
 *
 *   %Name%        an app setting, resolved once when the app loads
 *                 (expr_settings); an unset setting is an error.
 *   {name}        a value of the trigger's binding data: route parameters,
 *                 blob path captures, queue message metadata, properties of
 *                 a JSON payload. Names compare case-insensitively; a dotted
 *                 name ({order.id}) walks into nested objects.
 *   {rand-guid}   a new GUID (lower-case, hyphenated).
 *   {DateTime}    the current UTC time as Azure writes it there:
 *                 2026-11-26T21-05-09Z (no colons, so it fits in paths).
 *   {sys.randguid}, {sys.utcnow}   the same, under Azure's sys names
 *                 (utcnow in ISO 8601: 2026-11-26T21:05:09.123Z).
 *   {DateTime:yyyy-MM-dd}, {rand-guid:N}   a time or GUID in a .NET format
 *                 (see util/netfmt.h); a format after another name is
 *                 ignored, as Azure formats only times and GUIDs.
 *
 * A value that is a string is used as is; a number or boolean as its JSON
 * text; anything else (null, an object, an array) cannot be put into a
 * property and is an error naming the expression. Nothing here keeps
 * state: both functions only read their inputs and append to out.
 */
#ifndef STRATUS_EXPR_H
#define STRATUS_EXPR_H

#include <jansson.h>
#include <stdint.h>

#include "../util/buf.h"

#define EXPR_MAX_NAME 256

/* Append tmpl with its {...} expressions resolved against data (a JSON
 * object, or NULL for none) to out; now_ms is the time {DateTime} and
 * {sys.utcnow} give. 0, or -1 with err naming the expression and what is
 * wrong, e.g. "'{name}': the trigger has no value 'name' (it has:
 * id, DequeueCount)" or "unclosed '{' in 'a/{name'". */
int expr_resolve(const char *tmpl, const json_t *data, int64_t now_ms, buf_t *out, char *err,
                 size_t errlen);

/* 1 when s holds a {...} expression that expr_resolve would resolve. */
int expr_has_braces(const char *s);

/* Append s with each %Name% replaced by lookup(ctx, "Name") to out. "%%"
 * is a literal '%'. 0, or -1 with err saying which setting is not set, or
 * that a '%' is not closed. */
int expr_settings(const char *s, const char *(*lookup)(void *ctx, const char *name), void *ctx,
                  buf_t *out, char *err, size_t errlen);

#endif
