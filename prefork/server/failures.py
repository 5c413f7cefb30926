"""What a connection does when a listener fails or the client errs (mixed into
``Connection``).

Rules (connection.py's, for these):
- A listener that fails (or its task): a 500 before the head (the error's own 4xx
  ``status`` when it is an HTTPError that has one, as ``req.body(limit)``'s 413: the
  client's fault, logged at info without a traceback; a 413 before the body's end closes
  the connection, so the rest is not read); after it, what was written goes
  out in its turn and the connection closes (its duration, as logged, runs to the
  failure); after a whole response, only the log. A
  listener task the exiting worker cancels is no error of the app: the worker says so
  once.
- A parse error or timeout goes to ``clientError``; unlistened, the canned reply is
  written unless the response on the wire has sent its head (and shown to
  ``server.reply_observer``), and the socket closes reporting the error as Node's socket
  destroyed with it does (``error`` to its own listeners, ``close(True)``). A listener
  that raises gets the socket destroyed. A socket destroyed with an error (an
  application's ``destroy(err)``) goes to ``clientError`` on the next turn; unlistened,
  nothing more is done (the socket is gone: no reply). A socket error (a reset) after a ``clientError`` reached a listener
  is not one more (Node's server stops listening to the socket's errors at the first);
  after an unlistened one it is reported nowhere: the socket, closing with the first
  error, reports that one alone (a destroyed Node socket reports no later error).
- ``clientError`` listeners run in a copy of the connection's context, as the request
  listeners do: a variable one sets reaches neither the reader nor the server's sweep
  (and so no other connection).
- A refused first request that is a PROXY protocol header (a balancer's, sent to a
  listener without ``proxy_protocol``: http/proxyline.py) is logged with its version 1
  line as the request line, and the error log says at warning what came and which
  setting is missing (a second header after the one a ``proxy_protocol`` listener read
  is called that), at most once per ``PROXY_LOG_EVERY`` seconds per version (the
  refused path only).
- Bytes after a request that forbids reuse are answered by closing once its response
  is out (no 400 that would swallow it).
- A deadline that passes while the connection lingers after its last response (FIN
  sent, the client's bytes dropped until its FIN) is no client error: the linger's own
  bound ends it (Node has closed such a connection at once).
"""

import logging
from asyncio import CancelledError
from contextvars import copy_context
from time import monotonic

from ..http.errors import HTTPError, ParseError, request_timeout_error
from ..http.proxyline import proxy_header
from ..http.serialize import CANNED
from ..net.throttle import Throttle
from .dispatch import StopParsing
from .replies import ServerReply

log = logging.getLogger("prefork.server")
PROXY_LOG_EVERY = 10.0  # seconds between two lines of a PROXY header on a plain listener, per worker
_told = Throttle(PROXY_LOG_EVERY)  # those lines by PROXY protocol version


def _listener_name(socket):
    """The listener a server connection came in on, named as the master names it:
    ``127.0.0.1:8000``, ``[::1]:80``, ``unix:/path``."""
    path = socket.local_path
    if path is not None:
        return f"unix:{path}"
    if socket.local_family == "IPv6":
        return f"[{socket.local_address}]:{socket.local_port}"
    return f"{socket.local_address}:{socket.local_port}"


def _peer_name(address):
    return "a UNIX socket peer" if address is None else address


class Failures:
    """Mixed into ``Connection``: its state is the connection's."""

    def _listener_failed(self, res, exc):
        """A listener raised inside the parser: answer or close, then stop parsing if the
        connection is done."""
        if self.listener_failed(res, exc):
            raise StopParsing() from exc

    def listener_failed(self, res, exc):
        """A listener of ``res``'s request raised (or its task did): log it; a 500 when
        the head is not out, else send what was written and close. True when the
        connection is done with."""
        status = getattr(exc, "status", None) if isinstance(exc, HTTPError) else None
        if type(status) is not int or not 400 <= status < 500:
            status = None
            if not (self.server.exiting and isinstance(exc, CancelledError)):
                log.error("error in a request listener", exc_info=exc)
        elif res is not None:
            log.info("%s %s: %s (%s): answered %d", res.req.method, res.req.url, exc.message, exc.code, status)
        if res is None or self.socket.destroyed:
            return True
        if res.writable_ended:
            return False  # the response is whole: logged only, the connection serves on
        if res.head_out:
            # the head is out: what was written goes out in its turn (after the responses
            # before it), then the connection closes
            self._closing = True
            self.socket.last_activity = monotonic()  # (its access log line's duration runs to here)
            res.cut()
            return True
        res.reset_head()
        res.status_code = status or 500
        if status == 413 and not res.req.complete:
            res.set_header("Connection", "close")  # the rest of a body over the limit is not read
        res.end()
        return False

    def request_task_failed(self, req, exc):
        """A coroutine listener of ``req`` (its body events) raised."""
        for res in list(self._responses) + [self.current_response]:
            if res is not None and res.req is req:
                self.listener_failed(res, exc)
                return
        log.error("error in a request listener", exc_info=exc)

    # -- errors and timeouts ------------------------------------------------------------------
    def _parse_error(self, err):
        if err.code == "HPE_CLOSED_CONNECTION":
            # bytes after a request that forbids reuse: answer it, then close
            self._closing = True
            if not self._responses:  # (answered already): more may be on its way
                self.socket.destroy_soon(linger=not self._eof)
            return
        self._client_error(err)

    def _client_error(self, err, from_socket=False):
        """``from_socket``: the socket's own read or write failed (connection_error tells
        the socket's listeners itself)."""
        self.active = False
        server = self.server
        socket = self.socket
        errors = server.stats.client_errors
        errors[err.code] = errors.get(err.code, 0) + 1
        res = self._res
        if socket.writable and res is not None and res.req is self._req and not res.head_out:
            res.replied = True  # answered now, by the server or the listener: its line is the reply's
        if server.listener_count("clientError"):
            if isinstance(err, ParseError):
                self._error = err
            self._emit_client_error(err)
            return
        if not from_socket:
            # the socket closes reporting this error, as Node's destroyed with it: a failure
            # of its own from now on (the canned reply's write included) is no other
            self.socket_errored = err
        res = self.current_response
        if socket.writable and (res is None or not res.head_out):
            socket.send_bytes(CANNED[err.status_hint])
            if server.reply_observer is not None:
                line = self.parser.request_line(err)
                if line is None and self._req is None and isinstance(err, ParseError):
                    line = self._proxy_header_line(err)
                reply = ServerReply(socket, err.status_hint, self._req, line)
                server.reply_observer(reply, reply, monotonic() - self.message_start)
        # (a body over the limit is still coming); the socket's own 'error' listeners hear
        # of it, and its 'close' says had_error, as Node's socket destroyed with the error
        socket.destroy_soon(linger=err.status_hint == 413, error=None if from_socket else err)

    def _proxy_header_line(self, err):
        """A PROXY protocol header that began the connection (http/proxyline.py): the
        error log says so (at most once per ``PROXY_LOG_EVERY`` seconds per version, per
        worker); its version 1 line is the request line to log (else None)."""
        seen = self.parser.refused_bytes(err)
        if seen is None or len(seen) != self.socket.bytes_read:  # (not the connection's first bytes)
            return None
        found = proxy_header(seen)
        if found is None:
            return None
        version, line = found
        socket = self.socket
        if self.proxy_header_read:  # a listener with proxy_protocol read one header already
            more = _told.suffix((version, "again"))
            if more is not None:
                balancer = socket.proxy_peer  # (None: the header named no client, the peer is the balancer)
                log.warning("a second PROXY protocol (v%d) header came from %s to %s, after the one the "
                            "proxy_protocol listener read: refused with a 400 (two balancers sending PROXY "
                            "headers?)%s", version, _peer_name(balancer[1] if balancer else socket.remote_address),
                            _listener_name(socket), more)
            return line
        more = _told.suffix(version)
        if more is not None:
            log.warning("a PROXY protocol (v%d) header came from %s to %s, a listener without proxy_protocol: "
                        "refused with a 400 (turn on proxy_protocol or name the listener in proxy_protocol_bind, "
                        "or stop the balancer sending PROXY headers to it)%s", version,
                        _peer_name(socket.remote_address), _listener_name(socket), more)
        return line

    proxy_header_read = False  # the proxy_protocol listener read a PROXY header before the connection's bytes

    told_client_error = False  # a clientError reached a listener on this connection
    socket_errored = None  # the client error the socket closes reporting (no later one is reported)

    def _emit_client_error(self, err):
        """``clientError`` to the application's listener; one that raises gets the socket
        destroyed (it owned the socket and can no longer be trusted to close it). The
        listener runs in a copy of the connection's context (of the caller's when no head
        was read yet): what it sets stays with it, out of the sweep's or the reader's."""
        self.told_client_error = True
        context = self._context
        context = copy_context() if context is None else context.copy()
        try:
            context.run(self.server.emit, "clientError", err, self.socket)
        except Exception:
            log.exception("error in a 'clientError' listener; closing the connection")
            self.socket.destroy()

    def destroyed_with(self, error):
        """The socket was destroyed with ``error`` (an application's ``destroy(err)`` of
        the socket, request or response, a write after its end): ``clientError`` with
        it on the next turn, before the socket's own ``error`` and ``close``, as Node's
        server hears its socket's error. Unlistened, nothing: the socket is gone, no
        reply can go out. One the connection reported already is not told again."""
        if error is not self.socket_errored and not self.told_client_error \
                and self.server.listener_count("clientError"):
            self.told_client_error = True
            self.socket.loop.call_soon(self._emit_client_error, error)

    def request_timed_out(self):
        socket = self.socket
        if socket.writable_ended and not socket.readable:
            # answered and its FIN sent: only the close lingering for the client's FIN is
            # left (bounded by the socket's linger_timeout), no request is late
            return
        self._client_error(request_timeout_error())
