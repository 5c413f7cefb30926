"""When a WebSocket ends (a close handshake, an HTTP answer in place of the handshake),
the server closes its socket whether or not the client ever closes its side: a client
that keeps its end open holds no descriptor of the server. A real Server on loopback,
raw sockets that read the answer and then keep still."""

import base64
import os
import struct
import threading

import pytest

from daemon import wait_until
from harness import read_until_close
from test_asgi import asgi_server, raw


async def app(scope, receive, send):
    if scope["type"] != "websocket":
        return
    path = scope["path"]
    await receive()
    if path == "/close":  # a close before the accept: 403
        await send({"type": "websocket.close"})
        return
    if path == "/deny":
        await send({"type": "websocket.http.response.start", "status": 401, "headers": []})
        await send({"type": "websocket.http.response.body", "body": b"no"})
        return
    if path == "/fail":  # a failure before the accept: 500
        raise RuntimeError("no accept")
    await send({"type": "websocket.accept"})
    while (await receive())["type"] != "websocket.disconnect":
        pass


def server_sockets(port):
    """How many of this process's descriptors are TCP connections accepted on ``port``."""
    inodes = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            link = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if link.startswith("socket:["):
            inodes.add(link[8:-1])
    found = 0
    with open("/proc/net/tcp") as fh:
        for line in list(fh)[1:]:
            fields = line.split()
            if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[2] != "00000000:0000" and fields[9] in inodes:
                found += 1
    return found


def handshake(path, method=b"GET", key=None):
    key = key if key is not None else base64.b64encode(os.urandom(16))
    return (method + b" " + path + b" HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
            b"Sec-WebSocket-Key: " + key + b"\r\nSec-WebSocket-Version: 13\r\n\r\n")


def read_until(sock, marker):
    data = b""
    while marker not in data:
        chunk = sock.recv(65536)
        assert chunk, data
        data += chunk
    return data


CLOSE = bytes((0x88, 0x82)) + b"\0\0\0\0" + struct.pack("!H", 1000)  # masked with a zero key

CASES = {
    "a close handshake from the client": (handshake(b"/echo"), b"HTTP/1.1 101 ", CLOSE, b"\x88\x02\x03\xe8"),
    "a close before the accept (403)": (handshake(b"/close"), b"HTTP/1.1 403 ", b"", b"\r\n\r\n"),
    "a denial response": (handshake(b"/deny"), b"HTTP/1.1 401 ", b"", b"0\r\n\r\n"),
    "an app failing before the accept (500)": (handshake(b"/fail"), b"HTTP/1.1 500 ", b"", b"Server Error"),
    "a handshake refused (400)": (handshake(b"/echo", key=b"short"), b"HTTP/1.1 400 ", b"", b"\n"),
    "a handshake that is not a GET (400)": (handshake(b"/echo", method=b"PUT"), b"HTTP/1.1 400 ", b"", b"request.\n"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_the_server_closes_its_socket_though_the_client_keeps_its_end_open(serve, case):
    request, status, then, last = CASES[case]
    st = asgi_server(serve, app)
    sock = raw(st.port, request)
    answer = read_until(sock, b"\r\n\r\n")
    assert answer.startswith(status), answer
    if then:
        sock.sendall(then)
    answer += read_until_close(sock)  # up to the server's FIN
    assert answer.endswith(last), answer
    # the client neither closes nor sends: the server's descriptor goes all the same
    wait_until(lambda: server_sockets(st.port) == 0, 10, what="the server's socket closed")
    sock.close()


async def closing_app(scope, receive, send):
    """Closes with 4000 at once, then reports the client's answer."""
    if scope["type"] != "websocket":
        return
    await receive()
    await send({"type": "websocket.accept"})
    await send({"type": "websocket.close", "code": 4000})
    closing_app.disconnect = await receive()


def test_a_ping_after_the_servers_close_is_dropped_and_the_close_echo_behind_it_is_read(serve, caplog):
    # a close timeout far longer than the test: only the client's echo can end the session
    st = asgi_server(serve, closing_app, ws_close_timeout=60, ws_ping_interval=0)
    sock = raw(st.port, handshake(b"/"))
    answer = read_until(sock, b"\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 101 "), answer
    answer = answer.partition(b"\r\n\r\n")[2]
    while len(answer) < 4:
        answer += sock.recv(65536)
    assert answer[:4] == b"\x88\x02\x0f\xa0"  # the server's close, 4000
    ping = bytes((0x89, 0x84)) + b"\0\0\0\0" + b"late"
    echo = bytes((0x88, 0x82)) + b"\0\0\0\0" + struct.pack("!H", 4000)
    sock.sendall(ping + echo)  # one read for the server: the echo comes right behind the ping
    assert read_until_close(sock) == answer[4:]  # nothing more (no pong) and the server's close
    wait_until(lambda: getattr(closing_app, "disconnect", None), 10, what="the app's disconnect")
    assert closing_app.disconnect["code"] == 4000
    wait_until(lambda: server_sockets(st.port) == 0, 10, what="the server's socket closed")
    sock.close()
    assert "Exception in callback" not in caplog.text, caplog.text


def test_a_client_that_goes_on_sending_without_echoing_the_close_is_cut_at_the_close_timeout(serve):
    st = asgi_server(serve, closing_app, ws_close_timeout=1, ws_ping_interval=0)
    sock = raw(st.port, handshake(b"/"))
    assert read_until(sock, b"\r\n\r\n").startswith(b"HTTP/1.1 101 ")
    stop = threading.Event()

    def talk():  # a frame every 50 ms, never reading, never echoing the close
        while not stop.is_set():
            try:
                sock.sendall(bytes((0x81, 0x85)) + b"\0\0\0\0" + b"hello")
            except OSError:
                return
            stop.wait(0.05)
    talker = threading.Thread(target=talk, daemon=True)
    talker.start()
    try:
        wait_until(lambda: server_sockets(st.port) == 0, 10, what="the server's socket closed")
    finally:
        stop.set()
        talker.join(5)
        sock.close()
