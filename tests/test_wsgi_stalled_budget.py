"""Stalled uploads (``threads > 1``) that fill the 4 MiB the bodies of waiting calls may
hold together: their calls take no thread (a GET is answered at once), an upload that
comes meanwhile is parked (its request paused, its bytes in the kernel), and it reads on
and runs once stalled uploads leave. Uploads that fill the budget between them, none
with enough of its body to go to a thread, do not wait on each other: the first in line
reads on. An in-process server on loopback, so that the budget can be looked at."""

import hashlib
import socket
import threading

import pytest

from daemon import wait_until
from harness import read_until_close
from prefork.wsgi import WSGIAdapter

STALLED = 17
SENT = 250_000  # each stalled upload's bytes: under the 256 KiB that would send its call to a thread
LIMIT = 4 * 1024 * 1024
READ = 64 * 1024


@pytest.fixture
def pool(serve):
    entered = []
    release = threading.Event()

    def app(environ, start_response):
        entered.append(environ["PATH_INFO"])
        if environ["PATH_INFO"] == "/hold":
            release.wait(10)
        data = environ["wsgi.input"].read()
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"%d %s" % (len(data), hashlib.sha256(data).hexdigest().encode())]

    adapter = WSGIAdapter(app, threads=2)
    st_ = serve(lambda server, _st: adapter.setup(server))
    st_.adapter, st_.entered, st_.release = adapter, entered, release
    yield st_
    release.set()
    adapter.close()


def connect(port):
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def upload(port, path, length, body):
    sock = connect(port)
    sock.sendall(b"POST %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: %d\r\n\r\n"
                 % (path, length) + body)
    return sock


def test_stalled_uploads_over_the_budget_park_the_next_upload_until_they_leave(pool):
    budget = pool.adapter.pool.waiting_bodies
    stalled = []
    late = None
    try:
        for _ in range(STALLED):
            stalled.append(upload(pool.port, b"/stalled", 1024 * 1024, b"s" * SENT))
        # every stalled body counted; the one that crossed the limit is the first in line
        wait_until(lambda: budget.held == STALLED * SENT and budget.first is not None, 5,
                   what=lambda: f"the budget full: {budget.held} held, first {budget.first}")
        get = connect(pool.port)  # every thread is free: the stalled uploads hold none
        get.sendall(b"GET /get HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert read_until_close(get).startswith(b"HTTP/1.1 200 OK")
        get.close()
        parked = len(budget.parked)  # (stalled ones that crossed the limit after the first)
        late = upload(pool.port, b"/late", 100_000, b"l" * 100_000)  # whole, but the budget is full
        wait_until(lambda: len(budget.parked) == parked + 1, 5, what="the late upload parked")
        for sock in stalled[:3]:  # three stalled clients leave: their bytes no longer count
            sock.close()
        answer = read_until_close(late)
        assert answer.startswith(b"HTTP/1.1 200 OK"), answer[:200]
        assert answer.endswith(b"100000 %s" % hashlib.sha256(b"l" * 100_000).hexdigest().encode()), answer[-100:]
        assert pool.entered == ["/get", "/late"]  # no stalled upload's call ever ran
        wait_until(lambda: budget.held == (STALLED - 3) * SENT and not budget.parked, 5,  # all read, none parked
                   what=lambda: f"the stalled bodies counted whole: {budget.held} held, {len(budget.parked)} parked")
    finally:
        for sock in stalled + ([late] if late else []):
            sock.close()
    wait_until(lambda: budget.held == 0, 5, what=lambda: f"nothing counted once every client left: {budget.held}")


def test_uploads_that_fill_the_budget_between_them_all_arrive(pool):
    """Both threads busy, 40 uploads of 1 MiB at once: their first bytes fill the budget
    before many have the 256 KiB that sends a call to a thread. Once the threads are free
    they are all answered, bodies whole (before the first in line read on past the limit,
    the bodies that filled the budget, none ready, waited on each other for good)."""
    holds = [upload(pool.port, b"/hold", 0, b"") for _ in range(2)]
    wait_until(lambda: pool.entered.count("/hold") == 2, 5, what="both threads held")
    socks = [upload(pool.port, b"/up", 1024 * 1024, b"") for _ in range(40)]
    bodies = [bytes([65 + n % 26]) * (1024 * 1024) for n in range(40)]
    senders = [threading.Thread(target=sock.sendall, args=(body,), daemon=True) for sock, body in zip(socks, bodies)]
    budget = pool.adapter.pool.waiting_bodies
    try:
        for sender in senders:
            sender.start()
        wait_until(lambda: budget.held > LIMIT, 5, what=lambda: f"the budget full: {budget.held}")
        pool.release.set()
        for sock, body in zip(socks, bodies):
            sock.settimeout(10)
            answer = read_until_close(sock)
            assert answer.endswith(b"%d %s" % (len(body), hashlib.sha256(body).hexdigest().encode())), answer[-100:]
        wait_until(lambda: budget.held == 0, 5, what="nothing counted")
    finally:
        pool.release.set()
        for sock in socks + holds:
            sock.close()
