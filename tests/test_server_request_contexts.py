"""``server.request_contexts = False`` (what the WSGI adapter sets: its calls run in a
context of their own): no request gets a context of its own, and every kind of request
is still served, its listeners and its response's events run as before."""

import contextvars
import socket

from hostile import read_to_close

mark = contextvars.ContextVar("mark", default=None)


def exchange(port, data):
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(data)
        return read_to_close(sock, 5)


def test_requests_without_contexts_of_their_own_are_served_in_every_dispatch(serve):
    def setup(server, st):
        server.request_contexts = False

        def on_request(req, res):
            st.record("request", req.url, req.context, res.context)
            res.on("finish", lambda: st.record("finish", req.url))
            res.set_header("Content-Length", str(len(req.url)))  # (the HTTP/1.0 one kept alive)
            res.end(req.url)
        server.on("request", on_request)
    st = serve(setup)
    # HTTP/1.1 with Host (the plain dispatch), HTTP/1.0 kept alive (a held request
    # behind it), Expect: 100-continue
    got = exchange(st.port, b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n"
                            b"GET /b HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"
                            b"GET /c HTTP/1.1\r\nHost: x\r\n\r\n"
                            b"GET /d HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
                            b"Content-Length: 0\r\nConnection: close\r\n\r\n")
    assert got.count(b"HTTP/1.1 200 OK") == 4 and got.count(b"100 Continue") == 1
    for url in (b"/a", b"/b", b"/c", b"/d"):
        assert url in got
    st.wait_for(lambda e: e == ("finish", "/d"))
    assert [e for e in st.events if e[0] == "request"] == [
        ("request", url, None, None) for url in ("/a", "/b", "/c", "/d")]
    assert [e for e in st.events if e[0] == "finish"] == [("finish", url) for url in ("/a", "/b", "/c", "/d")]


def test_a_server_gives_each_request_a_context_of_its_own_by_default(serve):
    def setup(server, st):
        def on_request(req, res):
            st.record("sees", mark.get(), req.context is res.context and req.context is not None)
            mark.set(req.url)
            res.end("x")
        server.on("request", on_request)
    st = serve(setup)
    got = exchange(st.port, b"GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert got.count(b"200 OK") == 2
    st.wait_for(lambda e: len(st.events) >= 2)
    assert st.events == [("sees", None, True), ("sees", None, True)]
