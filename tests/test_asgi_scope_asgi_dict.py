"""Each HTTP scope has an ``asgi`` dict of its own, as uvicorn builds one per scope: an
app or a middleware that writes into ``scope["asgi"]`` (a marker, a version it
rewrites) changes no later request's scope, on the same keep-alive connection or on
another one. Before, one dict was shared by every HTTP scope of the worker."""

import json
import socket

from harness import read_until
from prefork.asgi import ASGIAdapter


async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    body = json.dumps(scope["asgi"], sort_keys=True).encode()
    scope["asgi"]["seen_by"] = scope["path"]  # what a middleware might leave there
    scope["asgi"]["spec_version"] = "9.9"
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


def asgi_fields(sock, path):
    sock.sendall(b"GET " + path + b" HTTP/1.1\r\nHost: h\r\n\r\n")
    head = read_until(sock, b"\r\n\r\n")
    length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
    body = head.partition(b"\r\n\r\n")[2]
    while len(body) < length:
        chunk = sock.recv(length - len(body))
        assert chunk, (path, head, body)
        body += chunk
    return json.loads(body)


def test_an_app_writing_into_scope_asgi_changes_no_other_request_scope(serve):
    def setup(server, st):
        ASGIAdapter(app, lifespan="off").setup(server)
    st = serve(setup)
    expected = {"version": "3.0", "spec_version": "2.3"}
    for _ in range(2):  # two connections, two keep-alive requests on each
        sock = socket.create_connection(("127.0.0.1", st.port), timeout=5)
        try:
            for path in (b"/one", b"/two"):
                assert asgi_fields(sock, path) == expected, path
        finally:
            sock.close()
