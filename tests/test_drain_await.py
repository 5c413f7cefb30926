"""``await res.drain()`` / ``await req.drain()``: a coroutine that streams a body waits
for the peer to take it, and learns when the peer went (asyncio's ``writer.drain()``).

A server on a loop thread of this process (the ``serve`` fixture), real loopback sockets.
"""

import asyncio
import socket
import time

import prefork
from prefork import PrematureClose

CHUNK = b"x" * 65536
TOTAL_CHUNKS = 160  # 10 MiB: far more than the socket buffers hold


def stream_handler(st_):
    async def on_request(req, res):
        res.write_head(200, {"Content-Type": "application/octet-stream",
                             "Content-Length": str(len(CHUNK) * TOTAL_CHUNKS)})
        most = 0
        try:
            for _ in range(TOTAL_CHUNKS):
                if not res.write(CHUNK):
                    await res.drain()
                most = max(most, res.writable_length)
            res.end()
            await res.drain()  # ended: returns once nothing more is asked
            st_.record("done", most, res.writable_high_water_mark)
        except PrematureClose as err:
            st_.record("gone", err.code, isinstance(err, ConnectionResetError), most)
    return on_request


def read_head(sock):
    data = b""
    while b"\r\n\r\n" not in data:
        more = sock.recv(65536)
        assert more, "the server closed before its head"
        data += more
    return data.partition(b"\r\n\r\n")[2]


def test_a_streaming_coroutine_holds_no_more_than_a_high_water_mark(serve):
    st_ = serve(lambda server, st_: server.on("request", stream_handler(st_)))
    sock = socket.create_connection(("127.0.0.1", st_.port), timeout=10)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    got = len(read_head(sock))
    deadline = time.monotonic() + 20
    while got < len(CHUNK) * TOTAL_CHUNKS and time.monotonic() < deadline:
        more = sock.recv(16384)  # a reader slower than the producer
        assert more
        got += len(more)
    sock.close()
    assert got == len(CHUNK) * TOTAL_CHUNKS
    event = st_.wait_for(lambda e: e[0] in ("done", "gone"))
    assert event[0] == "done"
    # what waited in user space never grew past a write or two beyond the mark
    assert event[1] <= event[2] + 2 * len(CHUNK)


def test_drain_raises_premature_close_when_the_client_goes(serve):
    st_ = serve(lambda server, st_: server.on("request", stream_handler(st_)))
    sock = socket.create_connection(("127.0.0.1", st_.port), timeout=10)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    read_head(sock)
    sock.close()  # unread data: a reset
    event = st_.wait_for(lambda e: e[0] in ("done", "gone"), timeout=10)
    assert event[:3] == ("gone", "ERR_STREAM_PREMATURE_CLOSE", True)
    # nothing is left waiting on the response
    assert st_.call(lambda: [t for t in asyncio.all_tasks(st_.loop) if not t.done()]) == []


def test_drain_after_close_raises_at_once_and_a_cancelled_wait_leaves_no_listener(serve):
    def setup(server, st_):
        async def on_request(req, res):
            res.write_head(200)
            while res.write(CHUNK):  # fill until the peer's buffers are full
                pass
            wait = asyncio.ensure_future(res.drain())
            await asyncio.sleep(0)
            wait.cancel()
            await asyncio.sleep(0)
            st_.record("listeners", res.listener_count("drain"), res.listener_count("close"))
            req.socket.destroy()
            await asyncio.sleep(0)
            try:
                await res.drain()
            except PrematureClose:
                st_.record("raised")
        server.on("request", on_request)
    st_ = serve(setup)
    sock = socket.create_connection(("127.0.0.1", st_.port), timeout=10)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert st_.wait_for(lambda e: e[0] == "listeners") == ("listeners", 0, 0)
    assert st_.wait_for(lambda e: e[0] == "raised") == ("raised",)
    sock.close()


def test_drain_of_a_finished_response_returns_at_once(serve):
    def setup(server, st_):
        async def on_request(req, res):
            res.end("short")
            await asyncio.wait_for(res.drain(), 1)
            st_.record("returned")
        server.on("request", on_request)
    st_ = serve(setup)
    sock = socket.create_connection(("127.0.0.1", st_.port), timeout=5)
    sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    data = b""
    while True:
        more = sock.recv(65536)
        if not more:
            break
        data += more
    sock.close()
    assert data.endswith(b"short")
    assert st_.wait_for(lambda e: e[0] == "returned") == ("returned",)


def test_client_request_drain_paces_an_upload(serve):
    """The client side: an upload written with ``await req.drain()`` holds no more than
    the high-water mark, and the server gets every byte."""
    def setup(server, st_):
        def on_request(req, res):
            size = [0]
            req.on("data", lambda chunk: size.__setitem__(0, size[0] + len(chunk)))
            req.on("end", lambda: (st_.record("received", size[0]), res.end("ok")))
        server.on("request", on_request)
    st_ = serve(setup)

    async def upload():
        req = prefork.request({"host": "127.0.0.1", "port": st_.port, "method": "POST", "path": "/"})
        most = 0
        for _ in range(TOTAL_CHUNKS):
            if not req.write(CHUNK):
                await req.drain()
            most = max(most, req.writable_length)
        req.end()
        res = await req.response()
        return most, await res.read()

    loop = asyncio.new_event_loop()
    try:
        most, body = loop.run_until_complete(asyncio.wait_for(upload(), 30))
    finally:
        loop.close()
    assert body == b"ok"
    assert st_.wait_for(lambda e: e[0] == "received", timeout=10) == ("received", len(CHUNK) * TOTAL_CHUNKS)
    assert most <= 65536 + 2 * len(CHUNK)
