/*
 * admin_priv.h -- what the files of the admin API share: the shape of a
 * route (admin.c owns the router and the key check; other files add
 * tables of routes to it).
 */
#ifndef STRATUS_ADMIN_PRIV_H
#define STRATUS_ADMIN_PRIV_H

#include <stddef.h>

#include "host.h"

typedef void (*admin_fn)(host_t *h, http_request_t *req, route_params_t *p);

typedef struct admin_route {
    const char *tmpl;
    unsigned methods;
    admin_fn fn;
} admin_route_t;

/* The queue and blob endpoints (admin_store.c): /admin/queues/...,
 * /admin/blobs/... */
extern const admin_route_t admin_store_routes[];
extern const size_t admin_store_nroutes;

#endif
