"""``res.socket`` and ``res.connection`` as Node 20 has them: the connection's socket
while the response is on it, None from its ``finish`` on (the first ``finish`` listener
already sees None; ``close`` too), for keep-alive and closing responses, HEAD, 204,
304, a response ended while its request's body still arrives; a response destroyed
before it finished keeps its socket. ``req.socket`` keeps it throughout. The same
program runs on Node's own server when Node is installed: the sequences must match.
"""

import json
import shutil
import socket
import subprocess
import time

from harness import read_until_close

NODE = shutil.which("node")

# (name, request bytes sent first, bytes sent once the response closed)
SCENARIOS = [
    ("keep-alive", b"GET /end HTTP/1.1\r\nHost: x\r\n\r\n", b""),
    ("close", b"GET /end HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", b""),
    ("head", b"HEAD /end HTTP/1.1\r\nHost: x\r\n\r\n", b""),
    ("204", b"GET /204 HTTP/1.1\r\nHost: x\r\n\r\n", b""),
    ("304", b"GET /304 HTTP/1.1\r\nHost: x\r\n\r\n", b""),
    ("body read", b"POST /read HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello", b""),
    ("body arriving", b"POST /end HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nhello", b"world"),
    ("destroyed", b"GET /destroy HTTP/1.1\r\nHost: x\r\n\r\n", b""),
]

NODE_PROGRAM = r"""
const http = require('http'), net = require('net');
const scenarios = JSON.parse(process.argv[1]);
let log = [], closed = null;
const state = (res) => [res.socket === null, res.connection === null, !!res.req.socket];
const handlers = {
  '/end': (req, res) => { res.end('x'); log.push(['ended', ...state(res)]); },
  '/204': (req, res) => { res.writeHead(204); res.end(); log.push(['ended', ...state(res)]); },
  '/304': (req, res) => { res.writeHead(304); res.end(); log.push(['ended', ...state(res)]); },
  '/read': (req, res) => { req.on('data', () => {}); req.on('end', () => { res.end('x'); log.push(['ended', ...state(res)]); }); },
  '/destroy': (req, res) => { res.destroy(); log.push(['destroyed', ...state(res)]); },
};
const server = http.createServer((req, res) => {
  log.push(['request', ...state(res)]);
  res.on('finish', () => log.push(['finish', ...state(res)]));
  res.on('close', () => { log.push(['close', ...state(res)]); setImmediate(closed); });
  handlers[req.url](req, res);
});
server.listen(0, '127.0.0.1', async () => {
  const out = {};
  for (const [name, first, rest] of scenarios) {
    log = [];
    const c = net.connect(server.address().port, '127.0.0.1');
    c.on('error', () => {});
    c.resume();
    await new Promise((done) => { closed = done; c.write(Buffer.from(first, 'latin1')); });
    if (rest) c.write(Buffer.from(rest, 'latin1'));
    await new Promise((done) => { c.on('close', done); c.end(); });
    out[name] = log;
  }
  console.log(JSON.stringify(out));
  server.close();
});
"""


def run_prefork(serve):
    log = []

    def state(res):
        return [res.socket is None, res.connection is None, res.req.socket is not None]

    def ended(res, what="ended"):
        log.append([what, *state(res)])

    def on_request(req, res):
        log.append(["request", *state(res)])
        res.on("finish", lambda: log.append(["finish", *state(res)]))
        res.on("close", lambda: (log.append(["close", *state(res)]), st.record("closed")))
        if req.url == "/end":
            res.end("x")
            ended(res)
        elif req.url in ("/204", "/304"):
            res.write_head(int(req.url[1:]))
            res.end()
            ended(res)
        elif req.url == "/read":
            req.on("data", lambda chunk: None)
            req.on("end", lambda: (res.end("x"), ended(res)))
        else:
            res.destroy()
            ended(res, "destroyed")
    st = serve(lambda server, st_: server.on("request", on_request))
    out = {}
    for name, first, rest in SCENARIOS:
        log = []
        st.events.clear()
        with socket.create_connection(("127.0.0.1", st.port), timeout=5) as sock:
            sock.sendall(first)
            st.wait_for(lambda event: event == ("closed",))
            try:
                if rest:
                    sock.sendall(rest)
                sock.shutdown(socket.SHUT_WR)
                deadline = time.monotonic() + 5
                while time.monotonic() < deadline and sock.recv(65536):
                    pass
            except OSError:
                pass  # (the destroyed one: reset)
        out[name] = st.call(list, log)
    return out


def expected():
    out = {}
    kept = ["request", False, False, True]
    gone = [True, True, True]
    for name, _, _ in SCENARIOS:
        if name == "destroyed":
            out[name] = [kept, ["destroyed", False, False, True], ["close", False, False, True]]
        elif name == "body read":
            out[name] = [kept, ["ended", False, False, True], ["finish", *gone], ["close", *gone]]
        else:
            out[name] = [kept, ["ended", False, False, True], ["finish", *gone], ["close", *gone]]
    return out


def test_response_lets_go_of_its_socket_at_finish_as_node(serve):
    seen = run_prefork(serve)
    assert seen == expected(), seen
    if NODE:
        scenarios = json.dumps([[name, first.decode("latin1"), rest.decode("latin1")]
                                for name, first, rest in SCENARIOS])
        run = subprocess.run([NODE, "-e", NODE_PROGRAM, scenarios], capture_output=True, text=True, timeout=60)
        assert run.returncode == 0, run.stderr
        node = json.loads(run.stdout.strip().splitlines()[-1])
        assert node == seen, (node, seen)


def test_finish_listener_destroying_the_connection_uses_req_socket(serve):
    """The socket stays reachable through the request: a ``finish`` listener that closes
    the connection (``req.socket.destroy()``, as Node code must write it) works."""
    def on_request(req, res):
        res.on("finish", lambda: (st.record("finish", res.socket, req.socket is not None), req.socket.destroy()))
        res.end("bye")
    st = serve(lambda server, st_: server.on("request", on_request))
    with socket.create_connection(("127.0.0.1", st.port), timeout=5) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        got = read_until_close(sock)
    assert got.startswith(b"HTTP/1.1 200 OK") and got.endswith(b"bye"), got
    assert st.wait_for(lambda event: event[0] == "finish") == ("finish", None, True)
