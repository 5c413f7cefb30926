"""The request's ``end`` and ``close`` as Node 20 emits them, next to the response's
events: a request nobody reads gets its ``end`` only when its response is done (Node's
dump), after the response's ``close``, then its ``close``; one read to its end closes
right after its ``end`` (autoDestroy), before the response is sent; one whose
connection goes first is aborted (``aborted``, the response's ``close``, ``error``,
``close``) and never ends. The same program runs on Node's own server when Node is
installed: the sequences must match.
"""

import json
import shutil
import socket
import struct
import subprocess
import time

NODE = shutil.which("node")

GET = "GET /{} HTTP/1.1\r\nHost: x\r\n{}\r\n"
POST = "POST /{} HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n{}"

# each: the steps of its client ("send", text), ("await", event), ("reset",); the
# client closes after its last step (the server's events are waited for, never slept)
SCENARIOS = {
    "unread get": [("send", GET.format("end", "")), ("await", "req.close")],
    "unread get, close": [("send", GET.format("end", "Connection: close\r\n")), ("await", "req.close")],
    "unread head": [("send", "HEAD /end HTTP/1.1\r\nHost: x\r\n\r\n"), ("await", "req.close")],
    "unread get, answered later": [("send", GET.format("later", "")), ("await", "req.close")],
    "read get, answered later": [("send", GET.format("read-later", "")), ("await", "res.close")],
    "read post, answered later": [("send", POST.format("read-later", 5, "hello")), ("await", "res.close")],
    "read post, answered at its end": [("send", POST.format("read-end", 5, "hello")), ("await", "req.close")],
    "unread post": [("send", POST.format("end", 5, "hello")), ("await", "req.close")],
    "unread post, body after the answer": [("send", POST.format("end", 10, "hello")), ("await", "res.close"),
                                           ("send", "world"), ("await", "req.close")],
    "unanswered get, client reset": [("send", GET.format("never", "")), ("await", "request"), ("reset",),
                                     ("await", "req.close")],
    "read post, client reset mid-body": [("send", POST.format("read-never", 10, "hello")), ("await", "request"),
                                         ("reset",), ("await", "req.close")],
    "destroyed": [("send", GET.format("destroy", "")), ("await", "req.close")],
}

NODE_PROGRAM = r"""
const http = require('http'), net = require('net');
const scenarios = JSON.parse(process.argv[1]);
let log = [], waiting = null;
const L = (ev) => { log.push(ev); if (waiting && waiting[0] === ev) { const w = waiting[1]; waiting = null; w(); } };
const read = (req) => req.on('data', () => {});
const handlers = {
  '/end': (req, res) => { res.end('x'); L('ended'); },
  '/later': (req, res) => setTimeout(() => { res.end('x'); L('ended'); }, 30),
  '/read-later': (req, res) => { read(req); setTimeout(() => { res.end('x'); L('ended'); }, 30); },
  '/read-end': (req, res) => { read(req); req.on('end', () => { res.end('x'); L('ended'); }); },
  '/never': (req, res) => {},
  '/read-never': (req, res) => read(req),
  '/destroy': (req, res) => { res.destroy(); L('destroyed'); },
};
const server = http.createServer((req, res) => {
  for (const ev of ['end', 'close', 'aborted']) req.on(ev, () => L('req.' + ev));
  req.on('error', (e) => L('req.error ' + e.code));
  for (const ev of ['finish', 'close']) res.on(ev, () => L('res.' + ev));
  L('request');
  handlers[req.url](req, res);
});
server.on('clientError', (e, s) => s.destroy());
server.listen(0, '127.0.0.1', async () => {
  const out = {};
  for (const [name, steps] of scenarios) {
    log = [];
    const c = net.connect(server.address().port, '127.0.0.1');
    c.on('error', () => {});
    c.resume();
    let reset = false;
    for (const step of steps) {
      if (step[0] === 'send') c.write(Buffer.from(step[1], 'latin1'));
      else if (step[0] === 'reset') { reset = true; c.resetAndDestroy(); }
      else if (!log.includes(step[1])) await new Promise((done) => { waiting = [step[1], done]; });
    }
    if (!reset) await new Promise((done) => { c.on('close', done); c.end(); });
    await new Promise((done) => setImmediate(done));
    out[name] = log;
  }
  console.log(JSON.stringify(out));
  server.close();
});
"""


def run_prefork(serve):
    log = []

    def read(req):
        req.on("data", lambda chunk: None)

    def answer(res):
        res.end("x")
        record("ended")

    def on_request(req, res):
        for event in ("end", "close", "aborted"):
            req.on(event, lambda event=event: record("req." + event))
        req.on("error", lambda err: record("req.error " + err.code))
        for event in ("finish", "close"):
            res.on(event, lambda event=event: record("res." + event))
        record("request")
        url = req.url
        if url == "/end":
            answer(res)
        elif url == "/later":
            req.socket.loop.call_later(0.03, answer, res)
        elif url == "/read-later":
            read(req)
            req.socket.loop.call_later(0.03, answer, res)
        elif url == "/read-end":
            read(req)
            req.on("end", lambda: answer(res))
        elif url == "/read-never":
            read(req)
        elif url == "/destroy":
            res.destroy()
            record("destroyed")

    def record(event):
        log.append(event)
        st.record(event)

    def setup(server, _):
        server.on("request", on_request)
        server.on("clientError", lambda err, sock: sock.destroy())
    st = serve(setup)
    out = {}
    for name, steps in SCENARIOS.items():
        log = []
        st.events.clear()
        sock = socket.create_connection(("127.0.0.1", st.port), timeout=5)
        try:
            for step in steps:
                if step[0] == "send":
                    sock.sendall(step[1].encode("latin1"))
                elif step[0] == "reset":
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    sock.close()
                else:
                    st.wait_for(lambda event, want=step[1]: event == (want,))
            if sock.fileno() != -1:
                sock.shutdown(socket.SHUT_WR)
                deadline = time.monotonic() + 5
                while time.monotonic() < deadline and sock.recv(65536):
                    pass
                st.call(lambda: None)  # (what the close made the server do is done)
        finally:
            sock.close()
        out[name] = st.call(list, log)
    return out


ANSWERED = ["ended", "res.finish", "res.close"]
EXPECTED = {
    "unread get": ["request", *ANSWERED, "req.end", "req.close"],
    "unread get, close": ["request", *ANSWERED, "req.end", "req.close"],
    "unread head": ["request", *ANSWERED, "req.end", "req.close"],
    "unread get, answered later": ["request", *ANSWERED, "req.end", "req.close"],
    "read get, answered later": ["request", "req.end", "req.close", *ANSWERED],
    "read post, answered later": ["request", "req.end", "req.close", *ANSWERED],
    "read post, answered at its end": ["request", "req.end", *ANSWERED, "req.close"],
    "unread post": ["request", *ANSWERED, "req.end", "req.close"],
    "unread post, body after the answer": ["request", *ANSWERED, "req.end", "req.close"],
    "unanswered get, client reset": ["request", "req.aborted", "res.close", "req.error ECONNRESET", "req.close"],
    "read post, client reset mid-body": ["request", "req.aborted", "res.close", "req.error ECONNRESET",
                                         "req.close"],
    "destroyed": ["request", "destroyed", "req.aborted", "res.close", "req.error ECONNRESET", "req.close"],
}


def test_request_end_and_close_come_as_in_node(serve):
    seen = run_prefork(serve)
    assert seen == EXPECTED, seen
    if NODE:
        scenarios = json.dumps(list(SCENARIOS.items()))
        run = subprocess.run([NODE, "-e", NODE_PROGRAM, scenarios], capture_output=True, text=True, timeout=60)
        assert run.returncode == 0, run.stderr
        node = json.loads(run.stdout.strip().splitlines()[-1])
        assert node == seen, (node, seen)


def test_an_unread_request_has_not_ended_while_its_response_is_pending(serve):
    """Node's ``readableEnded`` stays false for a bodiless request nobody reads until its
    response is done; a reader attached later (``resume()``) still gets its ``end``."""
    def on_request(req, res):
        req.on("end", lambda: st.record("end", res.writable_ended))

        def later():
            st.record("pending", req.readable_ended, req.complete, req.destroyed)
            req.resume()
        req.socket.loop.call_later(0.02, later)
        req.socket.loop.call_later(0.04, res.end, "x")
    st = serve(lambda server, _: server.on("request", on_request))
    with socket.create_connection(("127.0.0.1", st.port), timeout=5) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        while sock.recv(65536):
            pass
    assert st.wait_for(lambda event: event[0] == "pending") == ("pending", False, True, False)
    assert st.wait_for(lambda event: event[0] == "end") == ("end", False)
