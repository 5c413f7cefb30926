"""ASGI: the connection is the server's to frame. An app's ``connection: keep-alive``
(and ``keep-alive``) is not sent; the server's own Connection field says what it does:
``close`` to a client that asked for it (the app's keep-alive went out, then the server
closed), keep-alive with a length to a kept-alive client. An app's ``connection:
close`` is kept, and the server closes."""

from daemon import Daemon
from test_rewritten_request import exchange


def head_of(data):
    return [line.lower() for line in data.partition(b"\r\n\r\n")[0].split(b"\r\n")[1:]]


def test_an_apps_keep_alive_is_not_sent_the_servers_framing_is():
    d = Daemon(app="apps.asgi_connection:app", workers=1)
    try:
        d.wait_ready()
        closing = head_of(exchange(d.port, b"GET /keep HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"))
        assert b"connection: close" in closing and b"connection: keep-alive" not in closing, closing
        assert not any(line.startswith(b"keep-alive:") and b"timeout=99" in line for line in closing), closing
        old = exchange(d.port, b"GET /keep HTTP/1.0\r\nHost: x\r\n\r\n")
        assert b"connection: keep-alive" not in head_of(old), old
        asked = head_of(exchange(d.port, b"GET /close HTTP/1.1\r\nHost: x\r\n\r\n"))
        assert b"connection: close" in asked, asked
    finally:
        d.cleanup()
