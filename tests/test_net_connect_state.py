"""A client socket's connect as Node's: one whose connect failed, or that was destroyed
while connecting, is no longer ``connecting`` (its ``ready_state`` is ``closed``; it
said ``opening`` for ever); one paused before its connect completes stays paused."""

import fcntl
import socket
import struct
import termios
import time

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


def test_a_socket_paused_before_its_connect_stays_paused(serve):
    """``pause()`` before the connect completes: nothing is read until ``resume()``, as
    Node's paused socket (the connect resumed it: its ``data`` came at once)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    st = serve()

    def start():
        sock = Socket.connect(st.loop, "127.0.0.1", listener.getsockname()[1])
        sock.pause()
        sock.on("connect", lambda: st.record("connect", sock.is_paused()))
        sock.on("data", lambda data: st.record("data", data))
        sock.on("end", lambda: st.record("end"))
        return sock
    sock = st.call(start)
    conn, _ = listener.accept()
    try:
        conn.sendall(b"hello")
        conn.shutdown(socket.SHUT_WR)
        assert st.wait_for(lambda e: e[0] == "connect") == ("connect", True)
        deadline = time.monotonic() + 5
        while unread(sock.fileno()) < 5:  # the bytes wait in the socket's receive queue
            assert time.monotonic() < deadline, "the bytes never came"
            time.sleep(0.01)
        for _ in range(3):  # loop turns with the bytes there: a paused socket leaves them
            st.call(lambda: None)
        assert st.call(lambda: (sock.is_paused(), sock.bytes_read)) == (True, 0)
        st.call(sock.resume)
        st.wait_for(lambda e: e == ("end",))
        assert [e for e in st.events if e[0] == "data"] == [("data", b"hello")]
        st.call(sock.destroy)
    finally:
        conn.close()
        listener.close()


def unread(fd):
    """Bytes waiting in the receive queue of the socket ``fd`` (FIONREAD)."""
    return struct.unpack("i", fcntl.ioctl(fd, termios.FIONREAD, b"\0\0\0\0"))[0]
