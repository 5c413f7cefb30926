"""Bytes a client may send at will cost a worker no more than a body of their size.

Rules under test: http/llhttp.py (line ends between messages, which llhttp skips, are one
piece however many blank lines they hold) and http/chunks.py (a chunk size's leading
zeros, which llhttp takes in any number, are skipped as one run). Before, every blank
line between two requests was a call into llhttp of its own and every leading zero a
step in Python: one client streaming either kept a worker busy at a few MB/s (a hundred
times the CPU of a Content-Length body of the same size), where Node reads them as
fast as a body.
"""

import os
import socket

import pytest

from daemon import wait_until
from hostile import taken, upload_count_daemon

SIZE = 16 << 20
BLOCK = 64 << 10


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@pytest.fixture(scope="module")
def daemon():
    d = upload_count_daemon()
    try:
        yield d
    finally:
        d.cleanup()


def cost(daemon, head, filler, tail, body_bytes):
    """Worker CPU seconds to read ``head``, SIZE bytes of ``filler`` and ``tail``, once
    the app took ``body_bytes`` more body bytes."""
    before = taken(daemon)
    sock = socket.create_connection(("127.0.0.1", daemon.port), timeout=30)
    try:
        start = cpu_seconds(daemon.worker)
        sock.sendall(head)
        block = filler * (BLOCK // len(filler))
        for _ in range(SIZE // BLOCK):
            sock.sendall(block)
        sock.sendall(tail)
        wait_until(lambda: taken(daemon) == before + body_bytes, 30, interval=0.05, what="the bytes read")
        return cpu_seconds(daemon.worker) - start
    finally:
        sock.close()


def body_cost(daemon):
    return cost(daemon, b"POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % SIZE, b"a", b"", SIZE)


def test_blank_lines_between_requests_cost_no_more_than_a_body_of_their_size(daemon):
    body = body_cost(daemon)
    blank = cost(daemon, b"", b"\r\n", b"POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nab", 2)
    assert daemon.workers() == [daemon.worker]
    assert blank < 3 * body + 0.25, f"{SIZE >> 20} MiB: {blank:.2f} s of CPU as blank lines, {body:.2f} s as a body"


def test_a_chunk_size_of_many_leading_zeros_costs_no_more_than_a_body_of_its_size(daemon):
    body = body_cost(daemon)
    zeros = cost(daemon, b"POST /up HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n", b"0",
                 b"3\r\nabc\r\n0\r\n\r\n", 3)
    assert daemon.workers() == [daemon.worker]
    assert zeros < 3 * body + 0.25, f"{SIZE >> 20} MiB: {zeros:.2f} s of CPU as size zeros, {body:.2f} s as a body"
