"""A client whose bytes keep arriving is not cut for a late pong: its pong may be queued
behind what it sent before (a busy worker reads a backlog a share per loop turn, where
uvicorn reads it all into memory and sees the pong at once), and a client that is
sending is alive. The wait for the pong starts again while its bytes come; a client
that stops sending and does not answer is still closed with 1011 one timeout later.
Before, a client uploading faster than the worker read was closed with 1011 ``keepalive
ping timeout`` in mid-stream. (The client here never answers, which isolates the rule.)"""

import struct
import threading
import time

from test_asgi_websocket import masked, read_frame
from test_hostile_asgi import Served
from test_hostile_asgi_websocket import handshake


def test_a_client_still_sending_is_not_cut_for_a_late_pong_and_a_silent_one_is(tmp_path):
    s = Served(tmp_path, "--ws-ping-interval", "0.2", "--ws-ping-timeout", "0.3")
    try:
        sock, _ = handshake(s, "/ws/echo")
        frames = []  # (monotonic time, opcode, payload) the server sent

        def reader():
            try:
                while True:
                    opcode, payload = read_frame(sock)
                    frames.append((time.monotonic(), opcode, payload))
                    if opcode == 0x8:
                        return
            except (OSError, AssertionError, ValueError):
                return
        thread = threading.Thread(target=reader, daemon=True)
        thread.start()
        started = time.monotonic()
        planned = started + 1.5
        while time.monotonic() < planned and thread.is_alive():  # never answers a ping, never pauses long
            sock.sendall(masked(0x81, b"still here"))
            time.sleep(0.03)
        stopped = time.monotonic()
        thread.join(5)
        closes = [(at, payload) for at, opcode, payload in frames if opcode == 0x8]
        pings = [at for at, opcode, _ in frames if opcode == 0x9]
        assert pings, frames
        assert closes, "no close frame for a client that stopped answering and sending"
        at, payload = closes[0]
        assert stopped >= planned, f"cut {at - started:.2f} s into a 1.5 s stream: {payload!r}"
        assert struct.unpack("!H", payload[:2])[0] == 1011 and payload[2:] == b"keepalive ping timeout", payload
        assert at - stopped < 2.0, at - stopped
        sock.close()
        s.healthy()
    finally:
        s.daemon.cleanup()
