"""``server.listen()`` and the connection count against Node v20's ``http.Server``: a
failed bind is an ``error`` event with Node's fields (not an exception) when ``error``
is listened; Node's short forms (``listen(port, cb)``, ``listen(cb)``, ``listen(path)``
for a UNIX socket, removed by ``close()``); ``max_connections`` with its ``drop`` event;
``get_connections(cb)``, which counts a handed-off (upgraded) socket, as Node does.

Each scenario is written for Node (a script that drives its own server and prints what
happened as JSON) and for prefork (the loop on this thread, clients in a thread); both
must print the same.
"""

import json
import os
import socket
import tempfile
import threading

import pytest

import prefork
from harness import node_events, run_loop, run_with_client
from prefork.runtime import new_event_loop


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


NODE_LONG_FORMS = r"""
const a = http.createServer(), b = http.createServer();
a.listen({port: 0, host: '127.0.0.1', backlog: 16}, () => {
  log('a callback', a.address().address, a.address().port > 0);
  b.listen(0, '127.0.0.1', 16, () => {
    log('b callback', b.address().address, b.address().port > 0); a.close(); b.close(); setTimeout(done, 20);
  });
});
"""


def test_the_options_and_backlog_forms_of_listen():
    loop = new_event_loop()
    events = []
    a, b = prefork.create_server(loop=loop), prefork.create_server(loop=loop)

    def a_listening():
        events.append(["a callback", a.address()["address"], a.address()["port"] > 0])
        b.listen(0, "127.0.0.1", 16, lambda: (events.append(["b callback", b.address()["address"],
                                                               b.address()["port"] > 0]),
                                              a.close(), b.close(), loop.call_later(0.02, loop.stop)))
    a.listen({"port": 0, "host": "127.0.0.1", "backlog": 16}, a_listening)
    try:
        run_loop(loop)
    finally:
        loop.close()
    expected = [["a callback", "127.0.0.1", True], ["b callback", "127.0.0.1", True]]
    assert events == expected
    assert node_events(NODE_LONG_FORMS) == expected
    other = new_event_loop()
    try:
        with pytest.raises(prefork.server.server.HTTPError) as err:
            prefork.create_server(loop=other).listen({"port": 0, "exclusive": True})
        called = []
        for args in ((0, "127.0.0.1", None), (0, 16)):  # a backlog of None, or no host: the callback still comes
            server = prefork.create_server(loop=other)
            server.listen(*args, lambda: (called.append(True), other.stop()))
            other.run_forever()
            server.close()
        assert called == [True, True]
    finally:
        other.close()
    assert err.value.code == "ERR_INVALID_ARG_VALUE"


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


NODE_MAX_CONNECTIONS = r"""
const s = http.createServer((req, res) => res.end('x'));
s.maxConnections = 1;
s.on('drop', (d) => log('drop', Object.keys(d).sort(), d.remoteFamily, d.localPort === s.address().port));
s.on('upgrade', (req, sock) => {
  log('upgrade');
  sock.on('end', () => sock.end());
  sock.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\nConnection: Upgrade\r\n\r\n');
});
s.listen(0, '127.0.0.1', () => {
  const port = s.address().port;
  const a = net.connect(port, '127.0.0.1', () =>
    a.write('GET / HTTP/1.1\r\nHost: x\r\nUpgrade: x\r\nConnection: Upgrade\r\n\r\n'));
  a.once('data', () => s.getConnections((e, n) => {
    log('count', e, n);
    const b = net.connect(port, '127.0.0.1');
    b.on('error', () => {});
    b.on('close', () => {
      log('second closed');
      a.end();
      a.on('close', () => setTimeout(() => s.getConnections((e, n) => {
        log('count', e, n);
        const c = net.connect(port, '127.0.0.1', () => c.write('GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'));
        let got = '';
        c.on('data', (d) => got += d);
        c.on('close', () => { log('third answered', got.startsWith('HTTP/1.1 200')); s.close(); done(); });
      }), 50));
    });
  }));
});
"""


def test_max_connections_drops_and_get_connections_counts_handed_off_sockets():
    loop = new_event_loop()
    events = []
    log = lambda *a: events.append(list(a))  # noqa: E731
    s = prefork.create_server(lambda req, res: res.end("x"), loop=loop)
    s.max_connections = 1
    s.on("drop", lambda d: log("drop", sorted(d), d["remoteFamily"], d["localPort"] == s.address()["port"]))

    def on_upgrade(req, sock, head):
        log("upgrade")
        sock.on("end", lambda: sock.end())
        sock.write(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\nConnection: Upgrade\r\n\r\n")
    s.on("upgrade", on_upgrade)
    s.listen(0)
    port = s.address()["port"]
    counted = threading.Condition()
    counts = []

    def count():
        def got(err, n):
            log("count", err, n)
            with counted:
                counts.append(n)
                counted.notify_all()
        loop.call_soon_threadsafe(s.get_connections, got)
        with counted:
            assert counted.wait_for(lambda: len(counts) == wanted[0], 5)
        wanted[0] += 1
    wanted = [1]

    def client():
        a = socket.create_connection(("127.0.0.1", port), timeout=5)
        a.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: x\r\nConnection: Upgrade\r\n\r\n")
        a.recv(4096)
        count()
        with socket.create_connection(("127.0.0.1", port), timeout=5) as b:
            try:
                assert b.recv(4096) == b""
            except ConnectionResetError:
                pass
        loop.call_soon_threadsafe(log, "second closed")
        a.shutdown(socket.SHUT_WR)
        assert a.recv(4096) == b""  # the upgrade listener ended it too
        a.close()
        for _ in range(100):  # the server sees the close a moment later
            count()
            if counts[-1] == 0:
                break
            threading.Event().wait(0.01)
        with socket.create_connection(("127.0.0.1", port), timeout=5) as c:
            c.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            got = b""
            while chunk := c.recv(4096):
                got += chunk
        loop.call_soon_threadsafe(lambda: (log("third answered", got.startswith(b"HTTP/1.1 200")), s.close(),
                                           loop.stop()))
    run_with_client(loop, client, s)
    events = [e for i, e in enumerate(events) if e[0] != "count" or e[2] == 0 or i < 3]  # (polls while > 0)
    expected = [["upgrade"], ["count", None, 1],
                ["drop", ["localAddress", "localFamily", "localPort", "remoteAddress", "remoteFamily", "remotePort"],
                 "IPv4", True],
                ["second closed"], ["count", None, 0], ["third answered", True]]
    assert events == expected
    assert node_events(NODE_MAX_CONNECTIONS) == expected


NODE_DUAL_STACK = r"""
const serve = (req, res) => res.end(req.socket.remoteFamily + ' ' + req.socket.remoteAddress);
const a = http.createServer(serve), b = http.createServer(serve);
let settled = false;
const get = (port, cb) => {
  const once = (v) => { if (!settled) { settled = true; cb(v); } };
  // (bounded: on a busy machine something else may take the IPv4 side of the port and hold it)
  const req = http.get({host: '127.0.0.1', port, agent: false}, (res) => {
    let body = ''; res.on('data', (d) => body += d); res.on('end', () => once(body));
  }).on('error', (e) => once(e.code));
  req.setTimeout(2000, () => { once('ETIMEDOUT'); req.destroy(); });
};
a.listen(0, '::', () => get(a.address().port, (got) => {
  settled = false;
  log('dual', a.address().address, a.address().family, got);
  b.listen({port: 0, host: '::', ipv6Only: true}, () => { settled = false; get(b.address().port, (got) => {
    log('ipv6 only', got); a.close(); b.close(); done();
  }); });
}));
"""


def test_any_ipv6_address_serves_ipv4_clients_unless_ipv6_only():
    loop = new_event_loop()
    events = []
    serve = lambda req, res: res.end(f"{req.socket.remote_family} {req.socket.remote_address}")  # noqa: E731
    a, b = prefork.create_server(serve, loop=loop), prefork.create_server(serve, loop=loop)
    a.listen(0, "::")
    # The IPv4 side of b's port is held here, bound and not listening, so that no other
    # test's IPv4 listener can take it and answer: a connect there is refused unless b
    # took IPv4 too. While b listened on both families the bind could never succeed.
    holder = None
    for _ in range(20):
        b.listen(0, "::", ipv6_only=True)
        holder = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            holder.bind(("127.0.0.1", b.address()["port"]))
            break
        except OSError:
            holder.close()
            holder = None
            b.close()
            b = prefork.create_server(serve, loop=loop)
    assert holder is not None, "an IPv6-only listener's port was never free on IPv4"

    def get(port):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=5) as c:
                c.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                data = b""
                while chunk := c.recv(4096):
                    data += chunk
            return data.split(b"\r\n\r\n", 1)[1].decode()
        except ConnectionRefusedError:
            return "ECONNREFUSED"

    def client():
        got = get(a.address()["port"])
        loop.call_soon_threadsafe(events.append, ["dual", a.address()["address"], a.address()["family"], got])
        got = get(b.address()["port"])
        loop.call_soon_threadsafe(lambda: (events.append(["ipv6 only", got]), a.close(), b.close(), loop.stop()))
    try:
        run_with_client(loop, client)
    finally:
        holder.close()
    expected = [["dual", "::", "IPv6", "IPv6 ::ffff:127.0.0.1"], ["ipv6 only", "ECONNREFUSED"]]
    assert events[0] == expected[0]
    # b never answers an IPv4 client (its answer names the client's family): the connect
    # is refused, unless something outside this test answered on that port meanwhile
    assert events[1][0] == "ipv6 only" and not events[1][1].startswith("IPv"), events
    theirs = node_events(NODE_DUAL_STACK)  # (the same property of Node's: its port is as open to others)
    assert theirs[0] == expected[0]
    assert theirs[1][0] == "ipv6 only" and not theirs[1][1].startswith("IPv"), theirs


# (Node value, prefork value, outcome: the code raised by listen(), or "listens")
PORTS = [("70000", 70000, "ERR_SOCKET_BAD_PORT"), ("-1", -1, "ERR_SOCKET_BAD_PORT"),
         ("1.5", 1.5, "ERR_SOCKET_BAD_PORT"), ("'70000'", "70000", "ERR_SOCKET_BAD_PORT"),
         ("true", True, "ERR_INVALID_ARG_VALUE"), ("null", None, "listens"), ("'0'", "0", "listens")]


def test_a_bad_port_raises_as_in_node():
    outcomes = []
    for _, port, _ in PORTS:
        server = prefork.create_server()
        try:
            server.listen(port)
        except (TypeError, ValueError) as exc:
            outcomes.append(exc.code)
        else:
            outcomes.append("listens" if server.listening else "no")
            server.close()
    assert outcomes == [outcome for _, _, outcome in PORTS]
    script = "".join(f"try {{ const s = http.createServer(); s.listen({node}, '127.0.0.1', () => s.close());"
                     f" log(s.address() === null ? 'listens' : 'bound'); }}"
                     f" catch (e) {{ log(e.code); }}\n" for node, _, _ in PORTS)
    # (Node's listening waits for the host's lookup; a port it takes binds a turn later)
    assert [e[0] for e in node_events(script + "setTimeout(done, 50);")] == outcomes
