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
    closed = []  # the app's close() calls

    def app(environ, start_response):
        if environ["PATH_INFO"] == "/file":
            start_response("200 OK", [("Content-Type", "application/octet-stream")])
            wrapper = environ["wsgi.file_wrapper"](open(path, "rb"))
            close = wrapper.close
            wrapper.close = lambda: (closed.append(True), close())  # (PEP 3333's close(), watched)
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
        assert served.closed == [True]  # the call, its close() included, ended as the transfer began
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
        assert served.closed == [True]  # once
    finally:
        slow.close()


def test_a_file_response_with_a_bad_head_holds_no_descriptor(serve, tmp_path):
    """The transfer's duplicate of the file's descriptor was made before the head was
    checked: a head that fails (a CR/LF in a value) gave its 500 and kept the duplicate."""
    import os
    path = tmp_path / "small.bin"
    path.write_bytes(b"x" * 100000)

    def app(environ, start_response):
        start_response("200 OK", [("X-Bad", "a\r\nb")])
        return environ["wsgi.file_wrapper"](open(path, "rb"))
    adapter = WSGIAdapter(app, threads=1)
    st = serve(lambda server, _st: adapter.setup(server))
    try:
        def fds():
            return len(os.listdir("/proc/self/fd"))
        for _ in range(3):  # (whatever is opened once is open now)
            with socket.create_connection(("127.0.0.1", st.port), timeout=5) as sock:
                sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                read_to_close(sock)
        before = fds()
        for _ in range(20):
            with socket.create_connection(("127.0.0.1", st.port), timeout=5) as sock:
                sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                assert read_to_close(sock).startswith(b"HTTP/1.1 500 ")
        wait = time.monotonic() + 5
        while fds() > before and time.monotonic() < wait:
            time.sleep(0.05)  # (the server's last closes run on its own thread)
        assert fds() <= before, (before, fds())
    finally:
        adapter.close()
