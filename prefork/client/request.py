"""ClientRequest: the request half of Node's http client: its socket, its agent, its
response and its events (the head and body it sends are client/outgoing.py's; the
response is read by ClientProtocol, client/protocol.py; request() and get() are
client/urls.py).

Rules (Node's, spec section 7):
- No event fires inside the call that causes it: ``socket`` comes on a later loop turn,
  ``finish`` after the request's last byte is in the kernel.
- 1xx other than 101 give ``information`` (``continue`` first for 100). The response to
  HEAD, to CONNECT and a 101 end at their head: what follows is a hand-off ``head``.
- Credentials: the ``auth`` option (``"user:password"``), or a URL's user and password
  (percent-decoded), go out as ``Authorization: Basic`` (UTF-8, base64) after Host,
  unless the headers give Authorization a value (client/outgoing.py); as in Node. The options that
  shape the head and the response's reading: client/headopts.py.
- ``request()`` refuses at once (raises, before anything is sent) what would split or
  bend the request line, as Node throws: a path with a character outside
  ``\u0021-\u00ff`` (space, CR, LF, tab, beyond latin-1) is ERR_UNESCAPED_CHARACTERS, a
  method that is not an HTTP token is ERR_INVALID_HTTP_TOKEN (both checked before the
  headers, path first; http/serialize.py's ``check_path``, ``check_method``); an empty
  or missing method is GET, an empty path ``/``. A port outside 0-65535, or a string
  that is not a number, is ERR_SOCKET_BAD_PORT, one neither a number nor a string
  ERR_INVALID_ARG_TYPE (client/port.py's ``connect_port``), as Node throws (after the headers'; with a
  ``socket_path`` it is not checked: Host has it as given); a false one is ``default_port`` (checked so
  too), else the agent's (80), left out of Host.
- A kept-alive socket goes back to the agent when the response has ended and the
  request's body has gone out (``finish``), whichever comes last: a response that comes
  first (an early 413) leaves the socket to the request until its body is sent. The
  request's ``close`` comes on the next turn, then the agent takes the socket (pools it,
  hands it on, or closes it: a socket limit without keep-alive), then the response's
  ``close``, as in Node (an ``abort()`` in the request's ``close`` listener comes first).
- An ``upgrade``/``connect`` listener's response ends at its head: after the request's
  ``close``, its ``end`` (once read: ``read()`` gives ``b""``; at once when the listener
  dumped it by ``destroy()`` or ``abort()``, after the abort's ``abort``, a response it
  destroyed too, unless with an error) and ``close``, as in Node; one the listener
  destroyed alone gives its ``close`` after the request's, before the socket's.
- ``abort()``'s ``abort`` is never emitted within the call: on the next turn, or first
  of the closes the request's destruction brings, whichever comes first (one flag).
- A request whose socket went back to the agent, or to an ``upgrade``/``connect``
  listener, is ``destroyed`` (as in Node): ``destroy()`` and ``abort()`` then leave that
  socket alone; so does ``res.destroy()`` on a complete response.
- ``close`` is the request's last event: an ``error`` still due comes before it, and
  from then on the request is ``destroyed`` (a later ``destroy()`` does nothing), as in
  Node. A connection not kept is closed on the turn after the response's ``end`` (Node's
  destroySoon), so what the ``end`` listeners do (``abort()``, ``destroy(err)``) comes
  before the closes; while the request's body still goes out (an early 413 with
  ``Connection: close``) the response closes then, and the socket ends after what is
  queued and closes at its ``finish``, the peer's FIN notwithstanding: a reset or EPIPE
  meanwhile is the request's ``error`` before its ``close``, as in Node; a body cut short closes the request before its socket's own
  ``close`` listeners run. A socket that closes while body chunks or the body's end wait
  for a reader closes the exchange two turns later, as Node's socket closes in libuv's
  close phase (after the ``setImmediate`` callbacks and the ticks they queue): a
  ``data`` listener added on the next turn reads them first, and its ``end`` comes
  before the closes (a kept-alive exchange's request closes at that ``end``).
- A ``socket`` listener that raises is logged and the connection closed: the request
  ends in ``ECONNRESET`` "socket hang up". An ``upgrade`` or ``connect`` listener that
  raises (logged by the client protocol, which closes the socket) still closes the
  request, so its awaiter settles. A ``close`` listener that raises is logged, and the
  socket still goes back to the agent (as a raising coroutine listener's).
- The ``signal`` option's ``abort`` destroys the request with an AbortError (client/abort.py).
- Errors: ``ECONNRESET`` "socket hang up" when the connection ends before a response;
  parse errors with their HPE_* code; connection errors as they are. Once a response
  has begun, only a parse or connection error while the socket is still the request's
  (a bad chunk, a reset; one after a complete body not read yet, or while the request's
  body still goes out) gives ``error``, before the response's ``aborted`` (a complete
  body is kept whole), as in Node; a FIN that cuts the body short gives none. Once the
  response's ``end`` came, its request body sent, on a connection not kept (closed on the
  next turn), a socket error is no longer the request's (a peer's reset at its close), as in Node.
- Awaitable from a coroutine: ``res = await req.response()`` (or ``await req``) gives the
  response or raises the request's error; ``body = await res.read()`` gives the whole
  body. A response awaited this way keeps its body for its reader from the first byte
  (up to a high-water mark, then the socket stops reading), so nothing is lost between
  the ``response`` event and the awaiting coroutine's next step and a body streamed
  with ``async for`` is never held whole; one awaited later (or read later by a
  coroutine listener) has its unread body kept for it (client/response.py).
  It always settles, awaited before or after the events: the response (for CONNECT
  and 101, the head a ``connect``/``upgrade`` listener took); else the error the
  request emitted (a copy, client/awaiting.py); else, when the request closed with
  neither (``abort()`` before a response, a CONNECT or 101 nobody listened for),
  ECONNRESET "socket hang up". Cancelling the awaiting task (a timeout) destroys the
  request and its socket, as aiohttp and httpx do; ``asyncio.shield`` keeps it going.
  An error of a request whose response was awaited (its ``signal``'s abort, a ``destroy(err)``)
  with no ``error`` listener is not reported as unhandled: the response's reads raise what it broke;
  nor is one an awaiter raised before it was emitted (``destroy(err)``, then ``await req``).
"""

import asyncio
import errno
import logging

from ..emitter import EventEmitter
from ..http.errors import HTTPError
from ..http.serialize import check_method, check_path
from ..net.connect import connect_error
from ..runtime import current_loop
from . import headopts
from .abort import SignalWatch, check_signal
from .agent import request_agent
from .awaiting import ResponseWaiter, awaited, raisable
from .closing import SocketClose
from .logged import emit_logged
from .outgoing import OutgoingRequest
from .sockopts import SocketOptions, timer_seconds
from .port import connect_host, connect_port, host_field, local_options
from .protocol import ClientProtocol

log = logging.getLogger("prefork.client")


class ClientRequest(SocketClose, OutgoingRequest, SocketOptions, EventEmitter):
    def __init__(self, options, callback=None, loop=None):
        self.loop = loop if loop is not None else current_loop()
        self.path = check_path(options.get("path"))  # Node checks the path first
        self.method = check_method(options.get("method"))
        self.host = connect_host(options)
        self.socket_path = options.get("socket_path")  # a UNIX socket to connect to instead (Node's socketPath)
        self.agent, self._one_off = request_agent(options)  # (client/agent.py)
        default_port = options.get("default_port") or self.agent.default_port  # (Node's: for Host too)
        port = options.get("port")
        self.port = (port or default_port or 80) if self.socket_path else connect_port(port, default_port)
        self.local = local_options(options)  # local_address, local_port, family, lookup, hints given (port.py)
        self.max_header_size = headopts.max_header_size(options.get("max_header_size"))  # (client/headopts.py)
        self.join_duplicate_headers = headopts.join_duplicate_headers(options.get("join_duplicate_headers"))
        self._init_outgoing(headopts.unique_headers(options.get("unique_headers")))
        set_host = options.get("set_host")  # None: not given (Node's undefined), as the other options read it
        self.set_host = True if set_host is None else bool(set_host)
        self._init_head(options.get("headers"), host_field(self.host, self.port, default_port), options.get("auth"))
        self.reused_socket = False
        self.max_headers_count = None  # Node's maxHeadersCount (None: its default; 0: no cap)
        self.socket = None
        self.res = None
        self.writable_finished = False  # the last bytes are in the kernel (Node's writableFinished)
        self.destroyed = False
        self.aborted = False  # abort() was called
        self._timeout = None if options.get("timeout") is None else timer_seconds(options["timeout"], "timeout")
        self._timeout_pending = None
        self._closed = False
        self._protocol = None  # the ClientProtocol on the socket, released at 'close'
        self._freed = False  # the socket went back to the agent
        self._errored = False
        self._failure = None  # the error emitted (or about to be) on the request
        self._error_due = False  # _failure is still to be emitted
        self._answered = False  # 'response' was emitted, or a hand-over listener took the socket
        self._response_ended = False  # the response's 'end' came: set_timeout does nothing (Node's _ended)
        self._close_deferred = False  # the socket closed with the body unread: its close waits two turns
        if callback is not None:
            self.once("response", callback)
        if options.get("signal") is not None:  # Node's AbortSignal (client/abort.py)
            SignalWatch(self, check_signal(options["signal"]))
        self._start()  # the agent counts it now (Node's addRequest); its 'socket' comes on the next turn

    # -- awaiting ---------------------------------------------------------------------------
    def response(self):
        """An awaitable of the response; raises the request's error instead, or ECONNRESET
        "socket hang up" when the request closed with neither. Cancelling it destroys the request."""
        future = self.loop.create_future()
        if self._answered or self._failure is not None or self._closed:
            self._settle(future)
        else:
            ResponseWaiter(self, future, self._settle)
        return future

    def _settle(self, future):
        """Settle ``future`` from what the request came to."""
        if self._answered:
            future.set_result(awaited(self.res))
        elif self._failure is not None:
            self._failure_raised = True  # (its 'error' still due: raised here, not reported as unhandled)
            future.set_exception(raisable(self._failure))
        else:
            future.set_exception(HTTPError("ECONNRESET", "socket hang up"))

    def listener_failed(self, event, error, args):
        """A coroutine listener of this request raised: as a raising plain listener, its
        connection is closed (the request then settles; the socket an ``upgrade`` or
        ``connect`` listener took too, as it is no longer the request's), the error logged once."""
        super().listener_failed(event, error, args)
        if not isinstance(error, asyncio.CancelledError):
            if event in ("upgrade", "connect") and len(args) > 1 and hasattr(args[1], "destroy"):
                args[1].destroy()
            self.destroy()

    def __await__(self):
        return self.response().__await__()

    def _finish(self):
        if not self.writable_finished and not self.destroyed:
            self.writable_finished = True
            emit_logged(self, "finish")  # (after a flush: client/logged.py)

    # -- socket ----------------------------------------------------------------------------------
    def _start(self):
        if self.destroyed:
            return
        self.agent.add_request(self)

    def assign_socket(self, socket, reused, handed=False):
        """The agent gives this request its socket (called by ``Agent``); ``handed``: the
        open socket of the request before it in line."""
        self.socket = socket
        self.reused_socket = reused
        if self._corks:
            self._apply_corks(socket)
        socket.protocol = self._protocol = ClientProtocol(self, socket)
        try:
            self.emit("socket", socket)
        except Exception:
            # not half set up (its bytes unsent, waiting for ever): closed, it ends in "socket hang up"
            log.exception("error in a client 'socket' listener; closing its connection")
            socket.destroy()
            return
        self._arm_timeout(socket, handed)  # (client/sockopts.py)
        if self._expect_continue and self._head is None:
            self.flush_headers()  # the head goes at once; the body waits for 'continue'
        if self._hand_queued(socket) and self._ended:
            socket.after_flush(self._finish)
        if reused or handed:
            socket.resume()

    def connect_failed(self, exc):
        """No socket could be made for this request (called by ``Agent``; EMFILE and the like): ``error``
        with the system's code (or what a ``create_connection`` or ``reuse_socket`` raised), then ``close``."""
        code = errno.errorcode.get(getattr(exc, "errno", None) or 0, "EIO")
        path = self.socket_path
        err = exc if not isinstance(exc, OSError) else connect_error(code, exc.errno, path, path) if path else \
            connect_error(code, exc.errno, f"{self.host}:{self.port}", self.host, self.port)
        self.destroyed = True
        self._error(err)
        self.loop.call_soon(self._close)

    def abort(self):
        """Node's deprecated ``req.abort()``: ``destroy()`` with an ``abort`` event, and
        no 'socket hang up' error while no socket was given yet."""
        if self.aborted:
            return
        self.aborted = True
        if self.socket is None and not self.destroyed:
            self.destroyed = True
            if self.agent.in_line(self):  # waiting for a socket: 'abort' first, as Node's
                self.loop.call_soon(emit_logged, self, "abort")
                self.loop.call_soon(self._close)
                return
            self.loop.call_soon(self._close)
            self.loop.call_soon(emit_logged, self, "abort")
            return
        if self.destroyed:  # (the socket's close a destroy() queued emits it first: emit_abort)
            if self._hang_up_due and self._error_due:  # (no socket given yet: Node's _destroy has no 'socket hang up' once aborted)
                self._error_due = False
            if self.socket is None and not self._closed and self.agent.in_line(self):
                self._abort_first = True  # (waiting for a socket: 'abort' first, as Node's)
            self._abort_due = True
            self.loop.call_soon(self.emit_abort)
            return
        self.destroy()  # (due once it returns: never emitted within the abort() call)
        self._abort_due = True  # on the next turn, or first of the closes the destroy() queued, as Node's tick
        self.loop.call_soon(self.emit_abort)

    _abort_due = False  # an abort()'s 'abort', not emitted yet (one rule: emit_abort, whoever comes first)

    def events_due(self):
        """What is queued, not emitted yet: a given ``error``, an ``abort()``'s ``abort``."""
        return self._error_due, self._abort_due

    def emit_due(self, due):
        """Those of ``due`` (``events_due()`` as it was) still due, in Node's order of
        their ticks: the ``error`` a ``destroy(err)`` queued, then the ``abort``."""
        if due[0]:
            self._emit_error()
        if due[1]:
            self.emit_abort()

    def emit_abort(self):
        """The ``abort`` that ``abort()`` queued, once: a socket's close that an earlier
        ``destroy()`` queued ahead of it emits it first, as Node's comes on a tick, before
        the close."""
        if self._abort_due:
            self._abort_due = False
            emit_logged(self, "abort")

    def destroy(self, error=None):
        if self.destroyed:
            return self
        self.destroyed = True
        if self.res is not None:
            self.res.dump()  # (Node's: no more of the body's data for the application)
        protocol = self._protocol  # (a body the peer's FIN ended: Node's socket is gone, its destroy(err) no 'error')
        if error is not None and not (protocol is not None and protocol.ended_at_fin):
            self._error(error, given=True)  # Node emits a given error at any stage
            if protocol is not None:  # (Node's socket error finishes its parser)
                protocol.ends_at_error(error)
        elif self.res is None:
            self._error(HTTPError("ECONNRESET", "socket hang up"))
            self._hang_up_due = self.socket is None  # (an abort() before the close drops it, as Node's)
        if self.socket is not None:
            self._hang_up_sock = error is None and self.res is None
            self._abort_first = True
            self.socket.destroy()
        else:
            self.loop.call_soon(self._close)
        return self

    _hang_up_due = False  # destroy()'s own 'socket hang up' of a request given no socket yet
    _hang_up_sock = False  # destroy()'s own 'socket hang up' of a request given its socket (after an abort()'s 'abort')
    _abort_first = False  # an abort()'s 'abort' comes before the 'close' (Node's tick before the socket's close)

    # -- called by the client protocol ------------------------------------------------------------
    def response_started(self, res):
        """The protocol parsed the response head (a final one)."""
        self.res = res

    def emit_response(self, res):
        """The final response begins for the application: ``response``."""
        self._answered = True
        res.taken = self.listener_count("response") > 0
        self.emit("response", res)

    def response_complete(self):
        """The response ended: keep the socket for the agent's next request or close it."""
        self._response_ended = True
        res = self.res
        socket = self.socket
        if socket.destroyed:
            # destroyed in this read (socket_closed ends the exchange); or before a late
            # reader read the body, the socket's close waiting for it: a kept-alive
            # exchange then closes the request before the response, as Node's does at
            # the end (its socket's close comes later, in libuv's close phase)
            if self._close_deferred and self.keeps_socket and self.writable_finished:
                self.loop.call_soon(self._close)
            return
        if self.keeps_socket:
            # the agent takes the socket back, and pools it or closes it (an agent with
            # a socket limit and no keep-alive, nobody in line), as Node's: the
            # request's 'close' comes then, before the response's
            if not self.writable_finished:
                # answered before its body went out (an early 413): the socket is free
                # once the body is, not before (another request would be written into
                # the middle of it), as in Node
                res.close_soon()
                self.once("finish", self._free_socket)
                return
            self._free_socket()
        elif not self.writable_finished:
            # answered while its body still goes out, on a connection not kept: Node's
            # destroySoon ends the socket after what is queued and closes it at its
            # 'finish'; the response closes now, and a reset or EPIPE meanwhile (the
            # peer closing on the rest of the body) is the request's error
            res.close_soon()
            self.loop.call_soon(socket.destroy_soon)
        else:
            # closed on the next turn (Node's destroySoon): what the 'end' listeners do
            # (an abort, a destroy with an error) comes before the closes, as in Node
            self.loop.call_soon(socket.destroy)

    def _free_socket(self):
        """The exchange on the kept-alive socket is over both ways: on the next turn the
        request's ``close``, then the agent takes the socket (Node's ``free`` after it),
        to pool it, hand it on or close it."""
        socket = self.socket
        if socket.destroyed or self._closed:
            return
        socket.protocol = None
        self.agent.freed(socket)  # (a reset before the agent has it is dropped, as in Node)
        self._freed = True
        # done: a later destroy() must not reach the socket, now the agent's (Node's marks it destroyed)
        self.destroyed = True
        if self.res is not None:
            self.res.socket = None
        self.loop.call_soon(self._close_and_free, socket)

    def _close_and_free(self, socket):
        self._close()
        # the response's 'close' after a 'close' listener's abort() and the next request's 'socket' (Node's)
        handing = self.agent.has_waiting(self)
        if not handing:
            self.res.close_soon()
        self.agent.release(self, socket, self.agent.keep_alive)
        if handing:
            self.res.close_soon()

    @property
    def body_outlives_response(self):
        """The response has ended on a connection not kept while this request's body still
        goes out: the socket closes once it is flushed (or fails), not at the peer's FIN."""
        return self._response_ended and not self.writable_finished and not self.keeps_socket and not self._closed

    @property
    def keeps_socket(self):
        """Both sides keep the connection after this exchange."""
        return self._keep_alive and self.res is not None and self.res.keep_alive and not self._one_off

    def fail(self, err, now=False):
        """A parse or connection error: ``error`` (once), on a later loop turn (``now``, a
        parse error: at once, before the body chunks of that read, as Node's parser), while the
        socket is the request's (Node's socket error and parse error listeners emit it
        until then; a body cut short is aborted as the socket closes, a complete one is kept).
        A body collected for ``read()`` (or awaited) makes its reads raise it; with nobody listening
        to ``error`` then, those reads are where it is reported."""
        res = self.res
        if res is None:
            self._error(err, now=now)
            return
        if self._response_ended and self.writable_finished and not self.keeps_socket:
            # the exchange is over and the socket only waits for its close (a reset
            # after a response that ends the connection): not the request's, as in Node
            return
        if not res.complete:
            res.failure = err
        # (a complete body not read yet, or one whose request body still goes out,
        # keeps the socket the request's: Node's request reports the error; the body
        # stays whole for its reader)
        if (res.awaited or res.collecting) and not self.listener_count("error"):
            return
        self._error(err, given=True, now=now)

    def _error(self, err, given=False, now=False):
        if self._errored or (self.res is not None and not given):
            return
        self._errored = True
        self._failure = err
        self._error_due = True
        if now:
            self._emit_error()
        else:
            self.loop.call_soon(self._emit_error)

    def _emit_error(self):
        if self._error_due:
            if self._hang_up_sock:  # (Node's comes at the socket's close: after an abort()'s 'abort')
                self.emit_abort()
            self._error_due = False
            awaited = self._failure_raised or (self.res is not None and self.res.awaited)
            if not awaited or self.listener_count("error"):  # (see Rules)
                emit_logged(self, "error", self._failure)

    _failure_raised = False  # an awaiter of the response got the error

    def _close(self):
        """``close``: the request's last event (an ``error`` still due comes first), and
        it is ``destroyed`` from then on, as in Node: a ``destroy()`` after it does nothing."""
        if not self._closed:
            if self._abort_first:
                self.emit_abort()
            self._closed = True
            self.destroyed = True
            self._emit_error()
            self.agent.socket_gone(self)  # (a destroyed socket's count: gone before the 'close', as Node's)
            protocol, self._protocol = self._protocol, None
            if protocol is not None:  # its parser refers back to it: let both go (after this read)
                self.loop.call_soon(protocol.release)
            emit_logged(self, "close")  # (logged as a coroutine's is: the socket still goes back to the agent)
