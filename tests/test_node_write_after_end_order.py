"""A write (or a second ``end(data)``) after ``res.end()`` in the same turn: the
response goes out, its ``finish`` comes, then the ``ERR_STREAM_WRITE_AFTER_END``
``error``, then its ``close`` and the request's ``end`` and ``close``, as Node 20
orders them; never an ``error`` after the ``close``. Without an ``error`` listener the
connection serves the next request. The same client runs against Node's own server
when Node is installed."""

import json
import re
import socket

from harness import node_events

CASES = ["/write-after-end", "/end-after-end"]

NODE_SCRIPT = r"""
const cases = %s;
let out = [];
const L = (e) => out.push(e);
const s = http.createServer((req, res) => {
  for (const ev of ['end', 'close']) req.on(ev, () => L('req.' + ev));
  for (const ev of ['finish', 'close']) res.on(ev, () => L('res.' + ev));
  res.on('error', (e) => L('res.error ' + e.code));
  res.end('x');
  if (req.url === '/write-after-end') res.write('y', () => L('callback'));
  else res.end('y');
  L('called');
});
s.listen(0, '127.0.0.1', async () => {
  for (const c of cases) {
    out = [];
    let got = '';
    await new Promise((d) => { const k = net.connect(s.address().port, '127.0.0.1',
      () => k.write('GET ' + c + ' HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'));
      k.on('data', (x) => got += x); k.on('close', d); k.on('error', () => {}); });
    const wait = () => out.includes('req.close') ? null : new Promise((d) => setTimeout(d, 5)).then(wait);
    await wait();
    log(c, out, got.replace(/Date: .*\r\n/, ''));
  }
  s.close(); done();
});
"""


def test_write_after_end_errors_between_finish_and_close_as_in_node(serve):
    out = []

    def record(event):
        out.append(event)
        st.record(event)

    def on_request(req, res):
        for event in ("end", "close"):
            req.on(event, lambda event=event: record("req." + event))
        for event in ("finish", "close"):
            res.on(event, lambda event=event: record("res." + event))
        res.on("error", lambda err: record("res.error " + err.code))
        res.end("x")
        if req.url == "/write-after-end":
            res.write("y", lambda: record("callback"))  # (no argument: docs/node-compat.md)
        else:
            res.end("y")
        record("called")
    st = serve(lambda server, _: server.on("request", on_request))
    ours = []
    for case in CASES:
        st.call(out.clear)
        st.events.clear()
        with socket.create_connection(("127.0.0.1", st.port), timeout=5) as sock:
            sock.sendall(f"GET {case} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
            got = b""
            while chunk := sock.recv(65536):
                got += chunk
        st.wait_for(lambda event: event == ("req.close",))
        ours.append([case, st.call(list, out), re.sub(r"Date: .*\r\n", "", got.decode())])
    after = ["res.finish", "res.error ERR_STREAM_WRITE_AFTER_END", "res.close", "req.end", "req.close"]
    sent = "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\nx"
    assert ours == [
        ["/write-after-end", ["called", "res.finish", "callback", *after[1:]], sent],
        ["/end-after-end", ["called", *after], sent],
    ], ours
    assert node_events(NODE_SCRIPT % json.dumps(CASES)) == ours


def test_write_after_end_unlistened_keeps_the_connection(serve):
    def on_request(req, res):
        res.end("x" + req.url)
        res.write("y")
        res.on("close", lambda: st.record("close", req.url))
    st = serve(lambda server, _: server.on("request", on_request))
    with socket.create_connection(("127.0.0.1", st.port), timeout=5) as sock:
        sock.sendall(b"GET /1 HTTP/1.1\r\nHost: x\r\n\r\n")
        st.wait_for(lambda event: event == ("close", "/1"))
        sock.sendall(b"GET /2 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        got = b""
        while chunk := sock.recv(65536):
            got += chunk
    assert got.count(b"HTTP/1.1 200 OK") == 2 and got.endswith(b"x/2"), got
