"""With ``max_sockets=1``, a response whose body breaks the parser (a bad chunk size,
its body unread when the socket closes): the request in line gets its ``socket`` after
the failed request's ``error`` and ``close``, as in Node (prefork gave it before that
``close``); and a request handed the socket of the one before it finds no empty line
left for its host:port in ``agent.requests`` (Node deletes it first; prefork kept an
empty one there during that ``socket`` event)."""

import asyncio

import pytest

import prefork
from harness import node_events
from test_hostile_client import RawServer, read_head

BAD = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nZZZ\r\n\r\n"
PATHS = ["/bad", "/good", "/good2"]


def handler(conn, index):
    while True:
        head = read_head(conn)
        if not head:
            return
        if b"/bad" in head:
            conn.sendall(BAD)
            return
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")


# (the agent's maps at the events of the requests after the failed one: the sockets
# in use and in line per host:port; Node's hold arrays where prefork's sockets are counts)
NODE = r"""
const port = %d, paths = %s;
const agent = new http.Agent({keepAlive: %s, maxSockets: 1});
const snap = (p) => p === '/bad' ? [] :
  [Object.values(agent.sockets).map((a) => a.length), Object.values(agent.requests).map((a) => a.length)];
for (const p of paths) {
  const req = http.request({host: '127.0.0.1', port, agent, path: p});
  req.on('socket', () => log(p, 'socket', snap(p)));
  req.on('error', (e) => log(p, 'error', e.code, snap(p)));
  req.on('close', () => { log(p, 'close', snap(p)); if (p === '/good2') { agent.destroy(); done(); } });
  req.on('response', (res) => { log(p, 'response', snap(p)); res.resume(); res.on('end', () => log(p, 'end', snap(p))); });
  req.end();
}
"""


async def prefork_events(port, keep_alive):
    events = []
    agent = prefork.Agent(keep_alive=keep_alive, max_sockets=1)
    over = asyncio.get_running_loop().create_future()

    def snap(p):
        return [] if p == "/bad" else [list(agent.sockets.values()), [len(a) for a in agent.requests.values()]]
    for p in PATHS:
        req = prefork.request({"host": "127.0.0.1", "port": port, "agent": agent, "path": p})
        req.on("socket", lambda s, p=p: events.append([p, "socket", snap(p)]))
        req.on("error", lambda e, p=p: events.append([p, "error", e.code, snap(p)]))

        def close(p=p):
            events.append([p, "close", snap(p)])
            if p == "/good2":
                over.set_result(None)
        req.on("close", close)

        def response(res, p=p):
            events.append([p, "response", snap(p)])
            res.resume()
            res.on("end", lambda: events.append([p, "end", snap(p)]))
        req.on("response", response)
        req.end()
    await asyncio.wait_for(over, 4)
    agent.destroy()
    return events


@pytest.mark.parametrize("keep_alive", [False, True])
def test_the_request_in_line_gets_its_socket_after_the_failed_ones_close(keep_alive):
    srv = RawServer(handler)
    try:
        expected = node_events(NODE % (srv.port, PATHS, "true" if keep_alive else "false"))
        assert [e[:2] for e in expected[:5]] == [["/bad", "socket"], ["/bad", "response"], ["/bad", "error"],
                                                  ["/bad", "close"], ["/good", "socket"]]
        assert asyncio.run(prefork_events(srv.port, keep_alive)) == expected
    finally:
        srv.close()
