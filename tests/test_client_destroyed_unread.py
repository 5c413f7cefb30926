"""A response destroyed (``res.destroy()``) after its whole body came but before anyone
read it is aborted, its kept body gone: a later ``await res.read()`` raises ECONNRESET
"aborted" rather than give ``b""`` for a body that was not empty, and a later ``async for``
raises (ERR_STREAM_PREMATURE_CLOSE, as Node's ``for await`` over a stream destroyed without
an error) rather than wait for ever for chunks and an ``end`` that will not come."""

import asyncio

import pytest

import prefork
from test_hostile_client import RawServer, read_head


def handler(conn, index):
    while True:
        head = read_head(conn)
        if not head:
            return
        if head.startswith(b"GET /slow "):  # the body's end never comes: the client ends it
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello")
            conn.recv(1)
            return
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello")


@pytest.fixture(scope="module")
def server():
    srv = RawServer(handler)
    yield srv
    srv.close()


async def destroyed_unread(port, agent):
    """An awaited response whose body came whole, destroyed unread, once it has closed."""
    loop = asyncio.get_running_loop()
    req = prefork.request({"host": "127.0.0.1", "port": port, "agent": agent})
    req.end()
    res = await asyncio.wait_for(req.response(), 4)
    deadline = loop.time() + 4
    while not res.complete:
        assert loop.time() < deadline, "the body never came"
        await asyncio.sleep(0.01)
    closed = loop.create_future()
    res.on("close", lambda: closed.done() or closed.set_result(None))
    res.destroy()
    await asyncio.wait_for(closed, 4)
    assert res.aborted and res.destroyed
    return res


@pytest.mark.parametrize("keep_alive", [False, True])
def test_reading_a_response_destroyed_unread_raises(server, keep_alive):
    async def main():
        agent = prefork.Agent(keep_alive=True) if keep_alive else False
        try:
            res = await destroyed_unread(server.port, agent)
            with pytest.raises(Exception) as caught:
                await asyncio.wait_for(res.read(), 4)
            return caught.value
        finally:
            if agent:
                agent.destroy()
    err = asyncio.run(main())
    assert (type(err).__name__, err.code) == ("Aborted", "ECONNRESET")


@pytest.mark.parametrize("keep_alive", [False, True])
def test_iterating_a_response_destroyed_unread_raises_at_once(server, keep_alive):
    async def main():
        agent = prefork.Agent(keep_alive=True) if keep_alive else False
        try:
            res = await destroyed_unread(server.port, agent)
            chunks = []

            async def iterate():
                async for chunk in res:
                    chunks.append(chunk)
            with pytest.raises(Exception) as caught:
                await asyncio.wait_for(iterate(), 4)  # (a TimeoutError here: it waited)
            return caught.value, chunks
        finally:
            if agent:
                agent.destroy()
    err, chunks = asyncio.run(main())
    assert (type(err).__name__, getattr(err, "code", None), chunks) == ("PrematureClose", "ERR_STREAM_PREMATURE_CLOSE", [])


@pytest.mark.parametrize("complete", [False, True])
def test_a_read_raises_the_error_the_response_was_destroyed_with(server, complete):
    """``res.destroy(err)`` while a ``read()`` waits (the body still coming), or before
    one (the body whole, unread): the read raises ``err``, as ``async for`` does (and
    Node's ``for await``), not ECONNRESET "aborted"."""
    class Given(Exception):
        pass

    async def main():
        loop = asyncio.get_running_loop()
        req = prefork.request({"host": "127.0.0.1", "port": server.port, "agent": False,
                               "path": "/" if complete else "/slow"})
        req.on("error", lambda err: None)
        req.end()
        res = await asyncio.wait_for(req.response(), 4)
        if complete:
            deadline = loop.time() + 4
            while not res.complete:
                assert loop.time() < deadline, "the body never came"
                await asyncio.sleep(0.01)
            res.destroy(Given("given"))
            reading = res.read()
        else:
            reading = res.read()
            loop.call_soon(res.destroy, Given("given"))
        with pytest.raises(Exception) as caught:
            await asyncio.wait_for(reading, 4)
        return caught.value
    assert type(asyncio.run(main())).__name__ == "Given"
