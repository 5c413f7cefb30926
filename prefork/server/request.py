"""IncomingMessage: Node's request object, a parsed head plus its body stream.

Rules:
- The head (method, url, version, raw headers and the ``headers`` map) is given whole by
  the connection; ``headers`` is the parser's map, built in the same pass as the raw list.
- Body chunks go to ``data`` listeners at once while the request flows; otherwise they
  are kept until a ``data`` listener, ``resume()`` or ``body()`` takes them, or until
  the response is done (Node's dump then drops them); a ``pause()`` while kept chunks
  are delivered keeps the rest (and ``end``) for later.
  ``end`` follows the last chunk, for a reader (a ``data`` listener, ``resume()``,
  ``read()``, ``body()``); a request nobody reads gets it only once its response is done
  (Node's dump: after the response's ``close``; it and the ``close`` after it on Node's
  next ticks, flow.py's ``dump_next_tick``), never when its connection goes first.
  ``close`` comes once: after ``end`` (Node's autoDestroy: ``destroyed`` at once, ``close`` next turn
  or the parser's next call, ticks.py; at once if the response is done or socket destroyed), or when the connection goes.
- A connection that goes before the response is done aborts the request, in Node's
  order and on the socket's close turn, never inside the call that destroyed it (lost.py):
  ``aborted`` (when its body was not complete, or its end was not read: Node counts a
  body nobody consumed as unread), the response's ``close``, ``error`` (ECONNRESET
  "aborted", only to a listener, as Node gives it), ``close``.
- ``destroy()`` aborts a request whose body was not complete or not read (the
  connection goes with it: ``aborted`` inside the call, the rest on the close turn; no
  body byte of the same read comes after it, nor ``end`` but that of a request without
  a body read by a listener and destroyed without an error, as Node's); a request read
  to its end has closed already (from its ``end`` listener: it closes on the next turn).
  ``pipe()`` writes the body with Node's backpressure (pause on False, resume on drain).
- ``set_encoding`` (Node's ``setEncoding``): body chunks from then on are ``str``; a
  character (or base64 group) split between reads comes whole with the next chunk.
- Paused mode: a ``readable`` listener stops the flow (``resume()`` does not restart it
  while one listens); ``readable`` is emitted on a loop turn after body bytes (or the
  end) arrive, ``read()`` takes what is buffered (None when nothing is; what it returns
  goes to ``data`` listeners too), and the ``read()`` that finds the body drained brings ``end``; a
  ``read(size)`` that finds fewer than ``size`` bytes of a body still arriving takes
  back a ``readable`` due: the next one comes with more bytes (or the end), as Node's.
- A request nobody reads (paused, or never read) holding more than ``_BODY_HIGH_WATER``
  bytes stops the socket's reading until it is resumed, or, once its response is done,
  is resumed with nobody listening: the rest of its body is discarded (Node's dump; not
  one a reader paused after it began to take it, ``_consuming``, as Node's).
- ``readable_flowing`` is Node's ``readableFlowing`` (None until someone reads; True: flowing).
- ``set_timeout`` (timeouts.py) checks its seconds as Node's socket does.
- Events emitted on a loop turn of their own (a deferred ``data``/``end``, ``close``; a
  destroyed request's buffered bytes go to a late ``data`` listener before its ``close``,
  as Node's) hand a raising listener to the connection, as a raising ``request`` one.
- ``forwarded_client``: the client address the WSGI or ASGI adapter took from a trusted
  proxy's ``X-Forwarded-For`` (http/forwarded.py; the access log's ``{h}``), else None.
- Per-request work is kept small: state in slots set once (what the usual request never
  changes: class defaults); events nobody listens to are not emitted. A ``__dict__``
  (the emitter's) takes an application's own attributes.
"""

from ..emitter import EventEmitter, settle_on
from ..streaming import Chunks, iterate, pipe, unpipe
from ..http.errors import Aborted, HTTPError, PrematureClose, body_too_large
from ..http.headers import distinct, header_map
from ..net.text import TextDecoder
from .fields import RequestFields
from .lost import RequestClosing
from .readable import ReadableState
from .timeouts import RequestTimeout

_BODY_HIGH_WATER = 64 * 1024


class IncomingMessage(RequestClosing, ReadableState, RequestTimeout, RequestFields, EventEmitter):
    """A parsed request head plus its body stream (``data``, ``end``, ``close``)."""

    __slots__ = ("_events", "socket", "start_time", "method", "url", "http_version",
                 "raw_headers", "headers", "all_headers",
                 "complete", "upgrade", "destroyed", "readable_flowing",
                 "_buffered", "_buffered_size", "_conn", "_end_pending", "_ended",
                 "_decoder", "_close_after_end", "_headers_distinct", "_trailers_distinct",  # (these two: set when first read)
                 "forwarded_client")
    _trailers = _raw_trailers = None  # made when first read (most requests have none)
    http_version_major = http_version_minor = 1  # (HTTP/1.1's: set per request for another version)
    aborted = _readable_due = False
    _consumed = False  # 'end' reached a reader (flowing, or read() to the end)

    readable_high_water_mark = _BODY_HIGH_WATER  # (Node's stream: 16 KiB; readable.py)

    def __init__(self, socket, method, url, http_version, raw_headers, headers, conn=None, start_time=0.0):
        self._events = None
        self.socket = socket
        self.start_time = start_time  # time.monotonic() of the read that completed the head
        self.method = method
        self.url = url
        self.http_version = http_version
        if http_version != "1.1":
            major, _, minor = http_version.partition(".")
            self.http_version_major = int(major)
            self.http_version_minor = int(minor or 0)
        self.raw_headers = raw_headers
        self.headers = headers
        # every field, also those max_headers_count leaves out of ``headers`` (Node's
        # cap): the app interfaces decide whether a body follows by this one
        self.all_headers = headers
        self.complete = False
        self.upgrade = False
        self.destroyed = False
        self.readable_flowing = None
        self._buffered = None  # with _buffered_size, set together
        self._conn = conn
        self._end_pending = False
        self._ended = False
        self._decoder = None  # set_encoding's: body chunks become str
        self._close_after_end = False
        self.forwarded_client = None  # the client a trusted proxy named, as the app interface read it (module rules)

    @property
    def connection(self):
        """Node's deprecated alias of ``socket`` (``req.connection.remoteAddress``)."""
        return self.socket

    def on(self, event, listener):
        super().on(event, listener)
        if event == "data" and self.readable_flowing is not True:
            self.resume()
        elif event == "readable":
            self.readable_flowing = False
            if self._buffered or self._end_pending:
                self._readable_soon()
            if self._conn is not None:
                self._conn.resume_reading("body")
        elif event == "end" and self.readable_flowing is False and self._end_pending and not self._buffered:
            self.resume()  # nothing left to read: the end is delivered
        return self

    add_listener = on

    def pause(self):
        """Stop ``data`` events; the body is kept (module rules) until ``resume()`` or a ``data`` listener."""
        self.readable_flowing = False
        return self

    def resume(self):
        if self._events and self._events.get("readable"):  # (paused mode stays, as Node's: its reads take the body)
            if self._conn is not None:
                self._conn.resume_reading("body")
            return self
        self.readable_flowing = True
        self._consuming = True
        if self._buffered or self._end_pending:
            if not (self.destroyed and self.socket.destroyed and self._conn is not None
                    and self._conn.tell_at_close(self._deliver, True)):
                self.socket.loop.call_soon(self._deliver)  # (destroyed: before its close, as Node's)
        if self._conn is not None:
            self._conn.resume_reading("body")
        return self

    def await_listeners(self):
        """A coroutine listener got this request: its body (and 'end') is kept until the
        coroutine reads it (``await req.body()``, a ``data`` or ``end`` listener,
        ``resume()``); an unread body is discarded once the response is done."""
        if self.readable_flowing is not True:
            self.pause()

    # (set off the hot path; not slots) body bytes went by with nobody reading; resumed
    # once: a reader began to take the body (Node's ``_consuming``)
    _discarded = _consuming = False

    def body(self, limit=None):
        """An awaitable of the whole body (b'' once it was read by someone else; str
        after ``set_encoding``); ERR_BODY_DISCARDED when it went by unread. ``limit``:
        past that many bytes, ERR_BODY_TOO_LARGE (``status`` 413) at once, and the rest
        goes by unkept (answer 413, with ``Connection: close`` not to read it all), as it
        does once the awaitable is cancelled (a ``wait_for`` timed out)."""
        future = self.socket.loop.create_future()
        if self._discarded:
            future.set_exception(discarded())
            return future
        if self._ended:
            future.set_result(b"" if self._decoder is None else "")
            return future
        if self.destroyed and not self.complete:  # its connection went before its end: no 'close' will come
            future.set_exception(Aborted())
            return future
        chunks = []
        if limit is None:
            take = chunks.append
        else:
            taken = [0]

            def take(chunk):
                taken[0] += len(chunk)
                if taken[0] <= limit:
                    chunks.append(chunk)
                    return
                self.off("data", take)
                chunks.clear()
                if not future.done():
                    future.set_exception(body_too_large(limit))
        self.on("data", take)
        future.add_done_callback(lambda done: done.cancelled() and self._left(take))  # (a wait_for timed out)
        return settle_on(self, future, "end", lambda: (b"" if self._decoder is None else "").join(chunks),
                         "close", Aborted)

    def listener_failed(self, event, error, args):
        if self._conn is not None:
            self._conn.request_task_failed(self, error)
        else:
            super().listener_failed(event, error, args)

    def read(self, size=None):
        """Take the buffered body bytes (None when none); the read that finds the body
        drained after its last chunk brings ``end`` (on the next loop turn). With a
        ``size``: that many bytes (characters after ``set_encoding``) when buffered, else
        None until the body is complete, which gives what is left (Node's ``read(n)``).
        What it returns is also emitted as ``data`` to the listeners of that, as Node's."""
        chunk = self._take(size)
        if chunk is not None and self._events and self._events.get("data"):
            self.emit("data", chunk)
        return chunk

    def _take(self, size):
        if size is not None and self._buffered:
            empty = b"" if self._decoder is None else ""
            data = self._buffered[0] if len(self._buffered) == 1 else empty.join(self._buffered)
            if size <= 0 or (size > len(data) and not self._end_pending):
                self._buffered = [data]
                if size > 0:
                    # too little is there: the next 'readable' waits for more bytes (or
                    # the end), not for a loop turn, as Node's
                    self._readable_due = False
                return None
            if size < len(data):
                self._buffered = [data[size:]]
                self._buffered_size = len(data) - size
                if self.readable_flowing is False and self._events and "readable" in self._events:
                    self._readable_soon()  # more is there: another 'readable' (Node's waits for more bytes)
                if self._conn is not None:
                    self._conn.resume_reading("body")
                return data[:size]
        buffered, self._buffered = self._buffered, None
        self._buffered_size = 0
        if self._end_pending and not buffered:
            self._consumed = True
            self.socket.loop.call_soon(self._emit_end)
        elif buffered:
            if self._end_pending and self.readable_flowing is False and self._events and "readable" in self._events:
                self._readable_soon()  # the end of the body is one more 'readable' (whose read() is None), as Node's
            if self._conn is not None:
                self._conn.resume_reading("body")
        if not buffered:
            return None
        return (b"" if self._decoder is None else "").join(buffered)

    def set_encoding(self, encoding="utf8"):
        """Node's ``req.setEncoding(encoding)``: body chunks (``data``, ``read()``) are
        ``str`` decoded with one of Node's encodings; a character (or a base64 group)
        split between chunks comes whole with the next one, what is left at the end
        comes before ``end``. Bytes kept unread are decoded now (whole, when the body is
        complete already: a coroutine listener starts after a body sent with the head)."""
        decoder = TextDecoder("utf8" if encoding is None else str(encoding))
        self._decoder = decoder
        if self._buffered:
            text = "".join([chunk if type(chunk) is str else decoder.decode(chunk) for chunk in self._buffered])
            if self.complete:
                text += decoder.end()  # the body's end came already: nothing follows
            self._buffered = [text] if text else None
            self._buffered_size = len(text)
        return self

    def _readable_soon(self):
        if not self._readable_due:
            self._readable_due = True
            self.socket.loop.call_soon(self._emit_readable)

    def _emit_readable(self):
        if not self._readable_due:
            return  # (a read() that found too little took it back)
        self._readable_due = False
        if self.readable_flowing is False and not self.destroyed and (self._buffered or self._end_pending):
            try:
                self.emit("readable")
            except Exception as exc:
                self.listener_failed("readable", exc, ())

    # -- fed by the connection ------------------------------------------------------
    _cut = False  # destroyed, then body bytes came in the same read: dropped, no 'end' (not a slot)

    def push_body(self, chunk):
        if self.destroyed:  # (destroy() earlier in this read: the rest is not this request's, as Node's)
            self._cut = True
            return
        if self._decoder is not None and type(chunk) is not str:  # (str: the decoder's own tail)
            chunk = self._decoder.decode(chunk)
            if not chunk:
                return  # part of a character: it comes with the next chunk
        if self.readable_flowing is True and self._buffered is None:
            self.emit("data", chunk)
        elif self._buffered is None:
            self._buffered = [chunk]
            self._buffered_size = len(chunk)
        else:
            self._buffered.append(chunk)
            self._buffered_size += len(chunk)
            if self._buffered_size > _BODY_HIGH_WATER and self.readable_flowing is not True \
                    and self._conn is not None:
                self._conn.body_backlog(self)
        if self.readable_flowing is False and self._events and "readable" in self._events:
            self._readable_soon()

    def push_end(self, raw_trailers):
        if self.destroyed and (self._cut or self.errored is not None):
            self.complete = True  # (Node's parser says so too; no 'end' after the destroy)
            return
        if self._decoder is not None:
            tail = self._decoder.end()
            if tail:
                self.push_body(tail)
        self.complete = True
        if raw_trailers:
            self._raw_trailers = raw_trailers
            self._trailers = header_map(raw_trailers, len(raw_trailers) // 2,
                                        self._conn is not None and self._conn.server.join_duplicate_headers)
        flowing = self.readable_flowing
        if flowing is False:
            self._end_pending = True
            if self._events and "readable" in self._events:
                self._readable_soon()
            return  # kept for resume()
        if self._buffered is None:
            if flowing is None and not self._close_after_end:
                self._end_pending = True  # nobody reads: 'end' waits for a reader, or the response's end (the dump)
                return
            if not self._ended:
                conn = self._conn
                if conn is not None and conn.dumps:  # (Node's 'end' is a next tick: those of a
                    conn.run_dumps(True)  # request dumped before come first, its 'close' after)
                self._ended = True
                self._consumed = flowing is True
                if self._events:
                    self.emit("end")
                self._after_end()
                if conn is not None and conn.dumps:
                    conn.run_dumps()
        else:
            self._end_pending = True
            if flowing is None and self._close_after_end:
                # its response is done and nobody read it: dropped now, 'end' follows
                # (Node's dump, on a next tick); else kept for a reader, or for the response's end
                (self.socket.loop.call_soon if self._conn is None else self._conn.dump_next_tick)(self._deliver)

    def _deliver(self):
        """(On a loop turn of its own: a raising listener is the request's failure.)"""
        if self.readable_flowing is False:
            return
        buffered, self._buffered = self._buffered, None
        self._buffered_size = 0
        if buffered and not (self._events and self._events.get("data")):
            self._discarded = True  # nobody reads: they are dropped (a later read says so)
        try:
            if buffered:
                for i, chunk in enumerate(buffered):
                    self.emit("data", chunk)
                    if self.readable_flowing is False:  # paused by a listener: the rest waits
                        rest = buffered[i + 1:]
                        if rest:
                            if self._buffered:
                                rest.extend(self._buffered)
                            self._buffered = rest
                            self._buffered_size = sum(len(part) for part in rest)
                        return
            if self._end_pending and (self.readable_flowing is True or self._close_after_end):
                self._emit_end()  # (nobody reads: kept until the response's end dumps the request)
        except Exception as exc:
            self.listener_failed("data", exc, ())

    def _emit_end(self):
        if not self._ended:
            self._ended = True
            self._end_pending = False
            if self.readable_flowing is True:
                self._consumed = True
            try:
                self.emit("end")
            finally:
                self._after_end()

    def _after_end(self):
        """The body was read to its ``end`` (or dumped): the request closes, as Node's
        (autoDestroy): at once when its response is done or its socket destroyed (Node's
        next tick, before the close turn), else destroyed now, ``close`` on the next turn."""
        if self._close_after_end:
            if self._conn is not None and self._conn.dumps is not None:
                self._conn.dump_next_tick(self.mark_closed)  # (dumped: Node's 'close' a tick later)
            else:
                self.mark_closed()
        elif not self.destroyed:
            self.destroyed = True
            if self._events and "close" in self._events:
                conn = self._conn
                if conn is None:
                    self.socket.loop.call_soon(self.tell_closed)
                elif self.socket.destroyed:
                    conn.closed_after_end(self.tell_closed)
                else:
                    conn.close_next_tick(self)

    pipe, unpipe = pipe, unpipe  # Node's req.pipe(destination[, {end}]) (with backpressure), unpipe([destination])

    def __aiter__(self):
        """Node's ``for await (const chunk of req)``: raises ECONNRESET "aborted" (its connection went
        before its end), ERR_STREAM_PREMATURE_CLOSE (destroyed with no error), ERR_BODY_DISCARDED."""
        if self._discarded:
            raise discarded()
        closed = (self.errored or True) if self.destroyed and not self.complete else False
        return iterate(Chunks(self, PrematureClose, _BODY_HIGH_WATER, ended=self._ended, closed=closed), self._left)

    def _left(self, taker=None):
        """A reader left (an ``async for`` left, a ``body()`` cancelled): the rest goes by unread."""
        if taker is not None:  # (an ``async for`` took its listener off itself)
            self.off("data", taker)
        if not self._ended:
            self._discarded = True
            self.resume()

    @property
    def trailers(self):
        """Node's ``trailers``: the trailer fields by lower-case name ({} until the end)."""
        if self._trailers is None:
            self._trailers = {}
        return self._trailers

    @property
    def raw_trailers(self):
        if self._raw_trailers is None:
            self._raw_trailers = []
        return self._raw_trailers

    @property
    def trailers_distinct(self):
        """The same for the trailers (the same object once the request is complete)."""
        try:
            return self._trailers_distinct
        except AttributeError:
            fields = distinct(self.raw_trailers, len(self.raw_trailers) // 2)
            if self.complete:
                self._trailers_distinct = fields
            return fields


def discarded():
    """The error of a read of a body that went by unread (its response was done first,
    it was resumed with no ``data`` listener, or a read gave it up)."""
    return HTTPError("ERR_BODY_DISCARDED", "the request body was discarded: nobody read it before its response "
                     "was done (or it was resumed with no reader, or an earlier read gave it up)")
