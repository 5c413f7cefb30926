"""``Agent(max_total_sockets=N)`` is Node's ``maxTotalSockets``: at most N sockets open
for every host:port together; requests over it wait in line, and a slot that frees up
serves the request's own host:port first, then the first other one in line, in Node's
order. The value is checked as Node's constructor checks it."""

import asyncio
import json
import subprocess
import time

import pytest

import prefork
from harness import need_node
from test_hostile_client import RawServer, read_head

NODE_CLIENT = r"""
const http = require('http');
const [a, b, ka] = process.argv.slice(1);
const agent = new http.Agent({keepAlive: ka === 'ka', maxTotalSockets: 2});
const events = []; let ended = 0;
const go = (port, path) => {
  const req = http.get({host: '127.0.0.1', port: +port, path, agent}, (res) => {
    res.resume();
    res.on('end', () => { if (++ended === 4) { console.log(JSON.stringify(events)); process.exit(0); } });
  });
  req.on('socket', () => events.push(path));
};
go(a, '/a1'); go(a, '/a2'); go(b, '/b1'); go(a, '/a3');
"""


class Servers:
    """Two servers (A and B) answering each request a little later."""

    def __init__(self):
        self.a = RawServer(self.handler)
        self.b = RawServer(self.handler)

    def handler(self, conn, index):
        while True:
            head = read_head(conn)
            if not head:
                return
            time.sleep(0.1)  # (the requests overlap: the limit is what keeps them in line)
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            if b"close" in head.lower():
                return

    def close(self):
        self.a.close()
        self.b.close()


def prefork_order(servers, keep_alive):
    async def main():
        agent = prefork.Agent(keep_alive=keep_alive, max_total_sockets=2)
        order, ended, open_sockets, peak = [], [], set(), [0]

        def opened(path, socket):
            order.append(path)
            if socket not in open_sockets:
                open_sockets.add(socket)
                socket.on("close", lambda *a: open_sockets.discard(socket))
            peak[0] = max(peak[0], len(open_sockets))

        def go(port, path):
            req = prefork.get({"host": "127.0.0.1", "port": port, "path": path, "agent": agent},
                              lambda res: (res.resume(), res.on("end", lambda: ended.append(path))))
            req.on("socket", lambda socket: opened(path, socket))
        go(servers.a.port, "/a1")
        go(servers.a.port, "/a2")
        go(servers.b.port, "/b1")
        go(servers.a.port, "/a3")
        deadline = time.monotonic() + 5
        while len(ended) < 4:
            assert time.monotonic() < deadline, f"the requests did not end: {order} {ended}"
            await asyncio.sleep(0.01)
        agent.destroy()
        return order, peak[0]
    return asyncio.run(main())


@pytest.mark.parametrize("keep_alive", [True, False])
def test_the_total_limit_keeps_requests_in_nodes_order(keep_alive):
    node = need_node()
    servers = Servers()
    try:
        out = subprocess.run([node, "-e", NODE_CLIENT, str(servers.a.port), str(servers.b.port),
                              "ka" if keep_alive else "no"], capture_output=True, text=True, timeout=10, check=True)
        expected = json.loads(out.stdout)
        order, peak = prefork_order(servers, keep_alive)
    finally:
        servers.close()
    assert expected == ["/a1", "/a2", "/a3", "/b1"]
    assert order == expected
    assert peak <= 2  # (the client's sockets open at once; Node's, kept alive, go to 3)


def test_a_free_socket_of_another_host_makes_room():
    """Every slot held by free sockets of A: a request for B closes one of them and
    connects, rather than waiting for it to time out."""
    servers = Servers()

    async def main():
        agent = prefork.Agent(keep_alive=True, max_total_sockets=1)
        res = await asyncio.wait_for(prefork.get(f"http://127.0.0.1:{servers.a.port}/", agent=agent), 4)
        await asyncio.wait_for(res.read(), 4)
        deadline = time.monotonic() + 4
        while not agent.free_sockets:
            assert time.monotonic() < deadline, "the socket never went to the pool"
            await asyncio.sleep(0.01)
        [[free]] = agent.free_sockets.values()
        res = await asyncio.wait_for(prefork.get(f"http://127.0.0.1:{servers.b.port}/", agent=agent), 3)
        body = await asyncio.wait_for(res.read(), 3)
        pooled = sorted(agent.free_sockets)
        agent.destroy()
        return body, pooled, free.destroyed
    try:
        body, pooled, a_closed = asyncio.run(main())
    finally:
        servers.close()
    assert (body, pooled, a_closed) == (b"ok", [f"127.0.0.1:{servers.b.port}"], True)


@pytest.mark.parametrize("value, code", [(0, "ERR_OUT_OF_RANGE"), (-1, "ERR_OUT_OF_RANGE"),
                                         (float("nan"), "ERR_OUT_OF_RANGE"), ("2", "ERR_INVALID_ARG_TYPE"),
                                         (True, "ERR_INVALID_ARG_TYPE")])
def test_a_bad_total_is_refused_as_node_refuses_it(value, code):
    with pytest.raises((TypeError, ValueError)) as info:
        prefork.Agent(max_total_sockets=value)
    assert info.value.code == code


def test_no_total_limit_by_default_or_with_infinity():
    assert prefork.Agent().max_total_sockets is None
    assert prefork.Agent(max_total_sockets=float("inf")).max_total_sockets is None
    assert prefork.Agent(max_total_sockets=3).max_total_sockets == 3


def test_a_request_given_up_in_line_does_not_cost_another_host_its_free_socket():
    """B's request, over the limit, is aborted while it waits: A's socket, freed after,
    goes to the pool as usual (and serves A's next request) instead of being closed
    for a request that will never be sent."""
    servers = Servers()

    async def main():
        agent = prefork.Agent(keep_alive=True, max_total_sockets=1)
        first = prefork.get(f"http://127.0.0.1:{servers.a.port}/", agent=agent)
        waiting = prefork.get(f"http://127.0.0.1:{servers.b.port}/", agent=agent)
        waiting.on("error", lambda err: None)
        await asyncio.sleep(0)
        waiting.abort()
        res = await asyncio.wait_for(first, 4)
        await asyncio.wait_for(res.read(), 4)
        deadline = time.monotonic() + 4
        while not agent.free_sockets:
            assert time.monotonic() < deadline, "A's socket never went to the pool"
            await asyncio.sleep(0.01)
        again = prefork.get(f"http://127.0.0.1:{servers.a.port}/", agent=agent)
        res = await asyncio.wait_for(again, 4)
        body = await asyncio.wait_for(res.read(), 4)
        agent.destroy()
        return body, again.reused_socket
    try:
        body, reused = asyncio.run(main())
    finally:
        servers.close()
    assert (body, reused, servers.a.accepted, servers.b.accepted) == (b"ok", True, 1, 0)
