"""A compressed WebSocket session that is over gives its memory back at once.

Each permessage-deflate session holds a zlib compressor and decompressor (a few hundred
KiB). A worker's full cycle collections come rarely, so whatever a closed session leaves
in a reference cycle stays: 1,000 chat clients that closed left 90 MB in a worker
until the next full collection.
"""

import asyncio
import gc
import socket
import tracemalloc

import pytest
import websockets

from prefork.asgi.adapter import ASGIAdapter
from test_reference_cycles import settle

SESSIONS = 20


async def echo(scope, receive, send):
    if scope["type"] != "websocket":
        return
    await receive()  # websocket.connect
    await send({"type": "websocket.accept"})
    while True:
        message = await receive()
        if message["type"] == "websocket.disconnect":
            return
        await send({"type": "websocket.send", "text": message.get("text") or ""})


def start(serve):
    def setup(server, st):
        st.adapter = ASGIAdapter(echo, lifespan="off").setup(server)
    return serve(setup)


def sessions(port, end):
    async def one():
        ws = await websockets.connect(f"ws://127.0.0.1:{port}/ws", proxy=None, compression="deflate",
                                      ping_interval=None, open_timeout=10)
        assert ws.response.headers["sec-websocket-extensions"].startswith("permessage-deflate")
        await ws.send("hello " * 100)
        assert await asyncio.wait_for(ws.recv(), 10) == "hello " * 100
        if end == "close":
            await asyncio.wait_for(ws.close(), 10)
            return
        # a ping goes through the frame parser, then the connection is reset
        await asyncio.wait_for(await ws.ping(), 10)
        ws.transport.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                                          b"\x01\x00\x00\x00\x00\x00\x00\x00")
        ws.transport.abort()

    async def run():
        for _ in range(SESSIONS):
            await one()
    asyncio.run(asyncio.wait_for(run(), 60))


def test_sessions_closed_by_the_client_are_freed_without_the_cycle_collector(serve):
    """The client's close frame ends wsproto's frame parser too, so nothing of a session
    (its protocol, its extension) stays in a cycle."""
    st = start(serve)
    gc.collect()
    gc.disable()
    try:
        sessions(st.port, "close")
        settle(st, lambda: len(st.adapter.websockets) + len(st.adapter.tasks))
        alive = sum(1 for obj in gc.get_objects() if type(obj).__name__ in ("BoundedDeflate", "FrameProtocol"))
    finally:
        gc.enable()
    assert alive == 0


@pytest.mark.parametrize("end", ["close", "reset"])
def test_the_zlib_state_of_ended_sessions_is_freed_without_the_cycle_collector(serve, end):
    st = start(serve)
    sessions(st.port, "close")  # (modules and caches loaded before counting)
    settle(st, lambda: len(st.adapter.websockets) + len(st.adapter.tasks))
    gc.collect()
    gc.disable()
    tracemalloc.start()
    try:
        sessions(st.port, end)
        settle(st, lambda: len(st.adapter.websockets) + len(st.adapter.tasks))
        # what the server's side allocated and still holds (the client's side is in this process too)
        snapshot = tracemalloc.take_snapshot().filter_traces([tracemalloc.Filter(True, "*/wsproto/*")])
        held = sum(stat.size for stat in snapshot.statistics("filename"))
    finally:
        tracemalloc.stop()
        gc.enable()
    # each session's compressor alone is over 256 KiB; what the worker keeps is far less
    assert held < SESSIONS * 64 * 1024, f"{held} bytes held after {SESSIONS} sessions ended ({end})"
