"""A request's ``timeout`` that only its awaiters hear (``await req``, ``await
res.read()``, ``async for chunk in res``; no application ``timeout`` listener) destroys
it with ETIMEDOUT, which the awaiter raises, as httpx raises its ReadTimeout: Node's
request only emits ``timeout``, and the awaiter would wait for ever on a silent server.
With an application listener the timeout is the application's, as in Node."""

import asyncio
import socket

import pytest

import prefork
from prefork.client import Agent


async def silent_server(head=b""):
    """A server that reads each request, sends ``head`` (maybe nothing) and goes silent."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.setblocking(False)
    loop = asyncio.get_running_loop()
    conns = []

    async def serve():
        while True:
            conn, _ = await loop.sock_accept(listener)
            conns.append(conn)
            await loop.sock_recv(conn, 65536)
            if head:
                await loop.sock_sendall(conn, head)
    task = asyncio.ensure_future(serve())

    def close():
        task.cancel()
        for conn in conns:
            conn.close()
        listener.close()
    return listener.getsockname()[1], close


STALLED_BODY = b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"


def test_an_awaited_request_on_a_silent_server_raises_etimedout_at_its_timeout():
    async def main():
        port, close = await silent_server()
        agent = Agent(max_sockets=1)
        try:
            req = prefork.get(f"http://127.0.0.1:{port}/", agent=agent, timeout=0.2)
            with pytest.raises(prefork.HTTPError) as caught:
                await asyncio.wait_for(req, 5)
            assert caught.value.code == "ETIMEDOUT"
            assert req.destroyed
            for _ in range(100):  # the destroyed socket leaves the agent at its close
                if not agent.sockets:
                    break
                await asyncio.sleep(0.01)
            assert agent.sockets == {} and agent.requests == {}
        finally:
            agent.destroy()
            close()
    asyncio.run(main())


@pytest.mark.parametrize("how", ["read", "async for"])
def test_an_awaited_body_that_stalls_raises_etimedout_at_its_timeout(how):
    async def main():
        port, close = await silent_server(STALLED_BODY)
        try:
            res = await asyncio.wait_for(prefork.get(f"http://127.0.0.1:{port}/", agent=False, timeout=0.2), 5)
            got = []
            with pytest.raises(prefork.HTTPError) as caught:
                if how == "read":
                    await asyncio.wait_for(res.read(), 5)
                else:
                    async def iterate():
                        async for chunk in res:
                            got.append(chunk)
                    await asyncio.wait_for(iterate(), 5)
            assert caught.value.code == "ETIMEDOUT"
            assert res.destroyed
        finally:
            close()
    asyncio.run(main())


def test_a_timeout_the_application_listens_for_is_left_to_it():
    async def main():
        port, close = await silent_server(STALLED_BODY)
        try:
            req = prefork.get(f"http://127.0.0.1:{port}/", agent=False, timeout=0.2)
            told = asyncio.Event()
            req.on("timeout", told.set)
            res = await asyncio.wait_for(req, 5)
            read = res.read()
            await asyncio.wait_for(told.wait(), 5)  # (an awaiter's destroy would have come within the emit)
            assert not read.done() and not res.destroyed
            req.destroy()
            with pytest.raises(prefork.HTTPError):
                await asyncio.wait_for(read, 5)
        finally:
            close()
    asyncio.run(main())
