"""An ASGI app that calls ``receive()`` once its connection is gone (a reset while it
streams its response) is told ``http.disconnect``, whether or not it had read the
request body: the spec sends the disconnect "after the HTTP connection has been
closed", and uvicorn answers it there even with the body unread. (A client's FIN
alone is not this case: the body it sent before its FIN is still given first.) A
real Server on loopback, raw client sockets that reset."""

import asyncio
import socket
import struct

from conftest import ServerThread
from prefork.asgi import ASGIAdapter


def served():
    box = {}

    async def app(scope, receive, send):
        if scope["type"] != "http":
            return
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"x", "more_body": True})
        box["go"] = asyncio.Event()
        st.record("streaming", scope["path"])
        await box["go"].wait()  # until the test has seen the connection closed
        message = await receive()
        st.record("received", scope["path"], message["type"])

    def setup(server, st):
        st.adapter = ASGIAdapter(app, lifespan="off").setup(server)
        server.on("connection", lambda sock: sock.on("close", lambda *_: st.record("closed")))

    st = ServerThread(setup)
    st.box = box
    return st


def reset_while_streaming(st, request, path):
    client = socket.create_connection(("127.0.0.1", st.port), timeout=5)
    client.sendall(request)
    st.wait_for(lambda event: event == ("streaming", path))
    assert client.recv(65536).startswith(b"HTTP/1.1 200 OK")
    client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    client.close()  # a reset
    st.wait_for(lambda event: event == ("closed",))
    st.call(lambda: st.box["go"].set())
    return st.wait_for(lambda event: event[:2] == ("received", path))[2]


def test_a_get_whose_client_reset_while_streaming_receives_http_disconnect():
    st = served()
    try:
        assert reset_while_streaming(st, b"GET /get HTTP/1.1\r\nHost: x\r\n\r\n", "/get") == "http.disconnect"
    finally:
        st.stop()


def test_a_post_whose_unread_body_came_before_the_reset_receives_http_disconnect():
    st = served()
    try:
        request = b"POST /post HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
        assert reset_while_streaming(st, request, "/post") == "http.disconnect"
    finally:
        st.stop()


def test_a_post_whose_body_is_still_coming_when_the_client_resets_receives_http_disconnect():
    st = served()
    try:
        request = b"POST /partial HTTP/1.1\r\nHost: x\r\nContent-Length: 50\r\n\r\nhello"
        assert reset_while_streaming(st, request, "/partial") == "http.disconnect"
    finally:
        st.stop()
