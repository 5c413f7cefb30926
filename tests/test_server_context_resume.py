"""A request's context is a copy of its connection's, never of the task of an earlier
request that resumed the socket: an events app's coroutine listener that reads its body
after the socket was paused (its task re-adds the socket's reader) hands none of its
ContextVar values to the next request on the connection."""

import socket

import pytest

from daemon import Daemon
from test_asgi_context_leak import UPLOAD, Reader


@pytest.fixture
def daemon():
    d = Daemon(app="apps.context_resume:setup", workers=1)
    try:
        d.wait_ready()
        yield d
    finally:
        d.cleanup()


def test_the_request_after_one_whose_task_resumed_the_socket_sees_no_value_of_it(daemon):
    sock = socket.create_connection(("127.0.0.1", daemon.port), timeout=10)
    try:
        reader = Reader(sock)
        sock.sendall(b"POST /slow-upload HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % UPLOAD
                     + b"u" * UPLOAD)
        assert reader.response() == (b"HTTP/1.1 200 OK", b"None")
        sock.sendall(b"GET /next HTTP/1.1\r\nHost: x\r\n\r\n")
        assert reader.response() == (b"HTTP/1.1 200 OK", b"None")
    finally:
        sock.close()


def test_an_upgrade_after_such_a_request_sees_no_value_of_it(daemon):
    sock = socket.create_connection(("127.0.0.1", daemon.port), timeout=10)
    try:
        reader = Reader(sock)
        sock.sendall(b"POST /slow-upload HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % UPLOAD
                     + b"u" * UPLOAD)
        assert reader.response() == (b"HTTP/1.1 200 OK", b"None")
        sock.sendall(b"GET /up HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: example\r\n\r\n")
        assert reader.response() == (b"HTTP/1.1 200 OK", b"None")
    finally:
        sock.close()
