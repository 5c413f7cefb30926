"""An ASGI app told its client has gone (``http.disconnect`` after the client's FIN)
that returns or raises without answering: the server sends no 500 of its own on the
half-closed connection but closes it, and the access log says 499 (the client left),
as for any request never answered; uvicorn closes the connection there too. A real
Server on loopback with a real AccessLog, raw client sockets."""

import logging
import socket

from conftest import ServerThread
from daemon import wait_until
from prefork import logs
from prefork.asgi import ASGIAdapter


async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    while (await receive())["type"] != "http.disconnect":
        pass  # (Django's handler and Starlette's streams wait for this one)
    if scope["path"] == "/raises":
        raise ConnectionResetError("the client went away")  # as a framework's ClientDisconnect


def served(tmp_path):
    path = tmp_path / "access.log"

    def setup(server, st):
        st.access = logs.AccessLog(str(path), "{U} {s} {b}", 0)
        server.response_observer = st.access.observer(st.loop)
        server.reply_observer = st.access.reply_line
        st.adapter = ASGIAdapter(app, lifespan="off").setup(server)
    st = ServerThread(setup)
    st.path = path
    return st


def lines(st):
    st.call(st.access.flush)
    return st.path.read_text().splitlines() if st.path.exists() else []


def half_close_and_read(port, path):
    client = socket.create_connection(("127.0.0.1", port), timeout=5)
    client.sendall(b"GET " + path + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    client.shutdown(socket.SHUT_WR)  # the client's FIN: it is gone, for ASGI
    data = b""
    try:
        while chunk := client.recv(65536):
            data += chunk
    except ConnectionResetError:
        pass
    client.close()
    return data


def test_an_app_returning_after_its_client_left_gets_no_500_and_is_logged_499(tmp_path):
    st = served(tmp_path)
    try:
        assert half_close_and_read(st.port, b"/returns") == b""
        wait_until(lambda: lines(st), timeout=5)
        assert lines(st) == ["/returns 499 -"]
    finally:
        st.stop()


def test_an_app_raising_after_its_client_left_gets_no_500_and_is_logged_499(tmp_path, caplog):
    st = served(tmp_path)
    try:
        with caplog.at_level(logging.ERROR, logger="prefork.asgi"):
            assert half_close_and_read(st.port, b"/raises") == b""
            wait_until(lambda: lines(st), timeout=5)
        assert lines(st) == ["/raises 499 -"]
        assert "Exception in ASGI application (GET /raises)" in caplog.text  # the app's failure is still logged
    finally:
        st.stop()
