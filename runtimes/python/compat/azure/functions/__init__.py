"""azure.functions, as far as Stratus's Python worker needs it: a standard
library only stand-in for Azure's `azure-functions` package, so that
`import azure.functions as func` works in apps that do not install the real
one. The worker adds this folder to sys.path only when no `azure/functions`
package is found on it, so an installed azure-functions always wins.

The names and signatures follow Azure's public API (HttpRequest,
HttpResponse, Out, Context, TraceContext, RetryContext). Types for other
triggers (QueueMessage, TimerRequest, InputStream, ...) belong in modules of
their own beside _http.py and are exported here.
"""
from ._core import Context, Out, RetryContext, TraceContext
from ._http import HttpRequest, HttpResponse

__version__ = "1.0.0+stratus"

__all__ = (
    "Context",
    "HttpRequest",
    "HttpResponse",
    "Out",
    "RetryContext",
    "TraceContext",
)
