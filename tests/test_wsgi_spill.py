"""write()'s spill to a temporary file (wsgi/spill.py) on the paths around it, against
the real daemon on the loop (``threads = 1``): an app that raises after its writes
spilled, write() with empty blocks, write() after the app returned (from close()), HEAD,
a worker recycled or stopped while it spills. The file is closed on every path, nothing
raises on the loop, and the bytes that do reach the client are the app's, in order."""

import os
import socket

import pytest

from daemon import Daemon, wait_until
from test_wsgi_backpressure import dechunk, spill_files

BLOCK = 1024 * 1024
BLOCKS = 12


def _block(i, size=BLOCK):
    return bytes([65 + i % 26]) * size


class _Late:
    """A body whose close() calls write() again, after the response ended."""

    def __init__(self, write):
        self.write = write

    def __iter__(self):
        return iter([b"tail"])

    def close(self):
        self.write(b"after the end")


def app(environ, start_response):
    path = environ["PATH_INFO"]
    plain = [("Content-Type", "application/octet-stream")]
    if path == "/raise":  # writes that spill, then the app raises
        write = start_response("200 OK", plain)
        for i in range(BLOCKS):
            write(_block(i))
        raise RuntimeError("the app fails after its writes")
    if path == "/empty":  # empty writes between the blocks, while the client pushes back
        write = start_response("200 OK", plain)
        for i in range(BLOCKS):
            write(b"")
            write(_block(i))
            write(b"")
        return [b"", b"end", b""]
    if path == "/late":  # writes that spill, a body whose close() writes again
        write = start_response("200 OK", plain)
        for i in range(BLOCKS):
            write(_block(i))
        return _Late(write)
    if path == "/yield-then-write":  # a block yielded, then write()s from the generator, then its end
        write = start_response("200 OK", plain)

        def body():
            yield _block(0, 8 * BLOCK)  # more than the kernel takes: the socket pushes back
            for i in range(1, 4):
                write(_block(i))
            if environ["QUERY_STRING"] == "more":
                yield _block(25)
        return body()
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"hello"]


def expected(tail=b""):
    return b"".join(_block(i) for i in range(BLOCKS)) + tail


def start(*args, timeout=10):
    daemon = Daemon("--interface", "wsgi", "--threads", "1", "--timeout", str(timeout), *args,
                    app="test_wsgi_spill:app", workers=1)
    daemon.wait_ready()
    return daemon


@pytest.fixture
def d():
    daemon = start()
    try:
        yield daemon
    finally:
        daemon.cleanup()


def slow_client(d, request):
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", d.port))
    sock.sendall(request)
    return sock


def read_to_close(sock, timeout=10):
    sock.settimeout(timeout)
    data = bytearray()
    while True:
        try:
            chunk = sock.recv(1 << 20)
        except ConnectionResetError:
            break
        if not chunk:
            break
        data += chunk
    return bytes(data)


def assert_clean(d, worker):
    wait_until(lambda: not spill_files(worker), 5, what=lambda: f"no spill file: {spill_files(worker)}")
    assert d.request("/hello", timeout=5).endswith(b"hello")
    log = d.log()
    assert "Exception in callback" not in log, log[-3000:]
    assert log.count("Traceback") == log.count("error in WSGI app for GET /raise"), log[-3000:]  # the app's own


@pytest.mark.parametrize("more", [False, True], ids=["then-the-end", "then-a-block"])
def test_write_from_the_generator_after_its_last_block_is_sent_before_the_end(d, more):
    """A generator yields a block the socket pushes back on, then write()s three more and
    ends (or yields one more): taking its next block to see if the call can end at once ran the app, whose
    write()s went to disk, and the response ended before them: the client got a whole
    chunked body without the last 2 MiB, and nothing was logged."""
    worker = d.workers()[0]
    sock = slow_client(d, b"GET /yield-then-write?%s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
                       % (b"more" if more else b""))
    try:
        data = read_to_close(sock)
    finally:
        sock.close()
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK") and b"chunked" in head, head
    got = dechunk(body)
    want = _block(0, 8 * BLOCK) + b"".join(_block(i) for i in range(1, 4)) + (_block(25) if more else b"")
    assert len(got) == len(want)
    assert got == want
    assert_clean(d, worker)


@pytest.mark.parametrize("path, tail", [("/empty", b"end"), ("/late", b"tail"), ("/raise", None)],
                         ids=["empty-writes", "write-after-the-end", "app-raises"])
def test_a_spilled_response_reaches_its_slow_client_and_its_file_goes(d, path, tail):
    """Empty write()s between the blocks, a write() from the body's close() after the
    response ended (dropped), an app that raises once its writes spilled (the client gets
    every byte written, then the cut: no last chunk); the file goes each time."""
    worker = d.workers()[0]
    sock = slow_client(d, f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
    try:
        wait_until(lambda: spill_files(worker), 5, what="the writes spilled to disk")
        data = read_to_close(sock)
    finally:
        sock.close()
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK") and b"chunked" in head, head
    if tail is None:
        assert not body.endswith(b"\r\n0\r\n\r\n")
        assert dechunk(body + b"0\r\n\r\n") == expected()
    else:
        assert dechunk(body) == expected(tail)
    assert_clean(d, worker)


def test_head_with_write_sends_no_body_and_serves_the_next_request(d):
    worker = d.workers()[0]
    sock = slow_client(d, b"HEAD /empty HTTP/1.1\r\nHost: x\r\n\r\n"
                          b"GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    try:
        data = read_to_close(sock)
    finally:
        sock.close()
    first, _, rest = data.partition(b"\r\n\r\n")
    assert first.startswith(b"HTTP/1.1 200 OK")
    assert rest.startswith(b"HTTP/1.1 200 OK") and rest.endswith(b"\r\n\r\nhello"), rest[:300]
    assert not spill_files(worker)
    assert_clean(d, worker)


@pytest.mark.parametrize("how", ["TERM", "max_requests"])
def test_a_worker_stopped_or_recycled_while_it_spills_finishes_the_response(how):
    """The worker is told to stop (TERM to the master) or reaches max_requests while a
    response's write()s wait on disk: the response goes out whole, then the worker exits."""
    import signal
    d = start(*(["--max-requests", "1"] if how == "max_requests" else []))
    try:
        worker = d.workers()[0]
        sock = slow_client(d, b"GET /empty HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        try:
            wait_until(lambda: spill_files(worker), 5, what="the writes spilled to disk")
            if how == "TERM":
                d.signal(signal.SIGTERM)
            data = read_to_close(sock)
        finally:
            sock.close()
        head, _, body = data.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200 OK"), head
        assert dechunk(body) == expected(b"end")
        wait_until(lambda: not os.path.exists(f"/proc/{worker}"), 10, what="the worker gone")
    finally:
        d.cleanup()
