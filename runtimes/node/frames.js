// frames.js -- the worker protocol's frames for the Node.js worker
// (docs/worker-protocol.md): a 24-byte little-endian header (magic, type,
// id, meta length, body length), JSON metadata, raw body.
//
// FrameReader cuts the socket's byte stream into frames; FrameWriter gathers
// the frames of one batch (one read's, or one event-loop turn's) into one
// buffer so that the worker answers a whole batch with one socket write.
// Both sit on the worker's path for every invocation: they read and write
// header fields through a DataView and short texts with a loop, which V8
// compiles to less than a call of Buffer's checked readers and writers
// costs. Node's standard library only.
'use strict';

const fs = require('fs');

const MAGIC = 0x53545201; // "STR" + protocol version 1
const HEADER = 24;
const MAX_META = 1 << 20;
const MAX_BODY = 256 << 20;
const TWO32 = 4294967296;

const T = {
  HELLO: 1, READY: 2, LOAD: 3, LOADED: 4, INVOKE: 5, RESULT: 6, LOG: 7,
  CANCEL: 8, PING: 9, PONG: 10, SHUTDOWN: 11,
};

// Frame types the host may send, as a bit mask.
const FROM_HOST = (1 << T.READY) | (1 << T.LOAD) | (1 << T.INVOKE) | (1 << T.CANCEL) |
  (1 << T.PING) | (1 << T.SHUTDOWN);

// A little-endian uint32 at pos (the caller checked the bounds): plain
// byte reads, which V8 compiles to a few instructions, where
// Buffer#readUInt32LE validates its arguments on every call.
function u32(buf, pos) {
  return (buf[pos] | (buf[pos + 1] << 8) | (buf[pos + 2] << 16) | (buf[pos + 3] << 24)) >>> 0;
}

// FrameReader: push(chunk, len) each chunk read from the socket (its first
// len bytes, all by default; the chunk may be reused once push returns);
// onFrame(type, id, buf, metaStart, metaLen, bodyStart, bodyLen) is called
// for every whole frame, in order. buf is only valid during the call (copy
// the body to keep it). onError(reason) is called once for a malformed
// stream; nothing is delivered after it.
class FrameReader {
  constructor(onFrame, onError) {
    this.onFrame = onFrame;
    this.onError = onError;
    this.rest = null;     // fewer than HEADER bytes left over from a chunk
    this.part = null;     // a frame arriving in pieces: its whole storage
    this.partFill = 0;
    this.failed = false;
    this.viewOf = null;   // the buffer this.dv views
    this.dv = null;
  }

  push(chunk, len = chunk.length) {
    if (this.failed) return;
    let buf = chunk;
    let end = len;
    let pos = 0;
    if (this.part) {
      const want = this.part.length - this.partFill;
      const n = Math.min(want, len);
      chunk.copy(this.part, this.partFill, 0, n);
      this.partFill += n;
      if (n < want) return;
      const whole = this.part;
      this.part = null;
      this.deliver(whole, 0);
      if (this.failed) return;
      pos = n;
    } else if (this.rest) {
      buf = Buffer.concat([this.rest, chunk.subarray(0, len)]);
      end = buf.length;
      this.rest = null;
    }
    const dv = this.view(buf);
    while (end - pos >= HEADER) {
      const type = dv.getUint32(pos + 4, true);
      const metaLen = dv.getUint32(pos + 16, true);
      const bodyLen = dv.getUint32(pos + 20, true);
      if (dv.getUint32(pos, true) !== MAGIC || type > 31 || ((FROM_HOST >>> type) & 1) === 0 ||
          metaLen > MAX_META || bodyLen > MAX_BODY) {
        this.bad(buf, pos);
        return;
      }
      const total = HEADER + metaLen + bodyLen;
      if (end - pos < total) {
        // Keep the frame's bytes in storage of its final size, so a large
        // body arriving in many reads is copied once.
        this.part = Buffer.allocUnsafe(total);
        buf.copy(this.part, 0, pos, end);
        this.partFill = end - pos;
        return;
      }
      // A small integer when it fits (the usual case): it keys maps.
      const hi = dv.getUint32(pos + 12, true);
      const id = hi === 0 ? dv.getUint32(pos + 8, true) : hi * TWO32 + dv.getUint32(pos + 8, true);
      if (id === 0 && (type === T.INVOKE || type === T.CANCEL)) {
        this.fail('frame type ' + type + ' with id 0');
        return;
      }
      this.onFrame(type, id, buf, pos + HEADER, metaLen, pos + HEADER + metaLen, bodyLen);
      if (this.failed) return;
      pos += total;
    }
    if (pos < end) this.rest = Buffer.from(buf.subarray(pos, end));
  }

  // A DataView of buf (the last one kept: reads land in the same buffer).
  view(buf) {
    if (buf !== this.viewOf) {
      this.viewOf = buf;
      this.dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    }
    return this.dv;
  }

  // Report what is wrong with a frame header that failed the checks.
  bad(buf, pos) {
    const magic = u32(buf, pos);
    const type = u32(buf, pos + 4);
    if (magic !== MAGIC) {
      this.fail((magic & 0xffffff00) === 0x53545200
        ? 'unsupported protocol version ' + (magic & 0xff)
        : 'bad magic 0x' + magic.toString(16).padStart(8, '0') + ' (not a Stratus worker frame)');
    } else if (type > 31 || ((FROM_HOST >>> type) & 1) === 0) {
      this.fail('unexpected frame type ' + type);
    } else if (u32(buf, pos + 16) > MAX_META) {
      this.fail('metadata of ' + u32(buf, pos + 16) + ' bytes is over the limit');
    } else {
      this.fail('body of ' + u32(buf, pos + 20) + ' bytes is over the limit');
    }
  }

  deliver(buf, pos) {
    const type = u32(buf, pos + 4);
    // A small integer when it fits (the usual case): it keys maps.
    const hi = u32(buf, pos + 12);
    const id = hi === 0 ? u32(buf, pos + 8) : hi * TWO32 + u32(buf, pos + 8);
    const metaLen = u32(buf, pos + 16);
    const bodyLen = u32(buf, pos + 20);
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

// Strings up to this long are stored by a loop while they are ASCII; a
// native utf8Write call costs more than that for short texts.
const SHORT_TEXT = 64;

// Write a string as UTF-8 (or a Buffer's bytes) at pos, where the caller
// reserved 3 bytes per character; returns the number of bytes written.
function putText(buf, text, pos) {
  const n = text.length;
  if (n === 0) return 0;
  if (typeof text !== 'string') {
    buf.set(text, pos);
    return n;
  }
  if (n <= SHORT_TEXT) {
    let i = 0;
    for (; i < n; i++) {
      const c = text.charCodeAt(i);
      if (c > 0x7f) break;
      buf[pos + i] = c;
    }
    if (i === n) return n;
  }
  return buf.utf8Write(text, pos);
}

// Bodies at least this large are written from their own storage instead of
// being copied into the batch buffer.
const BIG_BODY = 64 * 1024;

// FrameWriter: add() appends a frame to the pending batch; flush() writes the
// batch with one socket write (a writev when large bodies are in it).
// onPending() is called when a batch starts, to schedule the flush.
class FrameWriter {
  // fd: the socket's descriptor, written directly when the stream has
  // nothing queued (-1: always through the stream).
  constructor(socket, onPending, fd = -1) {
    this.socket = socket;
    this.onPending = onPending;
    this.fd = fd;
    this.buf = null;
    this.dv = null;      // a DataView of buf, for the headers
    this.setBuf(Buffer.allocUnsafeSlow(64 * 1024));
    this.len = 0;
    this.start = 0;      // where the part of buf not yet in chunks begins
    this.chunks = null;  // earlier parts of the batch, when it has big bodies
    this.pending = false;
    this.held = false;   // a read batch is being handled: release() flushes
    this.lastView = null;   // buf.subarray(0, n) of the last flush (see flush)
    this.lastViewOf = null;
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

  setBuf(buf) {
    this.buf = buf;
    this.dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  reserve(n) {
    if (this.len + n <= this.buf.length) return;
    const grown = Buffer.allocUnsafeSlow(Math.max(this.buf.length * 2, this.len + n));
    this.buf.copy(grown, 0, this.start, this.len);
    this.len -= this.start;
    this.start = 0;
    this.setBuf(grown);
  }

  // Append one frame. meta is the JSON text ('' for none) or its UTF-8
  // bytes (a Buffer); body a string (sent as UTF-8), a Buffer or Uint8Array,
  // or null. Throws a RangeError (and appends nothing) when the frame is
  // over the limits.
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
    const metaLen = putText(buf, meta, at + HEADER);
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
    const metaLen = putText(buf, meta, at + HEADER);
    const bodyLen = putText(buf, text, at + HEADER + metaLen);
    this.header(at, type, id, metaLen, bodyLen);
    this.len = at + HEADER + metaLen + bodyLen;
    this.added();
  }

  header(at, type, id, metaLen, bodyLen) {
    const dv = this.dv;
    dv.setUint32(at, MAGIC, true);
    dv.setUint32(at + 4, type, true);
    if (id < TWO32) {
      dv.setUint32(at + 8, id, true);
      dv.setUint32(at + 12, 0, true);
    } else {
      dv.setUint32(at + 8, id % TWO32, true);
      dv.setUint32(at + 12, Math.floor(id / TWO32), true);
    }
    dv.setUint32(at + 16, metaLen, true);
    dv.setUint32(at + 20, bodyLen, true);
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

  // Write the pending batch. cb, when given, runs once it has been written
  // (at once, when the socket takes it all: the batch is emptied first).
  flush(cb) {
    this.pending = false;
    const sock = this.socket;
    if (this.len === 0 && !this.chunks) {
      if (cb) sock.write(Buffer.alloc(0), cb);
      return;
    }
    const len = this.len;
    this.len = 0;
    if (this.chunks) {
      if (len > this.start) this.chunks.push(this.buf.subarray(this.start, len));
      const chunks = this.chunks;
      this.chunks = null;
      this.start = 0;
      // The chunks hold parts of the buffer: frames added from now on go
      // to a new one.
      this.setBuf(Buffer.allocUnsafeSlow(this.buf.length));
      sock.cork();
      for (let i = 0; i < chunks.length; i++)
        sock.write(chunks[i], i === chunks.length - 1 ? cb : undefined);
      sock.uncork();
    } else {
      let done = 0;
      if (this.fd >= 0 && !cb && sock.writableLength === 0) {
        // Nothing queued in the stream: write to the descriptor directly,
        // which costs far less than the stream's machinery. What the socket
        // does not take at once (full, or an error such as EPIPE) goes
        // through the stream, which queues it or reports the error.
        try {
          done = fs.writeSync(this.fd, this.buf, 0, len);
        } catch (e) {
          done = 0;
        }
      }
      if (done < len) {
        const buf = this.buf;
        // The batches of a steady load are often of one size: the view of
        // the last one is reused when it fits (no Buffer made per write).
        let part = this.lastView;
        if (done !== 0 || part === null || this.lastViewOf !== buf || part.length !== len) {
          part = buf.subarray(done, len);
          if (done === 0) {
            this.lastView = part;
            this.lastViewOf = buf;
          }
        }
        sock.write(part, cb);
        // A write that completed at once leaves nothing queued: the buffer
        // can be reused. Otherwise it still belongs to the pending write.
        if (sock.writableLength !== 0 && this.buf === buf) this.setBuf(Buffer.allocUnsafeSlow(buf.length));
      }
    }
  }

  // Write the pending batch now, with blocking writes to fd, for a process
  // that is exiting: no later turn of the event loop will flush it. Skipped
  // while an earlier write is still queued in the stream (bytes written
  // ahead of it would cut a frame in two). Errors are ignored: the host
  // may be gone.
  flushSync(fd) {
    if (this.socket.writableLength !== 0) return;
    const parts = this.chunks || [];
    if (this.len > this.start) parts.push(this.buf.subarray(this.start, this.len));
    this.chunks = null;
    this.len = 0;
    this.start = 0;
    this.pending = false;
    for (let i = 0; i < parts.length; i++) {
      if (!writeAll(fd, parts[i])) return;
    }
  }
}

// Write all of buf to fd, a non-blocking socket, waiting while it is full
// (at most a second in all). Whether it was all written.
function writeAll(fd, buf) {
  let off = 0;
  let waits = 0;
  while (off < buf.length) {
    try {
      off += fs.writeSync(fd, buf, off, buf.length - off);
    } catch (e) {
      if (e.code !== 'EAGAIN' || ++waits > 1000) return false;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1);
    }
  }
  return true;
}

// The worker's end of the host's socket, as the little FrameWriter needs of
// a stream: write(buf, cb), writableLength, cork()/uncork(), end(), and
// 'end'/'error' events through onEnd(). Reads land in rbuf; onData(n, rbuf)
// is called for each.
//
// Node's net module and the streams under it take about 3 ms to load, most
// of what a worker started for a request spends before its first frame.
// The socket is therefore driven through the pipe handle net.Socket itself
// wraps (process.binding('pipe_wrap'), with its read and write requests from
// 'stream_wrap'). Where that is not available (a Node.js without these
// bindings, or the permission model refusing process.binding), it is a
// net.Socket with the same interface.
function openChannel(fd, rbuf, onData, onEnd) {
  let raw = null;
  const quiet = process.noDeprecation;
  try {
    process.noDeprecation = true;   // --pending-deprecation warns of process.binding
    raw = rawChannel(fd, rbuf, onData, onEnd);
  } catch (e) {
    raw = null;
  } finally {
    process.noDeprecation = quiet;
  }
  if (raw) return raw;
  const net = require('net');
  const socket = new net.Socket({
    fd, readable: true, writable: true,
    onread: { buffer: rbuf, callback: onData },
  });
  socket.on('end', onEnd);
  socket.on('error', onEnd);
  return socket;
}

function rawChannel(fd, rbuf, onData, onEnd) {
  const { Pipe, constants } = process.binding('pipe_wrap');
  const sw = process.binding('stream_wrap');
  const { WriteWrap, streamBaseState: state } = sw;
  const kRead = sw.kReadBytesOrError;
  const kAsync = sw.kLastWriteWasAsync;
  if (typeof Pipe !== 'function' || typeof WriteWrap !== 'function' || !state ||
      typeof kRead !== 'number' || typeof kAsync !== 'number' ||
      !constants || typeof constants.SOCKET !== 'number') return null;
  const handle = new Pipe(constants.SOCKET);
  if (typeof handle.open !== 'function' || typeof handle.useUserBuffer !== 'function' ||
      typeof handle.writeBuffer !== 'function' || typeof handle.readStart !== 'function') {
    handle.close();
    return null;
  }
  if (handle.open(fd) !== 0) {
    handle.close();
    return null;
  }
  let ended = false;
  function end() {
    if (ended) return;
    ended = true;
    onEnd();
  }
  const ch = {
    raw: true,
    writableLength: 0,   // bytes of writes the kernel has not taken yet
    write(buf, cb) {
      if (ended) return false;
      const req = new WriteWrap();
      req.handle = handle;
      req.buffer = buf;
      req.size = buf.length;
      req.callback = cb;
      req.oncomplete = written;
      req.async = false;
      const err = handle.writeBuffer(req, buf);
      if (err !== 0) {
        end();
        return false;
      }
      if (state[kAsync]) {
        req.async = true;
        ch.writableLength += req.size;
      } else if (cb) {
        cb();
      }
      return true;
    },
    cork() {},
    uncork() {},
    end() {},
  };
  function written(status) {
    // A write the kernel took later (this === the WriteWrap).
    ch.writableLength -= this.size;
    this.buffer = null;
    if (status < 0) {
      end();
      return;
    }
    if (this.callback) this.callback();
  }
  handle.onread = function onread() {
    const n = state[kRead];
    if (n > 0) onData(n, rbuf);
    else if (n < 0) end();     // end of file or an error: the host is gone
  };
  handle.useUserBuffer(rbuf);
  if (handle.readStart() !== 0) {
    handle.close();
    return null;
  }
  return ch;
}

module.exports = { T, MAGIC, HEADER, MAX_META, MAX_BODY, FrameReader, FrameWriter, openChannel };
