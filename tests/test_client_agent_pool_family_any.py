"""A request's ``family`` 0 (any), ``lookup``, ``hints`` or ``local_port`` do not name
a pool of their own: its socket is the pool's of the same host:port (and local address,
and family 4 or 6), shared with requests that give none, and counts against that
pool's ``max_sockets``, as Node's ``agent.getName`` names pools. prefork used to put
them in a pool apart: a second connection to the same server, past a ``max_sockets``
of 1. Node's program, against the same raw server:

    const http = require('http'), dns = require('dns');
    const agent = new http.Agent({keepAlive: true, maxSockets: 1});
    const variants = [{}, {family: 0}, {lookup: dns.lookup}, {hints: 0}, {localPort: undefined}, {}];
    const go = (i) => { if (i === variants.length) return agent.destroy();
      const req = http.get({host: '127.0.0.1', port, agent, ...variants[i]});
      req.on('socket', () => console.log(Object.keys(variants[i]), req.reusedSocket));  // false, then true
      req.on('response', (res) => res.resume()); req.on('close', () => setTimeout(() => go(i + 1), 10)); };
    go(0);
    // at once, with maxSockets 1: http.get({... family: 0}) and http.get({...}) share one connection
    console.log(agent.getName({host: 'a', family: 0}) === agent.getName({host: 'a'}));  // true
"""

import asyncio

import prefork
from test_hostile_client import RawServer, read_head


def answer(conn, index):
    while read_head(conn):
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")


def lookup(hostname, options, callback):
    callback(None, "127.0.0.1", 4)


VARIANTS = [{}, {"family": 0}, {"lookup": lookup}, {"hints": 0}, {"local_port": 0}, {}]


def test_requests_with_family_0_lookup_hints_or_local_port_reuse_the_pools_socket():
    server = RawServer(answer)
    try:
        async def main():
            agent = prefork.Agent({"keep_alive": True})
            reused = []
            for options in VARIANTS:
                over = asyncio.get_running_loop().create_future()
                req = prefork.get({"host": "127.0.0.1", "port": server.port, "agent": agent, **options})
                req.on("socket", lambda socket, req=req: reused.append(req.reused_socket))
                req.on("response", lambda res: res.resume())
                req.on("close", lambda over=over: over.set_result(None))
                await asyncio.wait_for(over, 5)
            agent.destroy()
            return reused
        assert asyncio.run(main()) == [False] + [True] * (len(VARIANTS) - 1)
        assert server.accepted == 1
    finally:
        server.close()


def test_a_family_0_request_waits_behind_max_sockets_with_the_others():
    server = RawServer(answer)
    try:
        async def main():
            agent = prefork.Agent({"keep_alive": True, "max_sockets": 1})
            closes = []
            for options in ({}, {"family": 0}, {"hints": 0}):
                req = prefork.get({"host": "127.0.0.1", "port": server.port, "agent": agent, **options})
                req.on("response", lambda res: res.resume())
                over = asyncio.get_running_loop().create_future()
                req.on("close", lambda over=over: over.set_result(None))
                closes.append(over)
            await asyncio.wait_for(asyncio.gather(*closes), 5)
            agent.destroy()
        asyncio.run(main())
        assert server.accepted == 1
    finally:
        server.close()


def test_get_name_leaves_out_a_family_other_than_4_or_6():
    agent = prefork.Agent()
    plain = agent.get_name({"host": "a"})
    assert agent.get_name({"host": "a", "family": 0}) == plain
    assert agent.get_name({"host": "a", "family": 6}) != plain
    assert agent.get_name({"host": "a", "local_address": "127.0.0.2"}) != plain
