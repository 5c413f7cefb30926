"""``res.end(data)`` then ``res.destroy(err)`` in the same turn: Node has written the
response at ``end()`` already, so its client gets it whole and the response emits
``finish`` (then ``close``), its request ``end`` and ``close``, never ``aborted``; the
error goes to the server's ``clientError``. prefork batches a read's writes, and its
destroy's last try sends them (as for ``res.destroy()`` without an error)."""

import socket

from harness import read_until_close


def test_end_then_destroy_with_an_error_still_sends_the_response(serve):
    def on_request(req, res):
        for event in ("end", "close", "aborted"):
            req.on(event, lambda event=event: st.record("req." + event))
        for event in ("finish", "close"):
            res.on(event, lambda event=event: st.record("res." + event))
        res.end("whole")
        res.destroy(RuntimeError("boom"))

    def setup(server, _):
        server.on("request", on_request)
        server.on("clientError", lambda err, sock: st.record("clientError", str(err)))
    st = serve(setup)
    with socket.create_connection(("127.0.0.1", st.port), timeout=5) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        got = read_until_close(sock)
    assert got.startswith(b"HTTP/1.1 200 OK\r\n") and got.endswith(b"whole"), got
    st.wait_for(lambda event: event == ("req.close",))
    events = [event for event in st.events if event[0] != "clientError"]
    assert events == [("res.finish",), ("res.close",), ("req.end",), ("req.close",)], st.events
    assert ("clientError", "boom") in st.events
