"""CONNECT to the WSGI and ASGI interfaces (a real daemon): neither can tunnel, so the
request is answered ``400`` with a short text body and ``Connection: close``, the socket
is closed, the app is never called, and the answer is an access log line. An upgrade
that is no WebSocket handshake is served to a WSGI app as a plain request (as gunicorn
serves it)."""

import pytest

from daemon import Daemon, wait_until
from hostile import exchange, responses
from logline import LINE, log_lines

CONNECT = b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n"


@pytest.mark.parametrize("interface, app", [("wsgi", "apps.wsgi_apps:hello"), ("asgi", "apps.asgi_apps:hello")])
def test_connect_is_answered_400_and_logged(tmp_path, interface, app):
    log = tmp_path / "access.log"
    d = Daemon("--interface", interface, "--access-log", str(log), "--access-log-flush", "0", app=app, workers=1)
    try:
        d.wait_ready(timeout=30)
        reply = exchange(d.port, CONNECT + b"tunnel bytes")  # the server closes: exchange reads to the end
        [(status, headers, body)] = responses(reply)
        assert status == 400
        assert headers["connection"] == "close" and headers["content-type"].startswith("text/plain")
        assert body == b"CONNECT is not supported.\n"
        lines = wait_until(lambda: log_lines(str(log)) or None, 10,
                           what="the access log line")
        [line] = lines
        match = LINE.fullmatch(line)
        assert match, line
        assert (match.group(3), match.group(4)) == ("CONNECT example.com:443 HTTP/1.1", "400")
        # the worker serves on
        plain = exchange(d.port, b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert responses(plain)[0][0] == 200
    finally:
        d.cleanup()


def test_a_wsgi_app_gets_an_upgrade_that_is_no_tunnel_as_a_plain_request():
    d = Daemon("--interface", "wsgi", app="apps.wsgi_apps:hello", workers=1)
    try:
        d.wait_ready(timeout=30)
        reply = exchange(d.port, b"GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, close\r\n"
                                 b"Upgrade: websocket\r\n\r\n")
        [(status, _, body)] = responses(reply)
        assert (status, body) == (200, b"Hello, World!")
    finally:
        d.cleanup()
