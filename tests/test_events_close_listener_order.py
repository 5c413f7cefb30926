"""Where a response's ``close`` falls among its socket's ``close`` listeners when the
connection goes, as in Node 20: Node's response listens to its socket's ``close`` from
the start of its turn on the socket, so a listener added before (in a ``connection``
listener, by a request waiting behind the one on the socket) hears the close before
the response's ``close``, one added in its turn after it. A request read to its end
(``resume()``) closes before the socket's close listeners. Every case (a timeout, a
destroy from the app, a reset by the client, ``close_all_connections()``, pipelined
requests) runs against Node's own server with the same client."""

import json
import socket
import struct

from harness import node_events

# (case, the paths sent in one write, the client resets at the first bytes)
CASES = [
    ("timeout", ["/timeout"], False),
    ("req-timeout", ["/req-timeout"], False),
    ("res-timeout", ["/res-timeout"], False),
    ("reset", ["/write"], True),
    ("res-destroy-timer", ["/res-destroy-timer"], False),
    ("res-destroy", ["/res-destroy"], False),
    ("req-destroy", ["/req-destroy"], False),
    ("socket-destroy", ["/socket-destroy"], False),
    ("close-all-read", ["/close-all-read"], False),
    ("close-all-unread", ["/close-all-unread"], False),
    ("close-all-timer-read", ["/close-all-timer-read"], False),
    ("close-all-timer-write", ["/close-all-timer-write"], False),
    ("pipelined-listener-first", ["/listen", "/destroy-timer"], False),
    ("pipelined-listener-second", ["/destroy-timer", "/listen"], False),
    ("pipelined-after-answer", ["/answer", "/listen", "/destroy-timer"], False),
]

NODE_SCRIPT = r"""
const cases = %s;
let out = [];
const L = (e) => out.push(e);
const s = http.createServer((req, res) => {
  const u = req.url;
  L('request ' + u);
  req.on('aborted', () => L('aborted ' + u));
  req.on('end', () => L('end ' + u));
  req.on('error', (e) => L('req.error ' + u + ' ' + e.code));
  req.on('close', () => L('req.close ' + u));
  res.on('close', () => L('res.close ' + u));
  res.on('finish', () => L('finish ' + u));
  const destroy = () => req.socket.destroy();
  if (u === '/timeout' || u === '/write') res.write('partial');
  if (u === '/req-timeout') { res.write('partial'); req.setTimeout(100, () => { L('timeout'); destroy(); }); }
  if (u === '/res-timeout') { res.write('partial'); res.setTimeout(100, () => { L('timeout'); destroy(); }); }
  if (u === '/res-destroy-timer') { res.write('partial'); setTimeout(() => res.destroy(), 20); }
  if (u === '/res-destroy') res.destroy();
  if (u === '/req-destroy') req.destroy();
  if (u === '/socket-destroy') destroy();
  if (u === '/close-all-read') { req.resume(); s.closeAllConnections(); }
  if (u === '/close-all-unread') s.closeAllConnections();
  if (u === '/close-all-timer-read') { req.resume(); setTimeout(() => s.closeAllConnections(), 20); }
  if (u === '/close-all-timer-write') { res.write('x'); setTimeout(() => s.closeAllConnections(), 20); }
  if (u === '/listen') req.socket.on('close', () => L('socket.close ' + u));
  if (u === '/answer') res.end('x');
  if (u === '/destroy-timer') setTimeout(destroy, 50);
});
s.timeout = 300;
s.on('connection', (sock) => sock.on('close', () => L('socket.close connection')));
s.listen(0, '127.0.0.1', async () => {
  for (const [name, paths, reset] of cases) {
    out = [];
    await new Promise((d) => { const k = net.connect(s.address().port, '127.0.0.1',
      () => k.write(paths.map((p) => 'GET ' + p + ' HTTP/1.1\r\nHost: x\r\n\r\n').join('')));
      k.on('data', () => { if (reset) k.resetAndDestroy(); }); k.on('close', d); k.on('error', () => {}); });
    const wait = () => out.includes('socket.close connection') ? null : new Promise((d) => setTimeout(d, 5)).then(wait);
    await wait();
    await new Promise((d) => setTimeout(d, 20));
    log(name, out);
  }
  s.close(); done();
});
"""


def prefork_events(serve):
    out = []

    def record(event):
        out.append(event)
        st.record(event)

    def on_request(req, res):
        u = req.url
        loop = server.loop
        record("request " + u)
        req.on("aborted", lambda: record("aborted " + u))
        req.on("end", lambda: record("end " + u))
        req.on("error", lambda err: record(f"req.error {u} {err.code}"))
        req.on("close", lambda: record("req.close " + u))
        res.on("close", lambda: record("res.close " + u))
        res.on("finish", lambda: record("finish " + u))

        def destroy(*_):
            req.socket.destroy()
        if u in ("/timeout", "/write"):
            res.write("partial")
        elif u == "/req-timeout":
            res.write("partial")
            req.set_timeout(0.1, lambda *_: (record("timeout"), destroy()))
        elif u == "/res-timeout":
            res.write("partial")
            res.set_timeout(0.1, lambda *_: (record("timeout"), destroy()))
        elif u == "/res-destroy-timer":
            res.write("partial")
            loop.call_later(0.02, res.destroy)
        elif u == "/res-destroy":
            res.destroy()
        elif u == "/req-destroy":
            req.destroy()
        elif u == "/socket-destroy":
            destroy()
        elif u == "/close-all-read":
            req.resume()
            server.close_all_connections()
        elif u == "/close-all-unread":
            server.close_all_connections()
        elif u == "/close-all-timer-read":
            req.resume()
            loop.call_later(0.02, server.close_all_connections)
        elif u == "/close-all-timer-write":
            res.write("x")
            loop.call_later(0.02, server.close_all_connections)
        elif u == "/listen":
            req.socket.on("close", lambda *_: record("socket.close " + u))
        elif u == "/answer":
            res.end("x")
        elif u == "/destroy-timer":
            loop.call_later(0.05, destroy)

    def setup(srv, _):
        srv.on("request", on_request)
        srv.on("connection", lambda sock: sock.on("close", lambda *_: record("socket.close connection")))
        srv.timeout = 0.3
    st = serve(setup)
    server = st.server
    seen = []
    for name, paths, reset in CASES:
        st.call(out.clear)
        st.events.clear()
        with socket.create_connection(("127.0.0.1", st.port), timeout=5) as sock:
            sock.sendall("".join(f"GET {p} HTTP/1.1\r\nHost: x\r\n\r\n" for p in paths).encode())
            while True:
                try:
                    chunk = sock.recv(65536)
                except ConnectionResetError:
                    break
                if not chunk:
                    break
                if reset:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    break
        st.wait_for(lambda event: event == ("socket.close connection",))
        st.call(lambda: None)  # (the turns of what follows the socket's close)
        st.call(lambda: None)
        seen.append([name, st.call(list, out)])
    return seen


ABORTED = ["aborted {0}", "socket.close connection", "res.close {0}", "req.error {0} ECONNRESET", "req.close {0}"]


def aborted(path, before=(), after=()):
    return [e.format(path) for e in ABORTED[:2]] + list(before) + [ABORTED[2].format(path)] + list(after) \
        + [e.format(path) for e in ABORTED[3:]]


EXPECTED = [
    ["timeout", ["request /timeout"] + aborted("/timeout")],
    ["req-timeout", ["request /req-timeout"] + aborted("/req-timeout")],  # (a complete request: no 'timeout')
    ["res-timeout", ["request /res-timeout", "timeout"] + aborted("/res-timeout")],
    ["reset", ["request /write"] + aborted("/write")],
    ["res-destroy-timer", ["request /res-destroy-timer"] + aborted("/res-destroy-timer")],
    ["res-destroy", ["request /res-destroy"] + aborted("/res-destroy")],
    ["req-destroy", ["request /req-destroy", "aborted /req-destroy", "req.close /req-destroy",
                     "socket.close connection", "res.close /req-destroy"]],
    ["socket-destroy", ["request /socket-destroy"] + aborted("/socket-destroy")],
    ["close-all-read", ["request /close-all-read", "end /close-all-read", "req.close /close-all-read",
                        "socket.close connection", "res.close /close-all-read"]],
    ["close-all-unread", ["request /close-all-unread"] + aborted("/close-all-unread")],
    ["close-all-timer-read", ["request /close-all-timer-read", "end /close-all-timer-read",
                              "req.close /close-all-timer-read", "socket.close connection",
                              "res.close /close-all-timer-read"]],
    ["close-all-timer-write", ["request /close-all-timer-write"] + aborted("/close-all-timer-write")],
]


def test_a_response_closes_after_the_socket_close_listeners_added_before_its_turn_as_in_node(serve):
    ours = prefork_events(serve)
    theirs = node_events(NODE_SCRIPT % json.dumps(CASES))
    assert ours[:len(EXPECTED)] == EXPECTED, ours
    # (Node tells no 'close' to a response still waiting its turn: prefork does, after the
    # one on the socket; the rest is Node's order)
    waiting = {"pipelined-listener-first": "res.close /destroy-timer", "pipelined-listener-second": "res.close /listen",
               "pipelined-after-answer": "res.close /destroy-timer"}
    for (name, events), (node_name, node_seen) in zip(ours, theirs):
        assert name == node_name
        assert [e for e in events if e != waiting.get(name)] == node_seen, (name, events, node_seen)
        if name in waiting:
            assert waiting[name] in events
