"""A client socket's ``address()`` (and ``local_port``) while it connects is ``{}``, as
Node v20's, and once connected the address it connected from: never the unbound
placeholder of a name's first attempt (``0.0.0.0:0``) kept for the socket's life.
The same program runs on Node (``net.connect`` to "localhost" and to an IP literal)."""

import asyncio
import socket

import pytest

from harness import node_events, run_loop
from prefork.net import Socket

NODE_SCRIPT = r"""
const l = net.createServer((s) => { log('accepted', s.remotePort); });
l.listen(0, '127.0.0.1', () => {
  const c = net.connect(l.address().port, %r);
  log('connecting', c.address(), c.localPort === undefined ? null : c.localPort);
  c.on('connect', () => { log('connected', c.address(), c.localPort); c.destroy(); l.close(); done(); });
});
"""


def prefork_events(host, listener):
    loop = asyncio.new_event_loop()
    events = []
    try:
        c = Socket.connect(loop, host, listener.getsockname()[1])
        events.append(["connecting", c.address(), c.local_port])

        def connected():
            events.append(["connected", c.address(), c.local_port])
            c.destroy()
        c.on("connect", connected)
        c.on("close", lambda *a: loop.stop())
        run_loop(loop, 5)
        conn, peer = listener.accept()
        conn.close()
        events.append(["accepted", peer[1]])
    finally:
        loop.close()
    return events


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1"])
def test_a_connecting_sockets_address_is_empty_then_the_one_it_connected_from(host):
    expected = node_events(NODE_SCRIPT % host)
    accepted = [e for e in expected if e[0] == "accepted"]
    assert [e for e in expected if e[0] != "accepted"] == [
        ["connecting", {}, None],
        ["connected", {"address": "127.0.0.1", "family": "IPv4", "port": accepted[0][1]}, accepted[0][1]]]
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        listener.settimeout(5)
        events = prefork_events(host, listener)
    port = events[-1][1]
    assert events == [["connecting", {}, None],
                      ["connected", {"address": "127.0.0.1", "family": "IPv4", "port": port}, port],
                      ["accepted", port]]
