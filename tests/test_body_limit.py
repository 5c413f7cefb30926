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


def test_an_uncaught_body_limit_answers_413_not_500(caplog):
    """A handler that lets ``body(limit)``'s error escape: the client gets its 413 (the
    client's fault, said at info without a traceback), not a 500."""
    from conftest import ServerThread

    async def on_request(req, res):
        res.end(await req.body(limit=100))

    st = ServerThread(lambda server, st: server.on("request", on_request))
    try:
        with caplog.at_level("INFO", logger="prefork.server"):
            small = post(st.port, 50)
            big = post(st.port, 5000)
        assert small.startswith(b"HTTP/1.1 200") and small.endswith(b"x" * 50)
        assert big.startswith(b"HTTP/1.1 413 Payload Too Large"), big[:200]
        assert not [r for r in caplog.records if r.levelname == "ERROR"]
        assert any("ERR_BODY_TOO_LARGE" in r.getMessage() and "answered 413" in r.getMessage() for r in caplog.records)
    finally:
        st.stop()
