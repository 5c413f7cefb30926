"""A CONNECT request to an ASGI app, on prefork (a Server in the test process) and on
uvicorn: both answer 400 with a text body and close; the app is never called with it
(ASGI has no tunnel to give it)."""

import socket

import pytest

import test_asgi_apps as apps
from harness import read_until_close
from test_asgi import asgi_server

pytest.importorskip("uvicorn")


@pytest.fixture(scope="module")
def uvicorn_port():
    with apps.uvicorn_serving() as port:
        yield port


def exchange(port, data):
    with socket.create_connection(("127.0.0.1", port), timeout=3) as sock:
        sock.sendall(data)
        return read_until_close(sock)  # a timeout (no answer, not closed) fails the test


def parsed(data):
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    fields = dict(line.lower().split(b": ", 1) for line in lines[1:])
    return lines[0], fields, body


@pytest.mark.parametrize("request_bytes", [
    b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n",
    # a client that goes on with its tunnel's first bytes at once (a TLS ClientHello)
    b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
], ids=["bare", "tunnel-bytes-behind"])
def test_connect_is_answered_400_with_a_text_body_and_closed_as_uvicorn_answers_it(serve, uvicorn_port,
                                                                                   request_bytes):
    del apps.CALLS[:]
    st = asgi_server(serve, apps.app)
    for name, port in (("uvicorn", uvicorn_port), ("prefork", st.port)):
        data = exchange(port, request_bytes)
        status, fields, body = parsed(data)
        assert status == b"HTTP/1.1 400 Bad Request", (name, data)
        assert fields.get(b"content-type") == b"text/plain; charset=utf-8", (name, data)
        assert fields.get(b"connection") == b"close", (name, data)
        assert int(fields[b"content-length"]) == len(body) > 0, (name, data)
    assert not [call for call in apps.CALLS if call[1] == "CONNECT"], apps.CALLS
    # the same server goes on serving
    status, _, body = parsed(exchange(st.port, b"GET /after HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"))
    assert (status, body) == (b"HTTP/1.1 200 OK", b"GET /after")
