"""A WSGI thread pool's idle thread keeps nothing of the last call it ran: once a
request is answered and its connection closed, its request object is freed at once
(reference counting, no collection needed), on every thread of the pool. A waiting
thread that kept its last call held that request, its response, connection and
socket until its next job."""

import gc
import socket
import time
import weakref

from harness import read_until_close
from prefork.wsgi import WSGIAdapter

THREADS = 4


def test_idle_threads_keep_no_finished_call(serve):
    kept = []

    def app(environ, start_response):
        kept.append(weakref.ref(environ["prefork.request"]))
        start_response("200 OK", [("Content-Length", "2")])
        return [b"ok"]

    def setup(server, st):
        WSGIAdapter(app, threads=THREADS).setup(server)
    st = serve(setup)
    for _ in range(THREADS * 2):  # (each request a connection of its own: the pool's threads take turns)
        sock = socket.create_connection(("127.0.0.1", st.port), timeout=5)
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert read_until_close(sock).startswith(b"HTTP/1.1 200 OK")
        sock.close()
    gc.disable()  # (freed by reference counting alone, not by a collection)
    try:
        deadline = time.monotonic() + 5
        while any(ref() is not None for ref in kept) and time.monotonic() < deadline:
            time.sleep(0.02)
        alive = sum(ref() is not None for ref in kept)
    finally:
        gc.enable()
    assert len(kept) == THREADS * 2
    assert alive == 0, f"{alive} finished requests still held"
