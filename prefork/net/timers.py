"""The check of a timeout an application gives (Node's ``getTimerDuration``), shared by
the socket's ``set_timeout`` (net/idle.py), the client's (client/sockopts.py: its
``timeout`` options and ``set_timeout``) and the server's request and response
(server/timeouts.py).

Rules:
- A timeout is a finite number of seconds >= 0 (0: off), checked at the call, before a
  listener is added or a timer changes: another type (a bool, a str, None) is
  ERR_INVALID_ARG_TYPE (a TypeError), a negative, NaN or infinite one ERR_OUT_OF_RANGE
  (a ValueError), each with Node's message (net/ports.py). (Taken as given, a NaN
  deadline fired at once and disordered the loop's other timers, -1 turned the timeout
  off and infinity set none.)
- One past Node's timer limit (2**31 - 1 ms) is that limit, with a RuntimeWarning (Node's
  TimeoutOverflowWarning) pointing at the caller of the ``set_timeout`` that checks it.
"""

import math
import warnings

from .ports import described, out_of_range

TIMER_LIMIT = (2 ** 31 - 1) / 1000  # Node's TIMEOUT_MAX, in seconds


def _coded(kind, code, message):
    err = kind(message)
    err.code = code
    return err


def timer_seconds(value, name="msecs"):
    """``value`` as a timeout in seconds, checked as Node's ``getTimerDuration``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _coded(TypeError, "ERR_INVALID_ARG_TYPE",
                     f'The "{name}" argument must be of type number. Received {described(value)}')
    if not 0 <= value < math.inf:  # (NaN too)
        raise _coded(ValueError, "ERR_OUT_OF_RANGE", f'The value of "{name}" is out of range. It must be '
                     f"a non-negative finite number. Received {out_of_range(value)}")
    if value > TIMER_LIMIT:
        warnings.warn(f"TimeoutOverflowWarning: {value} s does not fit into a 32-bit signed integer of "
                      f"milliseconds; the timeout is {TIMER_LIMIT} s", RuntimeWarning, stacklevel=3)
        return TIMER_LIMIT
    return value
