"""The TCP options of ``net.Socket`` (Node's ``setNoDelay`` and ``setKeepAlive``): a mixin.

Rules:
- ``set_keep_alive``'s delay is in seconds; any value is taken, as Node's (whose kernel
  call fails past the limit, keeping the default): one past the kernel's TCP_KEEPIDLE
  limit (32767 s, infinity too) is that limit here, one below 1 s or
  that is no number (None, NaN) the system's default. (An agent's
  ``keep_alive_initial_delay`` of 1e10 raised in its ``connect`` listener: every request
  of that agent failed.)
- An option set while the socket connects is kept and set again once it has connected,
  as Node's ``afterConnect`` does: a name's next address is tried on a new system
  socket, which had none of them (and each attempt turns TCP_NODELAY on).
- Whether they apply is the system socket's family: a UNIX socket takes none (a no-op, as
  Node's pipe), whatever family a PROXY header gave ``remote_family``.
- The state (``_no_delay_wanted``, ``_keep_alive_wanted``) is ``Socket``'s: class
  defaults (None), set on a socket only when it is given an option while connecting.
"""

import socket as _socket

KEEPIDLE_MAX = 32767  # seconds: Linux's MAX_TCP_KEEPIDLE
_UNIX = _socket.AF_UNIX


class SocketOptions:
    """Mixed into ``Socket``."""

    def set_keep_alive_idle(self, seconds):
        """TCP keep-alive probes after ``seconds`` idle (Node's keepAliveInitialDelay), at
        least 1 s; NaN: the system's default, as Node's."""
        return self.set_keep_alive(True, max(seconds, 1)) if seconds else self  # (max(nan, 1) is nan)

    def set_keep_alive(self, enable=False, initial_delay=0):
        """Node's ``socket.setKeepAlive([enable][, initialDelay])``, the delay in seconds:
        TCP keep-alive probes on (or off), the first after ``initial_delay`` idle seconds
        (0: the system's default), then one a second, ten before the peer counts as gone
        (libuv's interval and count, as Node 20 sets them)."""
        if self._sock.family == _UNIX or self.destroyed:
            return self
        if self.connecting:
            self._keep_alive_wanted = (enable, initial_delay)
        try:
            self._sock.setsockopt(_socket.SOL_SOCKET, _socket.SO_KEEPALIVE, int(bool(enable)))
            if enable and isinstance(initial_delay, (int, float)) and initial_delay >= 1:
                idle = int(min(initial_delay, KEEPIDLE_MAX))  # (inf too; past it setsockopt fails or overflows)
                for option, value in ((_socket.TCP_KEEPIDLE, idle), (_socket.TCP_KEEPINTVL, 1),
                                      (_socket.TCP_KEEPCNT, 10)):
                    self._sock.setsockopt(_socket.IPPROTO_TCP, option, value)
        except (OSError, AttributeError):
            pass
        return self

    def set_no_delay(self, no_delay=True):
        """Node's ``socket.setNoDelay([noDelay])``: TCP_NODELAY on (or off)."""
        if self._sock.family != _UNIX and not self.destroyed:
            if self.connecting:
                self._no_delay_wanted = bool(no_delay)
            self._sock.setsockopt(_socket.IPPROTO_TCP, _socket.TCP_NODELAY, int(no_delay))
        return self

    def _set_wanted_options(self):
        """Connected: the options set while connecting, on the system socket that connected."""
        no_delay, keep_alive = self._no_delay_wanted, self._keep_alive_wanted
        self._no_delay_wanted = self._keep_alive_wanted = None
        if no_delay is not None:
            self.set_no_delay(no_delay)
        if keep_alive is not None:
            self.set_keep_alive(*keep_alive)

    _no_delay_wanted = None
    _keep_alive_wanted = None
