"""The asyncio side of the worker, imported only when the app has an
`async def` function: one event loop on its own thread runs every async
invocation concurrently. The reader hands over all async invocations of one
read with a single call_soon_threadsafe; results are queued as tasks finish
and flushed once per loop iteration. CANCEL cancels the task, which
answers {"ok": false, "error": "cancelled"}."""
import asyncio
import threading

from . import capture
from .dispatcher import CANCELLED, _guarded
from .invocation import CURRENT


class Runner:
    """The event loop thread serving dispatcher d."""

    def __init__(self, d, start=True):
        self.d = d
        self.loop = asyncio.new_event_loop()
        self.flush_pending = False
        self.started = False
        if start:
            self.start()

    def start(self):
        """Run the loop on its own thread (once). A Runner made with
        start=False has a loop that app modules could use while they were
        imported (see the dispatcher's LOAD); what they scheduled on it runs
        now."""
        if not self.started:
            self.started = True
            threading.Thread(target=_guarded, args=(self._run, ()), name="stratus-asyncio",
                             daemon=True).start()

    def _run(self):
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()
        raise RuntimeError("the asyncio loop stopped")

    def submit(self, invs):
        """Start the async invocations invs (a list); any thread."""
        self.loop.call_soon_threadsafe(self._start, invs)

    def submit_coroutine(self, inv, coro):
        """Finish inv by awaiting coro, which its function returned."""
        self.loop.call_soon_threadsafe(self._start_one, inv, coro)

    def cancel(self, inv):
        """Cancel inv's task; any thread."""
        self.loop.call_soon_threadsafe(self._cancel, inv)

    def _cancel(self, inv):
        if inv.task is not None:
            inv.task.cancel()

    def _start(self, invs):
        create = self.loop.create_task
        for inv in invs:
            if inv.cancelled:
                self._done(inv, CANCELLED, b"")
            else:
                inv.task = create(self._invoke(inv, None))

    def _start_one(self, inv, coro):
        inv.task = self.loop.create_task(self._invoke(inv, coro))

    async def _invoke(self, inv, coro):
        CURRENT.set(inv)        # the task runs in its own copy of the context
        plan = inv.plan
        try:
            ret = await (coro if coro is not None else plan.call(inv))
            meta, body = plan.encode(inv, ret)
        except asyncio.CancelledError:
            meta, body = CANCELLED, b""
        except BaseException as e:
            meta, body = self.d.error_meta(inv, e), b""
        if inv.pout is not None or inv.perr is not None:
            capture.finish(inv)
        inv.task = None
        self._done(inv, meta, body)

    def _done(self, inv, meta, body):
        self.d.result(inv, meta, body)
        if not self.flush_pending:
            self.flush_pending = True
            self.loop.call_soon(self._flush)

    def _flush(self):
        self.flush_pending = False
        self.d.flush()
