"""A trusted proxy's X-Forwarded-For and X-Forwarded-Proto lines past
``max_headers_count``'s cut (Node's 1000 fields) set an ASGI scope's ``client`` and
``scheme``, for HTTP and WebSocket alike: the scope's ``headers`` hold every line and
uvicorn's proxy headers read them all (uvicorn 0.55 behind the same loopback proxy:
client 1.2.3.4, https / wss, with 1 or 2100 filler lines). Before, a request with more
fields than the cut kept had its forwarded lines ignored."""

import socket

from daemon import Daemon
from harness import read_until_close

FORWARDED = b"X-Forwarded-For: 1.2.3.4\r\nX-Forwarded-Proto: https\r\n\r\n"


def test_a_trusted_proxys_forwarded_lines_past_the_cut_set_the_http_client_and_scheme():
    d = Daemon("--interface", "asgi", app="apps.asgi_client_scheme:app", workers=1)
    try:
        d.wait_ready()
        for filler in (1, 2100):
            with socket.create_connection(("127.0.0.1", d.port), timeout=5) as sock:
                sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" + b"A: b\r\n" * filler + FORWARDED)
                reply = read_until_close(sock)
            assert reply.split(b"\r\n\r\n", 1)[1] == b"client=1.2.3.4 scheme=https headers=%d" % (filler + 4), reply
    finally:
        d.cleanup()


def test_a_trusted_proxys_forwarded_lines_past_the_cut_set_the_websocket_client_and_scheme():
    d = Daemon("--interface", "asgi", app="apps.asgi_client_scheme:app", workers=1)
    try:
        d.wait_ready()
        for filler in (1, 2100):
            with socket.create_connection(("127.0.0.1", d.port), timeout=5) as sock:
                sock.sendall(b"GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
                             b"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                             + b"A: b\r\n" * filler + FORWARDED)
                reply = read_until_close(sock)
            text = b"client=1.2.3.4 scheme=wss headers=%d" % (filler + 7)
            assert reply.startswith(b"HTTP/1.1 101 "), reply[:200]
            assert reply.split(b"\r\n\r\n", 1)[1].startswith(bytes([0x81, len(text)]) + text), repr(reply)
    finally:
        d.cleanup()
