"""Worker indexing: the v2 programming model (functions declared with
decorators in function_app.py). Used twice:

- `worker.py --index` (main() here): the host, before it starts workers,
  asks for the app's functions. The script file (function_app.py, or the
  app setting PYTHON_SCRIPT_FILE_NAME) is imported as the module of its
  name (`function_app`), the app root first on sys.path as in Azure; its
  one FunctionApp is found and each of its functions is written, as a
  function.json would declare it, in ONE JSON document on the descriptor
  STRATUS_INDEX_FD: {"functions": [...], "errors": [...]}. What user code
  prints while it is imported goes to stdout and stderr, never there.
- LOAD of indexed functions (loader.py): the worker imports the script the
  same way, once, and finds each function by its name.

Only the API that Azure's azure-functions package has too is used
(app.get_functions() or each builder's build(), and each Function's
get_function_name(), get_user_function(), get_function_json(),
get_settings_dict()), so an app that installs that package is indexed by
it. A function that is wrong (no trigger, a name used twice, parameters
that do not match its bindings, a bad retry policy) is reported with its
file and line; the others are indexed."""
import json
import os
import sys

from .bindings import LoadError, _relpath

DEFAULT_SCRIPT = "function_app.py"
RUNTIME_DIR = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))

_registrations = {}     # script path -> Registrations


def script_file(app_root):
    """The script the app declares its functions in (absolute)."""
    name = os.environ.get("PYTHON_SCRIPT_FILE_NAME", "").strip() or DEFAULT_SCRIPT
    return os.path.join(app_root, name)


def where_raised(exc, app_root):
    """'file, line N' of the innermost frame of the app's own code that exc
    went through (a SyntaxError's own place), or None."""
    if isinstance(exc, SyntaxError) and exc.filename:
        return "%s, line %s" % (_relpath(exc.filename, app_root), exc.lineno)
    pkgs = os.path.join(app_root, ".python_packages") + os.sep
    root = os.path.join(app_root, "")
    best = other = None
    tb = exc.__traceback__
    while tb is not None:
        fname = tb.tb_frame.f_code.co_filename
        if not fname.startswith("<") and not fname.startswith(RUNTIME_DIR):
            other = (fname, tb.tb_lineno)
            if fname.startswith(root) and not fname.startswith(pkgs):
                best = other
        tb = tb.tb_next
    at = best or other
    return "%s, line %d" % (_relpath(at[0], app_root), at[1]) if at else None


def describe(exc, app_root, fallback_where=None):
    """'function_app.py, line 7: NameError: name 'x' is not defined'."""
    if isinstance(exc, SyntaxError):
        text = "%s: %s" % (type(exc).__name__, exc.msg)
    elif isinstance(exc, LoadError):
        text = str(exc)
    else:
        text = "%s: %s" % (type(exc).__name__, exc) if str(exc) else type(exc).__name__
    if isinstance(exc, ModuleNotFoundError) and \
            not str(exc.name or "").startswith("__app__"):
        from .loader import _missing_module_hint
        text += _missing_module_hint(app_root)
    at = where_raised(exc, app_root) or fallback_where
    return "%s: %s" % (at, text) if at else text


def _defined_at(fn, app_root, script_rel):
    """'file, line N' of a user function's def (its first decorator)."""
    code = getattr(fn, "__code__", None) or \
        getattr(getattr(fn, "__call__", None), "__code__", None)
    if code is None:
        return script_rel
    return "%s, line %d" % (_relpath(code.co_filename, app_root), code.co_firstlineno)


class Registrations:
    """What the script registers: functions by name ((Function, user
    function, where)) and the errors found, or the error that stopped its
    import (import_error)."""

    def __init__(self, app_root, script):
        self.app_root = app_root
        self.script = script
        self.rel = _relpath(script, app_root)
        self.functions = {}
        self.errors = []            # [(function name or None, text)]
        self.import_error = None
        self.auth_level = None

    def error(self, function, text):
        self.errors.append((function, text))

    def find(self, name):
        """(user function, script rel) of the function named name, or
        LoadError."""
        if self.import_error is not None:
            raise LoadError(self.import_error)
        got = self.functions.get(name)
        if got is None:
            for fname, text in self.errors:
                if fname == name:
                    raise LoadError(text)
            raise LoadError("function %r is not registered by %s (its FunctionApp has: %s)"
                            % (name, self.rel, ", ".join(sorted(self.functions)) or "none"))
        return got[1], self.rel


def register(app_root, script):
    """Import script (once per process) and collect its registrations."""
    reg = _registrations.get(script)
    if reg is not None:
        return reg
    reg = _registrations[script] = Registrations(app_root, script)
    if not os.path.isfile(script):
        reg.import_error = ("%s not found: a Python app of the v2 programming model declares "
                            "its functions in function_app.py at the app root (or in the file "
                            "the app setting PYTHON_SCRIPT_FILE_NAME names)" % reg.rel)
        return reg
    try:
        module = _import_script(script)
        app = _find_app(module, reg)
    except BaseException as e:  # SystemExit from module code too
        reg.import_error = describe(e, app_root, reg.rel)
        return reg
    _collect(app, reg)
    return reg


def _import_script(script):
    """The script as the module of its file's name, as Azure imports it."""
    from .loader import exec_script
    return exec_script(os.path.splitext(os.path.basename(script))[0], script)


def _find_app(module, reg):
    """The one FunctionApp (FunctionRegister) among the module's globals."""
    azf = sys.modules.get("azure.functions")
    register_class = getattr(azf, "FunctionRegister", None)
    found = []
    for key, value in list(vars(module).items()):
        if register_class is not None:
            ok = isinstance(value, register_class)
        else:
            ok = not isinstance(value, type) and hasattr(value, "get_functions") and \
                hasattr(value, "register_functions")
        if ok and all(value is not v for _, v in found):
            found.append((key, value))
    if not found:
        raise LoadError("no FunctionApp is defined: declare one at the module's top level "
                        "(app = func.FunctionApp()) and decorate the functions with it")
    if len(found) > 1:
        raise LoadError("Multiple instances of FunctionApp are defined (%s): define one, and "
                        "declare the other functions in a func.Blueprint() added with "
                        "app.register_functions()" % ", ".join(k for k, _ in found))
    return found[0][1]


def _collect(app, reg):
    """Build each function on its own (one that is wrong does not hide the
    others), as app.get_functions() would."""
    reg.auth_level = getattr(app, "auth_level", None)
    builders = getattr(app, "_function_builders", None)
    if isinstance(builders, list) and all(hasattr(fb, "build") for fb in builders):
        functions = []
        for fb in builders:
            f = getattr(fb, "_function", None)
            try:
                functions.append(fb.build(reg.auth_level))
            except Exception as e:
                name = fn = None
                if f is not None:
                    name = f.get_function_name()
                    fn = f.get_user_function()
                at = _defined_at(fn, reg.app_root, reg.rel) if fn is not None else reg.rel
                reg.error(name, "%s: %s" % (at, e))
    else:
        try:
            functions = app.get_functions()
        except Exception as e:
            reg.error(None, describe(e, reg.app_root, reg.rel))
            return
    for f in functions:
        name = f.get_function_name()
        fn = f.get_user_function()
        if name in reg.functions:
            reg.error(name, "%s: function name %r is used twice (the other at %s): each "
                      "function needs a name of its own (@app.function_name)"
                      % (_defined_at(fn, reg.app_root, reg.rel), name,
                         reg.functions[name][2]))
            continue
        reg.functions[name] = (f, fn, _defined_at(fn, reg.app_root, reg.rel))


# ---- the index document ----

_LOWER = ("direction", "dataType", "authLevel")


def binding_json(b):
    """A binding as the host reads function.json: enum names (IN,
    ANONYMOUS, STRING, GET), as Azure's library writes them, lower-cased."""
    b = dict(b)
    for key in _LOWER:
        v = b.get(key)
        if isinstance(v, str):
            b[key] = v.lower()
    methods = b.get("methods")
    if isinstance(methods, list):
        b["methods"] = [m.lower() if isinstance(m, str) else m for m in methods]
    return b


_STRATEGIES = {"fixeddelay": "fixedDelay", "exponentialbackoff": "exponentialBackoff"}


def retry_json(f):
    """The function's @app.retry() as function.json's "retry", or None."""
    get = getattr(f, "get_settings_dict", None)
    d = get("retry_policy") if get is not None else None
    if not d:
        return None
    strategy = _STRATEGIES.get(str(d.get("strategy", "")).replace("_", "").lower())
    if strategy is None:
        raise LoadError("@retry: strategy must be 'fixed_delay' or 'exponential_backoff', "
                        "got %r" % (d.get("strategy"),))
    count = d.get("max_retry_count")
    try:
        count = int(str(count).strip())
    except ValueError:
        raise LoadError("@retry: max_retry_count must be a whole number (-1 for no limit), "
                        "got %r" % (count,)) from None
    out = {"strategy": strategy, "maxRetryCount": count}
    for key, field in (("delay_interval", "delayInterval"),
                       ("minimum_interval", "minimumInterval"),
                       ("maximum_interval", "maximumInterval")):
        if d.get(key) is not None:
            out[field] = str(d[key])
    return out


def function_json(name, f, fn, rel):
    """What the host reads for one function: function.json's fields and
    the name."""
    doc = json.loads(f.get_function_json())
    entry = {"name": name, "scriptFile": rel,
             "entryPoint": getattr(fn, "__name__", None) or name,
             "bindings": [binding_json(b) for b in doc.get("bindings") or ()]}
    retry = retry_json(f)
    if retry is not None:
        entry["retry"] = retry
    return entry


def index(app_root, script):
    """The index document of the app."""
    from .loader import setup_paths
    setup_paths(app_root, app_first=True)
    from .loader import _LoopWhileImporting
    with _LoopWhileImporting(_new_loop):
        reg = register(app_root, script)
    errors = [{"function": None, "error": reg.import_error}] if reg.import_error else []
    functions = []
    if reg.import_error is None:
        errors += [{"function": n, "error": t} for n, t in reg.errors]
        T = None
        for name, (f, fn, at) in reg.functions.items():
            try:
                entry = function_json(name, f, fn, reg.rel)
                if T is None:
                    from .bindings import Types
                    T = Types(sys.modules["azure.functions"])
                from .bindings import Plan
                Plan(name, app_root, fn, entry["bindings"], T, reg.rel,
                     declared="the function's decorators")
            except Exception as e:
                errors.append({"function": name, "error": "%s: %s" % (at, e)})
                continue
            functions.append(entry)
    return {"functions": functions, "errors": errors}


def _new_loop():
    import asyncio
    return asyncio.new_event_loop()


def main():
    """`worker.py --index`: write the index document on STRATUS_INDEX_FD
    and exit 0 (2 when that descriptor is unusable)."""
    fdname = os.environ.get("STRATUS_INDEX_FD", "3")
    try:
        fd = os.dup(int(fdname))     # not inherited by what user code starts
        os.close(int(fdname))
    except (ValueError, OSError) as e:
        sys.stderr.write("stratus worker: no index descriptor %s: %s\n" % (fdname, e))
        return 2
    app_root = os.getcwd()
    os.environ.setdefault("AzureWebJobsScriptRoot", app_root)
    try:
        doc = index(app_root, script_file(app_root))
    except BaseException as e:
        doc = {"functions": [], "errors": [
            {"function": None, "error": "indexing failed: %s" % describe(e, app_root)}]}
    data = json.dumps(doc).encode()
    while data:
        n = os.write(fd, data)
        data = data[n:]
    os.close(fd)
    # Exit now: threads the app's module started do not hold the index up.
    for s in (sys.stdout, sys.stderr):
        try:
            s.flush()
        except Exception:
            pass
    os._exit(0)
