"""ServerResponse: Node's response object, written in request order on its connection.

Rules (Node's ``ServerResponse``, measured in the spec §1; the head's fields and bytes
are ``outgoing.OutgoingHead``'s):
- The head is fixed by ``write_head`` (explicit or implicit).
- Content-Length is automatic only when ``end(data)`` is the first write; otherwise the
  body is chunked, except for HEAD, 204, 304 and 1xx, which have no body, and for
  HTTP/1.0 clients that did not send ``TE: chunked``, which get a close-delimited body.
  Trailers (``add_trailers``) go after the last chunk; other framings drop them, as Node.
- Keep-alive is announced only when the framing allows it; the response that reaches
  ``max_requests_per_socket`` says ``Connection: close`` without closing the socket.
- Bytes of a response that is not first in the connection's queue wait in the response
  until the earlier ones are done (pipelining), and so do the callbacks of its writes.
  A send the kernel refuses (the peer reset the connection) closes the connection under
  the call: the response is then closed, not done, and the call returns normally.
- A destroy (``destroy()``, its socket's, its request's) closes the response at once;
  its events (``close``; ``finish`` first for one whose bytes the destroy's last try
  put in the kernel) come on the socket's close turn (lost.py).
- ``write()`` returns False when the bytes left in user space reach the socket's
  high-water mark; ``drain`` follows once they are out. It corks the socket until the
  next loop turn, as Node's does: a destroy in the same turn drops what it wrote, and
  ``end()`` sends it at once.
- ``finish`` is emitted once the last bytes are in the kernel, never inside ``end()``;
  ``prefinish`` inside it (a pipelined response's once the one ahead finishes, before
  that one's ``finish`` listeners), as Node's. A write or ``end(data)`` after ``end()`` is
  ``ERR_STREAM_WRITE_AFTER_END`` on the next loop turn, or right after the ``finish``
  listeners (those added after the write too) when the ``finish`` comes first, before
  the ``close`` (the callback runs, then ``error`` unless ``destroy()`` was called by
  then, or the write came after the ``finish`` and the response closed), as in Node;
  once the response is closed (``destroyed``) a write only gets its callback and an
  ``end(data)`` only its ``prefinish`` (when it held its socket, as Node's). An ``end(callback)`` without data after ``end()`` calls the
  callback at once, before any ``finish`` (Node's, with ERR_STREAM_ALREADY_FINISHED),
  unless more than the high-water mark is still queued (a large body Node's socket is
  still sending): then at its ``finish``, as Node's.
  ``write(None)`` raises ``ERR_STREAM_NULL_VALUES``. A response closed before it was done
  lets go of its ``drain`` listeners (none can come): a writer waiting for one is freed
  with it, without the cycle collector.
- ``strict_content_length`` (Node's ``strictContentLength``, off by default): a body
  passing the application's Content-Length, or ending short of it, raises
  ``ERR_HTTP_CONTENT_LENGTH_MISMATCH`` before its bytes are taken. With the server's
  ``reject_non_standard_body_writes``, a body chunk for a response without a body raises
  ``ERR_HTTP_BODY_NOT_ALLOWED`` once its head is fixed (``end()`` without one still ends).
- What the application sets is checked before a byte moves (status code and message,
  headers, body chunk type); ``reset_head`` (for the 500) drops the old head's framing.
- The common answer (no application header, a standard status, kept alive) takes its
  head from the server's ``HeadCache``: status line, Date, Connection and Keep-Alive
  as bytes built once per second; head and body leave as one ``bytes`` (a body under
  64 KiB: a larger one keeps its own bytes object, writable.py). ``end_with``
  does the same with a ``HeaderBlock``'s lines before the cached Date/Connection/
  Keep-Alive lines: the bytes ``set_header`` per field then ``end(body)`` send, which
  is what it does for any case the short way cannot take. Events nobody
  listens to are not emitted. Applications may hang their own attributes on a
  response (it keeps a ``__dict__``).
"""

from asyncio import CancelledError

from ..emitter import EventEmitter
from ..http import framing, serialize
from ..net.writing import WriteCallback
from .outgoing import LENGTH_LINES as _LENGTH_LINES, OutgoingHead, length_line as _length_line
from .lost import ResponseClosing
from .timeouts import timer_seconds
from .writable import SHARED, WritableState

_NO_BODY = framing.NO_BODY_STATUSES
_STATUS_CODES = serialize.STATUS_CODES


class ServerResponse(ResponseClosing, OutgoingHead, WritableState, EventEmitter):
    """The response to one request, written in request order on its connection."""

    # Slots set in __init__, except three read only after they are set (or with a
    # default): _head (by _store_head), _queued_size (with _queued) and _finish_told
    # (lost.py). ``expect_continue``: the request asked for a 100 and none was sent yet.
    __slots__ = ("_events", "_conn", "req", "_socket", "status_code", "status_message",
                 "send_date", "should_keep_alive", "headers_sent", "writable_ended",
                 "writable_finished", "_headers", "_head", "head_out", "_has_body",
                 "closes_connection", "can_chunk", "expect_continue", "_removed",
                 "max_requests_reached", "_active", "_queued_size", "_closed",
                 "bytes_sent", "_corks", "_finish_told", "_chunked_said")
    # (what the usual response never changes: class defaults, set per instance when it changes)
    _chunked = False
    _queued = _trailers = None  # (_queued: bytes and callbacks waiting the response's turn)
    _framing = 0  # bytes of chunk framing written around them
    _tail = 0  # the size of the last chunk written (writable.py)

    def __init__(self, conn, req, keep_alive, active=False):
        self._events = None
        self._conn = conn
        self.req = req
        self._socket = conn.socket
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
        self.closes_connection = False
        self.can_chunk = True if req.http_version == "1.1" else self._peer_reads_chunked(req)
        self.expect_continue = False
        self._removed = None
        self.max_requests_reached = False
        self._active = active
        self._closed = False
        self.bytes_sent = 0
        self._corks = 0  # cork() calls not yet undone (writable.py)

    @staticmethod
    def _peer_reads_chunked(req):
        if req.http_version_major < 1 or req.http_version_minor < 1:
            return framing.is_chunked(req.headers.get("te"))
        return True

    strict_content_length = False  # Node's strictContentLength (set per response)
    destroy_called = False  # ``destroy()`` was called (Node's ``destroyed`` at once then)
    replied = False  # the server answered its request itself (a canned 4xx): the access log has its line

    @property
    def socket(self):
        """Node's ``res.socket`` (and ``res.connection``): the connection's socket while
        the response is on it; None while it waits its turn behind pipelined responses
        and from its ``finish`` on, its first listeners included (Node's response is
        given its socket at its turn and lets go of it as it finishes; ``req.socket``
        keeps it). One closed before it finished keeps it. A response ended behind one
        still being flushed gets it once that one has finished, as Node's."""
        if self._active and not self.writable_finished and self._conn.holds_socket(self):
            return self._socket
        return None

    @property
    def has_body(self):
        """The response's body goes on the wire: not for HEAD, 1xx, 204 or 304 (known
        once the head is fixed), whatever Content-Length it declares."""
        return self._has_body

    # -- body (_body_bytes, _send: writable.py) ----------------------------------------
    def write(self, data, encoding=None, callback=None):
        """Node's ``res.write(chunk[, encoding][, callback])``."""
        text = type(data) is str  # (in utf8: a head sent with it goes as UTF-8, as Node's)
        if encoding is not None:
            if callable(encoding):
                callback = encoding
            else:
                text = text and encoding == "utf8"
                data = serialize.encoded(data, encoding)
        if data is None:
            serialize.body_chunk(data)  # (raises Node's ERR_STREAM_NULL_VALUES, before the end is checked)
        if self.writable_ended:
            self._after_end(callback)
            return False
        if isinstance(data, str):
            try:
                data = data.encode()
            except UnicodeEncodeError:  # a lone surrogate: U+FFFD, as Node writes it
                data = serialize.utf8(data)
        elif type(data) is not bytes:
            data = serialize.body_chunk(data)
        if self._closed:
            # written after close: dropped without an error event, and False, as Node's
            # (a producer that waits for 'drain' only when told stops producing); the
            # head is not fixed by it (Node's checks come first)
            if callback is not None:
                self._when_flushed(callback)
            return False
        if self.strict_content_length:
            self._check_length(len(data), False)
        if not self.headers_sent:
            self._implicit_head(None)
        if not self._has_body:
            self._check_body_allowed()  # (any chunk, an empty one too, as Node's)
        if not data and self.head_out:
            if callback is not None:
                self._when_flushed(callback)
            return True
        if text and not self.head_out and self._has_body and not (data and self._chunked):
            self.head_as_utf8()
        out = self._body_bytes(data, False)
        if self._active:  # Node's response corks its socket to the next turn (a destroy first drops it)
            self._socket.hold_turn()
        ok = self._send(out)
        if callback is not None:  # (after its bytes are queued: it runs once they are in the kernel)
            self._when_flushed(callback)
        if not ok:
            self._conn.wants_drain(self)
        return ok

    def end(self, data=None, encoding=None, callback=None):
        """Node's ``res.end([data[, encoding]][, callback])``."""
        text = type(data) is str
        given = data
        if encoding is not None:
            if callable(encoding):
                callback = encoding
            else:
                text = text and encoding == "utf8"
                data = serialize.encoded(data, encoding)
        if data is not None and type(data) is not bytes:
            if callable(data):
                data, callback = None, data
            elif isinstance(data, str):
                try:
                    data = data.encode()
                except UnicodeEncodeError:  # a lone surrogate: U+FFFD, as Node writes it
                    data = serialize.utf8(data)
            else:
                data = serialize.body_chunk(data)
        if self.writable_ended:
            if data:
                self._after_end(callback, True)
            elif callback is not None and self.writable_length <= self.writable_high_water_mark:
                # what Node's socket would have taken whole: at once, before any 'finish' (Node's
                # ERR_STREAM_ALREADY_FINISHED); more still queued: at its 'finish', as Node's
                callback()
            elif callback is not None:
                self.once("finish", callback)
            return self
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
                    if callback is not None:
                        self.once("finish", callback)
                    if length >= SHARED:  # a large body leaves as the application's own bytes (writable.py)
                        self._send_parts([b"%bContent-Length: %d\r\n\r\n" % (prefix, length), bytes(data)])
                    else:  # (a kept length line: no formatting, and no call, per response)
                        line = _LENGTH_LINES[length] if length in _LENGTH_LINES else _length_line(length)
                        self._socket.send_bytes(prefix + line + data)
                    if self._corks:
                        self.release_corks()
                    if not self._closed:  # (a send the kernel refuses closes the connection)
                        self._conn.response_done(self)
                        if self._events and "prefinish" in self._events:
                            self._conn.prefinish(self)
                    return self
            if data and self._closed:
                pass  # (Node's write of the data returns first: a closed response's head stays open)
            else:
                if self.strict_content_length:
                    self._check_length(len(data) if data else 0, True)
                self._implicit_head(len(data) if data else 0)
        elif self.strict_content_length:
            self._check_length(len(data) if data else 0, True)
        if not self._has_body and data is not None and not (type(given) is str and not given) and not self._closed:
            self._check_body_allowed()  # (Node's ``if (chunk)``: "" none, b"" one; a later end() sends the head)
        if callback is not None:  # (after the checks: a refused end() keeps no callback, as Node's)
            self.once("finish", callback)
        self.writable_ended = True
        if self._closed:  # the connection is gone (or this response was dropped): nothing to send
            if self._active and self._events and "prefinish" in self._events:
                self.emit("prefinish")  # (Node's: it held the socket; no 'finish' follows)
            return self
        if not self.head_out and not self._chunked:
            # head and body in one piece (the common answer)
            self.head_out = True
            if text and data and self._has_body and not self._head.isascii():
                self.head_as_utf8()
            out = self._head
            if data and self._has_body:
                self.bytes_sent += len(data)
                out = out + data if len(data) < SHARED else [out, bytes(data)]
        else:
            out = self._body_bytes(data, True)
        if self._active:
            self._send_parts(out) if out.__class__ is list else self._socket.send_bytes(out)
            self._socket.release_turn()  # (what write() held goes out with it, as Node's end() uncorks)
            if self._corks:
                self.release_corks()
            if not self._closed:  # (a send the kernel refuses closes the connection)
                self._conn.response_done(self)
                self._events and "prefinish" in self._events and self._conn.prefinish(self)
        else:
            self._corks = 0
            self._send(out)
        return self

    @property
    def active(self):
        """This response is first in its connection's queue (its bytes go straight out)."""
        return self._active

    def _when_flushed(self, callback):
        """``callback`` once the bytes written so far are in the kernel: for a response
        waiting its turn, kept in line with its bytes until they go out."""
        if self._active or self._closed:
            socket = self._socket
            if not socket.destroyed:
                socket.after_flush(WriteCallback(callback))  # (run at a destroy too, as Node calls it)
            elif not self._conn.tell_at_close(WriteCallback(callback), True):
                # the socket is gone: called all the same, before the close events still
                # due (as Node calls it on the next tick), else on the next loop turn
                socket.loop.call_soon(callback)
        elif self._queued is None:
            self._queued = [callback]
            self._queued_size = 0
        else:
            self._queued.append(callback)

    # -- queue plumbing (called by the connection) ------------------------------------
    def activate(self):
        """First in the connection's queue: queued bytes go out, later ones directly."""
        self._active = True
        if self._corks:
            self.apply_corks()
        queued, self._queued = self._queued, None
        if queued:
            for data in queued:
                if callable(data):
                    self._socket.after_flush(WriteCallback(data))  # a write's callback, after its bytes
                elif data.__class__ is float:
                    self._socket.set_timeout(data)  # set_timeout's, made while waiting
                elif data.__class__ is tuple:
                    self._socket.destroy(data[0])  # destroy()'s, made while waiting
                    return
                else:
                    self._socket.send_bytes(data)
        if self.writable_ended and not self._closed:  # (a refused send closed the connection)
            self._conn.response_done(self)
            self._events and "prefinish" in self._events and self._conn.prefinish(self)

    def on_flushed(self):
        if self._closed:
            return  # closed meanwhile (a listener of an earlier response destroyed the socket): no event after it
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

    def set_timeout(self, seconds, callback=None):
        """Node's ``res.setTimeout``: the socket's idle timeout, once the response is on
        it. One waiting its turn behind pipelined ones arms it when its turn comes (Node
        arms it at the response's 'socket'); one finished or closed has left the socket
        (Node's ``res.socket`` is null then): only the listener is added. The seconds are
        checked first, as Node's socket checks them (timeouts.py)."""
        seconds = timer_seconds(seconds)  # (a bad one raises before anything changes, as Node's)
        if callback is not None:
            self.on("timeout", callback)
        if self.writable_finished or self._closed:
            return self
        if not self._active:
            if self._queued is None:
                self._queued = []
                self._queued_size = 0
            self._queued.append(float(seconds))  # (bytes, a callable, or this: a timeout to set)
            return self
        self._socket.set_timeout(seconds)
        return self

    def listener_failed(self, event, error, args):
        """A coroutine listener of this response ('finish', 'close', ...) raised: handled
        as a raising request listener (logged; the connection closes unless the
        response is whole)."""
        if not isinstance(error, CancelledError):
            self._conn.listener_failed(self, error)

    def cut(self):
        """The code making this response failed after its head went out: nothing more is
        written (no last chunk: the client sees the body cut short); what was written goes
        out in its turn, then the connection closes; the response closes without
        ``finish`` (lost.py's ``flushed_cut``), logged as cut."""
        if self.writable_ended:
            return
        self.cut_short = True
        self.should_keep_alive = False
        self.closes_connection = True
        self.writable_ended = True
        if self._corks:
            self.release_corks()
        if self._active:
            self._socket.release_turn()
            self._conn.response_done(self)

    def fail(self, error):
        """The code answering this request raised ``error``: logged; a 500 if the head is
        not out yet, else what was written is sent and the connection closes."""
        self._conn.listener_failed(self, error)

    def destroy(self, error=None):
        """Node's ``res.destroy``: the socket goes, at once for the response on it; one
        waiting its turn behind pipelined ones destroys it when its turn comes (Node
        gives it its socket then), so the responses before it go out whole. One
        finished, or closed already, has no socket to destroy (Node's ``res.socket`` is
        null then): the connection and the requests after it are left alone."""
        self.destroy_called = True
        if error is not None and self.errored is None:
            self.errored = error
        if self._active:
            if not self.writable_finished:
                self._socket.destroy(error)
        elif not self._closed:
            # destroyed now (later writes are dropped, their callbacks still run), told
            # when its socket closes (as Node's, which destroys it when its turn comes)
            self.mark_closed(444, 0, True)
            if not self._conn.tell_at_close(self.tell_cut):
                self._socket.loop.call_soon(self.tell_cut)
            self._queued = [(error,)]  # and the socket goes when its turn comes
            self._queued_size = 0
        return self
