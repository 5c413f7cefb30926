"""The header lines of the responses a server gives to ``GET path`` (one connection
each, ``Connection: close``), for Node and for prefork: a Node handler's body or a
prefork ``request`` listener, the paths, and a regular expression choosing the lines (the
same in both languages)."""

import re
import socket

import prefork
from harness import node_events, run_with_client
from prefork.runtime import new_event_loop

NODE = r"""
const s = http.createServer((req, res) => { %s });
s.listen(0, '127.0.0.1', async () => {
  for (const path of %s) {
    await new Promise((resolve) => {
      const c = net.connect(s.address().port, '127.0.0.1', () =>
        c.write(`GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`));
      let got = '';
      c.on('data', (d) => { got += d.toString('latin1'); });
      c.on('close', () => {
        log(path, got.split('\r\n\r\n')[0].split('\r\n').filter((l) => new RegExp(%s, %s).test(l)));
        resolve();
      });
    });
  }
  s.close(); done();
});
"""


def node_head_fields(handler, paths, pattern, ignore_case=False):
    """[[path, [line, ...]], ...] from Node's ``http.Server`` running ``handler`` (JS)."""
    return node_events(NODE % (handler, list(paths), repr(pattern), repr("i" if ignore_case else "")))


def prefork_head_fields(on_request, paths, pattern, ignore_case=False):
    """The same from prefork's server with ``on_request``."""
    loop = new_event_loop()
    server = prefork.create_server(on_request, loop=loop)
    server.listen(0)
    port = server.address()["port"]
    got = []

    def client():
        try:
            for path in paths:
                with socket.create_connection(("127.0.0.1", port), timeout=5) as c:
                    c.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
                    data = b""
                    while b"\r\n\r\n" not in data:
                        chunk = c.recv(4096)
                        if not chunk:
                            break
                        data += chunk
                    head = data.decode("latin-1").split("\r\n\r\n")[0]
                    flags = re.I if ignore_case else 0
                    got.append([path, [line for line in head.split("\r\n") if re.match(pattern, line, flags)]])
        finally:
            loop.call_soon_threadsafe(loop.stop)
    run_with_client(loop, client, server)
    return got
