"""A client response whose body an app awaits (``await res.read()``, ``async for``) and
that the upstream cuts short (a reset mid-body) is freed by reference counting: the
body collector's ``end`` listener goes with its ``close``. It stayed (the ``end`` never
came) bound to the response, a cycle holding the response, its socket and its error
until a full collection: one per cut response in a worker calling a flaky upstream.

Real loopback sockets: the upstream is a thread of this process.
"""

import asyncio

import prefork
from prefork.client import Agent
from prefork.http.errors import HTTPError
from prefork.runtime import new_event_loop

from harness import left_in_cycles
from leakdrive import ResettingUpstream


def test_a_read_cut_by_an_upstream_reset_leaves_nothing_in_cycles():
    upstream = ResettingUpstream()  # a head, 4 of 100 body bytes, then a reset
    agent = Agent(keep_alive=False)
    loop = new_event_loop("asyncio")

    async def one():
        req = prefork.request({"host": "127.0.0.1", "port": upstream.port, "path": "/", "agent": agent})
        req.end()
        res = await req
        try:
            await res.read()
        except HTTPError as err:  # (the name goes at the end of the block: no cycle of the test's own)
            return err.code
        return None

    async def run():
        codes = [await one() for _ in range(20)]
        for _ in range(3):
            await asyncio.sleep(0)  # what the closes scheduled has run
        return codes

    try:
        left = left_in_cycles(lambda: loop.run_until_complete(asyncio.wait_for(run(), 30)))
        codes = left_in_cycles.result
    finally:
        loop.close()
        upstream.stop()
    assert codes == ["ECONNRESET"] * 20
    assert not left, f"objects left in reference cycles: {dict(left)}"
