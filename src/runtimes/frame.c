/*
 * frame.c -- the worker protocol's frame codec (see frame.h and
 * docs/worker-protocol.md).
 *
 * The decoder works on the caller's chunk directly and copies only the
 * frame that straddles the chunk's end: a chunk that holds whole frames is
 * decoded without a copy, and every byte is copied at most once.
 */
#include "frame.h"

#include "../util/jsontok.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* A split frame's storage beyond this size is released once the frame has
 * been returned, so one large body does not pin memory for the worker's
 * lifetime. */
#define PART_KEEP (64u << 10)

static const struct {
    const char *name;
    unsigned sender;
    int needs_id;
} types[FRAME_TYPE_MAX + 1] = {
    [FRAME_HELLO] = {"hello", FRAME_FROM_WORKER, 0},
    [FRAME_READY] = {"ready", FRAME_FROM_HOST, 0},
    [FRAME_LOAD] = {"load", FRAME_FROM_HOST, 0},
    [FRAME_LOADED] = {"loaded", FRAME_FROM_WORKER, 0},
    [FRAME_INVOKE] = {"invoke", FRAME_FROM_HOST, 1},
    [FRAME_RESULT] = {"result", FRAME_FROM_WORKER, 1},
    [FRAME_LOG] = {"log", FRAME_FROM_WORKER, 0},
    [FRAME_CANCEL] = {"cancel", FRAME_FROM_HOST, 1},
    [FRAME_PING] = {"ping", FRAME_FROM_HOST, 0},
    [FRAME_PONG] = {"pong", FRAME_FROM_WORKER, 0},
    [FRAME_SHUTDOWN] = {"shutdown", FRAME_FROM_HOST, 0},
};

const char *frame_type_name(uint32_t type)
{
    return type <= FRAME_TYPE_MAX ? types[type].name : NULL;
}

unsigned frame_type_sender(uint32_t type)
{
    return type <= FRAME_TYPE_MAX ? types[type].sender : 0;
}

int frame_type_needs_id(uint32_t type)
{
    return type <= FRAME_TYPE_MAX ? types[type].needs_id : 0;
}

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t rd64(const uint8_t *p) { return (uint64_t)rd32(p) | (uint64_t)rd32(p + 4) << 32; }

static void wr32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

void frame_header_pack(uint8_t out[FRAME_HEADER_SIZE], uint32_t type, uint64_t id,
                       uint32_t meta_len, uint32_t body_len)
{
    wr32(out, FRAME_MAGIC);
    wr32(out + 4, type);
    wr32(out + 8, (uint32_t)id);
    wr32(out + 12, (uint32_t)(id >> 32));
    wr32(out + 16, meta_len);
    wr32(out + 20, body_len);
}

/* ---- encoding ---- */

static int encodable(uint32_t type, uint64_t id, size_t body_len)
{
    if (!frame_type_name(type))
        return 0;
    if (types[type].needs_id && id == 0)
        return 0;
    return body_len <= FRAME_MAX_BODY;
}

int frame_encode(buf_t *out, uint32_t type, uint64_t id, const char *meta, size_t meta_len,
                 const void *body, size_t body_len)
{
    if (!encodable(type, id, body_len) || meta_len > FRAME_MAX_META)
        return -1;
    if (buf_reserve(out, FRAME_HEADER_SIZE + meta_len + body_len) != 0)
        return -1;
    uint8_t *p = (uint8_t *)out->p + out->len;
    frame_header_pack(p, type, id, (uint32_t)meta_len, (uint32_t)body_len);
    if (meta_len)
        memcpy(p + FRAME_HEADER_SIZE, meta, meta_len);
    if (body_len)
        memcpy(p + FRAME_HEADER_SIZE + meta_len, body, body_len);
    out->len += FRAME_HEADER_SIZE + meta_len + body_len;
    out->p[out->len] = '\0';
    return 0;
}

typedef struct dump_ctx {
    buf_t *out;
    size_t meta_start;
} dump_ctx_t;

static int dump_cb(const char *text, size_t size, void *data)
{
    dump_ctx_t *c = data;
    if (c->out->len - c->meta_start + size > FRAME_MAX_META)
        return -1;
    return buf_append(c->out, text, size);
}

int frame_encode_json(buf_t *out, uint32_t type, uint64_t id, const json_t *meta,
                      const void *body, size_t body_len)
{
    if (!meta)
        return frame_encode(out, type, id, NULL, 0, body, body_len);
    if (!json_is_object(meta) || !encodable(type, id, body_len))
        return -1;
    size_t start = out->len;
    uint8_t header[FRAME_HEADER_SIZE] = {0};
    if (buf_append(out, header, sizeof header) != 0)
        return -1;
    dump_ctx_t c = {out, out->len};
    if (json_dump_callback(meta, dump_cb, &c, JSON_COMPACT) != 0 ||
        buf_append(out, body, body_len) != 0) {
        out->len = start;
        out->p[start] = '\0';
        return -1;
    }
    size_t meta_len = out->len - c.meta_start - body_len;
    frame_header_pack((uint8_t *)out->p + start, type, id, (uint32_t)meta_len, (uint32_t)body_len);
    return 0;
}

/* ---- decoding ---- */

void frame_decoder_init(frame_decoder_t *d, unsigned accept)
{
    memset(d, 0, sizeof *d);
    buf_init(&d->part, FRAME_HEADER_SIZE);
    d->max_meta = FRAME_MAX_META;
    d->max_body = FRAME_MAX_BODY;
    d->accept = accept;
}

void frame_decoder_limit(frame_decoder_t *d, uint32_t max_meta, uint32_t max_body)
{
    d->max_meta = max_meta && max_meta < FRAME_MAX_META ? max_meta : FRAME_MAX_META;
    d->max_body = max_body && max_body < FRAME_MAX_BODY ? max_body : FRAME_MAX_BODY;
}

void frame_decoder_free(frame_decoder_t *d)
{
    buf_free(&d->part);
    d->part_done = 0;
    d->in = NULL;
    d->in_len = 0;
}

const char *frame_decoder_error(const frame_decoder_t *d) { return d->failed ? d->err : NULL; }

size_t frame_decoder_pending(const frame_decoder_t *d)
{
    return (d->part_done ? 0 : d->part.len) + d->in_len;
}

__attribute__((format(printf, 2, 3))) static int fail(frame_decoder_t *d, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(d->err, sizeof d->err, fmt, ap);
    va_end(ap);
    d->failed = 1;
    d->in = NULL;
    d->in_len = 0;
    return -1;
}

/* Check the header fields among the first `avail` bytes of a frame (all of
 * them once avail >= FRAME_HEADER_SIZE, then *total is the frame's size).
 * 0, or -1 after failing the decoder. */
static int check_header(frame_decoder_t *d, const uint8_t *h, size_t avail, size_t *total)
{
    if (avail >= 4) {
        uint32_t magic = rd32(h);
        if ((magic & 0xffffff00u) != (FRAME_MAGIC & 0xffffff00u))
            return fail(d, "bad magic 0x%08x (not a Stratus worker frame)", magic);
        if (magic != FRAME_MAGIC)
            return fail(d, "protocol version %u is not supported (this side speaks %u)",
                        magic & 0xffu, FRAME_PROTOCOL_VERSION);
    }
    if (avail < 8)
        return 0;
    uint32_t type = rd32(h + 4);
    const char *name = frame_type_name(type);
    if (!name)
        return fail(d, "unknown frame type %u", type);
    if (!(types[type].sender & d->accept))
        return fail(d, "%s frame (type %u) is only sent by the %s", name, type,
                    types[type].sender == FRAME_FROM_HOST ? "host" : "worker");
    if (avail < 16)
        return 0;
    if (types[type].needs_id && rd64(h + 8) == 0)
        return fail(d, "%s frame without an invocation id", name);
    if (avail < 20)
        return 0;
    uint32_t meta_len = rd32(h + 16);
    if (meta_len > d->max_meta)
        return fail(d, "%s frame: metadata of %u bytes exceeds the limit of %u", name, meta_len,
                    d->max_meta);
    if (avail < FRAME_HEADER_SIZE)
        return 0;
    uint32_t body_len = rd32(h + 20);
    if (body_len > d->max_body)
        return fail(d, "%s frame: body of %u bytes exceeds the limit of %u", name, body_len,
                    d->max_body);
    *total = FRAME_HEADER_SIZE + (size_t)meta_len + body_len;
    return 0;
}

static void view(const uint8_t *p, frame_t *out)
{
    uint32_t meta_len = rd32(p + 16);
    out->type = rd32(p + 4);
    out->id = rd64(p + 8);
    out->meta = sv_make((const char *)p + FRAME_HEADER_SIZE, meta_len);
    out->body = sv_make((const char *)p + FRAME_HEADER_SIZE + meta_len, rd32(p + 20));
}

/* Forget the split frame that next() returned last time. */
static void part_release(frame_decoder_t *d)
{
    if (!d->part_done)
        return;
    if (d->part.cap > PART_KEEP)
        buf_free(&d->part);
    else
        buf_reset(&d->part);
    d->part.max = FRAME_HEADER_SIZE;
    d->part_done = 0;
}

int frame_decoder_take_body(frame_decoder_t *d, const frame_t *f, buf_t *dst)
{
    buf_t *part = &d->part;
    if (!d->part_done || !part->p || f->body.p < part->p ||
        f->body.p + f->body.n > part->p + part->len || f->body.n > dst->max)
        return 0;
    size_t n = f->body.n;
    memmove(part->p, f->body.p, n);
    part->len = n;
    part->p[n] = '\0';
    buf_move(dst, part); /* cannot fail: n <= dst->max */
    part->max = FRAME_HEADER_SIZE;
    d->part_done = 0;
    return 1;
}

/* Move up to n bytes of the chunk into part. */
static int part_take(frame_decoder_t *d, size_t n)
{
    if (n > d->in_len)
        n = d->in_len;
    if (buf_append(&d->part, d->in, n) != 0)
        return fail(d, "out of memory buffering a frame of %zu bytes", d->part.max);
    d->in += n;
    d->in_len -= n;
    return 0;
}

/* The header is known: the split frame is `total` bytes. Allow part to grow
 * that far, and make room at once for what a small frame needs; a large
 * frame's storage grows as its bytes arrive. */
static void part_expect(frame_decoder_t *d, size_t total)
{
    d->part.max = total;
    size_t want = total < PART_KEEP ? total : PART_KEEP;
    if (want > d->part.len)
        (void)buf_reserve(&d->part, want - d->part.len); /* part_take reports failure */
}

int frame_decoder_feed(frame_decoder_t *d, const void *data, size_t len)
{
    if (d->failed)
        return -1;
    if (d->in_len)
        return fail(d, "frame_decoder_feed called before the previous chunk was drained");
    part_release(d);
    d->in = data;
    d->in_len = len;
    return 0;
}

int frame_decoder_next(frame_decoder_t *d, frame_t *out)
{
    size_t total = 0;

    if (d->failed)
        return -1;
    part_release(d);

    if (d->part.len) { /* finish the frame that began in an earlier chunk */
        if (d->part.len < FRAME_HEADER_SIZE) {
            if (part_take(d, FRAME_HEADER_SIZE - d->part.len) != 0 ||
                check_header(d, (uint8_t *)d->part.p, d->part.len, &total) != 0)
                return -1;
            if (d->part.len < FRAME_HEADER_SIZE)
                return 0;
            part_expect(d, total);
        }
        if (!total)
            total = d->part.max;
        if (part_take(d, total - d->part.len) != 0)
            return -1;
        if (d->part.len < total)
            return 0;
        view((uint8_t *)d->part.p, out);
        d->part_done = 1;
        return 1;
    }

    if (!d->in_len)
        return 0;
    if (check_header(d, d->in, d->in_len, &total) != 0)
        return -1;
    if (total && d->in_len >= total) { /* whole in the chunk: no copy */
        view(d->in, out);
        d->in += total;
        d->in_len -= total;
        return 1;
    }
    /* The chunk ends inside this frame: keep its start until the rest comes.
     * The storage grows with the bytes that arrive, up to the frame's size. */
    if (total)
        part_expect(d, total);
    return part_take(d, d->in_len) != 0 ? -1 : 0;
}

/* ---- metadata ---- */

static const char *json_kind(const json_t *j)
{
    switch (json_typeof(j)) {
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER:
    case JSON_REAL: return "a number";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    case JSON_NULL: return "null";
    default: return "an object";
    }
}

json_t *frame_meta_json(const frame_t *f, char *err, size_t errlen)
{
    const char *name = frame_type_name(f->type);
    json_error_t jerr;

    if (!name)
        name = "unknown";
    if (f->meta.n == 0)
        return json_object();
    json_t *j = jt_loadb(f->meta.p, f->meta.n, JSON_DECODE_ANY, &jerr);
    if (!j) {
        if (err && errlen)
            snprintf(err, errlen, "%s frame: metadata is not valid JSON: %s (at byte %d)", name,
                     jerr.text, jerr.position);
        return NULL;
    }
    if (!json_is_object(j)) {
        if (err && errlen)
            snprintf(err, errlen, "%s frame: metadata is %s, not a JSON object", name,
                     json_kind(j));
        json_decref(j);
        return NULL;
    }
    return j;
}
