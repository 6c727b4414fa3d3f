"""One invocation in flight on this worker, current(): which invocation the
running code belongs to (so print() and logging calls, on any thread or
asyncio task, are tied to the right one), and
context.thread_local_storage, through which threads a function starts say
which invocation they work for."""
from _contextvars import ContextVar
from _thread import _local, get_ident

from .protocol import parse_meta

# The invocation of an asyncio task (each task runs in its own copy of the
# context, where it sets this).
CURRENT = ContextVar("stratus_invocation", default=None)
# The synchronous invocation each of the worker's threads runs, by thread
# id (None between two). A synchronous function runs on the worker's thread
# itself, as in Azure's worker, which ties its lines to it by a thread-local:
# setting a dict item costs CPython a third of setting a context variable
# and resetting it, on every invocation.
RUNNING = {}
_running = RUNNING.get


def current():
    """The invocation the calling code belongs to (its asyncio task's, or
    the synchronous one its thread runs), or None."""
    inv = CURRENT.get()
    if inv is None:
        inv = _running(get_ident())
    return inv


class Invocation:
    """An INVOKE frame being run: its frame id, metadata, body and the plan
    of its function. Lives from the INVOKE until its RESULT is queued. The
    metadata is parsed on first use (`meta`): a function that reads nothing
    of its request costs no JSON decoding. Attributes with class defaults
    are set only when used."""

    pout = None         # print() text of this invocation not yet ended by "\n"
    perr = None         # the same for sys.stderr
    outs = None         # binding name -> Out object, for output parameters
    task = None         # its asyncio task (async functions)
    cancelled = False   # a CANCEL arrived
    _meta = None

    def __init__(self, fid, raw, body, plan):
        self.id = fid
        self.raw = raw      # the metadata's bytes
        self.body = body
        self.plan = plan

    @property
    def meta(self):
        """The INVOKE metadata as a dict. ValueError when it is not a JSON
        object (a malformed frame from the host)."""
        m = self._meta
        if m is None:
            m = parse_meta(self.raw) if self.raw else {}
            if m is None:
                raise ValueError("the host sent INVOKE metadata that is not a JSON object: %r"
                                 % bytes(self.raw[:80]))
            self._meta = m
        return m

    @property
    def invocation_id(self):
        """The invocation's UUID as in the host's logs."""
        return self.meta.get("invocationId") or str(self.id)


# ---- context.thread_local_storage ----

class _InvocationLocal(_local):
    """context.thread_local_storage: one thread-local object for the whole
    worker, as in Azure. In a function's own thread (or task) its
    invocation_id is that invocation's. A thread the function starts has
    none until it sets it, as Azure documents:

        context.thread_local_storage.invocation_id = context.invocation_id

    after which that thread's logging lines belong to the invocation."""

    @property
    def invocation_id(self):
        inv = current()
        if inv is not None:
            return inv.invocation_id
        try:
            return self.__dict__["_iid"]
        except KeyError:
            raise AttributeError("'thread_local_storage' has no attribute 'invocation_id' in "
                                 "this thread (set it to context.invocation_id)") from None

    @invocation_id.setter
    def invocation_id(self, value):
        d = self.__dict__
        d["_iid"] = value
        d["_inv"] = _LIVE.get(value) if _LIVE is not None else None

    @invocation_id.deleter
    def invocation_id(self):
        d = self.__dict__
        d.pop("_iid", None)
        d.pop("_inv", None)


THREAD_LOCAL = _InvocationLocal()
_LIVE = None        # invocation id -> Invocation whose context gave out THREAD_LOCAL


def thread_local_storage(inv):
    """THREAD_LOCAL, for inv's context: inv becomes findable by its id for
    threads that set THREAD_LOCAL.invocation_id."""
    global _LIVE
    if _LIVE is None:
        from weakref import WeakValueDictionary
        _LIVE = WeakValueDictionary()
    _LIVE[inv.invocation_id] = inv
    return THREAD_LOCAL


def thread_invocation():
    """The invocation this thread said it works for through
    thread_local_storage.invocation_id, or None."""
    return THREAD_LOCAL.__dict__.get("_inv")
