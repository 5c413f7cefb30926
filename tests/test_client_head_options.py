"""The request options that shape a client request's head and how its response is
read, compared with Node's client against the same raw server: ``max_header_size``
(HPE_HEADER_OVERFLOW on the request), ``join_duplicate_headers``, ``unique_headers``,
and the checks of those options' values."""

import asyncio
import json
import subprocess
import threading

import prefork
from harness import need_node
from test_hostile_client import RawServer, read_head

ANSWERS = {
    b"/big": b"HTTP/1.1 200 OK\r\nX-Big: " + b"a" * 200 + b"\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
    b"/dup": b"HTTP/1.1 200 OK\r\nX-A: 1\r\nX-A: 2\r\nContent-Type: a\r\nContent-Type: b\r\nSet-Cookie: c=1\r\n"
             b"Set-Cookie: d=2\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
}
PLAIN = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"

# (path, Node's options, prefork's options, body)
CASES = [
    ("/big", {"maxHeaderSize": 100}, {"max_header_size": 100}, None),
    ("/big", {"maxHeaderSize": 0}, {"max_header_size": 0}, None),
    ("/dup", {}, {}, None),
    ("/dup", {"joinDuplicateHeaders": True}, {"join_duplicate_headers": True}, None),
    ("/u", {"uniqueHeaders": ["X-U"], "headers": {"x-u": ["a", "b"], "x-v": ["c", "d"]}},
     {"unique_headers": ["X-U"], "headers": {"x-u": ["a", "b"], "x-v": ["c", "d"]}}, None),
]
CHECKS = [("maxHeaderSize", "max_header_size", [-1, 1.5, "10", True]),
          ("joinDuplicateHeaders", "join_duplicate_headers", ["yes", 1])]

NODE_SCRIPT = r"""
const http = require('http');
const port = +process.argv[1];
const [cases, checks] = JSON.parse(process.argv[2]);
function go([path, opts, , body]) {
  return new Promise((done) => {
    const req = http.request({host: '127.0.0.1', port, path, agent: false, ...opts}, (res) => {
      res.resume();
      res.on('end', () => { console.log(JSON.stringify([path, 'response', res.headers])); done(); });
    });
    req.on('error', (e) => { console.log(JSON.stringify([path, 'error', e.code])); done(); });
    req.end(body || undefined);
  });
}
(async () => {
  for (const c of cases) await go(c);
  for (const [name, , values] of checks)
    for (const v of values)
      try { http.request({port, [name]: v}).destroy(); } catch (e) { console.log(JSON.stringify([name, v, e.code])); }
})();
"""


class Server:
    """Answers by path, keeps what each request sent (a chunked body read to its end)."""

    def __init__(self):
        self.sent = []
        self.lock = threading.Lock()
        self.server = RawServer(self.answer)

    def answer(self, conn, index):
        data = read_head(conn)
        if data is None:
            return
        if b"chunked" in data.split(b"\r\n\r\n")[0]:
            while not data.endswith(b"0\r\n\r\n"):
                data += conn.recv(65536)
        with self.lock:
            self.sent.append(data)
        conn.sendall(ANSWERS.get(data.split(b" ")[1], PLAIN))


def prefork_lines(port):
    lines = []

    async def go(path, options, body):
        req = prefork.request({"host": "127.0.0.1", "port": port, "path": path, "agent": False, **options})
        req.on("error", lambda e: None)
        req.end(body)
        try:
            res = await asyncio.wait_for(req, 10)
            await res.read()
            lines.append([path, "response", res.headers])
        except Exception as e:
            lines.append([path, "error", e.code])

    async def main():
        for path, _, options, body in CASES:
            await go(path, options, body)
    asyncio.run(main())
    for _, name, values in CHECKS:
        for value in values:
            try:
                prefork.request({"port": port, name: value})
            except (TypeError, ValueError) as e:
                lines.append([name, value, e.code])
    return lines


def test_head_options_as_node():
    node = need_node()
    srv = Server()
    try:
        out = subprocess.run([node, "-e", NODE_SCRIPT, "--", str(srv.server.port), json.dumps([CASES, CHECKS])],
                             capture_output=True, timeout=30, text=True)
        node_sent = list(srv.sent)
        srv.sent.clear()
        ours = prefork_lines(srv.server.port)
    finally:
        srv.server.close()
    theirs = [json.loads(line) for line in out.stdout.splitlines()]
    node_checks = {(name, json.dumps(value)): code for name, value, code in theirs[len(CASES):]}
    assert theirs[:len(CASES)] == ours[:len(CASES)], out.stderr
    assert ours[0] == ["/big", "error", "HPE_HEADER_OVERFLOW"]
    assert ours[3][2]["content-type"] == "a, b"
    i = len(CASES)
    for (name, ours_name, values) in CHECKS:
        for value in values:
            assert ours[i][2] == node_checks[(name, json.dumps(value))], (name, value)
            i += 1
    assert srv.sent == node_sent
    assert b"x-u: a; b\r\n" in node_sent[4]


JOIN_SCRIPT = r"""
const http = require('http');
const port = +process.argv[1];
(async () => { for (const j of [false, true]) await new Promise((r) => {
  const req = http.get({port, host: '127.0.0.1', agent: false, joinDuplicateHeaders: j}, (res) => {
    res.resume(); res.on('end', () => { console.log(JSON.stringify(['trailers', j, res.trailers])); r(); });
  });
  req.on('information', (i) => console.log(JSON.stringify(['info', j, i.headers])));
}); })();
"""


def test_join_duplicate_headers_joins_a_1xx_and_the_trailers_as_node():
    def answer(conn, index):
        if read_head(conn):
            conn.sendall(b"HTTP/1.1 103 Early Hints\r\nContent-Type: a\r\nContent-Type: b\r\n\r\n"
                         b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
                         b"2\r\nok\r\n0\r\nContent-Type: c\r\nContent-Type: d\r\n\r\n")
    node = need_node()
    srv = RawServer(answer)
    ours = []
    try:
        out = subprocess.run([node, "-e", JOIN_SCRIPT, "--", str(srv.port)], capture_output=True, timeout=30,
                             text=True)

        async def main():
            for join in (False, True):
                req = prefork.get({"port": srv.port, "host": "127.0.0.1", "agent": False,
                                   "join_duplicate_headers": join})
                req.on("information", lambda info, join=join: ours.append(["info", join, info.headers]))
                res = await asyncio.wait_for(req, 10)
                await res.read()
                ours.append(["trailers", join, res.trailers])
        asyncio.run(main())
    finally:
        srv.close()
    assert ours == [json.loads(line) for line in out.stdout.splitlines()], out.stderr
    assert ours[-1] == ["trailers", True, {"content-type": "c, d"}]
