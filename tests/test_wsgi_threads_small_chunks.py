"""WSGI on a thread pool (``threads > 1``): a chunked body sent in many tiny chunks reaches the
app's thread in batches, not one thread switch a chunk, and reads the same bytes as before
(``read(n)``, ``readline``, the whole body).

The app below (this module, loaded by the worker) serves the daemon; the clients are raw
sockets on loopback.
"""

import socket
import threading

import pytest

from daemon import Daemon

CHUNKS = 200_000  # 1-byte chunks in one body: 1.2 MB on the wire
HIGH_WATER = 256 * 1024  # what a call's pipe holds before its thread reads (wsgi/pipe.py)


# -- the app (runs in the worker) -----------------------------------------------------------------------
def switches():
    """The voluntary context switches of the calling thread so far (each time it blocked)."""
    with open(f"/proc/self/task/{threading.get_native_id()}/status") as fh:
        for line in fh:
            if line.startswith("voluntary_ctxt_switches:"):
                return int(line.split()[1])
    raise RuntimeError("no voluntary_ctxt_switches")


def app(environ, start_response):
    body = environ["wsgi.input"]
    path = environ["PATH_INFO"]
    before = switches()
    if path == "/all":
        parts = [body.read()]
    elif path == "/lines":
        parts = list(iter(body.readline, b""))
    else:  # /sized
        parts = list(iter(lambda: body.read(7), b""))
    blocked = switches() - before
    data = b"".join(parts)
    out = f"{len(data)} {blocked} {len(parts)} {data.count(b'x')} {max(map(len, parts), default=0)}".encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(out)))])
    return [out]


# -- the daemon ------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def d():
    daemon = Daemon("--interface", "wsgi", "--threads", "4", "--timeout", "30",
                    app="test_wsgi_threads_small_chunks:app", workers=1)
    try:
        daemon.wait_ready()
        yield daemon
    finally:
        daemon.cleanup()


def post_chunks(d, path, chunks):
    """POST ``chunks`` as one chunk each, written at once; the app's answer's body."""
    wire = b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in chunks) + b"0\r\n\r\n"
    with socket.create_connection(("127.0.0.1", d.port), timeout=30) as sock:
        sock.sendall(f"POST {path} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                     f"Connection: close\r\n\r\n".encode() + wire)
        answer = b""
        while True:
            data = sock.recv(65536)
            if not data:
                break
            answer += data
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 "), head
    return [int(n) for n in body.split()]


def test_a_body_of_tiny_chunks_wakes_the_apps_thread_a_batch_at_a_time_not_a_chunk(d):
    # the first chunk fills the pipe's high-water mark: the call starts on a thread then,
    # and the tiny chunks stream to it
    size, blocked, parts, xs, _ = post_chunks(d, "/all", [b"x" * HIGH_WATER] + [b"x"] * CHUNKS)
    assert (size, parts, xs) == (HIGH_WATER + CHUNKS, 1, HIGH_WATER + CHUNKS)
    # each time the thread blocked (on the pipe's condition, on the GIL) is a switch: woken
    # a chunk, it took the GIL back and forth some 250 times for this body, twice the
    # worker's CPU; woken once what it waits for is held, a few times
    assert blocked < 50, blocked


def test_readline_over_tiny_chunks_returns_each_line_whole(d):
    lines = [b"x" * n + b"\n" for n in range(1, 400)]
    chunks = [bytes([c]) for c in b"".join(lines)]
    size, _, parts, xs, longest = post_chunks(d, "/lines", chunks)
    assert (size, parts, xs, longest) == (len(chunks), len(lines), len(chunks) - len(lines), 400)


def test_read_n_over_tiny_chunks_returns_n_bytes_until_the_end(d):
    chunks = [b"x"] * 1000 + [b"x" * 5000] + [b"x"] * 1003
    size, _, parts, xs, longest = post_chunks(d, "/sized", chunks)
    assert (size, xs, longest) == (7003, 7003, 7)
    assert parts == 1001  # 7003 = 1000 reads of 7 and one of 3
