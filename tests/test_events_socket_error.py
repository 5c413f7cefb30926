"""The request's socket emits ``error`` to the application's listeners as Node's does:
on a client's reset (ECONNRESET) and with the error given to ``req.destroy(err)``.

Node v20 (the scripts below): a listener on ``req.socket``'s ``error`` gets
``ECONNRESET`` when the client resets mid-body (the server's own ``clientError`` is
told too), and gets ``err`` itself from ``req.destroy(err)``; the socket's ``close``
follows. (After ``req.destroy(err)`` Node's socket tells its ``error`` before the
request does; prefork's request tells it first: docs/node-compat.md.)
"""

import socket
import struct
import time

import prefork
from harness import node_events, run_with_client
from prefork.runtime import new_event_loop

NODE_RESET = r"""
const s = http.createServer((req, res) => {
  req.socket.on('error', (e) => log('socket.error', e.code));
  req.socket.on('close', () => { log('socket.close'); s.close(); done(); });
  req.on('data', () => log('data'));
});
s.listen(0, '127.0.0.1', () => {
  const c = net.connect(s.address().port, '127.0.0.1', () =>
    c.write('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nab'));
  c.on('error', () => {});
  setTimeout(() => c.resetAndDestroy(), 200);
});
"""

NODE_DESTROY = r"""
const s = http.createServer((req, res) => {
  req.socket.on('error', (e) => log('socket.error', e.code));
  req.socket.on('close', () => { log('socket.close'); s.close(); done(); });
  req.on('error', (e) => log('req.error', e.code));
  const err = new Error('mine'); err.code = 'MINE';
  req.destroy(err);
});
s.listen(0, '127.0.0.1', () => {
  const c = net.connect(s.address().port, '127.0.0.1', () =>
    c.write('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nab'));
  c.on('error', () => {});
});
"""


def _prefork_events(on_request, reset):
    loop = new_event_loop()
    events = []

    def request(req, res):
        def closed(*_):
            events.append(["socket.close"])
            loop.call_soon(loop.stop)
        req.socket.on("error", lambda e: events.append(["socket.error", getattr(e, "code", None)]))
        req.socket.on("close", closed)
        on_request(req, res, events)
    server = prefork.create_server(request, loop=loop)
    server.listen(0)
    port = server.address()["port"]

    def client():
        with socket.create_connection(("127.0.0.1", port), timeout=5) as c:
            c.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nab")
            deadline = time.monotonic() + 5
            while reset and ["data"] not in list(events) and time.monotonic() < deadline:
                time.sleep(0.005)  # (until the server has read the body's first bytes)
            if reset:
                c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            else:
                try:
                    c.recv(100)
                except OSError:
                    pass
    run_with_client(loop, client, server)
    return events


def test_client_reset_reaches_socket_error_listener():
    expected = node_events(NODE_RESET)
    assert expected == [["data"], ["socket.error", "ECONNRESET"], ["socket.close"]]

    def on_request(req, res, events):
        req.on("data", lambda d: events.append(["data"]))
    assert _prefork_events(on_request, reset=True) == expected


def test_req_destroy_error_reaches_socket_error_listener():
    expected = node_events(NODE_DESTROY)
    assert expected == [["socket.error", "MINE"], ["req.error", "MINE"], ["socket.close"]]

    def on_request(req, res, events):
        req.on("error", lambda e: events.append(["req.error", getattr(e, "code", None)]))
        err = RuntimeError("mine")
        err.code = "MINE"
        req.destroy(err)
    events = _prefork_events(on_request, reset=False)
    # the same events, the socket's close last (see the module's note on the first two)
    assert sorted(events[:2]) == sorted(expected[:2]) and events[2:] == expected[2:]
