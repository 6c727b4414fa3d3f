"""WSGI adapter of the azure.functions stand-in: WsgiMiddleware runs a WSGI
application (Flask, Django, ...) behind an HTTP-triggered function, with
the environ Azure's builds (PEP 3333 keys, HTTP_* headers, the
azure_functions.* context entries) and its error rules: output on
wsgi.errors or a 5xx status fails the invocation.

    import azure.functions as func
    from .app import app

    main = func.WsgiMiddleware(app.wsgi_app).main
    # or: def main(req, context): return func.WsgiMiddleware(app).handle(req, context)
"""
import io
import logging
from urllib.parse import unquote_to_bytes, urlparse

from ._http import HttpResponse


def _latin1(s):
    """A str as WSGI wants it: its UTF-8 bytes, one character per byte."""
    return s.encode("utf-8").decode("latin-1")


class WsgiRequest:
    """The parts of a func.HttpRequest (and Context) that make a WSGI
    environ; AsgiRequest builds an ASGI scope from the same parts."""

    _environ_cache = None

    def __init__(self, func_req, func_ctx=None):
        url = urlparse(func_req.url)
        body = func_req.get_body() or b""
        self._body = body
        self._lowercased_headers = {k.lower(): v for k, v in func_req.headers.items()}
        self.request_method = getattr(func_req, "method", None)
        self.script_name = ""
        self.path_info = unquote_to_bytes(url.path).decode("latin-1")
        self.query_string = url.query
        self.content_type = self._lowercased_headers.get("content-type")
        self.content_length = str(len(body))
        self.server_name = url.hostname
        self.server_port = str(self._get_port(url, self._lowercased_headers))
        self.server_protocol = "HTTP/1.1"
        self._http_environ = {"HTTP_" + k.upper().replace("-", "_"): v
                              for k, v in func_req.headers.items()}
        self.wsgi_url_scheme = url.scheme
        self.af_function_directory = getattr(func_ctx, "function_directory", None)
        self.af_function_name = getattr(func_ctx, "function_name", None)
        self.af_invocation_id = getattr(func_ctx, "invocation_id", None)
        self.af_thread_local_storage = getattr(func_ctx, "thread_local_storage", None)
        self.af_trace_context = getattr(func_ctx, "trace_context", None)
        self.af_retry_context = getattr(func_ctx, "retry_context", None)

    @staticmethod
    def _get_port(url, headers):
        if headers.get("x-forwarded-port"):
            return int(headers["x-forwarded-port"])
        if url.port:
            return int(url.port)
        return 443 if url.scheme == "https" else 80

    def to_environ(self, errors_buffer):
        """The WSGI environ (made once), None values left out."""
        if self._environ_cache is not None:
            return self._environ_cache
        environ = {
            "REQUEST_METHOD": self.request_method,
            "SCRIPT_NAME": self.script_name,
            "PATH_INFO": self.path_info,
            "QUERY_STRING": self.query_string,
            "CONTENT_TYPE": self.content_type,
            "CONTENT_LENGTH": self.content_length,
            "SERVER_NAME": self.server_name,
            "SERVER_PORT": self.server_port,
            "SERVER_PROTOCOL": self.server_protocol,
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": self.wsgi_url_scheme,
            "wsgi.input": io.BytesIO(self._body),
            "wsgi.errors": errors_buffer,
            "wsgi.multithread": False,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
            "azure_functions.function_directory": self.af_function_directory,
            "azure_functions.function_name": self.af_function_name,
            "azure_functions.invocation_id": self.af_invocation_id,
            "azure_functions.trace_context": self.af_trace_context,
            "azure_functions.retry_context": self.af_retry_context,
        }
        environ.update(self._http_environ)
        self._environ_cache = {k: _latin1(v) if isinstance(v, str) else v
                               for k, v in environ.items() if v is not None}
        return self._environ_cache


def _func_response(status_code, headers, body):
    """An HttpResponse from a framework's status, [(name, value)] and body;
    as Azure's, mimetype from Content-Type and charset from
    Content-Encoding."""
    low = {k.lower(): v for k, v in headers}
    return HttpResponse(body=body, status_code=status_code, headers=list(headers),
                        mimetype=low.get("content-type"), charset=low.get("content-encoding"))


class WsgiResponse:
    """What a WSGI application answered: status, headers, body."""

    def __init__(self):
        self._status = ""
        self._status_code = 0
        self._headers = []
        self._buffer = []

    @classmethod
    def from_app(cls, app, environ):
        res = cls()
        result = app(environ, res._start_response)
        try:
            res._buffer = [chunk or b"" for chunk in result]
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        return res

    def _start_response(self, status, response_headers, exc_info=None):
        if exc_info and self._status:
            raise exc_info[1].with_traceback(exc_info[2])
        self._status = status
        self._headers = [(str(k), str(v)) for k, v in response_headers]
        self._status_code = int(status.split(" ", 1)[0])
        return self._buffer.append       # the legacy write() callable

    def to_func_response(self):
        return _func_response(self._status_code, self._headers, b"".join(self._buffer))


class WsgiMiddleware:
    """Adapts a WSGI application to an HTTP-triggered function: use
    `main = func.WsgiMiddleware(app).main`, or return
    `func.WsgiMiddleware(app).handle(req, context)` from main."""

    _logger = logging.getLogger("azure.functions.WsgiMiddleware")
    _usage_reported = False

    def __init__(self, app):
        if not WsgiMiddleware._usage_reported:
            self._logger.debug("Instantiating Azure Functions WSGI middleware.")
            WsgiMiddleware._usage_reported = True
        self._app = app
        self._wsgi_error_buffer = io.StringIO()
        self.main = self._handle

    def handle(self, req, context=None):
        """Run the WSGI application for req; returns a func.HttpResponse."""
        return self._handle(req, context)

    def _handle(self, req, context=None):
        environ = WsgiRequest(req, context).to_environ(self._wsgi_error_buffer)
        response = WsgiResponse.from_app(self._app, environ)
        self._handle_errors(response)
        return response.to_func_response()

    def _handle_errors(self, response):
        # As in Azure: what the application wrote on wsgi.errors, or a 5xx
        # answer, fails the invocation.
        if self._wsgi_error_buffer.tell() > 0:
            self._wsgi_error_buffer.seek(0)
            message = self._wsgi_error_buffer.read()
            self._wsgi_error_buffer.seek(0)
            self._wsgi_error_buffer.truncate()
            raise Exception(message)
        if response._status_code >= 500:
            raise Exception(b"".join(response._buffer))
