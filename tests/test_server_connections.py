"""``close_idle_connections()`` and ``close_all_connections()`` against Node v20's
``closeIdleConnections``/``closeAllConnections`` on connections in every state: idle
after a response, pipelined with a response pending, half-read (answered before its
body came), fresh, holding a partial head, waiting for its handler, and upgraded (no
longer the server's). Each connection's fate must be Node's.
"""

import json
import socket
import subprocess
import time

import pytest

from harness import NODE

STATES = {
    "idle": b"GET /fast HTTP/1.1\r\nHost: x\r\n\r\n",
    "pipelined": b"GET /fast HTTP/1.1\r\nHost: x\r\n\r\nGET /slow HTTP/1.1\r\nHost: x\r\n\r\n",
    "half-read": b"POST /fast HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabcde",
    "fresh": b"",
    "partial-head": b"GET / HTTP/1.1\r\nHost",
    "waiting": b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n",
    "upgraded": b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: x\r\nConnection: Upgrade\r\n\r\n",
}
# what each must have received before the call (a response, the 101)
READY = {"idle": 1, "pipelined": 1, "half-read": 1, "upgraded": 1}

NODE_SCRIPT = r"""
const http = require('http'), net = require('net');
const states = JSON.parse(process.argv[1]), ready = JSON.parse(process.argv[2]), how = process.argv[3];
const s = http.createServer((req, res) => {
  if (req.url === '/slow') setTimeout(() => res.end('slow'), 1500); else res.end('fast');
});
s.on('upgrade', (req, sock) => sock.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\nConnection: Upgrade\r\n\r\n'));
s.listen(0, '127.0.0.1', () => {
  const closed = {}, socks = [];
  let waiting = Object.keys(ready).length;
  for (const [name, bytes] of Object.entries(states)) {
    const c = net.connect(s.address().port, '127.0.0.1', () => { if (bytes) c.write(bytes); });
    c.on('error', () => {});
    c.once('data', () => { if (name in ready && --waiting === 0) setTimeout(act, 100); });
    c.on('close', () => { closed[name] = true; });
    socks.push(c);
  }
  function act() {
    if (how === 'idle') s.closeIdleConnections(); else s.closeAllConnections();
    setTimeout(() => {
      console.log(JSON.stringify(Object.keys(states).filter((n) => closed[n])));
      process.exit(0);
    }, 300);
  }
});
"""


def node_closed(how):
    if NODE is None:
        pytest.skip("node is not installed")
    states = {name: data.decode() for name, data in STATES.items()}
    out = subprocess.run([NODE, "-e", NODE_SCRIPT, json.dumps(states), json.dumps(READY), how],
                         capture_output=True, text=True, timeout=10, check=True).stdout
    return json.loads(out)


def closed_within(sock, seconds):
    """Whether the server closes ``sock`` within ``seconds`` (bytes on the way are read)."""
    deadline = time.monotonic() + seconds
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        sock.settimeout(remaining)
        try:
            if not sock.recv(65536):
                return True
        except ConnectionResetError:
            return True
        except socket.timeout:
            return False


def prefork_closed(serve, how):
    def setup(server, st_):
        def on_request(req, res):
            if req.url == "/slow":
                st_.record("slow")
                server.loop.call_later(1.5, res.end, "slow")
            else:
                res.end("fast")
        server.on("request", on_request)
        server.on("upgrade", lambda req, sock, head: sock.write(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\nConnection: Upgrade\r\n\r\n"))
    st_ = serve(setup)
    socks = {}
    for name, data in STATES.items():
        socks[name] = sock = socket.create_connection(("127.0.0.1", st_.port), timeout=5)
        if data:
            sock.sendall(data)
    for name in READY:
        socks[name].settimeout(5)
        assert socks[name].recv(65536)
    st_.wait_for(lambda e: len([x for x in st_.events if x == ("slow",)]) == 2)  # pipelined's and waiting's
    st_.call(st_.server.close_idle_connections if how == "idle" else st_.server.close_all_connections)
    deadline = time.monotonic() + 0.3
    closed = [name for name, sock in socks.items() if closed_within(sock, max(0.0, deadline - time.monotonic()))]
    for sock in socks.values():
        sock.close()
    return closed


@pytest.mark.parametrize("how", ["idle", "all"])
def test_which_connections_close(serve, how):
    expected = {"idle": ["idle"],
                "all": ["idle", "pipelined", "half-read", "fresh", "partial-head", "waiting"]}[how]
    assert prefork_closed(serve, how) == expected
    assert node_closed(how) == expected
