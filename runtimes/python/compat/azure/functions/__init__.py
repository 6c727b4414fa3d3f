"""azure.functions, as far as Stratus's Python worker needs it: a standard
library only stand-in for Azure's `azure-functions` package, so that
`import azure.functions as func` works in apps that do not install the real
one. The worker adds this folder to sys.path only when no `azure/functions`
package is found on it, so an installed azure-functions always wins.

The names and signatures follow Azure's public API (HttpRequest,
HttpResponse, Out, Context, TraceContext, RetryContext, QueueMessage,
TimerRequest, InputStream, WsgiMiddleware, AsgiMiddleware), and the v2
programming model (FunctionApp, Blueprint, their decorators, AuthLevel,
DataType; in the decorators package). Each trigger's
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
# The v2 programming model (decorators in function_app.py).
_LAZY.update(dict.fromkeys((
    "AccessRights", "AsgiFunctionApp", "AuthLevel", "BindingApi", "Blueprint", "Cardinality",
    "DataType", "DecoratorApi", "ExternalHttpFunctionApp", "Function", "FunctionApp",
    "FunctionRegister", "HttpMethod", "SettingsApi", "TriggerApi", "WsgiFunctionApp"),
    "decorators"))


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
    "AccessRights",
    "AsgiFunctionApp",
    "AsgiMiddleware",
    "AuthLevel",
    "BindingApi",
    "Blueprint",
    "Cardinality",
    "Context",
    "DataType",
    "DecoratorApi",
    "ExternalHttpFunctionApp",
    "Function",
    "FunctionApp",
    "FunctionRegister",
    "HttpMethod",
    "HttpRequest",
    "HttpResponse",
    "InputStream",
    "Out",
    "QueueMessage",
    "RetryContext",
    "SettingsApi",
    "TimerRequest",
    "TraceContext",
    "TriggerApi",
    "WsgiFunctionApp",
    "WsgiMiddleware",
)
