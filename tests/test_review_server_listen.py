"""``server.listen()`` against Node v20's ``http.Server``: a
failed bind is an ``error`` event with Node's fields (not an exception) when ``error``
is listened; Node's short forms (``listen(port, cb)``, ``listen(cb)``, ``listen(path)``
for a UNIX socket, removed by ``close()``).

Each scenario is written for Node (a script that drives its own server and prints what
happened as JSON) and for prefork (the loop on this thread, clients in a thread); both
must print the same.
"""

import json
import os
import socket
import subprocess
import tempfile
import threading

import pytest

import prefork
from harness import NODE
from prefork.runtime import new_event_loop


def node_events(script):
    if NODE is None:
        pytest.skip("node is not installed")
    script = ("const http = require('http'); const net = require('net'); const events = [];\n"
              "const log = (...a) => events.push(a);\n"
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


NODE_IN_USE = r"""
const a = http.createServer();
a.listen(0, '127.0.0.1', () => {
  const port = a.address().port;
  const b = http.createServer();
  b.on('error', (e) => {
    log('error', e.code, e.syscall, e.address, e.port === port, b.listening, b.address());
    a.close(); setTimeout(done, 20);
  });
  b.on('listening', () => log('listening'));
  b.listen(port, '127.0.0.1', () => log('callback'));
  log('returned', b.listening);
});
"""


def test_address_in_use_is_an_error_event():
    loop = new_event_loop()
    events = []
    log = lambda *a: events.append(list(a))  # noqa: E731
    a = prefork.create_server(loop=loop).listen(0)
    port = a.address()["port"]
    b = prefork.create_server(loop=loop)

    def on_error(e):
        log("error", e.code, e.syscall, e.address, e.port == port, b.listening, b.address())
        a.close()
        loop.call_later(0.02, loop.stop)
    b.on("error", on_error)
    b.on("listening", lambda: log("listening"))
    assert b.listen(port, "127.0.0.1", lambda: log("callback")) is b
    log("returned", b.listening)
    try:
        run_loop(loop)
    finally:
        loop.close()
    expected = [["returned", False], ["error", "EADDRINUSE", "listen", "127.0.0.1", True, False, None]]
    assert events == expected
    assert node_events(NODE_IN_USE) == expected


def test_address_in_use_without_an_error_listener_raises():
    loop = new_event_loop()
    a = prefork.create_server(loop=loop).listen(0)
    try:
        with pytest.raises(OSError) as info:
            prefork.create_server(loop=loop).listen(a.address()["port"])
        assert info.value.code == "EADDRINUSE" and info.value.syscall == "listen"
    finally:
        a.close()
        loop.close()


NODE_UNKNOWN_HOST = r"""
const s = http.createServer();
s.on('error', (e) => { log('error', e.code, e.syscall, e.hostname, s.listening); setTimeout(done, 20); });
s.listen(0, 'no-such-host.invalid');
"""


def test_unknown_host_is_an_error_event():
    loop = new_event_loop()
    events = []
    s = prefork.create_server(loop=loop)
    s.on("error", lambda e: (events.append(["error", e.code, e.syscall, e.hostname, s.listening]),
                             loop.call_later(0.02, loop.stop)))
    s.listen(0, "no-such-host.invalid")
    try:
        run_loop(loop)
    finally:
        loop.close()
    expected = [["error", "ENOTFOUND", "getaddrinfo", "no-such-host.invalid", False]]
    assert events == expected
    assert node_events(NODE_UNKNOWN_HOST) == expected


NODE_SHORT_FORMS = r"""
const a = http.createServer(), b = http.createServer();
a.listen(0, () => {
  log('a callback', a.address().port > 0);
  try { a.listen(0); } catch (e) { log('again', e.code); }
  b.listen(() => { log('b callback', b.address().port > 0); a.close(); b.close(); setTimeout(done, 20); });
});
"""


def test_short_forms_of_listen():
    loop = new_event_loop()
    events = []
    a, b = prefork.create_server(loop=loop), prefork.create_server(loop=loop)

    def a_listening():
        events.append(["a callback", a.address()["port"] > 0])
        try:
            a.listen(0)
        except prefork.server.server.HTTPError as e:
            events.append(["again", e.code])
        b.listen(lambda: (events.append(["b callback", b.address()["port"] > 0]), a.close(), b.close(),
                          loop.call_later(0.02, loop.stop)))
    a.listen(0, a_listening)
    try:
        run_loop(loop)
    finally:
        loop.close()
    expected = [["a callback", True], ["again", "ERR_SERVER_ALREADY_LISTEN"], ["b callback", True]]
    assert events == expected
    assert node_events(NODE_SHORT_FORMS) == expected


NODE_UNIX = r"""
const fs = require('fs');
const path = process.argv[1];
const s = http.createServer((req, res) => res.end('over ' + typeof req.socket.remoteAddress));
s.listen(path, () => {
  log('address', s.address() === path, fs.existsSync(path));
  http.get({socketPath: path, path: '/'}, (res) => {
    let body = ''; res.on('data', (d) => body += d);
    res.on('end', () => { log('body', body); s.close(() => { log('closed', fs.existsSync(path)); done(); }); });
  });
});
"""


def test_listen_on_a_unix_path():
    directory = tempfile.mkdtemp()
    path = os.path.join(directory, "s.sock")
    loop = new_event_loop()
    events = []
    s = prefork.create_server(lambda req, res: res.end("over " + type(req.socket.remote_address).__name__),
                              loop=loop)

    def client():
        with socket.socket(socket.AF_UNIX) as c:
            c.settimeout(5)
            c.connect(path)
            c.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            data = b""
            while chunk := c.recv(4096):
                data += chunk
        loop.call_soon_threadsafe(after, data.split(b"\r\n\r\n", 1)[1].decode())

    def after(body):
        events.append(["body", body])
        s.close(lambda e: (events.append(["closed", os.path.exists(path)]), loop.stop()))

    def listening():
        events.append(["address", s.address() == path, os.path.exists(path)])
        threading.Thread(target=client).start()
    s.listen(path, listening)
    try:
        run_loop(loop)
    finally:
        loop.close()
        if os.path.exists(path):
            os.unlink(path)
        os.rmdir(directory)
    assert events[0] == ["address", True, True] and events[2] == ["closed", False]
    node_directory = tempfile.mkdtemp()
    try:
        node = node_events(NODE_UNIX.replace("process.argv[1]", json.dumps(os.path.join(node_directory, "s.sock"))))
    finally:
        for name in os.listdir(node_directory):
            os.unlink(os.path.join(node_directory, name))
        os.rmdir(node_directory)
    # (Node's remoteAddress on a UNIX socket is undefined; prefork's is None)
    assert [e[0] for e in node] == [e[0] for e in events] and node[0] == events[0] and node[2] == events[2]

