"""``req.destroy()`` from a ``request`` listener while the rest of the request (its body,
its end) is in the same read: the destroyed request gets none of it, no ``data`` and
no ``end`` after its ``aborted`` (as Node 20's, measured: a GET destroyed without an
error still ends, one destroyed with an error does not; a POST's body never comes).
``res.destroy()`` leaves the request to the rest of the read (its ``data`` and ``end``
still come, as Node's)."""

import socket

import pytest

POST = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabcdefghij"
GET = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"


def events(serve, request, how):
    def setup(server, st):
        def on_request(req, res):
            for e in ("aborted", "error", "close", "end"):
                req.on(e, lambda *a, e=e: st.record(f"req.{e}" + (f":{a[0]}" if e == "error" else "")))
            req.on("data", lambda chunk: st.record(f"req.data:{len(chunk)}"))
            res.on("close", lambda: st.record("res.close"))
            st.record("call")
            {"req": lambda: req.destroy(), "reqerr": lambda: req.destroy(Exception("boom")),
             "res": lambda: res.destroy()}[how]()
            st.record("ret")
            # after every close listener of the socket's close turn: the record is complete
            req.socket.on("close", lambda _had_error: server.loop.call_soon(st.record, "done"))
        server.on("request", on_request)
    st = serve(setup)
    with socket.create_connection(("127.0.0.1", st.port), timeout=5) as client:
        client.sendall(request)
        st.wait_for(lambda e: e == ("done",))
    return [e for (e,) in st.events if e != "done"]


# Node 20's
EXPECTED = {
    ("req", POST): ["call", "req.aborted", "ret", "req.close", "res.close"],
    ("reqerr", POST): ["call", "req.aborted", "ret", "req.error:boom", "req.close", "res.close"],
    ("req", GET): ["call", "req.aborted", "ret", "req.end", "req.close", "res.close"],
    ("reqerr", GET): ["call", "req.aborted", "ret", "req.error:boom", "req.close", "res.close"],
}


@pytest.mark.parametrize("how, request_bytes", list(EXPECTED), ids=["req-post", "reqerr-post", "req-get",
                                                                    "reqerr-get"])
def test_a_destroyed_request_gets_nothing_of_the_rest_of_the_read(serve, how, request_bytes):
    got = events(serve, request_bytes, how)
    assert got == EXPECTED[how, request_bytes], got


def test_a_response_destroyed_leaves_the_rest_of_the_read_to_its_request(serve):
    got = events(serve, POST, "res")
    assert got[:4] == ["call", "ret", "req.data:10", "req.end"], got
    assert sorted(got[4:]) == ["req.close", "res.close"], got
