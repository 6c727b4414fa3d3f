'use strict';
// bench/ceiling/worker.js -- the Node.js worker of the design's ceiling
// (bench/ceiling/host.c). It reads invoke frames from the host on file
// descriptor 3, calls a hello function with each request's URL, and answers
// all the frames of one read in one write.
//
// Frame: [u32 length][u32 connection id][payload], little-endian; length
// counts the id and the payload. Invoke payload: the request URL; answer
// payload: the response body.

const net = require('net');

const sock = new net.Socket({ fd: 3, readable: true, writable: true });
const HELLO = Buffer.from('hello\n');

function hello(url) {
  return HELLO;
}

let rest = null;   // the start of a frame that has not fully arrived yet

sock.on('data', (chunk) => {
  const buf = rest ? Buffer.concat([rest, chunk]) : chunk;
  const answers = [];
  let off = 0;
  while (buf.length - off >= 8) {
    const len = buf.readUInt32LE(off);
    if (len < 4) throw new Error(`bad frame length ${len}`);
    if (buf.length - off - 4 < len) break;
    const id = buf.readUInt32LE(off + 4);
    const body = hello(buf.toString('latin1', off + 8, off + 4 + len));
    const head = Buffer.allocUnsafe(8);
    head.writeUInt32LE(4 + body.length, 0);
    head.writeUInt32LE(id, 4);
    answers.push(head, body);
    off += 4 + len;
  }
  rest = off < buf.length ? buf.subarray(off) : null;
  // net.Socket keeps what the socket does not take at once and writes it
  // later, in order.
  if (answers.length) sock.write(Buffer.concat(answers));
});

// The host is gone: stop (the socket closes itself on 'end').
sock.on('error', (err) => {
  process.stderr.write(`ceiling worker: ${err.message}\n`);
  process.exit(1);
});
