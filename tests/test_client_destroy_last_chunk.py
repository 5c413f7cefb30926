"""A response destroyed once its whole body has gone out (in the last ``data``
listener, or inside ``async for`` after the last chunk) gives ``aborted``, then ``end``,
then its ``close`` and the request's, as Node's; ``async for`` ends normally with the
whole body and ``read()`` gives it, instead of raising ECONNRESET "aborted"."""

import asyncio

import prefork
from harness import need_node, node_events

NODE_SCRIPT = r"""
const srv = http.createServer((req, res) => res.end('hello'));
srv.listen(0, '127.0.0.1', () => {
  http.get({port: srv.address().port, agent: false}, (res) => {
    res.on('data', (d) => { log('data', String(d)); res.destroy(); });
    res.on('aborted', () => log('aborted'));
    res.on('end', () => log('end'));
    res.on('error', (e) => log('res.error', e.code));
    res.req.on('error', (e) => log('req.error', e.code));
    res.req.on('close', () => { log('req.close'); srv.close(); done(); });
    res.on('close', () => log('res.close'));
  });
});
"""


async def _served(run):
    server = prefork.create_server(lambda req, res: res.end("hello"))
    ready = asyncio.get_running_loop().create_future()
    server.listen(0, "127.0.0.1", lambda: ready.set_result(None))
    await ready
    try:
        return await asyncio.wait_for(run(server.address()["port"]), 5)
    finally:
        server.close()


def test_destroyed_in_the_last_data_listener_ends_as_nodes():
    need_node()
    theirs = node_events(NODE_SCRIPT)

    async def run(port):
        events, closed = [], asyncio.get_running_loop().create_future()

        def on_response(res):
            res.on("data", lambda d: (events.append(["data", d.decode()]), res.destroy()))
            res.on("aborted", lambda: events.append(["aborted"]))
            res.on("end", lambda: events.append(["end"]))
            res.on("error", lambda e: events.append(["res.error", e.code]))
            res.on("close", lambda: events.append(["res.close"]))
            res.req.on("error", lambda e: events.append(["req.error", e.code]))
            res.req.on("close", lambda: (events.append(["req.close"]), closed.set_result(None)))
        prefork.get({"port": port, "agent": False}, on_response)
        await closed
        return events
    assert theirs == [["data", "hello"], ["aborted"], ["end"], ["res.close"], ["req.close"]]
    assert asyncio.run(_served(run)) == theirs


def test_async_for_and_read_give_the_whole_body_when_destroyed_after_it():
    async def run(port):
        res = await prefork.get({"port": port, "agent": False})
        chunks = []
        async for chunk in res:
            chunks.append(chunk)
            res.destroy()
        res2 = await prefork.get({"port": port, "agent": False})
        res2.on("data", lambda d: res2.destroy())
        return chunks, await res2.read()
    assert asyncio.run(_served(run)) == ([b"hello"], b"hello")
