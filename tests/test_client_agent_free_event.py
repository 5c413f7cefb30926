"""The agent emits ``free`` (socket, options) for every kept-alive exchange that ends,
after the request's ``close`` and once the agent has pooled the socket or handed it to
the next request in line, before the response's ``close``; an answer with
``Connection: close`` gives none. Compared with Node's agent on the same server."""

import asyncio
import logging

import prefork
from harness import node_events
from test_hostile_client import RawServer, read_head


def serve(conn, index):
    while True:
        head = read_head(conn)
        if not head:
            return
        if head.startswith(b"GET /close "):
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
            return
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")


NODE = """
const port = %d;
const agent = new http.Agent({keepAlive: true, maxSockets: 1});
const key = `127.0.0.1:${port}:`;
agent.on('free', (so, opts) => log(`free ${opts.host}:${opts.port} pooled=${(agent.freeSockets[key] || []).includes(so)}`));
const go = (p, next) => {
  const r = http.get({port, host: '127.0.0.1', path: p, agent}, (res) => {
    res.resume();
    res.on('end', () => log(p + ' res end'));
    res.on('close', () => { log(p + ' res close'); if (next) setTimeout(next, 20); });
  });
  r.on('close', () => log(p + ' close'));
};
go('/1'); go('/2', () => go('/3', () => go('/close', () => setTimeout(done, 50))));
"""


def prefork_events(port):
    async def main():
        loop = asyncio.get_running_loop()
        agent = prefork.Agent(keep_alive=True, max_sockets=1)
        key = f"127.0.0.1:{port}"
        events, finished = [], loop.create_future()
        agent.on("free", lambda so, opts: events.append(
            f"free {opts['host']}:{opts['port']} pooled={'true' if so in agent.free_sockets.get(key, ()) else 'false'}"))

        def go(p, then=None):
            def on_response(res):
                res.resume()
                res.on("end", lambda: events.append(p + " res end"))
                res.on("close", lambda: (events.append(p + " res close"), then and loop.call_later(0.02, then)))
            req = prefork.get({"host": "127.0.0.1", "port": port, "path": p, "agent": agent}, on_response)
            req.on("close", lambda: events.append(p + " close"))
        go("/1")
        go("/2", lambda: go("/3", lambda: go("/close", lambda: loop.call_later(0.05, finished.set_result, None))))
        await asyncio.wait_for(finished, 4)
        agent.destroy()
        return events
    return asyncio.run(main())


def test_free_comes_as_from_nodes_agent():
    srv = RawServer(serve)
    try:
        node = node_events(NODE % srv.port, joined=True)
        ours = prefork_events(srv.port)
    finally:
        srv.close()
    assert node.count(f"free 127.0.0.1:{srv.port} pooled=true") == 2
    assert ours == node


def test_a_raising_free_listener_is_logged_and_the_pool_goes_on(caplog):
    srv = RawServer(serve)

    async def main():
        agent = prefork.Agent(keep_alive=True)
        agent.on("free", lambda *a: 1 / 0)
        url = f"http://127.0.0.1:{srv.port}/"
        bodies = []
        for _ in range(2):
            res = await asyncio.wait_for(prefork.get(url, agent=agent), 4)
            bodies.append(await asyncio.wait_for(res.read(), 4))
            while not agent.free_sockets:
                await asyncio.sleep(0.01)
        agent.destroy()
        return bodies
    try:
        with caplog.at_level(logging.ERROR, logger="prefork.client"):
            bodies = asyncio.run(asyncio.wait_for(main(), 8))
    finally:
        srv.close()
    assert bodies == [b"ok", b"ok"]
    assert srv.accepted == 1
    assert [r.getMessage() for r in caplog.records].count("error in an agent's 'free' listener") == 2
