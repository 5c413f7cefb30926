"""TLS for the server's sockets: a listener's TLS (``ServerTLS``) and the TLS layer a
``Socket`` runs its bytes through.

Rules:
- Sans I/O: one ``ssl.SSLObject`` over two ``MemoryBIO``s per connection. The Socket
  keeps reading and writing the kernel on readiness callbacks as for plain TCP; this
  layer turns what is read into plaintext (``received``) and what is written into
  records (``send``). Records reach the kernel only through ``send``, called from the
  Socket's flush (which, with no ``backlog``, does what ``send`` does without the call: the
  per-response path), so ordering, corking and backpressure stay the Socket's.
- The handshake comes first: the protocol sees no byte before it completes. A handshake
  that fails, meets EOF or a reset, or outlasts ``handshake_timeout`` is reported once to
  ``on_error(err, socket)`` (the server's ``tlsClientError``) and the socket is
  destroyed; its alert, if any, is sent first. A timeout that finds the peer's bytes
  unread or just read (the loop was busy) looks once more, a second later. A socket destroyed before the handshake
  ends (by a ``connection`` listener, a server timeout, ``close_all_connections``) drops
  its handshake timer at once: nothing of it outlives the socket. Once the socket has
  emitted 'close', the layer lets go of it (``release``): no reference cycle is left.
  What is written before the handshake's end (a 'connection' listener's answer) waits
  for it in the socket's queue, as Node's TLSSocket keeps it, and an ``end()`` made
  meanwhile sends its FIN after it: the layer flushes the socket (``Socket.flush``) for
  its handshake's records and at the handshake's end.
- Errors carry Node's codes: ``ERR_SSL_<OpenSSL reason>``, ``ERR_TLS_HANDSHAKE_TIMEOUT``,
  ``ECONNRESET`` (EOF, a reset or close_notify before the handshake finished); each
  failure is told to the error log by net/tlslog.py (which says at what level).
- A plain HTTP request instead of a ClientHello (``ERR_SSL_HTTP_REQUEST``, or any stream
  that starts with a capital letter, as a method does), or a PROXY protocol header (v1 or
  v2: a balancer's ``send-proxy`` to a listener without ``proxy_protocol``, warned of by
  net/tlslog.py), is a failed handshake too, but the peer is told, as nginx tells it: a 400 in the clear (its head alone to a ``HEAD``, read
  from the stream's bytes however they were split into reads), then the socket's orderly close (its FIN, what the peer still sends read and dropped).
  The answer, and the request line and head fields the access log reads of the stream's
  first bytes, are net/plainhttp.py's.
- ``end()`` sends close_notify before the FIN (the FIN waits until the kernel has taken
  all of it); the peer's close_notify ends the stream.
- ALPN offers ``http/1.1``, and ``http/1.0`` to a client offering that without
  ``http/1.1`` (``curl --http1.0``), as nginx does (Node refuses it). An offer with
  neither (``h2`` alone) is refused as Node and nginx refuse it, with a ``no_application_protocol`` alert (ERR_SSL_NO_APPLICATION_PROTOCOL):
  Python's ``ssl`` would go on without ALPN, so the layer reads the offer from the
  ClientHello itself (net/hello.py) before OpenSSL answers it, as OpenSSL reads it
  (empty records skipped), and so the second ClientHello after a HelloRetryRequest: OpenSSL
  sees no byte after a hello until its offer is judged. No offer is served.
  Client-initiated renegotiation is refused.
- One certificate serves every SNI name. The name (``Socket.servername``) is read from
  the ClientHello with its ALPN offer, as latin-1 as Node reads it: there is no
  ``sni_callback`` (CPython decodes the name as ASCII before calling one, and a name with
  a byte of 0x80 or above failed the handshake with internal_error). Without a callback
  OpenSSL does not acknowledge the name in its answer (RFC 6066 lets a server leave it
  out; clients go on). A hello longer than the reader keeps (16 KiB) gives no name.
- Contexts are built from the settings by tlsconfig.py. The master keeps the context it
  checked and the workers it forks use that one: OpenSSL makes session ticket keys with
  the context, so all workers of a generation share them and a client resumes its
  session (TLS 1.2 or 1.3 tickets) on any worker.
"""

import mmap
import ssl
import threading
from time import monotonic

from ..http.errors import HTTPError
from .hello import HelloReader
from .plainhttp import PLAIN_LINE_MAX, answer, kept_from, proxy_version
from .tlsconfig import ALPN, build_context
from .tlslog import tell_failure, tell_proxy_header

_SPOKEN = frozenset(name.encode() for name in ALPN)
_LEFT = "Client network socket disconnected before secure TLS connection was established"
_NO_APPLICATION_PROTOCOL = b"\x15\x03\x03\x00\x02\x02\x78"  # the fatal alert record (120)
# a HelloRetryRequest's random (RFC 8446 4.1.3): SHA-256 of "HelloRetryRequest"
_RETRY_RANDOM = bytes.fromhex("cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c")
_JUST_READ = 0.05  # seconds: bytes read this recently were read in the timer's loop turn
_LOOK_AGAIN = 1.0  # after a timeout that found the peer's bytes unread (a busy loop)
_READ_SIZE = 16 * 1024  # one record's plaintext at most
# OpenSSL's reasons for a first record that is a plain HTTP request (GET, POST, HEAD, PUT;
# CONNECT); any other method shows as a stream that starts with a capital letter
_PLAIN_HTTP = ("HTTP_REQUEST", "HTTPS_PROXY_REQUEST")
def tls_error(exc):
    """Node's error for an OpenSSL failure: code ``ERR_SSL_<REASON>``."""
    reason = getattr(exc, "reason", None)
    code = f"ERR_SSL_{reason}" if reason else "ERR_SSL_ERROR"
    err = HTTPError(code, str(exc))
    err.library = getattr(exc, "library", None)
    return err


class _Records(ssl.SSLObject):
    """``wrap_bio``'s objects (``SSLContext.sslobject_class``): ``direct()`` gives the C read and
    write under ``SSLObject``'s, which only pass their arguments on (a Python call per record).
    ``servername``: the name the client asked for by SNI (set by the layer from the
    ClientHello, net/hello.py), False when it sent none."""

    servername = False

    def direct(self):
        inner = getattr(self, "_sslobj", None)  # CPython's _ssl object; elsewhere the methods above it
        return (self.read, self.write) if inner is None else (inner.read, inner.write)


class ServerTLS:
    """One listener's TLS: the context and the handshake timeout; ``layer`` makes the
    per-connection layer (called by ``Socket.start_tls``)."""

    def __init__(self, context, handshake_timeout=10.0):
        self.context = context
        context.sslobject_class = _Records  # (no sni_callback: the name is read from the hello)
        self.handshake_timeout = handshake_timeout
        self.threads = threading.local()  # each thread's plaintext buffer (``plaintext_buffer``)

    @classmethod
    def from_settings(cls, settings):
        """The context the master built when it checked the settings, when there is one:
        workers forked from it share its session ticket keys, so a client resumes its
        session on whichever worker accepts it next; else one built here."""
        context = getattr(settings, "tls_context", None) or build_context(settings.values)
        return cls(context, settings.tls_handshake_timeout)

    def layer(self, socket, raw, on_secure=None, on_error=None):
        return TLSLayer(self, socket, raw, on_secure, on_error, self.plaintext_buffer())

    def plaintext_buffer(self):
        """The calling thread's buffer that records are decrypted into (``_READ_SIZE``
        bytes), shared by the layers made on that thread (a loop runs on one). Not one per
        process: ``SSLObject.read`` lets go of the GIL, so two loops on two threads would
        write into it at once and mix their plaintexts. An anonymous mapping, private to
        the process: a slice of it is ``bytes`` at once (a memoryview's slice and its
        ``tobytes()`` cost twice as much per record)."""
        buffer = getattr(self.threads, "buffer", None)
        if buffer is None:
            buffer = self.threads.buffer = mmap.mmap(-1, _READ_SIZE, flags=mmap.MAP_PRIVATE)
        return buffer


class TLSLayer:
    """The TLS state of one connection (see the module's rules)."""

    __slots__ = ("socket", "raw", "on_secure", "on_error", "incoming", "outgoing", "sslobj", "established",
                 "reading", "failed", "peer_closed", "closed", "backlog", "timer", "first_byte",
                 "wire_sent", "hello", "answered", "looked_again", "plain_start", "later", "later_size", "read", "write", "buffer")

    def __init__(self, tls, socket, raw, on_secure, on_error, buffer):
        self.socket = socket
        self.raw = raw  # the kernel socket the records go to
        self.on_secure = on_secure
        self.on_error = on_error
        self.incoming = ssl.MemoryBIO()
        self.outgoing = ssl.MemoryBIO()
        self.sslobj = tls.context.wrap_bio(self.incoming, self.outgoing, server_side=True)
        self.read, self.write = self.sslobj.direct()
        self.buffer = buffer  # the thread's plaintext buffer (ServerTLS.plaintext_buffer)
        self.established = False
        self.reading = False  # established, and the peer has not closed: the fast path
        self.failed = False
        self.peer_closed = False
        self.closed = False
        self.backlog = b""  # records the kernel has not taken yet
        self.later = []  # records made while a backlog waits, behind it
        self.later_size = 0
        self.first_byte = None  # of the stream: a ClientHello's is 0x16, a request line's a letter
        self.wire_sent = 0  # bytes of records the kernel has taken
        self.hello = HelloReader()  # the ClientHello until its ALPN offer is read (then None)
        self.looked_again = False  # the timeout found the peer's bytes unread once
        self.plain_start = b""  # the stream's first bytes when it starts as plain HTTP does
        self.answered = True  # False while OpenSSL's answer to the first hello may be a retry request
        timeout = tls.handshake_timeout
        self.timer = socket.loop.call_later(timeout, self._timed_out) if timeout and timeout > 0 else None

    # -- bytes in -----------------------------------------------------------------------------
    def received(self, data):
        """Plaintext for the protocol (bytes) from ``data`` read off the wire (bytes, or a
        view of the socket's read buffer; records are decrypted into the thread's
        plaintext buffer, ``ServerTLS.plaintext_buffer``; b"" when there is none yet); ``peer_closed`` is set once the peer's close_notify has ended the
        stream (what came before it is returned, what follows it is dropped). Raises an
        ``HTTPError`` (``ERR_SSL_*``) for a broken stream after the handshake."""
        incoming = self.incoming
        if not self.reading:
            if self.failed or self.peer_closed:
                return b""
            data = bytes(data)  # (a view of the socket's read buffer: the hello reader keeps bytes)
            if self.first_byte is None and data:
                self.first_byte = data[0]
                if kept_from(data[0]):  # plain HTTP (its line is logged), or a PROXY header
                    self.plain_start = data[:PLAIN_LINE_MAX]
            elif self.plain_start and len(self.plain_start) < PLAIN_LINE_MAX:  # its line in pieces
                self.plain_start += data[:PLAIN_LINE_MAX - len(self.plain_start)]
            if self.hello is not None:
                if not self._hellos(data):
                    return b""
            else:
                incoming.write(data)
                if not self._handshake():
                    return b""
        else:
            incoming.write(data)
        read, buffer, chunks = self.read, self.buffer, []
        try:  # a read returns one record at most, and a whole one: _READ_SIZE
            n = read(_READ_SIZE, buffer)  # (into the shared buffer: no 16 KiB bytes made per read)
            if n and not incoming.pending:
                return buffer[:n]  # the usual: one record, and nothing after it
            while n:
                chunks.append(buffer[:n])
                if not incoming.pending:
                    break
                n = read(_READ_SIZE, buffer)
            else:  # close_notify: 0 now and at every later read, bytes after it stay
                self._peer_closed()
        except ssl.SSLWantReadError:  # (the last record carried no plaintext)
            if self.outgoing.pending:  # a post-handshake message (a key update) wants an answer;
                self.socket.send_bytes(b"")  # after plaintext it goes out with the next write
        except ssl.SSLZeroReturnError:
            self._peer_closed()
        except ssl.SSLError as exc:
            if self.outgoing.pending:  # the fatal alert OpenSSL wrote (RFC 8446 6.2): one try, as Node sends it
                try:
                    self.send(b"")
                except OSError:
                    pass
            raise tls_error(exc) from None
        if len(chunks) == 1:
            return chunks[0]
        return b"".join(chunks)

    def _peer_closed(self):
        self.peer_closed = True
        self.reading = False
        self.incoming = ssl.MemoryBIO()  # nothing after close_notify is read; drop it

    def _hellos(self, data):
        """Read ``data`` as the (first or retried) ClientHello until it is whole; OpenSSL gets
        the bytes up to its end only once its offer is judged (those after it are held, and
        read as the second hello when OpenSSL answers with a HelloRetryRequest). True once
        the handshake has finished."""
        while True:
            hello = self.hello
            offered = hello.feed(data)
            if offered is None:
                self.incoming.write(data)
                return False
            rest = hello.rest
            self.incoming.write(data[:len(data) - len(rest)] if rest else data)
            self.hello = None
            if hello.servername:  # (a second hello's name, after a retry request, is the one served)
                self.sslobj.servername = hello.servername
            if offered and not _SPOKEN.intersection(offered):
                self._refuse(offered)
                return False
            self.answered = hello.retry or offered is False  # (only a ClientHello gets a retry request)
            done = self._handshake()
            if self.failed or self.socket is None or self.socket.destroyed:
                return False
            if self.hello is None:
                if rest:  # (OpenSSL judges what follows the last hello)
                    self.incoming.write(rest)
                    done = done or self._handshake()
                return done
            data = rest  # the second hello: read as the first

    def _refuse(self, offered):
        """The client's offer has none of ours: the no_application_protocol alert, and the
        socket is gone."""
        names = ", ".join(name.decode("ascii", "replace") for name in offered)[:100]
        self.outgoing.write(_NO_APPLICATION_PROTOCOL)  # sent as OpenSSL's own alerts are
        self._fail(HTTPError("ERR_SSL_NO_APPLICATION_PROTOCOL", f"no application protocol: the client "
                                                                f"offers {names}, this server speaks {' and '.join(ALPN)}"))

    def _retry_requested(self):
        """OpenSSL's answer to the first ClientHello, waiting in ``outgoing``, is a
        HelloRetryRequest (a ServerHello with RFC 8446's fixed random): the client's next
        hello is read too."""
        self.answered = True
        flight = self.outgoing.read()
        self.outgoing.write(flight)
        return flight[:1] == b"\x16" and flight[5:6] == b"\x02" and flight[11:43] == _RETRY_RANDOM

    def _handshake(self):
        try:
            self.sslobj.do_handshake()
        except ssl.SSLWantReadError:
            if self.outgoing.pending:
                if not self.answered and self._retry_requested():
                    self.hello = HelloReader(retry=True)
                self.socket.flush()
            return False
        except ssl.SSLZeroReturnError:  # close_notify: the client left before the end, as with EOF
            self._fail(HTTPError("ECONNRESET", _LEFT))
            return False
        except ssl.SSLError as exc:
            first = self.first_byte
            plain_http = (getattr(exc, "reason", None) in _PLAIN_HTTP or (first is not None and 65 <= first <= 90)
                          or proxy_version(self.plain_start) is not None)
            self._fail(tls_error(exc), plain_http=plain_http)
            return False
        self.established = self.reading = True
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        if self.on_secure is not None:
            self.on_secure(self.socket)
        # the server's last flight, session tickets, what was written before (still queued
        # in the socket: counted, its callbacks waiting) and the listener's, in one send; then
        # the write callbacks and the FIN of an end() that waited (Node: 'secure', then 'finish')
        self.socket.flush()
        return not self.socket.destroyed

    def eof_received(self):
        """The peer's FIN: True when it is an ordinary end of stream; before the
        handshake finished it is a TLS client error (False: the socket is gone)."""
        if self.established:
            return True
        if not self.failed:
            self._fail(HTTPError("ECONNRESET", _LEFT))
        return False

    def broken(self, err):
        """A read or write of the socket failed (a reset): before the handshake finished it
        is a TLS client error (True: reported, the socket is gone), after it the socket's
        own error."""
        if self.established:
            return False
        if not self.failed:
            self._fail(err)
        return True

    def _timed_out(self):
        self.timer = None
        if not self.established and not self.failed and not self.socket.destroyed:
            socket = self.socket
            if not self.looked_again and (socket.unread_input() or monotonic() - socket.last_activity < _JUST_READ):
                # the loop was busy: what the peer sent is read (uvloop runs timers before
                # it polls), or was just read, and the handshake's next flight is on its
                # way; it gets one more look (a handshake unfinished after it timed out)
                self.looked_again = True
                self.timer = self.socket.loop.call_later(_LOOK_AGAIN, self._timed_out)
                return
            self._fail(HTTPError("ERR_TLS_HANDSHAKE_TIMEOUT", "TLS handshake timeout"))

    def _fail(self, err, plain_http=False):
        self.failed = True
        self.reading = False
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        socket = self.socket
        if self.outgoing.pending and not socket.destroyed:
            socket.flush()  # the alert
        if plain_http:  # (err.reply: status, line, body bytes, fields)
            reply, err.reply, version = answer(self.plain_start)
            if version is not None:
                tell_proxy_header(version, socket)
        tell_failure(err, socket.remote_address)
        if self.on_error is not None:
            self.on_error(err, socket)
        if socket.destroyed:
            return
        if plain_http:  # the peer speaks plain HTTP: tell it so in the clear, then an orderly close
            try:
                self.raw.send(reply)
            except OSError:
                socket.destroy()
                return
            socket.destroy_soon()
        else:
            socket.destroy()

    def release(self):
        """The socket is closed (after its 'close'): what the layer kept for it goes (bytes
        written before a handshake that never ended included), and so does its link back
        to the socket, which would hold the two in a cycle until the cycle collector. The
        session stays readable (the socket's accessors)."""
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        self.socket = self.on_secure = self.on_error = self.hello = None
        self.backlog = b""
        self.later = []
        self.later_size = 0

    # -- bytes out ---------------------------------------------------------------------------------
    def send(self, data):
        """Encrypt ``data`` and hand the records to the kernel; returns how many bytes of
        records it has not taken yet. Plaintext comes only once the handshake has finished
        (the socket keeps it until then); after close_notify it is dropped."""
        if data and self.established and not self.closed:
            self.write(data)
        records = self.outgoing.read()  # (b"" when there are none: cheaper than asking first)
        if self.backlog:
            # what the kernel has not taken goes first; new records wait behind it, each
            # copied once (joining them to the backlog at every send was quadratic)
            if records:
                self.later.append(records)
                self.later_size += len(records)
            return self._send_backlog()
        if not records:
            return 0
        self.backlog = records
        return self._send_backlog()

    def _send_backlog(self):
        while True:
            backlog = self.backlog
            try:
                sent = self.raw.send(backlog)
            except (BlockingIOError, InterruptedError):
                sent = 0
            self.wire_sent += sent
            if sent < len(backlog):
                self.backlog = memoryview(backlog)[sent:]  # a view: the rest is not copied
                return len(self.backlog) + self.later_size
            if not self.later:
                self.backlog = b""
                return 0
            self.backlog = self.later[0] if len(self.later) == 1 else b"".join(self.later)
            self.later = []
            self.later_size = 0

    def close_notify(self):
        """Before the FIN: say the stream ends. Returns how many bytes of records the
        kernel has not taken yet (the close_notify's own, or the backlog's before it): the
        socket sends its FIN once they are out. Never blocks; idempotent. A socket
        destroyed before its handshake finished takes its handshake deadline with it."""
        if self.timer is not None and self.socket.destroyed:
            self.timer.cancel()
            self.timer = None
        if self.established and not self.closed and not self.failed:
            self.closed = True
            try:
                self.sslobj.unwrap()
            except ssl.SSLWantReadError:
                pass  # ours is written; the peer's comes later, or never
            except (ssl.SSLError, ValueError):
                return 0
        try:
            return self.send(b"")
        except OSError:
            return 0
