"""The ending of ``net.Socket``: ``end``, ``destroy``, and the orderly close (``destroy_soon``'s
linger for the peer: net/linger.py).

Rules:
- Half-open like Node's server sockets: after the peer's FIN the socket stays writable
  until ``end()``; ``end()`` sends the FIN once the queue is flushed (``finish`` follows).
- The order of an orderly close is fixed: every queued byte in the kernel, then (TLS) the
  whole close_notify, then the FIN, then the close. A close_notify the kernel cannot take
  at once waits for writability like any queued record. Bytes written to a TLS socket
  before its handshake's end wait for it, and the FIN after them.
- ``destroy()`` is immediate: one last non-blocking try for what is queued (not what was
  written since ``hold_turn()``: dropped; ``bytes_written`` still counts all of it, as
  Node's; over TLS a large body's rest is encrypted a piece at a time while the kernel
  takes the records, never whole only to be dropped) and (TLS, when
  no error ended the stream) the close_notify, as nginx ends an idle connection; then
  close. A protocol with ``destroyed_with(error)`` hears the error given to ``destroy``
  (not a ``destroy_soon`` one) before ``connection_lost``, as Node's server hears its
  socket's ``error``. When that try put everything queued in the kernel, the flush waiters run
  before the protocol hears of the close (a response written whole before a
  ``clientError`` listener's destroy finishes, as in Node); otherwise only ``write()``
  callbacks run, in Node's order (net/callbacks.py). A protocol with ``flushed_at_destroy(waiter)`` is handed its own
  waiters instead (so that what they emit comes on the close turn, not inside the
  destroy).
- ``close(had_error)`` is emitted on a later loop turn, once, even when an ``error``
  listener before it raised (logged): the server's count of its sockets waits for it.
  ``had_error`` is True after a destroy with an error and after a read or write the
  kernel refused (a reset, EPIPE), whoever destroyed the socket then (a protocol, a
  ``clientError`` listener), as Node's socket, destroyed by that error, says.
  An ``end`` or ``finish`` listener that raises does not stop the close either.
  The protocol's ``after_close()``, when it has one, is called after the ``close``
  listeners, on that turn, whatever they did. From the destroy to the ``close`` the
  socket's ``_flush_due`` is a ``CloseTurn``: what is called back meanwhile (a write's
  or an ``end()``'s callback after the destroy, ``before_close``) is called on the close
  turn after the ``error``, before the ``close``, as Node's comes before it.
- ``reset_and_destroy()`` is ``destroy()`` closing with a TCP reset (Node's). ``closed`` (Node's)
  is true once the descriptor is closed: from the destroy on (Node's from the close's
  turn; a name of its own on each socket would cost the compact layout).
- ``end()`` is Node's: it uncorks fully; the ``finish`` it makes due at once comes on the
  next loop turn (listeners added after the call see it), and none comes once the
  socket is destroyed; its callback runs at ``finish`` (before the ``finish``
  listeners, as Node's; several in the order given), or on the turn after a destroy
  that comes first (before ``error`` and ``close``; after the ``error`` and the write
  callbacks when written bytes were not in the kernel), given Node's ``err`` when it names
  a parameter (the destroy's error, ERR_STREAM_DESTROYED, ERR_STREAM_ALREADY_FINISHED).
  ``end(data)`` once ended or destroyed (empty ``data`` too) is a write refused: its
  callback gets ERR_STREAM_WRITE_AFTER_END after an ``end()``, else ERR_STREAM_DESTROYED
  ("Cannot call write ..."), and a socket not destroyed yet is destroyed with it.
  ``destroy_soon`` ends without the uncork (a protocol calls it inside its corked read)
  and emits a due ``finish`` at once. ``destroy_soon(error=...)`` flushes as it does,
  and the close then reports that error as a destroy with it would (``error`` to the
  socket's own listeners, ``close(True)``), as Node's server socket reports a parse
  error nobody listened for.
"""

from functools import partial
import logging
import socket as _socket
import struct
from time import monotonic

from ..http.errors import HTTPError
from .callbacks import (ClosedBeforeConnection, CloseTurn, closed_before_connection, destroyed_error, socket_closed,
                        takes_error)
from .gathering import SEAL_AT, SEAL_PIECE
from .linger import Lingering
from .writing import WriteCallback

_RESET = struct.pack("ii", 1, 0)  # SO_LINGER on, 0 s: close() sends a reset
_DESTROYED = "Cannot call end after a stream was destroyed"
log = logging.getLogger("prefork")


class Closing(Lingering):
    """Mixed into ``Socket``."""

    allow_half_open = True  # after the peer's FIN, stay writable until end() (Node's allowHalfOpen)
    _fin_sent = False
    _finish_due = False  # the FIN is out, its 'finish' waits for the next loop turn
    writable_finished = False  # 'finish' was emitted (Node's writableFinished)
    closed = property(lambda self: self.destroyed)  # Node's closed: its descriptor is (rules)
    _end_error = None  # destroy_soon(error=...): what the close reports
    _end_callbacks = None  # end()'s callbacks (an _EndCallbacks: run at 'finish', else after a destroy)

    def end(self, data=None, encoding=None, callback=None):
        """Node's ``socket.end([data[, encoding]][, callback])``: the FIN once what is queued
        is flushed; ``callback()`` at ``finish``, or at ``close`` if the socket is destroyed
        first. It uncorks fully, as Node's does. Data after ``end()`` is a write after end."""
        if callable(data):
            data, callback = None, data
        elif callable(encoding):
            encoding, callback = None, encoding
        if self.writable_ended or self.destroyed:
            if data is not None:  # (empty too) a write after end, or after the destroy: refused
                error = HTTPError("ERR_STREAM_WRITE_AFTER_END", "write after end") if self.writable_ended \
                    else destroyed_error()
            elif callback is None or not (self.writable_finished or self.destroyed):
                error = None  # (a 'finish' still due: with it)
            else:
                error = HTTPError("ERR_STREAM_ALREADY_FINISHED", "Cannot call end after a stream was finished") \
                    if self.writable_finished else HTTPError("ERR_STREAM_DESTROYED", _DESTROYED)
            if callback is not None:
                self.before_close(_call_back, callback, error) if error else self._call_at_finish(callback)
            if data is not None:
                self.write(data, encoding)  # (not destroyed yet: destroyed with its error)
            return self
        if data:
            self.write(data, encoding)
        if callback is not None:
            self._call_at_finish(callback)
        if self._corked:
            self._corked = 1
            self._held = None
            self.uncork(True)  # (the FIN follows what goes out here; the write callbacks come after the call)
        return self._end(True)

    def _end(self, later=False):
        """The FIN once the queue is flushed (and uncorked): ``end()`` without its uncork,
        for ``destroy_soon``, which a protocol calls in the middle of its corked read.
        ``later``: a ``finish`` due at once is emitted on the next loop turn (after the
        caller of ``end()`` added its listeners, as Node emits it)."""
        if self.writable_ended or self.destroyed:
            return self
        self.writable_ended = True
        self.writable = False
        if not self._out and not self._corked and not self.connecting:
            self._shutdown(later)  # (connecting: the FIN follows the connect, from its flush)
        return self

    def _call_at_finish(self, callback):
        for listener in self.raw_listeners("finish"):
            if type(listener) is _EndCallbacks:
                listener.callbacks.append(callback)  # (after the earlier end()'s, in order)
                return
        done = self._end_callbacks = _EndCallbacks(self, callback)
        self.prepend_listener("finish", done)  # (before the 'finish' listeners, as Node's)

    def _shutdown(self, later=False):
        """Everything queued is in the kernel: close_notify, the FIN, then the close if due
        (``later``: ``finish`` on the next loop turn)."""
        if self._fin_sent or self.destroyed:
            return
        tls = self.tls
        if tls is not None:
            left = tls.close_notify()
            if left:  # the kernel took part of it: the rest goes first, the FIN after
                self._out = [b""]
                self.buffered_size = left
                self._want_write()
                if self._destroy_after_flush:
                    self._bound_close()
                return
        self._fin_sent = True
        try:
            self._sock.shutdown(_socket.SHUT_WR)
        except OSError:
            pass
        if later:
            self._finish_due = True
            self.loop.call_soon(self._finished)
        else:
            self._finished()

    def _finished(self):
        if self._finish_due:
            self._finish_due = False
        if self.destroyed:
            return  # destroyed before its 'finish' (a write after end): none
        self.writable_finished = True
        try:
            self.emit("finish")
        except Exception:  # (on a later turn than its cause: said here, and the close comes all the same)
            log.exception("error in a 'finish' listener of a socket; closing it")
            if not self._destroy_after_flush:  # (a linger asked for stays)
                self._destroy_after_flush = True
        finally:
            if self._destroy_after_flush or not self.readable:
                self._close_after_fin()

    def reset_and_destroy(self):
        """Node's ``resetAndDestroy()``: destroy, the peer told by a TCP reset (RST) rather
        than a FIN; what the kernel still holds for it is dropped."""
        if not self.destroyed:
            try:
                self._sock.setsockopt(_socket.SOL_SOCKET, _socket.SO_LINGER, _RESET)
            except OSError:
                pass
            self.destroy()
        return self

    def destroy(self, error=None):
        if self.destroyed:
            return self
        self.destroyed = True
        self.writable = self.readable = False
        flushed = False  # all that was queued reached the kernel in the last try
        left = self.buffered_size  # (what it has not taken)
        taken, connecting = self._sent, self.connecting  # (before this destroy: whose writes had begun)
        queued = sum(map(len, self._out)) if self.tls is not None else left  # (TLS: the plaintext not yet sealed)
        if left:  # bytes_written keeps counting what was written, dropped or not (Node's)
            self._sent += queued
        # (written while connecting, destroyed by a 'connect' listener before the one that sends it)
        unsent = left and not connecting and self._send_written in self.listeners("connect")
        if not self._broken and not connecting and not unsent:
            # bytes written before the destroy go out first, with an error too (Node writes
            # at once; a corked read only delays them), then close_notify when no error
            # ended it: one last non-blocking try
            tls = self.tls
            try:
                if tls is not None and queued > SEAL_AT:
                    # a large body's rest is sealed a piece at a time while the kernel takes
                    # the records (all it takes goes, as from a plain socket), never sealed
                    # whole only to be dropped
                    limit = max(queued - (self._held or 0), 0)  # (what hold_turn() held is dropped)
                    left = tls.send(b"")
                    for piece in self._out:
                        view = memoryview(piece)[:limit]
                        limit -= len(view)
                        while view and not left:
                            left = tls.send(view[:SEAL_PIECE])
                            view = view[SEAL_PIECE:]
                        if left or not limit:
                            break
                    flushed = not left and not limit and not self._held
                elif self._out:
                    data = self._out[0] if len(self._out) == 1 else b"".join(self._out)
                    if self._held:  # written since hold_turn(): dropped, as Node's corked writes
                        data = data[:max(len(data) - self._held, 0)]
                    if tls is not None:
                        flushed = not tls.send(data) and not self._held
                    else:
                        left -= self._sock.send(data)
                        flushed = not left
                else:
                    flushed = True
                if tls is not None and error is None:
                    tls.close_notify()
            except OSError:
                pass
        if self.connecting:
            self.connecting = False  # (a connect cut short or failed: ``ready_state`` closed, as Node's)
        loop = self.loop
        if self._reading:
            self._reading = False
            loop.remove_reader(self._fd)
        if self._writer:
            self._writer = False
            loop.remove_writer(self._fd)
        try:
            self._sock.close()
        except OSError:
            pass
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._close_timer is not None:
            self._close_timer.cancel()
            self._close_timer = None
        if self._send_check is not None:
            self._send_check.cancel()
            self._send_check = None
        self._out = []
        if self._held is not None:
            self._held = None  # (what it held is dropped: no uncork is due)
        if not flushed and left:
            self.unsent = left  # (else the class default, 0: a name fewer on most sockets)
        self.buffered_size = 0
        self.last_activity = monotonic()  # (when it ended: a cut response's duration)
        protocol = self.protocol
        due = self._flush_due
        if due is not None:  # their bytes were in the kernel before this turn: they run now
            self._flush_due = None
            for waiter in due:  # (in order: a write's callback before the 'finish' of its response)
                self._flushed_at_destroy(waiter, protocol)
        waiters = self._flush_waiters
        late = []  # (some of what was written is not in the kernel: after the 'error', as Node's)
        rest = error if error is not None else self._end_error  # (what the writes not begun get)
        if connecting and left:  # writes made while connecting (net/callbacks.py)
            rest = rest or closed_before_connection()
        elif unsent:
            rest = rest or socket_closed()
        if waiters is not None:
            self._flush_waiters = None
            for waiter in waiters:
                if flushed:  # its bytes are in the kernel: a response's 'finish' comes before the close
                    self._flushed_at_destroy(waiter, protocol)
                elif isinstance(waiter, WriteCallback):  # (never got there: still called, as Node's)
                    if connecting:
                        step = partial(waiter.failed, closed_before_connection() if waiter.start == taken else rest)
                    elif unsent:
                        step = partial(waiter.failed, socket_closed() if waiter.start == taken else rest)
                    else:  # (None: the kernel had begun to take it)
                        step = waiter if waiter.start < taken else partial(waiter.failed, rest)
                    # (a protocol's socket: on the next turn, before the events the protocol schedules)
                    late.append(step) if protocol is None else loop.call_soon(step)
                # (else a protocol's waiter is done with: its bytes never went out)
        if protocol is not None:
            if error is not None:  # destroyed with an error: a protocol that listens hears it first
                heard = getattr(protocol, "destroyed_with", None)
                if heard is not None:
                    heard(error)
            protocol.connection_lost(error)
        if error is None:
            error = self._end_error
            if error is not None:
                self._end_error = None  # (its traceback holds the frames that hold this socket)
        if self._end_callbacks is not None:  # end()'s callbacks, after the writes', as Node's
            if not flushed and left and protocol is None:  # (after the 'error' then)
                late.append(partial(self._end_callbacks, rest if connecting or unsent else error))
            else:
                loop.call_soon(self._end_callbacks, error)
        if connecting and late:  # (Node calls them from the 'close' listener its first write added)
            for listener in self.raw_listeners("close"):
                if type(listener) is ClosedBeforeConnection:
                    listener.steps, late = late, []
                    break
        self._flush_due = CloseTurn()  # (what is called back from now on comes before the 'close')
        loop.call_soon(self._emit_close, error, late)
        return self

    def before_close(self, callback, *args):
        """``callback(*args)`` on the next loop turn; on a socket destroyed whose ``close``
        is still due, on its close turn, before the ``close``, as Node calls it."""
        turn = self._flush_due
        if turn.__class__ is CloseTurn:
            turn.append(partial(callback, *args))
        else:
            self.loop.call_soon(callback, *args)

    def _flushed_at_destroy(self, waiter, protocol):
        """A flush waiter whose bytes a destroy found in the kernel: run now, or handed
        to the protocol's ``flushed_at_destroy(waiter)`` when it has one (which tells
        what the waiter would emit, a write's callback too, on the close turn, not
        inside the destroy); without a protocol on the next turn, as Node's."""
        try:
            hook = getattr(protocol, "flushed_at_destroy", None)
            if protocol is None:
                self.loop.call_soon(waiter)
            elif hook is None:
                waiter()
            else:
                hook(waiter)
        except Exception:
            log.exception("error in a flush waiter at a socket's destroy")

    def _emit_close(self, error, late=()):
        try:
            if error is not None and (self.protocol is None or self.listener_count("error")):
                try:
                    self.emit("error", error)
                except Exception:  # a raising 'error' listener: the 'close' is still due
                    log.exception("error in an 'error' listener of a socket")
            turn = self._flush_due  # calls made since the destroy, then the writes' callbacks
            if turn.__class__ is not CloseTurn:
                turn = late
            elif late:
                turn += late
            if turn:  # (none on most sockets: no call made for them)
                at = 0
                while at < len(turn):  # (one may add more: they come before the 'close' too)
                    at += 1
                    try:
                        turn[at - 1]()
                    except Exception:
                        log.exception("error in a callback of a socket at its close")
            self._flush_due = None
            self.emit("close", error is not None or self._broken)
        finally:
            protocol = self.protocol
            self.protocol = None  # it refers back to this socket: let both go now
            if self.tls is not None:
                self.tls.release()  # (so does the TLS layer)
            if protocol is not None:
                after = getattr(protocol, "after_close", None)
                if after is not None:  # what the protocol does once the close is told
                    after()


class _EndCallbacks:
    """The callbacks given to ``end()``, in order, run once: at ``finish`` (before its
    listeners, as Node's), or on the turn after a destroy that comes first (module rules)."""

    def __init__(self, socket, callback):
        self.socket = socket
        self.callbacks = [callback]

    def __call__(self, error=None):
        socket = self.socket
        if socket is None:
            return
        socket.off("finish", self)
        self.socket = None
        if error is None and socket.destroyed:
            error = HTTPError("ERR_STREAM_DESTROYED", _DESTROYED)
        for callback in self.callbacks:
            _call_back(callback, error)


def _call_back(callback, error=None):  # (an end() callback: net/callbacks.py's rule for its err)
    callback(error) if takes_error(callback) else callback()
