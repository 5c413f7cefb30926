"""A WebSocket handshake without a ``Sec-WebSocket-Key`` is refused with a 400 that says
the key is missing, as uvicorn's ``websockets`` stack says it (it said "bad
Sec-WebSocket-Key", as for a key that is there but not base64 of 16 bytes, which is
still said so). The daemon and uvicorn ``--ws websockets-sansio``, raw handshakes."""

import signal
import socket
import subprocess
import sys

import pytest

from daemon import HERE, Daemon, python_env

pytest.importorskip("uvicorn")
pytest.importorskip("websockets")

HEAD = b"GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"


def refusal(port, extra=b""):
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(HEAD + extra + b"\r\n")
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return head.split(b"\r\n")[0], body


def test_a_handshake_without_a_key_is_refused_saying_the_key_is_missing(tmp_path):
    d = Daemon("--interface", "asgi", app="apps.asgi_apps:app", workers=1)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    port = sock.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "apps.asgi_apps:app", "--fd", str(sock.fileno()),
                             "--ws", "websockets-sansio", "--lifespan", "off", "--log-level", "critical"],
                            pass_fds=(sock.fileno(),), env=python_env(), cwd=HERE,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    sock.close()
    try:
        d.wait_ready()
        for peer in (d.port, port):
            status, body = refusal(peer)
            assert status == b"HTTP/1.1 400 Bad Request" and b"missing Sec-WebSocket-Key header" in body, (peer, body)
        status, body = refusal(d.port, b"Sec-WebSocket-Key: short\r\n")
        assert (status, body) == (b"HTTP/1.1 400 Bad Request", b"Bad WebSocket handshake: bad Sec-WebSocket-Key\n")
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        d.cleanup()
