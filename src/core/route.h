/*
 * route.h -- Azure Functions route templates and the router built on them.
 *
 * A template is what function.json "route" holds, joined behind the route
 * prefix: "api/products/{category:alpha}/{id:int?}". Segments are literals,
 * parameters "{name}", optional parameters "{name?}", catch-alls "{*rest}",
 * with inline constraints: int, long, bool, alpha, guid, datetime, double,
 * decimal, float, min(n), max(n), range(a,b), length(n), length(a,b),
 * minlength(n), maxlength(n), regex(expr), several chained with ':' and
 * combinable with '?'. Matching is case-insensitive for literals.
 *
 * Lifecycle: route_compile() makes a route_t the caller frees with
 * route_free(). A router_t owns the routes added to it; router_free() frees
 * them. Matching never allocates: parameter values are percent-decoded into
 * a scratch buffer that the caller provides, and the route_param_t views
 * point into it (names point into the route, valid while the route lives).
 */
#ifndef STRATUS_ROUTE_H
#define STRATUS_ROUTE_H

#include <stddef.h>

#include "../util/sv.h"

#define ROUTE_MAX_PARAMS 32
#define ROUTE_MAX_TEMPLATE 4096

typedef struct route route_t;

typedef struct route_param {
    sv_t name;
    sv_t value;  /* decoded value; value.p == NULL when an optional parameter is absent */
    sv_t raw;    /* the value as it is in the path, still percent-encoded, when the
                  * parameter is a whole segment or a catch-all (a view into the
                  * matched path); raw.p == NULL otherwise (absent, a default, part
                  * of a segment such as "{file}.{ext}") */
} route_param_t;

typedef struct route_params {
    route_param_t v[ROUTE_MAX_PARAMS];
    size_t n;
} route_params_t;

/* Compile a template. On error returns NULL and writes a message naming
 * the problem and its position into err, e.g.
 * "unknown constraint 'integer' in '{id:integer}'". Leading and trailing
 * '/' are ignored; "" matches "/" only. */
route_t *route_compile(const char *tmpl, char *err, size_t errlen);
void route_free(route_t *r);

/* The template as given (without surrounding slashes). */
const char *route_template(const route_t *r);

/* Match a request path (starting with '/', without query string, still
 * percent-encoded). Returns 1 on a match and fills params (every declared
 * parameter appears, absent optional ones with value.p == NULL), 0 when it
 * does not match, including when scratch is too small for the decoded
 * values. */
int route_match(const route_t *r, const char *path, size_t len, route_params_t *params,
                char *scratch, size_t scratch_len);

/* ---- router ---- */

typedef struct router router_t;

enum { ROUTER_NOT_FOUND = 0, ROUTER_MATCH = 1, ROUTER_METHOD_NOT_ALLOWED = 2 };

router_t *router_new(void);
void router_free(router_t *rt);

/* Add a route. methods is a set of METHOD_* bits (http/method.h); 0 means
 * all. A route that accepts GET also accepts HEAD. data is returned by
 * router_lookup. Returns 0, or -1 with a message in err (bad template, or
 * the very same template and method set registered already). */
int router_add(router_t *rt, const char *tmpl, unsigned methods, void *data, char *err,
               size_t errlen);

/* Find the first route, in order of registration, that matches path and
 * method (one METHOD_* bit, or METHOD_OTHER). ROUTER_MATCH: *data and
 * params are set. ROUTER_METHOD_NOT_ALLOWED: some route matches the path
 * but none the method; *allowed receives the union of their methods.
 * ROUTER_NOT_FOUND otherwise. */
int router_lookup(const router_t *rt, unsigned method, const char *path, size_t len,
                  route_params_t *params, char *scratch, size_t scratch_len, void **data,
                  unsigned *allowed);

/* Percent-decode src into dst ('+' stays '+'). Returns the decoded length,
 * or -1 for a malformed escape or when dst is too small. dst is
 * NUL-terminated. */
long url_decode(const char *src, size_t len, char *dst, size_t dstlen);

#endif
