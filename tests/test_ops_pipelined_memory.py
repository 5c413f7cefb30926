"""Clients pipelining requests on the operations endpoints without reading the answers
must not grow the master's memory: its loop answers a connection's next request only
once the previous answer is in the kernel, so a connection holds one answer in the
master (and its unread requests wait in the kernel), whatever it sent. Real daemon and
sockets; the master's peak resident size is read from /proc (VmHWM)."""

import re
import socket

from harness import read_until_close
from test_ops_endpoints import probe

BURST = 400  # connections, each writing a flood of /metrics requests it never reads
FLOOD = b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n" * 20000
GROWTH_LIMIT_KB = 25 * 1024  # (about 10 MB now; 40 MB when every request read was answered at once)


def memory_kb(pid, field):
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise AssertionError(f"no {field} for {pid}")


def test_a_burst_of_pipelining_connections_that_never_read_keeps_the_master_small(daemons):
    d = daemons(workers=1)
    d.wait_ready()
    port = d.metrics_port()
    assert probe(port).startswith(b"HTTP/1.1 200 OK")
    before = memory_kb(d.pid, "VmRSS")
    socks = []
    try:
        for _ in range(BURST):
            sock = socket.create_connection(("127.0.0.1", port), timeout=5)
            sock.setblocking(False)
            try:
                sock.send(FLOOD)  # as much as the kernel takes at once
            except BlockingIOError:
                pass
            socks.append(sock)
        # accepted after the whole burst: the master has taken (and read) all of it
        assert probe(port, source="127.0.0.3").startswith(b"HTTP/1.1 200 OK")
    finally:
        for sock in socks:
            sock.close()
    peak = memory_kb(d.pid, "VmHWM")
    assert peak - before < GROWTH_LIMIT_KB, f"the master grew from {before} kB to a peak of {peak} kB"


def test_pipelined_requests_read_as_they_come_are_all_answered_in_order(daemons):
    d = daemons(workers=1)
    d.wait_ready()
    port = d.metrics_port()
    paths = ["/healthz", "/readyz", "/nope", "/metrics"] * 50
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    try:
        sock.sendall(b"".join(f"GET {p} HTTP/1.1\r\nHost: x\r\n\r\n".encode() for p in paths)
                     + b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = read_until_close(sock)
    finally:
        sock.close()
    statuses = re.findall(rb"HTTP/1\.1 (\d{3}) ", data)
    expected = [b"404" if p == "/nope" else b"200" for p in paths] + [b"200"]
    assert statuses == expected
