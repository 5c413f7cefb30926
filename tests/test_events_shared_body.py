"""A body cached in memory and sent to many clients (``res.end(BIG)``, ``res.write(BIG)``)
is not copied per response: slow readers holding it cost the worker a small head each,
as Node's queue of the shared Buffer does, and a full reader still gets every byte.

The daemon serves ``setup`` below (this module, imported by the worker).
"""

import http.client
import socket

import pytest

from daemon import Daemon
from hostile import dechunked, read_to_close, rss

MB = 1024 * 1024
BIG = b"0123456789abcdef" * (MB // 2)  # 8 MiB, one object shared by every response
MID = bytes(range(256)) * 400  # 100 KiB: past the size sent without a copy
SLOW_CLIENTS = 20


def setup(server):
    def on_request(req, res):
        path = req.url
        if path == "/length":  # the common answer's short way
            res.end(BIG)
        elif path == "/header":  # an application header: the head is built, then joined
            res.set_header("X-Cached", "yes")
            res.end(BIG)
        elif path == "/chunked":
            res.write(BIG)
            res.end()
        elif path == "/mixed":  # large and small chunks, a trailer
            res.set_header("Trailer", "X-T")
            res.write(MID)
            res.write(b"abc")
            res.add_trailers({"X-T": "t"})
            res.end(MID)
        else:
            res.end("pong")

    server.on("request", on_request)


@pytest.fixture(scope="module")
def daemon():
    d = Daemon(app="test_events_shared_body:setup", workers=1)
    try:
        d.wait_ready(timeout=30)
        d.worker = d.workers()[0]
        yield d
    finally:
        d.cleanup()


def _read_head(sock):
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(1)
        assert chunk, f"closed before the head's end: {head!r}"
        head += chunk
    return head


def slow_readers(port, path, socks, count=SLOW_CLIENTS):
    """``count`` clients with a small receive buffer ask for ``path`` and read its head
    only (added to ``socks``, for the caller to close)."""
    for _ in range(count):
        sock = socket.socket()
        socks.append(sock)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.settimeout(10)
        sock.connect(("127.0.0.1", port))
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    for sock in socks:
        assert _read_head(sock).startswith(b"HTTP/1.1 200 OK\r\n")


@pytest.mark.parametrize("path", ["/length", "/header", "/chunked"])
def test_slow_readers_of_one_cached_body_do_not_each_hold_a_copy_of_it(daemon, path):
    assert daemon.request("/ping").endswith(b"pong")
    before = rss(daemon.worker)
    socks = []
    try:
        slow_readers(daemon.port, path, socks)
        # every response was ended (its whole body handed to the socket) once the control
        # request behind them all is answered: the worker took them in order
        assert daemon.request("/ping").endswith(b"pong")
        grown = rss(daemon.worker) - before
        # a copy each would be 20 x 8 MiB = 160 MiB
        assert grown < 40 * MB, f"worker RSS grew by {grown / MB:.0f} MiB for {SLOW_CLIENTS} readers of {path}"
    finally:
        for sock in socks:
            sock.close()


def test_a_cached_body_reaches_a_full_reader_whole_in_every_framing(daemon):
    conn = http.client.HTTPConnection("127.0.0.1", daemon.port, timeout=10)
    try:
        for path in ("/length", "/header", "/chunked", "/length"):  # one keep-alive connection
            conn.request("GET", path)
            response = conn.getresponse()
            assert response.status == 200
            assert response.read() == BIG, path
            chunked = response.getheader("Transfer-Encoding") == "chunked"
            assert chunked == (path == "/chunked")
    finally:
        conn.close()


def test_pipelined_cached_bodies_come_whole_and_in_order(daemon):
    sock = socket.create_connection(("127.0.0.1", daemon.port), timeout=10)
    try:
        sock.sendall(b"GET /mixed HTTP/1.1\r\nHost: x\r\n\r\n"
                     b"GET /length HTTP/1.1\r\nHost: x\r\n\r\n"
                     b"GET /mixed HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = read_to_close(sock, timeout=20)
    finally:
        sock.close()
    mixed_body = MID + b"abc" + MID
    first, rest = data.split(b"\r\n\r\n", 1)
    assert b"Transfer-Encoding: chunked" in first
    assert dechunked(rest).startswith(mixed_body)
    end_of_first = rest.index(b"0\r\nX-T: t\r\n\r\n") + len(b"0\r\nX-T: t\r\n\r\n")
    second, rest = rest[end_of_first:].split(b"\r\n\r\n", 1)
    assert b"Content-Length: %d" % len(BIG) in second
    assert rest[:len(BIG)] == BIG
    third, body = rest[len(BIG):].split(b"\r\n\r\n", 1)
    assert third.startswith(b"HTTP/1.1 200 OK\r\n")
    assert dechunked(body) == mixed_body and body.endswith(b"0\r\nX-T: t\r\n\r\n")


def test_a_large_chunk_is_framed_with_its_size(daemon):
    sock = socket.create_connection(("127.0.0.1", daemon.port), timeout=10)
    try:
        sock.sendall(b"GET /chunked HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = read_to_close(sock, timeout=20)
    finally:
        sock.close()
    body = data.split(b"\r\n\r\n", 1)[1]
    assert body == b"%x\r\n%b\r\n0\r\n\r\n" % (len(BIG), BIG)
