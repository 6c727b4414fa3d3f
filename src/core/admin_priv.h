/*
 * admin_priv.h -- what the files of the admin API share: the shape of a
 * route (admin.c owns the router and the key check; other files add
 * tables of routes to it).
 */
#ifndef STRATUS_ADMIN_PRIV_H
#define STRATUS_ADMIN_PRIV_H

#include <jansson.h>
#include <stddef.h>

#include "host.h"

typedef void (*admin_fn)(host_t *h, http_request_t *req, route_params_t *p);

typedef struct admin_route {
    const char *tmpl;
    unsigned methods;
    admin_fn fn;
} admin_route_t;

/* ---- helpers of admin.c, for every admin file ---- */

/* Answer with JSON j (taken; NULL answers 500), plus one extra header when
 * extra is not NULL. */
void admin_respond_json(http_request_t *req, int status, json_t *j, const http_header_t *extra);

/* Answer {"error": "<formatted text>"} with status. */
void admin_respond_error(http_request_t *req, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Route parameter name (case-insensitive), copied into the request's
 * arena; NULL when absent. */
const char *admin_param(http_request_t *req, route_params_t *p, const char *name);

/* The decoded value of query parameter name (case-insensitive), in the
 * request's arena; "" for a name without '='; NULL when absent;
 * ADMIN_QUERY_BAD when it does not decode. */
#define ADMIN_QUERY_BAD "\x01" /* never a valid value */
const char *admin_query(http_request_t *req, const char *name);

/* The queue and blob endpoints (admin_store.c): /admin/queues/...,
 * /admin/blobs/... */
extern const admin_route_t admin_store_routes[];
extern const size_t admin_store_nroutes;

#endif
