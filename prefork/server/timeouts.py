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

import math
import warnings

TIMER_LIMIT = (2 ** 31 - 1) / 1000  # Node's TIMEOUT_MAX, in seconds


def _coded(kind, code, message):
    err = kind(message)
    err.code = code
    return err


def timer_seconds(value, name="msecs"):
    """``value`` as a timeout in seconds, checked as Node's ``getTimerDuration``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _coded(TypeError, "ERR_INVALID_ARG_TYPE",
                     f'The "{name}" argument must be of type number. Received {value!r}')
    if not 0 <= value < math.inf:  # (NaN too)
        raise _coded(ValueError, "ERR_OUT_OF_RANGE", f'The value of "{name}" is out of range. It must be '
                     f"a non-negative finite number. Received {value!r}")
    if value > TIMER_LIMIT:
        warnings.warn(f"TimeoutOverflowWarning: {value} s does not fit into a 32-bit signed integer of "
                      f"milliseconds; the timeout is {TIMER_LIMIT} s", RuntimeWarning, stacklevel=3)
        return TIMER_LIMIT
    return value


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
