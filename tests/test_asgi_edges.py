"""ASGI edges, compared with uvicorn and the spec, an in-process server on
loopback:

- a WebSocket denial (``websocket.http.response.start``) whose app returns before any
  body message: the head was sent at once with ``Transfer-Encoding: chunked`` and the
  connection closed with no last chunk (a cut response). The head now goes with the
  first body message, as on the HTTP side, and an app that returns before it gets a
  whole 500.
"""

from hostile import exchange
from prefork.asgi import ASGIAdapter

HANDSHAKE = (b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
             b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")


async def app(scope, receive, send):
    assert scope["type"] == "websocket"
    await receive()  # websocket.connect
    await send({"type": "websocket.http.response.start", "status": 404, "headers": [(b"x-why", b"gone")]})
    if scope["path"] == "/ws-body":
        await send({"type": "websocket.http.response.body", "body": b"no such room"})


def test_a_denial_that_returns_before_its_body_is_a_whole_500(serve):
    st = serve(lambda server, st_: setattr(st_, "adapter", ASGIAdapter(app, lifespan="off").setup(server)))
    data = exchange(st.port, HANDSHAKE)
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 500 "), data
    length = [line for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")]
    assert length and int(length[0].split(b":")[1]) == len(body), data


def test_a_denial_with_its_body_is_sent_whole(serve):
    st = serve(lambda server, st_: setattr(st_, "adapter", ASGIAdapter(app, lifespan="off").setup(server)))
    data = exchange(st.port, HANDSHAKE.replace(b"/ws ", b"/ws-body "))
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 404 ") and b"\r\nx-why: gone" in head, data
    assert body == b"c\r\nno such room\r\n0\r\n\r\n"


async def version_app(scope, receive, send):
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": scope["http_version"].encode()})


def test_the_scopes_http_version_is_one_the_spec_knows(serve):
    """A request line ``HTTP/2.0`` (or ``HTTP/0.9``) is served as HTTP/1: the scope said
    "2.0" (or "0.9"), which an app may read as HTTP/2; the spec allows "1.0", "1.1", "2"."""
    st = serve(lambda server, st_: setattr(st_, "adapter", ASGIAdapter(version_app, lifespan="off").setup(server)))
    for sent, expected in ((b"1.1", b"1.1"), (b"1.0", b"1.0"), (b"2.0", b"1.1"), (b"0.9", b"1.0")):
        data = exchange(st.port, b"GET / HTTP/%s\r\nHost: x\r\nConnection: close\r\n\r\n" % sent)
        assert data.partition(b"\r\n\r\n")[2].endswith(expected), (sent, data)
