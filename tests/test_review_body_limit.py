"""``await req.body(limit)``: past the limit, ERR_BODY_TOO_LARGE with status 413 at once,
and the rest of the body is not kept (a client could make ``body()`` hold any size: a
worker went from 20 to 1,060 MiB in two seconds); within it, the whole body."""

import socket

from daemon import Daemon
from harness import read_until_close


def post(port, size, send=None):
    """The answer to a POST of ``size`` bytes declared, ``send`` of them sent (all)."""
    send = size if send is None else send
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        head = b"POST / HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: %d\r\n\r\n" % size
        sock.sendall(head + b"x" * send)
        return read_until_close(sock)


def test_a_body_past_its_limit_is_refused_and_not_kept():
    d = Daemon(app="apps.bounded_body:setup", workers=1)
    try:
        d.wait_ready()
        assert post(d.port, 1000).endswith(b"1000 bytes")
        big = post(d.port, 1 << 30, send=1 << 20)  # (a 1 GiB body declared: its first MiB sent)
        assert big.startswith(b"HTTP/1.1 413") and b"ERR_BODY_TOO_LARGE" in big, big[:200]
        worker = d.workers()[0]
        rss = int(next(line.split()[1] for line in open(f"/proc/{worker}/status") if line.startswith("VmRSS")))
        assert rss < 64 * 1024, rss  # kB: not the body kept
    finally:
        d.cleanup()
