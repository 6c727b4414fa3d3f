"""Function output to LOG frames: print() (sys.stdout, sys.stderr) and the
logging module, while an invocation runs, become LOG frames carrying that
invocation's id, with Azure's level names and the category
Function.<name>.User; so do logging calls of a thread that set
context.thread_local_storage.invocation_id, as in Azure. Output outside any
invocation keeps its usual way:
print() goes to the real stream (the host records worker output), logging
records become LOG frames with id 0 (category Worker).

logging is not imported by the worker: its handler is installed when the
app imports it (at once if it already has, else through an import hook)."""
import os
import sys

from .invocation import CURRENT, RUNNING, current, thread_invocation
from .protocol import CLIP, LOG, MAGIC, clip, level_name, pack_header, quote

_get = current
_out = None             # the dispatcher's outgoing list of frame pieces
_flush = None           # the dispatcher's flush()
_inflight = None        # the dispatcher's in-flight table (frame id -> Invocation)
_FLUSH_AT = 4096        # queued pieces that make a log line flush at once

WORKER_CATEGORY = quote("Worker")


def init(out, flush, inflight):
    """Send LOG frames through out (a list of frame pieces) and flush();
    inflight is the table of invocations not yet answered."""
    global _out, _flush, _inflight
    _out = out
    _flush = flush
    _inflight = inflight


def emit(inv, level, message, category=None):
    """Queue one LOG frame: for inv (an Invocation, or None for a worker
    line), level an Azure level name, message a str."""
    if inv is None:
        fid, cat = 0, (quote(category) if category else WORKER_CATEGORY)
    else:
        fid, cat = inv.id, inv.plan.category
    if len(message) > CLIP:
        message = clip(message)
    meta = ('{"level":"%s","category":%s,"message":%s}' % (level, cat, quote(message))).encode()
    _out.extend((pack_header(MAGIC, LOG, fid, len(meta), 0), meta))
    if fid == 0 or len(_out) > _FLUSH_AT or fid not in _inflight:
        # Worker lines are rare and may come from any thread; so are lines
        # of an invocation already answered (an asyncio task or a thread
        # that outlived it): no RESULT will carry them out.
        _flush()


def _emit_to_streams(inv, level, message, category=None):
    """emit() in a process forked from the worker: the line goes to the
    inherited stdout (errors and warnings to stderr), which the host logs
    as worker output, as a child process's output."""
    stream = sys.__stderr__ if level in ("warning", "error", "critical") else sys.__stdout__
    try:
        stream.write(message + "\n")
        stream.flush()
    except (OSError, ValueError):
        pass


def after_fork_in_child():
    """In a process forked from the worker (os.fork(), multiprocessing):
    the host's socket belongs to the worker, so print() and logging write
    to the inherited stdout and stderr instead of sending LOG frames."""
    global emit
    emit = _emit_to_streams
    CURRENT.set(None)
    RUNNING.clear()


def finish(inv):
    """Send what inv printed without a final newline, before its RESULT."""
    if inv.pout:
        emit(inv, "information", inv.pout)
        inv.pout = None
    if inv.perr:
        emit(inv, "error", inv.perr)
        inv.perr = None


class _Stream:
    """sys.stdout / sys.stderr while the worker runs: text written inside
    an invocation is cut into lines, one LOG frame each."""

    def __init__(self, orig, err):
        self._orig = orig
        self._err = err

    def write(self, s):
        inv = _get()
        if inv is None:
            n = self._orig.write(s)
            if "\n" in s:
                self._orig.flush()
            return n
        if not isinstance(s, str):
            raise TypeError("write() argument must be str, not %s" % type(s).__name__)
        if self._err:
            buf = inv.perr + s if inv.perr else s
        else:
            buf = inv.pout + s if inv.pout else s
        if "\n" in buf:
            lines = buf.split("\n")
            buf = lines.pop()
            level = "error" if self._err else "information"
            for line in lines:
                emit(inv, level, line)
        if self._err:
            inv.perr = buf
        else:
            inv.pout = buf
        return len(s)

    def writelines(self, lines):
        for line in lines:
            self.write(line)

    def flush(self):
        if _get() is None:
            self._orig.flush()

    def isatty(self):
        return False

    def __getattr__(self, name):
        return getattr(self._orig, name)


def install_streams():
    """Replace sys.stdout and sys.stderr with capturing streams."""
    sys.stdout = _Stream(sys.__stdout__, False)
    sys.stderr = _Stream(sys.__stderr__, True)


# ---- logging ----

def hook_logging(debug=False):
    """Route the logging module's records to LOG frames, now if logging is
    imported, else as soon as something imports it. debug=True sets the
    root level to DEBUG instead of INFO (PYTHON_ENABLE_DEBUG_LOGGING)."""
    mod = sys.modules.get("logging")
    if mod is not None:
        _install(mod, debug)
    else:
        sys.meta_path.insert(0, _LoggingFinder(debug))


def _install(logging, debug):
    class StratusHandler(logging.Handler):
        """Every record becomes a LOG frame of the current invocation."""

        def handle(self, record):
            if self.filters and not self.filter(record):
                return False
            self.emit(record)
            return True

        def emit(self, record):
            try:
                msg = record.getMessage()
                if record.exc_info:
                    if not record.exc_text:
                        record.exc_text = _fmt.formatException(record.exc_info)
                if record.exc_text:
                    msg = msg + "\n" + record.exc_text
                if record.stack_info:
                    msg = msg + "\n" + record.stack_info
                inv = _get() or thread_invocation()
                emit(inv, level_name(record.levelno), msg,
                     None if inv is not None else record.name if record.name != "root" else None)
            except Exception:
                self.handleError(record)

    _fmt = logging.Formatter()
    root = logging.getLogger()
    for h in list(root.handlers):
        if type(h).__name__ == "StratusHandler":
            return
    root.addHandler(StratusHandler())
    root.setLevel(logging.DEBUG if debug else logging.INFO)


class _LoggingFinder:
    """A meta path finder that lets the real finders import logging, then
    installs the handler on it; it removes itself at the first use."""

    def __init__(self, debug):
        self._debug = debug

    def find_spec(self, name, path=None, target=None):
        if name != "logging":
            return None
        try:
            sys.meta_path.remove(self)
        except ValueError:
            pass
        for finder in sys.meta_path:
            find = getattr(finder, "find_spec", None)
            spec = find(name, path, target) if find else None
            if spec is not None:
                if spec.loader is not None and hasattr(spec.loader, "exec_module"):
                    spec.loader = _HookLoader(spec.loader, self._debug)
                return spec
        return None


class _HookLoader:
    """Wraps logging's loader: runs it, then installs the handler."""

    def __init__(self, loader, debug):
        self._loader = loader
        self._debug = debug

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        self._loader.exec_module(module)
        _install(module, self._debug)

    def __getattr__(self, name):
        return getattr(self._loader, name)


def debug_logging_enabled():
    """PYTHON_ENABLE_DEBUG_LOGGING is set to 1/true (Azure's setting)."""
    return os.environ.get("PYTHON_ENABLE_DEBUG_LOGGING", "").lower() in ("1", "true", "yes")
