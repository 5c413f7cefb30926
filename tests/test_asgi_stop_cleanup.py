"""On TERM, an ASGI stream still running near graceful_timeout is cancelled early enough
that its async cleanup runs before the worker exits, whether or not a lifespan shutdown
will run, and it is cancelled once."""

import signal
import socket
import time

import pytest

from daemon import Daemon

# (app, extra args, graceful_timeout, when the stream is cut after the TERM: at least, before)
# without a lifespan shutdown: the bound less the exit margin (an eighth, at most 0.5 s) and
# the unwind (a quarter of the quarter of the bound, at most 1 s); with one: its reserve
CASES = [
    ("apps.asgi_cancel_cleanup:app", ("--lifespan", "off"), 4, 3.25 - 0.05, 3.5),
    ("apps.asgi_cancel_cleanup:no_lifespan", (), 4, 3.25 - 0.05, 3.5),
    ("apps.asgi_cancel_cleanup:with_lifespan", (), 4, 3.0 - 0.05, 3.25),
]


@pytest.mark.parametrize("app, args, grace, earliest, before", CASES)
def test_cancelled_stream_runs_its_async_cleanup_before_the_exit(app, args, grace, earliest, before):
    daemon = Daemon("--interface", "asgi", *args, app=app, workers=1, graceful_timeout=str(grace))
    try:
        daemon.wait_ready(timeout=15)
        sock = socket.create_connection(("127.0.0.1", daemon.port), timeout=grace + 5)
        try:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            assert sock.recv(4096).startswith(b"HTTP/1.1 200 ")
            start = time.monotonic()
            daemon.signal(signal.SIGTERM)
            while sock.recv(65536):
                pass
            ended = time.monotonic() - start
        finally:
            sock.close()
        assert daemon.wait_exit(grace + 5) == 0
        log = daemon.log()
        assert "stopped: exit status 0" in log, log
        assert "async cleanup done" in log, log
        assert "async cleanup cut" not in log, log
        assert "still running at the exit" not in log, log  # (cancelled once)
        assert log.count("stream cancelled") == 1, log
        assert earliest <= ended < before + 0.4, (ended, log)
        if app.endswith("with_lifespan"):
            assert "lifespan shutdown ran" in log, log
    finally:
        daemon.cleanup()
