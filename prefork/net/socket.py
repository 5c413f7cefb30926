"""Socket: one accepted (or connected) TCP/UNIX stream, Node's ``net.Socket`` in Python.

Rules:
- While an HTTP protocol owns the socket (``protocol`` is set), bytes go to it; after a
  hand-off (``connect``/``upgrade``) the socket is a raw byte stream: ``data`` events,
  bytes read before a ``data`` listener exists are kept and delivered when one is added.
- Writes go straight to the kernel when nothing is queued; the rest waits for
  writability. ``write()`` returns False past ``high_water_mark``; ``drain`` follows.
  While corked (during one read's processing) writes only queue, and uncorking sends
  them in one ``send``.
- Half-open like Node's server sockets: after the peer's FIN the socket stays writable
  until ``end()``; ``end()`` sends FIN once the queue is flushed.
- The idle timer (``set_timeout``, net/idle.py) is lazy: activity (a read, or a write
  reaching the kernel) only stamps a time (``last_activity``).
- ``close(had_error)`` is emitted on a later loop turn, once.
- Times are ``time.monotonic()`` seconds, the clock of the loops' ``time()``.
- TLS (``start_tls``): the bytes read go through the socket's ``tls`` layer before the
  protocol sees them, and what is queued is encrypted when it is flushed; each hook is
  one ``if self.tls is not None`` branch, so a plain socket pays nothing else. For a TLS
  socket ``_out`` holds plaintext, or one empty placeholder while records the kernel has
  not taken wait in the layer (so "flushed" still means in the kernel).
"""

import errno
import socket as _socket
from time import monotonic

from ..emitter import EventEmitter
from ..http.errors import HTTPError
from .connect import Connecting
from .idle import IdleTimer
from .secure import Secure

_FAMILIES = {_socket.AF_INET: "IPv4", _socket.AF_INET6: "IPv6"}
_RECV_SIZE = 64 * 1024  # under glibc's mmap threshold: no mmap/munmap per read


def socket_error(exc, syscall):
    code = errno.errorcode.get(exc.errno, "EIO") if exc.errno else "EIO"
    return HTTPError(code, f"{syscall} {code}")


class Socket(Connecting, Secure, IdleTimer, EventEmitter):
    high_water_mark = 64 * 1024

    def __init__(self, loop, sock):
        self.loop = loop
        self._sock = sock
        self._fd = sock.fileno()
        self.remote_family = _FAMILIES.get(sock.family)
        self.remote_address = self.remote_port = None
        if self.remote_family is not None:
            try:
                peer = sock.getpeername()
                self.remote_address, self.remote_port = peer[0], peer[1]
            except OSError:
                pass
        self.protocol = None
        self.connecting = False
        self._local = None
        self._out = []
        self.buffered_size = 0  # bytes written, not yet handed to the kernel (read-only)
        self._corked = 0
        self._writer = False
        self._reading = False
        self._flush_waiters = None
        self._need_drain = False
        self._broken = False  # a read or write failed: nothing more is sent
        self._ending = False
        self._destroy_after_flush = False
        self._pending = None
        self._pending_end = False
        self.destroyed = False
        self.writable = True
        self.readable = True
        self.timeout = 0.0  # seconds of idleness before 'timeout' (0: off)
        self._timer = None
        self._timer_deadline = 0.0
        self._idle_fired = False  # the activity stamp of the idle period that fired, if it did
        self.last_activity = monotonic()  # of the last read or write (read-only)
        self.bytes_read = 0
        self.bytes_written = 0

    # -- the surface the protocols above use --------------------------------------------
    @property
    def writable_ended(self):
        """``end()`` was called (Node's ``writableEnded``)."""
        return self._ending

    def want_drain(self):
        """Emit ``drain`` (and tell the protocol) once the buffer empties."""
        self._need_drain = True

    def close_fd(self):
        """In a forked child: close the descriptor without touching the loop (the parent's)."""
        self._sock.close()

    # -- info -----------------------------------------------------------------
    def address(self):
        """The local address (Node's ``socket.address()``), read once per socket."""
        local = self._local
        if local is None:
            try:
                name = self._sock.getsockname()
            except OSError:
                return {}
            local = self._local = ({"address": name[0], "family": self.remote_family, "port": name[1]}
                                   if isinstance(name, tuple) else name)
        return local

    @property
    def local_port(self):
        return self.address().get("port")

    def fileno(self):
        return self._fd

    @property
    def http_message(self):
        """The response currently on this socket (Node's ``socket._httpMessage``)."""
        protocol = self.protocol
        return None if protocol is None else protocol.current_response

    def set_keep_alive_idle(self, seconds):
        """TCP keep-alive probes after ``seconds`` idle (Node's keepAliveInitialDelay)."""
        if self.remote_family is None or self.destroyed or not seconds:
            return self
        try:
            self._sock.setsockopt(_socket.SOL_SOCKET, _socket.SO_KEEPALIVE, 1)
            self._sock.setsockopt(_socket.IPPROTO_TCP, _socket.TCP_KEEPIDLE, max(1, int(seconds)))
        except (OSError, AttributeError):
            pass
        return self

    def set_no_delay(self, no_delay=True):
        if self.remote_family is not None and not self.destroyed:
            self._sock.setsockopt(_socket.IPPROTO_TCP, _socket.TCP_NODELAY, int(no_delay))
        return self

    # -- TLS ---------------------------------------------------------------------
    # -- reading ---------------------------------------------------------------
    def resume(self):
        if not self._reading and self.readable and not self.destroyed:
            self._reading = True
            self.loop.add_reader(self._fd, self._on_readable)
        return self

    def pause(self):
        if self._reading:
            self._reading = False
            if not self.destroyed:
                self.loop.remove_reader(self._fd)
        return self

    def on(self, event, listener):
        super().on(event, listener)
        if event == "data" and (self._pending or self._pending_end) and self.protocol is None:
            self.loop.call_soon(self._deliver_pending)
        return self

    def _deliver_pending(self):
        pending, self._pending = self._pending, None
        if pending:
            self.emit("data", b"".join(pending))
        if self._pending_end:
            self._pending_end = False
            self._emit_end()

    def _on_readable(self):
        try:
            data = self._sock.recv(_RECV_SIZE)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            self._fail(socket_error(exc, "read"))
            return
        if not data:
            self._on_eof()
            return
        self.last_activity = monotonic()
        if self._idle_fired:
            self._rearm()
        self.bytes_read += len(data)
        if self.tls is not None:
            tls = self.tls
            try:
                data = tls.received(data)
            except HTTPError as err:
                self._fail(err)
                return
            if tls.peer_closed:  # close_notify: what came before it, then the end
                self._tls_closed(data)
                return
            if not data:
                return
        protocol = self.protocol
        if protocol is not None:
            protocol.data_received(data)
        else:
            self._received_raw(data)

    def _received_raw(self, data):
        """Bytes read after a hand-off: to the ``data`` listeners, or kept for them."""
        if self._pending is None and self.listener_count("data"):
            self.emit("data", data)
        else:
            if self._pending is None:
                self._pending = []
            self._pending.append(data)

    def _tls_closed(self, data):
        if data:
            if self.protocol is not None:
                self.protocol.data_received(data)
            else:
                self._received_raw(data)
        if self.readable and not self.destroyed:
            self._on_eof()

    def _on_eof(self):
        if self.tls is not None and not self.tls.eof_received():
            return  # before the handshake finished: a TLS client error, the socket is gone
        self.readable = False
        self.pause()
        if self.protocol is not None:
            self.protocol.eof_received()
            if self.listener_count("end"):  # as Node's, a protocol's socket tells its listeners too
                self.emit("end")
        elif self._pending and not self.listener_count("data"):
            self._pending_end = True
        else:
            self._emit_end()

    def _emit_end(self):
        self.emit("end")
        if self._ending and not self._out and not self.destroyed:
            self.destroy()

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

    # -- writing ------------------------------------------------------------------
    def write(self, data, callback=None):
        if isinstance(data, str):
            data = data.encode()
        if self._ending or self.destroyed:
            err = HTTPError("ERR_STREAM_WRITE_AFTER_END", "write after end")
            self.loop.call_soon(self.emit, "error", err)
            return False
        if data:
            self.send_bytes(bytes(data))
        if callback is not None:
            self.after_flush(callback)
        if self.buffered_size >= self.high_water_mark:
            self._need_drain = True
            return False
        return True

    def send_bytes(self, data):
        """Queue ``data`` (bytes) for the kernel: the one write path."""
        if self.destroyed:
            return  # writes after close are dropped, as Node drops them
        if self._out or self._corked or self.connecting:
            self._out.append(data)
            self.buffered_size += len(data)
            return
        if self.tls is not None:
            self._out.append(data)
            self.buffered_size += len(data)
            if not self._writer:
                self._flush()
            return
        try:
            sent = self._sock.send(data)
        except (BlockingIOError, InterruptedError):
            sent = 0
        except OSError as exc:
            self._fail(socket_error(exc, "write"))
            return
        self.bytes_written += sent
        if self.timeout:  # a write is activity; with no idle timer there is nothing to stamp
            self.last_activity = monotonic()
        if sent < len(data):
            rest = data[sent:]
            self._out.append(rest)
            self.buffered_size += len(rest)
            self._want_write()
        elif self._need_drain:  # all taken at once: the drain a writer waits for, on the next turn
            self.loop.call_soon(self._flush)

    def _want_write(self):
        if not self._writer and not self.destroyed:
            self._writer = True
            self.loop.add_writer(self._fd, self._flush)

    def cork(self):
        self._corked += 1

    def uncork(self):
        if self._corked:
            self._corked -= 1
            if not self._corked and not self._writer:
                self._flush()

    def _flush(self):
        """Send what is queued; when the queue empties, run the flush waiters."""
        out = self._out
        if self.tls is not None:
            if not self._flush_tls(out):
                return
        elif out:
            data = out[0] if len(out) == 1 else b"".join(out)
            try:
                sent = self._sock.send(data)
            except (BlockingIOError, InterruptedError):
                sent = 0
            except OSError as exc:
                self._fail(socket_error(exc, "write"))
                return
            self.last_activity = monotonic()
            self.bytes_written += sent
            if sent < len(data):
                rest = data[sent:]
                self._out = [rest]
                self.buffered_size = len(rest)
                self._want_write()
                return
            out.clear()
            self.buffered_size = 0
        if self._writer:
            self._writer = False
            self.loop.remove_writer(self._fd)
        waiters = self._flush_waiters
        if waiters is not None:
            self._flush_waiters = None
            for waiter in waiters:
                waiter()
        if self._need_drain:
            self._need_drain = False
            self.emit("drain")
            if self.protocol is not None:
                self.protocol.on_drain()
        if self._ending and not self.destroyed and not self._out:
            # (a waiter or a drain listener may have queued more, and ended: it goes first)
            self._shutdown()

    def _flush_tls(self, out):
        """Encrypt what is queued and hand the records to the kernel; True once the
        kernel has taken them all (else the writer is armed)."""
        data = (out[0] if len(out) == 1 else b"".join(out)) if out else b""
        try:
            left = self.tls.send(data)
        except OSError as exc:
            self._fail(socket_error(exc, "write"))
            return False
        if out:  # plaintext written, or records the kernel had not taken: a write either way
            self.last_activity = monotonic()
            self.bytes_written += len(data)
        if left:
            self._out = [b""]
            self.buffered_size = left
            self._want_write()
            return False
        out.clear()
        self.buffered_size = 0
        return True

    def after_flush(self, callback):
        """Call ``callback`` once everything queued so far is in the kernel (never now)."""
        if not self._out and not self._corked and not self.connecting:
            self.loop.call_soon(callback)
        elif self._flush_waiters is None:
            self._flush_waiters = [callback]
        else:
            self._flush_waiters.append(callback)

    def pipe(self, destination, end=True):
        """Copy everything read from this socket to ``destination`` with backpressure:
        reading pauses while ``destination`` is backed up; its FIN follows ours."""
        def on_data(data):
            if not destination.write(data):
                self.pause()
        self.on("data", on_data)
        destination.on("drain", self.resume)
        if end:
            self.on("end", destination.end)
        return destination

    # -- ending ---------------------------------------------------------------------
    def end(self, data=None, callback=None):
        if data:
            self.write(data)
        if callback is not None:
            self.once("finish", callback)
        if self._ending or self.destroyed:
            return self
        self._ending = True
        self.writable = False
        if not self._out and not self._corked and not self.connecting:
            self._shutdown()  # (connecting: the FIN follows the connect, from its flush)
        return self

    def destroy_soon(self):
        """FIN after the queue is flushed, then close (Node's ``destroySoon``); at once when
        a read or write already failed (nothing more can be flushed)."""
        self._destroy_after_flush = True
        if self._broken or (self._ending and not self._out and not self._corked):
            self.destroy()
        else:
            self.end()

    def _shutdown(self):
        if self.tls is not None:
            self.tls.close_notify()
        try:
            self._sock.shutdown(_socket.SHUT_WR)
        except OSError:
            pass
        self.emit("finish")
        if self._destroy_after_flush or not self.readable:
            self.destroy()

    def destroy(self, error=None):
        if self.destroyed:
            return self
        self.destroyed = True
        self.writable = self.readable = False
        if self._out and error is None and not self._broken and not self.connecting:
            # bytes written before the destroy go out first (Node writes at once; a
            # corked read only delays them): one last non-blocking try
            try:
                data = self._out[0] if len(self._out) == 1 else b"".join(self._out)
                if self.tls is not None:
                    self.tls.send(data)
                else:
                    self._sock.send(data)
            except OSError:
                pass
        loop = self.loop
        if self._reading:
            self._reading = False
            loop.remove_reader(self._fd)
        if self._writer:
            self._writer = False
            loop.remove_writer(self._fd)
        try:
            self._sock.close()
        except OSError:
            pass
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._out = []
        self.buffered_size = 0
        self._flush_waiters = None
        protocol = self.protocol
        if protocol is not None:
            protocol.connection_lost(error)
        loop.call_soon(self._emit_close, error)
        return self

    def _emit_close(self, error):
        if error is not None and (self.protocol is None or self.listener_count("error")):
            self.emit("error", error)
        self.emit("close", error is not None)
