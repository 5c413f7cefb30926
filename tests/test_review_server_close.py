"""``server.close()`` against Node v20's ``http.Server``: a second ``close()`` while a
request is in flight (its callback gets ERR_SERVER_NOT_RUNNING; neither callback nor
``close`` comes before the last connection ends), and ``close()`` on the turn of
``listen()`` (no ``listening`` event after it).

Each scenario is written twice, for Node (a script that drives its own server with a
client and prints what happened as JSON) and for prefork (the loop on this thread, the
client a thread with a raw socket); both must print the same.
"""

import json
import socket
import subprocess
import threading

import pytest

import prefork
from harness import NODE
from prefork.runtime import new_event_loop


def node_events(script):
    if NODE is None:
        pytest.skip("node is not installed")
    script = ("const http = require('http'); const net = require('net'); const events = [];\n"
              "const log = (...a) => events.push(a.join(' '));\n"
              "const done = () => { console.log(JSON.stringify(events)); process.exit(0); };\n" + script)
    out = subprocess.run([NODE, "-e", script], capture_output=True, text=True, timeout=10, check=True).stdout
    return json.loads(out)


def run_loop(loop, timeout=5.0):
    """Run ``loop`` until it is stopped; fails when that takes longer than ``timeout``."""
    expired = []
    timer = loop.call_later(timeout, lambda: (expired.append(True), loop.stop()))
    loop.run_forever()
    timer.cancel()
    assert not expired, "the scenario did not finish"


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
    thread = threading.Thread(target=client)
    thread.start()
    try:
        run_loop(loop)
    finally:
        thread.join(5)
        server.close_all_connections()
        loop.close()
    # (the server's 'close' comes before the last socket's own, in Node too)
    expected = ["request", "response", "cb1 none", "cb2 ERR_SERVER_NOT_RUNNING", "close", "socket close"]
    assert events == expected
    assert node_events(NODE_CLOSE_TWICE) == expected


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
    assert node_events(NODE_CLOSE_AT_ONCE) == events
