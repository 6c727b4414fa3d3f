"""azure.functions, as far as Stratus's Python worker needs it: a standard
library only stand-in for Azure's `azure-functions` package, so that
`import azure.functions as func` works in apps that do not install the real
one. The worker adds this folder to sys.path only when no `azure/functions`
package is found on it, so an installed azure-functions always wins.

The names and signatures follow Azure's public API (HttpRequest,
HttpResponse, Out, Context, TraceContext, RetryContext, QueueMessage,
TimerRequest, InputStream, WsgiMiddleware, AsgiMiddleware). Each trigger's
types live in a module of their own (_http.py, _queue.py, _timer.py,
_blob.py; the framework adapters in _http_wsgi.py and _http_asgi.py) and are
exported here.
"""
from ._core import Context, Out, RetryContext, TraceContext
from ._http import HttpRequest, HttpResponse

# The types of other triggers load on first use: an HTTP-only app's cold
# start does not import them.
_LAZY = {"QueueMessage": "_queue", "TimerRequest": "_timer", "InputStream": "_blob",
         "WsgiMiddleware": "_http_wsgi", "AsgiMiddleware": "_http_asgi"}


def __getattr__(name):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError("module 'azure.functions' has no attribute %r" % name)
    from importlib import import_module
    value = getattr(import_module("." + module, __name__), name)
    globals()[name] = value
    return value


__version__ = "1.0.0+stratus"

__all__ = (
    "AsgiMiddleware",
    "Context",
    "HttpRequest",
    "HttpResponse",
    "InputStream",
    "Out",
    "QueueMessage",
    "RetryContext",
    "TimerRequest",
    "TraceContext",
    "WsgiMiddleware",
)
