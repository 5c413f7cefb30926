"""A ``clientError`` listener that does not destroy the socket (Node's documented one:
it returns when the socket is not writable) was told EPIPE again at every later write of
a streaming response to a client gone, and the request's ``aborted`` and the response's
``close`` waited for ``request_timeout``. A socket error destroys the socket after the
listener, as Node's socket is destroyed before its error reaches ``clientError``."""

import socket
import struct
import time



def test_a_socket_error_is_told_once_and_the_response_closes(serve):
    def setup(server, st):
        server.on("clientError", lambda err, sock: st.record("clientError", err.code, sock.writable))

        def on_request(req, res):
            res.on("close", lambda: st.record("res close"))
            req.on("aborted", lambda: st.record("aborted"))
            res.write("data: 0\n\n")

            def tick():
                if not res.writable_ended and not res.destroyed:
                    res.write("data: x\n\n")
                    ticks.append(server.loop.call_later(0.02, tick))
            ticks.append(server.loop.call_later(0.02, tick))
            res.on("close", lambda: ticks[-1].cancel())
        ticks = []
        server.on("request", on_request)
    st = serve(setup)
    sock = socket.create_connection(("127.0.0.1", st.port), timeout=5)
    sock.sendall(b"GET /events HTTP/1.1\r\nHost: x\r\n\r\n")
    got = b""
    while b"data: 0" not in got:
        got += sock.recv(4096)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()  # a reset: the next write fails
    started = time.monotonic()
    st.wait_for(lambda e: e[0] == "res close")
    assert time.monotonic() - started < 5
    errors = [e for e in st.events if e[0] == "clientError"]
    assert len(errors) <= 1 and all(not writable for _, _, writable in errors), st.events
