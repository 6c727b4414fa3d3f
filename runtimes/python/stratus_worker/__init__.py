"""The Stratus Python worker (started as runtimes/python/worker.py): runs an
Azure Functions Python app's functions (v1 and v2 models) for the Stratus host,
speaking the frame protocol of docs/worker-protocol.md on an inherited
socket. Standard library only.

Modules, in the order a frame meets them:
  start       HELLO, then the rest (run by worker.py)
  protocol    frame header, types, limits, encoding helpers
  dispatcher  reads frames, runs invocations (inline, on helper threads or
              on the asyncio loop), gathers every outgoing frame into one write
  loader      LOAD: sys.path, importing each function, its binding plan
  indexing    the v2 model: worker.py --index, and finding indexed functions
  bindings    from frame to arguments and from return value to RESULT
  capture     print() and logging inside a function become LOG frames
  aio         the asyncio loop for `async def` functions (imported only then)
  extensions  the hooks of Python worker extensions (imported only when the
              app's azure-functions package has them)
"""
