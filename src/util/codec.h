/*
 * codec.h -- UTF-8 checks and base64, for payloads that cross into JSON
 * (worker frames, custom handler messages, Lambda events, binding values).
 */
#ifndef STRATUS_CODEC_H
#define STRATUS_CODEC_H

#include <stddef.h>

#include "buf.h"

/* Length (1-4) of the valid UTF-8 sequence at p (n bytes available), or 0
 * when there is none: overlong forms, surrogates and code points past
 * U+10FFFF are not valid. */
size_t utf8_char_len(const unsigned char *p, size_t n);

/* 1 when the n bytes at p are all valid UTF-8 (0 bytes are). */
int utf8_valid(const char *p, size_t n);

/* Append standard base64 (with padding) of the n bytes at p to out.
 * 0, or -1 when out would pass its limit. */
int base64_encode(buf_t *out, const void *p, size_t n);

/* Decode standard base64 (padding optional, white space anywhere, such as
 * line breaks, ignored) onto the end of out, which stays NUL-terminated. 0, or -1 on
 * malformed input or when out would pass its limit. */
int base64_decode(buf_t *out, const char *s, size_t n);

#define SHA256_LEN 32

/* The SHA-256 digest of the n bytes at p. */
void sha256(const void *p, size_t n, unsigned char out[SHA256_LEN]);

#endif
