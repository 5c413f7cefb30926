"""A client that goes away while an ASGI response streams to it, the app's send waiting
for the socket to drain: the connection, its request and response and the app's task are
freed by reference counting. A ``drain`` listener left on the closed socket held the
connection, its parser, request, response and the app's state (a streaming generator
suspended in it, its cleanup not run) in a reference cycle until a collection of the
cycle collector came. Real sockets on loopback."""

import socket
import struct
import time

from harness import left_in_cycles
from prefork.asgi.adapter import ASGIAdapter

CHUNK = b"z" * 65536


def settle(st, pending):
    deadline = time.monotonic() + 10
    while st.call(pending) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert st.call(pending) == 0
    for _ in range(3):
        st.call(lambda: None)


def drop_mid_stream(st, path, parked):
    """Reads a part of an endless streamed response, stops reading until the app's send
    waits for 'drain' (``parked()``, run on the server's loop), then resets the connection."""
    sock = socket.create_connection(("127.0.0.1", st.port), timeout=10)
    sock.sendall(b"GET " + path + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    got = 0
    while got < 1 << 20:
        chunk = sock.recv(65536)
        assert chunk
        got += len(chunk)
    deadline = time.monotonic() + 10
    while not st.call(parked):
        assert time.monotonic() < deadline, "the app's send never waited for 'drain'"
        time.sleep(0.01)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


async def stream_until_told(send, gone, sending):
    """Endless chunks until ``gone`` is set by the task that receives the disconnect;
    ``sending`` is true while a send has not returned (seen from another loop turn only
    when it waits)."""
    import asyncio
    await send({"type": "http.response.start", "status": 200, "headers": []})
    while not gone:
        sending[0] = True
        await send({"type": "http.response.body", "body": CHUNK, "more_body": True})
        sending[0] = False
        await asyncio.sleep(0)  # (sends to a closed connection return at once)


def test_a_client_gone_while_a_send_waits_for_drain_leaves_no_cycle(serve):
    import asyncio
    disconnects = []
    sending = [False]

    def setup(server, st):
        async def watched(scope, receive, send):
            if scope["type"] != "http":
                return
            await receive()  # the (empty) body
            gone = []
            task = asyncio.ensure_future(stream_until_told(send, gone, sending))
            while (await receive())["type"] != "http.disconnect":
                pass
            gone.append(True)
            disconnects.append(True)
            await task
        st.adapter = ASGIAdapter(watched, lifespan="off").setup(server)
    st = serve(setup)

    def run():
        for _ in range(3):
            drop_mid_stream(st, b"/", lambda: sending[0])
        settle(st, lambda: st.server.connections + len(st.adapter.tasks))
    left = left_in_cycles(run)
    assert len(disconnects) == 3
    assert not left, f"objects left in reference cycles: {dict(left)}"
