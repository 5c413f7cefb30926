"""A client's reset that comes right behind bytes of its own is seen on every loop, in
every state of the connection, not only at a paused request's resume().

uvloop (libuv's poll handle) meets a socket whose peer's bytes and reset both wait with
EPOLLERR: it stops the handle and calls the reader once; that read returns the bytes
(the kernel gives them before the error), and no read comes after it. The reset then
went unseen: a CONNECT tunnel or upgraded socket was held for ever, a response held
open (SSE, long-poll) until its next write, a head cut by the reset was answered by
headers_timeout (a 408 counted as a timeout) and an upload by request_timeout. On the
selector loop each of them closes at once with ECONNRESET.

The loop is kept busy while the client sends and resets, so both wait together on any
machine (idle, over loopback, they usually do anyway). Real loopback sockets, a server
on a loop thread.
"""

import socket
import struct
import threading
import time

import pytest

import prefork
from conftest import ServerThread
from prefork.runtime import new_event_loop

LOOPS = ["asyncio", pytest.param("uvloop", marks=pytest.mark.skipif(
    __import__("importlib").util.find_spec("uvloop") is None, reason="uvloop is not installed"))]


class Running(ServerThread):
    """conftest's server on a loop thread, on the loop named, with the loop kept busy
    while the client acts (``busy_while``)."""

    def __init__(self, loop_name, setup, **options):
        super().__init__(setup, loop_name=loop_name, **options)

    def wait_for(self, predicate, timeout=5.0):
        try:
            super().wait_for(predicate, timeout)
        except TimeoutError:
            return False
        return True

    def busy_while(self, action):
        """Run ``action`` (the client's send and reset) while the loop is blocked."""
        blocked, done = threading.Event(), threading.Event()

        def block():
            blocked.set()
            done.wait(5)
        self.loop.call_soon_threadsafe(block)
        assert blocked.wait(5)
        try:
            action()
        finally:
            done.set()



def send_and_reset(client, data):
    client.sendall(data)
    client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    client.close()  # (over loopback the reset is there when close() returns)


@pytest.mark.parametrize("loop_name", LOOPS)
def test_a_tunnel_whose_client_sends_then_resets_closes(loop_name):
    def setup(server, st):
        def on_connect(req, sock, head):
            sock.on("data", lambda data: st.record("data", data))
            sock.on("error", lambda err: st.record("error", err.code))
            sock.on("close", lambda had_error: st.record("close", had_error))
            sock.write(b"HTTP/1.1 200 Connection Established\r\n\r\n")
            st.record("tunnel")
        server.on("connect", on_connect)
    st = Running(loop_name, setup)
    try:
        client = socket.create_connection(("127.0.0.1", st.port), timeout=5)
        client.sendall(b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n")
        assert st.wait_for(lambda e: e[0] == "tunnel", 5)
        st.busy_while(lambda: send_and_reset(client, b"the client's last bytes"))
        assert st.wait_for(lambda e: e[0] == "close", 5), st.events
        assert ("data", b"the client's last bytes") in st.events
        assert ("error", "ECONNRESET") in st.events and ("close", True) in st.events
    finally:
        st.stop()


@pytest.mark.parametrize("loop_name", LOOPS)
def test_a_response_held_open_closes_when_its_client_sends_then_resets(loop_name):
    """An event stream (or long-poll) the app keeps open without writing: its client
    pipelines a request and resets. Nothing else would end it. (On uvloop the server's
    sweep finds that reset: a read that completes a request asks nothing, so it costs
    no request anything; the sweep here runs every 0.2 s.)"""
    def setup(server, st):
        def on_request(req, res):
            res.on("close", lambda: st.record("close", res.writable_finished))
            if req.url == "/events":
                res.write_head(200, {"content-type": "text/event-stream"})
                res.write(b"data: hello\n\n")
                st.record("streaming")
            else:
                res.end(b"next")
        server.on("request", on_request)
    st = Running(loop_name, setup, connections_checking_interval=0.2)
    try:
        client = socket.create_connection(("127.0.0.1", st.port), timeout=5)
        client.sendall(b"GET /events HTTP/1.1\r\nHost: x\r\n\r\n")
        assert st.wait_for(lambda e: e[0] == "streaming", 5)
        assert client.recv(4096).startswith(b"HTTP/1.1 200 OK")
        st.busy_while(lambda: send_and_reset(client, b"GET /next HTTP/1.1\r\nHost: x\r\n\r\n"))
        assert st.wait_for(lambda e: e == ("close", False), 5), st.events
    finally:
        st.stop()


@pytest.mark.parametrize("loop_name", LOOPS)
def test_a_head_cut_by_a_reset_is_a_reset_not_a_timeout(loop_name):
    def setup(server, st):
        server.on("request", lambda req, res: res.end(b"ok"))
        server.on("clientError", lambda err, sock: (st.record("clientError", err.code), sock.destroy()))
    st = Running(loop_name, setup, headers_timeout=30.0, request_timeout=60.0, connections_checking_interval=1.0)
    try:
        client = socket.create_connection(("127.0.0.1", st.port), timeout=5)
        client.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert client.recv(4096).endswith(b"ok")  # a keep-alive connection, now idle
        st.busy_while(lambda: send_and_reset(client, b"GET /next HTTP/1.1\r\nHost: x\r\nX-Cut"))
        assert st.wait_for(lambda e: e[0] == "clientError", 5), st.events
        assert ("clientError", "ECONNRESET") in st.events
    finally:
        st.stop()


@pytest.mark.parametrize("loop_name", LOOPS)
def test_an_upload_reset_mid_body_is_seen_at_once(loop_name):
    """The app reads the body as it comes (no pause); the client resets with more than
    one read's worth of its body waiting. request_timeout is off, as uploads of large
    files often set it."""
    def setup(server, st):
        def on_request(req, res):
            req.on("data", lambda chunk: None)
            req.on("close", lambda: st.record("close", req.aborted))
            st.record("request")
        server.on("request", on_request)
    st = Running(loop_name, setup, request_timeout=0)
    try:
        client = socket.create_connection(("127.0.0.1", st.port), timeout=5)
        client.sendall(b"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 100000000\r\n\r\n")
        assert st.wait_for(lambda e: e[0] == "request", 5)
        client.setblocking(False)

        def fill_then_reset():
            sent = 0
            while sent < 1_000_000:  # (as much as the kernel takes while the loop is blocked)
                try:
                    sent += client.send(b"x" * 65536)
                except BlockingIOError:
                    break
            assert sent > 200_000
            send_and_reset(client, b"")
        st.busy_while(fill_then_reset)
        assert st.wait_for(lambda e: e[0] == "close", 5), st.events
        assert ("close", True) in st.events
    finally:
        st.stop()


@pytest.mark.parametrize("loop_name", LOOPS)
@pytest.mark.parametrize("reply", [b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\ncut short",
                                   b"HTTP/1.1 200 OK\r\nContent-Le"], ids=["body", "head"])
def test_the_client_hears_of_a_reset_right_behind_a_partial_response(loop_name, reply):
    """prefork's client (an app calling a service from a worker): the upstream answers
    in part and resets at once, as a crashing backend does. The request errs
    (ECONNRESET) and closes; it hung for good on uvloop."""
    lsock = socket.create_server(("127.0.0.1", 0))
    lsock.settimeout(5)

    def upstream():
        conn, _ = lsock.accept()
        with conn:
            conn.settimeout(5)
            head = b""
            while b"\r\n\r\n" not in head:
                chunk = conn.recv(4096)
                if not chunk:
                    return
                head += chunk
            send_and_reset(conn, reply)
    thread = threading.Thread(target=upstream, daemon=True)
    thread.start()
    loop = new_event_loop(loop_name)

    async def main():
        import asyncio
        events = []
        closed = loop.create_future()
        req = prefork.request({"host": "127.0.0.1", "port": lsock.getsockname()[1], "agent": False})
        req.on("error", lambda err: events.append(("error", err.code)))
        req.on("response", lambda res: (events.append(("response",)), res.on("error", lambda err: None)))
        req.on("close", lambda: closed.done() or closed.set_result(None))
        req.end()
        try:
            await asyncio.wait_for(closed, 5)
        except asyncio.TimeoutError:
            pass
        return events
    try:
        events = loop.run_until_complete(main())
        assert ("error", "ECONNRESET") in events, events
    finally:
        loop.close()
        lsock.close()
        thread.join(5)


@pytest.mark.parametrize("loop_name", LOOPS)
@pytest.mark.parametrize("kind", ["connect", "upgrade"])
def test_a_socket_handed_over_in_the_read_its_client_reset_in_closes(loop_name, kind):
    """The head of a CONNECT (or upgrade), the first tunnel bytes and the client's reset
    in one read: the socket handed to the listener hears the reset at once."""
    def setup(server, st):
        def on_hand(req, sock, head):
            st.record("head", bytes(head))
            sock.on("error", lambda err: st.record("error", err.code))
            sock.on("close", lambda had_error: st.record("close", had_error))
        server.on(kind, on_hand)
    st = Running(loop_name, setup)
    try:
        client = socket.create_connection(("127.0.0.1", st.port), timeout=5)
        if kind == "connect":
            head = b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n"
        else:
            head = b"GET /ws HTTP/1.1\r\nHost: x\r\nConnection: upgrade\r\nUpgrade: foo\r\n\r\n"
        st.busy_while(lambda: send_and_reset(client, head + b"tunnel bytes"))
        assert st.wait_for(lambda e: e[0] == "close", 5), st.events
    finally:
        st.stop()


@pytest.mark.parametrize("loop_name", LOOPS)
def test_a_kept_alive_socket_reset_right_behind_its_response_is_not_reused(loop_name):
    """The upstream answers and resets at once: the agent does not pool that socket, so
    the next request goes on a new connection and succeeds."""
    import asyncio
    from test_hostile_client import RawServer, read_head

    def handler(conn, index):
        while read_head(conn):
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            if index == 0:
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                return
    upstream = RawServer(handler)
    loop = new_event_loop(loop_name)

    async def main():
        agent = prefork.Agent(keep_alive=True)
        options = {"host": "127.0.0.1", "port": upstream.port, "agent": agent}
        try:
            first = prefork.get(options)
            deadline = time.monotonic() + 5
            while upstream.accepted < 1 and time.monotonic() < deadline:
                await asyncio.sleep(0.01)
            time.sleep(0.3)  # the loop busy while the answer and the reset come: they wait together
            res = await asyncio.wait_for(first.response(), 5)
            assert await asyncio.wait_for(res.read(), 5) == b"ok"
            second = await asyncio.wait_for(prefork.get(options), 5)
            return await asyncio.wait_for(second.read(), 5)
        finally:
            agent.destroy()
    try:
        assert loop.run_until_complete(main()) == b"ok"
    finally:
        loop.close()
        upstream.close()
