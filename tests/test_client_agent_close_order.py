"""A request waiting in the agent's line for a socket slot, freed by a socket that
closes (a ``Connection: close`` answer), gets its ``socket`` event after that
socket's ``close`` listeners have run, as in Node (its agent makes the next
connection from the socket's ``close``)."""

import asyncio

import prefork
from harness import node_events
from test_hostile_client import RawServer, read_head


def answer_and_close(conn, index):
    if read_head(conn):
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")


NODE = """
const agent = new http.Agent({keepAlive: true, maxSockets: 1});
const go = (p) => {
  const r = http.get({host: '127.0.0.1', port: %d, path: p, agent}, (res) => {
    res.resume();
    res.on('end', () => log(p + ' res end'));
    res.on('close', () => log(p + ' res close'));
  });
  r.on('socket', (so) => { log(p + ' socket'); so.on('close', () => log(p + ' socket close')); });
  r.on('close', () => { log(p + ' close'); if (p === '/2') setTimeout(done, 50); });
};
go('/1'); go('/2');
"""


def prefork_events(port):
    async def main():
        loop = asyncio.get_running_loop()
        agent = prefork.Agent(keep_alive=True, max_sockets=1)
        events, closed = [], loop.create_future()

        def go(p):
            def on_response(res):
                res.resume()
                res.on("end", lambda: events.append(p + " res end"))
                res.on("close", lambda: events.append(p + " res close"))
            req = prefork.get({"host": "127.0.0.1", "port": port, "path": p, "agent": agent}, on_response)
            req.on("socket", lambda so: (events.append(p + " socket"),
                                         so.on("close", lambda *a: events.append(p + " socket close"))))
            req.on("close", lambda: events.append(p + " close"))
            return req
        go("/1")
        last = go("/2")
        last.on("close", lambda: closed.set_result(None))
        await asyncio.wait_for(closed, 4)
        while len(events) < 10:  # (its socket's close, a turn later)
            await asyncio.sleep(0.01)
        agent.destroy()
        return events
    return asyncio.run(main())


def test_the_next_request_gets_its_socket_after_the_closed_ones_close_listeners():
    srv = RawServer(answer_and_close)
    try:
        node = node_events(NODE % srv.port, joined=True)
        ours = prefork_events(srv.port)
    finally:
        srv.close()
    assert node.index("/1 socket close") < node.index("/2 socket")
    assert ours == node
