"""The headers a WSGI app hands ``start_response`` in another shape than a list: an
iterable of pairs read once (``zip()``, ``map()``, a generator), a tuple, a dict's
items. Each of their fields reaches the client, for a whole (list) body and a streamed
one, also when ``start_response`` is called again with ``exc_info`` (gunicorn reads
them once, at the call, and sends them all). Against the real daemon, on the loop
(``threads = 1``) and on a thread pool (``threads = 4``).
"""

import socket
import sys

import pytest

from daemon import Daemon
from harness import read_until_close


# -- the app (runs in the worker) -----------------------------------------------------------------------
def _fields(shape):
    pairs = [("X-One", "1"), ("Content-Type", "text/x-shape")]
    if shape == "zip":
        return zip([name for name, _ in pairs], [value for _, value in pairs])
    if shape == "map":
        return map(tuple, [list(pair) for pair in pairs])
    if shape == "generator":
        return (pair for pair in pairs)
    if shape == "tuple":
        return tuple(pairs)
    return dict(pairs).items()


def app(environ, start_response):
    shape, _, body = environ["PATH_INFO"].strip("/").partition("/")
    if body == "again":
        start_response("200 OK", [("X-Dropped", "1")])
        try:
            raise ValueError("the view failed")
        except ValueError:
            start_response("500 Failed", _fields(shape), sys.exc_info())
        return [b"failed"]
    start_response("200 OK", _fields(shape))
    if body == "stream":
        return (block for block in (b"stre", b"am"))
    return [b"whole"]


# -- the daemons -----------------------------------------------------------------------------------------
@pytest.fixture(scope="module", params=[1, 4], ids=["loop", "threads"])
def d(request):
    daemon = Daemon("--interface", "wsgi", "--threads", str(request.param),
                    app="test_wsgi_start_response_shapes:app", workers=1)
    try:
        daemon.wait_ready()
        yield daemon
    finally:
        daemon.cleanup()


def get(d, path):
    sock = socket.create_connection(("127.0.0.1", d.port), timeout=5)
    try:
        sock.sendall(b"GET " + path.encode() + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        return read_until_close(sock)
    finally:
        sock.close()


@pytest.mark.parametrize("shape", ["zip", "map", "generator", "tuple", "items"])
@pytest.mark.parametrize("body", ["whole", "stream", "again"])
def test_headers_given_as_any_iterable_of_pairs_all_reach_the_client(d, shape, body):
    data = get(d, f"/{shape}/{body}")
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.lower().split(b"\r\n")
    expected = {"whole": b"200 ok", "stream": b"200 ok", "again": b"500 failed"}[body]
    assert lines[0] == b"http/1.1 " + expected, data
    assert b"x-one: 1" in lines, data
    assert b"content-type: text/x-shape" in lines, data
    assert b"x-dropped: 1" not in lines, data
    assert b"whole" in rest or b"stre" in rest or b"failed" in rest, data
