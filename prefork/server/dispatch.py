"""Dispatch: which event a parsed request gets, and what may follow a final response
(a part of ``Connection``, which owns the state these methods use).

Rules (Node's, spec §2-§4):
- Dispatch, in order: missing Host (HTTP/1.1) -> chunked 400; over
  ``max_requests_per_socket`` (HTTP/1.1) -> ``dropRequest`` + 503; ``Expect`` (HTTP/1.1)
  -> ``checkContinue`` / automatic 100 / ``checkExpectation`` / 417; else ``request``.
- Nothing follows a final response (RFC 9112 9.6): once a response is fixed with
  ``Connection: close`` (the request's, the app's, the automatic 400, a drain), no later
  request is dispatched and the responses queued after it never reach the wire (they
  are closed). A request whose response framing the app decides (HTTP/1.0 keep-alive,
  no ``TE: chunked``) holds the dispatch of the requests behind it until its head is
  fixed: they are dispatched if it keeps the connection, dropped if it is the last.
"""

from ..emitter import run_in
from ..http import framing


class HeldRequest:
    """A request parsed while an earlier response's framing is undecided: dispatched (and
    its end delivered) once that response keeps the connection."""

    __slots__ = ("req", "res", "version", "complete", "trailers")

    def __init__(self, req, res, version):
        self.req = req
        self.res = res
        self.version = version
        self.complete = False
        self.trailers = None


class StopParsing(Exception):
    """Stops parsing: the socket was destroyed inside a parser callback."""


# what a listener raises that is not its failure: it ends the worker as it would any
# program (any other BaseException, GeneratorExit or an app's own, is a failing listener)
FATAL = (SystemExit, KeyboardInterrupt)


class Dispatch:
    """Connection's dispatch methods (mixed into ``Connection``)."""

    def _start(self, req, res, version):
        if res.should_keep_alive and not res.can_chunk:
            # HTTP/1.0 keep-alive: a close-delimited answer would end the connection
            self._holding = res
        try:
            if req.context is None:  # (the server's listeners need no context of their own)
                self._dispatch(req, res, version)
            else:
                run_in(req.context, self._dispatch, req, res, version)
        except (StopParsing, *FATAL):
            raise
        except BaseException as exc:
            self._listener_failed(res, exc)

    def head_fixed(self, res):
        """``res`` has fixed its head: a final one ends the queue; a held one lets the
        requests behind it go."""
        if res.closes_connection:
            self._final = True
            if self.socket.protocol is self:  # (one that is over has let its parser go: not bound again)
                self.parser.on_begin = self._refuse_message
            self._drop_after(res)
            if self._holding is res:
                self._holding = None
            return
        if self._holding is res:
            self._holding = None
            if self._held:
                self.socket.loop.call_soon(self._release_held)

    def _drop_after(self, res):
        responses = self._responses
        if res not in responses:
            return
        later = []
        while responses and responses[-1] is not res:
            later.append(responses.pop())
        if later:
            self._closing = True
            self._held = []
            if self._req is not None and self._req is not res.req:
                self._req = None
            for dropped in reversed(later):
                dropped.mark_closed()

    def _release_held(self):
        while self._held and self._holding is None and not self._final and not self.socket.destroyed:
            held = self._held.pop(0)
            try:
                self._start(held.req, held.res, held.version)
            except StopParsing:
                return
            if held.complete and not held.req.upgrade:
                try:
                    held.req.push_end(held.trailers)
                except FATAL:
                    raise
                except BaseException as exc:
                    if self.listener_failed(held.res, exc):
                        return

    def _dispatch(self, req, res, version):
        server = self.server
        if version == "1.1":
            if server.require_host_header and "host" not in req.headers:
                res.write_head(400, ["Connection", "close"])
                res.end()
                return
            cap = server.max_requests_per_socket
            if cap and cap > 0:
                self._requests += 1
                res.max_requests_reached = cap <= self._requests
                if cap < self._requests:
                    server.stats.dropped_requests += 1
                    server.emit("dropRequest", req, self.socket)
                    res.write_head(503)
                    res.end()
                    return
            expect = req.headers.get("expect")
            if expect is not None:
                if framing.expects_continue(expect):
                    res.expect_continue = True
                    if server.listener_count("checkContinue"):
                        server.emit("checkContinue", req, res)
                    else:
                        res.write_continue()
                        server.emit("request", req, res)
                elif server.listener_count("checkExpectation"):
                    server.emit("checkExpectation", req, res)
                else:
                    res.write_head(417)
                    res.end()
                return
        server.emit("request", req, res)

    def _refuse_preface(self):
        """A PRI request (the method of HTTP/2's connection preface, which llhttp lets
        through only without an HTTP/1.1 version) has had its 'request'; the connection
        is destroyed now, as Node's server destroys it after the read: what the
        listener wrote at once goes out (and finishes) first, a later answer is dropped."""
        self._closing = True
        socket = self.socket
        socket.uncork()
        socket.cork()
        socket.destroy()
        raise StopParsing()
