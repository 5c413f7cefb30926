"""The exiting worker's ``server.destroy_all()`` (then the WSGI pool's ``close(wait)``,
with no loop turn between them, as the worker's exit does): a WSGI stream cut there has
its iterable's ``close()`` called within that wait, also when a fast stop's
``close_all_connections()`` destroyed its connection just before. The events of a
destroy come on the socket's close turn; the exit cannot count on that turn."""

import socket
import threading
import time

import pytest

from prefork.wsgi.adapter import WSGIAdapter


class Endless:
    def __init__(self, closed):
        self.closed = closed

    def __iter__(self):
        while True:
            yield b"data: tick\n\n"
            time.sleep(0.02)

    def close(self):
        self.closed.set()


@pytest.mark.parametrize("fast_stop", [False, True], ids=["cut", "fast-stop"])
def test_a_stream_cut_at_the_exit_has_its_iterable_closed(serve, fast_stop):
    threads = 4
    closed = threading.Event()
    started = threading.Event()

    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/event-stream")])
        started.set()
        return Endless(closed)

    def setup(server, st):
        st.adapter = WSGIAdapter(app, threads=threads)
        st.adapter.setup(server)
    st = serve(setup)
    with socket.create_connection(("127.0.0.1", st.port), timeout=5) as client:
        client.sendall(b"GET /events HTTP/1.1\r\nHost: x\r\n\r\n")
        got = b""
        deadline = time.monotonic() + 5
        while b"data: tick" not in got and time.monotonic() < deadline:
            got += client.recv(65536)
        assert b"data: tick" in got, got
        outcome = {}
        done = threading.Event()

        def exit_steps():  # on the loop's thread, as the worker's exit runs them
            if fast_stop:
                st.server.close_all_connections()
            outcome["cut"] = st.server.destroy_all()
            outcome["running"] = st.adapter.close(2.0)
            outcome["closed"] = closed.is_set()
            done.set()
        st.loop.call_soon_threadsafe(exit_steps)
        assert done.wait(10)
    assert outcome == {"cut": 0 if fast_stop else 1, "running": 0, "closed": True}, outcome
