"""A CONNECT or upgrade pipelined behind a request still being answered (a real server on
this thread's loop, a raw client socket on another): the earlier answer goes out first,
whole, and only then is the socket handed over; nothing is read meanwhile; an answer that
closes the connection, or a client that leaves, means no hand-over at all.

Node emits ``upgrade`` at once and writes the late answer into the tunnel, after the
101: the client sees the two out of order. Here the wire keeps HTTP's order."""

import socket
import threading

import pytest

import prefork
from harness import run_with_client
from prefork.runtime import new_event_loop

SWITCH = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\n"


def read_exactly_until(sock, marker):
    data = b""
    while marker not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


@pytest.mark.parametrize("method", ["GET /ws", "CONNECT example.com:443"])
def test_the_answer_before_an_upgrade_goes_out_first(method):
    loop = new_event_loop()
    events = []

    def on_request(req, res):
        events.append("request " + req.url)
        loop.call_later(0.1, lambda: (events.append("end " + req.url), res.end("first")))

    def on_upgrade(req, sock, head):
        events.append(f"{'connect' if req.method == 'CONNECT' else 'upgrade'} head={head!r}")
        sock.write(SWITCH + b"echo:" + bytes(head))
        sock.on("data", lambda data: sock.write(b"echo:" + bytes(data)))

    server = prefork.create_server(on_request, loop=loop)
    server.on("upgrade", on_upgrade)
    server.on("connect", on_upgrade)
    server.listen(0)
    port = server.address()["port"]
    seen = []

    def client():
        with socket.create_connection(("127.0.0.1", port), timeout=5) as c:
            upgrade = (f"{method} HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n"
                       if method.startswith("GET") else f"{method} HTTP/1.1\r\nHost: example.com:443\r\n\r\n")
            c.sendall(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n" + upgrade.encode() + b"early")
            data = read_exactly_until(c, b"echo:early")
            c.sendall(b"later")
            data += read_exactly_until(c, b"echo:later")
            seen.append(data)
        loop.call_soon_threadsafe(loop.stop)
    run_with_client(loop, client, server)

    [data] = seen
    first, rest = data.split(b"\r\n\r\n", 1)
    assert first.startswith(b"HTTP/1.1 200 OK\r\n")  # the slow answer first, whole
    assert rest.startswith(b"first" + SWITCH)  # then the tunnel's own bytes
    assert rest.endswith(b"echo:earlyecho:later")
    name = "connect" if method.startswith("CONNECT") else "upgrade"
    # the listener got the bytes after the head, once the answer before it was out
    assert events == ["request /slow", "end /slow", f"{name} head=b'early'"]


def test_an_answer_that_closes_the_connection_means_no_hand_over():
    loop = new_event_loop()
    events = []

    def on_request(req, res):
        res.set_header("Connection", "close")
        loop.call_later(0.05, res.end, "last")

    server = prefork.create_server(on_request, loop=loop)
    server.on("upgrade", lambda req, sock, head: events.append("upgrade"))
    server.listen(0)
    port = server.address()["port"]
    seen = []

    def client():
        with socket.create_connection(("127.0.0.1", port), timeout=5) as c:
            c.sendall(b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n"
                      b"GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
            data = b""
            while chunk := c.recv(65536):
                data += chunk
            seen.append(data)
        loop.call_soon_threadsafe(loop.call_later, 0.05, loop.stop)
    run_with_client(loop, client, server)

    [data] = seen
    assert data.startswith(b"HTTP/1.1 200 OK\r\n") and data.endswith(b"\r\n\r\nlast")
    assert events == []


def test_a_client_that_leaves_while_the_upgrade_waits_is_never_handed_over():
    loop = new_event_loop()
    events = []
    left = threading.Event()
    requested = threading.Event()

    def on_request(req, res):
        requested.set()
        res.on("close", lambda: events.append("response close"))
        # answered once the client has gone (nothing is read meanwhile: the write finds it)
        loop.run_in_executor(None, left.wait, 5).add_done_callback(lambda _: res.end("late"))

    server = prefork.create_server(on_request, loop=loop)
    server.on("upgrade", lambda req, sock, head: events.append("upgrade"))
    server.on("connection", lambda sock: sock.on("close", lambda *_: (
        events.append("socket close"), loop.call_later(0.05, loop.stop))))
    server.listen(0)
    port = server.address()["port"]

    def client():
        with socket.create_connection(("127.0.0.1", port), timeout=5) as c:
            c.sendall(b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n"
                      b"GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
            assert requested.wait(5)
            c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")  # RST
        left.set()
    run_with_client(loop, client, server)

    assert "upgrade" not in events
    assert "socket close" in events and "response close" in events
