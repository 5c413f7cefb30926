"""When a server's ``close`` comes, and the closes of its connections it makes (a part
of ``Server``, which owns the state used here).

Rules:
- ``close`` is emitted once the server is closing (``close()``, ``drain()``) and every
  connection it tracks has ended (hand-offs included), on a later loop turn: as Node's
  (its next tick), before the close turn of any socket gone after ``close()`` (the first
  whose ``close`` is still to come), so ``server.close(); server.close_all_connections()``
  in a request listener tells the server's ``close`` before any socket's ``close``
  (``close_all_connections()`` before ``close()``: after them, where Node's is first). A
  ``close`` listener that raises there is reported as one raising on its own turn (the
  loop's exception handler); the socket's own ``close`` listeners still run.
- ``close_idle_connections()`` destroys the connections between requests (and those
  that never sent a byte); ``close_all_connections()`` destroys every HTTP connection.
"""

from weakref import ref


class ServerClosing:
    """Mixed into ``Server``."""

    _gone = None  # (closing) a weak reference to the first socket gone whose close turn is to come

    def connection_closed(self, conn, socket=None):
        """The protocol's socket closed (called by ``Connection``, with that ``socket``)."""
        self._connections.discard(conn)
        if self._close_pending:
            if socket is not None:
                gone = self._gone and self._gone()
                if gone is None or gone.protocol is None:  # (None once its close turn came)
                    self._gone = ref(socket)
            self._maybe_emit_close()

    def _maybe_emit_close(self):
        """``close`` on the next turn; as Node's (its next tick), before the close turn of
        any socket gone before (``close_all_connections()`` in a request listener)."""
        if self._close_pending and not self._connections and not self._detached:
            self._close_pending = False
            gone = self._gone and self._gone()
            self._gone = None
            if gone is not None and gone.protocol is not None and gone.destroyed:
                closing = [True]

                def emit(_had_error=None):
                    if closing:
                        closing.clear()
                        try:
                            self.emit("close")
                        except Exception as exc:  # (raised as from its own turn: the socket's listeners still run)
                            self.loop.call_exception_handler({"message": "error in a server 'close' listener",
                                                              "exception": exc})
                gone.prepend_once_listener("close", emit)
                self.loop.call_soon(emit)  # (in case a listener of that socket took this one off)
            else:
                self.loop.call_soon(self.emit, "close")

    def close_idle_connections(self):
        for conn in list(self._connections):
            if conn.idle:
                conn.socket.destroy()

    def close_all_connections(self):
        for conn in list(self._connections):
            conn.socket.destroy()
