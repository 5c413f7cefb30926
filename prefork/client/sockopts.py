"""The client request's socket options: Node's ``req.setTimeout``, ``setNoDelay`` and
``setSocketKeepAlive`` (a part of ``ClientRequest``, which owns the state used here).

Rules:
- An option given before the request has its socket waits for it, and one given while
  its socket connects waits for the ``connect``, as Node's ``_deferToConnect`` (a socket
  still connecting may yet be another system socket) and ``setSocketTimeout``:
  ``set_timeout``'s idle timer does not count a slow connect (a SYN the peer's full
  backlog drops), while the ``timeout`` option's (and an agent's) is armed when the
  socket is assigned and counts the connect too, as Node's ``net.createConnection``.
- ``set_timeout``'s callback is a ``once`` listener of the request's ``timeout``, added
  at the call (Node's); the request's ``timeout`` comes once per request
  (``socket_timed_out``), the response's at each idle period. Once the response has
  ended ``set_timeout`` does nothing: the socket may serve another request by then; nor
  does the request hear its socket's timeout any more (a body still going out after an
  early answer that ends the connection), as Node's ``responseOnEnd``.
- The request hears its socket's idle timeout only when it asked for one (Node's
  ``listenSocketTimeout``): ``set_timeout`` called, the ``timeout`` option given, or an
  agent with a ``timeout``. A timeout set otherwise (``res.set_timeout``, the socket's
  own ``set_timeout``) gives no request ``timeout``, as in Node.
- A timeout (the ``timeout`` option, ``req.set_timeout``, ``res.set_timeout``) is a
  finite number of seconds >= 0, checked at once as Node's ``getTimerDuration``:
  another type (a bool, a str) is ERR_INVALID_ARG_TYPE (a TypeError), a negative, NaN
  or infinite one ERR_OUT_OF_RANGE (a ValueError); one past Node's timer limit
  (2**31 - 1 ms) is that limit, with a TimeoutOverflowWarning (a RuntimeWarning here).
  (Taken as given, one failed later inside the loop: the request never went out nor ended.)
"""

from ..net.timers import timer_seconds


class SocketOptions:
    """Mixed into ``ClientRequest``."""

    def set_timeout(self, seconds, callback=None):
        """Node's ``req.setTimeout(ms[, callback])``: the socket's idle timeout, whose
        ``timeout`` comes here. Once the response has ended it does nothing, as in Node:
        the socket may serve another request by then."""
        if self._response_ended:
            return self
        seconds = timer_seconds(seconds)
        self._timeout_listened = True
        if callback is not None:
            self.once("timeout", callback)  # now, in the order of the calls (Node's)
        if self.socket is None:
            self._timeout_pending = seconds
        else:
            self._when_connected(lambda socket: socket.set_timeout(seconds))
        return self

    def socket_timed_out(self):
        """The socket's idle timeout (called by the protocol): the request's ``timeout``,
        once per request as Node's (its response's ``timeout`` comes at each)."""
        if self._timeout_told or self._response_ended:
            return  # (after the response's end: Node's responseOnEnd stops listening, the body may still go out)
        if self._timeout_listened or self._timeout is not None or self.agent.socket_timeout:
            self._timeout_told = True
            self.emit("timeout")

    _timeout_told = False
    _timeout_listened = False  # set_timeout was called (Node's listenSocketTimeout)

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

    def _arm_timeout(self, socket, handed):
        """The idle timeout of the socket just assigned: the ``timeout`` option's (0 too:
        none, not the agent's) or the agent's at once, ``set_timeout``'s once connected."""
        pending, self._timeout_pending = self._timeout_pending, None
        if self._timeout is not None:
            socket.set_timeout(self._timeout)
        elif self.agent.socket_timeout:  # the agent's, on its sockets in use too (Node's)
            socket.set_timeout(self.agent.socket_timeout)
        elif handed:
            socket.set_timeout(0)  # the timeout of the request before is not this one's (Node clears it)
        if pending is not None:
            self._when_connected(lambda socket: socket.set_timeout(pending))
