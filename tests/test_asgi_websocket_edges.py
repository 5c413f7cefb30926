"""WebSocket answers compared with uvicorn's, on prefork (a Server in the test process)
and on uvicorn (its default WebSocket implementation), read with raw sockets."""

import base64
import os
import socket

import pytest

import test_asgi_apps as apps
from daemon import wait_until
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


def raw_handshake(port, host=b"h", connection=b"Upgrade", extra=b""):
    sock = socket.create_connection(("127.0.0.1", port), timeout=3)
    sock.sendall(b"GET /echo HTTP/1.1\r\nHost: " + host + b"\r\nConnection: " + connection + b"\r\n"
                 b"Upgrade: websocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                 b"Sec-WebSocket-Version: 13\r\n" + extra + b"\r\n")
    return sock


def head_of(sock):
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


@pytest.mark.parametrize("host", [b"xn--zz", b"caf\xe9"], ids=["not-punycode", "latin-1"])
def test_a_handshake_whose_host_is_no_idna_name_is_accepted_as_its_http_request_would_be(serve, uvicorn_port,
                                                                                        host, caplog):
    # wsproto reads the Host as IDNA and raised UnicodeError out of the upgrade listener:
    # the connection closed unanswered and a traceback was logged for each such request
    st = asgi_server(serve, apps.app)
    for name, port in (("uvicorn", uvicorn_port), ("prefork", st.port)):
        with raw_handshake(port, host=host) as sock:
            head = head_of(sock)
            assert head.startswith(b"HTTP/1.1 101 "), (name, head)
            sock.sendall(b"\x81\x82abcd" + bytes((ord("h") ^ ord("a"), ord("i") ^ ord("b"))))
            assert sock.recv(4096) == b"\x81\x02hi", name
    assert not [r for r in caplog.records if r.levelname == "ERROR"], caplog.text


@pytest.mark.parametrize("connection, extra", [
    (b"Upgrade, \xe9", b""),
    (b"Upgrade", b"Sec-WebSocket-Protocol: chat\xe9\r\n"),
    (b"Upgrade", b"Sec-WebSocket-Extensions: permessage-deflate; x=\xe9\r\n"),
], ids=["connection", "protocol", "extensions"])
def test_a_handshake_with_a_token_list_that_is_not_ascii_is_refused_400_as_uvicorn_refuses_it(
        serve, uvicorn_port, connection, extra, caplog):
    st = asgi_server(serve, apps.app)
    for name, port in (("uvicorn", uvicorn_port), ("prefork", st.port)):
        with raw_handshake(port, connection=connection, extra=extra) as sock:
            data = read_until_close(sock)
        status, fields, body = parsed(data)
        assert status == b"HTTP/1.1 400 Bad Request", (name, data)
        assert fields.get(b"content-type") == b"text/plain; charset=utf-8", (name, data)
        assert int(fields[b"content-length"]) == len(body) > 0, (name, data)
    assert not [r for r in caplog.records if r.levelname == "ERROR"], caplog.text


def test_a_close_reason_longer_than_a_close_frame_carries_is_cut_at_a_character(serve):
    # uvicorn's default implementation raises in the app and drops the connection without
    # a close frame (the client sees 1006); its wsproto one cuts the reason, as here: the
    # client gets the app's code and as much of the reason as fits (123 bytes), whole
    # characters only (a cut UTF-8 sequence would be a protocol error for the client)
    del apps.CALLS[:]
    st = asgi_server(serve, apps.app)
    with handshake(st.port, b"/long-reason") as sock:
        data = read_until_close(sock)
    head, _, frames = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 101 "), data
    assert frames[0] == 0x88 and frames[1] == len(frames) - 2 <= 125, frames
    assert int.from_bytes(frames[2:4], "big") == 4001, frames
    reason = frames[4:].decode("utf-8")  # whole characters
    assert reason == "\u00e9" * 61, reason  # 122 bytes: the 62nd character would not fit in 123
    assert not [call for call in apps.CALLS if call[0] == "raised"], apps.CALLS


def test_a_handshake_of_another_version_is_told_which_version_is_spoken(serve):
    # RFC 6455 4.2.2: 426 naming the version understood; the body said the header was missing
    st = asgi_server(serve, apps.app)
    with socket.create_connection(("127.0.0.1", st.port), timeout=3) as sock:
        sock.sendall(b"GET /echo HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
                     b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n")
        data = read_until_close(sock)
    status, fields, body = parsed(data)
    assert status == b"HTTP/1.1 426 Upgrade Required", data
    assert fields.get(b"sec-websocket-version") == b"13", data
    assert b"version" in body.lower() and b"missing" not in body.lower(), data


def test_a_handshake_naming_websocket_among_other_protocols_is_accepted(serve):
    # the adapter takes it for a WebSocket (websocket is in its Upgrade list, RFC 6455
    # 4.2.1 "containing"), so the handshake is answered as one: it got a 400 saying
    # "Missing header, 'Upgrade: websocket'" (uvicorn serves it as plain HTTP instead)
    st = asgi_server(serve, apps.app)
    with socket.create_connection(("127.0.0.1", st.port), timeout=3) as sock:
        sock.sendall(b"GET /echo HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: h2c, WebSocket\r\n"
                     b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
        head = head_of(sock)
        assert head.startswith(b"HTTP/1.1 101 "), head
        sock.sendall(b"\x81\x82abcd" + bytes((ord("h") ^ ord("a"), ord("i") ^ ord("b"))))
        assert sock.recv(4096) == b"\x81\x02hi"


def test_a_long_denial_body_to_a_client_that_does_not_read_waits_for_the_socket(serve):
    # the denial's body pieces went into the socket's buffer however full it was: a
    # client that did not read held the whole body (16 MiB here) in the worker
    del apps.CALLS[:]
    st = asgi_server(serve, apps.app)
    sock = handshake(st.port, b"/deny-stream")
    with sock:
        sessions = lambda: list(st.adapter.websockets)  # noqa: E731

        def state():
            done = ("denial sent",) in apps.CALLS
            waiting = [s for s in sessions() if s.drainers]
            return (done, [s.socket.buffered_size for s in waiting]) if done or waiting else None
        done, buffered = wait_until(lambda: st.call(state), 5, what="the app done or waiting for the socket")
        assert not done, "the whole body was buffered for a client that reads nothing"
        assert buffered and buffered[0] < 2 * 1024 * 1024, buffered
        body = read_until_close(sock).partition(b"\r\n\r\n")[2]
    assert dechunked(body) == b"d" * (64 * 262144)
    assert ("denial sent",) in apps.CALLS


def dechunked(data):
    body = bytearray()
    while data:
        size, _, data = data.partition(b"\r\n")
        n = int(size, 16)
        if not n:
            break
        body += data[:n]
        data = data[n + 2:]
    return bytes(body)
