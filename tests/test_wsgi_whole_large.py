"""A large whole body (a list holding one big bytes) cost the worker twice its size: the
head was joined to it in one new bytes, a copy the socket held while the app's own
bytes lived on (with threads, the call's thread keeps them until its client has the
body; an app that keeps the bytes, a cached export, keeps them for good). With a slow
reader per thread that is twice the memory gunicorn's gthread worker uses for the same
answers. The head now goes out first, then the body as it is: the worker's peak is the
app's bytes once.
"""

import re
import socket

import pytest

SIZE = 96 * 1024 * 1024


def peak(pid):
    with open(f"/proc/{pid}/status") as fh:
        return int(re.search(r"VmHWM:\s+(\d+) kB", fh.read()).group(1)) * 1024


def fetch(port, path, version="1.1"):
    """The whole answer to one GET (the connection closed after it)."""
    with socket.create_connection(("127.0.0.1", port), timeout=20) as sock:
        sock.sendall(f"GET {path} HTTP/{version}\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        parts = []
        while True:
            data = sock.recv(1 << 20)
            if not data:
                break
            parts.append(data)
    return b"".join(parts)


@pytest.mark.parametrize("threads", ["1", "4"])
def test_a_large_whole_body_costs_the_worker_its_size_once(daemons, threads):
    d = daemons("--interface", "wsgi", "--threads", threads, app="apps.wsgi_whole_large:app", workers=1)
    d.wait_ready()
    (worker,) = d.wait_workers(1)
    small = fetch(d.port, "/?10")
    assert small.endswith(b"\r\n\r\nxxxxxxxxxx"), small
    before = peak(worker)
    answer = fetch(d.port, f"/?{SIZE}")
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK\r\n"), head
    assert f"\r\nContent-Length: {SIZE}\r\n".encode() in head + b"\r\n", head
    assert body == b"x" * SIZE
    body = answer = None
    grown = peak(worker) - before
    assert grown < SIZE * 1.5, f"the worker's peak grew by {grown >> 20} MiB for a {SIZE >> 20} MiB body"


@pytest.mark.parametrize("threads", ["1", "4"])
def test_a_large_whole_body_to_http_1_0_ends_at_the_close_as_before(daemons, threads):
    d = daemons("--interface", "wsgi", "--threads", threads, app="apps.wsgi_whole_large:app", workers=1)
    d.wait_ready()
    answer = fetch(d.port, "/?300000", version="1.0")
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK\r\n"), head
    assert b"content-length" not in head.lower() and b"chunked" not in head.lower(), head
    assert body == b"x" * 300000
