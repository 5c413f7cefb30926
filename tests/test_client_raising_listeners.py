"""A client listener that raises outside a parsed read (the request's ``close``, the
response's ``end`` emitted when the body is read later, the socket's idle ``timeout``)
is logged and the exchange still ends as it would, as a raising coroutine listener's:
the socket goes back to the agent (its counts right, the next request served), an
awaited ``read()`` settles, a timeout's request is closed instead of waiting for ever."""

import asyncio
import logging
import socket

import pytest

import prefork
from prefork.client import Agent


def boom(*args):
    raise RuntimeError("boom")


async def serving():
    def handler(req, res):
        if req.url != "/silent":
            res.end("hello")
    server = prefork.create_server(handler)
    server.listen(0)
    await asyncio.sleep(0)
    return server, f"http://127.0.0.1:{server.address()['port']}"


def test_a_raising_close_listener_still_gives_the_socket_back_to_the_agent(caplog):
    async def main():
        server, base = await serving()
        agent = Agent(max_sockets=1)
        try:
            req = prefork.get(base + "/", agent=agent)
            req.on("close", boom)
            res = await asyncio.wait_for(req, 5)
            assert await asyncio.wait_for(res.read(), 5) == b"hello"
            for _ in range(3):  # one socket at most: each one waits for the socket of the last
                res = await asyncio.wait_for(prefork.get(base + "/", agent=agent), 5)
                assert await asyncio.wait_for(res.read(), 5) == b"hello"
            assert agent.sockets == {} and agent.requests == {}
        finally:
            agent.destroy()
            server.close()
    with caplog.at_level(logging.ERROR, "prefork.client"):
        asyncio.run(main())
    assert "error in a client 'close' listener" in caplog.text


def test_a_raising_end_listener_of_an_awaited_response_lets_its_read_settle(caplog):
    async def main():
        server, base = await serving()
        agent = Agent()  # (kept alive: the socket goes back to the agent before the 'end')
        try:
            req = prefork.get(base + "/", agent=agent)
            req.on("response", lambda res: res.on("end", boom))
            res = await asyncio.wait_for(req, 5)
            assert await asyncio.wait_for(res.read(), 5) == b"hello"
        finally:
            agent.destroy()
            server.close()
    with caplog.at_level(logging.ERROR, "prefork.client"):
        asyncio.run(main())
    assert "RuntimeError: boom" in caplog.text


@pytest.mark.parametrize("kind", ["plain", "coroutine"])
def test_a_raising_timeout_listener_closes_its_request(caplog, kind):
    async def raising():
        raise RuntimeError("boom")

    async def main():
        server, base = await serving()
        try:
            req = prefork.get(base + "/silent", agent=False, timeout=0.1)
            req.on("timeout", boom if kind == "plain" else raising)
            with pytest.raises(prefork.HTTPError) as caught:
                await asyncio.wait_for(req, 5)
            assert caught.value.code == "ECONNRESET"
            assert req.destroyed
        finally:
            server.close()
    with caplog.at_level(logging.ERROR, "prefork"):
        asyncio.run(main())
    assert "RuntimeError: boom" in caplog.text


ANSWERS = {"upgrade": b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\nConnection: Upgrade\r\n\r\nrest",
           "connect": b"HTTP/1.1 200 OK\r\n\r\nrest"}


@pytest.mark.parametrize("event", ["upgrade", "connect"])
def test_a_raising_coroutine_that_took_the_socket_closes_it_as_a_plain_listener_does(caplog, event):
    async def main():
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        listener.setblocking(False)
        loop = asyncio.get_running_loop()
        conn = None
        try:
            if event == "upgrade":
                req = prefork.request(f"http://127.0.0.1:{listener.getsockname()[1]}/", agent=False,
                                      headers={"connection": "upgrade", "upgrade": "x"})
            else:
                req = prefork.request(f"http://127.0.0.1:{listener.getsockname()[1]}/", agent=False,
                                      method="CONNECT", path="example.com:80")

            async def took(res, sock, head):
                await asyncio.sleep(0)
                raise RuntimeError("boom")
            req.on(event, took)
            req.end()
            conn, _ = await asyncio.wait_for(loop.sock_accept(listener), 5)
            await loop.sock_recv(conn, 65536)
            await loop.sock_sendall(conn, ANSWERS[event])
            # the client closes the socket its raising listener took: the server reads its end
            assert await asyncio.wait_for(loop.sock_recv(conn, 100), 5) == b""
        finally:
            if conn is not None:
                conn.close()
            listener.close()
    with caplog.at_level(logging.ERROR, "prefork"):
        asyncio.run(main())
    assert "RuntimeError: boom" in caplog.text
