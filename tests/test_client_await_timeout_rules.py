"""When an awaiter's timeout (a ``timeout`` only awaiters hear) destroys the request:
only while the reader waits on the network (not while an ``async for`` body is slow,
the socket paused for it), never while the request body is still being written, never
when an application listener (``once`` too, ``set_timeout``'s callback) hears it; the
error is a ``TimeoutError`` naming the seconds. And a raising application listener
neither hangs an awaiter nor hands it an empty body."""

import asyncio
import logging
import socket

import pytest

import prefork
from prefork.client import Agent

TIMEOUT = 0.15


async def serving(handler):
    server = prefork.create_server(handler)
    server.listen(0)
    await asyncio.sleep(0)
    return server, f"http://127.0.0.1:{server.address()['port']}/"


def test_an_async_for_slower_than_the_timeout_gets_the_whole_streamed_body():
    size = 400_000

    def handler(req, res):  # the server sends at once: only the reader is slow
        res.write_head(200, {"Content-Length": str(size)})
        for _ in range(4):
            res.write(b"x" * (size // 4))
        res.end()

    async def main():
        server, url = await serving(handler)
        agent = Agent()
        try:
            res = await asyncio.wait_for(prefork.get(url, agent=agent, timeout=TIMEOUT), 5)
            got = 0
            async for chunk in res:
                got += len(chunk)
                await asyncio.sleep(TIMEOUT * 1.7)  # the loop's work, longer than the timeout
            assert got == size
        finally:
            agent.destroy()
            server.close()
    asyncio.run(asyncio.wait_for(main(), 30))


@pytest.mark.parametrize("how", ["req.set_timeout(s, callback)", "req.once", "res.once"])
def test_a_one_time_timeout_listener_of_the_application_keeps_the_request(how):
    async def main():
        loop = asyncio.get_running_loop()

        def handler(req, res):
            if how == "res.once":
                res.write_head(200, {"Content-Length": "10"})
                res.write("abc")
                loop.call_later(TIMEOUT * 3, res.end, "defghij")
            else:
                loop.call_later(TIMEOUT * 3, res.end, "abcdefghij")
        server, url = await serving(handler)
        told = []
        try:
            if how.startswith("req.set_timeout"):
                req = prefork.get(url, agent=False)
                req.set_timeout(TIMEOUT, lambda: told.append(how))
            else:
                req = prefork.get(url, agent=False, timeout=TIMEOUT)
                if how == "req.once":
                    req.once("timeout", lambda: told.append(how))
            res = await asyncio.wait_for(req, 5)
            if how == "res.once":
                res.once("timeout", lambda: told.append(how))
            assert await asyncio.wait_for(res.read(), 5) == b"abcdefghij"
            assert told == [how]
        finally:
            server.close()
    asyncio.run(main())


def test_a_pending_response_while_the_app_uploads_slower_than_the_timeout_is_not_destroyed():
    def handler(req, res):
        body = []
        req.on("data", body.append)
        req.on("end", lambda: res.end(f"got {sum(map(len, body))}"))

    async def main():
        server, url = await serving(handler)
        try:
            req = prefork.request(url, method="POST", agent=False, timeout=TIMEOUT)
            pending = asyncio.ensure_future(req.response())
            for _ in range(3):
                req.write(b"x" * 1000)
                await asyncio.sleep(TIMEOUT * 1.7)  # the producer, slower than the timeout
                assert not pending.done()
            req.end()
            res = await asyncio.wait_for(pending, 5)
            assert await asyncio.wait_for(res.read(), 5) == b"got 3000"
        finally:
            server.close()
    asyncio.run(main())


def test_the_awaiters_timeout_is_a_timeout_error_naming_its_seconds_and_timeout_0():
    async def main():
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen(4)
        try:
            req = prefork.get(f"http://127.0.0.1:{listener.getsockname()[1]}/", agent=False, timeout=TIMEOUT)
            with pytest.raises(TimeoutError) as caught:
                await asyncio.wait_for(req, 5)
            err = caught.value
            assert isinstance(err, prefork.HTTPError) and err.code == "ETIMEDOUT"
            assert f"{TIMEOUT:g} s" in str(err) and "timeout=0" in str(err)
        finally:
            listener.close()
    asyncio.run(main())


def boom(*args):
    raise RuntimeError("boom")


def test_a_raising_close_listener_does_not_hang_an_awaited_request_that_only_closes(caplog):
    async def main():
        loop = asyncio.get_running_loop()
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen(4)
        listener.setblocking(False)
        conns = []

        async def serve():  # a 101 nobody listens for: the request only closes
            conn, _ = await loop.sock_accept(listener)
            conns.append(conn)
            await loop.sock_recv(conn, 65536)
            await loop.sock_sendall(conn, b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: foo\r\n"
                                          b"Connection: Upgrade\r\n\r\n")
        task = asyncio.ensure_future(serve())
        try:
            req = prefork.request(f"http://127.0.0.1:{listener.getsockname()[1]}/",
                                  headers={"Connection": "Upgrade", "Upgrade": "foo"}, agent=False)
            req.on("close", boom)
            req.end()
            with pytest.raises(prefork.HTTPError) as caught:
                await asyncio.wait_for(req, 5)
            assert caught.value.code == "ECONNRESET"
        finally:
            task.cancel()
            for conn in conns:
                conn.close()
            listener.close()
    with caplog.at_level(logging.CRITICAL):
        asyncio.run(main())


def test_a_raising_data_listener_makes_the_awaited_read_raise_not_return_an_empty_body(caplog):
    async def main():
        server, url = await serving(lambda req, res: res.end("hello"))
        try:
            req = prefork.get(url, agent=False)
            req.on("response", lambda res: res.on("data", boom))
            res = await asyncio.wait_for(req, 5)
            with pytest.raises(prefork.HTTPError) as caught:
                await asyncio.wait_for(res.read(), 5)
            assert caught.value.code == "ECONNRESET"
        finally:
            server.close()
    with caplog.at_level(logging.CRITICAL):
        asyncio.run(main())


def test_a_read_started_after_the_socket_was_idle_past_its_timeout_still_times_out():
    async def main():
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen(4)
        listener.setblocking(False)
        loop = asyncio.get_running_loop()
        conns = []

        async def serve():  # part of a body, then silence
            conn, _ = await loop.sock_accept(listener)
            conns.append(conn)
            await loop.sock_recv(conn, 65536)
            await loop.sock_sendall(conn, b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")
        task = asyncio.ensure_future(serve())
        try:
            req = prefork.get(f"http://127.0.0.1:{listener.getsockname()[1]}/", agent=False, timeout=TIMEOUT)
            told = asyncio.Event()
            res = await asyncio.wait_for(req, 5)
            res.once("timeout", told.set)  # (the application's, while it does something else)
            await asyncio.wait_for(told.wait(), 5)
            with pytest.raises(prefork.HTTPError) as caught:  # (not wait_for's own TimeoutError)
                await asyncio.wait_for(res.read(), 5)
            assert caught.value.code == "ETIMEDOUT"
        finally:
            task.cancel()
            for conn in conns:
                conn.close()
            listener.close()
    asyncio.run(main())


@pytest.mark.parametrize("last", [1, 16 << 20], ids=["answer-never-comes", "last-chunk-never-read"])
def test_a_request_uploaded_slowly_then_left_unanswered_still_times_out(last):
    # "last-chunk-never-read": more than the kernel's buffers take, so the upload never finishes
    async def main():
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen(4)
        try:
            req = prefork.request(f"http://127.0.0.1:{listener.getsockname()[1]}/", method="POST",
                                  agent=False, timeout=TIMEOUT)
            timed_out = asyncio.Event()
            pending = asyncio.ensure_future(req.response())
            req.on("socket", lambda sock: sock.on("timeout", timed_out.set))
            req.write(b"x" * 100)
            await asyncio.wait_for(timed_out.wait(), 5)  # idle past its timeout while uploading
            assert not pending.done()
            req.end(b"y" * last)
            with pytest.raises(prefork.HTTPError) as caught:
                await asyncio.wait_for(pending, 5)
            assert caught.value.code == "ETIMEDOUT"
            assert last == 1 or not req.writable_finished
        finally:
            listener.close()
    asyncio.run(main())
