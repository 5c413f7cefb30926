"""A connection's timers and idleness (a part of ``Connection``, which owns the state
these methods use).

Rules:
- The socket's idle timer is Node's ``socketOnTimeout``: the request (body not complete),
  the response on the socket and the server hear of it; nobody handling it destroys the
  socket. The keep-alive timer running out on a response still being flushed is no
  timeout: the connection is not idle, ``server.timeout`` applies until that
  response's ``finish`` and the keep-alive timer after it (``_now_idle``).
- After the peer's FIN what is pending may still be sent, for ``request_timeout`` (else
  ``keep_alive_timeout`` + 1 s); with neither the socket closes once flushed.
- A draining server's idle connections wait out their keep-alive timer (armed for one
  that never sent a byte); with keep-alive timing off they close now; one whose
  response is still flushing is looked at again at that response's ``finish``.
"""

import logging

log = logging.getLogger("prefork.server")


class Idling:
    """Connection's timer methods (mixed into ``Connection``)."""

    def _bound_half_close(self):
        """The peer has sent FIN: what is pending may still be sent, for a bounded time."""
        if self._half_close_timer is not None:
            return
        server = self.server
        if server.request_timeout and server.request_timeout > 0:
            bound = server.request_timeout
        elif server.keep_alive_timeout and server.keep_alive_timeout > -1.0:
            bound = server.keep_alive_timeout + 1.0
        else:
            self.socket.destroy_soon()
            return
        self._half_close_timer = self.socket.loop.call_later(bound, self._half_close_expired)

    def _half_close_expired(self):
        self._half_close_timer = None
        if not self.socket.destroyed:
            self.socket.destroy()

    def on_timeout(self):
        """The socket's idle timer ran out: Node's socketOnTimeout. True when it was the
        keep-alive timer running out on a response still being flushed to a slow
        reader: not idle yet (Node arms that timer at the response's 'finish'), so
        ``server.timeout`` applies until then and the keep-alive timer after it; the
        socket reports no timeout."""
        attached = self._attached
        if self._keep_alive_timer and attached is not None and not attached.writable_finished:
            server = self.server
            socket = self.socket
            if socket.timeout == server.keep_alive_timeout + 1.0:  # (not one a listener set since)
                self._keep_alive_timer = False
                socket.arm_timeout(server.timeout or 0)
                socket.after_flush(self._now_idle)
                return True
        req = self._req
        try:
            handled = req is not None and not req.complete and req.emit("timeout", self.socket)
            res = self.current_response  # (one still flushing too: Node's message on the socket)
            if res is not None and res.emit("timeout", self.socket):
                handled = True
            if self.server.emit("timeout", self.socket):
                handled = True
        except Exception:
            log.exception("error in a 'timeout' listener; closing the connection")
            handled = False
        if not handled:
            self.socket.destroy()
        return False

    def _now_idle(self):
        """The last response is finished, all its bytes in the kernel, where its keep-alive
        timer was left to start (a timeout in force meanwhile, or the timer ran out on the
        flush: see response_done, on_timeout) or a drain waited for it."""
        socket = self.socket
        if self._responses or self._keep_alive_timer or socket.destroyed or socket.protocol is not self:
            return
        server = self.server
        if server.draining:
            socket.loop.call_soon(self.drain)  # (once the response's 'finish' has run)
        elif server.keep_alive_timeout and server.keep_alive_timeout > -1.0:
            socket.arm_timeout(server.keep_alive_timeout + 1.0)
            self._keep_alive_timer = True

    def drain(self):
        """The server drains: an idle connection waits out its keep-alive timer (armed now
        for one that never sent a byte); with keep-alive timing off it closes now."""
        if not (self.idle or self.fresh) or self._keep_alive_timer:
            return
        if self.current_response is not None:
            self.socket.after_flush(self._now_idle)  # a response still flushing: at its 'finish'
            return
        timeout = self.server.keep_alive_timeout
        if timeout and timeout > -1.0:
            self.socket.arm_timeout(timeout + 1.0)
            self._keep_alive_timer = True
        else:
            self.socket.destroy()

    @property
    def idle(self):
        return not self.active and not self._responses
