"""One invocation in flight on this worker, and the context variable that
says which invocation the running code belongs to (so print() and logging
calls, on any thread or asyncio task, are tied to the right one)."""
from _contextvars import ContextVar

CURRENT = ContextVar("stratus_invocation", default=None)


class Invocation:
    """An INVOKE frame being run: its frame id, parsed metadata, body and
    the plan of its function. Lives from the INVOKE until its RESULT is
    queued. Attributes with class defaults are set only when used."""

    pout = None         # print() text of this invocation not yet ended by "\n"
    perr = None         # the same for sys.stderr
    outs = None         # binding name -> Out object, for output parameters
    task = None         # its asyncio task (async functions)
    cancelled = False   # a CANCEL arrived

    def __init__(self, fid, meta, body, plan):
        self.id = fid
        self.meta = meta
        self.body = body
        self.plan = plan

    @property
    def invocation_id(self):
        """The invocation's UUID as in the host's logs."""
        return self.meta.get("invocationId") or str(self.id)
