"""The byte streams of a WSGI call: ``wsgi.input``, ``wsgi.errors``, ``wsgi.file_wrapper``,
the sendfile path for a file response, and the watch over a client that stops reading.

Rules:
- ``InputStream`` is a body read whole before the call (``threads = 1``).
- ``BodyPipe`` is a body streamed from the loop to the app's thread (``threads > 1``):
  the loop feeds it, the thread blocks in ``read``; the request is paused while the pipe
  holds ``_PIPE_HIGH_WATER`` bytes and resumed once the thread has read half of them.
  ``read(n)`` returns n bytes unless the body ends first. A body over the limit raises
  ``BodyTooLarge`` in the reader; a client gone mid-body raises ``ClientDisconnected``.
- A response waiting on a client (``StallWatch`` for the socket's buffer, ``SendFile``
  for its own writes) disconnects it after ``timeout`` seconds without progress:
  neither a byte written nor the kernel's send queue (``SIOCOUTQ``) moving.
- ``HeldBytes`` is the worker's budget for the bytes of calls that ended before their
  client took them (``HELD_BUDGET``): a byte counts from the call's end until its
  socket drains or closes.
"""

import fcntl
import io
import logging
import os
import struct
import sys
import termios
import threading
from collections import deque
from time import monotonic

log = logging.getLogger("prefork.wsgi")


HELD_BUDGET = 16 * 1024 * 1024  # bytes of ended calls a worker keeps for slow readers, at most


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


class FileWrapper:
    """``wsgi.file_wrapper``: iterates blocks; sent with sendfile when possible."""

    def __init__(self, filelike, blksize=65536):
        self.filelike = filelike
        self.blksize = blksize
        if hasattr(filelike, "close"):
            self.close = filelike.close

    def __iter__(self):
        read = self.filelike.read
        while True:
            block = read(self.blksize)
            if not block:
                return
            yield block


class InputStream(io.RawIOBase):
    """``wsgi.input``: the body, read whole (memory or a temporary file) before the app runs."""

    def __init__(self, body=None, length=None):
        self._body = body if body is not None else io.BytesIO()
        self.length = length

    @classmethod
    def empty(cls):
        return EMPTY_INPUT

    def readable(self):
        return True

    def read(self, size=-1):
        return self._body.read(size if size is not None else -1)

    def readline(self, size=-1):
        return self._body.readline(size)

    def readlines(self, hint=-1):
        return self._body.readlines(hint)

    def readinto(self, buffer):
        data = self.read(len(buffer))
        buffer[:len(data)] = data
        return len(data)

    def __iter__(self):
        return iter(self._body)

    def discard(self):
        """The call is done (nothing to do: the body was read before it)."""

    def abort(self):
        """The client went away (nothing to do: the body was read before the call)."""


class EmptyInput:
    """``wsgi.input`` of a request without a body: reads nothing; stateless, so shared."""

    __slots__ = ()
    length = 0
    closed = False

    def readable(self):
        return True

    def read(self, size=-1):
        return b""

    def readline(self, size=-1):
        return b""

    def readlines(self, hint=-1):
        return []

    def readinto(self, buffer):
        return 0

    def __iter__(self):
        return iter(())

    def close(self):
        pass

    def discard(self):
        pass

    def abort(self):
        pass


EMPTY_INPUT = EmptyInput()


class Errors:
    """``wsgi.errors``: lines go to the error log."""

    def write(self, text):
        text = text.rstrip("\n")
        if text:
            log.error("%s", text)

    def writelines(self, lines):
        for line in lines:
            self.write(line)

    def flush(self):
        pass


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
            self.timer = self.socket.loop.call_at(self.progressed + seconds, self._check)

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


_PIPE_HIGH_WATER = 256 * 1024


class BodyTooLarge(Exception):
    """The request body went over ``max_body_size`` (answered with a 413)."""


class ClientDisconnected(OSError):
    """The client went away: nothing more can be read from or written to it."""


class BodyPipe(io.RawIOBase):
    """``wsgi.input`` on a thread: body bytes handed over by the loop as they arrive."""

    length = None

    def __init__(self, req, loop, limit, high_water=_PIPE_HIGH_WATER):
        self.req = req
        self.loop = loop
        self.limit = limit
        self.high_water = high_water
        self.cond = threading.Condition(threading.Lock())
        self.chunks = deque()
        self.size = 0  # bytes held
        self.received = 0
        self.ended = False
        self.error = None
        self.paused = False
        self.discarded = False
        req.on("data", self.feed)
        req.on("end", self.end)

    # -- the loop's side -----------------------------------------------------------------------
    def feed(self, chunk):
        pause = False
        with self.cond:
            if self.discarded or self.error is not None:
                return
            self.received += len(chunk)
            if self.received > self.limit:
                self._fail(BodyTooLarge(f"the request body is over {self.limit} bytes"))
                return
            self.chunks.append(chunk)
            self.size += len(chunk)
            if self.size >= self.high_water and not self.paused:
                self.paused = pause = True
            self.cond.notify()
        if pause:
            self.req.pause()

    def end(self):
        with self.cond:
            self.ended = True
            self.cond.notify()
        self._detach()

    def abort(self):
        """The client went away."""
        with self.cond:
            if not self.ended:
                self._fail(ClientDisconnected("the client went away before the body ended"))
        self._detach()

    def _detach(self):
        """Nothing more comes from the request: its listeners (bound to this pipe, which
        holds the request) go, so the two are freed without the cycle collector."""
        self.req.off("data", self.feed)
        self.req.off("end", self.end)

    def _fail(self, error):
        self.error = error
        self.chunks.clear()
        self.size = 0
        self.cond.notify()

    def discard(self):
        """The call is done: what is left of the body is dropped."""
        with self.cond:
            self.discarded = True
            self.chunks.clear()
            self.size = 0
            paused, self.paused = self.paused, False
        if paused:
            self.req.resume()

    def _resume(self):
        if not self.discarded:
            self.req.resume()

    # -- the app's side ------------------------------------------------------------------------
    def _take(self, limit, line):
        """Up to ``limit`` bytes (to the first newline when ``line``); b"" at the end."""
        with self.cond:
            while not self.chunks and not self.ended and self.error is None:
                self.cond.wait()
            if self.error is not None:
                # a new instance each time: the one kept here would hold, through its
                # traceback, the frames that hold this pipe
                raise type(self.error)(*self.error.args)
            if not self.chunks:
                return b"", True
            chunk = self.chunks.popleft()
            stop = chunk.find(b"\n", 0, limit) + 1 if line else 0
            cut = stop or limit
            if len(chunk) > cut:
                self.chunks.appendleft(chunk[cut:])
                chunk = chunk[:cut]
            self.size -= len(chunk)
            resume = self.paused and self.size <= self.high_water // 2
            if resume:
                self.paused = False
        if resume:
            self.loop.call_soon_threadsafe(self._resume)
        return chunk, bool(stop)

    def readable(self):
        return True

    def read(self, size=-1):
        return self._gather(size, False)

    def readline(self, size=-1):
        return self._gather(size, True)

    def _gather(self, size, line):
        """Up to ``size`` bytes (all: None or negative), and with ``line`` up to and
        including the first newline."""
        need = sys.maxsize if size is None or size < 0 else size
        out = []
        while need > 0:
            chunk, newline = self._take(need, line)
            if not chunk:
                break
            out.append(chunk)
            need -= len(chunk)
            if newline:
                break
        return out[0] if len(out) == 1 else b"".join(out)

    def readlines(self, hint=-1):
        lines = []
        total = 0
        while True:
            line = self.readline()
            if not line:
                return lines
            lines.append(line)
            total += len(line)
            if 0 < hint <= total:
                return lines

    def readinto(self, buffer):
        data = self.read(len(buffer))
        buffer[:len(data)] = data
        return len(data)

    def __iter__(self):
        while True:
            line = self.readline()
            if not line:
                return
            yield line
