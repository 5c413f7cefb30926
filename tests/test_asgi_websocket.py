"""ASGI WebSockets on a real Server on loopback, driven by the `websockets` client library
(and raw frames where the client library would answer for us)."""

import asyncio
import base64
import json
import os
import socket
import struct

import pytest

from apps import asgi_apps
from daemon import wait_until
from prefork.asgi import ASGIAdapter

websockets = pytest.importorskip("websockets")
from websockets.exceptions import ConnectionClosed, InvalidStatus  # noqa: E402
from websockets.sync.client import connect  # noqa: E402


def ws_server(serve, app=asgi_apps.app, **options):
    options.setdefault("lifespan", "off")

    def setup(server, st):
        st.adapter = ASGIAdapter(app, **options).setup(server)
    return serve(setup)


def url(st, path):
    return f"ws://127.0.0.1:{st.port}{path}"


def test_text_and_binary_messages_echo(serve):
    st = ws_server(serve)
    with connect(url(st, "/ws"), proxy=None) as ws:
        ws.send("hello")
        assert ws.recv(10) == "hello"
        ws.send(b"\x00\x01\xff")
        assert ws.recv(10) == b"\x00\x01\xff"
        ws.send(["frag", "mented"])  # one message in two frames
        assert ws.recv(10) == "fragmented"
        big = os.urandom(300 * 1024)
        ws.send(big)
        assert ws.recv(10) == big


def test_scope_subprotocol_and_accept_headers(serve):
    st = ws_server(serve)
    with connect(url(st, "/ws/scope?room=1"), subprotocols=["chat", "other"], proxy=None) as ws:
        assert ws.subprotocol == "chat"
        assert ws.response.headers["x-accepted"] == "1"
        scope = json.loads(ws.recv(10))
    assert scope == {"path": "/ws/scope", "query_string": "room=1", "scheme": "ws", "subprotocols": ["chat", "other"],
                     "spec_version": "2.4", "state_greeting": None, "extensions": ["websocket.http.response"]}


def test_close_codes_both_ways(serve, tmp_path, monkeypatch):
    mark = tmp_path / "code"
    monkeypatch.setenv("ASGI_WS_MARK", str(mark))
    st = ws_server(serve)
    with connect(url(st, "/ws"), proxy=None) as ws:
        ws.send("close:4001")  # the app closes
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(10)
    assert closed.value.rcvd.code == 4001 and closed.value.rcvd.reason == "asked to"
    with connect(url(st, "/ws"), proxy=None) as ws:
        ws.close(code=4000, reason="bye")  # the client closes: the app hears the code
    wait_until(lambda: mark.exists() and mark.read_text() == "4000", 10, what="the disconnect code")


def test_a_dropped_connection_is_a_1006_disconnect(serve, tmp_path, monkeypatch):
    mark = tmp_path / "code"
    monkeypatch.setenv("ASGI_WS_MARK", str(mark))
    st = ws_server(serve)
    sock = handshake(st.port, "/ws")
    sock.close()
    wait_until(lambda: mark.exists() and mark.read_text() == "1006", 10, what="the 1006 disconnect")


def test_permessage_deflate_is_negotiated_when_on(serve):
    on = ws_server(serve)
    off = ws_server(serve, ws_per_message_deflate=False)
    text = "compressible " * 1000
    with connect(url(on, "/ws"), proxy=None, max_size=None) as ws:
        assert "permessage-deflate" in ws.response.headers.get("sec-websocket-extensions", "")
        ws.send(text)
        assert ws.recv(10) == text
        large = base64.b64encode(os.urandom(600 * 1024)).decode()  # compressed frames spanning many reads
        ws.send(large)
        assert ws.recv(10) == large
    with connect(url(off, "/ws"), proxy=None) as ws:
        assert "sec-websocket-extensions" not in ws.response.headers
        ws.send(text)
        assert ws.recv(10) == text


def test_denial_response_reject_and_failures_before_accept(serve):
    st = ws_server(serve)
    with pytest.raises(InvalidStatus) as denied:
        connect(url(st, "/ws/deny"), proxy=None)
    response = denied.value.response
    assert response.status_code == 403 and response.body == b"go away" and response.headers["x-denied"] == "yes"
    with pytest.raises(InvalidStatus) as rejected:
        connect(url(st, "/ws/reject"), proxy=None)
    assert rejected.value.response.status_code == 403
    with pytest.raises(InvalidStatus) as failed:
        connect(url(st, "/ws/raise"), proxy=None)
    assert failed.value.response.status_code == 500


def raw_handshake(st, path):
    """Everything the server sends for an upgrade request of ``path``, to its close."""
    with socket.create_connection(("127.0.0.1", st.port), timeout=5) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n".encode())
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    return data


@pytest.mark.parametrize("path, status, framing, body", [
    ("/ws/deny", b"403 Forbidden", b"Transfer-Encoding: chunked", b"7\r\ngo away\r\n0\r\n\r\n"),
    ("/ws/reject", b"403 Forbidden", b"Content-Length: 0", b""),
    ("/ws/raise", b"500 Internal Server Error", b"Content-Length: 21", b"Internal Server Error"),
])
def test_a_response_in_place_of_the_handshake_is_a_whole_http_response(serve, path, status, framing, body):
    """As any response of the server: the reason phrase, a Date, ``Connection: close``
    (the connection ends after it), a body framed by its length or chunked."""
    st = ws_server(serve)
    head, _, rest = raw_handshake(st, path).partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    assert lines[0] == b"HTTP/1.1 " + status
    assert framing in lines and b"Connection: close" in lines
    assert sum(line.startswith(b"Date: ") and line.endswith(b" GMT") for line in lines) == 1
    assert rest == body


def test_an_app_raising_after_accept_closes_with_1011(serve):
    st = ws_server(serve)
    with connect(url(st, "/ws"), proxy=None) as ws:
        ws.send("raise")
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(10)
    assert closed.value.rcvd.code == 1011


@pytest.mark.parametrize("size", [1023, 1024, 1025])
def test_messages_over_the_size_limit_close_with_1009(serve, size):
    st = ws_server(serve, ws_max_size=1024)
    with connect(url(st, "/ws"), proxy=None, compression=None) as ws:
        ws.send(b"x" * size)
        if size <= 1024:
            assert ws.recv(10) == b"x" * size
            return
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(10)
    assert closed.value.rcvd.code == 1009


def test_fragments_adding_up_over_the_limit_close_with_1009(serve):
    st = ws_server(serve, ws_max_size=1024)
    with connect(url(st, "/ws"), proxy=None, compression=None) as ws:
        with pytest.raises(ConnectionClosed) as closed:  # the close may come before send() returns
            ws.send([b"x" * 600, b"y" * 600])
            ws.recv(10)
    assert closed.value.rcvd.code == 1009


def test_client_pings_are_answered(serve):
    st = ws_server(serve)
    with connect(url(st, "/ws"), proxy=None) as ws:
        pong = ws.ping(b"are you there")
        assert pong.wait(10)


def test_a_client_that_does_not_answer_pings_is_closed_with_1011(serve):
    st = ws_server(serve, ws_ping_interval=0.05, ws_ping_timeout=0.2)
    sock = handshake(st.port, "/ws")
    opcode, payload = read_frame(sock)
    assert opcode == 0x9  # the server's ping, not answered
    opcode, payload = read_frame(sock)
    assert opcode == 0x8 and struct.unpack("!H", payload[:2])[0] == 1011
    sock.close()


def test_a_client_answering_pings_keeps_being_pinged(serve):
    st = ws_server(serve, ws_ping_interval=0.05, ws_ping_timeout=5)
    sock = handshake(st.port, "/ws")
    for _ in range(3):  # each pong lets the next ping come, and the connection stays open
        opcode, payload = read_frame(sock)
        assert opcode == 0x9
        sock.sendall(masked(0x8A, payload))
    sock.sendall(masked(0x81, b"still here"))
    while True:
        opcode, payload = read_frame(sock)
        if opcode != 0x9:
            break
        sock.sendall(masked(0x8A, payload))
    assert (opcode, payload) == (0x1, b"still here")
    sock.close()


def test_shutdown_closes_open_websockets_with_1012(serve):
    st = ws_server(serve)
    with connect(url(st, "/ws"), proxy=None) as ws:
        ws.send("ready?")
        assert ws.recv(10) == "ready?"
        st.call(st.adapter.drain)
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(10)
    assert closed.value.rcvd.code == 1012


def test_a_bad_handshake_gets_a_400(serve):
    st = ws_server(serve)
    sock = socket.create_connection(("127.0.0.1", st.port), timeout=10)
    sock.sendall(b"GET /ws HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n")  # no key
    data = b""
    while True:
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    sock.close()
    assert data.startswith(b"HTTP/1.1 400")


def test_invalid_utf8_and_unmasked_frames_close_with_protocol_codes(serve):
    st = ws_server(serve)
    for frame, code in ((masked(0x81, b"\xff\xfe"), 1007), (bytes((0x81, 2)) + b"hi", 1002)):
        sock = handshake(st.port, "/ws")
        sock.sendall(frame)
        opcode, payload = read_frame(sock)
        assert opcode == 0x8 and struct.unpack("!H", payload[:2])[0] == code
        sock.close()


def test_frames_split_anywhere_and_batched_arrive_whole(serve):
    st = ws_server(serve)
    sock = handshake(st.port, "/ws")
    stream = b"".join(masked(0x81, f"message {i}".encode()) for i in range(20)) + masked(0x82, b"b" * 70000)
    for i in range(0, len(stream), 7):  # 7-byte pieces: headers and masks cut everywhere
        sock.sendall(stream[i:i + 7])
    for i in range(20):
        assert read_frame(sock) == (0x1, f"message {i}".encode())
    assert read_frame(sock) == (0x2, b"b" * 70000)
    sock.close()


# -- raw frames ------------------------------------------------------------------------------
def handshake(port, path):
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
                 f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(1)
        assert chunk, head
        head += chunk
    assert head.startswith(b"HTTP/1.1 101"), head
    return sock


def masked(first, payload):
    key = os.urandom(4)
    length = len(payload)
    if length < 126:
        head = bytes((first, 0x80 | length))
    elif length < 65536:
        head = bytes((first, 0x80 | 126)) + struct.pack("!H", length)
    else:
        head = bytes((first, 0x80 | 127)) + struct.pack("!Q", length)
    return head + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


def recv_exactly(sock, n):
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        assert chunk, data
        data += chunk
    return data


def read_frame(sock):
    first, second = recv_exactly(sock, 2)
    length = second & 0x7F
    if length == 126:
        length = struct.unpack("!H", recv_exactly(sock, 2))[0]
    elif length == 127:
        length = struct.unpack("!Q", recv_exactly(sock, 8))[0]
    return first & 0x0F, recv_exactly(sock, length)


def test_lifespan_state_reaches_websocket_scopes(serve):
    def setup(server, st):
        st.adapter = ASGIAdapter(asgi_apps.app).setup(server)
        server.loop.run_until_complete(st.adapter.startup())
    st = serve(setup)
    try:
        with connect(url(st, "/ws/scope"), proxy=None) as ws:
            assert json.loads(ws.recv(10))["state_greeting"] == "hello from lifespan"
    finally:
        asyncio.run_coroutine_threadsafe(st.adapter.shutdown(), st.loop).result(10)
