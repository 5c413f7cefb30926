"""What a graceful stop waits for. An ASGI task that runs on when cancelled (a sync
endpoint's thread under Starlette) no longer gets the worker killed before its
lifespan shutdown: once the task's unwind is over, the worker stops serving and runs
the shutdown in time. An events app's async 'close' listener (closing its pools)
runs to its end before the worker exits (it was cancelled, or never started)."""

import signal
import socket
import time

import pytest

from daemon import Daemon


def test_a_task_that_outlives_its_cancel_leaves_time_for_the_lifespan_shutdown():
    d = Daemon("--graceful-timeout", "4", app="apps.stubborn:app", workers=1)
    sock = None
    try:
        d.wait_ready()
        sock = socket.create_connection(("127.0.0.1", d.port), timeout=10)
        sock.sendall(b"GET /stubborn HTTP/1.1\r\nHost: x\r\n\r\n")
        d.wait_log(r"stubborn request began")
        began = time.monotonic()
        d.signal(signal.SIGTERM)
        assert d.wait_exit(timeout=10) == 0
        took = time.monotonic() - began
        log = d.log()
        assert "stubborn request cancelled; it runs on" in log
        assert "lifespan shutdown ran" in log, log
        assert "killing it" not in log, log
        assert took < 4.5, took
    finally:
        if sock is not None:
            sock.close()
        d.cleanup()


@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_an_async_close_listener_runs_to_its_end_at_a_graceful_stop(loop, signum):
    d = Daemon("--loop", loop, app="apps.stubborn:setup", workers=1)
    try:
        d.wait_ready()
        assert b"200 OK" in d.request("/")
        d.signal(signum)
        d.wait_log(r"close listener ended: pool closed", timeout=10)
        assert d.log().count("close listener began") == 1
        d.signal(signal.SIGTERM)
        assert d.wait_exit() == 0
        assert "cancelling" not in d.log()
    finally:
        d.cleanup()


def test_an_async_close_listener_gets_a_moment_when_the_drain_reaches_its_bound():
    d = Daemon("--graceful-timeout", "2", app="apps.stubborn:setup", workers=1, env={"CLOSE_SECONDS": "0.02"})
    sock = None
    try:
        d.wait_ready()
        sock = socket.create_connection(("127.0.0.1", d.port), timeout=10)
        sock.sendall(b"GET /hold HTTP/1.1\r\nHost: x\r\n\r\n")
        assert b"200 OK" in d.request("/")  # (the held request is in: the worker has read it)
        d.signal(signal.SIGTERM)
        assert d.wait_exit() == 0
        log = d.log()
        assert "closing 1 connection still open at the exit" in log, log
        assert "close listener ended: pool closed" in log, log
        assert "killing it" not in log
    finally:
        if sock is not None:
            sock.close()
        d.cleanup()


def test_a_connection_that_outlives_the_reserve_leaves_time_for_the_lifespan_shutdown():
    d = Daemon("--graceful-timeout", "8", app="apps.stubborn:app", workers=1, env={"SHUTDOWN_SECONDS": "0.4"})
    sock = None
    try:
        d.wait_ready()
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.connect(("127.0.0.1", d.port))
        sock.sendall(b"GET /big HTTP/1.1\r\nHost: x\r\n\r\n")  # and reads nothing
        assert sock.recv(16).startswith(b"HTTP/1.1 200")
        d.signal(signal.SIGTERM)
        assert d.wait_exit(timeout=15) == 0
        log = d.log()
        assert "lifespan shutdown completed" in log, log  # (it had 0.1 s: given up)
        assert "did not finish" not in log and "killing it" not in log, log
    finally:
        if sock is not None:
            sock.close()
        d.cleanup()
