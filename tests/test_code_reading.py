"""Defects found by reading the socket and connection state machines, each reproduced
against the real server on loopback: a write callback that raises, one run before its
bytes reached the kernel or never run at all, and a 'finish' after its 'close' (the
observer then counted the response twice)."""

import socket
import time

from daemon import wait_until
from harness import read_until_close

BIG = b"z" * (8 << 20)


def test_a_raising_write_callback_does_not_wedge_the_connection(serve):
    def setup(server, st):
        def on_request(req, res):
            res.on("finish", lambda: st.record("finish"))

            def callback(*_):
                st.record("callback")
                raise RuntimeError("the callback failed")
            res.write(BIG, callback)  # inside the read: corked, the callback waits among the flush waiters
            res.end()
        server.on("request", on_request)
    st = serve(setup)
    with socket.create_connection(("127.0.0.1", st.port), timeout=10) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = read_until_close(sock)  # the FIN comes
    assert data.endswith(b"0\r\n\r\n")
    st.wait_for(lambda e: e == ("finish",))
    wait_until(lambda: st.call(lambda: st.server.connections) == 0, 5, what="the connection closed")


def test_a_write_callback_runs_once_its_bytes_are_in_the_kernel(serve):
    def setup(server, st):
        def on_request(req, res):
            def written(*_):
                st.record("written", res.socket.buffered_size)
            server.loop.call_soon(lambda: res.write(b"q" * (32 << 20), written))  # outside the read
        server.on("request", on_request)
    st = serve(setup)
    with socket.create_connection(("127.0.0.1", st.port), timeout=10) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        got = 0  # (the callback, when it runs, records what was still queued: nothing)
        while got < 32 << 20:
            chunk = sock.recv(1 << 20)
            assert chunk
            got += len(chunk)
        assert st.wait_for(lambda e: e[0] == "written") == ("written", 0)


def test_write_callbacks_run_when_the_connection_goes_first(serve):
    def setup(server, st):
        def on_request(req, res):
            if req.url == "/active":
                res.write(b"q" * (32 << 20), lambda *_: st.record("callback", "active"))
                server.loop.call_later(0.2, req.socket.destroy)
            elif req.url == "/first":
                res.write(b"first, not ended")  # the next response waits its turn
            else:
                res.write(b"small", lambda *_: st.record("callback", "queued"))
                server.loop.call_later(0.2, req.socket.destroy)
        server.on("request", on_request)
    st = serve(setup)
    with socket.create_connection(("127.0.0.1", st.port), timeout=10) as a, \
            socket.create_connection(("127.0.0.1", st.port), timeout=10) as b:
        a.sendall(b"GET /active HTTP/1.1\r\nHost: x\r\n\r\n")  # never read
        b.sendall(b"GET /first HTTP/1.1\r\nHost: x\r\n\r\nGET /queued HTTP/1.1\r\nHost: x\r\n\r\n")
        st.wait_for(lambda e: e == ("callback", "active"))
        st.wait_for(lambda e: e == ("callback", "queued"))


def test_no_finish_after_close_and_one_observation_each(serve):
    def setup(server, st):
        count = [0]

        def on_request(req, res):
            count[0] += 1
            n = count[0]
            res.on("finish", lambda: st.record("finish", n))
            res.on("close", lambda: st.record("close", n))
            if n == 1:
                res.on("finish", lambda: req.socket.destroy())
            res.end(b"hello %d" % n)
        server.on("request", on_request)
        server.response_observer = lambda req, res: st.record("observed", req.url)
    st = serve(setup)
    with socket.create_connection(("127.0.0.1", st.port), timeout=10) as sock:
        sock.sendall(b"GET /1 HTTP/1.1\r\nHost: x\r\n\r\nGET /2 HTTP/1.1\r\nHost: x\r\n\r\n")
        read_until_close(sock)
    st.wait_for(lambda e: e == ("close", 2))
    st.wait_for(lambda e: e == ("close", 1))
    events = st.events
    if ("finish", 2) in events:
        assert events.index(("finish", 2)) < events.index(("close", 2)), events
    assert events.count(("observed", "/1")) == 1 and events.count(("observed", "/2")) == 1, events


def test_a_client_half_close_does_not_cut_a_closing_response_still_flushing(serve):
    """``Connection: close`` answered a little later with a large body: the client's FIN
    came while the body was still queued, and the socket was destroyed at once (the
    rest dropped) because ``end()`` had been called; the rule is that a pending response
    is still sent after the peer's FIN."""
    body = b"x" * (32 << 20)

    def setup(server, st):
        def on_request(req, res):
            server.loop.call_soon(lambda: (res.end(body), st.record("ended", res.socket.buffered_size > 0)))
        server.on("request", on_request)
    st = serve(setup)
    with socket.create_connection(("127.0.0.1", st.port), timeout=20) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert st.wait_for(lambda e: e[0] == "ended") == ("ended", True)  # the client has read nothing yet
        sock.shutdown(socket.SHUT_WR)  # a half-close: it still wants the whole answer
        data = read_until_close(sock)
    head, _, received = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK")
    assert len(received) == len(body)


def test_a_response_waiting_its_turn_gets_no_drain_of_the_bytes_before_it(serve):
    """A response queued behind a pipelined stream, its writer paced by 'drain': each
    drain of the first response's bytes was handed to it too, though its own bytes were
    all still held, so its queue grew without bound. Its drain comes once it is first."""
    chunk = b"c" * (256 << 10)

    def setup(server, st):
        def on_request(req, res):
            if req.url == "/first":  # a stream kept going for a while, then ended
                count = [0]

                def more():
                    count[0] += 1
                    res.write(b"s" * 4096)
                    if count[0] < 20:
                        server.loop.call_later(0.02, more)
                    else:
                        res.end()
                more()
            else:
                def produce():
                    while res.write(chunk):
                        pass
                    if res.writable_length > 8 * len(chunk):
                        res.end()  # (a queue that grew without bound: enough to tell)
                res.on("drain", lambda: (st.record("drain", res.active, res.writable_length), produce()))
                produce()
        server.on("request", on_request)
    st = serve(setup)
    with socket.create_connection(("127.0.0.1", st.port), timeout=10) as sock:
        sock.sendall(b"GET /first HTTP/1.1\r\nHost: x\r\n\r\nGET /second HTTP/1.1\r\nHost: x\r\n\r\n")
        sock.settimeout(0.05)
        deadline = time.monotonic() + 20
        while not any(e[0] == "drain" and e[1] for e in list(st.events)):  # its own drain, once first
            assert time.monotonic() < deadline, st.events
            try:
                if not sock.recv(1 << 20):  # the client reads all it is sent
                    break
            except socket.timeout:
                pass
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    drains = [e for e in st.events if e[0] == "drain"]
    assert all(active for _, active, _ in drains), drains


def test_a_socket_piped_into_a_long_lived_one_leaves_no_listener_on_it(serve):
    """``Socket.pipe(destination)`` added listeners to the destination and never took them
    off: each source that closed left one (and itself, through it) on a shared upstream."""
    def setup(server, st):
        st.sink = None

        def on_upgrade(req, sock, head):
            sock.write(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\nConnection: Upgrade\r\n\r\n")
            if req.url == "/sink":
                st.sink = sock
            else:
                sock.pipe(st.sink, end=False)  # a tunnel into one shared upstream
                sock.on("end", lambda: sock.end())
                sock.on("close", lambda *_: st.record("source closed"))
        server.on("upgrade", on_upgrade)
    st = serve(setup)
    upgrade = b"GET %s HTTP/1.1\r\nHost: x\r\nUpgrade: x\r\nConnection: Upgrade\r\n\r\n"
    with socket.create_connection(("127.0.0.1", st.port), timeout=10) as sink:
        sink.sendall(upgrade % b"/sink")
        sink.recv(4096)
        for i in range(10):
            with socket.create_connection(("127.0.0.1", st.port), timeout=10) as source:
                source.sendall(upgrade % b"/src")
                source.recv(4096)  # the 101
                source.sendall(b"payload %d\n" % i)
        wait_until(lambda: st.events.count(("source closed",)) == 10, 10, what="the sources closed")
        assert st.call(lambda: st.sink.listener_count("drain")) == 0


def test_finish_never_comes_inside_end_of_a_closing_answer(serve):
    """An answer given outside a read to a request that closes the connection: the FIN
    went out at once and the socket was destroyed inside ``end()``, its 'finish' and
    'close' (and the access log's observer) with it. They come on a later turn."""
    def setup(server, st):
        def on_request(req, res):
            inside = [False]
            res.on("finish", lambda: st.record("finish", inside[0]))
            res.on("close", lambda: st.record("close", inside[0]))

            def answer():
                inside[0] = True
                res.end(b"bye")
                inside[0] = False
            server.loop.call_soon(answer)
        server.on("request", on_request)
    st = serve(setup)
    with socket.create_connection(("127.0.0.1", st.port), timeout=10) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert read_until_close(sock).endswith(b"bye")
    assert st.wait_for(lambda e: e[0] == "close") == ("close", False)
    assert [e for e in st.events if e[0] == "finish"] == [("finish", False)]
    assert st.events.index(("finish", False)) < st.events.index(("close", False))


def test_destroying_a_response_waiting_its_turn_lets_the_earlier_one_finish(serve):
    def setup(server, st):
        def on_request(req, res):
            if req.url == "/1":
                server.loop.call_later(0.1, res.end, b"first response, complete")
            else:
                res.destroy()  # the second request is refused while the first is answered
                st.record("destroyed", res.destroyed)
                res.write(b"late", lambda *_: st.record("late write's callback"))
        server.on("request", on_request)
    st = serve(setup)
    with socket.create_connection(("127.0.0.1", st.port), timeout=10) as sock:
        sock.sendall(b"GET /1 HTTP/1.1\r\nHost: x\r\n\r\nGET /2 HTTP/1.1\r\nHost: x\r\n\r\n")
        data = read_until_close(sock)
    assert data.startswith(b"HTTP/1.1 200 OK") and data.endswith(b"first response, complete"), data
    assert ("destroyed", True) in st.events  # at once, as Node's
    st.wait_for(lambda e: e == ("late write's callback",))  # a write after it: dropped, its callback run



def test_a_handed_over_socket_keeps_its_bytes_and_end_while_paused_and_in_order(serve):
    """The bytes read after a hand-over, before any 'data' listener: (a) on('data') then
    pause() delivered them while paused; (b) a listener that paused on them still got
    'end' at once; (c) a FIN before the late listener's delivery gave 'end' before 'data'."""
    def setup(server, st):
        def on_upgrade(req, sock, head):
            sock.write(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\nConnection: Upgrade\r\n\r\n")
            st.sock, st.url = sock, req.url
            st.record("upgraded", req.url)
        server.on("upgrade", on_upgrade)
    st = serve(setup)

    def listen_late():  # (on the loop: the app sets its listeners late, as an async handler does)
        sock, server = st.sock, st.server
        if st.url == "/a":
            sock.on("data", lambda data: st.record("a-data"))
            sock.pause()
            server.loop.call_later(0.2, lambda: (st.record("a-resume"), sock.resume()))
        elif st.url == "/b":
            def on_data(data):
                st.record("b-data")
                sock.pause()
                server.loop.call_later(0.2, lambda: (st.record("b-resume"), sock.resume()))
            sock.on("data", on_data)
            sock.on("end", lambda: st.record("b-end"))
        else:
            sock.on("data", lambda data: st.record("c-data", bytes(data)))
            sock.on("end", lambda: st.record("c-end"))
    for name in ("a", "b", "c"):
        head = b"GET /%s HTTP/1.1\r\nHost: x\r\nUpgrade: x\r\nConnection: Upgrade\r\n\r\n" % name.encode()
        with socket.create_connection(("127.0.0.1", st.port), timeout=10) as sock:
            sock.sendall(head)
            st.wait_for(lambda e: e == ("upgraded", "/" + name))
            sock.sendall(b"tunnel bytes")
            if name != "a":
                sock.shutdown(socket.SHUT_WR)
            wait_until(lambda: st.call(lambda: st.sock.bytes_read >= len(head) + 12
                                       and (name == "a" or not st.sock.readable)), 5, what="the bytes read and kept")
            st.call(listen_late)
            st.wait_for(lambda e: e == {"a": ("a-data",), "b": ("b-end",), "c": ("c-end",)}[name])
    events = [e for e in st.events if e[0] != "upgraded"]
    assert events.index(("a-resume",)) < events.index(("a-data",)), events
    assert events.index(("b-data",)) < events.index(("b-resume",)) < events.index(("b-end",)), events
    assert events.index(("c-data", b"tunnel bytes")) < events.index(("c-end",)), events


def test_a_request_begun_before_a_final_response_is_not_dispatched(serve):
    """Its head had begun when the app fixed ``Connection: close`` on the answer before it:
    the parser's refusal at a message's first byte did not see it, and it was dispatched
    (a POST's side effects ran) though its answer could never be sent."""
    def setup(server, st):
        def on_request(req, res):
            st.record("request", req.url)
            if req.url == "/1":
                def answer():
                    res.set_header("Connection", "close")
                    res.write(b"streaming...")  # the head is fixed: a final response
                    st.record("final")
                    server.loop.call_later(0.2, res.end)
                server.loop.call_soon(answer)
            else:
                res.end(b"never dispatched")
        server.on("request", on_request)
    st = serve(setup)
    with socket.create_connection(("127.0.0.1", st.port), timeout=10) as sock:
        sock.sendall(b"GET /1 HTTP/1.1\r\nHost: x\r\n\r\nPOST /2 HTTP/1.1\r\nHo")  # /2's head has begun
        st.wait_for(lambda e: e == ("final",))
        sock.sendall(b"st: x\r\nContent-Length: 0\r\n\r\n")
        data = read_until_close(sock)
    assert data.count(b"HTTP/1.1 ") == 1 and b"never dispatched" not in data, data
    assert ("request", "/2") not in st.events, st.events
