"""What a socket does about a peer's reset that its loop may not tell it of: a mixin of
``Socket`` (net/socket.py), whose state it reads (``_reset``, ``_reading``, ``_sock``).

Rules (the reasons: net/socket.py's rules on ``resume()`` and ``look_for_reset``):
- A reset found by asking the kernel (``SO_ERROR``, which clears it) is kept in
  ``_reset``; the socket's own read steps (``_read_to_reset``, one a loop turn) read
  what the peer sent before it, then fail the socket with it. A step finds the socket
  paused again: it stops, and ``resume()`` takes the steps up.
- A connecting socket is never asked: its pending error is its connect's outcome.
- ``look_for_reset`` asks only on a loop whose reader stops for good at such a reset
  (uvloop's): on others it costs an attribute's look.
"""

import os
import socket as _socket

from .writing import socket_error

_PEEK = int(_socket.MSG_PEEK | _socket.MSG_DONTWAIT)  # (an int: or-ing the flags makes an enum per call)
_STOPPING_READERS = {}  # loop class -> its reader is called once and never again at a reset (uvloop's)


def stops_at_reset(kind):
    """The loop class ``kind``'s reader is called once and never again at a reset that
    comes with the peer's bytes (uvloop's)."""
    stops = _STOPPING_READERS.get(kind)
    if stops is None:
        stops = _STOPPING_READERS[kind] = kind.__module__.split(".")[0] == "uvloop"
    return stops


class ResetWatch:
    """Mixed into ``Socket``."""

    _reset = None  # a reset found by asking, told once what came before it is read

    @property
    def reads_stop_at_reset(self):
        """The loop's reader stops for good at a reset (uvloop): see ``look_for_reset``. (Read
        from the loop's class, not kept on the socket: one name less in its layout.)"""
        return stops_at_reset(type(self.loop))

    def look_for_reset(self):
        """After a read that leaves more due from the peer (a raw stream's, or one a
        protocol finds a message part-way in): on a loop whose reader stops for good at
        a reset that comes with the peer's bytes (uvloop), ask for the socket's pending
        error (one ``SO_ERROR``); a reset is then told after what came before it (module
        rules). Nothing on other loops. True when a reset is pending."""
        if self.reads_stop_at_reset and self._reset is None and not self.destroyed and self._ask_kernel():
            self.loop.call_soon(self._read_to_reset)  # that read was the reader's last call: these steps go on
        return self._reset is not None

    def resumed_after_pause(self):
        """Reading goes on after a ``pause()``: a reset that came meanwhile (asked for),
        or one found before the pause, is told after what came before it. Not while
        connecting: the pending error is then the connect's outcome, which the connect
        reads (net/connect.py); taken here, a refused connect emitted ``connect``."""
        if self.connecting:
            return
        if self._reset is not None or self._ask_kernel():
            self.loop.call_soon(self._read_to_reset)

    def _ask_kernel(self):
        """The socket's pending error (reading it clears it), kept in ``_reset`` until
        what came before it is read; True when there was one."""
        error = self._sock.getsockopt(_socket.SOL_SOCKET, _socket.SO_ERROR)
        if error:
            self._reset = socket_error(OSError(error, os.strerror(error)), "read")
        return bool(error)

    def _read_to_reset(self):
        """One read step of a socket whose peer's reset was found by asking: what the
        peer sent before it, then the reset (module rules)."""
        if self.destroyed or self._reset is None or not self._reading:
            return  # (paused again: resume() takes the steps up)
        try:
            waiting = self._sock.recv(1, _PEEK)
        except OSError:
            waiting = b""
        if not waiting:
            error, self._reset = self._reset, None
            self._fail(error)
            return
        self._on_readable()
        self.loop.call_soon(self._read_to_reset)
