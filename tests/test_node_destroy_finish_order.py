"""A destroy in the same turn as the response's writes, as Node 20 orders its events:
``res.end(x); res.destroy(err)`` (or the socket's ``destroy(err)``) sends the response
and emits its ``finish`` first, then ``clientError`` and the socket's ``error``, then
the response's and request's ``close``; ``res.write(x)`` before a destroy sends nothing
(the response corks to the next turn). Each case runs with and without a ``clientError``
listener; the same client runs against Node's own server when Node is installed."""

import json
import re
import socket

from harness import node_events

CASES = ["/end-destroy-err", "/end-sockdestroy-err", "/end-destroy", "/write-sockdestroy",
         "/sockdestroy-err", "/write-sockdestroy-err", "/res-destroy-err"]

NODE_SCRIPT = r"""
const cases = %s, listened = %s;
let out = [];
const L = (e) => out.push(e);
const s = http.createServer((req, res) => {
  L('request');
  for (const ev of ['end', 'close', 'aborted']) req.on(ev, () => L('req.' + ev));
  req.on('error', (e) => L('req.error ' + e.code));
  for (const ev of ['finish', 'close']) res.on(ev, () => L('res.' + ev));
  req.socket.on('close', () => L('sock.close'));
  req.socket.on('error', (e) => L('sock.error ' + e.message));
  const c = req.url, boom = new Error('boom');
  if (c === '/end-destroy-err') { res.end('x'); res.destroy(boom); }
  if (c === '/end-sockdestroy-err') { res.end('x'); req.socket.destroy(boom); }
  if (c === '/end-destroy') { res.end('x'); res.destroy(); }
  if (c === '/write-sockdestroy') { res.write('x'); req.socket.destroy(); }
  if (c === '/sockdestroy-err') { req.socket.destroy(boom); }
  if (c === '/write-sockdestroy-err') { res.write('x'); req.socket.destroy(boom); }
  if (c === '/res-destroy-err') { res.destroy(boom); }
  L('called');
});
if (listened) s.on('clientError', (e, sock) => { L('clientError ' + e.message); sock.destroy(); });
s.listen(0, '127.0.0.1', async () => {
  for (const c of cases) {
    out = [];
    let got = '';
    await new Promise((d) => { const k = net.connect(s.address().port, '127.0.0.1',
      () => k.write('GET ' + c + ' HTTP/1.1\r\nHost: x\r\n\r\n'));
      k.on('data', (x) => got += x); k.on('close', d); k.on('error', () => {}); });
    const wait = () => out.includes('req.close') ? null : new Promise((d) => setTimeout(d, 5)).then(wait);
    await wait();
    await new Promise((d) => setImmediate(d));
    log(c, out, got.replace(/Date: .*\r\n/, ''));
  }
  s.close(); done();
});
"""


def prefork_events(serve, listened):
    out = []

    def record(event):
        out.append(event)
        st.record(event)

    def on_request(req, res):
        record("request")
        for event in ("end", "close", "aborted"):
            req.on(event, lambda event=event: record("req." + event))
        req.on("error", lambda err: record(f"req.error {err.code}"))
        for event in ("finish", "close"):
            res.on(event, lambda event=event: record("res." + event))
        req.socket.on("close", lambda *_: record("sock.close"))
        req.socket.on("error", lambda err: record(f"sock.error {err}"))
        case, boom = req.url, Exception("boom")
        if case == "/end-destroy-err":
            res.end("x")
            res.destroy(boom)
        elif case == "/end-sockdestroy-err":
            res.end("x")
            req.socket.destroy(boom)
        elif case == "/end-destroy":
            res.end("x")
            res.destroy()
        elif case == "/write-sockdestroy":
            res.write("x")
            req.socket.destroy()
        elif case == "/sockdestroy-err":
            req.socket.destroy(boom)
        elif case == "/write-sockdestroy-err":
            res.write("x")
            req.socket.destroy(boom)
        elif case == "/res-destroy-err":
            res.destroy(boom)
        record("called")

    def on_client_error(err, sock):
        record(f"clientError {err}")
        sock.destroy()

    def setup(server, _):
        server.on("request", on_request)
        if listened:
            server.on("clientError", on_client_error)
    st = serve(setup)
    seen = []
    for case in CASES:
        st.call(out.clear)
        st.events.clear()
        with socket.create_connection(("127.0.0.1", st.port), timeout=5) as sock:
            sock.sendall(f"GET {case} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
            got = b""
            while True:
                try:
                    chunk = sock.recv(65536)
                except ConnectionResetError:
                    break
                if not chunk:
                    break
                got += chunk
        st.wait_for(lambda event: event == ("req.close",))
        st.call(lambda: None)  # (a turn for what follows the request's close)
        seen.append([case, st.call(list, out), re.sub(r"Date: .*\r\n", "", got.decode())])
    return seen


FINISHED = ["res.finish", "res.close", "req.end", "req.close", "sock.close"]
ABORTED = ["req.aborted", "res.close", "sock.close", "req.error ECONNRESET", "req.close"]
SENT = "HTTP/1.1 200 OK\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\nContent-Length: 1\r\n\r\nx"


def expected(listened):
    error = (["clientError boom"] if listened else []) + ["sock.error boom"]
    begun = ["request", "called"]
    return [
        ["/end-destroy-err", begun + ["res.finish"] + error + FINISHED[1:], SENT],
        ["/end-sockdestroy-err", begun + ["res.finish"] + error + FINISHED[1:], SENT],
        ["/end-destroy", begun + FINISHED, SENT],
        ["/write-sockdestroy", begun + ABORTED, ""],
        ["/sockdestroy-err", begun + error + ABORTED, ""],
        ["/write-sockdestroy-err", begun + error + ABORTED, ""],
        ["/res-destroy-err", begun + error + ABORTED, ""],
    ]


def test_a_destroy_after_the_response_ended_comes_after_its_finish_as_in_node(serve):
    for listened in (True, False):
        ours = prefork_events(serve, listened)
        assert ours == expected(listened), (listened, ours)
        theirs = node_events(NODE_SCRIPT % (json.dumps(CASES), json.dumps(listened)))
        assert theirs == ours, (listened, theirs, ours)
