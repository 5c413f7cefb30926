"""``req.abort()`` right after ``req.destroy()`` (in the response's ``async for``), and an
``async for`` left by ``break`` right after ``req.destroy()``, give ``abort`` before the
closes the destroy queued, as Node: its ``abort()`` emits ``abort`` on a tick (before the
socket's close), and its ``for await`` left early calls ``req.abort()`` unless the
response is destroyed already (not the request)."""

import asyncio

import pytest

import prefork
from harness import node_events
from test_client_aiter_destroyed import endless  # noqa: F401  (the fixture)


def ours(port, how):
    events = []

    async def main():
        req = prefork.request({"host": "127.0.0.1", "port": port, "agent": False})
        for name in ("abort", "close"):
            req.on(name, lambda name=name: events.append("req." + name))
        req.on("error", lambda err: events.append("req.error " + err.code))
        req.end()
        res = await asyncio.wait_for(req, 5)
        res.on("aborted", lambda: events.append("res.aborted"))
        res.on("close", lambda: events.append("res.close"))
        res.on("error", lambda err: events.append("res.error " + err.code))
        closed = asyncio.get_running_loop().create_future()
        res.on("close", lambda: closed.done() or closed.set_result(None))
        chunks = 0
        try:
            async for _ in res:
                chunks += 1
                if chunks == 3:
                    events.append(how)
                    req.destroy()
                    if how == "abort":
                        req.abort()
                    else:
                        break
            events.append("loop done")
        except ConnectionResetError as err:
            events.append("raised " + err.code)
        await asyncio.wait_for(closed, 5)
        await asyncio.sleep(0.05)  # (an 'abort' still due would come by then)

    asyncio.run(main())
    return events


NODE_PROGRAM = """
const req = http.request({port: %d, host: '127.0.0.1', agent: false});
for (const n of ['abort', 'close']) req.on(n, () => log('req.' + n));
req.on('error', (e) => log('req.error', e.code));
req.on('response', async (res) => {
  res.on('aborted', () => log('res.aborted')); res.on('close', () => log('res.close'));
  res.on('error', (e) => log('res.error', e.code));
  let chunks = 0;
  try {
    for await (const c of res) {
      if (++chunks == 3) { log('%s'); req.destroy(); if ('%s' == 'abort') req.abort(); else break; }
    }
    log('loop done');
  } catch (e) { log('raised', e.code); }
  setTimeout(done, 100);
});
req.end();
"""


@pytest.mark.parametrize("how", ["abort", "break"])
def test_an_abort_after_a_destroy_comes_before_the_closes_as_node(endless, how):
    got = ours(endless, how)
    after = ["req.abort", "res.aborted", "req.close", "res.error ECONNRESET", "res.close"]
    assert got == ([how] + after + ["raised ECONNRESET"] if how == "abort" else [how, "loop done"] + after)
    assert got == node_events(NODE_PROGRAM % (endless, how, how), joined=True)
