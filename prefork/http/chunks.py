"""Where the chunk-size lines of a chunked body are, and how big their extensions are.

Rules:
- Fed the body's bytes in order (any split), it walks chunk-size lines
  and skips chunk data (and its CRLF) without looking at it: the work is linear in the
  bytes received and constant per chunk. A size's leading zeros (llhttp takes any
  number) are skipped as one run, and past them a size has at most 16 digits before it
  overflows, so no line costs a step per byte in Python.
- A line that lies whole in the read is jumped over with one regex match (not a step
  per name, ``;``, ``=`` or value), its extension bytes counted at once: a line with
  extensions costs what one without costs. Of a line the read cuts, the extensions
  whole in the read (from a name on) are one match too; only the one the read cuts is
  walked. A line whose extensions would pass the limit is walked span by span, so the
  overflow's offset is the walk's.
- Extensions are counted as Node counts them: llhttp reports every extension name and
  value as a span (a value's quotes included, the ``;`` and ``=`` between them not), a span
  is reported when it ends or when a read ends inside it, and Node refuses a chunk once
  the spans of its line add up to more than 16 KiB. The offset of that error is the byte
  after the one that ended the span, or the end of the read.
- Only grammar llhttp accepts is followed. On anything else the walk stops (``done``):
  llhttp refuses those bytes itself, with its own error.
- The line of the last chunk (size 0) ends the walk; trailers are a head, not lines.
- Asked to (``spans``), a walk lists where the chunk data it skipped lies (its CRLF not
  included): the bytes llhttp hands to ``on_body`` without reading them.
"""

import re

CHUNK_EXTENSIONS_LIMIT = _LIMIT = 16 * 1024  # Node's kMaxChunkExtensionsSize

_SIZE, _NAME, _VALUE_START, _VALUE, _QUOTED, _ESCAPED, _AFTER_QUOTE, _CR = range(8)
_PLAIN_END = re.compile(rb'[;="\\\r\n]')  # ends a name or an unquoted value
_QUOTED_END = re.compile(rb'["\\\r\n]')
_EXT = (rb'(?>[^;="\\\r\n]*'  # a name, then maybe = and a quoted or plain value
        rb'(?:=(?:"(?:[^"\\\r\n]|\\[\x00-\xff])*"|[^;="\\\r\n]*))?)')
_LINE = re.compile(rb"(?>0*([0-9a-fA-F]{1,16}))((?:;" + _EXT + rb")*+)\r\n")  # a whole size line
_EXTS = re.compile(rb"(?:" + _EXT + rb";)*+(?:" + _EXT + rb"(\r\n))?")  # from a name on
_QUOTED_VALUE = re.compile(rb'"(?:[^"\\\r\n]|\\[\x00-\xff])*"')
_HEX = {c: int(chr(c), 16) for c in b"0123456789abcdefABCDEF"}
_ZEROS = re.compile(rb"0*")
_SIZE_CAP = 1 << 64  # llhttp refuses sizes past this; so do we (by stopping)


class ChunkLines:
    __slots__ = ("done", "last", "_remaining", "_state", "_size", "_counted", "_span", "_scanned")

    def __init__(self):
        self.done = False
        self.last = False  # done at the last chunk's line (not at an error)
        self._remaining = 0  # chunk data plus its CRLF still to skip
        self._state = _SIZE
        self._size = 0
        self._counted = 0  # extension bytes of this line already reported
        self._span = 0  # bytes of the span in progress not yet reported
        self._scanned = 0

    def take_scanned(self):
        """Bytes of chunk-size lines examined since the last call."""
        n, self._scanned = self._scanned, 0
        return n

    def scan(self, data, pos, spans=None):
        """Walks ``data[pos:]``. Returns ``(end, overflow)``: ``end`` is where the walk
        stopped (the end of ``data``, or just after the last chunk's line), ``overflow``
        the offset of Node's HPE_CHUNK_EXTENSIONS_OVERFLOW in ``data`` or None. A list
        ``spans`` gets the ``(start, end)`` in ``data`` of each run of chunk data skipped."""
        size = len(data)
        start = pos
        fast = True  # False once a line's extensions overflow: it is walked to the offset
        while pos < size:
            if self._remaining:
                step = min(self._remaining, size - pos)
                if spans is not None and self._remaining > 2:
                    spans.append((pos, pos + min(step, self._remaining - 2)))
                self._remaining -= step
                start += step
                pos += step
                continue
            state = self._state
            if fast and state == _SIZE and self._size == 0:
                line = _LINE.match(data, pos)
                if line is not None:
                    exts, end = line.span(2)  # (a line no longer than the limit is not counted)
                    if end - exts <= _LIMIT or _counted(data, exts, end) <= _LIMIT:
                        pos = line.end()
                        chunk = int(line.group(1), 16)
                        if chunk == 0:
                            self.done = self.last = True
                            self._scanned += pos - start
                            return pos, None
                        self._remaining = chunk + 2
                        continue
                    fast = False
            elif fast and state == _NAME:
                found = _EXTS.match(data, pos)
                stop = found.end()
                if stop > pos:
                    ended = found.start(1)  # the line's CRLF, or -1
                    counted = self._counted + _counted(data, pos, stop if ended < 0 else ended)
                    if counted <= _LIMIT:
                        self._counted = counted
                        pos = stop
                        if ended >= 0 and self._line_end(pos, start):
                            return pos, None
                        continue
                    fast = False
            if state == _NAME or state == _VALUE or state == _QUOTED:
                found = (_QUOTED_END if state == _QUOTED else _PLAIN_END).search(data, pos)
                stop = size if found is None else found.start()
                self._span += stop - pos
                pos = stop
                if pos == size:
                    break
            if state == _SIZE and self._size == 0:
                # leading zeros change no size: a run of them is skipped at once
                pos = _ZEROS.match(data, pos).end()
                if pos == size:
                    break
            byte = data[pos]
            pos += 1
            if state == _SIZE:
                digit = _HEX.get(byte)
                if digit is not None:
                    self._size = self._size * 16 + digit
                    if self._size >= _SIZE_CAP:
                        return self._stop(pos, start)
                elif byte == 0x3B:  # ;
                    self._state = _NAME
                elif byte == 0x0D:
                    self._state = _CR
                else:
                    return self._stop(pos, start)
            elif state == _NAME or state == _VALUE:
                if byte == 0x3B or byte == 0x0D or (byte == 0x3D and state == _NAME):  # ; CR =
                    if self._report(pos):
                        return self._overflow(pos, start)
                    self._state = _NAME if byte == 0x3B else _CR if byte == 0x0D else _VALUE_START
                else:
                    return self._stop(pos, start)
            elif state == _VALUE_START:
                if byte == 0x22:  # "
                    self._span = 1
                    self._state = _QUOTED
                else:
                    pos -= 1
                    self._state = _VALUE
            elif state == _QUOTED:
                if byte == 0x22:
                    self._span += 1
                    if self._report(pos):
                        return self._overflow(pos, start)
                    self._state = _AFTER_QUOTE
                elif byte == 0x5C:  # backslash
                    self._span += 1
                    self._state = _ESCAPED
                else:
                    return self._stop(pos, start)
            elif state == _ESCAPED:
                self._span += 1
                self._state = _QUOTED
            elif state == _AFTER_QUOTE:
                if byte == 0x3B:
                    self._state = _NAME
                elif byte == 0x0D:
                    self._state = _CR
                else:
                    return self._stop(pos, start)
            else:  # _CR
                if byte != 0x0A:
                    return self._stop(pos, start)
                if self._line_end(pos, start):
                    return pos, None
        self._scanned += pos - start
        # the read ends: llhttp reports the span in progress
        if self._span and self._report(size):
            return size, size
        return size, None

    def _line_end(self, pos, start):
        """A chunk-size line ended at ``pos``; True when it was the last chunk's."""
        self._counted = 0
        self._state = _SIZE
        if self._size == 0:
            self.done = self.last = True
            self._scanned += pos - start
            return True
        self._remaining = self._size + 2
        self._size = 0
        return False

    def _report(self, pos):
        self._counted += self._span
        self._span = 0
        return self._counted > CHUNK_EXTENSIONS_LIMIT

    def _overflow(self, pos, start):
        self._scanned += pos - start
        self.done = True
        return pos, pos

    def _stop(self, pos, start):
        self._scanned += pos - start
        self.done = True
        return pos, None


def _counted(data, start, end):
    """The extension bytes Node counts in ``data[start:end]``, whole extensions (the
    ``;`` and ``=`` between names and values not counted, those in quoted values are)."""
    region = data[start:end]
    if 0x22 in region:  # "
        region = _QUOTED_VALUE.sub(b"", region)
    return end - start - region.count(b";") - region.count(b"=")
