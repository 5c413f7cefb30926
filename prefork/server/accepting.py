"""Accepting: how the server takes a connection, from ``accept(2)`` to ``connection``.

Rules:
- Every accepted socket gets TCP_NODELAY (``no_delay``) and, with ``keep_alive``, TCP
  keep-alive probes (Node's options), then emits ``connection`` before any byte is read; past
  ``max_connections`` open ones it is closed at once, with ``drop``. Each runs in a context
  of its own (a copy of the accept's): a ``ContextVar`` a ``connection`` listener sets is
  seen by that connection's requests, by no other connection.
- A drain takes what the kernel queued on the listeners before it closes them: those
  clients connected, and a listener's close would reset them.
- Accept failures for lack of descriptors pause accepting (0.5 s at a time) and are
  logged once per episode. A network error ``accept(2)`` passes on for one connection
  (ECONNABORTED, EPROTO, ENETUNREACH, EPERM, ...) drops that one and accepting goes on,
  as accept(2)'s manual asks.
- A listener given ``tls`` (a ``net.tls.ServerTLS``) wraps each accepted socket before
  the protocol sees a byte; a failed handshake is Node's ``tlsClientError`` (err,
  socket), counted by code in ``stats.tls_handshake_failures``, and the socket is
  destroyed; a finished one emits ``secureConnection``.
- A listener with ``proxy_protocol`` on reads each connection's PROXY header first
  (net/proxy.py, from ``proxy_allow_ips`` peers only, within ``proxy_protocol_timeout``)
  and only then makes the connection, with the client's address from the header; a
  connection without a valid header is closed and counted in ``stats.proxy_errors``.
  Other listeners pay nothing for it.
- ``Accepting`` is a part of ``Server`` (its mixin): it reads and writes the server's
  own state, as the server's other methods do.
"""

from contextvars import copy_context
import errno
from functools import partial
import logging
import socket as _socket
from _socket import socket as _RawSocket
from time import monotonic

from ..net import Socket
from ..net import proxy
from .connection import Connection
from .replies import ServerReply

log = logging.getLogger("prefork.server")

_ACCEPT_BATCH = 32
# accept(2) on Linux passes on a connection's pending network error (and a firewall's
# EPERM) as its own: like ECONNABORTED, it ends that connection, not accepting
_PEER_GONE = frozenset((errno.ECONNABORTED, errno.EPROTO, errno.ENETDOWN, errno.ENOPROTOOPT, errno.EHOSTDOWN,
                        errno.ENONET, errno.EHOSTUNREACH, errno.EOPNOTSUPP, errno.ENETUNREACH, errno.EPERM))


class Accepting:
    def _accept(self, lsock, tls=None):
        """Accept a batch; True when the batch ran out with more maybe queued."""
        trusted = self._proxied.get(lsock) if self._proxied else None  # a PROXY protocol listener
        kind = self._listen_families.get(lsock)
        if kind is None:  # (each read of ``family`` or ``type`` makes an enum: once a listener)
            kind = self._listen_families[lsock] = (lsock.family, lsock.type, lsock.proto)
        family, kind_type, proto = kind
        for _ in range(_ACCEPT_BATCH):
            try:
                # (not ``lsock.accept()``: it reads the listener's ``family`` and ``type``,
                # two enums made, for each connection)
                fd, address = lsock._accept()
            except (BlockingIOError, InterruptedError):
                return False
            except OSError as exc:
                if exc.errno in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM):
                    if not self._accept_failing:
                        self._accept_failing = True
                        log.error("cannot accept connections: %s; retrying every 0.5 s", exc.strerror)
                    self._pause_accepting(0.5)
                    return False
                if exc.errno in _PEER_GONE:
                    continue  # that one connection failed before it was taken: the next
                raise
            # (the C socket: the same calls, without the Python layer of socket.socket
            # around its making and its close, which nothing here uses)
            csock = _RawSocket(family, kind_type, proto, fd)
            if self._accept_failing:
                self._accept_failing = False
                log.warning("accepting connections again")
            cap = self.max_connections
            if cap and len(self._connections) + len(self._detached) >= cap:
                self._drop(csock)
                continue
            if trusted is not None:
                self._proxy_header_first(csock, trusted, tls)
                continue
            self._new_connection(csock, tls, family=family, address=address)
        return True

    def _take_queued(self):
        """Before a drain closes the listeners: the connections the kernel has queued on
        them (a client's connect succeeded, and it is sending its request) are taken and
        served, with ``Connection: close``; closing the listener would reset them. At
        most one backlog's worth, while accepting is not paused."""
        if self._accept_paused:
            return
        for sock in self._listen_socks:
            tls = self._listen_tls.get(sock.fileno())
            try:
                for _ in range(4096 // _ACCEPT_BATCH):
                    if not self._accept(sock, tls) or self._accept_paused:
                        break
            except OSError:  # (what a reader callback would have logged): the drain goes on
                log.exception("accepting the queued connections of a listener before its close")

    def _drop(self, csock):
        """Over ``max_connections``: Node's 'drop' (with both ends' addresses, none for a
        UNIX socket), and the connection is closed."""
        args = ()
        if csock.family != _socket.AF_UNIX:
            family = "IPv6" if csock.family == _socket.AF_INET6 else "IPv4"
            try:
                local, remote = csock.getsockname(), csock.getpeername()
                args = ({"localAddress": local[0], "localPort": local[1], "localFamily": family,
                         "remoteAddress": remote[0], "remotePort": remote[1], "remoteFamily": family},)
            except OSError:  # (the peer is gone already)
                args = ({},)
        try:
            copy_context().run(self.emit, "drop", *args)  # (what it sets reaches no connection)
        except Exception:
            log.exception("error in a 'drop' listener")
        finally:
            csock.close()

    def _pause_accepting(self, seconds):
        for sock in self._listen_socks:
            self.loop.remove_reader(sock.fileno())
        self._accept_paused = True

        def resume():
            self._accept_paused = False
            if self._listening:
                for sock in self._listen_socks:
                    self.loop.add_reader(sock.fileno(), self._accept, sock, self._listen_tls.get(sock.fileno()))
        self.loop.call_later(seconds, resume)

    def _new_connection(self, csock, tls=None, peer=None, family=None, address=None):
        """``family``, ``address``: the socket's and its peer's, as accept(2) gave them
        (else read from the socket); ``peer``: the client a PROXY header named (``()``
        when the header named none: ``PROXY UNKNOWN``, a v2 ``LOCAL``)."""
        csock.setblocking(False)
        if family is None:
            family = csock.family
        if family != _socket.AF_UNIX and self.no_delay:
            csock.setsockopt(_socket.IPPROTO_TCP, _socket.TCP_NODELAY, 1)
        socket = Socket(self.loop, csock, self._read_buffer, family, address)
        if self.keep_alive:  # (Node's keepAlive option: probes from the accept on)
            socket.set_keep_alive(True, self.keep_alive_initial_delay)
        if peer:  # the client a PROXY header named; the balancer's kept
            socket.proxy_peer = (socket.remote_family, socket.remote_address)
            socket.remote_family, socket.remote_address, socket.remote_port = peer
        if tls is not None:  # a PROXY header, when read, came before this
            socket.start_tls(tls, self._secure_connection, self.tls_client_error)
        conn = Connection(self, socket)
        if peer is not None:  # a PROXY header was read (() when it named no client)
            conn.proxy_header_read = True
        self.stats.connections_total += 1
        self._connections.add(conn)
        if self.timeout and self.timeout > 0:
            socket.arm_timeout(self.timeout)
        if self._events is None or "connection" not in self._events:
            socket.resume()
            return conn
        # a context of the connection's own: what a listener sets is seen by its reads
        # and requests, not by the next connection (the accept's context is the listener's)
        context = copy_context()
        try:
            context.run(self.emit, "connection", socket)
        except Exception:
            log.exception("error in a 'connection' listener")
            socket.destroy()
            return
        if not socket.destroyed:
            context.run(socket.resume)
        return conn

    def _proxy_header_first(self, csock, trusted, tls):
        reader = proxy.HeaderReader(self.loop, csock, self.proxy_protocol_timeout, trusted,
                                    partial(self._proxy_header_read, tls=tls))
        self._connections.add(reader)
        reader.start()

    def _proxy_header_read(self, reader, header, reason, tls=None):
        if header is not None:
            conn = self._new_connection(reader.sock, tls, peer=header.peer or ())
            if self.draining and conn is not None:
                conn.drain()
        elif reason is not None:
            errors = self.stats.proxy_errors
            errors[reason] = errors.get(reason, 0) + 1
        self.connection_closed(reader)

    def _secure_connection(self, socket):
        protocol = socket.protocol
        if protocol is not None:
            protocol.secured()
        try:
            self.emit("secureConnection", socket)
        except Exception:
            log.exception("error in a 'secureConnection' listener")
            socket.destroy()

    def tls_client_error(self, err, socket):
        """A TLS handshake failed (called by the socket's TLS layer, which then destroys
        the socket): Node's ``tlsClientError``."""
        failures = self.stats.tls_handshake_failures
        failures[err.code] = failures.get(err.code, 0) + 1
        if err.reply is not None and self.reply_observer is not None:  # the layer's 400 to plain HTTP
            status, line, sent, fields = err.reply
            reply = ServerReply(socket, status, None, line, sent=sent, headers=fields)
            protocol = socket.protocol
            started = protocol.message_start if protocol is not None else socket.last_activity
            self.reply_observer(reply, reply, max(0.0, monotonic() - started))
        try:
            self.emit("tlsClientError", err, socket)
        except Exception:
            log.exception("error in a 'tlsClientError' listener")
