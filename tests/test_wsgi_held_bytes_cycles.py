"""A WSGI response whose bytes still wait on the socket when the call ends counts them
against the worker's held-bytes budget until the socket drains or closes. A client
that resets such a connection (it read part of a large response, then vanished) must
leave its socket to reference counting: the budget's release listener is taken off and
lets go of the socket. The listener was a closure that named itself (to take itself
off), a reference cycle that kept each such socket until a full collection.

Real loopback sockets; the server's loop runs in a thread of this process.
"""

import socket
import time

import pytest

from prefork.wsgi import WSGIAdapter

from harness import left_in_cycles
from leakdrive import reset

BIG = b"x" * (4 << 20)


def big(environ, start_response):
    start_response("200 OK", [("Content-Length", str(len(BIG)))])
    return [BIG]


def read_head_then_reset(port):
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, data
        data += chunk
    reset(sock)


@pytest.mark.parametrize("threads", [1, 4])
def test_a_socket_reset_mid_response_is_freed_without_the_cycle_collector(serve, threads):
    def setup(server, st):
        st.adapter = WSGIAdapter(big, threads=threads)
        st.adapter.setup(server)
    st = serve(setup)
    try:
        read_head_then_reset(st.port)  # warm up

        def run():
            for _ in range(20):
                read_head_then_reset(st.port)
            deadline = time.monotonic() + 10
            while st.call(lambda: st.server.connections) and time.monotonic() < deadline:
                time.sleep(0.02)
            assert st.call(lambda: st.server.connections) == 0
            for _ in range(3):
                st.call(lambda: None)  # what the closes scheduled has run
        left = left_in_cycles(run)
    finally:
        if threads > 1:
            st.adapter.close()
            for thread in st.adapter.pool.threads:
                thread.join(10)
    assert not left, f"objects left in reference cycles: {dict(left)}"
