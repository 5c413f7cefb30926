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
- The server's ``keep_alive_timeout``, ``headers_timeout`` and ``request_timeout`` set
  after construction are taken as Node takes them: None, 0, a negative number or NaN
  turns that timeout off (``keep_alive_timeout``: no ``Keep-Alive`` line for None, 0 or
  NaN, Node's falsy values), except a ``keep_alive_timeout`` above -1 s: Node arms its
  timer of it + 1 s, so one between -1 s and 0 closes an idle connection after that
  (its ``Keep-Alive`` line the floor: -1); -1 itself (a timer of 0) is off. What Node throws at its use (killing the process) is
  refused when set, nothing changed: not a number (a str, a bool) ERR_INVALID_ARG_TYPE,
  a ``keep_alive_timeout`` below -1 s or infinite ERR_OUT_OF_RANGE (Node arms a timer
  of it + 1 s; it serves infinite head and request timeouts as none).
"""

import math

from ..net.timers import timer_seconds


def _refused(kind, code, message):
    err = kind(message)
    err.code = code
    return err


class ServerTimeout:
    """The Server's ``timeout`` attribute: checked when set. (A descriptor with no
    ``__get__``: a read finds the value in the instance's ``__dict__``, no call.)"""

    __slots__ = ()

    def __set__(self, server, seconds):
        server.__dict__["timeout"] = timer_seconds(seconds, "timeout")


class ServerKnobTimeout:
    """A Server timeout attribute other than ``timeout``: checked when set (module rules);
    a read finds the value in the instance's ``__dict__``, no call."""

    __slots__ = ("name", "keep_alive")

    def __init__(self, keep_alive=False):
        self.keep_alive = keep_alive  # Node arms a timer of this + 1 s: that must be >= 0 and finite

    def __set_name__(self, owner, name):
        self.name = name

    def __set__(self, server, seconds):
        if seconds is not None:
            if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
                raise _refused(TypeError, "ERR_INVALID_ARG_TYPE",
                               f'The "{self.name}" value must be a number or None. Received {seconds!r}')
            if self.keep_alive and (seconds < -1.0 or seconds == math.inf):
                raise _refused(ValueError, "ERR_OUT_OF_RANGE", f'The value of "{self.name}" is out of range. '
                               f'It must be finite and at least -1. Received {seconds!r}')
        server.__dict__[self.name] = seconds


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
