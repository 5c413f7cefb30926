"""The writing side of ``net.Socket``: queueing, corking, flushing to the kernel, ``drain``.

Rules:
- ``send_bytes`` is the one write path. Bytes go straight to the kernel when nothing is
  queued; the rest waits for writability. An empty write makes no system call.
  ``write()`` returns False past ``high_water_mark``; ``drain`` follows once the queue
  empties, before the callbacks of the writes that emptied it (so at a ``drain``
  ``writable_length`` is 0, whatever they queue after), as Node's (a listener of it that
  raises gets the socket destroyed).
- While corked (during one read's processing) writes only queue, and uncorking sends them
  in one ``send``. ``hold_turn()`` (a response's ``write()``, as Node's response corks its
  socket) corks until the next loop turn; ``destroy()`` before then drops what was
  written since, as Node's destroy drops a corked socket's buffer. ``turn_holds = False``
  (the WSGI and ASGI adapters': gunicorn and uvicorn write at once) makes it do nothing,
  and so does a socket already ending.
- ``bytes_written`` is Node's ``bytesWritten``: the bytes handed to the kernel (``_sent``)
  and those still queued. Every write reaching the kernel stamps ``last_activity`` (the
  idle timer's activity; when a response's last byte went out, for its observer).
- TLS: what is queued is plaintext, encrypted when it is flushed (``tls.send``; with no
  backlog of records the flush does what ``send`` does itself, one Python call less per
  response); ``_out`` holds one empty placeholder while records the kernel has not taken
  wait in the layer (so "flushed" still means in the kernel); a large queue is encrypted
  in pieces as the kernel takes them (gathering.py). Each TLS hook is one
  ``if self.tls`` branch. Before the handshake's end what is written stays in the queue
  (``writable_length`` counts it, its callbacks wait), as Node's TLSSocket holds it;
  only the handshake's records are flushed, and the layer calls ``flush()`` at its end.
- What the kernel did not take of a large write stays where it is (a memoryview of it is
  queued), so a slow reader of a large body costs no copy per partial send; several
  queued pieces go in one gathered send, none joined (gathering.py).
- When the queue empties after ``end()``, the closing steps follow (net/closing.py).
  ``send_bytes`` once the FIN is out (a response under a socket its app ended) sends
  nothing: the socket is destroyed, with no error.
- ``write(data[, encoding][, callback])`` takes Node's encodings for a ``str``. A write
  after ``end()`` destroys the socket with ERR_STREAM_WRITE_AFTER_END (``error``, then
  ``close(True)``), as Node's autoDestroy does (with EPIPE, "This socket has been ended
  by the other party", when the peer's FIN ended it: ``allow_half_open`` false; after
  the close too, as Node's); one after ``destroy()`` is dropped with no event. Either way its callback runs on the next
  loop turn (before the ``close`` of a socket destroyed in the same turn), with that error
  (ERR_STREAM_DESTROYED after a destroy, ERR_STREAM_WRITE_AFTER_END when an ``end()``
  came before it) when it takes one (net/callbacks.py). A chunk that is neither ``str`` nor bytes-like raises TypeError with Node's
  code (ERR_INVALID_ARG_TYPE, None: ERR_STREAM_NULL_VALUES); a ``bytearray`` or
  ``memoryview`` is copied when written.
  A ``write()`` callback runs once its bytes are in the kernel, or at the destroy that
  keeps them from getting there (given its error when it names a parameter: net/callbacks.py); never inside the application's call that sent them (a
  response's ``end()`` or ``uncork()``, the socket's ``end()``: ``uncork(True)``), but
  on the next loop turn, as Node calls them.
- A write the kernel refuses is bounded by ``send_timeout`` (net/sendcheck.py).
- A read or write the kernel refuses is Node's error: ``read ECONNRESET`` with ``code``,
  ``errno`` and ``syscall`` (``SocketError``). One refused inside the caller's call
  (``send_bytes``, an ``uncork()``: a write, a response's ``end()``) is told on the next
  loop turn, after the waiting writes' callbacks, as Node's; unwritable from the refusal on.
  One refused later (the writer's, the send timeout's) gives the waiting callbacks its
  error first too.
- The state (``_out``, ``buffered_size``, ``_corked``, ``_writer``, ``_flush_waiters``,
  ``_need_drain``) is set up by ``Socket.__init__``.
"""

import errno
import logging
from time import monotonic

from ..http.errors import HTTPError
from ..http.serialize import body_chunk, encoded, utf8
from .callbacks import CloseTurn, WriteCallback, destroyed_error, socket_write_callback
from .gathering import SEAL_AT, Gathering
from .sendcheck import SendCheck

log = logging.getLogger("prefork")


class SocketError(HTTPError):
    """A read or write the kernel refused, with Node's ``errno`` (Python's positive
    number, as ``OSError`` has it; Node's are libuv's negative ones) and ``syscall``."""

    errno = syscall = None


def socket_error(exc, syscall):
    """Node's error for ``exc`` (an OSError) raised by ``syscall`` ("read", "write")."""
    number = exc.errno
    code = errno.errorcode.get(number) if number else None
    if code is None:
        code, number = "EIO", errno.EIO
    err = SocketError(code, f"{syscall} {code}")
    err.errno, err.syscall = number, syscall
    return err


class Writing(SendCheck, Gathering):
    """Mixed into ``Socket``."""

    high_water_mark = 64 * 1024
    _fail_pending = None  # a write's error, told on the next turn (_refused)
    _flush_due = None  # flush waiters whose bytes were all in the kernel, due on the next turn
    _held = None  # bytes queued since hold_turn() corked the socket (None: not held)
    turn_holds = True  # False: hold_turn() does nothing (WSGI and ASGI: the bytes go out as written)

    @property
    def bytes_written(self):
        """Node's ``bytesWritten``: every byte written, those still queued too (TLS: plaintext)."""
        if self.tls is None:
            return self._sent + self.buffered_size
        return self._sent + sum(map(len, self._out))

    @bytes_written.setter
    def bytes_written(self, value):  # (the count of bytes handed on: set at the socket's making)
        self._sent = value

    @property
    def writable_corked(self):
        """How many ``uncork()`` calls it takes before writes go out (Node's ``writableCorked``)."""
        return self._corked

    def want_drain(self):
        """Emit ``drain`` (and tell the protocol) once the buffer empties."""
        self._need_drain = True

    def write(self, data, encoding=None, callback=None):
        """Node's ``socket.write(data[, encoding][, callback])``; ``callback()`` once the
        bytes are in the kernel (``callback(err)``, Node's, when it names a parameter:
        net/callbacks.py). After ``end()`` or ``destroy()``: the module's rules."""
        if encoding is not None:
            if callable(encoding):
                callback = encoding
            elif isinstance(data, str):
                data = encoded(data, encoding)
        if isinstance(data, str):
            try:
                data = data.encode()
            except UnicodeEncodeError:  # a lone surrogate: U+FFFD, as Node writes it
                data = utf8(data)
        elif type(data) is not bytes:
            data = bytes(body_chunk(data))  # a copy: later changes to the caller's buffer are not sent
        if self.connecting:
            self.wrote_while_connecting()  # (net/connect.py)
        if self.writable_ended or self.destroyed:
            if self.readable_ended and self.writable_ended and not self.allow_half_open:
                # ended by the peer's FIN: so for good, after the close too (Node's writeAfterFIN)
                err = HTTPError("EPIPE", "This socket has been ended by the other party")
            elif self.writable_ended:  # (an end() before a destroy: Node looks for it first)
                err = HTTPError("ERR_STREAM_WRITE_AFTER_END", "write after end")
            else:
                err = destroyed_error()
            if callback is not None:  # (its error, before the socket's own; before its close)
                self.before_close(socket_write_callback(callback).failed, err)
            if not self.destroyed:
                self.destroy(err)
            return False
        if callback is None:
            if data:
                self.send_bytes(data)
        else:
            start = self.bytes_written  # (where its bytes begin: net/callbacks.py)
            if data:
                self.send_bytes(data)
            self.after_flush(socket_write_callback(callback, start))
        if self.buffered_size >= self.high_water_mark:
            self._need_drain = True
            return False
        return True

    def send_bytes(self, data):
        """Queue ``data`` (bytes) for the kernel: the one write path."""
        if self.destroyed or self._fin_sent:
            if data and not self.destroyed:
                # after the FIN nothing more goes out (an app ended the socket under a response:
                # Node's never writes to an unwritable socket): over, without EPIPE's error.
                # (Before it, a cut response's last blocks go out ahead of the FIN.)
                self.destroy()
            return  # writes after close are dropped, as Node drops them
        if self._corked or self._out or self.connecting:
            if data or self.tls is not None:  # an empty write is nothing to queue (TLS: a flush)
                self._out.append(data)
                self.buffered_size += len(data)
                if self._held is not None:
                    self._held += len(data)
            return
        if self.tls is not None:
            self._out.append(data)
            self.buffered_size += len(data)
            if not self._writer:
                self._flush()
            return
        if not data:
            return  # nothing for the kernel (an end() with no body left): no system call
        try:
            sent = self._sock.send(data)
        except (BlockingIOError, InterruptedError):
            sent = 0
        except OSError as exc:  # (told on the next turn; what is written meanwhile waits, unsent)
            self._out.append(data)
            self.buffered_size += len(data)
            self._refused(exc)
            return
        self._sent += sent
        self.last_activity = monotonic()
        if sent < len(data):
            rest = memoryview(data)[sent:]  # a view: what the kernel has not taken is never copied
            self._out.append(rest)
            self.buffered_size += len(rest)
            self._want_write()
        elif self._need_drain:  # all taken at once: the drain a writer waits for, on the next turn
            self.loop.call_soon(self._flush)

    def _refused(self, exc):
        """A write the kernel refused: told now in the writer's callback; inside the caller's
        call (``send_bytes``, an ``uncork()``) unwritable at once, told on the next turn."""
        if self._writer:
            return self._fail_writes(socket_error(exc, "write"))
        self._broken = True
        self.writable = False
        if self._fail_pending is None:
            self._fail_pending = socket_error(exc, "write")
            self.loop.call_soon(self._fail_later)

    def _fail_later(self):
        err, self._fail_pending = self._fail_pending, None
        self._fail_writes(err)

    def _fail_writes(self, err):
        """A write failed (``err``): the callbacks of those waiting get it, then the socket
        fails with it (Node's order: the callbacks before the ``error``)."""
        waiters = self._flush_waiters
        if waiters and not self.destroyed:  # the refused writes' callbacks, then the error (Node's)
            self._flush_waiters = [w for w in waiters if not isinstance(w, WriteCallback)] or None
            self._run_flush_due()  # (those whose bytes the kernel took first)
            for waiter in waiters:
                if isinstance(waiter, WriteCallback):
                    try:
                        waiter.failed(err)
                    except Exception:
                        log.exception("error in a write callback of a socket")
        self._fail(err)

    def cork(self):
        self._corked += 1

    def hold_turn(self):
        """Cork until the next loop turn, as Node's response corks its socket at a
        ``write()`` (module rules). Not on a socket already ending (its FIN follows what is
        queued: a flush inside the hold would send it before a later write)."""
        if self._held is None and self.turn_holds and not self.writable_ended:
            self._held = 0
            self._corked += 1
            self.loop.call_soon(self.release_turn)

    def release_turn(self):
        """Undo ``hold_turn()`` now (a response's ``end()``, as Node's uncorks: ``uncork(True)``)."""
        if self._held is not None:
            self._held = None
            self.uncork(True)

    def uncork(self, later=False):
        """Node's ``uncork()``; ``later``: an application's call (a response's ``end()``
        or ``uncork()``), whose flush waiters (write callbacks, a response's ``finish``)
        run on the next loop turn, never inside it, as Node calls them."""
        if self._corked:
            self._corked -= 1
            if not self._corked and not self._writer:
                self._flush(later)

    def flush(self):
        """Send what is queued now, unless the writer already waits for the kernel (TLS: the
        layer calls it for its handshake's records, and at the handshake's end)."""
        if not self._writer and not self.destroyed:
            self._flush()

    def _flush(self, later=False):
        """Send what is queued; when the queue empties, ``drain`` (when a writer waits for
        it), then the flush waiters (``later``: on the next loop turn, with those due
        then). A refusal: ``_refused``."""
        if self._fail_pending is not None:
            return  # a write was refused this turn: nothing more goes out
        out = self._out
        tls = self.tls
        if tls is not None:  # encrypt what is queued and hand the records to the kernel
            if not tls.established:
                if not self._flush_handshake(out):
                    return
            elif self.buffered_size > SEAL_AT:  # a large body: encrypted piece by piece (gathering.py)
                if not self._seal_pieces(out):
                    return
            else:
                data = (out[0] if len(out) == 1 else b"".join(out)) if out else b""
                if tls.backlog:  # records the kernel has not taken yet go first: the layer's send
                    try:
                        left = tls.send(data)
                    except OSError as exc:
                        self._refused(exc)
                        return
                else:  # the usual, as tls.send does it, without the call
                    if data and not tls.closed:
                        tls.write(data)
                    records, left = tls.outgoing.read(), 0
                    if records:
                        try:
                            sent = tls.raw.send(records)
                        except (BlockingIOError, InterruptedError):
                            sent = 0
                        except OSError as exc:
                            self._refused(exc)
                            return
                        tls.wire_sent += sent
                        if sent < len(records):
                            tls.backlog = memoryview(records)[sent:]  # (sent by tls.send when writable)
                            left = len(records) - sent
                if out:  # plaintext written, or records the kernel had not taken: a write either way
                    self.last_activity = monotonic()
                    self._sent += len(data)
                if left:
                    self._out = [b""]
                    self.buffered_size = left
                    self._want_write()
                    return
                out.clear()
                self.buffered_size = 0
        elif out:
            if len(out) == 1:
                data = out[0]
                try:
                    sent = self._sock.send(data)
                except (BlockingIOError, InterruptedError):
                    sent = 0
                except OSError as exc:
                    self._refused(exc)
                    return
                self.last_activity = monotonic()
                self._sent += sent
                if sent < len(data):
                    rest = memoryview(data)[sent:]
                    self._out = [rest]
                    self.buffered_size = len(rest)
                    self._want_write()
                    return
                out.clear()
                self.buffered_size = 0
            elif not self._send_pieces(out):  # (several: gathered, none copied)
                return
        if self._writer:
            self._writer = False
            self.loop.remove_writer(self._fd)
        waiters = self._flush_waiters
        if waiters is not None:
            self._flush_waiters = None  # (those a drain listener adds wait for their own flush)
            if later:
                due = self._flush_due
                if due is None:
                    self._flush_due = waiters
                    self.loop.call_soon(self._run_flush_due)
                else:
                    due.extend(waiters)
                waiters = None
        if self._need_drain:  # the buffer is empty: 'drain' before the waiters of what emptied it
            self._need_drain = False
            if not self.destroyed and self.emit_or_destroy("drain") and self.protocol is not None:
                self.protocol.on_drain()
        if waiters is not None:
            for waiter in waiters:
                try:
                    waiter()
                except Exception:  # (a write's callback that raises: the flush goes on, and the FIN)
                    log.exception("error in a flush waiter of a socket")
        if self.writable_ended and not self.destroyed and not self._out:
            # (a waiter or a drain listener may have queued more, and ended: it goes first;
            # ``later``: 'finish' after the caller's turn, the flush at a connect's in its listener)
            self._shutdown(later)

    def _flush_handshake(self, out):
        """Before the TLS handshake's end only its records go out; what was written stays
        queued (callbacks too), as Node's TLSSocket keeps it, until the layer flushes at the
        handshake's end. True when nothing is queued and the records are all in the kernel."""
        try:
            left = self.tls.send(b"")
        except OSError as exc:
            self._fail(socket_error(exc, "write"))
            return False
        if left:
            self._want_write()
            return False
        if out and self._writer:
            self._writer = False
            self.loop.remove_writer(self._fd)
        return not out

    def after_flush(self, callback):
        """Call ``callback`` once everything queued so far is in the kernel (never now).
        With nothing queued it is due on the next loop turn, or at a ``destroy()`` made
        before that turn, ahead of the protocol's ``connection_lost`` (a response whose
        bytes are all out finishes before its connection closes)."""
        if not self._out and not self._corked and not self.connecting:
            due = self._flush_due
            if due is None:
                self._flush_due = [callback]
                self.loop.call_soon(self._run_flush_due)
            else:
                due.append(callback)
        elif self._flush_waiters is None:
            self._flush_waiters = [callback]
        else:
            self._flush_waiters.append(callback)

    def _run_flush_due(self):
        due, self._flush_due = self._flush_due, None
        if due.__class__ is CloseTurn:  # (destroyed since it was due: the close turn runs them)
            self._flush_due = due
            return
        if due:
            for callback in due:
                try:
                    callback()
                except Exception:
                    log.exception("error in a flush waiter of a socket")
