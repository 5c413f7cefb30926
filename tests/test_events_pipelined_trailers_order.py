"""Two chunked requests with trailers in one write: each request's ``close`` comes before
the next request's ``request``, as in Node, whose parser runs its queued ticks after
handing the trailers over. prefork told the first request's ``close`` only on the next
loop turn, after the whole read was parsed (after the second request's events)."""

import json
import socket

from harness import node_events, read_until

WIRE = ("POST {p} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        "3\r\nabc\r\n0\r\nX-T: {p}\r\n\r\n")

NODE = r"""
const wire = %s;
(async () => {
  for (const later of [false, true]) {
    await new Promise((resolve) => {
      const s = http.createServer((req, res) => {
        const n = req.url;
        log('request', n);
        req.on('data', (d) => log('data', n, d.toString()));
        req.on('end', () => {
          log('end', n, req.trailers['x-t']);
          const answer = () => res.end('ok' + n);
          if (later) setTimeout(answer, n === '/a' ? 20 : 40); else answer();
        });
        req.on('close', () => log('req.close', n));
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


def prefork_events(serve, later):
    def setup(server, st):
        def on_request(req, res):
            n = req.url
            st.record("request", n)
            req.on("data", lambda d: st.record("data", n, bytes(d).decode()))

            def on_end():
                st.record("end", n, req.trailers["x-t"])
                if later:
                    server.loop.call_later(0.02 if n == "/a" else 0.04, res.end, "ok" + n)
                else:
                    res.end("ok" + n)
            req.on("end", on_end)
            req.on("close", lambda: st.record("req.close", n))
            res.on("finish", lambda: st.record("finish", n))
            res.on("close", lambda: st.record("res.close", n))
        server.on("request", on_request)
    st = serve(setup)
    with socket.create_connection(("127.0.0.1", st.port), timeout=5) as sock:
        sock.sendall((WIRE.format(p="/a") + WIRE.format(p="/b")).encode())
        read_until(sock, b"ok/b")
        st.wait_for(lambda e: e == ("res.close", "/b"))
    return [list(e) for e in st.events] + [["--"]]


def test_pipelined_requests_with_trailers_close_before_the_next_request_as_in_node(serve):
    got = prefork_events(serve, False) + prefork_events(serve, True)
    expected = node_events(NODE % json.dumps(WIRE.format(p="/a") + WIRE.format(p="/b")))
    first = expected[:expected.index(["--"])]
    assert first.index(["req.close", "/a"]) < first.index(["request", "/b"])
    assert got == expected
