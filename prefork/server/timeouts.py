"""The idle timeouts an application sets on a request or a response (Node's
``req.setTimeout`` and ``res.setTimeout``), checked as Node's socket checks them.

Rules (Node's ``getTimerDuration``):
- A timeout is a finite number of seconds >= 0 (0: off), checked at the call, before
  a listener is added or a timer changes: another type (a bool, a str) is
  ERR_INVALID_ARG_TYPE (a TypeError), a negative, NaN or infinite one ERR_OUT_OF_RANGE
  (a ValueError). (Taken as given, a NaN deadline disordered the loop's timers of every
  connection and fired at once, -1 turned the timeout off and infinity set none.)
- One past Node's timer limit (2**31 - 1 ms) is that limit, with a RuntimeWarning
  (Node's TimeoutOverflowWarning), as the client's ``set_timeout``.
"""

from ..net.timers import timer_seconds


class ServerTimeout:
    """The Server's ``timeout`` attribute: checked when set. (A descriptor with no
    ``__get__``: a read finds the value in the instance's ``__dict__``, no call.)"""

    __slots__ = ()

    def __set__(self, server, seconds):
        server.__dict__["timeout"] = timer_seconds(seconds, "timeout")


class RequestTimeout:
    """A mixin of IncomingMessage (request.py): its ``set_timeout``."""

    __slots__ = ()

    def set_timeout(self, seconds, callback=None):
        """Node's ``req.setTimeout(msecs[, callback])``: the socket's idle timeout; the
        callback a ``timeout`` listener of the request."""
        seconds = timer_seconds(seconds)
        if callback is not None:
            self.on("timeout", callback)
        self.socket.set_timeout(seconds)
        return self
