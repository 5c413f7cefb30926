"""``write()`` to a client that has gone raises ``ClientDisconnected`` (an ``OSError``) on
the loop (``threads = 1``) as on threads, as gunicorn's sync worker's send raises: an
app writing a long export learns that its client left instead of writing it all to
nothing. On the loop, the write whose send finds the reset raises. A server on loopback
in this process; the client resets its connection while the app waits."""

import logging
import socket
import struct
import threading

import pytest

from daemon import wait_until
from prefork.wsgi import ClientDisconnected, WSGIAdapter

BLOCKS = 200


@pytest.mark.parametrize("threads", [1, 2], ids=["loop", "threads"])
def test_write_after_the_client_reset_raises(serve, threads, caplog):
    go = threading.Event()
    outcome = []
    closed = []

    class Export:
        def __iter__(self):
            return iter(())

        def close(self):
            closed.append(True)

    def app(environ, start_response):
        write = start_response("200 OK", [("Content-Type", "text/csv")])
        write(b"id,name\n")
        go.wait(5)  # the client resets meanwhile
        written = 0
        try:
            for _ in range(BLOCKS):
                write(b"row\n" * 16384)
                written += 1
        except OSError as exc:
            outcome.append((exc.__class__, written))
            raise
        outcome.append((None, written))
        return Export()

    adapter = WSGIAdapter(app, threads=threads)
    st_ = serve(lambda server, _st: adapter.setup(server))
    caplog.set_level(logging.DEBUG, logger="prefork.wsgi")
    try:
        sock = socket.create_connection(("127.0.0.1", st_.port), timeout=5)
        sock.sendall(b"GET /export HTTP/1.1\r\nHost: x\r\n\r\n")
        head = b""
        while b"id,name\n" not in head:
            chunk = sock.recv(4096)
            assert chunk, head
            head += chunk
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()  # a reset
        if threads > 1:
            # the loop, free meanwhile, reads the reset (under load the kernel may take it
            # after the loop has already sent a few blocks into the socket's buffer)
            wait_until(lambda: st_.call(lambda: st_.server.open_connections) == 0, 5,
                       what="the server to see the reset")
        go.set()
        wait_until(lambda: outcome, 5, what="the app's writes to end")
        kind, written = outcome[0]
        assert kind is ClientDisconnected and issubclass(kind, OSError), outcome
        # on the loop the write whose send meets the reset raises (before: all 200 blocks
        # were written to nothing); a thread may first hand over its 256 KiB in flight
        assert written <= (1 if threads == 1 else 5), outcome
        wait_until(lambda: any("client gone during GET /export" in r.getMessage() for r in caplog.records), 5,
                   what="the call's end logged")
        assert not [r for r in caplog.records if r.levelno >= logging.ERROR and r.name == "prefork.wsgi"], \
            [r.getMessage() for r in caplog.records]
        assert not closed  # (the app raised: it returned no iterable to close)
    finally:
        go.set()
        adapter.close()
