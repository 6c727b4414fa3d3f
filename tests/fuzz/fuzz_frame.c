/*
 * fuzz_frame.c -- libFuzzer driver for the worker protocol's frame decoder
 * (src/runtimes/frame.c).
 *
 * Input: one byte that seeds the chunking (and picks the decoder's limits
 * and accepted direction), then the stream. The stream is
 * fed in pseudo-random chunk sizes, each chunk a private heap copy freed as
 * soon as the decoder has drained it (so a view that outlives its chunk is
 * a use-after-free ASan sees). Every decoded frame must be exactly the
 * stream's next bytes once re-encoded, must decode again to the same frame,
 * and, when its metadata parses, must survive the JSON encoder too. On a
 * protocol error the decoder must say why and stay failed.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/runtimes/frame.h"

static uint32_t next_rand(uint32_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    return *s;
}

/* Decode one encoded frame in one chunk and check it equals f. */
static void redecode(const buf_t *enc, const frame_t *f)
{
    frame_decoder_t d;
    frame_t g;
    frame_decoder_init(&d, FRAME_FROM_ANY);
    if (frame_decoder_feed(&d, enc->p, enc->len) != 0 || frame_decoder_next(&d, &g) != 1)
        abort();
    if (g.type != f->type || g.id != f->id || !sv_eq(g.meta, f->meta) || !sv_eq(g.body, f->body))
        abort();
    if (frame_decoder_next(&d, &g) != 0 || frame_decoder_pending(&d) != 0)
        abort();
    frame_decoder_free(&d);
}

/* Check one decoded frame; `orig` is where it must have come from. */
static void check_frame(const frame_t *f, const uint8_t *orig, size_t orig_len)
{
    buf_t enc;
    char err[256];

    buf_init(&enc, (size_t)FRAME_HEADER_SIZE + FRAME_MAX_META + FRAME_MAX_BODY);
    if (frame_encode(&enc, f->type, f->id, f->meta.p, f->meta.n, f->body.p, f->body.n) != 0)
        abort();
    if (enc.len != orig_len || memcmp(enc.p, orig, orig_len) != 0)
        abort();
    redecode(&enc, f);

    err[0] = '\0';
    json_t *meta = frame_meta_json(f, err, sizeof err);
    if (!meta && !err[0])
        abort();
    if (meta) {
        buf_reset(&enc);
        if (frame_encode_json(&enc, f->type, f->id, meta, f->body.p, f->body.n) == 0) {
            frame_decoder_t d;
            frame_t g;
            frame_decoder_init(&d, FRAME_FROM_ANY);
            frame_decoder_feed(&d, enc.p, enc.len);
            if (frame_decoder_next(&d, &g) != 1 || g.type != f->type || g.id != f->id ||
                !sv_eq(g.body, f->body))
                abort();
            json_t *again = frame_meta_json(&g, err, sizeof err);
            if (!again || !json_equal(again, meta))
                abort();
            json_decref(again);
            frame_decoder_free(&d);
        }
        json_decref(meta);
    }
    buf_free(&enc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    uint32_t seed = 0x9e3779b9u ^ (uint32_t)data[0] * 0x01000193u;
    unsigned mode = data[0] & 3; /* 0: whole, 1: tiny chunks, 2-3: mixed */
    const uint8_t *in = data + 1;
    size_t len = size - 1, off = 0, used = 0;

    unsigned accept = (data[0] >> 3) & FRAME_FROM_ANY; /* 0: both directions */

    frame_decoder_t d;
    frame_decoder_init(&d, accept ? accept : FRAME_FROM_ANY);
    if (data[0] & 4)
        frame_decoder_limit(&d, 1u << 12, 1u << 16);

    int failed = 0;
    while (off < len && !failed) {
        size_t k = len - off;
        if (mode == 1)
            k = 1 + next_rand(&seed) % 8;
        else if (mode >= 2)
            k = 1 + next_rand(&seed) % 64;
        if (k > len - off)
            k = len - off;
        uint8_t *chunk = malloc(k);
        memcpy(chunk, in + off, k);
        off += k;
        if (frame_decoder_feed(&d, chunk, k) != 0)
            abort(); /* always drained below */
        frame_t f;
        int rc;
        while ((rc = frame_decoder_next(&d, &f)) == 1) {
            size_t flen = FRAME_HEADER_SIZE + f.meta.n + f.body.n;
            if (used + flen > off)
                abort();
            check_frame(&f, in + used, flen);
            used += flen;
        }
        free(chunk);
        if (rc < 0) {
            const char *why = frame_decoder_error(&d);
            if (!why || !why[0])
                abort();
            failed = 1;
        } else if (used + frame_decoder_pending(&d) != off) {
            abort(); /* every byte is either a returned frame or pending */
        }
    }
    if (failed) {
        frame_t f;
        if (frame_decoder_feed(&d, in, len) != -1 || frame_decoder_next(&d, &f) != -1 ||
            !frame_decoder_error(&d))
            abort();
    }
    frame_decoder_free(&d);
    return 0;
}
