"""An application that ends the socket itself (a ``connection`` listener answering "busy"
with ``socket.end(...)``), while the client's request still reaches ``request`` and
its listener answers it.

Node's response never writes to a socket that is no longer writable: the client gets
the application's own reply and nothing after it, and no error is made of it. A write
that reached the kernel after the FIN would fail with EPIPE and be reported as a client
error (``clientError``, the socket's ``error``) that the client never made.
"""

import socket

BUSY = b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"


def setup(server, st):
    def on_connection(sock):
        sock.on("error", lambda err: st.record("socket.error", err.code))
        sock.on("close", lambda *_: st.record("socket.close"))
        sock.end(BUSY)
    server.on("connection", on_connection)

    def on_request(req, res):
        st.record("request", req.url)
        res.on("close", lambda: st.record("res.close"))
        res.end("late answer")
    server.on("request", on_request)
    server.on("clientError", lambda err, sock: st.record("clientError", err.code))


def test_a_response_under_a_socket_the_app_ended_sends_nothing_and_is_no_client_error(serve):
    st = serve(setup)
    with socket.create_connection(("127.0.0.1", st.port), timeout=5) as sock:
        data = b""
        while not data.endswith(b"\r\n\r\n"):
            chunk = sock.recv(65536)
            assert chunk, data
            data += chunk
        assert data == BUSY
        sock.sendall(b"GET /late HTTP/1.1\r\nHost: x\r\n\r\n")
        st.wait_for(lambda e: e == ("res.close",))
        st.wait_for(lambda e: e == ("socket.close",))
        rest = b""
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            rest += chunk
        assert rest == b""
    assert ("request", "/late") in st.events
    assert not [e for e in st.events if e[0] in ("clientError", "socket.error")], st.events
    assert "EPIPE" not in st.call(lambda: dict(st.server.stats.client_errors))
