"""A WSGI body block that is ``None``, taken while the socket pushes back (the app's
iterator is asked for its next block before the call waits): refused as any other
block that is not bytes, the response cut and the error logged, as gunicorn refuses it
("None is not a byte"). It was taken for "no block kept" and skipped: the response
went on and ended as if the body were whole."""

import socket
import time

from daemon import Daemon
from harness import read_until_close


def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])

    def blocks():
        yield b"a" * 1_000_000  # (more than the socket takes at once: the call waits)
        yield None if environ["PATH_INFO"] == "/none" else "text"
        yield b"b" * 10
    return blocks()


def test_a_none_block_after_a_block_that_pushed_back_is_refused_and_the_response_cut():
    d = Daemon("--interface", "wsgi", "--threads", "1", app="test_wsgi_none_block_after_pushback:app", workers=1)
    try:
        d.wait_ready()
        for path, kind in ((b"/none", "NoneType"), (b"/text", "str")):
            sock = socket.socket()
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
            sock.settimeout(10)
            sock.connect(("127.0.0.1", d.port))
            with sock:
                sock.sendall(b"GET " + path + b" HTTP/1.1\r\nHost: x\r\n\r\n")
                time.sleep(0.3)  # (the first block meets a full socket)
                data = read_until_close(sock)
            assert data.startswith(b"HTTP/1.1 200 OK\r\n"), data[:100]
            assert b"bbbbbbbbbb" not in data and not data.endswith(b"0\r\n\r\n"), data[-100:]
            d.wait_log(rf"TypeError: WSGI body blocks must be bytes, not {kind}")
    finally:
        d.cleanup()
