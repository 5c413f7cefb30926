"""Header names and values an ASGI app gives as a ``bytearray`` or ``memoryview`` (bytes
it built in place) are sent as their bytes, as uvicorn sends them: not as the text of
their ``repr`` (a 500, the name refused as a field name)."""

import socket

from harness import read_until_close
from test_asgi import asgi_server


async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200,
                "headers": [(bytearray(b"X-Built"), memoryview(b"in-place")), (b"x-plain", bytearray(b"v"))]})
    await send({"type": "http.response.body", "body": b"ok"})


def test_bytearray_and_memoryview_fields_are_sent_as_their_bytes(serve):
    st = asgi_server(serve, app)
    with socket.create_connection(("127.0.0.1", st.port), timeout=5) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
        answer = read_until_close(sock)
    head = answer.partition(b"\r\n\r\n")[0]
    assert head.startswith(b"HTTP/1.1 200 OK"), answer
    assert b"\r\nX-Built: in-place" in head and b"\r\nx-plain: v" in head, answer
