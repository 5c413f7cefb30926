"""The callbacks of ``write()`` among a socket's flush waiters.

Rules:
- A ``WriteCallback`` runs once its bytes are in the kernel, and (unlike a protocol's
  waiter) also at a destroy that keeps them from getting there: ``failed(error)``.
  A response's (server/response.py) and a client request's take no argument either way.
- ``net.Socket.write()``'s (``socket_write_callback``) is Node's ``callback(err)``: a
  callback that names a positional parameter gets None once its bytes are in the
  kernel, and the error when they never will be: the one that destroyed the socket (a
  reset, EPIPE, ETIMEDOUT, an error given to ``destroy``), ERR_STREAM_DESTROYED
  ("Cannot call write after a stream was destroyed") after a plain ``destroy()`` or for
  a write after it, ERR_STREAM_WRITE_AFTER_END for a write after ``end()``. One that
  names none is called with none, as before: so is one that only forwards ``*args``
  (a decorator without ``functools.wraps``, ``partial(loop.call_soon, event.set)``). A
  decorator made with ``functools.wraps`` is read through to what it wraps; a builtin
  (``future.set_result``, ``list.append``) by the signature it states, and without one
  it is called with none.
- At a ``destroy()`` (Node's order, net/closing.py): a write whose bytes were all in the
  kernel gets None first; while some of what was written is not, the ``error`` comes
  first, then on the close turn (a ``CloseTurn``, before the ``close``) the callbacks of
  calls made after the destroy, then those of the writes: None for one the kernel had
  begun to take (Node's write handed to the system, cancelled by the close), the
  destroy's error (else ERR_STREAM_DESTROYED) for the rest; a write made while
  connecting gets ERR_SOCKET_CLOSED_BEFORE_CONNECTION (the first; the others the destroy's
  error, else that one), called from a ``close`` listener (``ClosedBeforeConnection``)
  the first such write added, as Node's: after the ``close`` listeners added before it.
  Destroyed by a ``connect`` listener that comes before the one the first such write
  added (which sends them), they are not sent and get ERR_SOCKET_CLOSED (``end()``'s
  too, the destroy's error after the first), as Node's.
  (On a socket a protocol owns, a server's connection, a client request's, the callbacks
  of the writes not in the kernel come on the next turn, before the events the
  protocol schedules, whose order is its own.) A write the kernel refuses (a reset, EPIPE, the send timeout's
  ETIMEDOUT) gives every waiting callback that error, before the ``error``.
- Which it is is read from the code object when the callback runs (a few attribute
  reads; ``inspect.signature`` only for a builtin), so a write pays nothing for it.
- One class for both kinds: code that tells a write's callback from other waiters by
  ``type(waiter) is WriteCallback`` (server/lost.py) sees a socket's too.
"""

import logging
from functools import partial
from inspect import signature

from ..http.errors import HTTPError

log = logging.getLogger("prefork")


def destroyed_error():
    """Node's error for a write a destroyed stream will never send."""
    return HTTPError("ERR_STREAM_DESTROYED", "Cannot call write after a stream was destroyed")


def takes_error(callback, bound=0):
    """Whether ``callback`` names a positional parameter past the ``bound`` ones given to
    it already (its ``self``, a ``partial``'s arguments): then it can take the error."""
    for _ in range(16):  # (an object answering every attribute, a Mock, never ends the walk)
        if isinstance(callback, partial):
            if callback.keywords:  # (which parameters keywords fill is not worth the guess)
                return False
            bound += len(callback.args)
            callback = callback.func
            continue
        function = getattr(callback, "__func__", None)  # a bound method
        if function is not None:
            bound += 1
            callback = function
            continue
        wrapped = getattr(callback, "__wrapped__", None)  # a decorator's, made with functools.wraps
        if wrapped is not None:
            callback = wrapped
            continue
        code = getattr(callback, "__code__", None)
        if code is not None:
            return code.co_argcount > bound
        if getattr(callback, "__text_signature__", None) is not None:  # a builtin's (Future.set_result)
            try:
                signature(callback).bind(*(None,) * (bound + 1))
            except (TypeError, ValueError):
                return False
            return True
        if isinstance(callback, type):
            return False
        call = getattr(type(callback), "__call__", None)  # an object with __call__
        if getattr(call, "__code__", None) is None:
            return False  # (its parameters are not said)
        callback, bound = call, bound + 1
    return False


def closed_before_connection():
    """Node's error for a write made while connecting, on a socket destroyed before it connected."""
    return HTTPError("ERR_SOCKET_CLOSED_BEFORE_CONNECTION", "Socket closed before the connection was established")


def socket_closed():
    """Node's error for a write made while connecting, on a socket destroyed by a ``connect``
    listener that came before the write's own (which would have sent it)."""
    return HTTPError("ERR_SOCKET_CLOSED", "Socket is closed")


class CloseTurn(list):
    """What a destroyed socket calls on its close turn, before its ``close`` (module rules);
    held in its ``_flush_due`` from the destroy to the ``close``."""

    __slots__ = ()


class ClosedBeforeConnection:
    """The ``close`` listener a socket's first write while it connects adds (Node's, that
    write's): at a ``close`` before the connect, it calls the callbacks of the writes made
    while connecting and of ``end()`` (handed over by the destroy), in its place among the
    ``close`` listeners; the connect takes it off."""

    __slots__ = ("steps",)

    def __init__(self):
        self.steps = None

    def __call__(self, *args):
        steps, self.steps = self.steps, None
        for step in steps or ():
            try:
                step()
            except Exception:
                log.exception("error in a write callback of a socket closed before it connected")


class WriteCallback:
    __slots__ = ("callback", "with_error", "start")

    def __init__(self, callback, with_error=False, start=0):
        self.callback = callback
        self.with_error = with_error
        self.start = start  # (a socket's write: its count of bytes written before this one's)

    def __call__(self):
        callback = self.callback
        if self.with_error and takes_error(callback):
            callback(None)
        else:
            callback()

    def failed(self, error):
        callback = self.callback
        if self.with_error and takes_error(callback):
            callback(error if error is not None else destroyed_error())
        else:
            callback()


def socket_write_callback(callback, start=0):
    """``net.Socket.write()``'s callback: given Node's ``err`` when it names a parameter
    (``start``: the socket's ``bytes_written`` before the write)."""
    return WriteCallback(callback, True, start)
