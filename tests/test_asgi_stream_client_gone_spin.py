"""A streamed response whose client resets while the app's generator never awaits (a
Starlette ``StreamingResponse`` over chunks made in memory) ends, and the worker
serves on: a ``send()`` dropped because the client is gone (spec 2.3, as under
uvicorn) still gives the loop one turn, so Starlette's disconnect listener runs and
cancels the stream. Before, each dropped ``send()`` returned at once: the app spun in
the worker's loop for ever, every other connection of that worker went unanswered,
and the master aborted the worker when its heartbeats stopped (uvicorn hangs there
for good)."""

import socket
import time

from daemon import Daemon
from harness import get_until_close


def test_a_stream_whose_client_reset_ends_and_the_worker_serves_on():
    d = Daemon(app="apps.asgi_stream_spin:app", workers=1)
    try:
        d.wait_ready()
        workers = d.workers()
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.settimeout(5)
        sock.connect(("127.0.0.1", d.port))
        sock.sendall(b"GET /big HTTP/1.1\r\nHost: h\r\n\r\n")
        assert sock.recv(4096).startswith(b"HTTP/1.1 200 OK\r\n")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        sock.close()  # a reset
        started = time.monotonic()
        try:
            answer = get_until_close(d.port, "/")  # (5 s at most)
        except socket.timeout:
            answer = f"nothing in {time.monotonic() - started:.1f} s: the worker is stuck in the app".encode()
        assert answer.startswith(b"HTTP/1.1 200 OK\r\n") and answer.endswith(b"ok"), answer
        assert d.workers() == workers  # the same worker, not one the master replaced
    finally:
        d.cleanup()
