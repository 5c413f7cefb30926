"""WSGI with ``threads = 1``: the app's call holds the worker's loop, so a TERM that comes
meanwhile was queued (the loop's wakeup descriptor) behind the read callbacks of the turn
after the call, and a request read there was answered as if no stop had come: kept alive,
its connection held until its keep-alive timer ran out, and the worker's exit with it. A
TERM now marks the server draining as soon as it comes: a request read after it is
answered with ``Connection: close`` and its connection closed, on either loop."""

import os
import signal
import socket
import time

import pytest

from daemon import wait_until


def _answer(sock, path):
    """The answer to ``GET path`` (its body is the path), and whether the server then
    closed the connection (within 10 s)."""
    sock.settimeout(10)
    got = b""
    while not got.endswith(path):
        chunk = sock.recv(65536)
        assert chunk, got
        got += chunk
    try:
        return got, sock.recv(1) == b""
    except TimeoutError:
        return got, False


@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
def test_a_request_read_after_a_term_gets_connection_close_though_the_app_held_the_loop(daemons, tmp_path, loop):
    mark, release = tmp_path / "holding", tmp_path / "release"
    d = daemons("--interface", "wsgi", "--threads", "1", "--loop", loop, "--keep-alive-timeout", "30",
                "--graceful-timeout", "40", app="apps.wsgi_hold:app", workers=1,
                env={"WSGI_HOLD_MARK": str(mark), "WSGI_HOLD_RELEASE": str(release)})
    d.wait_ready()
    worker, = d.wait_workers(1)
    late = socket.create_connection(("127.0.0.1", d.port), timeout=10)
    held = socket.create_connection(("127.0.0.1", d.port), timeout=10)
    try:
        late.sendall(b"GET /late HTTP/1.1\r\nHost: x\r\n")  # its head unfinished
        held.sendall(b"GET /hold HTTP/1.1\r\nHost: x\r\n\r\n")
        wait_until(mark.exists, 10, what="the app's call holding the loop")
        os.kill(worker, signal.SIGTERM)
        late.sendall(b"\r\n")  # the head ends after the TERM, while the call holds the loop
        release.write_text("")
        start = time.monotonic()
        late_answer, late_closed = _answer(late, b"/late")
        held_answer, held_closed = _answer(held, b"/hold")
        closed_after = time.monotonic() - start
    finally:
        late.close()
        held.close()
    assert late_answer.startswith(b"HTTP/1.1 200 OK\r\n"), late_answer
    assert b"\r\nconnection: close\r\n" in late_answer.lower(), late_answer
    assert b"\r\nconnection: close\r\n" in held_answer.lower(), held_answer
    assert late_closed and held_closed  # at once, not at the keep-alive timer's end (30 s)
    assert closed_after < 30, closed_after
    wait_until(lambda: worker not in d.workers(), 10, what="the drained worker's exit")
