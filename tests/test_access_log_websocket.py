"""WebSocket sessions in the daemon's access log (ASGI, default format, a real daemon and
the ``websockets`` client): each session is one line when its socket closes, as nginx
logs one: the handshake's request line and User-Agent, the status it was answered with
(101; the 403 of a close before the accept; a denial's own status; a refusal's 400;
the 500 of an app that failed), the bytes of frames sent after a 101, and the time
from the request to the close."""

import socket

import pytest

pytest.importorskip("websockets")
from websockets.sync.client import connect  # noqa: E402
from websockets.exceptions import InvalidStatus  # noqa: E402

from daemon import Daemon, wait_until  # noqa: E402
from hostile import exchange  # noqa: E402
from logline import LINE, log_lines  # noqa: E402


@pytest.fixture(scope="module")
def daemon(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("wslog") / "access.log")
    d = Daemon("--interface", "asgi", "--access-log", path, "--access-log-flush", "0",
               app="apps.asgi_apps:app", workers=1)
    d.access_path = path
    try:
        d.wait_ready(timeout=30)
        yield d
    finally:
        d.cleanup()


def lines_after(daemon, before):
    lines = wait_until(lambda: log_lines(daemon.access_path)[before:] or None, 10, what="the access log line")
    assert len(lines) == 1, lines
    match = LINE.fullmatch(lines[0])
    assert match, lines[0]
    return match


def count(daemon):
    return len(log_lines(daemon.access_path))


def test_an_accepted_session_is_one_line_at_its_close(daemon):
    before = count(daemon)
    with connect(f"ws://127.0.0.1:{daemon.port}/ws/echo", user_agent_header="ws-client/1") as ws:
        for text in ("hello", "world"):
            ws.send(text)
            assert ws.recv(timeout=5) == text
        assert count(daemon) == before  # no line while the session is open
    match = lines_after(daemon, before)
    assert (match.group(3), match.group(4)) == ("GET /ws/echo HTTP/1.1", "101")
    assert match.group(7) == "ws-client/1"
    # two text frames of 5 bytes (2-byte headers) and the close frame (2-byte code)
    assert int(match.group(5)) >= 14
    assert int(match.group(8)) > 0


@pytest.mark.parametrize("path, status", [("/ws/reject", "403"), ("/ws/deny", "403"), ("/ws/raise", "500")])
def test_a_session_refused_by_the_app_is_logged_with_its_answer(daemon, path, status):
    before = count(daemon)
    with pytest.raises(InvalidStatus) as caught:
        connect(f"ws://127.0.0.1:{daemon.port}{path}", open_timeout=5)
    assert caught.value.response.status_code == int(status)
    match = lines_after(daemon, before)
    assert (match.group(3), match.group(4), match.group(5)) == (f"GET {path} HTTP/1.1", status, "-")


def test_a_handshake_the_server_refuses_is_logged_400(daemon):
    before = count(daemon)
    reply = exchange(daemon.port, b"GET /ws/echo HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\n"
                                  b"Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"
                                  b"Sec-WebSocket-Key: not-base64-of-16\r\n\r\n")
    assert reply.startswith(b"HTTP/1.1 400 ")
    match = lines_after(daemon, before)
    assert (match.group(3), match.group(4)) == ("GET /ws/echo HTTP/1.1", "400")


def test_a_plain_request_on_the_same_daemon_is_still_one_line(daemon):
    before = count(daemon)
    with socket.create_connection(("127.0.0.1", daemon.port), timeout=5) as sock:
        sock.sendall(b"GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        while sock.recv(65536):
            pass
    match = lines_after(daemon, before)
    assert match.group(3) == "GET /hello HTTP/1.1"


@pytest.mark.parametrize("request_bytes, line", [
    (b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n", "CONNECT example.com:443 HTTP/1.1"),
    (b"POST /ws/echo HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nContent-Length: 0\r\n\r\n",
     "POST /ws/echo HTTP/1.1"),
])
def test_a_connect_or_an_upgrade_that_is_no_handshake_is_logged_400(daemon, request_bytes, line):
    before = count(daemon)
    assert exchange(daemon.port, request_bytes).startswith(b"HTTP/1.1 400 ")
    match = lines_after(daemon, before)
    assert (match.group(3), match.group(4)) == (line, "400")
