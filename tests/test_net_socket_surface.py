"""What a server socket offers as Node 20's ``net.Socket`` does, where it was missing:
``local_family`` (Node's ``localFamily``), ``closed`` (false until the close, true in
its ``close`` listeners) and ``reset_and_destroy()`` (Node's ``resetAndDestroy()``: the
client sees a reset, not a FIN; the request in progress is aborted). The same program
runs on Node's server when Node is installed: the values must match.
"""

import json
import socket

from harness import node_events

NODE_PROGRAM = r"""
const server = http.createServer((req, res) => {
  const s = req.socket;
  req.on('aborted', () => log('aborted'));
  s.on('close', () => { log('close', s.closed, s.destroyed); server.close(); end(); });
  log('request', s.localFamily, s.remoteFamily, s.closed);
  s.resetAndDestroy();
  log('reset', s.destroyed);
});
server.listen(0, '127.0.0.1', () => {
  const c = net.connect(server.address().port, '127.0.0.1', () => c.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
  c.on('error', (e) => log('client', e.code));
  c.on('close', end);
});
let left = 2;
function end() { if (--left === 0) done(); }
"""


def prefork_events(serve):
    def setup(server, st):
        def on_request(req, res):
            s = req.socket
            req.on("aborted", lambda: st.record("aborted"))
            s.on("close", lambda had_error: st.record("close", s.closed, s.destroyed))
            st.record("request", s.local_family, s.remote_family, s.closed)
            s.reset_and_destroy()
            st.record("reset", s.destroyed)
        server.on("request", on_request)
    st = serve(setup)
    with socket.create_connection(("127.0.0.1", st.port), timeout=5) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        try:
            got = sock.recv(100)
            client = ["client", "FIN" if got == b"" else repr(got)]
        except ConnectionResetError:
            client = ["client", "ECONNRESET"]
    st.wait_for(lambda event: event[0] == "close")
    return [list(event) for event in st.events] + [client]


EXPECTED = [["request", "IPv4", "IPv4", False], ["reset", True], ["aborted"], ["close", True, True],
            ["client", "ECONNRESET"]]


def test_local_family_closed_and_reset_and_destroy(serve):
    assert prefork_events(serve) == EXPECTED


def test_node_gives_the_same():
    events = node_events(NODE_PROGRAM)
    # (Node's client may tell its reset after the server's close: compare the server's in order)
    assert sorted(map(json.dumps, events)) == sorted(map(json.dumps, EXPECTED)), events
    assert [e for e in events if e[0] != "client"] == EXPECTED[:-1]

