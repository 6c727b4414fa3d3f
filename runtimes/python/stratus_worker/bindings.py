"""Bindings, Python side: a function's plan (how to build its arguments from
an INVOKE frame, by parameter name as in Azure, and how to turn what it
returned and set into a RESULT), the worker's Out and Context classes, and
the text of user errors.

A plan is built once per function at LOAD, so running an invocation does
no signature inspection and no class creation: arguments come from a list
of small builder functions, and the common response (an HttpResponse with
no extra headers) reuses cached metadata bytes."""
import os

from . import capture
from .protocol import clip, dumps

OK_EMPTY = b'{"ok":true}'
CO_COROUTINE = 0x80
CO_VARARGS = 0x04
CO_VARKEYWORDS = 0x08
# Types without importing types (cheap, but every import counts at start).
FunctionType = type(lambda: None)
MappingProxyType = type(type.__dict__)


async def _coroutine():
    pass


_c = _coroutine()
CoroutineType = type(_c)
_c.close()
del _c


class LoadError(Exception):
    """A function cannot be loaded; the message says why and where."""


# ---- errors as text ----

def _relpath(path, root):
    try:
        rel = os.path.relpath(path, root)
    except ValueError:
        return path
    return path if rel.startswith("..") else rel


def describe_exception(exc, app_root, skip_dir, limit=8):
    """'Type: message' then a short traceback of the frames outside
    skip_dir (the worker's own code), paths relative to app_root."""
    name = type(exc).__name__
    try:
        text = str(exc)
    except BaseException as e:  # an exception whose __str__ raises
        text = "<str() of the exception failed: %s>" % type(e).__name__
    head = "%s: %s" % (name, clip(text)) if text else name
    frames = []
    tb = exc.__traceback__
    while tb is not None:
        fname = tb.tb_frame.f_code.co_filename
        if not fname.startswith(skip_dir):
            frames.append((fname, tb.tb_lineno, tb.tb_frame.f_code.co_name))
        tb = tb.tb_next
    if not frames:
        return head
    import linecache
    lines = [head, "Traceback (most recent call last):"]
    for fname, lineno, func in frames[-limit:]:
        lines.append('  File "%s", line %d, in %s' % (_relpath(fname, app_root), lineno, func))
        src = linecache.getline(fname, lineno).strip()
        if src:
            lines.append("    " + src)
    return "\n".join(lines)


def describe_load_error(exc, app_root, skip_dir):
    """One line for LOADED: 'SyntaxError: invalid syntax (hello/__init__.py,
    line 3)', or the exception with the innermost app file and line."""
    if isinstance(exc, LoadError):
        return str(exc)
    name = type(exc).__name__
    if isinstance(exc, SyntaxError):
        where = _relpath(exc.filename, app_root) if exc.filename else "?"
        return "%s: %s (%s, line %s)" % (name, exc.msg, where, exc.lineno)
    where = None
    tb = exc.__traceback__
    while tb is not None:
        fname = tb.tb_frame.f_code.co_filename
        if not fname.startswith(skip_dir) and not fname.startswith("<"):
            where = (fname, tb.tb_lineno)
        tb = tb.tb_next
    text = "%s: %s" % (name, exc) if str(exc) else name
    if where:
        text += " (%s, line %d)" % (_relpath(where[0], app_root), where[1])
    return text


# ---- the worker's Out and Context ----

class _TraceContext:
    """context.trace_context when azure.functions' TraceContext is abstract
    (Azure's package): the values under the names of Azure's worker
    (Traceparent, Tracestate, Attributes) and of azure.functions
    (trace_parent, trace_state, attributes)."""
    __slots__ = ("trace_parent", "trace_state", "attributes")

    def __init__(self, trace_parent, trace_state, attributes):
        self.trace_parent = trace_parent
        self.trace_state = trace_state
        self.attributes = attributes

    Traceparent = property(lambda self: self.trace_parent)
    Tracestate = property(lambda self: self.trace_state)
    Attributes = property(lambda self: self.attributes)


class _RetryContext:
    __slots__ = ("retry_count", "max_retry_count", "exception")

    def __init__(self, retry_count, max_retry_count, exception):
        self.retry_count = retry_count
        self.max_retry_count = max_retry_count
        self.exception = exception


class _RpcException:
    """retry_context.exception: as in Azure, an object with source,
    stack_trace and message (empty strings when the host has no
    exception to tell), never None."""
    __slots__ = ("source", "stack_trace", "message")

    def __init__(self, value=None):
        self.source = self.stack_trace = self.message = ""
        if isinstance(value, dict):
            for field, key in (("source", "source"), ("stack_trace", "stackTrace"),
                               ("message", "message")):
                v = value.get(key, value.get(field))
                if v is not None:
                    setattr(self, field, str(v))
        elif value is not None:
            self.message = str(value)

    def __repr__(self):
        return "<RpcException message=%r>" % (self.message,)


def _concrete(cls, fallback):
    try:
        cls("", "", None)
        return cls
    except Exception:
        return fallback


class Types:
    """The classes functions see, from the azure.functions in use (the
    app's own or the worker's stand-in): request factory (make_request(inv)),
    response class, Out and Context implementations."""

    def __init__(self, azf):
        self.azf = azf
        http = getattr(azf, "_http", None)
        fast = getattr(http, "_from_worker", None)
        self.HttpResponse = azf.HttpResponse
        self.compat_response = fast is not None
        # The stand-in's HttpRequest when a request is simply that class
        # with _src (the invocation) and _body set: what _from_invocation
        # does, which a plan's run() then does inline (see Plan._runner).
        self.request_class = None
        if fast is not None:
            self.make_request = getattr(http, "_from_invocation", None) or \
                (lambda inv: fast(inv, inv.body))
            if getattr(http, "_from_invocation", None) is not None:
                self.request_class = getattr(http, "HttpRequest", None)
        else:
            HttpRequest = azf.HttpRequest

            def make_request(inv):
                raw = inv.meta.get("http") or {}
                body = inv.body
                headers = {}
                for k, v in raw.get("headers") or ():
                    low = k.lower()
                    headers[low] = headers[low] + "," + v if low in headers else v
                params = {}
                q = raw.get("query")
                if q:
                    from urllib.parse import parse_qsl
                    for k, v in parse_qsl(q, keep_blank_values=True):
                        params[k] = params[k] + "," + v if k in params else v
                    params = {k: v for k, v in params.items() if v}
                route = {k: v for k, v in (raw.get("params") or {}).items() if v is not None}
                return HttpRequest(raw.get("method", ""), raw.get("url", ""), headers=headers,
                                   params=params, route_params=route, body=body)
            self.make_request = make_request
        self._out = self._context = self._classes = None

    # Out and Context are subclasses of azure.functions' abstract classes,
    # made when a function first needs one: most functions take neither.

    @property
    def Out(self):
        """The worker's Out class (a subclass of azure.functions.Out)."""
        if self._out is None:
            self._out = _make_out_class(self.azf.Out)
        return self._out

    @property
    def Context(self):
        """The worker's Context class (a subclass of azure.functions.Context)."""
        if self._context is None:
            azf = self.azf
            TraceContext = _concrete(getattr(azf, "TraceContext", None) or _TraceContext,
                                     _TraceContext)
            RetryContext = _concrete(getattr(azf, "RetryContext", None) or _RetryContext,
                                     _RetryContext)
            self._context = _make_context_class(azf.Context, TraceContext, RetryContext)
        return self._context

    def classes(self):
        """The classes of trigger values (convert.Classes), made on first use."""
        if self._classes is None:
            from .convert import Classes
            self._classes = Classes(self.azf)
        return self._classes


def _make_out_class(base):
    class Out(base):
        """The value of one output binding: set() it, the worker sends it."""
        __slots__ = ("_value",)

        def __init__(self):
            self._value = None

        def set(self, val):
            self._value = val

        def get(self):
            return self._value

    Out.__abstractmethods__ = frozenset()
    return Out


def _make_context_class(base, TraceContext, RetryContext):
    class InvocationContext(base):
        """What a function's `context` parameter holds."""
        __slots__ = ("_inv", "_tls")

        def __init__(self, inv):
            self._inv = inv
            self._tls = None

        @property
        def invocation_id(self):
            return self._inv.invocation_id

        @property
        def function_name(self):
            return self._inv.plan.name

        @property
        def function_directory(self):
            return self._inv.plan.directory

        @property
        def trace_context(self):
            meta = self._inv.meta
            tp, ts = "", ""
            tc = meta.get("traceContext")
            if isinstance(tc, dict):
                tp, ts = tc.get("traceparent") or "", tc.get("tracestate") or ""
            else:
                for k, v in (meta.get("http") or {}).get("headers") or ():
                    low = k.lower()
                    if low == "traceparent":
                        tp = v
                    elif low == "tracestate":
                        ts = v
            return TraceContext(tp, ts, {})

        @property
        def retry_context(self):
            rc = self._inv.meta.get("retryContext") or {}
            return RetryContext(rc.get("retryCount", 0), rc.get("maxRetryCount", 0),
                                _RpcException(rc.get("exception")))

        @property
        def thread_local_storage(self):
            if self._tls is None:
                from .invocation import thread_local_storage
                self._tls = thread_local_storage(self._inv)
            return self._tls

        def __repr__(self):
            return "<Context %s %s>" % (self.function_name, self.invocation_id)

    # Every member Azure's Context declares is implemented above; abstract
    # members a newer azure-functions may add must not make it unusable.
    InvocationContext.__abstractmethods__ = frozenset()
    return InvocationContext


# ---- plans ----

def _parameters(fn):
    """[(name, has_default, keyword_only)] of fn's parameters. Plain
    functions are read from their code object (no inspect import)."""
    if type(fn) is FunctionType and not hasattr(fn, "__wrapped__"):
        code = fn.__code__
        if not code.co_flags & (CO_VARARGS | CO_VARKEYWORDS):
            n, k = code.co_argcount, code.co_kwonlyargcount
            names = code.co_varnames[:n + k]
            ndef = len(fn.__defaults__ or ())
            kwdefs = fn.__kwdefaults__ or {}
            return ([(nm, i >= n - ndef, False) for i, nm in enumerate(names[:n])] +
                    [(nm, nm in kwdefs, True) for nm in names[n:]])
    import inspect
    out = []
    for p in inspect.signature(fn).parameters.values():
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            raise LoadError("parameter %s%s: *args and **kwargs cannot receive bindings; name "
                            "each binding as a parameter"
                            % ("*" if p.kind == p.VAR_POSITIONAL else "**", p.name))
        out.append((p.name, p.default is not p.empty, p.kind == p.KEYWORD_ONLY))
    return out


def is_trigger(binding):
    return str(binding.get("type", "")).lower().endswith("trigger")


def _trigger_builder(binding, T, ann):
    if str(binding.get("type", "")).lower() == "httptrigger":
        return T.make_request
    from . import convert
    return convert.trigger_builder(binding, ann, T.classes())


def _input_builder(binding, T, ann):
    from . import convert
    return convert.input_builder(binding, ann, T.classes())


def _out_builder(name, Out):
    def out_arg(inv):
        o = Out()
        if inv.outs is None:
            inv.outs = {}
        inv.outs[name] = o
        return o
    return out_arg


class Plan:
    """How to run one function: name, folder, entry point, whether it is a
    coroutine, its argument builders, and where its response and outputs
    come from. call(inv) runs it (returns a coroutine for async ones);
    encode(inv, ret) -> (RESULT meta bytes, body bytes)."""

    def __init__(self, name, directory, fn, bindings, T, script, declared="function.json"):
        self.name = name
        self.directory = directory
        self.fn = fn
        self.T = T
        self.category = capture.quote("Function.%s.User" % name)
        code = getattr(fn, "__code__", None)
        self.is_async = bool(code is not None and code.co_flags & CO_COROUTINE)
        if not self.is_async and not isinstance(fn, FunctionType):
            call = getattr(type(fn), "__call__", None)
            code = getattr(call, "__code__", None)
            self.is_async = bool(code is not None and code.co_flags & CO_COROUTINE)
        by_name = {}
        ret = None
        for b in bindings:
            bname = b.get("name")
            if bname == "$return":
                ret = b
            elif isinstance(bname, str):
                by_name[bname] = b
        self.http_return = ret is not None and str(ret.get("type", "")).lower() == "http"
        self.return_output = ret is not None and not self.http_return
        self.return_type = str(ret.get("type", "")).lower() if ret is not None else ""
        self.http_out = None
        self.out_names = []
        self.out_types = {}
        anns = _annotations(fn)
        builders, kw, names = [], [], []
        seen = set()
        unknown = []
        for pname, has_default, kwonly in _parameters(fn):
            b = by_name.get(pname)
            if b is None:
                if pname == "context":
                    builders.append(T.Context)
                    kw.append(kwonly and pname)
                    names.append(pname)
                elif not has_default:
                    unknown.append(pname)
                continue
            seen.add(pname)
            direction = str(b.get("direction", "in")).lower()
            if direction == "out":
                if str(b.get("type", "")).lower() == "http":
                    self.http_out = pname
                self.out_names.append(pname)
                self.out_types[pname] = str(b.get("type", "")).lower()
                builders.append(_out_builder(pname, T.Out))
            elif is_trigger(b):
                builders.append(_trigger_builder(b, T, anns.get(pname)))
            else:
                builders.append(_input_builder(b, T, anns.get(pname)))
            kw.append(kwonly and pname)
            names.append(pname)
        if unknown:
            raise LoadError("the following parameters are declared in Python but not in "
                            "%s: %s (%s)" % (declared, ", ".join(sorted(unknown)), script))
        missing = sorted(set(by_name) - seen)
        if missing:
            raise LoadError("the following bindings are declared in %s but not as "
                            "parameters of the Python function: %s (%s)"
                            % (declared, ", ".join(missing), script))
        self.call = _caller(fn, builders, kw)
        self._arguments = (names, builders)
        http_only = self.http_return and not self.out_names and T.compat_response
        if http_only:
            self.encode = self._encode_http_return
        self._http_only = http_only
        inline_request = builders == [T.make_request] and not kw[0] and \
            T.request_class is not None
        self.run = self._runner(inline_request)

    def use_extensions(self, hooks):
        """Call the function through the worker extensions' hooks (an
        extensions.Hooks)."""
        names, builders = self._arguments
        self.call = hooks.wrap(self, self.fn, names, builders, self.T.Context)
        self.run = self._runner(False)

    def _runner(self, inline_request):
        """run(inv): call() then encode() in one Python call, for the
        dispatcher's synchronous path: (meta, body), or (None, coroutine)
        when the function returned a coroutine (which the caller awaits on
        the event loop, then encodes). Each Python call costs CPython tens
        of nanoseconds; the common http function with the worker's request
        and response classes gets one call here instead of four: the
        request built inline (inline_request: the function's only argument
        is the stand-in's HttpRequest of the invocation, as _from_invocation
        makes it) and the cached metadata of a response without headers
        (as _encode_http_return finds it)."""
        call, encode = self.call, self.encode
        if not self._http_only:
            def run(inv):
                ret = call(inv)
                if ret.__class__ is CoroutineType:
                    return None, ret
                return encode(inv, ret)
            return run
        resp_class = self.T.HttpResponse
        cached = _META_CACHE.get
        encode = Plan.encode.__get__(self)     # what _encode_http_return falls back to
        if not inline_request:
            def run_http(inv):
                ret = call(inv)
                if ret.__class__ is resp_class and ret._headers is None:
                    meta = cached((ret._status_code, ret._mimetype, ret._charset))
                    if meta is not None:
                        return meta, ret._body
                elif ret.__class__ is CoroutineType:
                    return None, ret
                return encode(inv, ret)
            return run_http
        fn = self.fn
        req_class = self.T.request_class
        new = object.__new__

        def run_http_request(inv):
            req = new(req_class)
            req._src = inv
            req._body = inv.body
            ret = fn(req)
            if ret.__class__ is resp_class and ret._headers is None:
                meta = cached((ret._status_code, ret._mimetype, ret._charset))
                if meta is not None:
                    return meta, ret._body
            elif ret.__class__ is CoroutineType:
                return None, ret
            return encode(inv, ret)
        return run_http_request

    def _encode_http_return(self, inv, ret):
        """encode() of a function whose only output is its http $return,
        with the worker's HttpResponse: the common answer (no headers set)
        reuses cached metadata without any other check."""
        if ret.__class__ is self.T.HttpResponse and ret._headers is None:
            meta = _META_CACHE.get((ret._status_code, ret._mimetype, ret._charset))
            if meta is not None:
                return meta, ret._body
        return Plan.encode(self, inv, ret)

    def encode(self, inv, ret):
        """RESULT metadata and body for an invocation that returned ret."""
        resp = None
        outputs = None
        if self.http_return:
            resp = ret
        elif self.return_output:
            if ret is not None:
                outputs = {"$return": self._output("$return", self.return_type, ret)}
        elif ret is not None:
            capture.emit(inv, "warning", "%s returned a value but function.json has no "
                         "$return binding: the value is ignored" % self.name)
        if inv.outs:
            for name, o in inv.outs.items():
                v = o.get()
                if name == self.http_out:
                    if resp is None:
                        resp = v
                elif v is not None:
                    if outputs is None:
                        outputs = {}
                    outputs[name] = self._output(name, self.out_types.get(name, ""), v)
        T = self.T
        if resp is None:
            if self.http_return:
                # As in Azure, None returned to an http $return binding is
                # "no content": 204 with an empty body.
                return _http_meta(204, [], outputs), b""
            if outputs is None:
                return OK_EMPTY, b""
            return b'{"ok":true,"outputs":' + dumps(outputs) + b"}", b""
        if resp.__class__ is T.HttpResponse and T.compat_response and outputs is None and \
                resp._headers is None and resp._status_code.__class__ is int and \
                200 <= resp._status_code <= 599:
            key = (resp._status_code, resp._mimetype, resp._charset)
            meta = _META_CACHE.get(key)
            if meta is None:
                meta = _http_meta(key[0], [["Content-Type", _content_type(key[1], key[2])]],
                                  None)
                if len(_META_CACHE) < 256:
                    _META_CACHE[key] = meta
            return meta, resp._body
        return _encode_response(self.name, resp, outputs)


    def _output(self, name, btype, v):
        from .convert import encode_output
        return encode_output(name, btype, v, self.T.azf)


_META_CACHE = {}


def _annotations(fn):
    """fn's parameter annotations (name -> annotation), {} when it has none."""
    target = fn if isinstance(fn, FunctionType) else getattr(fn, "__call__", fn)
    try:
        anns = getattr(target, "__annotations__", None)
    except Exception:
        anns = None
    return anns if isinstance(anns, dict) else {}


def _caller(fn, builders, kw):
    """A function inv -> fn(...) with the arguments the builders make."""
    if any(kw):
        pairs = list(zip(kw, builders))

        def call_kw(inv):
            args, kwargs = [], {}
            for name, b in pairs:
                if name:
                    kwargs[name] = b(inv)
                else:
                    args.append(b(inv))
            return fn(*args, **kwargs)
        return call_kw
    if len(builders) == 0:
        return lambda inv: fn()
    if len(builders) == 1:
        b0 = builders[0]
        return lambda inv: fn(b0(inv))
    if len(builders) == 2:
        b0, b1 = builders
        return lambda inv: fn(b0(inv), b1(inv))
    return lambda inv: fn(*[b(inv) for b in builders])


def _content_type(mimetype, charset):
    return "%s; charset=%s" % (mimetype, charset) if mimetype.startswith("text/") else mimetype


def _http_meta(status, headers, outputs):
    meta = '{"ok":true,"status":%d,"headers":' % status
    out = meta.encode() + dumps(headers)
    if outputs:
        out += b',"outputs":' + dumps(outputs)
    return out + b"}"


def _encode_response(fname, resp, outputs):
    """(meta, body) for an http output value: an HttpResponse (Azure's or
    any object with status_code, headers, mimetype, charset, get_body),
    a str or bytes (200)."""
    if isinstance(resp, str):
        return _http_meta(200, [["Content-Type", "text/plain; charset=utf-8"]], outputs), \
            resp.encode("utf-8")
    if isinstance(resp, (bytes, bytearray)):
        return _http_meta(200, [["Content-Type", "application/octet-stream"]], outputs), \
            bytes(resp)
    if not hasattr(resp, "get_body") or not hasattr(resp, "status_code"):
        raise TypeError("function %s: the http output must be a func.HttpResponse, str or "
                        "bytes, not %s" % (fname, type(resp).__name__))
    # A number, or a string of one ("201"), as Azure's worker sends it on.
    try:
        status = int(resp.status_code)
    except (TypeError, ValueError):
        status = -1
    if not 200 <= status <= 599:
        raise ValueError("function %s: the HTTP status code %r of its response is not a number "
                         "from 200 to 599" % (fname, resp.status_code))
    headers = resp.headers
    pairs_of = getattr(headers, "_pairs", None)
    pairs = pairs_of() if pairs_of is not None else \
        [[str(k), v if isinstance(v, str) else str(v)] for k, v in headers.items()]
    if not any(p[0].lower() == "content-type" for p in pairs):
        mimetype = getattr(resp, "mimetype", None) or "text/plain"
        charset = getattr(resp, "charset", None) or "utf-8"
        pairs.insert(0, ["Content-Type", _content_type(mimetype, charset)])
    for name, value in pairs:
        if not name or any(c in name for c in "\r\n:\0") or any(c in value for c in "\r\n\0"):
            raise ValueError("function %s: invalid response header %r: %r"
                             % (fname, name, value))
    body = resp.get_body()
    if body is None:
        body = b""
    elif isinstance(body, str):
        body = body.encode(getattr(resp, "charset", None) or "utf-8")
    return _http_meta(status, pairs, outputs), bytes(body)
