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
- Which it is is read from the code object when the callback runs (a few attribute
  reads; ``inspect.signature`` only for a builtin), so a write pays nothing for it.
- One class for both kinds: code that tells a write's callback from other waiters by
  ``type(waiter) is WriteCallback`` (server/lost.py) sees a socket's too.
"""

from functools import partial
from inspect import signature

from ..http.errors import HTTPError


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


class WriteCallback:
    __slots__ = ("callback", "with_error")

    def __init__(self, callback, with_error=False):
        self.callback = callback
        self.with_error = with_error

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


def socket_write_callback(callback):
    """``net.Socket.write()``'s callback: given Node's ``err`` when it names a parameter."""
    return WriteCallback(callback, True)
