"""Uploads that wait for a thread (``threads > 1``, every thread busy): the bodies their
pipes hold together stay under ``WAITING_BODIES`` (plus a read each), not 256 KiB each;
every body still reaches the app whole once a thread takes its call. An in-process
server on loopback, so that the pipes of the waiting calls can be looked at."""

import hashlib
import socket
import threading

import pytest

from daemon import wait_until
from harness import read_until_close
from prefork.wsgi import WSGIAdapter

UPLOADS = 48
LENGTH = 1024 * 1024
READ = 64 * 1024  # what one read of a socket takes at most: a pipe's first chunk
WAITING_BODIES = 4 * 1024 * 1024
PIPE_HIGH_WATER = 256 * 1024  # one pipe's own high-water mark (pipe.py's _PIPE_HIGH_WATER)


def payload(n):
    return bytes([65 + n % 26]) * (LENGTH - 1) + b"\n"


@pytest.fixture
def pool(serve):
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

    adapter = WSGIAdapter(app, threads=2)
    st_ = serve(lambda server, _st: adapter.setup(server))
    st_.adapter, st_.release, st_.holding = adapter, release, holding
    yield st_
    release.set()
    adapter.close()


def waiting_pipes(adapter):
    """The body pipes of the calls submitted and not started (every thread is held), and
    of those still waiting for their body before they go to a thread."""
    calls = list(adapter.pool.queued) + list(adapter.pool.awaiting)
    return [call.body for call in calls if not call.started and hasattr(call.body, "paused")]


def test_uploads_waiting_for_a_thread_hold_a_bounded_total_and_arrive_whole(pool):
    holds = []
    uploads = []
    try:
        for _ in range(2):  # both threads busy
            sock = socket.create_connection(("127.0.0.1", pool.port), timeout=10)
            sock.sendall(b"GET /hold HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            holds.append(sock)
        wait_until(lambda: len(pool.holding) == 2, 5, what="both threads held")
        for n in range(UPLOADS):
            sock = socket.create_connection(("127.0.0.1", pool.port), timeout=10)
            sock.sendall(b"POST /up HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: %d\r\n\r\n" % LENGTH)
            uploads.append(sock)
        senders = [threading.Thread(target=sock.sendall, args=(payload(n),), daemon=True)
                   for n, sock in enumerate(uploads)]
        for sender in senders:
            sender.start()
        # every waiting call's pipe stops taking bytes (paused), at its own high-water
        # mark before, at the waiting calls' budget now
        wait_until(lambda: len(waiting_pipes(pool.adapter)) == UPLOADS
                   and all(pipe.paused for pipe in waiting_pipes(pool.adapter)), 10,
                   what=lambda: f"{UPLOADS} paused pipes; {sum(p.paused for p in waiting_pipes(pool.adapter))}")
        held = sum(pipe.size for pipe in waiting_pipes(pool.adapter))
        # the budget, a read each, and the one pipe first in line, which may read on past
        # the budget to its own high-water mark (pipe.py's rule): it was left out, and a
        # run where the first in line had taken a few KiB more failed
        assert held <= WAITING_BODIES + UPLOADS * READ + PIPE_HIGH_WATER, f"{held} bytes held by waiting pipes"
        pool.release.set()
        for sender in senders:
            sender.join(10)
        for n, sock in enumerate(uploads):
            answer = read_until_close(sock)
            assert answer.startswith(b"HTTP/1.1 200 OK"), answer[:200]
            assert answer.endswith(b"%d %s" % (LENGTH, hashlib.sha256(payload(n)).hexdigest().encode()))
        for sock in holds:
            assert read_until_close(sock).endswith(b"held")
        assert pool.adapter.pool.waiting_bodies.held == 0  # every waiting body let go of its count
    finally:
        pool.release.set()
        for sock in holds + uploads:
            sock.close()
