"""``socket.end(data, callback)``'s callback runs before the socket's ``finish``
listeners (Node's Writable calls the callbacks given to ``end()`` before it emits
``finish``), those of several ``end()`` calls in the order given. Node's ``net.connect``
against the same raw server, with the same listeners."""

import asyncio

import pytest

from harness import node_events
from prefork.net import Socket
from test_hostile_client import RawServer


@pytest.fixture
def server():
    def handler(conn, index):
        while conn.recv(65536):  # reads to the client's FIN, then closes
            pass
    srv = RawServer(handler)
    yield srv
    srv.close()


NODE = r"""
const s = net.connect(%(port)d, '127.0.0.1');
s.on('finish', () => log('finish'));
s.on('close', () => { log('close'); done(); });
s.on('connect', () => {
  s.end('bye', () => log('end callback 1'));
  s.end(() => log('end callback 2'));
});
"""


def prefork_events(port):
    async def main():
        loop = asyncio.get_running_loop()
        events = []
        over = loop.create_future()
        s = Socket.connect(loop, "127.0.0.1", port)
        s.on("finish", lambda: events.append(["finish"]))
        s.on("close", lambda *a: (events.append(["close"]), over.set_result(None)))

        def connected():
            s.end(b"bye", callback=lambda: events.append(["end callback 1"]))
            s.end(lambda: events.append(["end callback 2"]))
        s.on("connect", connected)
        await asyncio.wait_for(over, 4)
        return events
    return asyncio.run(main())


def test_the_end_callbacks_run_in_order_before_the_finish_listeners(server):
    theirs = node_events(NODE % {"port": server.port})
    assert theirs == [["end callback 1"], ["end callback 2"], ["finish"], ["close"]]  # (Node 20's)
    assert prefork_events(server.port) == theirs
