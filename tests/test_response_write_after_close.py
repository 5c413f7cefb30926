"""A ``write`` or ``end(data)`` after ``end()`` whose response closes before the next
loop turn (made in a ``finish`` listener: the ``close`` follows it at once) gets its
callback, but no ``error`` event after the response's ``close``, as Node's (whose
``error`` is emitted only to a response not destroyed by then)."""

import socket

from harness import read_until

REQUEST = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"


def test_no_error_after_close_for_a_write_after_end(serve):
    def setup(server, st):
        def on_request(req, res):
            def late():
                st.record("write", res.write("late", callback=lambda *a: st.record("write callback")))
                res.end("later", callback=lambda *a: st.record("end callback"))
            res.on("finish", late)
            res.on("close", lambda: st.record("close"))
            res.on("error", lambda err: st.record("error", err.code))
            res.end("x")
        server.on("request", on_request)
    st = serve(setup)
    with socket.create_connection(("127.0.0.1", st.port)) as sock:
        sock.sendall(REQUEST)
        data = read_until(sock, b"\r\n\r\nx")
        assert data.endswith(b"Content-Length: 1\r\n\r\nx"), data
        st.wait_for(lambda e: e == ("end callback",))
        st.call(lambda: None)  # (what the loop was running then is over)
        assert ("write", False) in st.events
        assert ("write callback",) in st.events
        assert not [e for e in st.events if e[0] == "error"], st.events
        # the connection is still good
        sock.sendall(REQUEST)
        assert read_until(sock, b"\r\n\r\nx").endswith(b"\r\n\r\nx")
