"""``res.write_head(status, flat_list)`` after ``res.set_header``: Node v20 takes the
array through its "progressive API" path, where each pair is a ``setHeader`` (a later
pair of the same name replaces the earlier one, and replaces a field set before), so
``set_header('X-A', '0')`` + ``write_head(200, ['X-A', '1', 'X-A', '2', 'X-B', '3'])``
sends ``X-A: 2`` and ``X-B: 3``. The one-line-per-pair rule holds only for an array
given to ``write_head`` alone (Node's too); applied after ``set_header`` it would send
a repeated field (``X-A: 1``, ``X-A: 2``) the Node application never sent.
"""

import re
import socket

import prefork
from harness import node_events, run_with_client
from prefork.runtime import new_event_loop

REQUEST = b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"

NODE = r"""
const s = http.createServer((req, res) => {
  if (req.url === '/progressive') res.setHeader('X-A', '0');
  res.writeHead(200, ['X-A', '1', 'X-A', '2', 'X-B', '3']);
  res.end('a');
});
s.listen(0, '127.0.0.1', async () => {
  for (const path of ['/progressive', '/alone']) {
    await new Promise((resolve) => {
      const c = net.connect(s.address().port, '127.0.0.1', () =>
        c.write(`GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`));
      let got = '';
      c.on('data', (d) => { got += d.toString('latin1'); });
      c.on('close', () => {
        log(path, got.split('\r\n\r\n')[0].split('\r\n').filter((l) => /^X-/.test(l)));
        resolve();
      });
    });
  }
  s.close(); done();
});
"""


def _fields(head):
    return [line for line in head.split("\r\n") if re.match(r"X-", line)]


def test_write_head_flat_list_after_set_header_matches_node():
    expected = node_events(NODE)
    assert expected == [["/progressive", ["X-A: 2", "X-B: 3"]],
                        ["/alone", ["X-A: 1", "X-A: 2", "X-B: 3"]]]
    loop = new_event_loop()

    def on_request(req, res):
        if req.url == "/progressive":
            res.set_header("X-A", "0")
        res.write_head(200, ["X-A", "1", "X-A", "2", "X-B", "3"])
        res.end("a")
    server = prefork.create_server(on_request, loop=loop)
    server.listen(0)
    port = server.address()["port"]
    got = []

    def client():
        try:
            for path in ("/progressive", "/alone"):
                with socket.create_connection(("127.0.0.1", port), timeout=5) as c:
                    c.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
                    data = b""
                    while b"\r\n\r\n" not in data:
                        chunk = c.recv(4096)
                        if not chunk:
                            break
                        data += chunk
                    got.append([path, _fields(data.decode("latin-1").split("\r\n\r\n")[0])])
        finally:
            loop.call_soon_threadsafe(loop.stop)
    run_with_client(loop, client, server)
    assert got == expected
