"""``req.headers_distinct`` and ``req.trailers_distinct`` against Node v20: the same
values (every field's values as a list, by lower-case name), and the same object on
every read once made (Node's getters keep the object they built)."""

import json
import socket

import prefork
from harness import node_events, run_with_client
from prefork.runtime import new_event_loop

REQUEST = (b"POST / HTTP/1.1\r\nHost: x\r\nX-A: 1\r\nx-a: 2\r\nCookie: a=1\r\nCookie: b=2\r\n"
           b"Transfer-Encoding: chunked\r\n\r\n1\r\nz\r\n0\r\nX-T: 1\r\nx-t: 2\r\n\r\n")

NODE = r"""
const s = http.createServer((req, res) => {
  const h = req.headersDistinct;
  log('head', JSON.stringify(h), h === req.headersDistinct);
  req.resume();
  req.on('end', () => {
    const t = req.trailersDistinct;
    log('end', JSON.stringify(t), t === req.trailersDistinct);
    res.end('ok');
  });
});
s.listen(0, '127.0.0.1', () => {
  const c = net.connect(s.address().port, '127.0.0.1', () => c.write(REQUEST));
  c.on('data', () => { c.destroy(); s.close(); done(); });
});
"""


def test_distinct_views_match_node_and_are_kept():
    expected = node_events("const REQUEST = " + json.dumps(REQUEST.decode("latin-1")) + ";\n" + NODE)
    loop = new_event_loop()
    events = []

    def on_request(req, res):
        h = req.headers_distinct
        events.append(["head", json.dumps(h, separators=(",", ":")), h is req.headers_distinct])

        def on_end():
            t = req.trailers_distinct
            events.append(["end", json.dumps(t, separators=(",", ":")), t is req.trailers_distinct])
            res.end("ok")
            loop.call_soon(loop.stop)
        req.on("end", on_end)
        req.resume()
    server = prefork.create_server(on_request, loop=loop)
    server.listen(0)
    port = server.address()["port"]

    def client():
        with socket.create_connection(("127.0.0.1", port), timeout=5) as c:
            c.sendall(REQUEST)
            c.recv(1000)
    run_with_client(loop, client, server)
    assert events == expected
    assert expected[0][2] is True and expected[1][2] is True
