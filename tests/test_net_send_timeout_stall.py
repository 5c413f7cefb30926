"""The send timeout counts from a stalled client's last progress (nginx's
``send_timeout``): a client that reads part of a large response and then stops reading
is cut about ``send_timeout`` after it stopped, not after up to twice that (a check that
saw progress in its period used to wait a whole period more before it looked again)."""

import socket
import time

import pytest

from test_hostile_net_tls import pki, tls_listener  # noqa: F401  (pki: a fixture)

MB = 1 << 20
CHUNK = 64 * 1024
SEND_TIMEOUT = 2.0
TOTAL = 16 * 1024 * MB


def big_answer(server, st):
    """TOTAL streamed in 64 KiB writes, each after the last ``drain`` (more than a client
    reads in its half second on a fast machine); sockets give up a write that makes no
    progress for SEND_TIMEOUT seconds."""
    def on_request(req, res):
        left = [TOTAL // CHUNK]

        def more():
            while left[0] and not req.socket.destroyed:
                left[0] -= 1
                if not res.write(b"x" * CHUNK):
                    res.once("drain", more)
                    return
            res.end()
        more()
    server.on("request", on_request)

    def on_connection(sock):
        sock.send_timeout = SEND_TIMEOUT
        sock.on("close", lambda _=False: st.record("closed", time.monotonic()))
    server.on("connection", on_connection)


@pytest.mark.parametrize("secure", [False, True], ids=["plain", "tls"])
def test_a_client_that_stops_reading_is_cut_one_send_timeout_after_it_stopped(serve, pki, secure):  # noqa: F811
    st = serve(big_answer)
    port = tls_listener(st, pki) if secure else st.port
    raw = socket.socket()
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    raw.settimeout(30)
    raw.connect(("127.0.0.1", port))
    if secure:
        from test_hostile_net_tls import client_context
        sock = client_context(pki).wrap_socket(raw, server_hostname="localhost")
    else:
        sock = raw
    with sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        # reading for a while (past the server's first refused write), then nothing more
        got, until = 0, time.monotonic() + 0.5
        while time.monotonic() < until:
            got += len(sock.recv(64 * 1024))
        stopped = time.monotonic()
        closed = st.wait_for(lambda e: e[0] == "closed", 30)[1]
    assert 0 < got < TOTAL  # (the client stopped mid-response)
    # within a quarter period (and some slack) of SEND_TIMEOUT after the last read; it
    # came at twice SEND_TIMEOUT
    assert SEND_TIMEOUT - 0.3 < closed - stopped < SEND_TIMEOUT * 1.25 + 0.5, closed - stopped
