"""The worker's event loop: asyncio, the standard library's selector loop by default.

Rules:
- ``new_event_loop("asyncio")`` is ``WorkerLoop``, an ``asyncio.SelectorEventLoop``
  (epoll through ``selectors``) whose only changes are a cheaper reader registration of a
  new descriptor and a cheaper turn (below); ``new_event_loop("uvloop")`` is uvloop's
  loop, an optional extra (``pip install 'prefork[uvloop]'``). Asking for uvloop where it is not installed raises
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
- ``WorkerLoop``'s turn (``_run_once``) is asyncio's, step for step, with the epoll
  selector's ``select`` and the loop's ``_process_events`` folded in: it polls epoll
  itself and looks each descriptor's key up in the selector's dict, and it bounds the
  poll's timeout by comparisons (no ``min``/``max``/``time()`` calls). The same steps in
  the same order: cancelled timers dropped from the head of the queue, or all of them
  once they are more than half of over 100; no wait when handles are ready or the loop
  stops, else until the first timer (rounded up to epoll's millisecond, at most a day;
  none for a timer due at NaN, which asyncio runs at once), or for ever; a cancelled
  reader's or writer's registration removed; the timers due within the clock's
  resolution queued after the I/O handles; then the handles ready
  when the turn began run in order (the cancelled skipped, those added meanwhile left
  for the next turn), each as its ``_run`` runs it (a plain ``asyncio.Handle``'s
  inline: its callback in its context, an exception to the loop's exception handler
  with the same context; ``SystemExit`` and ``KeyboardInterrupt`` out). In debug mode
  it is asyncio's own turn. It mirrors the 3.11 and 3.12 sources (the same turn, and
  the same ``Handle._run``, in both), so it is taken only there, with the default
  selector (epoll) and the loop's own ``time`` and ``_process_events``; elsewhere
  asyncio's turn runs.
"""

import asyncio
import select
import selectors
import sys
from heapq import heapify, heappop
from math import ceil
from time import monotonic

try:  # the constants of the turn WorkerLoop's mirrors (rules)
    from asyncio.base_events import (
        _MIN_CANCELLED_TIMER_HANDLES_FRACTION, _MIN_SCHEDULED_TIMER_HANDLES, MAXIMUM_SELECT_TIMEOUT)
    from asyncio.format_helpers import _format_callback_source as _callback_source
except ImportError:
    _MIN_SCHEDULED_TIMER_HANDLES = None

LOOPS = ("asyncio", "uvloop")


class LoopUnavailable(RuntimeError):
    """The configured loop cannot be made here."""


# the versions whose ``_add_reader`` WorkerLoop's mirrors (3.13's avoids the exceptions itself)
_MIRRORED = (3, 8) <= sys.version_info[:2] < (3, 13)
# the versions whose ``_run_once`` (and the epoll selector's ``select``, and
# ``_process_events``) WorkerLoop's lean turn mirrors, read in their sources
_EPOLL = getattr(selectors, "EpollSelector", None)  # (None where there is no epoll: the plain turn)
_LEAN_TURN = sys.version_info[:2] in ((3, 11), (3, 12)) and _MIN_SCHEDULED_TIMER_HANDLES is not None \
    and _EPOLL is not None


_Handle = asyncio.Handle
_NO_ARGS = ()  # (CPython's one empty tuple: a handle made with no arguments has it)


def _report(handle, exc):
    """What ``Handle._run`` does with an exception of its callback."""
    context = {"message": f"Exception in callback {_callback_source(handle._callback, handle._args)}",
               "exception": exc, "handle": handle}
    if handle._source_traceback:
        context["source_traceback"] = handle._source_traceback
    handle._loop.call_exception_handler(context)


_READ, _WRITE = selectors.EVENT_READ, selectors.EVENT_WRITE
_EPOLLIN = getattr(select, "EPOLLIN", 1)
_NOT_IN, _NOT_OUT = ~_EPOLLIN, ~getattr(select, "EPOLLOUT", 4)


class _Selector(selectors.DefaultSelector):
    """The default selector, able to say whether it holds a descriptor without raising."""

    def __init__(self):
        super().__init__()
        keys = getattr(self, "_fd_to_key", None)
        self.knows_keys = _MIRRORED and isinstance(keys, dict)
        poller = getattr(self, "_selector", None)
        # what the lean turn polls and where it looks the keys up, or None: the plain turn
        self.lean = (poller, keys) if (
            self.knows_keys and _LEAN_TURN and isinstance(self, _EPOLL)
            and type(self).select is _EPOLL.select and isinstance(poller, select.epoll)) else None

    def key_of(self, fd):
        """The key of ``fd`` (an int) if registered, else None."""
        return self._fd_to_key.get(fd)


class WorkerLoop(asyncio.SelectorEventLoop):
    """asyncio's selector loop; a reader on a new descriptor costs no exception, and a
    turn fewer calls (rules)."""

    _key_of = None  # the selector's key of a descriptor, or None: the public path
    _transport_refs = None  # fd -> weak reference of the transport using it, or None: the same
    _lean = None  # (the epoll object, the selector's fd -> key dict), or None: asyncio's own turn

    def __init__(self, selector=None):
        if selector is None:
            selector = _Selector()
        fast = isinstance(selector, _Selector) and selector.knows_keys and hasattr(self, "_check_closed")
        self._key_of = selector.key_of if fast else None
        super().__init__(selector)
        transports = getattr(self, "_transports", None)  # (a WeakValueDictionary: its refs in ``data``)
        if self._key_of is not None and isinstance(getattr(transports, "data", None), dict):
            self._transport_refs = transports.data
        if fast and selector.lean is not None and type(self).time is asyncio.BaseEventLoop.time \
                and type(self)._process_events is asyncio.SelectorEventLoop._process_events:
            self._lean = selector.lean

    def _run_once(self):
        """asyncio's turn (3.11's and 3.12's ``_run_once``, the same in both) with the
        epoll selector's ``select`` and ``_process_events`` folded in: the same steps in
        the same order, fewer Python calls (rules)."""
        lean = self._lean
        if lean is None or self._debug:
            return super()._run_once()
        poller, keys = lean
        scheduled = self._scheduled
        count = len(scheduled)
        if count > _MIN_SCHEDULED_TIMER_HANDLES and \
                self._timer_cancelled_count / count > _MIN_CANCELLED_TIMER_HANDLES_FRACTION:
            kept = []
            for handle in scheduled:
                if handle._cancelled:
                    handle._scheduled = False
                else:
                    kept.append(handle)
            heapify(kept)
            self._scheduled = scheduled = kept
            self._timer_cancelled_count = 0
        else:
            while scheduled and scheduled[0]._cancelled:
                self._timer_cancelled_count -= 1
                handle = heappop(scheduled)
                handle._scheduled = False
        ready = self._ready
        if ready or self._stopping:
            timeout = 0
        elif scheduled:
            timeout = scheduled[0]._when - monotonic()
            if not timeout > 0:  # (a NaN deadline too: no wait, as asyncio's max(0, NaN))
                timeout = 0
            else:  # (epoll's resolution is a millisecond: rounded up, to wait at least that long)
                if timeout > MAXIMUM_SELECT_TIMEOUT:
                    timeout = MAXIMUM_SELECT_TIMEOUT
                timeout = ceil(timeout * 1e3) * 1e-3
        else:
            timeout = -1
        try:
            polled = poller.poll(timeout, len(keys) or 1)
        except InterruptedError:
            polled = ()
        for fd, event in polled:
            try:
                key = keys[fd]
            except KeyError:
                continue
            # (a SelectorKey is a named tuple: its fields by index, the cheaper read)
            if event == _EPOLLIN:  # (the usual: readable alone, without the masks' arithmetic)
                mask = key[2] & _READ  # events
            else:
                mask = ((_WRITE if event & _NOT_IN else 0) | (_READ if event & _NOT_OUT else 0)) & key[2]
            reader, writer = key[3]  # data
            if mask & _READ and reader is not None:
                if reader._cancelled:
                    self._remove_reader(key.fileobj)
                else:
                    ready.append(reader)
            if mask & _WRITE and writer is not None:
                if writer._cancelled:
                    self._remove_writer(key.fileobj)
                else:
                    ready.append(writer)
        polled = key = reader = writer = None  # (no reference left in a traceback's frame)
        if scheduled:
            end_time = monotonic() + self._clock_resolution
            while scheduled:
                if scheduled[0]._when >= end_time:
                    break
                handle = heappop(scheduled)
                handle._scheduled = False
                ready.append(handle)
        popleft = ready.popleft
        for _ in range(len(ready)):
            handle = popleft()
            if handle._cancelled:
                continue
            if type(handle) is not _Handle:
                handle._run()
                continue
            try:  # Handle._run, inline
                args = handle._args
                if args is _NO_ARGS:  # (a call with no star: a third of the cost)
                    handle._context.run(handle._callback)
                elif type(args) is tuple and len(args) == 1:  # (a future's done callback)
                    handle._context.run(handle._callback, args[0])
                else:
                    handle._context.run(handle._callback, *args)
            except (SystemExit, KeyboardInterrupt):
                raise
            except BaseException as exc:
                _report(handle, exc)
        handle = args = None

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
