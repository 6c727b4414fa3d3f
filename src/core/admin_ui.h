/*
 * admin_ui.h -- the dashboard at /admin/ui (admin_ui.c), a route of the
 * admin API.
 */
#ifndef STRATUS_ADMIN_UI_H
#define STRATUS_ADMIN_UI_H

#include "host.h"

/* The admin route of /admin/ui and /admin/ui/{*file} (GET and HEAD; admin.c
 * checks the master key and the method first): the page or one of its files
 * with their Content-Type, Content-Security-Policy and caching headers; 404
 * for an unknown file. */
void admin_ui_handle(host_t *h, http_request_t *req, route_params_t *p);

#endif
