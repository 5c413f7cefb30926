"""Which response holds a connection's socket (a part of ``Connection``, which owns the
state these methods read: its queue of responses, the last ended one and those still
flushing before it).

Rules:
- The response on the socket is Node's socket's ``_httpMessage``: the last ended
  response while it is not finished, else the first waiting its turn (``holds_socket``
  asks whether a response may write now: none still flushing ahead of it).
- A response's ``prefinish`` comes once every response ahead of it has finished,
  before that one's own ``finish`` listeners (Node gives it the socket then).
"""


class OnSocket:
    """Connection's methods on the response that holds the socket (mixed into ``Connection``)."""

    def prefinish(self, res):
        """Node's ``prefinish`` of ``res``, ended, its bytes all handed to the socket: now
        when it holds the socket, else once the one ahead of it finishes, before that
        one's own ``finish`` listeners (Node gives ``res`` the socket then)."""
        ahead = None
        for earlier in (*(self._unflushed or ()), self._attached):
            if earlier is res:
                break
            if earlier is not None and not earlier.writable_finished:
                ahead = earlier
        if ahead is None:
            res.emit("prefinish")
        else:
            ahead.prepend_once_listener("finish", lambda: res.emit("prefinish"))

    def holds_socket(self, res):
        """``res`` (active, not finished) is the first response not yet finished: Node's
        ``socket._httpMessage``, the one whose ``socket`` is set."""
        for earlier in self._unflushed or ():
            if not earlier.writable_finished:
                return earlier is res
        attached = self._attached
        return attached is None or attached is res or attached.writable_finished

    @property
    def current_response(self):
        """The response on the socket (Node's ``socket._httpMessage``): one ended but not
        yet finished stays there, ahead of those waiting their turn."""
        attached = self._attached
        if attached is not None and not attached.writable_finished:
            return attached
        return self._responses[0] if self._responses else None
