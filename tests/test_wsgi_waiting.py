"""The bodies of calls waiting for a thread (``WaitingBodies``, wsgi/streams.py) under
clients that misbehave: a client gone while its call waits, a chunked body over
``max_body_size`` (413) or broken (400) while its call waits each let go of their count
at once, not when a thread gets to them; a slowloris upload holding a thread does not
stop the other uploads' calls, whose pipes were paused by the budget, from running. An
in-process server on loopback, so that the pipes and the budget can be looked at."""

import hashlib
import socket
import threading

import pytest

from daemon import wait_until
from harness import read_until_close
from prefork.wsgi import WSGIAdapter

LENGTH = 1024 * 1024


def payload(n):
    return bytes([97 + n % 26]) * LENGTH


@pytest.fixture
def pool(serve, request):
    release = threading.Event()
    holding = []

    def app(environ, start_response):
        if environ["PATH_INFO"] == "/hold":
            holding.append(1)
            release.wait(10)
            start_response("200 OK", [("Content-Type", "text/plain")])
            return [b"held"]
        data = environ["wsgi.input"].read()
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"%d %s" % (len(data), hashlib.sha256(data).hexdigest().encode())]

    adapter = WSGIAdapter(app, threads=2, max_body_size=getattr(request, "param", 2 * LENGTH))
    st_ = serve(lambda server, _st: adapter.setup(server))
    st_.adapter, st_.release, st_.holding = adapter, release, holding
    yield st_
    release.set()
    adapter.close()


def connect(port):
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def upload_head(length=LENGTH):
    return b"POST /up HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: %d\r\n\r\n" % length


def waiting_pipes(adapter):
    return [call.body for call in list(adapter.pool.queued) if not call.started and hasattr(call.body, "paused")]


def counted(adapter):
    """What the waiting pipes say they count, and what the budget holds."""
    return sum(pipe.counted for pipe in waiting_pipes(adapter)), adapter.pool.waiting_bodies.held


def hold_threads(pool):
    holds = []
    for _ in range(2):
        sock = connect(pool.port)
        sock.sendall(b"GET /hold HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        holds.append(sock)
    wait_until(lambda: len(pool.holding) == 2, 5, what="both threads held")
    return holds


@pytest.mark.parametrize("pool", [250_000], indirect=True)  # (a pipe pauses at 256 KiB: the limit comes first)
@pytest.mark.parametrize("how", ["gone", "over-the-limit", "broken-chunk"])
def test_a_waiting_body_that_fails_lets_go_of_its_count_at_once(pool, how):
    """Every thread is busy; one upload waits with a complete body (counted), the other
    fails while waiting: its count goes at once, the other's stays, and both are 0 once
    the threads are free."""
    holds = hold_threads(pool)
    socks = []
    try:
        keeper = connect(pool.port)
        socks.append(keeper)
        keeper.sendall(upload_head(100_000) + b"k" * 100_000)
        wait_until(lambda: counted(pool.adapter) == (100_000, 100_000), 5,
                   what=lambda: f"the kept body counted: {counted(pool.adapter)}")
        failing = connect(pool.port)
        socks.append(failing)
        if how == "gone":
            failing.sendall(upload_head(240_000) + b"g" * 150_000)
        else:
            failing.sendall(b"POST /up HTTP/1.1\r\nHost: x\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n")
            for _ in range(2):
                failing.sendall(b"%x\r\n%s\r\n" % (100_000, b"c" * 100_000))
        wait_until(lambda: pool.adapter.pool.waiting_bodies.held > 100_000, 5, what="the second body counted")
        if how == "gone":
            failing.close()
        elif how == "over-the-limit":
            failing.sendall(b"%x\r\n%s\r\n" % (100_000, b"c" * 100_000))  # over max_body_size
        else:
            failing.sendall(b"zz\r\nnot a chunk\r\n")
        wait_until(lambda: pool.adapter.pool.waiting_bodies.held == 100_000, 5,
                   what=lambda: f"only the kept body counted: {counted(pool.adapter)}")
        pool.release.set()
        if how != "gone":  # (the 413 is the call's, once a thread takes it; the 400 the server's)
            answer = read_until_close(failing)
            assert answer.startswith(b"HTTP/1.1 413" if how == "over-the-limit" else b"HTTP/1.1 400"), answer[:100]
        answer = read_until_close(keeper)
        assert answer.startswith(b"HTTP/1.1 200 OK") and answer.endswith(
            b"100000 %s" % hashlib.sha256(b"k" * 100_000).hexdigest().encode()), answer[-200:]
        wait_until(lambda: pool.adapter.pool.waiting_bodies.held == 0, 5, what="nothing counted")
    finally:
        pool.release.set()
        for sock in holds + socks:
            sock.close()


def test_a_slowloris_upload_does_not_stop_the_other_uploads(pool):
    """One upload sends 10 KB of its 1 MiB and stalls: its call waits for its body and
    takes no thread. 12 uploads of 1 MiB come behind it (more than the waiting calls' budget, so
    their pipes pause): all run, one after the other, on the other thread, and each body
    reaches the app whole."""
    slow = connect(pool.port)
    uploads = []
    try:
        slow.sendall(upload_head() + b"s" * 10_000)
        wait_until(lambda: pool.adapter.pool.awaiting, 5, what="the slow upload's call waiting for its body")
        for n in range(12):
            sock = connect(pool.port)
            sock.sendall(upload_head())
            uploads.append(sock)
        senders = [threading.Thread(target=sock.sendall, args=(payload(n),), daemon=True)
                   for n, sock in enumerate(uploads)]
        for sender in senders:
            sender.start()
        for n, sock in enumerate(uploads):
            answer = read_until_close(sock)
            assert answer.startswith(b"HTTP/1.1 200 OK"), answer[:200]
            assert answer.endswith(b"%d %s" % (LENGTH, hashlib.sha256(payload(n)).hexdigest().encode()))
        for sender in senders:
            sender.join(5)
        assert pool.adapter.pool.waiting_bodies.held == 10_000  # the slow upload's, waiting for the rest
        slow.sendall(b"s" * (LENGTH - 10_000))  # the slow one, finished at last, is answered too
        answer = read_until_close(slow)
        assert answer.endswith(b"%d %s" % (LENGTH, hashlib.sha256(b"s" * LENGTH).hexdigest().encode()))
    finally:
        slow.close()
        for sock in uploads:
            sock.close()
