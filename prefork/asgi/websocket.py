"""One ASGI WebSocket session over an upgraded socket, framed by wsproto.

Rules:
- The handshake is the request head the server parsed, replayed to wsproto (see
  ``handshake.py``): wsproto checks it and negotiates permessage-deflate. Frames that
  come before the app accepts wait (the socket stops reading past ``_CONNECTING_HIGH``).
- Received bytes become messages in ``incoming.py`` (whole plain frames there, the
  rest through wsproto). Without compression, sent messages are framed here; with
  it, by wsproto (the compressor's context lives there).
- The app gets ``websocket.connect`` first. ``websocket.accept`` answers 101 (with the
  subprotocol and headers it names); ``websocket.close`` before it answers 403;
  ``websocket.http.response.start``/``body`` (the denial extension) answer with the
  app's own response (a status outside 200-599, or a header no response may carry, raises in
  the app), its head written with the first body message, as the HTTP side writes it
  (``answer.py``). A message after the 403 or a complete denial raises RuntimeError
  there (the app's mistake), never ``ClientDisconnected``; so does one after the app's
  own ``websocket.close`` of an open session (as uvicorn raises it).
  An app that raises or returns before any of these, or between the start and the
  first body message, gets a 500 (so does an accept naming its subprotocol twice, as
  ``subprotocol`` and as a header: clients refuse two Sec-WebSocket-Protocol fields). A
  ``websocket.close`` whose code may not go on the wire raises ValueError (and the app
  that lets it escape is closed with 1011). An app that raises is logged with the raw
  request target, as the HTTP side logs it (the decoded path may hold CR, LF, ESC).
- A burst of frames in one read is taken in parts, a loop turn apart (see
  ``incoming.py``): the socket stops reading meanwhile (``yielding``).
- Received messages wait in the ``Inbox`` for ``receive()``; while it is full (by
  count or by bytes, see ``inbox.py``) the socket stops reading until the app catches
  up. A message over ``max_size`` bytes (text counted in UTF-8 bytes; compressed ones as they
  inflate, see ``deflate.py``) closes with 1009, the same reason either way. After
  ``websocket.disconnect``, ``receive()`` answers it again at once.
- Pings are answered with pongs while the connection is open (after the server's
  close frame, a ping is dropped: the client's close echo follows); while a pong
  waits in a socket buffer over its high-water mark (the client is not reading), the
  socket stops reading until ``drain``.
  With ``ping_interval`` set, the server pings (``keepalive.py``); no pong within
  ``ping_timeout`` closes with 1011.
- A close frame from the client is echoed and the app gets ``websocket.disconnect``
  with its code; the socket closes once the echo is out (RFC 6455 7.1.1: the server
  closes the TCP connection first), whether or not the client ever closes its side.
  So do the HTTP answers sent in place of the handshake (a refusal, the 403, a
  denial, the 500): a client that keeps its end open holds no descriptor.
  ``websocket.close`` from the app sends the close frame and ends the socket; the
  client's echo completes it, or ``close_timeout`` seconds from the close frame (not an
  idle time: a client that goes on sending without echoing is cut there). A socket lost
  without a close frame gives code 1006.
- ``send()`` after the connection is gone raises ``ClientDisconnected`` (an ``OSError``,
  spec_version 2.4); ``send()`` (a denial's body too) waits for ``drain`` while the socket's
  buffer is over its high-water mark; every send waiting (an app may send from several tasks)
  is woken by the ``drain`` or the close. A payload neither bytes-like nor ``str`` raises TypeError.
- ``shutdown()`` (the worker drains) closes an open session with 1012, and so does an
  app task the stopping worker cancels; a session accepted while the server drains (its
  handshake came on a connection still held) is closed with 1012 at its accept.
- When the socket closes, the session is one access log line (``server.reply_observer``,
  as nginx logs one): the handshake's request, its status (101, the refusal's, the 403,
  the denial's, the 500; a handshake never answered, 499 when the client left first,
  else 444), the bytes sent after a 101's head, the time to the close.
"""

import logging
from asyncio import CancelledError

from wsproto import ConnectionType, WSConnection
from wsproto.connection import ConnectionState
from wsproto.events import AcceptConnection, CloseConnection, Message, RejectConnection, Request
from wsproto.utilities import LocalProtocolError, RemoteProtocolError
from time import monotonic

from .deflate import BoundedDeflate
from .frames import close_code, outgoing, server_frame
from ..server.replies import ServerReply
from .answer import after_answer, send_answer
from .handshake import error_response, handshake_events, refusal
from .inbox import Inbox
from .incoming import Incoming
from .keepalive import Keepalive
from .waiters import park, wake_all

log = logging.getLogger("prefork.asgi")

_CONNECTING_HIGH = 64 * 1024  # bytes kept from a client that sends before the accept
_TOO_BIG = "Message exceeds the maximum size ({} bytes)"  # the reason of a 1009


class ClientDisconnected(OSError):
    """The WebSocket's connection is gone: nothing more can be sent."""


class WebSocketSession:
    def __init__(self, adapter, req, socket, scope):
        self.adapter = adapter
        self.socket = socket
        self.loop = socket.loop
        self.scope = scope
        self.ws = WSConnection(ConnectionType.SERVER)
        self.inbox = Inbox(self.loop)
        self.drainers = []  # the futures send() calls waiting for 'drain' sleep on (one per task)
        self.paused = False  # reading stopped: the app is behind (or the accept is awaited)
        self.held = False  # reading stopped: answers wait in the socket's buffer
        self.yielding = False  # reading stopped for a loop turn: a burst of frames is taken in parts
        self.state = "connecting"  # connecting, open, response (denial), closing, closed
        self.gone = False  # the socket is closed
        self.keepalive = Keepalive(self, adapter.ws_ping_interval, adapter.ws_ping_timeout)
        self.max_size = adapter.ws_max_size
        self.task = None
        self.request = req
        self.incoming = Incoming(self, self.ws, self.max_size)
        self.deflate = None
        self.denial = None  # the HTTP response sent in place of the handshake (handshake.Denial)
        self.denial_out = False  # its head is written (with its first body message, as the HTTP side does)
        self.answered = None  # the app's 403 or denial response, once complete (answer.py)
        self.app_closed = False  # the app sent websocket.close on the open session
        self.compressing = False
        self.close_timer = None  # the bound on the closing handshake the server began
        self.http_request = req  # for the access log line, at the end of the session
        self.answer = None  # the status the handshake was answered with
        self.sent_before = 0  # the socket's bytes before the frames (for the log's size)
        self.peer_left = False  # the client ended the connection (its FIN, a reset)

    # -- start -----------------------------------------------------------------------------
    def start(self, head):
        socket = self.socket
        socket.reads_when_paused = False  # (its pause() stops reading: what comes waits in the kernel)
        socket.on("close", self.on_socket_close)
        socket.on("drain", self.on_drain)
        socket.on("error", self.on_socket_error)
        try:
            events = handshake_events(self.ws, self.request)
        except RemoteProtocolError as err:
            self.refuse(err)
            return False
        if not events or type(events[0]) is not Request:
            socket.destroy()
            return False
        self.request = None
        if head:
            self.incoming.keep(head)  # frames sent before the accept wait for it
        socket.on("data", self.on_data)
        socket.on("end", self.on_end)
        self.inbox.put({"type": "websocket.connect"})
        return True

    def refuse(self, err):
        hint = getattr(err, "event_hint", None)
        if not isinstance(hint, RejectConnection):
            hint = RejectConnection(status_code=400)
        self.answer = hint.status_code
        self.socket.write(refusal(hint.status_code, hint.headers, str(err)))
        self.socket.destroy_soon()

    # -- bytes in ----------------------------------------------------------------------------
    def on_data(self, data):
        state = self.state
        if state == "open" or state == "closing":
            self.take(data)
        elif state == "connecting":
            if self.incoming.keep(data) > _CONNECTING_HIGH and not self.paused:
                self.paused = True
                self.socket.pause()

    def take(self, data):
        self.socket.cork()  # the answers to one read's frames (pongs) leave in one send
        try:
            self.incoming.feed(data)
        finally:
            self.socket.uncork()

    def on_ping(self, event):
        if self.ws.state is not ConnectionState.OPEN:
            return  # the server's close is out: wsproto sends nothing more but the close
        if not self.write(self.ws.send(event.response())):
            self.hold()

    def bytes_after_close(self):
        self.state = "closed"
        self.socket.destroy()

    def too_big(self, reason=None):  # (or a message in too many fragments, its own reason)
        reason = reason or _TOO_BIG.format(self.max_size)
        self.send_close(1009, reason)
        self.queue_disconnect(1009, reason)

    def on_close_frame(self, event):
        state = self.ws.state
        if state is ConnectionState.REMOTE_CLOSING:
            self.write(self.ws.send(event.response()))
        elif state is ConnectionState.OPEN:  # wsproto refused a frame: the close names why
            if event.code == 1009:  # a compressed message past max_size (wsproto: "error in extension")
                event = CloseConnection(1009, _TOO_BIG.format(self.max_size))
            self.write(self.ws.send(CloseConnection(code=event.code, reason=event.reason)))
        self.queue_disconnect(event.code, event.reason or "")
        self.state = "closed"
        self.keepalive.stop()
        self.socket.destroy_soon()

    def on_end(self):
        self.peer_left = True
        if not self.gone:
            self.socket.end()

    def on_socket_error(self, err):
        self.peer_left = True  # the 'close' that follows tells the app

    def on_socket_close(self, _had_error=False):
        self.gone = True
        if self.close_timer is not None:
            self.close_timer.cancel()
            self.close_timer = None
        self.keepalive.stop()
        self.adapter.websockets.discard(self)
        observer = self.adapter.server.reply_observer
        if observer is not None:  # a handshake never answered: 499 (the client left) or 444, as HTTP's
            answer = self.answer if self.answer is not None else 499 if self.peer_left else 444
            sent = self.socket.bytes_written - self.sent_before if answer == 101 else 0
            reply = ServerReply(self.socket, answer, self.http_request, sent=max(0, sent), answer="untimed")
            observer(reply, reply, monotonic() - self.http_request.start_time)
        if self.task is None or self.task.done():
            self.loop.call_soon(self.release)
        if self.state == "connecting" and self.task is None:
            return
        self.state = "closed"
        self.queue_disconnect(1006, "")
        self.on_drain()

    def deliver(self, message, size=0):
        inbox = self.inbox
        inbox.put(message, size)
        if not self.paused and inbox.full():
            self.paused = True
            self.socket.pause()

    def queue_disconnect(self, code, reason):
        self.inbox.put_disconnect(code, reason)

    def yield_reading(self):
        """``Incoming`` took its share of a read: reading stops for a loop turn (others are served)."""
        if not self.yielding and not self.gone:
            self.yielding = True
            self.socket.pause()
            self.loop.call_soon(self.read_on)

    def read_on(self):
        self.yielding = False
        if self.gone:
            return
        if self.state == "open" or self.state == "closing":
            self.take(b"")  # what was kept (it may yield again)
        if not (self.yielding or self.paused or self.held or self.gone):
            self.socket.resume()

    def hold(self):
        """Stop reading until the socket's buffer drains (the client is not reading)."""
        if not self.held and not self.gone:
            self.held = True
            self.socket.pause()

    # -- the app's receive ---------------------------------------------------------------------
    async def receive(self):
        message = await self.inbox.get()
        if self.paused and self.inbox.low():
            self.paused = False
            if not self.gone and not self.held:
                self.yield_reading()  # what the read in hand still holds first, then the socket
        return message

    # -- the app's send --------------------------------------------------------------------------
    async def send(self, message):
        kind = message["type"]
        state = self.state
        if state == "open":
            if kind == "websocket.send":
                text, data = outgoing(message)
                if self.compressing:
                    frame = self.ws.send(Message(data=data if text else bytes(data)))
                elif text:
                    frame = server_frame(True, data.encode("utf-8"))
                else:
                    frame = server_frame(False, bytes(data))
                if not self.write(frame):
                    await self.wait_drain()
                return
            if kind == "websocket.close":
                code, reason = close_code(message)  # raises, the connection still open, for one not sendable
                self.send_close(code, reason)
                self.queue_disconnect(code, reason)
                self.app_closed = True
                return
            raise RuntimeError(f"Expected ASGI message 'websocket.send' or 'websocket.close', but got {kind!r}.")
        if self.answered is not None:  # the app's own 403 or denial is out: its mistake, not the client's
            raise after_answer(kind, self.answered)
        if self.app_closed:  # its own close, whether or not the client has echoed it since
            raise RuntimeError(f"Unexpected ASGI message {kind!r}, after sending 'websocket.close'.")
        if self.gone or state in ("closing", "closed"):
            raise ClientDisconnected()
        await send_answer(self, kind, message)  # (answer.py: the accept, the 403, a denial)

    def accept(self, message):
        adapter = self.adapter
        headers = [(bytes(name), bytes(value)) for name, value in message.get("headers", [])]
        if message.get("subprotocol") is not None and any(n.lower() == b"sec-websocket-protocol" for n, _ in headers):
            # two fields: every client refuses the handshake (RFC 6455 4.3: at most one)
            raise RuntimeError("websocket.accept names its subprotocol twice ('subprotocol' and a "
                               "Sec-WebSocket-Protocol header): give 'subprotocol' only.")
        if adapter.ws_per_message_deflate:
            self.deflate = BoundedDeflate(self.max_size)
        extensions = [self.deflate] if self.deflate is not None else []
        head = self.ws.send(AcceptConnection(subprotocol=message.get("subprotocol"), extensions=extensions,
                                             extra_headers=headers))
        self.answer = 101
        self.sent_before = self.socket.bytes_written + len(head)  # (queued bytes included)
        self.write(head)
        self.compressing = self.deflate is not None and self.deflate.enabled()
        self.state = "open"
        paused, self.paused = self.paused, False
        self.incoming.flush()  # frames that came before the accept (they may pause it again)
        if paused and not self.yielding:
            self.read_on()  # (what flush left, then reading on)
        self.keepalive.start()
        if adapter.server.draining:  # (its handshake came on a keep-alive connection still held)
            self.shutdown()  # closed with 1012 as those open at the drain's start were

    def send_close(self, code, reason):
        if self.state != "open":
            return
        self.state = "closing"
        self.keepalive.stop()
        try:
            self.write(self.ws.send(CloseConnection(code=code, reason=reason)))
        except LocalProtocolError:
            pass
        socket = self.socket
        socket.end()  # FIN once flushed; the client's echo (or its FIN) completes the close
        if self.paused:
            self.paused = False
            socket.resume()
        # bounded from now, however long the client goes on sending without its echo
        self.close_timer = self.loop.call_later(self.adapter.ws_close_timeout, self.close_timed_out)

    def close_timed_out(self):
        self.close_timer = None
        if not self.gone:
            self.socket.destroy()

    def write(self, data):
        socket = self.socket
        if socket.destroyed or socket.writable_ended:
            return True
        return socket.write(data)

    async def wait_drain(self):
        if self.gone:
            return
        await park(self.loop, self.drainers)

    def on_drain(self):
        if self.held:
            self.held = False
            if not self.paused and not self.gone and not self.yielding:
                self.socket.resume()
        if self.drainers:
            wake_all(self.drainers)

    def on_ping_timeout(self):
        reason = "keepalive ping timeout"
        self.send_close(1011, reason)
        self.queue_disconnect(1011, reason)

    def shutdown(self):
        if self.state == "open":
            self.send_close(1012, "")
            self.queue_disconnect(1012, "")
        elif self.state == "connecting" and not self.gone:
            self.fail_handshake()

    # -- the app's task ------------------------------------------------------------------------------
    def release(self):
        """The socket is closed and the app is done: the listeners and references back to the
        session go (it is freed without the cycle collector), so does its zlib state (deflate.py)."""
        socket = self.socket
        for event, listener in (("data", self.on_data), ("end", self.on_end), ("drain", self.on_drain),
                                ("close", self.on_socket_close), ("error", self.on_socket_error)):
            socket.off(event, listener)
        self.keepalive.session = self.incoming.session = None
        if self.deflate is not None:
            self.deflate.release()

    async def run(self, app):
        try:
            await self.serve(app)
        finally:
            if self.gone:
                self.loop.call_soon(self.release)

    async def serve(self, app):
        try:
            await app(self.scope, self.receive, self.send)
        except ClientDisconnected:
            pass
        except GeneratorExit:
            raise  # the coroutine is being closed (its loop is gone): nothing may be scheduled
        except BaseException as exc:
            if self.adapter.cancelling and isinstance(exc, CancelledError):  # the worker stops
                self.shutdown()
            else:
                log.error("Exception in ASGI application (WebSocket %s)", self.http_request.url, exc_info=exc)
            self.finish_failed()
            if isinstance(exc, CancelledError):
                raise  # the task was cancelled; SystemExit and the like end this session only
            return
        else:
            if self.state == "connecting":
                log.error("ASGI callable returned without completing handshake.")
                self.fail_handshake()
            elif self.state == "open":
                self.send_close(1000, "")
            elif self.state == "response" and not self.gone:
                log.error("ASGI callable returned without completing response.")
                self.finish_failed()

    def finish_failed(self):
        if self.state == "connecting":
            self.fail_handshake()
        elif self.state == "open":
            self.send_close(1011, "")
        elif self.state == "response" and not self.gone:
            if not self.denial_out:  # its head was never written: a whole 500 in its place
                self.state = "connecting"
                self.fail_handshake()
                return
            self.state = "closed"
            self.socket.destroy()  # a denial response cut short

    def fail_handshake(self):
        self.state = "closed"
        self.answer = 500
        self.write(error_response())
        self.socket.destroy_soon()
