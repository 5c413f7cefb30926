"""A connection that lingers for the client's FIN after its answer (Connection: close
before the body came) closes at once when the client resets instead, with bytes still
unread, on both loops; not at the linger's bound (uvloop calls a reader once and never
again when the peer's bytes and its reset wait together)."""

import socket
import struct
import threading
import time

import pytest

HEAD = b"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n"


def setup(server, st):
    def on_connection(sock):
        sock.linger_timeout = 30.0
        sock.on("close", lambda *_: st.record("socket.close"))
    server.on("connection", on_connection)

    def on_request(req, res):
        res.set_header("Connection", "close")
        res.end("no")  # answered unread: the rest of the body is still coming
    server.on("request", on_request)


@pytest.mark.parametrize("loop_name", ["asyncio", "uvloop"])
def test_a_reset_during_the_linger_closes_the_connection_at_once(serve, loop_name):
    st = serve(setup, loop_name=loop_name)
    sock = socket.create_connection(("127.0.0.1", st.port), timeout=10)
    sock.sendall(HEAD + b"abc")
    while sock.recv(65536):  # the answer, then the server's FIN: it lingers now
        pass
    busy = threading.Event()
    # the loop is busy while more of the body and the reset arrive together
    st.loop.call_soon_threadsafe(lambda: (busy.set(), time.sleep(0.3)))
    assert busy.wait(5)
    sock.sendall(b"x" * 1000)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()
    st.wait_for(lambda e: e == ("socket.close",), timeout=5)  # the linger's bound is 30 s
