"""TCP options a client socket is given while it connects (``set_keep_alive``,
``set_no_delay``) hold on the connection it makes, as Node 20's ``afterConnect`` sets
them again: a name whose first address refuses is connected on a new system socket for
its next address, which had lost them (keep-alive off), and each attempt turned
TCP_NODELAY back on after a ``set_no_delay(False)``.

Node's ``net.connect`` with the same ``lookup`` (127.0.0.2 refuses, then 127.0.0.1), its
connection's keep-alive timer read with ``ss``."""

import asyncio
import os
import re
import socket
import subprocess

from harness import need_node
from prefork.net import Socket

NODE = r"""
const net = require('net');
const srv = net.createServer(() => {}).listen(0, '127.0.0.1', () => {
  const port = srv.address().port;
  const s = net.connect({host: 'x.invalid', port, autoSelectFamily: true,
    lookup: (h, o, cb) => cb(null, [{address: '127.0.0.2', family: 4}, {address: '127.0.0.1', family: 4}])});
  s.setKeepAlive(true, 77000);
  s.on('connect', () => {
    const out = require('child_process').execFileSync('ss', ['-tnoH', 'src', `127.0.0.1:${s.localPort}`]).toString();
    console.log(JSON.stringify({address: s.remoteAddress, timer: out}));
    process.exit(0);
  });
  s.on('error', (e) => { console.log(JSON.stringify({error: e.code})); process.exit(0); });
});
"""


def two_addresses(host, options, callback):
    callback(None, [{"address": "127.0.0.2", "family": 4}, {"address": "127.0.0.1", "family": 4}])


def prefork_options(host, lookup=None):
    async def main():
        loop = asyncio.get_running_loop()
        with socket.socket() as srv:
            srv.bind(("127.0.0.1", 0))
            srv.listen()
            s = Socket.connect(loop, host, srv.getsockname()[1], lookup=lookup)
            assert s.connecting
            s.set_keep_alive(True, 77)
            s.set_no_delay(False)
            connected = loop.create_future()
            s.on("connect", lambda: connected.set_result(None))
            s.on("error", connected.set_exception)
            await asyncio.wait_for(connected, 5)
            with socket.socket(fileno=os.dup(s.fileno())) as c:  # (a copy of its descriptor)
                got = (s.remote_address, c.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE),
                       c.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE),
                       c.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
            s.destroy()
            return got
    return asyncio.run(main())


def test_options_set_while_connecting_hold_on_the_next_address_as_in_node():
    out = subprocess.run([need_node(), "-e", NODE], capture_output=True, text=True, timeout=20, check=True).stdout
    assert '"address":"127.0.0.1"' in out and re.search(r"keepalive,1min1[0-7]", out), out  # 77 s
    assert prefork_options("x.invalid", two_addresses) == ("127.0.0.1", 1, 77, 0)

