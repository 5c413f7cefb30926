"""A socket handed over by ``connect`` that the app paused, whose peer then leaves,
compared with the same program on Node v20: Node's paused socket reads on into its
buffer up to the stream's high-water mark (16 KiB), so a reset is ``error`` and
``close`` at once (what was kept is dropped), a FIN with nothing kept is ``end`` at
once, and a FIN after bytes is ``end`` after them once the app resumes; past the
high-water mark reading stops, and what the peer did is seen after ``resume()``."""

import socket
import struct
import threading
import time

import pytest

from harness import node_program, read_until_close

NODE_SUBJECT = r"""
'use strict';
const http = require('http');
const server = http.createServer();
const socks = new Map();
const log = (o) => process.stdout.write(JSON.stringify(o) + '\n');
server.on('request', (req, res) => {
  const [, what, name] = req.url.split('/');
  const sock = socks.get(name);
  if (what === 'resume') { log({ name, e: ['resume'] }); sock.resume(); res.end('ok'); }
  else res.end(String(sock ? sock.bytesRead : -1));
});
server.on('connect', (req, sock, head) => {
  const name = req.headers['x-s'];
  socks.set(name, sock);
  let got = 0;
  sock.pause();
  sock.on('data', (d) => { got += d.length; });
  sock.on('end', () => { log({ name, e: ['end', got] }); sock.end(); });
  sock.on('error', (e) => log({ name, e: ['error', e.code, got] }));
  sock.on('close', (h) => { log({ name, e: ['close', h, got] }); log({ name, done: true }); });
  sock.write('HTTP/1.1 200 OK\r\n\r\n');
});
server.listen(0, '127.0.0.1', () => log({ port: server.address().port }));
process.stdin.resume();
process.stdin.on('end', () => process.exit(0));
"""


def subject_setup(recorder):
    def setup(server, st):
        socks = {}

        def on_request(req, res):
            _, what, name = req.url.split("/")
            sock = socks.get(name)
            if what == "resume":
                recorder.add(name, ["resume"])
                sock.resume()
                res.end("ok")
            else:
                res.end(str(sock.bytes_read if sock is not None else -1))

        def on_connect(req, sock, head):
            name = req.headers["x-s"]
            socks[name] = sock
            got = [0]
            sock.pause()

            def on_data(data):
                got[0] += len(data)

            def on_end():
                recorder.add(name, ["end", got[0]])
                sock.end()

            def on_close(had_error=False):
                recorder.add(name, ["close", had_error, got[0]])
                recorder.finish(name)
            sock.on("data", on_data)
            sock.on("end", on_end)
            sock.on("error", lambda e: recorder.add(name, ["error", e.code, got[0]]))
            sock.on("close", on_close)
            sock.write("HTTP/1.1 200 OK\r\n\r\n")
        server.on("request", on_request)
        server.on("connect", on_connect)
    return setup


class Recorder:
    def __init__(self):
        self.events = {}
        self.done = set()
        self.cond = threading.Condition()

    def add(self, name, event):
        with self.cond:
            self.events.setdefault(name, []).append(list(event))

    def finish(self, name):
        with self.cond:
            self.done.add(name)
            self.cond.notify_all()

    def wait(self, name, timeout=10):
        deadline = time.monotonic() + timeout
        with self.cond:
            while name not in self.done:
                remaining = deadline - time.monotonic()
                assert remaining > 0, f"{name}: the socket did not close: {self.events.get(name)}"
                self.cond.wait(remaining)
            return self.events.get(name, [])


@pytest.fixture(scope="module")
def node_subject():
    recorder = Recorder()

    def on_item(item):
        if item.get("done"):
            recorder.finish(item["name"])
        else:
            recorder.add(item["name"], item["e"])
    with node_program(["-e", NODE_SUBJECT], on_item) as port:
        yield port, recorder


@pytest.fixture
def prefork_subject(serve):
    recorder = Recorder()
    st = serve(subject_setup(recorder))
    return st.port, recorder


def ask(port, what, name):
    """GET /what/name on its own connection: the body."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(b"GET /%s/%s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
                     % (what.encode(), name.encode()))
        data = read_until_close(sock)
    return data.partition(b"\r\n\r\n")[2]


ANSWER = b"HTTP/1.1 200 OK\r\n\r\n"


def drive(port, name, steps):
    """CONNECT as ``name``, read the answer, then the steps: bytes to send, ("read", n):
    wait until the subject has read n bytes past the CONNECT head, "shut" (the FIN),
    "reset", "resume" (the subject resumes the socket)."""
    request = b"CONNECT x:1 HTTP/1.1\r\nHost: x\r\nX-S: %s\r\n\r\n" % name.encode()
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    try:
        sock.sendall(request)
        answer = b""
        while len(answer) < len(ANSWER):
            chunk = sock.recv(65536)
            assert chunk, answer
            answer += chunk
        assert answer == ANSWER
        for step in steps:
            if isinstance(step, bytes):
                sock.sendall(step)
            elif isinstance(step, tuple):
                deadline = time.monotonic() + 5
                while int(ask(port, "status", name)) < len(request) + step[1]:
                    assert time.monotonic() < deadline, f"{name}: the subject read too little"
                    time.sleep(0.01)
            elif step == "shut":
                sock.shutdown(socket.SHUT_WR)
            elif step == "reset":
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                sock.close()
            elif step == "resume":
                assert ask(port, "resume", name) == b"ok"
    finally:
        sock.close()


SCENARIOS = {
    # the peer's FIN, nothing sent: 'end' at once, paused or not
    "fin_empty": ["shut"],
    # a few bytes, then the FIN: 'end' after them, once resumed
    "fin_data": [b"hello", ("read", 5), "shut", "resume"],
    # the peer resets: 'error' and 'close' at once, what was kept dropped
    "rst_empty": ["reset"],
    "rst_data": [b"hello", ("read", 5), "reset"],
    # more than the high-water mark, then the FIN: all of it, then 'end', once resumed
    "big_fin": [b"x" * 200000, ("read", 16384), "shut", "resume"],
    # past the high-water mark reading stops: the reset is seen after the kept bytes
    "over_rst": [b"y" * 20000, ("read", 20000), "reset", "resume"],
}


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_a_paused_socket_sees_its_peer_leave_as_nodes_does(node_subject, prefork_subject, name):
    results = []
    for port, recorder in (node_subject, prefork_subject):
        drive(port, name, SCENARIOS[name])
        results.append(recorder.wait(name))
    node_events, our_events = results
    assert our_events == node_events
