"""``socket.end([data], callback)`` on a ``net.Socket``: a callback that names a
parameter gets Node's ``err``, as a ``write()`` callback does: None at ``finish``, the
error a destroy before it gave (ERR_STREAM_DESTROYED for a plain ``destroy()``),
ERR_STREAM_ALREADY_FINISHED for an ``end()`` after the ``finish``,
ERR_STREAM_WRITE_AFTER_END for data ended after it. (A callback of one parameter was
called with none and raised TypeError.) The same program runs on Node against the same
raw peer."""

import asyncio

from harness import node_events
from prefork.net import Socket
from test_hostile_client import RawServer

NODE_SCRIPT = r"""
const port = %d; let left = 10;  // a close and an end callback each
const tick = () => { if (--left === 0) done(); };
function mk(tag, f) {
  const s = net.connect(port, '127.0.0.1');
  s.on('error', (e) => log(tag, 'error', e.code));
  s.on('close', () => { log(tag, 'close'); tick(); });
  s.on('connect', () => f(s, (err) => { log(tag, 'endcb', err ? err.code : null); tick(); }));
}
mk('finished', (s, cb) => s.end('x', cb));
mk('destroyed', (s, cb) => { s.end('x', cb); s.destroy(); });
mk('destroyed-with', (s, cb) => { s.end(cb); const e = new Error('boom'); e.code = 'EBOOM'; s.destroy(e); });
mk('after-finish', (s, cb) => { s.end(); s.on('close', () => s.end(cb)); });
mk('data-after-finish', (s, cb) => { s.end(); s.on('close', () => s.end('zz', cb)); });
"""


def prefork_events(port):
    events = []

    async def main():
        loop = asyncio.get_running_loop()
        left = [10]  # a close and an end callback each
        over = loop.create_future()

        def tick():
            left[0] -= 1
            if not left[0]:
                over.set_result(None)

        def mk(tag, f):
            s = Socket.connect(loop, "127.0.0.1", port)
            s.on("error", lambda e: events.append([tag, "error", e.code]))
            s.on("close", lambda _had_error: (events.append([tag, "close"]), tick()))
            s.on("connect", lambda: f(s, lambda err: (events.append([tag, "endcb", err.code if err else None]), tick())))

        def destroyed_with(s, cb):
            s.end(cb)
            err = Exception("boom")
            err.code = "EBOOM"
            s.destroy(err)

        mk("finished", lambda s, cb: s.end(b"x", cb))
        mk("destroyed", lambda s, cb: (s.end(b"x", cb), s.destroy()))
        mk("destroyed-with", destroyed_with)
        # (a second end() once the socket closed: after its finish, whenever the peer's close came)
        mk("after-finish", lambda s, cb: (s.end(), s.on("close", lambda _had_error: s.end(cb))))
        mk("data-after-finish", lambda s, cb: (s.end(), s.on("close", lambda _had_error: s.end(b"zz", cb))))
        await asyncio.wait_for(over, 5)
    asyncio.run(main())
    return events


def by_socket(events):
    """Each socket's events in their order (the sockets' interleaving is the scheduler's)."""
    return {tag: [e[1:] for e in events if e[0] == tag] for tag in dict.fromkeys(e[0] for e in events)}


def test_an_end_callback_gets_nodes_error_argument():
    def handler(conn, index):
        while conn.recv(65536):
            pass
    server = RawServer(handler)
    try:
        expected = by_socket(node_events(NODE_SCRIPT % server.port))
        assert expected == {
            "finished": [["endcb", None], ["close"]],
            "destroyed": [["endcb", "ERR_STREAM_DESTROYED"], ["close"]],
            "destroyed-with": [["endcb", "EBOOM"], ["error", "EBOOM"], ["close"]],
            "after-finish": [["close"], ["endcb", "ERR_STREAM_ALREADY_FINISHED"]],
            "data-after-finish": [["close"], ["endcb", "ERR_STREAM_WRITE_AFTER_END"]],
        }
        assert by_socket(prefork_events(server.port)) == expected
    finally:
        server.close()
