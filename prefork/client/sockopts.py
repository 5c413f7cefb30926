"""The client request's socket options: Node's ``req.setTimeout``, ``setNoDelay`` and
``setSocketKeepAlive`` (a part of ``ClientRequest``, which owns the state used here).

Rules:
- An option given before the request has its socket waits for it (a timeout is applied
  when the socket is assigned; no-delay and keep-alive once it has connected, as Node's
  ``_deferToConnect``: a socket still connecting may yet be another system socket).
- ``set_timeout``'s callback is a ``once`` listener of the request's ``timeout``, added
  at the call (Node's); the request's ``timeout`` comes once per request
  (``socket_timed_out``), the response's at each idle period. Once the response has
  ended ``set_timeout`` does nothing: the socket may serve another request by then.
"""


class SocketOptions:
    """Mixed into ``ClientRequest``."""

    def set_timeout(self, seconds, callback=None):
        """Node's ``req.setTimeout(ms[, callback])``: the socket's idle timeout, whose
        ``timeout`` comes here. Once the response has ended it does nothing, as in Node:
        the socket may serve another request by then."""
        if self._response_ended:
            return self
        if callback is not None:
            self.once("timeout", callback)  # now, in the order of the calls (Node's)
        if self.socket is None:
            self._timeout_pending = (seconds, None)
        else:
            self._apply_timeout(seconds, None)
        return self

    def socket_timed_out(self):
        """The socket's idle timeout (called by the protocol): the request's ``timeout``,
        once per request as Node's (its response's ``timeout`` comes at each)."""
        if not self._timeout_told:
            self._timeout_told = True
            self.emit("timeout")

    _timeout_told = False

    def set_no_delay(self, no_delay=True):
        """Node's ``req.setNoDelay([noDelay])``: TCP_NODELAY on the request's socket, once
        it has connected."""
        self._when_connected(lambda socket: socket.set_no_delay(no_delay))

    def set_socket_keep_alive(self, enable=False, initial_delay=0):
        """Node's ``req.setSocketKeepAlive([enable][, initialDelay])``, the delay in
        seconds: TCP keep-alive probes on the request's socket, once it has connected."""
        self._when_connected(lambda socket: socket.set_keep_alive(enable, initial_delay))

    def _when_connected(self, call):
        """``call(socket)`` once this request's socket is there and connected (Node's
        ``_deferToConnect``): a socket still connecting may yet be another system
        socket (a name's next address), with the connect's own options."""
        def on_socket(socket):
            if socket.connecting:
                socket.once("connect", lambda: call(socket))
            else:
                call(socket)
        if self.socket is None:
            self.once("socket", on_socket)
        else:
            on_socket(self.socket)

    def _apply_timeout(self, seconds, callback):
        self._timeout_pending = None
        if callback is not None:
            self.on("timeout", callback)
        self.socket.set_timeout(seconds)
