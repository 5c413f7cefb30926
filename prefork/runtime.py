"""The worker's event loop: asyncio, the standard library's selector loop by default.

Rules:
- ``new_event_loop("asyncio")`` is ``WorkerLoop``, an ``asyncio.SelectorEventLoop``
  (epoll through ``selectors``) whose only change is a cheaper reader registration of a
  new descriptor (below); ``new_event_loop("uvloop")`` is uvloop's loop, an optional extra
  (``pip install 'prefork[uvloop]'``). Asking for uvloop where it is not installed raises
  ``LoopUnavailable`` with what to do.
- ``current_loop()`` is the loop running the caller, else the thread's event loop,
  else a new ``WorkerLoop`` set as the thread's event loop (standalone scripts:
  ``server.listen(8080); server.loop.run_forever()``).
- The event server uses only the loop methods asyncio and prefork's master loop share
  (readers, writers, call_soon, call_later, call_at, time); coroutine listeners become
  tasks on an asyncio loop.
- ``WorkerLoop`` registers a reader on a descriptor its selector does not hold yet
  (each accepted connection's) as Python 3.13's loop does, without the two ``KeyError``
  that the 3.11 and 3.12 loops raise and catch inside ``selectors`` to learn it: the
  same handle, the same selector key and data, the same errors (the check that no
  transport uses the descriptor, made by each reader's and writer's registration and
  removal, reads the transports' map without a ``KeyError`` either). It relies on asyncio's
  internals as they are from 3.8 to 3.12 (a selector key's data is ``(reader,
  writer)``), so it takes that path only there, and only when the selector keeps its
  keys in the dict those versions have; elsewhere (3.13 on, another selector) it is
  the plain asyncio loop. It takes asyncio's ``selector`` argument too: one given is
  used as asyncio uses it (the public path). uvloop is left as it is.
"""

import asyncio
import selectors
import sys

LOOPS = ("asyncio", "uvloop")


class LoopUnavailable(RuntimeError):
    """The configured loop cannot be made here."""


# the versions whose ``_add_reader`` WorkerLoop's mirrors (3.13's avoids the exceptions itself)
_MIRRORED = (3, 8) <= sys.version_info[:2] < (3, 13)


class _Selector(selectors.DefaultSelector):
    """The default selector, able to say whether it holds a descriptor without raising."""

    def __init__(self):
        super().__init__()
        keys = getattr(self, "_fd_to_key", None)
        self.knows_keys = _MIRRORED and isinstance(keys, dict)

    def key_of(self, fd):
        """The key of ``fd`` (an int) if registered, else None."""
        return self._fd_to_key.get(fd)


class WorkerLoop(asyncio.SelectorEventLoop):
    """asyncio's selector loop; a reader on a new descriptor costs no exception (rules)."""

    _key_of = None  # the selector's key of a descriptor, or None: the public path
    _transport_refs = None  # fd -> weak reference of the transport using it, or None: the same

    def __init__(self, selector=None):
        if selector is None:
            selector = _Selector()
        fast = isinstance(selector, _Selector) and selector.knows_keys and hasattr(self, "_check_closed")
        self._key_of = selector.key_of if fast else None
        super().__init__(selector)
        transports = getattr(self, "_transports", None)  # (a WeakValueDictionary: its refs in ``data``)
        if self._key_of is not None and isinstance(getattr(transports, "data", None), dict):
            self._transport_refs = transports.data

    def _ensure_fd_no_transport(self, fd):
        refs = self._transport_refs
        if refs is None or type(fd) is not int:
            return super()._ensure_fd_no_transport(fd)
        ref = refs.get(fd)
        transport = ref() if ref is not None else None
        if transport is not None and not transport.is_closing():
            raise RuntimeError(f"File descriptor {fd!r} is used by transport {transport!r}")

    def _add_reader(self, fd, callback, *args):
        key_of = self._key_of
        if key_of is None or type(fd) is not int or key_of(fd) is not None:
            return super()._add_reader(fd, callback, *args)  # (a descriptor registered already: no exception)
        self._check_closed()
        handle = asyncio.Handle(callback, args, self, None)
        self._selector.register(fd, selectors.EVENT_READ, (handle, None))
        return handle


def new_event_loop(kind="asyncio"):
    if kind == "asyncio":
        return WorkerLoop()
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
    loop = WorkerLoop()
    asyncio.set_event_loop(loop)
    return loop
