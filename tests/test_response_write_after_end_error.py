"""A ``write`` right after ``end()``, in the same call (before the ``finish``), gets
``ERR_STREAM_WRITE_AFTER_END`` as an ``error`` event, as Node's does (Node v20:
finish, write callback, error, close): the response's ``close`` coming before the
next loop turn takes away only the ``error`` of a write made after the ``finish``."""

import socket

from harness import read_until

REQUEST = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"


def test_write_right_after_end_is_an_error(serve):
    def setup(server, st):
        def on_request(req, res):
            res.on("close", lambda: st.record("close"))
            res.on("error", lambda err: st.record("error", err.code))
            res.end("x")
            res.write("late", callback=lambda *a: st.record("write callback"))
        server.on("request", on_request)
    st = serve(setup)
    with socket.create_connection(("127.0.0.1", st.port)) as sock:
        sock.sendall(REQUEST)
        data = read_until(sock, b"\r\n\r\nx")
        assert data.endswith(b"Content-Length: 1\r\n\r\nx"), data
        st.wait_for(lambda e: e[0] == "error")
        assert ("error", "ERR_STREAM_WRITE_AFTER_END") in st.events, st.events
        assert ("write callback",) in st.events, st.events
        # the connection is still good
        sock.sendall(REQUEST)
        assert read_until(sock, b"\r\n\r\nx").endswith(b"\r\n\r\nx")
