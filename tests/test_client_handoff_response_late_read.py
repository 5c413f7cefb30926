"""The response handed to an ``upgrade`` or ``connect`` listener is the listener's, as
Node's: not a dumped response whose ``end`` and ``close`` went by unseen. Listeners added
on a later turn, then ``resume()``, get its ``end`` and ``close`` (before, both had been
emitted at the hand-over, to nobody). Compared with Node v20 when ``node`` is
installed."""

import asyncio

import pytest

import prefork
from harness import NODE, node_events
from test_client_handoff_response_end import ANSWERS, serve

NODE_LATE = r"""
const event = '%(event)s';
const req = http.request({host: '127.0.0.1', port: %(port)d, agent: false, method: '%(method)s', headers: %(headers)s});
req.on(event, (res, socket, head) => {
  log(event);
  setTimeout(() => {
    res.on('end', () => log('res.end'));
    res.on('close', () => { log('res.close'); socket.destroy(); setTimeout(done, 20); });
    res.resume();
  }, 20);
});
req.on('close', () => log('close'));
req.end();
"""


def prefork_late(port, event, options):
    async def main():
        loop = asyncio.get_running_loop()
        events = []
        over = loop.create_future()
        req = prefork.request({"host": "127.0.0.1", "port": port, "agent": False, **options})

        def taken(res, socket, head):
            events.append([event])

            def later():
                res.on("end", lambda: events.append(["res.end"]))
                res.on("close", lambda: (events.append(["res.close"]), socket.destroy(),
                                         over.done() or over.set_result(None)))
                res.resume()
            loop.call_later(0.02, later)
        req.on(event, taken)
        req.on("close", lambda: events.append(["close"]))
        req.end()
        await asyncio.wait_for(over, 5)
        return events
    return asyncio.run(main())


@pytest.mark.parametrize("event", list(ANSWERS))
def test_listeners_added_later_see_the_end_and_close(event):
    answer, options = ANSWERS[event]
    server = serve(answer)
    try:
        assert prefork_late(server.port, event, options) == [[event], ["close"], ["res.end"], ["res.close"]]
    finally:
        server.close()


@pytest.mark.skipif(NODE is None, reason="node is not installed")
@pytest.mark.parametrize("event", list(ANSWERS))
def test_the_same_events_as_nodes(event):
    answer, options = ANSWERS[event]
    server = serve(answer)
    try:
        node = node_events(NODE_LATE % {
            "event": event, "port": server.port, "method": options.get("method", "GET"),
            "headers": '{"Connection": "Upgrade", "Upgrade": "foo"}' if event == "upgrade" else "{}"})
        assert prefork_late(server.port, event, options) == node
    finally:
        server.close()
