"""A response ended in its request's ``close`` listener, when that ``close`` comes at one
of the parser's calls into JavaScript (a pipelined request's body chunk or trailers), goes
out and finishes before the next request's ``request``, as in Node, whose parser runs the
ticks that listener queued too. prefork flushed ended responses before it told the
``close``s, not after: the response went out only once the whole read was parsed."""

import json
import socket

from harness import node_events, read_until

CHUNKED = ("POST {p} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
           "3\r\nabc\r\n0\r\nX-T: {p}\r\n\r\n")
LENGTH = "POST {p} HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"
WIRES = [form.format(p="/a") + form.format(p="/b") for form in (CHUNKED, LENGTH)]

NODE = r"""
const wires = %s;
(async () => {
  for (const wire of wires) {
    await new Promise((resolve) => {
      const s = http.createServer((req, res) => {
        const n = req.url;
        log('request', n);
        req.on('data', () => {});
        req.on('close', () => { log('req.close', n); res.end('ok' + n); });
        res.on('finish', () => log('finish', n));
        res.on('close', () => log('res.close', n));
      });
      s.listen(0, '127.0.0.1', () => {
        const c = net.connect(s.address().port, '127.0.0.1', () => c.write(wire));
        let got = '';
        c.on('data', (d) => { got += d; if (got.includes('ok/b')) c.end(); });
        c.on('close', () => { log('--'); s.close(); resolve(); });
      });
    });
  }
  done();
})();
"""


def prefork_events(serve, wire):
    def setup(server, st):
        def on_request(req, res):
            n = req.url
            st.record("request", n)
            req.on("data", lambda d: None)

            def on_close():
                st.record("req.close", n)
                res.end("ok" + n)
            req.on("close", on_close)
            res.on("finish", lambda: st.record("finish", n))
            res.on("close", lambda: st.record("res.close", n))
        server.on("request", on_request)
    st = serve(setup)
    with socket.create_connection(("127.0.0.1", st.port), timeout=5) as sock:
        sock.sendall(wire.encode())
        read_until(sock, b"ok/b")
        st.wait_for(lambda e: e == ("res.close", "/b"))
    return [list(e) for e in st.events] + [["--"]]


def test_a_response_ended_in_a_close_listener_finishes_before_the_next_pipelined_request(serve):
    got = [event for wire in WIRES for event in prefork_events(serve, wire)]
    expected = node_events(NODE % json.dumps(WIRES))
    first = expected[:expected.index(["--"])]
    assert first.index(["finish", "/a"]) < first.index(["request", "/b"])
    assert got == expected
