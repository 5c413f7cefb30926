"""httptools (llhttp, strict mode) wrapped for the server and the client.

Rules:
- llhttp's lenient flags are never enabled.
- The head is handed over once, complete: method, url, version, the raw header list
  (latin-1 ``str``), keep-alive and upgrade flags. Body chunks and the end follow.
- ``max_header_size`` counts as Node counts: the request-target plus every header name
  and value (trailers get a fresh budget); reaching the limit is HPE_HEADER_OVERFLOW.
  A head still incomplete after far more wire bytes than that is refused the same way,
  so a slow client cannot make the parser buffer without bound.
- Errors surface as ``ParseError`` with Node's code; see ``errors.py``.
- ``feed`` returns the offset where an upgrade or CONNECT left HTTP, else None.
"""

import httptools

from .errors import ParseError, code_from_reason, diagnose, extensions_overflow, header_overflow

_RETAIN_LIMIT = 256 * 1024  # bytes kept for replaying a message that spans reads
_CHUNK_EXTENSIONS_LIMIT = 16 * 1024  # Node's kMaxChunkExtensionsSize
_BATCH = 31  # Node hands header pairs to JS in batches of 31 once a head has 32+


def node_raw_header_pairs(total, max_headers_count):
    """How many raw header pairs Node keeps for ``max_headers_count`` (None = default)."""
    max_entries = 2000 if max_headers_count is None else 2 * max_headers_count
    if total < _BATCH + 1 or max_entries <= 0:
        return total
    kept = 0
    remaining = total
    while remaining > 0:
        batch = _BATCH if remaining > _BATCH else remaining
        if kept * 2 < max_entries:
            kept += batch
        remaining -= batch
    return kept


def node_header_map_pairs(kept, max_headers_count):
    """How many of the kept pairs go into ``headers`` (the map)."""
    limit = 1000 if max_headers_count is None else max_headers_count
    return kept if limit <= 0 or kept < limit else limit


class _Parser:
    kind = 1  # llhttp_type_t: 1 request, 2 response

    def __init__(self, handler, max_header_size=16384):
        self._handler = handler
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
        self._chunked = False
        self._chunk_line = -1  # bytes of the current chunk-size line, -1 outside one
        self._reusable = True  # False after a message that forbids reuse (llhttp refuses more)
        self._parser = self._make_parser()

    # -- feeding ------------------------------------------------------------------
    def feed(self, data):
        if not self.in_message and self._reusable:
            if self._retained_len:
                self._retained = []
                self._retained_len = 0
            self._head_wire = 0
        if b";" in data and (self._chunked or b"chunked" in data.lower()) or self._chunk_line > 0:
            data = self._check_extensions(data)
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade as exc:
            return exc.args[0]
        except httptools.HttpParserCallbackError as exc:
            err = self._error
            if err is None:
                # the handler's own exception: hand it back unchanged
                raise (exc.__context__ or exc) from None
            self._error = None
            err.raw_packet = data
            if err.bytes_parsed is None:
                err.bytes_parsed = self._overflow_offset(data)
            raise err from None
        except httptools.HttpParserError as exc:
            raise self._diagnose(exc, data) from None
        if self.in_message:
            self._message_spans_reads(data)
        elif not self._reusable:
            self._retain(data)  # llhttp now refuses more bytes: keep what led there
        return None

    def _retain(self, data):
        if self._retained is not None:
            self._retained.append(data)
            self._retained_len += len(data)
            if self._retained_len > _RETAIN_LIMIT:
                self._retained = None

    def _check_extensions(self, data):
        """Node refuses a chunk whose extensions exceed 16 KiB; llhttp reports them only
        to callbacks httptools does not wire, so replay the message's bytes to find out.
        Parses up to the offending byte (events before it still fire), then raises."""
        if self._retained is None:
            return data
        prefix = self._retained_len
        offset = extensions_overflow(b"".join(self._retained) + data if prefix else data,
                                     _CHUNK_EXTENSIONS_LIMIT)
        if offset is None:
            return data
        offset = max(0, offset - prefix)
        err = ParseError("HPE_CHUNK_EXTENSIONS_OVERFLOW", "Chunk extensions overflow", offset, data)
        if offset:
            self._retained = None  # the prefix must not be checked again
            try:
                self.feed(data[:offset])
            finally:
                self._retained = []
                self._retained_len = 0
        raise err

    def _message_spans_reads(self, data):
        self._retain(data)
        limit = self.max_header_size
        if not self.headers_complete:
            self._head_wire += len(data)
            if limit > 0 and self._head_wire > 4 * limit + 65536:
                raise ParseError("HPE_HEADER_OVERFLOW", "Header overflow", len(data), data)
        elif self._chunked and self._chunk_line >= 0:
            newline = data.rfind(b"\n")
            self._chunk_line = (len(data) - newline - 1) if newline >= 0 else self._chunk_line + len(data)
            if self._chunk_line > _CHUNK_EXTENSIONS_LIMIT + 16:
                raise ParseError("HPE_CHUNK_EXTENSIONS_OVERFLOW", "Chunk extensions overflow",
                                 len(data), data)

    def _overflow_offset(self, data):
        offset = None
        if self._retained is not None:
            prefix = self._retained_len
            offset = header_overflow(b"".join(self._retained) + data if prefix else data,
                                     self.max_header_size)
            if offset is not None:
                offset = max(0, offset - prefix)
        return len(data) if offset is None else offset

    def _diagnose(self, exc, data):
        reason = str(exc.args[0]) if exc.args else ""
        code = offset = None
        if self._retained is not None:
            prefix = self._retained_len
            result = diagnose(b"".join(self._retained) + data if prefix else data, self.kind)
            if result is not None and result[1] == reason:
                code, _, pos = result
                offset = None if pos is None else max(0, pos - prefix)
        return ParseError(code or code_from_reason(reason), reason, 0 if offset is None else offset, data)

    def finish(self):
        """The peer closed: a close-delimited body ends here (llhttp's finish)."""
        try:
            self._parser.feed_data(b"")
        except httptools.HttpParserError as exc:
            raise self._diagnose(exc, b"") from None

    def eof_error(self):
        """The error for a peer FIN in the middle of a message (None between messages)."""
        if not self.in_message:
            return None
        return ParseError("HPE_INVALID_EOF_STATE", "Invalid EOF state", 0, None)

    # -- llhttp callbacks -------------------------------------------------------------
    def _count(self, n):
        self._counted += n
        if self.max_header_size > 0 and self._counted >= self.max_header_size:
            self._error = ParseError("HPE_HEADER_OVERFLOW", "Header overflow")
            raise self._error

    def on_message_begin(self):
        self.in_message = True
        self.headers_complete = False
        self._counted = 0
        self._raw = []
        self._trailers = None
        self._chunked = False
        self._chunk_line = -1
        self._handler.on_message_begin()

    def on_header(self, name, value):
        self._count(len(name) + len(value))
        # llhttp drops leading OWS; Node trims the trailing OWS itself
        pair = (name.decode("latin-1"), value.rstrip(b" \t").decode("latin-1"))
        if self.headers_complete:
            if self._trailers is None:
                self._trailers = []
            self._trailers += pair
        else:
            self._raw += pair

    def on_body(self, body):
        self._handler.on_body(body)

    def on_chunk_header(self):
        self._chunk_line = -1

    def on_chunk_complete(self):
        self._chunk_line = 0

    def on_message_complete(self):
        self.in_message = False
        self._chunk_line = -1
        if not self._parser.should_keep_alive():
            self._reusable = False
        self._handler.on_message_complete(self._trailers)

    def _after_head(self):
        self.headers_complete = True
        self._counted = 0
        raw = self._raw
        for i in range(0, len(raw), 2):
            if len(raw[i]) == 17 and raw[i].lower() == "transfer-encoding" and "chunked" in raw[i + 1].lower():
                self._chunked = True
                self._chunk_line = 0


class RequestParser(_Parser):
    kind = 1

    def _make_parser(self):
        return httptools.HttpRequestParser(self)

    def on_message_begin(self):
        self._url = b""
        super().on_message_begin()

    def on_url(self, url):
        self._count(len(url))
        self._url += url

    def on_headers_complete(self):
        self._after_head()
        parser = self._parser
        self._handler.on_headers(parser.get_method().decode("ascii"), self._url.decode("latin-1"),
                                 parser.get_http_version(), self._raw,
                                 parser.should_keep_alive(), parser.should_upgrade())


class ResponseParser(_Parser):
    kind = 2

    def _make_parser(self):
        return httptools.HttpResponseParser(self)

    def on_message_begin(self):
        self._status = b""
        super().on_message_begin()

    def on_status(self, status):
        self._status += status

    def on_headers_complete(self):
        self._after_head()
        parser = self._parser
        self._handler.on_headers(parser.get_status_code(), self._status.decode("latin-1"),
                                 parser.get_http_version(), self._raw,
                                 parser.should_keep_alive(), parser.should_upgrade())
