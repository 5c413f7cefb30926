"""``wsgi.input.read(n)`` with an ``n`` far past the body (``read(2**40)``, an app's
"everything there is"), with ``threads = 1``, whose body is read before the call: in
memory, or in a temporary file past ``wsgi_body_spool``. Either way the app gets the
body, as under gunicorn (and as with threads), never a ``MemoryError`` from a file's
``read(n)`` making room for ``n`` bytes. Against the real daemon, raw sockets on loopback.
"""

import socket

import pytest

from daemon import Daemon
from harness import read_until_close


# -- the app (runs in the worker) -----------------------------------------------------------------------
def app(environ, start_response):
    stream = environ["wsgi.input"]
    how = environ["PATH_INFO"]
    try:
        if how == "/huge":
            parts = [stream.read(2 ** 40)]
        elif how == "/exact":
            parts = [stream.read(int(environ["CONTENT_LENGTH"]))]
        else:  # "/half-then-huge"
            parts = [stream.read(int(environ["CONTENT_LENGTH"]) // 2), stream.read(2 ** 62)]
        parts.append(stream.read(2 ** 40))  # at the end: nothing more
        answer = b"%d %s" % (len(b"".join(parts)), b",".join(b"%d" % len(part) for part in parts))
    except BaseException as exc:  # MemoryError included: what the app got, for the test to see
        answer = repr(exc).encode()
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [answer]


@pytest.fixture(scope="module")
def d():
    daemon = Daemon("--interface", "wsgi", "--threads", "1", "--wsgi-body-spool", "65536",
                    app="test_wsgi_input_large_read:app", workers=1)
    try:
        daemon.wait_ready()
        yield daemon
    finally:
        daemon.cleanup()


def post(d, path, size):
    sock = socket.create_connection(("127.0.0.1", d.port), timeout=10)
    try:
        sock.sendall(b"POST %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: %d\r\n\r\n"
                     % (path.encode(), size) + b"b" * size)
        return read_until_close(sock).partition(b"\r\n\r\n")[2]
    finally:
        sock.close()


@pytest.mark.parametrize("size", [10, 65536, 300_000], ids=["memory", "spool-size", "temporary-file"])
@pytest.mark.parametrize("path", ["/huge", "/exact", "/half-then-huge"])
def test_a_read_far_past_the_body_gives_the_rest_of_it(d, path, size):
    body = post(d, path, size)
    half = size // 2
    expected = {"/huge": b"%d %d,0" % (size, size), "/exact": b"%d %d,0" % (size, size),
                "/half-then-huge": b"%d %d,%d,0" % (size, half, size - half)}[path]
    assert body == expected
