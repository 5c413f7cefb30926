"""An ASGI app that sends or receives from several tasks at once (a WebSocket with a
broadcast task beside its echo loop, readers in two tasks, a response body fed by two
producers), on a real Server on loopback: every waiting call is woken, none is left
parked for ever."""

import asyncio
import base64
import http.client
import os
import socket
import struct

import pytest

from daemon import wait_until
from test_asgi import asgi_server

websockets = pytest.importorskip("websockets")
from websockets.sync.client import connect  # noqa: E402

BLOCK = b"x" * (1 << 20)
PER_TASK = 8  # blocks each sending task sends: far more than the socket buffers hold


class Seen:
    """What the app's tasks report, read by the test on the loop's thread."""

    def __init__(self):
        self.in_send = {}  # task name: a send() of it is waiting
        self.finished = []  # task names done
        self.received = {}  # task name: the message it received


def app_for(seen):
    async def app(scope, receive, send):
        if scope["type"] == "lifespan":
            return
        path = scope["path"]

        async def sender(name, message):
            for _ in range(PER_TASK):
                seen.in_send[name] = True
                await send(message)
                seen.in_send[name] = False
            seen.finished.append(name)

        async def receiver(name):
            seen.in_send[name] = True  # (here: waiting in receive)
            seen.received[name] = await receive()
            seen.finished.append(name)

        if scope["type"] == "websocket":
            await receive()
            await send({"type": "websocket.accept"})
            if path == "/send":
                message = {"type": "websocket.send", "bytes": BLOCK}
                await asyncio.wait([asyncio.ensure_future(sender(name, message)) for name in "ab"])
            else:
                await asyncio.wait([asyncio.ensure_future(receiver(name)) for name in "ab"])
            await send({"type": "websocket.send", "text": "done"})
            await receive()
            return
        await send({"type": "http.response.start", "status": 200, "headers": []})
        message = {"type": "http.response.body", "body": BLOCK, "more_body": True}
        await asyncio.wait([asyncio.ensure_future(sender(name, message)) for name in "ab"])
        await send({"type": "http.response.body", "body": b""})
    return app


def both_waiting(st, seen):
    return st.call(lambda: seen.in_send.get("a") and seen.in_send.get("b"))


def test_websocket_sends_from_two_tasks_to_a_slow_reader_all_finish(serve):
    seen = Seen()
    st = asgi_server(serve, app_for(seen), ws_per_message_deflate=False)
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)  # 16 MiB cannot wait in buffers
    sock.settimeout(10)
    sock.connect(("127.0.0.1", st.port))
    key = base64.b64encode(os.urandom(16))
    sock.sendall(b"GET /send HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
                 b"Sec-WebSocket-Key: " + key + b"\r\nSec-WebSocket-Version: 13\r\n\r\n")
    # the client reads nothing until both tasks wait for the socket to drain
    wait_until(lambda: both_waiting(st, seen), 10, what="both sending tasks waiting for the drain")
    reader = sock.makefile("rb")
    head = b""
    while not head.endswith(b"\r\n\r\n"):
        head += reader.read(1)
    assert head.startswith(b"HTTP/1.1 101 "), head
    for _ in range(2 * PER_TASK):
        assert read_frame(reader) == (0x82, BLOCK)
    assert read_frame(reader) == (0x81, b"done")
    reader.close()
    sock.close()
    assert sorted(st.call(lambda: list(seen.finished))) == ["a", "b"]


def read_frame(reader):
    """(first byte, payload) of a server frame."""
    first, second = reader.read(2)
    length = second & 0x7F
    if length == 126:
        length = struct.unpack("!H", reader.read(2))[0]
    elif length == 127:
        length = struct.unpack("!Q", reader.read(8))[0]
    return first, reader.read(length)


def test_websocket_receives_in_two_tasks_each_get_a_message(serve):
    seen = Seen()
    st = asgi_server(serve, app_for(seen))
    with connect(f"ws://127.0.0.1:{st.port}/receive", proxy=None) as ws:
        wait_until(lambda: both_waiting(st, seen), 10, what="both tasks waiting in receive()")
        ws.send("one")
        ws.send("two")
        assert ws.recv(10) == "done"
    texts = st.call(lambda: sorted(message.get("text") for message in seen.received.values()))
    assert texts == ["one", "two"]


def test_a_body_sent_from_two_tasks_to_a_slow_reader_is_sent_whole(serve):
    seen = Seen()
    st = asgi_server(serve, app_for(seen))
    conn = http.client.HTTPConnection("127.0.0.1", st.port, timeout=10)
    conn.connect()
    conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
    conn.request("GET", "/stream")
    wait_until(lambda: both_waiting(st, seen), 10, what="both sending tasks waiting for the drain")
    response = conn.getresponse()
    assert response.status == 200 and len(response.read()) == 2 * PER_TASK * len(BLOCK)
    conn.close()
    assert sorted(st.call(lambda: list(seen.finished))) == ["a", "b"]
