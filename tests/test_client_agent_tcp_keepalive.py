"""A keep-alive agent's connection has TCP keep-alive probes from its connect on, with
the agent's ``keep_alive_initial_delay`` (Node's ``keepAliveMsecs``), as Node's agent
sets them: a request that waits long on a peer that vanished is not kept for ever. An
agent without keep-alive leaves them off, as Node's."""

import asyncio
import socket
import threading

import prefork
from test_hostile_client import RawServer, read_head


def probes_in_flight(agent):
    """(SO_KEEPALIVE, TCP_KEEPIDLE) of the request's socket once it has connected, while
    the server holds the answer back."""
    answer = threading.Event()

    def serve(conn, index):
        read_head(conn)
        answer.wait(10)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")

    srv = RawServer(serve)
    try:
        async def main():
            seen = asyncio.get_running_loop().create_future()

            def on_connect(sock):
                with socket.socket(fileno=socket.dup(sock.fileno())) as probe:
                    seen.set_result((probe.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE),
                                     probe.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE)))
                answer.set()
            req = prefork.request({"host": "127.0.0.1", "port": srv.port, "agent": agent})
            req.on("socket", lambda sock: sock.once("connect", lambda: on_connect(sock)))
            req.end()
            res = await asyncio.wait_for(req.response(), 5)
            assert await asyncio.wait_for(res.read(), 5) == b"ok"
            return await asyncio.wait_for(seen, 5)
        return asyncio.run(main())
    finally:
        answer.set()
        srv.close()


def test_a_keep_alive_agents_connection_probes_from_its_connect_with_its_initial_delay():
    keepalive, idle = probes_in_flight(prefork.Agent(keep_alive=True, keep_alive_initial_delay=3))
    assert keepalive and idle == 3


def test_an_agent_without_keep_alive_leaves_the_probes_off():
    keepalive, _ = probes_in_flight(prefork.Agent(keep_alive=False))
    assert not keepalive
