"""The server's ``keep_alive_timeout``, ``headers_timeout`` and ``request_timeout`` set
after construction are taken as Node takes them: NaN, a negative number, None turn the
timeout off and the response goes out as Node's does (no ``Keep-Alive`` line for NaN or
None; a negative one, down to -1 s, floored as Node floors it). ``keep_alive_timeout = nan`` made every
response fail to be written (the connection closed with no answer); what Node throws at
its use (a str; a keep-alive timeout below -1 s or infinite, for Node arms a timer of it
+ 1 s: the process dies) is refused when set,
nothing changed, where prefork answered 500 at each request or stopped its sweep."""

import json
import math
import socket

import pytest

from harness import DATE, node_events, read_until

VALUES = {"nan": math.nan, "neg": -0.5, "minus_one": -1, "none": None, "tenth": 0.4, "zero": 0}

NODE = r"""
const values = %s;
(async () => {
  for (const [name, v] of Object.entries(values)) {
    await new Promise((resolve) => {
      const s = http.createServer((req, res) => res.end('ok'));
      s.keepAliveTimeout = v === null ? null : v === 'nan' ? NaN : v * 1000;
      s.listen(0, '127.0.0.1', () => {
        const c = net.connect(s.address().port, '127.0.0.1', () => c.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
        let got = '';
        c.on('data', (d) => {
          got += d;
          if (got.endsWith('ok')) { log(name, got); c.destroy(); s.close(); resolve(); }
        });
      });
    });
  }
  done();
})();
"""


def test_a_keep_alive_timeout_node_takes_gives_nodes_answer(serve):
    got = []
    for name, value in VALUES.items():
        st = serve(lambda server, st: server.on("request", lambda req, res: res.end("ok")))
        st.call(setattr, st.server, "keep_alive_timeout", value)
        with socket.create_connection(("127.0.0.1", st.port), timeout=5) as sock:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            got.append([name, read_until(sock, b"\r\n\r\nok").decode("latin-1")])
    node = {k: ("nan" if isinstance(v, float) and math.isnan(v) else v) for k, v in VALUES.items()}
    expected = node_events(NODE % json.dumps(node))
    assert [[n, DATE.sub(b"", t.encode()).decode()] for n, t in got] == \
        [[n, DATE.sub(b"", t.encode()).decode()] for n, t in expected]
    assert "Keep-Alive: timeout=-1\r\n" in dict(expected)["neg"]


@pytest.mark.parametrize("name, value, code", [
    ("keep_alive_timeout", "5", "ERR_INVALID_ARG_TYPE"),
    ("keep_alive_timeout", math.inf, "ERR_OUT_OF_RANGE"),
    ("keep_alive_timeout", -1.5, "ERR_OUT_OF_RANGE"),
    ("headers_timeout", "abc", "ERR_INVALID_ARG_TYPE"),
    ("request_timeout", True, "ERR_INVALID_ARG_TYPE"),
])
def test_a_timeout_node_would_throw_at_its_use_is_refused_when_set(serve, name, value, code):
    st = serve(lambda server, st: server.on("request", lambda req, res: res.end("ok")))
    before = getattr(st.server, name)
    with pytest.raises((TypeError, ValueError)) as info:
        setattr(st.server, name, value)
    assert info.value.code == code
    assert getattr(st.server, name) == before
    with socket.create_connection(("127.0.0.1", st.port), timeout=5) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert read_until(sock, b"\r\n\r\nok").startswith(b"HTTP/1.1 200 OK\r\n")

