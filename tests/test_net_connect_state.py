"""A client socket whose connect failed, or that was destroyed while connecting, is no
longer ``connecting``: its ``ready_state`` is ``closed`` (it said ``opening`` for ever),
as Node's ``readyState`` and ``connecting`` say once the socket is destroyed."""

import socket

from prefork.net import Socket


def closed_port():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # (nothing listens there now: the connect is refused)
    return port


def test_a_refused_connect_leaves_the_socket_closed(serve):
    st = serve()
    port = closed_port()
    seen = []

    def start():
        sock = Socket.connect(st.loop, "127.0.0.1", port)
        sock.on("error", lambda e: seen.append(("error", e.code, sock.ready_state, sock.connecting)))
        sock.on("close", lambda had_error=False: (seen.append(("close", had_error, sock.ready_state,
                                                                  sock.connecting, sock.pending)),
                                                     st.record("done")))
    st.call(start)
    st.wait_for(lambda e: e == ("done",))
    assert seen == [("error", "ECONNREFUSED", "closed", False), ("close", True, "closed", False, True)]


def test_a_socket_destroyed_while_connecting_is_closed(serve):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    st = serve()

    def start():
        sock = Socket.connect(st.loop, "127.0.0.1", listener.getsockname()[1])
        before = (sock.ready_state, sock.connecting)
        sock.destroy()
        return before, (sock.ready_state, sock.connecting, sock.pending, sock.destroyed)
    try:
        assert st.call(start) == (("opening", True), ("closed", False, True, True))
    finally:
        listener.close()
