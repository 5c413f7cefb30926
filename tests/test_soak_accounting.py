"""Accounting found by a soak with hostile clients: a response the app ended whose bytes
were still on their way when the client reset the connection was neither logged nor
counted (only the ECONNRESET was); a response cut the same way stayed in memory, in a
reference cycle, until the collector ran (the connection kept the responses waiting for
a 'drain' that never came; a WSGI call's flush waiter was a closure over itself)."""

import gc
import socket
import struct

import pytest

from daemon import wait_until

BIG = 16 * 1024 * 1024


def _reset_after_head(port, path="/"):
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.sendall(b"GET " + path.encode() + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    head = sock.recv(200)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()  # a reset: the rest of the body is still in the server
    return head


def test_an_ended_response_cut_by_a_reset_is_observed_once(serve):
    seen = []

    def setup(server, st):
        server.on("request", lambda req, res: res.end(b"x" * BIG))
        server.response_observer = lambda req, res: seen.append((res.status_code, res.writable_finished))
    st = serve(setup)
    for _ in range(3):
        assert _reset_after_head(st.port).startswith(b"HTTP/1.1 200 OK")
    wait_until(lambda: st.call(lambda: st.server.connections) == 0, 10, what="the connections closed")
    st.call(lambda: None)
    assert seen == [(200, False)] * 3, seen


@pytest.mark.parametrize("threads", [1, 4])
@pytest.mark.parametrize("body", ["list", "generator"])
def test_a_wsgi_response_cut_by_a_reset_is_freed_without_the_collector(serve, body, threads):
    from prefork.wsgi import WSGIAdapter

    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        blocks = [b"x" * (1024 * 1024)] * 16
        return blocks if body == "list" else (block for block in blocks)

    def setup(server, st):
        st.adapter = WSGIAdapter(app, threads=threads)
        st.adapter.setup(server)
    st = serve(setup)
    from prefork.server.response import ServerResponse
    gc.collect()
    before = {id(o) for o in gc.get_objects() if type(o) is ServerResponse}  # (other tests' live ones)
    gc.disable()
    try:
        for _ in range(3):
            assert _reset_after_head(st.port).startswith(b"HTTP/1.1 200 OK")
        wait_until(lambda: st.call(lambda: st.server.connections) == 0, 10, what="the connections closed")
        st.call(lambda: None)
        st.call(lambda: None)
        if threads > 1:
            assert st.call(lambda: st.adapter.close(5)) == 0  # the calls' threads are done with them
            st.call(lambda: None)
        left = st.call(lambda: sum(1 for o in gc.get_objects() if type(o) is ServerResponse and id(o) not in before))
    finally:
        gc.enable()
    assert left == 0, f"{left} responses left for the collector"



def test_a_whole_request_line_with_an_unknown_method_is_logged_with_its_line(serve):
    """``FOO / HTTP/1.1`` is refused by llhttp at its method, before the target: its 400
    line said ``-`` where the docs promise the request line when it came whole."""
    seen = []
    st = serve(lambda server, st: setattr(server, "reply_observer", lambda req, res, duration: seen.append(
        (req.request_text(req.url), res.status_code))))
    for request in (b"FOO / HTTP/1.1\r\nHost: x\r\n\r\n",
                    b"GET / HTTP/1.1\r\nHost: x\r\n\r\nFOO /x HTTP/1.1\r\n\r\n",  # after a served one
                    b"FOO", b"G@T / HTTP/1.1\r\n\r\n"):  # not whole; not a token, whole
        with socket.create_connection(("127.0.0.1", st.port), timeout=10) as sock:
            sock.sendall(request)
            sock.shutdown(socket.SHUT_WR)
            while sock.recv(65536):
                pass
    st.call(lambda: None)
    assert seen == [("FOO / HTTP/1.1", 400), ("FOO /x HTTP/1.1", 400), ("-", 400), ("G@T / HTTP/1.1", 400)], seen
