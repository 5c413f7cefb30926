"""WSGI against the real daemon, on a thread pool (``threads > 1``) and on the loop
(``threads = 1``): what slow and vanishing clients of large responses cost the worker.

The app below (this module, loaded by the worker) serves the daemon; the clients are
raw sockets on loopback.
"""

import os
import socket
import time

import pytest

from daemon import Daemon, wait_until
from harness import read_until_close

# -- the app (runs in the worker) -----------------------------------------------------------------------
LARGE = 20 * 1024 * 1024  # more than the worker's budget for bytes waiting on slow readers (16 MiB)


def app(environ, start_response):
    path = environ["PATH_INFO"]
    if path == "/large":
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        return [b"x" * LARGE]  # a whole body, as a framework's Response gives it
    if path == "/file":
        name = os.path.abspath("app-file.bin")
        if not os.path.exists(name):
            with open(name + ".part", "wb") as fh:
                fh.write(b"f" * LARGE)
            os.replace(name + ".part", name)
        start_response("200 OK", [("Content-Type", "application/octet-stream"), ("Content-Length", str(LARGE))])
        return environ["wsgi.file_wrapper"](open(name, "rb"))
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"hello"]


# -- the daemon ------------------------------------------------------------------------------------------
@pytest.fixture(params=[1, 2], ids=["loop", "threads"])
def d(request):
    daemon = Daemon("--interface", "wsgi", "--threads", str(request.param), "--timeout", "2",
                    app="test_wsgi_threads_edges:app", workers=1)
    try:
        daemon.wait_ready()
        yield daemon
    finally:
        daemon.cleanup()


def rss(pid):
    with open(f"/proc/{pid}/statm") as fh:
        return int(fh.read().split()[1]) * 4096


def non_reading(d, path):
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", d.port))
    sock.sendall(b"GET " + path + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    return sock


def test_slow_readers_of_a_large_whole_body_hold_threads_not_the_workers_memory(d):
    """Clients that read nothing of a 20 MiB list body (more than the worker's budget
    for bytes waiting on slow readers): each holds the call that made it (a thread, or
    the loop's one call) until the stall watch disconnects it (``timeout``), as a
    streamed body's does; the bytes do not pile up in the worker, one body per client,
    until the socket gives up."""
    worker = d.workers()[0]
    readers = [non_reading(d, b"/large") for _ in range(4)]
    try:
        sock = socket.create_connection(("127.0.0.1", d.port), timeout=15)
        sock.sendall(b"GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        answer = read_until_close(sock)
        sock.close()
        assert answer.endswith(b"hello")
        # the answer waited for a thread: one of the readers had to be disconnected first
        assert "took nothing for" in d.log()
        assert rss(worker) < 150 * 1024 * 1024, rss(worker)  # (four bodies held: over 160 MiB)
    finally:
        for reader in readers:
            reader.close()


def test_a_reader_of_a_large_whole_body_gets_all_of_it_and_frees_its_thread(d):
    sock = socket.create_connection(("127.0.0.1", d.port), timeout=15)
    sock.sendall(b"GET /large HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    data = read_until_close(sock)
    sock.close()
    head, _, body = data.partition(b"\r\n\r\n")
    assert b"Content-Length: %d" % LARGE in head and body == b"x" * LARGE
    for _ in range(4):  # more calls than threads: each thread is free again
        assert d.request("/hello", timeout=5).endswith(b"hello")


def test_a_client_gone_while_its_large_body_waits_frees_the_thread(d):
    readers = [non_reading(d, b"/large") for _ in range(2)]  # the calls wait on them
    wait_until(lambda: kernel_has_bytes(readers[0]), 10, what="the body started")
    start = time.monotonic()
    for reader in readers:
        reader.close()
    assert d.request("/hello", timeout=5).endswith(b"hello")
    assert time.monotonic() - start < 1.5  # not the stall watch's 2 s: the close freed them


def kernel_has_bytes(sock):
    sock.setblocking(False)
    try:
        return bool(sock.recv(1, socket.MSG_PEEK))
    except BlockingIOError:
        return False
    finally:
        sock.setblocking(True)


def test_a_client_that_reads_nothing_of_a_file_is_cut_after_timeout_not_twice_that(d):
    """A ``wsgi.file_wrapper`` response (sendfile on the loop, iterated on threads) to a
    client that reads nothing: disconnected ``timeout`` (2 s) after the server's send
    queue last moved, not after two periods (the first look at the queue counted as
    progress)."""
    assert d.request("/file", timeout=10).endswith(b"f" * 1000)  # the file exists: only the wait is timed
    reader = non_reading(d, b"/file")
    try:
        client_port = reader.getsockname()[1]
        last, moved = None, time.monotonic()
        deadline = moved + 15
        while "took nothing for" not in d.log():
            queue = server_send_queue(d.port, client_port)
            if queue != last:
                last, moved = queue, time.monotonic()
            assert time.monotonic() < deadline, "never disconnected"
            time.sleep(0.01)
        assert time.monotonic() - moved < 3.2  # 2 s, looked at every 0.5 s (two periods: 4 s)
    finally:
        reader.close()


def server_send_queue(server_port, client_port):
    """The server-side socket's send queue (tx_queue in /proc/net/tcp), or None."""
    local, remote = f":{server_port:04X}", f":{client_port:04X}"
    with open("/proc/net/tcp") as fh:
        for line in fh.readlines()[1:]:
            fields = line.split()
            if fields[1].endswith(local) and fields[2].endswith(remote):
                return int(fields[4].split(":")[0], 16)
    return None
