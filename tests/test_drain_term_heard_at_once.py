"""A TERM is heard as soon as it comes. With WSGI ``threads = 1`` (or an events handler) the
app's call holds the worker's loop, so a TERM that comes meanwhile is queued (the loop's
wakeup descriptor) behind the read callbacks of the turn after the call: a request read
there was answered as if no stop had come, kept alive, its connection held until its
keep-alive timer ran out, and the worker's exit with it. The server is now
marked draining as the TERM comes: that request is answered with ``Connection: close`` and
its connection closed right after the response, on either loop.

A response reads that mark once, as its head is fixed: one whose head said keep-alive
before the TERM came keeps its connection (it then waits out its keep-alive timer, as
any idle one of a draining server), so the client's next request on it is answered (with
``Connection: close``), never lost to a close made under a head that promised more."""

import os
import signal
import socket

import pytest

from daemon import wait_until
from harness import read_until

LOOPS = ["asyncio", "uvloop"]
INTERFACES = {"wsgi": ("apps.hold_and_term:app", ("--interface", "wsgi", "--threads", "1")),
              "events": ("apps.hold_and_term:setup", ())}


def _closed(sock):
    """True once the server closes the connection (within 60 s: a tenth of its 600 s
    keep-alive timer, so a close by that timer cannot pass for one right after the
    response); False when it stays open that long, or sends more."""
    sock.settimeout(60)
    try:
        return sock.recv(1) == b""
    except TimeoutError:
        return False


@pytest.mark.parametrize("loop", LOOPS)
@pytest.mark.parametrize("interface", sorted(INTERFACES))
def test_a_request_read_after_a_term_gets_connection_close_though_the_app_held_the_loop(
        daemons, tmp_path, interface, loop):
    mark, release = tmp_path / "holding", tmp_path / "release"
    app, args = INTERFACES[interface]
    d = daemons(*args, "--loop", loop, "--keep-alive-timeout", "600", "--graceful-timeout", "610", app=app,
                workers=1, env={"HOLD_MARK": str(mark), "HOLD_RELEASE": str(release)})
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
        late_answer = read_until(late, b"/late", 10)
        late_closed = _closed(late)
        held_answer = read_until(held, b"/hold", 10)
        held_closed = _closed(held)
    finally:
        late.close()
        held.close()
    assert late_answer.startswith(b"HTTP/1.1 200 OK\r\n"), late_answer
    assert b"\r\nconnection: close\r\n" in late_answer.lower(), late_answer
    assert b"\r\nconnection: close\r\n" in held_answer.lower(), held_answer
    assert late_closed and held_closed  # right after their responses, not at the keep-alive timer's end
    wait_until(lambda: worker not in d.workers(), 10, what="the drained worker's exit")


@pytest.mark.parametrize("loop", LOOPS)
def test_a_term_between_a_kept_alive_head_and_its_end_leaves_the_connection_to_its_next_request(daemons, loop):
    d = daemons("--loop", loop, "--keep-alive-timeout", "600", "--graceful-timeout", "610",
                app="apps.hold_and_term:setup", workers=1)
    d.wait_ready()
    worker, = d.wait_workers(1)
    sock = socket.create_connection(("127.0.0.1", d.port), timeout=10)
    try:
        sock.sendall(b"GET /term-midway HTTP/1.1\r\nHost: x\r\n\r\n")
        first = read_until(sock, b"\r\n0\r\n\r\n", 10)
        sock.sendall(b"GET /next HTTP/1.1\r\nHost: x\r\n\r\n")
        second = read_until(sock, b"/next", 10)
        closed = _closed(sock)
    finally:
        sock.close()
    assert first.startswith(b"HTTP/1.1 200 OK\r\n") and b"\r\nconnection: keep-alive\r\n" in first.lower(), first
    assert b"midway" in first, first
    assert second.startswith(b"HTTP/1.1 200 OK\r\n"), second
    assert b"\r\nconnection: close\r\n" in second.lower(), second
    assert closed
    wait_until(lambda: worker not in d.workers(), 10, what="the drained worker's exit")
