"""Node's Agent hooks ``keep_socket_alive(socket)`` and ``reuse_socket(socket, req)``:
an agent that overrides them is asked, as Node's is, whether each kept-alive socket
nobody waits for is pooled (False: it is closed, the next request connects anew), and
told when a pooled socket is given to a request. The calls and each request's
``reused_socket`` are compared with Node's client against the same raw server."""

import asyncio
import json
import subprocess

import prefork
from harness import need_node
from prefork.client import Agent
from test_hostile_client import RawServer, read_head

NODE_SCRIPT = r"""
const http = require('http');
const port = +process.argv[1];
const agent = new http.Agent({keepAlive: true});
const log = [];
let calls = 0;
agent.keepSocketAlive = function (socket) {
  calls++; log.push(['keep', calls]);
  return calls === 1 ? false : http.Agent.prototype.keepSocketAlive.call(this, socket);
};
agent.reuseSocket = function (socket, req) {
  log.push(['reuse', req.path]); return http.Agent.prototype.reuseSocket.call(this, socket, req);
};
function go(path) { return new Promise((r) => {
  const req = http.get({port, host: '127.0.0.1', path, agent}, (res) => { res.resume(); res.on('end', r); });
  req.on('socket', () => log.push(['socket', path, req.reusedSocket]));
}); }
(async () => {
  for (const path of ['/1', '/2', '/3']) {
    const freed = new Promise((r) => agent.once('free', () => setImmediate(r)));
    await go(path);
    await freed;
  }
  console.log(JSON.stringify(log)); agent.destroy();
})();
"""


def kept_alive(conn, index):
    while read_head(conn):
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")


class Hooked(Agent):
    def __init__(self, log):
        super().__init__(keep_alive=True)
        self.log = log
        self.calls = 0

    def keep_socket_alive(self, socket):
        self.calls += 1
        self.log.append(["keep", self.calls])
        return self.calls != 1 and super().keep_socket_alive(socket)

    def reuse_socket(self, socket, req):
        self.log.append(["reuse", req.path])
        super().reuse_socket(socket, req)


def prefork_log(port):
    log = []
    agent = Hooked(log)

    async def main():
        for path in ("/1", "/2", "/3"):
            freed = asyncio.get_running_loop().create_future()
            agent.once("free", lambda *args: freed.set_result(None))
            req = prefork.get({"port": port, "host": "127.0.0.1", "path": path, "agent": agent})
            req.on("socket", lambda socket, path=path, req=req: log.append(["socket", path, req.reused_socket]))
            res = await asyncio.wait_for(req, 10)
            await res.read()
            await asyncio.wait_for(freed, 10)
        agent.destroy()
    asyncio.run(main())
    return log


def test_keep_socket_alive_and_reuse_socket_are_asked_as_node_asks_them():
    node = need_node()
    srv = RawServer(kept_alive)
    try:
        out = subprocess.run([node, "-e", NODE_SCRIPT, "--", str(srv.port)], capture_output=True, timeout=30,
                             text=True)
        ours = prefork_log(srv.port)
    finally:
        srv.close()
    assert ours == json.loads(out.stdout), out.stderr
    assert ours == [["socket", "/1", False], ["keep", 1], ["socket", "/2", False], ["keep", 2],
                    ["reuse", "/3"], ["socket", "/3", True], ["keep", 3]]
