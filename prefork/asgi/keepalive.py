"""Server pings on an open WebSocket.

Rules:
- Every ``interval`` seconds the server sends a ping with a fresh payload; a pong with
  that payload within ``timeout`` seconds schedules the next ping, none calls
  ``on_timeout`` (the session closes with 1011). With ``timeout`` 0 pings go out every
  ``interval`` and nothing waits for the answers.
- Pongs with another payload (unsolicited, stale) are ignored.
- While the session has stopped reading because its app is behind, a missing pong is
  not the client's fault (it may be unread in the socket): the wait starts again. So
  it does while bytes from the client keep coming (``socket.bytes_read`` grew since the
  ping, or since the wait last started): the client is alive, and its pong may be
  queued behind what it sent before it (a busy worker reads a backlog a share per loop
  turn; uvicorn reads the whole backlog into memory and sees the pong at once). A
  client that stops sending and does not answer is cut one ``timeout`` later.
- ``stop()`` cancels whatever is scheduled; nothing fires after it.
"""

from wsproto.events import Ping


class Keepalive:
    def __init__(self, session, interval, timeout):
        self.session = session
        self.loop = session.loop
        self.interval = interval
        self.timeout = timeout
        self.ping_timer = None
        self.pong_timer = None
        self.payload = None
        self.read_mark = 0  # the socket's bytes_read when the wait for the pong last started

    def start(self):
        if self.interval > 0:
            self.ping_timer = self.loop.call_later(self.interval, self.ping)

    def ping(self):
        self.ping_timer = None
        session = self.session
        if session.state != "open":
            return
        self.payload = self.loop.time().hex().encode()
        session.write(session.ws.send(Ping(payload=self.payload)))
        self.read_mark = session.socket.bytes_read
        if self.timeout > 0:
            self.pong_timer = self.loop.call_later(self.timeout, self.timed_out)
        else:
            self.ping_timer = self.loop.call_later(self.interval, self.ping)

    def on_pong(self, payload):
        if self.payload is None or bytes(payload) != self.payload:
            return
        self.payload = None
        if self.pong_timer is not None:
            self.pong_timer.cancel()
            self.pong_timer = None
            self.ping_timer = self.loop.call_later(self.interval, self.ping)

    def timed_out(self):
        self.pong_timer = None
        session = self.session
        read = session.socket.bytes_read
        # not reading for a slow app, or still reading what the client sent: the pong may be waiting unread
        if session.paused or read != self.read_mark:
            self.read_mark = read
            self.pong_timer = self.loop.call_later(self.timeout, self.timed_out)
            return
        self.session.on_ping_timeout()

    def stop(self):
        for timer in (self.ping_timer, self.pong_timer):
            if timer is not None:
                timer.cancel()
        self.ping_timer = self.pong_timer = None
