"""A kept-alive socket the server resets right after its answer (SO_LINGER 0, a server
closing with bytes unread): the reset is dropped, as Node's agent drops a freed
socket's error, also when it comes in the turn between the response's ``end`` and the
agent taking the socket back. It used to be logged as an unhandled ``error`` event on
the socket (with a traceback) whenever the ``end`` came on a later turn than the
response's bytes (a ``data`` listener's body goes out on the turn after it is added).

Real loopback sockets: a raw server thread answers each request, then resets.
"""

import asyncio
import logging
import socket
import struct
import time

import prefork
from test_hostile_client import RawServer, read_head


def answer_then_reset(conn, index):
    if read_head(conn) is not None:
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


def test_a_reset_after_the_answer_is_dropped_not_reported_as_unhandled(caplog):
    server = RawServer(answer_then_reset)

    async def exchange(agent):
        loop = asyncio.get_running_loop()
        closed = loop.create_future()
        body = []

        def on_response(res):
            res.on("data", body.append)

        req = prefork.get({"host": "127.0.0.1", "port": server.port, "path": "/", "agent": agent}, on_response)
        req.on("error", lambda err: body.append(err))
        req.on("close", lambda: closed.done() or closed.set_result(req.socket))
        sock = await asyncio.wait_for(closed, 5)
        # the reset reaches the socket (pooled by then, or on its way there): it is destroyed
        deadline = time.monotonic() + 5
        while not sock.destroyed and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        assert sock.destroyed
        return b"".join(body)

    async def main():
        agent = prefork.Agent(keep_alive=True)
        try:
            return [await exchange(agent) for _ in range(5)]
        finally:
            agent.destroy()

    try:
        with caplog.at_level(logging.ERROR):
            assert asyncio.run(main()) == [b"ok"] * 5
    finally:
        server.close()
    assert not [r.getMessage() for r in caplog.records if "unhandled 'error'" in r.getMessage()]
