"""A WebSocket handshake without ``Host`` (RFC 6455 4.1 requires one) is refused 400 with
a reason that names it, on HTTP/1.1 as on HTTP/1.0 (HTTP/1.1's said only "Bad HTTP
message", wsproto's HTTP parser's words); with a Host the same handshake opens."""

import socket

import pytest

from daemon import Daemon
from harness import read_until_close

KEY = b"dGhlIHNhbXBsZSBub25jZQ=="


@pytest.fixture(scope="module")
def daemon():
    d = Daemon(app="apps.asgi_raw_ws:app", workers=1)
    try:
        d.wait_ready()
        yield d
    finally:
        d.cleanup()


def answer(port, version, host):
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    sock.sendall(b"GET /ws HTTP/" + version + b"\r\n" + host + b"Connection: Upgrade\r\nUpgrade: websocket\r\n"
                 b"Sec-WebSocket-Key: " + KEY + b"\r\nSec-WebSocket-Version: 13\r\n\r\n")
    if host:
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = sock.recv(1)
            assert chunk, head
            head += chunk
        sock.close()
        return head
    data = read_until_close(sock)
    sock.close()
    return data


@pytest.mark.parametrize("version", [b"1.1", b"1.0"])
def test_a_handshake_without_host_gets_a_400_that_says_so(daemon, version):
    data = answer(daemon.port, version, b"")
    assert data.startswith(b"HTTP/1.1 400 Bad Request\r\n"), data
    assert data.endswith(b"\r\n\r\nBad WebSocket handshake: missing Host header\n"), data


def test_the_same_handshake_with_a_host_opens(daemon):
    assert answer(daemon.port, b"1.1", b"Host: h\r\n").startswith(b"HTTP/1.1 101 ")
