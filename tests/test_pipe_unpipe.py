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
        self.seen = []
        self.on("pipe", lambda source: self.seen.append("pipe"))
        self.on("unpipe", lambda source: self.seen.append("unpipe"))

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
            def on_first(chunk):  # after the first write
                sink.emit("close")
                st.record("closed", req.is_paused())  # unpiped, and paused as Node's (its last pipe)
                req.resume()  # the app reads on without it
            req.once("data", on_first)
            req.on("end", lambda: res.end("done"))
        server.on("request", on_request)
    st = serve(setup)
    with socket.create_connection(("127.0.0.1", st.port), timeout=5) as sock:
        sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\nConnection: close\r\n\r\nabc")
        st.wait_for(lambda e: e[0] == "closed")
        sock.sendall(b"def")
        assert read_to_close(sock).endswith(b"done")
    assert sinks[0].chunks == [b"abc"] and not sinks[0].ended, sinks[0].chunks
    assert ("closed", True) in st.events, st.events
    assert not sinks[0].listener_count("close") and not sinks[0].listener_count("error")  # nothing left on it
    assert sinks[0].seen == ["pipe", "unpipe"], sinks[0].seen


def test_a_pipe_leaves_no_listener_on_a_long_lived_destination(serve):
    """With end=False the destination outlives the body (one log file for many
    requests): the pipe's listeners went only at its close, piling up (and warning)."""
    sink = Sink()

    def setup(server, st):
        def on_request(req, res):
            req.pipe(sink, end=False)
            req.on("end", lambda: res.end("done"))
        server.on("request", on_request)
    st = serve(setup)
    with socket.create_connection(("127.0.0.1", st.port), timeout=5) as sock:
        for i in range(12):
            last = i == 11
            sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n"
                         + (b"Connection: close\r\n" if last else b"") + b"\r\n" + str(i % 10).encode())
            if not last:
                got = b""
                while not got.endswith(b"done"):
                    got += sock.recv(4096)
        read_to_close(sock)
    assert len(sink.chunks) == 12 and not sink.ended
    assert sink.event_names() == ["pipe", "unpipe"], sink.event_names()  # (the test's own listeners alone)


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
    assert dropped.seen == ["pipe", "unpipe"] and kept.seen[0] == "pipe", (dropped.seen, kept.seen)  # Node's events
