"""func.AsgiMiddleware: an ASGI application (FastAPI, Starlette, Quart, ...)
behind an HTTP-triggered function of the v1 model, as with Azure's library:

    async def main(req, context):
        return await func.AsgiMiddleware(app).handle_async(req, context)
    # or: main = func.AsgiMiddleware(app).main  (a loop of its own per call)

The application gets an ASGI 3 "http" scope with the invocation's context
under azure_functions.* keys, the request body in one http.request
message, and http.disconnect once its answer is complete.

As with Azure's, the application's lifespan (startup and shutdown
handlers) runs only when the function asks for it: `await
notify_startup()` once before the first request, `await
notify_shutdown()` at the end; `state` is the lifespan scope's state."""
import asyncio
import logging
from urllib.parse import unquote

from ._http_wsgi import CONTEXT_NAMES, RequestParts, context_entries, to_http_response

_log = logging.getLogger("azure.functions.AsgiMiddleware")


def make_scope(parts, context):
    url = parts.url
    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.1"},
        "http_version": "1.1",
        "method": parts.method,
        "scheme": url.scheme or "http",
        "path": unquote(url.path),
        "raw_path": url.path.encode("utf-8"),
        "query_string": url.query.encode("utf-8"),
        "root_path": "",
        # The bytes the client sent: the host reads headers as UTF-8.
        "headers": [(k.lower().encode("utf-8"), v.encode("utf-8")) for k, v in parts.headers],
        "server": (url.hostname, parts.port) if url.hostname else None,
        "client": None,
    }
    scope.update(context_entries(context, CONTEXT_NAMES + ("thread_local_storage",)))
    return scope


def header_text(b):
    """An answer's header bytes as the text whose UTF-8 the host writes:
    UTF-8 bytes are sent as they are; others (latin-1) as their characters."""
    if not isinstance(b, (bytes, bytearray)):
        return str(b)
    try:
        return b.decode("utf-8")
    except UnicodeDecodeError:
        return b.decode("latin-1")


async def run_app(app, req, context):
    """Run app for req; the answer as a func.HttpResponse."""
    parts = RequestParts(req)
    answer = {"status": None, "headers": []}
    chunks = []
    complete = asyncio.Event()
    request = [{"type": "http.request", "body": parts.body, "more_body": False}]

    async def receive():
        if request:
            return request.pop()
        await complete.wait()
        return {"type": "http.disconnect"}

    async def send(message):
        kind = message.get("type")
        if kind == "http.response.start":
            answer["status"] = int(message["status"])
            answer["headers"] = [(header_text(k), header_text(v))
                                 for k, v in message.get("headers") or ()]
        elif kind == "http.response.body":
            chunks.append(message.get("body") or b"")
            if not message.get("more_body"):
                complete.set()

    await app(make_scope(parts, context), receive, send)
    if answer["status"] is None:
        raise Exception("the ASGI application returned without starting a response")
    return to_http_response(answer["status"], answer["headers"], b"".join(chunks))


class _Lifespan:
    """The application's ASGI lifespan, run as a task of the loop that
    called startup(): it gets lifespan.startup, then lifespan.shutdown."""

    def __init__(self, app, state):
        self.app = app
        self.scope = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"},
                      "state": state}
        self.inbox = asyncio.Queue()
        self.started = asyncio.Event()
        self.stopped = asyncio.Event()
        self.ok = False
        self.task = None
        self.stopping = False

    async def send(self, message):
        kind = str(message.get("type"))
        if kind in ("lifespan.startup.complete", "lifespan.startup.failed"):
            self.ok = kind == "lifespan.startup.complete"
            self.started.set()
        elif kind in ("lifespan.shutdown.complete", "lifespan.shutdown.failed"):
            self.stopped.set()
        if kind.endswith(".failed"):
            _log.error("ASGI lifespan %s failed: %s", kind.split(".")[1],
                       message.get("message") or "(no message)")

    async def run(self):
        try:
            await self.app(self.scope, self.inbox.get, self.send)
        except Exception as e:  # no lifespan support, or a handler that raised
            if not self.started.is_set():
                _log.warning("the ASGI application ran no lifespan startup: %r", e)
            elif self.ok:
                _log.error("the ASGI application's lifespan failed: %r", e)
        finally:
            self.started.set()
            self.stopped.set()

    async def startup(self):
        # Once: requests that arrive together may each ask for it.
        if self.task is None:
            self.inbox.put_nowait({"type": "lifespan.startup"})
            self.task = asyncio.ensure_future(self.run())
        await self.started.wait()
        return self.ok

    async def shutdown(self):
        if not self.stopping:
            self.stopping = True
            self.inbox.put_nowait({"type": "lifespan.shutdown"})
        await self.stopped.wait()


class AsgiMiddleware:
    """Runs an ASGI application for each request of an HTTP function."""

    def __init__(self, app):
        self._app = app
        self.main = self._run
        self.state = {}
        self._lifespan = None

    async def notify_startup(self):
        """Run the application's lifespan startup (its startup handlers);
        True when it reports success, False when it fails or has no
        lifespan support. Call it once, before the first request."""
        if self._lifespan is None:
            self._lifespan = _Lifespan(self._app, self.state)
        return await self._lifespan.startup()

    async def notify_shutdown(self):
        """Run the application's lifespan shutdown (its shutdown
        handlers), once notify_startup() has run."""
        if self._lifespan is None:
            raise RuntimeError("notify_startup() must be called first.")
        await self._lifespan.shutdown()

    def _run(self, req, context=None):
        return asyncio.run(run_app(self._app, req, context))

    async def handle_async(self, req, context=None):
        """The application's answer to req, as a func.HttpResponse."""
        return await run_app(self._app, req, context)

    def handle(self, req, context=None):
        """As in Azure, deprecated: it runs the application on a loop of its
        own. Prefer `await handle_async(req, context)`."""
        _log.warning("handle() is deprecated: await handle_async() instead")
        return self._run(req, context)
