"""The master's selector loop: the master process's one blocking point.

Workers run on asyncio (``prefork.runtime``); the master keeps this small loop: it is
single-threaded, forks, and must hand nothing of an event loop's state to its children
(``abandon``). Its method names are asyncio's, so the event server (the master's own
/metrics endpoint) runs on either.

Rules:
- One `selectors` selector; readiness callbacks are registered per fd for read and
  for write, each with its own ``*args``.
- Timers live in a heap keyed by monotonic deadline; the loop sleeps exactly until the
  next deadline (no polling tick), at most a day at a time (epoll refuses waits past
  about 24.8 days; asyncio clamps the same way). A cancelled timer stays in the heap
  until it is due and is then skipped, or until the heap has doubled in length since
  cancelled timers were last taken out (at least ``_COMPACT_FLOOR`` entries): many
  short connections (probes every few milliseconds) leave no heap that grows with
  their rate. A cancelled timer lets go of its callback and arguments at once (an idle
  timeout of a connection closed long before would otherwise keep the connection's
  objects until then).
- ``call_soon`` callbacks run after the I/O and timers of the current iteration, in
  FIFO order; one scheduled while the ready queue runs waits for the next iteration.
- A callback that raises is logged and the loop goes on.
- ``run()`` returns after ``stop()``, or when nothing is left to wait for: no fd, timer,
  callback or held object (``hold``/``release``: live sockets and servers).
"""

import heapq
import itertools
import logging
import selectors
import signal
import socket
import time
from collections import deque

log = logging.getLogger("prefork.loop")

_MAX_WAIT = 86400.0  # seconds: the longest single wait handed to the selector
_COMPACT_FLOOR = 256  # timers in the heap before cancelled ones are taken out

_READ = selectors.EVENT_READ
_WRITE = selectors.EVENT_WRITE


class Handle:
    """A scheduled callback; ``cancel()`` prevents it from running."""

    __slots__ = ("callback", "args", "cancelled", "_when")

    def __init__(self, callback, args, when=None):
        self.callback = callback
        self.args = args
        self.cancelled = False
        self._when = when

    def when(self):
        """The deadline of a timer (asyncio's ``TimerHandle.when()``)."""
        return self._when

    def cancel(self):
        self.cancelled = True
        self.callback = None  # what it would have called is let go now, not when it is due
        self.args = ()



class Loop:
    def __init__(self):
        self._selector = selectors.DefaultSelector()
        self._fds = {}  # fd -> [reader, reader_args, writer, writer_args]
        self._ready = deque()
        self._timers = []  # heap of (when, seq, handle)
        self._compact_at = _COMPACT_FLOOR  # the heap's length at which cancelled timers are taken out
        self._seq = itertools.count()
        self._stopping = False
        self._running = False
        self._signal_handlers = {}
        self._wakeup = None
        self._holds = 0  # live sockets and servers: they keep run() going while idle
        self.now = time.monotonic()

    # -- time -------------------------------------------------------------
    def time(self):
        """Monotonic seconds."""
        return time.monotonic()

    # -- callbacks and timers ----------------------------------------------
    def call_soon(self, callback, *args):
        handle = Handle(callback, args)
        self._ready.append(handle)
        return handle

    def call_soon_threadsafe(self, callback, *args):
        """``call_soon`` from another thread: the loop is woken through its wakeup pair."""
        handle = Handle(callback, args)
        self._ready.append(handle)  # deque.append is atomic
        self._ensure_wakeup()
        try:
            self._wakeup[1].send(b"\0")
        except (BlockingIOError, InterruptedError):
            pass  # the pair is full: the loop is awake already
        return handle

    def call_later(self, delay, callback, *args):
        return self.call_at(time.monotonic() + max(0.0, delay), callback, *args)

    def call_at(self, when, callback, *args):
        handle = Handle(callback, args, when)
        timers = self._timers
        if len(timers) >= self._compact_at:
            # cancelled timers (the idle timers of connections long closed) leave the heap
            # in place (run() holds the list) once it has doubled since the last time
            timers[:] = [entry for entry in timers if not entry[2].cancelled]
            heapq.heapify(timers)
            self._compact_at = max(_COMPACT_FLOOR, 2 * len(timers))
        heapq.heappush(timers, (when, next(self._seq), handle))
        return handle

    # -- fds ------------------------------------------------------------------
    def _update(self, fd, entry):
        mask = (_READ if entry[0] is not None else 0) | (_WRITE if entry[2] is not None else 0)
        if mask == 0:
            del self._fds[fd]
            self._selector.unregister(fd)
        else:
            self._selector.modify(fd, mask, entry)

    def add_reader(self, fd, callback, *args):
        entry = self._fds.get(fd)
        if entry is None:
            entry = self._fds[fd] = [callback, args, None, None]
            self._selector.register(fd, _READ, entry)
        else:
            entry[0] = callback
            entry[1] = args
            self._update(fd, entry)

    def remove_reader(self, fd):
        entry = self._fds.get(fd)
        if entry is None or entry[0] is None:
            return False
        entry[0] = entry[1] = None
        self._update(fd, entry)
        return True

    def add_writer(self, fd, callback, *args):
        entry = self._fds.get(fd)
        if entry is None:
            entry = self._fds[fd] = [None, None, callback, args]
            self._selector.register(fd, _WRITE, entry)
        else:
            entry[2] = callback
            entry[3] = args
            self._update(fd, entry)

    def remove_writer(self, fd):
        entry = self._fds.get(fd)
        if entry is None or entry[2] is None:
            return False
        entry[2] = entry[3] = None
        self._update(fd, entry)
        return True

    # -- signals --------------------------------------------------------------
    def add_signal_handler(self, signum, callback, *args):
        """Run ``callback(*args)`` from the loop when ``signum`` arrives.

        The C-level handler only writes the signal number to a socketpair
        (``signal.set_wakeup_fd``); the loop reads it and runs the callback.
        """
        self._ensure_wakeup()
        if not self._signal_handlers:
            signal.set_wakeup_fd(self._wakeup[1].fileno(), warn_on_full_buffer=False)
        self._signal_handlers[signum] = (callback, args)
        signal.signal(signum, _record_signal)

    def _ensure_wakeup(self):
        if self._wakeup is None:
            rsock, wsock = socket.socketpair()
            rsock.setblocking(False)
            wsock.setblocking(False)
            self._wakeup = (rsock, wsock)
            self.add_reader(rsock.fileno(), self._read_signals)

    def remove_signal_handler(self, signum):
        if self._signal_handlers.pop(signum, None) is None:
            return False
        signal.signal(signum, signal.SIG_DFL)
        if not self._signal_handlers:
            signal.set_wakeup_fd(-1)
        return True

    def _read_signals(self):
        rsock = self._wakeup[0]
        while True:
            try:
                data = rsock.recv(4096)
            except (BlockingIOError, InterruptedError):
                return
            if not data:
                return
            for signum in data:
                entry = self._signal_handlers.get(signum) if signum else None
                if entry is not None:
                    self._ready.append(Handle(entry[0], entry[1]))

    def after_signals(self, callback, *args):
        """Run ``callback(*args)`` after the handlers of every signal delivered so far: a
        message another process sent because of a signal the whole process group got
        (``kill -TERM -PGID``) is acted on after this process's own handler of it."""
        if self._wakeup is not None:
            self._read_signals()  # (the C-level handler wrote the signal before anything could be read)
        self._ready.append(Handle(callback, args))

    def hold(self):
        """Keep ``run()`` going even with nothing to wait for (a live socket, a server)."""
        self._holds += 1

    def release(self):
        self._holds -= 1

    # -- running -------------------------------------------------------------
    def stop(self):
        self._stopping = True

    def is_running(self):
        return self._running

    def run(self):
        """Run until ``stop()`` or until there is nothing left to wait for."""
        if self._running:
            raise RuntimeError("the loop is already running")
        self._running = True
        self._stopping = False
        select = self._selector.select
        ready = self._ready
        timers = self._timers
        fds = self._fds
        monotonic = time.monotonic
        heappop = heapq.heappop
        try:
            while not self._stopping:
                while timers and timers[0][2].cancelled:
                    heappop(timers)
                if ready:
                    timeout = 0
                elif timers:
                    timeout = timers[0][0] - monotonic()
                    if timeout < 0:
                        timeout = 0
                    elif timeout > _MAX_WAIT:
                        timeout = _MAX_WAIT
                elif len(fds) > (self._wakeup is not None) or self._holds > 0:
                    timeout = None  # the wakeup pair alone keeps nothing alive
                else:
                    break
                events = select(timeout)
                self.now = now = monotonic()
                for key, mask in events:
                    entry = key.data
                    if mask & _READ and entry[0] is not None:
                        try:
                            entry[0](*entry[1])
                        except Exception:
                            log.exception("error in reader callback %r", entry[0])
                    if mask & _WRITE and entry[2] is not None:
                        try:
                            entry[2](*entry[3])
                        except Exception:
                            log.exception("error in writer callback %r", entry[2])
                while timers and timers[0][0] <= now:
                    handle = heappop(timers)[2]
                    if not handle.cancelled:
                        ready.append(handle)
                for _ in range(len(ready)):
                    handle = ready.popleft()
                    if handle.cancelled:
                        continue
                    try:
                        handle.callback(*handle.args)
                    except Exception:
                        log.exception("error in callback %r", handle.callback)
        finally:
            self._running = False

    def abandon(self):
        """In a forked child: drop this loop without touching what it registered.

        The selector and the wakeup pair are shared with the parent; only this process's
        descriptors are closed (never unregistered), and the signal wakeup is reset."""
        signal.set_wakeup_fd(-1)
        self._signal_handlers.clear()
        self._selector.close()  # closes the epoll fd; unregisters nothing
        if self._wakeup is not None:
            for sock in self._wakeup:
                sock.close()
            self._wakeup = None
        self._fds = {}
        self._ready.clear()
        self._timers = []

    def close(self):
        """Release the selector and the signal wakeup pair."""
        for signum in list(self._signal_handlers):
            self.remove_signal_handler(signum)
        if self._wakeup is not None:
            self.remove_reader(self._wakeup[0].fileno())
            for sock in self._wakeup:
                sock.close()
            self._wakeup = None
        self._selector.close()


def _record_signal(signum, frame):
    """C-level work is done by the wakeup fd; the Python handler only records."""
