"""Coroutine listeners on the workers' asyncio loop, and real asyncio libraries in a worker.

The semantics tests run a Server on an asyncio loop in a thread of this process and talk
to it over loopback; the ecosystem test runs the real daemon with one worker whose
handlers await a real Redis, httpx, prefork's own client and asyncio.sleep.
"""

import asyncio
import logging
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

import debian
import prefork
from daemon import wait_until
from harness import read_until_close

GET = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"


def exchange(st_, data, timeout=5):
    sock = socket.create_connection(("127.0.0.1", st_.port), timeout=timeout)
    try:
        sock.sendall(data)
        return read_until_close(sock)
    finally:
        sock.close()


def test_running_loop_inside_listeners_is_the_servers(serve):
    def setup(server, st_):
        def plain(req, res):
            st_.record("plain", asyncio.get_running_loop() is server.loop)

        async def coro(req, res):
            st_.record("coro", asyncio.get_running_loop() is server.loop)
            await asyncio.sleep(0)
            res.end("ok")
        server.on("request", plain)
        server.on("request", coro)
    st_ = serve(setup)
    assert exchange(st_, GET.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n")).endswith(b"ok")
    assert st_.wait_for(lambda e: e[0] == "plain") == ("plain", True)
    assert st_.wait_for(lambda e: e[0] == "coro") == ("coro", True)


def test_plain_listeners_keep_their_order_around_a_coroutine(serve):
    def setup(server, st_):
        async def b(req, res):
            st_.record("b")
            await asyncio.sleep(0)
            res.end("done")
        server.on("request", lambda req, res: st_.record("a"))
        server.on("request", b)
        server.on("request", lambda req, res: st_.record("c"))
    st_ = serve(setup)
    assert exchange(st_, b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").endswith(b"done")
    assert [e[0] for e in st_.call(lambda: list(st_.events))] == ["a", "c", "b"]


def test_coroutine_raising_before_the_head_gives_500(serve, caplog):
    caplog.set_level(logging.ERROR, logger="prefork")

    async def handler(req, res):
        await asyncio.sleep(0.01)
        raise RuntimeError("boom before the head")
    st_ = serve(lambda server, st_: server.on("request", handler))
    sock = socket.create_connection(("127.0.0.1", st_.port), timeout=5)
    sock.sendall(GET)
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536)
    assert data.startswith(b"HTTP/1.1 500 Internal Server Error\r\n")
    sock.sendall(GET)  # the connection stays usable
    more = b""
    while b"HTTP/1.1 500" not in more:
        more += sock.recv(65536)
    sock.close()
    assert "boom before the head" in caplog.text and "Traceback" in caplog.text


def test_coroutine_raising_after_the_head_closes_after_what_was_written(serve, caplog):
    caplog.set_level(logging.ERROR, logger="prefork")

    async def handler(req, res):
        res.write_head(200, {"Content-Type": "text/plain"})
        res.write("partial")
        await asyncio.sleep(0.01)
        raise RuntimeError("boom after the head")
    st_ = serve(lambda server, st_: server.on("request", handler))
    data = exchange(st_, GET)
    assert data.startswith(b"HTTP/1.1 200 OK\r\n") and data.endswith(b"7\r\npartial\r\n")  # no last chunk
    assert "boom after the head" in caplog.text


def test_a_task_outlives_its_connection_quietly(serve, caplog):
    caplog.set_level(logging.WARNING, logger="prefork")

    def setup(server, st_):
        async def handler(req, res):
            closed = server.loop.create_future()
            res.on("close", lambda: closed.done() or closed.set_result(None))
            st_.record("started")
            await closed
            res.write("after close")  # dropped without error, as Node drops it
            res.end("bye")
            st_.record("finished", req.destroyed, res.writable_ended)
        server.on("request", handler)
    st_ = serve(setup)
    sock = socket.create_connection(("127.0.0.1", st_.port), timeout=5)
    sock.sendall(GET)
    st_.wait_for(lambda e: e == ("started",))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    sock.close()  # a reset: the connection is gone at once
    assert st_.wait_for(lambda e: e[0] == "finished") == ("finished", True, True)
    assert caplog.text == ""


def test_coroutine_reads_the_body_after_awaiting(serve):
    async def handler(req, res):
        await asyncio.sleep(0.05)  # the body has arrived and is kept meanwhile
        body = await req.body()
        res.end(b"got " + body)
    st_ = serve(lambda server, st_: server.on("request", handler))
    data = exchange(st_, b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello")
    assert data.endswith(b"got hello")
    data = exchange(st_, b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert data.endswith(b"got ")


def test_unread_body_of_a_coroutine_request_is_discarded_after_the_response(serve):
    async def handler(req, res):
        await asyncio.sleep(0)
        res.end("ignored your body")
    st_ = serve(lambda server, st_: server.on("request", handler))
    sock = socket.create_connection(("127.0.0.1", st_.port), timeout=5)
    body = b"x" * 300_000  # past the high-water mark: reading pauses until it is discarded
    sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(body) + body + GET)
    data = b""
    while data.count(b"ignored your body") < 2:
        chunk = sock.recv(65536)
        assert chunk, data
        data += chunk
    sock.close()


def test_client_is_awaitable(serve):
    upstream = serve(lambda server, st_: server.on("request", lambda req, res: res.end(f"up {req.url}")))

    async def handler(req, res):
        reply = await prefork.get(f"http://127.0.0.1:{upstream.port}/x")
        body = await reply.read()
        try:
            await prefork.get("http://127.0.0.1:1/")  # nothing listens there
        except prefork.HTTPError as err:
            res.end(b"%d %s / %s" % (reply.status_code, body, err.code.encode()))
    st_ = serve(lambda server, st_: server.on("request", handler))
    data = exchange(st_, b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert data.endswith(b"200 up /x / ECONNREFUSED")


# -- the asyncio ecosystem in a worker ------------------------------------------------------------
@pytest.fixture
def redis_socket():
    binary, why = debian.ensure("redis-server", "redis-server")
    if binary is None:
        pytest.skip(why)
    pytest.importorskip("redis")
    tmp = tempfile.mkdtemp(prefix="prefork-redis-")
    path = os.path.join(tmp, "redis.sock")
    proc = subprocess.Popen([binary, "--port", "0", "--unixsocket", path, "--save", "", "--appendonly", "no",
                             "--dir", tmp], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until(lambda: os.path.exists(path), 10, what="redis's socket")
        yield path
    finally:
        proc.kill()
        proc.wait(5)
        shutil.rmtree(tmp, ignore_errors=True)


def _get(port, path):
    sock = socket.create_connection(("127.0.0.1", port), timeout=20)
    try:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        return read_until_close(sock)
    finally:
        sock.close()


@pytest.mark.parametrize("path,expect", [("/sleep", b"slept"), ("/redis", b"redis "), ("/httpx", b"httpx slow"),
                                         ("/prefork", b"prefork slow")])
def test_fifty_awaiting_requests_overlap_on_one_worker(daemons, serve, redis_socket, path, expect):
    pytest.importorskip("httpx")
    upstream = serve(lambda server, st_: server.on(
        "request", lambda req, res: server.loop.call_later(0.2, res.end, "slow")))
    daemon = daemons(app="apps.ecosystem:setup", workers=1,
                     env={"UPSTREAM": f"http://127.0.0.1:{upstream.port}", "REDIS_SOCKET": redis_socket})
    daemon.wait_ready()
    assert expect in _get(daemon.port, path)  # warm: the clients exist
    plain = []
    stop = threading.Event()

    def plain_requests():
        while not stop.is_set() and len(plain) < 500:
            t0 = time.monotonic()
            reply = _get(daemon.port, "/")
            plain.append((reply.endswith(b"plain"), time.monotonic() - t0))
    watcher = threading.Thread(target=plain_requests, daemon=True)
    start = time.monotonic()
    watcher.start()
    with ThreadPoolExecutor(50) as pool:
        replies = list(pool.map(lambda _: _get(daemon.port, path), range(50)))
    elapsed = time.monotonic() - start
    stop.set()
    watcher.join(10)
    assert all(r.startswith(b"HTTP/1.1 200 OK") and expect in r for r in replies), replies[:3]
    # one at a time they would take 50 x 0.2 s = 10 s; overlapping, a fraction of that
    assert elapsed < 5.0, elapsed
    assert plain and all(ok for ok, _ in plain)


def test_await_req_body_raises_econnreset_when_the_client_goes_mid_body():
    """``await req.body()`` of a body cut short raises a ConnectionResetError with Node's
    ``code`` (ECONNRESET), as ``async for chunk in req`` raises it."""
    async def main():
        caught = asyncio.get_running_loop().create_future()

        async def on_request(req, res):
            try:
                await req.body()
            except ConnectionResetError as err:
                caught.set_result(getattr(err, "code", None))
        server = prefork.create_server(on_request)
        server.listen(0, "127.0.0.1")
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", server.address()["port"])
            writer.write(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123456789")
            await writer.drain()
            writer.close()
            return await asyncio.wait_for(caught, 5)
        finally:
            server.close()
    assert asyncio.run(main()) == "ECONNRESET"


def test_a_cut_body_raises_the_same_error_to_body_and_async_for():
    """``await req.body()`` and ``async for chunk in req`` of a body cut short raise one
    error: Node's ECONNRESET "aborted", which is also a ConnectionResetError."""
    from prefork.http.errors import HTTPError

    async def main():
        caught = []
        done = asyncio.get_running_loop().create_future()

        async def on_request(req, res):
            try:
                if req.url == "/body":
                    await req.body()
                else:
                    async for _ in req:
                        pass
            except Exception as err:
                caught.append((req.url, type(err).__name__, err.code, isinstance(err, ConnectionResetError),
                               isinstance(err, HTTPError)))
            if len(caught) == 2:
                done.set_result(None)
        server = prefork.create_server(on_request)
        server.listen(0, "127.0.0.1")
        try:
            for path in ("/body", "/iterate"):
                reader, writer = await asyncio.open_connection("127.0.0.1", server.address()["port"])
                writer.write(b"POST " + path.encode() + b" HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n01234")
                await writer.drain()
                writer.close()
            await asyncio.wait_for(done, 5)
            return sorted(caught)
        finally:
            server.close()
    assert asyncio.run(main()) == [("/body", "Aborted", "ECONNRESET", True, True),
                                   ("/iterate", "Aborted", "ECONNRESET", True, True)]
