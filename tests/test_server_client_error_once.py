"""A client that sends something malformed (or stalls past a deadline) and then resets
the connection, with a ``clientError`` listener that leaves the socket open.

Node's server stops listening to a socket's errors at its first ``clientError``: the
reset that follows reaches the socket's own ``error`` listeners, not ``clientError``
again (a scanner's garbage-then-reset is one client error, not two). Parse errors in
later reads are still told, as Node tells them.
"""

import socket
import struct

import pytest


def setup(server, st):
    def on_connection(sock):
        sock.on("error", lambda err: st.record("socket.error", err.code))
        sock.on("close", lambda *_: st.record("socket.close"))
    server.on("connection", on_connection)
    server.on("clientError", lambda err, sock: st.record("clientError", err.code))  # leaves the socket


def reset(sock):
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


@pytest.mark.parametrize("sent, first", [
    ([b"BAD\r\n\r\n"], "HPE_INVALID_METHOD"),
    ([b"BAD\r\n\r\n", b"more"], "HPE_INVALID_METHOD"),
    ([b"GET / HTTP/1.1\r\n"], "ERR_HTTP_REQUEST_TIMEOUT"),
])
def test_a_reset_after_a_client_error_is_not_another(serve, sent, first):
    st = serve(setup, headers_timeout=0.5, request_timeout=1.0, connections_checking_interval=0.1)
    sock = socket.create_connection(("127.0.0.1", st.port), timeout=5)
    try:
        for i, data in enumerate(sent):
            sock.sendall(data)
            told = i + 1
            st.wait_for(lambda _e: st.events.count(("clientError", first)) >= told)
    finally:
        reset(sock)
    st.wait_for(lambda e: e == ("socket.close",))
    errors = [e for e in st.events if e[0] == "clientError"]
    assert errors == [("clientError", first)] * len(sent), st.events
    assert ("socket.error", "ECONNRESET") in st.events
    assert "ECONNRESET" not in st.call(lambda: dict(st.server.stats.client_errors))
