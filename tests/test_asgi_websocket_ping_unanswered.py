"""A client that never answers the server's ping is closed with 1011 ``keepalive ping
timeout``, as uvicorn closes it, whatever it goes on sending meanwhile when the worker
keeps up with it: bytes that come are no pong. Before, every byte read restarted the
wait, so a client sending a frame a byte at a time (a WebSocket slowloris), or only its
own pings, held its connection for ever."""

import struct
import threading
import time

from test_asgi_websocket import masked, read_frame
from test_hostile_asgi import Served
from test_hostile_asgi_websocket import handshake


def closed_while_sending(tmp_path, send_one, every):
    """Sends with ``send_one`` every ``every`` seconds (for 8 s at most) and never
    answers a ping; the close frame's payload and when it came (from the first send)."""
    s = Served(tmp_path, "--ws-ping-interval", "0.3", "--ws-ping-timeout", "0.3")
    try:
        sock, _ = handshake(s, "/ws/echo")
        closes = []

        def reader():
            try:
                while True:
                    opcode, payload = read_frame(sock)
                    if opcode == 0x8:
                        closes.append((time.monotonic(), payload))
                        return
            except (OSError, AssertionError, ValueError):
                return
        thread = threading.Thread(target=reader, daemon=True)
        thread.start()
        started = time.monotonic()
        while time.monotonic() - started < 8 and thread.is_alive():
            try:
                send_one(sock)
            except OSError:
                break
            time.sleep(every)
        thread.join(5)
        sock.close()
        assert closes, "never closed: the client went on sending and never answered a ping"
        at, payload = closes[0]
        s.healthy()
        return payload, at - started
    finally:
        s.daemon.cleanup()


def test_a_client_sending_a_frame_a_byte_at_a_time_without_a_pong_is_closed_1011(tmp_path):
    started = []

    def send_one(sock):
        if not started:  # a binary frame of 1000 bytes announced, its payload a byte at a time
            started.append(True)
            sock.sendall(bytes((0x82, 0x80 | 126)) + struct.pack("!H", 1000) + b"kkkk")
        sock.send(b"x")
    payload, after = closed_while_sending(tmp_path, send_one, 0.1)
    assert struct.unpack("!H", payload[:2])[0] == 1011 and payload[2:] == b"keepalive ping timeout", payload
    assert after < 4, after  # a ping at 0.3 s, its wait 0.3 s (a few more at most on a busy machine)


def test_a_client_sending_only_its_own_pings_without_a_pong_is_closed_1011(tmp_path):
    payload, after = closed_while_sending(tmp_path, lambda sock: sock.sendall(masked(0x89, b"p")), 0.05)
    assert struct.unpack("!H", payload[:2])[0] == 1011 and payload[2:] == b"keepalive ping timeout", payload
    assert after < 4, after
