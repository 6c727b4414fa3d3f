"""ASGI adapter of the azure.functions stand-in: AsgiMiddleware runs an ASGI
application (FastAPI, Starlette, Quart, ...) behind an HTTP-triggered
function, with the scope Azure's builds (type "http", the request's
method, path, query string and headers, the azure_functions.* context
entries).

    import azure.functions as func
    from .app import app

    async def main(req, context):
        return await func.AsgiMiddleware(app).handle_async(req, context)
    # or: main = func.AsgiMiddleware(app).main  (runs the app on its own loop)
"""
import asyncio
import logging

from ._http_wsgi import WsgiRequest, _func_response


class AsgiRequest(WsgiRequest):
    """The ASGI scope of a func.HttpRequest (and Context)."""

    def __init__(self, func_req, func_ctx=None):
        self.asgi_version = "2.1"
        self.asgi_spec_version = "2.1"
        self._headers = func_req.headers
        super().__init__(func_req, func_ctx)

    def _get_encoded_http_headers(self):
        return [(k.lower().encode("utf-8"), v.encode("utf-8")) for k, v in self._headers.items()]

    def _get_server_address(self):
        if self.server_name is not None:
            return (self.server_name, int(self.server_port))
        return None

    def to_asgi_http_scope(self):
        return {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": self.asgi_spec_version},
            "asgi.version": self.asgi_version,
            "asgi.spec_version": self.asgi_spec_version,
            "http_version": "1.1",
            "method": self.request_method,
            "scheme": self.wsgi_url_scheme or "https",
            "path": self.path_info,
            "raw_path": (self.path_info or "").encode("utf-8"),
            "query_string": (self.query_string or "").encode("utf-8"),
            "root_path": self.script_name,
            "headers": self._get_encoded_http_headers(),
            "server": self._get_server_address(),
            "client": None,
            "azure_functions.function_directory": self.af_function_directory,
            "azure_functions.function_name": self.af_function_name,
            "azure_functions.invocation_id": self.af_invocation_id,
            "azure_functions.thread_local_storage": self.af_thread_local_storage,
            "azure_functions.trace_context": self.af_trace_context,
            "azure_functions.retry_context": self.af_retry_context,
        }


class AsgiResponse:
    """What an ASGI application sent: status, headers, body."""

    def __init__(self):
        self._status_code = 0
        self._headers = []
        self._buffer = []
        self._request_body = b""
        self._done = None           # an asyncio.Event, set when the body is complete

    @classmethod
    async def from_app(cls, app, scope, body):
        res = cls()
        res._request_body = body
        res._done = asyncio.Event()
        await app(scope, res._receive, res._send)
        return res

    def to_func_response(self):
        return _func_response(self._status_code, self._headers, b"".join(self._buffer))

    async def _receive(self):
        if self._request_body is not None:
            body, self._request_body = self._request_body, None
            return {"type": "http.request", "body": body, "more_body": False}
        # The request has been read: the client "disconnects" once the
        # response is complete.
        await self._done.wait()
        return {"type": "http.disconnect"}

    async def _send(self, message):
        kind = message.get("type")
        if kind == "http.response.start":
            self._status_code = message["status"]
            self._headers = [(k.decode("latin-1") if isinstance(k, bytes) else k,
                              v.decode("latin-1") if isinstance(v, bytes) else v)
                             for k, v in message.get("headers") or ()]
        elif kind == "http.response.body":
            self._buffer.append(message.get("body", b""))
            if not message.get("more_body", False):
                self._done.set()


class AsgiMiddleware:
    """Adapts an ASGI application to an HTTP-triggered function: return
    `await func.AsgiMiddleware(app).handle_async(req, context)` from an
    async main, or use `main = func.AsgiMiddleware(app).main`."""

    _logger = logging.getLogger("azure.functions.AsgiMiddleware")
    _usage_reported = False

    def __init__(self, app):
        if not AsgiMiddleware._usage_reported:
            self._logger.debug("Starting Azure Functions ASGI middleware.")
            AsgiMiddleware._usage_reported = True
        self._app = app
        self.main = self._handle

    def handle(self, req, context=None):
        """Deprecated in Azure, as here: runs the application on a loop of
        its own; prefer `await handle_async(req, context)`."""
        import warnings
        warnings.warn("handle() is deprecated. Please await .handle_async() instead.",
                      DeprecationWarning, stacklevel=2)
        self._logger.warning("handle() is deprecated. Please `await .handle_async()` instead.")
        return self._handle(req, context)

    def _handle(self, req, context=None):
        scope = AsgiRequest(req, context).to_asgi_http_scope()
        response = asyncio.run(AsgiResponse.from_app(self._app, scope, req.get_body()))
        return response.to_func_response()

    async def handle_async(self, req, context=None):
        """Run the ASGI application for req; returns a func.HttpResponse."""
        scope = AsgiRequest(req, context).to_asgi_http_scope()
        response = await AsgiResponse.from_app(self._app, scope, req.get_body())
        return response.to_func_response()
