"""Uploads in progress cost the worker no memory for the body bytes the app already took.

Rule under test (http/llhttp.py): the parser keeps the reads of a message that spans
reads, to report a later error in it at Node's offset; the body bytes in them (a read
that was all body, the chunk data of a chunked body) are kept as their length alone.
Before, every upload in progress held up to 256 KiB of body bytes the app had already
taken and dropped, so a few hundred slow uploads (or one client opening them) made a
worker grow by tens of MB more than their sockets' buffers.
"""

import socket

import pytest

from daemon import wait_until
from hostile import open_fds, rss, taken, upload_count_daemon, wait_fds_at_most

KB = 1024
MB = 1024 * KB
UPLOADS = 200
SENT = 15 * 16 * KB  # below the parser's 256 KiB bound on what it keeps


@pytest.fixture
def daemon():
    d = upload_count_daemon()
    try:
        yield d
    finally:
        d.cleanup()


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
def test_uploads_in_progress_hold_no_body_bytes_the_app_took(daemon, framing):
    worker = daemon.worker
    taken(daemon)  # warmed up
    fds = open_fds(worker)
    before = rss(worker)
    socks = []
    try:
        chunk = b"a" * (16 * KB)
        for _ in range(UPLOADS):
            sock = socket.create_connection(("127.0.0.1", daemon.port), timeout=10)
            socks.append(sock)
            if framing == "chunked":  # a chunk per write, as streaming clients send them
                sock.sendall(b"POST /up HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
                for _ in range(SENT // len(chunk)):
                    sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            else:
                sock.sendall(b"POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % (10 * MB))
                for _ in range(SENT // len(chunk)):
                    sock.sendall(chunk)
        wait_until(lambda: taken(daemon) >= UPLOADS * SENT, 30, what="the app took every body byte sent")
        growth = rss(worker) - before
        # the bodies sent add up to 48 MB; they were kept whole (+ ~50 MB) before
        assert growth < UPLOADS * SENT // 2, f"the worker grew by {growth / MB:.1f} MB"
    finally:
        for sock in socks:
            sock.close()
    wait_fds_at_most(fds, worker)
    assert daemon.workers() == [worker]
    assert daemon.request("/count").startswith(b"HTTP/1.1 200 OK")
