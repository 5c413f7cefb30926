"""A CONNECT proxy written the Node way (``connect`` listener, ``net.connect`` upstream,
``pipe`` both ways, each side's error destroying the other) compared with the same
program on Node v20: the bytes the client gets, whether it sees a FIN or a reset, and
each socket's events (tunnel socket, upstream socket), for a tunnel closed from either
side, half-closed, reset, or whose client socket was paused while the upstream
connected."""

import socket
import struct
import threading
import time

import pytest

from harness import node_program
from prefork.net import Socket

NODE_PROXY = r"""
'use strict';
const http = require('http');
const net = require('net');
const server = http.createServer();
const log = (o) => process.stdout.write(JSON.stringify(o) + '\n');
server.on('connect', (req, sock, head) => {
  const name = req.headers['x-s'];
  const rec = (who, e) => log({ name, who, e });
  let open = 2;
  const closed = () => { if (--open === 0) log({ name, done: true }); };
  for (const [who, s] of [['sock', sock]]) {
    for (const ev of ['end', 'finish']) s.on(ev, () => rec(who, [ev]));
  }
  sock.on('error', (e) => { rec('sock', ['error', e.code]); up.destroy(); });
  sock.on('close', (h) => { rec('sock', ['close', h]); closed(); });
  if (name === 'paused') sock.pause();
  const [host, port] = req.url.split(':');
  const up = net.connect(+port, host, () => {
    rec('up', ['connect']);
    sock.write('HTTP/1.1 200 Connection Established\r\n\r\n');
    up.write(head);
    sock.pipe(up);
    up.pipe(sock);
  });
  for (const ev of ['end', 'finish']) up.on(ev, () => rec('up', [ev]));
  up.on('error', (e) => { rec('up', ['error', e.code]); sock.destroy(); });
  up.on('close', (h) => { rec('up', ['close', h]); closed(); });
});
server.listen(0, '127.0.0.1', () => log({ port: server.address().port }));
process.stdin.resume();
process.stdin.on('end', () => process.exit(0));
"""


def proxy_setup(recorder):
    def setup(server, st):
        def on_connect(req, sock, head):
            name = req.headers["x-s"]
            open_count = [2]

            def rec(who, *event):
                recorder.add(name, who, event)

            def closed():
                open_count[0] -= 1
                if not open_count[0]:
                    recorder.finish(name)
            for ev in ("end", "finish"):
                sock.on(ev, (lambda ev: lambda: rec("sock", ev))(ev))
            sock.on("error", lambda e: (rec("sock", "error", e.code), up.destroy()))
            sock.on("close", lambda had_error=False: (rec("sock", "close", had_error), closed()))
            if name == "paused":
                sock.pause()
            host, port = req.url.split(":")
            up = Socket.connect(server.loop, host, int(port))

            def connected():
                rec("up", "connect")
                sock.write("HTTP/1.1 200 Connection Established\r\n\r\n")
                up.write(head)
                sock.pipe(up)
                up.pipe(sock)
            up.on("connect", connected)
            for ev in ("end", "finish"):
                up.on(ev, (lambda ev: lambda: rec("up", ev))(ev))
            up.on("error", lambda e: (rec("up", "error", e.code), sock.destroy()))
            up.on("close", lambda had_error=False: (rec("up", "close", had_error), closed()))
        server.on("connect", on_connect)
    return setup


class Recorder:
    def __init__(self):
        self.events = {}
        self.done = set()
        self.cond = threading.Condition()

    def add(self, name, who, event):
        with self.cond:
            self.events.setdefault(name, {}).setdefault(who, []).append(tuple(event))

    def finish(self, name):
        with self.cond:
            self.done.add(name)
            self.cond.notify_all()

    def wait(self, name, timeout=10):
        deadline = time.monotonic() + timeout
        with self.cond:
            while name not in self.done:
                remaining = deadline - time.monotonic()
                assert remaining > 0, f"{name}: the tunnel did not close: {self.events.get(name)}"
                self.cond.wait(remaining)
            return self.events.get(name, {})


class Upstream:
    """An upstream of one behaviour: ``echo`` (echoes; UPBYE and close at the FIN),
    ``fin_first`` (hello and its FIN at once, reading on), ``reset`` (a reset at a "!")."""

    def __init__(self, mode):
        self.mode = mode
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(8)
        self.listener.settimeout(0.2)
        self.port = self.listener.getsockname()[1]
        self.stopping = False
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while not self.stopping:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                continue
            threading.Thread(target=self.serve, args=(conn,), daemon=True).start()

    def serve(self, conn):
        conn.settimeout(10)
        try:
            if self.mode == "fin_first":
                conn.sendall(b"hello")
                conn.shutdown(socket.SHUT_WR)
            while True:
                data = conn.recv(65536)
                if not data:
                    if self.mode == "echo":
                        conn.sendall(b"UPBYE")
                    break
                if self.mode == "echo":
                    conn.sendall(data)
                elif self.mode == "reset" and b"!" in data:
                    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    break
        except OSError:
            pass
        finally:
            conn.close()

    def stop(self):
        self.stopping = True
        self.thread.join(5)
        self.listener.close()


@pytest.fixture(scope="module")
def upstreams():
    ups = {mode: Upstream(mode) for mode in ("echo", "fin_first", "reset")}
    yield ups
    for up in ups.values():
        up.stop()


@pytest.fixture(scope="module")
def node_proxy():
    recorder = Recorder()

    def on_item(item):
        if item.get("done"):
            recorder.finish(item["name"])
        else:
            recorder.add(item["name"], item["who"], item["e"])
    with node_program(["-e", NODE_PROXY], on_item) as port:
        yield port, recorder


@pytest.fixture
def prefork_proxy(serve):
    recorder = Recorder()
    st = serve(proxy_setup(recorder))
    return st.port, recorder


ESTABLISHED = b"HTTP/1.1 200 Connection Established\r\n\r\n"


def drive(port, name, upstream_port, head, steps):
    """CONNECT through the proxy as ``name`` with ``head`` after the request, then the
    steps (bytes to send; an int: read until that many bytes came; "shut": the FIN;
    "fin": read until the proxy's FIN; "reset"); returns (bytes, "FIN" or "RST"),
    or (bytes, "reset") when the client reset."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    try:
        sock.sendall(b"CONNECT 127.0.0.1:%d HTTP/1.1\r\nHost: x\r\nX-S: %s\r\n\r\n%s"
                     % (upstream_port, name.encode(), head))
        data = bytearray()
        for step in steps:
            if isinstance(step, int):
                while len(data) < step:
                    chunk = sock.recv(65536)
                    assert chunk, (name, bytes(data))
                    data += chunk
            elif step == "shut":
                sock.shutdown(socket.SHUT_WR)
            elif step == "fin":
                while True:
                    chunk = sock.recv(65536)
                    if not chunk:
                        break
                    data += chunk
            elif step == "reset":
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                return bytes(data), "reset"
            else:
                sock.sendall(step)
        while True:
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                return bytes(data), "RST"
            if not chunk:
                return bytes(data), "FIN"
            data += chunk
    finally:
        sock.close()


SCENARIOS = {
    # the client half-closes: the upstream's answer and FIN come back through the tunnel
    "echo": ("echo", b"HEAD", [len(ESTABLISHED) + 4, b"abc", len(ESTABLISHED) + 7, "shut"]),
    # the client socket paused until the upstream connects (pipe resumes it)
    "paused": ("echo", b"HEAD", [len(ESTABLISHED) + 4, b"abc", len(ESTABLISHED) + 7, "shut"]),
    # the upstream ends first (an HTTP/1.0 server's answer); the client ends after its FIN
    "fin_first": ("fin_first", b"", ["fin", "shut"]),
    # the upstream resets: its error destroys the tunnel's socket
    "up_reset": ("reset", b"", [len(ESTABLISHED), b"abc!"]),
    # the client resets: the tunnel socket's error destroys the upstream
    "client_reset": ("echo", b"", [len(ESTABLISHED), b"abc", len(ESTABLISHED) + 3, "reset"]),
}


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_the_tunnel_behaves_as_nodes(node_proxy, prefork_proxy, upstreams, name):
    mode, head, steps = SCENARIOS[name]
    outcomes = []
    for port, recorder in (node_proxy, prefork_proxy):
        outcome = drive(port, name, upstreams[mode].port, head, steps)
        outcomes.append((outcome, recorder.wait(name)))
    (node_out, node_events), (our_out, our_events) = outcomes
    assert our_out == node_out
    assert our_events == node_events
