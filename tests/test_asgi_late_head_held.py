"""The head of an ASGI response goes out at the app's first pause after its start (as
uvicorn sends it at the start), except where sending it then would lose something:
- a start whose ``headers`` is a one-shot iterable (a generator, ``zip()``) with a field
  that cannot be sent: the app's next send raises and the client gets a 500, never a
  200 stripped of the app's headers (the iterable is read once, at the start);
- a request with ``Expect: 100-continue`` whose app reads the body after its pause: the
  client gets its ``100 Continue`` first, then the answer on a connection kept alive (a
  client that waits for the 100 before sending its body does not hang)."""

import asyncio
import socket

from harness import read_until
from test_asgi import asgi_server


async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    if scope["path"] == "/generator":
        headers = (pair for pair in [(b"content-type", b"text/plain"), (b"x-bad", b"a\r\nb")])
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await asyncio.sleep(0.01)
        await send({"type": "http.response.body", "body": b"hello"})
        return
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await asyncio.sleep(0.01)
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    await send({"type": "http.response.body", "body": b"got " + body})


def test_a_bad_field_in_a_generator_of_headers_gets_a_500_after_a_pause(serve):
    st = asgi_server(serve, app)
    with socket.create_connection(("127.0.0.1", st.port), timeout=5) as sock:
        sock.sendall(b"GET /generator HTTP/1.1\r\nHost: h\r\n\r\n")
        head = read_until(sock, b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 500 "), head


def test_expect_continue_gets_its_100_before_the_head_of_an_app_that_pauses(serve):
    st = asgi_server(serve, app)
    with socket.create_connection(("127.0.0.1", st.port), timeout=5) as sock:
        sock.sendall(b"POST /upload HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
        interim = read_until(sock, b"\r\n\r\n")  # a strict client: no body before its 100
        assert interim.startswith(b"HTTP/1.1 100 Continue\r\n\r\n"), interim
        sock.sendall(b"abcde")
        answer = interim.partition(b"\r\n\r\n")[2]
        answer += read_until(sock, b"got abcde")
        head = answer.partition(b"\r\n\r\n")[0].lower()
        assert head.startswith(b"http/1.1 200 "), answer
        assert b"connection: close" not in head, answer
        sock.sendall(b"POST /upload HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\nxy")  # kept alive
        assert b"got xy" in read_until(sock, b"got xy")
