"""IncomingMessage and ServerResponse: Node's request and response objects.

Response rules (Node's ``_storeHeader``, measured in the spec §1):
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
"""


from ..emitter import EventEmitter
from ..http import framing, serialize
from ..http.headers import header_map

_BODY_HIGH_WATER = 64 * 1024

class IncomingMessage(EventEmitter):
    """A parsed request head plus its body stream (``data``, ``end``, ``close``)."""

    def __init__(self, socket, method, url, http_version, raw_headers, headers, conn=None, start_time=0.0):
        self.socket = socket
        self.start_time = start_time  # time.monotonic() when the head was parsed
        self.method = method
        self.url = url
        self.http_version = http_version
        major, _, minor = http_version.partition(".")
        self.http_version_major = int(major)
        self.http_version_minor = int(minor or 0)
        self.raw_headers = raw_headers
        self.headers = headers
        self.trailers = {}
        self.raw_trailers = []
        self.complete = False
        self.upgrade = False
        self.aborted = False
        self.destroyed = False
        self._buffered = None
        self._buffered_size = 0
        self._conn = conn
        self._flowing = False
        self._end_pending = False
        self._ended = False
        self._paused = False

    def on(self, event, listener):
        super().on(event, listener)
        if event == "data" and not self._flowing:
            self.resume()
        elif event == "end" and self._paused and self._end_pending and not self._buffered:
            self.resume()  # nothing left to read: the end is delivered
        return self

    add_listener = on

    def pause(self):
        """Stop ``data`` events; the body is kept (and the socket stops reading once a
        high-water mark is buffered) until ``resume()`` or a new ``data`` listener."""
        self._paused = True
        self._flowing = False
        return self

    def resume(self):
        self._paused = False
        self._flowing = True
        if self._buffered or self._end_pending:
            self.socket.loop.call_soon(self._deliver)
        if self._conn is not None:
            self._conn.resume_reading("body")
        return self

    def await_listeners(self):
        """A coroutine listener got this request: its body (and 'end') is kept until the
        coroutine reads it (``await req.body()``, a ``data`` or ``end`` listener,
        ``resume()``); an unread body is discarded once the response is done."""
        if not self._flowing:
            self.pause()

    def body(self):
        """An awaitable of the whole body (b'' once it was read by someone else)."""
        future = self.socket.loop.create_future()
        if self._ended:
            future.set_result(b"")
            return future
        chunks = []

        def done():
            if not future.done():
                future.set_result(b"".join(chunks))

        def closed():
            if not future.done():
                future.set_exception(ConnectionResetError("the request was aborted"))
        self.on("data", chunks.append)
        self.once("end", done)
        self.once("close", closed)
        return future

    def listener_failed(self, event, error, args):
        if self._conn is not None:
            self._conn.request_task_failed(self, error)
        else:
            super().listener_failed(event, error, args)

    def is_paused(self):
        return self._paused

    def read(self):
        """Take the buffered body bytes (b'' when none)."""
        buffered, self._buffered = self._buffered, None
        self._buffered_size = 0
        return b"".join(buffered) if buffered else b""

    def set_timeout(self, seconds, callback=None):
        if callback is not None:
            self.on("timeout", callback)
        self.socket.set_timeout(seconds)
        return self

    # -- fed by the connection ------------------------------------------------------
    def push_body(self, chunk):
        if self._flowing and self._buffered is None:
            self.emit("data", chunk)
        elif self._buffered is None:
            self._buffered = [chunk]
            self._buffered_size = len(chunk)
        else:
            self._buffered.append(chunk)
            self._buffered_size += len(chunk)
            if self._paused and self._buffered_size > _BODY_HIGH_WATER and self._conn is not None:
                self._conn.pause_reading("body")

    def push_end(self, raw_trailers):
        self.complete = True
        if raw_trailers:
            self.raw_trailers = raw_trailers
            self.trailers = header_map(raw_trailers, len(raw_trailers) // 2)
        self._end_pending = True
        if self._paused:
            return  # kept for resume()
        if self._buffered is None:
            self._emit_end()
        elif not self._flowing:
            # nobody is reading: the unread body is dropped unless a 'data' listener is
            # attached on this loop turn; 'end' follows
            self.socket.loop.call_soon(self._deliver)

    def _deliver(self):
        if self._paused:
            return
        buffered, self._buffered = self._buffered, None
        self._buffered_size = 0
        if buffered:
            for chunk in buffered:
                self.emit("data", chunk)
        if self._end_pending:
            self._emit_end()

    def _emit_end(self):
        if not self._ended:
            self._ended = True
            self._end_pending = False
            self.emit("end")

    def mark_closed(self):
        if not self.destroyed:
            self.destroyed = True
            if not self.complete:
                self.aborted = True
            self.emit("close")


class ServerResponse(EventEmitter):
    """The response to one request, written in request order on its connection."""

    def __init__(self, conn, req, keep_alive, active=False):
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
        self.finished = False
        self._headers = {}
        self._head = None
        self.head_out = False  # the head's bytes left for the connection
        self._has_body = req.method != "HEAD"
        self._chunked = False
        self.closes_connection = False
        self.can_chunk = True
        self.expect_continue = False
        self._sent100 = False
        self._removed = None
        self.max_requests_reached = False
        self._active = active
        self._queued = None
        self._queued_size = 0
        self._closed = False
        self.bytes_sent = 0
        server = conn.server
        self._keep_alive_timeout = server.keep_alive_timeout
        self._max_requests_per_socket = server.max_requests_per_socket
        if req.http_version_major < 1 or req.http_version_minor < 1:
            te = req.headers.get("te")
            self.can_chunk = framing.is_chunked(te)

    # -- headers ----------------------------------------------------------------------
    def set_header(self, name, value):
        if self.headers_sent:
            raise serialize.HeaderError("ERR_HTTP_HEADERS_SENT",
                                        "Cannot set headers after they are sent to the client")
        serialize.check_name(name)
        serialize.check_value(name, value)
        self._headers[name.lower()] = (name, list(value) if isinstance(value, tuple) else value)
        return self

    def get_header(self, name):
        entry = self._headers.get(name.lower())
        return None if entry is None else entry[1]

    def get_headers(self):
        return {key: value for key, (_, value) in self._headers.items()}

    def get_header_names(self):
        return list(self._headers)

    def has_header(self, name):
        return name.lower() in self._headers

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
        self._headers.pop(key, None)

    def write_head(self, status_code, status_message=None, headers=None):
        if self.headers_sent:
            raise serialize.HeaderError("ERR_HTTP_HEADERS_SENT",
                                        "Cannot write headers after they are sent to the client")
        if not isinstance(status_message, str) and status_message is not None:
            headers, status_message = status_message, None
        status_code = int(status_code)
        if status_code < 100 or status_code > 999:
            raise serialize.HeaderError("ERR_HTTP_INVALID_STATUS_CODE",
                                        f"Invalid status code: {status_code}")
        if status_message is not None:
            serialize.check_value("status message", status_message)
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
        if not framing.status_has_body(status_code):
            self._has_body = False
        if self.expect_continue and not self._sent100:
            self.should_keep_alive = False
        self._store_head(None)
        return self

    def _store_head(self, content_length):
        """Fix the head; ``content_length`` is the whole body when known."""
        self.headers_sent = True
        if self._conn.server.draining:
            self.should_keep_alive = False
        if self.status_message is None:
            self.status_message = serialize.reason_phrase(self.status_code)
        head = [serialize.status_line(self.status_code, self.status_message)]
        has_connection = has_length = has_te = has_date = False
        for key, (name, value) in self._headers.items():
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
            head.append(self._conn.server.date_cache.line())
        if self._chunked and self.status_code in (204, 304):
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
                    head.append("Connection: keep-alive\r\n")
                    timeout = self._keep_alive_timeout
                    if timeout:
                        cap = self._max_requests_per_socket
                        head.append(f"Keep-Alive: timeout={int(timeout)}, max={cap}\r\n" if cap and cap > 0
                                    else f"Keep-Alive: timeout={int(timeout)}\r\n")
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
            self._conn.head_fixed(self)  # it ends the queue, or may release held requests

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
            parts.append(framing.LAST_CHUNK)
        if len(parts) == 1:
            return parts[0]
        return b"".join(parts)

    def _send(self, data):
        if self._active:
            self.socket.send_bytes(data)
            return self.socket.buffered_size < self.socket.high_water_mark
        if self._queued is None:
            self._queued = [data]
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
        if callable(data):
            data, callback = None, data
        if self.writable_ended:
            if callback is not None:
                self.socket.loop.call_soon(callback)
            return self
        if callback is not None:
            self.once("finish", callback)
        if isinstance(data, str):
            data = data.encode()
        if not self.headers_sent:
            self._implicit_head(len(data) if data else 0)
        self.writable_ended = True
        self.finished = True
        if self._closed:
            return self  # the connection is gone (or this response was dropped): nothing to send
        self._send(self._body_bytes(data, True))
        if self._active:
            self._conn.response_done(self)
        return self

    @property
    def active(self):
        """This response is first in its connection's queue (its bytes go straight out)."""
        return self._active

    def has_body_status(self):
        return framing.status_has_body(self.status_code)

    def _implicit_head(self, content_length):
        if self.status_code in framing.NO_BODY_STATUSES:
            self._has_body = False
        if self.expect_continue and not self._sent100:
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
        self._sent100 = True
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
        self._queued_size = 0
        if queued:
            for data in queued:
                self.socket.send_bytes(data)
        if self.writable_ended:
            self._conn.response_done(self)

    def on_flushed(self):
        self.writable_finished = True
        self.emit("finish")
        self._conn.response_finished(self)
        self.mark_closed()

    def mark_closed(self):
        if not self._closed:
            self._closed = True
            self.emit("close")
            self.req.mark_closed()

    def set_timeout(self, seconds, callback=None):
        if callback is not None:
            self.on("timeout", callback)
        self.socket.set_timeout(seconds)
        return self

    def reset_head(self):
        """Forget the status and headers set so far (the head must not be out yet), so
        an error answer can replace them."""
        self._headers = {}
        self.headers_sent = False
        self.status_code = 200
        self.status_message = None

    def fail(self, error):
        """The code answering this request raised ``error``: logged; a 500 if the head is
        not out yet, else what was written is sent and the connection closes."""
        self._conn.listener_failed(self, error)

    def destroy(self, error=None):
        self.socket.destroy(error)
