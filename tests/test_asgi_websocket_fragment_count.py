"""A WebSocket message of more than 4096 frames closes with 1009, "too many fragments",
as uvicorn's ``websockets`` stack closes it: a client that starts a message and sends
empty continuation frames for ever made no progress towards ``ws_max_size`` and held
the worker's CPU without end. Raw frames on a real socket, against the daemon and
against uvicorn ``--ws websockets``; the same app (tests/apps/asgi_apps.py echoes)."""

import base64
import os
import signal
import socket
import struct
import subprocess
import sys

import pytest

from daemon import HERE, Daemon, python_env, wait_until
from test_asgi_websocket_cases import frame_head, read_frame

pytest.importorskip("uvicorn")
pytest.importorskip("websockets")

START = frame_head(0x01, 0)  # an empty first fragment of a text message (no FIN)
CONTINUE = frame_head(0x00, 0)  # an empty continuation (no FIN)


def open_ws(port):
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    key = base64.b64encode(os.urandom(16))
    sock.sendall(b"GET /ws HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
                 b"Sec-WebSocket-Key: " + key + b"\r\nSec-WebSocket-Version: 13\r\n\r\n")
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(1)
        assert chunk, head
        head += chunk
    assert head.startswith(b"HTTP/1.1 101 "), head
    return sock


@pytest.fixture(scope="module")
def peers(tmp_path_factory):
    """{'prefork': port, 'uvicorn': port}, the echo app on both."""
    mark = tmp_path_factory.mktemp("fragments")
    d = Daemon("--interface", "asgi", "--ws-ping-interval", "0", app="apps.asgi_apps:app", workers=1,
               env={"ASGI_WS_MARK": str(mark / "ws")})
    proc = None
    try:
        d.wait_ready()
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        sock.listen(128)
        port = sock.getsockname()[1]
        proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "apps.asgi_apps:app", "--fd", str(sock.fileno()),
                                 "--ws", "websockets", "--lifespan", "off",
                                 "--no-access-log", "--log-level", "error"],
                                pass_fds=(sock.fileno(),), env=python_env(), cwd=HERE,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        sock.close()
        wait_until(lambda: connects(port), 20, what="uvicorn listening")
        yield {"prefork": d.port, "uvicorn": port, "mark": mark / "ws"}
    finally:
        if proc is not None:
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
        d.cleanup()


def connects(port):
    try:
        open_ws(port).close()
        return True
    except OSError:
        return False


@pytest.mark.parametrize("peer", ["prefork", "uvicorn"])
def test_a_message_of_4096_frames_is_delivered_whole(peers, peer):
    sock = open_ws(peers[peer])
    sock.sendall(frame_head(0x01, 1) + b"a" + (frame_head(0x00, 1) + b"b" + CONTINUE) * 2047
                 + frame_head(0x80, 1) + b"!")  # 1 + 2 * 2047 + 1 frames
    assert read_frame(sock) == (0x81, b"a" + b"b" * 2047 + b"!")
    sock.sendall(frame_head(0x88, 2) + struct.pack("!H", 1000))
    assert read_frame(sock) == (0x88, struct.pack("!H", 1000))
    sock.close()


@pytest.mark.parametrize("peer", ["prefork", "uvicorn"])
@pytest.mark.parametrize("last", [CONTINUE, frame_head(0x80, 0)], ids=["more", "final"])
def test_the_4097th_frame_of_a_message_closes_with_1009_too_many_fragments(peers, peer, last):
    sock = open_ws(peers[peer])
    sock.sendall(START + CONTINUE * 4095 + last)
    assert read_frame(sock) == (0x88, struct.pack("!H", 1009) + b"too many fragments")
    sock.close()


def test_an_endless_stream_of_empty_continuations_is_closed_and_the_app_told(peers):
    mark = peers["mark"]
    if mark.exists():
        mark.unlink()
    sock = open_ws(peers["prefork"])
    sock.sendall(START)
    sock.settimeout(0.2)
    closing = b""
    for _ in range(200):  # the client sends on, ten thousand frames at a time, until the close comes
        try:
            sock.sendall(CONTINUE * 10_000)
            closing += sock.recv(64)
        except (socket.timeout, BlockingIOError):
            continue
        except OSError:
            break
        if closing:
            break
    assert closing.startswith(b"\x88\x14" + struct.pack("!H", 1009) + b"too many fragments"), closing
    sock.settimeout(10)
    sock.sendall(frame_head(0x88, 2) + struct.pack("!H", 1009))  # its echo: the server closes
    assert sock.recv(64) == b""
    wait_until(lambda: mark.exists(), 10, what="the app's websocket.disconnect")
    assert mark.read_text() == "1009"
    sock.close()


def test_a_raised_ws_max_size_lets_a_message_of_that_size_in_4_kib_frames_through(tmp_path):
    """With ``ws_max_size`` at 32 MiB a message may have 8192 frames (32 MiB in 4 KiB frames,
    as Go's gorilla/websocket sends it), not 4096; the 8193rd still closes with 1009."""
    d = Daemon("--interface", "asgi", "--ws-ping-interval", "0", "--ws-max-size", str(32 * 1024 * 1024),
               app="apps.asgi_apps:app", workers=1, env={"ASGI_WS_MARK": str(tmp_path / "ws")})
    try:
        d.wait_ready()
        sock = open_ws(d.port)
        sock.sendall(frame_head(0x01, 1) + b"a" + (frame_head(0x00, 1) + b"b") * 6000
                     + frame_head(0x80, 1) + b"!")  # 6002 frames
        assert read_frame(sock) == (0x81, b"a" + b"b" * 6000 + b"!")
        sock.close()
        sock = open_ws(d.port)
        sock.sendall(START + CONTINUE * 8192)  # the 8193rd frame
        assert read_frame(sock) == (0x88, struct.pack("!H", 1009) + b"too many fragments")
        sock.close()
    finally:
        d.cleanup()
