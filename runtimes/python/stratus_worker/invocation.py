"""One invocation in flight on this worker, and the context variable that
says which invocation the running code belongs to (so print() and logging
calls, on any thread or asyncio task, are tied to the right one)."""
from _contextvars import ContextVar

from .protocol import parse_meta

CURRENT = ContextVar("stratus_invocation", default=None)


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
