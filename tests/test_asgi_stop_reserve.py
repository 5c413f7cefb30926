"""On TERM, an ASGI stream runs until near the drain's end (its cancelled task's unwind
before the worker's loop ends): only an app whose lifespan shutdown will run has the
last quarter of graceful_timeout kept for it."""

import signal
import socket
import time

import pytest

from daemon import Daemon

GRACE = 6  # the worker's loop ends 0.5 s before it, tasks unwind 0.375 s; a lifespan shutdown keeps 1.5 s


def stream_end_after_term(app, *args):
    daemon = Daemon("--interface", "asgi", *args, app=app, workers=1, graceful_timeout=str(GRACE))
    try:
        daemon.wait_ready(timeout=15)
        sock = socket.create_connection(("127.0.0.1", daemon.port), timeout=GRACE + 5)
        try:
            sock.sendall(b"GET /events HTTP/1.1\r\nHost: x\r\n\r\n")
            assert sock.recv(4096).startswith(b"HTTP/1.1 200 ")
            start = time.monotonic()
            daemon.signal(signal.SIGTERM)
            while sock.recv(65536):
                pass
            ended = time.monotonic() - start
        finally:
            sock.close()
        assert daemon.wait_exit(GRACE + 5) == 0
        assert "stopped: exit status 0" in daemon.log(), daemon.log()
        return ended, daemon.log()
    finally:
        daemon.cleanup()


@pytest.mark.parametrize("app, args", [("apps.asgi_stopping:app", ("--lifespan", "off")),
                                       ("apps.asgi_stopping:no_lifespan", ())])
def test_stream_without_lifespan_shutdown_runs_to_its_unwind_before_the_exit(app, args):
    ended, log = stream_end_after_term(app, *args)
    assert GRACE - 1.0 <= ended < GRACE, log  # (cut at 5.125 s; it was cut 1.5 s before the bound, at 4.5 s)


def test_stream_with_lifespan_shutdown_is_cut_for_its_reserve():
    ended, log = stream_end_after_term("apps.asgi_stopping:with_lifespan")
    assert ended < GRACE - 1.2, log  # (at 4.5 s)
    assert "lifespan shutdown ran" in log
