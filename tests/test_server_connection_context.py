"""A ``ContextVar`` set by a ``connection`` (or ``drop``) listener stays with that
connection: its requests see it, the next connection does not. The event ran in the
accept callback's context, one for every connection of the listener, so what a listener
set for one client (a connection id, a user named by its address) was seen by every
later connection and its requests."""

import contextvars
import socket

from hostile import read_to_close

who = contextvars.ContextVar("who", default=None)


def get(port):
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        return read_to_close(sock, 5)


def test_a_connection_listeners_context_variable_stays_with_its_connection(serve):
    def setup(server, st):
        def on_connection(sock):
            st.record("connection sees", who.get())
            if not st.events[:-1]:  # the first connection's only
                who.set("first client")

        def on_request(req, res):
            st.record("request sees", who.get())
            res.end("x")
        server.on("connection", on_connection)
        server.on("request", on_request)
    st = serve(setup)
    assert get(st.port).endswith(b"x") and get(st.port).endswith(b"x")
    st.wait_for(lambda e: len(st.events) >= 4)
    assert st.events == [("connection sees", None), ("request sees", "first client"),
                         ("connection sees", None), ("request sees", None)]


def test_a_drop_listeners_context_variable_reaches_no_connection(serve):
    def setup(server, st):
        def on_drop(*args):
            st.record("drop")
            who.set("dropped")

        def on_request(req, res):
            st.record("request sees", who.get())
            res.end("x")
        server.on("drop", on_drop)
        server.on("request", on_request)
    st = serve(setup)
    st.call(lambda: setattr(st.server, "max_connections", 1))
    held = socket.create_connection(("127.0.0.1", st.port), timeout=5)
    try:
        dropped = socket.create_connection(("127.0.0.1", st.port), timeout=5)
        assert read_to_close(dropped, 5) == b""
        dropped.close()
        st.wait_for(lambda e: e == ("drop",))
    finally:
        held.close()
    st.call(lambda: setattr(st.server, "max_connections", 0))
    assert get(st.port).endswith(b"x")
    assert st.wait_for(lambda e: e[0] == "request sees") == ("request sees", None)
