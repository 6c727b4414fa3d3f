"""HTTP types of the azure.functions stand-in: HttpRequest, HttpResponse and
their case-insensitive header mappings, with Azure's signatures and
behaviour (request header names are lower-cased as keys, a repeated
header's or query parameter's values are joined with commas, query
parameters without a value are left out, get_json() raises ValueError, a
response defaults to status 200, text/plain, utf-8 and may carry several
values for a header).

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


class HttpResponseHeaders(MutableMapping):
    """The headers of an HttpResponse, like the werkzeug Headers Azure's
    uses: case-insensitive lookups, names kept as written, and a name may
    have several values (add(), get_all(): several Set-Cookie headers).
    Item access gives the first value; setting a name replaces all its
    values. Iterating gives each name once."""

    __slots__ = ("_list",)

    def __init__(self, source=None):
        self._list = []         # [name, value] pairs, in order
        if source:
            pairs = source.items() if hasattr(source, "items") else source
            for k, v in pairs:
                self._list.append([k, v])

    def __getitem__(self, key):
        low = key.lower()
        for k, v in self._list:
            if k.lower() == low:
                return v
        raise KeyError(key)

    def __contains__(self, key):
        if not isinstance(key, str):
            return False
        low = key.lower()
        return any(k.lower() == low for k, _ in self._list)

    def __setitem__(self, key, value):
        low = key.lower()
        kept = []
        found = False
        for pair in self._list:
            if pair[0].lower() != low:
                kept.append(pair)
            elif not found:
                found = True
                pair[1] = value     # the name as first written stays
                kept.append(pair)
        if not found:
            kept.append([key, value])
        self._list = kept

    set = __setitem__

    def __delitem__(self, key):
        low = key.lower()
        kept = [p for p in self._list if p[0].lower() != low]
        if len(kept) == len(self._list):
            raise KeyError(key)
        self._list = kept

    def __iter__(self):
        seen = set()
        for k, _ in self._list:
            low = k.lower()
            if low not in seen:
                seen.add(low)
                yield k

    def __len__(self):
        return len({k.lower() for k, _ in self._list})

    def add(self, _key, _value, **options):
        """Add a value for a name, keeping the values it has (werkzeug's
        add: keyword options become `; name=value` parameters)."""
        if options:
            parts = [str(_value)]
            for k, v in options.items():
                k = k.replace("_", "-")
                if v is None:
                    parts.append(k)
                else:
                    v = str(v)
                    if not v or any(c in v for c in ' ";,=()<>@:\\/[]?{}\t'):
                        v = '"%s"' % v.replace("\\", "\\\\").replace('"', '\\"')
                    parts.append("%s=%s" % (k, v))
            _value = "; ".join(parts)
        self._list.append([_key, _value])

    add_header = add

    def get_all(self, name):
        """Every value of name, in order ([] when none)."""
        low = name.lower()
        return [v for k, v in self._list if k.lower() == low]

    getlist = get_all

    def extend(self, *args, **kwargs):
        """Add every pair of a mapping or an iterable of pairs."""
        for src in args + (kwargs,):
            for k, v in (src.items() if hasattr(src, "items") else src):
                self.add(k, v)

    def items(self):
        """(name, value) of every header, several for a name with several
        values."""
        return [(k, v) for k, v in self._list]

    def clear(self):
        self._list = []

    def _pairs(self):
        """[name, value] pairs for the wire, names as written."""
        return [[k, v if isinstance(v, str) else str(v)] for k, v in self._list]

    def __repr__(self):
        return "%s(%r)" % (type(self).__name__, [tuple(p) for p in self._list])


def _parse_query(q):
    """A query string's parameters as Azure gives them to Python functions:
    decoded, a repeated name's values joined with ",", and names whose
    value is empty left out (the host passes no empty query values)."""
    from urllib.parse import parse_qsl
    d = {}
    for k, v in parse_qsl(q, keep_blank_values=True):
        d[k] = d[k] + "," + v if k in d else v
    for k in [k for k, v in d.items() if not v]:
        del d[k]
    return d


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
        # As Azure's library: the method upper-cased, a str body as UTF-8.
        self._method = method.upper() if isinstance(method, str) else method
        self._url = url
        self._headers = HttpRequestHeaders(headers or {})
        self._params = MappingProxyType(dict(params or {}))
        self._route_params = MappingProxyType(dict(route_params or {}))
        self._body = body.encode("utf-8") if isinstance(body, str) else body

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
                d[low] = d[low] + "," + value if low in d else value
        return h

    @property
    def params(self):
        """A dictionary containing request GET parameters."""
        p = self._params
        if p is None:
            q = self._http().get("query") or ""
            p = self._params = MappingProxyType(_parse_query(q)) if q else _EMPTY
        return p

    @property
    def route_params(self):
        """A dictionary containing request route parameters."""
        p = self._route_params
        if p is None:
            r = self._http().get("params")
            if r and None in r.values():
                r = {k: v for k, v in r.items() if v is not None}
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
        try:
            return json.loads(self._body.decode("utf-8"))
        except ValueError as e:
            raise ValueError("HTTP request does not contain valid JSON data") from e

    def _parse_form(self):
        ctype = self.headers.get("content-type") or ""
        kind = ctype.split(";", 1)[0].strip().lower()
        fields, files = [], []
        if kind == "application/x-www-form-urlencoded":
            from urllib.parse import parse_qsl
            cs = "utf-8"
            for param in ctype.split(";")[1:]:
                name, _, value = param.partition("=")
                if name.strip().lower() == "charset" and value.strip():
                    cs = value.strip().strip('"')
            try:
                text = self._body.decode(cs, "replace")
            except LookupError:
                cs = "utf-8"
                text = self._body.decode(cs, "replace")
            fields = parse_qsl(text, keep_blank_values=True, encoding=cs, errors="replace")
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

    # The defaults, as class attributes: a response made from a str alone
    # (the common `HttpResponse("text")`) sets nothing but its body, which
    # saves CPython a third of the construction.
    _status_code = 200
    _mimetype = "text/plain"
    _charset = "utf-8"
    _headers = None
    _body = b""

    def __init__(self, body=None, *, status_code=None, headers=None, mimetype=None,
                 charset=None):
        if body.__class__ is str and status_code is None and headers is None and \
                mimetype is None and charset is None:
            self._body = body.encode()
            return
        if status_code is None:
            status_code = 200
        elif status_code.__class__ is not int and isinstance(status_code, int):
            status_code = int(status_code)      # http.HTTPStatus.CREATED -> 201
        self._status_code = status_code
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
