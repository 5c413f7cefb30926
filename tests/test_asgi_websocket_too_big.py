"""A WebSocket message past ``ws_max_size`` closes with 1009 and one reason, whether the
client compressed it (permessage-deflate, counted as it inflates) or not: the client's
close frame and the app's ``websocket.disconnect`` say what happened. (A compressed one
was closed with wsproto's "error in extension"; uvicorn's wsproto implementation names the
size for both.) A real Server on loopback, the ``websockets`` client library."""

import os

import pytest

from daemon import wait_until
from test_asgi_websocket import url, ws_server

websockets = pytest.importorskip("websockets")
from websockets.exceptions import ConnectionClosed  # noqa: E402
from websockets.sync.client import connect  # noqa: E402

REASON = "Message exceeds the maximum size (1000 bytes)"


def recording_app(disconnects):
    async def app(scope, receive, send):
        if scope["type"] != "websocket":
            return
        await receive()
        await send({"type": "websocket.accept"})
        while True:
            message = await receive()
            if message["type"] == "websocket.disconnect":
                disconnects.append(message)
                return
            await send({"type": "websocket.send", "text": message.get("text") or ""})
    return app


@pytest.mark.parametrize("compression", ["deflate", None])
def test_a_message_past_the_limit_closes_with_1009_and_says_why(serve, compression):
    disconnects = []
    st = ws_server(serve, recording_app(disconnects), ws_max_size=1000)
    with connect(url(st, "/ws"), proxy=None, compression=compression, open_timeout=10) as ws:
        assert bool(ws.response.headers.get("sec-websocket-extensions")) == (compression is not None)
        ws.send("a" * 1000)  # at the limit: taken
        assert ws.recv(10) == "a" * 1000
        ws.send("a" * 5000)
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(10)
    assert closed.value.rcvd is not None, closed.value
    assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (1009, REASON)
    wait_until(lambda: disconnects, 10, what="the app's websocket.disconnect")
    assert disconnects == [{"type": "websocket.disconnect", "code": 1009, "reason": REASON}]



def echo_bytes_app(disconnects):
    async def app(scope, receive, send):
        if scope["type"] != "websocket":
            return
        await receive()
        await send({"type": "websocket.accept"})
        while (message := await receive())["type"] != "websocket.disconnect":
            await send({"type": "websocket.send", "bytes": message["bytes"]})
        disconnects.append(message)
    return app


def test_a_compressed_message_at_the_limit_is_taken_though_its_frame_is_longer(serve):
    """Random bytes do not compress: deflate makes 1,000 of them a frame of a few more,
    and the limit counts the message, not its frame (uvicorn's wsproto stack echoes it)."""
    disconnects = []
    st = ws_server(serve, echo_bytes_app(disconnects), ws_max_size=1000)
    data = os.urandom(1000)
    with connect(url(st, "/ws"), proxy=None, compression="deflate", open_timeout=10) as ws:
        assert ws.response.headers.get("sec-websocket-extensions")
        ws.send(data)
        assert ws.recv(10) == data
        ws.send(data + b"!")  # one byte past the limit: still refused
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(10)
    assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (1009, REASON)
    wait_until(lambda: disconnects, 10, what="the app's websocket.disconnect")
    assert disconnects[0]["code"] == 1009
