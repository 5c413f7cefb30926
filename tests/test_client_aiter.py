"""Leaving ``async for chunk in res`` before the body's end (``break``) destroys the
response, as Node's ``for await`` does: its socket does not stay taken, so the agent's
next request in line is served (on a new connection)."""

import asyncio
import json
import subprocess

import prefork
from harness import NODE
from test_hostile_client import RawServer, read_head

BIG = 4 << 20


def big_answers(conn, index):
    while read_head(conn):
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % BIG + b"z" * BIG)


NODE_BREAK = r"""
const http = require('http');
(async () => {
  const agent = new http.Agent({keepAlive: true, maxSockets: 1});
  const port = +process.argv[1];
  const ev = [];
  const a = http.get({host: '127.0.0.1', port, agent, path: '/a'});
  const b = http.get({host: '127.0.0.1', port, agent, path: '/b'});
  a.on('close', () => ev.push('a close'));
  const res = await new Promise((resolve) => a.on('response', resolve));
  res.on('close', () => ev.push('res close'));
  for await (const chunk of res) break;
  const rb = await new Promise((resolve) => b.on('response', resolve));
  let size = 0;
  for await (const chunk of rb) size += chunk.length;
  agent.destroy();
  console.log(JSON.stringify([size, ev.sort()]));
})();
"""


def test_breaking_out_of_async_for_frees_the_socket_as_with_node():
    srv = RawServer(big_answers)
    try:
        async def main():
            agent = prefork.Agent(max_sockets=1)
            events = []
            a = prefork.get({"host": "127.0.0.1", "port": srv.port, "agent": agent, "path": "/a"})
            b = prefork.get({"host": "127.0.0.1", "port": srv.port, "agent": agent, "path": "/b"})
            a.on("close", lambda: events.append("a close"))
            res = await asyncio.wait_for(a, 10)
            res.on("close", lambda: events.append("res close"))
            async for _ in res:
                break
            second = await asyncio.wait_for(b, 10)  # in line behind the first: hung for ever
            size = 0
            async for chunk in second:
                size += len(chunk)
            agent.destroy()
            return [size, sorted(events)]
        ours = asyncio.run(main())
        assert ours == [BIG, ["a close", "res close"]]
        assert srv.accepted == 2
    finally:
        srv.close()
    if NODE is not None:
        srv = RawServer(big_answers)
        try:
            out = subprocess.run([NODE, "-e", NODE_BREAK, str(srv.port)], capture_output=True, text=True, timeout=30)
        finally:
            srv.close()
        assert json.loads(out.stdout) == ours
