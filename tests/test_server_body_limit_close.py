"""A ``req.body(limit)`` error that escapes its listener before the body's end is
answered 413 with ``Connection: close``, and the connection closes without reading the
rest of the body (as nginx closes after its 413): a client must not be able to make the
worker read a gigabyte it has already refused."""

import socket
import time

from conftest import ServerThread


def test_an_escaping_body_limit_error_closes_the_connection_before_the_rest_arrives():
    async def on_request(req, res):
        res.end(await req.body(limit=100))

    st = ServerThread(lambda server, st: server.on("request", on_request))
    try:
        with socket.create_connection(("127.0.0.1", st.port), timeout=5) as sock:
            sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n" + b"x" * 500)
            got = b""
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:  # the answer, then the server's FIN
                chunk = sock.recv(65536)
                if not chunk:
                    break
                got += chunk
            else:
                raise AssertionError(f"the connection stayed open: {got!r}")
        head = got.split(b"\r\n\r\n", 1)[0].lower()
        assert head.startswith(b"http/1.1 413"), got[:200]
        assert b"connection: close" in head, head
    finally:
        st.stop()


def test_a_body_within_its_limit_keeps_the_connection():
    async def on_request(req, res):
        res.end(await req.body(limit=100))

    st = ServerThread(lambda server, st: server.on("request", on_request))
    try:
        with socket.create_connection(("127.0.0.1", st.port), timeout=5) as sock:
            for _ in range(2):
                sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello")
                got = b""
                while not got.endswith(b"hello"):
                    chunk = sock.recv(65536)
                    assert chunk, got
                    got += chunk
                assert got.startswith(b"HTTP/1.1 200") and b"keep-alive" in got.lower(), got
    finally:
        st.stop()
