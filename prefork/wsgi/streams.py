"""The byte streams of a WSGI call: ``wsgi.input``, ``wsgi.errors``, ``wsgi.file_wrapper``
(a response's way to its client is sending.py).

Rules:
- ``InputStream`` is a body read whole before the call (``threads = 1``).
- ``Errors`` (``wsgi.errors``) logs a line per record, as the app wrote it: the pieces
  of one ``print`` are one line; a line without its newline goes out with ``flush()``
  or when the call that wrote it ends.
- ``BodyPipe`` is a body streamed from the loop to the app's thread (``threads > 1``):
  the loop feeds it, the thread blocks in ``read``; the request is paused while the pipe
  holds ``_PIPE_HIGH_WATER`` bytes and resumed once the thread has read half of them.
  ``read(n)`` returns n bytes unless the body ends first. A body over the limit raises
  ``BodyTooLarge`` in the reader; a client gone mid-body raises ``ClientDisconnected``.
- The pipes of calls still waiting for a thread hold ``WAITING_BODIES`` bytes together
  at most (``WaitingBodies``), not ``_PIPE_HIGH_WATER`` each: past it, such a pipe
  pauses its request at its first bytes (or at once), and the client's next bytes wait
  in the kernel until a thread takes the call. So uploads queued behind busy threads
  cost the worker that total, plus what the server keeps of a paused request (its
  own high-water mark and the read in progress), not 256 KiB more each.
"""

import io
import logging
import sys
import threading
from collections import deque

log = logging.getLogger("prefork.wsgi")


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
    """``wsgi.errors``: a text stream whose lines go to the error log, one record per
    write that ends a line: ``print(a, b, file=errors)`` (four writes) is one record, as
    it is one line. The start of a line is held per thread until its newline, ``flush()``
    or the end of the call (the adapter flushes the calling thread's)."""

    def __init__(self):
        self._local = threading.local()
        self._lock = threading.Lock()  # for held, which threads change
        self.held = 0  # threads holding the start of a line: the call's end flushes when not 0

    def write(self, text):
        if not isinstance(text, str):
            raise TypeError(f"wsgi.errors takes str, not {type(text).__name__}")
        local = self._local
        pending = getattr(local, "pending", "")
        lines, newline, rest = (pending + text).rpartition("\n")
        if newline:
            _log_lines(lines)
        if len(rest) > _ERRORS_LINE_MAX:  # no newline coming: a record of its own all the same
            _log_lines(rest)
            rest = ""
        if bool(rest) != bool(pending):
            with self._lock:
                self.held += 1 if rest else -1
        local.pending = rest
        return len(text)

    def writelines(self, lines):
        for line in lines:
            self.write(line)

    def flush(self):
        """The calling thread's line so far goes to the log."""
        local = self._local
        pending = getattr(local, "pending", "")
        if pending:
            local.pending = ""
            with self._lock:
                self.held -= 1
            _log_lines(pending)


_ERRORS_LINE_MAX = 64 * 1024  # characters of a line held before it is logged without its end


def _log_lines(text):
    text = text.rstrip("\n")
    if text.strip():
        log.error("%s", text)


_PIPE_HIGH_WATER = 256 * 1024
WAITING_BODIES = 4 * 1024 * 1024  # bytes the pipes of calls waiting for a thread hold together, at most


class WaitingBodies:
    """The bytes held by the pipes of calls still waiting for a thread, together (fed on
    the loop, let go on the thread that takes a call)."""

    __slots__ = ("limit", "held", "lock")

    def __init__(self, limit=WAITING_BODIES):
        self.limit = limit
        self.held = 0
        self.lock = threading.Lock()

    def add(self, size):
        """Count ``size`` more bytes; True when the total is past the limit."""
        with self.lock:
            self.held += size
            return self.held > self.limit

    def release(self, size):
        with self.lock:
            self.held -= size


class BodyTooLarge(Exception):
    """The request body went over ``max_body_size`` (answered with a 413)."""


class ClientDisconnected(OSError):
    """The client went away: nothing more can be read from or written to it."""


class BodyPipe(io.RawIOBase):
    """``wsgi.input`` on a thread: body bytes handed over by the loop as they arrive."""

    length = None

    def __init__(self, req, loop, limit, high_water=_PIPE_HIGH_WATER, waiting=None):
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
        self.waiting = waiting  # the WaitingBodies this pipe counts in until a thread takes its call
        self.counted = 0  # of the bytes held, those counted there
        req.on("data", self.feed)
        req.on("end", self.end)
        if waiting is not None and waiting.held >= waiting.limit:
            self.paused = True  # the waiting calls hold their total: this body waits in the kernel
            req.pause()

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
            waiting = self.waiting
            if waiting is not None:  # the call waits for a thread
                self.counted += len(chunk)
                if waiting.add(len(chunk)) and not self.paused:
                    self.paused = pause = True
            if self.size >= self.high_water and not self.paused:
                self.paused = pause = True
            self.cond.notify()
        if pause:
            self.req.pause()

    def begin(self):
        """A thread took the call (on that thread): the bytes held no longer count with
        the waiting calls', and a pipe paused for their sake reads on."""
        with self.cond:
            self._uncount()
            resume = self.paused and self.size <= self.high_water // 2 and not self.discarded
            if resume:
                self.paused = False
        if resume:
            self.loop.call_soon_threadsafe(self._resume)

    def _uncount(self):
        """(Under ``cond``.) The pipe leaves the waiting calls' total."""
        waiting, self.waiting = self.waiting, None
        if waiting is not None and self.counted:
            waiting.release(self.counted)
        self.counted = 0

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
        self._uncount()
        self.cond.notify()

    def discard(self):
        """The call is done: what is left of the body is dropped."""
        with self.cond:
            self.discarded = True
            self.chunks.clear()
            self.size = 0
            self._uncount()
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
