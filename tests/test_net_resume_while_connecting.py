"""``resume()`` on a client socket still connecting (the common ``c = net.connect(...);
c.resume()``) waits for the connect, as Node's: reading starts once connected. It added
a reader at once: a name's socket (``localhost``) failed with ``read ENOTCONN`` before
its connect, and a refused connect was ``read ECONNREFUSED`` with no address, where
Node's is ``connect ECONNREFUSED 127.0.0.1:P``."""

import socket

import pytest

from prefork.net import Socket


def closed_port():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # (nothing listens there now: the connect is refused)
    return port


def watch(st, sock, seen):
    for event in ("connect", "ready", "end"):
        sock.on(event, (lambda event: lambda: seen.append(event))(event))
    sock.on("data", seen.append)
    sock.on("error", lambda err: seen.append(("error", err.code, str(err))))
    sock.on("close", lambda had_error=False: (seen.append(("close", had_error)), st.record("closed")))


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1"])
@pytest.mark.parametrize("pause_first", [False, True])
def test_a_socket_resumed_while_connecting_connects_then_reads(serve, host, pause_first):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    st = serve()
    seen = []

    def start():
        sock = Socket.connect(st.loop, host, listener.getsockname()[1])
        if pause_first:
            sock.pause()
        sock.resume()
        watch(st, sock, seen)
    try:
        st.call(start)
        listener.settimeout(5)
        peer, _ = listener.accept()
        peer.sendall(b"hello")
        peer.close()
        st.wait_for(lambda e: e == ("closed",))
    finally:
        listener.close()
    assert seen == ["connect", "ready", b"hello", "end", ("close", False)]


def test_a_refused_connect_resumed_while_connecting_is_a_connect_error(serve):
    st = serve()
    port = closed_port()
    seen = []

    def start():
        sock = Socket.connect(st.loop, "127.0.0.1", port)
        sock.resume()
        watch(st, sock, seen)
    st.call(start)
    st.wait_for(lambda e: e == ("closed",))
    assert seen == [("error", "ECONNREFUSED", f"connect ECONNREFUSED 127.0.0.1:{port}"), ("close", True)]
