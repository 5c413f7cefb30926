"""What Node runs on its next tick while its parser reads on (a part of ``Connection``,
which owns the state these methods use).

Rules:
- Node's parser calls into JavaScript for each body chunk, for trailers and for each 32
  fields of a head that has 32 or more, and runs its queued ticks after each call. At
  those points (``_parser_called``) of a read: a response ended earlier in it goes out and
  finishes (``_flush_ended``), then the ``close`` of a request read to its end comes
  (and a response its listeners end goes out and finishes in turn), so the bytes parsed
  next (a pipelined request) find both done, as in Node.
- A request read to its end has its ``close`` queued here (``close_next_tick``): it comes
  at the first of those points, or on the next loop turn, once.
"""


class NextTicks:
    """Connection's next-tick methods (mixed into ``Connection``)."""

    _tick_closes = None  # requests read to their end whose 'close' is still to come

    def close_next_tick(self, req):
        """``req`` was read to its end: its ``close`` (Node's autoDestroy, a tick later)
        comes at the parser's next call into JavaScript in this read, else on the next
        loop turn."""
        ticks = self._tick_closes
        if ticks is None:
            ticks = self._tick_closes = []
        ticks.append(req)
        self.socket.loop.call_soon(self._tick_close, req)

    def _tick_close(self, req):
        ticks = self._tick_closes
        if ticks and req in ticks:  # (not told already at a parser's call)
            ticks.remove(req)
            req.tell_closed()

    def _parser_called(self):
        """Node's parser called into JavaScript (module rules): what its ticks hold runs now."""
        attached = self._attached
        if attached is not None and not attached.writable_finished:
            self._flush_ended()
        if self._tick_closes:
            ticks, self._tick_closes = self._tick_closes, None
            for req in ticks:
                req.tell_closed()
            attached = self._attached  # (a response ended by a 'close' listener goes out too)
            if attached is not None and not attached.writable_finished:
                self._flush_ended()

    def _flush_ended(self):
        """A response ended earlier in this read goes out and finishes now. Node's parser
        runs its queued writes and 'finish' after each call into JavaScript, so the
        bytes parsed next no longer find that response on the socket (a malformed
        request then gets its error reply after it; a later request's 'request' comes
        after its 'finish')."""
        socket = self.socket
        if not socket.destroyed:
            socket.uncork()
            socket.cork()
