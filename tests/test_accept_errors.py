"""accept(2)'s errors for one connection, made by strace's fault injection on the real
worker: Linux passes a connection's pending network error (EPROTO, ENETUNREACH, ...) or a
firewall's EPERM on from accept(2); the worker drops that attempt and goes on accepting,
with no traceback in the error log and every client answered."""

import socket
import subprocess
import time

import pytest

from daemon import Daemon, wait_until
from debian import ensure


@pytest.fixture
def strace():
    path, why = ensure("strace", "strace")
    assert path is not None, why  # a root apt machine (CI) can always install it
    return path


@pytest.mark.parametrize("error", ["EPROTO", "ENETUNREACH", "EPERM"])
def test_a_network_error_from_accept_drops_only_that_attempt(strace, error):
    daemon = Daemon(app="apps.hello:setup", workers=1)
    tracer = None
    try:
        daemon.wait_ready()
        [worker] = daemon.wait_workers(1)
        # the next three accept4 calls fail as the kernel would fail them
        tracer = subprocess.Popen([strace, "-f", "-p", str(worker), "-e", "trace=accept4",
                                   "-e", f"inject=accept4:error={error}:when=1..3"],
                                  stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 20
        while "attached" not in tracer.stderr.readline():
            assert time.monotonic() < deadline and tracer.poll() is None, "strace did not attach"
        for _ in range(3):
            with socket.create_connection(("127.0.0.1", daemon.port), timeout=10) as sock:
                sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                reply = b""
                while chunk := sock.recv(65536):
                    reply += chunk
            assert reply.startswith(b"HTTP/1.1 200 OK\r\n") and reply.endswith(b"Hello, World!")
        tracer.terminate()
        tracer.wait(20)
        trace = tracer.stderr.read()
        assert trace.count(f"= -1 {error}") == 3, trace  # the injected failures did happen
        assert daemon.workers() == [worker]  # the same worker served, it did not die
        log = daemon.log()
        assert "Traceback" not in log and "Exception in callback" not in log, log
    finally:
        if tracer is not None and tracer.poll() is None:
            tracer.kill()
            tracer.wait()
        daemon.cleanup()
