"""The operations endpoints take no body: a request whose body is still coming when
it is answered gets ``Connection: close`` and its connection is closed as soon as the
answer is out (the master reads no more of it), without an error in the master's log.
The close goes through the request's socket: the response lets go of its own at its
``finish``, as Node's."""

import socket
import time

from harness import read_until_close


def test_a_body_still_coming_is_cut_at_the_answer(daemons):
    d = daemons(workers=1)
    d.wait_ready()
    port = d.metrics_port()
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(b"POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\nsome")
        started = time.monotonic()
        got = read_until_close(sock)
        closed_in = time.monotonic() - started
    assert got.startswith(b"HTTP/1.1 405 ") and b"Connection: close" in got, got
    assert closed_in < 2.5, closed_in  # closed at the answer, not at a timeout or linger's end
    # the master's loop has answered another request since: what it logged for the
    # first one is in its log
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        answer = read_until_close(sock)
    assert answer.startswith(b"HTTP/1.1 200 "), answer
    assert "Traceback" not in d.log() and "error in a request listener" not in d.log(), d.log()
