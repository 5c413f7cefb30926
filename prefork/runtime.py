"""The worker's event loop: asyncio, the standard library's selector loop by default.

Rules:
- ``new_event_loop("asyncio")`` is ``asyncio.SelectorEventLoop`` (epoll through
  ``selectors``); ``new_event_loop("uvloop")`` is uvloop's loop, an optional extra
  (``pip install 'prefork[uvloop]'``). Asking for uvloop where it is not installed raises
  ``LoopUnavailable`` with what to do.
- ``current_loop()`` is the loop running the caller, else the thread's event loop,
  else a new selector loop set as the thread's event loop (standalone scripts:
  ``server.listen(8080); server.loop.run_forever()``).
- The event server uses only the loop methods asyncio and prefork's master loop share
  (readers, writers, call_soon, call_later, call_at, time); coroutine listeners become
  tasks on an asyncio loop.
"""

import asyncio

LOOPS = ("asyncio", "uvloop")


class LoopUnavailable(RuntimeError):
    """The configured loop cannot be made here."""


def new_event_loop(kind="asyncio"):
    if kind == "asyncio":
        return asyncio.SelectorEventLoop()
    if kind == "uvloop":
        try:
            import uvloop
        except ModuleNotFoundError as exc:
            if exc.name != "uvloop":  # installed, but what it imports is missing or unreadable
                raise LoopUnavailable(f"uvloop cannot be imported: {exc}") from None
            raise LoopUnavailable("uvloop is not installed (pip install 'prefork[uvloop]')") from None
        except ImportError as exc:
            raise LoopUnavailable(f"uvloop cannot be imported: {exc}") from None
        return uvloop.new_event_loop()
    raise LoopUnavailable(f"unknown loop {kind!r}: expected one of {', '.join(LOOPS)}")


def current_loop():
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        pass
    policy = asyncio.get_event_loop_policy()
    try:
        loop = policy.get_event_loop()
        if not loop.is_closed():
            return loop
    except RuntimeError:
        pass
    loop = asyncio.SelectorEventLoop()
    asyncio.set_event_loop(loop)
    return loop
