"""A WebSocket client that sends a burst of messages, then its close frame and its FIN, or a
reset, while the app is behind (the session stopped reading): the app gets every message the
client sent, then the client's close code (1006 after the reset), as when the client leaves
later."""

import asyncio
import socket
import struct
import time

from daemon import wait_until
from prefork.asgi import ASGIAdapter
from test_asgi_websocket import handshake, masked


def session(serve, receives, behind=0.3):
    """A WebSocket app that waits ``behind`` seconds after accepting (the client's bytes
    arrive meanwhile), then receives up to ``receives`` messages: (the client's socket,
    the texts it got, the close codes it got)."""
    got = []
    done = []

    async def app(scope, receive, send):
        if scope["type"] != "websocket":
            return
        assert (await receive())["type"] == "websocket.connect"
        await send({"type": "websocket.accept"})
        await asyncio.sleep(behind)
        for _ in range(receives):
            message = await receive()
            if message["type"] == "websocket.disconnect":
                done.append(message["code"])
                return
            got.append(message["text"])

    def setup(server, st):
        st.adapter = ASGIAdapter(app, lifespan="off").setup(server)
    st = serve(setup)
    return handshake(st.port, "/ws"), got, done


def run(serve, count):
    sock, got, done = session(serve, count + 10)  # behind: the burst and the FIN arrive meanwhile
    try:
        burst = b"".join(masked(0x81, f"m{i}".encode()) for i in range(count))
        sock.sendall(burst + masked(0x88, struct.pack("!H", 1000)))
        sock.shutdown(socket.SHUT_WR)
        wait_until(lambda: done, 10, what="the disconnect")
    finally:
        sock.close()
    return got, done


def test_a_burst_then_close_and_fin_while_the_app_is_behind(serve):
    got, done = run(serve, 200)
    assert got == [f"m{i}" for i in range(200)]
    assert done == [1000]


def test_a_burst_of_pings_then_a_message_close_and_fin(serve):
    sock, got, done = session(serve, 10, behind=0)
    try:
        pings = b"".join(masked(0x89, b"p") for _ in range(400))  # taken a loop turn apart
        sock.sendall(pings + masked(0x81, b"last") + masked(0x88, struct.pack("!H", 1000)))
        sock.shutdown(socket.SHUT_WR)
        wait_until(lambda: done, 10, what="the disconnect")
    finally:
        sock.close()
    assert got == ["last"] and done == [1000]


def test_a_burst_then_a_reset_while_the_app_is_behind(serve):
    sock, got, done = session(serve, 300)  # behind: the burst and the reset arrive meanwhile
    try:
        sock.sendall(b"".join(masked(0x81, f"m{i}".encode()) for i in range(200)))
        time.sleep(0.1)  # (out of this socket's send buffer: a reset drops what is still there)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    finally:
        sock.close()
    wait_until(lambda: done, 10, what="the disconnect")
    assert got == [f"m{i}" for i in range(200)]
    assert done == [1006]
