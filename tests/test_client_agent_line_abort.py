"""``req.abort()`` on a request waiting in its agent's line (``max_sockets`` reached):
``abort`` comes before ``close``, as Node's (whose queued request closes only later);
the request is never sent and its line moves on. One aborted before it was handed to
the agent keeps Node's other order (``close``, then ``abort``).

Real loopback sockets: prefork's own server on the same loop.
"""

import asyncio
import time

import prefork
from prefork.client import Agent
from prefork.runtime import new_event_loop


async def wait_until(predicate, timeout=5.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


def test_abort_of_a_request_in_line_gives_abort_then_close():
    async def main():
        loop = asyncio.get_running_loop()
        seen = []
        server = prefork.create_server(lambda req, res: (seen.append(req.url), loop.call_later(0.05, res.end, b"ok")))
        server.listen(0, "127.0.0.1")
        port = server.address()["port"]
        agent = Agent(keep_alive=True, max_sockets=1)
        events = {0: [], 1: [], 2: []}
        reqs = []
        for i in range(3):
            req = prefork.get({"host": "127.0.0.1", "port": port, "path": f"/{i}", "agent": agent},
                              lambda res, i=i: (res.resume(), res.on("end", lambda: events[i].append("end"))))
            for name in ("abort", "close", "error"):
                req.on(name, lambda *args, i=i, name=name: events[i].append(name))
            reqs.append(req)
        await wait_until(lambda: len(agent.requests.get(agent.key(reqs[1]), ())) == 2)  # 1 and 2 wait
        reqs[1].abort()
        await wait_until(lambda: "close" in events[2])
        assert events[1] == ["abort", "close"]
        assert events[0] == events[2] == ["end", "close"]
        assert seen == ["/0", "/2"]
        assert not agent.requests.get(agent.key(reqs[1]))
        # aborted in the turn it was made (before the agent had it): Node's close, abort
        early = []
        req = prefork.get({"host": "127.0.0.1", "port": port, "path": "/3", "agent": agent})
        for name in ("abort", "close", "error"):
            req.on(name, lambda *args, name=name: early.append(name))
        req.abort()
        await wait_until(lambda: len(early) == 2)
        assert early == ["close", "abort"]
        agent.destroy()
        server.close()

    loop = new_event_loop("asyncio")
    try:
        loop.run_until_complete(asyncio.wait_for(main(), 10))
    finally:
        loop.close()
