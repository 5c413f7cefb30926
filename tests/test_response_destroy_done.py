"""``res.destroy()`` on a response that is done (finished, or closed) leaves its
kept-alive connection alone, as Node's does (its ``res.socket`` is null by then): the
requests after it on that connection are still answered. A response waiting its turn
behind a pipelined one, destroyed twice, still lets the one before it go out whole."""

import socket

import pytest

from harness import read_until

FIRST = b"GET /first HTTP/1.1\r\nHost: x\r\n\r\n"
SECOND = b"GET /second HTTP/1.1\r\nHost: x\r\n\r\n"


def start(serve, first):
    """A server answering ``/first`` with ``first(req, res, st)`` and ``/second`` with
    ``second`` after 50 ms (so the first is done long before)."""
    def setup(server, st):
        def on_request(req, res):
            if req.url == "/first":
                first(req, res, st)
            else:
                server.loop.call_later(0.05, res.end, "second")
        server.on("request", on_request)
    return serve(setup)


def destroy_in_finish(req, res, st):
    res.on("finish", lambda: (res.destroy(), st.record("destroyed")))
    res.on("close", lambda: st.record("close"))
    req.on("aborted", lambda: st.record("aborted"))
    res.end("first")


def destroy_in_close(req, res, st):
    res.on("close", lambda: (res.destroy(), st.record("destroyed")))
    res.end("first")


def destroy_later(req, res, st):
    res.end("first")
    st.server.loop.call_later(0.02, lambda: (res.destroy(), st.record("destroyed")))


@pytest.mark.parametrize("first", [destroy_in_finish, destroy_in_close, destroy_later])
def test_destroying_a_done_response_keeps_the_connection(serve, first):
    st = start(serve, first)
    with socket.create_connection(("127.0.0.1", st.port)) as sock:
        sock.sendall(FIRST + SECOND)  # pipelined: the second is read while the first is done
        data = read_until(sock, b"second")
        assert data.count(b"HTTP/1.1 200 OK") == 2, data
        assert data.endswith(b"\r\n\r\nsecond"), data
        st.wait_for(lambda e: e == ("destroyed",))
        # and the kept-alive connection takes one more request
        sock.sendall(SECOND)
        assert read_until(sock, b"second").endswith(b"second")
    if first is destroy_in_finish:
        assert ("aborted",) not in st.events  # a finished response's request is not aborted


def test_a_queued_response_destroyed_twice_lets_the_first_out(serve):
    def setup(server, st):
        def on_request(req, res):
            if req.url == "/first":
                server.loop.call_later(0.05, res.end, "first")
            else:
                res.destroy()
                res.destroy()
                st.record("destroyed")
        server.on("request", on_request)
    st = serve(setup)
    with socket.create_connection(("127.0.0.1", st.port)) as sock:
        sock.sendall(FIRST + SECOND)
        data = read_until(sock, b"first")
        assert data.startswith(b"HTTP/1.1 200 OK\r\n") and data.endswith(b"\r\n\r\nfirst"), data
