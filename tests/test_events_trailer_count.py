"""The request's trailers are kept as Node keeps them: past 31 fields in batches of 31
until twice ``max_headers_count`` entries are kept (1023 pairs by default), the map
taking every kept one. prefork kept every trailer field a client sent (the head had the
cap, the trailers none)."""

import json
import socket

from harness import node_events, read_until_close

TRAILERS = {None: 1100, 40: 100, 3: 6, 0: 1100}

NODE = r"""
const cases = %s;
(async () => {
  for (const [cap, count] of cases) {
    await new Promise((resolve) => {
      const s = http.createServer((req, res) => {
        req.resume();
        req.on('end', () => {
          log(cap, req.rawTrailers.length, Object.keys(req.trailers).length, req.trailers['x-t'].split(', ').length);
          res.end();
        });
      });
      if (cap !== null) s.maxHeadersCount = cap;
      s.listen(0, '127.0.0.1', () => {
        const c = net.connect(s.address().port, '127.0.0.1', () => c.end(
          'POST / HTTP/1.1\r\nHost: x\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n0\r\n' +
          'X-T: v\r\n'.repeat(count) + '\r\n'));
        c.resume();
        c.on('close', () => { s.close(); resolve(); });
      });
    });
  }
  done();
})();
"""


def test_request_trailers_are_capped_as_node_caps_them(serve):
    got = []
    for cap, count in TRAILERS.items():
        def setup(server, st):
            def on_request(req, res):
                req.resume()

                def on_end():
                    st.record(cap, len(req.raw_trailers), len(req.trailers), len(req.trailers["x-t"].split(", ")))
                    res.end()
                req.on("end", on_end)
            server.on("request", on_request)
            server.max_headers_count = cap
        st = serve(setup)
        with socket.create_connection(("127.0.0.1", st.port), timeout=5) as sock:
            sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n"
                         b"1\r\na\r\n0\r\n" + b"X-T: v\r\n" * count + b"\r\n")
            read_until_close(sock)
        got.append(list(st.wait_for(lambda e: True)))
    expected = node_events(NODE % json.dumps([[cap, count] for cap, count in TRAILERS.items()]))
    assert expected[0] == [None, 2046, 1, 1023]
    assert got == expected
