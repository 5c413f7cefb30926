"""ClientProtocol: the client side of one HTTP exchange on a socket.

Rules (Node's, spec section 7):
- The socket's bytes feed one response parser; a 1xx other than 101 gives ``continue``
  (for 100) and ``information`` on the request; the final head gives ``response``, then
  the body's ``data`` (never an empty one) and ``end`` on the response.
- The response to HEAD, to CONNECT and a 101 end at their head (httptools has no
  skip-body hook for them): the protocol finds where the head ended itself and hands the
  rest over (``connect``/``upgrade``), or, for HEAD, starts a fresh parser. A 101
  without ``Upgrade`` and ``Connection: upgrade`` switches nothing (llhttp's rule, so
  Node's): it is an ordinary response, ended at its head as HEAD's is.
- The socket's idle ``timeout`` goes to the request, then to the response while its
  body is in progress, as in Node.
- A parse error before the response ends the exchange with that error; a FIN ends a
  close-delimited body (no Content-Length, and ``chunked`` not the last
  Transfer-Encoding coding, as llhttp frames it); the socket's close tells the request (``socket hang up`` if no
  response had begun; a body cut short by it, Content-Length or chunked, is aborted,
  never ended). A read or write error destroys the socket.
- After the final response (HEAD's included), bytes before the next request mean the
  peer framed it badly or answers what was not asked: the socket is not kept for
  another request (destroyed, which takes it out of the agent's pool).
"""

import logging

from ..http import framing
from ..http.errors import ParseError
from ..http.headers import header_map
from ..http.parser import ResponseParser
from .response import ClientResponse, Information

log = logging.getLogger("prefork.client")


class _StopAtHead(Exception):
    """Raised from the parser callback: the message ends at its head (HEAD, CONNECT, 101)."""


class _Unasked(Exception):
    """Raised from the parser callback: bytes of a message after the final response."""


class ClientProtocol:
    def __init__(self, request, socket):
        self.request = request
        self.socket = socket
        self.parser = ResponseParser(self)
        self.res = None
        self.done = False  # the final response ended: what follows was never asked for
        self._tail = b""  # the last bytes of the previous read: a head end may straddle reads
        self._heads = 0  # heads (1xx and final) that ended in the read being parsed
        self._stop_reason = None

    def release(self):
        """The exchange is over: the parser (which refers back to this protocol) goes."""
        self.parser.release()

    # -- bytes in ------------------------------------------------------------------------------
    def data_received(self, data):
        self._heads = 0
        try:
            offset = self.parser.feed(data)
        except _StopAtHead:
            self._handoff(data)
            return
        except _Unasked:
            log.debug("bytes after the response on a kept-alive connection: closing it")
            self.socket.destroy()
            return
        except ParseError as err:
            self.request.fail(err)
            self.socket.destroy()
            return
        if offset is not None:
            self._tail = b""
            self._stop_reason = "upgrade"
            self._handoff_at(data, offset)
            return
        self._tail = (self._tail + data)[-3:]

    def _handoff(self, data):
        """The message ended at its head: find where (the end of the last head parsed in
        this read: 1xx heads may come before it), hand the rest over."""
        window = self._tail + data
        end = -4
        for _ in range(self._heads):  # each head ends at its first CRLFCRLF (llhttp is strict)
            end = window.find(b"\r\n\r\n", end + 4)
            if end < 0:
                break
        offset = max(0, end + 4 - len(self._tail))
        self._tail = b""
        self._handoff_at(data, offset)

    def _handoff_at(self, data, offset):
        reason = self._stop_reason
        self._stop_reason = None
        if reason == "HEAD":
            res = self.res
            if data[offset:]:
                res.keep_alive = False  # a body after a HEAD response: not reused
            res.complete = True
            self.done = True  # what comes next was not asked for (its 'end' may wait for a reader)
            self.parser = ResponseParser(self)
            res.push_end(self.request.response_complete)  # as below
            return
        self.request.hand_over("connect" if reason == "CONNECT" else "upgrade", data[offset:])

    # -- parser callbacks ----------------------------------------------------------------------
    def on_message_begin(self):
        if self.done:
            raise _Unasked()

    def on_headers(self, status, reason, version, raw, keep_alive, upgrade):
        self._heads += 1
        request = self.request
        if 100 <= status < 200 and status != 101:
            info = Information(status, reason, version, raw)
            if status == 100:
                request.emit("continue")
            request.emit("information", info)
            return
        res = ClientResponse(self.socket, status, reason, version, raw)
        self.res = res
        request.response_started(res)
        res.keep_alive = keep_alive
        if request.method == "CONNECT":
            self._stop_reason = "CONNECT"
            raise _StopAtHead()
        if status == 101 and upgrade:
            self._stop_reason = "upgrade"
            raise _StopAtHead()
        request.emit_response(res)
        if request.method == "HEAD" or status == 101:
            # (a 101 without Upgrade and Connection: upgrade switches nothing, as llhttp
            # and Node read it: an ordinary response, ended at its head, as HEAD's)
            self._stop_reason = "HEAD"
            raise _StopAtHead()

    def on_body(self, body):
        # none after a destroy (Node drops them), and no empty chunk (llhttp's span flush
        # at a close-delimited body's FIN gives one; Node emits none)
        if body and self.res is not None and not self.socket.destroyed:
            self.res.push_body(body)

    def on_message_complete(self, trailers):
        res = self.res
        if res is None:
            return  # a 1xx
        res.complete = True
        self.done = True
        if trailers:
            res.trailers = header_map(trailers, len(trailers) // 2)
        # the exchange is over when 'end' is emitted (once the body is read, as Node's
        # paused stream): the socket is settled then (kept for the agent, the request
        # marked done, or closed), before the application's 'end' listeners run, as
        # Node's own 'end' listener runs first: a destroy() there leaves a kept-alive
        # socket alone
        res.push_end(self.request.response_complete)

    # -- the socket's other events ---------------------------------------------------------------
    def eof_received(self):
        parser = self.parser
        res = self.res
        if res is not None and not res.complete and parser.in_message and parser.headers_complete:
            # a close-delimited body ends at the FIN (here: httptools' llhttp has no
            # finish that completes it); a body with a Content-Length or chunks that the
            # FIN cuts short is aborted
            headers = res.headers
            if "content-length" not in headers and not framing.chunked_last(headers.get("transfer-encoding")):
                try:
                    parser.finish()
                except ParseError as err:
                    log.debug("response ended by the peer's FIN: %s", err)
                if not res.complete:
                    res.complete = True
                    res.push_end()
        self.socket.destroy()

    def connection_error(self, err):
        self.request.fail(err)
        self.socket.destroy()

    def connection_lost(self, error):
        self.request.socket_closed(counted=True)

    def on_timeout(self):
        self.request.emit("timeout")
        res = self.res
        if res is not None and not res.complete:
            res.emit("timeout")  # a body in progress: its response too (Node's responseOnTimeout)

    def on_drain(self):
        self.request.emit("drain")
