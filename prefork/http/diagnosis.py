"""Where a message llhttp refused went wrong, said as Node says it: the parser's
diagnosis of its errors (mixed into ``llhttp.MessageParser``), from the bytes of the
message it kept.

Rules:
- An error is replayed through a fresh llhttp over the message's bytes so far
  (errors.py's ``diagnose``) for Node's code, reason and offset; offsets are in the
  bytes being parsed when the error came.
- A tab after Content-Length digits is HPE_INVALID_CONTENT_LENGTH at the tab, as Node
  20's llhttp refuses it (httptools' llhttp skips it), in the read that holds the tab:
  also when that read ends the field's line or stops in it (httptools hands a field
  over only once the next one starts).
- A head over ``max_header_size`` before the bad byte is refused for its size, as Node
  counts each name and value as it ends.
- The bytes kept (at most ``RETAIN_LIMIT``, then none): small reads joined into one
  object (a peer's tiny reads cost no object each), body bytes as their length alone.
"""

import re

from .errors import ParseError, code_from_reason, diagnose, header_overflow

RETAIN_LIMIT = 256 * 1024  # bytes kept for replaying a message that spans reads
_JOINED = 4096  # reads kept are joined up to this size (an object per tiny read costs far more than its bytes)
_HEAD_END = b"\r\n\r\n"
_CONTENT_LENGTH_TAB = re.compile(rb"^content-length:[ \t]*[0-9]+ *\t", re.I | re.M)
_LINE_BACK = 256  # bytes before a read in which a Content-Length field's line may start


def _content_length_tab(data, pos):
    """Node's llhttp stops at a tab after Content-Length digits (httptools' llhttp skips
    it and stops later, or not at all): the offset of the first such tab up to ``pos``."""
    head = data.rfind(_HEAD_END, 0, pos) + 1  # within the head that holds ``pos``
    found = _CONTENT_LENGTH_TAB.search(data, head, pos + 1)
    return None if found is None else found.end() - 1


class Diagnosis:
    """Mixed into ``MessageParser``: reads its kept bytes (``_retained``, where an int
    stands for that many body bytes, and ``_piece``)."""

    def eof_error(self):
        """The error for a peer FIN in the middle of a message (None between messages)."""
        if not self.in_message:
            return None
        return ParseError("HPE_INVALID_EOF_STATE", "Invalid EOF state", 0, None)

    def _retain(self, data):
        retained = self._retained
        if retained is not None:
            last = retained[-1] if retained else None
            if last.__class__ is bytes and len(last) + len(data) <= _JOINED:
                retained[-1] = last + data
            else:
                retained.append(data)
            self._retained_len += len(data)
            if self._retained_len > RETAIN_LIMIT:
                self._retained = None

    def _keep_body(self, data, pos, spans):
        """Keeps ``data`` (from ``pos`` of its read) with the body bytes in it, at
        ``spans`` of the read, kept as their length alone: llhttp reads no body byte, so
        a replay through zero bytes in their place goes as it went."""
        retained = self._retained
        at = pos
        for start, end in spans:
            if start > at:
                retained.append(data[at - pos:start - pos])
            if retained and retained[-1].__class__ is int:
                retained[-1] += end - start
            else:
                retained.append(end - start)
            at = end
        if at < pos + len(data):
            retained.append(data[at - pos:])
        self._retained_len += len(data)
        if self._retained_len > RETAIN_LIMIT:
            self._retained = None

    def refused_bytes(self, err):
        """The bytes read of the message ``err`` (a ParseError) refused, to the end of
        the read that held the error (None when they were not kept)."""
        if err.raw_packet is None:
            return None
        if not self.in_message:
            return err.raw_packet
        return None if self._retained is None else self._kept() + err.raw_packet

    def _kept(self, entries=None):
        """The kept bytes (of ``entries``, a tail of them): a read kept as its length
        alone (all body) is that many zero bytes."""
        entries = self._retained if entries is None else entries
        return b"".join(e if e.__class__ is not int else bytes(e) for e in entries)

    def _message_bytes(self, piece):
        """The retained bytes of the message so far, then ``piece`` (None if not kept)."""
        if self._retained is None:
            return None, 0
        prefix = self._retained_len
        return (self._kept() + piece if prefix else piece), prefix

    def _overflow_offset(self, data):
        offset = None
        joined, prefix = self._message_bytes(data)
        if joined is not None:
            offset = header_overflow(joined, self.max_header_size, self.kind)
            if offset is not None:
                offset = max(0, offset - prefix)
        return len(data) if offset is None else offset

    def _diagnose(self, exc, data):
        reason = str(exc.args[0]) if exc.args else ""
        code = offset = None
        joined, prefix = self._message_bytes(data)
        if joined is not None:
            result = diagnose(joined, self.kind)
            if result is not None and result[1] == reason:
                code, _, pos = result
                if pos is not None:
                    tab = _content_length_tab(joined, pos)
                    if tab is not None:
                        code, reason, pos = "HPE_INVALID_CONTENT_LENGTH", "Invalid character in Content-Length", tab
                    elif self.max_header_size > 0 and not self.headers_complete:
                        # Node counts each name and value as it ends: a head over the limit
                        # before the bad byte is refused for its size (httptools hands a
                        # field over only when the next one starts, too late here)
                        over = header_overflow(joined, self.max_header_size, self.kind)
                        if over is not None and over <= pos:
                            code, reason, pos = "HPE_HEADER_OVERFLOW", "Header overflow", over
                offset = None if pos is None else max(0, pos - prefix)
        return ParseError(code or code_from_reason(reason), reason, 0 if offset is None else offset, data)

    def _open_length_tab(self, data):
        """A read left a head open (``data``: its bytes fed last, already kept): a tab
        after Content-Length digits in the field still open at its end (httptools hands
        that field over only once the next one starts, with more bytes) is refused in
        this read, at the tab, as Node's llhttp refuses it. Only the read and the
        ``_LINE_BACK`` bytes before it are looked at (a head trickled in small reads
        costs linear work); a field's line that starts earlier is left to llhttp."""
        need = len(data) + _LINE_BACK
        parts = []
        whole = True  # the window holds the message from its start
        for entry in reversed(self._retained or ()):  # (its last entry ends with ``data``)
            if entry.__class__ is int:
                break
            parts.append(entry[-need:])
            need -= len(parts[-1])
            if need <= 0:
                whole = False
                break
        joined = b"".join(reversed(parts)) if parts else data
        tail = joined[-3:]  # (the field's line end, and the blank line's first byte)
        end = len(joined) - len(tail) + len(tail.rstrip(b"\r\n"))
        start = joined.rfind(b"\n", 0, end) + 1
        if start == 0 and not whole:
            return
        found = _CONTENT_LENGTH_TAB.match(joined, start, end)
        if found is not None:
            tab = found.end() - 1 - (len(joined) - len(data))
            if tab >= 0:  # (a tab in an earlier read was refused there)
                raise ParseError("HPE_INVALID_CONTENT_LENGTH", "Invalid character in Content-Length", tab, data)

    def _value_tab_offset(self, name, value):
        """Offset in the current piece of the first tab after header ``name``'s value."""
        joined, prefix = self._message_bytes(self._piece)
        if joined is None:
            return 0
        stripped = value.rstrip(b" \t")
        start = 0
        while True:
            at = joined.find(b"\n" + name + b":", start)
            if at < 0:
                return len(self._piece)
            start = at + len(name) + 2
            while joined[start:start + 1] in (b" ", b"\t"):
                start += 1
            if joined.startswith(value, start):
                tab = joined.find(b"\t", start + len(stripped))
                return max(0, tab - prefix)
