"""Differential check: the same ASGI app served by prefork and by uvicorn on loopback,
the same requests (plain, streamed both ways, 100-continue, failures, disconnects,
WebSocket exchanges), the answers compared with Date and Server masked and the
framing headers (Content-Length, Transfer-Encoding, Connection, Keep-Alive) left out:
the bodies as the client reads them must be equal."""

import http.client
import os
import signal
import socket
import struct
import subprocess
import sys

import pytest

from daemon import HERE, python_env, wait_until
from harness import read_until_close

uvicorn = pytest.importorskip("uvicorn")
websockets = pytest.importorskip("websockets")
from websockets.exceptions import ConnectionClosed, InvalidStatus  # noqa: E402
from websockets.sync.client import connect  # noqa: E402

MASKED = {"date", "server", "content-length", "transfer-encoding", "connection", "keep-alive"}


@pytest.fixture
def peers(daemons, tmp_path):
    """{'prefork': (port, mark dir), 'uvicorn': (port, mark dir)}"""
    marks = {name: tmp_path / name for name in ("prefork", "uvicorn")}
    for path in marks.values():
        path.mkdir()

    def env(name):
        return {"ASGI_DISCONNECT_MARK": str(marks[name] / "disconnect"), "ASGI_WS_MARK": str(marks[name] / "ws")}
    d = daemons("--interface", "asgi", app="apps.asgi_apps:app", workers=1, env=env("prefork"))
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    port = sock.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "apps.asgi_apps:app", "--fd", str(sock.fileno()),
                             "--lifespan", "on", "--no-access-log", "--log-level", "warning"],
                            pass_fds=(sock.fileno(),), env=python_env(**env("uvicorn")), cwd=HERE,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    sock.close()
    try:
        d.wait_ready()
        wait_until(lambda: answers(port), 20, what="uvicorn answering")
        yield {"prefork": (d.port, marks["prefork"]), "uvicorn": (port, marks["uvicorn"])}
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)


def answers(port):
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        conn.request("GET", "/")
        ok = conn.getresponse().read() == b"Hello, World!"
        conn.close()
        return ok
    except OSError:
        return False


def normalized(response, body):
    headers = sorted((k.lower(), v) for k, v in response.getheaders() if k.lower() not in MASKED)
    return response.status, headers, body


def exchange(port, method, path, body=None, headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    conn.request(method, path, body=body, headers=headers or {})
    response = conn.getresponse()
    try:
        data = response.read()
        complete = True
    except http.client.IncompleteRead as cut:
        data, complete = cut.partial, False
    conn.close()
    return normalized(response, data) + (complete,)


REQUESTS = [
    ("GET", "/", None, {}),
    ("GET", "/scope/a%20b/%E2%82%AC?x=1&y=%20", None, {"X-Test": "Value", "X-Dup": "1"}),
    ("POST", "/echo", b"a small body", {"Content-Type": "text/plain"}),
    ("POST", "/echo", os.urandom(1 << 20), {}),
    ("POST", "/echo", iter([b"chunk one ", b"chunk two"]), {}),  # chunked request body
    ("GET", "/stream?n=7", None, {}),
    ("GET", "/headers", None, {}),
    ("HEAD", "/head", None, {}),
    ("GET", "/raise-before", None, {}),
    ("GET", "/no-response", None, {}),
    ("GET", "/raise-after", None, {}),
]


def test_http_answers_match_uvicorn(peers):
    for method, path, body, headers in REQUESTS:
        results = {}
        for name, (port, _) in peers.items():
            sent = body
            if body is not None and not isinstance(body, bytes):
                sent = iter([b"chunk one ", b"chunk two"])
            results[name] = exchange(port, method, path, sent, headers)
        assert results["prefork"] == results["uvicorn"], (method, path)


def duplex(port):
    sock = socket.create_connection(("127.0.0.1", port), timeout=20)
    sock.sendall(b"POST /duplex HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n")
    received = b""
    for word in (b"one", b"two", b"three"):
        sock.sendall(b"%x\r\n%s\r\n" % (len(word), word))
        while b"got %d: %s\n" % (len(word), word) not in received:
            chunk = sock.recv(65536)
            assert chunk
            received += chunk
    sock.sendall(b"0\r\n\r\n")
    while not received.endswith(b"end\n\r\n0\r\n\r\n"):
        chunk = sock.recv(65536)
        assert chunk, received
        received += chunk
    sock.close()
    return dechunk(received.partition(b"\r\n\r\n")[2])


def dechunk(data):
    body = b""
    while data:
        size, _, rest = data.partition(b"\r\n")
        n = int(size, 16)
        if n == 0:
            break
        body += rest[:n]
        data = rest[n + 2:]
    return body


def continue_exchange(port):
    sock = socket.create_connection(("127.0.0.1", port), timeout=20)
    sock.sendall(b"POST /continue HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nExpect: 100-continue\r\n"
                 b"Connection: close\r\n\r\n")
    interim = b""
    while b"\r\n\r\n" not in interim:
        interim += sock.recv(1)
    sock.sendall(b"hello")
    data = read_until_close(sock)
    sock.close()
    head, _, body = data.partition(b"\r\n\r\n")
    if b"transfer-encoding: chunked" in head.lower():
        body = dechunk(body)
    return interim.split(b"\r\n")[0], head.split(b"\r\n")[0], body


def disconnect(port, mark):
    sock = socket.create_connection(("127.0.0.1", port), timeout=20)
    sock.sendall(b"GET /wait-disconnect HTTP/1.1\r\nHost: h\r\n\r\n")
    wait_until(lambda: answers(port), 10, what="the server")  # the request is in
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()
    wait_until(lambda: (mark / "disconnect").exists(), 20, what="the app's disconnect mark")
    return (mark / "disconnect").read_text()


def test_streaming_continue_and_disconnect_match_uvicorn(peers):
    results = {name: (duplex(port), continue_exchange(port), disconnect(port, mark))
               for name, (port, mark) in peers.items()}
    assert results["prefork"] == results["uvicorn"]
    assert results["prefork"][2] == "http.disconnect"


def ws_session(port, mark):
    out = []
    base = f"ws://127.0.0.1:{port}"
    with connect(base + "/ws/scope?room=2", subprotocols=["chat"], proxy=None) as ws:
        out.append(("subprotocol", ws.subprotocol, ws.response.headers.get("x-accepted")))
        out.append(("scope", ws.recv(10)))
        for message in ("text", b"\x00bin", "x" * 100000, ["frag", "ments"]):
            ws.send(message)
            out.append(("echo", ws.recv(10)))
        ws.send("close:4001")
        try:
            ws.recv(10)
        except ConnectionClosed as closed:
            out.append(("closed", closed.rcvd.code, closed.rcvd.reason))
    with connect(base + "/ws", proxy=None) as ws:
        ws.close(code=4002, reason="client done")
    wait_until(lambda: (mark / "ws").exists() and (mark / "ws").read_text() == "4002", 10, what="the ws mark")
    for path in ("/ws/deny", "/ws/reject", "/ws/raise"):
        try:
            connect(base + path, proxy=None).close()
            out.append((path, "accepted"))
        except InvalidStatus as refused:
            response = refused.response
            out.append((path, response.status_code, response.body if response.status_code != 500 else b"",
                        response.headers.get("x-denied")))
    return out


def test_websocket_exchanges_match_uvicorn(peers):
    results = {name: ws_session(port, mark) for name, (port, mark) in peers.items()}
    assert results["prefork"] == results["uvicorn"]
