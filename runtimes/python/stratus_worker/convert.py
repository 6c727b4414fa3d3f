"""Binding values, Python side, for bindings other than HTTP: how a trigger's
payload and metadata, and an input binding's value, become the parameter a
function receives (func.QueueMessage, func.TimerRequest, func.InputStream,
str, bytes, ...), and how what a function sets on an Out parameter or
returns for $return becomes a value of the worker protocol.

Protocol values (docs/worker-protocol.md): a string is text, {"$binary":
"<base64>"} is bytes, anything else is JSON data. A queue output given a
list writes one message per element.

Parameter types follow Azure's Python worker: by the binding's type, or by
the parameter's annotation where it asks for str or bytes. Imported only by
functions that have such bindings (an HTTP-only app never loads it)."""
import base64
import binascii
import datetime
import re

_FRACTION = re.compile(r"^(.*\.\d{6})\d+(.*)$")


class BindingError(Exception):
    """A value cannot be converted; the message names the binding."""


# ---- annotations ----

def annotation_kind(ann):
    """What a parameter annotation asks for: "str", "bytes", "QueueMessage",
    "TimerRequest", "InputStream", "Out" or None (no annotation, or one
    that does not choose). String annotations (from __future__ import
    annotations) are read by their last dotted name."""
    if ann is None:
        return None
    if isinstance(ann, str):
        name = ann.strip().split("[", 1)[0].rsplit(".", 1)[-1]
    else:
        if ann is str:
            return "str"
        if ann is bytes or ann is bytearray:
            return "bytes"
        origin = getattr(ann, "__origin__", None)
        target = origin if origin is not None else ann
        name = getattr(target, "__name__", "")
    if name in ("str", "bytes", "QueueMessage", "TimerRequest", "InputStream", "Out"):
        return name
    if name == "bytearray":
        return "bytes"
    return None


# ---- protocol values -> Python ----

def value_bytes(v, what):
    """The bytes of a protocol value (text as UTF-8, JSON data as its text)."""
    if v is None:
        return None
    if isinstance(v, str):
        return v.encode("utf-8")
    if isinstance(v, dict) and len(v) == 1 and "$binary" in v:
        try:
            return base64.b64decode(v["$binary"], validate=True)
        except (binascii.Error, TypeError, ValueError):
            raise BindingError("%s: the host sent bytes that are not valid base64" % what)
    import json
    return json.dumps(v, separators=(",", ":")).encode("utf-8")


def _text(data, what):
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise BindingError("%s: the value is not UTF-8 text; declare the parameter as bytes "
                           "(or set \"dataType\": \"binary\")" % what) from None


def _meta_field(meta, name, conv, what):
    v = meta.get(name)
    if v is None:
        for k in meta:
            if k.lower() == name.lower():
                v = meta[k]
                break
    if v is None:
        return None
    try:
        return conv(v)
    except (TypeError, ValueError) as e:
        raise BindingError("%s: trigger metadata %s: %s" % (what, name, e)) from None


def parse_time(s):
    """An ISO 8601 time from trigger metadata as a datetime: UTC times
    (Z, +00:00) get timezone.utc, times without an offset are naive, as in
    Azure. Fractions beyond microseconds are cut. ValueError when not a time."""
    if isinstance(s, datetime.datetime):
        return s
    if not isinstance(s, str):
        raise ValueError("expected an ISO 8601 time, got %r" % (s,))
    t = s.strip()
    if t.endswith(("Z", "z")):
        t = t[:-1] + "+00:00"
    m = _FRACTION.match(t)
    if m:
        t = m.group(1) + m.group(2)
    try:
        dt = datetime.datetime.fromisoformat(t)
    except ValueError:
        raise ValueError("expected an ISO 8601 time, got %r" % (s,)) from None
    if dt.tzinfo is not None and dt.utcoffset() == datetime.timedelta(0):
        dt = dt.replace(tzinfo=datetime.timezone.utc)
    return dt


def _as_bool(v):
    if isinstance(v, str):
        return v.strip().lower() == "true"
    return bool(v)


class Classes:
    """The azure.functions classes for trigger values: the installed
    library's full ones (azure.functions.queue.QueueMessage, ...) when
    there is one, else the worker's stand-in."""

    def __init__(self, azf):
        self.azf = azf
        self._cache = {}

    def get(self, module, name):
        c = self._cache.get(name)
        if c is None:
            try:
                from importlib import import_module
                c = getattr(import_module(self.azf.__name__ + "." + module), name)
            except Exception:
                c = getattr(self.azf, name)
            self._cache[name] = c
        return c


def _queue_message(classes, body, meta, what):
    QueueMessage = classes.get("queue", "QueueMessage")
    return QueueMessage(
        id=_meta_field(meta, "Id", str, what),
        body=body,
        dequeue_count=_meta_field(meta, "DequeueCount", int, what),
        expiration_time=_meta_field(meta, "ExpirationTime", parse_time, what),
        insertion_time=_meta_field(meta, "InsertionTime", parse_time, what),
        time_next_visible=_meta_field(meta, "NextVisibleTime", parse_time, what),
        pop_receipt=_meta_field(meta, "PopReceipt", str, what))


def _timer_request(classes, body, what):
    import json
    try:
        info = json.loads(body) if body else {}
    except ValueError as e:
        raise BindingError("%s: the timer's TimerInfo is not JSON: %s" % (what, e)) from None
    if not isinstance(info, dict):
        raise BindingError("%s: the timer's TimerInfo is not a JSON object" % what)
    TimerRequest = classes.get("timer", "TimerRequest")
    return TimerRequest(past_due=_as_bool(info.get("IsPastDue", False)),
                        schedule_status=info.get("ScheduleStatus", {}),
                        schedule=info.get("Schedule", {}))


def _length(props):
    if not isinstance(props, dict):
        return None
    for k in ("Length", "ContentLength"):
        v = props.get(k)
        if v is not None:
            try:
                return int(v)
            except (TypeError, ValueError):
                return None
    return None


def _dict_or_none(v):
    return v if isinstance(v, dict) else None


def _input_stream(classes, data, meta, what):
    InputStream = classes.get("blob", "InputStream")
    if not meta:
        return InputStream(data=data)
    props = _meta_field(meta, "Properties", _dict_or_none, what)
    args = dict(data=data,
                name=_meta_field(meta, "BlobTrigger", str, what),
                length=_length(props),
                uri=_meta_field(meta, "Uri", str, what))
    extra = dict(blob_properties=props or None,
                 metadata=_meta_field(meta, "Metadata", _dict_or_none, what))
    try:
        return InputStream(**args, **extra)
    except TypeError:
        # an app's own azure-functions older than blob_properties/metadata
        return InputStream(**args)


def trigger_builder(binding, ann, classes):
    """A function inv -> the trigger parameter, for a trigger other than
    HTTP. The annotation str or bytes gives the payload as it is; else the
    binding's type chooses (queueTrigger: QueueMessage, timerTrigger:
    TimerRequest, blobTrigger: InputStream); other triggers give text, or
    bytes for dataType binary or a payload that is not UTF-8."""
    kind = str(binding.get("type", "")).lower()
    what = "trigger '%s' (%s)" % (binding.get("name"), binding.get("type"))
    want = annotation_kind(ann)
    binary = str(binding.get("dataType", "")).lower() == "binary"

    def meta_of(inv):
        m = inv.meta.get("triggerMetadata")
        return m if isinstance(m, dict) else {}

    if want == "bytes":
        return lambda inv: inv.body
    if want == "str":
        return lambda inv: _text(inv.body, what)
    if kind == "queuetrigger":
        return lambda inv: _queue_message(classes, inv.body, meta_of(inv), what)
    if kind == "timertrigger":
        return lambda inv: _timer_request(classes, inv.body, what)
    if kind == "blobtrigger":
        return lambda inv: _input_stream(classes, inv.body, meta_of(inv), what)

    def data_arg(inv):
        if binary:
            return inv.body
        try:
            return inv.body.decode("utf-8")
        except UnicodeDecodeError:
            return inv.body
    return data_arg


def input_builder(binding, ann, classes):
    """A function inv -> an input binding's parameter from INVOKE's inputs:
    None when the input found nothing; for a blob an InputStream (str or
    bytes when annotated so); for other types text, bytes or JSON data as
    the host sent them (str and bytes annotations convert)."""
    name = binding.get("name")
    kind = str(binding.get("type", "")).lower()
    what = "input binding '%s' (%s)" % (name, binding.get("type"))
    want = annotation_kind(ann)

    def raw(inv):
        inputs = inv.meta.get("inputs")
        return inputs.get(name) if isinstance(inputs, dict) else None

    if want == "bytes":
        return lambda inv: value_bytes(raw(inv), what)
    if want == "str":
        def text_arg(inv):
            v = raw(inv)
            return v if v is None or isinstance(v, str) else _text(value_bytes(v, what), what)
        return text_arg
    if kind == "blob":
        def blob_arg(inv):
            v = raw(inv)
            return None if v is None else _input_stream(classes, value_bytes(v, what), None,
                                                        what)
        return blob_arg

    def plain_arg(inv):
        v = raw(inv)
        if isinstance(v, dict) and len(v) == 1 and "$binary" in v:
            return value_bytes(v, what)
        return v
    return plain_arg


# ---- Python -> protocol values ----

def _binary(b):
    return {"$binary": base64.b64encode(bytes(b)).decode("ascii")}


def _message(item, name, azf):
    """One queue message: str as text, bytes as bytes, a QueueMessage as
    its body, JSON data as it is."""
    if isinstance(item, str):
        return item
    if isinstance(item, (bytes, bytearray)):
        return _binary(item)
    QueueMessage = getattr(azf, "QueueMessage", None)
    if QueueMessage is not None and isinstance(item, QueueMessage) or (
            hasattr(item, "get_body") and hasattr(item, "pop_receipt")):
        body = item.get_body()
        if isinstance(body, str):
            return body
        try:
            return bytes(body).decode("utf-8")
        except UnicodeDecodeError:
            return _binary(body)
    return _json(item, name)


def _json(v, name):
    from .protocol import dumps
    try:
        text = dumps(v)
    except (TypeError, ValueError) as e:
        raise TypeError("output binding '%s': %s is not a value the binding can take (str, "
                        "bytes or JSON data): %s" % (name, type(v).__name__, e)) from None
    # A dict of the user's that looks like the protocol's bytes marker goes
    # as its JSON text, which is what is written for any other dict.
    if isinstance(v, dict) and len(v) == 1 and "$binary" in v:
        return text.decode("ascii")
    return v


def encode_output(name, btype, v, azf):
    """The protocol value for what a function set on output binding name
    of type btype (lower case): str -> text, bytes -> {"$binary"}, a
    file-like object (InputStream) -> its bytes, a QueueMessage -> its body,
    a list for a queue -> one message per element, other JSON data as it
    is. TypeError naming the binding for anything else."""
    if isinstance(v, str):
        return v
    if isinstance(v, (bytes, bytearray)):
        return _binary(v)
    if callable(getattr(v, "read", None)):
        data = v.read()
        if isinstance(data, str):
            return data
        if isinstance(data, (bytes, bytearray)):
            return _binary(data)
        raise TypeError("output binding '%s': read() of the %s gave %s, not bytes or str"
                        % (name, type(v).__name__, type(data).__name__))
    if btype == "queue":
        if isinstance(v, (list, tuple)):
            return [_message(item, name, azf) for item in v]
        return _message(v, name, azf)
    if hasattr(v, "get_body") and not isinstance(v, (dict, list)):
        return _message(v, name, azf)
    return _json(v, name)
