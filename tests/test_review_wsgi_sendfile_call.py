"""``threads = 1``: a file response (``wsgi.file_wrapper``, Flask's ``send_file``,
Django's ``FileResponse``) sent with ``sendfile`` held the worker's one call for the
whole transfer, so a client reading a large file slowly (steadily enough for the stall
watch) held every other request of the worker for as long. The transfer now owns a
duplicate of the file's descriptor and the call ends (``close()`` included) as it
starts: the file's bytes wait in the file, not in memory, and the worker serves on.
"""

import socket
import time

import pytest

from hostile import read_to_close
from prefork.wsgi import WSGIAdapter

SIZE = 24 << 20


@pytest.fixture
def served(serve, tmp_path):
    path = tmp_path / "big.bin"
    block = bytes(range(256)) * 4096  # 1 MiB
    with open(path, "wb") as fh:
        for _ in range(SIZE >> 20):
            fh.write(block)
    closed = []

    class Tracked:
        def __init__(self, inner):
            self.inner = inner

        def __iter__(self):
            return iter(self.inner)

        def close(self):
            closed.append(True)
            self.inner.close()

    def app(environ, start_response):
        if environ["PATH_INFO"] == "/file":
            start_response("200 OK", [("Content-Type", "application/octet-stream")])
            wrapper = environ["wsgi.file_wrapper"](open(path, "rb"))
            wrapper.close_tracked = closed
            return wrapper
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"pong"]
    adapter = WSGIAdapter(app, threads=1, timeout=30)
    st = serve(lambda server, _st: adapter.setup(server))
    st.closed = closed
    st.block = block
    yield st
    adapter.close()


def test_a_slow_file_download_does_not_hold_the_worker(served):
    slow = socket.socket()
    slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    slow.connect(("127.0.0.1", served.port))
    try:
        slow.sendall(b"GET /file HTTP/1.1\r\nHost: x\r\n\r\n")
        head = b""
        while b"\r\n\r\n" not in head:
            head += slow.recv(1)
        assert head.startswith(b"HTTP/1.1 200 ") and b"Content-Length: %d" % SIZE in head, head
        # the download is stuck on a client that reads nothing yet: another request is answered
        started = time.monotonic()
        with socket.create_connection(("127.0.0.1", served.port), timeout=10) as other:
            other.sendall(b"GET /ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            assert read_to_close(other).endswith(b"pong")
        assert time.monotonic() - started < 5
        # and the slow client still gets the whole file, byte for byte
        slow.settimeout(10)
        got = 0
        mismatch = None
        block = served.block
        while got < SIZE:
            chunk = slow.recv(1 << 20)
            assert chunk, f"closed after {got} bytes"
            if mismatch is None:
                start = got % len(block)
                expected = (block[start:] + block)[:len(chunk)] if len(chunk) <= len(block) else None
                if expected is not None and chunk != expected:
                    mismatch = got
            got += len(chunk)
        assert got == SIZE and mismatch is None, (got, mismatch)
    finally:
        slow.close()
