"""What the closing of a request's socket, or its hand-over to an ``upgrade``/``connect``
listener, does to its exchange: a mixin of ``ClientRequest`` (client/request.py), whose
state it reads and sets (``res``, ``_errored``, ``_close_deferred``, ``destroyed``) and
whose ``_error`` and ``_close`` it calls.

Rules (Node's; the request's rules in client/request.py tell the orders):
- A socket that closes before a response gives ECONNRESET "socket hang up".
- A socket that closes while body chunks or the body's end wait for a reader closes
  the exchange two turns later (Node's libuv close phase), the agent's line too.
- A response open at the close: one the closing read completed ends as usual (its
  ``close`` after its ``end``, then the request's; on a kept-alive exchange the
  request's first, as Node ends one); one the application destroyed is aborted (with
  the error it was destroyed with, the request's ``error`` before an ``abort()``'s
  ``abort``); a body cut short is aborted, then gets ECONNRESET "aborted".
"""

from ..http.errors import HTTPError
from .logged import log


class SocketClose:
    """Mixed into ``ClientRequest``."""

    def hand_over(self, event, head):
        """A CONNECT answer or a 101 ended HTTP on the socket: give it to the listener of
        ``event``, or close it when nobody listens."""
        socket = self.socket
        socket.set_timeout(0)
        if self.listener_count(event):
            socket.protocol = None
            self.agent.remove_socket(self, socket)
            self._answered = True
            self.res.taken = True  # the listener has it (no dump: its 'end' waits for a read, as Node's)
            try:
                self.emit(event, self.res, socket, head)
            finally:
                # (a raising listener too: the read's handler logs it, closes the socket; an awaiter settles)
                dumped, self.destroyed = self.destroyed, True  # the socket is the listener's:
                # destroy() leaves it alone (Node's); one in the listener dumped the response
                if dumped:  # its 'close', an abort()'s 'abort', the response's 'end' and
                    self._abort_first = False  # 'close', before the socket's, as Node's ticks
                    self._close()
                    self.emit_abort()
                    self.res.end_dumped()
                elif self.res.destroy_called:  # (the listener's res.destroy(): its 'close'
                    self._close()  # after the request's, before the socket's, as Node's)
                    self.res.mark_closed()
                else:
                    self._close()
                    # the response ended at its head (Node's parser completes it): its 'end'
                    # once read (read() gives b"", async for stops), then its 'close'
                    self.res.push_end()
                    self.res.close_soon()
        else:
            socket.destroy()

    def socket_closed(self, counted):
        """The socket closed; ``counted`` when it still counted in the agent's pool."""
        self.emit_abort()  # (an abort() after a destroy(): its 'abort' first, as Node's)
        if self.res is None and not self._errored:
            self._error(HTTPError("ECONNRESET", "socket hang up"))
        res = self.res
        if res is not None and res.unread and not res.closed and not res.destroy_called:
            # body chunks or the end wait for a reader: Node's socket closes in libuv's
            # close phase, after the setImmediate callbacks and the ticks they queue, so
            # a reader added on the next turn reads them (and a complete body ends)
            # first; the exchange's close waits as long (two turns), the line's next 'socket' too
            self._close_deferred = True
            self.loop.call_soon(self.loop.call_soon, self._closed_socket, res, counted)
            return
        if res is not None and not res.closed:
            self._closed_socket(res)
        else:
            self.loop.call_soon(self._close)
        if counted:
            self.agent.socket_closed(self)

    def _closed_socket(self, res, counted=False):
        """What the socket's close means for the exchange (its response open); deferred, for the agent's line too."""
        if counted:
            self.agent.socket_closed(self, closed=True)
        if not res.closed:
            # decided once the read that closed it is parsed; a response destroyed
            # complete but unread is aborted as one cut short
            if not res.complete or (res.destroy_called and not res.readable_ended):
                self.loop.call_soon(self._cut_short, res)
                return
            self.loop.call_soon(res.mark_closed)
        self.loop.call_soon(self._close)

    def _cut_short(self, res):
        """The socket closed while the response was open. Node's orders: a body the
        closing read completed ends as usual (the response's ``close``, then the
        request's; the other way round when the exchange kept its socket); a
        response the application destroyed gives ``aborted``, (with the error it was
        destroyed with: the request's ``error``, the response's) its ``close``, then the
        request's; a body cut short gives ``aborted``, ``close``, the response's
        ``error`` (ECONNRESET "aborted", to a listener) and its ``close``."""
        given = res.destroy_error if res.destroy_called else None
        if given is not None and res.socket_error is given:  # (Node's socket destroyed with it: its
            self._error(given, given=True)  # 'error' tick before an abort()'s; none if it was gone)
            self._emit_error()
        self.emit_abort()  # (an abort() after the destroy() that closed the socket: its 'abort' first)
        if res.complete and not res.destroy_called:
            if self.keeps_socket:  # (Node's end of a kept-alive exchange closes the request first)
                self._close()
                res.mark_closed()
            else:  # (the response's close follows its 'end'; the request's comes at the socket's)
                res.mark_closed()
                self._close()
            return
        self.destroyed = self.destroyed or not res.destroy_called  # (Node's socket close: before 'aborted')
        self.agent.socket_gone(self)  # (and the agent's listener of it)
        try:
            res.mark_aborted()
        except Exception:  # (on a turn of its own, as client/logged.py logs: the closes still come)
            log.exception("error in a client 'aborted' listener")
        if res.destroy_called:
            if given is not None:
                res.close_aborted(given)
            else:
                res.mark_closed()
                if not res.closed:  # (a resume's 'end' is due first: the closes follow it)
                    res.once("close", self._close)
                    return
            self._close()
            return
        self._close()  # before the socket's own 'close' listeners, as in Node
        self.loop.call_soon(res.close_aborted)
