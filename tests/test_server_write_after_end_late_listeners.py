"""A write (or ``end(data)``) after ``res.end()``, with the response's listeners added
after that write: Node 20 emits ``finish`` (to every listener, those added after the
write too), then calls the write's callback and emits ``error``
(ERR_STREAM_WRITE_AFTER_END), then ``close``. The error came before the ``finish``
listeners added after the write, as if the write's report were one of them."""

import socket

import prefork
from harness import need_node, node_events, run_with_client
from prefork.runtime import new_event_loop

PATHS = ["/end", "/write"]

NODE = r"""
const s = http.createServer((req, res) => {
  res.end('a');
  if (req.url === '/end') res.end('b', () => log(req.url, 'callback'));
  else res.write('b', () => log(req.url, 'callback'));
  res.on('error', (e) => log(req.url, 'error', e.code));
  res.on('finish', () => log(req.url, 'finish'));
  res.on('close', () => log(req.url, 'close'));
});
s.listen(0, '127.0.0.1', async () => {
  for (const path of %s) {
    await new Promise((resolve) => {
      const c = net.connect(s.address().port, '127.0.0.1', () =>
        c.write(`GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`));
      c.on('data', () => {});
      c.on('close', () => setTimeout(resolve, 20));
    });
  }
  s.close(); done();
});
"""


def test_write_after_end_reports_after_every_finish_listener_as_node():
    need_node()
    expected = node_events(NODE % repr(PATHS), joined=True)
    assert expected == [f"{path} {event}" for path in PATHS
                        for event in ("finish", "callback", "error ERR_STREAM_WRITE_AFTER_END", "close")]
    loop = new_event_loop()
    events = []

    def on_request(req, res):
        log = events.append
        res.end("a")
        if req.url == "/end":
            res.end("b", callback=lambda: log(f"{req.url} callback"))
        else:
            res.write("b", callback=lambda: log(f"{req.url} callback"))
        res.on("error", lambda err: log(f"{req.url} error {err.code}"))
        res.on("finish", lambda: log(f"{req.url} finish"))
        res.on("close", lambda: log(f"{req.url} close"))
    server = prefork.create_server(on_request, loop=loop)
    server.listen(0)
    port = server.address()["port"]

    def client():
        try:
            for path in PATHS:
                with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
                    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
                    while sock.recv(65536):
                        pass
        finally:
            loop.call_soon_threadsafe(stop_when_told)

    def stop_when_told():  # (run_with_client's deadline bounds the wait)
        if len(events) < len(expected):
            loop.call_later(0.01, stop_when_told)
        else:
            loop.stop()
    run_with_client(loop, client, server)
    assert events == expected
