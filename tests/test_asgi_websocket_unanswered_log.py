"""A WebSocket handshake the app never answered (no accept, no 403, no denial) still
gets its access log line when its socket closes, as an HTTP request never answered
gets one (and as nginx logs one): 499 when the client left first (its FIN or a
reset). A real Server on loopback with a real AccessLog, raw client sockets."""

import socket

import pytest

from conftest import ServerThread
from daemon import wait_until
from harness import reset
from prefork import logs
from prefork.asgi import ASGIAdapter

HANDSHAKE = (b"GET /ws HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
             b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")


def served(tmp_path):
    path = tmp_path / "access.log"

    async def app(scope, receive, send):
        if scope["type"] != "websocket":
            return
        assert (await receive())["type"] == "websocket.connect"
        st.record("connect")
        st.record("then", (await receive())["type"])  # it never answers: a check that takes long

    def setup(server, st):
        st.access = logs.AccessLog(str(path), "{r} {s} {b}", 0)
        server.response_observer = st.access.observer(st.loop)
        server.reply_observer = st.access.reply_line
        st.adapter = ASGIAdapter(app, lifespan="off", ws_ping_interval=0).setup(server)
    st = ServerThread(setup)
    st.path = path
    return st


def lines(st):
    st.call(st.access.flush)
    return st.path.read_text().splitlines() if st.path.exists() else []


@pytest.mark.parametrize("leave", ["fin", "reset"])
def test_a_handshake_whose_client_left_before_the_answer_is_logged_499(tmp_path, leave):
    st = served(tmp_path)
    try:
        client = socket.create_connection(("127.0.0.1", st.port), timeout=5)
        client.sendall(HANDSHAKE)
        st.wait_for(lambda e: e[0] == "connect")
        if leave == "fin":
            client.shutdown(socket.SHUT_WR)
            assert client.recv(1024) == b""  # no answer: the socket just closes
            client.close()
        else:
            reset(client)
        st.wait_for(lambda e: e == ("then", "websocket.disconnect"))
        wait_until(lambda: lines(st), timeout=5)
        assert lines(st) == ["GET /ws HTTP/1.1 499 -"]
    finally:
        st.stop()

