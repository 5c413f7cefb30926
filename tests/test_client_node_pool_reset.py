"""A free socket in the agent's pool that the server resets leaves the pool quietly, as
Node's agent drops an error on a free socket: no "unhandled 'error'" is logged for it,
and the next request takes a new connection."""

import asyncio
import logging
import socket
import struct
import threading

import prefork
from test_hostile_client import RawServer, read_head


def test_a_reset_of_a_pooled_socket_is_not_an_unhandled_error(caplog):
    go_reset = threading.Event()

    def handler(conn, index):
        while True:
            head = read_head(conn)
            if not head:
                return
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            if index == 0:
                go_reset.wait(5)  # the socket is in the pool now
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                return
    srv = RawServer(handler)

    async def main():
        loop = asyncio.get_running_loop()
        agent = prefork.Agent(keep_alive=True)
        req = prefork.get({"host": "127.0.0.1", "port": srv.port, "agent": agent})
        res = await asyncio.wait_for(req.response(), 4)
        assert await asyncio.wait_for(res.read(), 4) == b"ok"
        closed = loop.create_future()
        req.socket.on("close", lambda *a: closed.done() or closed.set_result(None))
        deadline = loop.time() + 4
        while not any(agent.free_sockets.values()):
            assert loop.time() < deadline, "the socket never went to the pool"
            await asyncio.sleep(0.01)
        go_reset.set()
        await asyncio.wait_for(closed, 4)
        for _ in range(3):
            await asyncio.sleep(0)
        pooled = sum(len(free) for free in agent.free_sockets.values())
        again = prefork.get({"host": "127.0.0.1", "port": srv.port, "agent": agent})
        res = await asyncio.wait_for(again.response(), 4)
        body = await asyncio.wait_for(res.read(), 4)
        agent.destroy()
        return pooled, body, again.reused_socket
    try:
        with caplog.at_level(logging.ERROR):
            pooled, body, reused = asyncio.run(main())
    finally:
        go_reset.set()
        srv.close()
    assert (pooled, body, reused, srv.accepted) == (0, b"ok", False, 2)
    assert not [r.getMessage() for r in caplog.records if "unhandled" in r.getMessage()]
