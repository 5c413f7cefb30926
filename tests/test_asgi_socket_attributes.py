"""What the ASGI adapter keeps of a connection, and where.

CPython 3.11 keeps at most 29 attribute names of a class's instances in its compact
layout; a socket given more gets a dict of its own, and each method of it the server
looks up on every request (cork, uncork, send) is then looked up the slow way. The
adapter sets nothing on a connection's socket: its scope template is not kept through
a 'close' listener on the socket, and the scope's ``server`` is not read through
``socket.address()`` (which keeps what it read on the socket). The template goes all
the same once the connection is closed, freed by reference counting."""

import gc
import time

from prefork.asgi import ASGIAdapter
from test_wsgi_socket_attributes import exchange, served_socket_names

REQUEST = b"GET / HTTP/1.1\r\nHost: example.test\r\n\r\n"


async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    host, port = scope["server"]
    body = f"hello {host} {port}".encode()  # (served_socket_names reads up to "hello")
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


def test_a_connection_s_socket_has_the_names_of_an_events_one(serve):
    events = served_socket_names(serve, lambda server, st: server.on("request", lambda req, res: res.end(b"hello")))
    asgi = served_socket_names(serve, lambda server, st: ASGIAdapter(app, lifespan="off").setup(server))
    assert asgi == events, (sorted(asgi - events), sorted(events - asgi))
    assert len(asgi) <= 29, sorted(asgi)  # (CPython 3.11's compact layout)


def test_the_scope_s_server_is_the_local_address_on_every_request(serve):
    st = serve(lambda server, st: ASGIAdapter(app, lifespan="off").setup(server))
    assert exchange(st.port, [REQUEST] * 3) == [f"hello 127.0.0.1 {st.port}"] * 3


def test_a_closed_connection_s_scope_template_is_freed_without_the_collector(serve):
    holder = {}

    def setup(server, st):
        holder["adapter"] = ASGIAdapter(app, lifespan="off")
        holder["adapter"].setup(server)
    st = serve(setup)
    adapter = holder["adapter"]
    gc.disable()  # (freed by reference counting alone)
    try:
        for _ in range(5):
            assert exchange(st.port, [REQUEST, REQUEST]) == [f"hello 127.0.0.1 {st.port}"] * 2
        deadline = time.monotonic() + 5
        while st.call(lambda: len(adapter.templates) + len(adapter.watches)) and time.monotonic() < deadline:
            time.sleep(0.02)
        left = st.call(lambda: (len(adapter.templates), len(adapter.watches)))
    finally:
        gc.enable()
    assert left == (0, 0), f"{left} closed connections' templates kept"
