"""An interim response (``write_continue``, ``write_processing``, ``write_early_hints``)
asked of a response already finished sends nothing, as Node's (whose ``res.socket`` is
null then): its bytes would land between, or inside, the next responses on the kept-alive
connection. Its callback does not run either. One asked after ``end()`` but before the
response's ``finish`` still goes out, as Node's does."""

import socket

import pytest

from harness import read_until

FIRST = b"GET /first HTTP/1.1\r\nHost: x\r\n\r\n"
SECOND = b"GET /second HTTP/1.1\r\nHost: x\r\n\r\n"


def interims(res, st):
    res.write_continue(lambda *a: st.record("callback"))
    res.write_processing(lambda *a: st.record("callback"))
    res.write_early_hints({"link": "</a.css>; rel=preload"}, lambda *a: st.record("callback"))
    st.record("asked")


def in_finish(res, st):
    res.on("finish", lambda: interims(res, st))
    res.end("first")


def later(res, st):
    res.end("first")
    res.on("close", lambda: res.req.socket.loop.call_later(0.02, interims, res, st))


@pytest.mark.parametrize("when", [in_finish, later])
def test_interims_of_a_finished_response_send_nothing(serve, when):
    def setup(server, st):
        def on_request(req, res):
            if req.url == "/first":
                when(res, st)
            else:
                server.loop.call_later(0.1, res.end, "second")  # long after the interims
        server.on("request", on_request)
    st = serve(setup)
    with socket.create_connection(("127.0.0.1", st.port)) as sock:
        sock.sendall(FIRST + SECOND)
        data = read_until(sock, b"second")
    st.wait_for(lambda e: e == ("asked",))
    assert data.count(b"HTTP/1.1 ") == 2, data
    assert b" 100 " not in data and b" 102 " not in data and b" 103 " not in data, data
    assert data.endswith(b"\r\n\r\nsecond"), data
    assert ("callback",) not in st.events


def test_an_interim_after_end_before_finish_still_goes_out(serve):
    def setup(server, st):
        def on_request(req, res):
            res.end("first")  # its finish comes on a later loop turn
            res.write_processing()
        server.on("request", on_request)
    st = serve(setup)
    with socket.create_connection(("127.0.0.1", st.port)) as sock:
        sock.sendall(FIRST)
        data = read_until(sock, b"Processing\r\n\r\n")
    assert data.endswith(b"first" + b"HTTP/1.1 102 Processing\r\n\r\n"), data
