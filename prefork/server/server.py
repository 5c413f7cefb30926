"""Server: Node's ``http.Server`` on the selector loop.

Rules:
- ``listen`` binds (or takes a bound socket as it is) and starts accepting; ``listening``
  fires on a later loop turn (not after a ``close()`` on the same turn). A bind that
  fails is an ``error`` event when one is listened, else raised. Accepting, TLS and
  PROXY headers: see accepting.py.
- Head and request deadlines are checked by a sweep every
  ``connections_checking_interval`` seconds (0: every millisecond, as Node's interval;
  the deadlines stay in force), as Node does; ``close()`` stops it. A
  listener that raises while a connection is timed out gets that connection destroyed;
  the sweep goes on (one raising listener must not end the deadlines of every other).
  A deadline passed while the peer's bytes wait unread (a loop that was busy) is put
  off to the next sweep, once per message: bytes a loop never reads cannot keep a
  connection for ever. On uvloop the sweep also asks each connection's socket for a
  reset its reader did not live to tell (a response owed, a long poll: net/resets.py).
- ``close()`` stops accepting, closes idle connections, and emits ``close`` once every
  tracked connection (hand-offs included) has ended (when: server_close.py); a ``close()`` on a server not
  listening waits for the same (its callback gets ERR_SERVER_NOT_RUNNING). In-flight keep-alive connections
  are left to finish (Node's behaviour; the daemon drains harder on top).
- ``drain()`` (the daemon's graceful stop and reload) stops accepting; every response
  from then on says ``Connection: close``; an idle connection is not cut: it closes when
  its own keep-alive timer expires, so a client that sends within its keep-alive window
  gets an answer, never a reset.
- Every knob is an attribute (their defaults and the checks made at construction are
  server/knobs.py's); a change applies to requests that start later (the Keep-Alive
  header's values: to response heads fixed later). Ports and binds are server/binding.py's.
- The server's connections read into one buffer of its own (``net.Socket``'s
  ``read_buffer``; each read's bytes are copied out at once), which keeps a long-running
  worker's heap from fragmenting.
"""

import asyncio
import logging
import os
import socket as _socket
from time import monotonic

from ..emitter import EventEmitter
from ..http.errors import HTTPError
from ..http.serialize import HeadCache
from ..runtime import current_loop
from . import binding, knobs
from .accepting import Accepting
from .request_call import RequestCall
from .server_close import ServerClosing
from .timeouts import CheckedTimeouts
from ..net.timers import timer_seconds
from ..net import proxy
from ..net.zones import zoned_host

READ_BUFFER = 64 * 1024  # bytes one read of a connection takes at most

log = logging.getLogger("prefork.server")

_REQUEST_EVENTS = frozenset(("request", "checkContinue", "checkExpectation"))
_SOCKET_ARG = {"clientError": 1, "timeout": 0, "upgrade": 1, "connect": 1,  # where the socket is
               "connection": 0, "secureConnection": 0}


class ServerStats:
    """Plain counters the daemon ships to the master (metrics)."""

    __slots__ = ("connections_total", "dropped_requests", "client_errors", "tls_handshake_failures",
                 "proxy_errors")

    def __init__(self):
        self.connections_total = 0
        self.dropped_requests = 0
        self.client_errors = {}
        self.tls_handshake_failures = {}  # code -> count
        self.proxy_errors = {}  # PROXY protocol failures by reason


_LISTEN_OPTIONS = frozenset(("port", "host", "path", "backlog", "ipv6_only"))


class Server(CheckedTimeouts, ServerClosing, Accepting, RequestCall, EventEmitter):
    # its timeouts are checked when set (timeouts.py)

    def __init__(self, listener=None, *, loop=None, **options):
        for name, value in knobs.checked(options).items():
            setattr(self, name, value)
        self.loop = loop if loop is not None else current_loop()
        self.heads = HeadCache()  # the Date line and the constant head of keep-alive answers, per second
        self._listen_socks = []
        self._listen_tls = {}  # listen socket's fd -> its ServerTLS
        self._listen_families = {}  # listen socket -> its (family, type, proto), read once
        self._unix_path = None  # the path of a UNIX socket listen() bound
        self._connections = set()
        self._detached = set()
        self._untold = set()  # connections gone whose close turn has events still to tell (lost.py)
        self._proxied = {}  # listen socket -> TrustedSources, for PROXY protocol listeners
        self._listening = False
        self._sweep_timer = None
        self._close_pending = False
        self._accept_paused = False
        self._read_buffer = memoryview(bytearray(READ_BUFFER))  # its sockets read into it, one at a time
        self._accept_failing = False  # an EMFILE-like episode is going on (logged once)
        self.draining = False
        # the worker exits and cancels the listener tasks still running: their
        # CancelledError is its doing, said once by it, not an error of each request
        self.exiting = False
        self.context = None  # (the emitter's: none of its own; read at each 'request', from the instance)
        # False: no request gets a context of its own; its listeners run in the caller's
        # (a listener owner that runs its code in a context of its own sets it: WSGI)
        self.request_contexts = True
        self.stats = ServerStats()
        # called as observer(req, res) when a response to a parsed request has finished
        # (automatic ones included): the daemon's access log, request counting, metrics
        self.response_observer = None
        # called as observer(req, res, duration) with one replies.ServerReply for both
        # when the server answered a request itself (a parse error's or timeout's 4xx)
        self.reply_observer = None
        self._request_listeners_changed()  # (request_call: request_call.py)
        if listener is not None:
            self.on("request", listener)

    # -- listening ------------------------------------------------------------------------
    def listen(self, port=0, host="127.0.0.1", callback=None, *more, sock=None, backlog=511, tls=None,
               proxy_protocol=False, ipv6_only=False):
        """Bind ``host:port`` (or take the bound, listening ``sock`` as it is) and accept.

        A server already listening on a given socket may be handed more sockets this way
        (the daemon's workers serve every configured address); binding twice raises.
        ``tls`` (a ``net.tls.ServerTLS``) makes this listener speak TLS; ``proxy_protocol``:
        every connection on this socket starts with a PROXY header (read before any TLS).

        Node's other forms work too: ``listen(port, callback)``, ``listen(callback)``,
        ``listen(port, host, backlog, callback)``, ``listen(options[, callback])`` (a
        mapping of ``port``, ``host``, ``path``, ``backlog``, ``ipv6_only``) and
        ``listen(path)`` (a ``str`` that is not a number: a UNIX socket, removed by
        ``close()``). On ``"::"`` IPv4 clients are served too unless ``ipv6_only`` (Node's
        ``ipv6Only``). A failure to bind (EADDRINUSE, EACCES, an unknown host) is an
        ``error`` event on the next turn, with Node's ``code``, ``syscall``, ``address``
        and ``port`` on the ``OSError``, when ``error`` has a listener; without one,
        ``listen()`` raises it (where Node's process would die of it)."""
        if isinstance(port, dict):  # Node's listen(options[, callback])
            options = port
            unknown = sorted(set(options) - _LISTEN_OPTIONS)
            if unknown:
                raise HTTPError("ERR_INVALID_ARG_VALUE", f"listen() does not take the option {unknown[0]!r} "
                                f"(it takes {', '.join(sorted(_LISTEN_OPTIONS))})")
            if callable(host):
                callback = host
            host = options.get("host") or "127.0.0.1"
            port = options["path"] if options.get("path") else options.get("port", 0)
            backlog = options.get("backlog", backlog)
            ipv6_only = options.get("ipv6_only", ipv6_only)
        elif callable(port):
            port, callback = 0, port
        elif callable(host):
            host, callback = "127.0.0.1", host
        else:
            if isinstance(host, int) and not isinstance(host, bool):  # listen(port, backlog[, cb])
                host, backlog, callback, more = "127.0.0.1", host, None, (callback,) + more
            if not callable(callback):  # listen(port, host, backlog, cb): the last function is the callback
                if isinstance(callback, int) and not isinstance(callback, bool):
                    backlog = callback
                callback = next((arg for arg in reversed(more) if callable(arg)), None)
        if sock is None:
            port = binding.check_port(port)
        if proxy_protocol and sock is not None:
            self._proxied[sock] = proxy.TrustedSources(self.proxy_allow_ips)
        if self._listening:
            if sock is None:
                raise HTTPError("ERR_SERVER_ALREADY_LISTEN", "Listen method has been called more than once")
            sock.setblocking(False)
            self._listen_socks.append(sock)
            if tls is not None:
                self._listen_tls[sock.fileno()] = tls
            self.loop.add_reader(sock.fileno(), self._accept, sock, tls)
            return self
        if sock is None:
            try:
                sock = binding.bind(host, port, backlog, ipv6_only)
            except OSError as exc:
                binding.describe_bind_error(exc, host, port)
                if not self.listener_count("error"):
                    raise
                if callback is not None:
                    self.once("listening", callback)  # (Node's stays for a later listen)
                self.loop.call_soon(self.emit, "error", exc)
                return self
            if sock.family == _socket.AF_UNIX:
                self._unix_path = port
            if proxy_protocol:
                self._proxied[sock] = proxy.TrustedSources(self.proxy_allow_ips)
        sock.setblocking(False)
        self._listen_socks = [sock]
        if tls is not None:
            self._listen_tls[sock.fileno()] = tls
        self._listening = True
        self._close_pending = False
        self.loop.add_reader(sock.fileno(), self._accept, sock, tls)
        self._schedule_sweep()
        if callback is not None:
            self.once("listening", callback)
        self.loop.call_soon(self._emit_listening)
        return self

    def _emit_listening(self):
        if self._listening:  # (not after a close() on the same turn, as Node)
            self.emit("listening")

    @property
    def listening(self):
        return self._listening

    def address(self):
        if not self._listen_socks:
            return None
        sock = self._listen_socks[0]
        local = sock.getsockname()
        if sock.family == _socket.AF_UNIX:
            return local
        family = "IPv6" if sock.family == _socket.AF_INET6 else "IPv4"
        return {"address": zoned_host(local), "family": family, "port": local[1]}  # (fe80::1%eth0, as Node's)

    def get_connections(self, callback):
        """Node's ``getConnections``: ``callback(None, count)`` on the next turn, the count
        of open connections (handed-off ones too)."""
        self.loop.call_soon(callback, None, len(self._connections) + len(self._detached))
        return self

    def ref(self):
        """Node's ``server.ref()`` and ``unref()``: nothing to do (a worker's loop runs
        until the worker stops, as the socket's ``ref()`` says); the server is returned."""
        return self

    unref = ref

    def should_upgrade(self, req):
        """Whether the upgrade request ``req`` leaves HTTP for the ``upgrade`` listener
        (else it is served as a plain request): ``should_upgrade_callback(req)`` when
        set, else whether ``upgrade`` has a listener (Node's default)."""
        callback = self.should_upgrade_callback
        if callback is None:
            return self.listener_count("upgrade") > 0
        try:
            return bool(callback(req))
        except Exception:
            log.exception("error in should_upgrade_callback; serving the upgrade as a request")
            return False

    def detach(self, conn):
        """``conn``'s socket now belongs to a connect/upgrade listener (called by ``Connection``)."""
        self._connections.discard(conn)
        socket = conn.socket
        self._detached.add(socket)

        def gone(_had_error=False):
            self._detached.discard(socket)
            if self._close_pending:
                self._maybe_emit_close()
        socket.once("close", gone)  # (once: the socket and this function let go of each other)

    # -- timeouts --------------------------------------------------------------------------
    def set_timeout(self, seconds, callback=None):
        """Node's ``server.setTimeout(msecs[, callback])``; a bad value raises here
        (ERR_INVALID_ARG_TYPE, ERR_OUT_OF_RANGE) and changes nothing."""
        self.__dict__["timeout"] = timer_seconds(seconds)
        if callback is not None:
            self.on("timeout", callback)
        return self

    def _schedule_sweep(self):
        interval = self.connections_checking_interval
        if self._listening and interval is not None:
            # 0 (or less) checks every millisecond, as Node's setInterval: never no checks
            self._sweep_timer = self.loop.call_later(max(interval, 0.001), self._sweep)

    def _sweep(self):
        self._sweep_timer = None
        now = monotonic()
        for conn in list(self._connections):
            if conn.socket.reads_stop_at_reset:  # (uvloop: a reset its reader did not live to tell, net/resets.py)
                conn.socket.look_for_reset()
        headers_timeout = self.headers_timeout or 0
        request_timeout = self.request_timeout or 0
        if headers_timeout > 0 or request_timeout > 0:
            for conn in list(self._connections):
                if not conn.active:
                    continue
                age = now - conn.message_start
                if ((headers_timeout > 0 and not conn.parser.headers_complete and age > headers_timeout)
                        or (request_timeout > 0 and age > request_timeout)):
                    if conn.deferred_for != conn.message_start and conn.socket.unread_input():
                        # a busy loop has not read the peer's bytes yet: the next sweep looks
                        # again, once for this message (bytes a loop never reads, as uvloop's
                        # dead reader after a reset, must not keep it for ever)
                        conn.deferred_for = conn.message_start
                        continue
                    conn.active = False
                    try:
                        conn.request_timed_out()
                    except Exception:  # (a socket listener of the app raised): the sweep goes on
                        log.exception("error while timing out a connection; closing it")
                        conn.socket.destroy()
        self._schedule_sweep()

    # -- closing -----------------------------------------------------------------------------
    def close(self, callback=None):
        """Stop accepting, close idle connections; ``close`` once every tracked connection
        has ended. On a server not listening, the callback gets ERR_SERVER_NOT_RUNNING
        (with the same ``close``: connections still open hold it back, as in Node)."""
        if callback is not None:
            if self._listening:
                self.once("close", lambda: callback(None))
            else:
                err = HTTPError("ERR_SERVER_NOT_RUNNING", "Server is not running.")
                self.once("close", lambda: callback(err))
        if self._listening:
            self._stop_listening()
        self._close_pending = True  # (first: a server 'close' the idle ones bring comes before their 'close')
        self.close_idle_connections()
        self._maybe_emit_close()
        return self

    async def __aenter__(self):
        return self

    async def __aexit__(self, exc_type, exc, tb):
        """``async with server:`` is Node's ``await using`` (``server[Symbol.asyncDispose]()``):
        at the block's end, ``close()`` and wait for its ``close``; a server not listening
        raises ERR_SERVER_NOT_RUNNING there, as Node's promise rejects (unless the block
        raised: its exception goes on)."""
        closed = self.loop.create_future()
        self.close(lambda err: closed.done() or closed.set_result(err))
        err = await closed
        if err is not None and exc_type is None:
            raise err

    def _stop_listening(self):
        self._listening = False
        for sock in self._listen_socks:
            if not self._accept_paused:
                self.loop.remove_reader(sock.fileno())
            sock.close()
        self._listen_socks = []
        self._listen_tls = {}
        self._listen_families = {}
        if self._unix_path is not None:  # a socket file it made: removed, as Node does
            path, self._unix_path = self._unix_path, None
            try:
                os.unlink(path)
            except OSError:
                pass
        if self._sweep_timer is not None:
            self._sweep_timer.cancel()
            self._sweep_timer = None

    def drain(self, callback=None):
        """Graceful stop, stronger than ``close()``: stop accepting; responses whose head is
        fixed from now on carry ``Connection: close`` (unless the app sets
        ``Connection: keep-alive`` itself) and their connections close once they are sent
        (one whose head said keep-alive is kept, as an idle one, for the next request); idle
        connections (kept alive, or accepted without a byte yet) close when their own
        keep-alive timer expires unless a request comes first (it is answered, with
        ``Connection: close``). ``close`` is emitted once every connection has ended."""
        self.draining = True
        if callback is not None:
            self.once("close", lambda: callback(None))
        if self._listening:
            self._take_queued()
            self._stop_listening()
        self._close_pending = True
        for conn in list(self._connections):
            conn.drain()
        self._maybe_emit_close()
        return self

    def destroy_all(self):
        """The worker exits: every connection still open, speaking HTTP or handed over (a
        tunnel, a WebSocket), is destroyed now, so a response cut here is observed (access
        log, metrics) and its app told (a WSGI iterable closed): the events of their close
        turn, and of any destroyed before whose close turn has not come (a fast stop's),
        are told now, the loop may not turn again before the exit. Returns their count."""
        sockets = [conn.socket for conn in self._connections] + list(self._detached)
        for socket in sockets:
            socket.destroy()
        for conn in list(self._untold):
            conn.tell_now()
        return len(sockets)

    def close_turn_due(self, conn):
        """``conn`` has events to tell on its socket's close turn (server/lost.py)."""
        self._untold.add(conn)

    def close_turn_told(self, conn):
        self._untold.discard(conn)

    def close_fds_in_child(self):
        """In a forked child: close this server's descriptors without touching the loop
        (the parent's), so the child holds no copy of its sockets."""
        for sock in self._listen_socks:
            sock.close()
        for conn in self._connections:
            conn.socket.close_fd()
        for socket in self._detached:
            socket.close_fd()

    # -- coroutine listeners ------------------------------------------------------------
    def _run_task(self, coro, event, args):
        if event in _REQUEST_EVENTS:
            args[0].await_listeners()  # its 'end' waits a turn for the task's first step
        super()._run_task(coro, event, args)

    def listener_failed(self, event, error, args):
        if event in _REQUEST_EVENTS:
            if isinstance(error, asyncio.CancelledError) and args[1].destroyed:
                return  # cancelled after its connection went (the worker's exit): nothing to answer
            args[1].fail(error)  # a cancelled task with its request still open fails like a raising one
            return
        super().listener_failed(event, error, args)
        socket = _SOCKET_ARG.get(event)
        if socket is not None:
            args[socket].destroy()  # the listener owned that socket: it is closed now

    @property
    def connections(self):
        """The number of connections still speaking HTTP."""
        return len(self._connections)

    @property
    def open_connections(self):
        """The connections open now: those speaking HTTP and those handed to a connect or
        upgrade listener (a tunnel, a WebSocket), as ``get_connections`` counts them."""
        return len(self._connections) + len(self._detached)


def create_server(listener=None, *, loop=None, **options):
    """A ``Server``; ``listener`` (if given) is added for ``request``."""
    return Server(listener, loop=loop, **options)
