"""A ``write`` after ``end()``: False, its callback, and ``error``
(ERR_STREAM_WRITE_AFTER_END) on the next loop turn, except on a request already
destroyed (closed, or its kept-alive socket back with the agent at the response's
``end``): no ``error`` after the request's ``close``, as Node's client. (prefork's write
callbacks take no argument; Node's gets the error: the callback is logged without it.)"""

import asyncio

import pytest

import prefork
from harness import node_events
from test_hostile_client import RawServer, read_head


@pytest.fixture(scope="module")
def server():
    def handler(conn, index):
        while read_head(conn):
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
    srv = RawServer(handler)
    yield srv
    srv.close()


NODE_WRITE = r"""
const port = %d, when = '%s', keepAlive = %s;
const agent = keepAlive ? new http.Agent({keepAlive: true}) : false;
const req = http.request({host: '127.0.0.1', port, agent, method: 'POST'});
const turns = (n, then) => n ? setImmediate(() => turns(n - 1, then)) : then();
let closed = false, written = false;
const finish = () => { if (closed && written) turns(5, () => { if (agent) agent.destroy(); done(); }); };
const later = () => { log('write', req.write('x', () => log('callback'))); written = true; finish(); };
req.on('error', (e) => log('error', e.code));
req.on('response', (res) => { res.resume(); res.on('end', () => { log('end'); if (when === 'end') later(); }); });
req.on('close', () => { log('close'); closed = true; if (when === 'close') later(); else finish(); });
req.end('body');
"""


def prefork_write(port, when, keep_alive):
    async def main():
        loop = asyncio.get_running_loop()
        events = []
        state = {"closed": False, "written": False}
        finished = loop.create_future()
        agent = prefork.Agent() if keep_alive else False
        req = prefork.request({"host": "127.0.0.1", "port": port, "agent": agent, "method": "POST"})

        async def wind_up():
            for _ in range(5):
                await asyncio.sleep(0)
            finished.set_result(None)

        def finish():
            if state["closed"] and state["written"] and not finished.done():
                loop.create_task(wind_up())

        def later():
            events.append(["write", req.write(b"x", callback=lambda: events.append(["callback"]))])
            state["written"] = True
            finish()
        req.on("error", lambda e: events.append(["error", e.code]))
        req.on("response", lambda res: (res.resume(), res.on("end", lambda: (events.append(["end"]),
                                                                             when == "end" and later()))))

        def on_close():
            events.append(["close"])
            state["closed"] = True
            later() if when == "close" else finish()
        req.on("close", on_close)
        req.end(b"body")
        await asyncio.wait_for(finished, 4)
        if agent:
            agent.destroy()
        return events
    return asyncio.run(main())


@pytest.mark.parametrize("when,keep_alive", [("close", False), ("close", True), ("end", True), ("end", False)])
def test_a_write_after_end_as_in_node(server, when, keep_alive):
    ours = prefork_write(server.port, when, keep_alive)
    theirs = node_events(NODE_WRITE % (server.port, when, "true" if keep_alive else "false"))
    if when == "close" or keep_alive:
        assert ["error", "ERR_STREAM_WRITE_AFTER_END"] not in theirs
    assert ours == theirs
