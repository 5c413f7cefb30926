"""``async for chunk in stream`` (a server request's body, a client response's) leaves
nothing in reference cycles once the loop is over: at the body's end, or at the error
it raises (the upstream reset mid-body). Before, the loop's ``data`` and ``error``
listeners (bound to the loop's ``Chunks``, which refers to the stream) stayed on the
stream, and the error raised was the one the stream keeps, whose traceback holds the
loop's frames: a cycle holding stream, socket and error per body read this way.

Real loopback sockets; the server's loop runs in a thread of this process, the
upstream in another.
"""

import asyncio
import collections
import gc
import socket
import time

import prefork
from prefork.client import Agent
from prefork.http.errors import HTTPError
from prefork.runtime import new_event_loop

from leakdrive import ResettingUpstream


def left_in_cycles(run):
    gc.collect()
    gc.disable()
    try:
        result = run()
        gc.set_debug(gc.DEBUG_SAVEALL)
        gc.collect()
        return result, collections.Counter(type(obj).__qualname__ for obj in gc.garbage
                                           if type(obj).__module__.startswith("prefork."))
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()


def test_a_request_body_read_by_async_for_leaves_nothing_in_cycles(serve):
    def setup(server, st):
        async def on_request(req, res):
            size = 0
            async for chunk in req:
                size += len(chunk)
            res.end(b"%d" % size)
        server.on("request", on_request)
    st = serve(setup)

    def run():
        for _ in range(10):
            with socket.create_connection(("127.0.0.1", st.port), timeout=10) as sock:
                sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 5\r\n\r\nhello")
                data = b""
                while True:
                    chunk = sock.recv(65536)
                    if not chunk:
                        break
                    data += chunk
                assert data.endswith(b"\r\n\r\n5"), data
        deadline = time.monotonic() + 10
        while st.call(lambda: st.server.connections) and time.monotonic() < deadline:
            time.sleep(0.01)
        for _ in range(3):
            st.call(lambda: None)  # what the closes scheduled has run
    _, left = left_in_cycles(run)
    assert not left, f"objects left in reference cycles: {dict(left)}"


def client_loops(answer_every):
    """20 responses read by ``async for`` from an upstream that cuts all but every
    ``answer_every``-th short with a reset; what each came to."""
    upstream = ResettingUpstream(answer_every=answer_every)
    agent = Agent(timeout=0.05)
    loop = new_event_loop("asyncio")

    async def one():
        req = prefork.request({"host": "127.0.0.1", "port": upstream.port, "path": "/", "agent": agent})
        req.end()
        res = await req
        try:
            async for _ in res:
                pass
        except HTTPError as err:  # (the name goes at the end of the block: no cycle of the test's own)
            return err.code
        return "whole"

    async def run():
        ends = collections.Counter([await one() for _ in range(20)])
        for _ in range(500):  # until the pooled sockets timed out (bounded)
            if not agent.free_sockets:
                break
            await asyncio.sleep(0.01)
        assert not agent.free_sockets, "a pooled socket never timed out"
        for _ in range(3):
            await asyncio.sleep(0)  # what the closes scheduled has run
        return ends

    try:
        return left_in_cycles(lambda: loop.run_until_complete(asyncio.wait_for(run(), 30)))
    finally:
        loop.close()
        upstream.stop()


def test_whole_client_responses_read_by_async_for_leave_nothing_in_cycles():
    ends, left = client_loops(answer_every=1)
    assert ends == {"whole": 20}
    assert not left, f"objects left in reference cycles: {dict(left)}"


def test_client_responses_cut_by_a_reset_under_async_for_leave_nothing_in_cycles():
    ends, left = client_loops(answer_every=0)
    assert ends == {"ECONNRESET": 20}
    assert not left, f"objects left in reference cycles: {dict(left)}"
