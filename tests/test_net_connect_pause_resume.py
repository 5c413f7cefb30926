"""A client socket paused and resumed while it connects keeps its connect's outcome:
``resume()`` asked the kernel for the socket's pending error (a reset that came while
paused), which, while connecting, is the connect's own; taken there, a refused connect
emitted ``connect`` (then failed as a read), where Node's emits only its ``error``."""

import socket

from prefork.net import Socket


def closed_port():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # (nothing listens there now: the connect is refused)
    return port


def test_a_refused_connect_paused_and_resumed_emits_no_connect(serve):
    st = serve()
    port = closed_port()
    seen = []

    def start():
        sock = Socket.connect(st.loop, "127.0.0.1", port)
        sock.pause()
        st.loop.call_soon(sock.resume)
        sock.on("connect", lambda: seen.append("connect"))
        sock.on("error", lambda err: seen.append(("error", err.code)))
        sock.on("close", lambda had_error=False: (seen.append(("close", had_error)), st.record("closed")))
    st.call(start)
    st.wait_for(lambda e: e == ("closed",))
    assert seen == [("error", "ECONNREFUSED"), ("close", True)]


def test_a_connect_paused_and_resumed_reads_what_the_peer_sends(serve):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    st = serve()
    seen = []

    def start():
        sock = Socket.connect(st.loop, "127.0.0.1", listener.getsockname()[1])
        sock.pause()
        st.loop.call_soon(sock.resume)
        sock.on("connect", lambda: seen.append("connect"))
        sock.on("data", seen.append)
        sock.on("end", lambda: seen.append("end"))
        sock.on("close", lambda had_error=False: st.record("closed"))
    try:
        st.call(start)
        peer, _ = listener.accept()
        peer.sendall(b"hi")
        peer.close()
        st.wait_for(lambda e: e == ("closed",))
    finally:
        listener.close()
    assert seen == ["connect", b"hi", "end"]
