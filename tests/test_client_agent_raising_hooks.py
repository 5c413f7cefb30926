"""An Agent hook that raises: a ``reuse_socket`` that raises fails that request (Node's
``http.get()`` throws it; prefork's request emits it as its ``error``, ``await req``
raises it) and leaves the agent as it was, so later requests on it (``max_sockets=1``
too) are served, as Node's are; a ``keep_socket_alive`` that raises is logged once with
its traceback and counts as False: the socket is closed (the server sees its end) and
``free`` still comes. Compared with Node's client against the same raw server."""

import asyncio
import json
import logging
import subprocess
import threading

import prefork
from harness import need_node
from prefork.client import Agent
from test_hostile_client import RawServer, read_head

NODE_SCRIPT = r"""
const http = require('http');
const port = +process.argv[1];
const agent = new http.Agent({keepAlive: true, maxSockets: 1});
let raise = false;
agent.reuseSocket = function (s, r) {
  if (raise) throw new Error('reuse boom');
  return http.Agent.prototype.reuseSocket.call(this, s, r);  // (its socket.ref())
};
const log = [];
function one(label) { return new Promise((resolve) => {
  let r;
  const freed = () => setImmediate(resolve);
  agent.once('free', freed);
  try { r = http.get({port, host: '127.0.0.1', path: '/', agent}, (res) => {
    let b = ''; res.on('data', (d) => b += d); res.on('end', () => log.push([label, 'ok', b])); }); }
  catch (e) { agent.off('free', freed); log.push([label, 'failed', e.message]); return resolve(); }
  r.on('error', (e) => { log.push([label, 'failed', e.message]); resolve(); });
}); }
(async () => {
  await one('1'); raise = true; await one('2'); raise = false; await one('3'); await one('4');
  console.log(JSON.stringify(log)); agent.destroy();
})();
"""


def kept_alive(conn, index):
    while read_head(conn):
        body = f"c{index}".encode()
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))


class RaisingReuse(Agent):
    raise_next = False

    def reuse_socket(self, socket, req):
        if self.raise_next:
            raise RuntimeError("reuse boom")


def prefork_log(port):
    log = []
    counts = []
    agent = RaisingReuse(keep_alive=True, max_sockets=1)

    async def one(label):
        loop = asyncio.get_running_loop()
        freed = loop.create_future()
        agent.once("free", lambda *args: freed.done() or freed.set_result(None))
        req = prefork.get({"port": port, "host": "127.0.0.1", "path": "/", "agent": agent})
        try:
            res = await asyncio.wait_for(req.response(), 5)
        except RuntimeError as err:
            log.append([label, "failed", str(err)])
            return
        log.append([label, "ok", (await asyncio.wait_for(res.read(), 5)).decode()])
        await asyncio.wait_for(freed, 5)

    async def main():
        await one("1")
        counts.append(dict(agent.sockets))
        agent.raise_next = True
        await one("2")
        counts.append(dict(agent.sockets))
        agent.raise_next = False
        await one("3")
        await one("4")
        agent.destroy()
    asyncio.run(main())
    return log, counts


def test_a_raising_reuse_socket_fails_its_request_and_the_agent_goes_on_as_nodes():
    node = need_node()
    srv = RawServer(kept_alive)
    try:
        out = subprocess.run([node, "-e", NODE_SCRIPT, "--", str(srv.port)], capture_output=True, timeout=30,
                             text=True)
    finally:
        srv.close()
    srv = RawServer(kept_alive)
    try:
        ours, counts = prefork_log(srv.port)
    finally:
        srv.close()
    assert ours == json.loads(out.stdout), out.stderr
    assert ours == [["1", "ok", "c0"], ["2", "failed", "reuse boom"], ["3", "ok", "c1"], ["4", "ok", "c1"]]
    assert counts == [{}, {}]  # no slot left counted by the request that failed


class RaisingKeep(Agent):
    def keep_socket_alive(self, socket):
        raise RuntimeError("keep boom")


def test_a_raising_keep_socket_alive_closes_the_socket_and_is_logged_once(caplog):
    ended = threading.Event()

    def serve(conn, index):
        read_head(conn)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        if conn.recv(1) == b"":
            ended.set()

    srv = RawServer(serve)
    agent = RaisingKeep(keep_alive=True)
    events = []

    async def main():
        loop = asyncio.get_running_loop()
        freed = loop.create_future()
        agent.once("free", lambda socket, options: freed.set_result(socket))
        req = prefork.get({"port": srv.port, "host": "127.0.0.1", "path": "/", "agent": agent})
        res = await asyncio.wait_for(req, 5)
        res.on("close", lambda: events.append("res close"))
        assert await asyncio.wait_for(res.read(), 5) == b"ok"
        socket = await asyncio.wait_for(freed, 5)
        assert socket.destroyed
        assert agent.free_sockets == {} and agent.sockets == {}
        assert await loop.run_in_executor(None, ended.wait, 5)

    try:
        with caplog.at_level(logging.ERROR, logger="prefork.client"):
            asyncio.run(main())
    finally:
        agent.destroy()
        srv.close()
    logged = [r for r in caplog.records if "keep_socket_alive" in r.getMessage()]
    assert len(logged) == 1 and logged[0].exc_info[1].args == ("keep boom",)
    assert "res close" in events
