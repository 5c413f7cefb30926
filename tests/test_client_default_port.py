"""A request's default port, as Node's: the ``default_port`` option, else the agent's
``default_port`` (80, settable), is the port a request connects to when it gives none,
and a port equal to it is left out of the Host field (another one, 80 too, is
written). ``req.protocol`` is "http:", and ``agent.get_name(options)`` is the key the
agent's maps pool such a request under. The heads are compared with those Node's client
sends to the same raw server."""

import asyncio
import json
import subprocess
import threading

import prefork
from harness import need_node
from prefork.client import Agent
from test_hostile_client import RawServer, read_head

NODE_SCRIPT = r"""
const http = require('http');
const port = +process.argv[1];
const agent = new http.Agent({keepAlive: true}); agent.defaultPort = port;
const cases = [
  {host: '127.0.0.1', port, defaultPort: port, agent: false},
  {host: '127.0.0.1', agent},
  {host: '127.0.0.1', defaultPort: port, agent: false},
  {host: '127.0.0.1', port, agent: false},
];
(async () => {
  for (const c of cases) await new Promise((done) => {
    const req = http.request({path: '/', ...c}, (res) => { res.resume(); res.on('end', done); });
    console.log(JSON.stringify(req.protocol));
    req.end();
  });
})();
"""


class Heads:
    def __init__(self):
        self.heads = []
        self.lock = threading.Lock()
        self.server = RawServer(self.answer)

    def answer(self, conn, index):
        head = read_head(conn)
        with self.lock:
            self.heads.append(head)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")


def prefork_heads(port):
    agent = Agent()
    agent.default_port = port
    cases = [{"host": "127.0.0.1", "port": port, "default_port": port, "agent": False},
             {"host": "127.0.0.1", "agent": agent},
             {"host": "127.0.0.1", "default_port": port, "agent": False},
             {"host": "127.0.0.1", "port": port, "agent": False}]
    protocols = []

    async def main():
        for case in cases:
            req = prefork.request({"path": "/", **case})
            protocols.append(req.protocol)
            req.end()
            res = await asyncio.wait_for(req, 10)
            await res.read()
    asyncio.run(main())
    return protocols


def test_the_default_port_is_connected_to_and_left_out_of_host_as_node():
    node = need_node()
    srv = Heads()
    try:
        out = subprocess.run([node, "-e", NODE_SCRIPT, "--", str(srv.server.port)], capture_output=True,
                             timeout=30, text=True)
        theirs = list(srv.heads)
        srv.heads.clear()
        protocols = prefork_heads(srv.server.port)
    finally:
        srv.server.close()
    assert [json.loads(line) for line in out.stdout.splitlines()] == protocols == ["http:"] * 4, out.stderr
    assert srv.heads == theirs
    hosts = [head.split(b"\r\n")[1] for head in theirs]
    assert hosts == [b"Host: 127.0.0.1"] * 3 + [f"Host: 127.0.0.1:{srv.server.port}".encode()]


def kept_alive(conn, index):
    """Answers each request on the connection, keeping it open until the client closes."""
    while read_head(conn):
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")


def test_get_name_is_the_key_the_agent_pools_the_request_under():
    srv = RawServer(kept_alive)
    agent = Agent()
    try:
        async def main():
            for options in ({"host": "127.0.0.1", "port": srv.port},
                            {"hostname": "127.0.0.1", "port": str(srv.port), "local_address": "127.0.0.1"}):
                freed = asyncio.get_running_loop().create_future()
                agent.once("free", lambda socket, _: freed.set_result(None))
                req = prefork.request({"path": "/", "agent": agent, **options})
                req.end()
                res = await asyncio.wait_for(req, 10)
                await res.read()
                await asyncio.wait_for(freed, 10)
                name = agent.get_name(options)
                assert len(agent.free_sockets.get(name, ())) == 1, (name, agent.free_sockets)
            agent.destroy()
        asyncio.run(main())
    finally:
        srv.close()
    assert agent.get_name() == "localhost:80"
    assert agent.get_name({"host": "h", "port": 1, "local_address": "::1", "family": 6}) == "h:1:::1:6"
