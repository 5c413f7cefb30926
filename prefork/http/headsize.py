"""Node's ``max_header_size`` count of a head (or trailers) left open by a read (mixed
into ``llhttp.MessageParser``, which owns the state these methods use).

Rules:
- Node counts the field or value in progress at the end of a read too, and refuses the
  read that takes the count to the limit. A ``HeaderCounter`` (errors.py) is started
  (fed the head's bytes so far, then each read once) only once the count may reach the
  limit: the wire bytes reach it, and so do a head's count so far (exact up to the line
  before its last line end: httptools hands a field over once the next one starts) and
  the bytes after; or when the bytes kept of the head (diagnosis.py) would go with this
  read, whatever the limit: they are the counter's start.
- A head or trailers open after far more wire bytes than the limit (4 times, plus 64
  KiB) is refused in any case, so a client cannot make the parser buffer without bound.
"""

from .diagnosis import RETAIN_LIMIT
from .errors import ParseError, header_counter

# the trailers counted alone, after a head whose count restarts with them
_TRAILERS_HEAD = b"GET * HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n"


class HeadSize:
    """Mixed into ``MessageParser``: ``_head_size`` for each read of an open head (called
    before the read is kept) or of open trailers (``trailer_wire``: their reads so far)."""

    _size_counter = None  # the open head's HeaderCounter (False: none can be had)

    def _head_size(self, data, trailer_wire):
        """``data``, a read of the open head (or trailers), counted as Node counts it
        (module rules): HPE_HEADER_OVERFLOW once the count reaches the limit."""
        limit = self.max_header_size
        if limit <= 0:
            return
        wire = self._head_wire
        if wire == 0:
            self._size_counter = None  # a new head: its counter starts when needed
        wire += len(data)
        self._head_wire = wire
        if wire > 4 * limit + 65536:
            raise ParseError("HPE_HEADER_OVERFLOW", "Header overflow", len(data), data)
        retained = self._retained
        # the kept bytes of the head go with this read: its counter starts now, or never
        dropping = trailer_wire is None and retained is not None and self._retained_len + len(data) > RETAIN_LIMIT
        if wire < limit and not dropping and not self._size_counter:
            return
        counter = self._size_counter
        if counter is None:
            last = data.rfind(b"\n") if trailer_wire is None else -1
            before = data.rfind(b"\n", 0, last) if last > 0 else -1
            if before >= 0 and self._counted + len(data) - before - 1 < limit and not dropping:
                return  # (the count cannot reach the limit in this read: no counter yet)
            kind = self.kind
            if trailer_wire is not None:
                message = _TRAILERS_HEAD + b"".join(trailer_wire)
                kind = 1
            elif retained is not None:
                message = self._kept() + data  # from a message's start (``data`` not kept yet)
            else:
                message = None  # not kept: bounded by the wire alone
            counter = self._size_counter = False if message is None else header_counter(limit, kind) or False
            if not counter:
                return
            offset = counter.feed(message)
            prefix = len(message) - len(data)
        elif counter:
            offset = counter.feed(data)
            prefix = 0
        else:
            return
        if offset is not None:
            raise ParseError("HPE_HEADER_OVERFLOW", "Header overflow", max(0, offset - prefix), data)
