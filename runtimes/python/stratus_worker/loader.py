"""LOAD: make the app importable as Azure does, import each function's
script and find its entry point, and build its plan. A function that fails
(syntax error, import error, no entry point, parameters that do not match
function.json) is reported with the file and line; the others load.

As in Azure's Python worker, the app root is at the end of sys.path
(absolute imports such as `import shared_code` work, and a function folder
named like a standard module, `email` or `queue`, does not hide that
module), `.python_packages/lib/site-packages` is put first, and each
function is imported as a submodule of the `__app__`
package whose path is the app root (so relative imports between a
function's files and `from ..shared_code import x` work). The worker's own
folder leaves sys.path first, so nothing of the app can resolve to the
worker's files."""
import builtins
import os
import sys

from . import capture
from .bindings import LoadError, Plan, Types, describe_load_error

RUNTIME_DIR = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))
COMPAT_DIR = os.path.join(RUNTIME_DIR, "compat")


def setup_paths(app_root, app_first=False):
    """Arrange sys.path for the app (see the module comment). Adds the
    azure.functions stand-in at the end only when no azure/functions package
    is on sys.path. app_first: the app root goes first, not last, as Azure
    has it for the v2 programming model (function_app.py imports the app's
    modules by their names). Returns True when the stand-in is in use."""
    real = {}       # each path resolved once (realpath costs a stat per part)

    def resolve(p):
        r = real.get(p)
        if r is None:
            try:
                r = os.path.realpath(p or ".")
            except (TypeError, ValueError):
                r = ""
            real[p] = r
        return r
    front = []
    pkgs = os.path.join(app_root, ".python_packages", "lib", "site-packages")
    if os.path.isdir(pkgs):
        front.append(pkgs)
    drop = {RUNTIME_DIR, resolve(app_root)} | {resolve(f) for f in front}
    rest = [p for p in sys.path if resolve(p) not in drop]
    sys.path[:] = front + rest
    app = sys.modules.get("__app__")
    if app is None:
        app = type(sys)("__app__")
        app.__path__ = [app_root]
        app.__package__ = "__app__"
        app.__spec__ = type(sys.__spec__)("__app__", None, is_package=True)
        app.__spec__.submodule_search_locations = [app_root]
        sys.modules["__app__"] = app
    for p in front + rest:
        if os.path.isdir(os.path.join(p or ".", "azure", "functions")):
            _add_app_root(app_root, app_first)
            return False
    sys.path.append(COMPAT_DIR)
    # Import the stand-in now, its bytecode cached like the rest of the
    # shim, and before the app folder is on sys.path: a function folder
    # named "azure" (it is __app__.azure) must not hide it.
    no_cache = sys.dont_write_bytecode
    sys.dont_write_bytecode = False
    try:
        __import__("azure.functions")
    finally:
        sys.dont_write_bytecode = no_cache
        _add_app_root(app_root, app_first)
    return True


def _add_app_root(app_root, first):
    if first:
        sys.path.insert(0, app_root)
    else:
        sys.path.append(app_root)


def _module_name(script, app_root):
    rel = os.path.relpath(script, app_root)
    if rel.startswith(".."):
        return None
    parts = rel[:-3].split(os.sep)
    if parts[-1] == "__init__":
        parts.pop()
    return "__app__." + ".".join(parts) if parts else None


def _import_script(script, app_root):
    name = _module_name(script, app_root)
    if name is not None:
        __import__(name)
        return sys.modules[name]
    # A script outside the app folder: load it under a name of its own.
    return exec_script("__app_script__%d" % abs(hash(script)), script)


def exec_script(name, script):
    """Run file script as module `name` (in sys.modules unless it raised)."""
    from importlib import util
    spec = util.spec_from_file_location(name, script)
    mod = util.module_from_spec(spec)
    sys.modules[name] = mod
    try:
        spec.loader.exec_module(mod)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    return mod


def import_function(fdesc, app_root):
    """Import one function of LOAD; returns (fn, script) or raises
    (LoadError for what the user must fix in the layout)."""
    name = fdesc.get("name")
    directory = fdesc.get("directory") or os.path.join(app_root, name)
    script = fdesc.get("scriptFile") or os.path.join(directory, "__init__.py")
    if not os.path.isabs(script):
        script = os.path.join(directory, script)
    rel = os.path.relpath(script, app_root)
    if not script.endswith(".py"):
        raise LoadError("scriptFile %s is not a Python file (.py)" % rel)
    if not os.path.isfile(script):
        raise LoadError("%s not found: a Python function needs __init__.py in its folder or "
                        "a scriptFile in function.json" % rel)
    entry = fdesc.get("entryPoint") or "main"
    mod = _import_script(script, app_root)
    fn = getattr(mod, entry, None)
    if fn is None:
        raise LoadError("entry point %s() is not defined in %s%s" % (
            entry, rel, "" if fdesc.get("entryPoint") else
            " (name another function with entryPoint in function.json)"))
    if not callable(fn):
        raise LoadError("entry point %s in %s is a %s, not a function"
                        % (entry, rel, type(fn).__name__))
    return fn, rel


def _indexed_function(fdesc, app_root):
    """A function of the v2 programming model (found by worker indexing):
    the script that declares it is imported once, and the function is
    found by its name among its FunctionApp's (see indexing.py)."""
    from . import indexing
    script = fdesc.get("scriptFile") or indexing.script_file(app_root)
    if not os.path.isabs(script):
        script = os.path.join(app_root, script)
    return indexing.register(app_root, script).find(fdesc.get("name"))


def _missing_module_hint(app_root):
    """What to do about a module that is not installed: Stratus, unlike
    Azure's deployment, does not install requirements.txt."""
    target = os.path.join(".python_packages", "lib", "site-packages")
    if os.path.isfile(os.path.join(app_root, "requirements.txt")):
        return (". The app's requirements.txt is not installed by Stratus: install it with "
                "'pip install --target %s -r requirements.txt' in the app folder, or use a "
                "virtual environment (languageWorkers__python__defaultExecutablePath)" % target)
    return (". Install the package into %s in the app folder, or use a virtual environment "
            "(languageWorkers__python__defaultExecutablePath)" % target)


class _LoopWhileImporting:
    """While LOAD imports the app, make the worker's event loop (the one
    that runs the async functions) the running loop of the importing
    thread, as soon as asyncio is imported. Azure's worker imports function
    modules from a coroutine on its event loop, the loop that then runs
    async functions, so module-level code may call asyncio.get_event_loop()
    or get_running_loop(), schedule tasks, or create clients bound to the
    loop (an aiohttp.ClientSession) and use them in its async functions.

    asyncio is imported only when something of the app imports it (it
    costs a sync app's cold start tens of milliseconds): until then
    builtins.__import__ is wrapped to notice it. get_loop() makes the loop
    (a Runner that is not started yet); the dispatcher starts it after
    LOAD, and what module code scheduled then runs."""

    def __init__(self, get_loop):
        self.get_loop = get_loop
        self.loop = None
        self.saved = None
        self.watch = None

    def __enter__(self):
        if self.get_loop is None:
            return self
        aio = _asyncio_if_imported()
        if aio is not None:
            self._attach(aio)
            return self
        from _thread import get_ident
        me = get_ident()
        self.saved = real = builtins.__import__

        def watch(name, globals=None, locals=None, fromlist=(), level=0):
            module = real(name, globals, locals, fromlist, level)
            if self.watch is not None and get_ident() == me:
                aio = _asyncio_if_imported()
                if aio is not None:
                    self._unwatch()
                    self._attach(aio)
            return module
        self.watch = builtins.__import__ = watch
        return self

    def _attach(self, aio):
        self.loop = self.get_loop()
        aio._set_running_loop(self.loop)

    def _unwatch(self):
        if builtins.__import__ is self.watch:
            builtins.__import__ = self.saved
        self.watch = self.saved = None

    def __exit__(self, *exc):
        if self.watch is not None:
            self._unwatch()
        if self.loop is not None:
            sys.modules["asyncio"]._set_running_loop(None)
        return False


def _asyncio_if_imported():
    """The asyncio module once it is imported whole, else None."""
    aio = sys.modules.get("asyncio")
    if aio is None or getattr(getattr(aio, "__spec__", None), "_initializing", False):
        return None
    return aio


def load(meta, loop_for_imports=None):
    """Handle a LOAD frame's metadata. Returns (plans by function name,
    LOADED entries, any_async). loop_for_imports() gives the event loop the
    app's modules see while they are imported (see _LoopWhileImporting)."""
    app_root = meta.get("appRoot") or os.getcwd()
    # Azure's hosts give workers the app's folder in AzureWebJobsScriptRoot.
    os.environ.setdefault("AzureWebJobsScriptRoot", app_root)
    setup_paths(app_root, any(f.get("indexed") for f in meta.get("functions") or ()))
    with _LoopWhileImporting(loop_for_imports):
        imported, entries = _import_all(meta, app_root)
    return _finish_load(imported, entries, app_root)


def _import_all(meta, app_root):
    """Import each function of LOAD: ([(fdesc, fn, rel)], [error entries])."""
    imported = []
    entries = []
    for fdesc in meta.get("functions") or ():
        name = fdesc.get("name")
        # Which function is being imported, sent at once: if its module
        # ends the process, the host can say which one did.
        capture.emit(None, "trace", str(name), "Worker.Loading")
        try:
            if fdesc.get("indexed"):
                fn, rel = _indexed_function(fdesc, app_root)
            else:
                fn, rel = import_function(fdesc, app_root)
            imported.append((fdesc, fn, rel))
        except BaseException as e:  # SystemExit from module code too
            err = describe_load_error(e, app_root, RUNTIME_DIR)
            if isinstance(e, ModuleNotFoundError) and \
                    not str(e.name or "__app__").startswith("__app__"):
                err += _missing_module_hint(app_root)
            entries.append({"name": name, "ok": False, "error": err})
    return imported, entries


def _finish_load(imported, entries, app_root):
    """Build the plans of the imported functions: (plans, entries, any_async)."""
    plans = {}
    if imported:
        try:
            __import__("azure.functions")
            T = Types(sys.modules["azure.functions"])
        except BaseException as e:
            err = "cannot import azure.functions: " + describe_load_error(e, app_root,
                                                                          RUNTIME_DIR)
            for fdesc, _, _ in imported:
                entries.append({"name": fdesc.get("name"), "ok": False, "error": err})
            imported = []
        for fdesc, fn, rel in imported:
            name = fdesc.get("name")
            try:
                declared = "the function's decorators" if fdesc.get("indexed") \
                    else "function.json"
                plans[name] = Plan(name, fdesc.get("directory") or os.path.join(app_root, name),
                                   fn, fdesc.get("bindings") or [], T, rel, declared)
                entries.append({"name": name, "ok": True})
            except BaseException as e:
                entries.append({"name": name, "ok": False,
                                "error": describe_load_error(e, app_root, RUNTIME_DIR)})
        if plans:
            _use_extensions(T.azf, plans)
    return plans, entries, any(p.is_async for p in plans.values())


def _use_extensions(azf, plans):
    """Run the hooks of Python worker extensions, as Azure's worker does,
    when the installed azure-functions package registers them (its
    ExtensionMeta) and PYTHON_ENABLE_WORKER_EXTENSIONS allows it."""
    meta = getattr(azf, "ExtensionMeta", None)
    if meta is None:
        if os.environ.get("PYTHON_ENABLE_WORKER_EXTENSIONS", "").strip().lower() in ("1", "true"):
            capture.emit(None, "warning", "PYTHON_ENABLE_WORKER_EXTENSIONS is set, but the "
                         "azure.functions in use (%s) has no worker extensions: install "
                         "Azure's azure-functions package with the app"
                         % getattr(azf, "__version__", "unknown version"))
        return
    from . import extensions
    if not extensions.enabled():
        return
    hooks = extensions.Hooks(meta)
    for name, plan in plans.items():
        hooks.function_loaded(name, plan.directory)
        plan.use_extensions(hooks)
