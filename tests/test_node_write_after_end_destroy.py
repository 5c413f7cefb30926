"""A write after ``end()`` followed, in the same call, by a destroy (the response's or
its socket's) whose last try put the response's bytes in the kernel: Node 20 emits the
response's ``finish`` first, then the write's callback, then (a socket destroyed, the
response not) its ERR_STREAM_WRITE_AFTER_END ``error``, then ``close``; after
``res.destroy()`` there is no ``error`` (Node's ``emitErrorNt`` skips a destroyed
message). The same client runs against Node's own server when Node is installed."""

import socket

from harness import node_events

CASES = {
    "res.destroy": "res.end('a'); res.write('b', () => log('cb')); res.destroy();",
    "socket.destroy": "res.end('a'); res.write('b', () => log('cb')); req.socket.destroy();",
}

NODE_SCRIPT = r"""
const s = http.createServer((req, res) => {
  res.on('finish', () => log('finish')); res.on('close', () => log('close'));
  res.on('error', (e) => log('error ' + e.code));
  BODY
  log('called');
});
s.listen(0, '127.0.0.1', () => {
  const k = net.connect(s.address().port, '127.0.0.1', () => k.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
  k.on('data', () => {}); k.on('error', () => {});
  k.on('close', () => setTimeout(() => { s.close(); done(); }, 50));
});
"""

EXPECTED = {
    "res.destroy": ["called", "finish", "cb", "close"],
    "socket.destroy": ["called", "finish", "cb", "error ERR_STREAM_WRITE_AFTER_END", "close"],
}


def prefork_events(serve, case):
    def on_request(req, res):
        res.on("finish", lambda: st.record("finish"))
        res.on("close", lambda: st.record("close"))
        res.on("error", lambda err: st.record(f"error {err.code}"))
        res.end("a")
        res.write("b", callback=lambda *_: st.record("cb"))
        (res if case == "res.destroy" else req.socket).destroy()
        st.record("called")
    st = serve(lambda server, _: server.on("request", on_request))
    with socket.create_connection(("127.0.0.1", st.port), timeout=5) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        st.wait_for(lambda event: event == ("close",))
        while sock.recv(65536):  # (the server closed: every event of the response is told)
            pass
    return [event[0] for event in st.events]


def test_a_write_after_end_then_a_destroy_as_in_node(serve):
    for case, expected in EXPECTED.items():
        assert prefork_events(serve, case) == expected, case


def test_node_orders_them_so():
    for case, expected in EXPECTED.items():
        assert [event[0] for event in node_events(NODE_SCRIPT.replace("BODY", CASES[case]))] == expected, case
