/*
 * id.h -- identifiers: random UUIDs for invocations and hosts.
 *
 * A per-thread xoshiro256** generator seeded from the kernel once; fast
 * enough for every request, and safe to call from any thread. Ids are unique, not secret (keys use OpenSSL).
 */
#ifndef STRATUS_ID_H
#define STRATUS_ID_H

#include <stddef.h>
#include <stdint.h>

#define UUID_STR_LEN 37 /* 36 characters + NUL */

/* Write a version-4 UUID ("1b4e28ba-2fa1-41d2-883f-0016d3cca427"). */
void uuid_generate(char out[UUID_STR_LEN]);

/* Write a version-7 UUID: unix_ms (milliseconds since the epoch) in its
 * first 48 bits, then random bits. Ids made later sort later, so a
 * database index of them grows at one end instead of everywhere. */
void uuid_generate_v7(char out[UUID_STR_LEN], int64_t unix_ms);

/* Two lower-case hex digits per byte of b, n bytes (no NUL). */
void hex_put(char *out, const unsigned char *b, size_t n);

/* The 16 lower-case hex digits of v, most significant first (no NUL). */
void hex_put64(char out[16], uint64_t v);

/* 64 random bits. */
uint64_t id_random64(void);

#endif
