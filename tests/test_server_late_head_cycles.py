"""An application that answers after its client reset the connection (an ``async def``
listener or an ASGI app that was awaiting something) writes into a closed response; the
connection is over and has released its parser. Fixing that late response's head must
not bind the parser to the connection again: it made a Connection <-> parser cycle
(holding the socket, and its TLS layer on a TLS listener) per such connection, left for
the cycle collector.

Real loopback sockets; the server's loop runs in a thread of this process.
"""

import asyncio
import socket
import time

import pytest

from prefork.asgi.adapter import ASGIAdapter

from harness import left_in_cycles
from leakdrive import reset


async def gone(server):
    """Until the server holds no connection: the client's reset has been read (bounded)."""
    for _ in range(1000):
        if not server.connections:
            return
        await asyncio.sleep(0.005)


def late_events(server, st):
    async def on_request(req, res):
        st.record("waiting")
        await gone(server)
        res.end("late")
        st.record("answered")
    server.on("request", on_request)


def late_asgi(server, st):
    async def app(scope, receive, send):
        if scope["type"] != "http":
            return
        await receive()  # the request, whole
        st.record("waiting")
        await gone(server)
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"4")]})
        await send({"type": "http.response.body", "body": b"late"})
        st.record("answered")
    ASGIAdapter(app, lifespan="off").setup(server)


@pytest.mark.parametrize("interface", [
    "events",
    "asgi",
])
def test_an_answer_after_the_client_reset_leaves_nothing_in_cycles(serve, interface):
    st = serve({"events": late_events, "asgi": late_asgi}[interface])
    rounds = 20

    def one():
        waiting = sum(e == ("waiting",) for e in st.events)
        sock = socket.create_connection(("127.0.0.1", st.port), timeout=10)
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        # the listener (or app) awaits before the reset
        deadline = time.monotonic() + 10
        while sum(e == ("waiting",) for e in st.events) == waiting and time.monotonic() < deadline:
            time.sleep(0.002)
        reset(sock)

    one()  # warm up
    st.wait_for(lambda e: e == ("answered",), 10)

    def run():
        for _ in range(rounds):
            one()
        deadline = time.monotonic() + 10
        while sum(e == ("answered",) for e in st.events) < rounds + 1 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert sum(e == ("answered",) for e in st.events) == rounds + 1
        for _ in range(3):
            st.call(lambda: None)  # what the late answers scheduled has run
    left = left_in_cycles(run)
    assert not left, f"objects left in reference cycles: {dict(left)}"
