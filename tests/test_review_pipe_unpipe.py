"""``req.pipe(destination)`` went on writing into a destination that had closed (a
proxied upstream gone, a response whose client left): Node's pipe unpipes at the
destination's ``close`` or ``error``. And ``unpipe`` was missing."""

import socket

from hostile import read_to_close
from prefork.emitter import EventEmitter


class Sink(EventEmitter):
    """A destination that records what it is given."""

    def __init__(self):
        self.chunks = []
        self.ended = False

    def write(self, chunk):
        self.chunks.append(bytes(chunk))
        return True

    def end(self):
        self.ended = True


def test_a_destination_that_closes_is_unpiped(serve):
    sinks = []

    def setup(server, st):
        def on_request(req, res):
            sink = Sink()
            sinks.append(sink)
            req.pipe(sink)
            req.once("data", lambda chunk: (sink.emit("close"), st.record("closed")))  # after the first write
            req.on("end", lambda: res.end("done"))
        server.on("request", on_request)
    st = serve(setup)
    with socket.create_connection(("127.0.0.1", st.port), timeout=5) as sock:
        sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\nConnection: close\r\n\r\nabc")
        st.wait_for(lambda e: e[0] == "closed")
        sock.sendall(b"def")
        assert read_to_close(sock).endswith(b"done")
    assert sinks[0].chunks == [b"abc"] and not sinks[0].ended, sinks[0].chunks


def test_unpipe_stops_the_writes(serve):
    sinks = []

    def setup(server, st):
        def on_request(req, res):
            kept, dropped = Sink(), Sink()
            sinks.extend([kept, dropped])
            req.pipe(kept)
            req.pipe(dropped)
            req.unpipe(dropped)
            req.on("end", lambda: res.end("done"))
        server.on("request", on_request)
    st = serve(setup)
    with socket.create_connection(("127.0.0.1", st.port), timeout=5) as sock:
        sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc")
        assert read_to_close(sock).endswith(b"done")
    kept, dropped = sinks
    assert kept.chunks == [b"abc"] and kept.ended and dropped.chunks == [] and not dropped.ended
