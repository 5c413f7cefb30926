"""The llhttp driver under the request and response parsers: httptools (llhttp, strict
mode) fed read by read, with Node's counts, offsets and limits.

Rules:
- llhttp's lenient flags are never enabled.
- The head is handed over once, complete: method, url, version, the raw header list
  (latin-1 ``str``), keep-alive and upgrade flags. Body chunks and the end follow.
- ``max_header_size`` counts as Node counts: the request-target plus every header name
  and value (trailers get a fresh budget); reaching the limit is HPE_HEADER_OVERFLOW.
  As in Node, the name or value still open at the end of a read counts too: once a head
  (or trailers) left open by a read could reach the limit (wire bytes, and the count plus
  what follows its last whole line; or its kept bytes would go: headsize.py), a
  ``HeaderCounter`` is fed its bytes, each once, and refuses the read that takes the
  count to the limit. A head or trailers open after far
  more wire bytes than the limit is refused the same way in any case, so a client
  cannot make the parser buffer without bound. The counts restart with every message,
  so a long pipeline is never mistaken for a long head.
- A read is handed to llhttp whole unless a head ends inside it (not at its end) or a
  chunked request body is in progress: then it is handed over in pieces that end where
  a head ends and where a chunk-size line ends, so the position of every chunk-size line
  is known without a second parse. A Content-Length body in such a read is one piece up
  to its end: a blank line inside it ends no head; so is the rest of a read inside a
  response body that runs to the connection's close. Line ends between messages (which
  llhttp skips) are one piece however many blank lines they hold: the pieces of a read
  are never more than its messages and chunk-size lines, whatever bytes a client sends.
- Chunk extensions are counted as Node counts them (the bytes of every extension name
  and value, per chunk-size line, flushed at the end of each read); more than 16 KiB is
  HPE_CHUNK_EXTENSIONS_OVERFLOW at Node's offset. The count is one incremental pass over
  each chunk-size line: the work is linear in the bytes received.
- A ``Content-Length`` value with a tab after it is refused (HPE_INVALID_CONTENT_LENGTH),
  as Node 20's llhttp refuses it. An HTTP/1.0 request whose only keep-alive token (in
  Connection or Proxy-Connection, which llhttp reads alike) is followed by a tab is not
  kept alive (Node ignores such a token); a later message on it is
  HPE_CLOSED_CONNECTION, as llhttp's own refusal.
- The bytes of a message that spans reads are kept (at most 256 KiB, small reads joined)
  for the diagnosis of a later error; its body bytes (a read that was all body, the chunk data
  ``ChunkLines`` found in a read) are kept as their length alone and replayed as that
  many zero bytes (llhttp reads no body byte): a body the app took holds no memory here.
- Errors surface as ``ParseError`` with Node's code; see ``errors.py``.
- ``fast_heads`` (the request parser's fast path, parser.py) is off for good once llhttp
  refused bytes or stopped at an upgrade, or a message was not kept alive.
- ``feed`` returns the offset where an upgrade or CONNECT left HTTP, else None.
- A read holding many messages is fed one message at a time; between two of them the
  handler's ``hold`` (when set) may stop the feed: the bytes not fed yet wait in
  ``held`` for the caller to feed later, so a pipelined flood in one read never makes
  more messages than the handler takes.
- The handler gets ``on_headers``, ``on_body`` and ``on_message_complete``; its
  ``on_message_begin`` is optional: ``on_begin`` holds it (None: nothing is called at a
  message's first byte), and a handler may set ``on_begin`` later, e.g. to refuse any
  further message by raising from it.
"""

import re

import httptools

from .chunks import ChunkLines
from .diagnosis import Diagnosis
from .errors import ParseError
from .framing import chunked_last
from .headsize import HeadSize

_HEAD_END = b"\r\n\r\n"
_LINE_ENDS = re.compile(rb"[\r\n]+")


class MessageParser(HeadSize, Diagnosis):
    """The llhttp driver shared by ``RequestParser`` and ``ResponseParser`` (parser.py)."""

    kind = 1  # llhttp_type_t: 1 request, 2 response
    tracks_chunk_lines = False  # count chunk extensions and bound trailers (Node's limits)
    hold = None  # a callable: True stops the feed between two messages of one read
    held = b""  # the bytes of that read not fed yet (the caller feeds them later)
    _counting = True  # False: no head field fed now can reach the size limit (not counted)
    body_received = 0  # body bytes of the current message so far
    _body_kept = 0  # body_received when the message's last read was kept
    _declared = None  # the current message's Content-Length (0: none), once looked up

    def __init__(self, handler, max_header_size=16384):
        self._handler = handler
        self.on_begin = getattr(handler, "on_message_begin", None)  # called at a message's first byte
        self.max_header_size = max_header_size
        self.in_message = False
        self.headers_complete = False
        self._counted = 0
        self._raw = []
        self._trailers = None
        self._error = None
        self._retained = []
        self._retained_len = 0
        self._head_wire = 0
        self._piece = b""  # the bytes llhttp is executing (for offsets found in callbacks)
        self._body_lines = False  # a chunked head just ended: its chunk-size lines follow
        self._lines = None  # ChunkLines while a chunked request body is in progress, then
        # a list of the trailers' bytes while they span reads
        self.extension_bytes_scanned = 0  # chunk-size line bytes examined (linear in input)
        self._reusable = True  # False after a message that forbids reuse (llhttp refuses more)
        self._blank_connection = None  # {index in _raw: value} of Connection, TE values with trailing blanks
        self._close_after = False  # Node ends the connection after this message, llhttp does not
        # a request parser reads a read that is one whole common head without llhttp's
        # callbacks (parser.py): not once llhttp refused bytes, or refuses any more
        self.fast_heads = self.kind == 1
        self._parser = self._make_parser()

    def release(self):
        """The connection is gone: let go of llhttp's parser and of the handler (both
        refer back to this parser), so the connection's objects are freed when the last
        reference goes rather than by the cycle collector. Nothing is fed after this."""
        self._parser = None
        self._handler = None
        self.hold = None
        self.on_begin = None

    # -- feeding ------------------------------------------------------------------
    def feed(self, data):
        if self._lines is None:
            end = data.find(_HEAD_END) + 4
            if (end == len(data) or end == 3) and (self.headers_complete or not self.in_message) and \
                    not self._close_after:  # (after such a message: in pieces, see _closed)
                # the common case: no head ends inside the read and none spans into it,
                # so the read goes to llhttp whole (this is _feed_piece, inlined). A read
                # ending a head, shorter than the limit, holds no head past it: no count.
                self._counting = end == 3 or len(data) >= self.max_header_size
                if not self.in_message and self._reusable and self._retained_len:
                    self._retained = []
                    self._retained_len = 0
                self._piece = data
                try:
                    self._parser.feed_data(data)
                except httptools.HttpParserUpgrade as exc:
                    self._body_lines = False
                    self.fast_heads = False
                    return exc.args[0]
                except httptools.HttpParserError as exc:
                    raise self._error_for(exc, data, data, 0) from None
                if self.in_message:
                    self._message_spans_reads(data)
                    if self._body_lines:
                        self._start_lines(data, len(data))
                elif not self._reusable:
                    self._retain(data)  # llhttp now refuses more bytes: keep what led there
                elif self._retained_len:
                    self._retained = []  # a message that spanned reads ended: its bytes go
                    self._retained_len = 0
                    self._piece = b""
                return None
        return self._feed_pieces(data)

    def _feed_pieces(self, data, pos=0):
        """Feeds ``data`` from ``pos`` (between messages when not 0) in pieces."""
        self._counting = True
        size = len(data)
        while pos < size:
            overflow = None
            lines = self._lines
            trailers = False
            if lines is not None and lines.__class__ is not list:
                spans = [] if self._retained is not None else None
                end, overflow = lines.scan(data, pos, spans)
                self.extension_bytes_scanned += lines.take_scanned()
                if lines.done:
                    self._lines = None
                    trailers = overflow is None and lines.last
                if overflow is not None:
                    end = overflow
            else:
                end = -1
                spans = None
                if lines is None and self.in_message and self.headers_complete and not self._body_lines:
                    # a body of a known length: handed over whole up to its end (a blank
                    # line in it ends no head, and cutting there cost a call per line)
                    left = self._body_left()
                    if left:
                        end = min(size, pos + left)
                    elif self.kind == 2:
                        end = size  # a response body to the connection's close: no message follows
                if end < 0 and pos == 0 and self.in_message and not self.headers_complete and self._retained:
                    # a head end split between the last reads and this one
                    tail = self._kept(self._retained[-3:])[-3:]
                    found = (tail + data[:3]).find(_HEAD_END)
                    if found >= 0:
                        end = found + 4 - len(tail)
                if end < 0 and not self.in_message and data[pos] in b"\r\n":
                    # line ends between messages (llhttp skips them): one piece, however
                    # many blank lines they hold (not a piece per blank line)
                    end = _LINE_ENDS.match(data, pos).end()
                if end < 0:
                    found = data.find(_HEAD_END, pos)
                    end = size if found < 0 else found + 4
            if end > pos:
                piece = data if pos == 0 and end == size else data[pos:end]
                offset = self._feed_piece(piece, data, pos, spans)
                if offset is not None:
                    return offset
                if self._body_lines:
                    self._start_lines(data, end)
                elif trailers and self.in_message:
                    # the trailers are a head of their own, counted and bounded apart:
                    # ``_lines`` keeps their bytes while they span reads
                    self._lines = []
                    self._head_wire = 0
            if overflow is not None:
                raise ParseError("HPE_CHUNK_EXTENSIONS_OVERFLOW", "Chunk extensions overflow",
                                 overflow, data)
            pos = end
            if pos < size and not self.in_message and self.hold is not None and self.hold():
                self.held = data[pos:]  # the handler takes no more messages for now
                return None
        return None

    def _body_left(self):
        """Bytes of the current message's Content-Length body still to come, or 0 (none
        declared); the head's fields are looked through once a message, not once a read."""
        declared = self._declared
        if declared is None:
            declared = 0
            raw = self._raw
            for i in range(0, len(raw), 2):
                if len(raw[i]) == 14 and raw[i].lower() == "content-length":
                    value = raw[i + 1].strip()
                    declared = int(value) if value.isdigit() and value.isascii() else 0
                    break
            self._declared = declared
        return max(0, declared - self.body_received)

    def _start_lines(self, data, end):
        self._body_lines = False
        if self.in_message and (data[end - 4:end] == _HEAD_END or end < 4):
            self._lines = ChunkLines()

    def _feed_piece(self, piece, data, pos, spans=None):
        """Executes ``piece`` (``data[pos:...]``); offsets raised or returned are in
        ``data``, as are ``spans`` (where its chunk data lies, see ChunkLines.scan)."""
        if not self.in_message and self._reusable and self._retained_len:
            self._retained = []
            self._retained_len = 0
        self._piece = piece
        try:
            self._parser.feed_data(piece)
        except httptools.HttpParserUpgrade as exc:
            self._body_lines = False
            self.fast_heads = False
            return pos + exc.args[0]
        except httptools.HttpParserError as exc:
            raise self._error_for(exc, piece, data, pos) from None
        if self.in_message:
            try:
                self._message_spans_reads(piece, pos, spans)
            except ParseError as err:
                err.bytes_parsed += pos
                err.raw_packet = data
                raise
        elif not self._reusable:
            self._retain(piece)  # llhttp now refuses more bytes: keep what led there
        elif self._retained_len:
            self._retained = []  # a message that spanned reads ended: its bytes go
            self._retained_len = 0
            self._piece = b""
        return None

    def _error_for(self, exc, piece, data, pos):
        """The exception to raise for llhttp's ``exc`` while executing ``piece``."""
        self.fast_heads = False  # llhttp refuses every read from now on
        if isinstance(exc, httptools.HttpParserCallbackError):
            err = self._error
            if err is None:
                # the handler's own exception: hand it back unchanged
                return exc.__context__ or exc
            self._error = None
            if err.bytes_parsed is None:
                err.bytes_parsed = self._overflow_offset(piece)
        else:
            err = self._diagnose(exc, piece)
        err.bytes_parsed += pos
        err.raw_packet = data
        return err

    def _message_spans_reads(self, data, pos=0, spans=None):
        """``data`` was fed from ``pos`` of the read (``spans``: where in the read the
        chunk data of a chunked body lay)."""
        received = self.body_received
        if received - self._body_kept == len(data) and self.headers_complete:
            spans = [(pos, pos + len(data))]  # every byte of it went to on_body
        self._body_kept = received
        if spans and self._retained is not None:
            self._keep_body(data, pos, spans)
        elif self.headers_complete:
            self._retain(data)
        if not self.headers_complete:
            self._head_size(data, None)  # (before the read is kept: keeping it may drop what is kept)
            self._retain(data)
            if b"\t" in data:
                self._open_length_tab(data)
        elif self._lines.__class__ is list:  # trailers (small reads joined, as _retain joins them)
            lines = self._lines
            if lines and len(lines[-1]) + len(data) <= 4096:
                lines[-1] += data
            else:
                lines.append(data)
            self._head_size(data, lines)

    def finish(self):
        """The peer closed. httptools has no ``llhttp_finish``: this executes no bytes,
        which raises an error llhttp is already in and flushes an open body span (an
        empty ``on_body``); it does not complete the message, so the caller ends a
        close-delimited body itself."""
        try:
            self._parser.feed_data(b"")
        except httptools.HttpParserError as exc:
            self.fast_heads = False
            raise self._diagnose(exc, b"") from None

    # -- llhttp callbacks -------------------------------------------------------------
    def _count(self, n):
        self._counted += n
        if self.max_header_size > 0 and self._counted >= self.max_header_size:
            self._error = ParseError("HPE_HEADER_OVERFLOW", "Header overflow")
            raise self._error

    def on_message_begin(self):
        if self._close_after:
            self._closed()  # Node refuses a message after one it reads as the last (llhttp here did not)
        self.in_message = True
        self.headers_complete = False
        self.body_received = self._body_kept = 0
        self._declared = None
        self._counted = 0
        self._head_wire = 0
        self._raw = []
        self._trailers = None
        self._lines = None
        self._body_lines = False
        if self.on_begin is not None:
            self.on_begin()

    def _closed(self):
        """A message begins after one Node reads as the last: HPE_CLOSED_CONNECTION where
        Node's llhttp stops, one byte past the message's first (the line ends before it
        skipped; ``feed`` hands such a message's bytes over in pieces that end where it
        ends, so the next one starts its piece)."""
        piece = self._piece
        self._error = ParseError("HPE_CLOSED_CONNECTION", "Data after `Connection: close`",
                                 len(piece) - len(piece.lstrip(b"\r\n")) + 1)
        raise self._error

    def on_header(self, name, value):
        self._count(len(name) + len(value))
        # llhttp drops leading OWS; Node trims the trailing OWS itself
        stripped = value.rstrip(b" \t")
        if stripped is not value and not self.headers_complete and b"\t" in value:
            self._blank_after_value(name, value)
        pair = (name.decode("latin-1"), stripped.decode("latin-1"))
        if self.headers_complete:
            if self._trailers is None:
                self._trailers = []
            self._trailers += pair
        else:
            self._raw += pair

    def _blank_after_value(self, name, value):
        """A value followed by blanks that hold a tab: Node's llhttp reads some of those
        differently from httptools' llhttp (see docs/parser-notes.md)."""
        lowered = name.lower()
        if lowered == b"content-length":
            # Node's llhttp refuses a tab after the length (httptools' llhttp skips it)
            self._error = ParseError("HPE_INVALID_CONTENT_LENGTH", "Invalid character in Content-Length",
                                     self._value_tab_offset(name, value))
            raise self._error
        if lowered in (b"connection", b"proxy-connection", b"transfer-encoding"):  # (llhttp: the first two alike)
            if self._blank_connection is None:
                self._blank_connection = {}
            self._blank_connection[len(self._raw)] = value.decode("latin-1")

    def _node_keeps_alive(self):
        """Node's keep-alive for an HTTP/1.0-style head (minor or major 0) that llhttp here
        keeps alive: Node ignores a Connection (or Proxy-Connection, which llhttp reads
        alike) token followed by a tab."""
        raw = self._raw
        blank = self._blank_connection
        if blank is None and not any(len(raw[i]) in (10, 16) and "\t" in raw[i + 1]
                                     for i in range(0, len(raw), 2)):
            return True
        for i in range(0, len(raw), 2):
            if len(raw[i]) in (10, 16) and raw[i].lower() in ("connection", "proxy-connection"):
                value = raw[i + 1] if blank is None else blank.get(i, raw[i + 1])
                for token in value.split(","):
                    if token.lstrip(" \t").rstrip(" ").lower() == "keep-alive":
                        return True
        return False

    def on_body(self, body):
        self.body_received += len(body)
        self._handler.on_body(body)

    def on_message_complete(self):
        self.in_message = False
        self._counted = self._head_wire = 0  # (the trailers' counts: none between messages)
        self._lines = None
        self._body_lines = False
        self._blank_connection = None
        if not self._parser.should_keep_alive():
            self._reusable = False
            self.fast_heads = False
        trailers = self._trailers
        if trailers is not None:
            self._trailers = None
        self._handler.on_message_complete(trailers)

    def _after_head(self):
        self.headers_complete = True
        self._counted = 0
        if self.tracks_chunk_lines:
            raw = self._raw
            for i in range(0, len(raw), 2):
                if len(raw[i]) == 17 and raw[i].lower() == "transfer-encoding":
                    # llhttp: chunked when the last coding of the last field is chunked
                    self._body_lines = chunked_last((self._blank_connection or {}).get(i, raw[i + 1]))
