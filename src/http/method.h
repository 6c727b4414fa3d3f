/*
 * method.h -- HTTP methods as bits, so a set of methods is one unsigned.
 */
#ifndef STRATUS_METHOD_H
#define STRATUS_METHOD_H

#include <stddef.h>

enum {
    METHOD_GET = 1u << 0,
    METHOD_HEAD = 1u << 1,
    METHOD_POST = 1u << 2,
    METHOD_PUT = 1u << 3,
    METHOD_DELETE = 1u << 4,
    METHOD_PATCH = 1u << 5,
    METHOD_OPTIONS = 1u << 6,
    METHOD_TRACE = 1u << 7,
    METHOD_OTHER = 1u << 8, /* a method Azure functions cannot declare */
    METHOD_ALL = (1u << 8) - 1
};

/* The bit of a method name (case-insensitive), or 0 when it is not one of
 * the eight above. */
unsigned method_from_name(const char *name, size_t len);

/* The upper-case name of a single bit ("GET"), or NULL. */
const char *method_name(unsigned bit);

/* Write "GET, HEAD, POST" for a set into out (always NUL-terminated). */
void method_list(unsigned set, char *out, size_t outlen);

#endif
