"""ServerResponse: Node's response object, written in request order on its connection.

Rules (Node's ``_storeHeader``, measured in the spec §1):
- The head is fixed by ``write_head`` (explicit or implicit). Header order: the
  application's headers in insertion order, then Date, Connection, Keep-Alive, then
  Content-Length or Transfer-Encoding. An application-set Connection, Content-Length or
  Transfer-Encoding stays where it is and suppresses the automatic one.
- Content-Length is automatic only when ``end(data)`` is the first write; otherwise the
  body is chunked, except for HEAD, 204, 304 and 1xx, which have no body, and for
  HTTP/1.0 clients that did not send ``TE: chunked``, which get a close-delimited body.
- Keep-alive is announced only when the framing allows it; the response that reaches
  ``max_requests_per_socket`` says ``Connection: close`` without closing the socket.
- Bytes of a response that is not first in the connection's queue wait in the response
  until the earlier ones are done (pipelining).
- ``finish`` is emitted once the last bytes are in the kernel, never inside ``end()``.
- What the application sets is checked before a byte moves (status code and message,
  headers, body chunk type); ``reset_head`` (for the 500) drops the old head's framing.
- The common answer (no application header, a standard status, kept alive) takes its
  head from the server's ``HeadCache``: status line, Date, Connection and Keep-Alive
  as bytes built once per second; head and body leave as one ``bytes``. ``end_with``
  does the same with a ``HeaderBlock``'s lines before the cached Date/Connection/
  Keep-Alive lines: the bytes ``set_header`` per field then ``end(body)`` send, which
  is what it does for any case the short way cannot take. Events nobody
  listens to are not emitted. Applications may hang their own attributes on a
  response (it keeps a ``__dict__``).
"""

from ..emitter import EventEmitter
from ..http import framing, serialize

_NO_BODY = framing.NO_BODY_STATUSES
_STATUS_CODES = serialize.STATUS_CODES
_LAST_CHUNK = framing.LAST_CHUNK
_STATUS_BYTES = serialize.STATUS_BYTES


class ServerResponse(EventEmitter):
    """The response to one request, written in request order on its connection."""

    # Slots set in __init__, except two read only after they are set: _head (by
    # _store_head) and _queued_size (with _queued). ``expect_continue``: the request
    # asked for a 100 and none was sent yet.
    __slots__ = ("_events", "_conn", "req", "socket", "status_code", "status_message",
                 "send_date", "should_keep_alive", "headers_sent", "writable_ended",
                 "writable_finished", "_headers", "_head", "head_out", "_has_body", "_chunked",
                 "closes_connection", "can_chunk", "expect_continue", "_removed",
                 "max_requests_reached", "_active", "_queued", "_queued_size", "_closed",
                 "bytes_sent")

    def __init__(self, conn, req, keep_alive, active=False):
        self._events = None
        self._conn = conn
        self.req = req
        self.socket = conn.socket
        self.status_code = 200
        self.status_message = None
        self.send_date = True
        self.should_keep_alive = keep_alive
        self.headers_sent = False  # the head is fixed
        self.writable_ended = False
        self.writable_finished = False
        self._headers = None  # {lower-case name: (name, value)}, made by the first set_header
        self.head_out = False  # the head's bytes left for the connection
        self._has_body = req.method != "HEAD"
        self._chunked = False
        self.closes_connection = False
        self.can_chunk = True if req.http_version == "1.1" else self._peer_reads_chunked(req)
        self.expect_continue = False
        self._removed = None
        self.max_requests_reached = False
        self._active = active
        self._queued = None
        self._closed = False
        self.bytes_sent = 0

    @staticmethod
    def _peer_reads_chunked(req):
        if req.http_version_major < 1 or req.http_version_minor < 1:
            return framing.is_chunked(req.headers.get("te"))
        return True

    @property
    def finished(self):
        """``end()`` was called (Node's deprecated ``finished``)."""
        return self.writable_ended

    # -- headers ----------------------------------------------------------------------
    def set_header(self, name, value):
        if self.headers_sent:
            raise serialize.HeaderError("ERR_HTTP_HEADERS_SENT",
                                        "Cannot set headers after they are sent to the client")
        serialize.check_name(name)
        serialize.check_value(name, value)
        if self._headers is None:
            self._headers = {}
        self._headers[name.lower()] = (name, list(value) if isinstance(value, tuple) else value)
        return self

    def get_header(self, name):
        entry = self._headers.get(name.lower()) if self._headers else None
        return None if entry is None else entry[1]

    def get_headers(self):
        return {key: value for key, (_, value) in self._headers.items()} if self._headers else {}

    def get_header_names(self):
        return list(self._headers) if self._headers else []

    def has_header(self, name):
        return bool(self._headers) and name.lower() in self._headers

    def remove_header(self, name):
        if self.headers_sent:
            raise serialize.HeaderError("ERR_HTTP_HEADERS_SENT",
                                        "Cannot remove headers after they are sent to the client")
        key = name.lower()
        if key in ("connection", "content-length", "transfer-encoding"):
            if self._removed is None:
                self._removed = set()
            self._removed.add(key)
        elif key == "date":
            self.send_date = False
        if self._headers:
            self._headers.pop(key, None)

    def write_head(self, status_code, status_message=None, headers=None):
        if self.headers_sent:
            raise serialize.HeaderError("ERR_HTTP_HEADERS_SENT",
                                        "Cannot write headers after they are sent to the client")
        if not isinstance(status_message, str) and status_message is not None:
            headers, status_message = status_message, None
        status_code = serialize.checked_status(status_code, status_message)
        self.status_code = status_code
        self.status_message = status_message or serialize.reason_phrase(status_code)
        if headers:
            if isinstance(headers, dict):
                items = headers.items()
            else:
                flat = list(headers)
                if flat and isinstance(flat[0], (list, tuple)):
                    items = flat
                else:
                    items = zip(flat[0::2], flat[1::2])
            for name, value in items:
                self.set_header(name, value)
        if status_code in _NO_BODY:
            self._has_body = False
        if self.expect_continue:
            self.should_keep_alive = False
        self._store_head(None)
        return self

    def _store_head(self, content_length):
        """Fix the head; ``content_length`` is the whole body when known."""
        self.headers_sent = True
        conn = self._conn
        server = conn.server
        if server.draining:
            self.should_keep_alive = False
        status = self.status_code
        if self._headers is None and self.should_keep_alive and self.can_chunk and self.send_date \
                and self._removed is None and not self.max_requests_reached \
                and (self.status_message is None or self.status_message == _STATUS_CODES.get(status)):
            # the common head: nothing from the application, kept alive
            prefix = server.heads.prefix(status, server.keep_alive_timeout, server.max_requests_per_socket)
            if prefix is not None:
                self.status_message = _STATUS_CODES[status]
                if not self._has_body:
                    self._head = prefix + b"\r\n"
                elif content_length is not None:
                    self._head = b"%bContent-Length: %d\r\n\r\n" % (prefix, content_length)
                else:
                    self._head = prefix + b"Transfer-Encoding: chunked\r\n\r\n"
                    self._chunked = True
                return
        message = self.status_message
        if type(status) is not int or not 100 <= status <= 999 or \
                (message is not None and message != _STATUS_CODES.get(status)):
            status = self._checked_status(status)
        if self.status_message is None:
            self.status_message = serialize.reason_phrase(status)
        head = [serialize.status_line(status, self.status_message)]
        has_connection = has_length = has_te = has_date = False
        for key, (name, value) in (self._headers or {}).items():
            head.append(serialize.header_lines(name, value))
            if key == "connection":
                has_connection = True
                if framing.asks_close(value):
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
        if self.send_date and not has_date:
            head.append(server.heads.line())
        if self._chunked and status in (204, 304):
            self._chunked = False
            self.should_keep_alive = False
        removed = self._removed or ()
        if "connection" in removed:
            self.closes_connection = not self.should_keep_alive
        elif not has_connection:
            if self.should_keep_alive and (has_length or self.can_chunk):
                if self.max_requests_reached:
                    head.append("Connection: close\r\n")
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
            elif content_length is not None and "content-length" not in removed:
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

    # -- body -------------------------------------------------------------------------
    def _body_bytes(self, data, end):
        parts = []
        if not self.head_out:
            self.head_out = True
            parts.append(self._head)
        if data and self._has_body:
            self.bytes_sent += len(data)
            parts.append(framing.chunk(data) if self._chunked else data)
        if end and self._chunked:
            parts.append(_LAST_CHUNK)
        if len(parts) == 1:
            return parts[0]
        return b"".join(parts)

    def _send(self, data):
        if self._active:
            self.socket.send_bytes(data)
            return self.socket.buffered_size < self.socket.high_water_mark
        if self._queued is None:
            self._queued = [data]
            self._queued_size = len(data)
        else:
            self._queued.append(data)
            self._queued_size += len(data)
        return self._queued_size < self.socket.high_water_mark

    def write(self, data, callback=None):
        if self.writable_ended:
            err = serialize.HeaderError("ERR_STREAM_WRITE_AFTER_END", "write after end")
            self.socket.loop.call_soon(self.emit, "error", err)
            return False
        if isinstance(data, str):
            data = data.encode()
        elif data is not None and type(data) is not bytes:
            data = serialize.body_chunk(data)
        if not self.headers_sent:
            self._implicit_head(None)
        if callback is not None:
            self.socket.after_flush(callback)
        if (not data and self.head_out) or self._closed:
            return True  # written after close: dropped without error, as Node drops it
        ok = self._send(self._body_bytes(data, False))
        if not ok:
            self._conn.wants_drain(self)
        return ok

    def end(self, data=None, callback=None):
        if data is not None and type(data) is not bytes:
            if callable(data):
                data, callback = None, data
            elif isinstance(data, str):
                data = data.encode()
            else:
                data = serialize.body_chunk(data)
        if self.writable_ended:
            if callback is not None:
                self.socket.loop.call_soon(callback)
            return self
        if callback is not None:
            self.once("finish", callback)
        if not self.headers_sent:
            server = self._conn.server
            status = self.status_code
            if data and self._active and self._headers is None and self.status_message is None \
                    and self.should_keep_alive and self.can_chunk and self._has_body and self.send_date \
                    and self._removed is None and not self.max_requests_reached and not self.expect_continue \
                    and not self._closed and not server.draining and status not in _NO_BODY:
                # the common answer (what _store_head and the send below do for it): the
                # cached head, the length and the body in one bytes
                prefix = server.heads.prefix(status, server.keep_alive_timeout, server.max_requests_per_socket)
                if prefix is not None:
                    self.status_message = _STATUS_CODES[status]
                    self.headers_sent = self.head_out = self.writable_ended = True
                    length = self.bytes_sent = len(data)
                    self.socket.send_bytes(b"%bContent-Length: %d\r\n\r\n%b" % (prefix, length, data))
                    self._conn.response_done(self)
                    return self
            if self.status_code in _NO_BODY:
                self._has_body = False
            if self.expect_continue:
                self.should_keep_alive = False
            self._store_head(len(data) if data else 0)
        self.writable_ended = True
        if self._closed:
            return self  # the connection is gone (or this response was dropped): nothing to send
        if not self.head_out and not self._chunked:
            # head and body in one piece (the common answer)
            self.head_out = True
            out = self._head
            if data and self._has_body:
                self.bytes_sent += len(data)
                out += data
        else:
            out = self._body_bytes(data, True)
        if self._active:
            self.socket.send_bytes(out)
            self._conn.response_done(self)
        else:
            self._send(out)
        return self

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
            if block.has_length:
                out = b"%b%b%b\r\n%b" % (line, block.data, suffix, body)
            else:
                out = b"%b%b%bContent-Length: %d\r\n\r\n%b" % (line, block.data, suffix, length, body)
            if self._active:
                self.socket.send_bytes(out)
                self._conn.response_done(self)
            else:
                self._send(out)
            return self
        self.status_code = status
        if reason is not None:
            self.status_message = reason
        for name, value in block.pairs:
            self.set_header(name, value)
        return self.end(body)

    @property
    def active(self):
        """This response is first in its connection's queue (its bytes go straight out)."""
        return self._active

    def has_body_status(self):
        return framing.status_has_body(self.status_code)

    def _implicit_head(self, content_length):
        if self.status_code in _NO_BODY:
            self._has_body = False
        if self.expect_continue:
            self.should_keep_alive = False
        self._store_head(content_length)

    def flush_headers(self):
        if not self.headers_sent:
            self._implicit_head(None)
        if not self.head_out:
            self._send(self._body_bytes(b"", False))

    # -- interim responses (no Date, written at once in order) ------------------------
    def write_continue(self, callback=None):
        self._send(serialize.CONTINUE)
        self.expect_continue = False  # sent
        if callback is not None:
            self.socket.after_flush(callback)

    def write_processing(self, callback=None):
        self._send(serialize.PROCESSING)
        if callback is not None:
            self.socket.after_flush(callback)

    def write_early_hints(self, hints, callback=None):
        head = serialize.early_hints(hints)
        if head is not None:
            self._send(head)
            if callback is not None:
                self.socket.after_flush(callback)

    # -- queue plumbing (called by the connection) ------------------------------------
    def activate(self):
        """First in the connection's queue: queued bytes go out, later ones directly."""
        self._active = True
        queued, self._queued = self._queued, None
        if queued:
            for data in queued:
                self.socket.send_bytes(data)
        if self.writable_ended:
            self._conn.response_done(self)

    def on_flushed(self):
        self.writable_finished = True
        if self._events:
            try:
                self.emit("finish")
            except Exception as exc:
                self._conn.listener_failed(self, exc)
        observer = self._conn.server.response_observer
        if observer is not None:
            observer(self.req, self)
        if not self._closed:
            self._closed = True  # mark_closed, inlined: this runs per request
            if self._events:
                try:
                    self.emit("close")
                except Exception as exc:
                    self._conn.listener_failed(self, exc)
            self.req.mark_closed()

    def mark_closed(self):
        if not self._closed:
            self._closed = True
            if self._events:
                try:
                    self.emit("close")
                except Exception as exc:
                    self._conn.listener_failed(self, exc)
            self.req.mark_closed()

    def set_timeout(self, seconds, callback=None):
        if callback is not None:
            self.on("timeout", callback)
        self.socket.set_timeout(seconds)
        return self

    def reset_head(self):
        """Forget the status and headers set so far (the head must not be out yet), so
        an error answer can replace them."""
        self._headers = None
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

    def fail(self, error):
        """The code answering this request raised ``error``: logged; a 500 if the head is
        not out yet, else what was written is sent and the connection closes."""
        self._conn.listener_failed(self, error)

    def destroy(self, error=None):
        self.socket.destroy(error)
