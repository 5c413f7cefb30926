"""``max_body_size`` with threads (``threads > 1``), where the app reads the body as it
streams in: it stopped nothing once the app stopped reading. A chunked
body the app ignored, or whose ``BodyTooLarge`` the app caught (Flask turns it into its
own 500), was read and dropped for ever on a connection kept alive: gigabytes a second
on one worker's loop. The answer the app makes goes out, then the connection closes,
as ``threads = 1`` closes it after its 413 (and gunicorn after a few megabytes).
"""

import select
import socket
import time

import pytest

from prefork.wsgi import WSGIAdapter

LIMIT = 100_000
CHUNK = b"%x\r\n%s\r\n" % (65536, b"x" * 65536)


def app(environ, start_response):
    if environ["PATH_INFO"] == "/catch":
        try:
            environ["wsgi.input"].read()
        except Exception as exc:  # noqa: BLE001 (a framework catches it and answers)
            start_response("500 Internal Server Error", [("Content-Type", "text/plain")])
            return [type(exc).__name__.encode()]
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok"]


@pytest.fixture
def st(serve):
    adapter = WSGIAdapter(app, threads=4, max_body_size=LIMIT)
    st_ = serve(lambda server, _st: adapter.setup(server))
    yield st_
    adapter.close()


def stream_until_closed(port, path, most=256 << 20, seconds=15):
    """Streams an endless chunked body; returns (what the server sent, bytes sent) once
    the server closes (or the budget of bytes or time runs out)."""
    got = b""
    sent = 0
    deadline = time.monotonic() + seconds
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(b"POST " + path + b" HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
        while sent < most and time.monotonic() < deadline:
            if select.select([sock], [], [], 0)[0]:
                try:
                    data = sock.recv(65536)
                except ConnectionResetError:
                    return got, sent, True
                if not data:
                    return got, sent, True
                got += data
                continue
            try:
                sock.sendall(CHUNK)
            except (BrokenPipeError, ConnectionResetError):
                return got, sent, True
            sent += len(CHUNK)
    return got, sent, False


@pytest.mark.parametrize("path, status", [(b"/ignore", b"200"), (b"/catch", b"500")])
def test_a_body_over_the_limit_closes_the_connection_whatever_the_app_does(st, path, status):
    got, sent, closed = stream_until_closed(st.port, path)
    assert closed, f"{sent} bytes of body taken and the connection still open; got {got[:200]!r}"
    assert sent < 64 << 20, sent
    assert got.startswith(b"HTTP/1.1 " + status), got[:300]
