"""ClientResponse's ends the application asks for (client/response.py's class takes
them in): ``destroy()`` on the response, and the request's ``destroy()`` dumping it;
with them the abort (``mark_aborted``) and the drop of the kept chunks.

Rules: those of client/response.py (this is a part of that class, moved out for size):
- ``destroy()`` of a body not complete gives ``aborted`` at once and closes the socket;
  the parser completing the body in that same read still ends it (``end``), if it
  flows and no error was given, as Node's destroyed stream does; so does a destroy in
  a ``data`` listener with later chunks kept (they are dropped, unless it is paused
  there too: then no ``end``). Dropped chunks set ``body_lost``: ``read()`` raises.
  One destroyed whole and unread while it did not flow (paused, or not read yet) ends
  if it is resumed before its ``close`` (``resume()``, or the request's dump): Node's
  destroyed stream flows to its end until it has closed. Its kept chunks stay until
  that ``close`` (then they go, ``body_lost``): the resume gives them as ``data``, then
  ``end``. Whether it ends is decided as the resume's flow runs: paused again by then
  (``resume(); pause()``), no ``end``, until another resume before the ``close``.
- ``destroy(err)`` gives ``err`` to the request only when it destroys the socket
  (``socket_error``: Node's socket ``error``); after an ``abort()`` it is the response's alone.
- ``dump()`` (the request destroyed) drops the ``data`` listeners and lets the rest of
  the body flow to its end, as Node's ``_dump``.
"""

from ..http.errors import Aborted


class ResponseEnds:
    """``destroy()``, ``dump()`` and ``end_dumped()`` of ClientResponse."""

    def dump(self):
        """The request was destroyed: no more ``data`` (its listeners go), the rest of
        the body flows to its end (Node's ``_dump``)."""
        if not self._dumped:
            self._dumped = True
            self.remove_all_listeners("data")
            self.resume()

    _dumped = False

    socket_error = None  # the error destroy(err) destroyed the socket with (None: it was gone already)
    _end_on_resume = False  # destroyed complete and unread, not flowing, without an error: its chunks kept
    _end_resumed = False  # resumed so: the next flow ends it if it still flows (paused again: not)

    def end_resumed(self):
        """``resume()`` of a response destroyed complete while it did not flow: its ``end``
        comes (after an ``abort`` due), then its ``close``, unless the ``close`` came first."""
        self._end_on_resume = False
        if not self._closed:  # (the flow ends it only if it still flows then: client/response.py)
            self._end_after_abort = self._end_pending = self._end_resumed = True

    def end_repaused(self):
        """Resumed so, then paused again before its flow: no ``end`` (a resume before its
        ``close`` still ends it), ``close`` at the exchange's end."""
        self._end_resumed, self._end_on_resume = False, True
        self.end_dropped()

    def mark_aborted(self, keep=False):
        """The connection ended before the body did: ``aborted`` now (Node's order); the
        kept chunks go (``mark_dropped``) unless ``keep`` (a resume may still flow them)."""
        if not self.aborted:
            self.aborted = True
            if not self.destroy_called:  # the connection's end: destroyed with ECONNRESET "aborted"
                self._errored = Aborted()
            if not keep:
                self.mark_dropped()
            self.emit("aborted")

    def mark_dropped(self):
        """The chunks kept unread go (``body_lost``): a destroyed stream emits no more ``data``."""
        self._end_on_resume = False
        if self._kept:
            self.body_lost = True
        self._kept.clear()
        self._kept_size = 0

    def end_dumped(self):
        """A hand-over's response (ended at its head) that the request's ``destroy()`` in
        the listener dumped: ``end`` and ``close`` now (Node's resume of a complete one;
        one destroyed in the listener, or in the request's ``abort`` listener, too, as
        Node's destroyed stream still ends unless an error destroyed it)."""
        self._flowing = self._flowed = True
        try:
            if not self._ended and self.destroy_error is None:
                self._emit_end()
        finally:
            self.mark_closed()

    def end_dropped(self):
        """Destroyed and paused in a ``data`` listener with the rest of the body dropped:
        no ``end`` (Node's paused stream reads no more of it), ``close`` at the exchange's end."""
        self._end_after_abort = self._end_pending = False
        if self._close_due:
            self._close_due = False
            self.loop.call_soon(self.mark_closed)

    def destroy(self, error=None):
        """End the exchange from the response's side: the socket closes; a body not
        complete (or complete but unread) gives ``aborted``, with a given error the
        request's ``error`` and the response's (to a listener), ``close``, then the
        request's ``close``, as in Node. A response whose ``end`` came leaves the socket
        alone (it may serve the agent's next request), as Node's does; a given error is
        still emitted, before its ``close``."""
        if not self.destroy_called and not self._closed:
            self.destroy_called = True
            self.destroy_error = error
            socket = self.socket  # (the error its socket is destroyed with: the request's, as Node's socket 'error')
            self.socket_error = error if socket is not None and not socket.destroyed else None
            if not self.aborted and error is not None:
                self._errored = error
            self._destroy_error_due = error is not None
            if not self.complete:
                self.mark_aborted()  # at once, as Node's
                self.socket.destroy()
            elif not self._ended:
                # complete, not read to its end: aborted, its socket goes; 'end' still comes
                # when it flows (its chunks going out, the rest dropped) and no error was given
                flowing = (self._flowing and (self._flowed or not self._kept)) or self._end_queued
                last = self._end_after_abort = bool(flowing and self._end_pending and error is None)
                # paused (or not flowing yet): a resume before its 'close' (the request's
                # dump too) still ends it, as Node's flow of a destroyed stream
                self._end_on_resume = bool(not flowing and self._end_pending and error is None
                                           and self.socket is not None and not self.socket.destroyed)
                self._end_pending = last
                self._finished = None
                self.mark_aborted(keep=self._end_on_resume)  # (kept: a resume flows them, as Node's)
                if self.socket is not None:  # (None: an awaited whole body freed it for the agent)
                    self.socket.destroy()
                if self._close_due and not self._end_after_abort:  # (else it follows 'end')
                    self._close_due = False
                    self.loop.call_soon(self.mark_closed)
        return self
