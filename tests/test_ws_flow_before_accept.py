"""Frames a WebSocket client sends before the app accepts, past what the session keeps
reading (the socket paused): once the app accepts it gets every one of them, though the
client sends nothing more (with or without its FIN)."""

import asyncio
import base64
import os
import socket

import pytest

from daemon import wait_until
from prefork.asgi import ASGIAdapter
from test_asgi_websocket import masked


@pytest.mark.parametrize("fin", [False, True])
def test_frames_sent_before_the_accept_all_arrive(serve, fin):
    got = []
    sent = [os.urandom(2048) for _ in range(40)]  # 80 KiB: past the session's 64 KiB before the accept

    async def app(scope, receive, send):
        if scope["type"] != "websocket":
            return
        await receive()
        await asyncio.sleep(0.3)  # the frames (and the FIN) arrive before the accept
        await send({"type": "websocket.accept"})
        for _ in range(len(sent)):
            message = await receive()
            got.append(message.get("bytes"))

    def setup(server, st):
        st.adapter = ASGIAdapter(app, lifespan="off").setup(server)
    st = serve(setup)
    sock = socket.create_connection(("127.0.0.1", st.port), timeout=10)
    try:
        key = base64.b64encode(os.urandom(16)).decode()
        sock.sendall(f"GET /ws HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
                     f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
                     + b"".join(masked(0x82, payload) for payload in sent))
        if fin:
            sock.shutdown(socket.SHUT_WR)
        wait_until(lambda: len(got) == len(sent), 10, what="every frame sent before the accept")
    finally:
        sock.close()
    assert got == sent
