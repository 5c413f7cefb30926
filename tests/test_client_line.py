"""A request in line behind ``max_sockets`` that takes a new connection because the
socket before it closed gets its ``socket`` on a later loop turn, after the closing
request's own ``close`` (as Node's agent creates it), never inside that close."""

import asyncio
import json
import subprocess

import pytest

import prefork
from harness import NODE
from test_hostile_client import RawServer, read_head

NODE_LINE = r"""
const http = require('http');
const agent = new http.Agent({keepAlive: true, maxSockets: 1});
const ev = [];
let left = 2;
for (const name of ['a', 'b']) {
  const req = http.get({host: '127.0.0.1', port: +process.argv[1], agent, path: '/' + name});
  req.on('socket', () => ev.push(name + ' socket'));
  req.on('response', (res) => { res.resume(); res.on('end', () => ev.push(name + ' end')); });
  req.on('close', () => { ev.push(name + ' close'); if (--left === 0) { agent.destroy(); console.log(JSON.stringify(ev)); } });
}
"""


def closing(conn, index):
    if read_head(conn):
        conn.sendall(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok")


@pytest.fixture
def server():
    srv = RawServer(closing)
    yield srv
    srv.close()


def test_a_request_in_line_gets_its_new_socket_after_the_close_before_it(server):
    async def main():
        agent = prefork.Agent(max_sockets=1)
        events = []
        done = asyncio.get_running_loop().create_future()
        left = [2]
        for name in ("a", "b"):
            req = prefork.get({"host": "127.0.0.1", "port": server.port, "agent": agent, "path": "/" + name})
            req.on("socket", lambda s, name=name: events.append(name + " socket"))

            def on_response(res, name=name):
                res.resume()
                res.on("end", lambda: events.append(name + " end"))
            req.on("response", on_response)

            def on_close(name=name):
                events.append(name + " close")
                left[0] -= 1
                if not left[0]:
                    done.set_result(None)
            req.on("close", on_close)
        await asyncio.wait_for(done, 10)
        agent.destroy()
        return events
    ours = asyncio.run(main())
    assert ours == ["a socket", "a end", "a close", "b socket", "b end", "b close"]
    assert server.accepted == 2
    if NODE is not None:
        out = subprocess.run([NODE, "-e", NODE_LINE, str(server.port)], capture_output=True, text=True, timeout=30)
        assert json.loads(out.stdout) == ours
