"""The agent's ``sockets``, ``free_sockets`` and ``requests`` read as Node 20's at each
event: a request counts from inside ``request()`` (Node's ``addRequest``: a socket, or
its place in line), the next in line has left it when ``free`` is emitted, and a
socket that fails counts until its ``close`` (the next request's connection made
there). Compared with Node's agent on the same raw server; and no count is left over
after a mix of resets, aborts, destroys and timeouts."""

import asyncio
import random
import socket
import struct
import time

import prefork
from harness import node_events
from test_hostile_client import RawServer, read_head


def serve(conn, index):
    while True:
        head = read_head(conn)
        if not head:
            return
        path = head.split(b" ")[1]
        if path.startswith(b"/mid"):  # a reset in the middle of the body
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nhello")
        else:
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello")
        if path.startswith((b"/mid", b"/after")):  # (after: a reset once the response is whole)
            time.sleep(0.05)
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            conn.close()
            return
        if path.startswith(b"/hang"):
            time.sleep(1)
            return


NODE = """
const port = %d; const paths = %s;
const agent = new http.Agent({keepAlive: true, maxSockets: 1});
const n = (o) => Object.values(o).map((v) => v.length).join(',');
const snap = (w) => log(`${w} s=${n(agent.sockets)} f=${n(agent.freeSockets)} r=${n(agent.requests)}`);
agent.on('free', (so) => { if (so.hadRequest) snap('free'); });
let left = paths.length;
paths.forEach((p, i) => {
  const req = http.get({host: '127.0.0.1', port, path: p, agent}, (res) => {
    res.on('data', () => {}); res.on('error', () => {}); res.on('end', () => snap(`${i} res end`));
  });
  snap(`${i} after get`);
  req.on('socket', (so) => { so.hadRequest = true; snap(`${i} socket`); });
  req.on('error', (e) => snap(`${i} error ${e.code}`));
  req.on('close', () => { snap(`${i} close`); if (--left === 0) setTimeout(() => { snap('end'); agent.destroy(); done(); }, 100); });
});
"""


def prefork_events(port, paths):
    async def main():
        loop = asyncio.get_running_loop()
        agent = prefork.Agent(keep_alive=True, max_sockets=1)
        events, finished, left = [], loop.create_future(), [len(paths)]
        given = set()

        def snap(what):
            n = lambda o: ",".join(str(v if isinstance(v, int) else len(v)) for v in o.values())  # noqa: E731
            events.append(f"{what} s={n(agent.sockets)} f={n(agent.free_sockets)} r={n(agent.requests)}")
        agent.on("free", lambda so, opts: snap("free") if so in given else None)

        for i, p in enumerate(paths):
            def on_response(res, i=i):
                res.on("data", lambda d: None)
                res.on("error", lambda e: None)
                res.on("end", lambda: snap(f"{i} res end"))

            def on_close(i=i):
                snap(f"{i} close")
                left[0] -= 1
                if not left[0]:
                    loop.call_later(0.1, finished.set_result, None)
            req = prefork.get({"host": "127.0.0.1", "port": port, "path": p, "agent": agent}, on_response)
            snap(f"{i} after get")
            req.on("socket", lambda so, i=i: (given.add(so), snap(f"{i} socket")))
            req.on("error", lambda e, i=i: snap(f"{i} error {e.code}"))
            req.on("close", on_close)
        await asyncio.wait_for(finished, 4)
        snap("end")
        agent.destroy()
        return events
    return asyncio.run(main())


def compare(paths):
    srv = RawServer(serve)
    try:
        node = node_events(NODE % (srv.port, list(paths)), joined=True)
        ours = prefork_events(srv.port, paths)
    finally:
        srv.close()
    return node, ours


def test_the_counts_read_as_nodes_from_the_call_on_and_at_free():
    node, ours = compare(["/ok", "/ok", "/ok"])
    assert node[:3] == ["0 after get s=1 f= r=", "1 after get s=1 f= r=1", "2 after get s=1 f= r=2"]
    assert "free s=1 f= r=1" in node
    assert [e for e in ours if e.startswith("free")] == [e for e in node if e.startswith("free")]
    assert ours == node


def test_a_socket_reset_mid_body_counts_until_its_close_as_in_node():
    node, ours = compare(["/mid", "/ok", "/ok"])
    assert "0 close s=1 f= r=1" in node  # (the next one's connection made in the failed one's close)
    assert ours[3:] == node[3:] and ours == node


def test_a_socket_reset_after_its_response_counts_as_in_node():
    node, ours = compare(["/ok", "/after", "/ok"])
    # (the order of the request's 'close' and the next 'socket' differs: a known one; the counts at each do not)
    assert sorted(ours) == sorted(node)


def test_no_count_is_left_after_a_mix_of_failures():
    srv = RawServer(serve)
    rng = random.Random(7)

    async def main():
        loop = asyncio.get_running_loop()
        agent = prefork.Agent(keep_alive=True, max_sockets=2)
        closed = []
        for i in range(40):
            kind = rng.choice(["ok", "mid", "after", "abort", "destroy", "timeout", "abort-late"])
            path = {"mid": "/mid", "after": "/after", "timeout": "/hang"}.get(kind, "/ok")
            req = prefork.get({"host": "127.0.0.1", "port": srv.port, "path": path, "agent": agent},
                              lambda res: (res.on("error", lambda e: None), res.resume()))
            req.on("error", lambda e: None)
            req.on("close", lambda: closed.append(1))
            if kind == "abort":
                req.abort()
            elif kind == "destroy":
                loop.call_soon(req.destroy)
            elif kind == "timeout":
                req.set_timeout(0.05, req.destroy)
            elif kind == "abort-late":
                loop.call_later(rng.random() * 0.02, req.abort)
            if rng.random() < 0.3:
                await asyncio.sleep(rng.random() * 0.02)
        deadline = loop.time() + 8
        while len(closed) < 40 and loop.time() < deadline:
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.05)
        counts = (dict(agent.sockets), dict(agent.requests), len(closed))
        agent.destroy()
        return counts
    try:
        sockets, requests, closed = asyncio.run(main())
    finally:
        srv.close()
    assert (sockets, requests, closed) == ({}, {}, 40)


NODE_DESTROYED = """
const agent = new http.Agent({keepAlive: true, maxSockets: 1});
const n = (o) => Object.values(o).map((v) => v.length).join(',');
const snap = (w) => log(`${w} s=${n(agent.sockets)} f=${n(agent.freeSockets)} r=${n(agent.requests)}`);
const a = http.get({host: '127.0.0.1', port: %d, path: '/ok', agent});
a.on('error', (e) => snap('a error ' + e.code)); a.on('close', () => snap('a close'));
const b = http.get({host: '127.0.0.1', port: %d, path: '/ok', agent}, (res) => { res.resume(); res.on('end', () => snap('b res end')); });
b.on('socket', () => snap('b socket'));
b.on('close', () => { snap('b close'); setTimeout(() => { snap('end'); agent.destroy(); done(); }, 50); });
a.destroy(); snap('after destroy');
"""


def test_a_request_destroyed_before_its_socket_gives_its_slot_to_the_next_in_line_as_in_node():
    srv = RawServer(serve)

    async def main():
        loop = asyncio.get_running_loop()
        agent = prefork.Agent(keep_alive=True, max_sockets=1)
        events, finished = [], loop.create_future()

        def snap(what):
            n = lambda o: ",".join(str(v if isinstance(v, int) else len(v)) for v in o.values())  # noqa: E731
            events.append(f"{what} s={n(agent.sockets)} f={n(agent.free_sockets)} r={n(agent.requests)}")
        a = prefork.get({"host": "127.0.0.1", "port": srv.port, "path": "/ok", "agent": agent})
        a.on("error", lambda e: snap("a error " + e.code))
        a.on("close", lambda: snap("a close"))
        b = prefork.get({"host": "127.0.0.1", "port": srv.port, "path": "/ok", "agent": agent},
                        lambda res: (res.resume(), res.on("end", lambda: snap("b res end"))))
        b.on("socket", lambda so: snap("b socket"))
        b.on("close", lambda: (snap("b close"), loop.call_later(0.05, finished.set_result, None)))
        a.destroy()
        snap("after destroy")
        await asyncio.wait_for(finished, 4)
        snap("end")
        agent.destroy()
        return events
    try:
        node = node_events(NODE_DESTROYED % (srv.port, srv.port), joined=True)
        before = srv.accepted
        ours = asyncio.run(main())
        made = srv.accepted - before
    finally:
        srv.close()
    assert "a close s=1 f= r=" in node
    assert ours == node
    assert made == 1  # (one connection for both: the destroyed one made none of its own)
