// frames.js -- the worker protocol's frames for the Node.js worker
// (docs/worker-protocol.md): a 24-byte little-endian header (magic, type,
// id, meta length, body length), JSON metadata, raw body.
//
// FrameReader cuts the socket's byte stream into frames; FrameWriter gathers
// every frame of one event-loop turn into one buffer so that the worker
// answers a whole batch with one socket write. Node's standard library only.
'use strict';

const MAGIC = 0x53545201; // "STR" + protocol version 1
const HEADER = 24;
const MAX_META = 1 << 20;
const MAX_BODY = 256 << 20;
const TWO32 = 4294967296;

const T = {
  HELLO: 1, READY: 2, LOAD: 3, LOADED: 4, INVOKE: 5, RESULT: 6, LOG: 7,
  CANCEL: 8, PING: 9, PONG: 10, SHUTDOWN: 11,
};

// Frame types the host may send.
const FROM_HOST = new Set([T.READY, T.LOAD, T.INVOKE, T.CANCEL, T.PING, T.SHUTDOWN]);

// FrameReader: push() each chunk read from the socket (the chunk may be
// reused once push returns); onFrame(type, id, buf, metaStart, metaLen,
// bodyStart, bodyLen) is called for every whole frame, in order. buf is only
// valid during the call (copy the body to keep it). onError(reason) is
// called once for a malformed stream; nothing is delivered after it.
class FrameReader {
  constructor(onFrame, onError) {
    this.onFrame = onFrame;
    this.onError = onError;
    this.rest = null;     // fewer than HEADER bytes left over from a chunk
    this.part = null;     // a frame arriving in pieces: its whole storage
    this.partFill = 0;
    this.failed = false;
  }

  push(chunk) {
    if (this.failed) return;
    let buf = chunk;
    let pos = 0;
    if (this.part) {
      const want = this.part.length - this.partFill;
      const n = Math.min(want, chunk.length);
      chunk.copy(this.part, this.partFill, 0, n);
      this.partFill += n;
      if (n < want) return;
      const whole = this.part;
      this.part = null;
      this.deliver(whole, 0);
      if (this.failed) return;
      pos = n;
    } else if (this.rest) {
      buf = Buffer.concat([this.rest, chunk]);
      this.rest = null;
    }
    const len = buf.length;
    while (len - pos >= HEADER) {
      const total = this.check(buf, pos);
      if (total < 0) return;
      if (len - pos < total) {
        // Keep the frame's bytes in storage of its final size, so a large
        // body arriving in many reads is copied once.
        this.part = Buffer.allocUnsafe(total);
        buf.copy(this.part, 0, pos, len);
        this.partFill = len - pos;
        return;
      }
      this.deliver(buf, pos);
      if (this.failed) return;
      pos += total;
    }
    if (pos < len) this.rest = Buffer.from(buf.subarray(pos, len));
  }

  // The frame's total size, or -1 after reporting a malformed header.
  check(buf, pos) {
    const magic = buf.readUInt32LE(pos);
    if (magic !== MAGIC) {
      return this.fail((magic & 0xffffff00) === 0x53545200
        ? 'unsupported protocol version ' + (magic & 0xff)
        : 'bad magic 0x' + magic.toString(16).padStart(8, '0') + ' (not a Stratus worker frame)');
    }
    const type = buf.readUInt32LE(pos + 4);
    if (!FROM_HOST.has(type)) return this.fail('unexpected frame type ' + type);
    const metaLen = buf.readUInt32LE(pos + 16);
    const bodyLen = buf.readUInt32LE(pos + 20);
    if (metaLen > MAX_META) return this.fail('metadata of ' + metaLen + ' bytes is over the limit');
    if (bodyLen > MAX_BODY) return this.fail('body of ' + bodyLen + ' bytes is over the limit');
    return HEADER + metaLen + bodyLen;
  }

  deliver(buf, pos) {
    const type = buf.readUInt32LE(pos + 4);
    const id = buf.readUInt32LE(pos + 12) * TWO32 + buf.readUInt32LE(pos + 8);
    const metaLen = buf.readUInt32LE(pos + 16);
    const bodyLen = buf.readUInt32LE(pos + 20);
    if (id === 0 && (type === T.INVOKE || type === T.CANCEL)) {
      this.fail('frame type ' + type + ' with id 0');
      return;
    }
    this.onFrame(type, id, buf, pos + HEADER, metaLen, pos + HEADER + metaLen, bodyLen);
  }

  fail(reason) {
    this.failed = true;
    this.onError(reason);
    return -1;
  }
}

// Bodies at least this large are written from their own storage instead of
// being copied into the batch buffer.
const BIG_BODY = 64 * 1024;

// FrameWriter: add() appends a frame to the pending batch; flush() writes the
// batch with one socket write (a writev when large bodies are in it).
// onPending() is called when a batch starts, to schedule the flush.
class FrameWriter {
  constructor(socket, onPending) {
    this.socket = socket;
    this.onPending = onPending;
    this.buf = Buffer.allocUnsafeSlow(64 * 1024);
    this.len = 0;
    this.start = 0;      // where the part of buf not yet in chunks begins
    this.chunks = null;  // earlier parts of the batch, when it has big bodies
    this.pending = false;
    this.held = false;   // a read batch is being handled: release() flushes
    this.maxMeta = MAX_META; // lowered by the host's READY
    this.maxBody = MAX_BODY;
  }

  // Throw a RangeError, before anything is written, when a frame would pass
  // the limits (the host ends a worker that sends such a frame).
  checkSize(meta, body) {
    if (meta.length * 3 > this.maxMeta && Buffer.byteLength(meta) > this.maxMeta) {
      throw new RangeError('the metadata is ' + Buffer.byteLength(meta) + ' bytes, more than the ' +
        this.maxMeta + ' a frame may carry');
    }
    const n = body === null ? 0 : typeof body === 'string'
      ? (body.length * 3 > this.maxBody ? Buffer.byteLength(body) : 0) : body.length;
    if (n > this.maxBody) {
      throw new RangeError('the body is ' + n + ' bytes, more than the ' + this.maxBody +
        ' a frame may carry');
    }
  }

  reserve(n) {
    if (this.len + n <= this.buf.length) return;
    const grown = Buffer.allocUnsafeSlow(Math.max(this.buf.length * 2, this.len + n));
    this.buf.copy(grown, 0, this.start, this.len);
    this.len -= this.start;
    this.start = 0;
    this.buf = grown;
  }

  // Append one frame. meta is the JSON text ('' for none); body a string
  // (sent as UTF-8), a Buffer or Uint8Array, or null. Throws a RangeError
  // (and appends nothing) when the frame is over the limits.
  add(type, id, meta, body) {
    this.checkSize(meta, body);
    if (typeof body === 'string') {
      if (body.length >= BIG_BODY) body = Buffer.from(body, 'utf8');
      else return this.addText(type, id, meta, body);
    }
    const bodyLen = body ? body.length : 0;
    const big = bodyLen >= BIG_BODY;
    this.reserve(HEADER + meta.length * 3 + (big ? 0 : bodyLen));
    const buf = this.buf;
    const at = this.len;
    const metaLen = meta.length ? buf.utf8Write(meta, at + HEADER) : 0;
    this.header(at, type, id, metaLen, bodyLen);
    this.len = at + HEADER + metaLen;
    if (big) {
      if (!this.chunks) this.chunks = [];
      this.chunks.push(buf.subarray(this.start, this.len), body);
      this.start = this.len;
    } else if (bodyLen) {
      buf.set(body, this.len);
      this.len += bodyLen;
    }
    this.added();
  }

  // A frame whose body is a (short) string, encoded straight into the batch.
  addText(type, id, meta, text) {
    this.reserve(HEADER + (meta.length + text.length) * 3);
    const buf = this.buf;
    const at = this.len;
    const metaLen = meta.length ? buf.utf8Write(meta, at + HEADER) : 0;
    const bodyLen = text.length ? buf.utf8Write(text, at + HEADER + metaLen) : 0;
    this.header(at, type, id, metaLen, bodyLen);
    this.len = at + HEADER + metaLen + bodyLen;
    this.added();
  }

  header(at, type, id, metaLen, bodyLen) {
    const buf = this.buf;
    buf.writeUInt32LE(MAGIC, at);
    buf.writeUInt32LE(type, at + 4);
    buf.writeUInt32LE(id % TWO32, at + 8);
    buf.writeUInt32LE(Math.floor(id / TWO32), at + 12);
    buf.writeUInt32LE(metaLen, at + 16);
    buf.writeUInt32LE(bodyLen, at + 20);
  }

  added() {
    if (!this.pending) {
      this.pending = true;
      if (!this.held) this.onPending();
    }
  }

  // hold() while the frames of one read are handled, release() from a
  // microtask queued after them: the results of every invocation that
  // finished by then (synchronously or in an already-resolved promise) leave
  // in one write without waiting for another turn of the event loop; frames
  // added later are flushed by onPending() as usual.
  hold() {
    this.held = true;
  }

  release() {
    this.held = false;
    if (this.pending) this.flush();
  }

  // Write the pending batch. cb, when given, runs once it has been written.
  flush(cb) {
    this.pending = false;
    const sock = this.socket;
    if (this.len === 0 && !this.chunks) {
      if (cb) sock.write(Buffer.alloc(0), cb);
      return;
    }
    if (this.chunks) {
      if (this.len > this.start) this.chunks.push(this.buf.subarray(this.start, this.len));
      const chunks = this.chunks;
      this.chunks = null;
      sock.cork();
      for (let i = 0; i < chunks.length; i++)
        sock.write(chunks[i], i === chunks.length - 1 ? cb : undefined);
      sock.uncork();
      this.buf = Buffer.allocUnsafeSlow(this.buf.length);
    } else {
      sock.write(this.buf.subarray(0, this.len), cb);
      // A write that completed at once leaves nothing queued: the buffer can
      // be reused. Otherwise it still belongs to the pending write.
      if (sock.writableLength !== 0) this.buf = Buffer.allocUnsafeSlow(this.buf.length);
    }
    this.len = 0;
    this.start = 0;
  }
}

module.exports = { T, MAGIC, HEADER, MAX_META, MAX_BODY, FrameReader, FrameWriter };
