"""``res.socket`` of pipelined responses, as in Node 20: a response gets its socket once
every response before it has finished (Node's ``socket._httpMessage``), not once they
have ended; each lets go of it at its ``finish``. Three pipelined GETs, answered at once
or in reverse order; the same client runs against Node's own server when Node is
installed."""

import json
import socket

from harness import node_events

PIPELINE = "".join(f"GET /{n} HTTP/1.1\r\nHost: x\r\n\r\n" for n in (1, 2, 3))

NODE_SCRIPT = r"""
const mode = %s;
const s = http.createServer((req, res) => {
  const n = req.url;
  const L = (e) => log(n, e, res.socket !== null);
  L('request');
  res.on('finish', () => L('finish'));
  const answer = () => { res.end('x' + n); L('ended'); };
  if (mode === 'now') answer(); else setTimeout(answer, (4 - Number(n.slice(1))) * 15);
});
s.listen(0, '127.0.0.1', () => {
  const c = net.connect(s.address().port, '127.0.0.1', () => c.write(%s));
  let got = '';
  c.on('data', (d) => { got += d; if ((got.match(/HTTP\/1.1 200/g) || []).length === 3) c.end(); });
  c.on('close', () => { s.close(); done(); });
});
"""


def prefork_events(serve, mode):
    def on_request(req, res):
        n = req.url

        def record(event):
            st.record(n, event, res.socket is not None)
        record("request")
        res.on("finish", lambda: record("finish"))

        def answer():
            res.end("x" + n)
            record("ended")
        if mode == "now":
            answer()
        else:
            req.socket.loop.call_later((4 - int(n[1:])) * 0.015, answer)
    st = serve(lambda server, _: server.on("request", on_request))
    with socket.create_connection(("127.0.0.1", st.port), timeout=5) as sock:
        sock.sendall(PIPELINE.encode())
        got = b""
        while got.count(b"HTTP/1.1 200") < 3:
            chunk = sock.recv(65536)
            assert chunk, got
            got += chunk
    st.wait_for(lambda event: event[:2] == ("/3", "finish"))
    return sorted(list(event) for event in st.call(list, st.events))


def expected(mode):
    first = [["/1", "request", True], ["/1", "ended", True], ["/1", "finish", False]]
    later = [[n, event, False] for n in ("/2", "/3") for event in ("request", "ended", "finish")]
    return sorted(first + later)


def test_a_pipelined_response_gets_its_socket_when_the_one_before_finished(serve):
    for mode in ("now", "reverse"):
        ours = prefork_events(serve, mode)
        assert ours == expected(mode), (mode, ours)
        theirs = node_events(NODE_SCRIPT % (json.dumps(mode), json.dumps(PIPELINE)))
        assert sorted(theirs) == ours, (mode, theirs, ours)
