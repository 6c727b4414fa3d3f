"""Frame layout of the Stratus worker protocol (docs/worker-protocol.md): the
24-byte little-endian header, frame types, limits, and the JSON codec the
worker uses for frame metadata. A frame is built as separate pieces
(header, meta, body) that the dispatcher joins into one write with
everything else of a turn.

The JSON codec calls the C scanner and encoder of the standard library's
_json module directly: importing the json package costs milliseconds (it
pulls in re and enum) on every cold start, and json.loads adds a
microsecond of Python around the scanner on every frame. Should _json ever
lack them, the json package is used instead."""
from _struct import Struct   # struct without its Python wrapper module

MAGIC = 0x53545201                      # "STR" + protocol version 1
HEADER = Struct("<IIQII")        # magic, type, id, meta length, body length
HEADER_SIZE = HEADER.size
PROTOCOL = 1

(HELLO, READY, LOAD, LOADED, INVOKE, RESULT, LOG,
 CANCEL, PING, PONG, SHUTDOWN) = range(1, 12)

TYPE_NAMES = {HELLO: "HELLO", READY: "READY", LOAD: "LOAD", LOADED: "LOADED",
              INVOKE: "INVOKE", RESULT: "RESULT", LOG: "LOG", CANCEL: "CANCEL",
              PING: "PING", PONG: "PONG", SHUTDOWN: "SHUTDOWN"}

MAX_META = 1 << 20
MAX_BODY = 256 << 20

# Log lines and error texts are cut to this many characters: even all
# escaped (6 bytes each) they fit a frame's 1 MiB of metadata.
CLIP = 100000


def clip(text):
    """text, or its first CLIP characters and how many more were cut."""
    if len(text) <= CLIP:
        return text
    return "%s... (%d more characters cut)" % (text[:CLIP], len(text) - CLIP)


pack_header = HEADER.pack
unpack_header = HEADER.unpack_from
# A RESULT header is RESULT_PREFIX + pack_result_rest(id, meta length, body
# length): packing three numbers instead of five saves CPython a fifth of
# the header's cost, paid once per invocation.
RESULT_PREFIX = Struct("<II").pack(MAGIC, RESULT)
pack_result_rest = Struct("<QII").pack


def _not_serializable(o):
    raise TypeError("Object of type %s is not JSON serializable" % type(o).__name__)


class _ScanContext:
    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    parse_constant = {"-Infinity": float("-inf"), "Infinity": float("inf"),
                      "NaN": float("nan")}.__getitem__


try:
    import _json
    _scan = _json.make_scanner(_ScanContext())
    # allow_nan off: NaN and Infinity are not JSON, and the host would
    # refuse the whole frame.
    _iterencode = _json.make_encoder(None, _not_serializable, _json.encode_basestring_ascii,
                                     None, ":", ",", False, False, False)
    quote = _json.encode_basestring_ascii       # str -> JSON string literal
    _iterencode(None, 0)

    def _encode(obj):
        return "".join(_iterencode(obj, 0))
except (ImportError, AttributeError, TypeError):
    import json
    import json.scanner
    _scan = json.scanner.make_scanner(json.JSONDecoder())
    _encode = json.JSONEncoder(separators=(",", ":"), allow_nan=False).encode
    quote = json.encoder.encode_basestring_ascii

_WS = " \t\r\n"


def loads(s):
    """The JSON value in str s; ValueError when s is not one JSON value."""
    if s[:1] in _WS:
        s = s.lstrip(_WS)
    try:
        obj, end = _scan(s, 0)
    except StopIteration as e:
        raise ValueError("invalid JSON at offset %s" % e.value) from None
    if end != len(s) and s[end:].strip(_WS):
        raise ValueError("extra data after the JSON value at offset %d" % end)
    return obj


def parse_meta(raw):
    """A frame's metadata (bytes) as a dict, or None when it is not a JSON
    object. Text the host passes on from a request byte for byte (header
    and route values) may not be UTF-8: such bytes read as U+FFFD."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("utf-8", "replace")
    try:
        obj = loads(text)
    except ValueError:
        return None
    return obj if obj.__class__ is dict else None


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
