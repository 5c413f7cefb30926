"""An ``async for`` over a response the loop body destroys (``res.destroy()``, no error,
on a body that never ends) raises ERR_STREAM_PREMATURE_CLOSE "Premature close", as
Node's ``for await`` over a stream destroyed without an error (not ECONNRESET: nothing
reset the connection); with ``res.destroy(err)`` it raises ``err``. Neither gives
``abort``: the loop left a response destroyed already. (Node raises before the
request's ``close``, which it emits at its socket's; here the loop's task resumes on the
turn after both closes.)"""

import asyncio

import pytest

import prefork
from harness import node_events
from test_client_aiter_destroyed import endless  # noqa: F401  (the fixture)


class Boom(Exception):
    code = "boom"


def ours(port, how):
    events = []

    async def main():
        loop = asyncio.get_running_loop()
        req = prefork.request({"host": "127.0.0.1", "port": port, "agent": False})
        closed = loop.create_future()
        for name in ("abort", "close"):
            req.on(name, lambda name=name: events.append("req." + name))
        req.on("close", lambda: closed.done() or closed.set_result(None))
        req.on("error", lambda err: events.append("req.error " + str(err)))
        req.end()
        res = await asyncio.wait_for(req, 5)
        res.on("aborted", lambda: events.append("res.aborted"))
        res.on("close", lambda: events.append("res.close"))
        res.on("error", lambda err: events.append("res.error " + str(err)))
        chunks = 0
        try:
            async for _ in res:
                chunks += 1
                if chunks == 3:
                    events.append(how)
                    res.destroy(Boom("boom") if how == "destroy_err" else None)
            events.append("loop done")
        except Exception as err:
            events.append(f"raised {getattr(err, 'code', None)} {err}")
        await asyncio.wait_for(closed, 5)
        await asyncio.sleep(0.05)  # (an 'abort' still due would come by then)

    asyncio.run(main())
    return events


NODE_PROGRAM = """
const req = http.request({port: %d, host: '127.0.0.1', agent: false});
for (const n of ['abort', 'close']) req.on(n, () => log('req.' + n));
req.on('error', (e) => log('req.error', e.message));
req.on('response', async (res) => {
  res.on('aborted', () => log('res.aborted')); res.on('close', () => log('res.close'));
  res.on('error', (e) => log('res.error', e.message));
  let chunks = 0;
  try {
    for await (const c of res) {
      if (++chunks == 3) { log('%s'); if ('%s' == 'destroy_err') { const e = new Error('boom'); e.code = 'boom'; res.destroy(e); } else res.destroy(); }
    }
    log('loop done');
  } catch (e) { log('raised', e.code, e.message); }
  setTimeout(done, 100);
});
req.end();
"""


@pytest.mark.parametrize("how", ["destroy", "destroy_err"])
def test_an_async_for_over_a_response_destroyed_in_it_raises_before_the_request_closes(endless, how):
    got = ours(endless, how)
    if how == "destroy":
        assert got == ["destroy", "res.aborted", "res.close", "req.close",
                       "raised ERR_STREAM_PREMATURE_CLOSE Premature close"]
    else:
        assert got == ["destroy_err", "res.aborted", "req.error boom", "res.error boom", "res.close",
                       "req.close", "raised boom boom"]
    assert sorted(got) == sorted(node_events(NODE_PROGRAM % (endless, how, how), joined=True))
