"""Requests waiting in an agent's line behind ``max_sockets``: when the response before
them ends, the request's ``close``, then the next request's ``socket`` (it takes the
socket on), then the ended response's ``close``, as Node's agent orders them (with and
without keep-alive; an ``abort()`` in the ``close`` listener comes before the hand-on).
Node's client against the same raw server, which answers each request at once."""

import asyncio

import pytest

import prefork
from harness import node_events
from test_hostile_client import RawServer, read_head


def handler(conn, index):
    while True:
        head = read_head(conn)
        if not head:
            return
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")


@pytest.fixture(scope="module")
def server():
    srv = RawServer(handler)
    yield srv
    srv.close()


COUNT = 3

# the events are taken once every request and response has closed, and a few turns later
NODE_LINE = r"""
const port = %(port)d, count = %(count)d, abortInClose = %(abort)s;
const agent = new http.Agent({keepAlive: %(keep_alive)s, maxSockets: 1});
let closed = 0;
const turns = (n, then) => n ? setImmediate(() => turns(n - 1, then)) : then();
for (let i = 0; i < count; i++) {
  const tag = 'r' + i;
  const req = http.request({host: '127.0.0.1', port, agent});
  req.on('socket', () => log(tag, 'socket'));
  req.on('abort', () => log(tag, 'abort'));
  req.on('close', () => { log(tag, 'close'); if (abortInClose) req.abort(); });
  req.on('response', (res) => {
    log(tag, 'response');
    res.on('data', () => {});
    res.on('end', () => log(tag, 'end'));
    res.on('close', () => {
      log(tag, 'res.close');
      if (++closed === count) turns(5, () => { agent.destroy(); done(); });
    });
  });
  req.end();
}
"""


def prefork_line(port, keep_alive, abort_in_close):
    async def main():
        loop = asyncio.get_running_loop()
        events = []
        agent = prefork.Agent(keep_alive=keep_alive, max_sockets=1)
        over = loop.create_future()
        closed = [0]

        async def wind_up():
            for _ in range(5):
                await asyncio.sleep(0)
            over.set_result(None)

        def one(tag):
            req = prefork.request({"host": "127.0.0.1", "port": port, "agent": agent})
            req.on("socket", lambda s: events.append([tag, "socket"]))
            req.on("abort", lambda: events.append([tag, "abort"]))

            def on_close():
                events.append([tag, "close"])
                if abort_in_close:
                    req.abort()
            req.on("close", on_close)

            def on_response(res):
                events.append([tag, "response"])
                res.on("data", lambda d: None)
                res.on("end", lambda: events.append([tag, "end"]))

                def on_res_close():
                    events.append([tag, "res.close"])
                    closed[0] += 1
                    if closed[0] == COUNT:
                        loop.create_task(wind_up())
                res.on("close", on_res_close)
            req.on("response", on_response)
            req.end()
        for i in range(COUNT):
            one(f"r{i}")
        try:
            await asyncio.wait_for(over, 5)
        finally:
            agent.destroy()
        return events
    return asyncio.run(main())


@pytest.mark.parametrize("abort_in_close", [False, True])
@pytest.mark.parametrize("keep_alive", [True, False])
def test_the_next_request_in_line_gets_its_socket_before_the_ended_responses_close(server, keep_alive,
                                                                                  abort_in_close):
    theirs = node_events(NODE_LINE % {"port": server.port, "count": COUNT, "keep_alive": str(keep_alive).lower(),
                                      "abort": str(abort_in_close).lower()})
    assert theirs.index(["r1", "socket"]) < theirs.index(["r0", "res.close"])
    ours = prefork_line(server.port, keep_alive, abort_in_close)
    assert ours == theirs
