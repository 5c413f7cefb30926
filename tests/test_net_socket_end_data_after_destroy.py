"""``socket.end(data, callback)`` on a destroyed ``net.Socket``: the callback gets Node's
error for the write of ``data``, ERR_STREAM_DESTROYED ("Cannot call write after a
stream was destroyed"; empty data too), or ERR_STREAM_WRITE_AFTER_END when ``end()``
came before the destroy, and no ``error`` is emitted, as Node v20's. prefork gave
ERR_STREAM_WRITE_AFTER_END whatever came before, and for empty data
ERR_STREAM_DESTROYED with the message of an ``end()`` without data. The same program
runs on Node against the same listener.

``write(data, callback)`` in the same state gets the same: ERR_STREAM_WRITE_AFTER_END
when ``end()`` came before the destroy (prefork gave ERR_STREAM_DESTROYED)."""

import asyncio
import json
import socket

from harness import node_events
from prefork.net import Socket
from test_net_socket_end_callback_error import by_socket

CASES = {  # tag: (what comes before, what end() is given, when: at once or once closed)
    "data": ("destroy", "abc", "now"), "empty": ("destroy", "", "now"),
    "data-with-error": ("destroy-with", "abc", "now"), "empty-with-error": ("destroy-with", "", "now"),
    "ended-data": ("end-destroy", "abc", "now"), "ended-empty": ("end-destroy", "", "now"),
    "data-closed": ("destroy", "abc", "closed"), "ended-data-closed": ("end-destroy", "abc", "closed"),
    "none-with-error": ("destroy-with", None, "now"),
}
WRITES = {  # tag: the same, for write(data, callback): Node looks for an end() before the destroy
    "write": ("destroy", "abc", "now"), "write-ended": ("end-destroy", "abc", "now"),
    "write-ended-closed": ("end-destroy", "abc", "closed"),
}

NODE_SCRIPT = r"""
const port = %d; const cases = %s; const writes = %s; Object.assign(cases, writes); let left = 2 * Object.keys(cases).length;
const tick = () => { if (--left === 0) done(); };
for (const [tag, [before, data, when]] of Object.entries(cases)) {
  const s = net.connect(port, '127.0.0.1');
  const cb = (err) => { log(tag, 'endcb', err ? err.code : null, err ? err.message : null); tick(); };
  s.on('error', (e) => log(tag, 'error', e.code));
  s.on('close', () => { log(tag, 'close'); tick(); if (when === 'closed') act(); });
  const act = () => tag in writes ? s.write(data, cb) : data === null ? s.end(cb) : s.end(data, cb);
  s.on('connect', () => {
    if (before === 'end-destroy') s.end();
    if (before === 'destroy-with') { const e = new Error('boom'); e.code = 'EBOOM'; s.destroy(e); } else s.destroy();
    if (when === 'now') act();
  });
}
"""


def prefork_events(port):
    events = []

    async def main():
        loop = asyncio.get_running_loop()
        left = [2 * len(CASES) + 2 * len(WRITES)]
        over = loop.create_future()

        def tick():
            left[0] -= 1
            if not left[0]:
                over.set_result(None)

        def mk(tag, before, data, when):
            s = Socket.connect(loop, "127.0.0.1", port)

            def cb(err):
                events.append([tag, "endcb", err.code if err else None, str(err) if err else None])
                tick()

            def act():
                if tag in WRITES:
                    s.write(data, cb)
                else:
                    s.end(cb) if data is None else s.end(data, cb)

            def connected():
                if before == "end-destroy":
                    s.end()
                if before == "destroy-with":
                    err = Exception("boom")
                    err.code = "EBOOM"
                    s.destroy(err)
                else:
                    s.destroy()
                if when == "now":
                    act()
            s.on("error", lambda e: events.append([tag, "error", e.code]))
            s.on("close", lambda _had_error: (events.append([tag, "close"]), tick(), when == "closed" and act()))
            s.on("connect", connected)
        for tag, case in [*CASES.items(), *WRITES.items()]:
            mk(tag, *case)
        await asyncio.wait_for(over, 5)
    asyncio.run(main())
    return events


def test_end_with_data_after_a_destroy_gets_nodes_error():
    with socket.socket() as listener:  # (never accepts: the connects complete all the same)
        listener.bind(("127.0.0.1", 0))
        listener.listen(32)
        port = listener.getsockname()[1]
        expected = by_socket(node_events(NODE_SCRIPT % (port, json.dumps(CASES), json.dumps(WRITES))))
        destroyed = ["endcb", "ERR_STREAM_DESTROYED", "Cannot call write after a stream was destroyed"]
        after_end = ["endcb", "ERR_STREAM_WRITE_AFTER_END", "write after end"]
        assert expected == {
            "data": [destroyed, ["close"]], "empty": [destroyed, ["close"]],
            "data-with-error": [["error", "EBOOM"], destroyed, ["close"]],
            "empty-with-error": [["error", "EBOOM"], destroyed, ["close"]],
            "ended-data": [after_end, ["close"]], "ended-empty": [after_end, ["close"]],
            "data-closed": [["close"], destroyed], "ended-data-closed": [["close"], after_end],
            "none-with-error": [["error", "EBOOM"],
                                ["endcb", "ERR_STREAM_DESTROYED", "Cannot call end after a stream was destroyed"],
                                ["close"]],
            "write": [destroyed, ["close"]], "write-ended": [after_end, ["close"]],
            "write-ended-closed": [["close"], after_end],
        }
        assert by_socket(prefork_events(port)) == expected  # (in order: the callback before the close)
