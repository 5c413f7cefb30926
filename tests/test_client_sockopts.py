"""``req.set_no_delay()`` and ``req.set_socket_keep_alive()`` (Node's ``setNoDelay`` and
``setSocketKeepAlive``): the options reach the request's socket once it has connected,
whether they were asked for before the socket came, while it connected, or on a
kept-alive socket the request reused."""

import asyncio
import os
import socket as _socket

import pytest

import prefork
from test_hostile_client import RawServer, read_head


@pytest.fixture
def server():
    def handler(conn, index):
        while read_head(conn):
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
    srv = RawServer(handler)
    yield srv
    srv.close()


def options_of(sock):
    twin = _socket.socket(fileno=os.dup(sock.fileno()))
    try:
        return (twin.getsockopt(_socket.IPPROTO_TCP, _socket.TCP_NODELAY),
                twin.getsockopt(_socket.SOL_SOCKET, _socket.SO_KEEPALIVE),
                twin.getsockopt(_socket.IPPROTO_TCP, _socket.TCP_KEEPIDLE))
    finally:
        twin.close()


def test_socket_options_reach_the_connected_socket(server):
    async def main():
        agent = prefork.Agent()
        seen = []
        for name, no_delay, idle in (("fresh", False, 7), ("reused", True, 9)):
            req = prefork.get({"host": "127.0.0.1", "port": server.port, "agent": agent, "path": "/" + name})
            req.set_no_delay(no_delay)
            req.set_socket_keep_alive(True, idle)

            def on_response(res, req=req):
                seen.append((req.reused_socket, options_of(req.socket)))
            req.on("response", on_response)
            res = await asyncio.wait_for(req.response(), 5)
            await asyncio.wait_for(res.read(), 5)
            await asyncio.sleep(0)
        agent.destroy()
        return seen
    seen = asyncio.run(main())
    assert seen == [(False, (0, 1, 7)), (True, (1, 1, 9))]
