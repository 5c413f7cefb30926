"""``server.close()`` against Node v20's ``http.Server``: a second ``close()`` while a
request is in flight (its callback gets ERR_SERVER_NOT_RUNNING; neither callback nor
``close`` comes before the last connection ends), and ``close()`` on the turn of
``listen()`` (no ``listening`` event after it).

Each scenario is written twice, for Node (a script that drives its own server with a
client and prints what happened as JSON) and for prefork (the loop on this thread, the
client a thread with a raw socket); both must print the same.
"""

import socket
import threading
import time

import prefork
from harness import node_events, run_loop, run_with_client
from prefork.runtime import new_event_loop


NODE_CLOSE_TWICE = r"""
const s = http.createServer((req, res) => {
  log('request');
  req.socket.on('close', () => log('socket close'));
  s.close((e) => log('cb1', e ? e.code : 'none'));
  s.close((e) => log('cb2', e ? e.code : 'none'));
  s.on('close', () => { log('close'); setTimeout(done, 50); });
  setTimeout(() => res.end('x'), 50);
});
s.listen(0, '127.0.0.1', () => {
  const c = net.connect(s.address().port, '127.0.0.1', () => c.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
  c.on('data', () => { log('response'); setTimeout(() => c.destroy(), 100); });
});
"""


def test_close_twice_with_a_request_in_flight():
    loop = new_event_loop()
    events = []
    log = events.append

    def on_request(req, res):
        log("request")
        req.socket.on("close", lambda *_: log("socket close"))
        server.close(lambda e: log("cb1 " + (e.code if e else "none")))
        server.close(lambda e: log("cb2 " + (e.code if e else "none")))
        server.on("close", lambda: (log("close"), loop.call_later(0.05, loop.stop)))
        loop.call_later(0.05, res.end, "x")
    server = prefork.create_server(on_request, loop=loop)
    server.listen(0)
    port = server.address()["port"]

    def client():
        with socket.create_connection(("127.0.0.1", port), timeout=5) as c:
            c.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            c.recv(1000)
            loop.call_soon_threadsafe(log, "response")
            threading.Event().wait(0.1)  # the client keeps the connection a while (pacing)
    run_with_client(loop, client, server)
    # (the server's 'close' comes before the last socket's own, in Node too)
    expected = ["request", "response", "cb1 none", "cb2 ERR_SERVER_NOT_RUNNING", "close", "socket close"]
    assert events == expected
    assert node_events(NODE_CLOSE_TWICE, joined=True) == expected


NODE_CLOSE_AT_ONCE = r"""
const s = http.createServer();
s.on('listening', () => log('listening'));
s.listen(0, () => log('listen callback'));
s.close((e) => { log('close callback', e ? e.code : 'none'); setTimeout(done, 50); });
"""


def test_no_listening_event_after_close_on_the_same_turn():
    loop = new_event_loop()
    events = []
    server = prefork.create_server(loop=loop)
    server.on("listening", lambda: events.append("listening"))
    server.listen(0, callback=lambda: events.append("listen callback"))
    server.close(lambda e: (events.append("close callback " + (e.code if e else "none")),
                            loop.call_later(0.05, loop.stop)))
    try:
        run_loop(loop)
    finally:
        loop.close()
    assert events == ["close callback none"]
    assert node_events(NODE_CLOSE_AT_ONCE, joined=True) == events


NODE_CLOSE_TIMING = r"""
const t0 = Date.now(); const at = () => (Date.now() - t0) / 1000; const note = (...e) => events.push(e);
const s = http.createServer({keepAliveTimeout: 200}, (req, res) => {
  if (req.url === '/slow') setTimeout(() => res.end('slow'), 200); else res.end('fast');
});
s.listen(0, '127.0.0.1', () => {
  const port = s.address().port;
  const idle = net.connect(port, '127.0.0.1', () => idle.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
  idle.once('data', () => {
    idle.on('close', () => note('idle closed', at()));
    const busy = net.connect(port, '127.0.0.1', () => busy.write('GET /slow HTTP/1.1\r\nHost: x\r\n\r\n'));
    busy.on('data', (d) => note('busy answered', d.toString().includes('Connection: keep-alive'), at()));
    busy.on('close', () => note('busy closed', at()));
    busy.on('connect', () => setTimeout(() => {
      note('close called', at());
      s.close(() => { note('close', at()); setTimeout(done, 20); });
    }, 20));
  });
});
"""


def test_close_event_timing_with_idle_and_busy_connections():
    """Idle: closed at once; busy: answered (kept alive), then closed by its keep-alive
    timer (keep_alive_timeout + 1 s after the answer); ``close`` right after that."""
    loop = new_event_loop()
    events = []
    t0 = time.monotonic()
    at = lambda: time.monotonic() - t0  # noqa: E731
    note = lambda *e: loop.call_soon_threadsafe(events.append, [*e])  # noqa: E731
    server = prefork.create_server(lambda req, res: loop.call_later(0.2, res.end, "slow") if req.url == "/slow"
                                   else res.end("fast"), loop=loop, keep_alive_timeout=0.2)
    server.listen(0)
    port = server.address()["port"]

    def watch(sock, name, answered=None):
        while True:
            try:
                data = sock.recv(65536)
            except ConnectionResetError:
                data = b""
            if not data:
                note(f"{name} closed", at())
                return
            if answered:
                note(answered, b"Connection: keep-alive" in data, at())

    def client():
        idle = socket.create_connection(("127.0.0.1", port), timeout=5)
        idle.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        idle.recv(65536)
        threading.Thread(target=watch, args=(idle, "idle"), daemon=True).start()
        busy = socket.create_connection(("127.0.0.1", port), timeout=5)
        busy.sendall(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
        threading.Event().wait(0.02)  # the script's own pacing (Node's does the same)
        loop.call_soon_threadsafe(lambda: (events.append(["close called", at()]), server.close(
            lambda e: (events.append(["close", at()]), loop.call_later(0.02, loop.stop)))))
        watch(busy, "busy", "busy answered")
    run_with_client(loop, client, server)
    expected = [["close called", 0.02], ["idle closed", 0.02], ["busy answered", True, 0.2],
                ["busy closed", 1.4], ["close", 1.4]]
    assert matches(events, expected), events
    node = node_events(NODE_CLOSE_TIMING, joined=True)
    assert matches(node, expected), node


def matches(events, expected, slack=0.15):
    """``events`` are ``expected`` (in any order: the client's view of a close and the
    server's ``close`` race), each time within ``slack`` seconds, times counted from the
    ``close called`` of each (a loaded machine may start the script late, not run it slower)."""
    def from_close(items):
        start = next((e[-1] for e in items if e[0] == "close called"), 0.0)
        return sorted(([*e[:-1], e[-1] - start] for e in items), key=str)
    events, expected = from_close(events), from_close(expected)
    return len(events) == len(expected) and all(
        e[:-1] == w[:-1] and abs(e[-1] - w[-1]) <= slack for e, w in zip(events, expected))
