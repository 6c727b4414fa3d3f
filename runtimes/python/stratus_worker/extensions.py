"""Python worker extensions, run as Azure's worker runs them: an installed
azure-functions package (one with ExtensionMeta) registers application
extensions (AppExtensionBase subclasses) and function extensions
(FuncExtensionBase instances), and the worker calls their hooks after it
loads each function and around each invocation. Imported only when the
app's azure.functions has ExtensionMeta and the setting
PYTHON_ENABLE_WORKER_EXTENSIONS allows it (true, 1; off unless set, but on
Python 3.9, where it is on unless false or 0, as in Azure).

The order is Azure's: pre_invocation_app_level, pre_invocation, the
function, post_invocation, post_invocation_app_level (the post hooks only
when the function returned). A hook that raises is logged with its
traceback and the others run on; the invocation is not failed."""
import logging
import os
import sys

_LOGGER = "azure_functions_worker.extension."


def enabled():
    """Whether PYTHON_ENABLE_WORKER_EXTENSIONS turns the hooks on."""
    v = os.environ.get("PYTHON_ENABLE_WORKER_EXTENSIONS", "").strip().lower()
    if v in ("1", "true"):
        return True
    if v in ("0", "false"):
        return False
    return sys.version_info[:2] == (3, 9)


class Hooks:
    """The hooks of one azure.functions package's ExtensionMeta."""

    def __init__(self, meta):
        self.meta = meta

    def _hooks(self, name, func_hook, app_hook, app_first=False):
        """The hook metas (ext_name, ext_impl) of the function's extensions
        and of the application's, in the order they run."""
        f = self.meta.get_function_hooks(name)
        a = self.meta.get_application_hooks()
        fh = list((getattr(f, func_hook, None) or ()) if f else ())
        ah = list((getattr(a, app_hook, None) or ()) if a else ())
        return ah + fh if app_first else fh + ah

    def function_loaded(self, name, directory):
        """post_function_load, then post_function_load_app_level."""
        for h in self._hooks(name, "post_function_load", "post_function_load_app_level"):
            try:
                h.ext_impl(name, directory)
            except Exception as e:
                logging.getLogger(_LOGGER + str(h.ext_name)).error(e, exc_info=True)

    def _run(self, hooks, ctx, *args):
        for h in hooks:
            log = logging.getLogger(_LOGGER + str(h.ext_name))
            try:
                h.ext_impl(log, ctx, *args)
            except Exception as e:
                log.error(e, exc_info=True)

    def _pre(self, name, ctx, args):
        self._run(self._hooks(name, "pre_invocation", "pre_invocation_app_level", True),
                  ctx, args)

    def _post(self, name, ctx, args, ret):
        self._run(self._hooks(name, "post_invocation", "post_invocation_app_level"),
                  ctx, args, ret)

    def wrap(self, plan, fn, names, builders, Context):
        """plan.call around fn: the arguments by name (as Azure passes
        them), the Context the hooks get (the function's own when it takes
        one), the hooks before and after."""
        name = plan.name
        pairs = list(zip(names, builders))

        def arguments(inv):
            args = {n: b(inv) for n, b in pairs}
            ctx = args.get("context")
            if not isinstance(ctx, Context):
                ctx = Context(inv)
            return ctx, args

        if plan.is_async:
            async def call_async(inv):
                ctx, args = arguments(inv)
                self._pre(name, ctx, args)
                ret = await fn(**args)
                self._post(name, ctx, args, ret)
                return ret
            return call_async

        def call(inv):
            ctx, args = arguments(inv)
            self._pre(name, ctx, args)
            ret = fn(**args)
            self._post(name, ctx, args, ret)
            return ret
        return call
