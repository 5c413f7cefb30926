"""The head of a ``ServerResponse``: its header fields, ``write_head``, the bytes of the
head once it is fixed (implicit, flushed, or replaced by an error answer's), trailers,
and the interim (1xx) heads.

Rules (Node's ``OutgoingMessage`` header API and ``_storeHeader``, spec §1):
- The fields and their API are http/fields.py's (shared with the client's request):
  kept by lower-case name with the first spelling given; once the head is fixed every
  change raises ``ERR_HTTP_HEADERS_SENT``, as in Node.
- ``write_head`` takes headers as a mapping (any, as Node takes any object), as
  ``[[name, value], ...]`` or as Node's flat raw list (whole pairs: an odd length is
  ``ERR_INVALID_ARG_VALUE``); in the array forms a repeated name gives one line per
  pair. ``write_head(code)`` keeps a ``status_message`` set before it (Node's ``||=``);
  a message given to it, even "", is the one sent. A ``write_head`` given a bad status
  or field leaves the status and fields as they were; one whose head cannot be fixed
  (ERR_HTTP_TRAILER_INVALID) keeps the status, and its fields only when fields were set
  before it (as Node's).
- Header order in the head: the application's fields in insertion order, then Date,
  Connection, Keep-Alive, then Content-Length or Transfer-Encoding. An application-set
  Connection, Content-Length, Transfer-Encoding or Keep-Alive stays where it is and
  suppresses the automatic one; ``should_keep_alive = False`` before the head is
  ``Connection: close`` and the connection closes after the response (Node's writable
  ``shouldKeepAlive``).
- The common head (no application field, a standard status, kept alive) comes whole
  from the server's ``HeadCache``; ``end_with`` answers with a ``HeaderBlock``'s
  fields the same way when it can, else as ``set_header`` per field and ``end``; its
  body of ``SHARED`` bytes or more leaves as the application's own bytes object, never
  joined to the head (a body cached for every client costs no copy each, writable.py).
- A bad status is refused before anything is fixed (``headers_sent`` stays False).
- An application ``Transfer-Encoding: chunked`` on a response without a body (HEAD)
  stays in the head, but no chunk, not even the last one, is sent (Node's framing).
- The head's text goes out as latin-1, except, as in Node (which joins the head to the
  first chunk it sends and writes both in that chunk's encoding), with a first ``str``
  chunk in ``utf8`` (or no encoding) on an unchunked body (``end(text)``, ``write(text)``
  under a Content-Length; an empty ``write("")`` on a chunked one), or from
  ``flush_headers()``: then as UTF-8 (``é`` in a field value or the status message is
  ``\xc3\xa9``). A bytes chunk, another encoding, a chunked chunk, ``end()`` or a
  response without a body send it as latin-1 (``\xe9``), and so does a head holding a
  field value given as bytes (those bytes are sent as given) or sent by ``send_head()``
  (the WSGI and ASGI adapters: the app's bytes as given).
- Interim responses (``write_continue``, ``write_processing``, ``write_early_hints``)
  have no Date and go out at once, in order with the response's other bytes; once the
  response is finished or closed they send nothing (the connection may carry the next
  response by then), and their callback does not run, as Node's.
- A ``Trailer`` field makes the body chunked even when its length is known; where it
  cannot be chunked (an application Content-Length, no body, an HTTP/1.0 peer) fixing
  the head raises ERR_HTTP_TRAILER_INVALID, as Node's ``_storeHeader`` throws. An
  application ``Transfer-Encoding: chunked`` lets it pass (a HEAD's too), but not on a
  204 or 304, whose chunking Node drops before that check.
- The server's ``reject_non_standard_body_writes`` reaches the events API's own
  ``write``/``end`` only: a response the WSGI or ASGI adapter answers (its head sent by
  ``send_head``, its answer by ``end_with``, replaced by ``reset_head``, or set by the WSGI
  head) drops a body it cannot have silently, as gunicorn and uvicorn do
  (``drop_body_writes``).
"""

from ..http import framing, serialize
from ..http.hints import early_hints
from .given import given_list as _given_list, given_pairs as _given_pairs
from ..http.fields import OutgoingFields
from .writable import SHARED

_NO_BODY = framing.NO_BODY_STATUSES
_STATUS_CODES = serialize.STATUS_CODES
_STATUS_BYTES = serialize.STATUS_BYTES


LENGTH_LINES = {}  # {length: b"Content-Length: <length>\r\n\r\n"} of the lengths answered (length_line)


def length_line(length):
    """The Content-Length line and the head's end for a body of ``length`` bytes, kept
    for the next body of that length (the first 4096 lengths seen: a bounded table)."""
    line = b"Content-Length: %d\r\n\r\n" % length
    if len(LENGTH_LINES) < 4096:
        LENGTH_LINES[length] = line
    return line


class OutgoingHead(OutgoingFields):
    """Mixed into ``ServerResponse``: the state it reads lives in the response's slots;
    the field API (``set_header`` and the rest) is http/fields.py's."""

    __slots__ = ()

    # True: a body chunk for a response without a body (HEAD, 1xx, 204, 304) is dropped
    # whatever reject_non_standard_body_writes says (an adapter's response)
    drop_body_writes = False

    def write_head(self, status_code, status_message=None, headers=None):
        if self.headers_sent:
            raise serialize.HeaderError("ERR_HTTP_HEADERS_SENT",
                                        "Cannot write headers after they are sent to the client")
        if not isinstance(status_message, str) and status_message is not None:
            headers, status_message = status_message, None
        # a message given here wins (even ""); else one set before (Node's ``||=``)
        message = status_message if status_message is not None else (self.status_message or None)
        status_code = serialize.checked_status(status_code, message)
        if headers:
            saved = None if self._headers is None else dict(self._headers)
            if not hasattr(headers, "keys"):
                headers = _given_list(headers)
            try:
                self.merge_fields(headers, replacing=saved is not None, spelled=True)
            except Exception:
                self._headers = saved  # a bad field leaves the head as it was
                raise
            if saved is None:
                self.__dict__["_head_pairs"] = _given_pairs(headers)
        self.status_code = status_code
        self.status_message = serialize.reason_phrase(status_code) if message is None else message
        if status_code in _NO_BODY:
            self._has_body = False
        if self.expect_continue:
            self.should_keep_alive = False
        try:
            self._store_head(None)
        except serialize.HeaderError:
            if headers and saved is None:
                # the fields given here were the head's only ones: not kept (Node keeps
                # writeHead's own fields only in the head it makes), so a retry without
                # them is free of them
                self._headers = None
                self.__dict__.pop("_head_pairs", None)
            raise
        return self

    def _check_body_allowed(self):
        """A body chunk for a response that has none (HEAD, 1xx, 204, 304), once its head
        is fixed: raises Node's ERR_HTTP_BODY_NOT_ALLOWED when the server's
        ``reject_non_standard_body_writes`` is on (read at the write, as Node reads the
        server's attribute); else the chunk is dropped, as Node's."""
        if self._conn.server.reject_non_standard_body_writes and not self.drop_body_writes:
            raise serialize.HeaderError(
                "ERR_HTTP_BODY_NOT_ALLOWED",
                "Adding content for this request method or response status is not allowed.")

    def _check_length(self, length, last):
        """``strict_content_length``: the body written so far plus ``length`` must not pass
        the application's Content-Length, and must equal it at the ``last`` write (Node's
        ERR_HTTP_CONTENT_LENGTH_MISMATCH, raised before the bytes are taken)."""
        declared = self._declared_length()
        written = self.__dict__.get("_strict_written", 0) + length
        if declared is not None and (written != declared if last else written > declared):
            raise serialize.HeaderError(
                "ERR_HTTP_CONTENT_LENGTH_MISMATCH",
                f"Response body's content-length of {written} byte(s) does not match the "
                f"content-length of {declared} byte(s) set in header")
        self.__dict__["_strict_written"] = written

    def _declared_length(self):
        """The application's Content-Length when it frames this body (no chunking, no
        Transfer-Encoding, a body at all), else None."""
        headers = self._headers
        entry = headers.get("content-length") if headers else None
        if entry is None or "transfer-encoding" in headers or self._chunked \
                or (self._removed is not None and "content-length" in self._removed) \
                or self.req.method == "HEAD" or self.status_code in _NO_BODY:
            return None
        try:
            return int(entry[1])
        except (TypeError, ValueError):
            return None

    def _store_head(self, content_length):
        """Fix the head; ``content_length`` is the whole body when known."""
        self.headers_sent = True
        conn = self._conn
        server = conn.server
        if server.draining:
            self.should_keep_alive = False
        status = self.status_code
        if self._headers is None and self.can_chunk and self.send_date and self._removed is None \
                and (self.status_message is None or self.status_message == _STATUS_CODES.get(status)):
            # the common head, nothing from the application: kept alive, or ending the
            # connection (the client asked, or the server drains); what the lines below make
            if not self.should_keep_alive:
                prefix = server.heads.closing_prefix(status)
            elif not self.max_requests_reached:
                prefix = server.heads.prefix(status, server.keep_alive_timeout, server.max_requests_per_socket)
            else:
                prefix = None
            if prefix is not None:
                self.status_message = _STATUS_CODES[status]
                if not self._has_body:
                    self._head = prefix + b"\r\n"
                elif content_length is not None:
                    self._head = b"%bContent-Length: %d\r\n\r\n" % (prefix, content_length)
                else:
                    self._head = prefix + b"Transfer-Encoding: chunked\r\n\r\n"
                    self._chunked = True
                if not self.should_keep_alive:
                    self.closes_connection = True
                    conn.head_fixed(self)
                return
        message = self.status_message
        if type(status) is not int or not 100 <= status <= 999 or \
                (message is not None and message != _STATUS_CODES.get(status)):
            status = self._checked_status(status)
        headers = self._headers
        if headers is not None and "trailer" in headers and not self._trailers_fit():
            # (after the status's own check, which comes first in Node too)
            self.headers_sent = False
            raise serialize.HeaderError("ERR_HTTP_TRAILER_INVALID",
                                        "Trailers are invalid with this transfer encoding")
        if self.status_message is None:
            self.status_message = serialize.reason_phrase(status)
        head = [serialize.status_line(status, self.status_message)]
        has_connection = has_length = has_te = has_date = has_keep_alive = False
        unique = self._conn.server.unique_headers
        if unique:
            unique = {name.lower() for name in unique}
        pairs = self.__dict__.get("_head_pairs") if headers is not None else None
        for key, (name, value) in (headers or {}).items() if pairs is None else pairs:
            head.append(serialize.header_lines(name, value, unique))
            if key == "connection":
                has_connection = True
                if framing.asks_close(value):
                    self.closes_connection = True
                elif self._conn.server.no_keep_alive:  # (the daemon's keep-alive off: it still closes)
                    self.closes_connection = True
                else:
                    self.should_keep_alive = True
            elif key == "content-length":
                has_length = True
            elif key == "transfer-encoding":
                has_te = True
                if framing.is_chunked(value):
                    self._chunked = True
            elif key == "date":
                has_date = True
            elif key == "keep-alive":
                has_keep_alive = True
        if self.send_date and not has_date:
            head.append(server.heads.line())
        if self._chunked and status in (204, 304):
            self._chunked = False
            self.should_keep_alive = False
        elif self._chunked and not self._has_body:
            self._chunked = False  # a HEAD's head may say chunked; no chunk follows it (Node)
        removed = self._removed or ()
        if "connection" in removed:
            self.closes_connection = not self.should_keep_alive
        elif not has_connection:
            if self.should_keep_alive and (has_length or self.can_chunk):
                if self.max_requests_reached:
                    head.append("Connection: close\r\n")
                elif has_keep_alive:
                    head.append("Connection: keep-alive\r\n")  # the application's Keep-Alive stands
                else:
                    head.append(server.heads.keep_alive_lines(server.keep_alive_timeout,
                                                              server.max_requests_per_socket))
            else:
                self.closes_connection = True
                head.append("Connection: close\r\n")
        if not has_length and not has_te:
            if not self._has_body:
                self._chunked = False
            elif not self.can_chunk:
                self.closes_connection = True
            elif content_length is not None and "content-length" not in removed \
                    and (headers is None or "trailer" not in headers):
                head.append(f"Content-Length: {content_length}\r\n")
            elif "transfer-encoding" not in removed:
                head.append("Transfer-Encoding: chunked\r\n")
                self._chunked = True
            else:
                self.closes_connection = True
        head.append("\r\n")
        self._head = "".join(head).encode("latin-1")
        if self.closes_connection or not self.can_chunk:
            conn.head_fixed(self)  # it ends the queue, or may release held requests

    def _trailers_fit(self):
        """A declared ``Trailer`` needs a chunked body: an application Transfer-Encoding
        that is chunked (not on a 204 or 304, whose chunking is dropped), or none and no
        Content-Length on a body that can be chunked (Node's ``_storeHeader`` throws
        ERR_HTTP_TRAILER_INVALID otherwise)."""
        headers = self._headers
        coding = headers.get("transfer-encoding")
        if coding is not None:
            return framing.is_chunked(coding[1]) and self.status_code not in (204, 304)
        return "content-length" not in headers and self._has_body and self.can_chunk \
            and (self._removed is None or "transfer-encoding" not in self._removed)

    def _checked_status(self, status):
        """The status set as attributes, checked (a bad one raises before anything is sent)."""
        try:
            code = serialize.checked_status(status, self.status_message)
        except serialize.HeaderError:
            self.headers_sent = False
            raise
        self.status_code = code
        if code in _NO_BODY:
            self._has_body = False
        return code

    # -- the head's other ways out -------------------------------------------------
    def has_body_status(self):
        return framing.status_has_body(self.status_code)

    def _implicit_head(self, content_length):
        if self.status_code in _NO_BODY:
            self._has_body = False
        if self.expect_continue:
            self.should_keep_alive = False
        if self.status_message == "":
            self.status_message = None  # the implicit head takes the standard reason
        self._store_head(content_length)

    def flush_headers(self):
        if not self.headers_sent:
            self._implicit_head(None)
        if not self.head_out:
            self.head_as_utf8()  # (Node's sends it with an empty utf8 chunk)
            self._send(self._body_bytes(b"", False))

    def send_head(self):
        """The head now, as it was fixed, its text as latin-1: what the WSGI and ASGI
        adapters send (their fields are the app's bytes, sent as given), where the events
        API's ``flush_headers`` sends it as Node does."""
        self.drop_body_writes = True
        if not self.headers_sent:
            self._implicit_head(None)
        if not self.head_out:
            self._send(self._body_bytes(b"", False))

    def head_as_utf8(self):
        """The fixed head's text as UTF-8 (module rules), where it has a non-ASCII
        character and no field value given as bytes (``WireText``: those bytes stand)."""
        pairs = self.__dict__.get("_head_pairs")
        self._head = serialize.utf8_head(self._head, self._headers if pairs is None else dict(enumerate(
            field for _, field in pairs)))

    def add_trailers(self, headers):
        """Fields sent after the last chunk of a chunked body (a dict, or name/value
        pairs), replacing those of an earlier call; a body framed otherwise sends none,
        as in Node."""
        pairs = headers.items() if isinstance(headers, dict) or hasattr(headers, "keys") else headers
        lines = []
        for name, value in pairs:
            serialize.check_name(name, "Trailer")
            if type(value) is not str:
                value = serialize.field_value(value)
            serialize.check_value(name, value, "trailer")
            lines.append(serialize.header_lines(name, value))
        self._trailers = "".join(lines).encode("latin-1")  # a later call replaces them, as in Node

    def reset_head(self):
        """Forget the status and headers set so far (the head must not be out yet), so
        an error answer can replace them."""
        self.drop_body_writes = True  # (the adapters' error answers)
        self._headers = None
        self.__dict__.pop("_head_pairs", None)
        self._removed = None
        self.headers_sent = False
        self.send_date = True
        self.status_code = 200
        self.status_message = None
        self._chunked = False  # the framing of the head being replaced goes with it
        self._has_body = self.req.method != "HEAD"
        self._head = None
        if self.closes_connection:
            self.should_keep_alive = False  # the replaced head ended the connection: so does this one

    # -- interim responses (no Date, written at once in order) ------------------------
    def _interim(self, head, callback):
        if self.writable_finished or self._closed:
            return  # the connection is no longer this response's (Node's res.socket is null): nothing goes out
        self._send(head)
        if callback is not None:
            self._when_flushed(callback)

    def write_continue(self, callback=None):
        self._interim(serialize.CONTINUE, callback)
        self.expect_continue = False  # sent

    def write_processing(self, callback=None):
        self._interim(serialize.PROCESSING, callback)

    def write_early_hints(self, hints, callback=None):
        head = early_hints(hints)
        if head is not None:
            self._interim(head, callback)

    def end_with(self, status, block, body, reason=None):
        """``set_header`` for each field of ``block`` (a ``serialize.HeaderBlock``),
        then ``end(body)``, for ``status`` (an int) and ``reason`` (None: the standard
        one); a plain block on a kept-alive answer leaves as one ``bytes``."""
        server = self._conn.server
        line = _STATUS_BYTES.get(status)
        if line is not None and block.plain and type(body) is bytes and not self.headers_sent \
                and self._headers is None and self.status_message is None \
                and (reason is None or reason == _STATUS_CODES[status]) \
                and self.should_keep_alive and self.can_chunk and self._has_body and self.send_date \
                and self._removed is None and not self.max_requests_reached and not self.expect_continue \
                and not self._closed and not server.draining and status not in _NO_BODY:
            self.status_code = status
            self.status_message = _STATUS_CODES[status]
            self._headers = block.headers  # fixed from now on (set_header/remove_header refuse)
            self.headers_sent = self.head_out = self.writable_ended = True
            length = self.bytes_sent = len(body)
            suffix = server.heads.suffix(server.keep_alive_timeout, server.max_requests_per_socket)
            if length >= SHARED:  # a large body leaves as the application's own bytes (writable.py)
                out = [b"%b%b%b\r\n" % (line, block.data, suffix) if block.has_length else
                       b"%b%b%bContent-Length: %d\r\n\r\n" % (line, block.data, suffix, length), body]
            elif block.has_length:  # (joined, not formatted: this runs per response)
                out = b"".join((line, block.data, suffix, b"\r\n", body))
            else:
                out = b"".join((line, block.data, suffix,
                                LENGTH_LINES[length] if length in LENGTH_LINES else length_line(length), body))
            if self._active:
                if out.__class__ is list:
                    self._send_parts(out)
                else:
                    self._socket.send_bytes(out)
                if self._corks:
                    self.release_corks()
                if not self._closed:  # (a send the kernel refuses closes the connection)
                    self._conn.response_done(self)
                    self._events and "prefinish" in self._events and self._conn.prefinish(self)
            else:
                self._corks = 0
                self._send(out)
            return self
        self.drop_body_writes = True
        self.status_code = status
        if reason is not None:
            self.status_message = reason
        for name, value in block.pairs:
            self.set_header(name, value)
        return self.end(body)
