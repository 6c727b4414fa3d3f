/*
 * test_frame.c -- unit tests for the worker protocol's frame codec
 * (src/runtimes/frame.c): exact byte layout, round trips, frames split
 * anywhere, limits, malformed headers and the decoder's error state.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/runtimes/frame.h"
#include "test.h"

#define BIG (1u << 30)

/* Encode one frame into b (which must succeed). */
static void put(buf_t *b, uint32_t type, uint64_t id, const char *meta, const char *body,
                size_t body_len)
{
    CHECK_INT(frame_encode(b, type, id, meta, meta ? strlen(meta) : 0, body, body_len), 0);
}

static int sv_is(sv_t v, const char *s) { return sv_eq(v, sv_cstr(s)); }

/* Feed `len` bytes in chunks of `step` (each a private heap copy, freed once
 * drained, so a view that outlives its chunk shows up under ASan) and
 * collect the frames' type, id, meta and body into `log` as text. Returns
 * the number of frames, or -1 on a protocol error. */
static int decode_all(frame_decoder_t *d, const char *data, size_t len, size_t step, buf_t *log)
{
    int n = 0;
    for (size_t off = 0; off < len || off == 0; off += step) {
        size_t k = len - off < step ? len - off : step;
        char *chunk = malloc(k ? k : 1);
        memcpy(chunk, data + off, k);
        if (frame_decoder_feed(d, chunk, k) != 0) {
            free(chunk);
            return -1;
        }
        frame_t f;
        int rc;
        while ((rc = frame_decoder_next(d, &f)) == 1) {
            n++;
            buf_printf(log, "%u/%llu/", f.type, (unsigned long long)f.id);
            buf_append(log, f.meta.p, f.meta.n);
            buf_putc(log, '/');
            buf_append(log, f.body.p, f.body.n);
            buf_putc(log, ';');
        }
        free(chunk);
        if (rc < 0)
            return -1;
        if (len == 0)
            break;
    }
    return n;
}

TEST(frame_layout_bytes)
{
    buf_t b;
    buf_init(&b, BIG);
    put(&b, FRAME_RESULT, 0x0102030405060708ull, "{\"ok\":true}", "hi", 2);
    static const uint8_t want[] = {
        0x01, 0x52, 0x54, 0x53,                         /* magic 0x53545201 */
        0x06, 0x00, 0x00, 0x00,                         /* type 6 (result) */
        0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01, /* id */
        0x0b, 0x00, 0x00, 0x00,                         /* meta length 11 */
        0x02, 0x00, 0x00, 0x00,                         /* body length 2 */
    };
    CHECK_INT(b.len, sizeof want + 11 + 2);
    CHECK(memcmp(b.p, want, sizeof want) == 0);
    CHECK(memcmp(b.p + 24, "{\"ok\":true}hi", 13) == 0);
    CHECK_INT(FRAME_MAGIC & 0xff, FRAME_PROTOCOL_VERSION);

    uint8_t h[FRAME_HEADER_SIZE];
    frame_header_pack(h, FRAME_RESULT, 0x0102030405060708ull, 11, 2);
    CHECK(memcmp(h, want, sizeof h) == 0);
    buf_free(&b);
}

TEST(frame_roundtrip_zero_copy)
{
    buf_t b;
    buf_init(&b, BIG);
    put(&b, FRAME_INVOKE, 42, "{\"function\":\"hello\"}", "body\0bytes", 10);
    frame_decoder_t d;
    frame_decoder_init(&d, FRAME_FROM_HOST);
    frame_t f;
    CHECK_INT(frame_decoder_feed(&d, b.p, b.len), 0);
    CHECK_INT(frame_decoder_next(&d, &f), 1);
    CHECK_INT(f.type, FRAME_INVOKE);
    CHECK_INT(f.id, 42);
    CHECK(sv_is(f.meta, "{\"function\":\"hello\"}"));
    CHECK_INT(f.body.n, 10);
    CHECK(memcmp(f.body.p, "body\0bytes", 10) == 0);
    CHECK(f.meta.p == b.p + FRAME_HEADER_SIZE); /* a view into the chunk */
    CHECK_INT(frame_decoder_next(&d, &f), 0);
    CHECK_INT(frame_decoder_pending(&d), 0);
    CHECK(frame_decoder_error(&d) == NULL);
    CHECK_INT(d.part.cap, 0); /* nothing was buffered */
    frame_decoder_free(&d);
    buf_free(&b);
}

TEST(frame_full_id_range)
{
    buf_t b;
    buf_init(&b, BIG);
    put(&b, FRAME_CANCEL, UINT64_MAX, NULL, NULL, 0);
    put(&b, FRAME_LOG, 0, "{}", NULL, 0);
    put(&b, FRAME_RESULT, 0x8000000000000001ull, NULL, NULL, 0);
    frame_decoder_t d;
    frame_decoder_init(&d, FRAME_FROM_ANY);
    frame_t f;
    frame_decoder_feed(&d, b.p, b.len);
    CHECK_INT(frame_decoder_next(&d, &f), 1);
    CHECK(f.id == UINT64_MAX);
    CHECK_INT(frame_decoder_next(&d, &f), 1);
    CHECK(f.id == 0);
    CHECK_INT(frame_decoder_next(&d, &f), 1);
    CHECK(f.id == 0x8000000000000001ull);
    CHECK_INT(frame_decoder_next(&d, &f), 0);
    frame_decoder_free(&d);
    buf_free(&b);
}

TEST(frame_json_roundtrip)
{
    buf_t b;
    buf_init(&b, BIG);
    json_t *meta = json_pack("{s:b, s:i, s:[[s,s]], s:s}", "ok", 1, "status", 201, "headers",
                             "Content-Type", "text/plain", "note", "caf\xc3\xa9");
    CHECK_INT(frame_encode_json(&b, FRAME_RESULT, 7, meta, "made", 4), 0);
    frame_decoder_t d;
    frame_decoder_init(&d, FRAME_FROM_WORKER);
    frame_t f;
    frame_decoder_feed(&d, b.p, b.len);
    CHECK_INT(frame_decoder_next(&d, &f), 1);
    CHECK(memchr(f.meta.p, ' ', f.meta.n) == NULL); /* compact */
    CHECK(sv_is(f.body, "made"));
    char err[128];
    json_t *back = frame_meta_json(&f, err, sizeof err);
    CHECK(back && json_equal(back, meta));
    json_decref(back);
    json_decref(meta);
    frame_decoder_free(&d);
    buf_free(&b);
}

TEST(frame_zero_length_parts)
{
    buf_t b;
    buf_init(&b, BIG);
    put(&b, FRAME_PING, 0, NULL, NULL, 0);
    put(&b, FRAME_SHUTDOWN, 0, NULL, "x", 1);
    CHECK_INT(b.len, 2 * FRAME_HEADER_SIZE + 1);
    frame_decoder_t d;
    frame_decoder_init(&d, FRAME_FROM_HOST);
    frame_t f;
    frame_decoder_feed(&d, b.p, b.len);
    CHECK_INT(frame_decoder_next(&d, &f), 1);
    CHECK_INT(f.type, FRAME_PING);
    CHECK_INT(f.meta.n, 0);
    CHECK_INT(f.body.n, 0);
    char err[128];
    json_t *j = frame_meta_json(&f, err, sizeof err);
    CHECK(json_is_object(j) && json_object_size(j) == 0);
    json_decref(j);
    CHECK_INT(frame_decoder_next(&d, &f), 1);
    CHECK_INT(f.meta.n, 0);
    CHECK(sv_is(f.body, "x"));
    CHECK_INT(frame_decoder_next(&d, &f), 0);
    frame_decoder_free(&d);
    buf_free(&b);
}

/* A stream of mixed frames; expected decode log in `want`. */
static void sample_stream(buf_t *b, buf_t *want)
{
    put(b, FRAME_INVOKE, 1, "{\"function\":\"a\"}", "payload-one", 11);
    buf_puts(want, "5/1/{\"function\":\"a\"}/payload-one;");
    put(b, FRAME_PING, 9, NULL, NULL, 0);
    buf_puts(want, "9/9//;");
    put(b, FRAME_CANCEL, 1, "{\"reason\":\"timeout\"}", NULL, 0);
    buf_puts(want, "8/1/{\"reason\":\"timeout\"}/;");
    put(b, FRAME_SHUTDOWN, 0, NULL, "zz", 2);
    buf_puts(want, "11/0//zz;");
}

TEST(frame_many_in_one_chunk)
{
    buf_t b, want, got;
    buf_init(&b, BIG);
    buf_init(&want, BIG);
    buf_init(&got, BIG);
    for (int i = 0; i < 200; i++) {
        char meta[64], body[300];
        snprintf(meta, sizeof meta, "{\"i\":%d}", i);
        memset(body, 'a' + i % 26, sizeof body);
        put(&b, FRAME_INVOKE, (uint64_t)i + 1, meta, body, (size_t)i % 300);
        buf_printf(&want, "5/%d/%s/", i + 1, meta);
        buf_append(&want, body, (size_t)i % 300);
        buf_putc(&want, ';');
    }
    frame_decoder_t d;
    frame_decoder_init(&d, FRAME_FROM_HOST);
    CHECK_INT(decode_all(&d, b.p, b.len, b.len, &got), 200);
    CHECK_INT(got.len, want.len);
    CHECK(got.len == want.len && memcmp(got.p, want.p, got.len) == 0);
    CHECK_INT(d.part.cap, 0);
    frame_decoder_free(&d);
    buf_free(&b);
    buf_free(&want);
    buf_free(&got);
}

TEST(frame_split_at_every_byte)
{
    buf_t b, want;
    buf_init(&b, BIG);
    buf_init(&want, BIG);
    sample_stream(&b, &want);
    for (size_t cut = 0; cut <= b.len; cut++) {
        buf_t got;
        buf_init(&got, BIG);
        frame_decoder_t d;
        frame_decoder_init(&d, FRAME_FROM_HOST);
        int n = 0;
        n += decode_all(&d, b.p, cut, cut ? cut : 1, &got);
        n += decode_all(&d, b.p + cut, b.len - cut, b.len, &got);
        CHECK_INT(n, 4);
        CHECK_STR(got.p, want.p);
        CHECK_INT(frame_decoder_pending(&d), 0);
        frame_decoder_free(&d);
        buf_free(&got);
    }
    buf_free(&b);
    buf_free(&want);
}

TEST(frame_every_chunk_size)
{
    buf_t b, want;
    buf_init(&b, BIG);
    buf_init(&want, BIG);
    sample_stream(&b, &want);
    for (size_t step = 1; step <= b.len; step++) {
        buf_t got;
        buf_init(&got, BIG);
        frame_decoder_t d;
        frame_decoder_init(&d, FRAME_FROM_HOST);
        CHECK_INT(decode_all(&d, b.p, b.len, step, &got), 4);
        CHECK_STR(got.p, want.p);
        frame_decoder_free(&d);
        buf_free(&got);
    }
    buf_free(&b);
    buf_free(&want);
}

TEST(frame_large_body_in_small_chunks)
{
    size_t n = 3u << 20; /* 3 MiB: past the storage the decoder keeps */
    char *body = malloc(n);
    for (size_t i = 0; i < n; i++)
        body[i] = (char)(i * 7);
    buf_t b;
    buf_init(&b, BIG);
    CHECK_INT(frame_encode(&b, FRAME_RESULT, 5, "{}", 2, body, n), 0);
    put(&b, FRAME_PONG, 3, NULL, NULL, 0);

    frame_decoder_t d;
    frame_decoder_init(&d, FRAME_FROM_WORKER);
    frame_t f;
    int frames = 0, big_ok = 0;
    for (size_t off = 0; off < b.len; off += 4096) {
        size_t k = b.len - off < 4096 ? b.len - off : 4096;
        frame_decoder_feed(&d, b.p + off, k);
        while (frame_decoder_next(&d, &f) == 1) {
            frames++;
            if (f.type == FRAME_RESULT)
                big_ok = f.body.n == n && memcmp(f.body.p, body, n) == 0 &&
                         d.part.cap == FRAME_HEADER_SIZE + 2 + n; /* no slack */
        }
    }
    CHECK_INT(frames, 2);
    CHECK(big_ok);
    CHECK_INT(d.part.cap, 0); /* the big storage was released */
    frame_decoder_free(&d);
    buf_free(&b);
    free(body);
}

TEST(frame_take_body_of_a_split_frame)
{
    size_t n = 1u << 20;
    char *body = malloc(n);
    for (size_t i = 0; i < n; i++)
        body[i] = (char)(i * 13);
    buf_t b;
    buf_init(&b, BIG);
    CHECK_INT(frame_encode(&b, FRAME_RESULT, 5, "{\"ok\":true}", 11, body, n), 0);
    put(&b, FRAME_PONG, 3, NULL, NULL, 0);
    size_t whole = b.len;
    put(&b, FRAME_RESULT, 6, NULL, "small", 5);

    frame_decoder_t d;
    frame_decoder_init(&d, FRAME_FROM_WORKER);
    frame_t f;
    buf_t dst, tiny;
    buf_init(&dst, BIG);
    buf_init(&tiny, 16);
    CHECK_INT(buf_append(&dst, "old", 3), 0);
    int frames = 0, taken = 0, refused = 0, whole_refused = 0;
    for (size_t off = 0; off < whole; off += 65536) {
        size_t k = whole - off < 65536 ? whole - off : 65536;
        frame_decoder_feed(&d, b.p + off, k);
        while (frame_decoder_next(&d, &f) == 1) {
            frames++;
            if (f.type != FRAME_RESULT)
                continue;
            refused = frame_decoder_take_body(&d, &f, &tiny) == 0 && f.body.n == n &&
                      memcmp(f.body.p, body, n) == 0; /* too big for tiny: left alone */
            taken = frame_decoder_take_body(&d, &f, &dst);
        }
    }
    /* A frame that arrived whole is a view into the chunk: nothing to take. */
    frame_decoder_feed(&d, b.p + whole, b.len - whole);
    CHECK_INT(frame_decoder_next(&d, &f), 1);
    whole_refused = frame_decoder_take_body(&d, &f, &tiny) == 0;
    CHECK_INT(frame_decoder_next(&d, &f), 0);
    CHECK_INT(frames, 2);
    CHECK(refused);
    CHECK_INT(taken, 1);
    CHECK(whole_refused);
    CHECK_INT(dst.len, n);
    CHECK(memcmp(dst.p, body, n) == 0);
    CHECK_INT(dst.max, BIG);
    CHECK_INT(tiny.len, 0);
    CHECK_INT(d.part.cap, 0); /* the storage went with the body */
    frame_decoder_free(&d);
    buf_free(&dst);
    buf_free(&tiny);
    buf_free(&b);
    free(body);
}

/* Decode a single header-only frame built from raw fields with a decoder
 * accepting `accept`; return the result of next() and the error text. */
static int decode_raw(unsigned accept, uint32_t magic, uint32_t type, uint64_t id,
                      uint32_t meta_len, uint32_t body_len, size_t feed_len, char *err,
                      size_t errlen)
{
    uint8_t h[FRAME_HEADER_SIZE];
    frame_header_pack(h, type, id, meta_len, body_len);
    h[0] = (uint8_t)magic;
    h[1] = (uint8_t)(magic >> 8);
    h[2] = (uint8_t)(magic >> 16);
    h[3] = (uint8_t)(magic >> 24);
    frame_decoder_t d;
    frame_decoder_init(&d, accept);
    frame_t f;
    frame_decoder_feed(&d, h, feed_len);
    int rc = frame_decoder_next(&d, &f);
    snprintf(err, errlen, "%s", frame_decoder_error(&d) ? frame_decoder_error(&d) : "");
    if (rc == -1 && d.part.cap > FRAME_HEADER_SIZE)
        rc = -2; /* allocated beyond the header before failing */
    frame_decoder_free(&d);
    return rc;
}

TEST(frame_bad_magic)
{
    char err[200];
    CHECK_INT(decode_raw(FRAME_FROM_ANY, 0x12345678, FRAME_PING, 0, 0, 0, 24, err, sizeof err),
              -1);
    CHECK_STR(err, "bad magic 0x12345678 (not a Stratus worker frame)");
    /* known as soon as four bytes are in */
    CHECK_INT(decode_raw(FRAME_FROM_ANY, 0x12345678, FRAME_PING, 0, 0, 0, 4, err, sizeof err),
              -1);
    CHECK_INT(decode_raw(FRAME_FROM_ANY, 0x12345678, FRAME_PING, 0, 0, 0, 3, err, sizeof err), 0);

    /* text written to the socket by mistake */
    frame_decoder_t d;
    frame_decoder_init(&d, FRAME_FROM_WORKER);
    frame_t f;
    frame_decoder_feed(&d, "Traceback (most recent call last):\n", 35);
    CHECK_INT(frame_decoder_next(&d, &f), -1);
    CHECK_CONTAINS(frame_decoder_error(&d), "bad magic 0x63617254");
    frame_decoder_free(&d);
}

TEST(frame_other_version)
{
    char err[200];
    CHECK_INT(decode_raw(FRAME_FROM_ANY, 0x53545202, FRAME_PING, 0, 0, 0, 24, err, sizeof err),
              -1);
    CHECK_STR(err, "protocol version 2 is not supported (this side speaks 1)");
}

TEST(frame_unknown_type)
{
    char err[200];
    CHECK_INT(decode_raw(FRAME_FROM_ANY, FRAME_MAGIC, 99, 0, 0, 0, 24, err, sizeof err), -1);
    CHECK_STR(err, "unknown frame type 99");
    CHECK_INT(decode_raw(FRAME_FROM_ANY, FRAME_MAGIC, 0, 0, 0, 0, 8, err, sizeof err), -1);
    CHECK_STR(err, "unknown frame type 0");
    CHECK_INT(decode_raw(FRAME_FROM_ANY, FRAME_MAGIC, FRAME_TYPE_MAX + 1, 0, 0, 0, 24, err,
                         sizeof err),
              -1);
    CHECK(frame_type_name(FRAME_TYPE_MAX + 1) == NULL && frame_type_sender(0) == 0);
    CHECK_STR(frame_type_name(FRAME_INVOKE), "invoke");
}

TEST(frame_wrong_direction_and_missing_id)
{
    char err[200];
    CHECK_INT(decode_raw(FRAME_FROM_WORKER, FRAME_MAGIC, FRAME_INVOKE, 1, 0, 0, 24, err,
                         sizeof err),
              -1);
    CHECK_STR(err, "invoke frame (type 5) is only sent by the host");
    CHECK_INT(decode_raw(FRAME_FROM_HOST, FRAME_MAGIC, FRAME_HELLO, 0, 0, 0, 24, err, sizeof err),
              -1);
    CHECK_STR(err, "hello frame (type 1) is only sent by the worker");
    CHECK_INT(decode_raw(FRAME_FROM_WORKER, FRAME_MAGIC, FRAME_RESULT, 0, 0, 0, 24, err,
                         sizeof err),
              -1);
    CHECK_STR(err, "result frame without an invocation id");
    CHECK_INT(decode_raw(FRAME_FROM_WORKER, FRAME_MAGIC, FRAME_LOG, 0, 0, 0, 24, err, sizeof err),
              1);
}

TEST(frame_limits)
{
    char err[200];
    CHECK_INT(decode_raw(FRAME_FROM_WORKER, FRAME_MAGIC, FRAME_RESULT, 3, 2000000, 0, 24, err,
                         sizeof err),
              -1);
    CHECK_STR(err, "result frame: metadata of 2000000 bytes exceeds the limit of 1048576");
    /* the meta length is judged before the body length has even arrived */
    CHECK_INT(decode_raw(FRAME_FROM_WORKER, FRAME_MAGIC, FRAME_RESULT, 3, 2000000, 0, 20, err,
                         sizeof err),
              -1);
    CHECK_INT(decode_raw(FRAME_FROM_WORKER, FRAME_MAGIC, FRAME_RESULT, 3, 0, FRAME_MAX_BODY + 1,
                         24, err, sizeof err),
              -1);
    CHECK_STR(err, "result frame: body of 268435457 bytes exceeds the limit of 268435456");
    /* exactly at the limits is allowed (and waits for the bytes) */
    CHECK_INT(decode_raw(FRAME_FROM_WORKER, FRAME_MAGIC, FRAME_RESULT, 3, FRAME_MAX_META,
                         FRAME_MAX_BODY, 24, err, sizeof err),
              0);

    frame_decoder_t d;
    frame_decoder_init(&d, FRAME_FROM_WORKER);
    frame_decoder_limit(&d, 16, 4);
    buf_t b;
    buf_init(&b, BIG);
    put(&b, FRAME_LOG, 0, "{\"m\":1}", "1234", 4);
    put(&b, FRAME_LOG, 0, "{\"m\":1}", "12345", 5);
    frame_t f;
    frame_decoder_feed(&d, b.p, b.len);
    CHECK_INT(frame_decoder_next(&d, &f), 1);
    CHECK_INT(frame_decoder_next(&d, &f), -1);
    CHECK_STR(frame_decoder_error(&d), "log frame: body of 5 bytes exceeds the limit of 4");
    frame_decoder_free(&d);
    buf_free(&b);
}

TEST(frame_huge_lengths_allocate_nothing)
{
    char err[200];
    CHECK_INT(decode_raw(FRAME_FROM_ANY, FRAME_MAGIC, FRAME_LOG, 0, UINT32_MAX, UINT32_MAX, 24,
                         err, sizeof err),
              -1); /* -2 would mean storage was allocated first */
    CHECK_CONTAINS(err, "metadata of 4294967295 bytes");
    CHECK_INT(decode_raw(FRAME_FROM_ANY, FRAME_MAGIC, FRAME_LOG, 0, 0, UINT32_MAX, 24, err,
                         sizeof err),
              -1);
    CHECK_CONTAINS(err, "body of 4294967295 bytes");

    /* An allowed but large body that is never sent costs only what arrived. */
    uint8_t h[FRAME_HEADER_SIZE + 10] = {0};
    frame_header_pack(h, FRAME_RESULT, 1, 0, FRAME_MAX_BODY);
    frame_decoder_t d;
    frame_decoder_init(&d, FRAME_FROM_WORKER);
    frame_t f;
    frame_decoder_feed(&d, h, sizeof h);
    CHECK_INT(frame_decoder_next(&d, &f), 0);
    CHECK(d.part.cap <= 64 * 1024);
    CHECK_INT(frame_decoder_pending(&d), sizeof h); /* EOF now: "stopped mid-frame" */
    frame_decoder_free(&d);
}

TEST(frame_error_is_sticky)
{
    buf_t b;
    buf_init(&b, BIG);
    put(&b, FRAME_LOG, 0, "{}", NULL, 0);
    frame_decoder_t d;
    frame_decoder_init(&d, FRAME_FROM_WORKER);
    frame_t f;
    static const char junk[] = "GET / HTTP/1.1\r\n\r\nmore bytes here";
    frame_decoder_feed(&d, junk, sizeof junk - 1);
    CHECK_INT(frame_decoder_next(&d, &f), -1);
    const char *first = frame_decoder_error(&d);
    CHECK_CONTAINS(first, "bad magic");
    char copy[200];
    snprintf(copy, sizeof copy, "%s", first);
    CHECK_INT(frame_decoder_feed(&d, b.p, b.len), -1);
    CHECK_INT(frame_decoder_next(&d, &f), -1);
    CHECK_INT(frame_decoder_next(&d, &f), -1);
    CHECK_STR(frame_decoder_error(&d), copy);
    CHECK_INT(frame_decoder_pending(&d), 0);
    frame_decoder_free(&d);
    buf_free(&b);
}

TEST(frame_error_after_good_frames_in_chunk)
{
    buf_t b;
    buf_init(&b, BIG);
    put(&b, FRAME_LOG, 0, "{\"n\":1}", NULL, 0);
    put(&b, FRAME_PONG, 2, NULL, NULL, 0);
    buf_append(&b, "\xff\xff\xff\xff", 4);
    frame_decoder_t d;
    frame_decoder_init(&d, FRAME_FROM_WORKER);
    frame_t f;
    frame_decoder_feed(&d, b.p, b.len);
    CHECK_INT(frame_decoder_next(&d, &f), 1);
    CHECK_INT(frame_decoder_next(&d, &f), 1);
    CHECK_INT(f.type, FRAME_PONG);
    CHECK_INT(frame_decoder_next(&d, &f), -1);
    CHECK_STR(frame_decoder_error(&d), "bad magic 0xffffffff (not a Stratus worker frame)");
    frame_decoder_free(&d);
    buf_free(&b);
}

TEST(frame_feed_before_drained)
{
    buf_t b;
    buf_init(&b, BIG);
    put(&b, FRAME_PING, 1, NULL, NULL, 0);
    put(&b, FRAME_PING, 2, NULL, NULL, 0);
    frame_decoder_t d;
    frame_decoder_init(&d, FRAME_FROM_HOST);
    frame_t f;
    frame_decoder_feed(&d, b.p, b.len);
    CHECK_INT(frame_decoder_next(&d, &f), 1);
    CHECK_INT(frame_decoder_feed(&d, b.p, b.len), -1);
    CHECK_CONTAINS(frame_decoder_error(&d), "before the previous chunk was drained");
    frame_decoder_free(&d);

    /* Feeding right after the last whole frame is fine: nothing is left. */
    frame_decoder_init(&d, FRAME_FROM_HOST);
    frame_decoder_feed(&d, b.p, FRAME_HEADER_SIZE);
    CHECK_INT(frame_decoder_next(&d, &f), 1);
    CHECK_INT(frame_decoder_feed(&d, b.p + FRAME_HEADER_SIZE, FRAME_HEADER_SIZE), 0);
    CHECK_INT(frame_decoder_next(&d, &f), 1);
    CHECK_INT(f.id, 2);
    frame_decoder_free(&d);
    buf_free(&b);
}

TEST(frame_encode_refusals)
{
    buf_t b;
    buf_init(&b, BIG);
    put(&b, FRAME_PING, 0, NULL, NULL, 0);
    size_t len = b.len;
    CHECK_INT(frame_encode(&b, 0, 0, NULL, 0, NULL, 0), -1);
    CHECK_INT(frame_encode(&b, 99, 0, NULL, 0, NULL, 0), -1);
    CHECK_INT(frame_encode(&b, FRAME_INVOKE, 0, NULL, 0, NULL, 0), -1);
    CHECK_INT(frame_encode(&b, FRAME_RESULT, 0, NULL, 0, NULL, 0), -1);
    CHECK_INT(frame_encode(&b, FRAME_LOG, 0, "x", (size_t)FRAME_MAX_META + 1, NULL, 0), -1);
    CHECK_INT(frame_encode(&b, FRAME_LOG, 0, NULL, 0, "x", (size_t)FRAME_MAX_BODY + 1), -1);
    CHECK_INT(b.len, len);

    buf_t small;
    buf_init(&small, 30);
    CHECK_INT(frame_encode(&small, FRAME_LOG, 0, "{}", 2, "1234", 4), 0); /* 30 bytes */
    CHECK_INT(frame_encode(&small, FRAME_PONG, 0, NULL, 0, NULL, 0), -1); /* past max */
    CHECK_INT(small.len, 30);
    buf_free(&small);
    buf_free(&b);
}

TEST(frame_encode_json_refusals)
{
    buf_t b;
    buf_init(&b, BIG);
    put(&b, FRAME_PING, 0, NULL, NULL, 0);
    size_t len = b.len;
    json_t *arr = json_array();
    CHECK_INT(frame_encode_json(&b, FRAME_LOG, 0, arr, NULL, 0), -1);
    json_decref(arr);

    char *big = malloc(FRAME_MAX_META);
    memset(big, 'x', FRAME_MAX_META - 1);
    big[FRAME_MAX_META - 1] = '\0';
    json_t *o = json_pack("{s:s}", "message", big); /* > 1 MiB once quoted */
    CHECK_INT(frame_encode_json(&b, FRAME_LOG, 0, o, NULL, 0), -1);
    CHECK_INT(b.len, len);
    CHECK_INT(frame_encode_json(&b, FRAME_RESULT, 0, o, NULL, 0), -1); /* no id */
    json_decref(o);
    free(big);

    buf_t small;
    buf_init(&small, 40);
    json_t *m = json_pack("{s:s}", "message", "this will not fit in forty bytes");
    CHECK_INT(frame_encode_json(&small, FRAME_LOG, 0, m, NULL, 0), -1);
    CHECK_INT(small.len, 0);
    json_decref(m);
    buf_free(&small);

    CHECK_INT(frame_encode_json(&b, FRAME_PONG, 4, NULL, "b", 1), 0); /* NULL = no meta */
    CHECK_INT(b.len, len + FRAME_HEADER_SIZE + 1);
    buf_free(&b);
}

TEST(frame_meta_json_errors)
{
    char err[200];
    frame_t f = {FRAME_RESULT, 1, SV_LIT("{\"ok\":"), SV_NULL};
    CHECK(frame_meta_json(&f, err, sizeof err) == NULL);
    CHECK_CONTAINS(err, "result frame: metadata is not valid JSON");
    f.meta = SV_LIT("[1,2]");
    CHECK(frame_meta_json(&f, err, sizeof err) == NULL);
    CHECK_STR(err, "result frame: metadata is an array, not a JSON object");
    f.meta = SV_LIT("\"s\"");
    CHECK(frame_meta_json(&f, err, sizeof err) == NULL);
    CHECK_STR(err, "result frame: metadata is a string, not a JSON object");
    f.meta = SV_LIT("{\"m\":\"\xc3\x28\"}"); /* invalid UTF-8 */
    CHECK(frame_meta_json(&f, err, sizeof err) == NULL);
    f.meta = SV_LIT("{} {}");
    CHECK(frame_meta_json(&f, err, sizeof err) == NULL);
    f.meta = SV_LIT("{\"a\":1}\0");
    CHECK(frame_meta_json(&f, NULL, 0) == NULL);
    f.meta = SV_LIT(" {\"a\": [1, {\"b\": null}]}\n");
    json_t *j = frame_meta_json(&f, err, sizeof err);
    CHECK(json_is_object(j));
    json_decref(j);
}

TEST(frame_gathered_write_matches_encode)
{
    /* A sender may write header + meta + body from separate buffers. */
    buf_t a, g;
    buf_init(&a, BIG);
    buf_init(&g, BIG);
    put(&a, FRAME_INVOKE, 77, "{\"function\":\"f\"}", "BODY", 4);
    uint8_t h[FRAME_HEADER_SIZE];
    frame_header_pack(h, FRAME_INVOKE, 77, 16, 4);
    buf_append(&g, h, sizeof h);
    buf_puts(&g, "{\"function\":\"f\"}");
    buf_puts(&g, "BODY");
    CHECK(a.len == g.len && memcmp(a.p, g.p, a.len) == 0);
    CHECK_INT(frame_type_sender(FRAME_INVOKE), FRAME_FROM_HOST);
    CHECK_INT(frame_type_sender(FRAME_PONG), FRAME_FROM_WORKER);
    CHECK(frame_type_needs_id(FRAME_CANCEL) && !frame_type_needs_id(FRAME_PING));
    buf_free(&a);
    buf_free(&g);
}

TEST(frame_empty_feeds)
{
    frame_decoder_t d;
    frame_decoder_init(&d, FRAME_FROM_HOST);
    frame_t f;
    CHECK_INT(frame_decoder_feed(&d, NULL, 0), 0);
    CHECK_INT(frame_decoder_next(&d, &f), 0);
    CHECK_INT(frame_decoder_feed(&d, "", 0), 0);
    CHECK_INT(frame_decoder_next(&d, &f), 0);
    CHECK_INT(frame_decoder_pending(&d), 0);
    CHECK(frame_decoder_error(&d) == NULL);
    frame_decoder_free(&d);
}

int main(void)
{
    RUN(frame_layout_bytes);
    RUN(frame_roundtrip_zero_copy);
    RUN(frame_take_body_of_a_split_frame);
    RUN(frame_full_id_range);
    RUN(frame_json_roundtrip);
    RUN(frame_zero_length_parts);
    RUN(frame_many_in_one_chunk);
    RUN(frame_split_at_every_byte);
    RUN(frame_every_chunk_size);
    RUN(frame_large_body_in_small_chunks);
    RUN(frame_bad_magic);
    RUN(frame_other_version);
    RUN(frame_unknown_type);
    RUN(frame_wrong_direction_and_missing_id);
    RUN(frame_limits);
    RUN(frame_huge_lengths_allocate_nothing);
    RUN(frame_error_is_sticky);
    RUN(frame_error_after_good_frames_in_chunk);
    RUN(frame_feed_before_drained);
    RUN(frame_encode_refusals);
    RUN(frame_encode_json_refusals);
    RUN(frame_meta_json_errors);
    RUN(frame_gathered_write_matches_encode);
    RUN(frame_empty_feeds);
    return TEST_REPORT();
}
