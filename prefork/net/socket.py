"""Socket: one accepted (or connected) TCP/UNIX stream, Node's ``net.Socket`` in Python.

Rules:
- While an HTTP protocol owns the socket (``protocol`` is set), bytes go to it; after a
  hand-off (``connect``/``upgrade``) the socket is a raw byte stream: ``data`` events, bytes
  read before a ``data`` listener exists are kept and delivered when one is added (or, if the
  socket was paused, at ``resume()``, as Node's paused stream does); once 16 KiB are kept,
  reading stops until they are delivered, so a peer cannot fill the process's memory while
  nobody reads (Node 20's stops at its high-water mark). Paused, such a stream reads on into
  them, as Node's: below the limit a peer's reset is ``error`` and ``close`` at once (what was
  kept dropped), its FIN ``end`` after them at ``resume()`` (at once if none). A protocol's
  ``pause()`` stops reading, as does a socket's whose owner set ``reads_when_paused`` false.
- The class is put together from one mixin per concern: writing (net/writing.py: the
  queue, corking, flushing, ``drain``), ending (net/closing.py: ``end``, ``destroy_soon``,
  the orderly close), the idle timer (net/idle.py), connecting (net/connect.py), the TCP
  options (net/sockopts.py) and TLS (net/secure.py). This module holds the state they
  share and the reading side.
- The idle timer is lazy: activity (a read, or a write reaching the kernel) only stamps
  a time (``last_activity``). After a TLS handshake a read is activity only when it
  brings plaintext (or the close_notify), as Node's TLSSocket counts it: a record sent a
  byte at a time and never finished does not hold an idle keep-alive connection open.
- Times are ``time.monotonic()`` seconds: asyncio's ``loop.time()`` reads that clock, uvloop's
  is libuv's cached milliseconds, up to 1 ms behind it, so a duration is always the
  difference of two ``monotonic()`` readings, never of one of them and ``loop.time()``.
- A socket given a ``read_buffer`` (a writable memoryview that its owner shares between
  the sockets of one loop, e.g. a server's) reads into it and hands on a copy of what
  was read; without one, each read makes its own 64 KiB ``bytes``, shrunk to what
  came. The shared buffer keeps the process's heap from fragmenting: reads of a few
  bytes into 64 KiB blocks, between larger allocations, made a long-running worker's
  memory grow.
- Half-open: a socket handed off (or a client socket) that reads the peer's FIN emits
  ``end`` and stays writable until ``end()`` when ``allow_half_open`` is true (the
  server's sockets, as Node's http.Server makes them); when it is false (a client
  socket's default, as Node's ``net.connect``) it ends its side after ``end``.
- A ``data`` listener that raises (or a coroutine one of ``data``, ``drain``, ``timeout``
  and the connect's events, net/connect.py) gets the socket destroyed (logged once).
- ``resume()`` after a ``pause()`` asks for the socket's pending error (``SO_ERROR``):
  after a reset that came while reading was paused, what the peer sent before it is
  read first (the kernel keeps it), by the socket's own read steps, then the socket
  fails with the reset. (uvloop calls a reader once and never again when the peer's
  bytes and reset both wait.) On uvloop a read after which more is due asks too
  (``look_for_reset``: a raw stream's, a TLS record's part-way, one a protocol finds a
  message part-way in, a hand-off's; the server's sweep and the agent's pool ask too):
  else a head, an upload or a tunnel cut by a reset would wait for a timeout, or ever.
- ``set_encoding`` (net/text.py) makes those ``data`` events ``str``; nothing is decoded
  while a protocol owns the socket.
- TLS (``start_tls``): the bytes read go through the socket's ``tls`` layer before the
  protocol sees them; each hook is one ``if self.tls is not None`` branch, so a plain
  socket pays nothing else. The peer's close_notify ends its stream as a FIN does.
- A link-local IPv6 address (the only kind with a scope id) names its zone in
  ``remote_address``, ``local_address`` and ``address()``, as Node's do: ``fe80::1%eth0``.
- ``address()`` is ``{}`` (``local_port``, ``local_address``, ``local_family`` None) while a
  client socket connects and once the socket is destroyed, as Node's.
"""

import logging
import socket as _socket
from time import monotonic

from ..emitter import EventEmitter
from .closing import Closing
from .connect import Connecting
from .zones import zoned_host
from .idle import IdleTimer
from .resets import ResetWatch
from .sockopts import SocketOptions
from .secure import Secure
from .text import TextDecoder
from .writing import Writing, socket_error

__all__ = ["Socket", "socket_error"]

log = logging.getLogger("prefork")

_FAMILIES = {_socket.AF_INET: "IPv4", _socket.AF_INET6: "IPv6"}

_RECV_SIZE = 64 * 1024  # under glibc's mmap threshold: no mmap/munmap per read
# the events a coroutine listener that fails gets the socket destroyed at: nothing else would end it
_DESTROYING = frozenset(("data", "drain", "timeout", "connect", "ready", "lookup", "connectionAttempt",
                         "connectionAttemptFailed", "connectionAttemptTimeout"))
_PENDING_LIMIT = 16 * 1024  # bytes kept (for a 'data' listener to come, or while paused) before reading stops: Node 20's readable highWaterMark


class Socket(Connecting, Secure, IdleTimer, SocketOptions, Closing, Writing, ResetWatch, EventEmitter):
    # State that most sockets never change is a class default, set on the instance only
    # when it changes: CPython (3.11) keeps at most 29 attribute names of a class's
    # instances in its compact per-instance layout, and an instance given more gets a dict
    # of its own made (and grown) on the spot, slower to make and to read, its methods
    # then looked up the slow way on every call (tests/test_wsgi_socket_attributes.py and
    # tests/test_asgi_socket_attributes.py hold the adapters' sockets to 29).
    connecting = False  # a client socket's connect is under way
    _local = None  # address()'s, read once
    remote_address = remote_port = None  # the TCP peer's
    _broken = False  # a read or write failed: nothing more is sent
    _destroy_after_flush = False  # destroy_soon(): close once the FIN is out
    unsent = 0  # of the bytes buffered at a destroy, what it dropped (read-only)
    _pending = None  # bytes read after a hand-off, kept for a 'data' listener to come
    _pending_end = False  # the peer's FIN, kept after them
    _timer = None  # the idle timer (net/idle.py): its handle and deadline
    _paused = False  # pause() was called and no resume() since (Node's readableFlowing false)
    reads_when_paused = True  # a raw stream's pause() reads on into its kept bytes (module rules)
    _decoder = None  # set_encoding's TextDecoder (net/text.py): data events are str
    _pending_size = 0  # bytes in _pending
    proxy_peer = None  # (family, address) of the balancer when a PROXY header named another client

    def __init__(self, loop, sock, read_buffer=None, family=None, peer=None):
        """``family`` and ``peer`` (the peer's address tuple): as accept(2) gave them, when
        it did (else read from ``sock``)."""
        self.loop = loop
        self._sock = sock
        self._read_view = read_buffer
        self._fd = sock.fileno()
        self.remote_family = _FAMILIES.get(sock.family if family is None else family)
        if self.remote_family is not None:
            if not peer:
                try:
                    peer = sock.getpeername()
                except OSError:
                    peer = None
            if peer:
                self.remote_address, self.remote_port = peer[0], peer[1]
                if peer[3:] and peer[3]:  # a link-local peer (only those have a scope id)
                    self.remote_address = zoned_host(peer)
        self.protocol = None
        self.tls = None  # (read on every read and write: an attribute of the instance)
        self._out = []
        self.buffered_size = 0  # bytes written, not yet handed to the kernel (read-only)
        self._corked = 0
        # (the flags read on every read, write or flush are the instance's: a class
        # default is read the slow way)
        self._writer = False  # a writer is registered on the loop
        self._need_drain = False  # write() said wait: 'drain' is due
        self._fin_sent = False
        self._idle_fired = False  # the activity stamp of the idle period that fired, if it did
        self._reading = False
        self._flush_waiters = None
        self._flush_due = None  # (net/writing.py's, read on every read)
        self.writable_ended = False
        self.destroyed = False
        self.writable = True
        self.readable = True
        self.timeout = 0.0  # seconds of idleness before 'timeout' (0: off)
        self.last_activity = monotonic()  # of the last read or write (read-only)
        self.bytes_read = 0
        self._sent = 0  # (bytes_written: Node's count, read through its property)

    # -- the surface the protocols above use --------------------------------------------
    def close_fd(self):
        """In a forked child: close the descriptor without touching the loop (the parent's)."""
        self._sock.close()

    # -- info -----------------------------------------------------------------
    def address(self):
        """The local address (Node's ``socket.address()``), read once per socket: ``{}``
        on a UNIX socket, as Node's (its path is ``local_path``). Its family is the system
        socket's, never the one a PROXY header named (``remote_family``); ``{}`` while a
        client socket connects, and once destroyed (its handle gone), as Node's."""
        if self.destroyed:
            return {}  # (its descriptor is closed: Node's handle is gone)
        local = self._local
        if local is None:
            if self.connecting:
                return {}  # (not bound yet, or on an address attempt a later one may replace: Node's {})
            try:
                name = self._sock.getsockname()
            except OSError:
                return {}
            if not isinstance(name, tuple):
                return {}
            host = zoned_host(name) if name[3:] and name[3] else name[0]
            local = self._local = {"address": host, "family": _FAMILIES.get(self._sock.family), "port": name[1]}
        return local

    @property
    def local_port(self):
        """The local port (Node's ``localPort``); None on a UNIX socket."""
        return self.address().get("port")

    @property
    def local_address(self):
        """The local address's host (Node's ``localAddress``); None on a UNIX socket."""
        return self.address().get("address")

    local_family = property(lambda self: self.address().get("family"))  # Node's localFamily (None: UNIX)
    # Node's ``socket.server``: the server whose connection speaks HTTP on it (None: a client's, a handed-over one)
    server = property(lambda self: getattr(self.protocol, "server", None))

    @property
    def local_path(self):
        """A UNIX socket's path (a server connection's is its listener's); None on TCP or
        where there is none (a client's unnamed end)."""
        try:
            name = self._sock.getsockname()
        except OSError:
            return None
        return None if isinstance(name, tuple) else (name or None)

    def fileno(self):
        return self._fd

    # -- Node's stream state, read-only --------------------------------------------------
    readable_ended = False  # 'end' was emitted (Node's readableEnded)

    @property
    def writable_length(self):
        """Bytes written and not yet taken by the kernel (Node's ``writableLength``)."""
        return self.buffered_size

    @property
    def writable_need_drain(self):
        """``write()`` said wait and the ``drain`` has not come (Node's ``writableNeedDrain``)."""
        return self._need_drain and not self.writable_ended and not self.destroyed

    @property
    def pending(self):
        """Not connected (yet, or any more): Node's ``pending``."""
        return self.connecting or self.destroyed

    @property
    def ready_state(self):
        """Node's ``readyState``: ``opening``, ``open``, ``readOnly``, ``writeOnly`` or ``closed``."""
        if self.connecting:
            return "opening"
        if self.readable:
            return "open" if self.writable else "readOnly"
        return "writeOnly" if self.writable else "closed"

    @property
    def http_message(self):
        """The response currently on this socket (Node's ``socket._httpMessage``)."""
        protocol = self.protocol
        return None if protocol is None else protocol.current_response

    # -- reading ---------------------------------------------------------------
    def resume(self):
        paused = self._paused
        if paused:
            self._paused = False
        if self.protocol is None and (self._pending or self._pending_end) and self.listener_count("data"):
            # kept while paused: delivered before what reading on brings (a reset too)
            self.loop.call_soon(self._deliver_pending)
        if not self._reading and self.readable and not self.destroyed and not self.connecting:
            # (connecting: reading starts once connected, net/connect.py; the descriptor may change)
            self._reading = True
            self.loop.add_reader(self._fd, self._on_readable)
            if paused:
                self.resumed_after_pause()
        return self

    def is_paused(self):
        """Node's ``readable.isPaused()``: ``pause()`` stopped reading until ``resume()``."""
        return self._paused

    def ref(self):
        """Node's ``socket.ref()``: nothing to do (a worker's loop runs until the worker
        stops, whatever its sockets); the socket, as Node returns it."""
        return self

    unref = ref  # (Node's ``unref()``: the same)

    def pause(self):
        self._paused = True
        if self._reading and (self.protocol is not None or not self.reads_when_paused
                              or self._pending_size >= _PENDING_LIMIT):  # (else it reads on: module rules)
            self._reading = False
            if not self.destroyed:
                self.loop.remove_reader(self._fd)
        return self

    def on(self, event, listener):
        super().on(event, listener)
        if event == "data" and (self._pending or self._pending_end) and self.protocol is None \
                and not self._paused:  # (paused: they wait for resume())
            self.loop.call_soon(self._deliver_pending)
        return self

    def set_encoding(self, encoding=None):
        """Node's ``socket.setEncoding``: ``data`` events after a hand-off are ``str`` in
        ``encoding`` (a character split between reads is never cut); None: bytes again."""
        self._decoder = None if encoding is None else TextDecoder(encoding)
        return self

    def _emit_data(self, data):
        decoder = self._decoder
        if decoder is not None:
            data = decoder.decode(data)
            if not data:
                return
        # (a raising listener: an app's parser refusing what the peer sent; each later read would raise again)
        self.emit_or_destroy("data", data)

    def emit_or_destroy(self, event, *args):
        """``emit``; a listener that raises gets the socket destroyed and the error logged,
        for the events after which nothing else would end the socket. False if so."""
        try:
            self.emit(event, *args)
        except Exception:
            log.exception("error in a %r listener of a socket; closing it", event)
            self.destroy()
            return False
        return True

    def listener_failed(self, event, error, args):  # (a coroutine's: as emit_or_destroy's)
        super().listener_failed(event, error, args)
        if event in _DESTROYING:
            self.destroy()

    def _deliver_pending(self):
        if self._paused:
            return  # paused since it was scheduled: resume() delivers them
        pending, self._pending = self._pending, None
        self._pending_size = 0
        if pending and not self._broken:  # (a reset, a failed read or write: dropped, as Node drops them)
            self._emit_data(b"".join(pending))
            if self._paused:
                return  # a listener paused: the 'end' waits for resume()
        if self._pending_end:
            self._pending_end = False
            if not self.destroyed:  # no 'end' after close
                self._emit_end()
        elif not self._reading and not self._paused and self._pending is None and self.protocol is None:
            self.resume()  # reading stopped while the bytes waited for their listener

    def _on_readable(self):
        view = self._read_view
        try:
            if view is None:
                data = self._sock.recv(_RECV_SIZE)
                size = len(data)
            else:
                size = self._sock.recv_into(view)
                # (TLS: the records go to OpenSSL from the read buffer, no copy of them first)
                data = view[:size].tobytes() if self.tls is None else view[:size]
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            self._fail(socket_error(exc, "read"))
            return
        if not size:
            if self._reset is not None:  # (a reset whose error was taken by resume())
                self._read_to_reset()
                return
            self._on_eof()
            return
        tls = self.tls
        if tls is None or not tls.reading:  # (after a TLS handshake, plaintext alone is activity)
            self.last_activity = monotonic()
            if self._idle_fired:
                self._rearm()
        self.bytes_read += size
        if tls is not None:
            data = self._decrypted(tls, data)  # (net/secure.py)
            if not data:
                return
        if self._flush_due is not None:
            # written before this read (their bytes in the kernel): their callbacks and
            # 'finish' come before what the read brings, on a loop that runs its I/O
            # ahead of what was queued (uvloop) as on one that does not
            self._run_flush_due()
            if self.destroyed:  # (by one of them)
                return
        protocol = self.protocol
        if protocol is not None:
            protocol.data_received(data)
        else:
            self._received_raw(data)
            self.look_for_reset()

    def _received_raw(self, data):
        """Bytes read after a hand-off: to the ``data`` listeners, or kept for them."""
        if self._pending is None and not self._paused and self.listener_count("data"):
            self._emit_data(data)
        else:
            if self._pending is None:
                self._pending = []
            self._pending.append(data)
            self._pending_size += len(data)
            if self._pending_size >= _PENDING_LIMIT and self._reading:
                # nobody takes them yet: stop reading until someone does (as Node's
                # stream without a consumer stops at its high-water mark)
                self._reading = False
                self.loop.remove_reader(self._fd)

    def _on_eof(self):
        if self.tls is not None and not self.tls.eof_received():
            return  # before the handshake finished: a TLS client error, the socket is gone
        self.readable = False
        if self._reading:  # (not pause(): the stream is not paused, it is over)
            self._reading = False
            self.loop.remove_reader(self._fd)
        if self.protocol is not None:
            self.readable_ended = True
            self.protocol.eof_received()
            if self.listener_count("end"):  # as Node's, a protocol's socket tells its listeners too
                self.emit("end")
        elif self._pending:
            self._pending_end = True  # after the kept bytes, when they are delivered
            if self.listener_count("data") and not self._paused:
                self.loop.call_soon(self._deliver_pending)
        else:
            self._emit_end()

    def _emit_end(self):
        try:
            if self._decoder is not None:
                rest = self._decoder.end()  # what was held of a last character
                if rest:
                    self.emit("data", rest)
            self.readable_ended = True
            self.emit("end")
        finally:  # (a listener that raises leaves the close to come all the same)
            if not self.destroyed:
                if self.writable_ended:
                    if not self._out and not self._finish_due:  # (a due 'finish' closes after it)
                        self.destroy()
                elif not self.allow_half_open:
                    self.end()  # the peer's FIN ends this side too (Node's allowHalfOpen: false)

    def _fail(self, err):
        if self.destroyed:
            return  # nothing is reported after close
        if self.tls is not None and self.tls.broken(err):
            return  # before the handshake's end: a TLS client error, the socket is gone
        self._broken = True
        self.writable = False
        if self.protocol is not None:
            self.protocol.connection_error(err)
        else:
            self.destroy(err)

