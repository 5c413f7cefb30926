"""A block a streamed WSGI body yields goes to the client before the app is asked for
the next one (``threads = 1``, the call on the loop), also a block past the socket's
high-water mark: a generator that then waits for its next data (a slow source) does not
keep the block it yielded from the client. A real Server on loopback, a raw client."""

import threading

from daemon import wait_until
from test_asgi import raw
from prefork.wsgi import WSGIAdapter

BLOCK = b"x" * (100 * 1024)  # over the socket's 64 KiB high-water mark
gate = threading.Event()
blocked = {}


def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "application/octet-stream")])
    yield BLOCK
    blocked["released"] = gate.wait(10)  # the next block is slow to come (bounded)
    yield b"end"


def test_a_large_block_is_on_the_wire_while_the_app_makes_the_next(serve):
    gate.clear()
    blocked.clear()
    st = serve(lambda server, st: WSGIAdapter(app).setup(server))
    sock = raw(st.port, b"GET / HTTP/1.1\r\nHost: h\r\n\r\n", timeout=15)
    data = b""
    try:
        while data.count(b"x") < len(BLOCK):
            chunk = sock.recv(65536)
            assert chunk, data[:200]
            data += chunk
    finally:
        gate.set()  # (the client's, once it has the block: else the app's wait times out)
        sock.close()
    wait_until(lambda: "released" in blocked, 15)
    assert blocked["released"] is True  # the block arrived while the app still waited
