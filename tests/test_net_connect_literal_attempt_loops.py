"""A connect to an address literal tells ``connectionAttempt`` before its outcome, on
asyncio and on uvloop alike, as Node 20 does (``connectionAttempt``, then ``connect``;
or ``connectionAttempt``, ``connectionAttemptFailed``, ``error``, ``close`` when it is
refused). On uvloop, whose writer may run before the turn after the call, a loopback
connect was told no ``connectionAttempt`` at all: it came after ``connect``, found the
socket no longer connecting, and said nothing.

Node's net.connect to the same listening and closed ports."""

import json
import socket
import subprocess

import pytest

from harness import need_node
from prefork.net import Socket
from prefork.runtime import new_event_loop

NODE = r"""
const net = require('net');
const [open, closed] = process.argv.slice(1).map(Number);
const out = [];
function connect(port, next) {
  const events = [];
  const s = net.connect(port, '127.0.0.1');
  for (const name of ['connectionAttempt', 'connectionAttemptFailed', 'connect', 'error', 'close'])
    s.on(name, () => { events.push(name); if (name === 'connect') s.destroy(); if (name === 'close') { out.push(events); next(); } });
}
connect(open, () => connect(closed, () => console.log(JSON.stringify(out))));
"""


def node_events(open_port, closed_port):
    run = subprocess.run([need_node(), "-e", NODE, open_port, closed_port], capture_output=True, text=True,
                         timeout=20, check=True)
    return json.loads(run.stdout)


def prefork_events(loop_name, open_port, closed_port, times=5):
    loop = new_event_loop(loop_name)

    async def connect(port):
        events = []
        over = loop.create_future()
        s = Socket.connect(loop, "127.0.0.1", port)

        def listener(name):
            def heard(*args):
                events.append(name)
                if name == "connect":
                    s.destroy()
                if name == "close" and not over.done():
                    over.set_result(None)
            return heard
        for name in ("connectionAttempt", "connectionAttemptFailed", "connect", "error", "close"):
            s.on(name, listener(name))
        await over
        return events

    async def main():
        return [[await connect(open_port), await connect(closed_port)] for _ in range(times)]
    try:
        return loop.run_until_complete(main())
    finally:
        loop.close()


@pytest.mark.parametrize("loop_name", ["asyncio", "uvloop"])
def test_a_literal_connect_tells_its_attempt_before_its_outcome_as_node(loop_name):
    with socket.socket() as listening, socket.socket() as probe:
        listening.bind(("127.0.0.1", 0))
        listening.listen(16)
        probe.bind(("127.0.0.1", 0))  # (bound, never listening: refused)
        ports = str(listening.getsockname()[1]), str(probe.getsockname()[1])
        node = node_events(*ports)
        assert node == [["connectionAttempt", "connect", "close"],
                        ["connectionAttempt", "connectionAttemptFailed", "error", "close"]]
        assert prefork_events(loop_name, *(int(p) for p in ports)) == [node] * 5
