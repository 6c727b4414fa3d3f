/*
 * path.h -- the request path in the form every part of the host reads it:
 * percent-encoded unreserved characters decoded and dot segments removed,
 * as RFC 3986 sections 6.2.2 and 5.2.4 define them, before routing.
 */
#ifndef STRATUS_PATH_H
#define STRATUS_PATH_H

#include <stddef.h>

/* Normalize the path p[0, n) in place: "%2e", "%41" and the other
 * percent-encoded unreserved characters (letters, digits, "-", ".", "_",
 * "~") become the character, then "." and ".." segments are removed
 * ("/api/a/../b" is "/api/b"; ".." at the root stays at the root). Other
 * escapes ("%2F", "%20") are kept as they are, so a segment never gains a
 * "/". p must start with '/'. Returns the new length, at most n. */
size_t http_path_normalize(char *p, size_t n);

#endif
