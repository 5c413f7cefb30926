"""Where the responses cut by a connection's end are told among its socket's ``close``
listeners: Node's response listens to its socket's ``close`` from the start of its turn
on the socket, so a listener added before (in a ``connection`` listener, by an earlier
request, by a request waiting behind the one on the socket) hears the close first, and
one added in its turn hears it after the response's ``close``.

Rules:
- A response counts its socket's ``close`` listeners as its turn begins (``close_mark``):
  at once for the first in line, else when the one just before it finishes (Node
  assigns the socket then, not when that one ended).
- When the connection goes with responses cut, their ``close`` is told by a listener
  (``_closing_cut``) put in the place of the response then on the socket (Node's
  ``_httpMessage``: the first not finished): after that many of the listeners, those
  after it taken off and put back behind it. The connection's own first listener
  (lost.py) is not counted.
"""


class ClosePlace:
    """A mixin of ``Connection`` (through ``ConnectionLost``)."""

    _cut = None  # the responses cut: their requests' 'aborted' told first, their 'close' later

    def mark_turn(self, res):
        """``res``'s turn on the socket begins: now, or at the ``finish`` of the response
        just before it when that one is still going out (before that one's own
        ``finish`` listeners, as Node's server gives the socket to the next response)."""
        ahead = self._attached  # (the one ended last, before res)
        if ahead is None or ahead is res or ahead.writable_finished:
            res.close_mark = self.socket.listener_count("close")
            return

        def turn():
            res.close_mark = self.socket.listener_count("close")
        ahead.prepend_once_listener("finish", turn)

    def place_cut(self, responses):
        """``_closing_cut`` among the socket's ``close`` listeners, in the place of the
        response the socket held (Node's ``_httpMessage``: the first of ``responses``,
        the connection's in their order, not finished), or last."""
        socket = self.socket
        later = ()
        current = next((res for res in responses if res is not None and not res.writable_finished), None)
        if current is not None:
            listeners = [listener for listener in socket.raw_listeners("close") if listener != self._closing_told]
            later = listeners[current.close_mark:]
        for listener in reversed(later):
            socket.off("close", listener)
        socket.on("close", self._closing_cut)
        for listener in later:
            socket.on("close", listener)

    def _closing_cut(self, _had_error=None):
        """The ``close`` of the responses cut, in their place among the socket's
        ``close`` listeners."""
        self.socket.off("close", self._closing_cut)
        cut, self._cut = self._cut, None
        for res in cut or ():
            res.tell_close()
