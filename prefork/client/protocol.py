"""ClientProtocol: the client side of one HTTP exchange on a socket.

Rules (Node's, spec section 7):
- The socket's bytes feed one response parser; a 1xx other than 101 gives ``continue``
  (for 100) and ``information`` on the request (not to CONNECT: any answer to it, a 1xx
  too, is its response); the final head gives ``response``, then
  the body's ``data`` (never an empty one) and ``end`` on the response.
- The socket's own ``data`` listeners (the application's, added at ``socket`` or later;
  not the pool's) get each read as it came, after the parser has taken it, as Node's
  socket gives its listeners after its parser's: those of the moment the read came
  (one a parser event adds gets the next read, as Node's emit calls a copy of its
  list). Without such a listener a read costs one count of them, nothing more.
- The response to HEAD, to CONNECT and a 101 end at their head (httptools has no
  skip-body hook for them): the protocol finds where the head ended itself and hands the
  rest over (``connect``/``upgrade``), or, for HEAD, starts a fresh parser. A 101
  without ``Upgrade`` and ``Connection: upgrade`` switches nothing (llhttp's rule, so
  Node's): it is an ordinary response, ended at its head as HEAD's is.
- The socket's idle ``timeout`` goes to the request, then to the response while its
  body is in progress, as in Node.
- A listener that raises while a read is parsed (``response``, the body's ``data``,
  ``end``...), or at the socket's idle ``timeout``, is logged and the socket destroyed:
  the request closes and ``await req`` settles, instead of the parser raising again at
  every later read (or the request waiting for ever), as a raising coroutine's does.
- A parse error before the response ends the exchange with that error; a FIN ends a
  close-delimited body (no Content-Length, and ``chunked`` not the last
  Transfer-Encoding coding, as llhttp frames it); the socket's close tells the request (``socket hang up`` if no
  response had begun; a body cut short by it, Content-Length or chunked, is aborted,
  never ended). A read or write error (a reset, EPIPE, a refused connect) destroys the
  socket; the socket's own ``error`` listeners (an application's, added at ``socket``)
  hear it after the request's ``error`` and before its ``close``, as Node's socket tells
  them. A FIN read after a write was
  refused (its error told on the next turn) waits for that error, the exchange's.
  A socket error (a reset, ``req.destroy(err)``) ends a close-delimited body as a FIN
  does (``ends_at_error``), its ``end`` after the request's ``error`` (``read()``
  raises that error: response.py).
- A 1xx has no body, whatever its fields say (Node's parser skips it): at a 1xx head
  with a Content-Length or Transfer-Encoding the parser restarts after the head.
- Node's caps on what a head keeps (``request.max_headers_count``, read when the socket
  is given, as Node reads ``maxHeadersCount``; None, or no number, is Node's default; 0
  none): ``raw_headers`` keeps the fields Node's parser hands over in batches of 31
  until 2 x the count of entries are kept, ``headers`` the first ``max_headers_count``
  (1000) of those. The trailers keep as many raw pairs by the same batches, and
  ``trailers`` maps all the kept ones (Node caps only the head's map). Framing is read
  from every field (a Transfer-Encoding past the cap still frames the body).
- After the final response (HEAD's included), bytes before the next request mean the
  peer framed it badly or answers what was not asked: the socket is not kept for
  another request (destroyed, which takes it out of the agent's pool), and they are no
  error of the exchange (a parse error they cause included). The line ends llhttp
  skips between messages are no such bytes.
"""

import logging
from asyncio import ensure_future, iscoroutine

from ..http.errors import ParseError
from ..http.headers import header_map, node_header_map_pairs, node_raw_header_pairs
from ..http.parser import ResponseParser
from .fields import Information
from .logged import emit_logged
from .pooled import PoolHooks, pool_listeners
from .response import ClientResponse

log = logging.getLogger("prefork.client")


def _declares_body(raw):
    """A head's fields declare a body llhttp would read: a Content-Length, or a
    Transfer-Encoding."""
    for i in range(0, len(raw), 2):
        name = raw[i].lower()
        if name == "content-length" or name == "transfer-encoding":
            return True
    return False


def _cap(value):
    """``max_headers_count`` as Node reads ``maxHeadersCount``: a number only (another
    type is its default, None), whole (its ``<< 1``: NaN and infinities are 0, no cap)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))):
        return 0
    return int(value)


_STOPPED = object()


class _StopAtHead(Exception):
    """Raised from the parser callback: the message ends at its head (HEAD, CONNECT, 101)."""


class _Unasked(Exception):
    """Raised from the parser callback: bytes of a message after the final response."""


class ClientProtocol:
    def __init__(self, request, socket):
        self.request = request
        self.socket = socket
        self.parser = ResponseParser(self, request.max_header_size)
        self.res = None
        self.done = False  # the final response ended: what follows was never asked for
        self._tail = b""  # the last bytes of the previous read: a head end may straddle reads
        self._heads = 0  # heads (1xx and final) that ended in the read being parsed
        self._in_head = False  # a head began and has not ended
        self._stop_reason = None
        self._closed_after = False  # a 1xx restarted the parser and forbade another message
        self.max_headers_count = _cap(request.max_headers_count)  # (Node reads it as the socket is given)
        self._whole_head = None  # every field of a head whose raw_headers were cut (for framing)
        # the socket's 'data' listeners that are not the application's (the pool's): past
        # them, each read is told to the socket's listeners too (see Rules)
        self._quiet = pool_listeners(socket) if socket.listener_count("data") else 0

    def release(self):
        """The exchange is over: the parser (which refers back to this protocol) goes."""
        self.parser.release()

    # -- bytes in ------------------------------------------------------------------------------
    def data_received(self, data):
        socket = self.socket
        # the application's 'data' listeners of the moment the read came (Node's emit
        # calls a copy of its list: one a parser event adds waits for the next read)
        told = socket.raw_listeners("data") if socket.listener_count("data") > self._quiet else None
        read = data
        try:
            while data:  # (again on the rest of the read after a 1xx whose body llhttp would read)
                data = self._parse(data)
            if told is not None:
                self._tell_socket_data(told, read)
            if not self.done:
                socket.look_for_reset()  # (the response part-way: see net/socket.py)
        except Exception:
            # a listener of the app's raised (response, data, end...): the parser is left
            # part-way, so the exchange cannot go on; logged once, the connection closed
            # (the request then settles), where Node's process would die
            log.exception("error in a client listener; closing its connection")
            self.socket.destroy()

    def _tell_socket_data(self, told, read):
        """The read to the socket's ``data`` listeners, after the parser (Node's parser
        listens first): those of the moment it came, though a parser event added or
        took one off (the pool's listener, added as the socket went back, is left out)."""
        socket = self.socket
        if socket.raw_listeners("data") == told:
            socket.emit("data", read)
            return
        for listener in told:
            if type(getattr(listener, "__self__", None)) is not PoolHooks:
                result = listener(read)
                if iscoroutine(result):
                    ensure_future(result)

    def _parse(self, data):
        """Parses one read; returns the rest of it that a fresh parser takes, if any."""
        self._heads = 0
        try:
            offset = self.parser.feed(data)
        except _StopAtHead:
            offset = _STOPPED  # (handed off outside the handler: the rest is parsed afresh)
        except _Unasked:
            log.debug("bytes after the response on a kept-alive connection: closing it")
            self.socket.destroy()
            return None
        except ParseError as err:
            if self.done:
                # bytes after a complete response (Node's llhttp refuses those after a
                # response that ends the connection): not an error of this exchange
                log.debug("bytes after the response: closing the connection: %s", err)
            else:
                self.request.fail(err, now=True)
            self.socket.destroy()
            return None
        if offset is _STOPPED:
            return self._handoff(data)
        if offset is not None:
            self._tail = b""
            self._stop_reason = "upgrade"
            self._handoff_at(data, offset)
            return None
        # (only a head that goes on in the next read needs what this one ended with)
        self._tail = (self._tail + data)[-3:] if self._in_head else b""
        return None

    def _handoff(self, data):
        """The message ended at its head: find where (the end of the last head parsed in
        this read: 1xx heads may come before it), hand the rest over."""
        window = self._tail + data
        end = len(window)
        at = 0
        for index in range(self._heads):  # each head ends at its first CRLFCRLF (llhttp is strict)
            if index or not self._tail:
                # a head that starts in this read: after the line ends llhttp skips
                # between messages
                while at < end and window[at] in b"\r\n":
                    at += 1
            found = window.find(b"\r\n\r\n", at)
            if found < 0:
                break
            at = found + 4
        offset = max(0, at - len(self._tail))
        self._tail = b""
        return self._handoff_at(data, offset)

    def _handoff_at(self, data, offset):
        reason = self._stop_reason
        self._stop_reason = None
        if reason == "informational":
            # a 1xx has no body whatever its head says (Node's parser skips it): the
            # rest of the read starts the next response
            self.parser = ResponseParser(self, self.request.max_header_size)
            return data[offset:]
        if reason == "HEAD":
            res = self.res
            res.complete = True
            self.done = True  # what comes next was not asked for (its 'end' may wait for a reader)
            self.parser = ResponseParser(self, self.request.max_header_size)
            res.push_end(self.request.response_complete)  # as below
            # the rest of the read is parsed as what follows any response (a body after
            # a HEAD response closes the socket; the line ends llhttp skips between
            # messages do not); after a 101's head llhttp reads no further in that read:
            # Node drops the rest of it, and keeps the socket
            return data[offset:] if res.status_code != 101 else None
        # the message is complete at its head (llhttp completes it before the protocol
        # switches; Node's response to an upgrade nobody listens to is complete too)
        self.res.complete = True
        self.request.hand_over("connect" if reason == "CONNECT" else "upgrade", data[offset:])
        return None

    # -- parser callbacks ----------------------------------------------------------------------
    def on_message_begin(self):
        self._in_head = True
        if self.done:
            raise _Unasked()
        if self._closed_after:
            # after a 1xx that ends the connection (an HTTP/1.0 one without keep-alive),
            # llhttp refuses another message; here the parser restarted at that head
            raise ParseError("HPE_CLOSED_CONNECTION", "Data after `Connection: close`", 0)

    def _kept(self, raw):
        """The raw fields Node keeps of a head, and how many pairs its map takes."""
        cap = self.max_headers_count
        pairs = len(raw) // 2
        if pairs < 32 and cap is None:
            return raw, pairs  # (the usual head: all of it)
        kept = node_raw_header_pairs(pairs, cap)
        if kept < pairs:
            raw = raw[:2 * kept]
        return raw, node_header_map_pairs(kept, cap)

    def on_headers(self, status, reason, version, whole, keep_alive, upgrade):
        self._heads += 1
        self._in_head = False
        request = self.request
        raw, pairs = self._kept(whole)
        if 100 <= status < 200 and status != 101 and request.method != "CONNECT":
            # (any answer to CONNECT, a 1xx too, is its response, as in Node's client)
            info = Information(status, reason, version, raw, pairs, request.join_duplicate_headers)
            if status == 100:
                request.emit("continue")
            request.emit("information", info)
            if _declares_body(whole):
                # llhttp would read the body this head declares: stop here, as Node's
                # parser skips a 1xx's body (and a later head then starts afresh)
                if not keep_alive:
                    self._closed_after = True
                self._stop_reason = "informational"
                raise _StopAtHead()
            return
        res = ClientResponse(self.socket, status, reason, version, raw, pairs, request=request)
        self._whole_head = whole if raw is not whole or pairs < len(raw) // 2 else None
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
        if body and self.res is not None:
            if not self.socket.destroyed:
                self.res.push_body(body)
            else:
                self.res.body_lost = True  # (a read() of it raises, though 'end' may come)

    def on_message_complete(self, trailers):
        res = self.res
        if res is None:
            return  # a 1xx
        res.complete = True
        self.done = True
        if trailers:
            pairs = len(trailers) // 2
            if pairs >= 32:
                kept = node_raw_header_pairs(pairs, self.max_headers_count)
                if kept < pairs:
                    trailers = trailers[:2 * kept]
            res.set_trailers(trailers)
        # the exchange is over when 'end' is emitted (once the body is read, as Node's
        # paused stream): the socket is settled then (kept for the agent, the request
        # marked done, or closed), before the application's 'end' listeners run, as
        # Node's own 'end' listener runs first: a destroy() there leaves a kept-alive
        # socket alone
        res.push_end(self.request.response_complete)

    # -- the socket's other events ---------------------------------------------------------------
    def eof_received(self):
        socket = self.socket
        if not socket.writable and not socket.writable_ended and not socket.destroyed:
            # a write the kernel refused (a reset that came while the socket waited in
            # the pool, unread) is told on the next turn (net/writing.py): the FIN read
            # since comes after it, so the exchange's error is that write's, as Node's
            # "write ECONNRESET", not "socket hang up"
            self.request.loop.call_soon(self._eof_after_refusal)
            return
        self._eof()

    def _eof_after_refusal(self):
        if not self.socket.destroyed:  # (the refusal destroys it, telling its error)
            self._eof()

    def _eof(self):
        if self.request.body_outlives_response:
            return  # the socket ends once the body is out, then closes (Node's destroySoon), not at the peer's FIN
        if self._ends_at_close():
            if not self.res.complete:
                self.res.complete = self.ended_at_fin = True
                self.res.push_end()
        self.socket.destroy()

    def connection_error(self, err):
        self.request.fail(err)
        self.ends_at_error(err)
        if self.socket.listener_count("error"):
            self.request.loop.call_soon(self._tell_socket, self.socket, err)  # (after the request's 'error')
        self.socket.destroy()

    ended_at_fin = False  # the peer's FIN ended a close-delimited body (the socket is gone then)

    def ends_at_error(self, error):
        """A socket error (a reset, ``req.destroy(err)``: ``error``) ends a close-delimited
        body as the FIN does, its ``end`` after the request's ``error`` (Node finishes its
        parser at a socket error); ``read()`` raises ``error``: the body may be cut."""
        res = self.res
        if self._ends_at_close() and not res.complete:
            res.complete, res.ended_by_error = True, error
            self.request.loop.call_soon(res.push_end)

    @staticmethod
    def _tell_socket(socket, err):
        try:
            socket.emit("error", err)
        except Exception:
            log.exception("error in a client socket's 'error' listener")

    def _ends_at_close(self):
        """A close-delimited body is in progress (no Content-Length, and ``chunked`` not
        the last Transfer-Encoding coding, as llhttp frames it): the connection's end
        ends it; True then, the parser finished (its last body bytes given). A body with
        a Content-Length or chunks that the end cuts short is aborted instead."""
        parser = self.parser
        res = self.res
        if res is None or res.complete or not parser.in_message or not parser.headers_complete:
            return False
        whole = self._whole_head
        headers = res.headers if whole is None else header_map(whole, len(whole) // 2)
        if "content-length" in headers or parser.chunked:
            return False
        try:
            # (httptools' llhttp has no finish that completes such a body)
            parser.finish()
        except ParseError as err:
            log.debug("response ended by the connection's end: %s", err)
        return True

    def connection_lost(self, error):
        self.request.socket_closed(counted=True)

    def on_timeout(self):
        try:
            self.request.socket_timed_out()
            res = self.res
            if res is not None and not res.complete:
                res.emit("timeout")  # a body in progress: its response too (Node's responseOnTimeout)
        except Exception:
            log.exception("error in a client 'timeout' listener; closing its connection")
            self.socket.destroy()

    def on_drain(self):
        # none once end() was called (Node's socketOnDrain checks msg.finished), nor once the
        # socket is ended after the response: no more body goes, as Node's
        if not self.request.writable_ended and not self.socket.writable_ended:
            emit_logged(self.request, "drain")  # (from the socket's flush: no caller to raise to)
