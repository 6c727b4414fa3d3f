/*
 * admin_ui.h -- the dashboard at /admin/ui (admin_ui.c): which paths are
 * its, and answering them once the master key has been checked.
 */
#ifndef STRATUS_ADMIN_UI_H
#define STRATUS_ADMIN_UI_H

#include "host.h"

/* 1 when path (still percent-encoded, without the query) is /admin/ui or
 * under /admin/ui/ (the prefix compared ignoring case). */
int admin_ui_path(sv_t path);

/* Answer a request for a path admin_ui_path() accepted: the page or one of
 * its files with their Content-Type, Content-Security-Policy and caching
 * headers; 404 for an unknown file, 405 for a method other than GET/HEAD.
 * The caller has already checked the master key. */
void admin_ui_handle(host_t *h, http_request_t *req);

#endif
