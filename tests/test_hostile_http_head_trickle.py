"""A head (or trailers) trickled in tiny reads costs the worker about its bytes, not an
object per read.

Rule under test (http/diagnosis.py, http/llhttp.py): the parser keeps the reads of a head
or trailers that span reads (to count them as Node counts them and to report an error in
them at Node's offset), small reads joined into one object. Before, each read was kept
as its own bytes object, some 40 bytes of memory for every 2-byte read: ten peers
sending a field of blanks (llhttp counts no blank before a value, so max_header_size
does not stop it) two bytes at a time made a worker hold about 30 times the bytes they
sent until headers_timeout (request_timeout for trailers).
"""

import socket
import time

import pytest

from daemon import wait_until
from hostile import rss, upload_count_daemon

KB = 1024
MB = 1024 * KB
PEERS = 10
ROUNDS = 25000  # two bytes per peer each: 50 KB of head per peer


def unread(port):
    """Bytes waiting in the receive queues of the server's connections on ``port``."""
    total = 0
    with open("/proc/net/tcp") as fh:
        for line in fh.readlines()[1:]:
            fields = line.split()
            if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == "01":  # established
                total += int(fields[4].split(":")[1], 16)
    return total


@pytest.fixture
def daemon():
    d = upload_count_daemon("--headers-timeout", "60", "--request-timeout", "120")
    try:
        yield d
    finally:
        d.cleanup()


STARTS = {
    "head": b"GET / HTTP/1.1\r\nHost: x\r\nX-Blank:",
    "trailers": b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n0\r\nX-Blank:",
}


@pytest.mark.parametrize("where", list(STARTS))
def test_a_field_in_tiny_reads_holds_about_its_bytes(daemon, where):
    worker = daemon.worker
    assert daemon.request("/count").startswith(b"HTTP/1.1 200 OK")
    before = rss(worker)
    socks = []
    try:
        for _ in range(PEERS):
            sock = socket.create_connection(("127.0.0.1", daemon.port), timeout=10)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.sendall(STARTS[where])
            socks.append(sock)
        for _ in range(ROUNDS):
            for sock in socks:
                sock.sendall(b"  ")
            time.sleep(0.0001)  # pacing the peers: tiny reads
        sent = PEERS * ROUNDS * 2
        wait_until(lambda: unread(daemon.port) == 0, 30, interval=0.05, what="the worker read every byte sent")
        growth = rss(worker) - before
        # 500 KB sent; kept an object per read, they took some 15 MB
        assert growth < 4 * MB, f"the worker grew by {growth / MB:.1f} MB for {sent / KB:.0f} KB of {where}"
    finally:
        for sock in socks:
            sock.close()
    assert daemon.workers() == [worker]
