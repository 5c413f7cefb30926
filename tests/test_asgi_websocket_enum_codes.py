"""A WebSocket app may give its denial status and its close code as ``IntEnum`` members
(``HTTPStatus.UNAUTHORIZED``; FastAPI's and Starlette's ``HTTPException(status_code=
HTTPStatus.UNAUTHORIZED)`` raised before the accept becomes such a denial): each is sent
as its number, as uvicorn sends it (they were refused as not ``int``: a 500 in place of
the 401, a 1011 in place of the app's code). A bool is still no status and no code."""

import base64
import os
import socket
import struct

from daemon import Daemon
from harness import read_until_close


def handshake(port, path):
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    key = base64.b64encode(os.urandom(16))
    sock.sendall(b"GET " + path.encode() + b" HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
                 b"Sec-WebSocket-Key: " + key + b"\r\nSec-WebSocket-Version: 13\r\n\r\n")
    return sock


def close_frame(data):
    """(code, reason) of the close frame the server sent after its 101 head."""
    frames = data.partition(b"\r\n\r\n")[2]
    assert frames[0] == 0x88, frames
    payload = frames[2:2 + frames[1]]
    return struct.unpack(">H", payload[:2])[0], payload[2:]


def test_enum_denial_status_and_close_code_are_sent_as_their_numbers():
    d = Daemon(app="apps.asgi_enum_codes:app", workers=1)
    try:
        d.wait_ready()
        sock = handshake(d.port, "/deny")
        answer = read_until_close(sock)
        sock.close()
        assert answer.startswith(b"HTTP/1.1 401 Unauthorized\r\n"), answer
        assert answer.endswith(b"\r\n\r\nwho are"), answer

        sock = handshake(d.port, "/close")
        data = read_until_close(sock)
        sock.close()
        assert data.startswith(b"HTTP/1.1 101 "), data
        assert close_frame(data) == (4004, b"enum")

        sock = handshake(d.port, "/deny-bool")  # True is no status: the app's mistake, a 500
        answer = read_until_close(sock)
        sock.close()
        assert answer.startswith(b"HTTP/1.1 500 Internal Server Error\r\n"), answer

        sock = handshake(d.port, "/close-bool")  # True is no close code: the app's error, 1011
        data = read_until_close(sock)
        sock.close()
        assert close_frame(data)[0] == 1011
    finally:
        d.cleanup()
