"""HTTP types of the azure.functions stand-in: HttpRequest, HttpResponse and
their case-insensitive header mappings, with Azure's signatures and
behaviour (header names are lower-cased as keys, the query string's repeated
names are joined with commas, get_json() raises ValueError, a response
defaults to status 200, text/plain, utf-8).

The worker builds requests with _from_worker(), which keeps the frame's raw
fields and decodes headers, query and form only when the function asks for
them: most functions read one or two of them, or none."""
from _collections_abc import Mapping, MutableMapping

# Imports are kept to what the interpreter has already loaded: this module
# is imported on every cold start. json and urllib.parse load when used.
MappingProxyType = type(type.__dict__)
_EMPTY = MappingProxyType({})


class _Headers(Mapping):
    """Read-only, case-insensitive header mapping; keys are lower-cased."""

    __slots__ = ("_d",)

    def __init__(self, source=None):
        self._d = {}
        if source:
            for k, v in source.items():
                self._d[k.lower()] = v

    def __getitem__(self, key):
        return self._d[key.lower()]

    def __contains__(self, key):
        return isinstance(key, str) and key.lower() in self._d

    def get(self, key, default=None):
        return self._d.get(key.lower(), default)

    def __iter__(self):
        return iter(self._d)

    def __len__(self):
        return len(self._d)

    def __repr__(self):
        return "%s(%r)" % (type(self).__name__, self._d)


class HttpRequestHeaders(_Headers):
    """The headers of an HttpRequest."""

    __slots__ = ()


class HttpResponseHeaders(_Headers, MutableMapping):
    """The headers of an HttpResponse: case-insensitive, settable. Keys are
    lower-cased like Azure's; the name as first written is kept for the
    wire (_names)."""

    __slots__ = ("_names",)

    def __init__(self, source=None):
        self._d = {}
        self._names = {}
        if source:
            for k, v in source.items():
                self[k] = v

    def __setitem__(self, key, value):
        low = key.lower()
        self._d[low] = value
        if low not in self._names:
            self._names[low] = key

    def __delitem__(self, key):
        low = key.lower()
        del self._d[low]
        self._names.pop(low, None)

    def _pairs(self):
        """[name, value] pairs with names as first written."""
        names = self._names
        return [[names[k], v if isinstance(v, str) else str(v)] for k, v in self._d.items()]


class _MultiDict(dict):
    """A read-only-by-convention dict of first values with getlist(), like the
    MultiDict Azure's form and files use."""

    def __init__(self, pairs=()):
        super().__init__()
        self._lists = {}
        for k, v in pairs:
            self._lists.setdefault(k, []).append(v)
            if k not in self:
                dict.__setitem__(self, k, v)

    def getlist(self, key):
        """Every value given for key, in order ([] when none)."""
        return list(self._lists.get(key, ()))


class _FileStorage:
    """One uploaded file of a multipart/form-data body (req.files[name])."""

    def __init__(self, stream, filename, name, content_type):
        self.stream = stream
        self.filename = filename
        self.name = name
        self.content_type = content_type
        self.mimetype = (content_type or "").split(";", 1)[0].strip().lower()

    def read(self, *args):
        return self.stream.read(*args)

    def save(self, dst):
        """Write the file to dst, a path or a binary file object."""
        data = self.stream.getvalue()
        if isinstance(dst, str):
            with open(dst, "wb") as f:
                f.write(data)
        else:
            dst.write(data)

    def __repr__(self):
        return "<FileStorage: %r (%r)>" % (self.filename, self.content_type)


class HttpRequest:
    """An HTTP request object."""

    # Attributes set lazily; class-level defaults keep the worker's
    # constructor to three assignments.
    _method = None
    _url = None
    _headers = None
    _params = None
    _route_params = None
    _form = None
    _files = None
    _raw = None
    _src = None

    def __init__(self, method, url, *, headers=None, params=None, route_params=None, body):
        self._method = method
        self._url = url
        self._headers = HttpRequestHeaders(headers or {})
        self._params = MappingProxyType(dict(params or {}))
        self._route_params = MappingProxyType(dict(route_params or {}))
        self._body = body

    def _http(self):
        """The worker's `http` object of the request (see _from_worker)."""
        raw = self._raw
        if raw is None:
            src = self._src
            raw = src if isinstance(src, dict) else src.meta.get("http")
            raw = self._raw = raw or {}
        return raw

    @property
    def method(self):
        """Request method."""
        m = self._method
        if m is None:
            m = self._method = self._http().get("method", "")
        return m

    @property
    def url(self):
        """Request URL."""
        u = self._url
        if u is None:
            u = self._url = self._http().get("url", "")
        return u

    @property
    def headers(self):
        """A dictionary containing request headers."""
        h = self._headers
        if h is None:
            h = self._headers = HttpRequestHeaders()
            d = h._d
            for name, value in self._http().get("headers") or ():
                low = name.lower()
                d[low] = d[low] + ", " + value if low in d else value
        return h

    @property
    def params(self):
        """A dictionary containing request GET parameters."""
        p = self._params
        if p is None:
            q = self._http().get("query") or ""
            if q:
                from urllib.parse import parse_qsl
                d = {}
                for k, v in parse_qsl(q, keep_blank_values=True):
                    d[k] = d[k] + "," + v if k in d else v
                p = MappingProxyType(d)
            else:
                p = _EMPTY
            self._params = p
        return p

    @property
    def route_params(self):
        """A dictionary containing request route parameters."""
        p = self._route_params
        if p is None:
            r = self._http().get("params")
            p = self._route_params = MappingProxyType(r) if r else _EMPTY
        return p

    @property
    def form(self):
        """The fields of an application/x-www-form-urlencoded or
        multipart/form-data body (first value by name; getlist for all)."""
        if self._form is None:
            self._parse_form()
        return self._form

    @property
    def files(self):
        """The files of a multipart/form-data body, by field name."""
        if self._files is None:
            self._parse_form()
        return self._files

    def get_body(self):
        """Return request body as bytes."""
        return self._body

    def get_json(self):
        """Decode and return request body as JSON; ValueError when the body
        is not valid JSON (or not UTF-8)."""
        import json
        return json.loads(self._body.decode("utf-8"))

    def _parse_form(self):
        ctype = self.headers.get("content-type") or ""
        kind = ctype.split(";", 1)[0].strip().lower()
        fields, files = [], []
        if kind == "application/x-www-form-urlencoded":
            from urllib.parse import parse_qsl
            fields = parse_qsl(self._body.decode("latin-1"), keep_blank_values=True)
        elif kind == "multipart/form-data":
            import email.parser
            import email.policy
            import io
            head = b"Content-Type: " + ctype.encode("latin-1") + b"\r\n\r\n"
            msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + self._body)
            for part in msg.iter_parts() if msg.is_multipart() else ():
                name = part.get_param("name", header="content-disposition")
                if name is None:
                    continue
                data = part.get_payload(decode=True) or b""
                filename = part.get_filename()
                if filename is None:
                    cs = part.get_content_charset() or "utf-8"
                    fields.append((name, data.decode(cs, "replace")))
                else:
                    files.append((name, _FileStorage(io.BytesIO(data), filename, name,
                                                     part.get("content-type"))))
        self._form = _MultiDict(fields)
        self._files = _MultiDict(files)

    def __repr__(self):
        return "<azure.functions.HttpRequest method=%s url=%s>" % (self.method, self.url)


def _from_worker(src, body, _new=object.__new__, _cls=HttpRequest):
    """An HttpRequest for the worker: src is an invoke frame's `http` object
    (method, url, query, headers as pairs, params), or an object whose
    `meta` holds it under "http", read only when a field is first used;
    body is the request body (bytes)."""
    r = _new(_cls)
    r._src = src
    r._body = body
    return r


def _from_invocation(inv, _new=object.__new__, _cls=HttpRequest):
    """_from_worker(inv, inv.body) in one call: the request of an invocation
    the worker runs (inv has `meta` and `body`)."""
    r = _new(_cls)
    r._src = inv
    r._body = inv.body
    return r


class HttpResponse:
    """An HTTP response object."""

    __slots__ = ("_status_code", "_mimetype", "_charset", "_headers", "_body")

    def __init__(self, body=None, *, status_code=None, headers=None, mimetype=None,
                 charset=None):
        self._status_code = 200 if status_code is None else status_code
        self._mimetype = "text/plain" if mimetype is None else mimetype
        self._charset = "utf-8" if charset is None else charset
        self._headers = None if headers is None else HttpResponseHeaders(headers)
        if body is None:
            self._body = b""
        elif body.__class__ is str:
            self._body = body.encode(self._charset)
        elif isinstance(body, (bytes, bytearray)):
            self._body = bytes(body)
        elif isinstance(body, str):
            self._body = body.encode(self._charset)
        else:
            raise TypeError("response is expected to be either of str, bytes, or bytearray, "
                            "got %s" % type(body).__name__)

    @property
    def status_code(self):
        """Response status code."""
        return self._status_code

    @property
    def mimetype(self):
        """Response MIME type."""
        return self._mimetype

    @property
    def charset(self):
        """Response text encoding."""
        return self._charset

    @property
    def headers(self):
        """A dictionary of response HTTP headers."""
        h = self._headers
        if h is None:
            h = self._headers = HttpResponseHeaders()
        return h

    def get_body(self):
        """Response body as a bytes object."""
        return self._body

    def __repr__(self):
        return "<azure.functions.HttpResponse status_code=%s>" % (self._status_code,)
