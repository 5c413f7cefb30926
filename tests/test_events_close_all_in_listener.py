"""``server.close_all_connections()`` (after ``server.close()`` or not, before or after
``res.end()``) called inside a request listener: the calling request's ``close`` comes
right after its ``end`` (Node's next tick), before any socket's ``close``; the server's
``close`` comes before any socket's ``close``; a response ended before the call is told
``finish``, ``close``, then its request's ``close``, then its socket's ``close``.

Node v20.20 gave these orders (connection 1 served ``/idle`` and is kept alive,
connection 2 sent ``/trigger``) with:

    const s = http.createServer((req, res) => {
      const id = ids.get(req.socket);
      req.resume();
      req.on('end', () => log('req-end', id)); req.on('close', () => log('req-close', id));
      res.on('finish', () => log('res-finish', id)); res.on('close', () => log('res-close', id));
      if (req.url === '/idle') return res.end('ok');
      if (mode.includes('server-close')) s.close(() => log('server-close-cb'));
      if (mode.includes('end-first')) res.end('done');
      s.closeAllConnections();
      if (!mode.includes('end-first')) res.end('done');
      log('returned');
    });
    s.on('connection', (sock) => { const id = ++n; ids.set(sock, id); sock.on('close', () => log('sock-close', id)); });
    s.on('close', () => log('server-close'));

Two differences are prefork's and known: a request's ``end`` that came in the read
that brought its head is emitted as that read ends, not on Node's next tick (so before
the server's ``close`` and the response's ``finish``; its ``close`` with it when its
socket is gone and no finished response is to be told first), and a response cut by the close
tells its ``close`` before its socket's ``close`` listeners (Node: after them).
"""

import socket

NODE = {
    "all": ["returned", "req-end 2", "req-close 2", "sock-close 2", "res-close 2", "sock-close 1"],
    "server-close-all": ["returned", "server-close", "server-close-cb", "req-end 2", "req-close 2",
                         "sock-close 2", "res-close 2", "sock-close 1"],
    "end-first-all": ["returned", "res-finish 2", "req-end 2", "res-close 2", "req-close 2",
                      "sock-close 2", "sock-close 1"],
    "server-close-end-first-all": ["returned", "res-finish 2", "server-close", "server-close-cb",
                                   "req-end 2", "res-close 2", "req-close 2", "sock-close 2",
                                   "sock-close 1"],
}


def prefork_order(node):
    """Node's order with prefork's two known differences (module docstring)."""
    moved = ["req-end 2"]
    if node.index("req-close 2") == node.index("req-end 2") + 1:  # (its socket gone: at once too)
        moved.append("req-close 2")
    order = [event for event in node if event not in moved]
    order[order.index("returned") + 1:order.index("returned") + 1] = moved
    if "sock-close 2" in order and order.index("res-close 2") == order.index("sock-close 2") + 1:
        at = order.index("sock-close 2")
        order[at], order[at + 1] = order[at + 1], order[at]
    return order


def run(serve, mode):
    ids = {}

    def on_connection(sock):
        i = ids[id(sock)] = len(ids) + 1
        sock.on("close", lambda *_: st.record(f"sock-close {i}"))

    def on_request(req, res):
        i = ids[id(req.socket)]
        req.resume()
        req.on("end", lambda: st.record(f"req-end {i}"))
        req.on("close", lambda: st.record(f"req-close {i}"))
        res.on("finish", lambda: st.record(f"res-finish {i}"))
        res.on("close", lambda: st.record(f"res-close {i}"))
        if req.url == "/idle":
            return res.end("ok")
        server = st.server
        if "server-close" in mode:
            server.close(lambda *_: st.record("server-close-cb"))
        if "end-first" in mode:
            res.end("done")
        server.close_all_connections()
        if "end-first" not in mode:
            res.end("done")
        st.record("returned")

    def setup(server, _):
        server.on("connection", on_connection)
        server.on("request", on_request)
        server.on("close", lambda: st.record("server-close"))
    st = serve(setup)
    with socket.create_connection(("127.0.0.1", st.port), timeout=5) as one, \
            socket.create_connection(("127.0.0.1", st.port), timeout=5) as two:
        one.sendall(b"GET /idle HTTP/1.1\r\nHost: x\r\n\r\n")
        st.wait_for(lambda event: event == ("req-close 1",))
        two.sendall(b"GET /trigger HTTP/1.1\r\nHost: x\r\n\r\n")
        st.wait_for(lambda event: event == ("sock-close 1",))
        st.wait_for(lambda event: event == ("sock-close 2",))
        if "server-close" in mode:
            st.wait_for(lambda event: event == ("server-close-cb",))
    events = [event[0] for event in st.call(list, st.events)]
    return events[events.index("returned"):]


def test_close_all_connections_in_a_listener_closes_in_nodes_order(serve):
    for mode, node in NODE.items():
        got = run(serve, mode)
        # which of the two sockets the server destroys first is its own (Node's too); a
        # response that finished at the destroy tells its 'finish' on the next turn, where
        # the server's 'close' may come first (Node: after it)
        apart = {"sock-close 1"} | ({"server-close", "server-close-cb"} if "end-first" in mode else set())
        assert [e for e in got if e not in apart] == [e for e in prefork_order(node) if e not in apart], (mode, got)
        closes = [at for at, event in enumerate(got) if event.startswith("sock-close")]
        if "server-close" in mode:
            assert got.index("server-close") < min(closes), (mode, got)
        if "end-first" not in mode:
            assert got.index("req-close 2") < min(closes), (mode, got)


def test_a_raising_server_close_listener_leaves_every_socket_close_told(serve):
    def setup(server, st):
        def on_request(req, res):
            u = req.url
            req.socket.on("close", lambda *_: st.record("sock-close", u))
            st.record("request", u)
            if u == "/hold":
                return
            server.close()
            server.close_all_connections()

        def boom():
            st.record("server-close")
            raise ValueError("a bug in a close listener")
        server.on("request", on_request)
        server.on("close", boom)

    st = serve(setup)
    with socket.create_connection(("127.0.0.1", st.port), timeout=5) as hold:
        hold.sendall(b"GET /hold HTTP/1.1\r\nHost: x\r\n\r\n")
        st.wait_for(lambda e: e == ("request", "/hold"))
        with socket.create_connection(("127.0.0.1", st.port), timeout=5) as trigger:
            trigger.sendall(b"GET /t HTTP/1.1\r\nHost: x\r\n\r\n")
            assert trigger.recv(100) == b""
        assert hold.recv(100) == b""
    st.wait_for(lambda e: e == ("sock-close", "/t"))
    st.wait_for(lambda e: e == ("sock-close", "/hold"))
    assert ("server-close",) in st.call(list, st.events)
