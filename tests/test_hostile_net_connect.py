"""Client sockets (``Socket.connect``) given up at awkward moments, on a real loop with
real sockets: nothing of them stays registered on the loop."""

import socket

from daemon import wait_until


def pending_connect_target():
    """A listener whose accept queue is full: a further connect stays in progress (the
    kernel drops its SYN) until it is given up."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = []
    for _ in range(3):
        filler = socket.socket()
        filler.setblocking(False)
        filler.connect_ex(("127.0.0.1", port))
        fillers.append(filler)
    return listener, fillers, port


def test_destroy_while_connecting_leaves_nothing_on_the_loop(serve):
    """The descriptor number of a socket destroyed mid-connect is reused at once by the
    next socket: that one must register and connect as usual."""
    from prefork.net import Socket
    st = serve(lambda server, st: server.on("request", lambda req, res: res.end("ok")))
    listener, fillers, port = pending_connect_target()
    try:
        stuck = st.call(lambda: Socket.connect(st.loop, "127.0.0.1", port))
        fd = stuck.fileno()
        wait_until(lambda: st.call(lambda: stuck.connecting), 5, what="a pending connect")
        st.call(stuck.destroy)

        def fresh():
            sock = Socket.connect(st.loop, "127.0.0.1", st.port)
            sock.on("connect", lambda: sock.write(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"))
            sock.on("data", lambda data: st.record("data", data))
            return sock
        sock = st.call(fresh)
        assert sock.fileno() == fd  # the number the destroyed socket had
        event = st.wait_for(lambda e: e[0] == "data", timeout=10)
        assert event[1].startswith(b"HTTP/1.1 200 OK"), event
        # it never connected, and never will: destroyed, no longer connecting (Node's state)
        assert st.call(lambda: (stuck.destroyed, stuck.connecting, stuck.ready_state)) == (True, False, "closed")
    finally:
        for filler in fillers:
            filler.close()
        listener.close()


def test_end_while_connecting_sends_the_fin_once_connected(serve):
    """Node's ``socket.end()`` before the connect completes: the FIN follows the connect."""
    from prefork.net import Socket
    st = serve()
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(10)
    try:
        def start():
            sock = Socket.connect(st.loop, "127.0.0.1", listener.getsockname()[1])
            connecting = sock.connecting
            sock.on("finish", lambda: st.record("finish"))
            sock.end()
            return sock, connecting
        sock, connecting = st.call(start)
        assert connecting  # a non-blocking connect is still in progress when end() is called
        peer, _ = listener.accept()
        with peer:
            peer.settimeout(10)
            assert peer.recv(10) == b""  # the FIN
        st.wait_for(lambda e: e == ("finish",))
    finally:
        listener.close()


def test_end_while_the_connect_is_held_up_sends_the_fin_once_connected(serve):
    """The same while the peer's accept queue is full: the SYN is answered only when the
    queue has room again, and the FIN comes after that."""
    from prefork.net import Socket
    st = serve()
    listener, fillers, port = pending_connect_target()
    try:
        def start():
            sock = Socket.connect(st.loop, "127.0.0.1", port)
            sock.on("connect", lambda: st.record("connect"))
            sock.on("finish", lambda: st.record("finish"))
            sock.end()
            return sock
        st.call(start)
        listener.settimeout(15)
        accepted = []
        while True:  # the fillers first, then the held-up client (its SYN retried by the kernel)
            peer, address = listener.accept()
            accepted.append(peer)
            peer.settimeout(15)
            if address[1] not in [f.getsockname()[1] for f in fillers]:
                break
        assert peer.recv(10) == b""  # the FIN, after the connect
        st.wait_for(lambda e: e == ("connect",), timeout=15)
    finally:
        for filler in fillers:
            filler.close()
        for peer in accepted:
            peer.close()
        listener.close()
