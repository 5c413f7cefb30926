"""The client's Agent against Node's ``http.Agent``: ``max_sockets=0`` and
``max_free_sockets=0`` mean Node's defaults (no limit, 256), not "none at all" (a
request waited in line for ever); ``destroy()`` destroys the sockets in use as well as
the free ones (the request on one ends in ECONNRESET "socket hang up") and leaves a
socket an ``upgrade`` listener took; requests made afterwards connect anew. The same
steps run in Node's client and in prefork's against one raw server; the events must
agree."""

import asyncio
import json
import socket
import subprocess
import threading

import pytest

import prefork
from harness import NODE
from prefork.client.agent import Agent


class Server:
    """Raw HTTP on 127.0.0.1: ``/fast`` is answered, ``/slow`` never, ``/up`` switches
    protocols and then echoes."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.conns = []
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(conn)
            threading.Thread(target=self.serve, args=(conn,), daemon=True).start()

    def serve(self, conn):
        upgraded = False
        while True:
            try:
                data = conn.recv(65536)
            except OSError:
                return
            if not data:
                return
            if upgraded:
                conn.sendall(data)
            elif b" /fast " in data:
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            elif b" /up " in data:
                upgraded = True
                conn.sendall(b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: x\r\n\r\n")

    def close(self):
        self.sock.close()
        for conn in self.conns:
            conn.close()


NODE_SCRIPT = r"""
const http = require('http');
const port = +process.argv[1];
const agent = new http.Agent({keepAlive: true, maxFreeSockets: 0, maxSockets: 0});
const ev = [['limits', agent.maxFreeSockets, agent.maxSockets === Infinity ? null : agent.maxSockets]];
const get = (path, cb) => http.get({port, host: '127.0.0.1', path, agent}, cb);
function free() { return Object.values(agent.freeSockets).reduce((n, l) => n + l.length, 0); }
get('/fast', (res) => { res.resume(); res.on('end', () => setTimeout(slow, 20)); });
function slow() {
  ev.push(['free', free()]);
  const up = http.get({port, host: '127.0.0.1', path: '/up', agent, headers: {Connection: 'Upgrade', Upgrade: 'x'}});
  up.on('upgrade', (res, sock) => {
    ev.push(['upgraded', res.statusCode]);
    const req = get('/slow');
    req.on('error', (e) => ev.push(['slow.error', e.code, e.message]));
    req.on('socket', () => setTimeout(() => { agent.destroy(); ev.push(['destroyed', free(), sock.destroyed]); }, 50));
    req.on('close', () => {
      ev.push(['slow.close']);
      sock.once('data', (d) => {
        ev.push(['echo', d.toString()]);
        sock.destroy();
        get('/fast', (res) => { res.resume(); res.on('end', () => { ev.push(['again', res.statusCode]); console.log(JSON.stringify(ev)); }); });
      });
      sock.write('still');
    });
  });
}
"""


def prefork_events(port):
    async def main():
        loop = asyncio.get_running_loop()
        agent = Agent(keep_alive=True, max_free_sockets=0, max_sockets=0)
        ev = [["limits", agent.max_free_sockets, agent.max_sockets]]

        def free():
            return sum(len(sockets) for sockets in agent.free_sockets.values())

        def get(path, **options):
            return prefork.get({"port": port, "host": "127.0.0.1", "path": path, "agent": agent, **options})

        res = await asyncio.wait_for(get("/fast"), 5)
        await asyncio.wait_for(res.read(), 5)
        await asyncio.sleep(0.02)  # as the Node script: the socket is back in the pool by now
        ev.append(["free", free()])
        upgraded = loop.create_future()
        up = get("/up", headers={"Connection": "Upgrade", "Upgrade": "x"})
        up.on("upgrade", lambda res, sock, head: upgraded.set_result((res, sock)))
        res, sock = await asyncio.wait_for(upgraded, 5)
        ev.append(["upgraded", res.status_code])
        closed = loop.create_future()
        req = get("/slow")
        req.on("error", lambda e: ev.append(["slow.error", e.code, str(e)]))
        req.on("socket", lambda s: loop.call_later(0.05, lambda: (agent.destroy(),
                                                                  ev.append(["destroyed", free(), sock.destroyed]))))
        req.on("close", lambda: closed.set_result(None))
        await asyncio.wait_for(closed, 5)
        ev.append(["slow.close"])
        echoed = loop.create_future()
        sock.once("data", lambda data: echoed.set_result(data))
        sock.write(b"still")
        ev.append(["echo", (await asyncio.wait_for(echoed, 5)).decode()])
        sock.destroy()
        res = await asyncio.wait_for(get("/fast"), 5)
        await asyncio.wait_for(res.read(), 5)
        ev.append(["again", res.status_code])
        return ev
    return asyncio.run(main())


@pytest.mark.skipif(NODE is None, reason="node is not installed")
def test_agent_limits_of_zero_and_destroy_as_in_node():
    server = Server()
    try:
        mine = prefork_events(server.port)
        out = subprocess.run([NODE, "-e", NODE_SCRIPT, "--", str(server.port)], capture_output=True, text=True,
                             timeout=30)
    finally:
        server.close()
    assert out.returncode == 0, out.stderr
    assert mine == json.loads(out.stdout)
    assert ["slow.error", "ECONNRESET", "socket hang up"] in mine and ["echo", "still"] in mine
