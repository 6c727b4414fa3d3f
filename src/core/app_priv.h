/*
 * app_priv.h -- helpers shared by the app loader's files (app.c,
 * function_json.c). Not for use outside src/core/app*.c and
 * function_json.c; runtime code reads app.h only.
 */
#ifndef STRATUS_APP_PRIV_H
#define STRATUS_APP_PRIV_H

#include <jansson.h>
#include <stddef.h>

#include "app.h"

/* Largest configuration file read (host.json, function.json, ...). */
#define APP_MAX_FILE (4u * 1024 * 1024)

/* Allocation that cannot fail: out of memory aborts with a message. */
void *app__xcalloc(size_t n, size_t size);
void *app__xrealloc(void *p, size_t n, size_t size);
char *app__xstrdup(const char *s);

/* The member `key` of obj matched case-insensitively (as Azure reads its
 * configuration); NULL when obj is not an object, the key is absent or its
 * value is null. */
json_t *app__get(const json_t *obj, const char *key);

/* Write s for an error message: control bytes as \xNN, cut at 128 bytes with
 * "..." (never inside a UTF-8 sequence), without quotes. */
void app__escape(const char *s, char *out, size_t n);

/* Write a short description of a JSON value for an error message: 'text'
 * for strings (escaped as above), 12, true, null, "an array", ... */
void app__show(const json_t *v, char *out, size_t n);

/* dir + "/" + rel (or rel alone when absolute), with "." and ".." segments
 * and doubled slashes removed. The caller frees it. */
char *app__path_join(const char *dir, const char *rel);

/* Read a whole file of at most `max` bytes into a NUL-terminated buffer the
 * caller frees. 0, or -1 with errno (EFBIG when larger than max). */
int app__read_file(const char *path, size_t max, char **text, size_t *len);

/* json_loadb (duplicate keys refused) of an app file as JSON.NET reads it:
 * comments and trailing commas allowed. */
json_t *app__load_relaxed(const char *text, size_t len, json_error_t *je);

/* 1 when s is a whole decimal integer that fits a long long (into *out),
 * else 0. */
int app__parse_ll(const char *s, long long *out);

/* An integer in v: a JSON integer, or a string holding only one (the
 * configuration of Azure is text, so "100" counts). 0, or -1. */
int app__int(const json_t *v, long long *out);

/* A boolean in v: true/false, or the strings "true"/"false" in any case.
 * 0, or -1. */
int app__bool(const json_t *v, int *out);

/* Free a function and everything it owns (bindings and their configs). */
void app__function_free(function_t *fn);

/* Apply the AzureFunctionsJobHost__ overrides (local.settings.json Values,
 * then the environment, which wins) to app->host_json, then read its typed
 * settings into app with their defaults, and the functions filter
 * (opts->functions when given, else host.json "functions"). 0, or -1 with
 * a message naming host.json and the field. Defined in host_json.c. */
int app__host_settings(app_t *app, const app_load_opts_t *opts, char *err, size_t errlen);

/* Read host.json "customHandler" (or "httpWorker"; the first wins) into
 * app->custom_handler, expanding %NAME% and making paths absolute. 0, or -1
 * with a message naming host.json and the field. Defined in
 * host_json_custom.c. */
int app__custom_handler_settings(app_t *app, char *err, size_t errlen);

/* Apply host.json "configurationProfile": "mcp-custom-handler" gives, as
 * in Azure, the defaults routePrefix "", customHandler
 * enableProxyingHttpRequest true and http.routes [{"route": "{*route}"}]
 * (set only where host.json says nothing); "" and "default" give nothing.
 * 0, or -1 with a message for any other name. Defined in
 * host_json_custom.c. */
int app__configuration_profile(app_t *app, char *err, size_t errlen);

/* For a custom app with customHandler.http.routes: one HTTP function per
 * route, named http-handler1, http-handler2, ..., with every method and
 * an http output, as Azure's host makes them; an error on the app when
 * function.json files are there too. Defined in host_json_custom.c. */
void app__custom_handler_routes(app_t *app, const app_load_opts_t *opts);

/* Release what app__custom_handler_settings stored. */
void app__custom_handler_free(custom_handler_conf_t *c);

#endif
