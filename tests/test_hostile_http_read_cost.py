"""A read of a request body costs the same whatever the number of fields in its head.

Rule under test (http/llhttp.py): a read that holds a blank line (CRLF CRLF) inside a
Content-Length body is handed to llhttp up to the body's end, which is looked up in the
head once a message. Before, every such read walked all the head's fields (a head of
16,000 empty fields fits in max_header_size), so one client trickling a body of blank
lines, a few KB a second, kept a worker busy (ten times the CPU of the same reads after
a short head).
"""

import os
import socket
import time

import pytest

from daemon import wait_until
from hostile import taken, upload_count_daemon

READS = 3000
READ = b"\r\n\r\nab"  # a blank line inside each read of the body


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@pytest.fixture
def daemon():
    d = upload_count_daemon()
    try:
        yield d
    finally:
        d.cleanup()


def body_cost(daemon, fields):
    """Worker CPU seconds for READS reads of a body after a head of ``fields`` fields."""
    before = taken(daemon)
    sock = socket.create_connection(("127.0.0.1", daemon.port), timeout=10)
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.sendall(b"POST /up HTTP/1.1\r\nHost: x\r\n" + b"a:\r\n" * fields + b"Content-Length: 10000000\r\n\r\nab")
        wait_until(lambda: taken(daemon) == before + 2, 10, interval=0.1, what="the head read")
        start = cpu_seconds(daemon.worker)
        for _ in range(READS):
            sock.sendall(READ)
            time.sleep(0.0003)  # pacing the peer: a read each
        wait_until(lambda: taken(daemon) == before + 2 + READS * len(READ), 30, interval=0.1,
                   what="the body read")
        return cpu_seconds(daemon.worker) - start
    finally:
        sock.close()


def test_a_body_read_costs_no_walk_over_the_head(daemon):
    short = body_cost(daemon, 10)
    long = body_cost(daemon, 16000)
    assert daemon.workers() == [daemon.worker]
    assert long < 3 * short + 0.1, f"{READS} reads: {long:.2f} s of CPU after 16,000 fields, {short:.2f} s after 10"
