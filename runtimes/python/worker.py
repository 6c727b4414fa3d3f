#!/usr/bin/env python3
"""worker.py -- entry point of the Stratus Python worker.

The host starts it as `<python> worker.py` with the current directory at the
app root, the protocol socket on the descriptor named by STRATUS_WORKER_FD
(3) and the app settings in the environment. It says HELLO before anything
else, then imports the rest of the worker (stratus_worker/, beside this
file) and serves frames; the app's own code is imported only when LOAD
arrives, so a pre-started worker costs nothing app-specific.

Keep the imports above main() to what HELLO needs: they delay every cold
start."""
import _socket
import os
from _struct import pack
import sys

RUNTIME = "python"
PROTOCOL = 1
CONCURRENCY = 1000      # the host applies its own perInstanceConcurrency


def main():
    try:
        fd = int(os.environ.get("STRATUS_WORKER_FD", "3"))
        sock = _socket.socket(fileno=fd)
    except (ValueError, OSError) as e:
        sys.stderr.write("stratus worker: no host socket on descriptor %s: %s\n"
                         % (os.environ.get("STRATUS_WORKER_FD", "3"), e))
        return 2
    v = sys.version_info
    meta = ('{"runtime":"%s","protocol":%d,"pid":%d,"concurrency":%d,"version":"%d.%d.%d"}'
            % (RUNTIME, PROTOCOL, os.getpid(), CONCURRENCY, v[0], v[1], v[2])).encode()
    sock.sendall(pack("<IIQII", 0x53545201, 1, 0, len(meta), 0) + meta)

    # The shim's bytecode is cached beside it (in the app's .stratus folder)
    # even under PYTHONDONTWRITEBYTECODE: compiling it costs more than a cold
    # start should. The app's own modules keep the user's setting.
    no_cache = sys.dont_write_bytecode
    sys.dont_write_bytecode = False
    try:
        from stratus_worker import dispatcher
    finally:
        sys.dont_write_bytecode = no_cache
    d = dispatcher.Dispatcher(sock, dispatcher.default_threads())
    d.serve()
    return 0


if __name__ == "__main__":
    sys.exit(main())
