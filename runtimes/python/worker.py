#!/usr/bin/env python3
"""worker.py -- entry point of the Stratus Python worker.

The host starts it as `<python> worker.py` with the current directory at the
app root, the protocol socket on the descriptor named by STRATUS_WORKER_FD
(3) and the app settings in the environment. Everything is in the
stratus_worker package beside this file (stratus_worker/start.py first);
this script stays a few lines, as a script is compiled at every start while
modules are loaded from cached bytecode. The shim's bytecode is cached (in
the app's .stratus folder) even under PYTHONDONTWRITEBYTECODE: compiling it
costs more than a cold start should. The app's own modules keep the user's
setting.

`worker.py --index` lists the functions of an app of the v2 programming
model for the host instead (stratus_worker/indexing.py): one JSON document
on the descriptor named by STRATUS_INDEX_FD, then exit."""
import sys

if __name__ == "__main__":
    _no_cache = sys.dont_write_bytecode
    sys.dont_write_bytecode = False
    if sys.argv[1:] == ["--index"]:
        from stratus_worker.indexing import main
    else:
        from stratus_worker.start import main
    sys.dont_write_bytecode = _no_cache
    sys.exit(main())
