"""A refused header field says what Node's says, code and text: ``Invalid character in
header content ["X-A"]``, ``Header name must be a valid HTTP token ["a b"]`` (a name
that is no text shown as its text, ``["5"]``), ``add_trailers``' own words ("trailer
content", "Trailer name"), ``Invalid value "undefined" for header "X-U"`` (None is
Node's undefined). ``write_head``'s ``[[name, value], ...]`` reads each pair as Node
does: a missing value is ``ERR_HTTP_INVALID_HEADER_VALUE``, a missing name
``ERR_INVALID_HTTP_TOKEN``, a third item is ignored. The messages used to quote with
Python's repr, say "header" for trailers and "None", and a short pair raised a bare
ValueError with no code. Headers given as text (or a number) are ERR_INVALID_ARG_TYPE
(Node would send a string's indexes as field names: docs/node-compat.md).

When Node is installed, its server is the reference for every case both take.
"""

import json
import shutil
import socket
import subprocess

from hostile import read_to_close

NODE = shutil.which("node")

# name: (Python call, JavaScript call, expected "code message")
CASES = {
    "value": (lambda r: r.set_header("X-A", "a\nb"), "r.setHeader('X-A', 'a\\nb')",
              'ERR_INVALID_CHAR Invalid character in header content ["X-A"]'),
    "name": (lambda r: r.set_header("a b", "1"), "r.setHeader('a b', '1')",
             'ERR_INVALID_HTTP_TOKEN Header name must be a valid HTTP token ["a b"]'),
    "number name": (lambda r: r.set_header(5, "1"), "r.setHeader(5, '1')",
                    'ERR_INVALID_HTTP_TOKEN Header name must be a valid HTTP token ["5"]'),
    "undefined": (lambda r: r.set_header("X-U", None), "r.setHeader('X-U', undefined)",
                  'ERR_HTTP_INVALID_HEADER_VALUE Invalid value "undefined" for header "X-U"'),
    "list item": (lambda r: r.set_header("X-A", ["ok", "a\rb"]), "r.setHeader('X-A', ['ok', 'a\\rb'])",
                  'ERR_INVALID_CHAR Invalid character in header content ["X-A"]'),
    "head value": (lambda r: r.write_head(200, {"X-A": "a\nb"}), "r.writeHead(200, {'X-A': 'a\\nb'})",
                   'ERR_INVALID_CHAR Invalid character in header content ["X-A"]'),
    "head undefined": (lambda r: r.write_head(200, {"X-U": None}), "r.writeHead(200, {'X-U': undefined})",
                       'ERR_HTTP_INVALID_HEADER_VALUE Invalid value "undefined" for header "X-U"'),
    "trailer value": (lambda r: r.add_trailers({"X-A": "a\nb"}), "r.addTrailers({'X-A': 'a\\nb'})",
                      'ERR_INVALID_CHAR Invalid character in trailer content ["X-A"]'),
    "trailer name": (lambda r: r.add_trailers({"a b": "1"}), "r.addTrailers({'a b': '1'})",
                     'ERR_INVALID_HTTP_TOKEN Trailer name must be a valid HTTP token ["a b"]'),
    "trailer number name": (lambda r: r.add_trailers([[5, "1"]]), "r.addTrailers([[5, '1']])",
                            'ERR_INVALID_HTTP_TOKEN Trailer name must be a valid HTTP token ["5"]'),
    "pair without value": (lambda r: r.write_head(200, [["X-A"]]), "r.writeHead(200, [['X-A']])",
                           'ERR_HTTP_INVALID_HEADER_VALUE Invalid value "undefined" for header "X-A"'),
    "empty pair": (lambda r: r.write_head(200, [[]]), "r.writeHead(200, [[]])",
                   'ERR_INVALID_HTTP_TOKEN Header name must be a valid HTTP token ["undefined"]'),
    "flat item among pairs": (lambda r: r.write_head(200, [["X-A", "1"], "X-B", "2"]),
                              "r.writeHead(200, [['X-A', '1'], 'X-B', '2'])",
                              'ERR_HTTP_INVALID_HEADER_VALUE Invalid value "undefined" for header "2"'),
    "pair of three": (lambda r: r.write_head(200, [["X-A", "1", "2"]]), "r.writeHead(200, [['X-A', '1', '2']])",
                      "ok"),
}
PYTHON_ONLY = {
    "text headers": (lambda r: r.write_head(200, "msg", "notheaders"), "ERR_INVALID_ARG_TYPE"),
    "number headers": (lambda r: r.write_head(200, "msg", 5), "ERR_INVALID_ARG_TYPE"),
}

NODE_SERVER = r"""
const http = require('http'), net = require('net');
const cases = %s;
const names = Object.keys(cases);
const out = {};
let heads = '';
const server = http.createServer((req, res) => {
  const name = names[Number(req.url.slice(1))];
  try { cases[name](res); out[name] = 'ok'; } catch (e) { out[name] = e.code + ' ' + e.message; }
  res.end();
});
server.listen(0, '127.0.0.1', async () => {
  for (let i = 0; i < names.length; i++) {
    await new Promise((done) => {
      const c = net.connect(server.address().port, '127.0.0.1',
                            () => c.write('GET /' + i + ' HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'));
      c.on('data', (d) => { heads += d.toString('latin1'); });
      c.on('close', done);
    });
  }
  console.log(JSON.stringify({out, pair3: heads.includes('\r\nX-A: 1\r\n')}));
  server.close();
});
"""


def test_refused_header_fields_say_what_nodes_say(serve):
    calls = {**{name: case[0] for name, case in CASES.items()},
             **{name: case[0] for name, case in PYTHON_ONLY.items()}}
    names = list(calls)

    def setup(server, st_):
        def on_request(req, res):
            name = names[int(req.url[1:])]
            try:
                calls[name](res)
                st_.record(name, "ok")
            except Exception as exc:
                st_.record(name, f"{getattr(exc, 'code', None)} {exc}")
            res.end()
        server.on("request", on_request)

    st_ = serve(setup)
    heads = b""
    for i in range(len(names)):
        with socket.create_connection(("127.0.0.1", st_.port), timeout=5) as sock:
            sock.sendall(b"GET /%d HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % i)
            heads += read_to_close(sock)
    st_.wait_for(lambda e: len(st_.events) == len(names))
    got = dict(st_.events)
    assert {name: got[name] for name in CASES} == {name: case[2] for name, case in CASES.items()}
    assert b"\r\nX-A: 1\r\n" in heads  # (the pair of three: its first two items)
    for name, (_, code) in PYTHON_ONLY.items():
        assert got[name].startswith(code + " "), got[name]
    assert b"\r\nn: o\r\n" not in heads
    if NODE:
        js = "{" + ", ".join(f"{json.dumps(name)}: (r) => {case[1]}" for name, case in CASES.items()) + "}"
        out = subprocess.run([NODE, "-e", NODE_SERVER % js], capture_output=True, text=True, timeout=30)
        node = json.loads(out.stdout.strip().splitlines()[-1])
        assert node["pair3"]
        assert {name: got[name] for name in CASES} == node["out"]
