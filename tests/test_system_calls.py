"""The system calls a worker makes per response, counted by strace on the real daemon:
a streamed response (a WSGI generator, as every Flask response is) goes out in one
``sendto``, with no empty one after it."""

import re
import signal
import socket
import subprocess
import time

import pytest

from daemon import Daemon, wait_until
from debian import ensure

REQUESTS = 20


@pytest.fixture
def strace():
    path, why = ensure("strace", "strace")
    assert path is not None, why  # a root apt machine (CI) can always install it
    return path


def read_response(sock, size):
    data = b""
    while not data.endswith(b"z" * size):
        chunk = sock.recv(65536)
        assert chunk, data
        data += chunk
    return data


@pytest.mark.parametrize("threads", [1, 4], ids=["loop", "threads"])
def test_a_streamed_wsgi_response_is_one_send(strace, tmp_path, threads):
    daemon = Daemon("--interface", "wsgi", "--threads", str(threads), app="apps.wsgi_apps:big", workers=1)
    tracer = None
    try:
        daemon.wait_ready()
        [worker] = daemon.wait_workers(1)
        with socket.create_connection(("127.0.0.1", daemon.port), timeout=10) as sock:
            sock.sendall(b"GET /?13 HTTP/1.1\r\nHost: x\r\n\r\n")  # the first one: imports, caches
            read_response(sock, 13)
            out = tmp_path / "strace.txt"
            tracer = subprocess.Popen([strace, "-f", "-p", str(worker), "-e", "trace=sendto,sendmsg,write,writev",
                                       "-o", str(out)], stderr=subprocess.PIPE, text=True)
            deadline = time.monotonic() + 20
            while "attached" not in tracer.stderr.readline():
                assert time.monotonic() < deadline and tracer.poll() is None, "strace did not attach"
            for _ in range(REQUESTS):
                sock.sendall(b"GET /?13 HTTP/1.1\r\nHost: x\r\n\r\n")
                assert read_response(sock, 13).startswith(b"HTTP/1.1 200 OK\r\n")
        tracer.send_signal(signal.SIGINT)
        tracer.wait(20)
        wait_until(lambda: out.exists() and "HTTP/1.1 200" in out.read_text(), 10, what="the trace")
        calls = [line for line in out.read_text().splitlines() if re.search(r"\b(sendto|sendmsg|write|writev)\(", line)]
        answers = [line for line in calls if "HTTP/1.1 200 OK" in line]
        empty = [line for line in calls if re.search(r'sendto\(\d+, "", 0,', line)]
        assert len(answers) == REQUESTS and not empty, "\n".join(calls)
        # each answer's head and body in the same call (its length argument; a line may be
        # cut by strace in two, "<unfinished ...>" and "resumed", when another thread runs)
        assert all(re.search(r'\.\.\., 1\d\d, 0,', line) for line in answers), "\n".join(answers)
    finally:
        if tracer is not None and tracer.poll() is None:
            tracer.kill()
            tracer.wait()
        daemon.cleanup()
