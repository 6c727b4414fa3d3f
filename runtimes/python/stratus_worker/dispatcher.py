"""The worker's engine: reads frames from the host, runs invocations, and
sends every frame of a turn (results, logs, pongs) with one write.

Threads, leader/follower style. One thread at a time holds the *reader*
role: it reads what the socket has (many frames per read), answers PING at
once, queues the synchronous invocations and then runs them itself, inline,
so a burst of short functions costs no thread hand-off at all; async
functions go to the asyncio loop in one hand-off per read. A monitor thread
looks every few milliseconds: when the reader has been inside one function
for a whole tick (it blocks on I/O, sleeps, or computes), the monitor gives
the reader role to another thread (an idle one, or a new one), which goes
on reading, answering PING and running the rest of the queue. The old
reader finishes its function, helps with the queue, then waits until it is
needed again. At most PYTHON_THREADPOOL_THREAD_COUNT threads run function
code at once (Azure's default: min(32, CPUs + 4)); the reader never stops
reading. While anything runs (sync or async), the monitor also sends every
tick what was queued meanwhile, such as the log lines of running functions.

Frames leave through one list of pieces (a frame's pieces are queued
together, by one append or extend) and flush(), which writes everything
queued, in order, under one lock: it takes a copy of the list and deletes
that many pieces from its head, two steps that are each atomic, so threads
may go on appending meanwhile. The reader flushes at the end of each turn;
threads that finish outside a turn, and the asyncio loop, flush themselves."""
import os
import sys
import time
from _collections import deque
from _thread import allocate_lock, get_ident, start_new_thread

from . import capture, loader
from .bindings import describe_exception
from .invocation import RUNNING, Invocation
from .protocol import (CANCEL, HEADER_SIZE, INVOKE, LOAD, LOADED, MAGIC, MAX_BODY, MAX_META,
                       PING, PONG, READY, RESULT, RESULT_PREFIX, SHUTDOWN, TYPE_NAMES, dumps,
                       frame, pack_header, pack_result_rest, parse_meta, quote, unpack_header)

BUFSZ = 64 * 1024
TICK = 0.005                # monitor period, seconds
PARK_AFTER = 200            # idle monitor ticks before the monitor sleeps
CANCELLED = b'{"ok":false,"error":"cancelled"}'
_forked = False             # this is a process that function code forked


_FN_PREFIX = b'{"function":"'
_new = object.__new__


class _Signal:
    """A wake-up for one waiting thread: set() before or during wait() makes
    it return; each wait() consumes one set(). (threading is not imported:
    it costs a millisecond of every cold start.)"""
    __slots__ = ("_lock",)

    def __init__(self):
        self._lock = allocate_lock()
        self._lock.acquire()

    def wait(self):
        self._lock.acquire()

    def set(self):
        try:
            self._lock.release()
        except RuntimeError:
            pass                # already set


def _guarded(target, args):
    try:
        target(*args)
    except BaseException:
        # A fault of the worker itself (never of function code, which is
        # caught where it runs): a worker with a dead thread would hang, so
        # it ends and the host starts another.
        import traceback
        sys.__stderr__.write("stratus worker: internal error, exiting:\n" +
                             traceback.format_exc())
        sys.__stderr__.flush()
        os._exit(70)


def _spawn(target, *args):
    start_new_thread(_guarded, (target, args))


class _Token:
    """A worker thread's identity for the reader role."""
    __slots__ = ("ev", "seq")

    def __init__(self):
        self.ev = _Signal()
        self.seq = 0        # invocations this thread has started


class Dispatcher:
    """Serves one host connection; see the module comment."""

    def __init__(self, sock, max_threads):
        self.sock = sock
        self.max_threads = max_threads
        self.out = []               # pieces of outgoing frames (see flush)
        self.wlock = allocate_lock()
        self.role = allocate_lock()
        self.inflight = {}          # frame id -> Invocation
        self.runq = deque()         # synchronous invocations waiting to run
        self.plans = None           # function name -> Plan, after LOAD
        self.plan_keys = {}         # b'{"function":"name"' -> Plan (see _load)
        self.key_length = 0         # the length of every key of plan_keys, or 0 (see _load)
        self.load_errors = {}       # function name -> why it did not load
        self.app_root = os.getcwd()
        self.aio = None
        self.tail = None            # bytes of an incomplete frame
        self.max_meta = MAX_META
        self.max_body = MAX_BODY
        self.shutting_down = False
        # reader role (all under self.role)
        self.reader = None
        self.reader_busy = False    # the reader is running function code
        self.draining = 0           # threads running function code
        self.idle = []              # tokens of threads waiting for the role
        self.monitor_parked = False
        self.monitor_ev = _Signal()
        capture.init(self.out, self.flush, self.inflight)
        if hasattr(os, "register_at_fork"):
            os.register_at_fork(after_in_child=self._after_fork_in_child)

    # ---- entry ----

    def serve(self):
        """Run on the calling thread until the host closes the socket or
        asks to shut down; never returns (the process exits)."""
        me = _Token()
        self.reader = me
        _spawn(self._monitor)
        _guarded(self._thread_main, (me,))

    def _thread_main(self, me):
        while True:
            self._read_turns(me)
            me.ev.wait()

    # ---- the reader role ----

    def _read_turns(self, me):
        recv = self.sock.recv
        while True:
            if self.runq and not self._drain_as(me):
                break
            self.flush()
            if self.reader is not me:
                break
            try:
                data = recv(BUFSZ)
            except OSError as e:
                self._exit(0, "reading from the host failed: %s" % e)
            if not data:
                self._exit(0)
            self._handle(data)
            if self.runq and not self._drain_as(me):
                break
        with self.role:
            self.idle.append(me)

    def _drain_as(self, me):
        """Run queued synchronous invocations while there is room for one
        more thread in function code. True while me still holds the reader
        role (False: it was given away while me ran a slow function)."""
        role = self.role
        while True:
            with role:
                if self.draining >= self.max_threads:
                    return self.reader is me
                self.draining += 1
                if self.reader is me:
                    self.reader_busy = True
                    if self.monitor_parked:
                        self.monitor_parked = False
                        self.monitor_ev.set()
            self._drain(me)
            with role:
                self.draining -= 1
                is_reader = self.reader is me
                if is_reader:
                    self.reader_busy = False
                again = bool(self.runq) and self.draining < self.max_threads
            if not is_reader:
                self.flush()
            if not again:
                return is_reader

    def _drain(self, me):
        """Run queued synchronous invocations on this thread, one after
        another, and queue their results."""
        runq = self.runq
        pop = runq.popleft
        append = self.out.append
        done = self.inflight.pop
        max_meta = self.max_meta
        small = min(4096, self.max_body)    # a body that is copied into its frame's piece
        running = RUNNING
        thread = get_ident()
        while runq:
            try:
                inv = pop()
            except IndexError:
                return
            me.seq += 1
            running[thread] = inv   # what print() and logging belong to
            try:
                meta, body = inv.plan.run(inv)
                if _forked:
                    _end_forked_child()
                if meta is None:
                    # A plain function that returned a coroutine (a wrapped
                    # async def): finish it on the loop.
                    running[thread] = None
                    self._start_aio().submit_coroutine(inv, body)
                    continue
            except BaseException as e:
                meta, body = self.error_meta(inv, e), b""
            if inv.pout is not None or inv.perr is not None:
                capture.finish(inv)
            running[thread] = None
            # _result() inlined: one piece per small frame (the copy costs
            # less than queueing and joining three).
            n, b = len(meta), len(body)
            if b > small or n > max_meta:
                self._result(inv, meta, body)
            else:
                fid = inv.id
                append(RESULT_PREFIX + pack_result_rest(fid, n, b) + meta + body)
                done(fid, None)

    def _monitor(self):
        last_tok, last_seq, quiet = None, -1, 0
        while True:
            time.sleep(TICK)
            with self.role:
                tok = self.reader
                if not self.reader_busy:
                    last_tok = None
                    quiet = quiet + 1 if not self.inflight else 0
                    if quiet >= PARK_AFTER:
                        self.monitor_parked = True
                elif tok is last_tok and tok.seq == last_seq:
                    self._promote_locked()
                    last_tok = None
                else:
                    last_tok, last_seq, quiet = tok, tok.seq, 0
                parked = self.monitor_parked
            if parked:
                self.monitor_ev.wait()
                quiet = 0
            elif self.out:
                # Results queued by a thread that went on to run the next
                # queued function: sent now, not when that one ends.
                self.flush()

    def _promote_locked(self):
        """Give the reader role to an idle thread or a new one (role held)."""
        self.reader_busy = False
        if self.idle:
            tok = self.idle.pop()
            self.reader = tok
            tok.ev.set()
        else:
            tok = _Token()
            self.reader = tok
            _spawn(self._thread_main, tok)

    # ---- frames in ----

    def _handle(self, data):
        tail = self.tail
        if tail is not None:
            tail += data
            data = tail
        copy = data.__class__ is not bytes
        n = len(data)
        pos = 0
        inflight = self.inflight
        plans = self.plans
        plan_keys = self.plan_keys
        key_length = self.key_length
        runq = self.runq
        batch = None
        while n - pos >= HEADER_SIZE:
            magic, ftype, fid, m, blen = unpack_header(data, pos)
            if magic != MAGIC:
                self._fatal("bad magic 0x%08x (not a Stratus frame)" % magic)
            if m > MAX_META or blen > MAX_BODY:
                self._fatal("%s frame too large (meta %d, body %d bytes)"
                            % (TYPE_NAMES.get(ftype, ftype), m, blen))
            s = pos + HEADER_SIZE
            end = s + m + blen
            if end > n:
                break
            pos = end
            if ftype == INVOKE:
                if fid == 0:
                    self._fatal("INVOKE frame with id 0")
                raw = data[s:s + m]
                body = data[s + m:end] if blen else b""
                if copy:
                    raw = bytes(raw)
                    body = bytes(body)
                # The function, found without decoding the metadata when it
                # starts as the host writes it, {"function":"name", by those
                # bytes (plan_keys holds the names that need no JSON escape):
                # a slice of the keys' length when they have one, else up to
                # the name's closing quote; the rest is decoded on first use.
                if key_length:
                    plan = plan_keys.get(raw[:key_length])
                else:
                    plan = plan_keys.get(raw[:raw.find(b'"', 13) + 1])
                if plan is None:
                    meta = parse_meta(raw) if m else {}
                    if meta is None:
                        self._bad_meta(ftype, raw)
                    name = meta.get("function")
                    plan = plans.get(name) if plans is not None else None
                    inv = Invocation(fid, raw, body, plan)
                    inv._meta = meta
                    if plan is None:
                        self._result(inv, self._unknown(name), b"")
                        continue
                else:
                    # Invocation(fid, raw, body, plan) without the call
                    inv = _new(Invocation)
                    inv.id = fid
                    inv.raw = raw
                    inv.body = body
                    inv.plan = plan
                inflight[fid] = inv
                if plan.is_async:
                    if batch is None:
                        batch = []
                    batch.append(inv)
                else:
                    runq.append(inv)
                continue
            meta = parse_meta(data[s:s + m]) if m else {}
            if meta is None:
                self._bad_meta(ftype, data[s:s + m])
            if ftype == PING:
                pm = b'{"inflight":%d}' % len(inflight)
                self.out.extend((pack_header(MAGIC, PONG, fid, len(pm), 0), pm))
            elif ftype == CANCEL:
                if fid == 0:
                    self._fatal("CANCEL frame with id 0")
                self._cancel(fid)
            elif ftype == LOAD:
                self._load(meta)
                plans = self.plans
                plan_keys = self.plan_keys
                key_length = self.key_length
            elif ftype == READY:
                try:
                    self.max_meta = min(int(meta.get("maxMeta") or MAX_META), MAX_META)
                    self.max_body = min(int(meta.get("maxBody") or MAX_BODY), MAX_BODY)
                except (TypeError, ValueError):
                    self._fatal("READY frame with a maxMeta or maxBody that is not a number")
            elif ftype == SHUTDOWN:
                self._shutdown()
            else:
                self._fatal("unexpected %s frame (type %d) from the host"
                            % (TYPE_NAMES.get(ftype, "unknown"), ftype))
        if pos == n:
            self.tail = None
        elif pos == 0:
            self.tail = data if data.__class__ is bytearray else bytearray(data)
        else:
            self.tail = bytearray(data[pos:])
        if batch:
            self.aio.submit(batch)
            # The monitor sends what the running tasks log, every tick, as it
            # does for sync functions; it may have parked while idle.
            with self.role:
                if self.monitor_parked:
                    self.monitor_parked = False
                    self.monitor_ev.set()

    def _bad_meta(self, ftype, raw):
        self._fatal("%s frame metadata is not a JSON object: %r"
                    % (TYPE_NAMES.get(ftype, ftype), bytes(raw[:80])))

    def _unknown(self, name):
        if self.plans is None:
            why = "the app is not loaded yet (INVOKE before LOAD)"
        elif name in self.load_errors:
            why = "function %s failed to load: %s" % (name, self.load_errors[name])
        else:
            why = "no function named %r on this worker" % (name,)
        return b'{"ok":false,"error":' + quote(why).encode() + b"}"

    def _cancel(self, fid):
        inv = self.inflight.get(fid)
        if inv is None:
            return          # already answered: the frames crossed
        inv.cancelled = True
        if inv.task is not None:
            self.aio.cancel(inv)
            return
        try:
            self.runq.remove(inv)
        except ValueError:
            return          # running: a synchronous function cannot be stopped
        self._result(inv, CANCELLED, b"")

    def _load(self, meta):
        if self.plans is not None:
            sys.__stderr__.write("stratus worker: a second LOAD frame was ignored\n")
            return
        self.app_root = meta.get("appRoot") or self.app_root
        capture.install_streams()
        capture.hook_logging(capture.debug_logging_enabled())
        plans, entries, any_async = loader.load(meta, self._loop_for_imports)
        for e in entries:
            if not e["ok"]:
                self.load_errors[e["name"]] = e["error"]
        if any_async or self.aio is not None:
            self._start_aio()
        self.plans = plans
        # Names whose JSON string is the name itself (no quote, backslash or
        # control character): an INVOKE's function is found by the bytes the
        # host's metadata starts with, {"function":"name" (see _handle).
        # When the keys have one length (one function, or names as long),
        # a slice of it costs CPython less than looking for the closing
        # quote.
        self.plan_keys = {_FN_PREFIX + n.encode("utf-8") + b'"': p for n, p in plans.items()
                          if '"' not in n and "\\" not in n and min(n or " ") >= " "}
        lengths = {len(k) for k in self.plan_keys}
        self.key_length = lengths.pop() if len(lengths) == 1 else 0
        self.out.append(frame(LOADED, 0, dumps({"functions": entries})))
        self.flush()

    def _start_aio(self):
        if self.aio is None:
            from . import aio
            self.aio = aio.Runner(self)
        elif not self.aio.started:
            self.aio.start()
        return self.aio

    def _loop_for_imports(self):
        """The event loop the app's modules see while LOAD imports them,
        once they use asyncio: the one that runs the async functions, not
        yet started (see loader.load)."""
        if self.aio is None:
            from . import aio
            self.aio = aio.Runner(self, start=False)
        return self.aio.loop

    def _shutdown(self):
        if self.shutting_down:
            return
        self.shutting_down = True
        _spawn(self._finish_and_exit)

    def _finish_and_exit(self):
        while self.inflight:
            time.sleep(0.005)
        # A graceful stop ends the worker as a Python program ends: the
        # app's atexit handlers run (and logging is shut down, which flushes
        # its handlers); what they log or print reaches the host's log as
        # worker lines. A handler that hangs is killed with the worker at
        # the end of the host's grace period.
        try:
            import atexit
            atexit._run_exitfuncs()
        except BaseException:
            pass
        self.flush()
        with self.wlock:    # another thread's flush may still be writing
            self._exit(0)

    # ---- results ----

    def error_meta(self, inv, exc):
        """RESULT metadata for an invocation whose code raised exc."""
        text = describe_exception(exc, self.app_root, loader.RUNTIME_DIR)
        return b'{"ok":false,"error":' + quote(text).encode() + b"}"

    def result(self, inv, meta, body):
        """Queue inv's RESULT (after its logs); it leaves the in-flight table."""
        self._result(inv, meta, body)

    def _result(self, inv, meta, body):
        if len(meta) > self.max_meta or len(body) > self.max_body:
            why = "the response (%d bytes of metadata, %d of body) is larger than the host " \
                  "accepts (%d, %d)" % (len(meta), len(body), self.max_meta, self.max_body)
            meta, body = b'{"ok":false,"error":' + quote(why).encode() + b"}", b""
        self.out.extend((pack_header(MAGIC, RESULT, inv.id, len(meta), len(body)), meta, body))
        # Queued first, then out of the table: shutdown waits for an empty
        # table and then flushes, so the result is always written.
        self.inflight.pop(inv.id, None)

    # ---- frames out ----

    def flush(self):
        """Write every queued frame, in order, with one write."""
        out = self.out
        if not out:
            return
        with self.wlock:
            pieces = out[:]
            n = len(pieces)
            if not n:
                return
            del out[:n]
            data = pieces[0] if n == 1 else b"".join(pieces)
            try:
                self.sock.sendall(data)
            except OSError as e:
                self._exit(0, "writing to the host failed: %s" % e)

    # ---- a process forked by a function ----

    def _after_fork_in_child(self):
        """In a child that function code forked (os.fork(), multiprocessing,
        a ProcessPoolExecutor): it must never write to the host's socket
        nor run the worker's loop. Its output goes to the inherited
        stdout/stderr; the socket is closed; and when the function returns
        or raises in the child (a child that did not exit by itself), the
        child exits as a Python program would: status 0, the SystemExit
        code, or 1 with the traceback on stderr. What this costs the worker
        per invocation is one test of _forked after the function returned;
        error_meta, which every invocation that raised calls, is rebound in
        the child only."""
        global _forked
        capture.after_fork_in_child()
        try:
            self.sock.close()
        except OSError:
            pass
        self.wlock = allocate_lock()
        self.runq.clear()
        _forked = True
        self.error_meta = _forked_child_raised
        if self.aio is not None:
            self.aio._done = lambda inv, meta, body: _end_forked_child()

    # ---- ending ----

    def _fatal(self, why):
        sys.__stderr__.write("stratus worker: malformed frame from the host: %s\n" % why)
        self._exit(2)

    def _exit(self, code, why=None):
        if why:
            sys.__stderr__.write("stratus worker: %s\n" % why)
        _flush_and_exit((sys.__stdout__, sys.__stderr__), code)


def _flush_and_exit(streams, status):
    for s in streams:
        try:
            s.flush()
        except Exception:
            pass
    os._exit(status)


def _end_forked_child(status=0):
    _flush_and_exit((sys.stdout, sys.stderr), status)


def _forked_child_raised(inv, exc):
    if inv.pout is not None or inv.perr is not None:
        capture.finish(inv)
    if isinstance(exc, SystemExit):
        code = exc.code
        if code is None or isinstance(code, int):
            _end_forked_child(code or 0)
        sys.stderr.write("%s\n" % (code,))
        _end_forked_child(1)
    import traceback
    traceback.print_exception(type(exc), exc, exc.__traceback__)
    _end_forked_child(1)


def default_threads():
    """PYTHON_THREADPOOL_THREAD_COUNT, or Azure's default min(32, CPUs + 4)."""
    v = os.environ.get("PYTHON_THREADPOOL_THREAD_COUNT", "").strip()
    if v:
        try:
            n = int(v)
            if n >= 1:
                return n
        except ValueError:
            pass
        sys.__stderr__.write("stratus worker: PYTHON_THREADPOOL_THREAD_COUNT=%r is not a "
                             "positive integer; using the default\n" % v)
    return min(32, (os.cpu_count() or 1) + 4)
