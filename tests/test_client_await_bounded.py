"""An awaited client response (``res = await prefork.get(...)``) keeps its body for a
reader up to a high-water mark, then stops reading: a download streamed with
``async for`` is never held whole, while a small body nobody has read yet still ends
and frees its socket for the agent's next request.

Real loopback sockets: an upstream thread of this process that writes a large body as
fast as the client takes it, and prefork's own server for the keep-alive cases.
"""

import asyncio
import socket
import threading
import time

import prefork

SIZE = 32 * 1024 * 1024


def big_upstream():
    """A server that answers one request with SIZE bytes; returns (listener, sent)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    sent = [0]

    def run():
        conn, _ = listener.accept()
        with conn:
            data = b""
            while b"\r\n\r\n" not in data:
                data += conn.recv(65536)
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % SIZE)
            chunk = b"y" * 65536
            try:
                for _ in range(SIZE // len(chunk)):
                    conn.sendall(chunk)
                    sent[0] += len(chunk)
            except OSError:
                pass
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return listener, thread, sent


def sizes_server():
    """prefork's own server answering /N with N bytes: (server, port)."""
    server = prefork.create_server(lambda req, res: res.end(b"z" * int(req.url[1:])))
    server.listen(0, "127.0.0.1")
    return server, server.address()["port"]


async def wait_until(predicate, timeout=5.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


def test_an_awaited_response_nobody_reads_yet_stops_reading_then_streams_whole():
    listener, thread, sent = big_upstream()

    async def main():
        res = await prefork.get(f"http://127.0.0.1:{listener.getsockname()[1]}/")
        # nobody reads: the socket stops reading once the high-water mark is kept
        await wait_until(lambda: res.socket.is_paused())
        held = sent[0]
        assert held < SIZE // 2  # the upstream is held back by the kernel's buffers
        total = 0
        async for chunk in res:
            total += len(chunk)
        return total

    try:
        assert asyncio.run(asyncio.wait_for(main(), 30)) == SIZE
        thread.join(10)
        assert sent[0] == SIZE
    finally:
        listener.close()


def test_a_small_awaited_body_not_read_yet_frees_its_socket_and_reads_later():
    async def main():
        server, port = sizes_server()
        agent = prefork.Agent(keep_alive=True)
        name = f"127.0.0.1:{port}"
        try:
            bodies = []
            for size in (0, 10, 50000):
                res = await prefork.get({"host": "127.0.0.1", "port": port, "path": f"/{size}", "agent": agent})
                # not read: the whole body came, so the socket goes back to the agent
                await wait_until(lambda: len(agent.free_sockets.get(name, ())) == 1)
                bodies.append(len(await asyncio.wait_for(res.read(), 2)))
            return bodies
        finally:
            agent.destroy()
            server.close()

    assert asyncio.run(asyncio.wait_for(main(), 20)) == [0, 10, 50000]


def test_read_with_a_limit_raises_past_it_and_stops_the_download():
    listener, thread, sent = big_upstream()

    async def main():
        res = await prefork.get(f"http://127.0.0.1:{listener.getsockname()[1]}/")
        try:
            await res.read(limit=1 << 20)
        except prefork.HTTPError as err:
            return err.code, res.destroyed, res.socket.destroyed
        raise AssertionError("read(limit) gave a body past its limit")

    try:
        assert asyncio.run(asyncio.wait_for(main(), 30)) == ("ERR_BODY_TOO_LARGE", True, True)
        thread.join(10)
        assert sent[0] < SIZE  # the upstream saw its client go
    finally:
        listener.close()


def test_read_with_a_limit_gives_a_body_within_it():
    async def main():
        server, port = sizes_server()
        try:
            sizes = []
            for size in (0, 1000, 100000):
                res = await prefork.get({"host": "127.0.0.1", "port": port, "path": f"/{size}"})
                sizes.append(len(await res.read(limit=100000)))
            res = await prefork.get({"host": "127.0.0.1", "port": port, "path": "/100001"})
            await wait_until(lambda: res.complete)  # (the whole body came before the read)
            try:
                await res.read(limit=100000)
            except prefork.HTTPError as err:
                sizes.append(err.code)
            return sizes
        finally:
            server.close()

    assert asyncio.run(asyncio.wait_for(main(), 20)) == [0, 1000, 100000, "ERR_BODY_TOO_LARGE"]


def test_async_with_lets_go_of_a_body_left_unread():
    """``async with await prefork.get(...) as res``: a large body left unread is destroyed
    at the block's end (its socket with it), a whole one is dropped and its socket goes
    back to the agent, so an agent of one socket serves the next request either way."""
    async def main():
        server, port = sizes_server()
        agent = prefork.Agent(keep_alive=True, max_sockets=1)
        options = {"host": "127.0.0.1", "port": port, "agent": agent}
        try:
            async with await prefork.get({**options, "path": "/5000000"}) as res:
                assert res.status_code == 200  # (its body is not read)
            async with await prefork.get({**options, "path": "/10"}) as res:
                await wait_until(lambda: res.complete)
            name = f"127.0.0.1:{port}"
            await wait_until(lambda: len(agent.free_sockets.get(name, ())) == 1)  # the whole body's socket is back
            res = await asyncio.wait_for(prefork.get({**options, "path": "/3"}), 5)
            return await asyncio.wait_for(res.read(), 5)
        finally:
            agent.destroy()
            server.close()

    assert asyncio.run(asyncio.wait_for(main(), 20)) == b"zzz"


def test_listeners_added_after_the_await_get_a_small_whole_body():
    """``res = await prefork.get(...)`` then ``res.on('data')``/``res.on('end')``: the
    body that came whole with the head still reaches the listeners (then ``end``), however
    late they come; its socket is back with the agent meanwhile; and ``async for`` after
    a later await reads it too."""
    async def main():
        server, port = sizes_server()
        agent = prefork.Agent(keep_alive=True)
        name = f"127.0.0.1:{port}"
        seen = []
        try:
            for size, pause in ((10, 0), (50000, 0), (7, 0.05)):
                res = await prefork.get({"host": "127.0.0.1", "port": port, "path": f"/{size}", "agent": agent})
                if pause:  # the listener comes turns later
                    await asyncio.sleep(pause)
                chunks, ended = [], asyncio.get_running_loop().create_future()
                res.on("data", chunks.append)
                res.on("end", lambda: ended.set_result(True))
                await asyncio.wait_for(ended, 2)
                seen.append(len(b"".join(chunks)))
                await wait_until(lambda: len(agent.free_sockets.get(name, ())) == 1)
            res = await prefork.get({"host": "127.0.0.1", "port": port, "path": "/12", "agent": agent})
            await asyncio.sleep(0.05)
            seen.append(len(b"".join([chunk async for chunk in res])))
            return seen
        finally:
            agent.destroy()
            server.close()

    assert asyncio.run(asyncio.wait_for(main(), 20)) == [10, 50000, 7, 12]


def test_destroy_and_set_timeout_after_the_socket_went_back_to_the_agent():
    """An awaited body that came whole freed its socket for the agent: the response's
    ``destroy()`` and ``set_timeout()`` then leave that socket alone (it may serve the
    next request) instead of failing; a destroyed unread body reports ``aborted``."""
    async def main():
        server = prefork.create_server(lambda req, res: res.end(b"hello"))
        server.listen(0, "127.0.0.1")
        port = server.address()["port"]
        agent = prefork.Agent(keep_alive=True, max_sockets=1)
        name = f"127.0.0.1:{port}"
        try:
            res = await prefork.get({"host": "127.0.0.1", "port": port, "path": "/", "agent": agent})
            await wait_until(lambda: len(agent.free_sockets.get(name, ())) == 1)
            aborted = []
            res.on("aborted", lambda: aborted.append(True))
            assert res.set_timeout(5) is res
            assert res.destroy() is res
            await wait_until(lambda: res.destroyed)
            again = await asyncio.wait_for(prefork.get({"host": "127.0.0.1", "port": port, "path": "/",
                                                        "agent": agent}), 5)
            return aborted, await asyncio.wait_for(again.read(), 5)
        finally:
            agent.destroy()
            server.close()

    assert asyncio.run(asyncio.wait_for(main(), 20)) == ([True], b"hello")
