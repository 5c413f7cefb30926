"""A ``net.Socket`` write whose bytes are in the kernel when the application destroys
the socket in the same turn: its callback runs on a later turn (with no error, before
the ``close``), never inside the ``destroy()`` call, as Node's. (It ran inside it,
before the code after the ``destroy()``.) The same program runs on Node against the same
raw peer."""

import asyncio

from harness import node_events
from prefork.net import Socket
from test_hostile_client import RawServer

NODE_SCRIPT = r"""
const s = net.connect(%d, '127.0.0.1');
s.on('connect', () => {
  s.write('abc', (err) => log('write callback', err === null || err === undefined ? null : err.code));
  s.write('def', () => log('second callback'));
  s.destroy();
  log('destroy returned');
});
s.on('close', (hadError) => { log('close', hadError); done(); });
"""


def prefork_events(port):
    events = []

    async def main():
        loop = asyncio.get_running_loop()
        closed = loop.create_future()
        s = Socket.connect(loop, "127.0.0.1", port)

        def on_connect():
            s.write(b"abc", lambda err: events.append(["write callback", err and err.code]))
            s.write(b"def", lambda: events.append(["second callback"]))
            s.destroy()
            events.append(["destroy returned"])
        s.on("connect", on_connect)
        s.on("close", lambda had_error: (events.append(["close", had_error]), closed.set_result(None)))
        await asyncio.wait_for(closed, 5)
    asyncio.run(main())
    return events


def test_a_write_callback_runs_after_the_destroy_call_returns():
    def handler(conn, index):
        while conn.recv(65536):
            pass
    server = RawServer(handler)
    try:
        expected = node_events(NODE_SCRIPT % server.port)
        assert expected == [["destroy returned"], ["write callback", None], ["second callback"], ["close", False]]
        assert prefork_events(server.port) == expected
    finally:
        server.close()
