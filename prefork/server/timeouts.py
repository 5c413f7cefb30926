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


def _timer(seconds):
    return timer_seconds(seconds, "timeout")


def _knob(name, keep_alive=False):
    """The check of a Server timeout attribute other than ``timeout`` (module rules);
    ``keep_alive``: Node arms a timer of it + 1 s, which must be >= 0 and finite."""
    def check(seconds):
        if seconds is not None:
            if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
                raise _refused(TypeError, "ERR_INVALID_ARG_TYPE",
                               f'The "{name}" value must be a number or None. Received {seconds!r}')
            if keep_alive and (seconds < -1.0 or seconds == math.inf):
                raise _refused(ValueError, "ERR_OUT_OF_RANGE", f'The value of "{name}" is out of range. '
                               f'It must be finite and at least -1. Received {seconds!r}')
        return seconds
    return check


_CHECKS = {"timeout": _timer, "keep_alive_timeout": _knob("keep_alive_timeout", keep_alive=True),
           "headers_timeout": _knob("headers_timeout"), "request_timeout": _knob("request_timeout")}


class CheckedTimeouts:
    """A mixin of Server: its ``timeout``, ``keep_alive_timeout``, ``headers_timeout``
    and ``request_timeout`` checked when set (module rules), kept as plain instance
    attributes. (Not descriptors: CPython specialises no read of an attribute a class
    descriptor with ``__set__`` names, and the request path reads two per request.)"""

    __slots__ = ()

    def __setattr__(self, name, value):
        check = _CHECKS.get(name)
        object.__setattr__(self, name, value if check is None else check(value))

    def __delattr__(self, name):
        if name in _CHECKS:  # (Node's ``delete`` leaves the field undefined, which its checks take as off)
            self.__setattr__(name, 0)
        else:
            object.__delattr__(self, name)


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
