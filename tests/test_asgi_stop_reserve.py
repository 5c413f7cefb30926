"""On TERM, an ASGI stream runs until near the drain's end (its cancelled task's unwind
before the worker's loop ends): only an app whose lifespan shutdown will run has the
last quarter of graceful_timeout kept for it. Either way a stream still running is
cancelled early enough that its async cleanup runs before the worker exits, and once."""

import signal
import socket
import time

import pytest

from daemon import Daemon

GRACE = 6  # the worker's loop ends 0.5 s before it, tasks unwind 0.375 s; a lifespan shutdown keeps 1.5 s


def stream_end_after_term(app, *args, grace=GRACE):
    """Seconds from the TERM to the end of a stream of ``app``, and the daemon's log."""
    daemon = Daemon("--interface", "asgi", *args, app=app, workers=1, graceful_timeout=str(grace))
    try:
        daemon.wait_ready(timeout=60)  # (the app's import takes long on a loaded machine)
        sock = socket.create_connection(("127.0.0.1", daemon.port), timeout=grace + 5)
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
        assert daemon.wait_exit(grace + 5) == 0
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


# (app, extra args, graceful_timeout, when the stream is cut after the TERM: at least, before)
# without a lifespan shutdown: the bound less the exit margin (an eighth, at most 0.5 s) and
# the unwind (a quarter of the quarter of the bound, at most 1 s); with one: its reserve
CLEANUP_CASES = [
    ("apps.asgi_cancel_cleanup:app", ("--lifespan", "off"), 4, 3.25 - 0.05, 3.5),
    ("apps.asgi_cancel_cleanup:no_lifespan", (), 4, 3.25 - 0.05, 3.5),
    ("apps.asgi_cancel_cleanup:with_lifespan", (), 4, 3.0 - 0.05, 3.25),
]


@pytest.mark.parametrize("app, args, grace, earliest, before", CLEANUP_CASES)
def test_cancelled_stream_runs_its_async_cleanup_before_the_exit(app, args, grace, earliest, before):
    ended, log = stream_end_after_term(app, *args, grace=grace)
    assert "async cleanup done" in log, log
    assert "async cleanup cut" not in log, log
    assert "still running at the exit" not in log, log  # (cancelled once)
    assert log.count("stream cancelled") == 1, log
    assert earliest <= ended < before + 0.4, (ended, log)
    if app.endswith("with_lifespan"):
        assert "lifespan shutdown ran" in log, log
