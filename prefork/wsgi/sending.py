"""How a WSGI response reaches a client that takes its time: the sendfile path for a file
response, the watch over a client that stops reading, and the budget for the bytes of
calls that ended before their client took them (the legacy ``write()``'s bytes on the
loop while the client pushes back are ``wsgi/spill.py``'s).

Rules:
- A file goes out by ``sendfile`` only when its bytes are its descriptor's as the app
  would read them (``sendable_file``): a regular file opened in binary mode as
  ``open()`` gives it; anything else is iterated. ``SendFile`` sends from a duplicate
  of the file's descriptor, its own until the transfer ends or the client goes: the
  call (its ``close()`` included) ends as the transfer starts, so a client reading a
  large file slowly holds no call, and its bytes wait in the file, not in memory.
- A response waiting on a client (``StallWatch`` for the socket's buffer, ``SendFile``
  for its own writes) disconnects it after ``timeout`` seconds without progress:
  neither a byte written nor the kernel's send queue (``SIOCOUTQ``) moving. Each
  ``sendfile`` that takes bytes stamps the socket's ``last_activity``, as its own
  writes do: the access log's duration of a file ends at its last byte; and counts
  its bytes in the response's ``bytes_sent``: a client that leaves midway is logged
  with the bytes the kernel took, not ``-``.
- ``HeldBytes`` is the worker's budget for the bytes of calls that ended before their
  client took them (``HELD_BUDGET``): a byte counts from the call's end until its
  socket drains or closes.
"""

import fcntl
import io
import logging
import os
import stat
import struct
import termios
from time import monotonic

from .body import over_length, under_length

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
        release = _Release(self, socket, size)
        socket.on("drain", release)
        socket.on("close", release)


class _Release:
    """Gives ``size`` bytes back to ``budget`` at the socket's ``drain`` or ``close``, and
    lets go of the socket then: once released, nothing refers back to it (a closure that
    named itself to take itself off was a cycle holding each such socket until a full
    collection)."""

    __slots__ = ("budget", "socket", "size")

    def __init__(self, budget, socket, size):
        self.budget = budget
        self.socket = socket
        self.size = size

    def __call__(self, *_):
        socket, self.socket = self.socket, None
        if socket is None:
            return
        socket.off("drain", self)
        socket.off("close", self)
        self.budget.held -= self.size


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
            socket = self.res.req.socket
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
        socket = self.res.req.socket
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


def file_length(res, method, offset, size):
    """The bytes of a file from ``offset`` (of ``size``) a response sends: its
    Content-Length (the file's rest, set when the app gave none); 0 when it sends none
    (HEAD, a status without a body, a length of 0): ``res.end()`` is then its answer."""
    has_body = res.has_body_status()
    if has_body and not res.has_header("content-length"):
        res.set_header("Content-Length", str(max(0, size - offset)))
    length = int(res.get_header("content-length") or 0)
    if not has_body or method == "HEAD":
        return 0
    if size - offset > length:
        over_length(res.req, length)  # (the file's rest is the longer body: cut to it)
    return length


def sendfile_allowed(res):
    """Whether the loop may send a file with sendfile for ``res`` now; else the file is
    iterated: bytes of an earlier response still wait, ``write()`` sent the head and part
    of the body (the file is the rest), or TLS (the kernel would send it in the clear)."""
    return res.active and not res.headers_sent and not res.req.socket.encrypted


class FileEnd:
    """A call's end of a ``SendFile`` transfer (mixed into the loop's and the threads'
    calls: ``req`` and ``res`` are theirs)."""

    __slots__ = ()

    def sent_file(self, missing):
        """The transfer is done; ``missing``: bytes the Content-Length promised that the
        file did not have."""
        if missing <= 0 or not under_length(self.req, self.res, missing):
            self.res.end()


class FileSending(FileEnd):
    """The sendfile path of a ``LoopCall`` (``threads = 1``; mixed into it: the state it
    reads is the call's)."""

    __slots__ = ()

    def try_sendfile(self):
        wrapper = self.iterable
        res = self.res
        if not sendfile_allowed(res):
            return False
        found = sendable_file(wrapper.filelike)
        if found is None:
            return False
        fd, offset, size = found
        self._send_head()  # (a bad head raises here, before anything is held)
        length = file_length(res, self.req.method, offset, size)
        if not length:
            res.end()
            self.finish()
            return True
        try:
            fd = os.dup(fd)  # the transfer's own: the call (and the app's close()) ends as it starts
        except OSError:
            return False  # (iterated instead: the head is fixed, not sent)
        res.send_head()
        SendFile(self, fd, offset, length).start()  # a file short of length stops at its end
        self.finish()  # the file's bytes wait in the file: the worker's call is free
        return True


class SendFile:
    """Sends a file region with os.sendfile once the socket's queue is empty, from ``fd``
    (a duplicate it closes when done). Waiting for the socket to be writable, it watches
    the socket's fd itself; the client going away (the response's ``close``, run inside
    the socket's destroy) drops that watch before the fd number can be reused."""

    def __init__(self, call, fd, offset, count):
        self.call = call
        self.socket = call.res.req.socket
        self.fd = fd
        self.offset = offset
        self.remaining = count
        self.watched = None  # the socket's fd while a writer is registered for it
        self.progressed = monotonic()  # the last time the kernel or the client took bytes
        self.unsent = None  # the kernel's send queue at the last look
        self.timer = None  # the stall check (``timeout`` without progress disconnects)
        call.res.once("close", self._gone)

    def start(self):
        socket = self.socket
        if socket.destroyed:
            self._release()
            return
        if socket.buffered_size:
            socket.after_flush(self.start)
            return
        self.step()

    def _gone(self, *_):
        """The response closed (sent, or the client went): nothing more is sent."""
        self._unwatch()
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        self._release()

    def _release(self):
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None

    def step(self):
        socket = self.socket
        if socket.destroyed or self.fd is None:
            self._release()
            return
        try:
            while self.remaining > 0:
                sent = os.sendfile(socket.fileno(), self.fd, self.offset, min(self.remaining, 1 << 20))
                if sent == 0:
                    break
                self.offset += sent
                self.remaining -= sent
                self.call.res.bytes_sent += sent  # what the access log says went out, if the client leaves
                # the socket's activity, as a write reaching the kernel stamps it: the access
                # log's duration runs to the last byte, and an idle timer sees a transfer
                self.progressed = socket.last_activity = monotonic()
        except (BlockingIOError, InterruptedError):
            self.watched = socket.fileno()
            self.unsent = kernel_unsent(self.watched)  # the mark the first check compares with
            socket.loop.add_writer(self.watched, self._writable)
            self._arm()
            return
        except OSError:
            self._release()
            socket.destroy()
            return
        self._release()
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


def sendable_file(filelike):
    """(fd, offset, size) of a file ``sendfile`` can send as the app would read it, else
    None (it is iterated): a regular file whose size is known (not 0, as /proc's files
    say, and stored in blocks: /sys's files say 4096 on none), opened in binary mode as
    ``open()`` gives it."""
    if not plain_file(filelike):
        return None  # its bytes may not be its descriptor's (a GzipFile's fileno is the compressed file)
    try:
        fd = filelike.fileno()
        info = os.fstat(fd)
        offset = filelike.tell()
    except (AttributeError, OSError, io.UnsupportedOperation):
        return None
    if not stat.S_ISREG(info.st_mode) or not info.st_size or not info.st_blocks:
        # a pipe, a socket, a device; a /proc file (its size says 0), a /sys one (it says
        # 4096 whatever it holds, on no block: a sparse file has none either, and is
        # iterated to the same bytes)
        return None
    return fd, offset, info.st_size


def plain_file(filelike):
    """``filelike`` reads the bytes of its descriptor as they are: a binary file as
    ``open()`` gives it. Not a ``GzipFile`` or ``BZ2File`` (their ``fileno()`` is the
    compressed file's), a text file, or a subclass that may change what ``read()`` gives."""
    kind = filelike.__class__
    if kind is io.BufferedReader or kind is io.BufferedRandom:
        return filelike.raw.__class__ is io.FileIO
    return kind is io.FileIO
