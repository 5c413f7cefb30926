"""The callbacks of ``write()`` among a socket's flush waiters.

Rules:
- A ``WriteCallback`` runs once its bytes are in the kernel, and (unlike a protocol's
  waiter) also at a destroy that keeps them from getting there: ``failed(error)``.
  A response's (server/response.py) takes no argument either way.
- A ``SocketWriteCallback`` is ``net.Socket.write()``'s, Node's ``callback(err)``: a
  callback that can take one positional argument gets None once its bytes are in the
  kernel, and the error when they never will be: the one that destroyed the socket (a
  reset, EPIPE, ETIMEDOUT, an error given to ``destroy``), ERR_STREAM_DESTROYED
  ("Cannot call write after a stream was destroyed") after a plain ``destroy()`` or for
  a write after it, ERR_STREAM_WRITE_AFTER_END for a write after ``end()``. One that
  takes no argument is called with none, as before. Whether it takes one is looked up
  when it is called (once), so a write pays nothing more for it.
"""

from inspect import signature

from ..http.errors import HTTPError


def destroyed_error():
    """Node's error for a write a destroyed stream will never send."""
    return HTTPError("ERR_STREAM_DESTROYED", "Cannot call write after a stream was destroyed")


def takes_error(callback):
    """Whether ``callback`` can be called with one positional argument."""
    try:
        signature(callback).bind(None)
    except (TypeError, ValueError):  # (ValueError: no signature to read, a builtin's)
        return False
    return True


class WriteCallback:
    __slots__ = ("callback",)

    def __init__(self, callback):
        self.callback = callback

    def __call__(self):
        self.callback()

    def failed(self, error):
        self.callback()


class SocketWriteCallback(WriteCallback):
    __slots__ = ()

    def __call__(self):
        callback = self.callback
        if takes_error(callback):
            callback(None)
        else:
            callback()

    def failed(self, error):
        callback = self.callback
        if takes_error(callback):
            callback(error if error is not None else destroyed_error())
        else:
            callback()
