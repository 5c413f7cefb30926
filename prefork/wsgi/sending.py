"""How a WSGI response reaches a client that takes its time: the sendfile path for a file
response, the watch over a client that stops reading, the budget for the bytes of
calls that ended before their client took them, and the temporary file that takes the
legacy ``write()``'s bytes on the loop while the client pushes back.

Rules:
- A response waiting on a client (``StallWatch`` for the socket's buffer, ``SendFile``
  for its own writes) disconnects it after ``timeout`` seconds without progress:
  neither a byte written nor the kernel's send queue (``SIOCOUTQ``) moving.
- ``HeldBytes`` is the worker's budget for the bytes of calls that ended before their
  client took them (``HELD_BUDGET``): a byte counts from the call's end until its
  socket drains or closes.
- ``Spill`` (``threads = 1``): ``write()`` cannot make the app wait without holding the
  loop, and so every connection of the worker. While the response pushes back (its
  socket's buffer over the high-water mark), what ``write()`` is given goes to a
  temporary file, handed back to the response ``SPILL_STEP`` bytes at a time as the
  socket drains. A slow reader costs the worker, in memory, the socket's buffer (the
  high-water mark, 64 KiB, plus the block that crossed it: one ``write()``'s, or one
  step) rather than every byte the app wrote; the rest is on disk, one file per call,
  closed (and so freed) when the response closes. The call is done once the file's
  bytes are handed over (the client taking nothing for ``timeout`` seconds is
  disconnected, ``StallWatch``), so the disk a worker uses this way is one call's output.
"""

import fcntl
import logging
import os
import struct
import tempfile
import termios
from time import monotonic

log = logging.getLogger("prefork.wsgi")


HELD_BUDGET = 16 * 1024 * 1024  # bytes of ended calls a worker keeps for slow readers, at most
SPILL_STEP = 256 * 1024  # bytes of a spill handed back to the response at a time


class HeldBytes:
    """The bytes ended calls left waiting on their sockets, against ``budget``."""

    __slots__ = ("budget", "held")

    def __init__(self, budget=HELD_BUDGET):
        self.budget = budget
        self.held = 0

    def fits(self, size):
        return self.held + size <= self.budget

    def hold(self, socket, size):
        """Count ``size`` bytes until ``socket`` drains or closes."""
        self.held += size

        def release(*_):
            socket.off("drain", release)
            socket.off("close", release)
            self.held -= size
        socket.on("drain", release)
        socket.on("close", release)


def kernel_unsent(fd):
    """Bytes in the kernel's send queue of socket ``fd`` not yet taken by the peer (Linux
    ``SIOCOUTQ``); None where it cannot be known. A slow reader drains it steadily while
    the socket is reported writable only once a third of the buffer is free."""
    try:
        return struct.unpack("i", fcntl.ioctl(fd, termios.TIOCOUTQ, b"\0\0\0\0"))[0]
    except (OSError, ValueError):
        return None


class StallWatch:
    """Destroys ``res``'s socket when bytes have waited on it ``seconds`` without the
    client taking any (armed while a call waits for ``drain``). Progress is the socket's
    ``last_activity`` or ``bytes_written`` moving, or the kernel's send queue changing
    (a slow reader drains it long before the socket is writable again)."""

    __slots__ = ("res", "seconds", "timer", "written", "unsent", "since")

    def __init__(self, res, seconds):
        self.res = res
        self.seconds = seconds
        self.timer = None
        self.written = -1
        self.unsent = None
        self.since = 0.0

    def arm(self):
        if self.timer is None and self.seconds and self.seconds > 0:
            socket = self.res.socket
            self.written = socket.bytes_written
            self.unsent = kernel_unsent(socket.fileno())
            self.since = monotonic()
            self.timer = socket.loop.call_later(self.seconds / 4, self.check)

    def cancel(self):
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def check(self):
        self.timer = None
        socket = self.res.socket
        if socket.destroyed or not socket.buffered_size:
            return  # gone, or everything went out: armed again at the next wait
        now = monotonic()
        unsent = kernel_unsent(socket.fileno())
        if socket.bytes_written != self.written or unsent != self.unsent:
            self.written = socket.bytes_written
            self.unsent = unsent
            self.since = now
        idle = now - max(self.since, socket.last_activity)
        if idle < self.seconds:  # looked at again a few times per period: idle is known to 1/4
            self.timer = socket.loop.call_later(min(self.seconds - idle, self.seconds / 4), self.check)
            return
        req = self.res.req
        log.error("the client of %s %s took nothing for %.1f s: disconnected", req.method, req.url, idle)
        socket.destroy()


class SendFile:
    """Sends a file region with os.sendfile once the socket's queue is empty. Waiting for
    the socket to be writable, it watches the fd itself; the client going away (the
    response's ``close``, run inside the socket's destroy) drops that watch before the
    fd number can be reused."""

    def __init__(self, call, fd, offset, count):
        self.call = call
        self.socket = call.res.socket
        self.fd = fd
        self.offset = offset
        self.remaining = count
        self.watched = None  # the socket's fd while a writer is registered for it
        self.progressed = monotonic()  # the last time the kernel or the client took bytes
        self.unsent = None  # the kernel's send queue at the last look
        self.timer = None  # the stall check (``timeout`` without progress disconnects)
        call.when_gone(self._unwatch)

    def start(self):
        socket = self.socket
        if socket.destroyed:
            self.call.finish()
            return
        if socket.buffered_size:
            socket.after_flush(self.start)
            return
        self.step()

    def step(self):
        socket = self.socket
        if socket.destroyed:
            self.call.finish()
            return
        try:
            while self.remaining > 0:
                sent = os.sendfile(socket.fileno(), self.fd, self.offset, min(self.remaining, 1 << 20))
                if sent == 0:
                    break
                self.offset += sent
                self.remaining -= sent
                self.progressed = monotonic()
        except (BlockingIOError, InterruptedError):
            self.watched = socket.fileno()
            self.unsent = kernel_unsent(self.watched)  # the mark the first check compares with
            socket.loop.add_writer(self.watched, self._writable)
            self._arm()
            return
        except OSError:
            socket.destroy()
            self.call.finish()
            return
        self.call.sent_file(self.remaining)

    def _arm(self):
        seconds = self.call.adapter.timeout
        if self.timer is None and seconds and seconds > 0:
            # looked at a few times per period: a queue that moves soon after the wait
            # began is seen moving then, not a whole period later
            self.timer = self.socket.loop.call_later(seconds / 4, self._check)

    def _check(self):
        self.timer = None
        if self.watched is None:
            return  # not waiting: armed again at the next wait
        unsent = kernel_unsent(self.watched)
        if unsent != self.unsent:
            self.unsent = unsent
            self.progressed = monotonic()
        seconds = self.call.adapter.timeout
        if monotonic() - self.progressed < seconds:
            self.timer = self.socket.loop.call_later(seconds / 4, self._check)
            return
        log.error("the client of %s %s took nothing for %.1f s: disconnected", self.call.req.method,
                  self.call.req.url, monotonic() - self.progressed)
        self.socket.destroy()  # the response's close ends the call

    def _unwatch(self):
        if self.watched is not None:
            self.socket.loop.remove_writer(self.watched)
            self.watched = None
        if self.timer is not None and self.socket.destroyed:
            self.timer.cancel()
            self.timer = None

    def _writable(self):
        self._unwatch()
        self.step()


def push_out(socket):
    """What is written goes to the kernel now, also inside the read that started the call
    (the connection corks its socket while it handles a read): a streamed block or a
    ``write()`` reaches the client before the app makes the next one."""
    corked = socket.writable_corked
    if corked:
        for _ in range(corked):
            socket.uncork()
        for _ in range(corked):
            socket.cork()


def pushes_back(res, ok):
    """``res.write`` returned ``ok``: the response's bytes wait in user space past the
    socket's high-water mark, once what can go to the kernel went (``push_out``)."""
    if ok:
        return False
    socket = res.socket
    return not res.active or (socket.buffered_size >= socket.high_water_mark and not socket.destroyed)


class Spill:
    """The bytes ``write()`` gives while ``res`` pushes back (module rules): in a
    temporary file, handed back to ``res`` on each ``drain``; ``then()`` runs once all of
    them are handed over and the response no longer pushes back."""

    __slots__ = ("res", "stall", "file", "written", "taken", "waiting", "then", "closed")

    def __init__(self, res, stall):
        self.res = res
        self.stall = stall  # the call's StallWatch: armed while the spill waits for 'drain'
        self.file = None
        self.written = 0  # the file's end
        self.taken = 0  # what was handed back to the response
        self.waiting = False  # the response pushes back: write()'s bytes go to the file
        self.then = None
        self.closed = False
        res.once("close", self.close)

    def wait(self):
        """The response pushes back: ``write()``'s bytes go to the file until it drains."""
        self.waiting = True
        self.res.once("drain", self.feed)
        self.stall.arm()

    def add(self, data):
        """``data`` goes after what the file holds."""
        if self.closed:
            return  # the client is gone: nothing will be sent
        if self.file is None:
            self.file = tempfile.TemporaryFile(prefix="prefork-wsgi-write-")
        fd = self.file.fileno()
        view = memoryview(data)
        offset = self.written
        while view:
            wrote = os.pwrite(fd, view, offset)
            offset += wrote
            view = view[wrote:]
        self.written = offset

    def feed(self):
        """'drain': the file's bytes go to the response, a step at a time, until it
        pushes back again or they are all handed over (then ``then()``)."""
        if self.closed:
            return
        res = self.res
        while self.taken < self.written:
            piece = os.pread(self.file.fileno(), min(SPILL_STEP, self.written - self.taken), self.taken)
            if not piece:
                raise OSError(f"a spill file lost its bytes past {self.taken}")
            self.taken += len(piece)
            ok = res.write(piece)
            push_out(res.socket)
            if self.closed:
                return  # the send failed: the client is gone
            if pushes_back(res, ok):
                res.once("drain", self.feed)
                self.stall.arm()
                return
        if self.written:
            os.ftruncate(self.file.fileno(), 0)  # the disk goes back at once; the file serves the next wait
            self.written = self.taken = 0
        self.waiting = False
        then, self.then = self.then, None
        if then is not None:
            then()

    def close(self, *_):
        """The response is closed (done, or its client gone): the file goes, and so does
        a 'drain' listener that would never run (it holds this spill, which holds the
        response: without this, a cycle)."""
        self.closed = True
        self.waiting = False
        self.then = None
        self.stall.cancel()
        self.res.off("drain", self.feed)
        file, self.file = self.file, None
        if file is not None:
            file.close()
