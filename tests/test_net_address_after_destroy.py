"""``address()`` (and ``local_port``, ``local_address``, ``local_family``) of a destroyed
socket is ``{}`` (None each), as Node v20's, whose handle is gone: a client socket's
and a server side's, read before the destroy or not, at the destroy and after the
``close``. prefork kept answering the address it had read (or read it off the closed
descriptor's cache). The same program runs on Node."""

import asyncio
import socket

from harness import node_events, run_loop
from prefork.net import Socket

NODE_SCRIPT = r"""
const l = net.createServer((s) => {
  log('server side', s.address().port > 0);
  s.destroy();
  log('server side destroyed', s.address(), s.localPort === undefined ? null : s.localPort);
  s.on('close', () => { log('server side closed', s.address()); l.close(); done(); });
});
l.listen(0, '127.0.0.1', () => {
  const c = net.connect(l.address().port, '127.0.0.1');
  c.on('connect', () => {
    log('client', c.address().port > 0);
    c.destroy();
    log('client destroyed', c.address(), c.localAddress === undefined ? null : c.localAddress,
        c.localFamily === undefined ? null : c.localFamily);
  });
  c.on('close', () => log('client closed', c.address()));
});
"""


def prefork_events():
    loop = asyncio.new_event_loop()
    events = []
    listener = socket.socket()
    try:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        listener.setblocking(False)

        def accepted():
            loop.remove_reader(listener.fileno())
            conn, _ = listener.accept()
            conn.setblocking(False)
            s = Socket(loop, conn)
            events.append(["server side", s.address()["port"] > 0])
            s.destroy()
            events.append(["server side destroyed", s.address(), s.local_port])
            s.on("close", lambda *a: (events.append(["server side closed", s.address()]), loop.stop()))
        c = Socket.connect(loop, "127.0.0.1", listener.getsockname()[1])

        def connected():
            events.append(["client", c.address()["port"] > 0])
            c.destroy()
            events.append(["client destroyed", c.address(), c.local_address, c.local_family])
            loop.add_reader(listener.fileno(), accepted)
        c.on("connect", connected)
        c.on("close", lambda *a: events.append(["client closed", c.address()]))
        run_loop(loop, 5)
    finally:
        listener.close()
        loop.close()
    return events


def test_a_destroyed_sockets_address_is_empty_as_nodes():
    expected = node_events(NODE_SCRIPT)
    assert sorted(expected) == sorted([
        ["client", True], ["client destroyed", {}, None, None], ["client closed", {}],
        ["server side", True], ["server side destroyed", {}, None], ["server side closed", {}]])
    assert sorted(prefork_events()) == sorted(expected)
