"""The access log's ``{h}`` is the client the app sees: with a trusted proxy's
``X-Forwarded-For``, the client it names (WSGI's REMOTE_ADDR, ASGI's scope client), by
the same rule; from an untrusted peer, or for the events API (which reads no
forwarded header), the peer's address. Real daemons, real sockets."""

import socket

import pytest

from daemon import wait_until
from harness import read_until_close
from logline import LINE, log_lines

WS = (b"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
      b"Sec-WebSocket-Version: 13\r\n")


def send(port, path, headers=b"", source="127.0.0.1", close=True):
    sock = socket.socket()
    sock.settimeout(10)
    sock.bind((source, 0))
    sock.connect(("127.0.0.1", port))
    try:
        sock.sendall(b"GET " + path + b" HTTP/1.1\r\nHost: x\r\n" + headers
                     + (b"Connection: close\r\n" if close else b"") + b"\r\n")
        if close:
            return read_until_close(sock)
        return sock.recv(65536)
    finally:
        sock.close()


def hosts(path, count):
    lines = wait_until(lambda: (lambda got: got if len(got) >= count else None)(log_lines(path)), 10,
                       what=lambda: f"{count} lines in {log_lines(path)}")
    return {LINE.fullmatch(line).group(3).split(" ")[1]: LINE.fullmatch(line).group(1) for line in lines}


@pytest.mark.parametrize("interface, app", [("wsgi", "apps.wsgi_apps:hello"), ("asgi", "apps.asgi_apps:app"),
                                            ("events", "apps.basic:setup")])
def test_h_is_the_client_the_app_sees(daemons, tmp_path, interface, app):
    path = str(tmp_path / "access.log")
    d = daemons("--interface", interface, "--access-log", path, "--access-log-flush", "0",
                "--forwarded-allow-ips", "127.0.0.1,10.0.0.0/8", app=app, workers=1)
    d.wait_ready(timeout=30)
    xff = b"X-Forwarded-For: 6.6.6.6, 203.0.113.7, 10.0.0.5\r\n"
    send(d.port, b"/fwd", xff)
    send(d.port, b"/plain")
    send(d.port, b"/untrusted", xff, source="127.0.0.5")
    send(d.port, b"/garbage", b"X-Forwarded-For: unknown\r\n")
    count = 4
    if interface == "asgi":
        assert send(d.port, b"/ws/echo", xff + WS, close=False).startswith(b"HTTP/1.1 101 ")
        count += 1
    seen = hosts(path, count)
    forwarded = "203.0.113.7" if interface != "events" else "127.0.0.1"
    assert seen["/fwd"] == forwarded, seen
    assert seen["/plain"] == "127.0.0.1" and seen["/garbage"] == "127.0.0.1", seen
    assert seen["/untrusted"] == "127.0.0.5", seen
    if interface == "asgi":
        assert seen["/ws/echo"] == "203.0.113.7", seen
