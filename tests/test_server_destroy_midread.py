"""A listener that destroys its connection while one read holds more pipelined requests.

Node's server goes on parsing the read and then aborts every request on the connection:
no response after the destroy is sent, so none of them emits ``finish``. prefork stops
parsing at the destroy: the requests behind it are not dispatched, and no response
claims a ``finish`` (nor an access-log line with a status) for bytes that never left.
"""

import socket

import pytest

from harness import read_until_close

HOST = b"Host: x\r\n"


def pipelined(*paths):
    return b"".join(b"GET " + p + b" HTTP/1.1\r\n" + HOST + b"\r\n" for p in paths)


def setup(server, st):
    server.response_observer = lambda req, res: st.record("observed", req.url, res.status_code)

    def on_request(req, res):
        st.record("request", req.url)
        req.on("close", lambda: st.record("req.close", req.url))
        res.on("finish", lambda: st.record("finish", req.url))
        res.on("close", lambda: st.record("res.close", req.url))
        if req.url == "/kill":
            req.socket.destroy()
            res.end("never sent")
        elif req.url == "/destroy-request":
            req.destroy()
        else:
            res.end("ok")
    server.on("request", on_request)


def exchange(port, data):
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(data)
        return read_until_close(sock)


@pytest.mark.parametrize("killer", [b"/kill", b"/destroy-request"])
def test_requests_behind_a_destroy_in_the_same_read_send_and_finish_nothing(serve, killer):
    st = serve(setup)
    assert exchange(st.port, pipelined(killer, b"/after", b"/after2")) == b""
    st.wait_for(lambda e: e == ("req.close", killer.decode()))
    # a later connection's answer: the loop has run every turn the first one needed
    with socket.create_connection(("127.0.0.1", st.port), timeout=5) as sock:
        sock.sendall(pipelined(b"/probe"))
        data = b""
        while not data.endswith(b"ok"):
            chunk = sock.recv(65536)
            assert chunk, data
            data += chunk
    st.wait_for(lambda e: e == ("finish", "/probe"))
    events = list(st.events)
    assert ("finish", killer.decode()) not in events
    assert not [e for e in events if e[0] == "finish" and e[1].startswith("/after")], events
    assert not [e for e in events if e[0] == "observed" and e[1].startswith("/after") and e[2] == 200], events
    assert [e for e in events if e[0] == "request"] == [("request", killer.decode()), ("request", "/probe")]
