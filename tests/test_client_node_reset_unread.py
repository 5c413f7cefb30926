"""A reset after a complete response that has not been read yet (its ``end`` not
emitted): the socket is still the request's, so the request gets ``error``
(ECONNRESET "read ECONNRESET") and then ``close``, as Node's does; the body stays whole,
and reading it later gives ``data``, ``end`` and the response's ``close``. Node's client
against the same raw server."""

import asyncio
import logging
import socket
import struct

import pytest

import prefork
from harness import node_events
from test_hostile_client import RawServer, read_head

REPLIES = {
    "/length": b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
    "/chunked": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
}


def handler(conn, index):
    head = read_head(conn)
    if not head:
        return
    conn.sendall(REPLIES[head.split(b" ")[1].decode()])
    conn.recv(1)  # the client has the whole response: now the reset
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


@pytest.fixture(scope="module")
def server():
    srv = RawServer(handler)
    yield srv
    srv.close()


# The response is read once the request has closed (a few loop turns later); the events
# are taken a few turns after the response's close. ``once`` for the request's close:
# Node's pooling agent emits it a second time when the late 'end' frees the socket.
NODE_RESET = r"""
const port = %(port)d, path = '%(path)s', pool = %(pool)s;
const agent = pool ? new http.Agent({keepAlive: true}) : false;
const turns = (n, then) => n ? setImmediate(() => turns(n - 1, then)) : then();
const req = http.request({host: '127.0.0.1', port, path, agent});
req.on('error', (e) => log('error', e.code, e.message));
req.once('close', () => {
  log('close');
  turns(3, () => {
    const res = req.res;
    log('late', res.complete, res.readableEnded);
    res.on('data', (d) => log('data', d.toString()));
  });
});
req.on('response', (res) => {
  log('response', res.complete);
  res.on('end', () => log('res.end'));
  res.on('aborted', () => log('res.aborted'));
  res.on('error', (e) => log('res.error', e.code));
  res.on('close', () => { log('res.close'); turns(3, () => { if (agent) agent.destroy(); done(); }); });
  req.socket.write('!');
});
req.end();
"""


def prefork_reset(port, path, pool):
    async def main():
        loop = asyncio.get_running_loop()
        events = []
        log = events.append
        finished = loop.create_future()
        agent = prefork.Agent(keep_alive=True) if pool else False
        req = prefork.request({"host": "127.0.0.1", "port": port, "path": path, "agent": agent})

        async def turns(n):
            for _ in range(n):
                await asyncio.sleep(0)

        async def late():
            await turns(3)
            log(["late", req.res.complete, req.res.readable_ended])
            req.res.on("data", lambda d: log(["data", d.decode()]))

        async def wind_up():
            await turns(3)
            if agent:
                agent.destroy()
            finished.set_result(None)
        req.on("error", lambda e: log(["error", e.code, str(e)]))
        req.once("close", lambda: (log(["close"]), loop.create_task(late())))

        def on_response(res):
            log(["response", res.complete])
            res.on("end", lambda: log(["res.end"]))
            res.on("aborted", lambda: log(["res.aborted"]))
            res.on("error", lambda e: log(["res.error", e.code]))
            res.on("close", lambda: (log(["res.close"]), loop.create_task(wind_up())))
            req.socket.write(b"!")
        req.on("response", on_response)
        req.end()
        await asyncio.wait_for(finished, 4)
        return events
    return asyncio.run(main())


@pytest.mark.parametrize("pool", [False, True])
@pytest.mark.parametrize("path", list(REPLIES))
def test_a_reset_after_a_complete_unread_response_gives_nodes_events(server, path, pool):
    ours = prefork_reset(server.port, path, pool)
    theirs = node_events(NODE_RESET % {"port": server.port, "path": path, "pool": "true" if pool else "false"})
    assert ["error", "ECONNRESET", "read ECONNRESET"] in theirs and ["data", "hello"] in theirs
    assert ours == theirs


def test_an_awaited_response_reset_after_its_end_came_reads_whole_and_logs_nothing(server, caplog):
    """``res = await req`` then a late ``read()``, no ``error`` listener: the body is
    whole, so nothing is raised or logged as unhandled."""
    async def main():
        req = prefork.request({"host": "127.0.0.1", "port": server.port, "path": "/length", "agent": False})
        req.end()
        res = await asyncio.wait_for(req.response(), 4)
        res.socket.write(b"!")
        closed = asyncio.get_running_loop().create_future()
        req.on("close", lambda: closed.set_result(None))
        await asyncio.wait_for(closed, 4)
        return await asyncio.wait_for(res.read(), 4), req.socket.destroyed
    with caplog.at_level(logging.ERROR):
        body, destroyed = asyncio.run(main())
    assert body == b"hello" and destroyed
    assert not [r for r in caplog.records if "unhandled" in r.getMessage()]
