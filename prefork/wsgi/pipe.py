"""``wsgi.input`` on a thread (``threads > 1``): a body streamed from the loop to the app's
thread, and the budget of the bodies of calls waiting for a thread.

Rules:
- ``BodyPipe`` is a body streamed from the loop to the app's thread (``threads > 1``):
  the loop feeds it, the thread blocks in ``read``; the request is paused while the pipe
  holds ``_PIPE_HIGH_WATER`` bytes and resumed once the thread has read half of them.
  ``read(n)`` returns n bytes unless the body ends first. The loop wakes a waiting reader
  once what it waits for is held (``n`` bytes, at most ``high_water``; a newline for
  ``readline``), the pipe paused, the body ended or failed, not once a chunk; and the
  chunks of one loop turn (one read from the socket) are handed over together, joined,
  once the turn ends (``flush``): a body of many small chunks costs a hand-over a read,
  not a lock, an object held and a thread switch a chunk. A body over the limit raises
  ``BodyTooLarge`` in the reader (and stops the reading); a connection gone mid-body raises
  ``ClientDisconnected`` (saying why). The limit holds whatever the app does: a body still coming
  when its call is done is read and dropped (Node's dump) only up to the limit, and a
  body over it (the app caught the error, or never read) closes the connection once
  the call's answer is out. A read once the call is done (``discard``) raises ``OSError``
  (EBADF), as ``write()`` does then: never ``b""`` for a body not read, nor a wait for
  bytes that are dropped.
- The pipes of calls still waiting for a thread hold ``WAITING_BODIES`` bytes together
  at most (``WaitingBodies``), not ``_PIPE_HIGH_WATER`` each: past it, such a pipe
  pauses its request at its first bytes (or at once), and the client's next bytes wait
  in the kernel until a thread takes the call. So uploads queued behind busy threads
  cost the worker that total, plus what the server keeps of a paused request (its
  own high-water mark and the read in progress), not 256 KiB more each.
- A call waits for its body (``when_ready``) before it goes to a thread: until the body
  is whole, has ``high_water`` bytes or failed. Its bytes count with the waiting calls';
  a pipe that the total pauses then is parked, and the parked pipes read on, in order,
  once the total falls back under its limit (a call taken by a thread, a client gone).
  One pipe, the first in line, reads on past the limit to its call's start, until a
  thread takes it: bodies that fill the limit between them, none ready, would wait on
  each other for good. Memory stays the limit plus one pipe's high-water mark (and
  what the server keeps of each paused request); a stalled first in line holds the
  uploads parked behind it until ``request_timeout`` ends it, never a thread.
"""

import errno
import io
import sys
import threading
from collections import deque

_PIPE_HIGH_WATER = 256 * 1024
CLIENT_LEFT, STOP_CUT = "the client went away", "the worker stopped and closed the connection"  # (why it is gone)
WAITING_BODIES = 4 * 1024 * 1024  # bytes the pipes of calls waiting for a thread hold together, at most


class WaitingBodies:
    """The bytes held by the pipes of calls still waiting for a thread, together (fed on
    the loop, let go on the thread that takes a call), and the pipes paused for their
    sake before their call was ready (parked), resumed on the loop in order as the total
    falls back under the limit. One of them, the first in line, reads on past the limit
    to its call's start, until a thread takes it: bodies that fill the limit between
    them, none ready, would otherwise wait on each other for good."""

    __slots__ = ("limit", "held", "lock", "loop", "parked", "first", "waking")

    def __init__(self, limit=WAITING_BODIES, loop=None):
        self.limit = limit
        self.held = 0
        self.lock = threading.Lock()
        self.loop = loop
        self.parked = deque()  # pipes paused by the limit whose call waits for its body
        self.first = None  # the pipe that reads on past the limit, until its count goes
        self.waking = False  # a _wake is scheduled

    def add(self, size, pipe=None):
        """Count ``size`` more bytes; True when the total is past the limit. ``pipe``, a
        body its call waits for, is then the first in line (False) or parked."""
        with self.lock:
            self.held += size
            if self.held <= self.limit:
                return False
            if pipe is not None:
                if self.first is None or self.first is pipe:
                    self.first = pipe
                    return False
                self._park(pipe)
            return True

    def park(self, pipe):
        """``pipe`` (paused, its call now waiting for its body) waits for the total to fall
        under the limit; False when it may read on now (nothing parked)."""
        with self.lock:
            if self.held < self.limit:
                return False
            if self.first is None:
                self.first = pipe
                return False
            self._park(pipe)
            return True

    def _park(self, pipe):
        if not pipe.parked:
            pipe.parked = True
            self.parked.append(pipe)

    def release(self, size, pipe=None):
        with self.lock:
            self.held -= size
            if pipe is not None:
                if pipe.parked:
                    pipe.parked = False
                    self.parked.remove(pipe)
                if self.first is pipe:
                    self.first = None
            wake = (self.parked and (self.held < self.limit or self.first is None) and not self.waking
                    and self.loop is not None)
            if wake:
                self.waking = True
        if wake:
            self.loop.call_soon_threadsafe(self._wake)

    def _wake(self):
        """(On the loop.) Parked pipes read on, in order, while the total is under the
        limit; past it, the front one becomes the first in line when there is none."""
        while True:
            with self.lock:
                if not self.parked or (self.held >= self.limit and self.first is not None):
                    self.waking = False
                    return
                pipe = self.parked.popleft()
                pipe.parked = False
                if self.held >= self.limit:
                    self.first = pipe
            pipe.unpark()


class BodyTooLarge(Exception):
    """The request body went over ``max_body_size`` (answered with a 413)."""


class ClientDisconnected(OSError):
    """The client went away: nothing more can be read from or written to it."""


def call_over():
    """The error of a ``write()`` made after its call returned (from a thread the app
    started): the response is done, nothing more reaches the client (gunicorn's sync
    worker raises EBADF there)."""
    return OSError(errno.EBADF, "write() after the WSGI call returned: the response is done")


def over_limit(body):
    """(On the loop.) ``body`` (a call's ``wsgi.input``) is a ``BodyPipe`` gone over its
    limit: its connection closes once the call's answer is out, and that answer says so."""
    if body.__class__ is not BodyPipe:
        return False
    body.flush()
    return body.received > body.limit


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
        self.taken = 0  # bytes of the first chunk already read
        self.size = 0  # bytes held
        self.received = 0
        self.ended = False
        self.error = None
        self.paused = False
        self.discarded = False
        self.waiting = waiting  # the WaitingBodies this pipe counts in until a thread takes its call
        self.counted = 0  # of the bytes held, those counted there
        self.parked = False  # in waiting.parked (under its lock)
        self.on_ready = None  # (the loop's) called once the call may go to a thread: when_ready
        self.incoming = []  # (the loop's) chunks of this loop turn, not yet handed over: flush
        self.flushing = False  # a flush is scheduled
        self.want = 0  # a reader waits (under cond) until this many bytes are held: 0 when none waits
        self.line = False  # ... or a newline is, for readline
        req.on("data", self.feed)
        req.on("end", self.end)
        if waiting is not None and waiting.held >= waiting.limit:
            self.paused = True  # the waiting calls hold their total: this body waits in the kernel
            req.pause()

    # -- the loop's side -----------------------------------------------------------------------
    def feed(self, chunk):
        """A chunk of the body: held until the loop's turn ends, then handed over with the
        turn's others (``flush``)."""
        self.incoming.append(chunk)
        if not self.flushing:
            self.flushing = True
            self.loop.call_soon(self.flush)

    def flush(self):
        """(On the loop.) The chunks fed since the last hand-over go to the pipe, joined."""
        self.flushing = False
        incoming = self.incoming
        if not incoming:
            return
        self.incoming = []
        chunk = incoming[0] if len(incoming) == 1 else b"".join(incoming)
        pause = False
        with self.cond:
            over = self.received <= self.limit < self.received + len(chunk)  # these bytes cross the limit
            self.received += len(chunk)
            if self.discarded:
                if over:
                    self.req.socket.destroy_soon(linger=True)  # the call is done: its answer goes out first
                return
            if self.error is not None:
                return
            if self.received > self.limit:
                self._fail(BodyTooLarge(f"the request body is over {self.limit} bytes"))
                if not self.paused:  # nothing more is read: the connection closes after the answer
                    self.paused = pause = True
            else:
                self.chunks.append(chunk)
                self.size += len(chunk)
                waiting = self.waiting
                if waiting is not None:  # the call waits for a thread (or for its body: then parked)
                    self.counted += len(chunk)
                    early = self.on_ready is not None and self.received < self.high_water
                    if waiting.add(len(chunk), self if early else None) and not self.paused:
                        self.paused = pause = True
                if self.size >= self.high_water and not self.paused:
                    self.paused = pause = True
                if self.want and (self.paused or self.size >= self.want or self.line and b"\n" in chunk):
                    self.want = 0  # woken once: what it waits for is held
                    self.cond.notify()
        if pause:
            self.req.pause()
        if self.on_ready is not None:
            self._check_ready()

    def when_ready(self, callback):
        """(On the loop.) True when a thread may take the call now: its body is whole, has
        ``high_water`` bytes (what the pipe holds for the thread anyway) or failed. Else
        ``callback()`` runs once, on the loop, when that is so; meanwhile a pipe paused by
        the waiting calls' total is parked (resumed as it falls back under its limit)."""
        self.flush()
        with self.cond:
            if self.ended or self.error is not None or self.received >= self.high_water or self.discarded:
                return True
            self.on_ready = callback
            resume = self.paused and self.waiting is not None and not self.waiting.park(self)
        if resume:
            self.unpark()
        return False

    def _check_ready(self):
        if self.ended or self.error is not None or self.received >= self.high_water:
            callback, self.on_ready = self.on_ready, None
            if callback is not None:
                callback()

    def unpark(self):
        """(On the loop.) The waiting calls' total fell under its limit: a pipe it paused
        before its call was ready reads on."""
        with self.cond:
            resume = self.paused and self.size < self.high_water and not self.discarded and self.error is None
            if resume:
                self.paused = False
        if resume:
            self.req.resume()

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
        if waiting is not None:
            waiting.release(self.counted, self)
        self.counted = 0

    def end(self):
        self.flush()
        with self.cond:
            self.ended = True
            self.cond.notify()
        self._detach()
        if self.on_ready is not None:
            self._check_ready()

    def abort(self, why=CLIENT_LEFT):
        """The connection is gone (``why``: the client left, or the worker's stop cut it)."""
        self.flush()
        with self.cond:
            if not self.ended and not self.discarded:
                self._fail(ClientDisconnected(f"{why} before the body ended"))
        self._detach()
        if self.on_ready is not None:
            self._check_ready()

    def _detach(self):
        """Nothing more comes from the request: its listeners (bound to this pipe, which
        holds the request) go, so the two are freed without the cycle collector."""
        self.req.off("data", self.feed)
        self.req.off("end", self.end)

    def _fail(self, error):
        self.error = error
        self.chunks.clear()
        self.taken = 0
        self.size = 0
        self._uncount()
        self.cond.notify()

    def discard(self):
        """The call is done: what is left of the body is dropped; past the limit, the
        connection closes once the call's answer is out."""
        self.flush()
        with self.cond:
            self.discarded = True
            if self.error is None:
                # a read after the call (gunicorn: EBADF): raised, not b"" or a wait for good
                self.error = OSError(errno.EBADF, "wsgi.input read after the WSGI call returned")
                self.cond.notify_all()
            self.on_ready = None
            self.chunks.clear()
            self.taken = 0
            self.size = 0
            self._uncount()
            paused, self.paused = self.paused, False
            over = self.received > self.limit
        if over:
            self.req.socket.destroy_soon(linger=True)
        elif paused:
            self.req.resume()

    def _resume(self):
        if not self.discarded:
            self.req.resume()

    # -- the app's side ------------------------------------------------------------------------
    def _take(self, limit, line):
        """Up to ``limit`` bytes (to the first newline when ``line``), of all the chunks held;
        b"" at the end. Waits until ``limit`` bytes (at most ``high_water``) or a newline
        are held, or the body ended or failed."""
        with self.cond:
            want = min(limit, self.high_water)
            while (self.error is None and not self.ended and not self.paused and self.size < want
                   and not (line and self._has_line())):  # (paused: nothing comes until it reads)
                self.want = want
                self.line = line
                self.cond.wait()
            self.want = 0
            if self.error is not None:
                # a new instance each time: the one kept here would hold, through its
                # traceback, the frames that hold this pipe
                raise type(self.error)(*self.error.args)
            chunks = self.chunks
            out = []
            stop = 0
            while chunks and limit > 0:
                chunk = chunks[0]
                start = self.taken  # (the first chunk's bytes before it were read: never copied again)
                stop = chunk.find(b"\n", start, start + limit) + 1 if line else 0
                cut = stop or start + limit
                if len(chunk) > cut:
                    self.taken = cut
                    chunk = chunk[start:cut]
                else:
                    chunks.popleft()
                    self.taken = 0
                    if start:
                        chunk = chunk[start:]
                out.append(chunk)
                limit -= len(chunk)
                if stop:
                    break
            if not out:
                return b"", True
            chunk = out[0] if len(out) == 1 else b"".join(out)
            self.size -= len(chunk)
            resume = self.paused and self.size <= self.high_water // 2
            if resume:
                self.paused = False
        if resume:
            self.loop.call_soon_threadsafe(self._resume)
        return chunk, bool(stop)

    def _has_line(self):
        """(Under ``cond``.) A newline is held."""
        taken = self.taken
        for chunk in self.chunks:
            if chunk.find(b"\n", taken) >= 0:
                return True
            taken = 0
        return False

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
        """The lines left, as ``io`` gives them: all for a ``hint`` of None, 0 or less;
        else those read until ``hint`` bytes are in."""
        lines = []
        total = 0
        while True:
            line = self.readline()
            if not line:
                return lines
            lines.append(line)
            total += len(line)
            if hint is not None and 0 < hint <= total:
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
