"""Knobs changed on a running server, against Node v20's ``http.Server``: a lower
``headers_timeout`` reaches a connection already holding a partial head at the next
sweep; ``set_timeout(ms, cb)`` after ``listen()`` reaches new connections at once and
an existing keep-alive connection at its next request, and a lower
``keep_alive_timeout`` its next idle period (the server's ``timeout`` listener gets the
socket and destroys it). What each client saw, and roughly when, must be Node's.
"""

import json
import socket
import subprocess
import threading
import time

import pytest

import prefork
from harness import NODE
from prefork.runtime import new_event_loop

NODE_SCRIPT = r"""
const http = require('http'), net = require('net');
const events = [], marks = {};
const at = () => performance.now() / 1000;
const s = http.createServer({connectionsCheckingInterval: 50}, (req, res) => { if (req.url !== '/never') res.end('x'); });
s.on('connection', (sock) => { sock.name = 'c' + (s.count = (s.count || 0) + 1); });
s.listen(0, '127.0.0.1', () => {
  const port = s.address().port;
  const c1 = net.connect(port, '127.0.0.1', () => c1.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
  c1.once('data', () => {
    marks.partial = at();
    const partial = net.connect(port, '127.0.0.1', () => partial.write('GET / HTTP/1.1\r\nHo'));
    partial.on('data', (d) => events.push(['partial', d.toString().split('\r\n')[0]]));
    partial.on('close', () => events.push(['partial closed', at()]));
    setTimeout(() => {
      s.headersTimeout = 300;
      s.setTimeout(400, (sock) => { events.push(['timeout', sock.name, at()]); sock.destroy(); });
      s.keepAliveTimeout = 200;
      marks.fresh = at();
      const fresh = net.connect(port, '127.0.0.1', () => fresh.write('GET /never HTTP/1.1\r\nHost: x\r\n\r\n'));
      fresh.on('data', (d) => events.push(['fresh', d.toString()]));
      fresh.on('close', () => events.push(['fresh closed', at()]));
      setTimeout(() => { marks.c1 = at(); c1.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n'); }, 300);
      c1.on('data', () => events.push(['c1 answered', at()]));
      c1.on('close', () => { events.push(['c1 closed', at()]); console.log(JSON.stringify({events, marks})); s.close(); process.exit(0); });
    }, 100);
  });
});
"""


# what each timed event is measured from: the client's step that started its clock (its
# connection, its request), or, for the keep-alive timeout, the answer that began the idle
# period; so a machine slow to start the script, or to pace it, shifts no time
CAUSES = {"partial closed": "partial", "timeout c3": "fresh", "fresh closed": "fresh", "c1 answered": "c1",
          "timeout c1": "c1 answered", "c1 closed": "c1 answered"}


def since_causes(events, marks):
    """``events`` (their last item a clock reading, if timed) with each time made the
    seconds since the event's cause (``marks``: the client's steps, by name)."""
    def key(e):
        return " ".join(str(x) for x in e[:-1])
    timed = [e for e in events if isinstance(e[-1], (int, float))]
    at = dict(marks, **{key(e): e[-1] for e in timed})
    return [e[:-1] + [e[-1] - at[CAUSES[key(e)]]] if e in timed else e for e in events]


def matches(events, expected, slack=0.15):
    """``events`` are ``expected`` in some order, each time within ``slack`` seconds."""
    def split(e):
        return (e[:-1], e[-1]) if isinstance(e[-1], (int, float)) else (e, None)
    got = sorted((split(e) for e in events), key=lambda x: str(x[0]))
    want = sorted((split(e) for e in expected), key=lambda x: str(x[0]))
    return [g[0] for g in got] == [w[0] for w in want] and all(
        (g[1] is None) == (w[1] is None) and (w[1] is None or abs(g[1] - w[1]) <= slack)
        for g, w in zip(got, want))


def test_knobs_changed_after_listen():
    loop = new_event_loop()
    events = []
    marks = {}
    at = time.monotonic
    names = []
    server = prefork.create_server(lambda req, res: req.url == "/never" or res.end("x"), loop=loop,
                                   connections_checking_interval=0.05)
    server.on("connection", lambda sock: (names.append(1), setattr(sock, "name", f"c{len(names)}")))
    server.listen(0)
    port = server.address()["port"]
    note = lambda *e: loop.call_soon_threadsafe(events.append, list(e))  # noqa: E731

    def on_timeout(sock):
        events.append(["timeout", sock.name, at()])
        sock.destroy()

    def knobs():
        server.headers_timeout = 0.3
        server.set_timeout(0.4, on_timeout)
        server.keep_alive_timeout = 0.2

    def watch(sock, name, answered=None):
        while True:
            try:
                data = sock.recv(65536)
            except (ConnectionResetError, socket.timeout):
                data = b""
            if not data:
                note(f"{name} closed", at())
                return
            note(answered or name, *(() if answered else (data.decode("latin-1").split("\r\n")[0],)),
                 *((at(),) if answered else ()))

    def client():
        c1 = socket.create_connection(("127.0.0.1", port), timeout=5)
        c1.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        c1.recv(65536)
        marks["partial"] = at()
        partial = socket.create_connection(("127.0.0.1", port), timeout=5)
        partial.sendall(b"GET / HTTP/1.1\r\nHo")
        threading.Thread(target=watch, args=(partial, "partial"), daemon=True).start()
        threading.Event().wait(0.1)  # the script's own pacing (Node's does the same)
        done = threading.Event()
        loop.call_soon_threadsafe(lambda: (knobs(), done.set()))
        done.wait(5)
        marks["fresh"] = at()
        fresh = socket.create_connection(("127.0.0.1", port), timeout=5)
        fresh.sendall(b"GET /never HTTP/1.1\r\nHost: x\r\n\r\n")
        threading.Thread(target=watch, args=(fresh, "fresh"), daemon=True).start()
        threading.Event().wait(0.3)
        marks["c1"] = at()
        c1.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        watch(c1, "c1", "c1 answered")
        loop.call_soon_threadsafe(loop.stop)
    thread = threading.Thread(target=client)
    thread.start()
    timer = loop.call_later(5, loop.stop)
    try:
        loop.run_forever()
    finally:
        timer.cancel()
        thread.join(5)
        server.close_all_connections()
        server.close()
        loop.close()
    # partial: 408 at the first sweep past 0.3 s after it came; fresh (a request nobody
    # answers, the head complete): timed out 0.4 s after it came, without a byte; c1:
    # answered at once, then timed out keep_alive_timeout + 1 s after its answer
    expected = [["partial", "HTTP/1.1 408 Request Timeout"], ["partial closed", 0.35],
                ["timeout", "c3", 0.4], ["fresh closed", 0.4], ["c1 answered", 0.0],
                ["timeout", "c1", 1.2], ["c1 closed", 1.2]]
    events = since_causes(events, marks)
    assert matches(events, expected), events
    if NODE is None:
        pytest.skip("node is not installed")
    out = subprocess.run([NODE, "-e", NODE_SCRIPT], capture_output=True, text=True, timeout=10, check=True).stdout
    node = json.loads(out)
    node = since_causes(node["events"], node["marks"])
    assert matches(node, expected), node


NODE_NO_KEEP_ALIVE_TIMER = r"""
const http = require('http'), net = require('net');
const s = http.createServer((req, res) => res.end('x'));
s.listen(0, '127.0.0.1', () => {
  s.keepAliveTimeout = null;  // no keep-alive timer (and no Keep-Alive field)
  const c = net.connect(s.address().port, '127.0.0.1', () => c.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
  const heads = [];
  c.on('data', (d) => {
    heads.push(d.toString().replace(/Date: [^\r]*/, 'Date: -'));
    if (heads.length === 1) c.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    else { console.log(JSON.stringify(heads)); c.destroy(); s.close(); }
  });
});
"""


@pytest.mark.skipif(NODE is None, reason="node is not installed")
def test_keep_alive_timeout_none_keeps_the_connection_without_a_timer_as_in_node():
    """``keep_alive_timeout = None`` on a running server: no Keep-Alive field and no idle
    timer, and the connection serves its next request (a TypeError at the end of the
    first response closed it)."""
    loop = new_event_loop()
    server = prefork.create_server(lambda req, res: res.end(b"x"), loop=loop)
    server.listen(0)
    server.keep_alive_timeout = None
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    heads = []
    try:
        with socket.create_connection(("127.0.0.1", server.address()["port"]), timeout=5) as sock:
            for _ in range(2):
                sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
                data = b""
                while not data.endswith(b"\r\n\r\nx"):
                    chunk = sock.recv(65536)
                    assert chunk, f"closed after {heads!r}"
                    data += chunk
                text = data.decode()
                heads.append(text[:text.index("Date: ") + 6] + "-" + text[text.index("\r", text.index("Date: ")):])
    finally:
        loop.call_soon_threadsafe(server.close)
        loop.call_soon_threadsafe(server.close_all_connections)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
    out = subprocess.run([NODE, "-e", NODE_NO_KEEP_ALIVE_TIMER], capture_output=True, text=True, timeout=30)
    assert heads == json.loads(out.stdout)
    assert "Keep-Alive" not in heads[0]
