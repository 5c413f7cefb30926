"""The 400 the WSGI and ASGI adapters write themselves (to a ``CONNECT``, which they
cannot tunnel; ASGI's to an upgrade that is no WebSocket handshake) carries a short
text body, and its access log line gives that body's size, as for any response: not
``-``. A real daemon per interface, its access log written at once."""

import pytest

from daemon import Daemon, wait_until
from hostile import exchange
from logline import LINE, log_lines

CONNECT = b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n"
POST_UPGRADE = (b"POST /ws/echo HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
                b"Content-Length: 0\r\n\r\n")


@pytest.mark.parametrize("interface, app, request_bytes", [
    ("wsgi", "apps.wsgi_apps:hello", CONNECT),
    ("asgi", "apps.asgi_apps:app", CONNECT),
    ("asgi", "apps.asgi_apps:app", POST_UPGRADE),
])
def test_the_adapters_own_400_is_logged_with_its_body_size(tmp_path, interface, app, request_bytes):
    path = str(tmp_path / "access.log")
    d = Daemon("--interface", interface, "--access-log", path, "--access-log-flush", "0", app=app, workers=1,
               access_log=None)
    try:
        d.wait_ready(timeout=30)
        reply = exchange(d.port, request_bytes)
        head, _, body = reply.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 400 ") and body, reply
        lines = wait_until(lambda: log_lines(path) or None, 10, what="the access log line")
        assert len(lines) == 1, lines
        match = LINE.fullmatch(lines[0])
        assert match and match.group(4) == "400", lines
        assert match.group(5) == str(len(body)), lines
    finally:
        d.cleanup()
