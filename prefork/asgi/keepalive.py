"""Server pings on an open WebSocket.

Rules:
- Every ``interval`` seconds the server sends a ping with a fresh payload; a pong with
  that payload within ``timeout`` seconds schedules the next ping, none calls
  ``on_timeout`` (the session closes with 1011). With ``timeout`` 0 pings go out every
  ``interval`` and nothing waits for the answers.
- Pongs with another payload (unsolicited, stale) are ignored.
- While the session has stopped reading because its app is behind, a missing pong is
  not the client's fault (it may be unread in the socket): the wait starts again.
- While the client's bytes wait unread when the wait runs out (the session takes a
  burst in parts, a loop turn apart, or bytes wait in the kernel: ``unread_input()``,
  looked at when the timer runs out, never per read), the pong may be queued behind
  them, or behind what the client could not send while the worker did not read (a busy
  worker reads a backlog a share per loop turn; uvicorn reads the whole backlog into
  memory and sees the pong at once): the wait starts again, at most
  ``_MOST_EXTENDED`` times per ping. Bytes the worker keeps up with are no pong: a
  client that sends a frame a byte at a time, or only its own pings, and never
  answers is closed with 1011 one ``timeout`` after the ping, as uvicorn closes it
  (later, ``_MOST_EXTENDED`` more at most, while a worker too busy to keep up leaves
  its bytes unread).
- ``stop()`` cancels whatever is scheduled; nothing fires after it.
"""

from wsproto.events import Ping

_MOST_EXTENDED = 4  # a pong's wait lasts at most this many more timeouts while bytes wait unread


class Keepalive:
    def __init__(self, session, interval, timeout):
        self.session = session
        self.loop = session.loop
        self.interval = interval
        self.timeout = timeout
        self.ping_timer = None
        self.pong_timer = None
        self.payload = None
        self.extended = 0  # times the wait for this ping's pong was extended

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
        self.extended = 0
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
        if session.paused:  # not reading for a slow app: the pong may be waiting unread
            self.pong_timer = self.loop.call_later(self.timeout, self.timed_out)
            return
        if self.extended < _MOST_EXTENDED and (session.yielding or session.socket.unread_input()):
            self.extended += 1  # the pong may be queued behind the bytes not read yet
            self.pong_timer = self.loop.call_later(self.timeout, self.timed_out)
            return
        session.on_ping_timeout()

    def stop(self):
        for timer in (self.ping_timer, self.pong_timer):
            if timer is not None:
                timer.cancel()
        self.ping_timer = self.pong_timer = None
