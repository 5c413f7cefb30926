"""With ``threads > 1`` a large body handed over as one block in an iterator (Flask's
shape for a bytes return), a generator or ``write()`` ended its call as soon as the
block was handed to the loop, whatever its client had read: every slow reader held its
whole body in the worker (50 clients that read nothing of an 8 MiB body: 640 MB), past
the worker's 16 MiB held-bytes budget a list body keeps to. Every body shape now counts
against that budget: a call whose unsent bytes do not fit it keeps its thread until
they are out, so slow readers hold threads, not the worker's memory, and a client that
reads is served as before."""

import re
import socket
import time

import pytest

from daemon import wait_until

SIZE = 8 << 20
SLOW = 12


def rss(pid):
    with open(f"/proc/{pid}/status") as fh:
        return int(re.search(r"VmRSS:\s+(\d+) kB", fh.read()).group(1)) * 1024


def answered(sock):
    """Whether any of the answer reached ``sock`` (its head: the call was run)."""
    try:
        return bool(sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT))
    except BlockingIOError:
        return False


def fetch(port, path):
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        parts = []
        while True:
            data = sock.recv(1 << 20)
            if not data:
                break
            parts.append(data)
    return b"".join(parts)


@pytest.mark.parametrize("shape", ["iter", "gen", "write", "list"])
def test_slow_readers_of_a_large_body_hold_threads_not_the_workers_memory(daemons, shape):
    d = daemons("--interface", "wsgi", "--threads", "2", app="apps.wsgi_body_shapes:app", workers=1)
    d.wait_ready()
    (worker,) = d.wait_workers(1)
    assert fetch(d.port, "/ping").endswith(b"\r\n\r\npong")
    before = rss(worker)
    slow = []
    try:
        for _ in range(SLOW):
            sock = socket.socket()
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # reads nothing past its head
            sock.connect(("127.0.0.1", d.port))
            sock.sendall(f"GET /{shape} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
            slow.append(sock)
        # the two threads, and what the budget takes: some calls run, then no more
        wait_until(lambda: sum(map(answered, slow)) >= 2, 10, what="the first slow clients answered")
        deadline = time.monotonic() + 2  # (before the fix every call ran and ended within milliseconds)
        while time.monotonic() < deadline and sum(map(answered, slow)) < SLOW:
            time.sleep(0.05)
        ran = sum(map(answered, slow))
        grown = rss(worker) - before
        assert ran < SLOW // 2, f"{ran} of {SLOW} slow readers' calls ran and ended, the worker grew {grown >> 20} MiB"
        assert grown < 64 << 20, f"the worker grew {grown >> 20} MiB for {SLOW} slow readers of {SIZE >> 20} MiB"
    finally:
        for sock in slow:
            sock.close()
    # the slow readers gone, a client that reads gets the whole body at once, and the worker serves on
    started = time.monotonic()
    answer = fetch(d.port, f"/{shape}")
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK\r\n") and f"Content-Length: {SIZE}\r\n".encode() in head, head
    assert len(body) == SIZE and body == b"x" * SIZE
    assert time.monotonic() - started < 5
    assert fetch(d.port, "/ping").endswith(b"\r\n\r\npong")
    assert "Traceback" not in d.log(), d.log()
