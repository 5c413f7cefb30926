"""A request head holding non-ASCII text (a field value, the path: ``é``) goes out in
the encoding Node's client sends it in: Node joins the head to the first chunk it sends
and writes both in that chunk's encoding, so the head is UTF-8 with a first ``str`` chunk
in exactly ``utf8`` (or no encoding) on an unchunked body, and from ``flush_headers()``
(an ``Expect: 100-continue`` head too); latin-1 otherwise (bytes, another encoding, a
chunked chunk, ``end()``). prefork always sent it as latin-1."""

import asyncio
import json

import prefork
from harness import node_events
from test_hostile_client import RawServer, read_head

# name: (method, Content-Length or None, the calls made: [["write" or "end", data, encoding], ...])
CASES = {
    "end-text": ("POST", None, [["end", "a", None]]),
    "end-bytes": ("POST", None, [["end", b"a", None]]),
    "end": ("POST", None, [["end", None, None]]),
    "end-empty-text": ("POST", None, [["end", "", None]]),
    "get-end": ("GET", None, [["end", None, None]]),
    "chunked-text": ("POST", None, [["write", "a", None], ["end", None, None]]),
    "chunked-empty": ("POST", None, [["write", "", None], ["end", "a", None]]),
    "length-text": ("POST", 1, [["write", "a", None], ["end", None, None]]),
    "length-utf8": ("POST", 1, [["write", "a", "utf8"], ["end", None, None]]),
    "length-utf-8": ("POST", 1, [["write", "a", "utf-8"], ["end", None, None]]),
    "length-ascii": ("POST", 1, [["write", "a", "ascii"], ["end", None, None]]),
    "length-latin1": ("POST", 1, [["write", "a", "latin1"], ["end", None, None]]),
    "length-bytes": ("POST", 1, [["write", b"a", None], ["end", None, None]]),
    "end-utf8": ("POST", None, [["end", "a", "utf8"]]),
    "end-hex": ("POST", None, [["end", "61", "hex"]]),
    "flush": ("POST", None, [["flush"], ["end", "a", None]]),
    "flush-get": ("GET", None, [["flush"], ["end", None, None]]),
    "expect": ("POST", None, [["continue"], ["end", "a", None]]),
    "path-\u00e9": ("POST", None, [["end", "a", None]]),
}

NODE = r"""
const port = %d, cases = %s, names = Object.keys(cases);
const one = (i) => {
  if (i === names.length) return done();
  const [method, length, calls] = cases[names[i]];
  const headers = {X: 'é'};
  if (length !== null) headers['Content-Length'] = length;
  if (calls[0][0] === 'continue') headers.Expect = '100-continue';
  const req = http.request({host: '127.0.0.1', port, method, path: '/' + names[i], headers, agent: false});
  req.on('response', (res) => { res.resume(); res.on('end', () => one(i + 1)); });
  const run = (k) => {
    for (; k < calls.length; k++) {
      const [what, data, encoding] = calls[k];
      if (what === 'continue') return req.on('continue', () => run(k + 1));
      if (what === 'flush') { req.flushHeaders(); continue; }
      const chunk = data !== null && typeof data === 'object' ? Buffer.from(data.bytes, 'latin1') : data;
      if (chunk === null) req[what](); else if (encoding === null) req[what](chunk); else req[what](chunk, encoding);
    }
  };
  run(0);
};
one(0);
"""


def heads(drive, keep=lambda line: line.startswith(("X:", "POST", "GET"))):
    """{path: the head's lines ``keep`` takes (the request line and the X line), as latin-1
    text} for each request ``drive`` sends."""
    got = {}

    def handler(conn, index):
        head = read_head(conn)
        if head:
            lines = head.decode("latin-1").split("\r\n")
            got[lines[0].split(" ")[1]] = [line for line in lines if keep(line)]
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
    srv = RawServer(handler)
    try:
        drive(srv.port)
    finally:
        srv.close()
    return got


def node(port):
    cases = {name: [m, n, [[c[0], {"bytes": c[1].decode("latin-1")} if isinstance(c[1], bytes) else c[1], c[2]]
                           if len(c) == 3 else c for c in calls]] for name, (m, n, calls) in CASES.items()}
    node_events(NODE % (port, json.dumps(cases)))


def prefork_client(port):
    async def main():
        for name, (method, length, calls) in CASES.items():
            headers = {"X": "é"}
            if length is not None:
                headers["Content-Length"] = length
            if calls[0][0] == "continue":
                headers["Expect"] = "100-continue"
            req = prefork.request({"host": "127.0.0.1", "port": port, "method": method, "path": "/" + name,
                                   "headers": headers, "agent": False})

            def run(k, req=req, calls=calls):
                for k in range(k, len(calls)):
                    if calls[k][0] == "continue":
                        req.once("continue", lambda: run(k + 1))
                        return
                    if calls[k][0] == "flush":
                        req.flush_headers()
                        continue
                    what, data, encoding = calls[k]
                    getattr(req, what)(data, encoding)
            run(0)
            res = await asyncio.wait_for(req.response(), 4)
            await asyncio.wait_for(res.read(), 4)
    asyncio.run(main())


def test_a_non_ascii_request_head_goes_out_in_the_encoding_node_sends_it_in():
    expected = heads(node)
    assert expected["/end-text"] == ["POST /end-text HTTP/1.1", "X: \xc3\xa9"]
    assert expected["/end-bytes"] == ["POST /end-bytes HTTP/1.1", "X: \xe9"]
    assert heads(prefork_client) == expected


def test_a_field_value_given_as_bytes_keeps_its_bytes_in_a_utf8_head():
    # Node's Buffer value is its UTF-8 text, sent as UTF-8 with a text body: the same bytes
    # as prefork's bytes value sent as given (which the UTF-8 head encoded a second time)
    def drive(port):
        async def main():
            for path in ("/end-text", "/flush"):
                req = prefork.request({"host": "127.0.0.1", "port": port, "method": "POST", "path": path,
                                       "headers": {"X": "é".encode()}, "agent": False})
                if path == "/flush":
                    req.flush_headers()
                req.end("a")
                res = await asyncio.wait_for(req.response(), 4)
                await asyncio.wait_for(res.read(), 4)
        asyncio.run(main())
    got = heads(drive)
    assert got == {"/end-text": ["POST /end-text HTTP/1.1", "X: \xc3\xa9"], "/flush": ["POST /flush HTTP/1.1", "X: \xc3\xa9"]}
