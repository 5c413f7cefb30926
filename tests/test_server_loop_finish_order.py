"""On a keep-alive connection a response's 'finish' comes before the next request's
'request', as in Node, on both loops: also when the response was ended by a task and
the loop was busy while the client sent its next request (uvloop runs what its poll
read ahead of what the loop had queued)."""

import socket
import time

import pytest


@pytest.mark.parametrize("loop_name", ["asyncio", "uvloop"])
def test_finish_before_the_next_request(serve, loop_name):
    def setup(server, st):
        def on_request(req, res):
            st.record("request", req.url)
            res.on("finish", lambda: st.record("finish", req.url))

            async def answer():
                res.end("x")
            st.loop.create_task(answer())
            st.loop.call_soon(time.sleep, 0.05)  # busy, once the answer is written
        server.on("request", on_request)
    st = serve(setup, loop_name=loop_name)
    with socket.create_connection(("127.0.0.1", st.port), timeout=10) as client:
        for i in range(3):
            client.sendall(b"GET /%d HTTP/1.1\r\nHost: x\r\n\r\n" % i)
            data = b""
            while not data.endswith(b"\r\n\r\nx"):
                chunk = client.recv(4096)
                assert chunk, data
                data += chunk
        st.wait_for(lambda e: e == ("finish", "/2"))
    assert st.events == [("request", "/0"), ("finish", "/0"), ("request", "/1"), ("finish", "/1"),
                         ("request", "/2"), ("finish", "/2")]
