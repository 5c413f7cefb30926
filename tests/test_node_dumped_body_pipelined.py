"""A request answered without its body being read is dumped (Node's ``_dump``): its ``end``
and ``close`` come on Node's next ticks. When the next request comes in the same read,
Node runs those ticks after the read is parsed, in the order they were queued: the
dumped request's ``end`` comes after the next request's ``request`` and before that one's
own ``end``, its ``close`` after that ``end`` and before the next response's ``finish``.
prefork dropped the body a whole loop turn later: the next request was answered and
finished before the dumped one's ``end``. The same for a Content-Length body, a chunked
one, one sent only after the answer came, and one answered by a ``checkExpectation``
listener."""

import json
import socket

from harness import node_events, read_until

NEXT = "GET / HTTP/1.1\r\nHost: x\r\n\r\n"
# each: (what is sent first, what is sent once the first answer came, or "")
WIRES = [
    ("POST /noread HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc" + NEXT, ""),
    ("POST /noread HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n" + NEXT, ""),
    ("POST /noread HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\n", "abc" + NEXT),
    ("POST /expect HTTP/1.1\r\nHost: x\r\nExpect: foo\r\nContent-Length: 3\r\n\r\nabc" + NEXT, ""),
]

NODE = r"""
const wires = %s;
const watch = (req, res) => {
  for (const ev of ['end', 'close']) req.on(ev, () => log('req.' + ev, req.url));
  for (const ev of ['finish', 'close']) res.on(ev, () => log('res.' + ev, req.url));
};
(async () => {
  for (const [first, rest] of wires) {
    await new Promise((resolve) => {
      const s = http.createServer((req, res) => {
        log('request', req.url);
        watch(req, res);
        if (req.url === '/noread') return res.end('n');
        req.resume();
        req.on('end', () => res.end('ok'));
      });
      s.on('checkExpectation', (req, res) => { log('checkExpectation', req.url); watch(req, res); res.end(); });
      s.listen(0, '127.0.0.1', () => {
        const c = net.connect(s.address().port, '127.0.0.1', () => c.write(first));
        let got = '', sent = false;
        c.on('data', (d) => {
          got += d;
          if (rest && !sent && got.includes('\r\n\r\nn')) { sent = true; c.write(rest); }
          if (got.includes('ok')) c.end();
        });
        c.on('close', () => { log('--'); s.close(); resolve(); });
      });
    });
  }
  done();
})();
"""


def prefork_events(serve, first, rest):
    def setup(server, st):
        def watch(req, res):
            for event in ("end", "close"):
                req.on(event, lambda event=event: st.record("req." + event, req.url))
            for event in ("finish", "close"):
                res.on(event, lambda event=event: st.record("res." + event, req.url))

        def on_request(req, res):
            st.record("request", req.url)
            watch(req, res)
            if req.url == "/noread":
                res.end("n")
                return
            req.resume()
            req.on("end", lambda: res.end("ok"))

        def on_expectation(req, res):
            st.record("checkExpectation", req.url)
            watch(req, res)
            res.end()
        server.on("request", on_request)
        server.on("checkExpectation", on_expectation)
    st = serve(setup)
    with socket.create_connection(("127.0.0.1", st.port), timeout=5) as sock:
        sock.sendall(first.encode())
        if rest:
            assert b"\r\n\r\nn" in read_until(sock, b"\r\n\r\nn")
            sock.sendall(rest.encode())
        assert b"ok" in read_until(sock, b"ok")
        st.wait_for(lambda e: e == ("req.close", "/"))
    return [list(e) for e in st.events] + [["--"]]


def test_a_dumped_body_ends_and_closes_on_node_s_next_ticks_before_the_next_answer(serve):
    got = [event for first, rest in WIRES for event in prefork_events(serve, first, rest)]
    expected = node_events(NODE % json.dumps(WIRES))
    first = expected[:expected.index(["--"])]
    assert first.index(["request", "/"]) < first.index(["req.end", "/noread"]) < first.index(["req.end", "/"]) \
        < first.index(["req.close", "/noread"]) < first.index(["res.finish", "/"])
    assert got == expected
