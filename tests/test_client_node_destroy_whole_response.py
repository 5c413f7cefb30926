"""``req.destroy()`` in a ``response`` listener when the whole body came in the head's
read (the common "not a 200: give up" listener): the body's ``end`` still comes, then,
on a connection not kept, the response's ``close`` before the request's (Node's
response closes after its ``end``, its request at the socket's close); on a kept-alive
one the request's first (Node's end of a kept-alive exchange). Node's client against the
same raw server."""

import asyncio

import pytest

import prefork
from harness import node_events
from test_hostile_client import RawServer, read_head

WHOLE = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


@pytest.fixture(scope="module")
def server():
    def handler(conn, index):
        while read_head(conn):
            conn.sendall(WHOLE)  # head and body in one read
    srv = RawServer(handler)
    yield srv
    srv.close()


AGENTS = {"none": ("false", lambda: False), "plain": ("new http.Agent({keepAlive: false})",
                                                     lambda: prefork.Agent(keep_alive=False)),
          "keep": ("new http.Agent({keepAlive: true})", lambda: prefork.Agent(keep_alive=True))}

NODE = r"""
const agent = %(agent)s;
const req = http.request({host: '127.0.0.1', port: %(port)d, agent});
let left = 2;
const over = () => { if (--left === 0) setImmediate(() => setImmediate(() => { if (agent) agent.destroy(); done(); })); };
req.on('error', (e) => log('error', e.code));
req.on('close', () => { log('close'); over(); });
req.on('response', (res) => {
  log('response', res.statusCode);
  res.on('data', (d) => log('data', d.toString()));
  res.on('end', () => log('res.end'));
  res.on('aborted', () => log('res.aborted'));
  res.on('close', () => { log('res.close'); over(); });
  req.destroy();
});
req.end();
"""


def prefork_events(port, make_agent):
    async def main():
        loop = asyncio.get_running_loop()
        events = []
        log = events.append
        over = loop.create_future()
        left = [2]
        agent = make_agent()

        def closed(what):
            log([what])
            left[0] -= 1
            if not left[0]:
                over.set_result(None)
        req = prefork.request({"host": "127.0.0.1", "port": port, "agent": agent})
        req.on("error", lambda e: log(["error", e.code]))
        req.on("close", lambda: closed("close"))

        def on_response(res):
            log(["response", res.status_code])
            res.on("data", lambda d: log(["data", d.decode()]))
            res.on("end", lambda: log(["res.end"]))
            res.on("aborted", lambda: log(["res.aborted"]))
            res.on("close", lambda: closed("res.close"))
            req.destroy()
        req.on("response", on_response)
        req.end()
        await asyncio.wait_for(over, 4)
        for _ in range(3):
            await asyncio.sleep(0)
        if agent:
            agent.destroy()
        return events
    return asyncio.run(main())


@pytest.mark.parametrize("agent", sorted(AGENTS))
def test_a_destroy_in_the_response_listener_of_a_whole_response_closes_in_nodes_order(server, agent):
    node_agent, make_agent = AGENTS[agent]
    theirs = node_events(NODE % {"agent": node_agent, "port": server.port})
    ours = prefork_events(server.port, make_agent)
    expected_last = [["close"], ["res.close"]] if agent == "keep" else [["res.close"], ["close"]]
    assert theirs[-2:] == expected_last  # (what Node 20 does)
    assert ours == theirs
