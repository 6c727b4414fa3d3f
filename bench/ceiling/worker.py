"""bench/ceiling/worker.py -- the Python worker of the design's ceiling
(bench/ceiling/host.c). It reads invoke frames from the host on file
descriptor 3, calls a hello function with each request's URL, and answers
all the frames of one read in one write.

Frame: [u32 length][u32 connection id][payload], little-endian; length counts
the id and the payload. Invoke payload: the request URL; answer payload: the
response body.
"""

import socket
import struct

HEADER = struct.Struct("<II")


def hello(url):
    return b"hello\n"


def main():
    sock = socket.socket(fileno=3)
    unpack_from, pack = HEADER.unpack_from, HEADER.pack
    buf = b""                       # bytes read and not yet used
    while True:
        data = sock.recv(1 << 20)
        if not data:                # the host is gone
            return
        buf = buf + data if buf else data
        answers = []
        off, n = 0, len(buf)
        while n - off >= 8:
            length, conn_id = unpack_from(buf, off)
            if length < 4:
                raise SystemExit("ceiling worker: bad frame length %d" % length)
            if n - off - 4 < length:
                break               # the rest of this frame comes with a later read
            body = hello(buf[off + 8:off + 4 + length].decode("latin-1"))
            answers.append(pack(4 + len(body), conn_id))
            answers.append(body)
            off += 4 + length
        buf = buf[off:]
        if answers:
            sock.sendall(b"".join(answers))   # loops over partial writes


if __name__ == "__main__":
    main()
