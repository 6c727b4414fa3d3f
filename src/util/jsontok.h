/*
 * jsontok.h -- reading small JSON documents on hot paths without building
 * a tree: jsmn (Debian's libjsmn-dev) tokenizes into a caller's token
 * array, and these helpers find members, skip values and decode strings.
 *
 * The worker protocol's per-invocation frames (invoke, result) are read
 * this way; everything else uses jansson. Tokens are views into the text,
 * which must outlive them.
 */
#ifndef STRATUS_JSONTOK_H
#define STRATUS_JSONTOK_H

#include <stddef.h>

#define JSMN_HEADER
#define JSMN_STRICT
#define JSMN_PARENT_LINKS
#include <jsmn.h>

#include <jansson.h>

#include "arena.h"
#include "sv.h"

typedef struct jt_doc {
    const char *text;
    size_t len;
    jsmntok_t *tok;
    int ntok;
} jt_doc_t;

/* Tokenize text into tok[0..max). Returns 0 (doc filled; tok[0] is the
 * root), or -1 when the text is not JSON, is truncated, has more than max
 * tokens, or the root is not an object. */
int jt_parse(jt_doc_t *doc, const char *text, size_t len, jsmntok_t *tok, int max);

/* How many tokens text needs (for a second try with a larger array after
 * jt_parse refused it), or -1 when it is not JSON. */
int jt_count(const char *text, size_t len);

/* The index of the token after value i and all it contains. */
int jt_skip(const jt_doc_t *doc, int i);

/* The value of member `key` of object i, or -1 when absent (or i is not an
 * object). Keys compare byte for byte, without unescaping. */
int jt_get(const jt_doc_t *doc, int i, const char *key);

/* The raw text of token i. */
sv_t jt_raw(const jt_doc_t *doc, int i);

/* 1 when token i is the literal true / a string / null. */
int jt_is_true(const jt_doc_t *doc, int i);
int jt_is_string(const jt_doc_t *doc, int i);
int jt_is_null(const jt_doc_t *doc, int i);

/* An integer token's value into *out: 0, or -1 when it is not an integer. */
int jt_int(const jt_doc_t *doc, int i, long long *out);

/* A string token, unescaped: into the arena (NUL-terminated, length in
 * out->n), or as a view into the text when it has no escapes. 0, or -1
 * when i is not a string or an escape is invalid. */
int jt_string(const jt_doc_t *doc, int i, arena_t *arena, sv_t *out);

/* JSON from a worker or a handler may carry lone UTF-16 surrogates
 * ("\ud800" without its pair: what JSON.stringify and Python's json write
 * for a string cut inside a pair), which jansson refuses. jt_loadb() is
 * json_loadb() that, when the text does not load and has \u escapes,
 * loads a copy with each lone surrogate turned into U+FFFD, as the
 * languages' own decoders read it. jt_string() does the same. */
json_t *jt_loadb(const char *text, size_t len, size_t flags, json_error_t *err);

#endif
