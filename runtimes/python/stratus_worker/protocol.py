"""Frame layout of the Stratus worker protocol (docs/worker-protocol.md): the
24-byte little-endian header, frame types, limits, and the small encoders
the worker needs. A frame is built as separate pieces (header, meta, body)
that the dispatcher joins into one write with everything else of a turn."""
import json
import struct

MAGIC = 0x53545201                      # "STR" + protocol version 1
HEADER = struct.Struct("<IIQII")        # magic, type, id, meta length, body length
HEADER_SIZE = HEADER.size
PROTOCOL = 1

(HELLO, READY, LOAD, LOADED, INVOKE, RESULT, LOG,
 CANCEL, PING, PONG, SHUTDOWN) = range(1, 12)

TYPE_NAMES = {HELLO: "HELLO", READY: "READY", LOAD: "LOAD", LOADED: "LOADED",
              INVOKE: "INVOKE", RESULT: "RESULT", LOG: "LOG", CANCEL: "CANCEL",
              PING: "PING", PONG: "PONG", SHUTDOWN: "SHUTDOWN"}

MAX_META = 1 << 20
MAX_BODY = 256 << 20

pack_header = HEADER.pack
unpack_header = HEADER.unpack_from

_encode = json.JSONEncoder(separators=(",", ":"), ensure_ascii=True).encode
quote = json.encoder.encode_basestring_ascii   # str -> JSON string literal (C)


def dumps(obj):
    """Compact JSON of obj as ASCII bytes. Raises TypeError/ValueError for
    values JSON cannot hold."""
    return _encode(obj).encode("ascii")


def frame(ftype, fid=0, meta=b"", body=b""):
    """One whole frame as bytes; meta is JSON bytes (b"" for none)."""
    return pack_header(MAGIC, ftype, fid, len(meta), len(body)) + meta + body


# Azure's level names, from logging's numeric levels.
def level_name(levelno):
    """Azure's level name for a logging level number."""
    if levelno >= 50:
        return "critical"
    if levelno >= 40:
        return "error"
    if levelno >= 30:
        return "warning"
    if levelno >= 20:
        return "information"
    if levelno >= 10:
        return "debug"
    return "trace"


class ProtocolError(Exception):
    """A malformed frame from the host: the worker reports it and exits."""
