"""The client side's incoming message: ClientResponse (Node's IncomingMessage on the
client; the payload of an ``information`` event, a 1xx, is fields.py's Information).

Rules:
- ``trailers`` (Node's lower-cased map) and ``raw_trailers`` (Node's ``rawTrailers``,
  flat, as received) are set as the parser completes the message, before ``end``
  (which may wait for a reader); they and ``headers_distinct``/``trailers_distinct``
  are client/fields.py's.
- ``async for chunk in res`` is Node's ``for await``: leaving the loop before the end
  aborts the request (``req.abort()``, as Node's ends an unfinished response); with the
  body complete, or the request gone, it destroys the response.
- ``data`` and ``end`` come from the client protocol as the parser produces them, while
  the response flows (below); ``close`` once, when the exchange is over
  (``mark_closed``). A connection that ends before the body does gives ``aborted``,
  the request's ``close``, ``error`` (ECONNRESET "aborted", when listened to) and
  ``close``, never ``end``; a response destroyed by the application gives ``aborted``
  (within ``destroy()``, as Node's), its ``close``, then the request's (one destroyed
  complete but unread too; one destroyed without an error once its last chunk went
  out, in the last ``data`` listener or ``async for``, or while flowing, its end in
  the read that carried it, gives ``end`` after ``aborted``, as Node's, its later
  chunks dropped (``body_lost``): client/resends.py).
  An ``abort()`` queued before the body's end was read (in the ``response`` listener,
  a ``data`` listener before the last chunk) has its ``abort`` before ``end``, and a
  ``destroy(err)``'s request ``error`` before both. The last kept chunk going out with
  the body's end read queues ``end``: a ``pause()`` in its listeners does not stop it.
- ``set_encoding`` makes the chunks ``str`` (Node's ``setEncoding``), ``read()``'s too.
- ``read()`` collects the body from the moment it is called (resuming a paused
  response); a response awaited through ``await req.response()`` keeps it for a reader
  from its first byte (up to the high-water mark, as any taken response).
  It raises the parse or connection error that broke the body (``failure``), else
  ECONNRESET "aborted" (or the error given to ``destroy()``) for a body cut short or
  destroyed before it was whole (whatever the order of ``read()`` and ``destroy()``),
  or the socket error that ended a close-delimited body (``ended_by_error``).
  Each ``read()`` is an awaitable of its own: cancelling one (a timeout) leaves the
  body collecting, and a later ``read()`` waits afresh for the whole of it.
- The body flows as Node's Readable does. A response starts neither flowing nor paused:
  its chunks are kept until a ``data`` listener, ``resume()``, ``read()`` or
  ``async for`` makes it flow; then the kept chunks (and those that come before it) go
  out on the next loop turn, before newer ones. ``end`` comes only once the body has been read that way, so a ``data``
  listener attached late (after an ``await``, on a later turn) gets the whole body and
  then ``end``; the exchange is over (the socket back to the agent, the request's
  ``close``, then the response's) at that ``end``, as in Node. A flowing response with
  no ``data`` listener (``resume()``, or its last listener removed) drops what comes;
  ``pause()`` keeps it, and a ``data`` listener added then does not resume it. An
  aborted response drops what it kept: no ``data`` after ``aborted``.
- A response nobody took (no ``response`` listener, no awaiter) is Node's dumped one:
  its ``end`` comes as the body does; its body is still kept for a later ``read()`` or
  ``async for`` (``await req`` after the response came loses nothing). Past
  ``_KEPT_HIGH_WATER`` kept bytes, a response someone took stops its socket's reading
  until it is read (Node's paused stream); one nobody took is discarded as it comes (so
  its socket is freed) and a later ``read()`` or ``async for`` raises
  ERR_BODY_DISCARDED instead of giving part of it.
- ``socket`` is None once a kept-alive exchange is over (the request gave the socket
  back to its agent), as Node's response lets go of it; the response's own work uses
  ``loop``.
- Node's read-only stream state (``readable``, ``destroyed``, ...) is client/state.py's,
  derived from the flags kept here.
"""

import asyncio
from collections import deque

from ..emitter import EventEmitter
from ..streaming import Chunks, Raising, pipe, unpipe
from ..http.errors import Aborted, PrematureClose
from ..net.text import TextDecoder
from .logged import emit_logged, log
from .awaiting import ReadWaiter, bound_read, discarded as _discarded, Iteration, raisable
from .fields import ResponseFields
from .sockopts import timer_seconds
from .resends import ResponseEnds
from .state import KEPT_HIGH_WATER as _KEPT_HIGH_WATER, StreamState


class ClientResponse(ResponseEnds, StreamState, ResponseFields, EventEmitter):
    """The response (Node's IncomingMessage on the client side)."""

    def __init__(self, socket, status_code, status_message, http_version, raw_headers, pairs, request=None):
        self.socket = socket  # None once the agent took it back (kept alive), as Node's
        self.loop = socket.loop
        self.status_code = status_code
        self.status_message = status_message
        self.http_version = http_version
        self._init_fields(raw_headers, pairs, request)
        self.complete = self.aborted = False
        self._flowing = None  # Node's readableFlowing: None at first, True once resumed, False once paused
        self._kept, self._kept_size = deque(), 0  # body chunks that came while the response was not flowing
        self._flow_due = False  # a _flow() is scheduled: the kept chunks go out on the next turn
        self._flowed = False  # a _flow() ran: chunks may go out as they come (Node's state.sync off)
        self._end_pending = False  # the body ended; 'end' waits until the kept chunks are read
        self._finished = None  # what runs as 'end' is emitted, before its listeners (the request's)
        self._ended = False  # 'end' was emitted
        self._close_due = False  # the exchange closed before 'end' was over: 'close' follows it
        self._ending = False  # 'end' is being emitted
        self._end_after_abort = False  # destroyed once its last chunk went out: 'end' still comes
        self._end_queued = False  # the last chunk went out with the end read: 'end' comes, paused or not
        self.destroy_called, self.destroy_error = False, None  # destroy() was called on the response itself
        self._destroy_error_due = False  # destroy(err)'s error is still to be emitted (to a listener)
        self._closed = False
        self._closing = False  # the 'error' just before 'close' is emitted: closed already
        self._errored = None  # Node's errored: the error the response was destroyed with
        self._body = None  # (chunks, [pending read() futures]) once collected for read()
        self.taken = False  # a 'response' listener or awaiter had it (set by the request)
        self.awaited = False  # an awaiter had it: read() reports an error that breaks the body
        self._backlog = False  # the socket stopped reading for the kept chunks
        self._discarded = False  # kept chunks went past the mark with nobody to read them
        self.failure = None  # the parse or connection error that broke the body (set by the request)
        self.body_lost = False  # chunks dropped after a destroy (set by the protocol too): read() raises
        self.ended_by_error = None  # the socket error that ended a close-delimited body (the protocol's)
        self._decoder = None  # set_encoding's: the chunks go out as str

    def push_body(self, chunk):
        """A body chunk from the protocol: to the ``data`` listeners while the response
        flows (and lost without one, as in Node), else kept until it does."""
        if self._flowing and self._flowed and not self._kept:
            self._emit_data(chunk)
            return
        self._kept.append(chunk)
        self._kept_size += len(chunk)
        if self._kept_size > _KEPT_HIGH_WATER:
            if self.taken or self._flowing is not None:
                if not self._backlog:
                    self._backlog = True
                    self.socket.pause()
            else:
                self._discarded = True
                self._flowing = True  # Node's dump: what comes from now on is dropped
                self._flowed = True
                self._kept.clear()
                self._kept_size = 0

    def push_end(self, finished=None):
        """The body's end from the protocol. ``end`` comes once the body has been read:
        at once when the response flows with nothing kept, or when nobody took it (Node
        dumps such a response); else when it is resumed and the kept chunks have gone
        out. ``finished`` runs just before ``end``'s listeners. An awaited body, whole
        before anyone read it (it is under the high-water mark), is kept for a later
        reader (``read()``, ``async for``, ``data`` listeners), its ``end`` with it,
        while ``finished`` runs now: the socket is free for the agent's next request."""
        if self.destroy_called:
            # destroyed before the parser completed it in the same read: Node's destroyed
            # stream still ends if it flows (or a resume of this turn is due: its read(0)
            # finds the end) and no error destroyed it; the exchange is over already
            if not ((self._flowing or self._flow_due) and self.destroy_error is None):
                return
            self._end_after_abort = True
            finished = None
        self._end_pending = True
        if (self._flowing and self._flowed and not self._kept) or (self._flowing is None and not self.taken):
            self._finished = finished
            self._emit_end(self._events_due())
        elif self.awaited and self._flowing is None and not self._backlog and finished is not None:
            finished()
        else:
            self._finished = finished

    def _emit_data(self, chunk):
        if self._decoder is not None:
            chunk = self._decoder.decode(chunk)
            if not chunk:
                return  # (a character's first bytes: held for the next chunk)
        self.emit("data", chunk)

    def _emit_end(self, due=None):
        """``end``; ``due``: the request's ``error`` and ``abort()`` queued before the
        body's end was read come first (Node's ``end`` is a tick queued then, after theirs)."""
        if due is not None:
            self.req.emit_due(due)
        if self._decoder is not None:
            held = self._decoder.end()  # an incomplete character, a short base64 group
            if held:
                self.emit("data", held)
        self._end_pending = False
        self._ended = True
        self._ending = True
        finished, self._finished = self._finished, None
        if finished is not None:
            finished()
        try:
            self.emit("end")
        finally:  # (a listener that raised is logged by the caller: the 'close' still comes)
            self._ending = False
            if self._close_due:
                self._close_due = False
                self.loop.call_soon(self.mark_closed)

    def _schedule_flow(self):
        if not self._flow_due and (self._kept or self._end_pending or not self._flowed):
            self._flow_due = True
            self.loop.call_soon(self._flow)

    def _flow(self):
        """The kept chunks to the ``data`` listeners (one at a time: a ``pause()`` in a
        listener keeps the rest), then ``end`` once the body is read. A listener that
        raises is logged and the connection closed, as when it raises in a read (a whole
        body is destroyed, no ``end``: a reader raises ECONNRESET, not a part of it)."""
        self._flow_due = False
        self._flowed = True
        try:
            self._flow_kept()
        except Exception:
            log.exception("error in a client listener; closing its connection")
            if self.socket is not None:
                self.socket.destroy()
            if self.complete:  # (the connection's end tells a reader nothing then: it is told
                self._end_pending = False  # ECONNRESET "aborted", no 'end': the body is broken)
                self.destroy()

    def _flow_kept(self):
        kept = self._kept
        due, lost = self._events_due(), self.body_lost
        while kept and self._flowing:
            chunk = kept.popleft()
            if not kept:  # (Node queues the 'end' as it reads the last chunk, before its 'data':
                due = self._events_due()  # a pause() in its listeners stops it no more)
                self._end_queued = self._end_pending
            self._kept_size -= len(chunk)
            self._emit_data(chunk)
            if self.body_lost and not lost:  # a destroy() in the listener dropped the rest,
                if not self._flowing:  # which Node reads after it, then queues 'end' (paused: not)
                    self.end_dropped()
                    return
                due = self._events_due()
        if self._end_resumed and not (self._flowing or self._end_queued):
            return self.end_repaused()
        if not (self._flowing or self._end_after_abort or self._end_queued):  # (a resume's due flow ends a destroyed one)
            return
        if self._backlog:
            self._backlog = False
            self._resume_socket()
        if self._end_pending and (not self.destroy_called or self._end_after_abort):
            self._emit_end(due)

    def _events_due(self):
        return None if self.req is None else self.req.events_due()

    def _resume_socket(self):
        socket = self.socket
        if socket is not None:  # (None: the agent has it back; nothing more comes)
            socket.resume()

    def _take_kept(self):
        """The chunks kept so far (the caller listens to ``data`` from now on); none
        when they go out on the next turn (the caller's listener gets them then)."""
        if self._flow_due and self._flowing:
            return []
        kept = list(self._kept)
        self._kept.clear()
        self._kept_size = 0
        if self._decoder is not None:
            kept = [text for text in map(self._decoder.decode, kept) if text]
        if self._backlog:
            self._backlog = False
            self._resume_socket()
        return kept

    def on(self, event, listener):
        """A ``data`` listener makes the response flow unless it was paused (Node's)."""
        super().on(event, listener)
        if event == "data" and self._flowing is not False:
            self.resume()
        return self

    add_listener = on

    def listener_failed(self, event, error, args):
        """A coroutine listener of this response raised: its request is destroyed, as a
        raising plain listener closes the connection."""
        super().listener_failed(event, error, args)
        if not isinstance(error, asyncio.CancelledError) and self.req is not None:
            self.req.destroy()

    def collect_body(self):
        """Keep every body chunk, those kept so far and those to come, for ``read()``
        (a paused response is resumed: reading it is asking for the body)."""
        if self._body is None:
            chunks = self._take_kept()
            self._body = (chunks, [])
            self.on("data", chunks.append)
            self.once("end", self._body_complete)
            self.once("close", self._body_complete)
            self.resume()

    def _body_complete(self):
        # whichever of 'end' and 'close' came first, the other's listener goes too: one
        # left (the 'end' of a body cut short) was bound to this response, a cycle
        self.off("end", self._body_complete)
        self.off("close", self._body_complete)
        waiting = self._body[1]
        for future in waiting:
            self._settle_read(future)
        waiting.clear()

    def _settle_read(self, future):
        if future.done():  # cancelled
            return
        if self.ended_by_error is not None:
            future.set_exception(raisable(self.ended_by_error))
        elif self.complete and (not self.aborted or (self._ended and not self.body_lost)):  # (destroyed unread: its kept body went)
            future.set_result(("" if self._decoder is not None else b"").join(self._body[0]))
        elif self.failure is not None:
            future.set_exception(raisable(self.failure))
        else:
            future.set_exception(Aborted() if self._errored is None else raisable(self._errored))

    def __aiter__(self):
        """``async for chunk in res``: Node's ``for await (const chunk of res)``; raises
        ECONNRESET "aborted" when the connection goes before the body's end, the error it
        was destroyed with, or ERR_STREAM_PREMATURE_CLOSE when it was destroyed without
        one before its end (unread, or in the loop), as Node's loop does."""
        if self._discarded:
            return Raising(_discarded())
        # the chunks collected for read(), else those kept unread (the socket reads on
        # its next turn: Chunks listens before any new one comes)
        kept = list(self._body[0]) if self._body is not None else self._take_kept()
        closed = (self._errored or True) if self._closed and (self.aborted or not self.complete) else False
        chunks = Chunks(self, PrematureClose, kept=kept, ended=self._ended, closed=closed)
        self.resume()  # (a paused response too: iterating is reading)
        return Iteration(self, chunks)

    def set_timeout(self, seconds, callback=None):
        """Node's ``res.setTimeout(ms[, callback])``: the socket's idle timeout, whose ``timeout``
        comes to the request and, while the body is in progress, here. After ``end`` it does
        nothing: the socket may serve another request by then (Node's response let go of it)."""
        if self._ended or self.socket is None:  # (None: the agent has its socket back)
            return self
        seconds = timer_seconds(seconds)  # (before the listener: nothing is added when it raises)
        if callback is not None:
            self.on("timeout", callback)
        self.socket.set_timeout(seconds)
        return self

    def set_encoding(self, encoding="utf8"):
        """Node's ``res.setEncoding(encoding)``: body chunks (``data``, ``async for``,
        ``read()``) are ``str`` decoded with one of Node's encodings (net/text.py's; an
        unknown one raises ERR_UNKNOWN_ENCODING); a character split between chunks comes
        whole with the next one, what is held at the end comes before ``end``. Chunks
        collected or kept so far are decoded too."""
        decoder = TextDecoder(encoding)
        self._decoder = decoder
        if self._body is not None:
            chunks = self._body[0]
            chunks[:] = [text for text in map(decoder.decode, chunks) if text]
        return self

    def pipe(self, destination, end=True):
        """Node's ``res.pipe(destination[, {end}])`` (streaming.pipe: with backpressure), e.g.
        a proxy's ``upstream_res.pipe(res)``. After ``await req`` the body is being kept
        for ``read()``: what came so far is written first; a body already ended ends
        ``destination`` on the next turn (Node's pipe of an ended stream)."""
        if self._body is not None:
            for chunk in self._body[0]:
                destination.write(chunk)
        if self._ended:
            if end:
                self.loop.call_soon(destination.end)
            return destination
        return pipe(self, destination, end)

    def unpipe(self, destination=None):
        """Node's ``res.unpipe([destination])``."""
        return unpipe(self, destination)

    def pause(self):
        """Stop the body's ``data`` events (Node's ``res.pause()``): chunks are kept (the
        socket reads on until ``_KEPT_HIGH_WATER`` bytes are kept, so the connection's
        end is still seen); a ``data`` listener added now does not resume it."""
        self._flowing = False
        return self

    def resume(self):
        """Let the body flow (Node's ``res.resume()``): the kept chunks and the rest go to
        the ``data`` listeners on the next turn, then ``end``; without a listener they
        are dropped, so the exchange ends and the socket is freed."""
        self._flowing = True
        if self._ended:
            return self
        if self._end_on_resume:
            self.end_resumed()
        if not self.complete:
            self._backlog = False
            self._resume_socket()
        self._schedule_flow()
        return self

    def read(self, limit=None):
        """An awaitable of the whole body; raises ECONNRESET if the connection ends first.
        Past ``limit`` bytes: ERR_BODY_TOO_LARGE, and the response is destroyed."""
        future = asyncio.get_running_loop().create_future()
        if self._discarded:
            future.set_exception(_discarded())
            return future
        self.collect_body()
        if limit is not None and bound_read(self, future, sum(map(len, self._body[0])), limit):
            return future
        if self._ended or self._closed:
            self._settle_read(future)
        else:
            waiting = self._body[1]
            waiting[:] = [pending for pending in waiting if not pending.done()]  # drop cancelled reads
            waiting.append(future)
            future.add_done_callback(ReadWaiter(self).stop)  # (a timeout only awaiters hear destroys the request)
        return future

    def mark_closed(self):
        """Emit ``close`` once (called by the request when the exchange is over); after
        ``end`` when the body is complete but not read yet (Node's order)."""
        if self._closed:
            return
        if self._end_pending and (not self.destroy_called or self._end_after_abort):
            self._close_due = True
            return
        if self._end_on_resume:  # destroyed unread and not resumed: its kept chunks go now
            self.mark_dropped()
        req = self.req
        if req is not None:  # an abort() after a destroy(): its 'abort' first, as Node's tick
            req.emit_abort()
        if self._destroy_error_due:  # destroy(err) after the body's end: 'error' first
            self._destroy_error_due = False
            if self.listener_count("error"):
                self._closing = True
                emit_logged(self, "error", self.destroy_error)  # (on a turn of its own: client/logged.py)
        self._closed = True
        emit_logged(self, "close")

    def close_soon(self):
        """``close`` on a later loop turn; when the exchange ends as ``end`` is emitted,
        after the ``end`` listeners (and what they queued), as Node's stream does."""
        if self._ending:
            self._close_due = True
        else:
            self.loop.call_soon(self.mark_closed)

    def close_aborted(self, error=None):
        """After an abort: ``error`` (``error``, else ECONNRESET "aborted"; only to a
        listener, as Node gives it only where it is handled), then ``close``."""
        self._destroy_error_due = False  # (given here, if it was the one)
        if not self._closed and self.listener_count("error"):
            self._closing = True
            emit_logged(self, "error", error or self._errored or Aborted())
        self.mark_closed()
