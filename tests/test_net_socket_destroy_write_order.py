"""The callbacks of ``net.Socket`` writes still waiting when the socket is destroyed, in
Node v20's order and with its ``err``: while some of what was written is not in the
kernel, the ``error`` comes first, then the callbacks of the calls made after the
``destroy()`` (a write, an ``end(data)``), then the writes' own: None for the one the
kernel had begun to take (Node's write handed to the system, cancelled by the close),
the destroy's error or ERR_STREAM_DESTROYED for those queued behind it, a write made
while connecting ERR_SOCKET_CLOSED_BEFORE_CONNECTION; then ``end()``'s callbacks, then
the ``close``. prefork called them all with the error before the ``error``, and a
callback of a call made after the ``destroy()`` after the ``close``.

The same program runs on Node against the same listener, which never accepts: what
is written stays in the kernel's buffers until they are full."""

import asyncio
import json
import socket

from harness import node_events
from prefork.net import Socket
from test_net_socket_end_callback_error import by_socket

CASES = {  # tag: (when the calls are made, the calls in order)
    "queued": ("connected", ["big", "x", "destroy"]),
    "queued-error": ("connected", ["big", "x", "destroy-error"]),
    "queued-end-error": ("connected", ["big", "x", "end", "destroy-error"]),
    "connecting": ("connecting", ["x", "y", "end", "destroy"]),
    "connecting-error": ("connecting", ["x", "y", "end", "destroy-error"]),
    "connecting-silent-first": ("connecting", ["x-silent", "y", "destroy"]),
    # (the listeners added after the writes: the first write's 'close' listener comes first)
    "connecting-listened-after": ("connecting-listened-after", ["x", "y", "end", "destroy-error"]),
    "after-destroy": ("connected", ["big", "destroy", "z", "end-data"]),
    "idle-after-destroy": ("connected", ["destroy", "z"]),
    "idle-after-destroy-error": ("connected", ["destroy-error", "z", "end-data"]),
}

NODE_SCRIPT = r"""
const port = %d; const cases = %s; let left = Object.keys(cases).length;
const big = Buffer.alloc(8 << 20);
for (const [tag, [when, calls]] of Object.entries(cases)) {
  const s = net.connect(port, '127.0.0.1');
  const cb = (name) => (err) => log(tag, name, err ? (err.code || err.message) : null);
  const run = () => { for (const call of calls) {
    if (call === 'big') s.write(big, cb('big'));
    else if (call === 'x-silent') s.write('x');
    else if (call === 'end') s.end(cb('end'));
    else if (call === 'end-data') s.end('e', cb('end'));
    else if (call === 'destroy') s.destroy();
    else if (call === 'destroy-error') s.destroy(new Error('boom'));
    else s.write(call, cb(call));
  } };
  const listen = () => {
    s.on('error', (e) => log(tag, 'error', e.message));
    s.on('close', (h) => { log(tag, 'close', h); if (--left === 0) setImmediate(done); });
  };
  if (when === 'connected') { listen(); s.on('connect', run); }
  else if (when === 'connecting') { listen(); run(); } else { run(); listen(); }
}
"""


def prefork_events(port):
    events = []

    async def main():
        loop = asyncio.get_running_loop()
        left = [len(CASES)]
        over = loop.create_future()
        big = bytes(8 << 20)

        def mk(tag, when, calls):
            s = Socket.connect(loop, "127.0.0.1", port)

            def cb(name):
                return lambda err: events.append([tag, name, None if err is None else (getattr(err, "code", None)
                                                                                      or str(err))])

            def run():
                for call in calls:
                    if call == "big":
                        s.write(big, cb("big"))
                    elif call == "x-silent":
                        s.write(b"x")
                    elif call == "end":
                        s.end(cb("end"))
                    elif call == "end-data":
                        s.end(b"e", cb("end"))
                    elif call == "destroy":
                        s.destroy()
                    elif call == "destroy-error":
                        s.destroy(Exception("boom"))
                    else:
                        s.write(call.encode(), cb(call))

            def closed(had_error):
                events.append([tag, "close", had_error])
                left[0] -= 1
                if not left[0]:
                    loop.call_soon(over.set_result, None)

            def listen():
                s.on("error", lambda e: events.append([tag, "error", str(e)]))
                s.on("close", closed)
            if when == "connected":
                listen()
                s.on("connect", run)
            elif when == "connecting":
                listen()
                run()
            else:
                run()
                listen()
        for tag, (when, calls) in CASES.items():
            mk(tag, when, calls)
        await asyncio.wait_for(over, 10)
    asyncio.run(main())
    return events


def test_callbacks_of_writes_cut_by_a_destroy_come_in_nodes_order():
    with socket.socket() as listener:  # (never accepts)
        listener.bind(("127.0.0.1", 0))
        listener.listen(32)
        port = listener.getsockname()[1]
        expected = by_socket(node_events(NODE_SCRIPT % (port, json.dumps(CASES))))
        closed = "ERR_SOCKET_CLOSED_BEFORE_CONNECTION"
        assert expected["queued"] == [["big", None], ["x", "ERR_STREAM_DESTROYED"], ["close", False]]
        assert expected["queued-error"] == [["error", "boom"], ["big", None], ["x", "boom"], ["close", True]]
        assert expected["connecting"] == [["close", False], ["x", closed], ["y", closed], ["end", closed]]
        assert expected["connecting-error"] == [["error", "boom"], ["close", True], ["x", closed], ["y", "boom"],
                                                ["end", "boom"]]
        assert expected["connecting-listened-after"] == [["error", "boom"], ["x", closed], ["y", "boom"],
                                                         ["end", "boom"], ["close", True]]
        assert expected["after-destroy"] == [["z", "ERR_STREAM_DESTROYED"], ["end", "ERR_STREAM_DESTROYED"],
                                             ["big", None], ["close", False]]
        assert expected["idle-after-destroy"] == [["z", "ERR_STREAM_DESTROYED"], ["close", False]]
        assert by_socket(prefork_events(port)) == expected
