"""The worker's start (run by runtimes/python/worker.py): say HELLO on the
host socket before anything else, then import the rest of the worker and
serve frames. The app's own code is imported only when LOAD arrives, so a
pre-started worker costs nothing app-specific.

This module is imported, not run as the main script, so its bytecode is
cached like the rest of the shim: a script is compiled at every start.
Keep the imports above main() to what HELLO needs: they delay every cold
start."""
import _socket
import os
import sys
from _struct import pack

RUNTIME = "python"
PROTOCOL = 1
CONCURRENCY = 1000      # the host applies its own perInstanceConcurrency


def main():
    """Run the worker; returns the exit status when it cannot start (it
    exits by itself once started)."""
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

    no_cache = sys.dont_write_bytecode
    sys.dont_write_bytecode = False
    try:
        from . import dispatcher
    finally:
        sys.dont_write_bytecode = no_cache
    d = dispatcher.Dispatcher(sock, dispatcher.default_threads())
    d.serve()
    return 0
