"""A streamed WSGI body on the loop (``threads = 1``) to a client that reads slowly:
the worker waits on the client again and again, and each wait keeps at most the one
block it took from the app and has not sent yet. Against the real daemon, with raw
loopback clients: the worker's memory stays bounded however much has gone out (each
wait wrapped the app's iterator once more: the blocks sent stayed alive, and every
``next()`` walked every wrapper).
"""

import hashlib
import os
import re
import socket
import time

from daemon import Daemon

MB = 1024 * 1024


# -- the app (runs in the worker) -----------------------------------------------------------------------
def app(environ, start_response):
    path = environ["PATH_INFO"]
    if path != "/closing":
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
    if path == "/large":  # 200 blocks of 1 MiB, each its own bytes
        return (bytes([65 + i % 26]) * MB for i in range(200))
    if path == "/closing":  # an iterable of its own: write()s, then 40 blocks of 256 KiB; close() noted
        write = start_response("200 OK", [("Content-Type", "application/octet-stream")])
        for i in range(8):
            write(bytes([97 + i]) * (256 * 1024))  # (past the high-water mark: to disk while the client pushes back)
        return Closing(os.path.abspath("closed-" + environ["QUERY_STRING"]))
    return [b"hello"]


class Closing:
    def __init__(self, path):
        self.path = path

    def __iter__(self):
        return (bytes([65 + i % 26]) * (256 * 1024) for i in range(40))

    def close(self):
        with open(self.path, "a") as fh:
            fh.write("closed\n")


# -- helpers --------------------------------------------------------------------------------------------
def status_kib(pid, field):
    with open(f"/proc/{pid}/status") as fh:
        return int(re.search(rf"{field}:\s+(\d+) kB", fh.read()).group(1))


def read_chunked_body(pid, port, path, step, pause, deadline):
    """GET ``path`` with a small receive buffer, reading ``step`` bytes at a time with
    ``pause`` seconds between steps (a slow reader); the body's (length, SHA-256) and
    the worker's largest RSS seen (KiB)."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
    sock.settimeout(10)
    sock.connect(("127.0.0.1", port))
    sock.sendall(b"GET " + path + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    data = bytearray()
    largest = 0
    try:
        while time.monotonic() < deadline:
            chunk = sock.recv(step)
            if not chunk:
                break
            if len(data) >> 20 != (len(data) + len(chunk)) >> 20:  # (once a MiB)
                largest = max(largest, status_kib(pid, "VmRSS"))
            data += chunk
            if pause:
                time.sleep(pause)
    finally:
        sock.close()
    head, _, body = bytes(data).partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK"), head
    return dechunked(body), largest


def dechunked(body):
    """The chunked ``body``'s length and SHA-256."""
    total = 0
    digest = hashlib.sha256()
    at = 0
    while True:
        end = body.index(b"\r\n", at)
        size = int(body[at:end], 16)
        if size == 0:
            return total, digest.hexdigest()
        total += size
        digest.update(memoryview(body)[end + 2:end + 2 + size])
        at = end + 2 + size + 2


def start():
    daemon = Daemon("--interface", "wsgi", "--threads", "1", "--timeout", "10",
                    app="test_wsgi_stream_waits:app", workers=1)
    daemon.wait_ready()
    return daemon


# -- the tests ------------------------------------------------------------------------------------------
def test_a_slow_reader_of_a_200_mib_generator_costs_the_worker_a_bounded_memory():
    """Before, each wait wrapped the app's iterator around the block it took, and every
    block sent stayed alive until the response ended: ~176 MB for 200 MB read."""
    d = start()
    try:
        worker = d.workers()[0]
        before = status_kib(worker, "VmRSS")
        length, largest = read_chunked_body(worker, d.port, b"/large", 256 * 1024, 0.001, time.monotonic() + 20)
        assert length == (200 * MB, hashlib.sha256(b"".join(bytes([65 + i % 26]) * MB for i in range(200))).hexdigest())
        grown = max(largest, status_kib(worker, "VmHWM")) - before
        assert grown < 60 * 1024, f"the worker grew by {grown} KiB"
        assert d.request("/hello", timeout=5).endswith(b"hello")
    finally:
        d.cleanup()


def test_a_stream_that_waited_many_times_closes_the_apps_own_iterable_once_with_every_byte_in_order():
    """write()s that go to disk while the client pushes back, then an iterable's
    blocks that wait behind them and on the client: the body arrives whole and in
    order, and close() is called once, on the object the app returned."""
    d = start()
    try:
        worker = d.workers()[0]
        length, _ = read_chunked_body(worker, d.port, b"/closing?one", 64 * 1024, 0.001, time.monotonic() + 20)
        expected = b"".join(bytes([97 + i]) * (256 * 1024) for i in range(8)) + \
            b"".join(bytes([65 + i % 26]) * (256 * 1024) for i in range(40))
        assert length == (len(expected), hashlib.sha256(expected).hexdigest())
        with open(os.path.join(d.tmp, "closed-one")) as fh:
            assert fh.read() == "closed\n"
    finally:
        d.cleanup()
