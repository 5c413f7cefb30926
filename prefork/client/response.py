"""The client side's incoming messages: ClientResponse (Node's IncomingMessage on the
client) and Information (the payload of an ``information`` event, a 1xx).

Rules:
- ``async for chunk in res`` is Node's ``for await``: leaving the loop before the end
  destroys the response (its socket, unless the body was complete).
- ``data`` and ``end`` come from the client protocol as the parser produces them;
  ``close`` once, when the exchange is over (``mark_closed``). A connection that ends
  before the body does gives ``aborted``, the request's ``close``, ``error``
  (ECONNRESET "aborted", when listened to) and ``close``, never ``end``; a response
  destroyed by the application gives ``aborted``, its ``close``, then the request's.
- ``read()`` collects the body from the moment it (or the request's ``response()``) is
  called; a response awaited through ``await req.response()`` collects from its first byte.
  It raises the parse or connection error that broke the body (``failure``), else
  ECONNRESET "aborted" for a body the connection's end cut short.
  Each ``read()`` is an awaitable of its own: cancelling one (a timeout) leaves the
  body collecting, and a later ``read()`` waits afresh for the whole of it.
- Body bytes that come while nobody reads (no ``data`` listener, no ``read()``, no
  ``async for``, no ``resume()``) are kept for a later ``read()``, ``async for`` or
  ``data`` listener (which gets them on the next loop turn, before newer chunks and
  ``end``; once ``end`` was emitted they are only for ``read()``/``async for``), so
  awaiting a request after its response came loses nothing. Past ``_KEPT_HIGH_WATER``
  kept bytes, a response someone took (a ``response`` listener or awaiter) stops its
  socket's reading until it is read (Node's paused stream); one nobody took is
  discarded as it comes (Node's dump, so its socket is freed) and a later ``read()`` or
  ``async for`` raises ERR_BODY_DISCARDED instead of giving part of it.
"""

import asyncio

from ..emitter import Chunks, EventEmitter
from ..http.errors import HTTPError
from ..http.headers import header_map
from .awaiting import raisable

_KEPT_HIGH_WATER = 64 * 1024


class ClientResponse(EventEmitter):
    """The response (Node's IncomingMessage on the client side)."""

    def __init__(self, socket, status_code, status_message, http_version, raw_headers):
        self.socket = socket
        self.status_code = status_code
        self.status_message = status_message
        self.http_version = http_version
        self.raw_headers = raw_headers
        self.headers = header_map(raw_headers, len(raw_headers) // 2)
        self.trailers = {}
        self.complete = False
        self.aborted = False
        self._ended = False  # 'end' was emitted
        self.once("end", self._mark_ended)
        self.destroyed = False  # destroy() was called on the response itself
        self.destroy_error = None
        self._closed = False
        self._body = None  # (chunks, [pending read() futures]) once collected for read()
        self.taken = False  # a 'response' listener or awaiter had it (set by the request)
        self._kept = []  # body chunks that came while nobody read
        self._kept_size = 0
        self._flowing = False  # resume() was called: unread chunks are dropped
        self._backlog = False  # the socket stopped reading for the kept chunks
        self._discarded = False  # kept chunks went past the mark with nobody to read them
        self.failure = None  # the parse or connection error that broke the body (set by the request)
        self._delivering = False  # kept chunks go to a late 'data' listener on the next turn
        self._end_due = False  # the body ended while they did: 'end' follows them

    def _mark_ended(self):
        self._ended = True

    def push_body(self, chunk):
        """A body chunk from the protocol: to the ``data`` listeners, else kept."""
        if self._delivering:  # after the kept chunks a late listener is getting
            self._kept.append(chunk)
            self._kept_size += len(chunk)
            return
        if self.listener_count("data"):
            self.emit("data", chunk)
            return
        if self._flowing:
            return  # resumed with nobody listening: read and dropped
        self._kept.append(chunk)
        self._kept_size += len(chunk)
        if self._kept_size > _KEPT_HIGH_WATER:
            if self.taken:
                if not self._backlog:
                    self._backlog = True
                    self.socket.pause()
            else:
                self._discarded = True
                self._flowing = True
                self._kept = []
                self._kept_size = 0

    def push_end(self):
        """The body's end from the protocol: ``end``, after the kept chunks a late
        ``data`` listener is getting."""
        if self._delivering:
            self._end_due = True
        else:
            self.emit("end")

    def _take_kept(self):
        """The chunks kept so far (the caller listens to ``data`` from now on); none
        while they are being delivered (the caller's listener gets them then)."""
        if self._delivering:
            return []
        kept, self._kept = self._kept, []
        self._kept_size = 0
        if self._backlog:
            self._backlog = False
            self.socket.resume()
        return kept

    def on(self, event, listener):
        super().on(event, listener)
        if event == "data":
            if self._kept and not self._ended:
                # a reader came late (Node's paused stream): the kept chunks go to the
                # 'data' listeners on the next loop turn, before any newer one and 'end'
                if not self._delivering:
                    self._delivering = True
                    self.socket.loop.call_soon(self._deliver_kept)
            elif self._backlog:
                self._backlog = False  # a reader came: the socket reads again
                self.socket.resume()
        return self

    def _deliver_kept(self):
        while self._kept:
            kept, self._kept = self._kept, []
            self._kept_size = 0
            for chunk in kept:
                self.emit("data", chunk)
        self._delivering = False
        if self._backlog:
            self._backlog = False
            self.socket.resume()
        if self._end_due:
            self._end_due = False
            self.emit("end")

    add_listener = on

    def collect_body(self):
        """Keep every body chunk, those kept so far and those to come, for ``read()``."""
        if self._body is None:
            chunks = self._take_kept()
            self._body = (chunks, [])
            self.on("data", chunks.append)
            self.once("end", self._body_complete)
            self.once("close", self._body_complete)

    def _body_complete(self):
        waiting = self._body[1]
        for future in waiting:
            self._settle_read(future)
        waiting.clear()

    def _settle_read(self, future):
        if future.done():  # cancelled
            return
        if self.complete:
            future.set_result(b"".join(self._body[0]))
        elif self.failure is not None:
            future.set_exception(raisable(self.failure))
        else:
            future.set_exception(HTTPError("ECONNRESET", "aborted"))

    def __aiter__(self):
        """``async for chunk in res``: Node's ``for await (const chunk of res)``; raises
        ECONNRESET "aborted" when the connection goes before the body's end."""
        if self._discarded:
            return _Raising(_discarded())
        # the chunks collected for read(), else those kept unread (the socket reads on
        # its next turn: Chunks listens before any new one comes)
        kept = list(self._body[0]) if self._body is not None else self._take_kept()
        return self._iterate(Chunks(self, lambda: HTTPError("ECONNRESET", "aborted"), kept=kept,
                                    ended=self._ended))

    async def _iterate(self, chunks):
        """The chunks; a loop left before the body's end (``break``, an exception)
        destroys the response, as Node's ``for await`` does: otherwise its socket,
        paused for the loop, would stay taken for ever (the agent's next request in line
        with it). The generator is closed when the loop drops it."""
        finished = False
        try:
            async for chunk in chunks:
                yield chunk
            finished = True
        finally:
            if not finished:
                self.destroy()

    def set_timeout(self, seconds, callback=None):
        """Node's ``res.setTimeout(ms[, callback])``: the socket's idle timeout, whose
        ``timeout`` comes to the request and, while the body is in progress, here."""
        if callback is not None:
            self.on("timeout", callback)
        self.socket.set_timeout(seconds)
        return self

    def pause(self):
        """Stop the body's ``data`` events for now: the socket stops reading."""
        self.socket.pause()
        return self

    def resume(self):
        """Let the body flow (Node's ``res.resume()``: without a ``data`` listener the
        body is read and dropped, so the exchange ends and the socket is freed)."""
        self._flowing = True
        self._kept = []
        self._kept_size = 0
        self._backlog = False
        self.socket.resume()
        return self

    def read(self):
        """An awaitable of the whole body; raises ECONNRESET if the connection ends first."""
        future = asyncio.get_running_loop().create_future()
        if self._discarded:
            future.set_exception(_discarded())
            return future
        self.collect_body()
        if self.complete or self._closed:
            self._settle_read(future)
        else:
            waiting = self._body[1]
            waiting[:] = [pending for pending in waiting if not pending.done()]  # drop cancelled reads
            waiting.append(future)
        return future

    def mark_closed(self):
        """Emit ``close`` once (called by the request when the exchange is over)."""
        if not self._closed:
            self._closed = True
            self.emit("close")

    def mark_aborted(self):
        """The connection ended before the body did: ``aborted`` now (Node's order)."""
        if not self.aborted:
            self.aborted = True
            self.emit("aborted")

    def close_aborted(self, error=None):
        """After an abort: ``error`` (``error``, else ECONNRESET "aborted"; only to a
        listener, as Node gives it only where it is handled), then ``close``."""
        if not self._closed and self.listener_count("error"):
            self.emit("error", error or HTTPError("ECONNRESET", "aborted"))
        self.mark_closed()

    def destroy(self, error=None):
        """End the exchange from the response's side: the socket closes; a body not
        complete gives ``aborted``, ``close`` (``error`` first when given and listened
        to), then the request's ``close``, as in Node. A complete response leaves the
        socket alone (it may serve the agent's next request), as Node's does."""
        if not self.destroyed and not self._closed:
            self.destroyed = True
            self.destroy_error = error
            if not self.complete:
                self.socket.destroy()
        return self

    @property
    def closed(self):
        return self._closed

    @property
    def collecting(self):
        """The body is being collected for ``read()``."""
        return self._body is not None


class Information:
    """The payload of ``information``: a 1xx response."""

    def __init__(self, status_code, status_message, http_version, raw_headers):
        self.status_code = status_code
        self.status_message = status_message
        self.http_version = http_version
        self.raw_headers = raw_headers
        self.headers = header_map(raw_headers, len(raw_headers) // 2)


def _discarded():
    return HTTPError("ERR_BODY_DISCARDED", "the response body was discarded: over "
                     f"{_KEPT_HIGH_WATER} bytes came before anyone read or awaited the response")


class _Raising:
    """``async for`` over a response whose body was discarded: raises at once."""

    def __init__(self, error):
        self.error = error

    def __aiter__(self):
        return self

    async def __anext__(self):
        raise self.error
