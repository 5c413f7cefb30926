"""Each ASGI request and WebSocket starts from a clean context: ContextVar values one
request's app set (a user, a tenant, a request id) are not the next request's on the
same keep-alive connection, even when that app's receive() resumed the paused socket."""

import socket

import pytest

from daemon import Daemon

APP = "apps.asgi_context:app"
UPLOAD = 1 << 20


@pytest.fixture
def daemon():
    d = Daemon("--interface", "asgi", app=APP, workers=1)
    try:
        d.wait_ready()
        yield d
    finally:
        d.cleanup()


class Reader:
    def __init__(self, sock):
        self.sock = sock
        self.buf = b""

    def fill(self):
        chunk = self.sock.recv(65536)
        assert chunk, "the server closed the connection"
        self.buf += chunk

    def head(self):
        while b"\r\n\r\n" not in self.buf:
            self.fill()
        head, _, self.buf = self.buf.partition(b"\r\n\r\n")
        return head

    def response(self):
        head = self.head()
        length = int(next(line.split(b":", 1)[1] for line in head.split(b"\r\n")
                          if line.lower().startswith(b"content-length:")))
        while len(self.buf) < length:
            self.fill()
        body, self.buf = self.buf[:length], self.buf[length:]
        return head.split(b"\r\n")[0], body


def slow_upload_then(port, follow):
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    reader = Reader(sock)
    sock.sendall(b"POST /slow-upload HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % UPLOAD
                 + b"u" * UPLOAD)
    assert reader.response() == (b"HTTP/1.1 200 OK", b"None")
    sock.sendall(follow)
    return sock, reader


def test_a_request_after_one_whose_receive_resumed_the_socket_sees_no_value_of_it(daemon):
    sock, reader = slow_upload_then(daemon.port, b"GET /next HTTP/1.1\r\nHost: x\r\n\r\n")
    try:
        assert reader.response() == (b"HTTP/1.1 200 OK", b"None")
    finally:
        sock.close()


def test_a_websocket_after_such_a_request_sees_no_value_of_it(daemon):
    sock, reader = slow_upload_then(daemon.port, b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
                                    b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                                    b"Sec-WebSocket-Version: 13\r\n\r\n")
    try:
        assert reader.head().startswith(b"HTTP/1.1 101 ")
        while len(reader.buf) < 2 or len(reader.buf) < 2 + reader.buf[1]:
            reader.fill()
        assert reader.buf[0] == 0x82 and reader.buf[2:2 + reader.buf[1]] == b"None"
    finally:
        sock.close()
