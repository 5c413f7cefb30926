"""The Agent's maps (``sockets``, ``free_sockets``, ``requests``, by host:port) keep no
empty entry once a host:port has no socket in use, none free and no request in line,
as Node's agent deletes such names. They kept one per host:port ever asked (a count of
0, an empty list), so a worker calling many upstreams (per-tenant hosts, ephemeral
ports from service discovery) grew for ever.

Real loopback sockets: the upstreams are threads of this process.
"""

import asyncio
import socket

import prefork
from prefork.client import Agent
from prefork.http.errors import HTTPError
from prefork.runtime import new_event_loop

from test_client_agent_pool_cycles import Upstream


def test_no_entry_is_kept_for_a_host_port_that_is_done_with():
    upstreams = [Upstream(ending) for ending in ("fin", "rst", "idle", "idle", "fin")]
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))  # bound, never listening: connecting is refused
    agent = Agent(timeout=0.05, max_sockets=1)
    loop = new_event_loop("asyncio")

    async def one(port):
        req = prefork.request({"host": "127.0.0.1", "port": port, "path": "/", "agent": agent})
        req.end()
        try:
            res = await req
        except HTTPError as err:
            return err.code
        return await res.read()

    def empty():
        return not agent.sockets and not agent.free_sockets and not agent.requests

    async def run():
        for upstream in upstreams:
            assert await one(upstream.port) == b"ok"
        # two at once with max_sockets 1: the second waits in line, then connects anew
        refused = closed.getsockname()[1]
        assert await asyncio.gather(one(refused), one(refused)) == ["ECONNREFUSED", "ECONNREFUSED"]
        for _ in range(500):  # until every pooled socket has closed (bounded)
            if empty():
                break
            await asyncio.sleep(0.01)
        return {"sockets": agent.sockets, "free_sockets": agent.free_sockets, "requests": agent.requests}

    try:
        left = loop.run_until_complete(asyncio.wait_for(run(), 30))
    finally:
        loop.close()
        closed.close()
        for upstream in upstreams:
            upstream.stop()
    assert left == {"sockets": {}, "free_sockets": {}, "requests": {}}
