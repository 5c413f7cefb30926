"""A response's writable-stream surface beyond write/end: Node's ``cork``/``uncork`` and
its ``writable*`` state (a part of ``ServerResponse``, which owns the state used here).

Rules (Node 20's ``OutgoingMessage``):
- ``cork()`` holds the response's writes in user space until as many ``uncork()``
  calls, or ``end()``, which releases every cork the response made (Node's end uncorks
  fully; so does a response cut short by a failing listener). Only the response's own
  corks are counted and released: the connection's are its own. After ``end()`` both
  do nothing. A response waiting its turn behind pipelined ones counts its corks and
  applies the ones still held when its turn comes.
- ``writable_corked`` is the number of corks held; ``writable_length`` the bytes
  written and not yet taken by the kernel (for a response waiting its turn, the bytes
  it holds); ``writable_high_water_mark`` the point where ``write()`` says False;
  ``writable_need_drain`` is True between a ``write()`` that said False and its
  ``drain``.
- ``await res.drain()`` (asyncio's ``writer.drain()``): see ``emitter.drained``.
- A write after ``end()`` (``_after_end``, for response.py's ``write`` and ``end``) is
  told as response.py's rules say: its callback, then ``ERR_STREAM_WRITE_AFTER_END``.
- ``chunked_encoding`` is Node's ``chunkedEncoding``: False until the head is fixed (or
  what the app set it to: Node's is a plain property), then whether it frames the body
  in chunks (an application ``Transfer-Encoding: chunked`` on a HEAD answer counts, as
  in Node: the head says it). Setting it never changes the framing.
- What went out of a response its connection cut (``unsent_body``): the bytes its
  socket never sent are the last written, its own up to its body and a chunked body's
  framing (counted in ``_framing`` as written; those of a chunked body not ended yet
  chunk by chunk from its last, taken for the size of every chunk in its tail), the rest
  the responses' before it.
"""

from ..emitter import drained
from ..http import framing, serialize


class WritableState:
    """Mixed into ``ServerResponse``: the state it reads lives in the response's slots."""

    __slots__ = ()

    errored = None  # Node's ``errored``: the error given to ``destroy(err)`` (set on the instance then)

    @property
    def destroyed(self):
        """The response is closed: done and gone, or its connection went (Node's ``destroyed``)."""
        return self._closed

    @property
    def connection(self):
        """Node's deprecated alias of ``socket`` (``req.connection.remoteAddress``)."""
        return self.socket

    @property
    def closed(self):
        """Node's ``closed``: from the response's ``close`` on (its ``destroyed``)."""
        return self._closed

    # Node 20's ``writable``: an own property of the response set true at its making and
    # never changed (a stream's legacy flag); ``writable_ended`` and ``destroyed`` say more
    writable = True
    writable_object_mode = False

    @property
    def chunked_encoding(self):
        """Node's ``chunkedEncoding``: the fixed head frames the body in chunks (a HEAD
        answer's head that says so too, though no chunk follows it)."""
        if self._chunked:
            return True
        if not self.headers_sent:
            return getattr(self, "_chunked_said", False)  # (a value the app set, until the head is fixed)
        if self._has_body or self.status_code in (204, 304):
            return False
        coding = self._headers.get("transfer-encoding") if self._headers else None
        return coding is not None and framing.is_chunked(coding[1])

    @chunked_encoding.setter
    def chunked_encoding(self, value):
        self._chunked_said = value  # Node's is a plain property: read back, the framing is the head's

    def unsent_body(self, unsent):
        """Of ``unsent`` bytes its socket never sent, the last of them this response's
        (written after those of the responses before it): (about how many of its body
        bytes are among them, a chunked body's framing taken in proportion; the bytes
        left for the responses before it)."""
        body = self.bytes_sent
        wire = body + self._framing
        mine = min(unsent, wire)
        size = self._tail
        if size and self._chunked and not self.writable_ended:  # (a stream cut between its writes)
            whole, part = divmod(mine, size + len(b"%x" % size) + 4)
            return min(body, whole * size + min(max(part - 2, 0), size)), unsent - mine
        return (mine * body // wire if wire else 0), unsent - mine

    @property
    def on_socket(self):
        """Its turn has come: what it writes goes to the socket (not queued behind an
        earlier response)."""
        return self._active

    def drain(self):
        """An awaitable: at once unless a ``write()`` said False, else at the response's
        ``drain``; raises ``PrematureClose`` if its connection goes first."""
        return drained(self)

    @property
    def finished(self):
        """``end()`` was called (Node's deprecated ``finished``)."""
        return self.writable_ended

    def cork(self):
        """Node's ``res.cork()`` (nothing once the response is ended)."""
        if not self.writable_ended:
            self._corks += 1
            if self._active:
                self._socket.cork()

    def uncork(self):
        """Node's ``res.uncork()``."""
        if self._corks and not self.writable_ended:
            self._corks -= 1
            if self._active:
                self._socket.uncork(True)

    def release_corks(self):
        """Every cork this response holds goes (at ``end()``, or when it is cut short)."""
        corks, self._corks = self._corks, 0
        socket = self._socket
        if self._active and not socket.destroyed:
            for _ in range(corks):
                socket.uncork(True)

    def apply_corks(self):
        """The response's turn has come: the corks it holds apply to the socket."""
        socket = self._socket
        for _ in range(self._corks):
            socket.cork()

    @property
    def writable_corked(self):
        return self._corks

    @property
    def writable_length(self):
        if self.writable_finished or self._closed:
            return 0
        if self._active:
            return self._socket.buffered_size
        return self._queued_size if self._queued else 0

    @property
    def writable_high_water_mark(self):
        return self._socket.high_water_mark

    @property
    def writable_need_drain(self):
        # (none once end() was called: no 'drain' comes then, as Node's getter says)
        return not self._closed and not self.writable_ended and self._conn.awaits_drain(self)

    def _after_end(self, callback, from_end=False):
        """A write after ``end()``: its callback, then maybe ``error`` (response.py's rules;
        Node checks ``destroyed`` as it emits it)."""
        if self._closed:
            if callback is not None and not from_end:
                self._when_flushed(callback)
            return
        err = serialize.HeaderError("ERR_STREAM_WRITE_AFTER_END", "write after end")
        finished = self.writable_finished
        told = []

        def report():
            if told or (not finished and getattr(self, "_finish_told", None) is False):
                return  # (told; or done at a destroy since, its 'finish' due first: this after it)
            told.append(True)
            if callback is not None:
                callback()
            if not ((finished and self._closed) or self.destroy_called):  # (Node checks ``destroyed``)
                self.emit("error", err)
        if not self.writable_finished:  # a 'finish' in this turn (all its listeners) first, then this, then the 'close'
            self.prepend_once_listener("close", report)
        self._socket.loop.call_soon(report)
