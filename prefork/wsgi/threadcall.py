"""One WSGI call on a pool thread (``threads > 1``, the pool is ``wsgi/threads.py``): the
app's side on its thread, the response's on the loop, and the outbox between them.

Rules:
- The loop owns every socket and every ``IncomingMessage``/``ServerResponse``; an app's
  thread never touches them. The thread hands its response to the loop as messages
  (head, body blocks, end, failure) through the call's outbox; the loop takes them with
  one ``call_soon_threadsafe`` per batch.
- ``start_response`` keeps the headers as given when a list or tuple, else reads them into a
  list (``zip()``, a generator: they are read more than once). The ``write()`` it returns
  sends the head at its first call, even with no bytes (PEP 3333), as the loop's does.
- Backpressure: a thread hands over at most ``_IN_FLIGHT`` bytes the loop has not
  written yet, and waits while the socket's buffer is over its high-water mark (until
  the response's ``drain``). A slow reader holds one thread, never the whole iterable;
  a reader that takes nothing for ``timeout`` seconds is disconnected (``StallWatch``),
  which ends the thread's wait with ``ClientDisconnected``. A whole (list) body over
  ``_IN_FLIGHT`` holds its thread until it is out or its unsent bytes fit the worker's
  ``HeldBytes`` budget: slow readers hold threads, not one body each in memory. So does
  any other body shape (an iterator, a generator, ``write()``) over ``_IN_FLIGHT``, at its end.
- A call whose client went away while it waited for a thread is not run.
- A response that is whole (its Content-Length reached, or an answer without a body:
  HEAD, 1xx, 204, 304) ends at its first block past that; the iteration stops there
  (``close()`` is called) and ``write()`` drops what it is given. The thread knows it
  from the head it gives, without waiting for the loop: a HEAD to an endless generator
  makes one block, not the blocks of a whole hand-over.
- A ``wsgi.file_wrapper`` the loop's call would send with ``sendfile`` (``sending.py``) is
  sent so here too: the thread gives the loop a duplicate of its descriptor and waits
  for its answer; once the loop has taken it, the call (``close()`` included) ends as
  the transfer starts, so a client reading a large file slowly holds no thread. The loop
  refuses it (TLS, an earlier response's bytes still queued, the response already
  ended), and closes the duplicate; the thread then iterates the file.
- A body over ``max_body_size`` closes the connection after the call's answer: a head that
  goes out once it is over says ``Connection: close``, never keep-alive (``over_limit``).
- A client that goes away mid-response: the thread's next write raises ``ClientDisconnected``
  (iteration stops there; it says, as a body read's does, when the worker's stop cut the connection
  instead: the server ``exiting``); ``close()`` is called on the iterable in every case, on the app's thread.
"""

import logging
import os
import threading
from time import monotonic

from .head import apply_head, early_hints, not_bytes
from .body import (answer_failure, body_allowed, check_restart, close_iterable, end_whole, over_length,
                   promised_length, under_length)
from .sending import FileEnd, SendFile, StallWatch, file_length, sendable_file, sendfile_allowed
from .streams import FileWrapper
from .pipe import CLIENT_LEFT, STOP_CUT, BodyPipe, BodyTooLarge, ClientDisconnected, call_over, over_limit

log = logging.getLogger("prefork.wsgi")

_IN_FLIGHT = 256 * 1024  # response bytes a thread may hand to the loop before it waits
_HEAD, _DATA, _WHOLE, _END, _FAIL, _DONE, _HINTS, _FILE, _FLUSH = range(9)


class ThreadCall(FileEnd):
    """One WSGI call on a pool thread, with its outbox to the loop."""

    def __init__(self, calls, req, res, body):
        self.calls = calls
        self.adapter = calls.adapter
        self.loop = calls.loop
        self.req = req
        self.res = res
        self.body = body
        self.environ = None
        # thread side
        self.status = None
        self.headers = None
        self.head_given = False
        self.left = None  # body bytes the head allows (None: not known), counted down by write()
        self.handed = 0  # body bytes write() handed to the loop
        self.head_only = req.method == "HEAD"
        self.returned = False  # the call is over: write() raises
        self.queued_at = 0.0
        self.started = 0.0
        self.ident = None
        self.reported = False
        # shared, under cond
        self.cond = threading.Condition(threading.Lock())
        self.outbox = []
        self.scheduled = False
        self.in_flight = 0
        self.holding = False  # the thread waits until its bytes are out or fit the held budget
        self.blocked = False
        self.gone = None  # why the connection is gone (the client left, the worker's stop), once it is
        self.whole = False  # the loop ended the response: its body is all out (or has none)
        self.file_taken = None  # the loop's answer to a file handed to it (True: it sends it)
        # loop side
        self.names = None
        self.ended = False
        self.promised = None  # body bytes the app's Content-Length still promises
        self.bodiless = False  # the answer has no body (HEAD, 204, 304): set with the head
        self.stall = None
        res.once("close", self._closed)

    # -- the app's side ---------------------------------------------------------------------------
    def start_response(self, status, headers, exc_info=None):
        if exc_info is not None or self.status is not None:
            check_restart(self.head_given, exc_info)
        self.status = status
        self.headers = headers if headers.__class__ is list or isinstance(headers, (list, tuple)) else list(headers)
        return self.write_callable

    def write_callable(self, data):
        """``start_response``'s write(): a block, and its first call sends the head even
        with no bytes (PEP 3333), as on the loop; an empty block of the iterable does not."""
        if data.__class__ is bytes and not data and not self.head_given and not self.returned:
            self._give_head()
            self._post(_FLUSH)
            return
        self.write(data)

    def write(self, data):
        """The legacy write() callable (and each block of the iterable)."""
        if data.__class__ is not bytes and not isinstance(data, bytes):
            raise not_bytes(data)
        if self.returned:  # (a thread the app started, writing after the call returned)
            raise call_over()
        if not data:
            return
        self._give_head()
        size = len(data)
        left = self.left
        if left is not None:
            if left <= 0:
                if left == 0:  # the Content-Length reached (-1: none, or a body without one): logged once
                    self.left = -1
                    over_length(self.req, self.handed)
                with self.cond:
                    self.whole = True  # a block past the body the head allows: the iteration stops
                return
            self.left = left - size
        self.handed += size
        with self.cond:
            while (self.blocked or self.in_flight >= _IN_FLIGHT) and not self.gone and not self.whole:
                self.cond.wait()
            if self.gone:
                raise ClientDisconnected(self.gone)
            if self.whole:
                return  # the response is whole: nothing more goes out
            self.in_flight += size
            self._post_locked(_DATA, data)

    def early_hints(self, headers):
        """``wsgi.early_hints``: a 103 with ``headers``, before the head (checked here,
        so a bad field raises in the app as it would in its head)."""
        hints = early_hints(headers)
        if not self.head_given:
            self._post(_HINTS, hints)

    def _give_head(self):
        if not self.head_given:
            if self.status is None:
                raise AssertionError("the app returned before calling start_response")
            self.head_given = True
            self.left = body_allowed(self.status, self.headers, self.head_only)
            self._post(_HEAD, (self.status, list(self.headers)))

    def _post(self, kind, payload=None):
        with self.cond:
            self._post_locked(kind, payload)

    def _post_locked(self, kind, payload):
        self.outbox.append((kind, payload))
        if not self.scheduled:
            self.scheduled = True
            try:
                self.loop.call_soon_threadsafe(self._take)
            except RuntimeError:  # the loop is closed (the worker is ending): nobody to answer
                self.gone = STOP_CUT

    def run(self):
        self.started = started = monotonic()  # before ident: the watch reads them in that order
        self.ident = threading.get_ident()
        self.calls.last_wait = started - self.queued_at
        iterable = None
        environ, self.environ = self.environ, None  # it holds early_hints, bound to this call
        if self.body.__class__ is BodyPipe:
            self.body.begin()  # no longer a waiting call's body
        if self.gone:  # the client left while the call waited for a thread: not run at all
            log.debug("client gone before %s %s ran", self.req.method, self.req.url)
            self._finish(None)
            return
        try:
            iterable = self.adapter.app(environ, self.start_response)
            kind = iterable.__class__
            if (kind is list or kind is tuple) and not self.head_given:
                self.returned = True
                data = iterable[0] if len(iterable) == 1 else b"".join(iterable)
                iterable = None  # (nothing to close: its blocks go now, not after its client has them)
                if data.__class__ is not bytes and not isinstance(data, bytes):
                    raise not_bytes(data)
                if self.status is None:
                    raise AssertionError("the app returned before calling start_response")
                self.head_given = True
                self.ident = None
                errors = self.adapter.errors
                if errors.held:
                    errors.flush()  # a line this thread's wsgi.errors holds without its end
                with self.cond:  # the whole answer in one hand-over (nothing to close)
                    self._post_locked(_HEAD, (self.status, list(self.headers)))
                    self.outbox.append((_WHOLE, data))
                    if len(data) <= _IN_FLIGHT:
                        self.outbox.append((_DONE, None))
                        return
                    # a large body: the thread waits until the loop has it out, or the
                    # worker's held-bytes budget takes what its client has not read yet
                    self.holding = True
                    while self.holding and not self.gone:
                        self.cond.wait()
                self._post(_DONE)
                return
            if kind is FileWrapper and not self.head_given and self._send_file(iterable):
                self._finish(iterable)  # the file's bytes wait in the file: the thread is free
                return
            for block in iterable:
                self.write(block)
                if self.whole:
                    break  # (a generator that would go on for ever does not hold the thread)
            self._give_head()
            if self.handed <= _IN_FLIGHT:
                self._post(_END)
            else:  # as a large list body: the call ends once its bytes are out or fit the held budget
                with self.cond:
                    self.holding = True
                    self._post_locked(_END, True)
                    while self.holding and not self.gone:
                        self.cond.wait()
        except ClientDisconnected:
            log.debug("client gone during %s %s", self.req.method, self.req.url)
        except BodyTooLarge:
            self._post(_FAIL, 413)
        except BaseException:  # SystemExit from an app's thread included: the thread serves on
            log.exception("error in WSGI app for %s %s", self.req.method, self.req.url)
            self._post(_FAIL, 500)
        self._finish(iterable)

    def _send_file(self, wrapper):
        """Hands a file the kernel can send to the loop; True once the loop has it (the
        call may end), False when it is to be iterated."""
        found = sendable_file(wrapper.filelike)
        if found is None:
            return False
        fd, offset, size = found
        self._give_head()  # (no start_response raises here, as iterating would)
        try:
            fd = os.dup(fd)  # the transfer's own: the app's close() ends the call, not the transfer
        except OSError:
            return False
        with self.cond:
            self._post_locked(_FILE, (fd, offset, size))  # the loop owns fd from here
            while self.file_taken is None and not self.gone:
                self.cond.wait()
            if self.gone:
                raise ClientDisconnected(self.gone)
            return self.file_taken

    def _finish(self, iterable):
        if iterable is not None and iterable.__class__ is not list:
            close_iterable(iterable)
        self.returned = True
        errors = self.adapter.errors
        if errors.held:
            errors.flush()  # a line this thread's wsgi.errors holds without its end
        self.ident = None
        self._post(_DONE)

    # -- the loop's side ---------------------------------------------------------------------------
    def _take(self):
        with self.cond:
            items, self.outbox = self.outbox, []
            self.scheduled = False
        res = self.res
        written = 0
        blocks = None
        for kind, payload in items:
            if kind == _DATA:
                written += len(payload)
                if blocks is None:
                    blocks = [payload]
                else:
                    blocks.append(payload)
                continue
            if blocks is not None:
                self._write(blocks)
                blocks = None
            if self.ended and kind != _DONE and kind != _FILE and kind != _END:
                continue  # answered already (a failure on the loop's side)
            try:
                if kind == _HEAD:
                    if not res.headers_sent:
                        self.names = names = apply_head(res, payload[0], payload[1], self.adapter.statuses)
                        if "content-length" in names:
                            self.promised = promised_length(res, self.req.method)
                        self.bodiless = self.req.method == "HEAD" or not res.has_body_status()
                        if "connection" not in names and (self.calls.oversubscribed(self) or over_limit(self.body)):
                            res.set_header("Connection", "close")
                elif kind == _WHOLE:
                    self.ended = True
                    end_whole(res, self.names or (), payload, self.req.method, self.req)
                    if len(payload) > _IN_FLIGHT:
                        self._held_out()
                elif kind == _END:
                    if not self.ended:  # (else cut at its Content-Length, or answered already)
                        self.ended = True
                        promised = self.promised
                        if promised is None or promised <= 0 or not under_length(self.req, res, promised):
                            res.end()
                    if payload:  # the thread waits until its bytes are out or held
                        self._held_out()
                elif kind == _FAIL:
                    self.ended = True
                    answer_failure(res, payload, close=over_limit(self.body))
                elif kind == _FILE:
                    self._take_file(payload)
                elif kind == _FLUSH:
                    if not res.headers_sent and not self.gone:
                        res.write(b"")  # the head alone
                elif kind == _HINTS:
                    if not res.headers_sent and self.req.http_version != "1.0":
                        res.write_early_hints(payload)
                else:  # _DONE
                    self.body.discard()
                    self.calls.done(self)
            except Exception:
                log.exception("error in WSGI response for %s %s", self.req.method, self.req.url)
                self.ended = True
                answer_failure(res)
                with self.cond:
                    self.gone = CLIENT_LEFT  # the app's next write stops it
                    self.cond.notify()
        if blocks is not None:
            self._write(blocks)
        if written:
            with self.cond:
                self.in_flight -= written
                self.cond.notify()

    def _take_file(self, found):
        """(On the loop.) Sends the file the thread handed over, or refuses it (the thread
        then iterates it); ``fd`` is a duplicate this call owns."""
        fd, offset, size = found
        res = self.res
        taken = False
        try:
            if not (self.ended or self.gone) and sendfile_allowed(res):
                taken = True
                self.ended = True
                length = file_length(res, self.req.method, offset, size)
                if not length:
                    res.end()
                else:
                    res.send_head()
                    SendFile(self, fd, offset, length).start()  # a file short of length stops at its end
                    fd = None
        finally:
            if fd is not None:
                os.close(fd)
            with self.cond:
                self.file_taken = taken
                self.cond.notify()

    def _write(self, blocks):
        res = self.res
        if self.gone or res.writable_ended:
            return
        data = blocks[0] if len(blocks) == 1 else b"".join(blocks)
        promised = self.promised
        if promised is not None:
            if len(data) > promised:
                if promised >= 0:
                    over_length(self.req, res.get_header("content-length"))
                data = data[:max(promised, 0)]
                self.promised = -1  # over: nothing more goes out
                if data:
                    res.write(data)
                self._stop()  # the body is whole
                return
            self.promised = promised - len(data)
            if not data:
                return
        if self.bodiless:  # HEAD, 204, 304: a body would never go out
            self._stop()
            return
        if not res.write(data) and not res.destroyed:  # (closed: False, and no drain comes)
            with self.cond:
                self.blocked = True
            res.once("drain", self._drained)
            if self.stall is None:
                self.stall = StallWatch(res, self.adapter.timeout)
            self.stall.arm()

    def _held_out(self):
        """A large whole body was handed to the socket: its thread goes on once the bytes
        are out, or fit the worker's budget for bytes waiting on slow readers; else it
        waits for them to drain (a client that takes nothing for ``timeout`` seconds is
        disconnected), so slow readers hold threads, not the worker's memory."""
        socket = self.res.req.socket
        size = socket.buffered_size
        held = self.adapter.held
        if socket.destroyed or size <= socket.high_water_mark or not self.res.active or held.fits(size):
            if size > socket.high_water_mark and not socket.destroyed:
                socket.want_drain()
                held.hold(socket, size)
            self._release()
            return
        socket.on("close", self._out_or_closed)
        socket.after_flush(self._out_or_closed)
        if self.stall is None:
            self.stall = StallWatch(self.res, self.adapter.timeout)
        self.stall.arm()

    def _out_or_closed(self, *_):
        """The large body is out, or its socket closed first (a bound method, not a
        closure over itself: nothing of the call outlives it in a cycle)."""
        self.res.req.socket.off("close", self._out_or_closed)
        if self.stall is not None:
            self.stall.cancel()
        self._release()

    def _release(self):
        with self.cond:
            self.holding = False
            self.cond.notify()

    def _stop(self):
        """The response is whole: it ends, the app's iteration stops at its next block (a
        generator that would go on for ever does not hold its thread) and write() drops
        what it is given."""
        self.ended = True
        self.res.end()
        with self.cond:
            self.whole = True
            self.cond.notify()

    def _drained(self):
        with self.cond:
            self.blocked = False
            self.cond.notify()

    def _closed(self):
        if self.stall is not None:
            self.stall.cancel()
        if not self.ended:
            with self.cond:
                self.gone = STOP_CUT if self.adapter.server.exiting else CLIENT_LEFT
                self.cond.notify()
            self.body.abort(self.gone) if isinstance(self.body, BodyPipe) else self.body.abort()
