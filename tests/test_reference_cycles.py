"""A connection that is over leaves nothing for the cycle collector.

A worker's objects are freed by reference counting as soon as the last reference goes;
what sits in a reference cycle waits for the cycle collector, whose full collections
come rarely on a server (they are triggered by how many container objects survive,
which a long-lived connection's state does). State left in cycles by each closed
connection made a worker's memory creep for millions of requests. Here each interface
serves real connections on loopback, ended every way a connection ends, and the
cycle collector (with DEBUG_SAVEALL) must then find no prefork object unreachable.
"""

import socket
import time

import pytest

from harness import left_in_cycles
from prefork.asgi.adapter import ASGIAdapter
from prefork.wsgi import WSGIAdapter

BODY = b"Hello, World!"


def hello_events(server, st):
    # (a plain 'end' listener that answers, ``req.on("end", lambda: res.end())``, makes a
    # cycle of the application's own: request -> listener -> response -> request)
    async def on_request(req, res):
        if req.url == "/destroy":
            res.destroy()
            return
        await req.body()
        res.end(BODY)
    server.on("request", on_request)
    server.on("upgrade", lambda req, sock, head: sock.end(b"HTTP/1.1 101 Switching Protocols\r\n\r\n"))


def hello_wsgi(threads):
    def app(environ, start_response):
        environ["wsgi.input"].read()
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [BODY]

    def setup(server, st):
        st.adapter = WSGIAdapter(app, threads=threads)
        st.adapter.setup(server)
    return setup


def hello_asgi(server, st):
    async def app(scope, receive, send):
        if scope["type"] != "http":
            return
        while (await receive()).get("more_body"):
            pass
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": BODY})
    ASGIAdapter(app, lifespan="off").setup(server)


def read_response(sock):
    data = b""
    while not data.endswith(BODY):
        chunk = sock.recv(65536)
        assert chunk, data
        data += chunk
    return data


def traffic(port, upgrade):
    """Connections ended by the client (between requests, mid-head, mid-body, by a
    reset), by the server (Connection: close, a 400, a destroy, the keep-alive timer),
    and handed over by an upgrade."""
    post = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
    get = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
    ends = ["client", "mid-head", "mid-body", "reset", "close", "bad", "idle"]
    if upgrade:
        ends += ["destroy", "upgrade"]
    for end in ends:
        sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        for request in (post, get, post):
            sock.sendall(request)
            read_response(sock)
        if end == "mid-head":
            sock.sendall(b"GET / HT")
        elif end == "mid-body":
            sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc")
        elif end == "reset":
            sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc")
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        elif end in ("close", "bad", "destroy", "upgrade", "idle"):
            sock.sendall({"close": b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                          "bad": b"GET / HTTP/1.1\r\nHost x\r\n\r\n",
                          "destroy": b"GET /destroy HTTP/1.1\r\nHost: x\r\n\r\n",
                          "upgrade": b"GET / HTTP/1.1\r\nHost: x\r\nConnection: upgrade\r\nUpgrade: x\r\n\r\n",
                          "idle": b""}[end])
            while sock.recv(65536):  # the server closes
                pass
        sock.close()


def settle(st, pending):
    """Until ``pending()`` (run on the server's loop) is 0, then what closing scheduled
    on the loop has run."""
    deadline = time.monotonic() + 10
    while st.call(pending) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert st.call(pending) == 0
    for _ in range(3):
        st.call(lambda: None)


@pytest.mark.parametrize("interface", ["events", "wsgi", "wsgi-threads", "asgi"])
def test_closed_connections_are_freed_without_the_cycle_collector(serve, interface):
    setup = {"events": hello_events, "wsgi": hello_wsgi(1), "wsgi-threads": hello_wsgi(4),
             "asgi": hello_asgi}[interface]
    st = serve(setup, keep_alive_timeout=0.2)
    try:
        def run():
            traffic(st.port, upgrade=interface == "events")
            settle(st, lambda: st.server.connections)
        left = left_in_cycles(run)
    finally:
        if interface == "wsgi-threads":
            st.adapter.close()
            for thread in st.adapter.pool.threads:  # gone before a later case counts its garbage
                thread.join(10)
    assert not left, f"objects left in reference cycles: {dict(left)}"


def test_finished_client_requests_are_freed_without_the_cycle_collector(serve):
    """The client's request, protocol, parser and response of an exchange that is over
    (answered, or failed to connect), awaited from a coroutine."""
    import asyncio

    from prefork import request
    from prefork.client.agent import Agent
    from prefork.http.errors import HTTPError

    st = serve(lambda server, st: server.on("request", lambda req, res: res.end(BODY)))
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))  # bound, never listening: connecting is refused
    refused_port = closed.getsockname()[1]
    agent = Agent(keep_alive=False)

    async def refused():
        req = request({"host": "127.0.0.1", "port": refused_port, "path": "/", "agent": agent})
        req.end()
        try:
            await req
        except HTTPError as err:  # (the name goes at the end of the block: no cycle of the test's own)
            return err.code
        return None

    async def exchanges():
        for _ in range(5):
            req = request({"host": "127.0.0.1", "port": st.port, "path": "/", "agent": agent})
            req.end()
            res = await req
            assert await res.read() == BODY
        assert await refused() == "ECONNREFUSED"
        for _ in range(3):
            await asyncio.sleep(0)  # what the closes scheduled has run

    loop = asyncio.new_event_loop()
    try:
        left = left_in_cycles(lambda: loop.run_until_complete(exchanges()))
    finally:
        loop.close()
        closed.close()
    assert not left, f"objects left in reference cycles: {dict(left)}"


def test_ended_websocket_sessions_are_freed_without_the_cycle_collector(serve):
    """A WebSocket session (ASGI) ended by the client's close, after messages both ways."""
    websockets = pytest.importorskip("websockets.sync.client")

    async def app(scope, receive, send):
        if scope["type"] != "websocket":
            return
        await receive()  # websocket.connect
        await send({"type": "websocket.accept"})
        while True:
            message = await receive()
            if message["type"] == "websocket.disconnect":
                return
            await send({"type": "websocket.send", "text": message.get("text") or ""})

    def setup(server, st):
        st.adapter = ASGIAdapter(app, lifespan="off").setup(server)
    st = serve(setup)

    def run():
        for _ in range(5):
            with websockets.connect(f"ws://127.0.0.1:{st.port}/ws", proxy=None) as ws:
                ws.send("hello")
                assert ws.recv(10) == "hello"
        # every session's socket closed and every app task done
        settle(st, lambda: len(st.adapter.websockets) + len(st.adapter.tasks))
    left = left_in_cycles(run)
    assert not left, f"objects left in reference cycles: {dict(left)}"


@pytest.mark.parametrize("request_bytes", [
    b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",  # its framing not fixed: the connection holds it
    b"POST / HTTP/1.1\r\nHost: x\r\nConnection: upgrade\r\nUpgrade: x\r\nContent-Length: 100\r\n\r\nabc",
], ids=["http10-keep-alive-unanswered", "unlistened-upgrade-mid-body"])
def test_a_connection_reset_while_it_holds_a_request_is_freed(serve, request_bytes):
    st = serve(lambda server, st: server.on("request", lambda req, res: st.record("request")))  # never answered

    def run():
        sock = socket.create_connection(("127.0.0.1", st.port), timeout=10)
        sock.sendall(request_bytes)
        st.wait_for(lambda e: e == ("request",))
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        sock.close()  # a reset
        settle(st, lambda: st.server.connections)
    left = left_in_cycles(run)
    assert not left, f"objects left in reference cycles: {dict(left)}"
