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
- A body chunk of ``SHARED`` bytes or more (a body cached in memory) goes to the socket
  as its own queued piece, the application's bytes object itself (with chunked framing
  its size line and CRLF are pieces of their own), so N slow readers of one cached body
  cost N small heads, not N copies of it (a ``bytearray`` or ``memoryview`` is made
  ``bytes`` once: what the application changes after writing is not sent). Below that the head, framing and body are
  joined into one ``bytes`` (one send: copying up to 64 KiB costs less than gathering,
  and a slow reader holds at most about what the kernel's own send buffer does).
"""

from ..emitter import drained
from ..http import framing, serialize


SHARED = 64 * 1024  # a body chunk this large is sent as it is, never joined (module rules)
_LAST_CHUNK = framing.LAST_CHUNK


class WritableState:
    """Mixed into ``ServerResponse``: the state it reads lives in the response's slots."""

    __slots__ = ()

    errored = None  # Node's ``errored``: the error given to ``destroy(err)`` (set on the instance then)

    def _body_bytes(self, data, end):
        """The bytes of a body chunk (and the head not out yet, the last chunk at ``end``):
        one ``bytes``, or a list of pieces when the chunk is ``SHARED`` or larger."""
        parts = []
        if not self.head_out:
            self.head_out = True
            parts.append(self._head)
        size = 0
        if data and self._has_body:
            size = len(data)
            self.bytes_sent += size
            if size >= SHARED:
                data = bytes(data)  # (a bytearray or memoryview once: the app may reuse its own)
            if self._chunked:
                self._tail = size
                if size < SHARED:
                    chunk = framing.chunk(data)
                    self._framing += len(chunk) - size
                    parts.append(chunk)
                else:
                    line = b"%x\r\n" % size
                    self._framing += len(line) + 2
                    parts += (line, data, b"\r\n")
            else:
                parts.append(data)
        if end and self._chunked:
            parts.append(_LAST_CHUNK if self._trailers is None else b"0\r\n%b\r\n" % self._trailers)
        if len(parts) == 1:
            return parts[0]
        return b"".join(parts) if size < SHARED else parts

    def _send(self, data):
        """Hand ``data`` (bytes, or ``_body_bytes``' pieces) on: to the socket, or held
        while the response waits its turn. False past the high-water mark."""
        if data.__class__ is list:
            return self._send_parts(data)
        if self._active:
            self._socket.send_bytes(data)
            return self._socket.buffered_size < self._socket.high_water_mark
        if self._queued is None:
            self._queued = [data]
            self._queued_size = len(data)
        else:
            self._queued.append(data)
            self._queued_size += len(data)
        return self._queued_size < self._socket.high_water_mark

    def _send_parts(self, parts):
        """``_send`` of pieces, each queued as it is (a large body is never copied; a
        queue of them is sent gathered). No flush of the socket's own here: its
        ``drain`` and callbacks come as for one ``send_bytes``, never inside the call."""
        if self._active:
            socket = self._socket
            for part in parts:
                socket.send_bytes(part)
            return socket.buffered_size < socket.high_water_mark
        if self._queued is None:
            self._queued = []
            self._queued_size = 0
        self._queued += parts
        self._queued_size += sum(map(len, parts))
        return self._queued_size < self._socket.high_water_mark

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
