"""A WSGI or ASGI app's non-ASCII header bytes go out as given, whatever way the head
leaves (with a small body, with a streamed one, before a file), as gunicorn and uvicorn
send them: the events API's UTF-8 head (Node's, for ``str`` text) is not theirs. A head
that left through the adapters' streaming path was re-encoded as UTF-8 (``é`` as
``\\xc3\\xa9``)."""

import socket

import pytest

from harness import read_until_close
from prefork.asgi import ASGIAdapter
from prefork.wsgi import WSGIAdapter

BIG = b"b" * (4 << 20)


def wsgi_app(environ, start_response):
    path = environ["PATH_INFO"]
    start_response("200 OK", [("X", "\xe9")])
    if path == "/file":
        return environ["wsgi.file_wrapper"](open(__file__, "rb"))
    return [BIG] if path == "/large" else [b"a"]


async def asgi_app(scope, receive, send):
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": [(b"x", b"\xe9")]})
    if scope["path"] == "/stream":
        await send({"type": "http.response.body", "body": b"", "more_body": True})
    await send({"type": "http.response.body", "body": b"a"})


def head_x(port, path):
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        head = read_until_close(sock).partition(b"\r\n\r\n")[0]
    return [line for line in head.split(b"\r\n") if line.lower().startswith(b"x:")]


@pytest.mark.parametrize("threads", [1, 4])
def test_a_wsgi_apps_header_bytes_go_out_as_given(serve, threads):
    adapter = WSGIAdapter(wsgi_app, threads=threads)
    st = serve(lambda server, st_: adapter.setup(server))
    for path in ("/small", "/large", "/file"):
        assert head_x(st.port, path) == [b"X: \xe9"], path


def test_an_asgi_apps_header_bytes_go_out_as_given(serve):
    def setup(server, st):
        st.adapter = ASGIAdapter(asgi_app, lifespan="off").setup(server)
    st = serve(setup)
    for path in ("/plain", "/stream"):
        assert head_x(st.port, path) == [b"x: \xe9"], path
