"""WebSocket answers compared with uvicorn's, on prefork (a Server in the test process)
and on uvicorn (its default WebSocket implementation), read with raw sockets."""

import base64
import os
import socket

import pytest

import test_review_asgi2_apps as apps
from harness import read_until_close
from test_asgi import asgi_server

pytest.importorskip("uvicorn")
pytest.importorskip("websockets")


@pytest.fixture(scope="module")
def uvicorn_port():
    with apps.uvicorn_serving() as port:
        yield port


def handshake(port, path):
    sock = socket.create_connection(("127.0.0.1", port), timeout=3)
    key = base64.b64encode(os.urandom(16))
    sock.sendall(b"GET " + path + b" HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
                 b"Sec-WebSocket-Key: " + key + b"\r\nSec-WebSocket-Version: 13\r\n\r\n")
    return sock


def parsed(data):
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    fields = dict(line.lower().split(b": ", 1) for line in lines[1:])
    return lines[0], fields, body


def test_a_websocket_refused_before_its_accept_gets_a_403_with_a_content_type(serve, uvicorn_port):
    st = asgi_server(serve, apps.app)
    for name, port in (("uvicorn", uvicorn_port), ("prefork", st.port)):
        with handshake(port, b"/deny") as sock:
            data = read_until_close(sock)
        status, fields, body = parsed(data)
        assert status == b"HTTP/1.1 403 Forbidden", (name, data)
        assert fields.get(b"content-type") == b"text/plain; charset=utf-8", (name, data)
        assert fields.get(b"content-length") == b"0" and body == b"", (name, data)
        assert fields.get(b"connection") == b"close" and b"date" in fields, (name, data)
