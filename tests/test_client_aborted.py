"""A response whose body the connection cut short (a FIN before the Content-Length or
the last chunk, a bad chunk), read late, paused or resumed: ``aborted`` and the closes
come as in Node, a paused response still sees the connection's end (pausing stops the
events, not the socket's reading of a small body), and no ``data`` follows ``aborted``
(the chunks kept unread are dropped). Node's client against the same raw server."""

import asyncio
import time

import pytest

import prefork
from harness import node_events
from test_hostile_client import RawServer, read_head

REPLIES = {
    "a FIN before the Content-Length": b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello",
    "a FIN before the last chunk": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n",
    "a bad chunk": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nzz\r\n",
}


@pytest.fixture(params=list(REPLIES))
def server(request):
    reply = REPLIES[request.param]

    def handler(conn, index):
        read_head(conn)
        conn.sendall(reply)
        time.sleep(0.05)  # then the close: the head and the part in one read, the FIN in another
    srv = RawServer(handler)
    yield srv
    srv.close()


# Once the response closed, a few loop turns, then a data listener (after resume() in
# "resume"), then a few more turns before the events are taken.
NODE_CUT = r"""
const port = %(port)d, mode = '%(mode)s';
const turns = (n, then) => n ? setImmediate(() => turns(n - 1, then)) : then();
const req = http.get({host: '127.0.0.1', port, agent: false});
req.on('error', (e) => log('error', e.code));
req.on('close', () => log('close'));
req.on('response', (res) => {
  log('response');
  res.on('end', () => log('res.end'));
  res.on('aborted', () => log('res.aborted'));
  res.on('error', (e) => log('res.error', e.code));
  res.on('close', () => { log('res.close'); turns(3, () => {
    log('late');
    if (mode === 'resume') res.resume();
    res.on('data', (d) => log('data', d.toString()));
    turns(5, done);
  }); });
  if (mode === 'pause') res.pause();
});
"""


def prefork_cut(port, mode):
    async def main():
        loop = asyncio.get_running_loop()
        events = []
        finished = loop.create_future()

        async def turns(n):
            for _ in range(n):
                await asyncio.sleep(0)

        req = prefork.get({"host": "127.0.0.1", "port": port, "agent": False})
        req.on("error", lambda e: events.append(["error", e.code]))
        req.on("close", lambda: events.append(["close"]))

        def on_response(res):
            events.append(["response"])
            res.on("end", lambda: events.append(["res.end"]))
            res.on("aborted", lambda: events.append(["res.aborted"]))
            res.on("error", lambda e: events.append(["res.error", e.code]))

            async def late():
                await turns(3)
                events.append(["late"])
                if mode == "resume":
                    res.resume()
                res.on("data", lambda d: events.append(["data", d.decode()]))
                await turns(5)
                finished.set_result(None)
            res.on("close", lambda: (events.append(["res.close"]), loop.create_task(late())))
            if mode == "pause":
                res.pause()
        req.on("response", on_response)
        await asyncio.wait_for(finished, 4)
        return events
    return asyncio.run(main())


@pytest.mark.parametrize("mode", ["late", "pause", "resume"])
def test_a_body_cut_short_read_late_gives_nodes_events(server, mode):
    ours = prefork_cut(server.port, mode)
    theirs = node_events(NODE_CUT % {"port": server.port, "mode": mode})
    assert ["res.aborted"] in theirs and not any(e[0] == "data" for e in theirs)
    assert ours == theirs
