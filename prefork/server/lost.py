"""The end of a connection as its requests and responses hear of it: what is done at
once, what is told on the socket's ``close`` turn, and in which order.

Rules (Node 20's, measured: ``res.destroy()``, ``req.destroy()``, ``req.socket.destroy()``,
with or without an error, from a ``request`` listener, a timer, after ``end()``, during a
pending write; a peer's reset, a timeout and the server's own closes take the same road):
- Done at once, inside the call that destroys the socket: the responses are closed (a
  later write is dropped, its callback still runs: on the close turn before the responses'
  ``close`` while that turn is to come, as Node's next tick), each one cut is observed (access log,
  metrics), the server's count of its connections is updated.
- Told on a later loop turn, the socket's ``close`` turn, so that a listener added right
  after the call (``res.destroy(); res.on('close', f)``) still hears it: the socket's
  ``error`` (a destroy with one), then for each response cut its request's ``aborted``
  (when the body was not read to its end) and the response's ``close``, then the
  socket's ``close`` listeners, then each such request's ``error`` (ECONNRESET
  "aborted", to a listener only) and ``close``. Until then the request is not
  ``destroyed`` nor ``aborted``, as Node's; from its ``aborted`` on it is both (the
  response's ``close`` finds it ``destroyed``, as Node's).
- ``req.destroy()`` emits ``aborted`` inside the call (Node does) and marks the request
  destroyed; its ``error`` and ``close`` are told on the close turn before the
  responses' ``close`` (after the socket's ``error``); a request read to its end has
  closed already (from its ``end`` listener: it closes on the next turn), the
  connection left alone.
- A response whose bytes the destroy's last try put in the kernel is done at once (its
  later writes dropped); its ``finish`` comes on the next turn, before the socket's
  ``error`` (and the ``clientError`` a destroy with an error makes), its observation and
  its ``close`` first on the close turn (all at once when nobody listens to it or its
  request: nothing to tell). So is one whose flush waiter the destroy's own flush had
  taken already (a ``finish`` listener of the response before it destroyed the socket):
  its bytes are all in the kernel, it finishes, as Node's does. One cut by a failing
  listener (``cut_short``) never finishes: its close is told as a cut's.
- The request being read when its connection went is kept until the close is told: the
  rest of that read may still end it (``end``), as Node's parser goes on with the bytes
  it was given; the close then finds it read to its end (no ``aborted``).
- A request whose head was being handed over (CONNECT, upgrade) when the connection
  went, or whose response is missing, closes after the socket's ``close`` listeners.
- A connection with events still to tell is known to its server until they are told:
  the exiting worker's ``destroy_all()`` tells them at once (``tell_now``), as its loop
  may not turn again before the app interfaces end.
- A request body its reader paused after taking a chunk is kept for its ``resume()``
  (Node's rule) until its last ``data`` listener goes (``off``, ``remove_all_listeners``):
  nobody reads it then, and it is dumped as one nobody read, at once when its response
  is done (where Node would keep it: an adapter lets go so of a body its app left unread).
"""

from collections import deque

from ..http.errors import Aborted
from ..net.writing import WriteCallback
from .replies import CutResponse


def _finishing(tell):
    """A response's ``tell_finished`` waiting among a connection's close-turn tells."""
    return getattr(tell, "__name__", None) == "tell_finished"


class ConnectionLost:
    """A mixin of ``Connection``: its socket's ``connection_lost`` and ``after_close``."""

    _tells = None  # what the socket's close turn tells first (a 'close' listener put first)
    _told_after = None  # what it tells after the socket's 'close' listeners

    def connection_lost(self, error):
        self.socket_errored = None  # (its traceback holds this connection)
        if self._half_close_timer is not None:
            self._half_close_timer.cancel()
            self._half_close_timer = None
        held = [h.res for h in self._held] if self._held else ()  # (never dispatched: no access log line)
        self._held = []
        self._res = None
        self._drain_waiters = None  # (responses that waited for a 'drain' that will not come)
        self._holding = None  # (each refers back to this connection)
        self._continuation = None
        responses, self._responses = self._responses, deque()
        # a response cut while its bytes waited in the socket went out with fewer: the
        # one writing (its bytes last), then those ended before it
        unsent = self.socket.unsent
        lost = {}
        earlier = self._unflushed or ()
        self._unflushed = None
        if unsent:
            for res in (responses[0] if responses else None, self._attached, *reversed(earlier)):
                if unsent and res is not None and res.on_socket and res.head_out and not res.writable_finished:
                    lost[res], unsent = res.unsent_body(unsent)
        unanswered = 499 if self._eof or self._peer_gone else 444
        told = ()  # the responses closed now, told on the close turn
        for res in responses:
            if res.mark_closed(None if res in held else unanswered, lost.get(res, 0), True):
                told += (res,)
        finals = ()  # requests closed after the socket's 'close' listeners
        if self._req is not None:  # (kept until the close is told: the rest of this read may end it)
            finals = (self._req,)
        if self._upgrading is not None:  # closed before its turn to be handed over
            finals += (self._upgrading[0],)
            self._upgrading = None
        if self._attached is not None:
            earlier = (*earlier, self._attached)
            self._attached = None
        for res in earlier:  # (all their bytes went to the socket)
            if res.writable_finished:
                continue  # (a 'finish' listener destroyed the socket: its on_flushed closes it next)
            if res in lost or res.cut_short:
                if res.mark_closed(None, lost.get(res, 0), True):
                    told += (res,)
            else:  # all in the kernel (its flush waiter taken by the flush the destroy came from)
                res.flushed_at_destroy()
        if told or finals:
            for res in told:
                self._tell(res.tell_closed)
            self._told_after = ([res.req for res in told], finals)
            self.server.close_turn_due(self)
        self.server.connection_closed(self, self.socket)  # (last: a server 'close' it brings comes first)

    def tell_at_close(self, tell, finish=False):
        """``tell()`` on the close turn of this connection's socket, before the responses
        cut are told (a destroyed request's ``error`` and ``close``); ``finish``: before
        anything else told then but earlier finishes (a response that finished at the
        destroy, as Node's 'finish' comes first) and write callbacks (``WriteCallback``:
        a write made after the destroy, whose callback Node calls on the next tick, in
        the order written). False when the socket is no longer
        this connection's (handed over) or told its close already."""
        if self.socket.protocol is not self:
            return False
        self._tell(tell, finish)
        return True

    def closed_after_end(self, tell):
        """A request read to its end after its socket was destroyed: its ``close`` now (Node's
        next tick, before the socket's close turn), or after the ``close`` of a response
        finished at the destroy, told on that turn (Node's comes first then)."""
        tells = self._tells
        if tells and any(map(_finishing, tells)) and self.tell_at_close(tell):
            return
        tell()

    def _tell(self, tell, finish=False):
        tells = self._tells
        if tells is None:
            tells = self._tells = []
            self.socket.prepend_listener("close", self._closing_told)
            if self._told_after is None:
                self._told_after = ((), ())  # (after_close looks at this one alone)
            self.server.close_turn_due(self)
        if finish:
            at = 0
            while at < len(tells) and (type(tells[at]) is WriteCallback or _finishing(tells[at])):
                at += 1
            tells.insert(at, tell)
        else:
            tells.append(tell)

    def _closing_told(self, _had_error=None):
        self.socket.off("close", self._closing_told)
        tells, self._tells = self._tells, None
        for tell in tells or ():
            tell()

    def flushed_at_destroy(self, waiter):
        """A flush waiter of the socket whose bytes its destroy found in the kernel: a
        response's ``finish`` and ``close`` are told on the close turn (module rules), a
        write's callback on the next turn, before that ``finish`` (Node calls it after the
        destroy returns); anything else runs now."""
        if type(waiter) is WriteCallback:
            self.socket.loop.call_soon(waiter)
            return
        owner = getattr(waiter, "__self__", None)
        if isinstance(owner, ResponseClosing) and waiter.__name__ == "on_flushed":
            owner.flushed_at_destroy()
        elif isinstance(owner, ResponseClosing) and waiter.__name__ == "flushed_cut":
            pass  # (connection_lost tells its close, as a cut's, on the close turn)
        else:
            waiter()

    def after_close(self):
        self.parser.release()  # the close is told: the parser (maybe feeding at connection_lost) goes
        self._tell_after()

    def tell_now(self):
        """What the close turn of this connection's destroyed socket is to tell, told at
        once: the worker exits, its loop may not turn again before its app interfaces
        end (a WSGI iterable is closed on its response's ``close``)."""
        if self.socket.destroyed:
            if self._tells is not None:
                self._closing_told()
            self._tell_after()

    def _tell_after(self):
        after = self._told_after
        if after is not None:  # (set only then: a name fewer on most connections)
            self._told_after = None
            self.server.close_turn_told(self)
            self._req = None
            if self._tells:  # (told after the 'close' listeners: one of them took this one's off)
                self._closing_told()
            for req in after[0]:
                req.mark_closed(reset=True)
            for req in after[1]:
                req.mark_closed(final=True)


class ResponseClosing:
    """A mixin of ``ServerResponse``: closed before it was done."""

    __slots__ = ()
    cut_short = False  # cut by a failing listener: closes without 'finish' (set per instance)

    def flushed_cut(self):
        """What a response cut by a failing listener wrote is in the kernel: it closes
        as one cut (observed with those bytes; its request's ``aborted``, its ``close``,
        its request's ``error`` and ``close``), never ``finish``, as Node's response
        does when its socket goes before ``end()``. Its socket's close follows."""
        self.mark_closed(None, 0)

    def mark_closed(self, unanswered=None, lost=0, later=False):
        """The connection went (or dropped this response) before it was done: the
        request is aborted, in Node's order (module rules). A response never begun is
        observed (access log, metrics) with the status ``unanswered`` when one is given
        (the connection's: 499 when the peer ended the connection, 444 when the server
        did), as nginx logs a request it never answered; the response itself keeps what
        the app set. One cut while its body went out is observed with the body bytes
        that reached the kernel (``lost``: those of ``bytes_sent`` that did not, as its
        connection counts them). ``later``: the caller tells it (``tell_closed``, then
        its request's close) on the socket's close turn; True then, when it closed now."""
        if not self._closed:
            self._closed = True
            queued, self._queued = self._queued, None
            if queued:  # a response that waited its turn: its writes' callbacks still run, as Node's
                for item in queued:
                    if callable(item):
                        self._socket.loop.call_soon(item)
            if self.replied:
                pass  # answered by the server (a canned 4xx) before its head: the reply has the line
            elif self.head_out and not self.writable_finished:
                # cut short while being written, or ended but not all out yet (the peer
                # reset the connection before the kernel took it): still observed (access
                # log, metrics) with what went out
                observer = self._conn.server.response_observer
                if observer is not None:  # (one waiting its turn sent nothing)
                    sent = self.bytes_sent - lost if self._active else 0
                    observer(self.req, CutResponse(self, self.status_code, sent))
            elif unanswered is not None and not self.head_out:
                observer = self._conn.server.response_observer
                if observer is not None:
                    observer(self.req, CutResponse(self, unanswered, 0))
            if later:
                return True
            self.tell_closed()
            self.req.mark_closed(reset=True)
        return False

    def flushed_at_destroy(self):
        """All its bytes reached the kernel in its socket's last try at a destroy: done
        now (later writes dropped), its ``finish``, its observation as a whole response
        and its ``close`` (and its request's ``close``) on the close turn."""
        if self._closed:
            return
        if not self._events and self.req.unheard():
            self.on_flushed()  # (nobody listens: nothing to tell later)
            return
        self.writable_finished = True
        self._closed = True
        if not self._conn.tell_at_close(self.tell_finished, True):
            self.tell_finished()
        else:  # its 'finish' comes on the next turn, before the socket's 'error' and close turn
            self._finish_told = False  # (due)
            self._socket.loop.call_soon(self.tell_finish)

    def tell_finish(self):
        """``finish`` of a response done at its socket's destroy, once."""
        if getattr(self, "_finish_told", False):
            return
        self._finish_told = True
        if self._events:
            try:
                self.emit("finish")
            except Exception as exc:
                self._conn.listener_failed(self, exc)

    def tell_finished(self):
        """``finish`` (unless told already), the observer (access log, metrics),
        ``close``: as a response finished on its own is told."""
        for event in ("finish", None, "close"):
            if event == "finish":
                self.tell_finish()
            elif event is None:
                observer = self._conn.server.response_observer
                if observer is not None:
                    observer(self.req, self)
            elif self._events:
                try:
                    self.emit(event)
                except Exception as exc:
                    self._conn.listener_failed(self, exc)
        self.req.mark_closed()

    def tell_cut(self):
        """All a response closed before it was done tells: ``tell_closed``, then its
        request's ``error`` and ``close``."""
        self.tell_closed()
        self.req.mark_closed(reset=True)

    def tell_closed(self):
        """The request's ``aborted`` (when due: never once the response finished, as
        Node's), then this response's ``close``."""
        if not self.writable_finished:
            self.req.abort()
        if self._events:
            try:
                self.emit("close")
            except Exception as exc:
                self._conn.listener_failed(self, exc)
            if self._events and "drain" in self._events:
                # no 'drain' comes after the close: its listeners (a writer waiting for
                # one, bound to what refers back to this response) are let go now
                self.remove_all_listeners("drain")


class RequestClosing:
    """A mixin of ``IncomingMessage``: destroyed, aborted, closed."""

    __slots__ = ()

    def destroy(self, error=None):
        """Node's ``req.destroy([error])``: a body not complete, or not read to its end,
        aborts the request (``aborted`` now) and destroys the connection (its ``error``
        and ``close`` on the close turn, then the response's ``close``); a body read to
        its end closed the request already (from its ``end`` listener: it closes on the
        next turn; its response may still be sent)."""
        if self.destroyed:
            return self
        socket = self.socket
        if not self.complete or not self._consumed:
            self.abort()
            self.mark_closed(error=error, final=True, tell=False)
            conn = self._conn
            if conn is None or not conn.tell_at_close(self.tell_closed):
                socket.loop.call_soon(self.tell_closed)
            socket.destroy(error)  # (its 'error' listeners get it, as Node's)
        else:
            self.mark_closed(error=error, final=True, tell=False)
            socket.loop.call_soon(self.tell_closed)
        return self

    _close_due = False  # aborted (so destroyed), its close not told yet (mark_closed tells it)

    def dumped_when_answered(self):
        """Paused, and its kept body discarded once its response is done (Node's dump):
        nobody began to read it (a reader that paused it after taking a chunk keeps the
        rest for its ``resume()``) and no ``readable`` listener reads it."""
        return self.readable_flowing is False and not self._consuming and not self.listener_count("readable")

    def off(self, event, listener):
        super().off(event, listener)
        if event == "data":
            self._dump_unheard()
        return self

    remove_listener = off

    def remove_all_listeners(self, event=None):
        super().remove_all_listeners(event)
        if event is None or event == "data":
            self._dump_unheard()
        return self

    def _dump_unheard(self):
        """The last ``data`` listener of a body its reader paused went: nobody reads it
        now, so it is dumped as one nobody read (an adapter's reader lets go so at its
        response's ``close``): at once when its response is done and it stopped the
        reading, else at that response's end (flow.py)."""
        if self._consuming and self.readable_flowing is False and not self.destroyed \
                and not self.listener_count("data") and not self.listener_count("readable"):
            self._consuming = False
            if self._conn is not None and self.readable_length > self.readable_high_water_mark:
                self._conn.body_backlog(self)

    def unheard(self):
        """No listener of any event of this request (nothing its close would tell)."""
        return not self._events

    def abort(self):
        """The connection goes before the response is done: ``aborted`` when the body was
        not complete or not read to its end (then ``mark_closed(reset=True)``)."""
        if not self.destroyed and not self.aborted and (not self.complete or not self._consumed):
            self.aborted = True
            # destroyed from here on, as Node's req.destroy() marks it before its 'aborted'
            # (the response's 'close' finds it so); its 'error' and 'close' still to come
            self.destroyed = self._close_due = True
            if self._events:
                try:
                    self.emit("aborted")
                except Exception as exc:
                    self.listener_failed("aborted", exc, ())

    def mark_closed(self, reset=False, error=None, final=False, tell=True):
        """``close`` once; ``reset``: the connection went before the response was done
        (``error`` ECONNRESET "aborted" first, to a listener only, when the request was
        aborted: its body not complete or not read to its end); ``error``: the one given
        to ``destroy``, emitted the same way. Otherwise (its response finished) a request
        whose ``end`` is still to come gets its ``close`` after it, as in Node, unless
        ``final`` (its connection went). ``tell``: false, the events wait for the
        caller's ``tell_closed()``."""
        if not self.destroyed or self._close_due:
            self._close_due = False
            if not (reset or final or self._ended or error is not None):
                if self._end_pending and self.readable_flowing is None:
                    # read by nobody, complete: Node's dump drops what is kept and brings its
                    # 'end', then 'close', after the response's 'close', before the loop turns
                    if self._events:
                        self._close_after_end = True
                        self._deliver()
                        return
                    if self._buffered:
                        self._buffered = None
                        self._buffered_size = 0
                        self._discarded = True
                    self._ended = True  # (nobody hears it: closed now)
                    self._end_pending = False
                else:
                    self._close_after_end = True  # its response is done, its 'end' still to come: 'close' after it
                    if self.readable_flowing is False and not (self._events and "readable" in self._events) \
                            and not self._consuming:
                        # paused before anyone read it, or held for a coroutine that did not
                        # read it: discarded now (Node's dump; a reader that paused it keeps it)
                        self.resume()
                    return
            self.destroyed = True
            if error is not None or (reset and self.aborted):
                self.errored = error or Aborted()
            if tell and self._events:  # (tell_closed, inlined: this runs per request)
                try:
                    if self.errored is not None and self.listener_count("error"):
                        self.emit("error", self.errored)
                    self.emit("close")
                except Exception as exc:
                    self.listener_failed("close", exc, ())

    def tell_closed(self):
        """The ``error`` (to a listener, when there is one) and ``close`` of a destroyed
        request."""
        if self._events:
            try:
                # (a body read to its end is not aborted: no error, as Node's)
                if self.errored is not None and self.listener_count("error"):
                    self.emit("error", self.errored)
                self.emit("close")
            except Exception as exc:
                self.listener_failed("close", exc, ())
