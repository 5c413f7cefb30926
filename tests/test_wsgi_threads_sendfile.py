"""``threads > 1``: a file response (``wsgi.file_wrapper``: Flask's ``send_file``, Django's
``FileResponse``) was iterated on its thread, which then waited on the client: as many
clients reading large files slowly as the worker had threads, and every other request
of the worker waited (gunicorn's gthread worker behaves the same). The thread now hands
a duplicate of the file's descriptor to the loop, which sends it with ``sendfile``; the
call, its ``close()`` included, ends as the transfer starts.
"""

import hashlib
import os
import socket
import struct
import threading
import time

import pytest

from hostile import read_to_close
from prefork.wsgi import WSGIAdapter

SIZE = 16 << 20
THREADS = 2


@pytest.fixture
def served(serve, tmp_path):
    path = tmp_path / "big.bin"
    block = bytes(range(256)) * 4096  # 1 MiB
    with open(path, "wb") as fh:
        for _ in range(SIZE >> 20):
            fh.write(block)
    closed = []  # the threads the app's close() ran on

    def app(environ, start_response):
        if environ["PATH_INFO"] == "/file":
            headers = [("Content-Type", "application/octet-stream")]
            if environ["QUERY_STRING"] == "long":  # a Content-Length the file falls short of
                headers.append(("Content-Length", str(SIZE + 10)))
            if environ["QUERY_STRING"] == "bad":  # a head the loop refuses
                headers.append(("X-Bad", "a\nb"))
            start_response("200 OK", headers)
            wrapper = environ["wsgi.file_wrapper"](open(path, "rb"))
            close = wrapper.close
            wrapper.close = lambda: (closed.append(threading.current_thread().name), close())
            return wrapper
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"pong"]
    adapter = WSGIAdapter(app, threads=THREADS, timeout=30)
    st = serve(lambda server, _st: adapter.setup(server))
    st.closed = closed
    st.digest = hashlib.sha256(block * (SIZE >> 20)).hexdigest()
    yield st
    adapter.close()


def _slow_download(port):
    slow = socket.socket()
    slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    slow.connect(("127.0.0.1", port))
    slow.settimeout(10)
    slow.sendall(b"GET /file HTTP/1.1\r\nHost: x\r\n\r\n")
    head = b""
    while b"\r\n\r\n" not in head:
        head += slow.recv(1)
    assert head.startswith(b"HTTP/1.1 200 ") and b"Content-Length: %d" % SIZE in head, head
    return slow


def _body(sock, size):
    digest = hashlib.sha256()
    got = 0
    while got < size:
        chunk = sock.recv(min(1 << 20, size - got))
        assert chunk, f"closed after {got} bytes"
        digest.update(chunk)
        got += len(chunk)
    return digest.hexdigest()


def _wait(condition, what, timeout=5):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.01)


def test_slow_file_downloads_hold_no_thread(served):
    slow = [_slow_download(served.port) for _ in range(THREADS + 1)]
    try:
        # every download is stuck on a client that reads nothing yet: the worker answers
        started = time.monotonic()
        with socket.create_connection(("127.0.0.1", served.port), timeout=10) as other:
            other.sendall(b"GET /ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            assert read_to_close(other).endswith(b"pong")
        assert time.monotonic() - started < 5
        # each call, its close() included, ended on its thread as its transfer began
        _wait(lambda: len(served.closed) == THREADS + 1, f"close() calls: {served.closed}")
        assert all(name != threading.main_thread().name for name in served.closed), served.closed
        for sock in slow:  # and each slow client still gets the whole file, byte for byte
            assert _body(sock, SIZE) == served.digest
        assert len(served.closed) == THREADS + 1  # once each
    finally:
        for sock in slow:
            sock.close()


def test_pipelined_file_responses_keep_their_order_and_a_short_file_closes(served):
    # (the file after the first waits on its bytes: it is iterated, in order)
    with socket.create_connection(("127.0.0.1", served.port), timeout=10) as sock:
        sock.sendall(b"GET /file HTTP/1.1\r\nHost: x\r\n\r\nHEAD /file HTTP/1.1\r\nHost: x\r\n\r\n"
                     b"GET /ping HTTP/1.1\r\nHost: x\r\n\r\nGET /file?long HTTP/1.1\r\nHost: x\r\n\r\n")
        head = b""
        while b"\r\n\r\n" not in head:
            head += sock.recv(1)
        assert head.startswith(b"HTTP/1.1 200 ") and b"Content-Length: %d\r\n" % SIZE in head, head
        assert _body(sock, SIZE) == served.digest
        rest = read_to_close(sock, timeout=20)
        head, _, rest = rest.partition(b"\r\n\r\n")  # the HEAD's: no body
        assert head.startswith(b"HTTP/1.1 200 "), head
        head, _, rest = rest.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200 ") and rest.startswith(b"pong"), (head, rest[:20])
        # a file short of its Content-Length: all it has, then the close (never a next response)
        head, _, body = rest[4:].partition(b"\r\n\r\n")
        assert b"Content-Length: %d\r\n" % (SIZE + 10) in head and len(body) == SIZE, (head, len(body))
        assert hashlib.sha256(body).hexdigest() == served.digest


def test_a_file_alone_on_its_connection_is_sent_whole_and_short_one_closes(served):
    for query, length in ((b"", SIZE), (b"?long", SIZE + 10)):
        with socket.create_connection(("127.0.0.1", served.port), timeout=10) as sock:
            sock.sendall(b"GET /file%s HTTP/1.1\r\nHost: x\r\n\r\n" % query)
            got = read_to_close(sock, timeout=5) if query else b""
            if not query:
                head = b""
                while b"\r\n\r\n" not in head:
                    head += sock.recv(1)
                assert b"Content-Length: %d\r\n" % length in head and _body(sock, SIZE) == served.digest
                continue
            head, _, body = got.partition(b"\r\n\r\n")
            assert b"Content-Length: %d\r\n" % length in head and len(body) == SIZE, (head, len(body))


def _fds():
    return len(os.listdir("/proc/self/fd"))


def test_no_descriptor_outlives_a_bad_head_a_head_request_or_a_client_gone(served):
    with socket.create_connection(("127.0.0.1", served.port), timeout=10) as sock:
        sock.sendall(b"GET /ping HTTP/1.1\r\nHost: x\r\n\r\n")
        assert sock.recv(65536).endswith(b"pong")
        before = _fds()
        sock.sendall(b"GET /file?bad HTTP/1.1\r\nHost: x\r\n\r\n")
        head = sock.recv(65536)
        assert head.startswith(b"HTTP/1.1 500 "), head
        sock.sendall(b"HEAD /file HTTP/1.1\r\nHost: x\r\n\r\n")
        head = sock.recv(65536)
        assert head.startswith(b"HTTP/1.1 200 ") and b"Content-Length: %d\r\n" % SIZE in head, head
        assert head.endswith(b"\r\n\r\n"), head  # no body
        sock.sendall(b"GET /ping HTTP/1.1\r\nHost: x\r\n\r\n")  # the connection goes on
        assert sock.recv(65536).endswith(b"pong")
        gone = _slow_download(served.port)
        gone.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        gone.close()  # a reset mid-transfer
        _wait(lambda: _fds() <= before, f"descriptors: {_fds()} for {before}")
        assert served.closed and len(served.closed) == 3, served.closed
