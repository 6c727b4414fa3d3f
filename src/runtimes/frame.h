/*
 * frame.h -- the worker protocol's frame codec (DESIGN.md section 7,
 * docs/worker-protocol.md): a 24-byte little-endian header, a JSON metadata
 * part and a raw body part.
 *
 *     offset  size  field
 *          0     4  magic: 0x535452VV, "STR" in the high bytes, the protocol
 *                   version VV in the low byte (on the wire: VV 'R' 'T' 'S')
 *          4     4  type (frame_type_t)
 *          8     8  id: the invocation id, 0 when the frame has none
 *         16     4  meta length (bytes of JSON; 0 = no metadata)
 *         20     4  body length (raw bytes)
 *         24     .  meta, then body
 *
 * Pure code: no libuv, no I/O, no globals, so the host, the native worker
 * and the fuzzers share it.
 *
 * Encoding appends whole frames to a caller's buf_t: a batch of frames is
 * built in one buffer and written with one call.
 *
 * Decoding is incremental. Lifecycle of a frame_decoder_t:
 *
 *   - frame_decoder_init() sets it up (no allocation); frame_decoder_free()
 *     releases what it holds. It may be embedded in any struct.
 *   - frame_decoder_feed() hands it one chunk of bytes as read from the
 *     socket. The decoder does not copy the chunk: the caller keeps it alive
 *     and unchanged until frame_decoder_next() has returned 0 or -1.
 *   - frame_decoder_next() is then called until it returns 0 (every whole
 *     frame of the chunk has been returned; the bytes of a frame that is not
 *     complete yet have been copied inside, and the chunk may be reused) or
 *     -1 (protocol error). Feeding again before that is a caller error.
 *   - The views in a returned frame_t point into the chunk (a frame that
 *     arrived whole) or into the decoder (a frame that arrived in pieces).
 *     They are valid until the next call of frame_decoder_next(),
 *     frame_decoder_feed() or frame_decoder_free(), and never longer than
 *     the chunk. Copy what must live longer.
 *   - After a protocol error the decoder stays failed: every later feed and
 *     next returns -1, and frame_decoder_error() says why, in words fit for
 *     a log line ("bad magic 0x12345678 (not a Stratus worker frame)").
 *
 * Sizes are checked from the header before anything is allocated, and the
 * storage for a split frame grows only as its bytes arrive, so a peer
 * cannot make the decoder allocate memory it has not sent.
 */
#ifndef STRATUS_FRAME_H
#define STRATUS_FRAME_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "../util/buf.h"
#include "../util/sv.h"

#define FRAME_PROTOCOL_VERSION 1
#define FRAME_MAGIC (0x53545200u | FRAME_PROTOCOL_VERSION) /* "STR" + version */
#define FRAME_HEADER_SIZE 24
#define FRAME_MAX_META (1u << 20)   /* 1 MiB of JSON per frame */
#define FRAME_MAX_BODY (256u << 20) /* 256 MiB of body per frame */

typedef enum frame_type {
    FRAME_HELLO = 1, /* worker -> host: {"runtime","protocol","pid","concurrency"} */
    FRAME_READY,     /* host -> worker: hello accepted {"protocol","workerId",limits} */
    FRAME_LOAD,      /* host -> worker: {"appRoot","settings","functions":[...]} */
    FRAME_LOADED,    /* worker -> host: {"functions":[{"name","ok","error"}]} */
    FRAME_INVOKE,    /* host -> worker, id: function, trigger, http; body = data */
    FRAME_RESULT,    /* worker -> host, id: {"ok","error","status","headers","outputs"} */
    FRAME_LOG,       /* worker -> host, id or 0: {"level","message","category"} */
    FRAME_CANCEL,    /* host -> worker, id: stop this invocation if possible */
    FRAME_PING,      /* host -> worker, id = sequence number */
    FRAME_PONG,      /* worker -> host, the ping's id */
    FRAME_SHUTDOWN,  /* host -> worker: finish in-flight work, then exit 0 */
    FRAME_TYPE_MAX = FRAME_SHUTDOWN
} frame_type_t;

/* Who sends a frame type; also the `accept` argument of the decoder. */
#define FRAME_FROM_HOST 1u
#define FRAME_FROM_WORKER 2u
#define FRAME_FROM_ANY (FRAME_FROM_HOST | FRAME_FROM_WORKER)

/* A decoded frame. meta is JSON text (not NUL-terminated; n == 0 when the
 * frame has none), body the raw bytes. Both are views: see the lifecycle. */
typedef struct frame {
    uint32_t type;
    uint64_t id;
    sv_t meta;
    sv_t body;
} frame_t;

/* The decoder. Its fields are private; it is declared here so that it can be
 * embedded without an allocation. */
typedef struct frame_decoder {
    buf_t part;          /* a frame that arrived split, from its first byte */
    int part_done;       /* part holds a frame already returned by next() */
    const uint8_t *in;   /* the rest of the fed chunk, not decoded yet */
    size_t in_len;
    uint32_t max_meta;
    uint32_t max_body;
    unsigned accept;     /* FRAME_FROM_* */
    int failed;
    char err[160];
} frame_decoder_t;

/* The name of a frame type ("invoke"), or NULL when the type is unknown. */
const char *frame_type_name(uint32_t type);

/* FRAME_FROM_HOST or FRAME_FROM_WORKER for a known type, 0 for an unknown
 * one. */
unsigned frame_type_sender(uint32_t type);

/* 1 when frames of this type must carry a non-zero id (invoke, result,
 * cancel), else 0. */
int frame_type_needs_id(uint32_t type);

/* Write a frame header into out (no checks; for callers that send the body
 * from its own storage with a gathered write). */
void frame_header_pack(uint8_t out[FRAME_HEADER_SIZE], uint32_t type, uint64_t id,
                       uint32_t meta_len, uint32_t body_len);

/* Append one frame to out: header, meta_len bytes of meta (JSON object text,
 * or nothing), body_len bytes of body. meta and body may be NULL when their
 * length is 0. Returns 0, or -1 with out unchanged when the type is
 * unknown, the type needs an id and id is 0, meta or body exceed
 * FRAME_MAX_META / FRAME_MAX_BODY, or out would pass its maximum (or memory
 * ran out). The meta text is not validated. */
int frame_encode(buf_t *out, uint32_t type, uint64_t id, const char *meta, size_t meta_len,
                 const void *body, size_t body_len);

/* The same with the metadata as a JSON object, dumped compactly straight
 * into out; NULL means no metadata. -1 also when meta is not an object. The
 * caller keeps its reference to meta. */
int frame_encode_json(buf_t *out, uint32_t type, uint64_t id, const json_t *meta,
                      const void *body, size_t body_len);

/* Set up a decoder that accepts the frame types sent by `accept`
 * (FRAME_FROM_WORKER on the host, FRAME_FROM_HOST in a worker,
 * FRAME_FROM_ANY for tools), with the protocol limits. */
void frame_decoder_init(frame_decoder_t *d, unsigned accept);

/* Lower the limits for meta and body (0, or a value above the protocol
 * limit, keeps the protocol limit). Call before the first feed. */
void frame_decoder_limit(frame_decoder_t *d, uint32_t max_meta, uint32_t max_body);

/* Release the decoder's storage. It may be initialised again. */
void frame_decoder_free(frame_decoder_t *d);

/* Hand the decoder the next chunk (len may be 0). Returns 0, or -1 when the
 * decoder has failed or the previous chunk was not drained (then it fails
 * with a message saying so). data must outlive the calls of
 * frame_decoder_next() that follow, up to the one returning 0 or -1. */
int frame_decoder_feed(frame_decoder_t *d, const void *data, size_t len);

/* The next whole frame: 1 with *out set, 0 when more bytes are needed, -1 on
 * a protocol error (see frame_decoder_error). The header is checked as soon
 * as its bytes arrive, so an error is reported before the frame's payload is
 * waited for. */
int frame_decoder_next(frame_decoder_t *d, frame_t *out);

/* Move the body of f, the frame next() returned last, into dst without
 * copying it when the frame arrived in pieces (its storage is then the
 * decoder's, handed over). Returns 1 when moved (dst's old contents are
 * freed; f's views must not be used any more), 0 when the frame arrived
 * whole in the chunk or its body is larger than dst's maximum: copy it. */
int frame_decoder_take_body(frame_decoder_t *d, const frame_t *f, buf_t *dst);

/* Why the decoder failed, or NULL while it has not. */
const char *frame_decoder_error(const frame_decoder_t *d);

/* Bytes received but not yet returned as frames: at end of stream, a
 * non-zero value means the peer stopped in the middle of a frame. */
size_t frame_decoder_pending(const frame_decoder_t *d);

/* Parse a frame's metadata. Returns a new reference to a JSON object (an
 * empty one when the frame has no metadata), or NULL with a message in err
 * when it is not valid UTF-8 JSON or not an object. */
json_t *frame_meta_json(const frame_t *f, char *err, size_t errlen);

#endif
