"""func.WsgiMiddleware: a WSGI application (Flask, Django, ...) behind an
HTTP-triggered function of the v1 model, as with Azure's library:

    main = func.WsgiMiddleware(app.wsgi_app).main
    # or, inside main: return func.WsgiMiddleware(app).handle(req, context)

The environ has what PEP 3333 asks for, every request header as an HTTP_*
key, and the invocation's context under azure_functions.* keys. As in
Azure, an answer of 500 or more, or anything the application wrote on
wsgi.errors, fails the invocation (the function raises).

The helpers here (the request's parts, the context entries, the response)
serve _http_asgi.py too."""
import io
from urllib.parse import unquote_to_bytes, urlsplit

from ._http import HttpResponse

# Context attributes passed to the application, as azure_functions.<name>.
CONTEXT_NAMES = ("function_directory", "function_name", "invocation_id", "trace_context",
                 "retry_context")


def wsgi_text(text):
    """text as WSGI carries it: each byte of its UTF-8 form one character."""
    return text.encode("utf-8").decode("latin-1")


class RequestParts:
    """What the adapters read off a func.HttpRequest."""
    __slots__ = ("method", "url", "headers", "body", "port")

    def __init__(self, req):
        self.method = req.method
        self.url = urlsplit(req.url)
        self.headers = list(req.headers.items())
        self.body = req.get_body() or b""
        low = {k.lower(): v for k, v in self.headers}
        if low.get("x-forwarded-port", "").isdigit():
            self.port = int(low["x-forwarded-port"])
        else:
            self.port = self.url.port or (443 if self.url.scheme == "https" else 80)

    def header(self, name):
        for k, v in self.headers:
            if k.lower() == name:
                return v
        return None


def context_entries(context, names=CONTEXT_NAMES):
    """{"azure_functions.<name>": value} for the context's known values."""
    out = {}
    for name in names:
        value = getattr(context, name, None)
        if value is not None:
            out["azure_functions." + name] = value
    return out


def to_http_response(status, headers, body):
    """A func.HttpResponse of an application's answer: every header kept
    (two Set-Cookie stay two), the mimetype from Content-Type and the
    charset from Content-Encoding, as Azure's adapters set them."""
    mimetype = charset = None
    for k, v in headers:
        if k.lower() == "content-type":
            mimetype = v
        elif k.lower() == "content-encoding":
            charset = v
    return HttpResponse(body=body, status_code=status, headers=list(headers),
                        mimetype=mimetype, charset=charset)


def make_environ(parts, context, errors):
    environ = {
        "REQUEST_METHOD": parts.method,
        "SCRIPT_NAME": "",
        "PATH_INFO": unquote_to_bytes(parts.url.path).decode("latin-1"),
        "QUERY_STRING": wsgi_text(parts.url.query),
        "SERVER_NAME": wsgi_text(parts.url.hostname or "localhost"),
        "SERVER_PORT": str(parts.port),
        "SERVER_PROTOCOL": "HTTP/1.1",
        "CONTENT_LENGTH": str(len(parts.body)),
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": parts.url.scheme or "http",
        "wsgi.input": io.BytesIO(parts.body),
        "wsgi.errors": errors,
        "wsgi.multithread": False,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }
    content_type = parts.header("content-type")
    if content_type is not None:
        environ["CONTENT_TYPE"] = wsgi_text(content_type)
    for name, value in parts.headers:
        environ["HTTP_" + name.upper().replace("-", "_")] = wsgi_text(value)
    environ.update(context_entries(context))
    return environ


class WsgiMiddleware:
    """Runs a WSGI application for each request of an HTTP function."""

    def __init__(self, app):
        self._app = app
        self.main = self.handle

    def handle(self, req, context=None):
        """The application's answer to req, as a func.HttpResponse."""
        errors = io.StringIO()
        environ = make_environ(RequestParts(req), context, errors)
        answer = {}
        chunks = []

        def start_response(status, headers, exc_info=None):
            if exc_info is not None and answer:
                raise exc_info[1].with_traceback(exc_info[2])
            answer["status"] = int(str(status).split(" ", 1)[0])
            answer["headers"] = [(str(k), str(v)) for k, v in headers]
            return chunks.append  # PEP 3333's write()

        result = self._app(environ, start_response)
        try:
            for chunk in result:
                if chunk:
                    chunks.append(chunk)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        body = b"".join(chunks)
        if errors.tell():
            raise Exception(errors.getvalue())
        if "status" not in answer:
            raise Exception("the WSGI application returned without calling start_response")
        if answer["status"] >= 500:
            raise Exception(body)
        return to_http_response(answer["status"], answer["headers"], body)
