"""A request answered with ``Connection: close`` before its body came, whose connection
lingers for the client's FIN (docs/node-compat.md, "Closing in order") past the
request's deadline.

The answer is out and the server's FIN sent; Node has closed such a connection at the
response's ``finish``. A ``request_timeout`` that passes during the linger is then no
client error: no ``clientError`` (ERR_HTTP_REQUEST_TIMEOUT), nothing counted in
``server.stats.client_errors``; the linger's own bound closes the connection.
"""

import socket
import time

import pytest

HEAD = b"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n"


def setup_for(listened):
    def setup(server, st):
        def on_connection(sock):
            sock.linger_timeout = 2.0  # after the request's deadline (1 s)
            sock.on("close", lambda *_: st.record("socket.close"))
        server.on("connection", on_connection)

        def on_request(req, res):
            res.set_header("Connection", "close")
            res.end("no")  # answered unread: the rest of the body is still coming
        server.on("request", on_request)
        if listened:
            server.on("clientError", lambda err, sock: (st.record("clientError", err.code), sock.destroy()))
    return setup


@pytest.mark.parametrize("listened", [True, False])
def test_a_deadline_during_the_linger_after_the_answer_is_no_client_error(serve, listened):
    st = serve(setup_for(listened), request_timeout=1.0, headers_timeout=0.5,
               connections_checking_interval=0.1)
    with socket.create_connection(("127.0.0.1", st.port), timeout=10) as sock:
        sock.sendall(HEAD + b"abc")
        data = b""
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break  # the server's FIN, after its answer
            data += chunk
        assert data.startswith(b"HTTP/1.1 200 OK\r\n") and data.endswith(b"\r\n\r\nno")
        started = time.monotonic()
        st.wait_for(lambda e: e == ("socket.close",), timeout=8)
        assert time.monotonic() - started > 1.0  # the linger outlived the request's deadline
    assert not [e for e in st.events if e[0] == "clientError"], st.events
    assert "ERR_HTTP_REQUEST_TIMEOUT" not in st.call(lambda: dict(st.server.stats.client_errors))
