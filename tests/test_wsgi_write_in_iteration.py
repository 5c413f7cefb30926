"""``threads = 1``: an app that mixes ``write()`` into its returned iterable (PEP 3333
allows it). A block the socket pushed back on was followed by the app's next step,
taken at once; when that step called ``write()`` the bytes went out and the socket's
only 'drain' came before the call waited for it: the call waited for ever, the response
was cut and the worker served nobody else. An in-process server on loopback; each
pattern's whole body must arrive, and a second request be answered."""

import pytest

from hostile import dechunked, exchange
from prefork.wsgi import WSGIAdapter

# (y N: yield N bytes, w N: write N bytes), the patterns that stopped the worker, and others
PATTERNS = ["y65536,w0,y4", "y65535,w1,y65536", "y1000,y70000,w1,y65535", "y70000,w70000,y70000,w0",
            "w70000,y70000,w1,y1", "y200000,w0,w0,y3"]


def app(environ, start_response):
    steps = [(step[0], int(step[1:])) for step in environ["QUERY_STRING"].split(",")]
    write = start_response("200 OK", [("Content-Type", "application/octet-stream")])

    def body():
        for kind, size in steps:
            if kind == "y":
                yield b"y" * size
            else:
                write(b"w" * size)
    return body()


def fetch(port, target):
    return exchange(port, b"GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % target.encode())


def dechunk(data):
    head, _, rest = data.partition(b"\r\n\r\n")
    return head, dechunked(rest)


@pytest.mark.parametrize("pattern", PATTERNS)
def test_every_byte_arrives_when_write_is_called_inside_the_iteration(serve, pattern):
    adapter = WSGIAdapter(app, threads=1)
    st = serve(lambda server, _st: adapter.setup(server))
    try:
        head, body = dechunk(fetch(st.port, "/?" + pattern))
        assert head.startswith(b"HTTP/1.1 200 OK")
        expected = b"".join((b"y" if step[0] == "y" else b"w") * int(step[1:]) for step in pattern.split(","))
        assert body == expected
        assert dechunk(fetch(st.port, "/?y2"))[1] == b"yy"  # the worker still serves
    finally:
        adapter.close()
