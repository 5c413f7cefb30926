"""Connection: the HTTP/1.1 protocol on one accepted socket.

Rules (Node's, spec §2-§4):
- Every request in a read is parsed and emitted at once; responses go out in request
  order (a later response waits inside its ServerResponse until it is first). Each
  request has a context of its own (a copy of the connection's, the one its first
  head was read in; never of the callback reading this head, whose reader an earlier
  request's task may have re-added in its own context by resuming the socket):
  its server event, its own events and its response's run in it, so a ``ContextVar``
  a listener sets (a request id, a user) is seen by that request's later listeners
  (``end``, ``finish``) and the tasks they start, never by the next request on the
  connection (none with the server's ``request_contexts`` off: they run in the caller's).
- Dispatch and what may follow a final response: see dispatch.py (a plain HTTP/1.1
  request, Host present, no Expect, no request cap, is emitted from ``on_headers``).
- CONNECT and listened upgrades hand the socket over raw with the bytes after the head,
  once the answers before them are out; unlistened upgrades are served as requests
  (leaving.py).
- Bytes after a request that forbids reuse are dropped once its response is sent (Node
  would answer them with a 400 that can swallow that response).
- After the peer's FIN a pending response may still be sent (half-close), but the
  socket lives at most ``request_timeout`` (else ``keep_alive_timeout`` + 1 s) longer;
  with neither it closes at once, as Node's does.
- Timers: ``server.timeout`` from accept; after the last response, the keep-alive idle
  timer (``keep_alive_timeout`` + 1 s: armed at its ``end()`` when no timeout is in
  force, else at its ``finish``; one that runs out on a response still flushing finds
  the connection not idle); back to ``server.timeout`` at the next head. Head and
  request deadlines are checked by the server's sweep against ``message_start`` while
  ``active`` (from accept or a message's first byte, line ends alone not counted, to
  its end). A TLS connection is watched from its handshake's end (Node starts its https
  connection at ``secureConnection``); the handshake has its own bound.
- A listener that fails (or its task): a 500 before the head; after it, what was
  written goes out in its turn and the connection closes; after a whole response,
  only the log.
- A parse error or timeout goes to ``clientError``; unlistened, the canned reply is
  written unless the response on the wire has sent its head (and shown to
  ``server.reply_observer``), and the socket closes.
- A draining server's idle connections wait out their keep-alive timer (one that never
  sent a byte gets one); a request that comes first is answered with ``Connection: close``
  (``draining`` is read once, as the head is fixed: a head that said keep-alive is kept).
- A body nobody reads (a paused request without a 'readable' listener) is discarded once
  its response is done.
"""

import logging
from collections import deque
from contextvars import copy_context
from time import monotonic

from ..emitter import PLAIN_RESULTS, entered, run_in
from ..http.errors import ParseError
from ..http.parser import RequestParser
from ..http.headers import header_map, node_header_map_pairs, node_raw_header_pairs
from .dispatch import FATAL, Dispatch, StopParsing, HeldRequest
from .leaving import LeavingHTTP, continuation_head
from .idling import Idling
from .knobs import HEADER_LIMIT
from .lost import ConnectionLost
from .on_socket import OnSocket
from .ticks import NextTicks
from .failures import Failures
from .flow import PIPELINE_DEPTH as _PIPELINE_DEPTH, FlowControl
from .request import IncomingMessage
from .response import ServerResponse

log = logging.getLogger("prefork.server")
# each request's objects, made as IncomingMessage(...) and ServerResponse(...) make them
_new = object.__new__
_request_init, _response_init = IncomingMessage.__init__, ServerResponse.__init__


class Connection(ConnectionLost, Dispatch, FlowControl, NextTicks, LeavingHTTP, Idling, Failures, OnSocket):
    deferred_for = None  # the message_start whose timeout the server's sweep put off once

    def __init__(self, server, socket):
        self.server = server
        self.socket = socket
        self.parser = self._new_parser()
        self.message_start = socket.last_activity
        # watched by the sweep from accept, or (TLS) from the handshake's end, as Node's
        # https server starts its HTTP connection at secureConnection; the handshake has
        # its own bound (tls_handshake_timeout)
        self.active = socket.tls is None or not socket.handshaking
        self._handed_over = False  # the socket went to a connect/upgrade listener (and was uncorked)
        self._responses = deque()
        self._attached = None  # the last ended response (until its 'finish' while not writable_finished)
        self._unflushed = None  # ended responses before it whose bytes are still going out
        self._req = None
        self._res = None
        self._requests = 0
        self.fresh = True  # no byte received yet
        self._keep_alive_timer = False
        self._error = None
        self._closing = False
        self._eof = False
        self._peer_gone = False  # a read or write error: the peer reset (or left) the connection
        self._continuation = None  # (req, its head's bytes without Upgrade) of an unlistened upgrade
        self._upgrading = None  # (req, bytes after its head) of a CONNECT/upgrade to hand over
        self._continuing = False  # its body is being parsed by a fresh parser
        self._final = False  # a response that ends the connection is fixed
        self._holding = None  # a response whose framing decides whether more may follow
        self._held = []  # HeldRequest requests waiting for _holding
        self._half_close_timer = None
        self._pause_reasons = set()  # "output" (backpressure, pipelining depth), "body" (req paused)
        self._drain_waiters = None
        self._context = None  # the connection's context, taken at its first head (rules)
        socket.protocol = self

    # -- bytes in ------------------------------------------------------------------------
    def data_received(self, data):
        self.fresh = False
        if self._closing:
            return
        if self._error is not None:
            # a clientError listener owns the socket: each later chunk re-emits the error
            self._emit_client_error(self._error)
            return
        socket = self.socket
        if not self.parser.in_message and (data[0] > 13 or data.lstrip(b"\r\n")):
            # a message starts in this read; line ends alone between messages start none
            # (llhttp skips them): they leave a fresh connection's clock running from accept
            self.message_start = socket.last_activity
        socket.cork()
        try:
            while data:
                offset = self.parser.feed(data)
                data = None if offset is None else self._left_http(data, offset)
            if self.parser.in_message:
                self.active = True  # a message is in progress: the sweep watches it
                socket.look_for_reset()
        except ParseError as err:
            self._parse_error(err)
        except StopParsing:
            pass
        except FATAL:
            raise
        except BaseException:
            log.exception("internal error on a connection; closing it")
            socket.destroy()
        finally:
            if not self._handed_over:  # (a hand-over uncorked already: a listener's cork stays)
                socket.uncork()
        # (the usual read, answered within it, leaves no response queued: it stops at the
        # first two tests, without a call; the mark, a class default, is read only when
        # bytes wait)
        if ((buffered := socket.buffered_size) and buffered > socket.high_water_mark
                or (responses := self._responses) and len(responses) >= _PIPELINE_DEPTH) \
                and not socket.destroyed and socket.protocol is self:
            parser = self.parser
            if not (parser.in_message and parser.headers_complete):
                # (not inside a request's body: its bytes make no response, and a client that
                # sends the whole body before it reads would wait for good; Node's server too
                # stops reading for its output only at a new request's head)
                self._pause_output()

    def secured(self):
        """The TLS handshake finished: the head's clock starts now (unless a request
        began in the same read)."""
        if not self.parser.in_message:
            self.message_start = monotonic()
            self.active = True

    def eof_received(self):
        self._eof = True
        if self.socket.writable_ended:
            if self.socket.writable_finished:
                self.socket.destroy()  # both directions are done
            else:
                self.socket.destroy_soon()  # what is queued goes first, then the FIN and the close
            return
        if self._error is not None:
            # a clientError listener owns the socket; the peer is gone now
            if self.socket.writable_ended:
                self.socket.destroy()
            else:
                self._bound_half_close()
            return
        err = self.parser.eof_error()
        if err is not None:
            self._client_error(err)
        elif not self._responses and not self.parser.held:
            self.socket.destroy_soon()
        if not self.socket.destroyed:
            self._bound_half_close()

    def connection_error(self, err):
        """The socket failed (a read or write error: EPIPE, ECONNRESET, a stalled send):
        ``clientError``, or the default answer; either way the socket is destroyed
        after it, as Node's is (a listener that leaves it would be told again at each
        write, and the request's close would wait for a timeout). The socket's own
        ``error`` listeners (an application's) are told too, after ``clientError``, as
        Node's server socket tells its listeners in the order they were added."""
        socket = self.socket
        self._peer_gone = True
        if self.socket_errored is not None:  # closing with a client error already: that one is its report
            socket.destroy(self.socket_errored)
            return
        if not self.told_client_error:  # (after one, Node's server hears no socket error)
            self._client_error(err, from_socket=True)  # the socket reports none after it closed
        if socket.listener_count("error"):
            try:
                socket.emit("error", err)
            except Exception:
                log.exception("error in an 'error' listener of a socket")
        if not socket.destroyed:
            socket.destroy()

    # -- parser callbacks ----------------------------------------------------------------
    # (no on_message_begin: ``active`` and ``message_start`` are kept per read, see
    # data_received and on_message_complete; after a final response the parser's
    # ``on_begin`` refuses the next message)
    def _refuse_message(self):
        """A request after a final response: nothing of it is read."""
        self._closing = True
        raise StopParsing()

    def _new_parser(self):
        """A request parser with this server's limits (the connection's first, and the one
        that parses on after an unlistened upgrade)."""
        server = self.server
        parser = RequestParser(self, server.max_header_size or HEADER_LIMIT)  # (0: Node's default)
        parser.hold = self._hold_requests
        if server.unique_host_header:
            parser.unique_host = True
        if server.join_duplicate_headers:
            parser.join_all = True
        return parser

    def on_headers(self, method, url, version, raw, keep_alive, upgrade):
        server = self.server
        socket = self.socket
        if self._continuing:
            return  # the synthetic head of an unlistened upgrade: the request exists
        if self._final or socket.destroyed:
            # begun before a final response was fixed, or after a listener destroyed the
            # connection earlier in this read: nothing of it is dispatched
            self._refuse_message()
        full_raw = raw
        headers = self.parser.headers  # every field; Node's caps apply past 31, or past a set count
        cap = server.max_headers_count
        if len(raw) > 62 or (cap is not None and cap < 31 and 2 * cap < len(raw)):
            if len(raw) > 62:  # Node hands 32 fields over before the head's end
                self._parser_called()
            pairs = len(raw) // 2
            kept = node_raw_header_pairs(pairs, cap)
            if kept < pairs:
                raw = raw[:2 * kept]
            headers = header_map(raw, node_header_map_pairs(kept, cap), server.join_duplicate_headers)
        # (made as the class call makes them, without its cost: no argument tuple, no init lookup)
        req = _new(IncomingMessage)
        _request_init(req, socket, method, url, version, raw, headers, self, socket.last_activity)
        if headers is not self.parser.headers:
            req.all_headers = self.parser.headers  # (the map was cut)
            if raw is not full_raw:  # (and the raw list: every line is kept beside it)
                req.all_raw_headers = full_raw
        self._req = req
        if self._keep_alive_timer:
            self._keep_alive_timer = False
            if server.timeout:
                socket.arm_timeout(server.timeout)
            else:
                socket.timeout = 0.0  # the pending keep-alive timer finds it off
        if upgrade:
            if method == "CONNECT" or server.should_upgrade(req):
                req.upgrade = True
                return  # handed over when the parser stops at the end of the head
            # its head as read, fixed now: what listeners do to the request cannot
            # change how the rest of the connection is framed
            self._continuation = (req, continuation_head(method, url, version, full_raw))
        if server.no_keep_alive:
            keep_alive = False
        res = _new(ServerResponse)
        _response_init(res, self, req, keep_alive, not self._responses)  # (positional: a keyword costs a dict)
        # each request's listeners (its server event's, its own and its response's) run
        # in a context of its own, unless the server's listeners need none
        context = self._context
        if context is None and server.request_contexts:
            context = self._context = copy_context()
        if context is not None:
            context = req.context = res.context = context.copy()
        self._res = res
        self._responses.append(res)
        if self._holding is not None:
            self._held.append(HeldRequest(req, res, version))
            return
        # _start, with the plain HTTP/1.1 request (Host, no Expect, no request cap) first
        if not res.can_chunk and keep_alive:
            self._holding = res
        try:
            if version != "1.1":
                if context is None:
                    server.emit("request", req, res)
                else:
                    run_in(context, server.emit, "request", req, res)
                if method == "PRI" and not keep_alive:
                    self._refuse_preface()
            elif ("host" in headers or not server.require_host_header) and \
                    not server.max_requests_per_socket and "expect" not in headers:
                # (emit's, or its one listener without the emit: request_call.py)
                if context is None:
                    result = server.request_call(req, res)
                else:
                    outer, entered[0] = entered[0], context  # (run_in, inlined: this runs per request)
                    try:
                        result = context.run(server.request_call, req, res)
                    finally:
                        entered[0] = outer
                if result is not None and type(result) not in PLAIN_RESULTS:  # (a coroutine: its task is
                    # made in the request's context, as emit makes it)
                    run_in(context, server.listener_returned, "request", result, (req, res)) \
                        if context is not None else server.listener_returned("request", result, (req, res))
            elif context is None:
                self._dispatch(req, res, version)
            else:
                run_in(context, self._dispatch, req, res, version)
        except (StopParsing, *FATAL):
            raise
        except BaseException as exc:  # (a listener's CancelledError, GeneratorExit...: its failure too)
            self._listener_failed(res, exc)

    def on_body(self, body):
        req = self._req
        if req is not None:
            try:
                req.push_body(body)
            except FATAL:
                raise
            except BaseException as exc:
                self._listener_failed(self._res, exc)
            self._parser_called()

    def on_message_complete(self, trailers):
        self.active = False
        if self.socket.writable_ended:
            # answered with a close before its end was read (a GET answered from the
            # 'request' listener): the peer has sent it all, the close need not linger
            self.socket.peer_done()
        self.message_start = self.socket.last_activity  # for a message starting in this read
        self.parser.max_header_size = self.server.max_header_size or HEADER_LIMIT  # (a change: from the next)
        if self._continuation is not None:
            if not self._continuing:
                return  # llhttp skipped the upgrade's body; it is parsed next
            self._continuation = None
            self._continuing = False
        req = self._req
        if req is None or req.upgrade:
            return  # an upgrade or CONNECT keeps its request for the hand-off
        self._req = None
        if trailers and len(trailers) > 62:  # Node's cap on kept fields, as for a head (the map takes all kept)
            trailers = trailers[:2 * node_raw_header_pairs(len(trailers) // 2, self.server.max_headers_count)]
        if self._held and self._held[-1].req is req:
            self._held[-1].complete = True  # its 'end' waits for its dispatch
            self._held[-1].trailers = trailers
            return
        try:
            req.push_end(trailers)
        except FATAL:
            raise
        except BaseException as exc:
            self._listener_failed(self._res, exc)
        if trailers:  # Node hands trailers over at the message's end and runs what is queued
            self._parser_called()

    # -- responses ----------------------------------------------------------------------------
    def response_done(self, res):
        """``res`` (first in the queue) has all its bytes queued on the socket."""
        responses = self._responses
        responses.popleft()
        socket = self.socket
        server = self.server
        attached = self._attached
        if attached is not None and not attached.writable_finished:  # (a large one, pipelining)
            self._unflushed = [r for r in self._unflushed or () if not r.writable_finished] + [attached]
        self._attached = res
        if self._pause_reasons and "body" in self._pause_reasons and res.req.dumped_when_answered():
            # answered: a body nobody reads, which stopped the reading, is discarded (Node's
            # dump; a 'readable' reader, or one that paused it, reads on); a paused one is
            # otherwise dumped at the response's finish, as Node's (ResponseClosing.mark_closed)
            res.req.resume()
        if res.closes_connection or (not responses and (self._closing or (self._eof and not self.parser.held))):
            # a request whose body is still coming, or bytes after the last request
            # allowed (pipelined requests dropped): the client is still sending
            socket.after_flush(res.flushed_cut if res.cut_short else res.on_flushed)
            socket.destroy_soon(linger=(self._closing or not res.req.complete) and not self._eof)
            return
        if responses:
            socket.after_flush(res.on_flushed)
            responses[0].activate()
        elif self._upgrading is not None:
            # the last answer before a CONNECT or upgrade is queued: the socket goes over
            # on the next turn (not inside the end() of the app that queued it)
            socket.after_flush(res.on_flushed)
            socket.loop.call_soon(self._hand_over)
            return
        elif (keep_alive := server.keep_alive_timeout) and keep_alive > -1.0 and socket.protocol is self:
            if socket.timeout:
                # a timeout in force (server.timeout, or one a listener set) applies while
                # the response goes out: the keep-alive timer starts at its 'finish',
                # before the response's own 'finish' listeners (Node's resOnFinish)
                socket.after_flush(self._now_idle)
                socket.after_flush(res.on_flushed)
            else:
                # armed now, while the response's bytes go out (almost always within this
                # turn); one still flushing when it runs out is not idle (on_timeout)
                socket.after_flush(res.on_flushed)
                socket.arm_timeout(keep_alive + 1.0)
                self._keep_alive_timer = True
        else:
            socket.after_flush(res.on_flushed)
        if self._pause_reasons and "output" in self._pause_reasons and len(responses) < _PIPELINE_DEPTH // 2:
            if socket.buffered_size <= socket.high_water_mark:
                self.resume_reading("output")
            else:
                socket.want_drain()  # on_drain resumes
