"""What a ClientRequest sends: its head (the header fields and their API are
http/fields.py's) and its body, kept in order until the socket comes (the request, its
socket and its response are client/request.py's).

Rules (Node's, spec section 7):
- The head: request line, the headers in insertion order (Host, unless ``set_host`` is
  false or the options' headers give it a value, and then Authorization from ``auth``,
  unless they give it one, are set by the constructor after the options' headers and
  before any set later; a given empty value, ``""``, 0 or False as given, is replaced
  where it stands), then Connection (unless set), then Content-Length (``end(data)`` as
  the only write) or Transfer-Encoding: chunked (anything else with a body).
- ``write`` says False once the bytes not yet in the kernel (or, before the socket is
  there, those kept for it) reach the socket's high-water mark; ``drain`` follows when
  they have gone out, unless ``end()`` was called (Node's ``socketOnDrain``: a listener
  writing then would fail with ERR_STREAM_WRITE_AFTER_END); ``await req.drain()``
  waits for it (``emitter.drained``), at once after ``end()``. Once a
  response that ends the connection has ended, the socket ends after what is queued
  (client/request.py): what is written then is kept, never sent, and no ``drain``
  comes (``await req.drain()`` raises at the close), as in Node.
- A ``write`` callback runs once the socket has flushed that write (one made before
  the socket came, once it came and flushed), before ``finish``; when the socket is
  destroyed first (a reset while the body goes out), on the turn after, as Node's.
- A body chunk is ``str`` (UTF-8) or bytes-like, sent as its bytes (a memoryview of
  wider items as its bytes, so the framing counts what goes out); ``write(None)`` raises
  ERR_STREAM_NULL_VALUES, another type ERR_INVALID_ARG_TYPE, as Node throws, before the
  head is fixed: the request goes on as if the call had not been made.
- The head's text goes out as latin-1, except, as in Node (which joins the head to the
  first chunk it sends and writes both in that chunk's encoding), with a first ``str``
  chunk in ``utf8`` (or no encoding) on an unchunked body (``end(text)``, ``write(text)``
  under a Content-Length; an empty ``write("")`` on a chunked one), or from
  ``flush_headers()`` (and so ``Expect: 100-continue``): then as UTF-8 (``é`` is
  ``\xc3\xa9``). A bytes chunk, another encoding, a chunked chunk or ``end()`` send it as
  latin-1 (``\xe9``).
- ``Expect: 100-continue`` sends the head at once; the app writes the body on ``continue``.
- A ``write`` (or ``end(data)``) after ``end()`` returns False, and on the next loop
  turn calls its callback and emits ``error`` (ERR_STREAM_WRITE_AFTER_END), unless the
  request is destroyed by then (closed, or its socket gone back to the agent), as in Node.
- ``add_trailers`` fields go after the last chunk of a chunked body; a body framed by
  Content-Length (or none) sends none, as in Node. A ``Trailer`` header makes the body
  chunked even when its length is known; on a method Node sends without framing (GET,
  HEAD, DELETE, ...), or with the application's Content-Length, fixing the head raises
  ERR_HTTP_TRAILER_INVALID (Node's ``_storeHeader`` throws).
"""

from base64 import b64encode

from ..emitter import drained
from ..http import framing
from ..http.errors import HTTPError
from ..http.fields import OutgoingFields
from ..http.serialize import (HeaderError, body_chunk, check_name, check_value, encoded, field_value, header_lines,
                              utf8, utf8_head)
from ..net import Socket
from ..net.writing import WriteCallback
from .logged import emit_logged


_GIVEN = ("host", "authorization")  # the fields the client makes unless the options' headers give them


def _has_value(value):
    """A field's value as JavaScript tests one: an empty string, 0 or False is none (a
    list, even empty, is one)."""
    return isinstance(value, (list, tuple)) or bool(value)


def _byte(value):
    """An Array item as ``Buffer.from`` takes it: its number's low 8 bits (a bool 1 or 0, a
    numeric str its number; NaN, infinity and other values 0)."""
    try:
        number = float(value.strip() or 0) if isinstance(value, str) else float(value)
    except (TypeError, ValueError):
        return 0
    return int(number) & 255 if number == number and abs(number) != float("inf") else 0


def _credentials(auth):
    """The ``auth`` option's bytes, as Node's ``Buffer.from(options.auth)`` makes them: a
    str as UTF-8 (a lone surrogate as U+FFFD), bytes-like as given, a list of byte values
    (``[117, 58, 112]``); another type (a number, True) is ERR_INVALID_ARG_TYPE, as Node
    throws, not its ``str()`` sent."""
    if isinstance(auth, str):
        try:
            return auth.encode()
        except UnicodeEncodeError:
            return auth.encode("utf-16", "surrogatepass").decode("utf-16", "replace").encode()
    if isinstance(auth, (bytes, bytearray, memoryview)):
        return bytes(auth)
    if isinstance(auth, (list, tuple)):  # an Array of byte values: each ToNumber'd, & 255 (NaN, a non-number: 0)
        return bytes(_byte(value) for value in auth)
    err = TypeError("The first argument must be of type string or an instance of Buffer, ArrayBuffer, "
                    f"or Array or an Array-like Object. Received {auth!r}")
    err.code = "ERR_INVALID_ARG_TYPE"
    raise err


class OutgoingRequest(OutgoingFields):
    """The head and body half of ClientRequest (whose ``loop``, ``method``, ``path``,
    ``agent``, ``socket``, ``writable_finished``, ``_one_off`` and ``_finish`` it uses),
    with Node's writable-stream state and corks (``end()`` releases them all)."""

    protocol = "http:"  # Node's req.protocol (the only one this client speaks)
    writable_object_mode = False

    @property
    def closed(self):
        """Node's ``req.closed``: ``close`` was emitted."""
        return self._closed

    def _init_outgoing(self, unique=None):
        self._unique = unique  # lower-case names whose list value is one "; "-joined line
        self._head = None
        self.headers_sent = False  # the head is fixed (set_header and the rest refuse)
        self._headers = {}
        self._removed = None  # framing fields the application removed (http/fields.py)
        self.send_date = False  # a client request sends no Date (Node's sendDate)
        self._queued = []  # bytes written before the socket is ready, and write callbacks, in order
        self._queued_size = 0  # bytes in _queued: past the socket's mark, write() says False
        self._ended = False
        self._wrote_body = False
        self._chunked = False
        self._keep_alive = False
        self._trailers = None  # add_trailers' lines, sent after the last chunk
        self._corks = 0  # cork() calls not yet undone: held by the socket once there is one

    def _init_head(self, headers, host, auth):
        """The options' ``headers`` (a mapping, pairs or Node's flat list: http/fields.py),
        then Host (unless ``set_host`` is false) and the ``auth`` credentials, unless those
        headers give them a value (Node's ``!getHeader(name)``: an empty one, 0 or False is
        replaced where it stands; a mapping's value is read as given, before the head
        writes a bool as text). A mapping's Host that is neither text (str, bytes) nor such an
        empty value (True, a number, a list: two Host lines) is ERR_INVALID_ARG_TYPE, as
        Node's agent throws; a flat list's fields go out as given."""
        given = None  # a mapping's Host and Authorization values, as given (the last of a name)
        if headers:
            if isinstance(headers, dict) or hasattr(headers, "keys"):
                given = {}
                for name, value in headers.items():
                    if isinstance(name, str) and name.lower() in _GIVEN:
                        given[name.lower()] = value
            self.merge_fields(headers, spelled=True)  # (a repeated name keeps its spelling, as Node writes it)
            if given is not None and "host" in given and not isinstance(given["host"], (str, bytes)) \
                    and _has_value(given["host"]):
                err = TypeError('The "options.headers.host" property must be of type string. '
                                f"Received {given['host']!r}")
                err.code = "ERR_INVALID_ARG_TYPE"
                raise err
        if given is None:  # (a list's fields: as they are kept)
            given = {key: self._headers[key][1] for key in _GIVEN if key in self._headers}
        if self.set_host and not _has_value(given.get("host", "")):
            # set now, after the options' headers and before later ones (Node's order)
            self.set_header("Host", host)
        if auth and not _has_value(given.get("authorization", "")):  # Basic, after Host
            self.set_header("Authorization", "Basic " + b64encode(_credentials(auth)).decode("ascii"))

    @property
    def _expect_continue(self):
        return framing.expects_continue(self.get_header("expect"))

    def _store_head(self, content_length):
        lines = [f"{self.method} {self.path} HTTP/1.1\r\n"]
        unique = self._unique
        for name, value in self._headers.values():
            lines.append(header_lines(name, value, unique))
        headers = self._headers
        removed = self._removed or ()
        if "connection" in headers:
            self._keep_alive = not framing.asks_close(headers["connection"][1])
        else:
            # Node announces keep-alive for a pooling agent, or one with a socket limit
            # (whose next request in line takes the socket); a removed Connection is
            # left out (the agent's choice stands)
            self._keep_alive = (self.agent.keep_alive or self.agent.max_sockets is not None) and not self._one_off
            if "connection" not in removed:
                lines.append(f"Connection: {'keep-alive' if self._keep_alive else 'close'}\r\n")
        if "content-length" not in headers and "transfer-encoding" not in headers:
            wrote_body = self._wrote_body
            if "trailer" in headers:
                # a declared trailer needs a chunked body (Node's rule); a method Node
                # sends without framing (GET, ...) has none to give it, body or not
                if self.method in framing.METHODS_WITHOUT_DEFAULT_BODY:
                    wrote_body = False
                else:
                    wrote_body = wrote_body or bool(content_length)
                content_length = None
            elif "content-length" in removed:
                content_length = None  # a removed Content-Length is not sent: chunked, as in Node
            framing_header = framing.request_framing(self.method, content_length, wrote_body)
            if framing_header is None:
                pass
            elif framing_header[0] == "length":
                lines.append(f"Content-Length: {framing_header[1]}\r\n")
            elif "transfer-encoding" not in removed:
                lines.append("Transfer-Encoding: chunked\r\n")
                self._chunked = True
            else:
                # both framing fields removed: the body goes out as it is, as Node sends
                # it, and the socket is not used again (nothing marks the body's end)
                self._keep_alive = False
        elif "transfer-encoding" in headers and framing.is_chunked(headers["transfer-encoding"][1]):
            self._chunked = True
        if "trailer" in headers and not self._chunked:
            # (a body framed by its length, or none: Node's _storeHeader throws)
            raise HeaderError("ERR_HTTP_TRAILER_INVALID", "Trailers are invalid with this transfer encoding")
        lines.append("\r\n")
        self._head = "".join(lines).encode("latin-1")
        self.headers_sent = True

    # -- body ----------------------------------------------------------------------------------
    def _send(self, data):
        """Hand ``data`` to the socket (or keep it until there is one); False past the
        high-water mark, and ``drain`` follows once what is buffered has gone out."""
        socket = self.socket
        if socket is None or socket.destroyed or socket.writable_ended:  # (ended: kept, never sent, as Node's)
            self._queued.append(data)
            self._queued_size += len(data)
            return self._queued_size < Socket.high_water_mark
        socket.send_bytes(data)
        if socket.buffered_size >= socket.high_water_mark:
            socket.want_drain()
            return False
        return True

    def _frame(self, data):
        if not data:
            return b""
        return framing.chunk(data) if self._chunked else data

    def flush_headers(self):
        if self._head is None:
            self._store_head(None)
            self._head_as_utf8()  # (Node's sends it with an empty utf8 chunk)
            self._send(self._head)

    def _head_as_utf8(self):
        """The fixed head's text as UTF-8 (module rules), where it has a non-ASCII
        character and no field value given as bytes (those bytes stand)."""
        self._head = utf8_head(self._head, self._headers)

    def write(self, data, encoding=None, callback=None):
        """Node's ``req.write(chunk[, encoding][, callback])``."""
        text = _utf8_text(data, encoding)
        if encoding is not None:
            if callable(encoding):
                callback = encoding
            else:
                data = encoded(data, encoding)
        data = _body_bytes(data)  # (None or another type raises here, before anything is fixed, as Node throws)
        if self._ended:
            # Node's: the callback, then 'error', on the next loop turn; write returns False.
            # A destroyed request (closed: 'close' was its last event) gets no 'error'.
            err = HTTPError("ERR_STREAM_WRITE_AFTER_END", "write after end")
            destroyed = self.destroyed

            def report():
                if callback is not None:
                    callback()
                if not destroyed:
                    emit_logged(self, "error", err)
            self.loop.call_soon(report)
            return False
        if self.destroyed:  # Node's ERR_STREAM_DESTROYED: nothing sent, no event, the callback all the same
            if callback is not None:
                self.loop.call_soon(callback)
            return False
        if data:
            self._wrote_body = True
        first = self._head is None
        if first:
            self._store_head(None)
            if text and not (data and self._chunked):
                self._head_as_utf8()  # (Node's joins it to this chunk; a chunked one's size goes first, as latin-1)
        out = (self._head if first else b"") + self._frame(data)
        ok = self._send(out) if out else True
        if callback is not None:
            if self.socket is None:
                self._queued.append(callback)  # called once the socket flushed what came before
            else:
                self.socket.after_flush(WriteCallback(callback))
        return ok

    def end(self, data=None, encoding=None, callback=None):
        """Node's ``req.end([data[, encoding]][, callback])``."""
        if callable(data):
            data, callback = None, data
        text = _utf8_text(data, encoding)
        if encoding is not None:
            if callable(encoding):
                callback = encoding
            else:
                data = encoded(data, encoding)
        if data:  # (a false one is no body, as Node's ``if (chunk)``)
            data = _body_bytes(data)
        if self._ended:
            if data:
                self.write(data, callback=callback)  # Node's: ERR_STREAM_WRITE_AFTER_END, as a write
            elif callback is not None:
                if self.writable_finished:
                    self.loop.call_soon(callback)
                else:
                    self.once("finish", callback)
            return self
        parts = []
        if self._head is None:
            # (a head that cannot be fixed raises before the request counts as ended: the
            # application may mend it and end again, as in Node)
            self._store_head(len(data) if data else
                             (None if self.method in framing.METHODS_WITHOUT_DEFAULT_BODY else 0))
            if text and data and not self._chunked:
                self._head_as_utf8()
            parts.append(self._head)
        self._ended = True
        if callback is not None:
            self.once("finish", callback)
        if data:
            parts.append(self._frame(data))
        if self._chunked:
            parts.append(framing.LAST_CHUNK if self._trailers is None else b"0\r\n%b\r\n" % self._trailers)
        if parts:
            self._send(b"".join(parts))
        if self._corks:
            self._release_corks()
        socket = self.socket
        if socket is not None and not socket.writable_ended and not socket.destroyed:
            socket.after_flush(self._finish)  # (else its bytes stay kept: no 'finish', as Node's)
        return self

    def add_trailers(self, headers):
        """Node's ``req.addTrailers(headers)``: fields sent after the last chunk of a
        chunked body (a mapping, or name/value pairs; a list value gives a line each),
        replacing those of an earlier call; a body framed otherwise sends none."""
        pairs = headers.items() if hasattr(headers, "keys") else headers
        lines = []
        for name, value in pairs:
            check_name(name)
            if type(value) is not str:
                value = field_value(value)
            check_value(name, value)
            lines.append(header_lines(name, value))
        self._trailers = "".join(lines).encode("latin-1")

    def _hand_queued(self, socket):
        """What was written before ``socket`` came goes to it, in order; False when it is
        kept instead: a ``socket`` listener ended (or destroyed) the socket, and nothing
        goes to it, as Node's (its FIN alone: "socket hang up")."""
        if socket.writable_ended or socket.destroyed:
            return False
        queued, self._queued = self._queued, []
        if self._queued_size >= Socket.high_water_mark:
            socket.want_drain()  # a writer told False waits for 'drain'
        self._queued_size = 0
        for item in queued:
            if callable(item):
                socket.after_flush(WriteCallback(item))  # a write's callback, after its bytes
            else:
                socket.send_bytes(item)
        return True

    # -- Node's writable-stream surface ---------------------------------------------------------
    writable = True  # Node 20's legacy flag: set at the request's making, never changed

    @property
    def finished(self):
        """``end()`` was called (Node's deprecated ``finished``)."""
        return self._ended

    @property
    def writable_ended(self):
        return self._ended

    @property
    def connection(self):
        """Node's deprecated alias of ``socket``."""
        return self.socket

    def cork(self):
        """Node's ``req.cork()``: writes wait until as many ``uncork()`` calls or ``end()``
        (which releases them all); nothing once the request is ended."""
        if not self._ended:
            self._corks += 1
            if self.socket is not None and not self.socket.destroyed:
                self.socket.cork()

    def uncork(self):
        if self._corks and not self._ended:
            self._corks -= 1
            if self.socket is not None and not self.socket.destroyed:
                self.socket.uncork()

    def _apply_corks(self, socket):
        """The request has its socket: the corks made before apply to it."""
        for _ in range(self._corks):
            socket.cork()

    def _release_corks(self):
        corks, self._corks = self._corks, 0
        socket = self.socket
        if socket is not None and not socket.destroyed:
            for _ in range(corks):
                socket.uncork()

    @property
    def writable_corked(self):
        return self._corks

    @property
    def writable_length(self):
        """Bytes written and not yet taken by the kernel (those kept until the socket comes, before)."""
        if self.socket is None:
            return self._queued_size
        return 0 if self.writable_finished else self.socket.buffered_size

    @property
    def writable_high_water_mark(self):
        return Socket.high_water_mark

    def drain(self):
        """An awaitable: at once unless a ``write()`` said False, else at the request's
        ``drain``; raises ``PrematureClose`` if it closes first with bytes unsent."""
        return drained(self)

    @property
    def writable_need_drain(self):
        """A ``write()`` said False and its ``drain`` has not come (False once ``end()``
        was called: none comes then, as Node's ``writableNeedDrain``)."""
        if self._ended:
            return False
        if self.socket is None:
            return self._queued_size >= Socket.high_water_mark
        return self.socket.writable_need_drain


def _utf8_text(data, encoding):
    """``data`` is text Node sends in utf8 (no encoding, or exactly ``"utf8"``): a head
    sent with it goes as UTF-8."""
    return isinstance(data, str) and (encoding is None or callable(encoding) or encoding == "utf8")


def _body_bytes(data):
    """A body chunk as the bytes that go out: ``str`` as UTF-8 (a lone surrogate as
    U+FFFD, as Node writes it), bytes-like objects as their bytes (``body_chunk``: its
    length is what is sent); None or anything else raises (Node's throws), before the
    request changes."""
    if type(data) is bytes:
        return data
    return utf8(data) if isinstance(data, str) else body_chunk(data)
