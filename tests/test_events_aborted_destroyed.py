"""A request whose connection goes before its response is done is ``destroyed`` from its
``aborted`` on, as Node's (``abortIncoming`` calls ``req.destroy()``, which marks it
before it emits ``aborted``): the response's ``close`` listener, where an application
checks whether its client left, finds ``req.destroyed`` true (and ``req.closed`` still
false: it turns true at the request's own ``close``). prefork's stayed false
until the request's own ``close``. Cases: a client reset while the handler waits, a
reset mid-upload, the handler's ``res.destroy()`` after a partial write, and its
``req.destroy()``."""

import socket
import threading

import prefork
from harness import node_events, reset, run_with_client
from prefork.runtime import new_event_loop

CASES = [
    ("/wait", b"GET /wait HTTP/1.1\r\nHost: x\r\n\r\n", True),
    ("/upload", b"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123456789", True),
    ("/res-destroy", b"GET /res-destroy HTTP/1.1\r\nHost: x\r\n\r\n", False),
    ("/req-destroy", b"GET /req-destroy HTTP/1.1\r\nHost: x\r\n\r\n", False),
]

NODE = r"""
let seen = null, closed = null, closes = 0;
const both = () => { if (++closes === 2) closed(); };
const s = http.createServer((req, res) => {
  const u = req.url;
  req.on('aborted', () => log(u, 'aborted', req.destroyed, req.closed));
  res.on('close', () => { log(u, 'res.close', req.destroyed, req.aborted, res.destroyed, res.writableEnded, req.closed); both(); });
  req.on('error', () => {});
  req.on('close', () => { log(u, 'req.close', req.destroyed, req.closed); both(); });
  if (u === '/upload') req.once('data', () => seen());
  else if (u === '/res-destroy') { res.writeHead(200); res.write('part'); res.destroy(); }
  else if (u === '/req-destroy') req.destroy();
  else seen();
});
const CASES = %s;
s.listen(0, '127.0.0.1', async () => {
  for (const [path, raw, resets] of CASES) {
    await new Promise((resolve) => {
      closed = resolve; closes = 0;
      const c = net.connect(s.address().port, '127.0.0.1', () => c.write(raw));
      c.on('error', () => {});
      seen = () => { if (resets) c.resetAndDestroy(); };
    });
  }
  s.close(); done();
});
"""


def test_request_destroyed_from_its_aborted_on_as_node():
    script = NODE % repr([[p, raw.decode(), r] for p, raw, r in CASES]).replace("True", "true").replace("False", "false")
    expected = node_events(script)
    assert ["/wait", "res.close", True, True, True, False, False] in expected
    loop = new_event_loop()
    got = []
    seen = threading.Event()
    closed = threading.Event()
    closes = []

    def both():
        closes.append(1)
        if len(closes) == 2:
            closed.set()

    def on_request(req, res):
        u = req.url
        req.on("aborted", lambda: got.append([u, "aborted", req.destroyed, req.closed]))
        res.on("close", lambda: (got.append([u, "res.close", req.destroyed, req.aborted, res.destroyed,
                                             res.writable_ended, req.closed]), both()))
        req.on("error", lambda err: None)
        req.on("close", lambda: (got.append([u, "req.close", req.destroyed, req.closed]), both()))
        if u == "/upload":
            req.once("data", lambda chunk: seen.set())
        elif u == "/res-destroy":
            res.write_head(200)
            res.write("part")
            res.destroy()
        elif u == "/req-destroy":
            req.destroy()
        else:
            seen.set()
    server = prefork.create_server(on_request, loop=loop)
    server.listen(0)
    port = server.address()["port"]

    def client():
        try:
            for _path, raw, resets in CASES:
                seen.clear()
                closed.clear()
                closes.clear()
                c = socket.create_connection(("127.0.0.1", port), timeout=5)
                c.sendall(raw)
                if resets:
                    assert seen.wait(5)
                    reset(c)
                assert closed.wait(5)
                if not resets:
                    c.close()
        finally:
            loop.call_soon_threadsafe(loop.stop)
    run_with_client(loop, client, server)
    assert got == expected
